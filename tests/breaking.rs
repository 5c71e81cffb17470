//! The breaking pass of the hardening issue: each test reproduces a broken promise that a
//! helper whose only job was to break the change found (against commit 0ae290c), and holds its
//! fix. The names say what was broken.

mod common;
#[path = "hostile/server.rs"]
mod server;

use common::*;
use ocrcloud::ffi::*;
use server::{Reply, Server, http, json};
use std::ffi::{c_char, c_void};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicPtr, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A 16-character piece of `secret` found in `text`, if any.
fn piece_of(secret: &str, text: &str) -> Option<String> {
    (0..=secret.len().saturating_sub(16))
        .map(|i| &secret[i..i + 16])
        .find(|piece| text.contains(piece))
        .map(str::to_string)
}

static LINES: Mutex<Vec<String>> = Mutex::new(Vec::new());

extern "C" fn keep_line(_user_data: *mut c_void, _level: i32, message: *const c_char) {
    LINES.lock().unwrap().push(text(message).unwrap());
}

fn capture_logs(level: i32) {
    unsafe { ocr_set_log_callback(Some(keep_line), std::ptr::null_mut()) };
    assert_code(ocr_set_log_level(level), OCR_OK);
}

fn logged() -> Vec<String> {
    LINES.lock().unwrap().clone()
}

/// `ocr_fetch_result_to_dir`: the number of result files, or the code.
fn to_dir(client: &Client, task_id: &str, dir: &Path) -> Result<OcrResult, ocr_code> {
    let mut out = std::ptr::null_mut();
    let code = unsafe {
        ocr_fetch_result_to_dir(
            client.0,
            std::ptr::null(),
            c(task_id).as_ptr(),
            c(dir.to_str().unwrap()).as_ptr(),
            &mut out,
        )
    };
    OcrResult::from_call(code, out)
}

fn completed(id: &str) -> Reply {
    json(format!(
        r#"{{"id":"{id}","taskStatus":"Completed","responseStatusCode":"Ok","results":[{{"type":"Pdf","data":"aGVsbG8="}},{{"type":"Text","data":"d29ybGQ="}}],"error":null}}"#
    ))
}

fn token_answer() -> Reply {
    json(
        r#"{"access_token":"the-fetched-token-value-0123456789","token_type":"Bearer","expires_in":3600}"#,
    )
}

/// A 60-character token of letters and digits.
const TOKEN: &str = "tok0AbCdEfGhIjKlMnOpQrStUvWxYz0123456789aBcDeFgHiJkLmNoPqRsT";

// ---------------------------------------------------------------- promise 3: secrets

