/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * tcp_input: TCP segments for one of our addresses.  Checks the header
 * (length, data offset, checksum, flags, options), then hands the segment
 * to the worker's TCP stack, or to the worker that owns its connection.
 * The payload is copied into the connection's receive buffer, so the mbuf
 * is freed here; segments the stack sends in answer go out in the same
 * pass.
 */
#include <rte_graph.h>
#include <rte_graph_worker.h>
#include <rte_ip.h>

#include "core/drop.h"
#include "core/handoff.h"
#include "core/node.h"
#include "ip/ip_priv.h"
#include "tcp/tcp_node.h"
#include "tcp/tcp_worker.h"

void
tcp_flush(struct rte_graph *graph, struct rte_node *node, struct tcp_worker *tw, uint16_t edge)
{
	if (tw->npending == 0)
		return;
	rte_node_enqueue(graph, node, edge, (void **)tw->pending, (uint16_t)tw->npending);
	tw->npending = 0;
}

static uint16_t
tcp_input_process(struct rte_graph *graph, struct rte_node *node, void **objs, uint16_t nb)
{
	struct tern_worker *w = tern_node_worker(node);
	struct tcp_worker *tw = tcp_worker_of(w);
	struct rte_mbuf *done[TERN_NODE_CHUNK];
	void *keep[TERN_NODE_CHUNK];
	rte_edge_t next[TERN_NODE_CHUNK];
	struct tern_handoff ho;

	tern_handoff_init(&ho);
	for (uint16_t base = 0; base < nb; base += TERN_NODE_CHUNK) {
		uint16_t n = RTE_MIN(nb - base, TERN_NODE_CHUNK), ndone = 0, nkeep = 0;

		for (uint16_t i = 0; i < n; i++) {
			struct rte_mbuf *m = objs[base + i];
			unsigned owner = 0;
			int r;

			/* RFC 1122 4.2.3.10: no TCP to broadcast addresses
			 * (ip_input's route lookup marked them). */
			if (unlikely(tern_mbuf_priv(m)->l3_bcast))
				r = TCP_INPUT_NEXT_NOT_UNICAST;
			else
				r = tcp_segment_in(tw, m, false, &owner);
			if (r == TCP_INPUT_CONSUMED) {
				done[ndone++] = m;
			} else if (r == TCP_INPUT_HAND_OFF) {
				tern_handoff_add(&ho, m, owner);
			} else {
				keep[nkeep] = m;
				next[nkeep++] = (rte_edge_t)r;
			}
		}
		/* What the owners' rings refuse drops as tcp_wrong_worker. */
		for (uint16_t k = tern_handoff_flush(
		         &ho, tcp_handoff_ring, (struct rte_mbuf **)&keep[nkeep], &tw->handoff_out);
		     k != 0; k--)
			next[nkeep++] = TCP_INPUT_NEXT_WRONG_WORKER;
		rte_pktmbuf_free_bulk(done, ndone);
		tern_node_enqueue(graph, node, keep, next, nkeep, false);
	}
	tcp_flush(graph, node, tw, TCP_INPUT_NEXT_IP_OUTPUT);
	return nb;
}

static struct rte_node_register tcp_input_node = {
	.name = "tcp_input",
	.process = tcp_input_process,
	.init = tern_node_ctx_init,
	.nb_edges = TCP_INPUT_NEXT_MAX,
	.next_nodes = { TCP_INPUT_NEXT_NODES },
};
RTE_NODE_REGISTER(tcp_input_node);
