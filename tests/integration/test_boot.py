# SPDX-License-Identifier: BSD-3-Clause
"""ternd boots from a config file, forwards, reports and stops cleanly."""

import os
import signal
import time

import pytest

from conftest import TOP, Ternd, config, wait_until


def drop_reasons():
    """The names in TERN_DROP_REASONS and TERN_CTL_DROP_REASONS
    (stack/core/drop.h)."""
    import re
    with open(os.path.join(TOP, "stack", "core", "drop.h")) as f:
        return set(re.findall(r'X\([A-Z0-9_]+, "([a-z0-9_]+)"', f.read()))

NULL_XC = config("port add null0 net_null0,size=64",
                 "port add null1 net_null1,size=64",
                 "port xconnect null0 null1")


def test_null_xconnect_counters_rise(ternd_factory):
    t = ternd_factory(NULL_XC)
    a = t.links()
    time.sleep(0.5)
    b = t.links()
    for name in ("null0", "null1"):
        assert b[name]["driver"] == "net_null"
        assert b[name]["link"] == "up"
        assert b[name]["xconnect"] == ("null1" if name == "null0" else "null0")
        assert b[name]["rx_packets"] > a[name]["rx_packets"]
        assert b[name]["tx_packets"] > a[name]["tx_packets"]
    # What null0 receives leaves on null1, through the graph.
    s1 = t.stats()
    time.sleep(0.3)
    s2 = t.stats()
    n1 = {n["node"]: n for n in s1["nodes"]}
    n2 = {n["node"]: n for n in s2["nodes"]}
    for node in ("port_rx", "xconnect", "port_tx"):
        assert n2[node]["packets"] > n1[node]["packets"] > 0
        assert n2[node]["calls"] > n1[node]["calls"]
    assert n2["eth_input"]["packets"] == 0
    w = s2["workers"][0]
    assert w["lcore"] == 1 and w["loops"] > 0 and 0 < w["busy_percent"] <= 100
    # Every drop reason of drop.h's lists is listed with its description:
    # the workers' as nodes in the graph (a reason no node can reach would
    # be missing here), the control thread's as counters.
    reasons = {d["reason"]: d for d in s2["drops"] + s2["control_drops"]}
    assert len(reasons) == len(s2["drops"]) + len(s2["control_drops"])
    assert set(reasons) == drop_reasons()
    assert all(d["description"] for d in reasons.values())
    # The mbufs in use stay bounded by what sits in flight (no leak).
    assert t.mbufs_in_use() < 512
    assert t.stop() == 0


def test_link_show_text_and_one_port(ternd_factory):
    t = ternd_factory(NULL_XC)
    out = t.ctl("link", "show")
    assert "name: null0" in out and "name: null1" in out and "driver: net_null" in out
    one = t.ctl("link", "show", "null1", json_out=True)["ports"]
    assert [p["name"] for p in one] == ["null1"]
    r = t.ctl("link", "show", "nope", check=False)
    assert r.returncode == 1 and "no port 'nope'" in r.stderr
    t.stop()


def test_stats_clear(ternd_factory):
    t = ternd_factory(NULL_XC)
    time.sleep(0.5)
    grown = t.node("port_rx")["packets"]
    loops = t.stats()["workers"][0]["loops"]
    assert grown > 0
    t.ctl("stats", "clear")
    # Counting restarts from zero: far below what had accumulated.
    assert t.node("port_rx")["packets"] < grown / 2
    assert t.stats()["workers"][0]["loops"] < loops
    assert t.links()["null0"]["rx_packets"] < grown / 2
    assert t.stop() == 0


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_cleanly(ternd_factory, sig):
    t = ternd_factory(NULL_XC)
    t.proc.send_signal(sig)
    assert t.wait(20) == 0
    assert not os.path.exists(t.sock)
    assert "stopped" in t.logtext()


def test_shutdown_command(ternd_factory):
    t = ternd_factory(NULL_XC)
    out = t.ctl("shutdown")
    assert "shutting down" in out
    assert t.wait(20) == 0
    assert not os.path.exists(t.sock)


def test_running_config_boots(ternd_factory, tmpdir_tern):
    t = ternd_factory(NULL_XC)
    rc1 = t.ctl("show", "running-config")
    assert "port add null0" in rc1 and "port xconnect null0 null1" in rc1
    assert t.ctl("show", "running-config", json_out=True)["config"] == rc1
    t.stop()
    # The printed config is a config file ternd boots from, unchanged.
    t2 = ternd_factory(rc1, name="again")
    assert t2.ctl("show", "running-config") == rc1
    assert t2.links()["null0"]["xconnect"] == "null1"
    assert t2.stop() == 0


def test_xconnect_at_runtime(ternd_factory):
    t = ternd_factory(config("port add null0 net_null0,size=64",
                             "port add null1 net_null1,size=64"))
    # Not cross-connected: net_null frames (all-zero MACs) are not for us.
    wait_until(lambda: t.drops().get("eth_other_host", 0) > 0, what="eth_other_host drops")
    assert t.node("xconnect")["packets"] == 0
    t.ctl("port", "xconnect", "null0", "null1")
    wait_until(lambda: t.node("xconnect")["packets"] > 0, what="xconnect traffic")
    assert "port xconnect null0 null1" in t.ctl("show", "running-config")
    t.ctl("port", "xconnect", "null0", "none")
    assert "port xconnect" not in t.ctl("show", "running-config")
    before = t.node("xconnect")["packets"]
    time.sleep(0.3)
    assert t.node("xconnect")["packets"] == before
    assert t.links()["null1"]["xconnect"] == "none"
    assert t.stop() == 0