#[test]
fn p3_a_partial_echo_of_the_token_reaches_the_message() {
    let echo = TOKEN[..24].to_string();
    let server = Server::always(http(
        "401 Unauthorized",
        &[("Content-Type", "application/json")],
        format!(r#"{{"detail":"the token {echo}... has expired"}}"#),
    ));
    let client = Client::with_token(&server.url, Some(TOKEN));
    assert_code(client.fetch(None, "t").err().unwrap(), OCR_ERR_UNAUTHORIZED);
    let message = last_error();
    assert_eq!(piece_of(TOKEN, &message), None, "{message}");
}

#[test]
fn p3_a_client_secret_partly_echoed_by_the_token_endpoint_reaches_the_message() {
    let secret = "s3cret-AbCdEfGhIjKlMnOpQrStUvWxYz-0123456789";
    let echo = secret[..20].to_string();
    let server = Server::start(move |request, _| {
        if request.path() == "/connect/token" {
            http(
                "400 Bad Request",
                &[("Content-Type", "application/json")],
                format!(
                    r#"{{"error":"invalid_client","error_description":"no client has the secret {echo}..."}}"#
                ),
            )
        } else {
            completed("t")
        }
    });
    let client = Client::with_credentials(&server.url, "id", secret);
    assert_code(client.fetch(None, "t").err().unwrap(), OCR_ERR_UNAUTHORIZED);
    let message = last_error();
    assert_eq!(piece_of(secret, &message), None, "{message}");
}

#[test]
fn p3_an_answer_id_holding_the_token_is_cut_before_redaction() {
    // The id of the answer is the token after one character: the message keeps 80 characters
    // of it and only then redacts, so 79 characters of the token survive.
    let long_token: String = TOKEN.repeat(2);
    let id = format!("x{long_token}");
    let server = Server::always(completed(&id));
    let client = Client::with_token(&server.url, Some(&long_token));
    assert_code(client.fetch(None, "t").err().unwrap(), OCR_ERR_PROTOCOL);
    let message = last_error();
    assert_eq!(piece_of(&long_token, &message), None, "{message}");
}

#[test]
fn p3_a_json_escaped_token_in_a_retried_503_reaches_the_log_whole() {
    // `\/` in the body: redaction of the raw body misses it, the JSON reader unescapes it, and
    // the retry's log line is written before the final redaction.
    let token = "AbCdEfGhIjKlMnOp/QrStUvWxYz0123456789";
    let escaped = token.replace('/', "\\/");
    let server = Server::always(http(
        "503 Service Unavailable",
        &[("Content-Type", "application/json"), ("Retry-After", "0")],
        format!(r#"{{"detail":"overloaded while checking {escaped}"}}"#),
    ));
    capture_logs(OCR_LOG_INFO);
    let client = Client::with_token(&server.url, Some(token));
    assert_code(unsafe { ocr_client_set_max_attempts(client.0, 2) }, OCR_OK);
    assert_code(client.fetch(None, "t").err().unwrap(), OCR_ERR_HTTP);
    let leaked: Vec<String> = logged()
        .into_iter()
        .filter(|l| piece_of(token, l).is_some())
        .collect();
    assert!(leaked.is_empty(), "{leaked:?}");
}

#[test]
fn p3_a_json_escaped_token_cut_by_the_300_character_clip_reaches_the_message() {
    // The token is spelled with a `\u` escape, so redaction of the raw body misses it; the
    // JSON text is unescaped and clipped at 300 characters, cutting the token, so the final
    // redaction cannot recognise the remaining 30 characters.
    let escaped = format!("\\u00{:02x}{}", TOKEN.as_bytes()[0], &TOKEN[1..]);
    let detail = format!("{}{escaped}", "x".repeat(270));
    let server = Server::always(http(
        "400 Bad Request",
        &[("Content-Type", "application/json")],
        format!(r#"{{"detail":"{detail}"}}"#),
    ));
    let client = Client::with_token(&server.url, Some(TOKEN));
    assert_code(client.fetch(None, "t").err().unwrap(), OCR_ERR_HTTP);
    let message = last_error();
    assert_eq!(piece_of(TOKEN, &message), None, "{message}");
}

#[test]
fn p3_a_token_in_a_redirect_location_with_lower_case_percent_escapes_reaches_the_message() {
    let token = "AbCdEfGhIjKlMnOpQrSt/UvWxYz0123456789";
    let location = format!(
        "https://elsewhere.invalid/login?t={}",
        token.replace('/', "%2f")
    );
    let server = Server::always(http("302 Found", &[("Location", &location)], ""));
    let client = Client::with_token(&server.url, Some(token));
    assert_code(client.fetch(None, "t").err().unwrap(), OCR_ERR_HTTP);
    let message = last_error();
    assert_eq!(piece_of(token, &message), None, "{message}");
}

#[test]
fn p3_a_task_id_answered_by_a_post_that_holds_the_token_reaches_debug_log_lines() {
    let server = Server::start(|request, _| {
        if request.target.contains('?') {
            json(r#"{"id":null,"taskStatus":"Pending"}"#)
        } else {
            // The submission's answer echoes the bearer token as the task id.
            let bearer = request.header("authorization").unwrap_or("");
            let echoed = bearer.trim_start_matches("Bearer ").to_string();
            http("200 OK", &[("Content-Type", "text/plain")], echoed)
        }
    });
    let client = Client::with_token(&server.url, Some(TOKEN));
    capture_logs(OCR_LOG_DEBUG);
    let id = client.submit(None, b"%PDF-1.4", None).unwrap();
    assert_eq!(client.status(None, &id).unwrap(), OCR_TASK_PENDING);
    let leaked: Vec<String> = logged()
        .into_iter()
        .filter(|l| piece_of(TOKEN, l).is_some())
        .collect();
    assert!(leaked.is_empty(), "{leaked:?}");
}

// ---------------------------------------------------------------- promise 2: locks

static NESTED_CLIENT: AtomicPtr<ocr_client> = AtomicPtr::new(std::ptr::null_mut());
static NESTED_ONCE: AtomicBool = AtomicBool::new(false);

extern "C" fn calls_back_into_the_client(_: *mut c_void, _level: i32, _message: *const c_char) {
    if NESTED_ONCE.swap(true, Ordering::SeqCst) {
        return;
    }
    let client = NESTED_CLIENT.load(Ordering::SeqCst);
    let id = c("t");
    let mut status = 0;
    // Documented as allowed: "other ocr_ calls made from inside it work but log nothing".
    let _ = unsafe { ocr_get_task_status(client, std::ptr::null(), id.as_ptr(), &mut status) };
}

#[test]
fn p2_a_log_callback_that_calls_the_client_during_its_token_fetch_never_returns() {
    let server = Server::start(|request, _| {
        if request.path() == "/connect/token" {
            token_answer()
        } else {
            completed("t")
        }
    });
    let client = Client::with_credentials(&server.url, "id", "a-client-secret-value");
    NESTED_CLIENT.store(client.0, Ordering::SeqCst);
    unsafe { ocr_set_log_callback(Some(calls_back_into_the_client), std::ptr::null_mut()) };
    assert_code(ocr_set_log_level(OCR_LOG_INFO), OCR_OK);
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    let handle = client.0 as usize;
    std::thread::spawn(move || {
        let id = c("t");
        let mut out = std::ptr::null_mut();
        let code = unsafe { ocr_fetch_result(handle as *const ocr_client, id.as_ptr(), &mut out) };
        unsafe { ocr_result_free(out) };
        let _ = done_tx.send(code);
    });
    let outcome = done_rx.recv_timeout(Duration::from_secs(10));
    assert!(
        outcome.is_ok(),
        "ocr_fetch_result still blocked after 10 s: the nested call waits for the token fetch \
         its own thread is doing"
    );
    std::mem::forget(client);
}

// ---------------------------------------------------------------- promise 5: deadlines

#[test]
fn p5_submitting_a_fifo_without_writer_for_text_to_speech_ignores_deadline_and_cancel() {
    let dir = scratch_dir("breaker-fifo-submit");
    let fifo = dir.join("speech.txt");
    let name = c(fifo.to_str().unwrap());
    // SAFETY: a NUL-terminated path in a private folder.
    assert_eq!(unsafe { libc::mkfifo(name.as_ptr(), 0o600) }, 0);
    let server = Server::always(http("200 OK", &[("Content-Type", "text/plain")], "task-1"));
    let client = Client::with_token(&server.url, Some("token"));
    let cancel = ocr_cancel_new();
    let options = ocr_call_options_new();
    assert_code(
        unsafe { ocr_call_options_set_timeout_ms(options, 300) },
        OCR_OK,
    );
    assert_code(
        unsafe { ocr_call_options_set_cancel(options, cancel) },
        OCR_OK,
    );
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    let (handle, opts, path) = (client.0 as usize, options as usize, name.clone());
    std::thread::spawn(move || {
        let mut id = std::ptr::null_mut();
        let code = unsafe {
            ocr_submit_file_ex(
                handle as *const ocr_client,
                c"ConvertTextToSpeech".as_ptr(),
                path.as_ptr(),
                std::ptr::null(),
                opts as *const ocr_call_options,
                &mut id,
            )
        };
        let _ = done_tx.send(code);
    });
    std::thread::sleep(Duration::from_millis(100));
    unsafe { ocr_cancel_trigger(cancel) };
    let outcome = done_rx.recv_timeout(Duration::from_secs(3));
    // Unblock a stuck open() (if any) so that the thread can end; never wait here.
    use std::os::unix::fs::OpenOptionsExt;
    let _writer = std::fs::OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(&fifo);
    assert!(
        outcome.is_ok(),
        "ocr_submit_file_ex with a 300 ms deadline and a cancel was still blocked after 3 s"
    );
    std::mem::forget(client);
}

// ---------------------------------------------------------------- promise 1: one POST

// ---------------------------------------------------------------- promise 4: files

#[test]
fn p4_a_failed_fetch_to_dir_deletes_the_users_symlink_it_replaced() {
    let dir = scratch_dir("breaker-link-lost");
    std::fs::write(dir.join("mine.pdf"), b"mine").unwrap();
    std::os::unix::fs::symlink("mine.pdf", dir.join("t.pdf")).unwrap();
    // The second file cannot be placed: a folder has its name.
    std::fs::create_dir(dir.join("t.txt")).unwrap();
    std::fs::write(dir.join("t.txt/inside"), b"x").unwrap();
    let server = Server::always(completed("t"));
    let client = Client::with_token(&server.url, Some("token"));
    assert_code(to_dir(&client, "t", &dir).err().unwrap(), OCR_ERR_IO);
    let names = file_names(&dir);
    assert!(
        std::fs::symlink_metadata(dir.join("t.pdf")).is_ok_and(|m| m.file_type().is_symlink()),
        "the failed call removed the user's t.pdf link; the folder now holds {names:?}"
    );
}

// ---------------------------------------------------------------- promise 6: panics

extern "C" fn reads_the_last_error(_: *mut c_void) {
    // A per-thread cleanup that reports the library's last error, as C programs do.
    let _ = text(ocr_last_error_message());
}

#[test]
fn p6_ocr_last_error_message_from_a_thread_cleanup_aborts_the_process() {
    let child = std::env::var("BREAKER_CHILD").is_ok();
    if !child {
        let output = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "p6_ocr_last_error_message_from_a_thread_cleanup_aborts_the_process",
                "--nocapture",
            ])
            .env("BREAKER_CHILD", "1")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            output.status.success() && !stderr.contains("panicked"),
            "the process died ({:?}) with on stderr:\n{stderr}",
            output.status
        );
        return;
    }
    let thread = std::thread::spawn(|| {
        let mut key: libc::pthread_key_t = 0;
        // SAFETY: a key with a destructor that runs at this thread's exit.
        unsafe {
            assert_eq!(
                libc::pthread_key_create(
                    &mut key,
                    Some(std::mem::transmute::<
                        extern "C" fn(*mut c_void),
                        unsafe extern "C" fn(*mut c_void),
                    >(reads_the_last_error))
                ),
                0
            );
            libc::pthread_setspecific(key, std::ptr::dangling::<c_void>());
        }
        // A failing call, so that the thread has a last error.
        assert_eq!(ocr_set_log_level(42), OCR_ERR_INVALID_ARGUMENT);
    });
    thread.join().unwrap();
    std::thread::sleep(Duration::from_millis(100));
}

// ---------------------------------------------------------------- promise 5: deadlines

struct CallOpts(*mut ocr_call_options);
impl Drop for CallOpts {
    fn drop(&mut self) {
        unsafe { ocr_call_options_free(self.0) };
    }
}

fn fetch_ex(client: &Client, id: &str, call: *const ocr_call_options) -> ocr_code {
    let id = c(id);
    let mut out = std::ptr::null_mut();
    let code =
        unsafe { ocr_fetch_result_ex(client.0, std::ptr::null(), id.as_ptr(), call, &mut out) };
    unsafe { ocr_result_free(out) };
    code
}

#[test]
fn p5_deadline_submit_large_in_memory_document() {
    // A 32 MiB document in memory and a server that never answers: the submission must end at
    // its 100 ms deadline, not after encoding or sending the whole document. The fastest of
    // three calls is measured: a loaded machine only lengthens each call, so it cannot hide a
    // wait that grows with the document, and it would have to delay all three to fail the fix.
    let server = Server::always(Reply::silence());
    let client = Client::with_token(&server.url, Some("token"));
    let document = vec![7u8; 32 << 20];
    let options = CallOpts(ocr_call_options_new());
    assert_code(
        unsafe { ocr_call_options_set_timeout_ms(options.0, 100) },
        OCR_OK,
    );
    let mut fastest = Duration::MAX;
    for _ in 0..3 {
        let started = Instant::now();
        let mut id = std::ptr::null_mut();
        let code = unsafe {
            ocr_submit_ex(
                client.0,
                std::ptr::null(),
                document.as_ptr(),
                document.len(),
                std::ptr::null(),
                options.0,
                &mut id,
            )
        };
        fastest = fastest.min(started.elapsed());
        assert_eq!(name(code), "OCR_ERR_TIMEOUT", "{}", last_error());
    }
    assert!(
        fastest < Duration::from_millis(200),
        "a 100 ms deadline took {fastest:?} at best"
    );
}

// ---------------------------------------------------------------- promise 4: leftovers

/// Serves one slow answer: the head and the start of a Completed answer at once, the rest of a
/// result's base64 over `slow`, then the end.
fn slow_completed_server(slow: Duration) -> String {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let mut stream = stream.unwrap();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                let id = line
                    .split_whitespace()
                    .nth(1)
                    .and_then(|t| t.rsplit('=').next())
                    .unwrap_or("t")
                    .to_string();
                while reader.read_line(&mut line).unwrap() > 2 {
                    line.clear();
                }
                let pieces = 20;
                let head = format!(
                    r#"{{"id":"{id}","taskStatus":"Completed","responseStatusCode":"Ok","results":[{{"type":"Pdf","data":""#
                );
                let tail = r#""}],"error":null}"#;
                let length = head.len() + 4 * pieces + tail.len();
                let _ = write!(
                    stream,
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {length}\r\nConnection: close\r\n\r\n{head}"
                );
                for _ in 0..pieces {
                    std::thread::sleep(slow / pieces as u32);
                    let _ = stream.write_all(b"QUFB");
                }
                let _ = stream.write_all(tail.as_bytes());
            });
        }
    });
    url
}

