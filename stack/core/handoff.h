/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Packets a worker hands over to the workers that own their flows (NAT
 * sessions, TCP connections), gathered over a chunk and sent with one ring
 * enqueue per owner: a producer CAS per owner and chunk, not per packet.
 */
#ifndef TERN_CORE_HANDOFF_H
#define TERN_CORE_HANDOFF_H

#include <stdint.h>

#include <rte_mbuf.h>
#include <rte_ring.h>

#include "core/node.h"

/* On the node's stack: set only n (tern_handoff_init), not the whole
 * 2.5 KB, which a `= { 0 }` would clear on every call. */
struct tern_handoff {
	uint16_t n;
	uint16_t owner[TERN_NODE_CHUNK];
	struct rte_mbuf *m[TERN_NODE_CHUNK];
};

static inline void
tern_handoff_init(struct tern_handoff *h)
{
	h->n = 0;
}

static inline void
tern_handoff_add(struct tern_handoff *h, struct rte_mbuf *m, unsigned owner)
{
	h->owner[h->n] = (uint16_t)owner;
	h->m[h->n++] = m;
}

/*
 * Put each owner's packets on ring_of(owner), one burst per owner, and
 * empty `h`.  Those a full ring refuses go to refused[] (the caller drops
 * them with its reason); returns how many, and adds the others to *sent.
 */
static inline uint16_t
tern_handoff_flush(struct tern_handoff *h, struct rte_ring *(*ring_of)(unsigned owner),
                   struct rte_mbuf **refused, uint64_t *sent)
{
	struct rte_mbuf *one[TERN_NODE_CHUNK];
	uint16_t nref = 0;

	while (h->n != 0) {
		unsigned o = h->owner[0], ok;
		uint16_t n = 0, rest = 0;

		/* This owner's packets out, the others' to the front. */
		for (uint16_t i = 0; i < h->n; i++) {
			if (h->owner[i] == o) {
				one[n++] = h->m[i];
			} else {
				h->owner[rest] = h->owner[i];
				h->m[rest++] = h->m[i];
			}
		}
		ok = rte_ring_mp_enqueue_burst(ring_of(o), (void **)one, n, NULL);
		*sent += ok;
		for (uint16_t i = (uint16_t)ok; i < n; i++)
			refused[nref++] = one[i];
		h->n = rest;
	}
	return nref;
}

#endif
