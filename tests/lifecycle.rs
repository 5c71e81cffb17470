//! The whole task lifecycle through the C ABI: every operation, files, cancel, status, and many
//! tasks at once.

mod common;

use common::*;
use ocrcloud::ffi::*;
use serde_json::json;
use std::ffi::c_char;
use std::time::{Duration, Instant};

fn fast_emulator() -> Emulator {
    Emulator::start(&["--pending-ms", "100", "--processing-ms", "100"])
}

/// Every operation with a document it accepts and the result types the emulator answers for
/// the default settings.
const OPERATIONS: [(&str, &[u8], &[&str]); 17] = [
    ("RecognizePdf", b"%PDF-1.4 a", &["Pdf"]),
    ("RecognizeImage", b"png", &["Text"]),
    ("RecognizeReceipt", b"png", &["Text"]),
    ("RecognizeTable", b"png", &["Text"]),
    ("RecognizeRegions", b"png", &["Text"]),
    ("RecognizeLabel", b"png", &["Text"]),
    ("RecognizeAndParseInvoice", b"png", &["Text"]),
    ("DetectRegions", b"png", &["Text"]),
    ("IdentifyFont", b"png", &["Text"]),
    ("DjVu2PDF", b"AT&TFORM", &["Pdf"]),
    ("BinarizeImage", b"png", &["ImagePNG"]),
    ("DeskewImage", b"png", &["ImagePNG"]),
    ("DewarpImage", b"png", &["ImagePNG"]),
    ("UpscaleImage", b"png", &["ImagePNG"]),
    ("RecognizeImageTrial", b"png", &["Text"]),
    ("ConvertTextToSpeech", b"Hello", &["WavFile"]),
    ("ConvertTextToSpeechTrial", b"Hello", &["WavFile"]),
];

#[test]
fn every_operation_submits_its_documented_body_and_polls_to_its_results() {
    let emulator = fast_emulator();
    let client = Client::demo(&emulator);
    let options = Options::fast(30, 20_000);
    for (operation, document, kinds) in OPERATIONS {
        let id = client.submit(Some(operation), document, None).unwrap();
        let task = emulator.task(&id);
        assert_eq!(task["operation"], operation);
        let request = &task["request"];
        match operation {
            "BinarizeImage" | "DeskewImage" | "DewarpImage" | "UpscaleImage" => {
                assert_eq!(request, &json!({"image": "cG5n"}), "{operation}");
            }
            "ConvertTextToSpeech" | "ConvertTextToSpeechTrial" => {
                assert!(id.starts_with("TTS"), "{id}");
                assert_eq!(
                    request,
                    &json!({"text": "Hello", "settings": {"language": "English", "resultType": "Wav"}}),
                    "{operation}"
                );
            }
            _ => {
                let keys: Vec<&String> = request.as_object().unwrap().keys().collect();
                assert_eq!(keys, ["image", "settings"], "{operation}");
                assert_eq!(request["settings"]["language"], "English", "{operation}");
            }
        }
        let result = client.poll(Some(operation), &id, Some(&options)).unwrap();
        let got: Vec<String> = (0..result.count())
            .map(|i| result.kind(i).unwrap())
            .collect();
        assert_eq!(got, kinds, "{operation}");
        if operation == "BinarizeImage" {
            assert_eq!(result.data(0).unwrap(), b"png");
        }
    }
    assert_eq!(
        emulator.count("POST /v5.0/ocr/RecognizeTable"),
        1,
        "operations travel under /v5.0/ocr/"
    );
}

