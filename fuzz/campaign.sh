#!/usr/bin/env bash
# A fuzzing campaign: every cargo-fuzz target (or the ones named) for SECONDS each, JOBS at a
# time, each growing fuzz/corpus/<target> from fuzz/seeds/<target>. Prints one summary line
# per target (runs, exec/s, crashes) and exits 1 if any target crashed; the crashing inputs
# are in fuzz/artifacts/<target>/, to be minimised into fuzz/regressions/ (see README.md).
#
#   fuzz/campaign.sh [SECONDS] [TARGET...]     SECONDS defaults to 600
#   JOBS=2 NICE=19 fuzz/campaign.sh 600        run two targets at once, at low priority
#
# Needs cargo-fuzz (`cargo install cargo-fuzz --locked`); builds with `-s none` on stable.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-600}
shift || true
jobs=${JOBS:-1}
nice_level=${NICE:-0}
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "campaign.sh: cargo-fuzz is missing; install it with: cargo install cargo-fuzz --locked" >&2
    exit 2
fi
if [ $# -gt 0 ]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo fuzz list)
fi
cargo fuzz build -s none >/dev/null
bin=fuzz/target/x86_64-unknown-linux-gnu/release
logs=fuzz/campaign-logs/$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$logs"
echo "campaign: ${#targets[@]} targets, ${seconds} s each, ${jobs} at a time; logs in $logs"

run_one() {
    local t=$1
    mkdir -p "fuzz/corpus/$t" "fuzz/artifacts/$t"
    local dirs=("fuzz/corpus/$t")
    [ -d "fuzz/seeds/$t" ] && dirs+=("fuzz/seeds/$t")
    # -fork keeps the campaign going past a crash; every crash is still written to artifacts.
    nice -n "$nice_level" "$bin/$t" "${dirs[@]}" -artifact_prefix="fuzz/artifacts/$t/" \
        -max_total_time="$seconds" -fork=1 -ignore_crashes=1 -print_final_stats=1 \
        >"$logs/$t.log" 2>&1 || true
}

running=0
for t in "${targets[@]}"; do
    run_one "$t" &
    running=$((running + 1))
    if [ "$running" -ge "$jobs" ]; then
        wait -n || true
        running=$((running - 1))
    fi
done
wait

status=0
printf '%-22s %6s %14s %10s %8s %s\n' target secs runs "runs/s" crashes "last status line"
for t in "${targets[@]}"; do
    log=$logs/$t.log
    last=$(grep -E '^#[0-9]+' "$log" | tail -1)
    runs=$(echo "$last" | grep -o '^#[0-9]*' | tr -d '#')
    secs=$(echo "$last" | sed -nE 's/.* time: ([0-9]+)s.*/\1/p')
    rate=$(( ${runs:-0} / ${secs:-1} ))
    crashes=$(find "fuzz/artifacts/$t" -type f \( -name 'crash-*' -o -name 'oom-*' -o -name 'timeout-*' \) -newer "$logs" | wc -l)
    [ "$crashes" -gt 0 ] && status=1
    printf '%-22s %6s %14s %10s %8s %s\n' "$t" "${secs:-?}" "${runs:-?}" "$rate" "$crashes" "$last"
done
exit $status
