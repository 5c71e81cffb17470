#!/usr/bin/env bash
# Starts the emulator in the background on a free loopback port and prints its URL.
# Usage: URL=$(scripts/start-emulator.sh BINARY PIDFILE [FLAGS...]); kill "$(cat PIDFILE)" later.
# FLAGS go to the emulator as they are. With `--tls-self-signed CA_FILE` it serves HTTPS, the URL
# printed is `https://127.0.0.1:PORT`, and CA_FILE holds its CA's PEM (written before the URL is
# printed; pass it to ocr_client_set_ca_file or `curl --cacert`). An emulator that exits before
# printing its URL makes this script fail (its message is on stderr).
set -euo pipefail
binary=$1 pidfile=$2
shift 2
fifo=$(mktemp -u)
mkfifo "$fifo"
"$binary" --listen 127.0.0.1:0 "$@" >"$fifo" &
echo $! >"$pidfile"
first_line=
read -r first_line <"$fifo" || true
rm -f "$fifo"
case $first_line in
  "listening on "*) echo "${first_line#listening on }" ;;
  *) echo "start-emulator.sh: $binary $* did not start" >&2; exit 1 ;;
esac
