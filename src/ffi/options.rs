//! `ocr_poll_options` and `ocr_cancel`.

use super::{Handle, borrow, borrow_mut, boxed, free_boxed, guard, guard_code, ocr_code};
use crate::cancel::Cancel;
use crate::error::Result;
use crate::poll::PollOptions;
use crate::wire::TaskStatus;
use std::ffi::{c_char, c_void};
use std::sync::Arc;
use std::time::Duration;

/// Where a task is in the service's queue. The values are fixed and never reused.
pub type ocr_task_status = i32;

/// A status string this library does not know (`ocr_result_task_status_text` has it).
pub const OCR_TASK_UNKNOWN: ocr_task_status = 0;
/// Queued, not started.
pub const OCR_TASK_PENDING: ocr_task_status = 1;
/// Being worked on.
pub const OCR_TASK_PROCESSING: ocr_task_status = 2;
/// Finished; the results are ready.
pub const OCR_TASK_COMPLETED: ocr_task_status = 3;
/// Finished with an error; the messages say why.
pub const OCR_TASK_ERROR: ocr_task_status = 4;
/// No such task: a wrong id, a cancelled task, or results older than 24 hours.
pub const OCR_TASK_NOT_EXIST: ocr_task_status = 5;

/// The name of a task status as the service spells it: `"Pending"`, `"Processing"`,
/// `"Completed"`, `"Error"`, `"NotExist"`; `"Unknown"` for `OCR_TASK_UNKNOWN` and any other
/// value. Never NULL; the string is static.
#[unsafe(no_mangle)]
pub extern "C" fn ocr_task_status_name(status: ocr_task_status) -> *const c_char {
    TaskStatus::from_i32(status)
        .unwrap_or(TaskStatus::Unknown)
        .c_name()
        .as_ptr()
}

/// Called once per answer while a poll waits for a task, on the thread that called the poll.
///
/// `user_data` is the pointer given to `ocr_poll_options_set_progress`; `task_id` is valid only
/// during the call; `status` is the task's status in this answer; `attempt` counts the requests
/// for this task from 1. The callback must return normally (no `longjmp`, no exceptions); to
/// stop the poll from inside it, trigger the poll's cancel token (`ocr_cancel_trigger`).
pub type ocr_progress_fn = Option<
    extern "C" fn(
        user_data: *mut c_void,
        task_id: *const c_char,
        status: ocr_task_status,
        attempt: u32,
    ),
>;

/// How to poll: interval, backoff, learning, attempt limit, deadline, cancellation and progress.
///
/// Defaults (also used when a poll gets NULL options): the first wait is 3000 ms, each later wait
/// is 1.5 times longer up to 5000 ms, no attempt limit, a deadline of 600000 ms (10 minutes), no
/// cancel token, no progress callback, learning on with a request worth 0.5 s of waiting.
///
/// Learning: the client learns, per operation, how long its tasks take from what its polls see
/// (every poll of the client, `ocr_poll_many` and batches included). Once 20 tasks of an
/// operation have finished, and while the learned model is sure, requests go out when they
/// minimise the mean wait after the task is done plus the request cost per request, given the
/// time already waited; never sooner than 200 ms after the previous request for the task. A
/// task this client submitted counts from its submission (its first request may then wait);
/// any other from its first request (sent at once). Before that, and whenever the model is
/// unsure, the fixed schedule (interval and backoff) applies. Setting the interval or the
/// backoff turns learning off (an explicit schedule is kept); `ocr_poll_options_set_learning`
/// turns it on or off. The deadline, cancel token, attempt limit and `Retry-After` apply as
/// they do to the fixed schedule.
///
/// Thread safety: setters must not run while another thread uses the same options; many polls
/// may read one options object at once.
pub struct ocr_poll_options {
    _private: [u8; 0],
}

