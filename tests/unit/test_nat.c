/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of the EAL-free NAT44 core (RFC 4787, 5382, 5508), with a
 * fake clock and hand-built packets.
 *
 * The world: inside hosts in 10.0.0.0/8 behind port LAN (1), everything
 * else behind port WAN (0), whose address is WAN_ADDR (the masquerade
 * address).  The default rule set has one SNAT rule, 10.0.0.0/8 leaving by
 * WAN to the pool address POOL.  Tests add rules as they need them.
 *
 * Every packet the NAT says it translated (NAT_DONE) has all its checksums
 * recomputed from scratch and compared (IP, TCP, UDP, ICMP and, in ICMP
 * errors, the quoted IP and L4 ones): see xl().
 *
 * Every test ends with the table flushed and nat_table_nb_sessions() == 0.
 */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "nat/nat.h"
#include "nat/nat_priv.h"
#include "timer/wheel.h"

#define IP4(a, b, c, d) ((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (d))

#define WAN      0
#define LAN      1
#define WAN_ADDR IP4(192, 0, 2, 100)
#define LAN_ADDR IP4(10, 0, 0, 254)
#define POOL     IP4(192, 0, 2, 1)
#define IN1      IP4(10, 0, 0, 1)
#define IN2      IP4(10, 0, 0, 2)
#define SRV      IP4(10, 0, 0, 5) /* a DNAT target */
#define OUT1     IP4(198, 51, 100, 1)
#define OUT2     IP4(198, 51, 100, 2)
#define ROUTER   IP4(203, 0, 113, 1)
#define T0       1000000u
#define SEC      1000u

#define PTCP  6
#define PUDP  17
#define PICMP 1

#define F_FIN 0x01
#define F_SYN 0x02
#define F_RST 0x04
#define F_ACK 0x10

/* ------------------------------------------------------------------------ */
/* Harness */

static struct {
	struct tern_wheel w;
	struct nat_cfg cfg;
	struct nat_rules rules;
	struct nat_env env;
	struct nat_table *t;
	uint64_t now;
} E;

static int
env_route(void *ctx, uint32_t dst, uint16_t *out)
{
	(void)ctx;
	*out = (dst >> 24) == 10 ? LAN : WAN;
	return 0;
}

static bool
env_is_local(void *ctx, uint32_t a)
{
	(void)ctx;
	return a == WAN_ADDR || a == LAN_ADDR;
}

static uint32_t
env_port_addr(void *ctx, uint16_t port)
{
	(void)ctx;
	return port == WAN ? WAN_ADDR : LAN_ADDR;
}

static void
add_rule(const struct nat_rule *r)
{
	assert_true(E.rules.n < NAT_MAX_RULES);
	E.rules.r[E.rules.n++] = *r;
}

static void
add_snat(uint32_t pool_lo, uint32_t pool_hi, uint16_t port_lo, uint16_t port_hi)
{
	struct nat_rule r = { .type = NAT_SNAT,
		              .out_port = WAN,
		              .prefix = IP4(10, 0, 0, 0),
		              .mask = 0xff000000u,
		              .pool_lo = pool_lo,
		              .pool_hi = pool_hi,
		              .port_lo = port_lo,
		              .port_hi = port_hi };

	add_rule(&r);
}

static void
add_dnat(uint8_t proto, uint32_t ext, uint16_t ext_port, uint32_t to, uint16_t to_port)
{
	struct nat_rule r = { .type = NAT_DNAT,
		              .proto = proto,
		              .ext_addr = ext,
		              .ext_port = ext_port,
		              .to_addr = to,
		              .to_port = to_port };

	add_rule(&r);
}

static void
new_table(unsigned owner, unsigned nb)
{
	E.t = nat_table_create(&E.cfg, &E.w, owner, nb);
	assert_non_null(E.t);
}

static int
setup(void **state)
{
	(void)state;
	memset(&E, 0, sizeof(E));
	E.now = T0;
	tern_wheel_init(&E.w, T0);
	nat_cfg_default(&E.cfg);
	E.cfg.max_sessions = 1024;
	nat_rules_init(&E.rules);
	add_snat(POOL, POOL, 0, 0);
	E.env.route = env_route;
	E.env.is_local = env_is_local;
	E.env.port_addr = env_port_addr;
	new_table(0, 1);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	if (E.t != NULL) {
		nat_table_flush(E.t);
		assert_int_equal(nat_table_nb_sessions(E.t), 0);
		nat_table_destroy(E.t);
	}
	/* No timer of the table may be left on the caller's wheel. */
	assert_int_equal(E.w.pending, 0);
	return 0;
}

static void
advance(uint64_t ms)
{
	E.now += ms;
	tern_wheel_advance(&E.w, E.now, UINT_MAX);
}

static uint64_t
ctr(enum nat_counter c)
{
	return nat_table_counters(E.t)[c];
}

/* ---- Packets ---- */

static uint16_t
rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t
rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void
wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void
wr32(uint8_t *p, uint32_t v)
{
	wr16(p, (uint16_t)(v >> 16));
	wr16(p + 2, (uint16_t)v);
}

static uint32_t
sum16(const uint8_t *p, size_t n, uint32_t s)
{
	size_t i;

	for (i = 0; i + 1 < n; i += 2)
		s += rd16(p + i);
	if (n & 1)
		s += (uint32_t)p[n - 1] << 8;
	return s;
}

static uint16_t
fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

static uint32_t
pseudo(const uint8_t *ip, uint8_t proto, uint32_t l4len)
{
	uint32_t s = sum16(ip + 12, 8, 0);

	return s + proto + l4len;
}

/* The checksum a full computation gives, over `n` bytes with the
 * checksum field (at `at`) taken as zero. */
static uint16_t
csum_fresh(const uint8_t *p, size_t n, size_t at, uint32_t init)
{
	uint32_t s = init + sum16(p, n, 0) - rd16(p + at);

	return fold(s);
}

static void
ip_fill(uint8_t *b, uint8_t proto, uint32_t src, uint32_t dst, uint16_t tot)
{
	memset(b, 0, 20);
	b[0] = 0x45;
	wr16(b + 2, tot);
	wr16(b + 4, 0x1234);
	b[8] = 64;
	b[9] = proto;
	wr32(b + 12, src);
	wr32(b + 16, dst);
	wr16(b + 10, csum_fresh(b, 20, 10, 0));
}

static uint32_t
mk_tcp(uint8_t *b, uint32_t src, uint16_t sp, uint32_t dst, uint16_t dp, uint8_t flags,
       uint32_t dlen)
{
	uint8_t *l4 = b + 20;
	uint32_t i;

	ip_fill(b, PTCP, src, dst, (uint16_t)(40 + dlen));
	memset(l4, 0, 20);
	wr16(l4, sp);
	wr16(l4 + 2, dp);
	wr32(l4 + 4, 0x01020304);
	wr32(l4 + 8, 0x0a0b0c0d);
	l4[12] = 5 << 4;
	l4[13] = flags;
	wr16(l4 + 14, 65535);
	for (i = 0; i < dlen; i++)
		l4[20 + i] = (uint8_t)(i * 7 + 3);
	wr16(l4 + 16, csum_fresh(l4, 20 + dlen, 16, pseudo(b, PTCP, 20 + dlen)));
	return 40 + dlen;
}

static uint32_t
mk_udp(uint8_t *b, uint32_t src, uint16_t sp, uint32_t dst, uint16_t dp, uint32_t dlen, bool nocsum)
{
	uint8_t *l4 = b + 20;
	uint32_t i;
	uint16_t c;

	ip_fill(b, PUDP, src, dst, (uint16_t)(28 + dlen));
	wr16(l4, sp);
	wr16(l4 + 2, dp);
	wr16(l4 + 4, (uint16_t)(8 + dlen));
	wr16(l4 + 6, 0);
	for (i = 0; i < dlen; i++)
		l4[8 + i] = (uint8_t)(i * 13 + 1);
	c = csum_fresh(l4, 8 + dlen, 6, pseudo(b, PUDP, 8 + dlen));
	wr16(l4 + 6, nocsum ? 0 : (c == 0 ? 0xffff : c));
	return 28 + dlen;
}

static uint32_t
mk_echo(uint8_t *b, uint32_t src, uint32_t dst, uint8_t type, uint16_t id, uint16_t seq)
{
	uint8_t *l4 = b + 20;
	unsigned i;

	ip_fill(b, PICMP, src, dst, 20 + 16);
	memset(l4, 0, 16);
	l4[0] = type;
	wr16(l4 + 4, id);
	wr16(l4 + 6, seq);
	for (i = 8; i < 16; i++)
		l4[i] = (uint8_t)i;
	wr16(l4 + 2, csum_fresh(l4, 16, 2, 0));
	return 36;
}

/* An ICMP error from `src` to `dst` quoting `q` (qlen bytes of it). */
static uint32_t
mk_icmp_err(uint8_t *b, uint32_t src, uint32_t dst, uint8_t type, uint8_t code, const uint8_t *q,
            uint32_t qlen)
{
	uint8_t *l4 = b + 20;

	ip_fill(b, PICMP, src, dst, (uint16_t)(28 + qlen));
	memset(l4, 0, 8);
	l4[0] = type;
	l4[1] = code;
	memcpy(l4 + 8, q, qlen);
	wr16(l4 + 2, csum_fresh(l4, 8 + qlen, 2, 0));
	return 28 + qlen;
}

static uint32_t
ip_src(const uint8_t *b)
{
	return rd32(b + 12);
}

static uint32_t
ip_dst(const uint8_t *b)
{
	return rd32(b + 16);
}

static uint16_t
sport(const uint8_t *b)
{
	return rd16(b + 20);
}

static uint16_t
dport(const uint8_t *b)
{
	return rd16(b + 22);
}

static uint16_t
icmp_id(const uint8_t *b)
{
	return rd16(b + 24);
}

/* Recompute every checksum of an IPv4 packet from scratch and compare. */
static void
check_l4(const uint8_t *ip, uint32_t avail, bool quote)
{
	uint32_t ihl = (ip[0] & 0xfu) * 4, tot = rd16(ip + 2), l4len = tot - ihl;
	const uint8_t *l4 = ip + ihl;

	assert_int_equal(rd16(ip + 10), csum_fresh(ip, ihl, 10, 0));
	/* A quote may hold only part of its L4: check what is whole. */
	if (quote && avail < tot)
		return;
	switch (ip[9]) {
	case PTCP:
		assert_int_equal(rd16(l4 + 16), csum_fresh(l4, l4len, 16, pseudo(ip, PTCP, l4len)));
		break;
	case PUDP:
		if (rd16(l4 + 6) != 0) {
			uint16_t c = csum_fresh(l4, l4len, 6, pseudo(ip, PUDP, l4len));

			assert_int_equal(rd16(l4 + 6), c == 0 ? 0xffff : c);
		}
		break;
	case PICMP:
		assert_int_equal(rd16(l4 + 2), csum_fresh(l4, l4len, 2, 0));
		if (!quote && (l4[0] == 3 || l4[0] == 11 || l4[0] == 12))
			check_l4(l4 + 8, l4len - 8, true);
		break;
	}
}

static void
check_csums(const uint8_t *b)
{
	check_l4(b, rd16(b + 2), false);
}

/* Translate a packet; a translated one must have all its checksums right. */
static enum nat_verdict
xl(uint8_t *b, uint32_t len, uint16_t in_port)
{
	unsigned owner = UINT_MAX;
	enum nat_verdict v = nat_translate(E.t, &E.rules, &E.env, b, len, in_port, E.now, &owner);

	if (v == NAT_DONE)
		check_csums(b);
	return v;
}

/* ---- Walk ---- */

#define MAXWALK 16
static struct {
	unsigned n;
	struct nat_session_info i[MAXWALK];
} W;

static void
walk_cb(void *arg, const struct nat_session_info *i)
{
	(void)arg;
	if (W.n < MAXWALK)
		W.i[W.n] = *i;
	W.n++;
}

static void
walk(void)
{
	memset(&W, 0, sizeof(W));
	assert_int_equal(nat_table_walk(E.t, 0, UINT32_MAX, walk_cb, NULL), NAT_WALK_DONE);
}

/* A TCP handshake through the NAT, from IN:sp to OUT:dp; returns the
 * outside port given. */
static uint16_t
tcp_open(uint32_t in, uint16_t sp, uint32_t out, uint16_t dp)
{
	uint8_t b[128];
	uint32_t n;
	uint16_t op;

	n = mk_tcp(b, in, sp, out, dp, F_SYN, 0);
	assert_int_equal(xl(b, n, LAN), NAT_DONE);
	op = sport(b);
	n = mk_tcp(b, out, dp, ip_src(b), op, F_SYN | F_ACK, 0);
	assert_int_equal(xl(b, n, WAN), NAT_DONE);
	n = mk_tcp(b, in, sp, out, dp, F_ACK, 0);
	assert_int_equal(xl(b, n, LAN), NAT_DONE);
	return op;
}

/* ------------------------------------------------------------------------ */
/* Basics */

static void
test_session_size_le_128(void **state)
{
	(void)state;
	assert_true(nat_session_size() <= 128);
	assert_true(nat_table_mem(E.t) >= 1024 * nat_session_size());
	print_message("nat_session_size() = %zu, table of 1024: %zu bytes\n", nat_session_size(),
	              nat_table_mem(E.t));
}

