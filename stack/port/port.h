/* SPDX-License-Identifier: BSD-3-Clause */
/* Port nodes' per-packet decisions, exposed for unit tests. */
#ifndef TERN_PORT_PORT_H
#define TERN_PORT_PORT_H

#include <rte_graph.h>
#include <rte_mbuf.h>

#include "core/dp.h"

enum {
	XCONNECT_NEXT_PORT_TX,
	XCONNECT_NEXT_NO_PEER,
	XCONNECT_NEXT_MAX,
};

/* Set the egress port of `m` to its ingress port's peer; returns the edge. */
rte_edge_t xconnect_classify(const struct tern_dp *dp, struct rte_mbuf *m);

#endif
