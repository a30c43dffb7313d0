#!/usr/bin/env bash
# Every figure BENCHMARKS.md records, in one sitting, each run's output kept
# in a directory of logs (default target/bench-logs/<date>/).
#
# Measure on a quiet machine: each step prints the load average before it
# starts. About 20 minutes on two cores after the release build.
#
# Usage: bench/all.sh [LOG_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
logs="${1:-target/bench-logs/$(date -u +%Y-%m-%dT%H%M)}"
mkdir -p "$logs"
export CARGO_TERM_COLOR=never

run() {
    local name="$1"
    shift
    printf '\n=== %s (load average: %s)\n' "$name" "$(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$logs/summary.txt"
    local started=$SECONDS
    "$@" 2>&1 | tee "$logs/$name.log" | tail -n 40
    printf '    %s: %d s\n' "$name" "$((SECONDS - started))" | tee -a "$logs/summary.txt"
}

cargo build --locked --release -q -p maskinporten-bench
cargo bench --locked -q -p maskinporten-bench --all-features --no-run 2>/dev/null

bench() { cargo run --locked --release -q -p maskinporten-bench -- "$@"; }
criterion() {
    cargo bench --locked -q -p maskinporten-bench --all-features --bench "$1" -- \
        --warm-up-time 2 --measurement-time 5 2>&1 | grep -v 'WARNING: this Maskinporten handle trusts'
}

run load bench load
run soak bench soak
run local bench local
run warm bench warm --token-bytes 900
run flood bench flood
run criterion-micro criterion micro
run criterion-extractor criterion extractor
run criterion-local criterion local
run criterion-introspection criterion introspection
run macro-expansion bash bench/macro-expansion.sh

if command -v valgrind >/dev/null; then
    binary=$(ls -t target/release/deps/hit_instructions-* | grep -v '\.d$' | head -n 1)
    for pass in guarded unguarded; do
        run "callgrind-$pass" valgrind --tool=callgrind --callgrind-out-file="$logs/callgrind.$pass.out" \
            --toggle-collect="*pass_${pass}*" "$binary"
    done
fi
echo "logs in $logs"
