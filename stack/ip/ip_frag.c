/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Fragmentation and reassembly (RFC 791), on DPDK's rte_ip_frag.
 *
 * ip_reassembly: fragments for us.  Each worker has its own reassembly
 * table (no locks; fragments of one datagram normally share a flow hash and
 * so a worker): 128 datagrams in flight, at most RTE_LIBRTE_IP_FRAG_MAX_FRAG
 * (8) fragments each, 30 s to complete (Linux's ipfrag_time).  The table is
 * small on purpose: the fragments it holds are RX mbufs, and 128 x 7 of them
 * is a quarter of a default port pool, so a flood of incomplete datagrams
 * (Linux bounds it with ipfrag_high_thresh) cannot starve the port.  A complete
 * datagram goes on to ip_local; refused fragments (overlaps, too many, table
 * full) are dropped as ip_reasm_fail.
 *
 * ip_frag_expire: a source node that, every 64 loops, drops the fragments of
 * datagrams that timed out (ip_reasm_timeout), so nothing is held for ever
 * even when no new fragment arrives.
 *
 * ip_frag: packets too big for the egress MTU with DF clear are split into
 * fragments that go back to ip_output (the original is freed).
 */
#include <errno.h>

#include <rte_cycles.h>
#include <rte_graph.h>
#include <rte_graph_worker.h>
#include <rte_ip.h>
#include <rte_ip_frag.h>
#include <rte_lcore.h>
#include <rte_malloc.h>

#include "core/ctl.h"
#include "core/drop.h"
#include "core/init.h"
#include "core/node.h"
#include "ip/ip_priv.h"

#define REASM_BUCKETS        128
#define REASM_BUCKET_ENTRIES 8
#define REASM_MAX_ENTRIES    128

#define REASM_TIMEOUT_S 30
#define MAX_FRAGS_OUT   64 /* a 64 KiB datagram over a 1280-byte MTU needs 52 */

struct frag_state {
	struct rte_ip_frag_tbl *tbl;
	struct rte_ip_frag_death_row dr;
};

/* Control thread, at init: which mod[] slot of the workers is ours. */
static int frag_mod = -1;

static inline struct frag_state *
frag_state(struct tern_worker *w)
{
	return w->mod[frag_mod];
}

/* Hand what the death row collected to a drop edge, so it is counted. */
static void
death_row_drop(struct rte_graph *graph, struct rte_node *node, struct frag_state *fs,
               rte_edge_t edge)
{
	if (fs->dr.cnt == 0)
		return;
	rte_node_enqueue(graph, node, edge, (void **)fs->dr.row, (uint16_t)fs->dr.cnt);
	fs->dr.cnt = 0;
}

enum {
	REASM_NEXT_LOCAL,
	REASM_NEXT_FAIL,
	REASM_NEXT_OVERSIZE,
	REASM_NEXT_MAX,
};

/* Written by a TERN_INIT hook before any graph exists, then read-only. */
static rte_edge_t reasm_prerouting_edge;

int
ip_reassembly_prerouting(const char *node_name)
{
	return tern_node_add_edge("ip_reassembly", node_name, &reasm_prerouting_edge);
}

/*
 * One reassemble call adds at most a datagram's worth of fragments (all it
 * held, and the new one) to the death row, which rte_ip_frag fills without
 * a bound check: flush before it could overflow, whatever the outcome of
 * the previous calls.
 */
#define REASM_DR_ROOM (RTE_IP_FRAG_DEATH_ROW_MBUF_LEN - (RTE_LIBRTE_IP_FRAG_MAX_FRAG + 1))

/* Where a fragment ends in its datagram, headers included. */
static inline uint32_t
frag_end(const struct rte_ipv4_hdr *ip)
{
	uint32_t off = rte_be_to_cpu_16(ip->fragment_offset) & RTE_IPV4_HDR_OFFSET_MASK;

	return off * 8 + rte_be_to_cpu_16(ip->total_length);
}

static uint16_t
ip_reassembly_process(struct rte_graph *graph, struct rte_node *node, void **objs, uint16_t nb)
{
	struct tern_worker *w = tern_node_worker(node);
	struct frag_state *fs = frag_state(w);

	for (uint16_t i = 0; i < nb; i++) {
		struct rte_mbuf *m = objs[i], *done;
		struct rte_ipv4_hdr *ip = rte_pktmbuf_mtod(m, struct rte_ipv4_hdr *);
		uint16_t hl = (uint16_t)((ip->version_ihl & 0xf) * 4);

		/* RFC 791: a datagram is at most 65535 bytes; DPDK would build
		 * a bigger one, its total length wrapped. */
		if (unlikely(frag_end(ip) > UINT16_MAX)) {
			rte_node_enqueue_x1(graph, node, REASM_NEXT_OVERSIZE, m);
			continue;
		}
		if (fs->dr.cnt > REASM_DR_ROOM)
			death_row_drop(graph, node, fs, REASM_NEXT_FAIL);
		/* rte_ip_frag strips l2_len + l3_len from every fragment but the
		 * first; eth_input already took the Ethernet header off, and the
		 * prerouting path (NAT) comes here before ip_local sets l3_len. */
		m->l2_len = 0;
		m->l3_len = hl;
		done = rte_ipv4_frag_reassemble_packet(fs->tbl, &fs->dr, m, w->now_tsc, ip);
		if (done == NULL)
			continue; /* held until the datagram completes, or refused */
		done->l2_len = sizeof(struct rte_ether_hdr); /* still before data_off */

		ip = rte_pktmbuf_mtod(done, struct rte_ipv4_hdr *);
		ip->hdr_checksum = 0;
		ip->hdr_checksum = rte_ipv4_cksum(ip);
		rte_node_enqueue_x1(graph, node,
		                    w->dp->prerouting ? reasm_prerouting_edge : REASM_NEXT_LOCAL,
		                    done);
	}
	death_row_drop(graph, node, fs, REASM_NEXT_FAIL);
	return nb;
}

static struct rte_node_register ip_reassembly_node = {
	.name = "ip_reassembly",
	.process = ip_reassembly_process,
	.init = tern_node_ctx_init,
	.nb_edges = REASM_NEXT_MAX,
	.next_nodes = {
		[REASM_NEXT_LOCAL] = "ip_local",
		[REASM_NEXT_FAIL] = TERN_DROP_NODE("ip_reasm_fail"),
		[REASM_NEXT_OVERSIZE] = TERN_DROP_NODE("ip_reasm_oversize"),
	},
};
RTE_NODE_REGISTER(ip_reassembly_node);

static uint16_t
ip_frag_expire_process(struct rte_graph *graph, struct rte_node *node, void **objs, uint16_t nb)
{
	struct tern_worker *w = tern_node_worker(node);
	struct frag_state *fs = frag_state(w);
	uint16_t n;

	if ((w->loops & 63) != 0)
		return 0;
	rte_ip_frag_table_del_expired_entries(fs->tbl, &fs->dr, w->now_tsc);
	n = (uint16_t)fs->dr.cnt;
	death_row_drop(graph, node, fs, 0);
	return n;
}

static struct rte_node_register ip_frag_expire_node = {
	.name = "ip_frag_expire",
	.flags = RTE_NODE_SOURCE_F,
	.process = ip_frag_expire_process,
	.init = tern_node_ctx_init,
	.nb_edges = 1,
	.next_nodes = {
		[0] = TERN_DROP_NODE("ip_reasm_timeout"),
	},
};
RTE_NODE_REGISTER(ip_frag_expire_node);

enum {
	FRAG_NEXT_OUTPUT,
	FRAG_NEXT_FAIL,
	FRAG_NEXT_MAX,
};

static uint16_t
ip_frag_process(struct rte_graph *graph, struct rte_node *node, void **objs, uint16_t nb)
{
	const struct tern_dp *dp = tern_node_worker(node)->dp;

	for (uint16_t i = 0; i < nb; i++) {
		struct rte_mbuf *m = objs[i], *out[MAX_FRAGS_OUT];
		const struct tern_mbuf_priv *priv = tern_mbuf_priv(m);
		int n = rte_ipv4_fragment_packet(m, out, MAX_FRAGS_OUT, dp->port[priv->tx_port].mtu,
		                                 m->pool, m->pool);

		if (n < 0) {
			rte_node_enqueue_x1(graph, node, FRAG_NEXT_FAIL, m);
			continue;
		}
		for (int k = 0; k < n; k++) {
			struct rte_ipv4_hdr *ip = rte_pktmbuf_mtod(out[k], struct rte_ipv4_hdr *);

			/* New mbufs: carry the routing decision over. */
			*tern_mbuf_priv(out[k]) = *priv;
			out[k]->port = m->port;
			out[k]->l3_len = sizeof(*ip);
			ip->hdr_checksum = 0;
			ip->hdr_checksum = rte_ipv4_cksum(ip);
		}
		rte_node_enqueue(graph, node, FRAG_NEXT_OUTPUT, (void **)out, (uint16_t)n);
		rte_pktmbuf_free(m); /* the fragments hold references to its data */
	}
	return nb;
}

static struct rte_node_register ip_frag_node = {
	.name = "ip_frag",
	.process = ip_frag_process,
	.init = tern_node_ctx_init,
	.nb_edges = FRAG_NEXT_MAX,
	.next_nodes = {
		[FRAG_NEXT_OUTPUT] = "ip_output",
		[FRAG_NEXT_FAIL] = TERN_DROP_NODE("ip_frag_fail"),
	},
};
RTE_NODE_REGISTER(ip_frag_node);

static int
ip_frag_init(void)
{
	uint64_t timeout = rte_get_tsc_hz() * REASM_TIMEOUT_S;

	if ((frag_mod = tern_worker_mod_id()) < 0)
		return frag_mod;
	for (unsigned i = 0; i < tern_ctl.nb_workers; i++) {
		struct tern_worker *w = tern_ctl.worker[i];
		int socket = (int)rte_lcore_to_socket_id(w->lcore);
		struct frag_state *fs = rte_zmalloc_socket("tern_frag", sizeof(*fs), 0, socket);

		if (fs == NULL)
			return -ENOMEM;
		fs->tbl = rte_ip_frag_table_create(REASM_BUCKETS, REASM_BUCKET_ENTRIES,
		                                   REASM_MAX_ENTRIES, timeout, socket);
		if (fs->tbl == NULL) {
			rte_free(fs);
			return -ENOMEM;
		}
		w->mod[frag_mod] = fs;
	}
	return tern_graph_source_register("ip_frag_expire");
}
TERN_INIT(ip_frag_init);

static void
ip_frag_fini(void)
{
	for (unsigned i = 0; frag_mod >= 0 && i < tern_ctl.nb_workers; i++) {
		struct tern_worker *w = tern_ctl.worker[i];
		struct frag_state *fs = w ? w->mod[frag_mod] : NULL;

		if (fs == NULL)
			continue;
		rte_ip_frag_free_death_row(&fs->dr, 0);
		rte_ip_frag_table_destroy(fs->tbl);
		rte_free(fs);
		w->mod[frag_mod] = NULL;
	}
}
TERN_FINI(ip_frag_fini);
