//! HTTP: one keep-alive agent, URL building, tokens, retries, and the calls of the task API.

use crate::auth::{Auth, Bearer, check_header_safe};
use crate::cancel::Cancel;
use crate::error::{Code, Error, Result, invalid, protocol};
use crate::files::{FileSink, persist_results};
use crate::logging::{Level, log};
use crate::operations::{Document, Operation};
use crate::transport::{self, TcpConnector};
use crate::wire::{self, Answer, DiscardSink, MemorySink, Sink, Source, TokenAnswer};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};
use ureq::http::{self, HeaderValue, Method, Response, StatusCode, Uri, header};
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::{
    ConnectProxyConnector, Connector, NextTimeout, RustlsConnector,
};

/// The real service.
pub const DEFAULT_BASE_URL: &str = "https://api.aspose.cloud";
/// Characters left as they are in a query value (RFC 3986 unreserved).
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');
/// How much of an error answer, a token answer or a task id answer is read.
const SMALL_BODY_LIMIT: u64 = 64 * 1024;
/// Bodies larger than this are sent after the server's `100 Continue`, so that a server that
/// refuses them (413, 401) says so before the upload instead of resetting it.
const EXPECT_CONTINUE_ABOVE: usize = 1 << 20;
/// The longest `Retry-After` that is honoured; longer ones are shortened to this.
const LONGEST_RETRY_AFTER: Duration = Duration::from_secs(30);
/// The first wait between retries; it doubles with each retry.
const FIRST_RETRY_WAIT: Duration = Duration::from_millis(250);
/// The longest wait between retries without a `Retry-After`.
const LONGEST_RETRY_WAIT: Duration = Duration::from_secs(8);

/// What a client can be tuned with. Changes apply to calls that start afterwards.
#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    /// Limit for connecting (DNS, TCP, TLS). Default 10 s.
    pub connect_timeout: Duration,
    /// Limit for each wait for bytes from the server. Default 30 s.
    pub read_timeout: Duration,
    /// Limit for one whole request, body included. Default 300 s.
    pub request_timeout: Duration,
    /// The `User-Agent` header. Default `ocrcloud/<version>`.
    pub user_agent: Arc<str>,
    /// The largest answer accepted, in bytes. Default 1 GiB.
    pub max_response_bytes: u64,
    /// Send to plain `http://` hosts other than loopback. Default false.
    pub allow_insecure_http: bool,
    /// Requests per call when transient failures repeat (1 = no retries). Default 3.
    pub max_attempts: u32,
    /// Connections `poll_many` uses at most. Default 4.
    pub max_connections: u32,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(30),
            request_timeout: Duration::from_secs(300),
            user_agent: Arc::from(concat!("ocrcloud/", env!("CARGO_PKG_VERSION"))),
            max_response_bytes: 1 << 30,
            allow_insecure_http: false,
            max_attempts: 3,
            max_connections: 4,
        }
    }
}

/// The limits of one call: a deadline, a cancel switch, and how many requests it may send.
#[derive(Clone, Copy, Default)]
pub struct Call<'a> {
    /// When the whole call must end.
    pub deadline: Option<Instant>,
    /// Ends the call early when triggered.
    pub cancel: Option<&'a Arc<Cancel>>,
    /// Requests the call may send when failures are transient; `None`: the client's setting.
    pub attempts: Option<u32>,
}

