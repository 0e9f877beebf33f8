/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * IPv4 routing table, control side.  The datapath reads dp->fib (rte_fib,
 * DIR-24-8) and dp->nh[] lock-free; this file is their only writer.
 *
 * Why rte_fib and not rte_lpm: rte_lpm checks for an existing rule with a
 * linear scan of the rules of the same length, so loading 1M /24s takes
 * quadratic time; rte_fib keeps its rules in a RIB (a binary trie).
 * DIR-24-8 updates its tables with single aligned stores, so a lookup that
 * races an update sees the old or the new next hop.  In DPDK 22.11 rte_fib
 * has no RCU hook: a tbl8 group freed by a delete may be reused at once, so
 * a lookup racing that delete may return a next hop of the group's new
 * prefix; next-hop slots themselves are reused only after a grace period.
 *
 * Control-only bookkeeping: an rte_hash from (prefix, len) to a route record
 * (for exact-match delete and `route show`), and one from next-hop contents
 * to its slot in nh[] with a reference count, so that 1M routes through the
 * same gateway share one next hop.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_hash.h>
#include <rte_jhash.h>
#include <rte_fib.h>
#include <rte_malloc.h>
#include <rte_rcu_qsbr.h>

#include "core/ctl.h"
#include "core/dp.h"
#include "core/init.h"
#include "core/log.h"
#include "ip/fib.h"

uint32_t tern_fib_max_routes = TERN_FIB_DEFAULT_ROUTES;

struct route_key {
	rte_be32_t prefix;
	uint8_t len;
	uint8_t pad[3];
};

struct route {
	rte_be32_t prefix;
	uint8_t len;
	uint8_t origin;
	uint8_t used;
	uint32_t nh;
};

/* Control thread only. */
static struct {
	struct rte_fib *table;   /* DIR-24-8, with its RIB for exact-match updates */
	struct tern_nexthop *nh; /* what dp->nh points to */
	uint32_t *nh_refs;
	struct rte_hash *nh_index; /* struct tern_nexthop -> slot */
	struct rte_hash *routes;   /* struct route_key -> struct route * */
	struct route *route;       /* records, max_routes of them */
	uint32_t *free_routes;     /* stack of free record indexes */
	uint32_t nb_free_routes;
	uint32_t nb_routes;
} fib;

int
tern_parse_prefix(const char *s, rte_be32_t *ip, uint8_t *len, bool len_optional)
{
	char buf[32], *slash, *end;
	struct in_addr a;
	unsigned long l = 32;

	if (strlen(s) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, s);
	slash = strchr(buf, '/');
	if (slash != NULL) {
		*slash++ = '\0';
		if (*slash < '0' || *slash > '9')
			return -EINVAL;
		l = strtoul(slash, &end, 10);
		if (*end != '\0' || l > 32)
			return -EINVAL;
	} else if (!len_optional) {
		return -EINVAL;
	}
	if (inet_pton(AF_INET, buf, &a) != 1)
		return -EINVAL;
	*ip = a.s_addr;
	*len = (uint8_t)l;
	return 0;
}

static int
nh_get(const struct tern_nexthop *want, uint32_t *idx)
{
	struct tern_nexthop key = *want;
	void *data;

	key.pad = 0;
	if (rte_hash_lookup_data(fib.nh_index, &key, &data) >= 0) {
		*idx = (uint32_t)(uintptr_t)data;
		fib.nh_refs[*idx]++;
		return 0;
	}
	/* Slot 0 stays unused, so next hop 0 means "no route". */
	for (uint32_t i = 1; i < TERN_MAX_NEXTHOPS; i++) {
		if (fib.nh_refs[i] != 0)
			continue;
		/* Written before any route points at it: readers see it whole. */
		fib.nh[i] = key;
		if (rte_hash_add_key_data(fib.nh_index, &key, (void *)(uintptr_t)i) < 0)
			return -ENOSPC;
		fib.nh_refs[i] = 1;
		*idx = i;
		return 0;
	}
	return -ENOSPC;
}

static void
nh_put(uint32_t idx)
{
	if (--fib.nh_refs[idx] != 0)
		return;
	rte_hash_del_key(fib.nh_index, &fib.nh[idx]);
	/* A worker that looked the route up just before it went may still
	 * read this slot: wait a grace period before it can be reused. */
	rte_rcu_qsbr_synchronize(tern_ctl.qsbr, RTE_QSBR_THRID_INVALID);
	memset(&fib.nh[idx], 0, sizeof(fib.nh[idx]));
}

static struct route *
route_find(rte_be32_t prefix, uint8_t len)
{
	struct route_key k = { .prefix = prefix, .len = len };
	void *data;

	if (rte_hash_lookup_data(fib.routes, &k, &data) < 0)
		return NULL;
	return data;
}

int
tern_fib_add(rte_be32_t prefix, uint8_t len, const struct tern_nexthop *nh,
             enum tern_route_origin origin)
{
	struct route_key k = { .prefix = prefix & tern_mask(len), .len = len };
	struct route *r;
	uint32_t idx;
	int rc;

