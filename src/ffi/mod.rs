//! The C surface. It only translates: it checks pointers and strings, turns handles into Rust
//! values, catches panics, and maps errors to codes and the thread's last error message. Every
//! exported item's doc comment is copied into `include/ocrcloud.h`.

//!
//! # Safety
//!
//! Every function here that takes a pointer is `unsafe` to call from Rust, with one contract
//! for all of them, the header's: each pointer is NULL where the documentation allows it, or
//! valid for what the documentation says (a live handle from its `_new`, a NUL-terminated
//! string, `len` readable bytes, an array of `count` elements, a writable out-parameter).
//! NULL where a value is required is detected and answered with `OCR_ERR_INVALID_ARGUMENT`;
//! other invalid pointers cannot be. So safe Rust cannot call them without `unsafe`:
//!
//! ```compile_fail,E0133
//! ocrcloud::ffi::ocr_client_free(std::ptr::null_mut());
//! ```

#![allow(non_camel_case_types)]
// The safety contract is the one above, the same for every function: no section of its own.
#![allow(clippy::missing_safety_doc)]

mod batch;
mod call;
mod client;
mod logging;
mod options;
mod result;

pub use batch::*;
pub use call::*;
pub use client::*;
pub use logging::*;
pub use options::*;
pub use result::*;

use crate::error::{Code, Error, Result, invalid};
use crate::{panics, secrets};
use std::cell::RefCell;
use std::ffi::{CStr, CString, c_char};
use std::panic::{AssertUnwindSafe, catch_unwind};

/// Status of a fallible call: `OCR_OK` (0) or one of the `OCR_ERR_*` codes. The values are fixed
/// and never reused.
pub type ocr_code = i32;

/// Success.
pub const OCR_OK: ocr_code = 0;
/// A NULL, malformed or out-of-range argument; nothing was sent.
pub const OCR_ERR_INVALID_ARGUMENT: ocr_code = 1;
/// The connection could not be made or broke off (after the retries).
pub const OCR_ERR_NETWORK: ocr_code = 2;
/// A request timed out, or the poll's deadline passed.
pub const OCR_ERR_TIMEOUT: ocr_code = 3;
/// The server answered an HTTP error status (after the retries).
pub const OCR_ERR_HTTP: ocr_code = 4;
/// The server refused the token or the credentials (401/403, also after one token refresh).
pub const OCR_ERR_UNAUTHORIZED: ocr_code = 5;
/// The server's answer does not follow the protocol (malformed JSON, wrong types).
pub const OCR_ERR_PROTOCOL: ocr_code = 6;
/// A result's base64 data is invalid.
pub const OCR_ERR_DECODE: ocr_code = 7;
/// The task ended in `Error`; the message holds the server's `error.messages`.
pub const OCR_ERR_TASK_FAILED: ocr_code = 8;
/// The task does not exist: a wrong id, a cancelled task, or results older than 24 hours.
pub const OCR_ERR_TASK_NOT_FOUND: ocr_code = 9;
/// The task was still not finished when the poll's attempts ran out.
pub const OCR_ERR_NOT_READY: ocr_code = 10;
/// The call was cancelled through an `ocr_cancel`.
pub const OCR_ERR_CANCELLED: ocr_code = 11;
/// An answer exceeds the client's size limit, or the server refused a request as too large.
pub const OCR_ERR_TOO_LARGE: ocr_code = 12;
/// Reading or writing a local file failed; the message holds the OS reason.
pub const OCR_ERR_IO: ocr_code = 13;
/// A bug in this library (a caught panic). Please report it.
pub const OCR_ERR_INTERNAL: ocr_code = 14;
/// The TLS connection failed: an untrusted, self-signed, expired or not yet valid certificate,
/// a name mismatch, a failed handshake. Never retried; the message says which, in one sentence.
pub const OCR_ERR_TLS: ocr_code = 15;

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

/// Remembers `error` as this thread's last failure (cleaned of every secret) and answers its
/// code. During the thread's teardown, when its storage is gone, only the code is answered.
fn fail(error: &Error) -> ocr_code {
    let text =
        CString::new(secrets::redact(error.message()).replace('\0', " ")).unwrap_or_default();
    let _ = LAST_ERROR.try_with(|last| *last.borrow_mut() = text);
    error.code() as ocr_code
}

