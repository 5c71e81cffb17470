//! HTTPS: `--tls-self-signed`, `--tls-cert`/`--tls-key`, handshake statistics and failures.

use std::fs;
use std::net::TcpStream;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread::sleep;
use std::time::{Duration, Instant};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use serde_json::{Value, json};

use crate::common::{
    Emulator, agent, agent_trusting, body_for, first_line, fixed_sentence, spawn, temp_path,
};

/// A CA and a server certificate it signs for `names`, all PEM.
struct Made {
    ca_pem: String,
    cert_pem: String,
    key_pem: String,
}

fn make_certificate(names: &[&str]) -> Made {
    // Each CA has a name of its own: a client that trusts another one finds no issuer at all.
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let ca_name = format!("test CA {}", NEXT.fetch_add(1, Ordering::Relaxed));
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params
        .distinguished_name
        .push(DnType::CommonName, ca_name);
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let ca = Issuer::new(ca_params, ca_key);
    let key = KeyPair::generate().unwrap();
    let names: Vec<String> = names.iter().map(|name| (*name).to_owned()).collect();
    let cert = CertificateParams::new(names)
        .unwrap()
        .signed_by(&key, &ca)
        .unwrap();
    Made {
        ca_pem: ca_cert.pem(),
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    }
}

/// Writes `contents` to a fresh temporary file and returns its path.
fn file(name: &str, contents: &str) -> String {
    let path = temp_path(name);
    fs::write(&path, contents).unwrap();
    path.to_str().unwrap().to_owned()
}

/// Polls the statistics until `done` holds (at most 5 s) and returns them.
fn stats_when(emulator: &Emulator, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let stats = emulator.stats();
        if done(&stats) {
            return stats;
        }
        assert!(Instant::now() < deadline, "stats never settled: {stats}");
        sleep(Duration::from_millis(20));
    }
}

/// `GET path` on a fresh client, as a status or the error's message.
fn try_get(client: &ureq::Agent, url: &str) -> Result<u16, String> {
    client
        .get(url)
        .call()
        .map(|mut response| {
            response.body_mut().read_to_vec().unwrap();
            response.status().as_u16()
        })
        .map_err(|error| error.to_string())
}

#[test]
fn self_signed_serves_the_api_over_https() {
    let (emulator, ca_pem) = Emulator::https(&["--pending-ms", "0", "--processing-ms", "0"]);
    let port = emulator.base.strip_prefix("https://127.0.0.1:").unwrap();
    assert!(port.parse::<u16>().unwrap() > 0);
    assert!(ca_pem.starts_with(b"-----BEGIN CERTIFICATE-----"));

    let token = emulator.token();
    let id = emulator.submit("RecognizeImage", Some(&token), &body_for("RecognizeImage"));
    let results = emulator.results("RecognizeImage", &id, Some(&token));
    assert_eq!(
        results,
        [(
            "Text".to_owned(),
            fixed_sentence(b"image bytes").into_bytes()
        )]
    );

    // The certificate names localhost too.
    let client = agent_trusting(&ca_pem);
    let url = format!("https://localhost:{port}/_emulator/stats");
    assert_eq!(try_get(&client, &url), Ok(200));
}

#[test]
fn self_signed_names_the_ipv6_loopback() {
    let ca_out = temp_path("ca.pem");
    let mut child = spawn(&[
        "--listen",
        "[::1]:0",
        "--tls-self-signed",
        ca_out.to_str().unwrap(),
    ]);
    let line = first_line(&mut child);
    let ca_pem = fs::read(&ca_out).unwrap();
    let answer = try_get(
        &agent_trusting(&ca_pem),
        &format!(
            "{}/_emulator/stats",
            line.strip_prefix("listening on ").unwrap()
        ),
    );
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(line.starts_with("listening on https://[::1]:"), "{line}");
    assert_eq!(answer, Ok(200));
}

