//! One task's poll schedule: fixed (interval and backoff), or learned from the durations of
//! the client's earlier tasks; attempts, deadline, and what an answer means.

use super::estimate::Interval;
use super::learned::{Durations, KnownPlan};
use crate::call::Call;
use crate::cancel::Cancel;
use crate::error::{Code, Error, Result, invalid};
use crate::logging::{Level, log};
use crate::operations::Operation;
use crate::wire::{Answer, TaskStatus};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How to poll. The defaults suit the real service: the first wait is 3 s, each later wait is
/// 1.5 times longer up to 5 s, there is no attempt limit, and the deadline is 10 minutes. (Of
/// the fixed schedules in the time-to-result table of benches/poll_schedule, none waits less
/// after a task completes and sends fewer requests; docs/performance.md says why these.)
/// No wait is shorter than [`SHORTEST_WAIT`].
///
/// With `learn` (the default), once the client has seen enough tasks of an operation finish
/// (20), requests go out when they minimise the mean wait after the
/// task is done plus `request_cost` seconds per request, for the durations learned; until
/// then, and whenever the learned model is unsure, the fixed schedule above applies. The
/// setters of the interval and the backoff turn learning off: an explicit schedule is kept.
#[derive(Clone, Debug)]
pub struct PollOptions {
    /// The wait after the first not-finished answer.
    pub first_interval: Duration,
    /// Each wait is the previous one times this factor (at least 1.0)...
    pub backoff_factor: f64,
    /// ...but never longer than this.
    pub max_interval: Duration,
    /// At most this many requests for the task; 0: no limit.
    pub max_attempts: u32,
    /// The whole poll ends after this long; `None`: no deadline.
    pub timeout: Option<Duration>,
    /// Ends the poll early when triggered.
    pub cancel: Option<Arc<Cancel>>,
    /// Learn the schedule from the client's earlier tasks (and teach it with this poll's).
    pub learn: bool,
    /// What one request costs, in seconds of waiting, for the learned schedule (at least 0).
    pub request_cost: f64,
}

impl Default for PollOptions {
    fn default() -> PollOptions {
        PollOptions {
            first_interval: Duration::from_secs(3),
            backoff_factor: 1.5,
            max_interval: Duration::from_secs(5),
            max_attempts: 0,
            timeout: Some(Duration::from_secs(600)),
            cancel: None,
            learn: true,
            request_cost: DEFAULT_REQUEST_COST,
        }
    }
}

/// The shortest wait between two polls of a task: 0 would spin.
pub const SHORTEST_WAIT: Duration = Duration::from_millis(1);

/// The learned schedule never asks sooner than this after the previous request for the task.
pub const LEARNED_SHORTEST_WAIT: Duration = Duration::from_millis(200);

/// What one request costs by default, in seconds of waiting: 0.5.
pub(crate) const DEFAULT_REQUEST_COST: f64 = 0.5;

impl PollOptions {
    /// Sets the first wait, refusing one shorter than [`SHORTEST_WAIT`]. Turns learning off.
    pub fn set_first_interval(&mut self, interval: Duration) -> Result<()> {
        if interval < SHORTEST_WAIT {
            return Err(invalid(format!(
                "the poll interval must be at least {} ms",
                SHORTEST_WAIT.as_millis()
            )));
        }
        self.first_interval = interval;
        self.learn = false;
        Ok(())
    }

    /// Sets the backoff, refusing a factor below 1 or one that is not a number. Turns learning
    /// off.
    pub fn set_backoff(&mut self, factor: f64, max_interval: Duration) -> Result<()> {
        if !(factor.is_finite() && factor >= 1.0) {
            return Err(invalid(format!(
                "the backoff factor must be a number of at least 1.0, not {factor}"
            )));
        }
        if max_interval < SHORTEST_WAIT {
            return Err(invalid(format!(
                "the longest poll interval must be at least {} ms",
                SHORTEST_WAIT.as_millis()
            )));
        }
        self.backoff_factor = factor;
        self.max_interval = max_interval;
        self.learn = false;
        Ok(())
    }

