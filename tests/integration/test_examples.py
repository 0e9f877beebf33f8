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


def test_upper_bound_to_one_address(ternd_factory, netns_factory, monkeypatch):
    """Bound to one of ternd's two addresses (TERN_UPPER_ADDR), the
    application hears only that one, as a Linux socket would: UDP and TCP
    to the other address are refused (port unreachable, RST)."""
    a = host(netns_factory, "tea")
    b = host(netns_factory, "teb")
    monkeypatch.setenv("TERN_UPPER_ADDR", a.gw)
    t = ternd_factory(config("port add pa net_af_packet0,iface=%s" % a.outer,
                             "port add pb net_af_packet1,iface=%s" % b.outer,
                             "addr add %s/24 dev pa" % a.gw,
                             "addr add %s/24 dev pb" % b.gw), binary=UPPER)
    links_up(t, "pa", "pb")
    base = t.mbufs_in_use()
    # From host B (routed through ternd) to A's side address: answered.
    r = b.ns.run("sh -c 'printf \"to a\" | socat -t 1 - UDP:%s:7777'" % a.gw)
    assert r.stdout == "TO A"
    r = b.ns.run("sh -c 'printf \"tcp a\\n\" | socat -t 2 - TCP:%s:7777'" % a.gw)
    assert r.stdout == "TCP A\n"
    # To ternd's other address: nobody listens there.
    r = b.ns.run("sh -c 'printf x | socat -t 1 - UDP:%s:7777'" % b.gw, check=False)
    assert r.returncode != 0 and "refused" in r.stderr.lower(), (r.stdout, r.stderr)
    r = b.ns.run("socat -t 2 - TCP:%s:7777 </dev/null" % b.gw, check=False)
    assert r.returncode != 0 and "refused" in r.stderr.lower(), (r.stdout, r.stderr)
    conns = t.ctl("conn", "show", "listen", json_out=True)["connections"]
    assert [c["local"] for c in conns] == ["%s:7777" % a.gw]
    t.wait_mbufs(base)
