//! The limits of `--rate-limit` and `--max-open-tasks`: who a request belongs to, the sliding
//! window of each client and the middleware that answers `429`.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use axum::extract::connect_info::Connected;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::serve::IncomingStream;

use crate::auth::bearer_token;
use crate::control;
use crate::listener::CountingListener;
use crate::problem::Problem;
use crate::server::AppState;
use crate::tls::TlsListener;

/// The length of the rate limit's sliding window.
const WINDOW: Duration = Duration::from_secs(1);

/// Whom a request's budgets belong to: its bearer token as sent (valid or not), or, without one,
/// the client's IP address.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Client {
    Token(Arc<str>),
    Address(IpAddr),
}

impl Client {
    fn of(request: &Request) -> Client {
        if let Some(token) = bearer_token(request.headers()) {
            return Client::Token(Arc::from(token));
        }
        let address = request
            .extensions()
            .get::<ConnectInfo<ClientAddr>>()
            .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |info| info.0.0.ip());
        Client::Address(address)
    }
}

/// The peer address of a connection, as request extension `ConnectInfo<ClientAddr>`; axum only
/// knows how to get it from a bare `TcpListener`, and ours are wrapped.
#[derive(Clone, Copy, Debug)]
pub struct ClientAddr(pub SocketAddr);

impl Connected<IncomingStream<'_, CountingListener>> for ClientAddr {
    fn connect_info(stream: IncomingStream<'_, CountingListener>) -> Self {
        ClientAddr(*stream.remote_addr())
    }
}

impl Connected<IncomingStream<'_, TlsListener>> for ClientAddr {
    fn connect_info(stream: IncomingStream<'_, TlsListener>) -> Self {
        ClientAddr(*stream.remote_addr())
    }
}

/// `--rate-limit`: the times of the requests each client was let through in the last second.
#[derive(Default)]
pub struct RateLimiter {
    windows: Mutex<HashMap<Client, VecDeque<Instant>>>,
}

impl RateLimiter {
    /// Lets a request of `client` through if fewer than `limit` of its requests were let through
    /// in the last second, and records it; otherwise returns how long until a slot frees.
    /// Refused requests take no slot.
    pub fn admit(&self, client: &Client, limit: u32) -> Result<(), Duration> {
        let now = Instant::now();
        let mut windows = self.lock();
        // Cloning a client is cheap: a reference count or an address.
        let window = windows.entry(client.clone()).or_default();
        while window
            .front()
            .is_some_and(|&admitted| now.duration_since(admitted) >= WINDOW)
        {
            window.pop_front();
        }
        if window.len() < limit as usize {
            window.push_back(now);
            Ok(())
        } else {
            let oldest = window.front().copied().unwrap_or(now);
            Err((oldest + WINDOW).saturating_duration_since(now))
        }
    }

    /// Forgets the windows of clients that sent nothing in the last second.
    pub fn evict_idle(&self) {
        let now = Instant::now();
        self.lock().retain(|_, window| {
            window
                .back()
                .is_some_and(|&admitted| now.duration_since(admitted) < WINDOW)
        });
    }

    pub fn clear(&self) {
        self.lock().clear();
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<Client, VecDeque<Instant>>> {
        self.windows.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Whole seconds for `Retry-After`: `wait` rounded up, at least 1.
pub fn retry_after_seconds(wait: Duration) -> u64 {
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    seconds.max(1)
}

/// Between the faults and the router: tags every API request with its [`Client`] (for
/// `--max-open-tasks`) and applies `--rate-limit`. Controls pass untouched.
pub async fn enforce(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    if request.uri().path().starts_with(control::PREFIX) {
        return next.run(request).await;
    }
    let client = Client::of(&request);
    let refused = state
        .config
        .rate_limit
        .and_then(|limit| Some((limit, state.rate.admit(&client, limit).err()?)));
    if let Some((limit, wait)) = refused {
        state.stats.record_rate_limited();
        let seconds = retry_after_seconds(wait);
        return Problem::new(
            StatusCode::TOO_MANY_REQUESTS,
            format!(
                "Rate limit exceeded: at most {limit} requests per second per token \
                 (--rate-limit {limit}). Retry after {seconds} s."
            ),
        )
        .with_retry_after(seconds)
        .into_response();
    }
    request.extensions_mut().insert(client);
    next.run(request).await
}

/// The `429` of `--max-open-tasks`.
pub fn open_task_limited(limit: u32) -> Problem {
    Problem::new(
        StatusCode::TOO_MANY_REQUESTS,
        format!(
            "Too many open tasks: at most {limit} tasks per token may be Pending or Processing \
             at once (--max-open-tasks {limit}). Retry when one has finished."
        ),
    )
    .with_retry_after(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_admits_limit_requests_then_says_how_long_to_wait() {
        let limiter = RateLimiter::default();
        let client = Client::Token(Arc::from("a"));
        for _ in 0..3 {
            assert_eq!(limiter.admit(&client, 3), Ok(()));
        }
        let wait = limiter.admit(&client, 3).unwrap_err();
        assert!(wait > Duration::ZERO && wait <= WINDOW, "{wait:?}");
        assert_eq!(
            limiter.admit(&Client::Address(IpAddr::V4(Ipv4Addr::LOCALHOST)), 3),
            Ok(())
        );
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        assert_eq!(retry_after_seconds(Duration::ZERO), 1);
        assert_eq!(retry_after_seconds(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_seconds(Duration::from_secs(1)), 1);
        assert_eq!(retry_after_seconds(Duration::from_millis(1001)), 2);
    }
}
