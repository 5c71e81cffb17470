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
//! - the POSTs of both runs exceed the inputs by at most the possible duplicates the batch
//!   counted.
//!
//! Faults are process-wide: this file holds one test, so that nothing else runs beside it.

mod common;

use common::*;
use ocrcloud::batch::inputs::sha256_hex;
use ocrcloud::faults::{self, Fault, Step};
use ocrcloud::ffi::*;
use std::path::Path;

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

#[test]
fn a_batch_failed_at_any_step_finishes_on_the_next_run_with_no_extra_submission() {
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
        let before = posts(&emulator);
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
        let sent = posts(&emulator) - before;
        assert!(
            sent <= INPUTS as u64 + u64::from(duplicates.max(first_duplicates)),
            "{point}: {sent} POSTs, {duplicates} possible duplicates"
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
