//! The core C contract, exercised through the C ABI against the emulator.

mod common;

use common::*;
use ocrcloud::ffi::*;
use serde_json::json;
use std::ffi::c_char;
use std::time::{Duration, Instant};

fn fast_emulator() -> Emulator {
    Emulator::start(&["--pending-ms", "100", "--processing-ms", "100"])
}

#[test]
fn version_and_code_names() {
    assert_eq!(text(ocr_version()).unwrap(), env!("CARGO_PKG_VERSION"));
    assert_eq!(name(OCR_OK), "OCR_OK");
    assert_eq!(name(OCR_ERR_TIMEOUT), "OCR_ERR_TIMEOUT");
    assert_eq!(name(OCR_ERR_INTERNAL), "OCR_ERR_INTERNAL");
    assert_eq!(name(99), "OCR_ERR_UNKNOWN");
    assert_eq!(name(-1), "OCR_ERR_UNKNOWN");
}

#[test]
fn fetch_answers_every_status_as_information() {
    let emulator = fast_emulator();
    let client = Client::demo(&emulator);
    let done = emulator.fixture(json!({"results": [
        {"type": "Text", "text": "héllo\n"},
        {"type": "Pdf", "generate": {"bytes": 1000}}
    ]}));
    let result = client.fetch(None, &done).unwrap();
    assert_eq!(result.status(), OCR_TASK_COMPLETED);
    assert_eq!(result.status_text(), "Completed");
    assert_eq!(result.id(), done);
    assert_eq!(result.response_status(), "Ok");
    assert_eq!(result.count(), 2);
    assert_eq!(result.kind(0).unwrap(), "Text");
    assert_eq!(result.data(0).unwrap(), "héllo\n".as_bytes());
    assert_eq!(result.kind(1).unwrap(), "Pdf");
    let expected: Vec<u8> = (0..1000u32).map(|i| (i % 251) as u8).collect();
    assert_eq!(result.data(1).unwrap(), expected);
    assert_eq!(result.kind(2), None);
    assert_eq!(result.data(2), None);

    let pending = emulator.fixture(json!({"taskStatus": "Pending"}));
    let result = client.fetch(None, &pending).unwrap();
    assert_eq!(result.status(), OCR_TASK_PENDING);
    assert_eq!(result.response_status(), "NotReady");
    assert_eq!(result.count(), 0);

    let processing = emulator.fixture(json!({"taskStatus": "Processing"}));
    assert_eq!(
        client.fetch(None, &processing).unwrap().status(),
        OCR_TASK_PROCESSING
    );

    let failed = emulator.fixture(json!({
        "taskStatus": "Error",
        "error": {"messages": ["page 1 is blank", "no text"], "warnings": ["low resolution"]}
    }));
    let result = client.fetch(None, &failed).unwrap();
    assert_eq!(result.status(), OCR_TASK_ERROR);
    assert_eq!(result.messages(), ["page 1 is blank", "no text"]);
    assert_eq!(result.warnings(), ["low resolution"]);
    assert_eq!(unsafe { ocr_result_message(result.0, 2) }, std::ptr::null());

    let missing = client.fetch(None, "no-such-task").unwrap();
    assert_eq!(missing.status(), OCR_TASK_NOT_EXIST);
    assert_eq!(missing.id(), "no-such-task");

    let queued = emulator.fixture(json!({"taskStatus": "Queued"}));
    let result = client.fetch(None, &queued).unwrap();
    assert_eq!(result.status(), OCR_TASK_UNKNOWN);
    assert_eq!(result.status_text(), "Queued");
}

#[test]
fn task_ids_are_percent_encoded() {
    let emulator = fast_emulator();
    let client = Client::demo(&emulator);
    for id in [
        "a b/c?d&e=f#g",
        "TTS+plus%25",
        "db03b9ea-3eed-4954-a1d4-b2712773bbe",
        "ünï",
    ] {
        emulator.fixture(json!({"id": id, "results": [{"type": "Text", "text": id}]}));
        let result = client.fetch(None, id).unwrap();
        assert_eq!(result.id(), id);
        assert_eq!(result.data(0).unwrap(), id.as_bytes());
    }
}

