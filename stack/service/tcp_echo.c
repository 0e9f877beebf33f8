/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * TCP echo (RFC 862) and discard (RFC 863), `service tcp-echo [port N]`
 * and `service tcp-discard [port N]`: applications on every worker, over
 * the socket API.  Echo reads only what the send buffer can take back, so
 * a client that does not read stalls its own echo (TCP flow control)
 * rather than ternd buffering without bound.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "service/service.h"
#include "tcp/socket.h"

#define ECHO_BUF 16384

struct echo_cfg {
	uint16_t port;
	bool discard;
};

struct echo_state {
	int lfd, ep;
	bool discard;
	uint8_t buf[ECHO_BUF];
};

#define LISTENER_DATA UINT64_MAX

static int
echo_start(void *arg, const void *cfgp)
{
	struct echo_state *st = arg;
	const struct echo_cfg *cfg = cfgp;
	int rc;

	st->discard = cfg->discard;
	if ((st->ep = tern_epoll_create()) < 0)
		return st->ep;
	st->lfd = svc_listen(cfg->port, 1024);
	if (st->lfd < 0) {
		tern_epoll_close(st->ep);
		return st->lfd;
	}
	rc = tern_epoll_ctl(st->ep, EPOLL_CTL_ADD, st->lfd, EPOLLIN, LISTENER_DATA);
	return rc < 0 ? rc : 0;
}

/* Move what fits from the receive side back to the send side. */
static void
echo_conn(struct echo_state *st, int fd, uint32_t ev)
{
	/* Reset or timed out: nothing can be sent or read any more.  Waiting
	 * for send space (below) would wait forever, every loop. */
	if (ev & EPOLLERR) {
		tern_close(fd);
		return;
	}
	for (;;) {
		int room = ECHO_BUF;
		ssize_t n;

		if (!st->discard) {
			if (tern_ioctl(fd, TERN_SIOCOUTSPACE, &room) < 0)
				break;
			if (room == 0) {
				/* Wait for the peer to read before reading more. */
				tern_epoll_ctl(st->ep, EPOLL_CTL_MOD, fd, EPOLLOUT, (uint64_t)fd);
				return;
			}
			if (room > ECHO_BUF)
				room = ECHO_BUF;
		}
		n = tern_recv(fd, st->buf, (size_t)room);
		if (n == -EAGAIN)
			break;
		if (n <= 0) {
			/* EOF or error: anything echoed is still sent before FIN. */
			tern_close(fd);
			return;
		}
		if (!st->discard)
			tern_send(fd, st->buf, (size_t)n);
	}
	if (ev & (EPOLLERR | EPOLLHUP)) {
		tern_close(fd);
		return;
	}
	tern_epoll_ctl(st->ep, EPOLL_CTL_MOD, fd, EPOLLIN | EPOLLRDHUP, (uint64_t)fd);
}

static void
echo_poll(void *arg)
{
	struct echo_state *st = arg;
	struct tern_event ev[32];
	int n = tern_epoll_wait(st->ep, ev, 32);

	for (int i = 0; i < n; i++) {
		if (ev[i].data == LISTENER_DATA) {
			int fd;
			while ((fd = tern_accept(st->lfd, NULL)) >= 0)
				tern_epoll_ctl(st->ep, EPOLL_CTL_ADD, fd, EPOLLIN | EPOLLRDHUP,
				               (uint64_t)fd);
			continue;
		}
		echo_conn(st, (int)ev[i].data, ev[i].events);
	}
}

static void
echo_stop(void *arg)
{
	struct echo_state *st = arg;

	/* Like a server that exits: its connections close too. */
	tern_epoll_close_members(st->ep);
	tern_epoll_close(st->ep);
}

static const struct tern_app_ops echo_ops = {
	.name = "tcp-echo",
	.state_size = sizeof(struct echo_state),
	.start = echo_start,
	.poll = echo_poll,
	.stop = echo_stop,
};

static const struct tern_app_ops discard_ops = {
	.name = "tcp-discard",
	.state_size = sizeof(struct echo_state),
	.start = echo_start,
	.poll = echo_poll,
	.stop = echo_stop,
};

/* s->ops may be a copy of echo_ops or discard_ops (service.c): which
 * service this is comes from the start function, not the ops pointer. */
static int
echo_cfg_start(struct svc *s, uint16_t port)
{
	struct echo_cfg cfg = { .port = port, .discard = false };

	return tern_app_start(s->ops, &cfg);
}

static int
discard_cfg_start(struct svc *s, uint16_t port)
{
	struct echo_cfg cfg = { .port = port, .discard = true };

	return tern_app_start(s->ops, &cfg);
}

static struct svc echo_svc = {
	.name = "tcp-echo", .ops = &echo_ops, .default_port = 7, .start = echo_cfg_start
};
static struct svc discard_svc = {
	.name = "tcp-discard", .ops = &discard_ops, .default_port = 9, .start = discard_cfg_start
};

int
cli_service_tcp_echo(struct cmd_ctx *c, int argc, char **argv)
{
	return svc_cli(&echo_svc, c, argc, argv);
}

int
cli_service_tcp_discard(struct cmd_ctx *c, int argc, char **argv)
{
	return svc_cli(&discard_svc, c, argc, argv);
}

void
tcp_echo_running_config(struct tern_out *o)
{
	svc_running_config(&echo_svc, o);
	svc_running_config(&discard_svc, o);
}