    /// Sets what a request costs in seconds of waiting, refusing a negative or infinite cost or
    /// one that is not a number.
    pub fn set_request_cost(&mut self, seconds: f64) -> Result<()> {
        if !(seconds.is_finite() && seconds >= 0.0) {
            return Err(invalid(format!(
                "the cost of a request must be a number of seconds of at least 0, not {seconds}"
            )));
        }
        self.request_cost = seconds;
        Ok(())
    }

    /// The `n`-th wait (1-based): `min(first_interval * factor^(n-1), max_interval)`, and never
    /// less than [`SHORTEST_WAIT`] (fields set directly are not checked).
    pub fn wait(&self, n: u32) -> Duration {
        let factor = self
            .backoff_factor
            .powi(n.saturating_sub(1).min(i32::MAX as u32) as i32);
        let seconds = self.first_interval.as_secs_f64() * factor;
        let wait = if seconds.is_finite() && seconds < self.max_interval.as_secs_f64() {
            Duration::from_secs_f64(seconds)
        } else {
            self.max_interval
        };
        wait.max(SHORTEST_WAIT)
    }
}

/// What a poll does next.
pub enum Step<D> {
    /// The poll is over, with this outcome.
    Done(Result<Answer<D>>),
    /// Ask again after this wait.
    Wait(Duration),
}

/// One task's polling schedule: counts attempts, chooses waits, ends on the deadline; with a
/// client's [`Durations`], learns from the task and plans with what was learned.
pub struct Schedule<'a> {
    options: &'a PollOptions,
    started: Instant,
    deadline: Option<Instant>,
    attempts: u32,
    waits: u32,
    last: Option<Result<TaskStatus, Error>>,
    learning: Option<Learning<'a>>,
}

/// What a learning schedule knows of its task.
struct Learning<'a> {
    durations: &'a Durations,
    operation: &'static str,
    /// When the task was submitted; until the first request when unknown.
    origin: Option<Instant>,
    /// When the request under way was sent.
    sent: Option<Instant>,
    /// Seconds from the origin to the last request that saw the task unfinished.
    unfinished: f64,
    /// The plan this task polls by, while the model it was made for is the newest.
    plan: Option<KnownPlan>,
}

impl<'a> Schedule<'a> {
    /// A fixed schedule that starts now (it neither learns nor plans).
    pub fn new(options: &'a PollOptions) -> Schedule<'a> {
        Schedule::starting_at(options, Instant::now())
    }

    /// A fixed schedule whose deadline counts from `started`.
    pub fn starting_at(options: &'a PollOptions, started: Instant) -> Schedule<'a> {
        Schedule {
            options,
            started,
            deadline: options.timeout.and_then(|t| started.checked_add(t)),
            attempts: 0,
            waits: 0,
            last: None,
            learning: None,
        }
    }

    /// A schedule for a task of `operation` whose deadline counts from `started`, learning
    /// from (and planning with) `durations` unless the options turn learning off. `submitted`
    /// is when the task was submitted, if known (else the durations count from the first
    /// request).
    pub fn learning(
        options: &'a PollOptions,
        started: Instant,
        durations: &'a Durations,
        operation: Operation,
        submitted: Option<Instant>,
    ) -> Schedule<'a> {
        let mut schedule = Schedule::starting_at(options, started);
        if options.learn {
            schedule.learning = Some(Learning {
                durations,
                operation: operation.name(),
                origin: submitted,
                sent: None,
                unfinished: 0.0,
                plan: None,
            });
        }
        schedule
    }

    /// The wait before the first request: `fixed` (what the caller does without learning),
    /// unless a learned plan knows better for a task whose submission time is known and puts
    /// its first request before the deadline (a poll always asks once).
    pub fn first_wait(&self, fixed: Duration) -> Duration {
        self.first_wait_at(Instant::now(), fixed)
    }

    /// [`Schedule::first_wait`] as of `now` (for simulations with a clock of their own).
    pub fn first_wait_at(&self, now: Instant, fixed: Duration) -> Duration {
        let Some(learning) = &self.learning else {
            return fixed;
        };
        let plan = learning.durations.plan(
            learning.operation,
            self.options.request_cost,
            LEARNED_SHORTEST_WAIT.as_secs_f64(),
            &mut None,
        );
        let (Some(origin), Some(plan)) = (learning.origin, plan) else {
            return fixed;
        };
        // A first request the plan puts past the deadline (or past what an Instant holds)
        // goes out as the fixed schedule sends it: a poll always asks once.
        let due = plan.next_after(0.0).and_then(|at| after(origin, at));
        match due {
            Some(due) if self.deadline.is_none_or(|deadline| due < deadline) => {
                due.saturating_duration_since(now)
            }
            _ => fixed,
        }
    }

    /// The limits for the next request: the deadline, the cancel switch, a single attempt.
    pub fn call(&self) -> Call<'a> {
        Call {
            deadline: self.deadline,
            cancel: self.options.cancel.as_ref(),
            attempts: Some(1),
        }
    }

