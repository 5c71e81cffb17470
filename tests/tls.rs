//! HTTPS end to end against loopback servers with certificates the tests make: trust through
//! `ocr_client_set_ca_file`/`_pem` and `SSL_CERT_FILE`, each cause of `OCR_ERR_TLS` in one
//! sentence and never retried, connection reuse over TLS, and CONNECT proxies.

mod common;
#[path = "tls/server.rs"]
mod server;

use common::*;
use ocrcloud::ffi::*;
use server::{Authority, TlsServer};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

fn ca_file(authority: &Authority, name: &str) -> PathBuf {
    let dir = scratch_dir(&format!("tls-{name}"));
    let path = dir.join("ca.pem");
    std::fs::write(&path, &authority.pem).unwrap();
    path
}

fn trusting(url: &str, authority: &Authority, name: &str) -> Client {
    let client = Client::with_token(url, Some("token"));
    let path = ca_file(authority, name);
    assert_code(
        unsafe { ocr_client_set_ca_file(client.0, c(path.to_str().unwrap()).as_ptr()) },
        OCR_OK,
    );
    client
}

#[test]
fn a_server_signed_by_an_unknown_authority_is_a_tls_error_in_one_sentence_and_not_retried() {
    let authority = Authority::new("test CA");
    let server = TlsServer::start(authority.loopback_leaf());
    let client = Client::with_token(&server.url, Some("token"));
    assert_code(client.fetch(None, "t").err().unwrap(), OCR_ERR_TLS);
    assert_eq!(
        last_error(),
        "the certificate of 127.0.0.1 is not trusted: it is signed by an unknown authority; see \
         ocr_client_set_ca_file"
    );
    assert_eq!(server.connections(), 1, "a TLS failure is not retried");
}

#[test]
fn a_ca_file_or_pem_in_memory_makes_its_servers_trusted_and_null_goes_back_to_the_default() {
    let authority = Authority::new("test CA");
    let server = TlsServer::start(authority.loopback_leaf());
    let client = trusting(&server.url, &authority, "file");
    assert_eq!(
        client.fetch(None, "t-1").unwrap().data(0).unwrap(),
        b"hello"
    );
    assert_code(
        unsafe { ocr_client_set_ca_file(client.0, std::ptr::null()) },
        OCR_OK,
    );
    assert_code(client.fetch(None, "t-1").err().unwrap(), OCR_ERR_TLS);

    let memory = Client::with_token(&server.url, Some("token"));
    let pem = authority.pem.as_bytes();
    assert_code(
        unsafe { ocr_client_set_ca_pem(memory.0, pem.as_ptr(), pem.len()) },
        OCR_OK,
    );
    assert_eq!(
        memory.fetch(None, "t-2").unwrap().data(0).unwrap(),
        b"hello"
    );
}

#[test]
fn a_missing_unreadable_or_certificate_less_ca_file_is_refused_and_changes_nothing() {
    let authority = Authority::new("test CA");
    let server = TlsServer::start(authority.loopback_leaf());
    let client = trusting(&server.url, &authority, "refused");
    let dir = scratch_dir("tls-bad-files");
    std::fs::write(dir.join("empty.pem"), "").unwrap();
    std::fs::write(
        dir.join("key.pem"),
        "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA==\n-----END PRIVATE KEY-----\n",
    )
    .unwrap();
    for bad in ["missing.pem", "empty.pem", "key.pem", ""] {
        let path = dir.join(bad);
        assert_code(
            unsafe { ocr_client_set_ca_file(client.0, c(path.to_str().unwrap()).as_ptr()) },
            OCR_ERR_INVALID_ARGUMENT,
        );
    }
    let text = b"not pem";
    assert_code(
        unsafe { ocr_client_set_ca_pem(client.0, text.as_ptr(), text.len()) },
        OCR_ERR_INVALID_ARGUMENT,
    );
    assert!(
        client.fetch(None, "t").is_ok(),
        "the earlier CA is still trusted"
    );
}

