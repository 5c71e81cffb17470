"""Our Python binding's way to get a result: Client.fetch, then a view of the result's bytes (no
copy; valid while the result is open).

Usage: binding_fetch.py BASE_URL TOKEN TASK_ID (OCRCLOUD_LIBRARY_DIR names the library's folder);
prints the decoded size of the first result and the time of the fetch and view alone, as
bench_client does for the C client."""
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bindings", "python"))
import ocrcloud  # noqa: E402

base_url, token, task_id = sys.argv[1:4]
with ocrcloud.Client(base_url, token, max_response_bytes=4 << 30) as client:
    start = time.monotonic()
    with client.fetch(task_id) as result:
        data = result.files[0].data
        fetch_s = time.monotonic() - start
        print(f"{len(data)} fetch_s={fetch_s:.6f}")
