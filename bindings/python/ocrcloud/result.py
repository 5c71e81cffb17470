"""A task's answer: ``TaskStatus``, ``Result`` and its files as views of the library's
buffers."""

from __future__ import annotations

import enum
import os
import threading
import weakref
from ctypes import byref, c_size_t, c_ubyte
from typing import Any, List, NamedTuple, Optional, Union

from ._convert import _decode, _path, _uint
from ._handle import _Native
from ._native import _lib
from .errors import _check


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


def _task_status(value):
    try:
        return TaskStatus(value)
    except ValueError:
        return TaskStatus.UNKNOWN


class ResultFile(NamedTuple):
    """One result file: ``type`` as the server sent it ("Text", "Pdf", ...) and ``data``, the
    decoded bytes as a read-only ``memoryview`` of the library's buffer (text results are UTF-8:
    ``str(file.data, "utf-8")``), valid while its ``Result`` is open; None for a file that a
    ``_to_dir`` call wrote."""

    type: str
    data: Optional[memoryview]


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
