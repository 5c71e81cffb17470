//! `ocr_batch`: many documents, one journal, resumable (see docs/cli.md, "Batches").

use super::client::{client_arg, ocr_client, operation_arg};
use super::options::{ocr_poll_options, options_arg};
use super::{
    Handle, borrow, boxed, free_boxed, guard, guard_code, ocr_code, optional_str, out_param,
    required_str, write_out,
};
use crate::batch::any::AnyBatch;
use crate::batch::shared::SharedBatch;
use crate::batch::{Batch, Item, RunOptions};
use crate::error::{Result, invalid};
use std::cell::{Cell, RefCell, UnsafeCell};
use std::ffi::{CString, c_char, c_void};
use std::path::Path;

/// Where an input of a batch is. The values are fixed and never reused.
pub type ocr_batch_state = i32;

/// Not submitted yet (or to be submitted again).
pub const OCR_BATCH_QUEUED: ocr_batch_state = 0;
/// Its intent is in the journal and its submission under way. After a crash in this state the
/// input is submitted again and counted as a possible duplicate.
pub const OCR_BATCH_SUBMITTING: ocr_batch_state = 1;
/// Its task id is in the journal; the task is being polled. Never submitted again while the
/// task is younger than 23 hours.
pub const OCR_BATCH_SUBMITTED: ocr_batch_state = 2;
/// Its results are in the output folder.
pub const OCR_BATCH_COMPLETED: ocr_batch_state = 3;
/// It failed; `ocr_batch_item_code` and `ocr_batch_item_message` say why.
pub const OCR_BATCH_FAILED: ocr_batch_state = 4;

/// Called on the thread of `ocr_batch_run` after each change of an input's state, once the
/// change is in the journal: `index` is the input's (the order of the adds), `state` its new
/// `OCR_BATCH_*` state. The callback may read the batch with `ocr_batch_size`,
/// `ocr_batch_count` and the `ocr_batch_item_*` functions (which already show the change);
/// adding to it or running it from the callback fails with `OCR_ERR_INVALID_ARGUMENT`, and it
/// must not free it. It must return normally (no `longjmp`, no exceptions); to stop the run,
/// trigger the cancel token of its poll options.
pub type ocr_batch_progress_fn =
    Option<extern "C" fn(user_data: *mut c_void, index: usize, state: ocr_batch_state)>;

/// A batch: inputs, an output folder and a journal (an SQLite file) that records what was
/// submitted, so that a batch stopped at any moment (a crash, a kill, a cancel) goes on where
/// it stopped when it is opened and run again with the same inputs.
///
/// Thread safety: a batch is used by one thread at a time. It borrows its client, which must
/// stay alive until `ocr_batch_free`; the client may serve other threads meanwhile.
pub struct ocr_batch {
    _private: [u8; 0],
}

/// The value behind `ocr_batch`: the batch, and a copy of what the accessors tell about each
/// input, kept up to date by the adds and, during a run, before each progress callback. The
/// accessors read only the copy, so a callback may call them while the run changes the batch.
pub(super) struct BatchHandle {
    batch: UnsafeCell<AnyBatch<'static>>,
    items: RefCell<Vec<ItemView>>,
    running: Cell<bool>,
}

/// What the accessors answer about one input.
struct ItemView {
    state: ocr_batch_state,
    code: ocr_code,
    path: CString,
    task_id: Option<CString>,
    message: CString,
    outputs: Vec<CString>,
    possible_duplicates: u32,
    skipped: u8,
    seconds: f64,
}

impl ItemView {
    fn of(item: &Item, output_dir: &Path) -> ItemView {
        ItemView {
            state: item.state() as ocr_batch_state,
            code: item.code().map_or(0, |code| code as ocr_code),
            path: c_string(&item.path.to_string_lossy()),
            task_id: item.row.task_id.as_deref().map(c_string),
            message: c_string(item.row.message.as_deref().unwrap_or("")),
            outputs: item
                .row
                .outputs
                .iter()
                .map(|o| c_string(&output_dir.join(o).to_string_lossy()))
                .collect(),
            possible_duplicates: item.row.possible_duplicates,
            skipped: u8::from(item.skipped),
            seconds: item.seconds().unwrap_or(-1.0),
        }
    }
}

