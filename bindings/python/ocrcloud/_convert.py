"""Python values into the C types the library takes, and its strings back."""

from __future__ import annotations

import os
from typing import Any, Dict, Union

_PathLike = Union[str, bytes, "os.PathLike[Any]"]
_Settings = Union[Dict[str, Any], str, None]


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
