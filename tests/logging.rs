//! Log lines through the C API: what is logged at each level, and never a secret.

mod common;

use common::*;
use ocrcloud::ffi::*;
use serde_json::json;
use std::ffi::{CStr, c_char, c_void};
use std::sync::Mutex;

static LINES: Mutex<Vec<(i32, String)>> = Mutex::new(Vec::new());

extern "C" fn collect(user_data: *mut c_void, level: i32, message: *const c_char) {
    assert_eq!(user_data as usize, 42, "user_data is passed back unchanged");
    // SAFETY: the library passes a valid NUL-terminated message.
    let text = unsafe { CStr::from_ptr(message) }
        .to_string_lossy()
        .into_owned();
    LINES.lock().unwrap().push((level, text));
}

fn take_lines() -> Vec<(i32, String)> {
    std::mem::take(&mut *LINES.lock().unwrap())
}

/// One test, because the log settings are process-wide.
#[test]
fn log_lines_reach_the_callback_by_level_without_secrets() {
    let emulator = Emulator::start(&["--pending-ms", "50", "--processing-ms", "50"]);
    unsafe { ocr_set_log_callback(Some(collect), 42 as *mut c_void) };

    assert_code(ocr_set_log_level(OCR_LOG_DEBUG), OCR_OK);
    let client = Client::demo(&emulator);
    let id = client.submit(None, &sample_pdf(), None).unwrap();
    emulator.fault(
        json!({"path": "/v5.0/ocr/RecognizePdf", "method": "GET", "kind": "status", "status": 503}),
    );
    client
        .poll(None, &id, Some(&Options::fast(20, 10_000)))
        .unwrap();
    // A task that stays Pending: each poll of it logs so. (The submitted task may be done by
    // its first poll on a busy machine, so it cannot show this line.)
    let pending = emulator.fixture(json!({"taskStatus": "Pending"}));
    let polled = client.poll(None, &pending, Some(&Options::fast(20, 200)));
    assert_eq!(polled.map(|_| ()), Err(OCR_ERR_TIMEOUT));
    let lines = take_lines();
    assert!(
        has_line(&lines, OCR_LOG_INFO, "obtained a token from"),
        "{lines:?}"
    );
    assert!(has_line(&lines, OCR_LOG_DEBUG, "POST http://"), "{lines:?}");
    assert!(has_line(&lines, OCR_LOG_DEBUG, "-> HTTP 200"), "{lines:?}");
    assert!(
        has_line(&lines, OCR_LOG_INFO, "HTTP 503"),
        "a failed poll is worth an info line: {lines:?}"
    );
    let waiting = format!("task {pending} is still Pending after attempt");
    assert!(has_line(&lines, OCR_LOG_DEBUG, &waiting), "{lines:?}");
    assert!(lines.iter().all(|(_, text)| !text.contains("demo-secret")));

    let token = "a-very-secret-token-123";
    let open = Emulator::start(&["--no-auth"]);
    let with_token = Client::with_token(&open.url, Some(token));
    open.fault(json!({
        "path": "*", "kind": "status", "status": 503, "count": 2,
        "body": format!("{{\"detail\": \"overloaded, token {token}\"}}"), "contentType": "application/json"
    }));
    with_token.fetch(None, "whatever").unwrap();
    let lines = take_lines();
    assert!(
        has_line(&lines, OCR_LOG_INFO, "trying again in"),
        "{lines:?}"
    );
    assert!(
        lines.iter().all(|(_, text)| !text.contains(token)),
        "{lines:?}"
    );
    assert!(has_line(&lines, OCR_LOG_INFO, "[redacted]"), "{lines:?}");

    assert_code(ocr_set_log_level(OCR_LOG_WARN), OCR_OK);
    with_token.fetch(None, "whatever").unwrap();
    assert!(take_lines().is_empty(), "nothing below warn");
    assert_code(ocr_set_log_level(4), OCR_ERR_INVALID_ARGUMENT);

    // A callback may call into the library: those calls work and log nothing.
    assert_code(ocr_set_log_level(OCR_LOG_DEBUG), OCR_OK);
    unsafe { ocr_set_log_callback(Some(call_back_in), with_token.0.cast()) };
    with_token.fetch(None, "whatever").unwrap();
    assert!(NESTED_CALLS.load(std::sync::atomic::Ordering::SeqCst) > 0);

    assert_code(ocr_set_log_level(OCR_LOG_OFF), OCR_OK);
    unsafe { ocr_set_log_callback(None, std::ptr::null_mut()) };
}

static NESTED_CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

extern "C" fn call_back_in(user_data: *mut c_void, _level: i32, _message: *const c_char) {
    let client = user_data as *const ocr_client;
    let mut status = 0;
    assert_code(
        unsafe {
            ocr_get_task_status(
                client,
                std::ptr::null(),
                c("whatever").as_ptr(),
                &mut status,
            )
        },
        OCR_OK,
    );
    NESTED_CALLS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
}

fn has_line(lines: &[(i32, String)], level: i32, fragment: &str) -> bool {
    lines
        .iter()
        .any(|(l, text)| *l == level && text.contains(fragment))
}
