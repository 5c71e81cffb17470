"""Tests of the Python binding against two emulators that conftest.py starts: plain HTTP
(``emulator``) and HTTPS with a CA of its own (``tls_emulator``).

    python3 -m pytest bindings/python   (bindings/python/test.sh makes a venv with pytest)

The library is the one conftest.py points OCRCLOUD_LIBRARY_DIR at.
"""

import asyncio
import contextlib
import ctypes
import dataclasses
import gc
import os
import pathlib
import pickle
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import weakref
import zipfile

import pytest

import ocrcloud
from ocrcloud import Client, Code, TaskStatus

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SAMPLE_PDF = os.path.join(ROOT, "examples", "sample.pdf")


def _lib_name(status):
    """The C library's name of ``status``: the spelling every language shows."""
    return ocrcloud._lib.ocr_task_status_name(int(status)).decode()


def sample_pdf():
    with open(SAMPLE_PDF, "rb") as f:
        return f.read()


def rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


FAST = {"interval_ms": 20, "backoff": (1.0, 20), "timeout_ms": 20000}

# No test depends on the machine's speed. A call that must end "promptly" (a cancel, a deadline,
# Ctrl-C) is given waits and timeouts of LONG_MS, so that only what is tested can end it within
# PROMPT seconds: far above what a loaded machine adds, far below what a miss would take. The
# latencies measured are printed (pytest -s shows them), never compared with a tight bound.
LONG_MS = 600_000
PROMPT = 60.0


def wait_until(condition, what):
    """Waits until ``condition()`` holds (asked every 10 ms); fails after PROMPT seconds."""
    deadline = time.monotonic() + PROMPT
    while not condition():
        assert time.monotonic() < deadline, f"waited {PROMPT} s for {what}"
        time.sleep(0.01)


class SilentServer:
    """A loopback listener that accepts connections and never answers: every request to it
    hangs until the client gives up. ``url`` is its base URL."""

    def __init__(self):
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(16)
        self.url = "http://127.0.0.1:%d" % self._listener.getsockname()[1]
        self._held = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self):
        while True:
            try:
                connection, _ = self._listener.accept()
            except OSError:  # closed
                return
            self._held.append(connection)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        self._thread.join()
        for connection in self._held:
            connection.close()


