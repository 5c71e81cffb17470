//! The batch through the C ABI (`ocr_batch_*`): arguments, the progress it reports, the
//! journal's lock, cancel, and the resume rules against a fresh or forgetful service.

mod common;

use common::*;
use ocrcloud::ffi::*;
use std::ffi::c_void;
use std::time::{Duration, Instant};

const TEXT: Option<&str> = Some(r#"{"resultType":"Text"}"#);

#[test]
fn null_and_bad_arguments_are_refused_and_accessors_answer_nothing() {
    let emulator = Emulator::start(&[]);
    let client = Client::demo(&emulator);
    let dir = scratch_dir("batch-args");
    let out = c(dir.join("out").to_str().unwrap());
    let mut batch = std::ptr::null_mut();
    unsafe {
        assert_code(
            ocr_batch_open(std::ptr::null(), std::ptr::null(), out.as_ptr(), &mut batch),
            OCR_ERR_INVALID_ARGUMENT,
        );
        assert!(last_error().contains("client is NULL"), "{}", last_error());
        assert_code(
            ocr_batch_open(client.0, std::ptr::null(), std::ptr::null(), &mut batch),
            OCR_ERR_INVALID_ARGUMENT,
        );
        assert_code(
            ocr_batch_open(
                client.0,
                std::ptr::null(),
                out.as_ptr(),
                std::ptr::null_mut(),
            ),
            OCR_ERR_INVALID_ARGUMENT,
        );
        assert!(batch.is_null());
        assert_code(
            ocr_batch_add_file(
                std::ptr::null_mut(),
                c("x.pdf").as_ptr(),
                std::ptr::null(),
                std::ptr::null(),
                std::ptr::null(),
            ),
            OCR_ERR_INVALID_ARGUMENT,
        );
        assert_code(
            ocr_batch_run(
                std::ptr::null_mut(),
                1,
                std::ptr::null(),
                None,
                std::ptr::null_mut(),
            ),
            OCR_ERR_INVALID_ARGUMENT,
        );
        assert_eq!(ocr_batch_size(std::ptr::null()), 0);
        assert_eq!(ocr_batch_count(std::ptr::null(), OCR_BATCH_QUEUED), 0);
        assert_eq!(ocr_batch_item_state(std::ptr::null(), 0), -1);
        assert!(ocr_batch_item_path(std::ptr::null(), 0).is_null());
        assert_eq!(ocr_batch_item_seconds(std::ptr::null(), 0), -1.0);
        ocr_batch_free(std::ptr::null_mut());
    }
    let batch = Batch::open(&client, &dir.join("out")).unwrap();
    let pdf = dir.join("a.pdf");
    std::fs::write(&pdf, small_pdf(1)).unwrap();
    let pdf = c(pdf.to_str().unwrap());
    unsafe {
        assert_code(
            ocr_batch_add_file(
                batch.0,
                std::ptr::null(),
                std::ptr::null(),
                std::ptr::null(),
                std::ptr::null(),
            ),
            OCR_ERR_INVALID_ARGUMENT,
        );
        assert_code(
            ocr_batch_add_file(
                batch.0,
                pdf.as_ptr(),
                std::ptr::null(),
                c("NoSuchOp").as_ptr(),
                std::ptr::null(),
            ),
            OCR_ERR_INVALID_ARGUMENT,
        );
        assert_code(
            ocr_batch_add_file(
                batch.0,
                pdf.as_ptr(),
                std::ptr::null(),
                std::ptr::null(),
                c("[1]").as_ptr(),
            ),
            OCR_ERR_INVALID_ARGUMENT,
        );
        assert_code(
            ocr_batch_add_file(
                batch.0,
                pdf.as_ptr(),
                c("/elsewhere").as_ptr(),
                std::ptr::null(),
                std::ptr::null(),
            ),
            OCR_ERR_INVALID_ARGUMENT,
        );
        assert!(last_error().contains("is not inside"), "{}", last_error());
        let notes = c(dir.join("notes.txt").to_str().unwrap());
        std::fs::write(dir.join("notes.txt"), b"x").unwrap();
        assert_code(
            ocr_batch_add_file(
                batch.0,
                notes.as_ptr(),
                std::ptr::null(),
                std::ptr::null(),
                std::ptr::null(),
            ),
            OCR_ERR_INVALID_ARGUMENT,
        );
        assert!(
            last_error().contains("not a PDF or an image"),
            "{}",
            last_error()
        );
        assert_code(
            ocr_batch_run(batch.0, 257, std::ptr::null(), None, std::ptr::null_mut()),
            OCR_ERR_INVALID_ARGUMENT,
        );
    }
    assert_eq!(batch.size(), 0);
    assert_eq!(batch.state(0), -1);
    // A second add of the same file is checked like the first.
    let root = c(dir.to_str().unwrap());
    let elsewhere = c(dir.join("nothing").to_str().unwrap());
    let add = |root: &std::ffi::CString| unsafe {
        ocr_batch_add_file(
            batch.0,
            pdf.as_ptr(),
            root.as_ptr(),
            std::ptr::null(),
            std::ptr::null(),
        )
    };
    assert_code(add(&root), OCR_OK);
    assert_code(add(&root), OCR_OK);
    assert_code(add(&elsewhere), OCR_ERR_INVALID_ARGUMENT);
    assert_eq!(batch.size(), 1);
    assert_eq!(batch.path(1), None);
    assert_eq!(batch.outputs(1), Vec::<String>::new());
    assert_eq!(unsafe { ocr_batch_count(batch.0, 77) }, 0);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn every_input_reports_its_way_to_completed_and_a_second_batch_skips_them_all() {
    let emulator = Emulator::start(&["--pending-ms", "0", "--processing-ms", "30"]);
    let client = Client::demo(&emulator);
    let dir = scratch_dir("batch-progress");
    let docs = write_pdfs(&dir, 5);
    let out = dir.join("out");
    let options = Options::fast(10, 5000);
    {
        let batch = Batch::open(&client, &out).unwrap();
        assert_eq!(batch.add_folder(&docs, TEXT), Ok(5));
        assert_eq!(batch.count(OCR_BATCH_QUEUED), 5);
        let (code, changes) = batch.run(3, &options);
        assert_code(code, OCR_OK);
        for index in 0..5 {
            let states: Vec<ocr_batch_state> = changes
                .iter()
                .filter(|(i, _)| *i == index)
                .map(|(_, s)| *s)
                .collect();
            assert_eq!(
                states,
                [
                    OCR_BATCH_SUBMITTING,
                    OCR_BATCH_SUBMITTED,
                    OCR_BATCH_COMPLETED
                ]
            );
            let outputs = batch.outputs(index);
            assert_eq!(outputs.len(), 1);
            let relative = batch.path(index).unwrap();
            let relative = relative.strip_prefix(docs.to_str().unwrap()).unwrap();
            assert_eq!(
                outputs[0],
                format!("{}{}", out.display(), relative.replace(".pdf", ".txt"))
            );
            assert!(std::path::Path::new(&outputs[0]).is_file());
            assert!(batch.task_id(index).is_some());
            assert_eq!(
                (batch.code(index), batch.message(index).as_deref()),
                (OCR_OK, Some(""))
            );
            assert!(batch.seconds(index) >= 0.0 && !batch.skipped(index));
            assert_eq!(batch.possible_duplicates(index), 0);
        }
        assert_eq!(batch.count(OCR_BATCH_COMPLETED), 5);
    }
    let requests = emulator.stats()["requests"].as_u64().unwrap();
    let batch = Batch::open(&client, &out).unwrap();
    batch.add_folder(&docs, TEXT).unwrap();
    let (code, changes) = batch.run(3, &options);
    assert_code(code, OCR_OK);
    assert!(changes.is_empty(), "{changes:?}");
    assert!((0..5).all(|i| batch.skipped(i) && batch.state(i) == OCR_BATCH_COMPLETED));
    assert_eq!(emulator.stats()["requests"].as_u64().unwrap(), requests);
    assert_eq!(temporary_files(&out), Vec::<std::path::PathBuf>::new());
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_journal_is_locked_while_its_batch_is_open() {
    let emulator = Emulator::start(&[]);
    let client = Client::demo(&emulator);
    let dir = scratch_dir("batch-lock");
    let first = Batch::open(&client, &dir).unwrap();
    assert_code(Batch::open(&client, &dir).err().unwrap(), OCR_ERR_IO);
    assert!(
        last_error().contains("in use by another batch"),
        "{}",
        last_error()
    );
    drop(first);
    Batch::open(&client, &dir).unwrap();
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_cancel_stops_the_run_promptly_and_the_next_run_finishes() {
    let emulator = Emulator::start(&["--pending-ms", "0", "--processing-ms", "60000"]);
    let client = Client::demo(&emulator);
    let dir = scratch_dir("batch-cancel");
    let docs = write_pdfs(&dir, 4);
    let out = dir.join("out");
    let cancel = ocr_cancel_new();
    let options = Options::fast(20, 120_000);
    unsafe { ocr_poll_options_set_cancel(options.0, cancel) };
    let batch = Batch::open(&client, &out).unwrap();
    batch.add_folder(&docs, TEXT).unwrap();
    let trigger = cancel as usize;
    let canceller = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        unsafe { ocr_cancel_trigger(trigger as *const ocr_cancel) };
        Instant::now()
    });
    let (code, _) = batch.run(2, &options);
    let ended = Instant::now();
    let triggered = canceller.join().unwrap();
    assert_code(code, OCR_ERR_CANCELLED);
    assert!(
        ended.duration_since(triggered) < Duration::from_millis(500),
        "{:?}",
        ended.duration_since(triggered)
    );
    assert_eq!(
        batch.count(OCR_BATCH_SUBMITTED),
        4,
        "the tasks stay recorded"
    );
    unsafe { ocr_cancel_free(cancel) };
    drop(batch);

    // The same tasks, polled again by their ids on a service that finishes them now.
    let ids: Vec<String> = {
        let batch = Batch::open(&client, &out).unwrap();
        batch.add_folder(&docs, TEXT).unwrap();
        (0..4).map(|i| batch.task_id(i).unwrap()).collect()
    };
    for id in &ids {
        emulator.control(
            "POST",
            "/_emulator/tasks",
            Some(serde_json::json!({
                "id": id, "results": [{"type": "Text", "text": format!("done {id}")}]
            })),
        );
    }
    let batch = Batch::open(&client, &out).unwrap();
    batch.add_folder(&docs, TEXT).unwrap();
    let (code, _) = batch.run(2, &Options::fast(20, 5000));
    assert_code(code, OCR_OK);
    assert_eq!(emulator.count("POST /v5.0/ocr/RecognizePdf"), 4);
    for (index, id) in ids.iter().enumerate() {
        let text = std::fs::read_to_string(&batch.outputs(index)[0]).unwrap();
        assert_eq!(text, format!("done {id}"));
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_task_the_service_no_longer_knows_is_submitted_again_and_a_known_one_is_fetched_again() {
    let dir = scratch_dir("batch-forgotten");
    let docs = write_pdfs(&dir, 3);
    let out = dir.join("out");
    let options = Options::fast(10, 5000);
    let run = |emulator: &Emulator| {
        let client = Client::demo(emulator);
        let batch = Batch::open(&client, &out).unwrap();
        batch.add_folder(&docs, TEXT).unwrap();
        let (code, _) = batch.run(2, &options);
        assert_code(code, OCR_OK);
        assert_eq!(batch.count(OCR_BATCH_COMPLETED), 3);
        (0..3)
            .map(|i| batch.outputs(i)[0].clone())
            .collect::<Vec<_>>()
    };
    let first = Emulator::start(&["--pending-ms", "0", "--processing-ms", "0"]);
    let outputs = run(&first);
    // A removed result is fetched again by the recorded id: no new submission.
    std::fs::remove_file(&outputs[1]).unwrap();
    run(&first);
    assert_eq!(first.count("POST /v5.0/ocr/RecognizePdf"), 3);
    assert!(std::path::Path::new(&outputs[1]).is_file());
    // A service that never saw the tasks answers NotExist: each removed one is submitted anew.
    std::fs::remove_file(&outputs[0]).unwrap();
    std::fs::remove_file(&outputs[2]).unwrap();
    let second = Emulator::start(&["--pending-ms", "0", "--processing-ms", "0"]);
    run(&second);
    assert_eq!(second.count("POST /v5.0/ocr/RecognizePdf"), 2);
    assert!(outputs.iter().all(|o| std::path::Path::new(o).is_file()));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn the_progress_callback_reads_the_change_it_reports_and_cannot_change_the_batch() {
    extern "C" fn read_back(user_data: *mut c_void, index: usize, state: ocr_batch_state) {
        let batch = user_data as *mut ocr_batch;
        unsafe {
            assert_eq!(ocr_batch_item_state(batch, index), state);
            assert!(!ocr_batch_item_path(batch, index).is_null());
            let has_task = !ocr_batch_item_task_id(batch, index).is_null();
            assert_eq!(has_task, state != OCR_BATCH_SUBMITTING, "state {state}");
            if state == OCR_BATCH_COMPLETED {
                assert_eq!(ocr_batch_item_output_count(batch, index), 1);
                assert!(!ocr_batch_item_output(batch, index, 0).is_null());
            }
            assert!(ocr_batch_count(batch, state) >= 1);
            let again = c("/nowhere.pdf");
            let refused = ocr_batch_add_file(
                batch,
                again.as_ptr(),
                std::ptr::null(),
                std::ptr::null(),
                std::ptr::null(),
            );
            assert_eq!(refused, OCR_ERR_INVALID_ARGUMENT);
            let refused = ocr_batch_run(batch, 1, std::ptr::null(), None, std::ptr::null_mut());
            assert_eq!(refused, OCR_ERR_INVALID_ARGUMENT);
        }
    }
    let emulator = Emulator::start(&["--pending-ms", "0", "--processing-ms", "0"]);
    let client = Client::demo(&emulator);
    let dir = scratch_dir("batch-callback");
    let docs = write_pdfs(&dir, 3);
    let batch = Batch::open(&client, &dir.join("out")).unwrap();
    batch.add_folder(&docs, None).unwrap();
    let options = Options::fast(10, 5000);
    let code = unsafe { ocr_batch_run(batch.0, 2, options.0, Some(read_back), batch.0.cast()) };
    assert_code(code, OCR_OK);
    assert_eq!(batch.size(), 3, "the refused add added nothing");
    for index in 0..3 {
        assert_eq!(batch.state(index), OCR_BATCH_COMPLETED);
        assert!(batch.task_id(index).is_some());
        assert!(std::path::Path::new(&batch.outputs(index)[0]).is_file());
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn submissions_cut_by_a_cancel_are_sent_again_by_the_next_run_of_the_same_batch() {
    let emulator = Emulator::start(&["--pending-ms", "0", "--processing-ms", "0"]);
    emulator.fault(
        serde_json::json!({"path": "/v5.0/ocr/RecognizePdf", "method": "POST",
        "kind": "delay", "ms": 3000, "count": 100}),
    );
    let client = Client::demo(&emulator);
    let dir = scratch_dir("batch-cancel-rerun");
    let docs = write_pdfs(&dir, 4);
    let batch = Batch::open(&client, &dir.join("out")).unwrap();
    batch.add_folder(&docs, TEXT).unwrap();
    let cancel = ocr_cancel_new();
    let options = Options::fast(10, 10_000);
    unsafe { ocr_poll_options_set_cancel(options.0, cancel) };
    let trigger = cancel as usize;
    let canceller = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(400));
        unsafe { ocr_cancel_trigger(trigger as *const ocr_cancel) };
    });
    let (code, _) = batch.run(2, &options);
    canceller.join().unwrap();
    assert_code(code, OCR_ERR_CANCELLED);
    assert_eq!(batch.count(OCR_BATCH_FAILED), 0, "a cancel fails no input");
    unsafe { ocr_cancel_free(cancel) };
    emulator.control("POST", "/_emulator/reset", None);
    let (code, _) = batch.run(2, &Options::fast(10, 10_000));
    assert_code(code, OCR_OK);
    assert_eq!(batch.count(OCR_BATCH_COMPLETED), 4);
    let duplicates: u32 = (0..4).map(|i| batch.possible_duplicates(i)).sum();
    assert_eq!(duplicates, 2, "the two submissions under way at the cancel");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_document_refused_for_its_size_after_100_continue_fails_without_a_possible_duplicate() {
    // The service reads 1 MB of the 5 MB body after its `100 Continue`, answers 413 and closes.
    let emulator = Emulator::start(&["--max-body-bytes", "1048576"]);
    let client = Client::demo(&emulator);
    let dir = scratch_dir("batch-413");
    let docs = dir.join("docs");
    std::fs::create_dir_all(&docs).unwrap();
    let mut large = small_pdf(0);
    large.resize(5 << 20, b'%');
    std::fs::write(docs.join("large.pdf"), large).unwrap();
    let batch = Batch::open(&client, &dir.join("out")).unwrap();
    batch.add_folder(&docs, TEXT).unwrap();
    let (code, _) = batch.run(1, &Options::fast(10, 10_000));
    assert_code(code, OCR_OK);
    assert_eq!(batch.state(0), OCR_BATCH_FAILED);
    let message = batch.message(0).unwrap_or_default();
    assert_eq!(batch.code(0), OCR_ERR_TOO_LARGE, "{message}");
    assert!(!message.contains("task may exist"), "{message}");
    assert_eq!(batch.possible_duplicates(0), 0, "{message}");
    assert!(
        emulator.count("POST /v5.0/ocr/RecognizePdf") <= 1,
        "a 413 is not sent again"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_submission_refused_with_401_or_403_is_no_possible_duplicate() {
    // A refusal before acceptance makes no task: the input stays queued, uncounted, also for a
    // body large enough to wait for `100 Continue` (the refusal comes instead).
    for (status, size) in [(401, 0), (403, 0), (401, 5 << 20), (403, 5 << 20)] {
        let emulator = Emulator::start(&["--pending-ms", "0", "--processing-ms", "0"]);
        // The POST, and its retry with a fresh token.
        emulator.fault(
            serde_json::json!({"path": "/v5.0/ocr/RecognizePdf", "method": "POST",
            "kind": "status", "status": status, "count": 2}),
        );
        let client = Client::demo(&emulator);
        let dir = scratch_dir("batch-refused-submission");
        let docs = dir.join("docs");
        std::fs::create_dir_all(&docs).unwrap();
        let mut document = small_pdf(0);
        document.resize(document.len().max(size), b'%');
        std::fs::write(docs.join("doc.pdf"), document).unwrap();
        let batch = Batch::open(&client, &dir.join("out")).unwrap();
        batch.add_folder(&docs, TEXT).unwrap();
        let (code, _) = batch.run(1, &Options::fast(10, 10_000));
        let point = format!("HTTP {status}, {size} bytes");
        assert_eq!(code, OCR_ERR_UNAUTHORIZED, "{point}: {}", last_error());
        assert_eq!(batch.state(0), OCR_BATCH_QUEUED, "{point}");
        assert_eq!(batch.possible_duplicates(0), 0, "{point}");
        assert_eq!(emulator.stats()["tasks_submitted"], 0, "{point}");

        let (code, _) = batch.run(1, &Options::fast(10, 10_000));
        assert_code(code, OCR_OK);
        assert_eq!(batch.state(0), OCR_BATCH_COMPLETED, "{point}");
        assert_eq!(batch.possible_duplicates(0), 0, "{point}");
        assert_eq!(emulator.stats()["tasks_submitted"], 1, "{point}");
        drop(batch);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
