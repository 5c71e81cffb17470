//! Shared by the integration tests: a private emulator per test, its control endpoints, and
//! safe wrappers around the C ABI so that tests read like a C program's checks.

#![allow(dead_code)]

pub mod faulted_batch;
pub mod postgres;

use ocrcloud::ffi::*;
use serde_json::Value;
use std::ffi::{CStr, CString, c_char, c_void};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

/// The emulator binary next to the test executables (`target/<profile>/ocrcloud-emulator`),
/// or `$OCRCLOUD_EMULATOR`.
pub fn emulator_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("OCRCLOUD_EMULATOR") {
        return path.into();
    }
    workspace_binary("ocrcloud-emulator", "ocrcloud-emulator")
}

/// The repository's tracked files (`git ls-files`), as paths relative to its root.
pub fn tracked_files() -> Vec<String> {
    let output = Command::new("git")
        .args(["ls-files", "-z"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("git runs");
    assert!(output.status.success(), "{}", show(&output));
    String::from_utf8(output.stdout)
        .expect("UTF-8 paths")
        .split('\0')
        .filter(|path| !path.is_empty())
        .map(str::to_string)
        .collect()
}

/// `127.0.0.1:port` of a loopback port that nothing listens on (it was free a moment ago):
/// connections to it are refused at once, and nothing leaves the machine.
pub fn closed_port() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().to_string()
}

/// The binary `name` of the workspace member `package`, next to the test executables
/// (`target/<profile>/<name>`); `cargo build --workspace` builds it.
pub fn workspace_binary(name: &str, package: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test knows its path");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>/deps");
    let binary = profile_dir.join(name);
    assert!(
        binary.exists(),
        "{} is missing: build it first with `cargo build -p {package}`",
        binary.display()
    );
    binary
}

/// An emulator process on a free loopback port, killed when dropped.
pub struct Emulator {
    child: Child,
    /// `http://127.0.0.1:PORT` (`https://` for [`Emulator::start_tls`])
    pub url: String,
    agent: ureq::Agent,
    /// The PEM file of the CA a TLS emulator made.
    pub ca_file: Option<PathBuf>,
}

impl Emulator {
    /// Starts an emulator with the default flags plus `args`.
    pub fn start(args: &[&str]) -> Emulator {
        Emulator::start_on("127.0.0.1:0", args)
    }

