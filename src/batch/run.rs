//! Running a batch: one scheduler (the caller's thread, the only one that writes the journal)
//! and `jobs` workers that send the requests.
//!
//! The order of things for an input is what makes a resume safe: the intent (`submitting`) is
//! committed before its POST starts, the task id is committed as soon as the POST answers, the
//! output names are recorded before any file is put in place (and each free name is taken on
//! the file system with an exclusive link, which another batch in the same folder cannot also
//! win), and the input is `completed` only once every file is in place.

use super::journal::{FileIdentity, Row, now};
use super::outputs;
use super::{Batch, Item, State};
use crate::call::Call;
use crate::client::Client;
use crate::error::{Code, Error, Result, invalid};
use crate::files::{FileSink, TempFile, remove_leftovers};
use crate::operations::{Document, Operation};
use crate::poll::{PollOptions, Schedule, Step};
use crate::wire::{Answer, TaskStatus};
use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap, HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

/// How a batch runs.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// Requests at once (workers); 1 to [`MAX_JOBS`].
    pub jobs: usize,
    /// How each task is polled after its submission; its timeout counts per task, and its
    /// cancel switch stops the whole run.
    pub poll: PollOptions,
}

impl RunOptions {
    /// Refuses options no batch can run with: `jobs` outside 1 to [`MAX_JOBS`].
    /// [`AnyBatch::run`](super::any::AnyBatch::run) checks them before either batch runs.
    pub fn validate(&self) -> Result<()> {
        if self.jobs == 0 || self.jobs > MAX_JOBS {
            return Err(invalid(format!("jobs must be from 1 to {MAX_JOBS}")));
        }
        Ok(())
    }
}

impl Default for RunOptions {
    fn default() -> RunOptions {
        RunOptions {
            jobs: DEFAULT_JOBS,
            poll: PollOptions::default(),
        }
    }
}

/// The default number of requests at once.
pub const DEFAULT_JOBS: usize = 8;
/// The most requests at once a batch accepts.
pub const MAX_JOBS: usize = 256;
/// Tasks open on the service (submitted, not yet fetched) per job: waiting for a task costs a
/// poll now and then, not a worker, so a batch keeps more tasks open than it has workers.
pub const OPEN_TASKS_PER_JOB: usize = 16;
/// How often the scheduler looks at the cancel switch while it waits.
const CANCEL_CHECK: Duration = Duration::from_millis(10);
/// How often a task that the service forgot (`NotExist`) is submitted again in one run.
const MAX_NOT_FOUND_RESUBMISSIONS: u32 = 2;
/// How often the names of one input's results are chosen again when another process (another
/// batch writing into the same folder) takes them first.
const PLACE_ATTEMPTS: usize = 16;
/// Submissions refused in a row (429, 503, no connection) while no task of the batch is open
/// that stop the whole batch: the service takes nothing, and waiting would not change that.
pub const REFUSALS_TO_STOP: u32 = 5;

/// What a worker is asked to do.
enum Work {
    Submit {
        index: usize,
        operation: Operation,
        path: PathBuf,
        settings: Option<String>,
        deadline: Option<Instant>,
    },
    Fetch {
        index: usize,
        operation: Operation,
        task_id: String,
        dir: PathBuf,
        deadline: Option<Instant>,
    },
}

/// What a worker did.
enum Done {
    Submitted(usize, Result<String>),
    /// The time is when the request was sent (not when the work was handed to the worker).
    Fetched(usize, Instant, Result<Answer<TempFile>>),
}

pub(super) fn run(
    batch: &mut Batch,
    options: &RunOptions,
    progress: &mut dyn FnMut(usize, &Item),
) -> Result<()> {
    remove_crash_leftovers(batch);
    let client = batch.client;
    let (work_tx, work_rx) = mpsc::channel::<Work>();
    let work_rx = Mutex::new(work_rx);
    let (done_tx, done_rx) = mpsc::channel::<Done>();
    let cancel = options.poll.cancel.as_ref();
    let stop = AtomicBool::new(false);
    std::thread::scope(|scope| {
        for _ in 0..options.jobs {
            let (work_rx, done_tx, stop) = (&work_rx, done_tx.clone(), &stop);
            scope.spawn(move || {
                crate::panics::library_thread();
                loop {
                    let work = work_rx.lock().unwrap_or_else(|e| e.into_inner()).recv();
                    let Ok(work) = work else { return };
                    if done_tx.send(perform(client, work, cancel, stop)).is_err() {
                        return;
                    }
                }
            });
        }
        drop(done_tx);
        let mut scheduler = Scheduler::new(batch, options, work_tx, &stop);
        let outcome = scheduler.schedule(&done_rx, progress);
        // What the run learned of task durations goes into the journal for the next run,
        // however the run ended.
        let saved = scheduler.save_learned();
        let outcome = outcome.and(saved);
        // Closing the queue ends the workers; requests still under way end soon (their calls
        // carry the cancel switch), and their answers are dropped.
        drop(scheduler);
        outcome
    })
}

