/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The socket API (socket.h) over the worker's TCP stack, its per-worker
 * descriptor table and readiness queue, and applications on the workers.
 *
 * A descriptor is (worker index << 20) | slot, so a socket used on the
 * wrong worker is caught (-EBADF).  Readiness is level-triggered: the
 * core's events put a socket on the worker's ready queue, and
 * tern_epoll_wait() reports it for as long as its condition holds.
 */
#include <errno.h>
#include <linux/sockios.h>
#include <linux/tcp.h> /* not netinet/tcp.h: its TCP_ESTABLISHED... clash with tcp.h */
#include <sys/ioctl.h>
#include <stdlib.h>
#include <string.h>

#include <rte_ip.h>
#include <rte_lcore.h>
#include <rte_per_lcore.h>
#include <rte_udp.h>

#include "core/ctl.h"
#include "ip/ip_priv.h"
#include "tcp/socket.h"
#include "tcp/socket_priv.h"
#include "tcp/tcp_priv.h"
#include "tcp/tcp_worker.h"
#include "udp/udp.h"

#define FD_SHIFT 20
#define FD_SLOTS (1u << FD_SHIFT)

/* Options a socket remembers until it has a connection to apply them to. */
#define NB_TCP_OPTS (TCP_SO_MAXSEG + 1)

struct tern_sock {
	uint8_t type; /* 0: free */
	bool in_ready;
	int8_t ep;    /* epoll set, or -1 */
	uint32_t gen; /* bumped when it leaves its set: queued entries go stale */
	bool listening;
	uint32_t laddr; /* bound, host order */
	uint16_t lport;
	uint16_t opt_set; /* bit per enum tcp_sockopt */
	int opt_val[NB_TCP_OPTS];
	struct tcp_conn *c;
	uint32_t ev_mask;
	uint64_t ev_data;
	uint32_t next_free;
	/* UDP: the peer of a connected socket, the next socket bound to the
	 * same port (slot + 1, 0: none), and received datagrams. */
	uint32_t raddr;
	uint16_t rport;
	uint32_t port_next;
	uint16_t q_head, q_len;
	struct rte_mbuf **q;
	uint64_t q_drops;
};

#define UDP_SOCK_QLEN 256 /* datagrams a UDP socket holds unread */

/* An epoll set: a ring of (slot, generation) of sockets that may be ready. */
struct tern_ep {
	bool used;
	uint32_t head, len;
	uint64_t *rq;
};

#define EP_BASE (FD_SLOTS - TERN_MAX_EPOLL) /* epoll descriptors' slots */

struct tern_sock_table {
	struct tcp_worker *tw;
	uint32_t size;
	uint32_t free_head; /* UINT32_MAX: none */
	struct tern_ep ep[TERN_MAX_EPOLL];
	/* UDP port -> slot + 1 of the first socket bound to it (64 Ki
	 * entries); the rest follow port_next.  A port has at most one
	 * socket per local address, so a chain is short. */
	uint32_t *udp_port;
	uint16_t udp_next; /* ephemeral port search start */
	struct tern_sock s[];
};

/* The worker whose sockets the calling thread uses (set by tcp_tx before
 * it runs applications, and around application start and stop). */
RTE_DEFINE_PER_LCORE(struct tcp_worker *, sock_cur);

size_t
tern_sock_slot_size(void)
{
	return sizeof(struct tern_sock) + sizeof(uint64_t);
}

struct tcp_worker *
tern_sock_enter(struct tcp_worker *tw)
{
	struct tcp_worker *prev = RTE_PER_LCORE(sock_cur);

	RTE_PER_LCORE(sock_cur) = tw;
	return prev;
}

struct tern_sock_table *
tern_sock_table_create(struct tcp_worker *tw)
{
	uint32_t size = tcp_stack_cfg(tw->st)->max_conns + 64;
	struct tern_sock_table *t;

	if (size > FD_SLOTS)
		size = FD_SLOTS;
	t = calloc(1, sizeof(*t) + size * sizeof(t->s[0]));
	if (t == NULL)
		return NULL;
	t->tw = tw;
	t->size = size;
	t->udp_port = calloc(65536, sizeof(*t->udp_port));
	if (t->udp_port == NULL) {
		free(t);
		return NULL;
	}
	t->udp_next = (uint16_t)(32768 + tw->w->id * 997 % 28232);
	for (uint32_t i = 0; i < size; i++)
		t->s[i].next_free = i + 1 < size ? i + 1 : UINT32_MAX;
	t->free_head = 0;
	return t;
}

void
tern_sock_table_destroy(struct tern_sock_table *t)
{
	if (t == NULL)
		return;
	/* The stack frees the connections themselves. */
	for (unsigned i = 0; i < TERN_MAX_EPOLL; i++)
		free(t->ep[i].rq);
	for (uint32_t i = 0; i < t->size; i++) {
		struct tern_sock *s = &t->s[i];
		for (uint16_t k = 0; s->q != NULL && k < s->q_len; k++)
			rte_pktmbuf_free(s->q[(s->q_head + k) % UDP_SOCK_QLEN]);
		free(s->q);
	}
	free(t->udp_port);
	free(t);
}

static struct tcp_worker *
cur(void)
{
	return RTE_PER_LCORE(sock_cur);
}

