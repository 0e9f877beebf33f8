/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * NAT session tables: the session pool, the tuple and mapping hashes, the
 * per-host counts, connection tracking and expiry on the timer wheel.
 *
 * Expiry is lazy, as the brief of a per-packet fast path wants: a packet
 * only stores its arrival time in `last_seen`.  The timer is armed at
 * creation for the state's timeout; when it fires, the session expires only
 * if it has really been idle that long, otherwise the timer is re-armed for
 * last_seen + timeout.  The one exception is a state change that shortens
 * the timeout (ESTABLISHED -> CLOSE on a RST): the timer is then moved
 * earlier at once, so that closed sessions go within their (short) timeout.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "nat/nat_priv.h"

_Static_assert(sizeof(struct nat_session) <= 128, "a NAT session must fit in two cache lines");
_Static_assert(offsetof(struct nat_session, timer) == 64,
               "a packet touches the first cache line of its session only");

const char *const nat_counter_names[NAT_MIB_MAX] = {
#define X(n) #n,
	NAT_COUNTERS(X)
#undef X
};

#define SEC 1000u

void
nat_cfg_default(struct nat_cfg *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->max_sessions = 65536;
	cfg->max_per_host = 0;
	/* Linux's nf_conntrack_tcp_timeout_* where RFC 5382 allows them;
	 * REQ-5 wants at least 2 h 4 min for ESTABLISHED and at least 4 min
	 * (2 MSL) for the transitory states. */
	cfg->tcp_timeout_ms[NAT_TCP_NONE] = 10 * SEC;
	cfg->tcp_timeout_ms[NAT_TCP_SYN_SENT] = 240 * SEC; /* RFC 5382 REQ-5: transitory, 4 min */
	cfg->tcp_timeout_ms[NAT_TCP_SYN_RECV] = 240 * SEC;
	cfg->tcp_timeout_ms[NAT_TCP_ESTABLISHED] = 7440 * SEC;
	cfg->tcp_timeout_ms[NAT_TCP_FIN_WAIT] = 240 * SEC;
	cfg->tcp_timeout_ms[NAT_TCP_CLOSE_WAIT] = 240 * SEC;
	cfg->tcp_timeout_ms[NAT_TCP_LAST_ACK] = 240 * SEC;
	cfg->tcp_timeout_ms[NAT_TCP_TIME_WAIT] = 120 * SEC;
	cfg->tcp_timeout_ms[NAT_TCP_CLOSE] = 10 * SEC;
	cfg->udp_timeout_ms = 300 * SEC; /* RFC 4787 REQ-5: >= 2 min, 5 min recommended */
	cfg->udp_stream_timeout_ms = 300 * SEC;
	cfg->icmp_timeout_ms = 60 * SEC; /* RFC 5508 REQ-1 */
}

void
nat_rules_init(struct nat_rules *r)
{
	memset(r, 0, sizeof(*r));
	r->filtering = NAT_FILTER_APDF;
	r->hairpin = true;
}

size_t
nat_session_size(void)
{
	return sizeof(struct nat_session);
}

/* ---- Hashing ---- */

/* A 32-bit mix of three words (the murmur3 finalizer on a multiply chain):
 * fast and good enough for chains; the per-table seed keeps two tables
 * (and two boots) from sharing collisions. */
uint32_t
nat_hash32(uint32_t seed, uint32_t a, uint32_t b, uint32_t c)
{
	uint64_t h = ((uint64_t)a << 32 | b) ^ ((uint64_t)seed << 32 | c);

	h *= UINT64_C(0x9e3779b97f4a7c15);
	h ^= h >> 29;
	h += (uint64_t)c * UINT64_C(0xbf58476d1ce4e5b9) + seed;
	h ^= h >> 32;
	h *= UINT64_C(0x94d049bb133111eb);
	h ^= h >> 31;
	return (uint32_t)h;
}

/* Both tuples of a session hash the same way, on the full 5-tuple, so a
 * packet finds its session in one bucket whichever way it goes. */
static inline uint32_t
hash_tuple(const struct nat_table *t, uint8_t proto, const struct nat_ep4 *e)
{
	return nat_hash32(t->seed ^ proto, e->src, e->dst, (uint32_t)e->sport << 16 | e->dport);
}

static inline uint32_t
hash_map(const struct nat_table *t, uint8_t proto, unsigned side, uint32_t addr, uint16_t port)
{
	return nat_hash32(t->seed ^ 0x4d000000u ^ ((uint32_t)side << 16) ^ proto, addr, port, side);
}

