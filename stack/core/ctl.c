/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Boot and shutdown of the datapath: EAL, ports, workers, graphs.
 */
#include <errno.h>
#include <numa.h>
#include <stdlib.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_graph.h>
#include <rte_lcore.h>
#include <rte_malloc.h>

#include "core/ctl.h"
#include "core/init.h"
#include "core/log.h"
#include "core/mbuf.h"
#include "core/punt.h"
#include "core/telemetry.h"

struct tern_ctl tern_ctl;

static int
eal_start(const char *prog)
{
	char *argv[TERN_MAX_EAL_ARGS + 2];
	int argc = 0, rc;

	argv[argc++] = (char *)(uintptr_t)prog;
	for (int i = 0; i < tern_ctl.eal_argc; i++)
		argv[argc++] = tern_ctl.eal_argv[i];
	argv[argc] = NULL;
	rc = rte_eal_init(argc, argv);
	if (rc < 0) {
		LOG_ERR("%s: eal: EAL init failed: %s",
		        tern_ctl.eal_where[0] ? tern_ctl.eal_where : "(no eal line)",
		        rte_strerror(rte_errno));
		return -rte_errno ? -rte_errno : -EINVAL;
	}
	tern_ctl.eal_up = true;
	return 0;
}

/* Workers default to every EAL lcore but the main one. */
static int
workers_resolve(void)
{
	unsigned main_lcore = rte_get_main_lcore(), lcore;

	if (tern_ctl.nb_workers == 0) {
		RTE_LCORE_FOREACH_WORKER (lcore) {
			if (tern_ctl.nb_workers == TERN_MAX_WORKERS)
				break;
			tern_ctl.worker_lcore[tern_ctl.nb_workers++] = lcore;
		}
		if (tern_ctl.nb_workers == 0) {
			LOG_ERR("no worker lcore: give EAL at least two lcores (eal -l 0-1)");
			return -EINVAL;
		}
		return 0;
	}
	for (unsigned i = 0; i < tern_ctl.nb_workers; i++) {
		lcore = tern_ctl.worker_lcore[i];
		if (lcore == main_lcore) {
			LOG_ERR("%s: workers: lcore %u is the main (control) lcore",
			        tern_ctl.workers_where, lcore);
			return -EINVAL;
		}
		if (lcore >= RTE_MAX_LCORE || !rte_lcore_is_enabled(lcore)) {
			LOG_ERR("%s: workers: lcore %u is not enabled by EAL (see its -l option)",
			        tern_ctl.workers_where, lcore);
			return -EINVAL;
		}
	}
	return 0;
}

/* Allocate the workers and deal them the RX queues: 0 or -errno, each error
 * logged here (with the port line at fault when the config asks too much). */