#[test]
fn submit_then_poll_returns_the_documents_results_with_progress() {
    let emulator = fast_emulator();
    let client = Client::demo(&emulator);
    let pdf = sample_pdf();
    let id = client
        .submit(
            Some("RecognizePdf"),
            &pdf,
            Some(r#"{"language":"English","resultType":"TextAndPdf"}"#),
        )
        .unwrap();
    let options = Options::fast(30, 10_000);
    let reports = Reports::default();
    options.report_to(&reports);
    let result = client.poll(None, &id, Some(&options)).unwrap();
    assert_eq!(result.status(), OCR_TASK_COMPLETED);
    assert_eq!(result.kind(0).unwrap(), "Text");
    let text = String::from_utf8(result.data(0).unwrap()).unwrap();
    assert!(text.contains("Hello from ocrcloud!"), "{text}");
    assert_eq!(result.kind(1).unwrap(), "Pdf");
    assert_eq!(result.data(1).unwrap(), pdf);

    let reports = reports.into_inner().unwrap();
    assert!(
        reports.len() >= 3,
        "Pending, Processing and Completed were seen: {reports:?}"
    );
    for (n, (task, _, attempt)) in reports.iter().enumerate() {
        assert_eq!(task, &id);
        assert_eq!(*attempt as usize, n + 1);
    }
    assert_eq!(reports[0].1, OCR_TASK_PENDING);
    assert!(reports.iter().any(|r| r.1 == OCR_TASK_PROCESSING));
    assert_eq!(reports.last().unwrap().1, OCR_TASK_COMPLETED);
    assert_eq!(emulator.task(&id)["polls"], reports.len());
}

#[test]
fn submit_sends_the_documented_body() {
    let emulator = fast_emulator();
    let client = Client::demo(&emulator);
    let id = client.submit(None, b"%PDF-1.4 tiny", None).unwrap();
    let request = &emulator.task(&id)["request"];
    assert_eq!(request["image"], "JVBERi0xLjQgdGlueQ==");
    assert_eq!(request["settings"]["resultType"], "Pdf");
    assert_eq!(request["settings"]["language"], "English");
    assert_eq!(request["settings"]["dsrMode"], "Regions");
    assert_eq!(emulator.task(&id)["operation"], "RecognizePdf");
}

#[test]
fn submit_refuses_bad_operations_and_settings_before_sending() {
    let emulator = fast_emulator();
    let client = Client::demo(&emulator);
    assert_eq!(
        client.submit(Some("RecognizeEverything"), b"x", None),
        Err(OCR_ERR_INVALID_ARGUMENT)
    );
    assert!(
        last_error().contains("RecognizeEverything"),
        "{}",
        last_error()
    );
    for bad in ["[1]", "{", "\"Pdf\"", "{\"resultType\": }"] {
        assert_eq!(
            client.submit(None, b"x", Some(bad)),
            Err(OCR_ERR_INVALID_ARGUMENT)
        );
        assert!(last_error().contains("settings_json"), "{}", last_error());
    }
    let mut id: *mut c_char = std::ptr::null_mut();
    assert_code(
        unsafe {
            ocr_submit(
                client.0,
                std::ptr::null(),
                std::ptr::null(),
                5,
                std::ptr::null(),
                &mut id,
            )
        },
        OCR_ERR_INVALID_ARGUMENT,
    );
    assert_eq!(emulator.stats()["requests"], 0);
}

#[test]
fn poll_maps_final_statuses_to_codes() {
    let emulator = fast_emulator();
    let client = Client::demo(&emulator);
    let options = Options::fast(20, 10_000);

    let failed = emulator.fixture(json!({
        "taskStatus": "Error", "error": {"messages": ["the scan is unreadable"]}
    }));
    assert_eq!(
        client.poll(None, &failed, Some(&options)).err(),
        Some(OCR_ERR_TASK_FAILED)
    );
    assert!(
        last_error().contains("the scan is unreadable"),
        "{}",
        last_error()
    );
    assert!(last_error().contains(&failed), "{}", last_error());

    let submitted_not_pdf = client.submit(None, b"GIF89a not a pdf", None).unwrap();
    assert_eq!(
        client.poll(None, &submitted_not_pdf, Some(&options)).err(),
        Some(OCR_ERR_TASK_FAILED)
    );

    assert_eq!(
        client.poll(None, "never-existed", Some(&options)).err(),
        Some(OCR_ERR_TASK_NOT_FOUND)
    );
    assert!(last_error().contains("never-existed"), "{}", last_error());
}

#[test]
fn max_attempts_sends_exactly_that_many_requests() {
    let emulator = fast_emulator();
    let client = Client::demo(&emulator);
    let pending = emulator.fixture(json!({"taskStatus": "Pending"}));
    let options = Options::fast(10, 0);
    assert_code(
        unsafe { ocr_poll_options_set_max_attempts(options.0, 4) },
        OCR_OK,
    );
    assert_eq!(
        client.poll(None, &pending, Some(&options)).err(),
        Some(OCR_ERR_NOT_READY)
    );
    assert!(last_error().contains("4 attempts"), "{}", last_error());
    assert_eq!(emulator.task(&pending)["polls"], 4);
}

#[test]
fn waits_follow_the_backoff_policy() {
    let emulator = fast_emulator();
    let client = Client::demo(&emulator);
    let pending = emulator.fixture(json!({"taskStatus": "Pending"}));
    let options = Options(ocr_poll_options_new());
    assert_code(
        unsafe { ocr_poll_options_set_interval_ms(options.0, 100) },
        OCR_OK,
    );
    assert_code(
        unsafe { ocr_poll_options_set_backoff(options.0, 2.0, 300) },
        OCR_OK,
    );
    assert_code(
        unsafe { ocr_poll_options_set_max_attempts(options.0, 5) },
        OCR_OK,
    );
    let started = Instant::now();
    assert_eq!(
        client.poll(None, &pending, Some(&options)).err(),
        Some(OCR_ERR_NOT_READY)
    );
    // Four waits: 100 + 200 + 300 + 300 ms.
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(emulator.task(&pending)["polls"], 5);
}

#[test]
fn the_deadline_ends_a_poll_without_waiting_past_it() {
    let emulator = fast_emulator();
    let client = Client::demo(&emulator);
    let pending = emulator.fixture(json!({"taskStatus": "Pending"}));
    let options = Options::fast(200, 700);
    let started = Instant::now();
    assert_eq!(
        client.poll(None, &pending, Some(&options)).err(),
        Some(OCR_ERR_TIMEOUT)
    );
    // Never a wait past the 700 ms deadline: at most scheduling noise beyond it, less than the
    // 200 ms a further wait would take.
    assert!(
        started.elapsed() < Duration::from_millis(850),
        "{:?}",
        started.elapsed()
    );
    assert!(last_error().contains("still Pending"), "{}", last_error());

    // A server that does not answer cannot hold the poll past its deadline either.
    emulator.fault(json!({"path": "*", "method": "GET", "kind": "delay", "ms": 5000, "count": 10}));
    let options = Options::fast(50, 600);
    let started = Instant::now();
    assert_eq!(
        client.poll(None, &pending, Some(&options)).err(),
        Some(OCR_ERR_TIMEOUT)
    );
    assert!(
        started.elapsed() < Duration::from_millis(2000),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn cancel_from_another_thread_ends_a_poll_promptly() {
    let emulator = fast_emulator();
    let client = Client::demo(&emulator);
    let pending = emulator.fixture(json!({"taskStatus": "Pending"}));
    let options = Options::fast(10_000, 0);
    let cancel = ocr_cancel_new();
    assert_code(
        unsafe { ocr_poll_options_set_cancel(options.0, cancel) },
        OCR_OK,
    );
    let cancel_address = cancel as usize;
    let triggered_at = std::thread::scope(|scope| {
        let trigger = scope.spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            unsafe { ocr_cancel_trigger(cancel_address as *const ocr_cancel) };
            Instant::now()
        });
        assert_eq!(
            client.poll(None, &pending, Some(&options)).err(),
            Some(OCR_ERR_CANCELLED)
        );
        let returned_at = Instant::now();
        let triggered_at = trigger.join().unwrap();
        assert!(
            returned_at.duration_since(triggered_at) < Duration::from_millis(50),
            "{:?}",
            returned_at.duration_since(triggered_at)
        );
        triggered_at
    });
    assert!(triggered_at.elapsed() < Duration::from_secs(5));
    // A triggered token stays triggered: the next poll ends before sending anything.
    let polls = emulator.task(&pending)["polls"].as_u64().unwrap();
    assert_eq!(
        client.poll(None, &pending, Some(&options)).err(),
        Some(OCR_ERR_CANCELLED)
    );
    assert_eq!(emulator.task(&pending)["polls"], polls);
    unsafe { ocr_cancel_free(cancel) };
}

#[test]
fn credentials_give_one_token_shared_by_threads_and_refreshed_after_expiry() {
    let emulator = fast_emulator();
    let client = Client::demo(&emulator);
    let done = emulator.fixture(json!({"results": [{"type": "Text", "text": "x"}]}));
    std::thread::scope(|scope| {
        for _ in 0..16 {
            scope.spawn(|| {
                assert_eq!(
                    client.fetch(None, &done).unwrap().status(),
                    OCR_TASK_COMPLETED
                )
            });
        }
    });
    assert_eq!(emulator.stats()["token_requests"], 1);

    emulator.control("POST", "/_emulator/tokens/expire", None);
    assert_eq!(
        client.fetch(None, &done).unwrap().status(),
        OCR_TASK_COMPLETED
    );
    assert_eq!(emulator.stats()["token_requests"], 2);
    assert_eq!(emulator.count("GET /v5.0/ocr/RecognizePdf"), 18);
}

#[test]
fn a_token_is_replaced_shortly_before_it_expires() {
    let emulator = Emulator::start(&["--token-ttl-s", "1"]);
    let client = Client::demo(&emulator);
    let done = emulator.fixture(json!({"results": [{"type": "Text", "text": "x"}]}));
    client.fetch(None, &done).unwrap();
    std::thread::sleep(Duration::from_millis(1000));
    client.fetch(None, &done).unwrap();
    assert_eq!(emulator.stats()["token_requests"], 2);
    // Replaced before expiry, so no request was refused and re-sent.
    assert_eq!(emulator.count("GET /v5.0/ocr/RecognizePdf"), 2);
}

#[test]
fn refused_credentials_and_tokens_are_unauthorized() {
    let emulator = fast_emulator();
    let done = emulator.fixture(json!({"results": [{"type": "Text", "text": "x"}]}));
    let wrong = Client::with_credentials(&emulator.url, "demo", "not-the-secret");
    assert_eq!(wrong.fetch(None, &done).err(), Some(OCR_ERR_UNAUTHORIZED));
    assert!(last_error().contains("token"), "{}", last_error());
    assert!(!last_error().contains("not-the-secret"), "{}", last_error());

    let bad_token = Client::with_token(&emulator.url, Some("made-up-token-123"));
    assert_eq!(
        bad_token.fetch(None, &done).err(),
        Some(OCR_ERR_UNAUTHORIZED)
    );
    assert!(last_error().contains("401"), "{}", last_error());
    // A fixed token cannot be refreshed: one request only.
    assert_eq!(emulator.count("GET /v5.0/ocr/RecognizePdf"), 1);

    let no_token = Client::with_token(&emulator.url, None);
    assert_eq!(
        no_token.fetch(None, &done).err(),
        Some(OCR_ERR_UNAUTHORIZED)
    );

    // 401 that survives a refresh: one refresh, then failure.
    let client = Client::demo(&emulator);
    emulator.fault(
        json!({"path": "/v5.0/ocr/RecognizePdf", "kind": "status", "status": 401, "count": 5}),
    );
    let tokens_before = emulator.stats()["token_requests"].as_u64().unwrap();
    assert_eq!(client.fetch(None, &done).err(), Some(OCR_ERR_UNAUTHORIZED));
    assert_eq!(
        emulator.stats()["token_requests"].as_u64().unwrap() - tokens_before,
        2
    );
}

#[test]
fn trial_operations_need_no_token() {
    let emulator = fast_emulator();
    let client = Client::with_token(&emulator.url, None);
    let id = client
        .submit(Some("RecognizeImageTrial"), b"\x89PNG fake", None)
        .unwrap();
    let result = client
        .poll(
            Some("recognizeimagetrial"),
            &id,
            Some(&Options::fast(30, 10_000)),
        )
        .unwrap();
    assert_eq!(result.kind(0).unwrap(), "Text");
    assert_eq!(emulator.stats()["token_requests"], 0);
}

#[test]
fn transient_failures_are_retried_with_backoff() {
    let emulator = fast_emulator();
    let client = Client::demo(&emulator);
    let done =
        emulator.fixture(json!({"results": [{"type": "Pdf", "generate": {"bytes": 100000}}]}));
    let route = "GET /v5.0/ocr/RecognizePdf";

    emulator.fault(json!([
        {"path": "/v5.0/ocr/RecognizePdf", "kind": "status", "status": 503},
        {"path": "/v5.0/ocr/RecognizePdf", "kind": "drop"}
    ]));
    assert_eq!(
        client.fetch(None, &done).unwrap().data(0).unwrap().len(),
        100_000
    );
    assert_eq!(emulator.count(route), 3);

    emulator.fault(json!({"path": "/v5.0/ocr/RecognizePdf", "kind": "truncate", "bytes": 5000}));
    assert_eq!(
        client.fetch(None, &done).unwrap().data(0).unwrap().len(),
        100_000
    );
    assert_eq!(emulator.count(route), 5);

    // With none of this client's requests answered in the second before, nothing tells when
    // the server has room: the whole Retry-After holds. (After requests it accepted, a
    // `Retry-After: 1` waits only until their second is over: src/flow.rs tests that.)
    std::thread::sleep(Duration::from_millis(1100));
    emulator.fault(json!({"path": "/v5.0/ocr/RecognizePdf", "kind": "status", "status": 429, "retryAfter": "1"}));
    let started = Instant::now();
    client.fetch(None, &done).unwrap();
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After was honoured"
    );

    emulator.fault(
        json!({"path": "/v5.0/ocr/RecognizePdf", "kind": "status", "status": 502, "count": 3}),
    );
    assert_eq!(client.fetch(None, &done).err(), Some(OCR_ERR_HTTP));
    assert!(last_error().contains("502"), "{}", last_error());
    assert!(
        last_error().contains("/v5.0/ocr/RecognizePdf?id="),
        "{}",
        last_error()
    );

    emulator.fault(json!({"path": "/v5.0/ocr/RecognizePdf", "kind": "status", "status": 500}));
    let before = emulator.count(route);
    assert_eq!(client.fetch(None, &done).err(), Some(OCR_ERR_HTTP));
    assert_eq!(emulator.count(route) - before, 1, "500 is not retried");

    assert_code(unsafe { ocr_client_set_max_attempts(client.0, 1) }, OCR_OK);
    emulator.fault(json!({"path": "/v5.0/ocr/RecognizePdf", "kind": "drop"}));
    assert_eq!(client.fetch(None, &done).err(), Some(OCR_ERR_NETWORK));
}