static void
test_csum_update_matches_recompute(void **state)
{
	uint8_t buf[64];
	unsigned k, i;

	(void)state;
	srand(7);
	for (k = 0; k < 20000; k++) {
		uint16_t c, c2;
		unsigned at = (unsigned)(rand() % 15) * 2 + 2;
		uint32_t nv;

		for (i = 0; i < sizeof(buf); i++)
			buf[i] = (uint8_t)rand();
		/* Now and then a buffer that sums to -0, to meet the edge case. */
		if (k % 8 == 0) {
			memset(buf, 0, sizeof(buf));
			wr16(buf + 4, 0xffff);
		}
		wr16(buf, 0);
		c = csum_fresh(buf, sizeof(buf), 0, 0);
		wr16(buf, c);
		nv = (uint32_t)rand() << 1 ^ (uint32_t)rand();
		if (k % 3 == 0) {
			c2 = nat_csum_update16(c, rd16(buf + at), (uint16_t)nv);
			wr16(buf + at, (uint16_t)nv);
		} else {
			at &= ~3u;
			if (at == 0)
				at = 4;
			c2 = nat_csum_update32(c, rd32(buf + at), nv);
			wr32(buf + at, nv);
		}
		assert_int_equal(c2, csum_fresh(buf, sizeof(buf), 0, 0));
	}
}

static void
test_counter_names(void **state)
{
	unsigned i;

	(void)state;
	for (i = 0; i < NAT_MIB_MAX; i++)
		assert_non_null(nat_counter_names[i]);
	assert_string_equal(nat_counter_names[NAT_MIB_TableFull], "TableFull");
}

static void
test_bad_packets(void **state)
{
	uint8_t b[128];
	uint32_t n;

	(void)state;
	/* Truncated TCP header. */
	n = mk_tcp(b, IN1, 1000, OUT1, 80, F_SYN, 0);
	wr16(b + 2, 30);
	assert_int_equal(xl(b, 30, LAN), NAT_BAD);
	/* Total length beyond the buffer. */
	n = mk_udp(b, IN1, 1000, OUT1, 53, 4, false);
	assert_int_equal(xl(b, n - 1, LAN), NAT_BAD);
	/* A fragment. */
	n = mk_udp(b, IN1, 1000, OUT1, 53, 4, false);
	wr16(b + 6, 0x2000);
	assert_int_equal(xl(b, n, LAN), NAT_BAD);
	/* Not IPv4. */
	n = mk_udp(b, IN1, 1000, OUT1, 53, 4, false);
	b[0] = 0x65;
	assert_int_equal(xl(b, n, LAN), NAT_BAD);
	/* TCP data offset past the end. */
	n = mk_tcp(b, IN1, 1000, OUT1, 80, F_SYN, 0);
	b[32] = 15 << 4;
	assert_int_equal(xl(b, n, LAN), NAT_BAD);
	/* ICMP error whose quote is cut inside the L4 header. */
	n = mk_udp(b + 64, IN1, 1000, OUT1, 53, 0, false);
	n = mk_icmp_err(b, ROUTER, POOL, 11, 0, b + 64, 24);
	assert_int_equal(xl(b, n, WAN), NAT_BAD);
	assert_int_equal(ctr(NAT_MIB_BadPackets), 6);
	assert_int_equal(nat_table_nb_sessions(E.t), 0);
	/* Another protocol (GRE) from a source SNAT covers cannot be
	 * translated: refused, never leaked with its inside address... */
	n = mk_udp(b, IN1, 1000, OUT1, 53, 4, false);
	b[9] = 47;
	assert_int_equal(xl(b, n, LAN), NAT_DROP);
	assert_int_equal(ctr(NAT_MIB_Untranslatable), 1);
	/* ...and so is an ICMP query other than echo (timestamp)... */
	n = mk_echo(b, IN1, OUT1, 13, 7, 1);
	assert_int_equal(xl(b, n, LAN), NAT_DROP);
	assert_int_equal(ctr(NAT_MIB_Untranslatable), 2);
	/* ...while from outside, or from a source no rule covers, it goes
	 * through untouched. */
	n = mk_udp(b, OUT1, 1000, IN1, 53, 4, false);
	b[9] = 47;
	assert_int_equal(xl(b, n, WAN), NAT_PASS);
	n = mk_udp(b, IP4(192, 168, 9, 9), 1000, OUT1, 53, 4, false);
	b[9] = 47;
	assert_int_equal(xl(b, n, LAN), NAT_PASS);
}

/* A reassembled datagram is a chain: only its first segment (here 100 of
 * 3008 bytes) is contiguous.  It translates from its headers, counts its
 * whole length, and its checksum stays right for the whole datagram. */
static void
test_chained_datagram(void **state)
{
	static uint8_t b[3008];
	struct nat_prep prep;
	unsigned owner = UINT_MAX;
	uint32_t n;

	(void)state;
	n = mk_udp(b, IN1, 5353, OUT1, 53, 3008 - 28, false);
	nat_prepare(E.t, b, 100, n, 0, &prep);
	assert_int_equal(nat_translate_prepared(E.t, &E.rules, &E.env, &prep, LAN, E.now, &owner),
	                 NAT_DONE);
	assert_int_equal(ip_src(b), POOL);
	check_csums(b);
	walk();
	assert_int_equal(W.n, 1);
	assert_int_equal(W.i[0].bytes[0], 3008);
	/* Longer than the whole packet is still malformed. */
	n = mk_udp(b, IN1, 5354, OUT1, 53, 3008 - 28, false);
	nat_prepare(E.t, b, 100, n - 1, 0, &prep);
	assert_int_equal(nat_translate_prepared(E.t, &E.rules, &E.env, &prep, LAN, E.now, &owner),
	                 NAT_BAD);
	/* A TCP header cut by the first segment's end is refused (RFC 1858). */
	n = mk_tcp(b, IN1, 40000, OUT1, 80, F_SYN, 1000);
	nat_prepare(E.t, b, 30, n, 0, &prep);
	assert_int_equal(nat_translate_prepared(E.t, &E.rules, &E.env, &prep, LAN, E.now, &owner),
	                 NAT_BAD);
	assert_int_equal(nat_table_nb_sessions(E.t), 1);
}

/* ------------------------------------------------------------------------ */
/* SNAT, DNAT, STATIC, EXEMPT */

static void
test_snat_tcp_outbound(void **state)
{
	uint8_t b[256];
	uint32_t n;

	(void)state;
	n = mk_tcp(b, IN1, 40000, OUT1, 80, F_SYN, 0);
	assert_int_equal(xl(b, n, LAN), NAT_DONE);
	assert_int_equal(ip_src(b), POOL);
	assert_int_equal(sport(b), 40000); /* preserved */
	assert_int_equal(ip_dst(b), OUT1);
	assert_int_equal(dport(b), 80);
	n = mk_tcp(b, OUT1, 80, POOL, 40000, F_SYN | F_ACK, 0);
	assert_int_equal(xl(b, n, WAN), NAT_DONE);
	assert_int_equal(ip_dst(b), IN1);
	assert_int_equal(dport(b), 40000);
	assert_int_equal(ip_src(b), OUT1);
	n = mk_tcp(b, IN1, 40000, OUT1, 80, F_ACK, 100);
	assert_int_equal(xl(b, n, LAN), NAT_DONE);
	assert_int_equal(ip_src(b), POOL);
	assert_int_equal(nat_table_nb_sessions(E.t), 1);
	walk();
	assert_int_equal(W.n, 1);
	assert_int_equal(W.i[0].orig.src, IN1);
	assert_int_equal(W.i[0].orig.sport, 40000);
	assert_int_equal(W.i[0].reply.src, OUT1);
	assert_int_equal(W.i[0].reply.dst, POOL);
	assert_int_equal(W.i[0].reply.dport, 40000);
	assert_int_equal(W.i[0].orig.proto, PTCP);
	assert_int_equal(W.i[0].tcp_state, NAT_TCP_ESTABLISHED);
	assert_int_equal(W.i[0].packets[0], 2);
	assert_int_equal(W.i[0].packets[1], 1);
	assert_int_equal(W.i[0].bytes[0], 40 + 140);
	assert_int_equal(W.i[0].bytes[1], 40);
	assert_int_equal(W.i[0].expires_in_ms, 7440 * SEC);
	assert_int_equal(ctr(NAT_MIB_SessionsCreated), 1);
	assert_int_equal(ctr(NAT_MIB_Translated), 3);
}

static void
test_snat_masquerade(void **state)
{
	uint8_t b[128];
	uint32_t n;

	(void)state;
	E.rules.r[0].pool_lo = E.rules.r[0].pool_hi = 0;
	n = mk_udp(b, IN1, 5000, OUT1, 53, 10, false);
	assert_int_equal(xl(b, n, LAN), NAT_DONE);
	assert_int_equal(ip_src(b), WAN_ADDR);
	assert_int_equal(sport(b), 5000);
	n = mk_udp(b, OUT1, 53, WAN_ADDR, 5000, 30, false);
	assert_int_equal(xl(b, n, WAN), NAT_DONE);
	assert_int_equal(ip_dst(b), IN1);
	/* Unsolicited to the router's own address: local delivery. */
	n = mk_tcp(b, OUT1, 1234, WAN_ADDR, 22, F_SYN, 0);
	assert_int_equal(xl(b, n, WAN), NAT_PASS);
	/* Ping of the router: not ours either. */
	n = mk_echo(b, OUT1, WAN_ADDR, 8, 99, 1);
	assert_int_equal(xl(b, n, WAN), NAT_PASS);
}

static void
test_snat_not_on_other_port(void **state)
{
	uint8_t b[128];
	uint32_t n;

	(void)state;
	/* Inside to inside: routed back out LAN, the SNAT rule is for WAN. */
	n = mk_udp(b, IN1, 5000, IN2, 53, 10, false);
	assert_int_equal(xl(b, n, LAN), NAT_PASS);
	/* Unsolicited to a pool address: filtered. */
	n = mk_udp(b, OUT1, 53, POOL, 5000, 10, false);
	assert_int_equal(xl(b, n, WAN), NAT_DROP);
	assert_int_equal(ctr(NAT_MIB_FilteredIn), 1);
	assert_int_equal(nat_table_nb_sessions(E.t), 0);
}

static void
test_dnat_inbound_and_reply(void **state)
{
	uint8_t b[128];
	uint32_t n;

	(void)state;
	add_dnat(PTCP, WAN_ADDR, 8080, SRV, 80);
	n = mk_tcp(b, OUT1, 5555, WAN_ADDR, 8080, F_SYN, 0);
	assert_int_equal(xl(b, n, WAN), NAT_DONE);
	assert_int_equal(ip_dst(b), SRV);
	assert_int_equal(dport(b), 80);
	assert_int_equal(ip_src(b), OUT1); /* the server sees the client */
	assert_int_equal(sport(b), 5555);
	n = mk_tcp(b, SRV, 80, OUT1, 5555, F_SYN | F_ACK, 0);
	assert_int_equal(xl(b, n, LAN), NAT_DONE);
	assert_int_equal(ip_src(b), WAN_ADDR);
	assert_int_equal(sport(b), 8080);
	assert_int_equal(ip_dst(b), OUT1);
	n = mk_tcp(b, OUT1, 5555, WAN_ADDR, 8080, F_ACK, 10);
	assert_int_equal(xl(b, n, WAN), NAT_DONE);
	walk();
	assert_int_equal(W.n, 1);
	assert_int_equal(W.i[0].orig.dst, WAN_ADDR);
	assert_int_equal(W.i[0].reply.src, SRV);
	assert_int_equal(W.i[0].tcp_state, NAT_TCP_ESTABLISHED);
	/* Other ports of the address stay the router's. */
	n = mk_tcp(b, OUT1, 5556, WAN_ADDR, 22, F_SYN, 0);
	assert_int_equal(xl(b, n, WAN), NAT_PASS);
	/* UDP to the TCP forward is not forwarded. */
	n = mk_udp(b, OUT1, 5556, WAN_ADDR, 8080, 0, false);
	assert_int_equal(xl(b, n, WAN), NAT_PASS);
}

static void
test_dnat_whole_address(void **state)
{
	uint8_t b[128];
	uint32_t n;

	(void)state;
	add_dnat(0, IP4(192, 0, 2, 50), 0, SRV, 0);
	n = mk_udp(b, OUT1, 7000, IP4(192, 0, 2, 50), 7001, 3, false);
	assert_int_equal(xl(b, n, WAN), NAT_DONE);
	assert_int_equal(ip_dst(b), SRV);
	assert_int_equal(dport(b), 7001);
	n = mk_echo(b, OUT1, IP4(192, 0, 2, 50), 8, 42, 1);
	assert_int_equal(xl(b, n, WAN), NAT_DONE);
	assert_int_equal(ip_dst(b), SRV);
	assert_int_equal(icmp_id(b), 42);
	n = mk_echo(b, SRV, OUT1, 0, 42, 1);
	assert_int_equal(xl(b, n, LAN), NAT_DONE);
	assert_int_equal(ip_src(b), IP4(192, 0, 2, 50));
}

static void
test_static_both_directions(void **state)
{
	struct nat_rule r = { .type = NAT_STATIC, .prefix = IN2, .ext_addr = IP4(192, 0, 2, 20) };
	uint8_t b[128];
	uint32_t n;

	(void)state;
	add_rule(&r);
	/* Out: the STATIC address, not the pool, and the port kept. */
	n = mk_udp(b, IN2, 6000, OUT1, 53, 4, false);
	assert_int_equal(xl(b, n, LAN), NAT_DONE);
	assert_int_equal(ip_src(b), IP4(192, 0, 2, 20));
	assert_int_equal(sport(b), 6000);
	/* In, unsolicited, any port. */
	n = mk_tcp(b, OUT2, 3333, IP4(192, 0, 2, 20), 443, F_SYN, 0);
	assert_int_equal(xl(b, n, WAN), NAT_DONE);
	assert_int_equal(ip_dst(b), IN2);
	assert_int_equal(dport(b), 443);
	n = mk_tcp(b, IN2, 443, OUT2, 3333, F_SYN | F_ACK, 0);
	assert_int_equal(xl(b, n, LAN), NAT_DONE);
	assert_int_equal(ip_src(b), IP4(192, 0, 2, 20));
	assert_int_equal(nat_table_nb_sessions(E.t), 2);
}

