//! The TCP calls that differ between systems: a non-blocking connect still in progress, waiting
//! for it, and whether an idle pooled connection is still open.

pub use imp::{connect_pending, is_idle_open, wait_writable};

#[cfg(unix)]
mod imp {
    use std::io;
    use std::net::TcpStream;
    use std::os::fd::AsRawFd;

    /// Whether `error`, from a non-blocking connect, means that the connect goes on.
    pub fn connect_pending(error: &io::Error) -> bool {
        error.raw_os_error() == Some(libc::EINPROGRESS)
    }

    /// Waits at most `millis` for `socket` to be connected or failed; `TimedOut` if neither.
    pub fn wait_writable(socket: &socket2::Socket, millis: i32) -> io::Result<()> {
        let mut poll = libc::pollfd {
            fd: socket.as_raw_fd(),
            events: libc::POLLOUT,
            revents: 0,
        };
        // SAFETY: one valid pollfd for a socket this function borrows.
        match unsafe { libc::poll(&mut poll, 1, millis) } {
            0 => Err(io::ErrorKind::TimedOut.into()),
            n if n < 0 => Err(io::Error::last_os_error()),
            _ => Ok(()),
        }
    }

    /// Whether an idle connection is still open: nothing to read and not closed by the peer.
    /// One `recv` with `MSG_PEEK | MSG_DONTWAIT`, which must answer "would block".
    pub fn is_idle_open(stream: &TcpStream) -> bool {
        let mut byte = 0u8;
        // SAFETY: a one-byte buffer on the stack for a socket this function borrows.
        let read = unsafe {
            libc::recv(
                stream.as_raw_fd(),
                (&mut byte as *mut u8).cast(),
                1,
                libc::MSG_PEEK | libc::MSG_DONTWAIT,
            )
        };
        read < 0 && io::Error::last_os_error().kind() == io::ErrorKind::WouldBlock
    }
}

#[cfg(windows)]
mod imp {
    use std::io;
    use std::net::TcpStream;
    use std::os::windows::io::AsRawSocket;
    use windows_sys::Win32::Networking::WinSock::{FD_SET, SOCKET, SOCKET_ERROR, TIMEVAL, select};

    /// Whether `error`, from a non-blocking connect, means that the connect goes on
    /// (`WSAEWOULDBLOCK`).
    pub fn connect_pending(error: &io::Error) -> bool {
        error.kind() == io::ErrorKind::WouldBlock
    }

    /// Waits at most `millis` for `socket` to be connected (writable) or failed (an exception):
    /// `select`, because `WSAPoll` of older Windows versions never reports a failed connect.
    pub fn wait_writable(socket: &socket2::Socket, millis: i32) -> io::Result<()> {
        let socket = socket.as_raw_socket() as SOCKET;
        let mut writable = one(socket);
        let mut failed = one(socket);
        let timeout = TIMEVAL {
            tv_sec: millis / 1000,
            tv_usec: (millis % 1000) * 1000,
        };
        // SAFETY: two valid one-socket sets and a timeout on the stack.
        match unsafe {
            select(
                0,
                std::ptr::null_mut(),
                &mut writable,
                &mut failed,
                &timeout,
            )
        } {
            0 => Err(io::ErrorKind::TimedOut.into()),
            SOCKET_ERROR => Err(io::Error::last_os_error()),
            _ => Ok(()),
        }
    }

    /// Whether an idle connection is still open: `select` with no wait must find nothing to
    /// read (readable means data nobody asked for, the peer's close or a reset).
    pub fn is_idle_open(stream: &TcpStream) -> bool {
        let mut readable = one(stream.as_raw_socket() as SOCKET);
        let now = TIMEVAL {
            tv_sec: 0,
            tv_usec: 0,
        };
        // SAFETY: a valid one-socket set and a timeout on the stack.
        let ready = unsafe {
            select(
                0,
                &mut readable,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                &now,
            )
        };
        ready == 0
    }

    fn one(socket: SOCKET) -> FD_SET {
        let mut set = FD_SET {
            fd_count: 1,
            fd_array: [0; 64],
        };
        set.fd_array[0] = socket;
        set
    }
}
