//! Plain TCP for the HTTP agent: cancellable waits and a cheap check of pooled connections.
//!
//! - While a call with a cancel switch runs on a thread ([`watch`]), waits for the server on that
//!   thread wake every few milliseconds to look at the switch, so a cancel ends a request that
//!   waits for a silent server at once instead of at its timeout.
//! - Before it reuses a keep-alive connection (and again when it returns one to its pool), ureq
//!   asks the transport whether the connection is still open. Its own TCP transport answers with
//!   three system calls (non-blocking on, a read, non-blocking off); this one peeks with
//!   `MSG_DONTWAIT` in one (on Windows a `select` that does not wait), and only before a reuse: when the connection comes back right after
//!   its answer was read, the peek before its next use sees the same (a close by the server,
//!   bytes after the answer). Status polls are small requests on one connection, so those calls
//!   were a large share of their cost.
//!
//! - Connecting waits in the same short slices, so a cancel also ends a connection attempt to a
//!   host that does not answer.
//! - It counts the bytes this thread wrote, so an exchange knows whether any byte of its request
//!   left ([`bytes_written`]).
//! - A connection made by another process (the parent, before a `fork`) is never reused: a
//!   `pthread_atfork` handler counts forks, so the check costs no system call (Unix only:
//!   Windows has no `fork`).
//! - After a write finds the connection closed by the server (or a server that stopped reading),
//!   later writes are dropped, so that
//!   an answer the server sent first can still be read, also through TLS
//!   ([`crate::early_answer`]).
//! - On a connection that carries TLS to the service it follows the TLS records read: one read
//!   only in part (held by the TLS layer, where a peek cannot see it) means the server left
//!   bytes after its answer, and the connection is not reused.
//! - Each connect, write and read is a step of [`crate::faults`].
//!
//! Everything else follows ureq's TCP transport: connect with a timeout to each resolved address
//! in turn, `TCP_NODELAY`, timeouts set only when they change.

use crate::cancel::Cancel;
use crate::faults::{self, Fault, Step};
use crate::platform::process::fork_generation;
use crate::platform::socket;
use std::cell::{Cell, RefCell};
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};
use ureq::Timeout;
use ureq::unversioned::transport::{
    Buffers, ConnectionDetails, Connector, Either, LazyBuffers, NextTimeout, ShutdownHandle,
    Transport,
};

/// How often a wait for the server looks at the cancel switch of the call it serves.
pub const CANCEL_CHECK: Duration = Duration::from_millis(10);

thread_local! {
    /// The cancel switch of the call running on this thread, if it has one.
    static WATCHED: RefCell<Option<Arc<Cancel>>> = const { RefCell::new(None) };
    /// Bytes written to servers by this thread so far.
    static WRITTEN: Cell<u64> = const { Cell::new(0) };
}

/// How many bytes this thread has written to servers so far: an exchange compares the count
/// before and after to know whether any byte of its request left.
pub fn bytes_written() -> u64 {
    WRITTEN.get()
}

/// Makes waits for the server on this thread end when `cancel` is triggered, until the returned
/// guard is dropped. They then fail with an I/O error; the caller sees the switch and reports
/// the cancel.
pub fn watch(cancel: Option<&Arc<Cancel>>) -> Watch {
    Watch(WATCHED.replace(cancel.cloned()))
}

/// The cancel switch watched on this thread, if any.
pub fn watched() -> Option<Arc<Cancel>> {
    WATCHED.with_borrow(Clone::clone)
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
        // TLS straight to the service (not inside a proxy's tunnel, whose CONNECT answer
        // comes first in plain text): its records are followed.
        let direct_tls = details.uri.scheme() == Some(&ureq::http::uri::Scheme::HTTPS)
            && details.config.proxy().is_none();
        Ok(Some(Either::B(TcpTransport {
            stream,
            buffers,
            records: direct_tls.then(TlsRecords::default),
            read_timeout: None,
            write_timeout: None,
            owner: fork_generation(),
            closed: false,
            read_since_check: false,
            write_failed: false,
        })))
    }
}