static struct tern_sock *
sock_get(int fd)
{
	struct tcp_worker *tw = cur();
	struct tern_sock_table *t;
	uint32_t slot;

	if (tw == NULL || fd < 0 || ((unsigned)fd >> FD_SHIFT) != tw->w->id)
		return NULL;
	t = tw->socks;
	slot = (unsigned)fd & (FD_SLOTS - 1);
	if (slot >= t->size || t->s[slot].type == 0)
		return NULL;
	return &t->s[slot];
}

static int
sock_fd(const struct tern_sock_table *t, const struct tern_sock *s)
{
	return (int)(t->tw->w->id << FD_SHIFT | (uint32_t)(s - t->s));
}

static struct tern_sock *
sock_alloc(struct tern_sock_table *t, int type)
{
	struct tern_sock *s;
	uint32_t gen;

	if (t->free_head == UINT32_MAX)
		return NULL;
	s = &t->s[t->free_head];
	t->free_head = s->next_free;
	gen = s->gen;
	memset(s, 0, sizeof(*s));
	s->gen = gen;
	s->ep = -1;
	s->type = (uint8_t)type;
	return s;
}

/* Out of its epoll set: entries still queued for it are now stale. */
static void
sock_ep_leave(struct tern_sock *s)
{
	s->gen++;
	s->in_ready = false;
	s->ep = -1;
	s->ev_mask = 0;
}

static void
sock_free(struct tern_sock_table *t, struct tern_sock *s)
{
	uint32_t gen;

	sock_ep_leave(s);
	gen = s->gen;
	memset(s, 0, sizeof(*s));
	s->gen = gen;
	s->next_free = t->free_head;
	t->free_head = (uint32_t)(s - t->s);
}

static void
ready_push(struct tern_sock_table *t, struct tern_sock *s)
{
	struct tern_ep *ep;

	if (s->in_ready || s->ep < 0)
		return;
	ep = &t->ep[s->ep];
	if (ep->len == t->size)
		return; /* cannot happen: one entry per live socket */
	s->in_ready = true;
	ep->rq[(ep->head + ep->len) % t->size] = (uint64_t)s->gen << 32 | (uint32_t)(s - t->s);
	ep->len++;
}

/* What a socket is ready for now. */
static uint32_t
sock_poll(const struct tern_sock *s)
{
	const struct tcp_conn *c = s->c;
	uint32_t ev = 0;

	if (s->type == SOCK_DGRAM)
		return (s->q_len != 0 ? EPOLLIN : 0) | EPOLLOUT;
	if (c == NULL)
		return 0;
	if (c->flags & TCPF_LISTENER)
		return c->aq_head != NULL ? EPOLLIN : 0;
	if (c->err != 0)
		ev |= EPOLLERR | EPOLLIN | EPOLLOUT | EPOLLHUP;
	if (c->rcv.len != 0 || (c->flags & TCPF_FIN_RCVD))
		ev |= EPOLLIN;
	if (c->flags & TCPF_FIN_RCVD)
		ev |= EPOLLRDHUP;
	if (c->state == TCP_CLOSED || ((c->flags & TCPF_FIN_RCVD) && (c->flags & TCPF_FIN_QUEUED)))
		ev |= EPOLLHUP | EPOLLIN;
	if ((c->state == TCP_ESTABLISHED || c->state == TCP_CLOSE_WAIT) &&
	    !(c->flags & TCPF_FIN_QUEUED) && tcp_conn_writable(c) > 0)
		ev |= EPOLLOUT;
	return ev;
}

void
tern_sock_event(struct tcp_worker *tw, struct tcp_conn *c, unsigned ev)
{
	struct tern_sock *s = tcp_conn_user(c);

	(void)ev;
	if (s != NULL && s->ep >= 0)
		ready_push(tw->socks, s);
}

/* ---- UDP ---- */

/* One datagram in one mbuf: the data room less the IPv4 and UDP headers
 * (ip_output fragments it to the egress MTU). */
#define UDP_SOCK_MAX_PAYLOAD (RTE_MBUF_DEFAULT_DATAROOM - 28)

static uint32_t source_for(const struct tern_dp *dp, uint32_t dst);

/* The configuration the calling worker sees: its loop's version, or the
 * current one before its first loop (an application starting). */
static const struct tern_dp *
sock_dp(void)
{
	struct tcp_worker *tw = cur();

	return tern_worker_dp(tw->w);
}

static bool
sock_reuseaddr(const struct tern_sock *s)
{
	return (s->opt_set & (1u << TCP_SO_REUSEADDR)) && s->opt_val[TCP_SO_REUSEADDR] != 0;
}

/* May `s` take laddr:port beside the sockets already bound to the port?
 * As Linux: a wildcard and a specific address share a port only when both
 * sockets set SO_REUSEADDR.  Two sockets on one address and port never do
 * (Linux allows it with SO_REUSEADDR, but then only one of them hears
 * unicast datagrams: a trap, not a feature). */
static int
udp_port_conflict(const struct tern_sock_table *t, const struct tern_sock *s, uint32_t laddr,
                  uint16_t port)
{
	for (uint32_t i = t->udp_port[port]; i != 0; i = t->s[i - 1].port_next) {
		const struct tern_sock *o = &t->s[i - 1];

		if (o->laddr == laddr)
			return -EADDRINUSE;
		if ((o->laddr == 0 || laddr == 0) && !(sock_reuseaddr(s) && sock_reuseaddr(o)))
			return -EADDRINUSE;
	}
	return 0;
}

/* Bind UDP socket `s` to laddr:port (port 0: an ephemeral one) on this
 * worker.  Ports a built-in receiver (udp-echo) holds are in use.  On
 * failure nothing changes. */
