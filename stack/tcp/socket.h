/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * tern's socket API: BSD sockets, non-blocking, in-process (docs/api.md).
 *
 * Sockets belong to the worker lcore that created them and are used only
 * there: applications run on the workers (struct tern_app_ops, started
 * with tern_app_start), and every call below acts on the calling worker's
 * TCP stack.  Nothing blocks: a call that would wait returns -EAGAIN (or
 * -EINPROGRESS for connect), and tern_epoll_wait() says when to retry.
 * Calls return 0, a byte count or a descriptor, or -errno.
 *
 * Addresses use struct sockaddr_in (network byte order, as for BSD
 * sockets); options use the usual levels and names (SOL_SOCKET /
 * SO_KEEPALIVE, IPPROTO_TCP / TCP_NODELAY, ...).
 */
#ifndef TERN_TCP_SOCKET_H
#define TERN_TCP_SOCKET_H

#include <linux/sockios.h> /* SIOCINQ, SIOCOUTQ */
#include <sys/ioctl.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/types.h>

int tern_socket(int type); /* SOCK_STREAM or SOCK_DGRAM */
int tern_bind(int fd, const struct sockaddr_in *addr);
int tern_listen(int fd, int backlog);
int tern_accept(int fd, struct sockaddr_in *peer);
int tern_connect(int fd, const struct sockaddr_in *addr);
ssize_t tern_send(int fd, const void *buf, size_t len);
ssize_t tern_recv(int fd, void *buf, size_t len);
/* UDP (SOCK_DGRAM): one datagram per call; recvfrom truncates to len. */
ssize_t tern_sendto(int fd, const void *buf, size_t len, const struct sockaddr_in *to);
ssize_t tern_recvfrom(int fd, void *buf, size_t len, struct sockaddr_in *from);
int tern_shutdown(int fd, int how);
int tern_close(int fd);
int tern_setsockopt(int fd, int level, int name, const void *val, socklen_t len);
int tern_getsockopt(int fd, int level, int name, void *val, socklen_t *len);
int tern_getsockname(int fd, struct sockaddr_in *addr);
int tern_getpeername(int fd, struct sockaddr_in *addr);

/*
 * ioctl: SIOCINQ (bytes to read), SIOCOUTQ (bytes not yet acknowledged
 * or sent), TERN_SIOCOUTSPACE (bytes tern_send() takes now).
 */
#define TERN_SIOCOUTSPACE 0x7e01
int tern_ioctl(int fd, unsigned long req, int *val);

/*
 * Readiness, like a level-triggered epoll: a set belongs to the worker
 * that created it, and a socket is in at most one set.  EPOLLERR and
 * EPOLLHUP are always reported; EPOLLRDHUP when the peer sent FIN.  op is
 * EPOLL_CTL_ADD, EPOLL_CTL_MOD or EPOLL_CTL_DEL.
 */
#define TERN_MAX_EPOLL 16
struct tern_event {
	uint32_t events;
	uint64_t data;
};
int tern_epoll_create(void);
int tern_epoll_close(int epfd);
/* Close every socket in the set (an application stopping). */
int tern_epoll_close_members(int epfd);
int tern_epoll_ctl(int epfd, int op, int fd, uint32_t events, uint64_t data);
/* Ready sockets, at most `max`; never waits.  Returns the count. */
int tern_epoll_wait(int epfd, struct tern_event *ev, int max);

/* The calling worker's index, and the time (ms) of its current loop. */
unsigned tern_worker_index(void);
uint64_t tern_now_ms_worker(void);

#endif
