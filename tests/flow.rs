//! The client-wide request budget through the C API: the rate adapts to throttling (a `429`
//! teaches the rate the server accepted), a `Retry-After` pauses every thread, the retry budget runs dry, the circuit breaker opens and
//! a probe closes it, and waiting for the budget keeps each call's deadline and cancel.

mod common;
#[path = "hostile/server.rs"]
mod server;

use common::*;
use ocrcloud::ffi::*;
use serde_json::json;
use server::{Server, http, json};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn stat(client: &Client, what: i32) -> f64 {
    let mut value = -1.0;
    assert_code(
        unsafe { ocr_client_stats(client.0, what, &mut value) },
        OCR_OK,
    );
    value
}

fn done(id: &str) -> server::Reply {
    json(format!(
        r#"{{"id":"{id}","taskStatus":"Completed","results":[{{"type":"Text","data":"aGVsbG8="}}]}}"#
    ))
}

#[test]
fn threads_sharing_a_rate_limited_client_are_throttled_rarely_and_all_complete() {
    let emulator = Emulator::start(&["--rate-limit", "20"]);
    let id = emulator.fixture(json!({"results": [{"type": "Text", "text": "x"}]}));
    let client = Arc::new(Client::demo(&emulator));
    assert_code(unsafe { ocr_client_set_max_attempts(client.0, 20) }, OCR_OK);
    let started = Instant::now();
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let (client, id) = (Arc::clone(&client), id.clone());
            std::thread::spawn(move || (0..15).all(|_| client.fetch(None, &id).is_ok()))
        })
        .collect();
    for thread in threads {
        assert!(
            thread.join().unwrap(),
            "every fetch completes: {}",
            last_error()
        );
    }
    let elapsed = started.elapsed().as_secs_f64();
    let throttled = stat(&client, OCR_STAT_THROTTLED);
    let requests = stat(&client, OCR_STAT_REQUESTS);
    assert_eq!(
        requests as u64,
        emulator.stats()["requests"].as_u64().unwrap()
    );
    assert!(throttled > 0.0, "the limit was reached");
    assert!(
        throttled / requests < 0.25,
        "{throttled} of {requests} throttled"
    );
    assert!(elapsed > 4.0, "120 requests at 20 per second: {elapsed} s");
    assert!(
        stat(&client, OCR_STAT_RATE) > 0.0,
        "still rate-limited right after"
    );
    assert_eq!(stat(&client, OCR_STAT_TOKEN_FETCHES), 1.0);
}

#[test]
fn a_retry_after_pauses_every_thread_of_the_client() {
    let server = Server::start(|request, n| {
        let id = request.target.rsplit('=').next().unwrap().to_string();
        if id == "first" && n == 0 {
            http("429 Too Many Requests", &[("Retry-After", "1")], "")
        } else {
            done(&id)
        }
    });
    let client = Arc::new(Client::with_token(&server.url, Some("token")));
    let first = {
        let client = Arc::clone(&client);
        std::thread::spawn(move || client.fetch(None, "first").is_ok())
    };
    std::thread::sleep(Duration::from_millis(200));
    let started = Instant::now();
    let others: Vec<_> = (0..4)
        .map(|i| {
            let client = Arc::clone(&client);
            std::thread::spawn(move || client.fetch(None, &format!("other-{i}")).is_ok())
        })
        .collect();
    for other in others {
        assert!(other.join().unwrap());
    }
    assert!(first.join().unwrap());
    assert!(
        started.elapsed() >= Duration::from_millis(600),
        "the others waited for the Retry-After too: {:?}",
        started.elapsed()
    );
}

#[test]
fn a_429_teaches_the_rate_the_server_accepted_and_the_retry_is_not_backed_off() {
    // A deterministic limiter: the same path's 11th request is refused, every other accepted.
    let server = Server::start(|request, n| {
        if n == 10 {
            http("429 Too Many Requests", &[("Retry-After", "1")], "")
        } else {
            done(request.target.rsplit('=').next().unwrap())
        }
    });
    let client = Client::with_token(&server.url, Some("token"));
    assert_code(unsafe { ocr_client_set_max_attempts(client.0, 2) }, OCR_OK);
    for _ in 0..11 {
        assert!(client.fetch(None, "t").is_ok(), "{}", last_error());
    }
    // The 10 requests accepted before the refused one (not 0.8 x 11 sent, as AIMD cut it),
    // plus a slow probe since: 0.1 request/s per second.
    let rate = stat(&client, OCR_STAT_RATE);
    assert!((10.0..11.0).contains(&rate), "{rate}");
    assert_eq!(stat(&client, OCR_STAT_THROTTLED), 1.0);
    assert_eq!(stat(&client, OCR_STAT_REQUESTS), 12.0);
    assert_eq!(stat(&client, OCR_STAT_RETRIES), 1.0);
    assert_eq!(server.requests().len(), 12);
}

