# SPDX-License-Identifier: BSD-3-Clause
"""IPv4, ARP and ICMP through ternd, against Linux hosts in network
namespaces (veth + net_af_packet): ping and arping to ternd, neighbour
states, forwarding between two hosts (ping, curl, traceroute), every ICMP
error ternd sends, the RFC 1812 / RFC 826 input checks one drop reason at a
time, and the addr/route/neigh commands."""

import hashlib
import os
import re
import signal
import subprocess
import time

from scapy.all import ARP, ICMP, IP, IPerror, UDP, Ether, Raw, rdpcap, wrpcap

from conftest import config, uniq, wait_until
from peers import (RAW, capture, deltas, links_up, no_ipv6, ns_scapy, one_host, ping, settle,
                   subnet, two_hosts)



def arp_counters(t):
    return t.ctl("arp", "show", json_out=True)["counters"]


def neighbours(t, *dev):
    return t.ctl("neigh", "show", *dev, json_out=True)["neighbours"]


def neigh_of(t, ip):
    return next((n for n in neighbours(t) if n["address"] == ip), None)


def routes(t):
    return t.ctl("route", "show", json_out=True)["routes"]


# --- ternd as a host ---------------------------------------------------------


def test_ping_ternd(ternd_factory, netns_factory):
    t, a = one_host(ternd_factory, netns_factory)
    base = t.mbufs_in_use()
    for size in (56, 1472):
        r = ping(a.ns, a.gw, size=size)
        assert r.returncode == 0 and " 3 received" in r.stdout, r.stdout + r.stderr
        assert "%d bytes from %s" % (size + 8, a.gw) in r.stdout, r.stdout
    # The kernel resolved ternd's address to the port's MAC...
    ternd_mac = t.links()["pa"]["mac"].lower()
    neigh = a.ns.run("ip neigh show %s" % a.gw).stdout
    assert "lladdr " + ternd_mac in neigh.lower(), (neigh, ternd_mac)
    # ...and ternd learned the host from its ARP request.
    n = neigh_of(t, a.ip)
    assert n is not None, neighbours(t)
    assert n["lladdr"].lower() == a.mac and n["dev"] == "pa", n
    assert n["state"] in ("REACHABLE", "STALE", "DELAY", "PROBE"), n
    assert t.node("icmp_input")["packets"] >= 6
    t.wait_mbufs(base)
    assert t.stop() == 0


def test_arping_ternd(ternd_factory, netns_factory):
    t, a = one_host(ternd_factory, netns_factory)
    base = t.mbufs_in_use()
    ternd_mac = t.links()["pa"]["mac"].lower()
    # First an address ternd does not own: no answer, dropped as not for us.
    # (Once ternd has the host in its table, the host's ARP is punted to be
    # merged instead: RFC 826.)
    nfu = t.drops()["arp_not_for_us"]
    r = a.ns.run("arping -c 2 -w 2 -I %s %s.77" % (a.inner, a.net), check=False)
    assert r.returncode != 0 and "Received 0 response" in r.stdout, r.stdout + r.stderr
    assert t.drops()["arp_not_for_us"] >= nfu + 2
    assert neigh_of(t, a.ip) is None

    c0 = arp_counters(t)
    r = a.ns.run("arping -c 3 -w 5 -I %s %s" % (a.inner, a.gw), check=False)
    assert r.returncode == 0 and "Received 3 response" in r.stdout, r.stdout + r.stderr
    replies = re.findall(r"reply from (\S+) \[([0-9A-Fa-f:]+)\]", r.stdout)
    assert len(replies) == 3, r.stdout
    assert all(ip == a.gw and mac.lower() == ternd_mac for ip, mac in replies), r.stdout
    c1 = arp_counters(t)
    assert c1["replies_sent"] - c0["replies_sent"] == 3, (c0, c1)
    assert c1["received"] - c0["received"] >= 3
    n = neigh_of(t, a.ip)
    assert n is not None and n["lladdr"].lower() == a.mac, neighbours(t)
    t.wait_mbufs(base)
    assert t.stop() == 0


def test_neigh_reachable_then_stale(ternd_factory, netns_factory):
    # A short delay too: ternd confirms a STALE entry it used with a unicast
    # probe after delay-ms, which the host's reply turns REACHABLE.
    t, a = one_host(ternd_factory, netns_factory, "arp set reachable-ms 1000",
                    "arp set delay-ms 200", "arp set retrans-ms 200")
    assert t.ctl("arp", "show", json_out=True)["settings"]["reachable-ms"] == 1000
    base = t.mbufs_in_use()
    # The host's ARP request leaves it STALE in ternd's table; the echo
    # replies use it.  Workers stamp "used" at most once a second, and a use
    # in the millisecond the entry was made does not count (see
    # test_neigh_stale_used_at_once_is_confirmed), so the pings span > 1 s.
    r = ping(a.ns, a.gw, count=3, extra="-i 0.6")
    assert r.returncode == 0, r.stdout + r.stderr
    seen = []

    def state(want):
        n = neigh_of(t, a.ip)
        if not seen or seen[-1] != (n and n["state"]):
            seen.append(n and n["state"])
        return n is not None and n["state"] == want
    try:
        wait_until(lambda: state("REACHABLE"), timeout=5, interval=0.05, what="REACHABLE")
        # Unused, it goes STALE after 0.5x..1.5x reachable-ms.
        t0 = time.time()
        wait_until(lambda: state("STALE"), timeout=5, interval=0.05, what="STALE")
    finally:
        print("states seen:", seen)
    assert time.time() - t0 < 2.0, seen
    # It got there through DELAY and PROBE: one unicast request, answered.
    c = arp_counters(t)
    assert c["resolved"] >= 1 and c["requests_sent"] >= 1, c
    t.wait_mbufs(base)
    assert t.stop() == 0


def test_neigh_stale_used_at_once_is_confirmed(ternd_factory, netns_factory):
    """A STALE entry that is used goes to DELAY, then PROBE, then REACHABLE
    once the host answers the unicast probe (Linux's NUD machine), even when
    all the uses come right after the entry was learned."""
    t, a = one_host(ternd_factory, netns_factory, "arp set reachable-ms 5000",
                    "arp set delay-ms 200", "arp set retrans-ms 200")
    # The host's ARP request makes the entry STALE; the two echo replies,
    # 200 ms apart, use it.
    r = ping(a.ns, a.gw, count=2)
    assert r.returncode == 0, r.stdout + r.stderr
    try:
        wait_until(lambda: (neigh_of(t, a.ip) or {}).get("state") == "REACHABLE", timeout=3,
                   what="REACHABLE")
    finally:
        print(neigh_of(t, a.ip))
    assert t.stop() == 0


