"""The many-tasks rows of benches/run.sh (see bench.py): `ocr_poll_many` on many tasks whose
completions spread over a span of time, from C (bench_many.c) and from the Python binding
(binding_many.py), each against single `ocr_fetch_result` calls (`Client.fetch`) making the same
number of requests in the same kind of process.

Each round and contender gets fresh fixtures, made by one request (an array, timed from one
moment): task k of N is ready (Pending, then Processing, then Completed) at (k + 0.5) / N of the
spread, in a shuffled order (fixed seed). Then:
- poll_many: the contender polls all of them with the schedule FIRST_MS, FACTOR, MAX_MS (by
  default the library's defaults); every task must complete. Requests are the emulator's count of
  API requests during the run.
- one by one: what polling each task on its own with the same schedule from the same start
  would send: requests at 0, w1, w1 + w2, ... (w_n = min(FIRST * FACTOR^(n-1), MAX), the
  header's formula) until the first at or after the task is ready.
- single fetches: a second process of the same kind makes exactly as many requests with single
  fetch calls from one thread: the not-finished ones on a task that stays Pending, then one on
  each (now Completed) task, keeping those results to the end as poll_many's caller does; once
  back to back (the request's own cost), once paced over poll_many's wall time (as a loop of
  fetch and sleep sends them; each request then starts after a sleep, as poll_many's do).
Each process measures itself: the CPU time of all its threads during the job (getrusage) and
its peak resident set (VmHWM of /proc/self/status), so the emulator's memory and CPU are not in
the figures. CPU per request and peak RSS
beyond the results (poll_many's peak minus the single fetches' peak, per task) are medians over
the rounds.
"""
import json
import os
import random
import statistics
import subprocess
import sys
import time

BENCHES = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(BENCHES)


def compile_many(target):
    """bench_many.c linked against the libocrcloud.so of `target`."""
    binary = os.path.join(target, "bench_many")
    subprocess.run(
        ["gcc", "-O2", "-std=c11", "-Wall", "-Wextra", "-Werror", f"-I{ROOT}/include",
         os.path.join(BENCHES, "bench_many.c"), "-o", binary, f"-L{target}", f"-Wl,-rpath,{target}",
         "-locrcloud"],
        check=True,
    )
    return binary


def figures(argv, env):
    process = subprocess.run(argv, capture_output=True, text=True, env=env)
    if process.returncode != 0:
        raise SystemExit(f"{argv[:2]} failed ({process.returncode}):\n{process.stderr}")
    return {key: float(value) for key, value in (part.split("=") for part in process.stdout.split())}


def one_by_one_requests(ready_s, schedule):
    """Requests of polling one task on its own: at 0, w1, w1 + w2, ... until one at or after
    `ready_s` (seconds from the start)."""
    first_ms, factor, max_ms = schedule
    at, n, requests = 0.0, 1, 1
    while at < ready_s:
        at += min(first_ms * factor ** (n - 1), max_ms) / 1000
        n += 1
        requests += 1
    return requests


class Contender:
    def __init__(self, name, argv, env=None):
        self.name, self.argv, self.env = name, argv, env
        self.rounds = []


