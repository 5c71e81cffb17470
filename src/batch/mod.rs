//! The batch: many documents through one client, with a journal that lets a batch killed at any
//! moment resume where it stopped, never submitting a recorded task again.
//!
//! - [`inputs`]: walking folders, operations by extension, fingerprints;
//! - [`journal`]: the SQLite journal;
//! - [`outputs`]: naming results, all-or-none;
//! - [`run`]: the scheduler over the client's request budget;
//! - [`shared`]: the batch many workers share through PostgreSQL;
//! - [`any`]: either batch, as the C surface and the command hold it.
//!
//! The resume rules (what [`Batch::add_file`] decides from the journal) are in [`resume`].

pub mod any;
pub mod inputs;
pub mod journal;
pub mod outputs;
pub mod run;
pub mod shared;

use crate::cancel::Cancel;
use crate::client::Client;
use crate::error::{Code, Error, Result, invalid};
use crate::operations::Operation;
use crate::platform::paths::canonicalize;
use inputs::{Fingerprint, fingerprint, sha256_hex};
use journal::{Journal, Row};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use run::RunOptions;

/// Where an input is. The numbers are the C contract (`OCR_BATCH_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum State {
    /// Not submitted yet (or to be submitted again).
    Queued = 0,
    /// The intent is recorded; the submission is under way, and its task id not yet recorded.
    Submitting = 1,
    /// A task id is recorded; the task is being polled.
    Submitted = 2,
    /// The results are in the output folder.
    Completed = 3,
    /// It failed; the code and message say why.
    Failed = 4,
}

impl State {
    /// Every state, in numeric order.
    pub const ALL: [State; 5] = [
        State::Queued,
        State::Submitting,
        State::Submitted,
        State::Completed,
        State::Failed,
    ];

    /// The name used in the journal and the report: `queued`, `submitting`, ...
    pub fn name(self) -> &'static str {
        match self {
            State::Queued => "queued",
            State::Submitting => "submitting",
            State::Submitted => "submitted",
            State::Completed => "completed",
            State::Failed => "failed",
        }
    }

    pub fn from_name(name: &str) -> Option<State> {
        State::ALL.into_iter().find(|s| s.name() == name)
    }

    pub fn from_i32(value: i32) -> Option<State> {
        State::ALL.into_iter().find(|s| *s as i32 == value)
    }
}

/// How long after its submission a task is polled rather than submitted again: results are
/// kept 24 hours, and a poll needs a margin.
pub const RESUBMIT_AFTER_SECONDS: f64 = 23.0 * 3600.0;

/// One input of a batch.
#[derive(Debug, Clone)]
pub struct Item {
    /// The path as given.
    pub path: PathBuf,
    /// The output name without extension, relative to the output folder.
    pub stem: PathBuf,
    pub operation: Operation,
    settings: Option<String>,
    /// What the journal holds (and will hold) about it.
    pub row: Row,
    /// Completed by an earlier run: nothing to do.
    pub skipped: bool,
}

impl Item {
    pub fn state(&self) -> State {
        self.row.state
    }

    /// The code of the failure, for a failed input.
    pub fn code(&self) -> Option<Code> {
        self.row.code.and_then(Code::from_i32)
    }

    /// Seconds from the first submission to the end, if it ended.
    pub fn seconds(&self) -> Option<f64> {
        Some(self.row.finished_at? - self.row.started_at?)
    }
}

/// A batch over a journal and an output folder. Used from one thread at a time.
pub struct Batch<'c> {
    client: &'c Client,
    journal: Journal,
    output_dir: PathBuf,
    items: Vec<Item>,
    /// Journal keys (canonical paths) already added.
    keys: HashSet<String>,
    /// Output stems already given to an input of this batch.
    stems: HashSet<PathBuf>,
    /// Rows changed by `add_*` that the journal does not hold yet (written when the run starts).
    unsaved: Vec<usize>,
    /// Ends `add_*` early (they read every file) with `Cancelled`.
    cancel: Option<Arc<Cancel>>,
}

