#!/usr/bin/env bash
# The Windows x64 build (scripts/build-windows.sh) tested under Wine against the Linux emulator on
# 127.0.0.1: tests/c/test_core.c over HTTP and over HTTPS (ocr_client_set_ca_file), with its
# non-ASCII and not-UTF-8 paths; the CLI's `run` (a Japanese file name, HTTP, HTTPS with
# SSL_CERT_FILE, an untrusted certificate, Ctrl-C) and a `batch` that a second batch finds
# locked, that Ctrl-C ends with 130 and that a rerun finishes from its journal; a read-only output
# folder.
# Usage: scripts/test-windows.sh [EMULATOR]   (default: target/debug/ocrcloud-emulator)
# Installs wine64 when missing. Wine's prefix is target/wine-prefix, made once (wineboot is
# slow) and reused. Leaves no emulator, Wine process or mount behind.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
started=$(date +%s)

emulator=${1:-target/debug/ocrcloud-emulator}
[ -x "$emulator" ] || cargo build --quiet -p ocrcloud-emulator
emulator=$(realpath "$emulator")

scripts/build-windows.sh
scripts/install-deps.sh wine64
built=$(date +%s)

release=$root/target/x86_64-pc-windows-gnu/release
work=$root/target/x86_64-pc-windows-gnu/wine-tests
wine=/usr/lib/wine/wine64
wineserver=/usr/lib/wine/wineserver
export WINEPREFIX=$root/target/wine-prefix WINEDEBUG=-all LC_ALL=C.UTF-8
# The test-only ProcessPrng stand-in beside the programs (native first); no Mono or Gecko.
export WINEDLLOVERRIDES="bcryptprimitives=n,b;mscoree=;mshtml="

emulator_pids=()
pgdir=
cleanup() {
  for pid in "${emulator_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  [ -z "$pgdir" ] || "$root/scripts/postgres.sh" remove "$pgdir" || true
  if mountpoint -q "$work/read-only" 2>/dev/null; then umount "$work/read-only"; fi
  "$wineserver" -k 2>/dev/null || true
}
trap cleanup EXIT

fail() { echo "test-windows.sh: FAIL: $*" >&2; exit 1; }
pass() { echo "ok - $*"; }

# Starts an emulator with FLAGS; prints its URL.
start_emulator() {
  local pidfile
  pidfile=$(mktemp -p "$work" emulator.XXXX)
  "$root/scripts/start-emulator.sh" "$emulator" "$pidfile" "$@"
}
# The POSTs of RecognizePdf an emulator has answered.
posts() {
  curl -sf "$1/_emulator/stats" --cacert "$work/ca.pem" |
    jq '[.by_route | to_entries[] | select(.key | test("^POST .*recognizepdf$"; "i")) | .value] | add // 0'
}

rm -rf "$work"
mkdir -p "$work"
cc=x86_64-w64-mingw32-gcc
$cc -shared -O1 -Wall -Wextra -Werror -o "$work/bcryptprimitives.dll" tests/windows/process_prng.c -ladvapi32
$cc -std=c11 -O1 -Wall -Wextra -Werror -pedantic -D__USE_MINGW_ANSI_STDIO=1 -Iinclude \
  tests/c/test_core.c "$release/libocrcloud.dll.a" -static -lpthread -o "$work/test_core.exe"
cp "$release/ocrcloud.dll" "$release/ocrcloud.exe" examples/sample.pdf "$work/"
cd "$work"
[ -f "$WINEPREFIX/system.reg" ] || { "$wine" wineboot --init >/dev/null 2>&1; "$wineserver" -w; }

# The emulators: plain HTTP, and HTTPS with a CA of its own (ca.pem).
http=$(start_emulator --pending-ms 300 --processing-ms 300)
emulator_pids+=("$(cat "$work"/emulator.*)")
https=$(start_emulator --pending-ms 300 --processing-ms 300 --tls-self-signed "$work/ca.pem")
emulator_pids=($(cat "$work"/emulator.*))

