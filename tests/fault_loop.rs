//! Fault injection at every step (issue 11), in the manner of SQLite's I/O-error loops.
//!
//! For each public call, one run counts the call's I/O steps ([`ocrcloud::faults`]: connects,
//! writes, reads, file creates, file writes, file reads, renames); then the call runs again once
//! per step N and per fault that fits that step, failing exactly step N. Each call runs in its
//! variants (plain or `_ex` with call options, or poll options with a cancel token; a fixed
//! token or client credentials; a cancel triggered during the call). After every run the
//! invariants below are checked, and a broken one names the call, N, the step and the fault:
//!
//! - a submission's POST reaches the emulator at most once (exactly once on `OCR_OK`), and a
//!   failed submission that did reach it says that a task may exist;
//! - the call returns within its deadline plus 100 ms (the poll's or the call options'
//!   deadline, 50 ms after a triggered cancel, or for a call without either its attempts times
//!   the client's timeouts plus the retry waits), with a documented code, and a failure leaves
//!   a message of its own; a late return counts only if it happens in 3 runs of 3, so that a
//!   busy machine does not fail the test;
//! - the target folder holds nothing but complete results (compared byte for byte) and the
//!   user's files, untouched unless replaced by a complete result (which keeps the replaced
//!   file's mode; a symbolic link saved through stays a link); no `.ocrcloud-` temporary file is
//!   left, and a dead process's temporary file is gone once a call wrote results there;
//! - no message (`ocr_last_error_message`, `ocr_poll_many_message`) and no log line (at debug
//!   level) holds any 16-character piece of a token or of the client secret;
//! - a result that came back `OCR_OK` is complete and correct, and no out-parameter is written
//!   on failure.
//!
//! The test command runs a deterministic sample: every fault point of every step other than a
//! read, and every second read step (offset per fault, so every fault meets reads all through
//! the call). `OCRCLOUD_FAULTS_FULL=1` runs every point (`scripts/fault-sweep.sh`). Faults are
//! process-wide, so the points of a sweep run in child processes of the test binary, 4 at once
//! (`OCRCLOUD_FAULTS_SHARDS`), each with an emulator of its own.

mod common;

