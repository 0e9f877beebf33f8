/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Per-worker (per-lcore) context.  Everything a worker mutates lives here:
 * its graph, its queues, its timer wheel, its counters.  There is no
 * file-scope mutable state on the datapath.
 */
#ifndef TERN_CORE_WORKER_H
#define TERN_CORE_WORKER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <rte_ethdev.h>
#include <rte_graph.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>

#include "core/dp.h"
#include "timer/wheel.h"

#define TERN_MAX_WORKERS 64
#define TERN_MAX_RXQ     64
#define TERN_RX_BURST    64
/* Timer callbacks run per loop at most; the rest wait for the next loop. */
#define TERN_TIMER_BUDGET 64
/* Loops between two polls of the control-call ring. */
#define TERN_CALL_POLL_MASK 63
#define TERN_WORKER_MODS    8

struct tern_rxq {
	uint16_t port_id;
	uint16_t queue_id;
};

struct tern_worker {
	/* Hot: read or written every loop. */
	struct rte_graph *graph;
	const struct tern_dp *dp; /* version for this loop; NULL when not running */
	uint64_t now_tsc;         /* read once per loop */
	uint64_t now_ms;
	uint32_t rx_this_loop;
	uint16_t nb_rxq;
	uint16_t rxq_next; /* where port_rx starts polling next loop */
	struct tern_rxq rxq[TERN_MAX_RXQ];
	uint16_t txq[RTE_MAX_ETHPORTS]; /* this worker's TX queue on each port */

	/* Counters, written by the worker, read by the control thread. */
	uint64_t loops __rte_cache_aligned;
	uint64_t busy_cycles;
	uint64_t start_tsc;
	uint64_t capture_copied;  /* frames copied for a capture (port/capture.h) */
	uint64_t capture_dropped; /* ... and not: capture pool or ring full */

	/* Cold. */
	unsigned id;
	unsigned lcore;
	uint64_t tsc_per_ms;
	atomic_bool stop;
	atomic_bool running;
	struct rte_ring *calls;  /* control -> worker requests */
	struct rte_ring *punt;   /* worker -> control slow-path packets */
	struct rte_ring *inject; /* control -> worker packets to send */
	struct rte_rcu_qsbr *qsbr;
	_Atomic(const struct tern_dp *) *dp_ptr;
	char graph_name[RTE_GRAPH_NAMESIZE];
	rte_graph_t graph_id;
	void *mod[TERN_WORKER_MODS]; /* per-worker state of modules, by tern_worker_mod_id() */
	struct tern_wheel wheel __rte_cache_aligned;
} __rte_cache_aligned;

/* The worker whose graph is `graph_name` (control thread, graph setup). */
struct tern_worker *tern_worker_by_graph(const char *graph_name);

/*
 * A slot in every worker's mod[] for a module's per-worker state (TERN_INIT
 * hooks, before the graphs exist).  Returns the index, or -ENOSPC.
 */
int tern_worker_mod_id(void);

/* lcore main function of a worker. */
int tern_worker_main(void *arg);

/*
 * The config version for work done on w's behalf: its loop's, or the
 * current one while it is not running (a call run on the control thread
 * before launch or after stop, when w->dp would be stale: every publish
 * frees the version before).
 */
static inline const struct tern_dp *
tern_worker_dp(const struct tern_worker *w)
{
	return w->dp != NULL ? w->dp : tern_dp_current();
}

/*
 * Run fn(w, arg) on worker w between two bursts and wait for it; runs it
 * here when the worker is not running.  Returns fn's result or -ETIMEDOUT.
 */
typedef int (*tern_worker_fn)(struct tern_worker *w, void *arg);
int tern_worker_call(struct tern_worker *w, tern_worker_fn fn, void *arg);

/*
 * Run fn(ws[k], args[k]) on n workers in parallel and wait for all of them;
 * rcs[k] gets each result.  Returns 0, or the first negative result.
 */
int tern_worker_call_each(struct tern_worker *const *ws, unsigned n, tern_worker_fn fn,
                          void *const *args, int *rcs);

#endif
