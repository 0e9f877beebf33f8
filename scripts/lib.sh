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
