//! The heartbeat of one worker process: it says the worker is alive, renews the leases the
//! worker holds, and shares the account's rate among the live workers: each takes its share
//! of the total maximum rate, and a `429` seen by one slows all for a while.

use super::db::{Link, sleep_unless};
use super::journal::LIVE;
use crate::cancel::Cancel;
use crate::client::Client;
use crate::error::Result;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// How often a worker beats.
pub(crate) const HEARTBEAT: Duration = Duration::from_secs(2);
/// How long a worker that joins a running batch waits, at most, for the others to count it.
const JOIN_WAIT: Duration = Duration::from_secs(6);
/// How often it looks whether they did.
const JOIN_POLL: Duration = Duration::from_millis(100);
/// A worker not heard from for this many beats is not counted as live.
const BEATS_TO_DEATH: i32 = 5;
/// How long after a `429` seen by any worker every worker keeps a smaller share.
const THROTTLE_MEMORY_SECONDS: f64 = 5.0;
/// The part of its share a worker keeps then. (Half of it for 10 s cost a batch held at the
/// limit a third of its throughput: on a busy machine requests reach the service unevenly,
/// and a few `429`s come even when the shares add up to the limit.)
const THROTTLED_SHARE: f64 = 0.8;
/// The slowest share a throttled worker slows to (requests per second).
const SLOWEST_SHARE: f64 = 0.5;

/// One worker process of a batch.
pub struct Heart<'a> {
    pub link: Link,
    pub batch: &'a str,
    pub owner: &'a str,
    pub jobs: i32,
    pub lease: Duration,
    pub client: &'a Client,
    /// The inputs the worker's threads work on, whose leases each beat renews.
    pub held: &'a std::sync::Mutex<Vec<i64>>,
}

/// The name of this host, as `--status` shows it.
pub fn host_name() -> String {
    ["HOSTNAME", "COMPUTERNAME"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|h| !h.is_empty()))
        .or_else(|| {
            std::fs::read_to_string("/etc/hostname")
                .ok()
                .map(|h| h.trim().to_string())
                .filter(|h| !h.is_empty())
        })
        .unwrap_or_else(|| "unknown".to_string())
}

