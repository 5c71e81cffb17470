"""``Batch``: many documents into one output folder, with a journal that resumes them."""

from __future__ import annotations

import enum
import json
from ctypes import byref, c_size_t
from dataclasses import dataclass
from typing import Any, Callable, List, Optional

from ._calls import _PollOptions, _calling_back
from ._convert import _PathLike, _Settings, _decode, _path, _text, _uint
from ._handle import _Native
from ._native import _BATCH_PROGRESS, _batch_p, _lib
from .client import Client
from .errors import Code, _check, _error


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
        self._open(client, lambda c, out: _lib.ocr_batch_open(c, journal, output_dir, out))

    @classmethod
    def open_shared(cls, client: "Client", url: str, name: str,
                    output_dir: _PathLike) -> "Batch":
        """Opens batch ``name`` of a journal in PostgreSQL that many processes, on many hosts,
        share (``ocr_batch_open_shared``; see docs/shared-batches.md): ``url`` is
        ``postgresql://USER[:PASSWORD]@HOST[:PORT]/DB``; results go to ``output_dir``. Then add
        inputs and ``run`` as for a batch of its own; a run returns when no input of the batch
        is left to do. A newer schema raises ``InvalidArgumentError``, refused credentials or an
        unreachable database ``FileError``; the password is in no message."""
        if not isinstance(client, Client):
            raise TypeError("client must be a Client")
        url_bytes, name_bytes = _text(url, "url"), _text(name, "name")
        output = _path(output_dir, "output_dir")
        batch = cls.__new__(cls)
        batch._open(client, lambda c, out: _lib.ocr_batch_open_shared(
            c, url_bytes, name_bytes, output, out))
        return batch

    def _open(self, client: "Client", opener: Callable[[Any, Any], int]) -> None:
        self._client_use = client._use()
        client_handle = self._client_use.__enter__()
        handle = _batch_p()
        try:
            _check(opener(client_handle, byref(handle)))
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
