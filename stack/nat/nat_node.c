/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * nat44: the prerouting hook of ip_input while NAT rules exist.  Every
 * checked IPv4 packet (fragments once reassembled) is translated by the
 * worker's session table (nat.h), then routed: to ip_local, ip_forward or
 * icmp_error, as ip_input would have.  A packet whose session another
 * worker owns goes to that worker's handoff ring; nat_handoff, a source
 * node, feeds them back into nat44 there.
 *
 * A packet that would be forwarded with its TTL run out is not translated:
 * ip_forward sends the time exceeded about the packet as its sender wrote
 * it, which is what traceroute from the inside expects.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <rte_fib.h>
#include <rte_graph.h>
#include <rte_graph_worker.h>
#include <rte_ip.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_ring.h>

#include "core/ctl.h"
#include "core/drop.h"
#include "core/handoff.h"
#include "core/init.h"
#include "core/log.h"
#include "core/node.h"
#include "ip/ip_nodes.h"
#include "ip/ip_priv.h"
#include "nat/nat.h"
#include "nat/nat_worker.h"

#define NAT_HANDOFF_RING  4096
#define NAT_HANDOFF_BURST 32
enum {
	NAT_NEXT_LOCAL,
	NAT_NEXT_FORWARD,
	NAT_NEXT_ICMP_ERROR,
	NAT_NEXT_BLACKHOLE,
	NAT_NEXT_REFUSED,
	NAT_NEXT_BAD,
	NAT_NEXT_HANDOFF_FULL,
	NAT_NEXT_NO_ROUTE,
	NAT_NEXT_MAX,
};

/* Control thread state and tables written at init, then read-only. */
static int nat_mod = -1;
static struct nat_worker *by_index[TERN_MAX_WORKERS];
static unsigned nb_nat_workers;

struct nat_worker *
nat_worker_of(const struct tern_worker *w)
{
	return nat_mod >= 0 ? w->mod[nat_mod] : NULL;
}

struct nat_worker *
nat_worker_by_index(unsigned i)
{
	return i < nb_nat_workers ? by_index[i] : NULL;
}

unsigned
nat_nb_workers(void)
{
	return nb_nat_workers;
}

/* The environment the core sees: routes and addresses from this loop's
 * configuration version. */
static int
env_route(void *ctx, uint32_t dst, uint16_t *out_port)
{
	const struct tern_dp *dp = ctx;
	uint32_t idx = ip_fib_lookup(dp, rte_cpu_to_be_32(dst));

	if (idx == 0 || dp->nh[idx].type == TERN_NH_BLACKHOLE)
		return -1;
	*out_port = dp->nh[idx].port;
	return 0;
}

static bool
env_is_local(void *ctx, uint32_t addr)
{
	return ip_route_is_local_unicast(ctx, rte_cpu_to_be_32(addr));
}

static uint32_t
env_port_addr(void *ctx, uint16_t port)
{
	const struct tern_dp *dp = ctx;

	return port < RTE_MAX_ETHPORTS ? rte_be_to_cpu_32(dp->port[port].ip4) : 0;
}

/* ip_input's routing decision `e` for `m`, in our edges. */
static rte_edge_t
nat_edge(const struct rte_mbuf *m, rte_edge_t e)
{
	switch (e) {
	case IP_INPUT_NEXT_LOCAL:
	case IP_INPUT_NEXT_FRAGMENT: /* cannot happen: reassembled before */
		/* An ICMP error icmp_error built (no ingress port) goes out
		 * or nowhere (ip.h). */
		return m->port == RTE_MBUF_PORT_INVALID ? NAT_NEXT_NO_ROUTE : NAT_NEXT_LOCAL;
	case IP_INPUT_NEXT_FORWARD:
		return NAT_NEXT_FORWARD;
	case IP_INPUT_NEXT_ICMP_ERROR:
		return NAT_NEXT_ICMP_ERROR;
	default:
		return NAT_NEXT_BLACKHOLE;
	}
}

