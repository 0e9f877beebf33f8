/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * rte_telemetry endpoints: ternd's counters for DPDK's own tools
 * (dpdk-telemetry.py, collectd's and telegraf's dpdk plugins), next to the
 * /ethdev/... and /mempool/... ones EAL provides, on the same socket
 * (/var/run/dpdk/<file-prefix>/dpdk_telemetry.v2).
 *
 *   /tern/info             version, workers, ports
 *   /tern/nodes            packets through each graph node, all workers
 *   /tern/drops            packets dropped, by reason (workers' and the
 *                          control thread's, as in `stats show`)
 *   /tern/workers          the worker ids
 *   /tern/worker,ID        a worker's lcore, loops, busy and total cycles
 *
 * Counters are totals since start: `stats clear` sets a baseline for the
 * CLI only, and monitoring systems take rates from totals themselves.
 *
 * The callbacks run on EAL's telemetry thread, not the control thread.
 * They read only counters made to be read from other threads (the graphs'
 * per-node counters, the workers' loop counters, the control thread's drop
 * counters, all with relaxed atomic loads), and hold the read side of
 * tel_lock, whose write side shutdown takes before it frees the workers.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_graph.h>
#include <rte_graph_worker.h>
#include <rte_rwlock.h>
#include <rte_telemetry.h>

#include "core/ctl.h"
#include "core/drop.h"
#include "core/init.h"
#include "core/telemetry.h"
#include "core/worker.h"
#include "mgmt/out.h"

static rte_rwlock_t tel_lock = RTE_RWLOCK_INITIALIZER;
static bool tel_up; /* under tel_lock: the workers and graphs exist */

void
tern_telemetry_up(bool up)
{
	rte_rwlock_write_lock(&tel_lock);
	tel_up = up;
	rte_rwlock_write_unlock(&tel_lock);
}

/* Add `n` packets to the entry `name` of dict `d` (nodes of the same name
 * in every worker's graph add up). */
struct tel_sum {
	const char *name[RTE_TEL_MAX_DICT_ENTRIES];
	uint64_t n[RTE_TEL_MAX_DICT_ENTRIES];
	unsigned count;
};

static void
sum_add(struct tel_sum *s, const char *name, uint64_t n)
{
	unsigned i;

	for (i = 0; i < s->count && strcmp(s->name[i], name) != 0; i++)
		;
	if (i == s->count) {
		if (s->count == RTE_TEL_MAX_DICT_ENTRIES)
			return;
		s->name[s->count++] = name;
		s->n[i] = 0;
	}
	s->n[i] += n;
}

/* Every worker's graph nodes, drop nodes (drops true) or the others. */
static void
sum_nodes(struct tel_sum *s, bool drops)
{
	for (unsigned wi = 0; wi < tern_ctl.nb_workers; wi++) {
		const struct tern_worker *w = tern_ctl.worker[wi];
		struct rte_node *node;
		rte_graph_off_t off;
		rte_node_t count;

		if (w == NULL || w->graph == NULL)
			continue;
		rte_graph_foreach_node (count, off, w->graph, node) {
			const char *name = node->name;
			bool is_drop = tern_drop_describe(name) != NULL;

			if (is_drop != drops)
				continue;
			if (drops)
				name += strlen(TERN_DROP_NODE_PREFIX);
			sum_add(s, name, __atomic_load_n(&node->total_objs, __ATOMIC_RELAXED));
		}
	}
}

static int
tel_dict(struct rte_tel_data *d, const struct tel_sum *s)
{
	rte_tel_data_start_dict(d);
	for (unsigned i = 0; i < s->count; i++)
		rte_tel_data_add_dict_u64(d, s->name[i], s->n[i]);
	return 0;
}

/* /tern/nodes (drops false) and /tern/drops (drops true, with the
 * control thread's). */
static int
tel_sums(struct rte_tel_data *d, bool drops)
{
	struct tel_sum *s = calloc(1, sizeof(*s));
	int rc = -ENODEV;

	if (s == NULL)
		return -ENOMEM;
	rte_rwlock_read_lock(&tel_lock);
	if (tel_up) {
		sum_nodes(s, drops);
		for (unsigned r = 0; drops && r < TERN_CTL_DROP_MAX; r++)
			sum_add(s, tern_ctl_drop_name(r), tern_ctl_drop_count(r));
		rc = tel_dict(d, s);
	}
	rte_rwlock_read_unlock(&tel_lock);
	free(s);
	return rc;
}

static int
tel_nodes(const char *cmd, const char *params, struct rte_tel_data *d)
{
	(void)cmd;
	(void)params;
	return tel_sums(d, false);
}

static int
tel_drops(const char *cmd, const char *params, struct rte_tel_data *d)
{
	(void)cmd;
	(void)params;
	return tel_sums(d, true);
}

static int
tel_workers(const char *cmd, const char *params, struct rte_tel_data *d)
{
	(void)cmd;
	(void)params;
	rte_tel_data_start_array(d, RTE_TEL_INT_VAL);
	rte_rwlock_read_lock(&tel_lock);
	for (unsigned wi = 0; tel_up && wi < tern_ctl.nb_workers; wi++)
		rte_tel_data_add_array_int(d, (int)wi);
	rte_rwlock_read_unlock(&tel_lock);
	return 0;
}

static int
tel_worker(const char *cmd, const char *params, struct rte_tel_data *d)
{
	char *end;
	unsigned long id;
	int rc = -EINVAL;

	(void)cmd;
	if (params == NULL || *params == 0)
		return -EINVAL;
	id = strtoul(params, &end, 10);
	if (*end != 0)
		return -EINVAL;
	rte_rwlock_read_lock(&tel_lock);
	if (tel_up && id < tern_ctl.nb_workers && tern_ctl.worker[id] != NULL) {
		const struct tern_worker *w = tern_ctl.worker[id];

		rte_tel_data_start_dict(d);
		rte_tel_data_add_dict_u64(d, "lcore", w->lcore);
		rte_tel_data_add_dict_u64(d, "loops", __atomic_load_n(&w->loops, __ATOMIC_RELAXED));
		rte_tel_data_add_dict_u64(d, "busy_cycles",
		                          __atomic_load_n(&w->busy_cycles, __ATOMIC_RELAXED));
		rte_tel_data_add_dict_u64(d, "total_cycles", rte_rdtsc() - w->start_tsc);
		rte_tel_data_add_dict_u64(d, "tsc_hz", rte_get_tsc_hz());
		rc = 0;
	}
	rte_rwlock_read_unlock(&tel_lock);
	return rc;
}

static int
tel_info(const char *cmd, const char *params, struct rte_tel_data *d)
{
	(void)cmd;
	(void)params;
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_string(d, "version", TERN_VERSION);
	rte_rwlock_read_lock(&tel_lock);
	rte_tel_data_add_dict_u64(d, "workers", tel_up ? tern_ctl.nb_workers : 0);
	rte_tel_data_add_dict_u64(d, "ports", tel_up ? tern_ctl.nb_ports : 0);
	rte_rwlock_read_unlock(&tel_lock);
	return 0;
}

/* Module endpoints (tern_telemetry_register_stats), written by TERN_INIT
 * hooks before the telemetry thread can call them, then read-only. */
#define TEL_MAX_STATS 8
static struct {
	const char *cmd;
	tern_stats_fill_fn fill;
} tel_stats[TEL_MAX_STATS];
static unsigned nb_tel_stats;

static void
tel_put(void *arg, const char *name, uint64_t v)
{
	rte_tel_data_add_dict_u64(arg, name, v);
}

static int
tel_module_stats(const char *cmd, const char *params, struct rte_tel_data *d)
{
	int rc = -ENODEV;

	(void)params;
	for (unsigned i = 0; i < nb_tel_stats; i++) {
		if (strcmp(tel_stats[i].cmd, cmd) != 0)
			continue;
		rte_rwlock_read_lock(&tel_lock);
		if (tel_up) {
			rte_tel_data_start_dict(d);
			tel_stats[i].fill(tel_put, d);
			rc = 0;
		}
		rte_rwlock_read_unlock(&tel_lock);
	}
	return rc;
}

int
tern_telemetry_register_stats(const char *cmd, tern_stats_fill_fn fill, const char *help)
{
	int rc;

	for (unsigned i = 0; i < nb_tel_stats; i++)
		if (strcmp(tel_stats[i].cmd, cmd) == 0)
			return 0; /* a second start in one process (unit tests) */
	if (nb_tel_stats == TEL_MAX_STATS)
		return -ENOSPC;
	if ((rc = rte_telemetry_register_cmd(cmd, tel_module_stats, help)) < 0)
		return rc;
	tel_stats[nb_tel_stats].cmd = cmd;
	tel_stats[nb_tel_stats].fill = fill;
	nb_tel_stats++;
	return 0;
}

void
tern_stat_put_out(void *out, const char *name, uint64_t v)
{
	out_u64(out, name, v);
}

static int
telemetry_init(void)
{
	static const struct {
		const char *cmd;
		telemetry_cb fn;
		const char *help;
	} cmds[] = {
		{ "/tern/info", tel_info, "ternd version, workers, ports. No parameters" },
		{ "/tern/nodes", tel_nodes,
		  "packets through each graph node, summed over workers. No parameters" },
		{ "/tern/drops", tel_drops,
		  "packets dropped by reason, workers' and control thread's. No parameters" },
		{ "/tern/workers", tel_workers, "the worker ids. No parameters" },
		{ "/tern/worker", tel_worker,
		  "a worker's lcore, loops, busy and total cycles. Parameter: worker id" },
	};

	for (unsigned i = 0; i < RTE_DIM(cmds); i++) {
		int rc = rte_telemetry_register_cmd(cmds[i].cmd, cmds[i].fn, cmds[i].help);

		/* -EINVAL: already registered (a second start in one process,
		 * as the unit tests do); the callbacks are the same. */
		if (rc < 0 && rc != -EINVAL)
			return rc;
	}
	return 0;
}
TERN_INIT(telemetry_init);