#[test]
fn a_poll_keeps_going_through_transient_failures() {
    let emulator = fast_emulator();
    let client = Client::demo(&emulator);
    let id = client.submit(None, &sample_pdf(), None).unwrap();
    emulator.fault(json!({"path": "/v5.0/ocr/RecognizePdf", "method": "GET", "kind": "status", "status": 503, "count": 4}));
    let result = client
        .poll(None, &id, Some(&Options::fast(20, 20_000)))
        .unwrap();
    assert_eq!(result.data(0).unwrap(), sample_pdf());
}

#[test]
fn malformed_answers_are_protocol_errors() {
    let emulator = fast_emulator();
    let client = Client::demo(&emulator);
    let done = emulator.fixture(json!({"results": [{"type": "Text", "text": "x"}]}));
    emulator.fault(json!({"path": "/v5.0/ocr/RecognizePdf", "kind": "malformed"}));
    assert_eq!(client.fetch(None, &done).err(), Some(OCR_ERR_PROTOCOL));
    emulator.fault(json!({
        "path": "/v5.0/ocr/RecognizePdf", "kind": "status", "status": 200,
        "body": "<html>maintenance</html>", "contentType": "text/html"
    }));
    assert_eq!(client.fetch(None, &done).err(), Some(OCR_ERR_PROTOCOL));
    assert!(last_error().contains("text/html"), "{}", last_error());
    assert!(
        last_error().contains("<html>maintenance"),
        "{}",
        last_error()
    );

    let bad_base64 = emulator.fixture(json!({"results": [{"type": "Pdf", "data": "JVBER!0x"}]}));
    assert_eq!(client.fetch(None, &bad_base64).err(), Some(OCR_ERR_DECODE));
    assert!(last_error().contains("results[0].data"), "{}", last_error());
}

