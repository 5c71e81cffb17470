//! Polling a task until it is done: interval, backoff, deadline, attempts, cancel, progress.

use crate::call::Call;
use crate::cancel::Cancel;
use crate::client::Client;
use crate::error::{Code, Error, Result, invalid};
use crate::logging::{Level, log};
use crate::operations::Operation;
use crate::wire::{Answer, Sink, TaskStatus};
use std::collections::{BinaryHeap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// How to poll. The defaults suit the real service: the first wait is 3 s, each later wait is
/// 1.5 times longer up to 5 s, there is no attempt limit, and the deadline is 10 minutes. (Of
/// the schedules in the time-to-result table of benches/poll_schedule, none waits less after a
/// task completes and sends fewer requests; the README says why these.)
/// No wait is shorter than [`SHORTEST_WAIT`].
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
        }
    }
}

/// The shortest wait between two polls of a task: 0 would spin.
pub const SHORTEST_WAIT: Duration = Duration::from_millis(1);

impl PollOptions {
    /// Sets the first wait, refusing one shorter than [`SHORTEST_WAIT`].
    pub fn set_first_interval(&mut self, interval: Duration) -> Result<()> {
        if interval < SHORTEST_WAIT {
            return Err(invalid(format!(
                "the poll interval must be at least {} ms",
                SHORTEST_WAIT.as_millis()
            )));
        }
        self.first_interval = interval;
        Ok(())
    }

    /// Sets the backoff, refusing a factor below 1 or one that is not a number.
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

/// One task's polling schedule: counts attempts, chooses waits, ends on the deadline.
pub struct Schedule<'a> {
    options: &'a PollOptions,
    started: Instant,
    deadline: Option<Instant>,
    attempts: u32,
    waits: u32,
    last: Option<Result<TaskStatus, Error>>,
}

