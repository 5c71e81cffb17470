"""``Client``: the service's calls (submit, fetch, poll, ...) and its settings."""

from __future__ import annotations

import ctypes
import json
from ctypes import byref, c_char_p, c_double, c_void_p
from dataclasses import dataclass
from typing import Any, Dict, Iterable, List, Optional, Union

from ._aio import _in_thread
from ._calls import _CallOptions, _PollOptions
from ._convert import _PathLike, _Settings, _decode, _path, _text, _uint
from ._handle import CancelToken, _Native
from ._native import _client_p, _code, _lib, _result_p, _status
from .errors import Code, OcrError, _check, _error
from .result import Result, TaskStatus, _task_status


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


class Client(_Native):
    """A connection to the service: base URL, credentials, settings and a connection pool.

    ``Client(base_url=None, token=None, **settings)`` sends a fixed token (None: no token, enough
    for the trial operations); ``Client.with_credentials`` obtains and refreshes tokens itself.
    ``base_url`` None means ``https://api.aspose.cloud``; plain ``http://`` is accepted for
    loopback hosts only, unless ``allow_insecure_http=True``. ``settings`` are the keyword
    arguments of ``configure``.

    ``operation`` arguments name the API operation, e.g. ``"RecognizePdf"`` (None means that);
    see docs/python.md and docs/c.md for the list. A client may be shared by any number of threads."""

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
