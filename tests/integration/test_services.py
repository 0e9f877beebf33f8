# SPDX-License-Identifier: BSD-3-Clause
"""The built-in services (http, tcp-echo) against hostile or broken peers:
a client that resets while ternd still has output for it, malformed
requests on a kept-alive connection.  Every test checks that ternd lets go
of the connection and that its mbuf pools come back to where they were."""

from conftest import config, wait_until
from peers import host, links_up, one_host


def run_py(ns, code, timeout=60):
    """Run python code in ns; return what it prints."""
    return ns.run("/usr/bin/python3 -c '%s'" % code.replace("'", "'\\''"),
                  timeout=timeout).stdout


def tcp_conns(t):
    """Connections ternd holds, listeners included (tcp stats)."""
    return t.ctl("tcp", "stats", json_out=True)["Connections"]


def no_conns(t):
    """Only listeners left, and TIME-WAIT where ternd closed first."""
    return all(c["state"] in ("LISTEN", "TIME_WAIT")
               for c in t.ctl("conn", "show", json_out=True)["connections"])


# A client that fills ternd's send buffer (it never reads, with a small
# receive window), then resets the connection (SO_LINGER 0).
RESET_WITH_OUTPUT_PENDING = """
import socket, struct, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.connect((%(addr)r, %(port)d))
s.sendall(%(first)r)
s.setblocking(False)
chunk = b"x" * 65536
deadline = time.time() + 10
stalled = 0
while time.time() < deadline and stalled < 10 and %(push)r:
    try:
        s.send(chunk)
        stalled = 0
    except BlockingIOError:
        stalled += 1
        time.sleep(0.1)
time.sleep(0.5)
s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
s.close()
print("reset")
"""


def test_echo_peer_resets_with_output_pending(ternd_factory, netns_factory):
    """tcp-echo stops reading a client that does not read its echo (its
    send buffer is full); when that client resets, ternd must close the
    socket: a reset connection has no room to send ever, and waiting for
    EPOLLOUT on it kept it (and its buffers) forever, polled every loop."""
    t, a = one_host(ternd_factory, netns_factory, "service tcp-echo")
    base = t.mbufs_in_use()
    assert tcp_conns(t) == 1
    out = run_py(a.ns, RESET_WITH_OUTPUT_PENDING % dict(addr=a.gw, port=7, first=b"",
                                                         push=True))
    assert out.strip() == "reset"
    wait_until(lambda: tcp_conns(t) == 1, what="the reset connection freed")
    t.wait_mbufs(base)


def test_http_peer_resets_with_response_pending(ternd_factory, netns_factory):
    """http answers a large /bytes to a client that does not read, which
    then resets: the send fails with ECONNRESET from then on, and ternd
    must close the connection rather than wait for send space forever."""
    t, a = one_host(ternd_factory, netns_factory, "service http")
    base = t.mbufs_in_use()
    req = b"GET /bytes/100000000 HTTP/1.1\r\nHost: x\r\n\r\n"
    out = run_py(a.ns, RESET_WITH_OUTPUT_PENDING % dict(addr=a.gw, port=80, first=req,
                                                         push=False))
    assert out.strip() == "reset"
    wait_until(lambda: tcp_conns(t) == 1, what="the reset connection freed")
    t.wait_mbufs(base)


# Two requests on one kept-alive connection; prints each answer's status.
TWO_REQUESTS = """
import socket
s = socket.create_connection((%(addr)r, 80), timeout=5)
s.sendall(%(first)r)
got = b""
while not got.endswith(b"abc"):
    got += s.recv(4096)
print(got.split(b"\\r\\n")[0].decode())
s.sendall(%(second)r)
got = b""
while b"\\r\\n\\r\\n" not in got:
    d = s.recv(4096)
    if not d:
        break
    got += d
print(got.split(b"\\r\\n")[0].decode())
"""


def test_http_malformed_request_after_a_longer_one(ternd_factory, netns_factory):
    """A request line with no path and no version is a 400, even when an
    earlier, longer request on the same connection left its bytes behind
    in the input buffer: the parser read past the request it was given
    (and, the buffer not being a string, could read past its end), so
    "GET" after "GET /bytes/3 HTTP/1.1" was taken as a GET of "tes/3"."""
    t, a = one_host(ternd_factory, netns_factory, "service http")
    base = t.mbufs_in_use()
    out = run_py(a.ns, TWO_REQUESTS % dict(addr=a.gw,
                                           first=b"GET /bytes/3 HTTP/1.1\r\n\r\n",
                                           second=b"GET\r\n\r\n"))
    assert out.splitlines() == ["HTTP/1.1 200 OK", "HTTP/1.1 400 Bad Request"], out
    wait_until(lambda: no_conns(t), what="connection closed")
    t.wait_mbufs(base)


