/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * TCP in ternd: one TCP core stack (tcp.h) per worker lcore, wired to the
 * graph.  See docs/tcp.md for the design; in short:
 *
 *  - tcp_input (node) parses and checks segments and feeds the worker's
 *    stack; segments for a connection another worker owns go to that
 *    worker's handoff ring.
 *  - The core's output hook builds each segment in an mbuf from the
 *    worker's own pool and queues it; tcp_tx (source node) and tcp_input
 *    move the queue into ip_output.
 *  - Applications (built-in services, the load generator, example apps)
 *    run on the worker too: tcp_tx calls their poll function every loop,
 *    and they use the socket API (socket.h).
 *
 * Ownership of a connection: passive opens live where their SYN landed
 * (RSS keeps a flow on one queue); active opens pick a local port whose
 * tuple hashes to their own worker (tcp_owner), so a segment that misses
 * on the worker it landed on can be handed to its owner.  This works on
 * devices with no RSS at all.
 */
#ifndef TERN_TCP_TCP_WORKER_H
#define TERN_TCP_TCP_WORKER_H

#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_ring.h>

#include "core/dp.h"
#include "core/worker.h"
#include "tcp/tcp.h"

#define TCP_PENDING_MAX  4096
#define TCP_HANDOFF_RING 4096
#define TCP_MAX_APPS     8

struct tcp_worker;
struct tern_sock_table;

/* An application running on every worker (see socket.h). */
struct tern_app_ops {
	const char *name;
	size_t state_size; /* per-worker state, zeroed */
	/* On the worker: open sockets.  0 or -errno. */
	int (*start)(void *state, const void *cfg);
	/* On the worker, every loop. */
	void (*poll)(void *state);
	/* On the worker: close everything. */
	void (*stop)(void *state);
};

struct tcp_app {
	const struct tern_app_ops *ops;
	void *state;
	uint32_t gen; /* which tern_app_start() call made it */
};

struct tcp_worker {
	struct tern_worker *w;
	struct tcp_stack *st;
	struct rte_mempool *pool;
	struct rte_ring *handoff; /* segments from other workers (MP/SC) */
	uint16_t ip_id;
	bool closing; /* ternd is stopping: nothing more goes out (tcp_fini) */
	uint32_t npending;
	/* Counters (worker writes, control reads). */
	uint64_t out_nombuf, out_noroute, out_overflow, handoff_in, handoff_out;
	unsigned napps;
	struct tcp_app app[TCP_MAX_APPS];
	struct tern_sock_table *socks;
	struct rte_mbuf *pending[TCP_PENDING_MAX];
};

/* The TCP context of worker `w` (set up at boot). */
struct tcp_worker *tcp_worker_of(const struct tern_worker *w);
unsigned tcp_nb_workers(void);
struct tcp_worker *tcp_worker_by_index(unsigned i);

/*
 * Which worker owns connection `t`, whose segments arrive on `port`: the
 * worker of the RX queue the port's RSS sends them to, when ternd knows
 * the port's key and table; else a hash of the tuple.  Active opens pick
 * ports that make it their own worker; a segment that misses elsewhere is
 * handed to it.
 */
unsigned tcp_owner(const struct tern_dp *dp, uint16_t port, const struct tcp_tuple *t);
/* The Toeplitz hash the NIC computes for segments of `t` (exposed for tests). */
uint32_t tcp_rss_hash(const struct tern_rss *r, const struct tcp_tuple *t);

/* Parse and feed one segment (an IPv4 packet, header at data) to `tw`'s
 * stack: returns the drop reason edge for tcp_input, TCP_INPUT_CONSUMED
 * (the mbuf is still the caller's to free), or, unless handed_over,
 * TCP_INPUT_HAND_OFF with the owning worker in *owner. */
int tcp_segment_in(struct tcp_worker *tw, struct rte_mbuf *m, bool handed_over, unsigned *owner);
/* The handoff ring of worker `owner` (tcp_tx takes segments from it). */
struct rte_ring *tcp_handoff_ring(unsigned owner);

/* Route an IPv4 packet this worker built (header at data) and queue it
 * for ip_output; the mbuf is consumed either way.  0 or -errno. */
int tcp_worker_send(struct tcp_worker *tw, struct rte_mbuf *m);

/* Run fn(tw, arg) on every worker in turn (control thread); stops at the
 * first error and returns it. */
int tcp_on_workers(int (*fn)(struct tcp_worker *tw, void *arg), void *arg);

/* Start or stop an application on every worker (control thread). */
int tern_app_start(const struct tern_app_ops *ops, const void *cfg);
int tern_app_stop(const struct tern_app_ops *ops);
bool tern_app_running(const struct tern_app_ops *ops);

/* The knobs every worker's stack uses, as `tcp show` prints them; only
 * tcp_cfg_commit changes them once the workers run. */
struct tcp_cfg *tcp_global_cfg(void);
/* Hand `cfg` to worker i's stack: 0, or -errno when the hand-off failed
 * and the worker did not take it. */
typedef int (*tcp_cfg_push_fn)(unsigned i, const struct tcp_cfg *cfg);
/*
 * Make `next` the settings of the n workers and of tcp_global_cfg(), all
 * or nothing: each worker gets it through push; when one refuses, those
 * that took it get tcp_global_cfg() back, which stays as it was.  0 or the
 * failed hand-off's -errno.
 */
int tcp_cfg_commit(const struct tcp_cfg *next, unsigned n, tcp_cfg_push_fn push);
/* tcp_cfg_commit on every worker, through their call rings. */
int tcp_cfg_apply(const struct tcp_cfg *next);

#endif
