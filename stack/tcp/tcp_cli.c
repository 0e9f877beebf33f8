/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * TCP commands: `tcp set NAME VALUE`, `tcp show`, `tcp stats`,
 * `tcp max-conns N` (boot) and `conn show`.  Settings go to every worker's
 * stack through its call ring; connection listings are taken on the
 * workers, a chunk of the pool between two bursts.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/ctl.h"
#include "core/init.h"
#include "core/telemetry.h"
#include "mgmt/cli.h"
#include "mgmt/out.h"
#include "tcp/socket_priv.h"
#include "tcp/tcp_worker.h"

/* X(field, name, min, max): the numeric settings, as in struct tcp_cfg. */
#define TCP_PARAMS(X)                                                                              \
	X(msl_ms, "msl-ms", 10, 600000)                                                            \
	X(fin_timeout_ms, "fin-timeout-ms", 10, 3600000)                                           \
	X(rto_min_ms, "rto-min-ms", 1, 10000)                                                      \
	X(rto_max_ms, "rto-max-ms", 100, 600000)                                                   \
	X(rto_init_ms, "rto-init-ms", 10, 60000)                                                   \
	X(delack_ms, "delack-ms", 1, 200)                                                          \
	X(syn_retries, "syn-retries", 1, 127)                                                      \
	X(synack_retries, "synack-retries", 1, 127)                                                \
	X(retries2, "retries2", 1, 255)                                                            \
	X(syncookies, "syncookies", 0, 2)                                                          \
	X(keepalive_time_ms, "keepalive-time-ms", 1000, 2147483647)                                \
	X(keepalive_intvl_ms, "keepalive-intvl-ms", 1000, 2147483647)                              \
	X(keepalive_probes, "keepalive-probes", 1, 127)                                            \
	X(keepalive, "keepalive", 0, 1)                                                            \
	X(timestamps, "timestamps", 0, 1)                                                          \
	X(sack, "sack", 0, 1)                                                                      \
	X(window_scaling, "window-scaling", 0, 1)                                                  \
	X(rmem_default, "rmem", 4096, 64 * 1024 * 1024)                                            \
	X(wmem_default, "wmem", 4096, 64 * 1024 * 1024)                                            \
	X(max_orphans, "max-orphans", 0, 16777216)                                                 \
	X(challenge_ack_limit, "challenge-ack-limit", 1, 1000000)                                  \
	X(syn_backlog_max, "syn-backlog", 8, 65535)

static const char *const cc_names[] = { [TCP_CC_RENO] = "reno", [TCP_CC_CUBIC] = "cubic" };

/*
 * The first pass over a config file (dry run) changes nothing, yet a line
 * must be checked against the values earlier lines set: `tcp set
 * rto-min-ms 100` then `tcp set rto-max-ms 150` (what `show
 * running-config` writes) is valid although the live rto-min-ms is 200.
 * The dry run works on this shadow, copied from the live config at its
 * first line; any real `tcp set` (the second pass, or an operator) drops it.
 */
static struct tcp_cfg dry_cfg;
static bool dry_cfg_valid;

/* tcp set NAME VALUE */
int
cli_tcp_set(struct cmd_ctx *c, int argc, char **argv)
{
	struct tcp_cfg *cfg = tcp_global_cfg(), next;
	uint64_t v;
	int rc;

	(void)argc;
	if (c->dry_run && !dry_cfg_valid) {
		dry_cfg = *cfg;
		dry_cfg_valid = true;
	} else if (!c->dry_run) {
		dry_cfg_valid = false;
	}
	next = c->dry_run ? dry_cfg : *cfg;
	if (strcmp(argv[0], "cc") == 0) {
		if (strcmp(argv[1], "reno") == 0)
			next.cc = TCP_CC_RENO;
		else if (strcmp(argv[1], "cubic") == 0)
			next.cc = TCP_CC_CUBIC;
		else
			return out_err(c->out, EINVAL, "cc: '%s' is not reno or cubic", argv[1]);
		goto apply;
	}
#define X(f, name, lo, hi)                                                                         \
	if (strcmp(argv[0], name) == 0) {                                                          \
		if ((rc = cmd_parse_u64(c, name, argv[1], lo, hi, &v)) < 0)                        \
			return rc;                                                                 \
		next.f = (__typeof__(next.f))v;                                                    \
		goto apply;                                                                        \
	}
	TCP_PARAMS(X)
#undef X
	return out_err(c->out, EINVAL,
	               "unknown TCP setting '%s' (see `tcp show` for the names, and cc)", argv[0]);
apply:
	if (next.rto_min_ms > next.rto_max_ms)
		return out_err(c->out, EINVAL, "rto-min-ms %u is above rto-max-ms %u",
		               next.rto_min_ms, next.rto_max_ms);
	if (c->dry_run) {
		dry_cfg = next;
		return 0;
	}
	/* All or nothing: stored only once every worker took it. */
	if ((rc = tcp_cfg_apply(&next)) < 0)
		return out_err(c->out, -rc, "tcp set: %s (settings unchanged)", strerror(-rc));
	return 0;
}

