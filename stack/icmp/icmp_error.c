/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * icmp_error: turns a packet marked with ip_mark_icmp_error() into the ICMP
 * error about it (RFC 792; RFC 1812 4.3.2), sent back to its source, and
 * frees the original.
 *
 * No error is sent about (RFC 1812 4.3.2.7): an ICMP error, a packet to a
 * broadcast or multicast address (IP or link layer), a non-first fragment,
 * or a packet whose source is not a unicast host.  Errors are rate limited
 * per worker by a token bucket (`icmp ratelimit`, default 1000/s, burst 50,
 * as Linux's icmp_msgs_per_sec and icmp_msgs_burst).
 */
#include <string.h>

#include <rte_ether.h>
#include <rte_graph.h>
#include <rte_graph_worker.h>
#include <rte_icmp.h>
#include <rte_ip.h>

#include "core/ctl.h"
#include "core/drop.h"
#include "core/node.h"
#include "ip/ip_nodes.h"
#include "ip/ip_priv.h"
#include "mgmt/cli.h"

/* RFC 1812 4.3.2.3: as much of the original as fits in 576 bytes. */
#define ICMP_ERROR_MAX_QUOTE (576 - sizeof(struct rte_ipv4_hdr) - sizeof(struct rte_icmp_hdr))

/*
 * Each packet is counted once: under the cause of its error when the error
 * went out (ip_no_route, ip_ttl_exceeded...), else under the reason no error
 * went out (icmp_no_error, icmp_rate_limit, icmp_no_mbuf).
 */
enum {
	ICMP_ERROR_NEXT_OUTPUT,
	ICMP_ERROR_NEXT_NOT_ALLOWED,
	ICMP_ERROR_NEXT_RATE_LIMIT,
	ICMP_ERROR_NEXT_NO_MBUF,
	ICMP_ERROR_NEXT_NO_ROUTE,
	ICMP_ERROR_NEXT_CAUSE_NET,
	ICMP_ERROR_NEXT_CAUSE_HOST,
	ICMP_ERROR_NEXT_CAUSE_PROTO,
	ICMP_ERROR_NEXT_CAUSE_PORT,
	ICMP_ERROR_NEXT_CAUSE_MTU,
	ICMP_ERROR_NEXT_CAUSE_TTL,
	ICMP_ERROR_NEXT_MAX,
};

static rte_edge_t
cause_edge(uint8_t type, uint8_t code)
{
	if (type == TERN_ICMP_TIME_EXCEEDED)
		return ICMP_ERROR_NEXT_CAUSE_TTL;
	switch (code) {
	case 1:
		return ICMP_ERROR_NEXT_CAUSE_HOST;
	case 2:
		return ICMP_ERROR_NEXT_CAUSE_PROTO;
	case 3:
		return ICMP_ERROR_NEXT_CAUSE_PORT;
	case 4:
		return ICMP_ERROR_NEXT_CAUSE_MTU;
	default:
		return ICMP_ERROR_NEXT_CAUSE_NET;
	}
}

/* Node context after the worker pointer: this worker's token bucket. */
struct icmp_error_ctx {
	struct tern_worker *w;
	uint32_t tokens;  /* in thousandths of a token */
	uint32_t last_ms; /* low 32 bits of the last refill time */
};

static bool
icmp_is_error(uint8_t type)
{
	return type == TERN_ICMP_DEST_UNREACH || type == TERN_ICMP_SOURCE_QUENCH ||
	       type == TERN_ICMP_REDIRECT || type == TERN_ICMP_TIME_EXCEEDED ||
	       type == TERN_ICMP_PARAMETERPROB;
}

/* RFC 1812 4.3.2.7: may we send an error about `m`? */
bool
icmp_error_allowed(const struct tern_dp *dp, struct rte_mbuf *m)
{
	uint32_t idx;
	const struct rte_ipv4_hdr *ip = rte_pktmbuf_mtod(m, const struct rte_ipv4_hdr *);
	uint32_t src = rte_be_to_cpu_32(ip->src_addr), dst = rte_be_to_cpu_32(ip->dst_addr);
	uint16_t hl = (uint16_t)((ip->version_ihl & 0xf) * 4);

	/* A packet we built ourselves (no ingress port: ARP failed for it)
	 * has nobody to tell on the wire; and the error leaves from the
	 * address of the port the packet came in by. */
	if (m->port >= RTE_MAX_ETHPORTS || dp->port[m->port].ip4 == 0)
		return false;
	if (ip_l2_multicast(m))
		return false;
	if (dst == 0xffffffff || (dst >> 28) == 14)
		return false;
	/* A subnet's broadcast address, whatever the frame's MAC said. */
	if ((idx = ip_fib_lookup(dp, ip->dst_addr)) != 0 && dp->nh[idx].type == TERN_NH_BROADCAST)
		return false;
	if (src == 0 || (src >> 28) >= 14 || (src >> 24) == 127)
		return false;
	if (ip->fragment_offset & rte_cpu_to_be_16(RTE_IPV4_HDR_OFFSET_MASK))
		return false;
	if (ip->next_proto_id == IPPROTO_ICMP) {
		/* Read across segments: a fragment from ip_frag has its IP
		 * header alone in the first one. */
		uint8_t buf;
		const uint8_t *type = rte_pktmbuf_read(m, hl, 1, &buf);

		if (type == NULL || icmp_is_error(*type))
			return false;
	}
	return true;
}

static bool
rate_ok(struct icmp_error_ctx *ctx, const struct tern_dp *dp, uint64_t now_ms)
{
	if (dp->icmp_rate == 0)
		return true; /* icmp ratelimit 0: no limit */

	uint32_t now = (uint32_t)now_ms, burst = dp->icmp_burst * 1000u;
	uint64_t refill = (uint64_t)(now - ctx->last_ms) * dp->icmp_rate;

	ctx->last_ms = now;
	ctx->tokens = (uint32_t)RTE_MIN((uint64_t)burst, ctx->tokens + refill);
	if (ctx->tokens < 1000)
		return false;
	ctx->tokens -= 1000;
	return true;
}

/* Build the error about `m` into a new mbuf; NULL when out of mbufs. */
static struct rte_mbuf *
build(const struct tern_dp *dp, struct rte_mbuf *m)
{
	const struct rte_ipv4_hdr *orig = rte_pktmbuf_mtod(m, const struct rte_ipv4_hdr *);
	const struct tern_mbuf_priv *op = tern_mbuf_priv(m);
	uint32_t quote = RTE_MIN(rte_pktmbuf_pkt_len(m), (uint32_t)ICMP_ERROR_MAX_QUOTE);
	struct rte_mbuf *e = rte_pktmbuf_alloc(m->pool);
	struct rte_ipv4_hdr *ip;
	struct rte_icmp_hdr *icmp;
	uint16_t len = (uint16_t)(sizeof(*ip) + sizeof(*icmp) + quote);
	const void *quoted;

	if (e == NULL)
		return NULL;
	ip = (struct rte_ipv4_hdr *)rte_pktmbuf_append(e, len);
	if (ip == NULL) {
		rte_pktmbuf_free(e);
		return NULL;
	}
	icmp = (struct rte_icmp_hdr *)(ip + 1);
	*ip = (struct rte_ipv4_hdr){
		.version_ihl = RTE_IPV4_VHL_DEF,
		.total_length = rte_cpu_to_be_16(len),
		.time_to_live = TERN_IP_DEFAULT_TTL,
		.next_proto_id = IPPROTO_ICMP,
		.src_addr = dp->port[m->port].ip4,
		.dst_addr = orig->src_addr,
	};
	ip->hdr_checksum = rte_ipv4_cksum(ip);
	icmp->icmp_type = op->icmp_type;
	icmp->icmp_code = op->icmp_code;
	icmp->icmp_cksum = 0;
	/* The 32 bits after the checksum: unused, or the next-hop MTU in
	 * the low 16 bits for "fragmentation needed" (RFC 1191). */
	memcpy(&icmp->icmp_ident, &op->icmp_info, sizeof(op->icmp_info));
	quoted = rte_pktmbuf_read(m, 0, quote, icmp + 1);
	if (quoted != (const void *)(icmp + 1))
		rte_memcpy(icmp + 1, quoted, quote);
	icmp->icmp_cksum = (uint16_t)~rte_raw_cksum(icmp, sizeof(*icmp) + quote);
	e->l3_len = sizeof(*ip);
	return e;
}

/*
 * The offending packet, done with: counted under `edge`.  A redirect's is
 * ip_forward's copy (the packet itself went on): it is only freed, since
 * nothing was lost.
 */
static inline void
icmp_error_done(struct rte_graph *graph, struct rte_node *node, struct rte_mbuf *m, rte_edge_t edge)
{
	if (tern_mbuf_priv(m)->icmp_type == TERN_ICMP_REDIRECT)
		rte_pktmbuf_free(m);
	else
		rte_node_enqueue_x1(graph, node, edge, m);
}

/* Written by a TERN_INIT hook before any graph exists, then read-only. */
static rte_edge_t prerouting_edge;

int
icmp_error_prerouting(const char *node_name)
{
	return tern_node_add_edge("icmp_error", node_name, &prerouting_edge);
}

static uint16_t
icmp_error_process(struct rte_graph *graph, struct rte_node *node, void **objs, uint16_t nb)
{
	struct icmp_error_ctx *ctx = (struct icmp_error_ctx *)node->ctx;
	struct tern_worker *w = ctx->w;
	const struct tern_dp *dp = w->dp;

	for (uint16_t i = 0; i < nb; i++) {
		struct rte_mbuf *m = objs[i], *e;
		const struct tern_mbuf_priv *p = tern_mbuf_priv(m);
		rte_be32_t to = rte_pktmbuf_mtod(m, struct rte_ipv4_hdr *)->src_addr;
		uint8_t t;

		if (!icmp_error_allowed(dp, m)) {
			icmp_error_done(graph, node, m, ICMP_ERROR_NEXT_NOT_ALLOWED);
			continue;
		}
		if (!rate_ok(ctx, dp, w->now_ms)) {
			icmp_error_done(graph, node, m, ICMP_ERROR_NEXT_RATE_LIMIT);
			continue;
		}
		if ((e = build(dp, m)) == NULL) {
			icmp_error_done(graph, node, m, ICMP_ERROR_NEXT_NO_MBUF);
			continue;
		}
		if (dp->prerouting) {
			/* NAT translates it back if `m` was translated, then
			 * routes it (ip.h). */
			rte_node_enqueue_x1(graph, node, prerouting_edge, e);
		} else {
			t = ip_route(dp, e, to);
			rte_node_enqueue_x1(graph, node,
			                    (t == TERN_NH_CONNECTED || t == TERN_NH_GATEWAY)
			                        ? ICMP_ERROR_NEXT_OUTPUT
			                        : ICMP_ERROR_NEXT_NO_ROUTE,
			                    e);
		}
		icmp_error_done(graph, node, m, cause_edge(p->icmp_type, p->icmp_code));
	}
	return nb;
}

static int
icmp_error_init(const struct rte_graph *graph, struct rte_node *node)
{
	struct icmp_error_ctx *ctx = (struct icmp_error_ctx *)node->ctx;
	int rc = tern_node_ctx_init(graph, node);

	RTE_BUILD_BUG_ON(sizeof(*ctx) > RTE_NODE_CTX_SZ);
	ctx->tokens = 0;
	ctx->last_ms = 0;
	return rc;
}

static struct rte_node_register icmp_error_node = {
	.name = "icmp_error",
	.process = icmp_error_process,
	.init = icmp_error_init,
	.nb_edges = ICMP_ERROR_NEXT_MAX,
	.next_nodes = {
		[ICMP_ERROR_NEXT_OUTPUT] = "ip_output",
		[ICMP_ERROR_NEXT_NOT_ALLOWED] = TERN_DROP_NODE("icmp_no_error"),
		[ICMP_ERROR_NEXT_RATE_LIMIT] = TERN_DROP_NODE("icmp_rate_limit"),
		[ICMP_ERROR_NEXT_NO_MBUF] = TERN_DROP_NODE("icmp_no_mbuf"),
		[ICMP_ERROR_NEXT_NO_ROUTE] = TERN_DROP_NODE("icmp_no_route"),
		[ICMP_ERROR_NEXT_CAUSE_NET] = TERN_DROP_NODE("ip_no_route"),
		[ICMP_ERROR_NEXT_CAUSE_HOST] = TERN_DROP_NODE("neigh_failed"),
		[ICMP_ERROR_NEXT_CAUSE_PROTO] = TERN_DROP_NODE("ip_unknown_proto"),
		[ICMP_ERROR_NEXT_CAUSE_PORT] = TERN_DROP_NODE("udp_no_port"),
		[ICMP_ERROR_NEXT_CAUSE_MTU] = TERN_DROP_NODE("ip_mtu"),
		[ICMP_ERROR_NEXT_CAUSE_TTL] = TERN_DROP_NODE("ip_ttl_exceeded"),
	},
};
RTE_NODE_REGISTER(icmp_error_node);

/* icmp ratelimit N [burst M]: ICMP errors per second per worker; 0: no limit. */
int
cli_icmp_ratelimit(struct cmd_ctx *c, int argc, char **argv)
{
	uint64_t rate, burst = 50;
	struct tern_dp *dp;
	int rc;

	if ((rc = cmd_parse_u64(c, "rate", argv[0], 0, 1000000, &rate)) < 0)
		return rc;
	if (argc == 3) {
		if (strcmp(argv[1], "burst") != 0)
			return out_err(c->out, EINVAL, "expected 'burst M', got '%s'", argv[1]);
		if ((rc = cmd_parse_u64(c, "burst", argv[2], 1, 1000000, &burst)) < 0)
			return rc;
	} else if (argc != 1) {
		return out_err(c->out, EINVAL, "usage: icmp ratelimit N [burst M]");
	}
	if (c->dry_run)
		return 0;
	if ((dp = tern_dp_copy()) == NULL)
		return out_err(c->out, ENOMEM, "out of memory");
	dp->icmp_rate = (uint32_t)rate;
	dp->icmp_burst = (uint32_t)burst;
	tern_dp_publish(dp);
	return 0;
}

/* icmp redirects on|off */
int
cli_icmp_redirects(struct cmd_ctx *c, int argc, char **argv)
{
	struct tern_dp *dp;
	bool on;

	(void)argc;
	if (strcmp(argv[0], "on") == 0)
		on = true;
	else if (strcmp(argv[0], "off") == 0)
		on = false;
	else
		return out_err(c->out, EINVAL, "expected 'on' or 'off', got '%s'", argv[0]);
	if (c->dry_run)
		return 0;
	if ((dp = tern_dp_copy()) == NULL)
		return out_err(c->out, ENOMEM, "out of memory");
	dp->icmp_redirects = on;
	tern_dp_publish(dp);
	return 0;
}

void
icmp_running_config(struct tern_out *o)
{
	const struct tern_dp *dp = tern_dp_current();

	if (dp != NULL && (dp->icmp_rate != 1000 || dp->icmp_burst != 50))
		out_text(o, "icmp ratelimit %u burst %u\n", dp->icmp_rate, dp->icmp_burst);
	if (dp != NULL && !dp->icmp_redirects)
		out_text(o, "icmp redirects off\n");
}
