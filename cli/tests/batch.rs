//! `ocrcloud batch` against a private emulator: names, resume after SIGKILL at many moments,
//! Ctrl-C, bad inputs, the report and `--status`.

mod common;

use common::*;
use ocrcloud::batch::inputs::sha256_hex;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

const SOME_FAILED: i32 = 3;
const INTERRUPTED: i32 = 130;
const INVALID_ARGUMENT: i32 = 11;
const IO: i32 = 23;
const TEXT: &str = r#"{"resultType":"Text"}"#;

/// A small PDF of its own for input `n`.
fn pdf(n: usize) -> Vec<u8> {
    format!("%PDF-1.4\n% input {n}\n1 0 obj<<>>endobj\n%%EOF\n").into_bytes()
}

/// Writes `count` PDFs under `root`, spread over a few subfolders; answers their relative paths.
fn make_inputs(root: &Path, count: usize) -> Vec<PathBuf> {
    (0..count)
        .map(|n| {
            let relative = PathBuf::from(format!("part-{}/doc-{n:03}.pdf", n % 4));
            let path = root.join(&relative);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, pdf(n)).unwrap();
            relative
        })
        .collect()
}

/// Every file under `dir` whose name is a temporary name of the library.
fn temporary_files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut folders = vec![dir.to_path_buf()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let entry = entry.unwrap();
            let name = entry.file_name().to_string_lossy().into_owned();
            if entry.file_type().unwrap().is_dir() {
                folders.push(entry.path());
            } else if name.starts_with(".ocrcloud-") {
                found.push(entry.path());
            }
        }
    }
    found
}

/// Asserts that the text result of every input is in place and is the emulator's text for
/// that very input (it names the document's SHA-256).
#[track_caller]
fn assert_complete_results(inputs: &Path, out: &Path, relative: &[PathBuf]) {
    for input in relative {
        let result = out.join(input.with_extension("txt"));
        let text = std::fs::read_to_string(&result)
            .unwrap_or_else(|e| panic!("{}: {e}", result.display()));
        let hash = sha256_hex(&std::fs::read(inputs.join(input)).unwrap());
        assert!(text.contains(&hash), "{}: {text}", result.display());
    }
    assert_eq!(temporary_files(out), Vec::<PathBuf>::new());
}

fn batch_args<'a>(out: &'a Path, inputs: &'a Path, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["batch", "--settings", TEXT, "--output", text(out)];
    args.extend_from_slice(extra);
    args.push(text(inputs));
    args
}