#[test]
fn the_retry_budget_runs_dry_so_an_outage_is_not_multiplied() {
    let server = Server::always(http("502 Bad Gateway", &[], ""));
    let client = Arc::new(Client::with_token(&server.url, Some("token")));
    assert_code(
        unsafe { ocr_client_set_circuit_breaker(client.0, 0) },
        OCR_OK,
    );
    assert_code(unsafe { ocr_client_set_max_attempts(client.0, 2) }, OCR_OK);
    let threads: Vec<_> = (0..16)
        .map(|_| {
            let client = Arc::clone(&client);
            std::thread::spawn(move || {
                (0..10)
                    .filter(|_| {
                        client.fetch(None, "t").is_err()
                            && last_error().contains("retry budget is spent")
                    })
                    .count()
            })
        })
        .collect();
    let dry: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
    assert_eq!(
        stat(&client, OCR_STAT_RETRIES),
        100.0,
        "500 units at 5 a retry"
    );
    assert_eq!(
        stat(&client, OCR_STAT_REQUESTS),
        260.0,
        "160 fetches and 100 retries"
    );
    assert_eq!(server.requests().len(), 260);
    assert_eq!(dry, 60, "the fetches after the quota ran out say so");
    assert!(stat(&client, OCR_STAT_RETRY_QUOTA) < 5.0);
}

#[test]
fn the_breaker_opens_on_a_dead_service_and_a_probe_closes_it() {
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = dead.local_addr().unwrap().to_string();
    drop(dead);
    let client = Client::with_token(&format!("http://{address}"), Some("token"));
    assert_code(unsafe { ocr_client_set_max_attempts(client.0, 1) }, OCR_OK);
    for _ in 0..5 {
        assert_code(client.fetch(None, "t").err().unwrap(), OCR_ERR_NETWORK);
        assert!(
            last_error().contains("could not connect"),
            "{}",
            last_error()
        );
    }
    assert_eq!(stat(&client, OCR_STAT_BREAKER_OPEN), 1.0);
    let sent = stat(&client, OCR_STAT_REQUESTS);
    assert_code(client.fetch(None, "t").err().unwrap(), OCR_ERR_NETWORK);
    assert!(last_error().contains("looks down"), "{}", last_error());
    assert!(
        last_error().contains("could not connect"),
        "names the failure: {}",
        last_error()
    );
    assert_eq!(
        stat(&client, OCR_STAT_REQUESTS),
        sent,
        "refused without a request"
    );
    let server = Server::start_on(&address, |request, _| {
        done(request.target.rsplit('=').next().unwrap())
    });
    let started = Instant::now();
    while client.fetch(None, "t").is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{}",
            last_error()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(stat(&client, OCR_STAT_BREAKER_OPEN), 0.0);
    assert_eq!(server.requests().len(), 1, "one probe, then closed");
    assert!(client.fetch(None, "t").is_ok());

    let unguarded = Client::with_token(&format!("http://{}", closed_port()), Some("token"));
    assert_code(
        unsafe { ocr_client_set_max_attempts(unguarded.0, 1) },
        OCR_OK,
    );
    assert_code(
        unsafe { ocr_client_set_circuit_breaker(unguarded.0, 0) },
        OCR_OK,
    );
    for _ in 0..8 {
        unguarded.fetch(None, "t").err().unwrap();
        assert!(
            last_error().contains("could not connect"),
            "{}",
            last_error()
        );
    }
    assert_eq!(stat(&unguarded, OCR_STAT_REQUESTS), 8.0);
}

#[test]
fn waiting_for_the_budget_keeps_the_deadline_and_the_cancel() {
    let server = Server::start(|request, _| done(request.target.rsplit('=').next().unwrap()));
    let client = Client::with_token(&server.url, Some("token"));
    assert_code(unsafe { ocr_client_set_max_rate(client.0, 0.2) }, OCR_OK);
    assert!(client.fetch(None, "t").is_ok(), "the first goes at once");
    let call = ocr_call_options_new();
    assert_code(
        unsafe { ocr_call_options_set_timeout_ms(call, 300) },
        OCR_OK,
    );
    let started = Instant::now();
    let mut out = std::ptr::null_mut();
    let id = c("t");
    let code =
        unsafe { ocr_fetch_result_ex(client.0, std::ptr::null(), id.as_ptr(), call, &mut out) };
    assert_code(code, OCR_ERR_TIMEOUT);
    assert!(last_error().contains("request budget"), "{}", last_error());
    assert!(
        started.elapsed() < Duration::from_millis(400),
        "{:?}",
        started.elapsed()
    );
    unsafe { ocr_call_options_free(call) };

    let cancel = ocr_cancel_new();
    let call = ocr_call_options_new();
    assert_code(unsafe { ocr_call_options_set_cancel(call, cancel) }, OCR_OK);
    let trigger = cancel as usize;
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(100));
        unsafe { ocr_cancel_trigger(trigger as *const ocr_cancel) };
    });
    let started = Instant::now();
    let code =
        unsafe { ocr_fetch_result_ex(client.0, std::ptr::null(), id.as_ptr(), call, &mut out) };
    assert_code(code, OCR_ERR_CANCELLED);
    assert!(
        started.elapsed() < Duration::from_millis(600),
        "{:?}",
        started.elapsed()
    );
    unsafe { ocr_call_options_free(call) };
    unsafe { ocr_cancel_free(cancel) };
    assert_eq!(server.requests().len(), 1);

    for bad in [-1.0, f64::NAN, f64::INFINITY] {
        assert_code(
            unsafe { ocr_client_set_max_rate(client.0, bad) },
            OCR_ERR_INVALID_ARGUMENT,
        );
    }
    let mut value = 0.0;
    assert_code(
        unsafe { ocr_client_stats(client.0, 99, &mut value) },
        OCR_ERR_INVALID_ARGUMENT,
    );
}
