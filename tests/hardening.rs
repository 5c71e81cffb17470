//! The defects a careful read found, each held by a test: a submission sent twice, a hang on a
//! token fetch, file names chosen by the server, tokens in messages, saving over FIFOs, devices
//! and links, unchecked sizes, and calls that could not be cancelled.

mod common;
#[path = "hostile/server.rs"]
mod server;

use common::*;
use ocrcloud::faults::{self, Fault, Step};
use ocrcloud::ffi::*;
use server::{Reply, Server, Then, http, json};
use std::ffi::c_void;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn completed(id: Option<&str>, results: &str) -> Reply {
    let id = id.map_or("null".to_string(), |id| format!("\"{id}\""));
    json(format!(
        r#"{{"id":{id},"taskStatus":"Completed","responseStatusCode":"Ok","results":[{results}],"error":null}}"#
    ))
}

/// `Pdf` "hello" and `Text` "world".
const TWO_RESULTS: &str = r#"{"type":"Pdf","data":"aGVsbG8="},{"type":"Text","data":"d29ybGQ="}"#;

/// How many submissions reached `server` (a POST's target has no query).
fn posts(server: &Server) -> usize {
    server
        .requests()
        .iter()
        .filter(|r| !r.target.contains('?'))
        .count()
}

#[test]
fn a_submission_whose_answer_breaks_off_is_sent_once_and_says_a_task_may_exist() {
    let server = Server::always(
        http(
            "200 OK",
            &[("Content-Type", "text/plain"), ("Content-Length", "36")],
            "0123456789",
        )
        .then(Then::Close),
    );
    let client = Client::with_token(&server.url, Some("token"));
    let code = client.submit(None, b"%PDF-1.4", None).unwrap_err();
    assert_code(code, OCR_ERR_NETWORK);
    assert_eq!(posts(&server), 1, "the POST was sent again");
    assert!(
        last_error().contains("a task may exist"),
        "{}",
        last_error()
    );
}

#[test]
fn a_submission_refused_with_503_is_sent_again_but_not_one_cut_by_a_gateway() {
    let server = Server::start(|_, n| {
        if n == 0 {
            http("503 Service Unavailable", &[("Retry-After", "0")], "")
        } else {
            http("200 OK", &[("Content-Type", "text/plain")], "task-1")
        }
    });
    let client = Client::with_token(&server.url, Some("token"));
    assert_eq!(client.submit(None, b"%PDF-1.4", None).unwrap(), "task-1");
    assert_eq!(posts(&server), 2);

    let gateway = Server::always(http("502 Bad Gateway", &[], ""));
    let client = Client::with_token(&gateway.url, Some("token"));
    assert_code(
        client.submit(None, b"%PDF-1.4", None).unwrap_err(),
        OCR_ERR_HTTP,
    );
    assert_eq!(posts(&gateway), 1, "a 502 may hide a task: not sent again");
}

extern "C" fn keep_line(user_data: *mut c_void, _level: i32, message: *const std::ffi::c_char) {
    // SAFETY: the tests pass a `Mutex<Vec<String>>` that outlives the logging.
    let lines = unsafe { &*(user_data as *const Mutex<Vec<String>>) };
    lines.lock().unwrap().push(text(message).unwrap());
}

#[test]
fn a_token_fetch_that_fails_with_debug_logging_ends_instead_of_hanging() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let lines: &'static Mutex<Vec<String>> = Box::leak(Box::default());
    unsafe { ocr_set_log_callback(Some(keep_line), lines as *const _ as *mut c_void) };
    assert_code(ocr_set_log_level(OCR_LOG_DEBUG), OCR_OK);
    let client = Arc::new(Client::with_credentials(
        &url,
        "id",
        "a-client-secret-value",
    ));
    let started = Instant::now();
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let client = Arc::clone(&client);
            std::thread::spawn(move || client.fetch(None, "t").err())
        })
        .collect();
    for thread in threads {
        assert_eq!(thread.join().unwrap(), Some(OCR_ERR_NETWORK));
    }
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    assert_code(ocr_set_log_level(OCR_LOG_OFF), OCR_OK);
    unsafe { ocr_set_log_callback(None, std::ptr::null_mut()) };
    let lines = lines.lock().unwrap();
    assert!(!lines.is_empty());
    assert!(lines.iter().all(|l| !l.contains("a-client-secret-value")));
}

