//! The calls of the task API over one keep-alive agent: fetch, status, submit, cancel, and the
//! token request they need.

use crate::auth::{Auth, Bearer, check_header_safe};
use crate::error::{Code, Error, Result, invalid, protocol};
use crate::files::{FileSink, persist_results};
use crate::flow::{Flow, Outcome};
use crate::http::{self, CachingResolver, HttpSource, Payload, Request};
use crate::lean::Lean;
use crate::logging::{Level, log};
use crate::operations::{Body, Document, Operation};
use crate::poll::learned::Durations;
use crate::proxy::ChosenProxy;
use crate::retry::retrying;
use crate::secrets::{self, QUERY_VALUE};
use crate::settings::Settings;
use crate::tls::{self, Network};
use crate::wire::{self, Answer, DiscardSink, MemorySink, Sink, TokenAnswer};
use percent_encoding::utf8_percent_encode;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use ureq::http::{Method, Response, Uri, header};

pub use crate::call::Call;

/// The real service.
pub const DEFAULT_BASE_URL: &str = "https://api.aspose.cloud";

/// A connection to the service: base URL, credentials, settings and a keep-alive agent.
///
/// Safe to share between threads; every method may be called from many threads at once.
pub struct Client {
    flow: Flow,
    base_url: String,
    insecure: bool,
    loopback: bool,
    auth: Auth,
    settings: Mutex<Settings>,
    connection: Mutex<Connection>,
    durations: Durations,
}