#[test]
fn answers_over_the_size_limit_are_refused_without_reading_them() {
    let emulator = fast_emulator();
    let client = Client::demo(&emulator);
    let big =
        emulator.fixture(json!({"results": [{"type": "Pdf", "generate": {"bytes": 1_000_000}}]}));
    assert_code(
        unsafe { ocr_client_set_max_response_bytes(client.0, 100_000) },
        OCR_OK,
    );
    assert_eq!(client.fetch(None, &big).err(), Some(OCR_ERR_TOO_LARGE));
    assert!(last_error().contains("100000"), "{}", last_error());
    assert_code(
        unsafe { ocr_client_set_max_response_bytes(client.0, 2_000_000) },
        OCR_OK,
    );
    assert_eq!(
        client.fetch(None, &big).unwrap().data(0).unwrap().len(),
        1_000_000
    );
    assert_code(
        unsafe { ocr_client_set_max_response_bytes(client.0, 0) },
        OCR_ERR_INVALID_ARGUMENT,
    );
}

#[test]
fn messages_never_contain_tokens_or_secrets() {
    let emulator = fast_emulator();
    let secret = "top-secret-value-42";
    let token = "leaky-token-value-99";
    let done = emulator.fixture(json!({"results": [{"type": "Text", "text": "x"}]}));
    let mut messages = Vec::new();

    let with_token = Client::with_token(&emulator.url, Some(token));
    emulator.fault(json!({
        "path": "*", "kind": "status", "status": 400,
        "body": format!("{{\"detail\": \"bad token {token}\"}}"), "contentType": "application/json"
    }));
    assert_eq!(with_token.fetch(None, &done).err(), Some(OCR_ERR_HTTP));
    messages.push(last_error());

    let with_secret = Client::with_credentials(&emulator.url, "demo", secret);
    emulator.fault(json!({
        "path": "/connect/token", "kind": "status", "status": 401,
        "body": format!("{{\"detail\": \"wrong secret {secret}\"}}"), "contentType": "application/json"
    }));
    assert_eq!(
        with_secret.fetch(None, &done).err(),
        Some(OCR_ERR_UNAUTHORIZED)
    );
    messages.push(last_error());
    assert_eq!(
        with_secret.fetch(None, &done).err(),
        Some(OCR_ERR_UNAUTHORIZED)
    );
    messages.push(last_error());

    for message in &messages {
        assert!(!message.is_empty());
        assert!(!message.contains(secret), "{message}");
        assert!(!message.contains(token), "{message}");
    }
    assert!(messages[0].contains("[redacted]"), "{}", messages[0]);
}

