#!/usr/bin/env bash
# swap.sh -- hot swap under load (issue 5's acceptance benchmark; not a test).
#
# Builds a Release build, generates the default world and fits its LR model
# when missing, and starts `adfunnel serve` with the admin API on loopback.
# Then:
#   1. peak: wrk closed loop (no pauses) -> the server's peak QPS;
#   2. pacing: wrk with per-connection pauses (bench/swap.lua) calibrated so
#      that the offered load is LOAD (default 75%) of that peak;
#   3. baseline: DURATION seconds at that load, no swaps;
#   4. swaps: DURATION seconds at the same load while bench/swap_driver.py
#      swaps the model (two model files), reloads all pipelines and reloads
#      the lr plugin with new bytes (a fresh dlopen), every INTERVAL seconds
#      -- all three in each tick (ROTATE=1: one of them per tick, in turn);
#   5. baseline again (the machine's noise).
# Prints a table (QPS, p50/p90/p99/p99.9, errors) and the verdict: zero
# non-2xx answers and socket errors during swaps, every swap accepted,
# p99 during swaps within 1.5x the first baseline's, load >= 70% of peak.
# Exit status 1 when a criterion fails.
#
# Environment (defaults in brackets):
#   BUILD [build]  DATA [data/world]  PIPELINE [pipelines/home_feed.lua]
#   DURATION [60] (s)  INTERVAL [0.1] (s)  LOAD [0.75]  CONNECTIONS [32]
#   PEAK_CONNECTIONS [8]  THREADS [2] (wrk)  WORKERS [server default]
#   SEED [42] (world)  ROTATE [unset]  ADMIN_NICE [server default, 10]
#   NO_BUILD [unset]: use $BUILD/adfunnel as it is
#   OUT [unset]: also write the report to this file
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
DATA=${DATA:-$ROOT/data/world}
PIPELINE=${PIPELINE:-$ROOT/pipelines/home_feed.lua}
DURATION=${DURATION:-60}
INTERVAL=${INTERVAL:-0.1}
LOAD=${LOAD:-0.75}
CONNECTIONS=${CONNECTIONS:-32}
PEAK_CONNECTIONS=${PEAK_CONNECTIONS:-8}
THREADS=${THREADS:-2}
SEED=${SEED:-42}

command -v wrk >/dev/null || { echo "swap.sh: wrk is not installed (apt-get install wrk)" >&2; exit 1; }

if [ -z "${NO_BUILD:-}" ]; then
    echo "== build (Release) in $BUILD"
    cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
    cmake --build "$BUILD" -j"$(nproc)" >/dev/null
fi
BIN=$BUILD/adfunnel
[ -x "$BIN" ] || { echo "swap.sh: $BIN not found" >&2; exit 1; }
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

