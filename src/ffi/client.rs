//! `ocr_client`: creation, settings, submit.

use super::call::{call_arg, ocr_call_options};
use super::options::ocr_task_status;
use super::{
    Handle, borrow, boxed, free_boxed, give_string, guard_code, ocr_code, optional_str, out_param,
    required_str, write_out,
};
use crate::auth::Auth;
use crate::client::Client;
use crate::error::{Result, invalid};
use crate::operations::{Document, Operation};
use crate::settings::Settings;
use crate::tls::{self, Network, ProxyChoice};
use std::ffi::c_char;
use std::path::Path;
use std::time::Duration;

/// A connection to the service: base URL, credentials, settings and a pool of keep-alive
/// connections.
///
/// Thread safety: one client may be shared by any number of threads; fetch, poll, submit and
/// the setters may run concurrently. Settings apply to calls that start after the change.
/// Free it with `ocr_client_free` once no call is using it.
pub struct ocr_client {
    _private: [u8; 0],
}

impl Handle for ocr_client {
    type Value = Client;
    const NAME: &'static str = "client";
}

/// The operation argument: NULL is `RecognizePdf`; names are matched without regard to case.
pub(super) fn operation_arg(operation: *const c_char) -> Result<Operation> {
    match optional_str(operation, "operation")? {
        None => Ok(Operation::RECOGNIZE_PDF),
        Some(name) => Operation::named(name),
    }
}

pub(super) fn client_arg<'a>(client: *const ocr_client) -> Result<&'a Client> {
    borrow(client)
}

/// The arguments a call about one task starts with: the client, the operation (NULL:
/// `RecognizePdf`) and the task id.
pub(super) fn task_args<'a>(
    client: *const ocr_client,
    operation: *const c_char,
    task_id: *const c_char,
) -> Result<(&'a Client, Operation, &'a str)> {
    Ok((
        client_arg(client)?,
        operation_arg(operation)?,
        required_str(task_id, "task_id")?,
    ))
}

fn new_client(
    out: *mut *mut ocr_client,
    base_url: *const c_char,
    auth: impl FnOnce() -> Result<Auth>,
) -> ocr_code {
    guard_code(|| {
        out_param(out, "out")?;
        let base_url = optional_str(base_url, "base_url")?;
        let client = Client::new(base_url, auth()?)?;
        write_out(out, boxed(client));
        Ok(())
    })
}

/// Creates a client that sends a fixed token.
///
/// `base_url`: the service's address, e.g. `"https://api.aspose.cloud"` (NULL means exactly
/// that); the library appends `/v5.0/ocr/<Operation>`. A path prefix is kept. Plain `http://`
/// is refused at request time unless the host is loopback (localhost, 127.0.0.0/8, ::1) or
/// `ocr_client_set_allow_insecure_http` allows it; TLS certificates are always verified.
/// `access_token`: sent as `Authorization: Bearer <token>`; NULL sends no `Authorization`
/// header (enough for the trial operations). The library copies both strings.
///
/// On `OCR_OK`, `*out` receives a client that the caller owns and frees with
/// `ocr_client_free`; on failure `*out` is untouched. Nothing is sent until the first call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocr_client_new(
    base_url: *const c_char,
    access_token: *const c_char,
    out: *mut *mut ocr_client,
) -> ocr_code {
    new_client(out, base_url, || {
        Auth::token(optional_str(access_token, "access_token")?)
    })
}

/// Creates a client that obtains tokens itself from `{base_url}/connect/token` with client
/// credentials (`grant_type=client_credentials`).
///
/// The token is fetched on first use, cached, replaced shortly before its `expires_in` runs out
/// and once after a 401/403; when many threads need a token at the same moment, one request
/// serves them all. `client_id` and `client_secret` must not be NULL; the library copies them
/// and never puts them in a message. Ownership and `base_url` as for `ocr_client_new`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocr_client_new_with_credentials(
    base_url: *const c_char,
    client_id: *const c_char,
    client_secret: *const c_char,
    out: *mut *mut ocr_client,
) -> ocr_code {
    new_client(out, base_url, || {
        Auth::credentials(
            required_str(client_id, "client_id")?,
            required_str(client_secret, "client_secret")?,
        )
    })
}

