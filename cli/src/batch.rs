//! `ocrcloud batch`: many documents into one output folder, resumable through the library's
//! journal (see docs/cli.md, "Batches").

use crate::batch_display::Display;
use crate::output::note;
use crate::{Failure, PollArgs, exit_status, in_cli_terms};
use clap::{Args, value_parser};
use ocrcloud::batch::inputs::operation_for;
use ocrcloud::batch::journal::Journal;
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

/// Exit status when some inputs failed.
const SOME_FAILED: u8 = 3;
/// Exit status after Ctrl-C.
const INTERRUPTED: u8 = 130;

#[derive(Args)]
pub struct BatchArgs {
    /// Requests at once (1 to 256)
    #[arg(long, value_name = "N", default_value_t = 8, value_parser = value_parser!(u16).range(1..=256))]
    jobs: u16,
    /// The journal [default: DIR/.ocrcloud/journal.sqlite]
    #[arg(long, value_name = "FILE")]
    journal: Option<PathBuf>,
    /// The settings of every input, as a JSON object or @FILE holding one [default: the
    /// operation's]
    #[arg(long, value_name = "JSON|@FILE")]
    settings: Option<String>,
    /// Writes one JSON line per input (input, state, task id, outputs, code, message, seconds)
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
    /// The folder for the results, created if missing
    #[arg(short, long, value_name = "DIR")]
    output: PathBuf,
    /// Prints the counts per state and the failed inputs of the batch in DIR, and nothing else
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
    let journal_path = args
        .journal
        .clone()
        .unwrap_or_else(|| default_journal(&args.output));
    if args.status {
        return status(&journal_path);
    }
    let settings = settings_text(args.settings.as_deref())?;
    if let Some(report) = &args.report {
        probe_report(report)?;
    }
    let mut batch = Batch::open(client, Some(&journal_path), &args.output)?;
    batch.cancel_adds_with(Arc::clone(cancel));
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
        Ok(()) if batch.count(State::Failed) > 0 => Ok(ExitCode::from(SOME_FAILED)),
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
