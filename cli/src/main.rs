//! `ocrcloud`: submits documents to the Aspose.OCR Cloud v5.0 task API, waits for them and saves
//! their results, from the command line. The `ocrcloud` library does the work (HTTP, tokens,
//! polling, decoding, file naming); this program reads arguments and the environment, shows
//! progress and turns failures into exit statuses (see README.md).

mod batch;
mod batch_display;
#[cfg(test)]
mod exit_statuses;
mod output;
mod platform;
mod progress;
mod run_output;

use clap::{Args, Parser, Subcommand, value_parser};
use ocrcloud::auth::Auth;
use ocrcloud::batch::inputs::operation_for;
use ocrcloud::cancel::Cancel;
use ocrcloud::client::{Call, Client};
use ocrcloud::error::{Code, Error, Result};
use ocrcloud::files::{FileSink, TempFile, persist_results_named};
use ocrcloud::operations::{Document, Operation};
use ocrcloud::poll::{PollOptions, final_outcome, poll_until_done};
use ocrcloud::tls::{self, ProxyChoice};
use ocrcloud::wire::{Answer, DiscardSink, Sink};
use output::{Stdout, note};
use platform::{Signal, die_by, stdout_problem};
use progress::Progress;
use std::env::VarError;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

/// A failure exits with this plus the library's code: 11 invalid argument ... 24 internal.
const EXIT_BASE: u8 = 10;

/// The largest `--timeout` (about 136 years): a deadline that far away is still representable.
const MAX_TIMEOUT_SECONDS: u64 = u32::MAX as u64;
/// The largest `--interval-ms` (about 49 days).
const MAX_INTERVAL_MS: u64 = u32::MAX as u64;

#[derive(Parser)]
#[command(
    name = "ocrcloud",
    version,
    about = "Recognizes documents with the Aspose.OCR Cloud task API"
)]
#[command(
    after_help = "Environment: OCR_CLIENT_ID and OCR_CLIENT_SECRET (credentials) or \
    OCR_ACCESS_TOKEN (a fixed token); without them only trial operations work. OCR_BASE_URL: \
    the service. OCR_CA_FILE: a CA to trust (--ca-file). HTTPS_PROXY, HTTP_PROXY, ALL_PROXY, \
    NO_PROXY: the proxy (--proxy). Empty variables count as unset.\nExit status: 0 success, 2 \
    usage error, 10 + the library's error code otherwise, death by SIGPIPE when stdout's reader \
    has gone, by SIGINT on Ctrl-C (on Windows: exit 141 and 130; see README.md)."
)]
struct Cli {
    /// The service's base URL [default: $OCR_BASE_URL, else https://api.aspose.cloud]
    #[arg(long, global = true, value_name = "URL")]
    base_url: Option<String>,
    /// The task's operation, in any case: RecognizePdf, RecognizeImage, RecognizeImageTrial, ...
    /// [default: for `submit`, `run` and `batch`, by each file's extension (.pdf: RecognizePdf;
    /// .png .jpg .jpeg .tif .tiff .bmp .gif: RecognizeImage); otherwise RecognizePdf]
    #[arg(long, global = true, value_name = "OP", value_parser = operation_named)]
    operation: Option<Operation>,
    /// End each record on stdout (an id, a status, a path) with a NUL byte instead of a
    /// newline, for `xargs -0` and paths that hold newlines.
    #[arg(long, global = true)]
    print0: bool,
    /// Also trust the CA certificates in this PEM file, besides the system's
    /// [default: $OCR_CA_FILE]
    #[arg(long, global = true, value_name = "FILE")]
    ca_file: Option<PathBuf>,
    /// The proxy: http://host:port or https://... (user:password@ for Basic authentication);
    /// "" for none [default: $HTTPS_PROXY, $HTTP_PROXY or $ALL_PROXY, with $NO_PROXY]
    #[arg(long, global = true, value_name = "URL")]
    proxy: Option<String>,
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
        /// The folder for the results, created if missing; they are named after FILE
        /// (DIR/<stem>.<ext>).
        #[arg(short, long, value_name = "DIR")]
        output: PathBuf,
        /// Replace result files that are already in DIR (without it, a name in use is refused
        /// before anything is sent).
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        poll: PollArgs,
    },
    /// Processes many documents into DIR, resumably: a journal in DIR remembers every
    /// submitted task, so that running the same command again after a crash or Ctrl-C goes on
    /// where it stopped and never submits a recorded task again. Exit status: 0 all done, 3 some
    /// inputs failed, 130 interrupted, 2 usage, 10 + the library's code when the whole batch
    /// failed.
    Batch(batch::BatchArgs),
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
pub(crate) struct PollArgs {
    /// Give up after this many seconds (0: never; at most 4294967295).
    #[arg(long, value_name = "SECONDS", default_value_t = PollOptions::default().timeout.map_or(0, |t| t.as_secs()),
          value_parser = value_parser!(u64).range(..=MAX_TIMEOUT_SECONDS))]
    timeout: u64,
    /// The first wait between polls in milliseconds (1 to 4294967295); each later wait is 1.5
    /// times longer, up to 5 s (or this, if it is longer). Any value but the default keeps this
    /// fixed schedule; with the default, polls learn from the tasks they see.
    #[arg(long, value_name = "N", default_value_t = PollOptions::default().first_interval.as_millis() as u64,
          value_parser = value_parser!(u64).range(1..=MAX_INTERVAL_MS))]
    interval_ms: u64,
}

