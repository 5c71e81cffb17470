//! An answer that arrives while a request's body is still being sent.
//!
//! A server may refuse a body part way through it (a `413` once it has read its limit, after
//! its `100 Continue`) and close the connection, or stop reading: the next write then fails
//! with a broken pipe or a reset, or waits until its per-write timeout, although the server's
//! answer already waits in the receive buffer. The transport of this module lies over the
//! whole chain (TCP, then TLS): when a write fails that way, it reads what the server sent (the
//! TCP transport drops the writes that TLS still makes, see `crate::transport`), and an answer
//! that starts with a status line is kept for the exchange on this thread ([`take`]), which
//! reports it instead of the broken pipe.
//!
//! Only the connection to the service does this: a CONNECT proxy's answer before its tunnel
//! stands (plain text, outside TLS) is no answer of the service.

use std::cell::RefCell;
use std::io::ErrorKind;
use ureq::unversioned::transport::time::Duration;
use ureq::unversioned::transport::{Buffers, ConnectionDetails, Connector, NextTimeout, Transport};

/// The most bytes of an early answer that are kept (its head and a short explanation).
const LONGEST_EARLY_ANSWER: usize = 64 * 1024;
/// The longest wait for each read of it. An answer sent before the server closed the connection
/// is already in the receive buffer when the write fails, so reads end at once; the limit only
/// bounds a connection that failed without being closed.
const EARLY_ANSWER_WAIT: Duration = Duration::from_millis(100);

thread_local! {
    /// The answer a server sent while this thread's request body was being written.
    static EARLY: RefCell<Option<Vec<u8>>> = const { RefCell::new(None) };
}

/// The bytes of an answer that arrived while this thread's last request body was being sent
/// (from its status line on), if one did; taking it forgets it.
pub fn take() -> Option<Vec<u8>> {
    EARLY.take()
}

/// Whether a server may have answered before the write that failed with `error`: it closed
/// or reset the connection, or it stopped reading (a write waited past its per-write timeout)
/// after it answered.
pub fn may_follow(error: &ureq::Error) -> bool {
    match error {
        ureq::Error::Io(e) => matches!(
            e.kind(),
            ErrorKind::BrokenPipe | ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted
        ),
        ureq::Error::Timeout(reason) => *reason == ureq::Timeout::PerWrite,
        _ => false,
    }
}

/// Wraps the transport that the chain before it made. `proxied`: whether the agent goes
/// through a CONNECT proxy; the connection to the proxy itself (made with the proxy taken out
/// of the configuration) is then wrapped as one that keeps no answer: what a proxy says is no
/// answer of the service.
#[derive(Debug, Default)]
pub struct EarlyAnswerConnector {
    pub proxied: bool,
}

impl<In: Transport> Connector<In> for EarlyAnswerConnector {
    type Out = EarlyAnswerTransport<In>;

    fn connect(
        &self,
        details: &ConnectionDetails,
        chained: Option<In>,
    ) -> Result<Option<Self::Out>, ureq::Error> {
        let service = !(self.proxied && details.config.proxy().is_none());
        Ok(chained.map(|inner| EarlyAnswerTransport { inner, service }))
    }
}

/// A transport that keeps an answer that ends a body's upload (see the module).
#[derive(Debug)]
pub struct EarlyAnswerTransport<T> {
    inner: T,
    /// Whether this connection reaches the service (not a proxy before its tunnel).
    service: bool,
}

impl<T: Transport> EarlyAnswerTransport<T> {
    /// Reads what the server sent before it closed the connection, within `timeout` and
    /// [`EARLY_ANSWER_WAIT`] per read, and keeps it if it is an HTTP answer.
    fn keep_answer(&mut self, mut timeout: NextTimeout) {
        timeout.per_read = Some(
            timeout
                .per_read
                .map_or(EARLY_ANSWER_WAIT, |wait| wait.min(EARLY_ANSWER_WAIT)),
        );
        while self.inner.buffers().input().len() < LONGEST_EARLY_ANSWER {
            match self.inner.await_input(timeout) {
                Ok(true) => {}
                _ => break,
            }
        }
        let input = self.inner.buffers().input();
        if input.starts_with(b"HTTP/1.") {
            let kept = input[..input.len().min(LONGEST_EARLY_ANSWER)].to_vec();
            EARLY.set(Some(kept));
        }
    }
}

impl<T: Transport> Transport for EarlyAnswerTransport<T> {
    fn buffers(&mut self) -> &mut dyn Buffers {
        self.inner.buffers()
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), ureq::Error> {
        if !self.service {
            return self.inner.transmit_output(amount, timeout);
        }
        EARLY.set(None);
        let sent = self.inner.transmit_output(amount, timeout);
        if sent.as_ref().is_err_and(may_follow) {
            self.keep_answer(timeout);
        }
        sent
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, ureq::Error> {
        self.inner.await_input(timeout)
    }

    fn is_open(&mut self) -> bool {
        self.inner.is_open()
    }

    fn is_tls(&self) -> bool {
        self.inner.is_tls()
    }
}
