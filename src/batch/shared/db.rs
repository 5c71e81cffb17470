//! The shared journal's database: the URL (its password kept out of every message), one
//! connection that comes back after the database went away, and the versioned schema.

use super::connection::{Client, Failure, Session};
use crate::cancel::Cancel;
use crate::error::{Code, Error, Result, invalid};
use crate::faults::Fault;
use postgres::NoTls;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};
use tokio_postgres::Config;
use tokio_postgres_rustls::MakeRustlsConnect;

/// The schema this library writes (`ocrcloud_schema.version`): version 1 (`SCHEMA`) and
/// every step of `UPGRADES` after it.
pub(crate) const SCHEMA_VERSION: i32 = 1 + UPGRADES.len() as i32;

/// Every table of the shared journal, as version 1 made them; several batches share them,
/// told apart by `batch`.
const SCHEMA: &str = "
CREATE TABLE ocrcloud_batches (
    name         TEXT PRIMARY KEY,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    throttled_at TIMESTAMPTZ
);
CREATE TABLE ocrcloud_inputs (
    id                  BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
    batch               TEXT NOT NULL REFERENCES ocrcloud_batches (name),
    input               TEXT NOT NULL,
    sha256              TEXT NOT NULL,
    size                BIGINT NOT NULL,
    operation           TEXT NOT NULL,
    settings_sha256     TEXT NOT NULL,
    stem                TEXT NOT NULL,
    state               TEXT NOT NULL
        CHECK (state IN ('queued', 'submitting', 'submitted', 'completed', 'failed')),
    task_id             TEXT,
    submitted_at        TIMESTAMPTZ,
    submissions         INTEGER NOT NULL DEFAULT 0,
    possible_duplicates INTEGER NOT NULL DEFAULT 0,
    outputs             TEXT[] NOT NULL DEFAULT '{}',
    code                INTEGER,
    message             TEXT,
    not_before          TIMESTAMPTZ NOT NULL DEFAULT now(),
    lease_owner         TEXT,
    lease_token         BIGINT NOT NULL DEFAULT 0,
    lease_until         TIMESTAMPTZ,
    started_at          TIMESTAMPTZ,
    finished_at         TIMESTAMPTZ,
    PRIMARY KEY (batch, input)
);
CREATE INDEX ocrcloud_inputs_due ON ocrcloud_inputs (batch, not_before)
    WHERE state IN ('queued', 'submitting', 'submitted');
CREATE TABLE ocrcloud_outputs (
    batch TEXT NOT NULL,
    path  TEXT NOT NULL,
    input BIGINT NOT NULL REFERENCES ocrcloud_inputs (id),
    PRIMARY KEY (batch, path)
);
CREATE TABLE ocrcloud_workers (
    batch      TEXT NOT NULL,
    worker     TEXT NOT NULL,
    host       TEXT NOT NULL,
    pid        BIGINT NOT NULL,
    jobs       INTEGER NOT NULL,
    started_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    seen_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (batch, worker)
);
";

/// The steps from each version to the next: `UPGRADES[0]` makes version 2 of version 1. A new
/// database runs them all after `SCHEMA`, so every database of one version is alike.
const UPGRADES: [&str; 1] = [
    // 2: no statement reads rows in proportion to the batch. A claim walks the due inputs in
    // the order they fall due, counting a lease's end, so that it never steps over the leased
    // ones, after the leases that ran out (`ocrcloud_inputs_leased`, which holds only the
    // inputs under a lease); a task id is found by its index, not by reading the whole batch
    // (an index that does not begin with `batch`, so that the planner never takes it for the
    // key).
    "CREATE INDEX IF NOT EXISTS ocrcloud_inputs_due_at
         ON ocrcloud_inputs (batch, greatest(not_before, lease_until), input)
         WHERE state IN ('queued', 'submitting', 'submitted');
     CREATE INDEX IF NOT EXISTS ocrcloud_inputs_leased
         ON ocrcloud_inputs (batch, lease_until, input)
         WHERE state IN ('queued', 'submitting', 'submitted') AND lease_until IS NOT NULL;
     DROP INDEX IF EXISTS ocrcloud_inputs_due;
     CREATE INDEX IF NOT EXISTS ocrcloud_inputs_task ON ocrcloud_inputs (task_id);",
];

