#!/usr/bin/env bash
# Long fuzzing of the response reader and the base64 decoder (RELIABILITY.md explains the
# properties). First the property tests with many cases, then each cargo-fuzz target for
# SECONDS (default 600) with the sanitizers of `cargo fuzz` (AddressSanitizer by default).
#
#   scripts/fuzz.sh [SECONDS]
#
# Needs cargo-fuzz (`cargo install cargo-fuzz`); RUSTC_BOOTSTRAP=1 lets it use the nightly
# features it needs on a stable toolchain. A failing input is saved in fuzz/artifacts/<target>/;
# replay it with `cargo fuzz run <target> <file>` and add it to tests/properties.rs as a
# regression test.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-600}

printf '\n==> property tests, %s cases each\n' "${PROPTEST_CASES:=1000000}"
PROPTEST_CASES=$PROPTEST_CASES cargo test --release --test properties

cd fuzz
export RUSTC_BOOTSTRAP=1
for target in parse_answer base64_pieces; do
  printf '\n==> cargo fuzz run %s for %s s\n' "$target" "$seconds"
  mkdir -p "corpus/$target"
  cp "seeds/$target/"* "corpus/$target/"
  cargo fuzz run "$target" "corpus/$target" -- \
    -max_total_time="$seconds" -max_len=65536 -timeout=10 -print_final_stats=1
done
