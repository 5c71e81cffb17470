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
/// A piece of a secret at least this long is removed wherever it appears, so that a server
/// that echoes part of a token, or a text cut in the middle of one, reveals no usable part.
pub(crate) const LONGEST_SAFE_PIECE: usize = 15;

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

/// `text` without any registered secret, nor any piece of one longer than
/// `LONGEST_SAFE_PIECE` (15) characters, also in the percent-encoded (any characters escaped,
/// either case of hex digits, escaped once or twice) and form-encoded spellings that a server
/// could echo.
pub fn redact(text: &str) -> String {
    let secrets: Vec<Arc<str>> = REGISTRY
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .filter_map(Weak::upgrade)
        .collect();
    let spellings: Vec<String> = secrets
        .iter()
        .flat_map(|secret| {
            let encoded = utf8_percent_encode(secret, QUERY_VALUE).to_string();
            let plus_for_space = encoded.replace("%20", "+");
            let lower = lower_case_escapes(&encoded);
            [secret.to_string(), encoded, plus_for_space, lower]
        })
        .collect();
    // Escaped spellings first, so that a run that is partly escaped is removed whole; then
    // whole secrets, so that one that shares a start with another is removed whole.
    let mut text = if text.contains('%') {
        without_encoded(text, &secrets)
    } else {
        text.to_string()
    };
    // The longest first, so that a secret that holds a shorter one is removed whole.
    let mut whole: Vec<&String> = spellings
        .iter()
        .filter(|s| s.len() >= SHORTEST_SECRET)
        .collect();
    whole.sort_by_key(|spelling| std::cmp::Reverse(spelling.len()));
    for spelling in whole {
        if text.contains(spelling.as_str()) {
            text = text.replace(spelling.as_str(), REDACTED);
        }
    }
    for spelling in &spellings {
        text = without_pieces_of(&text, spelling);
    }
    text
}

/// `text` without the secrets (and their pieces longer than [`LONGEST_SAFE_PIECE`]) that it
/// holds in any percent-encoding: each character escaped or not, in either case of hex digits
/// (a server may escape more than it needs to, `-` as `%2D`, or escape an escaped text again,
/// `%252D`).
fn without_encoded(text: &str, secrets: &[Arc<str>]) -> String {
    // The text with every `%XX` (and `%25XX`) decoded, and where each decoded byte starts in `text`.
    let bytes = text.as_bytes();
    let (mut decoded, mut starts) = (Vec::with_capacity(bytes.len()), Vec::new());
    let mut at = 0;
    while at < bytes.len() {
        starts.push(at);
        match escaped_byte(text, at) {
            Some((byte, width)) => {
                decoded.push(byte);
                at += width;
            }
            None => {
                decoded.push(bytes[at]);
                at += 1;
            }
        }
    }
    starts.push(bytes.len());
    let mut found: Vec<std::ops::Range<usize>> = secrets
        .iter()
        .flat_map(|secret| secret_runs(&decoded, secret.as_bytes()))
        .map(|run| char_start(text, starts[run.start])..char_end(text, starts[run.end]))
        .collect();
    if found.is_empty() {
        return text.to_string();
    }
    found.sort_by_key(|run| run.start);
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    for run in found {
        if run.end <= copied {
            continue;
        }
        out.push_str(&text[copied..run.start.max(copied)]);
        out.push_str(REDACTED);
        copied = run.end;
    }
    out.push_str(&text[copied..]);
    out
}

/// The byte that the escape at `at` in `text` stands for and the escape's width: `%XX`, or
/// `%25XX` (an escape escaped again, as a service that escapes an escaped text writes it).
fn escaped_byte(text: &str, at: usize) -> Option<(u8, usize)> {
    let hex = |from: usize| {
        text.get(from..from + 2)
            .filter(|hex| hex.bytes().all(|b| b.is_ascii_hexdigit()))
            .and_then(|hex| u8::from_str_radix(hex, 16).ok())
    };
    if text.as_bytes()[at] != b'%' {
        return None;
    }
    let byte = hex(at + 1)?;
    match hex(at + 3).filter(|_| byte == b'%') {
        Some(inner) => Some((inner, 5)),
        None => Some((byte, 3)),
    }
}

/// Where `secret` stands whole in `text`, and every run of more than [`LONGEST_SAFE_PIECE`]
/// bytes that also stands in `secret`.
fn secret_runs(text: &[u8], secret: &[u8]) -> Vec<std::ops::Range<usize>> {
    let mut runs = Vec::new();
    if secret.len() >= SHORTEST_SECRET {
        runs.extend(
            memchr::memmem::find_iter(text, secret).map(|start| start..start + secret.len()),
        );
    }
    let window = LONGEST_SAFE_PIECE + 1;
    if secret.len() < window {
        return runs;
    }
    let mut at = 0;
    while at + window <= text.len() {
        let Some(start) = memchr::memmem::find(secret, &text[at..at + window]) else {
            at += 1;
            continue;
        };
        let (mut end, mut secret_end) = (at + window, start + window);
        while end < text.len() && secret_end < secret.len() && text[end] == secret[secret_end] {
            end += 1;
            secret_end += 1;
        }
        runs.push(at..end);
        at = end;
    }
    runs
}

