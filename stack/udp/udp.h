/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * UDP (RFC 768).  udp_input validates datagrams for us and hands each to
 * the receiver bound to its destination port; a port with no receiver gets
 * an ICMP port unreachable.
 *
 * Receivers are nodes that register at init (udp_receiver_register) and
 * are bound to ports at runtime (udp_bind).  The port -> receiver map is a
 * 64 KiB table the control thread copies, edits and publishes with RCU, so
 * workers read it without locks.
 */
#ifndef TERN_UDP_UDP_H
#define TERN_UDP_UDP_H

#include <stdint.h>

#define UDP_MAX_RECEIVERS 16

struct udp_port_map {
	uint8_t receiver[65536]; /* by destination port (host order): id + 1, or 0 */
};

/* TERN_INIT hook: a node that takes UDP datagrams; returns its id or -errno. */
int udp_receiver_register(const char *node_name);

/*
 * TERN_INIT hook: the node that takes datagrams for ports no receiver is
 * bound to (the socket layer's UDP sockets); it answers port unreachable
 * itself for ports nobody listens on.  `port_check` (control thread) says
 * whether one of its sockets holds a port: 0 (free), -EADDRINUSE, or
 * another -errno when it cannot tell.  0 or -EEXIST.
 */
int udp_default_receiver_register(const char *node_name, int (*port_check)(uint16_t port));

/* Control thread: bind `port` to receiver `id`, or unbind it (id < 0). */
int udp_bind(uint16_t port, int id);
/* Control thread: the receiver bound to `port`, or -1. */
int udp_bound(uint16_t port);
/* Control thread: may a receiver take `port`?  0, or -EADDRINUSE when a
 * receiver or a socket holds it (or -errno: the sockets could not be
 * asked). */
int udp_port_free(uint16_t port);

#endif
