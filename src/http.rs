//! One HTTP exchange: a request out, an answer's head in, and the body read within limits.
//!
//! Every failure says whether the request certainly did not reach the server
//! ([`Error::unsent`]): nothing was connected or written, or the server refused it unprocessed
//! (429, 503). The retry policy ([`crate::retry`]) resends a submission only then.

use crate::call::{Call, cancelled};
use crate::cancel::Cancel;
use crate::error::{Code, Error, Result, invalid, protocol};
use crate::lean::{Lean, Malformed, Waits};
use crate::logging::{self, Level, log};
use crate::secrets;
use crate::settings::Settings;
use crate::upload::{Upload, UploadReader};
use crate::wire::{self, Source};
use crate::{early_answer, tls, transport};
use std::io::Read;
use std::sync::Mutex;
use std::sync::mpsc::RecvTimeoutError;
use std::time::{Duration, Instant, SystemTime};
use ureq::http::{self, HeaderValue, Method, Response, StatusCode, Uri, header};
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::NextTimeout;

/// How much of an error answer, a token answer or a task id answer is read.
const SMALL_BODY_LIMIT: u64 = 64 * 1024;
/// Bodies larger than this are sent after the server's `100 Continue`, so that a server that
/// refuses them (413, 401) says so before the upload instead of resetting it.
const EXPECT_CONTINUE_ABOVE: u64 = 1 << 20;
/// The longest `Retry-After` that is honoured; longer ones are shortened to this.
const LONGEST_RETRY_AFTER: Duration = Duration::from_secs(30);
/// How long resolved addresses are reused.
const RESOLVED_LIFETIME: Duration = Duration::from_secs(60);

/// What a request carries.
#[derive(Clone, Copy)]
pub enum Payload<'a> {
    Bytes(&'a [u8]),
    /// A document's body, read from its first byte for each exchange.
    Upload(&'a Upload<'a>),
}

/// The parts of a request that an exchange needs.
pub struct Request<'a> {
    pub method: Method,
    pub url: &'a str,
    pub body: Option<(Payload<'a>, &'static str)>,
    pub accept: &'static str,
    /// Whether sending it twice does no harm (GET, DELETE, a token request).
    pub idempotent: bool,
}

