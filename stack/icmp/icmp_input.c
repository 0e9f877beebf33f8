/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * icmp_input: ICMP messages for us (RFC 792).  Echo requests are answered in
 * place: same identifier, sequence and payload, addresses swapped, then
 * routed back through ip_output.  Echo requests to a broadcast address are
 * ignored (as Linux's icmp_echo_ignore_broadcasts=1 does).
 */
#include <rte_graph.h>
#include <rte_graph_worker.h>
#include <rte_icmp.h>
#include <rte_ip.h>

#include "core/drop.h"
#include "core/init.h"
#include "core/node.h"
#include "ip/ip_nodes.h"
#include "ip/ip_priv.h"

rte_edge_t
icmp_input_classify(const struct tern_dp *dp, struct rte_mbuf *m)
{
	struct rte_ipv4_hdr *ip = rte_pktmbuf_mtod(m, struct rte_ipv4_hdr *);
	uint16_t hl = m->l3_len, len = (uint16_t)(rte_pktmbuf_pkt_len(m) - hl);
	struct rte_icmp_hdr *icmp;
	uint16_t cksum;
	uint32_t sum;

	if (unlikely(len < sizeof(*icmp) || rte_pktmbuf_data_len(m) < hl + sizeof(*icmp)))
		return ICMP_INPUT_NEXT_RUNT;
	icmp = rte_pktmbuf_mtod_offset(m, struct rte_icmp_hdr *, hl);
	if (unlikely(rte_raw_cksum_mbuf(m, hl, len, &cksum) != 0 || cksum != 0xffff))
		return ICMP_INPUT_NEXT_CHECKSUM;
	/* Any code: RFC 792 says 0, but Linux answers them all (and nmap's
	 * OS detection sends code 9); the reply keeps it, as Linux's does. */
	if (icmp->icmp_type != RTE_IP_ICMP_ECHO_REQUEST)
		return ICMP_INPUT_NEXT_UNHANDLED;
	if (ip->dst_addr == RTE_BE32(0xffffffff) || !ip_route_is_local_unicast(dp, ip->dst_addr))
		return ICMP_INPUT_NEXT_UNHANDLED;

	/* Echo reply: only the type changes in the ICMP header (RFC 1624). */
	icmp->icmp_type = RTE_IP_ICMP_ECHO_REPLY;
	sum = (uint32_t)icmp->icmp_cksum + rte_cpu_to_be_16(RTE_IP_ICMP_ECHO_REQUEST << 8);
	icmp->icmp_cksum = (uint16_t)(sum + (sum >= 0xffff)); /* as in ip_forward.c */
	return ip_reply(dp, m) ? ICMP_INPUT_NEXT_OUTPUT : ICMP_INPUT_NEXT_NO_ROUTE;
}

static uint16_t
icmp_input_process(struct rte_graph *graph, struct rte_node *node, void **objs, uint16_t nb)
{
	return tern_node_process(graph, node, objs, nb, icmp_input_classify);
}

static struct rte_node_register icmp_input_node = {
	.name = "icmp_input",
	.process = icmp_input_process,
	.init = tern_node_ctx_init,
	.nb_edges = ICMP_INPUT_NEXT_MAX,
	.next_nodes = {
		[ICMP_INPUT_NEXT_OUTPUT] = "ip_output",
		[ICMP_INPUT_NEXT_RUNT] = TERN_DROP_NODE("icmp_runt"),
		[ICMP_INPUT_NEXT_CHECKSUM] = TERN_DROP_NODE("icmp_checksum"),
		[ICMP_INPUT_NEXT_UNHANDLED] = TERN_DROP_NODE("icmp_unhandled"),
		[ICMP_INPUT_NEXT_NO_ROUTE] = TERN_DROP_NODE("icmp_no_route"),
	},
};
RTE_NODE_REGISTER(icmp_input_node);

static int
icmp_input_init(void)
{
	return ip_local_register(IPPROTO_ICMP, "icmp_input");
}
TERN_INIT(icmp_input_init);