static void
test_exempt(void **state)
{
	struct nat_rule r = { .type = NAT_EXEMPT,
		              .prefix = IP4(10, 0, 0, 0),
		              .mask = 0xff000000u,
		              .prefix2 = IP4(198, 51, 100, 0),
		              .mask2 = 0xffffff00u };
	uint8_t b[128];
	uint32_t n;

	(void)state;
	/* Evaluated first, though added last. */
	add_rule(&r);
	n = mk_udp(b, IN1, 5000, OUT1, 53, 4, false);
	assert_int_equal(xl(b, n, LAN), NAT_PASS);
	assert_int_equal(ip_src(b), IN1);
	n = mk_udp(b, IN1, 5000, ROUTER, 53, 4, false);
	assert_int_equal(xl(b, n, LAN), NAT_DONE);
	assert_int_equal(ip_src(b), POOL);
}

/* ------------------------------------------------------------------------ */
/* RFC 4787 behaviour */

static void
test_eim_same_mapping_two_destinations(void **state)
{
	uint8_t b[128];
	uint32_t n;
	uint16_t p1;

	(void)state;
	/* IN2 takes 5000 first, so IN1's 5000 cannot be preserved. */
	n = mk_udp(b, IN2, 5000, OUT1, 53, 4, false);
	assert_int_equal(xl(b, n, LAN), NAT_DONE);
	n = mk_udp(b, IN1, 5000, OUT1, 53, 4, false);
	assert_int_equal(xl(b, n, LAN), NAT_DONE);
	p1 = sport(b);
	assert_int_not_equal(p1, 5000);
	n = mk_udp(b, IN1, 5000, OUT2, 123, 4, false);
	assert_int_equal(xl(b, n, LAN), NAT_DONE);
	assert_int_equal(sport(b), p1);
	assert_int_equal(ip_src(b), POOL);
	n = mk_tcp(b, IN1, 5000, OUT2, 80, F_SYN, 0);
	assert_int_equal(xl(b, n, LAN), NAT_DONE);
	/* TCP has its own port space: 5000 is free there. */
	assert_int_equal(sport(b), 5000);
	/* The mapping outlives its first session while another lives. */
	advance(200 * SEC);
	n = mk_udp(b, IN1, 5000, OUT2, 123, 4, false);
	assert_int_equal(xl(b, n, LAN), NAT_DONE);
	advance(150 * SEC); /* the OUT1 sessions and the SYN_SENT expire */
	assert_int_equal(nat_table_nb_sessions(E.t), 1);
	n = mk_udp(b, IN1, 5000, ROUTER, 9, 4, false);
	assert_int_equal(xl(b, n, LAN), NAT_DONE);
	assert_int_equal(sport(b), p1);
}

static void
test_port_preservation(void **state)
{
	uint8_t b[128];
	uint32_t n;

	(void)state;
	E.rules.r[0].port_lo = 2000;
	E.rules.r[0].port_hi = 3000;
	n = mk_udp(b, IN1, 2500, OUT1, 53, 4, false);
	assert_int_equal(xl(b, n, LAN), NAT_DONE);
	assert_int_equal(sport(b), 2500);
	/* Same port from another host: the next free one. */
	n = mk_udp(b, IN2, 2500, OUT1, 53, 4, false);
	assert_int_equal(xl(b, n, LAN), NAT_DONE);
	assert_int_equal(sport(b), 2501);
	/* Outside the range: the range's first free port. */
	n = mk_udp(b, IN1, 80, OUT1, 53, 4, false);
	assert_int_equal(xl(b, n, LAN), NAT_DONE);
	assert_int_equal(sport(b), 2000);
	/* Wrap round at the top. */
	n = mk_udp(b, IN1, 3000, OUT1, 53, 4, false);
	assert_int_equal(xl(b, n, LAN), NAT_DONE);
	assert_int_equal(sport(b), 3000);
	n = mk_udp(b, IN2, 3000, OUT1, 53, 4, false);
	assert_int_equal(xl(b, n, LAN), NAT_DONE);
	assert_int_equal(sport(b), 2001);
}

static void
test_pool_paired(void **state)
{
	uint8_t b[128];
	uint32_t n, a, i;
	bool seen[8] = { false };

	(void)state;
	E.rules.r[0].pool_hi = POOL + 7;
	for (i = 1; i < 64; i++) {
		uint32_t host = IP4(10, 0, 1, 0) + i;

		n = mk_udp(b, host, 5000, OUT1, 53, 4, false);
		assert_int_equal(xl(b, n, LAN), NAT_DONE);
		a = ip_src(b);
		assert_true(a >= POOL && a <= POOL + 7);
		seen[a - POOL] = true;
		/* REQ-2: the same host keeps its address for other flows. */
		n = mk_tcp(b, host, 6000 + (uint16_t)i, OUT2, 80, F_SYN, 0);
		assert_int_equal(xl(b, n, LAN), NAT_DONE);
		assert_int_equal(ip_src(b), a);
	}
	/* Spread over the pool. */
	for (i = 0; i < 8; i++)
		assert_true(seen[i]);
}

static void
test_port_exhaustion(void **state)
{
	uint8_t b[128];
	uint32_t n, i;

	(void)state;
	E.rules.r[0].port_lo = 5000;
	E.rules.r[0].port_hi = 5003;
	for (i = 0; i < 4; i++) {
		n = mk_udp(b, IN1 + i, 7000, OUT1, 53, 4, false);
		assert_int_equal(xl(b, n, LAN), NAT_DONE);
		assert_int_equal(sport(b), 5000 + i);
	}
	for (i = 0; i < 3; i++) {
		n = mk_udp(b, IN1 + 10 + i, 7000, OUT1, 53, 4, false);
		assert_int_equal(xl(b, n, LAN), NAT_DROP);
	}
	assert_int_equal(ctr(NAT_MIB_PortsExhausted), 3);
	assert_int_equal(nat_table_nb_sessions(E.t), 4);
	/* Existing mappings still get new sessions. */
	n = mk_udp(b, IN1, 7000, OUT2, 53, 4, false);
	assert_int_equal(xl(b, n, LAN), NAT_DONE);
	assert_int_equal(sport(b), 5000);
	/* Ports come back when the mappings end. */
	advance(301 * SEC);
	assert_int_equal(nat_table_nb_sessions(E.t), 0);
	n = mk_udp(b, IN1 + 10, 7000, OUT1, 53, 4, false);
	assert_int_equal(xl(b, n, LAN), NAT_DONE);
}

static void
test_dnat_port_not_allocated(void **state)
{
	uint8_t b[128];
	uint32_t n;

	(void)state;
	E.rules.r[0].pool_lo = E.rules.r[0].pool_hi = 0; /* masquerade on WAN_ADDR */
	add_dnat(PUDP, WAN_ADDR, 5000, SRV, 53);
	n = mk_udp(b, IN1, 5000, OUT1, 53, 4, false);
	assert_int_equal(xl(b, n, LAN), NAT_DONE);
	assert_int_not_equal(sport(b), 5000);
}

/* Inside IN1:5000 talks to OUT1:53; who else may reach the mapping? */
static uint16_t
filtering_setup(uint8_t filtering)
{
	uint8_t b[128];
	uint32_t n;

	E.rules.filtering = filtering;
	n = mk_udp(b, IN1, 5000, OUT1, 53, 4, false);
	assert_int_equal(xl(b, n, LAN), NAT_DONE);
	return sport(b);
}

static enum nat_verdict
send_in(uint32_t from, uint16_t fport, uint16_t op, uint8_t *b)
{
	uint32_t n = mk_udp(b, from, fport, POOL, op, 4, false);

	return xl(b, n, WAN);
}

static void
test_filtering_eif(void **state)
{
	uint8_t b[128];
	uint16_t op;

	(void)state;
	op = filtering_setup(NAT_FILTER_EIF);
	assert_int_equal(send_in(OUT1, 53, op, b), NAT_DONE);
	assert_int_equal(send_in(OUT1, 54, op, b), NAT_DONE);
	assert_int_equal(send_in(OUT2, 999, op, b), NAT_DONE);
	assert_int_equal(ip_dst(b), IN1);
	assert_int_equal(dport(b), 5000);
	assert_int_equal(nat_table_nb_sessions(E.t), 3);
	/* The inside answers on the new session, through the same mapping. */
	{
		uint32_t n = mk_udp(b, IN1, 5000, OUT2, 999, 4, false);

		assert_int_equal(xl(b, n, LAN), NAT_DONE);
		assert_int_equal(sport(b), op);
		assert_int_equal(nat_table_nb_sessions(E.t), 3);
	}
	/* A port with no mapping stays closed. */
	assert_int_equal(send_in(OUT2, 999, op + 1, b), NAT_DROP);
	/* The sessions opened from outside keep the mapping alive. */
	advance(200 * SEC);
	assert_int_equal(send_in(OUT2, 999, op, b), NAT_DONE);
	advance(200 * SEC);
	assert_int_equal(nat_table_nb_sessions(E.t), 1);
	assert_int_equal(send_in(OUT1, 77, op, b), NAT_DONE);
	assert_int_equal(ip_dst(b), IN1);
}

static void
test_filtering_adf(void **state)
{
	uint8_t b[128];
	uint16_t op;

	(void)state;
	op = filtering_setup(NAT_FILTER_ADF);
	assert_int_equal(send_in(OUT1, 53, op, b), NAT_DONE);
	assert_int_equal(send_in(OUT1, 54, op, b), NAT_DONE); /* same address */
	assert_int_equal(ip_dst(b), IN1);
	assert_int_equal(send_in(OUT2, 53, op, b), NAT_DROP);
	assert_int_equal(ctr(NAT_MIB_FilteredIn), 1);
	assert_int_equal(nat_table_nb_sessions(E.t), 2);
}

static void
test_filtering_apdf(void **state)
{
	uint8_t b[128];
	uint16_t op;

	(void)state;
	/* The default, also for a zeroed rule set. */
	assert_int_equal(E.rules.filtering, NAT_FILTER_APDF);
	op = filtering_setup(NAT_FILTER_APDF);
	assert_int_equal(send_in(OUT1, 53, op, b), NAT_DONE);
	assert_int_equal(send_in(OUT1, 54, op, b), NAT_DROP);
	assert_int_equal(send_in(OUT2, 53, op, b), NAT_DROP);
	assert_int_equal(ctr(NAT_MIB_FilteredIn), 2);
	assert_int_equal(nat_table_nb_sessions(E.t), 1);
}

static void
test_hairpin(void **state)
{
	uint8_t b[128];
	uint32_t n;

	(void)state;
	E.rules.r[0].pool_lo = E.rules.r[0].pool_hi = 0;
	add_dnat(PTCP, WAN_ADDR, 8080, SRV, 80);
	/* IN1 reaches the server through the public address. */
	n = mk_tcp(b, IN1, 3333, WAN_ADDR, 8080, F_SYN, 0);
	assert_int_equal(xl(b, n, LAN), NAT_DONE);
	assert_int_equal(ip_dst(b), SRV);
	assert_int_equal(dport(b), 80);
	/* ... and the server sees IN1's outside mapping. */
	assert_int_equal(ip_src(b), WAN_ADDR);
	assert_int_equal(sport(b), 3333);
	assert_int_equal(ctr(NAT_MIB_Hairpinned), 1);
	n = mk_tcp(b, SRV, 80, WAN_ADDR, 3333, F_SYN | F_ACK, 0);
	assert_int_equal(xl(b, n, LAN), NAT_DONE);
	assert_int_equal(ip_src(b), WAN_ADDR);
	assert_int_equal(sport(b), 8080);
	assert_int_equal(ip_dst(b), IN1);
	assert_int_equal(dport(b), 3333);
	/* Hairpinning off: the DNAT alone. */
	nat_table_flush(E.t);
	E.rules.hairpin = false;
	n = mk_tcp(b, IN1, 3334, WAN_ADDR, 8080, F_SYN, 0);
	assert_int_equal(xl(b, n, LAN), NAT_DONE);
	assert_int_equal(ip_src(b), IN1);
}

/* Two uplinks with SNAT for everything: a DNATed connection that comes in
 * by one uplink is not "hairpinned" out through the other's address; the
 * server sees the real client. */
static void
test_dnat_two_uplinks_not_hairpin(void **state)
{
	struct nat_rule any2 = { .type = NAT_SNAT,
		                 .out_port = 2,
		                 .prefix = 0,
		                 .mask = 0,
		                 .pool_lo = IP4(203, 0, 113, 9),
		                 .pool_hi = IP4(203, 0, 113, 9) };
	uint8_t b[128];
	uint32_t n;

	(void)state;
	add_rule(&any2);
	add_dnat(PTCP, WAN_ADDR, 8080, SRV, 80);
	n = mk_tcp(b, OUT1, 4444, WAN_ADDR, 8080, F_SYN, 0);
	assert_int_equal(xl(b, n, WAN), NAT_DONE);
	assert_int_equal(ip_dst(b), SRV);
	assert_int_equal(ip_src(b), OUT1);
	assert_int_equal(ctr(NAT_MIB_Hairpinned), 0);
}

/* An SNAT rule for the egress port wins over an earlier one that could
 * hairpin: a DNAT target outside is reached by its uplink, with that
 * uplink's address (docs/nat.md: the out port is the egress port). */