def test_version_and_help(ternd_factory):
    t = ternd_factory(NULL_XC)
    v = t.ctl("version", json_out=True)
    assert v["version"] and v["dpdk"].startswith("DPDK")
    h = t.ctl("help", json_out=True)["commands"]
    names = [c["command"] for c in h]
    for cmd in ("link show", "stats show", "stats clear", "show running-config", "help",
                "version", "shutdown"):
        assert any(n.startswith(cmd) for n in names), cmd
    assert all(c["help"] for c in h)
    ports = t.ctl("help", "port")
    assert "port add" in ports and "port xconnect" in ports and "link show" not in ports
    t.stop()


def test_ternctl_interactive(ternd_factory):
    t = ternd_factory(NULL_XC)
    r = t.ctl(check=False, stdin="# comment\nversion\n\nlink show null0\nbogus\nversion\n")
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("version:") == 2 and "name: null0" in r.stdout
    assert "unknown command 'bogus'" in r.stderr
    r = t.ctl(check=False, stdin="version\nbogus\n")
    assert r.returncode == 1
    t.stop()


def test_ternctl_no_daemon(tmpdir_tern):
    from conftest import TERNCTL, sh
    r = sh("%s -s %s/none.sock version" % (TERNCTL, tmpdir_tern), check=False)
    assert r.returncode == 3 and "cannot connect" in r.stderr


def test_shipped_null_conf(ternd_factory):
    """config/null.conf itself, as the README runs it."""
    from conftest import TOP
    with open(os.path.join(TOP, "config", "null.conf")) as f:
        t = ternd_factory(f.read())
    a = t.links()
    time.sleep(0.3)
    b = t.links()
    assert b["null0"]["rx_packets"] > a["null0"]["rx_packets"]
    assert b["null1"]["tx_packets"] > a["null1"]["tx_packets"]
    assert t.node("xconnect")["packets"] > 0
    assert t.stop() == 0


@pytest.mark.parametrize("name", ["null.conf", "demo.conf", "nic.conf"])
def test_shipped_configs_check(name):
    """ternd -t checks every shipped config (nic.conf needs a NIC to boot)."""
    import subprocess
    from conftest import TERND, TOP
    path = os.path.join(TOP, "config", name)
    r = subprocess.run([TERND, "-t", "-c", path], capture_output=True, text=True)
    assert r.returncode == 0 and "syntax ok" in r.stdout, r.stderr


def test_socket_path_not_a_socket_is_kept(tmpdir_tern):
    """-s naming a regular file by mistake: ternd refuses, the file stays."""
    import subprocess
    from conftest import TERND
    cfg = os.path.join(tmpdir_tern, "x.conf")
    with open(cfg, "w") as f:
        f.write(NULL_XC)
    victim = os.path.join(tmpdir_tern, "notes.txt")
    with open(victim, "w") as f:
        f.write("precious\n")
    r = subprocess.run([TERND, "-c", cfg, "-s", victim], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode != 0 and "not a socket" in r.stderr, r.stderr
    with open(victim) as f:
        assert f.read() == "precious\n"


def test_socket_path_stale_or_in_use(ternd_factory, tmpdir_tern):
    """A socket file nobody listens on (left by a crash) is replaced; one a
    running ternd answers on is not."""
    import socket
    import subprocess
    from conftest import TERND
    stale = os.path.join(tmpdir_tern, "ternd.sock")
    s = socket.socket(socket.AF_UNIX)
    s.bind(stale)
    s.close()
    t = ternd_factory(NULL_XC)
    assert t.sock == stale
    r = subprocess.run([TERND, "-c", t.cfg, "-s", t.sock], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode != 0 and "another ternd is running" in r.stderr, r.stderr
    assert t.ctl("version")
    assert t.stop() == 0


def test_service_port_change_failure_keeps_old_port(ternd_factory):
    """Moving a TCP service to a port that is taken fails and leaves it
    listening where it was; a free port then works, and the old one goes."""
    t = ternd_factory(config("port add null0 net_null0,size=64", "service tcp-echo",
                             "service tcp-discard", "service http"))

    def listening():
        return sorted(c["local"] for c in t.ctl("conn", "show", "listen",
                                                 json_out=True)["connections"])

    before = ["0.0.0.0:7", "0.0.0.0:80", "0.0.0.0:9"]
    assert listening() == before
    r = t.ctl("service", "tcp-echo", "port", "80", check=False)
    assert r.returncode == 1 and "tcp-echo on port 80" in r.stderr, r.stderr
    assert listening() == before
    assert "service tcp-echo\n" in t.ctl("show", "running-config")
    # Twice more: each move runs the new instance beside the old one.
    t.ctl("service", "tcp-echo", "port", "1007")
    t.ctl("service", "tcp-discard", "port", "1009")
    assert listening() == ["0.0.0.0:1007", "0.0.0.0:1009", "0.0.0.0:80"]
    r = t.ctl("service", "tcp-echo", "port", "1009", check=False)
    assert r.returncode == 1
    t.ctl("service", "tcp-echo", "port", "7")
    assert listening() == ["0.0.0.0:1009", "0.0.0.0:7", "0.0.0.0:80"]
    rc = t.ctl("show", "running-config")
    assert "service tcp-echo\n" in rc and "service tcp-discard port 1009\n" in rc
    t.ctl("service", "tcp-echo", "off")
    assert listening() == ["0.0.0.0:1009", "0.0.0.0:80"]
    assert t.stop() == 0