static uint32_t
hash_entry_bucket(const struct nat_table *t, const struct nat_session *s, unsigned dir)
{
	return hash_tuple(t, s->proto, &s->t[dir]) & t->hmask;
}

static void
hash_link(struct nat_table *t, struct nat_session *s, unsigned dir)
{
	uint32_t b = hash_entry_bucket(t, s, dir);

	s->hnext[dir] = t->hbucket[b];
	t->hbucket[b] = nat_idx(t, s) << 1 | dir;
}

static void
hash_unlink(struct nat_table *t, struct nat_session *s, unsigned dir)
{
	uint32_t want = nat_idx(t, s) << 1 | dir;
	uint32_t *pp = &t->hbucket[hash_entry_bucket(t, s, dir)];

	while (*pp != NAT_NIL) {
		if (*pp == want) {
			*pp = s->hnext[dir];
			return;
		}
		pp = &t->s[*pp >> 1].hnext[*pp & 1];
	}
}

static inline bool
ep_eq(const struct nat_ep4 *a, const struct nat_ep4 *b)
{
	return a->src == b->src && a->dst == b->dst && a->sport == b->sport && a->dport == b->dport;
}

void
nat_sess_prefetch(const struct nat_table *t, uint8_t proto, const struct nat_ep4 *e, unsigned stage,
                  uint32_t *h)
{
	uint32_t x;

	if (stage == 0) {
		*h = hash_tuple(t, proto, e);
		__builtin_prefetch(&t->hbucket[*h & t->hmask]);
		return;
	}
	if ((x = t->hbucket[*h & t->hmask]) != NAT_NIL)
		__builtin_prefetch(&t->s[x >> 1]);
}

struct nat_session *
nat_sess_lookup(struct nat_table *t, uint8_t proto, const struct nat_ep4 *e, unsigned *dir)
{
	return nat_sess_lookup_hashed(t, proto, e, dir, hash_tuple(t, proto, e));
}

struct nat_session *
nat_sess_lookup_hashed(struct nat_table *t, uint8_t proto, const struct nat_ep4 *e, unsigned *dir,
                       uint32_t h)
{
	uint32_t x;

	for (x = t->hbucket[h & t->hmask]; x != NAT_NIL;) {
		struct nat_session *s = &t->s[x >> 1];

		if (s->proto == proto && ep_eq(&s->t[x & 1], e)) {
			*dir = x & 1;
			return s;
		}
		x = s->hnext[x & 1];
	}
	return NULL;
}

bool
nat_map_sent_to(const struct nat_table *t, const struct nat_session *h, uint32_t addr,
                uint16_t port, bool with_port)
{
	const struct nat_session *s = h;

	do {
		/* Opened from inside: sent to its orig destination, the outside
		 * address (a hairpinned session's reply comes from an inside
		 * one). */
		if (!(s->flags & NSF_MAP_IN) && s->t[NAT_DIR_ORIG].dst == addr &&
		    (!with_port || s->t[NAT_DIR_ORIG].dport == port))
			return true;
		s = &t->s[s->ring_next];
	} while (s != h);
	return false;
}

/* ---- Mapping hash (holders only) ---- */

static uint32_t
map_bucket(const struct nat_table *t, const struct nat_session *s, unsigned side)
{
	uint32_t addr;
	uint16_t port;

	if (side == 0)
		nat_map_inside(s, &addr, &port);
	else
		nat_map_outside(s, &addr, &port);
	return hash_map(t, s->proto, side, addr, port) & t->mmask;
}

static void
map_link(struct nat_table *t, struct nat_session *s)
{
	unsigned side;

	for (side = 0; side < 2; side++) {
		uint32_t b = map_bucket(t, s, side);

		s->mnext[side] = t->mbucket[b];
		t->mbucket[b] = nat_idx(t, s) << 1 | side;
	}
	s->flags |= NSF_HOLDER;
}

static void
map_unlink(struct nat_table *t, struct nat_session *s)
{
	unsigned side;

	for (side = 0; side < 2; side++) {
		uint32_t want = nat_idx(t, s) << 1 | side;
		uint32_t *pp = &t->mbucket[map_bucket(t, s, side)];

		while (*pp != NAT_NIL) {
			if (*pp == want) {
				*pp = s->mnext[side];
				break;
			}
			pp = &t->s[*pp >> 1].mnext[*pp & 1];
		}
	}
	s->flags &= (uint16_t)~NSF_HOLDER;
}

