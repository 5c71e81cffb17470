//! The lean exchange: a request that may be sent twice, with at most a small body in memory
//! (a status or result poll, a DELETE, a token request), on a keep-alive connection of the
//! client's own small pool, without ureq's request machinery.
//!
//! A poll is mostly fixed cost: ureq builds an `http::Request`, runs a state machine with its
//! timeout bookkeeping per step and parses the answer into its own structures, which cost
//! several times what the few system calls and TLS records of a poll cost. This module writes
//! the request head in one piece, parses the answer's head with `httparse` and reads its body
//! (Content-Length, chunked, or until the server closes) straight from the transport's buffer.
//!
//! What it keeps of the full path: the connections are made by the same transports (TCP with
//! cancellable waits, fault steps and the count of written bytes, then rustls, then the early
//! answer layer), with the client's trusted roots; every write and read waits at most the
//! per-read timeout and what is left of the request timeout, both bounded by the call's
//! deadline; a pooled connection is checked ([`Transport::is_open`]) when it comes back and
//! again before its reuse; interim (1xx) answers are skipped; heads are limited like ureq's
//! (size and number of headers); only an HTTP/1.1 answer whose body ended exactly where its
//! framing said, without `Connection: close`, leaves its connection to be reused. A client that
//! goes through a proxy does not use it (the agent's CONNECT tunnels stay in charge).

use crate::early_answer::EarlyAnswerConnector;
use crate::http::CachingResolver;
use crate::transport::TcpConnector;
use std::io::{self, ErrorKind};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};
use ureq::Timeout;
use ureq::http::{Response, StatusCode, Uri, Version, response};
use ureq::unversioned::resolver::Resolver;
use ureq::unversioned::transport::time;
use ureq::unversioned::transport::{
    ConnectionDetails, Connector, NextTimeout, RustlsConnector, Transport,
};

/// The most headers an answer may have (ureq's limit).
const MOST_HEADERS: usize = 128;
/// The longest chunk-size line or trailer line that is read.
const LONGEST_LINE: usize = 4096;

type Connect =
    dyn Fn(&ConnectionDetails) -> Result<Option<Box<dyn Transport>>, ureq::Error> + Send + Sync;

/// The lean exchanges of one client, and their idle connections. Safe to share between
/// threads.
pub struct Lean {
    config: ureq::config::Config,
    resolver: CachingResolver,
    connect: Box<Connect>,
    pool: Arc<Pool>,
}

impl std::fmt::Debug for Lean {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lean").finish_non_exhaustive()
    }
}

/// Idle connections with the `scheme://authority` they reach and when they became idle.
#[derive(Default)]
struct Pool {
    idle: Mutex<Vec<Idle>>,
}

struct Idle {
    origin: String,
    since: Instant,
    transport: Box<dyn Transport>,
}

/// How long one exchange may wait, each already bounded by the call's deadline.
#[derive(Clone, Copy, Debug)]
pub struct Waits {
    /// For a new connection (resolving, TCP, TLS).
    pub connect: Duration,
    /// For each read and each write.
    pub per_io: Duration,
    /// For the whole request, from now until its answer's body is read.
    pub whole: Duration,
}

/// How long one exchange may wait: the end of the whole request, and each read or write.
#[derive(Clone, Copy)]
struct Limits {
    end: Instant,
    per_io: Duration,
}

impl Limits {
    fn next(&self) -> NextTimeout {
        let left = self.end.saturating_duration_since(Instant::now());
        NextTimeout {
            after: left.into(),
            reason: Timeout::Global,
            per_read: Some(self.per_io.into()),
            per_write: Some(self.per_io.into()),
        }
    }
}

/// A malformed answer: reported as a protocol failure, not as a network one.
#[derive(Debug)]
pub struct Malformed(pub String);

impl std::fmt::Display for Malformed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Malformed {}

fn malformed(what: impl Into<String>) -> ureq::Error {
    ureq::Error::Io(io::Error::new(
        ErrorKind::InvalidData,
        Malformed(what.into()),
    ))
}

fn closed_early() -> ureq::Error {
    ureq::Error::Io(ErrorKind::UnexpectedEof.into())
}

impl Lean {
    /// Lean exchanges with the configuration (trusted roots, buffers, idle limits) of an agent
    /// that goes through no proxy.
    pub fn new(config: &ureq::config::Config) -> Lean {
        let chain =
            ().chain(TcpConnector)
                .chain(RustlsConnector::default())
                .chain(EarlyAnswerConnector { proxied: false });
        Lean {
            config: config.clone(),
            resolver: CachingResolver::default(),
            connect: Box::new(move |details| {
                let made = chain.connect(details, None)?;
                Ok(made.map(|transport| Box::new(transport) as Box<dyn Transport>))
            }),
            pool: Arc::default(),
        }
    }