use common::{Client, Emulator, OcrResult, Options, c, file_names, last_error, name, text};
use ocrcloud::faults::{self, Fault, Step};
use ocrcloud::ffi::*;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::ffi::{CStr, c_char, c_void};
use std::path::{Path, PathBuf};
use std::sync::{LazyLock, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The client id of credentials clients.
const CLIENT_ID: &str = "fault-loop-client";
/// A long, distinctive client secret; its spaces, slashes and pluses change when form-encoded.
const CLIENT_SECRET: &str = "fault loop secret/Kq7+Zw3 Vd9xPn2/Rm5tLc8+Hj4 Ty6uBe1";

/// The client's timeouts in every run: short, so that stalled steps end fast.
const CONNECT_MS: u32 = 200;
const READ_MS: u32 = 250;
const REQUEST_MS: u32 = 1500;
/// The client's attempts per call (the library's default).
const ATTEMPTS: u32 = 3;
/// The deadline of the `_ex` runs (call options).
const CALL_MS: u32 = 2000;
/// The deadline and the interval of polls.
const POLL_MS: u32 = 2000;
const POLL_INTERVAL_MS: u32 = 60;
/// What every call may take beyond its deadline.
const SLACK: Duration = Duration::from_millis(100);
/// The retry waits of a call without a deadline: 250 ms and 500 ms, each +10% at most.
const BACKOFFS: Duration = Duration::from_millis(825);
/// In the sample, one read step in this many is failed (per fault, at different offsets).
const READ_STRIDE: u64 = 2;
/// The length of the pieces of secrets that no message may hold.
const PIECE: usize = 16;

/// Every documented code: `OCR_OK` and the `OCR_ERR_*` that `include/ocrcloud.h` defines.
static CODES: LazyLock<Vec<ocr_code>> = LazyLock::new(|| {
    let header = include_str!("../include/ocrcloud.h");
    let codes: Vec<ocr_code> = header
        .lines()
        .filter_map(|line| line.strip_prefix("#define OCR_"))
        .filter(|rest| rest.starts_with("OK ") || rest.starts_with("ERR_"))
        .filter_map(|rest| rest.split_whitespace().nth(1)?.parse().ok())
        .collect();
    assert!(
        codes.contains(&OCR_OK) && codes.contains(&OCR_ERR_INTERNAL),
        "the header's codes: {codes:?}"
    );
    codes
});

/// Faults are process-wide: one sweep at a time in this process (nextest gives each test a
/// process of its own; `cargo test` runs tests on threads).
static SWEEP: Mutex<()> = Mutex::new(());

/// The log lines of the current run.
static LINES: Mutex<Vec<String>> = Mutex::new(Vec::new());

extern "C" fn collect_line(_user_data: *mut c_void, _level: i32, message: *const c_char) {
    // SAFETY: the library passes a valid NUL-terminated message.
    let line = unsafe { CStr::from_ptr(message) }
        .to_string_lossy()
        .into_owned();
    LINES.lock().unwrap_or_else(|e| e.into_inner()).push(line);
}

// ---------------------------------------------------------------------------------------------
// The emulator, clients and secrets of one sweep.

/// One sweep's emulator, a token it issued (for fixed-token clients), the spellings of every
/// secret, and a scratch folder.
struct Env {
    emulator: Emulator,
    agent: ureq::Agent,
    token: String,
    /// Every 16-character piece of the token and of the client secret in each spelling.
    pieces: Vec<String>,
    root: PathBuf,
}

impl Env {
    fn start(case: &str) -> Env {
        let emulator = Emulator::start(&[
            "--pending-ms",
            "50",
            "--processing-ms",
            "50",
            "--client-id",
            CLIENT_ID,
            "--client-secret",
            CLIENT_SECRET,
        ]);
        let agent = ureq::Agent::new_with_config(
            ureq::Agent::config_builder()
                .http_status_as_error(false)
                .build(),
        );
        let form = format!(
            "grant_type=client_credentials&client_id={}&client_secret={}",
            form_encoded(CLIENT_ID),
            form_encoded(CLIENT_SECRET)
        );
        let body = agent
            .post(format!("{}/connect/token", emulator.url))
            .content_type("application/x-www-form-urlencoded")
            .send(form)
            .expect("the emulator issues a token")
            .body_mut()
            .read_to_string()
            .unwrap();
        let answer: Value = serde_json::from_str(&body).unwrap();
        let token = answer["access_token"].as_str().unwrap().to_string();
        assert!(token.len() >= 32, "a long token: {token}");
        let spellings = [
            token.clone(),
            CLIENT_SECRET.to_string(),
            form_encoded(CLIENT_SECRET),
            form_encoded(CLIENT_SECRET).replace("%20", "+"),
            CLIENT_SECRET.replace(' ', "+"),
        ];
        let mut pieces: Vec<String> = spellings
            .iter()
            .flat_map(|s| {
                let chars: Vec<char> = s.chars().collect();
                chars
                    .windows(PIECE)
                    .map(|w| w.iter().collect::<String>())
                    .collect::<Vec<_>>()
            })
            .collect();
        pieces.sort();
        pieces.dedup();
        let root =
            std::env::temp_dir().join(format!("ocrcloud-fault-loop-{case}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).unwrap();
        Env {
            emulator,
            agent,
            token,
            pieces,
            root,
        }
    }

    /// A fresh client with the fixed token the emulator issued, and the sweep's timeouts.
    fn token_client(&self) -> Client {
        let client = Client::with_token(&self.emulator.url, Some(&self.token));
        tune(&client);
        client
    }

    /// A fresh client with client credentials (its first call fetches a token).
    fn credentials_client(&self) -> Client {
        let client = Client::with_credentials(&self.emulator.url, CLIENT_ID, CLIENT_SECRET);
        tune(&client);
        client
    }

    /// A fresh client of the kind `run` asks for.
    fn client(&self, run: &Run) -> Client {
        if run.credentials {
            self.credentials_client()
        } else {
            self.token_client()
        }
    }

    /// Creates a fixture task with `results` (and more fields) and answers its id.
    fn fixture(&self, id: &str, results: &[Expected], more: Value) -> String {
        let mut spec = json!({
            "id": id,
            "results": results.iter().map(Expected::spec).collect::<Vec<_>>(),
        });
        if let (Some(spec), Value::Object(more)) = (spec.as_object_mut(), more) {
            spec.extend(more);
        }
        self.emulator.fixture(spec)
    }

    /// Whether the emulator knows the task `id`.
    fn task_exists(&self, id: &str) -> bool {
        let url = format!("{}/_emulator/tasks/{id}", self.emulator.url);
        let status = self.agent.get(url).call().expect("the emulator answers");
        status.status() == 200
    }

    /// The submissions (POSTs to an operation) the emulator received so far.
    fn submissions(&self) -> u64 {
        let stats = self.emulator.stats();
        stats["by_route"].as_object().map_or(0, |routes| {
            routes
                .iter()
                .filter(|(route, _)| route.starts_with("POST /v5.0/"))
                .map(|(_, n)| n.as_u64().unwrap_or(0))
                .sum()
        })
    }

    /// The submissions once requests in flight have arrived (two equal counts 25 ms apart).
    fn settled_submissions(&self) -> u64 {
        let mut last = self.submissions();
        for _ in 0..8 {
            std::thread::sleep(Duration::from_millis(25));
            let now = self.submissions();
            if now == last {
                break;
            }
            last = now;
        }
        last
    }

    /// A new empty folder for one run.
    fn run_dir(&self, tag: &str) -> PathBuf {
        let dir = self.root.join(tag);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// The secret piece `text` holds, if any: a 16-character piece of a token or the client
    /// secret, or a run of 16 hex digits (any piece of a token the emulator issues, which for
    /// a credentials client the test cannot know).
    fn leak_in(&self, text: &str) -> Option<String> {
        if let Some(piece) = self.pieces.iter().find(|p| text.contains(p.as_str())) {
            return Some(piece.clone());
        }
        hex_run(text)
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

fn tune(client: &Client) {
    for code in [
        unsafe { ocr_client_set_connect_timeout_ms(client.0, CONNECT_MS) },
        unsafe { ocr_client_set_read_timeout_ms(client.0, READ_MS) },
        unsafe { ocr_client_set_request_timeout_ms(client.0, REQUEST_MS) },
        unsafe { ocr_client_set_max_attempts(client.0, ATTEMPTS) },
    ] {
        assert_eq!(code, OCR_OK, "{}", last_error());
    }
}

/// `text` percent-encoded as a form value (RFC 3986 unreserved kept).
fn form_encoded(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The first run of 16 lowercase hex characters with both a letter and a digit in `text`.
fn hex_run(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut start = 0;
    while start < bytes.len() {
        let mut end = start;
        while end < bytes.len() && matches!(bytes[end], b'0'..=b'9' | b'a'..=b'f') {
            end += 1;
        }
        if end == start {
            start += 1;
            continue;
        }
        for window in bytes[start..end].windows(PIECE) {
            if window.iter().any(u8::is_ascii_digit) && window.iter().any(u8::is_ascii_lowercase) {
                return Some(String::from_utf8_lossy(window).into_owned());
            }
        }
        start = end;
    }
    None
}

// ---------------------------------------------------------------------------------------------
// Results as the emulator serves them.

/// A result file of a fixture and the bytes the client must deliver for it.
#[derive(Clone)]
struct Expected {
    kind: &'static str,
    bytes: Vec<u8>,
    spec: Value,
}

impl Expected {
    fn text(kind: &'static str, text: &str) -> Expected {
        Expected {
            kind,
            bytes: text.as_bytes().to_vec(),
            spec: json!({"type": kind, "text": text}),
        }
    }

    /// `n` generated bytes: byte `i` is `i % 251`.
    fn generated(kind: &'static str, n: usize) -> Expected {
        Expected {
            kind,
            bytes: (0..n).map(|i| (i % 251) as u8).collect(),
            spec: json!({"type": kind, "generate": {"bytes": n}}),
        }
    }

    fn spec(&self) -> Value {
        self.spec.clone()
    }
}

/// The file name `<id>.<ext>` of a result in a `_to_dir` folder (ids here need no escaping).
fn result_name(id: &str, kind: &str) -> String {
    let ext = match kind {
        "Text" => "txt",
        "Pdf" => "pdf",
        "Hocr" => "html",
        other => panic!("no extension for {other}"),
    };
    format!("{id}.{ext}")
}

/// The results of the fetch and poll fixtures.
fn results(pdf_bytes: usize) -> Vec<Expected> {
    vec![
        Expected::text("Text", "recognized text of the fault loop\n"),
        Expected::generated("Pdf", pdf_bytes),
        Expected::text("Hocr", "<html><body>fault loop</body></html>"),
    ]
}

/// Checks a result held in memory against `expected`.
fn check_memory_result(result: &OcrResult, id: &str, expected: &[Expected]) -> Vec<String> {
    let mut problems = Vec::new();
    if result.status() != OCR_TASK_COMPLETED {
        problems.push(format!(
            "status {} instead of Completed",
            result.status_text()
        ));
    }
    if result.id() != id {
        problems.push(format!("id {:?} instead of {id:?}", result.id()));
    }
    if result.count() != expected.len() {
        problems.push(format!(
            "{} results instead of {}",
            result.count(),
            expected.len()
        ));
        return problems;
    }
    for (i, want) in expected.iter().enumerate() {
        if result.kind(i).as_deref() != Some(want.kind) {
            problems.push(format!(
                "result {i} is {:?}, not {}",
                result.kind(i),
                want.kind
            ));
        }
        match result.data(i) {
            Some(data) if data == want.bytes => {}
            Some(data) => problems.push(format!(
                "result {i} has {} wrong bytes (of {} expected)",
                data.len(),
                want.bytes.len()
            )),
            None => problems.push(format!("result {i} has no data in memory")),
        }
    }
    problems
}

/// Checks a result whose files were written to `dir`: paths, sizes, bytes.
fn check_file_result(
    result: &OcrResult,
    id: &str,
    dir: &Path,
    expected: &[Expected],
) -> Vec<String> {
    let mut problems = Vec::new();
    if result.status() != OCR_TASK_COMPLETED {
        problems.push(format!(
            "status {} instead of Completed",
            result.status_text()
        ));
    }
    if result.count() != expected.len() {
        problems.push(format!(
            "{} results instead of {}",
            result.count(),
            expected.len()
        ));
        return problems;
    }
    for (i, want) in expected.iter().enumerate() {
        let path = dir.join(result_name(id, want.kind));
        let reported = text(unsafe { ocr_result_path(result.0, i) });
        if reported.as_deref() != path.to_str() {
            problems.push(format!(
                "result {i} is at {reported:?}, not {}",
                path.display()
            ));
        }
        if unsafe { ocr_result_size(result.0, i) } != want.bytes.len() as u64 {
            problems.push(format!(
                "result {i} has size {}, not {}",
                unsafe { ocr_result_size(result.0, i) },
                want.bytes.len()
            ));
        }
    }
    problems
}

/// The user's files placed in a folder before a run: name and content.
type Files = Vec<(String, Vec<u8>)>;

fn place(dir: &Path, files: &Files) {
    for (name, bytes) in files {
        std::fs::write(dir.join(name), bytes).unwrap();
    }
}

/// Set in a child process that is to leave a temporary file behind in this folder and exit.
const CRASH_VAR: &str = "OCRCLOUD_FAULT_LOOP_LEAVE_IN";
/// Set in the child processes of a sweep: the name of the temporary file a dead process left.
const LEFTOVER_VAR: &str = "OCRCLOUD_FAULT_LOOP_LEFTOVER";
static LEFTOVER: OnceLock<String> = OnceLock::new();
/// What the dead process had written into its temporary file.
const HALF_WRITTEN: &[u8] = b"half of a result";

/// The name of a temporary file that a process of the library left behind when it ended
/// without removing it, as a crash does: a child process of this binary creates one through
/// the library (so it has the library's own naming) and exits. Made once per process.
fn leftover_name() -> &'static str {
    LEFTOVER.get_or_init(|| {
        if let Ok(name) = std::env::var(LEFTOVER_VAR) {
            return name;
        }
        let dir =
            std::env::temp_dir().join(format!("ocrcloud-fault-loop-crash-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let test = "the_invariant_checks_catch_what_they_look_for";
        let status = std::process::Command::new("/proc/self/exe")
            .args([test, "--exact", "--nocapture", "--test-threads", "1"])
            .env(CRASH_VAR, &dir)
            .stdout(std::process::Stdio::null())
            .status()
            .expect("a child process of the test starts");
        let names: Vec<String> = file_names(&dir)
            .into_iter()
            .filter(|n| n.starts_with(".ocrcloud-"))
            .collect();
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(status.success(), "the crashing child: {status}");
        assert_eq!(names.len(), 1, "the crashing child left {names:?}");
        names.into_iter().next().unwrap()
    })
}

/// In the crashing child: leaves a temporary file half written in `dir` and exits.
fn crash_leaving_a_temporary_file(dir: &Path) -> ! {
    let mut temp = ocrcloud::files::TempFile::create_in(dir, "ocrcloud-result").unwrap();
    temp.write(HALF_WRITTEN).unwrap();
    std::mem::forget(temp);
    std::process::exit(0)
}

/// Puts the dead process's temporary file into `dir`.
fn place_leftover(dir: &Path) -> PathBuf {
    let leftover = dir.join(leftover_name());
    std::fs::write(&leftover, HALF_WRITTEN).unwrap();
    leftover
}

/// A call that wrote results into the folder removed the crash's leftover; a failed call may
/// have stopped before it looked. Either way the leftover is then gone, for [`check_folder`].
fn check_leftover(leftover: &Path, complete: bool) -> Option<String> {
    let left = std::fs::remove_file(leftover).is_ok();
    (left && complete).then(|| {
        format!(
            "the leftover {} of a crashed process is still there",
            leftover.display()
        )
    })
}

/// The mode the user gives a file that a call replaces: the replacement must keep it.
const USERS_MODE: u32 = 0o640;

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// A problem if the file at `path` (which a call may have replaced) lost `USERS_MODE`.
fn check_mode(path: &Path) -> Option<String> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).ok()?.permissions().mode() & 0o777;
    (mode != USERS_MODE).then(|| {
        format!(
            "{} has mode {mode:o}, not the user's {USERS_MODE:o}",
            path.display()
        )
    })
}

/// Checks a folder after a run: no temporary file; the user's files as they were, except those
/// that a complete result replaced; the results all there (when `complete`) or none at all.
fn check_folder(dir: &Path, before: &Files, results: &Files, complete: bool) -> Vec<String> {
    let mut problems = Vec::new();
    let mut wanted: BTreeMap<&str, &[u8]> = BTreeMap::new();
    for (name, bytes) in before {
        wanted.insert(name, bytes);
    }
    if complete {
        for (name, bytes) in results {
            wanted.insert(name, bytes);
        }
    }
    let names = file_names(dir);
    for name in &names {
        if name.starts_with(".ocrcloud-") {
            problems.push(format!("a temporary file is left: {name}"));
        } else if !wanted.contains_key(name.as_str()) {
            let what = if results.iter().any(|(n, _)| n == name) {
                "a result file of a failed call"
            } else {
                "an unexpected file"
            };
            problems.push(format!("{what} is in the folder: {name}"));
        }
    }
    for (name, bytes) in &wanted {
        match std::fs::read(dir.join(name)) {
            Ok(found) if found == *bytes => {}
            Ok(found) => problems.push(format!(
                "{name} holds {} bytes that are not the {} expected",
                found.len(),
                bytes.len()
            )),
            Err(e) => problems.push(format!("{name} is missing: {e}")),
        }
    }
    problems
}

// ---------------------------------------------------------------------------------------------
// One run of a call.

/// A way to make a call. `alt` is the call's alternative form: the `_ex` variant with call
/// options (a deadline and a cancel token) for one-shot network calls, poll options with a
/// cancel token for polls (waits then run in 10 ms slices), and replacing an existing file
/// (instead of creating one) for saves. `credentials`: a client with client credentials, whose
/// call fetches a token first, instead of a fixed token. `cancel_ms`: the cancel token is
/// triggered this long after the call starts (later than the call takes without faults, so
/// that it ends stalls and retry waits that a fault caused); otherwise it is never triggered.
#[derive(Clone, Copy)]
struct Variant {
    alt: bool,
    credentials: bool,
    cancel_ms: Option<u64>,
    /// For saves: the target is a symbolic link to the file it replaces.
    link: bool,
    label: &'static str,
}

const fn variant(alt: bool, credentials: bool, label: &'static str) -> Variant {
    Variant {
        alt,
        credentials,
        cancel_ms: None,
        link: false,
        label,
    }
}

/// When the cancel of a one-shot call's cancelled variant is triggered.
const CANCEL_CALL_MS: u64 = 300;
/// When the cancel of a poll's cancelled variant is triggered.
const CANCEL_POLL_MS: u64 = 600;
/// How soon a triggered cancel must end a call (`ocr_cancel_trigger`).
const CANCEL_WITHIN: Duration = Duration::from_millis(50);

const NETWORK_VARIANTS: [Variant; 5] = [
    variant(false, false, ""),
    variant(true, false, " (_ex)"),
    variant(false, true, " (credentials)"),
    variant(true, true, " (_ex, credentials)"),
    Variant {
        cancel_ms: Some(CANCEL_CALL_MS),
        ..variant(true, false, " (_ex, cancelled after 300 ms)")
    },
];

const POLL_VARIANTS: [Variant; 5] = [
    variant(false, false, ""),
    variant(true, false, " (a cancel token)"),
    variant(false, true, " (credentials)"),
    variant(true, true, " (a cancel token, credentials)"),
    Variant {
        cancel_ms: Some(CANCEL_POLL_MS),
        ..variant(true, false, " (cancelled after 600 ms)")
    },
];

const TOKEN_VARIANTS: [Variant; 3] = [
    variant(false, true, ""),
    variant(true, true, " (_ex)"),
    Variant {
        cancel_ms: Some(CANCEL_CALL_MS),
        ..variant(true, true, " (_ex, cancelled after 300 ms)")
    },
];

const SAVE_VARIANTS: [Variant; 3] = [
    variant(false, false, " (a new file)"),
    variant(true, false, " (replacing a file)"),
    Variant {
        link: true,
        ..variant(true, false, " (through a symbolic link)")
    },
];

/// One run: counting, or failing step `n` with `fault`, of a call made as its variant says.
struct Run {
    armed: Option<(u64, Fault)>,
    alt: bool,
    credentials: bool,
    cancel_ms: Option<u64>,
    link: bool,
    tag: String,
}

impl Run {
    fn new(variant: &Variant, armed: Option<(u64, Fault)>, tag: String) -> Run {
        Run {
            armed,
            alt: variant.alt,
            credentials: variant.credentials,
            cancel_ms: variant.cancel_ms,
            link: variant.link,
            tag,
        }
    }
}

/// What a run found.
struct Trial {
    steps: Vec<Step>,
    code: ocr_code,
    problems: Vec<String>,
}

/// The cancel token that the next [`attempt`] triggers after `cancel_ms` (an address, 0 for
/// none); set where a run's options are made, which keep the token alive until they are freed.
static TO_TRIGGER: Mutex<usize> = Mutex::new(0);

/// A cancel token for `run`'s options: registered to be triggered if the run is cancelled.
/// The caller frees it after handing it to the options (which keep their own reference).
fn cancel_for(run: &Run) -> *mut ocr_cancel {
    let cancel = ocr_cancel_new();
    if run.cancel_ms.is_some() {
        *TO_TRIGGER.lock().unwrap_or_else(|e| e.into_inner()) = cancel as usize;
    }
    cancel
}

/// Call options with `CALL_MS` and a cancel token (see [`cancel_for`]); NULL when `run.alt`
/// is false.
struct CallOptions(*mut ocr_call_options);

impl CallOptions {
    fn new(run: &Run) -> CallOptions {
        if !run.alt {
            return CallOptions(std::ptr::null_mut());
        }
        let options = ocr_call_options_new();
        let cancel = cancel_for(run);
        assert_eq!(
            unsafe { ocr_call_options_set_timeout_ms(options, CALL_MS) },
            OCR_OK
        );
        assert_eq!(
            unsafe { ocr_call_options_set_cancel(options, cancel) },
            OCR_OK
        );
        unsafe { ocr_cancel_free(cancel) };
        CallOptions(options)
    }

    fn ptr(&self) -> *const ocr_call_options {
        self.0
    }
}

impl Drop for CallOptions {
    fn drop(&mut self) {
        unsafe { ocr_call_options_free(self.0) };
    }
}

/// Poll options with the sweep's interval and deadline, and (when `run.alt`) a cancel token
/// (see [`cancel_for`]).
fn poll_options(run: &Run) -> Options {
    let options = Options::fast(POLL_INTERVAL_MS, POLL_MS);
    if run.alt {
        let cancel = cancel_for(run);
        assert_eq!(
            unsafe { ocr_poll_options_set_cancel(options.0, cancel) },
            OCR_OK
        );
        unsafe { ocr_cancel_free(cancel) };
    }
    options
}

/// The bound of a one-shot network call: its call options' deadline, or, without one, every
/// attempt of each of its exchanges (one, and one more for a token) running into the client's
/// connect and request timeouts, plus the retry waits between attempts.
fn call_bound(run: &Run) -> Duration {
    if run.alt {
        return Duration::from_millis(CALL_MS.into());
    }
    let exchanges = 1 + u32::from(run.credentials);
    Duration::from_millis(u64::from(ATTEMPTS * exchanges * (CONNECT_MS + REQUEST_MS))) + BACKOFFS
}

/// The bound of a poll: its deadline.
fn poll_bound() -> Duration {
    Duration::from_millis(POLL_MS.into())
}

/// Runs `call` as `run` says (the one place where faults are armed), and checks what every
/// call must hold: a documented code, the deadline, a message of its own on failure, and no
/// secret in any message or log line. `messages` gives further messages to check after the
/// call (such as `ocr_poll_many_message`).
fn attempt(
    env: &Env,
    run: &Run,
    bound: Duration,
    call: impl FnOnce() -> ocr_code,
    messages: impl FnOnce() -> Vec<String>,
) -> Trial {
    LINES.lock().unwrap_or_else(|e| e.into_inner()).clear();
    // A failure of its own first, so that a failed run that sets no message is seen.
    assert_eq!(
        unsafe { ocr_client_set_max_attempts(std::ptr::null_mut(), 1) },
        OCR_ERR_INVALID_ARGUMENT
    );
    let sentinel = last_error();
    let to_trigger = std::mem::take(&mut *TO_TRIGGER.lock().unwrap_or_else(|e| e.into_inner()));
    let cancel = run.cancel_ms.filter(|_| to_trigger != 0);
    let bound = match cancel {
        Some(ms) => bound.min(Duration::from_millis(ms) + CANCEL_WITHIN),
        None => bound,
    };
    match run.armed {
        Some((n, fault)) => faults::arm(n, fault),
        None => faults::count(),
    }
    let started = Instant::now();
    let trigger = cancel.map(|ms| {
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(ms));
            unsafe { ocr_cancel_trigger(to_trigger as *const ocr_cancel) };
        })
    });
    let code = call();
    let elapsed = started.elapsed();
    let steps = faults::disarm();
    if let Some(trigger) = trigger {
        trigger.join().unwrap();
    }
    let mut problems = Vec::new();
    if !CODES.contains(&code) {
        problems.push(format!("undocumented code {code}"));
    }
    if elapsed > bound + SLACK {
        problems.push(format!(
            "{LATE} {elapsed:?}, past its deadline{} of {bound:?} + {SLACK:?}",
            if cancel.is_some() {
                " (its cancel + 50 ms)"
            } else {
                ""
            }
        ));
    }
    let message = last_error();
    if code != OCR_OK && (message.is_empty() || message == sentinel) {
        problems.push(format!("{} without a message of its own", name(code)));
    }
    let mut texts = vec![("ocr_last_error_message".to_string(), message)];
    texts.extend(
        messages()
            .into_iter()
            .enumerate()
            .map(|(i, m)| (format!("ocr_poll_many_message({i})"), m)),
    );
    let lines = std::mem::take(&mut *LINES.lock().unwrap_or_else(|e| e.into_inner()));
    texts.extend(
        lines
            .into_iter()
            .map(|line| ("a log line".to_string(), line)),
    );
    for (source, text) in texts {
        if let Some(piece) = env.leak_in(&text) {
            problems.push(format!("{source} reveals {piece:?}: {text}"));
        }
    }
    Trial {
        steps,
        code,
        problems,
    }
}

// ---------------------------------------------------------------------------------------------
// The calls.

/// The first call of a credentials client (a status request), which fetches a token first.
fn token_fetch(env: &Env, run: &Run, task: &str) -> Trial {
    status(env, run, task)
}

/// `ocr_get_task_status`: on `OCR_OK` the status is the fixture's.
fn status(env: &Env, run: &Run, task: &str) -> Trial {
    let client = env.client(run);
    let options = CallOptions::new(run);
    let id = c(task);
    let mut status = -1;
    let mut trial = attempt(
        env,
        run,
        call_bound(run),
        || {
            if run.alt {
                unsafe {
                    ocr_get_task_status_ex(
                        client.0,
                        null(),
                        id.as_ptr(),
                        options.ptr(),
                        &mut status,
                    )
                }
            } else {
                unsafe { ocr_get_task_status(client.0, null(), id.as_ptr(), &mut status) }
            }
        },
        Vec::new,
    );
    match trial.code {
        OCR_OK if status != OCR_TASK_COMPLETED => trial
            .problems
            .push(format!("OCR_OK with status {status}, not Completed")),
        OCR_OK => {}
        _ if status != -1 => trial
            .problems
            .push(format!("the status {status} was written on failure")),
        _ => {}
    }
    trial
}

fn null<T>() -> *const T {
    std::ptr::null()
}

/// A document of about 300 KB that the emulator takes for a PDF: several writes to send.
fn document() -> Vec<u8> {
    let mut document = b"%PDF-1.4\n".to_vec();
    while document.len() < 300_000 {
        document.extend_from_slice(b"% padding of the fault loop's document\n");
    }
    document.extend_from_slice(b"%%EOF\n");
    document
}

/// `ocr_submit` or `ocr_submit_file`: at most one POST reaches the emulator, exactly one on
/// `OCR_OK` (and the task exists); a failure after the POST arrived says a task may exist.
fn submit(env: &Env, run: &Run, document: &[u8], from_file: Option<&Path>) -> Trial {
    let client = env.client(run);
    let options = CallOptions::new(run);
    let before = env.settled_submissions();
    let mut id: *mut c_char = std::ptr::null_mut();
    let path = from_file.map(|p| c(p.to_str().unwrap()));
    let (bytes, len) = (document.as_ptr(), document.len());
    let mut trial = attempt(
        env,
        run,
        call_bound(run),
        || match (&path, run.alt) {
            (None, false) => unsafe { ocr_submit(client.0, null(), bytes, len, null(), &mut id) },
            (None, true) => unsafe {
                ocr_submit_ex(client.0, null(), bytes, len, null(), options.ptr(), &mut id)
            },
            (Some(path), false) => unsafe {
                ocr_submit_file(client.0, null(), path.as_ptr(), null(), &mut id)
            },
            (Some(path), true) => {
                let path = path.as_ptr();
                unsafe {
                    ocr_submit_file_ex(client.0, null(), path, null(), options.ptr(), &mut id)
                }
            }
        },
        Vec::new,
    );
    let message = last_error();
    drop(client);
    let sent = env.settled_submissions() - before;
    if sent > 1 {
        trial
            .problems
            .push(format!("the submission reached the server {sent} times"));
    }
    if trial.code == OCR_OK {
        let task = text(id).unwrap_or_default();
        unsafe { ocr_string_free(id) };
        if sent != 1 {
            trial.problems.push(format!(
                "OCR_OK, but the submission reached the server {sent} times"
            ));
        }
        if !env.task_exists(&task) {
            trial
                .problems
                .push(format!("OCR_OK with the id {task:?} of no task"));
        }
    } else {
        if !id.is_null() {
            trial
                .problems
                .push("a task id was written on failure".into());
        }
        if sent == 1 && !message.contains("may exist") {
            trial.problems.push(format!(
                "the submission reached the server and failed, but the message does not say \
                 that a task may exist: {message}"
            ));
        }
    }
    if let Some(file) = from_file
        && std::fs::read(file).ok().as_deref() != Some(document)
    {
        trial.problems.push("the submitted file changed".into());
    }
    trial
}

/// Takes the result an out-parameter received: checked with `check` on `OCR_OK`; none may be
/// written on failure.
fn check_out(
    trial: &mut Trial,
    out: *mut ocr_result,
    check: impl FnOnce(&OcrResult) -> Vec<String>,
) {
    if trial.code == OCR_OK {
        if out.is_null() {
            trial.problems.push("OCR_OK without a result".into());
            return;
        }
        let result = OcrResult(out);
        trial.problems.extend(check(&result));
    } else if !out.is_null() {
        trial
            .problems
            .push("a result was written on failure".into());
        drop(OcrResult(out));
    }
}

/// `ocr_fetch_result`: an `OCR_OK` result is complete and correct.
fn fetch(env: &Env, run: &Run, task: &str, expected: &[Expected]) -> Trial {
    let client = env.client(run);
    let options = CallOptions::new(run);
    let id = c(task);
    let mut out = std::ptr::null_mut();
    let mut trial = attempt(
        env,
        run,
        call_bound(run),
        || {
            if run.alt {
                unsafe {
                    ocr_fetch_result_ex(client.0, null(), id.as_ptr(), options.ptr(), &mut out)
                }
            } else {
                unsafe { ocr_fetch_result(client.0, id.as_ptr(), &mut out) }
            }
        },
        Vec::new,
    );
    check_out(&mut trial, out, |result| {
        check_memory_result(result, task, expected)
    });
    trial
}

/// The user's files in a `_to_dir` folder: one that a result replaces, one of its own.
fn users_files(task: &str) -> Files {
    vec![
        (result_name(task, "Text"), b"the user's older text".to_vec()),
        ("notes.txt".to_string(), b"the user's own file".to_vec()),
    ]
}

fn result_files(task: &str, expected: &[Expected]) -> Files {
    expected
        .iter()
        .map(|e| (result_name(task, e.kind), e.bytes.clone()))
        .collect()
}

/// `ocr_fetch_result_to_dir`: the results appear whole and together or not at all, the user's
/// files stay as they were, no temporary file is left.
fn fetch_to_dir(env: &Env, run: &Run, task: &str, expected: &[Expected]) -> Trial {
    let client = env.client(run);
    let options = CallOptions::new(run);
    let dir = env.run_dir(&run.tag);
    let before = users_files(task);
    place(&dir, &before);
    let replaced = dir.join(result_name(task, "Text"));
    set_mode(&replaced, USERS_MODE);
    let leftover = place_leftover(&dir);
    let (id, c_dir) = (c(task), c(dir.to_str().unwrap()));
    let mut out = std::ptr::null_mut();
    let mut trial = attempt(
        env,
        run,
        call_bound(run),
        || {
            let (id, folder) = (id.as_ptr(), c_dir.as_ptr());
            if run.alt {
                unsafe {
                    ocr_fetch_result_to_dir_ex(
                        client.0,
                        null(),
                        id,
                        folder,
                        options.ptr(),
                        &mut out,
                    )
                }
            } else {
                unsafe { ocr_fetch_result_to_dir(client.0, null(), id, folder, &mut out) }
            }
        },
        Vec::new,
    );
    check_out(&mut trial, out, |result| {
        check_file_result(result, task, &dir, expected)
    });
    let complete = trial.code == OCR_OK;
    trial.problems.extend(check_leftover(&leftover, complete));
    let results = result_files(task, expected);
    trial
        .problems
        .extend(check_folder(&dir, &before, &results, complete));
    trial.problems.extend(check_mode(&replaced));
    trial
}

/// A fixture that answers Pending, then Processing, then Completed, for one poll run.
fn walking_task(env: &Env, run: &Run, prefix: &str, expected: &[Expected]) -> String {
    env.fixture(
        &format!("{prefix}-{}", run.tag),
        expected,
        json!({"pendingMs": 90, "processingMs": 90}),
    )
}

/// `ocr_poll_until_done`: within the poll's deadline; `OCR_OK` only with the complete result.
fn poll(env: &Env, run: &Run, expected: &[Expected]) -> Trial {
    let client = env.client(run);
    let task = walking_task(env, run, "poll", expected);
    let options = poll_options(run);
    let id = c(&task);
    let mut out = std::ptr::null_mut();
    let mut trial = attempt(
        env,
        run,
        poll_bound(),
        || unsafe { ocr_poll_until_done(client.0, id.as_ptr(), options.0, &mut out) },
        Vec::new,
    );
    check_out(&mut trial, out, |result| {
        check_memory_result(result, &task, expected)
    });
    trial
}

/// `ocr_poll_until_done_to_dir`: the poll's promises and the folder's.
fn poll_to_dir(env: &Env, run: &Run, expected: &[Expected]) -> Trial {
    let client = env.client(run);
    let task = walking_task(env, run, "polldir", expected);
    let options = poll_options(run);
    let dir = env.run_dir(&run.tag);
    let before = users_files(&task);
    place(&dir, &before);
    let replaced = dir.join(result_name(&task, "Text"));
    set_mode(&replaced, USERS_MODE);
    let leftover = place_leftover(&dir);
    let (id, c_dir) = (c(&task), c(dir.to_str().unwrap()));
    let mut out = std::ptr::null_mut();
    let mut trial = attempt(
        env,
        run,
        poll_bound(),
        || {
            let (id, folder) = (id.as_ptr(), c_dir.as_ptr());
            unsafe { ocr_poll_until_done_to_dir(client.0, null(), id, options.0, folder, &mut out) }
        },
        Vec::new,
    );
    check_out(&mut trial, out, |result| {
        check_file_result(result, &task, &dir, expected)
    });
    let complete = trial.code == OCR_OK;
    trial.problems.extend(check_leftover(&leftover, complete));
    let results = result_files(&task, expected);
    trial
        .problems
        .extend(check_folder(&dir, &before, &results, complete));
    trial.problems.extend(check_mode(&replaced));
    trial
}

/// `ocr_poll_many` over three tasks (done at once, walking, failed on the server): per-task
/// codes and results agree, completed results are correct, the call's code is the first
/// failure's, and every per-task message is there and clean.
fn poll_many(env: &Env, run: &Run, done: &[Expected], walking: &[Expected]) -> Trial {
    let client = env.client(run);
    assert_eq!(
        unsafe { ocr_client_set_max_connections(client.0, 2) },
        OCR_OK
    );
    let tasks = [
        env.fixture(&format!("many-done-{}", run.tag), done, json!({})),
        walking_task(env, run, "many-walking", walking),
        env.fixture(
            &format!("many-failed-{}", run.tag),
            &[],
            json!({"taskStatus": "Error", "results": null,
                   "error": {"messages": ["page 1 could not be read"], "warnings": []}}),
        ),
    ];
    let expected: [Option<&[Expected]>; 3] = [Some(done), Some(walking), None];
    let options = poll_options(run);
    let ids: Vec<_> = tasks.iter().map(|t| c(t)).collect();
    let pointers: Vec<*const c_char> = ids.iter().map(|id| id.as_ptr()).collect();
    let mut results = vec![std::ptr::null_mut(); tasks.len()];
    let mut codes = vec![-1; tasks.len()];
    let mut per_task = Vec::new();
    let mut trial = attempt(
        env,
        run,
        poll_bound(),
        || {
            let (ids, count) = (pointers.as_ptr(), pointers.len());
            let (results, codes) = (results.as_mut_ptr(), codes.as_mut_ptr());
            unsafe { ocr_poll_many(client.0, null(), ids, count, options.0, results, codes) }
        },
        || {
            per_task = (0..tasks.len())
                .map(|i| text(ocr_poll_many_message(i)).unwrap_or_default())
                .collect();
            per_task.clone()
        },
    );
    for (i, task) in tasks.iter().enumerate() {
        let code = codes[i];
        let problems = &mut trial.problems;
        if !CODES.contains(&code) {
            problems.push(format!("task {i}: undocumented code {code}"));
        }
        match (code == OCR_OK, results[i].is_null()) {
            (true, true) => problems.push(format!("task {i}: OCR_OK without a result")),
            (false, false) => problems.push(format!("task {i}: a result with {}", name(code))),
            _ => {}
        }
        match per_task.get(i) {
            Some(m) if code == OCR_OK && !m.is_empty() => {
                problems.push(format!("task {i}: OCR_OK with the message {m:?}"))
            }
            Some(m) if code != OCR_OK && m.is_empty() => {
                problems.push(format!("task {i}: {} without a message", name(code)))
            }
            None => problems.push(format!("task {i}: no ocr_poll_many_message")),
            _ => {}
        }
        if !results[i].is_null() {
            let result = OcrResult(results[i]);
            match expected[i] {
                Some(expected) => problems.extend(
                    check_memory_result(&result, task, expected)
                        .into_iter()
                        .map(|p| format!("task {i}: {p}")),
                ),
                None => problems.push(format!(
                    "task {i} failed on the server but came back OCR_OK"
                )),
            }
        }
    }
    let first_failure = codes
        .iter()
        .copied()
        .find(|&code| code != OCR_OK)
        .unwrap_or(OCR_OK);
    if trial.code != first_failure {
        trial.problems.push(format!(
            "the call answered {} but the first failing task {}",
            name(trial.code),
            name(first_failure)
        ));
    }
    trial
}

/// `ocr_cancel_task`: on `OCR_OK` the task is gone.
fn cancel(env: &Env, run: &Run) -> Trial {
    let client = env.client(run);
    let task = env.fixture(
        &format!("cancel-{}", run.tag),
        &[],
        json!({"taskStatus": "Pending"}),
    );
    let options = CallOptions::new(run);
    let id = c(&task);
    let mut trial = attempt(
        env,
        run,
        call_bound(run),
        || {
            if run.alt {
                unsafe { ocr_cancel_task_ex(client.0, null(), id.as_ptr(), options.ptr()) }
            } else {
                unsafe { ocr_cancel_task(client.0, null(), id.as_ptr()) }
            }
        },
        Vec::new,
    );
    if trial.code == OCR_OK && env.task_exists(&task) {
        trial
            .problems
            .push("OCR_OK, but the task still exists".into());
    }
    trial
}

/// `ocr_result_save` of result file `index` of `result` onto a new file or (`alt`) over an
/// existing one: the target is the complete file or as it was; nothing else appears in its
/// folder.
fn save(env: &Env, run: &Run, result: &OcrResult, index: usize, bytes: &[u8]) -> Trial {
    let dir = env.run_dir(&run.tag);
    let old = b"the user's older file".to_vec();
    // Replacing: `out.pdf` exists; through a link: `out.pdf` links to `real.pdf`.
    let (before, saved): (Files, Files) = match (run.alt, run.link) {
        (false, _) => (Vec::new(), vec![("out.pdf".into(), bytes.to_vec())]),
        (true, false) => (
            vec![("out.pdf".into(), old)],
            vec![("out.pdf".into(), bytes.to_vec())],
        ),
        (true, true) => (
            vec![("out.pdf".into(), old.clone()), ("real.pdf".into(), old)],
            vec![
                ("out.pdf".into(), bytes.to_vec()),
                ("real.pdf".into(), bytes.to_vec()),
            ],
        ),
    };
    let replaced = dir.join(if run.link { "real.pdf" } else { "out.pdf" });
    if run.alt {
        std::fs::write(&replaced, b"the user's older file").unwrap();
        set_mode(&replaced, USERS_MODE);
    }
    if run.link {
        std::os::unix::fs::symlink("real.pdf", dir.join("out.pdf")).unwrap();
    }
    let target = c(dir.join("out.pdf").to_str().unwrap());
    let mut trial = attempt(
        env,
        run,
        Duration::from_millis(SAVE_MS),
        || unsafe { ocr_result_save(result.0, index, target.as_ptr()) },
        Vec::new,
    );
    let complete = trial.code == OCR_OK;
    trial
        .problems
        .extend(check_folder(&dir, &before, &saved, complete));
    if run.alt {
        trial.problems.extend(check_mode(&replaced));
    }
    if run.link && std::fs::read_link(dir.join("out.pdf")).ok() != Some("real.pdf".into()) {
        trial
            .problems
            .push("out.pdf is no longer the link to real.pdf".into());
    }
    trial
}

/// The bound of a save, which has no timeout of its own (local files only).
const SAVE_MS: u64 = 2000;

// ---------------------------------------------------------------------------------------------
// The sweep.

/// Whether the sample of the test command runs fault `fault` (the `index`-th fault that fits)
/// at step `n`: every point of every step but reads, and every `READ_STRIDE`-th read, at an
/// offset per fault so that each fault meets reads all through the call.
fn sampled(step: Step, n: u64, index: u64) -> bool {
    step != Step::Read || (n + index).is_multiple_of(READ_STRIDE)
}

fn full_sweep() -> bool {
    std::env::var("OCRCLOUD_FAULTS_FULL").is_ok_and(|v| v == "1")
}

/// How many processes share the fault points of one sweep (faults are process-wide, so
/// points run in parallel only in processes of their own): `OCRCLOUD_FAULTS_SHARDS`, default 4.
fn shards() -> usize {
    std::env::var("OCRCLOUD_FAULTS_SHARDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4)
        .max(1)
}

/// Set in a child process: the fault points it runs, as `variant:n:fault` joined by `,`.
const POINTS_VAR: &str = "OCRCLOUD_FAULT_LOOP_POINTS";
/// What a child prints before each field of a finding.
const MARK: &str = "FAULT_LOOP";

/// A call to sweep: the test that sweeps it (a child process runs that test), the call's name,
/// the code it answers without faults, steps it must have (so that the loop cannot pass
/// empty), the share (in percent) of faults that must hit a fitting step (lower where threads
/// make the order of steps vary), and its variants.
struct Sweep<'a> {
    test: &'a str,
    call: &'a str,
    expected: ocr_code,
    needs: &'a [Step],
    hit_percent: u64,
    variants: &'a [Variant],
}

/// One fault point: the variant (an index), N (1-based) and the fault.
#[derive(Clone, Copy)]
struct Point {
    variant: usize,
    n: u64,
    fault: Fault,
}

/// What one fault point's run found: the step it met at N, its code and its problems.
struct Finding {
    point: Point,
    hit: Option<Step>,
    code: ocr_code,
    problems: Vec<String>,
}

fn fault_named(text: &str) -> Fault {
    *Fault::ALL
        .iter()
        .find(|f| format!("{f:?}") == text)
        .unwrap_or_else(|| panic!("no fault {text}"))
}

fn step_named(text: &str) -> Option<Step> {
    [
        Step::Connect,
        Step::Write,
        Step::Read,
        Step::FileCreate,
        Step::FileWrite,
        Step::FileRead,
        Step::Rename,
    ]
    .into_iter()
    .find(|s| format!("{s:?}") == text)
}

/// Runs one fault point in this process, `round` (from 0) being how often it ran before.
fn run_point(
    spec: &Sweep,
    point: Point,
    round: u32,
    attempt: &mut impl FnMut(&Run) -> Trial,
) -> Finding {
    let variant = spec.variants[point.variant];
    let tag = format!("v{}-{}-{:?}-{round}", point.variant, point.n, point.fault);
    let trial = attempt(&Run::new(&variant, Some((point.n, point.fault)), tag));
    Finding {
        point,
        hit: trial.steps.get(point.n as usize - 1).copied(),
        code: trial.code,
        problems: trial.problems,
    }
}

/// Whether a finding's only problem is a late return.
fn only_late(finding: &Finding) -> bool {
    !finding.problems.is_empty() && finding.problems.iter().all(|p| p.starts_with(LATE))
}

/// How a problem of a run that returned late begins.
const LATE: &str = "returned after";
/// How many times a point whose only problem is a late return runs before that counts.
const LATE_RUNS: u32 = 3;

/// Runs `points` here. A busy machine may delay any run, so a point that was only late runs
/// again after all the others, twice more, a second apart; its late return counts only if it
/// happened every time.
fn run_share(
    spec: &Sweep,
    points: &[Point],
    attempt: &mut impl FnMut(&Run) -> Trial,
) -> Vec<Finding> {
    let mut findings: Vec<Finding> = points
        .iter()
        .map(|&point| run_point(spec, point, 0, attempt))
        .collect();
    for round in 1..LATE_RUNS {
        if !findings.iter().any(only_late) {
            break;
        }
        std::thread::sleep(Duration::from_secs(1));
        for finding in findings.iter_mut().filter(|f| only_late(f)) {
            *finding = run_point(spec, finding.point, round, attempt);
            if only_late(finding) && round == LATE_RUNS - 1 {
                for problem in &mut finding.problems {
                    problem.push_str(&format!(" (late in {LATE_RUNS} runs of {LATE_RUNS})"));
                }
            }
        }
    }
    findings
}

/// In a child process: runs the points the parent gave and prints each finding on a line.
fn run_child(spec: &Sweep, points: &str, attempt: &mut impl FnMut(&Run) -> Trial) {
    let points: Vec<Point> = points
        .split(',')
        .filter(|p| !p.is_empty())
        .map(|point| {
            let fields: Vec<&str> = point.split(':').collect();
            Point {
                variant: fields[0].parse().unwrap(),
                n: fields[1].parse().unwrap(),
                fault: fault_named(fields[2]),
            }
        })
        .collect();
    for finding in run_share(spec, &points, attempt) {
        let problems: Vec<String> = finding
            .problems
            .iter()
            .map(|p| {
                p.replace('\\', "\\\\")
                    .replace('\n', "\\n")
                    .replace('\t', "\\t")
            })
            .collect();
        let point = finding.point;
        println!(
            "{MARK}\t{}\t{}\t{:?}\t{}\t{}\t{}",
            point.variant,
            point.n,
            point.fault,
            finding.hit.map_or("-".to_string(), |s| format!("{s:?}")),
            finding.code,
            problems.join("\t")
        );
    }
}

/// Runs `points` in `shards()` child processes (each running `spec.test` with its share) and
/// answers their findings; with one shard, here.
fn run_points(
    spec: &Sweep,
    points: &[Point],
    attempt: &mut impl FnMut(&Run) -> Trial,
) -> Vec<Finding> {
    let shards = shards().min(points.len().max(1));
    if shards == 1 {
        return run_share(spec, points, attempt);
    }
    let children: Vec<_> = (0..shards)
        .map(|shard| {
            let share: Vec<String> = points
                .iter()
                .skip(shard)
                .step_by(shards)
                .map(|p| format!("{}:{}:{:?}", p.variant, p.n, p.fault))
                .collect();
            // This very binary, even if a build replaced its file meanwhile.
            std::process::Command::new("/proc/self/exe")
                .args([spec.test, "--exact", "--nocapture", "--test-threads", "1"])
                .env(POINTS_VAR, share.join(","))
                .envs(LEFTOVER.get().map(|path| (LEFTOVER_VAR, path)))
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("a child process of the test starts")
        })
        .collect();
    let mut findings = Vec::new();
    for child in children {
        let output = child.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "a child process of {} failed:\n{stdout}\n{}",
            spec.test,
            String::from_utf8_lossy(&output.stderr)
        );
        for line in stdout.lines() {
            // libtest may print "test NAME ... " before the first line.
            let Some(at) = line.find(&format!("{MARK}\t")) else {
                continue;
            };
            let mut fields = line[at..].split('\t');
            fields.next();
            let mut next = || fields.next().unwrap_or_default();
            let point = Point {
                variant: next().parse().unwrap(),
                n: next().parse().unwrap(),
                fault: fault_named(next()),
            };
            let hit = step_named(next());
            let code = next().parse().unwrap();
            let problems = fields
                .filter(|p| !p.is_empty())
                .map(|p| {
                    p.replace("\\n", "\n")
                        .replace("\\t", "\t")
                        .replace("\\\\", "\\")
                })
                .collect();
            findings.push(Finding {
                point,
                hit,
                code,
                problems,
            });
        }
    }
    assert_eq!(
        findings.len(),
        points.len(),
        "{}: the child processes reported {} of {} fault points",
        spec.call,
        findings.len(),
        points.len()
    );
    findings
}

/// Runs variant `v` without faults, counting its steps.
fn count(attempt: &mut impl FnMut(&Run) -> Trial, v: usize, variant: &Variant, try_: u32) -> Trial {
    // Without its cancel: the steps are the same, and a busy machine cannot cut it short.
    let uncancelled = Variant {
        cancel_ms: None,
        ..*variant
    };
    attempt(&Run::new(&uncancelled, None, format!("v{v}-count-{try_}")))
}

/// Runs each variant of the call once counting its steps, then once per fault point (in
/// child processes, see [`shards`]), and fails with every broken invariant.
fn sweep(spec: Sweep, mut attempt: impl FnMut(&Run) -> Trial) {
    let _one_at_a_time = SWEEP.lock().unwrap_or_else(|e| e.into_inner());
    unsafe { ocr_set_log_callback(Some(collect_line), std::ptr::null_mut()) };
    assert_eq!(ocr_set_log_level(OCR_LOG_DEBUG), OCR_OK);
    if let Ok(points) = std::env::var(POINTS_VAR) {
        run_child(&spec, &points, &mut attempt);
        unsafe { ocr_set_log_callback(None, std::ptr::null_mut()) };
        return;
    }
    let full = full_sweep();
    let started = Instant::now();
    let mut failures = Vec::new();
    let mut counted_steps = Vec::new();
    let mut points = Vec::new();
    for (v, variant) in spec.variants.iter().enumerate() {
        let call = format!("{}{}", spec.call, variant.label);
        // A busy machine may time a counting run out or make it late; it is the baseline, so
        // it may try again (a problem of another kind fails at once).
        let settled = |t: &Trial| {
            (t.code == spec.expected && t.problems.is_empty())
                || t.problems.iter().any(|p| !p.starts_with(LATE))
        };
        let mut counted = count(&mut attempt, v, variant, 0);
        for again in 1..3 {
            if settled(&counted) {
                break;
            }
            std::thread::sleep(Duration::from_secs(1));
            counted = count(&mut attempt, v, variant, again);
        }
        assert!(
            counted.problems.is_empty() && counted.code == spec.expected,
            "{call} without faults: {} (expected {}) {:?}",
            name(counted.code),
            name(spec.expected),
            counted.problems
        );
        for need in spec.needs {
            if !counted.steps.contains(need) {
                failures.push(format!(
                    "{call}: no {need:?} step, so no fault can fail it: {:?}",
                    counted.steps
                ));
            }
        }
        for (i, &step) in counted.steps.iter().enumerate() {
            let n = i as u64 + 1;
            let fitting = Fault::ALL.iter().filter(|f| f.fits(step));
            for (index, &fault) in fitting.enumerate() {
                if full || sampled(step, n, index as u64) {
                    points.push(Point {
                        variant: v,
                        n,
                        fault,
                    });
                }
            }
        }
        counted_steps.push(counted.steps);
    }
    let findings = run_points(&spec, &points, &mut attempt);
    unsafe { ocr_set_log_callback(None, std::ptr::null_mut()) };
    let mut hits = 0u64;
    let mut per_variant = vec![(0u64, 0u64); spec.variants.len()];
    for finding in findings {
        let Point { variant, n, fault } = finding.point;
        let step = counted_steps[variant][n as usize - 1];
        let hit = finding.hit.is_some_and(|s| fault.fits(s));
        per_variant[variant].0 += 1;
        per_variant[variant].1 += u64::from(hit);
        hits += u64::from(hit);
        for problem in finding.problems {
            failures.push(format!(
                "{}{}, N = {n} ({step:?} when counted, {:?} in this run), {fault:?} -> {}: \
                 {problem}",
                spec.call,
                spec.variants[variant].label,
                finding.hit,
                name(finding.code)
            ));
        }
    }
    for (v, variant) in spec.variants.iter().enumerate() {
        println!(
            "fault loop: {}{}: {} steps, {} fault points ({} hit a fitting step)",
            spec.call,
            variant.label,
            counted_steps[v].len(),
            per_variant[v].0,
            per_variant[v].1
        );
    }
    let total = points.len() as u64;
    println!(
        "fault loop total: {}: {total} fault points ({hits} hit a fitting step), {} in {} \
         processes, {:.1} s",
        spec.call,
        if full { "full sweep" } else { "sample" },
        shards().min(points.len().max(1)),
        started.elapsed().as_secs_f64()
    );
    assert!(
        failures.is_empty(),
        "{}: {} problems in {total} fault points:\n{}",
        spec.call,
        failures.len(),
        failures.join("\n")
    );
    assert!(
        hits * 100 >= total * spec.hit_percent,
        "{}: only {hits} of {total} faults hit a fitting step: the steps vary too much",
        spec.call
    );
}

/// The usual sweep of a one-shot network call, run by the test `test`.
fn network<'a>(test: &'a str, call: &'a str, needs: &'a [Step]) -> Sweep<'a> {
    Sweep {
        test,
        call,
        expected: OCR_OK,
        needs,
        hit_percent: 80,
        variants: &NETWORK_VARIANTS,
    }
}

