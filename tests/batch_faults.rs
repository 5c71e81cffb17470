//! The batch under a failure at every I/O step, in the manner of SQLite's I/O-error loops
//! (see tests/fault_loop.rs): one run counts the steps of a small batch (reading the inputs,
//! connects, writes, reads, the result files and their renames); then, for each step N, a fresh
//! batch runs with step N failed, and a second run without faults must finish it, with the
//! invariants of `common::faulted_batch` checked after each point. Tasks, not POSTs, are
//! compared with the inputs: a POST whose body was broken off (the document could not be read
//! part way through its upload) reached the service's counter of requests but made no task,
//! and is no duplicate.
//!
//! Faults are process-wide: each test of this file holds [`FAULTS`], so that none runs beside
//! another.

mod common;

use common::faulted_batch::{FaultLoop, posts, tasks_made};
use common::*;
use ocrcloud::faults::{self, Fault, Step};
use ocrcloud::ffi::*;
use std::sync::Mutex;

/// Held by each test while it arms faults.
static FAULTS: Mutex<()> = Mutex::new(());

const INPUTS: usize = 3;
const TEXT: Option<&str> = Some(r#"{"resultType":"Text"}"#);

#[test]
fn a_batch_failed_at_any_step_finishes_on_the_next_run_with_no_extra_submission() {
    let _faults = FAULTS.lock().unwrap_or_else(|e| e.into_inner());
    let emulator = Emulator::start(&["--pending-ms", "0", "--processing-ms", "0"]);
    let client = Client::demo(&emulator);
    assert_code(
        unsafe { ocr_client_set_connect_timeout_ms(client.0, 200) },
        OCR_OK,
    );
    assert_code(
        unsafe { ocr_client_set_read_timeout_ms(client.0, 250) },
        OCR_OK,
    );
    let dir = scratch_dir("batch-faults");
    let docs = write_pdfs(&dir, INPUTS);
    let documented = [
        OCR_OK,
        OCR_ERR_NETWORK,
        OCR_ERR_TIMEOUT,
        OCR_ERR_IO,
        OCR_ERR_PROTOCOL,
        OCR_ERR_HTTP,
    ];
    let open = |_: &str, out: &std::path::Path| Batch::open(&client, out);
    let batches = FaultLoop {
        emulator: &emulator,
        docs: &docs,
        inputs: INPUTS,
        settings: TEXT,
        poll_ms: 3000,
        documented: &documented,
        open: &open,
    };

    faults::count();
    let (code, _, _) = batches.run("count", &dir.join("count"));
    let steps = faults::disarm();
    assert_code(code, OCR_OK);
    assert!(steps.len() > 10, "{steps:?}");
    for kind in [
        Step::FileRead,
        Step::Connect,
        Step::Write,
        Step::Read,
        Step::FileCreate,
        Step::FileWrite,
        Step::Rename,
    ] {
        assert!(steps.contains(&kind), "{kind:?} is not among {steps:?}");
    }

    let mut hurt = 0;
    for (n, step) in steps.iter().enumerate() {
        let fitting: Vec<Fault> = Fault::ALL.into_iter().filter(|f| f.fits(*step)).collect();
        let fault = fitting[n % fitting.len()];
        let point = format!("step {} ({step:?}, {fault:?})", n + 1);
        let out = dir.join(format!("out-{n}"));
        if batches.check(&point, "", &out, || faults::arm(n as u64 + 1, fault)) {
            hurt += 1;
        }
    }
    // Most faults are retried away; the rest must have made a run fail, or this loop tests
    // nothing.
    assert!(
        hurt >= 3,
        "only {hurt} of {} faulted runs failed anything",
        steps.len()
    );
    eprintln!(
        "{} steps, {hurt} faulted runs left work for the next",
        steps.len()
    );
    std::fs::remove_dir_all(dir).unwrap();
}

/// The failure reported of the loop above ("4 POSTs, 0 possible duplicates" at a step that
/// fails a read of a document during its upload) was the loop's accounting: the POST's head
/// reached the emulator's counter, but its body was broken off, so the service made no task
/// and the batch rightly counted no possible duplicate.
#[test]
fn a_document_unreadable_during_its_upload_makes_no_task_and_is_submitted_once_more() {
    let _faults = FAULTS.lock().unwrap_or_else(|e| e.into_inner());
    let emulator = Emulator::start(&["--pending-ms", "0", "--processing-ms", "0"]);
    let client = Client::demo(&emulator);
    let dir = scratch_dir("batch-unreadable-upload");
    let docs = write_pdfs(&dir, 1);
    let out = dir.join("out");
    let batch = Batch::open(&client, &out).unwrap();
    batch.add_folder(&docs, TEXT).unwrap();
    // The inputs were hashed by the add: the run's first read of the document is its upload's,
    // after the request's head left.
    faults::arm_step(Step::FileRead, 1, Fault::Denied);
    let (code, _) = batch.run(1, &Options::fast(5, 3000));
    faults::disarm();
    assert_code(code, OCR_OK);
    let message = batch.message(0).unwrap_or_default();
    assert_eq!(
        (batch.state(0), batch.code(0)),
        (OCR_BATCH_FAILED, OCR_ERR_IO),
        "{message}"
    );
    assert_eq!(batch.task_id(0), None);
    assert_eq!(batch.possible_duplicates(0), 0, "{message}");
    drop(batch);

    let batch = Batch::open(&client, &out).unwrap();
    batch.add_folder(&docs, TEXT).unwrap();
    let (code, _) = batch.run(1, &Options::fast(5, 3000));
    assert_code(code, OCR_OK);
    assert_eq!(batch.state(0), OCR_BATCH_COMPLETED);
    assert_eq!(batch.possible_duplicates(0), 0);
    assert_eq!(tasks_made(&emulator), 1, "only the second POST made a task");
    // The broken-off POST counts among the emulator's requests in some runs only (when the
    // emulator read its head before the connection closed): the loop above, which counted
    // POSTs, failed now and then.
    let sent = posts(&emulator);
    assert!((1..=2).contains(&sent), "{sent} POSTs");
    std::fs::remove_dir_all(dir).unwrap();
}
