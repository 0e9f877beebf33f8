/* SPDX-License-Identifier: BSD-3-Clause */
/* Edges of the tcp_input node (tcp_worker.c classifies, tcp_input.c moves). */
#ifndef TERN_TCP_TCP_NODE_H
#define TERN_TCP_TCP_NODE_H

enum {
	TCP_INPUT_NEXT_IP_OUTPUT,
	TCP_INPUT_NEXT_RUNT,
	TCP_INPUT_NEXT_OFFSET,
	TCP_INPUT_NEXT_CHECKSUM,
	TCP_INPUT_NEXT_OPTIONS,
	TCP_INPUT_NEXT_FLAGS,
	TCP_INPUT_NEXT_NOT_UNICAST,
	TCP_INPUT_NEXT_NO_CONN,
	TCP_INPUT_NEXT_REFUSED,
	TCP_INPUT_NEXT_WRONG_WORKER,
	TCP_INPUT_NEXT_MAX,
};

/* Not edges: what tcp_segment_in did with a segment it kept. */
#define TCP_INPUT_CONSUMED   (-1)
#define TCP_INPUT_HANDED_OFF (-2)

/* Move the worker's queued segments to ip_output from node `node`,
 * whose edge `edge` leads there. */
struct rte_graph;
struct rte_node;
struct tcp_worker;
void tcp_flush(struct rte_graph *graph, struct rte_node *node, struct tcp_worker *tw,
               uint16_t edge);

#endif