impl<'a> Request<'a> {
    /// A request without a body; GET and DELETE are idempotent, POST is not.
    pub fn new(method: Method, url: &'a str) -> Request<'a> {
        let idempotent = method != Method::POST;
        Request {
            method,
            url,
            body: None,
            accept: "application/json",
            idempotent,
        }
    }

    pub fn body(self, body: Payload<'a>, content_type: &'static str) -> Self {
        Request {
            body: Some((body, content_type)),
            ..self
        }
    }

    pub fn accept(self, accept: &'static str) -> Self {
        Request { accept, ..self }
    }

    pub fn idempotent(self) -> Self {
        Request {
            idempotent: true,
            ..self
        }
    }
}

/// Sends `request` with `bearer` as its token and the client's timeouts, each bounded by the
/// call's deadline, and answers the head of any answer (also non-success statuses).
pub fn exchange(
    agent: &ureq::Agent,
    lean: Option<&Lean>,
    request: &Request,
    bearer: Option<&str>,
    settings: &Settings,
    call: &Call,
) -> Result<Response<ureq::Body>> {
    // Requests that may be sent twice and carry at most a small body in memory (polls, a
    // DELETE, a token request) take the lean exchange.
    let small = match request.body {
        None => Some(&[][..]),
        Some((Payload::Bytes(body), _)) if body.len() as u64 <= EXPECT_CONTINUE_ABOVE => Some(body),
        Some(_) => None,
    };
    if let (Some(lean), Some(body), true) = (lean, small, request.idempotent) {
        return lean_exchange(lean, request, body, bearer, settings, call);
    }
    // Built in place rather than through `http::request::Builder`, which moves the whole
    // request on every step: a status poll is mostly this and the exchange itself.
    let mut head = http::Request::new(());
    // The URL and the user agent are checked where they are set: a failure here is a bug.
    let valid = HeaderValue::from_str(&settings.user_agent)
        .map_err(http::Error::from)
        .and_then(|agent| {
            head.headers_mut().insert(header::USER_AGENT, agent);
            *head.uri_mut() = Uri::try_from(request.url)?;
            Ok(())
        });
    *head.method_mut() = request.method.clone();
    let headers = head.headers_mut();
    headers.insert(header::ACCEPT, HeaderValue::from_static(request.accept));
    if let Some(bearer) = bearer {
        // Sent on every request: built without the formatting machinery, and marked sensitive.
        let mut value = Vec::with_capacity("Bearer ".len() + bearer.len());
        value.extend_from_slice(b"Bearer ");
        value.extend_from_slice(bearer.as_bytes());
        let mut value = HeaderValue::try_from(value).map_err(|_| unsendable_token())?;
        value.set_sensitive(true);
        headers.insert(header::AUTHORIZATION, value);
    }
    if let Some((_, content_type)) = request.body {
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    }
    // A document's body is read from its start for each exchange; a file measured now.
    let mut upload = match request.body {
        Some((Payload::Upload(upload), _)) => Some(upload.reader(call).map_err(Error::unsent)?),
        _ => None,
    };
    let length = match (request.body, &upload) {
        (_, Some(reader)) => Some(reader.length()),
        (Some((Payload::Bytes(body), _)), None) => Some(body.len() as u64),
        _ => None,
    };
    if length.is_some_and(|length| length > EXPECT_CONTINUE_ABOVE) {
        headers.insert(header::EXPECT, HeaderValue::from_static("100-continue"));
    }
    if let (Some(length), Some(_)) = (length, &upload) {
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    }
    let head = valid.map(|()| head);
    // Timed only for the debug line: a status poll is a few system calls.
    let started = logging::enabled(Level::Debug).then(Instant::now);
    let written_before = transport::bytes_written();
    early_answer::take();
    // A request without a body carries no Content-Length (RFC 9110, section 8.6).
    let outcome = match (request.body, upload.as_mut()) {
        (_, Some(reader)) => {
            let body = ureq::SendBody::from_reader(reader);
            run(
                agent,
                head.map(|head| head.map(|()| body)),
                request.url,
                settings,
                call,
            )
        }
        (Some((Payload::Bytes(body), _)), None) => run(
            agent,
            head.map(|head| head.map(|()| body)),
            request.url,
            settings,
            call,
        ),
        _ => run(agent, head, request.url, settings, call),
    };
    // The reader's own failure (the file, the deadline, a cancel) says more than the
    // transport's report of it.
    let unreadable = upload.as_mut().and_then(UploadReader::take_failure);
    // A server that answered while the body was being sent (a 413 part way through it) and
    // closed the connection: its answer, not the broken pipe, is the outcome.
    let outcome = match (outcome, early_answer::take()) {
        (Err(e), Some(early)) if unreadable.is_none() => parse_early_answer(&early).ok_or(e),
        (outcome, _) => outcome,
    };
    concluded(request, outcome, unreadable, written_before, started, call)
}

/// A request through the lean exchange ([`crate::lean`]), with the same header lines,
/// timeouts and outcome as through the agent.
fn lean_exchange(
    lean: &Lean,
    request: &Request,
    body: &[u8],
    bearer: Option<&str>,
    settings: &Settings,
    call: &Call,
) -> Result<Response<ureq::Body>> {
    let mut headers = Vec::with_capacity(128 + bearer.map_or(0, str::len));
    headers.extend_from_slice(b"User-Agent: ");
    headers.extend_from_slice(settings.user_agent.as_bytes());
    headers.extend_from_slice(b"\r\nAccept: ");
    headers.extend_from_slice(request.accept.as_bytes());
    headers.extend_from_slice(b"\r\n");
    if let Some(bearer) = bearer {
        // What a header value may hold (as `HeaderValue` checks it on the agent's path).
        if !bearer
            .bytes()
            .all(|b| b == b'\t' || (b >= b' ' && b != 0x7f))
        {
            return Err(unsendable_token());
        }
        headers.extend_from_slice(b"Authorization: Bearer ");
        headers.extend_from_slice(bearer.as_bytes());
        headers.extend_from_slice(b"\r\n");
    }
    // A request without a body carries no Content-Length (RFC 9110, section 8.6).
    if let Some((_, content_type)) = request.body {
        headers.extend_from_slice(b"Content-Type: ");
        headers.extend_from_slice(content_type.as_bytes());
        headers.extend_from_slice(b"\r\nContent-Length: ");
        headers.extend_from_slice(body.len().to_string().as_bytes());
        headers.extend_from_slice(b"\r\n");
    }
    let started = logging::enabled(Level::Debug).then(Instant::now);
    let written_before = transport::bytes_written();
    early_answer::take();
    let outcome = lean.send(
        request.method.as_str(),
        request.url,
        &headers,
        body,
        Waits {
            connect: call.bounded(settings.connect_timeout),
            per_io: call.bounded(settings.read_timeout),
            whole: call.bounded(settings.request_timeout),
        },
    );
    let outcome = match (outcome, early_answer::take()) {
        (Err(e), Some(early)) => parse_early_answer(&early).ok_or(e),
        (outcome, _) => outcome,
    };
    concluded(request, outcome, None, written_before, started, call)
}

fn unsendable_token() -> Error {
    Error::new(
        Code::InvalidArgument,
        "the token cannot be sent in a header",
    )
    .unsent()
}

/// The outcome of an exchange as the caller sees it: a failure in our words, saying whether
/// the request certainly did not leave; logged at debug level.
fn concluded(
    request: &Request,
    outcome: std::result::Result<Response<ureq::Body>, ureq::Error>,
    unreadable: Option<Error>,
    written_before: u64,
    started: Option<Instant>,
    call: &Call,
) -> Result<Response<ureq::Body>> {
    let outcome = outcome.map_err(|e| {
        let unsent = transport::bytes_written() == written_before
            || matches!(
                &e,
                ureq::Error::ConnectionFailed | ureq::Error::HostNotFound
            );
        let what = format!("{} {}", request.method, request.url);
        let error = unreadable.unwrap_or_else(|| transport_error(e, &what, request.url, call));
        if unsent {
            error.unsent()
        } else {
            error.delivered()
        }
    });
    log(Level::Debug, || {
        let took = started.map_or(0.0, |started| started.elapsed().as_secs_f64() * 1000.0);
        match &outcome {
            Ok(response) => format!(
                "{} {} -> HTTP {} ({took:.1} ms to the headers)",
                request.method,
                request.url,
                response.status().as_u16()
            ),
            Err(error) => format!("{} ({took:.1} ms)", error.message()),
        }
    });
    outcome
}

/// Runs one built request with the client's timeouts, each bounded by the call's deadline.
fn run<B: ureq::AsSendBody>(
    agent: &ureq::Agent,
    request: http::Result<http::Request<B>>,
    url: &str,
    settings: &Settings,
    call: &Call,
) -> std::result::Result<Response<ureq::Body>, ureq::Error> {
    let request = request
        .map_err(|e| ureq::Error::BadUri(format!("cannot build a request for {url}: {e}")))?;
    let connect = Some(call.bounded(settings.connect_timeout));
    let read = Some(call.bounded(settings.read_timeout));
    let global = Some(call.bounded(settings.request_timeout));
    // A request-level configuration copies the agent's whole configuration: made only when the
    // timeouts differ from the agent's own (a deadline shortens them, or the settings changed).
    let config = agent.config();
    let timeouts = config.timeouts();
    if timeouts.connect == connect
        && timeouts.resolve == connect
        && config.timeout_per_read() == read
        && config.timeout_per_write() == read
        && timeouts.global == global
    {
        return agent.run(request);
    }
    let request = agent
        .configure_request(request)
        .timeout_connect(connect)
        .timeout_resolve(connect)
        .timeout_per_read(read)
        .timeout_per_write(read)
        .timeout_global(global)
        .build();
    agent.run(request)
}

/// The answer a server sent while the request's body was being sent (the bytes from its status
/// line on, its body possibly cut short), as a response; `None` if it holds no whole HTTP head
/// with a final status. Interim (1xx) heads before it are skipped: a `100 Continue` that came
/// after the client stopped waiting for it, a `103 Early Hints`. A chunked body is decoded.
fn parse_early_answer(mut bytes: &[u8]) -> Option<Response<ureq::Body>> {
    loop {
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut head = httparse::Response::new(&mut headers);
        let httparse::Status::Complete(length) = head.parse(bytes).ok()? else {
            return None;
        };
        let status = head.code?;
        if status < 200 {
            bytes = &bytes[length..];
            continue;
        }
        let mut response = Response::builder().status(status);
        let mut chunked = false;
        for header in head.headers.iter() {
            if header.name.eq_ignore_ascii_case("transfer-encoding") {
                chunked = String::from_utf8_lossy(header.value)
                    .to_ascii_lowercase()
                    .contains("chunked");
                continue;
            }
            response = response.header(header.name, header.value);
        }
        let body = &bytes[length..];
        let body = if chunked {
            dechunked(body)
        } else {
            let declared = response
                .headers_ref()?
                .get(header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok()?.parse::<usize>().ok());
            body[..declared.unwrap_or(body.len()).min(body.len())].to_vec()
        };
        return response.body(ureq::Body::builder().data(body)).ok();
    }
}

/// The data of a chunked body, as far as it arrived whole.
fn dechunked(mut body: &[u8]) -> Vec<u8> {
    let mut data = Vec::new();
    while let Ok(httparse::Status::Complete((start, size))) = httparse::parse_chunk_size(body) {
        let Some(chunk) = usize::try_from(size)
            .ok()
            .and_then(|size| body.get(start..start.checked_add(size)?))
        else {
            break;
        };
        if chunk.is_empty() {
            break;
        }
        data.extend_from_slice(chunk);
        body = body.get(start + chunk.len() + 2..).unwrap_or_default();
    }
    data
}

/// The body of an answer as the parser reads it: counted, limited and cancellable.
pub struct HttpSource<'a> {
    body: ureq::BodyReader<'static>,
    received: u64,
    expected: Option<u64>,
    limit: u64,
    call: &'a Call<'a>,
    url: &'a str,
}

