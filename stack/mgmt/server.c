/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/log.h"
#include "mgmt/cmd.h"
#include "mgmt/server.h"

/*
 * A client that does not read its replies gets no more of its requests
 * served while this much of its earlier output is unsent: its requests
 * wait in its input buffer and in the socket, not as replies in ternd's
 * memory.  One reply of any size is still queued whole (a `route show`
 * of a million routes is larger than this), so a client that reads gets
 * every reply; what ternd holds for one client stays below this plus its
 * largest reply.
 */
#define CLIENT_MAX_PENDING (64u << 20)

struct client {
	int fd;
	bool closing; /* close once the pending output is written */
	size_t inlen;
	char in[CMD_MAX_LINE + 1];
	char *out;
	size_t outlen, outoff;
};

struct tern_server {
	int fd;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct client *client[TERN_MAX_CLIENTS];
};

static int
mkdir_parent(const char *path)
{
	char dir[PATH_MAX];
	char *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash == NULL || slash == dir)
		return 0;
	*slash = '\0';
	for (char *p = dir + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(dir, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/*
 * Clear the way for bind(): nothing there, or a socket file left over from
 * a crash (nobody answers on it: ECONNREFUSED), which is removed.  Anything
 * else is refused rather than deleted: a running ternd, or a regular file
 * or directory given to -s by mistake.
 */
static int
remove_stale(int fd, const struct sockaddr_un *sa, const char *path)
{
	struct stat st;
	int rc;

	if (lstat(path, &st) < 0) {
		if (errno == ENOENT)
			return 0;
		rc = -errno;
		LOG_ERR("%s: %s", path, strerror(errno));
		return rc;
	}
	if (!S_ISSOCK(st.st_mode)) {
		LOG_ERR("%s: exists and is not a socket; not replacing it", path);
		return -EEXIST;
	}
	if (connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0 || errno == EAGAIN) {
		/* EAGAIN: a full backlog, so someone is listening. */
		LOG_ERR("%s: another ternd is running", path);
		return -EADDRINUSE;
	}
	if (errno != ECONNREFUSED) {
		rc = -errno;
		LOG_ERR("%s: cannot tell whether a ternd is running: %s", path, strerror(errno));
		return rc;
	}
	if (unlink(path) < 0 && errno != ENOENT) {
		rc = -errno;
		LOG_ERR("%s: cannot remove the stale socket: %s", path, strerror(errno));
		return rc;
	}
	return 0;
}

int
tern_server_open(struct tern_server **srvp, const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct tern_server *srv;
	int fd, rc;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		LOG_ERR("socket path '%s' too long", path);
		return -ENAMETOOLONG;
	}
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if ((rc = mkdir_parent(path)) < 0) {
		LOG_ERR("socket directory for %s: %s", path, strerror(-rc));
		return rc;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if ((rc = remove_stale(fd, &sa, path)) < 0) {
		close(fd);
		return rc;
	}
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || chmod(path, 0660) < 0 ||
	    listen(fd, 512) < 0) {
		rc = -errno;
		LOG_ERR("%s: %s", path, strerror(errno));
		close(fd);
		return rc;
	}
	srv = calloc(1, sizeof(*srv));
	if (srv == NULL) {
		close(fd);
		unlink(path);
		return -ENOMEM;
	}
	srv->fd = fd;
	snprintf(srv->path, sizeof(srv->path), "%s", path);
	*srvp = srv;
	return 0;
}

static void
client_drop(struct tern_server *srv, unsigned i)
{
	struct client *cl = srv->client[i];

	close(cl->fd);
	free(cl->out);
	free(cl);
	srv->client[i] = NULL;
}

/* Output queued and not yet sent. */
static size_t
client_pending(const struct client *cl)
{
	return cl->outlen - cl->outoff;
}

/* Queue a header and its payload, both or neither. */
static int
client_queue(struct client *cl, const char *hdr, size_t hlen, const char *data, size_t len)
{
	char *grown;

	/* Drop the sent part only once it is as large as the rest: a small
	 * reply behind a big one half sent must not move the big one. */
	if (cl->outoff > 0 && cl->outoff >= client_pending(cl)) {
		memmove(cl->out, cl->out + cl->outoff, client_pending(cl));
		cl->outlen -= cl->outoff;
		cl->outoff = 0;
	}
	if (len > SIZE_MAX - hlen - cl->outlen)
		return -ENOMEM;
	grown = realloc(cl->out, cl->outlen + hlen + len);
	if (grown == NULL)
		return -ENOMEM;
	cl->out = grown;
	memcpy(cl->out + cl->outlen, hdr, hlen);
	memcpy(cl->out + cl->outlen + hlen, data, len);
	cl->outlen += hlen + len;
	return 0;
}

/* Write what the socket takes now; -errno when the client is gone. */
static int
client_flush(struct client *cl)
{
	while (cl->outoff < cl->outlen) {
		ssize_t n = send(cl->fd, cl->out + cl->outoff, cl->outlen - cl->outoff,
		                 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			if (errno == EINTR)
				continue;
			return -errno;
		}
		cl->outoff += (size_t)n;
	}
	cl->outoff = cl->outlen = 0;
	return 0;
}

/* Queue one reply; -errno only when not even an error reply fits. */
static int
reply(struct client *cl, int status, const char *payload, size_t len)
{
	static const char nomem[] = "out of memory for the reply\n";
	char hdr[32];
	int n = snprintf(hdr, sizeof(hdr), "%d %zu\n", status, len);

	if (client_queue(cl, hdr, (size_t)n, payload, len) == 0)
		return 0;
	/* Every request gets a reply: say why this one has no payload. */
	n = snprintf(hdr, sizeof(hdr), "%d %zu\n", ENOMEM, sizeof(nomem) - 1);
	return client_queue(cl, hdr, (size_t)n, nomem, sizeof(nomem) - 1);
}

int
tern_server_request(char *line, size_t len, char **out_reply, size_t *out_len)
{
	char *argv[CMD_MAX_WORDS];
	struct tern_out out;
	struct cmd_ctx c = { .out = &out };
	const char *err, *s;
	bool json = false;
	int argc, rc;

	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)line[i];
		if ((ch < 0x20 && ch != '\t' && ch != '\r') || ch == 0x7f) {
			out_init(&out, false);
			rc = out_err(&out, EINVAL, "binary data in request (byte 0x%02x at %zu)",
			             ch, i);
			goto done;
		}
	}
	line[len] = '\0';
	argc = cmd_tokenize(line, argv, CMD_MAX_WORDS, &err);
	if (argc > 0 && strcmp(argv[0], "-j") == 0) {
		json = true;
		argc--;
		memmove(argv, argv + 1, sizeof(argv[0]) * (size_t)argc);
	}
	out_init(&out, json);
	if (argc < 0)
		rc = out_err(&out, -argc, "%s", err);
	else
		rc = cmd_exec(&c, argc, argv);
	if (out.nomem)
		rc = out_err(&out, ENOMEM, "out of memory");