#[test]
fn unsendable_arguments_are_refused_before_any_request() {
    let emulator = fast_emulator();
    let client = Client::demo(&emulator);
    for id in ["", "a\r\nHost: evil", "a\nb", "tab\there"] {
        assert_eq!(
            client.fetch(None, id).err(),
            Some(OCR_ERR_INVALID_ARGUMENT),
            "{id:?}"
        );
        assert!(last_error().contains("task id"), "{}", last_error());
    }
    let mut out = std::ptr::null_mut();
    for (token, id) in [("tok\r\nen", "x"), ("", "x")] {
        assert_code(
            unsafe { ocr_client_new(c(&emulator.url).as_ptr(), c(token).as_ptr(), &mut out) },
            OCR_ERR_INVALID_ARGUMENT,
        );
        assert_code(
            unsafe {
                ocr_client_new_with_credentials(
                    c(&emulator.url).as_ptr(),
                    c(id).as_ptr(),
                    c(token).as_ptr(),
                    &mut out,
                )
            },
            OCR_ERR_INVALID_ARGUMENT,
        );
    }
    assert!(out.is_null());
    let not_utf8 = b"\xff\xfe\0";
    let mut result = std::ptr::null_mut();
    assert_code(
        unsafe { ocr_fetch_result(client.0, not_utf8.as_ptr().cast(), &mut result) },
        OCR_ERR_INVALID_ARGUMENT,
    );
    assert!(last_error().contains("UTF-8"), "{}", last_error());
    assert_code(
        unsafe { ocr_fetch_result_for(client.0, c("Nope").as_ptr(), c("x").as_ptr(), &mut result) },
        OCR_ERR_INVALID_ARGUMENT,
    );
    assert_eq!(emulator.stats()["requests"], 0);
}

