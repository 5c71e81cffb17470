//! Failure kinds and the error type shared by every module.

use std::ffi::CStr;
use std::fmt;
use std::time::Duration;

/// Why an operation failed. The numeric values are the C contract (`ocr_code`) and never change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum Code {
    /// A NULL, malformed or out-of-range argument; nothing was sent.
    InvalidArgument = 1,
    /// The connection could not be made or broke off.
    Network = 2,
    /// A request or the caller's deadline ran out.
    Timeout = 3,
    /// The server answered an HTTP status that is not a success.
    Http = 4,
    /// The server refused the credentials (401/403, also after one token refresh).
    Unauthorized = 5,
    /// The server's answer does not follow the protocol (malformed JSON, wrong types).
    Protocol = 6,
    /// A result's base64 data is invalid.
    Decode = 7,
    /// The task ended in `Error`.
    TaskFailed = 8,
    /// The task does not exist (wrong id, cancelled, or older than 24 hours).
    TaskNotFound = 9,
    /// The task was still not finished when the attempts ran out.
    NotReady = 10,
    /// The caller cancelled the operation.
    Cancelled = 11,
    /// An answer or a document exceeds a size limit.
    TooLarge = 12,
    /// Reading or writing a local file failed.
    Io = 13,
    /// A bug in this library (a caught panic).
    Internal = 14,
    /// The TLS connection failed: an untrusted, expired or not yet valid certificate, a name
    /// mismatch, a failed handshake. Never retried.
    Tls = 15,
}

impl Code {
    /// Every code, in numeric order.
    pub const ALL: [Code; 15] = [
        Code::InvalidArgument,
        Code::Network,
        Code::Timeout,
        Code::Http,
        Code::Unauthorized,
        Code::Protocol,
        Code::Decode,
        Code::TaskFailed,
        Code::TaskNotFound,
        Code::NotReady,
        Code::Cancelled,
        Code::TooLarge,
        Code::Io,
        Code::Internal,
        Code::Tls,
    ];

    /// The C name of the code, e.g. `OCR_ERR_TIMEOUT`: the one table of code names.
    pub fn c_name(self) -> &'static CStr {
        match self {
            Code::InvalidArgument => c"OCR_ERR_INVALID_ARGUMENT",
            Code::Network => c"OCR_ERR_NETWORK",
            Code::Timeout => c"OCR_ERR_TIMEOUT",
            Code::Http => c"OCR_ERR_HTTP",
            Code::Unauthorized => c"OCR_ERR_UNAUTHORIZED",
            Code::Protocol => c"OCR_ERR_PROTOCOL",
            Code::Decode => c"OCR_ERR_DECODE",
            Code::TaskFailed => c"OCR_ERR_TASK_FAILED",
            Code::TaskNotFound => c"OCR_ERR_TASK_NOT_FOUND",
            Code::NotReady => c"OCR_ERR_NOT_READY",
            Code::Cancelled => c"OCR_ERR_CANCELLED",
            Code::TooLarge => c"OCR_ERR_TOO_LARGE",
            Code::Io => c"OCR_ERR_IO",
            Code::Internal => c"OCR_ERR_INTERNAL",
            Code::Tls => c"OCR_ERR_TLS",
        }
    }

    /// The C name of the code as `&str`.
    pub fn name(self) -> &'static str {
        self.c_name().to_str().unwrap_or_default()
    }

    /// The code with this numeric value, if there is one.
    pub fn from_i32(value: i32) -> Option<Code> {
        Code::ALL.into_iter().find(|code| *code as i32 == value)
    }
}

/// A failure: its kind and a sentence that names what failed.
///
/// Messages never contain tokens or client secrets: text that comes from a server passes through
/// [`crate::secrets::redact`] before it is shortened or reaches the caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    code: Code,
    message: String,
    /// Whether asking again may succeed (connection errors, 429, 502, 503, 504).
    pub(crate) transient: bool,
    /// Whether the server certainly did not act on the request: it was never sent (no
    /// connection, no byte written), or the server refused it unprocessed (429, 503). Only such
    /// failures of a request that is not idempotent (a submission) may be retried.
    pub(crate) unsent: bool,
    /// Whether the request may have reached the server and been acted on: its bytes left and
    /// the exchange failed afterwards, or the server (or a gateway) answered a 5xx other than
    /// 503. For a submission, a task may then exist.
    pub(crate) delivered: bool,
    /// How long the server asked us to wait before asking again (`Retry-After`).
    pub(crate) retry_after: Option<Duration>,
    /// The HTTP status of the answer that failed, if there was one.
    pub(crate) status: Option<u16>,
}

impl Error {
    /// A failure that asking again would not cure.
    pub fn new(code: Code, message: impl Into<String>) -> Error {
        Error {
            code,
            message: message.into(),
            transient: false,
            unsent: false,
            delivered: false,
            retry_after: None,
            status: None,
        }
    }

    /// A failure that may pass if the request is sent again later.
    pub(crate) fn transient(code: Code, message: impl Into<String>) -> Error {
        Error {
            transient: true,
            ..Error::new(code, message)
        }
    }

    /// The kind of failure.
    pub fn code(&self) -> Code {
        self.code
    }

    /// The human-readable reason.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The same failure, marked as certainly not acted on by the server.
    pub(crate) fn unsent(self) -> Error {
        Error {
            unsent: true,
            delivered: false,
            ..self
        }
    }

    /// The same failure, marked as one that the server may have acted on.
    pub(crate) fn delivered(self) -> Error {
        Error {
            delivered: true,
            unsent: false,
            ..self
        }
    }

    /// The same failure with its message passed through `f` (used for redaction and context).
    pub(crate) fn map_message(mut self, f: impl FnOnce(String) -> String) -> Error {
        self.message = f(self.message);
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.name(), self.message)
    }
}

impl std::error::Error for Error {}

/// Shorthand for results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Shorthand for an `InvalidArgument` failure.
pub(crate) fn invalid(message: impl Into<String>) -> Error {
    Error::new(Code::InvalidArgument, message)
}

/// Shorthand for a `Protocol` failure.
pub(crate) fn protocol(message: impl Into<String>) -> Error {
    Error::new(Code::Protocol, message)
}