/// The message a client trusting `authority` gets from a server with `leaf`.
fn refusal(authority: &Authority, leaf: server::Leaf, name: &str) -> String {
    let server = TlsServer::start(leaf);
    let client = trusting(&server.url, authority, name);
    assert_code(client.fetch(None, "t").err().unwrap(), OCR_ERR_TLS);
    assert_eq!(server.connections(), 1, "{name}: not retried");
    last_error()
}

#[test]
fn each_certificate_problem_is_named() {
    let authority = Authority::new("test CA");
    let expired = refusal(
        &authority,
        authority.leaf(&["127.0.0.1"], (2020, 1, 1), (2021, 1, 1)),
        "expired",
    );
    assert!(
        expired.ends_with("it has expired; see ocr_client_set_ca_file"),
        "{expired}"
    );
    let early = refusal(
        &authority,
        authority.leaf(&["127.0.0.1"], (2090, 1, 1), (2099, 1, 1)),
        "early",
    );
    assert!(early.contains("it is not valid yet"), "{early}");
    let other = refusal(
        &authority,
        authority.leaf(&["example.com"], (2020, 1, 1), (2099, 1, 1)),
        "name",
    );
    assert!(
        other.contains("it is not valid for the name 127.0.0.1"),
        "{other}"
    );
    let self_signed = refusal(&authority, authority.as_leaf(), "self-signed");
    assert!(self_signed.contains("self-signed"), "{self_signed}");
}

#[test]
fn a_server_that_does_not_speak_tls_is_named_and_not_retried() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("https://{}", listener.local_addr().unwrap());
    let accepted = Arc::new(Mutex::new(0));
    let counter = Arc::clone(&accepted);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            *counter.lock().unwrap() += 1;
            let _ = stream
                .unwrap()
                .write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
        }
    });
    let client = Client::with_token(&url, Some("token"));
    assert_code(client.fetch(None, "t").err().unwrap(), OCR_ERR_TLS);
    assert!(
        last_error().contains("does not speak TLS"),
        "{}",
        last_error()
    );
    assert_eq!(*accepted.lock().unwrap(), 1);
}

#[test]
fn two_hundred_polls_over_https_use_one_handshake() {
    let authority = Authority::new("test CA");
    let server = TlsServer::start(authority.loopback_leaf());
    let client = trusting(&server.url, &authority, "reuse");
    for i in 0..200 {
        client.status(None, &format!("t-{i}")).unwrap();
    }
    assert_eq!(server.handshakes(), 1);
    assert_eq!(server.connections(), 1);
}

#[test]
fn ssl_cert_file_is_honoured() {
    let authority = Authority::new("test CA");
    let path = ca_file(&authority, "env");
    let server = TlsServer::start(authority.loopback_leaf());
    // The system's store is read once per process: check in a process of its own.
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "fetch_in_a_child_process", "--nocapture"])
        .env("SSL_CERT_FILE", &path)
        .env("OCRCLOUD_TEST_URL", &server.url)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("1 passed"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(server.handshakes(), 1);
}

/// Run by `ssl_cert_file_is_honoured` in a child process; does nothing on its own.
#[test]
fn fetch_in_a_child_process() {
    if let Ok(url) = std::env::var("OCRCLOUD_TEST_URL") {
        let client = Client::with_token(&url, Some("token"));
        assert_eq!(client.fetch(None, "t").unwrap().data(0).unwrap(), b"hello");
    }
}

/// A CONNECT proxy on loopback that tunnels every target to `to` (so that names like
/// `ocr.test` need no resolver), optionally asking for `user:password`. It records each
/// request head it receives.
struct Proxy {
    url: String,
    heads: Arc<Mutex<Vec<String>>>,
}

impl Proxy {
    fn start(to: u16, credentials: Option<&str>) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let heads = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&heads);
        let expected = credentials.map(|c| {
            use std::fmt::Write as _;
            let encoded = base64_of(c.as_bytes());
            let mut header = String::new();
            let _ = write!(header, "proxy-authorization: basic {encoded}");
            header
        });
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let stream = stream.unwrap();
                let (seen, expected) = (Arc::clone(&seen), expected.clone());
                std::thread::spawn(move || tunnel(stream, to, &seen, expected.as_deref()));
            }
        });
        Proxy { url, heads }
    }
}

