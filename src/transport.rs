//! Plain TCP for the HTTP agent: cancellable waits and a cheap check of pooled connections.
//!
//! - While a call with a cancel switch runs on a thread ([`watch`]), waits for the server on that
//!   thread wake every few milliseconds to look at the switch, so a cancel ends a request that
//!   waits for a silent server at once instead of at its timeout.
//! - Before it reuses a keep-alive connection (and again when it returns one to its pool), ureq
//!   asks the transport whether the connection is still open. Its own TCP transport answers with
//!   three system calls (non-blocking on, a read, non-blocking off); this one peeks with
//!   `MSG_DONTWAIT` in one. Status polls are small requests on one connection, so those calls
//!   were a large share of their cost.
//!
//! Everything else follows ureq's TCP transport: connect with a timeout to each resolved address
//! in turn, `TCP_NODELAY`, timeouts set only when they change. Connecting itself is not
//! cancellable; the connect timeout bounds it.

use crate::cancel::Cancel;
use std::cell::RefCell;
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::os::fd::AsRawFd;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};
use ureq::Timeout;
use ureq::unversioned::transport::{
    Buffers, ConnectionDetails, Connector, Either, LazyBuffers, NextTimeout, ShutdownHandle,
    Transport,
};

/// How often a wait for the server looks at the cancel switch of the call it serves.
const CANCEL_CHECK: Duration = Duration::from_millis(10);

thread_local! {
    /// The cancel switch of the call running on this thread, if it has one.
    static WATCHED: RefCell<Option<Arc<Cancel>>> = const { RefCell::new(None) };
}

/// Makes waits for the server on this thread end when `cancel` is triggered, until the returned
/// guard is dropped. They then fail with an I/O error; the caller sees the switch and reports
/// the cancel.
pub fn watch(cancel: Option<&Arc<Cancel>>) -> Watch {
    Watch(WATCHED.replace(cancel.cloned()))
}

/// Restores the previously watched switch when dropped.
pub struct Watch(Option<Arc<Cancel>>);

impl Drop for Watch {
    fn drop(&mut self) {
        WATCHED.set(self.0.take());
    }
}

/// Opens TCP connections (for plain http, and under TLS for https).
#[derive(Debug, Default)]
pub struct TcpConnector;

impl<In: Transport> Connector<In> for TcpConnector {
    type Out = Either<In, TcpTransport>;

    fn connect(
        &self,
        details: &ConnectionDetails,
        chained: Option<In>,
    ) -> Result<Option<Self::Out>, ureq::Error> {
        if let Some(transport) = chained {
            // A proxy connector already made the connection.
            return Ok(Some(Either::A(transport)));
        }
        let stream = Arc::new(connect(details)?);
        if details.config.no_delay() {
            stream.set_nodelay(true)?;
        }
        (details.register_shutdown)(Arc::downgrade(&stream) as Weak<dyn ShutdownHandle>)?;
        let buffers = LazyBuffers::new(
            details.config.input_buffer_size(),
            details.config.output_buffer_size(),
        );
        Ok(Some(Either::B(TcpTransport {
            stream,
            buffers,
            read_timeout: None,
            write_timeout: None,
        })))
    }
}

/// Tries each resolved address in turn within the connect timeout.
fn connect(details: &ConnectionDetails) -> Result<TcpStream, ureq::Error> {
    let started = std::time::Instant::now();
    let mut last_error = None;
    for address in details.addrs.iter() {
        let attempt = match details.timeout.not_zero() {
            Some(limit) => {
                let left = (*limit).saturating_sub(started.elapsed());
                if left.is_zero() {
                    return Err(ureq::Error::Timeout(details.timeout.reason));
                }
                TcpStream::connect_timeout(address, left)
            }
            None => TcpStream::connect(address),
        };
        match attempt {
            Ok(stream) => return Ok(stream),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
                ) =>
            {
                last_error = Some(ureq::Error::Timeout(Timeout::Connect));
            }
            Err(e) => last_error = Some(ureq::Error::Io(e)),
        }
    }
    Err(last_error.unwrap_or(ureq::Error::HostNotFound))
}

