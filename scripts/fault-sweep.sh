#!/usr/bin/env bash
# The whole fault loop of tests/fault_loop.rs: every call, every variant, every I/O step N and
# every fault that fits that step (the test command runs a sample of the read steps). Builds the
# emulator first; extra arguments go to the test runner (e.g. a test name filter).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build -p ocrcloud-emulator --quiet
export OCRCLOUD_FAULTS_FULL=1
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run -p ocrcloud --test fault_loop --success-output final "$@"
else
  cargo test -p ocrcloud --test fault_loop "$@" -- --nocapture
fi