# Three clients: one sends nothing, one trickles a request a byte every
# 2 s (slowloris), one asks for 100 MB and never reads.  Prints how each
# connection ended and after how many seconds.
SLOW_CLIENTS = """
import socket, time
def conn():
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect((%(addr)r, 80))
    s.setblocking(False)
    return s
idle, drip, reader = conn(), conn(), conn()
reader.send(b"GET /bytes/100000000 HTTP/1.1\\r\\n\\r\\n")
req = b"GET / HTTP/1.1\\r\\nX: " + b"y" * 1000
t0 = time.time()
ended = {}
i = 0
while ("idle" not in ended or "drip" not in ended) and time.time() - t0 < %(limit)d:
    for name, s in (("idle", idle), ("drip", drip), ("reader", reader)):
        if name in ended:
            continue
        try:
            if name == "drip":
                s.send(req[i %% len(req):i %% len(req) + 1])
            if name != "reader":
                d = s.recv(1)
                if d == b"":
                    ended[name] = ("eof", time.time() - t0)
        except BlockingIOError:
            pass
        except OSError as e:
            ended[name] = (type(e).__name__, time.time() - t0)
    i += 1
    time.sleep(2)
for name in ("idle", "drip", "reader"):
    what, when = ended.get(name, ("open", 0))
    print(name, what, int(when))
"""


def test_http_slow_clients_timed_out(ternd_factory, netns_factory):
    """A connection that sends no request, one that trickles its request a
    byte at a time (slowloris) and one that never reads its response each
    held a connection slot for ever: a few thousand of them took every one
    a worker has.  Each is now reset 30 s (HTTP_TIMEOUT_MS) after it last
    made progress: for a request that is from when the server started
    waiting for it, not from its last byte."""
    t, a = one_host(ternd_factory, netns_factory, "service http")
    base = t.mbufs_in_use()
    out = run_py(a.ns, SLOW_CLIENTS % dict(addr=a.gw, limit=50), timeout=90)
    ended = {l.split()[0]: (l.split()[1], int(l.split()[2])) for l in out.splitlines()}
    for name in ("idle", "drip"):
        what, when = ended[name]
        assert what in ("eof", "ConnectionResetError") and 28 <= when <= 40, out
    # The reader never reads, so it cannot see the reset while its own
    # receive queue is full; ternd's side is gone all the same.
    wait_until(lambda: tcp_conns(t) == 1, what="every slow connection freed")
    t.wait_mbufs(base)


def test_udp_echo_refuses_a_port_a_socket_holds(ternd_factory, netns_factory):
    """`service udp-echo port N` on a port an application's UDP socket is
    bound to (tern-upper's 7777) is EADDRINUSE, as binding that socket to
    udp-echo's port is: udp_input hands a port's datagrams to a built-in
    receiver before any socket, so the echo used to take the port from
    the application without a word."""
    from test_examples import UPPER
    a = host(netns_factory, "tsu", default_route=False)
    t = ternd_factory(config("port add pa net_af_packet0,iface=%s" % a.outer,
                             "addr add %s/24 dev pa" % a.gw), binary=UPPER)
    links_up(t, "pa")
    base = t.mbufs_in_use()
    r = t.ctl("service", "udp-echo", "port", "7777", check=False)
    assert r.returncode != 0 and "in use" in r.stderr, (r.stdout, r.stderr)
    assert "udp-echo" not in t.ctl("show", "running-config")
    t.ctl("service", "udp-echo", "port", "7778")
    r = a.ns.run("sh -c 'printf \"udp hello\" | socat -t 1 - UDP:%s:7777'" % a.gw)
    assert r.stdout == "UDP HELLO"
    r = a.ns.run("sh -c 'printf \"udp hello\" | socat -t 1 - UDP:%s:7778'" % a.gw)
    assert r.stdout == "udp hello"
    t.wait_mbufs(base)
