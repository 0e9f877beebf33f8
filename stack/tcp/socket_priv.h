/* SPDX-License-Identifier: BSD-3-Clause */
/* The socket layer's side of the TCP worker (tcp_worker.c). */
#ifndef TERN_TCP_SOCKET_PRIV_H
#define TERN_TCP_SOCKET_PRIV_H

#include "tcp/tcp.h"

struct tcp_worker;
struct tern_sock_table;

struct tern_sock_table *tern_sock_table_create(struct tcp_worker *tw);
/* Closes (aborts) every socket still open. */
void tern_sock_table_destroy(struct tern_sock_table *t);
/* The TCP core's event hook. */
void tern_sock_event(struct tcp_worker *tw, struct tcp_conn *c, unsigned ev);
/* Make `tw` the calling thread's worker for socket calls; returns the
 * previous one. */
struct tcp_worker *tern_sock_enter(struct tcp_worker *tw);

#endif
