/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The load generator: an HTTP/1.1 client on every worker, over the socket
 * API (active opens).  `loadgen start ADDR:PORT [conns N] [duration S]
 * [path P] [close]` opens N connections in total (split over the
 * workers), each sending GET requests back to back (keep-alive) or one per
 * connection (close), or none at all (idle: connections opened and held,
 * for memory measurements), for S seconds, from ternd's address towards
 * the target or from a range of them (`from A-B`: more than one address's
 * 28k ephemeral ports); `loadgen show` reports requests/s,
 * connections/s, errors and latency percentiles; `loadgen stop` ends it.
 *
 * Latency is measured from the request's send to the response's last
 * byte, on the TSC, into a log-linear histogram (16 buckets per power of
 * two: percentiles within 6%).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <rte_cycles.h>

#include "ip/ip.h"
#include "mgmt/out.h"
#include "service/service.h"
#include "tcp/socket.h"

#define LG_MAX_CONNS     (4u << 20)
#define LG_HIST_SUB      16
#define LG_HIST_LOG      40
#define LG_BUF           2048
#define LG_OPEN_PER_LOOP 16

struct lg_cfg {
	struct sockaddr_in dst;
	uint32_t conns;    /* total */
	uint64_t duration; /* ms */
	bool close;
	bool idle;                 /* open and hold, send nothing */
	uint32_t from_lo, from_hi; /* source addresses (host order), or 0 */
	char path[128];
};

enum lg_state { LG_IDLE, LG_CONNECTING, LG_WAITING, LG_HELD };

struct lg_conn {
	int fd;
	uint8_t state;
	uint16_t hlen; /* header bytes gathered */
	int64_t body;  /* body bytes still to come; -1: headers not done */
	uint64_t t0;   /* request sent (tsc) */
	char *hdr;     /* LG_BUF bytes, from the first request on */
};

struct lg_stats {
	uint64_t requests, connects, errors, bytes, resp_bad, held;
	uint64_t start_tsc, end_tsc;
	uint64_t max_ns;
	uint32_t hist[LG_HIST_LOG * LG_HIST_SUB];
};

struct lg_worker {
	struct lg_cfg cfg;
	int ep;
	uint32_t nconns;
	uint32_t next_from; /* round robin over the source addresses */
	uint32_t opened;    /* connections started so far (paced) */
	bool done;
	uint64_t end_tsc;
	char req[256];
	uint16_t req_len;
	struct lg_stats s;
	struct lg_conn *c;
};

static unsigned
hist_bucket(uint64_t ns)
{
	unsigned lg;

	if (ns < LG_HIST_SUB)
		return (unsigned)ns;
	lg = 63u - (unsigned)__builtin_clzll(ns); /* >= 4 */
	if (lg >= LG_HIST_LOG)
		return LG_HIST_LOG * LG_HIST_SUB - 1;
	/* 16 sub-buckets between 2^lg and 2^(lg+1). */
	return (lg - 3) * LG_HIST_SUB + (unsigned)((ns >> (lg - 4)) & (LG_HIST_SUB - 1));
}

static uint64_t
hist_value(unsigned b)
{
	unsigned lg;

	if (b < LG_HIST_SUB)
		return b;
	lg = b / LG_HIST_SUB + 3;
	return (1ull << lg) + (uint64_t)(b % LG_HIST_SUB + 1) * (1ull << (lg - 4)) - 1;
}

static void lg_open(struct lg_worker *lw, struct lg_conn *c);

static void
lg_fail(struct lg_worker *lw, struct lg_conn *c)
{
	lw->s.errors++;
	tern_close(c->fd);
	c->fd = -1;
	c->state = LG_IDLE;
}

static void
lg_send(struct lg_worker *lw, struct lg_conn *c)
{
	if (c->hdr == NULL && (c->hdr = malloc(LG_BUF)) == NULL) {
		lg_fail(lw, c);
		return;
	}
	if (tern_send(c->fd, lw->req, lw->req_len) != lw->req_len) {
		lg_fail(lw, c);
		return;
	}
	/* Its own clock read per request, unlike the stack's once per loop:
	 * the latency histogram is what a load generator measures, and a
	 * loop's clock would round every latency up to the loop's length. */
	c->t0 = rte_rdtsc();
	c->hlen = 0;
	c->body = -1;
	c->state = LG_WAITING;
	tern_epoll_ctl(lw->ep, EPOLL_CTL_MOD, c->fd, EPOLLIN | EPOLLRDHUP, (uint64_t)(c - lw->c));
}

