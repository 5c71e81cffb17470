//! The batch's journal: one SQLite database (WAL, every commit synced) that records each input
//! and where it is, so that a batch killed at any moment resumes without submitting twice.
//! The schema is documented in docs/cli.md ("The journal"); users may read it with
//! `sqlite3` while a batch runs.

use super::State;
use crate::error::{Code, Error, Result};
use crate::platform::paths::canonicalize;
use crate::poll::estimate::Interval;
use rusqlite::{Connection, ErrorCode, OpenFlags, OptionalExtension, Transaction, params};
use std::fs::{File, OpenOptions, TryLockError};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The schema this library writes (`PRAGMA user_version`). Journals written before the
/// `learned` table existed gain it when opened; an older library ignores it, so the version
/// stays.
pub const SCHEMA_VERSION: i32 = 1;

const SCHEMA: &str = "
CREATE TABLE batch (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE inputs (
    id                  INTEGER PRIMARY KEY,
    path                TEXT NOT NULL UNIQUE,
    size                INTEGER NOT NULL,
    modified_ns         INTEGER NOT NULL,
    sha256              TEXT NOT NULL,
    operation           TEXT NOT NULL,
    settings_sha256     TEXT NOT NULL,
    state               TEXT NOT NULL
        CHECK (state IN ('queued', 'submitting', 'submitted', 'completed', 'failed')),
    task_id             TEXT,
    submitted_at        REAL,
    outputs             TEXT NOT NULL DEFAULT '[]',
    code                INTEGER,
    message             TEXT,
    attempts            INTEGER NOT NULL DEFAULT 0,
    possible_duplicates INTEGER NOT NULL DEFAULT 0,
    started_at          REAL,
    finished_at         REAL,
    updated_at          REAL NOT NULL
);
CREATE TABLE outputs (
    path     TEXT PRIMARY KEY,
    input_id INTEGER NOT NULL REFERENCES inputs(id)
);
";

/// What the batch learned of task durations, per operation.
const LEARNED: &str = "
CREATE TABLE IF NOT EXISTS learned (
    operation    TEXT PRIMARY KEY,
    observations TEXT NOT NULL,
    updated_at   REAL NOT NULL
);
";

/// The index by task id that each submission asks ([`Journal::task_holder`]), and each output
/// put in place by its file's identity ([`Journal::placed_file`]).
const PLACED: &str = "
CREATE INDEX IF NOT EXISTS inputs_task_id ON inputs (task_id);
CREATE TABLE IF NOT EXISTS placed_files (
    path        TEXT PRIMARY KEY,
    device      INTEGER NOT NULL,
    inode       INTEGER NOT NULL,
    modified_ns INTEGER NOT NULL
);
";

/// What the journal holds about one input.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub id: i64,
    pub path: String,
    pub size: u64,
    pub modified_ns: i64,
    pub sha256: String,
    pub operation: String,
    pub settings_sha256: String,
    pub state: State,
    pub task_id: Option<String>,
    /// Seconds since 1970 when the task id was recorded.
    pub submitted_at: Option<f64>,
    /// Paths relative to the output folder.
    pub outputs: Vec<String>,
    pub code: Option<i32>,
    pub message: Option<String>,
    pub attempts: u32,
    pub possible_duplicates: u32,
    pub started_at: Option<f64>,
    pub finished_at: Option<f64>,
}

/// An open journal, locked for this batch alone (other processes may still read it).
pub struct Journal {
    db: Connection,
    path: PathBuf,
    /// Holds the `flock` on `<journal>.lock` until the journal is dropped.
    _lock: Option<File>,
    /// The copy read instead of the journal, removed after `db` is closed.
    _copy: Option<JournalCopy>,
}

/// What tells a file the batch put in place from another put at its name later: the inode
/// alone does not, as a deleted file's inode number is soon given to a new file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileIdentity {
    pub device: u64,
    pub inode: u64,
    /// The time of the last change of its content, in nanoseconds since 1970.
    pub modified_ns: i64,
}

