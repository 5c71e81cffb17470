//! Time to result: how long a user waits after a task completes, and how many requests it
//! costs, under a poll schedule. A deterministic simulation (no network, no clock).
//!
//! Task durations are log-normal with a median of [`MEDIAN_S`] seconds and a sigma of
//! [`SIGMA`] (in the logarithm), clipped to [`SHORTEST_S`] .. [`LONGEST_S`], drawn from a
//! SplitMix64 stream seeded with [`SEED`] (Box-Muller for the normal deviates). A schedule asks
//! at the times it gives; a task's wait is the time from its completion to the first request at
//! or after it, and its requests are all those up to that one. Deadlines are left out: the
//! library's 10 minute deadline would end the poll of the rare task longer than about 590 s.

use ocrcloud::poll::PollOptions;
use std::time::Duration;

/// Tasks simulated for the table and the test.
pub const TASKS: usize = 100_000;
/// The seed of the durations.
pub const SEED: u64 = 16;
/// The median task duration, in seconds.
pub const MEDIAN_S: f64 = 8.0;
/// The standard deviation of the duration's natural logarithm: the 95th percentile is about
/// 41 s and the mean about 13 s.
pub const SIGMA: f64 = 1.0;
/// The shortest task, in seconds.
pub const SHORTEST_S: f64 = 1.0;
/// The longest task, in seconds.
pub const LONGEST_S: f64 = 600.0;

/// `count` task durations in seconds, the same for the same `seed`.
pub fn durations(count: usize, seed: u64) -> Vec<f64> {
    crate::learning::normals(count, seed)
        .map(|normal| (MEDIAN_S * (SIGMA * normal).exp()).clamp(SHORTEST_S, LONGEST_S))
        .collect()
}

/// A poll schedule: the waits between requests, and whether the first request goes out at
/// once or after the first wait.
pub struct Schedule {
    pub name: String,
    pub asks_at_once: bool,
    /// The `n`-th wait (from 1), in seconds.
    pub wait: Box<dyn Fn(u32) -> f64>,
}

impl Schedule {
    /// The library's schedule with `options`: the first request at once (as `poll_until_done`
    /// and `poll_many` send it), then the waits of [`PollOptions::wait`].
    pub fn library(name: &str, options: PollOptions) -> Schedule {
        Schedule {
            name: name.to_string(),
            asks_at_once: true,
            wait: Box::new(move |n| options.wait(n).as_secs_f64()),
        }
    }

    /// A schedule of other clients: the first request after the first wait.
    fn other(name: &str, wait: impl Fn(u32) -> f64 + 'static) -> Schedule {
        Schedule {
            name: name.to_string(),
            asks_at_once: false,
            wait: Box::new(wait),
        }
    }
}

/// The library's default schedule, [`PollOptions::default`].
pub fn default_schedule() -> Schedule {
    Schedule::library(
        "ocrcloud default (PollOptions::default)",
        PollOptions::default(),
    )
}

/// The schedules of the anchors (api.md, section 5): the tutorial's fixed 2 s, the official
/// CLI's 6, 7, ..., 16 s (16 s from then on: the CLI itself gives up after 11 polls), fixed
/// 1 s, and 1 s growing 1.5 times up to 20 s.
pub fn anchors() -> Vec<Schedule> {
    vec![
        Schedule::other("tutorial: fixed 2 s", |_| 2.0),
        Schedule::other("official CLI: 6, 7, ..., 16 s", |n| (5 + n).min(16) as f64),
        Schedule::other("fixed 1 s", |_| 1.0),
        Schedule::other("1 s x 1.5 up to 20 s", |n| {
            (1.5f64.powi(n as i32 - 1)).min(20.0)
        }),
    ]
}

/// Other settings of the library's schedule, shown beside the default: the default before this
/// table (1 s x 1.5 up to 10 s), and neighbours of today's.
pub fn candidates() -> Vec<Schedule> {
    [
        (1000, 1.5, 10_000),
        (2000, 1.5, 4000),
        (2000, 1.5, 5000),
        (3000, 1.5, 10_000),
        (3000, 1.0, 3000),
        (5000, 1.0, 5000),
    ]
    .into_iter()
    .map(|(first_ms, factor, max_ms)| {
        let options = PollOptions {
            first_interval: Duration::from_millis(first_ms),
            backoff_factor: factor,
            max_interval: Duration::from_millis(max_ms),
            ..PollOptions::default()
        };
        let name = format!(
            "ocrcloud with {} s x {factor} up to {} s",
            first_ms as f64 / 1000.0,
            max_ms as f64 / 1000.0
        );
        Schedule::library(&name, options)
    })
    .collect()
}

/// What a schedule costs over many tasks.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Figures {
    /// The mean wait after completion, in seconds.
    pub mean_wait: f64,
    /// The 95th percentile of that wait (nearest rank), in seconds.
    pub p95_wait: f64,
    /// The mean number of requests per task.
    pub requests: f64,
}

impl Figures {
    /// Whether these figures are at least as good as `other` on both mean wait and requests
    /// per task, and better on one: `other` is then not worth choosing.
    pub fn dominate(&self, other: &Figures) -> bool {
        self.mean_wait <= other.mean_wait
            && self.requests <= other.requests
            && (self.mean_wait < other.mean_wait || self.requests < other.requests)
    }
}

/// The figures of `schedule` over tasks of these `durations` (seconds).
pub fn simulate(schedule: &Schedule, durations: &[f64]) -> Figures {
    let mut waits = Vec::with_capacity(durations.len());
    let mut requests = 0u64;
    for &duration in durations {
        let (mut at, mut n) = if schedule.asks_at_once {
            (0.0, 1)
        } else {
            ((schedule.wait)(1), 2)
        };
        requests += 1;
        while at < duration {
            at += (schedule.wait)(n);
            n += 1;
            requests += 1;
        }
        waits.push(at - duration);
    }
    waits.sort_by(f64::total_cmp);
    let rank = (durations.len() * 95).div_ceil(100).max(1);
    Figures {
        mean_wait: waits.iter().sum::<f64>() / durations.len() as f64,
        p95_wait: waits[rank - 1],
        requests: requests as f64 / durations.len() as f64,
    }
}
