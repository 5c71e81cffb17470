//! The client-wide request budget: one rate shared by every thread, learned from the server's
//! answers, a `Retry-After` that pauses the whole client, a retry budget, and a circuit breaker.
//!
//! - **Rate.** The client starts unlimited, or at its maximum rate (`ocr_client_set_max_rate`).
//!   A rate of r requests per second lets at most ⌊r⌋ requests go in any second (under one per
//!   second: one in any 1 / r seconds), plus `WINDOW_GUARD`: the sliding window that rate
//!   limiters keep, so a client held at a server's limit never passes it, not even in a burst (a
//!   token bucket holding one second's worth lets twice the rate into some second). Under a
//!   limit learned from a `429`, a request holds its place from when it is let through until a
//!   second after its answer came back: the server counted it at some moment in between, so
//!   however late a request reaches the server (a new connection, a thread that lost the CPU),
//!   the window never overlaps it. (Under a maximum rate or a `503` cut, a second from when it
//!   was let through, like a plain rate.)
//! - **A `429` teaches the limit.** The client's requests in flight or answered (not refused)
//!   since a second (and guard) before one that was refused are what the server's window held,
//!   or more: the rate becomes that many per second (one less if the rate was that already) and
//!   is held there, growing by one request per second every `LIMIT_PROBE_SPACING` without a
//!   `429`, instead of probing past it. Those counted in flight that come back refused are taken
//!   off again. A refused request takes no place in the window, and the answers to requests
//!   sent before the rate was last set, or more than `NEWS_FOR` before the answer, are no news.
//! - **A `503` cuts the rate (AIMD)** to `DECREASE` times the rate sent over the last second
//!   (at least `SLOWEST_RATE`), at most once a `CUT_SPACING`, and one request may go at once; every second without throttling
//!   adds `RECOVERY_SHARE` of the rate before the cut (at least `INCREASE_PER_SECOND`) requests
//!   per second up to `PLATEAU` of that rate, then `INCREASE_PER_SECOND`, until the maximum (or,
//!   for an unlimited client, twice the rate of the last cut, where it is unlimited again).
//! - **Shared `Retry-After`.** A `Retry-After` on a `429` or `503` makes every request of the
//!   client wait, not only the one that got it. Its resolution is whole seconds: behind a `429`
//!   with `Retry-After: N` the server's real wait is anything over N - 1 s, up to N s. So when
//!   the client's own record shows requests that the server accepted in the second before the
//!   refused one, it pauses N - 1 s for certain, and the learned window holds the rest back until
//!   a slot of that second is free; without such a record it pauses N s.
//! - **Retry budget.** A retry costs `RETRY_COST` units of a quota of `RETRY_QUOTA` (a retry
//!   after a timeout `TIMEOUT_RETRY_COST`); each success gives one back. With the quota spent,
//!   failures are not retried, so an outage does not multiply the client's traffic.
//! - **Circuit breaker.** `BREAKER_FAILURES` failures in a row (5xx or no connection) within
//!   `BREAKER_WINDOW` open it: requests then fail at once, without being sent, until a probe,
//!   let through every `BREAKER_COOLDOWN`, succeeds. `ocr_client_set_circuit_breaker` turns it
//!   off.
//!
//! Waiting for the budget honours each call's deadline and cancel switch. The logic lives in
//! `State`, whose methods take the time as an argument (the tests give them a fake clock).

