/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * IPv4: addresses, routes and next hops (control thread), and the datapath
 * nodes ip_input, ip_local, ip_forward and ip_output.
 *
 * Routes live in an rte_fib (DIR-24-8, dp->fib) whose next-hop value is an
 * index into dp->nh[], an array of struct tern_nexthop; 0 means no route.
 * The control thread writes both; a next hop is never changed while a route
 * points at it: it is freed after an RCU grace period once its last route
 * is gone, then reused.  See fib.c for why rte_fib rather than rte_lpm.
 */
#ifndef TERN_IP_IP_H
#define TERN_IP_IP_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_byteorder.h>
#include <rte_graph.h>

#include "mgmt/out.h"

enum tern_nh_type {
	TERN_NH_NONE,      /* unused slot */
	TERN_NH_LOCAL,     /* one of our addresses: deliver */
	TERN_NH_CONNECTED, /* on-link: resolve the destination itself */
	TERN_NH_GATEWAY,   /* resolve the gateway */
	TERN_NH_BLACKHOLE, /* drop silently */
	TERN_NH_BROADCAST, /* a subnet's broadcast address: deliver */
};

struct tern_nexthop {
	rte_be32_t gw; /* GATEWAY: the gateway */
	uint16_t port; /* egress port (LOCAL: the port owning the address) */
	uint8_t type;  /* enum tern_nh_type */
	uint8_t pad;
};

#define TERN_MAX_ADDRS_PER_PORT 64
#define TERN_MAX_NEXTHOPS       65536

/* Addresses (control thread). */
struct tern_addr {
	rte_be32_t ip;
	uint8_t len;
};

/*
 * Is `h` (host order) never a host's address: 0/8, 127/8, multicast 224/4
 * or class E 240/4 (with 255.255.255.255)?  addr add refuses these, and
 * nat add refuses them as the ends of an SNAT pool.
 */
bool tern_addr_martian(uint32_t h);

/* "ADDR" or "ADDR-ADDR" (lo <= hi; host order, hi = lo for one), at most
 * TERN_ADDR_RANGE_MAX bytes: an SNAT pool, loadgen's `from`.  0 or
 * -EINVAL. */
#define TERN_ADDR_RANGE_MAX 39
int tern_parse_addr_range(const char *s, uint32_t *lo, uint32_t *hi);

/* Does the range lo..hi (host order) hold an address tern_addr_martian()
 * refuses?  With usable ends, only 127/8 can lie inside. */
bool tern_addr_range_martian(uint32_t lo, uint32_t hi);
/* The addresses of `port`; returns how many (at most TERN_MAX_ADDRS_PER_PORT). */
unsigned tern_addr_list(uint16_t port, struct tern_addr *out);
/* Is `ip` one of `port`'s addresses? */
bool tern_addr_is_local(uint16_t port, rte_be32_t ip);
/*
 * The source address to use on `port` towards `dst`: the address whose
 * subnet holds dst, else the port's first.  -ENOENT if it has none.
 */
int tern_addr_source(uint16_t port, rte_be32_t dst, rte_be32_t *src);

/* Called when an address is added or removed, and when a link comes up. */
typedef void (*tern_addr_notify_fn)(uint16_t port, rte_be32_t ip, uint8_t len, bool added);
void tern_addr_notify_register(tern_addr_notify_fn fn);

/*
 * A prerouting hook (TERN_INIT): when dp->prerouting is set, ip_input sends
 * every checked packet to `node_name` instead of routing it (fragments
 * after reassembly), and the node routes it itself (ip_input_route).  So do
 * icmp_error with the errors it builds about forwarded packets: with NAT,
 * such a packet may already be translated, and its error must be
 * translated back to reach the real sender (RFC 5508 section 3; Linux
 * matches locally built errors to their connection the same way).  Those
 * errors have no ingress port (RTE_MBUF_PORT_INVALID) and must never be
 * delivered locally.  NAT uses it.  0 or -errno.
 */
int ip_prerouting_register(const char *node_name);
/* ip_frag.c: reassembled datagrams go to `node_name` when prerouting. */
int ip_reassembly_prerouting(const char *node_name);
/* icmp_error.c: built errors go to `node_name` when prerouting. */
int icmp_error_prerouting(const char *node_name);

/* ip_local: deliver IP protocol `proto` to node `next_node` (TERN_INIT hook). */
int ip_local_register(uint8_t proto, const char *next_node);

/* Parts of `show running-config`. */
void ip_running_config(struct tern_out *o);
void addr_running_config(struct tern_out *o);

#endif