#[test]
fn a_file_is_submitted_like_its_bytes() {
    let emulator = fast_emulator();
    let client = Client::demo(&emulator);
    let dir = scratch_dir("submit-file");
    let path = dir.join("scan.pdf");
    let mut document = b"%PDF-1.4\n".to_vec();
    document.extend((0..5_000_000u32).map(|i| (i * 7 % 256) as u8));
    std::fs::write(&path, &document).unwrap();
    let id = client
        .submit_file(
            None,
            path.to_str().unwrap(),
            Some(r#"{"resultType":"Pdf"}"#),
        )
        .unwrap();
    let result = client
        .poll(None, &id, Some(&Options::fast(30, 20_000)))
        .unwrap();
    assert_eq!(result.data(0).unwrap(), document);

    let text = dir.join("speech.txt");
    std::fs::write(&text, "Read me aloud").unwrap();
    let id = client
        .submit_file(Some("ConvertTextToSpeech"), text.to_str().unwrap(), None)
        .unwrap();
    assert_eq!(emulator.task(&id)["request"]["text"], "Read me aloud");

    let before = emulator.stats()["requests"].clone();
    for unreadable in [dir.join("missing.pdf"), dir.clone()] {
        assert_eq!(
            client.submit_file(None, unreadable.to_str().unwrap(), None),
            Err(OCR_ERR_IO)
        );
        assert!(last_error().contains("cannot read"), "{}", last_error());
    }
    let mut id: *mut c_char = std::ptr::null_mut();
    assert_code(
        unsafe {
            ocr_submit_file(
                client.0,
                std::ptr::null(),
                std::ptr::null(),
                std::ptr::null(),
                &mut id,
            )
        },
        OCR_ERR_INVALID_ARGUMENT,
    );
    assert_eq!(emulator.stats()["requests"], before, "nothing was sent");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_cancelled_task_no_longer_exists() {
    let emulator = fast_emulator();
    let client = Client::demo(&emulator);
    let id = client.submit(None, &sample_pdf(), None).unwrap();
    assert_eq!(client.status(None, &id), Ok(OCR_TASK_PENDING));
    client.cancel_task(None, &id).unwrap();
    assert_eq!(
        client.fetch(None, &id).unwrap().status(),
        OCR_TASK_NOT_EXIST
    );
    assert_eq!(emulator.count("DELETE /v5.0/ocr/RecognizePdf"), 1);

    let tts = client
        .submit(Some("ConvertTextToSpeech"), b"x", None)
        .unwrap();
    client
        .cancel_task(Some("ConvertTextToSpeech"), &tts)
        .unwrap();
    assert_eq!(
        client
            .fetch(Some("ConvertTextToSpeech"), &tts)
            .unwrap()
            .status(),
        OCR_TASK_NOT_EXIST
    );
    assert_eq!(
        client.cancel_task(None, "a\nb"),
        Err(OCR_ERR_INVALID_ARGUMENT)
    );
    assert_eq!(
        client.cancel_task(Some("Nope"), "x"),
        Err(OCR_ERR_INVALID_ARGUMENT)
    );
}

#[test]
fn status_uses_the_cheap_call_and_follows_the_task() {
    let emulator = Emulator::start(&["--pending-ms", "300", "--processing-ms", "300"]);
    let client = Client::demo(&emulator);
    let id = client.submit(None, &sample_pdf(), None).unwrap();
    assert_eq!(client.status(None, &id), Ok(OCR_TASK_PENDING));
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(client.status(None, &id), Ok(OCR_TASK_PROCESSING));
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(client.status(None, &id), Ok(OCR_TASK_COMPLETED));
    assert_eq!(client.status(None, "unknown"), Ok(OCR_TASK_NOT_EXIST));
    let failed = emulator.fixture(json!({"taskStatus": "Error", "error": {"messages": ["x"]}}));
    assert_eq!(
        client.status(Some("RecognizeImage"), &failed),
        Ok(OCR_TASK_ERROR)
    );
    assert_eq!(emulator.count("GET /v5.0/ocr/Utilities/GetTaskStatus"), 5);
    assert_eq!(emulator.count("GET /v5.0/ocr/RecognizePdf"), 0);

    let mut status = 0;
    assert_code(
        unsafe {
            ocr_get_task_status(
                client.0,
                std::ptr::null(),
                c("x").as_ptr(),
                std::ptr::null_mut(),
            )
        },
        OCR_ERR_INVALID_ARGUMENT,
    );
    assert_code(
        unsafe {
            ocr_get_task_status(
                std::ptr::null(),
                std::ptr::null(),
                c("x").as_ptr(),
                &mut status,
            )
        },
        OCR_ERR_INVALID_ARGUMENT,
    );
}

#[test]
fn poll_many_gives_each_task_its_own_code_and_result() {
    let emulator = fast_emulator();
    let client = Client::demo(&emulator);
    let mut ids = Vec::new();
    let mut expected = Vec::new();
    for i in 0..200 {
        match i % 4 {
            0 => {
                ids.push(
                    emulator.fixture(
                        json!({"results": [{"type": "Text", "text": format!("task {i}")}]}),
                    ),
                );
                expected.push(OCR_OK);
            }
            1 => {
                ids.push(emulator.fixture(json!({
                    "taskStatus": "Error", "error": {"messages": [format!("task {i} failed")]},
                    "pendingMs": 50, "processingMs": 50
                })));
                expected.push(OCR_ERR_TASK_FAILED);
            }
            2 => {
                ids.push(format!("missing-{i}"));
                expected.push(OCR_ERR_TASK_NOT_FOUND);
            }
            _ => {
                ids.push(emulator.fixture(json!({
                    "results": [{"type": "Pdf", "generate": {"bytes": i * 10}}],
                    "pendingMs": 100, "processingMs": 100
                })));
                expected.push(OCR_OK);
            }
        }
    }
    let options = Options::fast(40, 30_000);
    let seen = Reports::default();
    options.report_to(&seen);
    let (code, per_task) = client.poll_many(None, &ids, Some(&options));
    assert_code(code, OCR_ERR_TASK_FAILED);
    assert!(
        last_error().contains("100 of 200 tasks"),
        "{}",
        last_error()
    );
    assert!(
        last_error().contains(&ids[1]),
        "the first failure is named: {}",
        last_error()
    );

    let seen = seen.into_inner().unwrap();
    for (i, ((code, result), id)) in per_task.iter().zip(&ids).enumerate() {
        assert_eq!(name(*code), name(expected[i]), "task {i}");
        let answers: Vec<_> = seen.iter().filter(|(task, _, _)| task == id).collect();
        for (n, (_, _, attempt)) in answers.iter().enumerate() {
            assert_eq!(*attempt as usize, n + 1, "task {i} attempts count from 1");
        }
        if i % 4 != 2 {
            assert_eq!(
                emulator.task(id)["polls"],
                answers.len(),
                "one request per answer for task {i}"
            );
        }
        match i % 4 {
            0 => {
                assert_eq!(
                    result.as_ref().unwrap().data(0).unwrap(),
                    format!("task {i}").as_bytes()
                );
                assert_eq!(answers.len(), 1, "a finished task is asked once");
            }
            3 => {
                let expected: Vec<u8> = (0..i as u32 * 10).map(|b| (b % 251) as u8).collect();
                assert_eq!(result.as_ref().unwrap().data(0).unwrap(), expected);
                assert_eq!(answers.last().unwrap().1, OCR_TASK_COMPLETED);
            }
            _ => assert!(result.is_none()),
        }
    }
}

#[test]
fn poll_many_sends_no_more_requests_than_polling_one_by_one() {
    let emulator = fast_emulator();
    let client = Client::demo(&emulator);
    let ids: Vec<String> = (0..20)
        .map(|_| emulator.fixture(json!({"taskStatus": "Pending"})))
        .collect();
    let options = Options::fast(10, 0);
    assert_code(
        unsafe { ocr_poll_options_set_max_attempts(options.0, 3) },
        OCR_OK,
    );
    let (code, per_task) = client.poll_many(None, &ids, Some(&options));
    assert_code(code, OCR_ERR_NOT_READY);
    for ((task_code, _), id) in per_task.iter().zip(&ids) {
        assert_eq!(*task_code, OCR_ERR_NOT_READY);
        assert_eq!(emulator.task(id)["polls"], 3);
    }
    let single = &ids[0];
    let polls_before = emulator.task(single)["polls"].as_u64().unwrap();
    assert_eq!(
        client.poll(None, single, Some(&options)).err(),
        Some(OCR_ERR_NOT_READY)
    );
    assert_eq!(
        emulator.task(single)["polls"].as_u64().unwrap() - polls_before,
        3
    );
}

#[test]
fn poll_many_keeps_to_its_connection_bound() {
    let emulator = Emulator::start(&["--pending-ms", "200", "--processing-ms", "200"]);
    let client = Client::demo(&emulator);
    let pdf = sample_pdf();
    let ids: Vec<String> = (0..60)
        .map(|_| client.submit(None, &pdf, None).unwrap())
        .collect();
    assert_code(
        unsafe { ocr_client_set_max_connections(client.0, 3) },
        OCR_OK,
    );
    // Slow answers keep every worker busy, so the bound is what limits the connections.
    emulator.fault(json!({"path": "/v5.0/ocr/RecognizePdf", "method": "GET", "kind": "delay", "ms": 20, "count": 1000}));
    let before = emulator.stats();
    let (code, per_task) = client.poll_many(None, &ids, Some(&Options::fast(50, 30_000)));
    assert_code(code, OCR_OK);
    assert!(
        per_task
            .iter()
            .all(|(code, result)| *code == OCR_OK && result.is_some())
    );
    let after = emulator.stats();
    // Open before: the test's own control connection and the submissions' idle one (polls
    // have a pool of their own); poll_many adds at most its bound.
    assert!(
        after["connections_max"].as_u64().unwrap()
            <= before["connections_open"].as_u64().unwrap() + 3,
        "{before} {after}"
    );
    let opened = after["connections_total"].as_u64().unwrap()
        - before["connections_total"].as_u64().unwrap();
    assert!(
        opened <= 3,
        "the client reuses its connections: {opened} opened"
    );
    assert_code(
        unsafe { ocr_client_set_max_connections(client.0, 0) },
        OCR_ERR_INVALID_ARGUMENT,
    );
}

#[test]
fn a_slow_answer_in_poll_many_holds_up_only_its_own_task() {
    let emulator = fast_emulator();
    let client = Client::demo(&emulator);
    assert_code(
        unsafe { ocr_client_set_max_connections(client.0, 2) },
        OCR_OK,
    );
    let ids: Vec<String> = (0..20)
        .map(|i| {
            emulator.fixture(json!({"results": [{"type": "Text", "text": format!("task {i}")}]}))
        })
        .collect();
    // The first poll to arrive waits 3 s; the other worker takes every other task meanwhile,
    // those of the slow one's queue too.
    emulator.fault(
        json!({"path": "/v5.0/ocr/RecognizePdf", "method": "GET", "kind": "delay", "ms": 3000}),
    );
    std::thread::scope(|scope| {
        let watcher = scope.spawn(|| {
            std::thread::sleep(Duration::from_millis(1500));
            ids.iter()
                .filter(|id| emulator.task(id)["polls"] == 1)
                .count()
        });
        let (code, per_task) = client.poll_many(None, &ids, Some(&Options::fast(50, 30_000)));
        assert_code(code, OCR_OK);
        assert!(per_task.iter().all(|(code, _)| *code == OCR_OK));
        assert_eq!(watcher.join().unwrap(), 19, "answered while one waited");
    });
}

#[test]
fn poll_many_can_be_cancelled_from_another_thread() {
    let emulator = fast_emulator();
    let client = Client::demo(&emulator);
    let done = emulator.fixture(json!({"results": [{"type": "Text", "text": "done"}]}));
    let mut ids = vec![done];
    ids.extend((0..30).map(|_| emulator.fixture(json!({"taskStatus": "Pending"}))));
    let options = Options::fast(50, 0);
    let cancel = ocr_cancel_new();
    assert_code(
        unsafe { ocr_poll_options_set_cancel(options.0, cancel) },
        OCR_OK,
    );
    let cancel_address = cancel as usize;
    std::thread::scope(|scope| {
        let trigger = scope.spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            unsafe { ocr_cancel_trigger(cancel_address as *const ocr_cancel) };
            Instant::now()
        });
        let (code, per_task) = client.poll_many(None, &ids, Some(&options));
        let returned = Instant::now();
        let triggered = trigger.join().unwrap();
        assert!(
            returned.duration_since(triggered) < Duration::from_millis(200),
            "{:?}",
            returned.duration_since(triggered)
        );
        assert_code(code, OCR_ERR_CANCELLED);
        assert_eq!(
            per_task[0].0, OCR_OK,
            "a task that finished before the cancel keeps its result"
        );
        assert!(
            per_task[1..]
                .iter()
                .all(|(code, result)| *code == OCR_ERR_CANCELLED && result.is_none())
        );
    });
    unsafe { ocr_cancel_free(cancel) };
}