/// Frees a client. NULL does nothing. No call may be using the client at the same time, and
/// the client must not be used afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocr_client_free(client: *mut ocr_client) {
    free_boxed(client)
}

/// Changes one setting of a client.
fn update(client: *mut ocr_client, change: impl FnOnce(&mut Settings) -> Result<()>) -> ocr_code {
    guard_code(|| {
        let client = client_arg(client)?;
        let mut result = Ok(());
        client.update_settings(|settings| result = change(settings));
        result
    })
}

/// Sets the count that `field` picks to `value`; 0 is refused (`name` in the message).
fn set_at_least_one<T: Copy + PartialEq + From<u8>>(
    client: *mut ocr_client,
    value: T,
    name: &str,
    field: fn(&mut Settings) -> &mut T,
) -> ocr_code {
    update(client, |s| {
        if value == T::from(0) {
            return Err(invalid(format!("{name} must be at least 1")));
        }
        *field(s) = value;
        Ok(())
    })
}

/// Sets the timeout that `field` picks to `timeout_ms` milliseconds; 0 is refused.
fn set_timeout(
    client: *mut ocr_client,
    timeout_ms: u32,
    field: fn(&mut Settings) -> &mut Duration,
) -> ocr_code {
    update(client, |s| {
        if timeout_ms == 0 {
            return Err(invalid("timeout_ms must be at least 1 ms"));
        }
        *field(s) = Duration::from_millis(timeout_ms.into());
        Ok(())
    })
}

/// Limit for connecting to the server (name resolution, TCP and TLS), in milliseconds (at least
/// 1). Default 10000.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocr_client_set_connect_timeout_ms(
    client: *mut ocr_client,
    timeout_ms: u32,
) -> ocr_code {
    set_timeout(client, timeout_ms, |s| &mut s.connect_timeout)
}

/// Limit for each wait for more bytes from the server, in milliseconds (at least 1): a server
/// that stops sending fails the request with `OCR_ERR_TIMEOUT` after this long. Default 30000.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocr_client_set_read_timeout_ms(
    client: *mut ocr_client,
    timeout_ms: u32,
) -> ocr_code {
    set_timeout(client, timeout_ms, |s| &mut s.read_timeout)
}

/// Limit for one whole request including its answer's body, in milliseconds (at least 1).
/// Default 300000. A poll's deadline shortens it further.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocr_client_set_request_timeout_ms(
    client: *mut ocr_client,
    timeout_ms: u32,
) -> ocr_code {
    set_timeout(client, timeout_ms, |s| &mut s.request_timeout)
}

/// The `User-Agent` header; the library copies the string. Default `"ocrcloud/<version>"`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocr_client_set_user_agent(
    client: *mut ocr_client,
    user_agent: *const c_char,
) -> ocr_code {
    update(client, |s| {
        let text = required_str(user_agent, "user_agent")?;
        crate::auth::check_header_safe("user_agent", text)?;
        s.user_agent = text.into();
        Ok(())
    })
}

/// The largest answer accepted, in bytes (at least 1); a larger answer fails with
/// `OCR_ERR_TOO_LARGE` without being read into memory. Default 1073741824 (1 GiB).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocr_client_set_max_response_bytes(
    client: *mut ocr_client,
    max_bytes: u64,
) -> ocr_code {
    set_at_least_one(client, max_bytes, "max_bytes", |s| {
        &mut s.max_response_bytes
    })
}

/// Non-zero allows plain `http://` base URLs for hosts other than loopback, which sends tokens
/// and secrets in clear text. Default 0 (refused with `OCR_ERR_INVALID_ARGUMENT`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocr_client_set_allow_insecure_http(
    client: *mut ocr_client,
    allow: i32,
) -> ocr_code {
    update(client, |s| {
        s.allow_insecure_http = allow != 0;
        Ok(())
    })
}

