/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ip_input: validates IPv4 headers per RFC 1812 section 5.2.2 (one drop
 * reason per check), then routes: to ip_local for us, to ip_forward for
 * others, to icmp_error when there is no route.
 */
#include <errno.h>
#include <string.h>

#include <rte_byteorder.h>
#include <rte_ether.h>
#include <rte_graph.h>
#include <rte_graph_worker.h>
#include <rte_ip.h>

#include "core/drop.h"
#include "core/init.h"
#include "core/node.h"
#include "eth/eth.h"
#include "ip/ip_nodes.h"
#include "ip/ip_priv.h"

/*
 * Is the header checksum right (RFC 1071: the one's complement sum of the
 * header is all ones)?  The common 20-byte header is added up as two 64-bit
 * words and a 32-bit one, with the carries added back in (one's complement
 * addition in 64 bits: 2^64 is 1 modulo 0xffff, as 2^16 is).  Such a sum
 * keeps the 16-bit sum's value modulo 0xffff, and a nonzero sum folds to
 * 0xffff exactly when it is a multiple of 0xffff: one modulo by a constant
 * (a multiply) instead of the folds.  The sum is never zero: the version
 * byte is not.  (Three loads in registers: a third fewer instructions than
 * five 32-bit words copied through the stack, scripts/bench-instr.sh.)
 */
static inline bool
ip_hdr_cksum_ok(const struct rte_ipv4_hdr *ip, uint16_t hl)
{
	uint64_t a, b, s;
	uint32_t c;

	if (unlikely(hl != sizeof(*ip)))
		return rte_raw_cksum(ip, hl) == 0xffff;
	memcpy(&a, ip, sizeof(a)); /* plain unaligned loads once compiled */
	memcpy(&b, (const uint8_t *)ip + 8, sizeof(b));
	memcpy(&c, (const uint8_t *)ip + 16, sizeof(c));
	s = a + b;
	s += s < a; /* the end-around carry */
	s += c;
	s += s < c;
	return s % 0xffff == 0;
}

/*
 * First octets that need a closer look, as source or destination: 0/8 and
 * 127/8 (RFC 1812 5.3.7, never valid), 224/4 (multicast) and 240/4
 * (reserved, but 255.255.255.255 is the limited broadcast).
 */
static const bool ip_odd_octet[256] = {
	[0] = true,
	[127] = true,
	[224 ... 255] = true,
};

/* Not an edge: the packet passed every check and needs a route lookup. */
#define IP_INPUT_LOOKUP IP_INPUT_NEXT_MAX

/* The address checks, for packets whose first octets looked odd. */
static rte_edge_t
ip_input_check_addrs(uint32_t src, uint32_t dst, uint16_t hl)
{
	/* RFC 1812 5.3.7: never valid as a source. */
	if ((src >> 24) == 0 || (src >> 24) == 127 || (src >> 28) >= 14)
		return IP_INPUT_NEXT_MARTIAN_SRC;
	if ((dst >> 24) == 0 || (dst >> 24) == 127 || ((dst >> 28) == 15 && dst != 0xffffffff))
		return IP_INPUT_NEXT_MARTIAN_DST;
	if (hl > sizeof(struct rte_ipv4_hdr))
		return IP_INPUT_NEXT_OPTIONS;
	if ((dst >> 28) == 14)
		return IP_INPUT_NEXT_MULTICAST;
	return IP_INPUT_LOOKUP;
}

/* The length checks shared by both paths; the header is `hl` bytes. */
static __rte_always_inline rte_edge_t
ip_input_check_len(struct rte_mbuf *m, const struct rte_ipv4_hdr *ip, uint16_t hl)
{
	uint16_t tl;

	/* ...its checksum is right... */
	if (!(m->ol_flags & RTE_MBUF_F_RX_IP_CKSUM_GOOD) && unlikely(!ip_hdr_cksum_ok(ip, hl)))
		return IP_INPUT_NEXT_CHECKSUM;
	/* ...and its total length covers the header and fits in the frame. */
	tl = rte_be_to_cpu_16(ip->total_length);
	if (unlikely(tl < hl || tl > rte_pktmbuf_pkt_len(m)))
		return IP_INPUT_NEXT_TOTAL_LEN;
	if (unlikely(rte_pktmbuf_pkt_len(m) > tl)) /* Ethernet padding */
		tern_mbuf_truncate(m, tl);
	return IP_INPUT_LOOKUP;
}

/* Every check in RFC 1812's order, for headers that are not the plain
 * 20-byte IPv4 one (or frames too short to hold it). */
