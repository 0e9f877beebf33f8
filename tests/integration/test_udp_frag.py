# SPDX-License-Identifier: BSD-3-Clause
"""UDP (udp_input, the udp-echo service, port unreachable, malformed
datagrams) and IPv4 fragmentation and reassembly, against Linux hosts in
network namespaces.

Fragments sent TO ternd go over net_tap, with ternd started inside the
host's namespace: net_af_packet has the kernel reassemble them first
(PACKET_FANOUT_FLAG_DEFRAG), so ternd would never see a fragment there.
Fragments FROM ternd (egress fragmentation) are watched on veth +
net_af_packet.

The reassembly timeout (30 s, fixed in stack/ip/ip_frag.c) is only waited
for by the two tests named *_long, which run when TERN_LONG_TESTS=1 (about
35 s each)."""

import os
import signal
import subprocess
import time

import pytest
from scapy.all import IP, rdpcap

from conftest import config, sh, uniq, wait_until
from peers import (RAW, capture, deltas, links_up, no_ipv6, ns_scapy, one_host, settle, subnet,
                   two_hosts)
from peers import ping as _ping


def ping(ns, dst, count=3, size=None, extra=""):
    return _ping(ns, dst, count, size, extra, wait=2)



def node_packets(t):
    return {n["node"]: n["packets"] for n in t.stats()["nodes"]}


class TapHost:
    """ternd runs inside this namespace; its net_tap port's kernel side is
    the Linux host."""

    def __init__(self, ns, net, tap):
        self.ns, self.net, self.tap = ns, net, tap
        self.inner = tap  # the host's interface toward ternd
        self.ip = net + ".2"
        self.gw = net + ".1"
        self.mac = "02:00:00:00:aa:01"


def tap_host(ternd_factory, netns_factory, *lines):
    """ternd with port tp (net_tap) in namespace H, address .1/24 on it; the
    tap's kernel side, with its own MAC, has .2/24."""
    net = subnet()
    ns = netns_factory("tuf")
    no_ipv6(ns)
    tap = uniq("tt")
    t = ternd_factory(config("port add tp net_tap0,iface=%s" % tap,
                             "addr add %s.1/24 dev tp" % net, *lines), netns=ns.name)
    h = TapHost(ns, net, tap)
    ns.run("ip link set %s address %s" % (tap, h.mac))
    ns.run("ip addr add %s/24 dev %s" % (h.ip, tap))
    ns.run("ip link set %s up" % tap)
    links_up(t, "tp")
    return t, h


def socat_udp(ns, dst, port, payload, wait=0.5, refused=False):
    """Send payload as one datagram from ns with socat; return what came back
    (or, with refused, check that socat read ECONNREFUSED: the kernel got
    ICMP port unreachable)."""
    # -b: one read of stdin, one datagram (socat reads 8192 bytes by default).
    r = subprocess.run(["ip", "netns", "exec", ns.name, "socat", "-b", "65536", "-t", str(wait),
                        "-", "UDP4:%s:%d" % (dst, port)], input=payload, capture_output=True,
                       timeout=wait + 10)
    if refused:
        assert r.returncode != 0 and b"Connection refused" in r.stderr, r
        return r.stdout
    assert r.returncode == 0, r.stderr
    return r.stdout


# The answer to one probe datagram: "type/code/quoted dport/quote matches"
# for an ICMP error, "echo/payload length/payload matches/sport/dport" for a
# UDP reply, or "none".
PROBE = """
def probe(dst, dport, payload, sport=40000, chksum=None):
    u = UDP(sport=sport, dport=dport)
    if chksum is not None:
        u.chksum = chksum
    q = IP(dst=dst, id=4321) / u / Raw(payload)
    r = sr1(q, timeout=2)
    if r is None:
        return "none"
    if ICMP in r:
        e = r[IPerror]
        quote = bytes(e)
        same = quote[:28] == bytes(q)[:28] or (e.dst == dst and e[UDPerror].dport == dport)
        return "%d/%d/%d/%s" % (r[ICMP].type, r[ICMP].code, e[UDPerror].dport, same)
    return "echo/%d/%s/%d/%d" % (len(r[UDP].payload), bytes(r[UDP].payload) == payload,
                                 r[UDP].sport, r[UDP].dport)
"""




# --- UDP ---------------------------------------------------------------------