/* tcp max-conns N (boot): the connection blocks per worker. */
int
cli_tcp_max_conns(struct cmd_ctx *c, int argc, char **argv)
{
	uint64_t v;
	int rc;

	(void)argc;
	if ((rc = cmd_parse_u64(c, "max-conns", argv[0], 16, 1 << 22, &v)) < 0)
		return rc;
	/* Boot commands run in the config's first pass only, before boot. */
	tcp_global_cfg()->max_conns = (uint32_t)v;
	return 0;
}

int
cli_tcp_show(struct cmd_ctx *c, int argc, char **argv)
{
	const struct tcp_cfg *cfg = tcp_global_cfg();

	(void)argc;
	(void)argv;
	out_u64(c->out, "max-conns", cfg->max_conns);
	out_str(c->out, "cc", "%s", cc_names[cfg->cc]);
#define X(f, name, lo, hi) out_u64(c->out, name, cfg->f);
	TCP_PARAMS(X)
#undef X
	return 0;
}

void
tcp_running_config(struct tern_out *o)
{
	const struct tcp_cfg *cfg = tcp_global_cfg();
	struct tcp_cfg def;

	tcp_cfg_default(&def);
	if (cfg->max_conns != def.max_conns)
		out_text(o, "tcp max-conns %u\n", cfg->max_conns);
	if (cfg->cc != def.cc)
		out_text(o, "tcp set cc %s\n", cc_names[cfg->cc]);
#define X(f, name, lo, hi)                                                                         \
	if (cfg->f != def.f)                                                                       \
		out_text(o, "tcp set %s %llu\n", name, (unsigned long long)cfg->f);
	TCP_PARAMS(X)
#undef X
}

/* tcp stats: the MIB, summed over the workers. */
static void tcp_stats_fill(tern_stat_put_fn put, void *arg);

int
cli_tcp_stats(struct cmd_ctx *c, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	tcp_stats_fill(tern_stat_put_out, c->out);
	return 0;
}

/* The counters of `tcp stats` and /tern/tcp/stats, summed over the
 * workers (their counters, read atomically: any thread may call this). */
static void
tcp_stats_fill(tern_stat_put_fn put, void *arg)
{
	uint64_t sum[TCP_MIB_MAX] = { 0 }, nombuf = 0, noroute = 0, overflow = 0, ho_in = 0,
	         ho_out = 0, conns = 0;

	for (unsigned i = 0; i < tcp_nb_workers(); i++) {
		const struct tcp_worker *tw = tcp_worker_by_index(i);
		const uint64_t *m = tcp_stack_counters(tw->st);

		/* Counters are the worker's; a torn read is one packet off. */
		for (unsigned k = 0; k < TCP_MIB_MAX; k++)
			sum[k] += __atomic_load_n(&m[k], __ATOMIC_RELAXED);
		nombuf += __atomic_load_n(&tw->out_nombuf, __ATOMIC_RELAXED);
		noroute += __atomic_load_n(&tw->out_noroute, __ATOMIC_RELAXED);
		overflow += __atomic_load_n(&tw->out_overflow, __ATOMIC_RELAXED);
		ho_in += __atomic_load_n(&tw->handoff_in, __ATOMIC_RELAXED);
		ho_out += __atomic_load_n(&tw->handoff_out, __ATOMIC_RELAXED);
		conns += tcp_stack_nb_conns(tw->st);
	}
	for (unsigned k = 0; k < TCP_MIB_MAX; k++)
		put(arg, tcp_counter_names[k], sum[k]);
	put(arg, "OutNoMbuf", nombuf);
	put(arg, "OutNoRoute", noroute);
	put(arg, "OutQueueFull", overflow);
	put(arg, "HandoffIn", ho_in);
	put(arg, "HandoffOut", ho_out);
	put(arg, "Connections", conns);
	/* What a connection costs with no data in flight: its block, its
	 * socket slot and its share of the hash table (buffers come with
	 * data). */
	put(arg, "ConnBytes", tcp_conn_block_size() + tern_sock_slot_size());
}

static int
tcp_telemetry_init(void)
{
	return tern_telemetry_register_stats("/tern/tcp/stats", tcp_stats_fill,
	                                     "TCP counters, as `tcp stats`. No parameters");
}
TERN_INIT(tcp_telemetry_init);

/*
 * conn show: taken on each worker in chunks of TCP_WALK_BUDGET blocks, one
 * worker call per chunk, so that a worker never stops for its whole pool
 * (millions of blocks at the largest tcp max-conns); segments go through
 * between chunks, so the listing is not a snapshot (nor is ss's).
 */
struct conn_row {
	struct tcp_conn_info i;
	unsigned worker;
};

struct conn_rows {
	struct conn_row *row;
	uint32_t n, cap;
};

/* One worker call's share; the rows go to `buf` (TCP_WALK_BUDGET rows,
 * the control thread's, written once beforehand: the worker neither
 * allocates nor takes a page fault), appended to the list between calls. */
struct conn_chunk {
	uint32_t cursor; /* in: the first block; out: the next one, or TCP_WALK_DONE */
	uint32_t n;      /* rows in buf */
	struct tcp_conn_info *buf;
	bool listen_only, all;
};

