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

int
svc_cli(struct svc *s, struct cmd_ctx *c, int argc, char **argv)
{
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
	if (s->port >= 0) {
		tern_app_stop(s->ops);
		s->port = -1;
	}
	if ((rc = s->start(s, (uint16_t)port)) < 0)
		return out_err(c->out, -rc, "%s on port %u: %s", s->name, (unsigned)port,
		               strerror(-rc));
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