def test_udp_echo_socat(ternd_factory, netns_factory):
    t, a = one_host(ternd_factory, netns_factory, "service udp-echo")
    assert "service udp-echo\n" in t.ctl("show", "running-config")
    base = t.mbufs_in_use()
    for size in (1, 2, 100, 1000, 1472):
        payload = bytes(((i * 7 + size) % 26) + 97 for i in range(size))
        got = socat_udp(a.ns, a.gw, 7, payload)
        assert got == payload, (size, len(got))
    assert t.node("udp_echo")["packets"] >= 5, node_packets(t)

    # Moved at runtime: port 7 is then closed.
    t.ctl("service", "udp-echo", "port", "9000")
    rc = t.ctl("show", "running-config")
    assert "service udp-echo port 9000\n" in rc and "service udp-echo\n" not in rc, rc
    assert socat_udp(a.ns, a.gw, 9000, b"moved") == b"moved"
    out = ns_scapy(a.ns, PROBE + """
print(probe(%r, 7, b"old port"), probe(%r, 9000, b"new port"))
""" % (a.gw, a.gw)).split()
    assert out == ["3/3/7/True", "echo/8/True/9000/40000"], out

    # Off: nothing answers on 9000 either.
    t.ctl("service", "udp-echo", "off")
    assert "udp-echo" not in t.ctl("show", "running-config")
    out = ns_scapy(a.ns, PROBE + """
print(probe(%r, 9000, b"off"), probe(%r, 7, b"off"))
""" % (a.gw, a.gw)).split()
    assert out == ["3/3/9000/True", "3/3/7/True"], out
    assert socat_udp(a.ns, a.gw, 9000, b"anyone?", refused=True) == b""
    # Back on its default port.
    t.ctl("service", "udp-echo")
    assert socat_udp(a.ns, a.gw, 7, b"back") == b"back"
    r = t.ctl("service", "udp-echo", "port", "0", check=False)
    assert r.returncode != 0
    t.wait_mbufs(base)
    assert t.stop() == 0


def test_udp_closed_port(ternd_factory, netns_factory):
    t, a = one_host(ternd_factory, netns_factory)
    # ternd knows the host first, so that its ICMP errors go straight out.
    assert ping(a.ns, a.gw, count=1).returncode == 0
    base = t.mbufs_in_use()
    d0 = t.drops()
    n = 3
    out = ns_scapy(a.ns, PROBE + """
for i in range(%d):
    print(probe(%r, 5555, b"closed-%%d" %% i, sport=41000 + i))
""" % (n, a.gw)).split()
    assert out == ["3/3/5555/True"] * n, out
    assert deltas(d0, t.drops()) == {"udp_no_port": n}

    # The error quotes the datagram as sent: IP header and the first 8 bytes
    # after it at least (RFC 792), and comes from the address it was sent to.
    out = ns_scapy(a.ns, """
q = IP(dst=%r, id=999, ttl=33) / UDP(sport=42424, dport=5555) / Raw(b"quote-me-please!")
r = sr1(q, timeout=2)
e = r[IPerror]
qb = bytes(q)
print(r.src, r[ICMP].type, r[ICMP].code, e.src, e.dst, e.id, e.ttl, e.proto,
      e[UDPerror].sport, e[UDPerror].dport, bytes(e)[:28] == qb[:28],
      qb.startswith(bytes(e)), len(bytes(e)), r[ICMP].chksum == ICMP(bytes(r[ICMP])).chksum)
""" % a.gw).split()
    # The whole datagram (44 bytes) is quoted, byte for byte.
    assert out == [a.gw, "3", "3", a.ip, a.gw, "999", "33", "17", "42424", "5555",
                   "True", "True", "44", "True"], out

    # A kernel socket sees it as ECONNREFUSED.
    d0 = t.drops()
    socat_udp(a.ns, a.gw, 5555, b"refused?", refused=True)
    assert deltas(d0, t.drops()) == {"udp_no_port": 1}
    t.wait_mbufs(base)
    assert t.stop() == 0


