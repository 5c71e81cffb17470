//! What a client can be tuned with.

use std::sync::Arc;
use std::time::Duration;

/// The tunables of a client. Changes apply to calls that start afterwards.
#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    /// Limit for connecting (DNS, TCP, TLS). Default 10 s.
    pub connect_timeout: Duration,
    /// Limit for each wait for bytes from the server. Default 30 s.
    pub read_timeout: Duration,
    /// Limit for one whole request, body included. Default 300 s.
    pub request_timeout: Duration,
    /// The `User-Agent` header. Default `ocrcloud/<version>`.
    pub user_agent: Arc<str>,
    /// The largest answer accepted, in bytes. Default 1 GiB.
    pub max_response_bytes: u64,
    /// Send to plain `http://` hosts other than loopback. Default false.
    pub allow_insecure_http: bool,
    /// Requests per call when transient failures repeat (1 = no retries). Default 3.
    pub max_attempts: u32,
    /// Connections `poll_many` uses at most. Default 4.
    pub max_connections: u32,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(30),
            request_timeout: Duration::from_secs(300),
            user_agent: Arc::from(concat!("ocrcloud/", env!("CARGO_PKG_VERSION"))),
            max_response_bytes: 1 << 30,
            allow_insecure_http: false,
            max_attempts: 3,
            max_connections: 4,
        }
    }
}
