/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * NAT44 control: the rule set (kept here, published to the workers as an
 * immutable copy with RCU through tern_dp.nat), the knobs (pushed to every
 * worker's table through its call ring) and the commands:
 *
 *   nat add snat src PREFIX out PORT [to ADDR[-ADDR]] [ports LO-HI]
 *   nat add dnat [tcp|udp] ADDR[:PORT] to ADDR[:PORT]
 *   nat add static INSIDE OUTSIDE
 *   nat add exempt src PREFIX dst PREFIX
 *   nat del ...            (the same words as the rule's add)
 *   nat show, nat stats, nat sessions show [src ADDR] [proto tcp|udp|icmp],
 *   nat sessions flush
 *   nat timeout NAME SECONDS, nat filtering eif|adf|apdf, nat hairpin on|off,
 *   nat max-per-host N, nat max-sessions N (boot)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_malloc.h>

#include "core/ctl.h"
#include "core/init.h"
#include "core/telemetry.h"
#include "ip/fib.h"
#include "ip/ip.h"
#include "mgmt/cli.h"
#include "mgmt/out.h"
#include "nat/nat_worker.h"

/* Control thread only. */
static struct nat_rules rules;
static struct nat_cfg cfg;
static bool ready;

static void
control_init(void)
{
	if (ready)
		return;
	nat_rules_init(&rules);
	nat_cfg_default(&cfg);
	ready = true;
}

struct nat_cfg *
nat_global_cfg(void)
{
	control_init();
	return &cfg;
}

void
nat_control_fini(void)
{
	const struct tern_dp *dp = tern_dp_current();

	if (dp != NULL)
		rte_free((void *)(uintptr_t)dp->nat);
	ready = false;
}

/* Publish rule set `r`: a copy the workers read until the next one; NAT
 * is off (ip_input routes by itself) while there is no rule. */
static int
publish(const struct nat_rules *r)
{
	const struct tern_dp *cur = tern_dp_current();
	const struct nat_rules *old = cur->nat;
	struct nat_rules *next = NULL;
	struct tern_dp *dp;

	if (r->n != 0) {
		if ((next = rte_malloc("nat_rules", sizeof(*next), RTE_CACHE_LINE_SIZE)) == NULL)
			return -ENOMEM;
		*next = *r;
	}
	if ((dp = tern_dp_copy()) == NULL) {
		rte_free(next);
		return -ENOMEM;
	}
	dp->nat = next;
	dp->prerouting = next != NULL;
	tern_dp_publish(dp); /* after a grace period nobody reads `old` */
	rte_free((void *)(uintptr_t)old);
	return 0;
}

/* Run fn on every worker, between two of its bursts. */
static int
on_workers(int (*fn)(struct tern_worker *w, void *arg), void *arg)
{
	for (unsigned i = 0; i < nat_nb_workers(); i++) {
		int rc = tern_worker_call(nat_worker_by_index(i)->w, fn, arg);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int
set_cfg_one(struct tern_worker *w, void *arg)
{
	nat_table_set_cfg(nat_worker_of(w)->t, arg);
	return 0;
}

static int on_workers_chunked(struct cmd_ctx *c, int (*chunk)(struct tern_worker *w, void *arg),
                              const char *what);

/* A chunk of nat_table_retime_some(): as many slots as a chunk of `nat
 * sessions show` visits, cheaper each. */
static int
retime_chunk(struct tern_worker *w, void *arg)
{
	uint32_t *cursor = arg;

	*cursor = nat_table_retime_some(nat_worker_of(w)->t, *cursor, NAT_WALK_BUDGET);
	return 0;
}

/* Make `next` the configuration of every worker, then ours; on failure,
 * the workers already changed go back to the old one (nothing half-set).
 * A shortened timeout applies to the sessions there are, too: their
 * timers are moved, chunk by chunk (docs/nat.md). */
static int
apply_cfg(struct cmd_ctx *c, const struct nat_cfg *next)
{
	bool shorter = nat_cfg_shorter(&cfg, next);
	int rc;

	if (c->dry_run)
		return 0;
	if ((rc = on_workers(set_cfg_one, (void *)(uintptr_t)next)) < 0) {
		on_workers(set_cfg_one, &cfg);
		return out_err(c->out, -rc, "nat: %s", strerror(-rc));
	}
	cfg = *next;
	if (shorter)
		return on_workers_chunked(c, retime_chunk,
		                          "nat: timeouts set, but moving the sessions' timers");
	return 0;
}

/* Where a command builds the rule set it wants (10 KB: not on the stack;
 * control thread only), before commit_rules(). */
static struct nat_rules next_rules;

/* Make `next` the rule set, published to the workers when it has rules (or
 * had); on failure nothing changes. */
static int
commit_rules(struct cmd_ctx *c, const struct nat_rules *next)
{
	int rc;

	if ((next->n != 0 || rules.n != 0) && (rc = publish(next)) < 0)
		return out_err(c->out, -rc, "nat: %s", strerror(-rc));
	rules = *next;
	return 0;
}

/* ---- Parsing ---- */

static int
parse_addr(const char *s, uint32_t *a)
{
	struct in_addr in;

	if (inet_pton(AF_INET, s, &in) != 1)
		return -EINVAL;
	*a = ntohl(in.s_addr);
	return 0;
}

static int
parse_prefix(const char *s, uint32_t *prefix, uint32_t *mask)
{
	rte_be32_t ip;
	uint8_t len;

	if (tern_parse_prefix(s, &ip, &len, true) < 0)
		return -EINVAL;
	*mask = len == 0 ? 0 : ~0u << (32 - len);
	*prefix = ntohl(ip) & *mask;
	return 0;
}

/* A port number, 1-65535, in plain decimal digits (strtoul would take a
 * sign, blanks and numbers past 2^32 that wrap). */
static int
parse_port(const char *s, uint32_t *port)
{
	uint32_t v = 0;

	if (*s == '\0' || strlen(s) > 5)
		return -EINVAL;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return -EINVAL;
		v = v * 10 + (uint32_t)(*s - '0');
	}
	if (v == 0 || v > 65535)
		return -EINVAL;
	*port = v;
	return 0;
}

/* ADDR[:PORT] */
static int
parse_addr_port(const char *s, uint32_t *a, uint16_t *port)
{
	char buf[32], *colon;
	uint32_t p = 0;

	if (strlen(s) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, s);
	if ((colon = strchr(buf, ':')) != NULL) {
		*colon = '\0';
		if (parse_port(colon + 1, &p) < 0)
			return -EINVAL;
	}
	*port = (uint16_t)p;
	return parse_addr(buf, a);
}

static int
parse_port_range(const char *s, uint32_t *lo, uint32_t *hi)
{
	char buf[40], *dash;

	if (strlen(s) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, s);
	if ((dash = strchr(buf, '-')) != NULL)
		*dash = '\0';
	if (parse_port(buf, lo) < 0)
		return -EINVAL;
	*hi = *lo;
	if (dash && parse_port(dash + 1, hi) < 0)
		return -EINVAL;
	return *lo <= *hi ? 0 : -EINVAL;
}

/* The words after `nat add` / `nat del` -> a rule. */
static int
parse_rule(struct cmd_ctx *c, int argc, char **argv, struct nat_rule *r)
{
	memset(r, 0, sizeof(*r));
	if (argc == 0)
		return out_err(c->out, EINVAL, "expected snat, dnat, static or exempt");
	if (strcmp(argv[0], "snat") == 0) {
		const struct tern_port *p;
		r->type = NAT_SNAT;
		if (argc < 5 || strcmp(argv[1], "src") != 0 || strcmp(argv[3], "out") != 0)
			return out_err(c->out, EINVAL,
			               "usage: nat add snat src PREFIX out PORT [to ADDR[-ADDR]] "
			               "[ports LO-HI]");
		if (parse_prefix(argv[2], &r->prefix, &r->mask) < 0)
			return out_err(c->out, EINVAL, "'%s': expected A.B.C.D/LEN", argv[2]);
		if ((p = tern_port_lookup(argv[4])) == NULL)
			return out_err(c->out, ENODEV, "no port '%s'", argv[4]);
		r->out_port = p->port_id;
		for (int i = 5; i < argc; i += 2) {
			uint32_t lo, hi;
			if (i + 1 >= argc)
				return out_err(c->out, EINVAL, "'%s' needs a value", argv[i]);
			if (cmd_once(c, argv, 5, i, 2) < 0)
				return -EINVAL;
			if (strcmp(argv[i], "to") == 0) {
				if (tern_parse_addr_range(argv[i + 1], &r->pool_lo, &r->pool_hi) <
				    0)
					return out_err(c->out, EINVAL,
					               "pool '%s': expected ADDR or ADDR-ADDR",
					               argv[i + 1]);
				/* As addr add: a pool starting at 0 would read as
				 * "no pool" (masquerade); nor may it hold 127/8. */
				if (tern_addr_range_martian(r->pool_lo, r->pool_hi))
					return out_err(c->out, EINVAL,
					               "pool '%s': not usable host addresses "
					               "(0/8, 127/8, multicast, class E)",
					               argv[i + 1]);
			} else if (strcmp(argv[i], "ports") == 0) {
				if (parse_port_range(argv[i + 1], &lo, &hi) < 0 || lo < 1024)
					return out_err(
					    c->out, EINVAL,
					    "ports '%s': expected LO-HI within 1024-65535",
					    argv[i + 1]);
				r->port_lo = (uint16_t)lo;
				r->port_hi = (uint16_t)hi;
			} else {
				return out_err(c->out, EINVAL, "'%s': expected to or ports",
				               argv[i]);
			}
		}
		return 0;
	}
	if (strcmp(argv[0], "dnat") == 0) {
		int i = 1;
		r->type = NAT_DNAT;
		if (argc > 1 && (strcmp(argv[1], "tcp") == 0 || strcmp(argv[1], "udp") == 0)) {
			r->proto = strcmp(argv[1], "tcp") == 0 ? IPPROTO_TCP : IPPROTO_UDP;
			i = 2;
		}
		if (argc != i + 3 || strcmp(argv[i + 1], "to") != 0)
			return out_err(c->out, EINVAL,
			               "usage: nat add dnat [tcp|udp] ADDR[:PORT] to ADDR[:PORT]");
		if (parse_addr_port(argv[i], &r->ext_addr, &r->ext_port) < 0)
			return out_err(c->out, EINVAL, "'%s': expected ADDR[:PORT]", argv[i]);
		if (parse_addr_port(argv[i + 2], &r->to_addr, &r->to_port) < 0)
			return out_err(c->out, EINVAL, "'%s': expected ADDR[:PORT]", argv[i + 2]);
		if ((r->ext_port || r->to_port) && r->proto == 0)
			return out_err(c->out, EINVAL,
			               "ports need tcp or udp: nat add dnat tcp ...");
		if (r->to_port && !r->ext_port)
			return out_err(c->out, EINVAL,
			               "'%s': a target port needs an outside port to map from",
			               argv[i + 2]);
		if (tern_addr_martian(r->ext_addr) || tern_addr_martian(r->to_addr))
			return out_err(c->out, EINVAL, "'%s': not a usable host address",
			               argv[tern_addr_martian(r->ext_addr) ? i : i + 2]);
		return 0;
	}
	if (strcmp(argv[0], "static") == 0) {
		r->type = NAT_STATIC;
		r->mask = ~0u;
		if (argc != 3 || parse_addr(argv[1], &r->prefix) < 0 ||
		    parse_addr(argv[2], &r->ext_addr) < 0)
			return out_err(c->out, EINVAL,
			               "usage: nat add static INSIDE-ADDR OUTSIDE-ADDR");
		if (tern_addr_martian(r->prefix) || tern_addr_martian(r->ext_addr))
			return out_err(c->out, EINVAL, "'%s': not a usable host address",
			               argv[tern_addr_martian(r->prefix) ? 1 : 2]);
		return 0;
	}
	if (strcmp(argv[0], "exempt") == 0) {
		r->type = NAT_EXEMPT;
		if (argc != 5 || strcmp(argv[1], "src") != 0 || strcmp(argv[3], "dst") != 0 ||
		    parse_prefix(argv[2], &r->prefix, &r->mask) < 0 ||
		    parse_prefix(argv[4], &r->prefix2, &r->mask2) < 0)
			return out_err(c->out, EINVAL,
			               "usage: nat add exempt src PREFIX dst PREFIX");
		return 0;
	}
	return out_err(c->out, EINVAL, "'%s': expected snat, dnat, static or exempt", argv[0]);
}

static int
find_rule(const struct nat_rule *r)
{
	for (unsigned i = 0; i < rules.n; i++)
		if (memcmp(&rules.r[i], r, sizeof(*r)) == 0)
			return (int)i;
	return -1;
}

static void rule_words(const struct nat_rule *r, char *buf, size_t len);

/* "rule 'WORDS' ...", the rule as given. */
static int
rule_err(struct cmd_ctx *c, int err, int argc, char **argv, const char *what)
{
	char *words = cmd_join(argc, argv);
	int rc = out_err(c->out, err, "rule '%s' %s", words != NULL ? words : argv[0], what);

	free(words);
	return rc;
}

int
cli_nat_add(struct cmd_ctx *c, int argc, char **argv)
{
	const struct nat_rule *other;
	struct nat_rule r;
	int rc;

	control_init();
	if ((rc = parse_rule(c, argc, argv, &r)) < 0)
		return rc;
	if (c->dry_run)
		return 0;
	if (find_rule(&r) >= 0)
		return rule_err(c, EEXIST, argc, argv, "exists already");
	if (rules.n == NAT_MAX_RULES)
		return out_err(c->out, ENOSPC, "at most %d rules", NAT_MAX_RULES);
	/* The tables were made for tern_ctl.nb_workers owners (nat_node.c). */
	if (nat_rule_owner_conflict(&rules, &r, tern_ctl.nb_workers, &other) < 0) {
		char words[128], what[192];

		rule_words(other, words, sizeof(words));
		snprintf(what, sizeof(what),
		         "conflicts with 'nat add %s': the same target, and with %u workers their "
		         "outside ports belong to different workers (docs/nat.md, Multi-core)",
		         words, tern_ctl.nb_workers);
		return rule_err(c, EINVAL, argc, argv, what);
	}
	next_rules = rules;
	next_rules.r[next_rules.n++] = r;
	return commit_rules(c, &next_rules);
}

int
cli_nat_del(struct cmd_ctx *c, int argc, char **argv)
{
	struct nat_rule r;
	int rc, i;

	control_init();
	if ((rc = parse_rule(c, argc, argv, &r)) < 0)
		return rc;
	if (c->dry_run)
		return 0;
	if ((i = find_rule(&r)) < 0)
		return rule_err(c, ENOENT, argc, argv, "does not exist (nat show lists them)");
	next_rules = rules;
	memmove(&next_rules.r[i], &next_rules.r[i + 1],
	        (next_rules.n - (unsigned)i - 1) * sizeof(r));
	next_rules.n--;
	return commit_rules(c, &next_rules);
}

static const char *
ipstr(uint32_t a, char *buf)
{
	struct in_addr in = { htonl(a) };

	return inet_ntop(AF_INET, &in, buf, INET_ADDRSTRLEN);
}

static int
mask_len(uint32_t mask)
{
	return mask == 0 ? 0 : 32 - __builtin_ctz(mask);
}

static const struct tern_port *
port_of(uint16_t id)
{
	return tern_port_by_id(id);
}

/* A rule in the words that add it (nat show, running-config). */
static void
rule_words(const struct nat_rule *r, char *buf, size_t len)
{
	char a[INET_ADDRSTRLEN], b[INET_ADDRSTRLEN];
	int n = 0;

	switch (r->type) {
	case NAT_SNAT: {
		const struct tern_port *p = port_of(r->out_port);
		n = snprintf(buf, len, "snat src %s/%d out %s", ipstr(r->prefix, a),
		             mask_len(r->mask), p ? p->name : "?");
		if (r->pool_lo != 0 && r->pool_lo == r->pool_hi)
			n += snprintf(buf + n, len - (size_t)n, " to %s", ipstr(r->pool_lo, a));
		else if (r->pool_lo != 0)
			n += snprintf(buf + n, len - (size_t)n, " to %s-%s", ipstr(r->pool_lo, a),
			              ipstr(r->pool_hi, b));
		if (r->port_lo != 0)
			snprintf(buf + n, len - (size_t)n, " ports %u-%u", r->port_lo, r->port_hi);
		break;
	}
	case NAT_DNAT:
		n = snprintf(buf, len, "dnat %s%s",
		             r->proto == IPPROTO_TCP   ? "tcp "
		             : r->proto == IPPROTO_UDP ? "udp "
		                                       : "",
		             ipstr(r->ext_addr, a));
		if (r->ext_port)
			n += snprintf(buf + n, len - (size_t)n, ":%u", r->ext_port);
		n += snprintf(buf + n, len - (size_t)n, " to %s", ipstr(r->to_addr, a));
		if (r->to_port)
			snprintf(buf + n, len - (size_t)n, ":%u", r->to_port);
		break;
	case NAT_STATIC:
		snprintf(buf, len, "static %s %s", ipstr(r->prefix, a), ipstr(r->ext_addr, b));
		break;
	case NAT_EXEMPT:
		snprintf(buf, len, "exempt src %s/%d dst %s/%d", ipstr(r->prefix, a),
		         mask_len(r->mask), ipstr(r->prefix2, b), mask_len(r->mask2));
		break;
	}
}

static const char *const filtering_names[] = {
	[NAT_FILTER_EIF] = "eif",
	[NAT_FILTER_ADF] = "adf",
	[NAT_FILTER_APDF] = "apdf",
};

/* X(name, what it sets) for `nat timeout NAME SECONDS`. */
#define NAT_TIMEOUTS(X)                                                                            \
	X("tcp-syn-sent", tcp_timeout_ms[NAT_TCP_SYN_SENT])                                        \
	X("tcp-syn-recv", tcp_timeout_ms[NAT_TCP_SYN_RECV])                                        \
	X("tcp-established", tcp_timeout_ms[NAT_TCP_ESTABLISHED])                                  \
	X("tcp-fin-wait", tcp_timeout_ms[NAT_TCP_FIN_WAIT])                                        \
	X("tcp-close-wait", tcp_timeout_ms[NAT_TCP_CLOSE_WAIT])                                    \
	X("tcp-last-ack", tcp_timeout_ms[NAT_TCP_LAST_ACK])                                        \
	X("tcp-time-wait", tcp_timeout_ms[NAT_TCP_TIME_WAIT])                                      \
	X("tcp-close", tcp_timeout_ms[NAT_TCP_CLOSE])                                              \
	X("udp", udp_timeout_ms)                                                                   \
	X("udp-stream", udp_stream_timeout_ms)                                                     \
	X("icmp", icmp_timeout_ms)

/* nat timeout NAME SECONDS ("tcp-transitory" sets every TCP state but
 * ESTABLISHED and TIME_WAIT, as RFC 5382 REQ-5 groups them). */
int
cli_nat_timeout(struct cmd_ctx *c, int argc, char **argv)
{
	struct nat_cfg next;
	uint64_t v;
	int rc;

	(void)argc;
	control_init();
	if ((rc = cmd_parse_u64(c, "seconds", argv[1], 1, 30 * 86400, &v)) < 0)
		return rc;
	next = cfg;
	if (strcmp(argv[0], "tcp-transitory") == 0) {
		next.tcp_timeout_ms[NAT_TCP_SYN_SENT] = next.tcp_timeout_ms[NAT_TCP_SYN_RECV] =
		    next.tcp_timeout_ms[NAT_TCP_FIN_WAIT] =
		        next.tcp_timeout_ms[NAT_TCP_CLOSE_WAIT] =
		            next.tcp_timeout_ms[NAT_TCP_LAST_ACK] = (uint32_t)(v * 1000);
		return apply_cfg(c, &next);
	}
#define X(name, field)                                                                             \
	if (strcmp(argv[0], name) == 0) {                                                          \
		next.field = (uint32_t)(v * 1000);                                                 \
		return apply_cfg(c, &next);                                                        \
	}
	NAT_TIMEOUTS(X)
#undef X
	return out_err(c->out, EINVAL,
	               "unknown timeout '%s' (tcp-established, tcp-transitory, tcp-syn-sent, "
	               "tcp-syn-recv, tcp-fin-wait, tcp-close-wait, tcp-last-ack, tcp-time-wait, "
	               "tcp-close, udp, udp-stream, icmp)",
	               argv[0]);
}

int
cli_nat_filtering(struct cmd_ctx *c, int argc, char **argv)
{
	(void)argc;
	control_init();
	for (unsigned i = 0; i < RTE_DIM(filtering_names); i++) {
		if (strcmp(argv[0], filtering_names[i]) != 0)
			continue;
		if (c->dry_run)
			return 0;
		next_rules = rules;
		next_rules.filtering = (uint8_t)i;
		return commit_rules(c, &next_rules);
	}
	return out_err(c->out, EINVAL, "filtering '%s': expected eif, adf or apdf", argv[0]);
}

int
cli_nat_hairpin(struct cmd_ctx *c, int argc, char **argv)
{
	(void)argc;
	control_init();
	if (strcmp(argv[0], "on") != 0 && strcmp(argv[0], "off") != 0)
		return out_err(c->out, EINVAL, "hairpin '%s': expected on or off", argv[0]);
	if (c->dry_run)
		return 0;
	next_rules = rules;
	next_rules.hairpin = strcmp(argv[0], "on") == 0;
	return commit_rules(c, &next_rules);
}

int
cli_nat_max_per_host(struct cmd_ctx *c, int argc, char **argv)
{
	struct nat_cfg next;
	uint64_t v;
	int rc;

	(void)argc;
	control_init();
	if ((rc = cmd_parse_u64(c, "max-per-host", argv[0], 0, 1 << 24, &v)) < 0)
		return rc;
	next = cfg;
	next.max_per_host = (uint32_t)v;
	return apply_cfg(c, &next);
}

/* nat max-sessions N (boot): sessions per worker. */
int
cli_nat_max_sessions(struct cmd_ctx *c, int argc, char **argv)
{
	uint64_t v;
	int rc;

	(void)argc;
	control_init();
	if ((rc = cmd_parse_u64(c, "max-sessions", argv[0], 16, 1 << 24, &v)) < 0)
		return rc;
	/* Boot commands run in the config's first pass only, before boot. */
	cfg.max_sessions = (uint32_t)v;
	return 0;
}

int
cli_nat_show(struct cmd_ctx *c, int argc, char **argv)
{
	char buf[160];

	(void)argc;
	(void)argv;
	control_init();
	out_str(c->out, "filtering", "%s", filtering_names[rules.filtering]);
	out_bool(c->out, "hairpin", rules.hairpin);
	out_list_open(c->out, "rules");
	for (unsigned i = 0; i < rules.n; i++) {
		rule_words(&rules.r[i], buf, sizeof(buf));
		out_obj_open(c->out, NULL);
		out_u64(c->out, "index", i);
		out_str(c->out, "rule", "%s", buf);
		out_obj_close(c->out);
	}
	out_list_close(c->out);
	out_obj_open(c->out, "timeouts");
#define X(name, field) out_u64(c->out, name, cfg.field / 1000);
	NAT_TIMEOUTS(X)
#undef X
	out_obj_close(c->out);
	out_u64(c->out, "max-sessions", cfg.max_sessions);
	out_u64(c->out, "max-per-host", cfg.max_per_host);
	return 0;
}

static void nat_stats_fill(tern_stat_put_fn put, void *arg);

int
cli_nat_stats(struct cmd_ctx *c, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	nat_stats_fill(tern_stat_put_out, c->out);
	return 0;
}

/* The counters of `nat stats` and /tern/nat/stats, summed over the
 * workers (their counters, read atomically: any thread may call this). */
static void
nat_stats_fill(tern_stat_put_fn put, void *arg)
{
	uint64_t sum[NAT_MIB_MAX] = { 0 }, sessions = 0, ho_in = 0, ho_out = 0;

	for (unsigned i = 0; i < nat_nb_workers(); i++) {
		const struct nat_worker *nw = nat_worker_by_index(i);
		const uint64_t *m = nat_table_counters(nw->t);

		for (unsigned k = 0; k < NAT_MIB_MAX; k++)
			sum[k] += __atomic_load_n(&m[k], __ATOMIC_RELAXED);
		sessions += nat_table_nb_sessions(nw->t);
		ho_in += __atomic_load_n(&nw->handoff_in, __ATOMIC_RELAXED);
		ho_out += __atomic_load_n(&nw->handoff_out, __ATOMIC_RELAXED);
	}
	for (unsigned k = 0; k < NAT_MIB_MAX; k++)
		put(arg, nat_counter_names[k], sum[k]);
	put(arg, "Sessions", sessions);
	put(arg, "SessionBytes", nat_session_size());
	put(arg, "HandoffIn", ho_in);
	put(arg, "HandoffOut", ho_out);
}

static int
nat_telemetry_init(void)
{
	return tern_telemetry_register_stats("/tern/nat/stats", nat_stats_fill,
	                                     "NAT44 counters, as `nat stats`. No parameters");
}
TERN_INIT(nat_telemetry_init);

/*
 * nat sessions show: taken on each worker in chunks of NAT_WALK_BUDGET
 * slots, one worker call per chunk: a worker stops for one chunk (tens of
 * microseconds), never for its whole table (seconds at millions of
 * sessions, with every packet on its queues lost meanwhile).  Packets go
 * through between chunks, so the listing is not a snapshot (conntrack -L
 * is not either); nat_table_walk() says what it guarantees.
 */
struct row {
	struct nat_session_info i;
	unsigned worker;
};

struct rows {
	struct row *row;
	uint32_t n, cap;
};

/* Which sessions to list (nat sessions show [src ADDR] [proto P]). */
struct filter {
	uint32_t src;  /* orig.src; 0: any */
	uint8_t proto; /* 0: any */
};

/* One worker call's share.  The rows go to `buf`, the control thread's
 * (NAT_WALK_BUDGET rows, written once beforehand: the worker neither
 * allocates nor takes a page fault); it appends them to the list between
 * calls. */
struct chunk {
	uint32_t cursor; /* in: the first slot; out: the next one, or NAT_WALK_DONE */
	uint32_t n;      /* rows in buf */
	struct nat_session_info *buf;
	const struct filter *f;
};

static void
chunk_one(void *arg, const struct nat_session_info *i)
{
	struct chunk *ch = arg;

	if ((ch->f->src != 0 && i->orig.src != ch->f->src) ||
	    (ch->f->proto != 0 && i->orig.proto != ch->f->proto))
		return;
	/* A session per slot at most: buf never overflows. */
	ch->buf[ch->n++] = *i;
}

static int
show_chunk(struct tern_worker *w, void *arg)
{
	struct chunk *ch = arg;

	ch->n = 0;
	ch->cursor =
	    nat_table_walk(nat_worker_of(w)->t, ch->cursor, NAT_WALK_BUDGET, chunk_one, ch);
	return 0;
}

/* Every worker's sessions that pass `f` into `r`, a chunk per call; on
 * failure (-ENOMEM, or the worker's call failing) r keeps what it had
 * gathered, for the caller to free. */
static int
collect(struct rows *r, const struct filter *f)
{
	struct chunk ch = { .f = f };
	int rc = 0;

	if ((ch.buf = malloc(NAT_WALK_BUDGET * sizeof(*ch.buf))) == NULL)
		return -ENOMEM;
	memset(ch.buf, 0, NAT_WALK_BUDGET * sizeof(*ch.buf));
	for (unsigned k = 0; k < nat_nb_workers() && rc == 0; k++) {
		struct tern_worker *w = nat_worker_by_index(k)->w;

		ch.cursor = 0;
		do {
			if ((rc = tern_worker_call(w, show_chunk, &ch)) < 0)
				break;
			for (uint32_t j = 0; j < ch.n; j++) {
				if (out_array_reserve((void **)&r->row, &r->cap, r->n,
				                      sizeof(*r->row)) < 0) {
					rc = -ENOMEM;
					break;
				}
				r->row[r->n++] = (struct row){ ch.buf[j], w->id };
			}
		} while (rc == 0 && ch.cursor != NAT_WALK_DONE);
	}
	free(ch.buf);
	return rc;
}

static const char *
proto_name(uint8_t p)
{
	return p == IPPROTO_TCP    ? "tcp"
	       : p == IPPROTO_UDP  ? "udp"
	       : p == IPPROTO_ICMP ? "icmp"
	                           : "?";
}

static const char *const tcp_state_names[] = {
#define X(s) #s,
	NAT_TCP_STATES(X)
#undef X
};

static void
tuple_out(struct tern_out *o, const char *key, const struct nat_tuple *t)
{
	char a[INET_ADDRSTRLEN], b[INET_ADDRSTRLEN];

	if (t->proto == IPPROTO_ICMP)
		out_str(o, key, "src=%s dst=%s id=%u", ipstr(t->src, a), ipstr(t->dst, b),
		        t->sport);
	else
		out_str(o, key, "src=%s dst=%s sport=%u dport=%u", ipstr(t->src, a),
		        ipstr(t->dst, b), t->sport, t->dport);
}

/* The words after `nat sessions show`: [src ADDR] [proto tcp|udp|icmp]. */
static int
parse_filter(struct cmd_ctx *c, int argc, char **argv, struct filter *f)
{
	memset(f, 0, sizeof(*f));
	for (int i = 0; i < argc; i += 2) {
		if (i + 1 >= argc)
			return out_err(c->out, EINVAL, "'%s' needs a value", argv[i]);
		if (cmd_once(c, argv, 0, i, 2) < 0)
			return -EINVAL;
		if (strcmp(argv[i], "src") == 0) {
			if (parse_addr(argv[i + 1], &f->src) < 0 || f->src == 0)
				return out_err(c->out, EINVAL, "src '%s': expected A.B.C.D",
				               argv[i + 1]);
		} else if (strcmp(argv[i], "proto") == 0) {
			const char *p = argv[i + 1];

			f->proto = strcmp(p, "tcp") == 0    ? IPPROTO_TCP
			           : strcmp(p, "udp") == 0  ? IPPROTO_UDP
			           : strcmp(p, "icmp") == 0 ? IPPROTO_ICMP
			                                    : 0;
			if (f->proto == 0)
				return out_err(c->out, EINVAL,
				               "proto '%s': expected tcp, udp or icmp", p);
		} else {
			return out_err(c->out, EINVAL, "'%s': expected src or proto", argv[i]);
		}
	}
	return 0;
}

int
cli_nat_sessions_show(struct cmd_ctx *c, int argc, char **argv)
{
	struct rows r = { 0 };
	struct filter f;
	int rc;

	if ((rc = parse_filter(c, argc, argv, &f)) < 0)
		return rc;
	if ((rc = collect(&r, &f)) < 0) {
		free(r.row);
		if (rc == -ENOMEM)
			return out_err(c->out, ENOMEM,
			               "nat sessions show: out of memory after %u sessions", r.n);
		return out_err(c->out, -rc, "nat sessions show: %s", strerror(-rc));
	}
	out_list_open(c->out, "sessions");
	for (uint32_t k = 0; k < r.n; k++) {
		const struct nat_session_info *i = &r.row[k].i;

		out_obj_open(c->out, NULL);
		out_str(c->out, "proto", "%s", proto_name(i->orig.proto));
		if (i->orig.proto == IPPROTO_TCP)
			out_str(c->out, "state", "%s", tcp_state_names[i->tcp_state]);
		out_u64(c->out, "timeout_s", (i->expires_in_ms + 999) / 1000);
		tuple_out(c->out, "orig", &i->orig);
		tuple_out(c->out, "reply", &i->reply);
		out_u64(c->out, "packets", i->packets[0]);
		out_u64(c->out, "bytes", i->bytes[0]);
		out_u64(c->out, "reply_packets", i->packets[1]);
		out_u64(c->out, "reply_bytes", i->bytes[1]);
		tern_out_worker(c->out, r.row[k].worker);
		out_obj_close(c->out);
	}
	out_list_close(c->out);
	free(r.row);
	return 0;
}

/* nat sessions flush: in chunks as show is taken, NAT_WALK_BUDGET slots
 * and NAT_FLUSH_BUDGET sessions per worker call at most; sessions opened
 * meanwhile in slots already passed stay. */
static int
flush_chunk(struct tern_worker *w, void *arg)
{
	uint32_t *cursor = arg;

	*cursor =
	    nat_table_flush_some(nat_worker_of(w)->t, *cursor, NAT_WALK_BUDGET, NAT_FLUSH_BUDGET);
	return 0;
}

int
cli_nat_sessions_flush(struct cmd_ctx *c, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return on_workers_chunked(c, flush_chunk, "nat sessions flush");
}

/* Run `chunk` (which takes a uint32_t cursor, NAT_WALK_DONE at the end)
 * on every worker until each is done. */
static int
on_workers_chunked(struct cmd_ctx *c, int (*chunk)(struct tern_worker *w, void *arg),
                   const char *what)
{
	struct tern_worker *ws[RTE_MAX_LCORE];
	uint32_t cursor[RTE_MAX_LCORE];
	void *args[RTE_MAX_LCORE];
	int rcs[RTE_MAX_LCORE];
	unsigned left[RTE_MAX_LCORE]; /* nat worker index of each busy one */
	unsigned n = nat_nb_workers();

	for (unsigned k = 0; k < n; k++) {
		cursor[k] = 0;
		left[k] = k;
	}
	/* All workers flush at once, each chunk by chunk: the flush takes as
	 * long as the largest table, not the sum of them. */
	while (n > 0) {
		unsigned still = 0;

		for (unsigned j = 0; j < n; j++) {
			ws[j] = nat_worker_by_index(left[j])->w;
			args[j] = &cursor[left[j]];
		}
		tern_worker_call_each(ws, n, chunk, args, rcs);
		for (unsigned j = 0; j < n; j++) {
			if (rcs[j] < 0)
				return out_err(c->out, -rcs[j], "%s: worker %u: %s", what,
				               ws[j]->id, strerror(-rcs[j]));
			if (cursor[left[j]] != NAT_WALK_DONE)
				left[still++] = left[j];
		}
		n = still;
	}
	return 0;
}

void
nat_running_config(struct tern_out *o)
{
	struct nat_cfg def;
	char buf[160];

	control_init();
	nat_cfg_default(&def);
	if (cfg.max_sessions != def.max_sessions)
		out_text(o, "nat max-sessions %u\n", cfg.max_sessions);
	if (cfg.max_per_host != def.max_per_host)
		out_text(o, "nat max-per-host %u\n", cfg.max_per_host);
#define X(name, field)                                                                             \
	if (cfg.field != def.field)                                                                \
		out_text(o, "nat timeout %s %u\n", name, cfg.field / 1000);
	NAT_TIMEOUTS(X)
#undef X
	if (rules.filtering != NAT_FILTER_APDF)
		out_text(o, "nat filtering %s\n", filtering_names[rules.filtering]);
	if (!rules.hairpin)
		out_text(o, "nat hairpin off\n");
	for (unsigned i = 0; i < rules.n; i++) {
		rule_words(&rules.r[i], buf, sizeof(buf));
		out_text(o, "nat add %s\n", buf);
	}
}