# Private plugin directory (the lr plugin is rewritten during the run), two
# model files with distinct version labels, two variants of the lr plugin.
mkdir -p "$TMP/plugins" "$TMP/cache"
chmod 755 "$TMP/plugins"
cp "$BUILD"/plugins/*.so "$TMP/plugins/"
TOKEN=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
printf 'bench:%s\n' "$TOKEN" >"$TMP/tokens"
chmod 600 "$TMP/tokens"
python3 - "$ROOT/bench" "$DATA/models/lr.afm" "$TMP" <<'EOF'
import sys
sys.path.insert(0, sys.argv[1])
import swap_driver
src, tmp = sys.argv[2], sys.argv[3]
swap_driver.relabel_model(src, tmp + "/lr-a.afm", "lr-swap-a")
swap_driver.relabel_model(src, tmp + "/lr-b.afm", "lr-swap-b")
swap_driver.plugin_variants(tmp + "/plugins/model_lr.so", tmp)
EOF

echo "== serve $PIPELINE (admin API on loopback)"
AF_LOG=warn "$BIN" serve --host 127.0.0.1 --port 0 --port-file "$TMP/port" \
    --pipelines "$PIPELINE" --data "$DATA" --plugins "$TMP/plugins" \
    --admin-port 0 --admin-port-file "$TMP/admin-port" \
    --admin-token-file "$TMP/tokens" --plugin-cache "$TMP/cache" \
    ${WORKERS:+--workers "$WORKERS"} ${ADMIN_NICE:+--admin-nice "$ADMIN_NICE"} \
    >"$TMP/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 300); do
    [ -s "$TMP/port" ] && [ -s "$TMP/admin-port" ] && break
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$TMP/server.log" >&2; exit 1; }
    sleep 0.1
done
[ -s "$TMP/admin-port" ] || { echo "swap.sh: server did not start" >&2; cat "$TMP/server.log" >&2; exit 1; }
URL=http://127.0.0.1:$(cat "$TMP/port")
ADMIN_PORT=$(cat "$TMP/admin-port")

# run NAME CONNECTIONS SECONDS DELAY_MS: wrk with swap.lua; the SWAPBENCH
# line goes to $TMP/NAME.txt
run() {
    local name=$1 conns=$2 secs=$3 delay=$4
    wrk -t"$THREADS" -c"$conns" -d"${secs}s" --timeout 10s -s "$ROOT/bench/swap.lua" \
        "$URL" -- "$N_USERS" 1 "$delay" >"$TMP/$name.out" 2>&1
    grep '^SWAPBENCH' "$TMP/$name.out" | sed 's/^SWAPBENCH //' >"$TMP/$name.txt"
    [ -s "$TMP/$name.txt" ] || { echo "swap.sh: wrk failed:" >&2; cat "$TMP/$name.out" >&2; exit 1; }
}
field() { tr ' ' '\n' <"$TMP/$1.txt" | awk -F= -v k="$2" '$1 == k {print $2}'; }

echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== peak: wrk -t$THREADS -c$PEAK_CONNECTIONS closed loop, 10 s (after 3 s warm-up)"
run warm "$PEAK_CONNECTIONS" 3 0
run peak "$PEAK_CONNECTIONS" 10 0
PEAK=$(field peak qps)
TARGET=$(awk -v p="$PEAK" -v l="$LOAD" 'BEGIN {printf "%.1f", p * l}')
echo "peak $PEAK QPS; target $TARGET QPS ($LOAD of peak) over $CONNECTIONS connections"

# Pause per connection so that CONNECTIONS / (pause + latency) = TARGET;
# the latency is measured, so two short calibration runs settle it.
DELAY=$(awk -v c="$CONNECTIONS" -v t="$TARGET" 'BEGIN {d = 1000 * c / t - 1; if (d < 0) d = 0; printf "%.3f", d}')
for i in 1 2; do
    run calib "$CONNECTIONS" 5 "$DELAY"
    GOT=$(field calib qps)
    DELAY=$(awk -v c="$CONNECTIONS" -v t="$TARGET" -v a="$GOT" -v d="$DELAY" \
        'BEGIN {lat = 1000 * c / a - d; d = 1000 * c / t - lat; if (d < 0) d = 0; printf "%.3f", d}')
    echo "calibration $i: $GOT QPS; pause now $DELAY ms"
done

echo "== baseline: $DURATION s at the target load, no swaps"
run base "$CONNECTIONS" "$DURATION" "$DELAY"
echo "== swaps: $DURATION s at the target load; model + pipelines + plugin every $INTERVAL s${ROTATE:+ (one per tick, in turn)}"
python3 "$ROOT/bench/swap_driver.py" --admin-port "$ADMIN_PORT" --token "$TOKEN" \
    --model "$TMP/lr-a.afm" --model "$TMP/lr-b.afm" --plugin-name lr \
    --plugin-file "$TMP/plugins/model_lr.so" --variant "$TMP/variant-a.so" \
    --variant "$TMP/variant-b.so" --interval "$INTERVAL" ${ROTATE:+--rotate} \
    --duration "$((DURATION + 1))" >"$TMP/driver.json" 2>"$TMP/driver.err" &
DRIVER=$!
sleep 0.5
run swap "$CONNECTIONS" "$DURATION" "$DELAY"
wait "$DRIVER" || true
echo "== baseline again: $DURATION s, no swaps"
run base2 "$CONNECTIONS" "$DURATION" "$DELAY"
echo "load after:  $(cut -d' ' -f1-3 /proc/loadavg)"

report() {
    printf '%-9s %9s %9s %8s %8s %8s %8s %8s %7s %7s\n' run requests QPS p50_ms p90_ms p99_ms p999_ms max_ms non2xx sockerr
    for n in peak base swap base2; do
        local sock
        sock=$(( $(field $n connect) + $(field $n read) + $(field $n write) + $(field $n timeout) ))
        printf '%-9s %9s %9s %8s %8s %8s %8s %8s %7s %7s\n' "$n" "$(field $n requests)" \
            "$(field $n qps)" "$(field $n p50_ms)" "$(field $n p90_ms)" "$(field $n p99_ms)" \
            "$(field $n p999_ms)" "$(field $n max_ms)" "$(field $n non2xx)" "$sock"
    done
    echo "swap driver: $(cat "$TMP/driver.json" 2>/dev/null || cat "$TMP/driver.err")"
}
report | tee "$TMP/report.txt"

set +e
python3 - "$TMP" "$PEAK" <<'EOF' | tee -a "$TMP/report.txt"
import json, sys
tmp, peak = sys.argv[1], float(sys.argv[2])
def fields(n):
    return {k: float(v) for k, v in (kv.split("=") for kv in open("%s/%s.txt" % (tmp, n)).read().split())}
base, swap, base2 = fields("base"), fields("swap"), fields("base2")
try:
    drv = json.load(open(tmp + "/driver.json"))
except ValueError:
    drv = {"swaps": 0, "failures": ["driver did not report"]}
sock = sum(swap[k] for k in ("connect", "read", "write", "timeout"))
checks = [
    ("zero non-2xx during swaps", swap["non2xx"] == 0, "%d" % swap["non2xx"]),
    ("zero socket errors during swaps", sock == 0, "%d" % sock),
    ("every swap accepted", not drv["failures"] and drv["swaps"] > 0,
     "%d swaps, %d failed" % (drv["swaps"], len(drv["failures"]))),
    ("p99 with swaps <= 1.5x baseline", swap["p99_ms"] <= 1.5 * base["p99_ms"],
     "%.3f vs %.3f ms (x%.2f; second baseline %.3f ms)" % (
         swap["p99_ms"], base["p99_ms"], swap["p99_ms"] / base["p99_ms"],
         base2["p99_ms"])),
    ("load >= 70% of peak", swap["qps"] >= 0.7 * peak,
     "%.0f of %.0f QPS (%.0f%%)" % (swap["qps"], peak, 100 * swap["qps"] / peak)),
]
ok = True
for name, passed, detail in checks:
    print("%-34s %s  %s" % (name, "PASS" if passed else "FAIL", detail))
    ok &= passed
print("verdict: %s" % ("PASS" if ok else "FAIL"))
sys.exit(0 if ok else 1)
EOF
status=${PIPESTATUS[0]}
set -e
if [ -n "${OUT:-}" ]; then cp "$TMP/report.txt" "$OUT"; fi
exit "$status"