static rte_edge_t
ip_input_check_slow(struct rte_mbuf *m, uint32_t *dst)
{
	struct rte_ipv4_hdr *ip;
	rte_edge_t e;
	uint16_t hl;

	/* 5.2.2: the packet is at least as long as a minimal header... */
	if (rte_pktmbuf_data_len(m) < sizeof(*ip))
		return IP_INPUT_NEXT_RUNT;
	ip = rte_pktmbuf_mtod(m, struct rte_ipv4_hdr *);
	/* ...its version is 4... */
	if ((ip->version_ihl >> 4) != 4)
		return IP_INPUT_NEXT_VERSION;
	/* ...its header length is at least 5 words... */
	hl = (uint16_t)((ip->version_ihl & 0xf) * 4);
	if (hl < sizeof(*ip))
		return IP_INPUT_NEXT_IHL;
	if (rte_pktmbuf_data_len(m) < hl)
		return IP_INPUT_NEXT_RUNT;
	if ((e = ip_input_check_len(m, ip, hl)) != IP_INPUT_LOOKUP)
		return e;
	*dst = rte_be_to_cpu_32(ip->dst_addr);
	return ip_input_check_addrs(rte_be_to_cpu_32(ip->src_addr), *dst, hl);
}

/*
 * RFC 1812 5.2.2 checks, one drop reason each.  Returns an edge, or
 * IP_INPUT_LOOKUP with the destination (host order) in *dst.  The plain
 * 20-byte header with ordinary addresses takes the short way: one compare
 * for version and length, one table look per address.
 */
static __rte_always_inline rte_edge_t
ip_input_check(struct rte_mbuf *m, uint32_t *dst)
{
	struct rte_ipv4_hdr *ip = rte_pktmbuf_mtod(m, struct rte_ipv4_hdr *);
	rte_edge_t e;
	uint32_t src;

	if (unlikely(rte_pktmbuf_data_len(m) < sizeof(*ip) || ip->version_ihl != 0x45))
		return ip_input_check_slow(m, dst);
	if ((e = ip_input_check_len(m, ip, sizeof(*ip))) != IP_INPUT_LOOKUP)
		return e;
	src = rte_be_to_cpu_32(ip->src_addr);
	*dst = rte_be_to_cpu_32(ip->dst_addr);
	if (unlikely(ip_odd_octet[src >> 24] | ip_odd_octet[*dst >> 24]))
		return ip_input_check_addrs(src, *dst, sizeof(*ip));
	return IP_INPUT_LOOKUP;
}

static inline bool
ip_is_fragment(struct rte_mbuf *m)
{
	const struct rte_ipv4_hdr *ip = rte_pktmbuf_mtod(m, const struct rte_ipv4_hdr *);

	return ip->fragment_offset &
	       rte_cpu_to_be_16(RTE_IPV4_HDR_MF_FLAG | RTE_IPV4_HDR_OFFSET_MASK);
}

static inline rte_edge_t
ip_input_local(struct rte_mbuf *m, bool bcast)
{
	const struct rte_ipv4_hdr *ip = rte_pktmbuf_mtod(m, const struct rte_ipv4_hdr *);

	/* Upper layers find their header by it; forwarded packets never
	 * need it, so only local ones pay for the write. */
	m->l3_len = (ip->version_ihl & 0xf) * 4;
	/* Upper layers that refuse broadcasts (TCP, echo services) read this
	 * rather than look the route up again. */
	tern_mbuf_priv(m)->l3_bcast = bcast;
	if (unlikely(ip_is_fragment(m)))
		return IP_INPUT_NEXT_FRAGMENT;
	return IP_INPUT_NEXT_LOCAL;
}

/*
 * The edge for next hop `idx` (0: no route); sets priv tx_port and nh_ip.
 * Always inlined into ip_input's loop, like ip_input_check: as calls they
 * showed up in perf as their own symbols, once per packet.
 */
static __rte_always_inline rte_edge_t
ip_input_route_one(const struct tern_dp *dp, struct rte_mbuf *m, uint32_t dst, uint32_t idx)
{
	struct tern_mbuf_priv *priv = tern_mbuf_priv(m);
	const struct tern_nexthop *nh = &dp->nh[idx];

	if (dst == 0xffffffff)
		return ip_input_local(m, true);
	if (unlikely(idx == 0)) {
		/* RFC 1812 5.2.7.1: destination unreachable, net. */
		ip_mark_icmp_error(m, TERN_ICMP_DEST_UNREACH, TERN_ICMP_NET_UNREACH, 0);
		return IP_INPUT_NEXT_ICMP_ERROR;
	}
	switch (nh->type) {
	case TERN_NH_LOCAL:
	case TERN_NH_BROADCAST:
		return ip_input_local(m, nh->type == TERN_NH_BROADCAST);
	case TERN_NH_CONNECTED:
	case TERN_NH_GATEWAY:
		priv->tx_port = nh->port;
		priv->nh_ip = nh->type == TERN_NH_GATEWAY ? nh->gw : rte_cpu_to_be_32(dst);
		return IP_INPUT_NEXT_FORWARD;
	default:
		return IP_INPUT_NEXT_BLACKHOLE;
	}
}

