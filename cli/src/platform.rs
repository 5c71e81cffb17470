//! What the command does differently per system: how it dies of Ctrl-C or of a closed pipe, and
//! how it tells that stdout was closed. Ctrl-C itself is caught by the `ctrlc` crate on both
//! (a signal handler on Unix, `SetConsoleCtrlHandler` on Windows).

pub use imp::{die_by, stdout_was_closed};

/// Why the command ends early.
#[derive(Clone, Copy)]
pub enum Signal {
    /// Ctrl-C (`SIGINT`).
    Interrupt,
    /// stdout's reader has gone (`SIGPIPE`).
    BrokenPipe,
}

#[cfg(unix)]
mod imp {
    use super::Signal;
    use std::fs::File;
    use std::io;
    use std::os::fd::AsFd;
    use std::os::unix::fs::{FileTypeExt, MetadataExt};

    /// Ends the process by the signal with its default action, as shell tools do, so that the
    /// shell sees it (a loop stops on SIGINT, `pipefail` sees SIGPIPE). Exits with 128 + the
    /// signal's number in the unlikely case that the signal is blocked.
    pub fn die_by(signal: Signal) -> ! {
        let signal = match signal {
            Signal::Interrupt => libc::SIGINT,
            Signal::BrokenPipe => libc::SIGPIPE,
        };
        // SAFETY: restoring the default action and raising a signal have no memory effects.
        unsafe {
            libc::signal(signal, libc::SIG_DFL);
            libc::raise(signal);
        }
        std::process::exit(128 + signal)
    }

    /// Whether stdout was closed when the program started (`>&-`). The Rust runtime then puts
    /// `/dev/null` opened read-write in its place, which a shell's `>/dev/null` never does (it
    /// opens it write-only), so the records would vanish without an error.
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
}

#[cfg(windows)]
mod imp {
    use super::Signal;
    use windows_sys::Win32::Foundation::INVALID_HANDLE_VALUE;
    use windows_sys::Win32::System::Console::{GetStdHandle, STD_OUTPUT_HANDLE};

    /// Exits with the status a Unix shell reports for the same death (130 after Ctrl-C, 141
    /// when stdout's reader has gone): Windows has no signals to die of.
    pub fn die_by(signal: Signal) -> ! {
        std::process::exit(match signal {
            Signal::Interrupt => 130,
            Signal::BrokenPipe => 141,
        })
    }

    /// Whether the process has no stdout handle: the Rust runtime then drops every write
    /// without an error, so the records would vanish.
    pub fn stdout_was_closed() -> bool {
        // SAFETY: reads one of this process's standard handles.
        let handle = unsafe { GetStdHandle(STD_OUTPUT_HANDLE) };
        handle.is_null() || handle == INVALID_HANDLE_VALUE
    }
}
