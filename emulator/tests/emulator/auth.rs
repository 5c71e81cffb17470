//! Tokens and the bearer check.

use std::thread::sleep;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::json;

use crate::common::{Emulator, Reply, document_body};

const FORM: &str = "grant_type=client_credentials&client_id=demo&client_secret=demo-secret";

fn assert_token(reply: &Reply, ttl: u64) -> String {
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.header("content-type"), Some("application/json"));
    let body = reply.json();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], ttl);
    let token = body["access_token"].as_str().unwrap();
    assert!(token.len() >= 32);
    token.to_owned()
}

fn assert_unauthorized(reply: &Reply, token: Option<&str>) {
    assert_eq!(reply.header("www-authenticate"), Some("Bearer"));
    reply.problem(401);
    if let Some(token) = token {
        assert!(!reply.text().contains(token), "the token is echoed");
    }
}

/// A call that needs a token.
fn recognize(emulator: &Emulator, token: Option<&str>) -> Reply {
    emulator.post_json(
        "/v5.0/ocr/RecognizeImage",
        token,
        &document_body(b"image", "Text"),
    )
}

#[test]
fn token_from_form_fields() {
    let emulator = Emulator::start(&[]);
    let token = assert_token(&emulator.post_form(FORM, &[]), 3600);
    assert_eq!(recognize(&emulator, Some(&token)).status, 200);
    assert_eq!(emulator.stats()["token_requests"], 1);
}

#[test]
fn token_from_basic_credentials() {
    let emulator = Emulator::start(&["--client-id", "my id", "--client-secret", "s3cret:+%"]);
    // RFC 6749: each part is form-urlencoded before the Basic encoding.
    let basic = format!("Basic {}", STANDARD.encode("my+id:s3cret%3A%2B%25"));
    let reply = emulator.post_form(
        "grant_type=client_credentials",
        &[("authorization", &basic)],
    );
    let token = assert_token(&reply, 3600);
    assert_eq!(recognize(&emulator, Some(&token)).status, 200);
}

#[test]
fn token_from_multipart_form() {
    let emulator = Emulator::start(&["--token-ttl-s", "60"]);
    let body = [
        ("grant_type", "client_credentials"),
        ("client_id", "demo"),
        ("client_secret", "demo-secret"),
    ]
    .iter()
    .map(|(name, value)| {
        format!("--XyZ\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n")
    })
    .collect::<String>()
        + "--XyZ--\r\n";
    let reply = emulator.send(
        "POST",
        "/connect/token",
        None,
        &[],
        Some(("multipart/form-data; boundary=XyZ", body.into_bytes())),
    );
    assert_token(&reply, 60);
}

#[test]
fn wrong_credentials_are_invalid_client() {
    let emulator = Emulator::start(&[]);
    let wrong_secret = "grant_type=client_credentials&client_id=demo&client_secret=nope";
    let basic = format!("Basic {}", STANDARD.encode("demo:nope"));
    for reply in [
        emulator.post_form(wrong_secret, &[]),
        emulator.post_form("grant_type=client_credentials", &[]),
        emulator.post_form(
            "grant_type=client_credentials",
            &[("authorization", &basic)],
        ),
    ] {
        let body = reply.problem(401);
        assert_eq!(body["title"], "Unauthorized");
        assert_eq!(body["error"], "invalid_client");
        assert!(!reply.text().contains("demo-secret"));
    }
}

#[test]
fn grant_type_must_be_client_credentials() {
    let emulator = Emulator::start(&[]);
    let reply = emulator.post_form(
        "grant_type=password&client_id=demo&client_secret=demo-secret",
        &[],
    );
    assert_eq!(reply.problem(400)["error"], "unsupported_grant_type");
    let reply = emulator.post_form("client_id=demo&client_secret=demo-secret", &[]);
    assert_eq!(reply.problem(400)["error"], "invalid_request");
    let reply = emulator.send(
        "POST",
        "/connect/token",
        None,
        &[],
        Some(("text/plain", FORM.into())),
    );
    assert_eq!(reply.problem(400)["error"], "invalid_request");
}

#[test]
fn tokens_expire_after_their_ttl() {
    let emulator = Emulator::start(&["--token-ttl-s", "1"]);
    let token = assert_token(&emulator.post_form(FORM, &[]), 1);
    assert_eq!(recognize(&emulator, Some(&token)).status, 200);
    sleep(Duration::from_millis(1100));
    assert_unauthorized(&recognize(&emulator, Some(&token)), Some(&token));
    let fresh = emulator.token();
    assert_eq!(recognize(&emulator, Some(&fresh)).status, 200);
}

#[test]
fn expire_control_expires_every_token() {
    let emulator = Emulator::start(&[]);
    let first = emulator.token();
    let second = emulator.token();
    let reply = emulator.control("tokens/expire", &json!({}));
    assert_eq!(reply.status, 204);
    for token in [&first, &second] {
        assert_unauthorized(&recognize(&emulator, Some(token)), Some(token));
    }
    assert_eq!(recognize(&emulator, Some(&emulator.token())).status, 200);
}

#[test]
fn api_calls_need_a_valid_bearer_token() {
    let emulator = Emulator::instant(&[]);
    let token = emulator.token();
    let id = emulator.submit("RecognizeImage", Some(&token), &document_body(b"x", "Text"));
    let paths = [
        format!("/v5.0/ocr/RecognizeImage?id={id}"),
        format!("/v5.0/ocr/Utilities/GetTaskStatus?id={id}"),
    ];
    for wrong in [None, Some("not-a-token")] {
        assert_unauthorized(&recognize(&emulator, wrong), wrong);
        for path in &paths {
            assert_unauthorized(&emulator.get(path, wrong), wrong);
        }
        assert_unauthorized(&emulator.delete(&paths[0], wrong), wrong);
    }
    let basic = emulator.send(
        "GET",
        &paths[0],
        None,
        &[("authorization", "Basic ZGVtbzpkZW1vLXNlY3JldA==")],
        None,
    );
    assert_unauthorized(&basic, None);
    let lower_case_scheme = emulator.send(
        "GET",
        &paths[0],
        None,
        &[("authorization", &format!("bearer {token}"))],
        None,
    );
    assert_eq!(lower_case_scheme.status, 200);
}

#[test]
fn trial_operations_need_no_token() {
    let emulator = Emulator::instant(&[]);
    let id = emulator.submit("RecognizeImageTrial", None, &document_body(b"png", "Text"));
    assert_eq!(
        emulator.fetch("RecognizeImageTrial", &id, None)["taskStatus"],
        "Completed"
    );
    let body = json!({"text": "hi", "settings": {"language": "English", "resultType": "Wav"}});
    let id = emulator.submit("ConvertTextToSpeechTrial", None, &body);
    assert_eq!(
        emulator.fetch("ConvertTextToSpeechTrial", &id, None)["taskStatus"],
        "Completed"
    );
    assert_eq!(recognize(&emulator, None).status, 401);
}

#[test]
fn no_auth_accepts_calls_without_token() {
    let emulator = Emulator::instant(&["--no-auth"]);
    let id = emulator.submit("RecognizePdf", None, &document_body(b"%PDF-1.4", "Pdf"));
    assert_eq!(
        emulator.fetch("RecognizePdf", &id, None)["taskStatus"],
        "Completed"
    );
    assert_eq!(
        emulator.status(&id, Some("anything"))["taskStatus"],
        "Completed"
    );
    assert_eq!(
        emulator
            .delete(&format!("/v5.0/ocr/RecognizePdf?id={id}"), None)
            .status,
        200
    );
}
