//! What the command prints: records on stdout, where every failure counts, and notes on stderr,
//! which are best effort and never stop the work.

use std::io::{self, Write};
use std::sync::atomic::{AtomicU8, Ordering};

/// stdout, one record per line, or each record ended by a NUL byte (`--print0`).
pub struct Stdout {
    terminator: u8,
}

impl Stdout {
    pub fn new(print0: bool) -> Stdout {
        Stdout {
            terminator: if print0 { b'\0' } else { b'\n' },
        }
    }

    /// Writes one record as the bytes it is (a path need not be UTF-8), then flushes.
    pub fn record(&self, bytes: &[u8]) -> io::Result<()> {
        let mut out = io::stdout().lock();
        out.write_all(bytes)?;
        out.write_all(&[self.terminator])?;
        out.flush()
    }
}

/// What makes stdout unusable since the program started, if anything: closed (`>&-`; the Rust
/// runtime then puts `/dev/null` in its place, so the records would vanish without an error),
/// or open for reading only (`1</dev/null`; the Rust runtime takes the EBADF of each write for
/// a success, so the records would vanish too). Descriptor 1 is looked at before the runtime
/// starts, by [`LOOK_AT_STDOUT`]. A `/dev/null` the caller opened itself for writing (`>`, or
/// read-write as `1<>/dev/null` and Python's `subprocess.DEVNULL` do) is a stdout.
pub fn stdout_problem() -> Option<&'static str> {
    match STDOUT_AT_START.load(Ordering::Relaxed) {
        CLOSED => Some("stdout is closed"),
        READ_ONLY => Some("stdout is open for reading only"),
        _ => None,
    }
}

const CLOSED: u8 = 1;
const READ_ONLY: u8 = 2;
static STDOUT_AT_START: AtomicU8 = AtomicU8::new(0);

/// Runs before `main` and before the Rust runtime fills closed standard descriptors.
extern "C" fn look_at_stdout() {
    // SAFETY: F_GETFL only reads the flags of descriptor 1; it fails with EBADF if there is none.
    let flags = unsafe { libc::fcntl(1, libc::F_GETFL) };
    let problem = if flags < 0 {
        CLOSED
    } else if flags & libc::O_ACCMODE == libc::O_RDONLY {
        READ_ONLY
    } else {
        0
    };
    STDOUT_AT_START.store(problem, Ordering::Relaxed);
}

/// The loader runs the functions of this section before the program's own start-up code.
#[used]
#[cfg_attr(
    target_vendor = "apple",
    unsafe(link_section = "__DATA,__mod_init_func")
)]
#[cfg_attr(not(target_vendor = "apple"), unsafe(link_section = ".init_array"))]
static LOOK_AT_STDOUT: extern "C" fn() = look_at_stdout;

/// Writes `line` and a newline on stderr; a closed or full stderr is ignored.
pub fn note(line: &[u8]) {
    let mut err = io::stderr().lock();
    let _ = err.write_all(line).and_then(|()| err.write_all(b"\n"));
}

/// Ends the process by `signal` with its default action, as shell tools do, so that the shell
/// sees it (a loop stops on SIGINT, `pipefail` sees SIGPIPE). Exits with 128 + `signal` in the
/// unlikely case that the signal is blocked.
pub fn die_by(signal: libc::c_int) -> ! {
    // SAFETY: restoring the default action and raising a signal have no memory effects.
    unsafe {
        libc::signal(signal, libc::SIG_DFL);
        libc::raise(signal);
    }
    std::process::exit(128 + signal)
}