static int
udp_port_bind(struct tern_sock *s, uint32_t laddr, uint16_t port)
{
	struct tcp_worker *tw = cur();
	struct tern_sock_table *t = tw->socks;
	const struct tern_dp *dp = sock_dp();
	int rc;

	if (port == 0) {
		for (unsigned i = 0; i < 28232 && port == 0; i++) {
			uint16_t p = t->udp_next++;
			if (t->udp_next < 32768 || t->udp_next >= 60999)
				t->udp_next = 32768;
			if (t->udp_port[p] == 0 && (dp->udp == NULL || dp->udp->receiver[p] == 0))
				port = p;
		}
		if (port == 0)
			return -EADDRNOTAVAIL;
	} else if (dp->udp != NULL && dp->udp->receiver[port] != 0) {
		return -EADDRINUSE;
	} else if ((rc = udp_port_conflict(t, s, laddr, port)) < 0) {
		return rc;
	}
	s->laddr = laddr;
	s->lport = port;
	s->port_next = t->udp_port[port];
	t->udp_port[port] = (uint32_t)(s - t->s) + 1;
	return 0;
}

static void
udp_sock_close(struct tern_sock_table *t, struct tern_sock *s)
{
	uint32_t self = (uint32_t)(s - t->s) + 1;

	if (s->lport != 0) {
		uint32_t *link = &t->udp_port[s->lport];

		while (*link != 0 && *link != self)
			link = &t->s[*link - 1].port_next;
		if (*link == self)
			*link = s->port_next;
	}
	while (s->q_len != 0) {
		rte_pktmbuf_free(s->q[s->q_head]);
		s->q_head = (uint16_t)((s->q_head + 1) % UDP_SOCK_QLEN);
		s->q_len--;
	}
	free(s->q);
	s->q = NULL;
}

/*
 * The socket for a datagram, as Linux chooses: among the sockets bound to
 * its port, those bound to its destination address or to 0.0.0.0, and
 * (when connected) to its source; a specific address before the wildcard.
 * A datagram to a subnet or limited broadcast thus reaches only a
 * wildcard socket.
 */
int
tern_sock_udp_deliver(struct tcp_worker *tw, struct rte_mbuf *m, uint16_t port)
{
	struct tern_sock_table *t = tw->socks;
	const struct rte_ipv4_hdr *ip = rte_pktmbuf_mtod(m, const struct rte_ipv4_hdr *);
	const struct rte_udp_hdr *u =
	    rte_pktmbuf_mtod_offset(m, const struct rte_udp_hdr *, m->l3_len);
	uint32_t dst = ntohl(ip->dst_addr), src = ntohl(ip->src_addr);
	uint16_t sport = ntohs(u->src_port);
	struct tern_sock *s = NULL;

	for (uint32_t i = t->udp_port[port]; i != 0; i = t->s[i - 1].port_next) {
		struct tern_sock *o = &t->s[i - 1];

		if (o->laddr != 0 && o->laddr != dst)
			continue;
		if (o->rport != 0 && (o->raddr != src || o->rport != sport))
			continue;
		if (s == NULL || o->laddr != 0)
			s = o;
	}
	if (s == NULL)
		return -ENOENT;
	if (s->q_len == UDP_SOCK_QLEN) {
		s->q_drops++;
		return -ENOBUFS;
	}
	s->q[(s->q_head + s->q_len) % UDP_SOCK_QLEN] = m;
	s->q_len++;
	if (s->ep >= 0)
		ready_push(t, s);
	return 0;
}

static int
udp_port_check_one(struct tcp_worker *tw, void *arg)
{
	const uint16_t *port = arg;

	return tw->socks != NULL && tw->socks->udp_port[*port] != 0 ? -EADDRINUSE : 0;
}

int
tern_sock_udp_port_check(uint16_t port)
{
	return tcp_on_workers(udp_port_check_one, &port);
}

/*
 * 0.0.0.0/8 and 127.0.0.0/8 mean this host (RFC 1122 3.2.1.3): Linux
 * sends there over its loopback device.  tern has none, and must not put
 * them on a wire (RFC 1812 5.3.7 would have routers drop them), so
 * sendto and connect refuse them with -ENETUNREACH.
 */
static bool
dst_this_host(uint32_t dst)
{
	return (dst >> 24) == 0 || (dst >> 24) == 127;
}

static bool
dst_is_subnet_broadcast(const struct tern_dp *dp, uint32_t dst)
{
	uint32_t idx = ip_fib_lookup(dp, htonl(dst));

	return idx != 0 && dp->nh[idx].type == TERN_NH_BROADCAST;
}

/*
 * Can a datagram go to dst:dport?  Port 0 is -EINVAL, as in Linux.  tern
 * sends neither multicast (no multicast routing or IGMP: -ENETUNREACH;
 * Linux would send it) nor broadcast: the limited broadcast and a subnet's
 * broadcast address are -EACCES, what Linux says to a socket without
 * SO_BROADCAST, which tern does not offer.
 */
static int
udp_dst_check(const struct tern_dp *dp, uint32_t dst, uint16_t dport)
{
	if (dport == 0)
		return -EINVAL;
	if (dst_this_host(dst))
		return -ENETUNREACH;
	if (IN_MULTICAST(dst))
		return -ENETUNREACH;
	if (dst == INADDR_BROADCAST)
		return -EACCES;
	if (dst_is_subnet_broadcast(dp, dst))
		return -EACCES;
	return 0;
}