impl Handle for ocr_batch {
    type Value = BatchHandle;
    const NAME: &'static str = "batch";
}

fn c_string(text: &str) -> CString {
    CString::new(text.replace('\0', " ")).unwrap_or_default()
}

impl BatchHandle {
    fn boxed(batch: AnyBatch<'static>) -> *mut ocr_batch {
        boxed(BatchHandle {
            batch: UnsafeCell::new(batch),
            items: RefCell::new(Vec::new()),
            running: Cell::new(false),
        })
    }

    /// Runs `change` on the batch, then copies what the accessors tell about the inputs it
    /// added, or with `all` about every input. Refused inside the batch's own progress callback.
    fn change<T>(
        &self,
        all: bool,
        change: impl FnOnce(&mut AnyBatch<'static>) -> Result<T>,
    ) -> Result<T> {
        if self.running.get() {
            return Err(invalid(
                "a batch cannot be changed from its own progress callback",
            ));
        }
        self.running.set(true);
        // SAFETY: the only place that makes a reference to the batch; `running` keeps a
        // callback from coming back here, and the accessors read `items` only.
        let batch = unsafe { &mut *self.batch.get() };
        let outcome = change(batch);
        self.running.set(false);
        let output_dir = batch.output_dir().to_path_buf();
        let mut views = self.items.borrow_mut();
        if all {
            views.clear();
        }
        let known = views.len();
        views.extend(
            batch.items()[known..]
                .iter()
                .map(|item| ItemView::of(item, &output_dir)),
        );
        outcome
    }

    /// Reads the view of input `index`; `None` if there is no such input.
    fn view<T>(&self, index: usize, read: impl FnOnce(&ItemView) -> T) -> Option<T> {
        self.items.borrow().get(index).map(read)
    }
}

/// Reads the view of input `index` of a batch handle; `fallback` for NULL or out of range.
fn read_item<T: Copy>(
    batch: *const ocr_batch,
    index: usize,
    fallback: T,
    read: impl FnOnce(&ItemView) -> T,
) -> T {
    guard(fallback, || {
        borrow(batch)
            .ok()
            .and_then(|h| h.view(index, read))
            .unwrap_or(fallback)
    })
}

/// Opens a batch that writes results into `output_dir` (created if missing) and records its
/// inputs in the journal at `journal_path` (NULL: `<output_dir>/.ocrcloud/journal.sqlite`;
/// its folder is created if missing). The journal is locked while the batch is open: a second
/// batch on the same journal, from this or another process, fails with `OCR_ERR_IO` naming
/// the process that holds it. A journal that belongs to another output folder, that is not a
/// journal, or that a newer library wrote fails with `OCR_ERR_INVALID_ARGUMENT`; nothing is
/// changed then.
///
/// `client` must stay alive until `ocr_batch_free`. On `OCR_OK`, `*out` receives a batch that
/// the caller owns and frees with `ocr_batch_free`; on failure `*out` is untouched.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocr_batch_open(
    client: *const ocr_client,
    journal_path: *const c_char,
    output_dir: *const c_char,
    out: *mut *mut ocr_batch,
) -> ocr_code {
    guard_code(|| {
        out_param(out, "out")?;
        let client = client_arg(client)?;
        let journal = optional_str(journal_path, "journal_path")?.map(Path::new);
        let output_dir = required_str(output_dir, "output_dir")?;
        let batch = Batch::open(client, journal, Path::new(output_dir))?;
        write_out(out, BatchHandle::boxed(AnyBatch::Local(Box::new(batch))));
        Ok(())
    })
}

