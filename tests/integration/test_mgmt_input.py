# SPDX-License-Identifier: BSD-3-Clause
"""Bad input on the management socket: each gets an error reply or is
dropped, and ternd keeps running and forwarding."""

import errno
import json
import os
import select
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


def test_nat_rule_errors_name_the_rule(t):
    rule = ["snat", "src", "10.0.0.0/8", "out", "null0"]
    t.ctl("nat", "add", *rule)
    r = t.ctl("nat", "add", *rule, check=False)
    assert r.returncode == 1 and "rule 'snat src 10.0.0.0/8 out null0' exists already" in r.stderr
    t.ctl("nat", "del", *rule)
    r = t.ctl("nat", "del", *rule, check=False)
    assert r.returncode == 1 and "rule 'snat src 10.0.0.0/8 out null0' does not exist" in r.stderr


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


# Enough routes that `route show` is over 64 MiB (about 85 bytes a route):
# the most output ternd lets pile up for a client that does not read.
BIG_ROUTES = 820000


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    from conftest import Ternd
    lines = ["ip fib-size %d" % (BIG_ROUTES + 1024),
             "port add p0 net_null0,no-rx=1",
             "addr add 10.0.0.1/24 dev p0"]
    lines += ["route add %d.%d.%d.0/24 via 10.0.0.2" % (11 + (i >> 16), (i >> 8) & 255, i & 255)
              for i in range(BIG_ROUTES)]
    t = Ternd(config(*lines), str(tmp_path_factory.mktemp("big")))
    t.start(timeout=120)
    yield t
    assert t.stop() == 0
    t.__exit__()


class Reader:
    """Replies from socket s, fast for replies of many MB and for many small
    ones (Conn grows a bytes object chunk by chunk: quadratic here)."""

    def __init__(self, s):
        self.s, self.buf, self.pos = s, bytearray(), 0

    def _fill(self):
        if self.pos > (1 << 20):
            del self.buf[:self.pos]
            self.pos = 0
        chunk = self.s.recv(1 << 20)
        assert chunk, "closed by ternd"
        self.buf += chunk

    def reply(self):
        while self.buf.find(b"\n", self.pos) < 0:
            self._fill()
        i = self.buf.index(b"\n", self.pos)
        status, length = (int(x) for x in bytes(self.buf[self.pos:i]).split())
        self.pos = i + 1
        while len(self.buf) - self.pos < length:
            self._fill()
        payload = bytes(self.buf[self.pos:self.pos + length])
        self.pos += length
        return status, payload

    def empty(self):
        return self.pos == len(self.buf)


def test_reply_over_64mib_reaches_a_reader(big):
    # One reply larger than the backlog limit goes to a client that reads it.
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(60)
    s.connect(big.sock)
    s.sendall(b"route show\nversion\n")
    rd = Reader(s)
    st, payload = rd.reply()
    assert st == 0 and len(payload) > 64 << 20
    assert payload.count(b"via: 10.0.0.2") == BIG_ROUTES
    assert rd.reply()[0] == 0 and rd.empty()
    s.close()
    r = subprocess.run([TERNCTL, "-s", big.sock, "route", "show"], capture_output=True,
                       timeout=120)
    assert r.returncode == 0 and len(r.stdout) > 64 << 20, r.stderr


def test_non_reader_is_held_back(big):
    # A client with over 64 MiB of replies unread gets nothing more served
    # until it reads: its further requests wait in its socket (which fills
    # up, so its sends block) instead of as replies in ternd's memory.
    # Other clients are served meanwhile, and once it reads, it gets every
    # reply in order.
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(60)
    s.connect(big.sock)
    s.sendall(b"route show\n")
    s.recv(1, socket.MSG_PEEK)  # its 70 MB reply is queued
    req = b"version\n"
    chunk = req * 8192
    sent, held = 0, False
    s.setblocking(False)
    deadline = time.time() + 20
    while sent < (32 << 20) and time.time() < deadline:
        if not select.select([], [s], [], 2)[1]:
            held = True  # 2 s without room: ternd is not reading
            break
        sent += s.send(chunk[sent % len(req):])
    assert held, "ternd kept serving a client with 64 MiB of unread replies"
    assert request(big.sock, b"version\n", timeout=5)[0] == 0
    s.setblocking(True)
    s.settimeout(60)
    rd = Reader(s)
    st, payload = rd.reply()
    assert st == 0 and len(payload) > 64 << 20
    if sent % len(req):
        s.sendall(req[sent % len(req):])  # the end of the last request line
    n = (sent + len(req) - 1) // len(req)
    for _ in range(n):
        st, payload = rd.reply()
        assert st == 0 and payload.startswith(b"version: ")
    s.sendall(b"bogus\n")
    assert rd.reply()[0] == errno.ENOENT and rd.empty()
    s.close()
