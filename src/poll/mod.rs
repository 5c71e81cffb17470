//! Polling tasks until they are done: the loops that ask (one task, or many together). When to
//! ask is the schedule's business ([`schedule`]), learned from task durations ([`learned`]).
//!
//! - [`schedule`]: the options, and one task's schedule (fixed or learned), deadline, attempts;
//! - [`estimate`]: task durations from what polls saw, a log-normal fitted to them;
//! - [`plan`]: the best poll times for a known distribution of durations;
//! - [`learned`]: what a client has learned, per operation.

pub mod estimate;
pub mod learned;
pub mod plan;
pub mod schedule;

pub use schedule::{PollOptions, SHORTEST_WAIT, Schedule, Step, final_outcome};

use crate::call::Call;
use crate::client::Client;
use crate::error::{Code, Error, Result};
use crate::operations::Operation;
use crate::wire::{Answer, Sink, TaskStatus};
use std::collections::{BinaryHeap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

/// Polls one task until it is Completed (answered) or the poll ends otherwise (an error).
/// With learning, a task the client submitted may wait for its first request as the learned
/// plan says; any other is asked at once.
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
    let started = Instant::now();
    let submitted = client.durations().submitted_at(task_id);
    let mut schedule = Schedule::learning(options, started, client.durations(), op, submitted);
    let first = schedule.first_wait(Duration::ZERO);
    if !first.is_zero() {
        sleep(&schedule, first)?;
    }
    loop {
        let attempt = schedule.attempt();
        let outcome = client.fetch_into(op, task_id, sink, &schedule.call());
        if let Ok(answer) = &outcome {
            progress(task_id, answer.status(), attempt);
        }
        match schedule.next(task_id, outcome) {
            Step::Done(result) => return result,
            Step::Wait(wait) => sleep(&schedule, wait)?,
        }
    }
}

fn sleep(schedule: &Schedule, wait: Duration) -> Result<()> {
    schedule
        .call()
        .sleep(wait, || Error::new(Code::Timeout, "the deadline passed"))
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
                let tasks = (worker..task_ids.len()).step_by(workers).map(|index| {
                    let id = task_ids[index];
                    let submitted = client.durations().submitted_at(id);
                    let schedule =
                        Schedule::learning(options, started, client.durations(), op, submitted);
                    Due {
                        when: started + schedule.first_wait(Duration::ZERO),
                        index,
                        schedule,
                    }
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