impl PollArgs {
    /// The library's poll options with these limits, ended early by `cancel`.
    pub(crate) fn options(&self, cancel: &Arc<Cancel>) -> PollOptions {
        let defaults = PollOptions::default();
        let first_interval = Duration::from_millis(self.interval_ms);
        PollOptions {
            // An interval other than the default is a fixed schedule; the default learns.
            learn: first_interval == defaults.first_interval,
            first_interval,
            max_interval: defaults.max_interval.max(first_interval),
            timeout: (self.timeout != 0).then(|| Duration::from_secs(self.timeout)),
            cancel: Some(Arc::clone(cancel)),
            ..defaults
        }
    }
}

/// How a command failed.
pub(crate) enum Failure {
    /// A library call, or a check before one.
    Call(Error),
    /// stdout could not be written; the work itself was done.
    Output {
        error: std::io::Error,
        /// The id of a submitted task that was not printed.
        lost_id: Option<String>,
    },
}

impl From<Error> for Failure {
    fn from(error: Error) -> Failure {
        Failure::Call(error)
    }
}

impl Failure {
    fn output(error: std::io::Error) -> Failure {
        Failure::Output {
            error,
            lost_id: None,
        }
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(answer) => return print_parse_answer(answer),
    };
    let cancel = Arc::new(Cancel::new());
    let is_batch = matches!(cli.command, Command::Batch(_));
    let outcome = cancel_on_ctrl_c(&cancel)
        .map_err(Failure::from)
        .and_then(|()| run(cli, &cancel));
    let status = outcome.unwrap_or_else(report);
    // After the cleanup (temporary files are gone), so that a shell loop stops as well. A
    // batch exits with its documented status instead.
    if cancel.is_triggered() && !is_batch {
        die_by(Signal::Interrupt);
    }
    status
}

/// What clap answers instead of a command line: a usage error, on stderr with status 2, or the
/// help or the version, on stdout, which fail as every command's output does (clap's own exit
/// ignores a failed write).
fn print_parse_answer(answer: clap::Error) -> ExitCode {
    if answer.use_stderr() {
        let _ = answer.print();
        return ExitCode::from(u8::try_from(answer.exit_code()).unwrap_or(2));
    }
    if let Some(problem) = stdout_problem() {
        return report(unusable_stdout(problem).into());
    }
    match answer
        .print()
        .and_then(|()| std::io::Write::flush(&mut std::io::stdout()))
    {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => report(Failure::Output {
            error,
            lost_id: None,
        }),
    }
}

