#!/usr/bin/env bash
# Builds the C++ test program and examples/cpp/demo.cpp with -Werror, checks that the header
# wraps every function of ocrcloud.h, runs the demo, the tests natively and the tests under
# valgrind against two fresh emulators: plain HTTP, and HTTPS with a CA of its own
# (--tls-self-signed).
# Usage: bindings/cpp/test.sh [LIB_DIR] [EMULATOR_BIN]
# (defaults: target/debug and target/debug/ocrcloud-emulator). Ends with "N passed, M failed".
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
lib_dir=$(cd "${1:-$root/target/debug}" && pwd)
emulator=${2:-$root/target/debug/ocrcloud-emulator}

work=$(mktemp -d)
# A PostgreSQL of its own for the shared batch's test (natively; not under valgrind). Its folder
# is outside $work, which the server's user cannot enter.
pg_dir=$(mktemp -u /tmp/ocrcloud-pg-cpp-XXXXXX)
trap 'for p in "$work"/*.pid; do [ -s "$p" ] && kill "$(cat "$p")" 2>/dev/null; done; rm -rf "$work"; "$root/scripts/postgres.sh" remove "$pg_dir"' EXIT
pg_url=$("$root/scripts/postgres.sh" start "$pg_dir" $$)
url=$("$root/scripts/start-emulator.sh" "$emulator" "$work/emulator.pid" --pending-ms 100 --processing-ms 100)
tls_url=$("$root/scripts/start-emulator.sh" "$emulator" "$work/tls-emulator.pid" --pending-ms 100 \
  --processing-ms 100 --tls-self-signed "$work/ca.pem")
# Under valgrind a submission and the first poll can take longer than 200 ms on a busy machine,
# and the tests that need a task still Pending would see it Completed: longer phases there.
slow_url=$("$root/scripts/start-emulator.sh" "$emulator" "$work/slow-emulator.pid" --pending-ms 1000 --processing-ms 1000)

cxx=(g++ -std=c++17 -g -Wall -Wextra -Werror -pedantic -I"$root/include")
link=(-L"$lib_dir" -Wl,-rpath,"$lib_dir" -locrcloud -lpthread)
if ! "${cxx[@]}" "$here/test.cpp" -o "$work/test" "${link[@]}" ||
  ! "${cxx[@]}" "$root/examples/cpp/demo.cpp" -o "$work/demo" "${link[@]}"; then
  echo "FAIL: compiling"
  echo "0 passed, 1 failed"
  exit 1
fi

passed=0 failed=0

# Every function of ocrcloud.h is wrapped, except those that a wrapped one supersedes
# (ocr_fetch_result and ocr_poll_until_done: the _for variants) and ocr_task_status_name, which
# C++ calls directly.
missing=$(grep -oE '^[a-z][a-z_0-9 ]*\**[ ]*\**ocr_[a-z_0-9]+\(' "$root/include/ocrcloud.h" |
  sed -E 's/.*(ocr_[a-z_0-9]+)\($/\1/' | sort -u |
  grep -vxE 'ocr_fetch_result|ocr_poll_until_done|ocr_task_status_name' |
  while read -r function; do
    grep -qw "$function" "$root/include/ocrcloud.hpp" || echo "$function"
  done)
if [ -z "$missing" ]; then
  passed=$((passed + 1))
else
  failed=$((failed + 1))
  echo "FAIL: include/ocrcloud.hpp does not wrap:" $missing
fi

# The demo: without its three arguments its usage (exit 2, no default path); then a progress line
# per poll, the text printed, both results saved.
status=0
"$work/demo" "$url" >"$work/usage.log" 2>&1 || status=$?
if [ "$status" -ne 2 ] || ! grep -q " BASE_URL PDF OUTPUT_DIR$" "$work/usage.log"; then
  echo "FAIL: the demo's usage (status $status)" && cat "$work/usage.log"
  failed=$((failed + 1))
fi
mkdir "$work/demo-output"
if "$work/demo" "$url" "$root/examples/sample.pdf" "$work/demo-output" >"$work/demo.log" 2>&1 &&
  grep -q "poll  1: task " "$work/demo.log" && grep -q "is Completed" "$work/demo.log" &&
  grep -q "Hello from ocrcloud!" "$work/demo.log" &&
  [ "$(ls "$work/demo-output" | grep -c '\.pdf$\|\.txt$')" -eq 2 ] &&
  cmp -s "$root/examples/sample.pdf" "$work/demo-output"/*.pdf; then
  passed=$((passed + 1))
else
  failed=$((failed + 1))
  echo "FAIL: the demo" && cat "$work/demo.log"
fi

# Runs the test program against the emulator at URL (behind an optional wrapper) and adds its
# "N passed, M failed".
run_tests() {
  local name=$1 url=$2 status=0
  shift 2
  mkdir "$work/scratch-$name"
  echo "== $name"
  "$@" "$work/test" "$url" "$root/examples/sample.pdf" "$work/scratch-$name" "$tls_url" "$work/ca.pem" | tee "$work/$name.log" ||
    status=$?
  local summary
  summary=$(tail -n 1 "$work/$name.log")
  if [[ $summary =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
    passed=$((passed + BASH_REMATCH[1]))
    failed=$((failed + BASH_REMATCH[2]))
  fi
  if [ "$status" -ne 0 ] && [[ ! $summary =~ [1-9][0-9]*\ failed$ ]]; then
    echo "FAIL: $name exited with status $status"
    failed=$((failed + 1))
  fi
}

run_tests native "$url" env OCR_TEST_PG_URL="$pg_url"
run_tests valgrind "$slow_url" env OCR_TEST_UNDER_VALGRIND=1 valgrind --quiet --error-exitcode=99 \
  --leak-check=full --show-leak-kinds=definite,indirect,possible \
  --errors-for-leak-kinds=definite,indirect,possible --suppressions="$root/tests/c/valgrind.supp" \
  --suppressions="$here/valgrind-tls.supp" --num-callers=40

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
