//! Proxy URLs and `NO_PROXY`: which proxy a client goes through, parsed by a real URL parser,
//! and its password kept out of every message and log line.
//!
//! A proxy URL is `http://` or `https://`, an optional `user:password@`, a host and an optional
//! port, nothing else. Its user name and password are percent-decoded, so a password holding
//! `/ ? # @ :` is written `%2F %3F %23 %40 %3A`; written as they are, those characters end the
//! host part (WHATWG URL rules, as in curl, Go and Python), and such a URL is refused rather than
//! sent somewhere else. The password is registered with [`crate::secrets`] for as long as the
//! proxy is in use, and a URL is shown in messages only as [`shown`] spells it.
//!
//! `NO_PROXY` follows curl, Go and Python: entries separated by commas, spaces around them
//! ignored, case ignored; `*` names every host; a domain names itself and every host under it
//! (`example.com`, `.example.com` and `*.example.com` all name `api.example.com`); an IP
//! address or a CIDR block (`10.0.0.0/8`) names the addresses in it; `host:port` names that
//! port only.

use crate::error::{Result, invalid};
use crate::secrets;
use percent_encoding::percent_decode_str;
use std::net::IpAddr;
use std::sync::Arc;
use ureq::{Proxy, ProxyProtocol};

/// A proxy checked and ready for the agent.
#[derive(Debug)]
pub struct ChosenProxy {
    pub proxy: Proxy,
    /// The URL as messages show it (see [`shown`]).
    pub shown: String,
    /// The password, registered with [`crate::secrets`] while this value lives.
    _password: Option<Arc<str>>,
}

/// The environment variables that name a proxy for an https base URL, in the order they are
/// read: the scheme's own first, then `ALL_PROXY` (as curl and Python do), then, as this
/// library always did, `HTTP_PROXY`.
const PROXY_VARIABLES: [&str; 6] = [
    "HTTPS_PROXY",
    "https_proxy",
    "ALL_PROXY",
    "all_proxy",
    "HTTP_PROXY",
    "http_proxy",
];

/// `text` (a proxy URL) as messages show it: any user information replaced by the user name
/// and `***`, or, when the text is no proxy URL, everything between the scheme and the last `@`
/// replaced by `***`, so that no piece of a password appears whatever its characters.
pub fn shown(text: &str) -> String {
    let text = text.trim();
    let (scheme, rest) = match text.split_once("://") {
        Some((scheme, rest)) => (format!("{scheme}://"), rest),
        None => (String::new(), text),
    };
    let Some((userinfo, host)) = rest.rsplit_once('@') else {
        return text.to_string();
    };
    match url::Url::parse(text) {
        Ok(url) if is_bare(&url) && !url.username().is_empty() => {
            format!("{scheme}{}:***@{host}", url.username())
        }
        _ if userinfo.is_empty() => text.to_string(),
        _ => format!("{scheme}***@{host}"),
    }
}

/// The proxy named by `text`, checked: SOCKS, other schemes, and URLs with more than a host
/// and port are refused by name, without the password.
pub fn parse_proxy(text: &str) -> Result<ChosenProxy> {
    let text = text.trim();
    let shown = shown(text);
    let scheme = text
        .split_once("://")
        .map_or("", |(scheme, _)| scheme)
        .to_ascii_lowercase();
    if scheme.starts_with("socks") {
        return Err(invalid(format!(
            "the proxy \"{shown}\" is a SOCKS proxy, which this library does not support: use an \
             HTTP proxy (http:// or https://, CONNECT)"
        )));
    }
    let protocol = match scheme.as_str() {
        "http" => ProxyProtocol::Http,
        "https" => ProxyProtocol::Https,
        _ => {
            return Err(invalid(format!(
                "the proxy \"{shown}\" is not supported: use http:// or https://"
            )));
        }
    };
    const ENCODE: &str = "write / ? # @ : in its user name or password as %2F %3F %23 %40 %3A";
    let url = url::Url::parse(text).map_err(|e| {
        invalid(format!(
            "the proxy \"{shown}\" is not a URL ({e}); {ENCODE}"
        ))
    })?;
    let host = url.host_str().filter(|_| is_bare(&url)).ok_or_else(|| {
        invalid(format!(
            "the proxy \"{shown}\" is not scheme://[user:password@]host[:port]; {ENCODE}"
        ))
    })?;
    let decoded = |part: &str, what: &str| {
        percent_decode_str(part)
            .decode_utf8()
            .map(|text| text.into_owned())
            .map_err(|_| invalid(format!("the {what} of the proxy \"{shown}\" is not UTF-8")))
    };
    let username = decoded(url.username(), "user name")?;
    let password = url
        .password()
        .map(|password| decoded(password, "password"))
        .transpose()?
        .map(Arc::<str>::from);
    if let Some(password) = &password {
        secrets::register(password);
    }
    let mut builder = Proxy::builder(protocol)
        .host(host)
        .port(url.port_or_known_default().unwrap_or(80));
    if !username.is_empty() || password.is_some() {
        builder = builder.username(&username);
    }
    if let Some(password) = &password {
        builder = builder.password(password);
    }
    let proxy = builder
        .build()
        .map_err(|e| invalid(format!("the proxy \"{shown}\" cannot be used ({e})")))?;
    Ok(ChosenProxy {
        proxy,
        shown,
        _password: password,
    })
}

