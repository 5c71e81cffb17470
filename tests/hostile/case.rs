//! One hostile case: what a server answers, which C call meets it, and what that call must
//! report. Cases run in parallel, each against a server of its own.

use crate::common::{Client, OcrResult, Options, assert_code, last_error, name};
use crate::secrets::{CLIENT_ID, CLIENT_SECRET, TOKEN, revealed_secret};
use crate::server::{Reply, Request, Server, http};
use ocrcloud::ffi::*;
use std::time::{Duration, Instant};

/// The client's limits in every case (and in `tests/c/hostile_driver.c`), small so that stalls
/// end quickly.
const READ_TIMEOUT_MS: u32 = 1000;
const REQUEST_TIMEOUT_MS: u32 = 3000;
/// No case may take longer than this; the library's defaults (30 s per read, 300 s per request)
/// would, so a case that hangs fails here.
const LONGEST_CASE: Duration = Duration::from_secs(30);

/// The C call that meets the server.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Call {
    /// `ocr_fetch_result` once.
    Fetch,
    /// `ocr_fetch_result` twice; the first must succeed, the second is checked.
    FetchTwice,
    /// `ocr_poll_until_done` every 20 ms with a 5 s deadline and at most this many attempts (0: no
    /// limit).
    Poll(u32),
    /// `ocr_submit` of a small PDF.
    Submit,
}

