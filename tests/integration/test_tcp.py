# SPDX-License-Identifier: BSD-3-Clause
"""TCP against Linux peers: ternd's services answer curl, nc and socat."""

import hashlib
import time

from peers import one_host


def pattern(n):
    """The body of GET /bytes/N: byte i is 'a' + i % 26."""
    b = bytes(range(ord("a"), ord("a") + 26))
    return (b * (n // 26 + 1))[:n]


def test_http_get_root(ternd_factory, netns_factory):
    t, a = one_host(ternd_factory, netns_factory, "service http")
    base = t.mbufs_in_use()
    r = a.ns.run("curl -s -m 5 http://%s/" % a.gw)
    assert r.stdout == "tern: hello\n"
    r = a.ns.run("curl -s -m 30 http://%s/bytes/10000000 | sha256sum" % a.gw)
    assert r.stdout.split()[0] == hashlib.sha256(pattern(10000000)).hexdigest()
    print(t.ctl("tcp", "stats"))
    print(t.ctl("conn", "show"))
    t.wait_mbufs(base)
