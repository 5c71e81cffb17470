//! One claimed input, from its lease to its end: submitted (the intent committed before the
//! POST, the task id as soon as it returns), polled, and its results published, each write
//! fenced by the lease, so that a worker whose lease was taken writes and publishes nothing.

use super::journal::{Claim, Journal};
use crate::batch::journal::FileIdentity;
use crate::batch::outputs::{self, Records};
use crate::batch::{RESUBMIT_AFTER_SECONDS, RunOptions, State};
use crate::client::Client;
use crate::error::{Code, Error, Result};
use crate::files::{FileSink, TempFile};
use crate::operations::{Document, Operation};
use crate::poll::{Schedule, Step};
use std::cell::{Cell, RefCell};
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

/// Submissions of one input before it fails: each may have made a billed task.
pub(crate) const MAX_SUBMISSIONS: i32 = 3;
/// How often the names of one input's results are chosen again when another process takes
/// them first.
const PLACE_ATTEMPTS: usize = 16;
/// How long a submission the service refused for now (429, 503, no connection) waits before
/// any worker takes it again.
const REFUSED_PAUSE_SECONDS: f64 = 2.0;

/// What a worker knows of an input it can read.
pub struct Local<'a> {
    pub path: &'a Path,
    pub stem: &'a Path,
    pub operation: Operation,
    pub settings: Option<&'a str>,
    /// The outputs it completed with last time (its own files, which it may replace).
    pub own: &'a [String],
}

/// How the work on one claim ended.
pub enum Ended {
    /// Completed or failed, written under the lease.
    Done,
    /// Given back (refused for now, or a cancel): another claim takes it later.
    Released,
    /// The lease was taken by another worker: nothing written, nothing published.
    Lost,
}

/// Everything the work on one claim needs.
pub struct Work<'a, 'o> {
    pub client: &'a Client,
    pub journal: &'a mut Journal,
    pub output_dir: &'a Path,
    pub options: &'o RunOptions,
    pub lease: Duration,
    /// Requests at once, shared by the threads of the run.
    pub slots: &'a Slots,
    /// Hears each state this input reaches, once written.
    pub report: &'a mut dyn FnMut(State),
}

/// A fenced write of `set` with `params` ($5, $6, ...): `Lost` when the lease was taken.
macro_rules! fenced {
    ($work:expr, $claim:expr, $set:expr $(, $param:expr)*) => {
        let options = $work.options;
        if !$work
            .journal
            .fenced($claim, $set, &[$(&$param),*], options.poll.cancel.as_deref())?
        {
            return Ok(Ended::Lost);
        }
    };
}