/* Build and send one datagram from `s` to dst:dport (checked). */
static ssize_t
udp_send(struct tern_sock *s, const void *buf, size_t len, uint32_t dst, uint16_t dport)
{
	struct tcp_worker *tw = cur();
	uint32_t src = s->laddr != 0 ? s->laddr : source_for(sock_dp(), dst);
	struct rte_ipv4_hdr *ip;
	struct rte_udp_hdr *u;
	struct rte_mbuf *m;
	int rc;

	/* Checks before the implicit bind: a refused send binds nothing. */
	if (len > UDP_SOCK_MAX_PAYLOAD)
		return -EMSGSIZE;
	if (src == 0)
		return -ENETUNREACH;
	if (s->lport == 0 && (rc = udp_port_bind(s, 0, 0)) < 0)
		return rc;
	if ((m = rte_pktmbuf_alloc(tw->pool)) == NULL)
		return -ENOBUFS;
	ip = (struct rte_ipv4_hdr *)rte_pktmbuf_append(m,
	                                               (uint16_t)(sizeof(*ip) + sizeof(*u) + len));
	if (ip == NULL) {
		rte_pktmbuf_free(m);
		return -EMSGSIZE;
	}
	u = (struct rte_udp_hdr *)(ip + 1);
	*ip = (struct rte_ipv4_hdr){
		.version_ihl = RTE_IPV4_VHL_DEF,
		.total_length = htons((uint16_t)(sizeof(*ip) + sizeof(*u) + len)),
		.packet_id = htons(tw->ip_id++),
		.time_to_live = TERN_IP_DEFAULT_TTL,
		.next_proto_id = IPPROTO_UDP,
		.src_addr = htonl(src),
		.dst_addr = htonl(dst),
	};
	u->src_port = htons(s->lport);
	u->dst_port = htons(dport);
	u->dgram_len = htons((uint16_t)(sizeof(*u) + len));
	u->dgram_cksum = 0;
	memcpy(u + 1, buf, len);
	u->dgram_cksum = rte_ipv4_udptcp_cksum(ip, u);
	ip->hdr_checksum = rte_ipv4_cksum(ip);
	rc = tcp_worker_send(tw, m);
	return rc < 0 ? rc : (ssize_t)len;
}

ssize_t
tern_sendto(int fd, const void *buf, size_t len, const struct sockaddr_in *to)
{
	struct tern_sock *s = sock_get(fd);
	uint32_t dst;
	int rc;

	if (s == NULL)
		return -EBADF;
	if (s->type != SOCK_DGRAM)
		return to == NULL ? tern_send(fd, buf, len) : -EISCONN;
	if (to == NULL) {
		if (s->rport == 0)
			return -EDESTADDRREQ;
		return udp_send(s, buf, len, s->raddr, s->rport);
	}
	if (to->sin_family != AF_INET)
		return -EAFNOSUPPORT;
	dst = ntohl(to->sin_addr.s_addr);
	if ((rc = udp_dst_check(sock_dp(), dst, ntohs(to->sin_port))) < 0)
		return rc;
	return udp_send(s, buf, len, dst, ntohs(to->sin_port));
}

ssize_t
tern_recvfrom(int fd, void *buf, size_t len, struct sockaddr_in *from)
{
	struct tern_sock *s = sock_get(fd);
	const struct rte_ipv4_hdr *ip;
	const struct rte_udp_hdr *u;
	struct rte_mbuf *m;
	uint32_t plen, n;

	if (s == NULL)
		return -EBADF;
	if (s->type != SOCK_DGRAM) {
		if (from != NULL && tern_getpeername(fd, from) < 0)
			memset(from, 0, sizeof(*from));
		return tern_recv(fd, buf, len);
	}
	if (s->q_len == 0)
		return -EAGAIN;
	m = s->q[s->q_head];
	s->q_head = (uint16_t)((s->q_head + 1) % UDP_SOCK_QLEN);
	s->q_len--;
	ip = rte_pktmbuf_mtod(m, const struct rte_ipv4_hdr *);
	u = rte_pktmbuf_mtod_offset(m, const struct rte_udp_hdr *, m->l3_len);
	plen = ntohs(u->dgram_len) - (uint32_t)sizeof(*u);
	/* As with BSD sockets, what does not fit is lost. */
	n = plen < len ? plen : (uint32_t)len;
	{
		const void *p = rte_pktmbuf_read(m, m->l3_len + sizeof(*u), n, buf);
		if (p != NULL && p != buf)
			memcpy(buf, p, n);
	}
	if (from != NULL) {
		memset(from, 0, sizeof(*from));
		from->sin_family = AF_INET;
		from->sin_addr.s_addr = ip->src_addr;
		from->sin_port = u->src_port;
	}
	rte_pktmbuf_free(m);
	return n;
}

int
tern_socket(int type)
{
	struct tcp_worker *tw = cur();
	struct tern_sock *s;

	if (tw == NULL)
		return -EPERM; /* not on a worker */
	if (type != SOCK_STREAM && type != SOCK_DGRAM)
		return -EPROTONOSUPPORT;
	if ((s = sock_alloc(tw->socks, type)) == NULL)
		return -EMFILE;
	if (type == SOCK_DGRAM && (s->q = calloc(UDP_SOCK_QLEN, sizeof(*s->q))) == NULL) {
		sock_free(tw->socks, s);
		return -ENOMEM;
	}
	return sock_fd(tw->socks, s);
}

