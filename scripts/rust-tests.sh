#!/usr/bin/env bash
# Every Rust test of the workspace, as `cargo test --workspace --no-fail-fast` runs them (the
# unit tests, each integration test binary, the documentation tests), but several test
# binaries at once: most of them wait on emulators, PostgreSQL, child processes and timers
# rather than use the CPU (tests/fault_loop.rs: 32 s of CPU in 113 s), so side by side they
# end minutes sooner. Each binary still runs its own tests as cargo test does; no test may
# depend on the machine's speed, so none depends on what runs beside it.
#
#   OCRCLOUD_TEST_JOBS=N  how many cargo test commands run at once (default 3; 1: one after
#                         another, as plain `cargo test --workspace` does)
#
# Each command's output is printed whole when it ends (never interleaved); the run exits
# non-zero if any failed, after all have run, and names them. Arguments go to every test
# binary (e.g. `scripts/rust-tests.sh --nocapture`).
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=${OCRCLOUD_TEST_JOBS:-3}

# One build of every test binary, so that the commands below only run them.
cargo test --workspace --no-run --quiet

# The commands: the unit tests, the documentation tests, then one per test target name (a name
# two packages share, such as batch, runs both binaries). The slowest first, so that no long
# binary starts last and ends the run alone; every other name follows in alphabetical order.
slowest=(fault_loop shared_batch c_programs learning batch breaking hostile shared_breaking)
names=$(cargo metadata --no-deps --format-version 1 |
  jq -r '.packages[].targets[] | select(.kind == ["test"]) | .name' | sort -u)
commands=()
for name in "${slowest[@]}"; do
  grep -qx "$name" <<<"$names" && commands+=("--test $name")
done
for name in $names; do
  [[ " ${slowest[*]} " == *" $name "* ]] || commands+=("--test $name")
done
commands+=("--lib --bins" "--doc")

logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT

# Runs `cargo test --workspace SELECTION -- ARGS` into its own log, then prints the log whole
# (holding a lock, so that two endings never mix) and records a failure.
run() {
  local index=$1 selection=$2 started=$SECONDS status=0
  shift 2
  # shellcheck disable=SC2086 # the selection is several words
  cargo test --workspace --no-fail-fast $selection -- "$@" >"$logs/$index.log" 2>&1 || status=$?
  {
    flock 9
    printf '\n--> cargo test --workspace %s: %s in %d s\n' "$selection" \
      "$([ "$status" -eq 0 ] && echo passed || echo "FAILED (status $status)")" $((SECONDS - started))
    cat "$logs/$index.log"
  } 9>"$logs/print.lock"
  [ "$status" -eq 0 ] || echo "$selection" >"$logs/$index.failed"
}

running=0
for index in "${!commands[@]}"; do
  if [ "$running" -ge "$jobs" ]; then
    wait -n
    running=$((running - 1))
  fi
  run "$index" "${commands[$index]}" "$@" &
  running=$((running + 1))
done
wait

if compgen -G "$logs/*.failed" >/dev/null; then
  echo "failed: $(cat "$logs"/*.failed | sed 's/^/cargo test --workspace /' | paste -sd ';')" >&2
  exit 1
fi
echo "all ${#commands[@]} cargo test commands passed"
