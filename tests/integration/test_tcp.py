# SPDX-License-Identifier: BSD-3-Clause
"""TCP against Linux peers in network namespaces: ternd's services (http,
tcp-echo, tcp-discard) answer curl, wget, socat and nc; a closed port
refuses at once; TIME-WAIT lasts 2*MSL; transfers stay exact through loss
and duplication; keepalive probes a live peer and resets a dead one; a SYN
flood is absorbed by SYN cookies; nmap scans and fingerprints ternd; and
malformed segments are each dropped under their own reason.

This kernel has no netem: loss is iptables' statistic match (-j DROP),
duplication its TEE target.  Lost on the way in to a Linux host is lost;
dropped in a Linux sender's own OUTPUT chain is not (its TCP sees a
failed send and sends again later), so data to ternd is lost in a Linux
router between the two (routed_host).

Every test checks that ternd's mbuf pools come back to where they were:
a segment held by a connection, a retransmit queue or the SYN queue and
never freed shows there."""

import hashlib
import os
import re
import signal
import subprocess
import time
import xml.etree.ElementTree as ET

import pytest
from scapy.all import TCP, rdpcap

from conftest import config, sh, uniq, wait_until
from peers import RAW, capture, deltas, host, links_up, no_ipv6, ns_scapy, one_host, settle, subnet

MB = 1000 * 1000


