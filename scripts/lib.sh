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

# tern_bench_fwd_conf FILE_PREFIX IN OUT: the ternd config of the forwarding
# benchmarks (bench-l3fwd.sh, bench-nat.sh through it, bench-ab.sh): one
# worker, port `in` (devargs IN) routed by 16 prefixes, 198.18.N.0/24, to a
# static neighbour on port `out` (devargs OUT), then $TERN_BENCH_TERND.
tern_bench_fwd_conf() {
	local n
	echo "eal -l 0-1 --no-pci --in-memory --file-prefix $1 --log-level=lib.eal:error --log-level=pmd.*:error"
	echo "workers 1"
	echo "port add in $2"
	echo "port add out $3"
	echo "addr add 10.0.0.1/24 dev in"
	echo "addr add 10.255.0.1/24 dev out"
	echo "neigh add 10.255.0.2 lladdr 02:00:00:00:00:02 dev out"
	for n in $(seq 0 15); do echo "route add 198.18.$n.0/24 via 10.255.0.2"; done
	printf '%b\n' "${TERN_BENCH_TERND:-}"
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
