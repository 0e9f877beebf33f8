#!/bin/sh
# Build if needed, then run the timer benchmark (tern wheel vs rte_timer).
# Arguments go to bench_timer: -n timers, -o ops per round, -r rounds.
set -e
cd "$(dirname "$0")/.."
[ -f build/build.ninja ] || meson setup build
ninja -C build tests/bench/bench_timer
exec build/tests/bench/bench_timer "$@"
