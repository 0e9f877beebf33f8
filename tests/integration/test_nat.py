# SPDX-License-Identifier: BSD-3-Clause
"""NAT44 against Linux hosts: inside hosts (A on port pa, C on port pc, or
A and C on one LAN behind pa) reach an outside host (B on port pb) through
ternd.  The outside host has
no route back to the inside networks, only to ternd's own address on its
link, so anything that works from the inside works because of NAT.

Covered: SNAT (TCP, UDP, ICMP echo, one ICMP identifier from two hosts),
the session table (both tuples, TCP states, flush), ICMP errors translated
back (traceroute through a Linux router), DNAT and hairpinning, static 1:1
NAT, filtering (APDF/ADF/EIF), RFC 5780 behaviour discovery against a real
STUN server (coturn), port exhaustion, 100k sessions made and expired, and
two workers handing packets to each other.  Every test checks that
ternd's mbuf pools come back to where they were."""

import hashlib
import os
import re
import subprocess
import time


from conftest import config, sh, uniq, wait_until
from peers import capture, deltas, host, links_up, no_ipv6, ns_scapy, ping, subnet

EAL3 = ("eal --lcores 0@0,1@1,2@1 --no-pci --in-memory --log-level=lib.eal:warning "
        "--log-level=pmd.*:warning")


# --- topology ------------------------------------------------------------------


class Net:
    """ternd with inside hosts (a on pa, c on pc if asked for) and one
    outside host b on pb, which has no route to the inside networks."""

    def __init__(self, t, a, b, c=None):
        self.t, self.a, self.b, self.c = t, a, b, c


def nat_net(ternd_factory, netns_factory, *lines, inside=1, eal=None, workers="workers 1",
            qpairs=None, mtu=None):
    """mtu: {port name: MTU} (net_af_packet sets it on the veth too, so the
    host beyond cannot send more)."""
    a = host(netns_factory, "tna")
    c = host(netns_factory, "tnc") if inside > 1 else None
    b = host(netns_factory, "tnb", default_route=False)
    q = ",qpairs=%d" % qpairs if qpairs else ""
    ports = [("pa", a), ("pb", b)] + ([("pc", c)] if c else [])
    cfg = []
    for i, (name, h) in enumerate(ports):
        m = " mtu %d" % mtu[name] if mtu and name in mtu else ""
        cfg.append("port add %s net_af_packet%d,iface=%s%s%s" % (name, i, h.outer, q, m))
    for name, h in ports:
        cfg.append("addr add %s/24 dev %s" % (h.gw, name))
    kw = {"workers": workers}
    if eal:
        kw["eal"] = eal
    t = ternd_factory(config(*(cfg + list(lines)), **kw))
    links_up(t, *(name for name, _ in ports))
    return Net(t, a, b, c)


def http_server(ns, addr, port, root, log):
    """python3 -m http.server in ns, its log (client addresses) in `log`."""
    p = ns.popen("sh -c 'cd %s && exec /usr/bin/python3 -m http.server --bind %s %d'" % (root, addr, port),
                 stdout=subprocess.DEVNULL, stderr=open(log, "w"), start_new_session=True)
    try:
        wait_until(lambda: ns.run("ss -ltn", check=False).stdout.count(":%d " % port) > 0,
                   what="http.server listening")
    except AssertionError:
        kill(p)
        with open(log) as f:
            raise AssertionError("http.server did not listen: " + f.read())
    return p


def www(tmpdir, size=1 << 20):
    """A directory with one random file f; returns (root, sha256 of f)."""
    root = os.path.join(tmpdir, "www")
    os.makedirs(root, exist_ok=True)
    data = os.urandom(size)
    with open(os.path.join(root, "f"), "wb") as f:
        f.write(data)
    return root, hashlib.sha256(data).hexdigest()


def log_clients(log):
    """Client addresses in an http.server log, one per request."""
    with open(log) as f:
        return [l.split()[0] for l in f if '"GET ' in l]


def curl_sha(ns, url, timeout=10):
    r = ns.run("curl -s -m %d %s | sha256sum" % (timeout, url), check=False)
    return r.stdout.split()[0]


def nstats(t):
    return t.ctl("nat", "stats", json_out=True)


def sessions(t):
    return t.ctl("nat", "sessions", "show", json_out=True)["sessions"]


def kill(p):
    """End a process started with start_new_session (and its children)."""
    try:
        os.killpg(p.pid, 9)
    except ProcessLookupError:
        pass
    p.wait()


# A UDP server that answers every datagram with the address and port it
# came from ("ADDR:PORT"); it prints those too, one a line.
UDP_WHO = r"""
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], int(sys.argv[2])))
print("ready", flush=True)
while True:
    d, a = s.recvfrom(2048)
    print("%s:%d" % a, flush=True)
    s.sendto(("%s:%d" % a).encode(), a)
"""


def udp_who(ns, addr, port, tmpdir):
    path = os.path.join(tmpdir, "udp_who.py")
    with open(path, "w") as f:
        f.write(UDP_WHO)
    p = ns.popen("/usr/bin/python3 -u %s %s %d" % (path, addr, port), stdout=subprocess.PIPE,
                 text=True, start_new_session=True)
    assert p.stdout.readline().strip() == "ready"
    return p


# --- 1. SNAT -------------------------------------------------------------------


def test_snat_curl_shows_nat_address(ternd_factory, netns_factory, tmpdir_tern):
    n = nat_net(ternd_factory, netns_factory)
    t, a, b = n.t, n.a, n.b
    t.ctl("nat", "add", "snat", "src", a.net + ".0/24", "out", "pb")
    root, sha = www(tmpdir_tern)
    log = os.path.join(tmpdir_tern, "http.log")
    srv = http_server(b.ns, b.ip, 8000, root, log)
    try:
        base = t.mbufs_in_use()
        assert curl_sha(a.ns, "http://%s:8000/f" % b.ip) == sha
        assert log_clients(log) == [b.gw]  # the NAT address, not A's
        st = nstats(t)
        assert st["SessionsCreated"] == 1 and st["Translated"] > 700, st
        t.wait_mbufs(base)
    finally:
        kill(srv)