/// Whether `url` is a host and port only (and the user information): no path but `/`, no
/// query, no fragment.
fn is_bare(url: &url::Url) -> bool {
    matches!(url.path(), "" | "/") && url.query().is_none() && url.fragment().is_none()
}

/// The proxy the environment names for `base_url`, if any: the first of `HTTPS_PROXY`,
/// `ALL_PROXY`, `HTTP_PROXY` (either case) that is set, unless `NO_PROXY` (either case) names
/// the base URL's host (the proxy variable is then not read at all). A variable that names no
/// usable proxy is refused by name.
pub fn environment_proxy(base_url: &str) -> Result<Option<ChosenProxy>> {
    let no_proxy = ["NO_PROXY", "no_proxy"]
        .iter()
        .find_map(|name| std::env::var(name).ok().filter(|v| !v.trim().is_empty()))
        .unwrap_or_default();
    let bypassed = url::Url::parse(base_url).is_ok_and(|base| {
        let port = base.port_or_known_default().unwrap_or(443);
        base.host_str()
            .is_some_and(|host| names_host(&no_proxy, host, port))
    });
    if bypassed {
        return Ok(None);
    }
    let Some((name, value)) = PROXY_VARIABLES.iter().find_map(|name| {
        let value = std::env::var(name).ok()?;
        (!value.trim().is_empty()).then(|| (*name, value.trim().to_string()))
    }) else {
        return Ok(None);
    };
    let url = if value.contains("://") {
        value
    } else {
        format!("http://{value}")
    };
    let chosen = parse_proxy(&url).map_err(|e| e.map_message(|m| format!("{name}: {m}")))?;
    Ok(Some(chosen))
}

/// Whether the `NO_PROXY` value `no_proxy` names `host` (a name, an IPv4 address or a
/// bracketed IPv6 address) at `port`.
pub fn names_host(no_proxy: &str, host: &str, port: u16) -> bool {
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .trim_end_matches('.')
        .to_ascii_lowercase();
    no_proxy
        .split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .any(|entry| entry_names(&entry.to_ascii_lowercase(), &host, port))
}

/// Whether one `NO_PROXY` entry names `host` (lower case, without brackets) at `port`.
fn entry_names(entry: &str, host: &str, port: u16) -> bool {
    if entry == "*" {
        return true;
    }
    let (name, wanted_port) = split_port(entry);
    if wanted_port.is_some_and(|wanted| wanted != port) {
        return false;
    }
    if let Ok(address) = host.parse::<IpAddr>() {
        return match name.split_once('/') {
            Some((network, bits)) => in_block(address, network, bits),
            None => name.parse::<IpAddr>() == Ok(address),
        };
    }
    let domain = name
        .trim_start_matches("*.")
        .trim_start_matches('.')
        .trim_end_matches('.');
    !domain.is_empty()
        && (host == domain
            || host
                .strip_suffix(domain)
                .is_some_and(|start| start.ends_with('.')))
}

/// `name:port` or `[v6]:port` split; a bare IPv6 address has no port.
fn split_port(entry: &str) -> (&str, Option<u16>) {
    if let Some(rest) = entry.strip_prefix('[') {
        let (address, after) = rest.split_once(']').unwrap_or((rest, ""));
        return (
            address,
            after.strip_prefix(':').and_then(|p| p.parse().ok()),
        );
    }
    match entry.split_once(':') {
        Some((name, port)) if !port.contains(':') => match port.parse() {
            Ok(port) => (name, Some(port)),
            Err(_) => (entry, None),
        },
        _ => (entry, None),
    }
}