#[test]
fn the_ca_file_replaces_an_old_one_whole() {
    let ca_out = temp_path("ca.pem");
    fs::write(&ca_out, "an old CA").unwrap();
    let mut child = spawn(&["--tls-self-signed", ca_out.to_str().unwrap()]);
    let line = first_line(&mut child);
    // Read at once: it must be complete as soon as the line is out.
    let ca_pem = fs::read_to_string(&ca_out).unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(line.starts_with("listening on https://"), "{line}");
    assert!(
        ca_pem.starts_with("-----BEGIN CERTIFICATE-----"),
        "{ca_pem}"
    );
    assert!(
        ca_pem.trim_end().ends_with("-----END CERTIFICATE-----"),
        "{ca_pem}"
    );
    // No temporary file is left beside it.
    let name = ca_out.file_name().unwrap().to_str().unwrap();
    let leftovers: Vec<_> = fs::read_dir(ca_out.parent().unwrap())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .filter(|other| other.starts_with(name) && other != name)
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn failed_handshakes_are_counted_and_the_server_keeps_serving() {
    let (emulator, ca_pem) = Emulator::https(&[]);
    // A client that never says a word does not hold up the others.
    let _silent = TcpStream::connect(emulator.address()).unwrap();

    // A client without the CA.
    let error = try_get(&agent(), &emulator.url("/_emulator/stats")).unwrap_err();
    assert!(error.contains("UnknownIssuer"), "{error}");
    // Plain HTTP to the TLS port gets no HTTP answer, at most a TLS alert, then the close.
    let answer = emulator.raw("GET /_emulator/stats HTTP/1.1\r\nHost: localhost\r\n\r\n");
    assert!(!answer.starts_with(b"HTTP"), "{answer:?}");
    // A client that hangs up before its handshake.
    drop(TcpStream::connect(emulator.address()).unwrap());

    // All three are counted, their connections are gone, the silent one is still open.
    let stats = stats_when(&emulator, |stats| {
        stats["tls_handshake_failures"] == 3 && stats["connections_open"] == 2
    });
    assert_eq!(stats["tls_handshakes"], 1, "{stats}");
    assert_eq!(stats["connections_total"], 5, "{stats}");

    // Still serving, on the old connection and on new ones.
    emulator.token();
    assert_eq!(
        try_get(&agent_trusting(&ca_pem), &emulator.url("/connect/token")),
        Ok(405)
    );
    let stats = emulator.stats();
    assert_eq!(stats["tls_handshakes"], 2, "{stats}");
    assert_eq!(stats["tls_handshake_failures"], 3, "{stats}");
}

#[test]
fn keep_alive_needs_one_handshake() {
    let (emulator, ca_pem) = Emulator::https(&["--pending-ms", "0", "--processing-ms", "0"]);
    let token = emulator.token();
    let id = emulator.submit("RecognizeImage", Some(&token), &body_for("RecognizeImage"));
    for _ in 0..18 {
        emulator.fetch("RecognizeImage", &id, Some(&token));
    }
    let stats = emulator.stats();
    assert_eq!(stats["requests"], 20);
    assert_eq!(stats["connections_total"], 1, "{stats}");
    assert_eq!(stats["tls_handshakes"], 1, "{stats}");
    assert_eq!(stats["tls_handshake_failures"], 0, "{stats}");

    // Another client is another connection and handshake.
    assert_eq!(
        try_get(&agent_trusting(&ca_pem), &emulator.url("/_emulator/stats")),
        Ok(200)
    );
    let stats = emulator.stats();
    assert_eq!(stats["connections_total"], 2, "{stats}");
    assert_eq!(stats["tls_handshakes"], 2, "{stats}");

    // A reset starts the counts afresh; the kept connection needs no new handshake.
    assert_eq!(emulator.control("reset", &json!({})).status, 204);
    let stats = emulator.stats();
    assert_eq!(stats["tls_handshakes"], 0, "{stats}");
    assert_eq!(stats["tls_handshake_failures"], 0, "{stats}");
    assert_eq!(stats["connections_total"], 0, "{stats}");
}

#[test]
fn cert_and_key_files_made_by_rcgen() {
    let made = make_certificate(&["localhost", "127.0.0.1"]);
    // The chain file may carry the CA after the leaf.
    let cert = file("cert.pem", &format!("{}{}", made.cert_pem, made.ca_pem));
    let key = file("key.pem", &made.key_pem);
    let emulator = Emulator::start(&["--tls-cert", &cert, "--tls-key", &key])
        .with_agent(agent_trusting(made.ca_pem.as_bytes()));
    assert!(emulator.base.starts_with("https://127.0.0.1:"));
    emulator.token();
    let stats = emulator.stats();
    assert_eq!(stats["token_requests"], 1);
    assert_eq!(stats["tls_handshakes"], 1, "{stats}");

    // Another CA is not trusted.
    let other = make_certificate(&["localhost"]);
    let error = try_get(
        &agent_trusting(other.ca_pem.as_bytes()),
        &emulator.url("/_emulator/stats"),
    )
    .unwrap_err();
    assert!(error.contains("UnknownIssuer"), "{error}");
    stats_when(&emulator, |stats| stats["tls_handshake_failures"] == 1);
}

#[test]
fn bad_tls_flags_exit_with_a_message() {
    let made = make_certificate(&["localhost"]);
    let cert = file("cert.pem", &made.cert_pem);
    let key = file("key.pem", &made.key_pem);
    let other_key = file("other-key.pem", &make_certificate(&["localhost"]).key_pem);
    let directory = temp_path("directory");
    fs::create_dir(&directory).unwrap();
    let directory = directory.to_str().unwrap();
    let ca_out = temp_path("ca.pem");
    let ca_out = ca_out.to_str().unwrap();
    let missing = temp_path("missing.pem");
    let missing = missing.to_str().unwrap();
    let unwritable = format!("{missing}/ca.pem");

    let cases: [(&[&str], &str); 10] = [
        (&["--tls-cert", &cert], "--tls-key"),
        (&["--tls-key", &key], "--tls-cert"),
        (
            &[
                "--tls-cert",
                &cert,
                "--tls-key",
                &key,
                "--tls-self-signed",
                ca_out,
            ],
            "cannot be used with",
        ),
        (
            &["--tls-cert", missing, "--tls-key", &key],
            &format!("cannot read the TLS certificate file {missing}"),
        ),
        (
            &["--tls-cert", directory, "--tls-key", &key],
            &format!("cannot read the TLS certificate file {directory}"),
        ),
        (
            &["--tls-cert", &cert, "--tls-key", missing],
            &format!("cannot read the TLS key file {missing}"),
        ),
        (
            &["--tls-cert", &key, "--tls-key", &key],
            "no PEM certificate",
        ),
        (
            &["--tls-cert", &cert, "--tls-key", &cert],
            "no PEM private key",
        ),
        (
            &["--tls-cert", &cert, "--tls-key", &other_key],
            "cannot be used together",
        ),
        (
            &["--tls-self-signed", &unwritable],
            "cannot write the CA certificate",
        ),
    ];
    for (args, message) in cases {
        let output = Command::new(env!("CARGO_BIN_EXE_ocrcloud-emulator"))
            .args(["--listen", "127.0.0.1:0"])
            .args(args)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{args:?} succeeded");
        assert!(output.stdout.is_empty(), "{args:?} printed a line");
        assert!(stderr.contains(message), "{args:?}: {stderr}");
    }
    assert!(!fs::exists(ca_out).unwrap());
}