#[test]
fn result_files_are_named_after_the_id_asked_for_never_the_servers() {
    let dir = scratch_dir("names");
    std::fs::write(dir.join("report.pdf"), b"mine").unwrap();
    let liar = Server::always(completed(Some("report"), TWO_RESULTS));
    let client = Client::with_token(&liar.url, Some("token"));
    assert_code(
        client.fetch_to_dir("t-123", &dir).err().unwrap(),
        OCR_ERR_PROTOCOL,
    );
    assert!(
        last_error().contains("not for the task asked for"),
        "{}",
        last_error()
    );
    assert_eq!(file_names(&dir), ["report.pdf"]);
    assert_eq!(std::fs::read(dir.join("report.pdf")).unwrap(), b"mine");

    let anonymous = Server::always(completed(None, TWO_RESULTS));
    let client = Arc::new(Client::with_token(&anonymous.url, Some("token")));
    let threads: Vec<_> = ["a-1", "b-2"]
        .into_iter()
        .map(|id| {
            let (client, dir) = (Arc::clone(&client), dir.clone());
            std::thread::spawn(move || client.fetch_to_dir(id, &dir).map(|r| r.count()))
        })
        .collect();
    for thread in threads {
        assert_eq!(thread.join().unwrap(), Ok(2));
    }
    assert_eq!(
        file_names(&dir),
        ["a-1.pdf", "a-1.txt", "b-2.pdf", "b-2.txt", "report.pdf"]
    );
    assert_eq!(std::fs::read(dir.join("b-2.txt")).unwrap(), b"world");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn an_answer_that_is_not_completed_writes_no_file() {
    let dir = scratch_dir("pending");
    let server = Server::always(json(format!(
        r#"{{"id":"t","taskStatus":"Processing","results":[{TWO_RESULTS}]}}"#
    )));
    let client = Client::with_token(&server.url, Some("token"));
    assert_eq!(client.fetch_to_dir("t", &dir).unwrap().count(), 0);
    assert!(file_names(&dir).is_empty(), "{:?}", file_names(&dir));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn the_files_of_an_answer_appear_together_or_not_at_all() {
    let dir = scratch_dir("together");
    std::fs::write(dir.join("t.pdf"), b"old pdf").unwrap();
    std::fs::write(dir.join("t.txt"), b"old txt").unwrap();
    std::fs::set_permissions(dir.join("t.pdf"), PermissionsExt::from_mode(0o600)).unwrap();
    let server = Server::always(completed(Some("t"), TWO_RESULTS));
    let client = Client::with_token(&server.url, Some("token"));
    faults::count();
    client.fetch_to_dir("t", &dir).unwrap();
    let steps = faults::disarm();
    let renames = steps.iter().filter(|&&s| s == Step::Rename).count() as u64;
    assert_eq!(
        renames, 4,
        "two links of old files and two renames: {steps:?}"
    );
    assert_eq!(
        std::fs::metadata(dir.join("t.pdf"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o600,
        "a replaced file keeps its mode"
    );
    for n in 1..=renames {
        std::fs::write(dir.join("t.pdf"), b"old pdf").unwrap();
        std::fs::write(dir.join("t.txt"), b"old txt").unwrap();
        faults::arm_step(Step::Rename, n, Fault::Denied);
        let outcome = client.fetch_to_dir("t", &dir);
        faults::disarm();
        assert_code(outcome.err().unwrap(), OCR_ERR_IO);
        assert_eq!(file_names(&dir), ["t.pdf", "t.txt"], "step {n}");
        assert_eq!(
            std::fs::read(dir.join("t.pdf")).unwrap(),
            b"old pdf",
            "step {n}"
        );
        assert_eq!(
            std::fs::read(dir.join("t.txt")).unwrap(),
            b"old txt",
            "step {n}"
        );
    }
    std::fs::remove_dir_all(dir).unwrap();
}

/// The start time (clock ticks after boot) and pid namespace of process `pid`.
fn process_of(pid: u32) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let started = stat
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .nth(19)
        .unwrap();
    let namespace = std::fs::metadata(format!("/proc/{pid}/ns/pid"))
        .unwrap()
        .ino();
    (started.parse().unwrap(), namespace)
}

#[test]
fn leftovers_of_a_crashed_process_are_removed_by_the_next_call_into_the_folder() {
    let dir = scratch_dir("leftovers");
    let (started, namespace) = process_of(std::process::id());
    let parent = std::os::unix::process::parent_id();
    let (parent_started, _) = process_of(parent);
    let dead = 4_000_000; // above the kernel's pid limit: no process has it
    let names = [
        // A crashed process of this namespace, and an earlier process with this very pid.
        (
            format!(".ocrcloud-{dead}-5-{namespace}-0-ocrcloud-result.tmp"),
            false,
        ),
        (
            format!(
                ".ocrcloud-{}-{}-{namespace}-0-x.old",
                std::process::id(),
                started - 1
            ),
            false,
        ),
        // A live process, this process itself (another copy of the library), a process in
        // another pid namespace (liveness unknown, recent), and a user's file.
        (
            format!(".ocrcloud-{parent}-{parent_started}-{namespace}-0-x.tmp"),
            true,
        ),
        (
            format!(
                ".ocrcloud-{}-{started}-{namespace}-9-x.tmp",
                std::process::id()
            ),
            true,
        ),
        (
            format!(".ocrcloud-{dead}-5-{}-0-x.tmp", namespace + 1),
            true,
        ),
        (".ocrcloud-notes.tmp".to_string(), true),
    ];
    for (name, _) in &names {
        std::fs::write(dir.join(name), b"partial").unwrap();
    }
    let server = Server::always(completed(Some("t"), TWO_RESULTS));
    let client = Client::with_token(&server.url, Some("token"));
    client.fetch_to_dir("t", &dir).unwrap();
    let mut expected: Vec<String> = names
        .iter()
        .filter(|(_, stays)| *stays)
        .map(|(name, _)| name.clone())
        .chain(["t.pdf".to_string(), "t.txt".to_string()])
        .collect();
    expected.sort();
    assert_eq!(file_names(&dir), expected);
    std::fs::remove_dir_all(dir).unwrap();
}

/// A 16-character piece of `secret` found in `text`, if any.
fn piece_of(secret: &str, text: &str) -> Option<String> {
    (0..=secret.len().saturating_sub(16))
        .map(|i| &secret[i..i + 16])
        .find(|piece| text.contains(piece))
        .map(str::to_string)
}

// The words around the echo are ones no other test of this process uses as a secret: the
// registry of secrets is process-wide, and other tests run clients whose token is "token".
#[test]
fn a_token_echoed_by_the_server_reaches_no_message_even_when_cut() {
    let token: String = (0..400)
        .map(|i| (b'a' + (i * 7 % 26) as u8) as char)
        .collect();
    let echo = token.clone();
    let server = Server::start(move |request, _| {
        if request.path().starts_with("/failed") {
            return json(format!(
                r#"{{"id":"t","taskStatus":"Error","error":{{"messages":["your credential {echo} is odd"]}}}}"#
            ));
        }
        http("400 Bad Request", &[], format!("token {echo} refused"))
    });
    let client = Client::with_token(&server.url, Some(&token));
    assert_code(client.fetch(None, "t").err().unwrap(), OCR_ERR_HTTP);
    let message = last_error();
    assert_eq!(piece_of(&token, &message), None, "{message}");
    assert!(message.contains("[redacted]"), "{message}");

    let failed = Client::with_token(&format!("{}/failed", server.url), Some(&token));
    let result = failed.fetch(None, "t").unwrap();
    assert_eq!(result.messages(), ["your credential [redacted] is odd"]);
    let options = Options::fast(5, 2000);
    assert_code(
        failed.poll(None, "t", Some(&options)).err().unwrap(),
        OCR_ERR_TASK_FAILED,
    );
    assert_eq!(piece_of(&token, &last_error()), None, "{}", last_error());
}

/// A result in memory holding `Pdf` "hello" (index 0) and `Text` "world" (index 1).
fn hello_result() -> (Server, OcrResult) {
    let server = Server::always(completed(Some("t"), TWO_RESULTS));
    let client = Client::with_token(&server.url, Some("token"));
    let result = client.fetch(None, "t").unwrap();
    (server, result)
}

fn save(result: &OcrResult, index: usize, path: &Path) -> ocr_code {
    unsafe { ocr_result_save(result.0, index, c(path.to_str().unwrap()).as_ptr()) }
}

#[test]
fn saving_onto_a_fifo_writes_through_it_and_a_fifo_without_reader_is_an_error() {
    let dir = scratch_dir("fifo");
    let fifo = dir.join("pipe");
    let name = c(fifo.to_str().unwrap());
    // SAFETY: a NUL-terminated path in a private folder.
    assert_eq!(unsafe { libc::mkfifo(name.as_ptr(), 0o600) }, 0);
    let (_server, result) = hello_result();
    assert_code(save(&result, 0, &fifo), OCR_ERR_IO);
    assert!(
        last_error().contains("no process is reading"),
        "{}",
        last_error()
    );
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::read(fifo).unwrap())
    };
    let started = Instant::now();
    loop {
        match save(&result, 1, &fifo) {
            OCR_OK => break,
            _ if started.elapsed() < Duration::from_secs(5) => {
                std::thread::sleep(Duration::from_millis(10))
            }
            code => panic!("{} {}", name_of(code), last_error()),
        }
    }
    assert_eq!(reader.join().unwrap(), b"world");
    assert!(std::fs::metadata(&fifo).unwrap().file_type().is_fifo());
    assert_eq!(file_names(&dir), ["pipe"]);
    std::fs::remove_dir_all(dir).unwrap();
}

fn name_of(code: ocr_code) -> String {
    common::name(code)
}

#[test]
fn saving_onto_a_full_device_is_an_io_error_and_the_device_stays() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("needs root to make a device node; CI runs as root");
        return;
    }
    let dir = scratch_dir("device");
    let full = dir.join("full");
    let name = c(full.to_str().unwrap());
    // SAFETY: a character device like /dev/full (1, 7), made in a private folder.
    assert_eq!(
        unsafe { libc::mknod(name.as_ptr(), libc::S_IFCHR | 0o600, libc::makedev(1, 7)) },
        0
    );
    let (_server, result) = hello_result();
    assert_code(save(&result, 0, &full), OCR_ERR_IO);
    assert!(last_error().contains("No space left"), "{}", last_error());
    assert!(
        std::fs::metadata(&full)
            .unwrap()
            .file_type()
            .is_char_device()
    );
    assert_eq!(file_names(&dir), ["full"]);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn saving_onto_a_link_replaces_the_file_it_points_to_and_keeps_the_link() {
    let dir = scratch_dir("link");
    std::fs::create_dir(dir.join("real")).unwrap();
    let target = dir.join("real/out.pdf");
    std::fs::write(&target, b"old").unwrap();
    std::fs::set_permissions(&target, PermissionsExt::from_mode(0o640)).unwrap();
    std::os::unix::fs::symlink("real/out.pdf", dir.join("link.pdf")).unwrap();
    std::os::unix::fs::symlink("link.pdf", dir.join("link2.pdf")).unwrap();
    let (_server, result) = hello_result();
    assert_code(save(&result, 0, &dir.join("link2.pdf")), OCR_OK);
    for link in ["link.pdf", "link2.pdf"] {
        assert!(
            std::fs::symlink_metadata(dir.join(link))
                .unwrap()
                .file_type()
                .is_symlink()
        );
    }
    assert_eq!(std::fs::read(&target).unwrap(), b"hello");
    assert_eq!(
        std::fs::metadata(&target).unwrap().permissions().mode() & 0o777,
        0o640
    );
    assert_eq!(file_names(&dir.join("real")), ["out.pdf"]);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn sizes_that_no_object_can_have_are_invalid_arguments_and_send_nothing() {
    let server = Server::always(http("200 OK", &[("Content-Type", "text/plain")], "t"));
    let client = Client::with_token(&server.url, Some("token"));
    let byte = 0u8;
    let mut id = std::ptr::null_mut();
    let code = unsafe {
        ocr_submit(
            client.0,
            std::ptr::null(),
            &byte,
            usize::MAX,
            std::ptr::null(),
            &mut id,
        )
    };
    assert_code(code, OCR_ERR_INVALID_ARGUMENT);
    assert!(id.is_null());
    let id = c("t");
    let ids = [id.as_ptr()];
    let mut results = [std::ptr::null_mut()];
    let mut codes = [-1];
    let code = unsafe {
        ocr_poll_many(
            client.0,
            std::ptr::null(),
            ids.as_ptr(),
            usize::MAX / 2,
            std::ptr::null(),
            results.as_mut_ptr(),
            codes.as_mut_ptr(),
        )
    };
    assert_code(code, OCR_ERR_INVALID_ARGUMENT);
    assert_eq!(codes, [-1], "nothing written");
    assert_eq!(server.requests().len(), 0);
}

#[test]
fn every_failed_task_of_poll_many_has_its_own_message() {
    let server = Server::start(|request, _| {
        let id = request.target.rsplit('=').next().unwrap().to_string();
        match id.as_str() {
            "bad" => json(
                r#"{"id":"bad","taskStatus":"Error","error":{"messages":["page 3 is unreadable"]}}"#,
            ),
            "gone" => json(r#"{"id":"gone","taskStatus":"NotExist"}"#),
            _ => completed(Some(&id), TWO_RESULTS),
        }
    });
    let client = Client::with_token(&server.url, Some("token"));
    let names = [c("good"), c("bad"), c("gone")];
    let ids: Vec<_> = names.iter().map(|n| n.as_ptr()).collect();
    let mut results = [std::ptr::null_mut(); 3];
    let mut codes = [-1; 3];
    let options = Options::fast(5, 5000);
    let code = unsafe {
        ocr_poll_many(
            client.0,
            std::ptr::null(),
            ids.as_ptr(),
            3,
            options.0,
            results.as_mut_ptr(),
            codes.as_mut_ptr(),
        )
    };
    assert_code(code, OCR_ERR_TASK_FAILED);
    assert_eq!(codes, [OCR_OK, OCR_ERR_TASK_FAILED, OCR_ERR_TASK_NOT_FOUND]);
    let message = |i| text(ocr_poll_many_message(i));
    assert_eq!(message(0).as_deref(), Some(""));
    assert!(message(1).unwrap().contains("page 3 is unreadable"));
    assert!(message(2).unwrap().contains("does not exist"));
    assert_eq!(message(3), None);
    for result in results {
        unsafe { ocr_result_free(result) };
    }
}

/// Call options with `cancel` and no deadline.
struct CallOptions(*mut ocr_call_options);

impl CallOptions {
    fn cancelled_by(cancel: *mut ocr_cancel, timeout_ms: u32) -> CallOptions {
        let options = CallOptions(ocr_call_options_new());
        assert_code(
            unsafe { ocr_call_options_set_cancel(options.0, cancel) },
            OCR_OK,
        );
        assert_code(
            unsafe { ocr_call_options_set_timeout_ms(options.0, timeout_ms) },
            OCR_OK,
        );
        options
    }
}

impl Drop for CallOptions {
    fn drop(&mut self) {
        unsafe { ocr_call_options_free(self.0) };
    }
}

/// Runs `call` with call options whose cancel token is triggered after 100 ms; answers its
/// code and how long after the trigger it returned.
fn cancelled_after_100_ms(
    call: impl FnOnce(*const ocr_call_options) -> ocr_code,
) -> (ocr_code, Duration) {
    let cancel = ocr_cancel_new();
    let options = CallOptions::cancelled_by(cancel, 0);
    let trigger = cancel as usize;
    let triggered = Arc::new(Mutex::new(None));
    let when = Arc::clone(&triggered);
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(100));
        *when.lock().unwrap() = Some(Instant::now());
        unsafe { ocr_cancel_trigger(trigger as *const ocr_cancel) };
    });
    let code = call(options.0);
    let after = triggered
        .lock()
        .unwrap()
        .expect("the trigger ran first")
        .elapsed();
    drop(options);
    unsafe { ocr_cancel_free(cancel) };
    (code, after)
}

