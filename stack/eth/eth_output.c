/* SPDX-License-Identifier: BSD-3-Clause */
#include <rte_ether.h>
#include <rte_graph.h>
#include <rte_graph_worker.h>

#include "core/drop.h"
#include "core/mbuf.h"
#include "core/node.h"
#include "eth/eth.h"

rte_edge_t
eth_output_prepare(const struct tern_dp *dp, struct rte_mbuf *m)
{
	const struct tern_mbuf_priv *priv = tern_mbuf_priv(m);
	struct rte_ether_hdr *eh;

	eh = (struct rte_ether_hdr *)rte_pktmbuf_prepend(m, sizeof(*eh));
	if (unlikely(eh == NULL))
		return ETH_OUTPUT_NEXT_NO_ROOM;
	eh->dst_addr = priv->l2_dst;
	/* A bad tx_port is caught by port_tx; any MAC will do until then. */
	if (likely(priv->tx_port < RTE_MAX_ETHPORTS))
		eh->src_addr = dp->port[priv->tx_port].mac;
	eh->ether_type = priv->l2_type;
	m->l2_len = sizeof(*eh);
	return ETH_OUTPUT_NEXT_PORT_TX;
}

static uint16_t
eth_output_process(struct rte_graph *graph, struct rte_node *node, void **objs, uint16_t nb)
{
	return tern_node_process(graph, node, objs, nb, eth_output_prepare);
}

static struct rte_node_register eth_output_node = {
	.name = "eth_output",
	.process = eth_output_process,
	.init = tern_node_ctx_init,
	.nb_edges = 2,
	.next_nodes =
		{
			[ETH_OUTPUT_NEXT_PORT_TX] = "port_tx",
			[ETH_OUTPUT_NEXT_NO_ROOM] = TERN_DROP_NODE("eth_out_no_room"),
		},
};
RTE_NODE_REGISTER(eth_output_node);