/// The sweep of a poll: results are written while threads read, so steps vary more.
fn polling<'a>(test: &'a str, call: &'a str, needs: &'a [Step]) -> Sweep<'a> {
    Sweep {
        hit_percent: 50,
        variants: &POLL_VARIANTS,
        ..network(test, call, needs)
    }
}

/// The sweep of a save: file steps only.
fn saving<'a>(test: &'a str, call: &'a str, needs: &'a [Step]) -> Sweep<'a> {
    Sweep {
        variants: &SAVE_VARIANTS,
        ..network(test, call, needs)
    }
}

const NETWORK: &[Step] = &[Step::Connect, Step::Write, Step::Read];
const TO_DIR: &[Step] = &[Step::Read, Step::FileCreate, Step::FileWrite, Step::Rename];

#[test]
fn a_token_fetch_keeps_its_promises_at_every_failing_step() {
    let env = Env::start("token");
    let task = env.fixture("token-task", &results(1000), json!({}));
    let spec = Sweep {
        variants: &TOKEN_VARIANTS,
        ..network(
            "a_token_fetch_keeps_its_promises_at_every_failing_step",
            "token fetch (a credentials client's first call: ocr_get_task_status)",
            NETWORK,
        )
    };
    sweep(spec, |run| token_fetch(&env, run, &task));
}

