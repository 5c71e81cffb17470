"""The Python binding's side of the many-tasks rows of benches/many_tasks.py: the jobs of
bench_many.c (see there) through Client.poll_many and Client.fetch, with the same line of figures
about this process alone (CPU time from getrusage, resident sets from /proc/self/status).

Usage: binding_many.py poll_many BASE_URL TOKEN IDS_FILE FIRST_MS FACTOR MAX_MS
       binding_many.py one_by_one BASE_URL TOKEN IDS_FILE PENDING_ID REQUESTS SECONDS
(OCRCLOUD_LIBRARY_DIR names the library's folder)."""
import os
import resource
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bindings", "python"))
import ocrcloud  # noqa: E402


def cpu_s():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def status_kib(field):
    """A field of /proc/self/status in KiB: VmRSS now, VmHWM the peak (getrusage's ru_maxrss
    starts at the parent's resident set after a vfork and exec)."""
    with open("/proc/self/status") as f:
        for line in f:
            name, _, value = line.partition(":")
            if name == field:
                return int(value.split()[0])
    raise SystemExit(f"no {field} in /proc/self/status")


def report(tasks, cpu, rss_before, seconds):
    return (f"tasks={tasks} cpu_s={cpu:.4f} peak_rss_kib={status_kib('VmHWM')} rss_before_kib={rss_before} "
            f"seconds={seconds:.3f}")


def main():
    mode, base_url, token, ids_file = sys.argv[1:5]
    with open(ids_file) as f:
        ids = f.read().split()
    with ocrcloud.Client(base_url, token) as client:
        rss_before, cpu, started = status_kib("VmRSS"), cpu_s(), time.monotonic()
        if mode == "poll_many":
            first_ms, factor, max_ms = int(sys.argv[5]), float(sys.argv[6]), int(sys.argv[7])
            results = client.poll_many(ids, interval_ms=first_ms, backoff=(factor, max_ms))
            failed = [r for r in results if isinstance(r, ocrcloud.OcrError)]
            if failed:
                raise SystemExit(f"{len(failed)} tasks did not complete; the first: {failed[0]}")
        elif mode == "one_by_one":
            pending_id, requests, spread = sys.argv[5], int(sys.argv[6]), float(sys.argv[7])

            def pace(k):
                if spread > 0:
                    time.sleep(max(0.0, started + spread * k / requests - time.monotonic()))

            for k in range(requests - len(ids)):
                pace(k)
                client.fetch(pending_id).close()
            results = []
            for k, task_id in enumerate(ids, start=requests - len(ids)):
                pace(k)
                results.append(client.fetch(task_id))
            if any(r.status != ocrcloud.TaskStatus.COMPLETED for r in results):
                raise SystemExit("a task is not Completed")
        else:
            raise SystemExit(f"unknown mode {mode!r}")
        seconds = time.monotonic() - started
        cpu = cpu_s() - cpu
        line = report(len(ids), cpu, rss_before, seconds)
        if mode == "poll_many":
            line += f" started={started:.6f}"
        print(line)
        for result in results:
            result.close()


if __name__ == "__main__":
    main()