	if (fib.table == NULL)
		return -ENODEV;
	if (route_find(k.prefix, len) != NULL)
		return -EEXIST;
	if (fib.nb_free_routes == 0)
		return -ENOSPC;
	if ((rc = nh_get(nh, &idx)) < 0)
		return rc;
	rc = rte_fib_add(fib.table, rte_be_to_cpu_32(k.prefix), len, idx);
	if (rc < 0) {
		nh_put(idx);
		return rc;
	}
	r = &fib.route[fib.free_routes[--fib.nb_free_routes]];
	*r = (struct route){
		.prefix = k.prefix, .len = len, .origin = (uint8_t)origin, .used = 1, .nh = idx
	};
	if (rte_hash_add_key_data(fib.routes, &k, r) < 0) {
		rte_fib_delete(fib.table, rte_be_to_cpu_32(k.prefix), len);
		r->used = 0;
		fib.free_routes[fib.nb_free_routes++] = (uint32_t)(r - fib.route);
		nh_put(idx);
		return -ENOSPC;
	}
	fib.nb_routes++;
	return 0;
}

int
tern_fib_del(rte_be32_t prefix, uint8_t len, enum tern_route_origin origin)
{
	struct route_key k = { .prefix = prefix & tern_mask(len), .len = len };
	struct route *r = route_find(k.prefix, len);

	if (r == NULL)
		return -ENOENT;
	if (r->origin != origin)
		return -EPERM;
	rte_fib_delete(fib.table, rte_be_to_cpu_32(k.prefix), len);
	rte_hash_del_key(fib.routes, &k);
	nh_put(r->nh);
	r->used = 0;
	fib.free_routes[fib.nb_free_routes++] = (uint32_t)(r - fib.route);
	fib.nb_routes--;
	return 0;
}

const struct tern_nexthop *
tern_fib_get(rte_be32_t prefix, uint8_t len, int *origin)
{
	struct route *r = route_find(prefix & tern_mask(len), len);

	if (r == NULL)
		return NULL;
	if (origin)
		*origin = r->origin;
	return &fib.nh[r->nh];
}

const struct tern_nexthop *
tern_fib_lookup(rte_be32_t dst)
{
	uint32_t ip = rte_be_to_cpu_32(dst);
	uint64_t idx = 0;

	if (fib.table == NULL)
		return NULL;
	rte_fib_lookup_bulk(fib.table, &ip, &idx, 1);
	return idx != 0 ? &fib.nh[idx] : NULL;
}

int
tern_fib_walk(tern_fib_walk_fn fn, void *arg)
{
	for (uint32_t i = 0; i < tern_fib_max_routes; i++) {
		const struct route *r = &fib.route[i];
		int rc;

		if (!r->used)
			continue;
		if ((rc = fn(r->prefix, r->len, &fib.nh[r->nh], r->origin, arg)) != 0)
			return rc;
	}
	return 0;
}

unsigned
tern_fib_count(void)
{
	return fib.nb_routes;
}

/* Groups for prefixes longer than /24: a sixteenth of the routes, 256..64k. */
static uint32_t
tbl8s_for(uint32_t routes)
{
	uint32_t n = routes / 16;

	return n < 256 ? 256 : n > 65536 ? 65536 : n;
}

static int
fib_init(void)
{
	struct rte_fib_conf cfg = {
		.type = RTE_FIB_DIR24_8,
		.default_nh = 0, /* next hop 0: no route */
		.max_routes = (int)tern_fib_max_routes,
		.dir24_8 = { .nh_sz = RTE_FIB_DIR24_8_4B,
		             .num_tbl8 = tbl8s_for(tern_fib_max_routes) },
	};
	struct rte_hash_parameters hp = {
		.name = "tern_routes",
		.entries = tern_fib_max_routes,
		.key_len = sizeof(struct route_key),
		.hash_func = rte_jhash,
		.socket_id = SOCKET_ID_ANY,
	};
	struct rte_hash_parameters nhp = {
		.name = "tern_nexthops",
		.entries = TERN_MAX_NEXTHOPS,
		.key_len = sizeof(struct tern_nexthop),
		.hash_func = rte_jhash,
		.socket_id = SOCKET_ID_ANY,
	};
	struct tern_dp *dp;

	fib.table = rte_fib_create("tern_fib", SOCKET_ID_ANY, &cfg);
	fib.nh = rte_zmalloc("tern_nh", sizeof(*fib.nh) * TERN_MAX_NEXTHOPS, RTE_CACHE_LINE_SIZE);
	fib.nh_refs = calloc(TERN_MAX_NEXTHOPS, sizeof(*fib.nh_refs));
	fib.route = calloc(tern_fib_max_routes, sizeof(*fib.route));
	fib.free_routes = malloc(sizeof(*fib.free_routes) * tern_fib_max_routes);
	fib.routes = rte_hash_create(&hp);
	fib.nh_index = rte_hash_create(&nhp);
	if (fib.table == NULL || fib.nh == NULL || fib.nh_refs == NULL || fib.route == NULL ||
	    fib.free_routes == NULL || fib.routes == NULL || fib.nh_index == NULL) {
		LOG_ERR("fib: cannot allocate a table of %u routes", tern_fib_max_routes);
		return -ENOMEM;
	}
	/* Pop order: lowest index first, so `route show` lists in add order. */
	for (uint32_t i = 0; i < tern_fib_max_routes; i++)
		fib.free_routes[i] = tern_fib_max_routes - 1 - i;
	fib.nb_free_routes = tern_fib_max_routes;
	if ((dp = tern_dp_copy()) == NULL)
		return -ENOMEM;
	dp->fib = fib.table;
	dp->nh = fib.nh;
	tern_dp_publish(dp);
	return 0;
}
TERN_INIT(fib_init);

static void
fib_fini(void)
{
	rte_fib_free(fib.table);
	rte_free(fib.nh);
	rte_hash_free(fib.routes);
	rte_hash_free(fib.nh_index);
	free(fib.nh_refs);
	free(fib.route);
	free(fib.free_routes);
	memset(&fib, 0, sizeof(fib));
}
TERN_FINI(fib_fini);