/// Removes the temporary files that killed runs left in the folders results go to.
fn remove_crash_leftovers(batch: &Batch) {
    let folders: BTreeSet<PathBuf> = batch
        .items
        .iter()
        .filter(|item| item.state() != State::Completed)
        .map(|item| output_folder(batch, item))
        .collect();
    for folder in folders {
        remove_leftovers(&folder);
    }
}

fn output_folder(batch: &Batch, item: &Item) -> PathBuf {
    let target = batch.output_dir.join(&item.stem);
    target
        .parent()
        .map_or_else(|| batch.output_dir.clone(), PathBuf::from)
}

/// Does one piece of work on a worker thread.
fn perform(
    client: &Client,
    work: Work,
    cancel: Option<&Arc<crate::cancel::Cancel>>,
    stop: &AtomicBool,
) -> Done {
    match work {
        Work::Submit { index, .. } if stop.load(Ordering::Relaxed) => {
            let error = Error::new(Code::Cancelled, "not submitted: the batch stopped").unsent();
            Done::Submitted(index, Err(error))
        }
        Work::Submit {
            index,
            operation,
            path,
            settings,
            deadline,
        } => {
            let call = Call {
                deadline,
                cancel,
                attempts: None,
            };
            let outcome =
                client.submit(operation, Document::File(&path), settings.as_deref(), &call);
            Done::Submitted(index, outcome)
        }
        Work::Fetch {
            index,
            operation,
            task_id,
            dir,
            deadline,
        } => {
            let call = Call {
                deadline,
                cancel,
                attempts: Some(1),
            };
            let sink = std::fs::create_dir_all(&dir)
                .map_err(|e| {
                    Error::new(
                        Code::Io,
                        format!("cannot create the folder {}: {e}", dir.display()),
                    )
                })
                .and_then(|()| FileSink::new(&dir));
            let sent = Instant::now();
            let outcome =
                sink.and_then(|mut sink| client.fetch_into(operation, &task_id, &mut sink, &call));
            Done::Fetched(index, sent, outcome)
        }
    }
}

struct Scheduler<'b, 'c, 'o> {
    batch: &'b mut Batch<'c>,
    /// Tells the workers to send no more submissions.
    stop: &'o AtomicBool,
    options: &'o RunOptions,
    work: mpsc::Sender<Work>,
    queued: VecDeque<usize>,
    due: BinaryHeap<Reverse<(Instant, usize)>>,
    schedules: HashMap<usize, Schedule<'o>>,
    /// Tasks completed since what was learned was last written to the journal.
    unsaved_learning: usize,
    /// Tasks that count against the window: submitting or submitted, not yet done.
    open: usize,
    /// Pieces of work sent to the workers and not answered yet.
    busy: usize,
    /// The error that stops the whole batch; no new submission once it is set.
    fatal: Option<Error>,
    not_found: HashMap<usize, u32>,
    /// Each task id of the batch, with the input it belongs to: one task never completes two
    /// inputs.
    tasks: HashMap<String, usize>,
    /// The identity of each output put in place since the last commit, recorded in the next.
    placed: Vec<(String, FileIdentity)>,
    /// How many tasks may be open: `OPEN_TASKS_PER_JOB` times the jobs, cut to the tasks open
    /// when the service refuses a submission, and grown by one with each accepted one.
    window: usize,
    /// Submissions refused in a row while no task was open.
    refusals: u32,
}

/// Completed tasks between two writes of what was learned into the journal.
const LEARNED_SAVE_EVERY: usize = 16;

