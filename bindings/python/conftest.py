"""pytest fixtures of the Python binding's tests: the library to load and two emulators.

    python3 -m pytest bindings/python [--library-dir DIR] [--emulator BINARY]

The library comes from ``--library-dir``, else ``$OCRCLOUD_LIBRARY_DIR``, else target/debug; the
emulator from ``--emulator``, else ``$OCRCLOUD_EMULATOR``, else target/debug/ocrcloud-emulator.
The session starts the emulator twice with ``--pending-ms 100 --processing-ms 100`` (through
scripts/start-emulator.sh): plain HTTP (``emulator``), and HTTPS with a CA of its own
(``tls_emulator``, ``--tls-self-signed``), each only if a test asks for it, and stops them at the
end. bindings/python/test.sh makes a venv with pytest and runs this.
"""

import json
import os
import signal
import subprocess
import tempfile
import urllib.request

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def pytest_addoption(parser):
    group = parser.getgroup("ocrcloud")
    group.addoption("--library-dir", default=os.environ.get("OCRCLOUD_LIBRARY_DIR"),
                    help="the folder of libocrcloud (default: $OCRCLOUD_LIBRARY_DIR, else "
                         "target/debug)")
    group.addoption("--emulator", default=os.environ.get("OCRCLOUD_EMULATOR"),
                    help="the emulator's binary (default: $OCRCLOUD_EMULATOR, else "
                         "target/debug/ocrcloud-emulator)")


def pytest_configure(config):
    # Before the test module imports ocrcloud, which loads the library at import; the scripts
    # that the tests run in processes of their own inherit it.
    folder = config.getoption("library_dir") or os.path.join(ROOT, "target", "debug")
    os.environ["OCRCLOUD_LIBRARY_DIR"] = os.path.abspath(folder)
    # The package from this folder, for the samples and scripts run in processes of their own.
    os.environ["PYTHONPATH"] = os.pathsep.join(
        [HERE] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p])


class Emulator:
    """A running emulator: ``url``, ``ca_file`` (the PEM of its CA; None for plain HTTP) and
    helpers over its control endpoints (``/_emulator/...``)."""

    def __init__(self, url, ca_file=None):
        self.url = url
        self.ca_file = ca_file

    def control(self, method, path, body=None):
        """Calls a control endpoint; answers the body (parsed when it is JSON)."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request) as response:
            text = response.read().decode()
        if response.headers.get_content_type() == "application/json":
            return json.loads(text)
        return text

    def add_task(self, spec):
        """Creates a task as ``spec`` says (its status, results, ...) and answers its id."""
        return self.control("POST", "/_emulator/tasks", spec)

    def polls(self, task_id):
        """How many times the task was asked for."""
        return self.control("GET", f"/_emulator/tasks/{task_id}")["polls"]

    def client(self, **settings):
        """A client with the emulator's default credentials."""
        import ocrcloud  # here: the library folder is set in pytest_configure

        return ocrcloud.Client.with_credentials(self.url, "demo", "demo-secret", **settings)


def _start(request, folder, name, *flags):
    binary = request.config.getoption("emulator") or os.path.join(
        ROOT, "target", "debug", "ocrcloud-emulator")
    pidfile = os.path.join(folder, f"{name}.pid")
    # The emulator keeps the script's stderr: a file, not a pipe that would never reach its end.
    with open(os.path.join(folder, f"{name}.log"), "w+") as log:
        started = subprocess.run(
            [os.path.join(ROOT, "scripts", "start-emulator.sh"), binary, pidfile,
             "--pending-ms", "100", "--processing-ms", "100", *flags],
            stdout=subprocess.PIPE, stderr=log, text=True, check=False)
        if started.returncode != 0:
            log.seek(0)
            pytest.fail(f"the emulator did not start: {log.read().strip()}", pytrace=False)
    with open(pidfile) as f:
        pid = int(f.read())
    return started.stdout.strip(), pid


def _stop(pid):
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:  # not our child (started by the script's shell)
        pass


@pytest.fixture(scope="session")
def emulator(request):
    """The plain HTTP emulator."""
    with tempfile.TemporaryDirectory() as folder:
        url, pid = _start(request, folder, "emulator")
        try:
            yield Emulator(url)
        finally:
            _stop(pid)


@pytest.fixture(scope="session")
def tls_emulator(request):
    """The HTTPS emulator, whose certificate is signed by the CA in ``ca_file``."""
    with tempfile.TemporaryDirectory() as folder:
        ca_file = os.path.join(folder, "ca.pem")
        url, pid = _start(request, folder, "tls-emulator", "--tls-self-signed", ca_file)
        try:
            yield Emulator(url, ca_file)
        finally:
            _stop(pid)


@pytest.fixture(scope="session")
def postgres_url():
    """A PostgreSQL of its own (scripts/postgres.sh), removed at the end: its URL."""
    folder = tempfile.mktemp(prefix="ocrcloud-pg-py-", dir="/tmp")
    script = os.path.join(ROOT, "scripts", "postgres.sh")
    started = subprocess.run([script, "start", folder, str(os.getpid())],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             check=False)
    if started.returncode != 0:
        pytest.fail(f"PostgreSQL did not start: {started.stderr.strip()}", pytrace=False)
    try:
        yield started.stdout.strip()
    finally:
        subprocess.run([script, "remove", folder], check=False,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


@pytest.fixture
def client(emulator):
    """A client of the plain emulator, closed after the test."""
    with emulator.client() as made:
        yield made
