//! `ocrcloud`: submits documents to the Aspose.OCR Cloud v5.0 task API, waits for them and saves
//! their results, from the command line. The `ocrcloud` library does the work (HTTP, tokens,
//! polling, decoding, file naming); this program reads arguments and the environment, shows
//! progress and turns failures into exit statuses (see README.md).

mod progress;

use clap::{Args, Parser, Subcommand};
use ocrcloud::auth::Auth;
use ocrcloud::cancel::Cancel;
use ocrcloud::client::{Call, Client, DEFAULT_BASE_URL};
use ocrcloud::error::{Code, Error, Result};
use ocrcloud::files::{FileSink, persist_results};
use ocrcloud::operations::{Document, Operation};
use ocrcloud::poll::{PollOptions, final_outcome, poll_until_done};
use ocrcloud::wire::{Answer, DiscardSink, Sink};
use progress::Progress;
use std::env::VarError;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

/// A failure exits with this plus the library's code: 11 invalid argument ... 24 internal.
const EXIT_BASE: u8 = 10;

#[derive(Parser)]
#[command(
    name = "ocrcloud",
    version,
    about = "Recognizes documents with the Aspose.OCR Cloud task API"
)]
#[command(
    after_help = "Environment: OCR_CLIENT_ID and OCR_CLIENT_SECRET (credentials) or \
    OCR_ACCESS_TOKEN (a fixed token); without them only trial operations work. OCR_BASE_URL: \
    the service.\nExit status: 0 success, 2 usage error, 10 + the library's error code otherwise \
    (see README.md)."
)]
struct Cli {
    /// The service's base URL.
    #[arg(long, global = true, value_name = "URL", env = "OCR_BASE_URL", default_value = DEFAULT_BASE_URL)]
    base_url: String,
    /// The task's operation, in any case: RecognizePdf, RecognizeImage, RecognizeImageTrial, ...
    #[arg(long, global = true, value_name = "OP", default_value = "RecognizePdf", value_parser = operation_named)]
    operation: Operation,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Submits a document and prints the new task's id.
    Submit(Submission),
    /// Prints a task's status with the cheap GetTaskStatus call (Pending, Processing, Completed,
    /// Error or NotExist).
    Status {
        /// The task id.
        id: String,
    },
    /// Polls a task until it is done and prints its final status.
    Wait {
        /// The task id.
        id: String,
        #[command(flatten)]
        poll: PollArgs,
    },
    /// Writes a finished task's results into DIR and prints their paths.
    Fetch {
        /// The task id.
        id: String,
        /// The folder for the results, created if missing.
        #[arg(short, long, value_name = "DIR")]
        output: PathBuf,
    },
    /// Removes a task from the service.
    Cancel {
        /// The task id.
        id: String,
    },
    /// Submits a document, waits for it, writes its results into DIR and prints their paths.
    Run {
        #[command(flatten)]
        submission: Submission,
        /// The folder for the results, created if missing.
        #[arg(short, long, value_name = "DIR")]
        output: PathBuf,
        #[command(flatten)]
        poll: PollArgs,
    },
}

#[derive(Args)]
struct Submission {
    /// The document (for text to speech: a UTF-8 text file).
    file: PathBuf,
    /// The settings as a JSON object, e.g. '{"resultType":"TextAndPdf"}' [default: the
    /// operation's]
    #[arg(long, value_name = "JSON")]
    settings: Option<String>,
}

#[derive(Args)]
struct PollArgs {
    /// Give up after this many seconds (0: never).
    #[arg(long, value_name = "SECONDS", default_value_t = PollOptions::default().timeout.map_or(0, |t| t.as_secs()))]
    timeout: u64,
    /// The first wait between polls; each later wait is 1.5 times longer, up to 10 s.
    #[arg(long, value_name = "N", default_value_t = PollOptions::default().first_interval.as_millis() as u64)]
    interval_ms: u64,
}

