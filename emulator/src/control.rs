//! Test controls under `/_emulator/`: reset, faults, fixtures, token expiry and statistics.

use std::borrow::Cow;
use std::io::Read;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::problem::{Problem, parse_json};
use crate::server::AppState;
use crate::tasks::{Data, Outcome, ResultFile, Schedule, Task, id_answer};

/// Paths starting with this are controls: no auth, no faults, no statistics.
pub const PREFIX: &str = "/_emulator/";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/_emulator/reset", post(reset))
        .route("/_emulator/faults", post(add_faults))
        .route("/_emulator/tasks", post(create_task))
        .route("/_emulator/tasks/{id}", get(inspect_task))
        .route("/_emulator/tokens/expire", post(expire_tokens))
        .route("/_emulator/stats", get(stats))
}

/// Forgets tasks, faults, statistics, tokens and rate windows. The body is read (and ignored) so that the
/// connection stays reusable.
async fn reset(State(state): State<AppState>, _body: Bytes) -> StatusCode {
    state.tasks.clear();
    state.faults.clear();
    state.stats.reset();
    state.tokens.clear();
    state.rate.clear();
    StatusCode::NO_CONTENT
}

async fn add_faults(
    State(state): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<StatusCode, Problem> {
    state.faults.add(&body?)?;
    Ok(StatusCode::NO_CONTENT)
}

/// Expires every issued token; the body is read and ignored, as for `reset`.
async fn expire_tokens(State(state): State<AppState>, _body: Bytes) -> StatusCode {
    state.tokens.clear();
    StatusCode::NO_CONTENT
}

async fn stats(State(state): State<AppState>) -> Json<Value> {
    Json(state.stats.to_json())
}

async fn inspect_task(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, Problem> {
    let inspection = state
        .tasks
        .inspect(&id)
        .ok_or_else(|| Problem::new(StatusCode::NOT_FOUND, format!("No task {id:?}.")))?;
    let request: Option<Value> = inspection
        .request
        .and_then(|body| serde_json::from_slice(&body).ok());
    Ok(Json(json!({
        "id": id,
        "operation": inspection.operation,
        "taskStatus": inspection.task_status,
        "request": request,
        "polls": inspection.polls,
        "shortestPollGapMs": inspection.shortest_poll_gap.map(|gap| gap.as_secs_f64() * 1e3),
        "pendingMs": inspection.schedule.pending.as_secs_f64() * 1e3,
        "processingMs": inspection.schedule.processing.as_secs_f64() * 1e3,
    })))
}

/// A task created directly; every field is optional.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct FixtureSpec {
    id: Option<String>,
    operation: Option<String>,
    task_status: Option<String>,
    response_status_code: Option<String>,
    results: Option<Vec<FixtureResult>>,
    error: Option<Value>,
    #[serde(default)]
    pending_ms: u64,
    #[serde(default)]
    processing_ms: u64,
}

/// One result of a fixture: its `type` and exactly one source of data.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FixtureResult {
    #[serde(rename = "type")]
    kind: String,
    data: Option<String>,
    text: Option<String>,
    file: Option<PathBuf>,
    generate: Option<Generate>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Generate {
    bytes: u64,
}

/// Creates one fixture (a JSON object; answers its id) or several (a non-empty array; answers
/// their ids, one per line, in order), all or none.
async fn create_task(
    State(state): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Problem> {
    let body = body?;
    let many = body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[');
    let specs: Vec<FixtureSpec> = if many {
        parse_json(&body)?
    } else {
        vec![parse_json(&body)?]
    };
    if specs.is_empty() {
        return Err(Problem::bad_request(
            "An array of fixtures needs at least one.",
        ));
    }
    let limit = state.config.max_body_bytes;
    let tasks = tokio::task::spawn_blocking(move || fixture_tasks(specs, limit))
        .await
        .map_err(|error| Problem::new(StatusCode::INTERNAL_SERVER_ERROR, error.to_string()))??;
    let ids: Vec<String> = tasks.iter().map(|(id, _)| id.clone()).collect();
    for (id, task) in tasks {
        state.tasks.insert(id, task);
    }
    Ok(id_answer(ids.join("\n")))
}

/// The tasks of fixtures whose results hold at most `limit` bytes together, with their ids,
/// their lifecycles counted from the same moment.
fn fixture_tasks(specs: Vec<FixtureSpec>, limit: usize) -> Result<Vec<(String, Task)>, Problem> {
    let mut budget = Budget { limit, left: limit };
    let made = specs
        .into_iter()
        .map(|spec| {
            let id = spec
                .id
                .clone()
                .unwrap_or_else(|| Uuid::new_v4().to_string());
            let task = fixture_task(&id, spec, &mut budget)?;
            Ok((id, task))
        })
        .collect::<Result<Vec<_>, Problem>>()?;
    // One moment for all: their pendingMs and processingMs count from it.
    let created = Instant::now();
    Ok(made
        .into_iter()
        .map(|(id, task)| (id, task.starting_at(created)))
        .collect())
}

/// The task of a fixture, its results taken from `budget`.
fn fixture_task(id: &str, spec: FixtureSpec, budget: &mut Budget) -> Result<Task, Problem> {
    let results = spec
        .results
        .map(|results| {
            results
                .into_iter()
                .map(|result| fixture_result(result, budget))
                .collect()
        })
        .transpose()?;
    let task_status = spec.task_status.unwrap_or_else(|| "Completed".to_owned());
    let response_status_code = spec
        .response_status_code
        .unwrap_or_else(|| default_response_status_code(&task_status).to_owned());
    let outcome = Outcome {
        task_status,
        response_status_code,
        results,
        error: spec.error.unwrap_or(Value::Null),
    };
    let schedule = Schedule {
        pending: Duration::from_millis(spec.pending_ms),
        processing: Duration::from_millis(spec.processing_ms),
    };
    let operation = spec.operation.unwrap_or_else(|| "RecognizePdf".to_owned());
    Ok(Task::new(id, operation, schedule, outcome, None))
}

fn default_response_status_code(task_status: &str) -> &'static str {
    match task_status {
        "Completed" => "Ok",
        "Error" => "Error",
        "NotExist" => "TaskNotFound",
        _ => "NotReady",
    }
}

/// What is left of a fixture's size limit (`--max-body-bytes`, for all its results together).
struct Budget {
    limit: usize,
    left: usize,
}

impl Budget {
    /// Takes `bytes` from what is left, or refuses with `400` before anything is allocated.
    fn take(&mut self, bytes: u64) -> Result<(), Problem> {
        match usize::try_from(bytes)
            .ok()
            .and_then(|b| self.left.checked_sub(b))
        {
            Some(left) => {
                self.left = left;
                Ok(())
            }
            None => Err(Problem::bad_request(format!(
                "The fixture's results would hold more than {} bytes (--max-body-bytes).",
                self.limit
            ))),
        }
    }
}

fn fixture_result(
    result: FixtureResult,
    budget: &mut Budget,
) -> Result<ResultFile<'static>, Problem> {
    let data = match (result.data, result.text, result.file, result.generate) {
        (Some(data), None, None, None) => Data::Verbatim(data),
        (None, Some(text), None, None) => Data::Base64(Cow::Owned(STANDARD.encode(text))),
        (None, None, Some(file), None) => Data::Base64(Cow::Owned(
            STANDARD.encode(read_fixture_file(&file, budget)?),
        )),
        (None, None, None, Some(Generate { bytes })) => {
            budget.take(bytes)?;
            Data::Base64(Cow::Owned(generated_base64(bytes as usize)))
        }
        _ => {
            return Err(Problem::bad_request(
                "Each result needs exactly one of data, text, file or generate.",
            ));
        }
    };
    Ok(ResultFile {
        kind: Cow::Owned(result.kind),
        data,
    })
}

/// The bytes of a fixture's `file`: a regular file (not a device or FIFO, which may never end)
/// within the budget.
fn read_fixture_file(file: &std::path::Path, budget: &mut Budget) -> Result<Vec<u8>, Problem> {
    let refuse =
        |reason: String| Problem::bad_request(format!("Cannot read {}: {reason}", file.display()));
    // Checked before opening: opening a FIFO would wait for a writer.
    let metadata = std::fs::metadata(file).map_err(|error| refuse(error.to_string()))?;
    if !metadata.is_file() {
        return Err(refuse("not a regular file".to_owned()));
    }
    let opened = std::fs::File::open(file).map_err(|error| refuse(error.to_string()))?;
    let length = opened
        .metadata()
        .map_err(|error| refuse(error.to_string()))?
        .len();
    budget.take(length)?;
    let mut bytes = Vec::with_capacity(length as usize);
    // At most the length seen: a file that grows meanwhile is cut, never read without end.
    opened
        .take(length)
        .read_to_end(&mut bytes)
        .map_err(|error| refuse(error.to_string()))?;
    Ok(bytes)
}

/// Base64 of `len` bytes where byte `i` is `i % 251`. 753 bytes (a multiple of both 3 and 251)
/// always encode to the same 1004 characters, so the text is that block repeated plus a tail.
fn generated_base64(len: usize) -> String {
    const BLOCK: usize = 753;
    let pattern = |count: usize| {
        (0..count)
            .map(|index| (index % 251) as u8)
            .collect::<Vec<u8>>()
    };
    let block = STANDARD.encode(pattern(BLOCK));
    let tail = STANDARD.encode(pattern(len % BLOCK));
    let mut text = String::with_capacity(block.len() * (len / BLOCK) + tail.len());
    for _ in 0..len / BLOCK {
        text.push_str(&block);
    }
    text.push_str(&tail);
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_base64_matches_encoding_the_pattern() {
        for len in [0, 1, 250, 251, 752, 753, 754, 10_000] {
            let bytes: Vec<u8> = (0..len).map(|index| (index % 251) as u8).collect();
            assert_eq!(generated_base64(len), STANDARD.encode(bytes), "{len}");
        }
    }
}
