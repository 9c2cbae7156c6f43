#!/usr/bin/env bash
# Fuzz the input formats with atheris: fuzz/run.sh [--runs N | --time SECONDS] [TARGET ...]
# (a TARGET is a format name or "all"; default: every format in turn, one run each).
# Scratch corpus, logs and crash files go to $TCPF_FUZZ_WORK (default /tmp/tcpf-fuzz).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
work=${TCPF_FUZZ_WORK:-/tmp/tcpf-fuzz}
limit=(-max_total_time=60)
targets=()
while (($#)); do
    case $1 in
        --runs) limit=(-runs="$2"); shift 2 ;;
        --time) limit=(-max_total_time="$2"); shift 2 ;;
        -h|--help) sed -n 2,4p "$0"; exit 0 ;;
        *) targets+=("$1"); shift ;;
    esac
done
((${#targets[@]})) || read -ra targets <<<"$(python "$here/harness.py" targets)"
mkdir -p "$work/crashes" "$work/logs"
for t in "${targets[@]}"; do
    max_len=$(python "$here/harness.py" max-len "$t")
    seeds=$(python "$here/harness.py" seed "$t" "$work/corpus" "$max_len")
    log="$work/logs/$t.$(date -u +%Y%m%dT%H%M%S).log"
    echo "== $t (${limit[*]}, log $log)"
    status=0
    python "$here/fuzz.py" "$t" -max_len="$max_len" -timeout=30 -rss_limit_mb=4096 \
        -artifact_prefix="$work/crashes/$t-" -print_final_stats=1 "${limit[@]}" "$seeds" >"$log" 2>&1 || status=$?
    grep -E "stat::number_of_executed_units|stat::average_exec_per_sec|Done [0-9]+ runs" "$log" || true
    if ((status)); then
        echo "!! $t stopped with status $status: see $log and $work/crashes/" >&2
        grep -A25 -m1 "Uncaught Python exception" "$log" >&2 || tail -20 "$log" >&2
    fi
done
