//! `ocr_result`: fetching, polling, and reading an answer.

use super::call::{call_arg, ocr_call_options};
use super::client::{client_arg, ocr_client, operation_arg, task_args};
use super::options::{OCR_TASK_UNKNOWN, ocr_poll_options, ocr_task_status, options_arg};
use super::{
    Handle, OCR_OK, borrow, boxed, free_boxed, guard, guard_code, ocr_code, out_param,
    required_str, write_out,
};
use crate::auth::check_header_safe;
use crate::error::{Result, invalid};
use crate::files::{FileSink, copy_atomically, persist_results, save_atomically};
use crate::poll::{ManyProgress, poll_many, poll_until_done};
use crate::secrets;
use crate::wire::{Answer, MemorySink, TaskStatus};
use std::cell::RefCell;
use std::ffi::{CString, c_char};
use std::path::{Path, PathBuf};

/// One answer of the service for a task: its status, result files (decoded) and messages.
///
/// Every pointer an accessor returns belongs to the result and stays valid until
/// `ocr_result_free`. Thread safety: a result is immutable; any number of threads may read it at
/// once, but it must be freed once, after they are done.
pub struct ocr_result {
    _private: [u8; 0],
}

/// The value behind `ocr_result`.
pub(super) struct OcrResult {
    status: TaskStatus,
    status_text: CString,
    id: CString,
    response_status: CString,
    files: Vec<Entry>,
    messages: Vec<CString>,
    warnings: Vec<CString>,
}

/// One result file: its type and where its bytes are.
struct Entry {
    kind: CString,
    stored: Stored,
}

/// Where a result file's decoded bytes are.
enum Stored {
    Memory(Vec<u8>),
    File { path: CString, size: u64 },
}

impl Stored {
    fn in_file(path: PathBuf) -> Stored {
        Stored::File {
            size: std::fs::metadata(&path).map_or(0, |m| m.len()),
            path: c_text(path.to_string_lossy().into_owned()),
        }
    }
}

impl Handle for ocr_result {
    type Value = OcrResult;
    const NAME: &'static str = "result";
}

/// Text the parser checked to contain no NUL.
fn c_text(text: String) -> CString {
    CString::new(text).expect("the reader refuses strings with NUL")
}

impl OcrResult {
    fn new<D>(answer: Answer<D>, store: impl Fn(D) -> Stored) -> OcrResult {
        OcrResult {
            status: answer.status(),
            status_text: c_text(answer.task_status),
            id: c_text(answer.id.unwrap_or_default()),
            response_status: c_text(answer.response_status.unwrap_or_default()),
            files: answer
                .results
                .into_iter()
                .map(|file| Entry {
                    kind: c_text(file.kind),
                    stored: store(file.data),
                })
                .collect(),
            messages: answer.messages.into_iter().map(c_text).collect(),
            warnings: answer.warnings.into_iter().map(c_text).collect(),
        }
    }
}

/// `ocr_fetch_result_ex` with `RecognizePdf` and NULL call options.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocr_fetch_result(
    client: *const ocr_client,
    task_id: *const c_char,
    out: *mut *mut ocr_result,
) -> ocr_code {
    // SAFETY: the caller's pointers, passed on under the same contract.
    unsafe { ocr_fetch_result_ex(client, std::ptr::null(), task_id, std::ptr::null(), out) }
}

/// `ocr_fetch_result_ex` with NULL call options.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocr_fetch_result_for(
    client: *const ocr_client,
    operation: *const c_char,
    task_id: *const c_char,
    out: *mut *mut ocr_result,
) -> ocr_code {
    // SAFETY: the caller's pointers, passed on under the same contract.
    unsafe { ocr_fetch_result_ex(client, operation, task_id, std::ptr::null(), out) }
}

/// Asks once for a task's current answer: one GET of `/v5.0/ocr/<operation>?id=<task_id>`
/// (transient failures are retried as `ocr_client_set_max_attempts` says).
///
/// Answers `OCR_OK` for every well-formed answer whatever the task's status: Pending, Error or
/// NotExist are information, read them with the accessors. An answer whose `id` is not
/// `task_id` is `OCR_ERR_PROTOCOL`. `operation`: NULL means `RecognizePdf`. `task_id`: any
/// non-empty string without control characters; it is percent-encoded. `call`: the deadline
/// and cancel token (NULL: none). On `OCR_OK`, `*out` receives a result the caller frees with
/// `ocr_result_free`; otherwise `*out` is untouched. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocr_fetch_result_ex(
    client: *const ocr_client,
    operation: *const c_char,
    task_id: *const c_char,
    call: *const ocr_call_options,
    out: *mut *mut ocr_result,
) -> ocr_code {
    guard_code(|| {
        out_param(out, "out")?;
        let (client, op, task_id) = task_args(client, operation, task_id)?;
        let answer = client.fetch(op, task_id, &call_arg(call)?.call())?;
        write_out(out, boxed(OcrResult::new(answer, Stored::Memory)));
        Ok(())
    })
}

