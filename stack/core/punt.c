/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ctl_punt and ctl_inject nodes, and the control thread's side of them.
 */
#include <errno.h>

#include <rte_graph.h>
#include <rte_graph_worker.h>
#include <rte_ring.h>

#include "core/ctl.h"
#include "core/drop.h"
#include "core/mbuf.h"
#include "core/node.h"
#include "core/punt.h"

/* Set by TERN_INIT hooks before the workers start; read by control only. */
static tern_punt_fn punt_handlers[TERN_PUNT_MAX];

void
tern_punt_register(enum tern_punt_kind kind, tern_punt_fn fn)
{
	punt_handlers[kind] = fn;
}

enum {
	CTL_PUNT_NEXT_FULL,
	CTL_PUNT_NEXT_RESOLVE_FULL,
	CTL_PUNT_NEXT_MAX,
};

/*
 * Packets waiting for ARP may fill three quarters of the ring, no more: a
 * flood towards an address that never answers (a scan of a connected
 * subnet) must not crowd out the ARP replies that resolve the others, nor
 * the ARP requests we answer.  The control thread holds only a few per
 * neighbour anyway (the hold queue), as Linux's unres_qlen.
 */
#define PUNT_RESOLVE_ROOM (TERN_PUNT_RING_SIZE / 4)

static uint16_t
ctl_punt_process(struct rte_graph *graph, struct rte_node *node, void **objs, uint16_t nb)
{
	struct tern_worker *w = tern_node_worker(node);
	unsigned room = rte_ring_free_count(w->punt), n;
	void *refused[RTE_GRAPH_BURST_SIZE];
	uint16_t k = 0, r = 0;

	/* One look at the ring per call: it is shared with the control thread. */
	for (uint16_t i = 0; i < nb; i++) {
		struct rte_mbuf *m = objs[i];

		if (tern_mbuf_priv(m)->punt_kind == TERN_PUNT_RESOLVE &&
		    room <= PUNT_RESOLVE_ROOM) {
			/* Streams can be longer than a burst: empty the array
			 * rather than let the rest through. */
			if (r == RTE_DIM(refused)) {
				rte_node_enqueue(graph, node, CTL_PUNT_NEXT_RESOLVE_FULL, refused,
				                 r);
				r = 0;
			}
			refused[r++] = m;
			continue;
		}
		room -= room != 0;
		objs[k++] = m;
	}
	n = rte_ring_sp_enqueue_burst(w->punt, objs, k, NULL);
	if (unlikely(n < k))
		rte_node_enqueue(graph, node, CTL_PUNT_NEXT_FULL, &objs[n], k - n);
	if (unlikely(r != 0))
		rte_node_enqueue(graph, node, CTL_PUNT_NEXT_RESOLVE_FULL, refused, r);
	return nb;
}

static struct rte_node_register ctl_punt_node = {
	.name = "ctl_punt",
	.process = ctl_punt_process,
	.init = tern_node_ctx_init,
	.nb_edges = CTL_PUNT_NEXT_MAX,
	.next_nodes = {
		[CTL_PUNT_NEXT_FULL] = TERN_DROP_NODE("punt_full"),
		[CTL_PUNT_NEXT_RESOLVE_FULL] = TERN_DROP_NODE("punt_resolve_full"),
	},
};
RTE_NODE_REGISTER(ctl_punt_node);

static uint16_t
ctl_inject_process(struct rte_graph *graph, struct rte_node *node, void **objs, uint16_t nb)
{
	struct tern_worker *w = tern_node_worker(node);
	void *pkts[TERN_RX_BURST];
	rte_edge_t next[TERN_RX_BURST];
	unsigned n;

	/* Mostly empty: one ring check per loop is the whole cost. */
	n = rte_ring_sc_dequeue_burst(w->inject, pkts, TERN_RX_BURST, NULL);
	if (n == 0)
		return 0;
	for (unsigned i = 0; i < n; i++) {
		uint8_t k = tern_mbuf_priv(pkts[i])->inject_next;
		next[i] = k < TERN_INJECT_MAX ? k : TERN_INJECT_ETH_OUTPUT;
	}
	tern_node_enqueue(graph, node, pkts, next, (uint16_t)n, false);
	return (uint16_t)n;
}

static struct rte_node_register ctl_inject_node = {
	.name = "ctl_inject",
	.flags = RTE_NODE_SOURCE_F,
	.process = ctl_inject_process,
	.init = tern_node_ctx_init,
	.nb_edges = TERN_INJECT_MAX,
	.next_nodes = {
		[TERN_INJECT_ETH_OUTPUT] = "eth_output",
		[TERN_INJECT_IP_OUTPUT] = "ip_output",
		[TERN_INJECT_ICMP_ERROR] = "icmp_error",
	},
};
RTE_NODE_REGISTER(ctl_inject_node);

bool
tern_punt_poll(unsigned budget)
{
	bool more = false;

	for (unsigned wi = 0; wi < tern_ctl.nb_workers; wi++) {
		struct tern_worker *w = tern_ctl.worker[wi];
		struct rte_mbuf *pkts[64];
		unsigned n, done = 0;

		if (w == NULL || w->punt == NULL)
			continue;
		/* Up to `budget` per worker, so one flooded worker cannot keep
		 * the others' punts (or the timers) waiting long. */
		do {
			n = rte_ring_sc_dequeue_burst(w->punt, (void **)pkts, RTE_DIM(pkts), NULL);
			for (unsigned i = 0; i < n; i++) {
				uint8_t k = tern_mbuf_priv(pkts[i])->punt_kind;
				if (k < TERN_PUNT_MAX && punt_handlers[k] != NULL)
					punt_handlers[k](pkts[i]);
				else
					tern_ctl_drop(pkts[i], TERN_CTL_DROP_PUNT_UNHANDLED);
			}
			done += n;
		} while (n == RTE_DIM(pkts) && done < budget);
		more |= n == RTE_DIM(pkts);
	}
	return more;
}

int
tern_inject(struct rte_mbuf *m, enum tern_inject_next next)
{
	struct tern_worker *w = tern_ctl.worker[0];

	tern_mbuf_priv(m)->inject_next = (uint8_t)next;
	/* Only the control thread produces, so single-producer is safe. */
	if (w == NULL || rte_ring_sp_enqueue(w->inject, m) != 0) {
		tern_ctl_drop(m, TERN_CTL_DROP_INJECT_FULL);
		return -ENOBUFS;
	}
	return 0;
}

struct rte_mempool *
tern_ctl_pool(void)
{
	return tern_ctl.ctl_pool;
}
