/* SPDX-License-Identifier: BSD-3-Clause */
/* Helpers shared by the IPv4 and ICMP nodes. */
#ifndef TERN_IP_IP_PRIV_H
#define TERN_IP_IP_PRIV_H

#include <stdbool.h>

#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_fib.h>
#include <rte_mbuf.h>

#include "core/dp.h"
#include "core/mbuf.h"
#include "ip/ip.h"

#define TERN_IP_DEFAULT_TTL 64

/* ICMP types and codes (RFC 792); DPDK 22.11's rte_icmp.h has only echo. */
#define TERN_ICMP_DEST_UNREACH  3
#define TERN_ICMP_SOURCE_QUENCH 4
#define TERN_ICMP_REDIRECT      5
#define TERN_ICMP_REDIRECT_HOST 1 /* code: Redirect for Host (RFC 1812 5.2.7.2) */
#define TERN_ICMP_TIME_EXCEEDED 11
#define TERN_ICMP_PARAMETERPROB 12
#define TERN_ICMP_NET_UNREACH   0
#define TERN_ICMP_HOST_UNREACH  1
#define TERN_ICMP_PROTO_UNREACH 2
#define TERN_ICMP_PORT_UNREACH  3
#define TERN_ICMP_FRAG_NEEDED   4

/* Did `m` come in a link-layer broadcast or multicast frame?  Its Ethernet
 * header is still in the headroom when eth_input's l2_len says so (not in
 * a copy, nor in a packet ternd built). */
static __rte_always_inline bool
ip_l2_multicast(const struct rte_mbuf *m)
{
	/* data_off compared with the constant: l2_len is a bitfield, and a
	 * second read of it costs a load and a mask every packet. */
	return m->l2_len == sizeof(struct rte_ether_hdr) &&
	       m->data_off >= sizeof(struct rte_ether_hdr) &&
	       rte_is_multicast_ether_addr(
	           &rte_pktmbuf_mtod_offset(m, const struct rte_ether_hdr *,
	                                    -(int)sizeof(struct rte_ether_hdr))
	                ->dst_addr);
}

/* The next-hop index for `dst` (0: no route).  One lookup; hot paths use
 * rte_fib_lookup_bulk on whole bursts instead. */
static inline uint32_t
ip_fib_lookup(const struct tern_dp *dp, rte_be32_t dst)
{
	uint32_t ip = rte_be_to_cpu_32(dst);
	uint64_t nh = 0;

	if (dp->fib != NULL)
		rte_fib_lookup_bulk(dp->fib, &ip, &nh, 1);
	return (uint32_t)nh;
}

/*
 * Route a packet we originate or forward to `dst`: sets priv tx_port and
 * nh_ip (the address to resolve).  Returns the next hop's type, or
 * TERN_NH_NONE when there is no route.
 */
static inline uint8_t
ip_route(const struct tern_dp *dp, struct rte_mbuf *m, rte_be32_t dst)
{
	struct tern_mbuf_priv *priv = tern_mbuf_priv(m);
	uint32_t idx = ip_fib_lookup(dp, dst);
	const struct tern_nexthop *nh;

	if (idx == 0)
		return TERN_NH_NONE;
	nh = &dp->nh[idx];
	priv->tx_port = nh->port;
	priv->nh_ip = nh->type == TERN_NH_GATEWAY ? nh->gw : dst;
	return nh->type;
}

/* Is `dst` one of our unicast addresses (not a subnet broadcast)? */
static inline bool
ip_route_is_local_unicast(const struct tern_dp *dp, rte_be32_t dst)
{
	uint32_t idx = ip_fib_lookup(dp, dst);

	return idx != 0 && dp->nh[idx].type == TERN_NH_LOCAL;
}

/*
 * Turn `m` around to answer its sender (echo replies): swap the addresses,
 * TTL 64, no fragment bits, new header checksum, and route it back.  The
 * L4 checksums cover both addresses, so swapping leaves them valid.
 * Returns false when there is no route back.
 */
static inline bool
ip_reply(const struct tern_dp *dp, struct rte_mbuf *m)
{
	struct rte_ipv4_hdr *ip = rte_pktmbuf_mtod(m, struct rte_ipv4_hdr *);
	rte_be32_t peer = ip->src_addr;
	uint8_t t;

	ip->src_addr = ip->dst_addr;
	ip->dst_addr = peer;
	ip->time_to_live = TERN_IP_DEFAULT_TTL;
	ip->fragment_offset = 0;
	ip->hdr_checksum = 0;
	ip->hdr_checksum = rte_ipv4_cksum(ip);
	t = ip_route(dp, m, peer);
	return t == TERN_NH_CONNECTED || t == TERN_NH_GATEWAY;
}

/* Mark `m` for icmp_error with this type, code and info (host order). */
static inline void
ip_mark_icmp_error(struct rte_mbuf *m, uint8_t type, uint8_t code, uint32_t info)
{
	struct tern_mbuf_priv *priv = tern_mbuf_priv(m);

	priv->icmp_type = type;
	priv->icmp_code = code;
	priv->icmp_info = rte_cpu_to_be_32(info);
}

#endif
