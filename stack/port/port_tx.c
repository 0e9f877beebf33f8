/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * port_tx: sends each packet on its egress port (tern_mbuf_priv.tx_port)
 * through this worker's own TX queue on that port, so no queue is shared
 * and nothing is locked.  Runs of packets for the same port go out in one
 * tx_burst; what the queue does not take is dropped as tx_full.
 */
#include <rte_ethdev.h>
#include <rte_graph.h>
#include <rte_graph_worker.h>

#include "core/drop.h"
#include "core/mbuf.h"
#include "core/node.h"
#include "port/capture.h"

enum {
	PORT_TX_NEXT_FULL,
	PORT_TX_NEXT_BAD_PORT,
	PORT_TX_NEXT_MAX,
};

/* A PMD may take fewer packets per call than offered; retry while it moves. */
static uint16_t
tx_all(uint16_t port, uint16_t queue, struct rte_mbuf **pkts, uint16_t n)
{
	uint16_t sent = 0, k;

	do {
		k = rte_eth_tx_burst(port, queue, pkts + sent, n - sent);
		sent += k;
	} while (k > 0 && sent < n);
	return sent;
}

static uint16_t
port_tx_process(struct rte_graph *graph, struct rte_node *node, void **objs, uint16_t nb)
{
	struct tern_worker *w = tern_node_worker(node);
	const struct tern_dp *dp = w->dp;
	struct rte_mbuf **pkts = (struct rte_mbuf **)objs;
	uint16_t i = 0;

	while (i < nb) {
		uint16_t port = tern_mbuf_priv(pkts[i])->tx_port, j = i + 1, sent;

		while (j < nb && tern_mbuf_priv(pkts[j])->tx_port == port)
			j++;
		if (unlikely(port >= RTE_MAX_ETHPORTS || !dp->port[port].up)) {
			rte_node_enqueue(graph, node, PORT_TX_NEXT_BAD_PORT, &objs[i], j - i);
		} else {
			if (unlikely(dp->capture != NULL)) {
				const struct tern_capture_dp *c = tern_capture_of(dp, port);

				if (c != NULL)
					tern_capture_burst(w, c, port, w->txq[port], &pkts[i],
					                   j - i, true);
			}
			sent = tx_all(port, w->txq[port], &pkts[i], j - i);
			if (unlikely(sent < j - i))
				rte_node_enqueue(graph, node, PORT_TX_NEXT_FULL, &objs[i + sent],
				                 j - i - sent);
		}
		i = j;
	}
	return nb;
}

static struct rte_node_register port_tx_node = {
	.name = "port_tx",
	.process = port_tx_process,
	.init = tern_node_ctx_init,
	.nb_edges = PORT_TX_NEXT_MAX,
	.next_nodes =
		{
			[PORT_TX_NEXT_FULL] = TERN_DROP_NODE("tx_full"),
			[PORT_TX_NEXT_BAD_PORT] = TERN_DROP_NODE("tx_bad_port"),
		},
};
RTE_NODE_REGISTER(port_tx_node);
