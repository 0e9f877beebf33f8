/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * port_rx: the graph's source node.  Polls the RX queues this worker owns
 * and hands each burst to eth_input, or straight to xconnect when the port
 * is cross-connected.  Bursts are received directly into the next node's
 * stream, so nothing is copied.  port_rx stamps mbuf->port (the ingress
 * port) itself: most PMDs set it, but net_ring hands back mbufs as they were
 * enqueued, still marked with the port that first received them.
 */
#include <rte_ethdev.h>
#include <rte_graph.h>
#include <rte_graph_worker.h>

#include "core/node.h"
#include "port/capture.h"

enum {
	PORT_RX_NEXT_ETH_INPUT,
	PORT_RX_NEXT_XCONNECT,
	PORT_RX_NEXT_MAX,
};

static uint16_t
port_rx_process(struct rte_graph *graph, struct rte_node *node, void **objs, uint16_t nb)
{
	struct tern_worker *w = tern_node_worker(node);
	const struct tern_dp *dp = w->dp;
	uint16_t total = 0;

	/* Stop before the next node's stream would outgrow a graph burst
	 * (growing it means a realloc on the datapath); the next loop starts
	 * from the queue where this one stopped, so none starves. */
	for (uint16_t k = 0; k < w->nb_rxq && total + TERN_RX_BURST <= RTE_GRAPH_BURST_SIZE; k++) {
		const struct tern_rxq *q = &w->rxq[w->rxq_next];
		rte_edge_t next;
		void **to;
		uint16_t n;

		if (++w->rxq_next == w->nb_rxq)
			w->rxq_next = 0;
		/* A port set down is not polled: what arrives stays in (and
		 * overflows) its RX ring, as on a Linux interface set down. */
		if (unlikely(dp->port[q->port_id].admin_down))
			continue;
		next = dp->port[q->port_id].xconnect != TERN_PORT_NONE ? PORT_RX_NEXT_XCONNECT
		                                                       : PORT_RX_NEXT_ETH_INPUT;
		to = rte_node_next_stream_get(graph, node, next, TERN_RX_BURST);
		n = rte_eth_rx_burst(q->port_id, q->queue_id, (struct rte_mbuf **)to,
		                     TERN_RX_BURST);
		if (n == 0)
			continue;
		for (uint16_t i = 0; i < n; i++)
			((struct rte_mbuf *)to[i])->port = q->port_id;
		if (unlikely(dp->capture != NULL)) {
			const struct tern_capture_dp *c = tern_capture_of(dp, q->port_id);

			if (c != NULL)
				tern_capture_burst(w, c, q->port_id, q->queue_id,
				                   (struct rte_mbuf *const *)to, n, false);
		}
		rte_node_next_stream_put(graph, node, next, n);
		total += n;
	}
	w->rx_this_loop += total;
	return total;
}

static struct rte_node_register port_rx_node = {
	.name = "port_rx",
	.flags = RTE_NODE_SOURCE_F,
	.process = port_rx_process,
	.init = tern_node_ctx_init,
	.nb_edges = PORT_RX_NEXT_MAX,
	.next_nodes =
		{
			[PORT_RX_NEXT_ETH_INPUT] = "eth_input",
			[PORT_RX_NEXT_XCONNECT] = "xconnect",
		},
};
RTE_NODE_REGISTER(port_rx_node);
