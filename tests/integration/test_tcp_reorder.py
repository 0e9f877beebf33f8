# SPDX-License-Identifier: BSD-3-Clause
"""TCP through a reordering Linux hop.  This kernel has no netem, so the hop
is a namespace that bridges two veths in user space (raw AF_PACKET sockets)
and swaps every Nth frame with the one after it, both ways."""

import hashlib
import os

from conftest import config, sh, uniq, wait_until
from peers import links_up, no_ipv6, subnet

# The bridge: frames in on one side go out on the other; every Nth is held
# back and sent after the next one (in either direction).
BRIDGE = r"""
import select, socket, sys
a, b, every = sys.argv[1], sys.argv[2], int(sys.argv[3])
def sock(ifname):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
    s.bind((ifname, 0))
    return s
sa, sb = sock(a), sock(b)
peer = {sa: sb, sb: sa}
held = {sa: None, sb: None}
count = {sa: 0, sb: 0}
swapped = 0
while True:
    r, _, _ = select.select([sa, sb], [], [], 0.05)
    if not r:
        for s in (sa, sb):  # nothing behind a held frame: let it go
            if held[s] is not None:
                peer[s].send(held[s])
                held[s] = None
        continue
    for s in r:
        data, addr = s.recvfrom(65535)
        if addr[2] == socket.PACKET_OUTGOING:
            continue
        count[s] += 1
        if held[s] is not None:
            peer[s].send(data)
            peer[s].send(held[s])
            held[s] = None
            swapped += 1
            if swapped % 100 == 0:
                sys.stderr.write("swapped %d\n" % swapped)
                sys.stderr.flush()
        elif count[s] % every == 0:
            held[s] = data
        else:
            peer[s].send(data)
"""


def reorder_host(ternd_factory, netns_factory, tmpdir, every, *lines):
    """ternd (port pa) -- bridge namespace (reorders) -- client host."""
    net = subnet()
    br = netns_factory("trb")
    c = netns_factory("trc")
    no_ipv6(br)
    no_ipv6(c)
    outer, b0 = uniq("tv"), uniq("tb")
    b1, ci = uniq("tb"), uniq("tc")
    sh("ip link add %s type veth peer name %s netns %s" % (outer, b0, br.name))
    sh("ip link add %s netns %s type veth peer name %s netns %s" % (b1, br.name, ci, c.name))
    br.links.append(outer)
    for ns, dev in ((br, b0), (br, b1), (c, ci)):
        ns.run("ethtool -K %s tx off tso off gso off gro off" % dev, check=False)
        ns.run("ip link set %s up" % dev)
    sh("ethtool -K %s tx off tso off gso off gro off" % outer, check=False)
    sh("sysctl -qw net.ipv6.conf.%s.disable_ipv6=1" % outer, check=False)
    sh("ip link set %s up" % outer)
    c.run("ip addr add %s.2/24 dev %s" % (net, ci))
    log = open(os.path.join(tmpdir, "bridge.log"), "w")
    bridge = br.popen("/usr/bin/python3 -c '%s' %s %s %d" % (BRIDGE.replace("'", "'\\''"), b0, b1,
                                                            every),
                      stderr=log, start_new_session=True)
    t = ternd_factory(config("port add pa net_af_packet0,iface=%s" % outer,
                             "addr add %s.1/24 dev pa" % net, *lines))
    links_up(t, "pa")
    return t, c, net, bridge, log.name


def test_established_reordered_both_ways(ternd_factory, netns_factory, tmpdir_tern):
    """5 MB echoed through a hop that swaps every 7th frame with the next,
    both ways: byte-exact, ternd held data out of order (OfoQueued), and
    its duplicate-ACK and retransmission machinery ran (no connection
    reset)."""
    t, c, net, bridge, blog = reorder_host(ternd_factory, netns_factory, tmpdir_tern, 7,
                                           "service tcp-echo")
    try:
        base = t.mbufs_in_use()
        data = os.urandom(5 << 20)
        src = os.path.join(tmpdir_tern, "in.bin")
        with open(src, "wb") as f:
            f.write(data)
        before = t.ctl("tcp", "stats", json_out=True)
        r = c.run("sh -c 'socat -b65536 -t 10 - TCP:%s.1:7 < %s | sha256sum'" % (net, src),
                  timeout=120)
        assert r.stdout.split()[0] == hashlib.sha256(data).hexdigest()
        after = t.ctl("tcp", "stats", json_out=True)
        d = {k: after[k] - before.get(k, 0) for k in after if isinstance(after[k], int)}
        assert d["OfoQueued"] > 0, d
        assert d["EstabResets"] == 0, d
        with open(blog) as f:
            assert "swapped" in f.read()  # the hop did reorder
        wait_until(lambda: t.ctl("tcp", "stats", json_out=True)["Connections"] == 1,
                   timeout=15, what="connection closed")
        t.wait_mbufs(base)
    finally:
        os.killpg(bridge.pid, 9)
        bridge.wait()