def test_snat_udp_and_ping(ternd_factory, netns_factory, tmpdir_tern):
    """UDP (socat) and ICMP echo through SNAT: the outside host sees the NAT
    address and the inside source port (port preservation)."""
    n = nat_net(ternd_factory, netns_factory)
    t, a, b = n.t, n.a, n.b
    t.ctl("nat", "add", "snat", "src", a.net + ".0/24", "out", "pb")
    srv = udp_who(b.ns, b.ip, 9000, tmpdir_tern)
    try:
        base = t.mbufs_in_use()
        r = a.ns.run("sh -c 'echo hi | socat -t 2 - UDP4:%s:9000,sourceport=5555'" % b.ip)
        assert r.stdout.strip() == "%s:5555" % b.gw
        assert srv.stdout.readline().strip() == "%s:5555" % b.gw
        r = ping(a.ns, b.ip, count=3)
        assert r.returncode == 0 and " 0% packet loss" in r.stdout, (r.stdout, sessions(t), t.drops())
        s = sessions(t)
        udp = [x for x in s if x["proto"] == "udp"]
        icmp = [x for x in s if x["proto"] == "icmp"]
        assert len(udp) == 1 and len(icmp) == 1, s
        assert udp[0]["orig"] == "src=%s dst=%s sport=5555 dport=9000" % (a.ip, b.ip)
        assert udp[0]["reply"] == "src=%s dst=%s sport=9000 dport=5555" % (b.ip, b.gw)
        assert icmp[0]["packets"] == 3 and icmp[0]["reply_packets"] == 3, icmp
        assert icmp[0]["reply"].startswith("src=%s dst=%s id=" % (b.ip, b.gw)), icmp
        t.wait_mbufs(base)
    finally:
        kill(srv)


def test_snat_fragments(ternd_factory, netns_factory):
    """Fragments through NAT: ternd reassembles the inside host's fragmented
    echo requests (a chain of mbufs), translates and fragments them again
    for the outside host, and the replies come back the same way.  The
    inside host H is ternd's net_tap peer (ternd runs in H): net_af_packet
    has the kernel reassemble first (PACKET_FANOUT_FLAG_DEFRAG), so ternd
    would see no fragment there.  The outside host's replies come in by
    net_af_packet, reassembled by the kernel into one frame, so they must
    fit one (1600-byte echoes)."""
    net = subnet()
    h = netns_factory("tnf")
    no_ipv6(h)
    b = host(netns_factory, "tnfb", default_route=False)
    sh("ip link set %s netns %s" % (b.outer, h.name))
    h.run("ip link set %s up" % b.outer)
    tap = uniq("tt")
    t = ternd_factory(config("port add tp net_tap0,iface=%s" % tap,
                             "port add pb net_af_packet0,iface=%s" % b.outer,
                             "addr add %s.1/24 dev tp" % net, "addr add %s/24 dev pb" % b.gw,
                             "nat add snat src %s.0/24 out pb" % net), netns=h.name)
    h.run("ip addr add %s.2/24 dev %s" % (net, tap))
    h.run("ip link set %s up" % tap)
    h.run("ip route add default via %s.1" % net)
    links_up(t, "tp", "pb")
    base = t.mbufs_in_use()
    r = ping(h, b.ip, count=3, size=1600, wait=2)
    assert r.returncode == 0 and " 0% packet loss" in r.stdout, \
        (r.stdout, {k: v for k, v in t.drops().items() if v}, nstats(t))
    st = nstats(t)
    assert st["BadPackets"] == 0 and st["Translated"] == 6, st
    nodes = {n["node"]: n["packets"] for n in t.stats()["nodes"]}
    assert nodes["ip_reassembly"] == 6 and nodes["ip_frag"] == 6, nodes
    t.wait_mbufs(base)


def test_pmtu_snat(ternd_factory, netns_factory):
    """Errors ternd itself sends about translated packets reach the real
    sender (RFC 5508 3): fragmentation needed (RFC 1191) for an inside
    host's SNATed packet goes back to it, not to the NAT address, and its
    kernel learns the path MTU."""
    n = nat_net(ternd_factory, netns_factory, mtu={"pb": 1280})
    t, a, b = n.t, n.a, n.b
    t.ctl("nat", "add", "snat", "src", a.net + ".0/24", "out", "pb")
    base = t.mbufs_in_use()
    assert ping(a.ns, b.ip, count=1, size=1252, extra="-M do").returncode == 0
    d0 = t.drops()
    r = ping(a.ns, b.ip, count=1, size=1400, extra="-M do")
    assert "Frag needed and DF set (mtu = 1280)" in r.stdout, (
        r.stdout, r.stderr, {k: v for k, v in t.drops().items() if v}, nstats(t))
    assert deltas(d0, t.drops()) == {"ip_mtu": 1}
    assert nstats(t)["IcmpErrorsTranslated"] == 1
    route = a.ns.run("ip route get %s" % b.ip).stdout
    assert "mtu 1280" in route, route
    t.wait_mbufs(base)