    /// Sends `method url` with these header lines (each ending in CRLF, checked by the caller)
    /// and `body`, and answers the head of the answer, its body read from the connection as the
    /// caller reads, within `waits`.
    pub fn send(
        &self,
        method: &str,
        url: &str,
        headers: &[u8],
        body: &[u8],
        waits: Waits,
    ) -> Result<Response<ureq::Body>, ureq::Error> {
        let started = Instant::now();
        let limits = Limits {
            end: started.checked_add(waits.whole).unwrap_or(started),
            per_io: waits.per_io,
        };
        let (origin, target) = split_url(url)?;
        let mut head = Vec::with_capacity(48 + url.len() + headers.len() + body.len());
        head.extend_from_slice(method.as_bytes());
        head.push(b' ');
        head.extend_from_slice(target.as_bytes());
        head.extend_from_slice(b" HTTP/1.1\r\nHost: ");
        let authority = origin
            .split_once("://")
            .map_or(origin, |(_, authority)| authority);
        head.extend_from_slice(authority.as_bytes());
        head.extend_from_slice(b"\r\n");
        head.extend_from_slice(headers);
        head.extend_from_slice(b"\r\n");
        head.extend_from_slice(body);
        let mut transport = match self.pooled(origin) {
            Some(transport) => transport,
            None => self.open(url, waits.connect.min(waits.whole))?,
        };
        send(&mut *transport, &head, &limits)?;
        let (parts, framing) = read_head(&mut *transport, &limits, &self.config)?;
        let body = BodyReader {
            transport: Some(transport),
            framing,
            limits,
            origin: origin.to_string(),
            pool: Arc::downgrade(&self.pool),
            max_idle: self.config.max_idle_connections_per_host(),
        };
        Ok(Response::from_parts(
            parts,
            ureq::Body::builder().reader(body),
        ))
    }

    /// An idle connection to `origin` that is still open, if any; the others are closed.
    fn pooled(&self, origin: &str) -> Option<Box<dyn Transport>> {
        let max_age = self.config.max_idle_age();
        let mut idle = self.pool.idle.lock().unwrap_or_else(|e| e.into_inner());
        while let Some(position) = idle.iter().rposition(|i| i.origin == origin) {
            let mut candidate = idle.swap_remove(position);
            if candidate.since.elapsed() < max_age && candidate.transport.is_open() {
                return Some(candidate.transport);
            }
        }
        None
    }

    /// A new connection for `url`, made within `timeout`.
    fn open(&self, url: &str, timeout: Duration) -> Result<Box<dyn Transport>, ureq::Error> {
        let uri: Uri = url
            .parse()
            .map_err(|e| ureq::Error::BadUri(format!("{url}: {e}")))?;
        let timeout = |reason| NextTimeout {
            after: timeout.into(),
            reason,
            per_read: Some(timeout.into()),
            per_write: Some(timeout.into()),
        };
        let addrs = self
            .resolver
            .resolve(&uri, &self.config, timeout(Timeout::Resolve))?;
        let details = ConnectionDetails {
            uri: &uri,
            addrs,
            config: &self.config,
            request_level: false,
            resolver: &self.resolver,
            now: time::Instant::now(),
            timeout: timeout(Timeout::Connect),
            current_time: Arc::new(time::Instant::now),
            run_connector: Arc::new(|_| Err(ureq::Error::ConnectionFailed)),
            register_shutdown: Arc::new(|_| Ok(())),
        };
        (self.connect)(&details)?.ok_or(ureq::Error::ConnectionFailed)
    }
}

/// `scheme://authority` and the request target (path and query) of `url`.
fn split_url(url: &str) -> Result<(&str, &str), ureq::Error> {
    let bad = || ureq::Error::BadUri(format!("{url}: not an absolute http(s) URL"));
    let after_scheme = url.find("://").ok_or_else(bad)? + 3;
    let end = url[after_scheme..]
        .find(['/', '?'])
        .map_or(url.len(), |i| after_scheme + i);
    if end == after_scheme {
        return Err(bad());
    }
    let target = &url[end..];
    // A query without a path asks for the root.
    let target = if target.is_empty() { "/" } else { target };
    if !target.starts_with('/') {
        return Err(bad());
    }
    Ok((&url[..end], target))
}

