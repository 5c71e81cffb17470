//! Injected faults: every kind, FIFO order, counts, method and path matching.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::{Emulator, agent};

/// A completed fixture task whose GET answer is a few hundred bytes.
fn fixture(emulator: &Emulator) -> String {
    emulator.fixture(json!({"id": "fixed", "results": [{"type": "Text", "text": "x".repeat(300)}]}))
}

fn raw_get(path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n")
}

/// Splits a raw answer into its head and body.
fn split(raw: &[u8]) -> (String, Vec<u8>) {
    let end = raw
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .expect("a complete head");
    (
        String::from_utf8(raw[..end].to_vec()).unwrap(),
        raw[end + 4..].to_vec(),
    )
}

#[test]
fn status_fault_replaces_the_answer() {
    let emulator = Emulator::instant(&["--no-auth"]);
    emulator.fault(json!({
        "path": "/v5.0/ocr/RecognizePdf", "kind": "status", "status": 503,
        "retryAfter": "2", "headers": {"X-Fault": "yes"},
    }));
    let reply = emulator.get("/v5.0/ocr/RecognizePdf?id=abc", None);
    reply.problem(503);
    assert_eq!(reply.header("retry-after"), Some("2"));
    assert_eq!(reply.header("x-fault"), Some("yes"));
    let reply = emulator.get("/v5.0/ocr/RecognizePdf?id=abc", None);
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json()["taskStatus"], "NotExist");
}

#[test]
fn status_fault_with_a_custom_body() {
    let emulator = Emulator::instant(&["--no-auth"]);
    emulator.fault(json!({
        "path": "/v5.0/ocr/RecognizePdf", "kind": "status", "status": 200,
        "body": "{\"id\": \"x\", \"taskStatus\": ", "contentType": "application/json",
    }));
    let reply = emulator.get("/v5.0/ocr/RecognizePdf?id=x", None);
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("content-type"), Some("application/json"));
    assert_eq!(reply.text(), "{\"id\": \"x\", \"taskStatus\": ");
}

#[test]
fn malformed_fault_sends_invalid_json() {
    let emulator = Emulator::instant(&["--no-auth"]);
    emulator.fault(json!({"path": "/v5.0/ocr/RecognizePdf", "kind": "malformed"}));
    let reply = emulator.get("/v5.0/ocr/RecognizePdf?id=x", None);
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("content-type"), Some("application/json"));
    assert!(reply.text().starts_with("{\"id\":"), "{}", reply.text());
    assert!(serde_json::from_slice::<Value>(&reply.body).is_err());
}

#[test]
fn delay_fault_waits_then_answers() {
    let emulator = Emulator::instant(&["--no-auth"]);
    emulator.fault(json!({"path": "/v5.0/ocr/RecognizePdf", "kind": "delay", "ms": 300}));
    let started = Instant::now();
    let reply = emulator.get("/v5.0/ocr/RecognizePdf?id=x", None);
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(reply.json()["taskStatus"], "NotExist");
}

#[test]
fn truncate_fault_cuts_the_body_and_closes() {
    let emulator = Emulator::instant(&["--no-auth"]);
    let id = fixture(&emulator);
    let path = format!("/v5.0/ocr/RecognizePdf?id={id}");
    let full = emulator.get(&path, None).body;
    emulator.fault(json!([
        {"path": "/v5.0/ocr/RecognizePdf", "kind": "truncate", "bytes": 10},
        {"path": "/v5.0/ocr/RecognizePdf", "kind": "truncate"},
    ]));
    for kept in [10, full.len() / 2] {
        let (head, body) = split(&emulator.raw(&raw_get(&path)));
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        assert!(
            head.contains(&format!("content-length: {}", full.len())),
            "{head}"
        );
        assert_eq!(body, full[..kept]);
    }
    emulator.fault(json!({"path": "/v5.0/ocr/RecognizePdf", "kind": "truncate"}));
    let mut response = agent().get(emulator.url(&path)).call().unwrap();
    assert!(
        response.body_mut().read_to_vec().is_err(),
        "a client notices the cut"
    );
}

#[test]
fn drop_fault_closes_without_any_answer() {
    let emulator = Emulator::instant(&["--no-auth"]);
    let id = fixture(&emulator);
    let path = format!("/v5.0/ocr/RecognizePdf?id={id}");
    emulator.fault(json!({"path": "*", "kind": "drop", "count": 2}));
    assert_eq!(emulator.raw(&raw_get(&path)), b"");
    assert!(agent().get(emulator.url(&path)).call().is_err());
    assert_eq!(emulator.get(&path, None).status, 200);
}

#[test]
fn faults_apply_in_fifo_order_with_counts_methods_and_exact_paths() {
    let emulator = Emulator::instant(&["--no-auth"]);
    emulator.fault(json!([
        {"path": "/v5.0/ocr/RecognizePdf", "kind": "status", "status": 502, "count": 2},
        {"path": "*", "kind": "status", "status": 503},
        {"path": "/V5.0/OCR/RECOGNIZEPDF", "method": "delete", "kind": "status", "status": 504},
    ]));
    let steps = [
        ("DELETE", "/v5.0/ocr/RecognizePdf?id=1", 502),
        ("GET", "/v5.0/ocr/recognizepdf?id=1", 502),
        ("DELETE", "/v5.0/ocr/RecognizePdf?id=1", 503),
        ("GET", "/v5.0/ocr/RecognizePdf?id=1", 200),
        ("DELETE", "/v5.0/RecognizePdf?id=1", 200),
        ("DELETE", "/v5.0/ocr/RecognizePdf/extra?id=1", 404),
        ("DELETE", "/v5.0/ocr/RecognizePdf", 504),
        ("DELETE", "/v5.0/ocr/RecognizePdf?id=1", 200),
    ];
    for (method, path, status) in steps {
        assert_eq!(
            emulator.send(method, path, None, &[], None).status,
            status,
            "{method} {path}"
        );
    }
}

#[test]
fn star_faults_hit_the_token_endpoint_but_not_controls() {
    let emulator = Emulator::start(&[]);
    emulator.fault(json!({"path": "*", "kind": "status", "status": 429, "retryAfter": "1"}));
    assert_eq!(emulator.stats()["requests"], 0);
    let reply = emulator.post_form(
        "grant_type=client_credentials&client_id=demo&client_secret=demo-secret",
        &[],
    );
    reply.problem(429);
    assert_eq!(reply.header("retry-after"), Some("1"));
    emulator.token();
    let stats = emulator.stats();
    assert_eq!(stats["token_requests"], 2, "faulted requests still count");
    assert_eq!(stats["requests"], 2);
}

#[test]
fn invalid_fault_specs_are_rejected() {
    let emulator = Emulator::instant(&[]);
    for spec in [
        json!({"path": "*", "kind": "explode"}),
        json!({"kind": "drop"}),
        json!({"path": "*", "kind": "status"}),
        json!({"path": "*", "kind": "status", "status": 503, "retry_after": "1"}),
        json!({"path": "*", "kind": "status", "status": 503, "headers": {"bad header": "x"}}),
        json!({"path": "*", "kind": "delay", "ms": 5, "count": 0}),
        json!([{"path": "*", "kind": "drop"}, {"path": "*"}]),
        json!("drop"),
    ] {
        emulator.control("faults", &spec).problem(400);
    }
    let reply = emulator.post_raw("/_emulator/faults", None, b"{".to_vec());
    reply.problem(400);
    // Nothing of the rejected batches was queued.
    assert_eq!(
        emulator
            .get("/v5.0/ocr/RecognizePdf?id=1", Some("x"))
            .status,
        401
    );
}
