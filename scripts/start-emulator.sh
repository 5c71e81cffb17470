#!/usr/bin/env bash
# Starts the emulator in the background on a free loopback port and prints its URL.
# Usage: URL=$(scripts/start-emulator.sh BINARY PIDFILE [FLAGS...]); kill "$(cat PIDFILE)" later.
set -euo pipefail
binary=$1 pidfile=$2
shift 2
fifo=$(mktemp -u)
mkfifo "$fifo"
"$binary" --listen 127.0.0.1:0 "$@" >"$fifo" &
echo $! >"$pidfile"
read -r first_line <"$fifo"
rm -f "$fifo"
echo "${first_line#listening on }"