static void
lg_open(struct lg_worker *lw, struct lg_conn *c)
{
	int fd = tern_socket(SOCK_STREAM), rc;

	c->state = LG_IDLE;
	if (fd < 0) {
		lw->s.errors++;
		return;
	}
	if (lw->cfg.from_lo != 0) {
		struct sockaddr_in a = { .sin_family = AF_INET };
		uint32_t n = lw->cfg.from_hi - lw->cfg.from_lo + 1;
		a.sin_addr.s_addr = htonl(lw->cfg.from_lo + lw->next_from++ % n);
		tern_bind(fd, &a);
	}
	rc = tern_connect(fd, &lw->cfg.dst);
	if (rc != -EINPROGRESS && rc != 0) {
		lw->s.errors++;
		tern_close(fd);
		return;
	}
	c->fd = fd;
	c->state = LG_CONNECTING;
	tern_epoll_ctl(lw->ep, EPOLL_CTL_ADD, fd, EPOLLOUT, (uint64_t)(c - lw->c));
}

/* A response finished: count it, then the next request or connection. */
static void
lg_complete(struct lg_worker *lw, struct lg_conn *c)
{
	uint64_t ns = (rte_rdtsc() - c->t0) * 1000000000ull / rte_get_tsc_hz();

	lw->s.requests++;
	lw->s.hist[hist_bucket(ns)]++;
	if (ns > lw->s.max_ns)
		lw->s.max_ns = ns;
	if (lw->cfg.close || lw->done) {
		tern_close(c->fd);
		c->fd = -1;
		c->state = LG_IDLE;
		if (!lw->done)
			lg_open(lw, c);
		return;
	}
	lg_send(lw, c);
}

/* Parse the status line and Content-Length once the headers are in. */
static int
lg_headers(struct lg_conn *c, uint16_t end)
{
	const char *p;
	long long len = -1;

	if (strncmp(c->hdr, "HTTP/1.", 7) != 0 || strncmp(c->hdr + 8, " 200", 4) != 0)
		return -EPROTO;
	for (p = c->hdr; p < c->hdr + end; p++) {
		if ((*p == '\n') && strncasecmp(p + 1, "Content-Length:", 15) == 0) {
			len = atoll(p + 16);
			break;
		}
	}
	if (len < 0)
		return -EPROTO;
	c->body = len;
	return 0;
}

static void
lg_read(struct lg_worker *lw, struct lg_conn *c)
{
	char sink[16384];

	for (;;) {
		ssize_t n;

		if (c->body < 0) {
			n = tern_recv(c->fd, c->hdr + c->hlen, LG_BUF - 1u - c->hlen);
			if (n <= 0)
				goto out;
			lw->s.bytes += (uint64_t)n;
			c->hlen = (uint16_t)(c->hlen + n);
			c->hdr[c->hlen] = '\0';
			char *e = strstr(c->hdr, "\r\n\r\n");
			if (e == NULL) {
				if (c->hlen == LG_BUF - 1)
					goto bad;
				continue;
			}
			uint16_t end = (uint16_t)(e + 4 - c->hdr);
			if (lg_headers(c, end) < 0)
				goto bad;
			/* Body bytes that came with the headers. */
			if ((int64_t)(c->hlen - end) > c->body)
				goto bad; /* more than asked for: no pipelining here */
			c->body -= c->hlen - end;
		} else {
			size_t want =
			    c->body < (int64_t)sizeof(sink) ? (size_t)c->body : sizeof(sink);
			if (want == 0)
				want = 1; /* only to see an EOF or error */
			n = tern_recv(c->fd, sink, want);
			if (n <= 0)
				goto out;
			lw->s.bytes += (uint64_t)n;
			c->body -= n;
		}
		if (c->body == 0) {
			lg_complete(lw, c);
			return;
		}
	}
out:
	return;
bad:
	lw->s.resp_bad++;
	lg_fail(lw, c);
	if (!lw->done)
		lg_open(lw, c);
}

