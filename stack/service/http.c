/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A small HTTP/1.1 responder, `service http [port N]`: GET (and HEAD) of
 * `/` answers a short text, `/bytes/N` answers N bytes of the pattern
 * "abc...xyzabc..." (byte i is 'a' + i % 26), anything else 404.
 * Persistent connections (RFC 9112 9.3): HTTP/1.1 keeps the connection
 * unless the client says "Connection: close"; HTTP/1.0 closes unless it
 * says keep-alive.  Pipelined requests are answered in order.
 *
 * A connection is closed when it makes no progress for HTTP_TIMEOUT_MS:
 * a request must be complete that long after the server started waiting
 * for it (accept, or the previous response sent), however slowly its
 * bytes trickle in (slowloris), and a response must move forward that
 * often.  The worker's connections are a list in deadline order (a new
 * deadline is always the latest), so the sweep looks at expired ones only.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>

#include "service/service.h"
#include "tcp/socket.h"

#define HTTP_IN_MAX    4096
#define HTTP_BYTES_MAX (1ull << 40)
/* Headers and the start of the body go out in one send: two small sends
 * would meet Nagle and the client's delayed ACK (RFC 896, RFC 1122 4.2.3.2). */
#define HTTP_HEAD_BUF   1400
#define PATTERN_LEN     (26 * 1024)
#define LISTENER_DATA   0
#define HTTP_TIMEOUT_MS 30000
/* Expired connections closed per poll, at most. */
#define HTTP_SWEEP_MAX 64

static const char hello[] = "tern: hello\n";

struct http_conn {
	TAILQ_ENTRY(http_conn) link; /* the worker's connections, by deadline */
	uint64_t deadline_ms;
	int fd;
	bool keepalive, eof;
	uint16_t inlen;
	uint16_t hdr_len, hdr_off;
	uint64_t body_left, body_off;
	const char *body_text;   /* a fixed body, or NULL: the pattern */
	char hdr[HTTP_HEAD_BUF]; /* headers, then the body's start */
	char in[HTTP_IN_MAX];
};

/* Closed connections kept for the next ones, so that a steady load does not
 * call malloc on the worker for every connection (the blocks are ~3 KiB). */
#define HTTP_SPARE_MAX 256

struct http_state {
	int lfd, ep;
	TAILQ_HEAD(, http_conn) conns;
	TAILQ_HEAD(, http_conn) spare; /* free blocks, at most HTTP_SPARE_MAX */
	unsigned nb_spare;
	char pattern[PATTERN_LEN + 26];
};

static int
http_start(void *arg, const void *cfgp)
{
	struct http_state *st = arg;
	const uint16_t *port = cfgp;
	int rc;

	TAILQ_INIT(&st->conns);
	TAILQ_INIT(&st->spare);
	st->nb_spare = 0;
	for (unsigned i = 0; i < sizeof(st->pattern); i++)
		st->pattern[i] = (char)('a' + i % 26);
	if ((st->ep = tern_epoll_create()) < 0)
		return st->ep;
	if ((st->lfd = svc_listen(*port, 4096)) < 0) {
		tern_epoll_close(st->ep);
		return st->lfd;
	}
	rc = tern_epoll_ctl(st->ep, EPOLL_CTL_ADD, st->lfd, EPOLLIN, LISTENER_DATA);
	return rc < 0 ? rc : 0;
}

static void
conn_close(struct http_state *st, struct http_conn *hc)
{
	TAILQ_REMOVE(&st->conns, hc, link);
	tern_close(hc->fd);
	if (st->nb_spare < HTTP_SPARE_MAX) {
		TAILQ_INSERT_HEAD(&st->spare, hc, link);
		st->nb_spare++;
	} else {
		free(hc);
	}
}

/* A zeroed block for a new connection: a spare one, else a new one. */
static struct http_conn *
conn_alloc(struct http_state *st)
{
	struct http_conn *hc = TAILQ_FIRST(&st->spare);

	if (hc == NULL)
		return calloc(1, sizeof(*hc));
	TAILQ_REMOVE(&st->spare, hc, link);
	st->nb_spare--;
	/* Only the fields before the buffers: those are filled before read. */
	memset(hc, 0, offsetof(struct http_conn, hdr));
	return hc;
}

/* A new deadline, HTTP_TIMEOUT_MS from now: the latest, so last in line. */
static void
conn_rearm(struct http_state *st, struct http_conn *hc)
{
	hc->deadline_ms = tern_now_ms_worker() + HTTP_TIMEOUT_MS;
	TAILQ_REMOVE(&st->conns, hc, link);
	TAILQ_INSERT_TAIL(&st->conns, hc, link);
}

