"""Our Python binding's way to submit a file: Client.submit_file.

Usage: binding_submit.py BASE_URL TOKEN FILE (OCRCLOUD_LIBRARY_DIR names the library's folder);
prints the task id."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bindings", "python"))
import ocrcloud  # noqa: E402

base_url, token, path = sys.argv[1:4]
with ocrcloud.Client(base_url, token) as client:
    print("task=" + client.submit_file(path))