int
tern_bind(int fd, const struct sockaddr_in *a)
{
	struct tern_sock *s = sock_get(fd);
	uint32_t laddr;

	if (s == NULL)
		return -EBADF;
	if (a == NULL || a->sin_family != AF_INET)
		return -EAFNOSUPPORT;
	if (s->c != NULL || s->lport != 0)
		return -EINVAL;
	laddr = ntohl(a->sin_addr.s_addr);
	/* As Linux: 0.0.0.0 or an address of ours, as the datapath sees them
	 * (a subnet broadcast or multicast address is not one). */
	if (laddr != 0 && !ip_route_is_local_unicast(sock_dp(), a->sin_addr.s_addr))
		return -EADDRNOTAVAIL;
	if (s->type == SOCK_DGRAM)
		return udp_port_bind(s, laddr, ntohs(a->sin_port));
	s->laddr = laddr;
	s->lport = ntohs(a->sin_port);
	return 0;
}

static void
apply_opts(struct tern_sock *s)
{
	for (unsigned o = 0; o < NB_TCP_OPTS; o++)
		if (s->opt_set & (1u << o))
			tcp_setopt(s->c, (enum tcp_sockopt)o, s->opt_val[o]);
}

int
tern_listen(int fd, int backlog)
{
	struct tern_sock *s = sock_get(fd);
	int rc;

	if (s == NULL)
		return -EBADF;
	if (s->listening)
		return 0;
	if (s->c != NULL)
		return -EISCONN;
	if (s->lport == 0)
		return -EDESTADDRREQ;
	if ((rc = tcp_listen(cur()->st, s->laddr, s->lport, backlog, &s->c)) < 0)
		return rc;
	s->listening = true;
	tcp_conn_set_user(s->c, s);
	apply_opts(s);
	return 0;
}

int
tern_accept(int fd, struct sockaddr_in *peer)
{
	struct tern_sock *l = sock_get(fd), *s;
	struct tcp_conn *c;

	if (l == NULL)
		return -EBADF;
	if (!l->listening)
		return -EINVAL;
	if (l->c->aq_head == NULL)
		return -EAGAIN;
	if ((s = sock_alloc(cur()->socks, SOCK_STREAM)) == NULL)
		return -EMFILE; /* it stays queued */
	c = tcp_accept(l->c);
	s->c = c;
	s->laddr = c->t.laddr;
	s->lport = c->t.lport;
	tcp_conn_set_user(c, s);
	if (peer != NULL) {
		memset(peer, 0, sizeof(*peer));
		peer->sin_family = AF_INET;
		peer->sin_addr.s_addr = htonl(c->t.raddr);
		peer->sin_port = htons(c->t.rport);
	}
	return sock_fd(cur()->socks, s);
}

/* The source address towards `dst`: the first address of the egress port. */
static uint32_t
source_for(const struct tern_dp *dp, uint32_t dst)
{
	uint32_t idx = ip_fib_lookup(dp, htonl(dst));

	if (idx == 0)
		return 0;
	return ntohl(dp->port[dp->nh[idx].port].ip4);
}

int
tern_connect(int fd, const struct sockaddr_in *a)
{
	struct tern_sock *s = sock_get(fd);
	struct tcp_worker *tw = cur();
	const struct tern_dp *dp;
	uint32_t laddr, raddr;
	int rc;

	if (s == NULL)
		return -EBADF;
	if (a == NULL || a->sin_family != AF_INET)
		return -EAFNOSUPPORT;
	if (s->type == SOCK_DGRAM) {
		/* UDP: remember the peer; sends go there, only it is heard.
		 * rport 0 means "not connected", so port 0 is refused here
		 * as sendto refuses it (Linux would accept the connect). */
		dp = sock_dp();
		raddr = ntohl(a->sin_addr.s_addr);
		if ((rc = udp_dst_check(dp, raddr, ntohs(a->sin_port))) < 0)
			return rc;
		/* As Linux (ip4_datagram_connect): the route fixes the local
		 * address of a socket bound to none, as getsockname shows,
		 * and no route is -ENETUNREACH now rather than at send. */
		laddr = s->laddr != 0 ? s->laddr : source_for(dp, raddr);
		if (laddr == 0)
			return -ENETUNREACH;
		if (s->lport == 0 && (rc = udp_port_bind(s, laddr, 0)) < 0)
			return rc;
		s->laddr = laddr;
		s->raddr = raddr;
		s->rport = ntohs(a->sin_port);
		return 0;
	}
	if (s->listening)
		return -EINVAL;
	if (s->c != NULL)
		return s->c->state == TCP_SYN_SENT ? -EALREADY : -EISCONN;
	dp = sock_dp();
	raddr = ntohl(a->sin_addr.s_addr);
	/* As Linux's tcp_v4_connect: no connection to a multicast or
	 * broadcast address; nor to this host, having no loopback. */
	if (dst_this_host(raddr) || IN_MULTICAST(raddr) || raddr == INADDR_BROADCAST ||
	    dst_is_subnet_broadcast(dp, raddr))
		return -ENETUNREACH;
	laddr = s->laddr != 0 ? s->laddr : source_for(dp, raddr);
	if (laddr == 0)
		return -ENETUNREACH;
	if ((rc = tcp_conn_new(tw->st, &s->c)) < 0)
		return rc;
	apply_opts(s); /* before the SYN: it announces the buffer's window scale */
	rc = tcp_conn_connect(s->c, laddr, s->lport, raddr, ntohs(a->sin_port));
	if (rc < 0) {
		tcp_close(s->c);
		s->c = NULL;
		return rc;
	}
	tcp_conn_set_user(s->c, s);
	return -EINPROGRESS;
}

