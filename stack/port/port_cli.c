/* SPDX-License-Identifier: BSD-3-Clause */
#include <ctype.h>
#include <errno.h>
#include <string.h>

#include <rte_ethdev.h>
#include <rte_mempool.h>

#include "core/ctl.h"
#include "core/dp.h"
#include "core/log.h"
#include "mgmt/cli.h"

/* Port names start with a letter, so they never read as numbers, and are
 * not the keywords that stand for no port (port xconnect A none) or every
 * port (capture start all). */
static int
check_port_name(struct cmd_ctx *c, const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len >= TERN_NAME_SIZE || !isalpha((unsigned char)name[0]))
		goto bad;
	for (size_t i = 0; i < len; i++)
		if (!isalnum((unsigned char)name[i]) && name[i] != '_' && name[i] != '-' &&
		    name[i] != '.')
			goto bad;
	if (strcmp(name, "none") == 0 || strcmp(name, "all") == 0)
		goto bad;
	return 0;
bad:
	return out_err(c->out, EINVAL,
	               "port name '%s': 1-%d letters, digits, '_', '-' or '.', starting with a "
	               "letter, and not 'none' or 'all'",
	               name, TERN_NAME_SIZE - 1);
}

/* port add NAME DEVARGS [rxq N] [txq N] [mtu N] [mbufs N] */
int
cli_port_add(struct cmd_ctx *c, int argc, char **argv)
{
	struct tern_port p = { 0 };
	uint64_t v;
	int rc;

	if ((rc = check_port_name(c, argv[0])) < 0)
		return rc;
	if (tern_port_lookup(argv[0]) != NULL)
		return out_err(c->out, EEXIST, "port '%s' already exists", argv[0]);
	if (tern_ctl.nb_ports == TERN_MAX_PORTS)
		return out_err(c->out, ENOSPC, "at most %d ports", TERN_MAX_PORTS);
	if (strlen(argv[1]) >= sizeof(p.devargs))
		return out_err(c->out, EINVAL, "devargs '%.32s...' too long", argv[1]);
	for (unsigned i = 0; i < tern_ctl.nb_ports; i++)
		if (strcmp(tern_ctl.port[i].devargs, argv[1]) == 0)
			return out_err(c->out, EEXIST, "devargs '%s' already used by port '%s'",
			               argv[1], tern_ctl.port[i].name);
	snprintf(p.where, sizeof(p.where), "%s:%d", c->file ? c->file : "", c->line);
	snprintf(p.name, sizeof(p.name), "%s", argv[0]);
	snprintf(p.devargs, sizeof(p.devargs), "%s", argv[1]);
	if ((argc - 2) % 2 != 0)
		return out_err(c->out, EINVAL, "option '%s' needs a value", argv[argc - 1]);
	for (int i = 2; i < argc; i += 2) {
		if ((rc = cmd_once(c, argv, 2, i, 2)) < 0)
			return rc;
		if (strcmp(argv[i], "rxq") == 0) {
			rc = cmd_parse_u64(c, "rxq", argv[i + 1], 1, 1024, &v);
			p.req_rxq = (uint16_t)v;
		} else if (strcmp(argv[i], "txq") == 0) {
			rc = cmd_parse_u64(c, "txq", argv[i + 1], 1, 1024, &v);
			p.req_txq = (uint16_t)v;
		} else if (strcmp(argv[i], "mtu") == 0) {
			rc = cmd_parse_u64(c, "mtu", argv[i + 1], 68, 9600, &v);
			p.req_mtu = (uint16_t)v;
		} else if (strcmp(argv[i], "mbufs") == 0) {
			rc = cmd_parse_u64(c, "mbufs", argv[i + 1], 1024, 1u << 24, &v);
			p.req_mbufs = (uint32_t)v;
		} else {
			return out_err(c->out, EINVAL,
			               "unknown option '%s' (rxq, txq, mtu or mbufs)", argv[i]);
		}
		if (rc < 0)
			return rc;
	}
	/* Boot-only: this only records the port; tern_start() brings it up. */
	tern_ctl.port[tern_ctl.nb_ports++] = p;
	return 0;
}

/* Devices without MAC filters (virtio-user) say ENOTSUP: they pass every
 * frame anyway. */
static int
promisc_enable(uint16_t port_id)
{
	int rc = rte_eth_promiscuous_enable(port_id);

	return rc == -ENOTSUP ? 0 : rc;
}

/* Undo promisc_enable(), unless the port was promiscuous before it. */
static void
promisc_restore(uint16_t port_id, bool was)
{
	if (!was)
		rte_eth_promiscuous_disable(port_id);
}

/*
 * port xconnect A B: frames from A leave on B and the other way round.
 * port xconnect A none: undo it (for A and its peer).
 */
