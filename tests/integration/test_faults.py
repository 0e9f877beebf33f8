# SPDX-License-Identifier: BSD-3-Clause
"""ternd over a faulty wire.  This kernel has no netem, so the wire is vde2's:
two vde_switches joined by a wirefilter, which loses, delays with jitter
(and so reorders) and duplicates frames in user space, both ways.

    ternd (net_af_packet on tap A) -- switch A -- wirefilter -- switch B --
    tap B (a Linux host in its own namespace)

vde_switch and wirefilter read commands from stdin and exit at its end, so
each gets a pipe this test holds open.

Covered: a TCP transfer both ways, 30 handshakes and closes, ARP
resolution, and a transfer through SNAT whose conntrack must not be fooled
by retransmitted or duplicated segments."""

import hashlib
import os
import subprocess

import pytest

from conftest import config, sh, uniq, wait_until
from peers import host, links_up, no_ipv6, ping, subnet
from test_nat import curl_sha, http_server, kill, log_clients, nstats, sessions, www

pytestmark = pytest.mark.skipif(
    subprocess.run("command -v wirefilter vde_switch", shell=True,
                   stdout=subprocess.DEVNULL).returncode != 0 and not os.environ.get("CI"),
    reason="vde2 is not installed (scripts/test.sh installs it)")


class Wire:
    """The two switches and the wirefilter between them; stop() ends them
    by PID (the host's namespace is deleted by its own fixture)."""

    def __init__(self, tmpdir, host, wirefilter_args):
        self.procs = []
        self.tap_a, self.tap_b = uniq("tva"), uniq("tvb")
        sock_a, sock_b = os.path.join(tmpdir, "vde-a"), os.path.join(tmpdir, "vde-b")
        self.log = os.path.join(tmpdir, "vde.log")
        log = open(self.log, "w")
        self._start("vde_switch -s %s -t %s" % (sock_a, self.tap_a), log)
        self._start("ip netns exec %s vde_switch -s %s -t %s" % (host.name, sock_b, self.tap_b),
                    log)
        for s in (sock_a, sock_b):
            wait_until(lambda: os.path.exists(os.path.join(s, "ctl")), what="vde_switch " + s)
        self._start("wirefilter -v %s:%s %s" % (sock_a, sock_b, wirefilter_args), log)
        wait_until(lambda: "starting" in open(self.log).read(), what="wirefilter")
        log.close()

    def _start(self, cmd, log):
        self.procs.append(subprocess.Popen(cmd.split(), stdin=subprocess.PIPE, stdout=log,
                                           stderr=subprocess.STDOUT, start_new_session=True))

    def stop(self):
        for p in reversed(self.procs):
            if p.poll() is None:
                p.kill()
            p.wait()
            p.stdin.close()


@pytest.fixture
def faulty(ternd_factory, netns_factory, tmpdir_tern):
    """make(wirefilter args, ternd lines): ternd (port pa, .1) and a Linux
    host (.2) on a faulty wire; returns (ternd, host namespace, net).  With
    inside=True, also an inside host on a clean veth (port pi), returned
    fourth."""
    wires = []

    def make(args, *lines, inside=False):
        net = subnet()
        h = netns_factory("tfh")
        no_ipv6(h)
        w = Wire(tmpdir_tern, h, args)
        wires.append(w)
        sh("sysctl -qw net.ipv6.conf.%s.disable_ipv6=1" % w.tap_a, check=False)
        sh("ip link set %s up" % w.tap_a)
        h.run("ip link set %s up" % w.tap_b)
        h.run("ip addr add %s.2/24 dev %s" % (net, w.tap_b))
        ports = ["port add pa net_af_packet0,iface=%s" % w.tap_a, "addr add %s.1/24 dev pa" % net]
        a = None
        if inside:
            a = host(netns_factory, "tfa")
            ports += ["port add pi net_af_packet1,iface=%s" % a.outer,
                      "addr add %s/24 dev pi" % a.gw]
        t = ternd_factory(config(*(ports + list(lines))))
        links_up(t, "pa", *(["pi"] if inside else []))
        return (t, h, net, a) if inside else (t, h, net)

    yield make
    for w in wires:
        w.stop()


def tcp_stats(t):
    return t.ctl("tcp", "stats", json_out=True)


def tcp_deltas(before, after):
    return {k: after[k] - before.get(k, 0) for k in after if isinstance(after[k], int)}


def no_connections_left(t):
    """Every connection closed on ternd's side (none stuck in LAST-ACK or
    FIN-WAIT with its FIN lost): the close machinery retransmitted.  The
    service's listener is the one left (it counts as a connection)."""
    try:
        wait_until(lambda: tcp_stats(t)["Connections"] == 1, timeout=30)
    except AssertionError:
        raise AssertionError("connections left:\n" + t.ctl("conn", "show"))