#[test]
fn ocr_submit_keeps_its_promises_at_every_failing_step() {
    let env = Env::start("submit");
    let document = document();
    let spec = network(
        "ocr_submit_keeps_its_promises_at_every_failing_step",
        "ocr_submit",
        NETWORK,
    );
    sweep(spec, |run| submit(&env, run, &document, None));
}

#[test]
fn ocr_submit_file_keeps_its_promises_at_every_failing_step() {
    let env = Env::start("submit-file");
    let document = document();
    let path = env.root.join("document.pdf");
    std::fs::write(&path, &document).unwrap();
    let spec = network(
        "ocr_submit_file_keeps_its_promises_at_every_failing_step",
        "ocr_submit_file",
        &[Step::FileRead, Step::Connect, Step::Write, Step::Read],
    );
    sweep(spec, |run| submit(&env, run, &document, Some(&path)));
}

#[test]
fn ocr_fetch_result_keeps_its_promises_at_every_failing_step() {
    let env = Env::start("fetch");
    let expected = results(400_000);
    let task = env.fixture("fetch-task", &expected, json!({}));
    let spec = network(
        "ocr_fetch_result_keeps_its_promises_at_every_failing_step",
        "ocr_fetch_result",
        NETWORK,
    );
    sweep(spec, |run| fetch(&env, run, &task, &expected));
}