/// A TCP connection with the agent's buffers.
#[derive(Debug)]
pub struct TcpTransport {
    stream: Arc<TcpStream>,
    buffers: LazyBuffers,
    read_timeout: Option<Duration>,
    write_timeout: Option<Duration>,
}

/// How long one read or write may wait, and how to wait for it.
struct Wait {
    /// The limit of the whole read or write (`None`: no limit).
    limit: Option<Duration>,
    reason: Timeout,
    cancel: Option<Arc<Cancel>>,
    started: Instant,
}

impl Wait {
    /// The wait for the next read or write, or the timeout error if no time is left.
    fn new(timeout: NextTimeout) -> Result<Wait, ureq::Error> {
        if timeout.after.is_zero() {
            return Err(ureq::Error::Timeout(timeout.reason));
        }
        Ok(Wait {
            limit: timeout.not_zero().map(|d| *d),
            reason: timeout.reason,
            cancel: WATCHED.with_borrow(Clone::clone),
            started: Instant::now(),
        })
    }

    /// The socket timeout that serves this wait: short slices while a cancel is watched.
    fn socket_timeout(&self) -> Option<Duration> {
        match (&self.cancel, self.limit) {
            (Some(_), Some(limit)) => Some(limit.min(CANCEL_CHECK)),
            (Some(_), None) => Some(CANCEL_CHECK),
            (None, limit) => limit,
        }
    }

    /// Runs `io` until it succeeds or fails for good: a socket timeout means to try again,
    /// unless the limit passed (a timeout error) or the switch was triggered (an I/O error).
    fn run<T>(&self, mut io: impl FnMut() -> io::Result<T>) -> Result<T, ureq::Error> {
        loop {
            match io() {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
                    ) =>
                {
                    if self.cancel.as_deref().is_some_and(Cancel::is_triggered) {
                        return Err(ureq::Error::Io(io::Error::other("cancelled by the caller")));
                    }
                    if self.cancel.is_none()
                        || self.limit.is_some_and(|l| self.started.elapsed() >= l)
                    {
                        return Err(ureq::Error::Timeout(self.reason));
                    }
                }
                result => return result.map_err(ureq::Error::Io),
            }
        }
    }
}

impl Transport for TcpTransport {
    fn buffers(&mut self) -> &mut dyn Buffers {
        &mut self.buffers
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), ureq::Error> {
        let wait = Wait::new(timeout.for_write())?;
        let socket_timeout = wait.socket_timeout();
        if socket_timeout != self.write_timeout {
            self.stream.set_write_timeout(socket_timeout)?;
            self.write_timeout = socket_timeout;
        }
        let output = &self.buffers.output()[..amount];
        let mut written = 0;
        while written < output.len() {
            match wait.run(|| (&*self.stream).write(&output[written..]))? {
                0 => return Err(ureq::Error::Io(io::ErrorKind::WriteZero.into())),
                n => written += n,
            }
        }
        Ok(())
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, ureq::Error> {
        let wait = Wait::new(timeout.for_read())?;
        let socket_timeout = wait.socket_timeout();
        if socket_timeout != self.read_timeout {
            self.stream.set_read_timeout(socket_timeout)?;
            self.read_timeout = socket_timeout;
        }
        let stream = &*self.stream;
        let input = self.buffers.input_append_buf();
        let amount = wait.run(|| (&*stream).read(input))?;
        self.buffers.input_appended(amount);
        Ok(amount > 0)
    }

    /// Open means: nothing to read yet and not closed by the server.
    fn is_open(&mut self) -> bool {
        let mut byte = 0u8;
        // SAFETY: a one-byte buffer on the stack for a socket this transport owns.
        let read = unsafe {
            libc::recv(
                self.stream.as_raw_fd(),
                (&mut byte as *mut u8).cast(),
                1,
                libc::MSG_PEEK | libc::MSG_DONTWAIT,
            )
        };
        read < 0 && io::Error::last_os_error().kind() == io::ErrorKind::WouldBlock
    }
}
