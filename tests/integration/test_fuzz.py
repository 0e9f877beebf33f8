# SPDX-License-Identifier: BSD-3-Clause
"""Junk in, nothing broken out.  Several thousand malformed, mutated and
random frames (seeded, so a failure replays) go through every part of the
stack at once: Ethernet, ARP, IPv4 input checks, reassembly, forwarding,
NAT44 (SNAT and DNAT, ICMP errors with random quotes), ICMP, UDP echo and
the TCP services (random flags and option bytes); from the outside, replies,
ICMP errors quoting the inside's flows and DNAT hits.  They come from pcaps
replayed by net_pcap, and what ternd sends goes to pcap files.

ternd must take them all without crashing or stalling, count them, send
only well-formed packets (header checksum, lengths, TTL, the UDP, TCP and
ICMP checksums), and give every mbuf back: the fixture's clean stop fails
the test on any mbuf missing from its pool (conftest.py)."""

import os
import random
import struct
import time

from scapy.all import (ARP, ICMP, IP, TCP, UDP, Ether, PcapWriter, Raw, fuzz, in4_chksum,
                       raw, rdpcap)

from conftest import config, wait_until

SEED = int(os.environ.get("TERN_FUZZ_SEED", "20261201"))  # another seed: more cases
IN_MAC = "02:70:63:61:70:00"   # net_pcap's first port: ternd's p0 (inside)
HOST_MAC = "02:00:00:00:00:05"
HOST = "192.0.2.5"             # an inside host, static neighbour
US_IN = "192.0.2.1"
US_OUT = "198.51.100.1"        # p1's address: the masquerade address
FAR = "203.0.113.9"            # beyond the outside gateway
GW = "198.51.100.9"

# Where packets go: to us (each service), through NAT, to a DNAT, nowhere.
DSTS = [US_IN, US_OUT, FAR, "198.51.100.77", "192.0.2.255", "255.255.255.255",
        "10.9.9.9", "224.0.0.1", "127.0.0.1", "0.0.0.0"]
SRCS = [HOST, "192.0.2.6", FAR, "0.0.0.0", "127.0.0.1", "224.1.1.1", "192.0.2.255"]
PORTS = [7, 9, 80, 2000, 0, 65535, 53]
IDS = [1, 2, 0x1234, 65535]    # ICMP query ids, few: replies find sessions
OUT_MAC = "02:70:63:61:70:01"  # ternd's p1 (outside)
GW_MAC = "02:00:00:00:00:09"


def eth(ip_bytes, rnd):
    """An Ethernet frame to ternd's inside port around raw IPv4 bytes."""
    return raw(Ether(dst=IN_MAC, src=HOST_MAC, type=0x0800)) + ip_bytes


def valid(rnd):
    """A well-formed packet of a random kind, as bytes (IPv4 on)."""
    src, dst = rnd.choice(SRCS[:3]), rnd.choice(DSTS[:5])
    ip = IP(src=src, dst=dst, ttl=rnd.choice([1, 2, 64]), id=rnd.randrange(65536),
            flags=rnd.choice([0, 2]))
    kind = rnd.randrange(5)
    if kind == 0:
        l4 = UDP(sport=rnd.choice(PORTS), dport=rnd.choice(PORTS)) / Raw(rnd.randbytes(
            rnd.randrange(0, 200)))
    elif kind == 1:
        l4 = TCP(sport=rnd.randrange(1024, 65536), dport=rnd.choice(PORTS),
                 flags=rnd.randrange(256), seq=rnd.randrange(1 << 32),
                 ack=rnd.randrange(1 << 32), window=rnd.randrange(65536),
                 options=[("MSS", rnd.randrange(65536)), ("SAckOK", b""),
                          ("WScale", rnd.randrange(256)),
                          ("Timestamp", (rnd.randrange(1 << 32), 0))])
    elif kind == 2:
        l4 = ICMP(type=rnd.choice([0, 8, 8, 13, 17]), id=rnd.choice(IDS),
                  seq=rnd.randrange(65536)) / Raw(rnd.randbytes(rnd.randrange(0, 100)))
    elif kind == 3:
        # An ICMP error quoting a packet of ours (or not): NAT and
        # icmp_input read the quote.
        inner = IP(src=rnd.choice([US_OUT, HOST, FAR]), dst=rnd.choice(DSTS[:4]),
                   proto=rnd.choice([1, 6, 17, 47])) / Raw(rnd.randbytes(rnd.randrange(0, 40)))
        l4 = ICMP(type=rnd.choice([3, 11, 12, 5]), code=rnd.randrange(16)) / Raw(
            raw(inner)[:rnd.randrange(0, len(raw(inner)) + 1)])
    else:
        l4 = UDP(sport=rnd.choice(PORTS), dport=7) / Raw(rnd.randbytes(rnd.randrange(0, 3000)))
    return raw(ip / l4)