    /// Starts an emulator that serves HTTPS with a certificate signed by a CA it makes
    /// (`--tls-self-signed`); its PEM file is `ca_file`.
    pub fn start_tls(args: &[&str]) -> Emulator {
        let ca = std::env::temp_dir().join(format!(
            "ocrcloud-test-ca-{}-{}.pem",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        let mut all = vec!["--tls-self-signed", ca.to_str().unwrap()];
        all.extend_from_slice(args);
        let mut emulator = Emulator::start(&all);
        let pem = std::fs::read(&ca).expect("the emulator wrote its CA");
        let roots: Vec<ureq::tls::Certificate<'static>> = ureq::tls::parse_pem(&pem)
            .filter_map(|item| match item.unwrap() {
                ureq::tls::PemItem::Certificate(c) => Some(c),
                _ => None,
            })
            .collect();
        emulator.agent = ureq::Agent::new_with_config(
            ureq::Agent::config_builder()
                .http_status_as_error(false)
                .tls_config(
                    ureq::tls::TlsConfig::builder()
                        .root_certs(ureq::tls::RootCerts::new_with_certs(&roots))
                        .build(),
                )
                .build(),
        );
        emulator.ca_file = Some(ca);
        emulator
    }

    /// Starts an emulator listening on `listen`.
    pub fn start_on(listen: &str, args: &[&str]) -> Emulator {
        let mut child = Command::new(emulator_binary())
            .arg("--listen")
            .arg(listen)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the emulator starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("piped"))
            .read_line(&mut line)
            .expect("the emulator prints its address");
        let url = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_string();
        let agent = ureq::Agent::new_with_config(
            ureq::Agent::config_builder()
                .http_status_as_error(false)
                .build(),
        );
        Emulator {
            child,
            url,
            agent,
            ca_file: None,
        }
    }

    /// The port the emulator listens on.
    pub fn port(&self) -> u16 {
        self.url.rsplit(':').next().unwrap().parse().unwrap()
    }

    /// Calls a control endpoint and answers its body as JSON (`Null` when empty).
    pub fn control(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}{path}", self.url);
        let mut response = match (method, body) {
            ("GET", _) => self.agent.get(&url).call(),
            ("POST", Some(body)) => self
                .agent
                .post(&url)
                .header("Content-Type", "application/json")
                .send(body.to_string()),
            ("POST", None) => self.agent.post(&url).send_empty(),
            _ => panic!("unsupported control call {method}"),
        }
        .expect("the control endpoint answers");
        assert!(
            response.status().is_success(),
            "{method} {path}: {}",
            response.status()
        );
        let text = response.body_mut().read_to_string().unwrap();
        if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        }
    }

    /// Creates a task directly (see the emulator's README) and answers its id.
    pub fn fixture(&self, spec: Value) -> String {
        match self.control("POST", "/_emulator/tasks", Some(spec)) {
            Value::String(id) => id,
            other => panic!("a fixture answers its id, not {other}"),
        }
    }

    /// Injects a fault (see the emulator's README).
    pub fn fault(&self, spec: Value) {
        self.control("POST", "/_emulator/faults", Some(spec));
    }

    /// What the emulator knows of a task.
    pub fn task(&self, id: &str) -> Value {
        self.control("GET", &format!("/_emulator/tasks/{id}"), None)
    }

    /// Request counters.
    pub fn stats(&self) -> Value {
        self.control("GET", "/_emulator/stats", None)
    }

    /// How many requests `METHOD /path` the emulator received.
    pub fn count(&self, route: &str) -> u64 {
        self.stats()["by_route"][route].as_u64().unwrap_or(0)
    }

    /// Kills the process now (for restart tests).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(ca) = &self.ca_file {
            let _ = std::fs::remove_file(ca);
        }
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The pointer of an optional C string argument (NULL for `None`).
pub fn ptr_or_null(text: &Option<CString>) -> *const c_char {
    text.as_ref().map_or(std::ptr::null(), |t| t.as_ptr())
}

/// The task id a submit call gave (freed here), or its code; no id on failure.
fn take_task_id(code: ocr_code, id: *mut c_char) -> Result<String, ocr_code> {
    if code != OCR_OK {
        assert!(id.is_null(), "no out-parameter on failure");
        return Err(code);
    }
    let task_id = text(id).unwrap();
    unsafe { ocr_string_free(id) };
    Ok(task_id)
}

/// A NUL-terminated copy of `text`.
pub fn c(text: &str) -> CString {
    CString::new(text).unwrap()
}

/// The thread's last error message.
pub fn last_error() -> String {
    // SAFETY: the library answers a valid NUL-terminated string.
    unsafe { CStr::from_ptr(ocr_last_error_message()) }
        .to_string_lossy()
        .into_owned()
}

/// A borrowed C string as `&str` (NULL as `None`).
pub fn text(ptr: *const c_char) -> Option<String> {
    // SAFETY: the library answers NULL or a valid NUL-terminated string.
    (!ptr.is_null()).then(|| {
        unsafe { CStr::from_ptr(ptr) }
            .to_string_lossy()
            .into_owned()
    })
}

/// The name of a code, for assertion messages.
pub fn name(code: ocr_code) -> String {
    text(ocr_code_name(code)).unwrap()
}

/// Asserts a code, showing names and the last error on mismatch.
#[track_caller]
pub fn assert_code(actual: ocr_code, expected: ocr_code) {
    assert_eq!(name(actual), name(expected), "last error: {}", last_error());
}

/// An owned client handle.
pub struct Client(pub *mut ocr_client);

impl Client {
    /// A client with a fixed token (or none).
    pub fn with_token(url: &str, token: Option<&str>) -> Client {
        let token = token.map(c);
        let mut client = std::ptr::null_mut();
        assert_code(
            unsafe { ocr_client_new(c(url).as_ptr(), ptr_or_null(&token), &mut client) },
            OCR_OK,
        );
        Client(client)
    }

