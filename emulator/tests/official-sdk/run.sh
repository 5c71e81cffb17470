#!/usr/bin/env bash
# Installs the official Python SDK into a virtual environment (cached in target/) and runs
# test_official_sdk.py against a fresh emulator. Usage: run.sh EMULATOR_BINARY
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
binary=$1

venv="$root/target/official-sdk-venv"
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import aspose_ocr_cloud" 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check aspose-ocr-cloud
fi

pidfile=$(mktemp)
url=$("$root/scripts/start-emulator.sh" "$binary" "$pidfile" --pending-ms 100 --processing-ms 100)
trap 'kill "$(cat "$pidfile")" 2>/dev/null; rm -f "$pidfile"' EXIT
"$venv/bin/python" "$here/test_official_sdk.py" "$url" "$root/examples/sample.pdf"