# --- the C test program, over HTTP and HTTPS --------------------------------------------------
run_test_core() { # NAME URL [CA_FILE]
  mkdir "scratch-$1"
  local output
  output=$(OCR_TEST_CANCEL_MS=3000 OCR_TEST_CA_FILE=${3:-} "$wine" test_core.exe "$2" sample.pdf "scratch-$1" 2>&1) ||
    fail "test_core.exe over $1: $output"
  output=${output//$'\r'/}
  [[ $output == *" passed, 0 failed" ]] || fail "test_core.exe over $1: $output"
  # The names on disk are the UTF-8 names the program gave, not a code page's guess.
  [ -f "scratch-$1/マニュアル.pdf" ] && [ -f "scratch-$1/naïve résumé.pdf" ] && [ -f "scratch-$1/📄 memo.pdf" ] ||
    fail "non-ASCII names over $1: $(ls -A "scratch-$1")"
  cmp -s sample.pdf "scratch-$1/マニュアル.pdf" || fail "マニュアル.pdf differs from the document"
  ! ls -A "scratch-$1" | grep -q '^\.ocrcloud-' || fail "temporary files left: $(ls -A "scratch-$1")"
  pass "test_core.exe over $1: ${output##*$'\n'}"
}
run_test_core http "$http"
run_test_core https "$https" ca.pem

# --- the CLI: run ------------------------------------------------------------------------------
export OCR_CLIENT_ID=demo OCR_CLIENT_SECRET=demo-secret
cp sample.pdf "マニュアル.pdf"
cli_run() { # NAME URL OUT_DIR [env...]: runs `ocrcloud run マニュアル.pdf`; sets status, out, err
  local name=$1 url=$2 dir=$3
  shift 3
  status=0
  env "$@" "$wine" ocrcloud.exe run "マニュアル.pdf" -o "$dir" --base-url "$url" --interval-ms 50 \
    --settings '{"resultType":"Pdf"}' >"$name.out" 2>"$name.err" || status=$?
  out=$(tr -d '\r' <"$name.out")
  err=$(tr -d '\r' <"$name.err")
}
# Temporary files left by a crash: one of a process that no longer runs (no such pid) is removed
# by the next writer into the folder; one written from another pid namespace (never on Windows)
# is kept for a day.
mkdir "結果-http"
touch "結果-http/.ocrcloud-4000001-1-0-0-x.tmp" "結果-http/.ocrcloud-4000001-1-7-0-x.tmp"
for scheme in http https; do
  url=$http
  [ $scheme = https ] && url=$https
  cli_run "run-$scheme" "$url" "結果-$scheme" SSL_CERT_FILE=ca.pem
  [ "$status" -eq 0 ] || fail "run over $scheme: status $status: $err"
  [[ $err == "submitted マニュアル.pdf as task "* ]] || fail "run over $scheme: stderr $err"
  saved=${out//\\//}
  [[ $saved == "結果-$scheme/"*.pdf ]] && cmp -s sample.pdf "$saved" || fail "run over $scheme printed $out"
  pass "ocrcloud.exe run マニュアル.pdf over $scheme -> $saved"
done
[ "$(ls -A 結果-http | grep '^\.ocrcloud-')" = ".ocrcloud-4000001-1-7-0-x.tmp" ] ||
  fail "leftover temporary files: $(ls -A 結果-http)"
pass "a dead process's temporary file is removed, one of another namespace kept"
cli_run run-untrusted "$https" untrusted
[ "$status" -eq 25 ] && [[ $err == *"is not trusted"* ]] ||
  fail "an untrusted certificate: status $status: $err"
pass "a certificate that the Windows trust store does not hold: status 25, $err"

# --- bad input: a read-only output folder ------------------------------------------------------
mkdir read-only
if [ "$(id -u)" -eq 0 ]; then
  mount -t tmpfs -o ro tmpfs read-only
else
  chmod 0555 read-only
fi
cli_run run-read-only "$http" read-only/out
[ "$status" -eq 23 ] && [[ $err == "ocrcloud: cannot create read-only/out: "* ]] || fail "a read-only output folder: status $status: $err"
pass "run into a read-only folder: status 23, $err"

# --- the CLI: batch, locked, interrupted, rerun ------------------------------------------------
slow=$(start_emulator --pending-ms 0 --processing-ms 15000)
emulator_pids=($(cat "$work"/emulator.*))
mkdir -p batch-in/sub
for name in a b c d "sub/naïve résumé"; do cp sample.pdf "batch-in/$name.pdf"; done
# The output folder's name is long and not ASCII: its resolved path has fewer than 260 UTF-16
# units but more than 260 UTF-8 bytes, and must still show without the `\\?\` prefix.
batch_out=batch-out-$(printf '結果%.0s' $(seq 40))
batch=("$wine" ocrcloud.exe batch --base-url "$slow" --jobs 2 --interval-ms 100 --output "$batch_out" batch-in)
# With job control, so that the background batch does not start with SIGINT ignored.
set -m
"${batch[@]}" 2>batch-1.err &
first=$!
set +m
for _ in $(seq 600); do
  [ "$(posts "$slow")" -ge 1 ] && break
  kill -0 "$first" 2>/dev/null || fail "the batch ended early: $(cat batch-1.err)"
  sleep 0.2
done
[ "$(posts "$slow")" -ge 1 ] || fail "the batch submitted nothing in 2 minutes"
status=0
"${batch[@]}" 2>batch-locked.err || status=$?
[ "$status" -eq 23 ] && grep -q "is in use by another batch" batch-locked.err ||
  fail "a locked journal: status $status: $(cat batch-locked.err)"
! grep -qF '\\?\' batch-locked.err || fail "a verbatim path in a message: $(cat batch-locked.err)"
pass "a second batch on a locked journal: status 23, $(tr -d '\r' <batch-locked.err)"
kill -INT "$first"
status=0
wait "$first" || status=$?
[ "$status" -eq 130 ] || fail "Ctrl-C: status $status: $(cat batch-1.err)"
grep -q "interrupted" batch-1.err || fail "Ctrl-C: $(cat batch-1.err)"
interrupted_posts=$(posts "$slow")
pass "Ctrl-C ends the batch with 130 while its tasks run ($interrupted_posts of 5 submitted)"
status=0
"${batch[@]}" 2>batch-2.err || status=$?
[ "$status" -eq 0 ] || fail "the rerun: status $status: $(cat batch-2.err)"
for name in a b c d "sub/naïve résumé"; do
  ls "$batch_out/$name".* >/dev/null 2>&1 || fail "no result of $name.pdf: $(find "$batch_out")"
done
total=$(posts "$slow")
# Recorded tasks are polled, not sent again: only submissions cut by the Ctrl-C (at most
# --jobs, 2) may be duplicated.
[ "$total" -le 7 ] ||
  fail "the rerun submitted again what the journal held: $interrupted_posts, then $total POSTs for 5 inputs"
! find "$batch_out" -name '.ocrcloud-*' | grep -q . || fail "temporary files left in $batch_out"
pass "the rerun finishes every input from the journal ($total POSTs for 5 inputs)"

# --- the CLI: a batch shared through PostgreSQL ------------------------------------------------
# A private server (scripts/postgres.sh: 127.0.0.1, its own port and folder, removed at the end);
# the password in PGPASSWORD, not in the command line.
pgdir=/tmp/ocrcloud-pg-wine-$$
journal=$("$root/scripts/postgres.sh" start "$pgdir" $$)
password=${journal#postgresql://ocrcloud:}
password=${password%%@*}
journal=${journal/:$password@/@}
mkdir -p shared-in/sub
for name in a b "sub/c"; do cp sample.pdf "shared-in/$name.pdf"; done
shared=(ocrcloud.exe batch --journal "$journal" --batch wine)
status=0
PGPASSWORD=$password "$wine" "${shared[@]}" --base-url "$http" --jobs 2 --interval-ms 100 \
  --output shared-out shared-in >shared.out 2>shared.err || status=$?
[ "$status" -eq 0 ] || fail "a shared batch: status $status: $(cat shared.err)"
for name in a b "sub/c"; do
  ls "shared-out/$name".* >/dev/null 2>&1 || fail "no result of $name.pdf: $(find shared-out)"
done
PGPASSWORD=$password "$wine" "${shared[@]}" --status >shared-status.out 2>>shared.err ||
  fail "--status of a shared batch: $(cat shared.err)"
grep -q "completed"$'\t'"3" shared-status.out || fail "--status: $(cat shared-status.out)"
! grep -qF "$password" shared.out shared.err shared-status.out || fail "the password was shown"
"$root/scripts/postgres.sh" remove "$pgdir"
pgdir=
pass "a batch shared through PostgreSQL finishes 3 inputs; --status counts them"

# --- the CLI: Ctrl-C during `run` ---------------------------------------------------------------
set -m
"$wine" ocrcloud.exe run sample.pdf -o run-interrupted --base-url "$slow" --interval-ms 100 2>run-interrupted.err &
running=$!
set +m
for _ in $(seq 600); do
  grep -q "^submitted" run-interrupted.err && break
  kill -0 "$running" 2>/dev/null || fail "run ended early: $(cat run-interrupted.err)"
  sleep 0.2
done
kill -INT "$running"
status=0
wait "$running" || status=$?
[ "$status" -eq 130 ] && grep -q "cancelled by the caller" run-interrupted.err ||
  fail "Ctrl-C during run: status $status: $(cat run-interrupted.err)"
[ -z "$(ls -A run-interrupted)" ] || fail "Ctrl-C during run left files: $(ls -A run-interrupted)"
pass "Ctrl-C during run: status 130, nothing left in the output folder"

cleanup
trap - EXIT
finished=$(date +%s)
echo "Windows: build $((built - started)) s, Wine tests $((finished - built)) s"
