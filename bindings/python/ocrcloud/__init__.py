"""Python bindings for ocrcloud, the client of the Aspose OCR Cloud v5.0 task API.

A thin ctypes layer over the C library ``libocrcloud``: fetching, polling, retries, tokens and
base64 decoding all happen in the library. Standard library only; Python 3.8+; Linux x86-64 and
arm64, Windows x64 (one wheel each).

The library is loaded at import from beside this file (the wheel puts it there: ``ocrcloud.dll``
on Windows, ``libocrcloud.dylib`` on macOS, ``libocrcloud.so`` elsewhere), else from
``$OCRCLOUD_LIBRARY`` (a path to the file), else from the folder ``$OCRCLOUD_LIBRARY_DIR``, else
wherever ``ctypes.util.find_library("ocrcloud")`` finds it.

Data: ``Result.files`` gives each file's bytes as a read-only ``memoryview`` of the library's
own buffer, without a copy; ``bytes(file.data)`` copies. The views stay valid while the
``Result`` is open; ``close()`` releases them, and using one afterwards raises ``ValueError``.
A slice or a ``memoryview`` of a view, or a buffer taken from it (``numpy.frombuffer``), keeps
the library's buffer alive until it is gone, so nothing ever reads freed memory.

asyncio: ``await client.poll_async(...)`` runs a poll on a thread of its own; cancelling the
awaiting task cancels the native poll within milliseconds.

Ownership: ``Client``, ``Result`` and ``CancelToken`` own a native object each. ``close()`` (or
leaving a ``with`` block, or garbage collection) frees it; ``close()`` may be called twice, and a
``close()`` while another thread is inside a call on the same object frees it when that call
returns. Using an object after ``close()`` raises ``ValueError``.

Threads: a ``Client`` may be shared by any number of threads; the library releases the GIL
while it waits. ``CancelToken.cancel()`` works from any thread. Progress callbacks run on the
thread that called ``poll``, except on the main thread: there the native call runs on a helper
thread, so that Ctrl-C (``KeyboardInterrupt``) cancels it within milliseconds.

Exit: when the interpreter exits, the module cancels the polls still running (in daemon
threads, say), waits up to a second for them to return and detaches its log callback, so that
the library never calls into an interpreter that is being torn down. The daemon threads of
those polls then wait, inside the poll, for the process to end.

Limits: ``submit``, ``submit_file``, ``fetch``, ``fetch_to_dir``, ``task_status`` and
``cancel_task`` take the keyword arguments ``timeout_ms=`` (a deadline for the call, then
``TimedOutError``) and ``cancel=`` (a ``CancelToken``, then ``CancelledError``); the polls take
them among their options.

Errors: every failure of the library raises an ``OcrError`` subclass with ``.code`` (a
``Code``) and ``.message`` (the library's sentence naming what failed).
"""

from __future__ import annotations

import atexit
import ctypes
import ctypes.util
import enum
import json
import os
import sys
import threading
import time
import weakref
from collections import namedtuple
from contextlib import contextmanager
from ctypes import (
    CFUNCTYPE, POINTER, Structure, byref, c_char_p, c_double, c_int32, c_size_t, c_ubyte,
    c_uint8, c_uint32, c_uint64, c_void_p,
)
from dataclasses import dataclass
from typing import (
    TYPE_CHECKING, Any, Callable, Dict, Iterable, List, NamedTuple, Optional, TypeVar, Union,
)

if TYPE_CHECKING:  # imported when used: asyncio alone would double the import time
    import logging

_PathLike = Union[str, bytes, "os.PathLike[Any]"]
_Settings = Union[Dict[str, Any], str, None]
_T = TypeVar("_T")

__all__ = [
    "Client", "Result", "ResultFile", "CancelToken", "TaskStatus", "Code", "OcrError",
    "InvalidArgumentError", "NetworkError", "TimedOutError", "HttpError", "UnauthorizedError",
    "ProtocolError", "DecodeError", "TaskFailedError", "TaskNotFoundError", "NotReadyError",
    "CancelledError", "TooLargeError", "FileError", "InternalError", "TlsError", "version",
    "LogLevel", "set_log_level", "log_to", "ClientStats", "Batch", "BatchItem", "BatchState",
]


# ---------------------------------------------------------------------------------------------
# Loading the library and declaring every function of include/ocrcloud.h.

def _library_name(platform=sys.platform):
    """The library's file name on `platform` (a ``sys.platform`` value)."""
    return {"win32": "ocrcloud.dll", "darwin": "libocrcloud.dylib"}.get(platform, "libocrcloud.so")


def _library_path():
    beside = os.path.join(os.path.dirname(os.path.abspath(__file__)), _library_name())
    if os.path.exists(beside):
        return beside
    path = os.environ.get("OCRCLOUD_LIBRARY")
    if path:
        return path
    folder = os.environ.get("OCRCLOUD_LIBRARY_DIR")
    if folder:
        return os.path.join(folder, _library_name())
    found = ctypes.util.find_library("ocrcloud")
    if found:
        return found
    raise ImportError(
        "libocrcloud was not found: set OCRCLOUD_LIBRARY to the library's path or "
        "OCRCLOUD_LIBRARY_DIR to its folder (e.g. target/release)")


def _load():
    path = _library_path()
    try:
        return ctypes.CDLL(path)
    except OSError as error:
        raise ImportError(f"cannot load libocrcloud from {path!r}: {error}") from error


_lib = _load()


class _Client(Structure):
    """ocr_client (opaque)."""


class _Result(Structure):
    """ocr_result (opaque)."""


class _Options(Structure):
    """ocr_poll_options (opaque)."""


class _Cancel(Structure):
    """ocr_cancel (opaque)."""


class _Call(Structure):
    """ocr_call_options (opaque)."""


class _Batch(Structure):
    """ocr_batch (opaque)."""


_code = c_int32
_status = c_int32
_client_p = POINTER(_Client)
_result_p = POINTER(_Result)
_options_p = POINTER(_Options)
_cancel_p = POINTER(_Cancel)
_call_p = POINTER(_Call)
_batch_p = POINTER(_Batch)
_BATCH_PROGRESS = CFUNCTYPE(None, c_void_p, c_size_t, c_int32)
_PROGRESS = CFUNCTYPE(None, c_void_p, c_char_p, c_int32, c_uint32)
_LOG = CFUNCTYPE(None, c_void_p, c_int32, c_char_p)