done:
	s = out_finish(&out, out_len);
	*out_reply = out.buf;
	if (out.buf == NULL)
		*out_reply = strdup(s);
	return rc < 0 ? -rc : 0;
}

/* Whether the client is behind on reading: serve it no more for now. */
static bool
client_backlogged(const struct client *cl)
{
	return client_pending(cl) > CLIENT_MAX_PENDING;
}

/* Serve the complete lines in the client's buffer while it keeps up with
 * its replies; -errno drops it. */
static int
client_serve(struct client *cl)
{
	char *nl = NULL;

	while (!client_backlogged(cl) && (nl = memchr(cl->in, '\n', cl->inlen)) != NULL) {
		size_t len = (size_t)(nl - cl->in), rlen;
		char *r = NULL;
		int status = tern_server_request(cl->in, len, &r, &rlen);
		int rc = reply(cl, status, r ? r : "", r ? rlen : 0);

		free(r);
		if (rc < 0)
			return rc;
		memmove(cl->in, nl + 1, cl->inlen - len - 1);
		cl->inlen -= len + 1;
	}
	if (nl == NULL && cl->inlen == CMD_MAX_LINE) {
		/* No newline within the limit: we cannot find the next request. */
		static const char msg[] = "request longer than 65536 bytes\n";
		cl->closing = true;
		cl->inlen = 0;
		return reply(cl, EMSGSIZE, msg, sizeof(msg) - 1);
	}
	return 0;
}

/* Take what the client sent and serve it; -errno drops it. */
static int
client_read(struct client *cl)
{
	ssize_t n;

	/* Only polled for input when not backlogged and the buffer has room
	 * (client_serve() leaves no complete line behind then). */
	n = recv(cl->fd, cl->in + cl->inlen, CMD_MAX_LINE - cl->inlen, MSG_DONTWAIT);
	if (n == 0) {
		/* The client closed its side (or left mid-request): answer what
		 * it sent in full, then drop it once the replies are out. */
		cl->closing = true;
		return 0;
	}
	if (n < 0)
		return (errno == EAGAIN || errno == EINTR) ? 0 : -errno;
	cl->inlen += (size_t)n;
	return client_serve(cl);
}

