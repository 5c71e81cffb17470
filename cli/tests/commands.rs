//! The `ocrcloud` command line against a private emulator: every command, the exit statuses,
//! the environment, progress output and Ctrl-C.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
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
const CANCELLED: i32 = 21;

/// The emulator binary next to the test executables (`target/<profile>/ocrcloud-emulator`), or
/// `$OCRCLOUD_EMULATOR`.
fn emulator_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("OCRCLOUD_EMULATOR") {
        return path.into();
    }
    let exe = std::env::current_exe().unwrap();
    let binary = exe
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("ocrcloud-emulator");
    assert!(
        binary.exists(),
        "{} is missing: build it first with `cargo build -p ocrcloud-emulator`",
        binary.display()
    );
    binary
}

/// An emulator on a free loopback port with short task phases, killed when dropped.
struct Emulator {
    child: Child,
    url: String,
}

impl Emulator {
    fn start() -> Emulator {
        let mut child = Command::new(emulator_binary())
            .args(["--listen", "127.0.0.1:0", "--pending-ms", "100"])
            .args(["--processing-ms", "100"])
            .stdout(Stdio::piped())
            .spawn()
            .expect("the emulator starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap()
            .to_string();
        Emulator { child, url }
    }

    /// Creates a task directly (see the emulator's README) and answers its id.
    fn fixture(&self, spec: &str) -> String {
        ureq::post(format!("{}/_emulator/tasks", self.url))
            .header("Content-Type", "application/json")
            .send(spec)
            .unwrap()
            .body_mut()
            .read_to_string()
            .unwrap()
    }

    /// A valid token for the default credentials.
    fn token(&self) -> String {
        let answer = ureq::post(format!("{}/connect/token", self.url))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .send("grant_type=client_credentials&client_id=demo&client_secret=demo-secret")
            .unwrap()
            .body_mut()
            .read_to_string()
            .unwrap();
        let answer: serde_json::Value = serde_json::from_str(&answer).unwrap();
        answer["access_token"].as_str().unwrap().to_string()
    }

    /// `ocrcloud ARGS` for this emulator with its default credentials and nothing else from the
    /// environment.
    fn ocrcloud(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_ocrcloud"));
        command
            .args(args)
            .env_remove("OCR_ACCESS_TOKEN")
            .env("OCR_BASE_URL", &self.url)
            .env("OCR_CLIENT_ID", "demo")
            .env("OCR_CLIENT_SECRET", "demo-secret");
        command
    }

    /// Runs `ocrcloud ARGS` to its end.
    fn run(&self, args: &[&str]) -> Outcome {
        Outcome::of(&mut self.ocrcloud(args))
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// How a finished `ocrcloud` went.
struct Outcome {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Outcome {
    fn of(command: &mut Command) -> Outcome {
        let Output {
            status,
            stdout,
            stderr,
        } = command.output().expect("ocrcloud runs");
        Outcome {
            code: status.code(),
            stdout: String::from_utf8(stdout).unwrap(),
            stderr: String::from_utf8(stderr).unwrap(),
        }
    }

    /// Asserts the exit status, showing the output otherwise.
    #[track_caller]
    fn expect(self, code: i32) -> Outcome {
        assert_eq!(
            self.code,
            Some(code),
            "stdout:\n{}\nstderr:\n{}",
            self.stdout,
            self.stderr
        );
        self
    }

    /// Asserts success and answers the one line printed.
    #[track_caller]
    fn line(self) -> String {
        let stdout = self.expect(0).stdout;
        assert_eq!(stdout.lines().count(), 1, "{stdout}");
        stdout.trim_end().to_string()
    }
}

/// A folder of its own for a test (not created).
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ocrcloud-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn text(path: &Path) -> &str {
    path.to_str().unwrap()
}

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
    let id = outcome
        .stderr
        .lines()
        .find_map(|line| line.split(" as task ").nth(1))
        .expect("the task id on stderr");
    let (txt, pdf) = (dir.join(format!("{id}.txt")), dir.join(format!("{id}.pdf")));
    assert_eq!(
        outcome.stdout,
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
    assert_eq!(outcome.stdout, "");
    assert!(outcome.stderr.contains("is Pending"), "{}", outcome.stderr);
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_cancelled_task_no_longer_exists() {
    let emulator = Emulator::start();
    let id = emulator.run(&["submit", SAMPLE_PDF]).line();
    let outcome = emulator.run(&["cancel", &id]).expect(0);
    assert_eq!(outcome.stdout, "");
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
            "run",
            text(&document),
            "-o",
            text(&out),
            "--interval-ms",
            "50",
        ])
        .expect(TASK_FAILED);
    assert_eq!(outcome.stdout, "");
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
    assert!(!outcome.stderr.contains(secret) && !outcome.stdout.contains(secret));
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
    let id = emulator.fixture(r#"{"pendingMs": 300, "processingMs": 300}"#);
    let outcome = emulator
        .run(&["wait", &id, "--interval-ms", "100"])
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
    assert_eq!(outcome.stdout, "Completed\n");
}

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
    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let status = child.wait().unwrap();
    assert!(interrupted.elapsed() < Duration::from_secs(2));
    assert_eq!(status.code(), Some(CANCELLED));
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
