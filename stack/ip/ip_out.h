/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The last step of ip_forward and ip_output: resolve the next hop (priv
 * tx_port, nh_ip) in the neighbour table and write the Ethernet header, so
 * that the packet goes straight to port_tx.  l3fwd-graph's ip4_rewrite does
 * the same; one node fewer per packet than handing it to eth_output.
 */
#ifndef TERN_IP_IP_OUT_H
#define TERN_IP_IP_OUT_H

#include <stdbool.h>
#include <string.h>

#include <rte_ether.h>
#include <rte_graph.h>
#include <rte_mbuf.h>

#include "arp/neigh.h"
#include "core/dp.h"
#include "core/mbuf.h"
#include "core/punt.h"

/* The edges of ip_forward and ip_output. */
enum {
	IP_OUT_NEXT_PORT_TX,
	IP_OUT_NEXT_ICMP_ERROR,
	IP_OUT_NEXT_RESOLVE,
	IP_OUT_NEXT_FRAGMENT,
	IP_OUT_NEXT_BAD_PORT,
	IP_OUT_NEXT_NO_ROOM,
	IP_OUT_NEXT_L2_BROADCAST, /* ip_forward only */
	IP_OUT_NEXT_MAX,
};

/*
 * The last next hop resolved in this burst, with its Ethernet header built:
 * flows through one gateway skip the hash lookup.  It lives for one node
 * call only: past the worker's quiescent state the entry may be gone.
 */
struct ip_out_cache {
	uint16_t port;
	rte_be32_t ip;
	bool valid;
	struct rte_ether_hdr eh;
};

static __rte_always_inline rte_edge_t
ip_out_l2(const struct tern_dp *dp, struct rte_mbuf *m, uint64_t now_ms, struct ip_out_cache *c)
{
	struct tern_mbuf_priv *priv = tern_mbuf_priv(m);
	uint16_t port = priv->tx_port;
	struct rte_ether_hdr *eh;

	if (unlikely(!c->valid || c->port != port || c->ip != priv->nh_ip)) {
		const struct tern_neigh *n;

		if (unlikely(port >= RTE_MAX_ETHPORTS))
			return IP_OUT_NEXT_BAD_PORT;
		n = tern_neigh_lookup(dp, port, priv->nh_ip, now_ms);
		if (unlikely(n == NULL)) {
			/* The control thread holds it while ARP resolves. */
			priv->punt_kind = TERN_PUNT_RESOLVE;
			return IP_OUT_NEXT_RESOLVE;
		}
		tern_neigh_mac_unpack(atomic_load_explicit(&n->mac, memory_order_relaxed),
		                      &c->eh.dst_addr);
		c->eh.src_addr = dp->port[port].mac;
		c->eh.ether_type = RTE_BE16(RTE_ETHER_TYPE_IPV4);
		c->port = port;
		c->ip = priv->nh_ip;
		c->valid = true;
	}
	eh = (struct rte_ether_hdr *)rte_pktmbuf_prepend(m, sizeof(*eh));
	if (unlikely(eh == NULL))
		return IP_OUT_NEXT_NO_ROOM;
	memcpy(eh, &c->eh, sizeof(*eh));
	m->l2_len = sizeof(*eh);
	return IP_OUT_NEXT_PORT_TX;
}

/* The edges ip_forward and ip_output share, for their node registrations. */
#define IP_OUT_NEXT_NODES                                                                          \
	[IP_OUT_NEXT_PORT_TX] = "port_tx", [IP_OUT_NEXT_ICMP_ERROR] = "icmp_error",                \
	[IP_OUT_NEXT_RESOLVE] = "ctl_punt", [IP_OUT_NEXT_FRAGMENT] = "ip_frag",                    \
	[IP_OUT_NEXT_BAD_PORT] = TERN_DROP_NODE("tx_bad_port"),                                    \
	[IP_OUT_NEXT_NO_ROOM] = TERN_DROP_NODE("eth_out_no_room"),                                 \
	[IP_OUT_NEXT_L2_BROADCAST] = TERN_DROP_NODE("ip_l2_broadcast")

#endif
