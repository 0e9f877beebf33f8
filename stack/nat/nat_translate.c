/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * NAT44 translation: packet parsing, the owner of a packet, rule matching
 * for new sessions, and the rewrite of addresses, ports and checksums,
 * ICMP errors included (RFC 5508 4.2).
 *
 * A session stores both tuples as they arrive, so the rewrite is the same
 * for every kind of session (conntrack's scheme): a packet in one
 * direction leaves with the other direction's tuple reversed.
 */
#include <endian.h>
#include <errno.h>
#include <string.h>

#include "nat/nat_priv.h"

#define ICMP_ECHO_REPLY  0
#define ICMP_UNREACH     3
#define ICMP_ECHO        8
#define ICMP_TIME_EXCEED 11
#define ICMP_PARAM_PROB  12

/* Big-endian fields at any alignment.  Through memcpy and a byte swap
 * rather than byte by byte (the compiler merged the byte stores of
 * neighbouring fields into one 8-byte store built with shifts, about 40
 * instructions a packet: scripts/bench-instr.sh). */
static inline uint16_t
get16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, sizeof(v));
	return be16toh(v);
}

static inline uint32_t
get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return be32toh(v);
}

static inline void
put16(uint8_t *p, uint16_t v)
{
	v = htobe16(v);
	memcpy(p, &v, sizeof(v));
}

static inline void
put32(uint8_t *p, uint32_t v)
{
	v = htobe32(v);
	memcpy(p, &v, sizeof(v));
}

/* ---- Checksums ---- */

/*
 * RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m').  Unlike eqn. 2 it never turns a
 * checksum into -0 (0xffff): the sum in the parentheses is of non-zero
 * terms, so it folds to 1..0xffff and its complement to 0..0xfffe, the
 * values a full recomputation gives (section 3).
 *
 * Several words at once: one term (~m + m') per changed word, summed in 64
 * bits by csum_delta*() and folded once by csum_apply().  One's complement
 * addition is associative, and 2^16 is 1 modulo 0xffff, so a 32-bit word
 * adds in as its two 16-bit halves would; a nonzero sum folds to the one
 * value in 1..0xffff of its residue, so any grouping of the changed words
 * gives the same result, bit for bit.  (Whole 32-bit words rather than
 * halves: a third of the instructions, scripts/bench-instr.sh.)
 */
static inline uint64_t
csum_delta16(uint16_t old, uint16_t new_)
{
	return (uint64_t)(uint16_t)~old + new_;
}

static inline uint64_t
csum_delta32(uint32_t old, uint32_t new_)
{
	return (uint64_t)(uint32_t)~old + new_;
}

