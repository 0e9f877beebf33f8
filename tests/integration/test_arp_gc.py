# SPDX-License-Identifier: BSD-3-Clause
"""Forced garbage collection of the neighbour table (Linux's gc_thresh3 and
neigh_forced_gc), against Linux hosts: a scan of a connected subnet fills
the table with INCOMPLETE and FAILED entries, and a real neighbour still
gets one; PERMANENT and confirmed entries are never evicted, and a table
full of them refuses new entries.  `arp set max-entries` is the limit."""

import time

from conftest import wait_until
from peers import deltas, one_host, ping, two_hosts

PERM_MAC = "02:00:00:00:00:44"


def arp_show(t):
    return t.ctl("arp", "show", json_out=True)


def neighbours(t):
    return t.ctl("neigh", "show", json_out=True)["neighbours"]


def neigh_of(t, ip):
    return next((n for n in neighbours(t) if n["address"] == ip), None)


def scan(ns, ghosts, gap):
    """Start sending one UDP datagram to each address, `gap` seconds apart,
    from ns (through its default route, ternd); returns the Popen."""
    code = ("from scapy.all import IP, UDP, conf, send\n"
            "conf.verb = 0\n"
            "send([IP(dst=d) / UDP(dport=9) / b\"x\" for d in %r], inter=%r)\n" % (ghosts, gap))
    return ns.popen("/usr/bin/python3 -c '%s'" % code.replace("'", "'\\''"))


def watch(t, p, limit):
    """Until p exits: the table's size, sampled; it never exceeds limit."""
    peak = 0
    while True:
        done = p.poll() is not None
        size = len(neighbours(t))
        assert size <= limit and arp_show(t)["entries"] <= limit, neighbours(t)
        peak = max(peak, size)
        if done:
            assert p.returncode == 0
            return peak
        time.sleep(0.02)


def all_failed(t, ghosts):
    return all(n["state"] == "FAILED" for n in neighbours(t) if n["address"] in ghosts)


def test_scan_does_not_lock_out_neighbours(ternd_factory, netns_factory):
    """max-entries 16; 40 addresses that never answer, first at once, faster
    than they fail (INCOMPLETE entries evicted, their held packet dropped as
    neigh_evicted, not as neigh_deleted: nobody deleted them), then slower than they fail (FAILED ones evicted, after
    their packet went back as host unreachable).  The table never holds more than 16;
    B, a real neighbour, is then resolved and reached; the PERMANENT entry
    stays; nothing is refused; the mbufs come back."""
    # delay-ms: A's entry, in use, stays in DELAY (usable, never evicted)
    # rather than probing halfway through with one-probe settings.
    t, a, b = two_hosts(ternd_factory, netns_factory, "arp set max-entries 16",
                        "arp set retrans-ms 300", "arp set mcast-probes 1",
                        "arp set delay-ms 60000")
    assert arp_show(t)["settings"]["max-entries"] == 16
    perm = b.net + ".200"
    t.ctl("neigh", "add", perm, "lladdr", PERM_MAC, "dev", "pb")
    assert ping(a.ns, a.gw, count=1).returncode == 0  # A and ternd know each other
    base = t.mbufs_in_use()
    c0, d0 = arp_show(t)["counters"], t.drops()

    # 14 places (16 less A's entry and the PERMANENT one).
    fast = [b.net + ".%d" % i for i in range(10, 35)]
    slow = [b.net + ".%d" % i for i in range(35, 50)]
    peak = watch(t, scan(a.ns, fast, 0), 16)
    wait_until(lambda: all_failed(t, fast), what="the fast scan's entries FAILED")
    peak = max(peak, watch(t, scan(a.ns, slow, 0.05), 16))
    wait_until(lambda: all_failed(t, slow), what="the slow scan's entries FAILED")
    assert peak >= 15, peak

    c = deltas(c0, arp_show(t)["counters"])
    d = deltas(d0, t.drops())
    assert c.get("held") == 40, c
    assert c.get("forced_gc", 0) >= 40 - 16, c
    # Evicted while INCOMPLETE (the fast scan outruns retrans-ms), and
    # evicted once FAILED (the slow one does not).
    assert d.get("neigh_evicted", 0) >= 1 and c.get("unreachable_sent", 0) >= 1, (c, d)
    assert "neigh_deleted" not in d, d
    # Each held packet went back as unreachable or was dropped with its entry.
    assert c["held"] == c.get("unreachable_sent", 0) + d.get("neigh_evicted", 0), (c, d)
    assert "table_full" not in c and "neigh_no_entry" not in d, (c, d)

    # A real neighbour gets an entry (a FAILED one makes room) and traffic
    # to it flows.  (A retry is allowed: with one probe, a loaded machine
    # may answer late; a refused entry would show in table_full.)
    fgc = arp_show(t)["counters"]["forced_gc"]
    wait_until(lambda: ping(a.ns, b.ip, count=1).returncode == 0, timeout=10,
               what="A reaching B: %s" % neighbours(t))
    r = ping(a.ns, b.ip, count=3)
    assert r.returncode == 0, r.stdout + r.stderr
    n = neigh_of(t, b.ip)
    assert n is not None and n["lladdr"].lower() == b.mac, neighbours(t)
    c = arp_show(t)["counters"]
    assert c["forced_gc"] > fgc and c["table_full"] == c0["table_full"], c
    assert "neigh_no_entry" not in deltas(d0, t.drops())
    assert len(neighbours(t)) <= 16

    n = neigh_of(t, perm)
    assert n is not None and n["state"] == "PERMANENT" and n["lladdr"].lower() == PERM_MAC, n
    t.wait_mbufs(base)
    assert t.stop() == 0


