//! The client-wide request budget: one adaptive rate shared by every thread, a `Retry-After`
//! that pauses the whole client, a retry budget, and a circuit breaker.
//!
//! - **Rate (AIMD).** The client starts unlimited, or at its maximum rate
//!   (`ocr_client_set_max_rate`). A `429` or `503` cuts the rate to `DECREASE` times the rate
//!   actually sent over the last second (at least `SLOWEST_RATE`), at most once a `CUT_SPACING`
//!   (the answers to requests sent before a cut are no news); every second without throttling
//!   adds `RECOVERY_SHARE` of the rate before the cut (at least `INCREASE_PER_SECOND`) requests
//!   per second up to `PLATEAU` of that rate, then `INCREASE_PER_SECOND`, until the maximum (or, for an unlimited client, twice the rate of the last cut,
//!   where it is unlimited again). AIMD rather than CUBIC: with one shared limit and few clients
//!   it settles as close under the limit, and it is a few lines that a reader can check. A
//!   token bucket holding one second's worth lets requests through at that rate.
//! - **Shared `Retry-After`.** A `Retry-After` on a `429` or `503` makes every request of the
//!   client wait until then, not only the one that got it.
//! - **Retry budget.** A retry costs `RETRY_COST` units of a quota of `RETRY_QUOTA` (a retry
//!   after a timeout `TIMEOUT_RETRY_COST`); each success gives one back. With the quota spent,
//!   failures are not retried, so an outage does not multiply the client's traffic.
//! - **Circuit breaker.** `BREAKER_FAILURES` failures in a row (5xx or no connection) within
//!   `BREAKER_WINDOW` open it: requests then fail at once, without being sent, until a probe,
//!   let through every `BREAKER_COOLDOWN`, succeeds. `ocr_client_set_circuit_breaker` turns it
//!   off.
//!
//! Waiting for the budget honours each call's deadline and cancel switch.

use crate::call::Call;
use crate::error::{Code, Error, Result};
use crate::logging::{Level, log};
use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The rate after a throttling answer, as a share of the rate sent over the last second.
pub(crate) const DECREASE: f64 = 0.8;
/// Requests per second added for each second without throttling, at least...
pub(crate) const INCREASE_PER_SECOND: f64 = 1.0;
/// ...or this share of the rate before the last cut, up to `PLATEAU` of that rate: back near
/// it in about two seconds, then probing slowly, since every probe past the limit costs a
/// `Retry-After` pause of the whole client.
pub(crate) const RECOVERY_SHARE: f64 = 0.1;
/// The share of the rate before the last cut where fast recovery ends.
pub(crate) const PLATEAU: f64 = 0.95;
/// One cut at most per this long: the throttling answers to requests sent before a cut say
/// nothing about the new rate. (Cutting at each of them took a burst of 429s down to a
/// quarter of the limit.)
pub(crate) const CUT_SPACING: Duration = Duration::from_secs(1);
/// The rate is never cut below this (requests per second).
pub(crate) const SLOWEST_RATE: f64 = 0.5;
/// The retry quota, in units.
pub(crate) const RETRY_QUOTA: u32 = 500;
/// What a retry costs.
pub(crate) const RETRY_COST: u32 = 5;
/// What a retry after a timeout costs.
pub(crate) const TIMEOUT_RETRY_COST: u32 = 10;
/// Failures in a row that open the breaker...
pub(crate) const BREAKER_FAILURES: u32 = 5;
/// ...within this time.
pub(crate) const BREAKER_WINDOW: Duration = Duration::from_secs(10);
/// How long an open breaker refuses requests before it lets one probe through.
pub(crate) const BREAKER_COOLDOWN: Duration = Duration::from_secs(5);

/// What an answer (or its absence) tells the budget.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// A success (2xx).
    Success,
    /// `429` or `503`, with the server's `Retry-After`.
    Throttled(Option<Duration>),
    /// Another 5xx, or no connection: the service may be down. What happened, for the
    /// breaker's message.
    Failure(String),
    /// Anything else (4xx): says nothing about the service's health.
    Neutral,
}

/// Counts for `ocr_client_stats`.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Stats {
    pub requests: u64,
    pub retries: u64,
    pub throttled: u64,
    pub token_fetches: u64,
    /// Requests per second allowed now; `None`: unlimited.
    pub rate: Option<f64>,
    pub breaker_open: bool,
    pub retry_quota: u32,
}

