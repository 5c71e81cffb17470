//! A local, faithful stand-in for the Aspose OCR Cloud v5.0 task API, for tests and benchmarks.

mod api;
mod auth;
mod control;
mod faults;
mod limits;
mod listener;
mod operations;
mod pdf;
mod problem;
mod results;
mod server;
mod stats;
mod tasks;
mod tls;

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

/// Local stand-in for the Aspose OCR Cloud v5.0 task API.
///
/// Prints `listening on http://HOST:PORT` (`https://` with TLS) as its first line, then serves the
/// API (`/connect/token`, `/v5.0/ocr/{Operation}`) and the test controls under `/_emulator/`.
#[derive(Parser, Debug, Clone)]
#[command(version)]
pub struct Config {
    /// Address to listen on; port 0 picks a free port (IPv6: `[::1]:0`).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    pub listen: String,

    /// Client id accepted by `/connect/token`.
    #[arg(long, value_name = "ID", default_value = "demo")]
    pub client_id: String,

    /// Client secret accepted by `/connect/token`.
    #[arg(long, value_name = "SECRET", default_value = "demo-secret")]
    pub client_secret: String,

    /// Lifetime of an issued access token, in seconds.
    #[arg(long, value_name = "N", default_value_t = 3600)]
    pub token_ttl_s: u64,

    /// Accept API calls without a token.
    #[arg(long)]
    pub no_auth: bool,

    /// How long a new task stays `Pending`, in milliseconds.
    #[arg(long, value_name = "N", default_value_t = 300)]
    pub pending_ms: u64,

    /// How long a task then stays `Processing` before its final status, in milliseconds.
    #[arg(long, value_name = "N", default_value_t = 700)]
    pub processing_ms: u64,

    /// Spread of the processing times: with S above 0, each submitted task stays `Processing`
    /// for a log-normal time whose median is `--processing-ms` and whose logarithm has this
    /// standard deviation, drawn from a stream seeded with `--seed` (the same times, in the
    /// same order of submissions, for the same seed). 0: every task takes `--processing-ms`.
    #[arg(long, value_name = "S", default_value_t = 0.0, value_parser = parse_sigma)]
    pub processing_sigma: f64,

    /// The seed of `--processing-sigma`'s stream.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub seed: u64,

    /// How long a task can be fetched, in seconds; after that it answers `NotExist`.
    #[arg(long, value_name = "N", default_value_t = 86_400)]
    pub retention_s: u64,

    /// Largest accepted request body; larger requests get `413`. Also the most bytes that the
    /// `file` and `generate` results of one fixture may hold together (more is `400`).
    #[arg(long, value_name = "N", default_value_t = 512 * 1024 * 1024)]
    pub max_body_bytes: usize,

    /// Count and throw away the bodies of submissions (POSTs to an operation) unread: each
    /// answers the id of a task that ends in `Error`, and `/_emulator/stats` sums the bytes in
    /// `discarded_bytes`. For upload benchmarks, where parsing and decoding a large body would
    /// cost more than receiving it. `--max-body-bytes` and `--max-open-tasks` do not apply to
    /// them.
    #[arg(long)]
    pub discard_bodies: bool,

    /// At most N API requests per second per token (per client address without a token), in a
    /// sliding window of one second; beyond it `429` with `Retry-After`.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub rate_limit: Option<u32>,

    /// At most N tasks per token that are Pending or Processing; a submission beyond it gets
    /// `429` with `Retry-After: 1`.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_open_tasks: Option<u32>,

    /// Print one line per request to stderr (never tokens or secrets), and failed TLS handshakes.
    #[arg(long)]
    pub verbose: bool,

    /// Serve HTTPS with this PEM certificate chain, leaf first (needs `--tls-key`).
    #[arg(
        long,
        value_name = "FILE",
        requires = "tls_key",
        conflicts_with = "tls_self_signed"
    )]
    pub tls_cert: Option<PathBuf>,

    /// The PEM private key (PKCS#8, PKCS#1 or SEC1) of `--tls-cert`.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,

    /// Serve HTTPS with a fresh CA and a certificate it signs for localhost, 127.0.0.1 and ::1;
    /// the CA certificate (PEM) is written to CA_OUT before the first line is printed.
    #[arg(long, value_name = "CA_OUT")]
    pub tls_self_signed: Option<PathBuf>,
}

/// A spread of at least 0 and at most 5.
fn parse_sigma(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(sigma) if (0.0..=5.0).contains(&sigma) => Ok(sigma),
        _ => Err(format!("{text:?} is not a number from 0 to 5")),
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    match run(Config::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("ocrcloud-emulator: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run(config: Config) -> io::Result<()> {
    // Certificates first: a bad file fails before anything is bound or written.
    let (tls, ca_pem) = match (&config.tls_cert, &config.tls_key, &config.tls_self_signed) {
        (Some(cert), Some(key), _) => (Some(tls::from_files(cert, key)?), None),
        (_, _, Some(_)) => {
            let made = tls::self_signed()?;
            (Some(made.config), Some(made.ca_pem))
        }
        _ => (None, None),
    };
    let listener = tokio::net::TcpListener::bind(&config.listen).await?;
    let address = listener.local_addr()?;
    if let (Some(ca_out), Some(ca_pem)) = (&config.tls_self_signed, &ca_pem) {
        tls::write_atomically(ca_out, ca_pem.as_bytes())?;
    }
    {
        let scheme = if tls.is_some() { "https" } else { "http" };
        let mut stdout = io::stdout().lock();
        writeln!(stdout, "listening on {scheme}://{address}")?;
        stdout.flush()?;
    }
    server::serve(listener, config, tls).await
}
