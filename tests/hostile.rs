//! Hostile servers: every byte the client reads comes from a test, through the C API. Each case
//! of `hostile/table.rs` names what the server does and the `ocr_code` and message the call
//! must give; the tests here run them, plus the cases that need more than one server or call.
//! The `finding_*` tests pin down contract breaches found here and since fixed (RELIABILITY.md).

#[path = "hostile/c_driver.rs"]
mod c_driver;
#[path = "hostile/case.rs"]
mod case;
mod common;
#[path = "hostile/secrets.rs"]
mod secrets;
#[path = "hostile/server.rs"]
mod server;
#[path = "hostile/table.rs"]
mod table;

use case::{Call, Case, Expect, answers, fails};
use common::{Client, Options, assert_code, c};
use ocrcloud::ffi::*;
use secrets::error_message;
use server::{Reply, Server, Then, http, json};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use table::{HELLO, completed_with, done, problem};

/// How many cases run at once: enough to overlap their waits, few enough that a loaded
/// machine still answers within the client's 1 s read timeout.
const PARALLEL_CASES: usize = 12;

/// Runs cases in parallel and fails with every mismatch at once. `HOSTILE_CASES=text` runs only
/// the cases whose name contains `text`.
fn run_all(cases: &[Case]) {
    let only = std::env::var("HOSTILE_CASES").unwrap_or_default();
    let chosen: Vec<&Case> = cases.iter().filter(|c| c.name.contains(&only)).collect();
    let next = AtomicUsize::new(0);
    let failures = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..PARALLEL_CASES {
            scope.spawn(|| {
                while let Some(case) = chosen.get(next.fetch_add(1, Ordering::SeqCst)) {
                    if let Err(failure) = case.run() {
                        failures.lock().unwrap().push(failure);
                    }
                }
            });
        }
    });
    let failures = failures.into_inner().unwrap();
    assert!(
        failures.is_empty(),
        "{} of {} cases went wrong:\n{}",
        failures.len(),
        chosen.len(),
        failures.join("\n")
    );
}

#[test]
fn every_hostile_answer_gets_the_code_the_contract_names() {
    let elsewhere = Server::always(done());
    let cases = table::cases(&elsewhere.url);
    run_all(&cases);
    assert_eq!(
        elsewhere.connections(),
        0,
        "a redirect was followed to another host: {:?}",
        elsewhere.requests()
    );
}

#[test]
fn the_table_names_each_case_once() {
    let cases = table::cases("http://127.0.0.1:9");
    let mut names: Vec<&str> = cases.iter().map(|case| case.name).collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), cases.len());
    assert!(cases.len() >= 40, "{} cases", cases.len());
}

#[test]
fn a_reset_in_the_middle_of_64_mib_fails_cleanly_and_the_retry_starts_afresh() {
    let data: Vec<u8> = (0..64 << 20).map(|i: usize| (i % 251) as u8).collect();
    let body = completed_with(&base64_simd::STANDARD.encode_to_string(&data));
    let reset_halfway = json(&body).cut(body.len() / 2).then(Then::Reset);
    run_all(&[
        fails(
            "reset_in_the_middle_of_64_mib",
            [reset_halfway.clone()],
            OCR_ERR_NETWORK,
            "of 89478600 bytes: the server closed", // 64 MiB in base64, in a Completed answer
        )
        .max_attempts(1)
        .request_timeout_ms(60_000),
        answers(
            "reset_in_the_middle_of_64_mib_then_a_small_answer",
            [reset_halfway, done()],
            OCR_TASK_COMPLETED,
            "hello",
        )
        .api_requests(2)
        .request_timeout_ms(60_000),
    ]);
}

/// The cases that `tests/c/hostile_driver.c` runs under valgrind: failures of every kind
/// (partial results, retries, timeouts, statuses) and successes, all with a fixed token and the
/// default limits.
const C_DRIVER_CASES: [&str; 22] = [
    "well_formed_control",
    "truncated_json",
    "nested_a_million_deep",
    "invalid_utf8_in_the_status",
    "nul_in_a_string",
    "unknown_fields_of_every_shape",
    "base64_bad_character",
    "base64_bad_in_the_second_result",
    "html_page_with_200",
    "body_shorter_than_content_length",
    "chunked_in_odd_pieces",
    "chunked_with_a_bad_size",
    "accepts_and_never_answers",
    "reset_after_the_head",
    "redirect_307_elsewhere",
    "unauthorized_401",
    "payload_too_large_413",
    "retry_after_in_seconds",
    "poll_goes_on_through_transient_failures",
    "error_status_ends_a_poll",
    "submit_json_quoted_id",
    "submit_id_with_a_line_break",
];

