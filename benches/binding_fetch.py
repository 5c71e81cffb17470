"""Our Python binding's way to get a result: Client.fetch, then a view of the result's bytes (no
copy; valid while the result is open).

Usage: binding_fetch.py BASE_URL TOKEN TASK_ID (OCRCLOUD_LIBRARY_DIR names the library's folder);
prints the decoded size of the first result."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bindings", "python"))
import ocrcloud  # noqa: E402

base_url, token, task_id = sys.argv[1:4]
with ocrcloud.Client(base_url, token, max_response_bytes=4 << 30) as client:
    with client.fetch(task_id) as result:
        print(len(result.files[0].data))
