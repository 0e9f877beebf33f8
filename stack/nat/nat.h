/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * NAT44 core (RFC 4787, 5382, 5508): rules, per-worker session tables,
 * connection tracking and packet translation.  Like the TCP core it knows
 * nothing of DPDK: packets are plain IPv4 byte buffers, time is the
 * caller's `now` in milliseconds on a timer wheel the caller advances, so
 * unit tests drive it without EAL.  One `struct nat_table` per worker;
 * rules are shared read-only (`struct nat_rules`, replaced as a whole by
 * the control thread and published with RCU by the caller).
 *
 * Terms: "inside" hosts sit behind the NAT, "outside" is everything else.
 * A session holds both directions' 5-tuples:
 *   orig  = the tuple of the first packet as it arrived (inside view for
 *           SNAT, outside view for DNAT);
 *   reply = the tuple the answers carry as they arrive.
 * All addresses and ports in this header are in host byte order.
 */
#ifndef TERN_NAT_NAT_H
#define TERN_NAT_NAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "timer/wheel.h"

struct nat_tuple {
	uint32_t src, dst;
	uint16_t sport, dport; /* ICMP query: sport = dport = identifier */
	uint8_t proto;         /* IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMP */
};

/* ---- Rules ---- */

enum nat_rule_type {
	NAT_SNAT,   /* src in prefix, leaving by `out_port`: to pool (or port address) */
	NAT_DNAT,   /* dst = ext_addr:ext_port (proto) -> to_addr:to_port */
	NAT_STATIC, /* 1:1 inside address <-> outside address, both directions */
	NAT_EXEMPT, /* src in prefix and dst in prefix2: never translated */
};

/* APDF is 0 so that a zeroed `struct nat_rules` filters like the default. */
enum nat_filtering {
	NAT_FILTER_APDF, /* address- and port-dependent (default, RFC 4787 REQ-8 allows) */
	NAT_FILTER_ADF,  /* address-dependent */
	NAT_FILTER_EIF,  /* endpoint-independent filtering (RFC 4787 5: "full cone") */
};

struct nat_rule {
	uint8_t type;              /* enum nat_rule_type */
	uint8_t proto;             /* DNAT: IPPROTO_TCP / IPPROTO_UDP; 0 = both (and any port) */
	uint16_t out_port;         /* SNAT: egress port id it applies to */
	uint32_t prefix, mask;     /* SNAT/EXEMPT: source prefix; STATIC: inside address */
	uint32_t prefix2, mask2;   /* EXEMPT: destination prefix */
	uint32_t pool_lo, pool_hi; /* SNAT: outside addresses (one address: lo == hi) */
	uint16_t port_lo, port_hi; /* SNAT: outside port (ICMP: identifier) range;
	                            * 0-0 means the default 1024-65535 */
	uint32_t ext_addr;         /* DNAT: outside address; STATIC: outside address */
	/* DNAT: ext_port 0 matches any port and keeps it (to_port is then
	 * ignored); to_port 0 keeps ext_port.  proto 0 forwards the whole
	 * address: TCP, UDP and ICMP echo, ports unchanged. */
	uint16_t ext_port, to_port;
	uint32_t to_addr; /* DNAT: inside address */
};

/*
 * The rule set, evaluated in this order (docs/nat.md):
 *   1. EXEMPT rules, in the order added: a match means no translation;
 *   2. STATIC, then DNAT rules (on the destination, before routing);
 *   3. SNAT rules, in the order added (on the source, after routing:
 *      the egress port must match).
 * Replaced as a whole; never changed once published.
 */
#define NAT_MAX_RULES 256
struct nat_rules {
	unsigned n;
	struct nat_rule r[NAT_MAX_RULES];
	uint8_t filtering; /* enum nat_filtering */
	bool hairpin;      /* RFC 4787 REQ-9 (default on) */
};

/* An empty rule set with the defaults: APDF filtering, hairpinning on. */
void nat_rules_init(struct nat_rules *r);