def test_pmtu_dnat(ternd_factory, netns_factory):
    """The same for a DNATed packet from outside: the error quotes the
    public address and port the outside host used, so its stack (here
    scapy's matching) recognizes it."""
    n = nat_net(ternd_factory, netns_factory, mtu={"pa": 1280})
    t, a, b = n.t, n.a, n.b
    t.ctl("nat", "add", "dnat", "udp", "%s:7000" % b.gw, "to", "%s:7000" % a.ip)
    base = t.mbufs_in_use()
    out = ns_scapy(b.ns, """
r = sr1(IP(dst=%r, flags="DF") / UDP(sport=4444, dport=7000) / Raw(bytes(1400)),
        timeout=3, verbose=0)
print("none" if r is None else "%%d/%%d/%%d/%%s/%%d" %% (r[ICMP].type, r[ICMP].code,
      r[ICMP].nexthopmtu, r[IPerror].dst, r[UDPerror].dport))
""" % b.gw)
    assert out.split() == ["3/4/1280/%s/7000" % b.gw], (
        out, {k: v for k, v in t.drops().items() if v}, nstats(t))
    assert nstats(t)["IcmpErrorsTranslated"] == 1
    t.wait_mbufs(base)


def test_cli_refuses_bad_input(ternd_factory):
    """Bad `nat` arguments get an error naming what is wrong, and change
    nothing: numbers with signs, blanks or past 2^32, a target port with no
    outside port."""
    t = ternd_factory(config("port add p0 net_null0,no-rx=1", "addr add 192.0.2.1/24 dev p0"))
    t.ctl("nat", "add", "snat", "src", "10.0.0.0/24", "out", "p0")
    base = t.mbufs_in_use()
    before = t.ctl("nat", "show")
    bad = [
        (["nat", "add", "snat", "src", "10.1.0.0/24", "out", "p0", "ports",
          "4294968320-2000"], "ports '4294968320-2000'"),
        (["nat", "add", "snat", "src", "10.1.0.0/24", "out", "p0", "ports", "+2000-3000"],
         "ports '+2000-3000'"),
        (["nat", "add", "dnat", "tcp", "192.0.2.1:+80", "to", "10.0.0.9:8080"],
         "'192.0.2.1:+80'"),
        (["nat", "add", "dnat", "tcp", "192.0.2.1:80", "to", "10.0.0.9: 8080"],
         "'10.0.0.9: 8080'"),
        (["nat", "add", "dnat", "tcp", "192.0.2.1", "to", "10.0.0.9:8080"],
         "target port needs an outside port"),
        (["nat", "filtering", "strict"], "filtering 'strict'"),
    ]
    for args, want in bad:
        r = t.ctl(*args, check=False)
        assert r.returncode != 0 and want in r.stderr, (args, r.returncode, r.stderr)
    assert t.ctl("nat", "show") == before
    t.wait_mbufs(base)


def test_icmp_same_identifier_two_hosts(ternd_factory, netns_factory, tmpdir_tern):
    """A and C both ping B with ICMP identifier 4242: B sees two different
    identifiers from the one NAT address, and each inside host gets its
    own replies, with its own identifier back."""
    n = nat_net(ternd_factory, netns_factory, inside=2)
    t, a, b, c = n.t, n.a, n.b, n.c
    for h in (a, c):
        t.ctl("nat", "add", "snat", "src", h.net + ".0/24", "out", "pb")
    pcap = os.path.join(tmpdir_tern, "b.pcap")
    cap = capture(b.ns, b.inner, "icmp", pcap, 6)
    base = t.mbufs_in_use()
    script = """
ok = 0
for seq in range(1, 4):
    r = sr1(IP(dst="%s")/ICMP(id=4242, seq=seq)/Raw(b"%s" * 8), timeout=2)
    if r is not None and r[ICMP].type == 0 and r[ICMP].id == 4242 and r[ICMP].seq == seq \
       and bytes(r[Raw]) == b"%s" * 8:
        ok += 1
print(ok)
"""
    # Both at once, so that the two mappings live side by side.
    pa = a.ns.popen("/usr/bin/python3 -c '%s'" % ("from scapy.all import *\nconf.verb=0\n" + script % (b.ip, "A", "A")),
                    stdout=subprocess.PIPE, text=True)
    pc = c.ns.popen("/usr/bin/python3 -c '%s'" % ("from scapy.all import *\nconf.verb=0\n" + script % (b.ip, "C", "C")),
                    stdout=subprocess.PIPE, text=True)
    assert pa.communicate(timeout=30)[0].strip() == "3"
    assert pc.communicate(timeout=30)[0].strip() == "3"
    s = [x for x in sessions(t) if x["proto"] == "icmp"]
    assert len(s) == 2, s
    assert {x["orig"] for x in s} == {"src=%s dst=%s id=4242" % (h.ip, b.ip) for h in (a, c)}
    ids = {x["reply"].split("id=")[1] for x in s}
    assert len(ids) == 2, s  # one of them was given another identifier
    cap.wait()
    from scapy.all import ICMP, IP, rdpcap
    req = [p for p in rdpcap(pcap) if ICMP in p and p[ICMP].type == 8]
    assert len(req) == 6 and {p[IP].src for p in req} == {b.gw}
    assert {str(p[ICMP].id) for p in req} == ids
    t.wait_mbufs(base)


# --- 2. the session table --------------------------------------------------------


