//! The learned schedule on the stand-in of issue 25, against today's default and the best
//! fixed schedule for the true distribution: a deterministic simulation with a clock of its own.
//!
//! Tasks are submitted one every [`SPACING_S`] seconds and each is polled by its own "thread"
//! with the default options (learning on), through the library's own [`Schedule`] and
//! [`Durations`], in simulated time: a request at `t` sees the task done when `t` is at or past
//! its submission plus its duration. The first [`WARM_UP`] tasks teach the client; the next
//! ones are measured. Cost = wait after the task is done + [`COST`] x requests.
//!
//! The best fixed schedule is the dynamic program of [`Plan::on_grid`] for the true
//! distribution on a uniform grid of [`BEST_STEP_S`] seconds (no 200 ms floor): the best any
//! schedule that knows the distribution can do. All three run on the same durations.

use ocrcloud::operations::Operation;
use ocrcloud::poll::estimate::LogNormal;
use ocrcloud::poll::learned::Durations;
use ocrcloud::poll::plan::Plan;
use ocrcloud::poll::{PollOptions, Schedule, Step};
use ocrcloud::wire::Answer;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::{Duration, Instant};

/// What a request costs, in seconds of waiting.
pub const COST: f64 = 0.5;
/// Seconds between two submissions.
pub const SPACING_S: f64 = 0.5;
/// Tasks that teach the client before the measured ones.
pub const WARM_UP: usize = 80;
/// Measured tasks per distribution.
pub const MEASURED: usize = 2000;
/// The step of the best schedule's grid, in seconds.
pub const BEST_STEP_S: f64 = 0.05;
/// The seed of the durations.
pub const SEED: u64 = 25;
/// The task durations of the issue: (median s, sigma).
pub const DISTRIBUTIONS: [(f64, f64); 3] = [(4.0, 0.5), (12.0, 0.8), (30.0, 0.6)];

/// Mean wait after a task is done and mean requests per task.
#[derive(Clone, Copy, Debug)]
pub struct Outcome {
    pub wait: f64,
    pub requests: f64,
}

impl Outcome {
    pub fn cost(&self) -> f64 {
        self.wait + COST * self.requests
    }
}

/// `count` standard normal numbers, the same for the same `seed`: SplitMix64, then Box-Muller
/// (also the draws of `simulation.rs`).
pub fn normals(count: usize, seed: u64) -> impl Iterator<Item = f64> {
    let mut state = seed;
    let mut uniform = move || {
        // SplitMix64, then the top 53 bits as a number in (0, 1].
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        ((z >> 11) + 1) as f64 / (1u64 << 53) as f64
    };
    (0..count)
        .map(move |_| (-2.0 * uniform().ln()).sqrt() * (std::f64::consts::TAU * uniform()).cos())
}

/// `count` durations of `model` (seconds), the same for the same seed.
pub fn durations(model: LogNormal, count: usize, seed: u64) -> Vec<f64> {
    normals(count, seed)
        .map(|normal| (model.mu + model.sigma * normal).exp())
        .collect()
}

/// A schedule given as request times from the submission (the last repeated forever with the
/// last gap) over these durations.
pub fn fixed(times: &[f64], durations: &[f64]) -> Outcome {
    let gap = match times {
        [.., a, b] => b - a,
        _ => 1.0,
    };
    let (mut wait, mut requests) = (0.0, 0.0);
    for &d in durations {
        let mut n = 0;
        let mut at = 0.0;
        loop {
            at = times.get(n).copied().unwrap_or(at + gap);
            n += 1;
            if at >= d {
                break;
            }
        }
        wait += at - d;
        requests += n as f64;
    }
    Outcome {
        wait: wait / durations.len() as f64,
        requests: requests / durations.len() as f64,
    }
}

/// Today's default: the first request at once, then 3 s, x1.5, up to 5 s.
pub fn today(durations: &[f64]) -> Outcome {
    let options = PollOptions::default();
    let mut times = vec![0.0];
    for n in 1..2000 {
        let last = times[times.len() - 1];
        times.push(last + options.wait(n).as_secs_f64());
    }
    fixed(&times, durations)
}

