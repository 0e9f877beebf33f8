/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Per-worker TCP contexts: creation at boot, the core's output hook (build
 * an IPv4 segment in an mbuf and queue it for ip_output), segment parsing
 * for tcp_input, connection ownership, and running code on every worker.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <rte_ip.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_tcp.h>
#include <rte_thash.h>

#include "core/ctl.h"
#include "core/drop.h"
#include "core/init.h"
#include "core/log.h"
#include "ip/ip_priv.h"
#include "tcp/socket_priv.h"
#include "tcp/tcp_node.h"
#include "tcp/tcp_priv.h"
#include "tcp/tcp_worker.h"

#define TCP_POOL_MBUFS 16383

/* Control thread state, and tables written at init then read-only. */
static int mod_id = -1;
static struct tcp_cfg global_cfg;
static bool global_cfg_set;
static struct tcp_worker *by_index[TERN_MAX_WORKERS];
static unsigned nb_tcp_workers;

struct tcp_cfg *
tcp_global_cfg(void)
{
	if (!global_cfg_set) {
		tcp_cfg_default(&global_cfg);
		global_cfg_set = true;
	}
	return &global_cfg;
}

struct tcp_worker *
tcp_worker_of(const struct tern_worker *w)
{
	return mod_id >= 0 ? w->mod[mod_id] : NULL;
}

unsigned
tcp_nb_workers(void)
{
	return nb_tcp_workers;
}

struct tcp_worker *
tcp_worker_by_index(unsigned i)
{
	return i < nb_tcp_workers ? by_index[i] : NULL;
}

uint32_t
tcp_rss_hash(const struct tern_rss *r, const struct tcp_tuple *t)
{
	/* The NIC hashes what arrives: the peer is the source. */
	struct rte_ipv4_tuple in = {
		.src_addr = t->raddr, .dst_addr = t->laddr, .sport = t->rport, .dport = t->lport
	};

	return rte_softrss((uint32_t *)&in, RTE_THASH_V4_L4_LEN, r->key);
}

unsigned
tcp_owner(const struct tern_dp *dp, uint16_t port, const struct tcp_tuple *t)
{
	const struct tern_rss *r;
	uint32_t h;

	if (nb_tcp_workers <= 1)
		return 0;
	/* RSS we programmed hashes the ports too: the flow's queue, hence
	 * its worker, is known (queue q belongs to worker q % workers). */
	r = port < RTE_MAX_ETHPORTS ? dp->port[port].rss : NULL;
	if (r != NULL && r->known && r->l4)
		return r->reta[tcp_rss_hash(r, t) % r->reta_size] % nb_tcp_workers;
	/* Otherwise any deterministic function will do; murmur3's finaliser
	 * so every input bit (the local port above all) reaches the low bits. */
	h = t->laddr ^ (t->raddr * 0x9e3779b1u) ^ ((uint32_t)t->lport << 16 | t->rport);
	h ^= h >> 16;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	h *= 0xc2b2ae35u;
	h ^= h >> 16;
	return h % nb_tcp_workers;
}

/* Active opens: a local port whose tuple this worker owns. */
static bool
port_ok(void *ctx, const struct tcp_tuple *t)
{
	const struct tcp_worker *tw = ctx;
	const struct tern_dp *dp = tern_worker_dp(tw->w);
	uint32_t nh = ip_fib_lookup(dp, rte_cpu_to_be_32(t->raddr));

	return tcp_owner(dp, nh != 0 ? dp->nh[nh].port : TERN_PORT_NONE, t) == tw->w->id;
}