static struct nat_session *
map_find(struct nat_table *t, uint8_t proto, unsigned side, uint32_t addr, uint16_t port)
{
	uint32_t x;

	for (x = t->mbucket[hash_map(t, proto, side, addr, port) & t->mmask]; x != NAT_NIL;) {
		struct nat_session *s = &t->s[x >> 1];

		if ((x & 1) == side && s->proto == proto) {
			uint32_t a;
			uint16_t p;

			if (side == 0)
				nat_map_inside(s, &a, &p);
			else
				nat_map_outside(s, &a, &p);
			if (a == addr && p == port)
				return s;
		}
		x = s->mnext[x & 1];
	}
	return NULL;
}

struct nat_session *
nat_map_by_inside(struct nat_table *t, uint8_t proto, uint32_t addr, uint16_t port)
{
	return map_find(t, proto, 0, addr, port);
}

struct nat_session *
nat_map_by_outside(struct nat_table *t, uint8_t proto, uint32_t addr, uint16_t port)
{
	return map_find(t, proto, 1, addr, port);
}

/* ---- Per-host counts: linear probing, backward-shift deletion ---- */

static uint32_t
host_slot(const struct nat_table *t, uint32_t addr)
{
	uint32_t i = nat_hash32(t->seed, addr, 0x68, 0) & t->host_mask;

	while (t->host[i].addr != 0 && t->host[i].addr != addr)
		i = (i + 1) & t->host_mask;
	return i;
}

uint32_t
nat_host_count(const struct nat_table *t, uint32_t addr)
{
	const struct nat_host *h = &t->host[host_slot(t, addr)];

	return h->addr == addr ? h->n : 0;
}

static void
host_inc(struct nat_table *t, uint32_t addr)
{
	struct nat_host *h = &t->host[host_slot(t, addr)];

	/* The map has more slots than the pool has sessions: never full. */
	h->addr = addr;
	h->n++;
}

static void
host_dec(struct nat_table *t, uint32_t addr)
{
	uint32_t i = host_slot(t, addr), j;

	if (t->host[i].addr != addr || --t->host[i].n != 0)
		return;
	/* Knuth 6.4 algorithm R: pull later entries of the cluster back over
	 * the hole unless their home slot lies cyclically in (i, j]. */
	for (j = i;;) {
		uint32_t home;

		t->host[i].addr = 0;
		t->host[i].n = 0;
		for (;;) {
			j = (j + 1) & t->host_mask;
			if (t->host[j].addr == 0)
				return;
			home = nat_hash32(t->seed, t->host[j].addr, 0x68, 0) & t->host_mask;
			if (i <= j ? (i < home && home <= j) : (i < home || home <= j))
				continue;
			break;
		}
		t->host[i] = t->host[j];
		i = j;
	}
}

/* ---- Timeouts, reclaim list, tracking ---- */

static uint32_t
sess_timeout(const struct nat_table *t, const struct nat_session *s)
{
	switch (s->proto) {
	case NAT_IPPROTO_TCP: {
		uint32_t to = t->cfg.tcp_timeout_ms[s->tcp_state];

		/* Picked up mid-stream and never answered: Linux's "unacknowledged"
		 * cap, so stray ACKs do not hold sessions for two hours. */
		if (s->tcp_state == NAT_TCP_ESTABLISHED && !(s->flags & NSF_REPLIED) &&
		    t->cfg.tcp_timeout_ms[NAT_TCP_SYN_RECV] < to)
			to = t->cfg.tcp_timeout_ms[NAT_TCP_SYN_RECV];
		return to;
	}
	case NAT_IPPROTO_UDP:
		return (s->flags & NSF_REPLIED) ? t->cfg.udp_stream_timeout_ms
		                                : t->cfg.udp_timeout_ms;
	default:
		return t->cfg.icmp_timeout_ms;
	}
}

/* The absolute time of the last packet, from its low 32 bits. */
static inline uint64_t
last_seen_abs(const struct nat_session *s, uint64_t now)
{
	return now - (uint32_t)((uint32_t)now - s->last_seen);
}

static inline uint64_t
sess_deadline(const struct nat_table *t, const struct nat_session *s, uint64_t now)
{
	return last_seen_abs(s, now) + sess_timeout(t, s);
}

static inline bool
reclaimable(const struct nat_session *s)
{
	return s->proto == NAT_IPPROTO_TCP &&
	       !(s->tcp_state == NAT_TCP_ESTABLISHED && (s->flags & NSF_REPLIED));
}