/// The JSON lines of a `--report`.
fn report(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

#[test]
fn results_are_named_after_their_inputs_and_a_second_run_sends_nothing() {
    let emulator = Emulator::start_with(&["--pending-ms", "0", "--processing-ms", "50"]);
    let root = scratch("batch-names");
    let (inputs, out) = (root.join("in"), root.join("out"));
    let mut relative = make_inputs(&inputs, 6);
    std::fs::write(inputs.join("scan.PNG"), b"\x89PNG not really").unwrap();
    relative.push("scan.PNG".into());
    std::fs::write(inputs.join("notes.txt"), b"not a document").unwrap();
    std::fs::create_dir_all(inputs.join(".hidden")).unwrap();
    std::fs::write(inputs.join(".hidden/secret.pdf"), pdf(99)).unwrap();
    let outcome = emulator
        .run(&batch_args(&out, &inputs, &["--interval-ms", "20"]))
        .expect(0);
    assert!(
        outcome.stderr.contains("skipped") && outcome.stderr.contains("notes.txt"),
        "{}",
        outcome.stderr
    );
    assert_complete_results(&inputs, &out, &relative);
    assert!(!out.join(".hidden").exists() && !out.join("notes.txt").exists());
    assert_eq!(emulator.count("POST", "/RecognizePdf"), 6);
    assert_eq!(emulator.count("POST", "/RecognizeImage"), 1);

    let before = emulator.requests();
    let outcome = emulator.run(&batch_args(&out, &inputs, &[])).expect(0);
    assert_eq!(emulator.requests(), before, "{}", outcome.stderr);
    assert!(
        outcome.stderr.contains("7 completed (7 before this run)"),
        "{}",
        outcome.stderr
    );

    // One changed input is submitted again, and only that one.
    std::fs::write(inputs.join(&relative[2]), pdf(1000)).unwrap();
    emulator
        .run(&batch_args(&out, &inputs, &["--interval-ms", "20"]))
        .expect(0);
    assert_eq!(emulator.count("POST", "/RecognizePdf"), 7);
    assert_complete_results(&inputs, &out, &relative);
    std::fs::remove_dir_all(root).unwrap();
}

#[test]
fn two_inputs_never_share_an_output_and_no_file_of_the_user_is_replaced() {
    let emulator = Emulator::start_with(&["--pending-ms", "0", "--processing-ms", "0"]);
    let root = scratch("batch-collisions");
    let (inputs, out) = (root.join("in"), root.join("out"));
    std::fs::create_dir_all(inputs.join("a")).unwrap();
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(inputs.join("a/b.pdf"), pdf(1)).unwrap();
    std::fs::write(inputs.join("a/b.png"), pdf(2)).unwrap();
    std::fs::write(inputs.join("c.pdf"), pdf(3)).unwrap();
    std::fs::write(out.join("c.txt"), b"the user's own notes").unwrap();
    let other = root.join("other");
    std::fs::create_dir_all(&other).unwrap();
    std::fs::write(other.join("c.pdf"), pdf(4)).unwrap();
    let report_path = root.join("report.jsonl");
    let args = vec![
        "batch",
        "--settings",
        TEXT,
        "--interval-ms",
        "10",
        "--report",
        text(&report_path),
        "--output",
        text(&out),
        text(&inputs),
        text(&other),
    ];
    emulator.run(&args).expect(0);
    assert_eq!(
        std::fs::read(out.join("c.txt")).unwrap(),
        b"the user's own notes"
    );
    let lines = report(&report_path);
    let outputs: Vec<(String, String)> = lines
        .iter()
        .map(|l| {
            let input = l["input"].as_str().unwrap();
            let input = input.strip_prefix(text(&root)).unwrap().to_string();
            (input, l["outputs"][0].as_str().unwrap().to_string())
        })
        .collect();
    assert_eq!(
        outputs,
        [
            ("/in/a/b.pdf".to_string(), "a/b.txt".to_string()),
            ("/in/a/b.png".into(), "a/b.png.txt".into()),
            ("/in/c.pdf".into(), "c~2.txt".into()),
            ("/other/c.pdf".into(), "c.pdf.txt".into()),
        ]
    );
    for line in &lines {
        assert_eq!(line["state"], "completed");
        assert!(line["task_id"].is_string() && line["seconds"].as_f64().unwrap() >= 0.0);
    }
    std::fs::remove_dir_all(root).unwrap();
}

/// Runs the batch, kills it with SIGKILL after `delay`, and answers whether it was still
/// running (and so was killed).
fn kill_after(emulator: &Emulator, args: &[&str], delay: Duration) -> bool {
    let mut child = emulator
        .ocrcloud(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while started.elapsed() < delay {
        if child.try_wait().unwrap().is_some() {
            return false;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let killed = child.try_wait().unwrap().is_none();
    child.kill().unwrap_or(());
    child.wait().unwrap();
    killed
}

/// Runs the batch, sends it SIGINT once `ready(its pid)` answers true (asked every 5 ms), and
/// asserts that it exits with 130 within `bound` of the signal.
fn interrupt_when(
    emulator: &Emulator,
    args: &[&str],
    ready: impl Fn(u32) -> bool,
    bound: Duration,
) {
    let mut child = emulator
        .ocrcloud(args)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    while !ready(child.id()) {
        let ended = child.try_wait().unwrap();
        assert!(
            ended.is_none(),
            "the batch ended before it was interrupted: {ended:?}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    // SAFETY: kill with a pid of our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let interrupted = Instant::now();
    let status = child.wait().unwrap();
    assert!(interrupted.elapsed() < bound, "{:?}", interrupted.elapsed());
    assert_eq!(status.code(), Some(INTERRUPTED));
}

/// Kills a 200-input batch at many moments, then lets it finish: every input has its
/// results, no temporary file remains, and the POSTs exceed the inputs by at most the
/// submissions that were under way at the kills (counted as possible duplicates).
fn survives_kills(name: &str, jobs: &str, max_posts_per_kill: u64) {
    let emulator = Emulator::start_with(&["--pending-ms", "0", "--processing-ms", "200"]);
    let root = scratch(name);
    let (inputs, out) = (root.join("in"), root.join("out"));
    let relative = make_inputs(&inputs, 200);
    let report_path = root.join("report.jsonl");
    let args = batch_args(
        &out,
        &inputs,
        &[
            "--jobs",
            jobs,
            "--interval-ms",
            "50",
            "--report",
            text(&report_path),
        ],
    );
    let mut kills = 0u64;
    for ms in [
        5, 20, 40, 70, 100, 140, 190, 250, 320, 400, 500, 650, 800, 1000,
    ] {
        if kill_after(&emulator, &args, Duration::from_millis(ms)) {
            kills += 1;
        }
    }
    assert!(kills >= 5, "only {kills} runs were still going when killed");
    emulator.run(&args).expect(0);
    assert_complete_results(&inputs, &out, &relative);
    let posts = emulator.count("POST", "/RecognizePdf");
    let duplicates: u64 = report(&report_path)
        .iter()
        .map(|l| l["possible_duplicates"].as_u64().unwrap())
        .sum();
    assert!(posts >= 200);
    assert!(
        posts - 200 <= duplicates,
        "{posts} POSTs, {duplicates} possible duplicates reported"
    );
    assert!(
        duplicates <= kills * max_posts_per_kill,
        "{duplicates} possible duplicates after {kills} kills"
    );
    assert!(
        posts <= 200 + kills * max_posts_per_kill,
        "{posts} POSTs after {kills} kills"
    );

    let before = emulator.requests();
    emulator.run(&args).expect(0);
    assert_eq!(emulator.requests(), before, "a finished batch asks nothing");
    std::fs::remove_dir_all(root).unwrap();
}

#[test]
fn a_batch_killed_at_many_moments_finishes_with_at_most_one_extra_post_per_kill() {
    // One request at a time: at most one submission is ever between its intent and its id.
    survives_kills("batch-kills-1", "1", 1);
}

#[test]
fn a_batch_of_eight_jobs_killed_at_many_moments_finishes_with_every_result() {
    survives_kills("batch-kills-8", "8", 8);
}

#[test]
fn ctrl_c_exits_130_keeps_the_journal_and_the_rerun_finishes() {
    let emulator = Emulator::start_with(&["--pending-ms", "0", "--processing-ms", "1000"]);
    let root = scratch("batch-ctrl-c");
    let (inputs, out) = (root.join("in"), root.join("out"));
    let relative = make_inputs(&inputs, 100);
    let args = batch_args(&out, &inputs, &["--jobs", "2", "--interval-ms", "50"]);
    // Once a submission went out (after a fixed 300 ms, a busy machine was still reading the
    // inputs: 0 POSTs).
    let submitted = |_| emulator.count("POST", "/RecognizePdf") > 0;
    interrupt_when(&emulator, &args, submitted, Duration::from_secs(5));
    let posts = emulator.count("POST", "/RecognizePdf");
    assert!(posts > 0 && posts < 100, "{posts}");
    emulator.run(&args).expect(0);
    assert_complete_results(&inputs, &out, &relative);
    assert!(emulator.count("POST", "/RecognizePdf") <= 100 + 2);
    std::fs::remove_dir_all(root).unwrap();
}

#[test]
fn inputs_that_cannot_be_submitted_fail_alone_and_status_lists_them() {
    let emulator = Emulator::start_with(&["--pending-ms", "0", "--processing-ms", "0"]);
    let root = scratch("batch-bad-inputs");
    let (inputs, out) = (root.join("in"), root.join("out"));
    let relative = make_inputs(&inputs, 3);
    std::fs::write(inputs.join("empty.pdf"), b"").unwrap();
    std::os::unix::fs::symlink(root.join("gone.pdf"), inputs.join("dangling.pdf")).unwrap();
    let fifo = std::ffi::CString::new(text(&inputs.join("fifo.pdf"))).unwrap();
    // SAFETY: mkfifo with a NUL-terminated path in a private folder.
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
    emulator
        .run(&batch_args(&out, &inputs, &["--interval-ms", "10"]))
        .expect(SOME_FAILED)
        .says("empty.pdf is empty");
    assert_complete_results(&inputs, &out, &relative);
    assert_eq!(emulator.count("POST", "/RecognizePdf"), 3);

    let status = emulator
        .run(&["batch", "--status", "--output", text(&out)])
        .expect(0)
        .stdout();
    assert!(
        status.starts_with("queued\t0\nsubmitting\t0\nsubmitted\t0\ncompleted\t3\nfailed\t3\n"),
        "{status}"
    );
    for name in [
        "empty.pdf\tOCR_ERR_INVALID_ARGUMENT",
        "dangling.pdf\tOCR_ERR_IO",
        "fifo.pdf\tOCR_ERR_INVALID_ARGUMENT",
    ] {
        assert!(status.contains(name), "{name}: {status}");
    }
    std::fs::remove_dir_all(root).unwrap();
}

#[test]
fn bad_folders_and_journals_are_refused_with_a_message_and_change_nothing() {
    let emulator = Emulator::start_with(&["--pending-ms", "0", "--processing-ms", "2000"]);
    let root = scratch("batch-refusals");
    let (inputs, out) = (root.join("in"), root.join("out"));
    make_inputs(&inputs, 2);
    std::fs::create_dir_all(&root).unwrap();

    let file = root.join("a-file");
    std::fs::write(&file, b"keep").unwrap();
    emulator
        .run(&batch_args(&file, &inputs, &[]))
        .expect(INVALID_ARGUMENT)
        .says("is a file");
    assert_eq!(std::fs::read(&file).unwrap(), b"keep");

    let empty = root.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    emulator
        .run(&batch_args(&out, &empty, &[]))
        .expect(INVALID_ARGUMENT)
        .says("holds no PDF or image");

    // A second batch on the same folder while the first runs.
    let mut first = emulator
        .ocrcloud(&batch_args(&out, &inputs, &[]))
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let journal = out.join(".ocrcloud/journal.sqlite");
    let started = Instant::now();
    while emulator.count("POST", "/RecognizePdf") < 2 && started.elapsed() < Duration::from_secs(10)
    {
        std::thread::sleep(Duration::from_millis(10));
    }
    emulator
        .run(&batch_args(&out, &inputs, &[]))
        .expect(IO)
        .says("in use by another batch (process");
    assert_eq!(first.wait().unwrap().code(), Some(0));
    assert_eq!(emulator.count("POST", "/RecognizePdf"), 2);

    // The journal of one output folder, given to another.
    let other = root.join("other-out");
    emulator
        .run(&[
            "batch",
            "--journal",
            text(&journal),
            "--output",
            text(&other),
            text(&inputs),
        ])
        .expect(INVALID_ARGUMENT)
        .says("belongs to the output folder");

    // A journal of a newer schema, and a file that is no journal.
    let newer = root.join("newer.sqlite");
    let db = rusqlite::Connection::open(&newer).unwrap();
    db.pragma_update(None, "user_version", 99).unwrap();
    drop(db);
    emulator
        .run(&[
            "batch",
            "--journal",
            text(&newer),
            "--output",
            text(&out),
            text(&inputs),
        ])
        .expect(INVALID_ARGUMENT)
        .says("schema version 99, newer");
    emulator
        .run(&[
            "batch",
            "--journal",
            text(&file),
            "--output",
            text(&out),
            text(&inputs),
        ])
        .expect(INVALID_ARGUMENT)
        .says("not an ocrcloud journal");
    assert!(
        !root.join("a-file.lock").exists(),
        "nothing is left beside it"
    );
    assert_eq!(std::fs::read(&file).unwrap(), b"keep");
    assert_eq!(emulator.count("POST", "/RecognizePdf"), 2);

    emulator
        .run(&["batch", "--status", "--output", text(&root.join("never"))])
        .expect(IO)
        .says("no batch has run there");
    std::fs::remove_dir_all(root).unwrap();
}

#[test]
fn refused_credentials_stop_the_whole_batch_and_submit_nothing_more() {
    let emulator = Emulator::start_with(&["--pending-ms", "0", "--processing-ms", "0"]);
    let root = scratch("batch-credentials");
    let (inputs, out) = (root.join("in"), root.join("out"));
    make_inputs(&inputs, 20);
    let outcome = Outcome::of(
        emulator
            .ocrcloud(&batch_args(&out, &inputs, &[]))
            .env("OCR_CLIENT_SECRET", "wrong-secret"),
    )
    .expect(15)
    .says("the batch stopped");
    assert!(!outcome.stderr.contains("wrong-secret"));
    assert_eq!(emulator.count("POST", "/RecognizePdf"), 0);
    let status = emulator
        .run(&["batch", "--status", "--output", text(&out)])
        .expect(0)
        .stdout();
    assert!(status.starts_with("queued\t20\n"), "{status}");
    std::fs::remove_dir_all(root).unwrap();
}

#[test]
fn settings_come_from_a_file_and_bad_settings_name_the_option() {
    let emulator = Emulator::start_with(&["--pending-ms", "0", "--processing-ms", "0"]);
    let root = scratch("batch-settings");
    let (inputs, out) = (root.join("in"), root.join("out"));
    let relative = make_inputs(&inputs, 2);
    let settings = root.join("settings.json");
    std::fs::write(&settings, TEXT).unwrap();
    let at = format!("@{}", text(&settings));
    emulator
        .run(&[
            "batch",
            "--settings",
            &at,
            "--interval-ms",
            "10",
            "--output",
            text(&out),
            text(&inputs),
        ])
        .expect(0);
    assert_complete_results(&inputs, &out, &relative);
    emulator
        .run(&[
            "batch",
            "--settings",
            "[1]",
            "--output",
            text(&out),
            text(&inputs),
        ])
        .expect(INVALID_ARGUMENT)
        .says("--settings must be a JSON object");
    std::fs::remove_dir_all(root).unwrap();
}

/// Queues a fault on the emulator (see its README).
fn fault(emulator: &Emulator, spec: serde_json::Value) {
    ureq::post(format!("{}/_emulator/faults", emulator.url))
        .header("Content-Type", "application/json")
        .send(spec.to_string())
        .unwrap();
}

#[test]
fn names_chosen_in_one_commit_are_never_shared() {
    let emulator = Emulator::start_with(&["--pending-ms", "0", "--processing-ms", "0"]);
    let root = scratch("batch-name-race");
    let (inputs, out) = (root.join("in"), root.join("out"));
    std::fs::create_dir_all(&inputs).unwrap();
    std::fs::create_dir_all(&out).unwrap();
    let names: Vec<String> = (0..24).map(|n| format!("x{n}")).collect();
    for (n, name) in names.iter().enumerate() {
        std::fs::write(inputs.join(format!("{name}.pdf")), pdf(2 * n)).unwrap();
        std::fs::write(inputs.join(format!("{name}~2.pdf")), pdf(2 * n + 1)).unwrap();
        std::fs::write(
            out.join(format!("{name}.txt")),
            format!("user notes {name}"),
        )
        .unwrap();
    }
    let report_path = root.join("report.jsonl");
    let args = batch_args(
        &out,
        &inputs,
        &["--interval-ms", "10", "--report", text(&report_path)],
    );
    emulator.run(&args).expect(0);
    let mut owners = std::collections::BTreeMap::new();
    for line in report(&report_path) {
        let output = line["outputs"][0].as_str().unwrap().to_string();
        let input = line["input"].as_str().unwrap().to_string();
        assert!(
            owners.insert(output.clone(), input).is_none(),
            "{output} has two owners"
        );
        let hash = sha256_hex(&std::fs::read(line["input"].as_str().unwrap()).unwrap());
        assert!(
            std::fs::read_to_string(out.join(&output))
                .unwrap()
                .contains(&hash)
        );
    }
    for name in &names {
        let notes = std::fs::read_to_string(out.join(format!("{name}.txt"))).unwrap();
        assert_eq!(notes, format!("user notes {name}"));
    }
    std::fs::remove_dir_all(root).unwrap();
}

#[test]
fn a_journal_reached_through_a_link_is_locked_all_the_same() {
    let emulator = Emulator::start_with(&["--pending-ms", "0", "--processing-ms", "2000"]);
    let root = scratch("batch-link-lock");
    let (inputs, out) = (root.join("in"), root.join("out"));
    make_inputs(&inputs, 2);
    let mut first = emulator
        .ocrcloud(&batch_args(&out, &inputs, &[]))
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while emulator.count("POST", "/RecognizePdf") < 2 && started.elapsed() < Duration::from_secs(10)
    {
        std::thread::sleep(Duration::from_millis(10));
    }
    let link = root.join("link.sqlite");
    std::os::unix::fs::symlink(out.join(".ocrcloud/journal.sqlite"), &link).unwrap();
    emulator
        .run(&[
            "batch",
            "--journal",
            text(&link),
            "--output",
            text(&out),
            text(&inputs),
        ])
        .expect(IO)
        .says("in use by another batch");
    assert_eq!(first.wait().unwrap().code(), Some(0));
    assert_eq!(emulator.count("POST", "/RecognizePdf"), 2);
    std::fs::remove_dir_all(root).unwrap();
}

#[test]
fn an_id_the_service_does_not_know_is_submitted_again_and_counted() {
    let emulator = Emulator::start_with(&["--pending-ms", "0", "--processing-ms", "0"]);
    let root = scratch("batch-garbage-id");
    let (inputs, out) = (root.join("in"), root.join("out"));
    let relative = make_inputs(&inputs, 3);
    fault(
        &emulator,
        serde_json::json!({"path": "/v5.0/ocr/RecognizePdf", "method": "POST",
        "kind": "status", "status": 200, "contentType": "text/plain", "body": "<html>not an id</html>"}),
    );
    let report_path = root.join("report.jsonl");
    let args = batch_args(
        &out,
        &inputs,
        &["--interval-ms", "10", "--report", text(&report_path)],
    );
    emulator.run(&args).expect(0);
    assert_complete_results(&inputs, &out, &relative);
    let duplicates: u64 = report(&report_path)
        .iter()
        .map(|l| l["possible_duplicates"].as_u64().unwrap())
        .sum();
    assert_eq!(
        (emulator.count("POST", "/RecognizePdf"), duplicates),
        (4, 1)
    );
    std::fs::remove_dir_all(root).unwrap();
}

#[test]
fn a_service_that_refuses_every_submission_stops_the_batch_and_one_that_limits_open_tasks_does_not()
{
    let emulator = Emulator::start_with(&["--pending-ms", "0", "--processing-ms", "0"]);
    let root = scratch("batch-refusals-503");
    let (inputs, out) = (root.join("in"), root.join("out"));
    make_inputs(&inputs, 20);
    fault(
        &emulator,
        serde_json::json!({"path": "/v5.0/ocr/RecognizePdf", "method": "POST",
        "kind": "status", "status": 503, "count": 100000}),
    );
    let started = Instant::now();
    let outcome = emulator
        .run(&batch_args(&out, &inputs, &["--jobs", "2"]))
        .expect(14);
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "{:?}",
        started.elapsed()
    );
    assert!(
        outcome.stderr.contains("the batch stopped"),
        "{}",
        outcome.stderr
    );
    let status = emulator
        .run(&["batch", "--status", "--output", text(&out)])
        .expect(0)
        .stdout();
    assert!(status.starts_with("queued\t20\n"), "{status}");

    let limited = Emulator::start_with(&[
        "--pending-ms",
        "0",
        "--processing-ms",
        "100",
        "--max-open-tasks",
        "3",
    ]);
    let out = root.join("out-limited");
    let relative = make_inputs(&root.join("in-limited"), 30);
    limited
        .run(&batch_args(
            &out,
            &root.join("in-limited"),
            &["--interval-ms", "20"],
        ))
        .expect(0);
    assert_complete_results(&root.join("in-limited"), &out, &relative);
    std::fs::remove_dir_all(root).unwrap();
}

#[test]
fn odd_names_and_folders_are_handled_or_refused_before_anything_is_sent() {
    let emulator = Emulator::start_with(&["--pending-ms", "0", "--processing-ms", "0"]);
    let root = scratch("batch-odd-names");
    let (inputs, out) = (root.join("in"), root.join("out"));
    std::fs::create_dir_all(&inputs).unwrap();
    // Two names that are as long as a file system takes, with the same stem.
    let long = "n".repeat(248);
    std::fs::write(inputs.join(format!("{long}.pdf")), pdf(1)).unwrap();
    std::fs::write(inputs.join(format!("{long}.png")), pdf(2)).unwrap();
    // The batch's own journal, named like a document, inside the input folder.
    let journal = inputs.join("journal.pdf");
    let args = vec![
        "batch",
        "--settings",
        TEXT,
        "--interval-ms",
        "10",
        "--journal",
        text(&journal),
        "--output",
        text(&out),
        text(&inputs),
    ];
    emulator.run(&args).expect(0).says("the batch's journal");
    assert_eq!(emulator.count("POST", "/RecognizePdf"), 1);
    assert_eq!(emulator.count("POST", "/RecognizeImage"), 1);
    assert_eq!(
        std::fs::read_dir(&out)
            .unwrap()
            .filter(|e| !e
                .as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with('.'))
            .count(),
        2
    );

    emulator
        .run(&batch_args(&inputs, &inputs, &[]))
        .expect(INVALID_ARGUMENT)
        .says("is the output folder too");

    emulator
        .run(&batch_args(
            &root.join("out2"),
            &inputs,
            &["--report", text(&root.join("missing/report.jsonl"))],
        ))
        .expect(IO)
        .says("--report");
    assert_eq!(emulator.count("POST", "/RecognizePdf"), 1, "nothing sent");
    std::fs::remove_dir_all(root).unwrap();
}

#[test]
fn ctrl_c_while_the_inputs_are_read_exits_130_at_once_and_sends_nothing() {
    let emulator = Emulator::start_with(&["--pending-ms", "0", "--processing-ms", "0"]);
    let root = scratch("batch-ctrl-c-adding");
    let (inputs, out) = (root.join("in"), root.join("out"));
    make_inputs(&inputs, 3);
    // A large (sparse) document that takes a while to hash.
    let big = std::fs::File::create(inputs.join("big.pdf")).unwrap();
    big.set_len(500 * 1024 * 1024).unwrap();
    let args = batch_args(&out, &inputs, &[]);
    // Once the batch holds its journal's lock (its pid in the lock file), it is past its start
    // (a fixed 150 ms was too short on a busy machine: SIGINT came before the command's
    // handler, and killed it) and reads the inputs, which the large one makes last.
    let lock = out.join(".ocrcloud/journal.sqlite.lock");
    let reading =
        |pid: u32| std::fs::read_to_string(&lock).is_ok_and(|t| t.trim() == pid.to_string());
    interrupt_when(&emulator, &args, reading, Duration::from_secs(2));
    assert_eq!(emulator.count("POST", "/RecognizePdf"), 0);
    std::fs::remove_dir_all(root).unwrap();
}

/// Item 8 of issue 22: `batch --status` on a read-only file system without the journal's `-shm`
/// file failed ("unable to open database file"). It reads the journal there, also one whose last
/// commits are only in its `-wal` file (a batch killed, the disk then read-only), and says
/// clearly when it cannot.
#[test]
fn status_reads_a_journal_on_a_read_only_file_system_also_mid_wal() {
    let emulator = Emulator::start_with(&["--pending-ms", "0", "--processing-ms", "0"]);
    let root = scratch("batch-read-only-status");
    let (inputs, out, view) = (root.join("in"), root.join("out"), root.join("view"));
    let relative = make_inputs(&inputs, 3);
    emulator
        .run(&batch_args(&out, &inputs, &["--interval-ms", "10"]))
        .expect(0);
    assert_complete_results(&inputs, &out, &relative);
    let mount = match ReadOnlyMount::new(&out, &view) {
        Ok(mount) => mount,
        Err(why) => {
            eprintln!("skipped: a read-only file system needs a mount: {why}");
            std::fs::remove_dir_all(root).unwrap();
            return;
        }
    };
    let journal = out.join(".ocrcloud/journal.sqlite");
    let beside = |suffix: &str| PathBuf::from(format!("{}{suffix}", journal.display()));
    assert!(!beside("-shm").exists() && !beside("-wal").exists());
    let status = || emulator.run(&["batch", "--status", "--output", text(&view)]);
    assert_eq!(
        status().expect(0).stdout(),
        "queued\t0\nsubmitting\t0\nsubmitted\t0\ncompleted\t3\nfailed\t0\n"
    );

    // A commit only the -wal file holds: the connection is never closed, so never checkpointed.
    let db = rusqlite::Connection::open(&journal).unwrap();
    db.pragma_update(None, "wal_autocheckpoint", 0).unwrap();
    db.execute(
        "UPDATE inputs SET state = 'failed', code = 13, message = 'only in the wal' \
         WHERE id = (SELECT min(id) FROM inputs)",
        [],
    )
    .unwrap();
    std::mem::forget(db);
    std::fs::remove_file(beside("-shm")).unwrap();
    assert!(std::fs::metadata(beside("-wal")).unwrap().len() > 0);
    let shown = status().expect(0).stdout();
    assert!(
        shown.starts_with("queued\t0\nsubmitting\t0\nsubmitted\t0\ncompleted\t2\nfailed\t1\n")
            && shown.contains("OCR_ERR_IO\tonly in the wal"),
        "{shown}"
    );
    // The same through a --journal link that lies in a writable folder.
    let link = root.join("link.sqlite");
    std::os::unix::fs::symlink(view.join(".ocrcloud/journal.sqlite"), &link).unwrap();
    let through_link = emulator
        .run(&[
            "batch",
            "--status",
            "--output",
            text(&view),
            "--journal",
            text(&link),
        ])
        .expect(0)
        .stdout();
    assert_eq!(through_link, shown);
    // Where no copy can be made either, the message says why.
    let outcome = Outcome::of(
        emulator
            .ocrcloud(&["batch", "--status", "--output", text(&view)])
            .env("TMPDIR", &view),
    )
    .expect(IO);
    assert!(
        outcome.stderr.contains("SQLite cannot read it in place")
            && outcome.stderr.contains("Read-only file system"),
        "{}",
        outcome.stderr
    );
    assert_eq!(
        std::fs::read_dir(&view).unwrap().count(),
        std::fs::read_dir(&out).unwrap().count()
    );
    drop(mount);
}

/// `batch --status` on a read-only file system copies the journal's `-wal` file: a `-wal` that
/// is a FIFO (no writer ever comes) hung it for good, leaving its copy folder in TMPDIR. It
/// copies regular files only, and says what it found.
#[test]
fn status_of_a_read_only_journal_whose_wal_is_a_fifo_hangs() {
    let emulator = Emulator::start_with(&["--pending-ms", "0", "--processing-ms", "0"]);
    let root = scratch("batch-read-only-fifo-wal");
    let (inputs, out, view, tmp) = (
        root.join("in"),
        root.join("out"),
        root.join("view"),
        root.join("tmp"),
    );
    let relative = make_inputs(&inputs, 1);
    emulator
        .run(&batch_args(&out, &inputs, &["--interval-ms", "10"]))
        .expect(0);
    assert_complete_results(&inputs, &out, &relative);
    let wal = out.join(".ocrcloud/journal.sqlite-wal");
    let c_wal = std::ffi::CString::new(wal.to_str().unwrap()).unwrap();
    // SAFETY: a NUL-terminated path under the test's temporary folder.
    assert_eq!(unsafe { libc::mkfifo(c_wal.as_ptr(), 0o600) }, 0);
    std::fs::create_dir_all(&tmp).unwrap();
    let mount = match ReadOnlyMount::new(&out, &view) {
        Ok(mount) => mount,
        Err(why) => {
            eprintln!("skipped: a read-only file system needs a mount: {why}");
            std::fs::remove_dir_all(root).unwrap();
            return;
        }
    };
    let mut child = emulator
        .ocrcloud(&["batch", "--status", "--output", text(&view)])
        .env("TMPDIR", &tmp)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Not a measure of speed: the status reads a few pages; a hang never ends.
    let began = Instant::now();
    while child.try_wait().unwrap().is_none() && began.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(50));
    }
    let hung = child.try_wait().unwrap().is_none();
    if hung {
        child.kill().unwrap();
    }
    let output = child.wait_with_output().unwrap();
    let left: Vec<String> = std::fs::read_dir(&tmp)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    drop(mount);
    assert!(
        !hung,
        "batch --status hung on a -wal FIFO; left in TMPDIR: {left:?}"
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(IO), "{stderr}");
    assert!(
        stderr.contains("journal.sqlite-wal") && stderr.contains("not a regular file"),
        "{stderr}"
    );
    assert!(left.is_empty(), "left in TMPDIR: {left:?}");
    std::fs::remove_dir_all(root).unwrap();
}

/// Set in a child process of [`a_status_killed_while_it_reads_a_copy_leaves_the_copy_for_good`]:
/// the journal it opens read-only, then dies holding, as `kill -9` leaves it.
const DIE_HOLDING_A_COPY: &str = "OCRCLOUD_TEST_DIE_HOLDING_A_COPY";

/// `batch --status` of a read-only journal reads a copy in a folder of its own in TMPDIR. A
/// status killed while it holds the copy (kill -9, a crash) left the folder and the copy of the
/// whole journal there for good, one more each time. The next read-only open removes the
/// folders of processes that no longer run.
#[test]
fn a_status_killed_while_it_reads_a_copy_leaves_the_copy_for_good() {
    if let Ok(journal) = std::env::var(DIE_HOLDING_A_COPY) {
        let journal =
            ocrcloud::batch::journal::Journal::open_read_only(Path::new(&journal)).unwrap();
        std::mem::forget(journal);
        std::process::exit(0);
    }
    let emulator = Emulator::start_with(&["--pending-ms", "0", "--processing-ms", "0"]);
    let root = scratch("batch-status-killed-copy");
    let (inputs, out, view, tmp) = (
        root.join("in"),
        root.join("out"),
        root.join("view"),
        root.join("tmp"),
    );
    let relative = make_inputs(&inputs, 1);
    emulator
        .run(&batch_args(&out, &inputs, &["--interval-ms", "10"]))
        .expect(0);
    assert_complete_results(&inputs, &out, &relative);
    std::fs::create_dir_all(&tmp).unwrap();
    let mount = match ReadOnlyMount::new(&out, &view) {
        Ok(mount) => mount,
        Err(why) => {
            eprintln!("skipped: a read-only file system needs a mount: {why}");
            std::fs::remove_dir_all(root).unwrap();
            return;
        }
    };
    let in_tmp = || std::fs::read_dir(&tmp).unwrap().count();
    let status = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "a_status_killed_while_it_reads_a_copy_leaves_the_copy_for_good",
        ])
        .env(DIE_HOLDING_A_COPY, view.join(".ocrcloud/journal.sqlite"))
        .env("TMPDIR", &tmp)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(in_tmp(), 1, "the dead process's copy");
    let shown = emulator
        .ocrcloud(&["batch", "--status", "--output", text(&view)])
        .env("TMPDIR", &tmp)
        .output()
        .unwrap();
    let left = in_tmp();
    drop(mount);
    assert_eq!(shown.status.code(), Some(0));
    assert_eq!(
        left, 0,
        "the copy of a process that no longer runs is still there"
    );
    std::fs::remove_dir_all(root).unwrap();
}

/// A missing INPUT named on the command line fails alone, named, and the batch exits with 3
/// after the other inputs are done.
#[test]
fn a_missing_input_fails_alone_and_the_others_finish() {
    let emulator = Emulator::start_with(&["--pending-ms", "0", "--processing-ms", "0"]);
    let root = scratch("batch-missing-input");
    let (inputs, out) = (root.join("in"), root.join("out"));
    let relative = make_inputs(&inputs, 2);
    let (gone_pdf, gone_folder) = (root.join("gone.pdf"), root.join("gone-folder"));
    let report_path = root.join("report.jsonl");
    let outcome = emulator
        .run(&[
            "batch",
            "--settings",
            TEXT,
            "--interval-ms",
            "10",
            "--report",
            text(&report_path),
            "--output",
            text(&out),
            text(&gone_pdf),
            text(&inputs),
            text(&gone_folder),
        ])
        .expect(SOME_FAILED);
    for gone in [&gone_pdf, &gone_folder] {
        assert!(
            outcome
                .stderr
                .contains(&format!("failed\t{}\t", gone.display())),
            "{}",
            outcome.stderr
        );
    }
    assert_complete_results(&inputs, &out, &relative);
    assert_eq!(emulator.count("POST", "/RecognizePdf"), 2);
    let lines = report(&report_path);
    let failed: Vec<&str> = lines
        .iter()
        .filter(|l| l["state"] == "failed")
        .map(|l| l["code"].as_str().unwrap())
        .collect();
    assert_eq!(failed, ["OCR_ERR_IO", "OCR_ERR_IO"], "{lines:?}");
    std::fs::remove_dir_all(root).unwrap();
}

/// Without a terminal, each finished input is one line of tab-separated fields, so that paths
/// with spaces survive; the summary names the output folder.
#[test]
fn without_a_terminal_each_finished_input_is_one_tab_separated_line() {
    let emulator = Emulator::start_with(&["--pending-ms", "0", "--processing-ms", "0"]);
    let root = scratch("batch-lines");
    let (inputs, out) = (root.join("in put"), root.join("out put"));
    std::fs::create_dir_all(&inputs).unwrap();
    std::fs::write(inputs.join("a b.pdf"), pdf(1)).unwrap();
    std::fs::write(inputs.join("c  d.pdf"), b"").unwrap();
    let outcome = emulator
        .run(&batch_args(&out, &inputs, &["--interval-ms", "10"]))
        .expect(SOME_FAILED);
    let lines: Vec<&str> = outcome.stderr.lines().collect();
    let completed = format!(
        "completed\t{}\t{}",
        inputs.join("a b.pdf").display(),
        out.join("a b.txt").display()
    );
    assert!(lines.contains(&completed.as_str()), "{}", outcome.stderr);
    let failed = format!("failed\t{}\t", inputs.join("c  d.pdf").display());
    let failed_line = lines.iter().find(|l| l.starts_with(&failed));
    assert!(
        failed_line.is_some_and(|l| l.split('\t').count() == 3 && l.ends_with("is empty")),
        "{}",
        outcome.stderr
    );
    let summary = lines[lines.len() - 2];
    assert!(summary.starts_with("finished in "), "{summary}");
    assert!(
        summary.contains("2 inputs: 1 completed (0 before this run), 1 failed, 0 not finished"),
        "{summary}"
    );
    assert_eq!(
        lines.last().unwrap(),
        &format!("results in {}", out.display())
    );
    std::fs::remove_dir_all(root).unwrap();
}

/// After Ctrl-C the summary says that the run was interrupted and how many inputs are not
/// finished, instead of a full count.
#[test]
fn an_interrupted_run_says_where_it_stopped() {
    let emulator = Emulator::start_with(&["--pending-ms", "0", "--processing-ms", "600000"]);
    let root = scratch("batch-interrupted-summary");
    let (inputs, out) = (root.join("in"), root.join("out"));
    make_inputs(&inputs, 5);
    let child = emulator
        .ocrcloud(&batch_args(&out, &inputs, &["--interval-ms", "50"]))
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while emulator.count("POST", "/RecognizePdf") < 5 && started.elapsed() < Duration::from_secs(60)
    {
        std::thread::sleep(Duration::from_millis(20));
    }
    // SAFETY: kill with a pid of our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(INTERRUPTED));
    let stderr = String::from_utf8(output.stderr).unwrap();
    let summary = stderr
        .lines()
        .find(|l| l.starts_with("interrupted after "))
        .unwrap_or_else(|| panic!("{stderr}"));
    assert!(
        summary.contains("5 inputs: 0 completed (0 before this run), 0 failed, 5 not finished"),
        "{summary}"
    );
    assert!(stderr.contains(&format!("\nresults in {}\n", out.display())));
    std::fs::remove_dir_all(root).unwrap();
}

/// A certificate the batch does not trust is told in the command's words (`--ca-file`), and
/// `--ca-file` lets the same batch through.
#[test]
fn an_untrusted_certificate_names_ca_file_and_ca_file_trusts_it() {
    let root = scratch("batch-ca-file");
    let (inputs, out) = (root.join("in"), root.join("out"));
    let relative = make_inputs(&inputs, 2);
    let ca = root.join("ca.pem");
    let emulator = Emulator::start_with(&[
        "--pending-ms",
        "0",
        "--processing-ms",
        "0",
        "--tls-self-signed",
        text(&ca),
    ]);
    let args = batch_args(&out, &inputs, &["--interval-ms", "10"]);
    let refused = emulator.run(&args);
    assert_ne!(refused.code, Some(0));
    assert!(refused.stderr.contains("--ca-file"), "{}", refused.stderr);
    assert!(!refused.stderr.contains("ocr_client"), "{}", refused.stderr);
    emulator
        .run(&[&["--ca-file", text(&ca)], &args[..]].concat())
        .expect(0);
    assert_complete_results(&inputs, &out, &relative);
    std::fs::remove_dir_all(root).unwrap();
}