def run_round(emulator, token, contender, args, pending_id, seed):
    tasks, spread_ms = args.many_tasks, args.many_spread_s * 1000
    order = list(range(tasks))
    random.Random(seed).shuffle(order)
    ready_ms = [round(spread_ms * (k + 0.5) / tasks) for k in order]
    specs = [{"results": [{"type": "Text", "text": f"task {i}"}], "pendingMs": ms // 2,
              "processingMs": ms - ms // 2} for i, ms in enumerate(ready_ms)]
    ids = emulator.call("POST", "/_emulator/tasks", specs).split("\n")
    created = time.monotonic()
    ids_file = os.path.join(args.many_dir, "ids")
    with open(ids_file, "w") as f:
        f.write("\n".join(ids) + "\n")

    def api_requests():
        stats = json.loads(emulator.call("GET", "/_emulator/stats"))
        return stats["requests"] - stats["token_requests"]

    schedule = [str(part) for part in args.many_schedule]
    before = api_requests()
    polled = figures(contender.argv + ["poll_many", emulator.url, token, ids_file, *schedule], contender.env)
    requests = api_requests() - before
    one_by_one = sum(one_by_one_requests(created + ms / 1000 - polled["started"], args.many_schedule)
                     for ms in ready_ms)
    def single_fetches(seconds):
        before = api_requests()
        single = figures(contender.argv + ["one_by_one", emulator.url, token, ids_file, pending_id,
                                           str(requests), f"{seconds:.3f}"], contender.env)
        if api_requests() - before != requests:
            raise SystemExit(f"{contender.name}: the single fetches sent {api_requests() - before} "
                             f"requests, not {requests}")
        return single

    single, paced = single_fetches(0), single_fetches(polled["seconds"])
    contender.rounds.append({
        "requests": requests, "one_by_one": one_by_one, "seconds": polled["seconds"],
        "cpu_us": polled["cpu_s"] / requests * 1e6, "single_cpu_us": single["cpu_s"] / requests * 1e6,
        "paced_cpu_us": paced["cpu_s"] / requests * 1e6,
        "peak": polled["peak_rss_kib"] * 1024, "single_peak": single["peak_rss_kib"] * 1024,
    })


def bench_many_tasks(args, emulator_factory, target):
    """The rows: `emulator_factory()` starts an emulator (bench.Emulator); `target` holds the
    library, the emulator and bench_many."""
    binary = compile_many(target)
    binding_env = dict(os.environ, OCRCLOUD_LIBRARY_DIR=target)
    contenders = [
        Contender("C (`ocr_poll_many`)", [binary]),
        Contender("Python binding (`Client.poll_many`)",
                  [sys.executable, os.path.join(BENCHES, "binding_many.py")], binding_env),
    ]
    emulator = emulator_factory()
    args.many_dir = os.path.join(target, "bench-many")
    os.makedirs(args.many_dir, exist_ok=True)
    try:
        token = json.loads(emulator.call("POST", "/connect/token", form={
            "grant_type": "client_credentials", "client_id": "demo",
            "client_secret": "demo-secret"}))["access_token"]
        pending_id = emulator.fixture({"taskStatus": "Pending"})
        for round_index in range(args.many_rounds):
            for contender in contenders:
                run_round(emulator, token, contender, args, pending_id, seed=16 + round_index)
    finally:
        emulator.stop()
    first_ms, factor, max_ms = args.many_schedule
    rounds = args.many_rounds
    lines = [
        f"`ocr_poll_many` on {args.many_tasks} tasks that complete evenly over {args.many_spread_s:g} s "
        f"(schedule {first_ms} ms x {factor:g} up to {max_ms} ms, 4 connections; {rounds} interleaved "
        f"round{'s' if rounds > 1 else ''}, medians), against single fetch calls making the same "
        f"requests in a process of the same kind (each client process measures itself)",
        "",
        "| client | wall s | requests | one-by-one polling | ratio | CPU us/request | single fetches back to back "
        "| ratio | single fetches paced | ratio | peak RSS MiB | single fetches (results held) MiB "
        "| beyond the results per task |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for c in contenders:
        def median(key):
            return statistics.median(r[key] for r in c.rounds)
        beyond = statistics.median((r["peak"] - r["single_peak"]) / args.many_tasks for r in c.rounds)
        lines.append(
            f"| {c.name} | {median('seconds'):.1f} | {median('requests'):.0f} | {median('one_by_one'):.0f} | "
            f"{statistics.median(r['requests'] / r['one_by_one'] for r in c.rounds):.3f} | "
            f"{median('cpu_us'):.1f} | {median('single_cpu_us'):.1f} | "
            f"{statistics.median(r['cpu_us'] / r['single_cpu_us'] for r in c.rounds):.2f} | "
            f"{median('paced_cpu_us'):.1f} | "
            f"{statistics.median(r['cpu_us'] / r['paced_cpu_us'] for r in c.rounds):.2f} | "
            f"{median('peak') / (1 << 20):.1f} | {median('single_peak') / (1 << 20):.1f} | "
            f"{beyond:.0f} B |"
        )
    return lines
