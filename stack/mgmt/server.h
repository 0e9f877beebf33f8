/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The management socket: a UNIX stream socket (mode 0660, no network
 * listener) served by the control thread with poll().
 *
 * Framing (docs/cli.md): a request is one line of at most 65536 bytes,
 * optionally starting with the word "-j" for a JSON reply.  A reply is a
 * header "<status> <length>\n" (status 0 or a positive errno) followed by
 * <length> bytes of text or JSON.  Every request line gets one reply.
 */
#ifndef TERN_MGMT_SERVER_H
#define TERN_MGMT_SERVER_H

#include <stdbool.h>

#define TERN_DEFAULT_SOCKET "/run/tern/ternd.sock"
#define TERN_MAX_CLIENTS    64

struct tern_server;

/* Bind and listen on `path`.  Fails with -EADDRINUSE if a ternd answers there. */
int tern_server_open(struct tern_server **srv, const char *path);

/*
 * Serve clients until `stop()` returns true or `sigfd` becomes readable
 * (SIGINT/SIGTERM).  `tick()` runs about every millisecond, or again at
 * once while it returns true (work left over): the control thread's slow
 * path (punted packets, timers) lives there.
 */
void tern_server_run(struct tern_server *srv, int sigfd, int (*stop)(void), bool (*tick)(void));

/* Close every client and the socket, and remove the socket file. */
void tern_server_close(struct tern_server *srv);

/* Handle one request line; the reply goes to *reply (exposed for tests). */
int tern_server_request(char *line, size_t len, char **reply, size_t *reply_len);

#endif
