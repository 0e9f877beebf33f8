/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ip_output: routed IPv4 packets (priv tx_port and nh_ip set).  Checks the
 * egress MTU, resolves the next hop's MAC from the neighbour table and hands
 * the packet to eth_output; a next hop with no usable entry is punted to the
 * control thread, which holds the packet while ARP resolves it.
 */
#include <rte_graph.h>
#include <rte_graph_worker.h>
#include <rte_ip.h>

#include "arp/neigh.h"
#include "core/drop.h"
#include "core/node.h"
#include "core/punt.h"
#include "ip/ip_priv.h"

enum {
	IP_OUTPUT_NEXT_ETH,
	IP_OUTPUT_NEXT_RESOLVE,
	IP_OUTPUT_NEXT_ICMP_ERROR,
	IP_OUTPUT_NEXT_FRAGMENT,
	IP_OUTPUT_NEXT_BAD_PORT,
	IP_OUTPUT_NEXT_MAX,
};

/* The last next hop resolved in this burst: flows through one gateway
 * skip the hash lookup. */
struct nh_cache {
	uint16_t port;
	rte_be32_t ip;
	struct rte_ether_addr mac;
	bool valid;
};

static inline rte_edge_t
ip_output_one(const struct tern_dp *dp, struct rte_mbuf *m, uint64_t now_ms, struct nh_cache *c)
{
	struct tern_mbuf_priv *priv = tern_mbuf_priv(m);
	const struct rte_ipv4_hdr *ip = rte_pktmbuf_mtod(m, const struct rte_ipv4_hdr *);
	const struct tern_neigh *n;
	uint16_t port = priv->tx_port;

	if (unlikely(port >= RTE_MAX_ETHPORTS))
		return IP_OUTPUT_NEXT_BAD_PORT;
	if (unlikely(rte_pktmbuf_pkt_len(m) > dp->port[port].mtu)) {
		/* RFC 1191: DF set, say which MTU fits. */
		if (ip->fragment_offset & rte_cpu_to_be_16(RTE_IPV4_HDR_DF_FLAG)) {
			ip_mark_icmp_error(m, TERN_ICMP_DEST_UNREACH, TERN_ICMP_FRAG_NEEDED,
			                   dp->port[port].mtu);
			return IP_OUTPUT_NEXT_ICMP_ERROR;
		}
		return IP_OUTPUT_NEXT_FRAGMENT; /* RFC 791: DF clear, fragment */
	}
	priv->l2_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
	if (likely(c->valid && c->port == port && c->ip == priv->nh_ip)) {
		priv->l2_dst = c->mac;
		return IP_OUTPUT_NEXT_ETH;
	}
	n = tern_neigh_lookup(dp, port, priv->nh_ip, now_ms);
	if (unlikely(n == NULL)) {
		priv->punt_kind = TERN_PUNT_RESOLVE;
		return IP_OUTPUT_NEXT_RESOLVE;
	}
	tern_neigh_mac_unpack(atomic_load_explicit(&n->mac, memory_order_relaxed), &priv->l2_dst);
	*c = (struct nh_cache){
		.port = port, .ip = priv->nh_ip, .mac = priv->l2_dst, .valid = true
	};
	return IP_OUTPUT_NEXT_ETH;
}

static uint16_t
ip_output_process(struct rte_graph *graph, struct rte_node *node, void **objs, uint16_t nb)
{
	struct tern_worker *w = tern_node_worker(node);
	struct nh_cache cache = { .valid = false };
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
	.nb_edges = IP_OUTPUT_NEXT_MAX,
	.next_nodes = {
		[IP_OUTPUT_NEXT_ETH] = "eth_output",
		[IP_OUTPUT_NEXT_RESOLVE] = "ctl_punt",
		[IP_OUTPUT_NEXT_ICMP_ERROR] = "icmp_error",
				[IP_OUTPUT_NEXT_FRAGMENT] = "ip_frag",
		[IP_OUTPUT_NEXT_BAD_PORT] = TERN_DROP_NODE("tx_bad_port"),

	},
};
RTE_NODE_REGISTER(ip_output_node);
