//! A loopback HTTP server for hostile tests: plain `std::net` threads that write exactly the
//! bytes a test gives them, so every byte the client reads is under the test's control. It
//! records every connection and request it receives. Shared by several test crates, each of
//! which uses a part of it.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long a connection that holds or drips waits for the client before giving up itself.
const PATIENCE: Duration = Duration::from_secs(60);

/// What the server does after writing an answer's bytes.
#[derive(Clone, Debug)]
pub enum Then {
    /// Reads the next request on the same connection (keep-alive).
    KeepAlive,
    /// Closes the connection.
    Close,
    /// Keeps the connection open and silent until the client closes it.
    Hold,
    /// Aborts the connection with a TCP reset (RST), dropping unsent bytes.
    Reset,
    /// Sends these bytes again and again, with this pause in between, forever.
    Drip(Vec<u8>, Duration),
}

/// Makes an answer's bytes at the moment it is sent (for dates relative to that moment).
type Maker = Arc<dyn Fn() -> Vec<u8> + Send + Sync>;

/// One answer: raw bytes (all of them, or only the first `cut` bytes), then what happens to the
/// connection.
#[derive(Clone)]
pub struct Reply {
    bytes: Arc<[u8]>,
    made_when_sent: Option<Maker>,
    cut: Option<usize>,
    before_the_body: bool,
    /// Sent after `100 Continue` and this many bytes of the body, the rest left unread.
    after_reading: Option<usize>,
    then: Then,
}

impl Reply {
    /// Exactly these bytes, then the connection waits for the next request.
    pub fn raw(bytes: impl Into<Vec<u8>>) -> Reply {
        Reply {
            bytes: bytes.into().into(),
            made_when_sent: None,
            cut: None,
            before_the_body: false,
            after_reading: None,
            then: Then::KeepAlive,
        }
    }

    /// The answer `make` gives at the moment it is sent.
    pub fn made_when_sent(make: impl Fn() -> Reply + Send + Sync + 'static) -> Reply {
        Reply {
            made_when_sent: Some(Arc::new(move || make().bytes.to_vec())),
            ..Reply::raw("")
        }
    }

    /// Accepts the request and says nothing at all, keeping the connection open.
    pub fn silence() -> Reply {
        Reply::raw("").then(Then::Hold)
    }

    /// The same bytes, followed by `then`.
    pub fn then(self, then: Then) -> Reply {
        Reply { then, ..self }
    }

    /// Sent as soon as the request's head arrived, without reading its body.
    pub fn before_the_body(self) -> Reply {
        Reply {
            before_the_body: true,
            ..self
        }
    }

    /// Sent after `100 Continue` (if the request expects it) and the first `bytes` bytes of the
    /// body, as a server with a size limit does; the rest of the body is left unread.
    pub fn after_reading(self, bytes: usize) -> Reply {
        Reply {
            after_reading: Some(bytes),
            ..self
        }
    }

    /// Only the first `bytes` bytes.
    pub fn cut(self, bytes: usize) -> Reply {
        Reply {
            cut: Some(bytes),
            ..self
        }
    }

    /// The bytes of the answer.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Writes the answer; answers whether the connection can serve another request.
    fn send(&self, mut stream: &TcpStream) -> bool {
        let made = self.made_when_sent.as_ref().map(|make| make());
        let bytes = made.as_deref().unwrap_or(&self.bytes);
        let bytes = &bytes[..self.cut.unwrap_or(bytes.len()).min(bytes.len())];
        if stream.write_all(bytes).is_err() {
            return false;
        }
        match &self.then {
            Then::KeepAlive => true,
            Then::Close => {
                let _ = stream.shutdown(Shutdown::Both);
                false
            }
            Then::Hold => {
                wait_until_closed(stream);
                false
            }
            Then::Reset => {
                let _ = socket2::SockRef::from(stream).set_linger(Some(Duration::ZERO));
                false
            }
            Then::Drip(piece, pause) => {
                let started = Instant::now();
                while started.elapsed() < PATIENCE && stream.write_all(piece).is_ok() {
                    std::thread::sleep(*pause);
                }
                false
            }
        }
    }
}

/// Reads (and ignores) whatever the client still sends until it closes the connection.
fn wait_until_closed(mut stream: &TcpStream) {
    let _ = stream.set_read_timeout(Some(PATIENCE));
    let mut sink = [0u8; 1024];
    while matches!(stream.read(&mut sink), Ok(n) if n > 0) {}
}

/// An HTTP/1.1 answer with the given status line tail (`"200 OK"`), headers and body. A
/// `Content-Length` is added unless the headers frame the body themselves.
pub fn http(status: &str, headers: &[(&str, &str)], body: impl AsRef<[u8]>) -> Reply {
    let body = body.as_ref();
    let mut head = format!("HTTP/1.1 {status}\r\n");
    for (name, value) in headers {
        head += &format!("{name}: {value}\r\n");
    }
    let framed = headers.iter().any(|(name, _)| {
        name.eq_ignore_ascii_case("content-length")
            || name.eq_ignore_ascii_case("transfer-encoding")
    });
    if !framed {
        head += &format!("Content-Length: {}\r\n", body.len());
    }
    head += "\r\n";
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(body);
    Reply::raw(bytes)
}

/// `200 OK` with `Content-Type: application/json` and this body.
pub fn json(body: impl AsRef<[u8]>) -> Reply {
    http("200 OK", &[("Content-Type", "application/json")], body)
}

