//! One client shared by 32 threads: 10,000 fetches and polls in total against the emulator, with
//! submissions, cancels and setting changes mixed in. Nothing may crash or hang (the test has a
//! time limit), every answer must be the right one, and the threads share one token and one
//! connection pool. And one result read by many threads at once.

mod common;
#[path = "hostile/secrets.rs"]
mod secrets;

use common::{Client, Emulator, Options, assert_code, c, sample_pdf};
use ocrcloud::ffi::*;
use secrets::{CLIENT_ID, CLIENT_SECRET, error_message};
use serde_json::json;
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

const THREADS: usize = 32;
/// Fetches and polls, all threads together.
const CALLS: usize = 10_000;
/// Tasks that are Completed from the start.
const DONE_TASKS: usize = 64;
/// A deadlock or a lost wake-up shows as a test that does not end; this bounds it.
const TIME_LIMIT: Duration = Duration::from_secs(120);

/// What one thread did, by kind of call.
#[derive(Default)]
struct Tally {
    fetches: u64,
    submits: u64,
    polls: u64,
    cancelled: u64,
    wrong: Vec<String>,
}

/// Call number `n` of a thread: mostly fetches, then polls of fresh submissions, polls cancelled
/// from another thread, and polls whose cancel was triggered before they started.
fn one_call(client: &Client, thread: usize, n: usize, tally: &mut Tally) {
    let mut wrong = |what: String| {
        tally
            .wrong
            .push(format!("thread {thread} call {n}: {what}"))
    };
    match n % 10 {
        0..=5 => {
            let task = (thread * 7 + n) % DONE_TASKS;
            tally.fetches += 1;
            match client.fetch(Some("RecognizeImage"), &format!("done-{task}")) {
                Ok(result) if result.data(0) == Some(format!("result {task}").into_bytes()) => {}
                Ok(result) => wrong(format!("task {task} answered {:?}", result.data(0))),
                Err(code) => wrong(format!("fetch failed: {}", error_message_of(code))),
            }
        }
        6 | 7 => {
            let document = [&sample_pdf()[..], format!("% {thread}-{n}").as_bytes()].concat();
            tally.submits += 1;
            let id = match client.submit(None, &document, None) {
                Ok(id) => id,
                Err(code) => return wrong(format!("submit failed: {}", error_message_of(code))),
            };
            tally.polls += 1;
            match client.poll(None, &id, Some(&Options::fast(5, 30_000))) {
                Ok(result) if result.data(0) == Some(document) => {}
                Ok(result) => wrong(format!(
                    "task {id} answered other bytes ({:?})",
                    result.count()
                )),
                Err(code) => wrong(format!("poll failed: {}", error_message_of(code))),
            }
        }
        _ => {
            let options = Options::fast(1000, 0);
            let cancel = ocr_cancel_new();
            assert_code(
                unsafe { ocr_poll_options_set_cancel(options.0, cancel) },
                OCR_OK,
            );
            let cancel_address = cancel as usize;
            let trigger_later = (n % 10 == 8).then(|| {
                std::thread::spawn(move || {
                    std::thread::sleep(Duration::from_millis(2));
                    unsafe { ocr_cancel_trigger(cancel_address as *const ocr_cancel) };
                })
            });
            if trigger_later.is_none() {
                unsafe { ocr_cancel_trigger(cancel) };
            }
            tally.polls += 1;
            match client.poll(Some("RecognizeLabel"), "pending", Some(&options)) {
                Err(OCR_ERR_CANCELLED) if error_message().contains("cancelled") => {
                    tally.cancelled += 1
                }
                Err(code) => wrong(format!("not cancelled: {}", error_message_of(code))),
                Ok(_) => wrong("a pending task was answered as done".into()),
            }
            if let Some(trigger) = trigger_later {
                trigger.join().unwrap();
            }
            unsafe { ocr_cancel_free(cancel) };
        }
    }
    if n.is_multiple_of(97) {
        // Settings change while the other threads use the client.
        assert_code(
            unsafe { ocr_client_set_user_agent(client.0, c(&format!("threads/{n}")).as_ptr()) },
            OCR_OK,
        );
        assert_code(
            unsafe { ocr_client_set_read_timeout_ms(client.0, 20_000) },
            OCR_OK,
        );
    }
}

fn error_message_of(code: ocr_code) -> String {
    format!("{}: {}", common::name(code), error_message())
}

