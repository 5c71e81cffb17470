//! Defects found by attacking the shared batch (issue 24) with real worker processes, a real
//! PostgreSQL (tests/common/postgres.rs) and the emulator. Each test failed before its fix.

mod common;

use common::postgres::Postgres;
use common::*;
use std::path::Path;

const TEXT: &str = r#"{"resultType":"Text"}"#;

fn shared_args<'a>(db: &'a Postgres, name: &'a str, out: &'a Path) -> Vec<&'a str> {
    vec![
        "batch",
        "--journal",
        &db.url,
        "--batch",
        name,
        "--output",
        text(out),
        "--settings",
        TEXT,
        "--interval-ms",
        "100",
    ]
}

/// Two inputs with the same path relative to their INPUT (two files `a/x.pdf` and `b/x.pdf`
/// given one by one, or two INPUT folders that each hold `x.pdf`) are two inputs: the shared
/// batch must run both, as the SQLite batch does, or refuse the command; it silently dropped
/// the second one and exited 0.
#[test]
fn two_inputs_with_the_same_relative_path_are_never_silently_dropped() {
    let emulator = Emulator::start_with(&["--pending-ms", "0", "--processing-ms", "0"]);
    let db = Postgres::start();
    let root = scratch("shared-same-key");
    for (folder, body) in [("a", "%PDF-1.4 first\n"), ("b", "%PDF-1.4 second\n")] {
        std::fs::create_dir_all(root.join(folder)).unwrap();
        std::fs::write(root.join(folder).join("x.pdf"), body).unwrap();
    }
    let cases = [
        ("files", vec![root.join("a/x.pdf"), root.join("b/x.pdf")]),
        ("folders", vec![root.join("a"), root.join("b")]),
    ];
    for (name, inputs) in cases {
        let out = root.join(format!("out-{name}"));
        let mut args = shared_args(&db, name, &out);
        args.extend(inputs.iter().map(|p| text(p)));
        let posts_before = emulator.count("POST", "RecognizePdf");
        let outcome = emulator.run(&args);
        let registered = db.sql(&format!(
            "SELECT count(*) FROM ocrcloud_inputs WHERE batch = '{name}'"
        ));
        if outcome.code == Some(0) {
            assert_eq!(
                registered.trim(),
                "2",
                "{name}: exit 0, but the journal holds one input of two\n{}",
                outcome.stderr
            );
        } else {
            assert!(!outcome.stderr.contains("panicked"), "{}", outcome.stderr);
            assert!(
                outcome.stderr.contains("x.pdf"),
                "{name}: refused without naming the inputs: {}",
                outcome.stderr
            );
            assert_eq!(
                emulator.count("POST", "RecognizePdf"),
                posts_before,
                "refused, yet submitted"
            );
        }
    }
    let _ = std::fs::remove_dir_all(&root);
}