    /// Counts a request about to be sent and answers its number (from 1).
    pub fn attempt(&mut self) -> u32 {
        self.attempt_at(Instant::now())
    }

    /// [`Schedule::attempt`] for a request sent at `now`.
    pub fn attempt_at(&mut self, now: Instant) -> u32 {
        if let Some(learning) = &mut self.learning {
            learning.sent = Some(now);
            learning.origin.get_or_insert(now);
        }
        self.attempts += 1;
        self.attempts
    }

    /// Decides, after a request's outcome, whether the poll is over or when to ask again.
    pub fn next<D>(&mut self, task_id: &str, outcome: Result<Answer<D>>) -> Step<D> {
        self.next_at(Instant::now(), task_id, outcome)
    }

    /// [`Schedule::next`] as of `now`.
    pub fn next_at<D>(
        &mut self,
        now: Instant,
        task_id: &str,
        outcome: Result<Answer<D>>,
    ) -> Step<D> {
        let retry_after = match outcome {
            Ok(answer) => {
                let status = answer.status();
                self.learn(status);
                match final_outcome(task_id, answer) {
                    Some(done) => return Step::Done(done),
                    None => {
                        self.last = Some(Ok(status));
                        None
                    }
                }
            }
            Err(error) if error.transient => {
                let after = error.retry_after;
                self.last = Some(Err(error));
                after
            }
            Err(error) => return Step::Done(Err(error)),
        };
        if self.options.max_attempts != 0 && self.attempts >= self.options.max_attempts {
            return Step::Done(Err(self.exhausted(task_id)));
        }
        let wait = self
            .learned_wait(now)
            .unwrap_or_else(|| self.options.wait(self.waits + 1))
            .max(retry_after.unwrap_or(Duration::ZERO));
        if let Some(deadline) = self.deadline
            && now.checked_add(wait).is_none_or(|due| due >= deadline)
        {
            return Step::Done(Err(self.out_of_time(task_id, wait)));
        }
        self.waits += 1;
        let level = match self.last {
            Some(Err(_)) => Level::Info,
            _ => Level::Debug,
        };
        log(level, || {
            format!(
                "task {task_id} is {} after attempt {}; next poll in {:.2} s",
                self.last_words(),
                self.attempts,
                wait.as_secs_f64()
            )
        });
        Step::Wait(wait)
    }

    /// Learns from an answer: when it saw the task unfinished, or the task's duration when it
    /// saw it finished.
    fn learn(&mut self, status: TaskStatus) {
        let Some(learning) = &mut self.learning else {
            return;
        };
        let (Some(origin), Some(sent)) = (learning.origin, learning.sent) else {
            return;
        };
        let at = sent.saturating_duration_since(origin).as_secs_f64();
        match status {
            TaskStatus::Completed | TaskStatus::Error => {
                if let Some(interval) = Interval::new(learning.unfinished, at) {
                    learning.durations.observe(learning.operation, interval);
                }
            }
            TaskStatus::Pending | TaskStatus::Processing => learning.unfinished = at,
            TaskStatus::NotExist | TaskStatus::Unknown => {}
        }
    }