#[test]
fn hostile_cases_through_the_c_api_are_clean_under_valgrind() {
    let elsewhere = Server::always(done());
    let table = table::cases(&elsewhere.url);
    let cases: Vec<&Case> = C_DRIVER_CASES
        .iter()
        .map(|name| table.iter().find(|case| case.name == *name).unwrap())
        .collect();
    let servers: Vec<Server> = cases.iter().map(|case| case.serve()).collect();
    let mut args = vec![secrets::TOKEN.to_string()];
    let mut expected_lines = Vec::new();
    for (case, server) in cases.iter().zip(&servers) {
        let call = match case.call {
            Call::Fetch => "fetch",
            Call::Poll(0) => "poll",
            Call::Submit => "submit",
            other => panic!("{}: the driver cannot make {other:?}", case.name),
        };
        let (code, fragment) = match &case.expect {
            Expect::Fails(code, fragment) => (*code, fragment.to_string()),
            Expect::Answers(..) => (OCR_OK, "OCR_OK".to_string()),
            Expect::Submits(id) => (OCR_OK, format!("task id {id}")),
        };
        args.extend([call.to_string(), server.url.clone(), code.to_string()]);
        expected_lines.push((case.name, fragment));
    }
    let output = c_driver::run_under_valgrind(&args);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{:?}\nstdout:\n{stdout}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), expected_lines.len(), "{stdout}");
    for (line, (name, fragment)) in lines.iter().zip(&expected_lines) {
        assert!(line.contains(fragment.as_str()), "{name}: {line}");
        secrets::assert_reveals_no_secret(line);
    }
}

#[test]
fn bytes_after_an_answer_never_become_the_next_answer() {
    let smuggled = json(completed_with("c211Z2dsZWQ=")); // "smuggled"
    let first = [json(completed_with(HELLO)).bytes(), smuggled.bytes()].concat();
    let server = Server::start(move |_, earlier| match earlier {
        0 => Reply::raw(first.clone()),
        _ => done(),
    });
    let client = Client::with_token(&server.url, Some(secrets::TOKEN));
    for _ in 0..2 {
        let result = client.fetch(None, "t").unwrap();
        assert_eq!(result.data(0).unwrap(), b"hello");
    }
}

#[test]
fn unsendable_tokens_and_ids_are_refused_before_connecting() {
    let server = Server::always(done());
    let mut out = std::ptr::null_mut();
    for bad in [
        "tok\r\nX-Evil: 1",
        "tok\nen",
        "tok\ten",
        "tok\u{7f}",
        "tok\u{85}",
    ] {
        assert_code(
            unsafe { ocr_client_new(c(&server.url).as_ptr(), c(bad).as_ptr(), &mut out) },
            OCR_ERR_INVALID_ARGUMENT,
        );
        assert!(error_message().contains("access token"));
        assert_code(
            unsafe {
                ocr_client_new_with_credentials(
                    c(&server.url).as_ptr(),
                    c(bad).as_ptr(),
                    c(secrets::CLIENT_SECRET).as_ptr(),
                    &mut out,
                )
            },
            OCR_ERR_INVALID_ARGUMENT,
        );
        assert_code(
            unsafe {
                ocr_client_new_with_credentials(
                    c(&server.url).as_ptr(),
                    c(secrets::CLIENT_ID).as_ptr(),
                    c(bad).as_ptr(),
                    &mut out,
                )
            },
            OCR_ERR_INVALID_ARGUMENT,
        );
        assert!(out.is_null());
    }
    let client = Client::with_token(&server.url, Some(secrets::TOKEN));
    for bad in ["a\r\nHost: evil", "id\n", "\u{1b}[31m", "id\u{85}", ""] {
        assert_eq!(
            client.fetch(None, bad).err(),
            Some(OCR_ERR_INVALID_ARGUMENT),
            "{bad:?}"
        );
        assert!(error_message().contains("task id"));
    }
    assert_code(
        unsafe { ocr_client_set_user_agent(client.0, c("agent\r\nX-Evil: 1").as_ptr()) },
        OCR_ERR_INVALID_ARGUMENT,
    );
    assert_eq!(server.connections(), 0);
}

