# SPDX-License-Identifier: BSD-3-Clause
"""Every port type ternd is meant to drive, each with a real peer where one
exists: Linux hosts in namespaces (net_af_packet on veth, net_tap), pcap
files (net_pcap), the loopback ring (net_ring) and a second ternd process
(net_memif, net_vhost with net_virtio_user).  net_null is covered by
test_boot.py."""

import os
import time

from scapy.all import Dot1Q, Ether, IP, Raw, UDP, raw, rdpcap, wrpcap

from conftest import EAL, config, sh, uniq, wait_until

# A second ternd in the same run: its control thread on lcore 1 and its
# worker on lcore 0, so the two pollers do not share a core.
EAL_B = EAL.replace("-l 0-1", "-l 0-1 --main-lcore 1")
# virtio-user maps all of its memory into the vhost side: with plain
# --in-memory it has one region per hugepage, too many for vhost-user.
EAL_VIRTIO = EAL_B.replace("--in-memory", "--in-memory --single-file-segments")

_subnets = iter(range(os.getpid() % 200 + 20, 256))


def subnet():
    """A /24 prefix (10.99.X) no other test of this run uses."""
    return "10.99.%d" % next(_subnets)


def udp_frames(n, dst="02:00:00:00:00:02", src="02:00:00:00:00:01"):
    """n distinct Ether/IPv4/UDP frames (sizes and payloads vary)."""
    return [Ether(dst=dst, src=src) / IP(src="192.0.2.1", dst="192.0.2.2", id=i) /
            UDP(sport=1000 + i, dport=9) / Raw(bytes([i % 256]) * (18 + i % 50))
            for i in range(n)]


def write_pcap(path, frames):
    wrpcap(path, frames)
    return path


def mac_of(ns, ifname):
    return ns.run("cat /sys/class/net/%s/address" % ifname).stdout.strip()


def no_ipv6(ns, *root_ifaces):
    """No IPv6 in ns (and on the given root-side links): the kernel then sends
    nothing unprompted (no MLD, router or neighbour solicitations)."""
    ns.run("sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1")
    for i in root_ifaces:
        sh("sysctl -qw net.ipv6.conf.%s.disable_ipv6=1" % i)


def ns_sendp(ns, script):
    """Run a scapy script in ns; return what it prints."""
    code = "from scapy.all import *\nconf.verb = 0\n" + script
    return ns.run("/usr/bin/python3 -c '%s'" % code.replace("'", "'\\''")).stdout


def rising(t, fn, what, timeout=5.0):
    """Wait until the counter fn(t) grows; return (before, after)."""
    before = fn(t)
    seen = [before]

    def grew():
        seen[0] = fn(t)
        return seen[0] > before
    wait_until(grew, timeout=timeout, what=what)
    return before, seen[0]


def wait_port_mbufs(t, base, timeout=5.0):
    """Ternd.wait_mbufs for some ports' pools only ({port: baseline}): the
    others may have a burst in flight at any moment."""
    deadline = time.time() + timeout
    while True:
        now = {p: n["mbufs_in_use"] for p, n in t.links().items() if p in base}
        if all(now[p] <= base[p] for p in base) or time.time() > deadline:
            break
        time.sleep(0.1)
    assert all(now[p] <= base[p] for p in base), "mbuf leak: %s in use, %s at start" % (
        now, base)


def quiet(t, port, settle=0.2):
    """Wait until nothing more arrives on port."""
    def still():
        n = t.links()[port]["rx_packets"]
        time.sleep(settle)
        return t.links()[port]["rx_packets"] == n
    wait_until(still, what="no more frames on " + port)


# --- net_af_packet on veth, Linux hosts on both sides ----------------------


