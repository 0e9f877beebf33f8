/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * udp_input: datagrams for us (RFC 768).  Checks the length and, when it is
 * not zero, the checksum; then demultiplexes on the destination port.
 */
#include <errno.h>

#include <rte_graph.h>
#include <rte_graph_worker.h>
#include <rte_ip.h>
#include <rte_malloc.h>
#include <rte_udp.h>

#include "core/ctl.h"
#include "core/drop.h"
#include "core/init.h"
#include "core/node.h"
#include "ip/ip_priv.h"
#include "udp/udp.h"

enum {
	UDP_INPUT_NEXT_ICMP_ERROR,
	UDP_INPUT_NEXT_RUNT,
	UDP_INPUT_NEXT_LEN,
	UDP_INPUT_NEXT_CHECKSUM,
	UDP_INPUT_NEXT_FIRST_RECEIVER,
};

/* Written by TERN_INIT hooks before any graph exists, then read-only. */
static rte_edge_t receiver_edge[UDP_MAX_RECEIVERS];
static unsigned nb_receivers;
static rte_edge_t default_edge; /* ports no receiver is bound to, or 0 */
static int (*default_port_check)(uint16_t port);

int
udp_default_receiver_register(const char *node_name, int (*port_check)(uint16_t port))
{
	int rc;

	if (default_edge != 0)
		return -EEXIST;
	if ((rc = tern_node_add_edge("udp_input", node_name, &default_edge)) < 0)
		return rc;
	default_port_check = port_check;
	return 0;
}

int
udp_receiver_register(const char *node_name)
{
	int rc;

	if (nb_receivers == UDP_MAX_RECEIVERS)
		return -ENOSPC;
	if ((rc = tern_node_add_edge("udp_input", node_name, &receiver_edge[nb_receivers])) < 0)
		return rc;
	return (int)nb_receivers++;
}

rte_edge_t udp_input_classify(const struct tern_dp *dp, struct rte_mbuf *m);
rte_edge_t
udp_input_classify(const struct tern_dp *dp, struct rte_mbuf *m)
{
	const struct rte_ipv4_hdr *ip = rte_pktmbuf_mtod(m, const struct rte_ipv4_hdr *);
	const struct udp_port_map *map = dp->udp;
	uint32_t plen = rte_pktmbuf_pkt_len(m) - m->l3_len;
	struct rte_udp_hdr *udp;
	uint16_t ulen;
	uint8_t r;

	if (unlikely(plen < sizeof(*udp) || rte_pktmbuf_data_len(m) < m->l3_len + sizeof(*udp)))
		return UDP_INPUT_NEXT_RUNT;
	udp = rte_pktmbuf_mtod_offset(m, struct rte_udp_hdr *, m->l3_len);
	ulen = rte_be_to_cpu_16(udp->dgram_len);
	/* RFC 768: the length covers header and data; IP may carry more. */
	if (unlikely(ulen < sizeof(*udp) || ulen > plen))
		return UDP_INPUT_NEXT_LEN;
	if (unlikely(ulen < plen)) {
		struct rte_ipv4_hdr *w = rte_pktmbuf_mtod(m, struct rte_ipv4_hdr *);

		tern_mbuf_truncate(m, m->l3_len + ulen);
		w->total_length = rte_cpu_to_be_16((uint16_t)(m->l3_len + ulen));
		w->hdr_checksum = 0;
		w->hdr_checksum = rte_ipv4_cksum(w);
	}
	/* A zero checksum means the sender computed none (RFC 768). */
	if (udp->dgram_cksum != 0 && !(m->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_GOOD) &&
	    unlikely(rte_ipv4_udptcp_cksum_mbuf_verify(m, ip, m->l3_len) != 0))
		return UDP_INPUT_NEXT_CHECKSUM;
	m->l4_len = sizeof(*udp);
	r = map != NULL ? map->receiver[rte_be_to_cpu_16(udp->dst_port)] : 0;
	if (likely(r != 0))
		return receiver_edge[r - 1];
	/* The socket layer looks for a socket; it sends port unreachable. */
	if (default_edge != 0)
		return default_edge;
	ip_mark_icmp_error(m, TERN_ICMP_DEST_UNREACH, TERN_ICMP_PORT_UNREACH, 0);
	return UDP_INPUT_NEXT_ICMP_ERROR;
}

static uint16_t
udp_input_process(struct rte_graph *graph, struct rte_node *node, void **objs, uint16_t nb)
{
	return tern_node_process(graph, node, objs, nb, udp_input_classify);
}

static struct rte_node_register udp_input_node = {
	.name = "udp_input",
	.process = udp_input_process,
	.init = tern_node_ctx_init,
	.nb_edges = UDP_INPUT_NEXT_FIRST_RECEIVER,
	.next_nodes = {
		[UDP_INPUT_NEXT_ICMP_ERROR] = "icmp_error",
		[UDP_INPUT_NEXT_RUNT] = TERN_DROP_NODE("udp_runt"),
		[UDP_INPUT_NEXT_LEN] = TERN_DROP_NODE("udp_len"),
		[UDP_INPUT_NEXT_CHECKSUM] = TERN_DROP_NODE("udp_checksum"),
	},
};
RTE_NODE_REGISTER(udp_input_node);

/* Control thread: the current map, copied, edited and published. */
static int
map_publish(uint16_t port, uint8_t value)
{
	const struct tern_dp *cur = tern_dp_current();
	struct udp_port_map *next = rte_malloc("udp_map", sizeof(*next), RTE_CACHE_LINE_SIZE);
	const struct udp_port_map *old = cur->udp;
	struct tern_dp *dp;

	if (next == NULL)
		return -ENOMEM;
	if (old != NULL)
		rte_memcpy(next, old, sizeof(*next));
	else
		memset(next, 0, sizeof(*next));
	next->receiver[port] = value;
	if ((dp = tern_dp_copy()) == NULL) {
		rte_free(next);
		return -ENOMEM;
	}
	dp->udp = next;
	tern_dp_publish(dp); /* waits a grace period: nobody reads `old` now */
	rte_free((void *)(uintptr_t)old);
	return 0;
}

int
udp_bind(uint16_t port, int id)
{
	if (id >= (int)nb_receivers)
		return -EINVAL;
	return map_publish(port, (uint8_t)(id < 0 ? 0 : id + 1));
}

int
udp_bound(uint16_t port)
{
	const struct udp_port_map *map = tern_dp_current()->udp;

	return map != NULL ? (int)map->receiver[port] - 1 : -1;
}

int
udp_port_free(uint16_t port)
{
	if (udp_bound(port) >= 0)
		return -EADDRINUSE;
	/* A socket's port: datagrams would go to the receiver instead. */
	return default_port_check != NULL ? default_port_check(port) : 0;
}

static int
udp_init(void)
{
	return ip_local_register(IPPROTO_UDP, "udp_input");
}
TERN_INIT(udp_init);

static void
udp_fini(void)
{
	const struct tern_dp *dp = tern_dp_current();

	if (dp != NULL)
		rte_free((void *)(uintptr_t)dp->udp);
}
TERN_FINI(udp_fini);