ssize_t
tern_send(int fd, const void *buf, size_t len)
{
	struct tern_sock *s = sock_get(fd);

	if (s == NULL)
		return -EBADF;
	if (s->type == SOCK_DGRAM)
		return tern_sendto(fd, buf, len, NULL);
	if (s->c == NULL || s->listening)
		return -ENOTCONN;
	if (s->c->state == TCP_SYN_SENT)
		return -EAGAIN;
	return tcp_send(s->c, buf, len);
}

ssize_t
tern_recv(int fd, void *buf, size_t len)
{
	struct tern_sock *s = sock_get(fd);

	if (s == NULL)
		return -EBADF;
	if (s->type == SOCK_DGRAM)
		return tern_recvfrom(fd, buf, len, NULL);
	if (s->c == NULL || s->listening)
		return -ENOTCONN;
	return tcp_recv(s->c, buf, len);
}

int
tern_shutdown(int fd, int how)
{
	struct tern_sock *s = sock_get(fd);

	if (s == NULL)
		return -EBADF;
	if (how < SHUT_RD || how > SHUT_RDWR)
		return -EINVAL;
	if (s->c == NULL)
		return -ENOTCONN;
	return tcp_shutdown(s->c, how);
}

int
tern_close(int fd)
{
	struct tern_sock *s = sock_get(fd);

	if (s == NULL)
		return -EBADF;
	if (s->type == SOCK_DGRAM)
		udp_sock_close(cur()->socks, s);
	if (s->c != NULL) {
		tcp_conn_set_user(s->c, NULL);
		tcp_close(s->c);
	}
	sock_free(cur()->socks, s);
	return 0;
}

/* (level, name) -> the core's option; -ENOPROTOOPT for the rest. */
static int
map_opt(int level, int name)
{
	if (level == SOL_SOCKET) {
		switch (name) {
		case SO_KEEPALIVE:
			return TCP_SO_KEEPALIVE;
		case SO_RCVBUF:
			return TCP_SO_RCVBUF;
		case SO_SNDBUF:
			return TCP_SO_SNDBUF;
		case SO_LINGER:
			return TCP_SO_LINGER;
		case SO_REUSEADDR:
			return TCP_SO_REUSEADDR;
		}
	} else if (level == IPPROTO_TCP) {
		switch (name) {
		case TCP_NODELAY:
			return TCP_SO_NODELAY;
		case TCP_KEEPIDLE:
			return TCP_SO_KEEPIDLE;
		case TCP_KEEPINTVL:
			return TCP_SO_KEEPINTVL;
		case TCP_KEEPCNT:
			return TCP_SO_KEEPCNT;
		case TCP_MAXSEG:
			return TCP_SO_MAXSEG;
		case TCP_CONGESTION:
			return TCP_SO_CONGESTION;
		}
	}
	return -ENOPROTOOPT;
}

int
tern_setsockopt(int fd, int level, int name, const void *val, socklen_t len)
{
	struct tern_sock *s = sock_get(fd);
	int o = map_opt(level, name), v;

	if (s == NULL)
		return -EBADF;
	if (o < 0)
		return o;
	if (val == NULL)
		return -EFAULT;
	if (o == TCP_SO_LINGER) {
		const struct linger *l = val;
		if (len < sizeof(*l))
			return -EINVAL;
		v = l->l_onoff ? l->l_linger : -1;
	} else if (o == TCP_SO_CONGESTION) {
		if (len >= 4 && strncmp(val, "reno", len) == 0)
			v = TCP_CC_RENO;
		else if (len >= 5 && strncmp(val, "cubic", len) == 0)
			v = TCP_CC_CUBIC;
		else
			return -ENOENT;
	} else {
		if (len < sizeof(int))
			return -EINVAL;
		memcpy(&v, val, sizeof(v));
		if (o == TCP_SO_KEEPALIVE || o == TCP_SO_NODELAY || o == TCP_SO_REUSEADDR)
			v = v != 0;
	}
	if (s->c != NULL)
		return tcp_setopt(s->c, (enum tcp_sockopt)o, v);
	/* No connection yet: check it on a scratch block, keep it for later. */
	s->opt_set |= (uint16_t)(1u << o);
	s->opt_val[o] = v;
	return 0;
}

int
tern_getsockopt(int fd, int level, int name, void *val, socklen_t *len)
{
	struct tern_sock *s = sock_get(fd);
	int o = map_opt(level, name), v;

	if (s == NULL)
		return -EBADF;
	if (level == SOL_SOCKET && name == SO_ERROR) {
		/* The error that ended the connection (a failed connect above
		 * all), as BSD sockets report it. */
		if (val == NULL || len == NULL || *len < sizeof(int))
			return -EINVAL;
		v = s->c != NULL ? tcp_conn_error(s->c) : 0;
		memcpy(val, &v, sizeof(v));
		*len = sizeof(v);
		return 0;
	}
	if (o < 0)
		return o;
	if (val == NULL || len == NULL || *len < sizeof(int))
		return -EINVAL;
	if (s->c != NULL) {
		int rc = tcp_getopt(s->c, (enum tcp_sockopt)o, &v);
		if (rc < 0)
			return rc;
	} else if (s->opt_set & (1u << o)) {
		v = s->opt_val[o];
	} else {
		v = 0;
	}
	if (o == TCP_SO_CONGESTION) {
		const char *n = v == TCP_CC_RENO ? "reno" : "cubic";
		size_t l = strlen(n) + 1;
		if (*len < l)
			return -EINVAL;
		memcpy(val, n, l);
		*len = (socklen_t)l;
		return 0;
	}
	memcpy(val, &v, sizeof(v));
	*len = sizeof(v);
	return 0;
}