static void
test_dnat_outside_target_egress_rule_first(void **state)
{
	struct nat_rule wan2 = { .type = NAT_SNAT,
		                 .out_port = 2,
		                 .prefix = IP4(10, 0, 0, 0),
		                 .mask = 0xff000000u,
		                 .pool_lo = IP4(203, 0, 113, 9),
		                 .pool_hi = IP4(203, 0, 113, 9) };
	uint8_t b[128];
	uint32_t n;

	(void)state;
	E.rules.n = 0;
	add_rule(&wan2);
	add_snat(POOL, POOL, 0, 0);
	add_dnat(PTCP, POOL, 2222, OUT2, 22);
	n = mk_tcp(b, IN1, 3333, POOL, 2222, F_SYN, 0);
	assert_int_equal(xl(b, n, LAN), NAT_DONE);
	assert_int_equal(ip_dst(b), OUT2);
	assert_int_equal(dport(b), 22);
	assert_int_equal(ip_src(b), POOL);
	assert_int_equal(ctr(NAT_MIB_Hairpinned), 0);
	n = mk_tcp(b, OUT2, 22, POOL, sport(b), F_SYN | F_ACK, 0);
	assert_int_equal(xl(b, n, WAN), NAT_DONE);
	assert_int_equal(ip_dst(b), IN1);
	assert_int_equal(dport(b), 3333);
	assert_int_equal(ip_src(b), POOL);
	assert_int_equal(sport(b), 2222);
}

static void
test_hairpin_to_mapping(void **state)
{
	uint8_t b[128];
	uint32_t n;
	uint16_t op2, op1;

	(void)state;
	E.rules.filtering = NAT_FILTER_EIF;
	/* IN2 has a mapping (say, registered with a rendezvous server). */
	n = mk_udp(b, IN2, 4000, OUT1, 3478, 4, false);
	assert_int_equal(xl(b, n, LAN), NAT_DONE);
	op2 = sport(b);
	/* IN1 sends to it. */
	n = mk_udp(b, IN1, 4001, POOL, op2, 4, false);
	assert_int_equal(xl(b, n, LAN), NAT_DONE);
	assert_int_equal(ip_dst(b), IN2);
	assert_int_equal(dport(b), 4000);
	assert_int_equal(ip_src(b), POOL);
	op1 = sport(b);
	/* IN2 answers to IN1's mapping: back to IN1, from IN2's mapping. */
	n = mk_udp(b, IN2, 4000, POOL, op1, 4, false);
	assert_int_equal(xl(b, n, LAN), NAT_DONE);
	assert_int_equal(ip_dst(b), IN1);
	assert_int_equal(dport(b), 4001);
	assert_int_equal(ip_src(b), POOL);
	assert_int_equal(sport(b), op2);
}

/* Under ADF and APDF a hairpinned packet is filtered as coming from the
 * sender's mapping (RFC 4787 REQ-9): hole punching between two inside
 * hosts, each first refused by the other's mapping. */
static void
hairpin_filtered(uint8_t filtering)
{
	uint8_t b[128];
	uint32_t n;
	uint16_t op1, op2, op3;

	E.rules.filtering = filtering;
	/* Both have mappings (registered with a rendezvous server). */
	n = mk_udp(b, IN1, 4001, OUT1, 3478, 4, false);
	assert_int_equal(xl(b, n, LAN), NAT_DONE);
	op1 = sport(b);
	n = mk_udp(b, IN2, 4000, OUT1, 3478, 4, false);
	assert_int_equal(xl(b, n, LAN), NAT_DONE);
	op2 = sport(b);
	/* IN2 first: IN1's mapping never sent to POOL:op2. */
	n = mk_udp(b, IN2, 4000, POOL, op1, 4, false);
	assert_int_equal(xl(b, n, LAN), NAT_DROP);
	assert_int_equal(ctr(NAT_MIB_FilteredIn), 1);
	n = mk_udp(b, IN2, 4000, POOL, op1, 4, false);
	assert_int_equal(xl(b, n, LAN), NAT_DROP);
	/* IN1 then: IN2's mapping did send to POOL:op1. */
	n = mk_udp(b, IN1, 4001, POOL, op2, 4, false);
	assert_int_equal(xl(b, n, LAN), NAT_DONE);
	assert_int_equal(ip_dst(b), IN2);
	assert_int_equal(dport(b), 4000);
	assert_int_equal(ip_src(b), POOL);
	assert_int_equal(sport(b), op1);
	/* And IN2 gets through now. */
	n = mk_udp(b, IN2, 4000, POOL, op1, 4, false);
	assert_int_equal(xl(b, n, LAN), NAT_DONE);
	assert_int_equal(ip_dst(b), IN1);
	assert_int_equal(dport(b), 4001);
	assert_int_equal(sport(b), op2);
	/* Another mapping of IN1 (POOL, another port): only ADF lets it in. */
	n = mk_udp(b, IN1, 4003, OUT1, 3478, 4, false);
	assert_int_equal(xl(b, n, LAN), NAT_DONE);
	op3 = sport(b);
	n = mk_udp(b, IN1, 4003, POOL, op2, 4, false);
	assert_int_equal(xl(b, n, LAN), filtering == NAT_FILTER_ADF ? NAT_DONE : NAT_DROP);
	(void)op3;
	/* From outside, as before: OUT2 was never sent to. */
	n = mk_udp(b, OUT2, 3478, POOL, op2, 4, false);
	assert_int_equal(xl(b, n, WAN), NAT_DROP);
}

static void
test_hairpin_to_mapping_apdf(void **state)
{
	(void)state;
	hairpin_filtered(NAT_FILTER_APDF);
}

static void
test_hairpin_to_mapping_adf(void **state)
{
	(void)state;
	hairpin_filtered(NAT_FILTER_ADF);
}

/* ------------------------------------------------------------------------ */
/* ICMP */

static void
test_icmp_same_id_two_hosts(void **state)
{
	uint8_t b[128];
	uint32_t n;
	uint16_t id1, id2;

	(void)state;
	n = mk_echo(b, IN1, OUT1, 8, 77, 1);
	assert_int_equal(xl(b, n, LAN), NAT_DONE);
	id1 = icmp_id(b);
	assert_int_equal(ip_src(b), POOL);
	n = mk_echo(b, IN2, OUT1, 8, 77, 1);
	assert_int_equal(xl(b, n, LAN), NAT_DONE);
	id2 = icmp_id(b);
	assert_int_not_equal(id1, id2);
	n = mk_echo(b, OUT1, POOL, 0, id2, 1);
	assert_int_equal(xl(b, n, WAN), NAT_DONE);
	assert_int_equal(ip_dst(b), IN2);
	assert_int_equal(icmp_id(b), 77);
	n = mk_echo(b, OUT1, POOL, 0, id1, 1);
	assert_int_equal(xl(b, n, WAN), NAT_DONE);
	assert_int_equal(ip_dst(b), IN1);
	assert_int_equal(icmp_id(b), 77);
	/* A request to the mapping from outside is not a reply. */
	n = mk_echo(b, OUT1, POOL, 8, id1, 1);
	assert_int_not_equal(xl(b, n, WAN), NAT_DONE);
	/* An unanswered echo reply opens nothing. */
	n = mk_echo(b, IN1, OUT2, 0, 5, 1);
	assert_int_equal(xl(b, n, LAN), NAT_PASS);
	walk();
	assert_int_equal(W.n, 2);
	assert_int_equal(W.i[0].expires_in_ms, 60 * SEC);
	advance(60 * SEC);
	assert_int_equal(nat_table_nb_sessions(E.t), 0);
}

/* The wheel runs a late tick's callbacks at that tick's time, behind a
 * packet the worker already stamped: the session lives on from the packet,
 * and expires a timeout after it. */
static void
test_expiry_behind_last_packet(void **state)
{
	uint8_t b[128];
	uint32_t n;

	(void)state;
	n = mk_udp(b, IN1, 5000, OUT1, 53, 4, false);
	assert_int_equal(xl(b, n, LAN), NAT_DONE);
	/* A packet 305 s later (the UDP timeout is 300 s), stamped before the
	 * wheel catches up. */
	E.now += 305 * SEC;
	n = mk_udp(b, IN1, 5000, OUT1, 53, 4, false);
	assert_int_equal(xl(b, n, LAN), NAT_DONE);
	/* The wheel passes the old deadline in one go. */
	tern_wheel_advance(&E.w, E.now + 5 * SEC, UINT_MAX);
	E.now += 5 * SEC;
	assert_int_equal(nat_table_nb_sessions(E.t), 1);
	walk();
	assert_int_equal(W.i[0].expires_in_ms, 295 * SEC);
	advance(294 * SEC);
	assert_int_equal(nat_table_nb_sessions(E.t), 1);
	advance(1 * SEC);
	assert_int_equal(nat_table_nb_sessions(E.t), 0);
	assert_int_equal(ctr(NAT_MIB_SessionsExpired), 1);
}

/* Quote `len` bytes of `pkt` in an error from `from` and translate it. */
static void
test_icmp_error_time_exceeded_translated(void **state)
{
	uint8_t orig[128], b[128], e[256];
	uint32_t n, en;

	(void)state;
	n = mk_udp(orig, IN1, 5000, OUT1, 53, 12, false);
	memcpy(b, orig, n);
	assert_int_equal(xl(b, n, LAN), NAT_DONE);
	/* A router on the way quotes the whole translated datagram. */
	en = mk_icmp_err(e, ROUTER, POOL, 11, 0, b, n);
	assert_int_equal(xl(e, en, WAN), NAT_DONE);
	assert_int_equal(ip_src(e), ROUTER);
	assert_int_equal(ip_dst(e), IN1);
	/* The quote is again the packet IN1 sent, byte for byte. */
	assert_memory_equal(e + 28, orig, n);
	assert_int_equal(ctr(NAT_MIB_IcmpErrorsTranslated), 1);
	/* Errors do not open sessions nor refresh them. */
	assert_int_equal(nat_table_nb_sessions(E.t), 1);
	/* Only 8 bytes quoted (RFC 792): still translated. */
	en = mk_icmp_err(e, ROUTER, POOL, 11, 0, b, 28);
	assert_int_equal(xl(e, en, WAN), NAT_DONE);
	assert_memory_equal(e + 28 + 12, orig + 12, 16);
	/* An error about no session passes. */
	wr16(b + 20, 1);
	en = mk_icmp_err(e, ROUTER, POOL, 11, 0, b, 28);
	assert_int_equal(xl(e, en, WAN), NAT_PASS);
}

static void
test_icmp_error_port_unreach_tcp(void **state)
{
	uint8_t orig[128], b[128], e[256];
	uint32_t n, en;

	(void)state;
	n = mk_tcp(orig, IN1, 40000, OUT1, 81, F_SYN, 8);
	memcpy(b, orig, n);
	assert_int_equal(xl(b, n, LAN), NAT_DONE);
	en = mk_icmp_err(e, OUT1, POOL, 3, 3, b, n);
	assert_int_equal(xl(e, en, WAN), NAT_DONE);
	assert_int_equal(ip_src(e), OUT1);
	assert_int_equal(ip_dst(e), IN1);
	assert_memory_equal(e + 28, orig, n);
	/* A quote with the TCP checksum in it but not the whole segment. */
	en = mk_icmp_err(e, OUT1, POOL, 3, 3, b, 20 + 20);
	assert_int_equal(xl(e, en, WAN), NAT_DONE);
	assert_memory_equal(e + 28 + 12, orig + 12, 8 + 20);
}

static void
test_icmp_error_echo_quoted(void **state)
{
	uint8_t orig[128], b[128], e[256];
	uint32_t n, en;

	(void)state;
	n = mk_echo(orig, IN1, OUT1, 8, 300, 9);
	memcpy(b, orig, n);
	assert_int_equal(xl(b, n, LAN), NAT_DONE);
	en = mk_icmp_err(e, ROUTER, POOL, 3, 1, b, n);
	assert_int_equal(xl(e, en, WAN), NAT_DONE);
	assert_int_equal(ip_dst(e), IN1);
	assert_memory_equal(e + 28, orig, n);
}

static void
test_icmp_error_from_inside_dnat(void **state)
{
	uint8_t orig[128], b[128], e[256];
	uint32_t n, en;

	(void)state;
	add_dnat(PUDP, WAN_ADDR, 5353, SRV, 53);
	n = mk_udp(orig, OUT1, 999, WAN_ADDR, 5353, 20, false);
	memcpy(b, orig, n);
	assert_int_equal(xl(b, n, WAN), NAT_DONE);
	/* The server has nothing on port 53: port unreachable back. */
	en = mk_icmp_err(e, SRV, OUT1, 3, 3, b, n);
	assert_int_equal(xl(e, en, LAN), NAT_DONE);
	assert_int_equal(ip_src(e), WAN_ADDR);
	assert_int_equal(ip_dst(e), OUT1);
	assert_memory_equal(e + 28, orig, n);
	/* From a router inside: hidden behind the public address too. */
	en = mk_icmp_err(e, LAN_ADDR - 1, OUT1, 11, 0, b, n);
	assert_int_equal(xl(e, en, LAN), NAT_DONE);
	assert_int_equal(ip_src(e), WAN_ADDR);
	assert_memory_equal(e + 28, orig, n);
}

