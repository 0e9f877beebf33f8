/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * TCP options (MSS RFC 6691, window scale and timestamps RFC 7323, SACK
 * RFC 2018), initial sequence numbers (RFC 6528) and SYN cookies.
 */
#include <errno.h>
#include <string.h>

#include "tcp/tcp_priv.h"

#define OPT_EOL       0
#define OPT_NOP       1
#define OPT_MSS       2
#define OPT_WSCALE    3
#define OPT_SACK_PERM 4
#define OPT_SACK      5
#define OPT_TS        8

/* SipHash-2-4 (Aumasson and Bernstein), 32 bits of its output. */
#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND                                                                                   \
	do {                                                                                       \
		v0 += v1;                                                                          \
		v1 = ROTL(v1, 13);                                                                 \
		v1 ^= v0;                                                                          \
		v0 = ROTL(v0, 32);                                                                 \
		v2 += v3;                                                                          \
		v3 = ROTL(v3, 16);                                                                 \
		v3 ^= v2;                                                                          \
		v0 += v3;                                                                          \
		v3 = ROTL(v3, 21);                                                                 \
		v3 ^= v0;                                                                          \
		v2 += v1;                                                                          \
		v1 = ROTL(v1, 17);                                                                 \
		v1 ^= v2;                                                                          \
		v2 = ROTL(v2, 32);                                                                 \
	} while (0)

static uint64_t
le64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

uint32_t
tcp_siphash(const uint8_t key[16], const void *data, size_t len)
{
	const uint8_t *in = data;
	uint64_t k0 = le64(key), k1 = le64(key + 8);
	uint64_t v0 = 0x736f6d6570736575ULL ^ k0, v1 = 0x646f72616e646f6dULL ^ k1;
	uint64_t v2 = 0x6c7967656e657261ULL ^ k0, v3 = 0x7465646279746573ULL ^ k1;
	uint64_t b = (uint64_t)len << 56, m;
	size_t i;

	for (i = 0; i + 8 <= len; i += 8) {
		m = le64(in + i);
		v3 ^= m;
		SIPROUND;
		SIPROUND;
		v0 ^= m;
	}
	for (size_t j = 0; i + j < len; j++)
		b |= (uint64_t)in[i + j] << (8 * j);
	v3 ^= b;
	SIPROUND;
	SIPROUND;
	v0 ^= b;
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	return (uint32_t)(v0 ^ v1 ^ v2 ^ v3);
}

/* RFC 6528 3: ISN = M + F(localip, localport, remoteip, remoteport, key),
 * M a 4 microsecond clock. */
uint32_t
tcp_isn(const struct tcp_stack *st, const struct tcp_tuple *t, uint64_t now)
{
	return tcp_siphash(st->key, t, sizeof(*t)) + (uint32_t)(now * 250);
}

int
tcp_opts_parse(const uint8_t *p, unsigned len, struct tcp_opts *o)
{
	unsigned i = 0;

	o->have = 0;
	o->nsack = 0;
	while (i < len) {
		uint8_t kind = p[i], olen;

		if (kind == OPT_EOL)
			break;
		if (kind == OPT_NOP) {
			i++;
			continue;
		}
		if (i + 1 >= len || (olen = p[i + 1]) < 2 || i + olen > len)
			return -EINVAL;
		switch (kind) {
		case OPT_MSS:
			if (olen != 4)
				return -EINVAL;
			o->have |= TCP_OPT_MSS;
			o->mss = (uint16_t)(p[i + 2] << 8 | p[i + 3]);
			break;
		case OPT_WSCALE:
			if (olen != 3)
				return -EINVAL;
			o->have |= TCP_OPT_WSCALE;
			/* RFC 7323 2.3: larger than 14 is used as 14. */
			o->wscale = p[i + 2] > TCP_MAX_WSCALE ? TCP_MAX_WSCALE : p[i + 2];
			break;
		case OPT_SACK_PERM:
			if (olen != 2)
				return -EINVAL;
			o->have |= TCP_OPT_SACK_OK;
			break;
		case OPT_TS:
			if (olen != 10)
				return -EINVAL;
			o->have |= TCP_OPT_TS;
			o->tsval = (uint32_t)p[i + 2] << 24 | (uint32_t)p[i + 3] << 16 |
			           (uint32_t)p[i + 4] << 8 | p[i + 5];
			o->tsecr = (uint32_t)p[i + 6] << 24 | (uint32_t)p[i + 7] << 16 |
			           (uint32_t)p[i + 8] << 8 | p[i + 9];
			break;
		case OPT_SACK:
			if ((olen - 2) % 8 != 0)
				return -EINVAL;
			for (unsigned b = 0; b < (olen - 2u) / 8 && o->nsack < TCP_MAX_SACK; b++) {
				const uint8_t *q = p + i + 2 + 8 * b;
				o->sack[o->nsack].start = (uint32_t)q[0] << 24 |
				                          (uint32_t)q[1] << 16 |
				                          (uint32_t)q[2] << 8 | q[3];
				o->sack[o->nsack].end = (uint32_t)q[4] << 24 |
				                        (uint32_t)q[5] << 16 | (uint32_t)q[6] << 8 |
				                        q[7];
				o->nsack++;
			}
			break;
		default:
			break; /* RFC 9293 3.2: ignore options we do not know */
		}
		i += olen;
	}
	return 0;
}

static uint8_t *
put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
	return p + 4;
}

/* Our MSS: what the interface allows (the caller's mss cap, 1460 for a
 * 1500-byte MTU), or TCP_MAXSEG. */