/* Does header `name` (with its colon) have a value containing `token`? */
static bool
header_has(const char *req, size_t len, const char *name, const char *token)
{
	size_t nl = strlen(name), tl = strlen(token);

	for (const char *p = req; p < req + len;) {
		const char *eol = memchr(p, '\n', (size_t)(req + len - p));
		size_t ll = eol ? (size_t)(eol - p) : (size_t)(req + len - p);

		if (ll > nl && strncasecmp(p, name, nl) == 0)
			for (const char *q = p + nl; q + tl <= p + ll; q++)
				if (strncasecmp(q, token, tl) == 0)
					return true;
		p += ll + 1;
	}
	return false;
}

static void
respond(struct http_conn *hc, int status, const char *reason, uint64_t len, bool head)
{
	int n = snprintf(hc->hdr, sizeof(hc->hdr),
	                 "HTTP/1.1 %d %s\r\nServer: tern\r\nContent-Type: text/plain\r\n"
	                 "Content-Length: %" PRIu64 "\r\n%s\r\n",
	                 status, reason, len, hc->keepalive ? "" : "Connection: close\r\n");
	size_t room = sizeof(hc->hdr) - (size_t)n, first;

	hc->body_left = head ? 0 : len;
	hc->body_off = 0;
	first = hc->body_left < room ? (size_t)hc->body_left : room;
	for (size_t i = 0; i < first; i++)
		hc->hdr[n + (int)i] =
		    hc->body_text != NULL ? hc->body_text[i] : (char)('a' + i % 26);
	hc->hdr_len = (uint16_t)(n + (int)first);
	hc->hdr_off = 0;
	hc->body_left -= first;
	hc->body_off = first;
}

/* Parse one complete request at the start of hc->in; returns its length,
 * 0 when it is not complete yet, -1 when it is malformed. */
static int
parse(struct http_conn *hc)
{
	char *end = NULL, *eol, line[256], method[8], path[128], version[16];
	unsigned long long n;
	bool head;

	for (unsigned i = 3; i < hc->inlen; i++)
		if (memcmp(hc->in + i - 3, "\r\n\r\n", 4) == 0) {
			end = hc->in + i + 1;
			break;
		}
	if (end == NULL)
		return hc->inlen == HTTP_IN_MAX ? -1 : 0;
	/* The request line alone, as a string: hc->in is not one, and what
	 * follows this request in it is stale (an earlier, longer one). */
	eol = memchr(hc->in, '\n', (size_t)(end - hc->in));
	if ((size_t)(eol - hc->in) >= sizeof(line))
		return -1;
	memcpy(line, hc->in, (size_t)(eol - hc->in));
	line[eol - hc->in] = '\0';
	if (sscanf(line, "%7s %127s %15s", method, path, version) != 3 ||
	    strncmp(version, "HTTP/1.", 7) != 0)
		return -1;
	if (strcmp(version, "HTTP/1.0") == 0)
		hc->keepalive =
		    header_has(hc->in, (size_t)(end - hc->in), "Connection:", "keep-alive");
	else
		hc->keepalive = !header_has(hc->in, (size_t)(end - hc->in), "Connection:", "close");
	head = strcmp(method, "HEAD") == 0;
	hc->body_text = NULL;
	if (!head && strcmp(method, "GET") != 0) {
		hc->body_text = "method not allowed\n";
		respond(hc, 405, "Method Not Allowed", strlen(hc->body_text), false);
	} else if (strcmp(path, "/") == 0) {
		hc->body_text = hello;
		respond(hc, 200, "OK", sizeof(hello) - 1, head);
	} else if (sscanf(path, "/bytes/%llu", &n) == 1 && isdigit((unsigned char)path[7]) &&
	           n <= HTTP_BYTES_MAX) {
		respond(hc, 200, "OK", n, head);
	} else {
		hc->body_text = "not found\n";
		respond(hc, 404, "Not Found", strlen(hc->body_text), head);
	}
	return (int)(end - hc->in);
}

/* Send what the send buffer takes: 1 when the response is all out, 0
 * when the buffer is full, -errno when the connection can send no more
 * (reset, timed out). */
static int
flush(struct http_state *st, struct http_conn *hc)
{
	ssize_t n;

	while (hc->hdr_off < hc->hdr_len) {
		n = tern_send(hc->fd, hc->hdr + hc->hdr_off, hc->hdr_len - hc->hdr_off);
		if (n <= 0)
			return n == -EAGAIN || n == 0 ? 0 : (int)n;
		hc->hdr_off = (uint16_t)(hc->hdr_off + n);
		conn_rearm(st, hc);
	}
	while (hc->body_left != 0) {
		const char *p = hc->body_text != NULL ? hc->body_text + hc->body_off
		                                      : st->pattern + hc->body_off % 26;
		size_t len = hc->body_left < PATTERN_LEN ? (size_t)hc->body_left : PATTERN_LEN;

		n = tern_send(hc->fd, p, len);
		if (n <= 0)
			return n == -EAGAIN || n == 0 ? 0 : (int)n;
		hc->body_left -= (uint64_t)n;
		hc->body_off += (uint64_t)n;
		conn_rearm(st, hc);
	}
	return 1;
}

