//! What the command does differently per system: how it dies of Ctrl-C or of a closed pipe, and
//! how it tells that stdout was closed. Ctrl-C itself is caught by the `ctrlc` crate on both
//! (a signal handler on Unix, `SetConsoleCtrlHandler` on Windows).

pub use imp::{die_by, stdout_problem};

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
    use std::sync::atomic::{AtomicU8, Ordering};

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

    /// What makes stdout unusable since the program started, if anything: closed (`>&-`; the
    /// Rust runtime then puts `/dev/null` in its place, so the records would vanish without an
    /// error), or open for reading only (`1</dev/null`; the Rust runtime takes the EBADF of each
    /// write for a success, so the records would vanish too). Descriptor 1 is looked at before
    /// the runtime starts, by [`LOOK_AT_STDOUT`]. A `/dev/null` the caller opened itself for
    /// writing (`>`, or read-write as `1<>/dev/null` and Python's `subprocess.DEVNULL` do) is a
    /// stdout.
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
        // SAFETY: F_GETFL only reads the flags of descriptor 1; it fails with EBADF if there is
        // none.
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

    /// What makes stdout unusable, if anything: no stdout handle (the Rust runtime then drops
    /// every write without an error, so the records would vanish).
    pub fn stdout_problem() -> Option<&'static str> {
        // SAFETY: reads one of this process's standard handles.
        let handle = unsafe { GetStdHandle(STD_OUTPUT_HANDLE) };
        (handle.is_null() || handle == INVALID_HANDLE_VALUE).then_some("stdout is closed")
    }
}