fn base64_of(bytes: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().fold(0u32, |n, b| n << 8 | *b as u32) << (8 * (3 - chunk.len()));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn tunnel(stream: TcpStream, to: u16, seen: &Mutex<Vec<String>>, expected: Option<&str>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut head = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        if line == "\r\n" {
            break;
        }
        head += &line;
    }
    seen.lock().unwrap().push(head.clone());
    let mut client = stream;
    if let Some(expected) = expected
        && !head
            .to_ascii_lowercase()
            .contains(&expected.to_ascii_lowercase())
    {
        let _ = client.write_all(
            b"HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic\r\nContent-Length: 0\r\n\r\n",
        );
        return;
    }
    let Ok(mut target) = TcpStream::connect(("127.0.0.1", to)) else {
        let _ = client.write_all(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n");
        return;
    };
    let _ = client.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n");
    let mut upstream = target.try_clone().unwrap();
    let mut downstream = client.try_clone().unwrap();
    let pending = reader.buffer().to_vec();
    let _ = target.write_all(&pending);
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut reader, &mut target);
    });
    let _ = std::io::copy(&mut upstream, &mut downstream);
    let _ = client.shutdown(std::net::Shutdown::Both);
    let mut sink = Vec::new();
    let _ = upstream.read_to_end(&mut sink);
}

fn through(proxy_url: &str, target_port: u16, authority: &Authority, name: &str) -> Client {
    let client = trusting(&format!("https://ocr.test:{target_port}"), authority, name);
    assert_code(
        unsafe { ocr_client_set_proxy(client.0, c(proxy_url).as_ptr()) },
        OCR_OK,
    );
    client
}

#[test]
fn a_connect_proxy_tunnels_https_with_and_without_credentials() {
    let authority = Authority::new("test CA");
    let server = TlsServer::start(authority.loopback_leaf());
    let open = Proxy::start(server.port, None);
    let client = through(&open.url, server.port, &authority, "proxy-open");
    assert_eq!(client.fetch(None, "t").unwrap().data(0).unwrap(), b"hello");
    assert!(open.heads.lock().unwrap()[0].starts_with("CONNECT ocr.test:"));

    let guarded = Proxy::start(server.port, Some("user:pa55word"));
    let with = guarded.url.replace("http://", "http://user:pa55word@");
    let client = through(&with, server.port, &authority, "proxy-auth");
    assert_eq!(client.fetch(None, "t").unwrap().data(0).unwrap(), b"hello");

    let without = through(&guarded.url, server.port, &authority, "proxy-refused");
    let before = guarded.heads.lock().unwrap().len();
    assert_code(without.fetch(None, "t").err().unwrap(), OCR_ERR_NETWORK);
    assert!(last_error().contains(&guarded.url), "{}", last_error());
    assert!(last_error().contains("407"), "{}", last_error());
    assert_eq!(
        guarded.heads.lock().unwrap().len(),
        before + 1,
        "a 407 is not retried"
    );

    let wrong = guarded.url.replace("http://", "http://user:wrong-secret@");
    let client = through(&wrong, server.port, &authority, "proxy-wrong");
    assert_code(client.fetch(None, "t").err().unwrap(), OCR_ERR_NETWORK);
    assert!(!last_error().contains("wrong-secret"), "{}", last_error());
}

#[test]
fn a_proxy_that_drops_the_tunnel_is_named() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            drop(stream);
        }
    });
    let authority = Authority::new("test CA");
    let client = through(&url, 443, &authority, "proxy-drop");
    assert_code(client.fetch(None, "t").err().unwrap(), OCR_ERR_NETWORK);
    assert!(
        last_error().contains(&format!("through the proxy {url}")),
        "{}",
        last_error()
    );
}