/// The value behind `ocr_poll_options`.
#[derive(Clone)]
pub(super) struct Options {
    pub(super) poll: PollOptions,
    pub(super) progress: ocr_progress_fn,
    pub(super) user_data: *mut c_void,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            poll: PollOptions::default(),
            progress: None,
            user_data: std::ptr::null_mut(),
        }
    }
}

impl Options {
    /// Reports an answer to the progress callback, if there is one.
    pub(super) fn report(&self, task_id: &std::ffi::CStr, status: ocr_task_status, attempt: u32) {
        if let Some(progress) = self.progress {
            progress(self.user_data, task_id.as_ptr(), status, attempt);
        }
    }
}

impl Handle for ocr_poll_options {
    type Value = Options;
    const NAME: &'static str = "options";
}

/// The options argument of a poll: NULL means the defaults.
pub(super) fn options_arg(options: *const ocr_poll_options) -> Result<Options> {
    if options.is_null() {
        Ok(Options::default())
    } else {
        borrow(options).cloned()
    }
}

/// A switch that cancels polls (through `ocr_poll_options`) and other calls (through
/// `ocr_call_options`) from any thread.
///
/// Thread safety: all functions may be called from any thread at any time. The switch stays
/// triggered once triggered. Options that use it keep it alive, so it may be freed while they
/// still refer to it.
pub struct ocr_cancel {
    _private: [u8; 0],
}

/// Creates poll options with the defaults. Free them with `ocr_poll_options_free`. Answers NULL
/// only if memory is exhausted.
#[unsafe(no_mangle)]
pub extern "C" fn ocr_poll_options_new() -> *mut ocr_poll_options {
    guard(std::ptr::null_mut(), || boxed(Options::default()))
}

/// Frees poll options. NULL does nothing.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocr_poll_options_free(options: *mut ocr_poll_options) {
    free_boxed(options)
}

fn update(
    options: *mut ocr_poll_options,
    change: impl FnOnce(&mut Options) -> Result<()>,
) -> ocr_code {
    guard_code(|| change(borrow_mut(options)?))
}

/// The wait after the first not-finished answer, in milliseconds; at least 1 (0 is
/// `OCR_ERR_INVALID_ARGUMENT`). Default 3000. Turns learning off: the schedule is fixed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocr_poll_options_set_interval_ms(
    options: *mut ocr_poll_options,
    first_interval_ms: u32,
) -> ocr_code {
    update(options, |o| {
        o.poll
            .set_first_interval(Duration::from_millis(first_interval_ms.into()))
    })
}

/// Backoff: the n-th wait is `min(first_interval * factor^(n-1), max_interval_ms)`. `factor`
/// must be a number of at least 1.0 (1.0: a fixed interval) and `max_interval_ms` at least 1;
/// anything else is `OCR_ERR_INVALID_ARGUMENT`. Default 1.5 and 5000. Turns learning off: the
/// schedule is fixed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocr_poll_options_set_backoff(
    options: *mut ocr_poll_options,
    factor: f64,
    max_interval_ms: u32,
) -> ocr_code {
    update(options, |o| {
        o.poll
            .set_backoff(factor, Duration::from_millis(max_interval_ms.into()))
    })
}

/// Learning on (1, the default) or off (0: the fixed schedule alone, and this poll teaches the
/// client nothing). Call it after setting the interval or the backoff to learn with them as
/// the fixed schedule used until the model is sure. Any other value is
/// `OCR_ERR_INVALID_ARGUMENT`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocr_poll_options_set_learning(
    options: *mut ocr_poll_options,
    learn: u8,
) -> ocr_code {
    update(options, |o| {
        o.poll.learn = match learn {
            0 => false,
            1 => true,
            other => {
                return Err(crate::error::invalid(format!(
                    "learning is 0 (off) or 1 (on), not {other}"
                )));
            }
        };
        Ok(())
    })
}

