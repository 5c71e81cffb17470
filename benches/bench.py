#!/usr/bin/env python3
"""Benchmarks ocrcloud against curl, jq and the official Python SDK on the same emulator.

    benches/run.sh              full run: 64 MiB result, 7 interleaved rounds, polls, poll_many,
                                then the fetch and the polls again over HTTPS
    benches/run.sh --smoke      a few seconds with tiny inputs (the test command runs this)
    benches/run.sh --record     also rewrite benches/RESULTS.md with this run's tables (with
                                --only: only the section of that part, the rest kept)
    benches/run.sh --only https only the HTTPS rows (--only http: only the plain ones,
                                --only flow: only the flow-control rows, --only upload: only
                                the submission rows, --only batch: only the batch rows,
                                --only many: only the many-tasks rows, --only schedule: only
                                the time-to-result table, --only shared: only the shared
                                batch rows, bench_shared.py)

Every figure is a ratio against a baseline measured in the same run: fetches against
`curl -s -o /dev/null` on the same URL, polls against a raw-socket loop sending the same request
(wall time, the thread's CPU time, and user-space instructions per request counted by callgrind,
`--toggle-collect` on each loop's block function of bench_client.c, which a busy machine does
not change; not with --smoke or without valgrind),
poll_many against the time the tasks take to complete plus the requests' own cost. Wall times are
medians over interleaved rounds; peak RSS is each process's maximum resident set (wait4).

The HTTPS rows use a second emulator started with `--tls-self-signed CA`: the fetch against
`curl --cacert CA -s -o /dev/null` on the same https:// URL, the polls against a raw TLS loop in
the same process (OpenSSL's libssl, as curl uses, on one connection, trusting the same CA), the
C client trusting the CA with ocr_client_set_ca_file (bench_client reads OCR_CA_FILE).

The submission rows submit one document of 64 MiB and one of 512 MiB (--upload-mib; random
bytes after a PDF header, made in a temporary folder and removed after) with bench_client's
`submit` (ocr_submit_file) and the Python binding's submit_file, against `curl --data-binary
@body.json` of the same body, written in advance. The emulator runs with --discard-bodies: it
reads each body to its end and counts it without parsing or decoding it, which would cost more
than the upload; every run's body must reach it whole. `curl --data-binary` reads the whole
body into memory before it sends it; `curl -T` (a second row, for reference) streams it from the
file. Peak RSS is the process's maximum resident set, so it includes the Python interpreter for
the binding (and the binding's time its start).

The flow-control rows (bench_flow.c) load one client with 32 threads fetching a completed task
and one ocr_poll_many of 1000 tasks, against a fresh emulator with `--rate-limit 50` per run:
- Rate limit: each thread makes 20 fetches and every task must complete; figures are the share
  of requests the emulator answered 429 (its `rate_limited` over its API requests) and the wall
  time against the ideal, the requests it let through / 50 per second.
- Outage: the same load for 22 s, the emulator answering every request 503 from 4 s for 10 s (503
  faults of 1000 uses queued as the previous ones run low, the rest used up at the end by
  pipelined requests of this script): requests that reached the emulator during the outage, and
  from its end the time to the client's first success and to the first success that starts a
  second with 90% of the successes per second it had before the outage, or 90% of the limit
  (bench_flow counts its successes in 10 ms buckets on CLOCK_MONOTONIC, the clock of
  time.monotonic()).
The many-tasks rows (many_tasks.py) poll 10,000 tasks that complete over 30 s with ocr_poll_many
from C and from the Python binding, against single fetch calls in a process of the same kind; the
time-to-result table is the simulation of `cargo bench --bench poll_schedule` (with --smoke: 1000
tasks, debug build).

The baseline of the flow rows is the library before flow control, in the same run: the parent of the commit
"Flow control: one request budget per client ...", checked out with `git worktree add --detach
/tmp/ocrcloud-baseline PARENT` and built there with `CARGO_TARGET_DIR=/tmp/ocrcloud-baseline-target
cargo build --release -p ocrcloud` (the first full run does it; --no-build reuses it). The same
bench_flow.c is linked against each library (-rpath): bench_flow_baseline and bench_flow. A
third rate-limit row tells today's client the limit (ocr_client_set_max_rate, OCR_MAX_RATE). With
--smoke the flow rows are small (8 threads, 40 tasks, a 1 s outage), use today's debug library
only and need no baseline (--no-baseline does the same for a full run).

The batch rows (bench_batch.py, whose docstring says how) compare `ocrcloud batch --jobs 8` on
1000 small PDFs with `xargs -P 8 ocrcloud run` on the same inputs and with the ideal, and give
its peak RSS at 1000 and 10000 inputs and the journal's cost per input. With --smoke: 20 inputs,
one round, no large run; it fails if the batch fails or leaves results missing.

The shared batch rows (bench_shared.py, whose docstring says how; issue 24) run 10000 inputs under
the emulator's rate limit with 1, 2 and 4 worker processes on a PostgreSQL journal, as ratios to
the SQLite batch and to what the limit allows, with the statements and bytes per input and the
peak RSS per worker. With --smoke: 40 inputs, 2 workers.
"""
import argparse
import base64
import datetime
import json
import os
import platform
import shutil
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

import many_tasks
from bench_batch import bench_batch
from bench_shared import bench_shared

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCHES = os.path.join(ROOT, "benches")
MIB = 1 << 20


def run(argv, env=None):
    """Runs a command to its end; answers (seconds, stdout). Fails the benchmark if it fails."""
    start = time.perf_counter()
    process = subprocess.run(argv, capture_output=True, env=env)
    seconds = time.perf_counter() - start
    if process.returncode != 0:
        raise SystemExit(f"{argv} failed ({process.returncode}):\n{process.stderr.decode(errors='replace')}")
    return seconds, process.stdout.decode(errors="replace")


