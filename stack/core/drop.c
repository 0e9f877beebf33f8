/* SPDX-License-Identifier: BSD-3-Clause */
#include <string.h>

#include <rte_graph.h>
#include <rte_mbuf.h>

#include "core/drop.h"

static uint16_t
drop_process(struct rte_graph *graph, struct rte_node *node, void **objs, uint16_t nb)
{
	rte_pktmbuf_free_bulk((struct rte_mbuf **)objs, nb);
	return nb;
}

#define X(id, str, desc)                                                                           \
	static struct rte_node_register drop_##id##_node = {                                       \
		.name = TERN_DROP_NODE(str),                                                       \
		.process = drop_process,                                                           \
	};                                                                                         \
	RTE_NODE_REGISTER(drop_##id##_node);
TERN_DROP_REASONS(X)
#undef X

struct drop_info {
	const char *name;
	const char *desc;
};

#define X(id, str, desc) { TERN_DROP_NODE(str), desc },
static const struct drop_info drop_info[] = { TERN_DROP_REASONS(X) };
#undef X

const char *
tern_drop_describe(const char *node_name)
{
	for (unsigned i = 0; i < TERN_DROP_MAX; i++)
		if (strcmp(drop_info[i].name, node_name) == 0)
			return drop_info[i].desc;
	return NULL;
}

/* Written by the control thread only (the CLI runs there too), read by
 * the telemetry thread too (core/telemetry.c). */
static uint64_t ctl_drops[TERN_CTL_DROP_MAX];
static uint64_t ctl_drops_base[TERN_CTL_DROP_MAX]; /* at `stats clear`, control thread */

#define X(id, str, desc) { str, desc },
static const struct drop_info ctl_drop_info[] = { TERN_CTL_DROP_REASONS(X) };
#undef X

void
tern_ctl_drop(struct rte_mbuf *m, enum tern_ctl_drop reason)
{
	/* Atomic: the telemetry thread reads it too. */
	__atomic_store_n(&ctl_drops[reason], ctl_drops[reason] + 1, __ATOMIC_RELAXED);
	rte_pktmbuf_free(m);
}

uint64_t
tern_ctl_drop_count(enum tern_ctl_drop reason)
{
	return __atomic_load_n(&ctl_drops[reason], __ATOMIC_RELAXED);
}

uint64_t
tern_ctl_drop_count_since_clear(enum tern_ctl_drop reason)
{
	return ctl_drops[reason] - ctl_drops_base[reason];
}

const char *
tern_ctl_drop_name(enum tern_ctl_drop reason)
{
	return ctl_drop_info[reason].name;
}

const char *
tern_ctl_drop_desc(enum tern_ctl_drop reason)
{
	return ctl_drop_info[reason].desc;
}

void
tern_ctl_drops_clear(void)
{
	for (unsigned r = 0; r < TERN_CTL_DROP_MAX; r++)
		ctl_drops_base[r] = ctl_drops[r];
}
