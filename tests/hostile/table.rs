//! The hostile answers and what the client must make of each, decided from the contract in
//! `include/ocrcloud.h` and docs/contract.md:
//!
//! - an answer that breaks the JSON or the documented shape is `OCR_ERR_PROTOCOL`, bad base64
//!   in result data is `OCR_ERR_DECODE`; unknown fields and enum values, nulls and missing
//!   optional fields are accepted;
//! - a connection that breaks off is `OCR_ERR_NETWORK` after the retries; a server that stops
//!   sending is `OCR_ERR_TIMEOUT` at the read or request timeout;
//! - HTTP statuses: 401/403 `OCR_ERR_UNAUTHORIZED` (after one token refresh), 413
//!   `OCR_ERR_TOO_LARGE`, others `OCR_ERR_HTTP`; 429, 502, 503 and 504 are retried (3 requests),
//!   honouring `Retry-After`; redirects are not followed;
//! - compression is not enabled, so a `Content-Encoding` other than identity is not an answer
//!   the client can read: `OCR_ERR_PROTOCOL`.

use crate::case::{Call, Case, answers, fails, submits};
use crate::secrets::{CLIENT_SECRET, TOKEN, issued_token};
use crate::server::{Reply, Then, http, json};
use ocrcloud::ffi::*;
use std::time::{Duration, SystemTime};

/// `hello` in base64.
pub const HELLO: &str = "aGVsbG8=";

/// A Completed answer whose one `Text` result carries `data` (base64) verbatim.
pub fn completed_with(data: &str) -> String {
    format!(
        r#"{{"id":"t","taskStatus":"Completed","responseStatusCode":"Ok","results":[{{"type":"Text","data":"{data}"}}],"error":null}}"#
    )
}

/// A well-formed Completed answer whose result is `hello`.
pub fn done() -> Reply {
    json(completed_with(HELLO))
}

