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
	wget hping3 nmap iptables coturn
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
