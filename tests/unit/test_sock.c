/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The socket API (stack/tcp/socket.c) on one hand-built worker: a TCP
 * stack, a socket table, an mbuf pool and a datapath with a real rte_fib
 * (hence EAL, without hugepages, PCI or shared config).  Datagrams arrive
 * through tern_sock_udp_deliver(), as udp_sock hands them over; what the
 * sockets send stays in the worker's pending queue for the test to read.
 *
 * Topology (as tests/unit/test_ip.c):
 *   port 0  10.0.0.1/24
 *   port 1  10.1.0.1/24
 *
 * The example application app/examples/upper.c is compiled in, so that
 * its start can be made to fail partway.
 *
 * Every test ends with all mbufs back in the pool and every socket, epoll
 * set and connection block free.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <rte_eal.h>
#include <rte_fib.h>
#include <rte_ip.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_udp.h>

#include "core/dp.h"
#include "core/mbuf.h"
#include "core/worker.h"
#include "ip/ip.h"
#include "tcp/socket.h"
#include "tcp/socket_priv.h"
#include "tcp/tcp_worker.h"

/* upper.c's main() would clash with ours. */
int upper_main(int argc, char **argv);
#define main upper_main
#include "../../app/examples/upper.c"
#undef main

#define IP4(a, b, c, d) (((uint32_t)(a) << 24) | ((uint32_t)(b) << 16) | ((uint32_t)(c) << 8) | (d))

#define US0   IP4(10, 0, 0, 1)
#define US1   IP4(10, 1, 0, 1)
#define BC0   IP4(10, 0, 0, 255)
#define PEER  IP4(10, 0, 0, 2)
#define PEER2 IP4(10, 0, 0, 3)

enum {
	NH_P0_LOCAL = 1,
	NH_P0_CONNECTED,
	NH_P0_BCAST,
	NH_P1_LOCAL,
	NH_P1_CONNECTED,
	NH_P1_BCAST,
	NH_COUNT
};

static struct tern_nexthop nh[NH_COUNT];
static struct rte_fib *fib;
static struct tern_dp dp;
static struct rte_mempool *pool;

/* The worker under test, fresh for each test. */
static struct {
	struct tern_worker *w;
	struct tcp_worker *tw;
	unsigned nb_socks; /* sockets a fresh table gives */
} E;

static int
no_output(void *ctx, const struct tcp_out *o)
{
	(void)ctx;
	(void)o;
	return 0;
}

static void
on_event(void *ctx, struct tcp_conn *c, unsigned ev)
{
	tern_sock_event(ctx, c, ev);
}

static const struct tcp_ops ops = { .output = no_output, .event = on_event };

static unsigned count_free_socks(void);

static int
setup(void **state)
{
	static const uint8_t key[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };
	struct tcp_cfg cfg;

	(void)state;
	E.w = rte_zmalloc("test_sock_w", sizeof(*E.w), RTE_CACHE_LINE_SIZE);
	E.tw = rte_zmalloc("test_sock_tw", sizeof(*E.tw), RTE_CACHE_LINE_SIZE);
	if (E.w == NULL || E.tw == NULL)
		return -1;
	E.w->dp = &dp;
	tern_wheel_init(&E.w->wheel, 0);
	tcp_cfg_default(&cfg);
	cfg.max_conns = 16;
	E.tw->w = E.w;
	E.tw->pool = pool;
	E.tw->st = tcp_stack_create(&cfg, &ops, E.tw, &E.w->wheel, key);
	if (E.tw->st == NULL)
		return -1;
	E.tw->socks = tern_sock_table_create(E.tw);
	if (E.tw->socks == NULL)
		return -1;
	tern_sock_enter(E.tw);
	E.nb_socks = count_free_socks();
	return 0;
}

static int
teardown(void **state)
{
	unsigned socks, conns;

	(void)state;
	for (uint32_t i = 0; i < E.tw->npending; i++)
		rte_pktmbuf_free(E.tw->pending[i]);
	E.tw->npending = 0;
	/* Everything a test opened, it closed; check after cleaning up, so
	 * that one failure does not spill into the next test. */
	socks = count_free_socks();
	conns = tcp_stack_nb_conns(E.tw->st);
	tern_sock_enter(NULL);
	tern_sock_table_destroy(E.tw->socks);
	tcp_stack_destroy(E.tw->st);
	rte_free(E.tw);
	rte_free(E.w);
	assert_int_equal(socks, E.nb_socks);
	assert_int_equal(conns, 0);
	assert_int_equal(rte_mempool_in_use_count(pool), 0);
	return 0;
}