impl Call<'_> {
    /// Whether the call's cancel switch was triggered.
    pub fn cancelled(&self) -> bool {
        self.cancel.is_some_and(|cancel| cancel.is_triggered())
    }

    /// Fails if the call was cancelled or its deadline passed.
    pub fn check(&self) -> Result<()> {
        if self.cancelled() {
            return Err(cancelled());
        }
        if self.deadline.is_some_and(|d| Instant::now() >= d) {
            return Err(Error::new(Code::Timeout, "the deadline passed"));
        }
        Ok(())
    }

    /// Time left before the deadline.
    pub fn remaining(&self) -> Option<Duration> {
        self.deadline
            .map(|d| d.saturating_duration_since(Instant::now()))
    }

    /// Waits `wait`; ends early with `Cancelled`. Fails with `after` if the wait would pass the
    /// deadline (nothing could be sent after it).
    pub fn sleep(&self, wait: Duration, after: impl FnOnce() -> Error) -> Result<()> {
        if self.remaining().is_some_and(|left| left <= wait) {
            return Err(after());
        }
        let cancelled = match self.cancel {
            Some(cancel) => cancel.sleep(wait),
            None => {
                std::thread::sleep(wait);
                false
            }
        };
        if cancelled {
            return Err(self::cancelled());
        }
        Ok(())
    }
}

/// A connection to the service: base URL, credentials, settings and a keep-alive agent.
///
/// Safe to share between threads; every method may be called from many threads at once.
pub struct Client {
    agent: ureq::Agent,
    base_url: String,
    insecure: bool,
    auth: Auth,
    settings: Mutex<Settings>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A client for `base_url` (`None`: the real service) that authenticates with `auth`.
    pub fn new(base_url: Option<&str>, auth: Auth) -> Result<Client> {
        let (base_url, insecure) = parse_base_url(base_url.unwrap_or(DEFAULT_BASE_URL))?;
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .max_idle_connections(64)
            .max_idle_connections_per_host(32)
            .input_buffer_size(256 * 1024)
            .build();
        let connector =
            ().chain(ConnectProxyConnector::default())
                .chain(TcpConnector)
                .chain(RustlsConnector::default());
        let agent = ureq::Agent::with_parts(config, connector, CachingResolver::default());
        Ok(Client {
            agent,
            base_url,
            insecure,
            auth,
            settings: Mutex::new(Settings::default()),
        })
    }

