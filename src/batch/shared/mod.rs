//! A batch shared by many worker processes, on many hosts, through a journal in PostgreSQL.
//! Any number of processes open the same batch (by URL and NAME) with the same inputs and run
//! it; together they finish it. Each input is leased to one worker at a time (claimed with
//! `FOR UPDATE SKIP LOCKED`, its lease renewed while the worker lives, every write fenced by
//! the lease's token), and its task id is recorded before anything else, so that a worker's
//! death costs polls, never a second billed task outside the counted window.
//!
//! - [`connection`]: one connection whose every request has a deadline;
//! - [`db`]: the URL, the connection that survives a database restart, the schema;
//! - [`journal`]: the statements (register, claim, fenced writes);
//! - [`worker`]: one claimed input from its lease to its end;
//! - [`heartbeat`]: live workers, lease renewal, the shared rate;
//! - [`status`]: counts, live workers and failures, for `--status`.

pub mod connection;
pub mod db;
pub mod heartbeat;
pub mod journal;
pub mod status;
pub mod worker;

use super::inputs::{fingerprint, sha256_hex};
use super::journal::Row;
use super::{Item, RunOptions, State, canonical_settings, new_row};
use crate::cancel::Cancel;
use crate::client::Client;
use crate::error::{Code, Error, Result, invalid};
use crate::operations::Operation;
use db::{Link, Pool, Target};
use journal::{Journal, NewInput, Record};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

/// How long a claim lasts without renewal: a dead worker's inputs are taken over after it.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(60);
/// How long a worker with nothing to claim waits before it asks again.
const IDLE_WAIT: Duration = Duration::from_millis(500);
/// How long an input this worker cannot read waits before any worker claims it again.
const UNKNOWN_PAUSE: &str = "10 seconds";
/// The most threads of one worker process: each holds one input from its claim to its end,
/// mostly waiting for the service (requests at once are the run's jobs).
const MAX_THREADS: usize = 512;
/// How long the journal is read after a cancelled run, at most.
const REFRESH_PATIENCE: Duration = Duration::from_secs(10);
/// Inputs registered per transaction.
const REGISTER_CHUNK: usize = 500;

/// A batch on a shared journal, as one worker process sees it. Used from one thread at a time.
pub struct SharedBatch<'c> {
    client: &'c Client,
    journal: Journal,
    output_dir: PathBuf,
    items: Vec<Item>,
    /// Input keys (paths relative to their INPUT root) already added, with their index.
    keys: HashMap<String, usize>,
    stems: HashSet<PathBuf>,
    /// Inputs added and not yet registered in the journal (written when the run starts).
    unsaved: Vec<usize>,
    cancel: Option<Arc<Cancel>>,
    lease: Duration,
}

impl<'c> SharedBatch<'c> {
    /// Opens batch `name` of the shared journal at `url` (creating the schema and the batch
    /// if missing), writing results into `output_dir` (created if missing).
    pub fn open(client: &'c Client, url: &str, name: &str, output_dir: &Path) -> Result<Self> {
        if name.is_empty() || name.chars().count() > 200 || name.chars().any(char::is_control) {
            return Err(invalid(
                "the batch name must be 1 to 200 characters, none a control character",
            ));
        }
        let target = Target::parse(url)?;
        std::fs::create_dir_all(output_dir).map_err(|e| {
            Error::new(
                Code::Io,
                format!(
                    "cannot create the output folder {}: {e}",
                    output_dir.display()
                ),
            )
        })?;
        let pool = Arc::new(Pool::new(target, 1));
        db::prepare(&pool)?;
        let mut journal = Journal {
            pool,
            batch: name.to_string(),
            owner: worker_name(),
        };
        journal.create_batch()?;
        Ok(SharedBatch {
            client,
            journal,
            output_dir: output_dir.to_path_buf(),
            items: Vec::new(),
            keys: HashMap::new(),
            stems: HashSet::new(),
            unsaved: Vec::new(),
            cancel: None,
            lease: DEFAULT_LEASE,
        })
    }

    pub fn cancel_adds_with(&mut self, cancel: Arc<Cancel>) {
        self.cancel = Some(cancel);
    }

    /// Sets how long a claim lasts without renewal (at least a second).
    pub fn set_lease(&mut self, lease: Duration) -> Result<()> {
        if lease < Duration::from_secs(1) {
            return Err(invalid("the lease must be at least one second"));
        }
        self.lease = lease;
        Ok(())
    }

    pub fn output_dir(&self) -> &Path {
        &self.output_dir
    }

    pub fn items(&self) -> &[Item] {
        &self.items
    }