static void
rc_unlink(struct nat_table *t, struct nat_session *s)
{
	if (s->rc_prev != NAT_NIL)
		t->s[s->rc_prev].rc_next = s->rc_next;
	else
		t->rc_head = s->rc_next;
	if (s->rc_next != NAT_NIL)
		t->s[s->rc_next].rc_prev = s->rc_prev;
	else
		t->rc_tail = s->rc_prev;
	s->flags &= (uint16_t)~NSF_RECLAIM;
}

/* Keep the reclaim list to the sessions that may be sacrificed, in the
 * order they became so (approximately the oldest first). */
static void
rc_update(struct nat_table *t, struct nat_session *s)
{
	bool want = reclaimable(s);

	if (want == !!(s->flags & NSF_RECLAIM))
		return;
	if (!want) {
		rc_unlink(t, s);
		return;
	}
	s->rc_next = NAT_NIL;
	s->rc_prev = t->rc_tail;
	if (t->rc_tail != NAT_NIL)
		t->s[t->rc_tail].rc_next = nat_idx(t, s);
	else
		t->rc_head = nat_idx(t, s);
	t->rc_tail = nat_idx(t, s);
	s->flags |= NSF_RECLAIM;
}

int
nat_tcp_new_state(uint8_t f)
{
	/* Linux's tcp_conntracks[][sNO]: a SYN opens; a plain ACK is picked up
	 * as ESTABLISHED (nf_conntrack_tcp_loose); SYN-ACK, FIN and RST alone
	 * are invalid. */
	if (f & NAT_TCP_RST)
		return -1;
	if ((f & (NAT_TCP_SYN | NAT_TCP_ACK)) == NAT_TCP_SYN)
		return NAT_TCP_SYN_SENT;
	if ((f & (NAT_TCP_SYN | NAT_TCP_FIN)) == 0 && (f & NAT_TCP_ACK))
		return NAT_TCP_ESTABLISHED;
	return -1;
}

/* The side that opened the connection now tracked.  Read only in the
 * handshake's states: most packets (ACKs of ESTABLISHED) never ask. */
static inline unsigned
tcp_opener(const struct nat_session *s)
{
	return (s->flags & NSF_OPEN_REPL) ? NAT_DIR_REPLY : NAT_DIR_ORIG;
}

/* A new connection on the session's tuple, opened from `dir` and now in
 * `state`: what the old one left is forgotten. */
static void
tcp_reopen(struct nat_session *s, unsigned dir, uint8_t state)
{
	s->tcp_state = state;
	s->flags &= (uint16_t) ~(NSF_FIN_ORIG | NSF_FIN_REPL | NSF_LASTFIN | NSF_OPEN_REPL |
	                         NSF_SYNIGN | NSF_SYNIGN_REPL);
	if (dir == NAT_DIR_REPLY)
		s->flags |= NSF_OPEN_REPL;
}

/* Linux conntrack's state machine (nf_conntrack_proto_tcp.c), reduced to
 * the flags (no window or sequence tracking).  Returns whether the state
 * changed. */