static void
chunk_one(void *arg, const struct tcp_conn_info *i)
{
	struct conn_chunk *ch = arg;

	if (ch->listen_only ? !i->listener : (!ch->all && i->listener))
		return;
	/* A connection per block at most: buf never overflows. */
	ch->buf[ch->n++] = *i;
}

static int
show_chunk(struct tern_worker *w, void *arg)
{
	struct conn_chunk *ch = arg;

	ch->n = 0;
	ch->cursor =
	    tcp_stack_walk(tcp_worker_of(w)->st, ch->cursor, TCP_WALK_BUDGET, chunk_one, ch);
	return 0;
}

/* Every worker's connections `ch` asks for into `r`, a chunk per call; on
 * failure r keeps what it had gathered, for the caller to free. */
static int
collect(struct conn_rows *r, struct conn_chunk *ch)
{
	int rc = 0;

	if ((ch->buf = malloc(TCP_WALK_BUDGET * sizeof(*ch->buf))) == NULL)
		return -ENOMEM;
	memset(ch->buf, 0, TCP_WALK_BUDGET * sizeof(*ch->buf));
	for (unsigned k = 0; k < tcp_nb_workers() && rc == 0; k++) {
		struct tern_worker *w = tcp_worker_by_index(k)->w;

		ch->cursor = 0;
		do {
			if ((rc = tern_worker_call(w, show_chunk, ch)) < 0)
				break;
			for (uint32_t j = 0; j < ch->n; j++) {
				if (out_array_reserve((void **)&r->row, &r->cap, r->n,
				                      sizeof(*r->row)) < 0) {
					rc = -ENOMEM;
					break;
				}
				r->row[r->n++] = (struct conn_row){ ch->buf[j], w->id };
			}
		} while (rc == 0 && ch->cursor != TCP_WALK_DONE);
	}
	free(ch->buf);
	ch->buf = NULL;
	return rc;
}

static void
addr_port(char *buf, size_t len, uint32_t a, uint16_t p)
{
	struct in_addr in = { htonl(a) };
	char ip[INET_ADDRSTRLEN];

	inet_ntop(AF_INET, &in, ip, sizeof(ip));
	if (p == 0)
		snprintf(buf, len, "%s:*", ip);
	else
		snprintf(buf, len, "%s:%u", ip, p);
}

/* conn show [listen|established]: like ss -tan (all), ss -tln, ss -tn. */
int
cli_conn_show(struct cmd_ctx *c, int argc, char **argv)
{
	struct conn_rows r = { 0 };
	struct conn_chunk ch = { .all = true };
	char b[32];
	int rc;

	if (argc == 1 && strcmp(argv[0], "listen") == 0)
		ch.listen_only = true;
	else if (argc == 1 && strcmp(argv[0], "established") == 0)
		ch.all = false;
	else if (argc != 0)
		return out_err(c->out, EINVAL, "usage: conn show [listen|established]");
	if ((rc = collect(&r, &ch)) < 0) {
		free(r.row);
		if (rc == -ENOMEM)
			return out_err(c->out, ENOMEM,
			               "conn show: out of memory after %u connections", r.n);
		return out_err(c->out, -rc, "conn show: %s", strerror(-rc));
	}
	out_list_open(c->out, "connections");
	for (uint32_t k = 0; k < r.n; k++) {
		const struct tcp_conn_info *i = &r.row[k].i;

		out_obj_open(c->out, NULL);
		out_str(c->out, "state", "%s", tcp_state_name(i->state));
		out_u64(c->out, "recv_q", i->recvq);
		out_u64(c->out, "send_q", i->sendq);
		addr_port(b, sizeof(b), i->t.laddr, i->t.lport);
		out_str(c->out, "local", "%s", b);
		addr_port(b, sizeof(b), i->t.raddr, i->t.rport);
		out_str(c->out, "peer", "%s", i->listener ? "0.0.0.0:*" : b);
		if (!i->listener) {
			out_u64(c->out, "rtt_ms", i->srtt_ms);
			out_u64(c->out, "rttvar_ms", i->rttvar_ms);
			out_u64(c->out, "rto_ms", i->rto_ms);
			out_u64(c->out, "mss", i->mss);
			out_u64(c->out, "cwnd", i->cwnd);
			if (i->ssthresh)
				out_u64(c->out, "ssthresh", i->ssthresh);
			out_u64(c->out, "snd_wnd", i->snd_wnd);
			out_u64(c->out, "rcv_wnd", i->rcv_wnd);
			out_str(c->out, "cc", "%s", cc_names[i->cc]);
			out_u64(c->out, "retrans", i->retransmits);
			out_bool(c->out, "orphan", i->orphan);
		}
		if (i->timer[0] != '\0')
			out_str(c->out, "timer", "%s,%llums", i->timer,
			        (unsigned long long)i->timer_left_ms);
		tern_out_worker(c->out, r.row[k].worker);
		out_obj_close(c->out);
	}
	out_list_close(c->out);
	free(r.row);
	return 0;
}