    /// A client with client credentials.
    pub fn with_credentials(url: &str, id: &str, secret: &str) -> Client {
        let mut client = std::ptr::null_mut();
        assert_code(
            unsafe {
                ocr_client_new_with_credentials(
                    c(url).as_ptr(),
                    c(id).as_ptr(),
                    c(secret).as_ptr(),
                    &mut client,
                )
            },
            OCR_OK,
        );
        Client(client)
    }

    /// A client with the emulator's default credentials.
    pub fn demo(emulator: &Emulator) -> Client {
        Client::with_credentials(&emulator.url, "demo", "demo-secret")
    }

    /// `ocr_fetch_result_for`.
    pub fn fetch(&self, operation: Option<&str>, task_id: &str) -> Result<OcrResult, ocr_code> {
        let operation = operation.map(c);
        let mut out = std::ptr::null_mut();
        let code = unsafe {
            ocr_fetch_result_for(
                self.0,
                ptr_or_null(&operation),
                c(task_id).as_ptr(),
                &mut out,
            )
        };
        OcrResult::from_call(code, out)
    }

    /// `ocr_poll_until_done_for`.
    pub fn poll(
        &self,
        operation: Option<&str>,
        task_id: &str,
        options: Option<&Options>,
    ) -> Result<OcrResult, ocr_code> {
        let operation = operation.map(c);
        let mut out = std::ptr::null_mut();
        let code = unsafe {
            ocr_poll_until_done_for(
                self.0,
                ptr_or_null(&operation),
                c(task_id).as_ptr(),
                options.map_or(std::ptr::null(), |o| o.0),
                &mut out,
            )
        };
        OcrResult::from_call(code, out)
    }

    /// `ocr_submit`.
    pub fn submit(
        &self,
        operation: Option<&str>,
        document: &[u8],
        settings: Option<&str>,
    ) -> Result<String, ocr_code> {
        let operation = operation.map(c);
        let settings = settings.map(c);
        let mut id: *mut c_char = std::ptr::null_mut();
        let code = unsafe {
            ocr_submit(
                self.0,
                ptr_or_null(&operation),
                document.as_ptr(),
                document.len(),
                ptr_or_null(&settings),
                &mut id,
            )
        };
        take_task_id(code, id)
    }
}

impl Client {
    /// `ocr_submit_file`.
    pub fn submit_file(
        &self,
        operation: Option<&str>,
        path: &str,
        settings: Option<&str>,
    ) -> Result<String, ocr_code> {
        let operation = operation.map(c);
        let settings = settings.map(c);
        let mut id: *mut c_char = std::ptr::null_mut();
        let code = unsafe {
            ocr_submit_file(
                self.0,
                ptr_or_null(&operation),
                c(path).as_ptr(),
                ptr_or_null(&settings),
                &mut id,
            )
        };
        take_task_id(code, id)
    }

    /// `ocr_fetch_result_to_dir`.
    pub fn fetch_to_dir(&self, task_id: &str, dir: &Path) -> Result<OcrResult, ocr_code> {
        let mut out = std::ptr::null_mut();
        let code = unsafe {
            ocr_fetch_result_to_dir(
                self.0,
                std::ptr::null(),
                c(task_id).as_ptr(),
                c(dir.to_str().unwrap()).as_ptr(),
                &mut out,
            )
        };
        OcrResult::from_call(code, out)
    }

    /// `ocr_cancel_task`.
    pub fn cancel_task(&self, operation: Option<&str>, task_id: &str) -> Result<(), ocr_code> {
        let operation = operation.map(c);
        let code = unsafe { ocr_cancel_task(self.0, ptr_or_null(&operation), c(task_id).as_ptr()) };
        if code == OCR_OK { Ok(()) } else { Err(code) }
    }

