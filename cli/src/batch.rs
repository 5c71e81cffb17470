//! `ocrcloud batch`: many documents into one output folder, resumable through the library's
//! journal (see docs/cli.md, "Batches").

use crate::batch_display::Display;
use crate::output::note;
use crate::{Failure, PollArgs, exit_status, in_cli_terms};
use clap::{Args, value_parser};
use ocrcloud::batch::any::AnyBatch;
use ocrcloud::batch::inputs::operation_for;
use ocrcloud::batch::journal::Journal;
use ocrcloud::batch::shared::SharedBatch;
use ocrcloud::batch::{Batch, Item, RunOptions, State, default_journal};
use ocrcloud::cancel::Cancel;
use ocrcloud::client::Client;
use ocrcloud::error::{Code, Error, Result};
use ocrcloud::files::{TempFile, save_atomically};
use ocrcloud::operations::Operation;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

/// Exit status when some inputs failed.
const SOME_FAILED: u8 = 3;
/// Exit status after Ctrl-C.
const INTERRUPTED: u8 = 130;

#[derive(Args)]
pub struct BatchArgs {
    /// Requests at once (1 to 256)
    #[arg(long, value_name = "N", default_value_t = 8, value_parser = value_parser!(u16).range(1..=256))]
    jobs: u16,
    /// The journal: an SQLite file [default: DIR/.ocrcloud/journal.sqlite], or a PostgreSQL
    /// database that many workers share, postgresql://USER[:PASSWORD]@HOST[:PORT]/DB (with
    /// --batch)
    #[arg(long, value_name = "FILE|URL")]
    journal: Option<String>,
    /// The name of the shared batch in a PostgreSQL journal
    #[arg(long, value_name = "NAME")]
    batch: Option<String>,
    /// Seconds a shared batch's worker holds an input without renewing its lease; a dead
    /// worker's inputs are taken over after that [default: 60]
    #[arg(long, value_name = "SECONDS", value_parser = value_parser!(u32).range(1..=86400))]
    lease: Option<u32>,
    /// Requests per second at most; for a shared batch, the total of all its workers (each
    /// live worker takes its share)
    #[arg(long, value_name = "R")]
    max_rate: Option<f64>,
    /// The settings of every input, as a JSON object or @FILE holding one [default: the
    /// operation's]
    #[arg(long, value_name = "JSON|@FILE")]
    settings: Option<String>,
    /// Writes one JSON line per input (input, state, task id, outputs, code, message, seconds)
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
    /// The folder for the results, created if missing
    #[arg(short, long, value_name = "DIR", required_unless_present = "status")]
    output: Option<PathBuf>,
    /// Prints the counts per state and the failed inputs of the batch in DIR (of a shared
    /// batch: also its live workers), and nothing else
    #[arg(long, conflicts_with_all = ["jobs", "settings", "report", "inputs"])]
    status: bool,
    /// Files or folders (walked recursively; hidden entries skipped)
    #[arg(value_name = "INPUT", required_unless_present = "status")]
    inputs: Vec<PathBuf>,
    #[command(flatten)]
    poll: PollArgs,
}

/// Runs `ocrcloud batch`; `operation` is `--operation` if given.
pub fn batch(
    args: BatchArgs,
    client: &Client,
    operation: Option<Operation>,
    cancel: &Arc<Cancel>,
) -> std::result::Result<ExitCode, Failure> {
    let shared = args.journal.as_deref().filter(|j| is_database_url(j));
    if shared.is_none() && args.batch.is_some() {
        return Err(
            invalid("--batch names a shared batch: give --journal postgresql://...").into(),
        );
    }
    if let Some(url) = shared {
        let Some(name) = args.batch.as_deref() else {
            return Err(invalid("a PostgreSQL journal needs --batch NAME").into());
        };
        if args.status {
            return shared_status(url, name);
        }
    }
    if args.status && args.output.is_none() {
        return Err(invalid("--status needs --output DIR (or a PostgreSQL --journal)").into());
    }
    let output = args.output.clone().unwrap_or_default();
    let journal_path = args
        .journal
        .as_ref()
        .map(PathBuf::from)
        .unwrap_or_else(|| default_journal(&output));
    if args.status {
        return status(&journal_path);
    }
    if let Some(rate) = args.max_rate {
        if !(rate.is_finite() && rate > 0.0) {
            return Err(
                invalid("--max-rate must be a number of requests per second above 0").into(),
            );
        }
        client.flow().set_max_rate(Some(rate));
    }
    let settings = settings_text(args.settings.as_deref())?;
    if let Some(report) = &args.report {
        probe_report(report)?;
    }
    let mut batch = match (shared, args.batch.as_deref()) {
        (Some(url), Some(name)) => {
            let mut batch = SharedBatch::open(client, url, name, &output)?;
            if let Some(lease) = args.lease {
                batch.set_lease(Duration::from_secs(u64::from(lease)))?;
            }
            batch.cancel_adds_with(Arc::clone(cancel));
            AnyBatch::Shared(Box::new(batch))
        }
        _ => {
            let mut batch = Batch::open(client, Some(&journal_path), &output)?;
            batch.cancel_adds_with(Arc::clone(cancel));
            AnyBatch::Local(Box::new(batch))
        }
    };
    for input in &args.inputs {
        let added = if input.is_dir() {
            batch
                .add_folder(input, operation, settings.as_deref(), &mut |line| {
                    note(line.as_bytes())
                })
                .map(drop)
        } else if input.symlink_metadata().is_err() {
            // Missing: it fails alone, as an unreadable file does. The operation is never used.
            let operation = operation.or_else(|| operation_for(input));
            batch.add_file(
                input,
                None,
                Some(operation.unwrap_or(Operation::RECOGNIZE_PDF)),
                settings.as_deref(),
            )
        } else {
            batch.add_file(input, None, operation, settings.as_deref())
        };
        match added {
            Err(error) if error.code() == Code::Cancelled => {
                note(b"ocrcloud: interrupted while the inputs were read; nothing was submitted");
                return Ok(ExitCode::from(INTERRUPTED));
            }
            other => other.map_err(in_cli_terms)?,
        }
    }
    let options = RunOptions {
        jobs: args.jobs as usize,
        poll: args.poll.options(cancel),
    };
    let display = Display::start(&batch);
    let outcome = batch.run(&options, &mut |index, item| display.show(index, item));
    let interrupted = outcome
        .as_ref()
        .is_err_and(|error| error.code() == Code::Cancelled);
    display.finish(&batch, interrupted);
    if let Some(report) = &args.report {
        write_report(report, batch.items())?;
    }
    match outcome {
        Ok(()) if batch.items().iter().any(|i| i.state() == State::Failed) => {
            Ok(ExitCode::from(SOME_FAILED))
        }
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(error) if error.code() == Code::Cancelled => {
            note(b"ocrcloud: interrupted; the journal keeps every submitted task: run the same command again to go on");
            Ok(ExitCode::from(INTERRUPTED))
        }
        Err(error) => {
            let error = in_cli_terms(error);
            note(format!("ocrcloud: the batch stopped: {}", error.message()).as_bytes());
            Ok(ExitCode::from(exit_status(error.code())))
        }
    }
}

