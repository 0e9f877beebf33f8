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
	PORT_TX_NEXT_NO_MULTISEG,
	PORT_TX_NEXT_ADMIN_DOWN,
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

/*
 * For a PMD that sends single segments only: copy each chain into its first
 * segment (fragments and most reassembled datagrams fit), drop the rest.
 * Returns how many of pkts[0..n) remain, in order.
 */
static __rte_noinline uint16_t
linearize_run(struct rte_graph *graph, struct rte_node *node, struct rte_mbuf **pkts, uint16_t n)
{
	uint16_t k = 0;

	for (uint16_t i = 0; i < n; i++) {
		if (pkts[i]->nb_segs > 1 && rte_pktmbuf_linearize(pkts[i]) < 0) {
			rte_node_enqueue_x1(graph, node, PORT_TX_NEXT_NO_MULTISEG, pkts[i]);
			continue;
		}
		pkts[k++] = pkts[i];
	}
	return k;
}

static uint16_t
port_tx_process(struct rte_graph *graph, struct rte_node *node, void **objs, uint16_t nb)
{
	struct tern_worker *w = tern_node_worker(node);
	const struct tern_dp *dp = w->dp;
	struct rte_mbuf **pkts = (struct rte_mbuf **)objs;
	uint16_t i = 0;

	while (i < nb) {
		uint16_t port = tern_mbuf_priv(pkts[i])->tx_port, j = i + 1, n, sent;
		/* Any chain in the run?  Found on the way: on ports that
		 * linearize, a second pass over the run was all most bursts
		 * cost. */
		uint16_t segs = pkts[i]->nb_segs;

		while (j < nb && tern_mbuf_priv(pkts[j])->tx_port == port)
			segs |= pkts[j++]->nb_segs;
		if (unlikely(port >= RTE_MAX_ETHPORTS || !dp->port[port].up ||
		             dp->port[port].admin_down)) {
			rte_node_enqueue(graph, node,
			                 port < RTE_MAX_ETHPORTS && dp->port[port].admin_down
			                     ? PORT_TX_NEXT_ADMIN_DOWN
			                     : PORT_TX_NEXT_BAD_PORT,
			                 &objs[i], j - i);
		} else {
			if (unlikely(dp->capture != NULL)) {
				const struct tern_capture_dp *c = tern_capture_of(dp, port);

				if (c != NULL)
					tern_capture_burst(w, c, port, w->txq[port], &pkts[i],
					                   j - i, true);
			}
			n = j - i;
			if (unlikely(!dp->port[port].tx_multiseg) && segs > 1)
				n = linearize_run(graph, node, &pkts[i], n);
			sent = tx_all(port, w->txq[port], &pkts[i], n);
			if (unlikely(sent < n))
				rte_node_enqueue(graph, node, PORT_TX_NEXT_FULL, &objs[i + sent],
				                 n - sent);
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
			[PORT_TX_NEXT_NO_MULTISEG] = TERN_DROP_NODE("tx_no_multiseg"),
			[PORT_TX_NEXT_ADMIN_DOWN] = TERN_DROP_NODE("tx_admin_down"),
		},
};
RTE_NODE_REGISTER(port_tx_node);