#[test]
fn ocr_fetch_result_to_dir_keeps_its_promises_at_every_failing_step() {
    let env = Env::start("fetch-to-dir");
    let expected = results(1_500_000);
    let task = env.fixture("dir-task", &expected, json!({}));
    let spec = Sweep {
        hit_percent: 60,
        ..network(
            "ocr_fetch_result_to_dir_keeps_its_promises_at_every_failing_step",
            "ocr_fetch_result_to_dir",
            TO_DIR,
        )
    };
    sweep(spec, |run| fetch_to_dir(&env, run, &task, &expected));
}

#[test]
fn ocr_poll_until_done_keeps_its_promises_at_every_failing_step() {
    let env = Env::start("poll");
    let expected = results(100_000);
    let spec = polling(
        "ocr_poll_until_done_keeps_its_promises_at_every_failing_step",
        "ocr_poll_until_done",
        NETWORK,
    );
    sweep(spec, |run| poll(&env, run, &expected));
}

#[test]
fn ocr_poll_until_done_to_dir_keeps_its_promises_at_every_failing_step() {
    let env = Env::start("poll-to-dir");
    let expected = results(1_000_000);
    let spec = polling(
        "ocr_poll_until_done_to_dir_keeps_its_promises_at_every_failing_step",
        "ocr_poll_until_done_to_dir",
        TO_DIR,
    );
    sweep(spec, |run| poll_to_dir(&env, run, &expected));
}