static void
test_icmp_error_from_inside_snat(void **state)
{
	uint8_t b[128], reply[128], e[256];
	uint32_t n, en;

	(void)state;
	n = mk_udp(b, IN1, 5000, OUT1, 53, 4, false);
	assert_int_equal(xl(b, n, LAN), NAT_DONE);
	/* The answer comes in; IN1 has closed its socket meanwhile. */
	n = mk_udp(reply, OUT1, 53, POOL, 5000, 9, false);
	memcpy(b, reply, n);
	assert_int_equal(xl(b, n, WAN), NAT_DONE);
	en = mk_icmp_err(e, IN1, OUT1, 3, 3, b, n);
	assert_int_equal(xl(e, en, LAN), NAT_DONE);
	assert_int_equal(ip_src(e), POOL);
	assert_int_equal(ip_dst(e), OUT1);
	/* OUT1 gets a quote of what it sent. */
	assert_memory_equal(e + 28, reply, n);
}

/* ------------------------------------------------------------------------ */
/* Checksums */

static void
test_udp_zero_checksum(void **state)
{
	uint8_t b[128];
	uint32_t n;

	(void)state;
	n = mk_udp(b, IN1, 5000, OUT1, 53, 7, true);
	assert_int_equal(xl(b, n, LAN), NAT_DONE);
	assert_int_equal(rd16(b + 26), 0);
	n = mk_udp(b, OUT1, 53, POOL, 5000, 7, true);
	assert_int_equal(xl(b, n, WAN), NAT_DONE);
	assert_int_equal(rd16(b + 26), 0);
	assert_int_equal(ip_dst(b), IN1);
}

static void
test_checksums_random_traffic(void **state)
{
	uint8_t b[256];
	uint32_t n, i;

	(void)state;
	nat_table_destroy(E.t);
	E.cfg.max_sessions = 4096;
	new_table(0, 1);
	/* Many tuples and payloads: xl() recomputes every checksum. */
	E.rules.r[0].pool_hi = POOL + 3;
	E.rules.filtering = NAT_FILTER_EIF;
	srand(11);
	for (i = 0; i < 3000; i++) {
		uint32_t in = IP4(10, 1, (uint8_t)rand(), (uint8_t)rand());
		uint32_t out = IP4(198, 51, (uint8_t)rand(), (uint8_t)rand());
		uint16_t sp = (uint16_t)rand(), dp = (uint16_t)rand();
		uint32_t dl = (uint32_t)rand() % 60;
		uint16_t op;

		switch (i % 3) {
		case 0:
			n = mk_tcp(b, in, sp, out, dp, F_SYN, dl);
			break;
		case 1:
			n = mk_udp(b, in, sp, out, dp, dl, false);
			break;
		default:
			n = mk_echo(b, in, out, 8, sp, dp);
			break;
		}
		assert_int_equal(xl(b, n, LAN), NAT_DONE);
		op = i % 3 == 2 ? icmp_id(b) : sport(b);
		if (i % 3 == 0)
			n = mk_tcp(b, out, dp, ip_src(b), op, F_SYN | F_ACK, dl);
		else if (i % 3 == 1)
			n = mk_udp(b, out, dp, ip_src(b), op, dl, false);
		else
			n = mk_echo(b, out, ip_src(b), 0, op, dp);
		assert_int_equal(xl(b, n, WAN), NAT_DONE);
		assert_int_equal(ip_dst(b), in);
	}
}

/* ------------------------------------------------------------------------ */
/* TCP tracking, timeouts, limits */

static uint8_t
state_of(uint32_t in, uint16_t sp)
{
	unsigned i;

	walk();
	for (i = 0; i < W.n && i < MAXWALK; i++)
		if (W.i[i].orig.src == in && W.i[i].orig.sport == sp)
			return W.i[i].tcp_state;
	fail_msg("no session");
	return 0;
}

static void
seg(uint32_t in, uint16_t sp, uint16_t op, bool from_inside, uint8_t flags)
{
	uint8_t b[128];
	uint32_t n;

	if (from_inside)
		n = mk_tcp(b, in, sp, OUT1, 80, flags, 0);
	else
		n = mk_tcp(b, OUT1, 80, POOL, op, flags, 0);
	assert_int_equal(xl(b, n, from_inside ? LAN : WAN), NAT_DONE);
}

static void
test_tcp_states_and_timeouts(void **state)
{
	uint8_t b[128];
	uint32_t n;
	uint16_t op;

	(void)state;
	n = mk_tcp(b, IN1, 1111, OUT1, 80, F_SYN, 0);
	assert_int_equal(xl(b, n, LAN), NAT_DONE);
	op = sport(b);
	assert_int_equal(state_of(IN1, 1111), NAT_TCP_SYN_SENT);
	assert_int_equal(W.i[0].expires_in_ms, 240 * SEC); /* RFC 5382 REQ-5 */
	seg(IN1, 1111, op, false, F_SYN | F_ACK);
	assert_int_equal(state_of(IN1, 1111), NAT_TCP_SYN_RECV);
	assert_int_equal(W.i[0].expires_in_ms, 240 * SEC);
	seg(IN1, 1111, op, true, F_ACK);
	assert_int_equal(state_of(IN1, 1111), NAT_TCP_ESTABLISHED);
	assert_int_equal(W.i[0].expires_in_ms, 7440 * SEC);
	/* Idle for two hours: still there (RFC 5382 REQ-5). */
	advance(7400 * SEC);
	assert_int_equal(nat_table_nb_sessions(E.t), 1);
	seg(IN1, 1111, op, true, F_FIN | F_ACK);
	assert_int_equal(state_of(IN1, 1111), NAT_TCP_FIN_WAIT);
	assert_int_equal(W.i[0].expires_in_ms, 240 * SEC);
	seg(IN1, 1111, op, false, F_ACK);
	assert_int_equal(state_of(IN1, 1111), NAT_TCP_CLOSE_WAIT);
	seg(IN1, 1111, op, false, F_FIN | F_ACK);
	assert_int_equal(state_of(IN1, 1111), NAT_TCP_LAST_ACK);
	seg(IN1, 1111, op, true, F_ACK);
	assert_int_equal(state_of(IN1, 1111), NAT_TCP_TIME_WAIT);
	assert_int_equal(W.i[0].expires_in_ms, 120 * SEC);
	/* The shorter timeout applies at once, not after the old one. */
	advance(120 * SEC);
	assert_int_equal(nat_table_nb_sessions(E.t), 0);
	assert_int_equal(ctr(NAT_MIB_SessionsExpired), 1);

	/* RST -> CLOSE, 10 s. */
	op = tcp_open(IN1, 2222, OUT1, 80);
	seg(IN1, 2222, op, false, F_RST);
	assert_int_equal(state_of(IN1, 2222), NAT_TCP_CLOSE);
	advance(9 * SEC);
	assert_int_equal(nat_table_nb_sessions(E.t), 1);
	advance(1 * SEC);
	assert_int_equal(nat_table_nb_sessions(E.t), 0);

	/* Both sides close at once: FIN, FIN, then the ACK of the last. */
	op = tcp_open(IN1, 3333, OUT1, 80);
	seg(IN1, 3333, op, true, F_FIN | F_ACK);
	seg(IN1, 3333, op, false, F_FIN | F_ACK);
	assert_int_equal(state_of(IN1, 3333), NAT_TCP_LAST_ACK);
	seg(IN1, 3333, op, false, F_ACK); /* not the ACK of the last FIN */
	assert_int_equal(state_of(IN1, 3333), NAT_TCP_LAST_ACK);
	seg(IN1, 3333, op, true, F_ACK);
	assert_int_equal(state_of(IN1, 3333), NAT_TCP_TIME_WAIT);
	/* A new SYN reopens the tuple. */
	seg(IN1, 3333, op, true, F_SYN);
	assert_int_equal(state_of(IN1, 3333), NAT_TCP_SYN_SENT);
	nat_table_flush(E.t);

	/* Configured timeouts. */
	E.cfg.tcp_timeout_ms[NAT_TCP_SYN_SENT] = 5 * SEC;
	nat_table_set_cfg(E.t, &E.cfg);
	n = mk_tcp(b, IN1, 4444, OUT1, 80, F_SYN, 0);
	assert_int_equal(xl(b, n, LAN), NAT_DONE);
	advance(5 * SEC);
	assert_int_equal(nat_table_nb_sessions(E.t), 0);
}

/* Close the connection IN1:sp <-> OUT1:80 (op outside) down to TIME_WAIT. */
static void
tcp_close_tw(uint32_t in, uint16_t sp, uint16_t op)
{
	seg(in, sp, op, true, F_FIN | F_ACK);
	seg(in, sp, op, false, F_FIN | F_ACK);
	seg(in, sp, op, true, F_ACK);
	assert_int_equal(state_of(in, sp), NAT_TCP_TIME_WAIT);
}

/* A new connection on a closed tuple is tracked as new (Linux: a SYN in
 * TIME_WAIT or CLOSE kills the old entry and starts a new one), whichever
 * side opens it; in SYN_RECV only the opener's ACK establishes it. */
static void
test_tcp_reopen_closed(void **state)
{
	uint16_t op;

	(void)state;
	/* From the inside, over TIME_WAIT: established, kept idle 2 h. */
	op = tcp_open(IN1, 1111, OUT1, 80);
	tcp_close_tw(IN1, 1111, op);
	seg(IN1, 1111, op, true, F_SYN);
	assert_int_equal(state_of(IN1, 1111), NAT_TCP_SYN_SENT);
	seg(IN1, 1111, op, false, F_SYN | F_ACK);
	assert_int_equal(state_of(IN1, 1111), NAT_TCP_SYN_RECV);
	seg(IN1, 1111, op, false, F_ACK); /* not the opener's */
	assert_int_equal(state_of(IN1, 1111), NAT_TCP_SYN_RECV);
	seg(IN1, 1111, op, true, F_ACK);
	assert_int_equal(state_of(IN1, 1111), NAT_TCP_ESTABLISHED);
	assert_int_equal(W.i[0].expires_in_ms, 7440 * SEC);
	advance(3600 * SEC);
	assert_int_equal(nat_table_nb_sessions(E.t), 1);
	nat_table_flush(E.t);

	/* From the outside, over TIME_WAIT: roles swapped. */
	op = tcp_open(IN1, 2222, OUT1, 80);
	tcp_close_tw(IN1, 2222, op);
	seg(IN1, 2222, op, false, F_SYN);
	assert_int_equal(state_of(IN1, 2222), NAT_TCP_SYN_SENT);
	seg(IN1, 2222, op, true, F_SYN | F_ACK);
	assert_int_equal(state_of(IN1, 2222), NAT_TCP_SYN_RECV);
	seg(IN1, 2222, op, true, F_ACK);
	assert_int_equal(state_of(IN1, 2222), NAT_TCP_SYN_RECV);
	seg(IN1, 2222, op, false, F_ACK);
	assert_int_equal(state_of(IN1, 2222), NAT_TCP_ESTABLISHED);
	advance(3600 * SEC);
	assert_int_equal(nat_table_nb_sessions(E.t), 1);
	nat_table_flush(E.t);

	/* Over CLOSE (a RST): kept past CLOSE's 10 s once established. */
	op = tcp_open(IN1, 3333, OUT1, 80);
	seg(IN1, 3333, op, false, F_RST);
	seg(IN1, 3333, op, true, F_SYN);
	seg(IN1, 3333, op, false, F_SYN | F_ACK);
	seg(IN1, 3333, op, true, F_ACK);
	assert_int_equal(state_of(IN1, 3333), NAT_TCP_ESTABLISHED);
	advance(600 * SEC);
	assert_int_equal(nat_table_nb_sessions(E.t), 1);
	nat_table_flush(E.t);

	/* Over LAST_ACK: the SYN is ignored, the SYN-ACK answering it
	 * resyncs (Linux's "ignore" state), not the last ACK into TIME_WAIT. */
	op = tcp_open(IN1, 4444, OUT1, 80);
	seg(IN1, 4444, op, true, F_FIN | F_ACK);
	seg(IN1, 4444, op, false, F_FIN | F_ACK);
	assert_int_equal(state_of(IN1, 4444), NAT_TCP_LAST_ACK);
	seg(IN1, 4444, op, true, F_SYN);
	assert_int_equal(state_of(IN1, 4444), NAT_TCP_LAST_ACK);
	seg(IN1, 4444, op, false, F_SYN | F_ACK);
	assert_int_equal(state_of(IN1, 4444), NAT_TCP_SYN_RECV);
	seg(IN1, 4444, op, true, F_ACK);
	assert_int_equal(state_of(IN1, 4444), NAT_TCP_ESTABLISHED);
	advance(600 * SEC);
	assert_int_equal(nat_table_nb_sessions(E.t), 1);
}

/* A shortened timeout applies to the sessions there are once their timers
 * are moved (nat timeout does it, in chunks): `nat sessions show` and the
 * expiry agree.  A longer one applies when the timers fire. */
static void
test_timeout_lowered_applies_to_existing(void **state)
{
	uint8_t b[128];
	uint32_t n, from;
	uint16_t op;

	(void)state;
	op = tcp_open(IN1, 1111, OUT1, 80);
	(void)op;
	n = mk_udp(b, IN2, 5000, OUT1, 53, 4, false);
	assert_int_equal(xl(b, n, LAN), NAT_DONE);
	advance(100 * SEC);
	assert_false(nat_cfg_shorter(&E.cfg, &E.cfg));
	{
		struct nat_cfg next = E.cfg;

		next.tcp_timeout_ms[NAT_TCP_ESTABLISHED] = 600 * SEC;
		next.udp_timeout_ms = 60 * SEC;
		assert_true(nat_cfg_shorter(&E.cfg, &next));
		E.cfg = next;
	}
	nat_table_set_cfg(E.t, &E.cfg);
	for (from = 0; from != NAT_WALK_DONE;)
		from = nat_table_retime_some(E.t, from, 1);
	/* UDP: idle 100 s, past its new 60 s: gone at the next tick. */
	advance(1);
	assert_int_equal(nat_table_nb_sessions(E.t), 1);
	assert_int_equal(state_of(IN1, 1111), NAT_TCP_ESTABLISHED);
	assert_int_equal(W.i[0].expires_in_ms, 500 * SEC - 1);
	advance(500 * SEC - 1);
	assert_int_equal(nat_table_nb_sessions(E.t), 0);
	assert_int_equal(ctr(NAT_MIB_SessionsExpired), 2);
}

