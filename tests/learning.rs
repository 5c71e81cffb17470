//! The learned poll schedule through the C API against the emulator: after 20 tasks of an
//! operation the client asks fewer times for the same tasks, in single polls and `ocr_poll_many`
//! alike; learning off keeps the fixed schedule; a batch keeps what it learned in its journal,
//! so that a rerun with a new client starts informed (and journals written before that table
//! gain it). Requests are counted, never timed.

mod common;

use common::*;
use ocrcloud::ffi::*;

// SAFETY: many polls may read one options object at once (ocrcloud.h); these tests only read
// them while polling.
unsafe impl Sync for Options {}

const TEXT: Option<&str> = Some(r#"{"resultType":"Text"}"#);

/// Tasks of 1.5 s: the fixed schedule asks at once and after 3 s (two requests), a learned one
/// with a high request cost asks once, a little after 1.5 s. (With the default cost of 0.5 s a
/// plan may ask twice to save waiting; a cost of 5 s makes one request the clear best, so that
/// the count does not depend on how fast the machine answers.)
const TASK_MS: &str = "1500";

/// Submits `count` tasks, each polled by its own thread with `options` (NULL: the defaults);
/// answers the requests each task took, as the emulator counted them.
fn poll_each(
    emulator: &Emulator,
    client: &Client,
    count: usize,
    options: Option<&Options>,
) -> Vec<u64> {
    let ids: Vec<String> = std::thread::scope(|scope| {
        let threads: Vec<_> = (0..count)
            .map(|n| {
                scope.spawn(move || {
                    let id = client.submit(None, &small_pdf(n), TEXT).unwrap();
                    client.poll(None, &id, options).unwrap();
                    id
                })
            })
            .collect();
        threads.into_iter().map(|t| t.join().unwrap()).collect()
    });
    polls(emulator, &ids)
}

/// Submits `count` tasks, then polls them together with `ocr_poll_many`.
fn poll_together(
    emulator: &Emulator,
    client: &Client,
    count: usize,
    options: Option<&Options>,
) -> Vec<u64> {
    let ids: Vec<String> = (0..count)
        .map(|n| client.submit(None, &small_pdf(n), TEXT).unwrap())
        .collect();
    let (code, outcomes) = client.poll_many(None, &ids, options);
    assert_code(code, OCR_OK);
    assert!(outcomes.iter().all(|(code, _)| *code == OCR_OK));
    polls(emulator, &ids)
}

/// Rounds of tasks after the warm-up: the first plans spread their requests over what the
/// fixed schedule saw ("done within 3 s"), and their answers narrow what the next plans know.
fn learn_more(emulator: &Emulator, client: &Client) {
    for _ in 0..4 {
        poll_each(emulator, client, 8, Some(&costly()));
    }
}

fn polls(emulator: &Emulator, ids: &[String]) -> Vec<u64> {
    ids.iter()
        .map(|id| emulator.task(id)["polls"].as_u64().unwrap())
        .collect()
}

fn mean(counts: &[u64]) -> f64 {
    counts.iter().sum::<u64>() as f64 / counts.len() as f64
}

/// Default options, but a request is worth 5 s of waiting.
fn costly() -> Options {
    let options = Options(ocr_poll_options_new());
    assert_code(
        unsafe { ocr_poll_options_set_request_cost(options.0, 5.0) },
        OCR_OK,
    );
    options
}

fn learning(on: bool) -> Options {
    let options = Options(ocr_poll_options_new());
    assert_code(
        unsafe { ocr_poll_options_set_learning(options.0, u8::from(on)) },
        OCR_OK,
    );
    options
}

#[test]
fn after_twenty_tasks_polls_ask_fewer_times_and_learning_off_does_not() {
    let emulator = Emulator::start(&["--pending-ms", "0", "--processing-ms", TASK_MS]);
    let client = Client::demo(&emulator);
    let warm_up = poll_each(&emulator, &client, 20, None);
    learn_more(&emulator, &client);
    let learned = poll_each(&emulator, &client, 20, Some(&costly()));
    assert!(
        mean(&learned) <= 1.5 && learned.iter().sum::<u64>() < warm_up.iter().sum::<u64>(),
        "warm-up {warm_up:?}, learned {learned:?}"
    );
    // poll_many learns from, and plans with, the same durations.
    let together = poll_together(&emulator, &client, 20, Some(&costly()));
    assert!(
        mean(&together) <= 1.5,
        "poll_many after warm-up {together:?}"
    );
    // Learning off: the fixed schedule, as before any learning.
    let fixed = poll_together(&emulator, &client, 20, Some(&learning(false)));
    assert!(
        fixed.iter().sum::<u64>() > together.iter().sum::<u64>(),
        "learning off {fixed:?}, on {together:?}"
    );
    // An explicit interval keeps its meaning too.
    let explicit = Options(ocr_poll_options_new());
    assert_code(
        unsafe { ocr_poll_options_set_interval_ms(explicit.0, 3000) },
        OCR_OK,
    );
    let fixed = poll_each(&emulator, &client, 10, Some(&explicit));
    assert!(mean(&fixed) > 1.5, "explicit interval {fixed:?}");
}

#[test]
fn poll_many_warms_up_single_polls_on_the_same_client_only() {
    let emulator = Emulator::start(&["--pending-ms", "0", "--processing-ms", TASK_MS]);
    let client = Client::demo(&emulator);
    let warm_up = poll_together(&emulator, &client, 20, Some(&learning(true)));
    learn_more(&emulator, &client);
    let learned = poll_each(&emulator, &client, 10, Some(&costly()));
    assert!(
        mean(&learned) <= 1.5 && mean(&learned) < mean(&warm_up),
        "warm-up {warm_up:?}, learned {learned:?}"
    );
    // Another client has learned nothing.
    let other = Client::demo(&emulator);
    let fresh = poll_each(&emulator, &other, 10, Some(&costly()));
    assert!(
        mean(&fresh) > mean(&learned),
        "fresh {fresh:?}, learned {learned:?}"
    );
}

/// Runs a batch of the documents under `docs` on a new client; answers the requests per task.
fn batch_polls(emulator: &Emulator, docs: &std::path::Path, out: &std::path::Path) -> Vec<u64> {
    let client = Client::demo(emulator);
    let batch = Batch::open(&client, out).unwrap();
    let added = batch.add_folder(docs, TEXT).unwrap();
    let (code, _) = batch.run(8, &learning(true));
    assert_code(code, OCR_OK);
    let ids: Vec<String> = (0..added)
        .filter(|&i| !batch.skipped(i))
        .map(|i| batch.task_id(i).unwrap())
        .collect();
    polls(emulator, &ids)
}

#[test]
fn a_batch_keeps_what_it_learned_so_that_a_rerun_with_a_new_client_starts_informed() {
    // Tasks of 4 s: the fixed batch schedule asks after 3 s and 7.5 s, a learned one once.
    let emulator = Emulator::start(&["--pending-ms", "0", "--processing-ms", "4000"]);
    let dir = scratch_dir("learning-batch");
    let out = dir.join("out");
    let docs = write_pdfs(&dir, 24);
    let first = batch_polls(&emulator, &docs, &out);
    let journal = out.join(".ocrcloud").join("journal.sqlite");
    let db = rusqlite::Connection::open(&journal).unwrap();
    let (operation, observations): (String, String) = db
        .query_row("SELECT operation, observations FROM learned", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    drop(db);
    let observations: Vec<(f64, f64)> = serde_json::from_str(&observations).unwrap();
    assert_eq!(operation, "RecognizePdf");
    assert_eq!(observations.len(), 24);
    assert!(
        observations
            .iter()
            .all(|&(lo, hi)| lo < 4.5 && hi > 3.5 && lo < hi)
    );
    // New inputs, a new client, the same journal: informed from the first task.
    std::fs::remove_dir_all(&docs).unwrap();
    let more = dir.join("more");
    std::fs::rename(write_pdfs(&more, 24), &docs).unwrap();
    for n in 0..24 {
        let name = docs.join(format!(
            "{}doc-{n}.pdf",
            if n % 2 == 1 { "sub/" } else { "" }
        ));
        std::fs::write(name, format!("%PDF-1.4\n% rerun {n}\n%%EOF\n")).unwrap();
    }
    let rerun = batch_polls(&emulator, &docs, &out);
    assert!(
        mean(&rerun) <= 1.5 && mean(&rerun) < mean(&first),
        "first run {first:?}, rerun {rerun:?}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_journal_written_before_the_learned_table_gains_it() {
    let emulator = Emulator::start(&["--pending-ms", "0", "--processing-ms", "10"]);
    let client = Client::demo(&emulator);
    let dir = scratch_dir("learning-schema");
    let out = dir.join("out");
    drop(Batch::open(&client, &out).unwrap());
    let journal = out.join(".ocrcloud").join("journal.sqlite");
    let db = rusqlite::Connection::open(&journal).unwrap();
    db.execute_batch("DROP TABLE learned;").unwrap();
    drop(db);
    let docs = write_pdfs(&dir, 2);
    let batch = Batch::open(&client, &out).unwrap();
    batch.add_folder(&docs, TEXT).unwrap();
    let (code, _) = batch.run(2, &learning(true));
    assert_code(code, OCR_OK);
    drop(batch);
    let db = rusqlite::Connection::open(&journal).unwrap();
    let version: i32 = db
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    let rows: i64 = db
        .query_row("SELECT count(*) FROM learned", [], |r| r.get(0))
        .unwrap();
    // The version stays: an older library reads such a journal as before.
    assert_eq!((version, rows), (1, 1));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_learned_row_that_is_not_text_is_skipped_and_the_journal_still_opens() {
    // `learned()` promises that rows it cannot read are skipped; a value of another type (a
    // BLOB, a number: what a newer library or a damaged file may hold) must not refuse the
    // whole journal.
    let emulator = Emulator::start(&["--pending-ms", "0", "--processing-ms", "10"]);
    let client = Client::demo(&emulator);
    let dir = scratch_dir("learning-garbage");
    let out = dir.join("out");
    drop(Batch::open(&client, &out).unwrap());
    let journal = out.join(".ocrcloud").join("journal.sqlite");
    let db = rusqlite::Connection::open(&journal).unwrap();
    db.execute_batch(
        "INSERT INTO learned VALUES ('RecognizePdf', X'00ff', 0);
         INSERT INTO learned VALUES ('RecognizeImage', 42, 0);
         INSERT INTO learned VALUES ('RecognizeReceipt', '{not json', 0);
         INSERT INTO learned VALUES ('RecognizeRegions', '[[5, 1], [-1, 2], [1, 1]]', 0);",
    )
    .unwrap();
    drop(db);
    let docs = write_pdfs(&dir, 2);
    let batch = Batch::open(&client, &out).unwrap();
    batch.add_folder(&docs, TEXT).unwrap();
    let (code, _) = batch.run(2, &learning(true));
    assert_code(code, OCR_OK);
    drop(batch);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_learned_table_of_another_layout_neither_refuses_the_journal_nor_fails_the_run() {
    // The schema version stays when the table is added, so a journal may hold a `learned`
    // table laid out by another version of the library: what was learned is then not read or
    // written, and the batch itself works as before.
    let emulator = Emulator::start(&["--pending-ms", "0", "--processing-ms", "10"]);
    let client = Client::demo(&emulator);
    let dir = scratch_dir("learning-layout");
    let out = dir.join("out");
    drop(Batch::open(&client, &out).unwrap());
    let journal = out.join(".ocrcloud").join("journal.sqlite");
    let db = rusqlite::Connection::open(&journal).unwrap();
    db.execute_batch(
        "DROP TABLE learned;
         CREATE TABLE learned (operation TEXT PRIMARY KEY, model BLOB NOT NULL);
         INSERT INTO learned VALUES ('RecognizePdf', X'0102');",
    )
    .unwrap();
    drop(db);
    let docs = write_pdfs(&dir, 2);
    let batch = Batch::open(&client, &out).unwrap();
    batch.add_folder(&docs, TEXT).unwrap();
    let (code, _) = batch.run(2, &learning(true));
    assert_code(code, OCR_OK);
    drop(batch);
    let db = rusqlite::Connection::open(&journal).unwrap();
    let model: Vec<u8> = db
        .query_row("SELECT model FROM learned", [], |r| r.get(0))
        .unwrap();
    assert_eq!(model, [1, 2], "another version's row is left alone");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn many_threads_with_different_costs_and_poll_many_share_one_learning_client() {
    // One client's durations under every path at once: single polls with six request costs
    // (more than the plans kept per operation), ocr_poll_many, while each finished task refits
    // the model. Every poll ends with its task's result: no deadlock, no lost answer.
    let emulator = Emulator::start(&["--pending-ms", "0", "--processing-ms", "300"]);
    let client = Client::demo(&emulator);
    poll_each(&emulator, &client, 24, None);
    let costs = [0.0, 0.1, 0.5, 1.0, 5.0, 1e300];
    std::thread::scope(|scope| {
        for cost in costs {
            let client = &client;
            let emulator = &emulator;
            scope.spawn(move || {
                let options = Options(ocr_poll_options_new());
                assert_code(
                    unsafe { ocr_poll_options_set_request_cost(options.0, cost) },
                    OCR_OK,
                );
                let counts = poll_each(emulator, client, 6, Some(&options));
                assert!(counts.iter().all(|&n| n >= 1), "cost {cost}: {counts:?}");
            });
        }
        scope.spawn(|| {
            let counts = poll_together(&emulator, &client, 24, Some(&learning(true)));
            assert!(counts.iter().all(|&n| n >= 1), "{counts:?}");
        });
    });
}

/// The batch counts a poll as sent when its worker sends it, not when the scheduler hands it
/// over. One worker, kept busy by submissions that the emulator answers after 300 ms, leaves
/// polls waiting in its queue; counted from the hand-over, a learned schedule asked a task
/// again as soon as the answer of a poll that had waited came back, within 200 ms of it. The
/// emulator measures the gaps between the polls of each task as they arrive.
#[test]
fn a_batch_never_asks_a_task_again_within_200_ms_when_its_polls_wait_for_the_worker() {
    // Tasks of 0.6 s give or take: a plan asks most of them more than once.
    let emulator = Emulator::start(&[
        "--pending-ms",
        "0",
        "--processing-ms",
        "600",
        "--processing-sigma",
        "0.6",
        "--seed",
        "25",
    ]);
    let client = Client::demo(&emulator);
    // Learned first (20 tasks make a plan), so that the batch polls by the learned schedule.
    poll_each(&emulator, &client, 24, None);
    emulator.fault(serde_json::json!({
        "path": "/v5.0/ocr/RecognizePdf", "method": "POST", "kind": "delay", "ms": 300,
        "count": 1000
    }));
    let dir = scratch_dir("learning-batch-gaps");
    let out = dir.join("out");
    let docs = write_pdfs(&dir, 30);
    let batch = Batch::open(&client, &out).unwrap();
    let added = batch.add_folder(&docs, TEXT).unwrap();
    let (code, _) = batch.run(1, &learning(true));
    assert_code(code, OCR_OK);
    let gaps: Vec<f64> = (0..added)
        .filter_map(|i| emulator.task(&batch.task_id(i).unwrap())["shortestPollGapMs"].as_f64())
        .collect();
    assert!(!gaps.is_empty(), "no task was polled twice");
    // The emulator sees a poll a little after it was sent, so a gap may look shorter than
    // the 200 ms the client kept; the gaps of the defect were a few milliseconds.
    let shortest = gaps.iter().copied().fold(f64::INFINITY, f64::min);
    assert!(
        shortest >= 100.0,
        "gaps between polls of one task (ms): {gaps:?}"
    );
    drop(batch);
    std::fs::remove_dir_all(dir).unwrap();
}