static int
lg_start(void *arg, const void *cfgp)
{
	struct lg_worker *lw = arg;
	const struct lg_cfg *cfg = cfgp;
	unsigned nw = tcp_nb_workers(), me = tern_worker_index();
	char ip[INET_ADDRSTRLEN];

	lw->cfg = *cfg;
	/* This worker's share of the connections. */
	lw->nconns = cfg->conns / nw + (me < cfg->conns % nw);
	if ((lw->ep = tern_epoll_create()) < 0)
		return lw->ep;
	lw->c = calloc(lw->nconns ? lw->nconns : 1, sizeof(*lw->c));
	if (lw->c == NULL) {
		tern_epoll_close(lw->ep);
		return -ENOMEM;
	}
	inet_ntop(AF_INET, &cfg->dst.sin_addr, ip, sizeof(ip));
	lw->req_len =
	    (uint16_t)snprintf(lw->req, sizeof(lw->req), "GET %s HTTP/1.1\r\nHost: %s\r\n%s\r\n",
	                       cfg->path, ip, cfg->close ? "Connection: close\r\n" : "");
	lw->s.start_tsc = rte_rdtsc();
	lw->end_tsc = lw->s.start_tsc + cfg->duration * (rte_get_tsc_hz() / 1000);
	for (uint32_t i = 0; i < lw->nconns; i++)
		lw->c[i].fd = -1;
	lw->opened = 0;
	return 0;
}

static void
lg_finish(struct lg_worker *lw)
{
	lw->done = true;
	lw->s.end_tsc = rte_rdtsc();
	for (uint32_t i = 0; i < lw->nconns; i++) {
		if (lw->c[i].fd >= 0)
			tern_close(lw->c[i].fd);
		lw->c[i].fd = -1;
		lw->c[i].state = LG_IDLE;
	}
}

static void
lg_poll(void *arg)
{
	struct lg_worker *lw = arg;
	struct tern_event ev[64];
	int n;

	if (lw->done)
		return;
	if (rte_rdtsc() >= lw->end_tsc) {
		lg_finish(lw);
		return;
	}
	/* Open a few connections per loop, fewer than a port's RX burst: a
	 * million SYNs at once would overflow the rings on the way and wait
	 * for retransmission. */
	for (unsigned k = 0; k < LG_OPEN_PER_LOOP && lw->opened < lw->nconns; k++)
		lg_open(lw, &lw->c[lw->opened++]);
	n = tern_epoll_wait(lw->ep, ev, 64);
	for (int i = 0; i < n; i++) {
		struct lg_conn *c = &lw->c[ev[i].data];

		if (c->fd < 0)
			continue;
		if (c->state == LG_CONNECTING) {
			if (ev[i].events & (EPOLLERR | EPOLLHUP)) {
				lg_fail(lw, c);
				lg_open(lw, c);
				continue;
			}
			lw->s.connects++;
			if (lw->cfg.idle) {
				/* Held: only an error or the peer's close wakes it. */
				c->state = LG_HELD;
				lw->s.held++;
				tern_epoll_ctl(lw->ep, EPOLL_CTL_MOD, c->fd, EPOLLRDHUP,
				               (uint64_t)(c - lw->c));
				continue;
			}
			lg_send(lw, c);
			continue;
		}
		if (c->state == LG_HELD) {
			lw->s.held--;
			lg_fail(lw, c);
			continue;
		}
		if (c->state == LG_WAITING) {
			lg_read(lw, c);
			/* The server closed with the response still incomplete. */
			if (c->fd >= 0 && c->state == LG_WAITING &&
			    (ev[i].events & (EPOLLERR | EPOLLHUP | EPOLLRDHUP))) {
				int in = 0;
				tern_ioctl(c->fd, SIOCINQ, &in);
				if (in == 0) {
					lg_fail(lw, c);
					lg_open(lw, c);
				}
			}
		}
	}
}

static void
lg_stop(void *arg)
{
	struct lg_worker *lw = arg;

	if (!lw->done)
		lg_finish(lw);
	for (uint32_t i = 0; i < lw->nconns; i++)
		free(lw->c[i].hdr);
	tern_epoll_close(lw->ep);
	free(lw->c);
}

static const struct tern_app_ops lg_ops = {
	.name = "loadgen",
	.state_size = sizeof(struct lg_worker),
	.start = lg_start,
	.poll = lg_poll,
	.stop = lg_stop,
};

/* Control thread: the last run's settings and its results. */
static struct lg_cfg last_cfg;
static struct lg_stats total;
static bool ran;