/// Writes `bytes` in pieces of the transport's output buffer.
fn send(transport: &mut dyn Transport, bytes: &[u8], limits: &Limits) -> Result<(), ureq::Error> {
    let mut rest = bytes;
    while !rest.is_empty() {
        let output = transport.buffers().output();
        let n = rest.len().min(output.len());
        output[..n].copy_from_slice(&rest[..n]);
        transport.transmit_output(n, limits.next())?;
        rest = &rest[n..];
    }
    Ok(())
}

/// Waits for more input; `false` when the server closed the connection.
fn more(transport: &mut dyn Transport, limits: &Limits) -> Result<bool, ureq::Error> {
    transport.await_input(limits.next())
}

/// Waits for more of a body; `false` when the server closed the connection, also with a reset
/// (as ureq reads a body: the framing then tells a whole body from a cut one).
fn more_body(transport: &mut dyn Transport, limits: &Limits) -> Result<bool, ureq::Error> {
    match more(transport, limits) {
        Err(ureq::Error::Io(e))
            if matches!(
                e.kind(),
                ErrorKind::UnexpectedEof
                    | ErrorKind::ConnectionAborted
                    | ErrorKind::ConnectionReset
            ) =>
        {
            Ok(false)
        }
        other => other,
    }
}

/// How an answer's body ends, and whether its connection may serve again after it.
#[derive(Debug)]
enum Framing {
    Length {
        left: u64,
        reuse: bool,
    },
    Chunked {
        state: Chunk,
        reuse: bool,
    },
    /// Until the server closes the connection (never reused).
    UntilClose,
}

#[derive(Debug, Clone, Copy)]
enum Chunk {
    Size,
    Data(u64),
    /// The line end after a chunk's data.
    DataEnd,
    Trailers,
}

/// Reads the head of the final answer (skipping interim ones) and answers it with how its
/// body is framed.
fn read_head(
    transport: &mut dyn Transport,
    limits: &Limits,
    config: &ureq::config::Config,
) -> Result<(response::Parts, Framing), ureq::Error> {
    let longest = config.max_response_header_size();
    loop {
        let input = transport.buffers().input();
        if !input.is_empty() {
            let mut headers = [httparse::EMPTY_HEADER; MOST_HEADERS];
            let mut parsed = httparse::Response::new(&mut headers);
            match parsed.parse(input) {
                Ok(httparse::Status::Complete(used)) => {
                    let code = parsed.code.unwrap_or(0);
                    if (100..200).contains(&code) {
                        if code == 101 {
                            return Err(malformed("a 101 Switching Protocols nobody asked for"));
                        }
                        transport.buffers().input_consume(used);
                        continue;
                    }
                    let head = head_of(&parsed)?;
                    transport.buffers().input_consume(used);
                    return Ok(head);
                }
                Ok(httparse::Status::Partial) if input.len() >= longest => {
                    return Err(ureq::Error::LargeResponseHeader(input.len(), longest));
                }
                Ok(httparse::Status::Partial) => {}
                Err(e) => return Err(malformed(format!("the answer's head: {e}"))),
            }
        }
        if !more(transport, limits)? {
            return Err(closed_early());
        }
    }
}

/// The parts of a parsed final answer and its framing (RFC 9112, section 6.3).
fn head_of(parsed: &httparse::Response) -> Result<(response::Parts, Framing), ureq::Error> {
    let status = StatusCode::from_u16(parsed.code.unwrap_or(0))
        .map_err(|_| malformed("an answer without a valid status"))?;
    let mut builder = Response::builder()
        .status(status)
        .version(if parsed.version == Some(0) {
            Version::HTTP_10
        } else {
            Version::HTTP_11
        });
    let mut reuse = parsed.version == Some(1);
    let mut chunked = None;
    let mut length: Option<u64> = None;
    let mut coded = false;
    for header in parsed.headers.iter() {
        let name = header.name;
        if name.eq_ignore_ascii_case("connection") {
            if contains_token(header.value, b"close") {
                reuse = false;
            }
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            coded = true;
            // `identity` is no coding (as ureq reads it): a length beside it still frames the
            // body, which is not then read until a close that may never come.
            let last = header
                .value
                .split(|&b| b == b',')
                .map(<[u8]>::trim_ascii)
                .rfind(|coding| !coding.is_empty() && !coding.eq_ignore_ascii_case(b"identity"));
            if let Some(last) = last {
                chunked = Some(last.eq_ignore_ascii_case(b"chunked"));
            }
        } else if name.eq_ignore_ascii_case("content-length") {
            for value in header.value.split(|&b| b == b',') {
                let value = std::str::from_utf8(value.trim_ascii())
                    .ok()
                    .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
                    .and_then(|v| v.parse::<u64>().ok())
                    .ok_or_else(|| malformed("content-length header not a number"))?;
                if length.is_some_and(|earlier| earlier != value) {
                    return Err(malformed("conflicting content-length headers"));
                }
                length = Some(value);
            }
        }
        builder = builder.header(name, header.value);
    }
    let no_body = status == StatusCode::NO_CONTENT || status == StatusCode::NOT_MODIFIED;
    let framing = match (chunked, length) {
        _ if no_body => Framing::Length { left: 0, reuse },
        // A length beside a transfer coding may be a smuggling attempt: the connection ends
        // with this answer.
        (Some(true), length) => Framing::Chunked {
            state: Chunk::Size,
            reuse: reuse && length.is_none(),
        },
        (Some(false), _) => Framing::UntilClose,
        // A length beside a transfer coding line, even `identity`: not reused either.
        (None, Some(left)) => Framing::Length {
            left,
            reuse: reuse && !coded,
        },
        (None, None) => Framing::UntilClose,
    };
    let (parts, ()) = builder
        .body(())
        .map_err(|e| malformed(format!("the answer's head: {e}")))?
        .into_parts();
    Ok((parts, framing))
}