/// The budget of one client. Safe to share between threads.
#[derive(Debug)]
pub struct Flow {
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    /// The configured maximum; `None`: unlimited.
    ceiling: Option<f64>,
    /// The rate in force; `None`: unlimited.
    rate: Option<f64>,
    /// The rate at the last cut, for an unlimited client's way back.
    cut_from: f64,
    /// When the rate was last cut.
    cut_at: Instant,
    tokens: f64,
    refilled: Instant,
    raised: Instant,
    /// When requests were let through over the last second.
    recent: VecDeque<Instant>,
    paused_until: Option<Instant>,
    quota: u32,
    breaker: bool,
    failures: u32,
    first_failure: Instant,
    open_until: Option<Instant>,
    probing: bool,
    /// What the last failure was, for the breaker's message.
    last_failure: String,
    stats: Stats,
}

impl Default for Flow {
    fn default() -> Flow {
        let now = Instant::now();
        Flow {
            state: Mutex::new(State {
                ceiling: None,
                rate: None,
                cut_from: 0.0,
                cut_at: now,
                tokens: 0.0,
                refilled: now,
                raised: now,
                recent: VecDeque::new(),
                paused_until: None,
                quota: RETRY_QUOTA,
                breaker: true,
                failures: 0,
                first_failure: now,
                open_until: None,
                probing: false,
                last_failure: String::new(),
                stats: Stats::default(),
            }),
        }
    }
}

/// Whether a request was let through as the breaker's probe.
#[must_use]
pub struct Admission {
    probe: bool,
}

impl Flow {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sets the maximum rate (`None`: unlimited), which also becomes the rate in force.
    pub fn set_max_rate(&self, per_second: Option<f64>) {
        let mut state = self.lock();
        state.ceiling = per_second;
        state.rate = per_second;
        state.tokens = per_second.map_or(0.0, |r| r.max(1.0));
        state.refilled = Instant::now();
    }

    /// Turns the circuit breaker on or off.
    pub fn set_breaker(&self, enabled: bool) {
        let mut state = self.lock();
        state.breaker = enabled;
        state.open_until = None;
        state.probing = false;
        state.failures = 0;
    }

    /// Waits until the budget lets one request through, at most until the call's deadline;
    /// fails at once while the breaker is open (unless this request is its probe).
    pub fn admit(&self, call: &Call) -> Result<Admission> {
        loop {
            call.check()?;
            let now = Instant::now();
            let mut state = self.lock();
            let mut probe = false;
            if let Some(open_until) = state.open_until {
                if now < open_until || state.probing {
                    return Err(state.breaker_error(open_until.max(now) - now));
                }
                state.probing = true;
                probe = true;
            }
            let wait = match (state.paused_until, state.rate) {
                (Some(until), _) if now < until => until - now,
                (_, Some(rate)) => {
                    state.refill(now, rate);
                    if state.tokens >= 1.0 {
                        state.tokens -= 1.0;
                        Duration::ZERO
                    } else {
                        Duration::from_secs_f64((1.0 - state.tokens) / rate)
                    }
                }
                (_, None) => Duration::ZERO,
            };
            if wait.is_zero() {
                state.stats.requests += 1;
                state.recent.push_back(now);
                return Ok(Admission { probe });
            }
            if probe {
                state.probing = false;
            }
            drop(state);
            call.sleep(wait, || {
                Error::new(
                    Code::Timeout,
                    format!(
                        "waiting {:.2} s for the client's request budget would pass the deadline",
                        wait.as_secs_f64()
                    ),
                )
            })?;
        }
    }

    /// Learns from the outcome of a request that [`Flow::admit`] let through.
    pub fn record(&self, admission: Admission, outcome: Outcome) {
        let now = Instant::now();
        let mut state = self.lock();
        if admission.probe {
            state.probing = false;
        }
        match outcome {
            Outcome::Success => {
                state.quota = (state.quota + 1).min(RETRY_QUOTA);
                state.failures = 0;
                if state.open_until.take().is_some() {
                    log(Level::Info, || {
                        "the service answers again: the circuit breaker closed".to_string()
                    });
                }
                state.raise(now);
            }
            Outcome::Throttled(retry_after) => {
                state.stats.throttled += 1;
                if let Some(wait) = retry_after.filter(|w| !w.is_zero()) {
                    let until = now + wait;
                    state.paused_until = Some(state.paused_until.map_or(until, |u| u.max(until)));
                }
                state.cut(now);
            }
            Outcome::Failure(what) => {
                state.last_failure = what;
                state.failed(now);
            }
            Outcome::Neutral => state.failures = 0,
        }
    }

