//! The batch under a failure at every I/O step, in the manner of SQLite's I/O-error loops
//! (see tests/fault_loop.rs): one run counts the steps of a small batch (reading the inputs,
//! connects, writes, reads, the result files and their renames); then, for each step N, a fresh
//! batch runs with step N failed, and a second run without faults must finish it. After each
//! point:
//!
//! - the faulted run ended with a documented code (or `OCR_OK` with failed inputs);
//! - the second run ends `OCR_OK` with every input completed, each result the emulator's text
//!   for that very input;
//! - no temporary file is left in the output folder;
//! - the tasks both runs made on the service (the emulator's `tasks_submitted`) exceed the
//!   inputs by at most the possible duplicates the batch counted. Tasks, not POSTs: a POST
//!   whose body was broken off (the document could not be read part way through its upload)
//!   reached the service's counter of requests but made no task, and is no duplicate.
//!
//! Faults are process-wide: each test of this file holds [`FAULTS`], so that none runs beside
//! another.

mod common;

use common::*;
use ocrcloud::batch::inputs::sha256_hex;
use ocrcloud::faults::{self, Fault, Step};
use ocrcloud::ffi::*;
use std::path::Path;
use std::sync::Mutex;

/// Held by each test while it arms faults.
static FAULTS: Mutex<()> = Mutex::new(());

const INPUTS: usize = 3;
const TEXT: Option<&str> = Some(r#"{"resultType":"Text"}"#);

/// Runs one batch over `docs` into `out`; answers its code, the possible duplicates and how
/// many inputs it completed.
fn run_batch(client: &Client, docs: &Path, out: &Path) -> (ocr_code, u32, usize) {
    let batch = match Batch::open(client, out) {
        Ok(batch) => batch,
        Err(code) => return (code, 0, 0),
    };
    if let Err(code) = batch.add_folder(docs, TEXT) {
        return (code, 0, 0);
    }
    let (code, _) = batch.run(1, &Options::fast(5, 3000));
    let duplicates = (0..batch.size())
        .map(|i| batch.possible_duplicates(i))
        .sum();
    (code, duplicates, batch.count(OCR_BATCH_COMPLETED))
}

fn posts(emulator: &Emulator) -> u64 {
    emulator.count("POST /v5.0/ocr/RecognizePdf")
}

/// The tasks that submissions made on the emulator: the billed submissions.
fn tasks_made(emulator: &Emulator) -> u64 {
    emulator.stats()["tasks_submitted"].as_u64().unwrap()
}

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

    faults::count();
    let (code, _, _) = run_batch(&client, &docs, &dir.join("count"));
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

    let documented = [
        OCR_OK,
        OCR_ERR_NETWORK,
        OCR_ERR_TIMEOUT,
        OCR_ERR_IO,
        OCR_ERR_PROTOCOL,
        OCR_ERR_HTTP,
    ];
    let mut hurt = 0;
    for (n, step) in steps.iter().enumerate() {
        let fitting: Vec<Fault> = Fault::ALL.into_iter().filter(|f| f.fits(*step)).collect();
        let fault = fitting[n % fitting.len()];
        let point = format!("step {} ({step:?}, {fault:?})", n + 1);
        let out = dir.join(format!("out-{n}"));
        let before = (posts(&emulator), tasks_made(&emulator));
        faults::arm(n as u64 + 1, fault);
        let (code, first_duplicates, completed) = run_batch(&client, &docs, &out);
        faults::disarm();
        if code != OCR_OK || completed < INPUTS {
            hurt += 1;
        }
        assert!(
            documented.contains(&code),
            "{point}: {} {}",
            name(code),
            last_error()
        );

        let batch = Batch::open(&client, &out).unwrap();
        batch.add_folder(&docs, TEXT).unwrap();
        let (code, _) = batch.run(1, &Options::fast(5, 3000));
        assert_code(code, OCR_OK);
        assert_eq!(batch.count(OCR_BATCH_COMPLETED), INPUTS, "{point}");
        for index in 0..INPUTS {
            let input = std::fs::read(batch.path(index).unwrap()).unwrap();
            let text = std::fs::read_to_string(&batch.outputs(index)[0]).unwrap();
            assert!(text.contains(&sha256_hex(&input)), "{point}: {text}");
        }
        assert_eq!(
            temporary_files(&out),
            Vec::<std::path::PathBuf>::new(),
            "{point}"
        );
        let duplicates: u32 = (0..INPUTS).map(|i| batch.possible_duplicates(i)).sum();
        let sent = posts(&emulator) - before.0;
        let made = tasks_made(&emulator) - before.1;
        assert!(
            made <= INPUTS as u64 + u64::from(duplicates.max(first_duplicates)),
            "{point}: {made} tasks made ({sent} POSTs), {duplicates} possible duplicates"
        );
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