/// `ocr_fetch_result_to_dir_ex` with NULL call options.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocr_fetch_result_to_dir(
    client: *const ocr_client,
    operation: *const c_char,
    task_id: *const c_char,
    dir: *const c_char,
    out: *mut *mut ocr_result,
) -> ocr_code {
    // SAFETY: the caller's pointers, passed on under the same contract.
    unsafe { ocr_fetch_result_to_dir_ex(client, operation, task_id, dir, std::ptr::null(), out) }
}

/// Like `ocr_fetch_result_ex`, but each result's decoded bytes are written to a file in the
/// existing folder `dir` while the answer arrives, so memory use does not grow with the size of
/// the results. The files are named after `task_id` as asked (never after the id in the
/// answer): `<task id>.<ext>` after the result's type (`Text`: `txt`,
/// `Pdf`: `pdf`, `Hocr`: `html`, `JSON`: `json`, `Csv`: `csv`, `Excel`: `xlsx`, `ImagePNG`:
/// `png`, `WavFile`: `wav`, others: `bin`; `<task id>-<index>.<ext>` when two results share an
/// extension; characters other than letters, digits, `.`, `_`, `-` in the id become `_`), and
/// existing regular files of those names are replaced (keeping their permission bits; a symbolic
/// link of that name is replaced itself, not followed). The files of one answer appear
/// together, whole, and only once the whole answer has been read and checked; on any failure
/// none is left behind and the files they would have replaced are unchanged. Temporary files
/// are named `.ocrcloud-*.tmp`; those left by a process that crashed are removed by the next
/// process's first call into the folder.
///
/// On `OCR_OK` the result's accessors work as usual, except that `ocr_result_data` answers NULL:
/// use `ocr_result_path` and `ocr_result_size`. An answer of a task that is not Completed
/// writes no file. A missing folder is `OCR_ERR_IO`. `call`: the deadline and cancel token
/// (NULL: none). Thread-safe; concurrent calls for different tasks may share a folder.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocr_fetch_result_to_dir_ex(
    client: *const ocr_client,
    operation: *const c_char,
    task_id: *const c_char,
    dir: *const c_char,
    call: *const ocr_call_options,
    out: *mut *mut ocr_result,
) -> ocr_code {
    guard_code(|| {
        out_param(out, "out")?;
        let (client, op, task_id) = task_args(client, operation, task_id)?;
        let dir = Path::new(required_str(dir, "dir")?);
        let answer = client.fetch_to_dir(op, task_id, dir, &call_arg(call)?.call())?;
        write_out(out, boxed(OcrResult::new(answer, Stored::in_file)));
        Ok(())
    })
}

/// `ocr_poll_until_done_for` with `RecognizePdf`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocr_poll_until_done(
    client: *const ocr_client,
    task_id: *const c_char,
    options: *const ocr_poll_options,
    out: *mut *mut ocr_result,
) -> ocr_code {
    // SAFETY: the caller's pointers, passed on under the same contract.
    unsafe { ocr_poll_until_done_for(client, std::ptr::null(), task_id, options, out) }
}

/// Asks for a task's answer until the task is done, waiting between requests as `options` say
/// (NULL: the defaults of `ocr_poll_options_new`). The first request goes out at once, except
/// that with a learned schedule (see `ocr_poll_options`) a task this client submitted is first
/// asked when the learned durations say it is worth it.
///
/// Answers `OCR_OK` only when the task is Completed, with `*out` receiving the final result
/// (freed by the caller with `ocr_result_free`). Otherwise `*out` is untouched and the code says
/// why: `OCR_ERR_TASK_FAILED` (status Error; the message holds the server's messages),
/// `OCR_ERR_TASK_NOT_FOUND` (NotExist), `OCR_ERR_NOT_READY` (attempts used up),
/// `OCR_ERR_TIMEOUT` (deadline), `OCR_ERR_CANCELLED` (cancel token), or the failure of the last
/// request. Transient failures (connection errors, 429, 502, 503, 504) do not end the poll: they
/// count as attempts, and `Retry-After` lengthens the next wait. The progress callback runs on
/// the calling thread once per answer. Thread-safe: many polls may share one client.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocr_poll_until_done_for(
    client: *const ocr_client,
    operation: *const c_char,
    task_id: *const c_char,
    options: *const ocr_poll_options,
    out: *mut *mut ocr_result,
) -> ocr_code {
    guard_code(|| {
        out_param(out, "out")?;
        let (client, op, task_id) = task_args(client, operation, task_id)?;
        let options = options_arg(options)?;
        let id = c_text(task_id.to_string());
        let answer = poll_until_done(
            client,
            op,
            task_id,
            &options.poll,
            &mut MemorySink::default(),
            &mut |_, status, attempt| options.report(&id, status as ocr_task_status, attempt),
        )?;
        write_out(out, boxed(OcrResult::new(answer, Stored::Memory)));
        Ok(())
    })
}

