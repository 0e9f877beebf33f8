/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Interface addresses (control thread).  Each address installs, like Linux's
 * local and main tables do:
 *   - a LOCAL route for the address /32 (deliver to us),
 *   - a CONNECTED route for its subnet (resolve on-link),
 *   - a LOCAL route for the subnet's broadcast address (len < 31).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "core/ctl.h"
#include "core/init.h"
#include "core/log.h"
#include "ip/fib.h"
#include "ip/ip.h"
#include "mgmt/cli.h"

#define MAX_NOTIFY 8

/* Control thread only. */
static struct tern_addr addrs[RTE_MAX_ETHPORTS][TERN_MAX_ADDRS_PER_PORT];
static unsigned nb_addrs[RTE_MAX_ETHPORTS];
static tern_addr_notify_fn addr_notify[MAX_NOTIFY];
static unsigned nb_addr_notify;

void
tern_addr_notify_register(tern_addr_notify_fn fn)
{
	if (nb_addr_notify < MAX_NOTIFY)
		addr_notify[nb_addr_notify++] = fn;
}

unsigned
tern_addr_list(uint16_t port, struct tern_addr *out)
{
	if (port >= RTE_MAX_ETHPORTS)
		return 0;
	memcpy(out, addrs[port], sizeof(addrs[port][0]) * nb_addrs[port]);
	return nb_addrs[port];
}

bool
tern_addr_is_local(uint16_t port, rte_be32_t ip)
{
	if (port >= RTE_MAX_ETHPORTS)
		return false;
	for (unsigned i = 0; i < nb_addrs[port]; i++)
		if (addrs[port][i].ip == ip)
			return true;
	return false;
}

int
tern_addr_source(uint16_t port, rte_be32_t dst, rte_be32_t *src)
{
	if (port >= RTE_MAX_ETHPORTS || nb_addrs[port] == 0)
		return -ENOENT;
	for (unsigned i = 0; i < nb_addrs[port]; i++) {
		rte_be32_t m = tern_mask(addrs[port][i].len);
		if ((addrs[port][i].ip & m) == (dst & m)) {
			*src = addrs[port][i].ip;
			return 0;
		}
	}
	*src = addrs[port][0].ip;
	return 0;
}

static bool
subnet_has_broadcast(uint8_t len)
{
	return len < 31; /* RFC 3021: /31 and /32 have no broadcast address */
}

/* Does an address still configured (on any port) have broadcast `bcast`?
 * Two addresses can share one (10.0.0.1/24 and 10.0.0.129/25). */
static bool
bcast_in_use(rte_be32_t bcast)
{
	for (unsigned p = 0; p < RTE_MAX_ETHPORTS; p++)
		for (unsigned i = 0; i < nb_addrs[p]; i++) {
			const struct tern_addr *a = &addrs[p][i];

			if (subnet_has_broadcast(a->len) &&
			    ((a->ip & tern_mask(a->len)) | ~tern_mask(a->len)) == bcast)
				return true;
		}
	return false;
}

/* Install or remove the routes an address implies; all or nothing.  The
 * address is not (or no longer) in addrs[] when this runs. */
static int
addr_routes(uint16_t port, rte_be32_t ip, uint8_t len, bool add)
{
	struct tern_nexthop local = { .port = port, .type = TERN_NH_LOCAL };
	struct tern_nexthop conn = { .port = port, .type = TERN_NH_CONNECTED };
	struct tern_nexthop bc = { .port = port, .type = TERN_NH_BROADCAST };
	rte_be32_t bcast = (ip & tern_mask(len)) | ~tern_mask(len);
	int rc;

	if (!add) {
		if (subnet_has_broadcast(len) && !bcast_in_use(bcast))
			tern_fib_del(bcast, 32, TERN_ROUTE_LOCAL);
		if (len < 32)
			tern_fib_del(ip, len, TERN_ROUTE_CONNECTED);
		tern_fib_del(ip, 32, TERN_ROUTE_LOCAL);
		return 0;
	}
	if ((rc = tern_fib_add(ip, 32, &local, TERN_ROUTE_LOCAL)) < 0)
		return rc;
	if (len < 32 && (rc = tern_fib_add(ip, len, &conn, TERN_ROUTE_CONNECTED)) < 0) {
		tern_fib_del(ip, 32, TERN_ROUTE_LOCAL);
		return rc;
	}
	if (subnet_has_broadcast(len) &&
	    (rc = tern_fib_add(bcast, 32, &bc, TERN_ROUTE_LOCAL)) < 0 && rc != -EEXIST) {
		if (len < 32)
			tern_fib_del(ip, len, TERN_ROUTE_CONNECTED);
		tern_fib_del(ip, 32, TERN_ROUTE_LOCAL);
		return rc;
	}
	return 0;
}