#[test]
fn every_network_call_is_cancellable_while_the_server_is_silent() {
    let server = Server::always(Reply::silence());
    let client = Client::with_token(&server.url, Some("token"));
    let id = c("t");
    type CallWith<'a> = Box<dyn Fn(*const ocr_call_options) -> ocr_code + 'a>;
    let calls: Vec<(&str, CallWith)> = vec![
        (
            "submit",
            Box::new(|call| {
                let mut out = std::ptr::null_mut();
                unsafe {
                    ocr_submit_ex(
                        client.0,
                        std::ptr::null(),
                        b"%PDF".as_ptr(),
                        4,
                        std::ptr::null(),
                        call,
                        &mut out,
                    )
                }
            }),
        ),
        (
            "fetch",
            Box::new(|call| {
                let mut out = std::ptr::null_mut();
                unsafe {
                    ocr_fetch_result_ex(client.0, std::ptr::null(), id.as_ptr(), call, &mut out)
                }
            }),
        ),
        (
            "status",
            Box::new(|call| {
                let mut out = 0;
                unsafe {
                    ocr_get_task_status_ex(client.0, std::ptr::null(), id.as_ptr(), call, &mut out)
                }
            }),
        ),
        (
            "cancel task",
            Box::new(|call| unsafe {
                ocr_cancel_task_ex(client.0, std::ptr::null(), id.as_ptr(), call)
            }),
        ),
    ];
    for (name, call) in calls {
        let (code, after) = cancelled_after_100_ms(call);
        assert_eq!(
            name_of(code),
            "OCR_ERR_CANCELLED",
            "{name}: {}",
            last_error()
        );
        assert!(
            after < Duration::from_millis(500),
            "{name}: {after:?} after the trigger"
        );
    }
}