static rte_edge_t
nat_route(const struct tern_dp *dp, struct rte_mbuf *m)
{
	const struct rte_ipv4_hdr *ip = rte_pktmbuf_mtod(m, const struct rte_ipv4_hdr *);
	uint32_t dst = rte_be_to_cpu_32(ip->dst_addr);

	return nat_edge(m, ip_input_route(dp, m, dst, ip_fib_lookup(dp, ip->dst_addr)));
}

/* Not an edge: translated, to be routed with the rest of the chunk. */
#define NAT_NEXT_ROUTE (NAT_NEXT_MAX + 1)

/* Not an edge: for worker *owner, handed over after the chunk. */
#define NAT_NEXT_HANDOFF (NAT_NEXT_MAX + 2)

/* One packet: translate (unless it is about to die of TTL).  Returns an
 * edge, NAT_NEXT_ROUTE, or NAT_NEXT_HANDOFF with the owner in *owner. */
static inline rte_edge_t
nat_one(struct nat_worker *nw, const struct tern_dp *dp, const struct nat_rules *rules,
        const struct nat_env *env, struct rte_mbuf *m, uint64_t now, struct nat_prep *prep,
        unsigned *owner)
{
	struct rte_ipv4_hdr *ip = rte_pktmbuf_mtod(m, struct rte_ipv4_hdr *);
	rte_edge_t e;

	if (unlikely(ip->time_to_live <= 1)) {
		e = nat_route(dp, m);
		if (e == NAT_NEXT_FORWARD)
			return e; /* time exceeded, about the original packet */
	}
	switch (nat_translate_prepared(nw->t, rules, env, prep, m->port, now, owner)) {
	case NAT_PASS:
	case NAT_DONE:
		return NAT_NEXT_ROUTE;
	case NAT_DROP:
		return NAT_NEXT_REFUSED;
	case NAT_OTHER_OWNER:
		if (*owner < nb_nat_workers && *owner != nw->w->id)
			return NAT_NEXT_HANDOFF;
		return NAT_NEXT_HANDOFF_FULL;
	case NAT_BAD:
	default:
		return NAT_NEXT_BAD;
	}
}

/* Where nat_handoff on worker `owner` takes packets from. */
static struct rte_ring *
nat_handoff_ring(unsigned owner)
{
	return by_index[owner]->handoff;
}

/* ip_input's routing decision for the translated packets, one FIB lookup
 * for all of them. */
static void
nat_route_bulk(const struct tern_dp *dp, void **pkts, rte_edge_t *next, uint16_t n)
{
	uint32_t dst[TERN_NODE_CHUNK];
	uint64_t nh[TERN_NODE_CHUNK];
	uint16_t which[TERN_NODE_CHUNK], k = 0;

	for (uint16_t i = 0; i < n; i++) {
		const struct rte_ipv4_hdr *ip;

		if (next[i] != NAT_NEXT_ROUTE)
			continue;
		ip = rte_pktmbuf_mtod((struct rte_mbuf *)pkts[i], const struct rte_ipv4_hdr *);
		dst[k] = rte_be_to_cpu_32(ip->dst_addr);
		which[k++] = i;
	}
	if (k == 0)
		return;
	if (likely(dp->fib != NULL))
		rte_fib_lookup_bulk(dp->fib, dst, nh, k);
	else
		memset(nh, 0, sizeof(nh[0]) * k);
	for (uint16_t j = 0; j < k; j++) {
		struct rte_mbuf *m = pkts[which[j]];

		next[which[j]] = nat_edge(m, ip_input_route(dp, m, dst[j], (uint32_t)nh[j]));
	}
}