impl Work<'_, '_> {
    /// Works on `claim` until it completes, fails, is given back or is lost. `Err` stops the
    /// whole worker: refused credentials, a cancel, a journal that refuses a statement.
    pub fn run(&mut self, mut claim: Claim, local: &Local) -> Result<Ended> {
        if claim.token > 1 {
            // Held before, maybe by a worker that died while writing its results here.
            crate::files::sweep_leftovers(&output_folder(self.output_dir, local.stem));
        }
        let young = claim
            .task_age
            .is_some_and(|age| age < RESUBMIT_AFTER_SECONDS);
        let mut task = match (&claim.state, &claim.task_id) {
            (State::Submitted, Some(id)) if young => Some(id.clone()),
            _ => None,
        };
        // Caught during its POST by a worker that died, or holding a task too old to poll:
        // the next submission may duplicate a billed task.
        if claim.state == State::Submitting || (claim.state == State::Submitted && task.is_none()) {
            claim.possible_duplicates += 1;
        }
        loop {
            let task_id = match task.take() {
                Some(task_id) => task_id,
                None => {
                    if claim.submissions >= MAX_SUBMISSIONS {
                        let error = Error::new(
                            Code::TaskFailed,
                            format!(
                                "submitted {MAX_SUBMISSIONS} times without a result; not \
                                 submitted again"
                            ),
                        );
                        return self.fail(&claim, &error);
                    }
                    // The slot first: an intent must not wait for one (a kill then would
                    // count a submission that never left).
                    let Some(_slot) = self.slots.take(self.options.poll.cancel.as_deref()) else {
                        self.release(&claim)?;
                        return Err(crate::call::cancelled());
                    };
                    claim.submissions += 1;
                    fenced!(
                        self,
                        &claim,
                        "state = 'submitting', submissions = $5, possible_duplicates = $6, \
                         task_id = NULL, submitted_at = NULL, code = NULL, message = NULL",
                        claim.submissions,
                        claim.possible_duplicates
                    );
                    (self.report)(State::Submitting);
                    match self.submit(&claim, local)? {
                        Ok(task_id) => task_id,
                        Err(ended) => return Ok(ended),
                    }
                }
            };
            match self.poll(&claim, local, &task_id)? {
                Polled::Completed(files, kinds) => {
                    return self.publish(&claim, local, files, &kinds);
                }
                Polled::Failed(error) if error.code() == Code::TaskNotFound => {
                    // The service forgot the task (or never had it): submit again, counted.
                    claim.possible_duplicates += 1;
                }
                Polled::Failed(error) if error.code() == Code::Cancelled => {
                    self.release(&claim)?;
                    return Err(error);
                }
                Polled::Failed(error) if error.code() == Code::Unauthorized => {
                    self.release(&claim)?;
                    return Err(error);
                }
                Polled::Failed(error) => return self.fail(&claim, &error),
            }
        }
    }

    /// The POST, with no transaction open: the task id (recorded), or how the claim ended.
    fn submit(
        &mut self,
        claim: &Claim,
        local: &Local,
    ) -> Result<std::result::Result<String, Ended>> {
        let call = crate::call::Call {
            deadline: self
                .options
                .poll
                .timeout
                .and_then(|t| Instant::now().checked_add(t)),
            cancel: self.options.poll.cancel.as_ref(),
            attempts: None,
        };
        let outcome = self.client.submit(
            local.operation,
            Document::File(local.path),
            local.settings,
            &call,
        );
        let cancel = self.options.poll.cancel.as_deref();
        let error = match outcome {
            Ok(task_id) => {
                if let Some(other) = self.journal.task_holder(&task_id, claim.id)? {
                    let error = Error::new(
                        Code::Protocol,
                        format!(
                            "the service answered the task id {task_id} for {}, the id it gave \
                             before for {other}: one task cannot hold the results of both",
                            claim.input
                        ),
                    );
                    return self.fail(claim, &error).map(Err);
                }
                let recorded = self.journal.fenced(
                    claim,
                    "state = 'submitted', task_id = $5, submitted_at = now()",
                    &[&task_id],
                    cancel,
                )?;
                if !recorded {
                    return Ok(Err(Ended::Lost));
                }
                (self.report)(State::Submitted);
                return Ok(Ok(task_id));
            }
            Err(error) => error,
        };
        if error.unsent && (error.transient || error.code() == Code::Cancelled) {
            // The service took nothing: not a submission. Back in the queue for any worker.
            let given_back = self.journal.fenced(
                claim,
                "state = 'queued', submissions = $5, \
                 not_before = now() + make_interval(secs => $6), \
                 lease_owner = NULL, lease_until = NULL",
                &[&(claim.submissions - 1), &REFUSED_PAUSE_SECONDS],
                None,
            )?;
            (self.report)(State::Queued);
            if error.code() == Code::Cancelled {
                return Err(error);
            }
            return Ok(Err(if given_back {
                Ended::Released
            } else {
                Ended::Lost
            }));
        }
        if error.code() == Code::Cancelled {
            // It may have left: it stays `submitting`, a possible duplicate for whoever takes it.
            self.release(claim)?;
            return Err(error);
        }
        if error.code() == Code::Unauthorized {
            self.journal.fenced(
                claim,
                "state = 'queued', submissions = $5, lease_owner = NULL, lease_until = NULL",
                &[&(claim.submissions - 1)],
                None,
            )?;
            return Err(error);
        }
        // A document that cannot be read never makes a whole request, so it makes no task.
        let mut claim = claim.clone();
        claim.possible_duplicates += i32::from(!error.unsent && error.code() != Code::Io);
        self.fail(&claim, &error).map(Err)
    }

