"""The official SDK's way to get a result: get_recognize_pdf, then base64.b64decode.

Usage: sdk_fetch.py BASE_URL TOKEN TASK_ID; prints the decoded size of the first result."""
import base64
import sys

import aspose_ocr_cloud
from aspose_ocr_cloud.api.recognize_pdf_api import RecognizePdfApi

base_url, token, task_id = sys.argv[1:4]
config = aspose_ocr_cloud.Configuration(host=base_url, access_token=token)
with aspose_ocr_cloud.ApiClient(config) as client:
    response = RecognizePdfApi(client).get_recognize_pdf(id=task_id)
    data = base64.b64decode(response.results[0].data)
print(len(data))
