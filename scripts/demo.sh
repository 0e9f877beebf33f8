#!/usr/bin/env bash
# The main job: installs what is missing, builds, reserves hugepages, puts
# two Linux hosts in network namespaces and starts ternd on config/demo.conf
# between them as their router, in the foreground (Ctrl-C stops it and
# cleans up).
#
#   tern-a 10.99.1.2 --veth-- [lan 10.99.1.1] ternd [wan 10.99.2.1] --veth-- tern-b 10.99.2.2
#
# From another terminal:  build/app/ternctl/ternctl neigh show
#                         ip netns exec tern-a ping 10.99.2.2
#
#   scripts/demo.sh          run until Ctrl-C
#   scripts/demo.sh --check  run the tour once, stop, exit 0 if it worked
set -u
. "$(dirname "$0")/lib.sh"
tern_need_root
check=false
[ "${1:-}" = "--check" ] && check=true

tern_install_deps "${TERN_DEPS[@]}"
tern_build
tern_hugepages 512

TERND=$TERN_BUILD/app/ternd/ternd
TERNCTL=$TERN_BUILD/app/ternctl/ternctl
SOCK=${TERN_SOCKET:-/run/tern/ternd.sock}
export TERN_SOCKET=$SOCK
pid=

cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	ip link del tern-lan 2>/dev/null
	ip link del tern-wan 2>/dev/null
	ip netns del tern-a 2>/dev/null
	ip netns del tern-b 2>/dev/null
}
trap cleanup EXIT
trap 'exit 130' INT TERM
cleanup

host() { # host NS OUTER ADDR GATEWAY
	ip netns add "$1"
	ip link add "$2" type veth peer name eth0 netns "$1"
	ip -n "$1" link set lo up
	ip -n "$1" addr add "$3" dev eth0
	ip -n "$1" link set eth0 up
	ip -n "$1" route add default via "$4"
	ip link set "$2" up
	# The kernel must checksum and segment itself: DPDK gets whole frames.
	ip netns exec "$1" ethtool -K eth0 tx off tso off gso off >/dev/null 2>&1
	ethtool -K "$2" tx off tso off gso off gro off >/dev/null 2>&1
}
host tern-a tern-lan 10.99.1.2/24 10.99.1.1
host tern-b tern-wan 10.99.2.2/24 10.99.2.1

"$TERND" -c "$TERN_TOP/config/demo.conf" -s "$SOCK" &
pid=$!
for _ in $(seq 100); do
	"$TERNCTL" version >/dev/null 2>&1 && break
	kill -0 "$pid" 2>/dev/null || { echo "ternd failed to start"; exit 1; }
	sleep 0.1
done

echo
echo "== tern-a pings ternd, then tern-b through ternd"
ip netns exec tern-a ping -c 2 -i 0.2 -W 2 10.99.1.1
ok=$?
ip netns exec tern-a ping -c 3 -i 0.2 -W 2 10.99.2.2
ok=$((ok + $?))
echo
echo "== tern-a traces the route to tern-b"
ip netns exec tern-a traceroute -n -q 1 -w 1 -m 4 10.99.2.2
echo
echo "== ternctl route show"
"$TERNCTL" route show
echo
echo "== ternctl neigh show"
"$TERNCTL" neigh show
echo
echo "== ternctl stats show"
"$TERNCTL" stats show

if $check; then
	"$TERNCTL" shutdown >/dev/null
	wait "$pid"
	rc=$?
	pid=
	[ $ok -eq 0 ] && [ $rc -eq 0 ] && echo "demo: OK" && exit 0
	echo "demo: FAILED (ping $ok, ternd exit $rc)"
	exit 1
fi
echo
echo "ternd is running (pid $pid, socket $SOCK). Try, from another terminal:"
echo "  $TERNCTL neigh show"
echo "  ip netns exec tern-a ping 10.99.2.2"
echo "  ip netns exec tern-b python3 -m http.server 8080 &"
echo "  ip netns exec tern-a curl -o /dev/null http://10.99.2.2:8080/"
echo "Ctrl-C stops it."
wait "$pid"
pid=