# --- forwarding between two hosts ------------------------------------------


def test_routed_ping_both_ways(ternd_factory, netns_factory):
    t, a, b = two_hosts(ternd_factory, netns_factory)
    base = t.mbufs_in_use()
    for src, dst in ((a, b), (b, a)):
        r = ping(src.ns, dst.ip)
        assert r.returncode == 0 and " 3 received" in r.stdout, r.stdout + r.stderr
        # One hop: Linux sends with TTL 64, ternd takes one off.
        assert r.stdout.count("ttl=63") == 3, r.stdout
    # Each host resolved its gateway to ternd's port, and ternd both hosts.
    links = t.links()
    for h, port in ((a, "pa"), (b, "pb")):
        assert links[port]["mac"].lower() in h.ns.run("ip neigh show %s" % h.gw).stdout.lower()
        n = neigh_of(t, h.ip)
        assert n is not None and n["lladdr"].lower() == h.mac and n["dev"] == port, n
    assert t.node("ip_forward")["packets"] >= 12
    t.wait_mbufs(base)
    assert t.stop() == 0


def test_routed_curl_10mb(ternd_factory, netns_factory, tmpdir_tern):
    t, a, b = two_hosts(ternd_factory, netns_factory)
    base = t.mbufs_in_use()
    www = os.path.join(tmpdir_tern, "www")
    os.mkdir(www)
    data = os.urandom(10 << 20)
    with open(os.path.join(www, "blob.bin"), "wb") as f:
        f.write(data)
    got = os.path.join(tmpdir_tern, "got.bin")
    srv = b.ns.popen("/usr/bin/python3 -m http.server 8080 --bind %s --directory %s" % (b.ip, www),
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                     start_new_session=True)
    try:
        wait_until(lambda: ":8080 " in b.ns.run("ss -ltnH").stdout, what="http.server listening")
        r = a.ns.run("curl -sS --max-time 60 -o %s http://%s:8080/blob.bin" % (got, b.ip),
                     check=False)
        assert r.returncode == 0, r.stderr
    finally:
        os.killpg(srv.pid, signal.SIGTERM)
        srv.wait(10)
    with open(got, "rb") as f:
        assert hashlib.sha256(f.read()).hexdigest() == hashlib.sha256(data).hexdigest()
    # Over 7000 full-sized segments went A <- B through ternd.
    assert t.links()["pa"]["tx_packets"] > 7000
    t.wait_mbufs(base)
    assert t.stop() == 0


