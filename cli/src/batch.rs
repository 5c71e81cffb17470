//! `ocrcloud batch`: many documents into one output folder, resumable through the library's
//! journal (see README.md, "Batches").

use crate::output::note;
use crate::{Failure, PollArgs, exit_status};
use clap::{Args, value_parser};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use ocrcloud::batch::journal::Journal;
use ocrcloud::batch::{Batch, Item, RunOptions, State, default_journal};
use ocrcloud::cancel::Cancel;
use ocrcloud::client::Client;
use ocrcloud::error::{Code, Error, Result};
use ocrcloud::files::{TempFile, save_atomically};
use ocrcloud::operations::Operation;
use std::cell::RefCell;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

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
        let meta = std::fs::metadata(input).map_err(|e| {
            Error::new(
                Code::InvalidArgument,
                format!("INPUT {}: {e}", input.display()),
            )
        })?;
        let added = if meta.is_dir() {
            batch
                .add_folder(input, operation, settings.as_deref(), &mut |line| {
                    note(line.as_bytes())
                })
                .map(drop)
        } else {
            batch.add_file(input, None, operation, settings.as_deref())
        };
        match added {
            Err(error) if error.code() == Code::Cancelled => {
                note(b"ocrcloud: interrupted while the inputs were read; nothing was submitted");
                return Ok(ExitCode::from(INTERRUPTED));
            }
            other => other.map_err(with_option_names)?,
        }
    }
    let options = RunOptions {
        jobs: args.jobs as usize,
        poll: args.poll.options(cancel),
    };
    let display = Display::start(&batch);
    let outcome = batch.run(&options, &mut |index, item| display.show(index, item));
    display.finish(&batch);
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

fn with_option_names(error: Error) -> Error {
    match error.code() {
        Code::InvalidArgument => Error::new(
            error.code(),
            error
                .message()
                .replace("settings_json", "--settings")
                .replace("give the operation", "give --operation"),
        ),
        _ => error,
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

fn failure_line(item: &Item) -> String {
    format!(
        "failed {}: {}",
        item.path.display(),
        item.row.message.as_deref().unwrap_or("")
    )
}

/// The progress on stderr: two lines that update on a terminal, one line per finished input
/// otherwise.
struct Display {
    bars: Option<(MultiProgress, ProgressBar, ProgressBar)>,
    started: Instant,
    states: RefCell<Vec<State>>,
    /// Inputs that were completed before this run.
    skipped: usize,
    output_dir: PathBuf,
}

impl Display {
    fn start(batch: &Batch) -> Display {
        let states: Vec<State> = batch.items().iter().map(Item::state).collect();
        let skipped = batch.items().iter().filter(|i| i.skipped).count();
        let bars = std::io::stderr().is_terminal().then(|| {
            let multi = MultiProgress::new();
            let bar = multi.add(ProgressBar::new(states.len() as u64));
            bar.set_style(
                ProgressStyle::with_template("{bar:40} {pos}/{len} finished")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            let line = multi.add(ProgressBar::new_spinner());
            line.enable_steady_tick(Duration::from_millis(200));
            (multi, bar, line)
        });
        let display = Display {
            bars,
            started: Instant::now(),
            states: RefCell::new(states),
            skipped,
            output_dir: batch.output_dir().to_path_buf(),
        };
        // Inputs that failed as they were added (unreadable, empty, ...) fail in this run too.
        for (index, item) in batch.items().iter().enumerate() {
            if item.state() == State::Failed {
                display.show(index, item);
            }
        }
        display.refresh();
        display
    }

    /// Input `index` changed its state to `item.state()`.
    fn show(&self, index: usize, item: &Item) {
        self.states.borrow_mut()[index] = item.state();
        if let Some((multi, _, _)) = &self.bars {
            if item.state() == State::Failed {
                let _ = multi.println(failure_line(item));
            }
            self.refresh();
            return;
        }
        match item.state() {
            State::Completed => {
                let outputs: Vec<String> = item
                    .row
                    .outputs
                    .iter()
                    .map(|o| self.output_dir.join(o).display().to_string())
                    .collect();
                let outputs = outputs.join(" ");
                note(format!("completed {} -> {outputs}", item.path.display()).as_bytes());
            }
            State::Failed => note(failure_line(item).as_bytes()),
            _ => {}
        }
    }

    fn count(&self, wanted: &[State]) -> usize {
        self.states
            .borrow()
            .iter()
            .filter(|s| wanted.contains(s))
            .count()
    }

    fn refresh(&self) {
        let Some((_, bar, line)) = &self.bars else {
            return;
        };
        let done = self.count(&[State::Completed]);
        let failed = self.count(&[State::Failed]);
        let in_flight = self.count(&[State::Submitting, State::Submitted]);
        let left = self.states.borrow().len() - done - failed;
        let finished_now = (done + failed).saturating_sub(self.skipped);
        let rate = finished_now as f64 / self.started.elapsed().as_secs_f64().max(0.001);
        let eta = if rate > 0.0 {
            format!("{:.0} s", left as f64 / rate)
        } else {
            "?".to_string()
        };
        bar.set_position((done + failed) as u64);
        line.set_message(format!(
            "done {done} (skipped {}), failed {failed}, in flight {in_flight}, {rate:.1}/s, ETA {eta}",
            self.skipped
        ));
    }

    /// Ends the display with a summary line.
    fn finish(&self, batch: &Batch) {
        if let Some((_, bar, line)) = &self.bars {
            self.refresh();
            bar.finish();
            line.finish();
        }
        let duplicates: u32 = batch
            .items()
            .iter()
            .map(|i| i.row.possible_duplicates)
            .sum();
        note(
            format!(
                "{} inputs: {} completed ({} before this run), {} failed, {} not finished; {} \
                 possible duplicate submissions; {:.1} s",
                batch.items().len(),
                batch.count(State::Completed),
                self.skipped,
                batch.count(State::Failed),
                batch.items().len() - batch.count(State::Completed) - batch.count(State::Failed),
                duplicates,
                self.started.elapsed().as_secs_f64()
            )
            .as_bytes(),
        );
    }
}