use crate::call::Call;
use crate::error::{Code, Error, Result};
use crate::logging::{Level, log};
use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The span in which a rate limit counts requests (the emulator's, and the usual one).
pub(crate) const WINDOW: Duration = Duration::from_secs(1);
/// Added to every window of the rate: requests reach the server a little after they are let
/// through, and not all equally late.
pub(crate) const WINDOW_GUARD: Duration = Duration::from_millis(20);
/// A `429` says something about the rate only for a request sent at most this long before it
/// came back (so the client keeps `WINDOW` + `WINDOW_GUARD` + this of its history).
pub(crate) const NEWS_FOR: Duration = Duration::from_millis(500);
/// A limit learned from a `429` grows by one request per second every this long without one.
pub(crate) const LIMIT_PROBE_SPACING: Duration = Duration::from_secs(10);
/// The rate after a `503`, as a share of the rate sent over the last second.
pub(crate) const DECREASE: f64 = 0.8;
/// Requests per second added for each second without throttling, at least...
pub(crate) const INCREASE_PER_SECOND: f64 = 1.0;
/// ...or this share of the rate before the last cut, up to `PLATEAU` of that rate: back near
/// it in about two seconds, then probing slowly.
pub(crate) const RECOVERY_SHARE: f64 = 0.1;
/// The share of the rate before the last cut where fast recovery ends.
pub(crate) const PLATEAU: f64 = 0.95;
/// One cut by a `503` at most per this long: the answers to requests sent before a cut say
/// nothing about the new rate. (Cutting at each of them took a burst down to a quarter.)
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
    /// `429`: the account's rate limit, with the server's `Retry-After`.
    Limited(Option<Duration>),
    /// `503`: the service is overloaded, with its `Retry-After`.
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
    /// Whether the rate in force was learned from a `429` (held) or cut by a `503` (AIMD).
    learned: bool,
    /// What the last `429` that was news counted.
    counted: Option<Counted>,
    /// The rate at the last cut, for the way back.
    cut_from: f64,
    /// When the rate was last set by a `429` or `503`.
    cut_at: Instant,
    raised: Instant,
    /// Requests let through and not answered yet.
    in_flight: usize,
    /// Where the places in the window of the requests answered over the last `WINDOW` +
    /// `WINDOW_GUARD` + `NEWS_FOR` (longer for a rate under one per second) began (at their
    /// answer under a learned limit, else at their sending), oldest first; `429`s and failures
    /// hold none.
    answered: VecDeque<Instant>,
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
        Flow {
            state: Mutex::new(State::new(Instant::now())),
        }
    }
}

/// The requests that a `429` at `at` showed the server's window to hold, `held` of them.
#[derive(Debug)]
struct Counted {
    at: Instant,
    held: f64,
}

/// A request let through: when, and whether as the breaker's probe.
#[derive(Debug)]
struct Admission {
    probe: bool,
    sent: Instant,
}

/// A request let through by [`Flow::admit`], to be given back with [`Flow::record`]; dropped
/// unrecorded (a panic in between), it stops counting as in flight all the same.
#[must_use]
#[derive(Debug)]
pub struct Ticket<'a> {
    flow: &'a Flow,
    admission: Option<Admission>,
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        if let Some(admission) = self.admission.take() {
            self.flow.lock().abandon(&admission);
        }
    }
}