/// Tries each resolved address in turn within the connect timeout; a watched cancel ends the
/// attempt within a slice.
fn connect(details: &ConnectionDetails) -> Result<TcpStream, ureq::Error> {
    let wait = Wait::new(details.timeout)?;
    let mut last_error = None;
    for address in details.addrs.iter() {
        match connect_one(*address, &wait) {
            Ok(stream) => return Ok(stream),
            Err(e @ ureq::Error::Timeout(_)) => return Err(e),
            Err(e) if wait.cancelled() => return Err(e),
            Err(e) => last_error = Some(e),
        }
    }
    Err(last_error.unwrap_or(ureq::Error::HostNotFound))
}

/// A non-blocking connect to `address`, waited for in slices.
fn connect_one(address: SocketAddr, wait: &Wait) -> Result<TcpStream, ureq::Error> {
    use socket2::{Domain, Protocol, Socket, Type};
    match faults::at(Step::Connect) {
        Some(Fault::Stall) => return Err(wait.stall()),
        Some(fault) => return Err(ureq::Error::Io(fault.io_error())),
        None => {}
    }
    let socket = Socket::new(
        Domain::for_address(address),
        Type::STREAM,
        Some(Protocol::TCP),
    )?;
    socket.set_nonblocking(true)?;
    match socket.connect(&address.into()) {
        Ok(()) => {}
        Err(e) if socket::connect_pending(&e) => {
            wait.run(|| writable(&socket, wait.left()))?;
            if let Some(e) = socket.take_error()? {
                return Err(ureq::Error::Io(e));
            }
        }
        Err(e) => return Err(ureq::Error::Io(e)),
    }
    socket.set_nonblocking(false)?;
    Ok(socket.into())
}

/// Waits one slice (shorter with a cancel watched) for `socket` to become writable, i.e.
/// connected or failed, but never past `left`; `TimedOut` when the wait passed first.
fn writable(socket: &socket2::Socket, left: Option<Duration>) -> io::Result<()> {
    let slice = if WATCHED.with_borrow(|c| c.is_some()) {
        CANCEL_CHECK
    } else {
        CONNECT_POLL_LONGEST
    };
    let wait = left.map_or(slice, |left| slice.min(left));
    // Rounded up, so that a wait of less than a millisecond does not spin.
    let millis = wait.as_micros().div_ceil(1000).max(1) as i32;
    socket::wait_writable(socket, millis)
}

/// The longest single wait of a connect without a cancel watched; the connect timeout still
/// ends the whole attempt.
const CONNECT_POLL_LONGEST: Duration = Duration::from_millis(100);

/// A TCP connection with the agent's buffers.
#[derive(Debug)]
pub struct TcpTransport {
    stream: Arc<TcpStream>,
    buffers: LazyBuffers,
    read_timeout: Option<Duration>,
    write_timeout: Option<Duration>,
    /// The fork generation that opened the connection: after a `fork` the child must not
    /// share it.
    owner: u64,
    /// Set by a short-read fault: the server "closed" the connection after a partial read.
    closed: bool,
    /// Whether bytes were read since the last check of [`Transport::is_open`]: the check when
    /// the connection goes back to the pool then needs no peek.
    read_since_check: bool,
    /// Set when a write found the connection closed by the server, or waited past its per-write
    /// timeout: later writes are dropped, so that an answer the server sent first can still be
    /// read ([`crate::early_answer`]).
    write_failed: bool,
    /// Where the bytes read so far end among TLS records, on a connection that carries TLS.
    records: Option<TlsRecords>,
}

/// Follows the TLS records of what was read: a record read only in part is held by the TLS
/// layer, out of sight of a peek at the socket, so a connection whose reads did not end at a
/// record's end holds bytes the server left after its answer and is not open for reuse.
#[derive(Debug, Default)]
struct TlsRecords {
    /// Bytes of the current record's 5-byte header read so far.
    header_read: usize,
    /// The length field of the current record's header.
    length: [u8; 2],
    /// Bytes of the current record's body still to come.
    body_left: usize,
}

impl TlsRecords {
    fn read(&mut self, mut bytes: &[u8]) {
        while let Some((&first, rest)) = bytes.split_first() {
            if self.body_left > 0 {
                let n = self.body_left.min(bytes.len());
                self.body_left -= n;
                bytes = &bytes[n..];
                continue;
            }
            if let Some(slot) = self.header_read.checked_sub(3) {
                self.length[slot] = first;
            }
            self.header_read += 1;
            if self.header_read == 5 {
                self.header_read = 0;
                self.body_left = usize::from(u16::from_be_bytes(self.length));
            }
            bytes = rest;
        }
    }