/// Whether the `learned` table has the columns this library reads and writes.
fn learned_table_is_ours(db: &Connection) -> bool {
    db.prepare("SELECT operation, observations, updated_at FROM learned LIMIT 0")
        .is_ok()
}

fn db_error(path: &Path, e: rusqlite::Error) -> Error {
    Error::new(Code::Io, format!("journal {}: {e}", path.display()))
}

/// A connection that only reads `file`. Opening is lazy, so this reads the schema version at
/// once: that is when SQLite finds out whether it can read the journal's WAL files.
fn connect_read_only(file: &Path) -> rusqlite::Result<Connection> {
    let db = Connection::open_with_flags(file, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    db.busy_timeout(Duration::from_secs(5))?;
    db.query_row("PRAGMA user_version", [], |_| Ok(()))?;
    Ok(db)
}

/// A copy of a journal and its `-wal` file in a folder of its own under the temporary folder,
/// removed on drop.
struct JournalCopy {
    folder: PathBuf,
    journal: PathBuf,
}

impl JournalCopy {
    fn of(journal: &Path) -> std::io::Result<JournalCopy> {
        // SQLite finds the `-wal` file beside the file a link leads to.
        let journal = &canonical(journal)?;
        let folder = crate::files::private_temp_folder("journal")?;
        let copy = JournalCopy {
            journal: folder.join("journal.sqlite"),
            folder,
        };
        copy_regular_file(journal, &copy.journal)?;
        // Without a `-wal` file, every commit is in the journal itself.
        match copy_regular_file(
            &with_suffix(journal, "-wal"),
            &with_suffix(&copy.journal, "-wal"),
        ) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(copy),
        }
    }
}

/// Copies the regular file `from` to the new file `to`. Anything else at `from` is refused
/// without waiting: opening a FIFO to read would wait for a writer that may never come.
fn copy_regular_file(from: &Path, to: &Path) -> std::io::Result<()> {
    let mut source = crate::platform::files::open_for_reading(from)?;
    if !source.metadata()?.is_file() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("{} is not a regular file", from.display()),
        ));
    }
    let mut target = OpenOptions::new().write(true).create_new(true).open(to)?;
    std::io::copy(&mut source, &mut target).map(|_| ())
}

impl Drop for JournalCopy {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.folder);
    }
}

/// `path` with `suffix` added to its file name.
fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_os_string();
    name.push(suffix);
    PathBuf::from(name)
}

/// Seconds since 1970.
pub fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs_f64()
}

