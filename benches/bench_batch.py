"""The batch rows of the benchmark (bench.py calls bench_batch): `ocrcloud batch` against
`xargs -P 8 ocrcloud run` and against the ideal, its peak RSS, and its journal's cost per input.

Inputs are N small distinct one-page PDFs in a temporary folder. Each run has a fresh emulator
with `--pending-ms 0 --processing-ms 500` (no --max-open-tasks or --rate-limit: it holds every
task) and a fresh output folder; the two contenders alternate, the first one changing each round.
- xargs: `ls | xargs -P 8 -n 1 ocrcloud run -o OUT` (one process, token and task per input).
- batch: `ocrcloud batch --jobs 8 --output OUT INPUTS` (one process, its journal in OUT, on disk).
  It must exit 0 with every input completed in its --report and every result file in OUT.
- ideal: the emulator's processing time x N / 8, as if only 8 tasks were open at once. The
  batch keeps up to 16 x 8 tasks open, so it can beat it.
- peak RSS: ru_maxrss of the batch process (os.wait4 on it), at N and, in the full run, 10 x N;
  also of the rerun (below), which holds every input but sends nothing.
- journal: (a) the same batch command run again on the same output folder, where every input is
  completed: its wall time per input is what a rerun costs (walk, SHA-256, journal lookup, one
  commit of every row) with no request sent; (b) one more batch run (not timed) under
  `strace -f --seccomp-bpf -w -c -e trace=fsync,fdatasync`: the journal's syncs per input and the
  wall time spent in them per input, all on the scheduler's thread (SQLite syncs the WAL at each
  commit; nothing else in the batch syncs), so the time the batch spends on its journal in a real
  run, commits grouped as the scheduler groups them (skipped where strace is missing); (c)
  benches/journal.rs, the synced commits that a batch makes per input (intent, task id, output
  claim, completed) timed alone, one input per commit as when results come in one at a time, and
  8 inputs per commit.
"""
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time

IDEAL_JOBS = 8
PROCESSING_MS = 500
MIB = 1 << 20


def one_page_pdf(text):
    """A small valid PDF showing `text` (the emulator reads its text layer)."""
    content = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET"
    objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        "/Resources << /Font << /F1 5 0 R >> >> >>",
        f"<< /Length {len(content)} >>\nstream\n{content}\nendstream",
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    pdf = "%PDF-1.4\n"
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(pdf))
        pdf += f"{number} 0 obj\n{body}\nendobj\n"
    xref = len(pdf)
    pdf += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n"
    pdf += "".join(f"{offset:010d} 00000 n \n" for offset in offsets)
    pdf += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n"
    return pdf.encode()


def make_inputs(folder, n):
    os.makedirs(folder)
    for i in range(n):
        with open(os.path.join(folder, f"doc-{i:05d}.pdf"), "wb") as f:
            f.write(one_page_pdf(f"Invoice {i} of the batch benchmark"))


def timed(argv, env, cwd=None, shell=False):
    """Runs a command to its end; answers (seconds, peak RSS bytes from wait4). Fails the
    benchmark if it fails."""
    # /dev/null write-only: the CLI takes a read-write /dev/null as stdout for a closed stdout
    # (as subprocess.DEVNULL opens it) and fails.
    with tempfile.TemporaryFile() as errors, open(os.devnull, "wb") as null:
        start = time.perf_counter()
        process = subprocess.Popen(argv, env=env, cwd=cwd, shell=shell, stdout=null, stderr=errors)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode != 0:
            errors.seek(0)
            tail = errors.read()[-4000:].decode(errors="replace")
            raise SystemExit(f"{argv} failed ({process.returncode}):\n{tail}")
    return seconds, usage.ru_maxrss * 1024


def emulator_stats(emulator):
    stats = json.loads(emulator.call("GET", "/_emulator/stats"))
    routes = stats["by_route"]
    return (routes.get("POST /v5.0/ocr/RecognizePdf", 0), routes.get("GET /v5.0/ocr/RecognizePdf", 0))


def check_outputs(out, inputs, n):
    """Every input has its result file in `out` (the results of `doc-i.pdf` are `doc-i.pdf`)."""
    missing = [name for name in sorted(os.listdir(inputs)) if not os.path.isfile(os.path.join(out, name))]
    if missing:
        raise SystemExit(f"the batch left {len(missing)} of {n} inputs without a result, e.g. {missing[:3]}")


def check_report(report, n):
    with open(report) as f:
        states = [json.loads(line)["state"] for line in f]
    done = states.count("completed")
    if len(states) != n or done != n:
        raise SystemExit(f"the batch's report: {done} of {n} inputs completed ({len(states)} lines)")