/// What one request costs, in seconds of waiting, for the learned schedule: a higher cost
/// means fewer requests and longer waits after tasks finish. A number of at least 0; anything
/// else (negative, infinite, NaN) is `OCR_ERR_INVALID_ARGUMENT`. Default 0.5.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocr_poll_options_set_request_cost(
    options: *mut ocr_poll_options,
    seconds: f64,
) -> ocr_code {
    update(options, |o| o.poll.set_request_cost(seconds))
}

/// At most this many requests for the task; when they are used up without a final answer, the
/// poll fails with `OCR_ERR_NOT_READY`. 0: no limit (the default).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocr_poll_options_set_max_attempts(
    options: *mut ocr_poll_options,
    attempts: u32,
) -> ocr_code {
    update(options, |o| {
        o.poll.max_attempts = attempts;
        Ok(())
    })
}

/// The deadline of the whole poll in milliseconds, counted from the start of the poll; 0: none.
/// No wait runs past it: when the next wait would, the poll fails with `OCR_ERR_TIMEOUT` at
/// once, and requests are cut short at it. Default 600000.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocr_poll_options_set_timeout_ms(
    options: *mut ocr_poll_options,
    timeout_ms: u32,
) -> ocr_code {
    update(options, |o| {
        o.poll.timeout = (timeout_ms != 0).then(|| Duration::from_millis(timeout_ms.into()));
        Ok(())
    })
}

/// The cancel token that ends polls using these options with `OCR_ERR_CANCELLED` (within
/// milliseconds, also during waits and while an answer's body is read). NULL removes it. The
/// options keep their own reference, so `cancel` may be freed before them.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocr_poll_options_set_cancel(
    options: *mut ocr_poll_options,
    cancel: *const ocr_cancel,
) -> ocr_code {
    update(options, |o| {
        o.poll.cancel = cancel_arc(cancel);
        Ok(())
    })
}

/// The progress callback (NULL removes it) and the pointer passed to it unchanged.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocr_poll_options_set_progress(
    options: *mut ocr_poll_options,
    progress: ocr_progress_fn,
    user_data: *mut c_void,
) -> ocr_code {
    update(options, |o| {
        o.progress = progress;
        o.user_data = user_data;
        Ok(())
    })
}

/// Another reference to the cancel switch behind a handle; NULL is `None`.
pub(super) fn cancel_arc(cancel: *const ocr_cancel) -> Option<Arc<Cancel>> {
    if cancel.is_null() {
        return None;
    }
    let cancel = cancel.cast::<Cancel>();
    // SAFETY: the handle came from `Arc::into_raw` in `ocr_cancel_new` and is still alive.
    unsafe {
        Arc::increment_strong_count(cancel);
        Some(Arc::from_raw(cancel))
    }
}

/// Creates a cancel token that is not triggered. Free it with `ocr_cancel_free`. Answers NULL
/// only if memory is exhausted.
#[unsafe(no_mangle)]
pub extern "C" fn ocr_cancel_new() -> *mut ocr_cancel {
    guard(std::ptr::null_mut(), || {
        Arc::into_raw(Arc::new(Cancel::new())).cast_mut().cast()
    })
}

/// Triggers the token: every call using it ends with `OCR_ERR_CANCELLED` within 50 ms.
/// Safe from any thread at any time; NULL does nothing.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocr_cancel_trigger(cancel: *const ocr_cancel) {
    guard((), || {
        if let Some(cancel) = cancel_arc(cancel) {
            cancel.trigger();
        }
    })
}

/// Frees the caller's reference to a cancel token. NULL does nothing. Options that still use the
/// token keep it alive.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocr_cancel_free(cancel: *mut ocr_cancel) {
    guard((), || {
        if !cancel.is_null() {
            // SAFETY: the handle came from `Arc::into_raw` and the caller gives its reference up.
            drop(unsafe { Arc::from_raw(cancel.cast_const().cast::<Cancel>()) });
        }
    })
}

