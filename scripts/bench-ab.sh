#!/usr/bin/env bash
# Benchmark helper (not a test): is build B faster than build A?  Paired
# runs of two ternd builds on the traffic of bench-l3fwd.sh (net_pcap
# infinite_rx in, net_null out, one worker), alternating which goes first,
# and the median of the per-pair ratios B/A.
#
#   scripts/bench-ab.sh BUILD_A BUILD_B [pairs] [seconds]
#
# e.g. a release build of main against one of a change:
#   git worktree add /tmp/b HEAD && meson setup /tmp/build-b /tmp/b
#   scripts/bench-ab.sh build /tmp/build-b 10 2
#
# Why pairs: this VM's rate drifts by up to a third within minutes (other
# tenants), so two builds measured minutes apart cannot be compared; two
# runs back to back can, and the median ratio shrugs off the odd pair a
# neighbour spoiled.  Differences under about 2% are noise even so, and in
# a busy hour pairs of one build with itself spread by 20%: run A against A
# first to see the hour's noise, and use more pairs when it is high.
#
#   TERN_BENCH_FLOWS  flows in the pcap (default 1024)
#   TERN_BENCH_TERND  extra ternd config lines, e.g. for NAT44 as
#                     bench-nat.sh runs it (with TERN_BENCH_FLOWS=65536):
#     TERN_BENCH_TERND=nat: lib.sh's $TERN_BENCH_NAT
set -u
. "$(dirname "$0")/lib.sh"
tern_need_root
if [ $# -lt 2 ]; then
	sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
fi
a=$1 b=$2 pairs=${3:-10} secs=${4:-2}
for build in "$a" "$b"; do
	if [ ! -x "$build/app/ternd/ternd" ] || [ ! -x "$build/app/ternctl/ternctl" ]; then
		echo "$0: $build: no app/ternd/ternd or app/ternctl/ternctl (build it first)" >&2
		exit 1
	fi
done
tern_install_deps python3-scapy
tern_hugepages 512
flows=${TERN_BENCH_FLOWS:-1024}
[ "${TERN_BENCH_TERND:-}" = nat ] && TERN_BENCH_TERND=$TERN_BENCH_NAT

dir=$(mktemp -d /tmp/tern-bench-ab.XXXXXX)
pid=
cleanup() {
	if [ -n "$pid" ]; then
		kill "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	fi
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

/usr/bin/python3 "$(dirname "$0")/gen-flows.py" "$dir/flows.pcap" 02:70:63:61:70:00 "$flows" spread
tern_bench_fwd_conf "tern-bench-ab-$$" "$dir/flows.pcap" "$flows" >"$dir/ternd.conf"

# rate BUILD: Mpps over $secs after a 2 s warm-up, or 0 if it never forwarded.
rate() {
	local build=$1 r
	rm -f "$dir/ternd.sock"
	"$build/app/ternd/ternd" -c "$dir/ternd.conf" -s "$dir/ternd.sock" -l error \
		>"$dir/ternd.log" 2>&1 </dev/null &
	pid=$!
	r=0
	if TERN_BUILD=$build tern_ctl_wait "$dir/ternd.sock"; then
		sleep 2
		r=$(TERN_BUILD=$build tern_tx_mpps "$dir/ternd.sock" out "$secs" 2>/dev/null) || r=0
	fi
	"$build/app/ternctl/ternctl" -s "$dir/ternd.sock" -t 10 shutdown >/dev/null 2>&1
	wait "$pid" 2>/dev/null
	pid=
	[ "${r:-0.00}" = 0.00 ] && r=0
	echo "$r"
}

ratios=()
for i in $(seq "$pairs"); do
	if [ $((i % 2)) = 1 ]; then
		ra=$(rate "$a")
		rb=$(rate "$b")
	else
		rb=$(rate "$b")
		ra=$(rate "$a")
	fi
	if [ "$ra" = 0 ] || [ "$rb" = 0 ]; then
		echo "pair $i: A $ra Mpps, B $rb Mpps: a run did not forward; its log:" >&2
		cat "$dir/ternd.log" >&2
		exit 1
	fi
	r=$(/usr/bin/python3 -c "print('%.3f' % ($rb / $ra))")
	ratios+=("$r")
	echo "pair $i: A $ra Mpps   B $rb Mpps   B/A $r"
done
printf '%s\n' "${ratios[@]}" | sort -n |
	awk '{ v[NR] = $1 } END {
		m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		printf "median B/A over %d pairs: %.3f\n", NR, m
	}'