/// The message for a caught panic.
fn panic_error(payload: Box<dyn std::any::Any + Send>) -> Error {
    let what = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_string());
    Error::new(
        Code::Internal,
        format!("internal error in ocrcloud (please report it): {what}"),
    )
}

/// Runs the body of a function that returns `ocr_code`: `Ok` is `OCR_OK`, an error sets the
/// thread's last error message, and a panic becomes `OCR_ERR_INTERNAL`. Recording the error
/// runs inside the panic boundary too.
fn guard_code(body: impl FnOnce() -> Result<()>) -> ocr_code {
    let _inside = panics::enter();
    catch_unwind(AssertUnwindSafe(|| match body() {
        Ok(()) => OCR_OK,
        Err(error) => fail(&error),
    }))
    .unwrap_or_else(|payload| recorded_panic(payload, OCR_ERR_INTERNAL))
}

/// Runs the body of a function that cannot fail (accessors, frees); a panic answers `fallback`.
fn guard<T>(fallback: T, body: impl FnOnce() -> T) -> T {
    let _inside = panics::enter();
    catch_unwind(AssertUnwindSafe(body)).unwrap_or_else(|payload| recorded_panic(payload, fallback))
}

/// Records a caught panic as the last error, itself inside a panic boundary, and answers
/// `fallback`.
fn recorded_panic<T>(payload: Box<dyn std::any::Any + Send>, fallback: T) -> T {
    let _ = catch_unwind(AssertUnwindSafe(|| fail(&panic_error(payload))));
    fallback
}

/// A required string argument: not NULL, valid UTF-8.
fn required_str<'a>(ptr: *const c_char, name: &str) -> Result<&'a str> {
    optional_str(ptr, name)?.ok_or_else(|| invalid(format!("{name} is NULL")))
}

/// An optional string argument: NULL is `None`; otherwise it must be valid UTF-8.
fn optional_str<'a>(ptr: *const c_char, name: &str) -> Result<Option<&'a str>> {
    if ptr.is_null() {
        return Ok(None);
    }
    // SAFETY: the caller passes a NUL-terminated string that outlives this call.
    let text = unsafe { CStr::from_ptr(ptr) };
    text.to_str()
        .map(Some)
        .map_err(|_| invalid(format!("{name} is not valid UTF-8")))
}

/// Checks that an out-parameter is not NULL.
fn out_param<T>(ptr: *mut T, name: &str) -> Result<()> {
    if ptr.is_null() {
        Err(invalid(format!("{name} is NULL")))
    } else {
        Ok(())
    }
}

/// Writes an out-parameter checked by [`out_param`].
fn write_out<T>(ptr: *mut T, value: T) {
    // SAFETY: checked non-NULL by `out_param`; the caller gives a pointer to writable memory.
    unsafe { ptr.write(value) }
}

/// Ties an opaque C handle type to the Rust value behind it.
trait Handle {
    /// The Rust value a handle points to.
    type Value;
    /// The argument name used in messages.
    const NAME: &'static str;
}

/// Borrows the value behind a handle; NULL is an invalid argument.
fn borrow<'a, H: Handle>(ptr: *const H) -> Result<&'a H::Value> {
    if ptr.is_null() {
        return Err(invalid(format!("{} is NULL", H::NAME)));
    }
    // SAFETY: non-NULL handles come from `boxed` and live until their `_free`.
    Ok(unsafe { &*ptr.cast::<H::Value>() })
}

/// Borrows the value behind a handle mutably; NULL is an invalid argument.
fn borrow_mut<'a, H: Handle>(ptr: *mut H) -> Result<&'a mut H::Value> {
    if ptr.is_null() {
        return Err(invalid(format!("{} is NULL", H::NAME)));
    }
    // SAFETY: as in `borrow`; the caller does not use the handle from another thread meanwhile.
    Ok(unsafe { &mut *ptr.cast::<H::Value>() })
}

