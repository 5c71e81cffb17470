#!/usr/bin/env bash
# The shared batch's kill test (cli/tests/shared_batch.rs) over many seeds and more kills than
# the test command's sample: `scripts/shared-batch-loop.sh [ROUNDS] [KILLS]` (default 20 rounds
# of 30 kills each, about a minute a round). Each round draws its own moments; a failing round
# prints its OCRCLOUD_SHARED_SEED, which replays it:
#   OCRCLOUD_SHARED_SEED=N cargo test -p ocrcloud-cli --test shared_batch workers_killed
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-20}
kills=${2:-30}
cargo build --quiet --workspace
failed=0
for round in $(seq 1 "$rounds"); do
  seed=$(od -An -N8 -tu8 /dev/urandom | tr -d ' ')
  if OCRCLOUD_SHARED_SEED=$seed OCRCLOUD_SHARED_KILLS=$kills \
    cargo test --quiet -p ocrcloud-cli --test shared_batch workers_killed >/dev/null 2>&1; then
    echo "round $round: seed $seed passed"
  else
    echo "round $round: seed $seed FAILED"
    failed=$((failed + 1))
  fi
done
echo "$failed of $rounds rounds failed"
[ "$failed" -eq 0 ]