def test_sessions_show_and_flush(ternd_factory, netns_factory, tmpdir_tern):
    """nat sessions show: a finished curl's session in TIME_WAIT, a live TCP
    connection ESTABLISHED, both tuples and the counters each way; flush
    empties the table."""
    n = nat_net(ternd_factory, netns_factory)
    t, a, b = n.t, n.a, n.b
    t.ctl("nat", "add", "snat", "src", a.net + ".0/24", "out", "pb")
    root, sha = www(tmpdir_tern, 100000)
    srv = http_server(b.ns, b.ip, 8000, root, os.path.join(tmpdir_tern, "http.log"))
    echo = b.ns.popen("socat TCP4-LISTEN:9001,bind=%s,reuseaddr PIPE" % b.ip, start_new_session=True)
    wait_until(lambda: ":9001 " in b.ns.run("ss -ltn").stdout, what="socat listening")
    try:
        base = t.mbufs_in_use()
        assert curl_sha(a.ns, "--local-port 40000 http://%s:8000/f" % b.ip) == sha
        # A connection that stays open while we look.
        cli = a.ns.popen("sh -c '(echo hello; sleep 30) | socat - TCP4:%s:9001,sourceport=40001'" % b.ip,
                         stdout=subprocess.PIPE, text=True, start_new_session=True)
        assert cli.stdout.readline().strip() == "hello"
        s = {x["orig"]: x for x in sessions(t)}
        done = s["src=%s dst=%s sport=40000 dport=8000" % (a.ip, b.ip)]
        live = s["src=%s dst=%s sport=40001 dport=9001" % (a.ip, b.ip)]
        assert done["proto"] == "tcp" and done["state"] == "TIME_WAIT", done
        assert done["reply"] == "src=%s dst=%s sport=8000 dport=40000" % (b.ip, b.gw), done
        assert 0 < done["timeout_s"] <= 120, done
        assert done["reply_bytes"] > 100000 and done["packets"] > 5, done
        assert live["state"] == "ESTABLISHED", live
        assert live["reply"] == "src=%s dst=%s sport=9001 dport=40001" % (b.ip, b.gw), live
        assert live["timeout_s"] > 7000, live
        assert live["bytes"] > 0 and live["reply_bytes"] > 0, live
        assert nstats(t)["Sessions"] == 2
        text = t.ctl("nat", "sessions", "show")
        assert "ESTABLISHED" in text and "TIME_WAIT" in text, text
        kill(cli)
        t.ctl("nat", "sessions", "flush")
        assert sessions(t) == []
        assert nstats(t)["Sessions"] == 0
        t.wait_mbufs(base)
    finally:
        kill(echo)
        kill(srv)


def test_default_timeouts(ternd_factory, netns_factory):
    """nat show: the timeouts docs/nat.md documents, RFC 5382 REQ-5's
    minimums for TCP (2 h 4 min established, 4 min transitory), RFC 4787
    REQ-5's 2 min for UDP, RFC 5508's 60 s for ICMP."""
    n = nat_net(ternd_factory, netns_factory)
    base = n.t.mbufs_in_use()
    n.t.ctl("nat", "add", "snat", "src", n.a.net + ".0/24", "out", "pb")
    to = n.t.ctl("nat", "show", json_out=True)["timeouts"]
    n.t.wait_mbufs(base)
    assert to["tcp-established"] == 7440 and to["tcp-time-wait"] == 120, to
    assert to["udp"] == to["udp-stream"] == 300 and to["icmp"] == 60, to
    assert to["tcp-close"] == 10, to
    for k in ("tcp-syn-sent", "tcp-syn-recv", "tcp-fin-wait", "tcp-close-wait", "tcp-last-ack"):
        assert to[k] == 240, (k, to)


# --- 3. ICMP errors: traceroute ------------------------------------------------------


def test_traceroute_through_router(ternd_factory, netns_factory):
    """A - ternd - R - C: traceroute -n from A shows ternd's inside address
    (time exceeded about the packet as A sent it), R (its time exceeded to
    the NAT address translated back) and C (port unreachable, translated
    back)."""
    a = host(netns_factory, "tta")
    r = host(netns_factory, "ttr", default_route=False)
    cnet = subnet()
    t = ternd_factory(config("port add pa net_af_packet0,iface=%s" % a.outer,
                             "port add pb net_af_packet1,iface=%s" % r.outer,
                             "addr add %s/24 dev pa" % a.gw, "addr add %s/24 dev pb" % r.gw,
                             "route add %s.0/24 via %s dev pb" % (cnet, r.ip),
                             "nat add snat src %s.0/24 out pb" % a.net))
    links_up(t, "pa", "pb")
    cns = netns_factory("ttc")
    no_ipv6(cns)
    x, y = uniq("tx"), uniq("ty")
    sh("ip link add %s netns %s type veth peer name %s netns %s" % (x, r.ns.name, y, cns.name))
    for ns, dev, addr in ((r.ns, x, cnet + ".1/24"), (cns, y, cnet + ".2/24")):
        ns.run("ip addr add %s dev %s" % (addr, dev))
        ns.run("ip link set %s up" % dev)
        ns.run("sysctl -qw net.ipv4.icmp_ratelimit=0")
    r.ns.run("sysctl -qw net.ipv4.ip_forward=1")
    # ternd knows R before the probes come (its ARP hold queue keeps 3
    # packets, and traceroute sends all its probes at once).
    assert ping(r.ns, r.gw, count=1).returncode == 0
    # C answers only R's network and the NAT address, never A's.
    cns.run("ip route add %s/32 via %s.1" % (r.gw, cnet))
    base = t.mbufs_in_use()
    st0 = nstats(t)
    out = a.ns.run("traceroute -n -w 2 -m 3 %s.2" % cnet, timeout=40).stdout
    hops = [l.split() for l in out.splitlines()[1:]]
    assert [h[1] for h in hops] == [a.gw, r.ip, cnet + ".2"], out
    assert all("*" not in h for h in hops), out
    st = nstats(t)
    # 3 probes answered by R, 3 by C.
    assert st["IcmpErrorsTranslated"] - st0["IcmpErrorsTranslated"] == 6, st
    t.wait_mbufs(base)


# --- 4. DNAT and hairpinning ---------------------------------------------------------


class LanHost:
    def __init__(self, ns, net, ip, inner):
        self.ns, self.net, self.ip, self.inner = ns, net, ip, inner
        self.gw = net + ".1"


