"""Submit a PDF, poll with a progress line per attempt, save every result, print the text.

    python3 sample.py BASE_URL PDF OUTPUT_DIR

The results are saved into OUTPUT_DIR (made if missing); without arguments it prints its usage
and exits with 2. Credentials come from OCR_CLIENT_ID / OCR_CLIENT_SECRET (the emulator's: demo /
demo-secret).
"""
import os
import sys

import ocrcloud

if len(sys.argv) != 4:
    print("usage: python3 sample.py BASE_URL PDF OUTPUT_DIR", file=sys.stderr)
    sys.exit(2)
base_url, pdf, output_dir = sys.argv[1:]
client_id = os.environ.get("OCR_CLIENT_ID", "demo")
client_secret = os.environ.get("OCR_CLIENT_SECRET", "demo-secret")
extensions = {"Text": "txt", "Pdf": "pdf", "Hocr": "html", "JSON": "json"}


def progress(task_id, status, attempt):
    print(f"  poll {attempt:2}: task {task_id} is {status}", flush=True)


os.makedirs(output_dir, exist_ok=True)
with ocrcloud.Client.with_credentials(base_url, client_id, client_secret) as client:
    task_id = client.submit_file(pdf, "RecognizePdf",
                                 {"language": "English", "resultType": "TextAndPdf"})
    print(f"submitted {pdf} as task {task_id}")
    with client.poll(task_id, interval_ms=250, backoff=(1.5, 2000), timeout_ms=60000,
                     progress=progress) as result:
        for index, file in enumerate(result.files):
            path = os.path.join(output_dir, f"{task_id}.{extensions.get(file.type, 'bin')}")
            result.save(index, path)
            print(f"saved {file.type} result ({len(file.data)} bytes) to {path}")
            if file.type == "Text":
                print(f"---- recognized text ----\n{str(file.data, 'utf-8')}" + "-" * 25)