#[test]
fn a_loopback_base_url_never_goes_through_a_proxy_and_unusable_proxies_are_refused() {
    let authority = Authority::new("test CA");
    let server = TlsServer::start(authority.loopback_leaf());
    let proxy = Proxy::start(server.port, None);
    let client = trusting(&server.url, &authority, "loopback");
    assert_code(
        unsafe { ocr_client_set_proxy(client.0, c(&proxy.url).as_ptr()) },
        OCR_OK,
    );
    client.fetch(None, "t").unwrap();
    assert!(proxy.heads.lock().unwrap().is_empty());
    for bad in [
        "ftp://proxy:21",
        "proxy:3128",
        "socks5://u:pw@proxy:1080",
        "socks4://proxy:1080",
    ] {
        assert_code(
            unsafe { ocr_client_set_proxy(client.0, c(bad).as_ptr()) },
            OCR_ERR_INVALID_ARGUMENT,
        );
        assert!(!last_error().contains("pw@"), "{}", last_error());
        assert!(last_error().contains("proxy"), "{}", last_error());
    }
}

#[test]
fn the_environments_proxy_and_no_proxy_are_honoured() {
    let authority = Authority::new("test CA");
    let server = TlsServer::start(authority.loopback_leaf());
    let proxy = Proxy::start(server.port, None);
    let path = ca_file(&authority, "env-proxy");
    for (no_proxy, through_proxy) in [("", true), ("ocr.test", false)] {
        let output = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "fetch_through_the_environment_in_a_child_process",
                "--nocapture",
            ])
            .env("HTTPS_PROXY", &proxy.url)
            .env("NO_PROXY", no_proxy)
            .env(
                "OCRCLOUD_TEST_URL",
                format!("https://ocr.test:{}", server.port),
            )
            .env("OCRCLOUD_TEST_CA", &path)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        let used = !proxy.heads.lock().unwrap().is_empty();
        proxy.heads.lock().unwrap().clear();
        if through_proxy {
            assert!(
                stdout.contains("1 passed"),
                "{stdout}{}",
                String::from_utf8_lossy(&output.stderr)
            );
            assert!(used, "HTTPS_PROXY was not used");
        } else {
            assert!(!used, "NO_PROXY was not honoured");
        }
    }
}

/// Run by `the_environments_proxy_and_no_proxy_are_honoured` in a child process.
#[test]
fn fetch_through_the_environment_in_a_child_process() {
    if let (Ok(url), Ok(ca)) = (
        std::env::var("OCRCLOUD_TEST_URL"),
        std::env::var("OCRCLOUD_TEST_CA"),
    ) {
        let client = Client::with_token(&url, Some("token"));
        assert_code(
            unsafe { ocr_client_set_ca_file(client.0, c(&ca).as_ptr()) },
            OCR_OK,
        );
        assert_eq!(client.fetch(None, "t").unwrap().data(0).unwrap(), b"hello");
    }
}

/// A proxy password holding every character that ends a URL's user information or host, and
/// its percent-encoded spelling.
const ODD_PASSWORD: &str = "pa55/w0rd?q#f@a:b";
const ODD_PASSWORD_ENCODED: &str = "pa55%2Fw0rd%3Fq%23f%40a%3Ab";

/// Fails if `text` holds a piece of [`ODD_PASSWORD`] or of the wrong one the tests use.
#[track_caller]
fn assert_no_password(text: &str) {
    for piece in ["pa55", "w0rd", "wr0ng", "s3cret"] {
        assert!(!text.contains(piece), "{piece:?} in {text}");
    }
}