/// Opens batch `name` of a journal in PostgreSQL that many processes, on many hosts, share:
/// each one that opens the same batch with the same inputs and runs it takes inputs from it
/// until the batch is done (see docs/shared-batches.md). `url` is
/// `postgresql://USER[:PASSWORD]@HOST[:PORT]/DB` (or `postgres://`), with libpq's `sslmode`
/// (`disable`, `prefer`: the default, `require`) as a parameter; TLS trusts the same roots as
/// the client. The password never appears in a message or a log line. The schema is created
/// if missing; a database whose schema a newer library wrote fails with
/// `OCR_ERR_INVALID_ARGUMENT`, refused credentials or a missing database at once with
/// `OCR_ERR_IO`, and a database that does not answer (restarting, say) is waited for up to 30
/// seconds, then fails with `OCR_ERR_IO`. Several batches
/// share a database, told apart by `name` (1 to 200 characters). Inputs are known by their
/// path relative to the root they were added with (hosts may mount the inputs at different
/// places) and their content; results go to `output_dir` (created if missing) under the names
/// `ocr_batch_open` gives them.
///
/// Then use `ocr_batch_add_file`, `ocr_batch_add_folder`, `ocr_batch_run` and the accessors as
/// for `ocr_batch_open`. `ocr_batch_run` returns when no input of the batch is left to do,
/// the ones other workers hold included. While the database is unreachable it waits,
/// reconnecting with a backoff (its cancel token still stops it), but each statement waits at
/// most 10 minutes (the environment variable `OCRCLOUD_JOURNAL_PATIENCE`, whole seconds, read
/// when the batch is opened, sets another), then the run fails with `OCR_ERR_IO` ("... gave up
/// waiting for the database"); the inputs it held are taken over by other workers, or by the
/// next run, when their leases run out. A server that stops answering without closing the
/// connection (stopped, or behind a network that stopped forwarding) counts as unreachable once
/// a statement has had no answer for 30 seconds (`OCRCLOUD_JOURNAL_DEADLINE`). The client's
/// maximum rate (`ocr_client_set_max_rate`) is
/// the total of all workers: each live worker takes its share.
///
/// `client` must stay alive until `ocr_batch_free`. On `OCR_OK`, `*out` receives a batch that
/// the caller owns and frees with `ocr_batch_free`; on failure `*out` is untouched.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocr_batch_open_shared(
    client: *const ocr_client,
    url: *const c_char,
    name: *const c_char,
    output_dir: *const c_char,
    out: *mut *mut ocr_batch,
) -> ocr_code {
    guard_code(|| {
        out_param(out, "out")?;
        let client = client_arg(client)?;
        let url = required_str(url, "url")?;
        let name = required_str(name, "name")?;
        let output_dir = required_str(output_dir, "output_dir")?;
        let batch = SharedBatch::open(client, url, name, Path::new(output_dir))?;
        write_out(out, BatchHandle::boxed(AnyBatch::Shared(Box::new(batch))));
        Ok(())
    })
}

/// Adds one file. Its results are named after its path relative to `root` (NULL: the file's
/// own folder): the results of `<root>/a/b.pdf` are `<output_dir>/a/b.<ext>` (see docs/cli.md,
/// "Batches", for the rule that keeps two inputs from sharing a name). `operation` NULL chooses by
/// extension (`.pdf`: RecognizePdf; `.png .jpg .jpeg .tif .tiff .bmp .gif`: RecognizeImage);
/// `settings_json` NULL takes the operation's defaults. The file is read once to hash it.
///
/// The journal decides what the run does with it: an unchanged completed input is skipped, a
/// recorded task is polled by its id, a changed input (content, operation or settings) starts
/// again. A file that cannot be submitted (missing, unreadable, not a regular file, empty,
/// larger than 512 MiB) is added as failed with the reason, so that a folder with one bad file
/// still runs. Fails with `OCR_ERR_INVALID_ARGUMENT` for bad settings, a file outside `root`, or
/// an unknown extension without an operation. Adding the same path twice does nothing the
/// second time; a link to a file is an input of its own, beside the file it names. The journal
/// is written when the run starts.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocr_batch_add_file(
    batch: *mut ocr_batch,
    path: *const c_char,
    root: *const c_char,
    operation: *const c_char,
    settings_json: *const c_char,
) -> ocr_code {
    guard_code(|| {
        let handle = borrow(batch)?;
        let path = required_str(path, "path")?;
        let root = optional_str(root, "root")?.map(Path::new);
        let operation = optional_operation(operation)?;
        let settings = optional_str(settings_json, "settings_json")?;
        handle.change(false, |batch| {
            batch.add_file(Path::new(path), root, operation, settings)
        })
    })
}

