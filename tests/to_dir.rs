//! Results written straight to files while the answer arrives (`_to_dir` calls).

mod common;

use common::*;
use ocrcloud::ffi::*;
use serde_json::json;

fn fast_emulator() -> Emulator {
    Emulator::start(&["--pending-ms", "100", "--processing-ms", "100"])
}

#[test]
fn results_land_in_files_named_by_id_and_type() {
    let emulator = fast_emulator();
    let client = Client::demo(&emulator);
    let bytes: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    let id = emulator.fixture(json!({"id": "task/1", "results": [
        {"type": "Text", "text": "hello"},
        {"type": "Pdf", "generate": {"bytes": 3_000_000}},
        {"type": "Hocr", "text": "<html/>"}
    ]}));
    let dir = scratch_dir("to-dir");
    let result = client.fetch_to_dir(&id, &dir).unwrap();
    assert_eq!(
        file_names(&dir),
        ["task_1.html", "task_1.pdf", "task_1.txt"]
    );
    assert_eq!(result.count(), 3);
    assert_eq!(std::fs::read(dir.join("task_1.txt")).unwrap(), b"hello");
    assert_eq!(std::fs::read(dir.join("task_1.pdf")).unwrap(), bytes);
    assert_eq!(
        text(unsafe { ocr_result_path(result.0, 1) }).unwrap(),
        dir.join("task_1.pdf").to_str().unwrap()
    );
    assert_eq!(unsafe { ocr_result_size(result.0, 1) }, 3_000_000);
    assert_eq!(unsafe { ocr_result_size(result.0, 9) }, 0);
    assert!(unsafe { ocr_result_path(result.0, 9) }.is_null());
    let mut len = 5usize;
    assert!(
        unsafe { ocr_result_data(result.0, 1, &mut len) }.is_null(),
        "the bytes are in the file"
    );
    assert_eq!(len, 0);

    let copy = dir.join("copy.pdf");
    assert_code(
        unsafe { ocr_result_save(result.0, 1, c(copy.to_str().unwrap()).as_ptr()) },
        OCR_OK,
    );
    assert_eq!(std::fs::read(&copy).unwrap(), bytes);

    let in_memory = client.fetch(None, &id).unwrap();
    assert!(unsafe { ocr_result_path(in_memory.0, 0) }.is_null());
    assert_eq!(unsafe { ocr_result_size(in_memory.0, 0) }, 5);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_poll_writes_the_final_results_to_files() {
    let emulator = fast_emulator();
    let client = Client::demo(&emulator);
    let pdf = sample_pdf();
    let id = client
        .submit(None, &pdf, Some(r#"{"resultType":"TextAndPdf"}"#))
        .unwrap();
    let dir = scratch_dir("poll-to-dir");
    let options = Options::fast(30, 20_000);
    let mut out = std::ptr::null_mut();
    assert_code(
        unsafe {
            ocr_poll_until_done_to_dir(
                client.0,
                c("RecognizePdf").as_ptr(),
                c(&id).as_ptr(),
                options.0,
                c(dir.to_str().unwrap()).as_ptr(),
                &mut out,
            )
        },
        OCR_OK,
    );
    let result = OcrResult(out);
    assert_eq!(result.count(), 2);
    assert_eq!(file_names(&dir), [format!("{id}.pdf"), format!("{id}.txt")]);
    assert_eq!(std::fs::read(dir.join(format!("{id}.pdf"))).unwrap(), pdf);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn nothing_is_left_behind_when_an_answer_fails_or_has_no_results() {
    let emulator = fast_emulator();
    let client = Client::demo(&emulator);
    assert_code(unsafe { ocr_client_set_max_attempts(client.0, 1) }, OCR_OK);
    let dir = scratch_dir("to-dir-failures");

    let pending = emulator.fixture(json!({"taskStatus": "Pending"}));
    let result = client.fetch_to_dir(&pending, &dir).unwrap();
    assert_eq!(result.status(), OCR_TASK_PENDING);
    assert_eq!(result.count(), 0);

    let broken = emulator.fixture(json!({"results": [
        {"type": "Text", "text": "first is fine"},
        {"type": "Pdf", "data": "JVBERi0x!!!"}
    ]}));
    assert_eq!(
        client.fetch_to_dir(&broken, &dir).err(),
        Some(OCR_ERR_DECODE)
    );

    let big =
        emulator.fixture(json!({"results": [{"type": "Pdf", "generate": {"bytes": 2_000_000}}]}));
    emulator
        .fault(json!({"path": "/v5.0/ocr/RecognizePdf", "kind": "truncate", "bytes": 1_000_000}));
    assert_eq!(client.fetch_to_dir(&big, &dir).err(), Some(OCR_ERR_NETWORK));
    assert!(file_names(&dir).is_empty(), "{:?}", file_names(&dir));

    let requests = emulator.stats()["requests"].clone();
    assert_eq!(
        client.fetch_to_dir(&big, &dir.join("missing")).err(),
        Some(OCR_ERR_IO)
    );
    assert!(
        last_error().contains("not an existing folder"),
        "{}",
        last_error()
    );
    assert_eq!(
        emulator.stats()["requests"],
        requests,
        "a missing folder is found before sending"
    );
    std::fs::remove_dir_all(dir).unwrap();
}