/// An answer with this status and nothing else.
fn status(task_status: &str) -> Reply {
    json(format!(r#"{{"taskStatus":"{task_status}"}}"#))
}

/// A status line and a problem body, as error answers come.
pub fn problem(status: &str) -> Reply {
    http(
        status,
        &[("Content-Type", "application/problem+json")],
        format!(r#"{{"title":"{status}","detail":"the server says {status}"}}"#),
    )
}

/// The head of a 200 JSON answer with these extra header lines, then `body`.
fn with_head(extra: &str, body: &str) -> Vec<u8> {
    format!("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n{extra}\r\n{body}").into_bytes()
}

/// The chunk that ends a chunked body.
const LAST_CHUNK: &str = "0\r\n\r\n";

/// Each piece as one chunk (without the last chunk).
fn chunks(pieces: &[&str]) -> String {
    pieces
        .iter()
        .map(|piece| format!("{:x}\r\n{piece}\r\n", piece.len()))
        .collect()
}

/// A chunked 200 JSON answer whose body has not ended yet.
fn chunked_unfinished(pieces: &[&str]) -> Reply {
    Reply::raw(with_head("Transfer-Encoding: chunked\r\n", &chunks(pieces)))
}

/// A chunked 200 JSON answer.
fn chunked(pieces: &[&str]) -> Reply {
    Reply::raw(with_head(
        "Transfer-Encoding: chunked\r\n",
        &(chunks(pieces) + LAST_CHUNK),
    ))
}

/// The `n`-th token, valid for an hour.
pub fn token(n: usize) -> Reply {
    json(format!(
        r#"{{"access_token":"{}","expires_in":3600,"token_type":"Bearer"}}"#,
        issued_token(n)
    ))
}

/// A `307` (or other redirect status) to `location`.
fn redirect(status: &str, location: &str) -> Reply {
    http(status, &[("Location", location)], "")
}

/// A `503` whose `Retry-After` is the HTTP date two seconds after it is sent (at least one
/// second away once rounded down to whole seconds).
fn busy_until_two_seconds_later() -> Reply {
    Reply::made_when_sent(|| {
        let date = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(2));
        http("503 Service Unavailable", &[("Retry-After", &date)], "")
    })
}

/// The gzip compression of `{"taskStatus":"Completed"}`.
pub const GZIPPED_ANSWER: &[u8] = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\x03\xab\x56\x2a\x49\x2c\xce\x0e\x2e\x49\x2c\x29\x2d\x56\xb2\x52\x72\xce\xcf\x2d\xc8\x49\x2d\x49\x4d\x51\xaa\x05\x00\xff\xe2\x6c\x6b\x1a\x00\x00\x00";

/// Every hostile case that the library handles as its contract says. `elsewhere` is the URL of
/// another host, which redirects point to.
pub fn cases(elsewhere: &str) -> Vec<Case> {
    let mut all = Vec::new();
    all.extend(json_cases());
    all.extend(base64_cases());
    all.extend(content_type_cases());
    all.extend(framing_cases());
    all.extend(stall_cases());
    all.extend(status_cases(elsewhere));
    all.extend(token_cases(elsewhere));
    all.extend(submit_cases());
    all.extend(secret_echo_cases(elsewhere));
    all
}

fn json_cases() -> Vec<Case> {
    const COMPLETED: ocr_task_status = OCR_TASK_COMPLETED;
    vec![
        answers("well_formed_control", [done()], COMPLETED, "hello"),
        fails(
            "truncated_json",
            [json(r#"{"id":"t","taskStatus":"Compl"#)],
            OCR_ERR_PROTOCOL,
            "in the middle of a string",
        ),
        fails("empty_body", [json("")], OCR_ERR_PROTOCOL, "empty"),
        fails(
            "array_instead_of_object",
            [json(r#"[{"taskStatus":"Completed"}]"#)],
            OCR_ERR_PROTOCOL,
            "not a JSON object",
        ),
        fails(
            "data_after_the_json",
            [json(r#"{"taskStatus":"Completed"}{"taskStatus":"Error"}"#)],
            OCR_ERR_PROTOCOL,
            "after the JSON",
        ),
        fails(
            "trailing_comma",
            [json(r#"{"taskStatus":"Completed",}"#)],
            OCR_ERR_PROTOCOL,
            "malformed JSON",
        ),
        fails(
            "single_quotes",
            [json(r#"{'taskStatus':'Completed'}"#)],
            OCR_ERR_PROTOCOL,
            "malformed JSON",
        ),
        fails(
            "unquoted_enum_value",
            [json(r#"{"taskStatus":Completed}"#)],
            OCR_ERR_PROTOCOL,
            "taskStatus",
        ),
        fails(
            "number_with_leading_zero",
            [json(r#"{"taskStatus":"Completed","pages":007}"#)],
            OCR_ERR_PROTOCOL,
            "invalid number",
        ),
        fails(
            "misspelled_literal",
            [json(r#"{"taskStatus":"Completed","error":nul}"#)],
            OCR_ERR_PROTOCOL,
            "invalid literal",
        ),
        fails(
            "invalid_escape",
            [json(r#"{"taskStatus":"Comp\x6ceted"}"#)],
            OCR_ERR_PROTOCOL,
            "escape",
        ),
        fails(
            "raw_control_character",
            [json("{\"taskStatus\":\"Comp\x07leted\"}")],
            OCR_ERR_PROTOCOL,
            "control character",
        ),
        fails(
            "lone_surrogate",
            [json(r#"{"taskStatus":"Completed","id":"\ud800x"}"#)],
            OCR_ERR_PROTOCOL,
            "surrogate",
        ),
        fails(
            "nul_in_a_string",
            [json(r#"{"taskStatus":"Completed","id":"a\u0000b"}"#)],
            OCR_ERR_PROTOCOL,
            "NUL",
        ),
        fails(
            "status_is_a_number",
            [json(r#"{"taskStatus":3}"#)],
            OCR_ERR_PROTOCOL,
            "taskStatus",
        ),
        fails(
            "status_is_null",
            [json(r#"{"taskStatus":null,"results":null}"#)],
            OCR_ERR_PROTOCOL,
            "no taskStatus",
        ),
        fails(
            "status_missing",
            [json(r#"{"id":"t","results":[]}"#)],
            OCR_ERR_PROTOCOL,
            "no taskStatus",
        ),
        fails(
            "status_twice",
            [json(r#"{"taskStatus":"Completed","TASKSTATUS":"Error"}"#)],
            OCR_ERR_PROTOCOL,
            "twice",
        ),
        fails(
            "results_is_an_object",
            [json(
                r#"{"taskStatus":"Completed","results":{"type":"Text"}}"#,
            )],
            OCR_ERR_PROTOCOL,
            "results",
        ),
        fails(
            "result_is_a_string",
            [json(r#"{"taskStatus":"Completed","results":["aGVsbG8="]}"#)],
            OCR_ERR_PROTOCOL,
            "results[0]",
        ),
        fails(
            "data_is_a_number",
            [json(r#"{"taskStatus":"Completed","results":[{"data":5}]}"#)],
            OCR_ERR_PROTOCOL,
            "results[0].data",
        ),
        fails(
            "messages_is_a_string",
            [json(
                r#"{"taskStatus":"Error","error":{"messages":"broken"}}"#,
            )],
            OCR_ERR_PROTOCOL,
            "error.messages",
        ),
        fails(
            "id_is_a_number",
            [json(r#"{"id":42,"taskStatus":"Completed"}"#)],
            OCR_ERR_PROTOCOL,
            "id",
        ),
        answers(
            "unknown_status_is_information",
            [status("Queued")],
            OCR_TASK_UNKNOWN,
            "",
        ),
        fails(
            "unknown_status_keeps_a_poll_waiting",
            [status("Queued")],
            OCR_ERR_NOT_READY,
            "still in an unknown status after 3 attempts",
        )
        .call(Call::Poll(3))
        .api_requests(3),
        answers(
            "status_in_another_case",
            [json(
                completed_with(HELLO).replace("Completed", "COMPLETED"),
            )],
            COMPLETED,
            "hello",
        ),
        answers(
            "unknown_fields_of_every_shape",
            [json(format!(
                r#"{{"x":{{"y":[1,-2.5e3,true,null,"\u00e9"]}},"taskStatus":"Completed","results":[{{"size":5,"type":"Text","pages":[{{}}],"data":"{HELLO}"}}],"error":{{"code":7,"messages":null}},"z":"w"}}"#
            ))],
            COMPLETED,
            "hello",
        ),
        answers(
            "nulls_for_every_optional_field",
            [json(
                r#"{"id":null,"taskStatus":"Completed","responseStatusCode":null,"results":null,"error":null}"#,
            )],
            COMPLETED,
            "",
        ),
        answers(
            "null_result_data",
            [json(
                r#"{"taskStatus":"Completed","results":[{"type":"Pdf","data":null}]}"#,
            )],
            COMPLETED,
            "",
        ),
        fails(
            "nested_a_million_deep",
            [json(format!(
                r#"{{"taskStatus":"Completed","x":{}}}"#,
                "[".repeat(1_000_000)
            ))],
            OCR_ERR_PROTOCOL,
            "nested too deeply",
        ),
        answers(
            "nested_four_hundred_deep",
            [json(format!(
                r#"{{"x":{}1{},"taskStatus":"Completed","results":[{{"data":"{HELLO}"}}]}}"#,
                "[".repeat(400),
                "]".repeat(400)
            ))],
            COMPLETED,
            "hello",
        ),
        fails(
            "invalid_utf8_in_the_status",
            [json(b"{\"taskStatus\":\"Compl\xe9ted\"}")],
            OCR_ERR_PROTOCOL,
            "UTF-8",
        ),
        fails(
            "invalid_utf8_in_an_unknown_field",
            [json(
                b"{\"taskStatus\":\"Completed\",\"note\":\"\xff\xfe\"}",
            )],
            OCR_ERR_PROTOCOL,
            "UTF-8",
        ),
        fails(
            "overlong_utf8",
            [json(b"{\"taskStatus\":\"Completed\",\"id\":\"\xc0\xaf\"}")],
            OCR_ERR_PROTOCOL,
            "UTF-8",
        ),
        fails(
            "utf16_answer",
            [json(
                "{\"taskStatus\":\"Completed\"}"
                    .encode_utf16()
                    .flat_map(u16::to_le_bytes)
                    .collect::<Vec<u8>>(),
            )],
            OCR_ERR_PROTOCOL,
            "malformed JSON",
        ),
        answers(
            "ten_megabytes_of_unknown_field",
            [json(format!(
                r#"{{"padding":"{}","taskStatus":"Completed","results":[{{"data":"{HELLO}"}}]}}"#,
                "x".repeat(10 << 20)
            ))],
            COMPLETED,
            "hello",
        ),
        fails(
            "error_status_ends_a_poll",
            [json(
                r#"{"taskStatus":"Error","error":{"messages":["the scan is unreadable"]}}"#,
            )],
            OCR_ERR_TASK_FAILED,
            "the scan is unreadable",
        )
        .call(Call::Poll(0)),
        fails(
            "not_exist_ends_a_poll",
            [status("NotExist")],
            OCR_ERR_TASK_NOT_FOUND,
            "does not exist",
        )
        .call(Call::Poll(0))
        .api_requests(1),
    ]
}

fn base64_cases() -> Vec<Case> {
    let bad = |name, data: &str, fragment| {
        fails(name, [json(completed_with(data))], OCR_ERR_DECODE, fragment)
    };
    vec![
        bad(
            "base64_bad_character",
            "aGVs*G8=",
            "outside the base64 alphabet",
        ),
        bad("base64_too_much_padding", "aGk==", "results[0].data"),
        bad(
            "base64_padding_in_the_middle",
            "aG==bG8=",
            "results[0].data",
        ),
        bad("base64_wrong_length", "aGVsbG8", "multiple of four"),
        bad("base64_data_after_padding", "aGk=aGk=", "results[0].data"),
        bad("base64_url_alphabet", "-_-_", "results[0].data"),
        bad("base64_with_spaces", "aGVs bG8=", "results[0].data"),
        bad("base64_raw_line_break", "aGVs\nbG8=", "results[0].data"),
        fails(
            "base64_bad_in_the_second_result",
            [json(format!(
                r#"{{"taskStatus":"Completed","results":[{{"data":"{HELLO}"}},{{"data":"%%%%"}}]}}"#
            ))],
            OCR_ERR_DECODE,
            "results[1].data",
        ),
        answers(
            "base64_with_escaped_line_breaks",
            [json(completed_with(r"aGVs\r\nbG8="))],
            OCR_TASK_COMPLETED,
            "hello",
        ),
    ]
}

fn content_type_cases() -> Vec<Case> {
    vec![
        fails(
            "html_page_with_200",
            [http(
                "200 OK",
                &[("Content-Type", "text/html")],
                "<html><body>Scheduled maintenance</body></html>",
            )],
            OCR_ERR_PROTOCOL,
            "text/html",
        ),
        fails(
            "plain_text_with_200",
            [http("200 OK", &[("Content-Type", "text/plain")], "OK")],
            OCR_ERR_PROTOCOL,
            "text/plain",
        ),
        answers(
            "json_labelled_as_text",
            [http(
                "200 OK",
                &[("Content-Type", "text/plain")],
                completed_with(HELLO),
            )],
            OCR_TASK_COMPLETED,
            "hello",
        ),
        fails(
            "html_error_page_502",
            [http(
                "502 Bad Gateway",
                &[("Content-Type", "text/html")],
                "<html><h1>502 Bad Gateway</h1></html>",
            )],
            OCR_ERR_HTTP,
            "502 Bad Gateway: <html><h1>502 Bad Gateway</h1></html>",
        )
        .api_requests(3),
        fails(
            "gzip_body",
            [http(
                "200 OK",
                &[
                    ("Content-Type", "application/json"),
                    ("Content-Encoding", "gzip"),
                ],
                GZIPPED_ANSWER,
            )],
            OCR_ERR_PROTOCOL,
            "Content-Encoding \"gzip\"",
        ),
    ]
}

fn framing_cases() -> Vec<Case> {
    let body = completed_with(HELLO);
    vec![
        fails(
            "body_shorter_than_content_length",
            [json(&body).cut(60).then(Then::Close)],
            OCR_ERR_NETWORK,
            "closed the connection before the answer was complete",
        )
        .api_requests(3),
        fails(
            "body_longer_than_content_length",
            [Reply::raw(with_head(
                &format!("Content-Length: {}\r\n", body.len() - 20),
                &body,
            ))],
            OCR_ERR_PROTOCOL,
            "ends after",
        ),
        answers(
            "chunked_in_odd_pieces",
            [chunked(&[
                r#"{"taskSt"#,
                r#"atus":"Comp"#,
                r#"leted","results":[{"data":"aG"#,
                "V",
                r#"sbG8="}]}"#,
            ])],
            OCR_TASK_COMPLETED,
            "hello",
        ),
        answers(
            "chunked_with_extensions_and_trailers",
            [Reply::raw(with_head(
                "Transfer-Encoding: chunked\r\n",
                &format!(
                    "{:X};name=value\r\n{body}\r\n0\r\nX-Trailer: 1\r\n\r\n",
                    body.len()
                ),
            ))],
            OCR_TASK_COMPLETED,
            "hello",
        ),
        fails(
            "chunked_with_a_bad_size",
            [Reply::raw(with_head(
                "Transfer-Encoding: chunked\r\n",
                &format!("zz\r\n{body}\r\n0\r\n\r\n"),
            ))],
            OCR_ERR_PROTOCOL,
            "chunk",
        ),
        fails(
            "chunked_without_line_end_after_data",
            [Reply::raw(with_head(
                "Transfer-Encoding: chunked\r\n",
                &format!("5\r\n{body}\r\n0\r\n\r\n"),
            ))],
            OCR_ERR_PROTOCOL,
            "chunk",
        ),
        fails(
            "chunked_size_overflowing_64_bits",
            [Reply::raw(with_head(
                "Transfer-Encoding: chunked\r\n",
                &format!("10000000000000000a\r\n{body}\r\n0\r\n\r\n"),
            ))],
            OCR_ERR_PROTOCOL,
            "chunk",
        ),
        fails(
            "chunked_cut_in_a_chunk",
            [chunked(&[&body]).cut(120).then(Then::Close)],
            OCR_ERR_NETWORK,
            "closed the connection",
        )
        .api_requests(3),
        fails(
            "chunked_without_the_last_chunk",
            [chunked_unfinished(&[&body]).then(Then::Close)],
            OCR_ERR_NETWORK,
            "closed the connection",
        )
        .api_requests(3),
        // Some servers end a chunked body with the last chunk's size line and close at once,
        // without the empty line after it: the body is whole (ureq accepted it too).
        answers(
            "chunked_last_chunk_then_close_without_its_empty_line",
            [Reply::raw(with_head(
                "Transfer-Encoding: chunked\r\n",
                &(chunks(&[&body]) + "0\r\n"),
            ))
            .then(Then::Close)],
            OCR_TASK_COMPLETED,
            "hello",
        )
        .api_requests(1),
        // `identity` is no transfer coding: the length frames the body (as ureq read it), on
        // a connection the server keeps open.
        answers(
            "identity_transfer_coding_beside_a_length",
            [Reply::raw(with_head(
                &format!(
                    "Transfer-Encoding: identity\r\nContent-Length: {}\r\n",
                    body.len()
                ),
                &body,
            ))],
            OCR_TASK_COMPLETED,
            "hello",
        ),
        answers(
            "chunked_and_content_length_together",
            [Reply::raw(with_head(
                "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n",
                &(chunks(&[&body]) + LAST_CHUNK),
            ))],
            OCR_TASK_COMPLETED,
            "hello",
        ),
        answers(
            "http_1_0_close_delimited",
            [Reply::raw(format!(
                "HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n{body}"
            ))
            .then(Then::Close)],
            OCR_TASK_COMPLETED,
            "hello",
        ),
        fails(
            "two_different_content_lengths",
            [Reply::raw(with_head(
                &format!(
                    "Content-Length: {}\r\nContent-Length: {}\r\n",
                    body.len(),
                    body.len() - 10
                ),
                &body,
            ))],
            OCR_ERR_PROTOCOL,
            "conflicting content-length headers",
        ),
        fails(
            "content_length_not_a_number",
            [Reply::raw(with_head("Content-Length: lots\r\n", &body)).then(Then::Close)],
            OCR_ERR_PROTOCOL,
            "content-length header not a number",
        ),
        fails(
            "no_content_204",
            [http("204 No Content", &[], "")],
            OCR_ERR_PROTOCOL,
            "empty",
        ),
        fails(
            "garbage_status_line",
            [Reply::raw("HELLO THERE\r\n\r\n").then(Then::Close)],
            OCR_ERR_PROTOCOL,
            "malformed HTTP",
        ),
        fails(
            "headers_of_a_megabyte",
            [Reply::raw(with_head(
                &format!(
                    "X-Padding: {}\r\nContent-Length: 2\r\n",
                    "p".repeat(1 << 20)
                ),
                "{}",
            ))
            .then(Then::Close)],
            OCR_ERR_PROTOCOL,
            "headers are too large",
        ),
        answers(
            "interim_100_continue_first",
            [Reply::raw(
                [
                    &b"HTTP/1.1 100 Continue\r\n\r\n"[..],
                    &with_head(&format!("Content-Length: {}\r\n", body.len()), &body),
                ]
                .concat(),
            )],
            OCR_TASK_COMPLETED,
            "hello",
        ),
        fails(
            "answer_over_the_size_limit",
            [done()],
            OCR_ERR_TOO_LARGE,
            "over the client's limit of 100 bytes",
        )
        .max_response_bytes(100)
        .api_requests(1),
        fails(
            "chunked_answer_over_the_size_limit",
            [chunked(&[&body, &body, &body])],
            OCR_ERR_TOO_LARGE,
            "over the client's limit of 100 bytes",
        )
        .max_response_bytes(100),
    ]
}

fn stall_cases() -> Vec<Case> {
    let body = completed_with(HELLO);
    vec![
        fails(
            "accepts_and_never_answers",
            [Reply::silence()],
            OCR_ERR_TIMEOUT,
            "timed out",
        )
        .api_requests(1),
        fails(
            "accepts_and_closes",
            [Reply::raw("").then(Then::Close)],
            OCR_ERR_NETWORK,
            "GET",
        )
        .api_requests(3),
        fails(
            "headers_never_end",
            [
                Reply::raw("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n")
                    .then(Then::Hold),
            ],
            OCR_ERR_TIMEOUT,
            "timed out",
        ),
        fails(
            "body_stops_halfway",
            [json(&body).cut(100).then(Then::Hold)],
            OCR_ERR_TIMEOUT,
            "timed out",
        ),
        fails(
            "body_never_ends",
            [
                chunked_unfinished(&[r#"{"taskStatus":"Completed","x":""#]).then(Then::Drip(
                    b"1\r\nx\r\n".to_vec(),
                    Duration::from_millis(50),
                )),
            ],
            OCR_ERR_TIMEOUT,
            "timed out",
        ),
        fails(
            "reset_after_the_head",
            [json(&body).cut(70).then(Then::Reset)],
            OCR_ERR_NETWORK,
            "GET",
        )
        .api_requests(3),
    ]
}

fn status_cases(elsewhere: &str) -> Vec<Case> {
    let refused_redirect = |name, status| {
        fails(
            name,
            [redirect(
                status,
                &format!("{elsewhere}/v5.0/ocr/RecognizePdf?id={name}"),
            )],
            OCR_ERR_HTTP,
            "which is not followed",
        )
        .api_requests(1)
    };
    vec![
        refused_redirect("redirect_301_elsewhere", "301 Moved Permanently"),
        refused_redirect("redirect_302_elsewhere", "302 Found"),
        refused_redirect("redirect_307_elsewhere", "307 Temporary Redirect"),
        refused_redirect("redirect_308_elsewhere", "308 Permanent Redirect"),
        fails(
            "redirect_to_the_same_host",
            [redirect("302 Found", "/v5.0/ocr/RecognizePdf?id=other")],
            OCR_ERR_HTTP,
            "which is not followed",
        )
        .api_requests(1),
        fails(
            "unauthorized_401",
            [problem("401 Unauthorized")],
            OCR_ERR_UNAUTHORIZED,
            "401",
        )
        .api_requests(1),
        fails(
            "forbidden_403",
            [problem("403 Forbidden")],
            OCR_ERR_UNAUTHORIZED,
            "403",
        )
        .api_requests(1),
        fails(
            "not_found_404",
            [problem("404 Not Found")],
            OCR_ERR_HTTP,
            "404 Not Found: the server says 404",
        )
        .api_requests(1),
        fails(
            "payload_too_large_413",
            [problem("413 Payload Too Large")],
            OCR_ERR_TOO_LARGE,
            "413",
        )
        .api_requests(1),
        fails(
            "too_many_requests_429",
            [problem("429 Too Many Requests")],
            OCR_ERR_HTTP,
            "429",
        )
        .api_requests(3),
        answers(
            "retry_after_in_seconds",
            [
                http("429 Too Many Requests", &[("Retry-After", "1")], ""),
                done(),
            ],
            OCR_TASK_COMPLETED,
            "hello",
        )
        .api_requests(2)
        .at_least(1000),
        // A number too large for u64 waits the longest honoured wait (30 s), like a far-future
        // date; the poll's deadline (5 s) ends it first instead of a retry at once.
        fails(
            "retry_after_too_large_for_u64",
            [http(
                "429 Too Many Requests",
                &[("Retry-After", "99999999999999999999999")],
                "",
            )],
            OCR_ERR_TIMEOUT,
            "the next poll (in 30.0 s) would pass the deadline",
        )
        .call(Call::Poll(0))
        .api_requests(1),
        answers(
            "retry_after_as_a_date",
            [busy_until_two_seconds_later(), done()],
            OCR_TASK_COMPLETED,
            "hello",
        )
        .api_requests(2)
        .at_least(1000),
        answers(
            "retry_after_in_the_past",
            [
                http(
                    "503 Service Unavailable",
                    &[("Retry-After", "Wed, 21 Oct 2015 07:28:00 GMT")],
                    "",
                ),
                done(),
            ],
            OCR_TASK_COMPLETED,
            "hello",
        )
        .api_requests(2),
        answers(
            "retry_after_not_a_date",
            [
                http("503 Service Unavailable", &[("Retry-After", "soon")], ""),
                done(),
            ],
            OCR_TASK_COMPLETED,
            "hello",
        )
        .api_requests(2),
        fails(
            "completed_answer_with_status_500",
            [http(
                "500 Internal Server Error",
                &[("Content-Type", "application/json")],
                completed_with(HELLO),
            )],
            OCR_ERR_HTTP,
            "500",
        )
        .api_requests(1),
        fails(
            "internal_server_error_500",
            [problem("500 Internal Server Error")],
            OCR_ERR_HTTP,
            "500",
        )
        .api_requests(1),
        fails(
            "bad_gateway_502",
            [problem("502 Bad Gateway")],
            OCR_ERR_HTTP,
            "502",
        )
        .api_requests(3),
        fails(
            "service_unavailable_503",
            [problem("503 Service Unavailable")],
            OCR_ERR_HTTP,
            "503",
        )
        .api_requests(3),
        fails(
            "gateway_timeout_504",
            [problem("504 Gateway Timeout")],
            OCR_ERR_HTTP,
            "504",
        )
        .api_requests(3),
        fails(
            "unknown_status_code_599",
            [problem("599 Network Read Timeout")],
            OCR_ERR_HTTP,
            "599",
        )
        .api_requests(1),
        answers(
            "poll_goes_on_through_transient_failures",
            [
                problem("503 Service Unavailable"),
                Reply::raw("").then(Then::Close),
                problem("502 Bad Gateway"),
                json(completed_with(HELLO)).cut(50).then(Then::Close),
                status("Processing"),
                done(),
            ],
            OCR_TASK_COMPLETED,
            "hello",
        )
        .call(Call::Poll(0))
        .api_requests(6),
        answers(
            "poll_honours_retry_after",
            [
                http("429 Too Many Requests", &[("Retry-After", "1")], ""),
                done(),
            ],
            OCR_TASK_COMPLETED,
            "hello",
        )
        .call(Call::Poll(0))
        .api_requests(2)
        .at_least(1000),
        fails(
            "poll_ends_on_a_lasting_failure",
            [status("Pending"), problem("500 Internal Server Error")],
            OCR_ERR_HTTP,
            "500",
        )
        .call(Call::Poll(0))
        .api_requests(2),
    ]
}

fn token_cases(elsewhere: &str) -> Vec<Case> {
    let unauthorized = problem("401 Unauthorized");
    vec![
        answers(
            "refresh_after_401",
            [unauthorized.clone(), done()],
            OCR_TASK_COMPLETED,
            "hello",
        )
        .credentials([token(1), token(2)])
        .token_requests(2)
        .api_requests(2),
        fails(
            "401_after_the_refresh_too",
            [unauthorized.clone()],
            OCR_ERR_UNAUTHORIZED,
            "401",
        )
        .credentials([token(1), token(2), token(3)])
        .token_requests(2)
        .api_requests(2),
        fails(
            "token_endpoint_answers_garbage",
            [done()],
            OCR_ERR_PROTOCOL,
            "not a token",
        )
        .credentials([http(
            "200 OK",
            &[("Content-Type", "text/html")],
            "<html>hi</html>",
        )])
        .api_requests(0),
        fails(
            "token_without_access_token",
            [done()],
            OCR_ERR_PROTOCOL,
            "not a token",
        )
        .credentials([json(r#"{"expires_in":3600,"token_type":"Bearer"}"#)])
        .api_requests(0),
        fails(
            "token_of_another_type",
            [done()],
            OCR_ERR_PROTOCOL,
            "\"mac\"",
        )
        .credentials([json(r#"{"access_token":"abc123","token_type":"mac"}"#)])
        .api_requests(0),
        fails(
            "token_endpoint_fails_500",
            [done()],
            OCR_ERR_HTTP,
            "cannot obtain a token",
        )
        .credentials([problem("500 Internal Server Error")])
        .api_requests(0),
        fails(
            "token_endpoint_refuses_401",
            [done()],
            OCR_ERR_UNAUTHORIZED,
            "cannot obtain a token",
        )
        .credentials([problem("401 Unauthorized")])
        .api_requests(0),
        fails(
            "token_endpoint_redirects_elsewhere",
            [done()],
            OCR_ERR_HTTP,
            "which is not followed",
        )
        .credentials([redirect(
            "307 Temporary Redirect",
            &format!("{elsewhere}/connect/token"),
        )])
        .api_requests(0),
        answers(
            "expires_in_zero_is_not_reused",
            [done()],
            OCR_TASK_COMPLETED,
            "hello",
        )
        .credentials([json(format!(
            r#"{{"access_token":"{}","expires_in":0}}"#,
            issued_token(1)
        ))])
        .call(Call::FetchTwice)
        .token_requests(2)
        .api_requests(2),
        answers(
            "negative_expires_in_is_not_reused",
            [done()],
            OCR_TASK_COMPLETED,
            "hello",
        )
        .credentials([json(format!(
            r#"{{"access_token":"{}","expires_in":"-30"}}"#,
            issued_token(1)
        ))])
        .call(Call::FetchTwice)
        .token_requests(2)
        .api_requests(2),
        answers(
            "expires_in_missing_is_an_hour",
            [done()],
            OCR_TASK_COMPLETED,
            "hello",
        )
        .credentials([json(format!(r#"{{"access_token":"{}"}}"#, issued_token(1)))])
        .call(Call::FetchTwice)
        .token_requests(1)
        .api_requests(2),
    ]
}

fn submit_cases() -> Vec<Case> {
    let submit = |case: Case| case.call(Call::Submit);
    let id_answer = |body: &str| http("200 OK", &[("Content-Type", "text/plain")], body);
    vec![
        submits("submit_bare_id", [id_answer("5f0e-TASK\n")], "5f0e-TASK"),
        submits(
            "submit_json_quoted_id",
            [id_answer("\"TTS-5f0e\"")],
            "TTS-5f0e",
        ),
        submit(fails(
            "submit_empty_answer",
            [id_answer("")],
            OCR_ERR_PROTOCOL,
            "no usable task id",
        )),
        submit(fails(
            "submit_id_with_a_line_break",
            [id_answer("abc\r\nX-Injected: 1")],
            OCR_ERR_PROTOCOL,
            "no usable task id",
        )),
        submit(fails(
            "submit_id_with_nul",
            [id_answer(r#""abc\u0000def""#)],
            OCR_ERR_PROTOCOL,
            "no usable task id",
        )),
        submit(fails(
            "submit_answer_of_a_megabyte",
            [id_answer(&"x".repeat(1 << 20))],
            OCR_ERR_PROTOCOL,
            "more than 65536 bytes",
        )),
        submit(fails(
            "submit_answer_not_utf8",
            [http(
                "200 OK",
                &[("Content-Type", "text/plain")],
                b"ab\xffcd",
            )],
            OCR_ERR_PROTOCOL,
            "UTF-8",
        )),
        submit(fails(
            "submit_502_is_not_retried",
            [problem("502 Bad Gateway")],
            OCR_ERR_HTTP,
            "502",
        ))
        .api_requests(1),
        submit(fails(
            "submit_503_is_retried",
            [problem("503 Service Unavailable")],
            OCR_ERR_HTTP,
            "503",
        ))
        .api_requests(3),
        submit(fails(
            "submit_connection_dropped_is_not_retried",
            [Reply::raw("").then(Then::Close)],
            OCR_ERR_NETWORK,
            "POST",
        ))
        .api_requests(1),
        submit(fails(
            "submit_413",
            [problem("413 Payload Too Large")],
            OCR_ERR_TOO_LARGE,
            "413",
        ))
        .api_requests(1),
        submit(fails(
            "submit_never_answered",
            [Reply::silence()],
            OCR_ERR_TIMEOUT,
            "timed out",
        ))
        .api_requests(1),
    ]
}

/// A problem answer whose detail is `text`, as servers echo what they received.
pub fn echo(status: &str, text: String) -> Reply {
    http(
        status,
        &[("Content-Type", "application/problem+json")],
        format!(r#"{{"title":"echo","detail":"{text}"}}"#),
    )
}

/// Servers that echo credentials back in every place a message takes text from; the runner
/// checks that no message reveals them.
fn secret_echo_cases(elsewhere: &str) -> Vec<Case> {
    vec![
        fails(
            "problem_detail_echoes_the_token",
            [echo(
                "400 Bad Request",
                format!("Bearer {TOKEN} is malformed"),
            )],
            OCR_ERR_HTTP,
            "Bearer [redacted] is malformed",
        ),
        fails(
            "html_answer_starts_with_the_token",
            [http(
                "200 OK",
                &[("Content-Type", "text/html")],
                format!("{TOKEN}<html></html>"),
            )],
            OCR_ERR_PROTOCOL,
            "[redacted]",
        ),
        fails(
            "redirect_location_carries_the_token",
            [redirect(
                "302 Found",
                &format!("{elsewhere}/login?access_token={TOKEN}"),
            )],
            OCR_ERR_HTTP,
            "access_token=[redacted]",
        ),
        fails(
            "task_id_answer_echoes_the_token",
            [http(
                "200 OK",
                &[("Content-Type", "text/plain")],
                format!("Bearer {TOKEN}\u{1}"),
            )],
            OCR_ERR_PROTOCOL,
            "[redacted]",
        )
        .call(Call::Submit),
        fails(
            "refused_tokens_are_echoed",
            [
                echo("401 Unauthorized", format!("{} expired", issued_token(1))),
                echo("401 Unauthorized", format!("{} expired", issued_token(2))),
            ],
            OCR_ERR_UNAUTHORIZED,
            "[redacted] expired",
        )
        .credentials([token(1), token(2)]),
        fails(
            "token_endpoint_echoes_the_secret",
            [done()],
            OCR_ERR_UNAUTHORIZED,
            "[redacted]",
        )
        .credentials([echo(
            "401 Unauthorized",
            format!("wrong secret {CLIENT_SECRET}"),
        )]),
    ]
}
