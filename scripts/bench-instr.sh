#!/usr/bin/env bash
# Benchmark (not a test): instructions per packet, counted by valgrind's
# callgrind, for ternd against DPDK's l3fwd (LPM) and l3fwd-graph on the
# traffic of bench-l3fwd.sh (1024 flows), or for ternd's NAT44 against l3fwd
# on the traffic of bench-nat.sh (64k established flows).
#
#   scripts/bench-instr.sh [fwd|nat] [seconds]
#
# Why: on this VM a rate drifts by a third within minutes, so a change of a
# few percent cannot be seen in Mpps (bench-ab.sh needs many pairs).  An
# instruction count is the same in every run, whatever else the machine
# does.  It is not time: it misses cache misses (what NAT44's big tables
# cost) and how many instructions a cycle retires; but for the compute a
# change adds or removes it is exact.
#
# Each program forwards the replayed frames (net_pcap infinite_rx to
# net_null, as in bench-l3fwd.sh) under callgrind; after a warm-up the
# counters are zeroed, run for SECONDS (default 10), and dumped.  Packets in
# the window: how often net_pcap's per-packet copy ran (the most executed
# instruction of its object).  The PMDs' share (net_pcap reading, net_null
# freeing) is the same work in every program: their own code and what they
# call in other objects (net_null's per-mbuf free asks the dynamic linker for
# the lcore id, __tls_get_addr, about 11 instructions a packet); the rest is
# the program, its DPDK libraries and the C library.
#
# ternd is built for this in build/valgrind with -Dmarch=x86-64-v3 (valgrind
# does not decode AVX-512, which -march=native may use), so its counts are
# those of that build; the l3fwd copies are bench-l3fwd.sh's (lib.sh).
set -u
. "$(dirname "$0")/lib.sh"
tern_need_root
mode=${1:-fwd}
secs=${2:-10}
case $mode in
fwd) flows=1024 ;;
nat) flows=65536 ;;
*)
	echo "usage: $(sed -n '7p' "$0" | sed 's/^# *//')" >&2
	exit 2
	;;
esac
tern_install_deps "${TERN_DEPS[@]}" dpdk-doc valgrind
vbuild=$TERN_BUILD/valgrind
if [ ! -f "$vbuild/build.ninja" ] &&
	! meson setup "$vbuild" "$TERN_TOP" -Dmarch=x86-64-v3 -Dtests=false >/dev/null; then
	echo "$0: cannot configure $vbuild" >&2
	exit 1
fi
if ! ninja -C "$vbuild" >/dev/null; then
	echo "$0: ternd does not build in $vbuild" >&2
	exit 1
fi
tern_build_l3fwd || exit 1
ternctl=$vbuild/app/ternctl/ternctl
prefix=tern-bench-instr-$$

dir=$(mktemp -d /tmp/tern-bench-instr.XXXXXX)
pid=
cleanup() {
	if [ -n "$pid" ]; then
		kill "$pid" 2>/dev/null
		for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	fi
	rm -rf "$dir" /var/run/dpdk/"$prefix"-*
}
trap cleanup EXIT
trap 'exit 130' INT TERM

/usr/bin/python3 "$(dirname "$0")/gen-flows.py" "$dir/flows.pcap" 02:70:63:61:70:00 "$flows" spread
# No hugepages under valgrind: DPDK then needs its legacy memory mode,
# which --in-memory refuses, hence a file prefix of this run's own.
eal_mem="--no-huge -m 2048"

# sent NAME: packets the program has sent on its out port (0 if unknown).
sent() {
	case $1 in
	ternd)
		"$ternctl" -s "$dir/ternd.sock" -t 5 -j link show out 2>/dev/null |
			/usr/bin/python3 -c 'import json, sys; print(json.load(sys.stdin)["ports"][0]["tx_packets"])' 2>/dev/null ||
			echo 0
		;;
	*)
		/usr/bin/python3 - "/var/run/dpdk/$prefix-$1/dpdk_telemetry.v2" <<-'PY' 2>/dev/null || echo 0
			import json, socket, sys
			s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
			s.connect(sys.argv[1])
			s.recv(16384)
			s.send(b"/ethdev/stats,1")
			print(json.loads(s.recv(65536).decode())["/ethdev/stats"]["opackets"])
		PY
		;;
	esac
}

# count NAME CMD...: runs CMD under callgrind; once it has sent two passes
# over the flows, counts SECS seconds into $dir/NAME.cg.1.
count() {
	local name=$1 n=0
	shift
	valgrind --tool=callgrind --dump-instr=yes --callgrind-out-file="$dir/$name.cg" \
		"$@" >"$dir/$name.log" 2>&1 </dev/null &
	pid=$!
	# Slow to start under valgrind (DPDK touches all its memory).
	for _ in $(seq 600); do
		kill -0 "$pid" 2>/dev/null || break
		n=$(sent "$name")
		[ "$n" -gt $((2 * flows)) ] && break
		sleep 0.5
	done
	if [ "$n" -le $((2 * flows)) ]; then
		echo "$name: did not forward under valgrind; last lines of its log:" >&2
		grep -v '^==' "$dir/$name.log" | tail -5 >&2
		return 1
	fi
	callgrind_control -z "$pid" >/dev/null 2>&1
	sleep "$secs"
	callgrind_control -d "$pid" >/dev/null 2>&1
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	pid=
	rm -rf "/var/run/dpdk/$prefix-$name"
	[ -s "$dir/$name.cg.1" ]
}

