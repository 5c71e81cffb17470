//! The journal's cost per input, alone: the synced commits that a batch makes for each input
//! (src/batch/run.rs): its intent (`submitting`) before the POST, its task id after it, the
//! claim of its output name, and `completed` once the file is in place.
//!
//!     cargo bench -p ocrcloud --bench journal -- FOLDER INPUTS
//!
//! For 1 and 8 inputs per commit (one answer at a time, or 8 answered together), prints
//! `per_commit=K ms_per_input=X` on a fresh journal in FOLDER (which must be on the disk to
//! measure: the commits are synced). benches/bench_batch.py runs it.

use ocrcloud::batch::State;
use ocrcloud::batch::journal::{Journal, Row};
use std::path::Path;
use std::time::Instant;

fn row(i: usize) -> Row {
    Row {
        id: 0,
        path: format!("/inputs/doc-{i:05}.pdf"),
        size: 700,
        modified_ns: 1_700_000_000_000_000_000,
        sha256: format!("{i:064x}"),
        operation: "RecognizePdf".into(),
        settings_sha256: "0".repeat(64),
        state: State::Queued,
        task_id: None,
        submitted_at: None,
        outputs: Vec::new(),
        code: None,
        message: None,
        attempts: 0,
        possible_duplicates: 0,
        started_at: None,
        finished_at: None,
    }
}

/// Seconds per input of the four commits of `inputs` inputs, `per_commit` at a time.
fn per_input(folder: &Path, inputs: usize, per_commit: usize) -> f64 {
    let dir = folder.join(format!("per-commit-{per_commit}"));
    let output_dir = dir.join("out");
    std::fs::create_dir_all(&output_dir).expect("creating the bench folder");
    let mut journal =
        Journal::open(&dir.join("journal.sqlite"), &output_dir).expect("opening the journal");
    // The rows as added, in one commit (as a batch saves its inputs when it starts).
    let mut rows: Vec<Row> = (0..inputs).map(row).collect();
    let ids = journal
        .write(|w| {
            rows.iter()
                .map(|r| w.put(r))
                .collect::<Result<Vec<i64>, _>>()
        })
        .expect("adding the rows");
    for (row, id) in rows.iter_mut().zip(ids) {
        row.id = id;
    }
    let started = Instant::now();
    for chunk in rows.chunks_mut(per_commit) {
        for row in chunk.iter_mut() {
            row.state = State::Submitting;
            row.attempts = 1;
        }
        journal
            .write(|w| chunk.iter().try_for_each(|r| w.put(r).map(drop)))
            .expect("the intents");
        for row in chunk.iter_mut() {
            row.state = State::Submitted;
            row.task_id = Some(format!("{:032x}", row.id));
        }
        journal
            .write(|w| chunk.iter().try_for_each(|r| w.put(r).map(drop)))
            .expect("the task ids");
        for row in chunk.iter_mut() {
            row.outputs = vec![format!("doc-{:05}.pdf", row.id)];
        }
        journal
            .write(|w| {
                chunk
                    .iter()
                    .try_for_each(|r| w.claim_output(&r.outputs[0], r.id))
            })
            .expect("the claims");
        for row in chunk.iter_mut() {
            row.state = State::Completed;
        }
        journal
            .write(|w| chunk.iter().try_for_each(|r| w.put(r).map(drop)))
            .expect("the completions");
    }
    started.elapsed().as_secs_f64() / inputs as f64
}

fn main() {
    // `cargo bench` passes `--bench` to a bench without the test harness.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let [folder, inputs] = args.as_slice() else {
        eprintln!("usage: journal FOLDER INPUTS");
        std::process::exit(2);
    };
    let inputs: usize = inputs.parse().expect("INPUTS is a number");
    for per_commit in [1, 8] {
        let seconds = per_input(Path::new(folder), inputs, per_commit);
        println!(
            "per_commit={per_commit} ms_per_input={:.4}",
            seconds * 1000.0
        );
    }
}