impl Journal {
    /// Opens (creating it and its folder if missing) the journal at `path` for the output
    /// folder `output_dir`, and locks it. A journal of another output folder, of a newer
    /// schema, or locked by another batch is refused with a message that says so.
    pub fn open(path: &Path, output_dir: &Path) -> Result<Journal> {
        let io = |what: &str, e: std::io::Error| {
            Error::new(Code::Io, format!("cannot {what} {}: {e}", path.display()))
        };
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| io("create the folder of", e))?;
        }
        // One journal, one lock, whatever link or spelling leads to it.
        let path = &canonical(path).map_err(|e| io("open", e))?;
        let (lock, lock_path, created) = lock(path)?;
        let opened = Connection::open(path)
            .map_err(|e| db_error(path, e))
            .and_then(|db| {
                let mut journal = Journal {
                    db,
                    path: path.to_path_buf(),
                    _lock: Some(lock),
                    _copy: None,
                };
                journal.prepare()?;
                journal.claim_output_dir(output_dir)?;
                Ok(journal)
            });
        if opened.is_err() && created {
            let _ = std::fs::remove_file(lock_path);
        }
        opened
    }

    /// The journal's file, every link resolved.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Opens an existing journal to read it, without the lock (a running batch may hold it).
    /// In a folder it cannot write (a read-only file system) that lacks the `-shm` file SQLite
    /// needs to read a WAL journal, it reads a private copy of the journal and its `-wal` file,
    /// made in the temporary folder and removed when the journal is dropped, so that commits
    /// still in the `-wal` file count.
    pub fn open_read_only(path: &Path) -> Result<Journal> {
        if !path.is_file() {
            return Err(Error::new(
                Code::Io,
                format!("no journal at {}: no batch has run there", path.display()),
            ));
        }
        let (db, copy) = match connect_read_only(path) {
            Err(in_place) if in_place.sqlite_error_code() == Some(ErrorCode::CannotOpen) => {
                let copy = JournalCopy::of(path).map_err(|e| {
                    Error::new(
                        Code::Io,
                        format!(
                            "journal {}: SQLite cannot read it in place ({in_place}), and no \
                             copy could be made in the temporary folder: {e}",
                            path.display()
                        ),
                    )
                })?;
                let db = connect_read_only(&copy.journal).map_err(|e| db_error(path, e))?;
                (db, Some(copy))
            }
            opened => (opened.map_err(|e| db_error(path, e))?, None),
        };
        let journal = Journal {
            db,
            path: path.to_path_buf(),
            _lock: None,
            _copy: copy,
        };
        journal.check_version()?;
        Ok(journal)
    }

    fn check_version(&self) -> Result<i32> {
        let version: i32 = self
            .db
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| self.error(e))?;
        if version > SCHEMA_VERSION {
            return Err(Error::new(
                Code::InvalidArgument,
                format!(
                    "journal {} has schema version {version}, newer than this library's \
                     {SCHEMA_VERSION}: use a newer ocrcloud",
                    self.path.display()
                ),
            ));
        }
        Ok(version)
    }

    fn prepare(&mut self) -> Result<()> {
        self.db
            .busy_timeout(Duration::from_secs(5))
            .map_err(|e| self.error(e))?;
        // Not SQLite at all: say so plainly rather than "file is not a database".
        let version = self.check_version().map_err(|e| {
            if e.code() == Code::Io {
                Error::new(
                    Code::InvalidArgument,
                    format!(
                        "{} is not an ocrcloud journal: {}",
                        self.path.display(),
                        e.message()
                    ),
                )
            } else {
                e
            }
        })?;
        self.db
            .execute_batch(
                "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;",
            )
            .map_err(|e| self.error(e))?;
        if version == 0 {
            let has_tables: i64 = self
                .db
                .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
                .map_err(|e| self.error(e))?;
            if has_tables > 0 {
                return Err(Error::new(
                    Code::InvalidArgument,
                    format!(
                        "{} is an SQLite database but not an ocrcloud journal",
                        self.path.display()
                    ),
                ));
            }
        }
        let tx = self.db.transaction().map_err(|e| db_error(&self.path, e))?;
        if version == 0 {
            tx.execute_batch(SCHEMA)
                .map_err(|e| db_error(&self.path, e))?;
            tx.pragma_update(None, "user_version", SCHEMA_VERSION)
                .map_err(|e| db_error(&self.path, e))?;
        }
        // Tables added since the first schema: created in journals of every age.
        tx.execute_batch(LEARNED)
            .map_err(|e| db_error(&self.path, e))?;
        tx.execute_batch(PLACED)
            .map_err(|e| db_error(&self.path, e))?;
        tx.commit().map_err(|e| db_error(&self.path, e))?;
        Ok(())
    }

    /// What earlier runs learned of task durations: per operation, the observations (seconds
    /// after the submission: after `lo`, at or before `hi`), oldest first. Rows that cannot be
    /// read are skipped: learning starts again for them.
    /// A `learned` table of another layout (another version of the library keeps the schema
    /// version) gives nothing.
    pub fn learned(&self) -> Result<Vec<(String, Vec<Interval>)>> {
        if !learned_table_is_ours(&self.db) {
            return Ok(Vec::new());
        }
        let mut statement = self
            .db
            .prepare("SELECT operation, observations FROM learned ORDER BY operation")
            .map_err(|e| self.error(e))?;
        // A value of another type (a BLOB, a number) is a row that cannot be read, not a
        // journal that cannot be opened.
        let rows = statement
            .query_map([], |r| {
                Ok((r.get::<_, String>(0).ok(), r.get::<_, String>(1).ok()))
            })
            .map_err(|e| self.error(e))?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| self.error(e))?;
        Ok(rows
            .into_iter()
            .filter_map(|(operation, text)| {
                let (operation, text) = (operation?, text?);
                let pairs: Vec<(f64, f64)> = serde_json::from_str(&text).ok()?;
                let intervals = pairs
                    .into_iter()
                    .filter_map(|(lo, hi)| Interval::new(lo, hi))
                    .collect();
                Some((operation, intervals))
            })
            .collect())
    }

    /// Records the output folder in a new journal, or checks that it is the recorded one.
    fn claim_output_dir(&mut self, output_dir: &Path) -> Result<()> {
        let folder = canonicalize(output_dir).map_err(|e| {
            Error::new(
                Code::Io,
                format!("cannot use the output folder {}: {e}", output_dir.display()),
            )
        })?;
        let folder = folder.to_string_lossy().into_owned();
        let recorded: Option<String> = self
            .db
            .query_row(
                "SELECT value FROM batch WHERE key = 'output_dir'",
                [],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.error(e))?;
        match recorded {
            Some(recorded) if recorded != folder => Err(Error::new(
                Code::InvalidArgument,
                format!(
                    "journal {} belongs to the output folder {recorded}, not {folder}",
                    self.path.display()
                ),
            )),
            Some(_) => Ok(()),
            None => self
                .db
                .execute(
                    "INSERT INTO batch (key, value) VALUES ('output_dir', ?1), ('created_at', ?2)",
                    params![folder, now().to_string()],
                )
                .map(drop)
                .map_err(|e| self.error(e)),
        }
    }

    fn error(&self, e: rusqlite::Error) -> Error {
        db_error(&self.path, e)
    }

    /// Every input, in the order they were first added.
    pub fn rows(&self) -> Result<Vec<Row>> {
        let mut statement = self
            .db
            .prepare(&format!("SELECT {COLUMNS} FROM inputs ORDER BY id"))
            .map_err(|e| self.error(e))?;
        statement
            .query_map([], row)
            .map_err(|e| self.error(e))?
            .collect::<rusqlite::Result<Vec<Row>>>()
            .map_err(|e| self.error(e))
    }

    /// The input with this path, if the journal has it.
    pub fn find(&self, path: &str) -> Result<Option<Row>> {
        self.db
            .query_row(
                &format!("SELECT {COLUMNS} FROM inputs WHERE path = ?1"),
                [path],
                row,
            )
            .optional()
            .map_err(|e| self.error(e))
    }

    /// The path of the input other than `id` that holds task `task_id`, if one does.
    pub fn task_holder(&self, task_id: &str, id: i64) -> Result<Option<String>> {
        self.db
            .query_row(
                "SELECT path FROM inputs WHERE task_id = ?1 AND id != ?2",
                params![task_id, id],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.error(e))
    }

    /// The identity of the file the batch put in place at output path `relative`, if it
    /// recorded one (journals of older versions did not).
    pub fn placed_file(&self, relative: &str) -> Result<Option<FileIdentity>> {
        self.db
            .query_row(
                "SELECT device, inode, modified_ns FROM placed_files WHERE path = ?1",
                [relative],
                |r| {
                    Ok(FileIdentity {
                        device: r.get::<_, i64>(0)? as u64,
                        inode: r.get::<_, i64>(1)? as u64,
                        modified_ns: r.get(2)?,
                    })
                },
            )
            .optional()
            .map_err(|e| self.error(e))
    }

    /// Runs `change` in one transaction, committed (and synced) when it returns `Ok`.
    pub fn write<T>(&mut self, change: impl FnOnce(&Writer) -> rusqlite::Result<T>) -> Result<T> {
        let path = self.path.clone();
        let tx = self.db.transaction().map_err(|e| db_error(&path, e))?;
        let value = change(&Writer { tx: &tx }).map_err(|e| db_error(&path, e))?;
        tx.commit().map_err(|e| db_error(&path, e))?;
        Ok(value)
    }

    /// The input that holds the output path `relative`, if one does.
    pub fn output_owner(&self, relative: &str) -> Result<Option<i64>> {
        self.db
            .query_row(
                "SELECT input_id FROM outputs WHERE path = ?1",
                [relative],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.error(e))
    }
}