def measure(argv, shell=False, env=None):
    """Runs a command under GNU time; answers (seconds, peak RSS bytes of the largest process, stdout)."""
    fd, report = tempfile.mkstemp()
    os.close(fd)
    if shell:
        wrapped = ["/usr/bin/time", "-f", "%M", "-o", report, "sh", "-c", argv]
    else:
        wrapped = ["/usr/bin/time", "-f", "%M", "-o", report] + argv
    seconds, stdout = run(wrapped, env=env)
    with open(report) as f:
        peak_kib = int(f.read().split()[-1])
    os.unlink(report)
    return seconds, peak_kib * 1024, stdout


class Emulator:
    def __init__(self, binary, *flags, tls=False):
        self.ca_file, self.context = None, None
        if tls:
            fd, self.ca_file = tempfile.mkstemp(prefix="ocrcloud-bench-ca-", suffix=".pem")
            os.close(fd)
            flags = ("--tls-self-signed", self.ca_file, *flags)
        self.process = subprocess.Popen(
            [binary, "--listen", "127.0.0.1:0", *flags], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
        )
        line = self.process.stdout.readline().decode().strip()
        if not line.startswith("listening on "):
            raise SystemExit(f"the emulator did not start: {line!r}")
        self.url = line.removeprefix("listening on ")
        if tls:
            self.context = ssl.create_default_context(cafile=self.ca_file)

    def env(self):
        """The environment of the C client: trusting the emulator's CA when it serves HTTPS."""
        return dict(os.environ, OCR_CA_FILE=self.ca_file) if self.ca_file else None

    def call(self, method, path, body=None, form=None):
        data, headers = None, {}
        if body is not None:
            data, headers = json.dumps(body).encode(), {"Content-Type": "application/json"}
        if form is not None:
            data = "&".join(f"{k}={v}" for k, v in form.items()).encode()
            headers = {"Content-Type": "application/x-www-form-urlencoded"}
        request = urllib.request.Request(self.url + path, data=data, headers=headers, method=method)
        with urllib.request.urlopen(request, timeout=120, context=self.context) as answer:
            return answer.read().decode()

    def fixture(self, spec):
        return self.call("POST", "/_emulator/tasks", spec)

    def stop(self):
        self.process.kill()
        self.process.wait()
        if self.ca_file:
            os.unlink(self.ca_file)


def build(profile, skip):
    if not skip:
        flags = ["--release"] if profile == "release" else []
        subprocess.run(["cargo", "build", "--quiet", "--workspace", *flags], cwd=ROOT, check=True)
    target = os.path.join(ROOT, "target", profile)
    binary = os.path.join(target, "bench_client")
    subprocess.run(
        ["gcc", "-O2", "-std=c11", "-Wall", "-Wextra", "-Werror", f"-I{ROOT}/include",
         os.path.join(BENCHES, "bench_client.c"), "-o", binary, f"-L{target}",
         f"-Wl,-rpath,{target}", "-locrcloud", "-ldl"],
        check=True,
    )
    return target, binary


def sdk_python():
    """The Python of a virtual environment with the official SDK (cached in target/)."""
    venv = os.path.join(ROOT, "target", "official-sdk-venv")
    python = os.path.join(venv, "bin", "python")
    if not os.path.exists(python) or \
            subprocess.run([python, "-c", "import aspose_ocr_cloud"], capture_output=True).returncode != 0:
        subprocess.run([sys.executable, "-m", "venv", venv], check=True)
        subprocess.run([os.path.join(venv, "bin", "pip"), "install", "--quiet",
                        "--disable-pip-version-check", "aspose-ocr-cloud"], check=True)
    return python


def fetch_contenders(emulator, token, task_id, size, binary, target, out_dir):
    url = f"{emulator.url}/v5.0/ocr/RecognizePdf?id={task_id}"
    auth = f"Authorization: Bearer {token}"
    if emulator.ca_file:
        # Over HTTPS: curl and the C client, both trusting the emulator's CA.
        env = emulator.env()
        return [
            ("curl --cacert CA -o /dev/null",
             ["curl", "-s", "--cacert", emulator.ca_file, "-o", "/dev/null", "-H", auth, url], False, None, None),
            ("ocrcloud C, into memory", [binary, "memory", emulator.url, token, task_id], False, env,
             f"decoded_bytes={size}"),
            ("ocrcloud C, to files", [binary, "dir", emulator.url, token, task_id, out_dir], False, env,
             "files=1"),
        ]
    binding_env = dict(os.environ, OCRCLOUD_LIBRARY_DIR=target)
    contenders = [
        ("curl -o /dev/null", ["curl", "-s", "-o", "/dev/null", "-H", auth, url], False, None, None),
        ("ocrcloud C, into memory", [binary, "memory", emulator.url, token, task_id], False, None,
         f"decoded_bytes={size}"),
        ("ocrcloud C, to files", [binary, "dir", emulator.url, token, task_id, out_dir], False, None,
         "files=1"),
        ("curl | jq | base64 -d",
         f"curl -s -H '{auth}' '{url}' | jq -r '.results[0].data' | base64 -d | wc -c", True, None,
         str(size)),
        ("official Python SDK", [sdk_python(), os.path.join(BENCHES, "sdk_fetch.py"), emulator.url, token,
                                 task_id], False, None, str(size)),
    ]
    if os.path.exists(os.path.join(BENCHES, "binding_fetch.py")):
        contenders.append(
            ("ocrcloud Python binding", [sys.executable, os.path.join(BENCHES, "binding_fetch.py"),
                                         emulator.url, token, task_id], False, binding_env, str(size))
        )
    return contenders


