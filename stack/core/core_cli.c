/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_version.h>
#include <rte_graph.h>
#include <rte_graph_worker.h>
#include <rte_mempool.h>

#include "core/ctl.h"
#include "core/drop.h"
#include "core/log.h"
#include "mgmt/cli.h"

/* eal ARGS...: recorded for rte_eal_init(). */
int
cli_eal(struct cmd_ctx *c, int argc, char **argv)
{
	if (tern_ctl.eal_argc != 0)
		return out_err(c->out, EEXIST, "'eal' given twice");
	if (argc > TERN_MAX_EAL_ARGS)
		return out_err(c->out, E2BIG, "at most %d EAL arguments", TERN_MAX_EAL_ARGS);
	snprintf(tern_ctl.eal_where, sizeof(tern_ctl.eal_where), "%s:%d", c->file ? c->file : "",
	         c->line);
	for (int i = 0; i < argc; i++) {
		if ((tern_ctl.eal_argv[i] = strdup(argv[i])) == NULL)
			return out_err(c->out, ENOMEM, "out of memory");
		tern_ctl.eal_argc = i + 1;
	}
	return 0;
}

/* workers LCORELIST: "1", "1-3", "1,3,5-6". */
int
cli_workers(struct cmd_ctx *c, int argc, char **argv)
{
	unsigned lcores[TERN_MAX_WORKERS], n = 0;
	const char *s = argv[0];
	char *end;

	if (tern_ctl.nb_workers != 0)
		return out_err(c->out, EEXIST, "'workers' given twice");
	if (strlen(s) >= sizeof(tern_ctl.workers_spec))
		return out_err(c->out, EINVAL, "lcore list '%s' too long", s);
	while (*s) {
		unsigned long lo, hi;

		if (*s < '0' || *s > '9')
			goto bad;
		lo = hi = strtoul(s, &end, 10);
		s = end;
		if (*s == '-') {
			s++;
			if (*s < '0' || *s > '9')
				goto bad;
			hi = strtoul(s, &end, 10);
			s = end;
		}
		if (hi < lo || hi >= RTE_MAX_LCORE)
			goto bad;
		for (unsigned long l = lo; l <= hi; l++) {
			for (unsigned k = 0; k < n; k++)
				if (lcores[k] == l)
					return out_err(c->out, EINVAL, "lcore %lu listed twice", l);
			if (n == TERN_MAX_WORKERS)
				return out_err(c->out, E2BIG, "at most %d workers",
				               TERN_MAX_WORKERS);
			lcores[n++] = (unsigned)l;
		}
		/* A comma must start another item: "1," or "1,,2" is a typo,
		 * not the list "1". */
		if (*s == ',' && s[1] == '\0')
			goto bad;
		if (*s == ',')
			s++;
		else if (*s != '\0')
			goto bad;
	}
	if (n == 0)
		goto bad;
	memcpy(tern_ctl.worker_lcore, lcores, n * sizeof(lcores[0]));
	tern_ctl.nb_workers = n;
	snprintf(tern_ctl.workers_spec, sizeof(tern_ctl.workers_spec), "%s", argv[0]);
	snprintf(tern_ctl.workers_where, sizeof(tern_ctl.workers_where), "%s:%d",
	         c->file ? c->file : "", c->line);
	return 0;
bad:
	return out_err(c->out, EINVAL,
	               "lcore list '%s': expected e.g. 1 or 1-3 or 1,3,5-6 (below %d)", argv[0],
	               RTE_MAX_LCORE);
}

static uint64_t *
node_base(unsigned w, rte_node_t id)
{
	return tern_ctl.node_base[(size_t)w * tern_ctl.node_base_stride + id];
}

struct node_sum {
	const char *name;
	uint64_t objs, calls;
};

static void
emit_nodes(struct tern_out *o, const struct node_sum *s, unsigned n, bool json)
{
	out_list_open(o, "nodes");
	for (unsigned i = 0; i < n; i++) {
		if (tern_drop_describe(s[i].name) != NULL)
			continue;
		out_obj_open(o, NULL);
		out_str(o, "node", "%s", s[i].name);
		out_u64(o, "packets", s[i].objs);
		out_u64(o, "calls", s[i].calls);
		out_obj_close(o);
	}
	out_list_close(o);
	out_list_open(o, "drops");
	for (unsigned i = 0; i < n; i++) {
		const char *desc = tern_drop_describe(s[i].name);

		/* Text lists only the reasons that happened; JSON lists all. */
		if (desc == NULL || (!json && s[i].objs == 0))
			continue;
		out_obj_open(o, NULL);
		out_str(o, "reason", "%s", s[i].name + strlen(TERN_DROP_NODE_PREFIX));
		out_u64(o, "packets", s[i].objs);
		out_str(o, "description", "%s", desc);
		out_obj_close(o);
	}
	out_list_close(o);
}

/* The control thread's drops, after the workers' (text: only those that
 * happened). */