/// The failure of a command run with an unusable stdout (see [`stdout_problem`]).
fn unusable_stdout(problem: &str) -> Error {
    Error::new(
        Code::Io,
        format!(
            "{problem}, so nothing could be printed; redirect it to /dev/null to discard the \
             output"
        ),
    )
}

/// Tells what failed on stderr and answers the exit status; dies by SIGPIPE, quietly, when
/// stdout's reader has gone (a lost task id is still printed on stderr).
fn report(failure: Failure) -> ExitCode {
    match failure {
        Failure::Call(error) => {
            let error = in_cli_terms(error);
            note(format!("ocrcloud: {}", error.message()).as_bytes());
            ExitCode::from(exit_status(error.code()))
        }
        Failure::Output { error, lost_id } => {
            let broken_pipe = error.kind() == std::io::ErrorKind::BrokenPipe;
            match lost_id {
                Some(id) => note(
                    format!("ocrcloud: task {id} was submitted, but its id could not be written to stdout: {error}")
                        .as_bytes(),
                ),
                None if !broken_pipe => {
                    note(format!("ocrcloud: cannot write to stdout: {error}").as_bytes())
                }
                None => {}
            }
            if broken_pipe {
                die_by(Signal::BrokenPipe);
            }
            ExitCode::from(exit_status(Code::Io))
        }
    }
}

fn run(cli: Cli, cancel: &Arc<Cancel>) -> std::result::Result<ExitCode, Failure> {
    let stdout = Stdout::new(cli.print0);
    if !matches!(cli.command, Command::Cancel { .. })
        && let Some(problem) = stdout_problem()
    {
        return Err(unusable_stdout(problem).into());
    }
    let base_url = match cli.base_url {
        Some(url) => Some(url),
        None => env_var("OCR_BASE_URL")?,
    };
    let client = Client::new(base_url.as_deref(), auth_from_env()?)?;
    let ca_file = cli.ca_file.or_else(|| {
        std::env::var_os("OCR_CA_FILE")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    });
    if let Some(path) = ca_file {
        let cas = tls::read_ca_file(&path).map_err(|e| named_by("--ca-file", e))?;
        client.update_network(|network| network.extra_cas = cas)?;
    }
    if let Some(url) = cli.proxy.as_deref() {
        let proxy = ProxyChoice::named(Some(url)).map_err(|e| named_by("--proxy", e))?;
        client.update_network(|network| network.proxy = proxy)?;
    }
    let call = Call {
        cancel: Some(cancel),
        ..Call::default()
    };
    let op = cli.operation.unwrap_or(Operation::RECOGNIZE_PDF);
    match cli.command {
        Command::Submit(submission) => {
            let op = operation_of(cli.operation, &submission.file)?;
            let id = submit(&client, op, &submission, &call)?;
            stdout
                .record(id.as_bytes())
                .map_err(|error| Failure::Output {
                    error,
                    lost_id: Some(id),
                })?;
        }
        Command::Status { id } => {
            let status = client.task_status(op, &id, &call)?.task_status;
            stdout.record(status.as_bytes()).map_err(Failure::output)?;
        }
        Command::Wait { id, poll } => {
            let answer = wait(
                &client,
                op,
                &id,
                &poll.options(cancel),
                &mut DiscardSink::default(),
            )?;
            stdout
                .record(answer.task_status.as_bytes())
                .map_err(Failure::output)?;
        }
        Command::Fetch { id, output } => {
            prepare_output(&output)?;
            let answer = client.fetch_to_dir(op, &id, &output, &call)?;
            print_paths(&stdout, &completed(&id, answer)?)?;
        }
        Command::Cancel { id } => client.cancel_task(op, &id, &call)?,
        Command::Run {
            submission,
            output,
            force,
            poll,
        } => {
            let op = operation_of(cli.operation, &submission.file)?;
            prepare_output(&output)?;
            let stem = run_output::stem_of(&submission.file)?;
            if !force {
                run_output::refuse_names_in_use(&output, &stem)?;
            }
            let id = submit(&client, op, &submission, &call)?;
            let mut line = b"submitted ".to_vec();
            line.extend_from_slice(submission.file.as_os_str().as_encoded_bytes());
            line.extend_from_slice(format!(" as task {id}").as_bytes());
            note(&line);
            let mut sink = FileSink::new(&output)?;
            let answer = wait(&client, op, &id, &poll.options(cancel), &mut sink)?;
            let saved = persist_results_named(answer, |kinds| {
                run_output::result_paths(&output, &stem, kinds, force, &id)
            })?;
            print_paths(&stdout, &saved)?;
        }
        Command::Batch(args) => return batch::batch(args, &client, cli.operation, cancel),
    }
    Ok(ExitCode::SUCCESS)
}