impl<'c> Batch<'c> {
    /// Opens a batch writing into `output_dir` (created if missing) with the journal at
    /// `journal` (`None`: `output_dir/.ocrcloud/journal.sqlite`).
    pub fn open(
        client: &'c Client,
        journal: Option<&Path>,
        output_dir: &Path,
    ) -> Result<Batch<'c>> {
        match std::fs::metadata(output_dir) {
            Ok(meta) if !meta.is_dir() => {
                return Err(invalid(format!(
                    "the output folder {} is a file",
                    output_dir.display()
                )));
            }
            Ok(_) => {}
            Err(_) => std::fs::create_dir_all(output_dir).map_err(|e| {
                Error::new(
                    Code::Io,
                    format!(
                        "cannot create the output folder {}: {e}",
                        output_dir.display()
                    ),
                )
            })?,
        }
        let journal_path = journal
            .map(Path::to_path_buf)
            .unwrap_or_else(|| default_journal(output_dir));
        let journal = Journal::open(&journal_path, output_dir)?;
        // A rerun starts with what earlier runs learned of task durations.
        for (operation, intervals) in journal.learned()? {
            client.durations().import(&operation, &intervals);
        }
        Ok(Batch {
            client,
            journal,
            output_dir: output_dir.to_path_buf(),
            items: Vec::new(),
            keys: HashSet::new(),
            stems: HashSet::new(),
            unsaved: Vec::new(),
            cancel: None,
        })
    }

    /// Makes `cancel` end the adds that follow with `Cancelled`, between files and while a
    /// file is read. The runs take their cancel switch from their poll options.
    pub fn cancel_adds_with(&mut self, cancel: Arc<Cancel>) {
        self.cancel = Some(cancel);
    }

    pub fn output_dir(&self) -> &Path {
        &self.output_dir
    }

    pub fn items(&self) -> &[Item] {
        &self.items
    }

    /// How many inputs are in `state`.
    pub fn count(&self, state: State) -> usize {
        self.items.iter().filter(|i| i.state() == state).count()
    }

    /// Adds one file. Its results are named after its path relative to `root` (`None`: its
    /// own folder). `operation` `None` chooses by extension ([`inputs::operation_for`]);
    /// `settings` `None` takes the operation's defaults. A file that cannot be submitted
    /// (missing, unreadable, not a regular file, empty, too large) is added as failed, with the
    /// reason; bad settings and a file outside `root` are errors. A second add of the same path
    /// does nothing. A link to a file is an input of its own, keyed and named by the link's
    /// path (see `own_path`), and the file it names is another.
    pub fn add_file(
        &mut self,
        path: &Path,
        root: Option<&Path>,
        operation: Option<Operation>,
        settings: Option<&str>,
    ) -> Result<()> {
        let operation = operation_or_by_extension(path, operation)?;
        let settings_hash = sha256_hex(canonical_settings(operation, settings)?.as_bytes());
        let key = own_path(path)
            .map_err(|e| Error::new(Code::Io, format!("cannot read {}: {e}", path.display())))?;
        let key = key
            .to_str()
            .ok_or_else(|| invalid(format!("{}: the path is not UTF-8", path.display())))?
            .to_string();
        let relative = relative_to(path, root)?;
        if canonicalize(path).is_ok_and(|p| p == self.journal.path()) {
            return Err(invalid(format!(
                "{} is the batch's journal",
                path.display()
            )));
        }
        if !self.keys.insert(key.clone()) {
            return Ok(());
        }
        let stem = stem_for(&mut self.stems, relative);
        let now = journal::now();
        let previous = self.journal.find(&key)?;
        let cancelled = || self.cancel.as_deref().is_some_and(Cancel::is_triggered);
        let fingerprinted = fingerprint(path, &cancelled);
        if cancelled() {
            self.keys.remove(&key);
            return Err(crate::call::cancelled());
        }
        let row = match fingerprinted {
            Ok(print) => {
                let outputs_exist = match &previous {
                    Some(row) => row.outputs.iter().try_fold(true, |all, out| {
                        Ok::<_, Error>(
                            all && outputs::still_placed(&self.journal, &self.output_dir, out)?,
                        )
                    })?,
                    None => false,
                };
                resume(
                    previous,
                    &key,
                    &print,
                    operation.name(),
                    &settings_hash,
                    outputs_exist,
                    now,
                )
            }
            Err(error) => Row {
                state: State::Failed,
                code: Some(error.code() as i32),
                message: Some(error.message().to_string()),
                finished_at: Some(now),
                ..previous.unwrap_or_else(|| new_row(&key, None, operation.name(), &settings_hash))
            },
        };
        let skipped = row.state == State::Completed;
        self.unsaved.push(self.items.len());
        self.items.push(Item {
            path: path.to_path_buf(),
            stem,
            operation,
            settings: settings.map(str::to_string),
            row,
            skipped,
        });
        Ok(())
    }

    /// Adds every document under `folder` (see [`inputs::walk`]), named after their paths
    /// relative to it; answers how many were added. `note` hears about skipped entries.
    pub fn add_folder(
        &mut self,
        folder: &Path,
        operation: Option<Operation>,
        settings: Option<&str>,
        note: &mut dyn FnMut(String),
    ) -> Result<usize> {
        let output_dir = self.output_dir.clone();
        let items = |batch: &Batch| batch.items.len();
        inputs::add_folder(
            self,
            folder,
            &output_dir,
            note,
            items,
            |batch, path, note| {
                if canonicalize(path).is_ok_and(|p| p == batch.journal.path()) {
                    note(format!("skipped {}: the batch's journal", path.display()));
                    return Ok(());
                }
                batch.add_file(path, Some(folder), operation, settings)
            },
        )
    }

    /// Processes every input that is not completed: submits the queued ones (at most
    /// `options.jobs` requests at once), polls the submitted ones, and writes the results
    /// into the output folder. `progress` runs on this thread after each change of an input's
    /// state, once it is in the journal, with the input's index (the order of the adds). Ends when every input is completed or failed (`Ok`,
    /// even if some failed), or with an error that stops the whole batch: cancelled, refused
    /// credentials, an open circuit breaker, a journal that cannot be written. `options` must
    /// be valid: callers run a batch through [`AnyBatch::run`](any::AnyBatch::run), which
    /// checks them ([`RunOptions::validate`]).
    pub(crate) fn run(
        &mut self,
        options: &RunOptions,
        progress: &mut dyn FnMut(usize, &Item),
    ) -> Result<()> {
        self.save_added()?;
        run::run(self, options, progress)
    }

    fn save_added(&mut self) -> Result<()> {
        let unsaved = std::mem::take(&mut self.unsaved);
        let items = &mut self.items;
        let ids = self.journal.write(|w| {
            unsaved
                .iter()
                .map(|&i| w.put(&items[i].row))
                .collect::<rusqlite::Result<Vec<i64>>>()
        })?;
        for (i, id) in unsaved.into_iter().zip(ids) {
            items[i].row.id = id;
        }
        Ok(())
    }
}