impl<'a> HttpSource<'a> {
    /// The body of `response`, refused up front if its length is over `limit`.
    pub fn new(
        response: Response<ureq::Body>,
        limit: u64,
        call: &'a Call<'a>,
        url: &'a str,
    ) -> Result<HttpSource<'a>> {
        let expected = content_length(&response);
        if let Some(length) = expected.filter(|&length| length > limit) {
            return Err(too_large(url, length, limit));
        }
        Ok(HttpSource {
            body: response.into_body().into_reader(),
            received: 0,
            expected,
            limit,
            call,
            url,
        })
    }
}

impl Source for HttpSource<'_> {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize> {
        self.call.check()?;
        let n = self.body.read(buf).map_err(|e| {
            let what = format!(
                "reading the answer after {} of {} bytes",
                self.received,
                self.expected.map_or("?".to_string(), |n| n.to_string())
            );
            transport_error(ureq::Error::from(e), &what, self.url, self.call)
        })?;
        self.received += n as u64;
        if self.received > self.limit {
            return Err(too_large(self.url, self.received, self.limit));
        }
        Ok(n)
    }

    fn remaining(&self) -> Option<u64> {
        self.expected.map(|n| n.saturating_sub(self.received))
    }
}

fn too_large(url: &str, length: u64, limit: u64) -> Error {
    Error::new(
        Code::TooLarge,
        format!(
            "GET {url}: the answer has {length} bytes or more, over the client's limit of {limit} bytes \
             (ocr_client_set_max_response_bytes)"
        ),
    )
}