/*
 * With `nb_owners` tables, would DNAT rule `r` next to `rules` send a
 * target's answers to a table other than the one holding their session
 * (see nat_port_owner)?  That is two DNAT rules to one target address
 * (and protocol), one of them a port rule, whose sessions with the same
 * target port would be owned by different tables: the answers follow the
 * port rule.  Returns 0, or -EINVAL with the first such rule of `rules` in
 * *conflict.
 */
int nat_rule_owner_conflict(const struct nat_rules *rules, const struct nat_rule *r,
                            unsigned nb_owners, const struct nat_rule **conflict);

/* ---- Timeouts and limits ---- */

/* Connection tracking states of TCP sessions, after Linux's conntrack. */
#define NAT_TCP_STATES(X)                                                                          \
	X(NONE)                                                                                    \
	X(SYN_SENT)                                                                                \
	X(SYN_RECV)                                                                                \
	X(ESTABLISHED)                                                                             \
	X(FIN_WAIT)                                                                                \
	X(CLOSE_WAIT)                                                                              \
	X(LAST_ACK)                                                                                \
	X(TIME_WAIT)                                                                               \
	X(CLOSE)

enum nat_tcp_state {
#define X(s) NAT_TCP_##s,
	NAT_TCP_STATES(X)
#undef X
	    NAT_TCP_NSTATES
};

struct nat_cfg {
	uint32_t max_sessions;                    /* per table (worker) */
	uint32_t max_per_host;                    /* sessions per inside host, 0: no limit */
	uint32_t tcp_timeout_ms[NAT_TCP_NSTATES]; /* by state */
	uint32_t udp_timeout_ms;                  /* RFC 4787 REQ-5: >= 2 min (300 s) */
	uint32_t udp_stream_timeout_ms;           /* once seen both ways (Linux: 120 s) */
	uint32_t icmp_timeout_ms;                 /* RFC 5508 REQ-1: 60 s */
};

/* Defaults: TCP established 7440 s (RFC 5382 REQ-5: >= 2 h 4 min),
 * transitory 240 s (REQ-5), TIME_WAIT 120 s; UDP 300 s; ICMP 60 s. */
void nat_cfg_default(struct nat_cfg *cfg);

/* ---- Sessions ---- */

#define NAT_COUNTERS(X)                                                                            \
	X(SessionsCreated)                                                                         \
	X(SessionsExpired)                                                                         \
	X(SessionsReclaimed)                                                                       \
	X(TableFull)                                                                               \
	X(HostLimit)                                                                               \
	X(PortsExhausted)                                                                          \
	X(Translated)                                                                              \
	X(Untranslated)                                                                            \
	X(FilteredIn)                                                                              \
	X(IcmpErrorsTranslated)                                                                    \
	X(Hairpinned)                                                                              \
	X(Untranslatable)                                                                          \
	X(BadPackets)

enum nat_counter {
#define X(n) NAT_MIB_##n,
	NAT_COUNTERS(X)
#undef X
	    NAT_MIB_MAX
};
extern const char *const nat_counter_names[NAT_MIB_MAX];

struct nat_table;

/*
 * Ports this table may hand out for SNAT: those with
 * (port % nb_owners) == owner, so the worker that owns a session can be
 * told from the outside port of any packet that comes back
 * (nat_port_owner).  One table per worker: owner = worker index.
 *
 * The owner of a packet follows from the packet and the rules alone:
 *   - to a NAT outside address (SNAT pool or masquerade address, STATIC
 *     or DNAT ext_addr): nat_port_owner(destination port or ICMP id);
 *   - from a DNAT target (src = to_addr:to_port): nat_port_owner of the
 *     rule's ext_port (the source port when the rule keeps ports);
 *   - anything else: nat_port_owner(source port or ICMP id).  Not a hash
 *     of the 5-tuple: every flow of one inside endpoint must meet in one
 *     table for endpoint-independent mapping (RFC 4787 REQ-1), and the
 *     inside port then usually lies in the table's own block, so it can
 *     be preserved (REQ-3).
 * ICMP errors go where the packet they quote, reversed, would go.
 * Hairpinned flows are owned by the destination mapping's table, which
 * maps the sender on its own: with several tables a hairpinning sender
 * may get a different outside port than for its other flows, a STATIC
 * sender too (one of the table's block, so that the answers come back).
 */
