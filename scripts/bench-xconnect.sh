#!/usr/bin/env bash
# Benchmark (not a test): L2 forwarding rate of one worker core, ternd's
# port_rx -> xconnect -> port_tx against testpmd's io forwarding, side by
# side in the same run, on the same devices: 64-byte frames replayed from
# memory by net_pcap (infinite_rx) into a net_null sink.
#
#   scripts/bench-xconnect.sh [seconds per run] [rounds]
set -u
. "$(dirname "$0")/lib.sh"
tern_need_root
tern_install_deps "${TERN_DEPS[@]}"
tern_build
tern_hugepages 512

secs=${1:-5}
rounds=${2:-3}
dir=$(mktemp -d /tmp/tern-bench.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$dir"' EXIT
pcap=$dir/flows.pcap

/usr/bin/python3 - "$pcap" <<'PY'
import sys
from scapy.all import Ether, IP, UDP, wrpcap
# 1024 flows: 64-byte frames (60 in the pcap, no FCS).
pkts = [Ether(dst="02:00:00:00:00:01", src="02:00:00:00:00:02") /
        IP(src="10.0.%d.%d" % (i >> 8, i & 255), dst="198.18.%d.1" % (i % 16)) /
        UDP(sport=1024 + i, dport=9) for i in range(1024)]
pkts = [p / (b"\0" * (60 - len(p))) for p in pkts]
wrpcap(sys.argv[1], pkts)
PY

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
	for _ in $(seq 100); do
		"$TERN_BUILD/app/ternctl/ternctl" -s "$dir/x.sock" version >/dev/null 2>&1 && break
		sleep 0.1
	done
	sleep 1
	local a b
	a=$("$TERN_BUILD/app/ternctl/ternctl" -s "$dir/x.sock" -j link show out)
	sleep "$secs"
	b=$("$TERN_BUILD/app/ternctl/ternctl" -s "$dir/x.sock" -j link show out)
	"$TERN_BUILD/app/ternctl/ternctl" -s "$dir/x.sock" shutdown >/dev/null
	wait $pid
	/usr/bin/python3 -c '
import json, sys
a = json.loads(sys.argv[1])["ports"][0]["tx_packets"]
b = json.loads(sys.argv[2])["ports"][0]["tx_packets"]
print("%.2f" % ((b - a) / float(sys.argv[3]) / 1e6))' "$a" "$b" "$secs"
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
