#!/usr/bin/env bash
# Benchmark (not a test): what packet capture costs the datapath.  One
# worker cross-connects 64-byte frames replayed from memory by net_pcap
# (infinite_rx) into a net_null sink, side by side in the same run:
#   - no capture running (the datapath's cost: a pointer test per burst);
#   - `capture start out FILE snaplen 128` on the sink port: every frame
#     copied by the worker, written by the control thread as it can, the
#     rest dropped and counted (the datapath never waits for the disk).
# DPDK's dpdk-dumpcap needs the pdump library in the primary process,
# which ternd does not run, so it has no side by side here.
#
#   scripts/bench-capture.sh [seconds per run] [rounds]
set -u
. "$(dirname "$0")/lib.sh"
tern_bench_start

secs=${1:-5}
rounds=${2:-3}
pcap=$dir/flows.pcap
ternctl=$TERN_BUILD/app/ternctl/ternctl

# 1024 flows of 64-byte frames (60 in the pcap, no FCS).
/usr/bin/python3 "$(dirname "$0")/gen-flows.py" "$pcap" 02:00:00:00:00:01 1024 spread

# run CAPTURE(0|1): prints "Mpps copied written dropped"
run() {
	cat >"$dir/x.conf" <<CONF
eal -l 0-1 --no-pci --in-memory --file-prefix tern-bench-cap-$$ --log-level=lib.eal:error --log-level=pmd.*:error
workers 1
port add in net_pcap0,rx_pcap=$pcap,infinite_rx=1
port add out net_null0,no-rx=1
port xconnect in out
CONF
	"$TERN_BUILD/app/ternd/ternd" -c "$dir/x.conf" -s "$dir/x.sock" -l error 2>"$dir/ternd.log" &
	local pid=$! mpps s
	tern_ctl_wait "$dir/x.sock"
	sleep 1
	[ "$1" = 1 ] && "$ternctl" -s "$dir/x.sock" capture start out "$dir/out.pcapng" snaplen 128
	mpps=$(tern_tx_mpps "$dir/x.sock" out "$secs")
	[ "$1" = 1 ] && "$ternctl" -s "$dir/x.sock" capture stop >/dev/null
	s=$("$ternctl" -s "$dir/x.sock" -j capture show)
	"$ternctl" -s "$dir/x.sock" shutdown >/dev/null
	wait $pid
	rm -f "$dir/out.pcapng"
	/usr/bin/python3 -c '
import json, sys
s = json.loads(sys.argv[2])
print("%s %d %d %d" % (sys.argv[1], s["copied"], s["written"], s["dropped"]))' "$mpps" "$s"
}

echo "64-byte frames, 1024 flows, 1 worker core, ${secs}s x ${rounds} rounds"
off_all=()
on_all=()
for r in $(seq "$rounds"); do
	read -r off _ <<<"$(run 0)"
	read -r on copied written dropped <<<"$(run 1)"
	echo "round $r: no capture $off Mpps; capturing $on Mpps" \
		"(copied $copied, written $written, dropped $dropped)"
	off_all+=("$off")
	on_all+=("$on")
done
/usr/bin/python3 - "${off_all[*]}" "${on_all[*]}" "$secs" <<'PY'
import statistics, sys
off = statistics.median(float(x) for x in sys.argv[1].split())
on = statistics.median(float(x) for x in sys.argv[2].split())
print("median: no capture %.2f Mpps, capturing every frame %.2f Mpps" % (off, on))
print("ratio capturing/no capture: %.2fx" % (on / off if off else 0))
PY
