#!/usr/bin/env bash
# Benchmark (not a test): tern's timer wheel against DPDK's rte_timer, side
# by side in one process, with 1M pending timers.  Prints Mops/s for each
# and the line "ratio tern/rte_timer: Nx".  Runs without hugepages.
# Arguments go to bench_timer: -n timers, -o ops per round, -r rounds.
set -eu
. "$(dirname "$0")/lib.sh"
tern_need_root
tern_install_deps "${TERN_DEPS[@]}"
tern_build
exec "$TERN_BUILD/tests/bench/bench_timer" "$@"
