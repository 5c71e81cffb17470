//! The task store: each task's lifecycle (Pending, Processing, final status) and its GET answers.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::Serialize;
use serde_json::{Value, json};

/// One produced file of a task: `{"type": ..., "data": <base64>}`.
pub struct ResultFile<'a> {
    pub kind: Cow<'a, str>,
    pub data: Data<'a>,
}

/// The `data` of a result.
pub enum Data<'a> {
    /// Standard base64: served as is, since it needs no JSON escaping.
    Base64(Cow<'a, str>),
    /// Any text given by a fixture, JSON-escaped when served.
    Verbatim(String),
}

impl Data<'_> {
    fn len(&self) -> usize {
        match self {
            Data::Base64(text) => text.len(),
            Data::Verbatim(text) => text.len(),
        }
    }
}

/// Where a task ends: its final status, results and error.
pub struct Outcome<'a> {
    pub task_status: String,
    pub response_status_code: String,
    pub results: Option<Vec<ResultFile<'a>>>,
    pub error: Value,
}

impl<'a> Outcome<'a> {
    pub fn completed(results: Vec<ResultFile<'a>>) -> Self {
        Outcome {
            task_status: "Completed".to_owned(),
            response_status_code: "Ok".to_owned(),
            results: Some(results),
            error: Value::Null,
        }
    }

    pub fn failed(message: &str) -> Self {
        Outcome {
            task_status: "Error".to_owned(),
            response_status_code: "Error".to_owned(),
            results: None,
            error: json!({ "messages": [message], "warnings": [] }),
        }
    }
}

/// How long a new task stays `Pending`, then `Processing`.
#[derive(Clone, Copy, Debug)]
pub struct Schedule {
    pub pending: Duration,
    pub processing: Duration,
}

/// A task, with its final GET answer rendered once.
pub struct Task {
    operation: String,
    created: Instant,
    schedule: Schedule,
    task_status: String,
    response_status_code: String,
    error: Value,
    /// The complete GET answer once the task is final; served as a cheap clone.
    final_answer: Bytes,
    /// The submitted POST body, kept for `/_emulator/tasks/{id}`; `None` for fixtures.
    request: Option<Bytes>,
    polls: u64,
}

impl Task {
    pub fn new(
        id: &str,
        operation: String,
        schedule: Schedule,
        outcome: Outcome<'_>,
        request: Option<Bytes>,
    ) -> Task {
        let final_answer = render(&Answer {
            id,
            task_status: &outcome.task_status,
            response_status_code: &outcome.response_status_code,
            results: outcome.results.as_deref(),
            error: &outcome.error,
        });
        Task {
            operation,
            created: Instant::now(),
            schedule,
            task_status: outcome.task_status,
            response_status_code: outcome.response_status_code,
            error: outcome.error,
            final_answer,
            request,
            polls: 0,
        }
    }

    /// `Pending` or `Processing` while the task is not final yet.
    fn unfinished_status(&self) -> Option<&'static str> {
        let age = self.created.elapsed();
        if age < self.schedule.pending {
            Some("Pending")
        } else if age
            < self
                .schedule
                .pending
                .saturating_add(self.schedule.processing)
        {
            Some("Processing")
        } else {
            None
        }
    }

    fn current_status(&self) -> &str {
        self.unfinished_status().unwrap_or(&self.task_status)
    }
}

/// Which GET answer to give.
#[derive(Clone, Copy, Debug)]
pub enum View {
    /// `GET /v5.0/ocr/{Operation}`: with the results.
    Full,
    /// `GET /v5.0/ocr/Utilities/GetTaskStatus`: the same answer with `results: null`.
    StatusOnly,
}

/// What `/_emulator/tasks/{id}` shows about a task.
pub struct Inspection {
    pub operation: String,
    pub task_status: String,
    pub request: Option<Bytes>,
    pub polls: u64,
}

/// All tasks by id; a task older than the retention time no longer exists.
pub struct TaskStore {
    tasks: Mutex<HashMap<String, Task>>,
    retention: Duration,
}

impl TaskStore {
    pub fn new(retention: Duration) -> Self {
        TaskStore {
            tasks: Mutex::default(),
            retention,
        }
    }