/// The head of one request as the server received it (its body is read and dropped).
#[derive(Clone, Debug)]
pub struct Request {
    /// The request target: path and query.
    pub target: String,
    /// Header names in lower case, with their values.
    pub headers: Vec<(String, String)>,
}

impl Request {
    /// The path without the query.
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or("")
    }

    /// The value of a header (the name in lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Default)]
struct Log {
    connections: usize,
    /// Connections whose serving ended (closed by the server, or left by the client).
    ended: usize,
    requests: Vec<Request>,
}

/// Chooses the reply to a request, given how many earlier requests had the same path.
pub type Answerer = dyn Fn(&Request, usize) -> Reply + Send + Sync;

/// A server on a loopback port; dropping it closes its listening socket.
pub struct Server {
    /// `http://127.0.0.1:PORT`
    pub url: String,
    address: SocketAddr,
    log: Arc<Mutex<Log>>,
    stopped: Arc<AtomicBool>,
    accepting: Option<JoinHandle<()>>,
}

impl Server {
    /// Starts a server on a free port that answers each request with
    /// `answer(request, earlier_on_same_path)`.
    pub fn start(answer: impl Fn(&Request, usize) -> Reply + Send + Sync + 'static) -> Server {
        Server::start_on("127.0.0.1:0", answer)
    }

    /// Starts a server on `address` (e.g. the port of an emulator that was killed).
    pub fn start_on(
        address: &str,
        answer: impl Fn(&Request, usize) -> Reply + Send + Sync + 'static,
    ) -> Server {
        let listener = TcpListener::bind(address).expect("a loopback port");
        let address = listener.local_addr().unwrap();
        let log = Arc::new(Mutex::new(Log::default()));
        let stopped = Arc::new(AtomicBool::new(false));
        let answer: Arc<Answerer> = Arc::new(answer);
        let (accept_log, accept_stopped) = (Arc::clone(&log), Arc::clone(&stopped));
        let accepting = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if accept_stopped.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(stream) = stream else { continue };
                accept_log.lock().unwrap().connections += 1;
                let (log, answer) = (Arc::clone(&accept_log), Arc::clone(&answer));
                std::thread::spawn(move || {
                    serve(stream, &log, &*answer);
                    log.lock().unwrap().ended += 1;
                });
            }
        });
        Server {
            url: format!("http://{address}"),
            address,
            log,
            stopped,
            accepting: Some(accepting),
        }
    }

    /// Starts a server that answers every request with the same reply.
    pub fn always(reply: Reply) -> Server {
        Server::start(move |_, _| reply.clone())
    }

    /// The requests received so far, in order.
    pub fn requests(&self) -> Vec<Request> {
        self.log.lock().unwrap().requests.clone()
    }

    /// How many connections were accepted so far.
    pub fn connections(&self) -> usize {
        self.log.lock().unwrap().connections
    }

    /// Waits until the server is done with every connection it accepted (after `Then::Close`,
    /// its shutdown has been sent), so that a client's next request cannot race the close.
    pub fn wait_until_every_connection_ended(&self) {
        let started = Instant::now();
        loop {
            let log = self.log.lock().unwrap();
            if log.ended == log.connections {
                return;
            }
            drop(log);
            assert!(started.elapsed() < PATIENCE, "a connection never ended");
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stopped.store(true, Ordering::SeqCst);
        // Wakes the accepting thread so that it sees the flag, ends and closes the listener.
        let _ = TcpStream::connect(self.address);
        if let Some(accepting) = self.accepting.take() {
            let _ = accepting.join();
        }
    }
}

fn serve(stream: TcpStream, log: &Mutex<Log>, answer: &Answerer) {
    let Ok(read_half) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(read_half);
    while let Some(request) = read_request(&mut reader) {
        let earlier = {
            let mut log = log.lock().unwrap();
            let earlier = log
                .requests
                .iter()
                .filter(|r| r.path() == request.path())
                .count();
            log.requests.push(request.clone());
            earlier
        };
        let reply = answer(&request, earlier);
        if let Some(bytes) = reply.after_reading {
            if request.header("expect") == Some("100-continue") {
                let _ = (&stream).write_all(b"HTTP/1.1 100 Continue\r\n\r\n");
            }
            let limited = (&mut reader).take(bytes as u64);
            if std::io::copy(&mut { limited }, &mut std::io::sink()).is_err() {
                return;
            }
        } else if !reply.before_the_body && !skip_body(&mut reader, &request) {
            return;
        }
        if !reply.send(&stream) {
            return;
        }
    }
}

/// Reads and drops a request's `Content-Length` body; false if the client is gone.
fn skip_body(reader: &mut BufReader<TcpStream>, request: &Request) -> bool {
    let length = request
        .header("content-length")
        .and_then(|value| value.parse().ok())
        .unwrap_or(0u64);
    std::io::copy(&mut reader.take(length), &mut std::io::sink()).is_ok()
}

/// Reads the head of one request; `None` when the client is gone.
fn read_request(reader: &mut BufReader<TcpStream>) -> Option<Request> {
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let target = line.split_whitespace().nth(1)?.to_string();
    let mut headers = Vec::new();
    loop {
        line.clear();
        reader.read_line(&mut line).ok()?;
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        let (name, value) = header.split_once(':')?;
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
    }
    Some(Request { target, headers })
}
