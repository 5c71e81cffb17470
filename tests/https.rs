//! The core cases over HTTPS against the emulator serving TLS with a CA it made, trusted the way
//! a user trusts a private gateway: `ocr_client_set_ca_file`. Tokens, submit, fetch, poll, a
//! 64 MiB result, cancel, and connection reuse (one handshake for many polls).

mod common;

use common::*;
use ocrcloud::ffi::*;
use serde_json::json;
use std::time::{Duration, Instant};

fn trusting(emulator: &Emulator) -> Client {
    let client = Client::demo(emulator);
    let ca = emulator.ca_file.as_ref().unwrap();
    assert_code(
        unsafe { ocr_client_set_ca_file(client.0, c(ca.to_str().unwrap()).as_ptr()) },
        OCR_OK,
    );
    client
}

#[test]
fn submit_poll_and_fetch_over_https_with_a_token_from_credentials() {
    let emulator = Emulator::start_tls(&["--pending-ms", "50", "--processing-ms", "50"]);
    assert!(emulator.url.starts_with("https://"), "{}", emulator.url);
    let client = trusting(&emulator);
    let pdf = sample_pdf();
    let id = client.submit(None, &pdf, None).unwrap();
    let options = Options::fast(20, 10_000);
    let result = client.poll(None, &id, Some(&options)).unwrap();
    assert_eq!(result.status(), OCR_TASK_COMPLETED);
    assert_eq!(
        result.data(0).unwrap(),
        pdf,
        "the Pdf result is the document"
    );
    let again = client.fetch(None, &id).unwrap();
    assert_eq!(again.data(0).unwrap(), pdf);
    assert_eq!(emulator.stats()["token_requests"], 1);
}

#[test]
fn an_untrusted_emulator_is_a_tls_error() {
    let emulator = Emulator::start_tls(&[]);
    let client = Client::demo(&emulator);
    assert_code(client.fetch(None, "t").err().unwrap(), OCR_ERR_TLS);
    assert!(
        last_error().contains("signed by an unknown authority"),
        "{}",
        last_error()
    );
}

#[test]
fn a_64_mib_result_arrives_whole_over_https() {
    let emulator = Emulator::start_tls(&[]);
    let id =
        emulator.fixture(json!({"results": [{"type": "Pdf", "generate": {"bytes": 64 << 20}}]}));
    let client = trusting(&emulator);
    let result = client.fetch(None, &id).unwrap();
    let data = result.data(0).unwrap();
    assert_eq!(data.len(), 64 << 20);
    assert!(data.iter().enumerate().all(|(i, &b)| b == (i % 251) as u8));
}

#[test]
fn two_hundred_polls_over_https_use_one_handshake() {
    let emulator = Emulator::start_tls(&[]);
    let id = emulator.fixture(json!({"taskStatus": "Processing"}));
    let client = trusting(&emulator);
    // The test's own control connection made one handshake already (for the fixture).
    let before = emulator.stats()["tls_handshakes"].as_u64().unwrap();
    let options = Options::fast(1, 60_000);
    assert_code(
        unsafe { ocr_poll_options_set_max_attempts(options.0, 200) },
        OCR_OK,
    );
    assert_code(
        client.poll(None, &id, Some(&options)).err().unwrap(),
        OCR_ERR_NOT_READY,
    );
    let stats = emulator.stats();
    assert_eq!(
        stats["tls_handshakes"].as_u64().unwrap(),
        before + 1,
        "{stats}"
    );
    assert_eq!(
        stats["by_route"]["GET /v5.0/ocr/RecognizePdf"], 200,
        "{stats}"
    );
}

#[test]
fn a_poll_over_https_is_cancelled_within_milliseconds() {
    let emulator = Emulator::start_tls(&[]);
    let id = emulator.fixture(json!({"taskStatus": "Pending"}));
    let client = trusting(&emulator);
    let options = Options::fast(50, 60_000);
    let cancel = ocr_cancel_new();
    assert_code(
        unsafe { ocr_poll_options_set_cancel(options.0, cancel) },
        OCR_OK,
    );
    let trigger = cancel as usize;
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(200));
        unsafe { ocr_cancel_trigger(trigger as *const ocr_cancel) };
    });
    let started = Instant::now();
    assert_code(
        client.poll(None, &id, Some(&options)).err().unwrap(),
        OCR_ERR_CANCELLED,
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    unsafe { ocr_cancel_free(cancel) };
}
