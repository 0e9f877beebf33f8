# SPDX-License-Identifier: BSD-3-Clause
"""Helpers for the integration tests: start ternd on a generated config,
drive it with ternctl or the raw socket protocol, and put its ports on Linux
peers in network namespaces.  Later issues' tests reuse all of this."""

import itertools
import json
import os
import signal
import socket
import subprocess
import tempfile
import time

import pytest

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.environ.get("TERN_BUILD", os.path.join(TOP, "build"))
TERND = os.path.join(BUILD, "app", "ternd", "ternd")
TERNCTL = os.path.join(BUILD, "app", "ternctl", "ternctl")

# Two lcores here: the control thread on one, the worker on the other.
EAL = "eal -l 0-1 --no-pci --in-memory --log-level=lib.eal:warning --log-level=pmd.*:warning"

_seq = itertools.count()


def uniq(prefix):
    """A short name unique to this run (interface names stay <= 15 chars)."""
    return "%s%d%d" % (prefix, os.getpid() % 10000, next(_seq))


def sh(cmd, check=True, **kw):
    """Run a shell command; return its CompletedProcess."""
    r = subprocess.run(cmd, shell=True, capture_output=True, text=True, **kw)
    if check and r.returncode != 0:
        raise RuntimeError("%s: exit %d\n%s%s" % (cmd, r.returncode, r.stdout, r.stderr))
    return r


def request(sock_path, line, timeout=10):
    """Send raw bytes as one request on a new connection; return (status, payload)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(sock_path)
    try:
        s.sendall(line)
        return read_reply(s)
    finally:
        s.close()


class Conn:
    """A management connection that can pipeline requests."""

    def __init__(self, sock_path, timeout=10):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(timeout)
        self.s.connect(sock_path)
        self.buf = b""

    def send(self, data):
        self.s.sendall(data)

    def _fill(self):
        chunk = self.s.recv(65536)
        if not chunk:
            raise ConnectionError("closed by ternd")
        self.buf += chunk

    def reply(self):
        while b"\n" not in self.buf:
            self._fill()
        hdr, self.buf = self.buf.split(b"\n", 1)
        status, length = (int(x) for x in hdr.split(b" "))
        while len(self.buf) < length:
            self._fill()
        payload, self.buf = self.buf[:length], self.buf[length:]
        return status, payload.decode()

    def close(self):
        self.s.close()


def read_reply(s):
    """One reply from a plain socket (no pipelining)."""
    c = Conn.__new__(Conn)
    c.s, c.buf = s, b""
    r = c.reply()
    assert c.buf == b"", "reply longer than its header says"
    return r


class Ternd:
    """One ternd process with its own config, socket and log."""

    def __init__(self, config, tmpdir=None, name="ternd", binary=None):
        self.binary = binary or TERND
        self.dir = tmpdir or tempfile.mkdtemp(prefix="tern-")
        self.name = name
        self.cfg = os.path.join(self.dir, name + ".conf")
        self.sock = os.path.join(self.dir, name + ".sock")
        self.log = os.path.join(self.dir, name + ".log")
        with open(self.cfg, "w") as f:
            f.write(config)
        self.proc = None
        self.netns = None

    def start(self, netns=None, timeout=30):
        self.netns = netns
        cmd = [self.binary, "-c", self.cfg, "-s", self.sock]
        if netns:
            cmd = ["ip", "netns", "exec", netns] + cmd
        self.logf = open(self.log, "w")
        self.proc = subprocess.Popen(cmd, stdout=self.logf, stderr=subprocess.STDOUT)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("ternd exited %d:\n%s" % (self.proc.returncode, self.logtext()))
            if os.path.exists(self.sock):
                try:
                    if request(self.sock, b"version\n", timeout=2)[0] == 0:
                        return self
                except OSError:
                    pass
            time.sleep(0.1)
        raise RuntimeError("ternd did not come up:\n" + self.logtext())

    def logtext(self):
        with open(self.log) as f:
            return f.read()

    def ctl(self, *args, json_out=False, check=True, stdin=None):
        """Run ternctl; return parsed JSON, or stdout text."""
        cmd = [TERNCTL, "-s", self.sock] + (["-j"] if json_out else []) + list(args)
        r = subprocess.run(cmd, capture_output=True, text=True, input=stdin, timeout=30)
        if check and r.returncode != 0:
            raise RuntimeError("%s: exit %d: %s" % (" ".join(args), r.returncode, r.stderr))
        if not check:
            return r
        return json.loads(r.stdout) if json_out else r.stdout

    def stats(self):
        return self.ctl("stats", "show", json_out=True)

    def links(self):
        return {p["name"]: p for p in self.ctl("link", "show", json_out=True)["ports"]}

    def drops(self):
        """Drops by reason: the workers' and the control thread's."""
        s = self.stats()
        return {d["reason"]: d["packets"] for d in s["drops"] + s["control_drops"]}

    def node(self, name):
        return next(n for n in self.stats()["nodes"] if n["node"] == name)

    def mbufs_in_use(self):
        return sum(m["in_use"] for m in self.stats()["mempools"])

    def wait_mbufs(self, baseline, timeout=5.0):
        """Assert the pools come back to `baseline` mbufs in use (no leak)."""
        deadline = time.time() + timeout
        while True:
            now = self.mbufs_in_use()
            if now <= baseline or time.time() > deadline:
                break
            time.sleep(0.1)
        assert now <= baseline, "mbuf leak: %d in use, %d at start" % (now, baseline)

    def stop(self, timeout=20):
        """ternctl shutdown; ternd must exit 0 and remove its socket."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        try:
            self.ctl("shutdown")
        except Exception:
            self.proc.send_signal(signal.SIGTERM)
        rc = self.wait(timeout)
        assert not os.path.exists(self.sock), "socket left behind"
        return rc

    def wait(self, timeout=20):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def __enter__(self):
        return self.start() if self.proc is None else self

    def __exit__(self, *exc):
        self.kill()
        if hasattr(self, "logf"):
            self.logf.close()


