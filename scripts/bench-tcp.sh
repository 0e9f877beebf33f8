#!/usr/bin/env bash
# Benchmark (not a test): TCP.
#
#   1. Requests/s (keep-alive) and connections/s (one request per
#      connection): ternd's `service http` driven by ternd's load generator,
#      two ternd processes joined by a memif pair, each worker pinned to one
#      core; side by side in the same run with nginx (one worker process)
#      driven by wrk (one thread) on loopback, each pinned to one core.
#      Targets: 5x the kernel's requests/s, 10x its connections/s.
#   2. Memory per idle connection: N connections opened by the load
#      generator to `service tcp-discard` and held; the server's resident
#      memory grows by what its connections and sockets take (buffers are
#      only allocated by data).  Target: under 1 KiB.
#
#   scripts/bench-tcp.sh [seconds per run] [connections] [idle connections]
#
# The machine has two cores: each ternd's control thread shares the other
# ternd's worker core (it sleeps in poll() between its 1 ms ticks).
set -u
. "$(dirname "$0")/lib.sh"
tern_need_root
tern_install_deps "${TERN_DEPS[@]}"
tern_build
tern_hugepages 1024

secs=${1:-5}
conns=${2:-64}
idle=${3:-1000000}
ternd=$TERN_BUILD/app/ternd/ternd
ternctl=$TERN_BUILD/app/ternctl/ternctl
dir=$(mktemp -d /tmp/tern-bench-tcp.XXXXXX)
chmod 755 "$dir" # nginx's workers run as www-data
ns=tbt$$
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
	ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null
	ip netns del "$ns" 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- ternd pair over memif -------------------------------------------------
# Static MACs and neighbours (no ARP in the measurements), 16k-slot rings.
npair=0
start_pair() { # start_pair MAX_CONNS EXTRA_CLIENT_LINES
	npair=$((npair + 1)) # a fresh memif socket each time
	cat >"$dir/s.conf" <<CONF
eal --lcores 0@0,1@1 --no-pci --in-memory --file-prefix tbt-s-$$ --log-level=lib.eal:error --log-level=pmd.*:error
workers 1
tcp max-conns $1
port add m net_memif0,role=server,socket=$dir/memif$npair.sock,mac=02:88:00:00:00:01,rsize=14
addr add 10.88.0.1/16 dev m
neigh add 10.88.0.2 lladdr 02:88:00:00:00:02 dev m
service http
service tcp-discard
CONF
	cat >"$dir/c.conf" <<CONF
eal --lcores 0@1,1@0 --no-pci --in-memory --file-prefix tbt-c-$$ --log-level=lib.eal:error --log-level=pmd.*:error
workers 1
tcp max-conns $1
port add m net_memif0,role=client,socket=$dir/memif$npair.sock,mac=02:88:00:00:00:02,rsize=14
addr add 10.88.0.2/16 dev m
neigh add 10.88.0.1 lladdr 02:88:00:00:00:01 dev m
$2
CONF
	"$ternd" -c "$dir/s.conf" -s "$dir/s.sock" -l error >"$dir/s.log" 2>&1 &
	spid=$!
	pids+=("$spid")
	# The memif server's socket first: a client started before it exists
	# sometimes never connects.
	for _ in $(seq 200); do
		[ -S "$dir/memif$npair.sock" ] && break
		sleep 0.1
	done
	"$ternd" -c "$dir/c.conf" -s "$dir/c.sock" -l error >"$dir/c.log" 2>&1 &
	cpid=$!
	pids+=("$cpid")
	for _ in $(seq 200); do
		"$ternctl" -s "$dir/s.sock" version >/dev/null 2>&1 &&
			"$ternctl" -s "$dir/c.sock" version >/dev/null 2>&1 && break
		sleep 0.1
	done
	# memif connects: wait for both links, or say why not.
	local up=0
	for _ in $(seq 100); do
		up=0
		for x in s c; do
			"$ternctl" -s "$dir/$x.sock" link show m 2>/dev/null | grep -q "link: up" && up=$((up + 1))
		done
		[ "$up" = 2 ] && break
		sleep 0.2
	done
	if [ "$up" != 2 ]; then
		echo "$0: the memif pair did not come up; logs:" >&2
		tail -n 5 "$dir/s.log" "$dir/c.log" >&2
		return 1
	fi
	sleep 1
}
stop_pair() {
	"$ternctl" -s "$dir/c.sock" shutdown >/dev/null 2>&1
	"$ternctl" -s "$dir/s.sock" shutdown >/dev/null 2>&1
	wait "$cpid" "$spid" 2>/dev/null
	pids=()
}
lg() { # lg MODE...: run the load generator for $secs, print "req/s conns/s p99 errors"
	"$ternctl" -s "$dir/c.sock" loadgen start 10.88.0.1:80 conns "$conns" duration "$secs" "$@" >/dev/null
	sleep "$((secs + 1))"
	"$ternctl" -s "$dir/c.sock" -j loadgen show | /usr/bin/python3 -c '
import json, sys
r = json.load(sys.stdin)
print("%.0f %.0f %.0f %d" % (r["requests_per_sec"], r["connects_per_sec"], r["latency_p99_us"], r["errors"]))'
}

start_pair 65536 "" || exit 1
read -r t_rps _ t_p99 t_err < <(lg)
read -r _ t_cps t_cp99 t_cerr < <(lg close)
stop_pair

