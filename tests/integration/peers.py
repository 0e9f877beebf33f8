# SPDX-License-Identifier: BSD-3-Clause
"""Linux hosts around ternd, shared by the IPv4, ARP, ICMP, UDP and
fragmentation tests: namespaces with a veth to one of ternd's ports."""

import itertools
import os
import subprocess
import time

from conftest import config, sh, wait_until

_nets = itertools.count(os.getpid() % 100 * 2 + 20)


def mac_of(ns, ifname):
    return ns.run("cat /sys/class/net/%s/address" % ifname).stdout.strip()


def no_ipv6(ns, *root_ifaces):
    """No IPv6 in ns (and on the given root-side links): the kernel then sends
    nothing unprompted (no MLD, router or neighbour solicitations)."""
    ns.run("sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1")
    for i in root_ifaces:
        sh("sysctl -qw net.ipv6.conf.%s.disable_ipv6=1" % i, check=False)


def ns_scapy(ns, script, timeout=60):
    """Run a scapy script in ns; return what it prints."""
    code = "from scapy.all import *\nconf.verb = 0\n" + script
    return ns.run("/usr/bin/python3 -c '%s'" % code.replace("'", "'\\''"), timeout=timeout).stdout


def ping(ns, dst, count=3, size=None, extra="", wait=1):
    """ping from ns; returns the CompletedProcess (never raises)."""
    opts = "-c %d -i 0.2 -W %d -n" % (count, wait)
    if size is not None:
        opts += " -s %d" % size
    return ns.run("ping %s %s %s" % (opts, extra, dst), check=False)


def deltas(before, after):
    return {k: after[k] - before.get(k, 0) for k in after if after[k] != before.get(k, 0)}


def links_up(t, *ports):
    """Wait for ternd's first link poll to see the ports up: it announces its
    addresses then (a gratuitous ARP per address, counted in arp show)."""
    wait_until(lambda: all("port %s: link up" % p in t.logtext() for p in ports),
               what="links up")


def capture(ns, iface, bpf, path, seconds):
    """tcpdump in ns for `seconds` into path; returns the Popen once it
    listens.  wait() on it, then rdpcap(path)."""
    p = ns.popen("timeout %d tcpdump -i %s -n -U -w %s '%s'" % (seconds, iface, path, bpf),
                 stderr=subprocess.PIPE, text=True, start_new_session=True)
    line = p.stderr.readline()
    assert "listening on" in line, line
    return p


def settle(t, port, rx0, n, timeout=5.0):
    """Wait until port received n more frames, and nothing more is coming;
    return how many it received."""
    deadline = time.time() + timeout
    while t.links()[port]["rx_packets"] < rx0 + n and time.time() < deadline:
        time.sleep(0.1)
    time.sleep(0.3)
    return t.links()[port]["rx_packets"] - rx0


class Host:
    """A Linux host: a namespace with one veth to ternd."""

    def __init__(self, ns, net, outer, inner):
        self.ns, self.net, self.outer, self.inner = ns, net, outer, inner
        self.ip = net + ".2"
        self.gw = net + ".1"  # ternd's address on this link
        self.mac = mac_of(ns, inner)


def host(netns_factory, prefix, default_route=True):
    net = subnet()
    ns = netns_factory(prefix)
    no_ipv6(ns)
    outer, inner = ns.veth(net + ".2/24")
    no_ipv6(ns, outer)
    h = Host(ns, net, outer, inner)
    if default_route:
        ns.run("ip route add default via %s" % h.gw)
    return h


def one_host(ternd_factory, netns_factory, *lines, prefix="tph"):
    """ternd with port pa (net_af_packet) on one host, address .1/24 there."""
    a = host(netns_factory, prefix, default_route=False)
    t = ternd_factory(config("port add pa net_af_packet0,iface=%s" % a.outer,
                             "addr add %s/24 dev pa" % a.gw, *lines))
    links_up(t, "pa")
    return t, a


def two_hosts(ternd_factory, netns_factory, *lines, mtu_b=None, prefix="tp"):
    """ternd routing between host A (port pa) and host B (port pb); each
    host's default route goes through ternd."""
    a = host(netns_factory, prefix + "a")
    b = host(netns_factory, prefix + "b")
    t = ternd_factory(config("port add pa net_af_packet0,iface=%s" % a.outer,
                             "port add pb net_af_packet1,iface=%s%s" % (
                                 b.outer, " mtu %d" % mtu_b if mtu_b else ""),
                             "addr add %s/24 dev pa" % a.gw,
                             "addr add %s/24 dev pb" % b.gw, *lines))
    links_up(t, "pa", "pb")
    return t, a, b


def subnet():
    """A /24 prefix (10.96.X) no other test of this run uses."""
    return "10.96.%d" % (next(_nets) % 256)


# A raw AF_PACKET socket: the kernel sends what it is given, as it is.
RAW = """
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((%r, 0))
def send(p, n=1):
    for _ in range(n):
        s.send(bytes(p))
def patch(p, off, val):
    b = bytearray(bytes(p))
    b[off:off + len(val)] = val
    return bytes(b)
"""