static int
workers_create(void)
{
	size_t sz = rte_rcu_qsbr_get_memsize(tern_ctl.nb_workers);
	uint64_t tsc_per_ms = rte_get_tsc_hz() / 1000;

	tern_ctl.qsbr = rte_zmalloc("tern_qsbr", sz, RTE_CACHE_LINE_SIZE);
	if (tern_ctl.qsbr == NULL || rte_rcu_qsbr_init(tern_ctl.qsbr, tern_ctl.nb_workers) < 0) {
		LOG_ERR("workers: RCU state: %s", strerror(ENOMEM));
		return -ENOMEM;
	}

	for (unsigned i = 0; i < tern_ctl.nb_workers; i++) {
		unsigned lcore = tern_ctl.worker_lcore[i];
		int socket = (int)rte_lcore_to_socket_id(lcore);
		struct tern_worker *w;
		char name[RTE_RING_NAMESIZE];

		w = rte_zmalloc_socket("tern_worker", sizeof(*w), RTE_CACHE_LINE_SIZE, socket);
		if (w == NULL) {
			LOG_ERR("worker %u: %s", i, strerror(ENOMEM));
			return -ENOMEM;
		}
		tern_ctl.worker[i] = w;
		w->id = i;
		w->lcore = lcore;
		w->qsbr = tern_ctl.qsbr;
		w->dp_ptr = &tern_ctl.dp;
		/* w->dp stays NULL until the worker's first loop: the init
		 * hooks still to run publish new versions and free this one. */
		w->tsc_per_ms = tsc_per_ms;
		w->now_tsc = rte_rdtsc();
		w->now_ms = w->now_tsc / tsc_per_ms;
		tern_wheel_init(&w->wheel, w->now_ms);
		snprintf(w->graph_name, sizeof(w->graph_name), "tern-w%u", i);
		snprintf(name, sizeof(name), "tern_calls%u", i);
		w->calls = rte_ring_create(name, 64, socket, RING_F_SP_ENQ | RING_F_SC_DEQ);
		snprintf(name, sizeof(name), "tern_punt%u", i);
		w->punt = rte_ring_create(name, TERN_PUNT_RING_SIZE, socket,
		                          RING_F_SP_ENQ | RING_F_SC_DEQ);
		snprintf(name, sizeof(name), "tern_inject%u", i);
		w->inject = rte_ring_create(name, TERN_INJECT_RING_SIZE, socket,
		                            RING_F_SP_ENQ | RING_F_SC_DEQ);
		if (w->calls == NULL || w->punt == NULL || w->inject == NULL) {
			LOG_ERR("worker %u: rings: %s", i, rte_strerror(rte_errno));
			return -ENOMEM;
		}
		if (rte_rcu_qsbr_thread_register(tern_ctl.qsbr, i) < 0) {
			LOG_ERR("worker %u: RCU register: %s", i, rte_strerror(rte_errno));
			return -EINVAL;
		}
		if (numa_available() >= 0 && numa_num_configured_nodes() > 1)
			LOG_INFO("worker %u: lcore %u on NUMA node %d", i, lcore,
			         numa_node_of_cpu((int)rte_lcore_to_cpu_id((int)lcore)));
	}

	/* Queue q of each port belongs to worker q % workers; each worker has
	 * TX queue number (worker id) on every port. */
	for (unsigned pi = 0; pi < tern_ctl.nb_ports; pi++) {
		struct tern_port *p = &tern_ctl.port[pi];

		for (uint16_t q = 0; q < p->nb_rxq; q++) {
			struct tern_worker *w = tern_ctl.worker[q % tern_ctl.nb_workers];

			/* The cap is per worker, summed over every port: name the
			 * port line that goes over it, as port setup does for a
			 * single port's rxq. */
			if (w->nb_rxq == TERN_MAX_RXQ) {
				LOG_ERR("%s: port %s: rxq %u: worker %u (lcore %u) would poll "
				        "more than %d RX queues over all ports; use fewer rxq or "
				        "more workers",
				        p->where, p->name, p->nb_rxq, w->id, w->lcore,
				        TERN_MAX_RXQ);
				return -ENOSPC;
			}
			w->rxq[w->nb_rxq].port_id = p->port_id;
			w->rxq[w->nb_rxq].queue_id = q;
			w->nb_rxq++;
			if (p->socket >= 0 && (int)rte_lcore_to_socket_id(w->lcore) != p->socket)
				LOG_WARN(
				    "port %s: rxq %u served by lcore %u on another NUMA socket",
				    p->name, q, w->lcore);
		}
		for (unsigned i = 0; i < tern_ctl.nb_workers; i++)
			tern_ctl.worker[i]->txq[p->port_id] = (uint16_t)i;
	}
	return 0;
}

/* Source nodes upper layers add to every graph (init hooks only). */
static const char *sources[TERN_MAX_SOURCES];
static unsigned nb_sources;

int
tern_graph_source_register(const char *node_name)
{
	if (nb_sources == TERN_MAX_SOURCES)
		return -ENOSPC;
	sources[nb_sources++] = node_name;
	return 0;
}

static int
graphs_create(void)
{
	/* Other nodes join each graph by being reachable from the sources. */
	const char *patterns[2 + TERN_MAX_SOURCES] = { "port_rx", "ctl_inject" };
	unsigned nb_patterns = 2;

	for (unsigned i = 0; i < nb_sources; i++)
		patterns[nb_patterns++] = sources[i];

	for (unsigned i = 0; i < tern_ctl.nb_workers; i++) {
		struct tern_worker *w = tern_ctl.worker[i];
		struct rte_graph_param gp = {
			.socket_id = (int)rte_lcore_to_socket_id(w->lcore),
			.nb_node_patterns = nb_patterns,
			.node_patterns = patterns,
		};

		w->graph_id = rte_graph_create(w->graph_name, &gp);
		if (w->graph_id == RTE_GRAPH_ID_INVALID) {
			LOG_ERR("graph %s: %s", w->graph_name, rte_strerror(rte_errno));
			return -rte_errno ? -rte_errno : -EINVAL;
		}
		w->graph = rte_graph_lookup(w->graph_name);
	}
	return 0;
}