#[test]
fn a_proxy_password_with_url_delimiters_is_decoded_and_never_shown() {
    let authority = Authority::new("test CA");
    let server = TlsServer::start(authority.loopback_leaf());
    let guarded = Proxy::start(server.port, Some(&format!("user:{ODD_PASSWORD}")));
    let address = guarded.url.trim_start_matches("http://").to_string();
    // Percent-encoded, the password reaches the proxy decoded.
    let encoded = format!("http://user:{ODD_PASSWORD_ENCODED}@{address}");
    let client = through(&encoded, server.port, &authority, "proxy-odd");
    assert_eq!(client.fetch(None, "t").unwrap().data(0).unwrap(), b"hello");
    // Written as it is, `/`, `?` or `#` ends the host: refused, nothing sent anywhere, and no
    // piece of the password in the message.
    let heads = guarded.heads.lock().unwrap().len();
    for raw in [
        format!("http://user:{ODD_PASSWORD}@{address}"),
        format!("http://user:pa55/w0rd@{address}"),
        format!("http://user:55/w0rd@{address}"),
        format!("http://user:pa55?w0rd@{address}"),
        format!("http://user:pa55#w0rd@{address}"),
    ] {
        assert_code(
            unsafe { ocr_client_set_proxy(client.0, c(&raw).as_ptr()) },
            OCR_ERR_INVALID_ARGUMENT,
        );
        let message = last_error();
        assert_no_password(&message);
        assert!(message.contains("%2F"), "{message}");
        assert!(message.contains(&format!("***@{address}")), "{message}");
    }
    assert_eq!(guarded.heads.lock().unwrap().len(), heads);
    // A refused URL leaves the client as it was.
    assert_eq!(client.fetch(None, "t").unwrap().data(0).unwrap(), b"hello");
    // A wrong password with delimiters: a 407 that names the proxy without the password.
    let wrong = format!("http://user:wr0ng%2Fs3cret%3F@{address}");
    let client = through(&wrong, server.port, &authority, "proxy-odd-wrong");
    assert_code(client.fetch(None, "t").err().unwrap(), OCR_ERR_NETWORK);
    let message = last_error();
    assert!(message.contains("407"), "{message}");
    assert!(
        message.contains(&format!("user:***@{address}")),
        "{message}"
    );
    assert_no_password(&message);
}

/// Runs `report_a_fetch_in_a_child_process` with `HTTPS_PROXY` and `NO_PROXY` and debug logs;
/// answers its output (checked to hold no piece of a password) and whether the proxy was used.
fn fetch_in_a_child(
    proxy: &Proxy,
    server: &TlsServer,
    ca: &std::path::Path,
    proxy_url: &str,
    no_proxy: &str,
) -> (String, bool) {
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "report_a_fetch_in_a_child_process",
            "--nocapture",
        ])
        .env("HTTPS_PROXY", proxy_url)
        .env("NO_PROXY", no_proxy)
        .env("OCRCLOUD_LOG", "debug")
        .env(
            "OCRCLOUD_TEST_REPORT",
            format!("https://ocr.test:{}", server.port),
        )
        .env("OCRCLOUD_TEST_CA", ca)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_no_password(&stdout);
    assert_no_password(&stderr);
    assert!(stdout.contains("outcome:"), "{stdout}{stderr}");
    let used = !proxy.heads.lock().unwrap().is_empty();
    proxy.heads.lock().unwrap().clear();
    (stdout, used)
}

#[test]
fn the_environments_proxy_credentials_are_decoded_and_never_shown() {
    let authority = Authority::new("test CA");
    let server = TlsServer::start(authority.loopback_leaf());
    let proxy = Proxy::start(server.port, Some(&format!("user:{ODD_PASSWORD}")));
    let address = proxy.url.trim_start_matches("http://").to_string();
    let ca = ca_file(&authority, "env-proxy-odd");
    // Percent-encoded credentials from HTTPS_PROXY reach the proxy decoded.
    let encoded = format!("http://user:{ODD_PASSWORD_ENCODED}@{address}");
    let (stdout, used) = fetch_in_a_child(&proxy, &server, &ca, &encoded, "");
    assert!(stdout.contains("outcome: OK"), "{stdout}");
    assert!(used);
    // Unencoded: the client is refused by name, without the password, and nothing is sent.
    let raw = format!("http://user:{ODD_PASSWORD}@{address}");
    let (stdout, used) = fetch_in_a_child(&proxy, &server, &ca, &raw, "");
    assert!(
        stdout.contains("outcome: new OCR_ERR_INVALID_ARGUMENT"),
        "{stdout}"
    );
    assert!(stdout.contains("HTTPS_PROXY"), "{stdout}");
    assert!(!used);
}