def run_xargs(start_emulator, env, inputs, out, n):
    emulator = start_emulator()
    try:
        seconds, peak = timed(
            f"ls | xargs -P {IDEAL_JOBS} -n 1 '{env['OCRCLOUD']}' run -o '{out}'",
            dict(env, OCR_BASE_URL=emulator.url), cwd=inputs, shell=True)
        posts, gets = emulator_stats(emulator)
    finally:
        emulator.stop()
    results = len(os.listdir(out))
    if results != n:
        raise SystemExit(f"xargs ocrcloud run: {results} results for {n} inputs")
    return {"seconds": seconds, "peak": peak, "posts": posts, "gets": gets}


def run_batch(start_emulator, env, inputs, out, n):
    """The batch on `inputs` into `out`, then the same command again (every input skipped)."""
    emulator = start_emulator()
    report = os.path.join(os.path.dirname(out), os.path.basename(out) + ".report")
    argv = [env["OCRCLOUD"], "batch", "--jobs", str(IDEAL_JOBS), "--report", report, "--output", out, inputs]
    try:
        run_env = dict(env, OCR_BASE_URL=emulator.url)
        seconds, peak = timed(argv, run_env)
        posts, gets = emulator_stats(emulator)
        check_report(report, n)
        check_outputs(out, inputs, n)
        again, again_peak = timed(argv, run_env)
        if emulator_stats(emulator)[0] != posts:
            raise SystemExit("the rerun of a completed batch submitted again")
    finally:
        emulator.stop()
        if os.path.exists(report):
            os.unlink(report)
    return {"seconds": seconds, "peak": peak, "posts": posts, "gets": gets, "rerun": again,
            "rerun_peak": again_peak}


def run_syncs(start_emulator, env, inputs, out, n):
    """The batch under strace counting its syncs: answers (syncs, seconds in them), or None
    without strace."""
    if not shutil.which("strace"):
        return None
    emulator = start_emulator()
    fd, summary = tempfile.mkstemp(prefix="ocrcloud-bench-strace-")
    os.close(fd)
    try:
        timed(["strace", "-f", "--seccomp-bpf", "-w", "-c", "-e", "trace=fsync,fdatasync", "-o", summary,
               env["OCRCLOUD"], "batch", "--jobs", str(IDEAL_JOBS), "--output", out, inputs],
              dict(env, OCR_BASE_URL=emulator.url))
        check_outputs(out, inputs, n)
        calls, seconds = 0, 0.0
        with open(summary) as f:
            for line in f:
                fields = line.split()
                if fields and fields[-1] in ("fsync", "fdatasync"):
                    seconds += float(fields[1])
                    calls += int(fields[3])
        return calls, seconds
    finally:
        emulator.stop()
        os.unlink(summary)


def journal_pattern(root, no_build, inputs, smoke):
    """benches/journal.rs: answers {inputs per commit: ms per input}."""
    if smoke:
        return {}
    argv = ["cargo", "bench", "--quiet", "-p", "ocrcloud", "--bench", "journal", "--"]
    if no_build:
        argv.insert(2, "--offline")
    folder = tempfile.mkdtemp(prefix="ocrcloud-bench-journal-")
    try:
        process = subprocess.run(argv + [folder, str(inputs)], cwd=root, capture_output=True, check=True)
    finally:
        shutil.rmtree(folder)
    figures = {}
    for line in process.stdout.decode().splitlines():
        fields = dict(part.split("=") for part in line.split())
        figures[int(fields["per_commit"])] = float(fields["ms_per_input"])
    return figures


def bench_batch(args, root, target, emulator_class):
    """The batch table (lines of Markdown). `args.batch_inputs` inputs, `args.batch_rounds`
    rounds; the large run with `args.batch_large` inputs unless it is 0."""
    n = args.batch_inputs
    env = dict(os.environ, OCR_CLIENT_ID="demo", OCR_CLIENT_SECRET="demo-secret",
               OCRCLOUD=os.path.join(target, "ocrcloud"))
    emulator_binary = os.path.join(target, "ocrcloud-emulator")

    def start_emulator():
        return emulator_class(emulator_binary, "--pending-ms", "0", "--processing-ms", str(PROCESSING_MS))

    work = tempfile.mkdtemp(prefix="ocrcloud-bench-batch-")
    try:
        inputs = os.path.join(work, "inputs")
        make_inputs(inputs, n)
        xargs, batch = [], []
        for round_ in range(args.batch_rounds):
            contenders = [("xargs", xargs), ("batch", batch)]
            for name, runs in contenders if round_ % 2 == 0 else contenders[::-1]:
                out = os.path.join(work, f"out-{name}-{round_}")
                if name == "xargs":
                    runs.append(run_xargs(start_emulator, env, inputs, out, n))
                else:
                    runs.append(run_batch(start_emulator, env, inputs, out, n))
                shutil.rmtree(out)
        syncs = None
        if not args.smoke:
            out = os.path.join(work, "out-strace")
            syncs = run_syncs(start_emulator, env, inputs, out, n)
            shutil.rmtree(out)
        large = None
        if args.batch_large:
            shutil.rmtree(inputs)
            make_inputs(inputs, args.batch_large)
            out = os.path.join(work, "out-large")
            large = run_batch(start_emulator, env, inputs, out, args.batch_large)
    finally:
        shutil.rmtree(work)
    per_commit = journal_pattern(root, args.no_build, n, args.smoke)
    return table(args, n, xargs, batch, large, syncs, per_commit)