    pub fn insert(&self, id: String, task: Task) {
        self.lock().insert(id, task);
    }

    /// The GET answer (a JSON body) for `id`, counting the poll.
    pub fn answer(&self, id: &str, view: View) -> Bytes {
        let mut tasks = self.lock();
        let Some(task) = tasks.get_mut(id).filter(|task| !self.expired(task)) else {
            return render(&Answer {
                id,
                task_status: "NotExist",
                response_status_code: "TaskNotFound",
                results: None,
                error: &Value::Null,
            });
        };
        task.polls += 1;
        match (task.unfinished_status(), view) {
            (Some(status), _) => render(&Answer {
                id,
                task_status: status,
                response_status_code: "NotReady",
                results: None,
                error: &Value::Null,
            }),
            (None, View::Full) => task.final_answer.clone(),
            (None, View::StatusOnly) => render(&Answer {
                id,
                task_status: &task.task_status,
                response_status_code: &task.response_status_code,
                results: None,
                error: &task.error,
            }),
        }
    }

    pub fn inspect(&self, id: &str) -> Option<Inspection> {
        let tasks = self.lock();
        let task = tasks.get(id).filter(|task| !self.expired(task))?;
        Some(Inspection {
            operation: task.operation.clone(),
            task_status: task.current_status().to_owned(),
            request: task.request.clone(),
            polls: task.polls,
        })
    }

    pub fn remove(&self, id: &str) {
        self.lock().remove(id);
    }

    pub fn clear(&self) {
        self.lock().clear();
    }

    pub fn evict_expired(&self) {
        self.lock().retain(|_, task| !self.expired(task));
    }

    fn expired(&self, task: &Task) -> bool {
        task.created.elapsed() >= self.retention
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Task>> {
        self.tasks.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The five fields of every GET answer.
struct Answer<'a> {
    id: &'a str,
    task_status: &'a str,
    response_status_code: &'a str,
    results: Option<&'a [ResultFile<'a>]>,
    error: &'a Value,
}

/// Writes an answer into a buffer allocated once at its final size. Base64 data is copied as is
/// instead of going through the JSON string escaper, so a large result costs one plain copy.
fn render(answer: &Answer<'_>) -> Bytes {
    let results_size: usize = answer
        .results
        .unwrap_or_default()
        .iter()
        .map(|file| file.kind.len() + file.data.len() + 32)
        .sum();
    let mut body = Vec::with_capacity(256 + answer.id.len() + results_size);
    body.extend_from_slice(b"{\"id\":");
    write_json(&mut body, answer.id);
    body.extend_from_slice(b",\"taskStatus\":");
    write_json(&mut body, answer.task_status);
    body.extend_from_slice(b",\"responseStatusCode\":");
    write_json(&mut body, answer.response_status_code);
    body.extend_from_slice(b",\"results\":");
    match answer.results {
        None => body.extend_from_slice(b"null"),
        Some(files) => {
            body.push(b'[');
            for (index, file) in files.iter().enumerate() {
                if index > 0 {
                    body.push(b',');
                }
                body.extend_from_slice(b"{\"type\":");
                write_json(&mut body, &file.kind);
                body.extend_from_slice(b",\"data\":");
                match &file.data {
                    Data::Base64(text) => {
                        body.push(b'"');
                        body.extend_from_slice(text.as_bytes());
                        body.push(b'"');
                    }
                    Data::Verbatim(text) => write_json(&mut body, text),
                }
                body.push(b'}');
            }
            body.push(b']');
        }
    }
    body.extend_from_slice(b",\"error\":");
    write_json(&mut body, answer.error);
    body.push(b'}');
    Bytes::from(body)
}

fn write_json<T: Serialize + ?Sized>(body: &mut Vec<u8>, value: &T) {
    serde_json::to_writer(body, value).expect("strings and JSON values always serialize");
}

/// `200 application/json` with a rendered answer.
pub fn json_answer(body: Bytes) -> Response {
    ([(CONTENT_TYPE, "application/json")], body).into_response()
}

/// `200 text/plain` with a new task's id, bare (not JSON-quoted).
pub fn id_answer(id: String) -> Response {
    ([(CONTENT_TYPE, "text/plain; charset=utf-8")], id).into_response()
}