/* The output hook: one segment -> one mbuf, routed, queued for ip_output. */
static int
tcp_out(void *ctx, const struct tcp_out *o)
{
	struct tcp_worker *tw = ctx;
	unsigned hlen = sizeof(struct rte_ipv4_hdr) + sizeof(struct rte_tcp_hdr) + o->optlen;
	struct rte_ipv4_hdr *ip;
	struct rte_tcp_hdr *th;
	struct rte_mbuf *m;

	if (tw->npending == TCP_PENDING_MAX) {
		tw->out_overflow++;
		return -ENOBUFS;
	}
	m = rte_pktmbuf_alloc(tw->pool);
	if (m == NULL) {
		tw->out_nombuf++;
		return -ENOBUFS;
	}
	ip = (struct rte_ipv4_hdr *)rte_pktmbuf_append(m, (uint16_t)(hlen + o->len));
	if (ip == NULL) {
		rte_pktmbuf_free(m);
		tw->out_nombuf++;
		return -EMSGSIZE;
	}
	th = (struct rte_tcp_hdr *)(ip + 1);
	ip->version_ihl = RTE_IPV4_VHL_DEF;
	ip->type_of_service = 0;
	ip->total_length = rte_cpu_to_be_16((uint16_t)(hlen + o->len));
	ip->packet_id = rte_cpu_to_be_16(tw->ip_id++);
	ip->fragment_offset = 0;
	ip->time_to_live = TERN_IP_DEFAULT_TTL;
	ip->next_proto_id = IPPROTO_TCP;
	ip->src_addr = rte_cpu_to_be_32(o->t.laddr);
	ip->dst_addr = rte_cpu_to_be_32(o->t.raddr);
	th->src_port = rte_cpu_to_be_16(o->t.lport);
	th->dst_port = rte_cpu_to_be_16(o->t.rport);
	th->sent_seq = rte_cpu_to_be_32(o->seq);
	th->recv_ack = rte_cpu_to_be_32(o->ack);
	th->data_off = (uint8_t)(((sizeof(*th) + o->optlen) / 4) << 4);
	th->tcp_flags = o->flags;
	th->rx_win = rte_cpu_to_be_16(o->wnd);
	th->tcp_urp = 0;
	memcpy(th + 1, o->opt, o->optlen);
	tcp_out_copy(o, (uint8_t *)(th + 1) + o->optlen);
	th->cksum = 0;
	ip->hdr_checksum = 0;
	th->cksum = rte_ipv4_udptcp_cksum(ip, th);
	ip->hdr_checksum = rte_ipv4_cksum(ip);
	return tcp_worker_send(tw, m);
}

int
tcp_worker_send(struct tcp_worker *tw, struct rte_mbuf *m)
{
	const struct rte_ipv4_hdr *ip = rte_pktmbuf_mtod(m, const struct rte_ipv4_hdr *);
	const struct tern_dp *dp = tern_worker_dp(tw->w);
	uint8_t t;

	/* At shutdown the apps close their sockets (RSTs, FINs) after the
	 * workers have stopped, and maybe after the FIB is gone: none could
	 * be sent anyway. */
	if (unlikely(tw->closing)) {
		rte_pktmbuf_free(m);
		return -ESHUTDOWN;
	}
	if (tw->npending == TCP_PENDING_MAX) {
		rte_pktmbuf_free(m);
		tw->out_overflow++;
		return -ENOBUFS;
	}
	t = ip_route(dp, m, ip->dst_addr);
	if (t != TERN_NH_CONNECTED && t != TERN_NH_GATEWAY) {
		rte_pktmbuf_free(m);
		tw->out_noroute++;
		return -EHOSTUNREACH;
	}
	tw->pending[tw->npending++] = m;
	return 0;
}

static void
tcp_ev(void *ctx, struct tcp_conn *c, unsigned ev)
{
	tern_sock_event(ctx, c, ev);
}

static const struct tcp_ops worker_ops = { .output = tcp_out, .event = tcp_ev };

/* struct tcp_seg's walk of a payload in an mbuf chain: the next mbuf's
 * data. */
static const void *
mbuf_piece(const void **chain, uint32_t *n)
{
	const struct rte_mbuf *m = *chain;

	if (m == NULL)
		return NULL;
	*chain = m->next;
	*n = m->data_len;
	return rte_pktmbuf_mtod(m, const void *);
}