struct nat_table *nat_table_create(const struct nat_cfg *cfg, struct tern_wheel *wheel,
                                   unsigned owner, unsigned nb_owners);
void nat_table_destroy(struct nat_table *t);
void nat_table_set_cfg(struct nat_table *t, const struct nat_cfg *cfg);
/* Does `new_` shorten any timeout of `old`? */
bool nat_cfg_shorter(const struct nat_cfg *old, const struct nat_cfg *new_);
/*
 * After nat_table_set_cfg() shortened a timeout: move the timers of the
 * sessions in slots [from, from + slots) (0 visits one) to their new
 * deadlines, a passed one to the next tick, and return the slot to go on
 * from, or NAT_WALK_DONE after the last one.  In chunks, like
 * nat_table_flush_some(), so that a worker never stops for its whole
 * table.  Longer timeouts need nothing: a timer that fires early re-arms.
 */
uint32_t nat_table_retime_some(struct nat_table *t, uint32_t from, uint32_t slots);
const uint64_t *nat_table_counters(const struct nat_table *t);
uint32_t nat_table_nb_sessions(const struct nat_table *t);
/* Remove every session, in one go (table teardown, tests). */
void nat_table_flush(struct nat_table *t);
/*
 * Remove the sessions in slots [from, from + slots) of the table's pool,
 * `sessions` of them at most (a limit of 0 counts as 1), and return the
 * slot to go on from, or NAT_WALK_DONE after the last one: a flush in
 * chunks, run between bursts so that a worker never stops for the whole
 * table.  Two limits, because removing a session costs tens of times more
 * than passing a free slot (hash chains, timer, mapping, host count).  The
 * table is consistent after each chunk (timers, hashes, mappings, per-host
 * counts, session count); sessions created between two chunks in slots
 * already passed survive the flush.
 */
uint32_t nat_table_flush_some(struct nat_table *t, uint32_t from, uint32_t slots,
                              uint32_t sessions);
static inline unsigned
nat_port_owner(uint16_t port, unsigned nb_owners)
{
	return nb_owners <= 1 ? 0 : port % nb_owners;
}

/* What nat_translate did with a packet. */
enum nat_verdict {
	NAT_PASS,        /* no rule, no session: forward unchanged */
	NAT_DONE,        /* translated in place (addresses, ports, checksums) */
	NAT_DROP,        /* refused: filtering, table full, no port (counted) */
	NAT_BAD,         /* malformed (counted) */
	NAT_OTHER_OWNER, /* the session belongs to table `*owner`: hand the packet over */
};

/*
 * Translate one IPv4 packet in place.  `pkt` starts at the IPv4 header and
 * holds `len` contiguous bytes, all of the packet (nat_prepare() takes
 * chained packets: at least the headers contiguous; fragments: see
 * docs/nat.md).  `in_port` is the ingress port; `route(ctx, dst, &out_port)`
 * returns 0 and the egress port for a destination (after DNAT), or -1 when
 * there is no route; `is_local(ctx, addr)` says whether an address is one
 * of ours.  The checksums of IP, TCP, UDP and ICMP are updated
 * incrementally (RFC 1624), UDP's zero checksum stays zero, and ICMP errors
 * are translated inner header and all (RFC 5508).
 */
struct nat_env {
	void *ctx;
	int (*route)(void *ctx, uint32_t dst, uint16_t *out_port);
	bool (*is_local)(void *ctx, uint32_t addr);
	/* The first address of a port, for SNAT without a pool (masquerade). */
	uint32_t (*port_addr)(void *ctx, uint16_t port);
};

enum nat_verdict nat_translate(struct nat_table *t, const struct nat_rules *rules,
                               const struct nat_env *env, uint8_t *pkt, uint32_t len,
                               uint16_t in_port, uint64_t now, unsigned *owner);

/* One direction's addresses and ports (12 bytes, no padding). */
struct nat_ep4 {
	uint32_t src, dst;
	uint16_t sport, dport;
};

/*
 * A packet as nat_prepare() parsed it: where its headers are, and its
 * tuple (for an ICMP error, the quoted packet's).  Filled once per packet;
 * translation reads it rather than parse again.
 */
