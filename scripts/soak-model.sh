#!/usr/bin/env bash
# Long runs of the filesystem reference-model test (tests/fs_model): many seeds, many cases,
# longer sequences. Stops at the first failure and prints its shrunk sequence.
#
#   scripts/soak-model.sh [ROUNDS] [CASES_PER_ROUND]
#
# Environment passed through: FS_MODEL_STEPS (default here 60), FS_MODEL_PART_SIZE,
# FS_MODEL_OPS, FS_MODEL_SKIP_CHECKS; FS_MODEL_FIRST_SEED (default: from the clock).
set -euo pipefail
cd "$(dirname "$0")/.."

rounds=${1:-20}
cases=${2:-5000}
first_seed=${FS_MODEL_FIRST_SEED:-$(date +%s)}
export FS_MODEL_STEPS=${FS_MODEL_STEPS:-60}

cargo test --release --test fs_model --no-run >/dev/null
for ((i = 0; i < rounds; i++)); do
    seed=$((first_seed + i))
    echo "soak round $((i + 1))/$rounds: FS_MODEL_SEED=$seed, $cases cases, up to $FS_MODEL_STEPS steps"
    if ! FS_MODEL_SEED=$seed FS_MODEL_CASES=$cases cargo test --release -q --test fs_model; then
        echo "soak: failure with FS_MODEL_SEED=$seed (rerun: FS_MODEL_SEED=$seed FS_MODEL_CASES=$cases cargo test --test fs_model)"
        exit 1
    fi
done
echo "soak: $rounds rounds passed"