def dead_url():
    """The base URL of a loopback port that nothing listens on: connections are refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return "http://127.0.0.1:%d" % probe.getsockname()[1]


def each_call(client, folder):
    """The calls that take timeout_ms= and cancel=, by name, each as a function of those."""
    return {
        "submit": lambda **limits: client.submit(b"%PDF-1.4", **limits),
        "submit_file": lambda **limits: client.submit_file(SAMPLE_PDF, **limits),
        "fetch": lambda **limits: client.fetch("task", **limits),
        "fetch_to_dir": lambda **limits: client.fetch_to_dir("task", folder, **limits),
        "task_status": lambda **limits: client.task_status("task", **limits),
        "cancel_task": lambda **limits: client.cancel_task("task", **limits),
    }


# The public names as they were before the package was split into modules (and as README.md
# documents them): every one stays importable from ocrcloud itself.
PUBLIC_NAMES = [
    "Client", "Result", "ResultFile", "CancelToken", "TaskStatus", "Code", "OcrError",
    "InvalidArgumentError", "NetworkError", "TimedOutError", "HttpError", "UnauthorizedError",
    "ProtocolError", "DecodeError", "TaskFailedError", "TaskNotFoundError", "NotReadyError",
    "CancelledError", "TooLargeError", "FileError", "InternalError", "TlsError", "version",
    "LogLevel", "set_log_level", "log_to", "ClientStats", "Batch", "BatchItem", "BatchState",
]


class TestPublicNames:
    def test_the_public_names_are_unchanged(self):
        assert ocrcloud.__all__ == PUBLIC_NAMES
        namespace = {}
        exec("from ocrcloud import *", namespace)
        assert sorted(set(namespace) - {"__builtins__"}) == sorted(PUBLIC_NAMES)
        for name in PUBLIC_NAMES:
            # Named as the package's own (tracebacks and pickles say ocrcloud.TimedOutError).
            assert getattr(ocrcloud, name).__module__ == "ocrcloud", name
        error = pickle.loads(pickle.dumps(ocrcloud.TimedOutError(Code.TIMEOUT, "late")))
        assert (type(error), error.code, error.message) == \
            (ocrcloud.TimedOutError, Code.TIMEOUT, "late")


class TestHeaderCoverage:
    """The module follows include/ocrcloud.h: every function declared, every code mapped."""

    @pytest.fixture
    def header(self):
        with open(os.path.join(ROOT, "include", "ocrcloud.h")) as f:
            return f.read()

    def test_every_function_has_a_signature(self, header):
        declared = set(re.findall(r"^[a-z][\w ]*?\**\s*\**(ocr_\w+)\(", header, re.M))
        assert declared
        assert declared - set(ocrcloud._native._SIGNATURES) == set()

    def test_every_code_and_status_is_mapped(self, header):
        codes = dict(re.findall(r"#define OCR_((?:OK|ERR_\w+)) (\d+)", header))
        assert {name.replace("ERR_", "", 1): int(v) for name, v in codes.items()} == \
            {member.name: member.value for member in Code}
        for code in Code:
            if code != Code.OK:
                assert ocrcloud.errors._ERRORS[code](code, "m").code == code
                assert f"OCR_ERR_{code.name}" in str(ocrcloud.errors._ERRORS[code](code, "m"))
        statuses = dict(re.findall(r"#define OCR_TASK_(\w+) (\d+)", header))
        assert {name: int(v) for name, v in statuses.items()} == \
            {member.name: member.value for member in TaskStatus}

    def test_statuses_read_as_the_service_spells_them(self):
        spelled = {TaskStatus.UNKNOWN: "Unknown", TaskStatus.PENDING: "Pending",
                   TaskStatus.PROCESSING: "Processing", TaskStatus.COMPLETED: "Completed",
                   TaskStatus.ERROR: "Error", TaskStatus.NOT_EXIST: "NotExist"}
        assert set(spelled) == set(TaskStatus)
        for status, text in spelled.items():
            assert str(status) == text
            assert f"{status}" == text
            assert f"{status:>10}" == f"{text:>10}"
            assert _lib_name(status) == text

    def test_every_stat_is_a_field_of_client_stats(self, header):
        stats = dict(re.findall(r"#define OCR_STAT_(\w+) (\d+)", header))
        assert {name.lower(): int(v) for name, v in stats.items()} == ocrcloud.client._STATS
        assert list(ocrcloud.client._STATS) == \
            [f.name for f in dataclasses.fields(ocrcloud.ClientStats)]

    def test_version(self, header):
        expected = re.search(r'#define OCR_VERSION_STRING "([^"]+)"', header).group(1)
        assert ocrcloud.version() == expected


class TestFetch:
    def test_a_completed_fixture_gives_its_decoded_files(self, client, emulator):
        task = emulator.add_task({"results": [{"type": "Text", "text": "héllo\n"},
                                    {"type": "Pdf", "generate": {"bytes": 1000}}]})
        with client.fetch(task) as result:
            assert result.status == TaskStatus.COMPLETED
            assert result.status_text == "Completed"
            assert result.id == task
            assert result.response_status == "Ok"
            assert result.types == ["Text", "Pdf"]
            files = result.files
            assert files[0] == ("Text", "héllo\n".encode())
            assert files[1].type == "Pdf"
            assert files[1].data == bytes(i % 251 for i in range(1000))
            assert result.messages == []

    def test_every_status_is_information(self, client, emulator):
        for status, expected in [("Pending", TaskStatus.PENDING),
                                 ("Processing", TaskStatus.PROCESSING),
                                 ("Queued", TaskStatus.UNKNOWN)]:
            with client.fetch(emulator.add_task({"taskStatus": status})) as result:
                assert result.status == expected
                assert result.status_text == status
                assert result.files == []
        failed = emulator.add_task({"taskStatus": "Error", "error": {
            "messages": ["page 1 is blank", "no text"], "warnings": ["low resolution"]}})
        with client.fetch(failed) as result:
            assert result.status == TaskStatus.ERROR
            assert result.messages == ["page 1 is blank", "no text"]
            assert result.warnings == ["low resolution"]
        with client.fetch("no-such-task", "RecognizeImage") as result:
            assert result.status == TaskStatus.NOT_EXIST
            assert result.id == "no-such-task"

    def test_a_client_is_shared_by_threads(self, client, emulator):
        task = emulator.add_task({"results": [{"type": "Text", "text": "x"}]})
        statuses = []

        def fetch():
            for _ in range(20):
                with client.fetch(task) as result:
                    statuses.append(result.status)

        threads = [threading.Thread(target=fetch) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert statuses == [TaskStatus.COMPLETED] * 160


class TestSubmitAndPoll:
    def test_round_trip_with_progress_and_save(self, client, emulator):
        pdf = sample_pdf()
        task = client.submit(pdf, "RecognizePdf",
                                  {"language": "English", "resultType": "TextAndPdf"})
        reports = []
        with client.poll(task, interval_ms=30, backoff=(1.5, 200), timeout_ms=20000,
                              progress=lambda *report: reports.append(report)) as result:
            assert result.status == TaskStatus.COMPLETED
            text, pdf_file = result.files
            assert text.type == "Text"
            assert "Hello from ocrcloud!" in str(text.data, "utf-8")
            assert pdf_file == ("Pdf", pdf)
            with tempfile.TemporaryDirectory() as folder:
                path = os.path.join(folder, "out.pdf")
                result.save(1, path)
                with open(path, "rb") as f:
                    assert f.read() == pdf
                with pytest.raises(ocrcloud.FileError) as raised:
                    result.save(1, os.path.join(folder, "missing", "out.pdf"))
                assert raised.value.code == Code.IO
                assert "No such file" in raised.value.message
                with pytest.raises(ocrcloud.InvalidArgumentError):
                    result.save(2, path)
                assert os.listdir(folder) == ["out.pdf"]
        assert len(reports) >= 3
        assert [r[2] for r in reports] == list(range(1, len(reports) + 1))
        assert all(r[0] == task for r in reports)
        assert reports[0][1] == TaskStatus.PENDING
        assert TaskStatus.PROCESSING in [r[1] for r in reports]
        assert reports[-1][1] == TaskStatus.COMPLETED
        assert isinstance(reports[-1][1], TaskStatus)
        assert emulator.polls(task) == len(reports)

    def test_submit_sends_the_documented_body(self, client, emulator):
        task = client.submit(bytearray(b"%PDF-1.4 tiny"))
        request = emulator.control("GET", f"/_emulator/tasks/{task}")["request"]
        assert request["image"] == "JVBERi0xLjQgdGlueQ=="
        assert request["settings"]["resultType"] == "Pdf"
        task = client.submit(b"%PDF-1.4", settings='{"resultType": "Hocr"}')
        assert emulator.control("GET", f"/_emulator/tasks/{task}")["request"]["settings"] == \
            {"resultType": "Hocr"}
        task = client.submit("Hello", "ConvertTextToSpeech")
        assert emulator.control("GET", f"/_emulator/tasks/{task}")["request"]["text"] == "Hello"

    def test_submit_refuses_bad_operations_and_settings(self, client):
        with pytest.raises(ocrcloud.InvalidArgumentError) as raised:
            client.submit(b"x", "RecognizeEverything")
        assert "RecognizeEverything" in raised.value.message
        with pytest.raises(ocrcloud.InvalidArgumentError) as raised:
            client.submit(b"x", settings="[1]")
        assert "settings_json" in raised.value.message
        with pytest.raises(TypeError):
            client.submit(5)

    def test_an_error_task_raises_task_failed_with_the_servers_message(self, client, emulator):
        task = emulator.add_task({"taskStatus": "Error",
                        "error": {"messages": ["the scan is unreadable"]}})
        with pytest.raises(ocrcloud.TaskFailedError) as raised:
            client.poll(task, **FAST)
        assert raised.value.code == Code.TASK_FAILED
        assert "the scan is unreadable" in raised.value.message
        assert task in str(raised.value)
        not_a_pdf = client.submit(b"GIF89a not a pdf")
        with pytest.raises(ocrcloud.TaskFailedError) as raised:
            client.poll(not_a_pdf, **FAST)
        assert "The document is not a PDF file." in raised.value.message

    def test_a_missing_task_raises_task_not_found(self, client):
        with pytest.raises(ocrcloud.TaskNotFoundError) as raised:
            client.poll("never-existed", **FAST)
        assert raised.value.code == Code.TASK_NOT_FOUND
        assert "never-existed" in raised.value.message

    def test_attempts_and_deadline(self, client, emulator):
        pending = emulator.add_task({"taskStatus": "Pending"})
        with pytest.raises(ocrcloud.NotReadyError):
            client.poll(pending, interval_ms=10, max_attempts=4, timeout_ms=0)
        assert emulator.polls(pending) == 4
        # A wait that would pass the deadline is not begun: with waits of 10 minutes the poll
        # asks once and ends with TimedOutError at once, naming the deadline.
        before = emulator.polls(pending)
        started = time.monotonic()
        with pytest.raises(ocrcloud.TimedOutError) as raised:
            client.poll(pending, interval_ms=LONG_MS, backoff=(1.0, LONG_MS), timeout_ms=700)
        assert time.monotonic() - started < PROMPT
        assert raised.value.code == Code.TIMEOUT
        assert "deadline" in raised.value.message
        assert emulator.polls(pending) - before == 1
        # Within the deadline the poll asks on its schedule, and never after it: at most at 0,
        # 200, 400 and 600 ms (fewer on a slow machine).
        before = emulator.polls(pending)
        with pytest.raises(ocrcloud.TimedOutError):
            client.poll(pending, interval_ms=200, backoff=(1.0, 200), timeout_ms=700)
        assert 1 <= emulator.polls(pending) - before <= 4
        with pytest.raises(ocrcloud.InvalidArgumentError):
            client.poll(pending, backoff=(0.5, 100))
        with pytest.raises(ValueError):
            client.poll(pending, interval_ms=-1)

    def test_learning_options_are_checked_and_passed(self, client, emulator):
        done = emulator.add_task({})
        with client.poll(done, learn=False, request_cost=2.5) as result:
            assert result.status == TaskStatus.COMPLETED
        with client.poll(done, learn=True, interval_ms=50, request_cost=0) as result:
            assert result.status == TaskStatus.COMPLETED
        for bad in (-1.0, float("nan"), float("inf")):
            with pytest.raises(ocrcloud.InvalidArgumentError):
                client.poll(done, request_cost=bad)
        with pytest.raises(TypeError):
            client.poll(done, learn=1)

    def test_cancel_from_another_thread_ends_the_poll_promptly(self, client, emulator):
        pending = emulator.add_task({"taskStatus": "Pending"})
        triggered = []
        with ocrcloud.CancelToken() as token:
            def cancel_later():
                time.sleep(0.3)
                triggered.append(time.monotonic())
                token.cancel()

            thread = threading.Thread(target=cancel_later)
            thread.start()
            with pytest.raises(ocrcloud.CancelledError) as raised:
                client.poll(pending, interval_ms=LONG_MS, timeout_ms=0, cancel=token)
            returned = time.monotonic()
            thread.join()
            print(f"\n    cancel: the poll returned {1000 * (returned - triggered[0]):.1f} ms "
                  "after the trigger", end=" ")
            assert returned - triggered[0] < PROMPT
            assert raised.value.code == Code.CANCELLED
            # A triggered token stays triggered: the next poll sends nothing.
            before = emulator.polls(pending)
            with pytest.raises(ocrcloud.CancelledError):
                client.poll(pending, cancel=token)
            assert emulator.polls(pending) == before

    def test_an_exception_in_progress_is_raised_after_the_poll(self, client):
        task = client.submit(sample_pdf())
        calls = []

        def progress(task_id, status, attempt):
            calls.append(attempt)
            raise KeyError("stop")

        with pytest.raises(KeyError):
            client.poll(task, progress=progress, **FAST)
        assert calls == [1]
        with client.poll(task, **FAST) as result:
            assert result.status == TaskStatus.COMPLETED


class TestLifecycle:
    def test_a_file_is_submitted_like_its_bytes(self, client):
        task = client.submit_file(SAMPLE_PDF, settings={"resultType": "Pdf"})
        with client.poll(task, **FAST) as result:
            assert result.files == [("Pdf", sample_pdf())]
        with pytest.raises(ocrcloud.FileError) as raised:
            client.submit_file("/no/such/file.pdf")
        assert raised.value.code == Code.IO
        assert "/no/such/file.pdf" in raised.value.message

    def test_status_follows_the_task_and_cancel_removes_it(self, client):
        task = client.submit(sample_pdf())
        assert client.task_status(task) in (TaskStatus.PENDING, TaskStatus.PROCESSING)
        with client.poll(task, **FAST):
            pass
        assert client.task_status(task) == TaskStatus.COMPLETED
        client.cancel_task(task)
        assert client.task_status(task) == TaskStatus.NOT_EXIST
        assert client.task_status("no-such-task") == TaskStatus.NOT_EXIST
        with pytest.raises(ocrcloud.InvalidArgumentError):
            client.cancel_task(None)

    def test_poll_many_gives_each_task_its_result_or_error(self, client):
        done = [client.submit(sample_pdf()) for _ in range(3)]
        failed = client.submit(b"GIF89a")
        reports = []
        client.configure(max_connections=2)
        outcomes = client.poll_many(
            done[:2] + [failed, "never-existed"] + done[2:],
            progress=lambda *report: reports.append(report), **FAST)
        assert len(outcomes) == 5
        for index in (0, 1, 4):
            with outcomes[index] as result:
                assert result.files == [("Pdf", sample_pdf())]
        assert isinstance(outcomes[2], ocrcloud.TaskFailedError)
        assert "The document is not a PDF file." in outcomes[2].message
        assert isinstance(outcomes[3], ocrcloud.TaskNotFoundError)
        assert "never-existed" in outcomes[3].message
        assert {r[0] for r in reports} == set(done) | {failed, "never-existed"}
        assert client.poll_many([]) == []
        with pytest.raises(ocrcloud.InvalidArgumentError) as raised:
            client.poll_many([done[0], None])
        assert "task_ids[1]" in raised.value.message

    def test_results_can_be_written_to_files(self, client):
        task = client.submit(sample_pdf(), settings={"resultType": "TextAndPdf"})
        with tempfile.TemporaryDirectory() as folder:
            with client.poll_to_dir(task, folder, progress=lambda *r: None,
                                         **FAST) as result:
                assert result.types == ["Text", "Pdf"]
                assert result.paths == [os.path.join(folder, f"{task}.txt"),
                                        os.path.join(folder, f"{task}.pdf")]
                assert result.sizes[1] == len(sample_pdf())
                assert [f.data for f in result.files] == [None, None]
                with open(result.paths[1], "rb") as f:
                    assert f.read() == sample_pdf()
            with client.fetch_to_dir(task, folder) as result:
                assert result.status == TaskStatus.COMPLETED
                assert sorted(os.listdir(folder)) == [f"{task}.pdf", f"{task}.txt"]
            with pytest.raises(ocrcloud.FileError):
                client.fetch_to_dir(task, os.path.join(folder, "missing"))
        with client.fetch(task) as result:
            assert result.paths == [None, None]
            assert result.sizes == [len(f.data) for f in result.files]

    def test_poll_many_is_cancelled_as_a_whole(self, client, emulator):
        pending = [emulator.add_task({"taskStatus": "Pending"}) for _ in range(3)]
        with ocrcloud.CancelToken() as token:
            threading.Timer(0.2, token.cancel).start()
            started = time.monotonic()
            outcomes = client.poll_many(pending, interval_ms=LONG_MS, timeout_ms=0, cancel=token)
        assert time.monotonic() - started < PROMPT
        assert [error.code for error in outcomes] == [Code.CANCELLED] * 3


class TestCallLimits:
    """timeout_ms= and cancel= of the calls other than polls, against a server that never
    answers (the client's own timeouts are LONG_MS)."""

    def test_a_call_cancelled_from_another_thread_ends_promptly(self):
        latencies = {}
        with SilentServer() as server, Client(server.url, "token", read_timeout_ms=LONG_MS,
                                              request_timeout_ms=LONG_MS) as client, \
                tempfile.TemporaryDirectory() as folder:
            for name, call in each_call(client, folder).items():
                with ocrcloud.CancelToken() as token:
                    triggered = []

                    def cancel_later():
                        time.sleep(0.1)
                        triggered.append(time.monotonic())
                        token.cancel()

                    thread = threading.Thread(target=cancel_later)
                    started = time.monotonic()
                    thread.start()
                    with pytest.raises(ocrcloud.CancelledError) as raised:
                        call(cancel=token)
                    returned = time.monotonic()
                    thread.join()
                assert raised.value.code == Code.CANCELLED
                assert returned - started >= 0.1, name
                latencies[name] = 1000 * (returned - triggered[0])
            assert os.listdir(folder) == []
        print("\n    cancel: returned " + ", ".join(
            f"{name} {ms:.1f} ms" for name, ms in latencies.items()) + " after the trigger",
            end=" ")
        assert max(latencies.values()) < 1000 * PROMPT, latencies

    def test_timeout_ms_ends_a_call_with_timed_out(self):
        with SilentServer() as server, Client(server.url, "token", read_timeout_ms=LONG_MS,
                                              request_timeout_ms=LONG_MS) as client, \
                tempfile.TemporaryDirectory() as folder:
            for name, call in each_call(client, folder).items():
                started = time.monotonic()
                with pytest.raises(ocrcloud.TimedOutError) as raised:
                    call(timeout_ms=200)
                elapsed = time.monotonic() - started
                assert raised.value.code == Code.TIMEOUT
                assert elapsed >= 0.19, name
                assert elapsed < PROMPT, name

    def test_limits_that_are_not_reached_change_nothing(self, emulator):
        task = emulator.add_task({"results": [{"type": "Text", "text": "in time"}]})
        with emulator.client() as client, ocrcloud.CancelToken() as token:
            with client.fetch(task, timeout_ms=10000, cancel=token) as result:
                assert result.files == [("Text", b"in time")]
            assert client.task_status(task, timeout_ms=0) == TaskStatus.COMPLETED
            token.cancel()  # triggered before the call: nothing is sent
            before = emulator.polls(task)
            with pytest.raises(ocrcloud.CancelledError):
                client.fetch(task, cancel=token)
            assert emulator.polls(task) == before
            with pytest.raises(TypeError):
                client.fetch(task, cancel="soon")
            with pytest.raises(ValueError):
                client.fetch(task, timeout_ms=-1)
            with pytest.raises(TypeError):
                client.fetch(task, 5000)  # the limits are keyword-only: 5000 is the operation

    def test_poll_many_gives_each_failed_task_its_own_message(self, emulator):
        first = emulator.add_task({"taskStatus": "Error",
                                   "error": {"messages": ["page 1 is blank"]}})
        second = emulator.add_task({"taskStatus": "Error",
                                    "error": {"messages": ["the scan is upside down"]}})
        done = emulator.add_task({"results": [{"type": "Text", "text": "x"}]})
        with emulator.client() as client:
            outcomes = client.poll_many([first, done, second, "never-existed"], **FAST)
        assert isinstance(outcomes[0], ocrcloud.TaskFailedError)
        assert "page 1 is blank" in outcomes[0].message
        assert first in outcomes[0].message
        assert "upside down" not in outcomes[0].message
        outcomes[1].close()
        assert isinstance(outcomes[2], ocrcloud.TaskFailedError)
        assert "the scan is upside down" in outcomes[2].message
        assert second in outcomes[2].message
        assert "page 1 is blank" not in outcomes[2].message
        assert isinstance(outcomes[3], ocrcloud.TaskNotFoundError)
        assert "never-existed" in outcomes[3].message
        assert "did not complete: OCR_ERR" not in outcomes[3].message


class TestFlowControl:
    """configure(max_rate=, circuit_breaker=) and Client.stats()."""

    def test_stats_count_the_requests_and_the_token_fetches(self, emulator):
        task = emulator.add_task({"results": [{"type": "Text", "text": "x"}]})
        with emulator.client() as client:
            assert client.stats() == ocrcloud.ClientStats(
                requests=0, retries=0, throttled=0, token_fetches=0, rate=0.0,
                breaker_open=False, retry_quota=500)
            for _ in range(3):
                client.fetch(task).close()
            stats = client.stats()
            assert stats.requests == 4  # three fetches and the token request
            assert stats.token_fetches == 1
            assert (stats.retries, stats.throttled, stats.rate, stats.breaker_open,
                    stats.retry_quota) == (0, 0, 0.0, False, 500)
            assert isinstance(stats.requests, int)
            assert isinstance(stats.rate, float)
            assert isinstance(stats.breaker_open, bool)
            with pytest.raises(dataclasses.FrozenInstanceError):
                stats.requests = 0
            client.fetch(task).close()
            assert client.stats().requests == 5
            assert client.stats().token_fetches == 1
        with pytest.raises(ValueError, match="the Client is closed"):
            client.stats()

    def test_max_rate_is_validated_and_shown_in_the_stats(self, emulator):
        with emulator.client() as client:
            for bad in (-1, -0.5, float("nan"), float("inf"), float("-inf")):
                with pytest.raises(ocrcloud.InvalidArgumentError) as raised:
                    client.configure(max_rate=bad)
                assert raised.value.code == Code.INVALID_ARGUMENT
                assert "per_second" in raised.value.message
            for bad in ("10", None, True):
                with pytest.raises(TypeError):
                    client.configure(max_rate=bad)
            assert client.stats().rate == 0.0  # the refusals changed nothing
            client.configure(max_rate=20)
            assert client.stats().rate == 20.0
            client.configure(max_rate=2.5)
            assert client.stats().rate == 2.5
            client.configure(max_rate=0)
            assert client.stats().rate == 0.0
            assert client.stats().requests == 0
        with Client(emulator.url, "token", max_rate=50.0, circuit_breaker=False) as client:
            assert client.stats().rate == 50.0

    def test_the_circuit_breaker_opens_on_a_dead_port_unless_turned_off(self):
        url = dead_url()
        with Client(url, "token", max_attempts=1, circuit_breaker=False) as client:
            for attempt in range(6):
                with pytest.raises(ocrcloud.NetworkError) as raised:
                    client.fetch("x")
                assert "looks down" not in raised.value.message
            stats = client.stats()
            assert not stats.breaker_open
            assert stats.requests == 6
        with Client(url, "token", max_attempts=1) as client:  # on by default
            for attempt in range(5):
                with pytest.raises(ocrcloud.NetworkError) as raised:
                    client.fetch("x")
                assert "looks down" not in raised.value.message
            with pytest.raises(ocrcloud.NetworkError) as raised:  # at once: see requests below
                client.fetch("x")
            assert raised.value.code == Code.NETWORK
            assert "looks down" in raised.value.message
            stats = client.stats()
            assert stats.breaker_open
            assert stats.requests == 5  # the sixth was not sent
            client.configure(circuit_breaker=False)  # turning it off closes it
            assert not client.stats().breaker_open
            with pytest.raises(ocrcloud.NetworkError) as raised:
                client.fetch("x")
            assert "looks down" not in raised.value.message


class TestClientSettings:
    def test_wrong_credentials_and_tokens_are_unauthorized(self, emulator):
        task = emulator.add_task({"results": [{"type": "Text", "text": "x"}]})
        with Client.with_credentials(emulator.url, "demo", "not-the-secret") as client:
            with pytest.raises(ocrcloud.UnauthorizedError) as raised:
                client.fetch(task)
        assert raised.value.code == Code.UNAUTHORIZED
        assert "not-the-secret" not in str(raised.value)
        with Client(emulator.url, "made-up-token-123") as client:
            with pytest.raises(ocrcloud.UnauthorizedError) as raised:
                client.fetch(task)
        assert "401" in raised.value.message

    def test_log_lines_reach_a_python_logger(self, emulator):
        import logging

        class Collect(logging.Handler):
            def __init__(self):
                super().__init__()
                self.records = []

            def emit(self, record):
                self.records.append(record)

        logger = logging.getLogger("ocrcloud-test")
        logger.propagate = False
        logger.setLevel(logging.DEBUG)
        handler = Collect()
        logger.addHandler(handler)
        ocrcloud.log_to(logger)
        ocrcloud.set_log_level(ocrcloud.LogLevel.DEBUG)
        try:
            with emulator.client() as client, client.fetch("no-such-task"):
                pass
        finally:
            ocrcloud.set_log_level(ocrcloud.LogLevel.OFF)
            ocrcloud.log_to(None)
        lines = [(r.levelno, r.getMessage()) for r in handler.records]
        assert any(level == logging.INFO and "obtained a token" in text
                   for level, text in lines), lines
        assert any(level == logging.DEBUG and "-> HTTP 200" in text
                   for level, text in lines), lines
        assert not any("demo-secret" in text for _, text in lines)
        with pytest.raises(ocrcloud.InvalidArgumentError):
            ocrcloud.set_log_level(7)

    def test_settings(self, emulator):
        big = emulator.add_task({"results": [{"type": "Pdf", "generate": {"bytes": 1000}}]})
        with emulator.client(max_response_bytes=500, user_agent="tests/1.0",
                         connect_timeout_ms=5000, read_timeout_ms=5000,
                         request_timeout_ms=5000, max_attempts=1) as client:
            with pytest.raises(ocrcloud.TooLargeError) as raised:
                client.fetch(big)
            assert "500" in raised.value.message
            client.configure(max_response_bytes=100000)
            with client.fetch(big) as result:
                assert len(result.files[0].data) == 1000
            with pytest.raises(ocrcloud.InvalidArgumentError):
                client.configure(request_timeout_ms=0)
            with pytest.raises(ValueError):
                client.configure(read_timeout_ms=1 << 32)
            with pytest.raises(TypeError):
                client.configure(colour="blue")

    def test_plain_http_is_only_for_loopback_unless_allowed(self):
        # A host that is not loopback (`.invalid` never resolves); nothing is sent to it.
        with Client("http://ocr.invalid:9", "token") as client:
            with pytest.raises(ocrcloud.InvalidArgumentError) as raised:
                client.fetch("x")
            assert "plain http" in raised.value.message
            # Allowed, the request is sent; through a proxy on a loopback port that nothing
            # listens on, so that nothing leaves the machine.
            client.configure(allow_insecure_http=True, proxy=dead_url(), max_attempts=1)
            with pytest.raises(ocrcloud.NetworkError) as raised:
                client.fetch("x")
            assert "plain http" not in raised.value.message
        with pytest.raises(ocrcloud.InvalidArgumentError):
            Client("ftp://x")


class TestHttps:
    """The HTTPS emulator: its CA is trusted only when the client is told to."""

    @pytest.fixture
    def https_client(self, tls_emulator):
        """Makes clients of the HTTPS emulator (with the given settings)."""
        return lambda **settings: Client.with_credentials(tls_emulator.url, "demo",
                                                          "demo-secret", **settings)

    def round_trip(self, client):
        pdf = sample_pdf()
        task = client.submit(pdf, settings={"resultType": "TextAndPdf"})
        with client.poll(task, **FAST) as result:
            assert result.status == TaskStatus.COMPLETED
            assert "Hello from ocrcloud!" in str(result.files[0].data, "utf-8")
        with client.fetch(task) as result:
            assert result.files[1] == ("Pdf", pdf)

    def test_an_untrusted_certificate_is_a_tls_error(self, emulator, tls_emulator, https_client):
        assert tls_emulator.url.startswith("https://"), tls_emulator.url
        with https_client() as client:
            with pytest.raises(ocrcloud.TlsError) as raised:
                client.fetch("x")
            stats = client.stats()  # not retried: the token request was the only one
            assert (stats.requests, stats.retries, stats.token_fetches) == (1, 0, 1)
        assert isinstance(raised.value, ocrcloud.OcrError)
        assert raised.value.code == Code.TLS
        assert "not trusted" in raised.value.message
        assert "OCR_ERR_TLS" in str(raised.value)
        # The plain emulator's port does not speak TLS.
        plain_port_over_https = emulator.url.replace("http://", "https://", 1)
        with Client(plain_port_over_https, "token", max_attempts=1) as client:
            with pytest.raises(ocrcloud.TlsError):
                client.fetch("x")

    def test_ca_file_trusts_the_emulators_ca(self, tls_emulator, https_client):
        with https_client(ca_file=tls_emulator.ca_file) as client:
            self.round_trip(client)
            client.configure(ca_file=None)  # back to the default: untrusted again
            with pytest.raises(ocrcloud.TlsError):
                client.fetch("x")
        with https_client() as client:
            client.configure(ca_file=pathlib.Path(tls_emulator.ca_file))  # a path-like works too
            self.round_trip(client)

    def test_ca_pem_trusts_the_same_bytes(self, tls_emulator, https_client):
        with open(tls_emulator.ca_file, "rb") as f:
            pem = f.read()
        with https_client(ca_pem=pem) as client:
            self.round_trip(client)
        with https_client(ca_pem=pem.decode()) as client:
            with client.fetch("x") as result:
                assert result.status == TaskStatus.NOT_EXIST

    def test_a_bad_ca_is_an_invalid_argument_and_changes_nothing(self, tls_emulator, https_client):
        with https_client(ca_file=tls_emulator.ca_file) as client, \
                tempfile.TemporaryDirectory() as d:
            empty = os.path.join(d, "empty.pem")
            with open(empty, "w") as f:
                f.write("no certificate here\n")
            for bad in (os.path.join(d, "missing.pem"), empty, SAMPLE_PDF):
                with pytest.raises(ocrcloud.InvalidArgumentError) as raised:
                    client.configure(ca_file=bad)
                assert raised.value.code == Code.INVALID_ARGUMENT
                assert os.path.basename(bad) in raised.value.message
            for bad in (b"", b"-----BEGIN NOTHING-----\n"):
                with pytest.raises(ocrcloud.InvalidArgumentError):
                    client.configure(ca_pem=bad)
            with pytest.raises(TypeError):
                client.configure(ca_file=5)
            with client.fetch("x") as result:  # the CA given first is still trusted
                assert result.status == TaskStatus.NOT_EXIST

    def test_proxies(self, tls_emulator, https_client):
        with https_client(ca_file=tls_emulator.ca_file) as client:
            for bad in ("socks5://x:1", "socks4://x:1", "ftp://x:1", "x:1"):
                with pytest.raises(ocrcloud.InvalidArgumentError) as raised:
                    client.configure(proxy=bad)
                assert raised.value.code == Code.INVALID_ARGUMENT
                assert bad in raised.value.message
            # A loopback base URL never goes through a proxy, even one that does not exist.
            client.configure(proxy="http://127.0.0.1:9")
            with client.fetch("x") as result:
                assert result.status == TaskStatus.NOT_EXIST
            client.configure(proxy="")
            client.configure(proxy=None)
            with client.fetch("x") as result:
                assert result.status == TaskStatus.NOT_EXIST


class TestMisuse:
    def test_closed_objects_raise_and_never_crash(self, emulator):
        client = emulator.client()
        result = client.fetch(emulator.add_task({"results": [{"type": "Text", "text": "kept"}]}))
        client.close()
        client.close()
        assert client.closed
        for call in (lambda: client.fetch("x"), lambda: client.poll("x"),
                     lambda: client.submit(b"x"), lambda: client.configure(max_attempts=2)):
            with pytest.raises(ValueError, match="the Client is closed"):
                call()
        assert result.files[0].data == b"kept"  # results outlive their client
        result.close()
        result.close()
        assert result.status == TaskStatus.COMPLETED
        assert result.types == ["Text"]
        with pytest.raises(ValueError, match="the Result is closed"):
            result.files
        with pytest.raises(ValueError, match="the Result is closed"):
            result.save(0, "/tmp/never-written")
        token = ocrcloud.CancelToken()
        token.close()
        with pytest.raises(ValueError, match="the CancelToken is closed"):
            token.cancel()
        with emulator.client() as client, pytest.raises(ValueError, match="closed"):
            client.poll("x", cancel=token)

    def test_closing_a_client_during_a_poll_frees_it_afterwards(self, emulator):
        pending = emulator.add_task({"taskStatus": "Pending"})
        client = emulator.client()
        token = ocrcloud.CancelToken()
        outcome = []

        def poll():
            try:
                client.poll(pending, interval_ms=50, backoff=(1.0, 50), cancel=token)
            except ocrcloud.OcrError as error:
                outcome.append(error.code)

        thread = threading.Thread(target=poll)
        thread.start()
        wait_until(lambda: emulator.polls(pending) >= 2, "the poll to begin")
        client.close()
        closed_at = emulator.polls(pending)
        # The poll goes on with the client it started with.
        wait_until(lambda: emulator.polls(pending) >= closed_at + 2, "polls after the close")
        token.cancel()
        thread.join()
        assert outcome == [Code.CANCELLED]
        assert emulator.polls(pending) > 3
        with pytest.raises(ValueError):
            client.fetch(pending)
        token.close()

    def test_none_and_bad_arguments_raise_clear_exceptions(self, emulator):
        with emulator.client() as client:
            for call in (lambda: client.fetch(None), lambda: client.poll(None)):
                with pytest.raises(ocrcloud.InvalidArgumentError) as raised:
                    call()
                assert isinstance(raised.value, ValueError)
                assert "task_id is NULL" in raised.value.message
            for bad in ("", "a\r\nHost: evil"):
                with pytest.raises(ocrcloud.InvalidArgumentError):
                    client.fetch(bad)
            with pytest.raises(ValueError, match="NUL"):
                client.fetch("a\0b")
            with pytest.raises(TypeError):
                client.fetch(42)
            with pytest.raises(TypeError):
                client.poll("x", cancel="soon")
        with pytest.raises(ocrcloud.InvalidArgumentError):
            Client.with_credentials(emulator.url, None, "secret")


# Put first in a child's script: Ctrl-C raises KeyboardInterrupt there, as in any Python started
# from a terminal, also when this test run started with SIGINT ignored (`&` in a
# non-interactive shell), which a child inherits and Python then leaves ignored.
CTRL_C_RAISES = "import signal; signal.signal(signal.SIGINT, signal.default_int_handler)\n"


def run_script(url, script, *args, timeout=300):
    """Runs a Python script that imports ocrcloud (``url`` is its first argument) in a process of
    its own, so that a crash there fails a test instead of ending the run; ``timeout`` (seconds)
    only guards against a hang. Ctrl-C raises KeyboardInterrupt in it (CTRL_C_RAISES)."""
    env = dict(os.environ, PYTHONPATH=HERE)
    argv = [sys.executable, "-c", CTRL_C_RAISES + script, url, *map(str, args)]
    return subprocess.run(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, timeout=timeout, check=False)


class TestArguments:
    @pytest.fixture
    def folder(self):
        with tempfile.TemporaryDirectory() as made:
            yield made

    def test_paths_may_be_pathlike_or_bytes(self, client, emulator, folder):
        import pathlib
        task = emulator.add_task({"results": [{"type": "Text", "text": "x"}]})
        for path in (pathlib.Path(SAMPLE_PDF), os.fsencode(SAMPLE_PDF)):
            assert client.submit_file(path, "RecognizePdf").count("-") == 4
        with client.fetch(task) as result:
            for path in (pathlib.Path(folder, "a.txt"), os.fsencode(folder) + b"/b"):
                result.save(0, path)
        with client.fetch_to_dir(task, pathlib.Path(folder)) as result:
            assert result.paths == [os.path.join(folder, f"{task}.txt")]
        assert sorted(os.listdir(folder)) == sorted(["a.txt", "b", f"{task}.txt"])

    def test_a_path_that_is_not_utf8_is_a_value_error_naming_it(self, client, emulator, folder):
        raw = os.fsencode(folder) + b"/not-\xff-utf8.pdf"
        with open(raw, "wb") as f:
            f.write(sample_pdf())
        listed = os.path.join(folder, os.listdir(folder)[0])  # a surrogate escape
        task = emulator.add_task({"results": [{"type": "Text", "text": "x"}]})
        with client.fetch(task) as result:
            for call in (lambda: client.submit_file(raw),
                         lambda: client.submit_file(listed),
                         lambda: result.save(0, listed),
                         lambda: client.fetch_to_dir(task, raw)):
                with pytest.raises(ValueError, match="not UTF-8") as raised:
                    call()
                assert "not-" in str(raised.value)
                assert not isinstance(raised.value, UnicodeError)
        with pytest.raises(ValueError, match="NUL"):
            client.submit_file(b"a\0b")
        with pytest.raises(TypeError):
            client.submit_file(42)

    def test_poll_many_refuses_a_string(self, client, emulator):
        before = emulator.control("GET", "/_emulator/stats")["requests"]
        for ids in ("abc", b"abc"):
            with pytest.raises(TypeError):
                client.poll_many(ids, **FAST)
        assert emulator.control("GET", "/_emulator/stats")["requests"] == before


class TestProcess:
    """Scenarios that end or interrupt a whole interpreter, each in a process of its own."""

    def test_a_daemon_thread_polling_at_exit_does_not_abort(self, emulator):
        script = """if True:
            import sys, threading, time, logging, ocrcloud
            url, task, how = sys.argv[1:]
            client = ocrcloud.Client.with_credentials(url, "demo", "demo-secret")
            logger = logging.getLogger("quiet")
            logger.addHandler(logging.NullHandler())
            logger.propagate = False
            ocrcloud.log_to(logger)
            ocrcloud.set_log_level(ocrcloud.LogLevel.DEBUG)
            options = dict(progress=lambda *a: None, interval_ms=5, backoff=(1.0, 5))
            poll = client.poll if how == "poll" else lambda t, **o: client.poll_many([t, t], **o)
            threading.Thread(target=poll, args=(task,), kwargs=options, daemon=True).start()
            time.sleep(0.2)
            """
        task = emulator.add_task({"taskStatus": "Pending"})
        for how in ("poll", "poll_many"):
            for _ in range(3):
                done = run_script(emulator.url, script, task, how)
                assert (done.returncode, done.stderr) == (0, ""), how

    def test_children_of_a_fork_get_the_answers_to_their_own_requests(self, emulator):
        # Before the pool checked which process made a connection, the children of a fork
        # shared the parent's pooled connection and read each other's answers.
        script = """if True:
            import multiprocessing, sys, ocrcloud
            url, count = sys.argv[1], int(sys.argv[2])
            client = ocrcloud.Client.with_credentials(url, "demo", "demo-secret")
            with client.fetch("fork-0"):
                pass  # the pool now holds a connection

            def fetch_all(child):
                wrong = []
                for i in range(child, count, 4):
                    try:
                        with client.fetch(f"fork-{i}") as result:
                            if bytes(result.files[0].data) != f"fork-{i}".encode():
                                wrong.append(i)
                    except ocrcloud.OcrError as error:
                        wrong.append(f"{i}: {error}")
                return wrong

            with multiprocessing.get_context("fork").Pool(4) as pool:
                wrong = [w for ws in pool.map(fetch_all, range(4)) for w in ws]
            print(wrong)
            """
        for i in range(100):
            emulator.add_task({"id": f"fork-{i}",
                               "results": [{"type": "Text", "text": f"fork-{i}"}]})
        done = run_script(emulator.url, script, "100")
        assert (done.returncode, done.stderr) == (0, "")
        assert done.stdout.strip() == "[]"

    def test_ctrl_c_cancels_a_blocking_poll_promptly(self, emulator):
        script = """if True:
            import os, signal, sys, threading, time, ocrcloud
            url, task, how = sys.argv[1:]
            client = ocrcloud.Client.with_credentials(url, "demo", "demo-secret")
            sent = []
            def interrupt():
                time.sleep(0.3)
                sent.append(time.monotonic())
                os.kill(os.getpid(), signal.SIGINT)
            threading.Thread(target=interrupt).start()
            try:
                if how == "poll":
                    client.poll(task, interval_ms=600000, timeout_ms=0)  # LONG_MS
                else:
                    client.poll_many([task, task], interval_ms=600000, timeout_ms=0)
            except KeyboardInterrupt:
                print(f"{1000 * (time.monotonic() - sent[0]):.1f}")
            """
        task = emulator.add_task({"taskStatus": "Pending"})
        for how in ("poll", "poll_many"):
            done = run_script(emulator.url, script, task, how)
            assert (done.returncode, done.stderr) == (0, ""), how
            elapsed = float(done.stdout)
            print(f"\n    Ctrl-C: {how} raised KeyboardInterrupt {elapsed} ms after SIGINT",
                  end=" ")
            assert elapsed < 1000 * PROMPT, how

    def test_ctrl_c_cancels_a_blocking_call_promptly(self, emulator):
        # fetch and the other calls that run through _CallOptions.run, against a server that
        # accepts connections and never answers: without the cancel they would wait for the
        # read timeout (LONG_MS here).
        script = """if True:
            import os, signal, sys, tempfile, threading, time, ocrcloud
            _url, silent_url, sample = sys.argv[1:]
            client = ocrcloud.Client(silent_url, "token", read_timeout_ms=600000,
                                     request_timeout_ms=600000)
            folder = tempfile.mkdtemp()
            calls = {
                "fetch": lambda: client.fetch("task"),
                "submit": lambda: client.submit(b"%PDF-1.4"),
                "submit_file": lambda: client.submit_file(sample),
                "fetch_to_dir": lambda: client.fetch_to_dir("task", folder),
                "task_status": lambda: client.task_status("task"),
                "cancel_task": lambda: client.cancel_task("task"),
            }
            for name, call in calls.items():
                sent = []
                def interrupt():
                    time.sleep(0.3)
                    sent.append(time.monotonic())
                    os.kill(os.getpid(), signal.SIGINT)
                thread = threading.Thread(target=interrupt)
                thread.start()
                try:
                    call()
                    print(name, "returned")
                except KeyboardInterrupt:
                    print(name, f"{1000 * (time.monotonic() - sent[0]):.1f}")
                thread.join()
            os.rmdir(folder)
            """
        with SilentServer() as server:
            done = run_script(emulator.url, script, server.url, SAMPLE_PDF)
        assert (done.returncode, done.stderr) == (0, "")
        elapsed = dict(line.split() for line in done.stdout.splitlines())
        assert list(elapsed) == ["fetch", "submit", "submit_file", "fetch_to_dir",
                                 "task_status", "cancel_task"]
        print("\n    Ctrl-C: " + ", ".join(f"{name} {ms} ms" for name, ms in elapsed.items())
              + " after SIGINT", end=" ")
        for name, ms in elapsed.items():
            assert float(ms) < 1000 * PROMPT, name

    def test_log_handlers_may_be_replaced_while_threads_log(self, emulator):
        script = """if True:
            import logging, sys, threading, time, ocrcloud
            url, task = sys.argv[1:]
            loggers = []
            for name in ("a", "b"):
                logger = logging.getLogger(name)
                logger.addHandler(logging.NullHandler())
                logger.propagate = False
                loggers.append(logger)
            ocrcloud.log_to(loggers[0])
            ocrcloud.set_log_level(ocrcloud.LogLevel.DEBUG)
            client = ocrcloud.Client.with_credentials(url, "demo", "demo-secret")
            stop = time.monotonic() + 3
            def fetch():
                while time.monotonic() < stop:
                    client.fetch(task).close()
            def swap():
                n = 0
                while time.monotonic() < stop:
                    ocrcloud.log_to(loggers[n % 2])
                    n += 1
            threads = [threading.Thread(target=f) for f in [fetch] * 4 + [swap] * 2]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            ocrcloud.log_to(None)
            ocrcloud.set_log_level(ocrcloud.LogLevel.OFF)
            print("done")
            """
        task = emulator.add_task({"taskStatus": "Pending"})
        done = run_script(emulator.url, script, task)
        assert (done.returncode, done.stdout, done.stderr) == (0, "done\n", "")


class TestZeroCopy:
    """Result data are views of the library's own buffers, valid while the Result is open."""

    expected = bytes(i % 251 for i in range(1000))

    @pytest.fixture(autouse=True)
    def task(self, emulator):
        self.task = emulator.add_task({"results": [{"type": "Pdf", "generate": {"bytes": 1000}}]})

    def test_data_is_a_read_only_view_of_the_librarys_buffer(self, client):
        with client.fetch(self.task) as result:
            data = result.files[0].data
            assert isinstance(data, memoryview)
            assert data.readonly
            assert (data.format, data.nbytes) == ("B", 1000)
            size = ctypes.c_size_t()
            with result._use() as handle:
                pointer = ocrcloud._lib.ocr_result_data(handle, 0, ctypes.byref(size))
            assert ctypes.addressof(data.obj) == pointer  # no copy
            assert result.files[0].data is data  # the same view on every access
            copy = bytes(data)
            assert copy == self.expected
            with pytest.raises(TypeError):
                data[0] = 1
        assert copy == self.expected  # a copy outlives the result

    def test_a_view_used_after_close_raises(self, client):
        result = client.fetch(self.task)
        data = result.files[0].data
        result.close()
        for use in (lambda: data[0], lambda: bytes(data), lambda: len(data), data.tobytes):
            with pytest.raises(ValueError, match="released"):
                use()

    def test_a_slice_or_an_export_keeps_the_buffer_alive_after_close(self, client):
        # A slice and a memoryview of the view share its buffer; a PickleBuffer is an export
        # (like numpy.frombuffer), under which the view itself cannot be released.
        for keep, expected in ((lambda data: data[10:20], self.expected[10:20]),
                               (memoryview, self.expected),
                               (pickle.PickleBuffer, self.expected)):
            result = client.fetch(self.task)
            data = result.files[0].data
            native = weakref.ref(result._memory._native)
            kept = keep(data)
            result.close()
            assert native() is not None, keep  # not freed under the slice or export
            assert bytes(kept) == expected
            del kept, data
            gc.collect()
            assert native() is None, keep  # freed with the last user

    def test_a_closed_result_is_freed_at_once(self, client):
        result = client.fetch(self.task)
        assert len(result.files[0].data) == 1000
        native = weakref.ref(result._memory._native)
        result.close()
        assert native() is None

    def test_large_data_is_read_in_place_after_the_client_is_gone(self, emulator):
        # 8 MiB: a buffer of its own mapping, which a premature free would unmap (a crash).
        script = """if True:
            import gc, sys, ocrcloud
            url, task = sys.argv[1:]
            with ocrcloud.Client.with_credentials(url, "demo", "demo-secret") as client:
                result = client.fetch(task)
            part = result.files[0].data[-1000:]
            result.close()
            gc.collect()
            filler = [bytearray(1 << 20) for _ in range(64)]
            print(sum(part) == sum(i % 251 for i in range(8 << 20)[-1000:]))
            """
        task = emulator.add_task({"results": [{"type": "Pdf", "generate": {"bytes": 8 << 20}}]})
        done = run_script(emulator.url, script, task)
        assert (done.returncode, done.stdout, done.stderr) == (0, "True\n", "")


class TestAsync:
    """await client.poll_async(...): the event loop goes on; cancelling the task cancels the
    native poll."""

    def test_poll_async_answers_the_completed_result_while_the_loop_goes_on(self, client, emulator):
        task = emulator.add_task({"results": [{"type": "Text", "text": "async"}], "pendingMs": 300})
        ticked = threading.Event()
        waits = []

        def progress(task_id, status, attempt):
            # On the poll's thread: after each answer the poll goes on only once the event loop
            # has run again (a loop held by the poll would never set the event).
            ticked.clear()
            waits.append(ticked.wait(PROMPT))

        async def main():
            async def tick():
                while True:
                    ticked.set()
                    await asyncio.sleep(0.01)

            ticker = asyncio.ensure_future(tick())
            try:
                return await client.poll_async(task, progress=progress, **FAST)
            finally:
                ticker.cancel()

        with asyncio.run(main()) as result:
            assert result.status == TaskStatus.COMPLETED
            assert result.files[0].data == b"async"
        assert waits and all(waits)  # the loop ran during the poll

    def test_a_failed_poll_raises_in_the_awaiting_task(self, client):
        async def main():
            return await client.poll_async("no-such-task", **FAST)

        with pytest.raises(ocrcloud.TaskNotFoundError):
            asyncio.run(main())

    def test_cancelling_the_task_cancels_the_native_poll(self, client, emulator):
        for given in (None, ocrcloud.CancelToken()):
            task = emulator.add_task({"taskStatus": "Pending"})

            async def main():
                options = dict(interval_ms=50, backoff=(1.0, 50), timeout_ms=0)
                if given is not None:
                    options["cancel"] = given
                poll = asyncio.ensure_future(client.poll_async(task, **options))
                deadline = time.monotonic() + PROMPT
                while emulator.polls(task) < 3:  # the native poll is under way
                    assert time.monotonic() < deadline, "the poll did not begin"
                    await asyncio.sleep(0.01)
                cancelled = time.monotonic()
                poll.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await poll
                return time.monotonic() - cancelled

            elapsed = asyncio.run(main())
            seen = emulator.polls(task)
            time.sleep(0.3)
            assert emulator.polls(task) == seen, "the native poll goes on"
            assert seen > 2
            assert elapsed < PROMPT
            if given is not None:
                given.close()

    def test_a_result_that_arrives_as_the_task_is_cancelled_is_closed(self, client, emulator):
        task = emulator.add_task({"results": [{"type": "Text", "text": "late"}]})
        started = threading.Event()
        release = threading.Event()
        answers = []

        def call(token):
            started.set()
            release.wait()
            answers.append(client.fetch(task))
            return answers[0]

        async def main():
            running = asyncio.ensure_future(ocrcloud._aio._in_thread(call, None))
            while not started.is_set():
                await asyncio.sleep(0.01)
            running.cancel()
            await asyncio.sleep(0.05)
            release.set()
            with pytest.raises(asyncio.CancelledError):
                await running

        asyncio.run(main())
        assert answers[0].closed


class TestMemory:
    """10,000 create/free cycles do not grow the process (a tolerance of 2 MiB)."""

    TOLERANCE = 2 << 20
    CYCLES = 10000

    def measure(self, what, cycle):
        for _ in range(1000):  # warm up: allocator pools, connections, caches
            cycle()
        before = rss_bytes()
        for _ in range(self.CYCLES):
            cycle()
        after = rss_bytes()
        print(f"\n    {what}: RSS {before / 2**20:.2f} MiB before, {after / 2**20:.2f} MiB "
              f"after {self.CYCLES} cycles ({(after - before) / 2**10:+.0f} KiB)", end=" ")
        assert after - before < self.TOLERANCE

    def test_clients(self, emulator):
        def cycle():
            Client(emulator.url, "token").close()
            with Client.with_credentials(emulator.url, "demo", "demo-secret", max_attempts=2):
                pass
        self.measure("clients", cycle)

    def test_results(self, emulator):
        task = emulator.add_task({"results": [{"type": "Text", "text": "small"}]})
        with emulator.client() as client:
            def cycle():
                with client.fetch(task) as result:
                    assert result.files[0].data == b"small"
            self.measure("results", cycle)


class TestSample:
    def test_the_sample_saves_and_prints_the_results(self, emulator):
        with tempfile.TemporaryDirectory() as folder:
            output = subprocess.run(
                [sys.executable, os.path.join(HERE, "examples", "sample.py"), emulator.url,
                 SAMPLE_PDF, folder],
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False, text=True)
            assert output.returncode == 0, output.stdout
            assert "poll  1: task " in output.stdout
            assert "is Completed" in output.stdout
            assert "Hello from ocrcloud!" in output.stdout
            saved = sorted(os.listdir(folder))
            assert [name.rsplit(".", 1)[1] for name in saved] == ["pdf", "txt"]
            with open(os.path.join(folder, saved[0]), "rb") as f:
                assert f.read() == sample_pdf()


class TestPackage:
    """The wheel (setuptools, through build_wheel.py), installed into a fresh virtual
    environment outside the checkout, runs the sample (examples/, where no source package
    shadows the installed one) from a folder outside the checkout with no environment variable:
    the library comes from inside the package."""

    def test_the_wheel_runs_the_sample_in_a_fresh_venv(self, emulator):
        clean = {"PATH": "/usr/local/bin:/usr/bin:/bin"}
        with tempfile.TemporaryDirectory() as folder:
            def run(*command, env=clean):
                done = subprocess.run(command, cwd=folder, env=env, stdout=subprocess.PIPE,
                                      stderr=subprocess.STDOUT, text=True, check=False)
                assert done.returncode == 0, f"{command}: {done.stdout}"
                return done.stdout

            # The build may fetch its tools from the package index: the machine's settings.
            wheel = run(sys.executable, os.path.join(HERE, "build_wheel.py"),
                        ocrcloud._library_path(), os.path.join(folder, "dist"),
                        "manylinux_2_17_x86_64", env=None).strip()
            tag = "manylinux_2_17_x86_64.manylinux2014_x86_64"  # both names: any pip >= 19.3
            assert os.path.basename(wheel) == f"ocrcloud-{ocrcloud.version()}-py3-none-{tag}.whl"
            with zipfile.ZipFile(wheel) as archive:
                info = archive.read(f"ocrcloud-{ocrcloud.version()}.dist-info/WHEEL").decode()
                names = archive.namelist()
            assert [line for line in info.splitlines() if line.startswith(("Tag", "Root"))] == [
                "Root-Is-Purelib: false", "Tag: py3-none-manylinux_2_17_x86_64",
                "Tag: py3-none-manylinux2014_x86_64"]
            assert sorted(n for n in names if n.startswith("ocrcloud/")) == sorted(
                [f"ocrcloud/{name}" for name in os.listdir(os.path.join(HERE, "ocrcloud"))
                 if name.endswith(".py") or name == "py.typed"] + ["ocrcloud/libocrcloud.so"])
            run(sys.executable, "-m", "venv", "venv")
            python = os.path.join(folder, "venv", "bin", "python")
            run(python, "-m", "pip", "install", "--quiet", "--no-index", wheel)
            installed = run(python, "-c", "import ocrcloud; print(ocrcloud._library_path())")
            assert installed.strip() == os.path.join(
                folder, "venv", "lib", f"python{sys.version_info[0]}.{sys.version_info[1]}",
                "site-packages", "ocrcloud", "libocrcloud.so")
            # Run where it is, as docs/python.md says.
            sample = os.path.join(HERE, "examples", "sample.py")
            usage = subprocess.run([python, sample], cwd=folder, env=clean, text=True,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
            assert (usage.returncode, usage.stderr) == \
                (2, "usage: python3 sample.py BASE_URL PDF OUTPUT_DIR\n")
            output = run(python, sample, emulator.url, SAMPLE_PDF, "out-python")
            assert "Hello from ocrcloud!" in output
            saved = sorted(os.listdir(os.path.join(folder, "out-python")))
            assert [name.rsplit(".", 1)[1] for name in saved] == ["pdf", "txt"]


def posts(emulator):
    """How many submissions of RecognizePdf the emulator has seen."""
    routes = emulator.control("GET", "/_emulator/stats")["by_route"]
    return sum(n for route, n in routes.items() if route.lower() == "post /v5.0/ocr/recognizepdf")


def write_pdfs(folder, count):
    """Writes ``count`` small distinct PDFs under ``folder``/docs; answers that folder."""
    docs = os.path.join(folder, "docs")
    for n in range(count):
        sub = os.path.join(docs, f"part-{n % 3}")
        os.makedirs(sub, exist_ok=True)
        with open(os.path.join(sub, f"doc-{n:03}.pdf"), "wb") as f:
            f.write(f"%PDF-1.4\n% input {n}\n%%EOF\n".encode())
    return docs


def temporary_files(folder):
    return [os.path.join(d, name) for d, _, names in os.walk(folder) for name in names
            if name.startswith(".ocrcloud-")]


TEXT = {"resultType": "Text"}

# A batch run in a child process, to be killed:
# python3 -c BATCH_SCRIPT URL DOCS OUT [KILL_AT]. With KILL_AT, the child kills itself with
# SIGKILL at the KILL_AT-th change of an input's state (each change is in the journal by then),
# so that where it dies depends on its progress, never on how fast the build runs.
BATCH_SCRIPT = """
import os, signal, sys, ocrcloud
url, docs, out = sys.argv[1:4]
kill_at = int(sys.argv[4]) if len(sys.argv) > 4 else 0
changes = 0
def progress(index, state):
    global changes
    changes += 1
    if changes == kill_at:
        os.kill(os.getpid(), signal.SIGKILL)
try:
    with ocrcloud.Client.with_credentials(url, "demo", "demo-secret") as client:
        with ocrcloud.Batch(client, out) as batch:
            batch.add_folder(docs, settings={"resultType": "Text"})
            batch.run(jobs=4, interval_ms=20, backoff=(1.0, 20), progress=progress)
except KeyboardInterrupt:
    sys.exit(130)
"""


class TestSharedBatches:
    def test_a_shared_batch_runs_and_no_message_shows_the_password(self, emulator,
                                                                   postgres_url):
        password = postgres_url.split("@")[0].rsplit(":", 1)[1]
        with tempfile.TemporaryDirectory() as folder, emulator.client() as client:
            docs, out = write_pdfs(folder, 3), os.path.join(folder, "out")
            with ocrcloud.Batch.open_shared(client, postgres_url, "python", out) as batch:
                assert batch.add_folder(docs, settings=TEXT) == 3
                batch.run(jobs=2, **FAST)
                assert [i.state for i in batch.items()] == [ocrcloud.BatchState.COMPLETED] * 3
                assert batch.item(0).outputs[0].endswith("/out/part-0/doc-000.txt")
            with ocrcloud.Batch.open_shared(client, postgres_url, "python", out) as again:
                again.add_folder(docs, settings=TEXT)
                again.run()
                assert all(item.skipped for item in again.items())
            with pytest.raises(ocrcloud.OcrError) as bad:
                ocrcloud.Batch.open_shared(client, "mysql://u@h/d", "python", out)
            assert bad.value.code == Code.INVALID_ARGUMENT
            wrong = postgres_url.replace(f":{password}@", ":Py-Wrong-Password-83@")
            with pytest.raises(ocrcloud.OcrError) as refused:
                ocrcloud.Batch.open_shared(client, wrong, "python", out)
            assert refused.value.code == Code.IO
            assert "Py-Wrong-Password-83" not in str(refused.value)
            assert password not in str(refused.value)
            with pytest.raises(TypeError):
                ocrcloud.Batch.open_shared(None, postgres_url, "python", out)


class TestBatches:
    def check_results(self, batch, count):
        """Every input completed, each result the emulator's text for that very input."""
        items = batch.items()
        assert [i.state for i in items] == [ocrcloud.BatchState.COMPLETED] * count
        for item in items:
            with open(item.path, "rb") as f:
                digest = __import__("hashlib").sha256(f.read()).hexdigest()
            with open(item.outputs[0]) as f:
                assert digest in f.read()

    def test_a_folder_runs_to_the_end_and_a_second_batch_skips_it(self, emulator):
        with tempfile.TemporaryDirectory() as folder, emulator.client() as client:
            docs, out = write_pdfs(folder, 5), os.path.join(folder, "out")
            changes = []
            with ocrcloud.Batch(client, out) as batch:
                assert batch.add_folder(docs, settings=TEXT) == 5
                batch.run(jobs=2, progress=lambda i, s: changes.append((i, s)), **FAST)
                self.check_results(batch, 5)
                item = batch.item(0)
                assert item.outputs[0].endswith("/out/part-0/doc-000.txt"), item
                assert (item.code, item.message, item.skipped) == (Code.OK, "", False)
                assert item.task_id is not None
                assert item.seconds >= 0
            for index in range(5):
                assert [s for i, s in changes if i == index][-1] == \
                    ocrcloud.BatchState.COMPLETED
            before = emulator.control("GET", "/_emulator/stats")["requests"]
            with ocrcloud.Batch(client, out) as batch:
                batch.add_folder(docs, settings=TEXT)
                batch.run(**FAST)
                assert all(item.skipped for item in batch.items())
            assert emulator.control("GET", "/_emulator/stats")["requests"] == before

    def test_bad_arguments_and_a_locked_journal_raise(self, emulator):
        with tempfile.TemporaryDirectory() as folder, emulator.client() as client:
            with pytest.raises(TypeError):
                ocrcloud.Batch(None, folder)
            with ocrcloud.Batch(client, folder) as batch:
                with pytest.raises(ocrcloud.FileError) as raised:
                    ocrcloud.Batch(client, folder)
                assert "in use by another batch" in raised.value.message
                with pytest.raises(ocrcloud.InvalidArgumentError):
                    batch.add_file(os.path.join(folder, "x.pdf"), settings="[1]")
                with pytest.raises(ocrcloud.InvalidArgumentError):
                    batch.add_file(None)
                with pytest.raises(TypeError):
                    batch.add_file(3)
                with pytest.raises(IndexError):
                    batch.item(0)
                empty = os.path.join(folder, "empty.pdf")
                open(empty, "wb").close()
                batch.add_file(empty)
                batch.run(**FAST)
                item = batch.item(0)
                assert (item.state, item.code) == (ocrcloud.BatchState.FAILED,
                                                   Code.INVALID_ARGUMENT)
                assert "is empty" in item.message
            with pytest.raises(ValueError):
                batch.item(0)

    def test_an_exception_in_progress_stops_the_run_and_is_raised(self, emulator):
        with tempfile.TemporaryDirectory() as folder, emulator.client() as client:
            docs = write_pdfs(folder, 4)
            with ocrcloud.Batch(client, os.path.join(folder, "out")) as batch:
                batch.add_folder(docs)

                def progress(index, state):
                    raise RuntimeError("stop here")
                with pytest.raises(RuntimeError):
                    batch.run(progress=progress, **FAST)

    def test_a_batch_killed_at_many_moments_resumes_to_the_end(self, emulator):
        with tempfile.TemporaryDirectory() as folder, emulator.client() as client:
            docs, out = write_pdfs(folder, 60), os.path.join(folder, "out")
            before = posts(emulator)
            kills = 0
            # 60 inputs make at least 180 changes; these moments (after an intent, a task id or
            # a completion, in a fresh or a resumed run) add up to fewer, so each one is reached.
            moments = (1, 4, 9, 17, 2, 30, 12, 45)
            for kill_at in moments:
                child = subprocess.Popen(
                    [sys.executable, "-c", BATCH_SCRIPT, emulator.url, docs, out, str(kill_at)])
                if child.wait(300) == -signal.SIGKILL:
                    kills += 1
            assert kills == len(moments)
            # Ctrl-C: KeyboardInterrupt in the child, which the script turns into 130.
            # Once the child holds the journal's lock (its pid in the lock file), it is past its
            # imports and inside the code that turns Ctrl-C into 130.
            child = subprocess.Popen([sys.executable, "-c", CTRL_C_RAISES + BATCH_SCRIPT,
                                      emulator.url, docs, out])
            lock = os.path.join(out, ".ocrcloud", "journal.sqlite.lock")
            while child.poll() is None:
                with contextlib.suppress(OSError), open(lock) as f:
                    if f.read().strip() == str(child.pid):
                        break
                time.sleep(0.005)
            child.send_signal(signal.SIGINT)
            assert child.wait(PROMPT) in (0, 130)
            with ocrcloud.Batch(client, out) as batch:
                batch.add_folder(docs, settings=TEXT)
                batch.run(**FAST)
                self.check_results(batch, 60)
                duplicates = sum(item.possible_duplicates for item in batch.items())
            sent = posts(emulator) - before
            assert sent >= 60
            assert sent - 60 <= duplicates
            assert temporary_files(out) == []
            again = posts(emulator)
            with ocrcloud.Batch(client, out) as batch:
                batch.add_folder(docs, settings=TEXT)
                batch.run(**FAST)
            assert posts(emulator) == again