def tcp_random_options(rnd):
    """A TCP segment to a service with random option bytes, checksums right:
    the option parser sees every length and kind."""
    nopt = rnd.randrange(0, 11)  # 32-bit words of options
    opts = bytes(rnd.randrange(256) for _ in range(nopt * 4))
    ip = IP(src=HOST, dst=rnd.choice([US_IN, US_OUT]), id=rnd.randrange(65536))
    hdr = bytearray(raw(TCP(sport=rnd.randrange(1024, 65536), dport=rnd.choice([7, 9, 80]),
                            flags=rnd.choice([0x02, 0x10, 0x18, 0x12, 0x04, 0x01, 0x11,
                                              rnd.randrange(256)]),
                            seq=rnd.randrange(1 << 32), ack=rnd.randrange(1 << 32),
                            dataofs=5 + nopt, chksum=0))[:20])
    seg = bytes(hdr) + opts + rnd.randbytes(rnd.randrange(0, 64))
    ip.proto = 6
    ip.len = 20 + len(seg)
    ck = in4_chksum(6, IP(raw(ip)), seg)
    seg = seg[:16] + struct.pack("!H", ck) + seg[18:]
    return raw(ip)[:20] + seg


def mutate(b, rnd):
    """Flip, truncate or extend IPv4 bytes; fix the header checksum half the
    time so that the junk reaches the upper layers."""
    b = bytearray(b)
    what = rnd.randrange(4)
    if what == 0:
        for _ in range(rnd.randrange(1, 5)):
            b[rnd.randrange(len(b))] = rnd.randrange(256)
    elif what == 1:
        b = b[:rnd.randrange(0, len(b))]
    elif what == 2:
        b += rnd.randbytes(rnd.randrange(1, 64))
    else:
        i = rnd.randrange(20, len(b)) if len(b) > 20 else 0
        for _ in range(rnd.randrange(1, 9)):
            if i < len(b):
                b[i] = rnd.randrange(256)
                i += 1
    if len(b) >= 20 and rnd.random() < 0.5:
        ihl = (b[0] & 0xf) * 4
        if 20 <= ihl <= len(b):
            b[10:12] = b"\0\0"
            s = sum(struct.unpack("!%dH" % (ihl // 2), bytes(b[:ihl])))
            while s >> 16:
                s = (s & 0xffff) + (s >> 16)
            b[10:12] = struct.pack("!H", ~s & 0xffff)
    return bytes(b)


def fragments(rnd):
    """Fragments of one datagram, some lost, some overlapping, some
    reordered; to us or through NAT."""
    dst = rnd.choice([US_IN, FAR, US_OUT])
    size = rnd.randrange(100, 4000)
    ident = rnd.randrange(65536)
    data = raw(UDP(sport=rnd.randrange(1024, 65536), dport=rnd.choice([7, 2000])) /
               Raw(rnd.randbytes(size)))
    out, off = [], 0
    while off < len(data):
        n = rnd.choice([8, 64, 512, 1480]) if rnd.random() < 0.8 else rnd.randrange(1, 1480)
        piece = data[off:off + n]
        last = off + n >= len(data)
        f = IP(src=HOST, dst=dst, id=ident, proto=17, frag=(off // 8) + (rnd.random() < 0.1),
               flags=0 if last and rnd.random() < 0.9 else 1) / Raw(piece)
        if rnd.random() > 0.1:  # some are lost
            out.append(raw(f))
        off += n if rnd.random() > 0.1 else max(8, n // 2)  # some overlap
    rnd.shuffle(out)
    return out


def arp_junk(rnd):
    """ARP with odd opcodes, hardware and protocol types and lengths,
    truncated, to us or broadcast."""
    a = bytearray(raw(ARP(op=1, hwsrc=HOST_MAC, psrc=rnd.choice(SRCS),
                          pdst=rnd.choice([US_IN, US_OUT, HOST, "192.0.2.77"]))))
    a[0:2] = struct.pack("!H", rnd.choice([1, 1, 6]))            # hardware type
    a[2:4] = struct.pack("!H", rnd.choice([0x0800, 0x0800, 0x86dd]))
    a[4] = rnd.choice([6, 6, 6, 0, 8])                          # hardware length
    a[5] = rnd.choice([4, 4, 4, 0, 16])                         # protocol length
    a[6:8] = struct.pack("!H", rnd.randrange(0, 5))              # opcode
    b = raw(Ether(dst=rnd.choice([IN_MAC, "ff:ff:ff:ff:ff:ff"]), src=HOST_MAC,
                  type=0x0806)) + bytes(a)
    if rnd.random() < 0.3:
        b = b[:rnd.randrange(14, len(b))]
    return b


def build(n, rnd):
    frames = []
    while len(frames) < n:
        k = rnd.randrange(10)
        if k < 2:
            frames.append(eth(valid(rnd), rnd))
        elif k < 5:
            frames.append(eth(mutate(valid(rnd), rnd), rnd))
        elif k == 5:
            frames.append(eth(tcp_random_options(rnd), rnd))
        elif k == 6:
            frames += [eth(f, rnd) for f in fragments(rnd)]
        elif k == 7:
            frames.append(arp_junk(rnd))
        elif k == 8:
            p = fuzz(IP(dst=rnd.choice(DSTS), src=rnd.choice(SRCS)) /
                     rnd.choice([UDP(), TCP(), ICMP()]))
            frames.append(eth(raw(p), rnd))
        else:
            # Not even IPv4: runts, other EtherTypes, VLAN tags, other MACs.
            frames.append(rnd.choice([
                raw(Ether(dst=IN_MAC, src=HOST_MAC))[:rnd.randrange(1, 14)],
                raw(Ether(dst=IN_MAC, src=HOST_MAC, type=rnd.randrange(65536))) +
                rnd.randbytes(rnd.randrange(0, 60)),
                raw(Ether(dst="02:00:00:00:00:99", src=HOST_MAC)) + raw(IP(dst=US_IN)),
                raw(Ether(dst="01:00:5e:00:00:01", src=HOST_MAC)) + raw(IP(dst="224.0.0.1")),
                raw(Ether(dst=IN_MAC, src=HOST_MAC, type=0x8100)) + rnd.randbytes(40),
            ]))
    return frames[:n]


def outside_one(rnd):
    """A packet from the outside to the masquerade address: replies to the
    inside's flows (the few ports and ids valid() uses, so that many find
    their session), ICMP errors quoting them, DNAT hits, junk."""
    src = rnd.choice([FAR, FAR, GW, "198.51.100.77", "10.1.1.1"])
    k = rnd.randrange(6)
    if k == 0:
        l4 = UDP(sport=rnd.choice(PORTS), dport=rnd.choice(PORTS)) / Raw(
            rnd.randbytes(rnd.randrange(0, 100)))
    elif k == 1:
        l4 = TCP(sport=rnd.choice(PORTS), dport=rnd.choice(PORTS + [rnd.randrange(65536)]),
                 flags=rnd.choice(["SA", "A", "R", "FA", "PA", rnd.randrange(256)]),
                 seq=rnd.randrange(1 << 32), ack=rnd.randrange(1 << 32))
    elif k == 2:
        l4 = ICMP(type=rnd.choice([0, 0, 8]), id=rnd.choice(IDS), seq=rnd.randrange(65536))
    elif k == 3:
        quoted = IP(src=US_OUT, dst=rnd.choice([FAR, GW]), id=rnd.randrange(65536)) / rnd.choice([
            UDP(sport=rnd.choice(PORTS), dport=rnd.choice(PORTS)),
            TCP(sport=rnd.choice(PORTS), dport=rnd.choice(PORTS)),
            ICMP(type=8, id=rnd.choice(IDS))])
        q = raw(quoted)
        l4 = ICMP(type=rnd.choice([3, 11, 12]), code=rnd.randrange(5)) / Raw(
            q[:rnd.choice([len(q), 28, 20, rnd.randrange(len(q) + 1)])])
    elif k == 4:
        l4 = UDP(sport=rnd.randrange(1024, 65536), dport=2000) / Raw(b"dnat")
    else:
        l4 = fuzz(rnd.choice([UDP(), TCP(), ICMP()]))
    b = raw(IP(src=src, dst=US_OUT, ttl=rnd.choice([1, 2, 64])) / l4)
    if rnd.random() < 0.4:
        b = mutate(b, rnd)
    return raw(Ether(dst=OUT_MAC, src=GW_MAC, type=0x0800)) + b


def ones_complement_ok(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return s == 0xffff


def l4_ok(ip):
    """Is the L4 checksum of this IPv4 packet (bytes) right?  None for
    fragments and what cannot be told."""
    if len(ip) < 20 or ip[0] >> 4 != 4:
        return None
    ihl, tl = (ip[0] & 0xf) * 4, struct.unpack("!H", ip[2:4])[0]
    if struct.unpack("!H", ip[6:8])[0] & 0x3fff or not 20 <= ihl <= tl <= len(ip):
        return None
    proto, l4 = ip[9], ip[ihl:tl]
    pseudo = ip[12:20] + struct.pack("!BBH", 0, proto, len(l4))
    if proto == 1:
        return ones_complement_ok(l4)
    if proto == 6:
        return len(l4) >= 20 and ones_complement_ok(pseudo + l4)
    if proto == 17:
        return len(l4) >= 8 and (l4[6:8] == b"\0\0" or ones_complement_ok(pseudo + l4))
    return None


def check_sent(path, bad_in):
    """Every IPv4 packet ternd sent is well-formed: header, lengths, TTL, and
    the L4 checksum, unless it carries on one that came in wrong (a router
    forwards those as they are; NAT's incremental updates keep them wrong).
    bad_in: (IP id, protocol) of the frames sent in whose L4 checksum was not
    right or could not be told.  Returns how many were checked."""
    n = 0
    for f in rdpcap(path):
        b = raw(f)
        if len(b) < 14 or struct.unpack("!H", b[12:14])[0] != 0x0800:
            continue
        ip = b[14:]
        ihl = (ip[0] & 0xf) * 4
        assert ip[0] >> 4 == 4 and ihl >= 20, f.summary()
        tl = struct.unpack("!H", ip[2:4])[0]
        assert ihl <= tl <= len(ip), "total length %d, frame holds %d" % (tl, len(ip))
        assert ones_complement_ok(ip[:ihl]), "bad header checksum: %s" % f.summary()
        assert ip[8] > 0, "TTL 0 sent: %s" % f.summary()
        if (ip[4:6], ip[9]) not in bad_in:
            assert l4_ok(ip) is not False, "bad L4 checksum: %s" % f.summary()
        n += 1
    return n


def test_fuzz_everything_at_once(ternd_factory, tmpdir_tern):
    rnd = random.Random(SEED)
    random.seed(SEED)  # scapy's fuzz() draws from the module's generator
    frames = build(6000, rnd)
    outside = [outside_one(rnd) for _ in range(3000)]
    src, src1 = (os.path.join(tmpdir_tern, n) for n in ("fuzz0.pcap", "fuzz1.pcap"))
    for path, fr in ((src, frames), (src1, outside)):
        with PcapWriter(path, linktype=1) as w:  # the bytes as built, not re-parsed
            for f in fr:
                w.write(f)
    out0, out1 = (os.path.join(tmpdir_tern, n) for n in ("out0.pcap", "out1.pcap"))
    t = ternd_factory(config(
        "port add p0 net_pcap0,rx_pcap=%s,tx_pcap=%s" % (src, out0),
        "port add p1 net_pcap1,rx_pcap=%s,tx_pcap=%s" % (src1, out1),
        "addr add %s/24 dev p0" % US_IN,
        "addr add %s/24 dev p1" % US_OUT,
        "neigh add %s lladdr %s dev p0" % (HOST, HOST_MAC),
        "neigh add %s lladdr 02:00:00:00:00:09 dev p1" % GW,
        "route add 0.0.0.0/0 via %s" % GW,
        "nat add snat src 192.0.2.0/24 out p1",
        "nat add dnat udp %s:2000 to %s:2000" % (US_OUT, HOST),
        "icmp ratelimit 0",
        "service udp-echo",
        "service tcp-echo",
        "service tcp-discard",
        "service http"))
    # net_pcap reads the file once: wait until every frame is in.
    wait_until(lambda: t.links()["p0"]["rx_packets"] >= len(frames) and
               t.links()["p1"]["rx_packets"] >= len(outside), timeout=60,
               what="every fuzz frame received")
    time.sleep(1.0)
    st = t.stats()
    w0 = st["workers"][0]["loops"]
    drops = t.drops()
    nat = t.ctl("nat", "stats", json_out=True)
    # The outside's replies found sessions (translated back), and NAT took
    # its share of junk.
    assert t.node("nat44")["packets"] > len(frames) // 4, nat
    assert nat["Translated"] > 100 and nat["IcmpErrorsTranslated"] > 10, nat
    assert nat["BadPackets"] > 0 and nat["FilteredIn"] > 0, nat
    # Junk is counted, by reason (a handful of reasons at least).
    assert sum(drops.values()) > len(frames) // 4, drops
    assert len([r for r, n in drops.items() if n]) >= 10, drops
    # Still alive: the worker loops, the control plane answers.
    time.sleep(0.2)
    assert t.stats()["workers"][0]["loops"] > w0
    assert t.ctl("version")
    assert "p0" in t.links()
    # A clean stop (exit 0) is also the leak check.
    assert t.stop() == 0
    bad_in = set()
    for f in frames + outside:
        if len(f) >= 34 and f[12:14] == b"\x08\x00" and l4_ok(f[14:]) is not True:
            bad_in.add((f[18:20], f[23]))
    sent = check_sent(out0, bad_in) + check_sent(out1, bad_in)
    assert sent > 100, "ternd answered almost nothing: %d packets" % sent
    print("fuzz: %d frames in, %d dropped by %d reasons, %d IPv4 packets out checked" % (
        len(frames) + len(outside), sum(drops.values()), len([n for n in drops.values() if n]), sent))
