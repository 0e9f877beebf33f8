# SPDX-License-Identifier: BSD-3-Clause
"""Bad input on the management socket: each gets an error reply or is
dropped, and ternd keeps running and forwarding."""

import errno
import json
import os
import socket
import stat
import subprocess
import threading
import time

import pytest

from conftest import TERNCTL, Conn, config, read_reply, request

NULL_XC = config("port add null0 net_null0,size=64",
                 "port add null1 net_null1,size=64",
                 "port xconnect null0 null1")


@pytest.fixture
def t(ternd_factory):
    t = ternd_factory(NULL_XC)
    yield t
    # After any abuse: still forwarding, still answering, clean stop.
    a = t.node("xconnect")["packets"]
    time.sleep(0.2)
    assert t.node("xconnect")["packets"] > a
    assert t.stop() == 0


def test_socket_mode(t):
    st = os.stat(t.sock)
    assert stat.S_ISSOCK(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o660


def test_unknown_command(t):
    status, msg = request(t.sock, b"frobnicate now\n")
    assert status == errno.ENOENT and "unknown command 'frobnicate'" in msg


def test_wrong_arity(t):
    status, msg = request(t.sock, b"link show a b\n")
    assert status == errno.EINVAL and msg.startswith("usage: link show [NAME]")
    status, msg = request(t.sock, b"stats\n")
    assert status == errno.EINVAL and "usage: stats" in msg


def test_boot_only_at_runtime(t):
    status, msg = request(t.sock, b"port add x net_null5\n")
    assert status == errno.EPERM and "boot-only" in msg
    status, _ = request(t.sock, b"workers 1\n")
    assert status == errno.EPERM


def test_bad_arguments(t):
    status, msg = request(t.sock, b"port xconnect null0 nowhere\n")
    assert status == errno.ENODEV and "no port 'nowhere'" in msg
    status, msg = request(t.sock, b"log level shouty\n")
    assert status == errno.EINVAL and "'shouty'" in msg
    status, msg = request(t.sock, b'link show "unterminated\n')
    assert status == errno.EINVAL and "unterminated quote" in msg


def test_json_error(t):
    status, msg = request(t.sock, b"-j nonsense\n")
    assert status == errno.ENOENT and "unknown command" in json.loads(msg)["error"]


def test_empty_line(t):
    status, msg = request(t.sock, b"\n")
    assert status == errno.EINVAL and "empty" in msg


def test_binary_junk(t):
    status, msg = request(t.sock, b"\x00\x01\x02\xff\xfe junk\n")
    assert status == errno.EINVAL and "binary data" in msg
    # The same connection keeps working after junk.
    s = socket.socket(socket.AF_UNIX)
    s.connect(t.sock)
    s.sendall(b"\x1b[A\x7f\n")
    assert read_reply(s)[0] == errno.EINVAL
    s.sendall(b"version\n")
    assert read_reply(s)[0] == 0
    s.close()


def test_line_over_64k(t):
    s = socket.socket(socket.AF_UNIX)
    s.connect(t.sock)
    s.settimeout(10)
    try:
        s.sendall(b"link show " + b"x" * 70000 + b"\n")
    except (BrokenPipeError, ConnectionResetError):
        pass  # ternd may close before we finish sending; the reply came first
    status, msg = read_reply(s)
    assert status == errno.EMSGSIZE and "65536" in msg
    # ternd closes the connection: it cannot find where the next request starts.
    s.settimeout(5)
    try:
        rest = s.recv(10)
    except ConnectionResetError:
        rest = b""
    assert rest == b""
    s.close()


def test_exactly_64k_line_is_served(t):
    # 65535 bytes plus the newline is the largest request.
    line = b"help " + b"x" * (65535 - 5) + b"\n"
    assert len(line) == 65536
    status, msg = request(t.sock, line)
    assert status == errno.ENOENT and "no command" in msg


def test_disconnect_mid_request(t):
    for _ in range(20):
        s = socket.socket(socket.AF_UNIX)
        s.connect(t.sock)
        s.sendall(b"link sh")
        s.close()
    s = socket.socket(socket.AF_UNIX)
    s.connect(t.sock)
    s.sendall(b"stats show\n")
    s.close()  # gone before reading the reply
    assert request(t.sock, b"version\n")[0] == 0


def test_pipelined_requests(t):
    c = Conn(t.sock)
    c.send(b"version\nbogus\n-j version\n")
    assert c.reply()[0] == 0
    assert c.reply()[0] == errno.ENOENT
    st, payload = c.reply()
    assert st == 0 and "version" in json.loads(payload)
    c.close()


def test_many_clients(t):
    # More clients than ternd serves at once (64): the extra ones get EBUSY
    # and are closed; every one that is served gets a full, correct reply.
    socks = []
    for _ in range(100):
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(10)
        for _ in range(100):  # a full backlog says EAGAIN: retry like a client would
            try:
                s.connect(t.sock)
                break
            except BlockingIOError:
                time.sleep(0.01)
        socks.append(s)
    time.sleep(0.3)
    results = []
    for s in socks:
        # A refused client finds its EBUSY reply waiting before it asks.
        s.setblocking(False)
        try:
            early = s.recv(1, socket.MSG_PEEK)
        except BlockingIOError:
            early = None
        s.settimeout(10)
        if early:
            results.append(read_reply(s)[0])
            s.close()
            continue
        try:
            s.sendall(b"-j link show\n")
            st, payload = read_reply(s)
            if st == 0:
                assert len(json.loads(payload)["ports"]) == 2
            results.append(st)
        except (ConnectionError, BrokenPipeError, OSError):
            results.append(-1)
        s.close()
    assert results.count(0) >= 64
    assert errno.EBUSY in results, "the 65th client should have been refused"
    assert all(r in (0, errno.EBUSY, -1) for r in results)


def test_concurrent_clients(t):
    errors = []

    def worker():
        try:
            for _ in range(20):
                st, payload = request(t.sock, b"-j stats show\n")
                assert st == 0 and json.loads(payload)["workers"]
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=worker) for _ in range(16)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(60)
    assert not errors, errors


def test_slow_reader_does_not_block_others(t):
    # A client that asks for a lot and never reads must not stall ternd.
    s = socket.socket(socket.AF_UNIX)
    s.connect(t.sock)
    s.sendall(b"stats show\n" * 2000)
    time.sleep(0.5)
    assert request(t.sock, b"version\n", timeout=5)[0] == 0
    s.close()


def test_ternctl_quotes_hash_and_cr(t):
    # ternd takes a word starting with '#' as a comment and '\r' as a blank:
    # ternctl must quote such words so they arrive as one argument.
    r = t.ctl("link", "show", "#null0", check=False)
    assert r.returncode != 0 and "no port '#null0'" in r.stderr, (r.stdout, r.stderr)
    r = subprocess.run([TERNCTL, "-s", t.sock, "link", "show", "null0\rnull1"],
                       capture_output=True, timeout=30)
    assert r.returncode != 0 and b"no port 'null0\rnull1'" in r.stderr, (r.stdout, r.stderr)
