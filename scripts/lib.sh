# Shared by the scripts: dependency install, build, hugepages.
# shellcheck shell=bash

TERN_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TERN_BUILD=${TERN_BUILD:-$TERN_TOP/build}

# Debian packages the build, the tests and the demo need.
TERN_DEPS=(
	build-essential pkg-config meson ninja-build clang-format git
	libdpdk-dev dpdk dpdk-dev libnuma-dev libpcap-dev libcmocka-dev
	python3 python3-pytest python3-scapy
	nginx-light wrk
	iproute2 ethtool iputils-ping iputils-arping iputils-tracepath traceroute curl socat netcat-openbsd tcpdump
	wget hping3 nmap iptables coturn vde2
)

tern_need_root() {
	if [ "$(id -u)" != 0 ]; then
		echo "$0: run as root (DPDK needs hugepages and raw sockets)" >&2
		exit 1
	fi
}

# Install whatever is missing, with one apt-get call.
tern_install_deps() {
	local missing=() p
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
			missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	echo "installing: ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q >/dev/null
	apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
}

# tern_build [werror]: configure once, then build; `true` turns on -Werror.
tern_build() {
	if [ ! -f "$TERN_BUILD/build.ninja" ]; then
		meson setup "$TERN_BUILD" "$TERN_TOP" -Dwerror="${1:-false}" >/dev/null || return 1
	elif [ -n "${1:-}" ]; then
		meson configure "$TERN_BUILD" -Dwerror="$1" >/dev/null || return 1
	fi
	ninja -C "$TERN_BUILD" >/dev/null
}

# 2 MB hugepages for DPDK; leaves more in place if someone reserved more.
tern_hugepages() {
	local want=${1:-512} f=/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages
	mkdir -p /dev/hugepages
	grep -qs '/dev/hugepages hugetlbfs' /proc/mounts ||
		mount -t hugetlbfs nodev /dev/hugepages
	if [ "$(cat $f)" -lt "$want" ]; then
		echo "$want" >$f
	fi
}

# The benchmarks' common start: root, packages, build, hugepages, and a
# scratch directory in $dir, removed with whatever the script left
# running when it exits.
tern_bench_start() {
	tern_need_root
	tern_install_deps "${TERN_DEPS[@]}"
	tern_build
	tern_hugepages 512
	dir=$(mktemp -d /tmp/tern-bench.XXXXXX)
	trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$dir"' EXIT
}

# tern_build_l3fwd: copies of DPDK's l3fwd and l3fwd-graph examples (Debian's
# dpdk-doc), built once in $TERN_BUILD/bench/l3fwd, for the benchmarks to
# compare against (bench-l3fwd.sh, bench-instr.sh).  Two patches, neither of
# which changes the work per packet: l3fwd masks its RX checksum offload
# request with what the vdevs offer (none), and gets a pool big enough for
# 64k replayed flows; l3fwd-graph has no --rule_ipv4, so its route table
# becomes the benchmarks' 16 routes, 198.18.N.0/24 to port 1.
tern_build_l3fwd() {
	local examples=/usr/share/dpdk/examples bench=$TERN_BUILD/bench/l3fwd stamp app
	stamp="$(dpkg-query -W -f='${Version}' dpdk-doc libdpdk-dev 2>/dev/null) patch-2"
	if [ ! -x "$bench/l3fwd/build/l3fwd" ] || [ ! -x "$bench/l3fwd-graph/build/l3fwd-graph" ] ||
		[ "$(cat "$bench/stamp" 2>/dev/null)" != "$stamp" ]; then
		echo "building l3fwd and l3fwd-graph from $examples in $bench"
		rm -rf "$bench"
		mkdir -p "$bench"
		cp -r "$examples/l3fwd" "$examples/l3fwd-graph" "$examples/common" "$bench/"
		# l3fwd: RX offloads (checksum) masked with the device's capabilities.
		sed -i \
			-e 's/^\(\t\tret = config_port_max_pkt_len(&local_port_conf, &dev_info);\)$/\t\tlocal_port_conf.rxmode.offloads \&= dev_info.rx_offload_capa;\n\1/' \
			-e 's/^\(\t\t\trxq_conf.offloads = port_conf.rxmode.offloads\);$/\1 \& dev_info.rx_offload_capa;/' \
			"$bench/l3fwd/main.c"
		# A pool that holds 64k replayed flows (net_pcap infinite_rx keeps
		# every packet of the pcap in an mbuf).
		sed -i -e 's/^\t(unsigned)8192)$/\t(unsigned)131072)/' "$bench/l3fwd/main.c"
		if [ "$(grep -c 'dev_info.rx_offload_capa;' "$bench/l3fwd/main.c")" != 2 ] ||
			! grep -q '(unsigned)131072)' "$bench/l3fwd/main.c"; then
			echo "tern_build_l3fwd: could not patch $bench/l3fwd/main.c (offload mask)" >&2
			return 1
		fi
		# l3fwd-graph: the 16 routes of the benchmark, all to port 1.
		if ! /usr/bin/python3 - "$bench/l3fwd-graph/main.c" <<-'PY'; then
	import re, sys
	f = sys.argv[1]
	s = open(f).read()
	body = "\n".join("\t{RTE_IPV4(198, 18, %d, 0), 24, 1}," % n for n in range(16))
	s, n = re.subn(r"(ipv4_l3fwd_lpm_route_array\[\] = \{\n).*?(\n\};)",
	               lambda m: m.group(1) + body + m.group(2), s, flags=re.S)
	if n != 1:
	    sys.exit("route array not found")
	open(f, "w").write(s)
	PY
			echo "tern_build_l3fwd: could not patch $bench/l3fwd-graph/main.c (routes)" >&2
			return 1
		fi
		for app in l3fwd l3fwd-graph; do
			if ! make -C "$bench/$app" >"$bench/$app.build.log" 2>&1; then
				tail -20 "$bench/$app.build.log" >&2
				echo "tern_build_l3fwd: $app does not build (log: $bench/$app.build.log)" >&2
				return 1
			fi
		done
		echo "$stamp" >"$bench/stamp"
	fi
}