#[test]
fn p4_a_process_in_another_pid_namespace_removes_a_live_download() {
    if let Ok(dir) = std::env::var("BREAKER_NS_DIR") {
        // The child: another container sharing the folder, with its own pids.
        let server = Server::always(completed("u"));
        let client = Client::with_token(&server.url, Some("token"));
        to_dir(&client, "u", Path::new(&dir)).unwrap();
        return;
    }
    let dir = scratch_dir("breaker-pidns");
    let url = slow_completed_server(Duration::from_millis(1500));
    let downloading = {
        let dir = dir.clone();
        std::thread::spawn(move || {
            let client = Client::with_token(&url, Some("token"));
            to_dir(&client, "t", &dir)
                .map(|r| r.count())
                .map_err(|code| format!("{} {}", name(code), last_error()))
        })
    };
    std::thread::sleep(Duration::from_millis(400));
    let during = file_names(&dir);
    assert!(
        during.iter().any(|n| n.starts_with(".ocrcloud-")),
        "the download has its temporary file: {during:?}"
    );
    let status = std::process::Command::new("unshare")
        .args(["--pid", "--fork", "--kill-child"])
        .arg(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "p4_a_process_in_another_pid_namespace_removes_a_live_download",
        ])
        .env("BREAKER_NS_DIR", &dir)
        .status()
        .unwrap();
    assert!(status.success());
    let outcome = downloading.join().unwrap();
    assert_eq!(
        outcome,
        Ok(1),
        "the live download failed; the folder holds {:?}",
        file_names(&dir)
    );
}

// ---------------------------------------------------------------- promise 4: FIFOs

#[test]
fn p4_saving_onto_a_fifo_whose_reader_leaves_kills_a_c_host_with_sigpipe() {
    if std::env::var("BREAKER_SIGPIPE_CHILD").is_ok() {
        // A C host: SIGPIPE has its default action.
        // SAFETY: resetting a signal's disposition.
        unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
        let data = base64_simd::STANDARD.encode_to_string(vec![b'x'; 1 << 20]);
        let server = Server::always(json(format!(
            r#"{{"id":"t","taskStatus":"Completed","results":[{{"type":"Pdf","data":"{data}"}}]}}"#
        )));
        let client = Client::with_token(&server.url, Some("token"));
        let result = client.fetch(None, "t").unwrap();
        let dir = scratch_dir("breaker-sigpipe");
        let fifo = dir.join("pipe");
        let name = c(fifo.to_str().unwrap());
        // SAFETY: a NUL-terminated path in a private folder.
        assert_eq!(unsafe { libc::mkfifo(name.as_ptr(), 0o600) }, 0);
        let reader = {
            let fifo = fifo.clone();
            std::thread::spawn(move || {
                use std::io::Read;
                let mut file = std::fs::File::open(fifo).unwrap();
                let mut start = [0u8; 16];
                file.read_exact(&mut start).unwrap();
                // The reader has what it wanted and goes away.
            })
        };
        let code = loop {
            let code = unsafe { ocr_result_save(result.0, 0, name.as_ptr()) };
            if !(code == OCR_ERR_IO && last_error().contains("no process is reading")) {
                break code;
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        reader.join().unwrap();
        println!("SAVE ENDED WITH {} {}", common::name(code), last_error());
        return;
    }
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "p4_saving_onto_a_fifo_whose_reader_leaves_kills_a_c_host_with_sigpipe",
            "--nocapture",
        ])
        .env("BREAKER_SIGPIPE_CHILD", "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains("SAVE ENDED WITH OCR_ERR_IO"),
        "the host process ended with {:?}; stdout:\n{stdout}",
        output.status
    );
}

// ---------------------------------------------------------------- promise 2: log lock

static CREDENTIALS_CLIENT: AtomicPtr<ocr_client> = AtomicPtr::new(std::ptr::null_mut());
static IN_CALLBACK: AtomicBool = AtomicBool::new(false);

extern "C" fn asks_for_a_status(_: *mut c_void, _level: i32, _message: *const c_char) {
    if IN_CALLBACK.swap(true, Ordering::SeqCst) {
        return;
    }
    let id = c("t");
    let mut status = 0;
    let _ = unsafe {
        ocr_get_task_status(
            CREDENTIALS_CLIENT.load(Ordering::SeqCst),
            std::ptr::null(),
            id.as_ptr(),
            &mut status,
        )
    };
}

extern "C" fn quiet(_: *mut c_void, _level: i32, _message: *const c_char) {}

#[test]
fn p2_a_log_callback_that_waits_for_a_token_and_a_callback_change_deadlock_three_threads() {
    // B fetches a token that takes 600 ms. A's log line runs the callback, which (allowed)
    // asks for a status with B's client, so it waits for B's token. W installs another
    // callback (allowed, from another thread) and waits for A's callback to end. B's token
    // arrives and B logs: its log line waits behind W's pending write lock. Nobody moves.
    let tokens = Server::start(|request, _| {
        if request.path() == "/connect/token" {
            Reply::made_when_sent(|| {
                std::thread::sleep(Duration::from_millis(600));
                token_answer()
            })
        } else {
            completed("t")
        }
    });
    let fixed = Server::always(completed("t"));
    let credentials = Client::with_credentials(&tokens.url, "id", "a-client-secret-value");
    let plain = Client::with_token(&fixed.url, Some("token"));
    CREDENTIALS_CLIENT.store(credentials.0, Ordering::SeqCst);
    unsafe { ocr_set_log_callback(Some(asks_for_a_status), std::ptr::null_mut()) };
    assert_code(ocr_set_log_level(OCR_LOG_DEBUG), OCR_OK);
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    let (cc, pc) = (credentials.0 as usize, plain.0 as usize);
    let fetch = move |client: usize,
                      who: &'static str,
                      done: std::sync::mpsc::Sender<&'static str>| {
        std::thread::spawn(move || {
            let id = c("t");
            let mut out = std::ptr::null_mut();
            let _ = unsafe { ocr_fetch_result(client as *const ocr_client, id.as_ptr(), &mut out) };
            unsafe { ocr_result_free(out) };
            let _ = done.send(who);
        })
    };
    // B's request reaches the token endpoint before A logs anything; the first log line is
    // A's (B logs only once its token arrives).
    IN_CALLBACK.store(true, Ordering::SeqCst);
    fetch(cc, "B", done_tx.clone());
    std::thread::sleep(Duration::from_millis(150));
    IN_CALLBACK.store(false, Ordering::SeqCst);
    fetch(pc, "A", done_tx.clone());
    std::thread::sleep(Duration::from_millis(150));
    let w = done_tx.clone();
    std::thread::spawn(move || {
        unsafe { ocr_set_log_callback(Some(quiet), std::ptr::null_mut()) };
        let _ = w.send("W");
    });
    let mut finished = Vec::new();
    let until = Instant::now() + Duration::from_secs(10);
    while finished.len() < 3 {
        match done_rx.recv_timeout(until.saturating_duration_since(Instant::now())) {
            Ok(who) => finished.push(who),
            Err(_) => break,
        }
    }
    assert_eq!(finished.len(), 3, "after 10 s only {finished:?} returned");
    std::mem::forget(credentials);
    std::mem::forget(plain);
}

static POLLING_CLIENT: AtomicPtr<ocr_client> = AtomicPtr::new(std::ptr::null_mut());
static POLL_ONCE: AtomicBool = AtomicBool::new(false);