#[test]
fn no_proxy_spellings_of_curl_go_and_python_are_honoured_and_a_bypass_names_no_proxy() {
    let authority = Authority::new("test CA");
    let server = TlsServer::start(authority.loopback_leaf());
    let proxy = Proxy::start(server.port, None);
    let ca = ca_file(&authority, "env-no-proxy");
    // The request bypasses the proxy (and fails, ocr.test being no real host), and its message
    // names no proxy.
    for no_proxy in [
        "ocr.test",
        " ocr.test",
        "foo, ocr.test",
        "foo,ocr.test ",
        "test",
        ".test",
        "*.test",
        "OCR.TEST",
        &format!("ocr.test:{}", server.port),
        "*",
    ] {
        let (stdout, used) = fetch_in_a_child(&proxy, &server, &ca, &proxy.url, no_proxy);
        assert!(!used, "NO_PROXY={no_proxy:?} was not honoured: {stdout}");
        assert!(
            stdout.contains("outcome: fetch OCR_ERR_NETWORK"),
            "{stdout}"
        );
        assert!(
            !stdout.contains("through the proxy"),
            "{no_proxy:?}: {stdout}"
        );
    }
    // Entries that do not name the host leave the proxy in use.
    for no_proxy in ["cr.test", "ocr.test.example", "ocr.test:1", "other, foo"] {
        let (stdout, used) = fetch_in_a_child(&proxy, &server, &ca, &proxy.url, no_proxy);
        assert!(used, "NO_PROXY={no_proxy:?} bypassed the proxy: {stdout}");
        assert!(stdout.contains("outcome: OK"), "{stdout}");
    }
}

/// Run by `fetch_in_a_child` in a child process: makes a client for `OCRCLOUD_TEST_REPORT`
/// and fetches, printing the outcome.
#[test]
fn report_a_fetch_in_a_child_process() {
    let (Ok(url), Ok(ca)) = (
        std::env::var("OCRCLOUD_TEST_REPORT"),
        std::env::var("OCRCLOUD_TEST_CA"),
    ) else {
        return;
    };
    let mut client = std::ptr::null_mut();
    let code = unsafe { ocr_client_new(c(&url).as_ptr(), c("token").as_ptr(), &mut client) };
    if code != OCR_OK {
        println!("outcome: new {} {}", name(code), last_error());
        return;
    }
    let client = Client(client);
    assert_code(
        unsafe { ocr_client_set_ca_file(client.0, c(&ca).as_ptr()) },
        OCR_OK,
    );
    assert_code(unsafe { ocr_client_set_max_attempts(client.0, 1) }, OCR_OK);
    match client.fetch(None, "t") {
        Ok(_) => println!("outcome: OK"),
        Err(code) => println!("outcome: fetch {} {}", name(code), last_error()),
    }
}

#[test]
fn a_413_after_100_continue_over_tls_is_too_large_and_makes_no_task() {
    // The answer waits in the TLS records the server sent before it closed the connection.
    let authority = Authority::new("test CA");
    let server = TlsServer::start_with_limit(authority.loopback_leaf(), Some(1 << 20));
    let client = trusting(&server.url, &authority, "tls-413");
    let document = vec![b'%'; 5 << 20];
    assert_eq!(
        client.submit(None, &document, None).err(),
        Some(OCR_ERR_TOO_LARGE),
        "{}",
        last_error()
    );
    assert!(!last_error().contains("task may exist"), "{}", last_error());
}

#[test]
fn a_413_over_tls_from_a_server_that_stops_reading_is_too_large() {
    // After its 413 the server neither reads nor closes: the client's write waits until its
    // per-write timeout, then the answer is read (pending TLS writes are dropped).
    let authority = Authority::new("test CA");
    let server = TlsServer::start_with_limit_then_hold(authority.loopback_leaf(), 1 << 20);
    let client = trusting(&server.url, &authority, "tls-413-hold");
    assert_code(
        unsafe { ocr_client_set_read_timeout_ms(client.0, 2000) },
        OCR_OK,
    );
    let document = vec![b'%'; 16 << 20];
    assert_eq!(
        client.submit(None, &document, None).err(),
        Some(OCR_ERR_TOO_LARGE),
        "{}",
        last_error()
    );
    assert!(!last_error().contains("task may exist"), "{}", last_error());
}

