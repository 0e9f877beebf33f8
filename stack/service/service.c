/* SPDX-License-Identifier: BSD-3-Clause */
/* What the built-in services share: listening, and their CLI. */
#include <errno.h>
#include <string.h>

#include "mgmt/out.h"
#include "service/service.h"
#include "tcp/socket.h"

int
svc_listen(uint16_t port, int backlog)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	int fd = tern_socket(SOCK_STREAM), rc;

	if (fd < 0)
		return fd;
	if ((rc = tern_bind(fd, &a)) < 0 || (rc = tern_listen(fd, backlog)) < 0) {
		tern_close(fd);
		return rc;
	}
	return fd;
}

/*
 * A service moves to a new port by starting there while the old listener
 * still runs, and stopping the old one only once the new one is up.
 * tern_app_stop() finds an instance by its ops pointer, so with two
 * instances of one service it could stop either: the new instance runs
 * under the other ops of a pair (the service's own and a copy), and each
 * stop hits only its own instance.
 */
#define SVC_MAX 8

static struct {
	const struct svc *s;
	const struct tern_app_ops *own;
	struct tern_app_ops copy;
} twin[SVC_MAX];

/* The ops for a second instance of `s` (NULL if the table is full). */
static const struct tern_app_ops *
svc_spare_ops(struct svc *s)
{
	unsigned i;

	for (i = 0; i < SVC_MAX && twin[i].s != NULL && twin[i].s != s; i++)
		;
	if (i == SVC_MAX)
		return NULL;
	if (twin[i].s == NULL) {
		twin[i].s = s;
		twin[i].own = s->ops;
		twin[i].copy = *s->ops;
	}
	return s->ops == twin[i].own ? &twin[i].copy : twin[i].own;
}

int
svc_cli(struct svc *s, struct cmd_ctx *c, int argc, char **argv)
{
	const struct tern_app_ops *old = s->ops;
	uint64_t port = s->default_port;
	int rc;

	if (s->port == 0)
		s->port = -1;
	if (argc == 1 && strcmp(argv[0], "off") == 0) {
		if (c->dry_run || s->port < 0)
			return 0;
		tern_app_stop(s->ops);
		s->port = -1;
		return 0;
	}
	if (argc != 0 && (argc != 2 || strcmp(argv[0], "port") != 0))
		return out_err(c->out, EINVAL, "usage: service %s [port N] | off", s->name);
	if (argc == 2 && (rc = cmd_parse_u64(c, "port", argv[1], 1, 65535, &port)) < 0)
		return rc;
	if (c->dry_run || port == (uint64_t)s->port)
		return 0;
	if (s->port >= 0 && (s->ops = svc_spare_ops(s)) == NULL) {
		s->ops = old;
		return out_err(c->out, ENOSPC, "%s: too many services", s->name);
	}
	if ((rc = s->start(s, (uint16_t)port)) < 0) {
		s->ops = old; /* still running on its old port, if it was */
		return out_err(c->out, -rc, "%s on port %u: %s", s->name, (unsigned)port,
		               strerror(-rc));
	}
	/* Only now let the old port go; stopping cannot fail. */
	if (s->port >= 0)
		tern_app_stop(old);
	s->port = (int)port;
	return 0;
}

void
svc_running_config(const struct svc *s, struct tern_out *o)
{
	if (s->port == s->default_port)
		out_text(o, "service %s\n", s->name);
	else if (s->port > 0)
		out_text(o, "service %s port %d\n", s->name, s->port);
}
