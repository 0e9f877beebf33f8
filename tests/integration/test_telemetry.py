# SPDX-License-Identifier: BSD-3-Clause
"""ternd's rte_telemetry endpoints on EAL's telemetry socket, as
dpdk-telemetry.py and monitoring plugins read them: the same counters as
`stats show`, as totals that `stats clear` does not reset."""

import json
import os
import socket
import subprocess

from conftest import EAL, config, uniq, wait_until
from test_boot import drop_reasons


class Telemetry:
    """A client of /var/run/dpdk/PREFIX/dpdk_telemetry.v2."""

    def __init__(self, prefix):
        path = "/var/run/dpdk/%s/dpdk_telemetry.v2" % prefix
        wait_until(lambda: os.path.exists(path), what="telemetry socket")
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.s.connect(path)
        self.info = json.loads(self.s.recv(16384).decode())

    def get(self, cmd):
        self.s.send(cmd.encode())
        reply = json.loads(self.s.recv(65536).decode())
        return reply[cmd.split(",")[0]] if reply else None

    def close(self):
        self.s.close()


def test_telemetry_counters(ternd_factory):
    prefix = uniq("ttel")
    t = ternd_factory(config("port add null0 net_null0,size=64",
                             "port add null1 net_null1,size=64",
                             "port xconnect null0 null1",
                             eal=EAL + " --file-prefix " + prefix))
    tel = Telemetry(prefix)
    try:
        cmds = tel.get("/")
        for c in ("/tern/info", "/tern/nodes", "/tern/drops", "/tern/workers", "/tern/worker",
                  "/tern/nat/stats", "/tern/tcp/stats"):
            assert c in cmds, cmds
        info = tel.get("/tern/info")
        assert info["workers"] == 1 and info["ports"] == 2, info
        assert info["version"] == t.ctl("version", json_out=True)["version"]

        n1 = tel.get("/tern/nodes")
        wait_until(lambda: tel.get("/tern/nodes")["xconnect"] > n1["xconnect"],
                   what="xconnect counter rising")
        for node in ("port_rx", "xconnect", "port_tx"):
            assert n1[node] > 0, n1
        # Every reason, workers' and control thread's, like stats show.
        drops = tel.get("/tern/drops")
        assert set(drops) == drop_reasons(), set(drops) ^ drop_reasons()
        assert tel.get("/tern/workers") == [0]
        w = tel.get("/tern/worker,0")
        assert w["lcore"] == 1 and w["loops"] > 0 and 0 < w["busy_cycles"] <= w["total_cycles"]
        assert tel.get("/tern/worker,7") is None  # no such worker: an error, empty
        # Totals: stats clear restarts the CLI's counters, not these.
        t.ctl("stats", "clear")
        n2 = tel.get("/tern/nodes")
        assert n2["port_rx"] >= n1["port_rx"], (n1, n2)
        cli = {n["node"]: n["packets"] for n in t.stats()["nodes"]}
        assert cli["port_rx"] < n2["port_rx"]
        # Modules' counters, the same as their CLI commands'.
        for mod in ("nat", "tcp"):
            tel_stats = tel.get("/tern/%s/stats" % mod)
            cli_stats = t.ctl(mod, "stats", json_out=True)
            assert set(tel_stats) == set(cli_stats), set(tel_stats) ^ set(cli_stats)
            assert tel_stats["HandoffIn"] == cli_stats["HandoffIn"] == 0
        assert tel.get("/tern/tcp/stats")["ConnBytes"] > 0
        # DPDK's own client reads them too.
        r = subprocess.run(["dpdk-telemetry.py", "-f", prefix], input="/tern/info\n",
                           capture_output=True, text=True, timeout=30)
        assert r.returncode == 0 and '"workers": 1' in r.stdout, r.stdout + r.stderr
    finally:
        tel.close()
    # The mbufs in use stay bounded by what sits in flight (no leak).
    assert t.mbufs_in_use() < 512
    assert t.stop() == 0