static uint16_t
nat44_process(struct rte_graph *graph, struct rte_node *node, void **objs, uint16_t nb)
{
	struct tern_worker *w = tern_node_worker(node);
	struct nat_worker *nw = nat_worker_of(w);
	const struct tern_dp *dp = w->dp;
	struct nat_env env = {
		.ctx = (void *)(uintptr_t)dp,
		.route = env_route,
		.is_local = env_is_local,
		.port_addr = env_port_addr,
	};
	/* Read once: the packet stores of the loops might alias them. */
	const struct nat_rules *rules = dp->nat;
	const uint64_t now = w->now_ms;
	struct nat_table *t = nw->t;
	struct nat_prep prep[TERN_NODE_CHUNK];
	void *keep[TERN_NODE_CHUNK];
	rte_edge_t next[TERN_NODE_CHUNK];
	struct tern_handoff ho;

	tern_handoff_init(&ho);
	for (uint16_t base = 0; base < nb; base += TERN_NODE_CHUNK) {
		uint16_t n = RTE_MIN(nb - base, TERN_NODE_CHUNK), nkeep = 0;

		/* Rules removed while packets were on their way: route only. */
		if (unlikely(rules == NULL)) {
			for (uint16_t i = 0; i < n; i++) {
				keep[i] = objs[base + i];
				next[i] = NAT_NEXT_ROUTE;
			}
			nat_route_bulk(dp, keep, next, n);
			tern_node_enqueue(graph, node, keep, next, n, false);
			continue;
		}
		/* Session lookups miss the cache with big tables.  Three
		 * passes over the burst: parse each packet and prefetch its
		 * bucket; read the buckets and prefetch their sessions;
		 * translate.  Each prefetch has a whole pass to land in, and
		 * the misses of a burst overlap.  (A pipeline a few packets
		 * deep, refilled at every burst, measured 3.6% slower: its
		 * first packets waited for their misses.) */
		for (uint16_t i = 0; i < n; i++) {
			struct rte_mbuf *m = objs[base + i];

			nat_prepare(t, rte_pktmbuf_mtod(m, uint8_t *), rte_pktmbuf_data_len(m),
			            rte_pktmbuf_pkt_len(m), 0, &prep[i]);
		}
		for (uint16_t i = 0; i < n; i++)
			nat_prepare(t, NULL, 0, 0, 1, &prep[i]);
		for (uint16_t i = 0; i < n; i++) {
			struct rte_mbuf *m = objs[base + i];
			unsigned owner = 0;
			rte_edge_t e = nat_one(nw, dp, rules, &env, m, now, &prep[i], &owner);

			if (e == NAT_NEXT_HANDOFF) {
				tern_handoff_add(&ho, m, owner);
				continue;
			}
			keep[nkeep] = m;
			next[nkeep++] = e;
		}
		nat_route_bulk(dp, keep, next, nkeep);
		/* Nothing handed over: keep[] is the stream as it came, which
		 * can then move on whole. */
		if (ho.n == 0) {
			tern_node_enqueue(graph, node, keep, next, nkeep, nkeep == nb);
			continue;
		}
		/* What the owners' rings refuse drops as nat_handoff_full. */
		for (uint16_t k = tern_handoff_flush(
		         &ho, nat_handoff_ring, (struct rte_mbuf **)&keep[nkeep], &nw->handoff_out);
		     k != 0; k--)
			next[nkeep++] = NAT_NEXT_HANDOFF_FULL;
		tern_node_enqueue(graph, node, keep, next, nkeep, false);
	}
	return nb;
}

static struct rte_node_register nat44_node = {
	.name = "nat44",
	.process = nat44_process,
	.init = tern_node_ctx_init,
	.nb_edges = NAT_NEXT_MAX,
	.next_nodes = {
		[NAT_NEXT_LOCAL] = "ip_local",
		[NAT_NEXT_FORWARD] = "ip_forward",
		[NAT_NEXT_ICMP_ERROR] = "icmp_error",
		[NAT_NEXT_BLACKHOLE] = TERN_DROP_NODE("ip_blackhole"),
		[NAT_NEXT_REFUSED] = TERN_DROP_NODE("nat_refused"),
		[NAT_NEXT_BAD] = TERN_DROP_NODE("nat_bad"),
		[NAT_NEXT_HANDOFF_FULL] = TERN_DROP_NODE("nat_handoff_full"),
		[NAT_NEXT_NO_ROUTE] = TERN_DROP_NODE("icmp_no_route"),
	},
};
RTE_NODE_REGISTER(nat44_node);