/// Polls `count` tasks together from one call, each on the schedule `options` give (NULL: the
/// defaults), with at most `ocr_client_set_max_connections` requests in flight (default 4), and
/// never more requests per task than `ocr_poll_until_done` would send. The deadline and the
/// cancel token of `options` apply to the whole call. The progress callback runs on the calling
/// thread once per answer, with the task's id, within about 10 ms of the answer. Each connection
/// has a thread that asks the tasks falling due together; a request may go up to 10 ms after its
/// wait has passed, and the tasks of a connection held up by a slow answer go to another.
///
/// `task_ids`: `count` non-NULL strings. `results_out` and `codes_out`: arrays of `count`
/// elements, written for every task: `codes_out[i]` is the code `ocr_poll_until_done` would have
/// given task i, and `results_out[i]` its result where that code is `OCR_OK` (the caller frees
/// each with `ocr_result_free`), else NULL. An id listed more than once is asked once per due
/// time, and each of its places gets the same code and a result of its own. Answers `OCR_OK`
/// if every task completed, else the first failing task's code, with a message naming that
/// task and how many failed; every task's own message is `ocr_poll_many_message(i)`. With a NULL or invalid argument (also a
/// `count` too large for the arrays to exist) nothing is written and the answer is
/// `OCR_ERR_INVALID_ARGUMENT`. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocr_poll_many(
    client: *const ocr_client,
    operation: *const c_char,
    task_ids: *const *const c_char,
    count: usize,
    options: *const ocr_poll_options,
    results_out: *mut *mut ocr_result,
    codes_out: *mut ocr_code,
) -> ocr_code {
    guard_code(|| {
        let client = client_arg(client)?;
        let op = operation_arg(operation)?;
        let options = options_arg(options)?;
        if count == 0 {
            return Ok(());
        }
        out_param(task_ids.cast_mut(), "task_ids")?;
        out_param(results_out, "results_out")?;
        out_param(codes_out, "codes_out")?;
        if count > isize::MAX as usize / size_of::<*mut ocr_result>() {
            return Err(invalid(format!(
                "count {count} is larger than any array can be"
            )));
        }
        // SAFETY: the caller passes `count` elements in each array.
        let (ids, results, codes) = unsafe {
            (
                std::slice::from_raw_parts(task_ids, count),
                std::slice::from_raw_parts_mut(results_out, count),
                std::slice::from_raw_parts_mut(codes_out, count),
            )
        };
        let ids: Vec<&str> = ids
            .iter()
            .enumerate()
            .map(|(i, &id)| {
                let name = format!("task_ids[{i}]");
                let id = required_str(id, &name)?;
                check_header_safe(&name, id)?;
                Ok(id)
            })
            .collect::<Result<_>>()?;
        // The ids as C strings for the progress callback, only if there is one.
        let c_ids: Vec<CString> = match options.progress {
            Some(_) => ids.iter().map(|id| c_text(id.to_string())).collect(),
            None => Vec::new(),
        };
        let mut report = |index: usize, _: &str, status: TaskStatus, attempt| {
            options.report(&c_ids[index], status as ocr_task_status, attempt)
        };
        let progress: Option<&mut ManyProgress> = options.progress.map(|_| &mut report as _);
        let outcomes = poll_many(client, op, &ids, &options.poll, progress);
        let mut first_failure = None;
        let mut failures = 0;
        let mut messages = Vec::with_capacity(count);
        for (index, outcome) in outcomes.into_iter().enumerate() {
            match outcome {
                Ok(answer) => {
                    codes[index] = OCR_OK;
                    results[index] = boxed(OcrResult::new(answer, Stored::Memory));
                    messages.push(CString::default());
                }
                Err(error) => {
                    codes[index] = error.code() as ocr_code;
                    results[index] = std::ptr::null_mut();
                    failures += 1;
                    messages.push(message_text(error.message()));
                    first_failure.get_or_insert(error);
                }
            }
        }
        let _ = POLL_MANY_MESSAGES.try_with(|kept| *kept.borrow_mut() = messages);
        match first_failure {
            None => Ok(()),
            Some(error) => Err(error.map_message(|m| {
                format!("{failures} of {count} tasks did not complete; the first: {m}")
            })),
        }
    })
}