/// What the budget says to a request now.
#[derive(Debug)]
enum Decision {
    Go(Admission),
    Wait(Duration),
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
        state.learned = false;
    }

    /// The maximum rate set with [`Flow::set_max_rate`]; `None`: unlimited.
    pub fn max_rate(&self) -> Option<f64> {
        self.lock().ceiling
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
    pub fn admit(&self, call: &Call) -> Result<Ticket<'_>> {
        loop {
            call.check()?;
            let wait = {
                let mut state = self.lock();
                match state.admit(Instant::now())? {
                    Decision::Go(admission) => {
                        return Ok(Ticket {
                            flow: self,
                            admission: Some(admission),
                        });
                    }
                    Decision::Wait(wait) => wait,
                }
            };
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
    pub fn record(&self, mut ticket: Ticket, outcome: Outcome) {
        if let Some(admission) = ticket.admission.take() {
            let mut state = self.lock();
            let now = Instant::now();
            state.record(admission, outcome, now);
        }
    }

    /// How long from now until the budget lets the next request go: the wait that a `429`
    /// asks for, known better here than its whole-second `Retry-After` says.
    pub fn next_slot(&self) -> Duration {
        self.lock().wait(Instant::now())
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

/// The window of a rate r: at most ⌊r⌋ requests in a second (a rate limit counts whole
/// requests), or under one per second one in 1 / r seconds; plus `WINDOW_GUARD`.
fn window(rate: f64) -> (usize, Duration) {
    let span = if rate >= 1.0 {
        WINDOW
    } else {
        Duration::try_from_secs_f64(1.0 / rate).unwrap_or(Duration::MAX)
    };
    (rate.max(1.0) as usize, span.saturating_add(WINDOW_GUARD))
}

impl State {
    fn new(now: Instant) -> State {
        State {
            ceiling: None,
            rate: None,
            learned: false,
            counted: None,
            cut_from: 0.0,
            cut_at: now,
            raised: now,
            in_flight: 0,
            answered: VecDeque::new(),
            paused_until: None,
            quota: RETRY_QUOTA,
            breaker: true,
            failures: 0,
            first_failure: now,
            open_until: None,
            probing: false,
            last_failure: String::new(),
            stats: Stats::default(),
        }
    }

    /// Lets a request go now, or says how long until one may; an error while the breaker is
    /// open (unless this request is its probe).
    fn admit(&mut self, now: Instant) -> Result<Decision> {
        let mut probe = false;
        if let Some(open_until) = self.open_until {
            if now < open_until || self.probing {
                return Err(self.breaker_error(open_until.max(now) - now));
            }
            probe = true;
        }
        let wait = self.wait(now);
        if !wait.is_zero() {
            return Ok(Decision::Wait(wait));
        }
        self.probing |= probe;
        self.stats.requests += 1;
        self.in_flight += 1;
        Ok(Decision::Go(Admission { probe, sent: now }))
    }

    /// How long until a request may go: the pause of a `Retry-After`, then room in the window
    /// of the rate.
    fn wait(&mut self, now: Instant) -> Duration {
        let window = self.rate.map(window);
        let keep = window.map_or(Duration::ZERO, |(_, span)| span);
        let keep = keep.max(WINDOW + WINDOW_GUARD + NEWS_FOR);
        let old = self
            .answered
            .partition_point(|&at| now.saturating_duration_since(at) >= keep);
        self.answered.drain(..old);
        if let Some(until) = self.paused_until
            && now < until
        {
            return until - now;
        }
        let Some((count, span)) = window else {
            return Duration::ZERO;
        };
        let first_inside = self
            .answered
            .partition_point(|&at| now.saturating_duration_since(at) >= span);
        let inside = self.answered.len() - first_inside;
        if self.in_flight.saturating_add(inside) < count {
            return Duration::ZERO;
        }
        if self.in_flight >= count {
            // Only an answer frees a place: look again shortly.
            return WINDOW_GUARD;
        }
        let frees = self.answered[self.answered.len() - (count - self.in_flight)].checked_add(span);
        frees.map_or(Duration::MAX, |at| at.saturating_duration_since(now))
    }

    fn record(&mut self, admission: Admission, outcome: Outcome, now: Instant) {
        self.abandon(&admission);
        // A request refused by the rate limit, or not served at all (no connection, a 5xx
        // other than 503), holds no place in the window. Under a learned limit a place lasts
        // from the answer, so that no request reaching the server late overlaps the server's
        // window; otherwise from the sending, as a plain rate spaces requests.
        if matches!(
            outcome,
            Outcome::Success | Outcome::Neutral | Outcome::Throttled(_)
        ) {
            let from = if self.learned { now } else { admission.sent };
            let at = self.answered.partition_point(|&t| t <= from);
            self.answered.insert(at, from);
        }
        match outcome {
            Outcome::Success => {
                self.quota = (self.quota + 1).min(RETRY_QUOTA);
                self.failures = 0;
                if self.open_until.take().is_some() {
                    log(Level::Info, || {
                        "the service answers again: the circuit breaker closed".to_string()
                    });
                }
                self.raise(now);
            }
            Outcome::Limited(retry_after) => {
                self.stats.throttled += 1;
                let held = self.held_since(admission.sent.checked_sub(WINDOW + WINDOW_GUARD));
                let news = admission.sent >= self.cut_at
                    && now.saturating_duration_since(admission.sent) <= NEWS_FOR;
                if news && held > 0 {
                    self.learn_limit(held, now);
                } else if let Some(counted) = &mut self.counted
                    && admission.sent < counted.at
                {
                    // In flight when the limit was learned, so counted, and refused after all.
                    counted.held = (counted.held - 1.0).max(SLOWEST_RATE);
                    let held = counted.held;
                    self.rate = self.rate.map(|rate| rate.min(held));
                }
                if let Some(wait) = retry_after {
                    // The server's window has room once the requests it accepted in the
                    // second before are a second old: the learned window waits for that.
                    let certain = if held > 0 {
                        wait.saturating_sub(WINDOW)
                    } else {
                        wait
                    };
                    self.pause(now, certain);
                }
            }
            Outcome::Throttled(retry_after) => {
                self.stats.throttled += 1;
                if let Some(wait) = retry_after {
                    self.pause(now, wait);
                }
                self.cut(now);
            }
            Outcome::Failure(what) => {
                self.last_failure = what;
                self.failed(now);
            }
            Outcome::Neutral => self.failures = 0,
        }
    }

    fn pause(&mut self, now: Instant, wait: Duration) {
        if let Some(until) = now.checked_add(wait).filter(|&until| until > now) {
            self.paused_until = Some(self.paused_until.map_or(until, |u| u.max(until)));
        }
    }

    /// A request let through is no longer in flight (answered, or given up without an answer).
    fn abandon(&mut self, admission: &Admission) {
        self.in_flight = self.in_flight.saturating_sub(1);
        if admission.probe {
            self.probing = false;
        }
    }

    /// The requests in flight, and those answered since `from` (`None`: since ever) and not
    /// refused: the server counted each at some moment after it was sent and before its answer.
    fn held_since(&self, from: Option<Instant>) -> usize {
        let start = from.map_or(0, |from| self.answered.partition_point(|&t| t < from));
        self.in_flight + self.answered.len() - start
    }

    /// After a `429` that is news (`held`: the requests in flight or answered since a second
    /// and the guard before the refused one was sent, and not refused; at least one): the
    /// server's window held at most these when it refused it; the rate becomes that many, or
    /// one less than the rate in force when that was no more. Those in flight that come back
    /// refused are taken off again. (With none of the client's requests in the server's window,
    /// others filled it: that teaches no rate, and its `Retry-After` holds in full.)
    fn learn_limit(&mut self, held: usize, now: Instant) {
        let held = held as f64;
        let rate = match self.rate {
            Some(rate) if held >= rate => (rate - 1.0).max(SLOWEST_RATE),
            _ => held,
        };
        if self.rate.is_some_and(|old| rate >= old) {
            return;
        }
        if !self.learned {
            // Places so far began at the sending; the learned window counts from the answers,
            // which came at the latest now.
            let recent = self.answered.len()
                - self.answered.partition_point(|&t| {
                    now.saturating_duration_since(t) >= WINDOW + WINDOW_GUARD
                });
            self.answered.clear();
            self.answered.extend(std::iter::repeat_n(now, recent));
        }
        self.rate = Some(rate);
        self.learned = true;
        self.counted = Some(Counted { at: now, held });
        self.cut_from = rate;
        self.cut_at = now;
        self.raised = now;
        log(Level::Info, || {
            format!("the service's rate limit was reached: the client holds {rate:.1} requests/s")
        });
    }

    /// The requests in flight or answered (not refused) over the last second.
    fn sent_rate(&self, now: Instant) -> f64 {
        self.held_since(now.checked_sub(WINDOW)) as f64
    }

    /// After a `503`: the rate cut to `DECREASE` times what was sent over the last second.
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
            self.learned = false;
            self.raised = now;
            // The window starts afresh: one request may go at once (after any Retry-After),
            // the next ones at the new rate.
            self.answered.clear();
            log(Level::Info, || {
                format!("the service is overloaded: the client slows to {rate:.1} requests/s")
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
        let step = if self.learned {
            1.0 / LIMIT_PROBE_SPACING.as_secs_f64()
        } else if rate < PLATEAU * self.cut_from {
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

    fn admitted(flow: &Flow) -> Ticket<'_> {
        flow.admit(&Call::default()).unwrap()
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// Lets a request go at `now` or fails the test.
    fn go(state: &mut State, now: Instant) -> Admission {
        match state.admit(now).unwrap() {
            Decision::Go(admission) => admission,
            Decision::Wait(wait) => panic!("told to wait {wait:?}"),
        }
    }

    /// A server's rate limit as the emulator keeps it: `limit` requests in a sliding window of
    /// one second by arrival time; a refused request takes no slot and is told the wait to a
    /// free slot rounded up to whole seconds.
    struct Limiter {
        limit: usize,
        accepted: VecDeque<Instant>,
    }

    impl Limiter {
        fn answer(&mut self, arrived: Instant) -> Outcome {
            while self
                .accepted
                .front()
                .is_some_and(|&at| arrived.duration_since(at) >= WINDOW)
            {
                self.accepted.pop_front();
            }
            if self.accepted.len() < self.limit {
                self.accepted.push_back(arrived);
                return Outcome::Success;
            }
            let wait = (self.accepted[0] + WINDOW).duration_since(arrived);
            Outcome::Limited(Some(Duration::from_secs(
                wait.as_secs() + u64::from(wait.subsec_nanos() > 0),
            )))
        }
    }

    struct Run {
        sent: u32,
        refused: u32,
        took: Duration,
    }

    /// `threads` threads making requests until `wanted` succeeded, against `limiter`, on a fake
    /// clock of 1 ms steps: each request reaches the server 0 to 14 ms after it was let through
    /// (a fixed pseudo-random sequence; a thread's first one 40 ms more, for a new connection),
    /// in that order, and is answered 2 ms later; a thread retries a 429 after the wait the
    /// budget answers, as the client does.
    fn simulate(state: &mut State, limiter: &mut Limiter, threads: usize, wanted: u32) -> Run {
        let t0 = Instant::now();
        let mut ready = vec![Some(t0); threads];
        let mut connected = vec![false; threads];
        let mut arriving: Vec<(Instant, Admission, usize)> = Vec::new();
        let mut answering: Vec<(Instant, Outcome, Admission, usize)> = Vec::new();
        let (mut sent, mut refused, mut succeeded, mut seed) = (0, 0, 0, 7u64);
        let mut now = t0;
        while succeeded < wanted {
            now += ms(1);
            arriving.sort_by_key(|request| std::cmp::Reverse(request.0));
            while arriving.last().is_some_and(|request| request.0 <= now) {
                let (arrived, admission, thread) = arriving.pop().unwrap();
                answering.push((now + ms(2), limiter.answer(arrived), admission, thread));
            }
            let (due, later) = answering.into_iter().partition(|answer| answer.0 <= now);
            answering = later;
            for (_, outcome, admission, thread) in due {
                let limited = matches!(outcome, Outcome::Limited(_));
                state.record(admission, outcome, now);
                if limited {
                    refused += 1;
                    ready[thread] = Some(now + state.wait(now));
                } else {
                    succeeded += 1;
                    ready[thread] = Some(now);
                }
            }
            for thread in 0..threads {
                if ready[thread].is_some_and(|at| at <= now)
                    && let Decision::Go(admission) = state.admit(now).unwrap()
                {
                    seed = seed
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    let connecting = if connected[thread] { 0 } else { 40 };
                    connected[thread] = true;
                    arriving.push((now + ms((seed >> 33) % 15 + connecting), admission, thread));
                    ready[thread] = None;
                    sent += 1;
                }
            }
            assert!(now - t0 < Duration::from_secs(600), "the run never ends");
        }
        Run {
            sent,
            refused,
            took: now - t0,
        }
    }

    #[test]
    fn many_threads_at_a_rate_limit_are_refused_rarely_and_use_nearly_every_slot() {
        let mut state = State::new(Instant::now());
        let mut limiter = Limiter {
            limit: 50,
            accepted: VecDeque::new(),
        };
        let run = simulate(&mut state, &mut limiter, 32, 1600);
        let ideal = Duration::from_secs(1600 / 50);
        let share = f64::from(run.refused) / f64::from(run.sent);
        // The burst before the first 429 comes back is refused (one per thread in flight);
        // after it the client holds the limit, with a 429 per probe every 10 s at most.
        assert!(share <= 0.03, "{} of {} refused", run.refused, run.sent);
        assert!(
            run.took <= ideal.mul_f64(1.1),
            "{:?} for an ideal of {ideal:?}",
            run.took
        );
        let rate = state.rate.expect("a learned rate");
        assert!((48.0..=51.0).contains(&rate), "{rate}");
    }

    #[test]
    fn a_429_teaches_the_limit_and_its_retry_after_1_pauses_only_until_a_slot_is_free() {
        let t0 = Instant::now();
        let mut state = State::new(t0);
        for i in 0..50 {
            let admission = go(&mut state, t0 + ms(i));
            state.record(admission, Outcome::Success, t0 + ms(i + 1));
        }
        let refused = go(&mut state, t0 + ms(100));
        state.record(
            refused,
            Outcome::Limited(Some(Duration::from_secs(1))),
            t0 + ms(101),
        );
        assert_eq!(state.rate, Some(50.0), "what the server accepted");
        assert_eq!(state.stats.throttled, 1);
        // A second (and the guard) after the 50 answers, which came at the latest now (their
        // places began at their sending until a limit was learned).
        let now = t0 + ms(101);
        assert_eq!(state.wait(now), WINDOW + WINDOW_GUARD);
        // Then the window lets one through per slot that frees, never 51 in a second.
        let mut times = Vec::new();
        let mut at = now;
        while at < t0 + Duration::from_secs(5) {
            if let Decision::Go(admission) = state.admit(at).unwrap() {
                times.push(at);
                state.record(admission, Outcome::Success, at);
            }
            at += ms(1);
        }
        for (i, &start) in times.iter().enumerate() {
            let inside = times[i..]
                .iter()
                .take_while(|&&t| t - start < WINDOW)
                .count();
            assert!(inside <= 50, "{inside} in the second from {:?}", start - t0);
        }
        assert!(times.len() >= 190, "{} in 4 s", times.len());
        // The next request (the rate grew to 50.39), refused with `Retry-After: 1`: 50 others
        // held a place since a second and the guard before it, so the rate becomes 50, and the
        // client waits only until a place is a second (and the guard) past its answer.
        let refused = loop {
            if let Decision::Go(admission) = state.admit(at).unwrap() {
                break admission;
            }
            at += ms(1);
        };
        state.record(
            refused,
            Outcome::Limited(Some(Duration::from_secs(1))),
            at + ms(1),
        );
        assert_eq!(state.rate, Some(50.0));
        let wait = state.wait(at + ms(1));
        let oldest = times[times.len() - 50];
        assert_eq!(wait, (oldest + WINDOW + WINDOW_GUARD) - (at + ms(1)));
        assert!(wait < ms(100), "{wait:?}");
        // A stale 429 (for a request sent before the rate was learned, so counted in flight
        // then) takes one off.
        let mut stale = go(&mut state, at + 2 * WINDOW);
        stale.sent = at;
        state.record(stale, Outcome::Limited(None), at + 2 * WINDOW);
        assert_eq!(state.rate, Some(49.0));
    }

    #[test]
    fn a_429_at_the_learned_rate_lowers_it_by_one_and_without_a_record_pauses_in_full_and_learns_nothing()
     {
        let t0 = Instant::now();
        let mut state = State::new(t0);
        let first = go(&mut state, t0);
        state.record(
            first,
            Outcome::Limited(Some(Duration::from_secs(1))),
            t0 + ms(1),
        );
        assert_eq!(
            state.rate, None,
            "nothing of this client's was in the window"
        );
        assert_eq!(
            state.wait(t0 + ms(1)),
            ms(1000),
            "no record of the server's window: the whole Retry-After"
        );

        let mut state = State::new(t0);
        state.rate = Some(10.0);
        state.learned = true;
        for i in 0..9 {
            let admission = go(&mut state, t0 + ms(10 * i));
            state.record(admission, Outcome::Success, t0 + ms(10 * i + 1));
        }
        let refused = go(&mut state, t0 + ms(100));
        state.record(refused, Outcome::Limited(None), t0 + ms(101));
        assert_eq!(state.rate, Some(9.0), "9 accepted, and refused at 9 of 10");
    }

    #[test]
    fn a_learned_limit_is_probed_slowly_and_a_503_cuts_the_rate_and_it_recovers() {
        let t0 = Instant::now();
        let mut state = State::new(t0);
        state.rate = Some(40.0);
        state.cut_from = 40.0;
        state.learned = true;
        state.raised = t0;
        let admission = go(&mut state, t0);
        state.record(admission, Outcome::Success, t0 + Duration::from_secs(5));
        assert_eq!(state.rate, Some(40.5), "one more per second every 10 s");

        let mut state = State::new(t0);
        for i in 0..40 {
            let admission = go(&mut state, t0 + ms(i));
            state.record(admission, Outcome::Success, t0 + ms(i));
        }
        assert_eq!(state.rate, None);
        let overloaded = go(&mut state, t0 + ms(40));
        state.record(overloaded, Outcome::Throttled(None), t0 + ms(41));
        let cut = state.rate.expect("a rate after a 503");
        assert!((cut - 0.8 * 41.0).abs() < 1e-9, "{cut}: 0.8 x 41 sent");
        assert!(!state.learned);
        let admission = go(&mut state, t0 + ms(1100));
        state.record(admission, Outcome::Success, t0 + ms(1341));
        let raised = state.rate.unwrap();
        // 0.1 x 41 = 4.1 requests/s more per second, for 1.3 s.
        assert!(
            (raised - (cut + 4.1 * 1.3)).abs() < 1e-6,
            "{cut} -> {raised}"
        );
        let (second, third) = (go(&mut state, t0 + ms(1400)), go(&mut state, t0 + ms(1400)));
        state.record(second, Outcome::Throttled(None), t0 + ms(1401));
        assert!(
            state.rate.unwrap() < raised,
            "a second cut a second after the first"
        );
        let again = state.rate;
        state.record(third, Outcome::Throttled(None), t0 + ms(1402));
        assert_eq!(state.rate, again, "no second cut within a second");
    }

    #[test]
    fn the_rate_never_lets_more_than_its_count_into_a_window() {
        let t0 = Instant::now();
        for rate in [0.5, 2.5, 20.0, 50.9] {
            let mut state = State::new(t0);
            (state.ceiling, state.rate) = (Some(rate), Some(rate));
            let mut times = Vec::new();
            let mut at = t0;
            while at < t0 + Duration::from_secs(10) {
                if let Decision::Go(admission) = state.admit(at).unwrap() {
                    times.push(at);
                    state.record(admission, Outcome::Success, at);
                }
                at += ms(1);
            }
            let (count, span) = window(rate);
            for (i, &start) in times.iter().enumerate() {
                let inside = times[i..].iter().take_while(|&&t| t - start < span).count();
                assert!(inside <= count, "{rate}/s: {inside} within {span:?}");
            }
            let expected = 10.0 * count as f64 / span.as_secs_f64();
            assert!(
                (times.len() as f64 - expected).abs() <= count as f64 + 1.0,
                "{rate}/s: {} in 10 s",
                times.len()
            );
        }
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