/// Whether a comma-separated header value holds `token` (any case).
fn contains_token(value: &[u8], token: &[u8]) -> bool {
    value
        .split(|&b| b == b',')
        .any(|item| item.trim_ascii().eq_ignore_ascii_case(token))
}

/// The body of a lean answer, read from its connection; the connection goes back to the pool
/// when the body ended as framed (and nothing followed it), and is closed otherwise (also when
/// the reader is dropped before the end).
struct BodyReader {
    transport: Option<Box<dyn Transport>>,
    framing: Framing,
    limits: Limits,
    origin: String,
    pool: Weak<Pool>,
    max_idle: usize,
}

impl BodyReader {
    /// Ends the body: the connection is kept for reuse if `reuse` and it is still open.
    fn finish(&mut self, reuse: bool) {
        let Some(mut transport) = self.transport.take() else {
            return;
        };
        // The check right after a read needs no system call; the one before reuse peeks.
        if !reuse
            || !transport.buffers().input().is_empty()
            || !transport.is_open()
            || !nothing_more(&mut *transport)
        {
            return;
        }
        if let Some(pool) = self.pool.upgrade() {
            let mut idle = pool.idle.lock().unwrap_or_else(|e| e.into_inner());
            if idle.len() < self.max_idle {
                idle.push(Idle {
                    origin: std::mem::take(&mut self.origin),
                    since: Instant::now(),
                    transport,
                });
            }
        }
    }

    /// Copies at most `left` bytes of input into `buf`, waiting for input if there is none;
    /// `None` when the server closed the connection first.
    fn copy(&mut self, buf: &mut [u8], left: u64) -> Result<Option<usize>, ureq::Error> {
        let Some(transport) = self.transport.as_deref_mut() else {
            return Ok(None);
        };
        while transport.buffers().input().is_empty() {
            if !more_body(transport, &self.limits)? {
                return Ok(None);
            }
        }
        let input = transport.buffers().input();
        let n = input
            .len()
            .min(buf.len())
            .min(usize::try_from(left).unwrap_or(usize::MAX));
        buf[..n].copy_from_slice(&input[..n]);
        transport.buffers().input_consume(n);
        Ok(Some(n))
    }

    /// The next line of input (a chunk size or a trailer), consumed with its CRLF.
    fn line(&mut self) -> Result<Vec<u8>, ureq::Error> {
        self.line_or_close()?.ok_or_else(closed_early)
    }

    /// The next line of input, or `None` when the server closed the connection first.
    fn line_or_close(&mut self) -> Result<Option<Vec<u8>>, ureq::Error> {
        let Some(transport) = self.transport.as_deref_mut() else {
            return Ok(None);
        };
        loop {
            let input = transport.buffers().input();
            if let Some(end) = memchr::memchr(b'\n', input) {
                let line = input[..end].strip_suffix(b"\r").unwrap_or(&input[..end]);
                let line = line.to_vec();
                transport.buffers().input_consume(end + 1);
                return Ok(Some(line));
            }
            if input.len() > LONGEST_LINE {
                return Err(malformed("a chunk size or trailer line is too long"));
            }
            if !more_body(transport, &self.limits)? {
                return Ok(None);
            }
        }
    }

