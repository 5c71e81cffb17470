//! ocrcloud: a native client for the Aspose.OCR Cloud v5.0 task API.
//!
//! The crate is a C library first (`include/ocrcloud.h`, built as `libocrcloud.so`/`.a`); its
//! Rust modules are the core that the C surface in [`ffi`] translates:
//!
//! - [`wire`]: the service's JSON, read as a stream, with [`decode`] for base64;
//! - [`auth`]: tokens, fixed or from client credentials;
//! - [`call`]: the deadline and cancel switch of one call;
//! - `http`: one exchange; `lean`: the cheap exchange of a poll; `retry`: which failures are
//!   sent again;
//! - [`flow`]: the client-wide request budget (adaptive rate, shared `Retry-After`, retry
//!   quota, circuit breaker);
//! - [`client`]: the calls of the task API;
//! - [`poll`]: waiting for a task with interval, backoff, deadline and cancellation;
//! - [`operations`]: the service's operations and their request bodies; `upload`: a
//!   document's body, streamed;
//! - [`files`]: files that appear whole or not at all;
//! - [`secrets`]: what never appears in a message or log line;
//! - [`tls`]: the certificates a client trusts and the proxy it goes through; [`proxy`]: proxy
//!   URLs and `NO_PROXY`;
//! - [`logging`]: what the library is doing, to stderr or the host's logger;
//! - [`faults`]: failing chosen I/O steps, for the tests' fault loops;
//! - [`platform`]: what differs between operating systems (sockets, files, processes, memory).
//!
//! Built and tested on Linux x86-64 and Windows x64 (under Wine); see `docs/windows.md`.

pub mod auth;
pub mod batch;
pub mod call;
pub mod cancel;
pub mod client;
pub mod decode;
mod early_answer;
pub mod error;
#[doc(hidden)]
pub mod faults;
pub mod ffi;
pub mod files;
pub mod flow;
mod http;
mod lean;
pub mod logging;
pub mod operations;
mod panics;
pub mod platform;
pub mod poll;
pub mod proxy;
mod retry;
pub mod secrets;
pub mod settings;
pub mod tls;
mod transport;
mod upload;
pub mod wire;