static void
emit_ctl_drops(struct tern_out *o, bool json)
{
	out_list_open(o, "control_drops");
	for (unsigned r = 0; r < TERN_CTL_DROP_MAX; r++) {
		uint64_t n = tern_ctl_drop_count_since_clear(r);

		if (!json && n == 0)
			continue;
		out_obj_open(o, NULL);
		out_str(o, "reason", "%s", tern_ctl_drop_name(r));
		out_u64(o, "packets", n);
		out_str(o, "description", "%s", tern_ctl_drop_desc(r));
		out_obj_close(o);
	}
	out_list_close(o);
}

static unsigned
collect(unsigned wi, struct node_sum *s, unsigned max)
{
	struct rte_graph *g = tern_ctl.worker[wi]->graph;
	struct rte_node *node;
	rte_graph_off_t off;
	rte_node_t count;
	unsigned n = 0;

	rte_graph_foreach_node (count, off, g, node) {
		uint64_t *base = node_base(wi, node->id);

		if (n == max)
			break;
		s[n].name = node->name;
		s[n].objs = __atomic_load_n(&node->total_objs, __ATOMIC_RELAXED) - base[0];
		s[n].calls = __atomic_load_n(&node->total_calls, __ATOMIC_RELAXED) - base[1];
		n++;
	}
	return n;
}

/* stats show: per node packets and calls, drops by reason, per worker load. */
int
cli_stats_show(struct cmd_ctx *c, int argc, char **argv)
{
	unsigned max = tern_ctl.node_base_stride, ntot = 0;
	struct node_sum *tot = calloc(max, sizeof(*tot));
	struct node_sum *one = calloc(max, sizeof(*one));
	struct tern_out *o = c->out;
	uint64_t now = rte_rdtsc();

	if (tot == NULL || one == NULL) {
		free(tot);
		free(one);
		return out_err(o, ENOMEM, "out of memory");
	}
	/* Sum the workers' graphs; every graph has the same nodes. */
	for (unsigned wi = 0; wi < tern_ctl.nb_workers; wi++) {
		unsigned n = collect(wi, one, max);
		for (unsigned i = 0; i < n; i++) {
			unsigned k;
			for (k = 0; k < ntot && strcmp(tot[k].name, one[i].name) != 0; k++)
				;
			if (k == ntot) {
				tot[ntot].name = one[i].name;
				ntot++;
			}
			tot[k].objs += one[i].objs;
			tot[k].calls += one[i].calls;
		}
	}
	emit_nodes(o, tot, ntot, o->json);
	emit_ctl_drops(o, o->json);

	out_list_open(o, "workers");
	for (unsigned wi = 0; wi < tern_ctl.nb_workers; wi++) {
		const struct tern_worker *w = tern_ctl.worker[wi];
		uint64_t loops = __atomic_load_n(&w->loops, __ATOMIC_RELAXED);
		uint64_t busy = __atomic_load_n(&w->busy_cycles, __ATOMIC_RELAXED);
		uint64_t since =
		    tern_ctl.worker_base[wi][2] ? tern_ctl.worker_base[wi][2] : w->start_tsc;
		double span = (double)(now - since);
		/* A loop that began before `since` counts whole, so a busy
		 * worker can add up to a little over its span. */
		double busy_pct =
		    span > 0 ? 100.0 * (double)(busy - tern_ctl.worker_base[wi][1]) / span : 0.0;

		out_obj_open(o, NULL);
		out_u64(o, "worker", wi);
		out_u64(o, "lcore", w->lcore);
		out_u64(o, "loops", loops - tern_ctl.worker_base[wi][0]);
		out_double(o, "busy_percent", busy_pct > 100.0 ? 100.0 : busy_pct, 1);
		if (o->json) {
			unsigned n = collect(wi, one, max);
			emit_nodes(o, one, n, true);
		}
		out_obj_close(o);
	}
	out_list_close(o);

	out_list_open(o, "mempools");
	for (unsigned i = 0; i < tern_ctl.nb_ports; i++) {
		const struct tern_port *p = &tern_ctl.port[i];
		unsigned avail;

		if (p->pool == NULL)
			continue;
		avail = rte_mempool_avail_count(p->pool);
		out_obj_open(o, NULL);
		out_str(o, "mempool", "%s", p->pool->name);
		out_str(o, "port", "%s", p->name);
		out_i64(o, "socket", p->pool->socket_id);
		out_u64(o, "size", p->pool->size);
		out_u64(o, "available", avail);
		out_u64(o, "in_use", p->pool->size - avail);
		out_obj_close(o);
	}
	for (unsigned i = 0; i < tern_ctl.nb_extra_pools; i++) {
		const struct rte_mempool *mp = tern_ctl.extra_pool[i];
		unsigned avail = rte_mempool_avail_count(mp);

		out_obj_open(o, NULL);
		out_str(o, "mempool", "%s", mp->name);
		out_str(o, "port", "-");
		out_i64(o, "socket", mp->socket_id);
		out_u64(o, "size", mp->size);
		out_u64(o, "available", avail);
		out_u64(o, "in_use", mp->size - avail);
		out_obj_close(o);
	}
	out_list_close(o);
	free(tot);
	free(one);
	return 0;
}

/*
 * stats clear: the counters belong to the workers and keep running; the
 * control thread records a baseline and subtracts it.
 */