/// A response header as text; `""` when absent or not text.
pub fn header_text(response: &Response<ureq::Body>, name: header::HeaderName) -> &str {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

fn content_length(response: &Response<ureq::Body>) -> Option<u64> {
    header_text(response, header::CONTENT_LENGTH).parse().ok()
}

/// Reads a small answer (a task id, a token, an error) as text, at most [`SMALL_BODY_LIMIT`].
pub fn read_small_body(response: Response<ureq::Body>, url: &str, call: &Call) -> Result<String> {
    check_no_encoding(&response, url)?;
    let mut body = Vec::new();
    response
        .into_body()
        .into_reader()
        .take(SMALL_BODY_LIMIT + 1)
        .read_to_end(&mut body)
        .map_err(|e| {
            let what = format!("reading the answer of {url}");
            transport_error(ureq::Error::from(e), &what, url, call).delivered()
        })?;
    if body.len() as u64 > SMALL_BODY_LIMIT {
        return Err(protocol(format!(
            "{url} answered more than {SMALL_BODY_LIMIT} bytes where a short answer was expected"
        )));
    }
    String::from_utf8(body).map_err(|_| protocol(format!("the answer of {url} is not UTF-8 text")))
}

/// Refuses an answer in a content encoding (gzip, br, ...): the client asks for none and reads
/// none, so such a body must not be taken for JSON or text.
pub fn check_no_encoding(response: &Response<ureq::Body>, url: &str) -> Result<()> {
    let encoding = header_text(response, header::CONTENT_ENCODING);
    let encoding = encoding.trim();
    if encoding.is_empty() || encoding.eq_ignore_ascii_case("identity") {
        return Ok(());
    }
    Err(protocol(format!(
        "{url} answered with Content-Encoding \"{}\", which this client did not ask for and \
         cannot read",
        encoding.escape_default()
    )))
}

/// The error for a non-success status, with the server's explanation (cleaned of secrets
/// before it is shortened) and its `Retry-After`. 429 and 503 mean the server did not act on
/// the request (and 413, which is not retried); 502 and 504 are transient only for idempotent requests, since a gateway may have
/// passed the request on.
pub fn status_error(request: &Request, response: Response<ureq::Body>, call: &Call) -> Error {
    let (method, url) = (request.method.as_str(), request.url);
    let status = response.status();
    let retry_after = parse_retry_after(header_text(&response, header::RETRY_AFTER));
    let location = header_text(&response, header::LOCATION).to_string();
    let detail = read_small_body(response, url, call)
        .map(|body| wire::problem_text(secrets::redact(&body).as_bytes()))
        .unwrap_or_default();
    let mut message = format!(
        "{method} {url} answered HTTP {} {}",
        status.as_u16(),
        status.canonical_reason().unwrap_or("")
    );
    if status.is_redirection() {
        message += &format!(
            " (a redirect to \"{}\", which is not followed)",
            secrets::redact(&location)
        );
    }
    if !detail.is_empty() {
        message += &format!(": {detail}");
    }
    let code = match status.as_u16() {
        401 | 403 => Code::Unauthorized,
        413 => Code::TooLarge,
        _ => Code::Http,
    };
    let refused_unprocessed = matches!(
        status,
        StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE
    );
    let retryable = refused_unprocessed
        || (request.idempotent
            && matches!(
                status,
                StatusCode::BAD_GATEWAY | StatusCode::GATEWAY_TIMEOUT
            ));
    let mut error = Error::new(code, message);
    error.transient = retryable;
    // A body refused for its size made no task either (also when refused part way through).
    error.unsent = refused_unprocessed || status == StatusCode::PAYLOAD_TOO_LARGE;
    // A 303 See Other answers a request that was processed.
    error.delivered =
        (status.is_server_error() && !refused_unprocessed) || status == StatusCode::SEE_OTHER;
    error.retry_after = retry_after.filter(|_| retryable);
    error.status = Some(status.as_u16());
    error
}

/// `Retry-After` as seconds or an HTTP date, at most [`LONGEST_RETRY_AFTER`].
pub fn parse_retry_after(text: &str) -> Option<Duration> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    // A number of seconds too large for u64 is far in the future, like a far-future date.
    let wait = match text.parse::<u64>() {
        Ok(seconds) => Duration::from_secs(seconds),
        Err(_) if text.bytes().all(|b| b.is_ascii_digit()) => LONGEST_RETRY_AFTER,
        Err(_) => httpdate::parse_http_date(text)
            .ok()?
            .duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    };
    Some(wait.min(LONGEST_RETRY_AFTER))
}