def test_af_packet_xconnect_ping(ternd_factory, netns_factory):
    net = subnet()
    a, b = netns_factory("tpa"), netns_factory("tpb")
    outer_a, inner_a = a.veth(net + ".1/24")
    outer_b, inner_b = b.veth(net + ".2/24")
    t = ternd_factory(config("port add pa net_af_packet0,iface=%s" % outer_a,
                             "port add pb net_af_packet1,iface=%s" % outer_b,
                             "port xconnect pa pb"))
    base = t.mbufs_in_use()
    l0 = t.links()
    for p in ("pa", "pb"):
        assert l0[p]["driver"] == "net_af_packet" and l0[p]["link"] == "up"

    r = a.run("ping -c 3 -i 0.2 -W 2 %s.2" % net, check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "3 received" in r.stdout
    # A resolved B through ternd: B's own MAC, not ternd's.
    neigh = a.run("ip neigh show %s.2" % net).stdout
    assert mac_of(b, inner_b) in neigh.lower(), neigh
    l1 = t.links()
    # At least the ARP exchange and three echoes each way.
    for rx, tx in (("pa", "pb"), ("pb", "pa")):
        assert l1[rx]["rx_packets"] - l0[rx]["rx_packets"] >= 4
        assert l1[tx]["tx_packets"] - l0[tx]["tx_packets"] >= 4
    assert t.node("xconnect")["packets"] >= 8
    assert t.node("eth_input")["packets"] == 0

    # Undone: B's echo requests now reach eth_input as frames for another host.
    t.ctl("port", "xconnect", "pa", "none")
    xc = t.node("xconnect")["packets"]
    other = t.drops()["eth_other_host"]
    r = a.run("ping -c 2 -i 0.2 -W 1 %s.2" % net, check=False)
    assert r.returncode != 0 and " 0 received" in r.stdout
    assert t.drops()["eth_other_host"] >= other + 2
    assert t.node("xconnect")["packets"] == xc
    t.wait_mbufs(base)
    assert t.stop() == 0


def test_af_packet_xconnect_failure_rolls_back(ternd_factory, netns_factory):
    """port xconnect A B makes A promiscuous first: when B cannot follow,
    A goes back to accepting only its own frames, and nothing is connected."""
    a, b = netns_factory("tpa"), netns_factory("tpb")
    outer_a, _ = a.veth()
    outer_b, _ = b.veth()
    t = ternd_factory(config("port add pa net_af_packet0,iface=%s" % outer_a,
                             "port add pb net_af_packet1,iface=%s" % outer_b))

    def promiscuity(ifname):
        out = sh("ip -d link show %s" % ifname).stdout
        return int(out.split(" promiscuity ")[1].split()[0])

    assert promiscuity(outer_a) == 0
    # af_packet sets IFF_PROMISC through the interface's name: renamed, the
    # port keeps working but cannot be made promiscuous.
    moved = uniq("tm")
    sh("ip link set %s down && ip link set %s name %s && ip link set %s up" %
       (outer_b, outer_b, moved, moved))
    try:
        r = t.ctl("port", "xconnect", "pa", "pb", check=False)
        assert r.returncode == 1 and "cannot make pb promiscuous" in r.stderr, r.stderr
        assert promiscuity(outer_a) == 0
        assert "xconnect" not in t.ctl("show", "running-config")
    finally:
        sh("ip link set %s down && ip link set %s name %s && ip link set %s up" %
           (moved, moved, outer_b, outer_b))
    # With the name back, the same command works and both are promiscuous.
    t.ctl("port", "xconnect", "pa", "pb")
    assert promiscuity(outer_a) == 1 and promiscuity(outer_b) == 1
    t.ctl("port", "xconnect", "pa", "none")
    assert promiscuity(outer_a) == 0 and promiscuity(outer_b) == 0
    assert t.stop() == 0


def test_af_packet_eth_input_classifies(ternd_factory, netns_factory):
    net = subnet()
    ns = netns_factory("tpc")
    no_ipv6(ns)
    outer, inner = ns.veth(net + ".1/24")
    no_ipv6(ns, outer)
    t = ternd_factory(config("port add p0 net_af_packet0,iface=%s" % outer))
    l0 = t.links()["p0"]
    assert l0["driver"] == "net_af_packet" and l0["link"] == "up"
    # af_packet takes the MAC of the link it sits on.
    assert l0["mac"].lower() == sh("cat /sys/class/net/%s/address" % outer).stdout.strip()
    base = t.mbufs_in_use()
    d0 = t.drops()
    rx0 = l0["rx_packets"]

    # Different counts per kind, so a frame counted under the wrong reason shows.
    sent = {"eth_unknown_type": 5, "eth_other_host": 4, "eth_multicast": 3, "eth_vlan": 2}
    out = ns_sendp(ns, """
i, me, you = "%s", "%s", "%s"
sendp([Ether(dst=me, src=you, type=0x88b5) / Raw(b"u" * 46)] * 5, iface=i)
sendp([Ether(dst="02:00:00:00:99:99", src=you, type=0x88b5) / Raw(b"o" * 46)] * 4, iface=i)
sendp([Ether(dst="01:00:5e:00:00:fb", src=you) / IP(dst="224.0.0.251") / UDP(dport=5353)] * 3,
      iface=i)
sendp([Ether(dst=me, src=you) / Dot1Q(vlan=5) / IP(dst="192.0.2.9") / UDP()] * 2, iface=i)
# Not sendp: scapy pads what the kernel refuses up to 60 bytes.
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((i, 0))
try:
    s.send(b"\\x01" * 12)
    print("runt sent")
except OSError as e:
    print("runt refused", e)
""" % (inner, l0["mac"], mac_of(ns, inner)))
    runt = out.startswith("runt sent")
    if runt:
        sent["eth_runt"] = 1
    total = sum(sent.values())
    wait_until(lambda: t.links()["p0"]["rx_packets"] >= rx0 + total, what="frames at ternd")
    time.sleep(0.2)  # let any stray extra frame show up before comparing exactly
    d1 = t.drops()
    for reason in d1:
        assert d1[reason] - d0.get(reason, 0) == sent.get(reason, 0), (reason, out)
    assert t.links()["p0"]["rx_packets"] == rx0 + total
    # Without a runt from veth (the kernel refuses frames under 14 bytes),
    # test_pcap_rx_frames_reach_eth_input covers eth_runt.
    assert runt or "runt refused" in out

    # A Linux host resolving an address on the link: its ARP requests are
    # broadcasts, accepted, handed to ARP, and dropped there: ternd has no
    # address, so they are for another host.
    r = ns.run("ping -c 1 -W 1 %s.9" % net, check=False)
    assert r.returncode != 0
    assert t.drops().get("arp_not_for_us", 0) > d1.get("arp_not_for_us", 0)
    assert t.drops()["eth_unknown_type"] == d1["eth_unknown_type"]
    assert t.drops()["eth_other_host"] == d1["eth_other_host"]
    t.wait_mbufs(base)
    assert t.stop() == 0


# --- net_tap: ternd runs in the host's namespace ---------------------------


def test_tap_arp_and_xconnect_ping(ternd_factory, netns_factory):
    net = subnet()
    a, b = netns_factory("tta"), netns_factory("ttb")
    tap = uniq("tt")
    # A veth from A (where ternd runs) to B: ternd cross-connects the tap to it.
    outer, inner = uniq("tv"), uniq("tp")
    a.run("ip link add %s type veth peer name %s netns %s" % (outer, inner, b.name))
    a.run("ethtool -K %s tx off tso off gso off gro off" % outer, check=False)
    b.run("ethtool -K %s tx off tso off gso off" % inner, check=False)
    b.run("ip addr add %s.2/24 dev %s" % (net, inner))
    b.run("ip link set %s up" % inner)
    a.run("ip link set %s up" % outer)
    t = ternd_factory(config("port add tap0 net_tap0,iface=%s" % tap,
                             "port add v0 net_af_packet0,iface=%s" % outer), netns=a.name)
    l0 = t.links()
    assert l0["tap0"]["driver"] == "net_tap" and l0["tap0"]["link"] == "up"
    assert l0["v0"]["link"] == "up"
    # The tap's kernel side starts with ternd's MAC: give it its own.
    assert mac_of(a, tap) == l0["tap0"]["mac"].lower()
    a.run("ip link set %s address 02:00:00:00:aa:01" % tap)
    a.run("ip addr add %s.1/24 dev %s" % (net, tap))
    a.run("ip link set %s up" % tap)
    base = t.mbufs_in_use()

    # Not cross-connected: A's ARP requests for B end in ARP (not for us).
    unk = t.drops().get("arp_not_for_us", 0)
    r = a.run("ping -c 1 -W 1 %s.2" % net, check=False)
    assert r.returncode != 0
    assert t.drops()["arp_not_for_us"] > unk
    assert t.links()["tap0"]["rx_packets"] > l0["tap0"]["rx_packets"]

    # Cross-connected to the veth: A reaches B through the tap and ternd.
    t.ctl("port", "xconnect", "tap0", "v0")
    r = a.run("ping -c 3 -i 0.2 -W 2 %s.2" % net, check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    assert mac_of(b, inner) in a.run("ip neigh show %s.2" % net).stdout.lower()
    l1 = t.links()
    assert l1["tap0"]["tx_packets"] - l0["tap0"]["tx_packets"] >= 4
    assert l1["v0"]["tx_packets"] - l0["v0"]["tx_packets"] >= 4
    t.wait_mbufs(base)
    assert t.stop() == 0


# --- net_pcap ----------------------------------------------------------------


def test_pcap_infinite_rx_xconnect(ternd_factory, tmpdir_tern):
    src = write_pcap(os.path.join(tmpdir_tern, "in.pcap"), udp_frames(100))
    t = ternd_factory(config("port add p0 net_pcap0,rx_pcap=%s,infinite_rx=1" % src,
                             "port add n0 net_null0,no-rx=1",
                             "port xconnect p0 n0"))
    l0 = t.links()
    assert l0["p0"]["driver"] == "net_pcap" and l0["p0"]["link"] == "up"
    # The replay goes on and on, well past the 100 frames of the file.
    wait_until(lambda: t.links()["n0"]["tx_packets"] > 10000, what="replayed frames")
    rising(t, lambda t: t.links()["p0"]["rx_packets"], "more frames read")
    rising(t, lambda t: t.links()["n0"]["tx_packets"], "more frames sent")
    n = {n["node"]: n["packets"] for n in t.stats()["nodes"]}
    assert n["xconnect"] > 10000 and n["port_tx"] > 10000 and n["eth_input"] == 0
    assert t.stop() == 0


def test_pcap_replay_to_file(ternd_factory, tmpdir_tern):
    frames = udp_frames(100)
    src = write_pcap(os.path.join(tmpdir_tern, "in.pcap"), frames)
    out0, out1 = (os.path.join(tmpdir_tern, f) for f in ("out0.pcap", "out1.pcap"))
    t = ternd_factory(config("port add p0 net_pcap0,rx_pcap=%s,tx_pcap=%s" % (src, out0),
                             "port add p1 net_pcap1,tx_pcap=%s" % out1,
                             "port xconnect p0 p1"))
    wait_until(lambda: t.links()["p1"]["tx_packets"] >= 100, what="100 frames out on p1")
    time.sleep(0.2)  # nothing more may come
    l = t.links()
    assert l["p0"]["rx_packets"] == 100 and l["p1"]["tx_packets"] == 100
    assert l["p0"]["tx_packets"] == 0 and l["p1"]["rx_packets"] == 0
    t.wait_mbufs(0)
    assert t.stop() == 0
    # The dumper is flushed when the port closes: the file holds the frames
    # byte for byte, in order.
    got = rdpcap(out1)
    assert [bytes(f) for f in got] == [bytes(f) for f in frames]
    assert len(rdpcap(out0)) == 0


def test_pcap_rx_frames_reach_eth_input(ternd_factory, tmpdir_tern):
    """Frames a veth cannot carry (runts) replayed from a file; each kind of
    frame is dropped under its own reason, exactly once."""
    bc = "ff:ff:ff:ff:ff:ff"
    kinds = {
        "eth_runt": [Raw(b"\x01" * 12), Raw(b"\x02" * 13), Raw(b"")],
        "eth_other_host": [Ether(dst="02:00:00:00:99:99", type=0x88b5) / Raw(b"o" * 46)] * 4,
        "eth_multicast": [Ether(dst="33:33:00:00:00:01") / Raw(b"m" * 46)] * 5,
        "eth_vlan": [Ether(dst=bc) / Dot1Q(vlan=7) / Raw(b"v" * 42)] * 6,
        "eth_unknown_type": [Ether(dst=bc, type=0x88b5) / Raw(b"u" * 46)] * 7,
    }
    frames = [f for fs in kinds.values() for f in fs]
    src = write_pcap(os.path.join(tmpdir_tern, "kinds.pcap"), frames)
    t = ternd_factory(config("port add p0 net_pcap0,rx_pcap=%s" % src))
    wait_until(lambda: t.links()["p0"]["rx_packets"] >= len(frames), what="frames read")
    time.sleep(0.1)
    assert t.links()["p0"]["rx_packets"] == len(frames)
    d = t.drops()
    for reason in d:
        assert d[reason] == len(kinds.get(reason, [])), reason
    assert t.node("eth_input")["packets"] == len(frames)
    t.wait_mbufs(0)
    assert t.stop() == 0


# --- net_ring ----------------------------------------------------------------


def test_ring_loopback(ternd_factory, tmpdir_tern):
    """A lone net_ring0 gives back what is sent on it: frames from a pcap go
    out on the ring, come back in on it and leave again on the pcap port."""
    src = write_pcap(os.path.join(tmpdir_tern, "in.pcap"), udp_frames(100))
    out = os.path.join(tmpdir_tern, "back.pcap")
    t = ternd_factory(config("port add p0 net_pcap0,rx_pcap=%s,tx_pcap=%s" % (src, out),
                             "port add r0 net_ring0",
                             "port add r1 net_ring1",
                             "port xconnect p0 r0"))
    l0 = t.links()
    for r in ("r0", "r1"):
        assert l0[r]["driver"] == "net_ring" and l0[r]["link"] == "up"
    wait_until(lambda: t.links()["r0"]["rx_packets"] >= 100, what="frames back in on r0")
    time.sleep(0.2)  # nothing more may come
    l = t.links()
    assert l["p0"]["rx_packets"] == 100 and l["r0"]["tx_packets"] == 100, (
        "frames received on r0 went out on r0 again (port_rx trusts mbuf->port, which "
        "net_ring leaves as the first ingress port, p0): %s" % {
            p: (l[p]["rx_packets"], l[p]["tx_packets"]) for p in l})
    assert l["r0"]["rx_packets"] == 100 and l["p0"]["tx_packets"] == 100
    assert l["r1"]["rx_packets"] == 0 and l["r1"]["tx_packets"] == 0
    t.wait_mbufs(0)
    assert t.stop() == 0
    assert [bytes(f) for f in rdpcap(out)] == [bytes(f) for f in rdpcap(src)]


def test_pcap_tx_linearizes_fragments(ternd_factory, tmpdir_tern):
    """net_pcap offers no MULTI_SEGS TX offload, so port_tx copies each mbuf
    chain into one segment before it goes out.  Jumbo frames from a pcap
    arrive as chains (net_pcap reads them into several mbufs), are routed
    to a second pcap port and fragmented there (each fragment a header mbuf
    chained to the payload).  The file must hold exactly the fragments of
    the datagrams sent, none dropped as tx_no_multiseg, and every segment
    must be back in its pool."""
    pcap_mac = "02:70:63:61:70:00"  # net_pcap's MAC for the first pcap port
    payloads = [bytes([i]) * 2972 for i in range(10)]  # 3000-byte datagrams
    frames = [Ether(dst=pcap_mac, src="02:00:00:00:00:01") /
              IP(src="192.0.2.5", dst="198.51.100.9", id=100 + i, flags=0) /
              UDP(sport=4000 + i, dport=9) / Raw(p) for i, p in enumerate(payloads)]
    src = write_pcap(os.path.join(tmpdir_tern, "jumbo.pcap"), frames)
    out = os.path.join(tmpdir_tern, "frags.pcap")
    t = ternd_factory(config("port add p0 net_pcap0,rx_pcap=%s" % src,
                             "port add f0 net_pcap1,tx_pcap=%s" % out,
                             "addr add 192.0.2.1/24 dev p0",
                             "addr add 198.51.100.1/24 dev f0",
                             "neigh add 198.51.100.9 lladdr 02:00:00:00:00:09 dev f0"))
    l = t.links()
    assert l["p0"]["mac"] == pcap_mac, "net_pcap's MAC changed: %s" % l["p0"]["mac"]
    assert l["f0"]["mtu"] == 1500 and l["f0"]["tx_chains"] == "linearized"
    # 2980 bytes after the header: 1480 + 1480 + 20, three fragments each.
    wait_until(lambda: t.links()["f0"]["tx_packets"] >= 30, what="30 fragments in the file")
    time.sleep(0.2)  # nothing more may come
    l = t.links()
    assert l["p0"]["rx_packets"] == 10
    sent = l["f0"]["tx_packets"]  # the fragments and gratuitous ARP
    d = t.drops()
    assert d.get("tx_no_multiseg", 0) == 0 and d.get("tx_full", 0) == 0, d
    assert t.node("ip_frag")["packets"] == 10
    t.wait_mbufs(0)
    assert t.stop() == 0

    got = rdpcap(out)
    assert len(got) == sent
    got = [f for f in got if IP in f]
    assert len(got) == 30
    for f in got:
        assert f[Ether].dst == "02:00:00:00:00:09" and f[IP].ttl == 63
        assert len(f) == 14 + f[IP].len, "frame and IP lengths differ"
        assert IP(raw(f[IP])).chksum == f[IP].chksum  # header checksum right
    by_id = {}
    for f in got:
        by_id.setdefault(f[IP].id, []).append(f[IP])
    assert sorted(by_id) == [100 + i for i in range(10)]
    for i, p in enumerate(payloads):
        frags = sorted(by_id[100 + i], key=lambda x: x.frag)
        assert [x.frag * 8 for x in frags] == [0, 1480, 2960]
        assert [bool(x.flags.MF) for x in frags] == [True, True, False]
        data = b"".join(bytes(x.payload) for x in frags)
        assert data[8:] == p, "datagram %d's payload differs in the file" % i


# --- DPDK to DPDK: net_memif, net_vhost/net_virtio_user ----------------------


def _two_process_flow(ternd_factory, netns_factory, tmpdir_tern, a_port, b_port, eal_b,
                      driver_a, driver_b):
    """ternd A sends into a_port, ternd B receives on b_port.  First A replays
    a pcap forever and B drops into net_null: frames must flow, and keep
    flowing.  Then A forwards a Linux host's 50 frames instead and B writes
    them to a pcap: exactly those frames, byte for byte, and every mbuf back
    in both processes.  Returns (A, B), still running."""
    src = write_pcap(os.path.join(tmpdir_tern, "in.pcap"), udp_frames(64))
    host = netns_factory("tph")
    no_ipv6(host)
    outer, inner = host.veth()
    no_ipv6(host, outer)
    out = os.path.join(tmpdir_tern, "b_out.pcap")
    a = ternd_factory(config("port add p0 net_pcap0,rx_pcap=%s,infinite_rx=1" % src,
                             "port add h0 net_af_packet0,iface=%s" % outer,
                             "port add x0 %s" % a_port,
                             "port xconnect p0 x0"), name="a")
    b = ternd_factory(config("port add x0 %s" % b_port,
                             "port add n0 net_null0,no-rx=1",
                             "port add f0 net_pcap0,tx_pcap=%s" % out,
                             "port xconnect x0 n0", eal=eal_b, workers="workers 0"), name="b")
    assert a.links()["x0"]["driver"] == driver_a
    assert b.links()["x0"]["driver"] == driver_b
    wait_until(lambda: b.links()["x0"]["link"] == "up", what="B's link up")
    wait_until(lambda: a.links()["x0"]["link"] == "up", what="A's link up")
    _, rx = rising(b, lambda t: t.links()["x0"]["rx_packets"], "frames at B")
    rising(b, lambda t: t.links()["x0"]["rx_packets"], "more frames at B")
    assert a.links()["x0"]["tx_packets"] >= rx
    assert b.links()["n0"]["tx_packets"] > 0

    # Stop the replay, let B drain what is in flight, then switch both ends.
    a.ctl("port", "xconnect", "p0", "none")
    quiet(b, "x0")
    b.ctl("port", "xconnect", "x0", "none")
    b.ctl("port", "xconnect", "x0", "f0")
    a.ctl("port", "xconnect", "h0", "x0")
    # A's pcap keeps replaying (into eth_input now), a burst of its pool
    # always in flight: count the pools of the ports on this path only.
    base_a = {p: n["mbufs_in_use"] for p, n in a.links().items() if p in ("h0", "x0")}
    base_b = b.mbufs_in_use()
    rx0 = b.links()["x0"]["rx_packets"]

    frames = udp_frames(50, dst="02:00:00:00:00:0b", src=mac_of(host, inner))
    fpath = write_pcap(os.path.join(tmpdir_tern, "host.pcap"), frames)
    ns_sendp(host, "sendp(rdpcap(\"%s\"), iface=\"%s\")" % (fpath, inner))
    wait_until(lambda: b.links()["f0"]["tx_packets"] >= 50, what="50 frames into B's file")
    time.sleep(0.2)  # nothing more may come
    assert b.links()["f0"]["tx_packets"] == 50
    assert b.links()["x0"]["rx_packets"] == rx0 + 50
    wait_port_mbufs(a, base_a)
    b.wait_mbufs(base_b)
    return a, b, out, frames


def test_memif_between_two_ternds(ternd_factory, netns_factory, tmpdir_tern):
    sock = os.path.join(tmpdir_tern, "memif.sock")
    a, b, out, frames = _two_process_flow(ternd_factory, netns_factory, tmpdir_tern,
                                          "net_memif0,role=server,socket=%s" % sock,
                                          "net_memif0,role=client,socket=%s" % sock,
                                          EAL_B, "net_memif", "net_memif")
    # The client goes first: the server sees its link drop and stays up.
    assert b.stop() == 0
    assert [bytes(f) for f in rdpcap(out)] == [bytes(f) for f in frames]
    wait_until(lambda: a.links()["x0"]["link"] == "down", what="A's memif link down")
    assert a.stop() == 0


def test_vhost_virtio_user_between_two_ternds(ternd_factory, netns_factory, tmpdir_tern):
    sock = os.path.join(tmpdir_tern, "vhost.sock")
    a, b, out, frames = _two_process_flow(ternd_factory, netns_factory, tmpdir_tern,
                                          "net_vhost0,iface=%s" % sock,
                                          "net_virtio_user0,path=%s" % sock,
                                          EAL_VIRTIO, "net_vhost", "net_virtio_user")
    assert b.stop() == 0
    assert [bytes(f) for f in rdpcap(out)] == [bytes(f) for f in frames]
    wait_until(lambda: a.links()["x0"]["link"] == "down", what="A's vhost link down")
    assert a.stop() == 0
