//! The `ocrcloud` command line against a private emulator: every command, the exit statuses,
//! the environment, progress output, Ctrl-C, and outputs that fail.

use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::ffi::OsStringExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const SAMPLE_PDF: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/sample.pdf");
const SAMPLE_TEXT: &str = "Hello from ocrcloud!";

// The documented exit statuses.
const INVALID_ARGUMENT: i32 = 11;
const TIMEOUT: i32 = 13;
const UNAUTHORIZED: i32 = 15;
const TASK_FAILED: i32 = 18;
const TASK_NOT_FOUND: i32 = 19;
const NOT_READY: i32 = 20;
const IO: i32 = 23;
const USAGE: i32 = 2;
const SIGINT: i32 = 2;
const SIGPIPE: i32 = 13;

mod common;

use common::*;
#[test]
fn run_writes_the_pdf_and_the_recognized_text() {
    let emulator = Emulator::start();
    let dir = scratch("run");
    let outcome = emulator
        .run(&[
            "run",
            SAMPLE_PDF,
            "-o",
            text(&dir),
            "--settings",
            r#"{"resultType":"TextAndPdf"}"#,
            "--interval-ms",
            "50",
        ])
        .expect(0);
    assert!(outcome.stderr.contains(" as task "), "{}", outcome.stderr);
    let (txt, pdf) = (dir.join("sample.txt"), dir.join("sample.pdf"));
    assert_eq!(
        outcome.stdout(),
        format!("{}\n{}\n", txt.display(), pdf.display())
    );
    assert_eq!(
        std::fs::read(&pdf).unwrap(),
        std::fs::read(SAMPLE_PDF).unwrap()
    );
    assert!(std::fs::read_to_string(&txt).unwrap().contains(SAMPLE_TEXT));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn submit_status_wait_and_fetch_one_task() {
    let emulator = Emulator::start();
    let id = emulator.run(&["submit", SAMPLE_PDF]).line();
    let status = emulator.run(&["status", &id]).line();
    assert!(
        ["Pending", "Processing", "Completed"].contains(&status.as_str()),
        "{status}"
    );
    let waited = emulator.run(&["wait", &id, "--interval-ms", "50"]);
    assert!(
        waited.stderr.starts_with("attempt 1: "),
        "{}",
        waited.stderr
    );
    assert_eq!(waited.line(), "Completed");
    assert_eq!(emulator.run(&["status", &id]).line(), "Completed");
    let scratch = scratch("fetch");
    let dir = scratch.join("made/by/fetch");
    let path = emulator.run(&["fetch", &id, "-o", text(&dir)]).line();
    assert_eq!(path, text(&dir.join(format!("{id}.pdf"))));
    assert_eq!(
        std::fs::read(path).unwrap(),
        std::fs::read(SAMPLE_PDF).unwrap()
    );
    std::fs::remove_dir_all(scratch).unwrap();
}

#[test]
fn fetch_refuses_a_task_that_is_not_finished() {
    let emulator = Emulator::start();
    let id = emulator.fixture(r#"{"taskStatus": "Pending"}"#);
    let dir = scratch("fetch-early");
    let outcome = emulator
        .run(&["fetch", &id, "-o", text(&dir)])
        .expect(NOT_READY);
    assert_eq!(outcome.stdout, b"");
    assert!(outcome.stderr.contains("is Pending"), "{}", outcome.stderr);
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_cancelled_task_no_longer_exists() {
    let emulator = Emulator::start();
    let id = emulator.run(&["submit", SAMPLE_PDF]).line();
    let outcome = emulator.run(&["cancel", &id]).expect(0);
    assert_eq!(outcome.stdout, b"");
    assert_eq!(emulator.run(&["status", &id]).line(), "NotExist");
}

#[test]
fn a_failed_task_exits_with_the_server_message() {
    let emulator = Emulator::start();
    let dir = scratch("not-pdf");
    std::fs::create_dir_all(&dir).unwrap();
    let document = dir.join("notes.txt");
    std::fs::write(&document, "plain text").unwrap();
    let out = dir.join("out");
    let outcome = emulator
        .run(&[
            "--operation",
            "RecognizePdf",
            "run",
            text(&document),
            "-o",
            text(&out),
            "--interval-ms",
            "50",
        ])
        .expect(TASK_FAILED);
    assert_eq!(outcome.stdout, b"");
    let last = outcome.stderr.lines().last().unwrap();
    assert!(last.starts_with("ocrcloud: task "), "{last}");
    assert!(
        last.ends_with("failed: The document is not a PDF file."),
        "{last}"
    );
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), 0);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn waiting_for_an_unknown_task_exits_with_not_found() {
    let emulator = Emulator::start();
    let outcome = emulator
        .run(&["wait", "no-such-task"])
        .expect(TASK_NOT_FOUND);
    assert!(
        outcome.stderr.contains("no-such-task does not exist"),
        "{}",
        outcome.stderr
    );
}

#[test]
fn wrong_credentials_exit_unauthorized_without_showing_the_secret() {
    let emulator = Emulator::start();
    let secret = "not-the-secret-4711";
    let outcome = Outcome::of(
        emulator
            .ocrcloud(&["submit", SAMPLE_PDF])
            .env("OCR_CLIENT_SECRET", secret),
    )
    .expect(UNAUTHORIZED);
    assert!(
        outcome.stderr.starts_with("ocrcloud: "),
        "{}",
        outcome.stderr
    );
    assert!(!outcome.stderr.contains(secret) && !outcome.stdout().contains(secret));
}

#[test]
fn a_task_that_stays_pending_times_out() {
    let emulator = Emulator::start();
    let id = emulator.fixture(r#"{"taskStatus": "Pending"}"#);
    let started = Instant::now();
    let outcome = emulator
        .run(&["wait", &id, "--timeout", "1", "--interval-ms", "100"])
        .expect(TIMEOUT);
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(
        outcome.stderr.contains("still Pending"),
        "{}",
        outcome.stderr
    );
}

#[test]
fn progress_is_a_plain_line_per_answer_without_a_terminal() {
    let emulator = Emulator::start();
    // Pending for long enough that the first answer is Pending however slow the machine.
    let id = emulator.fixture(r#"{"pendingMs": 2500, "processingMs": 300}"#);
    let outcome = emulator
        .run(&["wait", &id, "--interval-ms", "250"])
        .expect(0);
    let lines: Vec<&str> = outcome.stderr.lines().collect();
    assert!(lines.len() >= 3, "{lines:?}");
    for (n, line) in lines.iter().enumerate() {
        let status = line
            .strip_prefix(&format!("attempt {}: ", n + 1))
            .unwrap_or_else(|| panic!("{lines:?}"));
        assert!(
            ["Pending", "Processing", "Completed"].contains(&status),
            "{lines:?}"
        );
    }
    assert_eq!(lines.first(), Some(&"attempt 1: Pending"));
    assert!(lines.last().unwrap().ends_with(": Completed"));
    assert_eq!(outcome.stdout, b"Completed\n");
}

/// Ctrl-C ends `ocrcloud` by SIGINT (status 130 in a shell), so that a shell loop stops too.
#[test]
fn ctrl_c_cancels_a_wait_promptly() {
    let emulator = Emulator::start();
    let id = emulator.fixture(r#"{"taskStatus": "Pending"}"#);
    let mut child = emulator
        .ocrcloud(&["wait", &id, "--interval-ms", "5000"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    stderr.read_line(&mut line).unwrap();
    assert_eq!(line, "attempt 1: Pending\n");
    let interrupted = Instant::now();
    interrupt(&child);
    let status = child.wait().unwrap();
    assert!(interrupted.elapsed() < Duration::from_secs(2));
    assert_eq!((status.code(), status.signal()), (None, Some(SIGINT)));
    line.clear();
    stderr.read_line(&mut line).unwrap();
    assert_eq!(line, "ocrcloud: cancelled by the caller\n");
}

#[test]
fn a_fixed_token_comes_from_the_environment() {
    let emulator = Emulator::start();
    let id = emulator.fixture("{}");
    let with_token = |token: &str| {
        let mut command = emulator.ocrcloud(&["wait", &id]);
        command
            .env_remove("OCR_CLIENT_ID")
            .env_remove("OCR_CLIENT_SECRET")
            .env("OCR_ACCESS_TOKEN", token);
        Outcome::of(&mut command)
    };
    assert_eq!(with_token(&emulator.token()).line(), "Completed");
    with_token("not-a-token").expect(UNAUTHORIZED);
}

#[test]
fn credentials_win_over_a_token() {
    let emulator = Emulator::start();
    let id = emulator.fixture("{}");
    let outcome = Outcome::of(
        emulator
            .ocrcloud(&["status", &id])
            .env("OCR_ACCESS_TOKEN", "not-a-token"),
    );
    assert_eq!(outcome.line(), "Completed");
}

#[test]
fn without_credentials_only_trial_operations_work() {
    let emulator = Emulator::start();
    let anonymous = |args: &[&str]| {
        let mut command = emulator.ocrcloud(args);
        command
            .env_remove("OCR_CLIENT_ID")
            .env_remove("OCR_CLIENT_SECRET");
        Outcome::of(&mut command)
    };
    let dir = scratch("trial");
    let trial = ["--operation", "recognizeimagetrial", "run", SAMPLE_PDF];
    let outcome = anonymous(&[&trial[..], &["-o", text(&dir), "--interval-ms", "50"]].concat());
    let path = outcome.line();
    assert!(path.ends_with(".txt"), "{path}");
    assert!(
        std::fs::read_to_string(path)
            .unwrap()
            .starts_with("Recognized text of a ")
    );
    anonymous(&["submit", SAMPLE_PDF]).expect(UNAUTHORIZED);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn half_of_the_credentials_is_an_invalid_argument() {
    let emulator = Emulator::start();
    let outcome = Outcome::of(
        emulator
            .ocrcloud(&["status", "some-task"])
            .env_remove("OCR_CLIENT_SECRET"),
    )
    .expect(INVALID_ARGUMENT);
    assert!(
        outcome.stderr.contains("OCR_CLIENT_SECRET"),
        "{}",
        outcome.stderr
    );
}

#[test]
fn the_base_url_flag_overrides_the_environment() {
    let emulator = Emulator::start();
    let id = emulator.fixture("{}");
    let mut command = emulator.ocrcloud(&["status", &id, "--base-url", &emulator.url]);
    command.env("OCR_BASE_URL", "http://127.0.0.1:1");
    assert_eq!(Outcome::of(&mut command).line(), "Completed");
}

#[test]
fn bad_arguments_are_usage_errors_or_invalid() {
    let emulator = Emulator::start();
    let outcome = emulator.run(&["status", "x", "--operation", "RecognizeEverything"]);
    let outcome = outcome.expect(2);
    assert!(
        outcome.stderr.contains("RecognizeImageTrial"),
        "{}",
        outcome.stderr
    );
    emulator.run(&["wait"]).expect(2);
    emulator
        .run(&["submit", SAMPLE_PDF, "--settings", "[1]"])
        .expect(INVALID_ARGUMENT);
}

/// A shell loop over `ocrcloud` stops at Ctrl-C, as it does for `sleep`: bash goes on with the
/// loop when its child exits normally after SIGINT and stops when the child dies by it.
#[test]
fn ctrl_c_stops_a_shell_loop() {
    let emulator = Emulator::start();
    let id = emulator.fixture(r#"{"taskStatus": "Pending"}"#);
    let loop_script =
        r#"for n in 1 2; do "$0" wait "$1" --interval-ms 500 --timeout 2; echo "next $?"; done"#;
    let mut child = emulator
        .script("bash", loop_script, &[&id])
        .process_group(0)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    stderr.read_line(&mut line).unwrap();
    assert_eq!(line, "attempt 1: Pending\n");
    // As a terminal does: the signal goes to the whole foreground process group.
    let group = format!("-{}", child.id());
    assert!(
        Command::new("kill")
            .args(["-INT", "--", &group])
            .status()
            .unwrap()
            .success()
    );
    let output = child.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&output.stdout), "");
}

/// A pipe whose reader is gone: every write to it fails with EPIPE.
fn closed_pipe() -> OwnedFd {
    let mut fds = [0; 2];
    // SAFETY: pipe() writes two new descriptors into the array, which are owned from here on.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    let (reader, writer) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    drop(reader);
    writer
}

/// With the reader of stdout gone (`| true`, `| head -c1`), `ocrcloud` finishes its work, then
/// dies by SIGPIPE like a shell tool: no panic, and the results are in the folder.
#[test]
fn a_closed_pipe_on_stdout_ends_by_sigpipe_after_the_work() {
    let emulator = Emulator::start();
    let id = emulator.fixture(r#"{"results": [{"type": "Text", "text": "a"}]}"#);
    Outcome::of(emulator.ocrcloud(&["status", &id]).stdout(closed_pipe())).killed_by(SIGPIPE);
    let dir = scratch("closed-pipe");
    Outcome::of(
        emulator
            .ocrcloud(&["fetch", &id, "-o", text(&dir.join("fetched"))])
            .stdout(closed_pipe()),
    )
    .killed_by(SIGPIPE);
    assert_eq!(std::fs::read_dir(dir.join("fetched")).unwrap().count(), 1);
    // `run ... 2>&1 | head -c1`: stderr is gone from the start, too.
    let pipe = closed_pipe();
    let out = dir.join("run");
    let args = ["run", SAMPLE_PDF, "-o", text(&out), "--interval-ms", "50"];
    Outcome::of(
        emulator
            .ocrcloud(&args)
            .stdout(pipe.try_clone().unwrap())
            .stderr(pipe),
    )
    .killed_by(SIGPIPE);
    let written: Vec<PathBuf> = std::fs::read_dir(&out)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    assert_eq!(written.len(), 1, "{written:?}");
    assert_eq!(
        std::fs::read(&written[0]).unwrap(),
        std::fs::read(SAMPLE_PDF).unwrap()
    );
    std::fs::remove_dir_all(dir).unwrap();
}

/// `submit > /dev/full`: the task exists, so its id is printed on stderr, and the status says
/// that a local write failed.
#[test]
fn a_task_id_that_cannot_be_written_is_printed_on_stderr() {
    let emulator = Emulator::start();
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let outcome = Outcome::of(emulator.ocrcloud(&["submit", SAMPLE_PDF]).stdout(full)).expect(IO);
    let id = outcome
        .stderr
        .strip_prefix("ocrcloud: task ")
        .and_then(|rest| rest.split(' ').next())
        .unwrap_or_else(|| panic!("{}", outcome.stderr));
    assert!(
        outcome
            .stderr
            .contains("could not be written to stdout: No space left on device"),
        "{}",
        outcome.stderr
    );
    assert_ne!(emulator.run(&["status", id]).line(), "NotExist");
}

/// `submit >&-`: nowhere to print the id, so nothing is submitted.
#[test]
fn a_closed_stdout_fails_before_anything_is_sent() {
    let emulator = Emulator::start();
    let outcome =
        Outcome::of(&mut emulator.script("sh", r#"exec "$0" submit "$1" >&-"#, &[SAMPLE_PDF]))
            .expect(IO);
    assert!(
        outcome.stderr.contains("stdout is closed"),
        "{}",
        outcome.stderr
    );
    assert_eq!(emulator.requests(), 0);
    // Discarding the output on purpose is fine.
    let null = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/null")
        .unwrap();
    Outcome::of(emulator.ocrcloud(&["submit", SAMPLE_PDF]).stdout(null)).expect(0);
}

/// Item 10 of issue 22: a stdout of `/dev/null` opened read-write (`1<>/dev/null`, Python's
/// `subprocess.DEVNULL`, daemon launchers) was taken for a closed one: exit 23 before anything,
/// for `status` and `batch` alike. Only a closed descriptor or a failed write counts now.
#[test]
fn a_dev_null_opened_read_write_is_a_stdout_and_only_real_failures_count() {
    let emulator = Emulator::start();
    let id = emulator.fixture(r#"{"results": [{"type": "Text", "text": "a"}]}"#);
    let open = |device: &str| {
        std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(device)
            .unwrap()
    };
    let dir = scratch("dev-null-read-write");
    let (inputs, out) = (dir.join("in"), dir.join("out"));
    std::fs::create_dir_all(&inputs).unwrap();
    std::fs::copy(SAMPLE_PDF, inputs.join("a.pdf")).unwrap();
    let settings = r#"{"resultType":"Text"}"#;
    let batch = [
        "batch",
        "--settings",
        settings,
        "-o",
        text(&out),
        text(&inputs),
    ];
    let status = ["batch", "--status", "--output", text(&out)];

    Outcome::of(
        emulator
            .ocrcloud(&["status", &id])
            .stdout(open("/dev/null")),
    )
    .expect(0);
    Outcome::of(emulator.ocrcloud(&batch).stdout(open("/dev/null"))).expect(0);
    assert!(out.join("a.txt").is_file());
    Outcome::of(emulator.ocrcloud(&status).stdout(open("/dev/null"))).expect(0);
    Outcome::of(&mut emulator.script("sh", r#"exec "$0" status "$1" 1<>/dev/null"#, &[&id]))
        .expect(0);

    // A full device, a closed descriptor and a pipe without reader still fail.
    for args in [&["status", &id][..], &status] {
        Outcome::of(emulator.ocrcloud(args).stdout(open("/dev/full")))
            .expect(IO)
            .says("cannot write to stdout: No space left on device");
        Outcome::of(&mut emulator.script("sh", r#"exec "$0" "$@" >&-"#, args))
            .expect(IO)
            .says("stdout is closed");
        Outcome::of(emulator.ocrcloud(args).stdout(closed_pipe())).killed_by(SIGPIPE);
    }
    std::fs::remove_dir_all(dir).unwrap();
}

/// `--help`, `--version` and `help CMD` print on stdout too: into a full device, a closed
/// descriptor or one opened read-only they exited 0 with nothing printed (clap's own printing
/// ignores the failure; Rust's stdout takes EBADF for success, so every command did). They fail as every other command does, and still print into
/// `1<>/dev/null`.
#[test]
fn help_and_version_into_a_full_or_closed_stdout_exit_0() {
    let emulator = Emulator::start();
    let open = |device: &str, write: bool| {
        std::fs::OpenOptions::new()
            .read(true)
            .write(write)
            .open(device)
            .unwrap()
    };
    for args in [
        &["--help"][..],
        &["--version"],
        &["help", "batch"],
        &["batch", "-h"],
    ] {
        Outcome::of(emulator.ocrcloud(args).stdout(open("/dev/null", true))).expect(0);
        Outcome::of(emulator.ocrcloud(args).stdout(open("/dev/full", true)))
            .expect(IO)
            .says("cannot write to stdout: No space left on device");
        Outcome::of(emulator.ocrcloud(args).stdout(open("/dev/null", false)))
            .expect(IO)
            .says("stdout is open for reading only");
        Outcome::of(&mut emulator.script("sh", r#"exec "$0" "$@" >&-"#, args))
            .expect(IO)
            .says("stdout is closed");
        Outcome::of(emulator.ocrcloud(args).stdout(closed_pipe())).killed_by(SIGPIPE);
    }
    // So does a command's record: the runtime took the EBADF of each write for a success.
    let id = emulator.fixture(r#"{"results": [{"type": "Text", "text": "a"}]}"#);
    Outcome::of(
        emulator
            .ocrcloud(&["status", &id])
            .stdout(open("/dev/null", false)),
    )
    .expect(IO)
    .says("stdout is open for reading only");
    // A usage error still goes to stderr with status 2, whatever stdout is.
    Outcome::of(
        emulator
            .ocrcloud(&["--no-such-flag"])
            .stdout(open("/dev/full", true)),
    )
    .expect(USAGE);
}

/// Timeouts and intervals too large for a deadline are usage errors, not an overflow panic.
#[test]
fn numbers_too_large_for_a_deadline_are_usage_errors() {
    let emulator = Emulator::start();
    let id = emulator.fixture(r#"{"taskStatus": "Pending"}"#);
    let dir = scratch("big-numbers");
    for (flag, value) in [
        ("--timeout", "9223372036854775807"),
        ("--timeout", "18446744073709551615"),
        ("--timeout", "4294967296"),
        ("--interval-ms", "18446744073709551615"),
        ("--interval-ms", "0"),
    ] {
        for args in [vec!["wait", &id], vec!["run", SAMPLE_PDF, "-o", text(&dir)]] {
            let outcome = emulator.run(&[&args[..], &[flag, value]].concat());
            let outcome = outcome.expect(USAGE);
            assert!(outcome.stderr.contains(flag), "{}", outcome.stderr);
        }
    }
    assert_eq!(emulator.requests(), 0);
    // The largest values are accepted: the poll runs until Ctrl-C, without an overflow.
    let mut child = emulator
        .ocrcloud(&["wait", &id, "--timeout", "4294967295"])
        .args(["--interval-ms", "4294967295"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stderr.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line, "attempt 1: Pending\n");
    interrupt(&child);
    assert_eq!(child.wait().unwrap().signal(), Some(SIGINT));
}

/// Sends SIGINT to `child`, as Ctrl-C would.
fn interrupt(child: &Child) {
    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
}

/// The output folder is checked before anything is sent: it must exist or be creatable, and a
/// file must be creatable in it. The unwritable folder is a read-only bind mount (root may write
/// anywhere else), so the test runs wherever the checkout lies; without the right to mount, a
/// folder of mode 0555 serves for a user other than root.
#[test]
fn an_unwritable_output_folder_fails_before_anything_is_sent() {
    let emulator = Emulator::start();
    let dir = scratch("unwritable");
    std::fs::create_dir_all(dir.join("source")).unwrap();
    let read_only = dir.join("read-only");
    let is_root = std::fs::metadata("/proc/self").unwrap().uid() == 0;
    let mount = match ReadOnlyMount::new(&dir.join("source"), &read_only) {
        Ok(mount) => Some(mount),
        Err(why) if is_root => {
            eprintln!("skipped: root writes into any folder it may not mount read-only: {why}");
            std::fs::remove_dir_all(dir).unwrap();
            return;
        }
        Err(_) => {
            std::fs::set_permissions(&read_only, std::fs::Permissions::from_mode(0o555)).unwrap();
            None
        }
    };
    let not_a_folder = dir.join("file");
    std::fs::write(&not_a_folder, "").unwrap();
    for out in [read_only.clone(), not_a_folder.join("sub")] {
        for args in [
            vec!["run", SAMPLE_PDF, "-o", text(&out)],
            vec!["fetch", "some-task", "-o", text(&out)],
        ] {
            let outcome = emulator.run(&args).expect(IO);
            assert!(outcome.stderr.contains(text(&out)), "{}", outcome.stderr);
        }
    }
    assert_eq!(emulator.requests(), 0);
    assert_eq!(std::fs::read_dir(&read_only).unwrap().count(), 0);
    drop(mount);
    std::fs::remove_dir_all(dir).unwrap();
}

/// `OCR_BASE_URL=` counts as unset (the real service), as the README says of every variable;
/// the bad id then fails before any request is sent.
#[test]
fn an_empty_base_url_counts_as_unset() {
    let emulator = Emulator::start();
    let outcome = Outcome::of(
        emulator
            .ocrcloud(&["status", "line\nbreak"])
            .env("OCR_BASE_URL", ""),
    )
    .expect(INVALID_ARGUMENT);
    assert!(
        outcome.stderr.contains("task id") && !outcome.stderr.contains("URL"),
        "{}",
        outcome.stderr
    );
}

/// Messages name the command line's options, not the library's parameters.
#[test]
fn settings_errors_name_the_option() {
    let emulator = Emulator::start();
    for settings in ["[1]", "{"] {
        let outcome = emulator
            .run(&["submit", SAMPLE_PDF, "--settings", settings])
            .expect(INVALID_ARGUMENT);
        assert!(
            outcome.stderr.starts_with("ocrcloud: --settings "),
            "{}",
            outcome.stderr
        );
    }
    assert_eq!(emulator.requests(), 0);
}

/// Paths are printed byte for byte, also when they are not UTF-8; with `--print0` each ends with
/// a NUL byte, so a newline in a path is no record separator.
#[test]
fn paths_are_printed_byte_for_byte_and_with_print0() {
    let emulator = Emulator::start();
    let id = emulator
        .fixture(r#"{"results": [{"type": "Text", "text": "a"}, {"type": "Pdf", "text": "b"}]}"#);
    let dir = scratch("bytes");
    let out = dir.join(OsStr::from_bytes(b"not \xff UTF-8\nwith a newline"));
    let expected = |ext: &str, end: u8| {
        let mut path = out.join(format!("{id}.{ext}")).into_os_string().into_vec();
        path.push(end);
        path
    };
    let fetch = |extra: &[&str]| {
        let mut command = emulator.ocrcloud(extra);
        command.args(["fetch", &id, "-o"]).arg(&out);
        Outcome::of(&mut command).expect(0).stdout
    };
    assert_eq!(
        fetch(&[]),
        [expected("txt", b'\n'), expected("pdf", b'\n')].concat()
    );
    assert_eq!(
        fetch(&["--print0"]),
        [expected("txt", 0), expected("pdf", 0)].concat()
    );
    let outcome = emulator.run(&["--print0", "status", &id]).expect(0);
    assert_eq!(outcome.stdout, b"Completed\0");
    std::fs::remove_dir_all(dir).unwrap();
}

/// `run` and `submit` pick the operation by extension as `batch` does; `--operation` wins.
#[test]
fn run_and_submit_choose_the_operation_by_extension() {
    let emulator = Emulator::start();
    let dir = scratch("by-extension");
    std::fs::create_dir_all(&dir).unwrap();
    let image = dir.join("scan.PNG");
    std::fs::write(&image, b"an image").unwrap();
    let out = dir.join("out");
    let paths = emulator
        .run(&["run", text(&image), "-o", text(&out), "--interval-ms", "50"])
        .expect(0)
        .stdout();
    assert!(paths.starts_with(text(&out.join("scan."))), "{paths}");
    assert_eq!(emulator.count("POST", "/RecognizeImage"), 1);
    emulator.run(&["submit", text(&image)]).line();
    assert_eq!(emulator.count("POST", "/RecognizeImage"), 2);
    emulator.run(&["submit", SAMPLE_PDF]).line();
    assert_eq!(emulator.count("POST", "/RecognizePdf"), 1);
    emulator
        .run(&["--operation", "recognizeimagetrial", "submit", text(&image)])
        .line();
    assert_eq!(emulator.count("POST", "/RecognizeImageTrial"), 1);
    assert_eq!(emulator.count("POST", "/RecognizeImage"), 2);
    std::fs::remove_dir_all(dir).unwrap();
}

/// A file whose kind the extension does not tell is refused before anything is sent (and
/// billed), with a message naming `--operation`.
#[test]
fn a_file_of_unknown_kind_is_refused_before_anything_is_sent() {
    let emulator = Emulator::start();
    let dir = scratch("unknown-kind");
    std::fs::create_dir_all(&dir).unwrap();
    for name in ["notes.txt", "no-extension", "scan.pdf.bak"] {
        let file = dir.join(name);
        std::fs::write(&file, b"%PDF-1.4").unwrap();
        for args in [
            vec!["submit", text(&file)],
            vec!["run", text(&file), "-o", text(&dir)],
        ] {
            emulator
                .run(&args)
                .expect(INVALID_ARGUMENT)
                .says(name)
                .says("give --operation");
        }
    }
    assert_eq!(emulator.requests(), 0);
    std::fs::remove_dir_all(dir).unwrap();
}

/// `run` names its results after the input (`OUT/<stem>.<ext>`); a name in use is refused
/// before anything is sent, unless `--force`, which replaces it.
#[test]
fn run_names_results_after_the_input_and_replaces_only_with_force() {
    let emulator = Emulator::start();
    let dir = scratch("run-names");
    let out = dir.join("out dir");
    std::fs::create_dir_all(&out).unwrap();
    let input = dir.join("my scan.pdf");
    std::fs::copy(SAMPLE_PDF, &input).unwrap();
    let args = ["run", text(&input), "-o", text(&out), "--interval-ms", "50"];
    let settings = ["--settings", r#"{"resultType":"TextAndPdf"}"#];
    let first = emulator.run(&[&args[..], &settings].concat()).expect(0);
    let (txt, pdf) = (out.join("my scan.txt"), out.join("my scan.pdf"));
    assert_eq!(
        first.stdout(),
        format!("{}\n{}\n", txt.display(), pdf.display())
    );
    // A file a result may be named after is kept, whatever result types are asked for.
    std::fs::write(&txt, b"mine").unwrap();
    let posts = emulator.count("POST", "/RecognizePdf");
    for extra in [&settings[..], &[]] {
        emulator
            .run(&[&args[..], extra].concat())
            .expect(IO)
            .says("my scan.")
            .says("--force");
    }
    assert_eq!(emulator.count("POST", "/RecognizePdf"), posts);
    assert_eq!(std::fs::read(&txt).unwrap(), b"mine");
    // An indexed name counts too (two results of one extension).
    std::fs::remove_file(&txt).unwrap();
    std::fs::remove_file(&pdf).unwrap();
    std::fs::write(out.join("my scan-1.txt"), b"mine").unwrap();
    emulator.run(&args).expect(IO);
    // A file of another input's name is no obstacle.
    std::fs::remove_file(out.join("my scan-1.txt")).unwrap();
    std::fs::write(out.join("my scanner.pdf"), b"other").unwrap();
    emulator.run(&args).expect(0);
    std::fs::write(&pdf, b"mine").unwrap();
    let replaced = emulator
        .run(&[&args[..], &["--force"]].concat())
        .expect(0)
        .stdout();
    assert_eq!(replaced, format!("{}\n", pdf.display()));
    assert_eq!(
        std::fs::read(&pdf).unwrap(),
        std::fs::read(SAMPLE_PDF).unwrap()
    );
    assert_eq!(std::fs::read(out.join("my scanner.pdf")).unwrap(), b"other");
    std::fs::remove_dir_all(dir).unwrap();
}

/// `--ca-file` and `OCR_CA_FILE` add a CA to trust; an untrusted certificate's message names
/// `--ca-file`, not a C function.
#[test]
fn an_extra_ca_is_trusted_through_ca_file_or_the_environment() {
    let dir = scratch("ca-file");
    std::fs::create_dir_all(&dir).unwrap();
    let ca = dir.join("ca.pem");
    let emulator = Emulator::start_with(&["--tls-self-signed", text(&ca)]);
    assert!(emulator.url.starts_with("https://"), "{}", emulator.url);
    let untrusted = emulator
        .run(&["status", "some-task"])
        .expect(25)
        .says("--ca-file");
    assert!(
        !untrusted.stderr.contains("ocr_client"),
        "{}",
        untrusted.stderr
    );
    assert_eq!(
        emulator
            .run(&["--ca-file", text(&ca), "status", "some-task"])
            .line(),
        "NotExist"
    );
    let through_env = emulator
        .ocrcloud(&["status", "some-task"])
        .env("OCR_CA_FILE", &ca)
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&through_env.stdout), "NotExist\n");
    let not_pem = dir.join("not.pem");
    std::fs::write(&not_pem, b"no certificate").unwrap();
    for file in [not_pem, dir.join("missing.pem")] {
        emulator
            .run(&["--ca-file", text(&file), "status", "some-task"])
            .expect(INVALID_ARGUMENT)
            .says("--ca-file")
            .says(text(&file));
    }
    std::fs::remove_dir_all(dir).unwrap();
}

/// `--proxy` goes to the library's proxy setting: a CONNECT proxy on loopback sees the
/// tunnel; unusable proxies are refused by name without their password.
#[test]
fn the_proxy_option_is_used_and_unusable_proxies_are_refused() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let proxy = format!("http://{}", listener.local_addr().unwrap());
    let heads = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = std::sync::Arc::clone(&heads);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            let _ = reader.read_line(&mut line);
            seen.lock().unwrap().push(line);
            let _ = std::io::Write::write_all(
                &mut stream,
                b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n",
            );
        }
    });
    let emulator = Emulator::start();
    let outcome = Outcome::of(
        emulator
            .ocrcloud(&["--proxy", &proxy, "status", "some-task"])
            .env("OCR_BASE_URL", "https://ocr.test"),
    );
    assert_ne!(outcome.code, Some(0), "{}", outcome.stderr);
    let heads = heads.lock().unwrap().clone();
    assert!(
        heads.iter().any(|h| h.starts_with("CONNECT ocr.test:443")),
        "{heads:?} {}",
        outcome.stderr
    );
    // A loopback service is reached directly, and "" means no proxy.
    for value in [proxy.as_str(), ""] {
        assert_eq!(
            emulator
                .run(&["--proxy", value, "status", "some-task"])
                .line(),
            "NotExist"
        );
    }
    for bad in [
        "socks5://user:s3cret@proxy:1080",
        "proxy:3128",
        "ftp://p:21",
    ] {
        let outcome = emulator
            .run(&["--proxy", bad, "status", "some-task"])
            .expect(INVALID_ARGUMENT)
            .says("--proxy");
        assert!(!outcome.stderr.contains("s3cret"), "{}", outcome.stderr);
    }
}
