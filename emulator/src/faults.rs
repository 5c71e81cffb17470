//! Injected faults: `POST /_emulator/faults` queues them, API requests consume them in order.

use std::collections::{BTreeMap, VecDeque};
use std::io;
use std::pin::Pin;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE, RETRY_AFTER};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http_body::{Frame, SizeHint};
use serde::Deserialize;
use serde_json::Value;
use tokio::time::Sleep;

use crate::problem::{PROBLEM_JSON, Problem};

/// The body of the `malformed` fault: the start of a real answer, cut in the middle of a string.
const MALFORMED_ANSWER: &str = r#"{"id":"7f3c1d52-0b8e-4a57-9d2e-5c1b8a6f4e90","taskStatus":"Completed","responseStatusCode":"Ok","results":[{"type":"Text","data":"UmVjb2duaXplZCB0ZX"#;

/// How long a truncated answer waits before closing, so that its first bytes reach the client.
const FLUSH_PAUSE: Duration = Duration::from_millis(100);

/// What a fault does to the request it applies to.
#[derive(Clone, Debug)]
pub enum Action {
    /// Answer this instead of the real answer.
    Respond {
        status: StatusCode,
        headers: HeaderMap,
        body: Bytes,
    },
    /// `200 application/json` with a truncated JSON body.
    Malformed,
    /// Wait, then answer normally.
    Delay(Duration),
    /// Answer normally but send only this many body bytes (default: half), then close.
    Truncate(Option<usize>),
    /// Close the connection without any answer.
    Drop,
}

struct Fault {
    path: String,
    method: Option<String>,
    remaining: u32,
    action: Action,
}

impl Fault {
    fn matches(&self, method: &Method, path: &str) -> bool {
        (self.path == "*" || self.path.eq_ignore_ascii_case(path))
            && self
                .method
                .as_ref()
                .is_none_or(|only| only.eq_ignore_ascii_case(method.as_str()))
    }
}

/// Queued faults in FIFO order.
#[derive(Default)]
pub struct FaultQueue {
    faults: Mutex<VecDeque<Fault>>,
}

