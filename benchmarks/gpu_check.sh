#!/usr/bin/env bash
# One GPU session's checks in one run, sized for a short lease of one H100/H200 (about 7 minutes):
# the environment, the `cuda`-marked tests, the NCCL tests when mpi4py is there, and the benchmark
# suite on the GPU. Everything lands flat in $OUT (at most 8 files come back from a device run).
#
#   OUT=gpu-results bash benchmarks/gpu_check.sh            # from the repository root, no install
#
# Needs: python with numpy, cupy (13 or 14), pytest; torch and nvidia-ml-py are used when present.
# Stage budgets (seconds) can be changed: TESTS_S (300), BENCH_S (150). A stage that runs out of
# time is stopped and the next one runs; the summary says which did. Compiled kernels go to
# CUPY_CACHE_DIR (default .cupy-cache in the tree, so that a second run in the same lease
# skips compiling).
set -uo pipefail

OUT=${OUT:-gpu-results}
TESTS_S=${TESTS_S:-300}
BENCH_S=${BENCH_S:-150}
mkdir -p "$OUT"
export PYTHONPATH=.${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
export CUPY_CACHE_DIR=${CUPY_CACHE_DIR:-$PWD/.cupy-cache}
SUMMARY=$OUT/summary.txt
: >"$SUMMARY"

stage() {   # stage NAME SECONDS LOG COMMAND...: run with a time limit, record its exit status
    local name=$1 limit=$2 log=$3
    shift 3
    local t0=$SECONDS
    timeout --signal=INT --kill-after=20 "$limit" "$@" >"$log" 2>&1
    local rc=$?
    local verdict=ok
    [ "$rc" -eq 0 ] || verdict="failed (rc=$rc)"
    [ "$rc" -eq 124 ] || [ "$rc" -eq 130 ] && verdict="stopped at its ${limit}s limit"
    printf '%-10s %-32s %4ss  log: %s\n' "$name" "$verdict" "$((SECONDS - t0))" "$(basename "$log")" | tee -a "$SUMMARY"
}

{
    date -u +"%Y-%m-%dT%H:%M:%SZ"
    git rev-parse HEAD 2>/dev/null || echo "commit: n/a"
    nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv || true
    python3 -m autograd_gpu info
} >"$OUT/info.txt" 2>&1

# 1. every CUDA test: each op's CUDA forward and backward against the CPU path, the CUDA backend,
#    the per-device engine with the GPU and the CPU in one graph, NCCL (skips without mpi4py)
stage tests "$TESTS_S" "$OUT/cuda-tests.log" \
    python3 -m pytest -m cuda -q -rfE -p no:cacheprovider --durations=15 --junitxml="$OUT/cuda-tests.xml" tests

# 2. the benchmark suite on the GPU, PyTorch CUDA side by side when installed
mkdir -p "$OUT/.bench"
stage bench "$BENCH_S" "$OUT/bench.log" \
    python3 -m benchmarks --device cuda --quick --out "$OUT/.bench" --no-progress
for f in results.json report.md ratios.png; do
    [ -f "$OUT/.bench/$f" ] && mv "$OUT/.bench/$f" "$OUT/$f"
done
rm -rf "$OUT/.bench"

grep -E "passed|failed|error|skipped" "$OUT/cuda-tests.log" | tail -1 | sed 's/^/tests: /' | tee -a "$SUMMARY"
