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

/*
 * A call's life: PENDING until the worker takes it (RUNNING) or the caller
 * gives up first (CANCELLED: the worker frees it unrun); RUNNING until DONE.
 * A caller never leaves a RUNNING call behind: `arg` is often on its stack.
 */
enum { CALL_PENDING, CALL_RUNNING, CALL_DONE, CALL_CANCELLED };

/* How long a caller waits for a worker to take its call. */
#define CALL_TIMEOUT_MS 1000

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
		if (!atomic_compare_exchange_strong(&c->state, &expect, CALL_RUNNING)) {
			free(c);
			continue;
		}
		c->rc = c->fn(w, c->arg);
		atomic_store_explicit(&c->state, CALL_DONE, memory_order_release);
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
	/* Offline, the worker holds no version: the next publish may free it. */
	w->dp = NULL;
	atomic_store(&w->running, false);
	return 0;
}

/*
 * Hand fn(w, arg) to worker w.  Returns the call to wait for, or NULL with
 * *rc set: fn's result when w is not running (fn ran here), else -errno.
 */
static struct tern_call *
call_post(struct tern_worker *w, tern_worker_fn fn, void *arg, int *rc)
{
	struct tern_call *c;

	if (!atomic_load(&w->running)) {
		*rc = fn(w, arg);
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		*rc = -ENOMEM;
		return NULL;
	}
	c->fn = fn;
	c->arg = arg;
	if (rte_ring_sp_enqueue(w->calls, c) != 0) {
		free(c);
		*rc = -EBUSY;
		return NULL;
	}
	return c;
}

/*
 * Wait for a posted call and free it.  A worker polls its ring every
 * TERN_CALL_POLL_MASK+1 loops: microseconds.  Past the deadline, a call not
 * yet taken is cancelled; one the worker is running is waited for, however
 * long it takes.  Returns fn's result or -ETIMEDOUT.
 */
static int
call_wait(struct tern_call *c, uint64_t deadline)
{
	int state;
	int rc;

	while ((state = atomic_load_explicit(&c->state, memory_order_acquire)) != CALL_DONE) {
		int expect = CALL_PENDING;

		if (state == CALL_PENDING && rte_get_timer_cycles() > deadline &&
		    atomic_compare_exchange_strong(&c->state, &expect, CALL_CANCELLED))
			return -ETIMEDOUT; /* the worker frees it */
		usleep(10);
	}
	rc = c->rc;
	free(c);
	return rc;
}

static uint64_t
call_deadline(void)
{
	return rte_get_timer_cycles() + rte_get_timer_hz() / 1000 * CALL_TIMEOUT_MS;
}

int
tern_worker_call(struct tern_worker *w, tern_worker_fn fn, void *arg)
{
	int rc = 0;
	struct tern_call *c = call_post(w, fn, arg, &rc);

	return c == NULL ? rc : call_wait(c, call_deadline());
}

int
tern_worker_call_each(struct tern_worker *const *ws, unsigned n, tern_worker_fn fn,
                      void *const *args, int *rcs)
{
	struct tern_call *c[RTE_MAX_LCORE];
	uint64_t deadline;
	int first = 0;

	if (n > RTE_DIM(c))
		return -EINVAL;
	/* Post all before waiting for any: the workers run their parts at
	 * once.  Every posted call is waited for, even after a failure,
	 * since args[k] may live on the caller's stack. */
	for (unsigned k = 0; k < n; k++)
		c[k] = call_post(ws[k], fn, args[k], &rcs[k]);
	deadline = call_deadline();
	for (unsigned k = 0; k < n; k++) {
		if (c[k] != NULL)
			rcs[k] = call_wait(c[k], deadline);
		if (rcs[k] < 0 && first == 0)
			first = rcs[k];
	}
	return first;
}
