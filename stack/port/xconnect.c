/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * xconnect: L2 cross-connect (`port xconnect A B`).  Every frame received on
 * A leaves on B untouched, and the other way round.  It exists so that the
 * forwarding path can be measured without any protocol work.
 */
#include <rte_graph.h>
#include <rte_graph_worker.h>

#include "core/drop.h"
#include "core/mbuf.h"
#include "core/node.h"
#include "port/port.h"

rte_edge_t
xconnect_classify(const struct tern_dp *dp, struct rte_mbuf *m)
{
	uint16_t peer = dp->port[m->port].xconnect;

	tern_mbuf_priv(m)->tx_port = peer;
	return peer == TERN_PORT_NONE ? XCONNECT_NEXT_NO_PEER : XCONNECT_NEXT_PORT_TX;
}

static uint16_t
xconnect_process(struct rte_graph *graph, struct rte_node *node, void **objs, uint16_t nb)
{
	return tern_node_process(graph, node, objs, nb, xconnect_classify);
}

static struct rte_node_register xconnect_node = {
	.name = "xconnect",
	.process = xconnect_process,
	.init = tern_node_ctx_init,
	.nb_edges = XCONNECT_NEXT_MAX,
	.next_nodes =
		{
			[XCONNECT_NEXT_PORT_TX] = "port_tx",
			[XCONNECT_NEXT_NO_PEER] = TERN_DROP_NODE("xconnect_no_peer"),
		},
};
RTE_NODE_REGISTER(xconnect_node);