def test_udp_malformed(ternd_factory, netns_factory):
    t, a = one_host(ternd_factory, netns_factory, "service udp-echo")
    me = t.links()["pa"]["mac"].lower()
    assert ping(a.ns, a.gw, count=1).returncode == 0
    base = t.mbufs_in_use()
    # A different count per reason, so a datagram counted under the wrong
    # reason shows.  The two echoed datagrams go to ports the host has no
    # socket on: its kernel answers each with a port unreachable, which
    # ternd drops as icmp_unhandled.
    want = {"udp_checksum": 2, "udp_len": 3 + 4, "udp_runt": 5, "icmp_unhandled": 2,
            # Broadcasts: the echo service does not answer them, and a
            # closed port sends no error about them (RFC 1122 4.1.3.1).
            "udp_echo_not_unicast": 1, "icmp_no_error": 3}
    d0, rx0 = t.drops(), t.links()["pa"]["rx_packets"]
    out = ns_scapy(a.ns, RAW % a.inner + """
me, you, you_ip, gw, bcast = %r, %r, %r, %r, %r
E = Ether(dst=me, src=you)
sn = AsyncSniffer(iface=%r, filter="(icmp or udp) and src host " + gw)
sn.start()
time.sleep(0.3)
good = bytes(E / IP(src=you_ip, dst=gw) / UDP(sport=5000, dport=7) / Raw(b"0123456789"))
U = 14 + 20
send(patch(good, U + 6, bytes([good[U + 6] ^ 0xff, good[U + 7]])), 2)   # udp_checksum
send(patch(good, U + 4, b"\\x00\\x04"), 3)                                # udp_len: 4
send(patch(good, U + 4, b"\\x00\\x13"), 4)                                #  19 > 18 in IP
send(E / IP(src=you_ip, dst=gw, proto=17) / Raw(b"\\x13\\x88\\x00\\x07\\x00"), 5)  # udp_runt
# Zero checksum: accepted, echoed.
send(E / IP(src=you_ip, dst=gw) / UDP(sport=5001, dport=7, chksum=0) / Raw(b"no-sum"))
# UDP length below the IP payload: the excess is trimmed, the rest echoed.
d = bytes(IP(src=you_ip, dst=gw) / UDP(sport=5002, dport=7) / Raw(b"keep"))
send(E / IP(d + b"JUNKJUNK"))
B = Ether(dst="ff:ff:ff:ff:ff:ff", src=you) / IP(src=you_ip, dst=bcast)
send(B / UDP(sport=5003, dport=7) / Raw(b"all of you"))
send(B / UDP(sport=5004, dport=5555) / Raw(b"anyone"), 3)
time.sleep(1)
got = sn.stop()
for p in got:
    if ICMP in p:
        print("icmp/%%d/%%d" %% (p[ICMP].type, p[ICMP].code))
    elif UDP in p:
        print("udp/%%d/%%s/%%d/%%d/%%d" %% (p[UDP].dport, bytes(p[UDP].payload).decode(),
                                     p[IP].len, p[UDP].len, p[UDP].chksum))
""" % (me, a.mac, a.ip, a.gw, a.net + ".255", a.inner))
    sent = sum(want.values()) + 2  # and the two echoed ones
    rx = settle(t, "pa", rx0, sent)
    d = deltas(d0, t.drops())
    assert d == want, (d, want, rx, sent)
    assert rx == sent
    lines = sorted(out.split())
    assert len(lines) == 2, out
    # Zero checksum: echoed, still without one.
    assert lines[0] == "udp/5001/no-sum/34/14/0", out
    # Trimmed to the UDP length, IP length rewritten; the checksum (valid
    # over the kept bytes) is not zero.
    assert lines[1].startswith("udp/5002/keep/32/12/") and not lines[1].endswith("/0"), out
    # Nothing broke.
    assert socat_udp(a.ns, a.gw, 7, b"still here") == b"still here"
    t.wait_mbufs(base)
    assert t.stop() == 0


def test_udp_through_ternd(ternd_factory, netns_factory):
    t, a, b = two_hosts(ternd_factory, netns_factory)
    base = t.mbufs_in_use()
    srv = b.ns.popen("socat UDP4-RECVFROM:9999,bind=%s,fork EXEC:cat" % b.ip,
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                     start_new_session=True)
    try:
        wait_until(lambda: ":9999 " in b.ns.run("ss -ulnH").stdout, what="socat listening")
        fwd0 = t.node("ip_forward")["packets"]
        for size in (1, 500, 1472):
            payload = bytes(((i * 3 + size) % 26) + 65 for i in range(size))
            assert socat_udp(a.ns, b.ip, 9999, payload) == payload, size
        assert t.node("ip_forward")["packets"] - fwd0 >= 6
    finally:
        os.killpg(srv.pid, signal.SIGTERM)
        srv.wait(10)
    t.wait_mbufs(base)
    assert t.stop() == 0


# --- fragmentation and reassembly ----------------------------------------------