impl Heart<'_> {
    /// Beats every `HEARTBEAT` until `stop`, then says goodbye (gives back the leases still
    /// held and removes the worker's row): `stop` must be set only once every worker thread
    /// of this process has ended.
    /// The client's maximum rate is its share while this runs, and `total` again after.
    pub fn beat_until(&mut self, stop: &AtomicBool, total: Option<f64>) {
        let mut throttled = self.client.flow().stats().throttled;
        let mut requests = self.client.flow().stats().requests;
        let mut last = Instant::now();
        let mut share = self.client.flow().max_rate();
        while !stop.load(Ordering::Relaxed) {
            let stats = self.client.flow().stats();
            let seen_429 = stats.throttled > throttled;
            let recent_rate = (stats.requests - requests) as f64 / last.elapsed().as_secs_f64();
            (throttled, requests, last) = (stats.throttled, stats.requests, Instant::now());
            // A worker stopped by a cancel still beats (renewing its leases) until its threads
            // end; a beat that cannot reach the database gives up at `stop`.
            match self.beat(seen_429, Some(stop)) {
                Ok((live, slowed)) => {
                    // Without a total, the worker that saw the `429` is slowed by its client already.
                    let slowed = slowed && (total.is_some() || !seen_429);
                    let next = share_of(total, live, slowed, recent_rate);
                    if next != share {
                        self.client.flow().set_max_rate(next);
                        share = next;
                    }
                }
                Err(error) => {
                    crate::logging::log(crate::logging::Level::Warn, || error.message().to_string())
                }
            }
            let until = Instant::now() + HEARTBEAT;
            while Instant::now() < until && !stop.load(Ordering::Relaxed) {
                sleep_unless(None, Duration::from_millis(50));
            }
        }
        if share != total {
            self.client.flow().set_max_rate(total);
        }
        let (batch, owner) = (self.batch, self.owner);
        // Best effort, once: a worker that cannot say goodbye is forgotten after a few beats.
        // The worker threads have ended: the leases they still hold (a cancel, a fatal error)
        // go back now rather than when they run out.
        let _ = self.link.once(|c| {
            let mut tx = c.transaction()?;
            // Through the claims' index: a lease not yet run out is on an input not yet due.
            tx.execute(
                &format!(
                    "UPDATE ocrcloud_inputs SET lease_owner = NULL, lease_until = NULL \
                      WHERE batch = $1 AND state IN {LIVE} \
                        AND greatest(not_before, lease_until) > now() AND lease_owner = $2"
                ),
                &[&batch, &owner],
            )?;
            tx.execute(
                "DELETE FROM ocrcloud_workers WHERE batch = $1 AND worker = $2",
                &[&batch, &owner],
            )?;
            tx.commit()
        });
    }

    /// The first beat, before this worker sends any request: says it lives and takes its
    /// share of `total`. With a shared rate it then waits (at most `JOIN_WAIT`, or until
    /// `cancel`) until every other live worker has beaten since, and so counted this one and
    /// slowed to its new share: until then the shares would add up to more than the account's
    /// limit, and the `429`s would slow every worker for a while. While it waits it beats
    /// every `JOIN_POLL`, so that workers joining together count each other at once rather
    /// than each waiting out `JOIN_WAIT` for the others' first beat in [`Heart::beat_until`].
    /// When a worker that started before this one was counted, this one then waits one rate
    /// window more: that worker may have sent at its larger share in the last second, and
    /// the service's window still holds those requests.
    pub fn join(&mut self, total: Option<f64>, cancel: Option<&Cancel>) {
        let stop = AtomicBool::new(false);
        let mut slowed = match self.beat(false, Some(&stop)) {
            Ok((live, slowed)) => {
                self.client
                    .flow()
                    .set_max_rate(share_of(total, live, slowed, 0.0));
                slowed
            }
            Err(error) => {
                crate::logging::log(crate::logging::Level::Warn, || error.message().to_string());
                return;
            }
        };
        if total.is_none() {
            return;
        }
        let (batch, owner) = (self.batch, self.owner);
        let dead_after = dead_after_seconds();
        let until = Instant::now() + JOIN_WAIT;
        let mut since: Option<f64> = None;
        let mut older = 0;
        while Instant::now() < until && !cancel.is_some_and(Cancel::is_triggered) {
            // `since` is read after this worker's row was committed: a beat that started
            // later counted this worker.
            let behind = self.link.once(|c| {
                let row = c.query_one(
                    "SELECT extract(epoch FROM now())::float8, \
                            count(*) FILTER (WHERE worker <> $2 \
                                AND extract(epoch FROM seen_at)::float8 \
                                    <= coalesce($4::float8, 'infinity'::float8)), \
                            count(*) FILTER (WHERE started_at < (SELECT started_at \
                                FROM ocrcloud_workers WHERE batch = $1 AND worker = $2)), \
                            count(*) \
                       FROM ocrcloud_workers \
                      WHERE batch = $1 AND seen_at > now() - make_interval(secs => $3)",
                    &[&batch, &owner, &dead_after, &since],
                )?;
                Ok((
                    row.get::<_, f64>(0),
                    row.get::<_, i64>(1),
                    row.get::<_, i64>(2),
                    row.get::<_, i64>(3),
                ))
            });
            match behind {
                Ok((now, behind, started_before, live)) => {
                    since.get_or_insert(now);
                    older = older.max(started_before);
                    if behind == 0 {
                        // Workers that joined meanwhile wait for this one to count them.
                        self.client
                            .flow()
                            .set_max_rate(share_of(total, live, slowed, 0.0));
                        if older > 0 {
                            sleep_unless(cancel, crate::flow::WINDOW + crate::flow::WINDOW_GUARD);
                        }
                        return;
                    }
                }
                Err(_) => return,
            }
            sleep_unless(cancel, JOIN_POLL);
            // Beats again, counting the workers that joined meanwhile (they wait for this one
            // to count them) and taking the share that leaves.
            match self.beat(false, Some(&stop)) {
                Ok((live, now_slowed)) => {
                    slowed = now_slowed;
                    self.client
                        .flow()
                        .set_max_rate(share_of(total, live, slowed, 0.0));
                }
                Err(_) => return,
            }
        }
    }

    /// One beat, in one transaction: says this worker lives, renews its leases, notes a `429`
    /// it saw. Answers the live workers and whether any saw a `429` lately.
    pub fn beat(&mut self, seen_429: bool, stop: Option<&AtomicBool>) -> Result<(i64, bool)> {
        let (batch, owner, jobs) = (self.batch, self.owner, self.jobs);
        let host = host_name();
        let pid = i64::from(std::process::id());
        let lease = self.lease.as_secs_f64();
        let dead_after = HEARTBEAT.as_secs_f64() * f64::from(BEATS_TO_DEATH);
        let held = self.held.lock().unwrap_or_else(|e| e.into_inner()).clone();
        self.link.with_stop("cannot beat in", stop, |c| {
            let mut tx = c.transaction()?;
            tx.execute(
                "INSERT INTO ocrcloud_workers (batch, worker, host, pid, jobs) \
                 VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (batch, worker) DO UPDATE SET seen_at = now()",
                &[&batch, &owner, &host, &pid, &jobs],
            )?;
            tx.execute(
                "UPDATE ocrcloud_inputs SET lease_until = now() + make_interval(secs => $2) \
                  WHERE id = ANY($3) AND lease_owner = $1 AND lease_until IS NOT NULL",
                &[&owner, &lease, &held],
            )?;
            if seen_429 {
                tx.execute(
                    "UPDATE ocrcloud_batches SET throttled_at = now() WHERE name = $1",
                    &[&batch],
                )?;
            }
            let row = tx.query_one(
                "SELECT (SELECT count(*) FROM ocrcloud_workers \
                          WHERE batch = $1 AND seen_at > now() - make_interval(secs => $2)), \
                        coalesce((SELECT throttled_at > now() - make_interval(secs => $3) \
                                    FROM ocrcloud_batches WHERE name = $1), false)",
                &[&batch, &dead_after, &THROTTLE_MEMORY_SECONDS],
            )?;
            tx.commit()?;
            Ok((row.get(0), row.get(1)))
        })
    }
}

/// This worker's share of `total` when `live` workers share it, times `THROTTLED_SHARE`
/// (down to `SLOWEST_SHARE`) when `slowed`; without a total, half the `recent_rate` when
/// `slowed`.
fn share_of(total: Option<f64>, live: i64, slowed: bool, recent_rate: f64) -> Option<f64> {
    match total.map(|total| total / live.max(1) as f64) {
        Some(fair) if slowed => Some((fair * THROTTLED_SHARE).max(SLOWEST_SHARE)),
        None if slowed => Some((recent_rate / 2.0).max(SLOWEST_SHARE)),
        fair => fair,
    }
}

/// Seconds after which a silent worker no longer counts as live (for `--status`).
pub(crate) fn dead_after_seconds() -> f64 {
    HEARTBEAT.as_secs_f64() * f64::from(BEATS_TO_DEATH)
}
