//! Access tokens: `POST /connect/token` and the bearer check of API calls.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::{Form, FromRequest, Multipart, Request, State};
use axum::http::header::{AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use percent_encoding::percent_decode_str;
use serde_json::json;
use uuid::Uuid;

use crate::problem::Problem;
use crate::server::AppState;

/// Issued tokens; each remembers when it was issued and how long it lives.
#[derive(Default)]
pub struct TokenStore {
    tokens: Mutex<HashMap<String, (Instant, Duration)>>,
}

impl TokenStore {
    fn issue(&self, lifetime: Duration) -> String {
        let token = format!("{}{}", Uuid::new_v4().simple(), Uuid::new_v4().simple());
        self.lock()
            .insert(token.clone(), (Instant::now(), lifetime));
        token
    }

    fn is_valid(&self, token: &str) -> bool {
        self.lock()
            .get(token)
            .is_some_and(|&(issued, lifetime)| issued.elapsed() < lifetime)
    }

    /// Forgets every token: all of them are expired from now on.
    pub fn clear(&self) {
        self.lock().clear();
    }

    pub fn evict_expired(&self) {
        self.lock()
            .retain(|_, &mut (issued, lifetime)| issued.elapsed() < lifetime);
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, (Instant, Duration)>> {
        self.tokens.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Checks `Authorization: Bearer <token>` (unless `--no-auth`).
pub fn require_token(state: &AppState, headers: &HeaderMap) -> Result<(), Problem> {
    if state.config.no_auth {
        return Ok(());
    }
    match bearer_token(headers) {
        None => Err(Problem::bearer_unauthorized(
            "An access token is required: send Authorization: Bearer <token> from POST /connect/token.",
        )),
        Some(token) if state.tokens.is_valid(token) => Ok(()),
        Some(_) => Err(Problem::bearer_unauthorized(
            "The access token is invalid or has expired.",
        )),
    }
}

/// The token of `Authorization: Bearer <token>`, if the request has one.
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("Bearer"))
        .map(|(_, token)| token.trim())
}

/// `POST /connect/token`: the OAuth 2 client credentials grant, with the credentials as form
/// fields or as HTTP Basic; the form may also be `multipart/form-data`.
pub async fn issue_token(
    State(state): State<AppState>,
    request: Request,
) -> Result<Response, Problem> {
    let basic = basic_credentials(request.headers());
    let form = read_form(request).await?;
    let field = |name: &str| {
        form.iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    };
    match field("grant_type") {
        Some("client_credentials") => {}
        Some(other) => {
            return Err(Problem::bad_request(format!(
                "The grant type \"{other}\" is not supported; use client_credentials."
            ))
            .with_error("unsupported_grant_type"));
        }
        None => {
            return Err(
                Problem::bad_request("The form field grant_type is missing.")
                    .with_error("invalid_request"),
            );
        }
    }
    let (client_id, client_secret) = match &basic {
        Some((id, secret)) => (Some(id.as_str()), Some(secret.as_str())),
        None => (field("client_id"), field("client_secret")),
    };
    let config = &state.config;
    if client_id != Some(config.client_id.as_str())
        || client_secret != Some(config.client_secret.as_str())
    {
        return Err(Problem::new(
            StatusCode::UNAUTHORIZED,
            "The client credentials are missing or wrong.",
        )
        .with_error("invalid_client"));
    }
    let token = state.tokens.issue(Duration::from_secs(config.token_ttl_s));
    let body = json!({
        "access_token": token,
        "expires_in": config.token_ttl_s,
        "token_type": "Bearer",
    });
    Ok(([(CACHE_CONTROL, "no-store")], Json(body)).into_response())
}

/// `Authorization: Basic base64(id:secret)`, each part form-urlencoded as RFC 6749 asks.
fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("Basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    let form_decode = |part: &str| {
        percent_decode_str(&part.replace('+', " "))
            .decode_utf8()
            .map(|text| text.into_owned())
            .ok()
    };
    Some((form_decode(id)?, form_decode(secret)?))
}

/// The fields of an `application/x-www-form-urlencoded` or `multipart/form-data` body.
async fn read_form(request: Request) -> Result<Vec<(String, String)>, Problem> {
    let content_type = request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let invalid =
        |status, detail: String| Problem::new(status, detail).with_error("invalid_request");
    if content_type.starts_with("multipart/form-data") {
        let mut multipart = Multipart::from_request(request, &())
            .await
            .map_err(|rejection| invalid(rejection.status(), rejection.body_text()))?;
        let mut fields = Vec::new();
        while let Some(field) = multipart
            .next_field()
            .await
            .map_err(|error| invalid(error.status(), error.body_text()))?
        {
            let name = field.name().unwrap_or_default().to_owned();
            let value = field
                .text()
                .await
                .map_err(|error| invalid(error.status(), error.body_text()))?;
            fields.push((name, value));
        }
        Ok(fields)
    } else if content_type.starts_with("application/x-www-form-urlencoded") {
        let Form(fields) = Form::<Vec<(String, String)>>::from_request(request, &())
            .await
            .map_err(|rejection| invalid(rejection.status(), rejection.body_text()))?;
        Ok(fields)
    } else {
        Err(invalid(
            StatusCode::BAD_REQUEST,
            "The body must be application/x-www-form-urlencoded (or multipart/form-data)."
                .to_owned(),
        ))
    }
}