impl FaultQueue {
    /// Queues the faults of a JSON object or array of objects; all or none.
    pub fn add(&self, body: &[u8]) -> Result<(), Problem> {
        let specs = match crate::problem::parse_json::<Value>(body)? {
            Value::Array(specs) => specs,
            spec => vec![spec],
        };
        let faults = specs
            .into_iter()
            .enumerate()
            .map(|(index, spec)| {
                fault_from(spec).map_err(|detail| {
                    Problem::bad_request(format!("Fault {index} is invalid: {detail}"))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        self.lock().extend(faults);
        Ok(())
    }

    /// Consumes one use of the first fault that matches the request.
    pub fn take(&self, method: &Method, path: &str) -> Option<Action> {
        let mut faults = self.lock();
        let index = faults
            .iter()
            .position(|fault| fault.matches(method, path))?;
        let fault = &mut faults[index];
        fault.remaining -= 1;
        let action = fault.action.clone();
        if fault.remaining == 0 {
            faults.remove(index);
        }
        Some(action)
    }

    pub fn clear(&self) {
        self.lock().clear();
    }

    fn lock(&self) -> MutexGuard<'_, VecDeque<Fault>> {
        self.faults.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FaultSpec {
    path: String,
    method: Option<String>,
    #[serde(default = "one")]
    count: u32,
    #[serde(flatten)]
    kind: KindSpec,
}

fn one() -> u32 {
    1
}

#[derive(Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
enum KindSpec {
    #[serde(rename_all = "camelCase")]
    Status {
        status: u16,
        retry_after: Option<String>,
        body: Option<String>,
        content_type: Option<String>,
        #[serde(default)]
        headers: BTreeMap<String, String>,
    },
    Malformed {},
    Delay {
        ms: u64,
    },
    Truncate {
        bytes: Option<usize>,
    },
    Drop {},
}

fn fault_from(spec: Value) -> Result<Fault, String> {
    let spec: FaultSpec = serde_json::from_value(spec).map_err(|error| error.to_string())?;
    if spec.count == 0 {
        return Err("count must be at least 1".to_owned());
    }
    let action = match spec.kind {
        KindSpec::Status {
            status,
            retry_after,
            body,
            content_type,
            headers,
        } => {
            let status = StatusCode::from_u16(status).map_err(|error| error.to_string())?;
            let mut header_map = HeaderMap::new();
            let content_type = content_type.as_deref().unwrap_or(PROBLEM_JSON);
            header_map.insert(CONTENT_TYPE, header_value(content_type)?);
            if let Some(retry_after) = retry_after {
                header_map.insert(RETRY_AFTER, header_value(&retry_after)?);
            }
            for (name, value) in headers {
                let name =
                    HeaderName::from_bytes(name.as_bytes()).map_err(|error| error.to_string())?;
                header_map.insert(name, header_value(&value)?);
            }
            let body = body.unwrap_or_else(|| Problem::new(status, "Injected fault.").body());
            Action::Respond {
                status,
                headers: header_map,
                body: Bytes::from(body),
            }
        }
        KindSpec::Malformed {} => Action::Malformed,
        KindSpec::Delay { ms } => Action::Delay(Duration::from_millis(ms)),
        KindSpec::Truncate { bytes } => Action::Truncate(bytes),
        KindSpec::Drop {} => Action::Drop,
    };
    Ok(Fault {
        path: spec.path,
        method: spec.method,
        remaining: spec.count,
        action,
    })
}

fn header_value(value: &str) -> Result<HeaderValue, String> {
    HeaderValue::from_str(value).map_err(|error| format!("{error}: {value:?}"))
}

/// Answers `request` as `fault` says, or normally when there is none.
pub async fn answer(fault: Option<Action>, request: Request, next: Next) -> Response {
    match fault {
        None => next.run(request).await,
        Some(Action::Respond {
            status,
            headers,
            body,
        }) => (status, headers, body).into_response(),
        Some(Action::Malformed) => {
            ([(CONTENT_TYPE, "application/json")], MALFORMED_ANSWER).into_response()
        }
        Some(Action::Delay(delay)) => {
            tokio::time::sleep(delay).await;
            next.run(request).await
        }
        Some(Action::Truncate(bytes)) => truncate(next.run(request).await, bytes).await,
        Some(Action::Drop) => Response::new(Body::new(CutBody {
            announced: None,
            sent: None,
            pause: None,
        })),
    }
}

/// Keeps the status and headers of `response` and the full `Content-Length`, but sends only the
/// first `bytes` of the body (default: half) and then closes the connection.
async fn truncate(response: Response, bytes: Option<usize>) -> Response {
    let (mut parts, body) = response.into_parts();
    let full = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(full) => full,
        Err(error) => {
            return Problem::new(StatusCode::INTERNAL_SERVER_ERROR, error.to_string())
                .into_response();
        }
    };
    let kept = bytes.unwrap_or(full.len() / 2).min(full.len());
    parts.headers.remove(CONTENT_LENGTH);
    let body = CutBody {
        announced: Some(full.len() as u64),
        sent: Some(full.slice(..kept)),
        pause: None,
    };
    Response::from_parts(parts, Body::new(body))
}

/// A body that sends `sent` (if any), pauses so that it reaches the client, then fails, which
/// makes hyper close the connection. Without `sent` it fails before anything, even the status
/// line, is written.
struct CutBody {
    announced: Option<u64>,
    sent: Option<Bytes>,
    pause: Option<Pin<Box<Sleep>>>,
}

impl http_body::Body for CutBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        if let Some(sent) = self.sent.take() {
            self.pause = Some(Box::pin(tokio::time::sleep(FLUSH_PAUSE)));
            return Poll::Ready(Some(Ok(Frame::data(sent))));
        }
        if let Some(pause) = self.pause.as_mut() {
            ready!(pause.as_mut().poll(cx));
        }
        Poll::Ready(Some(Err(io::Error::other(
            "connection cut by an injected fault",
        ))))
    }

    fn size_hint(&self) -> SizeHint {
        self.announced.map(SizeHint::with_exact).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_unknown_fields_and_kinds() {
        let queue = FaultQueue::default();
        assert!(
            queue
                .add(br#"{"path":"*","kind":"status","status":503,"retry_after":"1"}"#)
                .is_err()
        );
        assert!(queue.add(br#"{"path":"*","kind":"explode"}"#).is_err());
        assert!(
            queue
                .add(br#"{"path":"*","kind":"delay","ms":5,"count":0}"#)
                .is_err()
        );
        assert!(queue.add(br#"[{"path":"*","kind":"drop"},{"path":"/a","kind":"malformed","method":"GET","count":2}]"#).is_ok());
        assert_eq!(queue.lock().len(), 2);
    }

    #[test]
    fn takes_the_first_matching_fault_and_counts_it_down() {
        let queue = FaultQueue::default();
        queue
            .add(br#"[{"path":"/A","method":"get","kind":"delay","ms":1,"count":2},{"path":"*","kind":"drop"}]"#)
            .unwrap();
        assert!(matches!(
            queue.take(&Method::POST, "/a"),
            Some(Action::Drop)
        ));
        assert!(matches!(
            queue.take(&Method::GET, "/a"),
            Some(Action::Delay(_))
        ));
        assert!(matches!(
            queue.take(&Method::GET, "/a"),
            Some(Action::Delay(_))
        ));
        assert!(queue.take(&Method::GET, "/a").is_none());
    }
}
