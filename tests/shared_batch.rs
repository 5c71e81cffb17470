//! The shared batch journal against a real PostgreSQL (tests/common/postgres.rs starts one per
//! test): claims never give one input to two live leases, a stale lease token changes nothing,
//! a newer schema is refused, the password is in no message, a database restart mid-run
//! loses nothing, and a fault at each of the journal's statements in turn leaves a batch that
//! the next run finishes without an extra submission. (The multi-process kill suite and the
//! benchmark are tests/shared_kill.rs and benches/, written against the same contract.)

mod common;

use common::faulted_batch::FaultLoop;
use common::postgres::{Postgres, new_inputs};
use common::*;
use ocrcloud::batch::inputs::sha256_hex;
use ocrcloud::batch::shared::db::{self, Pool, Target};
use ocrcloud::batch::shared::journal::{Claim, Journal};
use ocrcloud::faults::{self, Fault, Step};
use ocrcloud::ffi::*;
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const TEXT: Option<&str> = Some(r#"{"resultType":"Text"}"#);
/// Faults are process-wide: every test of this file holds this, so that the statements of
/// one never meet the faults another arms.
static FAULTS: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    FAULTS.lock().unwrap_or_else(|e| e.into_inner())
}

fn register(journal: &mut Journal, count: usize) {
    register_as(journal, count, "0");
}