#[test]
fn a_proxy_that_answers_the_connect_early_forges_the_services_answer() {
    // A CONNECT proxy that answers the first bytes of the CONNECT head and closes: the
    // client's next write of the head failed, the early-answer reader took the proxy's bytes
    // (plain text, outside TLS) for the service's answer, and a submission returned the task
    // id the proxy made up; a 502 read "the service answered HTTP 502", naming no proxy.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let proxy_url = format!("http://{}", listener.local_addr().unwrap());
    let answers: Arc<Mutex<&'static [u8]>> = Arc::new(Mutex::new(b""));
    let answer = Arc::clone(&answers);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let mut stream = stream.unwrap();
            let mut first = [0u8; 8];
            let _ = stream.read(&mut first);
            let _ = stream.write_all(*answer.lock().unwrap());
            let _ = stream.shutdown(std::net::Shutdown::Both);
        }
    });
    let authority = Authority::new("test CA");
    for _ in 0..3 {
        *answers.lock().unwrap() = b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nforged";
        let client = through(&proxy_url, 443, &authority, "proxy-forged");
        assert_code(
            unsafe { ocr_client_set_circuit_breaker(client.0, 0) },
            OCR_OK,
        );
        let outcome = client.submit(None, b"%PDF-1.4 tiny", None);
        let message = last_error();
        assert_ne!(outcome, Ok("forged".to_string()), "{message}");
        *answers.lock().unwrap() = b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n";
        let outcome = client.fetch(None, "t").err();
        let message = last_error();
        assert_eq!(outcome, Some(OCR_ERR_NETWORK), "{message}");
        assert!(message.contains(&proxy_url), "{message}");
    }
}

#[test]
#[ignore = "the bytes of a CONNECT head count as bytes of the request (transport::bytes_written \
            counts every TCP byte); a fix that counts only writes through the service's \
            connection (commit 3750e63) was taken back until batch_faults, flaky on its own, \
            is checked with it"]
fn a_submission_whose_connect_is_cut_says_a_task_may_exist() {
    // A proxy that reads the first bytes of the CONNECT head and closes: nothing reached the
    // service, yet the submission says "a task may exist" (and a batch counts a duplicate).
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let proxy_url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let mut stream = stream.unwrap();
            let mut first = [0u8; 8];
            let _ = stream.read(&mut first);
            let _ = stream.shutdown(std::net::Shutdown::Both);
        }
    });
    let authority = Authority::new("test CA");
    let client = through(&proxy_url, 443, &authority, "proxy-cut");
    assert_code(unsafe { ocr_client_set_max_attempts(client.0, 1) }, OCR_OK);
    assert!(client.submit(None, b"%PDF-1.4 tiny", None).is_err());
    let message = last_error();
    assert!(message.contains(&proxy_url), "{message}");
    assert!(!message.contains("task may exist"), "{message}");
}