    fn at_a_record_end(&self) -> bool {
        self.header_read == 0 && self.body_left == 0
    }
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
            cancel: watched(),
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

    fn cancelled(&self) -> bool {
        self.cancel.as_deref().is_some_and(Cancel::is_triggered)
    }

    /// The time left before the limit (`None`: no limit).
    fn left(&self) -> Option<Duration> {
        self.limit.map(|l| l.saturating_sub(self.started.elapsed()))
    }

    /// Acts out a stalled step: waits until the limit passes or the cancel is triggered, and
    /// answers the error that ends it.
    fn stall(&self) -> ureq::Error {
        let run = self.run(|| {
            std::thread::sleep(CANCEL_CHECK);
            Err::<(), _>(io::Error::from(io::ErrorKind::TimedOut))
        });
        run.err().unwrap_or(ureq::Error::Timeout(self.reason))
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
                    if self.cancelled() {
                        return Err(ureq::Error::Io(io::Error::other("cancelled by the caller")));
                    }
                    if self.limit.is_some_and(|l| self.started.elapsed() >= l) {
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
        match faults::at(Step::Write) {
            Some(Fault::Stall) => return Err(wait.stall()),
            Some(fault) => return Err(ureq::Error::Io(fault.io_error())),
            None => {}
        }
        if self.write_failed {
            // The connection is gone; only the reading of an answer the server sent before it
            // closed may still go on (a TLS layer first writes what it still holds).
            return Ok(());
        }
        let output = &self.buffers.output()[..amount];
        let mut written = 0;
        while written < output.len() {
            let wrote = wait.run(|| (&*self.stream).write(&output[written..]));
            if wrote.as_ref().is_err_and(crate::early_answer::may_follow) {
                self.write_failed = true;
            }
            match wrote? {
                0 => return Err(ureq::Error::Io(io::ErrorKind::WriteZero.into())),
                n => {
                    written += n;
                    WRITTEN.set(WRITTEN.get() + n as u64);
                }
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
        let fault = faults::at(Step::Read);
        match fault {
            Some(Fault::Stall) => return Err(wait.stall()),
            Some(Fault::Reset) => return Err(ureq::Error::Io(Fault::Reset.io_error())),
            Some(Fault::Close) => self.closed = true,
            _ => {}
        }
        if self.closed {
            return Ok(false);
        }
        let stream = &*self.stream;
        let input = self.buffers.input_append_buf();
        let mut amount = wait.run(|| (&*stream).read(input))?;
        if fault == Some(Fault::ShortRead) {
            amount = amount.div_ceil(2);
            self.closed = true;
        }
        if let Some(records) = &mut self.records {
            records.read(&input[..amount]);
        }
        self.buffers.input_appended(amount);
        self.read_since_check = true;
        Ok(amount > 0)
    }

    /// Open means: made by this process, nothing to read yet, and not closed by the server.
    /// Right after an answer was read (the connection going back to the pool) it is taken as
    /// open without a peek; the check before the next use peeks.
    fn is_open(&mut self) -> bool {
        if self.closed || self.write_failed || self.owner != fork_generation() {
            return false;
        }
        if self.records.as_ref().is_some_and(|r| !r.at_a_record_end()) {
            return false;
        }
        if std::mem::take(&mut self.read_since_check) {
            return true;
        }
        socket::is_idle_open(&self.stream)
    }
}

#[cfg(test)]
mod tests {
    use super::TlsRecords;

    #[test]
    fn tls_records_end_only_where_a_whole_record_was_read() {
        // Two records (bodies of 3 and 0 bytes), then the first bytes of a third.
        let bytes = [23, 3, 3, 0, 3, 1, 2, 3, 23, 3, 3, 0, 0, 23, 3, 3, 1, 0, 9];
        for split in 0..=bytes.len() {
            let mut records = TlsRecords::default();
            records.read(&bytes[..split]);
            let whole = [0, 8, 13].contains(&split);
            assert_eq!(records.at_a_record_end(), whole, "after {split} bytes");
            records.read(&bytes[split..]);
            assert!(!records.at_a_record_end(), "the third record is not whole");
        }
    }
}