#[test]
fn null_pointers_are_errors_never_crashes() {
    let emulator = fast_emulator();
    let client = Client::demo(&emulator);
    let null = std::ptr::null();
    let mut result = std::ptr::null_mut();
    assert_code(
        unsafe { ocr_fetch_result(std::ptr::null(), c("x").as_ptr(), &mut result) },
        OCR_ERR_INVALID_ARGUMENT,
    );
    assert_code(
        unsafe { ocr_fetch_result(client.0, null, &mut result) },
        OCR_ERR_INVALID_ARGUMENT,
    );
    assert_code(
        unsafe { ocr_fetch_result(client.0, c("x").as_ptr(), std::ptr::null_mut()) },
        OCR_ERR_INVALID_ARGUMENT,
    );
    assert_code(
        unsafe { ocr_poll_until_done(client.0, null, std::ptr::null(), &mut result) },
        OCR_ERR_INVALID_ARGUMENT,
    );
    assert_code(
        unsafe { ocr_client_new(null, null, std::ptr::null_mut()) },
        OCR_ERR_INVALID_ARGUMENT,
    );
    assert_code(
        unsafe {
            ocr_client_new_with_credentials(null, null, c("s").as_ptr(), &mut std::ptr::null_mut())
        },
        OCR_ERR_INVALID_ARGUMENT,
    );
    assert_code(
        unsafe { ocr_client_set_user_agent(std::ptr::null_mut(), c("x").as_ptr()) },
        OCR_ERR_INVALID_ARGUMENT,
    );
    assert_code(
        unsafe { ocr_client_set_user_agent(client.0, null) },
        OCR_ERR_INVALID_ARGUMENT,
    );
    assert_code(
        unsafe { ocr_client_set_request_timeout_ms(client.0, 0) },
        OCR_ERR_INVALID_ARGUMENT,
    );
    assert_code(
        unsafe { ocr_result_save(std::ptr::null(), 0, c("/tmp/x").as_ptr()) },
        OCR_ERR_INVALID_ARGUMENT,
    );
    assert_eq!(
        unsafe { ocr_result_task_status(std::ptr::null()) },
        OCR_TASK_UNKNOWN
    );
    assert_eq!(unsafe { ocr_result_count(std::ptr::null()) }, 0);
    assert!(unsafe { ocr_result_id(std::ptr::null()) }.is_null());
    assert!(unsafe { ocr_result_type(std::ptr::null(), 0) }.is_null());
    let mut len = 7usize;
    assert!(unsafe { ocr_result_data(std::ptr::null(), 0, &mut len) }.is_null());
    assert_eq!(len, 0);
    assert!(unsafe { ocr_result_message(std::ptr::null(), 0) }.is_null());
    assert_eq!(unsafe { ocr_result_warning_count(std::ptr::null()) }, 0);
    unsafe { ocr_result_free(std::ptr::null_mut()) };
    unsafe { ocr_client_free(std::ptr::null_mut()) };
    unsafe { ocr_string_free(std::ptr::null_mut()) };
    assert_eq!(emulator.stats()["requests"], 0);
}