static int
lg_collect_one(struct tcp_worker *tw, void *arg)
{
	struct lg_stats *sum = arg;

	for (unsigned a = 0; a < tw->napps; a++) {
		const struct lg_worker *lw = tw->app[a].state;
		uint64_t end;

		if (tw->app[a].ops != &lg_ops)
			continue;
		end = lw->done ? lw->s.end_tsc : rte_rdtsc();
		sum->requests += lw->s.requests;
		sum->connects += lw->s.connects;
		sum->errors += lw->s.errors;
		sum->bytes += lw->s.bytes;
		sum->resp_bad += lw->s.resp_bad;
		sum->held += lw->s.held;
		if (sum->start_tsc == 0 || lw->s.start_tsc < sum->start_tsc)
			sum->start_tsc = lw->s.start_tsc;
		if (end > sum->end_tsc)
			sum->end_tsc = end;
		if (lw->s.max_ns > sum->max_ns)
			sum->max_ns = lw->s.max_ns;
		for (unsigned b = 0; b < LG_HIST_LOG * LG_HIST_SUB; b++)
			sum->hist[b] += lw->s.hist[b];
	}
	return 0;
}

static int
lg_collect(void)
{
	static struct lg_stats sum; /* large: not on the stack */

	if (!tern_app_running(&lg_ops))
		return 0;
	memset(&sum, 0, sizeof(sum));
	int rc = tcp_on_workers(lg_collect_one, &sum);
	if (rc == 0)
		total = sum;
	return rc;
}

static uint64_t
percentile(const struct lg_stats *s, double p)
{
	uint64_t want = (uint64_t)(p * (double)s->requests), seen = 0;

	if (s->requests == 0)
		return 0;
	if (want == 0)
		want = 1;
	for (unsigned b = 0; b < LG_HIST_LOG * LG_HIST_SUB; b++) {
		seen += s->hist[b];
		if (seen >= want)
			return hist_value(b) < s->max_ns ? hist_value(b) : s->max_ns;
	}
	return s->max_ns;
}

/* loadgen start ADDR:PORT [conns N] [duration S] [path P] [close] */
int
cli_loadgen_start(struct cmd_ctx *c, int argc, char **argv)
{
	struct lg_cfg cfg = { .conns = 16, .duration = 10000 };
	char host[64], what[96], *colon;
	uint64_t v;
	int rc;

	strcpy(cfg.path, "/");
	/* Whole or not at all: a copy cut short would aim somewhere else. */
	if (strlen(argv[0]) >= sizeof(host))
		return out_err(c->out, EINVAL,
		               "target '%s': expected ADDR:PORT (at most %zu bytes)", argv[0],
		               sizeof(host) - 1);
	strcpy(host, argv[0]);
	colon = strchr(host, ':');
	if (colon == NULL)
		return out_err(c->out, EINVAL, "'%s': expected ADDR:PORT", argv[0]);
	*colon = '\0';
	cfg.dst.sin_family = AF_INET;
	if (inet_pton(AF_INET, host, &cfg.dst.sin_addr) != 1)
		return out_err(c->out, EINVAL, "target '%s': '%s' is not an IPv4 address", argv[0],
		               host);
	snprintf(what, sizeof(what), "target '%s': port", argv[0]);
	if ((rc = cmd_parse_u64(c, what, colon + 1, 1, 65535, &v)) < 0)
		return rc;
	cfg.dst.sin_port = htons((uint16_t)v);
	for (int i = 1; i < argc; i++) {
		/* Earlier values never read as options: numbers, /path, addresses. */
		if ((rc = cmd_once(c, argv, 1, i, 1)) < 0)
			return rc;
		if (strcmp(argv[i], "close") == 0) {
			cfg.close = true;
		} else if (strcmp(argv[i], "idle") == 0) {
			cfg.idle = true;
		} else if (i + 1 < argc && strcmp(argv[i], "from") == 0) {
			if (strlen(argv[++i]) > TERN_ADDR_RANGE_MAX)
				return out_err(c->out, EINVAL,
				               "from '%s': expected ADDR or ADDR-ADDR (at most %d "
				               "bytes)",
				               argv[i], TERN_ADDR_RANGE_MAX);
			if (tern_parse_addr_range(argv[i], &cfg.from_lo, &cfg.from_hi) < 0)
				return out_err(c->out, EINVAL,
				               "from '%s': expected ADDR or ADDR-ADDR", argv[i]);
			/* 0.0.0.0 would read as no `from` at all. */
			if (tern_addr_range_martian(cfg.from_lo, cfg.from_hi))
				return out_err(c->out, EINVAL,
				               "from '%s': not usable host addresses (0/8, 127/8, "
				               "multicast, class E)",
				               argv[i]);
		} else if (i + 1 < argc && strcmp(argv[i], "conns") == 0) {
			if ((rc = cmd_parse_u64(c, "conns", argv[++i], 1, LG_MAX_CONNS, &v)) < 0)
				return rc;
			cfg.conns = (uint32_t)v;
		} else if (i + 1 < argc && strcmp(argv[i], "duration") == 0) {
			if ((rc = cmd_parse_u64(c, "duration", argv[++i], 1, 86400, &v)) < 0)
				return rc;
			cfg.duration = v * 1000;
		} else if (i + 1 < argc && strcmp(argv[i], "path") == 0) {
			if (argv[++i][0] != '/' || strlen(argv[i]) >= sizeof(cfg.path) ||
			    strpbrk(argv[i], " \r\n") != NULL)
				return out_err(c->out, EINVAL,
				               "path '%s': must start with / (at most %zu bytes)",
				               argv[i], sizeof(cfg.path) - 1);
			strcpy(cfg.path, argv[i]);
		} else {
			return out_err(
			    c->out, EINVAL,
			    "'%s': expected conns N, duration S, path P, from A[-B], close "
			    "or idle",
			    argv[i]);
		}
	}
	if (cfg.close && cfg.idle)
		return out_err(c->out, EINVAL,
		               "'close' and 'idle' exclude each other: one request per "
		               "connection, or none");
	if (c->dry_run)
		return 0;
	if (tern_app_running(&lg_ops))
		tern_app_stop(&lg_ops);
	memset(&total, 0, sizeof(total));
	if ((rc = tern_app_start(&lg_ops, &cfg)) < 0)
		return out_err(c->out, -rc, "loadgen: %s", strerror(-rc));
	last_cfg = cfg;
	ran = true;
	return 0;
}

