/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * udp_echo: the UDP echo service (RFC 862), `service udp-echo [port N]`.
 * Each datagram goes back to its sender with addresses and ports swapped.
 * The UDP checksum covers both addresses and both ports, so swapping them
 * leaves it valid as it is; only the IP header is rebuilt.
 */
#include <errno.h>
#include <string.h>

#include <rte_graph.h>
#include <rte_graph_worker.h>
#include <rte_ip.h>
#include <rte_udp.h>

#include "core/drop.h"
#include "core/init.h"
#include "core/node.h"
#include "ip/ip_priv.h"
#include "mgmt/cli.h"
#include "udp/udp.h"

#define UDP_ECHO_PORT 7

enum {
	UDP_ECHO_NEXT_OUTPUT,
	UDP_ECHO_NEXT_NOT_UNICAST,
	UDP_ECHO_NEXT_NO_ROUTE,
	UDP_ECHO_NEXT_MAX,
};

rte_edge_t udp_echo_classify(const struct tern_dp *dp, struct rte_mbuf *m);
rte_edge_t
udp_echo_classify(const struct tern_dp *dp, struct rte_mbuf *m)
{
	struct rte_ipv4_hdr *ip = rte_pktmbuf_mtod(m, struct rte_ipv4_hdr *);
	struct rte_udp_hdr *udp = rte_pktmbuf_mtod_offset(m, struct rte_udp_hdr *, m->l3_len);
	rte_be16_t port = udp->src_port;

	/* Answer only what was sent to one of our addresses (no echo storms
	 * from broadcasts, RFC 862 leaves it to us). */
	if (!ip_route_is_local_unicast(dp, ip->dst_addr))
		return UDP_ECHO_NEXT_NOT_UNICAST;
	udp->src_port = udp->dst_port;
	udp->dst_port = port;
	return ip_reply(dp, m) ? UDP_ECHO_NEXT_OUTPUT : UDP_ECHO_NEXT_NO_ROUTE;
}

static uint16_t
udp_echo_process(struct rte_graph *graph, struct rte_node *node, void **objs, uint16_t nb)
{
	return tern_node_process(graph, node, objs, nb, udp_echo_classify);
}

static struct rte_node_register udp_echo_node = {
	.name = "udp_echo",
	.process = udp_echo_process,
	.init = tern_node_ctx_init,
	.nb_edges = UDP_ECHO_NEXT_MAX,
	.next_nodes = {
		[UDP_ECHO_NEXT_OUTPUT] = "ip_output",
		[UDP_ECHO_NEXT_NOT_UNICAST] = TERN_DROP_NODE("udp_echo_not_unicast"),
		[UDP_ECHO_NEXT_NO_ROUTE] = TERN_DROP_NODE("icmp_no_route"),
	},
};
RTE_NODE_REGISTER(udp_echo_node);

/* Control thread only. */
static int echo_id = -1;
static int echo_port = -1; /* bound port, or -1 */

static int
udp_echo_init(void)
{
	int id = udp_receiver_register("udp_echo");

	if (id < 0)
		return id;
	echo_id = id;
	return 0;
}
TERN_INIT(udp_echo_init);

static void
udp_echo_fini(void)
{
	echo_port = -1;
}
TERN_FINI(udp_echo_fini);

/* service udp-echo [port N] | service udp-echo off */
int
cli_service_udp_echo(struct cmd_ctx *c, int argc, char **argv)
{
	uint64_t port = UDP_ECHO_PORT;
	int rc;

	if (argc == 1 && strcmp(argv[0], "off") == 0) {
		if (c->dry_run || echo_port < 0)
			return 0;
		if ((rc = udp_bind((uint16_t)echo_port, -1)) < 0)
			return out_err(c->out, -rc, "udp-echo: cannot stop on port %d: %s",
			               echo_port, strerror(-rc));
		echo_port = -1;
		return 0;
	}
	if (argc != 0 && (argc != 2 || strcmp(argv[0], "port") != 0))
		return out_err(c->out, EINVAL, "usage: service udp-echo [port N] | off");
	if (argc == 2 && (rc = cmd_parse_u64(c, "port", argv[1], 1, 65535, &port)) < 0)
		return rc;
	if (c->dry_run)
		return 0;
	if (port == (uint64_t)echo_port)
		return 0;
	if ((rc = udp_port_free((uint16_t)port)) < 0)
		return out_err(c->out, -rc, "UDP port %u: %s", (unsigned)port,
		               rc == -EADDRINUSE ? "in use" : strerror(-rc));
	if ((rc = udp_bind((uint16_t)port, echo_id)) < 0)
		return out_err(c->out, -rc, "udp-echo: %s", strerror(-rc));
	/* Releasing the old port can fail (no memory for the new map): then
	 * give the new one back, so the service stays where it was. */
	if (echo_port >= 0 && (rc = udp_bind((uint16_t)echo_port, -1)) < 0) {
		int undo = udp_bind((uint16_t)port, -1);

		if (undo < 0)
			return out_err(c->out, -rc,
			               "udp-echo: cannot leave port %d (%s), nor give up "
			               "port %u (%s): both answer now",
			               echo_port, strerror(-rc), (unsigned)port, strerror(-undo));
		return out_err(c->out, -rc, "udp-echo: cannot leave port %d: %s", echo_port,
		               strerror(-rc));
	}
	echo_port = (int)port;
	return 0;
}

void
udp_running_config(struct tern_out *o)
{
	if (echo_port == UDP_ECHO_PORT)
		out_text(o, "service udp-echo\n");
	else if (echo_port >= 0)
		out_text(o, "service udp-echo port %d\n", echo_port);
}
