# SPDX-License-Identifier: BSD-3-Clause
"""The example application on the socket API (app/examples/upper.c)."""

import os

from conftest import TERND, config
from peers import host, links_up

UPPER = os.path.join(os.path.dirname(os.path.dirname(TERND)), "examples", "tern-upper")


def test_upper_answers_lines_in_upper_case(ternd_factory, netns_factory):
    """A Linux client talks to an application linked against tern: each
    line comes back upper-cased, on the connection the client opened."""
    a = host(netns_factory, "tex", default_route=False)
    t = ternd_factory(config("port add pa net_af_packet0,iface=%s" % a.outer,
                             "addr add %s/24 dev pa" % a.gw), binary=UPPER)
    links_up(t, "pa")
    base = t.mbufs_in_use()
    r = a.ns.run("sh -c 'printf \"hello tern\\nsecond line\\n\" | socat -t 2 - TCP:%s:7777'" % a.gw)
    assert r.stdout == "HELLO TERN\nSECOND LINE\n"
    conns = t.ctl("conn", "show", "listen", json_out=True)["connections"]
    assert [c["local"] for c in conns] == ["0.0.0.0:7777"]
    t.wait_mbufs(base)


def test_upper_udp_datagrams_and_port_unreachable(ternd_factory, netns_factory):
    """The same API for UDP: a datagram socket answers each datagram; a port
    with no socket still gets ICMP port unreachable."""
    a = host(netns_factory, "teu", default_route=False)
    t = ternd_factory(config("port add pa net_af_packet0,iface=%s" % a.outer,
                             "addr add %s/24 dev pa" % a.gw), binary=UPPER)
    links_up(t, "pa")
    base = t.mbufs_in_use()
    r = a.ns.run("sh -c 'printf \"udp hello\" | socat -t 1 - UDP:%s:7777'" % a.gw)
    assert r.stdout == "UDP HELLO"
    r = a.ns.run("sh -c 'printf x | socat -t 1 - UDP:%s:7778'" % a.gw, check=False)
    assert r.returncode != 0 and "refused" in r.stderr.lower(), (r.stdout, r.stderr)
    t.wait_mbufs(base)