def test_lowering_max_entries_evicts_at_once(ternd_factory, netns_factory):
    """With the default limit a scan leaves 30 FAILED entries; lowering
    max-entries to 16 evicts down to it at once, never the PERMANENT entry
    nor the hosts in use; show running-config keeps the setting."""
    t, a, b = two_hosts(ternd_factory, netns_factory, "arp set retrans-ms 100",
                        "arp set mcast-probes 1", "arp set delay-ms 60000")
    assert arp_show(t)["settings"]["max-entries"] == 65536
    perm = b.net + ".200"
    t.ctl("neigh", "add", perm, "lladdr", PERM_MAC, "dev", "pb")
    wait_until(lambda: ping(a.ns, b.ip, count=1).returncode == 0, timeout=10, what="A reaching B")
    base = t.mbufs_in_use()
    ghosts = [b.net + ".%d" % i for i in range(10, 40)]
    p = scan(a.ns, ghosts, 0.002)
    assert p.wait(30) == 0
    wait_until(lambda: all_failed(t, ghosts) and len(neighbours(t)) >= 33,
               what="30 FAILED entries")
    before = len(neighbours(t))
    c0 = arp_show(t)["counters"]

    t.ctl("arp", "set", "max-entries", "16")
    after = neighbours(t)
    assert len(after) == 16 and arp_show(t)["entries"] == 16, after
    c = deltas(c0, arp_show(t)["counters"])
    assert c.get("forced_gc") == before - 16 and "table_full" not in c, c
    kept = {n["address"] for n in after}
    assert {perm, a.ip, b.ip} <= kept, after
    assert "arp set max-entries 16" in t.ctl("show", "running-config")
    # Still working: A reaches B.
    wait_until(lambda: ping(a.ns, b.ip, count=1).returncode == 0, timeout=10, what="A reaching B")
    t.wait_mbufs(base)
    assert t.stop() == 0


def test_table_of_confirmed_entries_refuses(ternd_factory, netns_factory):
    """Only PERMANENT and REACHABLE entries, 16 of them: nothing may be
    evicted, so a new entry is refused (table_full), by `neigh add` and for
    a packet to resolve alike, and the table is unchanged."""
    t, a, b = two_hosts(ternd_factory, netns_factory, "arp set max-entries 16",
                        "arp set reachable-ms 120000", "arp set delay-ms 10",
                        "arp set retrans-ms 100")
    # ternd resolves B (REACHABLE); A, learnt STALE from its request, is
    # used for the replies and confirmed by a probe (DELAY, PROBE, REACHABLE).
    assert ping(a.ns, b.ip, count=3).returncode == 0
    wait_until(lambda: all((neigh_of(t, h.ip) or {}).get("state") == "REACHABLE" for h in (a, b)),
               timeout=10, what="A and B REACHABLE")
    for i in range(14):
        t.ctl("neigh", "add", b.net + ".%d" % (100 + i), "lladdr", "02:00:00:00:01:%02x" % i,
              "dev", "pb")
    full = neighbours(t)
    assert len(full) == 16 and {n["state"] for n in full} == {"PERMANENT", "REACHABLE"}, full
    base = t.mbufs_in_use()
    c0, d0 = arp_show(t)["counters"], t.drops()

    r = t.ctl("neigh", "add", b.net + ".150", "lladdr", PERM_MAC, "dev", "pb", check=False)
    assert r.returncode != 0 and "neighbour table full" in r.stderr, r.stderr
    r = ping(a.ns, b.net + ".99", count=1)
    assert r.returncode != 0, r.stdout
    c = deltas(c0, arp_show(t)["counters"])
    assert c.get("table_full") == 2 and "forced_gc" not in c, c
    assert deltas(d0, t.drops()) == {"neigh_no_entry": 1}
    assert {(n["address"], n["state"]) for n in neighbours(t)} == \
        {(n["address"], n["state"]) for n in full}
    # Known neighbours still work.
    wait_until(lambda: ping(a.ns, b.ip, count=1).returncode == 0, timeout=10, what="A reaching B")
    t.wait_mbufs(base)
    assert t.stop() == 0


def test_max_entries_range(ternd_factory, netns_factory):
    """`arp set max-entries` below 16 or above 65536 is refused with a
    message naming the setting, and changes nothing."""
    t, a = one_host(ternd_factory, netns_factory, "arp set max-entries 100")
    s0 = arp_show(t)["settings"]
    for v, lo_hi in (("15", "[16, 65536]"), ("65537", "[16, 65536]")):
        r = t.ctl("arp", "set", "max-entries", v, check=False)
        assert r.returncode != 0, r.stdout
        assert "max-entries '%s' out of range %s" % (v, lo_hi) in r.stderr, r.stderr
    r = t.ctl("arp", "set", "max-entries", "lots", check=False)
    assert r.returncode != 0 and "max-entries 'lots' is not a number" in r.stderr, r.stderr
    assert arp_show(t)["settings"] == s0 and s0["max-entries"] == 100
    # An unknown name lists the settings, max-entries among them.
    r = t.ctl("arp", "set", "max-entry", "16", check=False)
    assert r.returncode != 0 and "unknown ARP setting 'max-entry'" in r.stderr, r.stderr
    assert "gc-stale-ms, max-entries)" in r.stderr, r.stderr
    assert "arp set max-entries 100" in t.ctl("show", "running-config")
    assert t.stop() == 0