    /// Takes the cost of a retry of `error` from the quota; false (nothing taken) when the
    /// quota cannot pay it.
    pub fn spend_retry(&self, error: &Error) -> bool {
        let cost = if error.code() == Code::Timeout {
            TIMEOUT_RETRY_COST
        } else {
            RETRY_COST
        };
        let mut state = self.lock();
        if state.quota < cost {
            return false;
        }
        state.quota -= cost;
        state.stats.retries += 1;
        true
    }

    /// Counts a token request.
    pub fn token_fetched(&self) {
        self.lock().stats.token_fetches += 1;
    }

    /// The counts and the state now.
    pub fn stats(&self) -> Stats {
        let state = self.lock();
        Stats {
            rate: state.rate,
            breaker_open: state.open_until.is_some(),
            retry_quota: state.quota,
            ..state.stats
        }
    }
}

impl State {
    fn refill(&mut self, now: Instant, rate: f64) {
        let elapsed = now.saturating_duration_since(self.refilled).as_secs_f64();
        self.tokens = (self.tokens + elapsed * rate).min(rate.max(1.0));
        self.refilled = now;
    }

    /// The rate sent over the last second.
    fn sent_rate(&mut self, now: Instant) -> f64 {
        while self
            .recent
            .front()
            .is_some_and(|&at| now.saturating_duration_since(at) > Duration::from_secs(1))
        {
            self.recent.pop_front();
        }
        self.recent.len() as f64
    }

    fn cut(&mut self, now: Instant) {
        if self.rate.is_some() && now.saturating_duration_since(self.cut_at) < CUT_SPACING {
            return;
        }
        let sent = self.sent_rate(now).max(SLOWEST_RATE);
        let from = self.rate.map_or(sent, |rate| rate.min(sent));
        let rate = (from * DECREASE).max(SLOWEST_RATE);
        if self.rate.is_none_or(|old| rate < old) {
            self.cut_from = from;
            self.cut_at = now;
            self.rate = Some(rate);
            // One request may go at once (after any Retry-After); the rest are spaced.
            self.tokens = 1.0;
            self.refilled = now;
            self.raised = now;
            log(Level::Info, || {
                format!("the service is throttling: the client slows to {rate:.1} requests/s")
            });
        }
    }

    fn raise(&mut self, now: Instant) {
        let Some(rate) = self.rate else { return };
        let elapsed = now.saturating_duration_since(self.raised).as_secs_f64();
        if elapsed < 0.1 {
            return;
        }
        self.raised = now;
        let step = if rate < PLATEAU * self.cut_from {
            (RECOVERY_SHARE * self.cut_from).max(INCREASE_PER_SECOND)
        } else {
            INCREASE_PER_SECOND
        };
        let raised = rate + step * elapsed;
        self.rate = match self.ceiling {
            Some(ceiling) => Some(raised.min(ceiling)),
            None if raised >= 2.0 * self.cut_from => None,
            None => Some(raised),
        };
        if self.rate.is_none() {
            log(Level::Info, || {
                "no throttling for a while: the client is unlimited again".to_string()
            });
        }
    }

    fn failed(&mut self, now: Instant) {
        if !self.breaker {
            return;
        }
        if self.failures == 0 || now.saturating_duration_since(self.first_failure) > BREAKER_WINDOW
        {
            self.failures = 0;
            self.first_failure = now;
        }
        self.failures += 1;
        if self.failures >= BREAKER_FAILURES || self.open_until.is_some() {
            let reopening = self.open_until.is_some();
            self.open_until = Some(now + BREAKER_COOLDOWN);
            if !reopening {
                let failures = self.failures;
                log(Level::Info, || {
                    format!(
                        "the service looks down ({failures} failures in a row): the circuit \
                         breaker opened; one probe every {} s",
                        BREAKER_COOLDOWN.as_secs()
                    )
                });
            }
        }
    }