/// An answer over TLS followed, in the same write, by the first half of a TLS record that holds
/// a second answer: the socket is then empty, but the TLS layer holds bytes the server left. The
/// connection must not serve the next poll, or the rest of that record (sent once the next
/// request arrived) would become its answer.
#[test]
fn a_tls_record_left_half_sent_after_an_answer_never_becomes_the_next_answer() {
    use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
    let authority = Authority::new("test CA");
    let leaf = authority.loopback_leaf();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(
        leaf.chain,
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf.key)),
    )
    .unwrap();
    let config = Arc::new(config);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("https://{}", listener.local_addr().unwrap());
    let connections = Arc::new(Mutex::new(0usize));
    let counted = Arc::clone(&connections);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let first = {
                let mut count = counted.lock().unwrap();
                *count += 1;
                *count == 1
            };
            let config = Arc::clone(&config);
            std::thread::spawn(move || {
                let connection = rustls::ServerConnection::new(config).unwrap();
                let mut tls = rustls::StreamOwned::new(connection, stream);
                let answer = |data: &str| {
                    let body = format!(
                        r#"{{"id":"t","taskStatus":"Completed","responseStatusCode":"Ok","results":[{{"type":"Text","data":"{data}"}}],"error":null}}"#
                    );
                    format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                        body.len()
                    )
                };
                let mut left_over = Vec::new();
                let mut requests = 0;
                while read_head(&mut tls) {
                    requests += 1;
                    if !left_over.is_empty() {
                        // The next request came on this connection: the rest of the record.
                        let _ = tls.sock.write_all(&left_over);
                        left_over.clear();
                        continue;
                    }
                    let mut wire = Vec::new();
                    tls.conn
                        .writer()
                        .write_all(answer("aGVsbG8=").as_bytes())
                        .unwrap();
                    tls.conn.write_tls(&mut wire).unwrap();
                    if first && requests == 1 {
                        let mut second = Vec::new();
                        // "smuggled"
                        tls.conn
                            .writer()
                            .write_all(answer("c211Z2dsZWQ=").as_bytes())
                            .unwrap();
                        tls.conn.write_tls(&mut second).unwrap();
                        let half = second.len() / 2;
                        wire.extend_from_slice(&second[..half]);
                        left_over = second[half..].to_vec();
                    }
                    if tls.sock.write_all(&wire).is_err() {
                        return;
                    }
                }
            });
        }
    });
    let client = trusting(&url, &authority, "half-record");
    assert_code(unsafe { ocr_client_set_max_attempts(client.0, 1) }, OCR_OK);
    for poll in 0..2 {
        let result = client.fetch(None, "t").unwrap_or_else(|code| {
            panic!("poll {poll}: {code} {}", last_error());
        });
        assert_eq!(result.data(0).unwrap(), b"hello", "poll {poll}");
    }
    assert_eq!(*connections.lock().unwrap(), 2);
}

/// Reads one request head (the requests here have no body); false when the client is gone.
fn read_head(tls: &mut rustls::StreamOwned<rustls::ServerConnection, TcpStream>) -> bool {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match tls.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => return false,
        }
    }
    true
}

/// An answer over TLS followed, in the same write, by the server's `close_notify`, the TCP
/// connection left open: the TLS layer read the close with the answer, so a peek at the socket
/// finds it idle and open, but the server will answer nothing more on it. The next poll must
/// go on a new connection (with one attempt, a poll sent there failed).
#[test]
fn a_connection_whose_server_sent_close_notify_is_never_reused() {
    use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
    let authority = Authority::new("test CA");
    let leaf = authority.loopback_leaf();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(
        leaf.chain,
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf.key)),
    )
    .unwrap();
    let config = Arc::new(config);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("https://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let config = Arc::clone(&config);
            std::thread::spawn(move || {
                let connection = rustls::ServerConnection::new(config).unwrap();
                let mut tls = rustls::StreamOwned::new(connection, stream);
                let body = r#"{"id":"t","taskStatus":"Completed","responseStatusCode":"Ok","results":[{"type":"Text","data":"aGVsbG8="}],"error":null}"#;
                let answer = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                );
                if read_head(&mut tls) {
                    let mut wire = Vec::new();
                    tls.conn.writer().write_all(answer.as_bytes()).unwrap();
                    tls.conn.send_close_notify();
                    while tls.conn.wants_write() {
                        tls.conn.write_tls(&mut wire).unwrap();
                    }
                    let _ = tls.sock.write_all(&wire);
                    // Holds the connection open until the client closes it.
                    let mut rest = Vec::new();
                    let _ = tls.sock.read_to_end(&mut rest);
                }
            });
        }
    });
    let client = trusting(&url, &authority, "close-notify");
    assert_code(unsafe { ocr_client_set_max_attempts(client.0, 1) }, OCR_OK);
    assert_code(
        unsafe { ocr_client_set_read_timeout_ms(client.0, 2000) },
        OCR_OK,
    );
    for poll in 0..2 {
        let result = client.fetch(None, "t").unwrap_or_else(|code| {
            panic!("poll {poll}: {code} {}", last_error());
        });
        assert_eq!(result.data(0).unwrap(), b"hello", "poll {poll}");
    }
}