int
cli_loadgen_stop(struct cmd_ctx *c, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	if (!tern_app_running(&lg_ops))
		return out_err(c->out, ENOENT, "loadgen stop: no load generator running");
	lg_collect();
	tern_app_stop(&lg_ops);
	return 0;
}

int
cli_loadgen_show(struct cmd_ctx *c, int argc, char **argv)
{
	char ip[INET_ADDRSTRLEN];
	double secs;
	int rc;

	(void)argc;
	(void)argv;
	if (!ran)
		return out_err(c->out, ENOENT, "loadgen show: the load generator has not run");
	if ((rc = lg_collect()) < 0)
		return out_err(c->out, -rc, "loadgen show: %s", strerror(-rc));
	secs = total.end_tsc > total.start_tsc
	           ? (double)(total.end_tsc - total.start_tsc) / (double)rte_get_tsc_hz()
	           : 0;
	inet_ntop(AF_INET, &last_cfg.dst.sin_addr, ip, sizeof(ip));
	out_str(c->out, "target", "%s:%u%s", ip, ntohs(last_cfg.dst.sin_port), last_cfg.path);
	out_u64(c->out, "conns", last_cfg.conns);
	out_str(c->out, "mode", "%s",
	        last_cfg.idle    ? "idle"
	        : last_cfg.close ? "close"
	                         : "keep-alive");
	out_u64(c->out, "held", total.held);
	out_bool(c->out, "running", tern_app_running(&lg_ops) && secs * 1000 < last_cfg.duration);
	out_double(c->out, "seconds", secs, 3);
	out_u64(c->out, "requests", total.requests);
	out_u64(c->out, "connects", total.connects);
	out_u64(c->out, "errors", total.errors);
	out_u64(c->out, "bad_responses", total.resp_bad);
	out_u64(c->out, "bytes", total.bytes);
	out_double(c->out, "requests_per_sec", secs > 0 ? (double)total.requests / secs : 0, 1);
	out_double(c->out, "connects_per_sec", secs > 0 ? (double)total.connects / secs : 0, 1);
	out_double(c->out, "latency_p50_us", (double)percentile(&total, 0.50) / 1000.0, 1);
	out_double(c->out, "latency_p90_us", (double)percentile(&total, 0.90) / 1000.0, 1);
	out_double(c->out, "latency_p99_us", (double)percentile(&total, 0.99) / 1000.0, 1);
	out_double(c->out, "latency_max_us", (double)total.max_ns / 1000.0, 1);
	return 0;
}
