/* SPDX-License-Identifier: BSD-3-Clause */
/* route add/del/show, ip fib-size, and the IPv4 part of running-config. */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "core/ctl.h"
#include "ip/fib.h"
#include "ip/ip.h"
#include "mgmt/cli.h"

static const char *const origin_names[] = {
	[TERN_ROUTE_LOCAL] = "local",
	[TERN_ROUTE_CONNECTED] = "connected",
	[TERN_ROUTE_STATIC] = "static",
};

static const char *
ip_str(rte_be32_t ip, char *buf)
{
	return inet_ntop(AF_INET, &ip, buf, INET_ADDRSTRLEN);
}

/*
 * The PREFIX of route add and route del: A.B.C.D[/LEN] with no host bits
 * set, so that `route del 203.0.113.77/24` never removes 203.0.113.0/24.
 */
static int
parse_route_prefix(struct cmd_ctx *c, const char *s, rte_be32_t *prefix, uint8_t *len)
{
	char buf[INET_ADDRSTRLEN];

	if (tern_parse_prefix(s, prefix, len, true) < 0)
		return out_err(c->out, EINVAL, "prefix '%s': expected A.B.C.D/LEN", s);
	if ((*prefix & ~tern_mask(*len)) != 0)
		return out_err(c->out, EINVAL,
		               "prefix '%s' has host bits set (did you mean %s/%u?)", s,
		               ip_str(*prefix & tern_mask(*len), buf), *len);
	return 0;
}

/* route add PREFIX via GW [dev PORT] | route add PREFIX dev PORT | ... blackhole */
static int
parse_route(struct cmd_ctx *c, int argc, char **argv, rte_be32_t *prefix, uint8_t *len,
            struct tern_nexthop *nh)
{
	struct tern_port *p = NULL;
	const struct tern_nexthop *via;
	bool have_gw = false, blackhole = false;
	char buf[INET_ADDRSTRLEN];
	int rc;

	if ((rc = parse_route_prefix(c, argv[0], prefix, len)) < 0)
		return rc;
	memset(nh, 0, sizeof(*nh));
	for (int i = 1; i < argc; i++) {
		/* Each once: a second one would silently win over the first. */
		if ((strcmp(argv[i], "via") == 0 && have_gw) ||
		    (strcmp(argv[i], "dev") == 0 && p != NULL) ||
		    (strcmp(argv[i], "blackhole") == 0 && blackhole))
			return out_err(c->out, EINVAL, "'%s' given twice", argv[i]);
		if (strcmp(argv[i], "via") == 0 && i + 1 < argc) {
			uint8_t l;
			if (tern_parse_prefix(argv[++i], &nh->gw, &l, true) < 0 || l != 32)
				return out_err(c->out, EINVAL, "gateway '%s': expected A.B.C.D",
				               argv[i]);
			have_gw = true;
		} else if (strcmp(argv[i], "dev") == 0 && i + 1 < argc) {
			if ((p = tern_port_lookup(argv[++i])) == NULL)
				return out_err(c->out, ENODEV, "no port '%s'", argv[i]);
		} else if (strcmp(argv[i], "blackhole") == 0) {
			blackhole = true;
		} else {
			return out_err(c->out, EINVAL,
			               "unexpected '%s' (via GW, dev PORT or blackhole)", argv[i]);
		}
	}
	if (blackhole) {
		if (have_gw || p != NULL)
			return out_err(c->out, EINVAL, "blackhole takes no gateway or port");
		nh->type = TERN_NH_BLACKHOLE;
		return 0;
	}
	if (!have_gw && p == NULL)
		return out_err(c->out, EINVAL, "route needs 'via GW', 'dev PORT' or 'blackhole'");
	nh->type = have_gw ? TERN_NH_GATEWAY : TERN_NH_CONNECTED;
	if (c->dry_run)
		return 0;
	if (p != NULL) {
		nh->port = p->port_id;
		return 0;
	}
	/* Like Linux: the gateway must be on-link through a connected route. */
	via = tern_fib_lookup(nh->gw);
	if (via == NULL || via->type != TERN_NH_CONNECTED)
		return out_err(c->out, ENETUNREACH, "gateway %s is not on a connected subnet",
		               ip_str(nh->gw, buf));
	nh->port = via->port;
	return 0;
}