# The task id that ocr_submit returns and the bytes of ocr_result_data are c_void_p, so that
# ctypes leaves the pointer alone (to be freed, or read with its length); the document of
# ocr_submit is c_char_p, so that bytes pass without a copy.
_SIGNATURES = {
    "ocr_version": (c_char_p, []),
    "ocr_code_name": (c_char_p, [_code]),
    "ocr_task_status_name": (c_char_p, [_status]),
    "ocr_set_log_callback": (None, [_LOG, c_void_p]),
    "ocr_set_log_level": (_code, [c_int32]),
    "ocr_last_error_message": (c_char_p, []),
    "ocr_string_free": (None, [c_void_p]),
    "ocr_client_new": (_code, [c_char_p, c_char_p, POINTER(_client_p)]),
    "ocr_client_new_with_credentials": (
        _code, [c_char_p, c_char_p, c_char_p, POINTER(_client_p)]),
    "ocr_client_free": (None, [_client_p]),
    "ocr_client_set_connect_timeout_ms": (_code, [_client_p, c_uint32]),
    "ocr_client_set_read_timeout_ms": (_code, [_client_p, c_uint32]),
    "ocr_client_set_request_timeout_ms": (_code, [_client_p, c_uint32]),
    "ocr_client_set_user_agent": (_code, [_client_p, c_char_p]),
    "ocr_client_set_max_response_bytes": (_code, [_client_p, c_uint64]),
    "ocr_client_set_allow_insecure_http": (_code, [_client_p, c_int32]),
    "ocr_client_set_max_attempts": (_code, [_client_p, c_uint32]),
    "ocr_client_set_max_connections": (_code, [_client_p, c_uint32]),
    # Networks: configure(ca_file=, ca_pem=, proxy=) and TlsError.
    "ocr_client_set_ca_file": (_code, [_client_p, c_char_p]),
    "ocr_client_set_ca_pem": (_code, [_client_p, c_char_p, c_size_t]),
    "ocr_client_set_proxy": (_code, [_client_p, c_char_p]),
    "ocr_submit": (
        _code, [_client_p, c_char_p, c_char_p, c_size_t, c_char_p, POINTER(c_void_p)]),
    "ocr_poll_options_new": (_options_p, []),
    "ocr_poll_options_free": (None, [_options_p]),
    "ocr_poll_options_set_interval_ms": (_code, [_options_p, c_uint32]),
    "ocr_poll_options_set_backoff": (_code, [_options_p, c_double, c_uint32]),
    "ocr_poll_options_set_learning": (_code, [_options_p, c_uint8]),
    "ocr_poll_options_set_request_cost": (_code, [_options_p, c_double]),
    "ocr_poll_options_set_max_attempts": (_code, [_options_p, c_uint32]),
    "ocr_poll_options_set_timeout_ms": (_code, [_options_p, c_uint32]),
    "ocr_poll_options_set_cancel": (_code, [_options_p, _cancel_p]),
    "ocr_poll_options_set_progress": (_code, [_options_p, _PROGRESS, c_void_p]),
    "ocr_cancel_new": (_cancel_p, []),
    "ocr_cancel_trigger": (None, [_cancel_p]),
    "ocr_cancel_free": (None, [_cancel_p]),
    "ocr_fetch_result": (_code, [_client_p, c_char_p, POINTER(_result_p)]),
    "ocr_fetch_result_for": (_code, [_client_p, c_char_p, c_char_p, POINTER(_result_p)]),
    "ocr_poll_until_done": (_code, [_client_p, c_char_p, _options_p, POINTER(_result_p)]),
    "ocr_poll_until_done_for": (
        _code, [_client_p, c_char_p, c_char_p, _options_p, POINTER(_result_p)]),
    "ocr_result_free": (None, [_result_p]),
    "ocr_result_task_status": (_status, [_result_p]),
    "ocr_result_task_status_text": (c_char_p, [_result_p]),
    "ocr_result_id": (c_char_p, [_result_p]),
    "ocr_result_response_status": (c_char_p, [_result_p]),
    "ocr_result_count": (c_size_t, [_result_p]),
    "ocr_result_type": (c_char_p, [_result_p, c_size_t]),
    "ocr_result_data": (c_void_p, [_result_p, c_size_t, POINTER(c_size_t)]),
    "ocr_result_message_count": (c_size_t, [_result_p]),
    "ocr_result_message": (c_char_p, [_result_p, c_size_t]),
    "ocr_result_warning_count": (c_size_t, [_result_p]),
    "ocr_result_warning": (c_char_p, [_result_p, c_size_t]),
    "ocr_result_save": (_code, [_result_p, c_size_t, c_char_p]),
    # The task lifecycle: Client.submit_file, cancel_task, task_status, poll_many (and
    # ocr_client_set_max_connections above) need these.
    "ocr_submit_file": (_code, [_client_p, c_char_p, c_char_p, c_char_p, POINTER(c_void_p)]),
    "ocr_cancel_task": (_code, [_client_p, c_char_p, c_char_p]),
    "ocr_get_task_status": (_code, [_client_p, c_char_p, c_char_p, POINTER(_status)]),
    "ocr_poll_many": (_code, [_client_p, c_char_p, POINTER(c_char_p), c_size_t, _options_p,
                              POINTER(_result_p), POINTER(_code)]),
    # Results written to files: Client.fetch_to_dir, poll_to_dir and Result.sizes, paths need
    # these.
    "ocr_fetch_result_to_dir": (
        _code, [_client_p, c_char_p, c_char_p, c_char_p, POINTER(_result_p)]),
    "ocr_poll_until_done_to_dir": (
        _code, [_client_p, c_char_p, c_char_p, _options_p, c_char_p, POINTER(_result_p)]),
    "ocr_result_size": (c_uint64, [_result_p, c_size_t]),
    "ocr_result_path": (c_char_p, [_result_p, c_size_t]),
    # The limits of one call (timeout_ms=, cancel=) and the per-task messages of poll_many.
    "ocr_call_options_new": (_call_p, []),
    "ocr_call_options_free": (None, [_call_p]),
    "ocr_call_options_set_timeout_ms": (_code, [_call_p, c_uint32]),
    "ocr_call_options_set_cancel": (_code, [_call_p, _cancel_p]),
    "ocr_submit_ex": (_code, [_client_p, c_char_p, c_char_p, c_size_t, c_char_p, _call_p,
                              POINTER(c_void_p)]),
    "ocr_submit_file_ex": (
        _code, [_client_p, c_char_p, c_char_p, c_char_p, _call_p, POINTER(c_void_p)]),
    "ocr_fetch_result_ex": (
        _code, [_client_p, c_char_p, c_char_p, _call_p, POINTER(_result_p)]),
    "ocr_fetch_result_to_dir_ex": (
        _code, [_client_p, c_char_p, c_char_p, c_char_p, _call_p, POINTER(_result_p)]),
    "ocr_get_task_status_ex": (
        _code, [_client_p, c_char_p, c_char_p, _call_p, POINTER(_status)]),
    "ocr_cancel_task_ex": (_code, [_client_p, c_char_p, c_char_p, _call_p]),
    "ocr_poll_many_message": (c_char_p, [c_size_t]),
    # Flow control: configure(max_rate=, circuit_breaker=) and Client.stats().
    "ocr_client_set_max_rate": (_code, [_client_p, c_double]),
    "ocr_client_set_circuit_breaker": (_code, [_client_p, c_int32]),
    "ocr_client_stats": (_code, [_client_p, c_int32, POINTER(c_double)]),
    # Batches: the Batch class.
    "ocr_batch_open": (_code, [_client_p, c_char_p, c_char_p, POINTER(_batch_p)]),
    "ocr_batch_add_file": (_code, [_batch_p, c_char_p, c_char_p, c_char_p, c_char_p]),
    "ocr_batch_add_folder": (
        _code, [_batch_p, c_char_p, c_char_p, c_char_p, POINTER(c_size_t)]),
    "ocr_batch_run": (_code, [_batch_p, c_uint32, _options_p, _BATCH_PROGRESS, c_void_p]),
    "ocr_batch_size": (c_size_t, [_batch_p]),
    "ocr_batch_count": (c_size_t, [_batch_p, c_int32]),
    "ocr_batch_item_state": (c_int32, [_batch_p, c_size_t]),
    "ocr_batch_item_path": (c_char_p, [_batch_p, c_size_t]),
    "ocr_batch_item_task_id": (c_char_p, [_batch_p, c_size_t]),
    "ocr_batch_item_message": (c_char_p, [_batch_p, c_size_t]),
    "ocr_batch_item_code": (_code, [_batch_p, c_size_t]),
    "ocr_batch_item_output_count": (c_size_t, [_batch_p, c_size_t]),
    "ocr_batch_item_output": (c_char_p, [_batch_p, c_size_t, c_size_t]),
    "ocr_batch_item_possible_duplicates": (c_uint32, [_batch_p, c_size_t]),
    "ocr_batch_item_skipped": (ctypes.c_uint8, [_batch_p, c_size_t]),
    "ocr_batch_item_seconds": (c_double, [_batch_p, c_size_t]),
    "ocr_batch_free": (None, [_batch_p]),
}

for _name, (_restype, _argtypes) in _SIGNATURES.items():
    _function = getattr(_lib, _name)  # an older library: AttributeError naming the function
    _function.restype = _restype
    _function.argtypes = _argtypes


