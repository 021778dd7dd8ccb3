#!/usr/bin/env bash
# Runs every fuzz target for SECONDS seconds each (default 60) and prints the number of
# inputs tried per target. Needs cargo-fuzz (`cargo install cargo-fuzz`) and a compiler
# that accepts -Z flags: the nightly toolchain when rustup has one, else stable with
# RUSTC_BOOTSTRAP=1.
#
#   fuzz/run.sh 60
set -euo pipefail
cd "$(dirname "$0")"
seconds="${1:-60}"

if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
    fuzz=(cargo +nightly fuzz)
else
    export RUSTC_BOOTSTRAP=1
    fuzz=(cargo fuzz)
fi

status=0
for target in $("${fuzz[@]}" list); do
    mkdir -p "corpus/$target" "artifacts/$target"
    log="artifacts/$target/last-run.log"
    if "${fuzz[@]}" run "$target" "corpus/$target" -- \
        -max_total_time="$seconds" -print_final_stats=1 >"$log" 2>&1; then
        result=ok
    else
        result="FAILED (see $log; a crash input is in artifacts/$target/)"
        status=1
    fi
    runs=$(grep -E '^stat::number_of_executed_units' "$log" | awk '{print $2}' | tail -1 || true)
    echo "fuzz $target inputs=${runs:-?} result=$result"
done
exit $status
