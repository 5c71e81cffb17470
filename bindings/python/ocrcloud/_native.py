"""Loading libocrcloud and declaring every function of include/ocrcloud.h (``_lib``)."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys
from ctypes import (
    CFUNCTYPE, POINTER, Structure, c_char_p, c_double, c_int32, c_size_t, c_uint8, c_uint32,
    c_uint64, c_void_p,
)


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
    "ocr_batch_open_shared": (_code, [_client_p, c_char_p, c_char_p, c_char_p,
                                      POINTER(_batch_p)]),
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