def bench_fetch(args, emulator, token, binary, target):
    size = args.size_mib * MIB
    task_id = emulator.fixture({"id": "bench-result", "results": [{"type": "Pdf", "generate": {"bytes": size}}]})
    tiny_id = emulator.fixture({"id": "bench-tiny", "results": [{"type": "Pdf", "generate": {"bytes": 16}}]})
    out_dir = tempfile.mkdtemp(prefix="ocrcloud-bench-")
    contenders = fetch_contenders(emulator, token, task_id, size, binary, target, out_dir)
    times = {name: [] for name, *_ in contenders}
    peaks = {name: [] for name, *_ in contenders}
    calls = {name: [] for name, *_ in contenders}  # the fetch call alone, as the program timed it
    def measure_once(argv, shell, env):
        # Each run writes new files, as fetching a new task does (replacing a file is slower on
        # ext4, which flushes the new data before a rename over an existing file).
        figures = measure(argv, shell, env)
        for entry in os.listdir(out_dir):
            os.unlink(os.path.join(out_dir, entry))
        return figures

    for name, argv, shell, env, expect in contenders:
        _, _, stdout = measure_once(argv, shell, env)
        if expect is not None and expect not in stdout:
            raise SystemExit(f"{name}: expected {expect!r} in its output, got {stdout!r}")
    for _ in range(args.rounds):
        for name, argv, shell, env, _ in contenders:
            seconds, peak, stdout = measure_once(argv, shell, env)
            times[name].append(seconds)
            peaks[name].append(peak)
            if "fetch_s=" in stdout:
                calls[name].append(float(stdout.split("fetch_s=")[1].split()[0]))
    _, baseline, _ = measure([binary, "memory", emulator.url, token, tiny_id], env=emulator.env())
    # Each contender's own baseline: its peak RSS for a 16-byte result (an interpreter's own
    # memory is not the result's).
    own_baseline = {name: measure_once(argv, shell, env)[1] for name, argv, shell, env, _ in
                    fetch_contenders(emulator, token, tiny_id, 16, binary, target, out_dir)}
    shutil.rmtree(out_dir)

    median = {name: statistics.median(times[name]) for name in times}
    curl = median[contenders[0][0]]
    c_client = median["ocrcloud C, into memory"]
    over = " over HTTPS" if emulator.ca_file else ""
    lines = [
        f"Fetch of one {args.size_mib} MiB Pdf result{over} ({args.rounds} interleaved rounds; "
        f"the C client's baseline RSS is {baseline / MIB:.1f} MiB; each contender's own baseline "
        f"is its peak RSS for a 16-byte result)",
        "",
        "| contender | median s | min-max s | x curl | x C client | peak RSS MiB | "
        "(RSS - baseline) / decoded | (RSS - own baseline) / decoded |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, *_ in contenders:
        peak = max(peaks[name])
        lines.append(
            f"| {name} | {median[name]:.3f} | {min(times[name]):.3f}-{max(times[name]):.3f} | "
            f"{median[name] / curl:.2f} | {median[name] / c_client:.2f} | {peak / MIB:.1f} | "
            f"{(peak - baseline) / size:.2f} | {(peak - own_baseline[name]) / size:.2f} |"
        )
    python, sdk = "ocrcloud Python binding", "official Python SDK"
    if python in median and sdk in median:
        lines += [
            "",
            f"The Python binding: {median[python] / c_client:.2f}x the C client's time (goal: at "
            f"most 1.3x), {median[sdk] / median[python]:.1f}x faster than the official SDK (goal: "
            f"at least 15x), peak RSS beyond its own baseline "
            f"{(max(peaks[python]) - own_baseline[python]) / size:.2f}x the decoded size (goal: at "
            f"most 1.1x). Without the interpreter's start and imports, the fetch call alone (timed "
            f"by each program around its fetch) takes "
            f"{statistics.median(calls[python]) / statistics.median(calls['ocrcloud C, into memory']):.2f}x "
            f"the C client's fetch call ({statistics.median(calls[python]):.3f} s against "
            f"{statistics.median(calls['ocrcloud C, into memory']):.3f} s).",
        ]
    return lines


RECOGNIZE_PDF_SETTINGS = (
    '{"language":"English","makeSkewCorrect":true,"Rotate":0,"makeBinarization":false,'
    '"makeContrastCorrection":false,"makeUpsampling":false,"makeSpellCheck":false,'
    '"dsrMode":"Regions","dsrConfidence":"Default","resultType":"Pdf"}'
)


def bench_upload(args, binary, target, emulator_binary):
    """Submissions of one document of each size in args.upload_mib: the C client's and the
    Python binding's ocr_submit_file against curl posting the same body, prepared in advance, to
    an emulator that counts and discards bodies (--discard-bodies), so that its own decoding does
    not count. Each run's body must reach the emulator whole (its discarded_bytes)."""
    emulator = Emulator(emulator_binary, "--discard-bodies")
    token = json.loads(emulator.call("POST", "/connect/token", form={
        "grant_type": "client_credentials", "client_id": "demo", "client_secret": "demo-secret"}))["access_token"]
    url = f"{emulator.url}/v5.0/ocr/RecognizePdf"
    binding_env = dict(os.environ, OCRCLOUD_LIBRARY_DIR=target)
    folder = tempfile.mkdtemp(prefix="ocrcloud-bench-upload-")
    lines = [
        f"Submission of one document ({args.rounds} interleaved rounds; the emulator counts and "
        f"discards the body; curl posts the same body, prepared in advance)",
        "",
        "| document | contender | median s | min-max s | x curl | peak RSS MiB |",
        "|---|---|---|---|---|---|",
    ]
    try:
        for mib in args.upload_mib:
            document, body = os.path.join(folder, "document.pdf"), os.path.join(folder, "body.json")
            with open(document, "wb") as f:
                f.write(b"%PDF-1.4\n")
                for _ in range(mib):
                    f.write(os.urandom(MIB))
            with open(document, "rb") as source, open(body, "wb") as f:
                f.write(b'{"image":"')
                # Whole base64 groups per piece, so the pieces join into one encoding.
                while piece := source.read(3 * MIB):
                    f.write(base64.b64encode(piece))
                f.write(b'","settings":' + RECOGNIZE_PDF_SETTINGS.encode() + b"}")
            length = os.path.getsize(body)
            contenders = [
                ("curl --data-binary @body.json",
                 ["curl", "-s", "-o", "/dev/null", "-H", f"Authorization: Bearer {token}", "-H",
                  "Content-Type: application/json", "--data-binary", f"@{body}", url], None),
                ("curl -T body.json -X POST (streams the file)",
                 ["curl", "-s", "-o", "/dev/null", "-H", f"Authorization: Bearer {token}", "-H",
                  "Content-Type: application/json", "-X", "POST", "-T", body, url], None),
                ("ocrcloud C, ocr_submit_file", [binary, "submit", emulator.url, token, document], None),
                ("ocrcloud Python binding, submit_file",
                 [sys.executable, os.path.join(BENCHES, "binding_submit.py"), emulator.url, token, document],
                 binding_env),
            ]
            times = {name: [] for name, *_ in contenders}
            peaks = {name: [] for name, *_ in contenders}
            for _ in range(args.rounds):
                for name, argv, env in contenders:
                    before = json.loads(emulator.call("GET", "/_emulator/stats"))["discarded_bytes"]
                    seconds, peak, _ = measure(argv, env=env)
                    received = json.loads(emulator.call("GET", "/_emulator/stats"))["discarded_bytes"] - before
                    if received != length:
                        raise SystemExit(f"{name}: the emulator received {received} of {length} body bytes")
                    times[name].append(seconds)
                    peaks[name].append(peak)
            curl = statistics.median(times[contenders[0][0]])
            for name, *_ in contenders:
                median = statistics.median(times[name])
                lines.append(
                    f"| {mib} MiB | {name} | {median:.3f} | {min(times[name]):.3f}-{max(times[name]):.3f} | "
                    f"{median / curl:.2f} | {max(peaks[name]) / MIB:.1f} |"
                )
    finally:
        shutil.rmtree(folder)
        emulator.stop()
    return lines


def bench_polls(args, emulator, token, binary):
    pending = emulator.fixture({"id": "bench-pending", "taskStatus": "Pending"})
    ratios, raws, ours = [], [], []
    cpu_ratios, raw_cpus, our_cpus = [], [], []
    for _ in range(args.rounds):
        _, stdout = run([binary, "polls", emulator.url, token, pending, str(args.polls)], env=emulator.env())
        figures = dict(part.split("=") for part in stdout.split())
        raws.append(float(figures["raw_us"]))
        ours.append(float(figures["ocrcloud_us"]))
        ratios.append(float(figures["ratio"]))
        raw_cpus.append(float(figures["raw_cpu_us"]))
        our_cpus.append(float(figures["ocrcloud_cpu_us"]))
        cpu_ratios.append(float(figures["cpu_ratio"]))
    raw_ir, our_ir = poll_instructions(args, emulator, token, binary, pending)
    if emulator.ca_file:
        title, column, raw_name = "over one keep-alive HTTPS connection", "x raw TLS", \
            "raw TLS loop (OpenSSL libssl, same process)"
    else:
        title, column, raw_name = "over one keep-alive connection", "x raw socket", "raw socket loop"
    ir_note = (f"; instructions: user-space instructions per request under callgrind, "
               f"{POLL_INSTRUCTION_COUNT} requests of each loop in one run (system calls not counted)"
               if raw_ir else "")
    return [
        f"Status polls {title} ({args.polls} requests per round, {args.rounds} rounds; "
        f"blocks of both loops interleaved in one process; CPU: the client thread's own time{ir_note})",
        "",
        f"| contender | median us/request | {column} | median CPU us/request | CPU {column} | "
        f"instructions/request | instructions {column} |",
        "|---|---|---|---|---|---|---|",
        f"| {raw_name} | {statistics.median(raws):.1f} | 1.00 | {statistics.median(raw_cpus):.1f} | 1.00 | "
        f"{f'{raw_ir:,.0f}' if raw_ir else '-'} | 1.00 |",
        f"| ocrcloud `ocr_fetch_result` | {statistics.median(ours):.1f} | {statistics.median(ratios):.2f} | "
        f"{statistics.median(our_cpus):.1f} | {statistics.median(cpu_ratios):.2f} | "
        f"{f'{our_ir:,.0f}' if raw_ir else '-'} | {f'{our_ir / raw_ir:.2f}' if raw_ir else '-'} |",
    ], statistics.median(ours) / 1e6


# Requests of each loop in the callgrind run of the polls (slow under valgrind).
POLL_INSTRUCTION_COUNT = 500


def poll_instructions(args, emulator, token, binary, task_id):
    """User-space instructions per request of each poll loop: one `bench_client polls` run
    under callgrind per loop, collecting only inside that loop's block function (raw_block,
    ours_block). Instruction counts do not depend on the machine's load. Answers (raw, ours),
    or (None, None) without valgrind or with --smoke."""
    if args.smoke or not shutil.which("valgrind"):
        return None, None
    counts = []
    for function in ("raw_block", "ours_block"):
        fd, out = tempfile.mkstemp(prefix="ocrcloud-bench-callgrind-")
        os.close(fd)
        try:
            run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", f"--toggle-collect={function}",
                 binary, "polls", emulator.url, token, task_id, str(POLL_INSTRUCTION_COUNT)], env=emulator.env())
            with open(out) as f:
                summary = next(line for line in f if line.startswith("summary:"))
        finally:
            os.unlink(out)
        # The warm-up requests run outside the block functions.
        counts.append(int(summary.split()[1]) / POLL_INSTRUCTION_COUNT)
    return counts[0], counts[1]


