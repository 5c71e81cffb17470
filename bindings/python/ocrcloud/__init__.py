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

Modules: ``_native`` loads the library and declares its functions, ``errors`` the codes and
exceptions, ``result`` the answers, ``client`` the calls, ``batch`` the batches, ``_aio`` the
asyncio bridge, ``_calls`` the blocking calls (Ctrl-C, exit), ``_handle`` the native handles,
``_log`` the log lines and ``_convert`` the argument conversions. Import the public names from
``ocrcloud`` itself: the modules' layout may change.
"""

from ._handle import CancelToken
from ._log import LogLevel, log_to, set_log_level
# _lib and _library_path stay reachable as ocrcloud._lib and ocrcloud._library_path (tests and the
# package tests read them from an installed wheel).
from ._native import _lib, _library_path, version  # noqa: F401
from .batch import Batch, BatchItem, BatchState
from .client import Client, ClientStats
from .errors import (
    CancelledError, Code, DecodeError, FileError, HttpError, InternalError, InvalidArgumentError,
    NetworkError, NotReadyError, OcrError, ProtocolError, TaskFailedError, TaskNotFoundError,
    TimedOutError, TlsError, TooLargeError, UnauthorizedError,
)
from .result import Result, ResultFile, TaskStatus

__all__ = [
    "Client", "Result", "ResultFile", "CancelToken", "TaskStatus", "Code", "OcrError",
    "InvalidArgumentError", "NetworkError", "TimedOutError", "HttpError", "UnauthorizedError",
    "ProtocolError", "DecodeError", "TaskFailedError", "TaskNotFoundError", "NotReadyError",
    "CancelledError", "TooLargeError", "FileError", "InternalError", "TlsError", "version",
    "LogLevel", "set_log_level", "log_to", "ClientStats", "Batch", "BatchItem", "BatchState",
]

# The public names belong to the package, as before the split into modules: tracebacks, reprs
# and pickles say ocrcloud.TimedOutError, not ocrcloud.errors.TimedOutError.
for _name in __all__:
    globals()[_name].__module__ = __name__
del _name
