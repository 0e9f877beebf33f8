/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Ethernet input and output.
 *
 * eth_input accepts frames addressed to the port's MAC or to broadcast,
 * counts and drops multicast (no listener yet), VLAN-tagged frames and
 * frames for other hosts, and dispatches on EtherType to the node an upper
 * layer registered with eth_input_register().  It strips the Ethernet header
 * (m->l2_len keeps its length).
 *
 * eth_output prepends the Ethernet header for packets whose egress port,
 * destination MAC and EtherType are in tern_mbuf_priv, then hands them to
 * port_tx.
 */
#ifndef TERN_ETH_ETH_H
#define TERN_ETH_ETH_H

#include <stdint.h>

#include <rte_graph.h>
#include <rte_mbuf.h>

#include "core/dp.h"

enum {
	ETH_INPUT_NEXT_RUNT,
	ETH_INPUT_NEXT_OTHER_HOST,
	ETH_INPUT_NEXT_MULTICAST,
	ETH_INPUT_NEXT_VLAN,
	ETH_INPUT_NEXT_UNKNOWN_TYPE,
	ETH_INPUT_NEXT_FIRST_PROTO, /* edges added by eth_input_register() */
};

#define ETH_INPUT_MAX_TYPES 16

/*
 * Deliver frames of `ethertype` (host order) to node `next_node`.  Call from
 * a TERN_INIT hook, before the graphs are created.  0 or -errno.
 */
int eth_input_register(uint16_t ethertype, const char *next_node);

/* The edge eth_input picks for `m` (exposed for unit tests). */
rte_edge_t eth_input_classify(const struct tern_dp *dp, struct rte_mbuf *m);

enum {
	ETH_OUTPUT_NEXT_PORT_TX,
	ETH_OUTPUT_NEXT_NO_ROOM,
};

/* Prepend the header for `m`; returns the edge (exposed for unit tests). */
rte_edge_t eth_output_prepare(const struct tern_dp *dp, struct rte_mbuf *m);

#endif
