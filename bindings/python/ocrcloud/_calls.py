"""Running the blocking native calls: Ctrl-C and exit cancel them; the options of one call
and of one poll."""

from __future__ import annotations

import sys
import threading
import time
from typing import Any, Dict

from ._convert import _decode, _uint
from ._handle import CancelToken
from ._native import _PROGRESS, _lib
from .errors import Code, _check, _error, _last_error
from .result import _task_status


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


def _end_calls():
    """At exit (after non-daemon threads were joined, before the interpreter is torn down; see
    ``_log._at_exit``): cancels the polls still running and waits up to a second for them to
    return."""
    global _exiting
    with _calls_lock:
        _exiting = True
        running = list(_calls.items())
        for _done, handle in running:
            _lib.ocr_cancel_trigger(handle)
    deadline = time.monotonic() + 1.0
    for done, _handle in running:
        done.wait(max(0.0, deadline - time.monotonic()))


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