#[test]
fn ocr_poll_many_keeps_its_promises_at_every_failing_step() {
    let env = Env::start("poll-many");
    let done = results(60_000);
    let walking = vec![Expected::generated("Pdf", 150_000)];
    let spec = Sweep {
        expected: OCR_ERR_TASK_FAILED,
        ..polling(
            "ocr_poll_many_keeps_its_promises_at_every_failing_step",
            "ocr_poll_many",
            NETWORK,
        )
    };
    sweep(spec, |run| poll_many(&env, run, &done, &walking));
}

#[test]
fn ocr_get_task_status_keeps_its_promises_at_every_failing_step() {
    let env = Env::start("status");
    let task = env.fixture("status-task", &results(1000), json!({}));
    let spec = network(
        "ocr_get_task_status_keeps_its_promises_at_every_failing_step",
        "ocr_get_task_status",
        NETWORK,
    );
    sweep(spec, |run| status(&env, run, &task));
}

#[test]
fn ocr_cancel_task_keeps_its_promises_at_every_failing_step() {
    let env = Env::start("cancel");
    let spec = network(
        "ocr_cancel_task_keeps_its_promises_at_every_failing_step",
        "ocr_cancel_task",
        NETWORK,
    );
    sweep(spec, |run| cancel(&env, run));
}