/// What the call must report.
#[derive(Clone, Debug)]
pub enum Expect {
    /// This code, and `ocr_last_error_message` contains this fragment.
    Fails(ocr_code, &'static str),
    /// `OCR_OK` with this task status and these bytes as the first result's data (empty when
    /// there is no result).
    Answers(ocr_task_status, Vec<u8>),
    /// `ocr_submit` answers `OCR_OK` with this task id.
    Submits(&'static str),
}

/// A hostile server's behaviour and what the client must make of it.
#[derive(Clone)]
pub struct Case {
    pub name: &'static str,
    pub call: Call,
    /// The token endpoint's answers in order (the last one repeats); `None`: a fixed token.
    pub token_answers: Option<Vec<Reply>>,
    /// The API's answers in order; the last one repeats.
    pub answers: Vec<Reply>,
    pub expect: Expect,
    /// How many API requests the server must see, if that matters.
    pub api_requests: Option<usize>,
    /// How many token requests the server must see, if that matters.
    pub token_requests: Option<usize>,
    /// The call must take at least this long (`Retry-After`).
    pub at_least: Duration,
    /// `ocr_client_set_max_response_bytes`, if not the default.
    pub max_response_bytes: Option<u64>,
    /// `ocr_client_set_max_attempts`, if not the default (3).
    pub max_attempts: Option<u32>,
    /// `ocr_client_set_request_timeout_ms`.
    pub request_timeout_ms: u32,
}

/// A case whose call must fail with `code` and a message containing `fragment`.
pub fn fails(
    name: &'static str,
    answers: impl IntoIterator<Item = Reply>,
    code: ocr_code,
    fragment: &'static str,
) -> Case {
    Case::new(name, answers, Expect::Fails(code, fragment))
}

/// A case whose call must succeed with `status` and `data`.
pub fn answers(
    name: &'static str,
    answers: impl IntoIterator<Item = Reply>,
    status: ocr_task_status,
    data: impl AsRef<[u8]>,
) -> Case {
    Case::new(
        name,
        answers,
        Expect::Answers(status, data.as_ref().to_vec()),
    )
}

/// A case whose `ocr_submit` must answer the task id `id`.
pub fn submits(
    name: &'static str,
    answers: impl IntoIterator<Item = Reply>,
    id: &'static str,
) -> Case {
    Case::new(name, answers, Expect::Submits(id)).call(Call::Submit)
}

impl Case {
    fn new(name: &'static str, answers: impl IntoIterator<Item = Reply>, expect: Expect) -> Case {
        Case {
            name,
            call: Call::Fetch,
            token_answers: None,
            answers: answers.into_iter().collect(),
            expect,
            api_requests: None,
            token_requests: None,
            at_least: Duration::ZERO,
            max_response_bytes: None,
            max_attempts: None,
            request_timeout_ms: REQUEST_TIMEOUT_MS,
        }
    }

    pub fn call(self, call: Call) -> Case {
        Case { call, ..self }
    }

    /// The client uses credentials; the token endpoint answers these in order.
    pub fn credentials(self, token_answers: impl IntoIterator<Item = Reply>) -> Case {
        Case {
            token_answers: Some(token_answers.into_iter().collect()),
            ..self
        }
    }

    pub fn api_requests(self, count: usize) -> Case {
        Case {
            api_requests: Some(count),
            ..self
        }
    }

    pub fn token_requests(self, count: usize) -> Case {
        Case {
            token_requests: Some(count),
            ..self
        }
    }

    pub fn at_least(self, ms: u64) -> Case {
        Case {
            at_least: Duration::from_millis(ms),
            ..self
        }
    }

    pub fn max_response_bytes(self, bytes: u64) -> Case {
        Case {
            max_response_bytes: Some(bytes),
            ..self
        }
    }

    pub fn max_attempts(self, attempts: u32) -> Case {
        Case {
            max_attempts: Some(attempts),
            ..self
        }
    }

    pub fn request_timeout_ms(self, ms: u32) -> Case {
        Case {
            request_timeout_ms: ms,
            ..self
        }
    }

    /// A server that plays this case.
    pub fn serve(&self) -> Server {
        let answers = self.answers.clone();
        let token_answers = self.token_answers.clone().unwrap_or_default();
        Server::start(move |request: &Request, earlier| {
            let list = if request.path() == "/connect/token" {
                &token_answers
            } else {
                &answers
            };
            list.get(earlier.min(list.len().saturating_sub(1)))
                .cloned()
                .unwrap_or_else(|| http("404 Not Found", &[], ""))
        })
    }

    /// The client the case uses against `url`, with the small timeouts.
    pub fn client(&self, url: &str) -> Client {
        let client = match self.token_answers {
            Some(_) => Client::with_credentials(url, CLIENT_ID, CLIENT_SECRET),
            None => Client::with_token(url, Some(TOKEN)),
        };
        assert_code(
            unsafe { ocr_client_set_read_timeout_ms(client.0, READ_TIMEOUT_MS) },
            OCR_OK,
        );
        assert_code(
            unsafe { ocr_client_set_request_timeout_ms(client.0, self.request_timeout_ms) },
            OCR_OK,
        );
        assert_code(
            unsafe { ocr_client_set_connect_timeout_ms(client.0, 1000) },
            OCR_OK,
        );
        if let Some(bytes) = self.max_response_bytes {
            assert_code(
                unsafe { ocr_client_set_max_response_bytes(client.0, bytes) },
                OCR_OK,
            );
        }
        if let Some(attempts) = self.max_attempts {
            assert_code(
                unsafe { ocr_client_set_max_attempts(client.0, attempts) },
                OCR_OK,
            );
        }
        client
    }

    /// Plays the case; answers what went differently than expected.
    pub fn run(&self) -> Result<(), String> {
        let server = self.serve();
        let client = self.client(&server.url);
        let started = Instant::now();
        let outcome = self.call_once(&client);
        let elapsed = started.elapsed();
        drop(client);
        let requests = server.requests();
        let mut wrong = Vec::new();
        let got = match outcome {
            Ok(got) => got,
            Err(code) => Got::Failed(code, last_error()),
        };
        if let Got::Failed(_, message) = &got
            && let Some(secret) = revealed_secret(message)
        {
            wrong.push(format!("the message reveals the secret {secret:?}"));
        }
        let expected = match &self.expect {
            Expect::Fails(code, fragment) => Got::Failed(*code, fragment.to_string()),
            Expect::Answers(status, data) => Got::Answered(*status, data.clone()),
            Expect::Submits(id) => Got::Submitted(id.to_string()),
        };
        let as_expected = match (&expected, &got) {
            (Got::Failed(code, fragment), Got::Failed(got_code, message)) => {
                code == got_code && message.contains(fragment.as_str())
            }
            (expected, got) => expected == got,
        };
        if !as_expected {
            wrong.push(format!("expected {expected}, got {got}"));
        }
        let token_requests = requests
            .iter()
            .filter(|r| r.path() == "/connect/token")
            .count();
        let api_requests = requests.len() - token_requests;
        if self.api_requests.is_some_and(|n| n != api_requests) {
            wrong.push(format!(
                "expected {:?} API requests, got {api_requests}",
                self.api_requests
            ));
        }
        if self.token_requests.is_some_and(|n| n != token_requests) {
            wrong.push(format!(
                "expected {:?} token requests, got {token_requests}",
                self.token_requests
            ));
        }
        if elapsed < self.at_least || elapsed > LONGEST_CASE {
            wrong.push(format!(
                "took {elapsed:?}, expected between {:?} and {LONGEST_CASE:?}",
                self.at_least
            ));
        }
        if let Some(r) = requests
            .iter()
            .find(|r| r.header("accept-encoding").is_some())
        {
            wrong.push(format!(
                "asked for a content encoding it cannot decode: {:?}",
                r.header("accept-encoding")
            ));
        }
        if wrong.is_empty() {
            Ok(())
        } else {
            Err(format!("{}: {}", self.name, wrong.join("; ")))
        }
    }

    fn call_once(&self, client: &Client) -> Result<Got, ocr_code> {
        // The id the table's answers name.
        let task_id = "t";
        match self.call {
            Call::Fetch => client.fetch(None, task_id).map(Got::from),
            Call::FetchTwice => {
                client.fetch(None, task_id)?;
                client.fetch(None, task_id).map(Got::from)
            }
            Call::Poll(max_attempts) => {
                let options = Options::fast(20, 5000);
                assert_code(
                    unsafe { ocr_poll_options_set_max_attempts(options.0, max_attempts) },
                    OCR_OK,
                );
                client.poll(None, task_id, Some(&options)).map(Got::from)
            }
            Call::Submit => client
                .submit(None, b"%PDF-1.4 hostile", None)
                .map(Got::Submitted),
        }
    }
}

/// What a call reported (or, for the expectation, what it should report).
#[derive(PartialEq)]
enum Got {
    Failed(ocr_code, String),
    Answered(ocr_task_status, Vec<u8>),
    Submitted(String),
}

impl From<OcrResult> for Got {
    fn from(result: OcrResult) -> Got {
        Got::Answered(result.status(), result.data(0).unwrap_or_default())
    }
}

impl std::fmt::Display for Got {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Got::Failed(code, message) => write!(f, "{} \"{message}\"", name(*code)),
            Got::Answered(status, data) => {
                let start = String::from_utf8_lossy(&data[..data.len().min(60)]);
                write!(f, "status {status} with {} bytes {start:?}", data.len())
            }
            Got::Submitted(id) => write!(f, "task id {id:?}"),
        }
    }
}