impl PollArgs {
    /// The library's poll options with these limits, ended early by `cancel`.
    fn options(&self, cancel: &Arc<Cancel>) -> PollOptions {
        let defaults = PollOptions::default();
        let first_interval = Duration::from_millis(self.interval_ms);
        PollOptions {
            first_interval,
            max_interval: defaults.max_interval.max(first_interval),
            timeout: (self.timeout != 0).then(|| Duration::from_secs(self.timeout)),
            cancel: Some(Arc::clone(cancel)),
            ..defaults
        }
    }
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("ocrcloud: {}", error.message());
            ExitCode::from(exit_status(error.code()))
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    let cancel = Arc::new(Cancel::new());
    cancel_on_ctrl_c(&cancel)?;
    let client = Client::new(Some(&cli.base_url), auth_from_env()?)?;
    let call = Call {
        cancel: Some(&cancel),
        ..Call::default()
    };
    let op = cli.operation;
    match cli.command {
        Command::Submit(submission) => println!("{}", submit(&client, op, &submission, &call)?),
        Command::Status { id } => println!("{}", client.task_status(op, &id, &call)?.task_status),
        Command::Wait { id, poll } => {
            let answer = wait(
                &client,
                op,
                &id,
                &poll.options(&cancel),
                &mut DiscardSink::default(),
            )?;
            println!("{}", answer.task_status);
        }
        Command::Fetch { id, output } => {
            create_dir(&output)?;
            let answer = client.fetch_to_dir(op, &id, &output, &call)?;
            print_paths(&completed(&id, answer)?);
        }
        Command::Cancel { id } => client.cancel_task(op, &id, &call)?,
        Command::Run {
            submission,
            output,
            poll,
        } => {
            create_dir(&output)?;
            let id = submit(&client, op, &submission, &call)?;
            eprintln!("submitted {} as task {id}", submission.file.display());
            let mut sink = FileSink::new(&output)?;
            let answer = wait(&client, op, &id, &poll.options(&cancel), &mut sink)?;
            print_paths(&persist_results(answer, &id, &output)?);
        }
    }
    Ok(())
}

/// The exit status for a failure of kind `code`.
fn exit_status(code: Code) -> u8 {
    EXIT_BASE + code as u8
}

fn operation_named(name: &str) -> std::result::Result<Operation, String> {
    Operation::named(name).map_err(|e| e.message().to_string())
}

/// How to authenticate, from the environment: the credentials `OCR_CLIENT_ID` and
/// `OCR_CLIENT_SECRET` if set, else the fixed token `OCR_ACCESS_TOKEN`, else no token.
fn auth_from_env() -> Result<Auth> {
    match (env_var("OCR_CLIENT_ID")?, env_var("OCR_CLIENT_SECRET")?) {
        (Some(id), Some(secret)) => Auth::credentials(&id, &secret),
        (None, None) => Auth::token(env_var("OCR_ACCESS_TOKEN")?.as_deref()),
        _ => Err(Error::new(
            Code::InvalidArgument,
            "set both OCR_CLIENT_ID and OCR_CLIENT_SECRET, or neither",
        )),
    }
}

/// An environment variable's value; empty counts as unset.
fn env_var(name: &str) -> Result<Option<String>> {
    match std::env::var(name) {
        Ok(value) if !value.is_empty() => Ok(Some(value)),
        Ok(_) | Err(VarError::NotPresent) => Ok(None),
        Err(VarError::NotUnicode(_)) => Err(Error::new(
            Code::InvalidArgument,
            format!("{name} is not UTF-8 text"),
        )),
    }
}

/// Makes Ctrl-C trigger `cancel`, so that the running call or poll ends within milliseconds with
/// the cancelled status. A second Ctrl-C exits at once (for a request that hangs).
fn cancel_on_ctrl_c(cancel: &Arc<Cancel>) -> Result<()> {
    let cancel = Arc::clone(cancel);
    ctrlc::set_handler(move || {
        if cancel.is_triggered() {
            std::process::exit(exit_status(Code::Cancelled).into());
        }
        cancel.trigger();
    })
    .map_err(|e| Error::new(Code::Internal, format!("cannot handle Ctrl-C: {e}")))
}

fn submit(client: &Client, op: Operation, submission: &Submission, call: &Call) -> Result<String> {
    let document = Document::File(&submission.file);
    client.submit(op, document, submission.settings.as_deref(), call)
}

/// Polls a task until it is done, showing progress on stderr; the results go into `sink`.
fn wait<K: Sink>(
    client: &Client,
    op: Operation,
    id: &str,
    options: &PollOptions,
    sink: &mut K,
) -> Result<Answer<K::Data>> {
    let progress = Progress::start(id);
    poll_until_done(client, op, id, options, sink, &mut |id, status, attempt| {
        progress.show(id, status, attempt)
    })
}

/// The answer of a Completed task; other statuses fail as a poll would.
fn completed<D>(id: &str, answer: Answer<D>) -> Result<Answer<D>> {
    let status = answer.task_status.clone();
    final_outcome(id, answer).unwrap_or_else(|| {
        Err(Error::new(
            Code::NotReady,
            format!("task {id} has no results: it is {status}; wait for it first"),
        ))
    })
}

fn create_dir(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir)
        .map_err(|e| Error::new(Code::Io, format!("cannot create {}: {e}", dir.display())))
}

fn print_paths(answer: &Answer<PathBuf>) {
    for result in &answer.results {
        println!("{}", result.data.display());
    }
}