/// `operation`, or the one for the file's extension ([`inputs::operation_for`]).
fn operation_or_by_extension(path: &Path, operation: Option<Operation>) -> Result<Operation> {
    match operation {
        Some(op) => Ok(op),
        None => inputs::operation_for(path).ok_or_else(|| {
            invalid(format!(
                "{}: not a PDF or an image (.pdf .png .jpg .jpeg .tif .tiff .bmp .gif); \
                 give the operation",
                path.display()
            ))
        }),
    }
}

/// The path of the input at `path` relative to `root` (`None`: its own folder), which its
/// results are named after.
fn relative_to<'p>(path: &'p Path, root: Option<&Path>) -> Result<&'p Path> {
    match root {
        Some(root) => path.strip_prefix(root).map_err(|_| {
            invalid(format!(
                "{} is not inside {}",
                path.display(),
                root.display()
            ))
        }),
        None => Ok(Path::new(path.file_name().unwrap_or(path.as_os_str()))),
    }
}

/// The output stem for an input at `relative`: the path without its extension, or with it
/// when another input of the batch (whose stems are `stems`) has that stem, then `~2`, `~3`,
/// ... (see docs/cli.md, "Batches").
fn stem_for(stems: &mut HashSet<PathBuf>, relative: &Path) -> PathBuf {
    let plain = relative.with_extension("");
    let mut candidate = plain.clone();
    let mut n = 1;
    while stems.contains(&candidate) {
        candidate = if n == 1 {
            relative.to_path_buf()
        } else {
            let mut name = relative.as_os_str().to_owned();
            name.push(format!("~{n}"));
            PathBuf::from(name)
        };
        n += 1;
    }
    stems.insert(candidate.clone());
    candidate
}

