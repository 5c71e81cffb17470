//! `ocr_call_options`: the deadline and cancel token of one call that is not a poll.

use super::options::{cancel_arc, ocr_cancel};
use super::{Handle, borrow, borrow_mut, boxed, free_boxed, guard, guard_code, ocr_code};
use crate::call::Call;
use crate::cancel::Cancel;
use crate::error::Result;
use std::sync::Arc;
use std::time::Duration;

/// The limits of one call of the `_ex` functions (submit, fetch, status, cancel): a deadline
/// and a cancel token. A call given these options ends with `OCR_ERR_TIMEOUT` at its deadline
/// and with `OCR_ERR_CANCELLED` within 50 ms of a trigger, whatever it is doing: connecting,
/// sending, waiting for an answer or a token, or waiting before a retry.
///
/// Defaults (also used for NULL options): no deadline beyond the client's timeouts, no cancel
/// token. Thread safety: setters must not run while another thread uses the same options; many
/// calls may read one options object at once. The deadline counts from the start of each call.
pub struct ocr_call_options {
    _private: [u8; 0],
}

/// The value behind `ocr_call_options`.
#[derive(Clone, Default)]
pub(super) struct CallOptions {
    timeout: Option<Duration>,
    cancel: Option<Arc<Cancel>>,
}

impl CallOptions {
    /// The limits of a call that starts now.
    pub(super) fn call(&self) -> Call<'_> {
        Call::new(self.timeout, self.cancel.as_ref())
    }
}

impl Handle for ocr_call_options {
    type Value = CallOptions;
    const NAME: &'static str = "call_options";
}

/// The call options argument: NULL means the defaults.
pub(super) fn call_arg(options: *const ocr_call_options) -> Result<CallOptions> {
    if options.is_null() {
        Ok(CallOptions::default())
    } else {
        borrow(options).cloned()
    }
}

/// Creates call options with the defaults. Free them with `ocr_call_options_free`. Answers
/// NULL only if memory is exhausted.
#[unsafe(no_mangle)]
pub extern "C" fn ocr_call_options_new() -> *mut ocr_call_options {
    guard(std::ptr::null_mut(), || boxed(CallOptions::default()))
}

/// Frees call options. NULL does nothing.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocr_call_options_free(options: *mut ocr_call_options) {
    free_boxed(options)
}

/// The deadline of each call using these options, in milliseconds from its start; 0: none
/// (the default). The client's timeouts are shortened to it.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocr_call_options_set_timeout_ms(
    options: *mut ocr_call_options,
    timeout_ms: u32,
) -> ocr_code {
    guard_code(|| {
        borrow_mut(options)?.timeout =
            (timeout_ms != 0).then(|| Duration::from_millis(timeout_ms.into()));
        Ok(())
    })
}

/// The cancel token that ends calls using these options; NULL removes it. The options keep
/// their own reference, so `cancel` may be freed before them.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocr_call_options_set_cancel(
    options: *mut ocr_call_options,
    cancel: *const ocr_cancel,
) -> ocr_code {
    guard_code(|| {
        borrow_mut(options)?.cancel = cancel_arc(cancel);
        Ok(())
    })
}