static int
sockname(int fd, struct sockaddr_in *a, bool peer)
{
	struct tern_sock *s = sock_get(fd);

	if (s == NULL)
		return -EBADF;
	if (a == NULL)
		return -EFAULT;
	memset(a, 0, sizeof(*a));
	a->sin_family = AF_INET;
	if (peer && s->type == SOCK_DGRAM) {
		if (s->rport == 0)
			return -ENOTCONN;
		a->sin_addr.s_addr = htonl(s->raddr);
		a->sin_port = htons(s->rport);
		return 0;
	}
	if (peer) {
		if (s->c == NULL || s->listening)
			return -ENOTCONN;
		a->sin_addr.s_addr = htonl(s->c->t.raddr);
		a->sin_port = htons(s->c->t.rport);
		return 0;
	}
	a->sin_addr.s_addr = htonl(s->c != NULL ? s->c->t.laddr : s->laddr);
	a->sin_port = htons(s->c != NULL ? s->c->t.lport : s->lport);
	return 0;
}

int
tern_getsockname(int fd, struct sockaddr_in *a)
{
	return sockname(fd, a, false);
}

int
tern_getpeername(int fd, struct sockaddr_in *a)
{
	return sockname(fd, a, true);
}

static struct tern_ep *
ep_get(int epfd)
{
	struct tcp_worker *tw = cur();
	uint32_t slot;

	if (tw == NULL || epfd < 0 || ((unsigned)epfd >> FD_SHIFT) != tw->w->id)
		return NULL;
	slot = (unsigned)epfd & (FD_SLOTS - 1);
	if (slot < EP_BASE || !tw->socks->ep[slot - EP_BASE].used)
		return NULL;
	return &tw->socks->ep[slot - EP_BASE];
}

int
tern_epoll_create(void)
{
	struct tcp_worker *tw = cur();
	struct tern_sock_table *t;

	if (tw == NULL)
		return -EPERM;
	t = tw->socks;
	for (unsigned i = 0; i < TERN_MAX_EPOLL; i++) {
		struct tern_ep *ep = &t->ep[i];
		if (ep->used)
			continue;
		if (ep->rq == NULL && (ep->rq = calloc(t->size, sizeof(*ep->rq))) == NULL)
			return -ENOMEM;
		ep->used = true;
		ep->head = ep->len = 0;
		return (int)(tw->w->id << FD_SHIFT | (EP_BASE + i));
	}
	return -EMFILE;
}

/* Call fn on every socket of set `ep`. */
static void
ep_members(struct tern_sock_table *t, const struct tern_ep *ep,
           void (*fn)(struct tern_sock_table *t, struct tern_sock *s))
{
	for (uint32_t i = 0; i < t->size; i++)
		if (t->s[i].type != 0 && t->s[i].ep == ep - t->ep)
			fn(t, &t->s[i]);
}

static void
member_leave(struct tern_sock_table *t, struct tern_sock *s)
{
	(void)t;
	sock_ep_leave(s);
}

static void
member_close(struct tern_sock_table *t, struct tern_sock *s)
{
	tern_close(sock_fd(t, s));
}

int
tern_epoll_close(int epfd)
{
	struct tern_ep *ep = ep_get(epfd);
	struct tern_sock_table *t;

	if (ep == NULL)
		return -EBADF;
	t = cur()->socks;
	ep_members(t, ep, member_leave);
	ep->used = false;
	ep->len = 0;
	return 0;
}

int
tern_epoll_close_members(int epfd)
{
	struct tern_ep *ep = ep_get(epfd);
	struct tern_sock_table *t;

	if (ep == NULL)
		return -EBADF;
	t = cur()->socks;
	ep_members(t, ep, member_close);
	return 0;
}

int
tern_epoll_ctl(int epfd, int op, int fd, uint32_t events, uint64_t data)
{
	struct tern_ep *ep = ep_get(epfd);
	struct tern_sock *s = sock_get(fd);
	int idx;

	if (ep == NULL || s == NULL)
		return -EBADF;
	idx = (int)(ep - cur()->socks->ep);
	switch (op) {
	case EPOLL_CTL_ADD:
		if (s->ep >= 0)
			return -EEXIST; /* one set per socket */
		s->ep = (int8_t)idx;
		break;
	case EPOLL_CTL_MOD:
		if (s->ep != idx)
			return -ENOENT;
		break;
	case EPOLL_CTL_DEL:
		if (s->ep != idx)
			return -ENOENT;
		sock_ep_leave(s);
		return 0;
	default:
		return -EINVAL;
	}
	s->ev_mask = events | EPOLLERR | EPOLLHUP;
	s->ev_data = data;
	/* Level-triggered: what is ready already is reported at once. */
	if (sock_poll(s) & s->ev_mask)
		ready_push(cur()->socks, s);
	return 0;
}