/* `d`: a sum of a few csum_delta terms (each below 2^33). */
static inline uint16_t
csum_apply(uint16_t sum, uint64_t d)
{
	uint64_t s = (uint64_t)(uint16_t)~sum + d;

	s = (s & 0xffffffff) + (s >> 32);
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

uint16_t
nat_csum_update16(uint16_t sum, uint16_t old, uint16_t new_)
{
	return csum_apply(sum, csum_delta16(old, new_));
}

uint16_t
nat_csum_update32(uint16_t sum, uint32_t old, uint32_t new_)
{
	return csum_apply(sum, csum_delta32(old, new_));
}

/* ---- Parsing ---- */

enum parse_rc { P_OK, P_PASS, P_BAD };

/* The ports of a TCP/UDP header, or the identifier of an ICMP echo. */
/* Inlined: as a call it was 16 instructions a packet of its own. */
static inline __attribute__((always_inline)) enum parse_rc
parse_l4(uint8_t proto, const uint8_t *l4, uint32_t l4len, struct nat_ep4 *e, bool quoted)
{
	switch (proto) {
	case NAT_IPPROTO_TCP:
		/* A quote need only hold the first 8 bytes (RFC 792). */
		if (l4len < (quoted ? 8u : 20u))
			return P_BAD;
		if (!quoted && ((l4[12] >> 4) < 5 || (uint32_t)(l4[12] >> 4) * 4 > l4len))
			return P_BAD;
		e->sport = get16(l4);
		e->dport = get16(l4 + 2);
		return P_OK;
	case NAT_IPPROTO_UDP:
		if (l4len < 8)
			return P_BAD;
		e->sport = get16(l4);
		e->dport = get16(l4 + 2);
		return P_OK;
	case NAT_IPPROTO_ICMP:
		if (l4len < 8)
			return P_BAD;
		if (l4[0] != ICMP_ECHO && l4[0] != ICMP_ECHO_REPLY)
			return P_PASS;
		e->sport = e->dport = get16(l4 + 4);
		return P_OK;
	default:
		return P_PASS;
	}
}

/*
 * `len` bytes are contiguous at `ip`, of `pkt_len` in all: a reassembled
 * datagram is a chain of segments, and only its first is parsed (headers
 * and ICMP quotes sit there; the checksum updates are incremental and never
 * read the payload).  Headers that straddle the first segment's end are
 * refused, tiny-fragment tricks (RFC 1858) included.
 */
static enum parse_rc
parse(uint8_t *ip, uint32_t len, uint32_t pkt_len, struct nat_pkt *p)
{
	uint32_t ihl, eihl, avail;
	enum parse_rc rc;

	if (len < 20 || (ip[0] >> 4) != 4)
		return P_BAD;
	ihl = (uint32_t)(ip[0] & 0xf) * 4;
	p->tot = get16(ip + 2);
	if (ihl < 20 || ihl > len || p->tot < ihl || p->tot > pkt_len)
		return P_BAD;
	avail = p->tot < len ? p->tot : len;
	/* Fragments are reassembled before NAT (docs/nat.md): one that gets
	 * here cannot be translated consistently. */
	if (get16(ip + 6) & 0x3fff)
		return P_BAD;
	p->ip = ip;
	p->proto = ip[9];
	p->l4 = ip + ihl;
	p->l4len = avail - ihl;
	p->e.src = get32(ip + 12);
	p->e.dst = get32(ip + 16);
	p->icmp_err = false;
	p->tcp_flags = 0;
	if (p->proto == NAT_IPPROTO_ICMP && p->l4len >= 8) {
		p->icmp_type = p->l4[0];
		if (p->icmp_type == ICMP_UNREACH || p->icmp_type == ICMP_TIME_EXCEED ||
		    p->icmp_type == ICMP_PARAM_PROB) {
			p->icmp_err = true;
			if (p->l4len < 8 + 20)
				return P_BAD;
			p->ei = p->l4 + 8;
			eihl = (uint32_t)(p->ei[0] & 0xf) * 4;
			if ((p->ei[0] >> 4) != 4 || eihl < 20 || p->l4len < 8 + eihl)
				return P_BAD;
			p->eproto = p->ei[9];
			p->el4 = p->ei + eihl;
			p->elen = p->l4len - 8 - eihl;
			p->e.src = get32(p->ei + 12);
			p->e.dst = get32(p->ei + 16);
			/* Only a quote of a first fragment has ports. */
			if (get16(p->ei + 6) & 0x1fff)
				return P_PASS;
			return parse_l4(p->eproto, p->el4, p->elen, &p->e, true);
		}
	}
	rc = parse_l4(p->proto, p->l4, p->l4len, &p->e, false);
	if (rc == P_OK && p->proto == NAT_IPPROTO_TCP)
		p->tcp_flags = p->l4[13];
	if (rc == P_OK && p->proto == NAT_IPPROTO_ICMP)
		p->icmp_type = p->l4[0];
	return rc;
}

/* ---- Rules ---- */

static inline bool
in_prefix(uint32_t a, uint32_t prefix, uint32_t mask)
{
	return (a & mask) == (prefix & mask);
}

/* Is `a` one of the NAT's outside addresses? */
static bool
is_nat_addr(const struct nat_rules *rules, const struct nat_env *env, uint32_t a)
{
	unsigned i;

	for (i = 0; i < rules->n; i++) {
		const struct nat_rule *r = &rules->r[i];

		switch (r->type) {
		case NAT_SNAT:
			if (r->pool_lo != 0) {
				if (a >= r->pool_lo && a <= r->pool_hi)
					return true;
			} else if (env->port_addr != NULL &&
			           env->port_addr(env->ctx, r->out_port) == a) {
				return true;
			}
			break;
		case NAT_DNAT:
		case NAT_STATIC:
			if (r->ext_addr == a)
				return true;
			break;
		default:
			break;
		}
	}
	return false;
}

/* Does DNAT rule `r` take a packet to e->dst:e->dport? */
static bool
dnat_match(const struct nat_rule *r, uint8_t proto, const struct nat_ep4 *e)
{
	if (r->type != NAT_DNAT || r->ext_addr != e->dst)
		return false;
	if (r->proto == 0)
		return true;
	return r->proto == proto && (r->ext_port == 0 || r->ext_port == e->dport);
}

static inline bool
dnat_maps_port(const struct nat_rule *r)
{
	return r->proto != 0 && r->ext_port != 0;
}

/* The port a DNAT port rule's target answers from. */
static inline uint16_t
dnat_target_port(const struct nat_rule *r)
{
	return r->to_port ? r->to_port : r->ext_port;
}

/* The DNAT rule whose target sent this packet, if any: one that maps the
 * very port it came from first (its session lives with that rule's outside
 * port, see owner_of), else one for the whole address or protocol, in rule
 * order. */
static const struct nat_rule *
dnat_reply_rule(const struct nat_rules *rules, uint8_t proto, const struct nat_ep4 *e)
{
	const struct nat_rule *any = NULL;
	unsigned i;

	for (i = 0; i < rules->n; i++) {
		const struct nat_rule *r = &rules->r[i];

		if (r->type != NAT_DNAT || r->to_addr != e->src)
			continue;
		if (dnat_maps_port(r)) {
			if (r->proto == proto && e->sport == dnat_target_port(r))
				return r;
		} else if (any == NULL && (r->proto == 0 || r->proto == proto)) {
			any = r;
		}
	}
	return any;
}

int
nat_rule_owner_conflict(const struct nat_rules *rules, const struct nat_rule *r, unsigned nb_owners,
                        const struct nat_rule **conflict)
{
	if (nb_owners <= 1 || r->type != NAT_DNAT)
		return 0;
	for (unsigned i = 0; i < rules->n; i++) {
		const struct nat_rule *o = &rules->r[i], *port, *other;

		if (o->type != NAT_DNAT || o->to_addr != r->to_addr)
			continue;
		if (o->proto != 0 && r->proto != 0 && o->proto != r->proto)
			continue;
		/*
		 * The target's answers from a port a port rule maps go to the
		 * worker of that rule's outside port (owner_of, the first such
		 * rule).  A session another rule opened to the same target
		 * port lives on the worker of its own outside port: the two
		 * must be one worker.
		 */
		if (dnat_maps_port(r)) {
			port = r;
			other = o;
		} else if (dnat_maps_port(o)) {
			port = o;
			other = r;
		} else {
			continue; /* whole addresses: answers go by their port */
		}
		if (dnat_maps_port(other)) {
			if (dnat_target_port(other) != dnat_target_port(port) ||
			    nat_port_owner(other->ext_port, nb_owners) ==
			        nat_port_owner(port->ext_port, nb_owners))
				continue;
		} else if (nat_port_owner(dnat_target_port(port), nb_owners) ==
		           nat_port_owner(port->ext_port, nb_owners)) {
			/* `other` keeps ports: its sessions to the target port
			 * come in by that same port. */
			continue;
		}
		if (conflict != NULL)
			*conflict = o;
		return -EINVAL;
	}
	return 0;
}

/* owner_of with more than one owner. */
static unsigned
owner_of_shared(const struct nat_table *t, const struct nat_rules *rules, const struct nat_env *env,
                uint8_t proto, const struct nat_ep4 *e)
{
	const struct nat_rule *r;

	if (is_nat_addr(rules, env, e->dst))
		return nat_port_owner(e->dport, t->nb_owners);
	r = dnat_reply_rule(rules, proto, e);
	if (r != NULL && dnat_maps_port(r))
		return nat_port_owner(r->ext_port, t->nb_owners);
	return nat_port_owner(e->sport, t->nb_owners);
}

/* See nat.h, nat_port_owner: where a packet with tuple `e` is handled.
 * Inline, for the one test a table of one worker needs. */
static inline unsigned
owner_of(const struct nat_table *t, const struct nat_rules *rules, const struct nat_env *env,
         uint8_t proto, const struct nat_ep4 *e)
{
	return t->nb_owners <= 1 ? 0 : owner_of_shared(t, rules, env, proto, e);
}

/* ---- Port allocation ---- */

static bool
port_free(struct nat_table *t, const struct nat_rules *rules, uint8_t proto, uint32_t addr,
          uint16_t port)
{
	unsigned i;

	if (nat_map_by_outside(t, proto, addr, port) != NULL)
		return false;
	/* Ports forwarded by DNAT (or whole STATIC addresses) are not ours to
	 * hand out, even when they share the pool's address. */
	for (i = 0; i < rules->n; i++) {
		const struct nat_rule *r = &rules->r[i];

		if (r->ext_addr != addr)
			continue;
		if (r->type == NAT_STATIC)
			return false;
		if (r->type == NAT_DNAT &&
		    (r->proto == 0 ||
		     (r->proto == proto && (r->ext_port == 0 || r->ext_port == port))))
			return false;
	}
	return true;
}

/*
 * Ports tried per new session after the wanted one and its neighbours:
 * NAT_PORT_SCAN in a row from the cursor, then NAT_PORT_SCAN at random in
 * the block (Linux's nf_nat tries 128 too).  With the block full, every new
 * flow would otherwise scan all of it, milliseconds a packet; the random
 * tries find a free port past a long taken run (hosts keeping their ports).
 * A block nearly full may refuse a flow while a port is free: counted as
 * exhaustion, as Linux does.
 */
#define NAT_PORT_SCAN 64

/*
 * RFC 4787 REQ-3 (and RFC 5382 REQ-1 for TCP): keep the inside port when it
 * is free and in the range, and in this table's block (p % nb == owner);
 * otherwise take the next free port of the block, going round the range.
 * Returns 0, or -ENOSPC when no free port was found (NAT_PORT_PROBES).
 */
static int
port_alloc(struct nat_table *t, const struct nat_rules *rules, const struct nat_rule *r,
           uint8_t proto, uint32_t addr, uint16_t want, uint16_t *out)
{
	uint32_t lo = r->port_lo, hi = r->port_hi, nb = t->nb_owners, p, n, count, first;

	if (lo == 0 && hi == 0) {
		lo = 1024;
		hi = 65535;
	}
	if (lo > hi)
		return -EINVAL;
	if (want >= lo && want <= hi && want % nb == t->owner &&
	    port_free(t, rules, proto, addr, want)) {
		*out = want;
		return 0;
	}
	/* A few ports just after the wanted one first (a near neighbour
	 * is as good as it gets)... */
	p = (want >= lo && want <= hi) ? want : lo;
	p += (t->owner + nb - p % nb) % nb;
	for (n = 0; n < 8 && p <= hi; n++, p += nb) {
		if (port_free(t, rules, proto, addr, (uint16_t)p)) {
			*out = (uint16_t)p;
			return 0;
		}
	}
	/* ...then the block from where the last search ended, not from
	 * `want`: many hosts wanting the same ports (1024, ...) would
	 * otherwise rescan the same taken run every time, quadratically. */
	p = (t->port_cursor >= lo && t->port_cursor <= hi) ? t->port_cursor : lo;
	p += (t->owner + nb - p % nb) % nb;
	count = (hi - lo) / nb + 1;
	for (n = 0; n < count && n < NAT_PORT_SCAN; n++) {
		if (p > hi) {
			p = lo + (t->owner + nb - lo % nb) % nb;
			if (p > hi)
				return -ENOSPC;
		}
		if (port_free(t, rules, proto, addr, (uint16_t)p)) {
			*out = (uint16_t)p;
			t->port_cursor = p + nb;
			return 0;
		}
		p += nb;
	}
	t->port_cursor = p;
	if (count <= NAT_PORT_SCAN)
		return -ENOSPC; /* all of the block was tried */
	first = lo + (t->owner + nb - lo % nb) % nb;
	for (n = 0; n < NAT_PORT_SCAN; n++) {
		/* xorshift32: cheap, and no syscall or lock on the datapath. */
		t->rnd ^= t->rnd << 13;
		t->rnd ^= t->rnd >> 17;
		t->rnd ^= t->rnd << 5;
		p = first + (t->rnd % count) * nb;
		if (p <= hi && port_free(t, rules, proto, addr, (uint16_t)p)) {
			*out = (uint16_t)p;
			return 0;
		}
	}
	return -ENOSPC;
}

/* The outside address of an inside host: RFC 4787 REQ-2 "paired" pooling,
 * by a hash of the inside address that every table computes alike. */
static uint32_t
snat_addr(const struct nat_rule *r, const struct nat_env *env, uint32_t inside)
{
	if (r->pool_lo == 0)
		return env->port_addr != NULL ? env->port_addr(env->ctx, r->out_port) : 0;
	if (r->pool_hi <= r->pool_lo)
		return r->pool_lo;
	return r->pool_lo + nat_hash32(0x70616972u, inside, 0, 0) % (r->pool_hi - r->pool_lo + 1);
}

/* ---- Rewriting ---- */

/* Give the packet the tuple `n`: addresses, ports (ICMP: identifier), and
 * the IP and L4 checksums, incrementally. */
static inline void
rewrite(struct nat_pkt *p, const struct nat_ep4 *n)
{
	uint8_t *ip = p->ip, *l4 = p->l4;
	/* The addresses count in the IP header's checksum and in TCP's and
	 * UDP's, through the pseudo-header (RFC 9293 3.1, RFC 768). */
	uint64_t da = csum_delta32(get32(ip + 12), n->src) + csum_delta32(get32(ip + 16), n->dst);
	uint32_t ports = (uint32_t)n->sport << 16 | n->dport;
	uint16_t c;

	put16(ip + 10, csum_apply(get16(ip + 10), da));
	put32(ip + 12, n->src);
	put32(ip + 16, n->dst);
	switch (p->proto) {
	case NAT_IPPROTO_TCP:
	case NAT_IPPROTO_UDP: {
		unsigned off = p->proto == NAT_IPPROTO_TCP ? 16 : 6;

		c = get16(l4 + off);
		/* RFC 768: a zero UDP checksum means none was computed. */
		if (p->proto == NAT_IPPROTO_UDP && c == 0)
			goto ports;
		/* Source and destination port: one 32-bit word. */
		c = csum_apply(c, da + csum_delta32(get32(l4), ports));
		if (p->proto == NAT_IPPROTO_UDP && c == 0)
			c = 0xffff; /* RFC 768: a computed zero is sent as all ones */
		put16(l4 + off, c);
	ports:
		put32(l4, ports);
		break;
	}
	case NAT_IPPROTO_ICMP:
		/* The ICMP checksum has no pseudo-header: only the identifier. */
		put16(l4 + 2, nat_csum_update16(get16(l4 + 2), get16(l4 + 4), n->sport));
		put16(l4 + 4, n->sport);
		break;
	}
}

/* The tuple a packet in direction `dir` of `s` leaves with. */
static void
xlate_tuple(const struct nat_session *s, unsigned dir, struct nat_ep4 *n)
{
	const struct nat_ep4 *o = &s->t[dir ^ 1];

	n->src = o->dst;
	n->dst = o->src;
	n->sport = o->dport;
	n->dport = o->sport;
}

/*
 * Change a 16-bit word of an ICMP error's quote: the outer ICMP checksum
 * covers it, and so may the quoted IP and L4 checksums (`c2`, `c3`, when
 * not NULL).  Every word of the quote sits at an even offset from the ICMP
 * header (8 bytes, then a header of 32-bit words), so the sums line up.
 */
static void
quote_set16(uint8_t *w, uint16_t v, uint16_t *icmpc, uint16_t *c2, uint16_t *c3)
{
	uint16_t old = get16(w);

	*icmpc = nat_csum_update16(*icmpc, old, v);
	if (c2 != NULL)
		*c2 = nat_csum_update16(*c2, old, v);
	if (c3 != NULL)
		*c3 = nat_csum_update16(*c3, old, v);
	put16(w, v);
}

static void
quote_set32(uint8_t *w, uint32_t v, uint16_t *icmpc, uint16_t *c2, uint16_t *c3)
{
	quote_set16(w, (uint16_t)(v >> 16), icmpc, c2, c3);
	quote_set16(w + 2, (uint16_t)v, icmpc, c2, c3);
}

/*
 * RFC 5508 REQ-3/4 (and RFC 5382 REQ-9 for TCP): an ICMP error about a
 * packet of a session is translated as a packet of that session going the
 * way the error goes: the outer addresses like a packet of that direction,
 * the quoted packet the other way round (it travelled the opposite way),
 * and every checksum that covers a changed word.
 */
static void
rewrite_icmp_error(struct nat_pkt *p, const struct nat_ep4 *r, const struct nat_ep4 *n)
{
	uint8_t *ip = p->ip, *ei = p->ei, *el4 = p->el4;
	uint16_t icmpc = get16(p->l4 + 2);
	uint16_t eipc = get16(ei + 10);
	uint16_t l4c = 0;
	uint16_t *pl4c = NULL;    /* the quoted L4 checksum, when quoted and in use */
	uint16_t *ppseudo = NULL; /* ... and when it covers the addresses */
	unsigned l4off = 0;
	uint16_t c;

	/* The outer header: the source only when the session changes it in
	 * this direction (a router on the outside keeps its own address; one
	 * on the inside is hidden behind the NAT's address, as Linux does). */
	c = get16(ip + 10);
	if (n->src != r->src) {
		c = nat_csum_update32(c, get32(ip + 12), n->src);
		put32(ip + 12, n->src);
	}
	if (n->dst != r->dst) {
		c = nat_csum_update32(c, get32(ip + 16), n->dst);
		put32(ip + 16, n->dst);
	}
	put16(ip + 10, c);

	switch (p->eproto) {
	case NAT_IPPROTO_TCP:
		l4off = 16;
		break;
	case NAT_IPPROTO_UDP:
		l4off = 6;
		break;
	default:
		l4off = 2;
		break;
	}
	if (p->elen >= l4off + 2) {
		l4c = get16(el4 + l4off);
		if (!(p->eproto == NAT_IPPROTO_UDP && l4c == 0)) {
			pl4c = &l4c;
			if (p->eproto != NAT_IPPROTO_ICMP)
				ppseudo = &l4c;
		}
	}
	/* The quote went the other way: its source is our destination. */
	quote_set32(ei + 12, n->dst, &icmpc, &eipc, ppseudo);
	quote_set32(ei + 16, n->src, &icmpc, &eipc, ppseudo);
	if (p->eproto == NAT_IPPROTO_ICMP) {
		quote_set16(el4 + 4, n->dport, &icmpc, pl4c, NULL);
	} else {
		quote_set16(el4, n->dport, &icmpc, pl4c, NULL);
		quote_set16(el4 + 2, n->sport, &icmpc, pl4c, NULL);
	}
	/* Last, the quoted checksums themselves, which the ICMP one covers. */
	quote_set16(ei + 10, eipc, &icmpc, NULL, NULL);
	if (pl4c != NULL) {
		if (p->eproto == NAT_IPPROTO_UDP && l4c == 0)
			l4c = 0xffff;
		quote_set16(el4 + l4off, l4c, &icmpc, NULL, NULL);
	}
	put16(p->l4 + 2, icmpc);
}

/* ---- The entry point ---- */

static enum nat_verdict
verdict(struct nat_table *t, enum nat_verdict v)
{
	switch (v) {
	case NAT_PASS:
		t->ctr[NAT_MIB_Untranslated]++;
		break;
	case NAT_DONE:
		t->ctr[NAT_MIB_Translated]++;
		break;
	case NAT_BAD:
		t->ctr[NAT_MIB_BadPackets]++;
		break;
	default:
		break;
	}
	return v;
}

static enum nat_verdict
icmp_error(struct nat_table *t, const struct nat_rules *rules, const struct nat_env *env,
           struct nat_pkt *p, unsigned *owner)
{
	struct nat_ep4 r, n;
	struct nat_session *s;
	unsigned dir, o;

	/* The packet the quote answers would have had the reverse tuple. */
	r.src = p->e.dst;
	r.dst = p->e.src;
	r.sport = p->e.dport;
	r.dport = p->e.sport;
	o = owner_of(t, rules, env, p->eproto, &r);
	if (o != t->owner) {
		*owner = o;
		return NAT_OTHER_OWNER;
	}
	s = nat_sess_lookup(t, p->eproto, &r, &dir);
	if (s == NULL)
		return verdict(t, NAT_PASS);
	/* Errors do not refresh the session (Linux's neither): a stream of
	 * them would keep a dead one alive. */
	xlate_tuple(s, dir, &n);
	rewrite_icmp_error(p, &r, &n);
	t->ctr[NAT_MIB_IcmpErrorsTranslated]++;
	return verdict(t, NAT_DONE);
}

/* Does an exempt rule take `e` out of NAT altogether? */
static bool
is_exempt(const struct nat_rules *rules, const struct nat_ep4 *e)
{
	for (unsigned i = 0; i < rules->n; i++) {
		const struct nat_rule *r = &rules->r[i];

		if (r->type == NAT_EXEMPT && in_prefix(e->src, r->prefix, r->mask) &&
		    in_prefix(e->dst, r->prefix2, r->mask2))
			return true;
	}
	return false;
}

/*
 * A packet NAT cannot translate (a protocol with no ports NAT knows: GRE,
 * ESP, SCTP, ICMP queries other than echo) that a STATIC or SNAT rule would
 * have translated, had it been TCP, UDP or echo: refused, since passing it
 * would leak the inside address.  The same order as new_session.
 */
static bool
untranslatable_from_inside(const struct nat_rules *rules, const struct nat_env *env,
                           const struct nat_pkt *p)
{
	uint16_t out_port = 0;
	bool routed, local;
	unsigned i;

	if (is_exempt(rules, &p->e))
		return false;
	routed = env->route != NULL && env->route(env->ctx, p->e.dst, &out_port) == 0;
	local = env->is_local != NULL && env->is_local(env->ctx, p->e.dst);
	if (!routed || local)
		return false;
	for (i = 0; i < rules->n; i++) {
		const struct nat_rule *r = &rules->r[i];

		if (r->type == NAT_STATIC && r->prefix == p->e.src)
			return true;
		if (r->type == NAT_SNAT && in_prefix(p->e.src, r->prefix, r->mask) &&
		    out_port == r->out_port)
			return true;
	}
	return false;
}

/* Is `port` the egress port of an SNAT rule, i.e. outside?  What comes in
 * there is never hairpinned, whatever other uplinks' rules match it. */
static bool
is_snat_out_port(const struct nat_rules *rules, uint16_t port)
{
	for (unsigned i = 0; i < rules->n; i++)
		if (rules->r[i].type == NAT_SNAT && rules->r[i].out_port == port)
			return true;
	return false;
}

/*
 * A STATIC host hairpinning (to a DNAT or STATIC address or a mapping):
 * the session lives on the table of the destination port (owner_of), but
 * the answers, to the static address and the source port, go to the
 * table of that port.  With several tables, a source port of another
 * table's block (or one whose answers are another session's) is replaced
 * by the nearest of ours whose answers are no other session's (RFC 4787
 * REQ-3 prefers the port kept, but the answers must find the session).
 * Returns 0, or -ENOSPC.
 */
static int
st_src_port(struct nat_table *t, const struct nat_pkt *p, struct nat_ep4 *x)
{
	uint32_t nb = t->nb_owners, port = p->e.sport;
	struct nat_ep4 r = { .src = x->dst, .dst = x->src, .sport = x->dport };
	unsigned dir, n;

	if (nb <= 1 || p->proto == NAT_IPPROTO_ICMP)
		return 0; /* ICMP: the identifier is the destination's "port" too */
	/* From the port itself when it is ours: kept unless an earlier
	 * replacement took its answers. */
	port += (t->owner + nb - port % nb) % nb;
	for (n = 0; n < NAT_PORT_SCAN; n++, port += nb) {
		if (port > 65535)
			port = 1024 + (t->owner + nb - 1024 % nb) % nb;
		r.dport = (uint16_t)port;
		if (nat_sess_lookup(t, p->proto, &r, &dir) == NULL) {
			x->sport = (uint16_t)port;
			return 0;
		}
	}
	return -ENOSPC;
}

/* No session: the rules decide whether one is opened (nat.h order). */
static enum nat_verdict
new_session(struct nat_table *t, const struct nat_rules *rules, const struct nat_env *env,
            struct nat_pkt *p, uint16_t in_port, uint64_t now)
{
	const struct nat_rule *sn = NULL, *st_src = NULL;
	struct nat_session *s, *filt = NULL;
	struct nat_ep4 x = p->e;
	bool dst_x = false, map_in = false, hairpin = false, hp_wait = false, routed, local;
	uint16_t out_port = 0;
	int state = NAT_TCP_NONE;
	unsigned i;

	/* Only a query opens an ICMP session, never its answer. */
	if (p->proto == NAT_IPPROTO_ICMP && p->icmp_type != ICMP_ECHO)
		return verdict(t, NAT_PASS);

	/* 1. Exemptions. */
	if (is_exempt(rules, &p->e))
		return verdict(t, NAT_PASS);

	/* 2. The destination: STATIC, then DNAT, then an existing mapping. */
	for (i = 0; i < rules->n && !dst_x; i++) {
		const struct nat_rule *r = &rules->r[i];

		if (r->type == NAT_STATIC && r->ext_addr == p->e.dst) {
			x.dst = r->prefix;
			dst_x = true;
		}
	}
	for (i = 0; i < rules->n && !dst_x; i++) {
		const struct nat_rule *r = &rules->r[i];

		if (dnat_match(r, p->proto, &p->e)) {
			x.dst = r->to_addr;
			if (dnat_maps_port(r) && r->to_port != 0)
				x.dport = r->to_port;
			dst_x = true;
		}
	}
	if (!dst_x && p->proto != NAT_IPPROTO_ICMP) {
		struct nat_session *h = nat_map_by_outside(t, p->proto, p->e.dst, p->e.dport);

		if (h != NULL) {
			/* RFC 4787 5: filtered once the source is known, since a
			 * hairpinned packet is filtered as coming from the
			 * sender's outside endpoint (REQ-9). */
			if (rules->filtering != NAT_FILTER_EIF)
				filt = h;
			nat_map_inside(h, &x.dst, &x.dport);
			dst_x = map_in = true;
		}
	}
	if (!dst_x && is_nat_addr(rules, env, p->e.dst)) {
		/* Unsolicited, to one of our outside addresses: the router's
		 * own services may take it; a pool address is nobody's. */
		if (env->is_local != NULL && env->is_local(env->ctx, p->e.dst))
			return verdict(t, NAT_PASS);
		t->ctr[NAT_MIB_FilteredIn]++;
		return NAT_DROP;
	}

	/* 3. Routing of the (translated) destination. */
	routed = env->route != NULL && env->route(env->ctx, x.dst, &out_port) == 0;
	local = env->is_local != NULL && env->is_local(env->ctx, x.dst);

	/* 4. The source: STATIC, else SNAT by egress port, or hairpinning
	 * (RFC 4787 REQ-9): a packet from inside to one of our outside
	 * addresses goes back inside, and must look to its target as if it
	 * came from the sender's mapping. */
	for (i = 0; i < rules->n; i++) {
		const struct nat_rule *r = &rules->r[i];

		/* Like SNAT, only what will be forwarded: with no route the
		 * host must get ternd's unreachable, about its own address
		 * (and a packet for ternd itself is not translated). */
		if (r->type == NAT_STATIC && r->prefix == p->e.src && (routed || dst_x) && !local) {
			st_src = r;
			x.src = r->ext_addr;
			break;
		}
	}
	/* A rule for the egress port first (docs/nat.md: an SNAT rule's out
	 * port is the egress port), even when an earlier rule could
	 * hairpin: a DNAT target outside leaves by its uplink, with that
	 * uplink's address. */
	for (i = 0; i < rules->n && st_src == NULL && routed && !local; i++) {
		const struct nat_rule *r = &rules->r[i];

		if (r->type == NAT_SNAT && in_prefix(p->e.src, r->prefix, r->mask) &&
		    out_port == r->out_port) {
			sn = r;
			break;
		}
	}
	for (i = 0; i < rules->n && st_src == NULL && sn == NULL && rules->hairpin && dst_x; i++) {
		const struct nat_rule *r = &rules->r[i];

		if (r->type == NAT_SNAT && in_prefix(p->e.src, r->prefix, r->mask) &&
		    !is_snat_out_port(rules, in_port)) {
			sn = r;
			hairpin = true;
			break;
		}
	}
	if (!dst_x && st_src == NULL && sn == NULL)
		return verdict(t, NAT_PASS);
	/* RFC 4787 5, a packet from outside on a mapping: ADF lets in the
	 * hosts the mapping has sent to, APDF only an exact session, and the
	 * lookup already failed. */
	if (filt != NULL && sn == NULL && st_src == NULL &&
	    (rules->filtering != NAT_FILTER_ADF || !nat_map_sent_to(t, filt, p->e.src, 0, false))) {
		t->ctr[NAT_MIB_FilteredIn]++;
		return NAT_DROP;
	}

	if (p->proto == NAT_IPPROTO_TCP) {
		state = nat_tcp_new_state(p->tcp_flags);
		if (state < 0) {
			/* conntrack's "invalid": a stray RST, FIN or SYN-ACK
			 * opens nothing, and must not leak out untranslated. */
			t->ctr[NAT_MIB_Untranslated]++;
			return NAT_DROP;
		}
	}
	if ((sn != NULL || st_src != NULL) && t->cfg.max_per_host != 0 &&
	    nat_host_count(t, p->e.src) >= t->cfg.max_per_host) {
		t->ctr[NAT_MIB_HostLimit]++;
		return NAT_DROP;
	}
	s = nat_sess_alloc(t);
	if (s == NULL)
		return NAT_DROP;
	s->proto = p->proto;
	if (sn != NULL) {
		/* RFC 4787 REQ-1: one mapping per inside endpoint, whatever the
		 * destination.  Looked up after the allocation, which may have
		 * reclaimed a session of it. */
		struct nat_session *h = nat_map_by_inside(t, p->proto, p->e.src, p->e.sport);

		if (h != NULL) {
			nat_map_outside(h, &x.src, &x.sport);
		} else {
			x.src = snat_addr(sn, env, p->e.src);
			if (x.src == 0 ||
			    port_alloc(t, rules, sn, p->proto, x.src, p->e.sport, &x.sport) < 0) {
				nat_sess_unalloc(t, s);
				t->ctr[NAT_MIB_PortsExhausted]++;
				return NAT_DROP;
			}
		}
		s->flags |= NSF_MAPPED | NSF_HOSTCNT;
	} else if (st_src != NULL) {
		s->flags |= NSF_HOSTCNT;
		if (dst_x && st_src_port(t, p, &x) < 0) {
			nat_sess_unalloc(t, s);
			t->ctr[NAT_MIB_PortsExhausted]++;
			return NAT_DROP;
		}
	} else if (map_in) {
		s->flags |= NSF_MAPPED | NSF_MAP_IN;
	}
	/*
	 * RFC 4787 REQ-9: a hairpinned packet is filtered as coming from the
	 * sender's outside endpoint, x.src:x.sport.  Refused, it still leaves
	 * what its way out through the NAT would have: a session of the
	 * sender's mapping towards the target's, which lets the target's
	 * answer in (hole punching between two inside hosts).  Held back
	 * (NSF_HP_WAIT: not found by its orig tuple) until that answer comes.
	 */
	if (filt != NULL && (sn != NULL || st_src != NULL) &&
	    !nat_map_sent_to(t, filt, x.src, x.sport, rules->filtering == NAT_FILTER_APDF)) {
		s->flags |= NSF_HP_WAIT;
		hp_wait = true;
	}
	if (p->proto == NAT_IPPROTO_ICMP)
		x.dport = x.sport; /* one identifier for both "ports" */
	s->t[NAT_DIR_ORIG] = p->e;
	s->t[NAT_DIR_REPLY].src = x.dst;
	s->t[NAT_DIR_REPLY].dst = x.src;
	s->t[NAT_DIR_REPLY].sport = x.dport;
	s->t[NAT_DIR_REPLY].dport = x.sport;
	s->tcp_state = (uint8_t)state;
	{
		unsigned d;

		/* Another session already answers to this reply tuple (say a
		 * DNAT target that also talks out from the same port). */
		if (nat_sess_lookup(t, p->proto, &s->t[NAT_DIR_REPLY], &d) != NULL) {
			nat_sess_unalloc(t, s);
			t->ctr[NAT_MIB_FilteredIn]++;
			return NAT_DROP;
		}
	}
	nat_sess_insert(t, s, now);
	if (hp_wait) {
		t->ctr[NAT_MIB_FilteredIn]++;
		return NAT_DROP;
	}
	nat_sess_touch(t, s, NAT_DIR_ORIG, p->tot, p->tcp_flags, now);
	if (hairpin)
		t->ctr[NAT_MIB_Hairpinned]++;
	rewrite(p, &x);
	return verdict(t, NAT_DONE);
}

static const struct nat_rules no_rules;

void
nat_prepare(const struct nat_table *t, uint8_t *pkt, uint32_t len, uint32_t pkt_len, unsigned stage,
            struct nat_prep *prep)
{
	if (stage != 0) {
		if (prep->hashed)
			nat_sess_prefetch(t, 0, NULL, 1, &prep->h);
		return;
	}
	prep->parsed = (uint8_t)parse(pkt, len, pkt_len, &prep->p);
	/* ICMP errors are looked up by the reversed quote, elsewhere. */
	prep->hashed = prep->parsed == P_OK && !prep->p.icmp_err;
	if (prep->hashed)
		nat_sess_prefetch(t, prep->p.proto, &prep->p.e, 0, &prep->h);
}

enum nat_verdict
nat_translate(struct nat_table *t, const struct nat_rules *rules, const struct nat_env *env,
              uint8_t *pkt, uint32_t len, uint16_t in_port, uint64_t now, unsigned *owner)
{
	struct nat_prep prep;

	nat_prepare(t, pkt, len, len, 0, &prep);
	return nat_translate_prepared(t, rules, env, &prep, in_port, now, owner);
}

enum nat_verdict
nat_translate_prepared(struct nat_table *t, const struct nat_rules *rules,
                       const struct nat_env *env, struct nat_prep *prep, uint16_t in_port,
                       uint64_t now, unsigned *owner)
{
	struct nat_pkt *p = &prep->p;
	struct nat_session *s;
	struct nat_ep4 n;
	unsigned dir, o;

	/* Before the first rule set is published: sessions only, none new. */
	if (rules == NULL)
		rules = &no_rules;
	switch ((enum parse_rc)prep->parsed) {
	case P_BAD:
		return verdict(t, NAT_BAD);
	case P_PASS:
		if (!p->icmp_err && untranslatable_from_inside(rules, env, p)) {
			t->ctr[NAT_MIB_Untranslatable]++;
			return NAT_DROP;
		}
		return verdict(t, NAT_PASS);
	default:
		break;
	}
	if (now > t->now)
		t->now = now;
	if (p->icmp_err)
		return icmp_error(t, rules, env, p, owner);
	o = owner_of(t, rules, env, p->proto, &p->e);
	if (o != t->owner) {
		*owner = o;
		return NAT_OTHER_OWNER;
	}
	s = nat_sess_lookup_hashed(t, p->proto, &p->e, &dir, prep->h);
	if (s == NULL)
		return new_session(t, rules, env, p, in_port, now);
	/* ICMP sessions are opened by a request: only requests go the orig
	 * way and only replies come back (a request arriving on the reply
	 * tuple is someone else pinging the mapping). */
	if (p->proto == NAT_IPPROTO_ICMP &&
	    p->icmp_type != (dir == NAT_DIR_ORIG ? ICMP_ECHO : ICMP_ECHO_REPLY))
		return verdict(t, NAT_PASS);
	nat_sess_touch(t, s, dir, p->tot, p->tcp_flags, now);
	xlate_tuple(s, dir, &n);
	rewrite(p, &n);
	return verdict(t, NAT_DONE);
}