/// A C string cannot carry a NUL (it ends there), so the Rust API shows that one is refused too.
#[test]
fn a_nul_in_an_id_or_token_is_refused_before_connecting() {
    use ocrcloud::{auth::Auth, client, error::Code, operations::Operation};
    let server = Server::always(done());
    for auth in [
        Auth::token(Some("tok\0en")),
        Auth::credentials(secrets::CLIENT_ID, "sec\0ret"),
    ] {
        assert_eq!(auth.unwrap_err().code(), Code::InvalidArgument);
    }
    let auth = Auth::token(Some(secrets::TOKEN)).unwrap();
    let client = client::Client::new(Some(&server.url), auth).unwrap();
    let call = client::Call::default();
    let err = client
        .fetch(Operation::RECOGNIZE_PDF, "id\0x", &call)
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(server.connections(), 0);
}

#[test]
fn requests_carry_the_token_and_ask_for_json_without_compression() {
    let server = Server::always(done());
    let client = Client::with_token(&server.url, Some(secrets::TOKEN));
    client.fetch(None, "t").unwrap();
    let request = &server.requests()[0];
    assert_eq!(request.header("accept-encoding"), None);
    assert_eq!(
        request.header("authorization"),
        Some(format!("Bearer {}", secrets::TOKEN).as_str())
    );
    assert_eq!(request.header("accept"), Some("application/json"));
}

#[test]
fn requests_without_a_body_carry_no_content_length() {
    let server = Server::always(done());
    let client = Client::with_token(&server.url, Some(secrets::TOKEN));
    client.fetch(None, "t").unwrap();
    client.status(None, "t").unwrap();
    let _ = client.cancel_task(None, "t");
    let requests = server.requests();
    assert_eq!(requests.len(), 3);
    for request in requests {
        assert_eq!(request.header("content-length"), None, "{}", request.target);
        assert_eq!(
            request.header("transfer-encoding"),
            None,
            "{}",
            request.target
        );
    }
}

#[test]
fn finding_a_token_endpoint_echoing_the_form_reveals_no_secret() {
    let form = format!(
        "grant_type=client_credentials&client_id={}&client_secret={}",
        secrets::CLIENT_ID,
        secrets::form_encoded(secrets::CLIENT_SECRET)
    );
    run_all(&[fails(
        "token_endpoint_echoes_the_form",
        [done()],
        OCR_ERR_UNAUTHORIZED,
        "cannot obtain a token",
    )
    .credentials([table::echo(
        "400 Bad Request",
        format!("cannot parse {form}"),
    )])]);
}

#[test]
fn finding_an_unsendable_token_from_the_endpoint_is_a_protocol_error() {
    let tokens = [r"tok\r\nX-Evil: 1", r"tok\u0000en", r"tok\ten", ""];
    let cases: Vec<Case> = tokens
        .iter()
        .zip([
            "token_with_crlf",
            "token_with_nul",
            "token_with_tab",
            "empty_token",
        ])
        .map(|(token, name)| {
            fails(name, [done()], OCR_ERR_PROTOCOL, "token endpoint")
                .credentials([json(format!(
                    r#"{{"access_token":"{token}","expires_in":3600}}"#
                ))])
                .api_requests(0)
        })
        .collect();
    run_all(&cases);
}

#[test]
fn finding_an_undecodable_content_encoding_is_refused_by_name() {
    let encoded = |name, encoding, body: &[u8]| {
        fails(
            name,
            [http(
                "200 OK",
                &[
                    ("Content-Type", "application/json"),
                    ("Content-Encoding", encoding),
                ],
                body,
            )],
            OCR_ERR_PROTOCOL,
            "Content-Encoding",
        )
    };
    let plain = completed_with(HELLO);
    run_all(&[
        encoded("gzip_body_named", "gzip", table::GZIPPED_ANSWER),
        encoded("gzip_label_on_plain_json", "gzip", plain.as_bytes()),
        encoded("brotli_label_on_plain_json", "br", plain.as_bytes()),
    ]);
}