def test_ping_large_fragmented_tap(ternd_factory, netns_factory):
    t, h = tap_host(ternd_factory, netns_factory, "service udp-echo")
    assert ping(h.ns, h.gw, count=1).returncode == 0
    base = t.mbufs_in_use()
    n0, d0 = node_packets(t), t.drops()
    for size in (8000, 3000):
        r = ping(h.ns, h.gw, size=size)
        assert r.returncode == 0 and " 3 received" in r.stdout, r.stdout + r.stderr
        assert r.stdout.count("%d bytes from %s" % (size + 8, h.gw)) == 3, r.stdout
    assert "DUP" not in r.stdout
    n = deltas(n0, node_packets(t))
    # 8028 bytes of IP over 1500: 6 fragments, 3028: 3; each way, 3 times.
    assert n.get("ip_reassembly") == 3 * (6 + 3), n
    assert n.get("ip_frag") == 3 * 2, n
    assert n.get("icmp_input") == 3 * 2, n
    assert deltas(d0, t.drops()) == {}

    # UDP too: the kernel fragments the datagram, ternd reassembles it,
    # checks the checksum over the whole chain, echoes it and fragments the
    # echo.  11000 bytes is the largest that fits in 8 fragments.
    n0 = node_packets(t)
    for size in (3000, 8000, 11000):
        payload = bytes(((i * 5 + size) % 26) + 97 for i in range(size))
        got = socat_udp(h.ns, h.gw, 7, payload)
        assert got == payload, (size, len(got))
    n = deltas(n0, node_packets(t))
    assert n.get("udp_echo") == 3 and n.get("ip_frag") == 3, n
    assert n.get("ip_reassembly") == 3 + 6 + 8, n
    # A fragmented datagram to a closed port: port unreachable all the same.
    socat_udp(h.ns, h.gw, 5555, b"z" * 4000, refused=True)
    assert deltas(d0, t.drops()) == {"udp_no_port": 1}
    t.wait_mbufs(base)
    assert t.stop() == 0


def test_udp_length_trim_reassembled_tap(ternd_factory, netns_factory):
    """A UDP length shorter than the IP payload of a reassembled datagram:
    the echo should carry the UDP length's worth of data, no more."""
    t, h = tap_host(ternd_factory, netns_factory, "service udp-echo")
    assert ping(h.ns, h.gw, count=1).returncode == 0
    me = t.links()["tp"]["mac"].lower()
    base = t.mbufs_in_use()
    out = ns_scapy(h.ns, RAW % h.tap + """
me, you, you_ip, gw = %r, %r, %r, %r
E = Ether(dst=me, src=you)
sn = AsyncSniffer(iface=%r, filter="udp and src host " + gw)
sn.start(); time.sleep(0.3)
def dgram(ident, data, total, fragsz):
    ub = bytes(IP(src=you_ip, dst=gw) / UDP(sport=6000 + ident, dport=7) / Raw(data))[20:]
    whole = ub + b"J" * (total - len(ub))
    for off in range(0, total, fragsz):
        send(E / IP(src=you_ip, dst=gw, id=ident, proto=17, frag=off // 8,
                    flags="MF" if off + fragsz < total else 0) / Raw(whole[off:off + fragsz]))
dgram(1, b"A" * 992, 3008, 1480)   # UDP length 1000 in 3008 bytes, 3 fragments
time.sleep(0.3)
dgram(2, b"B" * 92, 512, 64)       # UDP length 100 in 512 bytes, 8 fragments
time.sleep(1)
for p in sn.stop():
    print("%%d/%%d/%%d/%%d" %% (p[UDP].dport if p[IP].frag == 0 else 0, len(p), p[IP].len,
                               p[IP].frag))
""" % (me, h.mac, h.ip, h.gw, h.tap)).split()
    print(out)
    t.wait_mbufs(base)
    assert t.stop() == 0
    # One unfragmented echo each: 1020 and 120 bytes of IP (frames of 1034
    # and 134 bytes).  Today: the first comes back as 3 fragments carrying
    # all 3008 bytes (IP length 1020 in the header ip_frag split by pkt_len),
    # the second as a 546-byte frame whose IP length says 120.
    assert out == ["6001/1034/1020/0", "6002/134/120/0"], out


def frag_script(gw, me, you, you_ip):
    return """
me, you, you_ip, gw = %r, %r, %r, %r
E = Ether(dst=me, src=you)
def frags(ident, pieces, payload):
    # pieces: (offset in bytes, length, more fragments) of the ICMP message
    whole = bytes(ICMP(type=8, id=ident, seq=1) / Raw(payload))
    out = []
    for off, n, mf in pieces:
        out.append(E / IP(src=you_ip, dst=gw, id=ident, flags="MF" if mf else 0,
                          frag=off // 8, proto=1) / Raw(whole[off:off + n]))
    return out
""" % (me, you, you_ip, gw)