/* Accept one client; false when the backlog is empty. */
static bool
server_accept(struct tern_server *srv)
{
	int fd = accept4(srv->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	unsigned i;

	if (fd < 0)
		return false;
	for (i = 0; i < TERN_MAX_CLIENTS && srv->client[i] != NULL; i++)
		;
	if (i == TERN_MAX_CLIENTS) {
		static const char msg[] = "too many clients, retry later\n";
		char busy[64];
		int len = snprintf(busy, sizeof(busy), "%d %zu\n%s", EBUSY, sizeof(msg) - 1, msg);

		LOG_WARN("management: too many clients, refusing one");
		(void)!send(fd, busy, (size_t)len, MSG_NOSIGNAL | MSG_DONTWAIT);
		close(fd);
		return true;
	}
	srv->client[i] = calloc(1, sizeof(struct client));
	if (srv->client[i] == NULL) {
		close(fd);
		return true;
	}
	srv->client[i]->fd = fd;
	return true;
}

void
tern_server_run(struct tern_server *srv, int sigfd, int (*stop)(void), bool (*tick)(void))
{
	struct pollfd pfd[TERN_MAX_CLIENTS + 2];
	int slot[TERN_MAX_CLIENTS + 2];

	while (!stop()) {
		unsigned n = 0;
		bool busy;

		pfd[n++] = (struct pollfd){ .fd = srv->fd, .events = POLLIN };
		pfd[n++] = (struct pollfd){ .fd = sigfd, .events = POLLIN };
		for (unsigned i = 0; i < TERN_MAX_CLIENTS; i++) {
			struct client *cl = srv->client[i];
			if (cl == NULL)
				continue;
			slot[n] = (int)i;
			/* A backlogged client is not read: what it sends waits in
			 * the socket until it has read enough of its replies. */
			pfd[n++] = (struct pollfd){
				.fd = cl->fd,
				.events =
				    (short)((cl->closing || client_backlogged(cl) ? 0 : POLLIN) |
				            (client_pending(cl) > 0 ? POLLOUT : 0)),
			};
		}
		/* With punts still queued, only look at the clients: a 1 ms
		 * sleep per ring's worth would cap ARP at ~64k packets/s. */
		busy = tick != NULL && tick();
		if (poll(pfd, n, busy ? 0 : 1) < 0) {
			if (errno == EINTR)
				continue;
			LOG_ERR("management poll: %s", strerror(errno));
			return;
		}
		if (pfd[1].revents & POLLIN) {
			struct signalfd_siginfo si;
			if (read(sigfd, &si, sizeof(si)) == sizeof(si))
				LOG_INFO("signal %u: shutting down", si.ssi_signo);
			return;
		}
		for (unsigned k = 2; k < n; k++) {
			unsigned i = (unsigned)slot[k];
			struct client *cl = srv->client[i];
			int rc = 0;

			if (pfd[k].revents & POLLIN)
				rc = client_read(cl);
			else if (pfd[k].revents & (POLLERR | POLLHUP | POLLNVAL))
				rc = -ECONNRESET;
			if (rc == 0)
				rc = client_flush(cl);
			/* Requests held back while it was backlogged: serve them
			 * now that it has read, and send what fits at once. */
			if (rc == 0 && !client_backlogged(cl) && memchr(cl->in, '\n', cl->inlen)) {
				rc = client_serve(cl);
				if (rc == 0)
					rc = client_flush(cl);
			}
			if (rc < 0 || (cl->closing && cl->outlen == cl->outoff))
				client_drop(srv, i);
		}
		/* Drain the backlog, so a burst of clients is answered at once. */
		if (pfd[0].revents & POLLIN)
			while (server_accept(srv))
				;
	}
	/* Let the reply to `shutdown` reach its client. */
	for (unsigned i = 0; i < TERN_MAX_CLIENTS; i++)
		if (srv->client[i] != NULL)
			client_flush(srv->client[i]);
}

void
tern_server_close(struct tern_server *srv)
{
	if (srv == NULL)
		return;
	for (unsigned i = 0; i < TERN_MAX_CLIENTS; i++)
		if (srv->client[i] != NULL)
			client_drop(srv, i);
	close(srv->fd);
	unlink(srv->path);
	free(srv);
}