/// Makes sure that the report can be written before anything is submitted.
fn probe_report(report: &Path) -> Result<()> {
    let folder = match report.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    if report.is_dir() {
        return Err(Error::new(
            Code::Io,
            format!("--report {}: a folder", report.display()),
        ));
    }
    TempFile::create_in(folder, "ocrcloud-check")
        .map(drop)
        .map_err(|e| {
            Error::new(
                Code::Io,
                format!("--report {}: {}", report.display(), e.message()),
            )
        })
}

/// `--settings`: the JSON itself, or `@FILE`.
fn settings_text(settings: Option<&str>) -> Result<Option<String>> {
    match settings {
        Some(name) if name.starts_with('@') => std::fs::read_to_string(&name[1..])
            .map(Some)
            .map_err(|e| Error::new(Code::InvalidArgument, format!("--settings {name}: {e}"))),
        other => Ok(other.map(str::to_string)),
    }
}

/// `--status`: counts per state, then one line per failed input.
fn status(journal: &Path) -> std::result::Result<ExitCode, Failure> {
    let rows = Journal::open_read_only(journal)?.rows()?;
    let mut out = String::new();
    for state in State::ALL {
        let n = rows.iter().filter(|r| r.state == state).count();
        out.push_str(&format!("{}\t{n}\n", state.name()));
    }
    for row in rows.iter().filter(|r| r.state == State::Failed) {
        let code = row.code.and_then(Code::from_i32).map_or("?", Code::name);
        out.push_str(&format!(
            "failed\t{}\t{code}\t{}\n",
            row.path,
            row.message.as_deref().unwrap_or("")
        ));
    }
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(out.as_bytes())
        .and_then(|()| stdout.flush())
        .map_err(Failure::output)?;
    Ok(ExitCode::SUCCESS)
}

fn invalid(message: &str) -> Error {
    Error::new(Code::InvalidArgument, message)
}

/// Whether `--journal` names a PostgreSQL database rather than an SQLite file.
fn is_database_url(journal: &str) -> bool {
    journal.starts_with("postgresql://") || journal.starts_with("postgres://")
}

/// `--status` of a shared batch: counts per state, the live workers, the failed inputs.
fn shared_status(url: &str, name: &str) -> std::result::Result<ExitCode, Failure> {
    let status = ocrcloud::batch::shared::status::status(url, name)?;
    let mut out = String::new();
    for (state, n) in &status.counts {
        out.push_str(&format!("{}\t{n}\n", state.name()));
    }
    out.push_str(&format!(
        "possible duplicates\t{}\n",
        status.possible_duplicates
    ));
    out.push_str(&format!("workers\t{}\n", status.workers.len()));
    for w in &status.workers {
        out.push_str(&format!(
            "worker\t{}\t{}\tpid {}\t{} jobs\t{} leases\tseen {:.0} s ago\n",
            w.worker, w.host, w.pid, w.jobs, w.leases, w.seen_ago
        ));
    }
    for f in &status.failed {
        let code = f.code.and_then(Code::from_i32).map_or("?", Code::name);
        out.push_str(&format!("failed\t{}\t{code}\t{}\n", f.input, f.message));
    }
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(out.as_bytes())
        .and_then(|()| stdout.flush())
        .map_err(Failure::output)?;
    Ok(ExitCode::SUCCESS)
}

/// One JSON line per input, written all at once.
fn write_report(path: &Path, items: &[Item]) -> Result<()> {
    let mut text = String::new();
    for item in items {
        let line = serde_json::json!({
            "input": item.path.to_string_lossy(),
            "state": item.state().name(),
            "skipped": item.skipped,
            "task_id": item.row.task_id,
            "outputs": item.row.outputs,
            "code": item.code().map(Code::name),
            "message": item.row.message,
            "seconds": item.seconds(),
            "attempts": item.row.attempts,
            "possible_duplicates": item.row.possible_duplicates,
        });
        text.push_str(&line.to_string());
        text.push('\n');
    }
    save_atomically(path, text.as_bytes())
}