def test_reassembly_failures_tap(ternd_factory, netns_factory):
    t, h = tap_host(ternd_factory, netns_factory)
    assert ping(h.ns, h.gw, count=1).returncode == 0
    me = t.links()["tp"]["mac"].lower()
    base = t.mbufs_in_use()
    pre = RAW % h.tap + frag_script(h.gw, me, h.mac, h.ip)
    payload = "bytes(range(256)) * 2 + bytes(16)"  # 528 bytes; ICMP 536

    # 1. Only the first fragment: held, no reply, nothing dropped.
    d0, n0 = t.drops(), node_packets(t)
    ns_scapy(h.ns, pre + """
send(frags(101, [(0, 264, True)], %s)[0])
""" % payload)
    wait_until(lambda: node_packets(t)["ip_reassembly"] > n0["ip_reassembly"],
               what="fragment seen")
    time.sleep(0.3)
    assert t.mbufs_in_use() > base, (t.mbufs_in_use(), base)
    assert deltas(d0, t.drops()) == {}
    # The missing fragment, much later, completes it: answered, and the held
    # fragment is freed.
    out = ns_scapy(h.ns, pre + """
sn = AsyncSniffer(iface=%r, filter="icmp and src host " + gw)
sn.start(); time.sleep(0.3)
send(frags(101, [(264, 272, False)], %s)[0])
time.sleep(1)
print(" ".join("%%d/%%d/%%d" %% (p[ICMP].type, p[ICMP].id, p[IP].len) for p in sn.stop()))
""" % (h.tap, payload)).split()
    assert out == ["0/101/556"], out
    t.wait_mbufs(base)
    assert deltas(d0, t.drops()) == {}

    # 2. Overlaps.  rte_ip_frag only notices an overlap when the fragments
    # add up to more than the datagram, or to exactly its size with a hole:
    # then every fragment held for it is dropped, with the one that
    # completed it.  (a) the middle one overlaps both neighbours: 3 dropped.
    # (b) the first fragment twice: refused as a duplicate first fragment,
    # 2 dropped (the held one and the duplicate).  (c) sizes add up but
    # there is a hole (a fragment sent twice): 4 dropped.  (d) below.
    cases = {
        "a": ("[(0, 264, True), (256, 24, True), (272, 264, False)]", 3),
        "b": ("[(0, 264, True), (0, 264, True)]", 2),
        "c": ("[(0, 128, True), (128, 128, True), (128, 128, True), (384, 152, False)]", 4),
        # (d) an intermediate fragment duplicated (as a network may): the
        # sizes then overflow and the whole datagram goes, where Linux
        # discards the duplicate and answers.
        "d": ("[(0, 128, True), (128, 128, True), (128, 128, True), (256, 128, True), "
              "(384, 152, False)]", 5),
    }
    for ident, (name, (pieces, want)) in enumerate(sorted(cases.items()), start=200):
        d0 = t.drops()
        out = ns_scapy(h.ns, pre + """
sn = AsyncSniffer(iface=%r, filter="icmp and src host " + gw)
sn.start(); time.sleep(0.3)
for f in frags(%d, %s, %s):
    send(f)
time.sleep(0.5)
print(len(sn.stop()))
""" % (h.tap, ident, pieces, payload)).split()
        d = deltas(d0, t.drops())
        print("overlap case", name, "->", d, "replies", out)
        assert out == ["0"], (name, out)
        assert d == {"ip_reasm_fail": want}, (name, d)
        t.wait_mbufs(base)

    # 3. Nine fragments for one datagram (at most 8 are kept): the ninth
    # makes all of them go.  The last one is sent first so that none is left
    # behind waiting for the timeout.
    d0 = t.drops()
    out = ns_scapy(h.ns, pre + """
sn = AsyncSniffer(iface=%r, filter="icmp and src host " + gw)
sn.start(); time.sleep(0.3)
pieces = [(i * 64, 64, i < 8) for i in range(9)]
fs = frags(300, pieces, bytes(range(256)) * 2 + bytes(16))
for f in [fs[8]] + fs[:8]:
    send(f)
time.sleep(0.5)
print(len(sn.stop()))
""" % h.tap).split()
    assert out == ["0"], out
    assert deltas(d0, t.drops()) == {"ip_reasm_fail": 9}
    t.wait_mbufs(base)
    # Eight fragments are fine.
    out = ns_scapy(h.ns, pre + """
sn = AsyncSniffer(iface=%r, filter="icmp and src host " + gw)
sn.start(); time.sleep(0.3)
pieces = [(i * 64, 64 if i < 7 else 88, i < 7) for i in range(8)]
for f in frags(301, pieces, bytes(range(256)) * 2 + bytes(16)):
    send(f)
time.sleep(0.5)
print(" ".join("%%d/%%d/%%d" %% (p[ICMP].type, p[ICMP].id, p[IP].len) for p in sn.stop()))
""" % h.tap).split()
    assert out == ["0/301/556"], out

    # 4. A fragment that would end past 65535 bytes (RFC 791): DPDK would
    # build a datagram whose total length wraps; dropped on its own.
    d0 = t.drops()
    ns_scapy(h.ns, pre + """
send(E / IP(src=you_ip, dst=gw, id=400, flags="MF", frag=8189, proto=1) / Raw(bytes(64)))
""")
    wait_until(lambda: deltas(d0, t.drops()) == {"ip_reasm_oversize": 1}, what="oversize drop")

    # 5. Many datagrams refused at once: 64 datagrams of 6 middle fragments
    # each are held, then a 7th middle one for each overflows its slots and
    # sends all 7 to rte_ip_frag's death row, 448 mbufs in a few bursts;
    # the row holds 288, so ternd must empty it as it goes.
    d0 = t.drops()
    ns_scapy(h.ns, pre + """
for k in range(6):
    for i in range(64):
        send(frags(500 + i, [(64 + 64 * k, 64, True)], %s)[0])
time.sleep(0.5)
burst = [bytes(frags(500 + i, [(448, 64, True)], %s)[0]) for i in range(64)]
for b in burst:
    s.send(b)
""" % (payload, payload))
    wait_until(lambda: deltas(d0, t.drops()) == {"ip_reasm_fail": 64 * 7},
               what="448 fragments dropped", timeout=10)
    t.wait_mbufs(base)
    # Still answering ordinary and fragmented pings.
    assert ping(h.ns, h.gw, count=1, size=3000).returncode == 0
    t.wait_mbufs(base)
    assert t.stop() == 0


