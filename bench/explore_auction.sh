#!/usr/bin/env bash
# explore_auction.sh -- microbenchmark (not a test): gsp + thompson on 500
# candidates per request, one core, p50/p90/p99 per request.
#
# Builds a Release build (unless NO_BUILD=1), compiles bench/explore_auction.c
# against its libafcore.a and runs it pinned to one CPU (taskset, when
# available).
#
# Environment (defaults in brackets):
#   BUILD [build]  REQUESTS [20000]  SAMPLES [16] (thompson's
#   propensity_samples)  CPU [0]  NO_BUILD [unset]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
REQUESTS=${REQUESTS:-20000}
SAMPLES=${SAMPLES:-16}
CPU=${CPU:-0}

if [ -z "${NO_BUILD:-}" ]; then
    cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
    cmake --build "$BUILD" -j"$(nproc)" --target afcore adfunnel_plugins >/dev/null
fi
OUT=$BUILD/bench
mkdir -p "$OUT"
PKGS="lua5.4 libevent libevent_pthreads jansson openblas zlib libcrypto"
# shellcheck disable=SC2046
cc -O2 -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wno-unused-parameter \
    -I"$ROOT/core" -I"$ROOT/include" -I"$BUILD/core/proto" \
    $(pkg-config --cflags $PKGS) \
    "$ROOT/bench/explore_auction.c" "$BUILD/core/libafcore.a" \
    $(pkg-config --libs $PKGS) -l:libprotobuf-nanopb.a -ldl -lm -lpthread \
    -o "$OUT/explore_auction"
PIN=()
command -v taskset >/dev/null && PIN=(taskset -c "$CPU")
exec "${PIN[@]}" "$OUT/explore_auction" "$BUILD/plugins" "$REQUESTS" "$SAMPLES"