int
tern_epoll_wait(int epfd, struct tern_event *ev, int max)
{
	struct tern_ep *ep = ep_get(epfd);
	struct tern_sock_table *t;
	int n = 0;

	if (ep == NULL)
		return -EBADF;
	t = cur()->socks;
	for (uint32_t todo = ep->len; todo > 0 && n < max; todo--) {
		uint64_t e = ep->rq[ep->head];
		struct tern_sock *s = &t->s[(uint32_t)e];
		uint32_t ready;

		ep->head = (ep->head + 1) % t->size;
		ep->len--;
		if (s->gen != (uint32_t)(e >> 32))
			continue; /* it left the set since */
		s->in_ready = false;
		ready = sock_poll(s) & s->ev_mask;
		if (ready == 0)
			continue;
		ev[n].events = ready;
		ev[n].data = s->ev_data;
		n++;
		ready_push(t, s); /* still ready next time unless it changes */
	}
	return n;
}

/* UDP: SIOCINQ (FIONREAD) is the next datagram's size, as in Linux, not
 * the bytes of all of them; nothing waits to be sent. */
static int
udp_ioctl(const struct tern_sock *s, unsigned long req, int *val)
{
	switch (req) {
	case SIOCINQ:
		if (s->q_len == 0) {
			*val = 0;
		} else {
			const struct rte_mbuf *m = s->q[s->q_head];
			const struct rte_udp_hdr *u =
			    rte_pktmbuf_mtod_offset(m, const struct rte_udp_hdr *, m->l3_len);
			*val = ntohs(u->dgram_len) - (int)sizeof(*u);
		}
		return 0;
	case SIOCOUTQ:
		*val = 0;
		return 0;
	case TERN_SIOCOUTSPACE:
		*val = UDP_SOCK_MAX_PAYLOAD;
		return 0;
	}
	return -ENOTTY;
}

int
tern_ioctl(int fd, unsigned long req, int *val)
{
	struct tern_sock *s = sock_get(fd);

	if (s == NULL)
		return -EBADF;
	if (val == NULL)
		return -EFAULT;
	if (s->type == SOCK_DGRAM)
		return udp_ioctl(s, req, val);
	if (s->c == NULL || s->listening)
		return -ENOTCONN;
	switch (req) {
	case SIOCINQ:
		*val = (int)tcp_conn_readable(s->c);
		return 0;
	case SIOCOUTQ:
		*val = (int)s->c->snd.len;
		return 0;
	case TERN_SIOCOUTSPACE:
		*val = (int)tcp_conn_writable(s->c);
		return 0;
	}
	return -ENOTTY;
}

unsigned
tern_worker_index(void)
{
	struct tcp_worker *tw = cur();

	return tw != NULL ? tw->w->id : 0;
}

uint64_t
tern_now_ms_worker(void)
{
	struct tcp_worker *tw = cur();

	return tw != NULL ? tw->w->now_ms : 0;
}

/* ---- Applications ---- */

struct app_call {
	const struct tern_app_ops *ops;
	const void *cfg;
	uint32_t gen;
};

static int
app_start_one(struct tcp_worker *tw, void *arg)
{
	const struct app_call *a = arg;
	struct tcp_worker *prev;
	void *state;
	int rc;

	if (tw->napps == TCP_MAX_APPS)
		return -ENOSPC;
	if ((state = calloc(1, a->ops->state_size ? a->ops->state_size : 1)) == NULL)
		return -ENOMEM;
	prev = tern_sock_enter(tw);
	rc = a->ops->start(state, a->cfg);
	tern_sock_enter(prev);
	if (rc < 0) {
		free(state);
		return rc;
	}
	tw->app[tw->napps++] = (struct tcp_app){ a->ops, state, a->gen };
	return 0;
}

/* Stop and forget tw->app[i]. */
static void
app_stop_at(struct tcp_worker *tw, unsigned i)
{
	struct tcp_worker *prev = tern_sock_enter(tw);

	tw->app[i].ops->stop(tw->app[i].state);
	tern_sock_enter(prev);
	free(tw->app[i].state);
	tw->app[i] = tw->app[--tw->napps];
}

/* Undo one tern_app_start() call where it got to: its own instances only,
 * never an older one with the same ops. */
static int
app_undo_one(struct tcp_worker *tw, void *arg)
{
	const struct app_call *a = arg;

	for (unsigned i = 0; i < tw->napps; i++)
		if (tw->app[i].gen == a->gen) {
			app_stop_at(tw, i);
			break;
		}
	return 0;
}

static int
app_stop_one(struct tcp_worker *tw, void *arg)
{
	const struct tern_app_ops *ops = arg;

	for (unsigned i = 0; i < tw->napps; i++) {
		if (tw->app[i].ops == ops) {
			app_stop_at(tw, i);
			return 0;
		}
	}
	return 0; /* not running here: nothing to do */
}

bool
tern_app_running(const struct tern_app_ops *ops)
{
	struct tcp_worker *tw = tcp_worker_by_index(0);

	if (tw == NULL)
		return false;
	for (unsigned i = 0; i < tw->napps; i++)
		if (tw->app[i].ops == ops)
			return true;
	return false;
}

int
tern_app_start(const struct tern_app_ops *ops, const void *cfg)
{
	static uint32_t gen; /* control thread only */
	struct app_call a = { ops, cfg, ++gen };
	int rc = tcp_on_workers(app_start_one, &a);

	if (rc < 0)
		tcp_on_workers(app_undo_one, &a);
	return rc;
}

int
tern_app_stop(const struct tern_app_ops *ops)
{
	return tcp_on_workers(app_stop_one, (void *)(uintptr_t)ops);
}