static int
dp_create(void)
{
	struct tern_dp *dp = rte_zmalloc("tern_dp", sizeof(*dp), RTE_CACHE_LINE_SIZE);

	if (dp == NULL)
		return -ENOMEM;
	for (unsigned i = 0; i < RTE_MAX_ETHPORTS; i++)
		dp->port[i].xconnect = TERN_PORT_NONE;
	dp->icmp_rate = 1000;
	dp->icmp_redirects = true;
	dp->icmp_burst = 50;
	for (unsigned i = 0; i < tern_ctl.nb_ports; i++) {
		struct tern_port *p = &tern_ctl.port[i];
		dp->port[p->port_id].mac = p->mac;
		dp->port[p->port_id].mtu = p->mtu;
		dp->port[p->port_id].up = true;
		dp->port[p->port_id].tx_multiseg = p->tx_multiseg;
		dp->port[p->port_id].rss = p->rss;
	}
	atomic_store(&tern_ctl.dp, dp);
	return 0;
}

uint64_t
tern_now_ms(void)
{
	return rte_rdtsc() / tern_ctl.tsc_per_ms;
}

#define MAX_LINK_NOTIFY 8
static tern_link_notify_fn link_notify[MAX_LINK_NOTIFY];
static unsigned nb_link_notify;

void
tern_link_notify_register(tern_link_notify_fn fn)
{
	if (nb_link_notify < MAX_LINK_NOTIFY)
		link_notify[nb_link_notify++] = fn;
}

void
tern_link_refresh(struct tern_port *p)
{
	struct rte_eth_link link = { 0 };
	bool up;

	if (!p->started || rte_eth_link_get_nowait(p->port_id, &link) < 0)
		return;
	/* A port set down is down to its listeners, whatever the PMD says
	 * (many vdevs cannot take their link down themselves). */
	up = link.link_status == RTE_ETH_LINK_UP && !p->admin_down;
	if (up == p->link_up)
		return;
	p->link_up = up;
	LOG_INFO("port %s: link %s%s", p->name, up ? "up" : "down",
	         p->admin_down ? " (set down)" : "");
	for (unsigned k = 0; k < nb_link_notify; k++)
		link_notify[k](p->port_id, up);
}

/* Vdevs rarely raise link interrupts: poll the links once a second. */
static void
link_poll(struct tern_timer *t, void *arg)
{
	for (unsigned i = 0; i < tern_ctl.nb_ports; i++)
		tern_link_refresh(&tern_ctl.port[i]);
	tern_timer_start(&tern_ctl.wheel, t, tern_now_ms() + 1000);
}

bool
tern_ctl_tick(void)
{
	bool more = tern_punt_poll(TERN_PUNT_POLL_BUDGET);

	tern_wheel_advance(&tern_ctl.wheel, tern_now_ms(), 1024);
	return more;
}

