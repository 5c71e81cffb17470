#!/usr/bin/env bash
# The quick-start demo: builds the library, the emulator and examples/demo.c, starts the emulator,
# submits examples/sample.pdf, polls with progress and writes the results to demo-output/.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release --workspace --quiet
mkdir -p demo-output
gcc -std=c11 -Wall -Wextra -Werror -Iinclude examples/demo.c -o target/release/demo \
  -Ltarget/release -locrcloud -Wl,-rpath,"$PWD/target/release"

pidfile=$(mktemp)
url=$(scripts/start-emulator.sh target/release/ocrcloud-emulator "$pidfile")
trap 'kill "$(cat "$pidfile")" 2>/dev/null; rm -f "$pidfile"' EXIT
echo "emulator running at $url"
target/release/demo "$url" examples/sample.pdf demo-output