/// How many requests a single call sends at most when failures are transient (connection
/// errors; HTTP 429, 502, 503, 504, honouring `Retry-After`), with exponential backoff in
/// between. 1 disables retries; 0 is refused. Default 3. Polls use their own schedule instead.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocr_client_set_max_attempts(
    client: *mut ocr_client,
    attempts: u32,
) -> ocr_code {
    set_at_least_one(client, attempts, "attempts", |s| &mut s.max_attempts)
}

/// How many connections `ocr_poll_many` uses at most (at least 1). Default 4.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocr_client_set_max_connections(
    client: *mut ocr_client,
    connections: u32,
) -> ocr_code {
    set_at_least_one(client, connections, "connections", |s| {
        &mut s.max_connections
    })
}

/// `ocr_submit_ex` with NULL call options.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocr_submit(
    client: *const ocr_client,
    operation: *const c_char,
    document: *const u8,
    len: usize,
    settings_json: *const c_char,
    task_id_out: *mut *mut c_char,
) -> ocr_code {
    // SAFETY: the caller's pointers, passed on under the same contract.
    unsafe {
        ocr_submit_ex(
            client,
            operation,
            document,
            len,
            settings_json,
            std::ptr::null(),
            task_id_out,
        )
    }
}

/// The most requests per second the client sends, all threads and `ocr_poll_many` workers
/// together; 0: unlimited (the default). A rate of r lets at most floor(r) requests go in any
/// second (plus 20 ms; under 1: one in 1/r seconds). Either way the rate adapts: a `429` sets
/// it to the requests the server accepted in the second before the refused one (one less if it
/// was there already) and holds it, adding one request per second every 10 s without a `429`; a
/// `503` cuts it to 0.8 times the rate sent over the last second (at least 0.5 per second), at
/// most once a second, and each second without throttling adds a tenth of the rate before the
/// cut (at least one request per second) up to 95% of it, then one request per second; never
/// above this maximum (for an unlimited client, up to twice the rate of the last cut, where it
/// is unlimited again). A `Retry-After` makes the whole client wait; after a `429`, one second
/// of it less (its whole seconds round up the real wait) when the client's own requests fill
/// the server's window, whose room the rate then waits for. Waiting for the budget ends at each
/// call's deadline and cancel. A negative, infinite or NaN rate is `OCR_ERR_INVALID_ARGUMENT`.
/// Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocr_client_set_max_rate(
    client: *mut ocr_client,
    per_second: f64,
) -> ocr_code {
    guard_code(|| {
        let client = client_arg(client)?;
        if !(per_second.is_finite() && per_second >= 0.0) {
            return Err(invalid(format!(
                "per_second must be a number of at least 0, not {per_second}"
            )));
        }
        client
            .flow()
            .set_max_rate((per_second > 0.0).then_some(per_second));
        Ok(())
    })
}

/// Non-zero (the default) turns the circuit breaker on: after 5 failures in a row (a 5xx other
/// than 503, or no connection) within 10 s, requests fail at once, without being sent, with
/// `OCR_ERR_NETWORK` and a message saying the service looks down (naming the last failure),
/// until a probe, let through every 5 s, succeeds. 0 turns it off. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocr_client_set_circuit_breaker(
    client: *mut ocr_client,
    enabled: i32,
) -> ocr_code {
    guard_code(|| {
        client_arg(client)?.flow().set_breaker(enabled != 0);
        Ok(())
    })
}