@pytest.mark.skipif(os.environ.get("TERN_LONG_TESTS") != "1",
                    reason="LONG (about 35 s): set TERN_LONG_TESTS=1")
def test_reassembly_timeout_long(ternd_factory, netns_factory):
    """LONG: a datagram that never completes is dropped as ip_reasm_timeout
    after 30 s (fixed, REASM_TIMEOUT_S), even when no other fragment comes."""
    t, h = tap_host(ternd_factory, netns_factory)
    assert ping(h.ns, h.gw, count=1).returncode == 0
    me = t.links()["tp"]["mac"].lower()
    base = t.mbufs_in_use()
    d0 = t.drops()
    t0 = time.time()
    ns_scapy(h.ns, RAW % h.tap + frag_script(h.gw, me, h.mac, h.ip) + """
for i in range(3):
    send(frags(400 + i, [(0, 264, True)], bytes(600))[0])
""")
    # The kernel's 12000-byte ping is 9 fragments, one too many: the first
    # eight go as ip_reasm_fail when the eighth intermediate one comes; the
    # last then starts a new datagram, which never completes.
    r = ping(h.ns, h.gw, count=1, size=12000)
    assert r.returncode != 0
    time.sleep(0.5)
    assert deltas(d0, t.drops()) == {"ip_reasm_fail": 8}
    assert t.mbufs_in_use() >= base + 4
    wait_until(lambda: t.drops()["ip_reasm_timeout"] >= d0.get("ip_reasm_timeout", 0) + 4,
               timeout=40, interval=0.5, what="ip_reasm_timeout")
    took = time.time() - t0
    time.sleep(0.5)
    assert deltas(d0, t.drops()) == {"ip_reasm_fail": 8, "ip_reasm_timeout": 4}
    assert 29 <= took <= 36, took
    t.wait_mbufs(base)
    assert t.stop() == 0


FLOOD = """
fs = [bytes(frags(i, [(0, 64, True)], bytes(200))[0]) for i in range(%d)]
for f in fs:
    s.send(f)
"""