int
cli_port_xconnect(struct cmd_ctx *c, int argc, char **argv)
{
	struct tern_port *a = tern_port_lookup(argv[0]);
	struct tern_port *b = strcmp(argv[1], "none") == 0 ? NULL : tern_port_lookup(argv[1]);
	const struct tern_dp *cur;
	struct tern_dp *dp;
	bool a_was = true, b_was = true;
	uint16_t old;
	int rc;

	if (a == NULL)
		return out_err(c->out, ENODEV, "no port '%s'", argv[0]);
	if (b == NULL && strcmp(argv[1], "none") != 0)
		return out_err(c->out, ENODEV, "no port '%s'", argv[1]);
	if (a == b)
		return out_err(c->out, EINVAL, "cannot cross-connect '%s' to itself", a->name);
	/* Pass 1 of a config file checks conflicts on its own table, by port
	 * index, so that pass 2 cannot fail on a line pass 1 accepted. */
	if (c->dry_run) {
		int ai = (int)(a - tern_ctl.port), bi = b ? (int)(b - tern_ctl.port) : -1;
		int8_t *xc = tern_ctl.dry_xconnect;

		if (bi >= 0 && (xc[ai] != 0 || xc[bi] != 0) && xc[ai] != bi + 1)
			goto busy;
		if (xc[ai] != 0)
			xc[xc[ai] - 1] = 0;
		xc[ai] = (int8_t)(bi + 1);
		if (bi >= 0)
			xc[bi] = (int8_t)(ai + 1);
		return 0;
	}
	cur = tern_dp_current();
	if (b != NULL &&
	    (cur->port[a->port_id].xconnect != TERN_PORT_NONE ||
	     cur->port[b->port_id].xconnect != TERN_PORT_NONE) &&
	    cur->port[a->port_id].xconnect != b->port_id)
		goto busy;
	/* A cross-connect forwards every frame, whatever its destination MAC.
	 * Remember which ports were promiscuous already, so a failure below
	 * leaves both as they were. */
	if (b != NULL) {
		const struct tern_port *bad = a;

		a_was = rte_eth_promiscuous_get(a->port_id) != 0;
		b_was = rte_eth_promiscuous_get(b->port_id) != 0;
		if ((rc = promisc_enable(a->port_id)) == 0) {
			bad = b;
			rc = promisc_enable(b->port_id);
		}
		if (rc < 0) {
			promisc_restore(a->port_id, a_was);
			promisc_restore(b->port_id, b_was);
			return out_err(c->out, -rc, "cannot make %s promiscuous: %s", bad->name,
			               strerror(-rc));
		}
	}
	if ((dp = tern_dp_copy()) == NULL) {
		if (b != NULL) {
			promisc_restore(a->port_id, a_was);
			promisc_restore(b->port_id, b_was);
		}
		return out_err(c->out, ENOMEM, "out of memory");
	}
	old = dp->port[a->port_id].xconnect;
	if (old != TERN_PORT_NONE)
		dp->port[old].xconnect = TERN_PORT_NONE;
	dp->port[a->port_id].xconnect = b ? b->port_id : TERN_PORT_NONE;
	if (b != NULL)
		dp->port[b->port_id].xconnect = a->port_id;
	tern_dp_publish(dp);
	if (b == NULL && old != TERN_PORT_NONE) {
		/* Undone: both go back to accepting only their own frames. */
		rte_eth_promiscuous_disable(a->port_id);
		rte_eth_promiscuous_disable(old);
	}
	return 0;
busy:
	return out_err(c->out, EBUSY,
	               "'%s' or '%s' is already cross-connected: 'port xconnect %s none' first",
	               a->name, b->name, a->name);
}

void
port_running_config(struct tern_out *o)
{
	const struct tern_dp *dp = tern_dp_current();
	char extra[128], word[2 * sizeof(tern_ctl.port[0].devargs) + 3];

	for (unsigned i = 0; i < tern_ctl.nb_ports; i++) {
		const struct tern_port *p = &tern_ctl.port[i];
		int n = 0;

		extra[0] = '\0';
		if (p->req_rxq)
			n += snprintf(extra + n, sizeof(extra) - n, " rxq %u", p->req_rxq);
		if (p->req_txq)
			n += snprintf(extra + n, sizeof(extra) - n, " txq %u", p->req_txq);
		if (p->req_mtu)
			n += snprintf(extra + n, sizeof(extra) - n, " mtu %u", p->req_mtu);
		if (p->req_mbufs)
			n += snprintf(extra + n, sizeof(extra) - n, " mbufs %u", p->req_mbufs);
		out_text(o, "port add %s %s%s\n", p->name,
		         cmd_quote(p->devargs, word, sizeof(word)), extra);
	}
	if (dp == NULL)
		return;
	for (unsigned i = 0; i < tern_ctl.nb_ports; i++) {
		const struct tern_port *a = &tern_ctl.port[i];
		const struct tern_port *b = tern_port_by_id(dp->port[a->port_id].xconnect);

		/* Print each pair once, from its first-declared port. */
		if (b != NULL && b >= a)
			out_text(o, "port xconnect %s %s\n", a->name, b->name);
	}
	for (unsigned i = 0; i < tern_ctl.nb_ports; i++)
		if (tern_ctl.port[i].admin_down)
			out_text(o, "link set %s down\n", tern_ctl.port[i].name);
}