static bool
tcp_track(struct nat_session *s, unsigned dir, uint8_t f)
{
	uint8_t old = s->tcp_state;
	uint16_t fin_me = dir == NAT_DIR_ORIG ? NSF_FIN_ORIG : NSF_FIN_REPL;
	uint16_t fin_peer = dir == NAT_DIR_ORIG ? NSF_FIN_REPL : NSF_FIN_ORIG;

	if (f & NAT_TCP_RST) {
		s->tcp_state = NAT_TCP_CLOSE;
	} else if ((f & (NAT_TCP_SYN | NAT_TCP_ACK)) == NAT_TCP_SYN) {
		if (old == NAT_TCP_TIME_WAIT || old == NAT_TCP_CLOSE) {
			/* A new connection on the same tuple, from either side
			 * (RFC 9293 3.6.1 lets a SYN reopen TIME-WAIT): Linux
			 * kills the old entry and tracks the SYN as a new one. */
			tcp_reopen(s, dir, NAT_TCP_SYN_SENT);
		} else if (old == NAT_TCP_SYN_SENT && dir != tcp_opener(s)) {
			/* A simultaneous open. */
			s->tcp_state = NAT_TCP_SYN_RECV;
		} else if (old >= NAT_TCP_ESTABLISHED) {
			/* Linux ignores it, and remembers it for the answer. */
			s->flags &= (uint16_t)~NSF_SYNIGN_REPL;
			s->flags |= NSF_SYNIGN | (dir == NAT_DIR_REPLY ? NSF_SYNIGN_REPL : 0);
		}
	} else if (f & NAT_TCP_SYN) {
		if (old == NAT_TCP_SYN_SENT && dir != tcp_opener(s)) {
			s->tcp_state = NAT_TCP_SYN_RECV;
		} else if ((s->flags & NSF_SYNIGN) &&
		           !!(s->flags & NSF_SYNIGN_REPL) != (dir == NAT_DIR_REPLY)) {
			/* A SYN-ACK answering the SYN ignored: both ends have
			 * started a new connection (Linux's resync out of its
			 * "ignore" state, without its sequence check). */
			tcp_reopen(s, dir ^ 1, NAT_TCP_SYN_RECV);
		}
	} else if (f & NAT_TCP_FIN) {
		s->flags |= fin_me;
		if (old == NAT_TCP_SYN_RECV || old == NAT_TCP_ESTABLISHED) {
			s->tcp_state = NAT_TCP_FIN_WAIT;
		} else if ((old == NAT_TCP_FIN_WAIT || old == NAT_TCP_CLOSE_WAIT) &&
		           (s->flags & fin_peer)) {
			s->tcp_state = NAT_TCP_LAST_ACK;
			if (dir == NAT_DIR_REPLY)
				s->flags |= NSF_LASTFIN;
			else
				s->flags &= (uint16_t)~NSF_LASTFIN;
		}
	} else if (f & NAT_TCP_ACK) {
		/* Only the opener's ACK completes the handshake (Linux). */
		if (old == NAT_TCP_SYN_RECV && dir == tcp_opener(s))
			s->tcp_state = NAT_TCP_ESTABLISHED;
		else if (old == NAT_TCP_FIN_WAIT && (s->flags & fin_peer) && !(s->flags & fin_me))
			s->tcp_state = NAT_TCP_CLOSE_WAIT; /* the peer's FIN is acknowledged */
		else if (old == NAT_TCP_LAST_ACK &&
		         (dir == NAT_DIR_REPLY) != !!(s->flags & NSF_LASTFIN))
			s->tcp_state = NAT_TCP_TIME_WAIT; /* the last FIN is acknowledged */
	}
	return s->tcp_state != old;
}

void
nat_sess_track(struct nat_table *t, struct nat_session *s, unsigned dir, uint8_t tcp_flags,
               uint64_t now)
{
	bool changed = false;

	if (dir == NAT_DIR_REPLY && !(s->flags & NSF_REPLIED)) {
		s->flags |= NSF_REPLIED;
		changed = true;
		/* The target of a refused hairpin answered: the sender's
		 * packets may pass now (RFC 4787 REQ-9, nat_translate.c). */
		if (s->flags & NSF_HP_WAIT) {
			s->flags &= (uint16_t)~NSF_HP_WAIT;
			hash_link(t, s, NAT_DIR_ORIG);
		}
	}
	if (s->proto == NAT_IPPROTO_TCP)
		changed |= tcp_track(s, dir, tcp_flags);
	if (changed) {
		uint64_t deadline = now + sess_timeout(t, s);

		rc_update(t, s);
		if (deadline < s->timer.expires)
			tern_timer_start(t->wheel, &s->timer, deadline);
	}
}

/* ---- Pool ---- */

static void
sess_free(struct nat_table *t, struct nat_session *s)
{
	uint32_t idx = nat_idx(t, s);

	tern_timer_stop(t->wheel, &s->timer);
	if (!(s->flags & NSF_HP_WAIT))
		hash_unlink(t, s, NAT_DIR_ORIG);
	hash_unlink(t, s, NAT_DIR_REPLY);
	if (s->flags & NSF_RECLAIM)
		rc_unlink(t, s);
	if (s->flags & NSF_MAPPED) {
		if (s->ring_next == idx) {
			if (s->flags & NSF_HOLDER)
				map_unlink(t, s);
		} else {
			struct nat_session *n = &t->s[s->ring_next];

			t->s[s->ring_prev].ring_next = s->ring_next;
			n->ring_prev = s->ring_prev;
			/* The mapping lives on in the next session of the ring. */
			if (s->flags & NSF_HOLDER) {
				map_unlink(t, s);
				map_link(t, n);
			}
		}
	}
	if (s->flags & NSF_HOSTCNT)
		host_dec(t, s->t[NAT_DIR_ORIG].src);
	s->flags = 0;
	s->hnext[0] = t->free_head;
	t->free_head = idx;
	t->nb--;
}