    fn read_body(&mut self, buf: &mut [u8]) -> Result<usize, ureq::Error> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            match self.framing {
                Framing::UntilClose => {
                    let n = self.copy(buf, u64::MAX)?.unwrap_or(0);
                    if n == 0 {
                        self.transport = None;
                    }
                    return Ok(n);
                }
                Framing::Length { left: 0, reuse } => {
                    self.finish(reuse);
                    return Ok(0);
                }
                Framing::Length { left, reuse } => {
                    let n = self.copy(buf, left)?.ok_or_else(closed_early)?;
                    self.framing = Framing::Length {
                        left: left - n as u64,
                        reuse,
                    };
                    if left == n as u64 {
                        self.finish(reuse);
                    }
                    return Ok(n);
                }
                Framing::Chunked { state, reuse } => {
                    let next = match state {
                        Chunk::Size => {
                            let line = self.line()?;
                            let size = chunk_size(&line)?;
                            if size == 0 {
                                Chunk::Trailers
                            } else {
                                Chunk::Data(size)
                            }
                        }
                        Chunk::Data(left) => {
                            let n = self.copy(buf, left)?.ok_or_else(closed_early)?;
                            let left = left - n as u64;
                            self.framing = Framing::Chunked {
                                state: if left == 0 {
                                    Chunk::DataEnd
                                } else {
                                    Chunk::Data(left)
                                },
                                reuse,
                            };
                            return Ok(n);
                        }
                        Chunk::DataEnd => {
                            if !self.line()?.is_empty() {
                                return Err(malformed("a chunk longer than its size"));
                            }
                            Chunk::Size
                        }
                        Chunk::Trailers => match self.line_or_close()? {
                            Some(line) if !line.is_empty() => Chunk::Trailers,
                            // The empty line that ends the trailers, or a close before it: the
                            // data was all there (ureq accepts a close right after the last
                            // chunk too); a closed connection is not kept.
                            ended => {
                                self.finish(reuse && ended.is_some());
                                self.framing = Framing::Length { left: 0, reuse };
                                return Ok(0);
                            }
                        },
                    };
                    self.framing = Framing::Chunked { state: next, reuse };
                }
            }
        }
    }
}

/// Whether the connection's layers hold nothing more after an answer: no input, and no end
/// seen. A TLS layer may have read the server's `close_notify` with the answer's last record
/// (the socket then looks idle and open) or hold more of its records; a read that may not wait
/// asks it without a system call (TCP fails such a read before touching the socket).
fn nothing_more(transport: &mut dyn Transport) -> bool {
    let no_wait = NextTimeout {
        after: Duration::ZERO.into(),
        reason: Timeout::Global,
        per_read: None,
        per_write: None,
    };
    match transport.await_input(no_wait) {
        Err(ureq::Error::Timeout(_)) => true,
        Err(ureq::Error::Io(e)) => e.kind() == ErrorKind::TimedOut,
        _ => false,
    }
}

/// The size of a chunk-size line (hexadecimal, extensions after `;` ignored).
fn chunk_size(line: &[u8]) -> Result<u64, ureq::Error> {
    let digits = line
        .split(|&b| b == b';')
        .next()
        .unwrap_or(b"")
        .trim_ascii();
    let text = std::str::from_utf8(digits).unwrap_or("");
    if text.is_empty() || text.len() > 16 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(malformed("an invalid chunk size"));
    }
    u64::from_str_radix(text, 16).map_err(|_| malformed("an invalid chunk size"))
}

impl io::Read for BodyReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.read_body(buf).map_err(|e| match e {
            ureq::Error::Io(e) => e,
            e => e.into_io(),
        })
    }
}

impl std::fmt::Debug for BodyReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BodyReader")
            .field("framing", &self.framing)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_urls_into_origin_and_target() {
        assert_eq!(
            split_url("https://h:1/v5.0/ocr/X?id=a").unwrap(),
            ("https://h:1", "/v5.0/ocr/X?id=a")
        );
        assert_eq!(split_url("http://h").unwrap(), ("http://h", "/"));
        for bad in ["h/x", "http:///x", "http://h?id=1"] {
            assert!(split_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn reads_chunk_sizes_and_refuses_what_is_not_one() {
        assert_eq!(chunk_size(b"1a").unwrap(), 26);
        assert_eq!(chunk_size(b"0;ext=1").unwrap(), 0);
        assert_eq!(chunk_size(b"ffffffffffffffff").unwrap(), u64::MAX);
        for bad in [&b""[..], b"x", b"-1", b"10000000000000000", b" "] {
            assert!(chunk_size(bad).is_err(), "{bad:?}");
        }
    }
}