# The NAT44 of the benchmarks on established sessions (bench-nat.sh,
# bench-instr.sh nat; bench-ab.sh through TERN_BENCH_TERND): SNAT of the
# 64k flows to four pool addresses (endpoint-independent mapping gives
# each inside endpoint its own port, more than one address has).
TERN_BENCH_NAT="nat max-sessions 131072\nnat add snat src 10.0.0.0/8 out out to 10.255.0.10-10.255.0.13"

# tern_bench_fwd_conf FILE_PREFIX PCAP FLOWS [EAL_MEM]: the ternd config of
# the forwarding benchmarks (bench-l3fwd.sh, bench-nat.sh through it,
# bench-ab.sh, bench-instr.sh): one worker; port `in` replays PCAP (FLOWS
# flows, with a pool that holds them all) through net_pcap's infinite_rx,
# routed by 16 prefixes, 198.18.N.0/24, to a static neighbour on port
# `out`, a net_null sink; then $TERN_BENCH_TERND.  EAL_MEM stands in for
# --in-memory (under valgrind: --no-huge -m 2048).
tern_bench_fwd_conf() {
	local n mbufs=
	[ "$3" -gt 4096 ] && mbufs=" mbufs 131071"
	echo "eal -l 0-1 --no-pci ${4:---in-memory} --file-prefix $1 --log-level=lib.eal:error --log-level=pmd.*:error"
	echo "workers 1"
	echo "port add in net_pcap0,rx_pcap=$2,infinite_rx=1$mbufs"
	echo "port add out net_null0,no-rx=1"
	echo "addr add 10.0.0.1/24 dev in"
	echo "addr add 10.255.0.1/24 dev out"
	echo "neigh add 10.255.0.2 lladdr 02:00:00:00:00:02 dev out"
	for n in $(seq 0 15); do echo "route add 198.18.$n.0/24 via 10.255.0.2"; done
	printf '%b\n' "${TERN_BENCH_TERND:-}"
}

# tern_l3fwd_argv lpm|graph FILE_PREFIX PCAP DIR [EAL_MEM...]: sets the
# array tern_argv to the command line of the l3fwd (LPM) or l3fwd-graph
# copy (tern_build_l3fwd) on the same devices and routes as
# tern_bench_fwd_conf: PCAP replayed on port 0, net_null as port 1, lcore 1
# forwarding.  l3fwd's route files are written to DIR.  EAL_MEM stands in
# for --in-memory.
tern_l3fwd_argv() {
	local kind=$1 prefix=$2 pcap=$3 rdir=$4 n bin=$TERN_BUILD/bench/l3fwd
	shift 4
	[ $# -gt 0 ] || set -- --in-memory
	case $kind in
	lpm)
		# The benchmark's routes (l3fwd wants an IPv6 file too).
		for n in $(seq 0 15); do echo "R198.18.$n.0/24 1"; done >"$rdir/rules_v4.cfg"
		echo "R2001:200::/64 1" >"$rdir/rules_v6.cfg"
		tern_argv=("$bin/l3fwd/build/l3fwd" -l 1 --no-pci "$@" --file-prefix "$prefix"
			--log-level=lib.eal:error --vdev "net_pcap0,rx_pcap=$pcap,infinite_rx=1"
			--vdev net_null0,no-rx=1 -- -p 0x3 "--config=(0,0,1),(1,0,1)" --lookup=lpm
			--parse-ptype "--rule_ipv4=$rdir/rules_v4.cfg" "--rule_ipv6=$rdir/rules_v6.cfg")
		;;
	graph)
		# Worker lcore 1 runs the graph, main lcore 0 prints stats; two
		# lcores mean two TX queues, hence two rx_pcap queues on net_pcap.
		tern_argv=("$bin/l3fwd-graph/build/l3fwd-graph" -l 0-1 --no-pci "$@" --file-prefix "$prefix"
			--log-level=lib.eal:error --vdev "net_pcap0,rx_pcap=$pcap,rx_pcap=$pcap,infinite_rx=1"
			--vdev net_null0,no-rx=1 -- -p 0x3 "--config=(0,0,1),(1,0,1)")
		;;
	esac
}

# tern_ctl_wait SOCK: until ternd answers on its management socket (10 s).
tern_ctl_wait() {
	local _
	for _ in $(seq 100); do
		"$TERN_BUILD/app/ternctl/ternctl" -s "$1" version >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}

# tern_tx_mpps SOCK PORT SECS: PORT's transmit rate over SECS seconds, Mpps.
tern_tx_mpps() {
	local ctl=$TERN_BUILD/app/ternctl/ternctl a b
	a=$("$ctl" -s "$1" -j link show "$2")
	sleep "$3"
	b=$("$ctl" -s "$1" -j link show "$2")
	/usr/bin/python3 -c '
import json, sys
a = json.loads(sys.argv[1])["ports"][0]["tx_packets"]
b = json.loads(sys.argv[2])["ports"][0]["tx_packets"]
print("%.2f" % ((b - a) / float(sys.argv[3]) / 1e6))' "$a" "$b" "$3"
}