def test_established_lossy_link(faulty, tmpdir_tern):
    """2 MB echoed over a wire that loses 4% of frames each way, delays
    them 5 ms +- 4 ms (so reorders) and duplicates 2%: byte-exact, and
    ternd's loss recovery ran (retransmissions, out-of-order queue), with
    no connection reset."""
    t, h, net = faulty("-l 4 -d 5+4 -D 2", "service tcp-echo")
    base = t.mbufs_in_use()
    data = os.urandom(2 << 20)
    src = os.path.join(tmpdir_tern, "in.bin")
    with open(src, "wb") as f:
        f.write(data)
    before = tcp_stats(t)
    r = h.run("sh -c 'socat -b65536 -t 20 - TCP:%s.1:7 < %s | sha256sum'" % (net, src),
              timeout=180)
    assert r.stdout.split()[0] == hashlib.sha256(data).hexdigest()
    d = tcp_deltas(before, tcp_stats(t))
    assert d["RetransSegs"] > 0, d
    assert d["OfoQueued"] > 0, d
    assert d["EstabResets"] == 0, d
    no_connections_left(t)
    t.wait_mbufs(base)


def test_listen_lossy_handshakes_and_closes(faulty):
    """30 short HTTP exchanges over a wire losing 10% each way: SYNs,
    SYN-ACKs, FINs and last ACKs get lost, and every exchange still ends
    with the right body (curl gives up on none), and ternd is left with no
    connection: SYN-ACK and FIN retransmission both ran."""
    t, h, net = faulty("-l 10 -d 2", "service http")
    base = t.mbufs_in_use()
    before = tcp_stats(t)
    body = "".join(chr(ord("a") + i % 26) for i in range(5000))
    for i in range(30):
        r = h.run("curl -s --max-time 60 http://%s.1/bytes/5000" % net, timeout=70)
        assert r.stdout == body, "exchange %d" % i
    no_connections_left(t)
    d = tcp_deltas(before, tcp_stats(t))
    assert d["PassiveOpens"] == 30, d
    assert d["RetransSegs"] > 0, d
    assert d["EstabResets"] == 0, d
    t.wait_mbufs(base)


def test_arp_lossy_link(faulty):
    """ARP over a wire losing 30% each way: a lost request or reply is
    retried (1 s retransmit, RFC 1122 2.3.2.1), the peer ends up
    resolved, and pings get through."""
    t, h, net = faulty("-l 30")
    base = t.mbufs_in_use()
    r = ping(h, "%s.1" % net, count=30, wait=2)
    got = int(r.stdout.split(" received")[0].split()[-1])
    assert got >= 5, r.stdout
    # ternd learned the host from its requests or resolved it itself.
    wait_until(lambda: any(n["address"] == "%s.2" % net and n["state"] in
                           ("REACHABLE", "STALE", "DELAY", "PROBE")
                           for n in t.ctl("neigh", "show", json_out=True)["neighbours"]),
               what="host in the neighbour table")
    t.wait_mbufs(base)


def test_nat_lossy_outside(faulty, tmpdir_tern):
    """SNAT with the outside host behind a wire that loses, reorders and
    duplicates: a 2 MB curl through it is byte-exact, the server sees the
    NAT address, retransmitted and duplicated SYNs make no second session,
    no packet of the connection is refused by NAT, and the session follows
    the close (conntrack TIME_WAIT or CLOSE)."""
    t, b, net, a = faulty("-l 4 -d 5+4 -D 2", inside=True)
    t.ctl("nat", "add", "snat", "src", a.net + ".0/24", "out", "pa")
    root, sha = www(tmpdir_tern, 2 << 20)
    log = os.path.join(tmpdir_tern, "http.log")
    srv = http_server(b, net + ".2", 8000, root, log)
    try:
        base = t.mbufs_in_use()
        drops = t.drops()
        assert curl_sha(a.ns, "http://%s.2:8000/f" % net, timeout=120) == sha
        assert log_clients(log) == [net + ".1"]
        st = nstats(t)
        assert st["SessionsCreated"] == 1, st
        grew = {k: v - drops.get(k, 0) for k, v in t.drops().items()
                if k.startswith("nat") and v != drops.get(k, 0)}
        assert grew == {}, grew
        tcp = [x for x in sessions(t) if x["proto"] == "tcp"]
        assert len(tcp) == 1, tcp
        # curl can return before the close is over: a lost FIN or last
        # ACK leaves the session in LAST_ACK until a retransmission gets
        # through the lossy wire.
        states = lambda: [x["state"] for x in sessions(t) if x["proto"] == "tcp"]
        wait_until(lambda: states() in (["TIME_WAIT"], ["CLOSE"]), timeout=30,
                   what="the session to follow the close (TIME_WAIT or CLOSE)")
        t.wait_mbufs(base)
    finally:
        kill(srv)