/// Whether `address` lies in the CIDR block `network`/`bits`.
fn in_block(address: IpAddr, network: &str, bits: &str) -> bool {
    let (Ok(network), Ok(bits)) = (network.parse::<IpAddr>(), bits.parse::<u32>()) else {
        return false;
    };
    let (address, network, width) = match (address, network) {
        (IpAddr::V4(a), IpAddr::V4(n)) => (u32::from(a) as u128, u32::from(n) as u128, 32),
        (IpAddr::V6(a), IpAddr::V6(n)) => (u128::from(a), u128::from(n), 128),
        _ => return false,
    };
    if bits > width {
        return false;
    }
    let shift = width - bits;
    shift >= 128 || (address >> shift) == (network >> shift)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Code;

    #[test]
    fn shows_a_proxy_without_any_piece_of_its_password() {
        assert_eq!(
            shown("http://user:s3cret@proxy:3128"),
            "http://user:***@proxy:3128"
        );
        assert_eq!(
            shown("http://user:pa%2Fss@proxy:3128"),
            "http://user:***@proxy:3128"
        );
        for raw in [
            "http://user:pa/ss@proxy:3128",
            "http://user:pa?ss@proxy:3128",
            "http://user:pa#ss@proxy:3128",
            "http://user:12/ss@proxy:3128",
        ] {
            assert_eq!(shown(raw), "http://***@proxy:3128", "{raw}");
        }
        assert_eq!(shown("http://proxy:3128"), "http://proxy:3128");
        assert_eq!(shown("proxy:3128"), "proxy:3128");
    }

    #[test]
    fn decodes_credentials_and_refuses_what_is_no_bare_proxy_url() {
        let chosen = parse_proxy("http://us%40er:pa%2Fss%3F%23%40%3A@127.0.0.1:3128").unwrap();
        assert_eq!(chosen.proxy.username(), Some("us@er"));
        assert_eq!(chosen.proxy.password(), Some("pa/ss?#@:"));
        assert_eq!(
            (chosen.proxy.host(), chosen.proxy.port()),
            ("127.0.0.1", 3128)
        );
        // The last `@` before the host ends the user information.
        let chosen = parse_proxy("http://user:p@ss@proxy:8080").unwrap();
        assert_eq!(
            (chosen.proxy.password(), chosen.proxy.host()),
            (Some("p@ss"), "proxy")
        );
        assert_eq!(parse_proxy("https://proxy").unwrap().proxy.port(), 443);
        for bad in [
            "ftp://u:pw55@proxy:21",
            "socks5://u:pw55@proxy:1080",
            "proxy:3128",
            "http://user:pw55/x@proxy:3128",
            "http://user:12/pw55@proxy:3128",
            "http://user:pw55?x@proxy:3128",
            "http://user:pw55#x@proxy:3128",
            "http://proxy:3128/path",
        ] {
            let err = parse_proxy(bad).unwrap_err();
            assert_eq!(err.code(), Code::InvalidArgument, "{bad}");
            assert!(!err.message().contains("pw55"), "{err}");
        }
    }

    #[test]
    fn no_proxy_matches_as_curl_go_and_python_do() {
        let names = |no_proxy: &str, host: &str| names_host(no_proxy, host, 443);
        for (no_proxy, host) in [
            ("api.example.com", "api.example.com"),
            ("foo, api.example.com", "api.example.com"),
            (" api.example.com", "api.example.com"),
            ("example.com", "api.example.com"),
            (".example.com", "api.example.com"),
            ("*.example.com", "api.example.com"),
            ("EXAMPLE.com.", "API.example.com"),
            ("*", "anything"),
            ("example.com:443", "api.example.com"),
            ("10.0.0.0/8", "10.1.2.3"),
            ("10.1.2.3", "10.1.2.3"),
            ("::1", "[::1]"),
            ("[fd00::1]:443", "[fd00::1]"),
            ("fd00::/8", "[fd00::5]"),
        ] {
            assert!(names(no_proxy, host), "{no_proxy:?} should name {host}");
        }
        for (no_proxy, host) in [
            ("ample.com", "api.example.com"),
            ("api.example.com.evil", "api.example.com"),
            ("example.com:8443", "api.example.com"),
            ("10.0.0.0/8", "11.1.2.3"),
            ("0.0.1", "10.0.0.1"),
            ("", "api.example.com"),
            (" , ", "api.example.com"),
        ] {
            assert!(
                !names(no_proxy, host),
                "{no_proxy:?} should not name {host}"
            );
        }
    }
}
