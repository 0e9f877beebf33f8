/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * IPv4 and ICMP nodes, fed fake mbufs: each test asserts the edge a crafted
 * packet takes (the next node or the drop reason) and its side effects.
 *
 * Routing needs a real rte_fib, hence EAL (no hugepages, no PCI, no shared
 * config); the nodes themselves run without graphs or mempools.
 *
 * Topology:
 *   port 0  10.0.0.1/24
 *   port 1  10.1.0.1/24
 *   192.168.0.0/16 via 10.1.0.254 (port 1)
 *   203.0.113.0/24 blackhole
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
#include <rte_ether.h>
#include <rte_graph.h>
#include <rte_icmp.h>
#include <rte_ip.h>
#include <rte_fib.h>
#include <rte_mbuf.h>

#include "core/dp.h"
#include "core/mbuf.h"
#include "ip/ip.h"
#include "ip/ip_nodes.h"
#include "ip/ip_out.h"

#define ROOM 2048

/* Host-order address. */
#define IP4(a, b, c, d) (((uint32_t)(a) << 24) | ((uint32_t)(b) << 16) | ((uint32_t)(c) << 8) | (d))

static const struct rte_ether_addr port_mac = { { 0x02, 0, 0, 0, 0, 0x01 } };
static const struct rte_ether_addr peer_mac = { { 0x02, 0, 0, 0, 0, 0x02 } };
static const struct rte_ether_addr bcast = { { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff } };
static const struct rte_ether_addr mcast = { { 0x01, 0x00, 0x5e, 0x00, 0x00, 0x01 } };

/* Next-hop indices (the lpm's next-hop values). */
enum {
	NH_P0_LOCAL = 1,
	NH_P0_CONNECTED,
	NH_P0_BCAST,
	NH_P1_LOCAL,
	NH_P1_CONNECTED,
	NH_P1_BCAST,
	NH_GATEWAY,
	NH_BLACKHOLE,
	NH_COUNT,
};

static struct tern_nexthop nh[NH_COUNT];
static struct rte_fib *lpm;
static struct tern_dp dp;

/* ---- packets ---------------------------------------------------------- */

/*
 * A mbuf laid out like a pool's (header, private area, headroom, data) with
 * the IPv4 packet at data start and, just before it, the Ethernet header
 * eth_input stripped (dst `dmac`), as icmp_error_allowed() expects.
 */
static struct rte_mbuf *
fake_mbuf(const struct rte_ether_addr *dmac, const void *data, uint16_t len)
{
	uint16_t priv = sizeof(struct tern_mbuf_priv);
	struct rte_mbuf *m = calloc(1, sizeof(*m) + priv + RTE_PKTMBUF_HEADROOM + ROOM);
	struct rte_ether_hdr *eh;

	assert_non_null(m);
	m->buf_addr = (char *)m + sizeof(*m) + priv;
	m->buf_len = RTE_PKTMBUF_HEADROOM + ROOM;
	m->priv_size = priv;
	m->data_off = RTE_PKTMBUF_HEADROOM;
	m->nb_segs = 1;
	m->port = 0;
	m->data_len = len;
	m->pkt_len = len;
	m->l2_len = RTE_ETHER_HDR_LEN;
	eh = (struct rte_ether_hdr *)((char *)m->buf_addr + m->data_off - RTE_ETHER_HDR_LEN);
	eh->dst_addr = *dmac;
	eh->src_addr = peer_mac;
	eh->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
	memcpy(rte_pktmbuf_mtod(m, void *), data, len);
	return m;
}

static struct rte_ipv4_hdr *
iph(struct rte_mbuf *m)
{
	return rte_pktmbuf_mtod(m, struct rte_ipv4_hdr *);
}

/* Recompute the IP header checksum after editing the header. */
static void
ip_fix(struct rte_ipv4_hdr *ip)
{
	ip->hdr_checksum = 0;
	ip->hdr_checksum = rte_ipv4_cksum(ip);
}

/* Write a valid 20-byte header into buf; returns it. */
static struct rte_ipv4_hdr *
ip_build(void *buf, uint32_t src, uint32_t dst, uint8_t proto, uint16_t payload)
{
	struct rte_ipv4_hdr *ip = buf;

	*ip = (struct rte_ipv4_hdr){
		.version_ihl = RTE_IPV4_VHL_DEF,
		.total_length = rte_cpu_to_be_16((uint16_t)(sizeof(*ip) + payload)),
		.packet_id = rte_cpu_to_be_16(0x4242),
		.time_to_live = 64,
		.next_proto_id = proto,
		.src_addr = rte_cpu_to_be_32(src),
		.dst_addr = rte_cpu_to_be_32(dst),
	};
	ip_fix(ip);
	return ip;
}

/* A valid IPv4 packet with `payload` bytes (a pattern) after the header. */
static struct rte_mbuf *
ip_pkt_mac(const struct rte_ether_addr *dmac, uint32_t src, uint32_t dst, uint8_t proto,
           uint16_t payload)
{
	uint8_t buf[1500] = { 0 };

	ip_build(buf, src, dst, proto, payload);
	for (uint16_t i = 0; i < payload; i++)
		buf[sizeof(struct rte_ipv4_hdr) + i] = (uint8_t)(i * 7 + 1);
	return fake_mbuf(dmac, buf, (uint16_t)(sizeof(struct rte_ipv4_hdr) + payload));
}

static struct rte_mbuf *
ip_pkt(uint32_t src, uint32_t dst, uint8_t proto, uint16_t payload)
{
	return ip_pkt_mac(&port_mac, src, dst, proto, payload);
}

/* One's-complement sum (folded, not complemented) over [p, p + len). */
static uint16_t
sum16(const void *p, size_t len)
{
	return rte_raw_cksum(p, len);
}

static bool
ip_cksum_ok(const struct rte_ipv4_hdr *ip)
{
	return sum16(ip, rte_ipv4_hdr_len(ip)) == 0xffff;
}

/*
 * An ICMP message of `len` bytes (header included) after a 20-byte IP
 * header; the data after the 8-byte header is a pattern.  l3_len is set as
 * ip_input would.
 */
static struct rte_mbuf *
icmp_pkt_mac(const struct rte_ether_addr *dmac, uint32_t src, uint32_t dst, uint8_t type,
             uint8_t code, uint16_t len)
{
	uint8_t buf[1500] = { 0 };
	struct rte_icmp_hdr *icmp = (struct rte_icmp_hdr *)(buf + sizeof(struct rte_ipv4_hdr));
	struct rte_mbuf *m;

	ip_build(buf, src, dst, IPPROTO_ICMP, len);
	for (uint16_t i = 0; i < len; i++)
		((uint8_t *)icmp)[i] = (uint8_t)(i * 13 + 5);
	if (len >= sizeof(*icmp)) {
		icmp->icmp_type = type;
		icmp->icmp_code = code;
		icmp->icmp_ident = rte_cpu_to_be_16(0x1234);
		icmp->icmp_seq_nb = rte_cpu_to_be_16(7);
		icmp->icmp_cksum = 0;
		icmp->icmp_cksum = (uint16_t)~sum16(icmp, len);
	}
	m = fake_mbuf(dmac, buf, (uint16_t)(sizeof(struct rte_ipv4_hdr) + len));
	m->l3_len = sizeof(struct rte_ipv4_hdr);
	return m;
}

static struct rte_mbuf *
icmp_pkt(uint32_t src, uint32_t dst, uint8_t type, uint8_t code, uint16_t len)
{
	return icmp_pkt_mac(&port_mac, src, dst, type, code, len);
}

