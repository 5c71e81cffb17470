//! Failing chosen I/O steps on purpose, so that tests can check the library's promises after a
//! failure at every step, in the manner of SQLite's I/O-error loops: count the steps of a call,
//! then run it again once per step, failing that step with each fault that fits it.
//!
//! Process-wide and meant for tests only (it is not part of the C API). Disarmed, the default,
//! a step costs one relaxed atomic load.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};

/// An I/O step of the library.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Step {
    /// Opening a TCP connection.
    Connect,
    /// Sending bytes to the server.
    Write,
    /// Waiting for bytes from the server.
    Read,
    /// Creating a file.
    FileCreate,
    /// Writing to a file.
    FileWrite,
    /// Reading a local file (a document to submit, a result to copy).
    FileRead,
    /// Renaming or linking a file into its place.
    Rename,
    /// A statement (or transaction) of the shared batch journal in PostgreSQL.
    Database,
}

/// How a step fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Fault {
    /// The connection is refused.
    Refuse,
    /// The connection is reset.
    Reset,
    /// Half of the bytes arrive, then the server closes the connection.
    ShortRead,
    /// The server closes the connection.
    Close,
    /// Nothing happens until the step's timeout (or the call's cancel) ends it.
    Stall,
    /// The disk is full (`ENOSPC`).
    NoSpace,
    /// Permission denied (`EACCES`).
    Denied,
}

impl Fault {
    /// Every fault.
    pub const ALL: [Fault; 7] = [
        Fault::Refuse,
        Fault::Reset,
        Fault::ShortRead,
        Fault::Close,
        Fault::Stall,
        Fault::NoSpace,
        Fault::Denied,
    ];

    /// Whether this fault can happen at `step`.
    pub fn fits(self, step: Step) -> bool {
        match step {
            Step::Connect => matches!(self, Fault::Refuse | Fault::Stall),
            Step::Write => matches!(self, Fault::Reset | Fault::Stall),
            Step::Read => matches!(
                self,
                Fault::Reset | Fault::ShortRead | Fault::Close | Fault::Stall
            ),
            Step::FileCreate | Step::FileWrite | Step::Rename => {
                matches!(self, Fault::NoSpace | Fault::Denied)
            }
            Step::FileRead => matches!(self, Fault::Denied),
            // Reset: the connection is lost before the statement; Close: after it ran, before
            // its answer came back; Denied: the database refuses it.
            Step::Database => matches!(self, Fault::Reset | Fault::Close | Fault::Denied),
        }
    }

    /// The OS error of a file fault.
    pub fn io_error(self) -> std::io::Error {
        match self {
            Fault::NoSpace => crate::platform::files::disk_full(),
            Fault::Denied => crate::platform::files::access_denied(),
            Fault::Refuse => std::io::ErrorKind::ConnectionRefused.into(),
            Fault::Reset => std::io::ErrorKind::ConnectionReset.into(),
            Fault::ShortRead | Fault::Close => std::io::ErrorKind::UnexpectedEof.into(),
            Fault::Stall => std::io::ErrorKind::TimedOut.into(),
        }
    }
}

const OFF: u8 = 0;
const COUNTING: u8 = 1;
const ARMED: u8 = 2;

static MODE: AtomicU8 = AtomicU8::new(OFF);
static SEEN: AtomicU64 = AtomicU64::new(0);
static TARGET: AtomicU64 = AtomicU64::new(0);
static FAULT: Mutex<Option<Fault>> = Mutex::new(None);
/// With [`arm_step`]: only steps of this kind count towards the target.
static ONLY: Mutex<Option<Step>> = Mutex::new(None);
static STEPS: Mutex<Vec<Step>> = Mutex::new(Vec::new());

/// Starts recording steps without failing any.
pub fn count() {
    start(COUNTING, 0, None, None);
}

/// Fails the `n`-th step from now (1-based) with `fault`, and only that one; steps are
/// recorded as with [`count`].
pub fn arm(n: u64, fault: Fault) {
    start(ARMED, n, Some(fault), None);
}

/// Fails the `n`-th step of kind `step` from now (1-based) with `fault`: steps of other kinds
/// do not count, so threads that interleave other steps do not move the target.
pub fn arm_step(step: Step, n: u64, fault: Fault) {
    start(ARMED, n, Some(fault), Some(step));
}

/// Stops failing and recording; answers the steps seen since [`count`] or [`arm`].
pub fn disarm() -> Vec<Step> {
    MODE.store(OFF, Ordering::SeqCst);
    std::mem::take(&mut *STEPS.lock().unwrap_or_else(|e| e.into_inner()))
}

fn start(mode: u8, target: u64, fault: Option<Fault>, only: Option<Step>) {
    MODE.store(OFF, Ordering::SeqCst);
    STEPS.lock().unwrap_or_else(|e| e.into_inner()).clear();
    *FAULT.lock().unwrap_or_else(|e| e.into_inner()) = fault;
    *ONLY.lock().unwrap_or_else(|e| e.into_inner()) = only;
    SEEN.store(0, Ordering::SeqCst);
    TARGET.store(target, Ordering::SeqCst);
    MODE.store(mode, Ordering::SeqCst);
}

/// Called by the library at each I/O step: the fault to act out now, if any.
pub(crate) fn at(step: Step) -> Option<Fault> {
    let mode = MODE.load(Ordering::Relaxed);
    if mode == OFF {
        return None;
    }
    STEPS.lock().unwrap_or_else(|e| e.into_inner()).push(step);
    if ONLY
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .is_some_and(|only| only != step)
    {
        return None;
    }
    let n = SEEN.fetch_add(1, Ordering::SeqCst) + 1;
    if mode != ARMED || n != TARGET.load(Ordering::SeqCst) {
        return None;
    }
    let fault = *FAULT.lock().unwrap_or_else(|e| e.into_inner());
    fault.filter(|fault| fault.fits(step))
}

/// [`at`] for file steps: the fault as the OS error it stands for.
pub(crate) fn file_step(step: Step) -> std::io::Result<()> {
    match at(step) {
        Some(fault) => Err(fault.io_error()),
        None => Ok(()),
    }
}
