//! Network tests talk only to 127.0.0.1 / ::1: no tracked file names an IP address other than
//! loopback (an IPv4 literal such as `192.0.2.1`, or a bracketed IPv6 one such as `[fd00::1]`),
//! except the few listed in `ALLOWED`, which are parsed or matched but never connected to.
//! A test that needs a host that is not loopback uses a name under `.invalid` (it never
//! resolves) and sends its request, if any, through a loopback proxy.

mod common;

use std::net::{IpAddr, Ipv6Addr};
use std::path::Path;

/// `(file, address, why it is not a connection target)`: each entry must still be found.
const ALLOWED: &[(&str, &str, &str)] = &[
    (
        "src/client.rs",
        "10.0.0.1",
        "a base URL that is only parsed: plain http to it is flagged",
    ),
    ("src/proxy.rs", "10.0.0.0", "a NO_PROXY range, only matched"),
    (
        "src/proxy.rs",
        "10.0.0.1",
        "a host matched against NO_PROXY",
    ),
    (
        "src/proxy.rs",
        "10.1.2.3",
        "a host matched against NO_PROXY",
    ),
    (
        "src/proxy.rs",
        "11.1.2.3",
        "a host matched against NO_PROXY",
    ),
    (
        "src/proxy.rs",
        "fd00::1",
        "a NO_PROXY entry and host, only matched",
    ),
    ("src/proxy.rs", "fd00::5", "a host matched against NO_PROXY"),
];

/// The IP literals of `text` that are not loopback, with their line numbers: dotted IPv4
/// quads standing alone (not part of a longer number or a name such as `v1.2.3.4`), and IPv6
/// addresses in brackets.
fn foreign_addresses(text: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let mut candidates = ipv4_literals(line);
        candidates.extend(bracketed_ipv6(line));
        for candidate in candidates {
            let ip: IpAddr = candidate.parse().unwrap();
            if !ip.to_canonical().is_loopback() {
                found.push((index + 1, candidate));
            }
        }
    }
    found
}

fn ipv4_literals(line: &str) -> Vec<String> {
    let is_part = |c: char| c.is_ascii_digit() || c == '.';
    let mut found = Vec::new();
    let mut rest = line;
    while let Some(start) = rest.find(is_part) {
        let before = rest[..start].chars().next_back();
        let after_start = &rest[start..];
        let end = after_start
            .find(|c| !is_part(c))
            .unwrap_or(after_start.len());
        let token = after_start[..end].trim_end_matches('.');
        let next = after_start[end..].chars().next();
        let in_a_name = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
        let parts: Vec<&str> = token.split('.').collect();
        if !in_a_name(before)
            && !in_a_name(next)
            && parts.len() == 4
            && parts
                .iter()
                .all(|part| (1..=3).contains(&part.len()) && part.parse::<u8>().is_ok())
        {
            found.push(token.to_string());
        }
        rest = &after_start[end..];
    }
    found
}

fn bracketed_ipv6(line: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = line;
    while let Some(open) = rest.find('[') {
        rest = &rest[open + 1..];
        if let Some(close) = rest.find(']')
            && rest[..close].parse::<Ipv6Addr>().is_ok()
        {
            found.push(rest[..close].to_string());
        }
    }
    found
}

#[test]
fn no_tracked_file_names_an_address_other_than_loopback() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut unexpected = Vec::new();
    let mut unused: Vec<_> = ALLOWED.to_vec();
    for path in common::tracked_files() {
        if path == "tests/loopback_only.rs" {
            continue; // its own examples of what is found
        }
        let Ok(text) = std::fs::read_to_string(root.join(&path)) else {
            continue; // not text
        };
        for (line, address) in foreign_addresses(&text) {
            if ALLOWED.iter().any(|(p, a, _)| *p == path && *a == address) {
                unused.retain(|(p, a, _)| !(*p == path && *a == address));
            } else {
                unexpected.push(format!("{path}:{line}: {address}"));
            }
        }
    }
    assert!(
        unexpected.is_empty(),
        "tests talk only to 127.0.0.1 / ::1 (use a name under .invalid behind a loopback \
         proxy for a host that is not loopback):\n{}",
        unexpected.join("\n")
    );
    assert!(unused.is_empty(), "allowed but no longer found: {unused:?}");
}

#[test]
fn a_foreign_address_is_found_and_loopback_is_not() {
    let text = "connect(\"http://192.0.2.1:9\")\n\
        TcpStream::connect(\"10.255.255.1:80\"); ping 8.8.8.8.\n\
        proxy http://[2001:db8::1]:8080/ and [fd00::1]\n\
        http://127.0.0.1:80 http://[::1]:1 [::ffff:127.0.0.1] 127.1.2.3\n\
        version v1.2.3.4, 1.2.3.4.5, 300.1.1.1, 1.2.3, ocr.invalid:9, [0], [x]\n";
    assert_eq!(
        foreign_addresses(text),
        [
            (1, "192.0.2.1"),
            (2, "10.255.255.1"),
            (2, "8.8.8.8"),
            (3, "2001:db8::1"),
            (3, "fd00::1"),
        ]
        .map(|(line, address)| (line, address.to_string()))
    );
}