struct nat_pkt {
	uint8_t *ip;
	uint8_t *l4;
	uint32_t tot;   /* the IP total length */
	uint32_t l4len; /* bytes of the L4 header and data in the first segment */
	uint8_t proto;
	uint8_t tcp_flags;
	uint8_t icmp_type;
	bool icmp_err;
	struct nat_ep4 e; /* the packet's tuple; ICMP errors: the quoted one's */
	/* ICMP errors: the quoted packet. */
	uint8_t *ei, *el4;
	uint32_t elen; /* bytes of the quoted L4 header and data present */
	uint8_t eproto;
};

struct nat_prep {
	struct nat_pkt p;
	uint32_t h;     /* the tuple's bucket hash, when `hashed` */
	uint8_t parsed; /* nat_translate.c's parse result */
	bool hashed;    /* a session lookup by p.e will follow */
};

/*
 * For bursts: parse a packet and prefetch what its translation will read.
 * Call with stage 0 for a packet (parse, hash, prefetch its hash bucket),
 * some packets later with stage 1 (prefetch the bucket's session), and
 * some packets later again nat_translate_prepared(): the table's cache
 * misses overlap instead of adding up, and each packet is parsed and
 * hashed once.  nat_translate() is all three in a row.
 */
/* Stage 0 takes the packet: `len` contiguous bytes at `pkt` (the first
 * segment), `pkt_len` in all; stage 1 takes NULL, 0, 0. */
void nat_prepare(const struct nat_table *t, uint8_t *pkt, uint32_t len, uint32_t pkt_len,
                 unsigned stage, struct nat_prep *prep);
enum nat_verdict nat_translate_prepared(struct nat_table *t, const struct nat_rules *rules,
                                        const struct nat_env *env, struct nat_prep *prep,
                                        uint16_t in_port, uint64_t now, unsigned *owner);

/* One session, for `nat sessions show` (like conntrack -L).  Run on the
 * table's thread; expires_in_ms counts from the latest `now` the table saw
 * (nat_translate or the wheel's clock). */
struct nat_session_info {
	struct nat_tuple orig, reply;
	uint8_t tcp_state; /* enum nat_tcp_state, TCP only */
	uint64_t expires_in_ms;
	uint64_t packets[2], bytes[2]; /* orig direction, reply direction */
};
/* Per worker call: slots of `nat sessions show` and `nat sessions flush`,
 * sessions removed by the latter (see docs/nat.md for what they cost). */
#define NAT_WALK_BUDGET  4096
#define NAT_FLUSH_BUDGET 256
/* What nat_table_walk and nat_table_flush_some return at the end. */
#define NAT_WALK_DONE UINT32_MAX
/*
 * Call fn for each session in slots [from, from + budget) of the table's
 * pool (a budget of 0 visits one slot) and return the slot to resume
 * from, or NAT_WALK_DONE after the last one.  Walk a table in chunks,
 * letting packets through between them: sessions keep their slot for life,
 * so a resumed walk reports a session at most once, and every session that
 * lives through the whole walk exactly once; one created or removed
 * meanwhile may or may not be reported.  Not a snapshot, like conntrack -L.
 */
uint32_t nat_table_walk(struct nat_table *t, uint32_t from, uint32_t budget,
                        void (*fn)(void *arg, const struct nat_session_info *i), void *arg);

/* Bytes of memory one session takes (the benchmark reports it): the
 * session block, with its hash linkage and timer. */
size_t nat_session_size(void);
/* Everything a table allocated: sessions, hash buckets, host map. */
size_t nat_table_mem(const struct nat_table *t);

/* RFC 1624 incremental checksum update of a 16-bit one's complement sum
 * `sum` when 32 bits `old` become `new`.  One's complement sums do not
 * depend on byte order (RFC 1071 2(B)), so `sum`, `old` and `new_` only
 * have to be in the same order: all as stored, or all read big-endian. */
uint16_t nat_csum_update32(uint16_t sum, uint32_t old, uint32_t new_);
uint16_t nat_csum_update16(uint16_t sum, uint16_t old, uint16_t new_);

#endif
