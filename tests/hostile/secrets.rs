//! The credentials the reliability suites (hostile, faults, threads) use, and the check every
//! error message of those suites passes through: none may reveal a token or the client secret,
//! in clear or in the form-encoded shape the client sends it in. Each suite uses a part of it.

#![allow(dead_code)]

use crate::common::last_error;

/// The fixed token of clients made with `ocr_client_new`.
pub const TOKEN: &str = "fixed-token-Q7xk2mP";
/// The client id of clients made with credentials.
pub const CLIENT_ID: &str = "reliability-client";
/// The client secret; its space, slash and plus change when form-encoded.
pub const CLIENT_SECRET: &str = "client secret/9Z+2wd";
/// Every token a hostile token endpoint issues starts with this.
pub const ISSUED_TOKEN: &str = "issued-token-Vb3";

/// The `n`-th token a hostile token endpoint issues.
pub fn issued_token(n: usize) -> String {
    format!("{ISSUED_TOKEN}-{n}")
}

/// The thread's last error message, checked to reveal no secret.
#[track_caller]
pub fn error_message() -> String {
    let message = last_error();
    assert_reveals_no_secret(&message);
    message
}

/// Fails if `message` contains a token or the client secret in any form the client sends.
#[track_caller]
pub fn assert_reveals_no_secret(message: &str) {
    if let Some(secret) = revealed_secret(message) {
        panic!("a message reveals the secret {secret:?}: {message}");
    }
}

/// The token or secret that `message` reveals, if any.
pub fn revealed_secret(message: &str) -> Option<String> {
    [
        TOKEN.to_string(),
        ISSUED_TOKEN.to_string(),
        CLIENT_SECRET.to_string(),
        form_encoded(CLIENT_SECRET),
        CLIENT_SECRET.replace(' ', "+"),
    ]
    .into_iter()
    .find(|secret| message.contains(secret.as_str()))
}

/// `text` percent-encoded as the client encodes form fields (RFC 3986 unreserved kept).
pub fn form_encoded(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