/// Adds every PDF and image under `folder`, recursively, in name order, named after their
/// paths relative to `folder`. Hidden entries (names starting with `.`), links to folders,
/// names that are not UTF-8, other files and the output folder itself are skipped (each skip is
/// logged at `OCR_LOG_INFO`). `operation` NULL chooses by extension; otherwise every file gets
/// it. A folder without any document fails with `OCR_ERR_INVALID_ARGUMENT`. `*added`
/// (optional, NULL to ignore) receives how many inputs were added.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocr_batch_add_folder(
    batch: *mut ocr_batch,
    folder: *const c_char,
    operation: *const c_char,
    settings_json: *const c_char,
    added: *mut usize,
) -> ocr_code {
    guard_code(|| {
        let handle = borrow(batch)?;
        let folder = required_str(folder, "folder")?;
        let operation = optional_operation(operation)?;
        let settings = optional_str(settings_json, "settings_json")?;
        let count = handle.change(false, |batch| {
            batch.add_folder(Path::new(folder), operation, settings, &mut |note| {
                crate::logging::log(crate::logging::Level::Info, || note)
            })
        })?;
        if !added.is_null() {
            write_out(added, count);
        }
        Ok(())
    })
}

fn optional_operation(operation: *const c_char) -> Result<Option<crate::operations::Operation>> {
    if operation.is_null() {
        Ok(None)
    } else {
        operation_arg(operation).map(Some)
    }
}

/// Runs the batch until every input is completed or failed: submits the queued inputs, polls
/// the submitted ones, and writes each input's results into the output folder, all of them
/// together or none (never over a file the batch did not write). At most `jobs` requests at
/// once (0: 8; at most 256) and at most 16 times `jobs` tasks open on the service.
///
/// `poll` (NULL: the defaults) sets how each task is polled: its interval, backoff and attempt
/// limit; its timeout counts per task from its submission (a task still unfinished then fails
/// with `OCR_ERR_TIMEOUT`, and is polled again by the next run); its cancel token stops the
/// run; its progress callback is not used. `progress` (NULL for none) reports each change of
/// an input's state.
///
/// A submission that the service refuses unprocessed (429, 503, no connection) goes back to
/// the queue, and the batch then keeps no more tasks open than are open at that moment (growing
/// by one with each accepted submission). A task the service does not know is submitted again
/// (at most twice per run) and counted as a possible duplicate. Every submission is bounded by
/// the poll options' timeout too.
///
/// Answers `OCR_OK` when every input ended, even if some failed (see `ocr_batch_count`). Other
/// codes stop the whole batch, which may be run again: `OCR_ERR_CANCELLED` (within 50 ms of the
/// trigger; submissions under way are cut, stay `OCR_BATCH_SUBMITTING`, and are sent again by
/// the next run and counted as possible duplicates), `OCR_ERR_UNAUTHORIZED` (the credentials
/// are refused), the error of the last refusal when 5 submissions in a row are refused while no
/// task of the batch is open, `OCR_ERR_NETWORK` with the circuit breaker open
/// (`ocr_client_set_circuit_breaker`), and `OCR_ERR_IO` when the journal cannot be written.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocr_batch_run(
    batch: *mut ocr_batch,
    jobs: u32,
    poll: *const ocr_poll_options,
    progress: ocr_batch_progress_fn,
    user_data: *mut c_void,
) -> ocr_code {
    guard_code(|| {
        let poll = options_arg(poll)?.poll;
        let jobs = match jobs {
            0 => crate::batch::run::DEFAULT_JOBS,
            n => usize::try_from(n).map_err(|_| invalid("jobs is too large"))?,
        };
        let handle = borrow(batch)?;
        let options = RunOptions { jobs, poll };
        handle.change(true, |batch| {
            let output_dir = batch.output_dir().to_path_buf();
            batch.run(&options, &mut |index, item| {
                if let Some(view) = handle.items.borrow_mut().get_mut(index) {
                    *view = ItemView::of(item, &output_dir);
                }
                if let Some(progress) = progress {
                    progress(user_data, index, item.state() as ocr_batch_state);
                }
            })
        })
    })
}