/// Requests the client sent (every attempt, token requests included).
pub const OCR_STAT_REQUESTS: i32 = 1;
/// Retries of failed requests (not the polls of a poll).
pub const OCR_STAT_RETRIES: i32 = 2;
/// Answers `429` or `503`.
pub const OCR_STAT_THROTTLED: i32 = 3;
/// Token requests.
pub const OCR_STAT_TOKEN_FETCHES: i32 = 4;
/// The requests per second allowed now; 0: unlimited.
pub const OCR_STAT_RATE: i32 = 5;
/// 1 while the circuit breaker is open, else 0.
pub const OCR_STAT_BREAKER_OPEN: i32 = 6;
/// The retry quota left: 500 at most; a retry costs 5 (10 after a timeout), a success gives 1
/// back, and no retry is made when the quota cannot pay it.
pub const OCR_STAT_RETRY_QUOTA: i32 = 7;

/// One figure of the client's request budget, like `curl_easy_getinfo`: `what` is an
/// `OCR_STAT_*` value; on `OCR_OK`, `*out` receives it (counts since the client was created).
/// An unknown `what` is `OCR_ERR_INVALID_ARGUMENT`. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocr_client_stats(
    client: *const ocr_client,
    what: i32,
    out: *mut f64,
) -> ocr_code {
    guard_code(|| {
        out_param(out, "out")?;
        let stats = client_arg(client)?.flow().stats();
        let value = match what {
            OCR_STAT_REQUESTS => stats.requests as f64,
            OCR_STAT_RETRIES => stats.retries as f64,
            OCR_STAT_THROTTLED => stats.throttled as f64,
            OCR_STAT_TOKEN_FETCHES => stats.token_fetches as f64,
            OCR_STAT_RATE => stats.rate.unwrap_or(0.0),
            OCR_STAT_BREAKER_OPEN => f64::from(u8::from(stats.breaker_open)),
            OCR_STAT_RETRY_QUOTA => f64::from(stats.retry_quota),
            other => return Err(invalid(format!("{other} is not an OCR_STAT_* value"))),
        };
        write_out(out, value);
        Ok(())
    })
}

/// Changes how the client reaches the service; `change` may refuse its argument.
fn update_network(
    client: *mut ocr_client,
    change: impl FnOnce() -> Result<Box<dyn FnOnce(&mut Network)>>,
) -> ocr_code {
    guard_code(|| {
        let client = client_arg(client)?;
        client.update_network(change()?)
    })
}

/// Also trust the CA certificates in the PEM file at `pem_path`, besides the default roots (the
/// system's store, which honours `SSL_CERT_FILE` and `SSL_CERT_DIR`, or Mozilla's roots bundled
/// with the library where the system has none); NULL: back to the default. A later call
/// replaces the certificates an earlier one added. A missing, unreadable or certificate-less
/// file is `OCR_ERR_INVALID_ARGUMENT`, and the client is then unchanged. Applies to calls that
/// start afterwards; thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocr_client_set_ca_file(
    client: *mut ocr_client,
    pem_path: *const c_char,
) -> ocr_code {
    update_network(client, || {
        let cas = match optional_str(pem_path, "pem_path")? {
            None => Vec::new(),
            Some(path) => tls::read_ca_file(Path::new(path))?,
        };
        Ok(Box::new(move |network: &mut Network| {
            network.extra_cas = cas
        }))
    })
}

/// Like `ocr_client_set_ca_file`, with the PEM text in memory: `len` bytes at `pem` (which the
/// library copies). `pem` NULL (with any `len`): back to the default. Text without a
/// certificate is `OCR_ERR_INVALID_ARGUMENT`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocr_client_set_ca_pem(
    client: *mut ocr_client,
    pem: *const u8,
    len: usize,
) -> ocr_code {
    update_network(client, || {
        let cas = if pem.is_null() {
            Vec::new()
        } else if len > isize::MAX as usize {
            return Err(invalid(format!(
                "len {len} is larger than any object can be"
            )));
        } else {
            // SAFETY: the caller passes `len` readable bytes at `pem`.
            tls::parse_cas(
                unsafe { std::slice::from_raw_parts(pem, len) },
                "the CA text",
            )?
        };
        Ok(Box::new(move |network: &mut Network| {
            network.extra_cas = cas
        }))
    })
}