#[test]
fn plain_http_is_only_for_loopback_unless_allowed() {
    // A host that is not loopback (`.invalid` never resolves); nothing is sent to it.
    let client = Client::with_token("http://ocr.invalid:9", Some("token"));
    assert_eq!(
        client.fetch(None, "x").err(),
        Some(OCR_ERR_INVALID_ARGUMENT)
    );
    assert!(last_error().contains("plain http"), "{}", last_error());
    // Allowed, the request is sent: through a proxy on a loopback port that nothing listens
    // on, so that nothing leaves the machine.
    assert_code(
        unsafe { ocr_client_set_allow_insecure_http(client.0, 1) },
        OCR_OK,
    );
    let dead_proxy = format!("http://{}", closed_port());
    assert_code(
        unsafe { ocr_client_set_proxy(client.0, c(&dead_proxy).as_ptr()) },
        OCR_OK,
    );
    assert_code(unsafe { ocr_client_set_max_attempts(client.0, 1) }, OCR_OK);
    assert_eq!(client.fetch(None, "x").err(), Some(OCR_ERR_NETWORK));
    assert!(!last_error().contains("plain http"), "{}", last_error());

    let mut out = std::ptr::null_mut();
    for bad in ["ftp://x", "not a url", "https://host?q=1"] {
        assert_code(
            unsafe { ocr_client_new(c(bad).as_ptr(), std::ptr::null(), &mut out) },
            OCR_ERR_INVALID_ARGUMENT,
        );
    }
}