/// Turns a ureq failure of a request to `url` into our error, saying what was being done.
pub fn transport_error(error: ureq::Error, what: &str, url: &str, call: &Call) -> Error {
    use std::io::ErrorKind;
    if call.cancelled() {
        return cancelled();
    }
    let deadline_passed = call.deadline_passed();
    match error {
        ureq::Error::Timeout(kind) => {
            let reason = if deadline_passed {
                "the deadline passed".to_string()
            } else {
                format!("timed out ({kind})")
            };
            Error::new(Code::Timeout, format!("{what}: {reason}"))
        }
        ureq::Error::Io(e) if matches!(e.kind(), ErrorKind::TimedOut | ErrorKind::WouldBlock) => {
            Error::new(Code::Timeout, format!("{what}: timed out ({e})"))
        }
        ureq::Error::Io(e) if e.kind() == ErrorKind::ConnectionRefused => Error::transient(
            Code::Network,
            format!("{what}: could not connect (connection refused)"),
        ),
        ureq::Error::ConnectionFailed => {
            Error::transient(Code::Network, format!("{what}: could not connect"))
        }
        ureq::Error::Io(e) if e.kind() == ErrorKind::UnexpectedEof => Error::transient(
            Code::Network,
            format!("{what}: the server closed the connection before the answer was complete"),
        ),
        ureq::Error::Io(e) if e.get_ref().is_some_and(|e| e.is::<Malformed>()) => Error::new(
            Code::Protocol,
            format!("{what}: malformed HTTP answer ({e})"),
        ),
        // A TLS alert or a certificate the verifier refused: sending again cannot help.
        ureq::Error::Io(e) if e.kind() == ErrorKind::InvalidData => tls::tls_failure(&e, url)
            .unwrap_or_else(|| Error::new(Code::Network, format!("{what}: {e}"))),
        ureq::Error::Io(e) => Error::transient(Code::Network, format!("{what}: {e}")),
        ureq::Error::HostNotFound => Error::new(
            Code::Network,
            format!("{what}: the host name could not be resolved"),
        ),
        ureq::Error::BodyExceedsLimit(limit) => Error::new(
            Code::TooLarge,
            format!("{what}: the answer exceeds {limit} bytes"),
        ),
        ureq::Error::Protocol(e) => Error::new(
            Code::Protocol,
            format!("{what}: malformed HTTP answer ({e})"),
        ),
        ureq::Error::LargeResponseHeader(..) => Error::new(
            Code::Protocol,
            format!("{what}: the answer's headers are too large"),
        ),
        ureq::Error::BadUri(e) => invalid(format!("{what}: bad URL ({e})")),
        ureq::Error::Http(e) => invalid(format!("{what}: cannot build the request ({e})")),
        ureq::Error::ConnectProxyFailed(reason) => {
            // A proxy that is busy or cannot reach the service may do better later; one that
            // refuses the credentials (407) or the target will not.
            let passing = ["502", "503", "504", "did not respond"]
                .iter()
                .any(|sign| reason.contains(sign));
            let message = format!("{what}: the proxy refused the tunnel ({reason})");
            if passing {
                Error::transient(Code::Network, message)
            } else {
                Error::new(Code::Network, message)
            }
        }
        e @ (ureq::Error::Tls(_) | ureq::Error::Rustls(_) | ureq::Error::Pem(_)) => {
            Error::new(Code::Tls, format!("{what}: TLS failed ({e})"))
        }
        e => Error::new(Code::Network, format!("{what}: {e}")),
    }
}

