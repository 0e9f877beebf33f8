/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * NAT44 core internals, shared by nat_session.c (table, hashes, timers,
 * ports, limits) and nat_translate.c (rules, rewriting, checksums, ICMP).
 *
 * Sessions live in one array per table and name each other by 32-bit index
 * (NAT_NIL for none), which keeps a session, with its four hash chains,
 * two lists and its wheel timer, within 128 bytes (two cache lines).
 *
 * Indexes:
 *   - the tuple hash holds every session twice, its orig and its reply
 *     tuple, both keyed on the full 5-tuple: a packet's lookup is one
 *     bucket, whichever direction it goes;
 *   - the mapping hash holds one session per endpoint-independent mapping
 *     (RFC 4787 REQ-1), its "holder", twice: by inside endpoint and by
 *     outside endpoint.  The other sessions of the mapping hang on the
 *     holder's ring; when the holder goes, the next one on the ring takes
 *     its place, and the mapping ends with its last session (REQ-1 "while
 *     any session of it lives").
 */
#ifndef TERN_NAT_NAT_PRIV_H
#define TERN_NAT_NAT_PRIV_H

#include "nat/nat.h"

#define NAT_NIL UINT32_MAX

#define NAT_IPPROTO_ICMP 1
#define NAT_IPPROTO_TCP  6
#define NAT_IPPROTO_UDP  17

#define NAT_TCP_FIN 0x01
#define NAT_TCP_SYN 0x02
#define NAT_TCP_RST 0x04
#define NAT_TCP_ACK 0x10

#define NAT_DIR_ORIG  0
#define NAT_DIR_REPLY 1

/* Session flags. */
#define NSF_USED   0x0001 /* allocated (else on the free list) */
#define NSF_MAPPED 0x0002 /* belongs to an EIM mapping (on a ring) */
/* Opened from outside through the mapping: its inside endpoint is the
 * reply's source (else the orig's). */
#define NSF_MAP_IN   0x0004
#define NSF_HOLDER   0x0008 /* the mapping's entry in the mapping hash */
#define NSF_HOSTCNT  0x0010 /* counted against orig.src's max_per_host */
#define NSF_REPLIED  0x0020 /* seen in the reply direction */
#define NSF_RECLAIM  0x0040 /* on the reclaim list */
#define NSF_FIN_ORIG 0x0080 /* TCP: FIN seen from the orig side */
#define NSF_FIN_REPL 0x0100 /* TCP: FIN seen from the reply side */
#define NSF_LASTFIN  0x0200 /* TCP: the second FIN came from the reply side */
/* A hairpinned packet the target's mapping refused: the session waits for
 * the target's answer, out of the hash by its orig tuple until then. */
#define NSF_HP_WAIT 0x0400
/* TCP: the connection now tracked was opened from the reply side (a SYN
 * from there reopened the session). */
#define NSF_OPEN_REPL 0x0800
/* TCP: a SYN was ignored (ESTABLISHED or closing), from the orig side
 * or, with NSF_SYNIGN_REPL, the reply side: a SYN-ACK from the other side
 * answers it, and the tracking follows the new connection. */
#define NSF_SYNIGN      0x1000
#define NSF_SYNIGN_REPL 0x2000

struct nat_session {
	/* First cache line: what every packet reads and writes (lookup,
	 * counters, last seen). */
	struct nat_ep4 t[2]; /* orig, reply tuple */
	uint32_t hnext[2];   /* tuple hash chains (orig, reply); free list: hnext[0] */
	uint8_t proto;
	uint8_t tcp_state;
	uint16_t flags;
	uint32_t last_seen; /* low 32 bits of the ms clock: ages < 49 days */
	uint32_t packets[2];
	uint64_t bytes[2]; /* orig, reply direction */
	/* Second: what only session setup, teardown and expiry touch. */
	struct tern_timer timer;       /* arg: the table; the session is container_of */
	uint32_t mnext[2];             /* mapping hash chains (inside, outside), holder only */
	uint32_t ring_prev, ring_next; /* the sessions of one mapping */
	uint32_t rc_prev, rc_next;     /* the reclaim list */
};

/* A per-table count of sessions by inside host (open addressing). */
struct nat_host {
	uint32_t addr; /* 0: empty */
	uint32_t n;
};

struct nat_table {
	struct nat_cfg cfg;
	struct tern_wheel *wheel;
	unsigned owner, nb_owners;
	uint32_t cap; /* sessions in the pool */
	uint32_t nb;  /* in use */
	uint32_t free_head;
	uint32_t rc_head, rc_tail; /* reclaim list: oldest transitory first */
	uint32_t hmask, mmask, host_mask;
	uint32_t seed;
	uint32_t port_cursor; /* where the next search for a free port starts */
	uint32_t rnd;         /* xorshift state for random port tries, never 0 */
	uint32_t *hbucket;    /* tuple hash: entry = index << 1 | direction */
	uint32_t *mbucket;    /* mapping hash: entry = index << 1 | (0 inside, 1 outside) */
	struct nat_host *host;
	uint64_t now; /* the latest clock seen */
	uint64_t ctr[NAT_MIB_MAX];
	struct nat_session *s;
};

static inline uint32_t
nat_idx(const struct nat_table *t, const struct nat_session *s)
{
	return (uint32_t)(s - t->s);
}

/* The inside and outside endpoints of a mapped session. */
static inline void
nat_map_inside(const struct nat_session *s, uint32_t *addr, uint16_t *port)
{
	const struct nat_ep4 *e = &s->t[(s->flags & NSF_MAP_IN) ? NAT_DIR_REPLY : NAT_DIR_ORIG];

	*addr = e->src;
	*port = e->sport;
}

static inline void
nat_map_outside(const struct nat_session *s, uint32_t *addr, uint16_t *port)
{
	if (s->flags & NSF_MAP_IN) {
		*addr = s->t[NAT_DIR_ORIG].dst;
		*port = s->t[NAT_DIR_ORIG].dport;
	} else {
		*addr = s->t[NAT_DIR_REPLY].dst;
		*port = s->t[NAT_DIR_REPLY].dport;
	}
}

/* nat_session.c */
uint32_t nat_hash32(uint32_t seed, uint32_t a, uint32_t b, uint32_t c);
/* Prefetch what nat_sess_lookup will read for `e`: its bucket, hashing
 * into *h (stage 0), then the bucket's first session (stage 1). */
void nat_sess_prefetch(const struct nat_table *t, uint8_t proto, const struct nat_ep4 *e,
                       unsigned stage, uint32_t *h);
/* The session and direction a packet with tuple `e` belongs to, or NULL. */
struct nat_session *nat_sess_lookup(struct nat_table *t, uint8_t proto, const struct nat_ep4 *e,
                                    unsigned *dir);
/* The same with the tuple's hash already known (nat_sess_prefetch). */
struct nat_session *nat_sess_lookup_hashed(struct nat_table *t, uint8_t proto,
                                           const struct nat_ep4 *e, unsigned *dir, uint32_t h);
/*
 * Filtering (RFC 4787 section 5): has the mapping that `holder` heads sent
 * to `addr` (and `port`, when `with_port`)?  Destinations as the inside
 * host addressed them: outside addresses, for hairpinned ones too.  A walk
 * of the mapping's sessions; only unsolicited inbound packets under ADF
 * and hairpinned ones under ADF or APDF ask, and a mapping's sessions are
 * bounded by max-per-host.
 */
bool nat_map_sent_to(const struct nat_table *t, const struct nat_session *holder, uint32_t addr,
                     uint16_t port, bool with_port);
/* The holder of the mapping of an inside / outside endpoint, or NULL. */
struct nat_session *nat_map_by_inside(struct nat_table *t, uint8_t proto, uint32_t addr,
                                      uint16_t port);
struct nat_session *nat_map_by_outside(struct nat_table *t, uint8_t proto, uint32_t addr,
                                       uint16_t port);
/* A free session block, reclaiming a transitory session when the table is
 * full; NULL (TableFull counted) when there is none. */
struct nat_session *nat_sess_alloc(struct nat_table *t);
/* Put a filled-in block (tuples, proto, flags, state) in the hashes, with
 * NSF_MAPPED on the ring of its inside endpoint's mapping (which it starts
 * if there is none), and on the wheel. */
void nat_sess_insert(struct nat_table *t, struct nat_session *s, uint64_t now);
/* Give back a block from nat_sess_alloc that was not inserted. */
void nat_sess_unalloc(struct nat_table *t, struct nat_session *s);
/* Per-host counts (max_per_host). */
uint32_t nat_host_count(const struct nat_table *t, uint32_t addr);
/* nat_sess_touch's part for packets that may change the timeout. */
void nat_sess_track(struct nat_table *t, struct nat_session *s, unsigned dir, uint8_t tcp_flags,
                    uint64_t now);

/* Account a packet on `s` in direction `dir`: counters, last seen, TCP
 * state and UDP stream detection, timer (only when the timeout shrinks).
 * Inline for the common packet, which changes nothing but the counters. */
static inline void
nat_sess_touch(struct nat_table *t, struct nat_session *s, unsigned dir, uint32_t bytes,
               uint8_t tcp_flags, uint64_t now)
{
	s->packets[dir]++;
	s->bytes[dir] += bytes;
	s->last_seen = (uint32_t)now;
	/* Only TCP's flags and a first reply change the state. */
	if (s->proto == NAT_IPPROTO_TCP || (dir == NAT_DIR_REPLY && !(s->flags & NSF_REPLIED)))
		nat_sess_track(t, s, dir, tcp_flags, now);
}
/* The initial TCP state of a session opened by a packet with `flags`, or
 * -1 when such a packet may not open one (Linux conntrack's "invalid"). */
int nat_tcp_new_state(uint8_t flags);

#endif