/// The journal key of the input at `path`: its absolute path with the links of its folders
/// resolved, but not a link that `path` itself is. A link to a file and the file it names are
/// two inputs with results of their own: keyed by the target, the first in name order took
/// the results and the other never got any.
fn own_path(path: &Path) -> std::io::Result<PathBuf> {
    let absolute = std::path::absolute(path)?;
    match (absolute.parent(), absolute.file_name()) {
        (Some(parent), Some(name)) => Ok(canonicalize(parent)
            .unwrap_or_else(|_| parent.to_path_buf())
            .join(name)),
        // `/`, or a path ending in `..`: no name of its own to keep.
        _ => canonicalize(&absolute).or(Ok(absolute)),
    }
}

/// `output_dir/.ocrcloud/journal.sqlite`.
pub fn default_journal(output_dir: &Path) -> PathBuf {
    output_dir.join(".ocrcloud").join("journal.sqlite")
}

/// The settings as sent, checked, in one spelling (keys sorted, no spaces), so that the same
/// settings written differently hash the same.
fn canonical_settings(operation: Operation, settings: Option<&str>) -> Result<String> {
    let text = operation.settings(settings)?;
    if text.is_empty() {
        return Ok(String::new());
    }
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| invalid(format!("settings: {e}")))?;
    Ok(value.to_string())
}

fn new_row(path: &str, print: Option<&Fingerprint>, operation: &str, settings_sha256: &str) -> Row {
    Row {
        id: 0,
        path: path.to_string(),
        size: print.map_or(0, |p| p.size),
        modified_ns: print.map_or(0, |p| p.modified_ns),
        sha256: print.map_or(String::new(), |p| p.sha256.clone()),
        operation: operation.to_string(),
        settings_sha256: settings_sha256.to_string(),
        state: State::Queued,
        task_id: None,
        submitted_at: None,
        outputs: Vec::new(),
        code: None,
        message: None,
        attempts: 0,
        possible_duplicates: 0,
        started_at: None,
        finished_at: None,
    }
}

/// The resume rules: what to do with an input, given what the journal holds about it.
///
/// - new, or changed (content hash, operation or settings): queued, from the start (the
///   possible duplicates counted before stay counted);
/// - completed with every output still there: completed (skipped);
/// - a recorded task id younger than [`RESUBMIT_AFTER_SECONDS`] (submitted, failed after its
///   submission, or completed with an output gone): submitted, polled by that id, never
///   submitted again;
/// - an older task id: queued;
/// - caught between its intent and its task id (`submitting`, a crash during the POST): queued,
///   and counted as a possible duplicate when it is submitted again.
pub fn resume(
    previous: Option<Row>,
    path: &str,
    print: &Fingerprint,
    operation: &str,
    settings_sha256: &str,
    outputs_exist: bool,
    now: f64,
) -> Row {
    let fresh = || new_row(path, Some(print), operation, settings_sha256);
    let Some(row) = previous else {
        return fresh();
    };
    let same = row.sha256 == print.sha256
        && row.operation == operation
        && row.settings_sha256 == settings_sha256;
    // A POST caught in flight may have made a billed task, whatever the input holds now.
    let possible_duplicates = row.possible_duplicates + u32::from(row.state == State::Submitting);
    if !same {
        // From the start, but the possible duplicates stay counted.
        return Row {
            id: row.id,
            outputs: row.outputs,
            possible_duplicates,
            ..fresh()
        };
    }
    let young_task = row.task_id.is_some()
        && row
            .submitted_at
            .is_some_and(|at| now - at < RESUBMIT_AFTER_SECONDS);
    let state = match row.state {
        State::Completed if outputs_exist => State::Completed,
        _ if young_task => State::Submitted,
        _ => State::Queued,
    };
    let mut next = Row {
        state,
        size: print.size,
        modified_ns: print.modified_ns,
        possible_duplicates,
        ..row
    };
    if state != State::Completed {
        next.code = None;
        next.message = None;
        next.finished_at = None;
    }
    if state == State::Queued {
        next.task_id = None;
        next.submitted_at = None;
    }
    next
}

#[cfg(test)]
mod tests {
    use super::*;

    fn print(sha: &str) -> Fingerprint {
        Fingerprint {
            size: 3,
            modified_ns: 1,
            sha256: sha.to_string(),
        }
    }

    fn recorded(state: State, task_id: Option<&str>, submitted_at: Option<f64>) -> Row {
        Row {
            id: 7,
            state,
            task_id: task_id.map(str::to_string),
            submitted_at,
            outputs: vec!["a.txt".into()],
            code: Some(3),
            message: Some("timed out".into()),
            attempts: 1,
            ..new_row("/in/a.pdf", Some(&print("h")), "RecognizePdf", "s")
        }
    }