#[test]
fn a_dead_server_is_a_network_error() {
    let emulator = fast_emulator();
    let url = emulator.url.clone();
    drop(emulator);
    let client = Client::with_token(&url, Some("t"));
    assert_eq!(client.fetch(None, "x").err(), Some(OCR_ERR_NETWORK));
    assert!(
        last_error().contains("could not connect"),
        "{}",
        last_error()
    );
}

#[test]
fn results_are_saved_atomically() {
    let emulator = fast_emulator();
    let client = Client::demo(&emulator);
    let done = emulator.fixture(json!({"results": [{"type": "Pdf", "generate": {"bytes": 5000}}]}));
    let result = client.fetch(None, &done).unwrap();
    let dir = scratch_dir("save");
    let path = dir.join("out.pdf");
    assert_code(
        unsafe { ocr_result_save(result.0, 0, c(path.to_str().unwrap()).as_ptr()) },
        OCR_OK,
    );
    assert_eq!(std::fs::read(&path).unwrap(), result.data(0).unwrap());

    let missing = dir.join("missing/out.pdf");
    assert_code(
        unsafe { ocr_result_save(result.0, 0, c(missing.to_str().unwrap()).as_ptr()) },
        OCR_ERR_IO,
    );
    assert!(
        last_error().contains("No such file or directory"),
        "{}",
        last_error()
    );
    assert_code(
        unsafe { ocr_result_save(result.0, 1, c(path.to_str().unwrap()).as_ptr()) },
        OCR_ERR_INVALID_ARGUMENT,
    );
    assert_code(
        unsafe { ocr_result_save(result.0, 0, c("/dev/full/x").as_ptr()) },
        OCR_ERR_IO,
    );
    let names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["out.pdf"]);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn every_code_has_a_distinct_name() {
    let names: std::collections::HashSet<String> = (0..=14).map(name).collect();
    assert_eq!(names.len(), 15);
}
