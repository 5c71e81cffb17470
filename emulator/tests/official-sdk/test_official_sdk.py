"""The official Python SDK (PyPI aspose-ocr-cloud) against the emulator: fidelity to a real client.

Usage: python test_official_sdk.py BASE_URL SAMPLE_PDF
Gets a token from /connect/token, submits the PDF with post_recognize_pdf, polls
get_recognize_pdf until Completed and checks that the Pdf result is the document byte for byte.
Prints "N passed, M failed" and exits non-zero on any failure.
"""
import base64
import json
import sys
import time
import urllib.parse
import urllib.request

import aspose_ocr_cloud
from aspose_ocr_cloud.api.recognize_pdf_api import RecognizePdfApi
from aspose_ocr_cloud.models.dsr_confidence import DsrConfidence
from aspose_ocr_cloud.models.dsr_mode import DsrMode
from aspose_ocr_cloud.models.language import Language
from aspose_ocr_cloud.models.ocr_recognize_pdf_body import OCRRecognizePdfBody
from aspose_ocr_cloud.models.ocr_settings_recognize_pdf import OCRSettingsRecognizePdf
from aspose_ocr_cloud.models.result_type import ResultType

passed = failed = 0


def check(condition, what):
    global passed, failed
    if condition:
        passed += 1
    else:
        failed += 1
        print(f"FAIL: {what}", file=sys.stderr)


def token(base_url):
    form = urllib.parse.urlencode(
        {"grant_type": "client_credentials", "client_id": "demo", "client_secret": "demo-secret"}
    ).encode()
    with urllib.request.urlopen(f"{base_url}/connect/token", data=form, timeout=10) as answer:
        return json.load(answer)["access_token"]


def main(base_url, pdf_path):
    with open(pdf_path, "rb") as f:
        document = f.read()
    config = aspose_ocr_cloud.Configuration(host=base_url, access_token=token(base_url))
    with aspose_ocr_cloud.ApiClient(config) as api_client:
        api = RecognizePdfApi(api_client)
        body = OCRRecognizePdfBody(
            image=base64.b64encode(document).decode(),
            settings=OCRSettingsRecognizePdf(
                language=Language("English"),
                makeSkewCorrect=True,
                makeBinarization=False,
                makeSpellCheck=False,
                makeContrastCorrection=False,
                makeUpsampling=False,
                dsrMode=DsrMode("Regions"),
                dsrConfidence=DsrConfidence("Default"),
                resultType=ResultType("TextAndPdf"),
            ),
        )
        task_id = api.post_recognize_pdf(body)
        check(isinstance(task_id, str) and len(task_id) == 36, f"a GUID task id, got {task_id!r}")

        seen = []
        for _ in range(100):
            response = api.get_recognize_pdf(id=task_id)
            seen.append(response.task_status.value)
            if response.task_status == "Completed":
                break
            time.sleep(0.1)
        check(seen[0] in ("Pending", "Processing"), f"first status {seen[0]}")
        check(seen[-1] == "Completed", f"statuses {seen}")
        check(response.response_status_code == "Ok", f"response status {response.response_status_code}")
        check(response.id == task_id, "the id is echoed")
        kinds = [r.type for r in response.results]
        check(kinds == ["Text", "Pdf"], f"result types {kinds}")
        pdf = base64.b64decode(str(response.results[1].data))
        check(pdf == document, "the Pdf result is the document byte for byte")
        text = base64.b64decode(str(response.results[0].data)).decode("utf-8")
        check("Hello from ocrcloud!" in text, f"text {text!r}")

        missing = api.get_recognize_pdf(id="no-such-task")
        check(missing.task_status == "NotExist", f"unknown id: {missing.task_status}")

        api.cancel_recognize_pdf(id=task_id)
        check(api.get_recognize_pdf(id=task_id).task_status == "NotExist", "deleted task")

    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
