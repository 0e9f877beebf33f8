#!/usr/bin/env bash
# Benchmark (not a test): L2 forwarding rate of one worker core, ternd's
# port_rx -> xconnect -> port_tx against testpmd's io forwarding, side by
# side in the same run, on the same devices: 64-byte frames replayed from
# memory by net_pcap (infinite_rx) into a net_null sink.
#
#   scripts/bench-xconnect.sh [seconds per run] [rounds]
set -u
. "$(dirname "$0")/lib.sh"
tern_bench_start

secs=${1:-5}
rounds=${2:-3}
pcap=$dir/flows.pcap

# 1024 flows of 64-byte frames (60 in the pcap, no FCS).
/usr/bin/python3 "$(dirname "$0")/gen-flows.py" "$pcap" 02:00:00:00:00:01 1024 spread

devs="--vdev net_pcap0,rx_pcap=$pcap,infinite_rx=1 --vdev net_null0,no-rx=1"

run_ternd() {
	cat >"$dir/x.conf" <<CONF
eal -l 0-1 --no-pci --in-memory --log-level=lib.eal:error --log-level=pmd.*:error
workers 1
port add in net_pcap0,rx_pcap=$pcap,infinite_rx=1
port add out net_null0,no-rx=1
port xconnect in out
CONF
	"$TERN_BUILD/app/ternd/ternd" -c "$dir/x.conf" -s "$dir/x.sock" -l error 2>"$dir/ternd.log" &
	local pid=$!
	tern_ctl_wait "$dir/x.sock"
	sleep 1
	tern_tx_mpps "$dir/x.sock" out "$secs"
	"$TERN_BUILD/app/ternctl/ternctl" -s "$dir/x.sock" shutdown >/dev/null
	wait $pid
}

run_testpmd() {
	# io forwarding on lcore 1, port 0 -> port 1; Tx-pps of port 1, averaged.
	timeout $((secs + 8)) dpdk-testpmd -l 0-1 --no-pci --in-memory --log-level=lib.eal:error \
		$devs -- --forward-mode=io --auto-start --stats-period=1 --nb-cores=1 \
		--txd=1024 --rxd=1024 >"$dir/pmd.txt" 2>&1 </dev/null
	/usr/bin/python3 - "$dir/pmd.txt" "$secs" <<'PY'
import re, sys
txt = open(sys.argv[1], errors="replace").read()
# Each stats block lists port 0 then port 1; take port 1's Tx-pps, skip warm-up.
blocks = re.findall(r"NIC statistics for port 1.*?Tx-pps:\s+(\d+)", txt, re.S)
vals = [int(v) for v in blocks[2:]] or [int(v) for v in blocks]
print("%.2f" % (sum(vals) / len(vals) / 1e6 if vals else 0.0))
PY
}

echo "64-byte frames, 1024 flows, 1 worker core, ${secs}s x ${rounds} rounds"
t_all=()
p_all=()
for r in $(seq "$rounds"); do
	t=$(run_ternd)
	p=$(run_testpmd)
	echo "round $r: ternd xconnect $t Mpps, testpmd io $p Mpps"
	t_all+=("$t")
	p_all+=("$p")
done
/usr/bin/python3 - "${t_all[*]}" "${p_all[*]}" <<'PY'
import statistics, sys
t = statistics.median(float(x) for x in sys.argv[1].split())
p = statistics.median(float(x) for x in sys.argv[2].split())
print("median: ternd xconnect %.2f Mpps, testpmd io %.2f Mpps" % (t, p))
print("ratio ternd/testpmd-io: %.2fx" % (t / p if p else 0))
PY