def version() -> str:
    """The version of the loaded library, e.g. ``"0.1.0"``."""
    return _lib.ocr_version().decode()


# ---------------------------------------------------------------------------------------------
# Codes, statuses and errors.

class Code(enum.IntEnum):
    """The library's ``ocr_code`` values (``OCR_ERR_`` dropped)."""
    OK = 0
    INVALID_ARGUMENT = 1
    NETWORK = 2
    TIMEOUT = 3
    HTTP = 4
    UNAUTHORIZED = 5
    PROTOCOL = 6
    DECODE = 7
    TASK_FAILED = 8
    TASK_NOT_FOUND = 9
    NOT_READY = 10
    CANCELLED = 11
    TOO_LARGE = 12
    IO = 13
    INTERNAL = 14
    TLS = 15


class TaskStatus(enum.IntEnum):
    """The library's ``ocr_task_status`` values (``OCR_TASK_`` dropped). As text (``str``,
    f-strings) a status is spelled as the service spells it: ``Pending``, ``Processing``,
    ``Completed``, ``Error``, ``NotExist``, and ``Unknown``."""
    UNKNOWN = 0
    PENDING = 1
    PROCESSING = 2
    COMPLETED = 3
    ERROR = 4
    NOT_EXIST = 5

    def __str__(self) -> str:
        return _lib.ocr_task_status_name(self.value).decode()

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)


class OcrError(Exception):
    """A failure reported by the library: ``code`` (a ``Code``, or an int the module does not
    know) and ``message``, the library's sentence naming what failed."""

    def __init__(self, code, message):
        super().__init__(code, message)
        self.code = code
        self.message = message

    def __str__(self):
        return f"{_lib.ocr_code_name(self.code).decode()}: {self.message}"


class InvalidArgumentError(OcrError, ValueError):
    """A None, malformed or out-of-range argument; nothing was sent."""


class NetworkError(OcrError):
    """The connection could not be made or broke off (after the retries)."""


class TimedOutError(OcrError):
    """A request timed out, or the poll's deadline passed."""


class HttpError(OcrError):
    """The server answered an HTTP error status (after the retries)."""


class UnauthorizedError(OcrError):
    """The server refused the token or the credentials."""


class ProtocolError(OcrError):
    """The server's answer does not follow the protocol."""


class DecodeError(OcrError):
    """A result's base64 data is invalid."""


class TaskFailedError(OcrError):
    """The task ended in Error; the message holds the server's messages."""


class TaskNotFoundError(OcrError):
    """The task does not exist (a wrong id, a cancelled task, or results older than 24 h)."""


class NotReadyError(OcrError):
    """The task was still not finished when the poll's attempts ran out."""


class CancelledError(OcrError):
    """The call was cancelled through a ``CancelToken``."""


class TooLargeError(OcrError):
    """An answer exceeds the client's size limit, or the server refused a request as too
    large."""


class FileError(OcrError):
    """Reading or writing a local file failed; the message holds the OS reason."""


class InternalError(OcrError):
    """A bug in the library (a caught panic)."""


class TlsError(OcrError):
    """The TLS connection failed: an untrusted, self-signed, expired or not yet valid
    certificate, a name mismatch, a failed handshake (never retried). A private CA is trusted
    with ``configure(ca_file=...)`` or ``ca_pem=``."""


_ERRORS = {
    Code.INVALID_ARGUMENT: InvalidArgumentError, Code.NETWORK: NetworkError,
    Code.TIMEOUT: TimedOutError, Code.HTTP: HttpError, Code.UNAUTHORIZED: UnauthorizedError,
    Code.PROTOCOL: ProtocolError, Code.DECODE: DecodeError, Code.TASK_FAILED: TaskFailedError,
    Code.TASK_NOT_FOUND: TaskNotFoundError, Code.NOT_READY: NotReadyError,
    Code.CANCELLED: CancelledError, Code.TOO_LARGE: TooLargeError, Code.IO: FileError,
    Code.INTERNAL: InternalError, Code.TLS: TlsError,
}


def _error(code, message):
    try:
        code = Code(code)
    except ValueError:  # a code newer than this module
        pass
    return _ERRORS.get(code, OcrError)(code, message)


def _last_error():
    return _lib.ocr_last_error_message().decode("utf-8", "replace")


def _check(code):
    """Raises the error for a failed call; must run right after it, on the same thread."""
    if code != Code.OK:
        raise _error(code, _last_error())


# ---------------------------------------------------------------------------------------------
# Logging.

class LogLevel(enum.IntEnum):
    """How much the library tells (``OCR_LOG_*``)."""
    OFF = 0
    WARN = 1
    INFO = 2
    DEBUG = 3


_PYTHON_LEVELS = {LogLevel.WARN: 30, LogLevel.INFO: 20, LogLevel.DEBUG: 10}
_log_callback = None  # the installed ctypes callback, kept alive while the library may call it
# Held while the callback is replaced: the one kept alive is always the one installed.
_log_lock = threading.Lock()


def set_log_level(level: LogLevel) -> None:
    """Chooses the library's log lines, process-wide (overrides ``$OCRCLOUD_LOG``)."""
    _check(_lib.ocr_set_log_level(int(level)))


def log_to(logger: Optional[logging.Logger]) -> None:
    """Routes the library's log lines (request lines, retries, waits, token refreshes; never a
    secret) to a ``logging.Logger``, e.g. ``logging.getLogger("ocrcloud")``; ``None`` sends them
    to stderr again. Which lines come is chosen by ``set_log_level`` or ``$OCRCLOUD_LOG``. Lines
    may come from the library's own threads."""
    def receive(_user_data, level, message):
        if not _calling_back():
            return
        logger.log(_PYTHON_LEVELS.get(level, 10), "%s", message.decode("utf-8", "replace"))

    _set_log_callback(None if logger is None else _LOG(receive))


def _set_log_callback(callback):
    """Installs ``callback`` (None: stderr again) and keeps it alive; the previous one is freed
    only after the library has stopped calling it (``ocr_set_log_callback`` has returned)."""
    global _log_callback
    with _log_lock:
        _lib.ocr_set_log_callback(callback or _LOG(), None)
        _log_callback = callback


# ---------------------------------------------------------------------------------------------
# Helpers.

def _text(value, name):
    """A str (or None) as the NUL-terminated UTF-8 the library takes."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str or None, not {type(value).__name__}")
    if "\0" in value:
        raise ValueError(f"{name} contains a NUL character")
    return value.encode("utf-8")


def _path(value, name):
    """A path (str, bytes or ``os.PathLike``) as the NUL-terminated UTF-8 the library takes. A
    name from ``os.listdir`` that is not UTF-8 cannot be passed on: ``ValueError`` naming it."""
    if value is None:
        return None
    try:
        encoded = os.fsencode(value)
    except TypeError:
        raise TypeError(f"{name} must be a str, bytes or os.PathLike, "
                        f"not {type(value).__name__}") from None
    if b"\0" in encoded:
        raise ValueError(f"{name} {value!r} contains a NUL character")
    try:
        encoded.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"{name} {value!r} is not UTF-8, and the library takes UTF-8 paths "
                         "only") from None
    return encoded


def _uint(value, bits, name):
    """An int that fits the library's unsigned parameter (ctypes would silently wrap it)."""
    if not isinstance(value, int) or not 0 <= value < 1 << bits:
        raise ValueError(f"{name} must be an int from 0 to {(1 << bits) - 1}, not {value!r}")
    return value


def _decode(raw):
    """A string the library answered (None for NULL)."""
    return None if raw is None else raw.decode("utf-8", "replace")


def _task_status(value):
    try:
        return TaskStatus(value)
    except ValueError:
        return TaskStatus.UNKNOWN


# The native calls that block (the polls, and through _CallOptions.run the other network calls)
# while they run: a cancel handle for each, by the Event that the call sets when it returns. At
# exit they are cancelled (see _end_calls).
_calls_lock = threading.Lock()
_calls: Dict[threading.Event, Any] = {}
_exiting = False


