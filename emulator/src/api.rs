//! The task API: POST, GET and DELETE on every operation, and `GetTaskStatus`.

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::rejection::BytesRejection;
use axum::extract::{Extension, Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use axum::routing::{MethodRouter, get, post};
use http_body::Body as _;
use std::pin::Pin;

use crate::auth::{self, require_token};
use crate::limits::{self, Client};
use crate::operations::{Operation, parse_submission};
use crate::problem::Problem;
use crate::results::produce;
use crate::server::AppState;
use crate::tasks::{Outcome, Task, View, id_answer, json_answer};

/// API routes on lower-case paths without the optional `/ocr` segment (see `server::normalize`);
/// with `discard_bodies`, submissions are counted and thrown away (`--discard-bodies`).
pub fn routes(discard_bodies: bool) -> Router<AppState> {
    let router = Router::new()
        .route("/connect/token", post(auth::issue_token))
        .route("/v5.0/utilities/gettaskstatus", get(task_status));
    Operation::ALL
        .into_iter()
        .fold(router, |router, operation| {
            let path = format!("/v5.0/{}", operation.name().to_ascii_lowercase());
            router.route(&path, operation_routes(operation, discard_bodies))
        })
}

fn operation_routes(operation: Operation, discard_bodies: bool) -> MethodRouter<AppState> {
    let routes = get(move |State(state), headers, uri| fetch(state, operation, headers, uri))
        .delete(move |State(state), headers, uri| remove(state, operation, headers, uri));
    if discard_bodies {
        routes.post(move |State(state), headers, body| discard(state, operation, headers, body))
    } else {
        routes.post(move |State(state), Extension(client), headers, body| {
            submit(state, operation, client, headers, body)
        })
    }
}

/// `GET /v5.0/ocr/{Operation}?id=`: the task's answer with its results.
async fn fetch(
    state: AppState,
    operation: Operation,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, Problem> {
    authorize(&state, operation, &headers)?;
    answer(&state, &uri, View::Full)
}

/// `GET /v5.0/ocr/Utilities/GetTaskStatus?id=`: the task's answer without results.
async fn task_status(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, Problem> {
    require_token(&state, &headers)?;
    answer(&state, &uri, View::StatusOnly)
}

fn answer(state: &AppState, uri: &Uri, view: View) -> Result<Response, Problem> {
    Ok(json_answer(state.tasks.answer(&task_id(uri)?, view)))
}

/// `DELETE /v5.0/ocr/{Operation}?id=`: forgets the task (unknown ids too).
async fn remove(
    state: AppState,
    operation: Operation,
    headers: HeaderMap,
    uri: Uri,
) -> Result<StatusCode, Problem> {
    authorize(&state, operation, &headers)?;
    state.tasks.remove(&task_id(&uri)?);
    Ok(StatusCode::OK)
}

/// `POST /v5.0/ocr/{Operation}`: validates the body, produces the task's results and answers
/// its id. With `--max-open-tasks` the submission first takes a place among the client's open
/// tasks, before its body is looked at.
async fn submit(
    state: AppState,
    operation: Operation,
    client: Client,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Problem> {
    authorize(&state, operation, &headers)?;
    let reservation = match state.config.max_open_tasks {
        None => None,
        Some(limit) => match state.tasks.reserve(&client, limit) {
            Some(reservation) => Some(reservation),
            None => {
                state.stats.record_open_task_limited();
                return Err(limits::open_task_limited(limit));
            }
        },
    };
    let body = body?;
    let id = operation.new_task_id();
    let schedule = state.schedule();
    let task_id = id.clone();
    // Decoding, hashing and rendering a large document must not hold up the async workers.
    let task = tokio::task::spawn_blocking(move || {
        let submission = parse_submission(operation, &body)?;
        let outcome = produce(&submission);
        let name = operation.name().to_owned();
        Ok::<_, Problem>(Task::new(&task_id, name, schedule, outcome, Some(body)))
    })
    .await
    .map_err(|error| Problem::new(StatusCode::INTERNAL_SERVER_ERROR, error.to_string()))??;
    match reservation {
        Some(reservation) => state.tasks.insert_reserved(reservation, id.clone(), task),
        None => state.tasks.insert(id.clone(), task),
    }
    state.stats.record_task_submitted();
    Ok(id_answer(id))
}

/// `POST /v5.0/ocr/{Operation}` with `--discard-bodies`: reads the body to its end, counting
/// it, and answers the id of a task that ends in `Error`.
async fn discard(
    state: AppState,
    operation: Operation,
    headers: HeaderMap,
    mut body: Body,
) -> Result<Response, Problem> {
    authorize(&state, operation, &headers)?;
    let mut bytes = 0u64;
    while let Some(frame) = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
        let frame = frame.map_err(|error| Problem::bad_request(error.to_string()))?;
        bytes += frame.data_ref().map_or(0, |data| data.len() as u64);
    }
    state.stats.record_discarded(bytes);
    let id = operation.new_task_id();
    let outcome = Outcome::failed("The emulator discarded the body (--discard-bodies).");
    let task = Task::new(
        &id,
        operation.name().to_owned(),
        state.schedule(),
        outcome,
        None,
    );
    state.tasks.insert(id.clone(), task);
    state.stats.record_task_submitted();
    Ok(id_answer(id))
}

/// Trial operations need no token.
fn authorize(state: &AppState, operation: Operation, headers: &HeaderMap) -> Result<(), Problem> {
    if operation.is_trial() {
        Ok(())
    } else {
        require_token(state, headers)
    }
}

/// The `id` query parameter, percent-decoded; any string is a valid id.
fn task_id(uri: &Uri) -> Result<String, Problem> {
    let Query(parameters) = Query::<Vec<(String, String)>>::try_from_uri(uri)
        .map_err(|rejection| Problem::bad_request(rejection.body_text()))?;
    parameters
        .into_iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("id"))
        .map(|(_, id)| id)
        .ok_or_else(|| Problem::bad_request("The query parameter \"id\" is missing."))
}
