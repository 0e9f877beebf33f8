#!/usr/bin/env bash
# Benchmark (not a test): IPv4 forwarding rate of one worker core, ternd
# against DPDK's l3fwd (LPM mode) and l3fwd-graph, built from the examples of
# Debian's dpdk-doc package, side by side in the same run on the same
# devices: 64-byte frames, 1024 UDP flows over 16 destination prefixes,
# replayed from memory by net_pcap (infinite_rx) into a net_null sink.
#
#   scripts/bench-l3fwd.sh [seconds per run] [rounds]
#
# The three forward on lcore 1, one after another (never at once), alternating
# for several rounds; the script prints each round, the medians and the
# ratios. ternd does the full RFC 1812 input checks, decrements the TTL with
# an incremental checksum and takes the next hop's MAC from its ARP table (a
# static neighbour); l3fwd and l3fwd-graph check little and use static MACs.
#
# All three have the same FIB: 198.18.0.0/24 ... 198.18.15.0/24 to the
# net_null port. l3fwd reads it from --rule_ipv4 (its stock table sends
# 198.18.N.0/24 to port N); l3fwd-graph has no such option, so its build
# copy gets the same 16 routes in place of its 8 stock ones. The l3fwd copy
# also masks its RX checksum offload request with what the vdevs offer
# (none); its fast path never looks at checksums, so its work is unchanged.
# The copies are built once, in build/bench/l3fwd.
#
# scripts/bench-nat.sh reuses this script through the environment:
#   TERN_BENCH_FLOWS      flows in the pcap (default 1024)
#   TERN_BENCH_TERND      extra ternd config lines (e.g. NAT rules)
#   TERN_BENCH_NO_GRAPH=1 no l3fwd-graph run
#   TERN_BENCH_WHAT       the title's first words, TERN_BENCH_TARGET the
#                         ratio ternd/l3fwd aimed at (default 1.0)
#
# Rates: ternd from `ternctl -j link show out` (tx_packets), l3fwd and
# l3fwd-graph from DPDK telemetry (`/ethdev/stats,1`, opackets), over the
# same window after a 1 s warm-up. Only ratios within one run mean anything.
set -u
. "$(dirname "$0")/lib.sh"
tern_need_root
tern_install_deps "${TERN_DEPS[@]}" dpdk-doc
if ! tern_build; then
	echo "$0: ternd does not build" >&2
	exit 1
fi
tern_hugepages 512

secs=${1:-5}
rounds=${2:-3}
flows=${TERN_BENCH_FLOWS:-1024}
what=${TERN_BENCH_WHAT:-IPv4 forwarding}
target=${TERN_BENCH_TARGET:-1.0}
no_graph=${TERN_BENCH_NO_GRAPH:-0}
ternd=$TERN_BUILD/app/ternd/ternd
ternctl=$TERN_BUILD/app/ternctl/ternctl
prefix=tern-bench-l3fwd-$$