    /// The base URL without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// A copy of the current settings.
    pub fn settings(&self) -> Settings {
        self.settings
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Changes the settings for calls that start afterwards.
    pub fn update_settings(&self, change: impl FnOnce(&mut Settings)) {
        change(&mut self.settings.lock().unwrap_or_else(|e| e.into_inner()));
    }

    /// Fetches the current answer for a task once (with retries of transient failures).
    pub fn fetch(&self, op: Operation, task_id: &str, call: &Call) -> Result<Answer<Vec<u8>>> {
        self.fetch_into(op, task_id, &mut MemorySink::default(), call)
    }

    /// Fetches the current answer for a task, decoding result data into `sink`.
    pub fn fetch_into<K: Sink>(
        &self,
        op: Operation,
        task_id: &str,
        sink: &mut K,
        call: &Call,
    ) -> Result<Answer<K::Data>> {
        check_header_safe("the task id", task_id)?;
        let url = self.task_url(op.name(), Some(task_id));
        self.redacted(self.retrying(call, || self.get_answer(&url, !op.is_trial(), sink, call)))
    }

    /// Fetches the current answer for a task, writing each result to a file in `dir` while the
    /// answer arrives (see [`crate::files::result_file_name`]); memory use does not grow with
    /// the results' size, and every file appears whole once the answer has been read.
    pub fn fetch_to_dir(
        &self,
        op: Operation,
        task_id: &str,
        dir: &Path,
        call: &Call,
    ) -> Result<Answer<PathBuf>> {
        let mut sink = FileSink::new(dir)?;
        let answer = self.fetch_into(op, task_id, &mut sink, call)?;
        persist_results(answer, dir)
    }

    /// Asks the cheap `Utilities/GetTaskStatus` call for a task's status (answers carry no data).
    pub fn task_status(&self, op: Operation, task_id: &str, call: &Call) -> Result<Answer<()>> {
        check_header_safe("the task id", task_id)?;
        let url = self.task_url("Utilities/GetTaskStatus", Some(task_id));
        let mut sink = DiscardSink::default();
        self.redacted(self.retrying(call, || {
            self.get_answer(&url, !op.is_trial(), &mut sink, call)
        }))
    }

    /// Submits a document (or text, for text to speech) and answers the new task's id.
    ///
    /// Only failures that certainly happened before the server took the request are retried
    /// (refused connections, 429, 503), so a task is never submitted twice.
    pub fn submit(
        &self,
        op: Operation,
        document: Document,
        settings: Option<&str>,
        call: &Call,
    ) -> Result<String> {
        let body = op.body(document, settings)?;
        let url = self.task_url(op.name(), None);
        self.redacted(self.retrying(call, || {
            let response = self.send(
                Request::new(Method::POST, &url)
                    .body(&body, "application/json")
                    .accept("text/plain, application/json")
                    .token(!op.is_trial()),
                call,
            )?;
            let text = read_small_body(response, &url)?;
            task_id_from(&text, &url)
        }))
    }

    /// Removes a task from the service's queue (`DELETE`).
    pub fn cancel_task(&self, op: Operation, task_id: &str, call: &Call) -> Result<()> {
        check_header_safe("the task id", task_id)?;
        let url = self.task_url(op.name(), Some(task_id));
        self.redacted(self.retrying(call, || {
            let response = self.send(
                Request::new(Method::DELETE, &url).token(!op.is_trial()),
                call,
            )?;
            read_small_body(response, &url).map(drop)
        }))
    }

    /// One GET of an OCR response, streamed into `sink`.
    fn get_answer<K: Sink>(
        &self,
        url: &str,
        with_token: bool,
        sink: &mut K,
        call: &Call,
    ) -> Result<Answer<K::Data>> {
        let response = self.send(
            Request::new(Method::GET, url)
                .accept("application/json")
                .token(with_token)
                .idempotent(),
            call,
        )?;
        check_no_encoding(&response, url)?;
        let content_type = header_text(&response, header::CONTENT_TYPE);
        let limit = self.settings().max_response_bytes;
        let expected = content_length(&response);
        if let Some(length) = expected.filter(|&length| length > limit) {
            return Err(too_large(url, length, limit));
        }
        let source = HttpSource {
            body: response.into_body().into_reader(),
            received: 0,
            expected,
            limit,
            call,
            url,
        };
        wire::read_answer(source, sink).map_err(|e| {
            let not_json = !content_type.to_ascii_lowercase().contains("json");
            e.map_message(|m| {
                if not_json && !content_type.is_empty() {
                    format!("GET {url}: {m} (Content-Type: {content_type})")
                } else {
                    format!("GET {url}: {m}")
                }
            })
        })
    }

    /// Sends `request`, with a token if it wants one and a single retry with a fresh token after
    /// 401/403. Answers only successful (2xx) responses; every other status becomes an error.
    fn send(&self, request: Request, call: &Call) -> Result<Response<ureq::Body>> {
        let settings = self.settings();
        if self.insecure && !settings.allow_insecure_http {
            return Err(invalid(format!(
                "refusing to send a request over plain http to {}: only loopback hosts may use \
                 http unless insecure http is allowed explicitly (ocr_client_set_allow_insecure_http)",
                self.base_url
            )));
        }
        let mut refreshed = false;
        loop {
            call.check()?;
            let bearer = if request.token {
                self.auth
                    .bearer(|id, secret| self.fetch_token(id, secret, call))?
            } else {
                None
            };
            let response = self.exchange(&request, bearer.as_ref(), &settings, call)?;
            let status = response.status();
            if status.is_success() {
                return Ok(response);
            }
            let unauthorized = matches!(status.as_u16(), 401 | 403);
            if let Some(bearer) = &bearer
                && unauthorized
                && !refreshed
                && self.auth.refused(bearer)
            {
                refreshed = true;
                drop(response);
                log(Level::Info, || {
                    format!(
                        "{} {} answered HTTP {}; fetching a new token and trying once more",
                        request.method, request.url, status
                    )
                });
                continue;
            }
            return Err(status_error(
                request.method.as_str(),
                request.url,
                response,
                request.idempotent,
            ));
        }
    }

    /// One HTTP exchange with the client's timeouts, bounded by the call's deadline.
    fn exchange(
        &self,
        request: &Request,
        bearer: Option<&Bearer>,
        settings: &Settings,
        call: &Call,
    ) -> Result<Response<ureq::Body>> {
        let bounded = |limit: Duration| match call.remaining() {
            Some(left) => limit.min(left),
            None => limit,
        };
        let mut builder = http::Request::builder()
            .method(request.method.clone())
            .uri(request.url)
            .header(header::USER_AGENT, &*settings.user_agent)
            .header(header::ACCEPT, HeaderValue::from_static(request.accept));
        if let Some(bearer) = bearer {
            builder = builder.header(header::AUTHORIZATION, format!("Bearer {}", bearer.value));
        }
        if let Some((_, content_type)) = request.body {
            builder = builder.header(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        }
        let body: &[u8] = request.body.map_or(&[], |(body, _)| body);
        if body.len() > EXPECT_CONTINUE_ABOVE {
            builder = builder.header(header::EXPECT, HeaderValue::from_static("100-continue"));
        }
        let http_request = builder
            .body(body)
            .map_err(|e| invalid(format!("cannot build a request for {}: {e}", request.url)))?;
        let http_request = self
            .agent
            .configure_request(http_request)
            .timeout_connect(Some(bounded(settings.connect_timeout)))
            .timeout_resolve(Some(bounded(settings.connect_timeout)))
            .timeout_per_read(Some(bounded(settings.read_timeout)))
            .timeout_per_write(Some(bounded(settings.read_timeout)))
            .timeout_global(Some(bounded(settings.request_timeout)))
            .build();
        let started = Instant::now();
        let outcome = self.agent.run(http_request).map_err(|e| {
            let unsent = matches!(&e, ureq::Error::ConnectionFailed)
                || matches!(&e, ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused);
            let mut error = transport_error(e, &format!("{} {}", request.method, request.url), call);
            error.transient &= request.idempotent || unsent;
            error
        });
        log(Level::Debug, || {
            let took = started.elapsed().as_secs_f64() * 1000.0;
            match &outcome {
                Ok(response) => format!(
                    "{} {} -> HTTP {} ({took:.1} ms to the headers)",
                    request.method,
                    request.url,
                    response.status().as_u16()
                ),
                Err(error) => format!(
                    "{} ({took:.1} ms)",
                    self.redact(error.message().to_string())
                ),
            }
        });
        outcome
    }

    /// Exchanges client credentials for a token at `{base_url}/connect/token`.
    fn fetch_token(
        &self,
        client_id: &str,
        client_secret: &str,
        call: &Call,
    ) -> Result<(String, Option<f64>)> {
        let url = format!("{}/connect/token", self.base_url);
        let form = form_encode(&[
            ("grant_type", "client_credentials"),
            ("client_id", client_id),
            ("client_secret", client_secret),
        ]);
        let response = self
            .send(
                Request::new(Method::POST, &url)
                    .body(form.as_bytes(), "application/x-www-form-urlencoded")
                    .accept("application/json"),
                call,
            )
            .map_err(|e| {
                let refused = e.status == Some(400);
                let e = e.map_message(|m| format!("cannot obtain a token: {m}"));
                if refused {
                    Error::new(Code::Unauthorized, e.message())
                } else {
                    e
                }
            })?;
        let body = read_small_body(response, &url)?;
        let answer: TokenAnswer = serde_json::from_str(&body).map_err(|e| {
            protocol(format!(
                "the token endpoint {url} answered something that is not a token ({e})"
            ))
        })?;
        if let Some(kind) = answer.token_type.as_deref()
            && !kind.eq_ignore_ascii_case("bearer")
        {
            return Err(protocol(format!(
                "the token endpoint {url} answered a token of type \"{}\" instead of Bearer",
                kind.escape_default()
            )));
        }
        check_header_safe("the token", &answer.access_token).map_err(|_| {
            protocol(format!(
                "the token endpoint {url} answered a token that cannot be sent (empty or with \
                 control characters)"
            ))
        })?;
        log(Level::Info, || match answer.expires_in {
            Some(seconds) => format!("obtained a token from {url}, valid for {seconds} s"),
            None => format!("obtained a token from {url} without a lifetime"),
        });
        Ok((answer.access_token, answer.expires_in))
    }

    /// Runs `attempt` until it succeeds, fails for good, or the allowed attempts are used,
    /// waiting with exponential backoff (and at least `Retry-After`) between attempts.
    fn retrying<T>(&self, call: &Call, mut attempt: impl FnMut() -> Result<T>) -> Result<T> {
        let attempts = call
            .attempts
            .unwrap_or_else(|| self.settings().max_attempts)
            .max(1);
        let mut sent = 1;
        loop {
            let outcome = {
                let _watch = transport::watch(call.cancel);
                attempt()
            };
            match outcome {
                Err(error) if error.transient && sent < attempts => {
                    let wait = retry_wait(sent, error.retry_after);
                    log(Level::Info, || {
                        format!(
                            "{}; trying again in {:.2} s (attempt {} of {attempts})",
                            self.redact(error.message().to_string()),
                            wait.as_secs_f64(),
                            sent + 1
                        )
                    });
                    call.sleep(wait, || {
                        error.clone().map_message(|m| {
                            format!("{m} (no time was left before the deadline to try again)")
                        })
                    })?;
                    sent += 1;
                }
                result => return result,
            }
        }
    }

    /// Removes every secret of this client from an error's message.
    fn redacted<T>(&self, result: Result<T>) -> Result<T> {
        result.map_err(|e| e.map_message(|message| self.redact(message)))
    }

    /// `text` without any secret of this client (tokens, the client secret), also in the
    /// form-encoded spellings a server could echo.
    fn redact(&self, mut text: String) -> String {
        for secret in self.auth.secrets().iter().filter(|s| s.len() >= 4) {
            let encoded = utf8_percent_encode(secret, QUERY_VALUE).to_string();
            let plus_for_space = encoded.replace("%20", "+");
            for spelling in [&**secret, &encoded, &plus_for_space] {
                text = text.replace(spelling, "[redacted]");
            }
        }
        text
    }

    /// `{base}/v5.0/ocr/{path}` with the id percent-encoded as the query.
    fn task_url(&self, path: &str, task_id: Option<&str>) -> String {
        match task_id {
            Some(id) => format!(
                "{}/v5.0/ocr/{path}?id={}",
                self.base_url,
                utf8_percent_encode(id, QUERY_VALUE)
            ),
            None => format!("{}/v5.0/ocr/{path}", self.base_url),
        }
    }
}

/// How long resolved addresses are reused.
const RESOLVED_LIFETIME: Duration = Duration::from_secs(60);

/// Remembers resolved addresses for a minute. ureq resolves the host before it looks for a
/// pooled connection, and with a timeout it resolves on a new thread, so without the cache every
/// request over a keep-alive connection would start a thread and look the host up again.
#[derive(Debug, Default)]
struct CachingResolver {
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
        let key = format!(
            "{}://{}",
            uri.scheme_str().unwrap_or(""),
            uri.authority().map_or("", |a| a.as_str())
        );
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        cache.retain(|(_, at, _)| at.elapsed() < RESOLVED_LIFETIME);
        if let Some((_, _, addresses)) = cache.iter().find(|(host, _, _)| *host == key) {
            return Ok(addresses.clone());
        }
        drop(cache);
        let addresses = self.resolver.resolve(uri, config, timeout)?;
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        cache.push((key, Instant::now(), addresses.clone()));
        Ok(addresses)
    }
}

/// The parts of a request that `send` and `exchange` need.
struct Request<'a> {
    method: Method,
    url: &'a str,
    body: Option<(&'a [u8], &'static str)>,
    accept: &'static str,
    token: bool,
    idempotent: bool,
}