    /// `ocr_get_task_status`.
    pub fn status(
        &self,
        operation: Option<&str>,
        task_id: &str,
    ) -> Result<ocr_task_status, ocr_code> {
        let operation = operation.map(c);
        let mut status = -1;
        let code = unsafe {
            ocr_get_task_status(
                self.0,
                ptr_or_null(&operation),
                c(task_id).as_ptr(),
                &mut status,
            )
        };
        if code == OCR_OK {
            Ok(status)
        } else {
            assert_eq!(status, -1, "no out-parameter on failure");
            Err(code)
        }
    }

    /// `ocr_poll_many`: the call's code and, per task, its code and result.
    pub fn poll_many(
        &self,
        operation: Option<&str>,
        task_ids: &[String],
        options: Option<&Options>,
    ) -> (ocr_code, Vec<(ocr_code, Option<OcrResult>)>) {
        let operation = operation.map(c);
        let ids: Vec<_> = task_ids.iter().map(|id| c(id)).collect();
        let pointers: Vec<*const c_char> = ids.iter().map(|id| id.as_ptr()).collect();
        let mut results = vec![std::ptr::null_mut(); ids.len()];
        let mut codes = vec![-1; ids.len()];
        let code = unsafe {
            ocr_poll_many(
                self.0,
                ptr_or_null(&operation),
                pointers.as_ptr(),
                pointers.len(),
                options.map_or(std::ptr::null(), |o| o.0),
                results.as_mut_ptr(),
                codes.as_mut_ptr(),
            )
        };
        let per_task = codes
            .into_iter()
            .zip(results)
            .map(|(code, result)| {
                assert_eq!(
                    code == OCR_OK,
                    !result.is_null(),
                    "a result exactly where the code is OCR_OK"
                );
                (code, (!result.is_null()).then_some(OcrResult(result)))
            })
            .collect();
        (code, per_task)
    }
}

// SAFETY: a client is documented as safe to share between threads.
unsafe impl Send for Client {}
unsafe impl Sync for Client {}

impl Drop for Client {
    fn drop(&mut self) {
        unsafe { ocr_client_free(self.0) };
    }
}

/// An owned result handle.
pub struct OcrResult(pub *mut ocr_result);

impl OcrResult {
    pub fn from_call(code: ocr_code, out: *mut ocr_result) -> Result<OcrResult, ocr_code> {
        if code == OCR_OK {
            assert!(!out.is_null());
            Ok(OcrResult(out))
        } else {
            assert!(out.is_null(), "no out-parameter on failure");
            Err(code)
        }
    }

    pub fn status(&self) -> ocr_task_status {
        unsafe { ocr_result_task_status(self.0) }
    }

    pub fn status_text(&self) -> String {
        text(unsafe { ocr_result_task_status_text(self.0) }).unwrap()
    }

    pub fn id(&self) -> String {
        text(unsafe { ocr_result_id(self.0) }).unwrap()
    }

    pub fn response_status(&self) -> String {
        text(unsafe { ocr_result_response_status(self.0) }).unwrap()
    }

    pub fn count(&self) -> usize {
        unsafe { ocr_result_count(self.0) }
    }

    pub fn kind(&self, index: usize) -> Option<String> {
        text(unsafe { ocr_result_type(self.0, index) })
    }

    pub fn data(&self, index: usize) -> Option<Vec<u8>> {
        let mut len = 0usize;
        let ptr = unsafe { ocr_result_data(self.0, index, &mut len) };
        // SAFETY: the library answers `len` readable bytes at `ptr`.
        (!ptr.is_null()).then(|| unsafe { std::slice::from_raw_parts(ptr, len) }.to_vec())
    }

    pub fn messages(&self) -> Vec<String> {
        (0..unsafe { ocr_result_message_count(self.0) })
            .map(|i| text(unsafe { ocr_result_message(self.0, i) }).unwrap())
            .collect()
    }

    pub fn warnings(&self) -> Vec<String> {
        (0..unsafe { ocr_result_warning_count(self.0) })
            .map(|i| text(unsafe { ocr_result_warning(self.0, i) }).unwrap())
            .collect()
    }
}

impl Drop for OcrResult {
    fn drop(&mut self) {
        unsafe { ocr_result_free(self.0) };
    }
}