/// The best fixed schedule's request times for `model`.
pub fn best_times(model: LogNormal) -> Vec<f64> {
    let end = model.quantile(0.999_99);
    let points = (end / BEST_STEP_S).ceil() as usize + 1;
    let grid: Vec<f64> = (0..points).map(|i| i as f64 * BEST_STEP_S).collect();
    let plan = Plan::on_grid(grid, |t| model.cdf(t), |t| model.partial_mean(t), COST, 0.0);
    plan.times().collect()
}

/// The learned schedule: every task through a [`Schedule`] of one client's [`Durations`], in
/// simulated time; the figures of the tasks after the warm-up.
pub fn learned(durations: &[f64]) -> Outcome {
    let options = PollOptions::default();
    let learned = Durations::default();
    let op = Operation::RECOGNIZE_PDF;
    let base = Instant::now();
    let at = |seconds: f64| base + Duration::from_secs_f64(seconds);
    let submitted = |task: usize| task as f64 * SPACING_S;
    let mut schedules: Vec<Schedule> = (0..durations.len())
        .map(|task| {
            Schedule::learning(
                &options,
                at(submitted(task)),
                &learned,
                op,
                Some(at(submitted(task))),
            )
        })
        .collect();
    // (time of the next request in microseconds, task), earliest first. A task's first wait
    // is decided when it is submitted, so submissions are events too.
    let micros = |seconds: f64| (seconds * 1e6).round() as u64;
    let mut events: BinaryHeap<Reverse<(u64, usize, bool)>> = (0..durations.len())
        .map(|task| Reverse((micros(submitted(task)), task, true)))
        .collect();
    let (mut wait, mut requests) = (0.0, 0.0);
    while let Some(Reverse((time, task, submission))) = events.pop() {
        let now = time as f64 / 1e6;
        let schedule = &mut schedules[task];
        if submission {
            let first = schedule.first_wait_at(at(now), Duration::ZERO);
            events.push(Reverse((micros(now + first.as_secs_f64()), task, false)));
            continue;
        }
        let attempt = schedule.attempt_at(at(now));
        let done = now >= submitted(task) + durations[task];
        let answer: Answer<()> = Answer {
            id: None,
            task_status: if done { "Completed" } else { "Processing" }.into(),
            response_status: None,
            results: Vec::new(),
            messages: Vec::new(),
            warnings: Vec::new(),
        };
        match schedule.next_at(at(now), "t", Ok(answer)) {
            Step::Wait(next) => {
                events.push(Reverse((micros(now + next.as_secs_f64()), task, false)))
            }
            Step::Done(outcome) => {
                assert!(outcome.is_ok(), "task {task} ended without completing");
                if task >= WARM_UP {
                    wait += now - (submitted(task) + durations[task]);
                    requests += attempt as f64;
                }
            }
        }
    }
    let measured = (durations.len() - WARM_UP) as f64;
    Outcome {
        wait: wait / measured,
        requests: requests / measured,
    }
}

/// One row of the table: today's, the best and the learned figures for one distribution,
/// over the measured tasks.
pub struct Row {
    pub median: f64,
    pub sigma: f64,
    pub today: Outcome,
    pub best: Outcome,
    pub learned: Outcome,
}

/// The table's rows, with `measured` tasks after the warm-up.
pub fn rows(measured: usize) -> Vec<Row> {
    DISTRIBUTIONS
        .iter()
        .enumerate()
        .map(|(k, &(median, sigma))| {
            let model = LogNormal {
                mu: median.ln(),
                sigma,
            };
            let all = durations(model, WARM_UP + measured, SEED + k as u64);
            let measured_tasks = &all[WARM_UP..];
            Row {
                median,
                sigma,
                today: today(measured_tasks),
                best: fixed(&best_times(model), measured_tasks),
                learned: learned(&all),
            }
        })
        .collect()
}