int
cli_route_add(struct cmd_ctx *c, int argc, char **argv)
{
	struct tern_nexthop nh;
	rte_be32_t prefix;
	uint8_t len;
	int rc;

	if ((rc = parse_route(c, argc, argv, &prefix, &len, &nh)) < 0)
		return rc;
	if (c->dry_run)
		return 0;
	rc = tern_fib_add(prefix, len, &nh, TERN_ROUTE_STATIC);
	if (rc == -EEXIST)
		return out_err(c->out, EEXIST, "route %s exists ('route del' it first)", argv[0]);
	if (rc < 0)
		return out_err(c->out, -rc, "route %s: %s", argv[0], strerror(-rc));
	return 0;
}

int
cli_route_del(struct cmd_ctx *c, int argc, char **argv)
{
	rte_be32_t prefix;
	uint8_t len;
	int rc;

	if ((rc = parse_route_prefix(c, argv[0], &prefix, &len)) < 0)
		return rc;
	if (c->dry_run)
		return 0;
	rc = tern_fib_del(prefix, len, TERN_ROUTE_STATIC);
	if (rc == -ENOENT)
		return out_err(c->out, ENOENT, "no route %s", argv[0]);
	if (rc == -EPERM)
		return out_err(c->out, EPERM, "route %s belongs to an address: 'addr del' it",
		               argv[0]);
	return rc;
}

struct show_arg {
	struct tern_out *o;
	bool static_only;
};

static int
route_one(rte_be32_t prefix, uint8_t len, const struct tern_nexthop *nh,
          enum tern_route_origin origin, void *arg)
{
	static const char *const types[] = { "none",    "local",     "connected",
		                             "gateway", "blackhole", "broadcast" };
	struct show_arg *a = arg;
	const struct tern_port *p = tern_port_by_id(nh->port);
	char b1[INET_ADDRSTRLEN], b2[INET_ADDRSTRLEN];

	if (a->static_only) {
		if (origin != TERN_ROUTE_STATIC)
			return 0;
		if (nh->type == TERN_NH_BLACKHOLE)
			out_text(a->o, "route add %s/%u blackhole\n", ip_str(prefix, b1), len);
		else if (nh->type == TERN_NH_GATEWAY)
			out_text(a->o, "route add %s/%u via %s dev %s\n", ip_str(prefix, b1), len,
			         ip_str(nh->gw, b2), p ? p->name : "?");
		else
			out_text(a->o, "route add %s/%u dev %s\n", ip_str(prefix, b1), len,
			         p ? p->name : "?");
		return 0;
	}
	out_obj_open(a->o, NULL);
	out_str(a->o, "prefix", "%s/%u", ip_str(prefix, b1), len);
	out_str(a->o, "type", "%s", types[nh->type]);
	if (nh->type == TERN_NH_GATEWAY)
		out_str(a->o, "via", "%s", ip_str(nh->gw, b2));
	if (nh->type != TERN_NH_BLACKHOLE)
		out_str(a->o, "dev", "%s", p ? p->name : "?");
	out_str(a->o, "origin", "%s", origin_names[origin]);
	out_obj_close(a->o);
	return 0;
}

static int
route_count(rte_be32_t prefix, uint8_t len, const struct tern_nexthop *nh,
            enum tern_route_origin origin, void *arg)
{
	((uint64_t *)arg)[origin]++;
	return 0;
}

/* route show [summary]: summary counts routes by origin (1M routes print
 * as ~100 MB otherwise). */
int
cli_route_show(struct cmd_ctx *c, int argc, char **argv)
{
	struct show_arg a = { .o = c->out };

	if (argc == 1) {
		uint64_t n[3] = { 0 };

		if (strcmp(argv[0], "summary") != 0)
			return out_err(c->out, EINVAL, "usage: route show [summary]");
		tern_fib_walk(route_count, n);
		out_u64(c->out, "count", tern_fib_count());
		for (int i = 0; i < 3; i++)
			out_u64(c->out, origin_names[i], n[i]);
		return 0;
	}
	out_u64(c->out, "count", tern_fib_count());

	out_list_open(c->out, "routes");
	tern_fib_walk(route_one, &a);
	out_list_close(c->out);
	return 0;
}

/* ip fib-size N (boot): the most routes the FIB holds. */
int
cli_fib_size(struct cmd_ctx *c, int argc, char **argv)
{
	uint64_t v;
	int rc = cmd_parse_u64(c, "fib-size", argv[0], 1024, 16u << 20, &v);

	if (rc == 0)
		tern_fib_max_routes = (uint32_t)v;
	return rc;
}

void
ip_running_config(struct tern_out *o)
{
	struct show_arg a = { .o = o, .static_only = true };

	addr_running_config(o);
	tern_fib_walk(route_one, &a);
}
