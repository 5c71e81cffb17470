#!/usr/bin/env bash
# The quick-start demo: builds the library, the emulator and examples/demo.c, starts the emulator
# over HTTPS with a CA it makes (--tls-self-signed), submits examples/sample.pdf trusting that CA
# (ocr_client_set_ca_file, as against a private gateway), polls with progress and writes the
# results to demo-output/.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release --workspace --quiet
mkdir -p demo-output
gcc -std=c11 -Wall -Wextra -Werror -Iinclude examples/demo.c -o target/release/demo \
  -Ltarget/release -locrcloud -Wl,-rpath,"$PWD/target/release"

pidfile=$(mktemp)
ca_file=target/demo-emulator-ca.pem
trap 'kill "$(cat "$pidfile")" 2>/dev/null; rm -f "$pidfile" "$ca_file"' EXIT
url=$(scripts/start-emulator.sh target/release/ocrcloud-emulator "$pidfile" --tls-self-signed "$ca_file")
echo "emulator running at $url (its CA: $ca_file)"
echo "+ target/release/demo $url examples/sample.pdf demo-output $ca_file"
target/release/demo "$url" examples/sample.pdf demo-output "$ca_file"