bool
tern_addr_martian(uint32_t h)
{
	/* RFC 1122 3.2.1.3 / RFC 1812 4.2.2.11: not a usable host address. */
	return (h >> 24) == 0 || (h >> 24) == 127 || (h >> 28) >= 14;
}

int
tern_parse_addr_range(const char *s, uint32_t *lo, uint32_t *hi)
{
	char buf[TERN_ADDR_RANGE_MAX + 1], *dash;
	struct in_addr a, b;

	if (strlen(s) > TERN_ADDR_RANGE_MAX)
		return -EINVAL;
	strcpy(buf, s);
	if ((dash = strchr(buf, '-')) != NULL)
		*dash = '\0';
	if (inet_pton(AF_INET, buf, &a) != 1 || (dash && inet_pton(AF_INET, dash + 1, &b) != 1))
		return -EINVAL;
	*lo = ntohl(a.s_addr);
	*hi = dash ? ntohl(b.s_addr) : *lo;
	return *lo <= *hi ? 0 : -EINVAL;
}

bool
tern_addr_range_martian(uint32_t lo, uint32_t hi)
{
	return tern_addr_martian(lo) || tern_addr_martian(hi) ||
	       (lo < UINT32_C(0x7f000000) && hi > UINT32_C(0x7fffffff));
}

static int
parse_addr_dev(struct cmd_ctx *c, int argc, char **argv, rte_be32_t *ip, uint8_t *len,
               struct tern_port **port)
{
	(void)argc; /* 3: checked by cmd_exec */
	if (strcmp(argv[1], "dev") != 0)
		return out_err(c->out, EINVAL, "'%s': expected dev PORT", argv[1]);
	if (tern_parse_prefix(argv[0], ip, len, false) < 0)
		return out_err(c->out, EINVAL, "address '%s': expected A.B.C.D/LEN", argv[0]);
	if (tern_addr_martian(rte_be_to_cpu_32(*ip)) ||
	    (subnet_has_broadcast(*len) &&
	     ((*ip & ~tern_mask(*len)) == 0 || (*ip | tern_mask(*len)) == 0xffffffff)))
		return out_err(c->out, EINVAL, "address '%s' is not a usable host address",
		               argv[0]);
	if ((*port = tern_port_lookup(argv[2])) == NULL)
		return out_err(c->out, ENODEV, "no port '%s'", argv[2]);
	return 0;
}

/* Workers source ICMP errors from a port's first address: publish it.
 * 0 or -ENOMEM. */
static int
publish_primary(uint16_t port)
{
	struct tern_dp *dp = tern_dp_copy();

	if (dp == NULL)
		return -ENOMEM;
	dp->port[port].ip4 = nb_addrs[port] ? addrs[port][0].ip : 0;
	tern_dp_publish(dp);
	return 0;
}

/* addr add A.B.C.D/LEN dev PORT */
int
cli_addr_add(struct cmd_ctx *c, int argc, char **argv)
{
	struct tern_port *p;
	rte_be32_t ip;
	uint8_t len;
	uint16_t pid;
	int rc;

	if ((rc = parse_addr_dev(c, argc, argv, &ip, &len, &p)) < 0)
		return rc;
	if (c->dry_run)
		return 0;
	pid = p->port_id;
	for (unsigned i = 0; i < RTE_MAX_ETHPORTS; i++)
		if (tern_addr_is_local((uint16_t)i, ip))
			return out_err(c->out, EEXIST, "address %s already assigned", argv[0]);
	if (nb_addrs[pid] == TERN_MAX_ADDRS_PER_PORT)
		return out_err(c->out, ENOSPC, "port %s has %d addresses already", p->name,
		               TERN_MAX_ADDRS_PER_PORT);
	if ((rc = addr_routes(pid, ip, len, true)) < 0)
		return out_err(c->out, -rc, "address %s: routes: %s", argv[0],
		               rc == -EEXIST ? "its subnet is already routed" : strerror(-rc));
	addrs[pid][nb_addrs[pid]++] = (struct tern_addr){ .ip = ip, .len = len };
	if ((rc = publish_primary(pid)) < 0) {
		nb_addrs[pid]--;
		addr_routes(pid, ip, len, false);
		return out_err(c->out, -rc, "address %s: %s", argv[0], strerror(-rc));
	}
	for (unsigned i = 0; i < nb_addr_notify; i++)
		addr_notify[i](pid, ip, len, true);
	return 0;
}