/* nat_handoff: packets other workers found to be ours, back into nat44. */
static uint16_t
nat_handoff_process(struct rte_graph *graph, struct rte_node *node, void **objs, uint16_t nb)
{
	struct nat_worker *nw = nat_worker_of(tern_node_worker(node));
	void *in[NAT_HANDOFF_BURST];
	unsigned n;

	(void)objs;
	(void)nb;
	n = rte_ring_sc_dequeue_burst(nw->handoff, in, NAT_HANDOFF_BURST, NULL);
	if (n != 0) {
		nw->handoff_in += n;
		rte_node_enqueue(graph, node, 0, in, (uint16_t)n);
	}
	return (uint16_t)n;
}

static struct rte_node_register nat_handoff_node = {
	.name = "nat_handoff",
	.flags = RTE_NODE_SOURCE_F,
	.process = nat_handoff_process,
	.init = tern_node_ctx_init,
	.nb_edges = 1,
	.next_nodes = { [0] = "nat44" },
};
RTE_NODE_REGISTER(nat_handoff_node);

static int
nat_worker_create(struct tern_worker *w)
{
	int socket = (int)rte_lcore_to_socket_id(w->lcore);
	char name[RTE_RING_NAMESIZE];
	struct nat_worker *nw;

	nw = rte_zmalloc_socket("nat_worker", sizeof(*nw), RTE_CACHE_LINE_SIZE, socket);
	if (nw == NULL)
		return -ENOMEM;
	nw->w = w;
	snprintf(name, sizeof(name), "tern_nat_ho%u", w->id);
	nw->handoff = rte_ring_create(name, NAT_HANDOFF_RING, socket, RING_F_SC_DEQ);
	nw->t = nat_table_create(nat_global_cfg(), &w->wheel, w->id, tern_ctl.nb_workers);
	if (nw->handoff == NULL || nw->t == NULL) {
		rte_ring_free(nw->handoff);
		nat_table_destroy(nw->t);
		rte_free(nw);
		return -ENOMEM;
	}
	w->mod[nat_mod] = nw;
	by_index[w->id] = nw;
	if (w->id + 1 > nb_nat_workers)
		nb_nat_workers = w->id + 1;
	return 0;
}

static int
nat_init(void)
{
	int rc;

	if ((nat_mod = tern_worker_mod_id()) < 0)
		return nat_mod;
	for (unsigned i = 0; i < tern_ctl.nb_workers; i++)
		if ((rc = nat_worker_create(tern_ctl.worker[i])) < 0) {
			LOG_ERR("nat: worker %u: %s", i, strerror(-rc));
			return rc;
		}
	if ((rc = ip_prerouting_register("nat44")) < 0)
		return rc;
	return tern_graph_source_register("nat_handoff");
}
TERN_INIT(nat_init);

static void
nat_fini(void)
{
	for (unsigned i = 0; i < nb_nat_workers; i++) {
		struct nat_worker *nw = by_index[i];
		struct rte_mbuf *m;

		if (nw == NULL)
			continue;
		nat_table_destroy(nw->t);
		while (rte_ring_dequeue(nw->handoff, (void **)&m) == 0)
			rte_pktmbuf_free(m);
		rte_ring_free(nw->handoff);
		nw->w->mod[nat_mod] = NULL;
		rte_free(nw);
		by_index[i] = NULL;
	}
	nb_nat_workers = 0;
	nat_control_fini();
}
TERN_FINI(nat_fini);
