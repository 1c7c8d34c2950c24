#!/usr/bin/env bash
# swap.sh -- hot swap under load (issue 5's acceptance benchmark; not a test).
#
# Builds a Release build, generates the default world and fits its LR model
# when missing, and starts `adfunnel serve` with the admin API on loopback.
# Then:
#   1. peak: wrk closed loop (no pauses) -> the server's peak QPS;
#   2. pacing: wrk with per-connection pauses (bench/swap.lua) calibrated so
#      that the offered load is LOAD (default 75%) of that peak;
#   3. ROUNDS rounds, each: the peak again (PEAK_WINDOW s, closed loop) and
#      the pacing re-aimed at LOAD of it (the machine's other load drifts),
#      a WINDOW-second "base" window at the paced load without swaps, and a
#      WINDOW-second "swap" window at the same load while
#      bench/swap_driver.py swaps the model (two model files), reloads all
#      pipelines and reloads the lr plugin with new bytes (a fresh dlopen)
#      every INTERVAL seconds -- all three in each tick (ROTATE=1: one of
#      them per tick, in turn).  Rounds alternate base-first and swap-first.
#      Interleaving short windows, rather than one long run of each, makes
#      the comparison fair on a machine whose other load drifts.
# The percentiles of all base windows together and of all swap windows
# together are computed from each window's quantile function (swap.lua).
# Prints a table per round and overall, and the verdict: zero non-2xx
# answers and socket errors during swaps, every swap accepted, p99 during
# swaps within 1.5x p99 without, swap-window load >= 70% of the peak
# measured in the same rounds (requests served in the swap windows over
# what each round's peak rate would have served in them).  Exit status 1
# when a criterion fails.
#
# Environment (defaults in brackets):
#   BUILD [build]  DATA [data/world]  PIPELINE [pipelines/home_feed.lua]
#   ROUNDS [6]  WINDOW [10] (s)  PEAK_WINDOW [4] (s)  INTERVAL [0.1] (s)
#   LOAD [0.75]  CONNECTIONS [64]  PEAK_CONNECTIONS [CONNECTIONS]  THREADS [2]
#   WORKERS [server default]  SEED [42] (world)  ROTATE [unset]
#   ADMIN_NICE [server default, 10]  NO_BUILD [unset]: use $BUILD/adfunnel
#   OUT [unset]: also write the report to this file
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
DATA=${DATA:-$ROOT/data/world}
PIPELINE=${PIPELINE:-$ROOT/pipelines/home_feed.lua}
ROUNDS=${ROUNDS:-6}
WINDOW=${WINDOW:-10}
PEAK_WINDOW=${PEAK_WINDOW:-4}
INTERVAL=${INTERVAL:-0.1}
LOAD=${LOAD:-0.75}
CONNECTIONS=${CONNECTIONS:-64}
PEAK_CONNECTIONS=${PEAK_CONNECTIONS:-$CONNECTIONS}
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
# fields go to $TMP/NAME.txt, the quantiles to $TMP/NAME.q
run() {
    local name=$1 conns=$2 secs=$3 delay=$4
    wrk -t"$THREADS" -c"$conns" -d"${secs}s" --timeout 10s -s "$ROOT/bench/swap.lua" \
        "$URL" -- "$N_USERS" 1 "$delay" >"$TMP/$name.out" 2>&1
    grep '^SWAPBENCH' "$TMP/$name.out" | sed 's/^SWAPBENCH //' >"$TMP/$name.txt"
    grep '^SWAPQ' "$TMP/$name.out" | sed 's/^SWAPQ //' >"$TMP/$name.q"
    [ -s "$TMP/$name.txt" ] || { echo "swap.sh: wrk failed:" >&2; cat "$TMP/$name.out" >&2; exit 1; }
}
field() { tr ' ' '\n' <"$TMP/$1.txt" | awk -F= -v k="$2" '$1 == k {print $2}'; }

# swap_window NAME: a paced window with the swap driver running.
swap_window() {
    python3 "$ROOT/bench/swap_driver.py" --admin-port "$ADMIN_PORT" --token "$TOKEN" \
        --model "$TMP/lr-a.afm" --model "$TMP/lr-b.afm" --plugin-name lr \
        --plugin-file "$TMP/plugins/model_lr.so" --variant "$TMP/variant-a.so" \
        --variant "$TMP/variant-b.so" --interval "$INTERVAL" ${ROTATE:+--rotate} \
        --duration "$WINDOW" >"$TMP/$1.driver" 2>&1 &
    local driver=$!
    run "$1" "$CONNECTIONS" "$WINDOW" "$DELAY"
    wait "$driver" || true
}

echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== peak: wrk -t$THREADS -c$PEAK_CONNECTIONS closed loop, 10 s (after 3 s warm-up)"
run warm "$PEAK_CONNECTIONS" 3 0
run peak0 "$PEAK_CONNECTIONS" 10 0
PEAK=$(field peak0 qps)
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