def lan(netns_factory, n):
    """n Linux hosts on one Ethernet segment (a bridge in a namespace of
    its own) with ternd, whose end is returned with them: (iface, hosts).
    Each host's default route is ternd, at .1."""
    net = subnet()
    br = netns_factory("tnl")
    no_ipv6(br)
    br.run("ip link add br0 type bridge")
    br.run("ip link set br0 up")
    outer, y = uniq("tv"), uniq("ty")
    sh("ip link add %s type veth peer name %s netns %s" % (outer, y, br.name))
    sh("ethtool -K %s tx off tso off gso off gro off" % outer, check=False)
    no_ipv6(br, outer)
    sh("ip link set %s up" % outer)
    links = [y]
    hosts = []
    for i in range(n):
        ns = netns_factory("tnh")
        no_ipv6(ns)
        x, z = uniq("tx"), uniq("tz")
        sh("ip link add %s netns %s type veth peer name %s netns %s" % (x, br.name, z, ns.name))
        links.append(x)
        ns.run("ethtool -K %s tx off tso off gso off" % z, check=False)
        ns.run("ip addr add %s.%d/24 dev %s" % (net, i + 2, z))
        ns.run("ip link set %s up" % z)
        ns.run("ip route add default via %s.1" % net)
        hosts.append(LanHost(ns, net, "%s.%d" % (net, i + 2), z))
    for l in links:
        br.run("ethtool -K %s tx off tso off gso off gro off" % l, check=False)
        br.run("ip link set %s master br0" % l)
        br.run("ip link set %s up" % l)
    return outer, hosts


def test_dnat_and_hairpin(ternd_factory, netns_factory, tmpdir_tern):
    """Port forwarding to A's server, with C on A's LAN: B reaches it at
    ternd's outside address :8080 (A sees B's own address); C reaches it at
    the same outside address and port through the hairpin, and A sees C's
    outside mapping, so A's answers go back through ternd.  With
    hairpinning off, A sees C's inside address (the DNAT alone) and answers
    C directly, from an address C never wrote to: C's connection fails."""
    iface, (a, c) = lan(netns_factory, 2)
    b = host(netns_factory, "tnb", default_route=False)
    t = ternd_factory(config("port add pa net_af_packet0,iface=%s" % iface,
                             "port add pb net_af_packet1,iface=%s" % b.outer,
                             "addr add %s/24 dev pa" % a.gw, "addr add %s/24 dev pb" % b.gw))
    links_up(t, "pa", "pb")
    t.ctl("nat", "add", "dnat", "tcp", "%s:8080" % b.gw, "to", "%s:8000" % a.ip)
    t.ctl("nat", "add", "snat", "src", a.net + ".0/24", "out", "pb")
    root, sha = www(tmpdir_tern)
    log = os.path.join(tmpdir_tern, "http.log")
    srv = http_server(a.ns, a.ip, 8000, root, log)
    try:
        base = t.mbufs_in_use()
        url = "http://%s:8080/f" % b.gw
        assert curl_sha(b.ns, url) == sha
        assert log_clients(log) == [b.ip]
        h0 = nstats(t)["Hairpinned"]
        assert curl_sha(c.ns, "--local-port 42000 " + url) == sha
        assert log_clients(log) == [b.ip, b.gw]  # C's outside mapping
        assert nstats(t)["Hairpinned"] == h0 + 1  # sessions, not packets
        s = {x["orig"]: x for x in sessions(t)}
        x = s["src=%s dst=%s sport=42000 dport=8080" % (c.ip, b.gw)]
        assert x["reply"] == "src=%s dst=%s sport=8000 dport=42000" % (a.ip, b.gw), x
        t.ctl("nat", "hairpin", "off")
        t.ctl("nat", "sessions", "flush")
        r = c.ns.run("curl -s -m 3 -o /dev/null -w '%%{http_code}' %s" % url, check=False)
        assert r.returncode != 0 and r.stdout == "000", (r.returncode, r.stdout)
        assert nstats(t)["Hairpinned"] == h0 + 1
        assert len(log_clients(log)) == 2
        # Hairpinning off changes nothing for the outside.
        assert curl_sha(b.ns, url) == sha
        assert log_clients(log)[-1] == b.ip
        t.ctl("nat", "sessions", "flush")
        t.wait_mbufs(base)
    finally:
        kill(srv)


# --- 5. static 1:1 -------------------------------------------------------------


def test_static_both_ways(ternd_factory, netns_factory, tmpdir_tern):
    """nat add static A P (P a pool address of ternd's on pb): A's traffic
    leaves as P, and B reaches A at P (A sees B's own address)."""
    n = nat_net(ternd_factory, netns_factory)
    t, a, b = n.t, n.a, n.b
    p = b.net + ".10"
    root, sha = www(tmpdir_tern)
    loga, logb = os.path.join(tmpdir_tern, "a.log"), os.path.join(tmpdir_tern, "b.log")
    # Before the rule: http.server looks its own name up in DNS, which
    # under the static rule would wait for its timeouts (see
    # test_static_unroutable_gets_unreachable).
    sa = http_server(a.ns, a.ip, 8000, root, loga)
    sb = http_server(b.ns, b.ip, 8000, root, logb)
    t.ctl("addr", "add", p + "/32", "dev", "pb")
    t.ctl("nat", "add", "static", a.ip, p)
    try:
        base = t.mbufs_in_use()
        # Outside in: B knows only P.
        assert curl_sha(b.ns, "http://%s:8000/f" % p) == sha
        assert log_clients(loga) == [b.ip]
        r = ping(b.ns, p, count=2)
        assert r.returncode == 0, r.stdout
        # Inside out: A appears as P, with its own port.
        assert curl_sha(a.ns, "--local-port 41000 http://%s:8000/f" % b.ip) == sha
        assert log_clients(logb) == [p]
        assert ping(a.ns, b.ip, count=2).returncode == 0
        s = {x["orig"]: x for x in sessions(t)}
        x = s["src=%s dst=%s sport=41000 dport=8000" % (a.ip, b.ip)]
        assert x["reply"] == "src=%s dst=%s sport=8000 dport=41000" % (b.ip, p), x
        # B's ping to P was answered by A, not by ternd.
        pings = [x for x in s.values() if x["proto"] == "icmp" and x["orig"].startswith(
            "src=%s dst=%s " % (b.ip, p))]
        assert len(pings) == 1 and pings[0]["reply"].startswith("src=%s dst=%s " % (a.ip, b.ip)), s
        assert pings[0]["reply_packets"] == 2, pings
        t.wait_mbufs(base)
    finally:
        kill(sa)
        kill(sb)


