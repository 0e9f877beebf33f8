/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Helpers every node uses, so every node has the same shape:
 *
 *	for each packet: pick its edge (a protocol edge or a drop edge);
 *	tern_node_enqueue(): send the burst on, in one place.
 *
 * A node's context (16 bytes in rte_node) holds a pointer to the worker
 * that runs the graph, set by tern_node_ctx_init() in the node's init.
 */
#ifndef TERN_CORE_NODE_H
#define TERN_CORE_NODE_H

#include <rte_graph.h>
#include <rte_graph_worker.h>
#include <rte_mbuf.h>

#include "core/worker.h"

/* Packets a node classifies per pass; streams can be longer than a burst. */
#define TERN_NODE_CHUNK RTE_GRAPH_BURST_SIZE

static inline struct tern_worker *
tern_node_worker(const struct rte_node *node)
{
	return *(struct tern_worker *const *)node->ctx;
}

/*
 * Give node `from` a new edge to node `to` (TERN_INIT hooks, before any
 * graph exists: how upper layers register with lower ones).  0 or -errno.
 */
int tern_node_add_edge(const char *from, const char *to, rte_edge_t *edge);

/* Node init callback: binds the node to its graph's worker. */
int tern_node_ctx_init(const struct rte_graph *graph, struct rte_node *node);

/*
 * Send objs[0..n) along next[0..n).  When the whole stream agrees (the common
 * case) it moves in one go, with no copy if it is the node's whole stream
 * (`whole_stream`); otherwise runs of packets with the same edge are
 * enqueued together.
 */
static inline void
tern_node_enqueue(struct rte_graph *graph, struct rte_node *node, void **objs,
                  const rte_edge_t *next, uint16_t n, bool whole_stream)
{
	uint16_t i, start = 0, diff = 0;

	if (n == 0)
		return;
	/* Does the whole stream agree?  A branch-free reduction, which the
	 * compiler turns into a few vector compares for a whole burst: a
	 * compare and branch per packet cost about 5 instructions a packet in
	 * every node (scripts/bench-instr.sh). */
	for (i = 1; i < n; i++)
		diff |= next[i] ^ next[0];
	if (diff == 0) {
		if (whole_stream)
			rte_node_next_stream_move(graph, node, next[0]);
		else
			rte_node_enqueue(graph, node, next[0], objs, n);
		return;
	}
	/* Mixed: each run of packets with the same edge in one go. */
	for (i = 1; i < n; i++) {
		if (next[i] != next[start]) {
			rte_node_enqueue(graph, node, next[start], &objs[start], i - start);
			start = i;
		}
	}
	rte_node_enqueue(graph, node, next[start], &objs[start], n - start);
}

/* A node's per-packet decision: the edge for `m`, given the config version. */
typedef rte_edge_t (*tern_node_classify_fn)(const struct tern_dp *dp, struct rte_mbuf *m);

/*
 * The body of every classify-and-forward node: pick each packet's edge with
 * `classify`, then enqueue.  Always inlined, so `classify` is a direct call.
 * Streams can be longer than a burst, hence the chunks.
 */
static __rte_always_inline uint16_t
tern_node_process(struct rte_graph *graph, struct rte_node *node, void **objs, uint16_t nb,
                  tern_node_classify_fn classify)
{
	const struct tern_dp *dp = tern_node_worker(node)->dp;
	rte_edge_t next[TERN_NODE_CHUNK];

	for (uint16_t base = 0; base < nb; base += TERN_NODE_CHUNK) {
		uint16_t n = RTE_MIN(nb - base, TERN_NODE_CHUNK);

		for (uint16_t i = 0; i < n; i++)
			next[i] = classify(dp, objs[base + i]);
		tern_node_enqueue(graph, node, &objs[base], next, n, nb <= TERN_NODE_CHUNK);
	}
	return nb;
}

#endif
