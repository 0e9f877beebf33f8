/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>

#include <rte_graph.h>

#include "core/node.h"

int
tern_node_add_edge(const char *from, const char *to, rte_edge_t *edge)
{
	rte_node_t id = rte_node_from_name(from);
	const char *names[1] = { to };

	if (id == RTE_NODE_ID_INVALID || rte_node_from_name(to) == RTE_NODE_ID_INVALID)
		return -ENOENT;
	if (rte_node_edge_update(id, RTE_EDGE_ID_INVALID, names, 1) != 1)
		return -ENOMEM;
	*edge = rte_node_edge_count(id) - 1;
	return 0;
}
