//! What the command prints: records on stdout, where every failure counts, and notes on stderr,
//! which are best effort and never stop the work.

use std::fs::File;
use std::io::{self, Write};
use std::os::fd::AsFd;
use std::os::unix::fs::{FileTypeExt, MetadataExt};

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

/// Whether stdout was closed when the program started (`>&-`). The Rust runtime then puts
/// `/dev/null` opened read-write in its place, which a shell's `>/dev/null` never does (it opens
/// it write-only), so the records would vanish without an error.
pub fn stdout_was_closed() -> bool {
    // SAFETY: F_GETFL only reads the flags of descriptor 1; it fails cleanly if there is none.
    let flags = unsafe { libc::fcntl(1, libc::F_GETFL) };
    if flags < 0 || flags & libc::O_ACCMODE != libc::O_RDWR {
        return false;
    }
    let stdout = io::stdout().as_fd().try_clone_to_owned().map(File::from);
    match (
        stdout.and_then(|f| f.metadata()),
        std::fs::metadata("/dev/null"),
    ) {
        (Ok(stdout), Ok(null)) => {
            stdout.file_type().is_char_device() && stdout.rdev() == null.rdev()
        }
        _ => false,
    }
}

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
