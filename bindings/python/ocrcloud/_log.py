"""The library's log lines: their level, and routing them to a ``logging.Logger``."""

from __future__ import annotations

import atexit
import enum
import threading
from typing import TYPE_CHECKING, Optional

from . import _calls
from ._calls import _calling_back
from ._native import _LOG, _lib
from .errors import _check

if TYPE_CHECKING:  # imported when used: asyncio alone would double the import time
    import logging


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


@atexit.register
def _at_exit():
    """At exit: cancels the polls still running (``_calls._end_calls``), then detaches the log
    callback. A callback into a finalizing interpreter would end its thread by a forced unwind
    through the library."""
    _calls._end_calls()
    _set_log_callback(None)