/* addr del A.B.C.D/LEN dev PORT */
int
cli_addr_del(struct cmd_ctx *c, int argc, char **argv)
{
	struct tern_port *p;
	rte_be32_t ip;
	uint8_t len;
	uint16_t pid;
	unsigned i;
	int rc;

	if ((rc = parse_addr_dev(c, argc, argv, &ip, &len, &p)) < 0)
		return rc;
	if (c->dry_run)
		return 0;
	pid = p->port_id;
	for (i = 0; i < nb_addrs[pid]; i++)
		if (addrs[pid][i].ip == ip && addrs[pid][i].len == len)
			break;
	if (i == nb_addrs[pid])
		return out_err(c->out, ENOENT, "no address %s on %s", argv[0], p->name);
	memmove(&addrs[pid][i], &addrs[pid][i + 1], (nb_addrs[pid] - i - 1) * sizeof(addrs[0][0]));
	nb_addrs[pid]--;
	if (i == 0 && (rc = publish_primary(pid)) < 0) {
		/* The first address changes: put it back as it was. */
		memmove(&addrs[pid][1], &addrs[pid][0], nb_addrs[pid] * sizeof(addrs[0][0]));
		addrs[pid][0] = (struct tern_addr){ .ip = ip, .len = len };
		nb_addrs[pid]++;
		return out_err(c->out, -rc, "address %s: %s", argv[0], strerror(-rc));
	}
	addr_routes(pid, ip, len, false);
	for (unsigned k = 0; k < nb_addr_notify; k++)
		addr_notify[k](pid, ip, len, false);
	return 0;
}

/* addr show [dev PORT] */
int
cli_addr_show(struct cmd_ctx *c, int argc, char **argv)
{
	struct tern_port *only = NULL;
	char buf[INET_ADDRSTRLEN];

	if (argc != 0 && (argc != 2 || strcmp(argv[0], "dev") != 0))
		return out_err(c->out, EINVAL, "usage: addr show [dev PORT]");
	if (argc == 2 && (only = tern_port_lookup(argv[1])) == NULL)
		return out_err(c->out, ENODEV, "no port '%s'", argv[1]);
	out_list_open(c->out, "addresses");
	for (unsigned i = 0; i < tern_ctl.nb_ports; i++) {
		const struct tern_port *p = &tern_ctl.port[i];

		if (only != NULL && only != p)
			continue;
		for (unsigned k = 0; k < nb_addrs[p->port_id]; k++) {
			const struct tern_addr *a = &addrs[p->port_id][k];
			out_obj_open(c->out, NULL);
			out_str(c->out, "port", "%s", p->name);
			out_str(c->out, "address", "%s/%u",
			        inet_ntop(AF_INET, &a->ip, buf, sizeof(buf)), a->len);
			out_obj_close(c->out);
		}
	}
	out_list_close(c->out);
	return 0;
}

void
addr_running_config(struct tern_out *o)
{
	char buf[INET_ADDRSTRLEN];

	for (unsigned i = 0; i < tern_ctl.nb_ports; i++) {
		const struct tern_port *p = &tern_ctl.port[i];
		for (unsigned k = 0; k < nb_addrs[p->port_id]; k++) {
			const struct tern_addr *a = &addrs[p->port_id][k];
			out_text(o, "addr add %s/%u dev %s\n",
			         inet_ntop(AF_INET, &a->ip, buf, sizeof(buf)), a->len, p->name);
		}
	}
}

static void
addr_fini(void)
{
	memset(nb_addrs, 0, sizeof(nb_addrs));
}
TERN_FINI(addr_fini);