/* How many sockets tern_socket() would still give (it takes and returns
 * them all). */
static unsigned
count_free_socks(void)
{
	static int fds[1024];
	unsigned n = 0;
	int fd;

	while (n < RTE_DIM(fds) && (fd = tern_socket(SOCK_DGRAM)) >= 0)
		fds[n++] = fd;
	for (unsigned i = 0; i < n; i++)
		tern_close(fds[i]);
	return n;
}

static struct sockaddr_in
addr_in(uint32_t addr, uint16_t port)
{
	return (struct sockaddr_in){ .sin_family = AF_INET,
		                     .sin_addr.s_addr = htonl(addr),
		                     .sin_port = htons(port) };
}

static int
udp_socket_bound(uint32_t addr, uint16_t port, bool reuse)
{
	struct sockaddr_in a = addr_in(addr, port);
	int fd = tern_socket(SOCK_DGRAM), one = 1;

	assert_true(fd >= 0);
	if (reuse)
		assert_int_equal(tern_setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)),
		                 0);
	assert_int_equal(tern_bind(fd, &a), 0);
	return fd;
}

/* A datagram src:sport -> dst:dport with `len` bytes of `fill`, laid out
 * as udp_sock gets it (IPv4 header at data, l3_len set). */
static struct rte_mbuf *
udp_pkt(uint32_t src, uint16_t sport, uint32_t dst, uint16_t dport, uint16_t len, char fill)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
	struct rte_ipv4_hdr *ip;
	struct rte_udp_hdr *u;

	assert_non_null(m);
	ip = (struct rte_ipv4_hdr *)rte_pktmbuf_append(m,
	                                               (uint16_t)(sizeof(*ip) + sizeof(*u) + len));
	assert_non_null(ip);
	u = (struct rte_udp_hdr *)(ip + 1);
	*ip = (struct rte_ipv4_hdr){
		.version_ihl = RTE_IPV4_VHL_DEF,
		.total_length = htons((uint16_t)(sizeof(*ip) + sizeof(*u) + len)),
		.time_to_live = 64,
		.next_proto_id = IPPROTO_UDP,
		.src_addr = htonl(src),
		.dst_addr = htonl(dst),
	};
	*u = (struct rte_udp_hdr){ .src_port = htons(sport),
		                   .dst_port = htons(dport),
		                   .dgram_len = htons((uint16_t)(sizeof(*u) + len)) };
	memset(u + 1, fill, len);
	m->l3_len = sizeof(*ip);
	return m;
}

/* Hand a datagram to the sockets as udp_sock does; returns its verdict
 * and frees what no socket took. */
static int
deliver(uint32_t src, uint16_t sport, uint32_t dst, uint16_t dport, uint16_t len, char fill)
{
	struct rte_mbuf *m = udp_pkt(src, sport, dst, dport, len, fill);
	int rc = tern_sock_udp_deliver(E.tw, m, dport);

	if (rc != 0)
		rte_pktmbuf_free(m);
	return rc;
}

/* Read one datagram; returns its length and checks its first byte. */
static ssize_t
recv_one(int fd, char fill)
{
	char buf[2048];
	ssize_t n = tern_recvfrom(fd, buf, sizeof(buf), NULL);

	if (n > 0)
		assert_int_equal(buf[0], fill);
	return n;
}

/* ---- 1. specific and wildcard binds ------------------------------------ */

static void
test_udp_bind_specific_hears_only_its_address(void **state)
{
	int fd = udp_socket_bound(US0, 5000, false);

	(void)state;
	assert_int_equal(deliver(PEER, 4000, US1, 5000, 3, 'b'), -ENOENT);
	assert_int_equal(deliver(PEER, 4000, BC0, 5000, 3, 'c'), -ENOENT);
	assert_int_equal(deliver(PEER, 4000, US0, 5000, 3, 'a'), 0);
	assert_int_equal(recv_one(fd, 'a'), 3);
	assert_int_equal(recv_one(fd, 'a'), -EAGAIN);
	assert_int_equal(tern_close(fd), 0);
}

