//! ocrcloud: a native client for the Aspose.OCR Cloud v5.0 task API.
//!
//! The crate is a C library first (`include/ocrcloud.h`, built as `libocrcloud.so`/`.a`); its
//! Rust modules are the core that the C surface in [`ffi`] translates:
//!
//! - [`wire`]: the service's JSON, read as a stream, with [`decode`] for base64;
//! - [`auth`]: tokens, fixed or from client credentials;
//! - [`client`]: HTTP, retries and the calls of the task API;
//! - [`poll`]: waiting for a task with interval, backoff, deadline and cancellation;
//! - [`operations`]: the service's operations and their request bodies;
//! - [`files`]: files that appear whole or not at all;
//! - [`logging`]: what the library is doing, to stderr or the host's logger.

pub mod auth;
pub mod cancel;
pub mod client;
pub mod decode;
pub mod error;
pub mod ffi;
pub mod files;
pub mod logging;
pub mod operations;
pub mod poll;
mod transport;
pub mod wire;
