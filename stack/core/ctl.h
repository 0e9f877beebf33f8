/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Control-plane state of ternd: the boot configuration read from the config
 * file, the ports, the workers.  Owned by the control thread (the EAL main
 * lcore); workers never touch it.  What workers need reaches them through
 * struct tern_dp (RCU) or tern_worker_call() (per-worker ring).
 */
#ifndef TERN_CORE_CTL_H
#define TERN_CORE_CTL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <rte_ether.h>
#include <rte_mempool.h>
#include <rte_rcu_qsbr.h>

#include "core/dp.h"
#include "core/worker.h"
#include "timer/wheel.h"

#define TERN_NAME_SIZE    32
#define TERN_MAX_PORTS    32
#define TERN_MAX_EAL_ARGS 64
#define TERN_DEFAULT_RXD  1024
#define TERN_DEFAULT_TXD  1024

struct tern_port {
	/* From `port add`. 0 means "choose a default". */
	char name[TERN_NAME_SIZE];
	char devargs[256];
	uint16_t req_rxq, req_txq, req_mtu;
	uint32_t req_mbufs;
	char where[300]; /* "FILE:LINE" of its `port add`, for boot errors */

	/* Set when the port is brought up. */
	bool probed, started;
	uint16_t port_id;
	int socket;
	uint16_t nb_rxq, nb_txq;
	uint16_t mtu;
	bool tx_multiseg; /* the PMD sends mbuf chains (fragments, reassembled datagrams) */
	uint32_t nb_mbufs;
	struct rte_ether_addr mac;
	char driver[32];
	struct rte_mempool *pool;
	bool link_up;         /* as last polled by the control thread, and not set down */
	bool admin_down;      /* `link set PORT down` */
	struct tern_rss *rss; /* allocated when RSS is on, filled at start */
};

#define TERN_MAX_EXTRA_POOLS 2 * TERN_MAX_WORKERS

struct tern_ctl {
	/* Boot configuration. */
	char *eal_argv[TERN_MAX_EAL_ARGS];
	int eal_argc;
	char workers_spec[64];
	char workers_where[300];
	unsigned worker_lcore[TERN_MAX_WORKERS];
	unsigned nb_workers; /* 0: every lcore but the main one */
	struct tern_port port[TERN_MAX_PORTS];
	unsigned nb_ports;
	int8_t dry_xconnect[TERN_MAX_PORTS]; /* config pass 1: peer index + 1 */
	char eal_where[300];

	/* Runtime. */
	bool eal_up;
	bool started;
	atomic_bool shutdown;
	struct tern_worker *worker[TERN_MAX_WORKERS];
	struct rte_rcu_qsbr *qsbr;
	_Atomic(const struct tern_dp *) dp;
	const char *sock_path;
	struct rte_mempool *ctl_pool; /* packets the control thread builds */
	struct rte_mempool *extra_pool[TERN_MAX_EXTRA_POOLS]; /* tern_mempool_track() */
	unsigned nb_extra_pools;
	unsigned long mbufs_leaked; /* found missing from their pools at shutdown */
	struct tern_wheel wheel;    /* the control thread's timers (ARP...) */
	struct tern_timer link_timer;
	uint64_t tsc_per_ms;

	/* `stats clear` baselines, indexed [worker][node id]. */
	uint64_t (*node_base)[2];
	unsigned node_base_stride;
	uint64_t worker_base[TERN_MAX_WORKERS][3]; /* loops, busy, tsc */
};

extern struct tern_ctl tern_ctl;

/* Port by name, or NULL. */
struct tern_port *tern_port_lookup(const char *name);
/* Port by DPDK port id, or NULL. */
struct tern_port *tern_port_by_id(uint16_t port_id);

/* Bring up EAL, ports, workers and graphs from the boot configuration. */
int tern_start(const char *prog);
/* Stop workers and ports, free everything, clean up EAL. */
/* Called on the control thread when a port's link goes up or down. */
typedef void (*tern_link_notify_fn)(uint16_t port, bool up);
void tern_link_notify_register(tern_link_notify_fn fn);
/* Compare port p's link (the PMD's, unless it is set down) with what the
 * listeners last heard, and tell them of a change now. */
void tern_link_refresh(struct tern_port *p);

/* Milliseconds on the clock the workers use (TSC based, monotonic). */
uint64_t tern_now_ms(void);

/* Control thread housekeeping, about every millisecond: punts, timers.
 * Returns true when punts were left queued (call again without sleeping). */
bool tern_ctl_tick(void);

/* Launch the workers on their lcores. */
int tern_launch(void);
void tern_stop(void);

/*
 * A module's own mempool (e.g. TCP's per-worker pool): shown by `stats show`
 * and freed at shutdown after the ports are closed, since a port's TX queue
 * may still hold its mbufs until then.  0, or -ENOSPC.
 */
int tern_mempool_track(struct rte_mempool *mp);

/*
 * At shutdown, once every module and port has let go of what it held: is
 * every mbuf of `mp` back in it?  Logs the pool and the count when not, and
 * adds them to tern_ctl.mbufs_leaked (ternd then exits 3).  NULL is fine.
 */
void tern_mempool_audit(const struct rte_mempool *mp);

struct tern_out;
/* `worker: N` and `lcore: L` of a worker, for listings (conn show...). */
void tern_out_worker(struct tern_out *o, unsigned worker);

#define TERN_MAX_SOURCES 8
/*
 * TERN_INIT hooks: put source node `node_name` (and what it reaches) in
 * every worker's graph, next to port_rx and ctl_inject.  0 or -ENOSPC.
 */
int tern_graph_source_register(const char *node_name);

/* Per-port device setup (port.c). */
int tern_port_setup(struct tern_port *p);
int tern_port_start(struct tern_port *p);
void tern_ports_teardown(void);

#endif
