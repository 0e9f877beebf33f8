/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Slow path plumbing between the workers and the control thread.
 *
 * Punt (worker -> control): a node that cannot finish a packet on the fast
 * path (an ARP packet, a packet whose next hop is not resolved) sets
 * tern_mbuf_priv.punt_kind and sends it to the `ctl_punt` node, which puts
 * it on the worker's punt ring.  The control thread drains the rings every
 * millisecond and hands each packet to the handler registered for its kind.
 * A full ring drops (reason `punt_full`): the slow path sheds load, the fast
 * path never waits.
 *
 * Inject (control -> worker): the control thread sends packets it built (ARP
 * requests and replies, packets released from a hold queue) with
 * tern_inject(); the `ctl_inject` source node of a worker takes them from
 * its inject ring into the graph at the node tern_mbuf_priv.inject_next
 * names.  The control thread never touches a TX queue.
 */
#ifndef TERN_CORE_PUNT_H
#define TERN_CORE_PUNT_H

#include <stdbool.h>

#include <rte_mbuf.h>

enum tern_punt_kind {
	TERN_PUNT_ARP,     /* an ARP packet, header at data start */
	TERN_PUNT_RESOLVE, /* an IP packet waiting for its next hop's MAC */
	TERN_PUNT_MAX,
};

enum tern_inject_next {
	TERN_INJECT_ETH_OUTPUT, /* priv tx_port, l2_dst and l2_type are set */
	TERN_INJECT_IP_OUTPUT,  /* an IPv4 packet, priv tx_port and nh_ip set */
	TERN_INJECT_ICMP_ERROR, /* an IPv4 packet marked with ip_mark_icmp_error() */
	TERN_INJECT_MAX,
};

#define TERN_PUNT_RING_SIZE   1024
#define TERN_INJECT_RING_SIZE 1024

/* Control thread: handlers take ownership of the mbuf. */
typedef void (*tern_punt_fn)(struct rte_mbuf *m);
void tern_punt_register(enum tern_punt_kind kind, tern_punt_fn fn);

/*
 * Control thread: drain every worker's punt ring, up to `budget` packets
 * each; true when some ring still held packets.  The control thread calls
 * again at once then, rather than after its 1 ms sleep: it must keep up
 * with ARP under load (RFC 826 answers, and what waits for them).
 */
#define TERN_PUNT_POLL_BUDGET 1024
bool tern_punt_poll(unsigned budget);

/*
 * Control thread: send `m` into a worker's graph at `next`.  0, or -ENOBUFS
 * when the inject ring is full (the mbuf is freed).
 */
int tern_inject(struct rte_mbuf *m, enum tern_inject_next next);

/* A pool for packets the control thread builds (created at boot). */
struct rte_mempool *tern_ctl_pool(void);

#endif
