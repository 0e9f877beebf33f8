/* SPDX-License-Identifier: BSD-3-Clause */
/* Per-packet decisions of the IPv4 and ICMP nodes, exposed for unit tests. */
#ifndef TERN_IP_IP_NODES_H
#define TERN_IP_IP_NODES_H

#include <stdbool.h>

#include <rte_graph.h>
#include <rte_mbuf.h>

#include "core/dp.h"

enum {
	IP_INPUT_NEXT_LOCAL,
	IP_INPUT_NEXT_FORWARD,
	IP_INPUT_NEXT_ICMP_ERROR,
	IP_INPUT_NEXT_RUNT,
	IP_INPUT_NEXT_VERSION,
	IP_INPUT_NEXT_IHL,
	IP_INPUT_NEXT_CHECKSUM,
	IP_INPUT_NEXT_TOTAL_LEN,
	IP_INPUT_NEXT_MARTIAN_SRC,
	IP_INPUT_NEXT_MARTIAN_DST,
	IP_INPUT_NEXT_OPTIONS,
	IP_INPUT_NEXT_MULTICAST,
	IP_INPUT_NEXT_FRAGMENT,
	IP_INPUT_NEXT_BLACKHOLE,
	IP_INPUT_NEXT_MAX, /* then the prerouting node, when one registered */
};
rte_edge_t ip_input_classify(const struct tern_dp *dp, struct rte_mbuf *m);
/* Is an ICMP redirect (RFC 1812 5.2.7.2) due to the sender of `m`, routed
 * by ip_input and about to be forwarded? */
bool ip_forward_redirect_due(const struct tern_dp *dp, struct rte_mbuf *m);
/* Where a checked packet to `dst` (host order) with next hop `idx` goes:
 * an IP_INPUT_NEXT_* edge; sets priv tx_port and nh_ip when forwarded. */
rte_edge_t ip_input_route(const struct tern_dp *dp, struct rte_mbuf *m, uint32_t dst, uint32_t idx);

enum {
	IP_LOCAL_NEXT_ICMP_ERROR,
	IP_LOCAL_NEXT_FIRST_PROTO,
};
rte_edge_t ip_local_classify(const struct tern_dp *dp, struct rte_mbuf *m);

/* ip_forward's IPv4 step (TTL, MTU): an IP_OUT_NEXT_* edge (ip_out.h), where
 * IP_OUT_NEXT_PORT_TX means "on to the Ethernet header". */
rte_edge_t ip_forward_classify(const struct tern_dp *dp, struct rte_mbuf *m);

enum {
	ICMP_INPUT_NEXT_OUTPUT,
	ICMP_INPUT_NEXT_RUNT,
	ICMP_INPUT_NEXT_CHECKSUM,
	ICMP_INPUT_NEXT_UNHANDLED,
	ICMP_INPUT_NEXT_NO_ROUTE,
	ICMP_INPUT_NEXT_MAX,
};
rte_edge_t icmp_input_classify(const struct tern_dp *dp, struct rte_mbuf *m);

/* RFC 1812 4.3.2.7: may an ICMP error be sent about `m`? */
bool icmp_error_allowed(const struct tern_dp *dp, struct rte_mbuf *m);

#endif