static void
test_tcp_invalid_opens_nothing(void **state)
{
	uint8_t b[128];
	uint32_t n;

	(void)state;
	n = mk_tcp(b, IN1, 1111, OUT1, 80, F_RST, 0);
	assert_int_equal(xl(b, n, LAN), NAT_DROP);
	n = mk_tcp(b, IN1, 1111, OUT1, 80, F_SYN | F_ACK, 0);
	assert_int_equal(xl(b, n, LAN), NAT_DROP);
	n = mk_tcp(b, IN1, 1111, OUT1, 80, F_FIN, 0);
	assert_int_equal(xl(b, n, LAN), NAT_DROP);
	assert_int_equal(nat_table_nb_sessions(E.t), 0);
	/* A mid-stream ACK is picked up, with the short "unanswered" timeout. */
	n = mk_tcp(b, IN1, 1111, OUT1, 80, F_ACK, 10);
	assert_int_equal(xl(b, n, LAN), NAT_DONE);
	assert_int_equal(state_of(IN1, 1111), NAT_TCP_ESTABLISHED);
	assert_int_equal(W.i[0].expires_in_ms, 240 * SEC);
	n = mk_tcp(b, OUT1, 80, POOL, 1111, F_ACK, 0);
	assert_int_equal(xl(b, n, WAN), NAT_DONE);
	walk();
	assert_int_equal(W.i[0].expires_in_ms, 7440 * SEC);
}

static void
test_expiry_frees_sessions(void **state)
{
	uint8_t b[128];
	uint32_t n;

	(void)state;
	E.cfg.udp_stream_timeout_ms = 180 * SEC;
	nat_table_set_cfg(E.t, &E.cfg);
	n = mk_udp(b, IN1, 5000, OUT1, 53, 4, false);
	assert_int_equal(xl(b, n, LAN), NAT_DONE);
	n = mk_udp(b, IN2, 5000, OUT1, 53, 4, false);
	assert_int_equal(xl(b, n, LAN), NAT_DONE);
	/* Traffic refreshes without a timer operation; the timer re-arms. */
	advance(200 * SEC);
	n = mk_udp(b, IN1, 5000, OUT1, 53, 4, false);
	assert_int_equal(xl(b, n, LAN), NAT_DONE);
	advance(100 * SEC);
	assert_int_equal(nat_table_nb_sessions(E.t), 1);
	assert_int_equal(ctr(NAT_MIB_SessionsExpired), 1);
	walk();
	assert_int_equal(W.i[0].expires_in_ms, 200 * SEC);
	/* Answered: the stream timeout. */
	n = mk_udp(b, OUT1, 53, POOL, 5000, 4, false);
	assert_int_equal(xl(b, n, WAN), NAT_DONE);
	walk();
	assert_int_equal(W.i[0].expires_in_ms, 180 * SEC);
	advance(179 * SEC);
	assert_int_equal(nat_table_nb_sessions(E.t), 1);
	advance(1 * SEC);
	assert_int_equal(nat_table_nb_sessions(E.t), 0);
	/* The mapping went with it: the inside port is free again. */
	n = mk_udp(b, IN2, 5000, OUT1, 53, 4, false);
	assert_int_equal(xl(b, n, LAN), NAT_DONE);
	assert_int_equal(sport(b), 5000);
	n = mk_udp(b, OUT1, 53, POOL, 5000, 4, false);
	assert_int_equal(xl(b, n, WAN), NAT_DONE);
	assert_int_equal(ip_dst(b), IN2);
}

static void
test_table_full_reclaims_transitory(void **state)
{
	uint8_t b[128];
	uint32_t n;
	uint16_t op;

	(void)state;
	nat_table_destroy(E.t);
	E.cfg.max_sessions = 4;
	new_table(0, 1);
	op = tcp_open(IN1, 1001, OUT1, 80);
	seg(IN1, 1001, op, false, F_ACK);             /* answered: a live session */
	n = mk_tcp(b, IN1, 1002, OUT1, 80, F_SYN, 0); /* the oldest transitory */
	assert_int_equal(xl(b, n, LAN), NAT_DONE);
	n = mk_tcp(b, IN1, 1003, OUT1, 80, F_SYN, 0);
	assert_int_equal(xl(b, n, LAN), NAT_DONE);
	n = mk_udp(b, IN1, 1004, OUT1, 53, 4, false);
	assert_int_equal(xl(b, n, LAN), NAT_DONE);
	assert_int_equal(nat_table_nb_sessions(E.t), 4);
	/* Full: the SYN_SENT of 1002 goes. */
	n = mk_udp(b, IN1, 1005, OUT1, 53, 4, false);
	assert_int_equal(xl(b, n, LAN), NAT_DONE);
	assert_int_equal(ctr(NAT_MIB_SessionsReclaimed), 1);
	n = mk_tcp(b, OUT1, 80, POOL, op + 1, F_SYN | F_ACK, 0);
	assert_int_not_equal(xl(b, n, WAN), NAT_DONE);
	n = mk_tcp(b, OUT1, 80, POOL, op + 2, F_SYN | F_ACK, 0);
	assert_int_equal(xl(b, n, WAN), NAT_DONE);
	/* Then 1003 (SYN_RECV), then nothing is left to reclaim. */
	n = mk_udp(b, IN1, 1006, OUT1, 53, 4, false);
	assert_int_equal(xl(b, n, LAN), NAT_DONE);
	n = mk_udp(b, IN1, 1007, OUT1, 53, 4, false);
	assert_int_equal(xl(b, n, LAN), NAT_DROP);
	assert_int_equal(ctr(NAT_MIB_SessionsReclaimed), 2);
	assert_int_equal(ctr(NAT_MIB_TableFull), 1);
	assert_int_equal(nat_table_nb_sessions(E.t), 4);
	/* Existing sessions keep working. */
	n = mk_tcp(b, IN1, 1001, OUT1, 80, F_ACK, 5);
	assert_int_equal(xl(b, n, LAN), NAT_DONE);
}

static void
test_host_limit(void **state)
{
	uint8_t b[128];
	uint32_t n, i;

	(void)state;
	E.cfg.max_per_host = 3;
	nat_table_set_cfg(E.t, &E.cfg);
	for (i = 0; i < 3; i++) {
		n = mk_udp(b, IN1, (uint16_t)(2000 + i), OUT1, 53, 4, false);
		assert_int_equal(xl(b, n, LAN), NAT_DONE);
	}
	n = mk_udp(b, IN1, 2003, OUT1, 53, 4, false);
	assert_int_equal(xl(b, n, LAN), NAT_DROP);
	assert_int_equal(ctr(NAT_MIB_HostLimit), 1);
	/* Other hosts are not affected, nor the host's existing sessions. */
	n = mk_udp(b, IN2, 2003, OUT1, 53, 4, false);
	assert_int_equal(xl(b, n, LAN), NAT_DONE);
	n = mk_udp(b, IN1, 2000, OUT1, 53, 4, false);
	assert_int_equal(xl(b, n, LAN), NAT_DONE);
	/* Sessions opened from outside do not count against the server. */
	add_dnat(PUDP, WAN_ADDR, 53, IN1, 53);
	for (i = 0; i < 5; i++) {
		n = mk_udp(b, OUT2, (uint16_t)(100 + i), WAN_ADDR, 53, 4, false);
		assert_int_equal(xl(b, n, WAN), NAT_DONE);
	}
	/* When some expire, the host may open again. */
	advance(301 * SEC);
	n = mk_udp(b, IN1, 2003, OUT1, 53, 4, false);
	assert_int_equal(xl(b, n, LAN), NAT_DONE);
	assert_int_equal(nat_host_count(E.t, IN1), 1);
}

/* ------------------------------------------------------------------------ */
/* Ownership */

#define NB_OWN 4

static void
test_owner_derivation(void **state)
{
	struct nat_table *tabs[NB_OWN];
	uint8_t b[128];
	uint32_t n, i, k;

	(void)state;
	nat_table_destroy(E.t);
	E.t = NULL;
	/* The server also has a whole address of its own, by an earlier rule:
	 * its answers still belong with the port rule's outside port. */
	add_dnat(0, IP4(203, 0, 113, 77), 0, SRV, 0);
	add_dnat(PTCP, WAN_ADDR, 8081, SRV, 80);
	for (k = 0; k < NB_OWN; k++) {
		tabs[k] = nat_table_create(&E.cfg, &E.w, k, NB_OWN);
		assert_non_null(tabs[k]);
	}
	/* Send to a table; follow the hand-over; return the table that took it. */
#define SEND(len, in_port)                                                                         \
	({                                                                                         \
		unsigned o_ = 0, hops_ = 0;                                                        \
		enum nat_verdict v_;                                                               \
		for (;;) {                                                                         \
			unsigned next_ = UINT_MAX;                                                 \
			v_ = nat_translate(tabs[o_], &E.rules, &E.env, b, len, in_port, E.now,     \
			                   &next_);                                                \
			if (v_ != NAT_OTHER_OWNER)                                                 \
				break;                                                             \
			assert_true(next_ < NB_OWN && next_ != o_ && hops_++ == 0);                \
			o_ = next_;                                                                \
		}                                                                                  \
		assert_int_equal(v_, NAT_DONE);                                                    \
		check_csums(b);                                                                    \
		o_;                                                                                \
	})
	for (i = 0; i < 200; i++) {
		uint16_t sp = (uint16_t)(20000 + i * 7), op;
		unsigned o1, o2, o3;

		/* Outbound: owned by the inside port's table; the outside port
		 * is in that table's block, so the answer goes there too. */
		n = mk_udp(b, IN1, sp, OUT1, 53, 4, false);
		o1 = SEND(n, LAN);
		assert_int_equal(o1, nat_port_owner(sp, NB_OWN));
		op = sport(b);
		assert_int_equal(nat_port_owner(op, NB_OWN), o1);
		n = mk_udp(b, OUT1, 53, POOL, op, 4, false);
		o2 = SEND(n, WAN);
		assert_int_equal(o2, o1);
		assert_int_equal(ip_dst(b), IN1);
		/* An ICMP error about it too. */
		{
			uint8_t q[64];

			n = mk_udp(q, POOL, op, OUT1, 53, 4, false);
			n = mk_icmp_err(b, ROUTER, POOL, 11, 0, q, n);
			o3 = SEND(n, WAN);
			assert_int_equal(o3, o1);
		}
		/* DNAT: in by the external port, the server's answer likewise. */
		n = mk_tcp(b, OUT2, sp, WAN_ADDR, 8081, F_SYN, 0);
		o1 = SEND(n, WAN);
		assert_int_equal(o1, nat_port_owner(8081, NB_OWN));
		n = mk_tcp(b, SRV, 80, OUT2, sp, F_SYN | F_ACK, 0);
		o2 = SEND(n, LAN);
		assert_int_equal(o2, o1);
		/* ICMP echo: by identifier. */
		n = mk_echo(b, IN2, OUT1, 8, sp, 1);
		o1 = SEND(n, LAN);
		op = icmp_id(b);
		n = mk_echo(b, OUT1, POOL, 0, op, 1);
		o2 = SEND(n, WAN);
		assert_int_equal(o2, o1);
		assert_int_equal(icmp_id(b), sp);
	}
#undef SEND
	for (k = 0; k < NB_OWN; k++) {
		assert_true(nat_table_nb_sessions(tabs[k]) > 0);
		nat_table_destroy(tabs[k]);
	}
}

/* Two DNAT rules to one target whose outside ports belong to different
 * workers: the target's answers would all go to the first rule's worker,
 * so the second is refused; rules whose workers agree are fine. */
static void
test_dnat_same_target_owner_conflict(void **state)
{
	struct nat_rule r = { .type = NAT_DNAT,
		              .proto = PTCP,
		              .ext_addr = WAN_ADDR,
		              .ext_port = 8081,
		              .to_addr = SRV,
		              .to_port = 80 };
	const struct nat_rule *other = NULL;

	(void)state;
	add_dnat(PTCP, WAN_ADDR, 8080, SRV, 80);
	/* 8080 and 8081: workers 0 and 1 of 2, the same worker of 1. */
	assert_int_equal(nat_rule_owner_conflict(&E.rules, &r, 2, &other), -EINVAL);
	assert_ptr_equal(other, &E.rules.r[1]);
	assert_int_equal(nat_rule_owner_conflict(&E.rules, &r, 1, NULL), 0);
	/* 8082 is worker 0 too; another target port or protocol is apart. */
	r.ext_port = 8082;
	assert_int_equal(nat_rule_owner_conflict(&E.rules, &r, 2, NULL), 0);
	r.ext_port = 8081;
	r.to_port = 81;
	assert_int_equal(nat_rule_owner_conflict(&E.rules, &r, 2, NULL), 0);
	r.to_port = 80;
	r.proto = PUDP;
	assert_int_equal(nat_rule_owner_conflict(&E.rules, &r, 2, NULL), 0);
	/* A whole address to the same target: its sessions to port 80 live
	 * on worker 80 % 2, its answers would go to 8080's... */
	r.proto = 0;
	r.ext_addr = IP4(203, 0, 113, 77);
	r.ext_port = r.to_port = 0;
	assert_int_equal(nat_rule_owner_conflict(&E.rules, &r, 2, NULL), 0);
	/* ...the same worker here, but not with 3 workers. */
	assert_int_equal(nat_rule_owner_conflict(&E.rules, &r, 3, &other), -EINVAL);
	assert_ptr_equal(other, &E.rules.r[1]);
	/* SNAT, STATIC and EXEMPT rules never conflict. */
	assert_int_equal(nat_rule_owner_conflict(&E.rules, &E.rules.r[0], 3, NULL), 0);
}