#[test]
fn poll_many_checks_its_arguments_before_polling() {
    let emulator = fast_emulator();
    let client = Client::demo(&emulator);
    let mut results = [std::ptr::null_mut(); 2];
    let mut codes = [-1; 2];
    let a = c("a");
    let ids = [a.as_ptr(), std::ptr::null()];
    assert_code(
        unsafe {
            ocr_poll_many(
                client.0,
                std::ptr::null(),
                ids.as_ptr(),
                2,
                std::ptr::null(),
                results.as_mut_ptr(),
                codes.as_mut_ptr(),
            )
        },
        OCR_ERR_INVALID_ARGUMENT,
    );
    assert!(last_error().contains("task_ids[1]"), "{}", last_error());
    assert_eq!(codes, [-1, -1], "nothing is written for invalid arguments");
    let (bad, empty) = (c("a\nb"), c(""));
    for ids in [[a.as_ptr(), bad.as_ptr()], [empty.as_ptr(), a.as_ptr()]] {
        assert_code(
            unsafe {
                ocr_poll_many(
                    client.0,
                    std::ptr::null(),
                    ids.as_ptr(),
                    2,
                    std::ptr::null(),
                    results.as_mut_ptr(),
                    codes.as_mut_ptr(),
                )
            },
            OCR_ERR_INVALID_ARGUMENT,
        );
        assert_eq!(
            codes,
            [-1, -1],
            "ids are checked before anything is written"
        );
    }
    assert_code(
        unsafe {
            ocr_poll_many(
                client.0,
                std::ptr::null(),
                std::ptr::null(),
                2,
                std::ptr::null(),
                results.as_mut_ptr(),
                codes.as_mut_ptr(),
            )
        },
        OCR_ERR_INVALID_ARGUMENT,
    );
    assert_code(
        unsafe {
            ocr_poll_many(
                client.0,
                std::ptr::null(),
                std::ptr::null(),
                0,
                std::ptr::null(),
                std::ptr::null_mut(),
                std::ptr::null_mut(),
            )
        },
        OCR_OK,
    );
    assert_eq!(emulator.stats()["requests"], 0);
}
