//! Which process this is: the forks it descends from (Unix only: Windows has no `fork`), and an
//! identity that tells a running process from an earlier one that had the same pid.

pub use imp::{fork_generation, identity_of, is_running};

/// A process, told apart from every other one, also one with the same pid (earlier, or in
/// another pid namespace).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Identity {
    pub pid: u32,
    /// When the process started: clock ticks after boot on Linux, a FILETIME on Windows.
    pub started: u64,
    /// The inode of its pid namespace on Linux; 0 on Windows (no pid namespaces).
    pub namespace: u64,
}

#[cfg(unix)]
mod imp {
    use super::Identity;
    use std::sync::atomic::{AtomicU64, Ordering};

    /// Counts the forks this process descends from, bumped in each child by a `pthread_atfork`
    /// handler: comparing it is free, where asking for the pid is a system call per request.
    static FORKS: AtomicU64 = AtomicU64::new(0);

    extern "C" fn forked() {
        FORKS.fetch_add(1, Ordering::Relaxed);
    }

    /// This process's place in its line of forks (0 in a process that never forked from one
    /// that used the library).
    pub fn fork_generation() -> u64 {
        static REGISTERED: std::sync::Once = std::sync::Once::new();
        REGISTERED.call_once(|| {
            // SAFETY: registers a handler that only increments an atomic, which is safe in a
            // child after fork.
            unsafe { libc::pthread_atfork(None, None, Some(forked)) };
        });
        FORKS.load(Ordering::Relaxed)
    }

    /// The process with this pid in this pid namespace, if one runs. Read from `/proc`
    /// (`stat` field 22 and `ns/pid`): where there is no `/proc` (macOS), `None`, and
    /// temporary files left by crashed processes are then never removed.
    pub fn identity_of(pid: u32) -> Option<Identity> {
        use std::os::unix::fs::MetadataExt;
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // The command name may hold spaces and parentheses: count fields after the last ')'.
        let started = stat
            .rsplit_once(')')?
            .1
            .split_whitespace()
            .nth(19)?
            .parse()
            .ok()?;
        let namespace = std::fs::metadata(format!("/proc/{pid}/ns/pid")).ok()?.ino();
        Some(Identity {
            pid,
            started,
            namespace,
        })
    }

    /// Whether `process` still runs.
    pub fn is_running(process: Identity) -> bool {
        identity_of(process.pid) == Some(process)
    }
}

#[cfg(windows)]
mod imp {
    use super::Identity;
    use windows_sys::Win32::Foundation::{
        CloseHandle, ERROR_INVALID_PARAMETER, FILETIME, GetLastError, HANDLE, STILL_ACTIVE,
    };
    use windows_sys::Win32::System::Threading::{
        GetExitCodeProcess, GetProcessTimes, OpenProcess, PROCESS_QUERY_LIMITED_INFORMATION,
    };

    /// Always 0: Windows has no `fork`, so a connection or a temporary name can never be
    /// inherited by a copy of this process.
    pub fn fork_generation() -> u64 {
        0
    }

    /// The process with this pid, if one runs and this process may ask about it.
    pub fn identity_of(pid: u32) -> Option<Identity> {
        let handle = Handle::open(pid).ok()?;
        handle.identity(pid)
    }

    /// Whether `process` still runs. A process that this one may not ask about (another
    /// user's) counts as running: its files are kept.
    pub fn is_running(process: Identity) -> bool {
        match Handle::open(process.pid) {
            Ok(handle) => handle.identity(process.pid) == Some(process),
            Err(code) => code != ERROR_INVALID_PARAMETER,
        }
    }

    /// A process handle, closed on drop.
    struct Handle(HANDLE);

    impl Handle {
        /// Opens `pid` to read its times; the error code when that fails
        /// (`ERROR_INVALID_PARAMETER`: no such process).
        fn open(pid: u32) -> Result<Handle, u32> {
            // SAFETY: plain calls with no pointers; the handle is owned by the result.
            let handle = unsafe { OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, 0, pid) };
            if handle.is_null() {
                // SAFETY: reads this thread's last error.
                return Err(unsafe { GetLastError() });
            }
            Ok(Handle(handle))
        }

        /// The identity of the process, if it has not ended.
        fn identity(&self, pid: u32) -> Option<Identity> {
            let zero = FILETIME {
                dwLowDateTime: 0,
                dwHighDateTime: 0,
            };
            let (mut created, mut exited, mut kernel, mut user) = (zero, zero, zero, zero);
            let mut code = 0u32;
            // SAFETY: a valid handle and out-parameters on the stack.
            let ok = unsafe {
                GetProcessTimes(self.0, &mut created, &mut exited, &mut kernel, &mut user) != 0
                    && GetExitCodeProcess(self.0, &mut code) != 0
            };
            (ok && code == STILL_ACTIVE as u32).then(|| Identity {
                pid,
                started: (u64::from(created.dwHighDateTime) << 32)
                    | u64::from(created.dwLowDateTime),
                namespace: 0,
            })
        }
    }

    impl Drop for Handle {
        fn drop(&mut self) {
            // SAFETY: the handle is owned and closed once.
            unsafe { CloseHandle(self.0) };
        }
    }
}
