//! Request and connection statistics served by `GET /_emulator/stats`.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::http::Method;
use serde_json::{Value, json};

/// Counts of API requests, TCP connections and TLS handshakes since start or the last reset.
#[derive(Default)]
pub struct Stats {
    requests: Mutex<RequestCounts>,
    pub connections: Arc<Connections>,
}

#[derive(Default)]
struct RequestCounts {
    requests: u64,
    by_route: BTreeMap<String, u64>,
    token_requests: u64,
    rate_limited: u64,
    open_task_limited: u64,
    discarded_bytes: u64,
    tasks_submitted: u64,
}

impl Stats {
    /// Counts one API request (`path` as sent, without the query).
    pub fn record(&self, method: &Method, path: &str) {
        let mut counts = self.requests.lock().unwrap_or_else(PoisonError::into_inner);
        counts.requests += 1;
        *counts
            .by_route
            .entry(format!("{method} {path}"))
            .or_default() += 1;
        if path.eq_ignore_ascii_case("/connect/token") {
            counts.token_requests += 1;
        }
    }

    /// Counts one `429` of `--rate-limit`.
    pub fn record_rate_limited(&self) {
        self.counts().rate_limited += 1;
    }

    /// Counts one `429` of `--max-open-tasks`.
    pub fn record_open_task_limited(&self) {
        self.counts().open_task_limited += 1;
    }

    /// Counts one task made by a submission (answered with its id).
    pub fn record_task_submitted(&self) {
        self.counts().tasks_submitted += 1;
    }

    /// Counts the bytes of a body that `--discard-bodies` threw away.
    pub fn record_discarded(&self, bytes: u64) {
        self.counts().discarded_bytes += bytes;
    }

    fn counts(&self) -> MutexGuard<'_, RequestCounts> {
        self.requests.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn reset(&self) {
        *self.requests.lock().unwrap_or_else(PoisonError::into_inner) = RequestCounts::default();
        self.connections.reset();
    }

    pub fn to_json(&self) -> Value {
        let counts = self.requests.lock().unwrap_or_else(PoisonError::into_inner);
        json!({
            "requests": counts.requests,
            "by_route": counts.by_route,
            "token_requests": counts.token_requests,
            "rate_limited": counts.rate_limited,
            "open_task_limited": counts.open_task_limited,
            "discarded_bytes": counts.discarded_bytes,
            "tasks_submitted": counts.tasks_submitted,
            "connections_open": self.connections.open.load(Ordering::SeqCst),
            "connections_max": self.connections.max.load(Ordering::SeqCst),
            "connections_total": self.connections.total.load(Ordering::SeqCst),
            "tls_handshakes": self.connections.handshakes.load(Ordering::SeqCst),
            "tls_handshake_failures": self.connections.handshake_failures.load(Ordering::SeqCst),
        })
    }
}

/// Open, most simultaneously open, and accepted TCP connections; completed and failed TLS
/// handshakes on them.
#[derive(Default)]
pub struct Connections {
    open: AtomicU64,
    max: AtomicU64,
    total: AtomicU64,
    handshakes: AtomicU64,
    handshake_failures: AtomicU64,
}

impl Connections {
    pub fn opened(&self) {
        self.total.fetch_add(1, Ordering::SeqCst);
        let open = self.open.fetch_add(1, Ordering::SeqCst) + 1;
        self.max.fetch_max(open, Ordering::SeqCst);
    }

    pub fn closed(&self) {
        self.open.fetch_sub(1, Ordering::SeqCst);
    }

    /// A TLS handshake completed.
    pub fn handshake_completed(&self) {
        self.handshakes.fetch_add(1, Ordering::SeqCst);
    }

    /// A TLS handshake failed or timed out; its connection is dropped.
    pub fn handshake_failed(&self) {
        self.handshake_failures.fetch_add(1, Ordering::SeqCst);
    }

    /// Starts counting afresh; the highest count starts at the connections open now.
    fn reset(&self) {
        self.total.store(0, Ordering::SeqCst);
        self.handshakes.store(0, Ordering::SeqCst);
        self.handshake_failures.store(0, Ordering::SeqCst);
        self.max
            .store(self.open.load(Ordering::SeqCst), Ordering::SeqCst);
    }
}
