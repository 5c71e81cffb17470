#!/usr/bin/env bash
# Runs the Python binding's tests with pytest (from PyPI, in the venv target/venv-python that this
# script makes), against the two emulators that conftest.py starts: plain HTTP, and HTTPS with a
# CA of its own.
# Usage: bindings/python/test.sh [LIB_DIR] [EMULATOR_BIN] [PYTEST_ARGS...]
# (defaults: target/debug and target/debug/ocrcloud-emulator). Ends with pytest's summary line.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
lib_dir=$(cd "${1:-$root/target/debug}" && pwd)
emulator=$(realpath "${2:-$root/target/debug/ocrcloud-emulator}")
shift $(($# < 2 ? $# : 2))

# The versions the tests were written with; the venv is made again when they change.
requirements="pytest==9.2.0"
venv=$root/target/venv-python
if [ "$(cat "$venv/requirements" 2>/dev/null)" != "$requirements" ]; then
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check $requirements
  echo "$requirements" >"$venv/requirements"
fi

cd "$root"
exec "$venv/bin/python" -m pytest bindings/python --library-dir "$lib_dir" --emulator "$emulator" "$@"
