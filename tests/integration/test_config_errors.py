# SPDX-License-Identifier: BSD-3-Clause
"""A bad config line: FILE:LINE: message on stderr, exit 2, nothing started."""

import os
import subprocess

import pytest

from conftest import EAL, TERND

GOOD_PORTS = ["port add null0 net_null0", "port add null1 net_null1"]

CASES = [
    # (lines, line number at fault, words of the message)
    (["bogus command"], 1, "unknown command 'bogus'"),
    (["workers 1", "port add null0"], 2, "usage: port add NAME DEVARGS"),
    (["port add 0bad net_null0"], 1, "port name '0bad'"),
    (["port add none net_null0"], 1, "port name 'none'"),
    (["port add all net_null0"], 1, "port name 'all'"),
    (GOOD_PORTS + ["port add null0 net_null2"], 3, "port 'null0' already exists"),
    (GOOD_PORTS + ["port add null2 net_null1"], 3, "devargs 'net_null1' already used"),
    (["port add null0 net_null0 rxq"], 1, "option 'rxq' needs a value"),
    (["port add null0 net_null0 rxq 0"], 1, "rxq '0' out of range"),
    (["port add null0 net_null0 mtu 9601"], 1, "mtu '9601' out of range"),
    (["port add null0 net_null0 mbufs lots"], 1, "mbufs 'lots' is not a number"),
    (["port add null0 net_null0 speed 10"], 1, "unknown option 'speed'"),
    (GOOD_PORTS + ["port xconnect null0 null9"], 3, "no port 'null9'"),
    (GOOD_PORTS + ["port xconnect null0"], 3, "usage: port xconnect A B|none"),
    (["workers 1-x"], 1, "lcore list '1-x'"),
    (["workers 1", "workers 1"], 2, "'workers' given twice"),
    (["workers 1,1"], 1, "lcore 1 listed twice"),
    (["workers 1,"], 1, "lcore list '1,'"),
    (["workers 1,,2"], 1, "lcore list '1,,2'"),
    (["workers ,1"], 1, "lcore list ',1'"),
    (['port add null0 "net_null0'], 1, "unterminated quote"),
    (["link show"], 1, "'link show' cannot be used in a config file"),
    (["shutdown"], 1, "cannot be used in a config file"),
    (["log level loud"], 1, "log level 'loud'"),
]


def run_ternd(tmp, text, binary=None):
    cfg = os.path.join(tmp, "bad.conf")
    sock = os.path.join(tmp, "bad.sock")
    with open(cfg, "wb") as f:
        f.write(binary if binary is not None else text.encode())
    r = subprocess.run([TERND, "-c", cfg, "-s", sock], capture_output=True, text=True,
                       timeout=60)
    return cfg, sock, r


@pytest.mark.parametrize("lines,lineno,msg", CASES, ids=[c[2][:30] for c in CASES])
def test_bad_line(tmpdir_tern, lines, lineno, msg):
    # Line 1 is the eal line, then a comment and a blank line: numbering
    # counts every physical line.
    text = "\n".join([EAL, "# comment", ""] + lines) + "\n"
    cfg, sock, r = run_ternd(tmpdir_tern, text)
    assert r.returncode == 2, r.stderr
    assert "%s:%d: " % (cfg, lineno + 3) in r.stderr, r.stderr
    assert msg in r.stderr, r.stderr
    # Nothing started: no EAL banner, no socket.
    assert "EAL" not in r.stderr and not os.path.exists(sock)


def test_binary_junk(tmpdir_tern):
    cfg, sock, r = run_ternd(tmpdir_tern, None, binary=b"workers 1\n\x7fELF\x02\x01\x00\x00junk\n")
    assert r.returncode == 2
    assert "%s:2: " % cfg in r.stderr and ("NUL" in r.stderr or "control" in r.stderr)
    assert not os.path.exists(sock)


def test_line_too_long(tmpdir_tern):
    text = EAL + "\nport add null0 net_null0," + "x" * 70000 + "\n"
    cfg, sock, r = run_ternd(tmpdir_tern, text)
    assert r.returncode == 2 and "%s:2: line longer than 65536 bytes" % cfg in r.stderr


def test_missing_file(tmpdir_tern):
    r = subprocess.run([TERND, "-c", os.path.join(tmpdir_tern, "nope.conf")],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "No such file" in r.stderr


def test_bad_command_line():
    r = subprocess.run([TERND], capture_output=True, text=True)
    assert r.returncode == 2 and "usage" in r.stderr
    r = subprocess.run([TERND, "-c", "x", "-l", "loud"], capture_output=True, text=True)
    assert r.returncode == 2 and "bad log level" in r.stderr


def test_boot_failure_starts_nothing(tmpdir_tern):
    """A line that parses but cannot be brought up (no such device) fails the
    boot with exit 2 and leaves no socket or hugepage files behind."""
    text = "\n".join([EAL, "workers 1", "port add bad net_nosuchdriver0"]) + "\n"
    cfg, sock, r = run_ternd(tmpdir_tern, text)
    assert r.returncode == 2, r.stderr
    assert "%s:3: port bad: cannot probe" % cfg in r.stderr and "cannot start" in r.stderr
    assert not os.path.exists(sock)


def test_worker_not_in_eal(tmpdir_tern):
    text = "\n".join([EAL, "workers 3", "port add null0 net_null0"]) + "\n"
    cfg, sock, r = run_ternd(tmpdir_tern, text)
    assert r.returncode == 2 and "%s:2: workers: lcore 3 is not enabled" % cfg in r.stderr
    assert not os.path.exists(sock)


def test_check_mode_reports_bad_line(tmpdir_tern):
    cfg = os.path.join(tmpdir_tern, "c.conf")
    with open(cfg, "w") as f:
        f.write(EAL + "\nworkers one\n")
    r = subprocess.run([TERND, "-t", "-c", cfg], capture_output=True, text=True)
    assert r.returncode == 2 and "%s:2: lcore list 'one'" % cfg in r.stderr


def test_rx_queues_over_worker_cap(tmpdir_tern):
    """Each port's rxq is within its limit, but together they give the one
    worker more RX queues than it can poll: the port line that goes over
    is named (line 1 eal, 2 workers, ports from line 3)."""
    ports = ["port add p%d net_ring%d rxq 4" % (i, i) for i in range(17)]
    text = "\n".join([EAL, "workers 1"] + ports) + "\n"
    cfg, sock, r = run_ternd(tmpdir_tern, text)
    assert r.returncode == 2, r.stderr
    # 16 ports fill the 64 queues; the 17th (p16, line 19) is one too many.
    assert "%s:19: port p16: rxq 4: worker 0" % cfg in r.stderr, r.stderr
    assert "more than 64 RX queues" in r.stderr and "cannot start" in r.stderr
    assert not os.path.exists(sock)