# ---- cleanup: only what this script started, by PID ----------------------
dir=$(mktemp -d /tmp/tern-bench-l3fwd.XXXXXX)
cur_pid=
m_pid=
stop_pid() { # stop_pid PID: SIGTERM, then SIGKILL after 10 s
	local p=$1
	kill -0 "$p" 2>/dev/null || { wait "$p" 2>/dev/null; return 0; }
	kill -TERM "$p" 2>/dev/null
	for _ in $(seq 100); do
		kill -0 "$p" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$p" 2>/dev/null
	wait "$p" 2>/dev/null
	return 0
}
cleanup() {
	[ -n "$m_pid" ] && stop_pid "$m_pid"
	[ -n "$cur_pid" ] && stop_pid "$cur_pid"
	rm -rf "$dir" /var/run/dpdk/"$prefix"-*
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- copies of l3fwd and l3fwd-graph under build/ (lib.sh) ---------------
tern_build_l3fwd || exit 1

# ---- traffic --------------------------------------------------------------
pcap=$dir/flows.pcap
in_mac=02:70:63:61:70:00 # net_pcap's MAC: ternd's port `in`
/usr/bin/python3 "$(dirname "$0")/gen-flows.py" "$pcap" "$in_mac" "$flows" spread

# ---- measuring ------------------------------------------------------------
# measure.py ternd PID SOCK TERNCTL SECS | telemetry PID SOCK SECS
# waits for traffic (gives up early if PID exits), warms up 1 s, measures
# SECS; prints "MPPS NOTE...".
cat >"$dir/measure.py" <<'PY'
import json, socket, subprocess, sys, time

def out(rate, note=""):
    print("%.2f %s" % (rate, note))
    sys.exit(0)

def alive():
    try:
        with open("/proc/%s/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False

def until(fn, limit=20.0):
    end = time.monotonic() + limit
    while time.monotonic() < end:
        if not alive():
            out(0, "exited before it forwarded")
        try:
            v = fn()
            if v:
                return v
        except Exception:
            pass
        time.sleep(0.1)
    return None

mode, pid, sock = sys.argv[1], sys.argv[2], sys.argv[3]
secs = float(sys.argv[-1])

if mode == "ternd":
    ternctl = sys.argv[4]
    def ctl(*args):
        r = subprocess.run([ternctl, "-s", sock, "-t", "10", "-j"] + list(args),
                           capture_output=True, text=True, timeout=20)
        if r.returncode:
            raise RuntimeError(r.stderr.strip())
        return json.loads(r.stdout)
    def sample():
        ports = {p["name"]: p for p in ctl("link", "show")["ports"]}
        st = ctl("stats", "show")
        nodes = {n["node"]: n["packets"] for n in st["nodes"]}
        drops = {d["reason"]: (d["packets"], d["description"]) for d in st["drops"]}
        return time.monotonic(), ports, nodes, drops
    if not until(lambda: ctl("version")):
        out(0, "ternd did not answer on its socket")
    if not until(lambda: ctl("link", "show", "out")["ports"][0]["tx_packets"] > 0):
        out(0, "ternd sent nothing on port out")
    time.sleep(1)
    try:
        t0, p0, n0, d0 = sample()
        time.sleep(secs)
        t1, p1, n1, d1 = sample()
    except Exception as e:
        out(0, "ternd: %s" % e)
    dt = t1 - t0
    tx = p1["out"]["tx_packets"] - p0["out"]["tx_packets"]
    rx = p1["in"]["rx_packets"] - p0["in"]["rx_packets"]
    fwd = n1.get("ip_forward", 0) - n0.get("ip_forward", 0)
    drops = sorted(((d1[r][0] - d0.get(r, (0,))[0], r, d1[r][1]) for r in d1),
                   reverse=True)
    ndrop = sum(d[0] for d in drops)
    note = "(ip_forward %.1f%% of rx, drops %d)" % (100.0 * fwd / rx if rx else 0, ndrop)
    if rx and (fwd < 0.99 * rx or tx < 0.99 * rx or ndrop > 0.01 * rx):
        note += " WARNING: ternd forwards %d of %d received, sends %d" % (fwd, rx, tx)
        if drops and drops[0][0] > 0:
            note += "; top drop reason %s: %d (%s)" % (drops[0][1], drops[0][0], drops[0][2])
    out(tx / dt / 1e6, note)

# DPDK telemetry (l3fwd, l3fwd-graph): port 0 in, port 1 out.
s = None
def connect():
    global s
    c = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    c.connect(sock)
    c.recv(16384)
    s = c
    return True
def stats(port):
    s.send(("/ethdev/stats,%d" % port).encode())
    return json.loads(s.recv(65536).decode())["/ethdev/stats"]
if not until(connect):
    out(0, "no telemetry socket %s" % sock)
if not until(lambda: stats(1)["opackets"] > 0):
    out(0, "sent nothing on port 1")
time.sleep(1)
try:
    t0, i0, o0 = time.monotonic(), stats(0)["ipackets"], stats(1)["opackets"]
    time.sleep(secs)
    t1, i1, o1 = time.monotonic(), stats(0)["ipackets"], stats(1)["opackets"]
except Exception as e:
    out(0, "telemetry: %s" % e)
rx, tx = i1 - i0, o1 - o0
note = "(port 1 sent %.1f%% of port 0 rx)" % (100.0 * tx / rx if rx else 0)
if rx and tx < 0.99 * rx:
    note += " WARNING: drops"
out(tx / (t1 - t0) / 1e6, note)
PY

rate=
note=
measure() { # measure NAME LOG ARGS...: runs measure.py, sets rate and note
	local name=$1 log=$2 line
	shift 2
	# In the background so that a signal's trap runs at once.
	/usr/bin/python3 "$dir/measure.py" "$@" >"$dir/measure.out" 2>&1 </dev/null &
	m_pid=$!
	wait "$m_pid"
	m_pid=
	line=$(tail -1 "$dir/measure.out")
	rate=${line%% *}
	note=${line#"$rate"}
	note=${note# }
	case $rate in
	[0-9]*.[0-9][0-9]) ;;
	*) note="measurement failed: $line" rate=0.00 ;;
	esac
	if [ "$rate" = 0.00 ]; then
		note="$note; last lines of $name's log:"$'\n'"$(tail -5 "$log" 2>/dev/null | tr -d '\033')"
	fi
}

# Where the time goes: when perf is installed, lcore 1 is sampled for 2 s
# in round 1, right after the measurement, and the samples are split into
# the PMDs' share (net_pcap reading and copying the replayed frames, net_null
# freeing them: the same work for all three) and the rest (the program, its
# DPDK libraries, the C library).  With the rate this gives nanoseconds per
# packet for each part.
profiles=()
profile() { # profile NAME: samples lcore 1 (round 1 only, perf optional)
	local name=$1 data=$dir/perf-$1.data
	[ "$r" = 1 ] && command -v perf >/dev/null 2>&1 || return 0
	[ "$rate" != 0.00 ] || return 0
	perf record -q -C 1 -o "$data" -- sleep 2 >/dev/null 2>&1 || return 0
	profiles+=("$name $rate $(perf report -i "$data" --sort dso --stdio -q 2>/dev/null |
		awk '/%/ { sub("%", "", $1); if ($2 ~ /librte_net_/) p += $1; else o += $1 }
		     END { printf "%.1f %.1f", p, o }')")
	rm -f "$data"
}

run_ternd() {
	tern_bench_fwd_conf "$prefix-ternd" "$pcap" "$flows" >"$dir/ternd.conf"
	rm -f "$dir/ternd.sock"
	"$ternd" -c "$dir/ternd.conf" -s "$dir/ternd.sock" -l error >"$dir/ternd.log" 2>&1 </dev/null &
	cur_pid=$!
	measure ternd "$dir/ternd.log" ternd "$cur_pid" "$dir/ternd.sock" "$ternctl" "$secs"
	profile ternd
	"$ternctl" -s "$dir/ternd.sock" -t 10 shutdown >/dev/null 2>&1
	stop_pid "$cur_pid"
	cur_pid=
}

run_l3fwd() {
	rm -rf "/var/run/dpdk/$prefix-lpm"
	tern_l3fwd_argv lpm "$prefix-lpm" "$pcap" "$dir"
	"${tern_argv[@]}" >"$dir/l3fwd.log" 2>&1 </dev/null &
	cur_pid=$!
	measure l3fwd "$dir/l3fwd.log" telemetry "$cur_pid" "/var/run/dpdk/$prefix-lpm/dpdk_telemetry.v2" "$secs"
	profile l3fwd-lpm
	stop_pid "$cur_pid"
	cur_pid=
	rm -rf "/var/run/dpdk/$prefix-lpm"
}

run_graph() {
	rm -rf "/var/run/dpdk/$prefix-graph"
	tern_l3fwd_argv graph "$prefix-graph" "$pcap" "$dir"
	"${tern_argv[@]}" >"$dir/graph.log" 2>&1 </dev/null &
	cur_pid=$!
	measure l3fwd-graph "$dir/graph.log" telemetry "$cur_pid" "/var/run/dpdk/$prefix-graph/dpdk_telemetry.v2" "$secs"
	profile l3fwd-graph
	stop_pid "$cur_pid"
	cur_pid=
	rm -rf "/var/run/dpdk/$prefix-graph"
}

# Other busy processes (DPDK pollers of other runs...) skew every rate.
busy=
check_busy() {
	local p
	# Not processes under 2 s old (ps and awk here, say): their average
	# CPU share, all ps knows, is high and means nothing.
	for p in $(ps -eo pid=,etimes=,pcpu= | awk -v me=$$ '$1 != me && $2 >= 2 && $3 >= 50 { print $1 }'); do
		[ "$p" = "$cur_pid" ] && continue
		case " $busy " in *" $p "*) continue ;; esac
		busy="$busy $p"
	done
}
check_busy
echo "$what, 64-byte frames, $flows flows over 16 prefixes, 1 worker core (lcore 1), ${secs}s x ${rounds} rounds"
t_all=()
l_all=()
g_all=()
for r in $(seq "$rounds"); do
	run_ternd
	t=$rate tn=$note
	run_l3fwd
	l=$rate ln=$note
	g=0.00 gn="(not run)"
	[ "$no_graph" = 1 ] || { run_graph; g=$rate gn=$note; }
	echo "round $r: ternd $t Mpps, l3fwd-lpm $l Mpps$([ "$no_graph" = 1 ] || echo ", l3fwd-graph $g Mpps")"
	echo "  ternd $tn"
	echo "  l3fwd-lpm $ln"
	echo "  l3fwd-graph $gn"
	t_all+=("$t")
	l_all+=("$l")
	g_all+=("$g")
done
check_busy
for p in $busy; do
	info=$(ps -o pid=,pcpu=,args= -p "$p" 2>/dev/null | cut -c1-100)
	echo "warning: another busy process, rates are skewed: ${info:-pid $p (exited)}"
done
/usr/bin/python3 - "${t_all[*]}" "${l_all[*]}" "${g_all[*]}" "$rounds" "$secs" "$target" "$no_graph" <<'PY'
import statistics, sys
t, l, g = (statistics.median(float(x) for x in a.split()) for a in sys.argv[1:4])
ratio = lambda a, b: "%.2fx" % (a / b) if b else "n/a"
print("medians over %s rounds of %s s:" % (sys.argv[4], sys.argv[5]))
print("ternd  %.2f Mpps   l3fwd-lpm %.2f Mpps" % (t, l) +
      ("   l3fwd-graph %.2f Mpps" % g if sys.argv[7] != "1" else ""))
print("ratio ternd/l3fwd-lpm: %s (target >= %sx)" % (ratio(t, l), sys.argv[6]))
if sys.argv[7] != "1":
    print("ratio ternd/l3fwd-graph: %s" % ratio(t, g))
PY
if [ ${#profiles[@]} -gt 0 ]; then
	echo "where the time goes (perf on lcore 1, round 1), nanoseconds per packet:"
	for p in "${profiles[@]}"; do
		# NAME MPPS PMD% REST%
		set -- $p
		awk -v n="$1" -v mpps="$2" -v pmd="$3" -v rest="$4" 'BEGIN {
			t = 1000 / mpps; s = pmd + rest
			if (s <= 0) { printf "  %-12s no samples\n", n; exit }
			printf "  %-12s %5.1f ns = PMDs (net_pcap in, net_null out) %5.1f + the rest %5.1f\n",
			       n, t, t * pmd / s, t * rest / s }'
	done
fi
