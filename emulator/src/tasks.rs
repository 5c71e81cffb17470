//! The task store: each task's lifecycle (Pending, Processing, final status) and its GET answers.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::Serialize;
use serde_json::{Value, json};

use crate::limits::Client;

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
    /// When the last GET of the task arrived, and the shortest time between two of its GETs.
    last_poll: Option<Instant>,
    shortest_poll_gap: Option<Duration>,
    /// Whose open-task budget a submitted task counts against (with `--max-open-tasks`).
    owner: Option<Client>,
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
            last_poll: None,
            shortest_poll_gap: None,
            owner: None,
        }
    }

    /// The same task with its lifecycle counted from `created` instead of from when it was made.
    pub fn starting_at(self, created: Instant) -> Task {
        Task { created, ..self }
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
    /// The shortest time between two GETs of the task (`None` before the second).
    pub shortest_poll_gap: Option<Duration>,
    /// How long the task stays `Pending`, then `Processing`.
    pub schedule: Schedule,
}

/// All tasks by id; a task older than the retention time no longer exists.
pub struct TaskStore {
    inner: Mutex<Inner>,
    retention: Duration,
}

#[derive(Default)]
struct Inner {
    tasks: HashMap<String, Task>,
    /// For `--max-open-tasks`: each client's submitted tasks that may still be open.
    open: HashMap<Client, OpenTasks>,
}

/// A client's submitted tasks not yet seen finished, and its submissions still being made.
#[derive(Default)]
struct OpenTasks {
    ids: Vec<String>,
    reserved: usize,
}

/// A place among a client's open tasks, held by a submission while its results are made; it
/// is given back when dropped unless the task is stored.
pub struct Reservation<'a> {
    store: &'a TaskStore,
    client: Client,
    stored: bool,
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        if !self.stored {
            let mut inner = self.store.lock();
            if let Some(open) = inner.open.get_mut(&self.client) {
                open.reserved = open.reserved.saturating_sub(1);
            }
        }
    }
}

impl TaskStore {
    pub fn new(retention: Duration) -> Self {
        TaskStore {
            inner: Mutex::default(),
            retention,
        }
    }

    pub fn insert(&self, id: String, task: Task) {
        self.lock().tasks.insert(id, task);
    }

    /// Reserves a place for a new task of `client` if fewer than `limit` of its tasks are
    /// `Pending` or `Processing` (or being submitted); deleted and expired tasks do not count.
    pub fn reserve(&self, client: &Client, limit: u32) -> Option<Reservation<'_>> {
        let mut inner = self.lock();
        let Inner { tasks, open } = &mut *inner;
        let entry = open.entry(client.clone()).or_default();
        entry.ids.retain(|id| {
            tasks.get(id).is_some_and(|task| {
                task.owner.as_ref() == Some(client)
                    && !self.expired(task)
                    && task.unfinished_status().is_some()
            })
        });
        if entry.ids.len() + entry.reserved >= limit as usize {
            return None;
        }
        entry.reserved += 1;
        Some(Reservation {
            store: self,
            client: client.clone(),
            stored: false,
        })
    }

    /// Stores a submitted task in the place that `reservation` holds.
    pub fn insert_reserved(&self, mut reservation: Reservation<'_>, id: String, mut task: Task) {
        reservation.stored = true;
        let mut inner = self.lock();
        let open = inner.open.entry(reservation.client.clone()).or_default();
        open.reserved = open.reserved.saturating_sub(1);
        open.ids.push(id.clone());
        task.owner = Some(reservation.client.clone());
        inner.tasks.insert(id, task);
    }

    /// The GET answer (a JSON body) for `id`, counting the poll.
    pub fn answer(&self, id: &str, view: View) -> Bytes {
        let mut inner = self.lock();
        let Some(task) = inner.tasks.get_mut(id).filter(|task| !self.expired(task)) else {
            return render(&Answer {
                id,
                task_status: "NotExist",
                response_status_code: "TaskNotFound",
                results: None,
                error: &Value::Null,
            });
        };
        task.polls += 1;
        let now = Instant::now();
        if let Some(last) = task.last_poll.replace(now) {
            let gap = now.saturating_duration_since(last);
            task.shortest_poll_gap = Some(task.shortest_poll_gap.map_or(gap, |g| g.min(gap)));
        }
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
        let inner = self.lock();
        let task = inner.tasks.get(id).filter(|task| !self.expired(task))?;
        Some(Inspection {
            operation: task.operation.clone(),
            task_status: task.current_status().to_owned(),
            request: task.request.clone(),
            polls: task.polls,
            shortest_poll_gap: task.shortest_poll_gap,
            schedule: task.schedule,
        })
    }

    pub fn remove(&self, id: &str) {
        self.lock().tasks.remove(id);
    }

    /// Forgets every task; submissions in progress keep their reservations.
    pub fn clear(&self) {
        let mut inner = self.lock();
        inner.tasks.clear();
        inner.open.retain(|_, open| {
            open.ids.clear();
            open.reserved > 0
        });
    }

    pub fn evict_expired(&self) {
        let mut inner = self.lock();
        let Inner { tasks, open } = &mut *inner;
        tasks.retain(|_, task| !self.expired(task));
        open.retain(|_, open| {
            open.ids.retain(|id| {
                tasks
                    .get(id)
                    .is_some_and(|task| task.unfinished_status().is_some())
            });
            !open.ids.is_empty() || open.reserved > 0
        });
    }

    fn expired(&self, task: &Task) -> bool {
        task.created.elapsed() >= self.retention
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
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