static void
test_udp_bind_wildcard_hears_the_rest(void **state)
{
	int sp = udp_socket_bound(US0, 5000, true), wc = udp_socket_bound(0, 5000, true);

	(void)state;
	assert_int_equal(deliver(PEER, 4000, US0, 5000, 1, 's'), 0);
	assert_int_equal(deliver(PEER, 4000, US1, 5000, 2, 'w'), 0);
	assert_int_equal(deliver(PEER, 4000, BC0, 5000, 3, 'w'), 0);
	assert_int_equal(recv_one(sp, 's'), 1);
	assert_int_equal(recv_one(sp, 's'), -EAGAIN);
	assert_int_equal(recv_one(wc, 'w'), 2);
	assert_int_equal(recv_one(wc, 'w'), 3);
	/* With the specific socket gone, the wildcard hears its address too. */
	assert_int_equal(tern_close(sp), 0);
	assert_int_equal(deliver(PEER, 4000, US0, 5000, 4, 'w'), 0);
	assert_int_equal(recv_one(wc, 'w'), 4);
	assert_int_equal(tern_close(wc), 0);
	assert_int_equal(deliver(PEER, 4000, US0, 5000, 4, 'x'), -ENOENT);
}

static void
test_udp_bind_connected_specific_leaves_others_to_wildcard(void **state)
{
	int sp = udp_socket_bound(US0, 5000, true), wc = udp_socket_bound(0, 5000, true);
	struct sockaddr_in peer = addr_in(PEER, 4000);

	(void)state;
	assert_int_equal(tern_connect(sp, &peer), 0);
	assert_int_equal(deliver(PEER, 4000, US0, 5000, 1, 'p'), 0);
	assert_int_equal(deliver(PEER2, 4000, US0, 5000, 2, 'o'), 0);
	assert_int_equal(recv_one(sp, 'p'), 1);
	assert_int_equal(recv_one(sp, 'p'), -EAGAIN);
	assert_int_equal(recv_one(wc, 'o'), 2);
	assert_int_equal(tern_close(sp), 0);
	assert_int_equal(tern_close(wc), 0);
}

static void
test_udp_bind_conflicts_as_linux(void **state)
{
	struct sockaddr_in any = addr_in(0, 5000), us0 = addr_in(US0, 5000),
	                   us1 = addr_in(US1, 5000);
	int a = udp_socket_bound(0, 5000, false), b = tern_socket(SOCK_DGRAM), c, one = 1;

	(void)state;
	/* A wildcard holds the port: no specific bind, and no second wildcard. */
	assert_int_equal(tern_bind(b, &us0), -EADDRINUSE);
	assert_int_equal(tern_bind(b, &any), -EADDRINUSE);
	/* SO_REUSEADDR on one side only is not enough. */
	assert_int_equal(tern_setsockopt(b, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)), 0);
	assert_int_equal(tern_bind(b, &us0), -EADDRINUSE);
	assert_int_equal(tern_close(a), 0);

	/* Two specific addresses share a port; then no wildcard fits. */
	a = udp_socket_bound(US0, 5000, false);
	c = udp_socket_bound(US1, 5000, false);
	assert_int_equal(tern_close(b), 0);
	b = tern_socket(SOCK_DGRAM);
	assert_int_equal(tern_bind(b, &any), -EADDRINUSE);
	assert_int_equal(tern_bind(b, &us1), -EADDRINUSE);
	assert_int_equal(tern_close(c), 0);
	assert_int_equal(tern_bind(b, &us1), 0);
	assert_int_equal(tern_close(a), 0);
	assert_int_equal(tern_close(b), 0);
}

/* ---- 2. only our addresses ---------------------------------------------- */

static void
test_bind_address_not_ours(void **state)
{
	static const uint32_t bad[] = { IP4(10, 0, 0, 9), BC0, IP4(224, 0, 0, 1), 0xffffffffu,
		                        IP4(192, 0, 2, 1) };
	static const int types[] = { SOCK_DGRAM, SOCK_STREAM };

	(void)state;
	for (unsigned t = 0; t < RTE_DIM(types); t++) {
		for (unsigned i = 0; i < RTE_DIM(bad); i++) {
			int fd = tern_socket(types[t]);
			struct sockaddr_in a = addr_in(bad[i], 5000), got;

			assert_int_equal(tern_bind(fd, &a), -EADDRNOTAVAIL);
			assert_int_equal(tern_getsockname(fd, &got), 0);
			assert_int_equal(got.sin_addr.s_addr, 0);
			assert_int_equal(got.sin_port, 0);
			assert_int_equal(tern_close(fd), 0);
		}
	}
	/* Ours, on either port, and the wildcard. */
	for (unsigned t = 0; t < RTE_DIM(types); t++) {
		const uint32_t good[] = { US0, US1, 0 };
		for (unsigned i = 0; i < RTE_DIM(good); i++) {
			int fd = tern_socket(types[t]);
			struct sockaddr_in a = addr_in(good[i], (uint16_t)(5001 + i));

			assert_int_equal(tern_bind(fd, &a), 0);
			if (types[t] == SOCK_STREAM)
				assert_int_equal(tern_listen(fd, 4), 0);
			assert_int_equal(tern_close(fd), 0);
		}
	}
}

