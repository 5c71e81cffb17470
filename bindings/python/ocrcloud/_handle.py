"""The ownership of native handles (``_Native``) and ``CancelToken``."""

from __future__ import annotations

import threading
from contextlib import contextmanager

from ._native import _lib


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
