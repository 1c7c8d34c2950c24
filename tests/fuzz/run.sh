#!/usr/bin/env bash
# run.sh -- run one libFuzzer target (or all) for a number of seconds.
#
#   tests/fuzz/run.sh [--bin-dir DIR] [--work-dir DIR] NAME SECONDS
#
# NAME: json_rank, pb_rank, pipeline, modelfile (or fuzz_<name>), or "all"
# (one after the other).  Without --bin-dir the targets are built first in a
# clang build tree, $ROOT/build-fuzz (cmake -DCMAKE_C_COMPILER=clang
# -DAF_FUZZ=ON).  The corpus grows in WORK/corpus/NAME (default WORK:
# $ROOT/build-fuzz/work), seeded from tests/fuzz/corpus/NAME, which is
# never written; a crash, leak or timeout leaves its input in
# WORK/artifacts/NAME/ and makes the script fail.  One summary line per
# target: executions, corpus size, coverage.
#
# Environment: AF_PLUGIN_DIR (plugins for the pipeline target),
# FUZZ_JOBS (parallel build jobs, default 2), FUZZ_ARGS (extra libFuzzer
# flags).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BIN_DIR=""
WORK=""

usage() { sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }

while [ $# -gt 0 ]; do
    case "$1" in
    --bin-dir) BIN_DIR=$2; shift 2 ;;
    --work-dir) WORK=$2; shift 2 ;;
    -h|--help) usage ;;
    --*) echo "run.sh: unknown option $1" >&2; usage ;;
    *) break ;;
    esac
done
[ $# -eq 2 ] || usage
NAME=${1#fuzz_}
SECONDS_EACH=$2
case "$SECONDS_EACH" in ''|*[!0-9]*) echo "run.sh: SECONDS must be a whole number" >&2; exit 2 ;; esac
ALL="json_rank pb_rank pipeline modelfile"
if [ "$NAME" = all ]; then NAMES=$ALL; else NAMES=$NAME; fi
for n in $NAMES; do
    case " $ALL " in *" $n "*) ;; *) echo "run.sh: unknown target $n (targets: $ALL)" >&2; exit 2 ;; esac
done

if [ -z "$BIN_DIR" ]; then
    command -v clang >/dev/null || { echo "run.sh: clang is not installed" >&2; exit 1; }
    BUILD=$ROOT/build-fuzz
    cmake -S "$ROOT" -B "$BUILD" -DCMAKE_C_COMPILER=clang \
        -DCMAKE_BUILD_TYPE=RelWithDebInfo -DAF_FUZZ=ON >/dev/null
    cmake --build "$BUILD" --target af_fuzzers --parallel "${FUZZ_JOBS:-2}" >/dev/null
    BIN_DIR=$BUILD/tests/fuzz
    : "${AF_PLUGIN_DIR:=$BUILD/plugins}"
    export AF_PLUGIN_DIR
fi
WORK=${WORK:-$ROOT/build-fuzz/work}

# Leaks are bugs too; abort on the first UBSan report.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

status=0
for n in $NAMES; do
    bin=$BIN_DIR/fuzz_$n
    [ -x "$bin" ] || { echo "run.sh: $bin not built" >&2; exit 1; }
    corpus=$WORK/corpus/$n
    artifacts=$WORK/artifacts/$n
    log=$WORK/fuzz_$n.log
    mkdir -p "$corpus" "$artifacts"
    seeds=()
    [ -d "$HERE/corpus/$n" ] && seeds=("$HERE/corpus/$n")
    dict=()
    [ -f "$HERE/$n.dict" ] && dict=("-dict=$HERE/$n.dict")
    set +e
    # shellcheck disable=SC2086
    "$bin" "${dict[@]}" -max_total_time="$SECONDS_EACH" -timeout=10 \
        -rss_limit_mb=2560 -max_len=65536 -print_final_stats=1 \
        -artifact_prefix="$artifacts/" ${FUZZ_ARGS:-} \
        "$corpus" "${seeds[@]}" >"$log" 2>&1
    rc=$?
    set -e
    execs=$(awk -F: '/stat::number_of_executed_units/ {gsub(/ /, "", $NF); print $NF}' "$log")
    rate=$(awk -F: '/stat::average_exec_per_sec/ {gsub(/ /, "", $NF); print $NF}' "$log")
    cov=$(grep -Eo 'cov: [0-9]+ ft: [0-9]+' "$log" | tail -1)
    files=$(find "$corpus" -type f | wc -l)
    bytes=$(find "$corpus" -type f -printf '%s\n' | awk '{s += $1} END {print s + 0}')
    if [ $rc -eq 0 ]; then
        echo "fuzz_$n: ok: ${execs:-?} executions in ${SECONDS_EACH} s (${rate:-?}/s), corpus $files files / $bytes bytes, ${cov:-cov ?}"
    else
        echo "fuzz_$n: FAILED (exit $rc) after ${execs:-?} executions; input in $artifacts/, log $log:" >&2
        grep -E 'ERROR|SUMMARY|runtime error|Test unit written' "$log" | head -20 >&2 || tail -30 "$log" >&2
        status=1
    fi
done
exit $status