const COLUMNS: &str = "id, path, size, modified_ns, sha256, operation, settings_sha256, state, \
    task_id, submitted_at, outputs, code, message, attempts, possible_duplicates, started_at, \
    finished_at";

fn row(r: &rusqlite::Row) -> rusqlite::Result<Row> {
    let state: String = r.get(7)?;
    let outputs: String = r.get(10)?;
    Ok(Row {
        id: r.get(0)?,
        path: r.get(1)?,
        size: r.get::<_, i64>(2)?.max(0) as u64,
        modified_ns: r.get(3)?,
        sha256: r.get(4)?,
        operation: r.get(5)?,
        settings_sha256: r.get(6)?,
        state: State::from_name(&state).unwrap_or(State::Queued),
        task_id: r.get(8)?,
        submitted_at: r.get(9)?,
        outputs: serde_json::from_str(&outputs).unwrap_or_default(),
        code: r.get(11)?,
        message: r.get(12)?,
        attempts: r.get(13)?,
        possible_duplicates: r.get(14)?,
        started_at: r.get(15)?,
        finished_at: r.get(16)?,
    })
}

/// The changes of one transaction.
pub struct Writer<'a> {
    tx: &'a Transaction<'a>,
}

impl Writer<'_> {
    /// Adds an input, or replaces what the journal holds about the input with the same path.
    /// Answers its id.
    pub fn put(&self, row: &Row) -> rusqlite::Result<i64> {
        self.tx.execute(
            "INSERT INTO inputs (path, size, modified_ns, sha256, operation, settings_sha256, \
                 state, task_id, submitted_at, outputs, code, message, attempts, \
                 possible_duplicates, started_at, finished_at, updated_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17) \
             ON CONFLICT (path) DO UPDATE SET size = ?2, modified_ns = ?3, sha256 = ?4, \
                 operation = ?5, settings_sha256 = ?6, state = ?7, task_id = ?8, \
                 submitted_at = ?9, outputs = ?10, code = ?11, message = ?12, attempts = ?13, \
                 possible_duplicates = ?14, started_at = ?15, finished_at = ?16, updated_at = ?17",
            params![
                row.path,
                row.size as i64,
                row.modified_ns,
                row.sha256,
                row.operation,
                row.settings_sha256,
                row.state.name(),
                row.task_id,
                row.submitted_at,
                serde_json::to_string(&row.outputs).unwrap_or_else(|_| "[]".into()),
                row.code,
                row.message,
                row.attempts,
                row.possible_duplicates,
                row.started_at,
                row.finished_at,
                now(),
            ],
        )?;
        self.tx
            .query_row("SELECT id FROM inputs WHERE path = ?1", [&row.path], |r| {
                r.get(0)
            })
    }

    /// Replaces what the journal holds of the durations learned for `operation`; writes
    /// nothing into a `learned` table of another layout.
    pub fn put_learned(&self, operation: &str, intervals: &[Interval]) -> rusqlite::Result<()> {
        if !learned_table_is_ours(self.tx) {
            return Ok(());
        }
        let pairs: Vec<(f64, f64)> = intervals
            .iter()
            .filter(|i| i.hi.is_finite())
            .map(|i| (i.lo, i.hi))
            .collect();
        let text = serde_json::to_string(&pairs).unwrap_or_else(|_| "[]".into());
        self.tx
            .execute(
                "INSERT INTO learned (operation, observations, updated_at) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (operation) DO UPDATE SET observations = ?2, updated_at = ?3",
                params![operation, text, now()],
            )
            .map(drop)
    }

    /// Records the identity of the file put in place at output path `relative`.
    pub fn placed_file(&self, relative: &str, file: &FileIdentity) -> rusqlite::Result<()> {
        self.tx
            .execute(
                "INSERT OR REPLACE INTO placed_files (path, device, inode, modified_ns) \
                 VALUES (?1, ?2, ?3, ?4)",
                params![
                    relative,
                    file.device as i64,
                    file.inode as i64,
                    file.modified_ns
                ],
            )
            .map(|_| ())
    }

    /// Records that output path `relative` belongs to input `id`; a path that another input
    /// holds stays its (the caller chose names that no other input holds).
    pub fn claim_output(&self, relative: &str, id: i64) -> rusqlite::Result<()> {
        self.tx
            .execute(
                "INSERT INTO outputs (path, input_id) VALUES (?1, ?2) \
                 ON CONFLICT (path) DO NOTHING",
                params![relative, id],
            )
            .map(drop)
    }
}

