#!/usr/bin/env bash
# Benchmark (not a test): TCP, ternd against nginx in the same run.
#
#   server: wrk in a client namespace drives ternd's `service http` (one
#           worker, net_af_packet on a veth) and nginx (one worker process,
#           kernel TCP, in a namespace one veth away); small responses with
#           keep-alive, then 1 MiB responses.
#   client: ternd's load generator and wrk each drive the same nginx over a
#           veth, keep-alive, GET /.
#
#   scripts/bench-tcp.sh [seconds per run] [connections]
#
# The machine is small (2 cores): ternd's worker polls one core, so the
# kernel, nginx and wrk share what is left.  Read the ratios with that in
# mind; they are printed, not judged.
set -u
. "$(dirname "$0")/lib.sh"
tern_need_root
tern_install_deps "${TERN_DEPS[@]}"
tern_build
tern_hugepages 512

secs=${1:-5}
conns=${2:-32}
dir=$(mktemp -d /tmp/tern-bench.XXXXXX)
chmod 755 "$dir" # nginx's workers run as www-data
tag=b$$
cli=${tag}cli srv=${tag}srv
cleanup() {
	[ -n "${tpid:-}" ] && kill "$tpid" 2>/dev/null
	for ns in $cli $srv; do
		ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null
		ip netns del "$ns" 2>/dev/null
	done
	ip link del ${tag}t0 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT

ip netns add $cli
ip netns add $srv
ip -n $cli link set lo up
ip -n $srv link set lo up
# client <-> ternd (af_packet on the root end)
ip link add ${tag}t0 type veth peer name c0 netns $cli
# client <-> nginx
ip -n $cli link add c1 type veth peer name s1 netns $srv
# No offloads on either path: both carry MTU-sized frames, as a NIC without
# TSO/GRO would (ternd does no TSO; the veth would otherwise give the kernel
# 64 KB frames for free).
for l in "ip netns exec $cli ethtool -K c0" "ethtool -K ${tag}t0" \
	"ip netns exec $cli ethtool -K c1" "ip netns exec $srv ethtool -K s1"; do
	$l tx off tso off gso off gro off >/dev/null 2>&1
done
ip -n $cli addr add 10.77.0.2/24 dev c0
ip -n $cli addr add 10.77.1.2/24 dev c1
ip -n $srv addr add 10.77.1.1/24 dev s1
ip -n $cli link set c0 up
ip -n $cli link set c1 up
ip -n $srv link set s1 up
ip link set ${tag}t0 up
sysctl -qw net.ipv6.conf.${tag}t0.disable_ipv6=1

# nginx: GET / -> the same 12 bytes as ternd, /bytes/1048576 -> the same file.
mkdir -p "$dir/www/bytes"
/usr/bin/python3 -c 'import sys; n=1048576; b=bytes(range(97,123)); open(sys.argv[1],"wb").write((b*(n//26+1))[:n])' "$dir/www/bytes/1048576"
nginx_conf() { # ADDR PORT NAME
	cat >"$dir/$3.conf" <<CONF
daemon off;
worker_processes 1;
pid $dir/$3.pid;
error_log $dir/$3.err;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $dir/$3-body;
    proxy_temp_path $dir/$3-proxy;
    fastcgi_temp_path $dir/$3-fcgi;
    uwsgi_temp_path $dir/$3-uwsgi;
    scgi_temp_path $dir/$3-scgi;
    keepalive_requests 100000000;
    sendfile on;
    server {
        listen $1:$2;
        root $dir/www;
        location = / { return 200 "tern: hello\n"; }
    }
}
CONF
}
nginx_conf 10.77.1.1 80 srv
nginx_conf 0.0.0.0 8080 cli
ip netns exec $srv nginx -c "$dir/srv.conf" &
ip netns exec $cli nginx -c "$dir/cli.conf" &
sleep 1

cat >"$dir/t.conf" <<CONF
eal -l 0-1 --no-pci --in-memory --log-level=lib.eal:error --log-level=pmd.*:error
workers 1
port add p0 net_af_packet0,iface=${tag}t0
addr add 10.77.0.1/24 dev p0
service http
CONF
"$TERN_BUILD/app/ternd/ternd" -c "$dir/t.conf" -s "$dir/t.sock" -l error 2>"$dir/ternd.log" &
tpid=$!
ctl() { "$TERN_BUILD/app/ternctl/ternctl" -s "$dir/t.sock" "$@"; }
for _ in $(seq 100); do ctl version >/dev/null 2>&1 && break; sleep 0.1; done
sleep 1.5