/// Moves a value to the heap and answers the handle the caller owns.
fn boxed<H: Handle>(value: H::Value) -> *mut H {
    Box::into_raw(Box::new(value)).cast()
}

/// Frees a handle made by `boxed`; NULL does nothing.
fn free_boxed<H: Handle>(ptr: *mut H) {
    guard((), || {
        if !ptr.is_null() {
            // SAFETY: the handle came from `boxed` and is freed once.
            drop(unsafe { Box::from_raw(ptr.cast::<H::Value>()) });
        }
    })
}

/// The version of the library, e.g. `"0.1.0"`: equal to `OCR_VERSION_STRING` of the header it
/// was built with. The string is static; never free it.
#[unsafe(no_mangle)]
pub extern "C" fn ocr_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

/// The name of a code, e.g. `"OCR_ERR_TIMEOUT"`; `"OCR_OK"` for 0 and `"OCR_ERR_UNKNOWN"` for a
/// value that is not a code. Never NULL; the string is static.
#[unsafe(no_mangle)]
pub extern "C" fn ocr_code_name(code: ocr_code) -> *const c_char {
    let name: &'static CStr = match Code::from_i32(code) {
        _ if code == OCR_OK => c"OCR_OK",
        Some(code) => code.c_name(),
        None => c"OCR_ERR_UNKNOWN",
    };
    name.as_ptr()
}

/// The reason for the last failure of an `ocr_` call on the calling thread, as one sentence
/// naming what failed (never a token or secret); `""` if no call on this thread has failed.
/// Successful calls do not clear it. Never NULL. The string belongs to the library and stays
/// valid until the next failing `ocr_` call on this thread; copy it to keep it.
#[unsafe(no_mangle)]
pub extern "C" fn ocr_last_error_message() -> *const c_char {
    LAST_ERROR
        .try_with(|last| last.borrow().as_ptr())
        .unwrap_or(c"".as_ptr())
}

/// Frees a string that the library returned for the caller to own (such as a task id from
/// `ocr_submit`). `ocr_string_free(NULL)` does nothing. Never pass other strings.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocr_string_free(s: *mut c_char) {
    guard((), || {
        if !s.is_null() {
            // SAFETY: the string came from `CString::into_raw` in this library.
            drop(unsafe { CString::from_raw(s) });
        }
    })
}

/// Hands a string to the caller, who frees it with `ocr_string_free`.
fn give_string(text: String) -> Result<*mut c_char> {
    CString::new(text)
        .map(CString::into_raw)
        .map_err(|_| Error::new(Code::Protocol, "a string from the server contains NUL"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constants_match_the_rust_codes() {
        let constants = [
            OCR_ERR_INVALID_ARGUMENT,
            OCR_ERR_NETWORK,
            OCR_ERR_TIMEOUT,
            OCR_ERR_HTTP,
            OCR_ERR_UNAUTHORIZED,
            OCR_ERR_PROTOCOL,
            OCR_ERR_DECODE,
            OCR_ERR_TASK_FAILED,
            OCR_ERR_TASK_NOT_FOUND,
            OCR_ERR_NOT_READY,
            OCR_ERR_CANCELLED,
            OCR_ERR_TOO_LARGE,
            OCR_ERR_IO,
            OCR_ERR_INTERNAL,
            OCR_ERR_TLS,
        ];
        for (constant, code) in constants.into_iter().zip(Code::ALL) {
            assert_eq!(constant, code as i32);
            // SAFETY: the function answers a static NUL-terminated string.
            let name = unsafe { CStr::from_ptr(ocr_code_name(constant)) };
            assert_eq!(name.to_str().unwrap(), code.name());
        }
    }

    #[test]
    fn a_panic_becomes_an_internal_error_with_a_message() {
        let code = guard_code(|| panic!("boom"));
        assert_eq!(code, OCR_ERR_INTERNAL);
        // SAFETY: the pointer is valid until the next failing call on this thread.
        let message = unsafe { CStr::from_ptr(ocr_last_error_message()) };
        assert!(message.to_str().unwrap().contains("boom"));
        assert_eq!(guard(7, || panic!("again")), 7);
    }
}