def flood_first_fragments(t, h):
    """As many first fragments of distinct datagrams as the tap port's pool
    has mbufs (about 100 bytes each, from one host); returns how many
    ternd's port received."""
    me = t.links()["tp"]["mac"].lower()
    pool = t.links()["tp"]["mbufs"]
    rx0 = t.links()["tp"]["rx_packets"]
    ns_scapy(h.ns, RAW % h.tap + frag_script(h.gw, me, h.mac, h.ip) + FLOOD % pool, timeout=120)
    time.sleep(1)
    return t.links()["tp"]["rx_packets"] - rx0


def test_reassembly_cannot_starve_rx_tap(ternd_factory, netns_factory):
    """About 300 KB of incomplete fragments from one host must not stop the
    port: Linux bounds reassembly memory (ipfrag_high_thresh, 4 MB) and
    evicts old queues."""
    t, h = tap_host(ternd_factory, netns_factory)
    assert ping(h.ns, h.gw, count=1).returncode == 0
    pool = t.links()["tp"]["mbufs"]
    flood_first_fragments(t, h)
    in_use, l0 = t.mbufs_in_use(), t.links()["tp"]
    r = ping(h.ns, h.gw, count=3)
    l1 = t.links()["tp"]
    print("in use %d of %d, ping: %s, rx_drops +%d" % (
        in_use, pool, r.stdout.strip().splitlines()[-2:], l1["rx_drops"] - l0["rx_drops"]))
    assert t.stop() == 0  # frees what the table holds
    assert r.returncode == 0 and " 3 received" in r.stdout, r.stdout


@pytest.mark.skipif(os.environ.get("TERN_LONG_TESTS") != "1",
                    reason="LONG (about 35 s): set TERN_LONG_TESTS=1")
def test_reassembly_flood_expires_long(ternd_factory, netns_factory):
    """LONG: after a flood of first fragments (see the test above) every
    held fragment times out after 30 s and the port receives again."""
    t, h = tap_host(ternd_factory, netns_factory)
    assert ping(h.ns, h.gw, count=1).returncode == 0
    base = t.mbufs_in_use()
    d0 = t.drops()
    t0 = time.time()
    held = flood_first_fragments(t, h)
    assert held > 1000
    wait_until(lambda: t.drops()["ip_reasm_timeout"] - d0["ip_reasm_timeout"] >= held,
               timeout=40, interval=0.5, what="all timed out")
    assert 29 <= time.time() - t0 <= 38
    assert deltas(d0, t.drops()) == {"ip_reasm_timeout": held}
    t.wait_mbufs(base)
    # The port receives again.  (The flood's frames that were still queued
    # in the tap when the pool ran dry come in with the first ping: net_tap
    # reads only after a new SIGIO once a read has failed.  Those are held
    # for another 30 s, so the pools are not compared again; stop() frees
    # them.)
    r = ping(h.ns, h.gw, count=3)
    assert r.returncode == 0 and " 3 received" in r.stdout, r.stdout
    assert t.stop() == 0


def test_fragmentation_df_clear(ternd_factory, netns_factory, tmpdir_tern):
    t, a, b = two_hosts(ternd_factory, netns_factory, mtu_b=1280)
    assert t.links()["pb"]["mtu"] == 1280
    # net_af_packet set the veth's MTU to 1280 (the veth then drops longer
    # frames from B): one MTU for the whole link.
    assert sh("cat /sys/class/net/%s/mtu" % b.outer).stdout.strip() == "1280"
    b.ns.run("ip link set %s mtu 1280" % b.inner)
    assert ping(a.ns, b.ip, count=1).returncode == 0
    base = t.mbufs_in_use()
    pcap = os.path.join(tmpdir_tern, "frags.pcap")
    cap = capture(b.ns, b.inner, "src host %s and (icmp or ip[6:2] & 0x3fff != 0)" % a.ip,
                  pcap, 4)
    n0, d0 = node_packets(t), t.drops()
    r = ping(a.ns, b.ip, size=1400, extra="-M dont")
    assert r.returncode == 0 and " 3 received" in r.stdout, r.stdout + r.stderr
    assert r.stdout.count("1408 bytes from %s" % b.ip) == 3, r.stdout
    n = deltas(n0, node_packets(t))
    assert n.get("ip_frag") == 3, n
    assert deltas(d0, t.drops()) == {}
    cap.wait(10)
    pkts = [p[IP] for p in rdpcap(pcap) if IP in p]
    # Each 1428-byte request in two fragments, neither over 1280 bytes.
    assert len(pkts) == 6, [p.summary() for p in pkts]
    assert all(p.len <= 1280 for p in pkts), [p.len for p in pkts]
    for first, last in zip(pkts[0::2], pkts[1::2]):
        assert first.id == last.id and first.flags.MF and not last.flags.MF
        assert first.frag == 0 and last.frag * 8 == first.len - 20
        assert (first.len - 20) + (last.len - 20) == 1408
        assert first.ttl == last.ttl == 63
    # DF set: frag needed instead.
    d0 = t.drops()
    r = ping(a.ns, b.ip, count=1, size=1400, extra="-M do")
    assert r.returncode != 0
    assert "Frag needed and DF set (mtu = 1280)" in r.stdout, r.stdout + r.stderr
    assert deltas(d0, t.drops()) == {"ip_mtu": 1}
    t.wait_mbufs(base)
    assert t.stop() == 0


