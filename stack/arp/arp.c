/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ARP and the neighbour table, control side (RFC 826; RFC 5227 for probes
 * and announcements).  See neigh.h for how workers read the table.
 *
 * States and timers follow Linux's neighbour code: an entry is INCOMPLETE
 * while broadcast requests go out (mcast-probes of them, retrans-ms apart),
 * REACHABLE for a random 0.5x..1.5x of reachable-ms after a reply, then
 * STALE.  A STALE entry that is used goes to DELAY, and after delay-ms
 * without confirmation to PROBE (ucast-probes unicast requests); unanswered,
 * it is FAILED and its waiting packets get ICMP host unreachable.  STALE and
 * FAILED entries unused for gc-stale-ms are removed.  PERMANENT entries
 * (neigh add) never change.
 *
 * The table holds max-entries live entries (Linux's gc_thresh3).  A new
 * entry beyond that first evicts an old one (neigh_forced_gc, after Linux's
 * neigh_forced_gc): FAILED, then INCOMPLETE, then STALE unused for 5 s,
 * oldest first; only when none is left is it refused.  Each of those three
 * states keeps its entries on a list in the order they entered it, so an
 * eviction takes a list head instead of walking the table.
 *
 * All timers run on the control thread's timer wheel; packets waiting for
 * an answer sit on their entry's hold queue (hold, default 3; the oldest is
 * dropped and counted when it overflows).
 *
 * A port whose link goes down loses its entries but the PERMANENT ones
 * (Linux's neigh_carrier_down), their held packets with them.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <sys/queue.h>

#include <rte_arp.h>
#include <rte_hash.h>
#include <rte_hash_crc.h>
#include <rte_malloc.h>
#include <rte_random.h>

#include "arp/neigh.h"
#include "core/ctl.h"
#include "core/drop.h"
#include "core/init.h"
#include "core/log.h"
#include "core/mbuf.h"
#include "core/punt.h"
#include "ip/fib.h"
#include "ip/ip.h"
#include "ip/ip_priv.h"
#include "mgmt/cli.h"

#define ARP_MAX_HOLD    64
#define ARP_MAX_ENTRIES 65536 /* the most max-entries may be */
#define ARP_SCAN_MS     1000
/* Linux's forced GC spares an entry updated in the last 5 s. */
#define ARP_GC_FRESH_MS 5000

/*
 * Key slots beyond ARP_MAX_ENTRIES.  A deleted key's slot goes back to the
 * hash's free ring only once every worker has passed a quiescent state
 * (RTE_HASH_QSBR_MODE_DQ).  DPDK 22.11's rte_hash_add_key_data, finding the
 * free ring empty, reclaims from the defer queue without waiting, and only
 * slots whose grace period is over (up to max_reclaim_size at a time);
 * if none is, it fails with -ENOSPC.  Live entries never exceed
 * ARP_MAX_ENTRIES, so an add fails only with more than ARP_HASH_SPARE
 * deletions still in their grace period, which lasts one worker loop
 * (microseconds); should it happen, neigh_create waits for a grace period
 * and tries once more.
 * The spare also halves the cuckoo buckets' load: rte_hash makes
 * align32pow2(entries) / 8 buckets of 8, so 69632 entries get 16384 buckets
 * (131072 places for 65536 keys), where 65536 entries got 8192 and could
 * fail to place a key before the table was full.
 */
#define ARP_HASH_SPARE 4096

struct neigh {
	struct tern_neigh pub; /* first: what workers see */
	struct tern_timer timer;
	TAILQ_ENTRY(neigh) link;    /* neighs: creation order */
	TAILQ_ENTRY(neigh) gc_link; /* its state's eviction list, if it has one */
	uint64_t updated_ms;        /* entered its state, or last confirmed */
	uint8_t probes;
	uint16_t hold_head, hold_len;
	struct rte_mbuf *hold[ARP_MAX_HOLD];
};

/* Settings: `arp set NAME VALUE`; Linux's defaults except hold (3 not 101). */
#define ARP_PARAMS(X)                                                                              \
	X(reachable_ms, "reachable-ms", 30000, 1000, 86400000)                                     \
	X(retrans_ms, "retrans-ms", 1000, 10, 60000)                                               \
	X(delay_ms, "delay-ms", 5000, 10, 60000)                                                   \
	X(ucast_probes, "ucast-probes", 3, 1, 32)                                                  \
	X(mcast_probes, "mcast-probes", 3, 1, 32)                                                  \
	X(hold, "hold", 3, 1, ARP_MAX_HOLD)                                                        \
	X(gc_stale_ms, "gc-stale-ms", 60000, 1000, 86400000)                                       \
	X(max_entries, "max-entries", ARP_MAX_ENTRIES, 16, ARP_MAX_ENTRIES)

static struct {
#define X(f, name, def, lo, hi) uint32_t f;
	ARP_PARAMS(X)
#undef X
} arp_cfg = {
#define X(f, name, def, lo, hi) .f = def,
	ARP_PARAMS(X)
#undef X
};

#define ARP_COUNTERS(X)                                                                            \
	X(received, "ARP packets handled")                                                         \
	X(requests_sent, "requests sent (resolution and probes)")                                  \
	X(replies_sent, "replies sent")                                                            \
	X(announcements_sent, "gratuitous ARP sent (address added, link up)")                      \
	X(resolved, "entries resolved")                                                            \
	X(failed, "resolutions that failed")                                                       \
	X(held, "packets held awaiting resolution")                                                \
	X(hold_dropped, "held packets dropped: hold queue full")                                   \
	X(unreachable_sent, "held packets returned as ICMP host unreachable")                      \
	X(conflicts, "address conflicts: another host claims our address")                         \
	X(table_full, "entries refused: table full")                                               \
	X(forced_gc, "entries evicted: table full")                                                \
	X(link_down_flushed, "entries flushed: their port's link went down")

/* Control thread only. */
static struct {
#define X(f, desc) uint64_t f;
	ARP_COUNTERS(X)
#undef X
} arp_stats;
TAILQ_HEAD(neigh_list, neigh);
static struct neigh_list neighs = TAILQ_HEAD_INITIALIZER(neighs);
/* Eviction candidates by state, each in the order its entries entered the
 * state (set_state appends), so the head is the one there longest. */
static struct neigh_list gc_failed = TAILQ_HEAD_INITIALIZER(gc_failed);
static struct neigh_list gc_incomplete = TAILQ_HEAD_INITIALIZER(gc_incomplete);
static struct neigh_list gc_stale = TAILQ_HEAD_INITIALIZER(gc_stale);
static uint32_t nb_neighs; /* live entries: rte_hash_count also counts
                            * deleted keys still in their grace period */
static struct rte_hash *table;
static struct tern_timer scan_timer;

static const char *const nud_names[] = {
#define X(id, name) name,
	TERN_NUD_STATES(X)
#undef X
};

static uint8_t
state_of(const struct neigh *n)
{
	return atomic_load_explicit(&n->pub.state, memory_order_relaxed);
}

static struct neigh_list *
gc_list_of(uint8_t state)
{
	switch (state) {
	case TERN_NUD_FAILED:
		return &gc_failed;
	case TERN_NUD_INCOMPLETE:
		return &gc_incomplete;
	case TERN_NUD_STALE:
		return &gc_stale;
	default:
		return NULL; /* never evicted: in use, confirmed or PERMANENT */
	}
}

static const struct tern_port *
port_of(uint16_t port)
{
	return tern_port_by_id(port);
}

/* Build and inject one ARP packet. */
static void
arp_send(uint16_t port, uint16_t op, rte_be32_t sip, rte_be32_t tip,
         const struct rte_ether_addr *tha, const struct rte_ether_addr *l2_dst)
{
	const struct tern_port *p = port_of(port);
	struct rte_mbuf *m;
	struct rte_arp_hdr *a;
	struct tern_mbuf_priv *priv;

	if (p == NULL || (m = rte_pktmbuf_alloc(tern_ctl_pool())) == NULL)
		return;
	a = (struct rte_arp_hdr *)rte_pktmbuf_append(m, sizeof(*a));
	a->arp_hardware = RTE_BE16(RTE_ARP_HRD_ETHER);
	a->arp_protocol = RTE_BE16(RTE_ETHER_TYPE_IPV4);
	a->arp_hlen = RTE_ETHER_ADDR_LEN;
	a->arp_plen = 4;
	a->arp_opcode = rte_cpu_to_be_16(op);
	a->arp_data.arp_sha = p->mac;
	a->arp_data.arp_sip = sip;
	memset(&a->arp_data.arp_tha, 0, sizeof(a->arp_data.arp_tha));
	if (tha != NULL)
		a->arp_data.arp_tha = *tha;
	a->arp_data.arp_tip = tip;
	priv = tern_mbuf_priv(m);
	priv->tx_port = port;
	priv->l2_dst = *l2_dst;
	priv->l2_type = RTE_BE16(RTE_ETHER_TYPE_ARP);
	m->port = port;
	tern_inject(m, TERN_INJECT_ETH_OUTPUT);
}

static void
arp_request(const struct neigh *n, bool unicast)
{
	static const struct rte_ether_addr bcast = { { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff } };
	struct rte_ether_addr mac;
	rte_be32_t src;

	if (tern_addr_source(n->pub.port, n->pub.ip, &src) < 0)
		return;
	tern_neigh_mac_unpack(atomic_load(&n->pub.mac), &mac);
	arp_send(n->pub.port, RTE_ARP_OP_REQUEST, src, n->pub.ip, NULL, unicast ? &mac : &bcast);
	arp_stats.requests_sent++;
}

/* RFC 5227 2.3 announcement: a request with our address as sender and target. */
static void
arp_announce(uint16_t port, rte_be32_t ip)
{
	static const struct rte_ether_addr bcast = { { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff } };

	arp_send(port, RTE_ARP_OP_REQUEST, ip, ip, NULL, &bcast);
	arp_stats.announcements_sent++;
}

static struct rte_mbuf *
hold_pop(struct neigh *n)
{
	struct rte_mbuf *m;

	if (n->hold_len == 0)
		return NULL;
	m = n->hold[n->hold_head];
	n->hold_head = (uint16_t)((n->hold_head + 1) % ARP_MAX_HOLD);
	n->hold_len--;
	return m;
}

static void
hold_push(struct neigh *n, struct rte_mbuf *m)
{
	if (n->hold_len >= arp_cfg.hold) {
		/* FreeBSD's la_hold: the oldest goes */
		tern_ctl_drop(hold_pop(n), TERN_CTL_DROP_NEIGH_HOLD_FULL);
		arp_stats.hold_dropped++;
	}
	n->hold[(n->hold_head + n->hold_len) % ARP_MAX_HOLD] = m;
	n->hold_len++;
	arp_stats.held++;
}

/* Resolved: send what waited, with the new MAC. */
static void
hold_release(struct neigh *n)
{
	struct rte_mbuf *m;
	struct rte_ether_addr mac;

	tern_neigh_mac_unpack(atomic_load(&n->pub.mac), &mac);
	while ((m = hold_pop(n)) != NULL) {
		struct tern_mbuf_priv *priv = tern_mbuf_priv(m);
		priv->l2_dst = mac;
		priv->l2_type = RTE_BE16(RTE_ETHER_TYPE_IPV4);
		tern_inject(m, TERN_INJECT_ETH_OUTPUT);
	}
}

/* Failed: each waiting packet goes back as ICMP host unreachable. */
static void
hold_fail(struct neigh *n)
{
	struct rte_mbuf *m;

	while ((m = hold_pop(n)) != NULL) {
		ip_mark_icmp_error(m, TERN_ICMP_DEST_UNREACH, TERN_ICMP_HOST_UNREACH, 0);
		if (tern_inject(m, TERN_INJECT_ICMP_ERROR) == 0)
			arp_stats.unreachable_sent++;
	}
}

static void
set_state(struct neigh *n, uint8_t state)
{
	struct neigh_list *from = gc_list_of(state_of(n)), *to = gc_list_of(state);
	uint64_t now = tern_now_ms();
	uint64_t t = 0;

	/* To the tail, even within one state: the lists stay in updated_ms
	 * order, which is what the forced GC's "oldest first" relies on. */
	if (from != NULL)
		TAILQ_REMOVE(from, n, gc_link);
	if (to != NULL)
		TAILQ_INSERT_TAIL(to, n, gc_link);
	atomic_store_explicit(&n->pub.state, state, memory_order_release);
	n->updated_ms = now;
	n->probes = 0;
	tern_timer_stop(&tern_ctl.wheel, &n->timer);
	switch (state) {
	case TERN_NUD_INCOMPLETE:
		arp_request(n, false);
		t = arp_cfg.retrans_ms;
		break;
	case TERN_NUD_REACHABLE:
		/* Linux's random reachable time: uniformly 0.5x to 1.5x. */
		t = arp_cfg.reachable_ms / 2 + rte_rand_max(arp_cfg.reachable_ms);
		hold_release(n);
		break;
	case TERN_NUD_STALE:
		hold_release(n);
		break;
	case TERN_NUD_DELAY:
		t = arp_cfg.delay_ms;
		break;
	case TERN_NUD_PROBE:
		arp_request(n, true);
		t = arp_cfg.retrans_ms;
		break;
	case TERN_NUD_FAILED:
		arp_stats.failed++;
		hold_fail(n);
		break;
	case TERN_NUD_PERMANENT:
		hold_release(n);
		break;
	}
	if (t != 0)
		tern_timer_start(&tern_ctl.wheel, &n->timer, now + t);
}

static void
neigh_timer(struct tern_timer *t, void *arg)
{
	struct neigh *n = arg;

	switch (state_of(n)) {
	case TERN_NUD_INCOMPLETE:
		if (++n->probes >= arp_cfg.mcast_probes) {
			set_state(n, TERN_NUD_FAILED);
			return;
		}
		arp_request(n, false);
		break;
	case TERN_NUD_REACHABLE:
		set_state(n, TERN_NUD_STALE);
		return;
	case TERN_NUD_DELAY:
		set_state(n, TERN_NUD_PROBE);
		return;
	case TERN_NUD_PROBE:
		if (++n->probes >= arp_cfg.ucast_probes) {
			set_state(n, TERN_NUD_FAILED);
			return;
		}
		arp_request(n, true);
		break;
	default:
		return;
	}
	tern_timer_start(&tern_ctl.wheel, t, tern_now_ms() + arp_cfg.retrans_ms);
}

static struct neigh *
neigh_find(uint16_t port, rte_be32_t ip)
{
	struct tern_neigh_key key = { .ip = ip, .port = port };
	void *data;

	if (table == NULL || rte_hash_lookup_data(table, &key, &data) < 0)
		return NULL;
	return data;
}

static void neigh_destroy(struct neigh *n, enum tern_ctl_drop why);

/* Pops the list's head if the forced GC may evict it; NULL if not. */
static struct neigh *
gc_candidate(struct neigh_list *l, uint64_t now)
{
	struct neigh *n;

	if (l != &gc_stale)
		return TAILQ_FIRST(l);
	while ((n = TAILQ_FIRST(l)) != NULL) {
		uint64_t used = atomic_load_explicit(&n->pub.used_ms, memory_order_relaxed);

		/* Used since it went STALE: the next scan would make it DELAY
		 * (arp_scan's rule); do it now, it leaves this list. */
		if (used != 0 && used >= n->updated_ms) {
			set_state(n, TERN_NUD_DELAY);
			continue;
		}
		/* Unused, so the list is in last-touched order: once the head
		 * is fresh, all are. */
		return now - n->updated_ms >= ARP_GC_FRESH_MS ? n : NULL;
	}
	return NULL;
}

/*
 * Forced garbage collection (Linux's neigh_forced_gc, run when the table
 * reaches gc_thresh3): evicts up to `want` entries nobody relies on and
 * returns how many it evicted.  The order:
 *   1. FAILED: nobody answered;
 *   2. INCOMPLETE, the longest-resolving first: during a scan these are the
 *      scan's own, so the scan churns through itself while known neighbours
 *      (STALE) keep their entries.  An INCOMPLETE entry is at most
 *      retrans-ms x mcast-probes old, so there is no minimum age: with one,
 *      a scan fast enough to fill the table within that time would lock out
 *      every new neighbour, which is what this is for.  Its held packets
 *      are dropped (neigh_evicted, not neigh_deleted: the operator did not
 *      ask for it, the table's size did), as Linux purges its arp_queue;
 *   3. STALE, unused and unconfirmed for 5 s (Linux's rule).
 * Never REACHABLE, DELAY or PROBE (confirmed or in use) nor PERMANENT.
 * Each eviction is a list head, O(1), so it evicts just what is needed
 * rather than a batch as Linux does (down to gc_thresh2).
 */
static uint32_t
neigh_forced_gc(uint32_t want)
{
	struct neigh_list *order[] = { &gc_failed, &gc_incomplete, &gc_stale };
	uint64_t now = tern_now_ms();
	uint32_t done = 0;
	struct neigh *n;

	for (unsigned i = 0; i < RTE_DIM(order) && done < want; i++)
		while (done < want && (n = gc_candidate(order[i], now)) != NULL) {
			neigh_destroy(n, TERN_CTL_DROP_NEIGH_EVICTED);
			done++;
		}
	arp_stats.forced_gc += done;
	return done;
}

static struct neigh *
neigh_create(uint16_t port, rte_be32_t ip)
{
	struct tern_neigh_key key = { .ip = ip, .port = port };
	struct neigh *n;
	int rc;

	/* max-entries may have been lowered below the count: the excess
	 * goes too.  If not enough can go, refuse. */
	if (nb_neighs >= arp_cfg.max_entries)
		neigh_forced_gc(nb_neighs - arp_cfg.max_entries + 1);
	if (nb_neighs >= arp_cfg.max_entries) {
		arp_stats.table_full++;
		return NULL;
	}
	if ((n = rte_zmalloc("tern_neigh", sizeof(*n), RTE_CACHE_LINE_SIZE)) == NULL)
		return NULL;
	n->pub.port = port;
	n->pub.ip = ip;
	tern_timer_init(&n->timer, neigh_timer, n);
	rc = rte_hash_add_key_data(table, &key, n);
	if (rc == -ENOSPC) {
		/* More evictions in this grace period than ARP_HASH_SPARE:
		 * wait for the workers, then the add reclaims their slots. */
		rte_rcu_qsbr_synchronize(tern_ctl.qsbr, RTE_QSBR_THRID_INVALID);
		rc = rte_hash_add_key_data(table, &key, n);
	}
	if (rc < 0) {
		rte_free(n);
		arp_stats.table_full++;
		return NULL;
	}
	TAILQ_INSERT_TAIL(&neighs, n, link);
	nb_neighs++;
	return n;
}

/* Unlinks `n`; the hash frees it once no worker can hold it (RCU).  What
 * waited on its hold queue is dropped, counted under `why`. */
static void
neigh_destroy(struct neigh *n, enum tern_ctl_drop why)
{
	struct tern_neigh_key key = { .ip = n->pub.ip, .port = n->pub.port };
	struct neigh_list *gc = gc_list_of(state_of(n));
	struct rte_mbuf *m;

	tern_timer_stop(&tern_ctl.wheel, &n->timer);
	while ((m = hold_pop(n)) != NULL)
		tern_ctl_drop(m, why);
	if (gc != NULL)
		TAILQ_REMOVE(gc, n, gc_link);
	TAILQ_REMOVE(&neighs, n, link);
	nb_neighs--;
	rte_hash_del_key(table, &key);
}

static void
neigh_free_rcu(void *p, void *key_data)
{
	rte_free(key_data);
}

/* TERN_PUNT_RESOLVE: a worker had no usable entry for priv nh_ip. */
static void
arp_resolve(struct rte_mbuf *m)
{
	const struct tern_mbuf_priv *priv = tern_mbuf_priv(m);
	struct neigh *n = neigh_find(priv->tx_port, priv->nh_ip);

	if (n == NULL && (n = neigh_create(priv->tx_port, priv->nh_ip)) == NULL) {
		tern_ctl_drop(m, TERN_CTL_DROP_NEIGH_NO_ENTRY);
		return;
	}
	hold_push(n, m);
	switch (state_of(n)) {
	case TERN_NUD_NONE:
	case TERN_NUD_FAILED:
		set_state(n, TERN_NUD_INCOMPLETE);
		break;
	case TERN_NUD_INCOMPLETE:
		break; /* a request is out already: rate limited by retrans-ms */
	default:
		hold_release(n); /* resolved while the packet was on its way */
		break;
	}
}

/* TERN_PUNT_ARP: an ARP packet arp_input validated. */
static void
arp_process(struct rte_mbuf *m)
{
	const struct rte_arp_hdr *a = rte_pktmbuf_mtod(m, const struct rte_arp_hdr *);
	const struct rte_ether_addr *sha = &a->arp_data.arp_sha;
	rte_be32_t sip = a->arp_data.arp_sip, tip = a->arp_data.arp_tip;
	uint16_t port = m->port, op = rte_be_to_cpu_16(a->arp_opcode);
	const struct tern_port *p = port_of(port);
	bool for_us = tern_addr_is_local(port, tip);
	struct neigh *n;

	arp_stats.received++;
	if (p == NULL) {
		tern_ctl_drop(m, TERN_CTL_DROP_PUNT_NO_PORT);
		return;
	}
	if (sip != 0 && tern_addr_is_local(port, sip)) {
		char b[INET_ADDRSTRLEN];
		if (!rte_is_same_ether_addr(sha, &p->mac)) {
			/* Counted always, logged at most once a second: a
			 * spoofing host could otherwise flood the log. */
			static uint64_t logged_ms; /* control thread only */
			uint64_t now = tern_now_ms();

			arp_stats.conflicts++;
			if (logged_ms == 0 || now - logged_ms >= 1000) {
				logged_ms = now;
				LOG_WARN("port %s: address conflict: %s claimed "
				         "by " RTE_ETHER_ADDR_PRT_FMT " (%" PRIu64
				         " conflicts so far)",
				         p->name, inet_ntop(AF_INET, &sip, b, sizeof(b)),
				         RTE_ETHER_ADDR_BYTES(sha), arp_stats.conflicts);
			}
		}
		goto out;
	}
	/* RFC 826: if the sender is in the table, update it (the merge)... */
	n = sip != 0 ? neigh_find(port, sip) : NULL;
	if (n != NULL && state_of(n) != TERN_NUD_PERMANENT) {
		uint64_t mac = tern_neigh_mac_pack(sha);
		bool changed = mac != atomic_load(&n->pub.mac);
		uint8_t st = state_of(n);

		atomic_store_explicit(&n->pub.mac, mac, memory_order_release);
		/* A reply to us confirms reachability; anything else only says
		 * "this MAC had this address", which is STALE (as in Linux). */
		if (op == RTE_ARP_OP_REPLY && for_us) {
			if (st != TERN_NUD_REACHABLE)
				arp_stats.resolved++;
			set_state(n, TERN_NUD_REACHABLE);
		} else if (changed || !tern_nud_valid(st)) {
			set_state(n, TERN_NUD_STALE);
		}
	}
	if (!for_us)
		goto out;
	/* ...and if the request is for us, learn the sender too, then reply. */
	if (n == NULL && sip != 0 && (n = neigh_create(port, sip)) != NULL) {
		atomic_store(&n->pub.mac, tern_neigh_mac_pack(sha));
		set_state(n, TERN_NUD_STALE);
	}
	if (op == RTE_ARP_OP_REQUEST) {
		arp_send(port, RTE_ARP_OP_REPLY, tip, sip, sha, sha);
		arp_stats.replies_sent++;
	}
out:
	rte_pktmbuf_free(m);
}

/* Every second: STALE entries that were used go to DELAY; idle ones age out. */
static void
arp_scan(struct tern_timer *t, void *arg)
{
	uint64_t now = tern_now_ms();
	struct neigh *n, *next;

	for (n = TAILQ_FIRST(&neighs); n != NULL; n = next) {
		uint64_t used = atomic_load_explicit(&n->pub.used_ms, memory_order_relaxed);
		uint8_t st = state_of(n);

		next = TAILQ_NEXT(n, link);
		/* Used since it went STALE (a use in the same ms counts). */
		if (st == TERN_NUD_STALE && used != 0 && used >= n->updated_ms)
			set_state(n, TERN_NUD_DELAY);
		else if ((st == TERN_NUD_STALE || st == TERN_NUD_FAILED) &&
		         now - RTE_MAX(used, n->updated_ms) > arp_cfg.gc_stale_ms)
			neigh_destroy(n, TERN_CTL_DROP_NEIGH_DELETED);
	}
	tern_timer_start(&tern_ctl.wheel, t, now + ARP_SCAN_MS);
}

static void
arp_addr_changed(uint16_t port, rte_be32_t ip, uint8_t len, bool added)
{
	if (added)
		arp_announce(port, ip);
}

/*
 * Link down: forget the port's neighbours but the PERMANENT ones, as Linux
 * does on carrier loss (neigh_carrier_down, from arp_netdev_event on
 * NETDEV_CHANGE).  Whatever was learnt may be stale once the link is back
 * (a cable moved to another switch, the peer replaced), and packets held
 * for resolution would otherwise wait for a link that may not return: they
 * are dropped (neigh_link_down), as Linux purges the arp_queue
 * (SKB_DROP_REASON_NEIGH_DEAD).  Entries made while the link stays down
 * (packets still routed to the port) resolve or fail as usual.
 */
static void
arp_link_down(uint16_t port)
{
	struct neigh *n, *next;

	for (n = TAILQ_FIRST(&neighs); n != NULL; n = next) {
		next = TAILQ_NEXT(n, link);
		if (n->pub.port == port && state_of(n) != TERN_NUD_PERMANENT) {
			neigh_destroy(n, TERN_CTL_DROP_NEIGH_LINK_DOWN);
			arp_stats.link_down_flushed++;
		}
	}
}

static void
arp_link_changed(uint16_t port, bool up)
{
	struct tern_addr a[TERN_MAX_ADDRS_PER_PORT];
	unsigned n;

	if (!up) {
		arp_link_down(port);
		return;
	}
	n = tern_addr_list(port, a);
	for (unsigned i = 0; i < n; i++)
		arp_announce(port, a[i].ip);
}

static int
arp_init(void)
{
	struct rte_hash_parameters hp = {
		.name = "tern_neigh",
		.entries = ARP_MAX_ENTRIES + ARP_HASH_SPARE,
		.key_len = sizeof(struct tern_neigh_key),
		.hash_func = rte_hash_crc, /* SSE4.2 crc32: cheaper than jhash per packet */
		.socket_id = SOCKET_ID_ANY,
		/* Workers read while the control thread writes. */
		.extra_flag = RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY_LF,
	};
	struct rte_hash_rcu_config rcu = {
		.v = tern_ctl.qsbr,
		.mode = RTE_HASH_QSBR_MODE_DQ,
		.free_key_data_func = neigh_free_rcu,
	};
	struct tern_dp *dp;

	table = rte_hash_create(&hp);
	if (table == NULL)
		return -ENOMEM;
	if (rte_hash_rcu_qsbr_add(table, &rcu) != 0)
		return -rte_errno;
	if ((dp = tern_dp_copy()) == NULL)
		return -ENOMEM;
	dp->neigh = table;
	tern_dp_publish(dp);
	tern_punt_register(TERN_PUNT_ARP, arp_process);
	tern_punt_register(TERN_PUNT_RESOLVE, arp_resolve);
	tern_addr_notify_register(arp_addr_changed);
	tern_link_notify_register(arp_link_changed);
	tern_timer_init(&scan_timer, arp_scan, NULL);
	tern_timer_start(&tern_ctl.wheel, &scan_timer, tern_now_ms() + ARP_SCAN_MS);
	return 0;
}
TERN_INIT(arp_init);

static void
arp_fini(void)
{
	while (!TAILQ_EMPTY(&neighs))
		neigh_destroy(TAILQ_FIRST(&neighs), TERN_CTL_DROP_NEIGH_DELETED);
	rte_hash_free(table);
	table = NULL;
	memset(&arp_stats, 0, sizeof(arp_stats));
}
TERN_FINI(arp_fini);

/* CLI */

static int
parse_ip_dev(struct cmd_ctx *c, const char *ip_s, const char *dev_kw, const char *dev,
             rte_be32_t *ip, struct tern_port **p)
{
	uint8_t len;

	if (strchr(ip_s, '/') != NULL || tern_parse_prefix(ip_s, ip, &len, true) < 0)
		return out_err(c->out, EINVAL, "address '%s': expected A.B.C.D", ip_s);
	if (strcmp(dev_kw, "dev") != 0)
		return out_err(c->out, EINVAL, "expected 'dev PORT', got '%s'", dev_kw);
	if ((*p = tern_port_lookup(dev)) == NULL)
		return out_err(c->out, ENODEV, "no port '%s'", dev);
	return 0;
}

/* neigh add IP lladdr MAC dev PORT */
int
cli_neigh_add(struct cmd_ctx *c, int argc, char **argv)
{
	struct rte_ether_addr mac;
	struct tern_port *p;
	struct neigh *n;
	rte_be32_t ip;
	int rc;

	if (strcmp(argv[1], "lladdr") != 0)
		return out_err(c->out, EINVAL, "expected 'lladdr MAC', got '%s'", argv[1]);
	if (rte_ether_unformat_addr(argv[2], &mac) < 0 || !rte_is_unicast_ether_addr(&mac) ||
	    rte_is_zero_ether_addr(&mac))
		return out_err(c->out, EINVAL, "lladdr '%s': expected a unicast MAC", argv[2]);
	if ((rc = parse_ip_dev(c, argv[0], argv[3], argv[4], &ip, &p)) < 0)
		return rc;
	if (c->dry_run)
		return 0;
	if ((n = neigh_find(p->port_id, ip)) == NULL && (n = neigh_create(p->port_id, ip)) == NULL)
		return out_err(c->out, ENOSPC, "neighbour table full");
	atomic_store(&n->pub.mac, tern_neigh_mac_pack(&mac));
	set_state(n, TERN_NUD_PERMANENT);
	return 0;
}

/* neigh del IP dev PORT */
int
cli_neigh_del(struct cmd_ctx *c, int argc, char **argv)
{
	struct tern_port *p;
	struct neigh *n;
	rte_be32_t ip;
	int rc;

	if ((rc = parse_ip_dev(c, argv[0], argv[1], argv[2], &ip, &p)) < 0)
		return rc;
	if (c->dry_run)
		return 0;
	if ((n = neigh_find(p->port_id, ip)) == NULL)
		return out_err(c->out, ENOENT, "no neighbour %s on %s", argv[0], p->name);
	neigh_destroy(n, TERN_CTL_DROP_NEIGH_DELETED);
	return 0;
}

/* neigh flush [dev PORT]: every entry but the permanent ones. */
int
cli_neigh_flush(struct cmd_ctx *c, int argc, char **argv)
{
	struct tern_port *p = NULL;
	struct neigh *n, *next;

	if (argc != 0 && (argc != 2 || strcmp(argv[0], "dev") != 0))
		return out_err(c->out, EINVAL, "usage: neigh flush [dev PORT]");
	if (argc == 2 && (p = tern_port_lookup(argv[1])) == NULL)
		return out_err(c->out, ENODEV, "no port '%s'", argv[1]);
	for (n = TAILQ_FIRST(&neighs); n != NULL; n = next) {
		next = TAILQ_NEXT(n, link);
		if ((p == NULL || n->pub.port == p->port_id) && state_of(n) != TERN_NUD_PERMANENT)
			neigh_destroy(n, TERN_CTL_DROP_NEIGH_DELETED);
	}
	return 0;
}

/* neigh show [dev PORT] */
int
cli_neigh_show(struct cmd_ctx *c, int argc, char **argv)
{
	struct tern_port *only = NULL;
	uint64_t now = tern_now_ms();
	char b[INET_ADDRSTRLEN];
	struct neigh *n;

	if (argc != 0 && (argc != 2 || strcmp(argv[0], "dev") != 0))
		return out_err(c->out, EINVAL, "usage: neigh show [dev PORT]");
	if (argc == 2 && (only = tern_port_lookup(argv[1])) == NULL)
		return out_err(c->out, ENODEV, "no port '%s'", argv[1]);
	out_list_open(c->out, "neighbours");
	TAILQ_FOREACH(n, &neighs, link)
	{
		const struct tern_port *p = port_of(n->pub.port);
		uint64_t used = atomic_load(&n->pub.used_ms);
		struct rte_ether_addr mac;
		uint8_t st = state_of(n);

		if (only != NULL && only->port_id != n->pub.port)
			continue;
		tern_neigh_mac_unpack(atomic_load(&n->pub.mac), &mac);
		out_obj_open(c->out, NULL);
		out_str(c->out, "address", "%s", inet_ntop(AF_INET, &n->pub.ip, b, sizeof(b)));
		if (tern_nud_valid(st))
			out_str(c->out, "lladdr", RTE_ETHER_ADDR_PRT_FMT,
			        RTE_ETHER_ADDR_BYTES(&mac));
		else
			out_str(c->out, "lladdr", "none");
		out_str(c->out, "dev", "%s", p ? p->name : "?");
		out_str(c->out, "state", "%s", nud_names[st]);
		out_u64(c->out, "age_ms", now - n->updated_ms);
		if (used != 0)
			out_u64(c->out, "used_ms_ago", now > used ? now - used : 0);
		out_u64(c->out, "probes", n->probes);
		out_u64(c->out, "held", n->hold_len);
		out_obj_close(c->out);
	}
	out_list_close(c->out);
	return 0;
}

/* arp show: settings and counters. */
int
cli_arp_show(struct cmd_ctx *c, int argc, char **argv)
{
	out_obj_open(c->out, "settings");
#define X(f, name, def, lo, hi) out_u64(c->out, name, arp_cfg.f);
	ARP_PARAMS(X)
#undef X
	out_obj_close(c->out);
	out_obj_open(c->out, "counters");
#define X(f, desc) out_u64(c->out, #f, arp_stats.f);
	ARP_COUNTERS(X)
#undef X
	out_obj_close(c->out);
	out_u64(c->out, "entries", nb_neighs);
	return 0;
}

/* arp set NAME VALUE */
int
cli_arp_set(struct cmd_ctx *c, int argc, char **argv)
{
	uint64_t v;
	int rc;

#define X(f, name, def, lo, hi)                                                                    \
	if (strcmp(argv[0], name) == 0) {                                                          \
		if ((rc = cmd_parse_u64(c, name, argv[1], lo, hi, &v)) < 0)                        \
			return rc;                                                                 \
		if (!c->dry_run)                                                                   \
			arp_cfg.f = (uint32_t)v;                                                   \
		goto done;                                                                         \
	}
	ARP_PARAMS(X)
#undef X
	/* ", reachable-ms, retrans-ms, ...": every name, from the list. */
#define X(f, name, def, lo, hi) ", " name
	return out_err(c->out, EINVAL, "unknown ARP setting '%s' (%s)", argv[0], ARP_PARAMS(X) + 2);
#undef X
done:
	/* A lower max-entries takes effect at once for what the forced GC
	 * may evict; the rest stays until it may (new entries are refused
	 * meanwhile).  Lowering never fails. */
	if (!c->dry_run && nb_neighs > arp_cfg.max_entries)
		neigh_forced_gc(nb_neighs - arp_cfg.max_entries);
	return 0;
}

void
arp_running_config(struct tern_out *o)
{
	char b[INET_ADDRSTRLEN];
	struct neigh *n;

#define X(f, name, def, lo, hi)                                                                    \
	if (arp_cfg.f != def)                                                                      \
		out_text(o, "arp set %s %u\n", name, arp_cfg.f);
	ARP_PARAMS(X)
#undef X
	TAILQ_FOREACH(n, &neighs, link)
	{
		const struct tern_port *p = port_of(n->pub.port);
		struct rte_ether_addr mac;

		if (state_of(n) != TERN_NUD_PERMANENT || p == NULL)
			continue;
		tern_neigh_mac_unpack(atomic_load(&n->pub.mac), &mac);
		out_text(o, "neigh add %s lladdr " RTE_ETHER_ADDR_PRT_FMT " dev %s\n",
		         inet_ntop(AF_INET, &n->pub.ip, b, sizeof(b)), RTE_ETHER_ADDR_BYTES(&mac),
		         p->name);
	}
}