/// The first wait before connecting again, and the longest.
const RECONNECT_FIRST: Duration = Duration::from_millis(200);
const RECONNECT_LONGEST: Duration = Duration::from_secs(5);
/// How long a session of this library may sit idle inside a transaction before the server
/// ends it (no transaction of the journal waits for anything but the database).
const IDLE_IN_TRANSACTION: Duration = Duration::from_secs(15);
/// How long one connection attempt may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one statement waits on a lock before it fails (and is asked again).
const LOCK_WAIT: Duration = Duration::from_secs(5);
/// How long a statement waits for a database that is away before the worker gives up with an
/// error, unless `OCRCLOUD_JOURNAL_PATIENCE` (seconds) says otherwise.
const PATIENCE: Duration = Duration::from_secs(600);
/// How long one statement (or the connection's setup) may wait for its answer before the
/// connection is dropped and the statement asked again on a new one, unless
/// `OCRCLOUD_JOURNAL_DEADLINE` (seconds) says otherwise. It must exceed [`LOCK_WAIT`] and any
/// statement of the journal: it is meant for a server that stopped answering (stopped, frozen,
/// or behind a network that stopped forwarding), which nothing else on this side notices.
const STATEMENT_DEADLINE: Duration = Duration::from_secs(30);

/// The duration that environment variable `variable` sets (whole seconds, at least 1), or
/// `default`.
fn seconds_from(variable: &str, default: Duration) -> Result<Duration> {
    match std::env::var(variable) {
        Err(_) => Ok(default),
        Ok(text) => match text.trim().parse::<u64>() {
            Ok(seconds) if seconds > 0 => Ok(Duration::from_secs(seconds)),
            _ => Err(invalid(format!(
                "{variable} must be a whole number of seconds, at least 1, not {text:?}"
            ))),
        },
    }
}

/// Where the shared journal is: the driver's configuration, and the URL as messages show it
/// (without the password). The password is registered with [`crate::secrets`] for as long as
/// this lives, so that no message or log line shows it.
#[derive(Clone)]
pub struct Target {
    config: Config,
    shown: String,
    tls: bool,
    /// How long a statement waits for a database that is away.
    patience: Duration,
    /// How long one statement waits for its answer.
    deadline: Duration,
    /// The password as written in the URL and percent-decoded, registered as secrets.
    _password: Vec<Arc<str>>,
}

impl Target {
    /// Parses `postgresql://USER[:PASSWORD]@HOST[:PORT]/DB[?sslmode=...]` (or `postgres://`).
    pub fn parse(url: &str) -> Result<Target> {
        let parsed = url::Url::parse(url)
            .ok()
            .filter(|u| matches!(u.scheme(), "postgresql" | "postgres"));
        let Some(mut parsed) = parsed else {
            return Err(invalid(
                "the journal URL must look like postgresql://USER[:PASSWORD]@HOST[:PORT]/DB",
            ));
        };
        // A URL without a password takes libpq's `PGPASSWORD`, so that the password need not
        // be in the command line (which `ps` shows to every user of the machine).
        let from_environment = match parsed.password() {
            Some(_) => None,
            None => std::env::var("PGPASSWORD").ok().filter(|p| !p.is_empty()),
        };
        let password: Vec<Arc<str>> = match (parsed.password(), &from_environment) {
            (Some(raw), _) => {
                let decoded = percent_encoding::percent_decode_str(raw).decode_utf8_lossy();
                vec![Arc::from(raw), Arc::from(decoded.as_ref())]
            }
            (None, Some(password)) => vec![Arc::from(password.as_str())],
            (None, None) => Vec::new(),
        };
        password.iter().for_each(crate::secrets::register);
        // The driver reads the URL as the parser above wrote it back, with each `@` and `:` of
        // the password percent-encoded: it cuts the user's part at the first `@`, the parser at
        // the last, and both must read one password.
        let normalized = parsed.to_string();
        let _ = parsed.set_password(None);
        let shown = parsed.to_string();
        let mut config = Config::from_str(&normalized).map_err(|e| {
            invalid(crate::secrets::redact(&format!(
                "the journal URL {shown}: {e}"
            )))
        })?;
        if let Some(password) = &from_environment {
            config.password(password);
        }
        if config.get_dbname().is_none() || config.get_user().is_none() {
            return Err(invalid(format!(
                "the journal URL {shown} must name a user and a database"
            )));
        }
        // The URL's own values, where it gives them, win over the library's defaults.
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        if config.get_application_name().is_none() {
            config.application_name("ocrcloud");
        }
        // A statement waiting on a lock another session holds fails after this, so that the
        // caller can stop (a cancel, a deadline) and otherwise asks again.
        let lock_wait = format!("-c lock_timeout={}", LOCK_WAIT.as_millis());
        let options = match config.get_options() {
            Some(theirs) => format!("{theirs} {lock_wait}"),
            None => lock_wait,
        };
        config.options(&options);
        let tls = config.get_ssl_mode() != tokio_postgres::config::SslMode::Disable;
        Ok(Target {
            config,
            shown,
            tls,
            patience: seconds_from("OCRCLOUD_JOURNAL_PATIENCE", PATIENCE)?,
            deadline: seconds_from("OCRCLOUD_JOURNAL_DEADLINE", STATEMENT_DEADLINE)?,
            _password: password,
        })
    }

