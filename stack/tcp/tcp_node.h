/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Edges of tcp_input and tcp_tx, the two nodes that feed segments to the
 * TCP stack (tcp_worker.c classifies): the same drop reasons whether a
 * segment came from the wire or from another worker's handoff.
 */
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

#define TCP_INPUT_NEXT_NODES                                                                       \
	[TCP_INPUT_NEXT_IP_OUTPUT] = "ip_output",                                                  \
	[TCP_INPUT_NEXT_RUNT] = TERN_DROP_NODE("tcp_runt"),                                        \
	[TCP_INPUT_NEXT_OFFSET] = TERN_DROP_NODE("tcp_offset"),                                    \
	[TCP_INPUT_NEXT_CHECKSUM] = TERN_DROP_NODE("tcp_checksum"),                                \
	[TCP_INPUT_NEXT_OPTIONS] = TERN_DROP_NODE("tcp_options"),                                  \
	[TCP_INPUT_NEXT_FLAGS] = TERN_DROP_NODE("tcp_flags"),                                      \
	[TCP_INPUT_NEXT_NOT_UNICAST] = TERN_DROP_NODE("tcp_not_unicast"),                          \
	[TCP_INPUT_NEXT_NO_CONN] = TERN_DROP_NODE("tcp_no_conn"),                                  \
	[TCP_INPUT_NEXT_REFUSED] = TERN_DROP_NODE("tcp_refused"),                                  \
	[TCP_INPUT_NEXT_WRONG_WORKER] = TERN_DROP_NODE("tcp_wrong_worker")

/* Not edges: what tcp_segment_in did with a segment it kept. */
#define TCP_INPUT_CONSUMED (-1)
#define TCP_INPUT_HAND_OFF (-2) /* another worker's: the caller hands it over */

/* Move the worker's queued segments to ip_output from node `node`,
 * whose edge `edge` leads there. */
struct rte_graph;
struct rte_node;
struct tcp_worker;
void tcp_flush(struct rte_graph *graph, struct rte_node *node, struct tcp_worker *tw,
               uint16_t edge);

#endif
