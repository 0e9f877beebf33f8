# SPDX-License-Identifier: BSD-3-Clause
"""TCP active opens: ternd's load generator against nginx in a namespace."""

import os
import signal
import subprocess
import time

from conftest import wait_until
from peers import one_host

NGINX_CONF = """daemon off;
worker_processes 1;
pid %(dir)s/nginx.pid;
error_log %(dir)s/error.log;
events { worker_connections 4096; }
http {
    access_log %(dir)s/access.log;
    client_body_temp_path %(dir)s/body;
    proxy_temp_path %(dir)s/proxy;
    fastcgi_temp_path %(dir)s/fastcgi;
    uwsgi_temp_path %(dir)s/uwsgi;
    scgi_temp_path %(dir)s/scgi;
    keepalive_requests 1000000;
    server {
        listen %(addr)s:%(port)d;
        location = / { return 200 "nginx\\n"; }
    }
}
"""


class Nginx:
    """nginx serving GET / in a namespace."""

    def __init__(self, ns, addr, port, tmpdir):
        self.dir = os.path.join(tmpdir, "nginx-%s" % ns.name)
        os.makedirs(self.dir, exist_ok=True)
        conf = os.path.join(self.dir, "nginx.conf")
        with open(conf, "w") as f:
            f.write(NGINX_CONF % {"dir": self.dir, "addr": addr, "port": port})
        self.p = ns.popen("nginx -c %s" % conf, start_new_session=True)
        wait_until(lambda: ns.run("ss -ltn", check=False).stdout.count(":%d " % port) > 0,
                   what="nginx listening")

    def access_lines(self):
        with open(os.path.join(self.dir, "access.log")) as f:
            return f.readlines()

    def stop(self):
        os.killpg(self.p.pid, signal.SIGTERM)
        self.p.wait(timeout=10)


def loadgen(t, target, *args):
    t.ctl("loadgen", "start", target, *args)


def test_loadgen_keepalive_against_nginx(ternd_factory, netns_factory, tmpdir_tern):
    """Connections opened by ternd (active open, SYN-SENT -> ESTABLISHED)
    carry keep-alive requests to nginx; every response is counted."""
    t, a = one_host(ternd_factory, netns_factory)
    n = Nginx(a.ns, a.ip, 8080, tmpdir_tern)
    try:
        base = t.mbufs_in_use()
        loadgen(t, "%s:8080" % a.ip, "conns", "4", "duration", "2")
        time.sleep(2.5)
        r = t.ctl("loadgen", "show", json_out=True)
        assert r["requests"] > 100, r
        assert r["errors"] == 0 and r["bad_responses"] == 0, r
        assert r["connects"] == 4, r
        assert r["latency_p50_us"] > 0
        assert len(n.access_lines()) >= r["requests"]
        st = t.ctl("tcp", "stats", json_out=True)
        assert st["ActiveOpens"] == 4
        t.ctl("loadgen", "stop")
        wait_until(lambda: t.ctl("tcp", "stats", json_out=True)["Connections"] <= 4,
                   what="connections closed")
        t.wait_mbufs(base)
    finally:
        n.stop()


def test_loadgen_close_mode(ternd_factory, netns_factory, tmpdir_tern):
    """One request per connection: connections/s equals requests/s, and the
    connections ternd closed first wait in TIME-WAIT."""
    t, a = one_host(ternd_factory, netns_factory)
    n = Nginx(a.ns, a.ip, 8080, tmpdir_tern)
    try:
        base = t.mbufs_in_use()
        loadgen(t, "%s:8080" % a.ip, "conns", "2", "duration", "1", "close")
        time.sleep(1.5)
        r = t.ctl("loadgen", "show", json_out=True)
        assert r["requests"] > 20 and r["errors"] == 0, r
        assert abs(r["connects"] - r["requests"]) <= 2, r
        t.ctl("loadgen", "stop")
        t.wait_mbufs(base)
    finally:
        n.stop()


def test_connect_refused(ternd_factory, netns_factory):
    """A connect to a closed port is refused by the peer's RST: counted as
    errors and AttemptFails, nothing leaks."""
    t, a = one_host(ternd_factory, netns_factory)
    base = t.mbufs_in_use()
    loadgen(t, "%s:8081" % a.ip, "conns", "1", "duration", "1")
    time.sleep(1.5)
    r = t.ctl("loadgen", "show", json_out=True)
    assert r["requests"] == 0 and r["errors"] > 0, r
    assert t.ctl("tcp", "stats", json_out=True)["AttemptFails"] > 0
    t.wait_mbufs(base)


EAL3 = ("eal --lcores 0@0,1@1,2@1 --no-pci --in-memory --log-level=lib.eal:warning "
        "--log-level=pmd.*:warning")


def test_two_workers_services_and_loadgen(ternd_factory, netns_factory, tmpdir_tern):
    """Two workers on a port with two queues (af_packet fanout spreads flows
    by the kernel's hash, not ours): passive opens live where their SYN
    landed, active opens pick a port their own worker owns, and segments
    that land on the other worker are handed over, so both directions
    work whatever the spreading."""
    from conftest import config
    from peers import host, links_up
    a = host(netns_factory, "tw", default_route=False)
    t = ternd_factory(config("port add pa net_af_packet0,iface=%s,qpairs=2" % a.outer,
                             "addr add %s/24 dev pa" % a.gw, "service http",
                             eal=EAL3, workers="workers 1-2"))
    links_up(t, "pa")
    n = Nginx(a.ns, a.ip, 8080, tmpdir_tern)
    try:
        base = t.mbufs_in_use()
        for _ in range(20):
            r = a.ns.run("curl -s -m 5 http://%s/bytes/100000 | wc -c" % a.gw)
            assert r.stdout.strip() == "100000"
        loadgen(t, "%s:8080" % a.ip, "conns", "8", "duration", "2")
        time.sleep(2.5)
        r = t.ctl("loadgen", "show", json_out=True)
        st = t.ctl("tcp", "stats", json_out=True)
        assert r["requests"] > 50 and r["errors"] == 0, r
        assert r["connects"] == 8, r
        # Every segment handed over was taken by its owner.
        assert st["HandoffIn"] == st["HandoffOut"], st
        assert t.drops()["tcp_wrong_worker"] == 0
        t.ctl("loadgen", "stop")
        t.wait_mbufs(base)
    finally:
        n.stop()