impl<'a> Request<'a> {
    fn new(method: Method, url: &'a str) -> Request<'a> {
        let idempotent = method != Method::POST;
        Request {
            method,
            url,
            body: None,
            accept: "application/json",
            token: false,
            idempotent,
        }
    }

    fn body(self, body: &'a [u8], content_type: &'static str) -> Self {
        Request {
            body: Some((body, content_type)),
            ..self
        }
    }

    fn accept(self, accept: &'static str) -> Self {
        Request { accept, ..self }
    }

    fn token(self, token: bool) -> Self {
        Request { token, ..self }
    }

    fn idempotent(self) -> Self {
        Request {
            idempotent: true,
            ..self
        }
    }
}

/// The body of an answer as the parser reads it: counted, limited and cancellable.
struct HttpSource<'a> {
    body: ureq::BodyReader<'static>,
    received: u64,
    expected: Option<u64>,
    limit: u64,
    call: &'a Call<'a>,
    url: &'a str,
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
            transport_error(ureq::Error::from(e), &what, self.call)
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

/// Checks a base URL and answers it without a trailing slash, and whether it is plain http to a
/// host other than loopback.
fn parse_base_url(text: &str) -> Result<(String, bool)> {
    check_header_safe("the base URL", text)?;
    let trimmed = text.trim_end_matches('/');
    let uri: Uri = trimmed
        .parse()
        .map_err(|e| invalid(format!("the base URL \"{trimmed}\" is not a URL: {e}")))?;
    let https = match uri.scheme_str() {
        Some(s) if s.eq_ignore_ascii_case("https") => true,
        Some(s) if s.eq_ignore_ascii_case("http") => false,
        _ => {
            return Err(invalid(format!(
                "the base URL \"{trimmed}\" must start with https:// (or http:// for loopback)"
            )));
        }
    };
    let Some(host) = uri.host().filter(|h| !h.is_empty()) else {
        return Err(invalid(format!("the base URL \"{trimmed}\" has no host")));
    };
    if uri.query().is_some() || trimmed.contains('#') {
        return Err(invalid(format!(
            "the base URL \"{trimmed}\" must not have a query or fragment"
        )));
    }
    if uri.authority().is_some_and(|a| a.as_str().contains('@')) {
        return Err(invalid(
            "the base URL must not contain a user name or password",
        ));
    }
    Ok((trimmed.to_string(), !https && !is_loopback(host)))
}

/// Whether `host` is this machine: `localhost`, 127.0.0.0/8 or ::1.
fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn form_encode(fields: &[(&str, &str)]) -> String {
    fields
        .iter()
        .map(|(k, v)| format!("{k}={}", utf8_percent_encode(v, QUERY_VALUE)))
        .collect::<Vec<_>>()
        .join("&")
}

fn header_text(response: &Response<ureq::Body>, name: header::HeaderName) -> String {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string()
}

fn content_length(response: &Response<ureq::Body>) -> Option<u64> {
    header_text(response, header::CONTENT_LENGTH).parse().ok()
}

/// Reads a small answer (a task id, a token, an error) as text, at most [`SMALL_BODY_LIMIT`].
fn read_small_body(response: Response<ureq::Body>, url: &str) -> Result<String> {
    check_no_encoding(&response, url)?;
    let mut body = Vec::new();
    response
        .into_body()
        .into_reader()
        .take(SMALL_BODY_LIMIT + 1)
        .read_to_end(&mut body)
        .map_err(|e| {
            let what = format!("reading the answer of {url}");
            transport_error(ureq::Error::from(e), &what, &Call::default())
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
fn check_no_encoding(response: &Response<ureq::Body>, url: &str) -> Result<()> {
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

/// The task id in the text of a POST answer (bare, or JSON-quoted by a lenient server).
fn task_id_from(text: &str, url: &str) -> Result<String> {
    let trimmed = text.trim();
    let id = match serde_json::from_str::<String>(trimmed) {
        Ok(unquoted) if trimmed.starts_with('"') => unquoted,
        _ => trimmed.to_string(),
    };
    check_header_safe("the task id", &id).map_err(|_| {
        protocol(format!(
            "POST {url} answered no usable task id (\"{}\")",
            id.chars().take(80).collect::<String>().escape_default()
        ))
    })?;
    Ok(id)
}

/// The error for a non-success status, with the server's explanation and its `Retry-After`.
fn status_error(
    method: &str,
    url: &str,
    response: Response<ureq::Body>,
    idempotent: bool,
) -> Error {
    let status = response.status();
    let retry_after = parse_retry_after(&header_text(&response, header::RETRY_AFTER));
    let location = header_text(&response, header::LOCATION);
    let detail = read_small_body(response, url)
        .map(|body| wire::problem_text(body.as_bytes()))
        .unwrap_or_default();
    let mut message = format!(
        "{method} {url} answered HTTP {} {}",
        status.as_u16(),
        status.canonical_reason().unwrap_or("")
    );
    if status.is_redirection() {
        message += &format!(" (a redirect to \"{location}\", which is not followed)");
    }
    if !detail.is_empty() {
        message += &format!(": {detail}");
    }
    let code = match status.as_u16() {
        401 | 403 => Code::Unauthorized,
        413 => Code::TooLarge,
        _ => Code::Http,
    };
    let retryable = match status {
        StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE => true,
        StatusCode::BAD_GATEWAY | StatusCode::GATEWAY_TIMEOUT => idempotent,
        _ => false,
    };
    let mut error = Error::new(code, message);
    error.transient = retryable;
    error.retry_after = retry_after.filter(|_| retryable);
    error.status = Some(status.as_u16());
    error
}

/// `Retry-After` as seconds or an HTTP date, at most [`LONGEST_RETRY_AFTER`].
fn parse_retry_after(text: &str) -> Option<Duration> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    let wait = match text.parse::<u64>() {
        Ok(seconds) => Duration::from_secs(seconds),
        Err(_) => httpdate::parse_http_date(text)
            .ok()?
            .duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    };
    Some(wait.min(LONGEST_RETRY_AFTER))
}

/// The wait before retry number `retry` (1-based): 250 ms doubling up to 8 s, ±10% jitter, and
/// never less than the server's `Retry-After`.
fn retry_wait(retry: u32, retry_after: Option<Duration>) -> Duration {
    let backoff = FIRST_RETRY_WAIT
        .saturating_mul(1 << (retry - 1).min(16))
        .min(LONGEST_RETRY_WAIT);
    let jittered = backoff.mul_f64(0.9 + 0.2 * random_fraction());
    jittered.max(retry_after.unwrap_or(Duration::ZERO))
}

/// A number in [0, 1) that differs from call to call (for jitter, not for secrets).
fn random_fraction() -> f64 {
    use std::hash::{BuildHasher, RandomState};
    let bits = RandomState::new().hash_one(Instant::now());
    (bits >> 11) as f64 / (1u64 << 53) as f64
}

/// The failure of a call whose cancel switch was triggered.
fn cancelled() -> Error {
    Error::new(Code::Cancelled, "cancelled by the caller")
}

/// Turns a ureq failure into our error, saying what was being done.
fn transport_error(error: ureq::Error, what: &str, call: &Call) -> Error {
    use std::io::ErrorKind;
    if call.cancelled() {
        return cancelled();
    }
    let deadline_passed = call
        .remaining()
        .is_some_and(|left| left < Duration::from_millis(20));
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
        e @ (ureq::Error::Tls(_) | ureq::Error::Rustls(_) | ureq::Error::Pem(_)) => {
            Error::new(Code::Network, format!("{what}: TLS failed ({e})"))
        }
        e => Error::new(Code::Network, format!("{what}: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_https_anywhere_and_http_on_loopback() {
        for (url, insecure) in [
            ("https://api.aspose.cloud", false),
            ("https://api.aspose.cloud/", false),
            ("HTTPS://example.com:8443/gateway/", false),
            ("http://127.0.0.1:8080", false),
            ("http://127.1.2.3", false),
            ("http://localhost:1", false),
            ("http://[::1]:8080/", false),
            ("http://example.com", true),
            ("http://10.0.0.1:80", true),
        ] {
            let (base, flagged) = parse_base_url(url).unwrap();
            assert!(!base.ends_with('/'), "{url}");
            assert_eq!(flagged, insecure, "{url}");
        }
    }

    #[test]
    fn refuses_base_urls_that_cannot_work() {
        for url in [
            "",
            "api.aspose.cloud",
            "ftp://host",
            "https://",
            "https://host?x=1",
            "https://host/#frag",
            "https://user:pw@host",
            "https://ho st",
            "https://host\r\nX: y",
        ] {
            let err = parse_base_url(url).unwrap_err();
            assert_eq!(err.code(), Code::InvalidArgument, "{url}");
        }
    }

    #[test]
    fn encodes_task_ids_in_the_query() {
        let client = Client::new(Some("http://127.0.0.1:9/"), Auth::None).unwrap();
        assert_eq!(
            client.task_url("RecognizePdf", Some("a b&c=d/é?")),
            "http://127.0.0.1:9/v5.0/ocr/RecognizePdf?id=a%20b%26c%3Dd%2F%C3%A9%3F"
        );
        assert_eq!(
            client.task_url("RecognizePdf", Some("db03b9ea-3eed-4954-a1d4-b2712773bbe")),
            "http://127.0.0.1:9/v5.0/ocr/RecognizePdf?id=db03b9ea-3eed-4954-a1d4-b2712773bbe"
        );
    }

    #[test]
    fn reads_retry_after_in_seconds_or_as_a_date() {
        assert_eq!(parse_retry_after("2"), Some(Duration::from_secs(2)));
        assert_eq!(parse_retry_after("100000"), Some(LONGEST_RETRY_AFTER));
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

    #[test]
    fn backs_off_exponentially_with_bounded_jitter() {
        for retry in 1..=10u32 {
            let expected = FIRST_RETRY_WAIT
                .saturating_mul(1 << (retry - 1))
                .min(LONGEST_RETRY_WAIT);
            let wait = retry_wait(retry, None);
            assert!(
                wait >= expected.mul_f64(0.9) && wait <= expected.mul_f64(1.1),
                "{retry}: {wait:?}"
            );
        }
        assert_eq!(
            retry_wait(1, Some(Duration::from_secs(3))),
            Duration::from_secs(3)
        );
    }

    #[test]
    fn takes_bare_or_quoted_task_ids() {
        assert_eq!(task_id_from(" abc-1\n", "u").unwrap(), "abc-1");
        assert_eq!(task_id_from("\"TTSabc\"", "u").unwrap(), "TTSabc");
        for bad in ["", "  ", "a\u{1}b", "\"\""] {
            assert_eq!(
                task_id_from(bad, "u").unwrap_err().code(),
                Code::Protocol,
                "{bad:?}"
            );
        }
    }

    #[test]
    fn encodes_forms() {
        assert_eq!(
            form_encode(&[
                ("grant_type", "client_credentials"),
                ("client_secret", "a+b&c d")
            ]),
            "grant_type=client_credentials&client_secret=a%2Bb%26c%20d"
        );
    }
}