#[test]
fn ocr_result_save_keeps_its_promises_at_every_failing_step() {
    let env = Env::start("save");
    let expected = results(300_000);
    let task = env.fixture("save-task", &expected, json!({}));
    let client = env.token_client();
    let in_memory = client.fetch(None, &task).expect("the result to save");
    let spec = saving(
        "ocr_result_save_keeps_its_promises_at_every_failing_step",
        "ocr_result_save (a result in memory)",
        &[Step::FileCreate, Step::FileWrite, Step::Rename],
    );
    sweep(spec, |run| {
        save(&env, run, &in_memory, 1, &expected[1].bytes)
    });
}

#[test]
fn ocr_result_save_of_a_result_in_a_file_keeps_its_promises_at_every_failing_step() {
    let env = Env::start("save-file");
    let expected = results(300_000);
    let task = env.fixture("save-task", &expected, json!({}));
    let client = env.token_client();
    let source = env.run_dir("source");
    let mut out = std::ptr::null_mut();
    let (id, folder) = (c(&task), c(source.to_str().unwrap()));
    let code = unsafe {
        ocr_fetch_result_to_dir(client.0, null(), id.as_ptr(), folder.as_ptr(), &mut out)
    };
    assert_eq!(code, OCR_OK, "{}", last_error());
    let in_file = OcrResult(out);
    let spec = saving(
        "ocr_result_save_of_a_result_in_a_file_keeps_its_promises_at_every_failing_step",
        "ocr_result_save (a result in a file)",
        &[
            Step::FileRead,
            Step::FileCreate,
            Step::FileWrite,
            Step::Rename,
        ],
    );
    sweep(spec, |run| save(&env, run, &in_file, 1, &expected[1].bytes));
}