extern "C" fn polls_two_tasks(_: *mut c_void, _level: i32, _message: *const c_char) {
    if POLL_ONCE.swap(true, Ordering::SeqCst) {
        return;
    }
    // Allowed: an ocr_ call made from inside the callback, on its own thread.
    let names = [c("slow-a"), c("slow-b")];
    let ids: Vec<*const c_char> = names.iter().map(|n| n.as_ptr()).collect();
    let mut results = [std::ptr::null_mut(); 2];
    let mut codes = [-1; 2];
    let options = ocr_poll_options_new();
    unsafe { ocr_poll_options_set_timeout_ms(options, 0) };
    unsafe {
        ocr_poll_many(
            POLLING_CLIENT.load(Ordering::SeqCst),
            std::ptr::null(),
            ids.as_ptr(),
            2,
            options,
            results.as_mut_ptr(),
            codes.as_mut_ptr(),
        )
    };
    for result in results {
        unsafe { ocr_result_free(result) };
    }
    unsafe { ocr_poll_options_free(options) };
}

#[test]
fn p2_a_log_callback_that_polls_deadlocks_with_a_callback_change_on_another_thread() {
    // A's log line runs the callback, which (allowed) calls ocr_poll_many; its worker threads
    // wait 500 ms for their answers. Meanwhile W (allowed, another thread) installs another
    // callback: it waits for A's callback to end. The workers' answers arrive and they log:
    // their lines wait behind W's pending write lock, A waits for the workers, W for A.
    let server = Server::start(|request, _| {
        if request.target.contains("slow-") {
            let id = request.target.rsplit('=').next().unwrap().to_string();
            Reply::made_when_sent(move || {
                std::thread::sleep(Duration::from_millis(500));
                completed(&id)
            })
        } else {
            completed("t")
        }
    });
    let client = Client::with_token(&server.url, Some("token"));
    POLLING_CLIENT.store(client.0, Ordering::SeqCst);
    unsafe { ocr_set_log_callback(Some(polls_two_tasks), std::ptr::null_mut()) };
    assert_code(ocr_set_log_level(OCR_LOG_DEBUG), OCR_OK);
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    let handle = client.0 as usize;
    let a = done_tx.clone();
    std::thread::spawn(move || {
        let id = c("t");
        let mut out = std::ptr::null_mut();
        let _ = unsafe { ocr_fetch_result(handle as *const ocr_client, id.as_ptr(), &mut out) };
        unsafe { ocr_result_free(out) };
        let _ = a.send("A");
    });
    std::thread::sleep(Duration::from_millis(200));
    std::thread::spawn(move || {
        unsafe { ocr_set_log_callback(Some(quiet), std::ptr::null_mut()) };
        let _ = done_tx.send("W");
    });
    let mut finished = Vec::new();
    let until = Instant::now() + Duration::from_secs(10);
    while finished.len() < 2 {
        match done_rx.recv_timeout(until.saturating_duration_since(Instant::now())) {
            Ok(who) => finished.push(who),
            Err(_) => break,
        }
    }
    assert_eq!(finished.len(), 2, "after 10 s only {finished:?} returned");
    std::mem::forget(client);
}

// ---------------------------------------------------------------- promise 2: whose cancel

/// A's call, limited by `options`, fetches the token from a slow endpoint; B, without limits,
/// starts 100 ms later and only waits for A's fetch; `limit_a` then runs (it may end A's call).
/// A must end with `a_ends_with`, and B must complete all the same.
fn a_waiter_keeps_its_own_limits(options: CallOpts, limit_a: impl FnOnce(), a_ends_with: &str) {
    let server = Server::start(|request, _| {
        if request.path() == "/connect/token" {
            Reply::made_when_sent(|| {
                std::thread::sleep(Duration::from_millis(600));
                token_answer()
            })
        } else {
            completed("t")
        }
    });
    let client = Arc::new(Client::with_credentials(
        &server.url,
        "id",
        "a-client-secret-value",
    ));
    let (handle, opts) = (client.0 as usize, options.0 as usize);
    let a = std::thread::spawn(move || {
        let id = c("t");
        let mut out = std::ptr::null_mut();
        let code = unsafe {
            ocr_fetch_result_ex(
                handle as *const ocr_client,
                std::ptr::null(),
                id.as_ptr(),
                opts as *const ocr_call_options,
                &mut out,
            )
        };
        unsafe { ocr_result_free(out) };
        code
    });
    std::thread::sleep(Duration::from_millis(100));
    let other = Arc::clone(&client);
    let b = std::thread::spawn(move || {
        other
            .fetch(None, "t")
            .map(|r| r.status())
            .map_err(|code| format!("{} {}", name(code), last_error()))
    });
    limit_a();
    assert_eq!(name(a.join().unwrap()), a_ends_with);
    assert_eq!(
        b.join().unwrap(),
        Ok(OCR_TASK_COMPLETED),
        "B has neither a cancel nor a deadline"
    );
    drop(options);
}

#[test]
fn p2_a_waiter_for_a_token_fails_with_another_callers_cancel() {
    // B, which never cancelled and has no deadline, was only waiting for A's fetch, and ended
    // with A's cancel.
    let cancel = ocr_cancel_new();
    let options = CallOpts(ocr_call_options_new());
    assert_code(
        unsafe { ocr_call_options_set_cancel(options.0, cancel) },
        OCR_OK,
    );
    let trigger = cancel as usize;
    a_waiter_keeps_its_own_limits(
        options,
        move || {
            std::thread::sleep(Duration::from_millis(100));
            unsafe { ocr_cancel_trigger(trigger as *const ocr_cancel) };
        },
        "OCR_ERR_CANCELLED",
    );
    unsafe { ocr_cancel_free(cancel) };
}

#[test]
fn p2_a_waiter_for_a_token_fails_at_another_callers_deadline() {
    // The same with A's deadline of 250 ms instead of a cancel.
    let options = CallOpts(ocr_call_options_new());
    assert_code(
        unsafe { ocr_call_options_set_timeout_ms(options.0, 250) },
        OCR_OK,
    );
    a_waiter_keeps_its_own_limits(options, || {}, "OCR_ERR_TIMEOUT");
}

#[test]
fn p3_a_partial_token_echo_in_error_messages_reaches_result_and_poll_many_messages() {
    let echo = TOKEN[..30].to_string();
    let server = Server::always(json(format!(
        r#"{{"id":"t","taskStatus":"Error","error":{{"messages":["the token {echo} is not allowed to read page 1"]}}}}"#
    )));
    let client = Client::with_token(&server.url, Some(TOKEN));
    let result = client.fetch(None, "t").unwrap();
    let (code, _) = client.poll_many(None, &["t".to_string()], Some(&Options::fast(5, 2000)));
    assert_code(code, OCR_ERR_TASK_FAILED);
    let per_task = text(ocr_poll_many_message(0)).unwrap();
    let messages = result.messages();
    assert_eq!(
        piece_of(TOKEN, &messages[0]),
        None,
        "ocr_result_message: {}",
        messages[0]
    );
    assert_eq!(
        piece_of(TOKEN, &per_task),
        None,
        "ocr_poll_many_message: {per_task}"
    );
}

// ---------------------------------------------------------------- promise 5: connect slices

#[test]
fn p5_a_connect_without_cancel_overshoots_its_deadline_by_up_to_100_ms() {
    // A listener whose queue is full: connects hang. Without a cancel token the connect waited
    // in fixed 100 ms polls, not shortened to the time left, so every connect that timed out
    // took at least 100 ms, whatever its limit (the call's deadline or the connect timeout:
    // the connect is bounded by the smaller). With a 10 ms limit, the fastest of three calls
    // must end well before 100 ms: a loaded machine only lengthens each call, so it cannot
    // hide the defect, and it would have to delay all three to fail the fix.
    let unanswered = Unanswered::new();
    let address = unanswered.address;
    let client = Client::with_token(&format!("http://{address}"), Some("token"));
    assert_code(
        unsafe { ocr_client_set_connect_timeout_ms(client.0, 10) },
        OCR_OK,
    );
    assert_code(unsafe { ocr_client_set_max_attempts(client.0, 1) }, OCR_OK);
    let options = CallOpts(ocr_call_options_new());
    assert_code(
        unsafe { ocr_call_options_set_timeout_ms(options.0, 60_000) },
        OCR_OK,
    );
    let mut fastest = Duration::MAX;
    for _ in 0..3 {
        let started = Instant::now();
        let code = fetch_ex(&client, "t", options.0);
        fastest = fastest.min(started.elapsed());
        assert_eq!(name(code), "OCR_ERR_TIMEOUT", "{}", last_error());
    }
    assert!(
        fastest < Duration::from_millis(90),
        "a 10 ms connect limit ended after {fastest:?} at best"
    );
}

// ---------------------------------------------------------------- promise 1: the message