int
tcp_segment_in(struct tcp_worker *tw, struct rte_mbuf *m, bool handed_over, unsigned *owner)
{
	const struct rte_ipv4_hdr *ip = rte_pktmbuf_mtod(m, const struct rte_ipv4_hdr *);
	uint32_t l3 = m->l3_len, plen = rte_pktmbuf_pkt_len(m) - l3, off, skip;
	const struct rte_tcp_hdr *th;
	struct tcp_seg s;
	struct rte_mbuf *seg;
	int rc;

	if (unlikely(plen < sizeof(*th) || rte_pktmbuf_data_len(m) < l3 + sizeof(*th)))
		return TCP_INPUT_NEXT_RUNT;
	th = rte_pktmbuf_mtod_offset(m, const struct rte_tcp_hdr *, l3);
	off = (uint32_t)(th->data_off >> 4) * 4;
	if (unlikely(off < sizeof(*th) || off > plen || rte_pktmbuf_data_len(m) < l3 + off))
		return TCP_INPUT_NEXT_OFFSET;
	if (!handed_over && !(m->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_GOOD) &&
	    unlikely(rte_ipv4_udptcp_cksum_mbuf_verify(m, ip, (uint16_t)l3) != 0))
		return TCP_INPUT_NEXT_CHECKSUM;
	if (unlikely((th->tcp_flags & TCP_F_SYN) && (th->tcp_flags & (TCP_F_FIN | TCP_F_RST))))
		return TCP_INPUT_NEXT_FLAGS;
	s.t.laddr = rte_be_to_cpu_32(ip->dst_addr);
	s.t.raddr = rte_be_to_cpu_32(ip->src_addr);
	s.t.lport = rte_be_to_cpu_16(th->dst_port);
	s.t.rport = rte_be_to_cpu_16(th->src_port);
	if (unlikely(tcp_opts_parse((const uint8_t *)(th + 1), off - sizeof(*th), &s.o) < 0))
		return TCP_INPUT_NEXT_OPTIONS;
	/* Owned elsewhere: an active open whose return traffic landed here. */
	if (!handed_over && nb_tcp_workers > 1) {
		*owner = tcp_owner(tw->w->dp, m->port, &s.t);
		if (*owner != tw->w->id &&
		    !(th->tcp_flags & TCP_F_SYN && !(th->tcp_flags & TCP_F_ACK)) &&
		    tcp_conn_lookup(tw->st, &s.t) == NULL)
			return TCP_INPUT_HAND_OFF;
	}
	s.seq = rte_be_to_cpu_32(th->sent_seq);
	s.ack = rte_be_to_cpu_32(th->recv_ack);
	s.wnd = rte_be_to_cpu_16(th->rx_win);
	s.flags = th->tcp_flags;
	s.len = plen - off;
	/* The payload starts in the mbuf holding its first byte; the core
	 * walks the rest of the chain itself, whatever its length. */
	skip = l3 + off;
	for (seg = m; seg != NULL && skip >= seg->data_len; seg = seg->next)
		skip -= seg->data_len;
	s.data = seg != NULL ? rte_pktmbuf_mtod_offset(seg, const uint8_t *, skip) : NULL;
	s.dlen = seg != NULL ? seg->data_len - skip : 0;
	s.chain = seg != NULL ? seg->next : NULL;
	s.next = mbuf_piece;
	rc = tcp_input(tw->st, &s, tw->w->now_ms);
	if (rc == -ENOENT)
		return TCP_INPUT_NEXT_NO_CONN;
	if (rc < 0)
		return TCP_INPUT_NEXT_REFUSED;
	return TCP_INPUT_CONSUMED;
}

struct rte_ring *
tcp_handoff_ring(unsigned owner)
{
	return by_index[owner]->handoff;
}

static int
tcp_worker_create(struct tern_worker *w, const uint8_t key[16])
{
	int socket = (int)rte_lcore_to_socket_id(w->lcore);
	char name[RTE_MEMPOOL_NAMESIZE];
	struct tcp_worker *tw;
	int rc;

	tw = rte_zmalloc_socket("tcp_worker", sizeof(*tw), RTE_CACHE_LINE_SIZE, socket);
	if (tw == NULL)
		return -ENOMEM;
	tw->w = w;
	snprintf(name, sizeof(name), "tern_tcp%u", w->id);
	tw->pool = rte_pktmbuf_pool_create(name, TCP_POOL_MBUFS, RTE_MEMPOOL_CACHE_MAX_SIZE,
	                                   sizeof(struct tern_mbuf_priv), RTE_MBUF_DEFAULT_BUF_SIZE,
	                                   socket);
	if (tw->pool == NULL) {
		rte_free(tw);
		return -rte_errno;
	}
	if ((rc = tern_mempool_track(tw->pool)) < 0) {
		rte_mempool_free(tw->pool);
		rte_free(tw);
		return rc;
	}
	snprintf(name, sizeof(name), "tern_tcp_ho%u", w->id);
	tw->handoff = rte_ring_create(name, TCP_HANDOFF_RING, socket, RING_F_SC_DEQ);
	tw->st = tcp_stack_create(tcp_global_cfg(), &worker_ops, tw, &w->wheel, key);
	tw->socks = tern_sock_table_create(tw);
	if (tw->handoff == NULL || tw->st == NULL || tw->socks == NULL) {
		rte_ring_free(tw->handoff);
		tcp_stack_destroy(tw->st);
		tern_sock_table_destroy(tw->socks);
		rte_free(tw);
		return -ENOMEM;
	}
	tcp_stack_set_port_filter(tw->st, port_ok);
	w->mod[mod_id] = tw;
	by_index[w->id] = tw;
	nb_tcp_workers = w->id + 1 > nb_tcp_workers ? w->id + 1 : nb_tcp_workers;
	return 0;
}