/* Packets the control thread builds: ARP requests and replies, mostly. */
static int
ctl_pool_create(void)
{
	tern_ctl.ctl_pool =
	    rte_pktmbuf_pool_create("tern_ctl", 2047, 0, sizeof(struct tern_mbuf_priv),
	                            RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
	if (tern_ctl.ctl_pool == NULL) {
		LOG_ERR("control mempool: %s", rte_strerror(rte_errno));
		return -ENOMEM;
	}
	return 0;
}

int
tern_start(const char *prog)
{
	int rc;

	if ((rc = eal_start(prog)) < 0)
		return rc;
	tern_ctl.tsc_per_ms = rte_get_tsc_hz() / 1000;
	tern_wheel_init(&tern_ctl.wheel, tern_now_ms());
	if ((rc = ctl_pool_create()) < 0)
		return rc;
	if ((rc = workers_resolve()) < 0)
		return rc;
	if (tern_ctl.nb_ports == 0)
		LOG_WARN("no port configured (port add NAME DEVARGS)");
	for (unsigned i = 0; i < tern_ctl.nb_ports; i++)
		if ((rc = tern_port_setup(&tern_ctl.port[i])) < 0)
			return rc;
	if ((rc = dp_create()) < 0)
		return rc;
	/* workers_create() reports its errors, with the config line at fault. */
	if ((rc = workers_create()) < 0)
		return rc;
	if ((rc = tern_init_run()) < 0)
		return rc;
	if ((rc = graphs_create()) < 0)
		return rc;
	for (unsigned i = 0; i < tern_ctl.nb_ports; i++)
		if ((rc = tern_port_start(&tern_ctl.port[i])) < 0)
			return rc;
	tern_timer_init(&tern_ctl.link_timer, link_poll, NULL);
	tern_timer_start(&tern_ctl.wheel, &tern_ctl.link_timer, tern_now_ms() + 100);
	tern_ctl.node_base_stride = rte_node_max_count();
	tern_ctl.node_base = calloc((size_t)tern_ctl.nb_workers * tern_ctl.node_base_stride,
	                            sizeof(*tern_ctl.node_base));
	if (tern_ctl.node_base == NULL)
		return -ENOMEM;
	return 0;
}

/* Launch the workers once the runtime part of the config is applied. */
int
tern_launch(void)
{
	for (unsigned i = 0; i < tern_ctl.nb_workers; i++) {
		struct tern_worker *w = tern_ctl.worker[i];
		int rc = rte_eal_remote_launch(tern_worker_main, w, w->lcore);
		if (rc < 0) {
			LOG_ERR("worker %u: launch on lcore %u: %s", i, w->lcore, strerror(-rc));
			return rc;
		}
		while (!atomic_load(&w->running))
			rte_pause();
		LOG_INFO("worker %u running on lcore %u, %u rx queues", i, w->lcore, w->nb_rxq);
	}
	tern_ctl.started = true;
	tern_telemetry_up(true);
	return 0;
}

int
tern_mempool_track(struct rte_mempool *mp)
{
	if (tern_ctl.nb_extra_pools == TERN_MAX_EXTRA_POOLS)
		return -ENOSPC;
	tern_ctl.extra_pool[tern_ctl.nb_extra_pools++] = mp;
	return 0;
}

void
tern_mempool_audit(const struct rte_mempool *mp)
{
	unsigned missing;

	if (mp == NULL)
		return;
	/* The count includes every lcore's cache: the workers have stopped,
	 * but what they cached is still the pool's. */
	missing = mp->size - rte_mempool_avail_count(mp);
	if (missing == 0)
		return;
	LOG_ERR("shutdown: pool %s: %u of %u mbufs were never returned (a leak)", mp->name, missing,
	        mp->size);
	tern_ctl.mbufs_leaked += missing;
}

/* Free what a ring of mbufs still holds. */
static void
ring_drain_mbufs(struct rte_ring *r)
{
	struct rte_mbuf *m[64];
	unsigned n;

	if (r == NULL)
		return;
	while ((n = rte_ring_dequeue_burst(r, (void **)m, RTE_DIM(m), NULL)) != 0)
		rte_pktmbuf_free_bulk(m, n);
}

void
tern_stop(void)
{
	/* The telemetry thread stops reading the workers before they go. */
	tern_telemetry_up(false);
	for (unsigned i = 0; i < tern_ctl.nb_workers; i++)
		if (tern_ctl.worker[i] != NULL)
			atomic_store(&tern_ctl.worker[i]->stop, true);
	if (tern_ctl.eal_up)
		rte_eal_mp_wait_lcore();
	/* Modules release what they hold (queued mbufs...) before the pools go. */
	if (tern_ctl.eal_up)
		tern_fini_run();
	/* Packets on their way between the control thread and the workers
	 * (punted, or built to be sent) go back before the pools are audited. */
	for (unsigned i = 0; i < tern_ctl.nb_workers; i++)
		if (tern_ctl.worker[i] != NULL) {
			ring_drain_mbufs(tern_ctl.worker[i]->punt);
			ring_drain_mbufs(tern_ctl.worker[i]->inject);
		}
	tern_ports_teardown();
	for (unsigned i = 0; i < tern_ctl.nb_workers; i++) {
		struct tern_worker *w = tern_ctl.worker[i];
		if (w == NULL)
			continue;
		if (w->graph != NULL)
			rte_graph_destroy(w->graph_id);
		rte_ring_free(w->calls);
		rte_ring_free(w->punt);
		rte_ring_free(w->inject);
		rte_free(w);
		tern_ctl.worker[i] = NULL;
	}
	rte_free((void *)(uintptr_t)atomic_exchange(&tern_ctl.dp, NULL));
	tern_mempool_audit(tern_ctl.ctl_pool);
	rte_mempool_free(tern_ctl.ctl_pool);
	tern_ctl.ctl_pool = NULL;
	for (unsigned i = 0; i < tern_ctl.nb_extra_pools; i++) {
		tern_mempool_audit(tern_ctl.extra_pool[i]);
		rte_mempool_free(tern_ctl.extra_pool[i]);
	}
	tern_ctl.nb_extra_pools = 0;
	rte_free(tern_ctl.qsbr);
	tern_ctl.qsbr = NULL;
	free(tern_ctl.node_base);
	tern_ctl.node_base = NULL;
	if (tern_ctl.eal_up) {
		rte_eal_cleanup();
		tern_ctl.eal_up = false;
	}
	tern_ctl.started = false;
}