/// How a client reaches the service: the network settings and the agent built from them.
struct Connection {
    network: Network,
    agent: ureq::Agent,
    /// The proxy in use (its password registered as a secret while it is in use).
    proxy: Option<ChosenProxy>,
    /// The cheap exchange of polls, with its own idle connections; none through a proxy.
    lean: Option<Arc<Lean>>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.base_url)
            .field("auth", &self.auth)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A client for `base_url` (`None`: the real service) that authenticates with `auth`.
    pub fn new(base_url: Option<&str>, auth: Auth) -> Result<Client> {
        let (base_url, insecure, loopback) = parse_base_url(base_url.unwrap_or(DEFAULT_BASE_URL))?;
        let network = Network::default();
        let (agent, proxy) = tls::agent(&network, &base_url, loopback, CachingResolver::default())?;
        let lean = lean_for(&agent, &proxy);
        Ok(Client {
            flow: Flow::default(),
            base_url,
            insecure,
            loopback,
            auth,
            settings: Mutex::new(Settings::default()),
            connection: Mutex::new(Connection {
                network,
                agent,
                proxy,
                lean,
            }),
            durations: Durations::default(),
        })
    }

    /// Changes how the client reaches the service (trusted CAs, proxy) for calls that start
    /// afterwards; a change that cannot be used leaves everything as it was. Connections of the
    /// old setting are not reused.
    pub fn update_network(&self, change: impl FnOnce(&mut Network)) -> Result<()> {
        let mut connection = self.connection.lock().unwrap_or_else(|e| e.into_inner());
        let mut network = connection.network.clone();
        change(&mut network);
        let (agent, proxy) = tls::agent(
            &network,
            &self.base_url,
            self.loopback,
            CachingResolver::default(),
        )?;
        let lean = lean_for(&agent, &proxy);
        *connection = Connection {
            network,
            agent,
            proxy,
            lean,
        };
        Ok(())
    }

    /// The agent of the current network settings, its lean exchange, and the proxy it uses,
    /// as messages show it.
    fn agent(&self) -> (ureq::Agent, Option<Arc<Lean>>, Option<String>) {
        let connection = self.connection.lock().unwrap_or_else(|e| e.into_inner());
        let shown = connection.proxy.as_ref().map(|chosen| chosen.shown.clone());
        (connection.agent.clone(), connection.lean.clone(), shown)
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

    /// Fetches the current answer for a task, decoding result data into `sink`. An answer
    /// whose `id` is not the id asked for is `Protocol`.
    pub fn fetch_into<K: Sink>(
        &self,
        op: Operation,
        task_id: &str,
        sink: &mut K,
        call: &Call,
    ) -> Result<Answer<K::Data>> {
        check_header_safe("the task id", task_id)?;
        let url = self.task_url(op.name(), Some(task_id));
        redacted(self.retrying(call, true, || {
            self.get_answer(&url, task_id, !op.is_trial(), sink, call)
        }))
    }

    /// Fetches the current answer for a task, writing each result to a file in `dir` while the
    /// answer arrives (see [`crate::files::persist_results`]); memory use does not grow with
    /// the results' size. Files are named after `task_id`, appear together once the whole
    /// answer has been read and checked, and only for a Completed task.
    pub fn fetch_to_dir(
        &self,
        op: Operation,
        task_id: &str,
        dir: &Path,
        call: &Call,
    ) -> Result<Answer<PathBuf>> {
        let mut sink = FileSink::new(dir)?;
        let answer = self.fetch_into(op, task_id, &mut sink, call)?;
        persist_results(answer, task_id, dir)
    }

    /// Asks the cheap `Utilities/GetTaskStatus` call for a task's status (answers carry no data).
    pub fn task_status(&self, op: Operation, task_id: &str, call: &Call) -> Result<Answer<()>> {
        check_header_safe("the task id", task_id)?;
        let url = self.task_url("Utilities/GetTaskStatus", Some(task_id));
        let mut sink = DiscardSink::default();
        redacted(self.retrying(call, true, || {
            self.get_answer(&url, task_id, !op.is_trial(), &mut sink, call)
        }))
    }

    /// Submits a document (or text, for text to speech) and answers the new task's id.
    ///
    /// Only failures that certainly happened before the server took the request are retried
    /// (no connection, nothing written, 429, 503), so a task is never submitted twice; the
    /// message of any other failure says that a task may exist.
    pub fn submit(
        &self,
        op: Operation,
        document: Document,
        settings: Option<&str>,
        call: &Call,
    ) -> Result<String> {
        let body = op.body(document, settings)?;
        let payload = match &body {
            Body::Bytes(bytes) => Payload::Bytes(bytes),
            Body::Upload(upload) => Payload::Upload(upload),
        };
        let url = self.task_url(op.name(), None);
        let request = Request::new(Method::POST, &url)
            .body(payload, "application/json")
            .accept("text/plain, application/json");
        let task_id = redacted(self.retrying(call, false, || {
            let response = self.send(&request, !op.is_trial(), call)?;
            // The server took the submission (2xx): a task may exist even without a usable id.
            let text = http::read_small_body(response, &url, call).map_err(Error::delivered)?;
            task_id_from(&text, &url).map_err(Error::delivered)
        }))?;
        self.durations.submitted(&task_id, Instant::now());
        Ok(task_id)
    }

    /// Removes a task from the service's queue (`DELETE`).
    pub fn cancel_task(&self, op: Operation, task_id: &str, call: &Call) -> Result<()> {
        check_header_safe("the task id", task_id)?;
        let url = self.task_url(op.name(), Some(task_id));
        let request = Request::new(Method::DELETE, &url);
        redacted(self.retrying(call, true, || {
            let response = self.send(&request, !op.is_trial(), call)?;
            http::read_small_body(response, &url, call).map(drop)
        }))
    }

    /// The retry policy with the call's (or the client's) number of attempts.
    fn retrying<T>(
        &self,
        call: &Call,
        idempotent: bool,
        attempt: impl FnMut() -> Result<T>,
    ) -> Result<T> {
        let attempts = call
            .attempts
            .unwrap_or_else(|| self.settings().max_attempts);
        retrying(call, attempts, idempotent, &self.flow, attempt)
    }

    /// One GET of an OCR response, streamed into `sink`.
    fn get_answer<K: Sink>(
        &self,
        url: &str,
        task_id: &str,
        with_token: bool,
        sink: &mut K,
        call: &Call,
    ) -> Result<Answer<K::Data>> {
        let request = Request::new(Method::GET, url).accept("application/json");
        let response = self.send(&request, with_token, call)?;
        http::check_no_encoding(&response, url)?;
        // Kept for a message only when it is not JSON (the body goes to the parser).
        let content_type = http::header_text(&response, header::CONTENT_TYPE);
        let not_json = !content_type.is_empty()
            && !content_type
                .as_bytes()
                .windows(4)
                .any(|word| word.eq_ignore_ascii_case(b"json"));
        let content_type = if not_json {
            content_type.to_string()
        } else {
            String::new()
        };
        let limit = self.settings().max_response_bytes;
        let source = HttpSource::new(response, limit, call, url)?;
        let mut answer = wire::read_answer(source, sink).map_err(|e| {
            e.map_message(|m| {
                if not_json {
                    format!("GET {url}: {m} (Content-Type: {content_type})")
                } else {
                    format!("GET {url}: {m}")
                }
            })
        })?;
        if let Some(id) = answer.id.as_deref()
            && id != task_id
        {
            return Err(protocol(format!(
                "GET {url}: the answer is for task \"{}\", not for the task asked for",
                secrets::redact(id)
                    .chars()
                    .take(80)
                    .collect::<String>()
                    .escape_default()
            )));
        }
        for text in answer.messages.iter_mut().chain(answer.warnings.iter_mut()) {
            *text = secrets::redact(text);
        }
        Ok(answer)
    }

    /// Sends `request`, with a token if `with_token` and a single retry with a fresh token
    /// after 401/403. Answers only successful (2xx) responses; every other status becomes an
    /// error. A failure to get a token means the request itself was not sent.
    fn send(
        &self,
        request: &Request,
        with_token: bool,
        call: &Call,
    ) -> Result<Response<ureq::Body>> {
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
            let bearer = if with_token {
                self.auth
                    .bearer(call, |id, secret| self.fetch_token(id, secret, call))
                    .map_err(Error::unsent)?
            } else {
                None
            };
            let (agent, lean, proxy) = self.agent();
            let admission = self.flow.admit(call)?;
            let exchanged = http::exchange(
                &agent,
                lean.as_deref(),
                request,
                bearer.as_ref().map(|b| &*b.value),
                &settings,
                call,
            );
            self.flow.record(admission, outcome_of(&exchanged, call));
            let response = exchanged.map_err(|e| match &proxy {
                Some(proxy) if e.code() == Code::Network => {
                    e.map_message(|m| format!("{m} (through the proxy {proxy})"))
                }
                _ => e,
            })?;
            let status = response.status();
            if status.is_success() {
                return Ok(response);
            }
            if let Some(bearer) = &bearer
                && self.may_refresh(bearer, status.as_u16(), refreshed)
            {
                refreshed = true;
                drop(response);
                log(Level::Info, || {
                    format!(
                        "{} {} answered HTTP {status}; fetching a new token and trying once more",
                        request.method, request.url
                    )
                });
                continue;
            }
            let mut error = http::status_error(request, response, call);
            if status.as_u16() == 429 {
                // The budget knows how long the rate limit asks for, to the millisecond.
                error.retry_after = Some(self.flow.next_slot());
            }
            return Err(error);
        }
    }

    /// What the client has learned of its tasks' durations, and when it submitted them.
    pub fn durations(&self) -> &Durations {
        &self.durations
    }

    /// The client's request budget (rate, retry quota, circuit breaker) and its counts.
    pub fn flow(&self) -> &Flow {
        &self.flow
    }

    /// Whether a request refused with `status` is sent once more with a new token.
    fn may_refresh(&self, bearer: &Bearer, status: u16, refreshed: bool) -> bool {
        matches!(status, 401 | 403) && !refreshed && self.auth.refused(bearer)
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
        let request = Request::new(Method::POST, &url)
            .body(
                Payload::Bytes(form.as_bytes()),
                "application/x-www-form-urlencoded",
            )
            .idempotent();
        self.flow.token_fetched();
        let response = self.send(&request, false, call).map_err(|e| {
            let refused = e.status == Some(400);
            let e = e.map_message(|m| format!("cannot obtain a token: {m}"));
            if refused {
                Error::new(Code::Unauthorized, e.message())
            } else {
                e
            }
        })?;
        let body = http::read_small_body(response, &url, call)?;
        // serde's messages quote the values they refuse, and a value here may be a token that
        // no registry knows yet: name only where the answer went wrong.
        let answer: TokenAnswer = serde_json::from_str(&body).map_err(|e| {
            protocol(format!(
                "the token endpoint {url} answered something that is not a token (at line {}, \
                 column {}: expected {{\"access_token\": \"...\", \"expires_in\": seconds}})",
                e.line(),
                e.column()
            ))
        })?;
        if let Some(kind) = answer.token_type.as_deref()
            && !kind.eq_ignore_ascii_case("bearer")
        {
            let shown = if kind.len() <= secrets::LONGEST_SAFE_PIECE {
                format!("\"{}\"", kind.escape_default())
            } else {
                format!("of {} characters", kind.chars().count())
            };
            return Err(protocol(format!(
                "the token endpoint {url} answered a token_type {shown} instead of Bearer"
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

    /// `{base}/v5.0/ocr/{path}` with the id percent-encoded as the query (built on every
    /// request, so without the formatting machinery).
    fn task_url(&self, path: &str, task_id: Option<&str>) -> String {
        const OCR: &str = "/v5.0/ocr/";
        let query = task_id.map_or(0, |id| "?id=".len() + 3 * id.len());
        let mut url = String::with_capacity(self.base_url.len() + OCR.len() + path.len() + query);
        url.push_str(&self.base_url);
        url.push_str(OCR);
        url.push_str(path);
        if let Some(id) = task_id {
            url.push_str("?id=");
            url.extend(utf8_percent_encode(id, QUERY_VALUE));
        }
        url
    }
}

/// The lean exchange for an agent that goes through no proxy (a CONNECT tunnel stays the
/// agent's).
fn lean_for(agent: &ureq::Agent, proxy: &Option<ChosenProxy>) -> Option<Arc<Lean>> {
    proxy.is_none().then(|| Arc::new(Lean::new(agent.config())))
}

/// What an exchange tells the request budget. A call that ran out of its own deadline says
/// nothing about the service.
fn outcome_of(exchanged: &Result<Response<ureq::Body>>, call: &Call) -> Outcome {
    match exchanged {
        Ok(response) => match response.status().as_u16() {
            200..=299 => Outcome::Success,
            429 => Outcome::Limited(http::parse_retry_after(http::header_text(
                response,
                header::RETRY_AFTER,
            ))),
            503 => Outcome::Throttled(http::parse_retry_after(http::header_text(
                response,
                header::RETRY_AFTER,
            ))),
            status @ 500..=599 => Outcome::Failure(format!("HTTP {status}")),
            _ => Outcome::Neutral,
        },
        Err(error) if error.code() == Code::Timeout && call.deadline_passed() => Outcome::Neutral,
        Err(error) if matches!(error.code(), Code::Network | Code::Timeout) => {
            Outcome::Failure(error.message().to_string())
        }
        Err(_) => Outcome::Neutral,
    }
}

/// The outcome with every secret removed from its message.
fn redacted<T>(result: Result<T>) -> Result<T> {
    result.map_err(|e| e.map_message(|message| secrets::redact(&message)))
}

/// Checks a base URL and answers it without a trailing slash, whether it is plain http to a
/// host other than loopback, and whether its host is loopback.
fn parse_base_url(text: &str) -> Result<(String, bool, bool)> {
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
    let loopback = is_loopback(host);
    Ok((trimmed.to_string(), !https && !loopback, loopback))
}

/// Whether `host` is this machine: `localhost`, 127.0.0.0/8, ::1 or 127.0.0.0/8 mapped into
/// IPv6 (`::ffff:127.0.0.1`).
fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.to_canonical().is_loopback())
}

fn form_encode(fields: &[(&str, &str)]) -> String {
    fields
        .iter()
        .map(|(k, v)| format!("{k}={}", utf8_percent_encode(v, QUERY_VALUE)))
        .collect::<Vec<_>>()
        .join("&")
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
            secrets::redact(&id)
                .chars()
                .take(80)
                .collect::<String>()
                .escape_default()
        ))
    })?;
    Ok(id)
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
            ("http://[::ffff:127.0.0.1]:8080/", false),
            ("http://example.com", true),
            ("http://10.0.0.1:80", true),
        ] {
            let (base, flagged, _) = parse_base_url(url).unwrap();
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
