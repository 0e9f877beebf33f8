/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * udp_sock: datagrams for ports no built-in receiver holds (udp_input's
 * default receiver).  Each goes to the UDP socket of this worker bound
 * to its port and its destination address, or else to 0.0.0.0; with
 * none, an ICMP port unreachable goes back (RFC 1122 4.1.3.1), as from
 * udp_input itself.
 */
#include <rte_graph.h>
#include <rte_graph_worker.h>
#include <rte_ip.h>
#include <rte_udp.h>

#include "core/drop.h"
#include "core/init.h"
#include "core/node.h"
#include "ip/ip_priv.h"
#include "tcp/socket_priv.h"
#include "tcp/tcp_worker.h"
#include "udp/udp.h"

enum {
	UDP_SOCK_NEXT_ICMP_ERROR,
	UDP_SOCK_NEXT_FULL,
	UDP_SOCK_NEXT_MAX,
};

static uint16_t
udp_sock_process(struct rte_graph *graph, struct rte_node *node, void **objs, uint16_t nb)
{
	struct tcp_worker *tw = tcp_worker_of(tern_node_worker(node));
	void *keep[TERN_NODE_CHUNK];
	rte_edge_t next[TERN_NODE_CHUNK];

	for (uint16_t base = 0; base < nb; base += TERN_NODE_CHUNK) {
		uint16_t n = RTE_MIN(nb - base, TERN_NODE_CHUNK), nkeep = 0;

		for (uint16_t i = 0; i < n; i++) {
			struct rte_mbuf *m = objs[base + i];
			const struct rte_udp_hdr *u =
			    rte_pktmbuf_mtod_offset(m, const struct rte_udp_hdr *, m->l3_len);
			int rc = tern_sock_udp_deliver(tw, m, rte_be_to_cpu_16(u->dst_port));

			if (rc == 0)
				continue; /* the socket holds it */
			keep[nkeep] = m;
			if (rc == -ENOBUFS) {
				next[nkeep++] = UDP_SOCK_NEXT_FULL;
				continue;
			}
			ip_mark_icmp_error(m, TERN_ICMP_DEST_UNREACH, TERN_ICMP_PORT_UNREACH, 0);
			next[nkeep++] = UDP_SOCK_NEXT_ICMP_ERROR;
		}
		tern_node_enqueue(graph, node, keep, next, nkeep, false);
	}
	return nb;
}

static struct rte_node_register udp_sock_node = {
	.name = "udp_sock",
	.process = udp_sock_process,
	.init = tern_node_ctx_init,
	.nb_edges = UDP_SOCK_NEXT_MAX,
	.next_nodes = {
		[UDP_SOCK_NEXT_ICMP_ERROR] = "icmp_error",
		[UDP_SOCK_NEXT_FULL] = TERN_DROP_NODE("udp_sock_full"),
	},
};
RTE_NODE_REGISTER(udp_sock_node);

static int
udp_sock_init(void)
{
	return udp_default_receiver_register("udp_sock", tern_sock_udp_port_check);
}
TERN_INIT(udp_sock_init);