/// How many inputs were added.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocr_batch_size(batch: *const ocr_batch) -> usize {
    guard(0, || borrow(batch).map_or(0, |h| h.items.borrow().len()))
}

/// How many inputs are in `state` (an `OCR_BATCH_*` value); 0 for NULL or an unknown state.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocr_batch_count(batch: *const ocr_batch, state: ocr_batch_state) -> usize {
    guard(0, || {
        borrow(batch).map_or(0, |h| {
            h.items.borrow().iter().filter(|v| v.state == state).count()
        })
    })
}

/// The state of input `index` (an `OCR_BATCH_*` value); -1 for NULL or an index out of range.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocr_batch_item_state(
    batch: *const ocr_batch,
    index: usize,
) -> ocr_batch_state {
    read_item(batch, index, -1, |v| v.state)
}

/// The path of input `index` as it was added. The string (like every `ocr_batch_item_*`
/// string) belongs to the batch and stays valid until the next `ocr_batch_add_*`,
/// `ocr_batch_run` or `ocr_batch_free`, and during a run until the next progress callback.
/// NULL for an index out of range.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocr_batch_item_path(
    batch: *const ocr_batch,
    index: usize,
) -> *const c_char {
    read_item(batch, index, std::ptr::null(), |v| v.path.as_ptr())
}

/// The task id of input `index`; NULL if it has none (not submitted, or submitted again).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocr_batch_item_task_id(
    batch: *const ocr_batch,
    index: usize,
) -> *const c_char {
    read_item(batch, index, std::ptr::null(), |v| {
        v.task_id.as_ref().map_or(std::ptr::null(), |t| t.as_ptr())
    })
}

/// Why input `index` failed, one sentence (never a secret); `""` if it did not fail; NULL for
/// an index out of range.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocr_batch_item_message(
    batch: *const ocr_batch,
    index: usize,
) -> *const c_char {
    read_item(batch, index, std::ptr::null(), |v| v.message.as_ptr())
}

/// The code of input `index`'s failure; `OCR_OK` if it did not fail (or for an index out of
/// range).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocr_batch_item_code(batch: *const ocr_batch, index: usize) -> ocr_code {
    read_item(batch, index, 0, |v| v.code)
}

/// How many result files input `index` has (0 unless completed).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocr_batch_item_output_count(
    batch: *const ocr_batch,
    index: usize,
) -> usize {
    read_item(batch, index, 0, |v| v.outputs.len())
}

/// The path of result file `output` of input `index` (the output folder joined with its
/// name); NULL when out of range.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocr_batch_item_output(
    batch: *const ocr_batch,
    index: usize,
    output: usize,
) -> *const c_char {
    read_item(batch, index, std::ptr::null(), |v| {
        v.outputs
            .get(output)
            .map_or(std::ptr::null(), |o| o.as_ptr())
    })
}

/// How often input `index` was submitted again after a submission that may have reached the
/// service (a crash or a cut connection during the POST): each may be a duplicate task.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocr_batch_item_possible_duplicates(
    batch: *const ocr_batch,
    index: usize,
) -> u32 {
    read_item(batch, index, 0, |v| v.possible_duplicates)
}

/// 1 if input `index` was completed by an earlier run (nothing was done for it now), else 0.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocr_batch_item_skipped(batch: *const ocr_batch, index: usize) -> u8 {
    read_item(batch, index, 0, |v| v.skipped)
}

/// Seconds from input `index`'s first submission to its end; -1 if it has not ended.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocr_batch_item_seconds(batch: *const ocr_batch, index: usize) -> f64 {
    read_item(batch, index, -1.0, |v| v.seconds)
}

/// Frees a batch and unlocks its journal. NULL does nothing. Must not run during
/// `ocr_batch_run` of the same batch (nor from its progress callback).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocr_batch_free(batch: *mut ocr_batch) {
    free_boxed(batch)
}