/* Translate in table o, following one hand-over; returns the verdict and
 * the table that gave it in *o. */
static enum nat_verdict
xl_owned(struct nat_table **tabs, unsigned *o, uint8_t *b, uint32_t len, uint16_t in_port)
{
	unsigned next = UINT_MAX;
	enum nat_verdict v =
	    nat_translate(tabs[*o], &E.rules, &E.env, b, len, in_port, E.now, &next);

	if (v == NAT_OTHER_OWNER) {
		assert_true(next != *o);
		*o = next;
		v = nat_translate(tabs[*o], &E.rules, &E.env, b, len, in_port, E.now, &next);
		assert_int_not_equal(v, NAT_OTHER_OWNER);
	}
	if (v == NAT_DONE)
		check_csums(b);
	return v;
}

/* A STATIC host hairpinning, with several workers: its session is on the
 * destination port's table, and the answers, to the static address, must
 * come back to that table. */
static void
test_static_hairpin_owner(void **state)
{
	struct nat_rule st = { .type = NAT_STATIC, .prefix = IN2, .ext_addr = IP4(192, 0, 2, 20) };
	struct nat_table *tabs[2];
	uint8_t b[128];
	uint32_t n;
	unsigned o, o1, k;
	uint16_t sp;

	(void)state;
	nat_table_destroy(E.t);
	E.t = NULL;
	add_rule(&st);
	add_dnat(PTCP, WAN_ADDR, 8080, SRV, 80); /* table 0 of 2 */
	for (k = 0; k < 2; k++) {
		tabs[k] = nat_table_create(&E.cfg, &E.w, k, 2);
		assert_non_null(tabs[k]);
	}
	for (sp = 5000; sp < 5004; sp++) {
		o = 0;
		n = mk_tcp(b, IN2, sp, WAN_ADDR, 8080, F_SYN, 0);
		assert_int_equal(xl_owned(tabs, &o, b, n, LAN), NAT_DONE);
		o1 = o;
		assert_int_equal(o1, 0);
		assert_int_equal(ip_dst(b), SRV);
		assert_int_equal(ip_src(b), IP4(192, 0, 2, 20));
		/* Kept when in the table's block (RFC 4787 REQ-3); 5001 takes
		 * 5002, whose own connection then takes 5004. */
		assert_int_equal(sport(b) % 2, 0);
		if (sp == 5000)
			assert_int_equal(sport(b), sp);
		n = mk_tcp(b, SRV, 80, IP4(192, 0, 2, 20), sport(b), F_SYN | F_ACK, 0);
		o = 1;
		assert_int_equal(xl_owned(tabs, &o, b, n, LAN), NAT_DONE);
		assert_int_equal(o, o1);
		assert_int_equal(ip_dst(b), IN2);
		assert_int_equal(dport(b), sp);
		assert_int_equal(ip_src(b), WAN_ADDR);
		assert_int_equal(sport(b), 8080);
	}
	for (k = 0; k < 2; k++)
		nat_table_destroy(tabs[k]);
}

static void
test_single_owner_is_zero(void **state)
{
	uint8_t b[128];
	uint32_t n;
	unsigned owner = 77;

	(void)state;
	assert_int_equal(nat_port_owner(12345, 1), 0);
	assert_int_equal(nat_port_owner(12345, 0), 0);
	n = mk_udp(b, IN1, 12345, OUT1, 53, 4, false);
	assert_int_equal(nat_translate(E.t, &E.rules, &E.env, b, n, LAN, E.now, &owner), NAT_DONE);
}

/* ------------------------------------------------------------------------ */
/* Walks and flushes in chunks (`nat sessions show`, `nat sessions flush`) */

/* Sessions i < n: UDP (300 s) from 10.1.i/256.i%256:(1024 + i), TCP SYN
 * (240 s) for even i when `mixed`; in slots 0..n-1 of a fresh table. */
static void
open_many(uint32_t n, bool mixed)
{
	uint8_t b[128];
	uint32_t len;

	for (uint32_t i = 0; i < n; i++) {
		uint32_t in = IP4(10, 1, 0, 0) + i;

		if (mixed && i % 2 == 0)
			len = mk_tcp(b, in, (uint16_t)(1024 + i), OUT1, 80, F_SYN, 0);
		else
			len = mk_udp(b, in, (uint16_t)(1024 + i), OUT1, 53, 4, false);
		assert_int_equal(xl(b, len, LAN), NAT_DONE);
	}
}

/* Which open_many() session a walk reported, by its inside source. */
struct seen {
	uint32_t n, cap;
	uint8_t *count; /* by index i of open_many() */
	uint32_t others;
};

static void
seen_cb(void *arg, const struct nat_session_info *i)
{
	struct seen *sn = arg;
	uint32_t k = i->orig.src - IP4(10, 1, 0, 0);

	sn->n++;
	if (k < sn->cap && i->orig.sport == 1024 + k)
		sn->count[k]++;
	else
		sn->others++;
}

/* Sessions in every other slot: a walk of budget 7 resumes where it
 * stopped, visits each slot once and reports each session exactly once. */
static void
test_walk_chunks_each_once(void **state)
{
	uint8_t count[1000] = { 0 };
	struct seen sn = { .cap = 1000, .count = count };
	uint32_t cur = 0, calls = 0;

	(void)state;
	open_many(1000, true);
	advance(241 * SEC); /* the TCP ones go: UDP in the odd slots */
	assert_int_equal(nat_table_nb_sessions(E.t), 500);
	assert_int_equal(E.t->s[0].flags & NSF_USED, 0);
	assert_int_not_equal(E.t->s[1].flags & NSF_USED, 0);
	do {
		uint32_t before = sn.n, next = nat_table_walk(E.t, cur, 7, seen_cb, &sn);

		/* At most one session per slot, and the cursor moves by the budget. */
		assert_true(sn.n - before <= 7);
		if (next != NAT_WALK_DONE)
			assert_int_equal(next, cur + 7);
		cur = next;
		calls++;
	} while (cur != NAT_WALK_DONE);
	assert_int_equal(calls, (1024 + 6) / 7);
	assert_int_equal(sn.n, 500);
	assert_int_equal(sn.others, 0);
	for (uint32_t i = 0; i < 1000; i++)
		assert_int_equal(count[i], i % 2);
	/* The done marker: past the end, nothing is visited. */
	assert_int_equal(nat_table_walk(E.t, 1024, 7, seen_cb, &sn), NAT_WALK_DONE);
	assert_int_equal(nat_table_walk(E.t, NAT_WALK_DONE, 7, seen_cb, &sn), NAT_WALK_DONE);
	assert_int_equal(nat_table_walk(E.t, 1020, 7, seen_cb, &sn), NAT_WALK_DONE);
	assert_int_equal(sn.n, 500);
	/* A budget of 0 still moves on; a budget past the end stops there. */
	assert_int_equal(nat_table_walk(E.t, 5, 0, seen_cb, &sn), 6);
	assert_int_equal(nat_table_walk(E.t, 1023, 0, seen_cb, &sn), NAT_WALK_DONE);
	assert_int_equal(nat_table_walk(E.t, 1, UINT32_MAX, seen_cb, &sn), NAT_WALK_DONE);
	assert_int_equal(sn.n, 1001);
}

/* Packets between the chunks of a walk: sessions come and go.  None is
 * reported twice; those alive throughout are reported exactly once. */
static void
test_walk_chunks_with_churn(void **state)
{
	uint8_t count[1000] = { 0 }, b[128];
	bool gone[1000] = { false };
	struct seen sn = { .cap = 1000, .count = count };
	uint32_t cur = 0, x = 12345, made = 0;

	(void)state;
	open_many(1000, false);
	do {
		cur = nat_table_walk(E.t, cur, 16, seen_cb, &sn);
		/* Between two chunks: one session ends, somewhere, and a new one
		 * takes its slot (the free list gives the latest freed first). */
		x = x * 1103515245u + 12345u;
		uint32_t k = (x >> 8) % 1000, n;

		if (!gone[k]) {
			assert_int_equal(nat_table_flush_some(E.t, k, 1, 1),
			                 k + 1 < 1024 ? k + 1 : NAT_WALK_DONE);
			gone[k] = true;
			n = mk_udp(b, IP4(10, 9, 0, 0) + made, 9, OUT2, 53, 4, false);
			assert_int_equal(xl(b, n, LAN), NAT_DONE);
			assert_int_not_equal(E.t->s[k].flags & NSF_USED, 0);
			made++;
		}
	} while (cur != NAT_WALK_DONE);
	assert_true(made > 30);
	for (uint32_t i = 0; i < 1000; i++)
		assert_true(gone[i] ? count[i] <= 1 : count[i] == 1);
	/* New sessions ahead of the cursor were reported, once each at most. */
	assert_true(sn.others <= made);
}

/* Consistency of the table between two chunks of a flush. */
static void
check_table(const struct nat_table *t)
{
	uint32_t used = 0;
	uint32_t hosts = 0;

	for (uint32_t i = 0; i < t->cap; i++) {
		const struct nat_session *s = &t->s[i];
		uint32_t same = 0;
		unsigned dir;

		if (!(s->flags & NSF_USED))
			continue;
		used++;
		/* Both tuples still lead to it. */
		for (unsigned d = 0; d < 2; d++)
			assert_ptr_equal(nat_sess_lookup(E.t, s->proto, &s->t[d], &dir), s);
		assert_true(tern_timer_pending(&s->timer));
		/* Its mapping is still found, by its holder. */
		if (s->flags & NSF_MAPPED) {
			uint32_t a;
			uint16_t p;

			nat_map_inside(s, &a, &p);
			assert_non_null(nat_map_by_inside(E.t, s->proto, a, p));
		}
		/* The per-host count is the number of counted sessions. */
		for (uint32_t j = 0; j < t->cap; j++)
			if ((t->s[j].flags & (NSF_USED | NSF_HOSTCNT)) ==
			        (NSF_USED | NSF_HOSTCNT) &&
			    t->s[j].t[NAT_DIR_ORIG].src == s->t[NAT_DIR_ORIG].src)
				same++;
		if (s->flags & NSF_HOSTCNT)
			assert_int_equal(nat_host_count(t, s->t[NAT_DIR_ORIG].src), same);
	}
	assert_int_equal(nat_table_nb_sessions(t), used);
	assert_int_equal(E.w.pending, used);
	for (uint32_t i = 0; i <= t->host_mask; i++)
		hosts += t->host[i].n;
	if (used == 0) {
		assert_int_equal(hosts, 0);
		assert_int_equal(t->rc_head, NAT_NIL);
		for (uint32_t i = 0; i <= t->hmask; i++)
			assert_int_equal(t->hbucket[i], NAT_NIL);
		for (uint32_t i = 0; i <= t->mmask; i++)
			assert_int_equal(t->mbucket[i], NAT_NIL);
	}
}

/* A flush in chunks of 5 slots, packets in between: the table is whole
 * after every chunk, mappings outlive a flushed holder while a session of
 * theirs is left, and only sessions opened behind the cursor survive. */
static void
test_flush_chunks_consistent(void **state)
{
	uint8_t b[128];
	uint32_t n, cur = 0, chunks = 0;
	uint16_t op, op2;

	(void)state;
	/* Slot 0: the holder of IN1:7000's mapping; slot 1000: the same
	 * mapping to another destination (on the holder's ring). */
	n = mk_udp(b, IN1, 7000, OUT1, 53, 4, false);
	assert_int_equal(xl(b, n, LAN), NAT_DONE);
	op = sport(b);
	open_many(999, true); /* slots 1..999; TCP in the even ones */
	n = mk_udp(b, IN1, 7000, OUT2, 53, 4, false);
	assert_int_equal(xl(b, n, LAN), NAT_DONE);
	assert_int_equal(sport(b), op);
	assert_int_equal(nat_host_count(E.t, IN1), 2);
	/* A TCP handshake, so that the reclaim list has members and
	 * non-members; a DNAT session (not mapped, not counted). */
	add_dnat(PTCP, WAN_ADDR, 8080, SRV, 80);
	n = mk_tcp(b, OUT2, 4444, WAN_ADDR, 8080, F_SYN, 0);
	assert_int_equal(xl(b, n, WAN), NAT_DONE);
	tcp_open(IN2, 6000, OUT1, 443);
	check_table(E.t);
	do {
		cur = nat_table_flush_some(E.t, cur, 5, UINT32_MAX);
		chunks++;
		check_table(E.t);
		if (chunks == 1) {
			/* The holder went; its mapping lives on in slot 1000. */
			assert_int_equal(E.t->s[0].flags & NSF_USED, 0);
			assert_int_equal(nat_host_count(E.t, IN1), 1);
			/* A new flow of IN1:7000 keeps the outside port (RFC 4787
			 * REQ-1) and takes a slot behind the cursor: it survives. */
			n = mk_udp(b, IN1, 7000, OUT1, 54, 4, false);
			assert_int_equal(xl(b, n, LAN), NAT_DONE);
			assert_int_equal(sport(b), op);
			op2 = sport(b);
			/* Sessions ahead still translate, both ways. */
			n = mk_udp(b, OUT2, 53, POOL, op, 4, false);
			assert_int_equal(xl(b, n, WAN), NAT_DONE);
			assert_int_equal(ip_dst(b), IN1);
			check_table(E.t);
		}
	} while (cur != NAT_WALK_DONE);
	assert_int_equal(chunks, (1024 + 4) / 5);
	/* Left: the one opened behind the cursor, with its count. */
	assert_int_equal(nat_table_nb_sessions(E.t), 1);
	assert_int_equal(nat_host_count(E.t, IN1), 1);
	n = mk_udp(b, OUT1, 54, POOL, op2, 4, false);
	assert_int_equal(xl(b, n, WAN), NAT_DONE);
	/* A second pass empties the table. */
	for (cur = 0; cur != NAT_WALK_DONE;)
		cur = nat_table_flush_some(E.t, cur, 5, UINT32_MAX);
	check_table(E.t);
	assert_int_equal(nat_table_nb_sessions(E.t), 0);
	assert_int_equal(nat_host_count(E.t, IN1), 0);
	assert_int_equal(nat_host_count(E.t, IN2), 0);
	assert_int_equal(E.w.pending, 0);
	/* Flushed sessions are not counted as expired or reclaimed. */
	assert_int_equal(ctr(NAT_MIB_SessionsExpired), 0);
	assert_int_equal(ctr(NAT_MIB_SessionsReclaimed), 0);
}