static void
sess_timer_cb(struct tern_timer *tm, void *arg)
{
	struct nat_table *t = arg;
	struct nat_session *s =
	    (struct nat_session *)(void *)((char *)tm - offsetof(struct nat_session, timer));
	/* The wheel runs a tick's callbacks at that tick's time, which can be
	 * behind the packets of this loop (the worker stamps them first):
	 * last_seen must never be ahead of `now`, or its age wraps. */
	uint64_t now = t->wheel->now > t->now ? t->wheel->now : t->now;
	uint64_t deadline = sess_deadline(t, s, now);

	t->now = now;
	if (deadline > now) {
		tern_timer_start(t->wheel, tm, deadline);
		return;
	}
	t->ctr[NAT_MIB_SessionsExpired]++;
	sess_free(t, s);
}

struct nat_session *
nat_sess_alloc(struct nat_table *t)
{
	struct nat_session *s;
	uint32_t idx;

	/* RFC 6888 REQ-8 wants a full table handled gracefully: transitory TCP
	 * sessions (handshakes, closing, stray ACKs) are worth less than live
	 * ones, so they go first. */
	while (t->nb >= t->cfg.max_sessions || t->free_head == NAT_NIL) {
		if (t->rc_head == NAT_NIL) {
			t->ctr[NAT_MIB_TableFull]++;
			return NULL;
		}
		sess_free(t, &t->s[t->rc_head]);
		t->ctr[NAT_MIB_SessionsReclaimed]++;
	}
	idx = t->free_head;
	s = &t->s[idx];
	t->free_head = s->hnext[0];
	t->nb++;
	s->bytes[0] = s->bytes[1] = 0;
	s->packets[0] = s->packets[1] = 0;
	s->hnext[0] = s->hnext[1] = NAT_NIL;
	s->mnext[0] = s->mnext[1] = NAT_NIL;
	s->ring_prev = s->ring_next = idx;
	s->rc_prev = s->rc_next = NAT_NIL;
	s->tcp_state = NAT_TCP_NONE;
	s->flags = NSF_USED;
	return s;
}

void
nat_sess_unalloc(struct nat_table *t, struct nat_session *s)
{
	s->flags = 0;
	s->hnext[0] = t->free_head;
	t->free_head = nat_idx(t, s);
	t->nb--;
}

void
nat_sess_insert(struct nat_table *t, struct nat_session *s, uint64_t now)
{
	uint32_t idx = nat_idx(t, s);

	if (!(s->flags & NSF_HP_WAIT))
		hash_link(t, s, NAT_DIR_ORIG);
	hash_link(t, s, NAT_DIR_REPLY);
	if (s->flags & NSF_MAPPED) {
		uint32_t addr;
		uint16_t port;
		struct nat_session *h;

		nat_map_inside(s, &addr, &port);
		h = nat_map_by_inside(t, s->proto, addr, port);
		if (h == NULL) {
			map_link(t, s);
		} else {
			s->ring_next = nat_idx(t, h);
			s->ring_prev = h->ring_prev;
			t->s[h->ring_prev].ring_next = idx;
			h->ring_prev = idx;
		}
	}
	if (s->flags & NSF_HOSTCNT)
		host_inc(t, s->t[NAT_DIR_ORIG].src);
	s->last_seen = (uint32_t)now;
	rc_update(t, s);
	tern_timer_init(&s->timer, sess_timer_cb, t);
	tern_timer_start(t->wheel, &s->timer, now + sess_timeout(t, s));
	t->ctr[NAT_MIB_SessionsCreated]++;
}

/* ---- Tables ---- */

static uint32_t
pow2_at_least(uint64_t n)
{
	uint32_t p = 1;

	while (p < n && p < (UINT32_C(1) << 31))
		p <<= 1;
	return p;
}

/*
 * The session array and the hashes are read at random by every packet: on
 * 4 KiB pages a big table misses the TLB as well as the cache, and a
 * prefetch cannot hide both (it waits for the page walk).  Arrays of 256
 * KiB or more are rounded up to 2 MiB and ask for transparent huge pages
 * (the usual "madvise" mode); without them this is plain malloc.
 */
#define NAT_HUGE      (2u << 20)
#define NAT_HUGE_FROM (256u << 10)

static void *
big_alloc(size_t size)
{
	void *p;

	if (size < NAT_HUGE_FROM)
		return aligned_alloc(64, (size + 63) & ~(size_t)63);
	size = (size + NAT_HUGE - 1) & ~(size_t)(NAT_HUGE - 1);
	p = aligned_alloc(NAT_HUGE, size);
	if (p != NULL)
		(void)madvise(p, size, MADV_HUGEPAGE); /* a hint: fine if refused */
	return p;
}