thread_local! {
    /// The per-task messages of the last `ocr_poll_many` on this thread.
    static POLL_MANY_MESSAGES: RefCell<Vec<CString>> = const { RefCell::new(Vec::new()) };
}

fn message_text(message: &str) -> CString {
    CString::new(secrets::redact(message).replace('\0', " ")).unwrap_or_default()
}

/// The message of task `index` of the last `ocr_poll_many` on the calling thread that got as
/// far as polling: why that task did not complete, in the words `ocr_last_error_message` would
/// have used for `ocr_poll_until_done`; `""` for a task that completed; NULL if `index` is out
/// of range. The string belongs to the library and stays valid until the next `ocr_poll_many`
/// on this thread; copy it to keep it.
#[unsafe(no_mangle)]
pub extern "C" fn ocr_poll_many_message(index: usize) -> *const c_char {
    guard(std::ptr::null(), || {
        POLL_MANY_MESSAGES
            .try_with(|kept| text_at(&kept.borrow(), index))
            .unwrap_or(std::ptr::null())
    })
}

/// Like `ocr_poll_until_done_for`, but the final answer's results are written to files in the
/// existing folder `dir` while they arrive, as `ocr_fetch_result_to_dir` describes. On `OCR_OK`,
/// read them with `ocr_result_path` and `ocr_result_size`. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocr_poll_until_done_to_dir(
    client: *const ocr_client,
    operation: *const c_char,
    task_id: *const c_char,
    options: *const ocr_poll_options,
    dir: *const c_char,
    out: *mut *mut ocr_result,
) -> ocr_code {
    guard_code(|| {
        out_param(out, "out")?;
        let (client, op, task_id) = task_args(client, operation, task_id)?;
        let options = options_arg(options)?;
        let dir = Path::new(required_str(dir, "dir")?);
        let id = c_text(task_id.to_string());
        let answer = poll_until_done(
            client,
            op,
            task_id,
            &options.poll,
            &mut FileSink::new(dir)?,
            &mut |_, status, attempt| options.report(&id, status as ocr_task_status, attempt),
        )?;
        let answer = persist_results(answer, task_id, dir)?;
        write_out(out, boxed(OcrResult::new(answer, Stored::in_file)));
        Ok(())
    })
}

/// Frees a result and everything its accessors returned. NULL does nothing.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocr_result_free(result: *mut ocr_result) {
    free_boxed(result)
}

/// Runs an accessor: NULL or a panic answers `fallback`.
fn read<T: Copy>(
    result: *const ocr_result,
    fallback: T,
    access: impl FnOnce(&OcrResult) -> T,
) -> T {
    guard(fallback, || match borrow(result) {
        Ok(result) => access(result),
        Err(_) => fallback,
    })
}

fn text_at(list: &[CString], index: usize) -> *const c_char {
    list.get(index).map_or(std::ptr::null(), |s| s.as_ptr())
}

/// The task's status; `OCR_TASK_UNKNOWN` for a status string this library does not know (see
/// `ocr_result_task_status_text`) and for NULL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocr_result_task_status(result: *const ocr_result) -> ocr_task_status {
    read(result, OCR_TASK_UNKNOWN, |r| r.status as ocr_task_status)
}

/// The `taskStatus` string exactly as the server sent it, e.g. `"Completed"`. NULL for NULL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocr_result_task_status_text(result: *const ocr_result) -> *const c_char {
    read(result, std::ptr::null(), |r| r.status_text.as_ptr())
}

/// The task id the server echoed; `""` if it sent none. NULL for NULL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocr_result_id(result: *const ocr_result) -> *const c_char {
    read(result, std::ptr::null(), |r| r.id.as_ptr())
}

/// The raw `responseStatusCode`, e.g. `"Ok"`; `""` if absent. NULL for NULL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocr_result_response_status(result: *const ocr_result) -> *const c_char {
    read(result, std::ptr::null(), |r| r.response_status.as_ptr())
}