def bench_many(args, emulator, token, binary, request_seconds):
    interval = args.many_interval_ms / 1000
    ready_after = args.many_ready_ms / 1000
    created = []
    ids_file = tempfile.mktemp(prefix="ocrcloud-bench-ids-")
    with open(ids_file, "w") as f:
        for i in range(args.many):
            created.append(time.monotonic())
            f.write(emulator.fixture({
                "results": [{"type": "Text", "text": f"task {i}"}],
                "pendingMs": args.many_ready_ms // 2, "processingMs": args.many_ready_ms - args.many_ready_ms // 2,
            }) + "\n")
    started = time.monotonic()
    seconds, _, stdout = measure([binary, "many", emulator.url, token, ids_file, str(args.many_interval_ms)])
    os.unlink(ids_file)
    figures = dict(part.split("=") for part in stdout.split())
    requests = int(figures["requests"])
    # One by one, each task is asked at 0, I, 2I, ... from the start until it is ready.
    one_by_one = 0
    for at in created:
        left = max(0.0, at + ready_after - started)
        one_by_one += int(-(-left // interval)) + 1
    ready = max(0.0, max(created) + ready_after - started)
    ideal = ready + requests * request_seconds / 4
    return [
        f"`ocr_poll_many` on {args.many} tasks that are ready {args.many_ready_ms} ms after they were "
        f"created (interval {args.many_interval_ms} ms, 4 connections)",
        "",
        "| figure | value |",
        "|---|---|",
        f"| wall time | {seconds:.3f} s |",
        f"| time until the last task was ready + requests' own cost / 4 connections | {ideal:.3f} s |",
        f"| ratio | {seconds / ideal:.2f} |",
        f"| requests sent | {requests} |",
        f"| requests one-by-one polling would send | {one_by_one} |",
    ]


FLOW_COMMIT_SUBJECT = "Flow control: one request budget per client"
BASELINE_TREE = "/tmp/ocrcloud-baseline"
BASELINE_TARGET = "/tmp/ocrcloud-baseline-target"


def compile_flow(target, name):
    """bench_flow.c linked against the libocrcloud.so of `target` (found there by -rpath)."""
    binary = os.path.join(target, name)
    subprocess.run(
        ["gcc", "-O2", "-std=c11", "-Wall", "-Wextra", "-Werror", f"-I{ROOT}/include",
         os.path.join(BENCHES, "bench_flow.c"), "-o", binary, f"-L{target}", f"-Wl,-rpath,{target}",
         "-locrcloud", "-ldl", "-lpthread"],
        check=True,
    )
    return binary


def build_baseline(skip):
    """The library as it was before flow control: the parent of the flow-control commit, checked
    out in a git worktree under /tmp and built there (release) with its own CARGO_TARGET_DIR.
    Answers the bench_flow binary linked against it."""
    flow = subprocess.run(["git", "log", "--format=%H", "-n1", "--fixed-strings", "--grep", FLOW_COMMIT_SUBJECT],
                          cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
    if not flow:
        raise SystemExit(f"no commit {FLOW_COMMIT_SUBJECT!r} in the history: cannot build the baseline")
    parent = subprocess.run(["git", "rev-parse", f"{flow}^"], cwd=ROOT, capture_output=True, text=True,
                            check=True).stdout.strip()
    if not os.path.exists(BASELINE_TREE):
        subprocess.run(["git", "worktree", "add", "--detach", BASELINE_TREE, parent], cwd=ROOT, check=True,
                       capture_output=True)
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=BASELINE_TREE, capture_output=True, text=True,
                          check=True).stdout.strip()
    if head != parent:
        raise SystemExit(f"{BASELINE_TREE} is at {head}, not at {parent} (the parent of {flow}); remove it "
                         f"with `git worktree remove {BASELINE_TREE}`")
    target = os.path.join(BASELINE_TARGET, "release")
    if not skip or not os.path.exists(os.path.join(target, "libocrcloud.so")):
        subprocess.run(["cargo", "build", "--quiet", "--release", "-p", "ocrcloud"], cwd=BASELINE_TREE, check=True,
                       env=dict(os.environ, CARGO_TARGET_DIR=BASELINE_TARGET))
    return parent[:7], compile_flow(target, "bench_flow_baseline")


class FlowRun:
    """One run of bench_flow against a fresh emulator with --rate-limit: the fixtures, the
    program, and the emulator's statistics."""

    def __init__(self, args, emulator_binary, binary, mode, amount, env=None):
        self.args = args
        self.emulator = Emulator(emulator_binary, "--rate-limit", str(args.flow_rate))
        try:
            e = self.emulator
            token = json.loads(e.call("POST", "/connect/token", form={
                "grant_type": "client_credentials", "client_id": "demo",
                "client_secret": "demo-secret"}))["access_token"]
            fetch_id = e.fixture({"results": [{"type": "Text", "text": "a completed task"}]})
            ready = args.flow_ready_ms
            fd, self.ids_file = tempfile.mkstemp(prefix="ocrcloud-bench-flow-ids-")
            with os.fdopen(fd, "w") as f:
                for i in range(args.flow_tasks):
                    f.write(e.fixture({"results": [{"type": "Text", "text": f"task {i}"}],
                                       "pendingMs": ready // 2, "processingMs": ready - ready // 2}) + "\n")
            self.process = subprocess.Popen(
                [binary, mode, e.url, token, self.ids_file, fetch_id, str(args.flow_threads), str(amount),
                 str(args.flow_interval_ms)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                env=dict(os.environ, **(env or {})))
            line = self.process.stdout.readline().decode()
            if not line.startswith("t0="):
                raise SystemExit(f"bench_flow did not start: {line!r} {self.process.stderr.read().decode()}")
            self.t0 = float(line[3:])
        except BaseException:
            self.emulator.stop()
            raise

    def stats(self):
        return json.loads(self.emulator.call("GET", "/_emulator/stats"))

    def api_requests(self, stats=None):
        """API requests the emulator got, without the token request of the setup."""
        stats = stats or self.stats()
        return stats["requests"] - stats["token_requests"]

    def finish(self):
        try:
            out, err = self.process.communicate(timeout=600)
            if self.process.returncode != 0:
                raise SystemExit(f"bench_flow failed ({self.process.returncode}):\n{err.decode(errors='replace')}")
            lines = out.decode().split("\n")
            self.figures = dict(part.split("=") for part in lines[0].split())
            self.buckets = [int(n) for n in lines[1].removeprefix("ok_buckets=").split(",") if n]
            self.final = self.stats()
        finally:
            os.unlink(self.ids_file)
            self.emulator.stop()
        return self


def run_rate(args, emulator_binary, binary, env=None):
    run = FlowRun(args, emulator_binary, binary, "rate", args.flow_fetches, env).finish()
    requests = run.api_requests(run.final)
    limited = run.final["rate_limited"]
    completed, tasks = int(run.figures["completed"]), int(run.figures["tasks"])
    if completed != tasks:
        raise SystemExit(f"bench_flow rate: {completed} of {tasks} tasks completed")
    seconds = float(run.figures["seconds"])
    ideal = (requests - limited) / args.flow_rate
    return {"share": limited / requests, "wall": seconds, "ideal": ideal, "ratio": seconds / ideal,
            "requests": requests, "limited": limited, "completed": completed, "tasks": tasks,
            "failures": int(run.figures["fetch_failures"])}


def drain_faults(url):
    """Uses up what is left of the queued 503 faults: pipelined GETs of an unknown path without a
    token (so they spend no rate budget of the client's token) until one is answered otherwise.
    Answers when the batch in which that happened was sent (within ~10 ms of the outage's end)."""
    host, port = url.removeprefix("http://").rsplit(":", 1)
    batch = b"GET /_drain-outage HTTP/1.1\r\nHost: bench\r\n\r\n" * 200
    with socket.create_connection((host, int(port))) as sock:
        reader = sock.makefile("rb")
        while True:
            sent = time.monotonic()
            sock.sendall(batch)
            over = False
            for _ in range(200):
                status = int(reader.readline().split()[1])
                length = 0
                while (header := reader.readline()) not in (b"\r\n", b""):
                    if header.lower().startswith(b"content-length:"):
                        length = int(header.split(b":")[1])
                reader.read(length)
                over |= status != 503
            if over:
                # The faults ran out during this batch: the outage ended after it was sent.
                return sent


def run_outage(args, emulator_binary, binary):
    """The outage: `flow_before_s` of load, then every request answered 503 (no Retry-After) for
    `flow_outage_s`, then `flow_after_s` more of load. A time-bounded outage from count-bounded
    faults: faults of 1000 uses are queued as the ones before run low, and what is left at the end
    is used up by drain_faults."""
    before, outage, after = args.flow_before_s, args.flow_outage_s, args.flow_after_s
    run = FlowRun(args, emulator_binary, binary, "outage", int((before + outage + after) * 1000))
    fault = {"path": "*", "kind": "status", "status": 503, "count": 1000}
    time.sleep(max(0.0, run.t0 + before - time.monotonic()))
    start = run.api_requests()
    run.emulator.call("POST", "/_emulator/faults", fault)
    began, queued = time.monotonic(), 1000
    while time.monotonic() < began + outage:
        used = run.api_requests() - start
        if queued - used < 600:
            run.emulator.call("POST", "/_emulator/faults", fault)
            queued += 1000
        time.sleep(0.01)
    during = run.api_requests() - start
    ended = drain_faults(run.emulator.url)
    run.finish()
    # Successes per second before the outage (after its first second, a burst), and after it:
    # the first success after its end, and the first success that starts a second with 90% of
    # the successes per second before it.
    per_bucket = 0.01
    def successes(from_s, to_s):
        return sum(run.buckets[round(from_s / per_bucket):round(to_s / per_bucket)])
    end_at = ended - run.t0
    settled = min(1.0, (began - run.t0) / 2)
    steady = successes(settled, began - run.t0) / (began - run.t0 - settled)
    first, full, limit = None, None, None
    for b in range(int(end_at / per_bucket), len(run.buckets)):
        if not run.buckets[b]:
            continue
        at = max(0.0, b * per_bucket - end_at)
        first = at if first is None else first
        second = successes(b * per_bucket, b * per_bucket + 1.0)
        if full is None and second >= 0.9 * steady:
            full = at
        if limit is None and second >= 0.9 * args.flow_rate:
            limit = at
    return {"during": during, "outage": ended - began, "steady": steady, "first": first, "full": full,
            "limit": limit, "lib_requests": float(run.figures["lib_requests"])}


def median_of(runs, key):
    values = [r[key] for r in runs if r[key] is not None]
    return statistics.median(values) if values else None


def bench_flow(args, target, emulator_binary, baseline):
    """The flow-control rows: today's library, and (unless baseline is None) the one before flow
    control as the baseline, in interleaved rounds."""
    binary = compile_flow(target, "bench_flow")
    # (name, binary, environment); the last only in the rate rows: the client told the limit.
    libraries = [("ocrcloud (flow control)", binary, None)]
    if baseline:
        commit, old = baseline
        libraries.insert(0, (f"before flow control ({commit}), the baseline", old, None))
    told = libraries + [(f"ocrcloud, `ocr_client_set_max_rate(client, {args.flow_rate})`", binary,
                         {"OCR_MAX_RATE": str(args.flow_rate)})]
    rates = {name: [] for name, *_ in told}
    outages = {name: [] for name, *_ in libraries}
    for _ in range(args.flow_rounds):
        for name, binary, env in told:
            rates[name].append(run_rate(args, emulator_binary, binary, env))
        for name, binary, _ in libraries:
            outages[name].append(run_outage(args, emulator_binary, binary))
    rounds = f"{args.flow_rounds} interleaved round{'s' if args.flow_rounds > 1 else ''}, medians"
    load = (f"{args.flow_threads} threads fetching a completed task and one `ocr_poll_many` of "
            f"{args.flow_tasks} tasks ready {args.flow_ready_ms} ms after they were created (interval "
            f"{args.flow_interval_ms} ms), all on one client with the default settings")
    lines = [
        f"Rate limit: {load}, each thread making {args.flow_fetches} fetches, against "
        f"`--rate-limit {args.flow_rate}` ({rounds}; ideal = requests let through / {args.flow_rate} per s)",
        "",
        "| library | answered 429 (min-max) | wall s | ideal s | wall / ideal (min-max) | requests | tasks completed |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, *_ in told:
        runs = rates[name]
        def spread(key, scale, digits):
            values = [r[key] * scale for r in runs]
            text = f"{statistics.median(values):.{digits}f}"
            return text if len(values) == 1 else f"{text} ({min(values):.{digits}f}-{max(values):.{digits}f})"
        lines.append(
            f"| {name} | {spread('share', 100, 1)}% | {median_of(runs, 'wall'):.1f} | "
            f"{median_of(runs, 'ideal'):.1f} | {spread('ratio', 1, 2)} | {median_of(runs, 'requests'):.0f} | "
            f"{min(r['completed'] for r in runs)}/{runs[0]['tasks']} |"
        )
    lines += [
        "",
        f"Outage: the same load for {args.flow_before_s + args.flow_outage_s + args.flow_after_s:g} s against "
        f"`--rate-limit {args.flow_rate}`, every request answered 503 (no Retry-After) from "
        f"{args.flow_before_s:g} s for {args.flow_outage_s:g} s ({rounds}; recovery counted from the end "
        f"of the outage; full rate: from the first success that starts a second with 90% of the "
        f"successes per second before the outage)",
        "",
        "| library | successes/s before | requests during the outage | x fewer than the baseline | outage s | "
        f"first success after s | full rate after s | {0.9 * args.flow_rate:g}/s (90% of the limit) after s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    base = median_of(outages[libraries[0][0]], "during") if baseline else None
    for name, *_ in libraries:
        runs = outages[name]
        during = median_of(runs, "during")
        fewer = f"{base / during:.1f}" if base and during else "-"
        after = args.flow_after_s
        first, full, limit = (statistics.median(after if r[key] is None else r[key] for r in runs)
                              for key in ("first", "full", "limit"))
        lines.append(
            f"| {name} | {median_of(runs, 'steady'):.1f} | {during:.0f} | {fewer} | {median_of(runs, 'outage'):.1f} | "
            f"{f'> {after:g}' if first >= after else f'{first:.2f}'} | "
            f"{f'> {after - 1:g}' if full >= after else f'{full:.2f}'} | "
            f"{f'> {after - 1:g}' if limit >= after else f'{limit:.2f}'} |"
        )
    return lines


# The headings of the parts that `--record --only PART` replaces alone in RESULTS.md.
SECTIONS = {"many": "## Many tasks", "schedule": "## Time to result", "flow": "## Flow control"}


def schedule_arg(text):
    first_ms, factor, max_ms = text.split(",")
    return int(first_ms), float(factor), int(max_ms)


def bench_schedule(args):
    """The time-to-result table: `cargo bench --bench poll_schedule` (a simulation), in the
    debug profile with fewer tasks under --smoke."""
    flags = ["--profile", "dev"] if args.smoke else []
    tasks = ["--tasks", "1000"] if args.smoke else []
    # --workspace: the workspace's features (the emulator's turn on more of tokio and rustls), as
    # in the debug build of the test command, which the smoke run then reuses instead of
    # compiling every dependency again.
    _, stdout = run(["cargo", "bench", "--quiet", "--manifest-path", os.path.join(ROOT, "Cargo.toml"), *flags,
                     "--workspace", "--bench", "poll_schedule", "--", *tasks])
    return stdout.strip("\n").split("\n")


def machine():
    cpu = "unknown CPU"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="tiny inputs, one round, debug build")
    parser.add_argument("--record", action="store_true", help="rewrite benches/RESULTS.md")
    parser.add_argument("--size-mib", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--polls", type=int, default=5000)
    parser.add_argument("--many", type=int, default=1000)
    parser.add_argument("--many-ready-ms", type=int, default=3000)
    parser.add_argument("--many-interval-ms", type=int, default=500)
    parser.add_argument("--profile", default="release")
    parser.add_argument("--no-build", action="store_true")
    parser.add_argument("--upload-mib", type=int, nargs="+", default=[64, 512],
                        help="document sizes of the submission rows")
    parser.add_argument("--only", choices=["http", "https", "flow", "upload", "batch", "many",
                                           "schedule", "shared"],
                        help="run only the plain, the HTTPS, the flow-control, the submission, "
                             "the batch or the many-tasks rows, or the time-to-result table")
    parser.add_argument("--flow-rounds", type=int, default=3)
    parser.add_argument("--flow-rate", type=int, default=50, help="the emulator's --rate-limit")
    parser.add_argument("--flow-threads", type=int, default=32)
    parser.add_argument("--flow-fetches", type=int, default=20, help="fetches per thread (rate limit rows)")
    parser.add_argument("--flow-tasks", type=int, default=1000)
    parser.add_argument("--flow-ready-ms", type=int, default=2000)
    parser.add_argument("--flow-interval-ms", type=int, default=1000)
    parser.add_argument("--flow-before-s", type=float, default=4)
    parser.add_argument("--flow-outage-s", type=float, default=10)
    parser.add_argument("--flow-after-s", type=float, default=8)
    parser.add_argument("--many-tasks", type=int, default=10000)
    parser.add_argument("--many-spread-s", type=float, default=30, help="the tasks complete over this span")
    parser.add_argument("--many-rounds", type=int, default=3)
    parser.add_argument("--many-schedule", type=schedule_arg, default=(3000, 1.5, 5000),
                        help="FIRST_MS,FACTOR,MAX_MS of the many-tasks polls (the library's defaults)")
    parser.add_argument("--no-baseline", action="store_true",
                        help="flow-control rows without the library before flow control")
    parser.add_argument("--batch-inputs", type=int, default=1000)
    parser.add_argument("--batch-rounds", type=int, default=3)
    parser.add_argument("--batch-large", type=int, default=10000,
                        help="inputs of the batch's large run (peak RSS; 0: none)")
    parser.add_argument("--shared-inputs", type=int, default=10000, help="inputs of the shared batch rows")
    parser.add_argument("--shared-rate", type=int, default=200,
                        help="the emulator's --rate-limit in the shared batch rows")
    parser.add_argument("--shared-workers", type=int, nargs="+", default=[1, 2, 4],
                        help="worker processes of the shared batch rows")
    parser.add_argument("--shared-jobs", type=int, default=8, help="--jobs of every shared batch row")
    args = parser.parse_args()
    if args.smoke:
        args.size_mib, args.rounds, args.polls, args.many = 1, 1, 100, 20
        args.upload_mib = [1]
        args.many_ready_ms, args.many_interval_ms = 200, 50
        args.profile, args.no_build = "debug", True
        args.flow_rounds, args.flow_threads, args.flow_fetches, args.flow_tasks = 1, 8, 3, 40
        args.flow_ready_ms, args.flow_interval_ms = 200, 200
        args.flow_before_s, args.flow_outage_s, args.flow_after_s = 1, 1, 1.5
        args.no_baseline = True
        args.batch_inputs, args.batch_rounds, args.batch_large = 20, 1, 0
        args.many_tasks, args.many_spread_s, args.many_rounds = 40, 1, 1
        args.many_schedule = (100, 1.5, 500)
        args.shared_inputs, args.shared_workers = 40, [2]

    target, binary = build(args.profile, args.no_build)
    load_before = os.getloadavg()[0]
    emulator_binary = os.path.join(target, "ocrcloud-emulator")
    tables = []
    for tls in (False, True):
        if args.only and args.only != ("https" if tls else "http"):
            continue
        emulator = Emulator(emulator_binary, "--max-body-bytes", str(4 << 30), tls=tls)
        try:
            token = json.loads(emulator.call("POST", "/connect/token", form={
                "grant_type": "client_credentials", "client_id": "demo", "client_secret": "demo-secret"}))["access_token"]
            tables.append(bench_fetch(args, emulator, token, binary, target))
            polls, request_seconds = bench_polls(args, emulator, token, binary)
            tables.append(polls)
            if not tls:
                tables.append(bench_many(args, emulator, token, binary, request_seconds))
        finally:
            emulator.stop()
    if not args.only or args.only == "upload":
        tables.append(bench_upload(args, binary, target, emulator_binary))
    if not args.only or args.only == "flow":
        baseline = None if args.no_baseline else build_baseline(args.no_build)
        tables.append([SECTIONS["flow"], ""] + bench_flow(args, target, emulator_binary, baseline))
    if not args.only or args.only == "batch":
        tables.append(["## Batch", ""] + bench_batch(args, ROOT, target, Emulator))
    if not args.only or args.only == "many":
        tables.append([SECTIONS["many"], ""] +
                      many_tasks.bench_many_tasks(args, lambda: Emulator(emulator_binary), target))
    if not args.only or args.only == "shared":
        tables.append(["## Shared batch", ""] + bench_shared(args, ROOT, target, Emulator))
    if not args.only or args.only == "schedule":
        tables.append([SECTIONS["schedule"], ""] + bench_schedule(args))
    tables = "\n".join(line for table in tables for line in table + [""]).rstrip("\n")
    print(tables)
    if args.record:
        only = f" --only {args.only}" if args.only else ""
        note = (f"Recorded {datetime.date.today()} on {machine()} with `benches/run.sh --record{only}` "
                f"({args.profile} build; 1-minute load average {load_before:.1f} before the run, "
                f"{os.getloadavg()[0]:.1f} after it). Ratios compare runs made in the same script run.")
        path = os.path.join(BENCHES, "RESULTS.md")
        if args.only:
            record_part(path, args.only, note, tables)
        else:
            with open(path, "w") as f:
                f.write(f"# Benchmark results\n\n{note}\n\n{tables}\n")


def record_part(path, part, note, tables):
    """Replaces the section of an --only run in RESULTS.md (from its marker to the next one or
    the end), or appends it; the rest stays as it was recorded."""
    marker = f"<!-- benches/run.sh --only {part} -->"
    with open(path) as f:
        text = f.read()
    section = f"{marker}\n\n{note}\n\n{tables}\n"
    start = text.find(marker)
    if start < 0:
        text = text.rstrip("\n") + "\n\n" + section
    else:
        end = text.find("<!-- benches/run.sh --only ", start + len(marker))
        text = text[:start] + section + ("\n" + text[end:] if end >= 0 else "")
    with open(path, "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()