struct nat_table *
nat_table_create(const struct nat_cfg *cfg, struct tern_wheel *wheel, unsigned owner,
                 unsigned nb_owners)
{
	struct nat_table *t;
	uint32_t i, nh, nm, nhost;

	/* Entries are index << 1 | bit, and NAT_NIL must stay free. */
	if (cfg->max_sessions == 0 || cfg->max_sessions >= (UINT32_C(1) << 30) || wheel == NULL ||
	    (nb_owners > 1 && owner >= nb_owners)) {
		errno = EINVAL;
		return NULL;
	}
	t = calloc(1, sizeof(*t));
	if (t == NULL)
		return NULL;
	t->cfg = *cfg;
	t->wheel = wheel;
	t->owner = nb_owners <= 1 ? 0 : owner;
	t->nb_owners = nb_owners <= 1 ? 1 : nb_owners;
	t->cap = cfg->max_sessions;
	/* Two tuple entries per session, four buckets: a full table loads
	 * them to a quarter at most.  A hit then steps over another session
	 * first in 1 lookup in 8 (load / 2), and that step is a cache miss
	 * no prefetch covers.  At half load (two buckets per session) it
	 * was 1 in 4, and 64k sessions translated 10% slower. */
	nh = pow2_at_least((uint64_t)t->cap * 4);
	/* Mappings are at most one per session, usually far fewer. */
	nm = pow2_at_least(t->cap);
	/* Counted hosts are at most one per session; load <= 0.8. */
	nhost = pow2_at_least((uint64_t)t->cap + t->cap / 4 + 1);
	t->hmask = nh - 1;
	t->mmask = nm - 1;
	t->host_mask = nhost - 1;
	t->s = big_alloc((size_t)t->cap * sizeof(struct nat_session));
	t->hbucket = big_alloc((size_t)nh * sizeof(uint32_t));
	t->mbucket = big_alloc((size_t)nm * sizeof(uint32_t));
	t->host = big_alloc((size_t)nhost * sizeof(struct nat_host));
	if (t->s == NULL || t->hbucket == NULL || t->mbucket == NULL || t->host == NULL) {
		nat_table_destroy(t);
		errno = ENOMEM;
		return NULL;
	}
	memset(t->hbucket, 0xff, (size_t)nh * sizeof(uint32_t));
	memset(t->mbucket, 0xff, (size_t)nm * sizeof(uint32_t));
	memset(t->host, 0, (size_t)nhost * sizeof(struct nat_host));
	memset(t->s, 0, (size_t)t->cap * sizeof(struct nat_session));
	for (i = 0; i < t->cap; i++)
		t->s[i].hnext[0] = i + 1 < t->cap ? i + 1 : NAT_NIL;
	t->free_head = 0;
	t->rc_head = t->rc_tail = NAT_NIL;
	t->seed =
	    nat_hash32((uint32_t)(uintptr_t)t, (uint32_t)((uintptr_t)t >> 16), owner, 0x6e6174u);
	t->rnd = t->seed | 1;
	t->now = wheel->now;
	return t;
}

/* The end of the chunk [from, from + budget) of a table's slots.  A budget
 * of 0 still visits one slot, so that a walk always moves on. */
static uint32_t
chunk_end(const struct nat_table *t, uint32_t from, uint32_t budget)
{
	if (budget == 0)
		budget = 1;
	return budget >= t->cap - from ? t->cap : from + budget;
}

uint32_t
nat_table_flush_some(struct nat_table *t, uint32_t from, uint32_t slots, uint32_t sessions)
{
	uint32_t i, end;

	if (from >= t->cap)
		return NAT_WALK_DONE;
	if (sessions == 0)
		sessions = 1; /* a flush always moves on */
	/* sess_free() takes a session out of everything at once (timer,
	 * both hashes, mapping ring, reclaim list, host count, free list): the
	 * table is whole between any two sessions, hence between two chunks. */
	for (i = from, end = chunk_end(t, from, slots); i < end; i++) {
		if (!(t->s[i].flags & NSF_USED))
			continue;
		if (sessions == 0)
			return i;
		sess_free(t, &t->s[i]);
		sessions--;
	}
	return end == t->cap ? NAT_WALK_DONE : end;
}

void
nat_table_flush(struct nat_table *t)
{
	(void)nat_table_flush_some(t, 0, UINT32_MAX, UINT32_MAX);
}