/// The checks themselves: each catches what it looks for (so that a sweep cannot pass
/// because a check sees nothing).
#[test]
fn the_invariant_checks_catch_what_they_look_for() {
    if let Some(dir) = std::env::var_os(CRASH_VAR) {
        crash_leaving_a_temporary_file(Path::new(&dir));
    }
    let env = Env::start("checks");
    assert!(CODES.len() >= 15 && CODES.contains(&OCR_ERR_IO) && !CODES.contains(&-1));
    let token_piece = &env.token[10..10 + PIECE];
    assert!(
        env.leak_in(&format!("a message with {token_piece} in it"))
            .is_some()
    );
    assert!(
        env.leak_in("client_secret=fault%20loop%20secret%2FKq7")
            .is_some()
    );
    assert!(env.leak_in("the secret/Kq7+Zw3 Vd9xPn2 as such").is_some());
    assert!(
        env.leak_in("an issued token 0a1b2c3d4e5f60718293a4b5")
            .is_some()
    );
    let clean = "GET http://127.0.0.1:4000/v5.0/ocr/RecognizePdf?id=poll-v1-12-Stall: timed out \
                 (task db03b9ea-3eed-4954-a1d4-b2712773bbe0, 1234567890123456789 bytes)";
    assert_eq!(env.leak_in(clean), None);

    let dir = env.run_dir("folder");
    let before: Files = vec![("mine.txt".into(), b"mine".to_vec())];
    let results: Files = vec![("t.pdf".into(), b"complete".to_vec())];
    place(&dir, &before);
    assert!(check_folder(&dir, &before, &results, false).is_empty());
    assert_eq!(
        check_folder(&dir, &before, &results, true).len(),
        1,
        "a result missing"
    );
    std::fs::write(dir.join("t.pdf"), b"complete").unwrap();
    assert!(check_folder(&dir, &before, &results, true).is_empty());
    assert_eq!(
        check_folder(&dir, &before, &results, false).len(),
        1,
        "a result of a failure"
    );
    std::fs::write(dir.join("t.pdf"), b"compl").unwrap();
    assert_eq!(
        check_folder(&dir, &before, &results, true).len(),
        1,
        "a partial result"
    );
    std::fs::write(dir.join(".ocrcloud-1-2-3-t.pdf.tmp"), b"x").unwrap();
    std::fs::write(dir.join("mine.txt"), b"changed").unwrap();
    assert_eq!(check_folder(&dir, &before, &results, true).len(), 3);
    set_mode(&dir.join("mine.txt"), USERS_MODE);
    assert_eq!(check_mode(&dir.join("mine.txt")), None);
    set_mode(&dir.join("mine.txt"), 0o644);
    assert!(check_mode(&dir.join("mine.txt")).is_some());
}