    /// Polls the task until it ends. A GET writes nothing, so it needs no lease of its own:
    /// the heartbeat renews the lease, and what comes of the GET is written or published only
    /// under it.
    fn poll(&mut self, claim: &Claim, local: &Local, task_id: &str) -> Result<Polled> {
        let options = &self.options.poll;
        let started = Instant::now();
        let submitted = claim
            .task_age
            .filter(|_| claim.task_id.as_deref() == Some(task_id))
            .and_then(|age| started.checked_sub(Duration::try_from_secs_f64(age).ok()?));
        let mut schedule = Schedule::learning(
            options,
            started,
            self.client.durations(),
            local.operation,
            submitted.or(Some(started)),
        );
        let dir = output_folder(self.output_dir, local.stem);
        let mut wait = schedule.first_wait(options.wait(1));
        loop {
            super::db::sleep_unless(options.cancel.as_deref(), wait);
            if options.cancel.as_deref().is_some_and(|c| c.is_triggered()) {
                return Ok(Polled::Failed(crate::call::cancelled()));
            }
            let Some(_slot) = self.slots.take(options.cancel.as_deref()) else {
                return Ok(Polled::Failed(crate::call::cancelled()));
            };
            schedule.attempt();
            let call = schedule.call();
            let outcome = std::fs::create_dir_all(&dir)
                .map_err(|e| {
                    Error::new(
                        Code::Io,
                        format!("cannot create the folder {}: {e}", dir.display()),
                    )
                })
                .and_then(|()| FileSink::new(&dir))
                .and_then(|mut sink| {
                    self.client
                        .fetch_into(local.operation, task_id, &mut sink, &call)
                });
            match schedule.next(task_id, outcome) {
                Step::Wait(next) => wait = next,
                Step::Done(Ok(answer)) => {
                    let kinds = answer.results.iter().map(|r| r.kind.clone()).collect();
                    let files = answer.results.into_iter().map(|r| r.data).collect();
                    return Ok(Polled::Completed(files, kinds));
                }
                Step::Done(Err(error)) => return Ok(Polled::Failed(error)),
            }
        }
    }

    /// Records the output names under the lease, then puts the files in place (each free
    /// name taken on disk by an exclusive link), then records the completion.
    fn publish(
        &mut self,
        claim: &Claim,
        local: &Local,
        mut files: Vec<TempFile>,
        kinds: &[String],
    ) -> Result<Ended> {
        let kinds: Vec<&str> = kinds.iter().map(String::as_str).collect();
        let input = outputs::Claimant {
            id: claim.id,
            stem: local.stem,
            own: local.own,
        };
        for _ in 0..PLACE_ATTEMPTS {
            let (chosen, unreadable) = {
                let records = SharedRecords {
                    journal: RefCell::new(&mut *self.journal),
                    failed: Cell::new(false),
                };
                let none = |_: &Path| false;
                let chosen =
                    outputs::choose(&records, self.output_dir, &input, &files, &kinds, &none);
                (chosen, records.failed.get())
            };
            let chosen = match chosen {
                Ok(chosen) => chosen,
                // The journal could not be read: that stops the worker, not the input.
                Err(error) if unreadable => return Err(error),
                Err(error) => return self.fail(claim, &error),
            };
            let names: Vec<String> = chosen
                .names
                .iter()
                .filter_map(|n| outputs::relative_text(n).ok())
                .collect();
            let cancel = self.options.poll.cancel.as_deref();
            if !self
                .journal
                .claim_outputs(claim, &names, self.lease, cancel)?
            {
                return Ok(Ended::Lost);
            }
            match outputs::place(files, self.output_dir, &chosen) {
                Ok(()) => {
                    fenced!(
                        self,
                        claim,
                        "state = 'completed', outputs = $5, finished_at = now(), \
                         code = NULL, message = NULL, lease_owner = NULL, lease_until = NULL",
                        names
                    );
                    (self.report)(State::Completed);
                    return Ok(Ended::Done);
                }
                Err(outputs::Unplaced::Failed(error)) => return self.fail(claim, &error),
                Err(outputs::Unplaced::Taken(back)) => files = back,
            }
        }
        let error = Error::new(
            Code::Io,
            format!(
                "cannot put the results of {} in place: other processes took each name chosen \
                 for them ({PLACE_ATTEMPTS} times)",
                claim.input
            ),
        );
        self.fail(claim, &error)
    }

