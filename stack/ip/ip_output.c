/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ip_output: IPv4 packets we originate, routed already (priv tx_port and
 * nh_ip set).  Checks the egress MTU, then puts the next hop's MAC on
 * (ip_out.h) and hands the packet to port_tx; a next hop with no usable
 * entry is punted to the control thread, which holds the packet while ARP
 * resolves it.
 */
#include <rte_graph.h>
#include <rte_graph_worker.h>
#include <rte_ip.h>

#include "core/drop.h"
#include "core/node.h"
#include "ip/ip_out.h"
#include "ip/ip_priv.h"

static __rte_always_inline rte_edge_t
ip_output_one(const struct tern_dp *dp, struct rte_mbuf *m, uint64_t now_ms, struct ip_out_cache *c)
{
	const struct rte_ipv4_hdr *ip = rte_pktmbuf_mtod(m, const struct rte_ipv4_hdr *);
	uint16_t port = tern_mbuf_priv(m)->tx_port;

	if (unlikely(port >= RTE_MAX_ETHPORTS))
		return IP_OUT_NEXT_BAD_PORT;
	if (unlikely(rte_pktmbuf_pkt_len(m) > dp->port[port].mtu)) {
		/* RFC 1191: DF set, say which MTU fits. */
		if (ip->fragment_offset & rte_cpu_to_be_16(RTE_IPV4_HDR_DF_FLAG)) {
			ip_mark_icmp_error(m, TERN_ICMP_DEST_UNREACH, TERN_ICMP_FRAG_NEEDED,
			                   dp->port[port].mtu);
			return IP_OUT_NEXT_ICMP_ERROR;
		}
		return IP_OUT_NEXT_FRAGMENT; /* RFC 791: DF clear, fragment */
	}
	return ip_out_l2(dp, m, now_ms, c);
}

static uint16_t
ip_output_process(struct rte_graph *graph, struct rte_node *node, void **objs, uint16_t nb)
{
	struct tern_worker *w = tern_node_worker(node);
	struct ip_out_cache cache = { .valid = false };
	rte_edge_t next[TERN_NODE_CHUNK];

	for (uint16_t base = 0; base < nb; base += TERN_NODE_CHUNK) {
		uint16_t n = RTE_MIN(nb - base, TERN_NODE_CHUNK);

		for (uint16_t i = 0; i < n; i++)
			next[i] = ip_output_one(w->dp, objs[base + i], w->now_ms, &cache);
		tern_node_enqueue(graph, node, &objs[base], next, n, nb <= TERN_NODE_CHUNK);
	}
	return nb;
}

static struct rte_node_register ip_output_node = {
	.name = "ip_output",
	.process = ip_output_process,
	.init = tern_node_ctx_init,
	.nb_edges = IP_OUT_NEXT_MAX,
	.next_nodes = { IP_OUT_NEXT_NODES },
};
RTE_NODE_REGISTER(ip_output_node);