/// The proxy for requests to a base URL that is not loopback: `http://host:port` or
/// `https://...` (a CONNECT tunnel; `http://user:password@host:port` authenticates, with
/// `/ ? # @ :` in the user name or password percent-encoded as `%2F %3F %23 %40 %3A`); `""`: no
/// proxy; NULL: the environment's (`HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY`, with `NO_PROXY`;
/// lower case too), the default. SOCKS and other schemes, and URLs with a path, query or
/// fragment, are `OCR_ERR_INVALID_ARGUMENT` naming the proxy without its password (such a
/// proxy in the environment makes `ocr_client_new` fail the same way). A
/// loopback base URL never goes through a proxy. The proxy's password never appears in a
/// message or log line. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocr_client_set_proxy(
    client: *mut ocr_client,
    proxy_url: *const c_char,
) -> ocr_code {
    update_network(client, || {
        let choice = ProxyChoice::named(optional_str(proxy_url, "proxy_url")?)?;
        Ok(Box::new(move |network: &mut Network| {
            network.proxy = choice
        }))
    })
}

/// Submits a document to an operation and answers the new task's id.
///
/// `operation`: e.g. `"RecognizePdf"` (NULL means that), matched without regard to case; an
/// unknown name is `OCR_ERR_INVALID_ARGUMENT`. `document`/`len`: the file's bytes (for the text
/// to speech operations: UTF-8 text); they are base64-encoded into the operation's documented
/// body (`{"image", "settings"}`, `{"image"}` for image processing, `{"text", "settings"}` for
/// text to speech). `document` may be NULL only if `len` is 0; `len` over `PTRDIFF_MAX` is
/// `OCR_ERR_INVALID_ARGUMENT`. `settings_json`: a JSON object sent as `settings`, or NULL for
/// the operation's defaults (see docs/c.md, "Operations"); anything but a JSON object is
/// `OCR_ERR_INVALID_ARGUMENT`, and so is a settings object for an operation without settings.
/// `call`: the deadline and cancel token (NULL: none).
///
/// A submission is sent again only when it certainly did not reach the server (no connection,
/// nothing written, 429/503, or once with a fresh token after 401/403); after any other failure
/// it is not, and the message says that a task may exist, so one call never creates two billed
/// tasks.
///
/// On `OCR_OK`, `*task_id_out` receives the id, which the caller frees with `ocr_string_free`.
/// Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocr_submit_ex(
    client: *const ocr_client,
    operation: *const c_char,
    document: *const u8,
    len: usize,
    settings_json: *const c_char,
    call: *const ocr_call_options,
    task_id_out: *mut *mut c_char,
) -> ocr_code {
    submit_with(client, operation, settings_json, call, task_id_out, || {
        match (document.is_null(), len) {
            (_, 0) => Ok(Document::Bytes(&[])),
            (true, _) => Err(invalid("document is NULL but len is not 0")),
            (false, _) if len > isize::MAX as usize => Err(invalid(format!(
                "len {len} is larger than any object can be"
            ))),
            // SAFETY: the caller passes `len` readable bytes at `document`.
            (false, _) => Ok(Document::Bytes(unsafe {
                std::slice::from_raw_parts(document, len)
            })),
        }
    })
}

/// `ocr_submit_file_ex` with NULL call options.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocr_submit_file(
    client: *const ocr_client,
    operation: *const c_char,
    path: *const c_char,
    settings_json: *const c_char,
    task_id_out: *mut *mut c_char,
) -> ocr_code {
    // SAFETY: the caller's pointers, passed on under the same contract.
    unsafe {
        ocr_submit_file_ex(
            client,
            operation,
            path,
            settings_json,
            std::ptr::null(),
            task_id_out,
        )
    }
}