    /// Records the failure under the lease, with the claim's possible duplicates.
    fn fail(&mut self, claim: &Claim, error: &Error) -> Result<Ended> {
        let code = error.code() as i32;
        let message = error.message().to_string();
        fenced!(
            self,
            claim,
            "state = 'failed', code = $5, message = $6, finished_at = now(), \
             possible_duplicates = $7, lease_owner = NULL, lease_until = NULL",
            code,
            message,
            claim.possible_duplicates
        );
        (self.report)(State::Failed);
        Ok(Ended::Done)
    }

    /// Gives the lease back at once, the state unchanged.
    fn release(&mut self, claim: &Claim) -> Result<()> {
        self.journal
            .fenced(claim, "lease_owner = NULL, lease_until = NULL", &[], None)
            .map(drop)
    }
}

/// Requests at once: a counting semaphore shared by the threads of one run.
pub struct Slots {
    free: Mutex<usize>,
    freed: Condvar,
}

/// A slot taken, given back on drop.
pub struct Slot<'a>(&'a Slots);

impl Slots {
    pub fn new(count: usize) -> Slots {
        Slots {
            free: Mutex::new(count),
            freed: Condvar::new(),
        }
    }

    /// Waits for a free slot; `None` once `cancel` is triggered.
    pub fn take(&self, cancel: Option<&crate::cancel::Cancel>) -> Option<Slot<'_>> {
        let mut free = self.free.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if cancel.is_some_and(|c| c.is_triggered()) {
                return None;
            }
            if *free > 0 {
                *free -= 1;
                return Some(Slot(self));
            }
            free = self
                .freed
                .wait_timeout(free, Duration::from_millis(50))
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        *self.0.free.lock().unwrap_or_else(|e| e.into_inner()) += 1;
        self.0.freed.notify_one();
    }
}

/// What polling a task came to.
enum Polled {
    Completed(Vec<TempFile>, Vec<String>),
    Failed(Error),
}

/// The folder the results of the input with `stem` go to.
fn output_folder(output_dir: &Path, stem: &Path) -> PathBuf {
    let target = output_dir.join(stem);
    target
        .parent()
        .map_or_else(|| output_dir.to_path_buf(), PathBuf::from)
}

/// The shared journal as the output naming reads it. No file identity is recorded: any
/// regular file at a name an input holds counts as that input's.
struct SharedRecords<'a> {
    journal: RefCell<&'a mut Journal>,
    /// Whether a read of the journal failed.
    failed: Cell<bool>,
}

impl Records for SharedRecords<'_> {
    fn output_owner(&self, relative: &str) -> Result<Option<i64>> {
        let owner = self.journal.borrow_mut().output_owner(relative);
        self.failed.set(self.failed.get() || owner.is_err());
        owner
    }
    fn placed_file(&self, _relative: &str) -> Result<Option<FileIdentity>> {
        Ok(None)
    }
}