def config(*lines, eal=EAL, workers="workers 1"):
    return "\n".join([eal, workers] + list(lines)) + "\n"


class Netns:
    """A network namespace that plays a Linux host; deleted on close()."""

    def __init__(self, prefix="tns"):
        self.name = uniq(prefix)
        sh("ip netns add %s" % self.name)
        sh("ip -n %s link set lo up" % self.name)
        self.links = []

    def run(self, cmd, check=True, **kw):
        return sh("ip netns exec %s %s" % (self.name, cmd), check=check, **kw)

    def popen(self, cmd, **kw):
        return subprocess.Popen("ip netns exec %s %s" % (self.name, cmd), shell=True, **kw)

    def veth(self, addr=None, mac=None):
        """A veth pair: returns the name of the end left in the root namespace
        (for net_af_packet); the other end, "eth0"-like, lives in here."""
        outer, inner = uniq("tv"), uniq("tp")
        sh("ip link add %s type veth peer name %s netns %s" % (outer, inner, self.name))
        # Checksums and segmentation must be done by the kernel end, or DPDK
        # receives partial checksums and merged 64 KB frames.
        self.run("ethtool -K %s tx off tso off gso off" % inner, check=False)
        sh("ethtool -K %s tx off tso off gso off gro off" % outer, check=False)
        if mac:
            self.run("ip link set %s address %s" % (inner, mac))
        if addr:
            self.run("ip addr add %s dev %s" % (addr, inner))
        self.run("ip link set %s up" % inner)
        sh("ip link set %s up" % outer)
        self.links.append(outer)
        return outer, inner

    def close(self):
        for l in self.links:
            sh("ip link del %s" % l, check=False)
        sh("ip netns pids %s | xargs -r kill" % self.name, check=False)
        sh("ip netns del %s" % self.name, check=False)


@pytest.fixture
def tmpdir_tern():
    d = tempfile.mkdtemp(prefix="tern-test-")
    yield d
    sh("rm -rf %s" % d, check=False)


@pytest.fixture
def netns_factory():
    made = []

    def make(prefix="tns"):
        ns = Netns(prefix)
        made.append(ns)
        return ns

    yield make
    for ns in made:
        ns.close()


@pytest.fixture
def ternd_factory(tmpdir_tern):
    """Start ternds; each is killed at teardown if the test left it running."""
    made = []

    def make(cfg, name="ternd", start=True, netns=None, binary=None):
        t = Ternd(cfg, tmpdir_tern, name, binary)
        made.append(t)
        if start:
            t.start(netns=netns)
        return t

    yield make
    # Every test checks the pools: a ternd still running is stopped cleanly,
    # and at shutdown ternd counts the mbufs missing from its pools, after
    # every module and port has let go of what it held; any missing make it
    # exit 3 (a test that stopped ternd itself is checked the same way).
    leaks = []
    for t in made:
        rc = t.proc.returncode if t.proc else None
        if t.proc is not None and t.proc.poll() is None:
            try:
                rc = t.stop()
            except Exception:
                rc = None
        t.kill()
        if rc == 3:
            leaks.append("%s: %s" % (t.name, "".join(
                l for l in t.logtext().splitlines(True) if "never returned" in l)))
    if leaks:
        pytest.fail("mbuf leak at shutdown:\n" + "\n".join(leaks))


def wait_until(fn, timeout=10.0, interval=0.1, what="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(interval)
    raise AssertionError("timed out waiting for " + what)
