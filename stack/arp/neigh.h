/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Neighbour table (ARP cache), shared by the workers and the control thread.
 *
 * The control thread owns it: it creates, updates and deletes entries as ARP
 * packets (punted by arp_input) and timers dictate.  Workers only read it,
 * without locks: dp->neigh is an rte_hash created with lock-free
 * read/write concurrency, keyed by (port, IPv4), whose data is a pointer to
 * a struct tern_neigh.  The MAC, the state and `used_ms` are atomics, so a
 * reader never sees half an update; entries are freed through the hash's RCU
 * defer queue (rte_hash_rcu_qsbr_add) after the workers' grace period.
 *
 * A worker that finds no usable entry punts the packet (TERN_PUNT_RESOLVE);
 * the control thread parks it on the entry's hold queue and resolves.
 */
#ifndef TERN_ARP_NEIGH_H
#define TERN_ARP_NEIGH_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <rte_byteorder.h>
#include <rte_ether.h>
#include <rte_hash.h>

#include "core/dp.h"

/* Linux's NUD states. */
#define TERN_NUD_STATES(X)                                                                         \
	X(NONE, "none")                                                                            \
	X(INCOMPLETE, "INCOMPLETE")                                                                \
	X(REACHABLE, "REACHABLE")                                                                  \
	X(STALE, "STALE")                                                                          \
	X(DELAY, "DELAY")                                                                          \
	X(PROBE, "PROBE")                                                                          \
	X(FAILED, "FAILED")                                                                        \
	X(PERMANENT, "PERMANENT")

enum tern_nud {
#define X(id, name) TERN_NUD_##id,
	TERN_NUD_STATES(X)
#undef X
};

struct tern_neigh_key {
	rte_be32_t ip;
	uint16_t port;
	uint16_t pad; /* always 0 */
};

/* What a worker may read.  The control thread's private fields follow it. */
struct tern_neigh {
	_Atomic uint64_t mac;     /* the 6 MAC bytes in memory order, low first */
	_Atomic uint64_t used_ms; /* last time a worker sent through it */
	_Atomic uint8_t state;    /* enum tern_nud */
	uint16_t port;
	rte_be32_t ip;
};

static inline uint64_t
tern_neigh_mac_pack(const struct rte_ether_addr *a)
{
	uint64_t v = 0;

	memcpy(&v, a->addr_bytes, RTE_ETHER_ADDR_LEN);
	return v;
}

static inline void
tern_neigh_mac_unpack(uint64_t v, struct rte_ether_addr *a)
{
	memcpy(a->addr_bytes, &v, RTE_ETHER_ADDR_LEN);
}

/* The MAC may be used to send: Linux's NUD_VALID minus INCOMPLETE/FAILED. */
static inline bool
tern_nud_valid(uint8_t state)
{
	return state >= TERN_NUD_REACHABLE && state != TERN_NUD_FAILED;
}

/*
 * Datapath lookup.  Returns the entry for (port, ip) if its MAC may be used,
 * else NULL (punt to resolve).  Marks the entry used at most once a second,
 * so that busy flows do not bounce its cache line between workers.
 */
static inline const struct tern_neigh *
tern_neigh_lookup(const struct tern_dp *dp, uint16_t port, rte_be32_t ip, uint64_t now_ms)
{
	struct tern_neigh_key key = { .ip = ip, .port = port, .pad = 0 };
	struct tern_neigh *n;
	uint64_t used;
	uint8_t state;

	if (dp->neigh == NULL || rte_hash_lookup_data(dp->neigh, &key, (void **)&n) < 0)
		return NULL;
	state = atomic_load_explicit(&n->state, memory_order_acquire);
	if (!tern_nud_valid(state))
		return NULL;
	/* Every millisecond while STALE: the control thread must see the
	 * first use after the entry went STALE to move it to DELAY (it
	 * lasts a second at most); once a millisecond keeps busy workers
	 * from writing the shared line every burst meanwhile. */
	used = atomic_load_explicit(&n->used_ms, memory_order_relaxed);
	if ((state == TERN_NUD_STALE && used != now_ms) || now_ms - used >= 1000)
		atomic_store_explicit(&n->used_ms, now_ms, memory_order_relaxed);

	return n;
}

#endif
