#!/usr/bin/env bash
# Benchmark (not a test): NAT44.
#
#   1. Translation rate of one worker core on established sessions: 64k UDP
#      flows replayed from memory by net_pcap (infinite_rx) through SNAT to
#      a net_null port, against DPDK's l3fwd (LPM) forwarding the same
#      frames, side by side in the same run (scripts/bench-l3fwd.sh does
#      the running and measuring).  Target: at least 0.7x l3fwd.
#   2. New sessions per second: a pcap of unique flows read once.
#   3. Memory per session.
#
#   scripts/bench-nat.sh [seconds per run] [rounds]
set -u
here=$(dirname "$0")
. "$here/lib.sh"
tern_need_root

secs=${1:-5}
rounds=${2:-3}

# ---- 1. established sessions vs l3fwd -------------------------------------
TERN_BENCH_FLOWS=65536 TERN_BENCH_NO_GRAPH=1 TERN_BENCH_TARGET=0.7 \
	TERN_BENCH_WHAT="NAT44 (SNAT, established sessions)" \
	TERN_BENCH_TERND=$TERN_BENCH_NAT \
	"$here/bench-l3fwd.sh" "$secs" "$rounds"

# ---- 2. new sessions per second, 3. memory ---------------------------------
tern_hugepages 512
ternd=$TERN_BUILD/app/ternd/ternd
ternctl=$TERN_BUILD/app/ternctl/ternctl
dir=$(mktemp -d /tmp/tern-bench-nat.XXXXXX)
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT
n=500000
in_mac=02:70:63:61:70:00
/usr/bin/python3 "$here/gen-flows.py" "$dir/new.pcap" "$in_mac" "$n" unique
cat >"$dir/t.conf" <<CONF
eal -l 0-1 --no-pci --in-memory --file-prefix tern-bench-nat-$$ --log-level=lib.eal:error --log-level=pmd.*:error
workers 1
nat max-sessions 1048576
port add in net_pcap0,rx_pcap=$dir/new.pcap
port add out net_null0,no-rx=1
addr add 10.0.0.1/24 dev in
addr add 10.255.0.1/24 dev out
neigh add 10.255.0.2 lladdr 02:00:00:00:00:02 dev out
route add 198.18.0.0/16 via 10.255.0.2
nat add snat src 10.0.0.0/8 out out to 10.255.0.10-10.255.0.25
CONF
"$ternd" -c "$dir/t.conf" -s "$dir/t.sock" -l error >"$dir/ternd.log" 2>&1 &
pid=$!
/usr/bin/python3 - "$ternctl" "$dir/t.sock" "$n" <<'PY'
import json, subprocess, sys, time
ternctl, sock, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
def stats():
    r = subprocess.run([ternctl, "-s", sock, "-j", "nat", "stats"], capture_output=True, text=True)
    return json.loads(r.stdout) if r.returncode == 0 else None
for _ in range(100):
    if stats():
        break
    time.sleep(0.1)
# net_pcap reads the file once from the first loop: sample until it stops.
samples = []
last = -1
while True:
    s = stats()
    samples.append((time.monotonic(), s["SessionsCreated"], s))
    if s["SessionsCreated"] == last and last > 0:
        break
    last = s["SessionsCreated"]
    time.sleep(0.05)
busy = [(t, c) for t, c, _ in samples if 0 < c < n]
s = samples[-1][2]
if len(busy) >= 2 and busy[-1][1] > busy[0][1]:
    rate = (busy[-1][1] - busy[0][1]) / (busy[-1][0] - busy[0][0])
    print("new sessions: %d created, %.0f sessions/s (one worker; pcap read by net_pcap)" %
          (s["SessionsCreated"], rate))
else:
    print("new sessions: %d created (too fast to time at 50 ms sampling)" % s["SessionsCreated"])
print("memory per session: %d bytes (target <= 128); with its share of the hash tables: "
      "see docs/nat.md" % s["SessionBytes"])
print("refused: TableFull %d, PortsExhausted %d" % (s["TableFull"], s["PortsExhausted"]))
PY
"$ternctl" -s "$dir/t.sock" shutdown >/dev/null 2>&1
wait "$pid"
pid=
