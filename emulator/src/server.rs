//! The shared state, the router and the front middleware (statistics, path spelling, faults).

use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::{Router, ServiceExt};
use rustls::ServerConfig;
use tokio::net::TcpListener;
use tower::Layer;

use crate::Config;
use crate::auth::TokenStore;
use crate::faults::{self, FaultQueue};
use crate::limits::{self, ClientAddr, RateLimiter};
use crate::listener::CountingListener;
use crate::problem::Problem;
use crate::stats::Stats;
use crate::tasks::{Schedule, TaskStore};
use crate::tls::TlsListener;
use crate::{api, control};

/// Everything the handlers share.
pub struct Emulator {
    pub config: Config,
    pub tasks: TaskStore,
    pub tokens: TokenStore,
    pub faults: FaultQueue,
    pub stats: Stats,
    pub rate: RateLimiter,
    /// The draws of `--processing-sigma` so far.
    pub draws: Draws,
}

/// A stream of standard normal deviates: SplitMix64 from a seed, Box-Muller.
#[derive(Default)]
pub struct Draws {
    count: std::sync::atomic::AtomicU64,
}

impl Draws {
    /// The next deviate of the stream of `seed`.
    pub fn normal(&self, seed: u64) -> f64 {
        let n = self
            .count
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let uniform = |k: u64| {
            let mut z = seed.wrapping_add(k.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            ((z >> 11) + 1) as f64 / (1u64 << 53) as f64
        };
        (-2.0 * uniform(2 * n).ln()).sqrt() * (std::f64::consts::TAU * uniform(2 * n + 1)).cos()
    }
}

pub type AppState = Arc<Emulator>;

impl Emulator {
    /// How long a new submitted task stays `Pending`, then `Processing` (drawn from the
    /// log-normal of `--processing-sigma` when it is above 0).
    pub fn schedule(&self) -> Schedule {
        let median = Duration::from_millis(self.config.processing_ms);
        let processing = if self.config.processing_sigma > 0.0 {
            let normal = self.draws.normal(self.config.seed);
            median.mul_f64((self.config.processing_sigma * normal).exp().min(1e6))
        } else {
            median
        };
        Schedule {
            pending: Duration::from_millis(self.config.pending_ms),
            processing,
        }
    }
}

/// Serves until SIGINT or SIGTERM, over TLS with `tls`.
pub async fn serve(
    listener: TcpListener,
    config: Config,
    tls: Option<Arc<ServerConfig>>,
) -> io::Result<()> {
    let state = Arc::new(Emulator {
        tasks: TaskStore::new(Duration::from_secs(config.retention_s)),
        tokens: TokenStore::default(),
        faults: FaultQueue::default(),
        stats: Stats::default(),
        rate: RateLimiter::default(),
        draws: Draws::default(),
        config,
    });
    tokio::spawn(evict_expired(Arc::clone(&state)));
    let listener = CountingListener::new(listener, Arc::clone(&state.stats.connections));
    let router = Router::new()
        .merge(api::routes(state.config.discard_bodies))
        .merge(control::routes())
        .fallback(|| async {
            Problem::new(StatusCode::NOT_FOUND, "There is nothing at this path.")
        })
        .method_not_allowed_fallback(|| async {
            Problem::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "This method is not allowed on this path.",
            )
        })
        .layer(DefaultBodyLimit::max(state.config.max_body_bytes))
        .with_state(Arc::clone(&state));
    // The limits sit behind the faults: a request that a fault answers never reaches them.
    let limited = middleware::from_fn_with_state(Arc::clone(&state), limits::enforce).layer(router);
    // Outside the router, so that path rewriting happens before routing.
    let verbose = state.config.verbose;
    let connections = Arc::clone(&state.stats.connections);
    let app = middleware::from_fn_with_state(state, front)
        .layer(limited)
        .into_make_service_with_connect_info::<ClientAddr>();
    match tls {
        None => {
            axum::serve(listener, app)
                .with_graceful_shutdown(shutdown_signal())
                .await
        }
        Some(config) => {
            let listener = TlsListener::new(listener, config, connections, verbose);
            axum::serve(listener, app)
                .with_graceful_shutdown(shutdown_signal())
                .await
        }
    }
}

/// Counts API requests, applies faults, rewrites the path for routing and logs with `--verbose`.
async fn front(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let response = if path.starts_with(control::PREFIX) {
        next.run(request).await
    } else {
        state.stats.record(&method, &path);
        let fault = state.faults.take(&method, &path);
        if let Some(uri) = normalize(request.uri()) {
            *request.uri_mut() = uri;
        }
        faults::answer(fault, request, next).await
    };
    if state.config.verbose {
        eprintln!(
            "{method} {path} -> {} ({} ms)",
            response.status().as_u16(),
            started.elapsed().as_millis()
        );
    }
    response
}

/// The routed spelling of an API path: lower case, without `/ocr` after `/v5.0`
/// (`/V5.0/OCR/RecognizePdf?id=X` becomes `/v5.0/recognizepdf?id=X`). Task ids are in the query,
/// which is kept as sent.
fn normalize(uri: &Uri) -> Option<Uri> {
    let mut path = uri.path().to_ascii_lowercase();
    if path.starts_with("/v5.0/ocr/") {
        path.replace_range("/v5.0".len().."/v5.0/ocr".len(), "");
    }
    let path_and_query = match uri.query() {
        Some(query) => format!("{path}?{query}"),
        None => path,
    };
    let mut parts = uri.clone().into_parts();
    parts.path_and_query = Some(path_and_query.parse().ok()?);
    Uri::from_parts(parts).ok()
}

/// Drops expired tasks and tokens, and idle rate windows, once a second.
async fn evict_expired(state: AppState) {
    let mut interval = tokio::time::interval(Duration::from_secs(1));
    loop {
        interval.tick().await;
        state.tasks.evict_expired();
        state.tokens.evict_expired();
        state.rate.evict_idle();
    }
}

async fn shutdown_signal() {
    tokio::select! {
        () = interrupted() => {}
        () = terminated() => {}
    }
}

async fn interrupted() {
    if tokio::signal::ctrl_c().await.is_err() {
        std::future::pending::<()>().await;
    }
}

#[cfg(unix)]
async fn terminated() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut terminate) => {
            terminate.recv().await;
        }
        Err(_) => std::future::pending().await,
    }
}

#[cfg(not(unix))]
async fn terminated() {
    std::future::pending().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_lowercases_and_drops_ocr() {
        let normalized = |uri: &str| normalize(&uri.parse().unwrap()).unwrap().to_string();
        assert_eq!(
            normalized("/V5.0/OCR/RecognizePdf?id=AbC"),
            "/v5.0/recognizepdf?id=AbC"
        );
        assert_eq!(normalized("/v5.0/RecognizePdf"), "/v5.0/recognizepdf");
        assert_eq!(normalized("/v5.0/ocr"), "/v5.0/ocr");
        assert_eq!(normalized("/Connect/Token"), "/connect/token");
    }
}