/// Remembers resolved addresses for a minute. ureq resolves the host before it looks for a
/// pooled connection, and with a timeout it resolves on a new thread, so without the cache every
/// request over a keep-alive connection would start a thread and look the host up again.
#[derive(Debug, Default)]
pub struct CachingResolver {
    resolver: DefaultResolver,
    cache: Mutex<Vec<(String, Instant, ResolvedSocketAddrs)>>,
}

impl Resolver for CachingResolver {
    fn resolve(
        &self,
        uri: &Uri,
        config: &ureq::config::Config,
        timeout: NextTimeout,
    ) -> std::result::Result<ResolvedSocketAddrs, ureq::Error> {
        let scheme = uri.scheme_str().unwrap_or("");
        let authority = uri.authority().map_or("", |a| a.as_str());
        // Looked up on every request: no allocation, one clock reading.
        let is_key = |key: &str| {
            key.strip_prefix(scheme)
                .and_then(|rest| rest.strip_prefix("://"))
                == Some(authority)
        };
        let now = Instant::now();
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        cache.retain(|(_, at, _)| now.saturating_duration_since(*at) < RESOLVED_LIFETIME);
        if let Some((_, _, addresses)) = cache.iter().find(|(key, _, _)| is_key(key)) {
            return Ok(addresses.clone());
        }
        drop(cache);
        let key = format!("{scheme}://{authority}");
        let addresses = match transport::watched() {
            Some(cancel)
                if uri
                    .host()
                    .is_some_and(|h| h.parse::<std::net::IpAddr>().is_err()) =>
            {
                resolve_cancellable(uri, config, timeout, &cancel)?
            }
            _ => self.resolver.resolve(uri, config, timeout)?,
        };
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        cache.push((key, Instant::now(), addresses.clone()));
        Ok(addresses)
    }
}