#[test]
fn claims_never_give_one_input_to_two_live_leases() {
    let _serial = serial();
    let pg = Postgres::start();
    const INPUTS: usize = 300;
    register(&mut pg.journal("race", "setup"), INPUTS);
    // Every worker claims once before any claims again (8 x 3 of 300 inputs), so that all of
    // them race however fast one of them is; the first claims start together.
    let start = std::sync::Barrier::new(8);
    let first_claims = std::sync::Barrier::new(8);
    let claims: Vec<Vec<Claim>> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..8)
            .map(|w| {
                let (pg, start, first_claims) = (&pg, &start, &first_claims);
                scope.spawn(move || {
                    let mut mine = pg.journal("race", &format!("worker-{w}"));
                    let mut got = Vec::new();
                    start.wait();
                    loop {
                        let claimed = mine.claim(3, Duration::from_secs(600), None).unwrap();
                        if got.is_empty() {
                            first_claims.wait();
                        }
                        if claimed.is_empty() {
                            return got;
                        }
                        got.extend(claimed);
                    }
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    let mut holders: HashMap<String, usize> = HashMap::new();
    for (worker, claimed) in claims.iter().enumerate() {
        for claim in claimed {
            if let Some(other) = holders.insert(claim.input.clone(), worker) {
                panic!("{} leased to workers {other} and {worker}", claim.input);
            }
            assert_eq!(claim.token, 1, "{claim:?}");
        }
    }
    assert_eq!(holders.len(), INPUTS, "every input leased once");
    assert!(
        claims.iter().all(|c| !c.is_empty()),
        "every worker got inputs: {:?}",
        claims.iter().map(Vec::len).collect::<Vec<_>>()
    );
    let leased =
        pg.sql("SELECT count(*) FROM ocrcloud_inputs WHERE batch = 'race' AND lease_until > now()");
    assert_eq!(leased.trim(), INPUTS.to_string());
}

#[test]
fn a_stale_lease_token_changes_nothing() {
    let _serial = serial();
    let pg = Postgres::start();
    let mut first = pg.journal("stale", "first");
    register(&mut first, 1);
    let old = first
        .claim(1, Duration::from_secs(600), None)
        .unwrap()
        .remove(0);
    // The lease runs out (as when its worker stops renewing it), and another worker claims.
    pg.sql("UPDATE ocrcloud_inputs SET lease_until = now() - interval '1 second'");
    let mut second = pg.journal("stale", "second");
    let new = second
        .claim(1, Duration::from_secs(600), None)
        .unwrap()
        .remove(0);
    assert_eq!(
        (new.input.as_str(), new.token),
        (old.input.as_str(), old.token + 1)
    );
    let before = pg.sql("SELECT * FROM ocrcloud_inputs");

    // Every write of the first worker is fenced away, even by its own name.
    assert!(
        !first
            .fenced(&old, "state = 'failed', message = 'stale'", &[], None)
            .unwrap()
    );
    assert!(
        !first
            .claim_outputs(&old, &["a.txt".into()], Duration::from_secs(60), None)
            .unwrap()
    );
    let same_owner_old_token = Claim {
        token: old.token,
        ..new.clone()
    };
    assert!(
        !second
            .fenced(&same_owner_old_token, "state = 'failed'", &[], None)
            .unwrap()
    );
    assert_eq!(pg.sql("SELECT * FROM ocrcloud_inputs"), before);
    assert_eq!(pg.sql("SELECT count(*) FROM ocrcloud_outputs").trim(), "0");
    // The live lease writes.
    assert!(
        second
            .fenced(&new, "state = 'submitting'", &[], None)
            .unwrap()
    );
}

/// Inputs `in/0000.pdf`... with content hash `sha256`, registered by `journal`.
fn register_as(journal: &mut Journal, count: usize, sha256: &str) -> Vec<(String, String, i32)> {
    let names: Vec<String> = (0..count).map(|n| format!("in/{n:04}.pdf")).collect();
    let records = journal.register(&new_inputs(&names, sha256), None).unwrap();
    records
        .into_iter()
        .map(|r| (r.input, r.state.name().to_string(), r.possible_duplicates))
        .collect()
}

#[test]
fn registering_locks_no_unchanged_row_and_a_changed_input_in_flight_counts_a_duplicate() {
    let _serial = serial();
    let pg = Postgres::start();
    let mut first = pg.journal("changed", "first");
    register_as(&mut first, 3, "old");
    let lease = Duration::from_secs(600);
    let claims = first.claim(3, lease, None).unwrap();
    let claim = |name: &str| claims.iter().find(|c| c.input == name).unwrap();
    // 0000: its POST is in flight; 0001: its task is being polled; 0002: completed.
    for (name, set) in [
        ("in/0000.pdf", "state = 'submitting', submissions = 1"),
        (
            "in/0001.pdf",
            "state = 'submitted', submissions = 1, task_id = 'task-1', submitted_at = now()",
        ),
        ("in/0002.pdf", "state = 'completed', submissions = 1"),
    ] {
        assert!(first.fenced(claim(name), set, &[], None).unwrap());
    }

    // Another worker registers the same inputs, unchanged, while a transaction holds a lock
    // on every row: it reads them and waits for none (it took turns with the lock before).
    let mut locker = ::postgres::Client::connect(&pg.url, ::postgres::NoTls).unwrap();
    let mut holding = locker.transaction().unwrap();
    holding
        .execute("SELECT 1 FROM ocrcloud_inputs FOR UPDATE", &[])
        .unwrap();
    let (sent, registered) = std::sync::mpsc::channel();
    let url = pg.url.clone();
    let waiting = std::thread::spawn(move || {
        let pool = Arc::new(Pool::new(Target::parse(&url).unwrap(), 1));
        let mut second = Journal {
            pool,
            batch: "changed".to_string(),
            owner: "second".to_string(),
        };
        let _ = sent.send(register_as(&mut second, 3, "old"));
    });
    let unchanged = registered.recv_timeout(Duration::from_secs(120));
    holding.rollback().unwrap();
    waiting.join().unwrap();
    let unchanged = unchanged.expect("registering unchanged inputs waited on a row lock");
    assert_eq!(
        unchanged,
        [
            ("in/0000.pdf".to_string(), "submitting".to_string(), 0),
            ("in/0001.pdf".to_string(), "submitted".to_string(), 0),
            ("in/0002.pdf".to_string(), "completed".to_string(), 0),
        ]
    );

    // Changed while in flight: queued again, and the task that the POST in flight (or the one
    // being polled) made counts as a possible duplicate; a completed one counts none.
    let mut second = pg.journal("changed", "second");
    let changed = register_as(&mut second, 3, "new");
    assert_eq!(
        changed,
        [
            ("in/0000.pdf".to_string(), "queued".to_string(), 1),
            ("in/0001.pdf".to_string(), "queued".to_string(), 1),
            ("in/0002.pdf".to_string(), "queued".to_string(), 0),
        ]
    );
    // The worker whose POST was in flight lost its lease: its task id is not recorded.
    assert!(
        !first
            .fenced(
                claim("in/0000.pdf"),
                "state = 'submitted', task_id = 'late'",
                &[],
                None
            )
            .unwrap()
    );
    // Registered again as it is now: nothing changes, nothing more is counted.
    assert_eq!(register_as(&mut second, 3, "new"), changed);
}

/// Workers that join a running batch together count each other while they join: each ends
/// with the share that counts all of them. (Each used to wait for the others' first regular
/// beat, which none of them sent while joining, and so kept the share of its first beat: one
/// of three joining beside a running worker kept a third of the rate.)
#[test]
fn workers_joining_together_count_each_other_before_their_first_request() {
    use ocrcloud::batch::shared::heartbeat::Heart;
    let _serial = serial();
    let pg = Postgres::start();
    let _ = pg.journal("joining", "prepare");
    let mut sql = ::postgres::Client::connect(&pg.url, ::postgres::NoTls).unwrap();
    sql.execute(
        "INSERT INTO ocrcloud_workers (batch, worker, host, pid, jobs) \
         VALUES ('joining', 'running', 'elsewhere', 1, 1)",
        &[],
    )
    .unwrap();
    let total = 300.0;
    let shares: Vec<f64> = std::thread::scope(|scope| {
        let joining: Vec<_> = (0..3)
            .map(|n| {
                let url = pg.url.clone();
                scope.spawn(move || {
                    let client = ocrcloud::client::Client::new(
                        Some("http://127.0.0.1:9"),
                        ocrcloud::auth::Auth::None,
                    )
                    .unwrap();
                    let held = Mutex::new(Vec::new());
                    let owner = format!("joiner-{n}");
                    let mut heart = Heart {
                        link: db::Link::new(Target::parse(&url).unwrap()),
                        batch: "joining",
                        owner: &owner,
                        jobs: 1,
                        lease: Duration::from_secs(60),
                        client: &client,
                        held: &held,
                    };
                    heart.join(Some(total), None);
                    client.flow().max_rate().expect("a share")
                })
            })
            .collect();
        // The running worker beats once all three joined, as its heartbeat would.
        while sql
            .query_one(
                "SELECT count(*) FROM ocrcloud_workers WHERE worker LIKE 'joiner-%'",
                &[],
            )
            .unwrap()
            .get::<_, i64>(0)
            < 3
        {
            std::thread::sleep(Duration::from_millis(20));
        }
        sql.execute(
            "UPDATE ocrcloud_workers SET seen_at = now() WHERE worker = 'running'",
            &[],
        )
        .unwrap();
        joining.into_iter().map(|j| j.join().unwrap()).collect()
    });
    assert_eq!(
        shares,
        [total / 4.0; 3],
        "each of 4 live workers takes a quarter"
    );
}

#[test]
fn a_batch_runs_through_the_c_api_and_a_rerun_sends_nothing() {
    let _serial = serial();
    let pg = Postgres::start();
    let emulator = Emulator::start(&["--pending-ms", "0", "--processing-ms", "0"]);
    let client = Client::demo(&emulator);
    let dir = scratch_dir("shared-run");
    let docs = write_pdfs(&dir, 6);
    let out = dir.join("out");
    let run = || {
        let batch = Batch::open_shared(&client, &pg.url, "books", &out).unwrap();
        assert_eq!(batch.add_folder(&docs, TEXT).unwrap(), 6);
        // More jobs than a batch takes: refused as for the SQLite journal (the one check of
        // the run options), before anything is registered or sent.
        let posts = emulator.count("POST /v5.0/ocr/RecognizePdf");
        let (code, _) = batch.run(257, &Options::fast(20, 30_000));
        assert_code(code, OCR_ERR_INVALID_ARGUMENT);
        assert!(
            last_error().contains("jobs must be from 1 to 256"),
            "{}",
            last_error()
        );
        assert_eq!(emulator.count("POST /v5.0/ocr/RecognizePdf"), posts);
        let (code, changes) = batch.run(3, &Options::fast(20, 30_000));
        assert_code(code, OCR_OK);
        (batch, changes)
    };
    let (batch, changes) = run();
    assert_eq!(batch.count(OCR_BATCH_COMPLETED), 6);
    assert!(changes.iter().any(|&(_, s)| s == OCR_BATCH_SUBMITTED));
    for index in 0..6 {
        let input = std::fs::read(batch.path(index).unwrap()).unwrap();
        let outputs = batch.outputs(index);
        assert_eq!(outputs.len(), 1);
        let text = std::fs::read_to_string(&outputs[0]).unwrap();
        assert!(text.contains(&sha256_hex(&input)), "{text}");
        assert!(batch.task_id(index).is_some());
        assert!(!batch.skipped(index));
    }
    assert_eq!(temporary_files(&out), Vec::<std::path::PathBuf>::new());
    drop(batch);
    let requests = emulator.stats()["requests"].as_u64().unwrap();
    let (batch, changes) = run();
    assert_eq!(changes, Vec::new(), "nothing to do");
    assert!((0..6).all(|i| batch.skipped(i)));
    assert_eq!(emulator.stats()["requests"].as_u64().unwrap(), requests);

    // One changed input: exactly one more POST.
    std::fs::write(docs.join("doc-0.pdf"), small_pdf(100)).unwrap();
    let posts = |e: &Emulator| e.stats()["by_route"]["POST /v5.0/ocr/RecognizePdf"].as_u64();
    let before = posts(&emulator);
    drop(batch);
    let (batch, _) = run();
    assert_eq!(posts(&emulator), before.map(|n| n + 1));
    assert_eq!(batch.count(OCR_BATCH_COMPLETED), 6);
    let text = std::fs::read_to_string(&batch.outputs(0)[0]).unwrap();
    assert!(text.contains(&sha256_hex(&small_pdf(100))));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_newer_schema_and_bad_urls_are_refused_with_clear_messages() {
    let _serial = serial();
    let pg = Postgres::start();
    let emulator = Emulator::start(&[]);
    let client = Client::demo(&emulator);
    let dir = scratch_dir("shared-schema");
    drop(Batch::open_shared(&client, &pg.url, "one", &dir).unwrap());
    pg.sql("UPDATE ocrcloud_schema SET version = 99");
    assert_eq!(
        Batch::open_shared(&client, &pg.url, "one", &dir).err(),
        Some(OCR_ERR_INVALID_ARGUMENT)
    );
    let message = last_error();
    assert!(
        message.contains("schema version 99, newer than this library's 2"),
        "{message}"
    );
    let status = ocrcloud::batch::shared::status::status(&pg.url, "one").unwrap_err();
    assert!(status.message().contains("newer"), "{}", status.message());
    for (url, expected) in [
        ("mysql://u:p@127.0.0.1/db", "postgresql://USER"),
        ("postgresql://127.0.0.1", "must name a user and a database"),
    ] {
        assert_eq!(
            Batch::open_shared(&client, url, "one", &dir).err(),
            Some(OCR_ERR_INVALID_ARGUMENT),
            "{url}"
        );
        assert!(last_error().contains(expected), "{url}: {}", last_error());
    }
    assert_eq!(
        Batch::open_shared(&client, &pg.url, "", &dir).err(),
        Some(OCR_ERR_INVALID_ARGUMENT)
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_version_1_journal_is_upgraded_in_place_and_its_batch_goes_on() {
    let _serial = serial();
    let pg = Postgres::start();
    let mut first = pg.journal("old", "w1");
    register(&mut first, 3);
    let held = first.claim(1, Duration::from_secs(60), None).unwrap();
    assert_eq!(held.len(), 1);
    // What version 1 made: its due index, no index of task ids.
    pg.sql(
        "DROP INDEX ocrcloud_inputs_due_at; DROP INDEX ocrcloud_inputs_task; \
         DROP INDEX ocrcloud_inputs_leased; \
         CREATE INDEX ocrcloud_inputs_due ON ocrcloud_inputs (batch, not_before) \
           WHERE state IN ('queued', 'submitting', 'submitted'); \
         UPDATE ocrcloud_schema SET version = 1",
    );
    let mut second = pg.journal("old", "w2");
    assert_eq!(pg.sql("SELECT version FROM ocrcloud_schema").trim(), "2");
    assert_eq!(
        pg.sql(
            "SELECT string_agg(indexname, ',' ORDER BY indexname) FROM pg_indexes \
              WHERE tablename = 'ocrcloud_inputs' AND indexname LIKE 'ocrcloud_inputs_%'"
        )
        .trim(),
        "ocrcloud_inputs_due_at,ocrcloud_inputs_id_key,ocrcloud_inputs_leased,ocrcloud_inputs_pkey,\
         ocrcloud_inputs_task"
    );
    // The rows and the lease are kept: the other worker takes the two inputs not leased.
    let claimed = second.claim(3, Duration::from_secs(60), None).unwrap();
    let mut inputs: Vec<String> = claimed.into_iter().map(|c| c.input).collect();
    inputs.push(held[0].input.clone());
    inputs.sort();
    assert_eq!(inputs, ["in/0000.pdf", "in/0001.pdf", "in/0002.pdf"]);
    // Opening it again changes nothing.
    drop(pg.journal("old", "w3"));
    assert_eq!(pg.sql("SELECT version FROM ocrcloud_schema").trim(), "2");
}

#[test]
fn statistics_are_left_to_autovacuum_while_another_session_holds_the_table() {
    let _serial = serial();
    let pg = Postgres::start();
    register(&mut pg.journal("held", "setup"), 3);
    // A worker that would wait for the table at most 3 s: before, the ANALYZE waited on the
    // lock like on a database that is away, until this patience ran out, and failed.
    // SAFETY: every test of this file holds `serial()`, so no other thread reads the
    // environment meanwhile.
    unsafe { std::env::set_var("OCRCLOUD_JOURNAL_PATIENCE", "3") };
    let target = Target::parse(&pg.url);
    unsafe { std::env::remove_var("OCRCLOUD_JOURNAL_PATIENCE") };
    let mut journal = Journal {
        pool: Arc::new(Pool::new(target.unwrap(), 1)),
        batch: "held".to_string(),
        owner: "worker".to_string(),
    };
    // The lock a vacuum holds, and ANALYZE needs, held by a session until the test ends it.
    let mut session = pg.session();
    let stdin = session.stdin.as_mut().unwrap();
    use std::io::Write;
    writeln!(
        stdin,
        "BEGIN; LOCK TABLE ocrcloud_inputs IN SHARE UPDATE EXCLUSIVE MODE; SELECT pg_sleep(600);"
    )
    .unwrap();
    stdin.flush().unwrap();
    let held = "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation \
                 WHERE c.relname = 'ocrcloud_inputs' AND l.granted \
                   AND l.mode = 'ShareUpdateExclusiveLock'";
    while pg.sql(held).trim() != "1" {
        std::thread::sleep(Duration::from_millis(50));
    }
    journal
        .refresh_statistics(None)
        .expect("the statistics are left to autovacuum, not waited for");
    // The table was not analyzed meanwhile, and the journal goes on.
    assert_eq!(pg.sql(held).trim(), "1");
    assert_eq!(
        journal
            .claim(3, Duration::from_secs(60), None)
            .unwrap()
            .len(),
        3
    );
    session.kill().unwrap();
    session.wait().unwrap();
    journal.refresh_statistics(None).unwrap();
}

/// `--status` counts each live worker's leases still running: not a lease whose end passed,
/// not another worker's, not another batch's.
#[test]
fn status_counts_each_workers_leases_still_running() {
    let _serial = serial();
    let pg = Postgres::start();
    for (batch, worker) in [("counted", "w1"), ("counted", "w2"), ("other", "w1")] {
        let mut journal = pg.journal(batch, worker);
        register_as(&mut journal, 4, "0");
        pg.sql(&format!(
            "INSERT INTO ocrcloud_workers (batch, worker, host, pid, jobs) \
             VALUES ('{batch}', '{worker}', 'host', 1, 1) ON CONFLICT DO NOTHING"
        ));
        let take = if worker == "w1" { 3 } else { 1 };
        let claimed = journal.claim(take, Duration::from_secs(600), None).unwrap();
        assert_eq!(claimed.len(), take as usize);
    }
    // One of w1's leases in batch `counted` has ended (its worker died, say).
    pg.sql(
        "UPDATE ocrcloud_inputs SET lease_until = now() - interval '1 second' \
          WHERE id = (SELECT min(id) FROM ocrcloud_inputs \
                       WHERE batch = 'counted' AND lease_owner = 'w1')",
    );
    let status = ocrcloud::batch::shared::status::status(&pg.url, "counted").unwrap();
    let leases: HashMap<&str, i64> = status
        .workers
        .iter()
        .map(|w| (w.worker.as_str(), w.leases))
        .collect();
    assert_eq!(leases, HashMap::from([("w1", 2), ("w2", 1)]));
}

#[test]
fn the_password_is_in_no_message() {
    let _serial = serial();
    let pg = Postgres::start();
    let emulator = Emulator::start(&[]);
    let client = Client::demo(&emulator);
    let dir = scratch_dir("shared-password");
    let wrong = "Wrong-Pg-Password-9Zq4";
    let refused = Batch::open_shared(&client, &pg.url_with_password(wrong), "b", &dir).err();
    assert_eq!(refused, Some(OCR_ERR_IO));
    let message = last_error();
    assert!(message.contains("127.0.0.1"), "{message}");
    assert!(!message.contains(wrong), "{message}");
    // A database that is not there, a port where none listens: the right password, refused
    // later, is not in the message either.
    let no_db = pg.url.replace("/ocrcloud", "/no_such_db");
    assert_eq!(
        Batch::open_shared(&client, &no_db, "b", &dir).err(),
        Some(OCR_ERR_IO)
    );
    let message = last_error();
    assert!(message.contains("no_such_db"), "{message}");
    assert!(!message.contains(pg.password()), "{message}");
    // While a batch is open its password is a registered secret: no log line or message of
    // the library (all pass through the registry) can show it, in either spelling.
    let batch = Batch::open_shared(&client, &pg.url, "b", &dir).unwrap();
    let line = format!("a line with {} and {}", pg.password(), pg.password());
    let redacted = ocrcloud::secrets::redact(&line);
    assert!(!redacted.contains(pg.password()), "{redacted}");
    drop(batch);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_database_restart_mid_run_pauses_the_workers_and_loses_nothing() {
    let _serial = serial();
    let pg = Postgres::start();
    // Tasks take a while, so that the restart comes while they are open.
    let emulator = Emulator::start(&["--pending-ms", "300", "--processing-ms", "700"]);
    let client = Client::demo(&emulator);
    let dir = scratch_dir("shared-restart");
    const INPUTS: usize = 12;
    let docs = write_pdfs(&dir, INPUTS);
    let out = dir.join("out");
    let batch = Batch::open_shared(&client, &pg.url, "restart", &out).unwrap();
    batch.add_folder(&docs, TEXT).unwrap();
    let code = std::thread::scope(|scope| {
        // Once tasks are recorded, the database goes away for a while and comes back.
        scope.spawn(|| {
            while pg
                .sql("SELECT count(*) FROM ocrcloud_inputs WHERE state = 'submitted'")
                .trim()
                == "0"
            {
                std::thread::sleep(Duration::from_millis(50));
            }
            pg.stop();
            std::thread::sleep(Duration::from_secs(2));
            pg.restart();
        });
        batch.run(3, &Options::fast(100, 120_000))
    });
    let (code, _) = code;
    assert_code(code, OCR_OK);
    assert_eq!(batch.count(OCR_BATCH_COMPLETED), INPUTS, "{}", pg.log());
    let duplicates: u32 = (0..INPUTS).map(|i| batch.possible_duplicates(i)).sum();
    let made = emulator.stats()["tasks_submitted"].as_u64().unwrap();
    assert!(
        made <= INPUTS as u64 + u64::from(duplicates),
        "{made} tasks, {duplicates} possible duplicates"
    );
    for index in 0..INPUTS {
        let input = std::fs::read(batch.path(index).unwrap()).unwrap();
        let text = std::fs::read_to_string(&batch.outputs(index)[0]).unwrap();
        assert!(text.contains(&sha256_hex(&input)));
    }
    assert_eq!(temporary_files(&out), Vec::<std::path::PathBuf>::new());
    std::fs::remove_dir_all(dir).unwrap();
}

/// The fault loop over the journal's statements, as tests/batch_faults.rs does for the SQLite
/// journal: one run counts the database steps of a small batch; then for each step N a fresh
/// batch runs with step N failed (the connection lost before the statement, its answer lost
/// after it ran, or the statement refused), and a second run without faults must finish it:
/// every input completed with its own result, no temporary file, and no more tasks made than
/// inputs plus the possible duplicates counted. (The heartbeat's statements interleave with
/// the workers', so step N is not always the same statement; every point is checked all the
/// same.) The test command runs a sample of twelve statements; `OCRCLOUD_FAULTS_FULL=1` all.
#[test]
fn a_fault_at_any_journal_statement_leaves_a_batch_the_next_run_finishes() {
    let _serial = serial();
    let pg = Postgres::start();
    let emulator = Emulator::start(&["--pending-ms", "0", "--processing-ms", "0"]);
    let client = Client::demo(&emulator);
    let dir = scratch_dir("shared-faults");
    const INPUTS: usize = 3;
    let docs = write_pdfs(&dir, INPUTS);
    let open = |name: &str, out: &Path| Batch::open_shared(&client, &pg.url, name, out);
    let batches = FaultLoop {
        emulator: &emulator,
        docs: &docs,
        inputs: INPUTS,
        settings: TEXT,
        poll_ms: 30_000,
        documented: &[OCR_OK, OCR_ERR_IO],
        open: &open,
    };
    faults::count();
    let (code, _, _) = batches.run("count", &dir.join("count"));
    let steps = faults::disarm();
    assert_code(code, OCR_OK);
    let statements = steps.iter().filter(|s| **s == Step::Database).count();
    assert!(statements > 10, "{statements} statements");
    let mut hurt = 0;
    // Every statement with OCRCLOUD_FAULTS_FULL=1. Otherwise a sample: the first five (the
    // schema, the batch's row, the registration, the first claim) and seven more spread evenly
    // over the rest from an offset that changes from run to run (the heartbeat's statements and
    // the claims while tasks are polled interleave with the work's, so no fixed number is
    // always the same kind of statement): over runs, every point is met.
    let full = std::env::var_os("OCRCLOUD_FAULTS_FULL").is_some();
    let points: Vec<usize> = if full || statements <= 12 {
        (1..=statements).collect()
    } else {
        let spacing = (statements - 5) / 7;
        let offset = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos() as usize
            % spacing;
        (1..=5)
            .chain((0..7).map(|i| 6 + offset + i * spacing))
            .collect()
    };
    eprintln!("faulted statements: {points:?} of {statements}");
    for (i, &n) in points.iter().enumerate() {
        let fault = [Fault::Reset, Fault::Close, Fault::Denied][i % 3];
        let point = format!("statement {n} ({fault:?})");
        let (batch_name, out) = (format!("point-{n}"), dir.join(format!("out-{n}")));
        let arm = || faults::arm_step(Step::Database, n as u64, fault);
        if batches.check(&point, &batch_name, &out, arm) {
            hurt += 1;
        }
    }
    assert!(
        hurt >= 3,
        "only {hurt} of {statements} faulted runs failed anything"
    );
    eprintln!("{statements} statements, {hurt} faulted runs left work for the next");
    std::fs::remove_dir_all(dir).unwrap();
}