static struct rte_icmp_hdr *
icmph(struct rte_mbuf *m)
{
	return rte_pktmbuf_mtod_offset(m, struct rte_icmp_hdr *, sizeof(struct rte_ipv4_hdr));
}

/* ---- fixture ---------------------------------------------------------- */

static int
group_setup(void **state)
{
	struct rte_fib_conf cfg = { .type = RTE_FIB_DIR24_8,
		                    .default_nh = 0,
		                    .max_routes = 64,
		                    .dir24_8 = { .nh_sz = RTE_FIB_DIR24_8_4B, .num_tbl8 = 16 } };

	lpm = rte_fib_create("test_ip_fib", SOCKET_ID_ANY, &cfg);
	if (lpm == NULL)
		return -1;
	nh[NH_P0_LOCAL] = (struct tern_nexthop){ .port = 0, .type = TERN_NH_LOCAL };
	nh[NH_P0_CONNECTED] = (struct tern_nexthop){ .port = 0, .type = TERN_NH_CONNECTED };
	nh[NH_P0_BCAST] = (struct tern_nexthop){ .port = 0, .type = TERN_NH_BROADCAST };
	nh[NH_P1_LOCAL] = (struct tern_nexthop){ .port = 1, .type = TERN_NH_LOCAL };
	nh[NH_P1_CONNECTED] = (struct tern_nexthop){ .port = 1, .type = TERN_NH_CONNECTED };
	nh[NH_P1_BCAST] = (struct tern_nexthop){ .port = 1, .type = TERN_NH_BROADCAST };
	nh[NH_GATEWAY] = (struct tern_nexthop){ .gw = RTE_BE32(IP4(10, 1, 0, 254)),
		                                .port = 1,
		                                .type = TERN_NH_GATEWAY };
	nh[NH_BLACKHOLE] = (struct tern_nexthop){ .type = TERN_NH_BLACKHOLE };
	if (rte_fib_add(lpm, IP4(10, 0, 0, 1), 32, NH_P0_LOCAL) != 0 ||
	    rte_fib_add(lpm, IP4(10, 0, 0, 0), 24, NH_P0_CONNECTED) != 0 ||
	    rte_fib_add(lpm, IP4(10, 0, 0, 255), 32, NH_P0_BCAST) != 0 ||
	    rte_fib_add(lpm, IP4(10, 1, 0, 1), 32, NH_P1_LOCAL) != 0 ||
	    rte_fib_add(lpm, IP4(10, 1, 0, 0), 24, NH_P1_CONNECTED) != 0 ||
	    rte_fib_add(lpm, IP4(10, 1, 0, 255), 32, NH_P1_BCAST) != 0 ||
	    rte_fib_add(lpm, IP4(192, 168, 0, 0), 16, NH_GATEWAY) != 0 ||
	    rte_fib_add(lpm, IP4(203, 0, 113, 0), 24, NH_BLACKHOLE) != 0)
		return -1;
	return 0;
}

static int
group_teardown(void **state)
{
	rte_fib_free(lpm);
	lpm = NULL;
	return 0;
}

static int
setup(void **state)
{
	memset(&dp, 0, sizeof(dp));
	for (unsigned i = 0; i < RTE_MAX_ETHPORTS; i++)
		dp.port[i].xconnect = TERN_PORT_NONE;
	dp.port[0].mac = port_mac;
	dp.port[0].mtu = 1500;
	dp.port[0].up = true;
	dp.port[0].ip4 = RTE_BE32(IP4(10, 0, 0, 1));
	dp.port[1].mac = port_mac;
	dp.port[1].mtu = 1500;
	dp.port[1].up = true;
	dp.port[1].ip4 = RTE_BE32(IP4(10, 1, 0, 1));
	dp.fib = lpm;
	dp.nh = nh;
	dp.icmp_rate = 1000;
	dp.icmp_burst = 50;
	dp.icmp_redirects = true;
	return 0;
}

#define PEER IP4(10, 0, 0, 2)
#define US   IP4(10, 0, 0, 1)
#define US1  IP4(10, 1, 0, 1)

/* ---- ip_input --------------------------------------------------------- */

static void
test_ip_input_runt(void **state)
{
	struct rte_mbuf *m = ip_pkt(PEER, US, 17, 0);

	m->data_len = m->pkt_len = 19;
	assert_int_equal(ip_input_classify(&dp, m), IP_INPUT_NEXT_RUNT);
	m->data_len = m->pkt_len = 0;
	assert_int_equal(ip_input_classify(&dp, m), IP_INPUT_NEXT_RUNT);
	free(m);
}

static void
test_ip_input_version(void **state)
{
	struct rte_mbuf *m = ip_pkt(PEER, US, 17, 8);

	iph(m)->version_ihl = 0x65;
	ip_fix(iph(m));
	assert_int_equal(ip_input_classify(&dp, m), IP_INPUT_NEXT_VERSION);
	free(m);
}

static void
test_ip_input_ihl(void **state)
{
	struct rte_mbuf *m = ip_pkt(PEER, US, 17, 8);

	/* rte_ipv4_cksum would read IHL*4 = 16 bytes: sum by hand over 20. */
	iph(m)->version_ihl = 0x44;
	iph(m)->hdr_checksum = 0;
	iph(m)->hdr_checksum = (uint16_t)~sum16(iph(m), 20);
	assert_int_equal(ip_input_classify(&dp, m), IP_INPUT_NEXT_IHL);
	iph(m)->version_ihl = 0x40;
	assert_int_equal(ip_input_classify(&dp, m), IP_INPUT_NEXT_IHL);
	free(m);
}

static void
test_ip_input_header_truncated(void **state)
{
	/* IHL 15 (60 bytes) but only 40 bytes in the buffer. */
	struct rte_mbuf *m = ip_pkt(PEER, US, 17, 20);

	iph(m)->version_ihl = 0x4f;
	assert_int_equal(ip_input_classify(&dp, m), IP_INPUT_NEXT_RUNT);
	free(m);
}

static void
test_ip_input_checksum(void **state)
{
	struct rte_mbuf *m = ip_pkt(PEER, US, 17, 8);

	iph(m)->hdr_checksum ^= RTE_BE16(0x0001);
	assert_int_equal(ip_input_classify(&dp, m), IP_INPUT_NEXT_CHECKSUM);
	/* Any single-bit error elsewhere in the header too. */
	iph(m)->hdr_checksum ^= RTE_BE16(0x0001);
	iph(m)->time_to_live ^= 0x10;
	assert_int_equal(ip_input_classify(&dp, m), IP_INPUT_NEXT_CHECKSUM);
	free(m);
}

/*
 * The checksum test against DPDK's: random headers, many with all-ones
 * bytes so that every carry path runs.  A right checksum is never refused;
 * any one flipped bit always is.
 */