def pattern(n):
    """The body of GET /bytes/N: byte i is 'a' + i % 26."""
    b = bytes(range(ord("a"), ord("a") + 26))
    return (b * (n // 26 + 1))[:n]


def pattern_sha(n):
    return hashlib.sha256(pattern(n)).hexdigest()


def mib(t):
    """tcp stats, as a dict of counters."""
    return t.ctl("tcp", "stats", json_out=True)


def conns(t, *which):
    """conn show [listen|established]: a list of dicts."""
    return t.ctl("conn", "show", *which, json_out=True)["connections"]


def sha_of(ns, cmd, timeout=120):
    """sha256 of what cmd, run in ns, writes to stdout."""
    r = ns.run("%s | sha256sum" % cmd, timeout=timeout)
    return r.stdout.split()[0]


def file_sha(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def no_conns(t):
    """Only the listeners are left (the peers closed, ternd let go), and
    TIME-WAIT where ternd closed first."""
    return all(c["state"] in ("LISTEN", "TIME_WAIT") for c in conns(t))


def services(*names):
    return tuple("service " + n for n in names)


# --- applications ------------------------------------------------------------


def test_http_get_root(ternd_factory, netns_factory):
    """The first curl: / and 10 MB of /bytes, byte for byte."""
    t, a = one_host(ternd_factory, netns_factory, "service http")
    base = t.mbufs_in_use()
    r = a.ns.run("curl -s -m 5 http://%s/" % a.gw)
    assert r.stdout == "tern: hello\n"
    got = sha_of(a.ns, "curl -s -m 30 http://%s/bytes/10000000" % a.gw)
    assert got == pattern_sha(10000000)
    m = mib(t)
    # On a quiet machine nothing is resent; on a loaded one the af_packet
    # rings can drop a burst (a CI run resent 9 of some 7000 segments
    # while a compiler ran), so only a loss rate that hints at a bug fails.
    assert m["PassiveOpens"] == 2 and m["RetransSegs"] * 100 <= m["OutSegs"], m
    wait_until(lambda: no_conns(t), what="connections closed")
    t.wait_mbufs(base)


def test_http_curl_wget(ternd_factory, netns_factory):
    """Two HTTP clients, each with its own TCP and HTTP habits (curl: HTTP/1.1
    keep-alive; wget: its own headers and read sizes), get the same bytes;
    HEAD has the length but no body; an unknown path is a 404."""
    t, a = one_host(ternd_factory, netns_factory, "service http")
    base = t.mbufs_in_use()
    n = 10 * MB
    want = pattern_sha(n)
    url = "http://%s" % a.gw
    assert a.ns.run("curl -s -m 5 %s/" % url).stdout == "tern: hello\n"
    assert a.ns.run("wget -q -T 5 -O - %s/" % url).stdout == "tern: hello\n"
    assert sha_of(a.ns, "curl -s -m 30 %s/bytes/%d" % (url, n)) == want
    assert sha_of(a.ns, "wget -q -T 30 -O - %s/bytes/%d" % (url, n)) == want
    # Odd sizes: not a multiple of 26, nor of the MSS.
    for k in (0, 1, 25, 1447, 65537):
        assert sha_of(a.ns, "curl -s -m 5 %s/bytes/%d" % (url, k)) == pattern_sha(k), k
    r = a.ns.run("curl -s -m 5 -I %s/bytes/12345" % url)
    assert r.stdout.startswith("HTTP/1.1 200"), r.stdout
    assert re.search(r"(?im)^content-length: 12345$", r.stdout), r.stdout
    # HEAD then GET, pipelined on one connection: the HEAD answer has no
    # body, so the GET's status line follows its blank line at once.
    req = ("HEAD /bytes/12345 HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n"
           "GET / HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\n\\r\\n")
    r = a.ns.run("sh -c 'printf \"%s\" | nc -w 5 %s 80'" % (req, a.gw))
    parts = r.stdout.split("\n\n")
    assert len(parts) == 3 and parts[1].startswith("HTTP/1.1 200"), r.stdout
    assert "Content-Length: 12345" in parts[0] and parts[2] == "tern: hello\n", r.stdout
    r = a.ns.run("curl -s -m 5 -o /dev/null -w '%%{http_code}' %s/nope" % url)
    assert r.stdout == "404", r.stdout
    wait_until(lambda: no_conns(t), what="connections closed")
    t.wait_mbufs(base)


def test_http_keepalive(ternd_factory, netns_factory):
    """curl with two URLs on one command line sends both requests over one
    connection (HTTP/1.1 persistence): one passive open, not two."""
    t, a = one_host(ternd_factory, netns_factory, "service http")
    base = t.mbufs_in_use()
    m0 = mib(t)
    url = "http://%s" % a.gw
    r = a.ns.run("curl -sv -m 10 -o /dev/null -o /dev/null %s/ %s/bytes/1000000" % (url, url))
    assert re.search(r"Re-using existing connection|Reusing existing connection", r.stderr), \
        r.stderr
    d = deltas(m0, mib(t))
    assert d["PassiveOpens"] == 1, d
    # The same with the bodies checked: both answers, back to back.
    body = a.ns.run("curl -s -m 10 %s/bytes/100 %s/" % (url, url)).stdout
    assert body == pattern(100).decode() + "tern: hello\n"
    d = deltas(m0, mib(t))
    assert d["PassiveOpens"] == 2, d
    wait_until(lambda: no_conns(t), what="connections closed")
    t.wait_mbufs(base)


def test_echo_discard_100mb(ternd_factory, netns_factory, tmpdir_tern):
    """tcp-echo (RFC 862) returns 100 MB of random bytes exactly while the
    client still sends (both directions full, flow control on ternd's send
    buffer); tcp-discard (RFC 863) takes 100 MB and returns nothing."""
    t, a = one_host(ternd_factory, netns_factory, *services("tcp-echo", "tcp-discard"))
    base = t.mbufs_in_use()
    f = os.path.join(tmpdir_tern, "rand")
    a.ns.run("head -c 100M /dev/urandom > %s" % f)
    want = file_sha(f)
    rx0 = t.links()["pa"]["rx_bytes"]
    # -t: after its EOF on stdin, socat waits that long for the echo to end
    # (ternd closes once it has echoed everything and read our FIN).
    got = sha_of(a.ns, "socat -b65536 -t 60 -T 60 - TCP4:%s:7 < %s" % (a.gw, f))
    assert got == want
    rx1 = t.links()["pa"]["rx_bytes"]
    assert rx1 - rx0 >= 100 * 1024 * 1024
    r = a.ns.run("socat -b65536 -t 10 -u OPEN:%s,rdonly TCP4:%s:9" % (f, a.gw), timeout=60)
    assert r.returncode == 0
    assert t.links()["pa"]["rx_bytes"] - rx1 >= 100 * 1024 * 1024
    # Discard wrote nothing back: a client that reads gets EOF, no data.
    r = a.ns.run("sh -c 'echo hello | socat -t 2 - TCP4:%s:9 | wc -c'" % a.gw)
    assert r.stdout.strip() == "0"
    m = mib(t)
    assert m["PassiveOpens"] == 3 and m["EstabResets"] == 0 and m["OutRsts"] == 0, m
    wait_until(lambda: no_conns(t), what="connections closed")
    t.wait_mbufs(base)


def test_closed_port_refused(ternd_factory, netns_factory):
    """A SYN to a port nothing listens on is answered with a RST at once
    (RFC 9293 3.10.7.1): nc -z fails in well under a second, OutRsts moves and
    the SYN is counted under tcp_no_conn."""
    t, a = one_host(ternd_factory, netns_factory, "service http")
    base = t.mbufs_in_use()
    assert a.ns.run("nc -z -w 3 %s 80" % a.gw, check=False).returncode == 0
    m0, d0 = mib(t), t.drops()
    t0 = time.time()
    r = a.ns.run("nc -z -v -w 5 %s 81" % a.gw, check=False)
    took = time.time() - t0
    assert r.returncode != 0 and "refused" in r.stderr, r
    assert took < 1.0, took
    dm = deltas(m0, mib(t))
    assert dm.get("OutRsts") == 1 and "PassiveOpens" not in dm, dm
    assert deltas(d0, t.drops()) == {"tcp_no_conn": 1}
    t.wait_mbufs(base)


def test_time_wait(ternd_factory, netns_factory):
    """ternd closes first when the client asks for "Connection: close": its
    side goes through FIN-WAIT to TIME-WAIT, which `conn show` lists with its
    timer, and which ends after 2*MSL (msl-ms 1000: two seconds)."""
    t, a = one_host(ternd_factory, netns_factory, "service http", "tcp set msl-ms 1000")
    base = t.mbufs_in_use()
    r = a.ns.run("curl -s -m 5 -H 'Connection: close' --local-port 40123 http://%s/" % a.gw)
    assert r.stdout == "tern: hello\n"
    t0 = time.time()
    tw = [c for c in conns(t) if c["state"] == "TIME_WAIT"]
    assert len(tw) == 1, conns(t)
    c = tw[0]
    assert c["local"] == "%s:80" % a.gw and c["peer"] == "%s:40123" % a.ip, c
    m = re.match(r"timewait,(\d+)ms$", c.get("timer", ""))
    assert m and 0 < int(m.group(1)) <= 2000, c
    # The client, which closed second, has no TIME-WAIT of its own.
    ss = a.ns.run("ss -tan state time-wait").stdout
    assert "40123" not in ss, ss
    wait_until(lambda: not any(c["state"] == "TIME_WAIT" for c in conns(t)), timeout=5,
               what="TIME-WAIT to end")
    took = time.time() - t0
    assert 1.0 < took < 3.5, took
    t.wait_mbufs(base)


def test_time_wait_reuse(ternd_factory, netns_factory):
    """A new SYN for a 4-tuple in TIME-WAIT, with a higher sequence number and
    timestamp, opens a new connection (RFC 6191) instead of waiting 2*MSL."""
    t, a = one_host(ternd_factory, netns_factory, "service http", "tcp set msl-ms 30000")
    base = t.mbufs_in_use()
    url = "http://%s/" % a.gw
    for _ in range(3):
        r = a.ns.run("curl -s -m 5 -H 'Connection: close' --local-port 40200 %s" % url)
        assert r.stdout == "tern: hello\n"
    m = mib(t)
    assert m["TimeWaitReused"] == 2 and m["PassiveOpens"] == 3, m
    # One TIME-WAIT left, the last connection's.
    assert [c["state"] for c in conns(t) if c["state"] != "LISTEN"] == ["TIME_WAIT"]
    t.wait_mbufs(base)


# --- loss and duplication ----------------------------------------------------


def iptables(ns, *rules):
    for r in rules:
        ns.run("iptables " + r)


LOSS = "-m statistic --mode random --probability %s -j DROP"


@pytest.mark.parametrize("cc", ["cubic", "reno"])
def test_download_with_loss(ternd_factory, netns_factory, cc):
    """5 % of the segments ternd sends are lost on the way in, and 5 % of the
    client's ACKs on the way out: a 20 MB download still arrives exact, and
    ternd recovers through SACK / fast retransmit (and timeouts when a
    retransmission is lost too)."""
    t, a = one_host(ternd_factory, netns_factory, "service http", "tcp set cc " + cc,
                    "tcp set rto-min-ms 50")
    base = t.mbufs_in_use()
    # Lost on arrival: a real hole.  The ACKs dropped on the way out are
    # simply not sent (see Routed): fewer ACKs, as with ACK loss.
    iptables(a.ns, "-A INPUT -p tcp --sport 80 " + LOSS % "0.05",
             "-A OUTPUT -p tcp --dport 80 " + LOSS % "0.05")
    m0 = mib(t)
    n = 20 * MB
    assert sha_of(a.ns, "curl -s -m 60 --retry 0 http://%s/bytes/%d" % (a.gw, n)) == pattern_sha(n)
    d = deltas(m0, mib(t))
    assert d.get("RetransSegs", 0) > 0, d
    assert d.get("FastRetrans", 0) + d.get("SackRecoveries", 0) > 0, d
    a.ns.run("iptables -F")
    wait_until(lambda: no_conns(t), what="connections closed")
    t.wait_mbufs(base)


class Routed:
    """A Linux client C behind a Linux router R: C's traffic to ternd is
    forwarded by R, where iptables can drop or copy it.  (iptables in C's
    own OUTPUT chain does not lose anything: the local TCP sees the
    drop as a failed send and sends the segment again later, so no hole
    ever reaches the wire.)"""

    def __init__(self, r, ns, net):
        self.r, self.ns, self.net = r, ns, net
        self.ip = net + ".2"
        self.gw = r.gw  # ternd, seen from C


def routed_host(ternd_factory, netns_factory, *lines):
    r = host(netns_factory, "tpr", default_route=False)
    net = subnet()
    t = ternd_factory(config("port add pa net_af_packet0,iface=%s" % r.outer,
                             "addr add %s/24 dev pa" % r.gw,
                             "route add %s.0/24 via %s dev pa" % (net, r.ip), *lines))
    links_up(t, "pa")
    c = netns_factory("tpc")
    no_ipv6(c)
    x, y = uniq("tx"), uniq("ty")
    sh("ip link add %s netns %s type veth peer name %s netns %s" % (x, r.ns.name, y, c.name))
    for ns, dev, addr in ((r.ns, x, net + ".1/24"), (c, y, net + ".2/24")):
        ns.run("ethtool -K %s tx off tso off gso off gro off" % dev, check=False)
        ns.run("ip addr add %s dev %s" % (addr, dev))
        ns.run("ip link set %s up" % dev)
    r.ns.run("sysctl -qw net.ipv4.ip_forward=1")
    c.run("ip route add default via %s.1" % net)
    return t, Routed(r, c, net)


def test_upload_with_loss_and_duplicates(ternd_factory, netns_factory, tmpdir_tern):
    """The client's data reaches ternd with holes (5 % lost in the router)
    and duplicates (5 % sent twice, iptables TEE): ternd queues what comes
    after a hole, SACKs it, discards the copies, and echoes 20 MB exact while
    2 % of its own segments back are lost too."""
    t, c = routed_host(ternd_factory, netns_factory, "service tcp-echo", "tcp set rto-min-ms 50")
    base = t.mbufs_in_use()
    f = os.path.join(tmpdir_tern, "rand")
    sh("head -c 20M /dev/urandom > %s" % f)
    want = file_sha(f)
    # The SACK-permitted SYN must get through, so only data is lost.
    r = c.r.ns
    iptables(r, "-A FORWARD -s %s -p tcp --dport 7 ! --syn %s" % (c.ip, LOSS % "0.05"),
             "-A FORWARD -d %s -p tcp --sport 7 ! --syn %s" % (c.ip, LOSS % "0.02"),
             "-t mangle -A FORWARD -s %s -p tcp --dport 7 -m statistic --mode random "
             "--probability 0.05 -j TEE --gateway %s" % (c.ip, c.gw))
    m0 = mib(t)
    got = sha_of(c.ns, "socat -b65536 -t 60 -T 60 - TCP4:%s:7 < %s" % (c.gw, f))
    assert got == want
    d = deltas(m0, mib(t))
    # Both the losses and the copies happened (packet counts of the rules).
    for table in ("filter", "mangle"):
        out = r.run("iptables -t %s -L FORWARD -v -n -x" % table).stdout
        counts = [int(l.split()[0]) for l in out.splitlines()[2:] if l.strip()]
        assert counts and min(counts) > 50, out
    assert d.get("OfoQueued", 0) > 0, d
    assert d.get("RetransSegs", 0) > 0, d
    # The copies: already received, or out of the window by then.
    assert d.get("OutOfWindow", 0) > 0, d
    wait_until(lambda: no_conns(t), what="connections closed")
    t.wait_mbufs(base)


# --- keepalive ---------------------------------------------------------------


KEEP_CLIENT = """
import socket, sys, time
def conn(port):
    s = socket.socket()
    s.bind(("", port))
    s.connect((sys.argv[1], 9))
    return s
alive, dead = conn(41111), conn(41112)
time.sleep(float(sys.argv[2]))
# The live one still works: data goes, our FIN is answered with ternd's.
try:
    alive.sendall(b"still here")
    alive.shutdown(socket.SHUT_WR)
    alive.settimeout(5)
    print("alive", len(alive.recv(100)))
except OSError as e:
    print("alive", e.errno)
"""


def test_keepalive(ternd_factory, netns_factory, tmpdir_tern):
    """With `tcp set keepalive 1`, service sockets probe an idle peer after
    keepalive-time-ms, every keepalive-intvl-ms (RFC 1122 4.2.3.6: SEG.SEQ =
    SND.NXT - 1, no data).  A live Linux peer answers each probe and the
    connection stays; a peer that has gone silent (its host now drops
    everything for it) is reset after keepalive-probes unanswered probes."""
    t, a = one_host(ternd_factory, netns_factory, "tcp set keepalive 1",
                    "tcp set keepalive-time-ms 1000", "tcp set keepalive-intvl-ms 1000",
                    "tcp set keepalive-probes 3", "service tcp-discard")
    base = t.mbufs_in_use()
    m0 = mib(t)
    pcap = os.path.join(tmpdir_tern, "keep.pcap")
    cap = capture(a.ns, a.inner, "tcp and src host %s" % a.gw, pcap, 8)
    script = os.path.join(tmpdir_tern, "keep.py")
    with open(script, "w") as f:
        f.write(KEEP_CLIENT)
    client = a.ns.popen("/usr/bin/python3 %s %s 6.5" % (script, a.gw), stdout=subprocess.PIPE,
                        text=True)
    wait_until(lambda: len([c for c in conns(t) if c["state"] == "ESTABLISHED"]) == 2,
               what="two connections")
    timers = [c.get("timer", "") for c in conns(t) if c["state"] == "ESTABLISHED"]
    assert all(re.match(r"keepalive,\d+ms$", x) for x in timers), timers
    # From now on the host drops what ternd sends to the second one.
    a.ns.run("iptables -A INPUT -p tcp --sport 9 --dport 41112 -j DROP")
    out, _ = client.communicate(timeout=20)
    cap.wait()
    # The live one: FIN answered with ternd's FIN, no error.
    assert out.split() == ["alive", "0"], out
    d = deltas(m0, mib(t))
    assert d.get("KeepaliveTimeouts") == 1, d
    assert [c for c in conns(t) if c["state"] == "ESTABLISHED"] == []
    probes = {41111: [], 41112: []}
    rst = []
    for p in rdpcap(pcap):
        if TCP not in p or p[TCP].dport not in probes:
            continue
        tcp = p[TCP]
        if tcp.flags.R:
            rst.append((float(p.time), tcp.dport))
        elif tcp.flags == "A" and len(tcp.payload) == 0 and p.time:
            probes[tcp.dport].append((float(p.time), tcp.seq, tcp.ack))
    # The dead one: exactly keepalive-probes probes a second apart, then a
    # RST a second after the last.  (More RSTs follow: they answer the FIN
    # the host's socket sends at exit, which no longer has a connection.)
    dead = probes[41112]
    assert rst and all(port == 41112 for _, port in rst), rst
    ks = [x for x in dead if x[0] < rst[0][0]]
    assert len(ks) == 3 and len({x[1] for x in ks}) == 1, dead
    gaps = [b[0] - a_[0] for a_, b in zip(ks, ks[1:])] + [rst[0][0] - ks[-1][0]]
    assert all(0.8 < g < 1.5 for g in gaps), gaps
    # The live one was probed too (and answered each time).
    assert len(probes[41111]) >= 3, probes
    assert d.get("KeepaliveProbes", 0) >= 3 + 3, d
    a.ns.run("iptables -F")
    wait_until(lambda: no_conns(t), what="connections closed")
    t.wait_mbufs(base)


# --- floods and scans --------------------------------------------------------


def test_syn_flood_cookies(ternd_factory, netns_factory):
    """hping3 floods port 80 with SYNs (its kernel's RSTs to the SYN-ACKs
    dropped, so the half-open connections stay) while curl downloads 50 MB:
    with a SYN queue of 8, ternd answers the rest with SYN cookies and keeps
    no state for them, the download (whose own SYN may well be answered with
    a cookie) finishes exact, and everything is freed after the flood."""
    t, a = one_host(ternd_factory, netns_factory, "service http", "tcp set syn-backlog 8",
                    "tcp set synack-retries 1", "tcp set rto-init-ms 200")
    base = t.mbufs_in_use()
    m0 = mib(t)
    n = 50 * MB
    iptables(a.ns, "-A OUTPUT -p tcp --dport 80 --tcp-flags RST RST -j DROP")
    # No -c: hping3 counts every packet it sees from the target, the
    # download's included, against it.
    flood = a.ns.popen("hping3 -q -S -p 80 --flood %s" % a.gw, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_until(lambda: mib(t)["SyncookiesSent"] > 100, what="SYN cookies")
        # Slowed down, so that it lasts a few seconds of the flood.
        dl = a.ns.popen("sh -c 'curl -s -m 60 --limit-rate 25M http://%s/bytes/%d | sha256sum'"
                        % (a.gw, n), stdout=subprocess.PIPE, text=True)
        peak = 0
        while dl.poll() is None:
            peak = max(peak, mib(t)["Connections"])
            time.sleep(0.2)
        out, _ = dl.communicate()
    finally:
        os.killpg(flood.pid, signal.SIGINT)
        flood.wait(10)
    assert out.split() and out.split()[0] == pattern_sha(n)
    d = deltas(m0, mib(t))
    assert d.get("SyncookiesSent", 0) > 10000, d
    # The listener, the download and at most the SYN queue.
    assert peak <= 1 + 1 + 8, (peak, d)
    a.ns.run("iptables -F")
    # The half-open ones time out (one SYN-ACK retransmission).
    wait_until(lambda: no_conns(t), timeout=10, what="SYN queue to drain")
    assert mib(t)["Connections"] == 1
    t.wait_mbufs(base)
    # And it still serves.
    assert a.ns.run("curl -s -m 5 http://%s/" % a.gw).stdout == "tern: hello\n"


def nmap_ports(xml):
    """{port: state} from nmap -oX."""
    root = ET.fromstring(xml)
    return {int(p.get("portid")): p.find("state").get("state") for p in root.iter("port")}


def test_nmap_scans(ternd_factory, netns_factory):
    """nmap's SYN scan finds 80 (http), 7 (echo) open and others closed;
    its OS detection (odd flag combinations, probes to open and closed
    ports, a window-scale and timestamp fingerprint) leaves ternd serving."""
    t, a = one_host(ternd_factory, netns_factory, *services("http", "tcp-echo"))
    base = t.mbufs_in_use()
    r = a.ns.run("nmap -n -Pn -sS -p 7,9,22,80,443 -oX - %s" % a.gw, timeout=60)
    ports = nmap_ports(r.stdout)
    assert ports == {7: "open", 9: "closed", 22: "closed", 80: "open", 443: "closed"}, ports
    r = a.ns.run("nmap -n -Pn -O --max-os-tries 1 -p 80,81 -oX - %s" % a.gw, timeout=90)
    ports = nmap_ports(r.stdout)
    assert ports == {80: "open", 81: "closed"}, (ports, r.stdout)
    # OS detection ran its probes against an open and a closed port, and
    # got answers enough for a fingerprint.
    assert '<portused state="open" proto="tcp" portid="80"' in r.stdout, r.stdout
    assert '<portused state="closed" proto="tcp" portid="81"' in r.stdout, r.stdout
    assert "<osfingerprint" in r.stdout, r.stdout
    # Still serving, nothing left half open.
    assert a.ns.run("curl -s -m 5 http://%s/" % a.gw).stdout == "tern: hello\n"
    assert sha_of(a.ns, "curl -s -m 10 http://%s/bytes/1000000" % a.gw) == pattern_sha(1000000)
    wait_until(lambda: no_conns(t), timeout=15, what="scan connections to end")
    t.wait_mbufs(base)


# --- malformed segments --------------------------------------------------------


def test_tcp_malformed(ternd_factory, netns_factory):
    """Each kind of broken segment is dropped under its own reason, before
    it reaches any connection or listener, and provokes no answer."""
    t, a = one_host(ternd_factory, netns_factory, "service http")
    me = t.links()["pa"]["mac"].lower()
    # ternd learns the host's MAC (so nothing waits on ARP).
    assert a.ns.run("curl -s -m 5 http://%s/" % a.gw).stdout == "tern: hello\n"
    wait_until(lambda: no_conns(t), what="connections closed")
    base = t.mbufs_in_use()
    # A different count per reason, so one counted under the wrong reason
    # shows.
    want = {"tcp_checksum": 1, "tcp_offset": 2 + 1, "tcp_runt": 3, "tcp_flags": 4 + 1,
            "tcp_options": 5 + 1, "tcp_not_unicast": 6}
    m0, d0, rx0 = mib(t), t.drops(), t.links()["pa"]["rx_packets"]
    out = ns_scapy(a.ns, RAW % a.inner + """
me, you, you_ip, gw, bcast = %r, %r, %r, %r, %r
E = Ether(dst=me, src=you)
sn = AsyncSniffer(iface=%r, filter="tcp and src host " + gw)
sn.start()
time.sleep(0.3)
I = IP(src=you_ip, dst=gw)
good = bytes(E / I / TCP(sport=41000, dport=80, flags="S", seq=1000))
T = 14 + 20
send(patch(good, T + 16, bytes([good[T + 16] ^ 0xff])))                    # tcp_checksum
send(E / I / TCP(sport=41001, dport=80, flags="S", dataofs=4), 2)          # tcp_offset: 4 < 5
send(E / I / TCP(sport=41002, dport=80, flags="S", dataofs=15))            #  beyond the segment
send(E / IP(src=you_ip, dst=gw, proto=6) / Raw(b"\\xa0\\x28\\x00\\x50" + b"\\0" * 8), 3)  # tcp_runt
send(E / I / TCP(sport=41003, dport=80, flags="SF"), 4)                    # tcp_flags
send(E / I / TCP(sport=41004, dport=80, flags="SR"))
def opts(sport, raw):
    return E / I / TCP(sport=sport, dport=80, flags="S", dataofs=5 + len(raw) // 4) / Raw(raw)
send(opts(41006, b"\\x02\\x01\\x00\\x00"), 3)                                # tcp_options: length 1
send(opts(41007, b"\\x02\\x08\\x05\\xb4"), 2)                                #  past the option space
send(opts(41008, b"\\x01\\x01\\x03\\x03"))                                   #  wscale cut short
B = Ether(dst="ff:ff:ff:ff:ff:ff", src=you) / IP(src=you_ip, dst=bcast)
send(B / TCP(sport=41009, dport=80, flags="S"), 6)                         # tcp_not_unicast
time.sleep(1)
got = sn.stop()
print(" ".join("%%d/%%s" %% (p[TCP].dport, p[TCP].flags) for p in got if TCP in p))
""" % (me, a.mac, a.ip, a.gw, a.net + ".255", a.inner))
    sent = sum(want.values())
    rx = settle(t, "pa", rx0, sent)
    d = deltas(d0, t.drops())
    assert d == want, (d, want, rx, sent)
    # Every frame arrived (and each was counted above); the host may add
    # one of its own meanwhile, an ARP probe of ternd's address.
    assert sent <= rx <= sent + 2, (rx, sent)
    assert out.strip() == "", out
    dm = deltas(m0, mib(t))
    assert "PassiveOpens" not in dm and "OutRsts" not in dm, dm
    assert a.ns.run("curl -s -m 5 http://%s/" % a.gw).stdout == "tern: hello\n"
    wait_until(lambda: no_conns(t), what="connections closed")
    t.wait_mbufs(base)


def raw_syns(t, a, sport, sends):
    """Runs `sends` (scapy lines using E, an Ethernet + IP header from host
    `a` to ternd, and send()) on a raw socket of `a`, sniffing what ternd
    sends to `sport` meanwhile; returns the TCP segments as [flags, seq,
    ack] lists.  The host's kernel, which has no socket for them, is kept
    from resetting the answers until the caller runs `iptables -F`."""
    me = t.links()["pa"]["mac"].lower()
    iptables(a.ns, "-A OUTPUT -p tcp --sport %d --tcp-flags RST RST -j DROP" % sport)
    out = ns_scapy(a.ns, RAW % a.inner + """
me, you, you_ip, gw = %r, %r, %r, %r
E = Ether(dst=me, src=you) / IP(src=you_ip, dst=gw)
sn = AsyncSniffer(iface=%r, filter="tcp and src host %%s and dst port %d" %% gw)
sn.start()
time.sleep(0.3)
%s
got = sn.stop()
print(" ".join("%%s/%%d/%%d" %% (p[TCP].flags, p[TCP].seq, p[TCP].ack) for p in got if TCP in p))
""" % (me, a.mac, a.ip, a.gw, a.inner, sport, sends))
    return [x.split("/") for x in out.split()]


def test_syn_received_syn(ternd_factory, netns_factory):
    """A half-open connection of a listener, seen from a raw host, behaves as
    Linux's tcp_check_req: a retransmission of the SYN (same ISN) gets the
    same SYN-ACK again; a SYN in window with another ISN ends the half-open
    connection and is answered by <SEQ=0><ACK=SEG.SEQ+1><CTL=RST,ACK>,
    counted in AttemptFails and EmbryonicRsts; the listener stays."""
    t, a = one_host(ternd_factory, netns_factory, "service http")
    assert a.ns.run("curl -s -m 5 http://%s/" % a.gw).stdout == "tern: hello\n"
    wait_until(lambda: no_conns(t), what="connections closed")
    base, m0 = t.mbufs_in_use(), mib(t)
    segs = raw_syns(t, a, 41500, """
for seq in (1000, 1000, 1010):
    send(E / TCP(sport=41500, dport=80, flags="S", seq=seq, window=65535))
    time.sleep(0.3)
time.sleep(0.5)
""")
    # Two SYN-ACKs at least (one more if the SYN-ACK timer fired on a slow
    # machine), all alike, then the RST.
    assert len(segs) >= 3, segs
    synacks, rst = segs[:-1], segs[-1]
    assert all(x[0] == "SA" and x[1:] == synacks[0][1:] and x[2] == "1001" for x in synacks), segs
    assert rst == ["RA", "0", "1011"], segs
    d = deltas(m0, mib(t))
    assert d.get("EmbryonicRsts") == 1 and d.get("AttemptFails") == 1, d
    assert [c["state"] for c in conns(t)] == ["LISTEN"], conns(t)
    a.ns.run("iptables -F")
    assert a.ns.run("curl -s -m 5 http://%s/" % a.gw).stdout == "tern: hello\n"
    wait_until(lambda: no_conns(t), what="connections closed")
    t.wait_mbufs(base)


def test_syn_received_syn_rate_limited(ternd_factory, netns_factory):
    """Retransmitted SYNs of a half-open connection, sent in a quick
    burst from a raw host, draw one SYN-ACK per 500 ms as from Linux
    (tcp_check_req, tcp_invalid_ratelimit): the SYN's own and the first
    repeat's, then none for the next three; AckSkippedSynRecv counts them."""
    t, a = one_host(ternd_factory, netns_factory, "service http")
    base, m0 = t.mbufs_in_use(), mib(t)
    segs = raw_syns(t, a, 41501, """
send(E / TCP(sport=41501, dport=80, flags="S", seq=5000, window=65535))
time.sleep(0.05)
for _ in range(4):
    send(E / TCP(sport=41501, dport=80, flags="S", seq=5000, window=65535))
    time.sleep(0.02)
time.sleep(0.3)
""")
    # The repeats go within 0.1 s of the first one's answer, and the
    # sniffer stops before the SYN-ACK timer (1 s) fires.
    assert len(segs) == 2, segs
    assert all(x[0] == "SA" and x[1:] == segs[0][1:] and x[2] == "5001" for x in segs), segs
    d = deltas(m0, mib(t))
    assert d.get("AckSkippedSynRecv") == 3, d
    # The host's kernel resets the next SYN-ACK (the timer's), which ends
    # the half-open connection; a real client still gets through.
    a.ns.run("iptables -F")
    assert a.ns.run("curl -s -m 5 http://%s/" % a.gw).stdout == "tern: hello\n"
    wait_until(lambda: no_conns(t), timeout=30, what="connections closed")
    t.wait_mbufs(base)


def test_tcp_set_rto_bounds_config(ternd_factory):
    """Each `tcp set` line of a config file is checked against the values
    the lines before it set, not the live ones: `show running-config` after
    rto-min-ms 100 and rto-max-ms 150 (both below the default rto-min-ms
    200) is a file ternd boots from again."""
    nulls = ("port add null0 net_null0,size=64", "port add null1 net_null1,size=64")
    t = ternd_factory(config(*nulls))
    t.ctl("tcp", "set", "rto-min-ms", "100")
    t.ctl("tcp", "set", "rto-max-ms", "150")
    rc1 = t.ctl("show", "running-config")
    assert "tcp set rto-min-ms 100\n" in rc1 and "tcp set rto-max-ms 150\n" in rc1, rc1
    t.stop()
    t2 = ternd_factory(rc1, name="again")
    assert t2.ctl("show", "running-config") == rc1
    show = t2.ctl("tcp", "show", json_out=True)
    assert show["rto-min-ms"] == 100 and show["rto-max-ms"] == 150, show
    # Still refused: a file whose own lines conflict.
    t3 = ternd_factory(config(*nulls, "tcp set rto-max-ms 150"), name="bad", start=False)
    with pytest.raises(RuntimeError, match="rto-min-ms 200 is above rto-max-ms 150"):
        t3.start()
    assert t2.stop() == 0