    /// The name of this worker in the journal (host, process, and a random part).
    pub fn worker(&self) -> &str {
        &self.journal.owner
    }

    /// Adds one file, keyed in the journal by its path relative to `root` (`None`: its file
    /// name) and its fingerprint; see [`super::Batch::add_file`].
    pub fn add_file(
        &mut self,
        path: &Path,
        root: Option<&Path>,
        operation: Option<Operation>,
        settings: Option<&str>,
    ) -> Result<()> {
        let operation = super::operation_or_by_extension(path, operation)?;
        let settings_hash = sha256_hex(canonical_settings(operation, settings)?.as_bytes());
        let relative = super::relative_to(path, root)?;
        let key = relative
            .components()
            .map(|c| c.as_os_str().to_str())
            .collect::<Option<Vec<&str>>>()
            .ok_or_else(|| invalid(format!("{}: the path is not UTF-8", path.display())))?
            .join("/");
        if let Some(&known) = self.keys.get(&key) {
            let known = &self.items[known].path;
            if same_file(known, path) {
                return Ok(());
            }
            // Two inputs with one key would be one row of the journal: the second would never
            // run, and no worker would say so.
            return Err(invalid(format!(
                "{} and {} are both {key} relative to their INPUT, the name a shared batch \
                 knows an input by: give one INPUT folder that holds both",
                known.display(),
                path.display()
            )));
        }
        let cancelled = || self.cancel.as_deref().is_some_and(Cancel::is_triggered);
        let printed = fingerprint(path, &cancelled);
        if cancelled() {
            return Err(crate::call::cancelled());
        }
        let stem = super::stem_for(&mut self.stems, relative);
        let row = match printed {
            Ok(print) => new_row(&key, Some(&print), operation.name(), &settings_hash),
            Err(error) => Row {
                state: State::Failed,
                code: Some(error.code() as i32),
                message: Some(error.message().to_string()),
                ..new_row(&key, None, operation.name(), &settings_hash)
            },
        };
        self.keys.insert(key, self.items.len());
        self.unsaved.push(self.items.len());
        self.items.push(Item {
            path: path.to_path_buf(),
            stem,
            operation,
            settings: settings.map(str::to_string),
            row,
            skipped: false,
        });
        Ok(())
    }

    /// Adds every document under `folder`; see [`super::Batch::add_folder`].
    pub fn add_folder(
        &mut self,
        folder: &Path,
        operation: Option<Operation>,
        settings: Option<&str>,
        note: &mut dyn FnMut(String),
    ) -> Result<usize> {
        let output_dir = self.output_dir.clone();
        let items = |batch: &SharedBatch| batch.items.len();
        super::inputs::add_folder(self, folder, &output_dir, note, items, |batch, path, _| {
            batch.add_file(path, Some(folder), operation, settings)
        })
    }

    /// Registers the added inputs, then works with the other workers of the batch until no
    /// input of it is left to do (the ones that other workers hold included: a worker that
    /// dies leaves them to the others). `progress` runs on this thread after each change of
    /// an input's state. `Ok` even if some failed; `Err` for a cancel, refused credentials, or
    /// a journal that refuses a statement. A database that goes away pauses the run. `options`
    /// must be valid: callers run it through [`AnyBatch::run`](super::any::AnyBatch::run).
    pub(crate) fn run(
        &mut self,
        options: &RunOptions,
        progress: &mut dyn FnMut(usize, &Item),
    ) -> Result<()> {
        self.register(options.poll.cancel.as_deref())?;
        let outcome = self.work(options, progress);
        // After a cancel the journal is read for a while only: the database may be what the
        // caller gave up on.
        let cancelled = outcome.as_ref().is_err_and(|e| e.code() == Code::Cancelled);
        let refreshed = self.refresh(cancelled.then_some(REFRESH_PATIENCE));
        outcome.and(refreshed)
    }

    /// Registers the inputs added, in chunks; `cancel` (the run's) or the adds' cancel stops it.
    fn register(&mut self, cancel: Option<&Cancel>) -> Result<()> {
        let unsaved = std::mem::take(&mut self.unsaved);
        for chunk in unsaved.chunks(REGISTER_CHUNK) {
            let stems: Vec<String> = chunk
                .iter()
                .map(|&i| self.items[i].stem.to_string_lossy().replace('\\', "/"))
                .collect();
            let inputs: Vec<NewInput> = chunk
                .iter()
                .zip(&stems)
                .map(|(&i, stem)| {
                    let row = &self.items[i].row;
                    NewInput {
                        input: &row.path,
                        sha256: &row.sha256,
                        size: row.size as i64,
                        operation: &row.operation,
                        settings_sha256: &row.settings_sha256,
                        stem,
                        unusable: row.code.zip(row.message.as_deref()),
                    }
                })
                .collect();
            let cancel = cancel.or(self.cancel.as_deref());
            let records = self.journal.register(&inputs, cancel)?;
            drop(inputs);
            for (&i, record) in chunk.iter().zip(records) {
                let item = &mut self.items[i];
                item.skipped = record.state == State::Completed;
                update(&mut item.row, record);
            }
        }
        if unsaved.is_empty() {
            return Ok(());
        }
        self.journal
            .refresh_statistics(cancel.or(self.cancel.as_deref()))
    }

