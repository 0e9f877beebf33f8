/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include <rte_byteorder.h>
#include <rte_ether.h>
#include <rte_graph.h>
#include <rte_graph_worker.h>

#include "core/drop.h"
#include "core/node.h"
#include "eth/eth.h"

/* Written by TERN_INIT hooks before any graph exists, then read-only. */
static struct {
	rte_be16_t type;
	rte_edge_t edge;
} eth_types[ETH_INPUT_MAX_TYPES];
static unsigned nb_eth_types;

int
eth_input_register(uint16_t ethertype, const char *next_node)
{
	rte_edge_t edge;
	int rc;

	if (nb_eth_types == ETH_INPUT_MAX_TYPES)
		return -ENOSPC;
	for (unsigned i = 0; i < nb_eth_types; i++)
		if (eth_types[i].type == rte_cpu_to_be_16(ethertype))
			return -EEXIST;
	if ((rc = tern_node_add_edge("eth_input", next_node, &edge)) < 0)
		return rc;
	eth_types[nb_eth_types].type = rte_cpu_to_be_16(ethertype);
	eth_types[nb_eth_types].edge = edge;
	nb_eth_types++;
	return 0;
}

/* Is `a` the same address as `b`?  One 4-byte and one 2-byte compare
 * (rte_is_same_ether_addr makes three of 2 bytes). */
static inline bool
eth_addr_eq(const struct rte_ether_addr *a, const struct rte_ether_addr *b)
{
	uint32_t a4, b4;
	uint16_t a2, b2;

	memcpy(&a4, a->addr_bytes, sizeof(a4));
	memcpy(&b4, b->addr_bytes, sizeof(b4));
	memcpy(&a2, a->addr_bytes + 4, sizeof(a2));
	memcpy(&b2, b->addr_bytes + 4, sizeof(b2));
	return ((a4 ^ b4) | (uint32_t)(a2 ^ b2)) == 0;
}

/* Always inlined into the node's loop: as a call it was its own symbol in
 * perf, once per packet. */
static __rte_always_inline rte_edge_t
eth_input_one(const struct tern_dp *dp, struct rte_mbuf *m)
{
	const struct rte_ether_hdr *eh;
	rte_be16_t type;

	if (unlikely(rte_pktmbuf_data_len(m) < sizeof(*eh)))
		return ETH_INPUT_NEXT_RUNT;
	eh = rte_pktmbuf_mtod(m, const struct rte_ether_hdr *);
	if (unlikely(!eth_addr_eq(&eh->dst_addr, &dp->port[m->port].mac))) {
		if (rte_is_multicast_ether_addr(&eh->dst_addr)) {
			if (!rte_is_broadcast_ether_addr(&eh->dst_addr))
				return ETH_INPUT_NEXT_MULTICAST;
		} else {
			return ETH_INPUT_NEXT_OTHER_HOST;
		}
	}
	type = eh->ether_type;
	if (unlikely(type == RTE_BE16(RTE_ETHER_TYPE_VLAN) ||
	             type == RTE_BE16(RTE_ETHER_TYPE_QINQ)))
		return ETH_INPUT_NEXT_VLAN;
	for (unsigned i = 0; i < nb_eth_types; i++) {
		if (eth_types[i].type == type) {
			m->l2_len = sizeof(*eh);
			/* rte_pktmbuf_adj without its length check: done above. */
			m->data_off += sizeof(*eh);
			m->data_len -= sizeof(*eh);
			m->pkt_len -= sizeof(*eh);
			return eth_types[i].edge;
		}
	}
	return ETH_INPUT_NEXT_UNKNOWN_TYPE;
}

rte_edge_t
eth_input_classify(const struct tern_dp *dp, struct rte_mbuf *m)
{
	return eth_input_one(dp, m);
}

static uint16_t
eth_input_process(struct rte_graph *graph, struct rte_node *node, void **objs, uint16_t nb)
{
	return tern_node_process(graph, node, objs, nb, eth_input_one);
}

static struct rte_node_register eth_input_node = {
	.name = "eth_input",
	.process = eth_input_process,
	.init = tern_node_ctx_init,
	.nb_edges = ETH_INPUT_NEXT_FIRST_PROTO,
	.next_nodes =
		{
			[ETH_INPUT_NEXT_RUNT] = TERN_DROP_NODE("eth_runt"),
			[ETH_INPUT_NEXT_OTHER_HOST] = TERN_DROP_NODE("eth_other_host"),
			[ETH_INPUT_NEXT_MULTICAST] = TERN_DROP_NODE("eth_multicast"),
			[ETH_INPUT_NEXT_VLAN] = TERN_DROP_NODE("eth_vlan"),
			[ETH_INPUT_NEXT_UNKNOWN_TYPE] = TERN_DROP_NODE("eth_unknown_type"),
		},
};
RTE_NODE_REGISTER(eth_input_node);