/* A flush stops at its session limit, where the next session is, or at
 * its slot limit, whichever comes first. */
static void
test_flush_chunks_session_limit(void **state)
{
	uint32_t cur, calls = 0;

	(void)state;
	open_many(1000, true);
	advance(241 * SEC); /* UDP left, in the odd slots */
	assert_int_equal(nat_table_nb_sessions(E.t), 500);
	assert_int_equal(nat_table_flush_some(E.t, 0, 4, 3), 4);    /* slots 1, 3 */
	assert_int_equal(nat_table_flush_some(E.t, 4, 100, 2), 9);  /* 5, 7; 9 is next */
	assert_int_equal(nat_table_flush_some(E.t, 9, 100, 0), 11); /* 0 counts as 1 */
	assert_int_equal(nat_table_nb_sessions(E.t), 495);
	for (cur = 11; cur != NAT_WALK_DONE; calls++)
		cur = nat_table_flush_some(E.t, cur, UINT32_MAX, 3);
	assert_int_equal(calls, (495 + 2) / 3);
	assert_int_equal(nat_table_nb_sessions(E.t), 0);
	assert_int_equal(E.w.pending, 0);
	for (uint32_t i = 0; i < 1000; i++)
		assert_int_equal(nat_host_count(E.t, IP4(10, 1, 0, 0) + i), 0);
	assert_int_equal(nat_table_flush_some(E.t, 0, UINT32_MAX, 3), NAT_WALK_DONE);
}

/* ---- How long one worker call of `nat sessions show` / flush takes ---- */

static double
clock_us(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static double
now_us(void)
{
	return clock_us(CLOCK_MONOTONIC);
}

/* This thread's CPU time: what a call costs without the time another
 * process had the core (this machine is shared; a worker's is not). */
static double
cpu_us(void)
{
	return clock_us(CLOCK_THREAD_CPUTIME_ID);
}

/* Per-call times of a chunked walk or flush: wall clock, and the
 * longest in CPU time. */
struct calls {
	double *us;
	uint32_t n, cap;
	double cpu_max;
};

static void
calls_add(struct calls *c, double us, double cpu)
{
	if (c->n == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 1024;
		c->us = realloc(c->us, c->cap * sizeof(*c->us));
		assert_non_null(c->us);
	}
	c->us[c->n++] = us;
	c->cpu_max = cpu > c->cpu_max ? cpu : c->cpu_max;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* One call's time before, then the chunks' now: median, 99th and 99.9th
 * percentiles, longest.  On a shared machine the longest wall-clock call
 * is often the scheduler's (another process ran in the middle), hence the
 * longest in this thread's CPU time too. */
static void
calls_print(const char *what, uint32_t n, double whole, struct calls *c)
{
	qsort(c->us, c->n, sizeof(*c->us), cmp_double);
	print_message("%s %u sessions: before, one call %.0f us; now %u calls: median %.0f us, "
	              "p99 %.0f us, p99.9 %.0f us, longest %.0f us (CPU %.0f us)\n",
	              what, n, whole, c->n, c->us[c->n / 2], c->us[c->n * 99 / 100],
	              c->us[c->n * 999 / 1000], c->us[c->n - 1], c->cpu_max);
	free(c->us);
	*c = (struct calls){ 0 };
}

/* n SNAT-like UDP sessions straight into the table (no packets: faster),
 * each with its own mapping and host count, as many hosts as sessions. */
static void
fill_direct(uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		struct nat_session *s = nat_sess_alloc(E.t);

		assert_non_null(s);
		s->proto = PUDP;
		s->t[0] = (struct nat_ep4){ IP4(10, 0, 0, 0) + i, OUT1, 1024, 53 };
		s->t[1] = (struct nat_ep4){ OUT1, POOL + (i >> 16), 53, (uint16_t)i };
		s->flags |= NSF_MAPPED | NSF_HOSTCNT;
		nat_sess_insert(E.t, s, E.now);
	}
	assert_int_equal(nat_table_nb_sessions(E.t), n);
}

/* What ternd's show did in its one call per worker: a row per session
 * appended to one array, doubled when full (out_array_reserve). */
struct grow {
	struct {
		struct nat_session_info i;
		unsigned worker;
	} * row;
	uint32_t n, cap;
};

static void
grow_cb(void *arg, const struct nat_session_info *i)
{
	struct grow *g = arg;

	if (g->n == g->cap) {
		uint32_t c = g->cap ? g->cap * 2 : 256;
		void *a = realloc(g->row, (size_t)c * sizeof(*g->row));

		assert_non_null(a);
		g->row = a;
		g->cap = c;
	}
	g->row[g->n].i = *i;
	g->row[g->n++].worker = 0;
}

/* What it does now: at most a chunk of rows per call, into a buffer of
 * the control thread's, copied out between calls (not on the worker). */
struct chunk_buf {
	struct nat_session_info *i;
	uint32_t n;
};

static void
chunk_cb(void *arg, const struct nat_session_info *i)
{
	struct chunk_buf *c = arg;

	c->i[c->n++] = *i;
}

/*
 * The longest single call on a worker during `nat sessions show` and
 * `nat sessions flush` of a full table of TERN_NAT_BENCH_SESSIONS
 * sessions (default 1M): one call per chunk now (NAT_WALK_BUDGET slots;
 * NAT_WALK_BUDGET slots or NAT_FLUSH_BUDGET sessions), one call for the
 * whole table as before.  Chunks first: the old walk's 100 MB of rows,
 * grown and freed, leaves the caches and TLB cold for what follows.
 * Prints the figures; asserts only what does not depend on the machine.
 */
static void
test_walk_flush_longest_call(void **state)
{
	const char *env = getenv("TERN_NAT_BENCH_SESSIONS");
	uint32_t n = env != NULL ? (uint32_t)strtoul(env, NULL, 0) : 1u << 20;
	struct grow g = { 0 };
	struct chunk_buf cb = { .n = 0 };
	struct calls walk = { 0 }, flush = { 0 };
	uint32_t cur, rows = 0;
	double t0, c0, whole_walk, whole_flush;

	(void)state;
	if (n < 1024)
		n = 1024;
	nat_table_destroy(E.t);
	E.cfg.max_sessions = n;
	new_table(0, 1);
	fill_direct(n);

	/* Now: chunks, into a buffer touched beforehand as ternd does. */
	cb.i = malloc(NAT_WALK_BUDGET * sizeof(*cb.i));
	assert_non_null(cb.i);
	memset(cb.i, 0, NAT_WALK_BUDGET * sizeof(*cb.i));
	cur = 0;
	do {
		cb.n = 0;
		t0 = now_us();
		c0 = cpu_us();
		cur = nat_table_walk(E.t, cur, NAT_WALK_BUDGET, chunk_cb, &cb);
		calls_add(&walk, now_us() - t0, cpu_us() - c0);
		rows += cb.n;
	} while (cur != NAT_WALK_DONE);
	free(cb.i);
	assert_int_equal(rows, n);
	assert_int_equal(walk.n, (n + NAT_WALK_BUDGET - 1) / NAT_WALK_BUDGET);
	cur = 0;
	do {
		t0 = now_us();
		c0 = cpu_us();
		cur = nat_table_flush_some(E.t, cur, NAT_WALK_BUDGET, NAT_FLUSH_BUDGET);
		calls_add(&flush, now_us() - t0, cpu_us() - c0);
	} while (cur != NAT_WALK_DONE);
	assert_int_equal(flush.n, (n + NAT_FLUSH_BUDGET - 1) / NAT_FLUSH_BUDGET);
	assert_int_equal(nat_table_nb_sessions(E.t), 0);
	assert_int_equal(nat_host_count(E.t, IP4(10, 0, 0, 0)), 0);
	assert_int_equal(E.w.pending, 0);

	/* Before: the whole table in one call each. */
	fill_direct(n);
	t0 = now_us();
	assert_int_equal(nat_table_walk(E.t, 0, UINT32_MAX, grow_cb, &g), NAT_WALK_DONE);
	whole_walk = now_us() - t0;
	assert_int_equal(g.n, n);
	free(g.row);
	t0 = now_us();
	nat_table_flush(E.t);
	whole_flush = now_us() - t0;
	assert_int_equal(nat_table_nb_sessions(E.t), 0);
	calls_print("show", n, whole_walk, &walk);
	calls_print("flush", n, whole_flush, &flush);
}

/* ------------------------------------------------------------------------ */
/* Scale */

static void
test_100k_sessions_expire(void **state)
{
	uint8_t b[128];
	uint32_t n, i;

	(void)state;
	nat_table_destroy(E.t);
	E.cfg.max_sessions = 100000;
	new_table(0, 1);
	E.rules.r[0].pool_hi = POOL + 7;
	for (i = 0; i < 100000; i++) {
		uint32_t in = IP4(10, 2, 0, 0) + i / 1000;
		uint16_t sp = (uint16_t)(10000 + i % 1000);

		if (i % 2)
			n = mk_udp(b, in, sp, OUT1, 53, 0, false);
		else
			n = mk_tcp(b, in, sp, OUT1, 80, F_SYN, 0);
		assert_int_equal(xl(b, n, LAN), NAT_DONE);
		if (i % 1000 == 0)
			advance(1);
	}
	assert_int_equal(nat_table_nb_sessions(E.t), 100000);
	assert_int_equal(ctr(NAT_MIB_SessionsCreated), 100000);
	/* One more: the table is full, a SYN_SENT is reclaimed. */
	n = mk_udp(b, IP4(10, 3, 0, 0), 1, OUT1, 53, 0, false);
	assert_int_equal(xl(b, n, LAN), NAT_DONE);
	assert_int_equal(ctr(NAT_MIB_SessionsReclaimed), 1);
	advance(241 * SEC);
	assert_int_equal(nat_table_nb_sessions(E.t), 50001);
	advance(100 * SEC);
	assert_int_equal(nat_table_nb_sessions(E.t), 0);
	assert_int_equal(ctr(NAT_MIB_SessionsExpired), 100000);
	print_message("100k sessions: %zu bytes for the table\n", nat_table_mem(E.t));
}

int
main(void)
{
#define T(n) cmocka_unit_test_setup_teardown(n, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_session_size_le_128),
		T(test_csum_update_matches_recompute),
		T(test_counter_names),
		T(test_bad_packets),
		T(test_chained_datagram),
		T(test_expiry_behind_last_packet),
		T(test_snat_tcp_outbound),
		T(test_snat_masquerade),
		T(test_snat_not_on_other_port),
		T(test_dnat_inbound_and_reply),
		T(test_dnat_whole_address),
		T(test_static_both_directions),
		T(test_exempt),
		T(test_eim_same_mapping_two_destinations),
		T(test_port_preservation),
		T(test_pool_paired),
		T(test_port_exhaustion),
		T(test_dnat_port_not_allocated),
		T(test_filtering_eif),
		T(test_filtering_adf),
		T(test_filtering_apdf),
		T(test_hairpin),
		T(test_dnat_two_uplinks_not_hairpin),
		T(test_dnat_outside_target_egress_rule_first),
		T(test_hairpin_to_mapping),
		T(test_hairpin_to_mapping_apdf),
		T(test_hairpin_to_mapping_adf),
		T(test_icmp_same_id_two_hosts),
		T(test_icmp_error_time_exceeded_translated),
		T(test_icmp_error_port_unreach_tcp),
		T(test_icmp_error_echo_quoted),
		T(test_icmp_error_from_inside_dnat),
		T(test_icmp_error_from_inside_snat),
		T(test_udp_zero_checksum),
		T(test_checksums_random_traffic),
		T(test_tcp_states_and_timeouts),
		T(test_tcp_reopen_closed),
		T(test_timeout_lowered_applies_to_existing),
		T(test_tcp_invalid_opens_nothing),
		T(test_expiry_frees_sessions),
		T(test_table_full_reclaims_transitory),
		T(test_host_limit),
		T(test_owner_derivation),
		T(test_single_owner_is_zero),
		T(test_dnat_same_target_owner_conflict),
		T(test_static_hairpin_owner),
		T(test_100k_sessions_expire),
		T(test_walk_chunks_each_once),
		T(test_walk_chunks_with_churn),
		T(test_flush_chunks_consistent),
		T(test_flush_chunks_session_limit),
		T(test_walk_flush_longest_call),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