#[test]
fn connecting_to_a_host_that_does_not_answer_is_cancellable_and_bounded_by_the_deadline() {
    let unanswered = Unanswered::new();
    let address = unanswered.address;
    let client = Client::with_token(&format!("http://{address}"), Some("token"));
    assert_code(
        unsafe { ocr_client_set_connect_timeout_ms(client.0, 30_000) },
        OCR_OK,
    );
    let id = c("t");
    let (code, after) = cancelled_after_100_ms(|call| {
        let mut out = std::ptr::null_mut();
        unsafe { ocr_fetch_result_ex(client.0, std::ptr::null(), id.as_ptr(), call, &mut out) }
    });
    assert_eq!(name_of(code), "OCR_ERR_CANCELLED", "{}", last_error());
    assert!(
        after < Duration::from_millis(500),
        "{after:?} after the trigger"
    );

    let cancel = ocr_cancel_new();
    let options = CallOptions::cancelled_by(cancel, 300);
    let started = Instant::now();
    let mut out = std::ptr::null_mut();
    let code = unsafe {
        ocr_fetch_result_ex(client.0, std::ptr::null(), id.as_ptr(), options.0, &mut out)
    };
    assert_eq!(name_of(code), "OCR_ERR_TIMEOUT", "{}", last_error());
    assert!(
        started.elapsed() < Duration::from_millis(800),
        "{:?}",
        started.elapsed()
    );
    drop(options);
    unsafe { ocr_cancel_free(cancel) };
}