/// How many result files the answer holds (0 until the task is Completed). 0 for NULL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocr_result_count(result: *const ocr_result) -> usize {
    read(result, 0, |r| r.files.len())
}

/// The kind of result file `index`, as sent: `"Text"`, `"Pdf"`, `"Hocr"`, ...; `""` if the
/// server sent none. NULL if `index` is out of range or `result` is NULL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocr_result_type(result: *const ocr_result, index: usize) -> *const c_char {
    read(result, std::ptr::null(), |r| {
        r.files
            .get(index)
            .map_or(std::ptr::null(), |f| f.kind.as_ptr())
    })
}

/// The decoded bytes of result file `index`; `*len` receives their number. Text results are
/// UTF-8 bytes without a terminating NUL. Answers NULL (and `*len` = 0) if `index` is out of
/// range, if `result` is NULL, or if the bytes were written to a file (`ocr_result_path`); NULL
/// if `len` is NULL. An empty file answers a valid non-NULL pointer with `*len` = 0.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocr_result_data(
    result: *const ocr_result,
    index: usize,
    len: *mut usize,
) -> *const u8 {
    guard(std::ptr::null(), || {
        if len.is_null() {
            return std::ptr::null();
        }
        let bytes = borrow(result)
            .ok()
            .and_then(|r| r.files.get(index))
            .and_then(|f| match &f.stored {
                Stored::Memory(bytes) => Some(bytes),
                Stored::File { .. } => None,
            });
        write_out(len, bytes.map_or(0, Vec::len));
        bytes.map_or(std::ptr::null(), |bytes| {
            if bytes.is_empty() {
                c"".as_ptr().cast()
            } else {
                bytes.as_ptr()
            }
        })
    })
}

/// The number of decoded bytes of result file `index`, in memory or in its file. 0 if `index`
/// is out of range or `result` is NULL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocr_result_size(result: *const ocr_result, index: usize) -> u64 {
    read(result, 0, |r| {
        r.files.get(index).map_or(0, |f| match &f.stored {
            Stored::Memory(bytes) => bytes.len() as u64,
            Stored::File { size, .. } => *size,
        })
    })
}

/// The path of the file that holds result file `index`, for results from the `_to_dir` calls;
/// NULL for results held in memory, an index out of range, or NULL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocr_result_path(result: *const ocr_result, index: usize) -> *const c_char {
    read(result, std::ptr::null(), |r| {
        r.files
            .get(index)
            .map_or(std::ptr::null(), |f| match &f.stored {
                Stored::Memory(_) => std::ptr::null(),
                Stored::File { path, .. } => path.as_ptr(),
            })
    })
}

/// How many messages `error.messages` holds (why a task failed). 0 for NULL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocr_result_message_count(result: *const ocr_result) -> usize {
    read(result, 0, |r| r.messages.len())
}

/// Message `index` of `error.messages`; NULL if out of range or `result` is NULL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocr_result_message(
    result: *const ocr_result,
    index: usize,
) -> *const c_char {
    read(result, std::ptr::null(), |r| text_at(&r.messages, index))
}

/// How many warnings `error.warnings` holds. 0 for NULL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocr_result_warning_count(result: *const ocr_result) -> usize {
    read(result, 0, |r| r.warnings.len())
}

/// Warning `index` of `error.warnings`; NULL if out of range or `result` is NULL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocr_result_warning(
    result: *const ocr_result,
    index: usize,
) -> *const c_char {
    read(result, std::ptr::null(), |r| text_at(&r.warnings, index))
}

/// Writes the decoded bytes of result file `index` to `path`, atomically: through a temporary
/// file in the same folder that is renamed over `path`, so a failure (a missing folder, no
/// permission, a full disk) never leaves a partial file and an existing file is replaced whole.
/// Failures are `OCR_ERR_IO` with the OS reason; an index out of range is
/// `OCR_ERR_INVALID_ARGUMENT`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocr_result_save(
    result: *const ocr_result,
    index: usize,
    path: *const c_char,
) -> ocr_code {
    guard_code(|| {
        let result = borrow(result)?;
        let path = required_str(path, "path")?;
        let entry = result.files.get(index).ok_or_else(|| {
            invalid(format!(
                "index {index} is out of range: the result has {} files",
                result.files.len()
            ))
        })?;
        match &entry.stored {
            Stored::Memory(bytes) => save_atomically(Path::new(path), bytes),
            Stored::File { path: source, .. } => copy_atomically(
                Path::new(source.to_str().expect("paths of results are UTF-8")),
                Path::new(path),
            ),
        }
    })
}
