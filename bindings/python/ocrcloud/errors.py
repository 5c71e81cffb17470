"""The library's codes (``Code``) and the ``OcrError`` raised for each failure."""

from __future__ import annotations

import enum

from ._native import _lib


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
