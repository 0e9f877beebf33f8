/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_graph_worker.h>
#include <rte_lcore.h>
#include <rte_ring.h>

#include "core/ctl.h"
#include "core/node.h"
#include "core/worker.h"

enum { CALL_PENDING, CALL_DONE, CALL_CANCELLED };

struct tern_call {
	tern_worker_fn fn;
	void *arg;
	int rc;
	atomic_int state;
};

struct tern_worker *
tern_worker_by_graph(const char *graph_name)
{
	for (unsigned i = 0; i < tern_ctl.nb_workers; i++) {
		struct tern_worker *w = tern_ctl.worker[i];
		if (w != NULL && strcmp(w->graph_name, graph_name) == 0)
			return w;
	}
	return NULL;
}

int
tern_worker_mod_id(void)
{
	static int next; /* init hooks only, before any worker runs */

	return next < TERN_WORKER_MODS ? next++ : -ENOSPC;
}

/*
 * rte_graph_walk without the cycle count.  Debian's DPDK is built with
 * RTE_LIBRTE_GRAPH_STATS, so the stock walk reads the TSC twice around every
 * node call, source nodes included: about 20 cycles per forwarded packet at
 * 32-packet bursts, more than the FIB lookup.  `stats show` reports calls and
 * packets per node, so those two counters are kept; nothing reads cycles.
 * The rest is the stock walk: source nodes first, then the pending streams
 * in the graph's circular buffer.
 */
static inline void
worker_graph_walk(struct rte_graph *graph)
{
	const rte_graph_off_t *cir_start = graph->cir_start;
	const rte_node_t mask = graph->cir_mask;
	uint32_t head = graph->head;

	while (likely(head != graph->tail)) {
		struct rte_node *node =
		    (struct rte_node *)RTE_PTR_ADD(graph, cir_start[(int32_t)head++]);
		void **objs = node->objs;

		rte_prefetch0(objs);
		node->total_objs += node->process(graph, node, objs, node->idx);
		node->total_calls++;
		node->idx = 0;
		head = likely((int32_t)head > 0) ? head & mask : head;
	}
	graph->tail = 0;
}

int
tern_node_ctx_init(const struct rte_graph *graph, struct rte_node *node)
{
	struct tern_worker *w = tern_worker_by_graph(graph->name);

	RTE_BUILD_BUG_ON(sizeof(w) > RTE_NODE_CTX_SZ);
	if (w == NULL)
		return -ENOENT;
	memcpy(node->ctx, &w, sizeof(w));
	return 0;
}

static void
worker_poll_calls(struct tern_worker *w)
{
	struct tern_call *c;

	while (rte_ring_sc_dequeue(w->calls, (void **)&c) == 0) {
		int expect = CALL_PENDING;

		/* The caller gave up waiting: its arg may be gone, do not run. */
		if (atomic_load_explicit(&c->state, memory_order_acquire) == CALL_CANCELLED) {
			free(c);
			continue;
		}
		c->rc = c->fn(w, c->arg);
		if (!atomic_compare_exchange_strong(&c->state, &expect, CALL_DONE))
			free(c); /* cancelled while running: the caller left */
	}
}

int
tern_worker_main(void *arg)
{
	struct tern_worker *w = arg;
	uint64_t end;

	rte_rcu_qsbr_thread_online(w->qsbr, w->id);
	w->start_tsc = rte_rdtsc();
	atomic_store(&w->running, true);
	while (!atomic_load_explicit(&w->stop, memory_order_relaxed)) {
		/* The clock and the config version are read once per loop. */
		w->now_tsc = rte_rdtsc();
		w->now_ms = w->now_tsc / w->tsc_per_ms;
		w->dp = atomic_load_explicit(w->dp_ptr, memory_order_acquire);
		w->rx_this_loop = 0;

		worker_graph_walk(w->graph);
		tern_wheel_advance(&w->wheel, w->now_ms, TERN_TIMER_BUDGET);

		end = rte_rdtsc();
		if (w->rx_this_loop != 0)
			__atomic_store_n(&w->busy_cycles, w->busy_cycles + (end - w->now_tsc),
			                 __ATOMIC_RELAXED);
		__atomic_store_n(&w->loops, w->loops + 1, __ATOMIC_RELAXED);
		if ((w->loops & TERN_CALL_POLL_MASK) == 0)
			worker_poll_calls(w);
		/* This worker holds no reference to any dp version past here. */
		rte_rcu_qsbr_quiescent(w->qsbr, w->id);
	}
	worker_poll_calls(w);
	rte_rcu_qsbr_thread_offline(w->qsbr, w->id);
	atomic_store(&w->running, false);
	return 0;
}

int
tern_worker_call(struct tern_worker *w, tern_worker_fn fn, void *arg)
{
	struct tern_call *c;
	int rc;

	if (!atomic_load(&w->running))
		return fn(w, arg);
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return -ENOMEM;
	c->fn = fn;
	c->arg = arg;
	if (rte_ring_sp_enqueue(w->calls, c) != 0) {
		free(c);
		return -EBUSY;
	}
	/* A worker polls its ring every TERN_CALL_POLL_MASK+1 loops: microseconds. */
	for (unsigned i = 0; i < 100000; i++) {
		if (atomic_load_explicit(&c->state, memory_order_acquire) == CALL_DONE) {
			rc = c->rc;
			free(c);
			return rc;
		}
		usleep(10);
	}
	/* One second: cancel.  Whoever sees the other side's mark frees `c`. */
	int expect = CALL_PENDING;
	if (atomic_compare_exchange_strong(&c->state, &expect, CALL_CANCELLED))
		return -ETIMEDOUT;
	rc = c->rc; /* it finished just now */
	free(c);
	return rc;
}