static int
tcp_init(void)
{
	uint8_t key[16];
	int rc;

	if ((mod_id = tern_worker_mod_id()) < 0)
		return mod_id;
	/* RFC 6528: a secret key, random at boot. */
	if (getrandom(key, sizeof(key), 0) != sizeof(key))
		return -EIO;
	for (unsigned i = 0; i < tern_ctl.nb_workers; i++)
		if ((rc = tcp_worker_create(tern_ctl.worker[i], key)) < 0) {
			LOG_ERR("tcp: worker %u: %s", i, strerror(-rc));
			return rc;
		}
	return ip_local_register(IPPROTO_TCP, "tcp_input");
}
TERN_INIT(tcp_init);

static void
tcp_fini(void)
{
	for (unsigned i = 0; i < nb_tcp_workers; i++) {
		struct tcp_worker *tw = by_index[i];
		struct rte_mbuf *m;

		if (tw == NULL)
			continue;
		tw->closing = true;
		for (unsigned a = 0; a < tw->napps; a++) {
			struct tcp_worker *prev = tern_sock_enter(tw);
			tw->app[a].ops->stop(tw->app[a].state);
			tern_sock_enter(prev);
			free(tw->app[a].state);
		}
		tw->napps = 0;
		tern_sock_table_destroy(tw->socks);
		tcp_stack_destroy(tw->st);
		rte_pktmbuf_free_bulk(tw->pending, tw->npending);
		while (rte_ring_dequeue(tw->handoff, (void **)&m) == 0)
			rte_pktmbuf_free(m);
		rte_ring_free(tw->handoff);
		/* The pool goes after the ports close (tern_mempool_track). */
		tw->w->mod[mod_id] = NULL;
		rte_free(tw);
		by_index[i] = NULL;
	}
	nb_tcp_workers = 0;
	global_cfg_set = false;
}
TERN_FINI(tcp_fini);

struct on_worker {
	int (*fn)(struct tcp_worker *tw, void *arg);
	void *arg;
};

static int
on_worker(struct tern_worker *w, void *arg)
{
	const struct on_worker *ow = arg;

	return ow->fn(tcp_worker_of(w), ow->arg);
}

int
tcp_on_workers(int (*fn)(struct tcp_worker *tw, void *arg), void *arg)
{
	struct on_worker ow = { fn, arg };

	for (unsigned i = 0; i < nb_tcp_workers; i++) {
		int rc = tern_worker_call(by_index[i]->w, on_worker, &ow);
		if (rc < 0)
			return rc;
	}
	return 0;
}

int
tcp_cfg_commit(const struct tcp_cfg *next, unsigned n, tcp_cfg_push_fn push)
{
	struct tcp_cfg *cfg = tcp_global_cfg();
	unsigned i;
	int rc = 0;

	for (i = 0; i < n && rc == 0; i++)
		rc = push(i, next);
	if (rc == 0) {
		*cfg = *next;
		return 0;
	}
	/* Worker i-1 did not take it (a call that fails never ran, see
	 * tern_worker_call): those before it get the current config back.
	 * That hand-off can fail in turn (a worker stuck past the call
	 * timeout); the worker then keeps `next` until the next `tcp set`,
	 * and the log says so. */
	for (unsigned k = 0; k + 1 < i; k++) {
		int r = push(k, cfg);
		if (r < 0)
			LOG_ERR("tcp set: worker %u keeps the new settings: %s", k, strerror(-r));
	}
	return rc;
}

static int
apply_one(struct tcp_worker *tw, void *arg)
{
	tcp_stack_set_cfg(tw->st, arg);
	return 0;
}

/* The hand-off: through worker i's call ring. */
static int
push_call(unsigned i, const struct tcp_cfg *cfg)
{
	struct on_worker ow = { apply_one, (void *)(uintptr_t)cfg };

	return tern_worker_call(by_index[i]->w, on_worker, &ow);
}

int
tcp_cfg_apply(const struct tcp_cfg *next)
{
	return tcp_cfg_commit(next, nb_tcp_workers, push_call);
}
