/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * arp_input: validates ARP packets (RFC 826, IPv4 over Ethernet) and punts
 * the ones the control thread must see: those aimed at one of our addresses
 * and those from a sender already in the neighbour table (RFC 826's merge
 * rule).  Other hosts' ARP traffic stops here, so a busy LAN does not flood
 * the slow path.
 */
#include <rte_arp.h>
#include <rte_graph.h>
#include <rte_graph_worker.h>

#include "arp/neigh.h"
#include "core/drop.h"
#include "core/init.h"
#include "core/node.h"
#include "core/punt.h"
#include "eth/eth.h"
#include "ip/ip_priv.h"

enum {
	ARP_INPUT_NEXT_PUNT,
	ARP_INPUT_NEXT_RUNT,
	ARP_INPUT_NEXT_HW,
	ARP_INPUT_NEXT_PROTO,
	ARP_INPUT_NEXT_OP,
	ARP_INPUT_NEXT_BAD_SENDER,
	ARP_INPUT_NEXT_NOT_FOR_US,
	ARP_INPUT_NEXT_MAX,
};

rte_edge_t arp_input_classify(const struct tern_dp *dp, struct rte_mbuf *m);
rte_edge_t
arp_input_classify(const struct tern_dp *dp, struct rte_mbuf *m)
{
	const struct rte_arp_hdr *a;
	struct tern_neigh_key key = { 0 };
	uint32_t sip;

	if (unlikely(rte_pktmbuf_data_len(m) < sizeof(*a)))
		return ARP_INPUT_NEXT_RUNT;
	a = rte_pktmbuf_mtod(m, const struct rte_arp_hdr *);
	if (unlikely(a->arp_hardware != RTE_BE16(RTE_ARP_HRD_ETHER) ||
	             a->arp_hlen != RTE_ETHER_ADDR_LEN))
		return ARP_INPUT_NEXT_HW;
	if (unlikely(a->arp_protocol != RTE_BE16(RTE_ETHER_TYPE_IPV4) || a->arp_plen != 4))
		return ARP_INPUT_NEXT_PROTO;
	if (unlikely(a->arp_opcode != RTE_BE16(RTE_ARP_OP_REQUEST) &&
	             a->arp_opcode != RTE_BE16(RTE_ARP_OP_REPLY)))
		return ARP_INPUT_NEXT_OP;
	sip = rte_be_to_cpu_32(a->arp_data.arp_sip);
	/* A sender IP of 0 is an RFC 5227 probe: fine.  Others must be unicast. */
	if (unlikely(!rte_is_unicast_ether_addr(&a->arp_data.arp_sha) || (sip >> 24) == 127 ||
	             (sip >> 28) >= 14 || ((sip >> 24) == 0 && sip != 0)))
		return ARP_INPUT_NEXT_BAD_SENDER;
	if (ip_route_is_local_unicast(dp, a->arp_data.arp_tip))
		goto punt;
	key.ip = a->arp_data.arp_sip;
	key.port = m->port;
	if (dp->neigh != NULL && rte_hash_lookup(dp->neigh, &key) >= 0)
		goto punt;
	/* Our own address as sender from someone else: a conflict to report. */
	if (ip_route_is_local_unicast(dp, a->arp_data.arp_sip))
		goto punt;
	return ARP_INPUT_NEXT_NOT_FOR_US;
punt:
	tern_mbuf_priv(m)->punt_kind = TERN_PUNT_ARP;
	return ARP_INPUT_NEXT_PUNT;
}

static uint16_t
arp_input_process(struct rte_graph *graph, struct rte_node *node, void **objs, uint16_t nb)
{
	return tern_node_process(graph, node, objs, nb, arp_input_classify);
}

static struct rte_node_register arp_input_node = {
	.name = "arp_input",
	.process = arp_input_process,
	.init = tern_node_ctx_init,
	.nb_edges = ARP_INPUT_NEXT_MAX,
	.next_nodes = {
		[ARP_INPUT_NEXT_PUNT] = "ctl_punt",
		[ARP_INPUT_NEXT_RUNT] = TERN_DROP_NODE("arp_runt"),
		[ARP_INPUT_NEXT_HW] = TERN_DROP_NODE("arp_hw"),
		[ARP_INPUT_NEXT_PROTO] = TERN_DROP_NODE("arp_proto"),
		[ARP_INPUT_NEXT_OP] = TERN_DROP_NODE("arp_op"),
		[ARP_INPUT_NEXT_BAD_SENDER] = TERN_DROP_NODE("arp_bad_sender"),
		[ARP_INPUT_NEXT_NOT_FOR_US] = TERN_DROP_NODE("arp_not_for_us"),
	},
};
RTE_NODE_REGISTER(arp_input_node);

static int
arp_input_init(void)
{
	return eth_input_register(RTE_ETHER_TYPE_ARP, "arp_input");
}
TERN_INIT(arp_input_init);