echo "== $ROUNDS rounds: peak ${PEAK_WINDOW} s, then base and swap windows of $WINDOW s each"
echo "   swaps: model + pipelines + plugin every $INTERVAL s${ROTATE:+ (one per tick, in turn)}"
# The latency part of a connection's cycle, from the last paced window.
LAT=$(awk -v c="$CONNECTIONS" -v a="$GOT" -v d="$DELAY" 'BEGIN {printf "%.3f", 1000 * c / a - d}')
for r in $(seq 1 "$ROUNDS"); do
    run "peak$r" "$PEAK_CONNECTIONS" "$PEAK_WINDOW" 0
    DELAY=$(awk -v c="$CONNECTIONS" -v p="$(field peak$r qps)" -v l="$LOAD" -v lat="$LAT" \
        'BEGIN {d = 1000 * c / (p * l) - lat; if (d < 0) d = 0; printf "%.3f", d}')
    if [ $((r % 2)) -eq 1 ]; then
        run "base$r" "$CONNECTIONS" "$WINDOW" "$DELAY"
        swap_window "swap$r"
    else
        swap_window "swap$r"
        run "base$r" "$CONNECTIONS" "$WINDOW" "$DELAY"
    fi
    echo "round $r: peak $(field peak$r qps) QPS, pause $DELAY ms; base $(field base$r qps) QPS p99 $(field base$r p99_ms) ms; swap $(field swap$r qps) QPS p99 $(field swap$r p99_ms) ms"
    LAT=$(awk -v c="$CONNECTIONS" -v a="$(field base$r qps)" -v d="$DELAY" \
        'BEGIN {l = 1000 * c / a - d; if (l < 0.1) l = 0.1; printf "%.3f", l}')
done
echo "load after:  $(cut -d' ' -f1-3 /proc/loadavg)"

set +e
python3 - "$TMP" "$ROUNDS" "$WINDOW" <<'EOF' | tee "$TMP/report.txt"
import json, sys
tmp, rounds, window = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])

def fields(n):
    return {k: float(v) for k, v in
            (kv.split("=") for kv in open("%s/%s.txt" % (tmp, n)).read().split())}

def quantiles(n):
    return [(float(p), float(v)) for p, v in
            (kv.split(":") for kv in open("%s/%s.q" % (tmp, n)).read().split())]

def merged(names, ps):
    """Percentiles of the union of windows: each window's step quantile
    function, weighted by its requests."""
    wins = [(fields(n)["requests"], quantiles(n)) for n in names]
    total = sum(w for w, _ in wins)
    def cdf(x):  # share of all requests with latency <= x
        s = 0.0
        for w, q in wins:
            below = 0.0
            for p, v in q:
                if v <= x:
                    below = p
            s += w * below / 100
        return s / total
    xs = sorted({v for _, q in wins for _, v in q})
    out = {}
    for p in ps:
        out[p] = next((x for x in xs if cdf(x) >= p / 100 - 1e-9), xs[-1])
    return out

def total(names, key):
    return sum(fields(n)[key] for n in names)

bases = ["base%d" % r for r in range(1, rounds + 1)]
swaps = ["swap%d" % r for r in range(1, rounds + 1)]
peaks = ["peak%d" % r for r in range(1, rounds + 1)]
ps = (50, 90, 99, 99.9)
mb, ms = merged(bases, ps), merged(swaps, ps)
peak = total(peaks, "requests") / total(peaks, "duration_s")
# What each round's peak rate would have served in its swap window.
capacity = sum(fields("peak%d" % r)["qps"] * fields("swap%d" % r)["duration_s"]
               for r in range(1, rounds + 1))
rows = []
for name, names, m in (("base", bases, mb), ("swap", swaps, ms)):
    reqs, secs = total(names, "requests"), total(names, "duration_s")
    sock = sum(total(names, k) for k in ("connect", "read", "write", "timeout"))
    rows.append((name, reqs, reqs / secs, m, total(names, "non2xx"), sock,
                 max(fields(n)["max_ms"] for n in names)))
print("%-5s %9s %9s %8s %8s %8s %8s %8s %7s %7s" % ("all", "requests", "QPS",
      "p50_ms", "p90_ms", "p99_ms", "p999_ms", "max_ms", "non2xx", "sockerr"))
for name, reqs, qps, m, non2xx, sock, mx in rows:
    print("%-5s %9d %9.1f %8.3f %8.3f %8.3f %8.3f %8.3f %7d %7d" % (
        name, reqs, qps, m[50], m[90], m[99], m[99.9], mx, non2xx, sock))
print("peak  %9d %9.1f  (closed loop, mean of the %d rounds' peak windows)" % (
    total(peaks, "requests"), peak, rounds))
drivers = []
for n in swaps:
    try:
        drivers.append(json.loads(open("%s/%s.driver" % (tmp, n)).read().strip().splitlines()[-1]))
    except (ValueError, IndexError):
        drivers.append({"swaps": 0, "failures": ["driver did not report"],
                        "elapsed_s": 0, "admin_ms": {}})
n_swaps = sum(d["swaps"] for d in drivers)
fails = [f for d in drivers for f in d["failures"]]
secs = sum(d["elapsed_s"] for d in drivers)
adm = sorted(d["admin_ms"].get("p50", 0) for d in drivers)
print("swaps: %d in %.1f s (%.1f/s), %d failed; admin call p50 by window: %s ms" % (
    n_swaps, secs, n_swaps / secs if secs else 0, len(fails),
    " ".join("%.1f" % a for a in adm)))
base, swap = rows[0], rows[1]
checks = [
    ("zero non-2xx during swaps", swap[4] == 0, "%d" % swap[4]),
    ("zero socket errors during swaps", swap[5] == 0, "%d" % swap[5]),
    ("every swap accepted", not fails and n_swaps > 0,
     "%d swaps, %d failed %s" % (n_swaps, len(fails), fails[:3])),
    ("p99 with swaps <= 1.5x without", ms[99] <= 1.5 * mb[99],
     "%.3f vs %.3f ms (x%.2f)" % (ms[99], mb[99], ms[99] / mb[99])),
    ("load >= 70% of peak", swap[1] >= 0.7 * capacity,
     "%.0f%% (swap windows: %.0f QPS; the rounds' peaks: %.0f QPS on average)"
     % (100 * swap[1] / capacity, swap[2], peak)),
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