/// Checks that the `ocr_task_status` constants match the Rust statuses.
#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::TaskStatus;

    #[test]
    fn status_constants_match() {
        for (constant, status) in [
            (OCR_TASK_UNKNOWN, TaskStatus::Unknown),
            (OCR_TASK_PENDING, TaskStatus::Pending),
            (OCR_TASK_PROCESSING, TaskStatus::Processing),
            (OCR_TASK_COMPLETED, TaskStatus::Completed),
            (OCR_TASK_ERROR, TaskStatus::Error),
            (OCR_TASK_NOT_EXIST, TaskStatus::NotExist),
        ] {
            assert_eq!(constant, status as i32);
        }
    }

    #[test]
    fn status_names_are_the_services_spelling() {
        let name = |status| {
            // SAFETY: the function answers a static NUL-terminated string.
            unsafe { std::ffi::CStr::from_ptr(ocr_task_status_name(status)) }
                .to_str()
                .unwrap()
        };
        assert_eq!(name(OCR_TASK_PENDING), "Pending");
        assert_eq!(name(OCR_TASK_NOT_EXIST), "NotExist");
        assert_eq!(name(OCR_TASK_UNKNOWN), "Unknown");
        assert_eq!(name(42), "Unknown");
    }

    #[test]
    fn options_keep_a_freed_cancel_token_alive() {
        let cancel = ocr_cancel_new();
        let options = ocr_poll_options_new();
        assert_eq!(unsafe { ocr_poll_options_set_cancel(options, cancel) }, 0);
        unsafe { ocr_cancel_trigger(cancel) };
        unsafe { ocr_cancel_free(cancel) };
        let kept = options_arg(options).unwrap();
        assert!(kept.poll.cancel.unwrap().is_triggered());
        unsafe { ocr_poll_options_free(options) };
    }

    #[test]
    fn refuses_null_options_and_bad_factors() {
        assert_eq!(
            unsafe { ocr_poll_options_set_interval_ms(std::ptr::null_mut(), 5) },
            1
        );
        let options = ocr_poll_options_new();
        assert_eq!(unsafe { ocr_poll_options_set_backoff(options, 0.5, 10) }, 1);
        assert_eq!(
            unsafe { ocr_poll_options_set_backoff(options, f64::NAN, 10) },
            1
        );
        assert_eq!(unsafe { ocr_poll_options_set_backoff(options, 2.0, 10) }, 0);
        assert_eq!(unsafe { ocr_poll_options_set_backoff(options, 1.0, 0) }, 1);
        assert_eq!(unsafe { ocr_poll_options_set_interval_ms(options, 0) }, 1);
        assert_eq!(unsafe { ocr_poll_options_set_interval_ms(options, 1) }, 0);
        assert!(!options_arg(options).unwrap().poll.learn);
        assert_eq!(unsafe { ocr_poll_options_set_learning(options, 2) }, 1);
        assert_eq!(unsafe { ocr_poll_options_set_learning(options, 1) }, 0);
        assert!(options_arg(options).unwrap().poll.learn);
        for bad in [-0.1, f64::NAN, f64::INFINITY] {
            assert_eq!(
                unsafe { ocr_poll_options_set_request_cost(options, bad) },
                1
            );
        }
        assert_eq!(
            unsafe { ocr_poll_options_set_request_cost(options, 0.0) },
            0
        );
        assert_eq!(
            unsafe { ocr_poll_options_set_request_cost(options, 2.5) },
            0
        );
        assert_eq!(options_arg(options).unwrap().poll.request_cost, 2.5);
        assert_eq!(
            unsafe { ocr_poll_options_set_learning(std::ptr::null_mut(), 1) },
            1
        );
        unsafe { ocr_poll_options_free(options) };
        unsafe { ocr_poll_options_free(std::ptr::null_mut()) };
        unsafe { ocr_cancel_free(std::ptr::null_mut()) };
        unsafe { ocr_cancel_trigger(std::ptr::null()) };
    }
}
