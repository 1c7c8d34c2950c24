#!/usr/bin/env bash
# rank.sh -- benchmark POST /v1/rank against GET /healthz (not a test).
#
# Builds a Release build, generates the default world and fits its LR model
# when missing, starts `adfunnel serve` with pipelines/home_feed.lua on an
# ephemeral loopback port, then runs wrk at the same concurrency against
#   1. POST /v1/rank  (bench/rank.lua: random world users, seeded)
#   2. GET  /healthz  (the server's own ceiling: HTTP + routing, no ranking)
# and prints QPS, p50 and p99 of both and the ratio rank QPS / healthz QPS.
# Each measured run is preceded by a short warm-up at the same concurrency.
#
# Environment (defaults in brackets):
#   BUILD [build]  DATA [data/world]  PIPELINE [pipelines/home_feed.lua]
#   CONCURRENCY [8]  THREADS [2] (wrk threads)  DURATION [10s]
#   WARMUP [2s]  SEED [42] (world)  LOAD_SEED [1] (user draws)
#   WORKERS [server default: one per CPU]
#   NO_BUILD [unset]: set to 1 to use the existing $BUILD/adfunnel as is
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
DATA=${DATA:-$ROOT/data/world}
PIPELINE=${PIPELINE:-$ROOT/pipelines/home_feed.lua}
CONCURRENCY=${CONCURRENCY:-8}
THREADS=${THREADS:-2}
DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-2s}
SEED=${SEED:-42}
LOAD_SEED=${LOAD_SEED:-1}
[ "$THREADS" -gt "$CONCURRENCY" ] && THREADS=$CONCURRENCY

command -v wrk >/dev/null || { echo "rank.sh: wrk is not installed (apt-get install wrk)" >&2; exit 1; }

if [ -z "${NO_BUILD:-}" ]; then
    echo "== build (Release) in $BUILD"
    mkdir -p "$BUILD"
    if ! { cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release &&
           cmake --build "$BUILD" -j"$(nproc)"; } >"$BUILD/bench-build.log" 2>&1; then
        tail -40 "$BUILD/bench-build.log" >&2
        echo "rank.sh: build failed (log: $BUILD/bench-build.log)" >&2
        exit 1
    fi
fi
BIN=$BUILD/adfunnel
[ -x "$BIN" ] || { echo "rank.sh: $BIN not found" >&2; exit 1; }

if [ ! -f "$DATA/ads.tsv" ]; then
    echo "== world gen into $DATA"
    "$BIN" world gen --out "$DATA" --seed "$SEED"
fi
if [ ! -f "$DATA/models/lr.afm" ]; then
    echo "== world fit-lr"
    AF_LOG=warn "$BIN" world fit-lr --data "$DATA" --pipeline "$PIPELINE"
fi
N_USERS=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["counts"]["users"])' "$DATA/world.json")

TMP=$(mktemp -d)
SERVER_PID=""
cleanup() {
    if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID"
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    rm -rf "$TMP"
}
trap cleanup EXIT

echo "== serve $PIPELINE"
AF_LOG=warn "$BIN" serve --host 127.0.0.1 --port 0 --port-file "$TMP/port" \
    --pipelines "$PIPELINE" --data "$DATA" ${WORKERS:+--workers "$WORKERS"} \
    >"$TMP/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 300); do
    [ -s "$TMP/port" ] && break
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$TMP/server.log" >&2; exit 1; }
    sleep 0.1
done
[ -s "$TMP/port" ] || { echo "rank.sh: server did not start" >&2; cat "$TMP/server.log" >&2; exit 1; }
URL=http://127.0.0.1:$(cat "$TMP/port")

# One request must succeed before anything is measured.
code=$(curl -s -o "$TMP/one.json" -w '%{http_code}' -H 'Content-Type: application/json' \
       -d '{"surface":"home_feed","user":{"id":1}}' "$URL/v1/rank")
if [ "$code" != 200 ]; then
    echo "rank.sh: POST /v1/rank answered $code: $(cat "$TMP/one.json")" >&2
    exit 1
fi

# wrk prints latencies as 812.00us, 1.53ms or 1.02s: convert to ms.
to_ms() {
    awk -v v="$1" 'BEGIN {
        if (v ~ /us$/) { sub(/us$/, "", v); printf "%.3f", v / 1000 }
        else if (v ~ /ms$/) { sub(/ms$/, "", v); printf "%.3f", v }
        else if (v ~ /s$/) { sub(/s$/, "", v); printf "%.3f", v * 1000 }
        else printf "%s", v }'
}

# run NAME wrk-args...: warm up, measure, keep wrk's output in $TMP/NAME.txt
run() {
    local name=$1; shift
    wrk -t"$THREADS" -c"$CONCURRENCY" -d"$WARMUP" "$@" >/dev/null
    wrk -t"$THREADS" -c"$CONCURRENCY" -d"$DURATION" --latency "$@" >"$TMP/$name.txt"
    if grep -q "Non-2xx" "$TMP/$name.txt" || grep -q "Socket errors" "$TMP/$name.txt"; then
        echo "rank.sh: $name run had failed requests:" >&2
        cat "$TMP/$name.txt" >&2
        exit 1
    fi
}

echo "== wrk: POST /v1/rank and GET /healthz, -t$THREADS -c$CONCURRENCY -d$DURATION"
# Other processes on the machine distort latency tails: show the load.
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
run rank -s "$ROOT/bench/rank.lua" "$URL" -- "$N_USERS" "$LOAD_SEED" home_feed
run healthz "$URL/healthz"

qps() { awk '/^Requests\/sec/ {print $2}' "$TMP/$1.txt"; }
pct() { to_ms "$(awk -v p="$2" '$1 == p {print $2}' "$TMP/$1.txt")"; }
reqs() { awk '/requests in/ {print $1}' "$TMP/$1.txt"; }

printf '\n%-8s %10s %10s %10s %10s %10s\n' endpoint requests QPS p50_ms p90_ms p99_ms
for n in rank healthz; do
    printf '%-8s %10s %10s %10s %10s %10s\n' "$n" "$(reqs $n)" "$(qps $n)" \
        "$(pct $n 50%)" "$(pct $n 90%)" "$(pct $n 99%)"
done
echo "load after:  $(cut -d' ' -f1-3 /proc/loadavg)"
awk -v r="$(qps rank)" -v h="$(qps healthz)" \
    'BEGIN { printf "ratio rank_QPS / healthz_QPS = %.3f\n", r / h }'
echo
echo "--- wrk output: POST /v1/rank"; cat "$TMP/rank.txt"
echo "--- wrk output: GET /healthz"; cat "$TMP/healthz.txt"
