//! The secrets of every live client (tokens, client secrets) and their removal from text.
//!
//! Every text that reaches a message or a log line passes through [`redact`] first, before it
//! is shortened, so that no piece of a secret survives a cut. The registry is process-wide:
//! a message of one client is also cleaned of another client's secrets.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use std::sync::{Arc, Mutex, Weak};

/// Characters left as they are in a query or form value (RFC 3986 unreserved).
pub const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// What replaces a secret in a text.
const REDACTED: &str = "[redacted]";
/// Shorter texts are not treated as secrets (replacing them would mangle ordinary words).
const SHORTEST_SECRET: usize = 4;

/// The secrets of live clients; an entry disappears when its client drops the secret.
static REGISTRY: Mutex<Vec<Weak<str>>> = Mutex::new(Vec::new());

/// Adds `secret` to the texts that [`redact`] removes, for as long as `secret` lives.
pub fn register(secret: &Arc<str>) {
    if secret.len() < SHORTEST_SECRET {
        return;
    }
    let mut registry = REGISTRY.lock().unwrap_or_else(|e| e.into_inner());
    registry.retain(|known| known.strong_count() > 0);
    registry.push(Arc::downgrade(secret));
}

/// `text` without any registered secret, also in the percent-encoded and form-encoded
/// spellings that a server could echo.
pub fn redact(text: &str) -> String {
    let secrets: Vec<Arc<str>> = REGISTRY
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .filter_map(Weak::upgrade)
        .collect();
    let mut text = text.to_string();
    for secret in secrets {
        let encoded = utf8_percent_encode(&secret, QUERY_VALUE).to_string();
        let plus_for_space = encoded.replace("%20", "+");
        for spelling in [&*secret, &encoded, &plus_for_space] {
            if text.contains(spelling) {
                text = text.replace(spelling, REDACTED);
            }
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removes_live_secrets_in_every_spelling_and_forgets_dropped_ones() {
        let secret: Arc<str> = Arc::from("s3cret value&more");
        register(&secret);
        let text = "a s3cret value&more b s3cret%20value%26more c s3cret+value%26more";
        assert_eq!(redact(text), "a [redacted] b [redacted] c [redacted]");
        drop(secret);
        assert_eq!(redact("s3cret value&more"), "s3cret value&more");
        let short: Arc<str> = Arc::from("abc");
        register(&short);
        assert_eq!(redact("abc"), "abc");
    }
}
