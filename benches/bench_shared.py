"""The shared batch rows of the benchmark (bench.py calls bench_shared; issue 24): worker
processes of one batch in a PostgreSQL journal against the SQLite batch, under the service's rate
limit, and what the journal costs per input.

Inputs: N small distinct one-page PDFs (bench_batch.make_inputs). The emulator runs with
`--pending-ms 0 --processing-ms 500 --rate-limit R`, fresh for each run; every worker uses one
access token (OCR_ACCESS_TOKEN), so that the limit is the account's, shared by all. Each input
needs at least two requests (its POST, and a GET once it is done: the polls start at 600 ms,
`--interval-ms 600`, after the 500 ms of processing), so the limit allows R / 2 inputs a second.
J is --shared-jobs (8 by default, as the command's --jobs).
- sqlite: `ocrcloud batch --jobs J --max-rate R --interval-ms 600 --output OUT INPUTS`, one
  process, its journal in OUT.
- shared xK: K processes of `ocrcloud batch --journal postgresql://... --batch NAME --jobs J
  --max-rate R ...` started at once (each takes its share of R), a fresh batch name each run in
  one private server (scripts/postgres.sh). The wall time runs from the first start to the last
  exit; every worker must exit 0 and every result be in OUT.
- throughput: N / wall time; x the limit: throughput / (R / 2); x sqlite: against the SQLite
  batch of the same script run.
- POSTs; GETs per input: the emulator's counts of the API's routes / N (1.00; 1.00 when no
  request is wasted: a GET before the task is done, or a submission sent twice).
- round trips per input: the statements the workers' role ran (pg_stat_statements, BEGIN and
  COMMIT included, reset before each run) / N; each is one round trip of the extended protocol.
- bytes per input: in a run of its own (2 workers, N / 10 inputs, no rate limit), the workers
  reach the server through a counting TCP relay in this script: bytes both ways / inputs.
- peak RSS: ru_maxrss of each worker (os.wait4), the largest and the median.
"""
import json
import os
import selectors
import shutil
import socket
import statistics
import subprocess
import tempfile
import threading
import time

from bench_batch import check_outputs, make_inputs

PROCESSING_MS = 500
INTERVAL_MS = 600
MIB = 1 << 20


class Postgres:
    """A private server (scripts/postgres.sh), removed by stop()."""

    def __init__(self, root):
        self.script = os.path.join(root, "scripts", "postgres.sh")
        self.dir = tempfile.mktemp(prefix="ocrcloud-bench-pg-")
        self.url = subprocess.run([self.script, "start", self.dir, str(os.getpid())],
                                  check=True, capture_output=True).stdout.decode().strip()

    def sql(self, sql):
        return subprocess.run([self.script, "psql", self.dir, "-At", "-c", sql],
                              check=True, capture_output=True).stdout.decode().strip()

    def statements(self):
        """Statements the workers' role ran since the last reset."""
        return int(self.sql("SELECT coalesce(sum(calls), 0) FROM pg_stat_statements "
                            "WHERE userid = (SELECT oid FROM pg_roles WHERE rolname = 'ocrcloud')"))

    def stop(self):
        subprocess.run([self.script, "remove", self.dir], check=False, capture_output=True)


