#!/usr/bin/env bash
# Runs the benchmark (see benches/bench.py --help); installs nothing but the official SDK's venv.
set -euo pipefail
exec python3 "$(dirname "$0")/bench.py" "$@"