/// `text` with every run of more than [`LONGEST_SAFE_PIECE`] bytes that also stands in
/// `secret` replaced by [`REDACTED`].
fn without_pieces_of(text: &str, secret: &str) -> String {
    let window = LONGEST_SAFE_PIECE + 1;
    if secret.len() < window {
        return text.to_string();
    }
    let (text_bytes, secret_bytes) = (text.as_bytes(), secret.as_bytes());
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut at = 0;
    while at + window <= text_bytes.len() {
        let piece = &text_bytes[at..at + window];
        let Some(start) = memchr::memmem::find(secret_bytes, piece) else {
            at += 1;
            continue;
        };
        let mut end = at + window;
        let mut secret_end = start + window;
        while end < text_bytes.len()
            && secret_end < secret_bytes.len()
            && text_bytes[end] == secret_bytes[secret_end]
        {
            end += 1;
            secret_end += 1;
        }
        let (from, to) = (char_start(text, at), char_end(text, end));
        out.push_str(&text[copied..from]);
        out.push_str(REDACTED);
        copied = to;
        at = to;
    }
    out.push_str(&text[copied..]);
    out
}

/// The start of the character that holds byte `at`.
fn char_start(text: &str, mut at: usize) -> usize {
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

/// The end of the character that holds the byte before `at`.
fn char_end(text: &str, mut at: usize) -> usize {
    while !text.is_char_boundary(at) {
        at += 1;
    }
    at
}

/// `%2F` spelled `%2f`: servers and proxies write percent escapes in either case.
fn lower_case_escapes(encoded: &str) -> String {
    let mut out = String::with_capacity(encoded.len());
    let mut rest = encoded;
    while let Some(at) = rest.find('%') {
        out.push_str(&rest[..at]);
        let escape = rest.get(at..at + 3).unwrap_or(&rest[at..]);
        out.push_str(&escape.to_ascii_lowercase());
        rest = &rest[at + escape.len()..];
    }
    out.push_str(rest);
    out
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

    #[test]
    fn removes_every_piece_longer_than_the_safe_length() {
        let token: Arc<str> =
            Arc::from("eyJhbGciOiJIUzI1NiJ9.payload/with+signs-and-more-0123456789");
        register(&token);
        let half = &token[..20];
        assert_eq!(
            redact(&format!("token {half}!! expired")),
            "token [redacted]!! expired"
        );
        let middle = &token[10..40];
        assert_eq!(redact(&format!("<{middle}>")), "<[redacted]>");
        let short = &token[..LONGEST_SAFE_PIECE];
        assert_eq!(
            redact(short),
            short,
            "short pieces stay: they are no usable part"
        );
        let lower = "eyJhbGciOiJIUzI1NiJ9.payload%2fwith%2bsigns-and-more-0123456789";
        assert_eq!(redact(lower), "[redacted]");
        let all_lower = "eyJhbGciOiJIUzI1NiJ9.payload%2fwith%2bsigns-and-";
        assert!(!redact(&format!("x{}", &all_lower[20..])).contains("payload%2fwith%2b"));
        assert_eq!(redact("é ü"), "é ü");
    }

    #[test]
    fn removes_secrets_escaped_more_than_needed() {
        let secret: Arc<str> = Arc::from("pr0xy-pass/word");
        register(&secret);
        for echoed in [
            "pr0xy%2Dpass%2Fword",
            "pr0xy%2dpass/word",
            "%70%72%30%78%79%2D%70%61%73%73%2F%77%6F%72%64",
        ] {
            assert_eq!(redact(&format!("<{echoed}>")), "<[redacted]>", "{echoed}");
        }
        let token: Arc<str> = Arc::from("eyJhbGciOiJIUzI1NiJ9-payload-0123456789");
        register(&token);
        let piece = "eyJhbGciOiJIUzI1NiJ9%2Dpayload";
        assert_eq!(redact(&format!("é {piece} ü")), "é [redacted] ü");
        assert_eq!(redact("100% sure, 50%"), "100% sure, 50%");
        assert_eq!(redact("<pr0xy%252Dpass%252fword>"), "<[redacted]>");
        // A secret that holds another one is removed whole, whichever was registered first.
        let inner: Arc<str> = Arc::from("s3cr3t");
        let outer: Arc<str> = Arc::from("my-s3cr3t");
        register(&inner);
        register(&outer);
        assert_eq!(redact("<my-s3cr3t>"), "<[redacted]>");
    }
}
