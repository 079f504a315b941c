#!/bin/sh
# Runs every fuzz target for a fixed budget (seconds each, default 30) and prints each one's
# executions. Usage: fuzz/run.sh [seconds] [target...]. Needs the nightly toolchain and
# cargo-fuzz (`cargo install cargo-fuzz`). Exits non-zero when a target finds a crash; the input
# is then in fuzz/artifacts/<target>/ (replay: cargo +nightly fuzz run <target> <file>).
set -eu
cd "$(dirname "$0")"
budget="${1:-30}"
[ "$#" -gt 0 ] && shift
targets="${*:-$(cargo +nightly fuzz list)}"
cargo +nightly fuzz build -O
status=0
for t in $targets; do
    mkdir -p "corpus/$t"
    log="target/fuzz-$t.log"
    if cargo +nightly fuzz run -O "$t" "corpus/$t" -- -max_total_time="$budget" -print_final_stats=1 >"$log" 2>&1; then
        result=ok
    else
        result=CRASH
        status=1
    fi
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    echo "$t: $result, ${runs:-?} executions in ${budget} s (log: fuzz/$log)"
done
exit "$status"