/// Owned poll options.
pub struct Options(pub *mut ocr_poll_options);

impl Options {
    /// Fast polling for tests: `interval_ms` fixed, a deadline of `timeout_ms`.
    pub fn fast(interval_ms: u32, timeout_ms: u32) -> Options {
        let options = Options(ocr_poll_options_new());
        assert_code(
            unsafe { ocr_poll_options_set_interval_ms(options.0, interval_ms) },
            OCR_OK,
        );
        assert_code(
            unsafe { ocr_poll_options_set_backoff(options.0, 1.0, interval_ms) },
            OCR_OK,
        );
        assert_code(
            unsafe { ocr_poll_options_set_timeout_ms(options.0, timeout_ms) },
            OCR_OK,
        );
        options
    }
}

impl Options {
    /// Sends every progress report to `reports` (which must outlive the polls).
    pub fn report_to(&self, reports: &Reports) {
        assert_code(
            unsafe {
                ocr_poll_options_set_progress(
                    self.0,
                    Some(record_progress),
                    reports as *const Reports as *mut c_void,
                )
            },
            OCR_OK,
        );
    }
}

/// What progress callbacks reported: (task id, status, attempt).
pub type Reports = std::sync::Mutex<Vec<(String, ocr_task_status, u32)>>;

extern "C" fn record_progress(
    user_data: *mut c_void,
    task_id: *const c_char,
    status: ocr_task_status,
    attempt: u32,
) {
    // SAFETY: `report_to` passes a `Reports`; the library passes a valid task id.
    let reports = unsafe { &*(user_data as *const Reports) };
    reports
        .lock()
        .unwrap()
        .push((text(task_id).unwrap(), status, attempt));
}

impl Drop for Options {
    fn drop(&mut self) {
        unsafe { ocr_poll_options_free(self.0) };
    }
}

/// `target/<profile>/deps`, where cargo builds `libocrcloud.so` for this test run (`cargo build`
/// copies it up one folder, `cargo test` does not).
pub fn library_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test knows its path");
    exe.parent().expect("target/<profile>/deps").to_path_buf()
}

/// Compiles a C source of this repository with `-Wall -Wextra -Werror -pedantic` against the
/// committed header and this test run's library, into `target/<profile>/c-programs/<name>-<tag>`
/// (a name per caller, as tests run in parallel).
pub fn compile_c(source: &str, tag: &str) -> PathBuf {
    let lib = library_dir();
    let out_dir = lib.parent().unwrap().join("c-programs");
    compile_c_with("gcc", &lib, &out_dir, source, tag)
}

/// [`compile_c`] with the C compiler `compiler` (e.g. a cross compiler) against the library in
/// `lib` (linked with an rpath to it), into `out_dir/<name>-<tag>`.
pub fn compile_c_with(
    compiler: &str,
    lib: &Path,
    out_dir: &Path,
    source: &str,
    tag: &str,
) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    std::fs::create_dir_all(out_dir).unwrap();
    let name = Path::new(source).file_stem().unwrap().to_string_lossy();
    let binary = out_dir.join(format!("{name}-{tag}"));
    let output = Command::new(compiler)
        .args(["-std=c11", "-g", "-Wall", "-Wextra", "-Werror", "-pedantic"])
        .arg(format!("-I{}", root.join("include").display()))
        .arg(root.join(source))
        .arg("-o")
        .arg(&binary)
        .arg(format!("-L{}", lib.display()))
        .arg(format!("-Wl,-rpath,{}", lib.display()))
        .args(["-locrcloud", "-lpthread"])
        .output()
        .unwrap_or_else(|error| panic!("{compiler} runs: {error}"));
    assert!(
        output.status.success(),
        "{compiler} {source}:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    binary
}