def test_traceroute(ternd_factory, netns_factory):
    t, a, b = two_hosts(ternd_factory, netns_factory)
    base = t.mbufs_in_use()
    # traceroute sends its probes at once: had ternd to resolve B first, the
    # four probes with TTL 2..5 would wait on a hold queue of three and the
    # TTL 2 one would be dropped.  So B is resolved before.
    assert ping(a.ns, b.ip, count=1).returncode == 0
    ttl0 = t.drops()["ip_ttl_exceeded"]
    r = a.ns.run("traceroute -n -q 1 -w 1 -m 5 %s" % b.ip, check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    hops = re.findall(r"^\s*(\d+)\s+(\S+)", r.stdout, re.M)
    assert hops == [("1", a.gw), ("2", b.ip)], r.stdout
    assert t.drops()["ip_ttl_exceeded"] >= ttl0 + 1
    t.wait_mbufs(base)
    assert t.stop() == 0


def test_net_unreachable(ternd_factory, netns_factory):
    t, a, b = two_hosts(ternd_factory, netns_factory)
    base = t.mbufs_in_use()
    assert not any(r["prefix"] == "0.0.0.0/0" for r in routes(t))
    nowhere = subnet() + ".1"
    d0 = t.drops()
    r = ping(a.ns, nowhere, count=2)
    assert r.returncode != 0, r.stdout
    assert r.stdout.count("From %s icmp_seq=" % a.gw) == 2, r.stdout
    assert r.stdout.count("Destination Net Unreachable") == 2, r.stdout
    d = deltas(d0, t.drops())
    assert d == {"ip_no_route": 2}, d
    t.wait_mbufs(base)
    assert t.stop() == 0


def test_host_unreachable(ternd_factory, netns_factory, tmpdir_tern):
    t, a, b = two_hosts(ternd_factory, netns_factory, "arp set retrans-ms 200")
    settings = t.ctl("arp", "show", json_out=True)["settings"]
    assert settings["retrans-ms"] == 200 and settings["mcast-probes"] == 3
    assert settings["hold"] == 3
    base = t.mbufs_in_use()
    ghost = b.net + ".99"
    pcap = os.path.join(tmpdir_tern, "probes.pcap")
    cap = capture(b.ns, b.inner, "arp", pcap, 3)
    c0, d0 = arp_counters(t), t.drops()
    r = ping(a.ns, ghost, count=1, extra="-W 3")
    assert r.returncode != 0, r.stdout
    assert "From %s icmp_seq=1 Destination Host Unreachable" % a.gw in r.stdout, r.stdout
    c1 = arp_counters(t)
    d = deltas(c0, c1)
    assert d.get("failed") == 1 and d.get("unreachable_sent") == 1 and d.get("held") == 1, d
    assert d.get("requests_sent") == 3, d
    assert deltas(d0, t.drops()) == {"neigh_failed": 1}
    n = neigh_of(t, ghost)
    assert n is not None and n["state"] == "FAILED" and n["dev"] == "pb", n
    assert n["lladdr"] == "none" and n["held"] == 0, n
    cap.wait(10)
    who = [p[ARP] for p in rdpcap(pcap) if ARP in p and p[ARP].pdst == ghost]
    # mcast-probes broadcast requests, retrans-ms apart, from ternd's B side.
    assert len(who) == 3, [p.summary() for p in who]
    assert all(p.op == 1 and p.psrc == b.gw and p.hwsrc == t.links()["pb"]["mac"].lower()
               for p in who)

    # Ten packets at once while another address resolves: three wait, and
    # the oldest goes each time a fourth arrives.  Each held packet ends as
    # one host unreachable or one hold drop.
    ghost2 = b.net + ".98"
    c0 = arp_counters(t)
    r = a.ns.run("ping -c 10 -i 0.05 -W 2 -n %s" % ghost2, check=False)
    assert r.returncode != 0
    wait_until(lambda: neigh_of(t, ghost2) and neigh_of(t, ghost2)["state"] == "FAILED",
               what="second address FAILED")
    d = deltas(c0, arp_counters(t))
    assert d.get("held") == 10, d
    assert d.get("hold_dropped", 0) >= 1, d
    assert d.get("hold_dropped", 0) + d.get("unreachable_sent", 0) == 10, d
    assert r.stdout.count("Destination Host Unreachable") == d["unreachable_sent"], r.stdout
    assert deltas(d0, t.drops()) == {"neigh_failed": 1 + d["unreachable_sent"],
                                     "neigh_hold_full": d["hold_dropped"]}
    t.wait_mbufs(base)
    assert t.stop() == 0


def test_resolve_flood_leaves_room_for_arp(ternd_factory, tmpdir_tern):
    """A flood towards an address that never answers (a scan of a connected
    subnet) is punted to the control thread to wait for ARP.  It may fill
    three quarters of the worker's punt ring and no more (punt_resolve_full),
    so the ARP requests mixed into the flood still reach the control thread
    and are answered.  Were the whole ring theirs, the requests would get
    one slot in 256 of it, their share of the flood.  The control thread drains the
    ring without sleeping while packets wait (it used to take 64 a
    millisecond)."""
    pcap_mac = "02:70:63:61:70:00"  # net_pcap's MAC for the first pcap port
    flood = [Ether(dst=pcap_mac, src="02:00:00:00:00:05") /
             IP(src="192.0.2.5", dst="198.51.100.77") / UDP(sport=1000 + i, dport=9) /
             Raw(b"x" * 18) for i in range(255)]
    who_has = (Ether(dst="ff:ff:ff:ff:ff:ff", src="02:00:00:00:00:05") /
               ARP(op=1, hwsrc="02:00:00:00:00:05", psrc="192.0.2.5", pdst="192.0.2.1"))
    src = os.path.join(tmpdir_tern, "flood.pcap")
    wrpcap(src, flood + [who_has])  # one request in 256 frames, replayed forever
    t = ternd_factory(config("port add p0 net_pcap0,rx_pcap=%s,infinite_rx=1" % src,
                             "port add n0 net_null0,no-rx=1",
                             "addr add 192.0.2.1/24 dev p0",
                             "addr add 198.51.100.1/24 dev n0"))
    assert t.links()["p0"]["mac"] == pcap_mac
    wait_until(lambda: t.drops().get("punt_resolve_full", 0) > 10000,
               what="the flood held back at three quarters of the punt ring")
    c0, d0, rx0 = arp_counters(t), t.drops(), t.links()["p0"]["rx_packets"]
    time.sleep(2)
    c1, d1, rx1 = arp_counters(t), t.drops(), t.links()["p0"]["rx_packets"]
    offered = (rx1 - rx0) // 256
    got = c1["received"] - c0["received"]
    refused = d1.get("punt_full", 0) - d0.get("punt_full", 0)
    held = c1["held"] - c0["held"]  # the flood's packets the control thread took
    assert offered > 1000, "flood too slow to mean anything: %d requests" % offered
    assert c1["replies_sent"] - c0["replies_sent"] == got, (c0, c1)
    # By share of the ring, about 1 in 20 would get through (the control
    # thread takes ~2M packets/s, the flood is ~30M); most do.  Not all: on
    # a loaded machine the control thread may lose its core for longer than
    # the quarter ring lasts.
    # Sleeping 1 ms per 64 punts, it took at most 128k in these 2 s.
    assert held + got > 400000, "control thread slow: %d punts in 2 s" % (held + got)
    assert got >= 0.5 * offered, (
        "ARP requests crowded out: %d answered of %d, %d refused; %d flood packets "
        "taken" % (got, offered, refused, held))
    n = neigh_of(t, "192.0.2.5")
    assert n is not None and n["lladdr"] == "02:00:00:00:00:05", n
    # Bounded: the RX ring, the punt ring and a few held per neighbour; no
    # growth while the flood goes on.
    use0 = t.links()["p0"]["mbufs_in_use"]
    time.sleep(0.5)
    use1 = t.links()["p0"]["mbufs_in_use"]
    assert use1 < 4096 and use0 < 4096, (use0, use1)
    assert t.stop() == 0


def test_neigh_del_discards_held(ternd_factory, netns_factory):
    """Packets waiting on an entry that is deleted are dropped and counted
    (neigh_deleted), not sent and not returned as unreachable."""
    t, a, b = two_hosts(ternd_factory, netns_factory, "arp set retrans-ms 5000")
    base = t.mbufs_in_use()
    ghost = b.net + ".97"
    c0, d0 = arp_counters(t), t.drops()
    a.ns.run("ping -c 2 -i 0.2 -W 1 -n %s" % ghost, check=False)
    wait_until(lambda: (neigh_of(t, ghost) or {}).get("held") == 2, what="two packets held")
    assert neigh_of(t, ghost)["state"] == "INCOMPLETE"
    t.ctl("neigh", "del", ghost, "dev", "pb")
    assert neigh_of(t, ghost) is None
    assert deltas(d0, t.drops()) == {"neigh_deleted": 2}
    d = deltas(c0, arp_counters(t))
    assert d.get("held") == 2 and "unreachable_sent" not in d, d
    t.wait_mbufs(base)
    assert t.stop() == 0


def test_icmp_redirect(ternd_factory, netns_factory, tmpdir_tern):
    """RFC 1812 5.2.7.2: host A sends to a network whose router R sits on
    A's own subnet.  ternd forwards the packet to R and tells A to use R (a
    Redirect for Host), and A's kernel takes the advice.  Switched off, no
    redirect."""
    t, a = one_host(ternd_factory, netns_factory, prefix="trd")
    r_ip, far = a.net + ".3", subnet() + ".7"
    # R is only a MAC: the forwarded packet goes out, nobody answers.
    t.ctl("neigh", "add", r_ip, "lladdr", "02:00:00:00:00:33", "dev", "pa")
    t.ctl("route", "add", far.rsplit(".", 1)[0] + ".0/24", "via", r_ip)
    a.ns.run("ip route add default via %s" % a.gw)
    a.ns.run("sysctl -qw net.ipv4.conf.all.accept_redirects=1 "
             "net.ipv4.conf.%s.accept_redirects=1 net.ipv4.conf.all.secure_redirects=0" % a.inner)
    # Linux heeds a redirect only to a gateway it has a valid neighbour
    # entry for (else it just sends an ARP request).
    a.ns.run("ip neigh replace %s lladdr 02:00:00:00:00:33 dev %s nud permanent" % (r_ip, a.inner))
    assert ping(a.ns, a.gw, count=1).returncode == 0  # ARP settled
    base = t.mbufs_in_use()
    fwd0 = t.node("ip_forward")["packets"]

    def redirects(n):
        pcap = os.path.join(tmpdir_tern, "redirect%d.pcap" % n)
        cap = capture(a.ns, a.inner, "icmp[0] == 5", pcap, 3)
        ping(a.ns, far, count=1)
        cap.wait(10)
        return [p for p in rdpcap(pcap) if ICMP in p and p[ICMP].type == 5]

    got = redirects(1)
    assert len(got) == 1, [p.summary() for p in got]
    p = got[0]
    assert p[IP].src == a.gw and p[IP].dst == a.ip and p[ICMP].code == 1, p.show(dump=True)
    assert p[ICMP].gw == r_ip, p.show(dump=True)
    # The quote is the header as it arrived (TTL not yet decremented).
    assert p[IPerror].dst == far and p[IPerror].src == a.ip and p[IPerror].ttl == 64
    # The packet went on to R all the same.
    assert t.node("ip_forward")["packets"] == fwd0 + 1
    # A's kernel now sends to R directly.
    route = a.ns.run("ip route get %s" % far).stdout
    assert "via %s" % r_ip in route, route

    t.ctl("icmp", "redirects", "off")
    assert "icmp redirects off" in t.ctl("show", "running-config")
    a.ns.run("ip route flush cache")
    assert "via %s" % a.gw in a.ns.run("ip route get %s" % far).stdout
    assert redirects(2) == []
    t.wait_mbufs(base)
    assert t.stop() == 0


def test_frag_needed(ternd_factory, netns_factory):
    t, a, b = two_hosts(ternd_factory, netns_factory, mtu_b=1280)
    assert t.links()["pb"]["mtu"] == 1280
    base = t.mbufs_in_use()
    # 1280 bytes fit...
    r = ping(a.ns, b.ip, count=1, size=1252, extra="-M do")
    assert r.returncode == 0, r.stdout + r.stderr
    # ...1428 do not, and DF is set: ternd says which MTU does.
    d0 = t.drops()
    r = ping(a.ns, b.ip, count=1, size=1400, extra="-M do")
    assert r.returncode != 0
    assert "From %s icmp_seq=1 Frag needed and DF set (mtu = 1280)" % a.gw in r.stdout, (
        r.stdout + r.stderr)
    assert deltas(d0, t.drops()) == {"ip_mtu": 1}
    # The kernel learned the path MTU from it.
    route = a.ns.run("ip route get %s" % b.ip).stdout
    assert "mtu 1280" in route, route
    t.wait_mbufs(base)
    assert t.stop() == 0


def test_ttl_exceeded(ternd_factory, netns_factory):
    t, a, b = two_hosts(ternd_factory, netns_factory)
    base = t.mbufs_in_use()
    d0 = t.drops()
    r = ping(a.ns, b.ip, count=2, extra="-t 1")
    assert r.returncode != 0
    assert r.stdout.count("From %s icmp_seq=" % a.gw) == 2, r.stdout
    assert r.stdout.count("Time to live exceeded") == 2, r.stdout
    assert deltas(d0, t.drops()) == {"ip_ttl_exceeded": 2}
    # TTL 2 is enough for one hop.
    r = ping(a.ns, b.ip, count=1, extra="-t 2")
    assert r.returncode == 0 and "ttl=63" in r.stdout, r.stdout
    t.wait_mbufs(base)
    assert t.stop() == 0


def test_proto_unreachable(ternd_factory, netns_factory):
    t, a = one_host(ternd_factory, netns_factory)
    base = t.mbufs_in_use()
    d0 = t.drops()
    out = ns_scapy(a.ns, """
q = IP(dst="%s", proto=253, id=4242, ttl=17) / Raw(b"tern-probe-253!!")
r = sr1(q, timeout=3)
if r is None:
    print("none")
else:
    e = r[IPerror]
    print(r.src, r[ICMP].type, r[ICMP].code, e.src, e.dst, e.proto, e.id, e.ttl,
          bytes(e.payload)[:16] == bytes(q.payload), r[ICMP].chksum == ICMP(bytes(r[ICMP])).chksum)
""" % a.gw).split()
    assert out == [a.gw, "3", "2", a.ip, a.gw, "253", "4242", "17", "True", "True"], out
    assert deltas(d0, t.drops()) == {"ip_unknown_proto": 1}
    t.wait_mbufs(base)
    assert t.stop() == 0


# --- malformed input, one drop reason at a time ----------------------------



def test_malformed_ipv4(ternd_factory, netns_factory):
    t, a = one_host(ternd_factory, netns_factory)
    me = t.links()["pa"]["mac"].lower()
    fwd = a.net + ".50"  # forwarded: on pa's connected subnet, not ternd's
    # ternd knows the host first, so that its ICMP errors go straight out;
    # both sides' entries are pinned, so that no ARP probe (a slow run
    # reaches DELAY's 5 s) adds to the frames counted below.
    assert ping(a.ns, a.gw, count=1).returncode == 0
    t.ctl("neigh", "add", a.ip, "lladdr", a.mac, "dev", "pa")
    a.ns.run("ip neigh replace %s lladdr %s dev %s nud permanent" % (a.gw, me, a.inner))
    base = t.mbufs_in_use()
    # A different count per reason, so a packet counted under the wrong
    # reason shows.  No fragments here: net_af_packet's socket asks the
    # kernel to reassemble (PACKET_FANOUT_FLAG_DEFRAG), so a lone fragment
    # never reaches ternd.
    want = {"ip_checksum": 1, "ip_ihl": 2, "ip_version": 3, "ip_total_len": 4, "ip_runt": 5,
            "ip_martian_dst": 6, "ip_options": 7, "ip_martian_src": 8,
            "ip_l2_broadcast": 9, "ip_ttl_exceeded": 10, "icmp_checksum": 11, "icmp_runt": 12, "ip_multicast": 13,
            "icmp_unhandled": 3 + 11}
    d0, rx0 = t.drops(), t.links()["pa"]["rx_packets"]
    out = ns_scapy(a.ns, RAW % a.inner + """
me, you, gw, fwd = %r, %r, %r, %r
E = Ether(dst=me, src=you)
ok = E / IP(src=you_ip, dst=gw) / ICMP(id=7) / Raw(b"x" * 8)
sn = AsyncSniffer(iface=%r, filter="icmp and src host " + gw)
sn.start()
time.sleep(0.3)
good = bytes(ok)
send(patch(good, 14 + 10, bytes([good[24] ^ 0xff, good[25]])))             # ip_checksum
send(E / IP(ihl=4, src=you_ip, dst=gw) / ICMP(), 2)                          # ip_ihl
send(E / IP(version=6, src=you_ip, dst=gw) / ICMP(), 3)                      # ip_version
send(E / IP(len=200, src=you_ip, dst=gw) / ICMP(), 3)                        # ip_total_len
send(E / IP(len=19, src=you_ip, dst=gw) / ICMP())                            #  (below the header)
send(Ether(dst=me, src=you, type=0x800) / Raw(b"\\x45" + b"\\0" * 9), 5)      # ip_runt
send(E / IP(src=you_ip, dst="127.0.0.1") / ICMP(), 6)                        # ip_martian_dst
send(E / IP(src=you_ip, dst=gw, options=[IPOption_Router_Alert()]) / ICMP(), 7)  # ip_options
for src in ("127.0.0.1", "0.1.2.3", "224.1.1.1", "240.0.0.1"):              # ip_martian_src
    send(E / IP(src=src, dst=gw) / ICMP(), 2)
send(Ether(dst="ff:ff:ff:ff:ff:ff", src=you) / IP(src=you_ip, dst=fwd) / ICMP(id=3), 9)  # ip_l2_broadcast
send(E / IP(src=you_ip, dst=fwd, ttl=0) / ICMP(id=1), 5)                     # ip_ttl_exceeded
send(E / IP(src=you_ip, dst=fwd, ttl=1) / ICMP(id=2), 5)
send(patch(good, 14 + 20 + 2, bytes([good[36] ^ 0xff])), 11)                 # icmp_checksum
send(E / IP(src=you_ip, dst=gw, proto=1) / Raw(b"\\x08\\x00"), 12)             # icmp_runt
send(Ether(dst=me, src=you) / IP(src=you_ip, dst="224.0.0.5") / ICMP(), 13)  # ip_multicast
send(E / IP(src=you_ip, dst=gw) / ICMP(type=13), 3)                          # icmp_unhandled
send(E / IP(src=you_ip, dst=gw) / ICMP(type=0), 11)                          #  (echo reply)
time.sleep(1)
got = sn.stop()
print(" ".join("%%d/%%d/%%s" %% (p[ICMP].type, p[ICMP].code, p[IPerror].dst if IPerror in p
                                 else "-") for p in got if ICMP in p))
""".replace("you_ip", repr(a.ip)) % (me, a.mac, a.gw, fwd, a.inner))
    sent = sum(want.values())
    rx = settle(t, "pa", rx0, sent)
    d = deltas(d0, t.drops())
    assert d == want, (d, want, rx, sent)
    assert rx == sent
    # Ten time exceeded, each about a packet to fwd, and no other error.
    errs = out.split()
    assert errs == ["11/0/%s" % fwd] * 10, out
    # Nothing broke: ternd still answers.
    r = ping(a.ns, a.gw, count=2)
    assert r.returncode == 0, r.stdout
    t.wait_mbufs(base)
    assert t.stop() == 0


def test_malformed_arp(ternd_factory, netns_factory):
    t, a = one_host(ternd_factory, netns_factory)
    me = t.links()["pa"]["mac"].lower()
    base = t.mbufs_in_use()
    want = {"arp_hw": 2, "arp_proto": 3, "arp_op": 4, "arp_runt": 5, "arp_bad_sender": 6}
    d0, c0, rx0 = t.drops(), arp_counters(t), t.links()["pa"]["rx_packets"]
    ns_scapy(a.ns, RAW % a.inner + """
me, you, you_ip, gw = %r, %r, %r, %r
E = Ether(dst="ff:ff:ff:ff:ff:ff", src=you)
req = E / ARP(op=1, hwsrc=you, psrc=you_ip, pdst=gw)
A = 14  # the ARP header's offset
send(patch(req, A + 4, b"\\x05"))              # arp_hw: hardware length 5
send(patch(req, A + 0, b"\\x00\\x06"))          #  hardware type 6 (IEEE 802)
send(patch(req, A + 5, b"\\x06"), 2)           # arp_proto: protocol length 6
send(patch(req, A + 2, b"\\x86\\xdd"))          #  protocol type IPv6
send(patch(req, A + 6, b"\\x00\\x07"), 3)       # arp_op: opcode 7
send(patch(req, A + 6, b"\\x00\\x00"))          #  opcode 0
send(bytes(req)[:A + 20], 5)                   # arp_runt: 20 bytes of ARP
bad = lambda **kw: E / ARP(**dict(dict(op=1, hwsrc=you, psrc=you_ip, pdst=gw), **kw))
send(bad(hwsrc="ff:ff:ff:ff:ff:ff"), 3)        # arp_bad_sender: broadcast MAC
send(bad(hwsrc="01:00:5e:00:00:01"))           #  multicast MAC
send(bad(psrc="127.0.0.1"))                    #  loopback sender
send(bad(psrc="224.0.0.1"))                    #  multicast sender
""" % (me, a.mac, a.ip, a.gw))
    rx = settle(t, "pa", rx0, sum(want.values()))
    d = deltas(d0, t.drops())
    assert d == want, (d, want, rx)
    assert rx == sum(want.values())
    # None of them reached the control thread, none was learned or answered.
    c1 = arp_counters(t)
    assert deltas(c0, c1) == {}, deltas(c0, c1)
    assert neighbours(t) == []
    r = a.ns.run("arping -c 1 -w 2 -I %s %s" % (a.inner, a.gw), check=False)
    assert r.returncode == 0 and me in r.stdout.lower(), r.stdout
    t.wait_mbufs(base)
    assert t.stop() == 0


def test_address_conflict(ternd_factory, netns_factory):
    t, a = one_host(ternd_factory, netns_factory)
    base = t.mbufs_in_use()
    c0, rx0 = arp_counters(t), t.links()["pa"]["rx_packets"]
    other = "02:00:00:00:c0:01"
    ns_scapy(a.ns, RAW % a.inner + """
other, gw = %r, %r
# RFC 5227 announcements of our address from another MAC, and replies
# claiming it, ten of each: a flood.
for _ in range(10):
    send(Ether(dst="ff:ff:ff:ff:ff:ff", src=other) / ARP(op=1, hwsrc=other, psrc=gw, pdst=gw))
    send(Ether(dst="ff:ff:ff:ff:ff:ff", src=other) / ARP(op=2, hwsrc=other, psrc=gw, pdst=gw,
                                                        hwdst="ff:ff:ff:ff:ff:ff"))
""" % (other, a.gw))
    settle(t, "pa", rx0, 20)
    d = deltas(c0, arp_counters(t))
    assert d.get("conflicts") == 20 and d.get("received") == 20, d
    assert "replies_sent" not in d, d
    # Every conflict counted, but logged at most once a second.
    log = t.logtext()
    hits = [l for l in log.splitlines() if "address conflict" in l]
    assert 1 <= len(hits) <= 3 and all(a.gw in l and other in l.lower() for l in hits), log
    # ternd keeps its address: no entry for it, and it still answers.
    assert neigh_of(t, a.gw) is None
    assert ping(a.ns, a.gw, count=1).returncode == 0
    t.wait_mbufs(base)
    assert t.stop() == 0


def test_gratuitous_arp_on_addr_add(ternd_factory, netns_factory, tmpdir_tern):
    t, a = one_host(ternd_factory, netns_factory)
    base = t.mbufs_in_use()
    me = t.links()["pa"]["mac"].lower()
    new = subnet() + ".1"
    pcap = os.path.join(tmpdir_tern, "garp.pcap")
    c0 = arp_counters(t)
    cap = capture(a.ns, a.inner, "arp", pcap, 2)
    t.ctl("addr", "add", new + "/24", "dev", "pa")
    cap.wait(10)
    garp = [p for p in rdpcap(pcap) if ARP in p and p[ARP].psrc == new]
    assert len(garp) == 1, [p.summary() for p in rdpcap(pcap)]
    g = garp[0]
    assert g[Ether].dst == "ff:ff:ff:ff:ff:ff" and g[Ether].src == me
    assert g[ARP].op == 1 and g[ARP].pdst == new and g[ARP].hwsrc == me
    assert deltas(c0, arp_counters(t)) == {"announcements_sent": 1}
    addrs = t.ctl("addr", "show", json_out=True)["addresses"]
    assert {"port": "pa", "address": new + "/24"} in addrs, addrs
    net = new.rsplit(".", 1)[0]
    mine = {(r["prefix"], r["type"], r["origin"]) for r in routes(t) if r["prefix"].startswith(net + ".")}
    assert mine == {(new + "/32", "local", "local"), (net + ".0/24", "connected", "connected"),
                    (net + ".255/32", "broadcast", "local")}, mine
    # And gone again with the address.
    t.ctl("addr", "del", new + "/24", "dev", "pa")
    assert not [r for r in routes(t) if r["prefix"].startswith(net + ".")]
    t.wait_mbufs(base)
    assert t.stop() == 0


def test_gratuitous_arp_on_link_up(ternd_factory, netns_factory, tmpdir_tern):
    """When a port's link comes back up, ternd announces its address again
    (RFC 5227 2.3), as it does when the address is added.  net_tap reports
    its kernel side's state (net_af_packet always says up), so ternd runs in
    the host's namespace with a tap there."""
    ns = netns_factory("t4l")
    tap = uniq("tl")
    net = subnet()
    t = ternd_factory(config("port add t0 net_tap0,iface=%s" % tap,
                             "addr add %s.1/24 dev t0" % net), netns=ns.name)
    me = t.links()["t0"]["mac"].lower()
    ns.run("ip link set %s address 02:00:00:00:bb:01" % tap)
    ns.run("ip link set %s up" % tap)
    links_up(t, "t0")
    base = t.mbufs_in_use()
    ns.run("ip link set %s down" % tap)
    wait_until(lambda: "port t0: link down" in t.logtext(), what="link down seen")
    c0 = arp_counters(t)
    # tcpdump will not open a down interface; a packet socket binds to one.
    out = os.path.join(tmpdir_tern, "linkup.hex")
    sniff = ns.popen("/usr/bin/python3 -c '%s'" % (
        "import socket, time\n"
        "s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0806))\n"
        "s.bind((\"%s\", 0)); s.settimeout(0.2); print(\"ready\", flush=True)\n"
        "end = time.time() + 4\n"
        "with open(\"%s\", \"w\") as f:\n"
        "    while time.time() < end:\n"
        "        try: f.write(s.recv(2048).hex() + \"\\n\")\n"
        "        except socket.timeout: pass\n"
        "        except OSError: time.sleep(0.02)  # ENETDOWN until it is up\n" % (tap, out)),
        stdout=subprocess.PIPE, text=True, start_new_session=True)
    assert sniff.stdout.readline().strip() == "ready"
    ns.run("ip link set %s up" % tap)
    sniff.wait(10)
    with open(out) as f:
        frames = [Ether(bytes.fromhex(line.strip())) for line in f if line.strip()]
    garp = [p for p in frames if ARP in p and p[ARP].psrc == p[ARP].pdst == net + ".1"]
    assert len(garp) == 1, [p.summary() for p in frames]
    assert garp[0][Ether].src == me and garp[0][Ether].dst == "ff:ff:ff:ff:ff:ff"
    assert deltas(c0, arp_counters(t)).get("announcements_sent") == 1
    assert t.logtext().count("port t0: link up") == 2
    t.wait_mbufs(base)
    assert t.stop() == 0


def test_link_down_flushes_neighbours(ternd_factory, netns_factory):
    """When a port's link goes down, ternd forgets the port's learnt
    neighbours, as Linux does on carrier loss (neigh_carrier_down): a
    REACHABLE entry and an INCOMPLETE one go, the packets held by the latter
    are dropped as neigh_link_down, the PERMANENT entry stays.  Once the
    link is back the host is resolved again and reached.  net_tap reports
    its kernel side's state, so ternd runs in the host's namespace."""
    ns = netns_factory("t4d")
    no_ipv6(ns)
    tap = uniq("td")
    net = subnet()
    me, peer, ghost, perm = net + ".1", net + ".2", net + ".97", net + ".200"
    # delay-ms: the host's entry, learnt STALE and used, is probed soon and
    # so confirmed REACHABLE; retrans-ms: the ghost stays INCOMPLETE (15 s).
    # No redirects: the pings through ternd go back out the port they came in.
    t = ternd_factory(config("port add t0 net_tap0,iface=%s" % tap, "addr add %s/24 dev t0" % me,
                             "route add 198.51.100.0/24 via %s" % ghost,
                             "neigh add %s lladdr 02:00:00:00:00:44 dev t0" % perm,
                             "arp set delay-ms 200", "arp set retrans-ms 5000",
                             "icmp redirects off"), netns=ns.name)
    ns.run("ip link set %s address 02:00:00:00:bb:02" % tap)
    ns.run("ip addr add %s/24 dev %s" % (peer, tap))
    ns.run("ip link set %s up" % tap)
    ns.run("ip route add 198.51.100.0/24 via %s" % me)
    links_up(t, "t0")
    base = t.mbufs_in_use()

    assert ping(ns, me, count=2).returncode == 0
    wait_until(lambda: (neigh_of(t, peer) or {}).get("state") == "REACHABLE", timeout=5,
               what="the host REACHABLE: %s" % neighbours(t))
    ping(ns, "198.51.100.5", count=2)
    wait_until(lambda: (neigh_of(t, ghost) or {}).get("held") == 2, what="two packets held")
    assert neigh_of(t, ghost)["state"] == "INCOMPLETE"
    c0, d0 = arp_counters(t), t.drops()

    ns.run("ip link set %s down" % tap)
    wait_until(lambda: "port t0: link down" in t.logtext(), what="link down seen")
    left = neighbours(t)
    assert [(n["address"], n["state"], n["lladdr"]) for n in left] == \
        [(perm, "PERMANENT", "02:00:00:00:00:44")], left
    assert deltas(d0, t.drops()) == {"neigh_link_down": 2}
    c = deltas(c0, arp_counters(t))
    assert c.get("link_down_flushed") == 2 and "unreachable_sent" not in c, c

    ns.run("ip link set %s up" % tap)
    wait_until(lambda: t.logtext().count("port t0: link up") == 2, what="link up again")
    wait_until(lambda: ping(ns, me, count=1).returncode == 0, timeout=10, what="pinging ternd")
    assert ping(ns, me, count=3).returncode == 0
    n = neigh_of(t, peer)
    assert n is not None and n["lladdr"].lower() == "02:00:00:00:bb:02", neighbours(t)
    assert neigh_of(t, perm)["state"] == "PERMANENT"
    t.wait_mbufs(base)
    assert t.stop() == 0


def test_link_set_down_and_up(ternd_factory, netns_factory):
    """`link set PORT down` (ip link set dev X down): ternd stops polling
    the port, drops what it would send there as tx_admin_down, forgets the
    port's learnt neighbours at once, and net_tap takes its kernel side
    down too; `link set PORT up` brings it all back.  Bad arguments are
    refused by name and change nothing."""
    ns = netns_factory("t4s")
    no_ipv6(ns)
    tap = uniq("ts")
    net = subnet()
    me, peer = net + ".1", net + ".2"
    t = ternd_factory(config("port add t0 net_tap0,iface=%s" % tap, "addr add %s/24 dev t0" % me,
                             "arp set delay-ms 200"), netns=ns.name)
    ns.run("ip addr add %s/24 dev %s" % (peer, tap))
    ns.run("ip link set %s up" % tap)
    links_up(t, "t0")
    base = t.mbufs_in_use()
    assert ping(ns, me, count=2).returncode == 0
    wait_until(lambda: neigh_of(t, peer) is not None, what="the host learnt")
    assert t.links()["t0"]["admin"] == "up"

    for args, msg in ((["t0", "sideways"], "'sideways': expected up or down"),
                      (["nope", "down"], "no port 'nope'"),
                      (["t0"], None)):
        r = t.ctl("link", "set", *args, check=False)
        assert r.returncode != 0 and (msg is None or msg in r.stderr), r.stderr
    assert t.links()["t0"]["admin"] == "up" and neigh_of(t, peer) is not None

    d0 = t.drops()
    t.ctl("link", "set", "t0", "down")
    assert t.links()["t0"]["admin"] == "down"
    assert "port t0: link down (set down)" in t.logtext()
    assert neigh_of(t, peer) is None, neighbours(t)  # forgotten at once
    assert "link set t0 down" in t.ctl("show", "running-config")
    # net_tap took its kernel side down; nothing gets through.
    wait_until(lambda: "state DOWN" in ns.run("ip link show %s" % tap).stdout,
               what="the tap down in the kernel")
    assert ping(ns, me, count=1).returncode != 0
    # What ternd would send there (the gratuitous ARP of a new address) is
    # dropped and counted.
    t.ctl("addr", "add", "198.18.77.1/24", "dev", "t0")
    wait_until(lambda: deltas(d0, t.drops()).get("tx_admin_down", 0) >= 1,
               what="tx_admin_down: %s" % deltas(d0, t.drops()))
    t.ctl("addr", "del", "198.18.77.1/24", "dev", "t0")

    t.ctl("link", "set", "t0", "up")
    assert t.links()["t0"]["admin"] == "up"
    assert "link set t0" not in t.ctl("show", "running-config")
    ns.run("ip link set %s up" % tap, check=False)  # the kernel side may still be on its way
    wait_until(lambda: ping(ns, me, count=1).returncode == 0, timeout=15, what="pinging ternd")
    assert neigh_of(t, peer) is not None
    t.wait_mbufs(base)
    assert t.stop() == 0


# --- the CLI: static routes, neighbours, running-config -----------------------


def test_static_route_and_neigh_cli(ternd_factory, netns_factory):
    t, a, b = two_hosts(ternd_factory, netns_factory)
    b.ns.run("ip addr add 198.18.0.1/32 dev lo")
    base = t.mbufs_in_use()
    t.ctl("route", "add", "198.18.0.0/15", "via", b.ip)
    r = next(r for r in routes(t) if r["prefix"] == "198.18.0.0/15")
    assert r == {"prefix": "198.18.0.0/15", "type": "gateway", "via": b.ip, "dev": "pb",
                 "origin": "static"}, r
    p = ping(a.ns, "198.18.0.1")
    assert p.returncode == 0 and p.stdout.count("ttl=63") == 3, p.stdout
    t.ctl("route", "del", "198.18.0.0/15")
    assert not [r for r in routes(t) if r["prefix"] == "198.18.0.0/15"]
    p = ping(a.ns, "198.18.0.1", count=1)
    assert p.returncode != 0 and "Destination Net Unreachable" in p.stdout, p.stdout
    # Refused: a gateway off every connected subnet, host bits, a duplicate,
    # an address's own route.
    for args, err in ((("198.18.0.0/15", "via", "192.0.2.1"), "not on a connected subnet"),
                      (("198.18.0.1/15", "via", b.ip), "host bits"),
                      (("%s.0/24" % b.net, "via", b.ip), "exists")):
        r = t.ctl("route", "add", *args, check=False)
        assert r.returncode != 0 and err in r.stderr, (args, r.stderr)
    r = t.ctl("route", "del", "%s.0/24" % b.net, check=False)
    assert r.returncode != 0 and "belongs to an address" in r.stderr, r.stderr
    # A blackhole drops quietly.
    t.ctl("route", "add", "192.0.2.0/24", "blackhole")
    d0 = t.drops()
    p = ping(a.ns, "192.0.2.1", count=2)
    assert p.returncode != 0 and "From" not in p.stdout, p.stdout
    assert deltas(d0, t.drops()) == {"ip_blackhole": 2}

    # A permanent neighbour survives a flush; the learned ones do not.
    lladdr = "02:00:00:00:77:77"
    ghost = b.net + ".77"
    t.ctl("neigh", "add", ghost, "lladdr", lladdr, "dev", "pb")
    n = neigh_of(t, ghost)
    assert n["state"] == "PERMANENT" and n["lladdr"].lower() == lladdr and n["dev"] == "pb", n
    assert neigh_of(t, b.ip) is not None
    assert {n["dev"] for n in neighbours(t, "dev", "pb")} == {"pb"}
    assert [n["address"] for n in neighbours(t, "dev", "pa")] == [a.ip]
    t.ctl("neigh", "flush")
    assert [n["address"] for n in neighbours(t)] == [ghost], neighbours(t)
    t.ctl("neigh", "del", ghost, "dev", "pb")
    assert neighbours(t) == []
    r = t.ctl("neigh", "del", ghost, "dev", "pb", check=False)
    assert r.returncode != 0
    # Traffic resolves again after the flush.
    assert ping(a.ns, b.ip, count=1).returncode == 0

    t.ctl("route", "add", "198.18.0.0/15", "via", b.ip)
    t.ctl("neigh", "add", ghost, "lladdr", lladdr, "dev", "pb")
    t.ctl("arp", "set", "retrans-ms", "300")
    rc = t.ctl("show", "running-config")
    lines = rc.lower().splitlines()
    for want in ("addr add %s/24 dev pa" % a.gw, "addr add %s/24 dev pb" % b.gw,
                 "route add 198.18.0.0/15 via %s dev pb" % b.ip,
                 "route add 192.0.2.0/24 blackhole",
                 "neigh add %s lladdr %s dev pb" % (ghost, lladdr),
                 "arp set retrans-ms 300"):
        assert want in lines, (want, rc)
    shown = sorted(routes(t), key=lambda r: r["prefix"])
    t.wait_mbufs(base)
    assert t.stop() == 0

    # A ternd booted from it has the same table.
    t2 = ternd_factory(rc, name="again")
    links_up(t2, "pa", "pb")
    base2 = t2.mbufs_in_use()
    assert sorted(routes(t2), key=lambda r: r["prefix"]) == shown
    n = neigh_of(t2, ghost)
    assert n is not None and n["state"] == "PERMANENT" and n["lladdr"].lower() == lladdr
    assert t2.ctl("arp", "show", json_out=True)["settings"]["retrans-ms"] == 300
    assert ping(a.ns, "198.18.0.1", count=1).returncode == 0
    t2.wait_mbufs(base2)
    assert t2.stop() == 0


def test_shared_broadcast_route(ternd_factory):
    """Two addresses can share a broadcast address (10.77.0.1/24 and
    10.77.0.129/25): removing one keeps the broadcast route the other
    needs; removing the last removes it."""
    t = ternd_factory(config("port add p0 net_null0,no-rx=1"))
    base = t.mbufs_in_use()

    def bcast_routes():
        return [r["prefix"] for r in t.ctl("route", "show", json_out=True)["routes"]
                if r["type"] == "broadcast"]

    t.ctl("addr", "add", "10.77.0.1/24", "dev", "p0")
    t.ctl("addr", "add", "10.77.0.129/25", "dev", "p0")
    t.ctl("addr", "del", "10.77.0.129/25", "dev", "p0")
    assert bcast_routes() == ["10.77.0.255/32"]
    t.ctl("addr", "del", "10.77.0.1/24", "dev", "p0")
    assert bcast_routes() == []
    # The gratuitous ARPs of each addr add went out and came back to the pool.
    t.wait_mbufs(base)


def test_echo_any_code_answered(ternd_factory, netns_factory):
    """An echo request with a code other than 0 (nmap's OS detection sends
    9) is answered like Linux does, the code kept."""
    t, a = one_host(ternd_factory, netns_factory)
    base = t.mbufs_in_use()
    out = ns_scapy(a.ns, """
r = sr1(IP(dst="%s")/ICMP(type=8, code=9, id=77, seq=3)/(b"x" * 16), timeout=3, iface="%s")
print(r[ICMP].type if r else "none", r[ICMP].code if r else "", r[ICMP].id if r else "")
""" % (a.gw, a.inner))
    assert out.split() == ["0", "9", "77"], out
    t.wait_mbufs(base)