int
cli_stats_clear(struct cmd_ctx *c, int argc, char **argv)
{
	for (unsigned wi = 0; wi < tern_ctl.nb_workers; wi++) {
		struct tern_worker *w = tern_ctl.worker[wi];
		struct rte_node *node;
		rte_graph_off_t off;
		rte_node_t count;

		rte_graph_foreach_node (count, off, w->graph, node) {
			uint64_t *base = node_base(wi, node->id);
			base[0] = __atomic_load_n(&node->total_objs, __ATOMIC_RELAXED);
			base[1] = __atomic_load_n(&node->total_calls, __ATOMIC_RELAXED);
		}
		tern_ctl.worker_base[wi][0] = __atomic_load_n(&w->loops, __ATOMIC_RELAXED);
		tern_ctl.worker_base[wi][1] = __atomic_load_n(&w->busy_cycles, __ATOMIC_RELAXED);
		tern_ctl.worker_base[wi][2] = rte_rdtsc();
	}
	for (unsigned i = 0; i < tern_ctl.nb_ports; i++)
		rte_eth_stats_reset(tern_ctl.port[i].port_id);
	tern_ctl_drops_clear();
	return 0;
}

/* show running-config: a config file ternd can boot from. */
int
cli_running_config(struct cmd_ctx *c, int argc, char **argv)
{
	struct tern_out text;
	char word[2 * 4096 + 3];
	size_t len;
	const char *s;

	/* Render as one text block, so JSON gets it as one "config" string. */
	out_init(&text, false);
	out_text(&text, "# ternd %s running configuration\n", TERN_VERSION);
	if (tern_ctl.eal_argc > 0) {
		out_text(&text, "eal");
		for (int i = 0; i < tern_ctl.eal_argc; i++) {
			out_text(&text, " %s", cmd_quote(tern_ctl.eal_argv[i], word, sizeof(word)));
		}
		out_text(&text, "\n");
	}
	if (tern_ctl.workers_spec[0])
		out_text(&text, "workers %s\n", tern_ctl.workers_spec);
	if (tern_log_get_level() != TERN_LOG_INFO)
		out_text(&text, "log level %s\n", tern_log_level_name(tern_log_get_level()));
	port_running_config(&text);
	ip_running_config(&text);
	arp_running_config(&text);
	icmp_running_config(&text);
	udp_running_config(&text);
	tcp_running_config(&text);
	tcp_echo_running_config(&text);
	http_running_config(&text);
	nat_running_config(&text);
	s = out_finish(&text, &len);
	if (c->out->json)
		out_str(c->out, "config", "%s", s);
	else
		out_text(c->out, "%s", s);
	out_free(&text);
	return 0;
}

/* help [COMMAND...] */
int
cli_help(struct cmd_ctx *c, int argc, char **argv)
{
	bool any = false;

	out_list_open(c->out, "commands");
	for (const struct cmd_def *d = tern_commands; d->name; d++) {
		/* "help port" lists every command starting with "port". */
		bool match = true;
		const char *n = d->name;
		for (int i = 0; i < argc && match; i++) {
			size_t len = strlen(argv[i]);
			if (strncmp(n, argv[i], len) != 0 || (n[len] != ' ' && n[len] != '\0'))
				match = false;
			else
				n += len + (n[len] == ' ');
		}
		if (!match)
			continue;
		any = true;
		out_obj_open(c->out, NULL);
		out_str(c->out, "command", "%s%s%s", d->name, d->usage[0] ? " " : "", d->usage);
		out_str(c->out, "help", "%s%s", d->help,
		        (d->flags & CMD_BOOT) ? " (config file only)" : "");
		out_obj_close(c->out);
	}
	out_list_close(c->out);
	if (!any) {
		/* Every word given: "help link bogus" is about "link bogus". */
		char *words = cmd_join(argc, argv);
		int rc = out_err(c->out, ENOENT, "no command '%s' (try 'help')",
		                 words != NULL ? words : argv[0]);

		free(words);
		return rc;
	}
	return 0;
}

int
cli_version(struct cmd_ctx *c, int argc, char **argv)
{
	out_str(c->out, "version", "%s", TERN_VERSION);
	out_str(c->out, "dpdk", "%s", rte_version());
	return 0;
}

int
cli_shutdown(struct cmd_ctx *c, int argc, char **argv)
{
	atomic_store(&tern_ctl.shutdown, true);
	out_str(c->out, "status", "shutting down");
	return 0;
}

int
cli_log_level(struct cmd_ctx *c, int argc, char **argv)
{
	int l = tern_log_parse_level(argv[0]);

	if (l < 0)
		return out_err(c->out, EINVAL, "log level '%s': error, warning, info or debug",
		               argv[0]);
	if (!c->dry_run)
		tern_log_set_level((enum tern_log_level)l);
	return 0;
}

void
tern_out_worker(struct tern_out *o, unsigned worker)
{
	out_u64(o, "worker", worker);
	if (worker < tern_ctl.nb_workers && tern_ctl.worker[worker] != NULL)
		out_u64(o, "lcore", tern_ctl.worker[worker]->lcore);
}
