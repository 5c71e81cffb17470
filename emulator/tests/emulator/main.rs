//! End-to-end tests: each starts its own emulator binary and talks HTTP (or HTTPS) to it.

mod auth;
mod cli;
mod common;
mod controls;
mod faults;
mod limits;
mod results;
mod tasks;
mod tls;
mod validation;