#[test]
fn finding_a_cancel_ends_a_poll_that_waits_for_a_silent_server() {
    let server = Server::always(Reply::silence());
    let client = Client::with_token(&server.url, Some(secrets::TOKEN));
    assert_code(
        unsafe { ocr_client_set_read_timeout_ms(client.0, 5000) },
        OCR_OK,
    );
    let options = Options::fast(50, 0);
    let cancel = ocr_cancel_new();
    assert_code(
        unsafe { ocr_poll_options_set_cancel(options.0, cancel) },
        OCR_OK,
    );
    let cancel_address = cancel as usize;
    let trigger = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        unsafe { ocr_cancel_trigger(cancel_address as *const ocr_cancel) };
        Instant::now()
    });
    let outcome = client.poll(None, "t", Some(&options)).err();
    let returned = Instant::now();
    let triggered = trigger.join().unwrap();
    unsafe { ocr_cancel_free(cancel) };
    assert_eq!(outcome, Some(OCR_ERR_CANCELLED), "{}", error_message());
    assert!(returned.duration_since(triggered) < Duration::from_millis(100));
}

#[test]
fn finding_a_413_before_the_upload_ends_is_too_large() {
    let server = Server::always(
        problem("413 Payload Too Large")
            .before_the_body()
            .then(Then::Close),
    );
    let client = Client::with_token(&server.url, Some(secrets::TOKEN));
    let document = vec![b'%'; 32 << 20];
    assert_eq!(
        client.submit(None, &document, None).err(),
        Some(OCR_ERR_TOO_LARGE),
        "{}",
        error_message()
    );
}

#[test]
fn finding_a_413_after_100_continue_is_too_large_and_makes_no_task() {
    // A server with a 1 MB limit: `100 Continue`, 1 MB of the body, then 413 and a close, the
    // rest of the 5 MB submission unread (the client's next write fails: a broken pipe).
    let server = Server::always(
        problem("413 Payload Too Large")
            .after_reading(1 << 20)
            .then(Then::Close),
    );
    let client = Client::with_token(&server.url, Some(secrets::TOKEN));
    let document = vec![b'%'; 5 << 20];
    assert_eq!(
        client.submit(None, &document, None).err(),
        Some(OCR_ERR_TOO_LARGE),
        "{}",
        error_message()
    );
    let message = error_message();
    assert!(message.contains("413"), "{message}");
    assert!(!message.contains("task may exist"), "{message}");
    assert_eq!(server.requests().len(), 1, "a 413 is not sent again");
}

#[test]
fn finding_a_message_names_the_request_once() {
    for reply in [
        done().cut(100).then(Then::Hold),
        done().cut(100).then(Then::Close),
    ] {
        let server = Server::always(reply);
        let client = Client::with_token(&server.url, Some(secrets::TOKEN));
        assert_code(
            unsafe { ocr_client_set_read_timeout_ms(client.0, 300) },
            OCR_OK,
        );
        assert_code(unsafe { ocr_client_set_max_attempts(client.0, 1) }, OCR_OK);
        assert!(client.fetch(None, "t").is_err());
        let message = error_message();
        assert_eq!(message.matches(&server.url).count(), 1, "{message}");
    }
}

/// A server that closes each connection right after its answer, without saying so: every
/// request, GET or POST, checks a pooled connection before reusing it, so none is sent on a
/// closed connection (a GET sent there would cost a retry, and the billed call may be counted
/// twice if the server read it).
#[test]
fn a_connection_the_server_closed_after_its_answer_is_never_reused() {
    // With one attempt, a GET or a POST sent on the closed connection would fail: the liveness
    // check before each reuse must find it closed and open a new one.
    let server = Server::start(|request, _| {
        let reply = if request.target.contains("?id=") {
            done()
        } else {
            http("200 OK", &[("Content-Type", "text/plain")], "task-1")
        };
        reply.then(Then::Close)
    });
    let client = Client::with_token(&server.url, Some(secrets::TOKEN));
    assert_code(unsafe { ocr_client_set_max_attempts(client.0, 1) }, OCR_OK);
    // The server closes after writing its answer: each request waits until the close was
    // sent, since no client can see a close that has not happened yet.
    for _ in 0..5 {
        let result = client.fetch(None, "t").unwrap();
        assert_eq!(result.data(0).unwrap(), b"hello");
        server.wait_until_every_connection_ended();
    }
    assert_eq!(client.submit(None, b"%PDF-1.4\n", None).unwrap(), "task-1");
    let requests = server.requests();
    assert_eq!(requests.len(), 6, "{requests:?}");
    assert_eq!(server.connections(), 6);
}