static const char *
link_speed(uint32_t speed)
{
	static char buf[32];

	if (speed == RTE_ETH_SPEED_NUM_NONE)
		return "none";
	if (speed == RTE_ETH_SPEED_NUM_UNKNOWN)
		return "unknown";
	snprintf(buf, sizeof(buf), "%uMbps", speed);
	return buf;
}

static void
link_one(struct tern_out *o, const struct tern_port *p, const struct tern_dp *dp)
{
	struct rte_eth_stats st = { 0 };
	struct rte_eth_link link = { 0 };
	unsigned avail = p->pool ? rte_mempool_avail_count(p->pool) : 0;
	const struct tern_port *peer = tern_port_by_id(dp->port[p->port_id].xconnect);

	rte_eth_stats_get(p->port_id, &st);
	rte_eth_link_get_nowait(p->port_id, &link);
	out_obj_open(o, NULL);
	out_str(o, "name", "%s", p->name);
	out_u64(o, "port_id", p->port_id);
	out_str(o, "driver", "%s", p->driver);
	out_str(o, "devargs", "%s", p->devargs);
	out_str(o, "mac", RTE_ETHER_ADDR_PRT_FMT, RTE_ETHER_ADDR_BYTES(&p->mac));
	out_u64(o, "mtu", p->mtu);
	/* Whether the PMD sends mbuf chains itself; if not, port_tx copies
	 * each chain into one segment first (a cost worth seeing). */
	out_str(o, "tx_chains", "%s", p->tx_multiseg ? "sent" : "linearized");
	out_str(o, "link", "%s", link.link_status ? "up" : "down");
	out_str(o, "admin", "%s", p->admin_down ? "down" : "up");
	out_str(o, "speed", "%s", link_speed(link.link_speed));
	out_str(o, "duplex", "%s", link.link_duplex ? "full" : "half");
	out_u64(o, "rxq", p->nb_rxq);
	out_u64(o, "txq", p->nb_txq);
	out_i64(o, "socket", p->socket);
	out_str(o, "xconnect", "%s", peer ? peer->name : "none");
	out_u64(o, "rx_packets", st.ipackets);
	out_u64(o, "rx_bytes", st.ibytes);
	out_u64(o, "tx_packets", st.opackets);
	out_u64(o, "tx_bytes", st.obytes);
	out_u64(o, "rx_drops", st.imissed + st.rx_nombuf);
	out_u64(o, "rx_errors", st.ierrors);
	out_u64(o, "tx_errors", st.oerrors);
	out_u64(o, "mbufs", p->nb_mbufs);
	out_u64(o, "mbufs_in_use", p->nb_mbufs - avail);
	out_obj_close(o);
}

/*
 * link set PORT up|down: the administrative state, like `ip link set dev X
 * down`.  Down: the workers stop polling the port and drop what is routed
 * to it (tx_admin_down); the PMD is asked to take its link down where it
 * can (net_tap: the kernel interface), and the link listeners hear of it
 * at once (ARP forgets the port's learnt neighbours).  Up: the reverse;
 * the listeners hear of it when the PMD reports its link up (gratuitous
 * ARP).  The port's addresses and routes stay.
 */
int
cli_link_set(struct cmd_ctx *c, int argc, char **argv)
{
	struct tern_port *p = tern_port_lookup(argv[0]);
	struct tern_dp *dp;
	bool down;
	int rc;

	(void)argc;
	if (p == NULL)
		return out_err(c->out, ENODEV, "no port '%s'", argv[0]);
	if (strcmp(argv[1], "down") == 0)
		down = true;
	else if (strcmp(argv[1], "up") == 0)
		down = false;
	else
		return out_err(c->out, EINVAL, "'%s': expected up or down", argv[1]);
	if (c->dry_run || down == p->admin_down)
		return 0;
	if ((dp = tern_dp_copy()) == NULL)
		return out_err(c->out, ENOMEM, "link set %s: out of memory", p->name);
	/* Most vdevs cannot do this (-ENOTSUP): the port is down to ternd
	 * all the same. */
	rc = down ? rte_eth_dev_set_link_down(p->port_id) : rte_eth_dev_set_link_up(p->port_id);
	if (rc < 0 && rc != -ENOTSUP && rc != -EIO)
		LOG_WARN("port %s: set link %s: %s", p->name, argv[1], strerror(-rc));
	dp->port[p->port_id].admin_down = down;
	p->admin_down = down;
	tern_dp_publish(dp);
	tern_link_refresh(p);
	return 0;
}

/* link show [NAME] */
int
cli_link_show(struct cmd_ctx *c, int argc, char **argv)
{
	const struct tern_dp *dp = tern_dp_current();
	const struct tern_port *only = NULL;

	if (argc == 1 && (only = tern_port_lookup(argv[0])) == NULL)
		return out_err(c->out, ENODEV, "no port '%s'", argv[0]);
	out_list_open(c->out, "ports");
	for (unsigned i = 0; i < tern_ctl.nb_ports; i++)
		if (only == NULL || only == &tern_ctl.port[i])
			link_one(c->out, &tern_ctl.port[i], dp);
	out_list_close(c->out);
	return 0;
}