#[test]
fn p1_a_submission_that_timed_out_after_it_was_sent_does_not_say_a_task_may_exist() {
    let server = Server::always(Reply::silence());
    let client = Client::with_token(&server.url, Some("token"));
    assert_code(
        unsafe { ocr_client_set_read_timeout_ms(client.0, 300) },
        OCR_OK,
    );
    let code = client.submit(None, b"%PDF-1.4", None).unwrap_err();
    assert_code(code, OCR_ERR_TIMEOUT);
    assert_eq!(server.requests().len(), 1, "the POST reached the server");
    assert!(
        last_error().contains("may exist"),
        "an uncertain submission must say that a task may exist: {}",
        last_error()
    );
}

#[test]
fn p1_a_submission_answered_504_does_not_say_a_task_may_exist() {
    let server = Server::always(http("504 Gateway Timeout", &[], ""));
    let client = Client::with_token(&server.url, Some("token"));
    let code = client.submit(None, b"%PDF-1.4", None).unwrap_err();
    assert_code(code, OCR_ERR_HTTP);
    assert!(
        last_error().contains("may exist"),
        "a gateway may have passed the submission on: {}",
        last_error()
    );
}

#[test]
fn p3_the_public_token_answer_type_shows_the_token_in_its_debug_output() {
    let answer: ocrcloud::wire::TokenAnswer = serde_json::from_str(&format!(
        r#"{{"access_token":"{TOKEN}","token_type":"Bearer","expires_in":3600}}"#
    ))
    .unwrap();
    let shown = format!("{answer:?}");
    assert_eq!(piece_of(TOKEN, &shown), None, "{shown}");
}

#[test]
fn p4_a_second_copy_of_the_library_in_the_same_process_removes_a_live_download() {
    // The process holds two copies of the library (this test's static one and the shared
    // libocrcloud.so, as a host with two plugins would): same pid, different run numbers, so
    // the second copy takes the first copy's temporary file for a crash leftover.
    type ClientNew =
        unsafe extern "C" fn(*const c_char, *const c_char, *mut *mut c_void) -> ocr_code;
    type ToDir = unsafe extern "C" fn(
        *const c_void,
        *const c_char,
        *const c_char,
        *const c_char,
        *mut *mut c_void,
    ) -> ocr_code;
    let so = c(library_dir().join("libocrcloud.so").to_str().unwrap());
    // SAFETY: loading the library built for this test run, and its documented functions.
    let (client_new, so_to_dir) = unsafe {
        let handle = libc::dlopen(so.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL);
        assert!(!handle.is_null());
        let new = libc::dlsym(handle, c"ocr_client_new".as_ptr());
        let dir = libc::dlsym(handle, c"ocr_fetch_result_to_dir".as_ptr());
        assert!(!new.is_null() && !dir.is_null());
        (
            std::mem::transmute::<*mut c_void, ClientNew>(new),
            std::mem::transmute::<*mut c_void, ToDir>(dir),
        )
    };
    let dir = scratch_dir("breaker-two-copies");
    let url = slow_completed_server(Duration::from_millis(1500));
    let downloading = {
        let dir = dir.clone();
        std::thread::spawn(move || {
            let client = Client::with_token(&url, Some("token"));
            to_dir(&client, "t", &dir)
                .map(|r| r.count())
                .map_err(|code| format!("{} {}", name(code), last_error()))
        })
    };
    std::thread::sleep(Duration::from_millis(400));
    assert!(file_names(&dir).iter().any(|n| n.starts_with(".ocrcloud-")));
    let other = Server::always(completed("u"));
    let mut client = std::ptr::null_mut();
    // SAFETY: the shared copy's functions with valid arguments.
    unsafe {
        assert_eq!(
            client_new(c(&other.url).as_ptr(), c("token").as_ptr(), &mut client),
            OCR_OK
        );
        let mut out = std::ptr::null_mut();
        let code = so_to_dir(
            client,
            std::ptr::null(),
            c("u").as_ptr(),
            c(dir.to_str().unwrap()).as_ptr(),
            &mut out,
        );
        assert_eq!(code, OCR_OK);
    }
    assert_eq!(
        downloading.join().unwrap(),
        Ok(1),
        "the live download failed; the folder holds {:?}",
        file_names(&dir)
    );
}

#[test]
fn p3_a_token_endpoint_answer_with_swapped_fields_puts_the_token_in_the_message() {
    // A misconfigured token endpoint answers the token as token_type: the message quotes 40
    // characters of it, unredacted (a token not accepted is never registered).
    let server = Server::start(|request, _| {
        if request.path() == "/connect/token" {
            json(format!(
                r#"{{"access_token":"Bearer","token_type":"{TOKEN}","expires_in":3600}}"#
            ))
        } else {
            completed("t")
        }
    });
    let client = Client::with_credentials(&server.url, "id", "a-client-secret-value");
    assert_code(client.fetch(None, "t").err().unwrap(), OCR_ERR_PROTOCOL);
    let message = last_error();
    assert_eq!(piece_of(TOKEN, &message), None, "{message}");
}

#[test]
fn p1_a_submission_answered_200_with_an_unusable_body_does_not_say_a_task_may_exist() {
    // The service took the document (200), so a task exists, but the answer cannot be read:
    // the caller must be told that a task may exist.
    let cases = [
        (
            "an empty body",
            http("200 OK", &[("Content-Type", "text/plain")], ""),
        ),
        (
            "a gzip body",
            http(
                "200 OK",
                &[("Content-Type", "text/plain"), ("Content-Encoding", "gzip")],
                "gz-data",
            ),
        ),
        (
            "a body over 64 KiB",
            http(
                "200 OK",
                &[("Content-Type", "text/plain")],
                "t".repeat(70_000),
            ),
        ),
        (
            "a body that is not UTF-8",
            http("200 OK", &[("Content-Type", "text/plain")], b"task-\xff"),
        ),
    ];
    let mut silent = Vec::new();
    for (what, reply) in cases {
        let server = Server::always(reply);
        let client = Client::with_token(&server.url, Some("token"));
        let code = client.submit(None, b"%PDF-1.4", None).unwrap_err();
        if !last_error().contains("may exist") {
            silent.push(format!("{what}: {} {}", name(code), last_error()));
        }
    }
    assert!(
        silent.is_empty(),
        "accepted submissions that say nothing of their task: {silent:#?}"
    );
}

#[test]
fn p1_a_submission_cancelled_after_it_was_sent_does_not_say_a_task_may_exist() {
    let server = Server::always(Reply::silence());
    let client = Client::with_token(&server.url, Some("token"));
    let cancel = ocr_cancel_new();
    let options = CallOpts(ocr_call_options_new());
    assert_code(
        unsafe { ocr_call_options_set_cancel(options.0, cancel) },
        OCR_OK,
    );
    let trigger = cancel as usize;
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(200));
        unsafe { ocr_cancel_trigger(trigger as *const ocr_cancel) };
    });
    let mut id = std::ptr::null_mut();
    let code = unsafe {
        ocr_submit_ex(
            client.0,
            std::ptr::null(),
            b"%PDF".as_ptr(),
            4,
            std::ptr::null(),
            options.0,
            &mut id,
        )
    };
    assert_code(code, OCR_ERR_CANCELLED);
    assert_eq!(server.requests().len(), 1, "the POST reached the server");
    assert!(
        last_error().contains("may exist"),
        "cancelled after sending: {}",
        last_error()
    );
    unsafe { ocr_cancel_free(cancel) };
}

#[test]
fn p1_a_submission_answered_303_see_other_does_not_say_a_task_may_exist() {
    // 303 See Other to a POST: the server processed it and points at the result (RFC 9110,
    // 15.4.4), so a task exists; the redirect is not followed and the message is silent.
    let server = Server::always(http(
        "303 See Other",
        &[("Location", "/v5.0/ocr/RecognizePdf?id=task-1")],
        "",
    ));
    let client = Client::with_token(&server.url, Some("token"));
    let code = client.submit(None, b"%PDF-1.4", None).unwrap_err();
    assert_eq!(server.requests().len(), 1);
    assert!(
        last_error().contains("may exist"),
        "{}: {}",
        name(code),
        last_error()
    );
}

#[test]
fn p3_a_16_character_token_answered_as_token_type_is_quoted_whole() {
    // A token endpoint with its fields swapped: the token (16 characters, not yet registered)
    // is quoted because a token_type of up to 16 characters is shown as it is.
    let token = "AbCdEfGh12345678";
    let server = Server::start(move |request, _| {
        if request.path() == "/connect/token" {
            json(format!(
                r#"{{"access_token":"Bearer","token_type":"{token}","expires_in":3600}}"#
            ))
        } else {
            completed("t")
        }
    });
    let client = Client::with_credentials(&server.url, "id", "a-client-secret-value");
    assert_code(client.fetch(None, "t").err().unwrap(), OCR_ERR_PROTOCOL);
    let message = last_error();
    assert!(!message.contains(token), "{message}");
}