static void
serve(struct http_state *st, struct http_conn *hc, uint32_t ev)
{
	for (;;) {
		int used;
		ssize_t n;

		if (hc->hdr_len != 0) {
			int done = flush(st, hc);

			if (done < 0) {
				/* Waiting for room to send would wait forever. */
				conn_close(st, hc);
				return;
			}
			if (done == 0) {
				tern_epoll_ctl(st->ep, EPOLL_CTL_MOD, hc->fd, EPOLLOUT,
				               (uint64_t)(uintptr_t)hc);
				return;
			}
			hc->hdr_len = 0;
			if (!hc->keepalive) {
				conn_close(st, hc);
				return;
			}
			conn_rearm(st, hc); /* the time for the next request */
		}
		if ((used = parse(hc)) < 0) {
			hc->keepalive = false;
			hc->body_text = "bad request\n";
			respond(hc, 400, "Bad Request", strlen(hc->body_text), false);
			hc->inlen = 0;
			continue;
		}
		if (used > 0) {
			memmove(hc->in, hc->in + used, hc->inlen - (unsigned)used);
			hc->inlen = (uint16_t)(hc->inlen - used);
			continue;
		}
		if (hc->eof || (ev & EPOLLERR)) {
			conn_close(st, hc);
			return;
		}
		n = tern_recv(hc->fd, hc->in + hc->inlen, HTTP_IN_MAX - hc->inlen);
		if (n == -EAGAIN)
			break;
		if (n <= 0) {
			hc->eof = true;
			continue;
		}
		hc->inlen = (uint16_t)(hc->inlen + n);
	}
	tern_epoll_ctl(st->ep, EPOLL_CTL_MOD, hc->fd, EPOLLIN | EPOLLRDHUP,
	               (uint64_t)(uintptr_t)hc);
}

static void
http_poll(void *arg)
{
	struct http_state *st = arg;
	struct tern_event ev[32];
	struct http_conn *hc;
	uint64_t now = tern_now_ms_worker();
	int n;

	/* Connections past their deadline are reset: a plain close would
	 * leave an orphan holding what the peer does not read. */
	for (unsigned k = 0;
	     k < HTTP_SWEEP_MAX && (hc = TAILQ_FIRST(&st->conns)) != NULL && hc->deadline_ms <= now;
	     k++) {
		struct linger l = { .l_onoff = 1, .l_linger = 0 };

		tern_setsockopt(hc->fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
		conn_close(st, hc);
	}
	n = tern_epoll_wait(st->ep, ev, 32);

	for (int i = 0; i < n; i++) {
		if (ev[i].data == LISTENER_DATA) {
			int fd;
			while ((fd = tern_accept(st->lfd, NULL)) >= 0) {
				struct http_conn *nc = conn_alloc(st);
				if (nc == NULL) {
					tern_close(fd);
					continue;
				}
				nc->fd = fd;
				nc->deadline_ms = now + HTTP_TIMEOUT_MS;
				TAILQ_INSERT_TAIL(&st->conns, nc, link);
				tern_epoll_ctl(st->ep, EPOLL_CTL_ADD, fd, EPOLLIN | EPOLLRDHUP,
				               (uint64_t)(uintptr_t)nc);
			}
			continue;
		}
		serve(st, (struct http_conn *)(uintptr_t)ev[i].data, ev[i].events);
	}
}

static void
http_stop(void *arg)
{
	struct http_state *st = arg;

	struct http_conn *hc;

	while (!TAILQ_EMPTY(&st->conns))
		conn_close(st, TAILQ_FIRST(&st->conns));
	while ((hc = TAILQ_FIRST(&st->spare)) != NULL) {
		TAILQ_REMOVE(&st->spare, hc, link);
		free(hc);
	}
	st->nb_spare = 0;
	tern_close(st->lfd);
	tern_epoll_close(st->ep);
}

static const struct tern_app_ops http_ops = {
	.name = "http",
	.state_size = sizeof(struct http_state),
	.start = http_start,
	.poll = http_poll,
	.stop = http_stop,
};

static int
http_svc_start(struct svc *s, uint16_t port)
{
	return tern_app_start(s->ops, &port);
}

static struct svc http_svc = {
	.name = "http", .ops = &http_ops, .default_port = 80, .start = http_svc_start
};

int
cli_service_http(struct cmd_ctx *c, int argc, char **argv)
{
	return svc_cli(&http_svc, c, argc, argv);
}

void
http_running_config(struct tern_out *o)
{
	svc_running_config(&http_svc, o);
}
