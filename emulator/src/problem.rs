//! RFC 7807 problem answers (`application/problem+json`) for every error the emulator gives.

use axum::extract::rejection::BytesRejection;
use axum::http::header::{CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Content type of problem answers.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// An error answer: `{"type":"about:blank","title":...,"status":...,"detail":...}`.
#[derive(Debug)]
pub struct Problem {
    status: StatusCode,
    detail: String,
    error: Option<&'static str>,
    challenge: Option<&'static str>,
    retry_after: Option<u64>,
}

impl Problem {
    pub fn new(status: StatusCode, detail: impl Into<String>) -> Self {
        Problem {
            status,
            detail: detail.into(),
            error: None,
            challenge: None,
            retry_after: None,
        }
    }

    pub fn bad_request(detail: impl Into<String>) -> Self {
        Problem::new(StatusCode::BAD_REQUEST, detail)
    }

    /// A `401` for the API, with `WWW-Authenticate: Bearer`.
    pub fn bearer_unauthorized(detail: impl Into<String>) -> Self {
        Problem {
            challenge: Some("Bearer"),
            ..Problem::new(StatusCode::UNAUTHORIZED, detail)
        }
    }

    /// Adds an OAuth 2 `error` code (`invalid_client`, ...) to the body.
    pub fn with_error(self, error: &'static str) -> Self {
        Problem {
            error: Some(error),
            ..self
        }
    }

    /// Adds `Retry-After: {seconds}` to the answer.
    pub fn with_retry_after(self, seconds: u64) -> Self {
        Problem {
            retry_after: Some(seconds),
            ..self
        }
    }

    /// The JSON body of this problem.
    pub fn body(&self) -> String {
        let body = ProblemBody {
            kind: "about:blank",
            title: self.status.canonical_reason().unwrap_or("Error"),
            status: self.status.as_u16(),
            detail: &self.detail,
            error: self.error,
        };
        serde_json::to_string(&body).expect("a problem always serializes")
    }
}

#[derive(Serialize)]
struct ProblemBody<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    title: &'static str,
    status: u16,
    detail: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'static str>,
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let mut response = (
            self.status,
            [(CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON))],
            self.body(),
        )
            .into_response();
        if let Some(challenge) = self.challenge {
            response
                .headers_mut()
                .insert(WWW_AUTHENTICATE, HeaderValue::from_static(challenge));
        }
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

impl From<BytesRejection> for Problem {
    fn from(rejection: BytesRejection) -> Self {
        Problem::new(rejection.status(), rejection.body_text())
    }
}

/// Parses a JSON request body, answering `400` with the parser's message when it is invalid.
pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, Problem> {
    serde_json::from_slice(body)
        .map_err(|error| Problem::bad_request(format!("Invalid JSON: {error}")))
}
