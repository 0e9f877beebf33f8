/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ip_forward: packets in transit.  ip_input already routed them (priv
 * tx_port and nh_ip).  Here the TTL is checked and decremented with an
 * incremental checksum update (RFC 1624), or the packet gets an ICMP time
 * exceeded (RFC 1812 5.3.1); the egress MTU is checked; then the next hop's
 * MAC goes on (ip_out.h) and the packet goes to port_tx.  A packet going
 * back out the port it came in by may also earn its sender an ICMP
 * redirect (RFC 1812 5.2.7.2).
 */
#include <rte_graph.h>
#include <rte_graph_worker.h>
#include <rte_ip.h>

#include "core/drop.h"
#include "core/node.h"
#include "ip/ip_nodes.h"
#include "ip/ip_out.h"
#include "ip/ip_priv.h"

/* Always inlined into the node's loop: a call per packet costs more than
 * this body (it showed up as its own symbol in perf). */
static __rte_always_inline rte_edge_t
ip_forward_one(const struct tern_dp *dp, struct rte_mbuf *m)
{
	struct rte_ipv4_hdr *ip = rte_pktmbuf_mtod(m, struct rte_ipv4_hdr *);
	uint16_t mtu = dp->port[tern_mbuf_priv(m)->tx_port].mtu;
	bool too_big = rte_pktmbuf_pkt_len(m) > mtu;
	uint32_t sum;

	/* RFC 1812 5.3.4: a router MUST NOT forward what it received as a
	 * link-layer broadcast (every router on the link would); ip_input has
	 * already kept IP broadcasts and multicasts from coming here. */
	if (unlikely(ip_l2_multicast(m)))
		return IP_OUT_NEXT_L2_BROADCAST;
	if (unlikely(ip->time_to_live <= 1)) {
		ip_mark_icmp_error(m, TERN_ICMP_TIME_EXCEEDED, 0, 0);
		return IP_OUT_NEXT_ICMP_ERROR;
	}
	/* RFC 1191, checked before the TTL changes so that the error quotes the
	 * header as it arrived (as Linux does). */
	if (unlikely(too_big && (ip->fragment_offset & rte_cpu_to_be_16(RTE_IPV4_HDR_DF_FLAG)))) {
		ip_mark_icmp_error(m, TERN_ICMP_DEST_UNREACH, TERN_ICMP_FRAG_NEEDED, mtu);
		return IP_OUT_NEXT_ICMP_ERROR;
	}

	ip->time_to_live--;
	/* RFC 1624: the TTL is the high byte of its 16-bit word, so the
	 * checksum grows by 0x0100.  Folding with (sum >= 0xffff) rather than
	 * (sum >> 16) gives 0x0000, never 0xffff, as a full recomputation
	 * would (the -0 case of RFC 1624 section 3; Linux's ip_decrease_ttl). */
	sum = (uint32_t)ip->hdr_checksum + rte_cpu_to_be_16(0x0100);
	ip->hdr_checksum = (uint16_t)(sum + (sum >= 0xffff));
	/* RFC 791: DF clear, so fragment (ip_frag hands the pieces to
	 * ip_output). */
	return unlikely(too_big) ? IP_OUT_NEXT_FRAGMENT : IP_OUT_NEXT_PORT_TX;
}

rte_edge_t
ip_forward_classify(const struct tern_dp *dp, struct rte_mbuf *m)
{
	return ip_forward_one(dp, m);
}

/*
 * RFC 1812 5.2.7.2: `m`, about to be forwarded back out the port it came
 * in by, gets its sender a Redirect for Host (code 1, never the network
 * codes) naming the next hop, when the sender and the next hop share a
 * connected subnet of that port; options (a source route) never get this
 * far (ip_input drops them).  The packet itself is forwarded all the same.
 */
bool
ip_forward_redirect_due(const struct tern_dp *dp, struct rte_mbuf *m)
{
	const struct rte_ipv4_hdr *ip = rte_pktmbuf_mtod(m, const struct rte_ipv4_hdr *);
	const struct tern_mbuf_priv *p = tern_mbuf_priv(m);
	uint32_t idx;

	if (!dp->icmp_redirects || p->tx_port != m->port || p->nh_ip == ip->src_addr)
		return false;
	/* RFC 1812 4.3.2.7: never about a link-layer broadcast or multicast
	 * (the copy will not have the Ethernet header to tell). */
	if (ip_l2_multicast(m))
		return false;
	/* What ip_forward_one will drop, it answers itself. */
	if (ip->time_to_live <= 1 || rte_pktmbuf_pkt_len(m) > dp->port[p->tx_port].mtu)
		return false;
	idx = ip_fib_lookup(dp, ip->src_addr);
	return idx != 0 && dp->nh[idx].type == TERN_NH_CONNECTED && dp->nh[idx].port == m->port &&
	       ip_fib_lookup(dp, p->nh_ip) == idx;
}