/// The body of a well-formed Completed answer whose result is `hello`.
fn hello_body() -> String {
    completed_with(HELLO)
}

/// Polls go through the lean exchange (src/lean.rs) on a pooled connection. Each answer below
/// is followed by a well-formed one, from a server that keeps every connection open: the
/// second poll must succeed with one attempt, and on a new connection exactly when the first
/// answer ended its own (`Connection: close`, HTTP/1.0, a length beside a transfer coding,
/// even `identity`).
/// Interim answers (1xx) before the final one are skipped; trailers after a chunked body are
/// read, so its connection serves again.
#[test]
fn a_poll_reuses_its_connection_only_after_an_answer_that_left_it_clean() {
    let body = hello_body();
    let head = |first_line: &str, extra: &str| {
        format!("{first_line}\r\nContent-Type: application/json\r\n{extra}\r\n").into_bytes()
    };
    let framed_chunks = format!("{:x}\r\n{body}\r\n0\r\nX-Trailer: 1\r\n\r\n", body.len());
    let length = format!("Content-Length: {}\r\n", body.len());
    let cases: [(&str, Vec<u8>, usize); 8] = [
        ("content_length", json(&body).bytes().to_vec(), 1),
        (
            "interim_answers_first",
            [
                &b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"[..],
                json(&body).bytes(),
            ]
            .concat(),
            1,
        ),
        (
            "chunked_with_trailers",
            [
                head("HTTP/1.1 200 OK", "Transfer-Encoding: chunked\r\n"),
                framed_chunks.clone().into_bytes(),
            ]
            .concat(),
            1,
        ),
        (
            "connection_close",
            [
                head("HTTP/1.1 200 OK", &format!("Connection: close\r\n{length}")),
                body.clone().into_bytes(),
            ]
            .concat(),
            2,
        ),
        (
            "connection_keep_alive_and_close",
            [
                head(
                    "HTTP/1.1 200 OK",
                    &format!("Connection: keep-alive, Close\r\n{length}"),
                ),
                body.clone().into_bytes(),
            ]
            .concat(),
            2,
        ),
        (
            "http_1_0_with_a_length",
            [
                head(
                    "HTTP/1.0 200 OK",
                    &format!("Connection: keep-alive\r\n{length}"),
                ),
                body.clone().into_bytes(),
            ]
            .concat(),
            2,
        ),
        (
            "chunked_beside_a_length",
            [
                head(
                    "HTTP/1.1 200 OK",
                    &format!("Transfer-Encoding: chunked\r\n{length}"),
                ),
                framed_chunks.into_bytes(),
            ]
            .concat(),
            2,
        ),
        (
            "identity_coding_beside_a_length",
            [
                head(
                    "HTTP/1.1 200 OK",
                    &format!("Transfer-Encoding: identity\r\n{length}"),
                ),
                body.clone().into_bytes(),
            ]
            .concat(),
            2,
        ),
    ];
    for (name, first, connections) in cases {
        let server = Server::start(move |_, earlier| match earlier {
            0 => Reply::raw(first.clone()),
            _ => done(),
        });
        let client = Client::with_token(&server.url, Some(secrets::TOKEN));
        assert_code(unsafe { ocr_client_set_max_attempts(client.0, 1) }, OCR_OK);
        for poll in 0..2 {
            let result = client.fetch(None, "t");
            let result = result.unwrap_or_else(|code| panic!("{name}, poll {poll}: {code}"));
            assert_eq!(result.data(0).unwrap(), b"hello", "{name}");
        }
        assert_eq!(server.requests().len(), 2, "{name}");
        assert_eq!(server.connections(), connections, "{name}");
    }
}