[ "$mode" = nat ] && export TERN_BENCH_TERND=$TERN_BENCH_NAT
tern_bench_fwd_conf "$prefix-ternd" "$dir/flows.pcap" "$flows" "$eal_mem" >"$dir/ternd.conf"

progs=()
count ternd "$vbuild/app/ternd/ternd" -c "$dir/ternd.conf" -s "$dir/ternd.sock" -l error &&
	progs+=(ternd)
kinds=(lpm)
[ "$mode" = fwd ] && kinds+=(graph)
for k in "${kinds[@]}"; do
	# shellcheck disable=SC2086 # $eal_mem: several arguments
	tern_l3fwd_argv "$k" "$prefix-l3fwd-$k" "$dir/flows.pcap" "$dir" $eal_mem
	count "l3fwd-$k" "${tern_argv[@]}" && progs+=("l3fwd-$k")
done
[ ${#progs[@]} -gt 0 ] || exit 1

what="IPv4 forwarding"
[ "$mode" = nat ] && what="NAT44 (SNAT, established sessions)"
echo "$what, 64-byte frames, $flows flows: instructions per packet (callgrind, ${secs}s window)"
/usr/bin/python3 - "$dir" "${progs[@]}" <<'PY'
import collections, re, sys

def pmd(ob):
    return "librte_net_pcap" in ob or "librte_net_null" in ob

def load(path):
    """Self cost per (object, function), per instruction of net_pcap, and
    the PMDs' calls into other objects (inclusive, per callee)."""
    names, fn_cost, pcap = {}, collections.Counter(), collections.Counter()
    pmd_calls = collections.Counter()
    ob = fn = cob = cfn = None
    last = 0
    skip = False
    def name(kind, text):
        m = re.match(r"\((\d+)\)(?: (.*))?", text)
        if not m:
            return text
        if m.group(2):
            names[kind, m.group(1)] = m.group(2)
        return names.get((kind, m.group(1)), "?")
    for line in open(path):
        key, _, rest = line.rstrip("\n").partition("=")
        if key == "ob":
            ob = name("ob", rest)
        elif key == "fn":
            fn = name("fn", rest)
        elif key == "cob":
            cob = name("ob", rest)
        elif key == "cfn":
            cfn = name("fn", rest)
        elif key == "calls":
            skip = True  # the next line is the call's inclusive cost
        elif line[:1] in "+-*0123456789":
            parts = line.split()
            p = parts[0]
            if p == "*":
                addr = last
            elif p[0] in "+-":
                addr = last + int(p, 0)
            else:
                addr = int(p, 0)
            last = addr
            if skip:
                # A callee without cob= is in the caller's object.
                callee_ob = cob or ob
                if pmd(ob) and not pmd(callee_ob) and len(parts) >= 3:
                    pmd_calls[callee_ob, cfn] += int(parts[2])
                skip = False
                cob = None
                continue
            if len(parts) < 3:
                continue
            c = int(parts[2])
            fn_cost[ob, fn] += c
            if "librte_net_pcap" in ob:
                pcap[addr] += c
    return fn_cost, pmd_calls, max(pcap.values()) if pcap else 0

d, progs = sys.argv[1], sys.argv[2:]
rows = {}
own = {}
for p in progs:
    cost, calls, pkts = load("%s/%s.cg.1" % (d, p))
    if pkts == 0:
        print("%s: no packets in the window" % p)
        continue
    total = sum(cost.values()) / pkts
    # What the PMDs called counts as theirs, taken off its callee (exact
    # for leaves such as __tls_get_addr).
    cost.subtract(calls)
    pm = (sum(c for (ob, _), c in cost.items() if pmd(ob)) + sum(calls.values())) / pkts
    rows[p] = (pm, total - pm, total, pkts)
    own[p] = sorted(((c / pkts, fn, ob) for (ob, fn), c in cost.items() if not pmd(ob)),
                    reverse=True)
names = list(rows)
print("  %-34s" % "" + "".join("%12s" % n for n in names))
for i, label in enumerate(("PMDs (net_pcap in, net_null out)", "the rest", "total")):
    print("  %-34s" % label + "".join("%12.1f" % rows[n][i] for n in names))
print("  %-34s" % "packets counted" + "".join("%12d" % rows[n][3] for n in names))
if "ternd" in rows:
    for n in names:
        if n != "ternd":
            print("ternd/%s: %.2fx the instructions per packet, %.2fx in the rest" %
                  (n, rows["ternd"][2] / rows[n][2], rows["ternd"][1] / rows[n][1]))
    print("ternd's rest by function (instructions per packet, 1.0 and over):")
    for c, fn, ob in own["ternd"]:
        if c < 1.0:
            break
        print("  %7.1f  %s (%s)" % (c, fn, ob.rsplit("/", 1)[-1]))
PY