def test_static_unroutable_gets_unreachable(ternd_factory, netns_factory, tmpdir_tern):
    """A, under a static rule, sends to a destination ternd has no route
    for: A gets ternd's net unreachable, as it does under SNAT, and no
    session is made."""
    n = nat_net(ternd_factory, netns_factory)
    t, a, b = n.t, n.a, n.b
    p = b.net + ".10"
    t.ctl("addr", "add", p + "/32", "dev", "pb")
    t.ctl("nat", "add", "static", a.ip, p)
    base = t.mbufs_in_use()
    d0 = t.drops()
    out = ns_scapy(a.ns, """
r = sr1(IP(dst="198.18.0.1")/UDP(sport=4000, dport=53)/Raw(b"x"), timeout=2)
print(r[IP].src, r[ICMP].type, r[ICMP].code if ICMP in r else "") if r is not None else print("none")
""")
    d = t.drops()
    d = {k: d[k] - d0.get(k, 0) for k in d if d[k] != d0.get(k, 0)}
    t.wait_mbufs(base)
    # Today: "none"; sessions: one, orig A -> 198.18.0.1, reply to P;
    # drops: ip_no_route 1, icmp_no_route 1.
    assert out.split() == [a.gw, "3", "0"], (out, d, sessions(t))
    assert sessions(t) == []


# --- 6. filtering ---------------------------------------------------------------


# A sends one datagram from port 5000 to B:9000, then prints what comes back
# to port 5000, one "ADDR:PORT payload" a line, until `secs` pass.
LISTEN = r"""
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", 5000))
s.sendto(b"open", (sys.argv[1], 9000))
print("sent", flush=True)
s.settimeout(0.2)
end = time.time() + float(sys.argv[2])
while time.time() < end:
    try:
        d, a = s.recvfrom(2048)
        print("%s:%d %s" % (a[0], a[1], d.decode()), flush=True)
    except socket.timeout:
        pass
"""


def test_filtering(ternd_factory, netns_factory, tmpdir_tern):
    """A opens a mapping to B:9000.  APDF (the default) lets in only
    B:9000; ADF also B's other ports, not another outside address; EIF
    anyone.  Refused packets count as FilteredIn and drop as nat_refused."""
    n = nat_net(ternd_factory, netns_factory)
    t, a, b = n.t, n.a, n.b
    t.ctl("nat", "add", "snat", "src", a.net + ".0/24", "out", "pb")
    b2 = b.net + ".3"
    b.ns.run("ip addr add %s/24 dev %s" % (b2, b.inner))
    path = os.path.join(tmpdir_tern, "listen.py")
    with open(path, "w") as f:
        f.write(LISTEN)

    def send_from(src, sport, tag):
        b.ns.run("sh -c 'echo %s | socat -u - UDP4-SENDTO:%s:5000,bind=%s:%d'" % (tag, b.gw, src, sport))

    def trial(mode, expect):
        t.ctl("nat", "filtering", mode)
        li = a.ns.popen("/usr/bin/python3 -u %s %s 2" % (path, b.ip), stdout=subprocess.PIPE,
                        text=True, start_new_session=True)
        assert li.stdout.readline().strip() == "sent"
        wait_until(lambda: sessions(t), what="mapping")
        st0, d0 = nstats(t), t.drops()["nat_refused"]
        send_from(b.ip, 9000, "same")
        send_from(b.ip, 9001, "port")
        send_from(b2, 9000, "addr")
        got = li.communicate(timeout=10)[0].split()
        got = {got[i + 1]: got[i] for i in range(0, len(got), 2)}
        assert sorted(got) == sorted(expect), (mode, got)
        assert got.get("same") == "%s:9000" % b.ip
        st = nstats(t)
        refused = 3 - len(expect)
        assert st["FilteredIn"] - st0["FilteredIn"] == refused, (mode, st)
        assert t.drops()["nat_refused"] - d0 == refused, mode
        t.ctl("nat", "sessions", "flush")

    base = t.mbufs_in_use()
    trial("apdf", ["same"])
    trial("adf", ["same", "port"])
    trial("eif", ["same", "port", "addr"])
    t.wait_mbufs(base)


# --- 7. RFC 5780 behaviour discovery with coturn ------------------------------------------


def natdiscovery(ns, server, flags="-m -f"):
    r = ns.run("turnutils_natdiscovery %s %s" % (flags, server), check=False, timeout=60)
    return r.stdout + r.stderr