/// A poll on a pooled connection that fails part way through its answer (the server closes it
/// in the head or the body, answers garbage, or sends a body the parser refuses before its
/// end): the call fails with the code of its kind, the connection is never used again, and
/// the next poll opens a new one and succeeds, with one attempt each.
#[test]
fn a_pooled_connection_whose_answer_broke_is_never_used_again() {
    let body = hello_body();
    let cases: [(&str, Reply, ocr_code); 6] = [
        (
            "closed_mid_head",
            Reply::raw("HTTP/1.1 200 OK\r\nContent-Ty").then(Then::Close),
            OCR_ERR_NETWORK,
        ),
        (
            "short_body",
            json(&body)
                .cut(json(&body).bytes().len() - 10)
                .then(Then::Close),
            OCR_ERR_NETWORK,
        ),
        (
            "garbage_head",
            Reply::raw("HELLO THERE\r\n\r\n{}"),
            OCR_ERR_PROTOCOL,
        ),
        (
            "bad_chunk_size",
            Reply::raw(
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
            ),
            OCR_ERR_PROTOCOL,
        ),
        (
            "chunk_longer_than_its_size",
            Reply::raw(format!(
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{body}\r\n0\r\n\r\n"
            )),
            OCR_ERR_PROTOCOL,
        ),
        (
            "body_refused_before_its_end",
            // Larger than any read of the parser, so most of it is still unread.
            http(
                "200 OK",
                &[("Content-Type", "application/json")],
                format!("[{body}{}]", " ".repeat(4 << 20)),
            ),
            OCR_ERR_PROTOCOL,
        ),
    ];
    for (name, broken, code) in cases {
        let server = Server::start(move |_, earlier| match earlier {
            1 => broken.clone(),
            _ => done(),
        });
        let client = Client::with_token(&server.url, Some(secrets::TOKEN));
        assert_code(unsafe { ocr_client_set_max_attempts(client.0, 1) }, OCR_OK);
        assert_eq!(client.fetch(None, "t").unwrap().data(0).unwrap(), b"hello");
        match client.fetch(None, "t") {
            Ok(_) => panic!("{name}: the broken answer was taken"),
            Err(got) => assert_eq!(got, code, "{name}: {}", error_message()),
        }
        let result = client.fetch(None, "t");
        let result = result.unwrap_or_else(|code| panic!("{name}, after: {code}"));
        assert_eq!(result.data(0).unwrap(), b"hello", "{name}");
        assert_eq!(server.requests().len(), 3, "{name}");
        assert_eq!(server.connections(), 2, "{name}");
    }
}

/// A server that closes a pooled connection mid-head, after the client's check found it open:
/// the poll is sent again on a new connection (a GET may be), and the answer is the next one.
#[test]
fn a_poll_whose_pooled_connection_closed_mid_head_is_sent_again() {
    let server = Server::start(|_, earlier| match earlier {
        1 => Reply::raw("HTTP/1.1 200 OK\r\n").then(Then::Close),
        _ => done(),
    });
    let client = Client::with_token(&server.url, Some(secrets::TOKEN));
    for _ in 0..2 {
        assert_eq!(client.fetch(None, "t").unwrap().data(0).unwrap(), b"hello");
    }
    assert_eq!(server.requests().len(), 3);
    assert_eq!(server.connections(), 2);
}

/// Sixteen threads poll through one client, with one attempt each, while the server's answers
/// alternate between one that keeps the connection, one that ends it (`Connection: close`) and
/// an HTTP/1.0 one: the pool hands a connection to one thread at a time and never one whose
/// answer ended it, so every poll succeeds and each is sent exactly once.
#[test]
fn many_threads_share_one_pool_and_send_each_poll_once() {
    let body = hello_body();
    let server = Server::start(move |_, earlier| match earlier % 3 {
        0 => json(&body),
        1 => http(
            "200 OK",
            &[
                ("Content-Type", "application/json"),
                ("Connection", "close"),
            ],
            &body,
        ),
        _ => Reply::raw(format!(
            "HTTP/1.0 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )),
    });
    let client = Client::with_token(&server.url, Some(secrets::TOKEN));
    assert_code(unsafe { ocr_client_set_max_attempts(client.0, 1) }, OCR_OK);
    let failures = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..16 {
            scope.spawn(|| {
                for _ in 0..40 {
                    match client.fetch(None, "t") {
                        Ok(result) => assert_eq!(result.data(0).unwrap(), b"hello"),
                        Err(code) => failures
                            .lock()
                            .unwrap()
                            .push(format!("{code}: {}", common::last_error())),
                    }
                }
            });
        }
    });
    assert_eq!(failures.into_inner().unwrap(), Vec::<String>::new());
    assert_eq!(server.requests().len(), 16 * 40);
    // Each answer of the second and third kind ended its connection.
    assert!(
        server.connections() >= 2 * 16 * 40 / 3,
        "{}",
        server.connections()
    );
}