    fn resumed(row: Row, sha: &str, settings: &str, outputs_exist: bool, now: f64) -> Row {
        resume(
            Some(row),
            "/in/a.pdf",
            &print(sha),
            "RecognizePdf",
            settings,
            outputs_exist,
            now,
        )
    }

    const HOUR: f64 = 3600.0;

    #[test]
    fn an_unchanged_completed_input_is_skipped_while_its_outputs_exist() {
        let done = recorded(State::Completed, Some("t"), Some(0.0));
        assert_eq!(
            resumed(done.clone(), "h", "s", true, HOUR).state,
            State::Completed
        );
        // An output removed by the user: fetched again by the recorded id, not resubmitted.
        let again = resumed(done.clone(), "h", "s", false, HOUR);
        assert_eq!(
            (again.state, again.task_id.as_deref()),
            (State::Submitted, Some("t"))
        );
        // ... unless the task is too old to hold its results.
        assert_eq!(
            resumed(done, "h", "s", false, 24.0 * HOUR).state,
            State::Queued
        );
    }

    #[test]
    fn a_submitted_input_is_polled_by_its_id_until_it_is_too_old() {
        let sent = recorded(State::Submitted, Some("t"), Some(0.0));
        let next = resumed(sent.clone(), "h", "s", false, 22.9 * HOUR);
        assert_eq!(
            (next.state, next.task_id.as_deref()),
            (State::Submitted, Some("t"))
        );
        assert_eq!((next.code, next.message), (None, None));
        let old = resumed(sent, "h", "s", false, 23.1 * HOUR);
        assert_eq!((old.state, old.task_id), (State::Queued, None));
    }

    #[test]
    fn an_input_caught_during_its_submission_is_queued_again() {
        let caught = recorded(State::Submitting, None, None);
        let next = resumed(caught, "h", "s", false, HOUR);
        assert_eq!((next.state, next.possible_duplicates), (State::Queued, 1));
        assert_eq!(
            next.attempts, 1,
            "the attempt that may have reached the service counts"
        );
    }

    #[test]
    fn a_changed_input_or_settings_start_again() {
        for (sha, settings) in [("other", "s"), ("h", "other")] {
            let next = resumed(
                recorded(State::Completed, Some("t"), Some(0.0)),
                sha,
                settings,
                true,
                1.0,
            );
            assert_eq!(
                (next.state, next.task_id, next.attempts),
                (State::Queued, None, 0)
            );
            assert_eq!(next.id, 7);
            assert_eq!(next.outputs, ["a.txt"], "its old outputs stay its own");
        }
    }

    #[test]
    fn a_changed_input_keeps_its_possible_duplicates_and_counts_one_caught_in_flight() {
        let mut caught = recorded(State::Submitting, None, None);
        caught.possible_duplicates = 2;
        let next = resumed(caught, "other", "s", false, HOUR);
        assert_eq!((next.state, next.possible_duplicates), (State::Queued, 3));
        let mut done = recorded(State::Completed, Some("t"), Some(0.0));
        done.possible_duplicates = 1;
        let next = resumed(done, "other", "s", true, HOUR);
        assert_eq!((next.state, next.possible_duplicates), (State::Queued, 1));
    }

    #[test]
    fn a_failed_input_is_polled_again_if_it_has_a_task_and_submitted_again_if_not() {
        let polled = resumed(
            recorded(State::Failed, Some("t"), Some(0.0)),
            "h",
            "s",
            false,
            HOUR,
        );
        assert_eq!(polled.state, State::Submitted);
        let queued = resumed(recorded(State::Failed, None, None), "h", "s", false, HOUR);
        assert_eq!(queued.state, State::Queued);
    }

    #[test]
    fn settings_hash_the_same_however_they_are_spelled() {
        let op = Operation::RECOGNIZE_PDF;
        let a =
            canonical_settings(op, Some(r#"{"resultType":"Text", "language":"English"}"#)).unwrap();
        let b = canonical_settings(op, Some(r#"{ "language" : "English","resultType":"Text"}"#))
            .unwrap();
        assert_eq!(a, b);
        assert!(canonical_settings(op, Some("[1]")).is_err());
        assert_eq!(
            canonical_settings(Operation::named("BinarizeImage").unwrap(), None).unwrap(),
            ""
        );
    }
}
