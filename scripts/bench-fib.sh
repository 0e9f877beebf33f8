#!/usr/bin/env bash
# Benchmark (not a test): load N IPv4 routes (default 1M) into ternd's FIB
# from its config file, and the same routes into the Linux kernel of a
# network namespace with `ip -batch`, side by side.  Prints load times,
# routes/s, memory, and the ratio.
#
#   scripts/bench-fib.sh [routes]
set -u
. "$(dirname "$0")/lib.sh"
tern_need_root
tern_install_deps "${TERN_DEPS[@]}"
tern_build
tern_hugepages 1024

n=${1:-1000000}
dir=$(mktemp -d /tmp/tern-fib.XXXXXX)
ns=ternfib$$
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	ip netns del "$ns" 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT

# N distinct /24s from 11.0.0.0 up, all via one gateway.
/usr/bin/python3 - "$n" "$dir" <<'PY'
import sys
n, d = int(sys.argv[1]), sys.argv[2]
with open(d + "/routes.txt", "w") as t, open(d + "/linux.batch", "w") as l:
    for i in range(n):
        p = "%d.%d.%d.0/24" % (11 + (i >> 16), (i >> 8) & 255, i & 255)
        t.write("route add %s via 10.0.0.2\n" % p)
        l.write("route add %s via 10.0.0.2\n" % p)
PY
{
	echo "eal -l 0-1 --no-pci --in-memory --log-level=lib.eal:error"
	echo "workers 1"
	echo "ip fib-size $((n + 1024))"
	echo "port add p0 net_null0,no-rx=1"
	echo "addr add 10.0.0.1/24 dev p0"
	cat "$dir/routes.txt"
} >"$dir/fib.conf"

free_before=$(cat /sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages)
t0=$(date +%s.%N)
"$TERN_BUILD/app/ternd/ternd" -c "$dir/fib.conf" -s "$dir/t.sock" -l error 2>"$dir/ternd.log" &
pid=$!
until "$TERN_BUILD/app/ternctl/ternctl" -s "$dir/t.sock" version >/dev/null 2>&1; do
	kill -0 "$pid" 2>/dev/null || { cat "$dir/ternd.log"; exit 1; }
	sleep 0.05
done
t1=$(date +%s.%N)
count=$("$TERN_BUILD/app/ternctl/ternctl" -s "$dir/t.sock" -j route show summary | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["count"])')
rss=$(awk '/VmRSS/ {print $2}' /proc/$pid/status)
free_after=$(cat /sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages)
"$TERN_BUILD/app/ternctl/ternctl" -s "$dir/t.sock" shutdown >/dev/null
wait "$pid"
pid=

# Boot of the same config with no routes, to subtract EAL and port start.
head -5 "$dir/fib.conf" >"$dir/empty.conf"
t2=$(date +%s.%N)
"$TERN_BUILD/app/ternd/ternd" -c "$dir/empty.conf" -s "$dir/e.sock" -l error 2>/dev/null &
pid=$!
until "$TERN_BUILD/app/ternctl/ternctl" -s "$dir/e.sock" version >/dev/null 2>&1; do sleep 0.05; done
t3=$(date +%s.%N)
"$TERN_BUILD/app/ternctl/ternctl" -s "$dir/e.sock" shutdown >/dev/null
wait "$pid"
pid=

ip netns add "$ns"
ip -n "$ns" link add d0 type veth peer name d1
ip -n "$ns" addr add 10.0.0.1/24 dev d0
ip -n "$ns" link set d0 up && ip -n "$ns" link set d1 up
k0=$(date +%s.%N)
ip -n "$ns" -batch "$dir/linux.batch"
k1=$(date +%s.%N)
kcount=$(ip -n "$ns" route show | wc -l)

/usr/bin/python3 - "$n" "$count" "$t0" "$t1" "$t2" "$t3" "$k0" "$k1" "$kcount" "$rss" \
	"$free_before" "$free_after" <<'PY'
import sys
n, count = int(sys.argv[1]), int(sys.argv[2])
t0, t1, t2, t3, k0, k1 = map(float, sys.argv[3:9])
kcount, rss = int(sys.argv[9]), int(sys.argv[10])
hp = (int(sys.argv[11]) - int(sys.argv[12])) * 2
tern = (t1 - t0) - (t3 - t2)
kern = k1 - k0
print("routes requested %d: ternd FIB holds %d (plus local/connected), kernel %d" % (n, count, kcount))
print("ternd: boot with routes %.2f s, without %.2f s: routes load in %.2f s (%.0f routes/s)"
      % (t1 - t0, t3 - t2, tern, n / tern if tern > 0 else 0))
print("ternd memory: RSS %.0f MiB (incl. hugepages touched), hugepages in use %d MiB, %.0f bytes/route"
      % (rss / 1024, hp, hp * 1048576.0 / n))
print("linux ip -batch: %.2f s (%.0f routes/s)" % (kern, n / kern if kern > 0 else 0))
print("ratio ternd/linux routes/s: %.2fx" % (kern / tern if tern > 0 else 0))
PY
