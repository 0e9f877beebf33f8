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
/* udp_sock: queue datagram `m` (IPv4 header at data, l3_len set) on the
 * UDP socket of this worker bound to `port` and to its destination
 * address (else to 0.0.0.0).  0 (kept), -ENOENT (no socket), -ENOBUFS
 * (its queue is full). */
struct rte_mbuf;
int tern_sock_udp_deliver(struct tcp_worker *tw, struct rte_mbuf *m, uint16_t port);
/* Control thread: 0 if no worker has a UDP socket on `port`, else
 * -EADDRINUSE (or -errno from a worker call). */
int tern_sock_udp_port_check(uint16_t port);

/* Bytes of a socket slot and its place in an epoll ring. */
size_t tern_sock_slot_size(void);

/* Make `tw` the calling thread's worker for socket calls; returns the
 * previous one. */
struct tcp_worker *tern_sock_enter(struct tcp_worker *tw);

#endif