/// The operation for `file`: `--operation` if given, else the one its extension names, as in
/// a batch; a file of another kind is refused before anything is sent.
fn operation_of(given: Option<Operation>, file: &Path) -> Result<Operation> {
    given.or_else(|| operation_for(file)).ok_or_else(|| {
        Error::new(
            Code::InvalidArgument,
            format!(
                "{}: not a PDF or an image (.pdf .png .jpg .jpeg .tif .tiff .bmp .gif), so the \
                 operation is unknown; give --operation",
                file.display()
            ),
        )
    })
}

/// `error` with the library's names of arguments and functions replaced by this command's
/// options.
pub(crate) fn in_cli_terms(error: Error) -> Error {
    Error::new(error.code(), in_cli_words(error.message()))
}

/// A library message with its names of arguments and functions replaced by this command's
/// options.
pub(crate) fn in_cli_words(message: &str) -> String {
    message
        .replace("settings_json", "--settings")
        .replace("give the operation", "give --operation")
        .replace(
            "see ocr_client_set_ca_file",
            "to trust its authority, give its CA certificate with --ca-file FILE (or \
             OCR_CA_FILE)",
        )
}

/// `error` with `option: ` before its message.
fn named_by(option: &str, error: Error) -> Error {
    Error::new(error.code(), format!("{option}: {}", error.message()))
}

/// The exit status for a failure of kind `code`.
pub(crate) fn exit_status(code: Code) -> u8 {
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

/// Makes Ctrl-C trigger `cancel`, so that the running call or poll ends within milliseconds
/// and `main` dies by SIGINT after cleaning up. A second Ctrl-C dies at once (for a request that
/// hangs).
fn cancel_on_ctrl_c(cancel: &Arc<Cancel>) -> Result<()> {
    let cancel = Arc::clone(cancel);
    ctrlc::set_handler(move || {
        if cancel.is_triggered() {
            die_by(Signal::Interrupt);
        }
        cancel.trigger();
    })
    .map_err(|e| Error::new(Code::Internal, format!("cannot handle Ctrl-C: {e}")))
}

/// Submits the document.
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

/// Makes sure that results can be written into `dir` before anything is asked of the service:
/// it exists or is created, and a file can be created in it.
fn prepare_output(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir)
        .map_err(|e| Error::new(Code::Io, format!("cannot create {}: {e}", dir.display())))?;
    TempFile::create_in(dir, "ocrcloud-check").map(drop)
}

/// Prints each result's path, byte for byte.
fn print_paths(stdout: &Stdout, answer: &Answer<PathBuf>) -> std::result::Result<(), Failure> {
    for result in &answer.results {
        stdout
            .record(result.data.as_os_str().as_encoded_bytes())
            .map_err(Failure::output)?;
    }
    Ok(())
}