/// Kills `child` (a process this test started) when dropped, so that a failing test leaves
/// nothing running.
struct Reaped(std::process::Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A worker whose statements wait on a lock that another session of the database holds (a
/// migration, an administrator's `LOCK TABLE`, a stuck transaction) must still stop when it
/// is interrupted: Ctrl-C waited as long as the lock was held (for ever, if it never goes).
#[test]
fn an_interrupt_stops_a_worker_whose_statement_waits_on_a_lock() {
    let emulator = Emulator::start_with(&["--pending-ms", "0", "--processing-ms", "0"]);
    let db = Postgres::start();
    let root = scratch("shared-locked");
    let inputs = root.join("in");
    std::fs::create_dir_all(&inputs).unwrap();
    std::fs::write(inputs.join("x.pdf"), "%PDF-1.4 locked\n").unwrap();
    let out = root.join("out");
    // A first run creates the schema (and finishes its batch).
    let mut args = shared_args(&db, "first", &out);
    args.push(text(&inputs));
    emulator.run(&args).expect(0);

    // Another session holds the inputs' table for far longer than this test may take.
    let _lock = Reaped(
        std::process::Command::new("psql")
            .arg(&db.url)
            .args([
                "-c",
                "BEGIN; LOCK TABLE ocrcloud_inputs IN ACCESS EXCLUSIVE MODE; \
                 SELECT pg_sleep(3600);",
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("psql starts"),
    );
    let waiting_on_locks = || {
        db.sql("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")
            .trim()
            .parse::<u32>()
            .unwrap()
    };
    let held = "SELECT count(*) FROM pg_locks WHERE mode = 'AccessExclusiveLock' \
                AND granted AND relation = 'ocrcloud_inputs'::regclass";
    while db.sql(held).trim() == "0" {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let mut args = shared_args(&db, "second", &out);
    args.push(text(&inputs));
    let worker = Reaped(
        emulator
            .ocrcloud(&args)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("ocrcloud starts"),
    );
    let mut worker = worker;
    // The worker's statement now waits on the lock.
    while waiting_on_locks() == 0 {
        assert!(worker.0.try_wait().unwrap().is_none(), "the worker ended");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    unsafe { libc::kill(worker.0.id() as i32, libc::SIGINT) };
    // Far longer than an interrupt needs, far shorter than the lock is held.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    let status = loop {
        if let Some(status) = worker.0.try_wait().unwrap() {
            break Some(status);
        }
        if std::time::Instant::now() > deadline {
            break None;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    let status = status.expect("the interrupted worker still waits on the lock after 120 s");
    assert_eq!(status.code(), Some(130), "{status:?}");
    let _ = std::fs::remove_dir_all(&root);
}

/// `--batch NAME` takes 1 to 200 characters (docs/shared-batches.md), not bytes: a name of
/// 150 accented letters (300 bytes) was refused with a message that said "200 characters".
/// Quotes and backslashes are plain characters of a name, isolated from the other batches.
#[test]
fn a_batch_name_of_200_characters_in_any_script_is_taken() {
    let emulator = Emulator::start_with(&["--pending-ms", "0", "--processing-ms", "0"]);
    let db = Postgres::start();
    let root = scratch("shared-names");
    let inputs = root.join("in");
    std::fs::create_dir_all(&inputs).unwrap();
    std::fs::write(inputs.join("x.pdf"), "%PDF-1.4 names\n").unwrap();
    let names = [
        "é".repeat(150),
        "文".repeat(200),
        r#"o'hara "q" \x; --"#.to_string(),
    ];
    for name in &names {
        let out = root.join("out");
        let mut args = shared_args(&db, name, &out);
        args.push(text(&inputs));
        emulator.run(&args).expect(0);
        let status = emulator
            .run(&["batch", "--status", "--journal", &db.url, "--batch", name])
            .expect(0)
            .stdout();
        assert!(status.contains("completed\t1"), "{status}");
    }
    // Each name is a batch of its own.
    assert_eq!(
        db.sql("SELECT count(*) FROM ocrcloud_inputs").trim(),
        names.len().to_string()
    );
    let too_long = "é".repeat(201);
    let out = root.join("out");
    let mut args = shared_args(&db, &too_long, &out);
    args.push(text(&inputs));
    emulator.run(&args).says("200 characters");
    let _ = std::fs::remove_dir_all(&root);
}

/// A rerun of a finished shared batch says its inputs were completed before this run, as an
/// SQLite batch's rerun does: it said "1 completed (0 before this run)", because the shared
/// batch learns what the journal holds only when its run registers the inputs.
#[test]
fn a_rerun_counts_the_inputs_completed_before_it() {
    let emulator = Emulator::start_with(&["--pending-ms", "0", "--processing-ms", "0"]);
    let db = Postgres::start();
    let root = scratch("shared-rerun-summary");
    let inputs = root.join("in");
    std::fs::create_dir_all(&inputs).unwrap();
    std::fs::write(inputs.join("x.pdf"), "%PDF-1.4 rerun\n").unwrap();
    let out = root.join("out");
    let mut args = shared_args(&db, "rerun", &out);
    args.push(text(&inputs));
    emulator
        .run(&args)
        .expect(0)
        .says("1 completed (0 before this run)");
    let posts = emulator.count("POST", "RecognizePdf");
    emulator
        .run(&args)
        .expect(0)
        .says("1 completed (1 before this run)");
    assert_eq!(
        emulator.count("POST", "RecognizePdf"),
        posts,
        "the rerun submitted"
    );
    let _ = std::fs::remove_dir_all(&root);
}