/// Submits the file at `path` like `ocr_submit_ex` does with bytes. The file is read and
/// base64-encoded while the body is sent, with its exact `Content-Length`, so memory use does
/// not grow with its size; each attempt reads it from its start. An unreadable file (missing,
/// a folder, no permission) is `OCR_ERR_IO` with the OS reason; so is a file whose size changes
/// while it is sent (the upload is broken off before its end, never sent short). `path` must
/// not be NULL. On `OCR_OK`, `*task_id_out` receives the id, which the caller frees with
/// `ocr_string_free`. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocr_submit_file_ex(
    client: *const ocr_client,
    operation: *const c_char,
    path: *const c_char,
    settings_json: *const c_char,
    call: *const ocr_call_options,
    task_id_out: *mut *mut c_char,
) -> ocr_code {
    submit_with(client, operation, settings_json, call, task_id_out, || {
        Ok(Document::File(Path::new(required_str(path, "path")?)))
    })
}

/// The body of the submit functions, which differ only in where the document is.
fn submit_with<'a>(
    client: *const ocr_client,
    operation: *const c_char,
    settings_json: *const c_char,
    call: *const ocr_call_options,
    task_id_out: *mut *mut c_char,
    document: impl FnOnce() -> Result<Document<'a>>,
) -> ocr_code {
    guard_code(|| {
        out_param(task_id_out, "task_id_out")?;
        let client = client_arg(client)?;
        let op = operation_arg(operation)?;
        let call = call_arg(call)?;
        let document = document()?;
        let settings = optional_str(settings_json, "settings_json")?;
        let id = client.submit(op, document, settings, &call.call())?;
        write_out(task_id_out, give_string(id)?);
        Ok(())
    })
}

/// `ocr_cancel_task_ex` with NULL call options.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocr_cancel_task(
    client: *const ocr_client,
    operation: *const c_char,
    task_id: *const c_char,
) -> ocr_code {
    // SAFETY: the caller's pointers, passed on under the same contract.
    unsafe { ocr_cancel_task_ex(client, operation, task_id, std::ptr::null()) }
}

/// Removes a task from the service's queue (`DELETE /v5.0/ocr/<operation>?id=<task_id>`);
/// afterwards the task answers NotExist. `operation`: NULL means `RecognizePdf`. `call`: the
/// deadline and cancel token (NULL: none). Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocr_cancel_task_ex(
    client: *const ocr_client,
    operation: *const c_char,
    task_id: *const c_char,
    call: *const ocr_call_options,
) -> ocr_code {
    guard_code(|| {
        let (client, op, task_id) = task_args(client, operation, task_id)?;
        client.cancel_task(op, task_id, &call_arg(call)?.call())
    })
}

/// `ocr_get_task_status_ex` with NULL call options.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocr_get_task_status(
    client: *const ocr_client,
    operation: *const c_char,
    task_id: *const c_char,
    out: *mut ocr_task_status,
) -> ocr_code {
    // SAFETY: the caller's pointers, passed on under the same contract.
    unsafe { ocr_get_task_status_ex(client, operation, task_id, std::ptr::null(), out) }
}

/// Asks for a task's status with the cheap `GET /v5.0/ocr/Utilities/GetTaskStatus?id=` call,
/// which carries no result data. `operation` (NULL means `RecognizePdf`) only decides whether
/// a token is sent (not for the trial operations). On `OCR_OK`, `*out` receives the status
/// (`OCR_TASK_NOT_EXIST` for an unknown id). `call`: the deadline and cancel token (NULL:
/// none). Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocr_get_task_status_ex(
    client: *const ocr_client,
    operation: *const c_char,
    task_id: *const c_char,
    call: *const ocr_call_options,
    out: *mut ocr_task_status,
) -> ocr_code {
    guard_code(|| {
        out_param(out, "out")?;
        let (client, op, task_id) = task_args(client, operation, task_id)?;
        let answer = client.task_status(op, task_id, &call_arg(call)?.call())?;
        write_out(out, answer.status() as ocr_task_status);
        Ok(())
    })
}
