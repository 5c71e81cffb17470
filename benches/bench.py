#!/usr/bin/env python3
"""Benchmarks ocrcloud against curl, jq and the official Python SDK on the same emulator.

    benches/run.sh              full run: 64 MiB result, 7 interleaved rounds, polls, poll_many,
                                then the fetch and the polls again over HTTPS
    benches/run.sh --smoke      a few seconds with tiny inputs (the test command runs this)
    benches/run.sh --record     also rewrite benches/RESULTS.md with this run's tables
    benches/run.sh --only https only the HTTPS rows (--only http: only the plain ones)

Every figure is a ratio against a baseline measured in the same run: fetches against
`curl -s -o /dev/null` on the same URL, polls against a raw-socket loop sending the same request,
poll_many against the time the tasks take to complete plus the requests' own cost. Wall times are
medians over interleaved rounds; peak RSS is each process's maximum resident set (wait4).

The HTTPS rows use a second emulator started with `--tls-self-signed CA`: the fetch against
`curl --cacert CA -s -o /dev/null` on the same https:// URL, the polls against a raw TLS loop in
the same process (OpenSSL's libssl, as curl uses, on one connection, trusting the same CA), the
C client trusting the CA with ocr_client_set_ca_file (bench_client reads OCR_CA_FILE).
"""
import argparse
import datetime
import json
import os
import platform
import shutil
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

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
            seconds, peak, _ = measure_once(argv, shell, env)
            times[name].append(seconds)
            peaks[name].append(peak)
    _, baseline, _ = measure([binary, "memory", emulator.url, token, tiny_id], env=emulator.env())
    shutil.rmtree(out_dir)

    curl = statistics.median(times[contenders[0][0]])
    over = " over HTTPS" if emulator.ca_file else ""
    lines = [
        f"Fetch of one {args.size_mib} MiB Pdf result{over} ({args.rounds} interleaved rounds; "
        f"the C client's baseline RSS is {baseline / MIB:.1f} MiB)",
        "",
        "| contender | median s | min-max s | x curl | peak RSS MiB | (RSS - baseline) / decoded |",
        "|---|---|---|---|---|---|",
    ]
    for name, *_ in contenders:
        median = statistics.median(times[name])
        peak = max(peaks[name])
        lines.append(
            f"| {name} | {median:.3f} | {min(times[name]):.3f}-{max(times[name]):.3f} | "
            f"{median / curl:.2f} | {peak / MIB:.1f} | {(peak - baseline) / size:.2f} |"
        )
    return lines


def bench_polls(args, emulator, token, binary):
    pending = emulator.fixture({"id": "bench-pending", "taskStatus": "Pending"})
    ratios, raws, ours = [], [], []
    for _ in range(args.rounds):
        _, stdout = run([binary, "polls", emulator.url, token, pending, str(args.polls)], env=emulator.env())
        figures = dict(part.split("=") for part in stdout.split())
        raws.append(float(figures["raw_us"]))
        ours.append(float(figures["ocrcloud_us"]))
        ratios.append(float(figures["ratio"]))
    if emulator.ca_file:
        title, column, raw_name = "over one keep-alive HTTPS connection", "x raw TLS", \
            "raw TLS loop (OpenSSL libssl, same process)"
    else:
        title, column, raw_name = "over one keep-alive connection", "x raw socket", "raw socket loop"
    return [
        f"Status polls {title} ({args.polls} requests per round, {args.rounds} rounds; "
        f"blocks of both loops interleaved in one process)",
        "",
        f"| contender | median us/request | {column} |",
        "|---|---|---|",
        f"| {raw_name} | {statistics.median(raws):.1f} | 1.00 |",
        f"| ocrcloud `ocr_fetch_result` | {statistics.median(ours):.1f} | {statistics.median(ratios):.2f} |",
    ], statistics.median(ours) / 1e6


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
    parser.add_argument("--only", choices=["http", "https"], help="run only the plain or the HTTPS rows")
    args = parser.parse_args()
    if args.smoke:
        args.size_mib, args.rounds, args.polls, args.many = 1, 1, 100, 20
        args.many_ready_ms, args.many_interval_ms = 200, 50
        args.profile, args.no_build = "debug", True

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
    tables = "\n".join(line for table in tables for line in table + [""]).rstrip("\n")
    print(tables)
    if args.record:
        with open(os.path.join(BENCHES, "RESULTS.md"), "w") as f:
            f.write("# Benchmark results\n\n")
            f.write(f"Recorded {datetime.date.today()} on {machine()} with `benches/run.sh --record` "
                    f"({args.profile} build; 1-minute load average {load_before:.1f} before the run, "
                    f"{os.getloadavg()[0]:.1f} after it). Ratios compare runs made in the same script "
                    f"run.\n\n")
            f.write(tables + "\n")


if __name__ == "__main__":
    main()