    /// Reads what the journal holds now about this worker's inputs.
    fn refresh(&mut self, patience: Option<Duration>) -> Result<()> {
        for record in self.journal.records(patience)? {
            if let Some(&i) = self.keys.get(&record.input) {
                update(&mut self.items[i].row, record);
            }
        }
        Ok(())
    }

    fn work(&mut self, options: &RunOptions, progress: &mut dyn FnMut(usize, &Item)) -> Result<()> {
        let stop = AtomicBool::new(false);
        let beating = AtomicBool::new(false);
        let fatal: Mutex<Option<Error>> = Mutex::new(None);
        let unknown: Mutex<Vec<String>> = Mutex::new(Vec::new());
        let total = self.client.flow().max_rate();
        let locals: Vec<LocalInput> = self
            .items
            .iter()
            .map(|i| {
                let own = i.row.outputs.clone();
                (
                    i.path.clone(),
                    i.stem.clone(),
                    i.operation,
                    i.settings.clone(),
                    own,
                )
            })
            .collect();
        let (client, keys, output_dir, lease) = (
            self.client,
            &self.keys,
            self.output_dir.as_path(),
            self.lease,
        );
        let target = self.journal.pool.target().clone();
        // One connection per job, shared by the threads, which mostly wait for the service.
        let pool = Arc::new(Pool::new(target.clone(), options.jobs + 1));
        let slots = worker::Slots::new(options.jobs);
        let finished = AtomicBool::new(false);
        let held = Mutex::new(Vec::new());
        let threads = (options.jobs * super::run::OPEN_TASKS_PER_JOB).min(MAX_THREADS);
        let (batch, owner) = (self.journal.batch.as_str(), self.journal.owner.as_str());
        let (updates, updated) = mpsc::channel::<(usize, State)>();
        let context = Context {
            client,
            output_dir,
            options,
            lease,
            stop: &stop,
            unknown: &unknown,
            keys,
            locals: &locals,
            slots: &slots,
            jobs: options.jobs,
            finished: &finished,
            held: &held,
        };
        let mut heart = heartbeat::Heart {
            link: Link::new(target.clone()),
            batch,
            owner,
            jobs: options.jobs as i32,
            lease,
            client,
            held: &held,
        };
        // The share of the rate is known before the first request.
        heart.join(total, options.poll.cancel.as_deref());
        std::thread::scope(|scope| {
            let beating = &beating;
            scope.spawn(move || {
                crate::panics::library_thread();
                heart.beat_until(beating, total);
            });
            for thread in 0..threads {
                let updates = updates.clone();
                let (context, fatal) = (&context, &fatal);
                let mut journal = Journal {
                    pool: Arc::clone(&pool),
                    batch: batch.to_string(),
                    owner: owner.to_string(),
                };
                scope.spawn(move || {
                    crate::panics::library_thread();
                    if let Err(error) = context.work_until_done(thread, &mut journal, &updates) {
                        context.stop.store(true, Ordering::Relaxed);
                        fatal
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .get_or_insert(error);
                    }
                });
            }
            drop(updates);
            for (index, state) in updated {
                let item = &mut self.items[index];
                item.row.state = state;
                progress(index, item);
            }
            beating.store(true, Ordering::Relaxed);
        });
        if let Some(error) = fatal.into_inner().unwrap_or_else(|e| e.into_inner()) {
            return Err(error);
        }
        Ok(())
    }
}

/// What an input is on this host: its path, stem, operation, settings and own outputs.
type LocalInput = (PathBuf, PathBuf, Operation, Option<String>, Vec<String>);

/// What the worker threads of one run share.
struct Context<'a> {
    client: &'a Client,
    output_dir: &'a Path,
    options: &'a RunOptions,
    lease: Duration,
    stop: &'a AtomicBool,
    /// Inputs claimed here that no worker of this process can read.
    unknown: &'a Mutex<Vec<String>>,
    keys: &'a HashMap<String, usize>,
    locals: &'a [LocalInput],
    /// Requests at once: the run's jobs.
    slots: &'a worker::Slots,
    jobs: usize,
    /// Set by the thread that found nothing left to do.
    finished: &'a AtomicBool,
    /// The inputs a thread of this process works on: the only leases the heartbeat renews.
    held: &'a Mutex<Vec<i64>>,
}

