/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * tcp_tx: a source node in every worker's graph.  Each loop it takes the
 * segments other workers handed to this one (those the stack refuses go
 * to tcp_input's drop reasons), runs the applications bound
 * to this worker (their socket calls queue segments), and sends whatever
 * TCP queued since the last pass (timers fire after the graph walk) on to
 * ip_output.
 */
#include <rte_graph.h>
#include <rte_graph_worker.h>

#include "core/ctl.h"
#include "core/drop.h"
#include "core/init.h"
#include "core/node.h"
#include "tcp/socket_priv.h"
#include "tcp/tcp_node.h"
#include "tcp/tcp_worker.h"

#define HANDOFF_BURST 32

static uint16_t
tcp_tx_process(struct rte_graph *graph, struct rte_node *node, void **objs, uint16_t nb)
{
	struct tcp_worker *tw = tcp_worker_of(tern_node_worker(node));
	struct rte_mbuf *ho[HANDOFF_BURST], *done[HANDOFF_BURST];
	unsigned n, ndone = 0, sent;

	(void)objs;
	(void)nb;
	n = rte_ring_sc_dequeue_burst(tw->handoff, (void **)ho, HANDOFF_BURST, NULL);
	for (unsigned i = 0; i < n; i++) {
		unsigned owner;
		int r = tcp_segment_in(tw, ho[i], true, &owner);

		/* Never TCP_INPUT_HAND_OFF: a handed-over segment stays. */
		if (r >= 0)
			rte_node_enqueue_x1(graph, node, (rte_edge_t)r, ho[i]);
		else
			done[ndone++] = ho[i];
	}
	rte_pktmbuf_free_bulk(done, ndone);
	tw->handoff_in += n;
	if (tw->napps != 0) {
		tern_sock_enter(tw);
		for (unsigned a = 0; a < tw->napps; a++)
			tw->app[a].ops->poll(tw->app[a].state);
	}
	sent = tw->npending;
	tcp_flush(graph, node, tw, TCP_INPUT_NEXT_IP_OUTPUT);
	return (uint16_t)sent;
}

static struct rte_node_register tcp_tx_node = {
	.name = "tcp_tx",
	.process = tcp_tx_process,
	.flags = RTE_NODE_SOURCE_F,
	.init = tern_node_ctx_init,
	.nb_edges = TCP_INPUT_NEXT_MAX,
	.next_nodes = { TCP_INPUT_NEXT_NODES },
};
RTE_NODE_REGISTER(tcp_tx_node);

static int
tcp_tx_init(void)
{
	return tern_graph_source_register("tcp_tx");
}
TERN_INIT(tcp_tx_init);