def test_stun_behaviour_discovery(ternd_factory, netns_factory, tmpdir_tern):
    """coturn on two outside addresses (RFC 5780 CHANGE-REQUEST) and
    turnutils_natdiscovery inside: mapping is endpoint independent, and the
    filtering it finds follows nat filtering.  Its hairpinning test (a
    second socket sends to the first one's mapping) passes with EIF, and
    not with APDF, which lets in only the STUN server."""
    n = nat_net(ternd_factory, netns_factory)
    t, a, b = n.t, n.a, n.b
    t.ctl("nat", "add", "snat", "src", a.net + ".0/24", "out", "pb")
    b2 = b.net + ".3"
    b.ns.run("ip addr add %s/24 dev %s" % (b2, b.inner))
    d = os.path.join(tmpdir_tern, "turn")
    os.makedirs(d)
    srv = b.ns.popen("turnserver -n -S -z --listening-ip %s --listening-ip %s --no-tcp --no-tls "
                     "--no-dtls --no-cli --simple-log -l %s/turn.log --pidfile %s/turn.pid "
                     "--userdb %s/turndb" % (b.ip, b2, d, d, d),
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_until(lambda: b.ns.run("ss -lun", check=False).stdout.count(":3478 ") >= 2,
                   what="turnserver listening")
        base = t.mbufs_in_use()
        results = {}
        for mode in ("apdf", "adf", "eif"):
            t.ctl("nat", "filtering", mode)
            t.ctl("nat", "sessions", "flush")
            results[mode] = natdiscovery(a.ns, b.ip)
        hairpin = {}
        for mode in ("apdf", "eif"):
            t.ctl("nat", "filtering", mode)
            t.ctl("nat", "sessions", "flush")
            h0 = nstats(t)["Hairpinned"]
            hairpin[mode] = (natdiscovery(a.ns, b.ip, "-H"), nstats(t)["Hairpinned"] - h0)
        for mode, out in results.items():
            assert "NAT with Endpoint Independent Mapping" in out, (mode, out)
            assert b.gw in out, out
        assert "Address and Port Dependent Filtering" in results["apdf"], results["apdf"]
        assert re.search(r"(?<!and Port )Address Dependent Filtering", results["adf"]), results["adf"]
        assert "Endpoint Independent Filtering" in results["eif"], results["eif"]
        ok = "successful hairpinning"
        assert ok in hairpin["eif"][0] and hairpin["eif"][1] == 1, hairpin["eif"]
        assert ok not in hairpin["apdf"][0] and hairpin["apdf"][1] == 0, hairpin["apdf"]
        t.ctl("nat", "sessions", "flush")
        t.wait_mbufs(base)
    finally:
        kill(srv)


# --- 8. port exhaustion ---------------------------------------------------------------


# 8 sockets from inside ports 30001-30008; the first `first` send to B's
# echo, then the rest; prints which got an answer, as "port:answer".
FLOWS = r"""
import socket, sys
dst = (sys.argv[1], 9000)
ports = [int(p) for p in sys.argv[2].split(",")]
out = []
for p in ports:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", p))
    s.settimeout(0.5)
    s.sendto(b"x", dst)
    try:
        out.append("%d:%s" % (p, s.recv(100).decode()))
    except socket.timeout:
        out.append("%d:-" % p)
    s.close()
print(" ".join(out))
"""


def test_port_exhaustion(ternd_factory, netns_factory, tmpdir_tern):
    """A pool of 4 ports: of 8 inside flows, the first 4 are translated
    (to 20000-20003), the others refused (PortsExhausted, nat_refused); the
    first ones keep working; once their sessions time out, new flows get
    the ports."""
    n = nat_net(ternd_factory, netns_factory)
    t, a, b = n.t, n.a, n.b
    t.ctl("nat", "add", "snat", "src", a.net + ".0/24", "out", "pb", "ports", "20000-20003")
    t.ctl("nat", "timeout", "udp", "2")
    t.ctl("nat", "timeout", "udp-stream", "2")
    srv = udp_who(b.ns, b.ip, 9000, tmpdir_tern)
    path = os.path.join(tmpdir_tern, "flows.py")
    with open(path, "w") as f:
        f.write(FLOWS)

    def flows(ports):
        r = a.ns.run("/usr/bin/python3 %s %s %s" % (path, b.ip, ",".join(map(str, ports))))
        return dict(x.split(":", 1) for x in r.stdout.split())

    try:
        base = t.mbufs_in_use()
        d0 = t.drops()["nat_refused"]
        first, rest = list(range(30001, 30005)), list(range(30005, 30009))
        got = flows(first + rest)
        assert all(got[str(p)] != "-" for p in first), got
        assert all(got[str(p)] == "-" for p in rest), got
        assert sorted(int(got[str(p)].split(":")[1]) for p in first) == [20000, 20001, 20002, 20003]
        assert {got[str(p)].split(":")[0] for p in first} == {b.gw}
        st = nstats(t)
        assert st["PortsExhausted"] == 4 and st["SessionsCreated"] == 4, st
        assert t.drops()["nat_refused"] - d0 == 4
        # The first flows still work (same mappings), the others still not.
        again = flows(first + rest[:1])
        assert all(again[str(p)] == got[str(p)] for p in first), (got, again)
        assert again[str(rest[0])] == "-"
        wait_until(lambda: nstats(t)["Sessions"] == 0, timeout=8, what="sessions expired")
        later = flows(rest)
        assert all(later[str(p)] != "-" for p in rest), later
        assert sorted(int(later[str(p)].split(":")[1]) for p in rest) == [20000, 20001, 20002, 20003]
        t.wait_mbufs(base)
    finally:
        kill(srv)


# --- 9. 100k sessions --------------------------------------------------------------


# 1000 inside ports x 100 outside ports = 100000 UDP flows, sent from a raw
# AF_PACKET socket: one frame made by scapy, its ports patched (UDP
# checksum 0, so nothing else changes).
FLOOD = r"""
import socket, struct, sys, time
from scapy.all import Ether, IP, UDP, Raw
smac, dmac, src, dst, dev = sys.argv[1:6]
f = bytearray(bytes(Ether(src=smac, dst=dmac)/IP(src=src, dst=dst)/UDP(sport=1, dport=1, chksum=0)/Raw(b"x" * 18)))
f[40:42] = b"\0\0"
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((dev, 0))
n = 0
for sp in range(20000, 21000):
    for dp in range(10000, 10100):
        f[34:38] = struct.pack("!HH", sp, dp)
        s.send(f)
        n += 1
    time.sleep(0.002)
print(n)
"""


def test_100k_sessions(ternd_factory, netns_factory, tmpdir_tern):
    """100000 UDP sessions made as fast as A sends them (a round again when
    the kernel dropped some of A's flood), then all expired: Sessions back
    to 0, SessionsExpired equal to SessionsCreated, the mbufs back to where
    they were."""
    # The timeout outlasts a few rounds of the flood on a loaded machine
    # (about 10 s each), so that all 100000 are alive at once.
    n = nat_net(ternd_factory, netns_factory, "nat max-sessions 131072", "nat timeout udp 30")
    t, a, b = n.t, n.a, n.b
    t.ctl("nat", "add", "snat", "src", a.net + ".0/24", "out", "pb")
    b.ns.run("iptables -A INPUT -p udp -j DROP")
    a.ns.run("ping -c 1 -W 1 %s" % a.gw)  # ternd's MAC
    gwmac = a.ns.run("ip neigh show %s" % a.gw).stdout.split("lladdr ")[1].split()[0]
    path = os.path.join(tmpdir_tern, "flood.py")
    with open(path, "w") as f:
        f.write(FLOOD)
    base = t.mbufs_in_use()
    st0 = nstats(t)
    t0 = time.time()
    for _ in range(3):
        r = a.ns.run("/usr/bin/python3 %s %s %s %s %s %s" % (path, a.mac, gwmac, a.ip, b.ip, a.inner),
                     timeout=60)
        assert r.stdout.strip() == "100000"
        created = nstats(t)["SessionsCreated"] - st0["SessionsCreated"]
        if created >= 100000:
            break
    st = nstats(t)
    print("created %d in %.1f s: %s" % (created, time.time() - t0, st))
    assert created >= 100000, st
    assert st["TableFull"] == 0 and st["PortsExhausted"] == 0, st
    assert st["Sessions"] > 90000, st
    wait_until(lambda: nstats(t)["Sessions"] == 0, timeout=60, interval=0.5, what="sessions expired")
    st = nstats(t)
    assert st["SessionsExpired"] - st0["SessionsExpired"] == created, st
    t.wait_mbufs(base)


# --- 10. two workers ------------------------------------------------------------------


def test_two_workers(ternd_factory, netns_factory, tmpdir_tern):
    """Two workers, two queues per port (af_packet fanout spreads by the
    kernel's hash): curl and ping through SNAT work whichever worker a
    packet lands on; every packet handed over is taken by its owner."""
    n = nat_net(ternd_factory, netns_factory, eal=EAL3, workers="workers 1-2", qpairs=2)
    t, a, b = n.t, n.a, n.b
    t.ctl("nat", "add", "snat", "src", a.net + ".0/24", "out", "pb")
    root, sha = www(tmpdir_tern, 200000)
    log = os.path.join(tmpdir_tern, "http.log")
    srv = http_server(b.ns, b.ip, 8000, root, log)
    try:
        base = t.mbufs_in_use()
        # Linux's connect() picks even ephemeral ports, which all belong to
        # one worker (source port % 2): half of these choose odd ones.
        for i in range(20):
            lp = "--local-port %d " % (43001 + 2 * i) if i % 2 else ""
            assert curl_sha(a.ns, lp + "http://%s:8000/f" % b.ip) == sha
        assert set(log_clients(log)) == {b.gw}
        for _ in range(4):
            r = ping(a.ns, b.ip, count=3)
            assert r.returncode == 0 and " 0% packet loss" in r.stdout, r.stdout
        s = sessions(t)
        by = {}
        for x in s:
            by.setdefault(x["worker"], []).append(int(x["orig"].split("sport=")[1].split()[0])
                                                  if x["proto"] == "tcp" else None)
        print({w: len(v) for w, v in by.items()})
        assert len(by) == 2, s  # both tables in use
        for w, ports in by.items():
            assert len({p % 2 for p in ports if p is not None}) <= 1, by
        st = nstats(t)
        assert st["SessionsCreated"] == 24, st
        assert st["HandoffIn"] == st["HandoffOut"] and st["HandoffOut"] > 0, st
        assert t.drops()["nat_handoff_full"] == 0
        t.wait_mbufs(base)
    finally:
        kill(srv)


# --- 11. rules and knobs against the workers ------------------------------------------


def test_dnat_same_target_other_worker_refused(ternd_factory):
    """With two workers, a second DNAT rule to the same target whose
    outside port belongs to the other worker is refused, naming the rule in
    the way (the target's answers would go to the first rule's worker), and
    nothing changes; one on the same worker is taken."""
    t = ternd_factory(config("port add p0 net_null0,no-rx=1", "addr add 192.0.2.1/24 dev p0",
                             eal=EAL3, workers="workers 1-2"))
    t.ctl("nat", "add", "dnat", "tcp", "192.0.2.1:8080", "to", "10.0.0.9:80")
    before = t.ctl("nat", "show")
    r = t.ctl("nat", "add", "dnat", "tcp", "192.0.2.1:8081", "to", "10.0.0.9:80", check=False)
    assert r.returncode != 0, r
    assert "conflicts with 'nat add dnat tcp 192.0.2.1:8080 to 10.0.0.9:80'" in r.stderr, r.stderr
    assert t.ctl("nat", "show") == before
    t.ctl("nat", "add", "dnat", "tcp", "192.0.2.1:8082", "to", "10.0.0.9:80")


def test_timeout_lowered_applies_to_sessions(ternd_factory, netns_factory):
    """A shortened timeout applies to the sessions there are: an ICMP
    session idle for 2 s goes as soon as the ICMP timeout is set to 1 s,
    not after the 60 s it was made with."""
    n = nat_net(ternd_factory, netns_factory)
    t, a, b = n.t, n.a, n.b
    t.ctl("nat", "add", "snat", "src", a.net + ".0/24", "out", "pb")
    r = ping(a.ns, b.ip, count=1)
    assert r.returncode == 0, r.stdout
    s = sessions(t)
    assert len(s) == 1 and s[0]["timeout_s"] > 50, s
    time.sleep(2)
    t.ctl("nat", "timeout", "icmp", "1")
    wait_until(lambda: sessions(t) == [], timeout=3, what="the ICMP session expired")
    assert nstats(t)["SessionsExpired"] == 1
