//! Logging: the level and the host's callback.

use super::{guard, guard_code, ocr_code};
use crate::error::invalid;
use crate::logging::{Level, set_max_level, set_receiver};
use std::ffi::{CString, c_char, c_void};

/// Log nothing (the default unless `OCRCLOUD_LOG` says otherwise).
pub const OCR_LOG_OFF: i32 = 0;
/// Failures and unsafe settings.
pub const OCR_LOG_WARN: i32 = 1;
/// Retries, backoff waits, token refreshes.
pub const OCR_LOG_INFO: i32 = 2;
/// Every request and every poll.
pub const OCR_LOG_DEBUG: i32 = 3;

/// Receives one log line: `level` is `OCR_LOG_WARN`, `OCR_LOG_INFO` or `OCR_LOG_DEBUG`;
/// `message` is valid only during the call and never contains a token or secret.
///
/// It may be called from any thread, including the library's own worker threads of
/// `ocr_poll_many` and several threads at once, so it must be thread-safe. It must return
/// normally and must not call `ocr_set_log_callback`; other `ocr_` calls made from inside it
/// work but log nothing, except that a call that needs a token while the line comes from that
/// token's fetch on the same thread fails at once with `OCR_ERR_INVALID_ARGUMENT`. It must not
/// wait for another thread's call into the library either: that call may be waiting for the
/// token this thread is fetching.
pub type ocr_log_fn =
    Option<extern "C" fn(user_data: *mut c_void, level: i32, message: *const c_char)>;

/// The host's callback and its pointer, which the host promises to be usable from any thread.
struct HostLogger {
    callback: extern "C" fn(*mut c_void, i32, *const c_char),
    user_data: *mut c_void,
}

// SAFETY: `ocr_set_log_callback` documents that the callback and `user_data` are used from any
// thread; the host takes responsibility for that.
unsafe impl Send for HostLogger {}
unsafe impl Sync for HostLogger {}

impl HostLogger {
    fn pass_on(&self, level: Level, message: &str) {
        let text = CString::new(message.replace('\0', " ")).unwrap_or_default();
        (self.callback)(self.user_data, level as i32, text.as_ptr());
    }
}

/// Sends the library's log lines to `callback` (with `user_data` passed back unchanged) instead
/// of stderr; NULL restores stderr. The setting is process-wide; the lines wanted are chosen by
/// `ocr_set_log_level` or the `OCRCLOUD_LOG` environment variable (`warn`, `info`, `debug`),
/// and are off by default. When this function returns, the previous callback is not running and
/// will not be called again, so its `user_data` may be freed. See `ocr_log_fn` for the rules the
/// callback must follow.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocr_set_log_callback(callback: ocr_log_fn, user_data: *mut c_void) {
    guard((), || {
        set_receiver(callback.map(|callback| {
            let host = HostLogger {
                callback,
                user_data,
            };
            Box::new(move |level: Level, message: &str| host.pass_on(level, message))
                as crate::logging::Receiver
        }))
    })
}

/// Chooses the most detailed log lines passed on, process-wide: `OCR_LOG_OFF` (0),
/// `OCR_LOG_WARN`, `OCR_LOG_INFO` or `OCR_LOG_DEBUG` (3); overrides `OCRCLOUD_LOG`. Another
/// value is `OCR_ERR_INVALID_ARGUMENT`. Thread-safe.
#[unsafe(no_mangle)]
pub extern "C" fn ocr_set_log_level(level: i32) -> ocr_code {
    guard_code(|| {
        if !(OCR_LOG_OFF..=OCR_LOG_DEBUG).contains(&level) {
            return Err(invalid(format!("{level} is not a log level (0 to 3)")));
        }
        set_max_level(level);
        Ok(())
    })
}
