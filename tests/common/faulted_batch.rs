//! The fault loop of a batch, shared by tests/batch_faults.rs (the SQLite journal) and
//! tests/shared_batch.rs (PostgreSQL): for each fault point a fresh batch runs with the point
//! armed, then a second run without faults must finish it:
//!
//! - the faulted run ended with a documented code (or `OCR_OK` with failed inputs);
//! - the second run ends `OCR_OK` with every input completed, each result the emulator's text
//!   for that very input;
//! - no temporary file is left in the output folder;
//! - the tasks both runs made on the service (the emulator's `tasks_submitted`) exceed the
//!   inputs by at most the possible duplicates the batch counted.

use super::{Batch, Emulator, Options, assert_code, last_error, name, temporary_files};
use ocrcloud::batch::inputs::sha256_hex;
use ocrcloud::faults;
use ocrcloud::ffi::*;
use std::path::{Path, PathBuf};

/// A small batch for the loop: the documents of `docs` (`inputs` of them) with `settings`,
/// opened by `open(batch name, output folder)` and run with one job, polls every 5 ms up to
/// `poll_ms`; a faulted run may end with one of `documented`.
pub struct FaultLoop<'a> {
    pub emulator: &'a Emulator,
    pub docs: &'a Path,
    pub inputs: usize,
    pub settings: Option<&'a str>,
    pub poll_ms: u32,
    pub documented: &'a [ocr_code],
    pub open: &'a dyn Fn(&str, &Path) -> Result<Batch, ocr_code>,
}

impl FaultLoop<'_> {
    /// Runs batch `batch_name` into `out` once: its code, the possible duplicates it counted
    /// and how many inputs it completed.
    pub fn run(&self, batch_name: &str, out: &Path) -> (ocr_code, u32, usize) {
        let batch = match (self.open)(batch_name, out) {
            Ok(batch) => batch,
            Err(code) => return (code, 0, 0),
        };
        if let Err(code) = batch.add_folder(self.docs, self.settings) {
            return (code, 0, 0);
        }
        let (code, _) = batch.run(1, &Options::fast(5, self.poll_ms));
        let duplicates = (0..batch.size())
            .map(|i| batch.possible_duplicates(i))
            .sum();
        (code, duplicates, batch.count(OCR_BATCH_COMPLETED))
    }

    /// One fault point, named `point` in failures: `arm` arms it, batch `batch_name` runs
    /// into `out`, the faults are disarmed, and a second run must finish the batch with every
    /// invariant above. Answers whether the faulted run left work for the second (it failed,
    /// or some input did).
    pub fn check(&self, point: &str, batch_name: &str, out: &Path, arm: impl FnOnce()) -> bool {
        let before = (posts(self.emulator), tasks_made(self.emulator));
        arm();
        let (code, first_duplicates, completed) = self.run(batch_name, out);
        faults::disarm();
        assert!(
            self.documented.contains(&code),
            "{point}: {} {}",
            name(code),
            last_error()
        );

        let batch = (self.open)(batch_name, out).unwrap();
        batch.add_folder(self.docs, self.settings).unwrap();
        let (again, _) = batch.run(1, &Options::fast(5, self.poll_ms));
        assert_code(again, OCR_OK);
        assert_eq!(batch.count(OCR_BATCH_COMPLETED), self.inputs, "{point}");
        for index in 0..self.inputs {
            let input = std::fs::read(batch.path(index).unwrap()).unwrap();
            let text = std::fs::read_to_string(&batch.outputs(index)[0]).unwrap();
            assert!(text.contains(&sha256_hex(&input)), "{point}: {text}");
        }
        assert_eq!(temporary_files(out), Vec::<PathBuf>::new(), "{point}");
        let duplicates: u32 = (0..self.inputs).map(|i| batch.possible_duplicates(i)).sum();
        let sent = posts(self.emulator) - before.0;
        let made = tasks_made(self.emulator) - before.1;
        assert!(
            made <= self.inputs as u64 + u64::from(duplicates.max(first_duplicates)),
            "{point}: {made} tasks made ({sent} POSTs), {duplicates} possible duplicates"
        );
        code != OCR_OK || completed < self.inputs
    }
}

/// The submissions that reached the emulator.
pub fn posts(emulator: &Emulator) -> u64 {
    emulator.count("POST /v5.0/ocr/RecognizePdf")
}

/// The tasks that submissions made on the emulator: the billed submissions. (A POST whose body
/// was broken off reached the emulator's counter of requests but made no task.)
pub fn tasks_made(emulator: &Emulator) -> u64 {
    emulator.stats()["tasks_submitted"].as_u64().unwrap()
}