    /// The wait the learned plan gives after an answer that saw the task unfinished; `None`
    /// when not learning, when the model is unsure (too few tasks seen, or this task past the
    /// plan's end), or after a failed request (its retry follows the fixed schedule).
    fn learned_wait(&mut self, now: Instant) -> Option<Duration> {
        if !matches!(self.last, Some(Ok(_))) {
            return None;
        }
        let cost = self.options.request_cost;
        let learning = self.learning.as_mut()?;
        let (origin, sent) = (learning.origin?, learning.sent?);
        let plan = learning.durations.plan(
            learning.operation,
            cost,
            LEARNED_SHORTEST_WAIT.as_secs_f64(),
            &mut learning.plan,
        )?;
        let at = plan.next_after(learning.unfinished)?;
        let due = after(origin, at)?.max(sent + LEARNED_SHORTEST_WAIT);
        Some(due.saturating_duration_since(now))
    }

    fn last_words(&self) -> String {
        match &self.last {
            Some(Ok(status)) => format!("still {}", status_word(*status)),
            Some(Err(error)) => format!("not answering (last failure: {})", error.message()),
            None => "not asked".to_string(),
        }
    }

    fn exhausted(&self, task_id: &str) -> Error {
        let message = format!(
            "task {task_id} is {} after {} attempts, the limit",
            self.last_words(),
            self.attempts
        );
        match &self.last {
            Some(Err(error)) => Error::new(error.code(), message),
            _ => Error::new(Code::NotReady, message),
        }
    }

    fn out_of_time(&self, task_id: &str, wait: Duration) -> Error {
        Error::new(
            Code::Timeout,
            format!(
                "task {task_id} is {} after {:.1} s and {} attempts; the next poll (in {:.1} s) \
                 would pass the deadline of {:.1} s",
                self.last_words(),
                self.started.elapsed().as_secs_f64(),
                self.attempts,
                wait.as_secs_f64(),
                self.options.timeout.unwrap_or_default().as_secs_f64()
            ),
        )
    }
}

/// `seconds` after `origin`; `None` when that is not a time an `Instant` holds (a plan for
/// durations learned from a hostile journal may say 1e20 s).
fn after(origin: Instant, seconds: f64) -> Option<Instant> {
    origin.checked_add(Duration::try_from_secs_f64(seconds).ok()?)
}

fn status_word(status: TaskStatus) -> &'static str {
    match status {
        TaskStatus::Unknown => "in an unknown status",
        known => known.name(),
    }
}

/// What a poll ends with for an answer of a finished task: the answer itself when it is
/// Completed, `TaskFailed` (with the server's messages) for Error, `TaskNotFound` for NotExist;
/// `None` while the task is not finished.
pub fn final_outcome<D>(task_id: &str, answer: Answer<D>) -> Option<Result<Answer<D>>> {
    match answer.status() {
        TaskStatus::Completed => Some(Ok(answer)),
        TaskStatus::Error => Some(Err(task_failed(task_id, &answer))),
        TaskStatus::NotExist => Some(Err(Error::new(
            Code::TaskNotFound,
            format!(
                "task {task_id} does not exist: a wrong id, a cancelled task, or results older \
                 than 24 hours"
            ),
        ))),
        TaskStatus::Pending | TaskStatus::Processing | TaskStatus::Unknown => None,
    }
}