#[test]
fn p4_a_forked_child_downloads_are_taken_for_leftovers_by_the_parent() {
    // The process identity in temporary names is read once per process and inherited by a
    // fork: the child's names carry its own pid with its parent's start time, so any other
    // process's first call into the folder finds "no such process" and removes the child's live
    // download (Python multiprocessing, pre-fork servers).
    let source = std::env::temp_dir().join(format!("brk-7f3a-fork-{}.c", std::process::id()));
    std::fs::write(&source, FORK_PROGRAM).unwrap();
    let binary = source.with_extension("bin");
    let lib = library_dir();
    let built = std::process::Command::new("gcc")
        .args(["-std=c11", "-D_DEFAULT_SOURCE", "-Wall"])
        .arg(format!("-I{}/include", env!("CARGO_MANIFEST_DIR")))
        .arg(&source)
        .arg("-o")
        .arg(&binary)
        .arg(format!("-L{}", lib.display()))
        .arg(format!("-Wl,-rpath,{}", lib.display()))
        .arg("-locrcloud")
        .output()
        .unwrap();
    assert!(
        built.status.success(),
        "{}",
        String::from_utf8_lossy(&built.stderr)
    );
    let url = slow_completed_server(Duration::from_millis(1500));
    let d = scratch_dir("breaker-fork-d");
    let y = scratch_dir("breaker-fork-y");
    let run = std::process::Command::new(&binary)
        .arg(&url)
        .arg(&d)
        .arg(&y)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "{:?}\n{stdout}folder: {:?}",
        run.status,
        file_names(&d)
    );
}

const FORK_PROGRAM: &str = r#"
#include <ocrcloud.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

/* argv: slow URL, folder D, folder Y. The parent uses the library once (folder Y), then
   forks a child that downloads into D slowly; meanwhile the parent's first call into D
   cleans it up. */
