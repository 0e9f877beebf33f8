# SPDX-License-Identifier: BSD-3-Clause
"""NAT44 against Linux hosts: an inside host (A, port pa) reaches an outside
host (B, port pb) through ternd."""

import hashlib
import os
import subprocess
import time

from conftest import wait_until
from peers import two_hosts


def http_server(ns, addr, port, root, log):
    """python3 -m http.server in ns, its log (client addresses) in `log`."""
    p = ns.popen("sh -c 'cd %s && exec /usr/bin/python3 -m http.server --bind %s %d'" % (root, addr, port),
                 stdout=subprocess.DEVNULL, stderr=open(log, "w"), start_new_session=True)
    wait_until(lambda: ns.run("ss -ltn", check=False).stdout.count(":%d " % port) > 0,
               what="http.server listening")
    return p


def test_snat_curl_shows_nat_address(ternd_factory, netns_factory, tmpdir_tern):
    t, a, b = two_hosts(ternd_factory, netns_factory)
    t.ctl("nat", "add", "snat", "src", a.net + ".0/24", "out", "pb")
    root = os.path.join(tmpdir_tern, "www")
    os.makedirs(root, exist_ok=True)
    data = os.urandom(1 << 20)
    with open(os.path.join(root, "f"), "wb") as f:
        f.write(data)
    log = os.path.join(tmpdir_tern, "http.log")
    srv = http_server(b.ns, b.ip, 8000, root, log)
    try:
        base = t.mbufs_in_use()
        r = a.ns.run("curl -s -m 10 http://%s:8000/f | sha256sum" % b.ip)
        assert r.stdout.split()[0] == hashlib.sha256(data).hexdigest()
        with open(log) as f:
            text = f.read()
        assert text.startswith(b.gw + " "), text  # the NAT address, not A's
        s = t.ctl("nat", "sessions", "show", json_out=True)["sessions"]
        print(s)
        print(t.ctl("nat", "stats"))
        t.wait_mbufs(base)
    finally:
        srv.kill()
