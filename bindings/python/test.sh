#!/usr/bin/env bash
# Runs the Python binding's tests against two fresh emulators: plain HTTP, and HTTPS with a CA
# of its own (--tls-self-signed).
# Usage: bindings/python/test.sh [LIB_DIR] [EMULATOR_BIN]
# (defaults: target/debug and target/debug/ocrcloud-emulator). Ends with "N passed, M failed".
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
lib_dir=$(cd "${1:-$root/target/debug}" && pwd)
emulator=${2:-$root/target/debug/ocrcloud-emulator}

work=$(mktemp -d) log=$(mktemp)
trap 'for p in "$work"/*.pid; do [ -s "$p" ] && kill "$(cat "$p")" 2>/dev/null; done; rm -rf "$work" "$log"' EXIT
url=$("$root/scripts/start-emulator.sh" "$emulator" "$work/emulator.pid" --pending-ms 100 --processing-ms 100)
tls_url=$("$root/scripts/start-emulator.sh" "$emulator" "$work/tls-emulator.pid" --pending-ms 100 \
  --processing-ms 100 --tls-self-signed "$work/ca.pem")

cd "$root"
status=0
OCRCLOUD_LIBRARY_DIR="$lib_dir" PYTHONPATH="$here" python3 "$here/test_ocrcloud.py" "$url" "$tls_url" "$work/ca.pem" 2>&1 |
  tee "$log" || status=$?
# A crash or an import error ends the run before the tests' own summary.
if ! tail -n 1 "$log" | grep -Eq '^[0-9]+ passed, [0-9]+ failed$'; then
  echo "the tests did not finish (status $status)"
  echo "0 passed, 1 failed"
  exit 1
fi
exit "$status"
