/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ip_local: packets for us, dispatched by IP protocol to the node an upper
 * layer registered with ip_local_register().  Unknown protocols get an ICMP
 * protocol unreachable (RFC 1122 3.2.2.1), as from Linux.
 */
#include <errno.h>

#include <rte_graph.h>
#include <rte_graph_worker.h>
#include <rte_ip.h>

#include "core/drop.h"
#include "core/node.h"
#include "ip/ip_nodes.h"
#include "ip/ip_priv.h"

/* Written by TERN_INIT hooks before any graph exists, then read-only. */
static rte_edge_t proto_edge[256];

int
ip_local_register(uint8_t proto, const char *next_node)
{
	if (proto_edge[proto] != 0)
		return -EEXIST;
	return tern_node_add_edge("ip_local", next_node, &proto_edge[proto]);
}

rte_edge_t
ip_local_classify(const struct tern_dp *dp, struct rte_mbuf *m)
{
	const struct rte_ipv4_hdr *ip = rte_pktmbuf_mtod(m, const struct rte_ipv4_hdr *);
	rte_edge_t e = proto_edge[ip->next_proto_id];

	if (likely(e != 0))
		return e;
	ip_mark_icmp_error(m, TERN_ICMP_DEST_UNREACH, TERN_ICMP_PROTO_UNREACH, 0);
	return IP_LOCAL_NEXT_ICMP_ERROR;
}

static uint16_t
ip_local_process(struct rte_graph *graph, struct rte_node *node, void **objs, uint16_t nb)
{
	return tern_node_process(graph, node, objs, nb, ip_local_classify);
}

static struct rte_node_register ip_local_node = {
	.name = "ip_local",
	.process = ip_local_process,
	.init = tern_node_ctx_init,
	.nb_edges = IP_LOCAL_NEXT_FIRST_PROTO,
	.next_nodes = {
		[IP_LOCAL_NEXT_ICMP_ERROR] = "icmp_error",
	},
};
RTE_NODE_REGISTER(ip_local_node);