impl<'a> Schedule<'a> {
    /// A schedule that starts now.
    pub fn new(options: &'a PollOptions) -> Schedule<'a> {
        Schedule::starting_at(options, Instant::now())
    }

    /// A schedule whose deadline counts from `started`.
    pub fn starting_at(options: &'a PollOptions, started: Instant) -> Schedule<'a> {
        Schedule {
            options,
            started,
            deadline: options.timeout.and_then(|t| started.checked_add(t)),
            attempts: 0,
            waits: 0,
            last: None,
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
        self.attempts += 1;
        self.attempts
    }

    /// Decides, after a request's outcome, whether the poll is over or when to ask again.
    pub fn next<D>(&mut self, task_id: &str, outcome: Result<Answer<D>>) -> Step<D> {
        let retry_after = match outcome {
            Ok(answer) => {
                let status = answer.status();
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
            .options
            .wait(self.waits + 1)
            .max(retry_after.unwrap_or(Duration::ZERO));
        if let Some(deadline) = self.deadline
            && Instant::now()
                .checked_add(wait)
                .is_none_or(|due| due >= deadline)
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

/// Polls one task until it is Completed (answered) or the poll ends otherwise (an error).
///
/// `progress` runs on this thread once per answer, with the attempt number (from 1). Result
/// data of the final answer goes into `sink`.
pub fn poll_until_done<K: Sink>(
    client: &Client,
    op: Operation,
    task_id: &str,
    options: &PollOptions,
    sink: &mut K,
    progress: &mut dyn FnMut(&str, TaskStatus, u32),
) -> Result<Answer<K::Data>> {
    let mut schedule = Schedule::new(options);
    loop {
        let attempt = schedule.attempt();
        let outcome = client.fetch_into(op, task_id, sink, &schedule.call());
        if let Ok(answer) = &outcome {
            progress(task_id, answer.status(), attempt);
        }
        match schedule.next(task_id, outcome) {
            Step::Done(result) => return result,
            Step::Wait(wait) => schedule
                .call()
                .sleep(wait, || Error::new(Code::Timeout, "the deadline passed"))?,
        }
    }
}

/// Polls many tasks together from one call, with at most `client.settings().max_connections`
/// requests in flight, each task on its own schedule (so no task is asked more often than
/// [`poll_until_done`] would ask it). The deadline and the cancel switch of `options` apply to
/// the whole call. Answers one outcome per task, in order.
///
/// `progress`, if given, runs on this thread once per answer, with the task's index, id and
/// attempt, in the order of the answers, in batches at most [`LOOK_AGAIN`] apart; the cancel
/// switch is looked at as often.
///
/// Each worker thread (one per connection) owns a queue of tasks ordered by when they are due
/// and asks them itself, so a request costs no hand-over between threads. A worker with nothing
/// due sleeps at least [`LOOK_AGAIN`], so that tasks falling due meanwhile go out together (a poll
/// is at most that late); it takes due tasks of a busy worker once they are that late (looking
/// at least every [`IDLE_LOOK`]).
///
/// An id listed more than once is asked once per due time: every slot that names it gets the
/// same outcome, and `progress` runs for each of those slots.
pub fn poll_many(
    client: &Client,
    op: Operation,
    task_ids: &[&str],
    options: &PollOptions,
    progress: Option<&mut ManyProgress>,
) -> Vec<Result<Answer<Vec<u8>>>> {
    // Each slot's place among the distinct ids, and the slots of each distinct id.
    let mut distinct: Vec<&str> = Vec::new();
    let mut slots_of: Vec<Vec<usize>> = Vec::new();
    let mut first_seen: HashMap<&str, usize> = HashMap::new();
    for (slot, &id) in task_ids.iter().enumerate() {
        let place = *first_seen.entry(id).or_insert_with(|| {
            distinct.push(id);
            slots_of.push(Vec::new());
            distinct.len() - 1
        });
        slots_of[place].push(slot);
    }
    let mut each_slot = progress.map(|progress| {
        |place: usize, id: &str, status: TaskStatus, attempt: u32| {
            for &slot in &slots_of[place] {
                progress(slot, id, status, attempt);
            }
        }
    });
    let progress = each_slot.as_mut().map(|report| report as &mut ManyProgress);
    let mut outcomes: Vec<Option<Result<Answer<Vec<u8>>>>> =
        poll_distinct(client, op, &distinct, options, progress)
            .into_iter()
            .map(Some)
            .collect();
    // The last slot of an id takes its outcome, the others a copy.
    task_ids
        .iter()
        .enumerate()
        .map(|(slot, id)| {
            let place = first_seen[id];
            let last = slots_of[place].last() == Some(&slot);
            let outcome = if last {
                outcomes[place].take()
            } else {
                outcomes[place].clone()
            };
            outcome.expect("every distinct id has an outcome until its last slot")
        })
        .collect()
}

/// [`poll_many`] for ids that are all different.
fn poll_distinct(
    client: &Client,
    op: Operation,
    task_ids: &[&str],
    options: &PollOptions,
    progress: Option<&mut ManyProgress>,
) -> Vec<Result<Answer<Vec<u8>>>> {
    let started = Instant::now();
    let workers = (client.settings().max_connections as usize).clamp(1, task_ids.len().max(1));
    let crowd = Crowd {
        queues: (0..workers)
            .map(|worker| {
                let tasks = (worker..task_ids.len()).step_by(workers).map(|index| Due {
                    when: started,
                    index,
                    schedule: Schedule::starting_at(options, started),
                });
                Mutex::new(tasks.collect())
            })
            .collect(),
        unfinished: AtomicUsize::new(task_ids.len()),
        stopped: AtomicBool::new(false),
        answers: progress.is_some().then(Mutex::default),
        idle: Mutex::new(()),
        wake: Condvar::new(),
    };
    let call = Schedule::starting_at(options, started).call();
    let mut outcomes: Vec<Option<Result<Answer<Vec<u8>>>>> =
        task_ids.iter().map(|_| None).collect();
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|worker| {
                let (crowd, call) = (&crowd, &call);
                scope.spawn(move || {
                    crate::panics::library_thread();
                    // A worker ends when the call is over, or stops the others if it panics.
                    let _stop = StopOnDrop(crowd);
                    crowd.work(worker, client, op, task_ids, call)
                })
            })
            .collect();
        // Should the progress callback panic, the workers stop rather than poll on.
        let _stop = StopOnDrop(&crowd);
        // Without a cancel switch or a callback, this thread only waits for the end.
        let look = (progress.is_some() || call.cancel.is_some()).then_some(LOOK_AGAIN);
        let mut progress = progress;
        loop {
            if call.cancelled() {
                crowd.stop();
            }
            if let Some(progress) = progress.as_deref_mut() {
                crowd.report(task_ids, progress);
            }
            if !crowd.wait_while_running(look) {
                break;
            }
        }
        for handle in handles {
            let done = handle
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            for (index, outcome) in done {
                outcomes[index] = Some(outcome);
            }
        }
        if let Some(progress) = progress {
            crowd.report(task_ids, progress);
        }
    });
    outcomes
        .into_iter()
        .map(|outcome| outcome.unwrap_or_else(|| Err(crate::call::cancelled())))
        .collect()
}

/// The progress callback of [`poll_many`]: the task's index, id, status and attempt.
pub type ManyProgress<'a> = dyn FnMut(usize, &str, TaskStatus, u32) + 'a;

/// How long a `poll_many` worker with nothing due sleeps at least (a poll is at most this
/// late), how late a due task of a busy worker may get before another worker takes it, and how
/// often the calling thread looks at the cancel switch and reports progress.
pub const LOOK_AGAIN: Duration = Duration::from_millis(10);

/// The longest a `poll_many` worker sleeps when it has nothing due.
pub const IDLE_LOOK: Duration = Duration::from_millis(100);

/// A task in a `poll_many` worker's queue: when it is due, and its schedule.
struct Due<'a> {
    when: Instant,
    index: usize,
    schedule: Schedule<'a>,
}

impl PartialEq for Due<'_> {
    fn eq(&self, other: &Self) -> bool {
        (self.when, self.index) == (other.when, other.index)
    }
}

impl Eq for Due<'_> {}

impl PartialOrd for Due<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// The earliest is the greatest, so a `BinaryHeap` gives it first.
impl Ord for Due<'_> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (other.when, other.index).cmp(&(self.when, self.index))
    }
}