    fn breaker_error(&self, next_probe: Duration) -> Error {
        let mut error = Error::transient(
            Code::Network,
            format!(
                "the service looks down ({} failures in a row, the last: {}): requests fail at \
                 once until a probe succeeds; the next probe in {:.1} s \
                 (ocr_client_set_circuit_breaker turns this off)",
                self.failures,
                self.last_failure,
                next_probe.as_secs_f64()
            ),
        )
        .unsent();
        error.retry_after = Some(next_probe.max(Duration::from_millis(10)));
        error
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn admitted(flow: &Flow) -> Admission {
        flow.admit(&Call::default()).unwrap()
    }

    #[test]
    fn a_throttled_client_slows_down_and_recovers() {
        let flow = Flow::default();
        for _ in 0..40 {
            let a = admitted(&flow);
            flow.record(a, Outcome::Success);
        }
        assert_eq!(flow.stats().rate, None);
        let a = admitted(&flow);
        flow.record(a, Outcome::Throttled(None));
        let cut = flow.stats().rate.expect("a rate after a 429");
        assert!(
            (32.0..=33.0).contains(&cut),
            "{cut}: 0.8 x 41 sent in the last second"
        );
        assert_eq!(flow.stats().throttled, 1);
        std::thread::sleep(Duration::from_millis(300));
        let a = admitted(&flow);
        flow.record(a, Outcome::Success);
        let raised = flow.stats().rate.unwrap();
        // 0.1 x 41 = 4.1 requests/s more per second, for at least 0.3 s.
        assert!(
            raised > cut + 1.0 && raised < cut + 4.1,
            "{cut} -> {raised}"
        );
        let a = admitted(&flow);
        flow.record(a, Outcome::Throttled(None));
        assert_eq!(
            flow.stats().rate,
            Some(raised),
            "no second cut within a second"
        );
    }

    #[test]
    fn the_rate_spaces_requests() {
        let flow = Flow::default();
        flow.set_max_rate(Some(20.0));
        let started = Instant::now();
        for _ in 0..30 {
            let a = admitted(&flow);
            flow.record(a, Outcome::Success);
        }
        // 20 at once (one second's worth), then 10 at 20 per second.
        let took = started.elapsed();
        assert!(took >= Duration::from_millis(450), "{took:?}");
    }

    #[test]
    fn a_retry_after_pauses_every_request_and_waiting_honours_the_deadline() {
        let flow = Flow::default();
        let a = admitted(&flow);
        flow.record(a, Outcome::Throttled(Some(Duration::from_millis(300))));
        let short = Call::new(Some(Duration::from_millis(100)), None);
        assert_eq!(flow.admit(&short).err().unwrap().code(), Code::Timeout);
        let started = Instant::now();
        let _ = admitted(&flow);
        assert!(
            started.elapsed() >= Duration::from_millis(150),
            "{:?}",
            started.elapsed()
        );
    }

    #[test]
    fn the_retry_budget_runs_dry_and_refills() {
        let flow = Flow::default();
        let error = Error::transient(Code::Network, "down");
        let mut spent = 0;
        while flow.spend_retry(&error) {
            spent += 1;
        }
        assert_eq!(spent, RETRY_QUOTA / RETRY_COST);
        for _ in 0..RETRY_COST {
            let a = admitted(&flow);
            flow.record(a, Outcome::Success);
        }
        assert!(flow.spend_retry(&error));
        assert!(!flow.spend_retry(&error));
    }

    #[test]
    fn the_breaker_opens_after_failures_in_a_row_and_a_probe_closes_it() {
        let flow = Flow::default();
        for _ in 0..BREAKER_FAILURES {
            let a = admitted(&flow);
            flow.record(a, Outcome::Failure("refused".into()));
        }
        assert!(flow.stats().breaker_open);
        let refused = flow.admit(&Call::default()).err().unwrap();
        assert!(refused.message().contains("looks down"), "{refused}");
        assert!(refused.message().contains("the last: refused"), "{refused}");
        assert!(refused.unsent && refused.transient);
        {
            let mut state = flow.lock();
            state.open_until = Some(Instant::now());
        }
        let probe = admitted(&flow);
        assert!(flow.admit(&Call::default()).is_err(), "one probe at a time");
        flow.record(probe, Outcome::Success);
        assert!(!flow.stats().breaker_open);
        let _ = admitted(&flow);

        let off = Flow::default();
        off.set_breaker(false);
        for _ in 0..2 * BREAKER_FAILURES {
            let a = admitted(&off);
            off.record(a, Outcome::Failure("refused".into()));
        }
        assert!(!off.stats().breaker_open);
    }
}