/// An input in [`Context::held`] for as long as this lives.
struct Holding<'a> {
    held: &'a Mutex<Vec<i64>>,
    id: i64,
}

impl<'a> Holding<'a> {
    fn new(held: &'a Mutex<Vec<i64>>, id: i64) -> Holding<'a> {
        held.lock().unwrap_or_else(|e| e.into_inner()).push(id);
        Holding { held, id }
    }
}

impl Drop for Holding<'_> {
    fn drop(&mut self) {
        let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(at) = held.iter().position(|&id| id == self.id) {
            held.swap_remove(at);
        }
    }
}

impl Context<'_> {
    /// One worker thread: claims an input at a time and works on it, until none of the
    /// batch's inputs is left to do (leaving out those no worker here can read), or `stop`.
    fn work_until_done(
        &self,
        thread: usize,
        journal: &mut Journal,
        updates: &mpsc::Sender<(usize, State)>,
    ) -> Result<()> {
        let cancel = self.options.poll.cancel.as_deref();
        while !self.stop.load(Ordering::Relaxed) {
            if cancel.is_some_and(Cancel::is_triggered) {
                return Err(crate::call::cancelled());
            }
            let Some(claim) = journal.claim(1, self.lease, cancel)?.pop() else {
                let unknown = self
                    .unknown
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .clone();
                if journal.remaining(&unknown, cancel)? == 0 {
                    // Nothing left: the other idle threads need not look again.
                    self.finished.store(true, Ordering::Relaxed);
                    return Ok(());
                }
                // The first `jobs` threads look for work often, the others less and less.
                let slower = u32::try_from(thread / self.jobs)
                    .unwrap_or(u32::MAX)
                    .min(16);
                let until = Instant::now() + IDLE_WAIT * (1 + slower);
                while Instant::now() < until && !self.finished.load(Ordering::Relaxed) {
                    db::sleep_unless(cancel, Duration::from_millis(50).min(IDLE_WAIT));
                }
                if self.finished.load(Ordering::Relaxed) {
                    return Ok(());
                }
                continue;
            };
            // A lease this process took but no thread works on (a claim whose answer was lost
            // with the connection, and which ran again) is not renewed: it runs out, and the
            // input is claimed again.
            let _holding = Holding::new(self.held, claim.id);
            let Some(&index) = self.keys.get(&claim.input) else {
                // Added by workers with other inputs: one of them takes it.
                let pause = format!(
                    "not_before = now() + interval '{UNKNOWN_PAUSE}', lease_owner = NULL, \
                     lease_until = NULL"
                );
                journal.fenced(&claim, &pause, &[], cancel)?;
                self.unknown
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(claim.input);
                continue;
            };
            let (path, stem, operation, settings, own) = &self.locals[index];
            let local = worker::Local {
                path,
                stem,
                operation: *operation,
                settings: settings.as_deref(),
                own,
            };
            let mut report = |state| {
                let _ = updates.send((index, state));
            };
            let mut work = worker::Work {
                client: self.client,
                journal,
                output_dir: self.output_dir,
                options: self.options,
                lease: self.lease,
                slots: self.slots,
                report: &mut report,
            };
            work.run(claim, &local)?;
        }
        Ok(())
    }
}

/// What the journal holds, in the row the accessors read.
fn update(row: &mut Row, record: Record) {
    row.id = record.id;
    row.state = record.state;
    row.task_id = record.task_id;
    row.outputs = record.outputs;
    row.code = record.code;
    row.message = record.message;
    row.attempts = record.submissions.max(0) as u32;
    row.possible_duplicates = record.possible_duplicates.max(0) as u32;
    row.started_at = record.seconds.map(|_| 0.0);
    row.finished_at = record.seconds;
}

/// This worker's name in the journal: host, process id, and a random part (a process may
/// open the batch twice).
fn worker_name() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let local = 0u8;
    let seed = format!("{nanos}:{:p}:{}", &local, std::process::id());
    format!(
        "{}:{}:{}",
        heartbeat::host_name(),
        std::process::id(),
        &sha256_hex(seed.as_bytes())[..8]
    )
}

/// Whether `a` and `b` are one input: the same path once their folders' links are resolved
/// (a link to a file is an input of its own, as in an SQLite batch).
fn same_file(a: &Path, b: &Path) -> bool {
    matches!((super::own_path(a), super::own_path(b)), (Ok(a), Ok(b)) if a == b)
}