/* Node context after the worker pointer: the redirect token bucket. */
struct ip_forward_ctx {
	struct tern_worker *w;
	uint32_t tokens;  /* in thousandths of a redirect */
	uint32_t last_ms; /* low 32 bits of the last refill */
};

/* Redirects per second and burst, per worker.  Their own budget, checked
 * before the copy: a host that ignores redirects would otherwise cost a
 * copy per packet and use up the error budget (frag needed...) of others. */
#define IP_REDIRECT_RATE  100
#define IP_REDIRECT_BURST 10

static bool
redirect_rate_ok(struct ip_forward_ctx *ctx, uint64_t now_ms)
{
	uint32_t now = (uint32_t)now_ms;
	uint64_t refill = (uint64_t)(now - ctx->last_ms) * IP_REDIRECT_RATE;

	ctx->last_ms = now;
	ctx->tokens = (uint32_t)RTE_MIN((uint64_t)IP_REDIRECT_BURST * 1000, ctx->tokens + refill);
	if (ctx->tokens < 1000)
		return false;
	ctx->tokens -= 1000;
	return true;
}

/* The redirect itself: a copy of what icmp_error quotes of `m` (576 bytes
 * at most, RFC 1812 4.3.2.3), taken before the TTL changes so that the
 * quote shows the header as it arrived (Linux too); `m` goes on unchanged.
 * Rare, so out of the loop. */
static __rte_noinline void
ip_forward_redirect(struct rte_graph *graph, struct rte_node *node, struct rte_mbuf *m)
{
	struct ip_forward_ctx *ctx = (struct ip_forward_ctx *)node->ctx;
	struct rte_mbuf *c;

	if (!redirect_rate_ok(ctx, ctx->w->now_ms))
		return;
	c = rte_pktmbuf_copy(m, m->pool, 0, 576 - sizeof(struct rte_ipv4_hdr) - 8);

	if (c == NULL)
		return; /* advice only: the packet itself is not lost */
	/* Its Ethernet header was not copied: none to look at. */
	c->l2_len = 0;
	ip_mark_icmp_error(c, TERN_ICMP_REDIRECT, TERN_ICMP_REDIRECT_HOST,
	                   rte_be_to_cpu_32(tern_mbuf_priv(m)->nh_ip));
	rte_node_enqueue_x1(graph, node, IP_OUT_NEXT_ICMP_ERROR, c);
}

static uint16_t
ip_forward_process(struct rte_graph *graph, struct rte_node *node, void **objs, uint16_t nb)
{
	struct tern_worker *w = tern_node_worker(node);
	/* Read once: the packet stores of the loop might alias them, so the
	 * compiler would load them again for every packet. */
	const struct tern_dp *dp = w->dp;
	const uint64_t now_ms = w->now_ms;
	struct ip_out_cache cache = { .valid = false };
	rte_edge_t next[TERN_NODE_CHUNK];

	for (uint16_t base = 0; base < nb; base += TERN_NODE_CHUNK) {
		uint16_t n = RTE_MIN(nb - base, TERN_NODE_CHUNK);

		for (uint16_t i = 0; i < n; i++) {
			struct rte_mbuf *m = objs[base + i];
			rte_edge_t e;

			if (unlikely(tern_mbuf_priv(m)->tx_port == m->port) &&
			    ip_forward_redirect_due(dp, m))
				ip_forward_redirect(graph, node, m);
			e = ip_forward_one(dp, m);
			if (likely(e == IP_OUT_NEXT_PORT_TX))
				e = ip_out_l2(dp, m, now_ms, &cache);
			next[i] = e;
		}
		tern_node_enqueue(graph, node, &objs[base], next, n, nb <= TERN_NODE_CHUNK);
	}
	return nb;
}

static int
ip_forward_init(const struct rte_graph *graph, struct rte_node *node)
{
	struct ip_forward_ctx *ctx = (struct ip_forward_ctx *)node->ctx;

	RTE_BUILD_BUG_ON(sizeof(*ctx) > RTE_NODE_CTX_SZ);
	ctx->tokens = IP_REDIRECT_BURST * 1000;
	ctx->last_ms = 0;
	return tern_node_ctx_init(graph, node);
}

static struct rte_node_register ip_forward_node = {
	.name = "ip_forward",
	.process = ip_forward_process,
	.init = ip_forward_init,
	.nb_edges = IP_OUT_NEXT_MAX,
	.next_nodes = { IP_OUT_NEXT_NODES },
};
RTE_NODE_REGISTER(ip_forward_node);