    /// The URL without its password.
    pub fn shown(&self) -> &str {
        &self.shown
    }

    fn connect_once(&self) -> std::result::Result<Client, Failure> {
        // As libpq's `connect_timeout`, the URL's bounds the whole connect (TCP, TLS, the startup
        // and the password) to each host; the driver's bounds only the TCP connect.
        let hosts = self.config.get_hosts().len().max(1) as u32;
        let limit = self
            .config
            .get_connect_timeout()
            .copied()
            .unwrap_or(CONNECT_TIMEOUT)
            * hosts;
        let mut client = if self.tls {
            let tls = MakeRustlsConnect::new(crate::tls::rustls_config());
            super::connection::connect(&self.config, tls, limit, self.deadline)?
        } else {
            super::connection::connect(&self.config, NoTls, limit, self.deadline)?
        };
        // A worker stopped inside a transaction (frozen, paused by a debugger, its host
        // suspended) would hold its row locks, and the other workers would wait for them
        // without end: the server ends such a session instead, and the worker, when it wakes,
        // connects again and runs its transaction again.
        client.batch_execute(&format!(
            "SET idle_in_transaction_session_timeout = {}",
            IDLE_IN_TRANSACTION.as_millis()
        ))?;
        Ok(client)
    }

    /// One connection, or the reason there is none (the password never in it).
    pub fn connect(&self) -> Result<Client> {
        self.connect_once()
            .map_err(|e| self.error("cannot connect to", &e))
    }

    /// The failure of `what` on this database, as one sentence.
    pub fn error(&self, what: &str, e: &Failure) -> Error {
        // The driver's sentence ("error connecting to server") says what failed; its source
        // says why ("Connection refused", "password missing").
        let db = e.database().and_then(postgres::Error::as_db_error);
        let mut reasons = format!("{e}");
        if db.is_none() {
            let mut source = std::error::Error::source(e);
            while let Some(cause) = source {
                reasons += &format!(": {cause}");
                source = cause.source();
            }
        }
        let error = Error::new(
            Code::Io,
            crate::secrets::redact(&format!("shared journal: {what} {}: {reasons}", self.shown)),
        );
        match db {
            Some(db) => error.map_message(|m| format!("{m} ({})", db.message())),
            None => error,
        }
    }
}

/// Whether `e` says the connection is gone (the database restarted, the network was cut), as
/// opposed to a statement the database refused.
pub fn connection_lost(e: &Failure) -> bool {
    let e = match e {
        Failure::Database(e) => e,
        Failure::NoAnswer(_) | Failure::Runtime(_) | Failure::Stopped => return true,
    };
    if e.is_closed() {
        return true;
    }
    match e.code() {
        // Class 08 (connection exception), 57P01-57P03 (shutdown, cannot connect now).
        Some(code) => {
            let code = code.code();
            code.starts_with("08") || code.starts_with("57P")
        }
        // No SQLSTATE: an I/O error of the socket, a timeout; but not a configuration the
        // driver refuses (a password missing), which waiting does not mend.
        None => e.as_db_error().is_none() && !e.to_string().starts_with("invalid configuration"),
    }
}

/// Whether `e` is a statement that waited [`LOCK_WAIT`] on a lock another session holds.
pub(crate) fn waited_on_a_lock(e: &Failure) -> bool {
    e.database()
        .and_then(postgres::Error::code)
        .is_some_and(|code| code.code() == "55P03")
}

