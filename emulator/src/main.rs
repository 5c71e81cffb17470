//! A local, faithful stand-in for the Aspose OCR Cloud v5.0 task API, for tests and benchmarks.

mod api;
mod auth;
mod control;
mod faults;
mod listener;
mod operations;
mod pdf;
mod problem;
mod results;
mod server;
mod stats;
mod tasks;

use std::io::{self, Write};
use std::process::ExitCode;

use clap::Parser;

/// Local stand-in for the Aspose OCR Cloud v5.0 task API.
///
/// Prints `listening on http://HOST:PORT` as its first line, then serves the API
/// (`/connect/token`, `/v5.0/ocr/{Operation}`) and the test controls under `/_emulator/`.
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

    /// How long a task can be fetched, in seconds; after that it answers `NotExist`.
    #[arg(long, value_name = "N", default_value_t = 86_400)]
    pub retention_s: u64,

    /// Largest accepted request body; larger requests get `413`. Also the most bytes that the
    /// `file` and `generate` results of one fixture may hold together (more is `400`).
    #[arg(long, value_name = "N", default_value_t = 512 * 1024 * 1024)]
    pub max_body_bytes: usize,

    /// Print one line per request to stderr (never tokens or secrets).
    #[arg(long)]
    pub verbose: bool,
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
    let listener = tokio::net::TcpListener::bind(&config.listen).await?;
    let address = listener.local_addr()?;
    {
        let mut stdout = io::stdout().lock();
        writeln!(stdout, "listening on http://{address}")?;
        stdout.flush()?;
    }
    server::serve(listener, config).await
}