def table(args, n, xargs, batch, large, syncs, per_commit):
    def med(runs, key):
        return statistics.median(r[key] for r in runs)

    def spread(values, digits):
        text = f"{statistics.median(values):.{digits}f}"
        return text if len(values) == 1 else f"{text} ({min(values):.{digits}f}-{max(values):.{digits}f})"

    ideal = PROCESSING_MS / 1000 * n / IDEAL_JOBS
    rounds = len(batch)
    speedups = [x["seconds"] / b["seconds"] for x, b in zip(xargs, batch)]
    lines = [
        f"Batch: {n} small distinct PDFs (one page, ~{len(one_page_pdf('Invoice 0 of the batch benchmark'))} "
        f"bytes) against a fresh emulator per run with `--pending-ms 0 --processing-ms {PROCESSING_MS}`, "
        f"{rounds} interleaved round{'s' if rounds > 1 else ''}, medians (min-max); the journal on disk in "
        f"the output folder; the ideal is {PROCESSING_MS} ms x {n} / {IDEAL_JOBS}, as if only "
        f"{IDEAL_JOBS} tasks were open at once (the batch keeps up to 16 x {IDEAL_JOBS})",
        "",
        "| contender | wall s | x the ideal | batch faster by | peak RSS MiB | POSTs | GETs |",
        "|---|---|---|---|---|---|---|",
        f"| ideal ({PROCESSING_MS} ms x {n} / {IDEAL_JOBS}) | {ideal:.1f} | 1.00 | - | - | - | - |",
        f"| `ls \\| xargs -P {IDEAL_JOBS} -n 1 ocrcloud run -o OUT` | {spread([r['seconds'] for r in xargs], 1)} | "
        f"{med(xargs, 'seconds') / ideal:.2f} | - | {med(xargs, 'peak') / MIB:.1f} (largest process) | "
        f"{med(xargs, 'posts'):.0f} | {med(xargs, 'gets'):.0f} |",
        f"| `ocrcloud batch --jobs {IDEAL_JOBS}` | {spread([r['seconds'] for r in batch], 1)} | "
        f"{spread([r['seconds'] / ideal for r in batch], 2)} | {spread(speedups, 2)}x | "
        f"{med(batch, 'peak') / MIB:.1f} | {med(batch, 'posts'):.0f} | {med(batch, 'gets'):.0f} |",
    ]
    if large:
        big = args.batch_large
        big_ideal = PROCESSING_MS / 1000 * big / IDEAL_JOBS
        lines.append(
            f"| `ocrcloud batch --jobs {IDEAL_JOBS}`, {big} inputs (1 run) | {large['seconds']:.1f} | "
            f"{large['seconds'] / big_ideal:.2f} | - | {large['peak'] / MIB:.1f} | {large['posts']} | "
            f"{large['gets']} |")
    lines += [
        "",
        "| batch figure | value |",
        "|---|---|",
        f"| peak RSS at {n} inputs | {med(batch, 'peak') / MIB:.1f} MiB |",
    ]
    if large:
        lines += [
            f"| peak RSS at {args.batch_large} inputs | {large['peak'] / MIB:.1f} MiB |",
            f"| ratio {args.batch_large} / {n} | {large['peak'] / med(batch, 'peak'):.2f} |",
            f"| peak RSS per input from {n} to {args.batch_large} inputs | "
            f"{(large['peak'] - med(batch, 'peak')) / (args.batch_large - n) / 1024:.2f} KiB |",
            f"| peak RSS of the rerun (all skipped) at {n} / {args.batch_large} inputs | "
            f"{med(batch, 'rerun_peak') / MIB:.1f} / {large['rerun_peak'] / MIB:.1f} MiB |",
        ]
    lines.append(
        f"| rerun of the completed batch (every input skipped, no request), per input | "
        f"{spread([r['rerun'] / n * 1000 for r in batch], 3)} ms at {n} inputs"
        + (f", {large['rerun'] / args.batch_large * 1000:.3f} ms at {args.batch_large}" if large else "")
        + " |")
    if syncs:
        calls, seconds = syncs
        lines.append(
            f"| journal in a batch run (under strace, 1 run): syncs per input; wall time in them per input "
            f"(on the scheduler's thread) | {calls / n:.2f}; {seconds / n * 1000:.2f} ms "
            f"({seconds:.1f} s of syncs in all) |")
    elif not args.smoke:
        lines.append("| journal in a batch run: syncs per input | not measured: no strace |")
    for size, ms in sorted(per_commit.items()):
        lines.append(
            f"| journal alone (benches/journal.rs): the synced commits of one input (intent, task id, "
            f"claim, completed), {size} input{'s' if size > 1 else ''} per commit, per input | {ms:.3f} ms |")
    return lines