void
nat_table_destroy(struct nat_table *t)
{
	if (t == NULL)
		return;
	/* The wheel is the caller's: no timer of ours may stay on it. */
	if (t->s != NULL && t->hbucket != NULL && t->mbucket != NULL && t->host != NULL)
		nat_table_flush(t);
	free(t->s);
	free(t->hbucket);
	free(t->mbucket);
	free(t->host);
	free(t);
}

void
nat_table_set_cfg(struct nat_table *t, const struct nat_cfg *cfg)
{
	/* The pool keeps its size: max_sessions can only be lowered.  Sessions
	 * keep their timers: a longer timeout applies when they fire (they
	 * re-arm for it), a shorter one once nat_table_retime_some() has
	 * moved them. */
	t->cfg = *cfg;
	if (t->cfg.max_sessions > t->cap)
		t->cfg.max_sessions = t->cap;
}

bool
nat_cfg_shorter(const struct nat_cfg *old, const struct nat_cfg *new_)
{
	for (unsigned i = 0; i < NAT_TCP_NSTATES; i++)
		if (new_->tcp_timeout_ms[i] < old->tcp_timeout_ms[i])
			return true;
	return new_->udp_timeout_ms < old->udp_timeout_ms ||
	       new_->udp_stream_timeout_ms < old->udp_stream_timeout_ms ||
	       new_->icmp_timeout_ms < old->icmp_timeout_ms;
}

uint32_t
nat_table_retime_some(struct nat_table *t, uint32_t from, uint32_t slots)
{
	uint64_t now = t->now > t->wheel->now ? t->now : t->wheel->now;
	uint32_t i, end;

	if (from >= t->cap)
		return NAT_WALK_DONE;
	/* The timers stay as they were set, later than the new deadlines:
	 * pull those earlier (a deadline passed fires at the next tick). */
	for (i = from, end = chunk_end(t, from, slots); i < end; i++) {
		struct nat_session *s = &t->s[i];
		uint64_t deadline;

		if (!(s->flags & NSF_USED))
			continue;
		deadline = sess_deadline(t, s, now);
		if (deadline < s->timer.expires)
			tern_timer_start(t->wheel, &s->timer, deadline);
	}
	return end == t->cap ? NAT_WALK_DONE : end;
}

const uint64_t *
nat_table_counters(const struct nat_table *t)
{
	return t->ctr;
}

uint32_t
nat_table_nb_sessions(const struct nat_table *t)
{
	return t->nb;
}

size_t
nat_table_mem(const struct nat_table *t)
{
	return sizeof(*t) + (size_t)t->cap * sizeof(struct nat_session) +
	       ((size_t)t->hmask + 1 + t->mmask + 1) * sizeof(uint32_t) +
	       ((size_t)t->host_mask + 1) * sizeof(struct nat_host);
}

static void
ep_to_tuple(const struct nat_ep4 *e, uint8_t proto, struct nat_tuple *o)
{
	o->src = e->src;
	o->dst = e->dst;
	o->sport = e->sport;
	o->dport = e->dport;
	o->proto = proto;
}

uint32_t
nat_table_walk(struct nat_table *t, uint32_t from, uint32_t budget,
               void (*fn)(void *arg, const struct nat_session_info *i), void *arg)
{
	uint64_t now = t->now > t->wheel->now ? t->now : t->wheel->now;
	uint32_t i, end;

	if (from >= t->cap)
		return NAT_WALK_DONE;
	/* By slot, not by a list: a session keeps its slot for life, so a walk
	 * resumed at a slot index never meets a session twice, whatever came
	 * and went between its chunks (a list would move under the cursor). */
	for (i = from, end = chunk_end(t, from, budget); i < end; i++) {
		const struct nat_session *s = &t->s[i];
		struct nat_session_info info;
		uint64_t deadline;

		if (!(s->flags & NSF_USED))
			continue;
		memset(&info, 0, sizeof(info));
		ep_to_tuple(&s->t[0], s->proto, &info.orig);
		ep_to_tuple(&s->t[1], s->proto, &info.reply);
		info.tcp_state = s->tcp_state;
		deadline = sess_deadline(t, s, now);
		info.expires_in_ms = deadline > now ? deadline - now : 0;
		info.packets[0] = s->packets[0];
		info.packets[1] = s->packets[1];
		info.bytes[0] = s->bytes[0];
		info.bytes[1] = s->bytes[1];
		fn(arg, &info);
	}
	return end == t->cap ? NAT_WALK_DONE : end;
}