/// Runs `program` with `args` under valgrind, which fails it (exit status 99) on any invalid
/// access or leak (see tests/c/valgrind.supp for the one suppression).
pub fn valgrind(program: &Path) -> Command {
    let mut command = Command::new("valgrind");
    command
        .args([
            "--quiet",
            concat!(
                "--suppressions=",
                env!("CARGO_MANIFEST_DIR"),
                "/tests/c/valgrind.supp"
            ),
            "--error-exitcode=99",
            "--leak-check=full",
            "--show-leak-kinds=definite,indirect,possible",
            "--errors-for-leak-kinds=definite,indirect,possible",
        ])
        .arg(program);
    command
}

/// A small real PDF with a text layer.
pub fn sample_pdf() -> Vec<u8> {
    std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/sample.pdf"))
        .expect("examples/sample.pdf")
}

/// The names of the entries of `dir`, sorted.
pub fn file_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// A directory of its own for a test, emptied first.
pub fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ocrcloud-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A loopback listener that never accepts, with its queue filled, so that further connects to
/// `address` hang (the kernel drops their SYNs). Keep it alive as long as the hang is needed.
pub struct Unanswered {
    pub address: std::net::SocketAddr,
    _listener: socket2::Socket,
    _fillers: Vec<std::net::TcpStream>,
}

impl Unanswered {
    pub fn new() -> Unanswered {
        let listener =
            socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        let any: std::net::SocketAddr = "127.0.0.1:0".parse().unwrap();
        listener.bind(&any.into()).unwrap();
        listener.listen(0).unwrap();
        let address = listener.local_addr().unwrap().as_socket().unwrap();
        let mut fillers = Vec::new();
        while let Ok(stream) =
            std::net::TcpStream::connect_timeout(&address, std::time::Duration::from_millis(200))
        {
            fillers.push(stream);
            assert!(fillers.len() < 64, "the listen queue never filled");
        }
        Unanswered {
            address,
            _listener: listener,
            _fillers: fillers,
        }
    }
}

/// An owned batch handle over a client (which must outlive it).
pub struct Batch(pub *mut ocr_batch);

impl Batch {
    /// Opens a batch writing into `out` with the default journal, or the open's code.
    pub fn open(client: &Client, out: &Path) -> Result<Batch, ocr_code> {
        let mut batch = std::ptr::null_mut();
        let dir = c(out.to_str().unwrap());
        let code = unsafe { ocr_batch_open(client.0, std::ptr::null(), dir.as_ptr(), &mut batch) };
        if code != OCR_OK {
            assert!(batch.is_null(), "no out-parameter on failure");
            return Err(code);
        }
        Ok(Batch(batch))
    }

    /// Opens batch `name` of the shared journal at `url`, writing into `out`, or the open's
    /// code.
    pub fn open_shared(
        client: &Client,
        url: &str,
        name: &str,
        out: &Path,
    ) -> Result<Batch, ocr_code> {
        let mut batch = std::ptr::null_mut();
        let (url, name, dir) = (c(url), c(name), c(out.to_str().unwrap()));
        let code = unsafe {
            ocr_batch_open_shared(
                client.0,
                url.as_ptr(),
                name.as_ptr(),
                dir.as_ptr(),
                &mut batch,
            )
        };
        if code != OCR_OK {
            assert!(batch.is_null(), "no out-parameter on failure");
            return Err(code);
        }
        Ok(Batch(batch))
    }

    /// Opens a batch writing into `out` with its journal at `journal`, or the open's code.
    pub fn open_with_journal(
        client: &Client,
        journal: &Path,
        out: &Path,
    ) -> Result<Batch, ocr_code> {
        let mut batch = std::ptr::null_mut();
        let (journal, dir) = (c(journal.to_str().unwrap()), c(out.to_str().unwrap()));
        let code = unsafe { ocr_batch_open(client.0, journal.as_ptr(), dir.as_ptr(), &mut batch) };
        if code != OCR_OK {
            return Err(code);
        }
        Ok(Batch(batch))
    }

    /// Adds every document under `folder` with `settings`; answers how many.
    pub fn add_folder(&self, folder: &Path, settings: Option<&str>) -> Result<usize, ocr_code> {
        let settings = settings.map(c);
        let mut added = 0;
        let folder = c(folder.to_str().unwrap());
        let code = unsafe {
            ocr_batch_add_folder(
                self.0,
                folder.as_ptr(),
                std::ptr::null(),
                ptr_or_null(&settings),
                &mut added,
            )
        };
        if code == OCR_OK { Ok(added) } else { Err(code) }
    }

