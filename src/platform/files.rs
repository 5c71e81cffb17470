//! Files that are not regular files (FIFOs, devices), opening documents without blocking on
//! them, and reading at an offset.
//!
//! Windows has no FIFOs or devices among ordinary paths: there every existing path is a file,
//! a folder or a link, so saving always replaces a file (never writes through), and a named pipe
//! (`\\.\pipe\...`) is refused as "not a regular file" like any other non-file.

pub use imp::{
    access_denied, create_private_dir, disk_full, identity, is_special, open_for_reading,
    open_through, read_at, without_sigpipe,
};

#[cfg(unix)]
mod imp {
    use crate::error::{Code, Error, Result};
    use std::fs::{File, Metadata, OpenOptions};
    use std::os::unix::fs::{FileExt, FileTypeExt, OpenOptionsExt};
    use std::path::Path;

    /// Creates the folder `path` that only this user may read (mode 0700); `AlreadyExists` if
    /// something is there.
    pub fn create_private_dir(path: &Path) -> std::io::Result<()> {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new().mode(0o700).create(path)
    }

    /// Two numbers that tell the file of `meta` from any other file that has stood at its
    /// path: its device and inode.
    pub fn identity(meta: &Metadata) -> (u64, u64) {
        use std::os::unix::fs::MetadataExt;
        (meta.dev(), meta.ino())
    }

    /// The system's own "no space left" error (`ENOSPC`), as a full disk gives it.
    pub fn disk_full() -> std::io::Error {
        std::io::Error::from_raw_os_error(libc::ENOSPC)
    }

    /// The system's own "permission denied" error (`EACCES`).
    pub fn access_denied() -> std::io::Error {
        std::io::Error::from_raw_os_error(libc::EACCES)
    }

    /// Whether `meta` is a FIFO, a device or a socket: written through, never replaced.
    pub fn is_special(meta: &Metadata) -> bool {
        let kind = meta.file_type();
        kind.is_fifo() || kind.is_char_device() || kind.is_block_device() || kind.is_socket()
    }

    /// Opens `path` to read it without waiting: a FIFO would wait for a writer for ever. The
    /// caller then refuses anything but a regular file.
    pub fn open_for_reading(path: &Path) -> std::io::Result<File> {
        OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(path)
    }

    /// Reads into `buf` from `offset`, without moving a file position.
    pub fn read_at(file: &File, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
        file.read_at(buf, offset)
    }

    /// Opens an existing FIFO or device for writing. A FIFO without a reader is an error, not a
    /// wait for ever.
    pub fn open_through(path: &Path) -> Result<File> {
        let failed = |e: std::io::Error| {
            Error::new(Code::Io, format!("cannot write {}: {e}", path.display()))
        };
        let file = OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(path)
            .map_err(|e| {
                if e.raw_os_error() == Some(libc::ENXIO) {
                    Error::new(
                        Code::Io,
                        format!(
                            "cannot write {}: no process is reading from it",
                            path.display()
                        ),
                    )
                } else {
                    failed(e)
                }
            })?;
        set_blocking(&file).map_err(failed)?;
        Ok(file)
    }

    fn set_blocking(file: &File) -> std::io::Result<()> {
        use std::os::fd::AsRawFd;
        let fd = file.as_raw_fd();
        // SAFETY: fcntl on a descriptor this function borrows; only the O_NONBLOCK flag changes.
        let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
        if flags < 0 || unsafe { libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_NONBLOCK) } < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(())
    }

    /// Runs `write` with `SIGPIPE` blocked on this thread: a FIFO whose reader left must give
    /// `EPIPE`, not a signal that kills the host. A `SIGPIPE` that `write` raised is taken off
    /// the thread before the mask is restored.
    pub fn without_sigpipe<T>(write: impl FnOnce() -> std::io::Result<T>) -> std::io::Result<T> {
        // SAFETY: signal-set calls on local sets and this thread's own mask, restored before
        // return.
        unsafe {
            let mut pipe: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut pipe);
            libc::sigaddset(&mut pipe, libc::SIGPIPE);
            let mut old: libc::sigset_t = std::mem::zeroed();
            libc::pthread_sigmask(libc::SIG_BLOCK, &pipe, &mut old);
            let mut pending: libc::sigset_t = std::mem::zeroed();
            libc::sigpending(&mut pending);
            let already_pending = libc::sigismember(&pending, libc::SIGPIPE) == 1;
            let outcome = write();
            if !already_pending
                && matches!(&outcome, Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe)
            {
                // sigwait returns at once for a pending signal (POSIX; sigtimedwait is not on
                // macOS).
                libc::sigpending(&mut pending);
                if libc::sigismember(&pending, libc::SIGPIPE) == 1 {
                    let mut taken = 0;
                    libc::sigwait(&pipe, &mut taken);
                }
            }
            libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut());
            outcome
        }
    }
}

#[cfg(windows)]
mod imp {
    use crate::error::{Code, Error, Result};
    use std::fs::{File, Metadata, OpenOptions};
    use std::os::windows::fs::FileExt;
    use std::path::Path;

    /// Two numbers that tell the file of `meta` from any other file that has stood at its
    /// path: its creation time (100 ns steps) and its size. Stable std gives no file index on
    /// Windows without opening the file; a file made again at the same path has a later
    /// creation time.
    pub fn identity(meta: &Metadata) -> (u64, u64) {
        use std::os::windows::fs::MetadataExt;
        (meta.creation_time(), meta.file_size())
    }

    /// Creates the folder `path`; `AlreadyExists` if something is there. It inherits the
    /// access list of its parent: under the user's temporary folder, only this user may read it.
    pub fn create_private_dir(path: &Path) -> std::io::Result<()> {
        std::fs::create_dir(path)
    }

    /// The system's own "disk full" error (`ERROR_DISK_FULL`).
    pub fn disk_full() -> std::io::Error {
        std::io::Error::from_raw_os_error(windows_sys::Win32::Foundation::ERROR_DISK_FULL as i32)
    }

    /// The system's own "access denied" error (`ERROR_ACCESS_DENIED`).
    pub fn access_denied() -> std::io::Error {
        std::io::Error::from_raw_os_error(
            windows_sys::Win32::Foundation::ERROR_ACCESS_DENIED as i32,
        )
    }

    /// Always false: no path of the file system is a FIFO or a device on Windows.
    pub fn is_special(_meta: &Metadata) -> bool {
        false
    }

    /// Opens `path` to read it (opening never waits on Windows); the caller then refuses
    /// anything but a regular file.
    pub fn open_for_reading(path: &Path) -> std::io::Result<File> {
        OpenOptions::new().read(true).open(path)
    }

    /// Reads into `buf` from `offset`. Moves the file position, which no caller uses: every
    /// read of a document gives its offset.
    pub fn read_at(file: &File, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
        file.seek_read(buf, offset)
    }

    /// Opens `path` for writing in place. Not reached: [`is_special`] is never true here.
    pub fn open_through(path: &Path) -> Result<File> {
        OpenOptions::new()
            .write(true)
            .open(path)
            .map_err(|e| Error::new(Code::Io, format!("cannot write {}: {e}", path.display())))
    }

    /// Runs `write`: Windows has no SIGPIPE (a closed pipe is an error of the write).
    pub fn without_sigpipe<T>(write: impl FnOnce() -> std::io::Result<T>) -> std::io::Result<T> {
        write()
    }
}