/* ---- 3. getpeername and FIONREAD on UDP --------------------------------- */

static void
test_udp_getpeername(void **state)
{
	int fd = tern_socket(SOCK_DGRAM);
	struct sockaddr_in peer = addr_in(PEER, 4000), got;

	(void)state;
	assert_int_equal(tern_getpeername(fd, &got), -ENOTCONN);
	assert_int_equal(tern_connect(fd, &peer), 0);
	assert_int_equal(tern_getpeername(fd, &got), 0);
	assert_int_equal(got.sin_family, AF_INET);
	assert_int_equal(got.sin_addr.s_addr, htonl(PEER));
	assert_int_equal(got.sin_port, htons(4000));
	assert_int_equal(tern_close(fd), 0);
}

static void
test_udp_fionread_is_next_datagram(void **state)
{
	int fd = udp_socket_bound(0, 5000, false), v = -1;

	(void)state;
	assert_int_equal(tern_ioctl(fd, FIONREAD, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(deliver(PEER, 4000, US0, 5000, 5, 'a'), 0);
	assert_int_equal(deliver(PEER, 4000, US0, 5000, 100, 'b'), 0);
	assert_int_equal(deliver(PEER, 4000, US0, 5000, 0, 'c'), 0);
	assert_int_equal(tern_ioctl(fd, FIONREAD, &v), 0);
	assert_int_equal(v, 5);
	assert_int_equal(recv_one(fd, 'a'), 5);
	assert_int_equal(tern_ioctl(fd, SIOCINQ, &v), 0);
	assert_int_equal(v, 100);
	assert_int_equal(recv_one(fd, 'b'), 100);
	assert_int_equal(tern_ioctl(fd, SIOCINQ, &v), 0);
	assert_int_equal(v, 0); /* an empty datagram, still queued */
	assert_int_equal(recv_one(fd, 'c'), 0);
	assert_int_equal(tern_ioctl(fd, SIOCOUTQ, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(tern_ioctl(fd, 0x1234, &v), -ENOTTY);
	assert_int_equal(tern_close(fd), 0);
}

/* ---- 4. destinations sendto refuses ------------------------------------- */

static void
test_udp_sendto_refused_destinations(void **state)
{
	static const struct {
		uint32_t addr;
		uint16_t port;
		int err;
	} bad[] = {
		{ PEER, 0, -EINVAL },
		{ IP4(224, 0, 0, 1), 5000, -ENETUNREACH },
		{ IP4(239, 1, 2, 3), 5000, -ENETUNREACH },
		{ 0xffffffffu, 5000, -EACCES },
		{ BC0, 5000, -EACCES },
		/* This host: Linux's loopback, which tern has not. */
		{ 0, 5000, -ENETUNREACH },
		{ IP4(0, 1, 2, 3), 5000, -ENETUNREACH },
		{ IP4(127, 0, 0, 1), 5000, -ENETUNREACH },
		/* No route. */
		{ IP4(192, 168, 9, 9), 5000, -ENETUNREACH },
	};
	int fd = tern_socket(SOCK_DGRAM);
	struct sockaddr_in got, ok = addr_in(PEER, 5000);

	(void)state;
	for (unsigned i = 0; i < RTE_DIM(bad); i++) {
		struct sockaddr_in to = addr_in(bad[i].addr, bad[i].port);

		assert_int_equal(tern_sendto(fd, "x", 1, &to), bad[i].err);
		assert_int_equal(tern_connect(fd, &to), bad[i].err);
		assert_int_equal(tern_getpeername(fd, &got), -ENOTCONN);
	}
	/* Nothing went out, and a refused send bound no port. */
	assert_int_equal(E.tw->npending, 0);
	assert_int_equal(tern_getsockname(fd, &got), 0);
	assert_int_equal(got.sin_port, 0);
	/* A unicast peer is fine. */
	assert_int_equal(tern_sendto(fd, "hello", 5, &ok), 5);
	assert_int_equal(E.tw->npending, 1);
	{
		const struct rte_ipv4_hdr *ip =
		    rte_pktmbuf_mtod(E.tw->pending[0], const struct rte_ipv4_hdr *);
		const struct rte_udp_hdr *u = (const struct rte_udp_hdr *)(ip + 1);

		assert_int_equal(ip->src_addr, htonl(US0));
		assert_int_equal(ip->dst_addr, htonl(PEER));
		assert_int_equal(u->dst_port, htons(5000));
	}
	assert_int_equal(tern_close(fd), 0);
}

static void
test_udp_connect_fixes_local_address(void **state)
{
	/* As Linux: connect on an unbound socket picks the route's source,
	 * getsockname shows it, and only datagrams to it are heard. */
	int a = tern_socket(SOCK_DGRAM), b = tern_socket(SOCK_DGRAM);
	struct sockaddr_in p0 = addr_in(PEER, 4000), p1 = addr_in(IP4(10, 1, 0, 9), 4000), got;

	(void)state;
	assert_int_equal(tern_connect(a, &p0), 0);
	assert_int_equal(tern_getsockname(a, &got), 0);
	assert_int_equal(got.sin_addr.s_addr, htonl(US0));
	assert_true(ntohs(got.sin_port) >= 32768);
	assert_int_equal(deliver(PEER, 4000, US1, ntohs(got.sin_port), 3, 'n'), -ENOENT);
	assert_int_equal(deliver(PEER, 4000, US0, ntohs(got.sin_port), 3, 'y'), 0);
	assert_int_equal(recv_one(a, 'y'), 3);
	/* Bound to the wildcard first: the port stays, the address is set. */
	{
		struct sockaddr_in any = addr_in(0, 5001);

		assert_int_equal(tern_bind(b, &any), 0);
	}
	assert_int_equal(tern_connect(b, &p1), 0);
	assert_int_equal(tern_getsockname(b, &got), 0);
	assert_int_equal(got.sin_addr.s_addr, htonl(US1));
	assert_int_equal(got.sin_port, htons(5001));
	assert_int_equal(tern_send(b, "z", 1), 1);
	assert_int_equal(E.tw->npending, 1);
	assert_int_equal(rte_pktmbuf_mtod(E.tw->pending[0], const struct rte_ipv4_hdr *)->src_addr,
	                 htonl(US1));
	assert_int_equal(tern_close(a), 0);
	assert_int_equal(tern_close(b), 0);
}

static void
test_tcp_connect_refused_destinations(void **state)
{
	static const uint32_t bad[] = {
		0, IP4(127, 0, 0, 1), IP4(224, 0, 0, 1), 0xffffffffu, BC0, IP4(192, 168, 9, 9),
	};
	int fd = tern_socket(SOCK_STREAM);

	(void)state;
	assert_true(fd >= 0);
	for (unsigned i = 0; i < RTE_DIM(bad); i++) {
		struct sockaddr_in to = addr_in(bad[i], 80);

		assert_int_equal(tern_connect(fd, &to), -ENETUNREACH);
	}
	/* No SYN went out, no connection block is held (teardown checks). */
	assert_int_equal(E.tw->npending, 0);
	assert_int_equal(tern_close(fd), 0);
}

static void
test_this_host_refused_despite_default_route(void **state)
{
	/* With a default route, 0/8 and 127/8 would otherwise go out of
	 * port 0; an unknown unicast address does. */
	static const uint32_t here[] = { 0, IP4(0, 9, 9, 9), IP4(127, 0, 0, 1), IP4(127, 8, 8, 8) };
	int u = tern_socket(SOCK_DGRAM), t = tern_socket(SOCK_STREAM);
	struct sockaddr_in far = addr_in(IP4(192, 168, 9, 9), 5000);

	(void)state;
	assert_int_equal(rte_fib_add(fib, 0, 0, NH_P0_CONNECTED), 0);
	for (unsigned i = 0; i < RTE_DIM(here); i++) {
		struct sockaddr_in to = addr_in(here[i], 5000);

		assert_int_equal(tern_sendto(u, "x", 1, &to), -ENETUNREACH);
		assert_int_equal(tern_connect(u, &to), -ENETUNREACH);
		assert_int_equal(tern_connect(t, &to), -ENETUNREACH);
	}
	assert_int_equal(E.tw->npending, 0);
	assert_int_equal(tern_sendto(u, "x", 1, &far), 1);
	assert_int_equal(E.tw->npending, 1);
	assert_int_equal(rte_fib_delete(fib, 0, 0), 0);
	assert_int_equal(tern_close(u), 0);
	assert_int_equal(tern_close(t), 0);
}

static void
test_udp_sendto_from_specific_address(void **state)
{
	/* Bound to port 1's address, sending out of port 0: the source is
	 * the bound address, as in Linux. */
	int fd = udp_socket_bound(US1, 5000, false);
	struct sockaddr_in to = addr_in(PEER, 6000);
	const struct rte_ipv4_hdr *ip;

	(void)state;
	assert_int_equal(tern_sendto(fd, "x", 1, &to), 1);
	assert_int_equal(E.tw->npending, 1);
	ip = rte_pktmbuf_mtod(E.tw->pending[0], const struct rte_ipv4_hdr *);
	assert_int_equal(ip->src_addr, htonl(US1));
	assert_int_equal(tern_close(fd), 0);
}

/* ---- 5. a failed bind changes nothing ----------------------------------- */

static void
test_udp_bind_failed_changes_nothing(void **state)
{
	int a = udp_socket_bound(0, 6000, false), b = tern_socket(SOCK_DGRAM);
	struct sockaddr_in us0 = addr_in(US0, 6000), other = addr_in(0, 6001), got;

	(void)state;
	assert_int_equal(tern_bind(b, &us0), -EADDRINUSE);
	assert_int_equal(tern_getsockname(b, &got), 0);
	assert_int_equal(got.sin_addr.s_addr, 0);
	assert_int_equal(got.sin_port, 0);
	/* The socket is still unbound: it binds elsewhere, as a wildcard. */
	assert_int_equal(tern_bind(b, &other), 0);
	assert_int_equal(tern_getsockname(b, &got), 0);
	assert_int_equal(got.sin_addr.s_addr, 0);
	assert_int_equal(got.sin_port, htons(6001));
	assert_int_equal(deliver(PEER, 4000, US1, 6001, 1, 'z'), 0);
	assert_int_equal(recv_one(b, 'z'), 1);
	assert_int_equal(tern_close(a), 0);
	assert_int_equal(tern_close(b), 0);
}

/* ---- 6. upper.c undoes a failed start ----------------------------------- */

static void
test_upper_start_failure_undoes_everything(void **state)
{
	struct upper *u = calloc(1, sizeof(*u));
	int holder = udp_socket_bound(0, 7777, false), eps[TERN_MAX_EPOLL], lfd;
	struct sockaddr_in a = addr_in(0, 7777);

	(void)state;
	assert_non_null(u);
	assert_int_equal(setenv("TERN_UPPER_PORT", "7777", 1), 0);
	/* Epoll set and TCP listener made, then the UDP port is taken. */
	assert_int_equal(upper_ops.start(u, NULL), -EADDRINUSE);
	free(u);
	/* No socket, set or listener left behind. */
	assert_int_equal(count_free_socks(), E.nb_socks - 1);
	assert_int_equal(tcp_stack_nb_conns(E.tw->st), 0);
	for (unsigned i = 0; i < TERN_MAX_EPOLL; i++)
		assert_true((eps[i] = tern_epoll_create()) >= 0);
	for (unsigned i = 0; i < TERN_MAX_EPOLL; i++)
		assert_int_equal(tern_epoll_close(eps[i]), 0);
	lfd = tern_socket(SOCK_STREAM);
	assert_int_equal(tern_bind(lfd, &a), 0);
	assert_int_equal(tern_listen(lfd, 4), 0);
	assert_int_equal(tern_close(lfd), 0);
	assert_int_equal(tern_close(holder), 0);
}

static void
test_upper_start_and_stop(void **state)
{
	struct upper *u = calloc(1, sizeof(*u));

	(void)state;
	assert_non_null(u);
	assert_int_equal(setenv("TERN_UPPER_PORT", "7777", 1), 0);
	assert_int_equal(upper_ops.start(u, NULL), 0);
	assert_int_equal(count_free_socks(), E.nb_socks - 2);
	upper_ops.stop(u);
	free(u);
}

/* ---- fixture ------------------------------------------------------------ */

static int
group_setup(void **state)
{
	struct rte_fib_conf cfg = { .type = RTE_FIB_DIR24_8,
		                    .default_nh = 0,
		                    .max_routes = 64,
		                    .dir24_8 = { .nh_sz = RTE_FIB_DIR24_8_4B, .num_tbl8 = 16 } };

	(void)state;
	fib = rte_fib_create("test_sock_fib", SOCKET_ID_ANY, &cfg);
	pool = rte_pktmbuf_pool_create("test_sock", 1023, 0, sizeof(struct tern_mbuf_priv),
	                               RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
	if (fib == NULL || pool == NULL)
		return -1;
	nh[NH_P0_LOCAL] = (struct tern_nexthop){ .port = 0, .type = TERN_NH_LOCAL };
	nh[NH_P0_CONNECTED] = (struct tern_nexthop){ .port = 0, .type = TERN_NH_CONNECTED };
	nh[NH_P0_BCAST] = (struct tern_nexthop){ .port = 0, .type = TERN_NH_BROADCAST };
	nh[NH_P1_LOCAL] = (struct tern_nexthop){ .port = 1, .type = TERN_NH_LOCAL };
	nh[NH_P1_CONNECTED] = (struct tern_nexthop){ .port = 1, .type = TERN_NH_CONNECTED };
	nh[NH_P1_BCAST] = (struct tern_nexthop){ .port = 1, .type = TERN_NH_BROADCAST };
	if (rte_fib_add(fib, US0, 32, NH_P0_LOCAL) != 0 ||
	    rte_fib_add(fib, IP4(10, 0, 0, 0), 24, NH_P0_CONNECTED) != 0 ||
	    rte_fib_add(fib, BC0, 32, NH_P0_BCAST) != 0 ||
	    rte_fib_add(fib, US1, 32, NH_P1_LOCAL) != 0 ||
	    rte_fib_add(fib, IP4(10, 1, 0, 0), 24, NH_P1_CONNECTED) != 0 ||
	    rte_fib_add(fib, IP4(10, 1, 0, 255), 32, NH_P1_BCAST) != 0)
		return -1;
	for (unsigned i = 0; i < RTE_MAX_ETHPORTS; i++)
		dp.port[i].xconnect = TERN_PORT_NONE;
	dp.port[0].mtu = 1500;
	dp.port[0].up = true;
	dp.port[0].ip4 = RTE_BE32(US0);
	dp.port[1].mtu = 1500;
	dp.port[1].up = true;
	dp.port[1].ip4 = RTE_BE32(US1);
	dp.fib = fib;
	dp.nh = nh;
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	rte_fib_free(fib);
	rte_mempool_free(pool);
	return 0;
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int
main(int argc, char **argv)
{
	char *eal_args[] = {
		"test_sock",
		"--no-huge",
		"-m",
		"128",
		"--no-pci",
		"--no-shconf",
		"-l",
		"0",
		"--log-level=lib.eal:error",
		"--no-telemetry",
	};
	const struct CMUnitTest tests[] = {
		T(test_udp_bind_specific_hears_only_its_address),
		T(test_udp_bind_wildcard_hears_the_rest),
		T(test_udp_bind_connected_specific_leaves_others_to_wildcard),
		T(test_udp_bind_conflicts_as_linux),
		T(test_bind_address_not_ours),
		T(test_udp_getpeername),
		T(test_udp_fionread_is_next_datagram),
		T(test_udp_sendto_refused_destinations),
		T(test_udp_connect_fixes_local_address),
		T(test_tcp_connect_refused_destinations),
		T(test_this_host_refused_despite_default_route),
		T(test_udp_sendto_from_specific_address),
		T(test_udp_bind_failed_changes_nothing),
		T(test_upper_start_failure_undoes_everything),
		T(test_upper_start_and_stop),
	};
	int rc;

	(void)argc;
	(void)argv;
	if (rte_eal_init((int)RTE_DIM(eal_args), eal_args) < 0) {
		fprintf(stderr, "test_sock: rte_eal_init failed\n");
		return 1;
	}
	rc = cmocka_run_group_tests(tests, group_setup, group_teardown);
	rte_eal_cleanup();
	return rc;
}
