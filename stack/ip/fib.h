/* SPDX-License-Identifier: BSD-3-Clause */
/* Control-thread side of the IPv4 routing table (see ip.h). */
#ifndef TERN_IP_FIB_H
#define TERN_IP_FIB_H

#include <stdint.h>

#include <rte_byteorder.h>

#include "ip/ip.h"

enum tern_route_origin {
	TERN_ROUTE_LOCAL,     /* our address /32, or a subnet broadcast */
	TERN_ROUTE_CONNECTED, /* the subnet of one of our addresses */
	TERN_ROUTE_STATIC,    /* route add */
};

#define TERN_FIB_DEFAULT_ROUTES 65536

/* Boot: `ip fib-size N` (max routes). */
extern uint32_t tern_fib_max_routes;

/* 0 or -errno: -EEXIST (prefix taken), -ENOSPC, -EINVAL. */
int tern_fib_add(rte_be32_t prefix, uint8_t len, const struct tern_nexthop *nh,
                 enum tern_route_origin origin);
/* Delete the route for prefix/len if it has `origin`: 0, -ENOENT or -EPERM. */
int tern_fib_del(rte_be32_t prefix, uint8_t len, enum tern_route_origin origin);
/* The route for exactly prefix/len: its next hop, or NULL. */
const struct tern_nexthop *tern_fib_get(rte_be32_t prefix, uint8_t len, int *origin);
/* Longest-prefix match from the control thread. */
const struct tern_nexthop *tern_fib_lookup(rte_be32_t dst);

/* Visit every route (for route show and running-config); stop on non-zero. */
typedef int (*tern_fib_walk_fn)(rte_be32_t prefix, uint8_t len, const struct tern_nexthop *nh,
                                enum tern_route_origin origin, void *arg);
int tern_fib_walk(tern_fib_walk_fn fn, void *arg);
unsigned tern_fib_count(void);

/* Parse "A.B.C.D/LEN" (LEN optional when `len_optional`, meaning /32). */
int tern_parse_prefix(const char *s, rte_be32_t *ip, uint8_t *len, bool len_optional);
static inline rte_be32_t
tern_mask(uint8_t len)
{
	return rte_cpu_to_be_32(len ? ~0u << (32 - len) : 0);
}

#endif