uint16_t
tcp_mss_ours(const struct tcp_conn *c)
{
	uint16_t mss = 1460;

	if (c->user_mss != 0 && c->user_mss < mss)
		mss = c->user_mss;
	return mss;
}

/* SACK blocks that fit after `used` bytes of other options. */
static unsigned
sack_blocks(const struct tcp_conn *c, unsigned used)
{
	unsigned room = (TCP_MAX_OPT_LEN - used - 2) / 8;

	return c->nooo < room ? c->nooo : room;
}

uint16_t
tcp_send_mss(const struct tcp_conn *c)
{
	unsigned n;

	/* c->mss already leaves room for the timestamp (negotiate()). */
	if (!c->sack_ok || c->nooo == 0)
		return c->mss;
	n = sack_blocks(c, c->ts_ok ? TCP_TS_OPT_LEN : 0);
	/* NOP NOP kind length, then the blocks. */
	return n == 0 ? c->mss : (uint16_t)(c->mss - (4 + 8 * n));
}

unsigned
tcp_opts_build(const struct tcp_conn *c, uint8_t flags, uint8_t *p)
{
	uint8_t *q = p;

	if (flags & TCP_F_SYN) {
		uint16_t mss = tcp_mss_ours(c);
		*q++ = OPT_MSS;
		*q++ = 4;
		*q++ = (uint8_t)(mss >> 8);
		*q++ = (uint8_t)mss;
		if (c->ws_ok) {
			*q++ = OPT_NOP;
			*q++ = OPT_WSCALE;
			*q++ = 3;
			*q++ = c->rcv_ws;
		}
		if (c->sack_ok) {
			*q++ = OPT_NOP;
			*q++ = OPT_NOP;
			*q++ = OPT_SACK_PERM;
			*q++ = 2;
		}
	}
	if (c->ts_ok) {
		uint32_t tsval = TCP_TS(c->st->now);
		/* A cookie SYN-ACK carries its options in tsval (see below). */
		if ((flags & (TCP_F_SYN | TCP_F_ACK)) == (TCP_F_SYN | TCP_F_ACK) &&
		    (c->flags & TCPF_COOKIE))
			tsval = (uint32_t)c->ts_recent_ms;
		*q++ = OPT_NOP;
		*q++ = OPT_NOP;
		*q++ = OPT_TS;
		*q++ = 10;
		q = put32(q, tsval);
		q = put32(q, (flags & TCP_F_SYN) && !(flags & TCP_F_ACK) ? 0 : c->ts_recent);
	}
	/* RFC 2018 4: SACK blocks for what we hold out of order, most recent
	 * first, as many as fit (tcp_send_mss() counts the same). */
	if (c->sack_ok && c->nooo != 0 && !(flags & TCP_F_SYN)) {
		unsigned n = sack_blocks(c, (unsigned)(q - p));
		if (n > 0) {
			*q++ = OPT_NOP;
			*q++ = OPT_NOP;
			*q++ = OPT_SACK;
			*q++ = (uint8_t)(2 + 8 * n);
			for (unsigned i = 0; i < n; i++) {
				q = put32(q, c->ooo[i].start);
				q = put32(q, c->ooo[i].end);
			}
		}
	}
	return (unsigned)(q - p);
}

/*
 * SYN cookies.  The ISN of a SYN-ACK sent without keeping state is
 *
 *   bits 31..27  T mod 32, T = now / 64 s
 *   bits 26..24  index of the MSS in mss_table
 *   bits 23..0   SipHash(key, tuple, peer ISN, T) mod 2^24
 *
 * The final ACK acknowledges ISN + 1: a cookie is good for up to two
 * periods (64 to 128 s).  Window scale and SACK cannot fit in the ISN:
 * when the peer sent timestamps they ride in the low bits of our tsval
 * (the peer echoes it), as in Linux; without timestamps they are lost.
 */
static const uint16_t mss_table[8] = { 536, 1200, 1300, 1360, 1400, 1440, 1452, 1460 };

static uint32_t
cookie_hash(const struct tcp_stack *st, const struct tcp_tuple *t, uint32_t peer_isn, uint32_t T)
{
	struct {
		struct tcp_tuple t;
		uint32_t isn, T;
	} in = { *t, peer_isn, T };

	return tcp_siphash(st->key, &in, sizeof(in)) & 0xffffff;
}

uint32_t
tcp_cookie_make(const struct tcp_stack *st, const struct tcp_tuple *t, uint32_t peer_isn,
                uint16_t mss, uint64_t now, uint16_t *mss_used)
{
	uint32_t T = (uint32_t)(now / 64000);
	unsigned idx = 0;

	for (unsigned i = 0; i < 8; i++)
		if (mss_table[i] <= mss)
			idx = i;
	*mss_used = mss_table[idx];
	return (T & 31) << 27 | idx << 24 | cookie_hash(st, t, peer_isn, T);
}

int
tcp_cookie_check(const struct tcp_stack *st, const struct tcp_tuple *t, uint32_t peer_isn,
                 uint32_t cookie, uint64_t now, uint16_t *mss)
{
	uint32_t T = (uint32_t)(now / 64000);

	for (uint32_t age = 0; age < 2 && age <= T; age++) {
		uint32_t Tc = T - age;
		if ((cookie >> 27) != (Tc & 31))
			continue;
		if ((cookie & 0xffffff) != cookie_hash(st, t, peer_isn, Tc))
			return -EINVAL;
		*mss = mss_table[(cookie >> 24) & 7];
		return 0;
	}
	return -EINVAL;
}
