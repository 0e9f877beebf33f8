# SPDX-License-Identifier: BSD-3-Clause
"""Packet capture (`capture start|stop|show`) against a Linux host: the
pcapng file holds the frames ternd received and sent on the port, in
order, and tcpdump and scapy read it; bad commands get clear errors."""

import os
import struct
import subprocess
import time

from scapy.all import ICMP, IP, rdpcap

from conftest import sh, wait_until
from peers import one_host, ping


def cap_show(t):
    return t.ctl("capture", "show", json_out=True)


def test_capture_ping(ternd_factory, netns_factory, tmpdir_tern):
    t, a = one_host(ternd_factory, netns_factory, prefix="tcp")
    # ARP first, so the pings below are the whole exchange.
    assert ping(a.ns, a.gw, count=1).returncode == 0
    base = t.mbufs_in_use()
    path = os.path.join(tmpdir_tern, "pa.pcapng")
    t.ctl("capture", "start", "pa", path)
    s = cap_show(t)
    assert s["running"] and s["port"] == "pa" and s["file"] == path, s
    r = ping(a.ns, a.gw, count=3, size=100, extra="-i 0.2")
    assert r.returncode == 0, r.stdout
    out = t.ctl("capture", "stop", json_out=True)
    s = cap_show(t)
    assert not s["running"] and s["dropped"] == 0, s
    assert out["written"] == s["written"] == s["copied"] >= 6, (out, s)

    # Every echo request as it came in, every reply as it went out, in order.
    pkts = rdpcap(path)
    assert len(pkts) == s["written"]
    icmp = [p for p in pkts if ICMP in p]
    assert [p[ICMP].type for p in icmp] == [8, 0] * 3, [p.summary() for p in pkts]
    assert all(p[IP].src == a.ip and p[IP].dst == a.gw for p in icmp[0::2])
    assert all(p[IP].src == a.gw and p[IP].dst == a.ip for p in icmp[1::2])
    assert all(len(p[ICMP].payload) == 100 for p in icmp)
    assert [p[ICMP].seq for p in icmp] == [1, 1, 2, 2, 3, 3]
    # Time stamps are wall-clock and in order.
    times = [float(p.time) for p in icmp]
    assert times == sorted(times) and times[-1] - times[0] >= 0.3, times
    assert abs(times[-1] - time.time()) < 30, times
    # The file is plain pcapng: tcpdump reads it too.
    r = subprocess.run(["tcpdump", "-nr", path, "icmp"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("ICMP echo request") == 3, r.stdout
    assert r.stdout.count("ICMP echo reply") == 3, r.stdout

    # A count stops the capture by itself; the copies all come back.
    path2 = os.path.join(tmpdir_tern, "two.pcapng")
    t.ctl("capture", "start", "all", path2, "count", "2", "snaplen", "64")
    assert ping(a.ns, a.gw, count=3, size=200, extra="-i 0.2").returncode == 0
    wait_until(lambda: not cap_show(t)["running"], what="capture stopped at its count")
    s = cap_show(t)
    assert s["written"] == 2 and s["port"] == "all" and s["snaplen"] == 64, s
    pkts = rdpcap(path2)
    # Cut at 64 bytes (the 242-byte pings; an ARP frame is shorter).
    lens = [len(bytes(p)) for p in pkts]
    assert len(pkts) == 2 and max(lens) == 64, lens
    t.wait_mbufs(base)
    assert t.stop() == 0


def test_capture_errors(ternd_factory, netns_factory, tmpdir_tern):
    t, a = one_host(ternd_factory, netns_factory, prefix="tce")
    base = t.mbufs_in_use()
    path = os.path.join(tmpdir_tern, "x.pcapng")

    def err(*args):
        r = t.ctl(*args, check=False)
        assert r.returncode != 0, (args, r.stdout)
        return r.stderr

    assert "no port 'nope'" in err("capture", "start", "nope", path)
    e = err("capture", "start", "pa", "/nonexistent/dir/x.pcapng")
    assert "/nonexistent/dir/x.pcapng" in e and "No such file or directory" in e, e
    assert "file '': No such file or directory" in err("capture", "start", "pa", "")
    assert "count" in err("capture", "start", "pa", path, "count", "0")
    assert "snaplen" in err("capture", "start", "pa", path, "snaplen", "10")
    assert "unknown option 'size'" in err("capture", "start", "pa", path, "size", "1")
    assert "needs a value" in err("capture", "start", "pa", path, "count")
    assert "'count' given twice" in err("capture", "start", "pa", path, "count", "1", "count", "2")
    assert "no capture running" in err("capture", "stop")
    # Nothing was half-started by the refusals.
    assert not cap_show(t)["running"] and not os.path.exists(path)
    t.ctl("capture", "start", "pa", path)
    assert "is running" in err("capture", "start", "pa", path + "2")
    t.ctl("capture", "stop")
    assert os.path.exists(path) and not os.path.exists(path + "2")
    t.wait_mbufs(base)
    assert t.stop() == 0


def pcapng_blocks(path):
    """The file's block types, checking that each block is whole (its two
    length fields agree) and that the last one ends the file."""
    with open(path, "rb") as f:
        data = f.read()
    off, types = 0, []
    while off < len(data):
        assert off + 12 <= len(data), "partial block header at %d of %d" % (off, len(data))
        btype, blen = struct.unpack_from("<II", data, off)
        assert blen >= 12 and blen % 4 == 0 and off + blen <= len(data), \
            "block at %d: length %d, file %d bytes" % (off, blen, len(data))
        assert struct.unpack_from("<I", data, off + blen - 4)[0] == blen, off
        types.append(btype)
        off += blen
    return types


def test_capture_disk_full(ternd_factory, netns_factory, tmpdir_tern):
    """A capture onto a disk that fills up stops with the reason, and the
    file ends with the last whole block: the write that ran out of room
    midway is cut back, so scapy and tcpdump read the file to its end.  The
    disk is a 64 KiB tmpfs mounted in the test's own directory."""
    t, a = one_host(ternd_factory, netns_factory, prefix="tcf")
    assert ping(a.ns, a.gw, count=1).returncode == 0
    base = t.mbufs_in_use()
    mnt = os.path.join(tmpdir_tern, "small")
    os.mkdir(mnt)
    sh("mount -t tmpfs -o size=64k,mode=0700 tern-test %s" % mnt)
    try:
        path = os.path.join(mnt, "full.pcapng")
        t.ctl("capture", "start", "pa", path)
        # About 1.1 KB a block, two blocks a ping: the disk fills up after
        # some 30 pings; the block that does not fit is cut by a page end.
        a.ns.run("ping -q -c 100 -i 0.01 -s 1000 -W 1 %s" % a.gw, check=False)
        wait_until(lambda: not cap_show(t)["running"], what="capture stopped by the full disk")
        s = cap_show(t)
        assert s["error"] == "No space left on device", s
        assert "No space left on device; capture stopped" in t.logtext()
        types = pcapng_blocks(path)
        assert types[0] == 0x0A0D0D0A and types.count(6) == s["written"] >= 20, (types, s)
        assert os.path.getsize(path) > 60 * 1024
        assert len(rdpcap(path)) == s["written"]
        r = subprocess.run(["tcpdump", "-nr", path], capture_output=True, text=True)
        assert r.returncode == 0 and "truncated" not in r.stderr, r.stderr
        assert r.stdout.count("\n") == s["written"], r.stdout
    finally:
        sh("umount -l %s" % mnt, check=False)
    t.wait_mbufs(base)
    assert t.stop() == 0