class Relay:
    """A TCP relay on 127.0.0.1 to `port` that counts the bytes it carries both ways."""

    def __init__(self, port):
        self.target = ("127.0.0.1", port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.setblocking(False)
        self.port = self.listener.getsockname()[1]
        self.bytes = 0
        self.running = True
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        selector = selectors.DefaultSelector()
        selector.register(self.listener, selectors.EVENT_READ, None)
        while self.running:
            for key, _ in selector.select(timeout=0.2):
                if key.data is None:
                    client, _ = self.listener.accept()
                    server = socket.create_connection(self.target)
                    for s in (client, server):
                        s.setblocking(True)
                        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    selector.register(client, selectors.EVENT_READ, server)
                    selector.register(server, selectors.EVENT_READ, client)
                    continue
                try:
                    data = key.fileobj.recv(65536)
                except OSError:
                    data = b""
                if data:
                    self.bytes += len(data)
                    key.data.sendall(data)
                else:
                    for s in (key.fileobj, key.data):
                        try:
                            selector.unregister(s)
                        except (KeyError, ValueError):
                            pass
                        s.close()

    def stop(self):
        self.running = False
        self.thread.join()
        self.listener.close()


def workers(argvs, env):
    """Starts every command at once, waits for all; answers (wall seconds, [peak RSS bytes])."""
    start = time.perf_counter()
    errors = [tempfile.TemporaryFile() for _ in argvs]
    with open(os.devnull, "wb") as null:
        processes = [subprocess.Popen(argv, env=env, stdout=null, stderr=err)
                     for argv, err in zip(argvs, errors)]
        peaks = []
        for process, err in zip(processes, errors):
            _, status, usage = os.wait4(process.pid, 0)
            code = os.waitstatus_to_exitcode(status)
            if code != 0:
                err.seek(0)
                raise SystemExit(f"{process.args} failed ({code}):\n{err.read()[-4000:].decode(errors='replace')}")
            peaks.append(usage.ru_maxrss * 1024)
    return time.perf_counter() - start, peaks


def bench_shared(args, root, target, emulator_class):
    """The shared batch table (lines of Markdown)."""
    n, rate = args.shared_inputs, args.shared_rate
    ocrcloud = os.path.join(target, "ocrcloud")
    emulator_binary = os.path.join(target, "ocrcloud-emulator")
    work = tempfile.mkdtemp(prefix="ocrcloud-bench-shared-")
    db = Postgres(root)
    rows = {}
    try:
        inputs = os.path.join(work, "inputs")
        make_inputs(inputs, n)

        def run(name, count, limited=True, url=None, inputs=inputs, n=n):
            flags = ["--pending-ms", "0", "--processing-ms", str(PROCESSING_MS)]
            emulator = emulator_class(emulator_binary, *flags, *(["--rate-limit", str(rate)] if limited else []))
            try:
                token = emulator.call("POST", "/connect/token", form={
                    "grant_type": "client_credentials", "client_id": "demo", "client_secret": "demo-secret"})
                env = dict(os.environ, OCR_BASE_URL=emulator.url,
                           OCR_ACCESS_TOKEN=json.loads(token)["access_token"])
                out = os.path.join(work, f"out-{name}")
                argv = [ocrcloud, "batch", "--jobs", str(args.shared_jobs), "--interval-ms", str(INTERVAL_MS),
                        "--output", out]
                if limited:
                    argv += ["--max-rate", str(rate)]
                if url:
                    argv += ["--journal", url, "--batch", name]
                    db.sql("SELECT pg_stat_statements_reset()")
                seconds, peaks = workers([argv + [inputs]] * count, env)
                check_outputs(out, inputs, n)
                stats = json.loads(emulator.call("GET", "/_emulator/stats"))
                routes = stats["by_route"].items()
                row = {"seconds": seconds, "peaks": peaks, "throughput": n / seconds,
                       "rate_limited": stats["rate_limited"],
                       "posts": sum(c for r, c in routes if r.startswith("POST /v5.0/")),
                       "gets": sum(c for r, c in routes if r.startswith("GET /v5.0/"))}
                if url:
                    row["statements"] = db.statements()
                shutil.rmtree(out)
                return row
            finally:
                emulator.stop()

        rows["sqlite"] = run("sqlite", 1)
        for count in args.shared_workers:
            rows[count] = run(f"shared-{count}", count, url=db.url)

        # Bytes per input: through the counting relay, on a tenth of the inputs.
        small = max(n // 10, 20)
        small_inputs = os.path.join(work, "inputs-small")
        make_inputs(small_inputs, small)
        relay = Relay(int(db.url.rsplit(":", 1)[1].split("/")[0]))
        try:
            relayed = db.url.replace(f":{db.url.rsplit(':', 1)[1].split('/')[0]}/", f":{relay.port}/")
            run("bytes", 2, limited=False, url=relayed, inputs=small_inputs, n=small)
        finally:
            relay.stop()
        bytes_per_input = relay.bytes / small
    finally:
        db.stop()
        shutil.rmtree(work)
    return table(args, n, rate, rows, bytes_per_input, small)


def table(args, n, rate, rows, bytes_per_input, small):
    allowed = rate / 2
    base = rows["sqlite"]["throughput"]
    lines = [
        f"Shared batch (issue 24): {n} small distinct PDFs against a fresh emulator per run with "
        f"`--pending-ms 0 --processing-ms {PROCESSING_MS} --rate-limit {rate}` (one token for all "
        f"workers: the account's limit); every worker `--jobs {args.shared_jobs} --max-rate {rate} --interval-ms "
        f"{INTERVAL_MS}`; the limit allows {rate} / 2 = {allowed:.0f} inputs/s (a POST and a GET "
        f"each); one run each, in one script run; the SQLite journal on disk, synced; the PostgreSQL "
        f"journal on a private local server (scripts/postgres.sh, fsync off)",
        "",
        "| workers | wall s | inputs/s | x the limit | x the SQLite batch | 429s | POSTs; GETs per input "
        "| statements per input | peak RSS MiB per worker (largest; median) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, row in rows.items():
        label = "1, the SQLite batch" if name == "sqlite" else f"{name}, PostgreSQL"
        statements = f"{row['statements'] / n:.1f}" if "statements" in row else "-"
        lines.append(
            f"| {label} | {row['seconds']:.1f} | {row['throughput']:.1f} | {row['throughput'] / allowed:.2f} | "
            f"{row['throughput'] / base:.2f} | {row['rate_limited']} | "
            f"{row['posts'] / n:.2f}; {row['gets'] / n:.2f} | {statements} | "
            f"{max(row['peaks']) / MIB:.1f}; {statistics.median(row['peaks']) / MIB:.1f} |")
    four = rows.get(4)
    if four:
        verdict = "met" if four["throughput"] >= 0.9 * allowed else "NOT met"
        lines += ["", f"At 4 workers: {four['throughput'] / allowed:.2f} x what the limit allows "
                      f"(the issue asks at least 0.90): {verdict}."]
    lines += ["", f"Bytes between the workers and PostgreSQL per input (2 workers, {small} inputs, no rate "
                  f"limit, both ways through a counting relay): {bytes_per_input / 1024:.1f} KiB."]
    return lines