/// Whether `e` is a deadlock or a serialization failure: the transaction was rolled back for
/// another one's sake, and may simply run again.
fn rolled_back_for_another(e: &Failure) -> bool {
    e.database()
        .and_then(postgres::Error::code)
        .is_some_and(|code| matches!(code.code(), "40001" | "40P01"))
}

/// A connection that comes back: every use that fails because the database went away waits
/// (with a growing backoff, until `cancel`) for a new connection and asks again.
pub struct Link {
    target: Target,
    client: Option<Client>,
    /// Whether the last use gave up waiting for the database.
    gave_up: bool,
}

impl Link {
    pub fn new(target: Target) -> Link {
        Link {
            target,
            client: None,
            gave_up: false,
        }
    }

    pub fn target(&self) -> &Target {
        &self.target
    }

    /// Runs `work` on a live connection. A lost connection pauses this caller until the
    /// database answers again, then `work` runs again from its start (so it must be one
    /// transaction, or a statement that may run twice). Other failures, `stop`, and a
    /// database away for longer than the target's patience (10 minutes unless
    /// `OCRCLOUD_JOURNAL_PATIENCE` says otherwise) end it.
    pub fn with_stop<T>(
        &mut self,
        what: &str,
        stop: Option<&AtomicBool>,
        work: impl FnMut(&mut Session<'_>) -> std::result::Result<T, Failure>,
    ) -> Result<T> {
        let stopped = || {
            stop.is_some_and(|s| s.load(Ordering::Relaxed))
                .then(crate::call::cancelled)
        };
        let deadline = Instant::now().checked_add(self.target.patience);
        self.with_until(what, &stopped, deadline, work)
    }

    /// Runs `work` once, on the connection there is or a new one; a lost connection is
    /// forgotten.
    pub fn once<T>(
        &mut self,
        mut work: impl FnMut(&mut Session<'_>) -> std::result::Result<T, Failure>,
    ) -> std::result::Result<T, Failure> {
        let client = match self.client.as_mut() {
            Some(client) => client,
            None => self.client.insert(self.target.connect_once()?),
        };
        let outcome = work(&mut client.session(&|| false));
        if outcome.as_ref().is_err_and(connection_lost) {
            self.client = None;
        }
        outcome
    }

    fn with_until<T>(
        &mut self,
        what: &str,
        stopped: &dyn Fn() -> Option<Error>,
        deadline: Option<Instant>,
        mut work: impl FnMut(&mut Session<'_>) -> std::result::Result<T, Failure>,
    ) -> Result<T> {
        let mut wait = RECONNECT_FIRST;
        let mut logged = false;
        self.gave_up = false;
        loop {
            if let Some(error) = stopped() {
                return Err(error);
            }
            let fault = crate::faults::at(crate::faults::Step::Database);
            if fault == Some(Fault::Denied) {
                return Err(Error::new(
                    Code::Io,
                    format!(
                        "shared journal: {what} {}: permission denied (a fault injected by a test)",
                        self.target.shown
                    ),
                ));
            }
            if fault == Some(Fault::Reset) {
                self.client = None;
            }
            let failure = match self.client.as_mut() {
                Some(client) => match work(&mut client.session(&|| stopped().is_some())) {
                    // Stopped while it waited: the connection is gone, and the stop is the answer.
                    Err(Failure::Stopped) => {
                        self.client = None;
                        continue;
                    }
                    // The answer lost with the connection: the work ran, and runs again.
                    Ok(_) if fault == Some(Fault::Close) => {
                        self.client = None;
                        continue;
                    }
                    Ok(value) => return Ok(value),
                    // Two workers registering the same inputs in different orders, say: the
                    // database rolled this transaction back, and it runs again.
                    Err(e) if rolled_back_for_another(&e) => continue,
                    // Another session holds a lock: wait as for a database that is away.
                    Err(e) if waited_on_a_lock(&e) => e,
                    Err(e) if connection_lost(&e) => {
                        self.client = None;
                        e
                    }
                    Err(e) => return Err(self.target.error(what, &e)),
                },
                None => match self.target.connect_once() {
                    Ok(client) => {
                        if logged {
                            crate::logging::log(crate::logging::Level::Info, || {
                                format!("shared journal {}: connected again", self.target.shown)
                            });
                        }
                        self.client = Some(client);
                        continue;
                    }
                    // Refused credentials, a missing database: waiting would not help.
                    Err(e) if !connection_lost(&e) => {
                        return Err(self.target.error("cannot connect to", &e));
                    }
                    Err(e) => e,
                },
            };
            if deadline.is_some_and(|d| Instant::now() + wait > d) {
                self.gave_up = true;
                return Err(self
                    .target
                    .error(what, &failure)
                    .map_message(|m| format!("{m}; gave up waiting for the database")));
            }
            if !logged {
                let error = self.target.error(what, &failure);
                crate::logging::log(crate::logging::Level::Warn, || {
                    format!("{}; waiting for the database", error.message())
                });
                logged = true;
            }
            let end = Instant::now() + wait;
            while Instant::now() < end && stopped().is_none() {
                std::thread::sleep((end - Instant::now()).min(Duration::from_millis(50)));
            }
            wait = (wait * 2).min(RECONNECT_LONGEST);
        }
    }
}

/// The cancel error when `cancel` is triggered.
fn cancelled(cancel: Option<&Cancel>) -> Option<Error> {
    cancel
        .is_some_and(Cancel::is_triggered)
        .then(crate::call::cancelled)
}

/// Connections shared by the threads of one worker process: a thread takes one for one
/// statement (or transaction) and gives it back, so that many threads waiting for the service
/// hold few connections. At most `size` connections; a thread waits for a free one.
///
/// When a statement gives up waiting for the database, the statements of the pool that were
/// already waiting (for a connection, or for the database) end at once with its error: the
/// worker is ending, and they would otherwise each wait out their patience in turn. Statements
/// begun later wait again.
pub struct Pool {
    target: Target,
    size: usize,
    /// The idle connections, and how many exist (idle or taken).
    idle: Mutex<(Vec<Link>, usize)>,
    freed: Condvar,
    /// When a statement last gave up waiting for the database, and its error.
    gave_up: Mutex<Option<(Instant, Error)>>,
}

impl Pool {
    pub fn new(target: Target, size: usize) -> Pool {
        Pool {
            target,
            size: size.max(1),
            idle: Mutex::new((Vec::new(), 0)),
            freed: Condvar::new(),
            gave_up: Mutex::new(None),
        }
    }

    pub fn target(&self) -> &Target {
        &self.target
    }

    /// The error of a statement that gave up after `since`, if one did.
    fn given_up_since(&self, since: Instant) -> Option<Error> {
        match &*self.gave_up.lock().unwrap_or_else(|e| e.into_inner()) {
            Some((at, error)) if *at >= since => Some(error.clone()),
            _ => None,
        }
    }

    /// A free connection, or the error of a statement that gave up after `since`.
    fn take(&self, since: Instant) -> Result<Link> {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if let Some(error) = self.given_up_since(since) {
                return Err(error);
            }
            if let Some(link) = idle.0.pop() {
                return Ok(link);
            }
            if idle.1 < self.size {
                idle.1 += 1;
                return Ok(Link::new(self.target.clone()));
            }
            idle = self.freed.wait(idle).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// Runs `work` as [`Link::with_stop`] does on a connection of the pool, waiting for the database
    /// at most `patience` from now.
    fn on_a_link<T>(
        &self,
        what: &str,
        cancel: Option<&Cancel>,
        patience: Duration,
        work: impl FnMut(&mut Session<'_>) -> std::result::Result<T, Failure>,
    ) -> Result<T> {
        let since = Instant::now();
        let mut link = self.take(since)?;
        let stopped = || cancelled(cancel).or_else(|| self.given_up_since(since));
        let outcome = link.with_until(what, &stopped, since.checked_add(patience), work);
        if let (true, Err(error)) = (link.gave_up, &outcome) {
            *self.gave_up.lock().unwrap_or_else(|e| e.into_inner()) =
                Some((Instant::now(), error.clone()));
            self.freed.notify_all();
        }
        self.give(link);
        outcome
    }

    fn give(&self, link: Link) {
        self.idle
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .0
            .push(link);
        self.freed.notify_one();
    }

    /// [`Link::with_stop`] on a connection of the pool, stopped by `cancel`.
    pub fn with<T>(
        &self,
        what: &str,
        cancel: Option<&Cancel>,
        work: impl FnMut(&mut Session<'_>) -> std::result::Result<T, Failure>,
    ) -> Result<T> {
        self.on_a_link(what, cancel, self.target.patience, work)
    }

    /// [`Pool::with`] that waits for the database at most `patience`, then fails with what
    /// kept it away.
    pub fn with_patience<T>(
        &self,
        what: &str,
        patience: Duration,
        work: impl FnMut(&mut Session<'_>) -> std::result::Result<T, Failure>,
    ) -> Result<T> {
        self.on_a_link(what, None, patience, work)
    }
}

/// Sleeps for `wait`, or less when `cancel` is triggered meanwhile.
pub fn sleep_unless(cancel: Option<&Cancel>, wait: Duration) {
    let end = Instant::now() + wait;
    while Instant::now() < end && !cancel.is_some_and(Cancel::is_triggered) {
        std::thread::sleep((end - Instant::now()).min(Duration::from_millis(50)));
    }
}

/// How long opening a shared batch waits for a database that is away (restarting, say).
pub(crate) const OPEN_PATIENCE: Duration = Duration::from_secs(30);

/// Creates the schema in an empty database, or checks the version of the one there: an older
/// one is upgraded (when this role owns its tables; another works on it as it is), a newer one
/// is refused. Several processes may do this at once (an advisory lock orders them). A
/// database that is away is waited for up to `OPEN_PATIENCE`.
pub fn prepare(pool: &Pool) -> Result<()> {
    let (version, owner) =
        pool.with_patience("cannot create the schema in", OPEN_PATIENCE, |c| {
            let mut tx = c.transaction()?;
            tx.execute("SELECT pg_advisory_xact_lock(7301562024)", &[])?;
            // Made only when missing: `CREATE TABLE IF NOT EXISTS` needs the right to create
            // tables even when the table is there, and a worker's role may only write rows.
            let made: bool = tx
                .query_one("SELECT to_regclass('ocrcloud_schema') IS NOT NULL", &[])?
                .get(0);
            if !made {
                tx.batch_execute(
                    "CREATE TABLE ocrcloud_schema (
                     only_row BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (only_row),
                     version  INTEGER NOT NULL)",
                )?;
            }
            let version: Option<i32> = tx
                .query_opt("SELECT version FROM ocrcloud_schema", &[])?
                .map(|r| r.get(0));
            if version.is_none() {
                tx.batch_execute(SCHEMA)?;
                tx.execute("INSERT INTO ocrcloud_schema (version) VALUES (1)", &[])?;
            }
            let from = version.unwrap_or(1);
            // Only the tables' owner may upgrade them. The upgrades change indexes only: a role
            // that may only write rows works on the older schema, and the owner's next worker
            // upgrades it.
            let owner: bool = tx
                .query_one(
                    "SELECT pg_has_role((SELECT relowner FROM pg_class \
                                      WHERE oid = 'ocrcloud_inputs'::regclass), 'USAGE')",
                    &[],
                )?
                .get(0);
            if from < SCHEMA_VERSION && owner {
                for upgrade in &UPGRADES[from.max(1) as usize - 1..] {
                    tx.batch_execute(upgrade)?;
                }
                tx.execute(
                    "UPDATE ocrcloud_schema SET version = $1",
                    &[&SCHEMA_VERSION],
                )?;
            }
            match version {
                // Nothing of a newer schema is touched: the transaction is rolled back.
                Some(version) if version > SCHEMA_VERSION => {}
                _ => tx.commit()?,
            }
            Ok((version, owner))
        })?;
    match version {
        Some(version) if version < SCHEMA_VERSION && !owner => {
            crate::logging::log(crate::logging::Level::Warn, || {
                format!(
                    "shared journal {} has schema version {version}: only the owner of its \
                     tables may upgrade it to {SCHEMA_VERSION}, and this batch works on it as \
                     it is",
                    pool.target.shown
                )
            });
            Ok(())
        }
        Some(version) if version > SCHEMA_VERSION => Err(Error::new(
            Code::InvalidArgument,
            format!(
                "shared journal {} has schema version {version}, newer than this library's \
                 {SCHEMA_VERSION}: use a newer ocrcloud",
                pool.target.shown
            ),
        )),
        _ => Ok(()),
    }
}