    /// Runs with `jobs` and `options`, recording each (index, state) reported.
    pub fn run(&self, jobs: u32, options: &Options) -> (ocr_code, Vec<(usize, ocr_batch_state)>) {
        extern "C" fn record(user_data: *mut c_void, index: usize, state: ocr_batch_state) {
            let changes = unsafe { &mut *(user_data as *mut Vec<(usize, ocr_batch_state)>) };
            changes.push((index, state));
        }
        let mut changes: Vec<(usize, ocr_batch_state)> = Vec::new();
        let code = unsafe {
            ocr_batch_run(
                self.0,
                jobs,
                options.0,
                Some(record),
                &mut changes as *mut _ as *mut c_void,
            )
        };
        (code, changes)
    }

    pub fn size(&self) -> usize {
        unsafe { ocr_batch_size(self.0) }
    }

    pub fn count(&self, state: ocr_batch_state) -> usize {
        unsafe { ocr_batch_count(self.0, state) }
    }

    pub fn state(&self, index: usize) -> ocr_batch_state {
        unsafe { ocr_batch_item_state(self.0, index) }
    }

    pub fn path(&self, index: usize) -> Option<String> {
        text(unsafe { ocr_batch_item_path(self.0, index) })
    }

    pub fn task_id(&self, index: usize) -> Option<String> {
        text(unsafe { ocr_batch_item_task_id(self.0, index) })
    }

    pub fn message(&self, index: usize) -> Option<String> {
        text(unsafe { ocr_batch_item_message(self.0, index) })
    }

    pub fn code(&self, index: usize) -> ocr_code {
        unsafe { ocr_batch_item_code(self.0, index) }
    }

    pub fn outputs(&self, index: usize) -> Vec<String> {
        let count = unsafe { ocr_batch_item_output_count(self.0, index) };
        (0..count)
            .map(|i| text(unsafe { ocr_batch_item_output(self.0, index, i) }).unwrap())
            .collect()
    }

    pub fn possible_duplicates(&self, index: usize) -> u32 {
        unsafe { ocr_batch_item_possible_duplicates(self.0, index) }
    }

    pub fn skipped(&self, index: usize) -> bool {
        let skipped = unsafe { ocr_batch_item_skipped(self.0, index) };
        skipped == 1
    }

    pub fn seconds(&self, index: usize) -> f64 {
        unsafe { ocr_batch_item_seconds(self.0, index) }
    }
}

impl Drop for Batch {
    fn drop(&mut self) {
        unsafe { ocr_batch_free(self.0) };
    }
}

/// A small PDF of its own for input `n`.
pub fn small_pdf(n: usize) -> Vec<u8> {
    format!("%PDF-1.4\n% input {n}\n1 0 obj<<>>endobj\n%%EOF\n").into_bytes()
}

/// Writes `count` small PDFs into `dir/docs`, half of them in a subfolder; answers the folder.
pub fn write_pdfs(dir: &Path, count: usize) -> PathBuf {
    let docs = dir.join("docs");
    for n in 0..count {
        let path = docs.join(format!(
            "{}doc-{n}.pdf",
            if n % 2 == 1 { "sub/" } else { "" }
        ));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, small_pdf(n)).unwrap();
    }
    docs
}

/// Every file under `dir` with a temporary name of the library.
pub fn temporary_files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut folders = vec![dir.to_path_buf()];
    while let Some(folder) = folders.pop() {
        let Ok(entries) = std::fs::read_dir(&folder) else {
            continue;
        };
        for entry in entries.flatten() {
            if entry.file_type().unwrap().is_dir() {
                folders.push(entry.path());
            } else if entry
                .file_name()
                .to_string_lossy()
                .starts_with(".ocrcloud-")
            {
                found.push(entry.path());
            }
        }
    }
    found
}

/// A finished process's status and output, for a failed assertion's message.
pub fn show(output: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}