impl<'b, 'c: 'o, 'o> Scheduler<'b, 'c, 'o> {
    fn new(
        batch: &'b mut Batch<'c>,
        options: &'o RunOptions,
        work: mpsc::Sender<Work>,
        stop: &'o AtomicBool,
    ) -> Scheduler<'b, 'c, 'o> {
        let mut queued = VecDeque::new();
        let mut due = BinaryHeap::new();
        let mut schedules = HashMap::new();
        let started = Instant::now();
        let client: &'c Client = batch.client;
        for (index, item) in batch.items.iter_mut().enumerate() {
            match item.state() {
                State::Queued => queued.push_back(index),
                State::Submitting => {
                    // Stopped during its submission by an earlier run of this batch.
                    item.row.possible_duplicates += 1;
                    queued.push_back(index);
                }
                State::Submitted => {
                    // Submitted by an earlier run: its durations count from that submission.
                    let submitted = item.row.submitted_at.and_then(|at| {
                        started.checked_sub(Duration::try_from_secs_f64(now() - at).ok()?)
                    });
                    let schedule = Schedule::learning(
                        &options.poll,
                        started,
                        client.durations(),
                        item.operation,
                        submitted,
                    );
                    due.push(Reverse((
                        started + schedule.first_wait(Duration::ZERO),
                        index,
                    )));
                    schedules.insert(index, schedule);
                }
                State::Completed | State::Failed => {}
            }
        }
        let open = schedules.len();
        let tasks = batch
            .items
            .iter()
            .enumerate()
            .filter_map(|(index, item)| Some((item.row.task_id.clone()?, index)))
            .collect();
        Scheduler {
            batch,
            stop,
            options,
            work,
            queued,
            due,
            schedules,
            unsaved_learning: 0,
            open,
            busy: 0,
            fatal: None,
            not_found: HashMap::new(),
            tasks,
            placed: Vec::new(),
            window: options.jobs * OPEN_TASKS_PER_JOB,
            refusals: 0,
        }
    }

    fn cancelled(&self) -> bool {
        self.options
            .poll
            .cancel
            .as_deref()
            .is_some_and(|c| c.is_triggered())
    }

    fn schedule(
        &mut self,
        done: &mpsc::Receiver<Done>,
        progress: &mut dyn FnMut(usize, &Item),
    ) -> Result<()> {
        loop {
            let stopping = self.cancelled() || self.fatal.is_some();
            if !stopping {
                self.submit_more(progress)?;
                self.poll_due();
            }
            if self.busy == 0 && (stopping || (self.due.is_empty() && self.queued.is_empty())) {
                break;
            }
            let wait = self.due.peek().map_or(CANCEL_CHECK, |Reverse((when, _))| {
                when.saturating_duration_since(Instant::now())
                    .min(CANCEL_CHECK)
            });
            let mut answers = Vec::new();
            match done.recv_timeout(wait) {
                Ok(answer) => answers.push(answer),
                Err(mpsc::RecvTimeoutError::Timeout) => continue,
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    return Err(Error::new(Code::Internal, "the batch's workers stopped"));
                }
            }
            answers.extend(done.try_iter());
            self.busy -= answers.len();
            self.record(answers, progress)?;
        }
        if self.cancelled() {
            return Err(crate::call::cancelled());
        }
        match self.fatal.take() {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }

    /// Commits the intents of as many queued inputs as the window allows, then sends them.
    fn submit_more(&mut self, progress: &mut dyn FnMut(usize, &Item)) -> Result<()> {
        // No more intents than free workers: an intent is a possible duplicate after a crash.
        let room = self
            .window
            .saturating_sub(self.open)
            .min(self.options.jobs.saturating_sub(self.busy));
        if room == 0 || self.queued.is_empty() {
            return Ok(());
        }
        let chosen: Vec<usize> = (0..room).map_while(|_| self.queued.pop_front()).collect();
        let at = now();
        for &index in &chosen {
            let row = &mut self.batch.items[index].row;
            row.state = State::Submitting;
            row.attempts += 1;
            row.task_id = None;
            row.submitted_at = None;
            row.code = None;
            row.message = None;
            row.finished_at = None;
            row.started_at.get_or_insert(at);
        }
        self.save(&chosen)?;
        for index in chosen {
            let item = &self.batch.items[index];
            let work = Work::Submit {
                index,
                operation: item.operation,
                path: item.path.clone(),
                settings: item.settings.clone(),
                deadline: self
                    .options
                    .poll
                    .timeout
                    .and_then(|t| Instant::now().checked_add(t)),
            };
            self.send(work);
            self.open += 1;
            progress(index, &self.batch.items[index]);
        }
        Ok(())
    }

    /// Sends the polls that are due.
    fn poll_due(&mut self) {
        let now = Instant::now();
        while let Some(&Reverse((when, index))) = self.due.peek() {
            if when > now {
                break;
            }
            self.due.pop();
            let schedule = self
                .schedules
                .get(&index)
                .expect("a polled task has a schedule");
            let deadline = schedule.call().deadline;
            let item = &self.batch.items[index];
            let work = Work::Fetch {
                index,
                operation: item.operation,
                task_id: item.row.task_id.clone().unwrap_or_default(),
                dir: output_folder(self.batch, item),
                deadline,
            };
            self.send(work);
        }
    }

    fn send(&mut self, work: Work) {
        if self.work.send(work).is_ok() {
            self.busy += 1;
        }
    }

    /// Records what the workers answered: first the task ids, failures and claimed output
    /// names in one commit, then the files in place, then the completions in a second commit.
    fn record(&mut self, answers: Vec<Done>, progress: &mut dyn FnMut(usize, &Item)) -> Result<()> {
        let before: Vec<(usize, State)> = answers
            .iter()
            .map(|answer| match answer {
                Done::Submitted(index, _) | Done::Fetched(index, ..) => {
                    (*index, self.batch.items[*index].state())
                }
            })
            .collect();
        let mut changed = Vec::new();
        let mut finished: Vec<(usize, Vec<TempFile>, Vec<String>, outputs::Chosen)> = Vec::new();
        let mut claims: Vec<(usize, Vec<PathBuf>)> = Vec::new();
        for answer in answers {
            match answer {
                Done::Submitted(index, outcome) => self.submitted(index, outcome),
                Done::Fetched(index, sent, outcome) => {
                    if let Some((files, kinds)) = self.fetched(index, sent, outcome) {
                        match self.claim(index, &files, &kinds, &claims) {
                            Ok(chosen) => {
                                claims.push((index, chosen.names.clone()));
                                finished.push((index, files, kinds, chosen));
                            }
                            Err(error) => self.fail(index, &error),
                        }
                    }
                }
            }
        }
        for &(index, state) in &before {
            if self.batch.items[index].state() != state && !changed.contains(&index) {
                changed.push(index);
            }
        }
        self.save_with_claims(&changed, &claims)?;
        let mut completed = Vec::new();
        for (index, files, kinds, chosen) in finished {
            match self.place(index, files, &kinds, chosen)? {
                Ok(names) => {
                    let row = &mut self.batch.items[index].row;
                    row.state = State::Completed;
                    row.outputs = names
                        .iter()
                        .filter_map(|n| outputs::relative_text(n).ok())
                        .collect();
                    for name in &row.outputs {
                        if let Some(identity) = outputs::identity(&self.batch.output_dir.join(name))
                        {
                            self.placed.push((name.clone(), identity));
                        }
                    }
                    row.finished_at = Some(now());
                }
                Err(error) => self.fail(index, &error),
            }
            completed.push(index);
        }
        self.save(&completed)?;
        self.unsaved_learning += completed.len();
        if self.unsaved_learning >= LEARNED_SAVE_EVERY {
            self.save_learned()?;
        }
        for index in changed.into_iter().chain(completed) {
            progress(index, &self.batch.items[index]);
        }
        Ok(())
    }

    fn submitted(&mut self, index: usize, outcome: Result<String>) {
        let task_id = match outcome {
            Ok(task_id) => task_id,
            Err(error) => return self.refused(index, error),
        };
        self.refusals = 0;
        self.window = (self.window + 1).min(self.options.jobs * OPEN_TASKS_PER_JOB);
        let holder = match self.task_holder(index, &task_id) {
            Ok(holder) => holder,
            Err(error) => {
                self.open -= 1;
                return self.fail(index, &error);
            }
        };
        if let Some(other) = holder {
            // A service that gives one id to two submissions: the task holds one document's
            // result, and the other input must not take it for its own.
            self.open -= 1;
            let error = Error::new(
                Code::Protocol,
                format!(
                    "the service answered the task id {task_id} for {}, the id it gave before for \
                     {other}: one task cannot hold the results of both",
                    self.batch.items[index].path.display(),
                ),
            );
            return self.fail(index, &error);
        }
        self.tasks.insert(task_id.clone(), index);
        let row = &mut self.batch.items[index].row;
        row.state = State::Submitted;
        row.task_id = Some(task_id);
        row.submitted_at = Some(now());
        let started = Instant::now();
        let client: &'c Client = self.batch.client;
        let schedule = Schedule::learning(
            &self.options.poll,
            started,
            client.durations(),
            self.batch.items[index].operation,
            Some(started),
        );
        let first = schedule.first_wait(self.options.poll.wait(1));
        self.schedules.insert(index, schedule);
        self.due.push(Reverse((started + first, index)));
    }

    /// The input other than `index` that `task_id` already belongs to: one of this run, or
    /// one that the journal holds from an earlier run (with other inputs, or a resume).
    fn task_holder(&self, index: usize, task_id: &str) -> Result<Option<String>> {
        if let Some(&other) = self.tasks.get(task_id)
            && other != index
        {
            return Ok(Some(self.batch.items[other].path.display().to_string()));
        }
        self.batch
            .journal
            .task_holder(task_id, self.batch.items[index].row.id)
    }

    /// A submission that failed: back in the queue when the service took nothing and may take
    /// it later, failed otherwise; some failures stop the whole batch.
    fn refused(&mut self, index: usize, error: Error) {
        self.open -= 1;
        let code = error.code();
        let row = &mut self.batch.items[index].row;
        if code == Code::Cancelled {
            // Sent or not, the next run decides: a submission that may have left stays
            // `submitting`, and counts as a possible duplicate when it is sent again.
            if error.unsent {
                row.state = State::Queued;
            }
            return;
        }
        if code == Code::Unauthorized {
            row.state = State::Queued;
            return self.stop(error);
        }
        if error.unsent && error.transient {
            // Throttled (429, 503) or not reachable: fewer tasks open, and the input again later.
            row.state = State::Queued;
            self.queued.push_front(index);
            self.window = self.open.max(1);
            if self.open == 0 {
                self.refusals += 1;
            }
            if self.refusals >= REFUSALS_TO_STOP || self.batch.client.flow().stats().breaker_open {
                self.stop(error);
            }
            return;
        }
        // A document that cannot be read never makes a whole request, so it makes no task.
        if !error.unsent && code != Code::Io {
            row.possible_duplicates += 1;
        }
        self.fail(index, &error);
    }

    /// Stops the whole batch with `error`: no new submission.
    fn stop(&mut self, error: Error) {
        if self.fatal.is_none() {
            self.stop.store(true, Ordering::Relaxed);
            self.fatal = Some(error);
        }
    }

    /// Handles a poll's answer: `Some` with the files and their kinds when the task completed.
    fn fetched(
        &mut self,
        index: usize,
        sent: Instant,
        outcome: Result<Answer<TempFile>>,
    ) -> Option<(Vec<TempFile>, Vec<String>)> {
        let task_id = self.batch.items[index]
            .row
            .task_id
            .clone()
            .unwrap_or_default();
        let schedule = self.schedules.get_mut(&index)?;
        // Counted as sent when the worker sent it: a request that waited for a busy worker
        // must not shorten the 200 ms rule nor the durations learned.
        schedule.attempt_at(sent);
        match schedule.next(&task_id, outcome) {
            Step::Wait(wait) => {
                self.due.push(Reverse((Instant::now() + wait, index)));
                None
            }
            Step::Done(Ok(answer)) => {
                self.schedules.remove(&index);
                self.open -= 1;
                debug_assert_eq!(answer.status(), TaskStatus::Completed);
                let kinds = answer.results.iter().map(|r| r.kind.clone()).collect();
                let files = answer.results.into_iter().map(|r| r.data).collect();
                Some((files, kinds))
            }
            Step::Done(Err(error)) => {
                self.schedules.remove(&index);
                self.open -= 1;
                self.poll_failed(index, error);
                None
            }
        }
    }

    fn poll_failed(&mut self, index: usize, error: Error) {
        match error.code() {
            Code::Cancelled => {}
            Code::TaskNotFound => {
                let tries = self.not_found.entry(index).or_insert(0);
                *tries += 1;
                if *tries > MAX_NOT_FOUND_RESUBMISSIONS || self.fatal.is_some() {
                    self.fail(index, &error);
                } else {
                    // The service does not know the task (forgotten, or the id it gave was
                    // not one): submit the document again. Its first task may exist.
                    let row = &mut self.batch.items[index].row;
                    row.possible_duplicates += 1;
                    row.state = State::Queued;
                    row.task_id = None;
                    row.submitted_at = None;
                    self.queued.push_back(index);
                }
            }
            code => {
                if code == Code::Unauthorized {
                    self.stop(error.clone());
                }
                self.fail(index, &error);
            }
        }
    }

    fn fail(&mut self, index: usize, error: &Error) {
        let row = &mut self.batch.items[index].row;
        row.state = State::Failed;
        row.code = Some(error.code() as i32);
        row.message = Some(error.message().to_string());
        row.finished_at = Some(now());
    }

    /// The output names for a completed input's `files`, recorded in the next commit;
    /// `pending` are the names other inputs record in that same commit.
    fn claim(
        &self,
        index: usize,
        files: &[TempFile],
        kinds: &[String],
        pending: &[(usize, Vec<PathBuf>)],
    ) -> Result<outputs::Chosen> {
        let item = &self.batch.items[index];
        let kinds: Vec<&str> = kinds.iter().map(String::as_str).collect();
        let taken = |name: &Path| {
            pending
                .iter()
                .any(|(_, names)| names.iter().any(|n| n == name))
        };
        let input = outputs::Claimant {
            id: item.row.id,
            stem: &item.stem,
            own: &item.row.outputs,
        };
        outputs::choose(
            &self.batch.journal,
            &self.batch.output_dir,
            &input,
            files,
            &kinds,
            &taken,
        )
    }

    /// Puts a completed input's files in place under the `chosen` names (recorded in the
    /// journal): the names placed (`Ok(Ok)`), or why the input failed (`Ok(Err)`). A name that
    /// another process took after it was chosen (another batch in the same folder) makes it
    /// choose, record and place again; `Err` is a journal that cannot be written.
    fn place(
        &mut self,
        index: usize,
        mut files: Vec<TempFile>,
        kinds: &[String],
        mut chosen: outputs::Chosen,
    ) -> Result<Result<Vec<PathBuf>>> {
        for _ in 0..PLACE_ATTEMPTS {
            match outputs::place(files, &self.batch.output_dir, &chosen) {
                Ok(()) => return Ok(Ok(chosen.names)),
                Err(outputs::Unplaced::Failed(error)) => return Ok(Err(error)),
                Err(outputs::Unplaced::Taken(back)) => files = back,
            }
            chosen = match self.claim(index, &files, kinds, &[]) {
                Ok(chosen) => chosen,
                Err(error) => return Ok(Err(error)),
            };
            self.save_with_claims(&[], &[(index, chosen.names.clone())])?;
        }
        Ok(Err(Error::new(
            Code::Io,
            format!(
                "cannot put the results of {} in place: other processes took each name \
                 chosen for them ({} times)",
                self.batch.items[index].path.display(),
                PLACE_ATTEMPTS
            ),
        )))
    }

    /// Writes what the client has learned of task durations into the journal.
    fn save_learned(&mut self) -> Result<()> {
        self.unsaved_learning = 0;
        if !self.options.poll.learn {
            return Ok(());
        }
        let learned = self.batch.client.durations().export();
        let outcome = self.batch.journal.write(|w| {
            for (operation, intervals) in &learned {
                w.put_learned(operation, intervals)?;
            }
            Ok(())
        });
        if outcome.is_err() {
            self.stop.store(true, Ordering::Relaxed);
        }
        outcome
    }

    fn save(&mut self, indexes: &[usize]) -> Result<()> {
        self.save_with_claims(indexes, &[])
    }

    /// Writes the rows of `indexes` and the output names of `claims` in one commit.
    fn save_with_claims(
        &mut self,
        indexes: &[usize],
        claims: &[(usize, Vec<PathBuf>)],
    ) -> Result<()> {
        if indexes.is_empty() && claims.is_empty() && self.placed.is_empty() {
            return Ok(());
        }
        let placed = std::mem::take(&mut self.placed);
        let items = &self.batch.items;
        let rows: Vec<&Row> = indexes.iter().map(|&i| &items[i].row).collect();
        let claimed: Vec<(String, i64)> = claims
            .iter()
            .flat_map(|(i, names)| {
                names
                    .iter()
                    .filter_map(|n| outputs::relative_text(n).ok())
                    .map(move |n| (n, items[*i].row.id))
            })
            .collect();
        let outcome = self.batch.journal.write(|w| {
            for row in &rows {
                w.put(row)?;
            }
            for (name, id) in &claimed {
                w.claim_output(name, *id)?;
            }
            for (name, file) in &placed {
                w.placed_file(name, file)?;
            }
            Ok(())
        });
        if outcome.is_err() {
            self.stop.store(true, Ordering::Relaxed);
        }
        outcome
    }
}