fn task_failed<D>(task_id: &str, answer: &Answer<D>) -> Error {
    let reason = if answer.messages.is_empty() {
        format!(
            "no message (responseStatusCode {})",
            answer.response_status.as_deref().unwrap_or("absent")
        )
    } else {
        answer.messages.join("; ")
    };
    Error::new(Code::TaskFailed, format!("task {task_id} failed: {reason}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: &str) -> Result<Answer<()>> {
        Ok(Answer {
            id: Some("t".into()),
            task_status: status.into(),
            response_status: None,
            results: Vec::new(),
            messages: vec!["bad page".into(), "no text".into()],
            warnings: Vec::new(),
        })
    }

    fn options(first_ms: u64, factor: f64, max_ms: u64) -> PollOptions {
        let mut options = PollOptions {
            first_interval: Duration::from_millis(first_ms),
            timeout: None,
            ..PollOptions::default()
        };
        options
            .set_backoff(factor, Duration::from_millis(max_ms))
            .unwrap();
        options
    }

    #[test]
    fn waits_grow_by_the_factor_up_to_the_maximum() {
        let options = options(1000, 2.0, 5000);
        let waits: Vec<u128> = (1..=5).map(|n| options.wait(n).as_millis()).collect();
        assert_eq!(waits, [1000, 2000, 4000, 5000, 5000]);
        let defaults = PollOptions::default();
        assert_eq!(defaults.wait(1), Duration::from_secs(3));
        assert_eq!(defaults.wait(2), Duration::from_millis(4500));
        assert_eq!(defaults.wait(3), Duration::from_secs(5));
        assert_eq!(defaults.wait(100), Duration::from_secs(5));
    }

    #[test]
    fn refuses_backoff_factors_below_one() {
        let mut options = PollOptions::default();
        for bad in [0.5, -1.0, f64::NAN, f64::INFINITY] {
            assert_eq!(
                options.set_backoff(bad, Duration::ZERO).unwrap_err().code(),
                Code::InvalidArgument
            );
        }
    }

    #[test]
    fn a_schedule_waits_per_answer_and_ends_on_final_statuses() {
        let options = options(100, 2.0, 1000);
        let mut schedule = Schedule::new(&options);
        schedule.attempt();
        assert!(
            matches!(schedule.next("t", answer("Pending")), Step::Wait(w) if w == Duration::from_millis(100))
        );
        schedule.attempt();
        assert!(
            matches!(schedule.next("t", answer("Queued")), Step::Wait(w) if w == Duration::from_millis(200))
        );
        schedule.attempt();
        assert!(matches!(
            schedule.next("t", answer("Completed")),
            Step::Done(Ok(_))
        ));

        let Step::Done(Err(e)) = Schedule::new(&options).next("t", answer("Error")) else {
            panic!("an Error answer ends the poll");
        };
        assert_eq!(e.code(), Code::TaskFailed);
        assert_eq!(e.message(), "task t failed: bad page; no text");
        let Step::Done(Err(e)) = Schedule::new(&options).next("t", answer("NotExist")) else {
            panic!("a NotExist answer ends the poll");
        };
        assert_eq!(e.code(), Code::TaskNotFound);
    }

    #[test]
    fn a_schedule_stops_after_the_attempt_limit() {
        let mut options = options(10, 1.0, 10);
        options.max_attempts = 2;
        let mut schedule = Schedule::new(&options);
        schedule.attempt();
        assert!(matches!(
            schedule.next("t", answer("Processing")),
            Step::Wait(_)
        ));
        schedule.attempt();
        let Step::Done(Err(e)) = schedule.next("t", answer("Processing")) else {
            panic!("the limit ends the poll");
        };
        assert_eq!(e.code(), Code::NotReady);
        assert!(
            e.message().contains("still Processing after 2 attempts"),
            "{e}"
        );
    }

    #[test]
    fn a_schedule_keeps_going_through_transient_failures_and_honours_retry_after() {
        let options = options(10, 1.0, 10);
        let mut schedule = Schedule::new(&options);
        schedule.attempt();
        let mut busy = Error::transient(Code::Http, "HTTP 503");
        busy.retry_after = Some(Duration::from_millis(700));
        assert!(
            matches!(schedule.next::<()>("t", Err(busy)), Step::Wait(w) if w == Duration::from_millis(700))
        );
        schedule.attempt();
        let Step::Done(Err(e)) = schedule.next::<()>("t", Err(Error::new(Code::Protocol, "bad")))
        else {
            panic!("a lasting failure ends the poll");
        };
        assert_eq!(e.code(), Code::Protocol);
    }

    #[test]
    fn a_schedule_ends_before_a_wait_that_would_pass_the_deadline() {
        let mut options = options(300, 1.0, 300);
        options.timeout = Some(Duration::from_millis(500));
        let started = Instant::now();
        let mut schedule = Schedule::starting_at(&options, started);
        schedule.attempt();
        assert!(matches!(
            schedule.next("t", answer("Pending")),
            Step::Wait(_)
        ));
        let mut late = Schedule::starting_at(&options, started - Duration::from_millis(300));
        late.attempt();
        let Step::Done(Err(e)) = late.next("t", answer("Pending")) else {
            panic!("the deadline ends the poll");
        };
        assert_eq!(e.code(), Code::Timeout);
        assert!(e.message().contains("still Pending"), "{e}");
    }

    const PDF: Operation = Operation::RECOGNIZE_PDF;

    /// A client's durations that learned `count` tasks of about `seconds` each.
    fn learned(count: usize, seconds: f64) -> Durations {
        let durations = Durations::default();
        let intervals: Vec<Interval> = (0..count)
            .map(|k| {
                let d = seconds * (1.0 + 0.1 * ((k % 7) as f64 - 3.0) / 3.0);
                Interval::new(d * 0.9, d * 1.05).unwrap()
            })
            .collect();
        durations.import(PDF.name(), &intervals);
        durations
    }

    /// The waits a schedule gives after `n` answers that say Pending.
    fn waits(schedule: &mut Schedule, n: usize) -> Vec<Duration> {
        (0..n)
            .map(|_| {
                schedule.attempt();
                match schedule.next("t", answer("Pending")) {
                    Step::Wait(wait) => wait,
                    Step::Done(_) => panic!("a Pending answer ends nothing here"),
                }
            })
            .collect()
    }

    fn fixed_waits(options: &PollOptions, n: usize) -> Vec<Duration> {
        (1..=n as u32).map(|k| options.wait(k)).collect()
    }

    #[test]
    fn with_fewer_than_enough_tasks_the_default_schedule_applies() {
        let options = PollOptions::default();
        let durations = learned(super::super::learned::ENOUGH - 1, 1.0);
        let now = Instant::now();
        let mut schedule = Schedule::learning(&options, now, &durations, PDF, Some(now));
        assert_eq!(schedule.first_wait(Duration::ZERO), Duration::ZERO);
        assert_eq!(waits(&mut schedule, 5), fixed_waits(&options, 5));
    }

    #[test]
    fn with_enough_tasks_the_learned_plan_applies() {
        let options = PollOptions::default();
        let durations = learned(super::super::learned::ENOUGH, 1.0);
        let now = Instant::now();
        let mut schedule = Schedule::learning(&options, now, &durations, PDF, Some(now));
        let first = schedule.first_wait(Duration::ZERO);
        assert!(
            first > Duration::from_millis(500) && first < Duration::from_secs(2),
            "{first:?}"
        );
        // After an answer at once that saw the task unfinished, the next request comes within
        // the learned durations, not after the fixed 3 s.
        let waits = waits(&mut schedule, 1);
        assert!(waits[0] < Duration::from_secs(2), "{waits:?}");
    }

    #[test]
    fn learning_off_is_exactly_the_fixed_schedule_and_learns_nothing() {
        let durations = learned(100, 1.0);
        let mut off = PollOptions {
            learn: false,
            ..PollOptions::default()
        };
        let mut explicit = PollOptions::default();
        explicit
            .set_first_interval(Duration::from_millis(700))
            .unwrap();
        let mut backoff = PollOptions::default();
        backoff.set_backoff(2.0, Duration::from_secs(9)).unwrap();
        assert!(!explicit.learn && !backoff.learn);
        off.timeout = None;
        for options in [&off, &explicit, &backoff] {
            let now = Instant::now();
            let mut schedule = Schedule::learning(options, now, &durations, PDF, Some(now));
            assert_eq!(
                schedule.first_wait(Duration::from_secs(3)),
                Duration::from_secs(3)
            );
            assert_eq!(schedule.first_wait(Duration::ZERO), Duration::ZERO);
            assert_eq!(waits(&mut schedule, 6), fixed_waits(options, 6));
            schedule.attempt();
            assert!(matches!(
                schedule.next("t", answer("Completed")),
                Step::Done(Ok(_))
            ));
        }
        let fresh = Durations::default();
        let now = Instant::now();
        let mut schedule = Schedule::learning(&off, now, &fresh, PDF, Some(now));
        waits(&mut schedule, 2);
        schedule.attempt();
        assert!(matches!(
            schedule.next("t", answer("Completed")),
            Step::Done(Ok(_))
        ));
        assert!(
            fresh.export().is_empty(),
            "learning off learned {:?}",
            fresh.export()
        );
    }

    #[test]
    fn a_finished_task_teaches_its_interval() {
        let options = PollOptions::default();
        let durations = Durations::default();
        let submitted = Instant::now() - Duration::from_secs(2);
        let mut schedule =
            Schedule::learning(&options, Instant::now(), &durations, PDF, Some(submitted));
        waits(&mut schedule, 1);
        schedule.attempt();
        assert!(matches!(
            schedule.next("t", answer("Error")),
            Step::Done(Err(_))
        ));
        let learned = durations.export();
        assert_eq!(learned.len(), 1);
        let [interval] = learned[0].1[..] else {
            panic!("one interval: {learned:?}");
        };
        assert_eq!(learned[0].0, "RecognizePdf");
        assert!(
            interval.lo >= 2.0 && interval.hi >= interval.lo,
            "{interval:?}"
        );
        // Without a known submission, the durations count from the first request.
        let unknown = Durations::default();
        let mut schedule = Schedule::learning(&options, Instant::now(), &unknown, PDF, None);
        waits(&mut schedule, 1);
        schedule.attempt();
        assert!(matches!(
            schedule.next("t", answer("Completed")),
            Step::Done(Ok(_))
        ));
        let interval = unknown.export()[0].1[0];
        assert!(interval.lo == 0.0 && interval.hi < 2.0, "{interval:?}");
    }

    #[test]
    fn the_learned_schedule_never_asks_sooner_than_200_ms_after_the_last_request() {
        let options = PollOptions::default();
        // Tasks of about 10 ms: the plan would ask again and again at once.
        let durations = learned(200, 0.01);
        let now = Instant::now();
        let mut schedule = Schedule::learning(&options, now, &durations, PDF, Some(now));
        for _ in 0..20 {
            let before = Instant::now();
            schedule.attempt();
            let Step::Wait(wait) = schedule.next("t", answer("Processing")) else {
                panic!("Processing ends nothing");
            };
            assert!(
                Instant::now() + wait >= before + LEARNED_SHORTEST_WAIT,
                "{wait:?}"
            );
        }
    }

    #[test]
    fn the_learned_schedule_keeps_the_deadline_attempts_and_retry_after() {
        let durations = learned(100, 60.0);
        let mut options = PollOptions {
            timeout: Some(Duration::from_secs(5)),
            ..PollOptions::default()
        };
        let now = Instant::now();
        let mut schedule = Schedule::learning(&options, now, &durations, PDF, Some(now));
        // The plan's first request is near a minute away, past the deadline: the poll asks at
        // once, as the fixed schedule does.
        assert_eq!(schedule.first_wait(Duration::ZERO), Duration::ZERO);
        schedule.attempt();
        let Step::Done(Err(e)) = schedule.next("t", answer("Pending")) else {
            panic!("the deadline ends the poll");
        };
        assert_eq!(e.code(), Code::Timeout);

        options.timeout = None;
        options.max_attempts = 2;
        let mut schedule = Schedule::learning(&options, now, &durations, PDF, Some(now));
        schedule.attempt();
        let mut busy = Error::transient(Code::Http, "HTTP 503");
        busy.retry_after = Some(Duration::from_secs(7));
        // A failed request is retried on the fixed schedule, and Retry-After still counts.
        assert!(
            matches!(schedule.next::<()>("t", Err(busy)), Step::Wait(w) if w == Duration::from_secs(7))
        );
        schedule.attempt();
        let Step::Done(Err(e)) = schedule.next("t", answer("Pending")) else {
            panic!("the attempt limit ends the poll");
        };
        assert_eq!(e.code(), Code::NotReady);
    }

    #[test]
    fn huge_learned_durations_do_not_panic_the_schedule() {
        // A journal may hold any finite interval: tasks of 1e20 s make a sure model whose
        // plan's times overflow a Duration (and an Instant). The fixed schedule then applies.
        let options = PollOptions {
            timeout: None,
            ..PollOptions::default()
        };
        for seconds in [1e20, 1e300] {
            let durations = learned(100, seconds);
            let now = Instant::now();
            let mut schedule = Schedule::learning(&options, now, &durations, PDF, Some(now));
            assert_eq!(
                schedule.first_wait_at(now, Duration::ZERO),
                Duration::ZERO,
                "{seconds}"
            );
            schedule.attempt_at(now);
            let step = schedule.next_at(now, "t", answer("Pending"));
            assert!(
                matches!(step, Step::Wait(w) if w == options.wait(1)),
                "{seconds}"
            );
        }
    }

    #[test]
    fn a_learned_first_wait_past_the_deadline_still_asks_once() {
        // The fixed schedule always asks once before the deadline; a plan whose first request
        // lies past it must not turn the poll into a sleep that ends in Timeout with no request.
        let durations = learned(100, 60.0);
        let options = PollOptions {
            timeout: Some(Duration::from_secs(5)),
            ..PollOptions::default()
        };
        let now = Instant::now();
        let schedule = Schedule::learning(&options, now, &durations, PDF, Some(now));
        assert_eq!(schedule.first_wait_at(now, Duration::ZERO), Duration::ZERO);
        // Without a deadline the plan still decides.
        let open = PollOptions {
            timeout: None,
            ..PollOptions::default()
        };
        let schedule = Schedule::learning(&open, now, &durations, PDF, Some(now));
        assert!(schedule.first_wait_at(now, Duration::ZERO) > Duration::from_secs(30));
    }

    #[test]
    fn extreme_request_costs_and_vanishing_durations_never_panic_or_ask_within_200_ms() {
        // Costs the C setter accepts (0, 1e300, the largest finite) and durations so short that
        // the plan's grid underflows: every wait is a number, at least 200 ms after the request.
        for (cost, seconds) in [
            (0.0, 2.0),
            (1e300, 2.0),
            (f64::MAX, 2.0),
            (0.5, 1e-320),
            (0.0, 1e-300),
        ] {
            let mut options = PollOptions {
                timeout: None,
                ..PollOptions::default()
            };
            options.set_request_cost(cost).unwrap();
            let durations = learned(100, seconds);
            let start = Instant::now();
            let mut schedule = Schedule::learning(&options, start, &durations, PDF, Some(start));
            let mut now = start + schedule.first_wait_at(start, Duration::ZERO);
            for _ in 0..50 {
                schedule.attempt_at(now);
                let Step::Wait(wait) = schedule.next_at(now, "t", answer("Processing")) else {
                    panic!("Processing ends nothing");
                };
                assert!(
                    wait >= LEARNED_SHORTEST_WAIT,
                    "cost {cost}, {seconds} s: {wait:?}"
                );
                assert!(
                    wait <= options.max_interval.max(Duration::from_secs(60)),
                    "{wait:?}"
                );
                now += wait;
            }
        }
    }

    #[test]
    fn polls_with_more_request_costs_than_plans_kept_build_a_plan_per_task_not_per_poll() {
        // Five tasks polled together with five request costs (one more than the plans kept per
        // operation): each poll used to rebuild a 400-point plan under the client's lock.
        let durations = learned(100, 2.0);
        let options: Vec<PollOptions> = [0.1, 0.2, 0.3, 0.4, 0.6]
            .into_iter()
            .map(|cost| {
                let mut options = PollOptions {
                    timeout: None,
                    ..PollOptions::default()
                };
                options.set_request_cost(cost).unwrap();
                options
            })
            .collect();
        let start = Instant::now();
        let mut schedules: Vec<Schedule> = options
            .iter()
            .map(|o| Schedule::learning(o, start, &durations, PDF, Some(start)))
            .collect();
        let before = durations.plans_built();
        let mut now = start;
        for _ in 0..10 {
            for schedule in &mut schedules {
                schedule.attempt_at(now);
                assert!(matches!(
                    schedule.next_at(now, "t", answer("Processing")),
                    Step::Wait(_)
                ));
            }
            now += Duration::from_millis(250);
        }
        let built = durations.plans_built() - before;
        assert!(
            built <= schedules.len(),
            "{built} plans for 50 polls of 5 tasks"
        );
    }
}
