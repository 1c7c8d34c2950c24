#!/usr/bin/env bash
# deepfm_bench.sh -- DeepFM training throughput, scoring latency and
# request-level dedup speedup (bench/deepfm_bench.c; results and how to
# read them: docs/benchmarks.md, "DeepFM").
#
# Builds bench/ (a wrapper around the main project) in Release, then runs:
#   1. training, one epoch of the anchors' synthetic throughput set,
#      lazy Adam, 2 threads: rows split over our threads (OpenBLAS 1 thread)
#      and sgemm on 2 OpenBLAS threads; and dense Adam (split layout);
#   2. scoring a 500-candidate batch on one core, with the sgemm bound;
#   3. the dedup speedup on a world-surface DeepFM: one trained here on
#      simulated impressions (world gen + world log + train with
#      pipelines/features/world_v1.lua, MLP $WORLD_HIDDEN), and untrained
#      ones of the same shape with MLP $WORLD_HIDDEN and 400-400-400.
# and prints the reference's figures: re-measured with
# /usr/bin/python3 ../shared/anchors/deepfm_torch.py --throughput when
# torch is importable there, else quoted from results.json.
#
# Environment: BUILD [build-bench]  REPS [3] (training epochs per variant)
#              SKIP_REF [unset]: set to 1 to skip the reference
#              WORLD_HIDDEN [256,128] (the world DeepFM's MLP)
#              WORLD_MODEL [unset]: a trained world deepfm .afm to use
#              instead of training one in $BUILD/world
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$ROOT/build-bench}
REPS=${REPS:-3}
WORLD_HIDDEN=${WORLD_HIDDEN:-256,128}
ANCHORS=$ROOT/../shared/anchors

echo "== build (Release) in $BUILD"
cmake -S "$ROOT/bench" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD" -j"$(nproc)" --target deepfm_bench model_deepfm adfunnel >/dev/null
BIN=$BUILD/deepfm_bench
export AF_PLUGIN_DIR=$BUILD/plugins AF_LOG=warn

echo "== machine"
lscpu | grep -E '^(Model name|CPU\(s\)|Thread|L2|L3)' | sed 's/  */ /g'
echo "OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset} OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-unset}"
uptime

echo "== adfunnel"
"$BIN" train --threads 2 --variant lazy --layout split --reps "$REPS"
"$BIN" train --threads 2 --variant lazy --layout blas --reps "$REPS"
"$BIN" train --threads 1 --variant lazy --layout split --reps 1
"$BIN" train --threads 2 --variant dense --layout split --reps 1
"$BIN" score --reps 200
if [ -z "${WORLD_MODEL:-}" ]; then
    W=$BUILD/world
    WORLD_MODEL=$W/models/world_v1-deepfm.afm
    if [ ! -f "$WORLD_MODEL" ]; then
        echo "== training a world DeepFM in $W"
        "$BUILD/adfunnel" world gen --out "$W" --seed 42 >/dev/null
        "$BUILD/adfunnel" world log --data "$W" --impressions 300000 >/dev/null
        mkdir -p "$W/models"
        "$BUILD/adfunnel" train --spec "$ROOT/pipelines/features/world_v1.lua" \
            --data "$W" --model deepfm --hidden "$WORLD_HIDDEN" \
            --out "$WORLD_MODEL" 2>&1 | tail -1
    fi
fi
"$BIN" dedup --reps 200 --model "$WORLD_MODEL"
"$BIN" dedup --reps 200 --hidden "$WORLD_HIDDEN"
"$BIN" dedup --reps 200 --hidden 400,400,400

echo "== reference (PyTorch anchor)"
if [ -n "${SKIP_REF:-}" ]; then
    echo "skipped (SKIP_REF)"
elif /usr/bin/python3 -c 'import torch' 2>/dev/null; then
    /usr/bin/python3 "$ANCHORS/deepfm_torch.py" --throughput --out "$BUILD/throughput_ref.json"
else
    echo "torch is not importable by /usr/bin/python3; figures from $ANCHORS/results.json:"
    python3 - "$ANCHORS/results.json" <<'PY'
import json, sys
t = json.load(open(sys.argv[1]))["throughput"]
print("  train dense Adam:  %.0f samples/s" % t["train_dense_adam"]["samples_per_s"])
print("  train sparse rows: %.0f samples/s" % t["train_sparse_lazy_adam"]["samples_per_s"])
print("  inference 500:     median %.3f ms, p99 %.3f ms" % (t["inference"]["median_ms"], t["inference"]["p99_ms"]))
PY
fi