# wrk in the client namespace; prints requests/s and transfer MB/s.
wrk_run() { # URL
	ip netns exec $cli wrk -t1 -c"$conns" -d"${secs}s" --latency "$1" 2>&1 |
		/usr/bin/python3 -c '
import re, sys
t = sys.stdin.read()
rps = re.search(r"Requests/sec:\s+([\d.]+)", t)
tr = re.search(r"Transfer/sec:\s+([\d.]+)(\w+)", t)
p99 = re.search(r"99%\s+([\d.]+)(\w+)", t)
if not rps or "Non-2xx" in t:
    sys.stderr.write(t)
    print("0 0 0"); sys.exit()
mb = float(tr.group(1)) * {"B": 1e-6, "KB": 1e-3, "MB": 1, "GB": 1e3}[tr.group(2)]
us = float(p99.group(1)) * {"us": 1, "ms": 1e3, "s": 1e6}[p99.group(2)]
print("%.0f %.1f %.0f" % (float(rps.group(1)), mb, us))'
}

ratio() { /usr/bin/python3 -c 'import sys; a,b=map(float,sys.argv[1:]); print("%.2fx" % (a/b if b else 0))' "$1" "$2"; }

echo "TCP server, $conns connections, keep-alive, ${secs}s per run, wrk -t1:"
read -r t_rps t_mb t_p99 < <(wrk_run http://10.77.0.1/)
read -r n_rps n_mb n_p99 < <(wrk_run http://10.77.1.1/)
printf "GET / (12 bytes)   ternd %9.0f req/s p99 %6s us   nginx %9.0f req/s p99 %6s us\n" \
	"$t_rps" "$t_p99" "$n_rps" "$n_p99"
echo "ratio ternd/nginx GET /: $(ratio "$t_rps" "$n_rps")"
read -r t_rps t_mb t_p99 < <(wrk_run http://10.77.0.1/bytes/1048576)
read -r n_rps n_mb n_p99 < <(wrk_run http://10.77.1.1/bytes/1048576)
printf "GET 1 MiB          ternd %9.1f MB/s           nginx %9.1f MB/s\n" "$t_mb" "$n_mb"
echo "ratio ternd/nginx 1 MiB: $(ratio "$t_mb" "$n_mb")"

echo "TCP client, $conns connections, keep-alive GET / from nginx, ${secs}s:"
ctl loadgen start 10.77.0.2:8080 conns "$conns" duration "$secs" >/dev/null
sleep "$((secs + 1))"
lg=$(ctl -j loadgen show)
read -r l_rps l_p99 l_err < <(/usr/bin/python3 -c '
import json, sys
r = json.loads(sys.argv[1])
print("%.0f %.0f %d" % (r["requests_per_sec"], r["latency_p99_us"], r["errors"]))' "$lg")
read -r w_rps w_mb w_p99 < <(ip netns exec $srv wrk -t1 -c"$conns" -d"${secs}s" --latency http://10.77.1.2:8080/ 2>&1 |
	/usr/bin/python3 -c '
import re, sys
t = sys.stdin.read()
rps = re.search(r"Requests/sec:\s+([\d.]+)", t)
p99 = re.search(r"99%\s+([\d.]+)(\w+)", t)
us = float(p99.group(1)) * {"us": 1, "ms": 1e3, "s": 1e6}[p99.group(2)] if p99 else 0
print("%.0f 0 %.0f" % (float(rps.group(1)) if rps else 0, us))')
printf "ternd loadgen %9.0f req/s p99 %6s us (errors %s)   wrk %9.0f req/s p99 %6s us\n" \
	"$l_rps" "$l_p99" "$l_err" "$w_rps" "$w_p99"
echo "ratio ternd-loadgen/wrk: $(ratio "$l_rps" "$w_rps")"
ctl shutdown >/dev/null
wait "$tpid"
tpid=