def _calling_back():
    """Whether a callback may still run Python code: not while the interpreter exits."""
    return not (_exiting or sys.is_finalizing())


def _blocking(call, cancel):
    """Runs ``call()``, a native call that uses the ``CancelToken`` ``cancel``, and answers its
    code and message (read on the thread that ran it). On the main thread it runs on a helper
    thread while this one waits in short slices: a ``KeyboardInterrupt`` triggers ``cancel``,
    waits for the call to return (within milliseconds) and is raised then."""
    done = threading.Event()
    outcome = []

    def work():
        try:
            code = call()
            outcome.append(((code, _last_error() if code != Code.OK else ""), None))
        except BaseException as error:  # ctypes' own errors: raised on the calling thread
            outcome.append((None, error))
        finally:
            done.set()

    with cancel._use() as handle:  # the handle stays valid until the call has returned
        with _calls_lock:
            _calls[done] = handle
            if _exiting:
                _lib.ocr_cancel_trigger(handle)
        try:
            if threading.current_thread() is not threading.main_thread():
                work()
            else:
                threading.Thread(target=work, name="ocrcloud-call", daemon=True).start()
                try:
                    while not done.wait(0.05):
                        pass
                except BaseException:
                    _lib.ocr_cancel_trigger(handle)
                    while not done.is_set():
                        try:
                            done.wait(0.05)
                        except BaseException:  # another Ctrl-C: the first one is raised
                            pass
                    raise
        finally:
            with _calls_lock:
                del _calls[done]
    answer, error = outcome[0]
    if error is not None:
        raise error
    if _exiting and threading.current_thread() is not threading.main_thread():
        # Cancelled by the exit, in a daemon thread: it stays here until the process ends
        # rather than raise into code that would run while the interpreter is torn down.
        threading.Event().wait()
    return answer


@atexit.register
def _end_calls():
    """At exit (after non-daemon threads were joined, before the interpreter is torn down):
    cancels the polls still running, waits up to a second for them to return, then detaches the
    log callback. A callback into a finalizing interpreter would end its thread by a forced
    unwind through the library."""
    global _exiting
    with _calls_lock:
        _exiting = True
        running = list(_calls.items())
        for _done, handle in running:
            _lib.ocr_cancel_trigger(handle)
    deadline = time.monotonic() + 1.0
    for done, _handle in running:
        done.wait(max(0.0, deadline - time.monotonic()))
    _set_log_callback(None)