int main(int argc, char **argv) {
    ocr_client *client = NULL;
    ocr_result *result = NULL;
    if (argc != 4 || ocr_client_new(argv[1], "token", &client) != OCR_OK) return 10;
    if (ocr_fetch_result_to_dir(client, NULL, "y", argv[3], &result) != OCR_OK) return 11;
    ocr_result_free(result);
    pid_t child = fork();
    if (child == 0) {
        ocr_client *own = NULL;
        ocr_result *mine = NULL;
        if (ocr_client_new(argv[1], "token", &own) != OCR_OK) _exit(12);
        ocr_code code = ocr_fetch_result_to_dir(own, NULL, "t", argv[2], &mine);
        printf("child: %s %s\n", ocr_code_name(code), code ? ocr_last_error_message() : "");
        fflush(stdout);
        _exit(code == OCR_OK ? 0 : 1);
    }
    usleep(500000);
    ocr_code code = ocr_fetch_result_to_dir(client, NULL, "u", argv[2], &result);
    printf("parent: %s\n", ocr_code_name(code));
    fflush(stdout);
    ocr_result_free(result);
    int status = 0;
    waitpid(child, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 99;
}
"#;

// Issue 22, third pass: batches that share a folder, task ids that collide, links to files.

const TEXT: Option<&str> = Some(r#"{"resultType":"Text"}"#);

/// Writes `count` PDFs `doc-<n>.pdf` into `dir`, each with content of its own for `side`.
fn write_side(dir: &Path, side: usize, count: usize) {
    std::fs::create_dir_all(dir).unwrap();
    for n in 0..count {
        std::fs::write(dir.join(format!("doc-{n}.pdf")), small_pdf(side * 1000 + n)).unwrap();
    }
}

/// Asserts that every output of `batch` holds the emulator's text for that very input.
fn assert_own_results(batch: &Batch, point: &str) -> Vec<String> {
    let mut outputs = Vec::new();
    for index in 0..batch.size() {
        assert_eq!(batch.state(index), OCR_BATCH_COMPLETED, "{point} {index}");
        let input = std::fs::read(batch.path(index).unwrap()).unwrap();
        for output in batch.outputs(index) {
            let text = std::fs::read_to_string(&output).unwrap();
            let digest = ocrcloud::batch::inputs::sha256_hex(&input);
            assert!(
                text.contains(&digest),
                "{point}: {output} does not hold the result of {}",
                batch.path(index).unwrap()
            );
            outputs.push(output);
        }
    }
    outputs
}

#[test]
fn p1_two_batches_with_one_output_folder_put_their_results_over_each_other() {
    // Two journals, one output folder, the same relative names: each batch chose a free name,
    // recorded it in its own journal, then renamed its file over whatever was there by then.
    let emulator = Emulator::start(&["--pending-ms", "0", "--processing-ms", "0"]);
    let dir = scratch_dir("batch-shared-output");
    const COUNT: usize = 100;
    for side in 0..2 {
        write_side(&dir.join(format!("docs-{side}")), side, COUNT);
    }
    for round in 0..4 {
        let out = dir.join(format!("out-{round}"));
        let outputs: Vec<Vec<String>> = std::thread::scope(|scope| {
            let runs: Vec<_> = (0..2)
                .map(|side| {
                    let (dir, out, emulator) = (&dir, &out, &emulator);
                    scope.spawn(move || {
                        let client = Client::demo(emulator);
                        let journal = dir.join(format!("journal-{round}-{side}.sqlite"));
                        let batch = Batch::open_with_journal(&client, &journal, out).unwrap();
                        let docs = dir.join(format!("docs-{side}"));
                        assert_eq!(batch.add_folder(&docs, TEXT), Ok(COUNT));
                        let (code, _) = batch.run(8, &Options::fast(5, 20000));
                        assert_code(code, OCR_OK);
                        assert_own_results(&batch, &format!("round {round}, batch {side}"))
                    })
                })
                .collect();
            runs.into_iter().map(|run| run.join().unwrap()).collect()
        });
        let mut all: Vec<&String> = outputs.iter().flatten().collect();
        all.sort();
        all.dedup();
        assert_eq!(
            all.len(),
            2 * COUNT,
            "round {round}: two inputs share a name"
        );
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn p1_a_service_that_answers_one_task_id_for_every_submission_completes_them_all() {
    let emulator = Emulator::start(&["--pending-ms", "0", "--processing-ms", "0"]);
    emulator.fixture(serde_json::json!({
        "id": "one-task",
        "results": [{"type": "Text", "text": "the result of one task"}]
    }));
    emulator.fault(serde_json::json!({
        "path": "/v5.0/ocr/RecognizePdf", "method": "POST", "kind": "status", "status": 200,
        "body": "one-task", "contentType": "text/plain", "count": 5
    }));
    let client = Client::demo(&emulator);
    let dir = scratch_dir("batch-one-task-id");
    let docs = write_pdfs(&dir, 5);
    let out = dir.join("out");
    let batch = Batch::open(&client, &out).unwrap();
    assert_eq!(batch.add_folder(&docs, TEXT), Ok(5));
    let (code, _) = batch.run(3, &Options::fast(5, 20000));
    assert_code(code, OCR_OK);
    assert_eq!(batch.count(OCR_BATCH_COMPLETED), 1);
    assert_eq!(batch.count(OCR_BATCH_FAILED), 4);
    let completed = (0..5)
        .find(|&i| batch.state(i) == OCR_BATCH_COMPLETED)
        .unwrap();
    let first = batch.path(completed).unwrap();
    for index in (0..5).filter(|&i| i != completed) {
        assert_code(batch.code(index), OCR_ERR_PROTOCOL);
        let message = batch.message(index).unwrap();
        let own = batch.path(index).unwrap();
        assert!(
            message.contains(&first) && message.contains(&own) && message.contains("one-task"),
            "{message}"
        );
        assert!(batch.outputs(index).is_empty());
    }
    drop(batch);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn p1_a_link_to_a_file_takes_the_result_of_the_file_it_names() {
    // `a_alias.pdf -> z.pdf`: both were keyed by the target's path, so the link (first in name
    // order) took the input and `z.pdf` never got a result, even once the link was gone.
    let emulator = Emulator::start(&["--pending-ms", "0", "--processing-ms", "0"]);
    let client = Client::demo(&emulator);
    let dir = scratch_dir("batch-file-link");
    let docs = dir.join("docs");
    std::fs::create_dir_all(&docs).unwrap();
    std::fs::write(docs.join("z.pdf"), small_pdf(1)).unwrap();
    std::os::unix::fs::symlink("z.pdf", docs.join("a_alias.pdf")).unwrap();
    let out = dir.join("out");
    {
        let batch = Batch::open(&client, &out).unwrap();
        batch.add_folder(&docs, TEXT).unwrap();
        let (code, _) = batch.run(2, &Options::fast(5, 20000));
        assert_code(code, OCR_OK);
        assert_own_results(&batch, "with the link");
    }
    assert!(out.join("z.txt").is_file(), "{:?}", file_names(&out));
    std::fs::remove_file(docs.join("a_alias.pdf")).unwrap();
    std::fs::remove_file(out.join("z.txt")).unwrap();
    let batch = Batch::open(&client, &out).unwrap();
    assert_eq!(batch.add_folder(&docs, TEXT), Ok(1));
    let (code, _) = batch.run(2, &Options::fast(5, 20000));
    assert_code(code, OCR_OK);
    assert_own_results(&batch, "without the link");
    assert_eq!(
        batch.outputs(0),
        [out.join("z.txt").to_str().unwrap().to_string()]
    );
    drop(batch);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn b22_a_task_id_of_an_earlier_run_completes_a_new_input_of_the_same_journal() {
    // The ids were compared only with those of the inputs added in this run: a batch resumed
    // with other inputs took a task that an input of an earlier run completed from.
    let emulator = Emulator::start(&["--pending-ms", "0", "--processing-ms", "0"]);
    emulator.fixture(serde_json::json!({
        "id": "one-task",
        "results": [{"type": "Text", "text": "the result of one task"}]
    }));
    let client = Client::demo(&emulator);
    let dir = scratch_dir("batch-task-id-across-runs");
    let out = dir.join("out");
    let mut first = String::new();
    for side in 0..2 {
        let docs = dir.join(format!("docs-{side}"));
        write_side(&docs, side, 1);
        emulator.fault(serde_json::json!({
            "path": "/v5.0/ocr/RecognizePdf", "method": "POST", "kind": "status", "status": 200,
            "body": "one-task", "contentType": "text/plain", "count": 1
        }));
        let batch = Batch::open(&client, &out).unwrap();
        assert_eq!(batch.add_folder(&docs, TEXT), Ok(1));
        let (code, _) = batch.run(1, &Options::fast(5, 20000));
        assert_code(code, OCR_OK);
        if side == 0 {
            assert_eq!(batch.state(0), OCR_BATCH_COMPLETED);
            first = batch.path(0).unwrap();
            continue;
        }
        assert_eq!(
            batch.state(0),
            OCR_BATCH_FAILED,
            "a second input completed from task one-task: {:?}",
            batch.outputs(0)
        );
        assert_code(batch.code(0), OCR_ERR_PROTOCOL);
        let message = batch.message(0).unwrap();
        assert!(
            message.contains(&first) && message.contains("one-task"),
            "{message}"
        );
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn b22_a_batch_whose_output_was_deleted_writes_over_the_file_another_batch_put_there() {
    // Batch A's output doc-0.txt is deleted; batch B (another journal, the same folder) then
    // takes the free name; A, fetching its result again, took the name as its own (recorded in
    // its journal) and renamed its file over B's.
    let emulator = Emulator::start(&["--pending-ms", "0", "--processing-ms", "0"]);
    let client = Client::demo(&emulator);
    let dir = scratch_dir("batch-deleted-output");
    let out = dir.join("out");
    for side in 0..2 {
        write_side(&dir.join(format!("docs-{side}")), side, 1);
    }
    let run = |side: usize| {
        let journal = dir.join(format!("journal-{side}.sqlite"));
        let batch = Batch::open_with_journal(&client, &journal, &out)
            .unwrap_or_else(|code| panic!("{} {}", name(code), last_error()));
        assert_eq!(
            batch.add_folder(&dir.join(format!("docs-{side}")), TEXT),
            Ok(1)
        );
        let (code, _) = batch.run(1, &Options::fast(5, 20000));
        assert_code(code, OCR_OK);
        assert_own_results(&batch, &format!("batch {side}"))
    };
    run(0);
    run(1);
    for name in file_names(&out) {
        if name.ends_with(".txt") {
            std::fs::remove_file(out.join(name)).unwrap();
        }
    }
    run(1);
    run(0);
    run(1);
    std::fs::remove_dir_all(dir).unwrap();
}

// ---------------------------------------------------------------- issue 22: poll_many

/// Item 7 of issue 22: an id listed twice was asked twice per due time. Now each distinct task
/// is asked once per due time, every slot naming it gets the same outcome (a result of its
/// own), and the progress callback runs for every slot.
#[test]
fn i22_an_id_listed_twice_in_poll_many_is_asked_once_per_due_time() {
    let emulator = Emulator::start(&["--pending-ms", "100", "--processing-ms", "100"]);
    let client = Client::demo(&emulator);
    let pending: Vec<String> = (0..10)
        .map(|_| emulator.fixture(serde_json::json!({"taskStatus": "Pending"})))
        .collect();
    let done =
        emulator.fixture(serde_json::json!({"results": [{"type": "Text", "text": "shared"}]}));
    // Every pending id twice, the completed one three times, spread over the list.
    let mut ids: Vec<String> = pending.iter().chain(&pending).cloned().collect();
    ids.insert(0, done.clone());
    ids.insert(7, done.clone());
    ids.push(done.clone());
    let options = Options::fast(10, 0);
    assert_code(
        unsafe { ocr_poll_options_set_max_attempts(options.0, 3) },
        OCR_OK,
    );
    let seen = Reports::default();
    options.report_to(&seen);
    let (code, per_task) = client.poll_many(None, &ids, Some(&options));
    assert_code(code, OCR_ERR_NOT_READY);
    assert!(last_error().contains("20 of 23 tasks"), "{}", last_error());
    let seen = seen.into_inner().unwrap();
    for id in &pending {
        assert_eq!(emulator.task(id)["polls"], 3, "{id}");
        assert_eq!(seen.iter().filter(|(task, _, _)| task == id).count(), 2 * 3);
    }
    assert_eq!(emulator.task(&done)["polls"], 1);
    assert_eq!(seen.iter().filter(|(task, _, _)| *task == done).count(), 3);
    for (slot, ((code, result), id)) in per_task.iter().zip(&ids).enumerate() {
        if *id == done {
            assert_eq!(name(*code), name(OCR_OK), "slot {slot}");
            assert_eq!(result.as_ref().unwrap().data(0).unwrap(), b"shared");
        } else {
            assert_eq!(name(*code), name(OCR_ERR_NOT_READY), "slot {slot}");
            let message = text(ocr_poll_many_message(slot)).unwrap();
            assert!(message.contains(id.as_str()), "slot {slot}: {message}");
        }
    }
}

/// `text` with every `%XX` escape decoded.
fn percent_decoded(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        match text
            .get(at + 1..at + 3)
            .filter(|_| bytes[at] == b'%')
            .and_then(|hex| u8::from_str_radix(hex, 16).ok())
        {
            Some(byte) => {
                out.push(byte);
                at += 3;
            }
            None => {
                out.push(bytes[at]);
                at += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn i22_a_token_echoed_with_needless_escapes_never_reaches_a_message_or_log_line() {
    // A server that escapes more than it needs to (`-` as `%2D`, letters as `%41`): no spelling
    // the client knew matched, so the token reached the message.
    let token = "AbCdEf-GhIjKl-MnOpQr-StUvWx-0123456789";
    let over_escaped = token.replace('-', "%2D").replacen('A', "%41", 1);
    let server = Server::always(http(
        "503 Service Unavailable",
        &[("Content-Type", "application/json"), ("Retry-After", "0")],
        format!(r#"{{"detail":"overloaded while checking {over_escaped}"}}"#),
    ));
    capture_logs(OCR_LOG_INFO);
    let client = Client::with_token(&server.url, Some(token));
    assert_code(unsafe { ocr_client_set_max_attempts(client.0, 2) }, OCR_OK);
    assert_code(client.fetch(None, "t").err().unwrap(), OCR_ERR_HTTP);
    let message = last_error();
    assert!(message.contains("overloaded while checking"), "{message}");
    assert_eq!(
        piece_of(token, &percent_decoded(&message)),
        None,
        "{message}"
    );
    let leaked: Vec<String> = logged()
        .into_iter()
        .filter(|l| piece_of(token, &percent_decoded(l)).is_some())
        .collect();
    assert!(leaked.is_empty(), "{leaked:?}");
}

#[test]
fn i22_a_proxy_password_with_a_slash_is_refused_without_a_piece_of_it() {
    // `http://user:pa/ss@host:port`: the slash ended the host part, the proxy was mis-parsed
    // (a DNS lookup of another host), and the password reached messages.
    let server = Server::always(json("{}"));
    let client = Client::with_token(&server.url, Some("token"));
    for raw in [
        "http://user:pr0xy/s3cret@127.0.0.1:9",
        "http://user:pr0xy?s3cret@127.0.0.1:9",
        "http://user:pr0xy#s3cret@127.0.0.1:9",
        "http://user:12/pr0xy-s3cret@127.0.0.1:9",
    ] {
        assert_code(
            unsafe { ocr_client_set_proxy(client.0, c(raw).as_ptr()) },
            OCR_ERR_INVALID_ARGUMENT,
        );
        let message = last_error();
        assert!(message.contains("***@127.0.0.1:9"), "{message}");
        assert!(
            !message.contains("pr0xy") && !message.contains("s3cret"),
            "{message}"
        );
    }
    assert_code(
        unsafe {
            ocr_client_set_proxy(
                client.0,
                c("http://user:pr0xy%2Fs3cret@127.0.0.1:9").as_ptr(),
            )
        },
        OCR_OK,
    );
}

/// A loopback server for one submission: reads the request's head, writes `first`, reads
/// `read` bytes of the body, writes `answer`, and closes the connection with the rest of the
/// body unread (the client's next write fails). Answers the base URL.
fn refusing_mid_body(first: &'static [u8], read: u64, answer: Vec<u8>) -> String {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut line = String::new();
        while reader.read_line(&mut line).unwrap() > 0 && line != "\r\n" {
            line.clear();
        }
        stream.write_all(first).unwrap();
        std::io::copy(&mut (&mut reader).take(read), &mut std::io::sink()).unwrap();
        let _ = stream.write_all(&answer);
        let _ = stream.shutdown(std::net::Shutdown::Both);
    });
    url
}

fn problem_413() -> Vec<u8> {
    let body = r#"{"title":"the document is over the 1 MB limit"}"#;
    format!(
        "HTTP/1.1 413 Payload Too Large\r\nContent-Type: application/problem+json\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

#[test]
fn i22_a_413_after_an_early_hints_answer_is_a_broken_pipe_and_a_task_may_exist() {
    // `100 Continue` and `103 Early Hints` (RFC 8297: any number of 1xx before the final
    // status), then 1 MB of the body and 413. The 1xx left in the buffer hid the final status:
    // the early answer was dropped, so the outcome was the broken pipe, "a task may exist".
    let url = refusing_mid_body(
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n",
        1 << 20,
        problem_413(),
    );
    let client = Client::with_token(&url, Some(TOKEN));
    let document = vec![b'%'; 5 << 20];
    let outcome = client.submit(None, &document, None).err();
    let message = last_error();
    assert_eq!(outcome, Some(OCR_ERR_TOO_LARGE), "{message}");
    assert!(message.contains("over the 1 MB limit"), "{message}");
    assert!(!message.contains("task may exist"), "{message}");
}

#[test]
fn i22_a_chunked_200_sent_mid_body_loses_the_task_id() {
    // A server that accepts the task before the body ends, its answer in chunks: a task
    // exists, but the chunk sizes were read as part of the body, so the id was refused.
    let id = "t-early-42";
    let json = format!("\"{id}\"");
    let answer = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n\
         {:x}\r\n{json}\r\n0\r\n\r\n",
        json.len()
    );
    let url = refusing_mid_body(
        b"HTTP/1.1 100 Continue\r\n\r\n",
        1 << 20,
        answer.into_bytes(),
    );
    let client = Client::with_token(&url, Some(TOKEN));
    let document = vec![b'%'; 5 << 20];
    assert_eq!(
        client.submit(None, &document, None),
        Ok(id.to_string()),
        "{}",
        last_error()
    );
}

#[test]
fn i22_a_token_echoed_double_encoded_reaches_the_message() {
    // A service that escapes a text that was already escaped (`-` as `%2D`, then `%2D` as
    // `%252D`): the redaction decoded once, found no secret, and the token reached the message.
    let token = "AbCdEf-GhIjKl-MnOpQr-StUvWx-0123456789";
    let twice = token.replace('-', "%252D");
    let server = Server::always(http(
        "400 Bad Request",
        &[("Content-Type", "application/json")],
        format!(r#"{{"detail":"unknown parameter {twice}"}}"#),
    ));
    let client = Client::with_token(&server.url, Some(token));
    assert_code(client.fetch(None, "t").err().unwrap(), OCR_ERR_HTTP);
    let message = last_error();
    assert!(message.contains("unknown parameter"), "{message}");
    let decoded = percent_decoded(&percent_decoded(&message));
    assert_eq!(piece_of(token, &decoded), None, "{message}");
}

#[test]
fn i22_all_proxy_wins_over_https_proxy_and_a_socks_all_proxy_breaks_the_client() {
    // curl, Go and Python use the scheme's own variable (HTTPS_PROXY for https) before
    // ALL_PROXY. With ALL_PROXY=socks5://... (common for SSH tunnels) and an HTTP proxy in
    // HTTPS_PROXY, ocr_client_new failed ("a SOCKS proxy") instead of using HTTPS_PROXY.
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let proxy_url = format!("http://{}", listener.local_addr().unwrap());
    let heads = Arc::new(Mutex::new(Vec::new()));
    let seen = heads.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let mut stream = stream.unwrap();
            let mut line = String::new();
            let _ = BufReader::new(stream.try_clone().unwrap()).read_line(&mut line);
            seen.lock().unwrap().push(line);
            let _ = stream.write_all(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n");
        }
    });
    for (all_proxy, no_proxy, used) in [
        ("socks5h://127.0.0.1:1", "", true),
        ("http://127.0.0.1:1", "", true),
        ("socks5h://127.0.0.1:1", "ocr.test", false),
    ] {
        let output = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "i22_environment_proxy_child", "--nocapture"])
            .env("ALL_PROXY", all_proxy)
            .env("HTTPS_PROXY", &proxy_url)
            .env("NO_PROXY", no_proxy)
            .env("OCRCLOUD_TEST_PROXY_CHILD", "https://ocr.test:443")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            stdout.contains("1 passed"),
            "ALL_PROXY={all_proxy} NO_PROXY={no_proxy}: {stdout}{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let connects = std::mem::take(&mut *heads.lock().unwrap());
        assert_eq!(
            !connects.is_empty(),
            used,
            "ALL_PROXY={all_proxy}: {connects:?}"
        );
        if used {
            assert!(
                connects[0].starts_with("CONNECT ocr.test:443"),
                "{connects:?}"
            );
        }
    }
}

/// Run by `i22_all_proxy_wins_over_https_proxy_and_a_socks_all_proxy_breaks_the_client` in a
/// child process: a client made from the environment; when NO_PROXY names the host, nothing
/// is sent (ocr.test is never looked up).
#[test]
fn i22_environment_proxy_child() {
    let Ok(url) = std::env::var("OCRCLOUD_TEST_PROXY_CHILD") else {
        return;
    };
    let client = Client::with_token(&url, Some("token"));
    if std::env::var("NO_PROXY").unwrap_or_default().is_empty() {
        assert_code(client.fetch(None, "t").err().unwrap(), OCR_ERR_NETWORK);
        let proxy = std::env::var("HTTPS_PROXY").unwrap();
        assert!(last_error().contains(&proxy), "{}", last_error());
    }
}

#[test]
fn i22_a_413_from_a_server_that_stops_reading_without_closing_is_a_timeout() {
    // `100 Continue`, 1 MB of the body, 413, and then the server neither reads nor closes (it
    // waits for the client to go): the client's write waited until its timeout, and the 413
    // already in the receive buffer was never read; the outcome was OCR_ERR_TIMEOUT.
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut line = String::new();
        while reader.read_line(&mut line).unwrap() > 0 && line != "\r\n" {
            line.clear();
        }
        stream.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").unwrap();
        std::io::copy(&mut (&mut reader).take(1 << 20), &mut std::io::sink()).unwrap();
        stream.write_all(&problem_413()).unwrap();
        // Held open, unread, past the end of the test.
        std::thread::sleep(Duration::from_secs(60));
        drop(stream);
    });
    let client = Client::with_token(&url, Some(TOKEN));
    assert_code(
        unsafe { ocr_client_set_read_timeout_ms(client.0, 2000) },
        OCR_OK,
    );
    let document = vec![b'%'; 16 << 20];
    let outcome = client.submit(None, &document, None).err();
    let message = last_error();
    assert_eq!(outcome, Some(OCR_ERR_TOO_LARGE), "{message}");
    assert!(message.contains("over the 1 MB limit"), "{message}");
}
