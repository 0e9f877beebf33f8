# SPDX-License-Identifier: BSD-3-Clause
"""TCP keepalive (RFC 1122 4.2.3.6) against a Linux peer, with short timers:
probes on the wire, answered while the peer lives; reset when it vanishes."""

import os
import subprocess
import time

from conftest import wait_until
from peers import capture, one_host

KEEPALIVE = ("service tcp-echo", "tcp set keepalive 1", "tcp set keepalive-time-ms 1000",
             "tcp set keepalive-intvl-ms 1000", "tcp set keepalive-probes 3")


def echo_conns(t):
    return [c for c in t.ctl("conn", "show", "established", json_out=True)["connections"]
            if c["local"].endswith(":7")]


def test_established_keepalive_probes_then_reset(ternd_factory, netns_factory, tmpdir_tern):
    t, a = one_host(ternd_factory, netns_factory, *KEEPALIVE)
    base = t.mbufs_in_use()
    # An idle client: socat holds the connection open and sends nothing.
    cl = a.ns.popen("sh -c 'sleep 30 | socat - TCP:%s:7'" % a.gw, start_new_session=True,
                    stdout=subprocess.DEVNULL)
    try:
        wait_until(lambda: len(echo_conns(t)) == 1, what="connection up")
        c = echo_conns(t)[0]
        assert c["timer"].startswith("keepalive"), c

        # The peer lives: probes go out (SEG.SEQ = SND.NXT-1, no data) and
        # Linux answers each, so the connection stays.
        pcap = "%s/ka.pcap" % tmpdir_tern
        p = capture(a.ns, a.inner, "tcp port 7", pcap, 3)
        p.wait()
        from scapy.all import TCP, rdpcap
        probes = [q for q in rdpcap(pcap) if TCP in q and q[TCP].sport == 7 and
                  len(q[TCP].payload) == 0 and q[TCP].flags == "A"]
        answers = [q for q in rdpcap(pcap) if TCP in q and q[TCP].dport == 7]
        assert len(probes) >= 2, "no keepalive probes seen"
        # A probe's sequence is one below what the peer acknowledges next.
        assert all(pr[TCP].seq + 1 == answers[0][TCP].ack for pr in probes)
        assert len(answers) >= len(probes) - 1
        st = t.ctl("tcp", "stats", json_out=True)
        assert st["KeepaliveProbes"] >= 2 and st["KeepaliveTimeouts"] == 0
        assert len(echo_conns(t)) == 1

        # The peer vanishes (drops everything from ternd): after 3 probes
        # unanswered, ternd resets the connection.
        a.ns.run("iptables -A INPUT -p tcp --sport 7 -j DROP")
        wait_until(lambda: t.ctl("tcp", "stats", json_out=True)["KeepaliveTimeouts"] == 1,
                   timeout=10, what="keepalive timeout")
        assert echo_conns(t) == []
        assert t.ctl("tcp", "stats", json_out=True)["OutRsts"] >= 1
        t.wait_mbufs(base)
    finally:
        cl.kill()
        a.ns.run("iptables -F", check=False)


def test_established_keepalive_off_by_default(ternd_factory, netns_factory):
    """Without `tcp set keepalive 1` no probe is ever sent (RFC 1122: off by
    default), however short the idle time."""
    t, a = one_host(ternd_factory, netns_factory, "service tcp-echo",
                    "tcp set keepalive-time-ms 1000")
    base = t.mbufs_in_use()
    cl = a.ns.popen("sh -c 'sleep 10 | socat - TCP:%s:7'" % a.gw, start_new_session=True,
                    stdout=subprocess.DEVNULL)
    try:
        wait_until(lambda: len(echo_conns(t)) == 1, what="connection up")
        time.sleep(2.5)
        assert t.ctl("tcp", "stats", json_out=True)["KeepaliveProbes"] == 0
        assert "timer" not in echo_conns(t)[0] or not echo_conns(t)[0]["timer"].startswith("keep")
    finally:
        os.killpg(cl.pid, 9)
        cl.wait()
    t.wait_mbufs(base)
