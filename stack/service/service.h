/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Built-in services: applications that run on every worker over the
 * socket API (tcp/socket.h), switched on and off from the CLI with
 * `service NAME [port N] | off`.  Each listens on every worker; a
 * connection is served by the worker its SYN reached.
 */
#ifndef TERN_SERVICE_SERVICE_H
#define TERN_SERVICE_SERVICE_H

#include <stdbool.h>
#include <stdint.h>

#include "mgmt/cli.h"
#include "tcp/tcp_worker.h"

/* Control-thread state of one service. */
struct svc {
	const char *name;
	const struct tern_app_ops *ops;
	uint16_t default_port;
	int port; /* running on, or -1 (0 before the first use) */
	int (*start)(struct svc *s, uint16_t port);
};

/* On a worker: a listening socket on `port`, any address.  fd or -errno. */
int svc_listen(uint16_t port, int backlog);
/* The common `service NAME [port N] | off` handler. */
int svc_cli(struct svc *s, struct cmd_ctx *c, int argc, char **argv);
void svc_running_config(const struct svc *s, struct tern_out *o);

#endif