/// Looks a host name up on a thread of its own while this thread waits in slices, so that a
/// cancel ends the wait for a slow name server; the lookup itself finishes on its own.
fn resolve_cancellable(
    uri: &Uri,
    config: &ureq::config::Config,
    timeout: NextTimeout,
    cancel: &Cancel,
) -> std::result::Result<ResolvedSocketAddrs, ureq::Error> {
    let (uri, config) = (uri.clone(), config.clone());
    let (done, outcome) = std::sync::mpsc::sync_channel(1);
    std::thread::spawn(move || {
        crate::panics::library_thread();
        let _ = done.send(DefaultResolver::default().resolve(&uri, &config, timeout));
    });
    loop {
        match outcome.recv_timeout(transport::CANCEL_CHECK) {
            Ok(addresses) => return addresses,
            Err(RecvTimeoutError::Timeout) if !cancel.is_triggered() => {}
            Err(RecvTimeoutError::Timeout) => {
                return Err(ureq::Error::Io(std::io::Error::other(
                    "cancelled by the caller",
                )));
            }
            Err(RecvTimeoutError::Disconnected) => return Err(ureq::Error::HostNotFound),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::SystemTime;

    #[test]
    fn reads_an_answer_that_arrived_while_the_body_was_sent() {
        let answer = b"HTTP/1.1 413 Payload Too Large\r\nContent-Length: 4\r\n\r\nbig!extra";
        let response = parse_early_answer(answer).unwrap();
        assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
        let body = response.into_body().read_to_string().unwrap();
        assert_eq!(body, "big!");
        let late = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: <a>\r\n\r\n\
                     HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n\"t\"\r\n2\r\na";
        let response = parse_early_answer(late).unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.into_body().read_to_string().unwrap(), "\"t\"");
        for not_one in [
            &b"HTTP/1.1 413 Payload Too Large\r\nContent-Len"[..],
            b"HTTP/1.1 100 Continue\r\n\r\n",
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 413 Pay",
            b"HTTP/1.1 abc\r\n\r\n",
        ] {
            assert!(parse_early_answer(not_one).is_none());
        }
    }

    #[test]
    fn reads_retry_after_in_seconds_or_as_a_date() {
        assert_eq!(parse_retry_after("2"), Some(Duration::from_secs(2)));
        assert_eq!(parse_retry_after("100000"), Some(LONGEST_RETRY_AFTER));
        assert_eq!(
            parse_retry_after("99999999999999999999999"),
            Some(LONGEST_RETRY_AFTER)
        );
        let soon = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(5));
        let wait = parse_retry_after(&soon).unwrap();
        assert!(
            wait > Duration::from_secs(3) && wait <= Duration::from_secs(5),
            "{wait:?}"
        );
        let past = httpdate::fmt_http_date(SystemTime::now() - Duration::from_secs(5));
        assert_eq!(parse_retry_after(&past), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon"), None);
        assert_eq!(parse_retry_after(""), None);
    }
}