rte_edge_t
ip_input_route(const struct tern_dp *dp, struct rte_mbuf *m, uint32_t dst, uint32_t idx)
{
	return ip_input_route_one(dp, m, dst, idx);
}

rte_edge_t
ip_input_classify(const struct tern_dp *dp, struct rte_mbuf *m)
{
	uint32_t dst = 0;
	rte_edge_t e = ip_input_check(m, &dst);

	if (e != IP_INPUT_LOOKUP)
		return e;
	return ip_input_route_one(dp, m, dst, ip_fib_lookup(dp, rte_cpu_to_be_32(dst)));
}

/* Written by a TERN_INIT hook before any graph exists, then read-only. */
static rte_edge_t prerouting_edge;

int
ip_prerouting_register(const char *node_name)
{
	int rc;

	if (prerouting_edge != 0)
		return -EEXIST;
	if ((rc = tern_node_add_edge("ip_input", node_name, &prerouting_edge)) < 0)
		return rc;
	if ((rc = ip_reassembly_prerouting(node_name)) < 0)
		return rc;
	return icmp_error_prerouting(node_name);
}

/* Checks per packet, then one FIB lookup for the whole chunk. */
static uint16_t
ip_input_process(struct rte_graph *graph, struct rte_node *node, void **objs, uint16_t nb)
{
	const struct tern_dp *dp = tern_node_worker(node)->dp;
	/* Read once: the compiler cannot keep it in a register across the
	 * stores of the loop, which may alias it. */
	const bool prerouting = dp->prerouting;
	rte_edge_t next[TERN_NODE_CHUNK];
	uint32_t dst[TERN_NODE_CHUNK];
	uint64_t nh[TERN_NODE_CHUNK];
	uint16_t which[TERN_NODE_CHUNK];

	for (uint16_t base = 0; base < nb; base += TERN_NODE_CHUNK) {
		uint16_t n = RTE_MIN(nb - base, TERN_NODE_CHUNK), k = 0;

		for (uint16_t i = 0; i < n; i++) {
			rte_edge_t e = ip_input_check(objs[base + i], &dst[k]);

			/* next[i] of a packet to route is set after the lookup. */
			if (e != IP_INPUT_LOOKUP)
				next[i] = e;
			/* A prerouting hook (NAT) sees every packet before the
			 * routing decision, fragments once reassembled. */
			else if (unlikely(prerouting))
				next[i] = ip_is_fragment(objs[base + i]) ? IP_INPUT_NEXT_FRAGMENT
				                                         : prerouting_edge;
			else
				which[k++] = i;
		}
		if (k != 0) {
			if (likely(dp->fib != NULL))
				rte_fib_lookup_bulk(dp->fib, dst, nh, k);
			else
				memset(nh, 0, sizeof(nh[0]) * k);
		}
		for (uint16_t j = 0; j < k; j++)
			next[which[j]] =
			    ip_input_route_one(dp, objs[base + which[j]], dst[j], (uint32_t)nh[j]);
		tern_node_enqueue(graph, node, &objs[base], next, n, nb <= TERN_NODE_CHUNK);
	}
	return nb;
}

static struct rte_node_register ip_input_node = {
	.name = "ip_input",
	.process = ip_input_process,
	.init = tern_node_ctx_init,
	.nb_edges = IP_INPUT_NEXT_MAX,
	.next_nodes = {
		[IP_INPUT_NEXT_LOCAL] = "ip_local",
		[IP_INPUT_NEXT_FORWARD] = "ip_forward",
		[IP_INPUT_NEXT_ICMP_ERROR] = "icmp_error",
		[IP_INPUT_NEXT_RUNT] = TERN_DROP_NODE("ip_runt"),
		[IP_INPUT_NEXT_VERSION] = TERN_DROP_NODE("ip_version"),
		[IP_INPUT_NEXT_IHL] = TERN_DROP_NODE("ip_ihl"),
		[IP_INPUT_NEXT_CHECKSUM] = TERN_DROP_NODE("ip_checksum"),
		[IP_INPUT_NEXT_TOTAL_LEN] = TERN_DROP_NODE("ip_total_len"),
		[IP_INPUT_NEXT_MARTIAN_SRC] = TERN_DROP_NODE("ip_martian_src"),
		[IP_INPUT_NEXT_MARTIAN_DST] = TERN_DROP_NODE("ip_martian_dst"),
		[IP_INPUT_NEXT_OPTIONS] = TERN_DROP_NODE("ip_options"),
		[IP_INPUT_NEXT_MULTICAST] = TERN_DROP_NODE("ip_multicast"),
		[IP_INPUT_NEXT_FRAGMENT] = "ip_reassembly",
		[IP_INPUT_NEXT_BLACKHOLE] = TERN_DROP_NODE("ip_blackhole"),
	},
};
RTE_NODE_REGISTER(ip_input_node);

static int
ip_input_init(void)
{
	return eth_input_register(RTE_ETHER_TYPE_IPV4, "ip_input");
}
TERN_INIT(ip_input_init);