# ---- nginx and wrk on loopback --------------------------------------------
ip netns add "$ns"
ip -n "$ns" link set lo up
cat >"$dir/nginx.conf" <<CONF
daemon off;
worker_processes 1;
worker_cpu_affinity 10;
pid $dir/nginx.pid;
error_log $dir/nginx.err;
events { worker_connections 8192; }
http {
    access_log off;
    client_body_temp_path $dir/nb; proxy_temp_path $dir/np; fastcgi_temp_path $dir/nf;
    uwsgi_temp_path $dir/nu; scgi_temp_path $dir/ns;
    keepalive_requests 100000000;
    server { listen 127.0.0.1:8080; location = / { return 200 "tern: hello\n"; } }
}
CONF
ip netns exec "$ns" taskset -c 1 nginx -c "$dir/nginx.conf" &
pids+=("$!")
sleep 1
wrk_run() { # wrk_run [ARGS...]: print "req/s p99"
	ip netns exec "$ns" taskset -c 0 wrk -t1 -c"$conns" -d"${secs}s" --latency "$@" \
		http://127.0.0.1:8080/ 2>&1 | /usr/bin/python3 -c '
import re, sys
t = sys.stdin.read()
rps = re.search(r"Requests/sec:\s+([\d.]+)", t)
p99 = re.search(r"99%\s+([\d.]+)(\w+)", t)
us = float(p99.group(1)) * {"us": 1, "ms": 1e3, "s": 1e6}[p99.group(2)] if p99 else 0
print("%.0f %.0f" % (float(rps.group(1)) if rps else 0, us))'
}
read -r n_rps n_p99 < <(wrk_run)
read -r n_cps n_cp99 < <(wrk_run -H "Connection: close")

ratio() { /usr/bin/python3 -c 'import sys; a,b=map(float,sys.argv[1:]); print("%.2fx" % (a/b if b else 0))' "$1" "$2"; }
echo "TCP, $conns connections, ${secs}s per run, one core per side:"
printf "keep-alive   ternd http + loadgen (memif) %9.0f req/s  p99 %6s us   nginx + wrk (loopback) %9.0f req/s  p99 %6s us\n" \
	"$t_rps" "$t_p99" "$n_rps" "$n_p99"
printf "close        ternd http + loadgen (memif) %9.0f conn/s p99 %6s us   nginx + wrk (loopback) %9.0f conn/s p99 %6s us\n" \
	"$t_cps" "$t_cp99" "$n_cps" "$n_cp99"
[ "$t_err$t_cerr" != 00 ] && echo "  (load generator errors: keep-alive $t_err, close $t_cerr)"
echo "ratio requests/s ternd/kernel: $(ratio "$t_rps" "$n_rps") (target >= 5x)"
echo "ratio connections/s ternd/kernel: $(ratio "$t_cps" "$n_cps") (target >= 10x)"

# ---- memory per idle connection -------------------------------------------
# One client address has 28232 ephemeral ports: enough addresses for $idle.
naddr=$(((idle + 28000 - 1) / 28000))
from_hi=$((naddr > 255 ? 255 : naddr))
extra=""
for i in $(seq 1 "$from_hi"); do extra="$extra"$'\n'"addr add 10.88.1.$i/32 dev m"; done
start_pair $((idle + idle / 8 + 1024)) "$extra" || exit 1
rss() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status"; }
before=$(rss "$spid")
"$ternctl" -s "$dir/c.sock" tcp set syn-backlog 65535 >/dev/null
"$ternctl" -s "$dir/s.sock" tcp set syn-backlog 65535 >/dev/null
t0=$(date +%s.%N)
"$ternctl" -s "$dir/c.sock" loadgen start 10.88.0.1:9 conns "$idle" duration 3600 from "10.88.1.1-10.88.1.$from_hi" idle >/dev/null
held=0
for _ in $(seq 600); do
	sleep 1
	if ! held=$("$ternctl" -s "$dir/c.sock" -j loadgen show |
		/usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["held"])' 2>/dev/null); then
		echo "$0: the client stopped answering; its log:" >&2
		tail -n 5 "$dir/c.log" >&2
		exit 1
	fi
	[ "$held" -ge "$idle" ] && break
done
t1=$(date +%s.%N)
sleep 1
after=$(rss "$spid")
st=$("$ternctl" -s "$dir/s.sock" -j tcp stats)
cst=$("$ternctl" -s "$dir/c.sock" -j tcp stats)
/usr/bin/python3 - "$before" "$after" "$held" "$t0" "$t1" "$st" "$cst" <<'PY'
import json, sys
c = json.loads(sys.argv[7])
b, a, held, t0, t1 = (float(x) for x in sys.argv[1:6])
st = json.loads(sys.argv[6])
n = st["Connections"] - 2  # less the two listeners
print("idle connections: %d held by the client, %d on the server, opened at %.0f/s" %
      (held, n, held / (t1 - t0) if t1 > t0 else 0))
print("memory per idle connection: %d bytes (connection block, socket slot, hash share; "
      "buffers come with data) (target < 1024)" % st["ConnBytes"])
print("  server: SyncookiesSent %d, ListenOverflows %d, ListenDrops %d; client: SynRetrans %d, "
      "OutQueueFull %d, AttemptFails %d" % (st["SyncookiesSent"], st["ListenOverflows"],
      st["ListenDrops"], c["SynRetrans"], c["OutQueueFull"], c["AttemptFails"]))
print("  server RSS grew %.0f bytes per connection beyond its pools, preallocated at boot" %
      ((a - b) * 1024 / n if n > 0 else 0))
PY
stop_pair
