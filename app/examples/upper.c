/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * tern-upper: an example application on tern's socket API (docs/api.md).
 *
 * It is ternd (same command line and config file) plus one application
 * that runs on every worker: a TCP server on port 7777 (or $TERN_UPPER_PORT)
 * that answers each line it receives with the same line in upper case, and
 * a UDP socket on the same port that answers each datagram likewise.  Both
 * listen on every address of ternd, or on $TERN_UPPER_ADDR only.
 * The code is the usual non-blocking server loop, except that it is a
 * poll function the worker calls every loop instead of a thread that
 * blocks in epoll_wait().
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/daemon.h"
#include "tcp/socket.h"
#include "tcp/tcp_worker.h"

#define LINE_MAX_LEN 1024
#define MAX_CLIENTS  4096

struct client {
	int fd;
	size_t len;
	char line[LINE_MAX_LEN];
};

/* Per-worker state (tern_app_start allocates one per worker, zeroed). */
struct upper {
	int ep, lfd, ufd;
	struct client *clients[MAX_CLIENTS];
};

static void
client_close(struct upper *u, unsigned slot)
{
	tern_close(u->clients[slot]->fd);
	free(u->clients[slot]);
	u->clients[slot] = NULL;
}

/* Read what is there; answer every complete line. */
static void
client_read(struct upper *u, unsigned slot)
{
	struct client *cl = u->clients[slot];
	char buf[4096];
	ssize_t n;

	while ((n = tern_recv(cl->fd, buf, sizeof(buf))) > 0) {
		for (ssize_t i = 0; i < n; i++) {
			char ch = (char)toupper((unsigned char)buf[i]);

			if (cl->len < LINE_MAX_LEN)
				cl->line[cl->len++] = ch;
			if (ch != '\n' && cl->len < LINE_MAX_LEN)
				continue;
			/* A slow reader loses its answer rather than stalling us. */
			if (tern_send(cl->fd, cl->line, cl->len) != (ssize_t)cl->len) {
				client_close(u, slot);
				return;
			}
			cl->len = 0;
		}
	}
	if (n != -EAGAIN)
		client_close(u, slot); /* EOF or error */
}

static void
upper_accept(struct upper *u)
{
	int fd;

	while ((fd = tern_accept(u->lfd, NULL)) >= 0) {
		unsigned slot;

		for (slot = 0; slot < MAX_CLIENTS && u->clients[slot] != NULL; slot++)
			;
		if (slot == MAX_CLIENTS ||
		    (u->clients[slot] = calloc(1, sizeof(struct client))) == NULL) {
			tern_close(fd);
			continue;
		}
		u->clients[slot]->fd = fd;
		tern_epoll_ctl(u->ep, EPOLL_CTL_ADD, fd, EPOLLIN, slot);
	}
}

/* Each datagram back to its sender, upper-cased. */
static void
udp_read(struct upper *u)
{
	struct sockaddr_in from;
	char buf[2048];
	ssize_t n;

	while ((n = tern_recvfrom(u->ufd, buf, sizeof(buf), &from)) >= 0) {
		for (ssize_t i = 0; i < n; i++)
			buf[i] = (char)toupper((unsigned char)buf[i]);
		tern_sendto(u->ufd, buf, (size_t)n, &from);
	}
}

static int
upper_start(void *state, const void *cfg)
{
	struct upper *u = state;
	const char *env = getenv("TERN_UPPER_PORT"), *addr = getenv("TERN_UPPER_ADDR");
	struct sockaddr_in a = {
		.sin_family = AF_INET,
		.sin_port = htons(env != NULL ? (uint16_t)atoi(env) : 7777),
	};
	int rc;

	(void)cfg;
	/* The state comes zeroed, and 0 is a valid descriptor: mark what is
	 * not open yet, so that a failure closes only what this call opened. */
	u->ep = u->lfd = u->ufd = -1;
	if (addr != NULL && inet_pton(AF_INET, addr, &a.sin_addr) != 1)
		return -EINVAL;
	if ((rc = u->ep = tern_epoll_create()) < 0)
		goto fail;
	if ((rc = u->lfd = tern_socket(SOCK_STREAM)) < 0)
		goto fail;
	if ((rc = tern_bind(u->lfd, &a)) < 0 || (rc = tern_listen(u->lfd, 128)) < 0)
		goto fail;
	if ((rc = tern_epoll_ctl(u->ep, EPOLL_CTL_ADD, u->lfd, EPOLLIN, UINT64_MAX)) < 0)
		goto fail;
	/* The same API for UDP: a datagram socket on the same port. */
	if ((rc = u->ufd = tern_socket(SOCK_DGRAM)) < 0)
		goto fail;
	if ((rc = tern_bind(u->ufd, &a)) < 0)
		goto fail;
	if ((rc = tern_epoll_ctl(u->ep, EPOLL_CTL_ADD, u->ufd, EPOLLIN, UINT64_MAX - 1)) < 0)
		goto fail;
	return 0;
fail:
	/* tern_app_start() does not call stop after a failed start: undo
	 * here, or the set and the listener outlive the application. */
	if (u->ufd >= 0)
		tern_close(u->ufd);
	if (u->lfd >= 0)
		tern_close(u->lfd);
	if (u->ep >= 0)
		tern_epoll_close(u->ep);
	return rc;
}

static void
upper_poll(void *state)
{
	struct upper *u = state;
	struct tern_event ev[32];
	int n = tern_epoll_wait(u->ep, ev, 32);

	for (int i = 0; i < n; i++) {
		if (ev[i].data == UINT64_MAX)
			upper_accept(u);
		else if (ev[i].data == UINT64_MAX - 1)
			udp_read(u);
		else if (u->clients[ev[i].data] != NULL)
			client_read(u, (unsigned)ev[i].data);
	}
}

static void
upper_stop(void *state)
{
	struct upper *u = state;

	for (unsigned i = 0; i < MAX_CLIENTS; i++)
		if (u->clients[i] != NULL)
			client_close(u, i);
	tern_close(u->lfd);
	tern_close(u->ufd);
	tern_epoll_close(u->ep);
}

static const struct tern_app_ops upper_ops = {
	.name = "upper",
	.state_size = sizeof(struct upper),
	.start = upper_start,
	.poll = upper_poll,
	.stop = upper_stop,
};

static int
ready(void)
{
	return tern_app_start(&upper_ops, NULL);
}

int
main(int argc, char **argv)
{
	return tern_daemon(argc, argv, ready);
}