/// The journal's path with every link resolved: the file's own if it exists, else its folder's
/// joined with its name.
pub fn canonical(path: &Path) -> std::io::Result<PathBuf> {
    match canonicalize(path) {
        Ok(path) => Ok(path),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let name = path.file_name().ok_or(e)?;
            let parent = path.parent().filter(|p| !p.as_os_str().is_empty());
            Ok(canonicalize(parent.unwrap_or(Path::new(".")))?.join(name))
        }
        Err(e) => Err(e),
    }
}

/// How long [`lock`] asks again for a lock that is taken.
const LOCK_PATIENCE: Duration = Duration::from_secs(1);

/// Takes the lock on `<journal>.lock` (created if missing; std's `File::try_lock`: `flock` on
/// Unix, `LockFileEx` on Windows), which the system drops when the process ends however it ends.
/// The file holds the owner's pid, for the message of a second batch (on Windows the lock also
/// keeps others from reading it, and the message names no process).
/// Answers the locked file, its path and whether this call created it.
///
/// A lock that is taken is asked again for up to [`LOCK_PATIENCE`]: a process that starts a
/// child (another thread's `posix_spawn`, say) lends the child every open file until the
/// child's `exec`, so a batch that closed its journal a moment ago may still hold its lock
/// through such a child for that long.
fn lock(journal: &Path) -> Result<(File, PathBuf, bool)> {
    let path = with_suffix(journal, ".lock");
    let created = !path.exists();
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| Error::new(Code::Io, format!("cannot create {}: {e}", path.display())))?;
    let patience = std::time::Instant::now() + LOCK_PATIENCE;
    let mut locked = file.try_lock();
    while matches!(locked, Err(TryLockError::WouldBlock)) && std::time::Instant::now() < patience {
        std::thread::sleep(Duration::from_millis(20));
        locked = file.try_lock();
    }
    match locked {
        Ok(()) => {}
        Err(TryLockError::Error(e)) => {
            return Err(Error::new(
                Code::Io,
                format!("cannot lock {}: {e}", path.display()),
            ));
        }
        Err(TryLockError::WouldBlock) => {
            let owner = std::fs::read_to_string(&path).unwrap_or_default();
            let owner = owner.trim();
            return Err(Error::new(
                Code::Io,
                format!(
                    "journal {} is in use by another batch{}: wait for it to end, or give another \
                 --output",
                    journal.display(),
                    if owner.is_empty() {
                        String::new()
                    } else {
                        format!(" (process {owner})")
                    }
                ),
            ));
        }
    }
    let _ = file.set_len(0);
    let _ = write!(file, "{}", std::process::id());
    Ok((file, path, created))
}