def test_forward_fragments_tap(ternd_factory, netns_factory, tmpdir_tern):
    """ternd forwards fragments as they are (it reassembles only what is
    for itself) and fragments a fragment again when it does not fit: H sends
    1628-byte pings to B as two fragments (1500 + 148) over the tap; ternd's
    port toward B has MTU 1280, so the first is split again (1276 + 244),
    the second piece keeping MF.  B's replies are reassembled by the
    kernel's net_af_packet (see the module doc) and fragmented for the tap."""
    net, netb = subnet(), subnet()
    h, b = netns_factory("tuf"), netns_factory("tub")
    no_ipv6(h)
    no_ipv6(b)
    outer, inner = uniq("tv"), uniq("tp")
    h.run("ip link add %s type veth peer name %s netns %s" % (outer, inner, b.name))
    h.run("ethtool -K %s tx off tso off gso off gro off" % outer, check=False)
    b.run("ethtool -K %s tx off tso off gso off" % inner, check=False)
    # The veth's end is in H too, with ternd's MAC: H's kernel must not take
    # B's replies to H off it (they would arrive twice).
    h.run("sysctl -qw net.ipv4.conf.all.rp_filter=1 net.ipv4.conf.%s.rp_filter=1" % outer)
    b.run("ip addr add %s.2/24 dev %s" % (netb, inner))
    b.run("ip link set %s mtu 1280 up" % inner)
    b.run("ip route add default via %s.1" % netb)
    h.run("ip link set %s up" % outer)
    tap = uniq("tt")
    t = ternd_factory(config("port add tp net_tap0,iface=%s" % tap,
                             "port add pb net_af_packet0,iface=%s mtu 1280" % outer,
                             "addr add %s.1/24 dev tp" % net, "addr add %s.1/24 dev pb" % netb),
                      netns=h.name)
    h.run("ip link set %s address 02:00:00:00:aa:01" % tap)
    h.run("ip addr add %s.2/24 dev %s" % (net, tap))
    h.run("ip link set %s up" % tap)
    h.run("ip route add %s.0/24 via %s.1" % (netb, net))
    links_up(t, "tp", "pb")
    assert ping(h, netb + ".2", count=1).returncode == 0
    base = t.mbufs_in_use()
    pcap = os.path.join(tmpdir_tern, "fwd.pcap")
    cap = capture(b, inner, "src host %s.2 and (icmp or ip[6:2] & 0x3fff != 0)" % net, pcap, 3)
    n0, d0 = node_packets(t), t.drops()
    r = ping(h, netb + ".2", size=1600)
    assert r.returncode == 0 and " 3 received" in r.stdout, r.stdout + r.stderr
    assert r.stdout.count("ttl=63") == 3 and "DUP" not in r.stdout, r.stdout
    n = deltas(n0, node_packets(t))
    # Per ping: two fragments and a reply forwarded, the first fragment and
    # the reply fragmented.
    assert n.get("ip_forward") == 3 * 3 and n.get("ip_frag") == 3 * 2, n
    assert "ip_reassembly" not in n, n
    assert deltas(d0, t.drops()) == {}
    cap.wait(10)
    pkts = [p[IP] for p in rdpcap(pcap) if IP in p]
    assert len(pkts) == 9, [p.summary() for p in pkts]
    by_id = {}
    for p in pkts:
        by_id.setdefault(p.id, []).append((p.frag * 8, p.len - 20, bool(p.flags.MF), p.len))
    for ident, frags in by_id.items():
        assert sorted(frags) == [(0, 1256, True, 1276), (1256, 224, True, 244),
                                 (1480, 128, False, 148)], frags
    t.wait_mbufs(base)
    assert t.stop() == 0