class _Native:
    """Owns one native handle: frees it once, after the last call that uses it returns."""

    def __init__(self, handle, free):
        self._handle = handle
        self._free = free
        self._lock = threading.Lock()
        self._users = 0
        self._closed = False

    @contextmanager
    def _use(self):
        with self._lock:
            if self._closed:
                raise ValueError(f"the {type(self).__name__} is closed")
            self._users += 1
        try:
            yield self._handle
        finally:
            with self._lock:
                self._users -= 1
                release = self._closed and self._users == 0
            if release:
                self._release()

    def _release(self):
        handle, self._handle = self._handle, None
        self._free(handle)

    def close(self) -> None:
        """Frees the native object; later calls raise ValueError. Calling it again does
        nothing."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            release = self._users == 0
        if release:
            self._release()

    @property
    def closed(self) -> bool:
        return self._closed

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        if getattr(self, "_lock", None) is not None:
            self.close()


# ---------------------------------------------------------------------------------------------
# The public classes.

class CancelToken(_Native):
    """A switch that ends the polls and calls given it as ``cancel=`` with ``CancelledError``
    within milliseconds.

    ``cancel()`` is safe from any thread at any time; once triggered it stays triggered. A call
    keeps its own reference, so closing the token while a call uses it is safe."""

    def __init__(self):
        handle = _lib.ocr_cancel_new()
        if not handle:
            raise MemoryError("ocr_cancel_new")
        super().__init__(handle, _lib.ocr_cancel_free)

    def cancel(self) -> None:
        """Triggers the token."""
        with self._use() as handle:
            _lib.ocr_cancel_trigger(handle)


class ResultFile(NamedTuple):
    """One result file: ``type`` as the server sent it ("Text", "Pdf", ...) and ``data``, the
    decoded bytes as a read-only ``memoryview`` of the library's buffer (text results are UTF-8:
    ``str(file.data, "utf-8")``), valid while its ``Result`` is open; None for a file that a
    ``_to_dir`` call wrote."""

    type: str
    data: Optional[memoryview]


@dataclass(frozen=True)
class ClientStats:
    """The client's request budget, from ``Client.stats()``: the counts since the client was
    made and the state now (the figures are read one after the other, not as one snapshot)."""

    #: Requests sent, every attempt and token request included.
    requests: int
    #: Retries of failed requests (not the polls of a poll).
    retries: int
    #: Answers ``429`` or ``503``.
    throttled: int
    #: Token requests.
    token_fetches: int
    #: The requests per second allowed now; 0.0: unlimited.
    rate: float
    #: Whether the circuit breaker is open (requests fail at once, without being sent).
    breaker_open: bool
    #: The retry quota left (500 at most; a retry costs 5, 10 after a timeout).
    retry_quota: int


# The OCR_STAT_* value of each field of ClientStats.
_STATS = {"requests": 1, "retries": 2, "throttled": 3, "token_fetches": 4, "rate": 5,
          "breaker_open": 6, "retry_quota": 7}
_STAT_TYPES = {"rate": float, "breaker_open": bool}


class _NativeResult:
    """An ``ocr_result``, freed when the last reference to this object goes: the ``Result``'s
    until it is closed, and one for each buffer under a view of its data while that buffer is
    exported (see ``_ResultMemory``)."""

    def __init__(self, handle):
        self.handle = handle
        self._free = _lib.ocr_result_free  # bound now: at exit the module may be torn down

    def __del__(self):
        self._free(self.handle)


def _keep(_native):
    """Held by a finalizer of a data buffer: keeps the native result alive until then."""


class _ResultMemory:
    """The memory of one native result and the views of its data made for ``Result.files``."""

    def __init__(self, handle):
        self._native = _NativeResult(handle)
        self._views = None
        self._lock = threading.Lock()

    def views(self, handle):
        """A read-only view of each file's data (None for files on disk), made once. Each view's
        buffer is a ctypes array over the library's bytes that holds the native result until
        the last view or buffer taken from it is gone."""
        with self._lock:
            if self._views is None:
                self._views = self._make_views(handle)
            return self._views

    def _make_views(self, handle):
        views = []
        for index in range(_lib.ocr_result_count(handle)):
            size = c_size_t()
            pointer = _lib.ocr_result_data(handle, index, byref(size))
            if not pointer:
                views.append(None)
                continue
            array = (c_ubyte * size.value).from_address(pointer)
            weakref.finalize(array, _keep, self._native)
            with memoryview(array) as raw, raw.cast("B") as flat:
                views.append(flat.toreadonly())
        return views

    def close(self, _handle):
        """Releases the views (a later use raises ValueError) and drops the native result,
        which is freed now unless a slice of a view or a buffer taken from one (numpy, ...)
        still holds it; a view with such an export cannot be released and stays valid."""
        with self._lock:
            for view in self._views or ():
                if view is not None:
                    try:
                        view.release()
                    except BufferError:
                        pass
            self._views = None
            self._native = None


class Result(_Native):
    """One answer of the service for a task, made by ``Client.fetch`` and the polls.

    The small fields are copied when the result is made and stay readable after ``close()``:
    ``status`` (a ``TaskStatus``), ``status_text`` (the server's string), ``id``,
    ``response_status``, ``types``, ``sizes`` (bytes per file), ``paths`` (per file: where a
    ``_to_dir`` call wrote it, None when it is in memory), ``messages`` and ``warnings``. The
    native result, which holds the decoded files, is kept until ``close()`` (or the end of a
    ``with`` block, or garbage collection) for ``files`` and ``save``; these raise ValueError
    after ``close()``. Results are immutable and may be read from many threads."""

    def __init__(self, handle: Any) -> None:
        self._memory = _ResultMemory(handle)
        super().__init__(handle, self._memory.close)
        self.status = _task_status(_lib.ocr_result_task_status(handle))
        self.status_text = _decode(_lib.ocr_result_task_status_text(handle))
        self.id = _decode(_lib.ocr_result_id(handle))
        self.response_status = _decode(_lib.ocr_result_response_status(handle))
        count = _lib.ocr_result_count(handle)
        self.types: List[str] = [_decode(_lib.ocr_result_type(handle, i)) for i in range(count)]
        self.sizes: List[int] = [_lib.ocr_result_size(handle, i) for i in range(count)]
        self.paths: List[Optional[str]] = [_decode(_lib.ocr_result_path(handle, i))
                                           for i in range(count)]
        self.messages: List[str] = [_decode(_lib.ocr_result_message(handle, i))
                                    for i in range(_lib.ocr_result_message_count(handle))]
        self.warnings: List[str] = [_decode(_lib.ocr_result_warning(handle, i))
                                    for i in range(_lib.ocr_result_warning_count(handle))]

    @property
    def files(self) -> List[ResultFile]:
        """The result files as a list of ``ResultFile``, whose ``data`` are views of the
        library's buffers (no copy; the same views on every access). ``data`` is None for files
        that a ``_to_dir`` call wrote (see ``paths``)."""
        with self._use() as handle:
            return [ResultFile(kind, view)
                    for kind, view in zip(self.types, self._memory.views(handle))]

    def save(self, index: int, path: Union[str, bytes, os.PathLike]) -> None:
        """Writes file ``index`` to ``path`` atomically (a failure leaves no partial file):
        ``FileError`` with the OS reason, ``InvalidArgumentError`` for a bad index."""
        path = _path(path, "path")
        with self._use() as handle:
            _check(_lib.ocr_result_save(handle, _uint(index, 64, "index"), path))

    def __repr__(self):
        return f"<Result {self.id!r} {self.status} types={self.types}>"


class Client(_Native):
    """A connection to the service: base URL, credentials, settings and a connection pool.

    ``Client(base_url=None, token=None, **settings)`` sends a fixed token (None: no token, enough
    for the trial operations); ``Client.with_credentials`` obtains and refreshes tokens itself.
    ``base_url`` None means ``https://api.aspose.cloud``; plain ``http://`` is accepted for
    loopback hosts only, unless ``allow_insecure_http=True``. ``settings`` are the keyword
    arguments of ``configure``.

    ``operation`` arguments name the API operation, e.g. ``"RecognizePdf"`` (None means that);
    see docs/c.md, "Operations", for the list. A client may be shared by any number of threads."""

    _SETTERS = {
        "connect_timeout_ms": ("ocr_client_set_connect_timeout_ms", 32),
        "read_timeout_ms": ("ocr_client_set_read_timeout_ms", 32),
        "request_timeout_ms": ("ocr_client_set_request_timeout_ms", 32),
        "max_response_bytes": ("ocr_client_set_max_response_bytes", 64),
        "max_attempts": ("ocr_client_set_max_attempts", 32),
        "max_connections": ("ocr_client_set_max_connections", 32),
        "allow_insecure_http": ("ocr_client_set_allow_insecure_http", None),
        "user_agent": ("ocr_client_set_user_agent", None),
        "ca_file": ("ocr_client_set_ca_file", None),
        "ca_pem": ("ocr_client_set_ca_pem", None),
        "proxy": ("ocr_client_set_proxy", None),
        "max_rate": ("ocr_client_set_max_rate", None),
        "circuit_breaker": ("ocr_client_set_circuit_breaker", None),
    }

    def __init__(self, base_url: Optional[str] = None, token: Optional[str] = None,
                 **settings: Any) -> None:
        self._start(_lib.ocr_client_new, [_text(base_url, "base_url"), _text(token, "token")],
                    settings)

    @classmethod
    def with_credentials(cls, base_url: Optional[str], client_id: str, client_secret: str,
                         **settings: Any) -> Client:
        """A client that obtains tokens from ``{base_url}/connect/token`` with client credentials,
        caches them and replaces them before they expire."""
        client = cls.__new__(cls)
        client._start(_lib.ocr_client_new_with_credentials,
                      [_text(base_url, "base_url"), _text(client_id, "client_id"),
                       _text(client_secret, "client_secret")], settings)
        return client

    def _start(self, new, args, settings):
        handle = _client_p()
        _check(new(*args, byref(handle)))
        super().__init__(handle, _lib.ocr_client_free)
        self.configure(**settings)

    def configure(self, **settings: Any) -> None:
        """Changes settings for calls that start afterwards: ``connect_timeout_ms`` (default
        10000), ``read_timeout_ms`` (30000), ``request_timeout_ms`` (300000), ``user_agent``,
        ``max_response_bytes`` (1 GiB), ``allow_insecure_http`` (False), ``max_attempts``
        (3; how many requests one call sends at most when failures are transient) and
        ``max_connections`` (4; how many requests ``poll_many`` has in flight at most).

        Networks (see docs/networks.md): ``ca_file``, the path of a PEM file whose CA certificates are
        trusted besides the system's, and ``ca_pem``, the same as bytes (or str); either
        replaces what the other added, and None goes back to the default. ``proxy``: a URL
        (``http://[user:password@]host:port`` or ``https://...``), ``""`` for none, None for
        the environment's (the default). A missing or certificate-less CA file and a SOCKS or
        other proxy scheme raise ``InvalidArgumentError`` and leave the client as it was.

        Flow control (see docs/flow-control.md): ``max_rate``, the most requests per second the client
        sends, all threads together (0, the default: unlimited; either way a ``429`` or ``503``
        slows it down); a negative, infinite or NaN rate raises ``InvalidArgumentError``.
        ``circuit_breaker`` (True, the default): after 5 failures in a row (a 5xx other than
        503, or no connection) within 10 s, requests fail at once with ``NetworkError`` saying
        the service looks down, until a probe every 5 s succeeds; False turns it off. See
        ``stats()``."""
        for name, value in settings.items():
            if name not in self._SETTERS:
                raise TypeError(f"unknown setting {name!r}")
            function, bits = self._SETTERS[name]
            if name in ("user_agent", "proxy"):
                args = [_text(value, name)]
            elif name == "ca_file":
                args = [_path(value, name)]
            elif name == "ca_pem":
                if isinstance(value, str):
                    value = value.encode("utf-8")
                elif value is not None and not isinstance(value, bytes):
                    value = bytes(memoryview(value))
                args = [value, len(value) if value is not None else 0]
            elif name in ("allow_insecure_http", "circuit_breaker"):
                args = [1 if value else 0]
            elif name == "max_rate":
                if isinstance(value, bool) or not isinstance(value, (int, float)):
                    raise TypeError(f"max_rate must be an int or a float, not "
                                    f"{type(value).__name__}")
                args = [float(value)]
            else:
                args = [_uint(value, bits, name)]
            with self._use() as handle:
                _check(getattr(_lib, function)(handle, *args))

    def stats(self) -> ClientStats:
        """The client's request budget now, as a ``ClientStats``: requests sent, retries,
        throttled answers, token requests, the rate allowed (0.0: unlimited), whether the
        circuit breaker is open, and the retry quota left."""
        figures: Dict[str, Any] = {}
        value = c_double()
        with self._use() as handle:
            for name, what in _STATS.items():
                _check(_lib.ocr_client_stats(handle, what, byref(value)))
                figures[name] = _STAT_TYPES.get(name, int)(value.value)
        return ClientStats(**figures)

    # Every network call below takes the keyword-only limits of one call: ``timeout_ms``, its
    # deadline (None or 0: none beyond the client's timeouts; then ``TimedOutError``), and
    # ``cancel``, a ``CancelToken`` that ends it with ``CancelledError`` within milliseconds,
    # whatever it is waiting for. Each blocking library call sits in one small ``_*_call``
    # method that checks its code on the thread that made the call.

    def submit(self, document: Union[bytes, str, memoryview], operation: Optional[str] = None,
               settings: _Settings = None, *, timeout_ms: Optional[int] = None,
               cancel: Optional[CancelToken] = None) -> str:
        """Submits ``document`` (bytes; for text to speech a str or UTF-8 bytes) and answers the
        new task's id. ``settings``: a dict or a JSON object string, or None for the operation's
        defaults. A submission is only retried when it certainly did not reach the server."""
        if isinstance(document, str):
            document = document.encode("utf-8")
        elif document is not None and not isinstance(document, bytes):
            document = bytes(memoryview(document))
        return self._submit(_lib.ocr_submit_ex, operation,
                            [document, len(document) if document else 0], settings,
                            timeout_ms, cancel)

    def submit_file(self, path: _PathLike, operation: Optional[str] = None,
                    settings: _Settings = None, *, timeout_ms: Optional[int] = None,
                    cancel: Optional[CancelToken] = None) -> str:
        """Submits the file at ``path`` like ``submit`` does with bytes; the library reads it
        while it encodes it. An unreadable file raises ``FileError``."""
        return self._submit(_lib.ocr_submit_file_ex, operation,
                            [_path(path, "path")], settings, timeout_ms, cancel)

    def _submit(self, function, operation, document, settings, timeout_ms, cancel):
        if isinstance(settings, dict):
            settings = json.dumps(settings)
        operation = _text(operation, "operation")
        settings = _text(settings, "settings")
        with _CallOptions(timeout_ms, cancel) as call:
            task_id = self._submit_call(function, operation, document, settings, call)
        try:
            return ctypes.string_at(task_id).decode()
        finally:
            _lib.ocr_string_free(task_id)

    def _submit_call(self, function, operation, document, settings, call):
        task_id = c_void_p()
        with self._use() as handle:
            try:
                call.run(lambda: function(handle, operation, *document, settings, call.handle,
                                          byref(task_id)))
            except BaseException:  # a Ctrl-C as the call succeeded: the id is not leaked
                _lib.ocr_string_free(task_id)
                raise
        return task_id

    def fetch(self, task_id: str, operation: Optional[str] = None, *,
              timeout_ms: Optional[int] = None, cancel: Optional[CancelToken] = None) -> Result:
        """Asks once for a task's current answer. Any status is information (read
        ``Result.status``); only failures to get an answer raise."""
        task_id = _text(task_id, "task_id")
        operation = _text(operation, "operation")
        with _CallOptions(timeout_ms, cancel) as call:
            return Result(self._fetch_call(operation, task_id, call))

    def _fetch_call(self, operation, task_id, call):
        result = _result_p()
        with self._use() as handle:
            try:
                call.run(lambda: _lib.ocr_fetch_result_ex(handle, operation, task_id,
                                                          call.handle, byref(result)))
            except BaseException:  # a Ctrl-C as the call succeeded: the result is not leaked
                _lib.ocr_result_free(result)
                raise
        return result

    def poll(self, task_id: str, operation: Optional[str] = None, **options: Any) -> Result:
        """Asks for a task's answer until it is done and answers the Completed ``Result``.

        Raises ``TaskFailedError`` (status Error; the message holds the server's messages),
        ``TaskNotFoundError``, ``NotReadyError`` (``max_attempts`` used up), ``TimedOutError``
        (``timeout_ms`` passed), ``CancelledError`` (``cancel`` triggered), or the failure of the
        last request. The keyword-only options, each left None for the library's default:

        - ``interval_ms``: the first wait (3000);
        - ``backoff``: ``(factor, max_ms)``, each later wait is ``factor`` times longer, up to
          ``max_ms`` (``(1.5, 5000)``);
        - ``learn``: learn the schedule from the client's earlier tasks of the operation (True;
          setting ``interval_ms`` or ``backoff`` makes it False unless given as True);
        - ``request_cost``: what one request costs, in seconds of waiting, for the learned
          schedule (0.5);
        - ``max_attempts``: at most this many requests (no limit);
        - ``timeout_ms``: the deadline of the whole poll (600000; 0: none);
        - ``cancel``: a ``CancelToken``;
        - ``progress(task_id, status, attempt)``: runs once per answer, on this thread (on
          the main thread: on the helper thread that runs the call, see the module). If it
          raises, it is not called again, the poll goes on to its end, and then its exception is
          raised instead of the poll's outcome.
        """
        task_id = _text(task_id, "task_id")
        operation = _text(operation, "operation")
        result = _result_p()
        with _PollOptions(**options) as poll_options, self._use() as handle:
            code, message = poll_options.run(lambda: _lib.ocr_poll_until_done_for(
                handle, operation, task_id, poll_options.handle, byref(result)))
            poll_options.check(code, message, [result])
        return Result(result)

    async def poll_async(self, task_id: str, operation: Optional[str] = None,
                         **options: Any) -> Result:
        """``poll`` for asyncio: the poll runs on a thread of its own while the event loop goes
        on (``progress`` runs on that thread). Cancelling the awaiting task cancels the native
        poll within milliseconds (through ``cancel=``, the caller's token if given, which then
        stays triggered); the task sees ``asyncio.CancelledError`` once the poll has returned,
        and a result that arrived meanwhile is closed."""
        cancel = options.pop("cancel", None)
        return await _in_thread(
            lambda token: self.poll(task_id, operation, cancel=token, **options), cancel)

    def fetch_to_dir(self, task_id: str, directory: _PathLike, operation: Optional[str] = None,
                     *, timeout_ms: Optional[int] = None,
                     cancel: Optional[CancelToken] = None) -> Result:
        """Like ``fetch``, but the result files are written to the existing folder ``directory``
        while the answer arrives, so memory use does not grow with their size. They are named
        ``<task id>.<ext>`` (see the header for the details) and listed in ``Result.paths``;
        ``Result.files`` has no data for them. A missing folder raises ``FileError``."""
        task_id = _text(task_id, "task_id")
        directory = _path(directory, "directory")
        operation = _text(operation, "operation")
        with _CallOptions(timeout_ms, cancel) as call:
            return Result(self._fetch_to_dir_call(operation, task_id, directory, call))

    def _fetch_to_dir_call(self, operation, task_id, directory, call):
        result = _result_p()
        with self._use() as handle:
            try:
                call.run(lambda: _lib.ocr_fetch_result_to_dir_ex(handle, operation, task_id,
                                                                 directory, call.handle,
                                                                 byref(result)))
            except BaseException:  # a Ctrl-C as the call succeeded: the result is not leaked
                _lib.ocr_result_free(result)
                raise
        return result

    def poll_to_dir(self, task_id: str, directory: _PathLike, operation: Optional[str] = None,
                    **options: Any) -> Result:
        """Like ``poll`` (with its options), but the final answer's files are written to
        ``directory`` as ``fetch_to_dir`` describes."""
        task_id = _text(task_id, "task_id")
        directory = _path(directory, "directory")
        operation = _text(operation, "operation")
        result = _result_p()
        with _PollOptions(**options) as poll_options, self._use() as handle:
            code, message = poll_options.run(lambda: _lib.ocr_poll_until_done_to_dir(
                handle, operation, task_id, poll_options.handle, directory, byref(result)))
            poll_options.check(code, message, [result])
        return Result(result)

    def poll_many(self, task_ids: Iterable[str], operation: Optional[str] = None,
                  **options: Any) -> List[Union[Result, OcrError]]:
        """Polls many tasks together from this thread, each on the schedule the options give
        (those of ``poll``; the deadline and ``cancel`` apply to the whole call), with at most
        ``max_connections`` requests in flight.

        Answers a list with one entry per task, in order: its Completed ``Result``, or the
        ``OcrError`` it ended with (returned, not raised), with that task's own message. Raises
        for a failure of the call itself (such as a None task id) and for an exception of
        ``progress``. ``task_ids`` is a list (or another iterable) of str, never one str."""
        if isinstance(task_ids, (str, bytes, bytearray)):
            raise TypeError(f"task_ids must be an iterable of str, not one "
                            f"{type(task_ids).__name__}")
        ids = [_text(task_id, "task id") for task_id in task_ids]
        operation = _text(operation, "operation")
        count = len(ids)
        results = (_result_p * count)()
        codes = (_code * count)(*[-1] * count)  # -1: not written
        with _PollOptions(**options) as poll_options, self._use() as handle:
            messages = []

            def poll_all():
                code = _lib.ocr_poll_many(handle, operation, (c_char_p * count)(*ids), count,
                                          poll_options.handle, results, codes)
                # On the thread that made the call: each task's own message.
                messages.extend(_decode(_lib.ocr_poll_many_message(i)) for i in range(count))
                return code

            code, message = poll_options.run(poll_all)
            written = count == 0 or codes[0] != -1
            poll_options.check(Code.OK if written else code, message, results)
        outcomes: List[Union[Result, OcrError]] = []
        for task_id, code, result, message in zip(ids, codes, results, messages):
            if code == Code.OK:
                outcomes.append(Result(result))
            else:
                outcomes.append(_error(code, message or f"task {task_id.decode()} did not "
                                       f"complete: {_lib.ocr_code_name(code).decode()}"))
        return outcomes

    def cancel_task(self, task_id: str, operation: Optional[str] = None, *,
                    timeout_ms: Optional[int] = None, cancel: Optional[CancelToken] = None) -> None:
        """Removes a task from the service's queue; afterwards it answers NotExist."""
        task_id = _text(task_id, "task_id")
        operation = _text(operation, "operation")
        with _CallOptions(timeout_ms, cancel) as call:
            self._cancel_task_call(operation, task_id, call)

    def _cancel_task_call(self, operation, task_id, call):
        with self._use() as handle:
            call.run(lambda: _lib.ocr_cancel_task_ex(handle, operation, task_id, call.handle))

    def task_status(self, task_id: str, operation: Optional[str] = None, *,
                    timeout_ms: Optional[int] = None,
                    cancel: Optional[CancelToken] = None) -> TaskStatus:
        """A task's ``TaskStatus`` from the cheap status call, which carries no result data
        (``NOT_EXIST`` for an unknown id)."""
        task_id = _text(task_id, "task_id")
        operation = _text(operation, "operation")
        with _CallOptions(timeout_ms, cancel) as call:
            return _task_status(self._task_status_call(operation, task_id, call))

    def _task_status_call(self, operation, task_id, call):
        status = _status()
        with self._use() as handle:
            call.run(lambda: _lib.ocr_get_task_status_ex(handle, operation, task_id, call.handle,
                                                         byref(status)))
        return status.value


async def _in_thread(call: Callable[[CancelToken], _T], cancel: Optional[CancelToken]) -> _T:
    """Runs ``call(token)``, a blocking call that ``token`` cancels (``cancel``, or a token of
    its own), on a thread of its own and awaits its answer without holding the event loop. If
    the awaiting task is cancelled, it triggers the token, waits for the call to return (within
    milliseconds), closes a ``Result`` it answered and lets ``asyncio.CancelledError`` go on."""
    import asyncio  # here, not at the top: only asyncio users pay for its import

    if cancel is not None and not isinstance(cancel, CancelToken):
        raise TypeError("cancel must be a CancelToken")
    loop = asyncio.get_running_loop()
    token = cancel if cancel is not None else CancelToken()
    own = token if cancel is None else None  # closed here
    done = loop.create_future()

    def work():
        try:
            outcome = (call(token), None)
        except BaseException as error:  # raised in the awaiting task
            outcome = (None, error)
        try:
            loop.call_soon_threadsafe(done.set_result, outcome)
        except RuntimeError:  # the loop is closed: nobody will read the answer
            _close_answer(outcome[0])

    try:
        threading.Thread(target=work, name="ocrcloud-async", daemon=True).start()
        try:
            answer, error = await asyncio.shield(done)
        except asyncio.CancelledError:
            token.cancel()
            while not done.done():
                try:
                    await asyncio.shield(done)
                except asyncio.CancelledError:  # cancelled again: still wait for the call
                    pass
            _close_answer(done.result()[0])
            raise
    finally:
        if own is not None:
            own.close()
    if error is not None:
        raise error
    return answer


def _close_answer(answer):
    """Closes what a call answered that nobody will use (a ``Result``, or a list of them)."""
    for item in answer if isinstance(answer, list) else [answer]:
        if isinstance(item, Result):
            item.close()


class _CallOptions:
    """Native call options for one call, always with a cancel token (the caller's, or one of
    its own for Ctrl-C and exit)."""

    def __init__(self, timeout_ms=None, cancel=None):
        if cancel is not None and not isinstance(cancel, CancelToken):
            raise TypeError("cancel must be a CancelToken")
        self.handle = _lib.ocr_call_options_new()
        if not self.handle:
            raise MemoryError("ocr_call_options_new")
        self._own_cancel = None
        try:
            self._own_cancel = CancelToken() if cancel is None else None
            self.cancel = cancel or self._own_cancel
            if timeout_ms is not None:
                _check(_lib.ocr_call_options_set_timeout_ms(
                    self.handle, _uint(timeout_ms, 32, "timeout_ms")))
            with self.cancel._use() as token:
                _check(_lib.ocr_call_options_set_cancel(self.handle, token))
        except BaseException:
            self.__exit__()
            raise

    def run(self, call):
        """Runs the native ``call()``, which answers a code, so that Ctrl-C cancels it (see
        _blocking); raises its error."""
        code, message = _blocking(call, self.cancel)
        if code != Code.OK:
            raise _error(code, message)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        _lib.ocr_call_options_free(self.handle)
        if self._own_cancel is not None:
            self._own_cancel.close()


class _PollOptions:
    """Native poll options for one call, always with a cancel token (the caller's, or one of
    its own for Ctrl-C and exit). An exception raised by ``progress`` is kept, and ``check``
    raises it after the call."""

    def __init__(self, *, interval_ms=None, backoff=None, learn=None, request_cost=None,
                 max_attempts=None, timeout_ms=None, cancel=None, progress=None):
        if cancel is not None and not isinstance(cancel, CancelToken):
            raise TypeError("cancel must be a CancelToken")
        self._own_cancel = CancelToken() if cancel is None else None
        self.cancel = cancel or self._own_cancel
        self._progress = progress
        self._raised = None
        self._callback = _PROGRESS(self._report) if progress else None  # kept for the call
        self.handle = _lib.ocr_poll_options_new()
        if not self.handle:
            self.__exit__()
            raise MemoryError("ocr_poll_options_new")
        try:
            if interval_ms is not None:
                _check(_lib.ocr_poll_options_set_interval_ms(
                    self.handle, _uint(interval_ms, 32, "interval_ms")))
            if backoff is not None:
                factor, max_ms = backoff
                _check(_lib.ocr_poll_options_set_backoff(
                    self.handle, factor, _uint(max_ms, 32, "backoff max_ms")))
            if learn is not None:
                if not isinstance(learn, bool):
                    raise TypeError("learn must be True or False")
                _check(_lib.ocr_poll_options_set_learning(self.handle, int(learn)))
            if request_cost is not None:
                _check(_lib.ocr_poll_options_set_request_cost(self.handle, float(request_cost)))
            if max_attempts is not None:
                _check(_lib.ocr_poll_options_set_max_attempts(
                    self.handle, _uint(max_attempts, 32, "max_attempts")))
            if timeout_ms is not None:
                _check(_lib.ocr_poll_options_set_timeout_ms(
                    self.handle, _uint(timeout_ms, 32, "timeout_ms")))
            with self.cancel._use() as token:
                _check(_lib.ocr_poll_options_set_cancel(self.handle, token))
            if progress is not None:
                _check(_lib.ocr_poll_options_set_progress(self.handle, self._callback, None))
        except BaseException:
            self.__exit__()
            raise

    def run(self, call):
        """Runs the native poll ``call()`` with these options' cancel token (see _blocking)."""
        return _blocking(call, self.cancel)

    def _report(self, _user_data, task_id, status, attempt):
        if self._raised is None and _calling_back():
            try:
                self._progress(_decode(task_id), _task_status(status), attempt)
            except BaseException as error:  # raised by check() once the call returns
                self._raised = error

    def check(self, code, message, results):
        """After the call: raises the exception of ``progress`` (freeing ``results``), else the
        call's error."""
        if self._raised is not None:
            for result in results:
                _lib.ocr_result_free(result)
            raise self._raised
        if code != Code.OK:
            raise _error(code, message)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        _lib.ocr_poll_options_free(self.handle)
        if self._own_cancel is not None:
            self._own_cancel.close()


# ---------------------------------------------------------------------------------------------
# Batches.

class BatchState(enum.IntEnum):
    """Where an input of a ``Batch`` is (the ``OCR_BATCH_*`` values)."""
    QUEUED = 0
    SUBMITTING = 1
    SUBMITTED = 2
    COMPLETED = 3
    FAILED = 4


@dataclass(frozen=True)
class BatchItem:
    """One input of a ``Batch``, as it was when read: ``path`` as added, its ``state``, the
    ``task_id`` (None before a submission), ``code`` and ``message`` of a failure (``Code.OK``
    and "" otherwise), the result files' paths ``outputs``, how often it was submitted again
    after a submission that may have reached the service (``possible_duplicates``), whether
    an earlier run completed it (``skipped``) and the seconds from its first submission to its
    end (None while it has not ended)."""
    path: str
    state: BatchState
    task_id: Optional[str]
    code: Code
    message: str
    outputs: List[str]
    possible_duplicates: int
    skipped: bool
    seconds: Optional[float]


class Batch(_Native):
    """Many documents into one output folder, with a journal (an SQLite file, by default
    ``<output_dir>/.ocrcloud/journal.sqlite``) that records every submission, so that a batch
    stopped at any moment (a crash, a kill, Ctrl-C) goes on where it stopped when the same inputs
    are added and run again: completed inputs are skipped, recorded tasks are polled by their
    ids and never submitted again. See docs/cli.md, "Batches", for the naming of results and the
    journal's schema.

    The batch keeps ``client`` open until it is closed. A batch is used by one thread at a time;
    a second batch on the same journal (in any process) raises ``FileError`` while this one is
    open."""

    def __init__(self, client: "Client", output_dir: _PathLike,
                 journal: Optional[_PathLike] = None) -> None:
        if not isinstance(client, Client):
            raise TypeError("client must be a Client")
        output_dir = _path(output_dir, "output_dir")
        journal = _path(journal, "journal")
        self._client_use = client._use()
        client_handle = self._client_use.__enter__()
        handle = _batch_p()
        try:
            _check(_lib.ocr_batch_open(client_handle, journal, output_dir, byref(handle)))
        except BaseException:
            self._client_use.__exit__(None, None, None)
            raise
        super().__init__(handle, self._free_batch)

    def _free_batch(self, handle: Any) -> None:
        _lib.ocr_batch_free(handle)
        self._client_use.__exit__(None, None, None)

    def add_file(self, path: _PathLike, root: Optional[_PathLike] = None,
                 operation: Optional[str] = None, settings: _Settings = None) -> None:
        """Adds one file; its results are named after its path relative to ``root`` (None: its
        own folder). ``operation`` None chooses by extension (``.pdf`` RecognizePdf, images
        RecognizeImage); ``settings`` is a dict or a JSON object string (None: the defaults). A
        file that cannot be submitted (missing, empty, unreadable, too large) is added as a
        failed input with the reason."""
        args = [_path(path, "path"), _path(root, "root"), _text(operation, "operation"),
                _settings(settings)]
        with self._use() as handle:
            _check(_lib.ocr_batch_add_file(handle, *args))

    def add_folder(self, folder: _PathLike, operation: Optional[str] = None,
                   settings: _Settings = None) -> int:
        """Adds every PDF and image under ``folder`` (recursively, hidden entries skipped),
        named after their paths relative to it; answers how many were added."""
        added = c_size_t()
        args = [_path(folder, "folder"), _text(operation, "operation"), _settings(settings)]
        with self._use() as handle:
            _check(_lib.ocr_batch_add_folder(handle, *args, byref(added)))
        return added.value

    def run(self, jobs: int = 8,
            progress: Optional[Callable[[int, BatchState], None]] = None,
            **options: Any) -> None:
        """Runs the batch until every input is completed or failed, with at most ``jobs``
        requests at once. ``options`` are those of ``Client.poll`` (``interval_ms``,
        ``backoff``, ``max_attempts``, ``timeout_ms`` per task, ``cancel``), without its
        ``progress``; ``progress(index, state)`` runs after each change of an input's state. If
        it raises, the run is cancelled and its exception raised. Ctrl-C cancels the run
        (``KeyboardInterrupt``); ``CancelledError``, ``UnauthorizedError`` or a ``FileError``
        of the journal stop the whole batch, which may be run again."""
        jobs = _uint(jobs, 32, "jobs")
        if "progress" in options:
            raise TypeError("progress is run's own argument")
        with _PollOptions(**options) as poll_options, self._use() as handle:
            raised: List[BaseException] = []

            def report(_user_data: Any, index: int, state: int) -> None:
                if not raised and _calling_back() and progress is not None:
                    try:
                        progress(index, BatchState(state))
                    except BaseException as error:
                        raised.append(error)
                        with poll_options.cancel._use() as token:
                            _lib.ocr_cancel_trigger(token)

            callback = _BATCH_PROGRESS(report)  # kept alive for the call
            code, message = poll_options.run(
                lambda: _lib.ocr_batch_run(handle, jobs, poll_options.handle, callback, None))
            if raised:
                raise raised[0]
            if code != Code.OK:
                raise _error(code, message)

    def __len__(self) -> int:
        with self._use() as handle:
            return int(_lib.ocr_batch_size(handle))

    def count(self, state: BatchState) -> int:
        """How many inputs are in ``state`` (a ``BatchState``)."""
        with self._use() as handle:
            return _lib.ocr_batch_count(handle, BatchState(state))

    def item(self, index: int) -> BatchItem:
        """The ``BatchItem`` of input ``index`` (in the order of the adds)."""
        with self._use() as handle:
            if not 0 <= index < _lib.ocr_batch_size(handle):
                raise IndexError(f"no input {index} in a batch of "
                                 f"{_lib.ocr_batch_size(handle)}")
            seconds = _lib.ocr_batch_item_seconds(handle, index)
            return BatchItem(
                path=_decode(_lib.ocr_batch_item_path(handle, index)),
                state=BatchState(_lib.ocr_batch_item_state(handle, index)),
                task_id=_decode(_lib.ocr_batch_item_task_id(handle, index)),
                code=Code(_lib.ocr_batch_item_code(handle, index)),
                message=_decode(_lib.ocr_batch_item_message(handle, index)),
                outputs=[_decode(_lib.ocr_batch_item_output(handle, index, i))
                         for i in range(_lib.ocr_batch_item_output_count(handle, index))],
                possible_duplicates=_lib.ocr_batch_item_possible_duplicates(handle, index),
                skipped=_lib.ocr_batch_item_skipped(handle, index) == 1,
                seconds=None if seconds < 0 else seconds,
            )

    def items(self) -> List[BatchItem]:
        """Every input's ``BatchItem``."""
        return [self.item(i) for i in range(len(self))]


def _settings(settings: _Settings) -> Optional[bytes]:
    if isinstance(settings, dict):
        settings = json.dumps(settings)
    return _text(settings, "settings")