/// What the workers of one `poll_many` share.
struct Crowd<'a> {
    /// Each worker's tasks waiting for their next request.
    queues: Vec<Mutex<BinaryHeap<Due<'a>>>>,
    /// Tasks whose poll has not ended.
    unfinished: AtomicUsize,
    /// Set when the call is cancelled.
    stopped: AtomicBool,
    /// Answers to report to the progress callback (task, status, attempt); `None` without one.
    answers: Option<Mutex<Vec<(usize, TaskStatus, u32)>>>,
    /// Where idle workers and the calling thread wait.
    idle: Mutex<()>,
    wake: Condvar,
}

impl<'a> Crowd<'a> {
    /// One worker: asks due tasks until every poll has ended or the call is cancelled; answers
    /// the outcomes of the polls it ended.
    fn work(
        &self,
        own: usize,
        client: &Client,
        op: Operation,
        task_ids: &[&str],
        call: &Call,
    ) -> Vec<(usize, Result<Answer<Vec<u8>>>)> {
        let mut done = Vec::new();
        while self.running() {
            let now = Instant::now();
            let Some(mut task) = self.take(own, now) else {
                let until = self.next_look(own, now).max(now + LOOK_AGAIN);
                self.wait_while_running(Some(until - now));
                continue;
            };
            let id = task_ids[task.index];
            let attempt = task.schedule.attempt();
            let outcome = client.fetch(op, id, call);
            if let (Some(answers), Ok(answer)) = (&self.answers, &outcome) {
                lock(answers).push((task.index, answer.status(), attempt));
            }
            match task.schedule.next(id, outcome) {
                Step::Done(result) => {
                    done.push((task.index, result));
                    if self.unfinished.fetch_sub(1, Ordering::SeqCst) == 1 {
                        self.wake_all();
                    }
                }
                Step::Wait(wait) => {
                    task.when = Instant::now() + wait;
                    lock(&self.queues[own]).push(task);
                }
            }
        }
        done
    }

    /// The next task to ask: this worker's earliest if it is due, else another's that has been
    /// due for [`LOOK_AGAIN`] (its worker is busy).
    fn take(&self, own: usize, now: Instant) -> Option<Due<'a>> {
        let due_by = |queue: &Mutex<BinaryHeap<Due<'a>>>, by: Instant| {
            let mut queue = lock(queue);
            queue
                .peek()
                .is_some_and(|task| task.when <= by)
                .then(|| queue.pop())
                .flatten()
        };
        if let Some(task) = due_by(&self.queues[own], now) {
            return Some(task);
        }
        let late = now.checked_sub(LOOK_AGAIN)?;
        (0..self.queues.len())
            .filter(|&worker| worker != own)
            .find_map(|worker| due_by(&self.queues[worker], late))
    }

    /// When this worker should look again: when its earliest task is due, when another's
    /// earliest will have been due for [`LOOK_AGAIN`], or after [`IDLE_LOOK`].
    fn next_look(&self, own: usize, now: Instant) -> Instant {
        self.queues
            .iter()
            .enumerate()
            .filter_map(|(worker, queue)| {
                let when = lock(queue).peek()?.when;
                Some(if worker == own {
                    when
                } else {
                    when + LOOK_AGAIN
                })
            })
            .fold(now + IDLE_LOOK, Instant::min)
    }

    fn running(&self) -> bool {
        self.unfinished.load(Ordering::SeqCst) > 0 && !self.stopped.load(Ordering::SeqCst)
    }

    /// Waits up to `wait` (`None`: until woken) unless the call is over (or ends meanwhile);
    /// answers whether it runs.
    fn wait_while_running(&self, wait: Option<Duration>) -> bool {
        let guard = lock(&self.idle);
        if !self.running() {
            return false;
        }
        match wait {
            Some(wait) => drop(
                self.wake
                    .wait_timeout(guard, wait)
                    .unwrap_or_else(|e| e.into_inner()),
            ),
            None => drop(self.wake.wait(guard).unwrap_or_else(|e| e.into_inner())),
        }
        self.running()
    }

    fn stop(&self) {
        self.stopped.store(true, Ordering::SeqCst);
        self.wake_all();
    }

    fn wake_all(&self) {
        let _guard = lock(&self.idle);
        self.wake.notify_all();
    }

    /// Runs `progress` for the answers so far, on the calling thread.
    fn report(&self, task_ids: &[&str], progress: &mut ManyProgress) {
        let Some(answers) = &self.answers else { return };
        let answers = std::mem::take(&mut *lock(answers));
        for (index, status, attempt) in answers {
            progress(index, task_ids[index], status, attempt);
        }
    }
}

/// Stops the workers of a `poll_many` when dropped.
struct StopOnDrop<'c, 'a>(&'c Crowd<'a>);

impl Drop for StopOnDrop<'_, '_> {
    fn drop(&mut self) {
        self.0.stop();
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
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
}