static void
test_ip_input_checksum_random(void **state)
{
	struct rte_mbuf *m = ip_pkt(PEER, US, 17, 8);
	struct rte_ipv4_hdr *ip = iph(m);
	uint32_t seed = 12345;

	for (unsigned i = 0; i < 200000; i++) {
		uint8_t *b = (uint8_t *)ip;
		unsigned bit;

		for (unsigned k = 0; k < 20; k++) {
			seed = seed * 1103515245 + 12345;
			b[k] = (seed >> 16) & 1 ? 0xff : (uint8_t)(seed >> 8);
		}
		ip->version_ihl = 0x45;
		ip->total_length = RTE_BE16(28);
		ip->hdr_checksum = 0;
		ip->hdr_checksum = rte_ipv4_cksum(ip);
		assert_int_not_equal(ip_input_classify(&dp, m), IP_INPUT_NEXT_CHECKSUM);
		/* Not in the version, IHL or length: those have their own checks. */
		do {
			seed = seed * 1103515245 + 12345;
			bit = (seed >> 8) % 160;
		} while (bit < 8 || (bit >= 16 && bit < 32));
		b[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		assert_int_equal(ip_input_classify(&dp, m), IP_INPUT_NEXT_CHECKSUM);
	}
	free(m);
}

static void
test_ip_input_checksum_offloaded(void **state)
{
	struct rte_mbuf *m = ip_pkt(PEER, US, 17, 8);

	iph(m)->hdr_checksum ^= RTE_BE16(0x0001);
	/* The NIC said good: the software check is skipped. */
	m->ol_flags = RTE_MBUF_F_RX_IP_CKSUM_GOOD;
	assert_int_equal(ip_input_classify(&dp, m), IP_INPUT_NEXT_LOCAL);
	/* The NIC said bad (or nothing): software checks. */
	m->ol_flags = RTE_MBUF_F_RX_IP_CKSUM_BAD;
	assert_int_equal(ip_input_classify(&dp, m), IP_INPUT_NEXT_CHECKSUM);
	m->ol_flags = RTE_MBUF_F_RX_IP_CKSUM_UNKNOWN;
	assert_int_equal(ip_input_classify(&dp, m), IP_INPUT_NEXT_CHECKSUM);
	free(m);
}

static void
test_ip_input_total_len_short(void **state)
{
	struct rte_mbuf *m = ip_pkt(PEER, US, 17, 8);

	iph(m)->total_length = RTE_BE16(19);
	ip_fix(iph(m));
	assert_int_equal(ip_input_classify(&dp, m), IP_INPUT_NEXT_TOTAL_LEN);
	iph(m)->total_length = RTE_BE16(0);
	ip_fix(iph(m));
	assert_int_equal(ip_input_classify(&dp, m), IP_INPUT_NEXT_TOTAL_LEN);
	free(m);
}

static void
test_ip_input_total_len_long(void **state)
{
	struct rte_mbuf *m = ip_pkt(PEER, US, 17, 8);

	iph(m)->total_length = RTE_BE16(29);
	ip_fix(iph(m));
	assert_int_equal(ip_input_classify(&dp, m), IP_INPUT_NEXT_TOTAL_LEN);
	/* Nothing was trimmed. */
	assert_int_equal(rte_pktmbuf_pkt_len(m), 28);
	free(m);
}

static void
test_ip_input_padding_trimmed(void **state)
{
	/* A 28-byte packet in a minimum Ethernet frame: 18 bytes of padding. */
	struct rte_mbuf *m = ip_pkt(PEER, US, 17, 26);

	iph(m)->total_length = RTE_BE16(28);
	ip_fix(iph(m));
	assert_int_equal(ip_input_classify(&dp, m), IP_INPUT_NEXT_LOCAL);
	assert_int_equal(rte_pktmbuf_pkt_len(m), 28);
	assert_int_equal(rte_pktmbuf_data_len(m), 28);
	/* total_length == frame: untouched. */
	assert_int_equal(ip_input_classify(&dp, m), IP_INPUT_NEXT_LOCAL);
	assert_int_equal(rte_pktmbuf_pkt_len(m), 28);
	free(m);
}

static void
test_ip_input_martian_src(void **state)
{
	static const uint32_t srcs[] = {
		IP4(0, 1, 2, 3),   IP4(0, 0, 0, 0),   IP4(127, 0, 0, 1),       IP4(224, 0, 0, 1),
		IP4(239, 1, 2, 3), IP4(240, 0, 0, 1), IP4(255, 255, 255, 255),
	};

	for (size_t i = 0; i < RTE_DIM(srcs); i++) {
		struct rte_mbuf *m = ip_pkt(srcs[i], US, 17, 8);

		assert_int_equal(ip_input_classify(&dp, m), IP_INPUT_NEXT_MARTIAN_SRC);
		free(m);
	}
}

static void
test_ip_input_martian_dst(void **state)
{
	static const uint32_t dsts[] = { IP4(0, 0, 0, 1), IP4(0, 0, 0, 0), IP4(127, 0, 0, 1),
		                         IP4(127, 255, 255, 255) };

	for (size_t i = 0; i < RTE_DIM(dsts); i++) {
		struct rte_mbuf *m = ip_pkt(PEER, dsts[i], 17, 8);

		assert_int_equal(ip_input_classify(&dp, m), IP_INPUT_NEXT_MARTIAN_DST);
		free(m);
	}
}

static void
test_ip_input_options(void **state)
{
	uint8_t buf[64] = { 0 };
	struct rte_ipv4_hdr *ip = ip_build(buf, PEER, US, 17, 12);
	struct rte_mbuf *m;

	/* IHL 6: one word of options (four NOPs... or EOL). */
	ip->version_ihl = 0x46;
	ip->total_length = RTE_BE16(32);
	memset(buf + 20, 1, 4); /* NOP x4 */
	ip_fix(ip);
	m = fake_mbuf(&port_mac, buf, 32);
	assert_true(ip_cksum_ok(iph(m)));
	assert_int_equal(ip_input_classify(&dp, m), IP_INPUT_NEXT_OPTIONS);
	free(m);
}

static void
test_ip_input_multicast(void **state)
{
	struct rte_mbuf *m = ip_pkt_mac(&mcast, PEER, IP4(224, 0, 0, 1), 17, 8);
	struct rte_mbuf *n = ip_pkt_mac(&mcast, PEER, IP4(239, 255, 255, 250), 17, 8);

	assert_int_equal(ip_input_classify(&dp, m), IP_INPUT_NEXT_MULTICAST);
	assert_int_equal(ip_input_classify(&dp, n), IP_INPUT_NEXT_MULTICAST);
	free(m);
	free(n);
}

static void
test_ip_input_limited_broadcast(void **state)
{
	struct rte_mbuf *m = ip_pkt_mac(&bcast, PEER, IP4(255, 255, 255, 255), 17, 8);

	assert_int_equal(ip_input_classify(&dp, m), IP_INPUT_NEXT_LOCAL);
	assert_int_equal(m->l3_len, 20);
	free(m);
}

static void
test_ip_input_local(void **state)
{
	struct rte_mbuf *m = ip_pkt(PEER, US, 17, 8);
	struct rte_mbuf *n = ip_pkt(PEER, US1, 17, 8); /* the other port's address */

	assert_int_equal(ip_input_classify(&dp, m), IP_INPUT_NEXT_LOCAL);
	assert_int_equal(m->l3_len, 20);
	assert_int_equal(ip_input_classify(&dp, n), IP_INPUT_NEXT_LOCAL);
	free(m);
	free(n);
}

static void
test_ip_input_subnet_broadcast(void **state)
{
	struct rte_mbuf *m = ip_pkt_mac(&bcast, PEER, IP4(10, 0, 0, 255), 17, 8);

	assert_int_equal(ip_input_classify(&dp, m), IP_INPUT_NEXT_LOCAL);
	free(m);
}

static void
test_ip_input_fragment(void **state)
{
	struct rte_mbuf *mf = ip_pkt(PEER, US, 17, 8);
	struct rte_mbuf *off = ip_pkt(PEER, US, 17, 8);
	struct rte_mbuf *df = ip_pkt(PEER, US, 17, 8);
	struct rte_mbuf *fwd = ip_pkt(PEER, IP4(10, 1, 0, 5), 17, 8);

	iph(mf)->fragment_offset = rte_cpu_to_be_16(RTE_IPV4_HDR_MF_FLAG);
	ip_fix(iph(mf));
	iph(off)->fragment_offset = rte_cpu_to_be_16(185);
	ip_fix(iph(off));
	iph(df)->fragment_offset = rte_cpu_to_be_16(RTE_IPV4_HDR_DF_FLAG);
	ip_fix(iph(df));
	iph(fwd)->fragment_offset = rte_cpu_to_be_16(RTE_IPV4_HDR_MF_FLAG | 185);
	ip_fix(iph(fwd));
	assert_int_equal(ip_input_classify(&dp, mf), IP_INPUT_NEXT_FRAGMENT);
	assert_int_equal(ip_input_classify(&dp, off), IP_INPUT_NEXT_FRAGMENT);
	/* DF alone is not a fragment. */
	assert_int_equal(ip_input_classify(&dp, df), IP_INPUT_NEXT_LOCAL);
	/* Fragments in transit are forwarded as they are. */
	assert_int_equal(ip_input_classify(&dp, fwd), IP_INPUT_NEXT_FORWARD);
	free(mf);
	free(off);
	free(df);
	free(fwd);
}

static void
test_ip_input_forward_connected(void **state)
{
	struct rte_mbuf *m = ip_pkt(PEER, IP4(10, 1, 0, 5), 17, 8);
	struct tern_mbuf_priv *p = tern_mbuf_priv(m);

	p->tx_port = 7;
	assert_int_equal(ip_input_classify(&dp, m), IP_INPUT_NEXT_FORWARD);
	assert_int_equal(p->tx_port, 1);
	assert_int_equal(p->nh_ip, RTE_BE32(IP4(10, 1, 0, 5)));
	/* Forwarding does not touch the header. */
	assert_int_equal(iph(m)->time_to_live, 64);
	free(m);
}

static void
test_ip_input_forward_gateway(void **state)
{
	struct rte_mbuf *m = ip_pkt(PEER, IP4(192, 168, 3, 4), 17, 8);
	struct tern_mbuf_priv *p = tern_mbuf_priv(m);

	assert_int_equal(ip_input_classify(&dp, m), IP_INPUT_NEXT_FORWARD);
	assert_int_equal(p->tx_port, 1);
	assert_int_equal(p->nh_ip, RTE_BE32(IP4(10, 1, 0, 254)));
	free(m);
}

static void
test_ip_input_blackhole(void **state)
{
	struct rte_mbuf *m = ip_pkt(PEER, IP4(203, 0, 113, 9), 17, 8);

	assert_int_equal(ip_input_classify(&dp, m), IP_INPUT_NEXT_BLACKHOLE);
	free(m);
}

static void
test_ip_input_no_route(void **state)
{
	struct rte_mbuf *m = ip_pkt(PEER, IP4(198, 51, 100, 1), 17, 8);
	struct tern_mbuf_priv *p = tern_mbuf_priv(m);

	p->icmp_type = 0xee;
	p->icmp_code = 0xee;
	assert_int_equal(ip_input_classify(&dp, m), IP_INPUT_NEXT_ICMP_ERROR);
	assert_int_equal(p->icmp_type, 3);
	assert_int_equal(p->icmp_code, 0);
	assert_int_equal(p->icmp_info, 0);
	free(m);
}

static void
test_ip_input_no_fib(void **state)
{
	struct rte_mbuf *m = ip_pkt(PEER, US, 17, 8);

	dp.fib = NULL;
	assert_int_equal(ip_input_classify(&dp, m), IP_INPUT_NEXT_ICMP_ERROR);
	free(m);
}

/* ---- ip_forward ------------------------------------------------------- */

/* RFC 1812 5.3.4: what came in a link-layer broadcast is not forwarded. */
static void
test_ip_forward_l2_broadcast(void **state)
{
	struct rte_mbuf *m = ip_pkt_mac(&bcast, PEER, IP4(10, 1, 0, 5), 17, 8);

	assert_int_equal(ip_forward_classify(&dp, m), IP_OUT_NEXT_L2_BROADCAST);
	assert_int_equal(iph(m)->time_to_live, 64); /* untouched */
	free(m);
	/* Without the Ethernet header to tell (l2_len 0), it goes. */
	m = ip_pkt_mac(&bcast, PEER, IP4(10, 1, 0, 5), 17, 8);
	m->l2_len = 0;
	assert_int_equal(ip_forward_classify(&dp, m), IP_OUT_NEXT_PORT_TX);
	free(m);
}

static void
test_ip_forward_ttl(void **state)
{
	struct rte_mbuf *m = ip_pkt(PEER, IP4(10, 1, 0, 5), 17, 8);

	assert_int_equal(ip_forward_classify(&dp, m), IP_OUT_NEXT_PORT_TX);
	assert_int_equal(iph(m)->time_to_live, 63);
	assert_true(ip_cksum_ok(iph(m)));
	/* Only the TTL changed. */
	assert_int_equal(iph(m)->dst_addr, RTE_BE32(IP4(10, 1, 0, 5)));
	assert_int_equal(rte_pktmbuf_pkt_len(m), 28);
	free(m);
}

/*
 * Every checksum value the old header can have (packet_id sweeps all 2^16 of
 * them) at several TTLs: the decremented header must still verify.
 */
static void
test_ip_forward_checksum_verifies(void **state)
{
	static const uint8_t ttls[] = { 2, 3, 64, 128, 255 };
	uint8_t buf[20];
	struct rte_mbuf *m = ip_pkt(PEER, IP4(10, 1, 0, 5), 17, 0);
	struct rte_ipv4_hdr *ip = iph(m);

	for (size_t t = 0; t < RTE_DIM(ttls); t++) {
		for (uint32_t id = 0; id <= 0xffff; id++) {
			ip_build(buf, PEER, IP4(10, 1, 0, 5), 17, 0);
			((struct rte_ipv4_hdr *)buf)->time_to_live = ttls[t];
			((struct rte_ipv4_hdr *)buf)->packet_id = rte_cpu_to_be_16((uint16_t)id);
			ip_fix((struct rte_ipv4_hdr *)buf);
			memcpy(ip, buf, sizeof(buf));
			assert_int_equal(ip_forward_classify(&dp, m), IP_OUT_NEXT_PORT_TX);
			assert_int_equal(ip->time_to_live, ttls[t] - 1);
			if (!ip_cksum_ok(ip))
				fail_msg(
				    "ttl %u id 0x%04x: old cksum 0x%04x, new 0x%04x does not "
				    "verify",
				    ttls[t], id,
				    rte_be_to_cpu_16(((struct rte_ipv4_hdr *)buf)->hdr_checksum),
				    rte_be_to_cpu_16(ip->hdr_checksum));
		}
	}
	free(m);
}

/*
 * RFC 1624 section 3: the incremental update must give the checksum a full
 * recomputation gives, 0x0000 and never 0xffff (-0), for every old value.
 */
static void
test_ip_forward_checksum_matches_recompute(void **state)
{
	static const uint8_t ttls[] = { 2, 3, 64, 128, 255 };
	uint8_t buf[20];
	struct rte_mbuf *m = ip_pkt(PEER, IP4(10, 1, 0, 5), 17, 0);
	struct rte_ipv4_hdr *ip = iph(m);
	unsigned bad = 0;

	for (size_t t = 0; t < RTE_DIM(ttls); t++) {
		for (uint32_t id = 0; id <= 0xffff; id++) {
			uint16_t got, want;

			ip_build(buf, PEER, IP4(10, 1, 0, 5), 17, 0);
			((struct rte_ipv4_hdr *)buf)->time_to_live = ttls[t];
			((struct rte_ipv4_hdr *)buf)->packet_id = rte_cpu_to_be_16((uint16_t)id);
			ip_fix((struct rte_ipv4_hdr *)buf);
			memcpy(ip, buf, sizeof(buf));
			assert_int_equal(ip_forward_classify(&dp, m), IP_OUT_NEXT_PORT_TX);
			got = ip->hdr_checksum;
			ip_fix(ip);
			want = ip->hdr_checksum;
			if (got != want && bad++ == 0)
				print_message(
				    "ttl %u id 0x%04x: old cksum 0x%04x -> 0x%04x, "
				    "recomputed 0x%04x\n",
				    ttls[t], id,
				    rte_be_to_cpu_16(((struct rte_ipv4_hdr *)buf)->hdr_checksum),
				    rte_be_to_cpu_16(got), rte_be_to_cpu_16(want));
		}
	}
	free(m);
	assert_int_equal(bad, 0);
}

/* The edge cases spelled out: old checksums around 0x0000, 0xfeff, 0xffff. */
static void
test_ip_forward_checksum_edges(void **state)
{
	static const uint16_t olds[] = { 0x0000, 0x0001, 0x00ff, 0x0100, 0xfdff,
		                         0xfe00, 0xfeff, 0xff00, 0xfffe, 0xffff };
	uint8_t buf[20];
	struct rte_mbuf *m = ip_pkt(PEER, IP4(10, 1, 0, 5), 17, 0);
	struct rte_ipv4_hdr *ip = iph(m), *b = (struct rte_ipv4_hdr *)buf;
	unsigned bad = 0;

	for (size_t i = 0; i < RTE_DIM(olds); i++) {
		uint32_t id;
		uint16_t got, want;

		/* Find the packet_id that gives this old checksum (0xffff is
		 * impossible from a recomputation: 0 stands for it). */
		for (id = 0; id <= 0xffff; id++) {
			ip_build(buf, PEER, IP4(10, 1, 0, 5), 17, 0);
			b->packet_id = rte_cpu_to_be_16((uint16_t)id);
			ip_fix(b);
			if (rte_be_to_cpu_16(b->hdr_checksum) == olds[i])
				break;
		}
		if (id > 0xffff) {
			/* Hand-made -0: same header, checksum 0xffff instead of 0. */
			assert_int_equal(olds[i], 0xffff);
			for (id = 0; id <= 0xffff; id++) {
				b->packet_id = rte_cpu_to_be_16((uint16_t)id);
				ip_fix(b);
				if (b->hdr_checksum == 0)
					break;
			}
			assert_true(id <= 0xffff);
			b->hdr_checksum = 0xffff;
		}
		assert_true(ip_cksum_ok(b));
		memcpy(ip, buf, sizeof(buf));
		assert_int_equal(ip_forward_classify(&dp, m), IP_OUT_NEXT_PORT_TX);
		assert_int_equal(ip->time_to_live, 63);
		if (!ip_cksum_ok(ip))
			fail_msg("old cksum 0x%04x: new 0x%04x does not verify", olds[i],
			         rte_be_to_cpu_16(ip->hdr_checksum));
		got = ip->hdr_checksum;
		ip_fix(ip);
		want = ip->hdr_checksum;
		if (got != want) {
			print_message("old cksum 0x%04x: incremental 0x%04x, recomputed 0x%04x\n",
			              olds[i], rte_be_to_cpu_16(got), rte_be_to_cpu_16(want));
			bad++;
		}
	}
	free(m);
	assert_int_equal(bad, 0);
}

static void
test_ip_forward_ttl_exceeded(void **state)
{
	static const uint8_t ttls[] = { 1, 0 };

	for (size_t i = 0; i < RTE_DIM(ttls); i++) {
		struct rte_mbuf *m = ip_pkt(PEER, IP4(10, 1, 0, 5), 17, 8);
		struct tern_mbuf_priv *p = tern_mbuf_priv(m);
		uint8_t before[28];

		iph(m)->time_to_live = ttls[i];
		ip_fix(iph(m));
		memcpy(before, iph(m), sizeof(before));
		assert_int_equal(ip_forward_classify(&dp, m), IP_OUT_NEXT_ICMP_ERROR);
		assert_int_equal(p->icmp_type, 11);
		assert_int_equal(p->icmp_code, 0);
		assert_int_equal(p->icmp_info, 0);
		assert_memory_equal(iph(m), before, sizeof(before));
		assert_int_equal(rte_pktmbuf_pkt_len(m), 28);
		free(m);
	}
}

/*
 * Bigger than the egress MTU: DF set gets frag needed with the MTU, header
 * untouched (RFC 1191); DF clear is decremented and sent to ip_frag (RFC
 * 791).
 */
static void
test_ip_forward_too_big(void **state)
{
	struct rte_mbuf *m = ip_pkt(PEER, IP4(10, 1, 0, 5), 17, 1000);
	struct tern_mbuf_priv *p = tern_mbuf_priv(m);
	uint8_t before[28];

	p->tx_port = 1;
	dp.port[1].mtu = 576;
	iph(m)->fragment_offset = rte_cpu_to_be_16(RTE_IPV4_HDR_DF_FLAG);
	ip_fix(iph(m));
	memcpy(before, iph(m), sizeof(before));
	assert_int_equal(ip_forward_classify(&dp, m), IP_OUT_NEXT_ICMP_ERROR);
	assert_int_equal(p->icmp_type, 3);
	assert_int_equal(p->icmp_code, 4);
	assert_int_equal(rte_be_to_cpu_32(p->icmp_info), 576);
	assert_memory_equal(iph(m), before, sizeof(before));

	iph(m)->fragment_offset = 0;
	ip_fix(iph(m));
	assert_int_equal(ip_forward_classify(&dp, m), IP_OUT_NEXT_FRAGMENT);
	assert_int_equal(iph(m)->time_to_live, 63);
	assert_true(ip_cksum_ok(iph(m)));

	/* At the MTU exactly, it goes on whole. */
	dp.port[1].mtu = (uint16_t)rte_pktmbuf_pkt_len(m);
	assert_int_equal(ip_forward_classify(&dp, m), IP_OUT_NEXT_PORT_TX);
	free(m);
}

/* ---- ip_local --------------------------------------------------------- */

static void
test_ip_local_icmp(void **state)
{
	struct rte_mbuf *m = ip_pkt(PEER, US, IPPROTO_ICMP, 8);
	rte_node_t id = rte_node_from_name("ip_local");
	char **names;
	rte_edge_t e;
	int rc;

	/* TERN_INIT hooks do not run here: register as icmp_input's would. */
	rc = ip_local_register(IPPROTO_ICMP, "icmp_input");
	assert_true(rc == 0 || rc == -EEXIST);
	assert_int_equal(ip_local_register(IPPROTO_ICMP, "icmp_input"), -EEXIST);
	assert_int_equal(ip_local_register(200, "no_such_node"), -ENOENT);

	e = ip_local_classify(&dp, m);
	assert_true(e >= IP_LOCAL_NEXT_FIRST_PROTO);
	/* ...and that edge leads to icmp_input. */
	assert_int_not_equal(id, RTE_NODE_ID_INVALID);
	/* With NULL, the size in bytes; allocate generously either way. */
	names = calloc(rte_node_edge_get(id, NULL), sizeof(char *));
	assert_non_null(names);
	assert_true(e < rte_node_edge_get(id, names));
	assert_string_equal(names[e], "icmp_input");
	free(names);
	free(m);
}

static void
test_ip_local_unknown_proto(void **state)
{
	struct rte_mbuf *m = ip_pkt(PEER, US, 253, 8);
	struct tern_mbuf_priv *p = tern_mbuf_priv(m);

	assert_int_equal(ip_local_classify(&dp, m), IP_LOCAL_NEXT_ICMP_ERROR);
	assert_int_equal(p->icmp_type, 3);
	assert_int_equal(p->icmp_code, 2);
	free(m);
}

/* ---- icmp_input ------------------------------------------------------- */

static void
check_echo_reply(struct rte_mbuf *m, const uint8_t *req, uint16_t len, uint32_t peer, uint32_t us)
{
	struct rte_ipv4_hdr *ip = iph(m);
	struct rte_icmp_hdr *icmp = icmph(m);
	const struct rte_icmp_hdr *rq = (const struct rte_icmp_hdr *)(req + 20);

	assert_int_equal(rte_pktmbuf_pkt_len(m), 20 + len);
	assert_int_equal(ip->src_addr, rte_cpu_to_be_32(us));
	assert_int_equal(ip->dst_addr, rte_cpu_to_be_32(peer));
	assert_int_equal(ip->time_to_live, 64);
	assert_int_equal(ip->next_proto_id, IPPROTO_ICMP);
	assert_int_equal(ip->total_length, rte_cpu_to_be_16(20 + len));
	assert_true(ip_cksum_ok(ip));
	assert_int_equal(icmp->icmp_type, RTE_IP_ICMP_ECHO_REPLY);
	assert_int_equal(icmp->icmp_code, 0);
	assert_int_equal(icmp->icmp_ident, rq->icmp_ident);
	assert_int_equal(icmp->icmp_seq_nb, rq->icmp_seq_nb);
	assert_memory_equal(icmp + 1, rq + 1, len - 8);
	if (sum16(icmp, len) != 0xffff)
		fail_msg("ICMP checksum 0x%04x does not verify",
		         rte_be_to_cpu_16(icmp->icmp_cksum));
}

static void
test_icmp_input_echo(void **state)
{
	static const uint16_t lens[] = { 8, 9, 64, 65, 1480 };

	for (size_t i = 0; i < RTE_DIM(lens); i++) {
		struct rte_mbuf *m = icmp_pkt(PEER, US, RTE_IP_ICMP_ECHO_REQUEST, 0, lens[i]);
		struct tern_mbuf_priv *p = tern_mbuf_priv(m);
		uint8_t req[1500];

		memcpy(req, iph(m), 20 + lens[i]);
		assert_int_equal(icmp_input_classify(&dp, m), ICMP_INPUT_NEXT_OUTPUT);
		check_echo_reply(m, req, lens[i], PEER, US);
		assert_int_equal(p->tx_port, 0);
		assert_int_equal(p->nh_ip, RTE_BE32(PEER));
		free(m);
	}
}

static void
test_icmp_input_echo_via_gateway(void **state)
{
	/* From a remote host to port 0's address: the reply goes out port 1. */
	uint32_t peer = IP4(192, 168, 7, 7);
	struct rte_mbuf *m = icmp_pkt(peer, US, RTE_IP_ICMP_ECHO_REQUEST, 0, 56);
	struct tern_mbuf_priv *p = tern_mbuf_priv(m);
	uint8_t req[1500];

	iph(m)->fragment_offset = RTE_BE16(RTE_IPV4_HDR_DF_FLAG);
	iph(m)->time_to_live = 3;
	ip_fix(iph(m));
	memcpy(req, iph(m), 20 + 56);
	assert_int_equal(icmp_input_classify(&dp, m), ICMP_INPUT_NEXT_OUTPUT);
	check_echo_reply(m, req, 56, peer, US);
	assert_int_equal(p->tx_port, 1);
	assert_int_equal(p->nh_ip, RTE_BE32(IP4(10, 1, 0, 254)));
	free(m);
}

/*
 * The reply's ICMP checksum is updated incrementally; it must equal a full
 * recomputation for every old value, including the one that yields 0.
 */
static void
test_icmp_input_echo_checksum_matches_recompute(void **state)
{
	unsigned bad = 0;

	for (uint32_t seq = 0; seq <= 0xffff; seq++) {
		struct rte_mbuf *m = icmp_pkt(PEER, US, RTE_IP_ICMP_ECHO_REQUEST, 0, 12);
		struct rte_icmp_hdr *icmp = icmph(m);
		uint16_t old, got, want;

		icmp->icmp_seq_nb = rte_cpu_to_be_16((uint16_t)seq);
		icmp->icmp_cksum = 0;
		icmp->icmp_cksum = (uint16_t)~sum16(icmp, 12);
		old = icmp->icmp_cksum;
		assert_int_equal(icmp_input_classify(&dp, m), ICMP_INPUT_NEXT_OUTPUT);
		if (sum16(icmp, 12) != 0xffff)
			fail_msg("seq 0x%04x: reply checksum 0x%04x does not verify", seq,
			         rte_be_to_cpu_16(icmp->icmp_cksum));
		got = icmp->icmp_cksum;
		icmp->icmp_cksum = 0;
		want = (uint16_t)~sum16(icmp, 12);
		if (got != want && bad++ == 0)
			print_message("seq 0x%04x: request cksum 0x%04x -> reply 0x%04x, "
			              "recomputed 0x%04x\n",
			              seq, rte_be_to_cpu_16(old), rte_be_to_cpu_16(got),
			              rte_be_to_cpu_16(want));
		free(m);
	}
	assert_int_equal(bad, 0);
}

static void
test_icmp_input_runt(void **state)
{
	struct rte_mbuf *m = icmp_pkt(PEER, US, 0, 0, 4);
	struct rte_mbuf *z = icmp_pkt(PEER, US, 0, 0, 0);
	struct rte_mbuf *s = icmp_pkt(PEER, US, RTE_IP_ICMP_ECHO_REQUEST, 0, 7);

	assert_int_equal(icmp_input_classify(&dp, m), ICMP_INPUT_NEXT_RUNT);
	assert_int_equal(icmp_input_classify(&dp, z), ICMP_INPUT_NEXT_RUNT);
	assert_int_equal(icmp_input_classify(&dp, s), ICMP_INPUT_NEXT_RUNT);
	free(m);
	free(z);
	free(s);
}

static void
test_icmp_input_checksum(void **state)
{
	struct rte_mbuf *m = icmp_pkt(PEER, US, RTE_IP_ICMP_ECHO_REQUEST, 0, 64);
	struct rte_mbuf *n = icmp_pkt(PEER, US, RTE_IP_ICMP_ECHO_REQUEST, 0, 64);

	icmph(m)->icmp_cksum ^= RTE_BE16(0x0100);
	/* A corrupted payload byte, the last one. */
	rte_pktmbuf_mtod_offset(n, uint8_t *, 20 + 63)[0] ^= 0x01;
	assert_int_equal(icmp_input_classify(&dp, m), ICMP_INPUT_NEXT_CHECKSUM);
	assert_int_equal(icmp_input_classify(&dp, n), ICMP_INPUT_NEXT_CHECKSUM);
	/* Dropped as it came: still a request. */
	assert_int_equal(icmph(m)->icmp_type, RTE_IP_ICMP_ECHO_REQUEST);
	assert_int_equal(iph(m)->dst_addr, RTE_BE32(US));
	free(m);
	free(n);
}

static void
test_icmp_input_echo_broadcast(void **state)
{
	static const uint32_t dsts[] = { IP4(10, 0, 0, 255), IP4(255, 255, 255, 255),
		                         IP4(10, 1, 0, 255) };

	for (size_t i = 0; i < RTE_DIM(dsts); i++) {
		struct rte_mbuf *m =
		    icmp_pkt_mac(&bcast, PEER, dsts[i], RTE_IP_ICMP_ECHO_REQUEST, 0, 64);

		assert_int_equal(icmp_input_classify(&dp, m), ICMP_INPUT_NEXT_UNHANDLED);
		assert_int_equal(icmph(m)->icmp_type, RTE_IP_ICMP_ECHO_REQUEST);
		assert_int_equal(iph(m)->src_addr, rte_cpu_to_be_32(PEER));
		free(m);
	}
}

static void
test_icmp_input_other_types(void **state)
{
	static const struct {
		uint8_t type, code;
	} tc[] = {
		{ RTE_IP_ICMP_ECHO_REPLY, 0 }, { 3, 3 }, { 11, 0 }, { 13, 0 }, { 255, 0 },
	};

	for (size_t i = 0; i < RTE_DIM(tc); i++) {
		struct rte_mbuf *m = icmp_pkt(PEER, US, tc[i].type, tc[i].code, 36);

		assert_int_equal(icmp_input_classify(&dp, m), ICMP_INPUT_NEXT_UNHANDLED);
		assert_int_equal(icmph(m)->icmp_type, tc[i].type);
		free(m);
	}
}

/* An echo request with another code is answered, code kept (as Linux). */
static void
test_icmp_input_echo_other_code(void **state)
{
	struct rte_mbuf *m = icmp_pkt(PEER, US, RTE_IP_ICMP_ECHO_REQUEST, 9, 36);

	assert_int_equal(icmp_input_classify(&dp, m), ICMP_INPUT_NEXT_OUTPUT);
	assert_int_equal(icmph(m)->icmp_type, RTE_IP_ICMP_ECHO_REPLY);
	assert_int_equal(icmph(m)->icmp_code, 9);
	free(m);
}

static void
test_icmp_input_no_route(void **state)
{
	static const uint32_t srcs[] = { IP4(198, 51, 100, 1), IP4(203, 0, 113, 5) };

	for (size_t i = 0; i < RTE_DIM(srcs); i++) {
		struct rte_mbuf *m = icmp_pkt(srcs[i], US, RTE_IP_ICMP_ECHO_REQUEST, 0, 16);

		assert_int_equal(icmp_input_classify(&dp, m), ICMP_INPUT_NEXT_NO_ROUTE);
		free(m);
	}
}

/* ---- redirects (RFC 1812 5.2.7.2) -------------------------------------- */

/* A packet from host `src` that came in on `port`, routed by ip_input. */
static struct rte_mbuf *
routed(uint32_t src, uint32_t dst, uint16_t port)
{
	struct rte_mbuf *m = ip_pkt(src, dst, 17, 8);

	m->port = port;
	assert_int_equal(ip_input_classify(&dp, m), IP_INPUT_NEXT_FORWARD);
	return m;
}

static bool
redirect_due(uint32_t src, uint32_t dst, uint16_t port)
{
	struct rte_mbuf *m = routed(src, dst, port);
	bool due = ip_forward_redirect_due(&dp, m);

	free(m);
	return due;
}

static void
test_ip_forward_redirect(void **state)
{
	/* 10.1.0.7 sends to 192.168/16 through us, whose next hop 10.1.0.254
	 * is on the same subnet of the same port: tell it. */
	struct rte_mbuf *m = routed(IP4(10, 1, 0, 7), IP4(192, 168, 3, 4), 1);

	assert_true(ip_forward_redirect_due(&dp, m));
	/* Not when switched off... */
	dp.icmp_redirects = false;
	assert_false(ip_forward_redirect_due(&dp, m));
	dp.icmp_redirects = true;
	/* ...nor when the packet is about to die here anyway... */
	iph(m)->time_to_live = 1;
	assert_false(ip_forward_redirect_due(&dp, m));
	free(m);
	/* ...nor when it leaves by another port (port 0 host to the gateway
	 * on port 1)... */
	assert_false(redirect_due(IP4(10, 0, 0, 7), IP4(192, 168, 3, 4), 0));
	/* ...nor to a sender that is not on the port's subnet (it came through
	 * another router, which the host route would not help)... */
	assert_false(redirect_due(IP4(172, 16, 0, 7), IP4(192, 168, 3, 4), 1));
	/* ...nor back to the sender itself. */
	assert_false(redirect_due(IP4(10, 1, 0, 7), IP4(10, 1, 0, 7), 1));
	/* A destination on the subnet itself: the host should send to it
	 * directly, and the redirect names the target as the next hop. */
	assert_true(redirect_due(IP4(10, 1, 0, 7), IP4(10, 1, 0, 9), 1));
	/* Never about a frame to the link's broadcast address (RFC 1812
	 * 4.3.2.7), though its IP destination is unicast. */
	m = ip_pkt_mac(&bcast, IP4(10, 1, 0, 7), IP4(192, 168, 3, 4), 17, 8);
	m->port = 1;
	assert_int_equal(ip_input_classify(&dp, m), IP_INPUT_NEXT_FORWARD);
	assert_false(ip_forward_redirect_due(&dp, m));
	free(m);
}

/* ---- icmp_error_allowed ----------------------------------------------- */

static void
test_icmp_error_allowed_icmp_error(void **state)
{
	static const uint8_t errors[] = { 3, 4, 5, 11, 12 };

	for (size_t i = 0; i < RTE_DIM(errors); i++) {
		struct rte_mbuf *m = icmp_pkt(PEER, US, errors[i], 0, 36);

		assert_false(icmp_error_allowed(&dp, m));
		free(m);
	}
}

/* A fragment from ip_frag: its IP header alone in the first segment, the
 * ICMP header (of an error) in the next. */
static void
test_icmp_error_allowed_icmp_error_chained(void **state)
{
	struct rte_mbuf *m = icmp_pkt(PEER, US, 11, 0, 36);
	struct rte_mbuf *tail = icmp_pkt(PEER, US, 11, 0, 36);
	uint16_t all = rte_pktmbuf_data_len(m);

	/* The second segment holds what followed the header. */
	memmove(rte_pktmbuf_mtod(tail, char *), rte_pktmbuf_mtod(m, char *) + 20, all - 20);
	tail->data_len = all - 20;
	m->data_len = 20;
	m->next = tail;
	m->nb_segs = 2;
	assert_false(icmp_error_allowed(&dp, m));
	free(m);
	free(tail);
}

static void
test_icmp_error_allowed_icmp_query(void **state)
{
	struct rte_mbuf *m = icmp_pkt(PEER, US, RTE_IP_ICMP_ECHO_REQUEST, 0, 16);
	struct rte_mbuf *r = icmp_pkt(PEER, US, RTE_IP_ICMP_ECHO_REPLY, 0, 16);

	assert_true(icmp_error_allowed(&dp, m));
	assert_true(icmp_error_allowed(&dp, r));
	free(m);
	free(r);
}

static void
test_icmp_error_allowed_udp(void **state)
{
	struct rte_mbuf *m = ip_pkt(PEER, IP4(198, 51, 100, 1), 17, 8);

	assert_true(icmp_error_allowed(&dp, m));
	free(m);
}

/* A packet ternd built (no ingress port) whose next hop failed: no error
 * to send, and none read from dp->port[0xffff]. */
static void
test_icmp_error_allowed_own_packet(void **state)
{
	struct rte_mbuf *m = ip_pkt(US, IP4(198, 51, 100, 1), 17, 8);
	struct rte_mbuf *n = ip_pkt(PEER, IP4(198, 51, 100, 1), 17, 8);

	m->port = RTE_MBUF_PORT_INVALID;
	assert_false(icmp_error_allowed(&dp, m));
	/* Nor from a port without an address. */
	n->port = 2;
	assert_false(icmp_error_allowed(&dp, n));
	free(m);
	free(n);
}

static void
test_icmp_error_allowed_ip_broadcast(void **state)
{
	struct rte_mbuf *b = ip_pkt(PEER, IP4(255, 255, 255, 255), 17, 8);
	struct rte_mbuf *m = ip_pkt(PEER, IP4(224, 0, 0, 1), 17, 8);
	struct rte_mbuf *n = ip_pkt(PEER, IP4(239, 1, 2, 3), 17, 8);

	/* Unicast MAC, so only the IP destination can refuse. */
	assert_false(icmp_error_allowed(&dp, b));
	assert_false(icmp_error_allowed(&dp, m));
	assert_false(icmp_error_allowed(&dp, n));
	free(b);
	free(m);
	free(n);
}

static void
test_icmp_error_allowed_link_broadcast(void **state)
{
	struct rte_mbuf *b = ip_pkt_mac(&bcast, PEER, IP4(198, 51, 100, 1), 17, 8);
	struct rte_mbuf *m = ip_pkt_mac(&mcast, PEER, IP4(198, 51, 100, 1), 17, 8);

	assert_false(icmp_error_allowed(&dp, b));
	assert_false(icmp_error_allowed(&dp, m));
	free(b);
	free(m);
}

static void
test_icmp_error_allowed_fragments(void **state)
{
	struct rte_mbuf *first = ip_pkt(PEER, IP4(198, 51, 100, 1), 17, 8);
	struct rte_mbuf *later = ip_pkt(PEER, IP4(198, 51, 100, 1), 17, 8);
	struct rte_mbuf *last = ip_pkt(PEER, IP4(198, 51, 100, 1), 17, 8);

	iph(first)->fragment_offset = RTE_BE16(RTE_IPV4_HDR_MF_FLAG);
	ip_fix(iph(first));
	iph(later)->fragment_offset = RTE_BE16(RTE_IPV4_HDR_MF_FLAG | 185);
	ip_fix(iph(later));
	iph(last)->fragment_offset = RTE_BE16(1);
	ip_fix(iph(last));
	assert_true(icmp_error_allowed(&dp, first));
	assert_false(icmp_error_allowed(&dp, later));
	assert_false(icmp_error_allowed(&dp, last));
	free(first);
	free(later);
	free(last);
}

static void
test_icmp_error_allowed_source(void **state)
{
	static const uint32_t srcs[] = { IP4(0, 0, 0, 0),        IP4(127, 0, 0, 1),
		                         IP4(127, 1, 2, 3),      IP4(224, 0, 0, 1),
		                         IP4(239, 0, 0, 9),      IP4(240, 0, 0, 1),
		                         IP4(255, 255, 255, 255) };

	for (size_t i = 0; i < RTE_DIM(srcs); i++) {
		struct rte_mbuf *m = ip_pkt(srcs[i], IP4(198, 51, 100, 1), 17, 8);

		assert_false(icmp_error_allowed(&dp, m));
		free(m);
	}
}

static void
test_icmp_error_allowed_no_l2(void **state)
{
	/* Injected or locally built: no Ethernet header to look at. */
	struct rte_mbuf *m = ip_pkt_mac(&bcast, PEER, IP4(198, 51, 100, 1), 17, 8);

	m->l2_len = 0;
	assert_true(icmp_error_allowed(&dp, m));
	free(m);
}

int
main(int argc, char **argv)
{
	char *eal_args[] = {
		"test_ip",
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
	int eal_argc = (int)RTE_DIM(eal_args);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_ip_input_runt, setup),
		cmocka_unit_test_setup(test_ip_input_version, setup),
		cmocka_unit_test_setup(test_ip_input_ihl, setup),
		cmocka_unit_test_setup(test_ip_input_header_truncated, setup),
		cmocka_unit_test_setup(test_ip_input_checksum, setup),
		cmocka_unit_test_setup(test_ip_input_checksum_random, setup),
		cmocka_unit_test_setup(test_ip_input_checksum_offloaded, setup),
		cmocka_unit_test_setup(test_ip_input_total_len_short, setup),
		cmocka_unit_test_setup(test_ip_input_total_len_long, setup),
		cmocka_unit_test_setup(test_ip_input_padding_trimmed, setup),
		cmocka_unit_test_setup(test_ip_input_martian_src, setup),
		cmocka_unit_test_setup(test_ip_input_martian_dst, setup),
		cmocka_unit_test_setup(test_ip_input_options, setup),
		cmocka_unit_test_setup(test_ip_input_multicast, setup),
		cmocka_unit_test_setup(test_ip_input_limited_broadcast, setup),
		cmocka_unit_test_setup(test_ip_input_local, setup),
		cmocka_unit_test_setup(test_ip_input_subnet_broadcast, setup),
		cmocka_unit_test_setup(test_ip_input_fragment, setup),
		cmocka_unit_test_setup(test_ip_input_forward_connected, setup),
		cmocka_unit_test_setup(test_ip_input_forward_gateway, setup),
		cmocka_unit_test_setup(test_ip_input_blackhole, setup),
		cmocka_unit_test_setup(test_ip_input_no_route, setup),
		cmocka_unit_test_setup(test_ip_input_no_fib, setup),
		cmocka_unit_test_setup(test_ip_forward_l2_broadcast, setup),
		cmocka_unit_test_setup(test_ip_forward_ttl, setup),
		cmocka_unit_test_setup(test_ip_forward_checksum_verifies, setup),
		cmocka_unit_test_setup(test_ip_forward_checksum_matches_recompute, setup),
		cmocka_unit_test_setup(test_ip_forward_checksum_edges, setup),
		cmocka_unit_test_setup(test_ip_forward_ttl_exceeded, setup),
		cmocka_unit_test_setup(test_ip_forward_too_big, setup),
		cmocka_unit_test_setup(test_ip_local_icmp, setup),
		cmocka_unit_test_setup(test_ip_local_unknown_proto, setup),
		cmocka_unit_test_setup(test_icmp_input_echo, setup),
		cmocka_unit_test_setup(test_icmp_input_echo_via_gateway, setup),
		cmocka_unit_test_setup(test_icmp_input_echo_checksum_matches_recompute, setup),
		cmocka_unit_test_setup(test_icmp_input_runt, setup),
		cmocka_unit_test_setup(test_icmp_input_checksum, setup),
		cmocka_unit_test_setup(test_icmp_input_echo_broadcast, setup),
		cmocka_unit_test_setup(test_icmp_input_other_types, setup),
		cmocka_unit_test_setup(test_icmp_input_echo_other_code, setup),
		cmocka_unit_test_setup(test_icmp_input_no_route, setup),
		cmocka_unit_test_setup(test_icmp_error_allowed_icmp_error, setup),
		cmocka_unit_test_setup(test_icmp_error_allowed_icmp_error_chained, setup),
		cmocka_unit_test_setup(test_icmp_error_allowed_icmp_query, setup),
		cmocka_unit_test_setup(test_icmp_error_allowed_udp, setup),
		cmocka_unit_test_setup(test_ip_forward_redirect, setup),
		cmocka_unit_test_setup(test_icmp_error_allowed_own_packet, setup),
		cmocka_unit_test_setup(test_icmp_error_allowed_ip_broadcast, setup),
		cmocka_unit_test_setup(test_icmp_error_allowed_link_broadcast, setup),
		cmocka_unit_test_setup(test_icmp_error_allowed_fragments, setup),
		cmocka_unit_test_setup(test_icmp_error_allowed_source, setup),
		cmocka_unit_test_setup(test_icmp_error_allowed_no_l2, setup),
	};
	int rc;

	(void)argc;
	(void)argv;
	if (rte_eal_init(eal_argc, eal_args) < 0) {
		fprintf(stderr, "test_ip: rte_eal_init failed\n");
		return 1;
	}
	rc = cmocka_run_group_tests(tests, group_setup, group_teardown);
	rte_eal_cleanup();
	return rc;
}