#[test]
fn one_client_serves_32_threads_with_right_answers_and_no_deadlock() {
    let emulator = Emulator::start(&[
        "--pending-ms",
        "10",
        "--processing-ms",
        "10",
        "--client-id",
        CLIENT_ID,
        "--client-secret",
        CLIENT_SECRET,
    ]);
    for task in 0..DONE_TASKS {
        emulator.fixture(json!({
            "id": format!("done-{task}"),
            "results": [{"type": "Text", "text": format!("result {task}")}]
        }));
    }
    emulator.fixture(json!({"id": "pending", "taskStatus": "Pending"}));
    let client = Arc::new(Client::with_credentials(
        &emulator.url,
        CLIENT_ID,
        CLIENT_SECRET,
    ));

    let started = Instant::now();
    let (done, finished) = mpsc::channel();
    for thread in 0..THREADS {
        let (client, done) = (Arc::clone(&client), done.clone());
        std::thread::spawn(move || {
            let mut tally = Tally::default();
            for n in (thread..CALLS).step_by(THREADS) {
                one_call(&client, thread, n, &mut tally);
            }
            done.send(tally).unwrap();
        });
    }
    let mut total = Tally::default();
    for finished_threads in 0..THREADS {
        let left = TIME_LIMIT.saturating_sub(started.elapsed());
        let tally = finished.recv_timeout(left).unwrap_or_else(|_| {
            panic!(
                "{} of {THREADS} threads still running after {TIME_LIMIT:?}: a deadlock or a hang",
                THREADS - finished_threads
            )
        });
        total.fetches += tally.fetches;
        total.submits += tally.submits;
        total.polls += tally.polls;
        total.cancelled += tally.cancelled;
        total.wrong.extend(tally.wrong);
    }
    let elapsed = started.elapsed();
    let stats = emulator.stats();
    println!(
        "{CALLS} calls from {THREADS} threads in {elapsed:.1?}: {} fetches, {} submissions, {} \
         polls ({} cancelled); emulator: {stats}",
        total.fetches, total.submits, total.polls, total.cancelled
    );
    assert!(total.wrong.is_empty(), "{}", total.wrong.join("\n"));
    assert_eq!(total.fetches + total.polls, CALLS as u64);
    assert_eq!(total.cancelled, CALLS as u64 / 10 * 2);
    assert_eq!(stats["token_requests"], 1, "one token serves every thread");
    assert_eq!(
        emulator.count("GET /v5.0/ocr/RecognizeImage"),
        total.fetches,
        "every fetch is one request"
    );
    assert_eq!(
        emulator.count("POST /v5.0/ocr/RecognizePdf"),
        total.submits,
        "every submission is one request"
    );
    // Every request shares one pool of connections, except that a poll cancelled while its
    // request is under way drops that connection (half read, it cannot be reused); the test's
    // own control requests add one or two.
    let connections = stats["connections_total"].as_u64().unwrap();
    let cancelled_requests = emulator.count("GET /v5.0/ocr/RecognizeLabel");
    assert!(
        connections <= THREADS as u64 + 4 + cancelled_requests,
        "{connections} connections for {} requests: the pool is not shared",
        stats["requests"]
    );
}

#[test]
fn one_result_is_read_by_many_threads_at_once() {
    let emulator = Emulator::start(&["--client-id", CLIENT_ID, "--client-secret", CLIENT_SECRET]);
    let id = emulator.fixture(json!({"results": [
        {"type": "Pdf", "generate": {"bytes": 1_000_000}},
        {"type": "Text", "text": "shared"}
    ]}));
    let client = Client::with_credentials(&emulator.url, CLIENT_ID, CLIENT_SECRET);
    let result = client.fetch(None, &id).unwrap();
    let expected: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
    let address = result.0 as usize;
    std::thread::scope(|scope| {
        for _ in 0..THREADS {
            scope.spawn(|| {
                let result = address as *const ocr_result;
                for _ in 0..20 {
                    let mut len = 0;
                    let data = unsafe { ocr_result_data(result, 0, &mut len) };
                    // SAFETY: the result lives until the scope ends; accessors answer `len` bytes.
                    assert_eq!(unsafe { std::slice::from_raw_parts(data, len) }, expected);
                    assert_eq!(
                        common::text(unsafe { ocr_result_type(result, 1) }).unwrap(),
                        "Text"
                    );
                    assert_eq!(
                        unsafe { ocr_result_task_status(result) },
                        OCR_TASK_COMPLETED
                    );
                }
            });
        }
    });
}
