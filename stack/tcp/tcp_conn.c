/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * TCP connection blocks, the connection and listener tables, and the
 * socket-level operations (listen, accept, connect, send, recv, shutdown,
 * close, options).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tcp/tcp_priv.h"

const char *
tcp_state_name(enum tcp_state s)
{
	static const char *const names[] = {
#define X(n) #n,
		TCP_STATES(X)
#undef X
	};
	return (unsigned)s < TCP_NSTATES ? names[s] : "?";
}

const char *const tcp_counter_names[TCP_MIB_MAX] = {
#define X(n) #n,
	TCP_COUNTERS(X)
#undef X
};

void
tcp_cfg_default(struct tcp_cfg *cfg)
{
	*cfg = (struct tcp_cfg){
		.max_conns = 16384,
		.msl_ms = 30000,
		.fin_timeout_ms = 60000,
		.rto_min_ms = 200,
		.rto_max_ms = 120000,
		.rto_init_ms = 1000,
		.delack_ms = 40,
		.syn_retries = 6,
		.synack_retries = 5,
		.retries2 = 15,
		.syncookies = 1,
		.keepalive_time_ms = 7200 * 1000,
		.keepalive_intvl_ms = 75 * 1000,
		.keepalive_probes = 9,
		.cc = TCP_CC_CUBIC,
		.timestamps = true,
		.sack = true,
		.window_scaling = true,
		.rmem_default = 256 * 1024,
		.wmem_default = 256 * 1024,
		.max_orphans = 4096,
		.challenge_ack_limit = 1000,
		.syn_backlog_max = 1024,
	};
}

struct tcp_stack *
tcp_stack_create(const struct tcp_cfg *cfg, const struct tcp_ops *ops, void *ctx,
                 struct tern_wheel *wheel, const uint8_t key[16])
{
	struct tcp_stack *st = calloc(1, sizeof(*st));
	uint32_t hsize = 1;

	if (st == NULL)
		return NULL;
	st->cfg = *cfg;
	st->ops = *ops;
	st->ctx = ctx;
	st->wheel = wheel;
	memcpy(st->key, key, 16);
	st->now = wheel->now;
	st->next_port = 32768 + (uint16_t)(tcp_siphash(key, "port", 4) % 28232);
	while (hsize < cfg->max_conns * 2)
		hsize <<= 1;
	st->hash = calloc(hsize, sizeof(*st->hash));
	st->pool = calloc(cfg->max_conns, sizeof(*st->pool));
	if (st->hash == NULL || st->pool == NULL) {
		free(st->hash);
		free(st->pool);
		free(st);
		errno = ENOMEM;
		return NULL;
	}
	st->hash_mask = hsize - 1;
	for (uint32_t i = cfg->max_conns; i-- > 0;) {
		st->pool[i].hnext = st->free_list;
		st->pool[i].flags = TCPF_FREED;
		st->free_list = &st->pool[i];
	}
	return st;
}

void
tcp_stack_destroy(struct tcp_stack *st)
{
	if (st == NULL)
		return;
	for (uint32_t i = 0; i < st->cfg.max_conns; i++) {
		struct tcp_conn *c = &st->pool[i];
		if (c->flags & TCPF_FREED)
			continue;
		tcp_timers_stop(c);
		tcp_ring_free(&c->snd);
		tcp_ring_free(&c->rcv);
	}
	free(st->hash);
	free(st->pool);
	free(st);
}

void
tcp_stack_set_cfg(struct tcp_stack *st, const struct tcp_cfg *cfg)
{
	uint32_t max = st->cfg.max_conns;

	st->cfg = *cfg;
	st->cfg.max_conns = max; /* the pool is sized at creation */
}

const struct tcp_cfg *
tcp_stack_cfg(const struct tcp_stack *st)
{
	return &st->cfg;
}

const uint64_t *
tcp_stack_counters(const struct tcp_stack *st)
{
	return st->mib;
}

size_t
tcp_conn_block_size(void)
{
	return sizeof(struct tcp_conn) + 2 * sizeof(struct tcp_conn *);
}

uint32_t
tcp_stack_nb_conns(const struct tcp_stack *st)
{
	return st->nb_conns;
}

void
tcp_stack_set_port_filter(struct tcp_stack *st, tcp_port_ok_fn fn)
{
	st->port_ok = fn;
}

static uint32_t
tuple_hash(const struct tcp_tuple *t)
{
	uint64_t h = ((uint64_t)t->raddr << 32 | t->laddr) * 0x9e3779b97f4a7c15ULL;

	h ^= ((uint64_t)t->rport << 16 | t->lport) * 0xc2b2ae3d27d4eb4fULL;
	return (uint32_t)(h ^ (h >> 29));
}

static bool
tuple_eq(const struct tcp_tuple *a, const struct tcp_tuple *b)
{
	return a->laddr == b->laddr && a->raddr == b->raddr && a->lport == b->lport &&
	       a->rport == b->rport;
}

struct tcp_conn *
tcp_conn_lookup(struct tcp_stack *st, const struct tcp_tuple *t)
{
	for (struct tcp_conn *c = st->hash[tuple_hash(t) & st->hash_mask]; c != NULL; c = c->hnext)
		if (tuple_eq(&c->t, t))
			return c;
	return NULL;
}

void
tcp_conn_hash_add(struct tcp_conn *c)
{
	struct tcp_conn **head = &c->st->hash[tuple_hash(&c->t) & c->st->hash_mask];

	c->hnext = *head;
	if (*head != NULL)
		(*head)->hpprev = &c->hnext;
	*head = c;
	c->hpprev = head;
	c->flags |= TCPF_HASHED;
}

static void
hash_del(struct tcp_conn *c)
{
	if (!(c->flags & TCPF_HASHED))
		return;
	*c->hpprev = c->hnext;
	if (c->hnext != NULL)
		c->hnext->hpprev = c->hpprev;
	c->hnext = NULL;
	c->hpprev = NULL;
	c->flags &= ~TCPF_HASHED;
}

struct tcp_conn *
tcp_listener_lookup(struct tcp_stack *st, uint32_t laddr, uint16_t lport)
{
	struct tcp_conn *any = NULL;

	for (unsigned i = 0; i < st->nb_listeners; i++) {
		const struct tcp_listener_slot *l = &st->listener[i];
		if (l->lport != lport)
			continue;
		if (l->laddr == laddr)
			return l->c;
		if (l->laddr == 0)
			any = l->c;
	}
	return any;
}

int
tcp_ring_alloc(struct tcp_ring *r, uint32_t size)
{
	uint32_t s = 4096;

	while (s < size)
		s <<= 1;
	if (r->buf != NULL && r->size == s)
		return 0;
	r->buf = malloc(s);
	if (r->buf == NULL)
		return -ENOMEM;
	r->size = s;
	r->head = 0;
	r->len = 0;
	return 0;
}

void
tcp_ring_free(struct tcp_ring *r)
{
	free(r->buf);
	*r = (struct tcp_ring){ 0 };
}

void
tcp_conn_init_from_cfg(struct tcp_conn *c, const struct tcp_stack *st)
{
	const struct tcp_cfg *cfg = &st->cfg;

	c->cc = cfg->cc;
	/* Keepalive times stay 0 (the stack's, read when used, as Linux reads
	 * its sysctls) unless the socket sets its own. */
	c->keep_idle_ms = 0;
	c->keep_intvl_ms = 0;
	c->keep_cnt = 0;
	if (cfg->keepalive)
		c->flags |= TCPF_KEEPALIVE;
	c->sndbuf = cfg->wmem_default;
	c->rcvbuf = cfg->rmem_default;
	c->linger = -1;
	c->rto = cfg->rto_init_ms;
	c->mss = TCP_DEFAULT_MSS;
	c->ssthresh = UINT32_MAX;
}

struct tcp_conn *
tcp_conn_alloc(struct tcp_stack *st)
{
	struct tcp_conn *c = st->free_list;

	if (c == NULL) {
		st->mib[TCP_MIB_ConnsFull]++;
		return NULL;
	}
	st->free_list = c->hnext;
	memset(c, 0, sizeof(*c));
	c->st = st;
	tcp_conn_init_from_cfg(c, st);
	tcp_timers_init(c);
	st->nb_conns++;
	return c;
}

static void
listener_remove(struct tcp_conn *l)
{
	struct tcp_stack *st = l->st;

	for (unsigned i = 0; i < st->nb_listeners; i++) {
		if (st->listener[i].c != l)
			continue;
		st->listener[i] = st->listener[--st->nb_listeners];
		return;
	}
}

static void
acceptq_remove(struct tcp_conn *c)
{
	struct tcp_conn *l = c->parent, **pp;

	if (l == NULL || !(c->flags & TCPF_IN_ACCEPTQ))
		return;
	for (pp = &l->aq_head; *pp != NULL; pp = &(*pp)->aq_next) {
		if (*pp != c)
			continue;
		*pp = c->aq_next;
		if (l->aq_tail == c) {
			l->aq_tail = NULL;
			for (struct tcp_conn *x = l->aq_head; x != NULL; x = x->aq_next)
				l->aq_tail = x;
		}
		l->aq_len--;
		break;
	}
	c->flags &= ~TCPF_IN_ACCEPTQ;
	c->aq_next = NULL;
}

void
tcp_conn_free(struct tcp_conn *c)
{
	struct tcp_stack *st = c->st;

	if (c->flags & TCPF_FREED)
		return;
	tcp_timers_stop(c);
	hash_del(c);
	if (c->flags & TCPF_LISTENER) {
		listener_remove(c);
		/* Connections not yet accepted go with their listener. */
		while (c->aq_head != NULL) {
			struct tcp_conn *x = c->aq_head;
			acceptq_remove(x);
			x->parent = NULL;
			tcp_abort(x);
		}
		for (uint32_t i = 0; i < st->cfg.max_conns; i++) {
			struct tcp_conn *x = &st->pool[i];
			if (!(x->flags & TCPF_FREED) && x->parent == c) {
				x->parent = NULL;
				tcp_abort(x);
			}
		}
	} else {
		acceptq_remove(c);
		if (c->parent != NULL && c->state == TCP_SYN_RECEIVED && c->parent->synq_len > 0)
			c->parent->synq_len--;
	}
	if (c->flags & TCPF_ORPHAN)
		st->nb_orphans--;
	tcp_ring_free(&c->snd);
	tcp_ring_free(&c->rcv);
	c->flags = TCPF_FREED;
	c->state = TCP_CLOSED;
	c->hnext = st->free_list;
	st->free_list = c;
	st->nb_conns--;
}

void
tcp_event(struct tcp_conn *c, unsigned ev)
{
	/* Nobody to tell: an orphan, or a child not accepted yet (its
	 * listener hears of it instead). */
	if (!(c->flags & TCPF_ORPHAN) && c->parent == NULL && c->st->ops.event != NULL)
		c->st->ops.event(c->st->ctx, c, ev);
}

void
tcp_set_state(struct tcp_conn *c, enum tcp_state s)
{
	struct tcp_conn *l = c->parent;

	if (c->state == TCP_SYN_RECEIVED && l != NULL && l->synq_len > 0)
		l->synq_len--;
	c->state = (uint8_t)s;
}

void
tcp_conn_done(struct tcp_conn *c, int err)
{
	tcp_timers_stop(c);
	hash_del(c);
	tcp_set_state(c, TCP_CLOSED);
	if (err != 0 && c->err == 0)
		c->err = err;
	/* Nobody holds it: an orphan, or a child not yet accepted (Linux
	 * drops a connection reset before accept() from the queue too). */
	if ((c->flags & TCPF_ORPHAN) || c->parent != NULL) {
		tcp_conn_free(c);
		return;
	}
	tcp_event(c, TCP_EV_ERR * (c->err != 0) | TCP_EV_HUP | TCP_EV_IN | TCP_EV_OUT);
}

int
tcp_listen(struct tcp_stack *st, uint32_t laddr, uint16_t lport, int backlog, struct tcp_conn **out)
{
	struct tcp_conn *c;

	if (lport == 0)
		return -EINVAL;
	for (unsigned i = 0; i < st->nb_listeners; i++)
		if (st->listener[i].lport == lport && st->listener[i].laddr == laddr)
			return -EADDRINUSE;
	if (st->nb_listeners == TCP_MAX_LISTENERS)
		return -ENOSPC;
	if ((c = tcp_conn_alloc(st)) == NULL)
		return -ENOMEM;
	c->t.laddr = laddr;
	c->t.lport = lport;
	c->flags |= TCPF_LISTENER;
	c->state = TCP_LISTEN;
	c->backlog = (uint16_t)(backlog <= 0 ? 1 : backlog > 65535 ? 65535 : backlog);
	st->listener[st->nb_listeners++] = (struct tcp_listener_slot){ laddr, lport, c };
	*out = c;
	return 0;
}

struct tcp_conn *
tcp_accept(struct tcp_conn *l)
{
	struct tcp_conn *c = l->aq_head;

	if (c == NULL)
		return NULL;
	acceptq_remove(c);
	c->parent = NULL;
	return c;
}

/* An ephemeral port for an active open (Linux's default range). */
static int
pick_port(struct tcp_stack *st, struct tcp_tuple *t)
{
	for (unsigned i = 0; i < 28232; i++) {
		uint16_t p = st->next_port++;
		if (st->next_port < 32768 || st->next_port >= 60999)
			st->next_port = 32768;
		t->lport = p;
		if (tcp_conn_lookup(st, t) != NULL || tcp_listener_lookup(st, t->laddr, p) != NULL)
			continue;
		if (st->port_ok != NULL && !st->port_ok(st->ctx, t))
			continue;
		return 0;
	}
	return -EADDRNOTAVAIL;
}

int
tcp_conn_new(struct tcp_stack *st, struct tcp_conn **out)
{
	struct tcp_conn *c = tcp_conn_alloc(st);

	if (c == NULL)
		return -ENOBUFS;
	*out = c;
	return 0;
}

int
tcp_conn_connect(struct tcp_conn *c, uint32_t laddr, uint16_t lport, uint32_t raddr, uint16_t rport)
{
	struct tcp_stack *st = c->st;
	struct tcp_tuple t = { .laddr = laddr, .raddr = raddr, .lport = lport, .rport = rport };
	int rc;

	if (c->state != TCP_CLOSED || (c->flags & TCPF_HASHED))
		return -EISCONN;
	if (raddr == 0 || rport == 0)
		return -EINVAL;
	tcp_clock(st);
	if (lport == 0 && (rc = pick_port(st, &t)) < 0)
		return rc;
	if (tcp_conn_lookup(st, &t) != NULL)
		return -EADDRINUSE;
	c->t = t;
	c->ws_ok = st->cfg.window_scaling;
	c->ts_ok = st->cfg.timestamps;
	c->sack_ok = st->cfg.sack;
	/* Buffers come when data does; the scale is that of their size. */
	c->rcv_ws = c->ws_ok ? tcp_wscale_for(tcp_ring_size_for(c->rcvbuf)) : 0;
	c->iss = tcp_isn(st, &t, st->now);
	c->snd_una = c->snd_nxt = c->snd_max = c->iss;
	c->data_seq = c->iss + 1;
	c->state = TCP_SYN_SENT;
	c->rtt_start = st->now;
	tcp_conn_hash_add(c);
	st->mib[TCP_MIB_ActiveOpens]++;
	tcp_send_seg(c, c->iss, 0, TCP_F_SYN);
	c->snd_nxt = c->snd_max = c->iss + 1;
	tcp_rexmit_start(c);
	return 0;
}

int
tcp_connect(struct tcp_stack *st, uint32_t laddr, uint16_t lport, uint32_t raddr, uint16_t rport,
            struct tcp_conn **out)
{
	struct tcp_conn *c;
	int rc;

	if (raddr == 0 || rport == 0)
		return -EINVAL;
	if ((rc = tcp_conn_new(st, &c)) < 0)
		return rc;
	if ((rc = tcp_conn_connect(c, laddr, lport, raddr, rport)) < 0) {
		tcp_conn_free(c);
		return rc;
	}
	*out = c;
	return 0;
}

uint32_t
tcp_conn_readable(const struct tcp_conn *c)
{
	return c->rcv.len;
}

uint32_t
tcp_conn_writable(const struct tcp_conn *c)
{
	if (c->snd.buf == NULL)
		return tcp_ring_size_for(c->sndbuf); /* allocated on the first send */
	return c->snd.size - c->snd.len;
}

long
tcp_send(struct tcp_conn *c, const void *buf, size_t len)
{
	struct tcp_ring *r = &c->snd;
	uint32_t room, n, tail, first;

	tcp_clock(c->st);
	if (c->err != 0)
		return -c->err;
	switch (c->state) {
	case TCP_SYN_SENT:
	case TCP_SYN_RECEIVED:
	case TCP_ESTABLISHED:
	case TCP_CLOSE_WAIT:
		break;
	case TCP_LISTEN:
		return -ENOTCONN;
	default:
		return -EPIPE;
	}
	if (c->flags & TCPF_FIN_QUEUED)
		return -EPIPE;
	/* The send buffer is allocated by the first send, not at connection
	 * setup: an idle connection costs its block only. */
	if (r->buf == NULL && tcp_ring_alloc(r, c->sndbuf) < 0)
		return -ENOBUFS;
	room = r->size - r->len;
	if (room == 0)
		return -EAGAIN;
	n = len < room ? (uint32_t)len : room;
	tail = (r->head + r->len) & (r->size - 1);
	first = n < r->size - tail ? n : r->size - tail;
	memcpy(r->buf + tail, buf, first);
	memcpy(r->buf, (const uint8_t *)buf + first, n - first);
	r->len += n;
	if (c->state == TCP_ESTABLISHED || c->state == TCP_CLOSE_WAIT)
		tcp_output(c);
	return n;
}

long
tcp_recv(struct tcp_conn *c, void *buf, size_t len)
{
	struct tcp_ring *r = &c->rcv;
	uint32_t n, first, before;

	tcp_clock(c->st);
	if (r->len == 0) {
		if (c->err != 0)
			return -c->err;
		if ((c->flags & TCPF_FIN_RCVD) || c->state == TCP_CLOSED)
			return 0;
		if (c->state == TCP_LISTEN)
			return -ENOTCONN;
		return -EAGAIN;
	}
	n = len < r->len ? (uint32_t)len : r->len;
	first = n < r->size - r->head ? n : r->size - r->head;
	memcpy(buf, r->buf + r->head, first);
	memcpy((uint8_t *)buf + first, r->buf, n - first);
	before = tcp_rcv_window(c);
	r->head = (r->head + n) & (r->size - 1);
	r->len -= n;
	/* RFC 9293 3.8.6.2.2 (receiver SWS avoidance): tell the peer when the
	 * window opened by a full segment or half the buffer. */
	if (c->state >= TCP_ESTABLISHED && c->state != TCP_TIME_WAIT) {
		uint32_t after = tcp_rcv_window(c);
		if (after - before >= c->mss || (before < c->mss && after >= c->mss) ||
		    after - before >= r->size / 2) {
			c->flags |= TCPF_ACK_NOW;
			tcp_output(c);
		}
	}
	/* The last byte read in TIME-WAIT: the buffer goes (as in
	 * tcp_timewait_start), nothing more can come. */
	if (r->len == 0 && c->state == TCP_TIME_WAIT)
		tcp_ring_free(r);
	return n;
}

int
tcp_shutdown(struct tcp_conn *c, int how)
{
	if (c->flags & TCPF_LISTENER)
		return -ENOTCONN;
	tcp_clock(c->st);
	if (how == 0 || how == 2) {
		c->flags |= TCPF_RD_SHUT;
		c->rcv.head = 0;
		c->rcv.len = 0;
		/* Out-of-order data is discarded with the rest (it lived in the
		 * ring); held ranges would keep the peer's FIN out for good
		 * (RFC 9293 3.10.7.4 eighth: the FIN waits for rcv_nxt).  The
		 * peer resends what it had SACKed (RFC 2018 8: reneging). */
		c->nooo = 0;
	}
	if (how == 1 || how == 2) {
		switch (c->state) {
		case TCP_SYN_SENT:
			tcp_conn_done(c, 0);
			return 0;
		case TCP_SYN_RECEIVED:
			c->flags |= TCPF_FIN_QUEUED;
			/* RFC 9293 3.10.4: with data pending, the FIN waits
			 * for ESTABLISHED (synced_input moves on to FIN-WAIT-1
			 * then); without, it goes now. */
			if (c->snd.len != 0)
				return 0;
			tcp_set_state(c, TCP_FIN_WAIT_1);
			break;
		case TCP_ESTABLISHED:
			c->flags |= TCPF_FIN_QUEUED;
			tcp_set_state(c, TCP_FIN_WAIT_1);
			break;
		case TCP_CLOSE_WAIT:
			c->flags |= TCPF_FIN_QUEUED;
			tcp_set_state(c, TCP_LAST_ACK);
			break;
		default:
			return c->state == TCP_CLOSED ? -ENOTCONN : 0;
		}
		tcp_output(c);
	}
	return 0;
}

int
tcp_close(struct tcp_conn *c)
{
	struct tcp_stack *st = c->st;

	tcp_clock(st);
	if (c->flags & TCPF_LISTENER) {
		tcp_conn_free(c);
		return 0;
	}
	if (c->state == TCP_CLOSED || c->state == TCP_SYN_SENT) {
		tcp_conn_free(c);
		return 0;
	}
	/* RFC 2525 2.17 (RFC 1122 4.2.2.13): unread data means a reset, so
	 * that the peer knows it was lost; so does SO_LINGER 0.  Counted as
	 * Linux's tcp_close does: TCPAbortOnClose, and TCPAbortOnData for
	 * the linger case. */
	if (c->rcv.len != 0) {
		st->mib[TCP_MIB_AbortOnClose]++;
		tcp_abort(c);
		return 0;
	}
	if (c->linger == 0) {
		st->mib[TCP_MIB_AbortOnData]++;
		tcp_abort(c);
		return 0;
	}
	if (st->nb_orphans >= st->cfg.max_orphans) {
		st->mib[TCP_MIB_OrphanDrops]++;
		tcp_abort(c);
		return 0;
	}
	c->flags |= TCPF_ORPHAN;
	c->user = NULL;
	st->nb_orphans++;
	if (c->state == TCP_TIME_WAIT)
		return 0;
	tcp_shutdown(c, 1);
	/* An orphan in FIN-WAIT-2 does not wait for the peer forever. */
	if (c->state == TCP_FIN_WAIT_2)
		tcp_finwait2_start(c);
	return 0;
}

void
tcp_abort(struct tcp_conn *c)
{
	tcp_clock(c->st);
	switch (c->state) {
	case TCP_SYN_RECEIVED:
	case TCP_ESTABLISHED:
	case TCP_FIN_WAIT_1:
	case TCP_FIN_WAIT_2:
	case TCP_CLOSE_WAIT:
		tcp_send_rst(c);
		break;
	default:
		break;
	}
	tcp_conn_free(c);
}

int
tcp_setopt(struct tcp_conn *c, enum tcp_sockopt opt, int val)
{
	tcp_clock(c->st);
	switch (opt) {
	case TCP_SO_KEEPALIVE:
		c->flags = val ? c->flags | TCPF_KEEPALIVE : c->flags & ~TCPF_KEEPALIVE;
		if (c->state >= TCP_ESTABLISHED)
			tcp_keep_reset(c);
		return 0;
	case TCP_SO_KEEPIDLE:
		if (val < 1 || val > 32767)
			return -EINVAL;
		c->keep_idle_ms = (uint32_t)val * 1000;
		if (c->state >= TCP_ESTABLISHED)
			tcp_keep_reset(c);
		return 0;
	case TCP_SO_KEEPINTVL:
		if (val < 1 || val > 32767)
			return -EINVAL;
		c->keep_intvl_ms = (uint32_t)val * 1000;
		return 0;
	case TCP_SO_KEEPCNT:
		if (val < 1 || val > 127)
			return -EINVAL;
		c->keep_cnt = (uint8_t)val;
		return 0;
	case TCP_SO_NODELAY:
		c->flags = val ? c->flags | TCPF_NODELAY : c->flags & ~TCPF_NODELAY;
		if (val && c->state >= TCP_ESTABLISHED)
			tcp_output(c);
		return 0;
	case TCP_SO_RCVBUF:
	case TCP_SO_SNDBUF:
		if (val < 4096 || val > 64 * 1024 * 1024)
			return -EINVAL;
		/* Buffers are sized when the connection is set up. */
		if (c->snd.buf != NULL || c->state > TCP_LISTEN)
			return -EISCONN;
		if (opt == TCP_SO_RCVBUF)
			c->rcvbuf = (uint32_t)val;
		else
			c->sndbuf = (uint32_t)val;
		return 0;
	case TCP_SO_LINGER:
		if (val < -1 || val > 32767)
			return -EINVAL;
		c->linger = (int16_t)val;
		return 0;
	case TCP_SO_REUSEADDR:
		c->flags = val ? c->flags | TCPF_REUSEADDR : c->flags & ~TCPF_REUSEADDR;
		return 0;
	case TCP_SO_CONGESTION:
		if (val != TCP_CC_RENO && val != TCP_CC_CUBIC)
			return -EINVAL;
		c->cc = (uint8_t)val;
		return 0;
	case TCP_SO_MAXSEG:
		if (val < 88 || val > 65495)
			return -EINVAL;
		c->user_mss = (uint16_t)val;
		return 0;
	}
	return -ENOPROTOOPT;
}

int
tcp_getopt(const struct tcp_conn *c, enum tcp_sockopt opt, int *val)
{
	switch (opt) {
	case TCP_SO_KEEPALIVE:
		*val = !!(c->flags & TCPF_KEEPALIVE);
		return 0;
	case TCP_SO_KEEPIDLE:
		*val = (int)(tcp_keep_idle(c) / 1000);
		return 0;
	case TCP_SO_KEEPINTVL:
		*val = (int)(tcp_keep_intvl(c) / 1000);
		return 0;
	case TCP_SO_KEEPCNT:
		*val = tcp_keep_cnt(c);
		return 0;
	case TCP_SO_NODELAY:
		*val = !!(c->flags & TCPF_NODELAY);
		return 0;
	case TCP_SO_RCVBUF:
		*val = (int)(c->rcv.buf != NULL ? c->rcv.size : c->rcvbuf);
		return 0;
	case TCP_SO_SNDBUF:
		*val = (int)(c->snd.buf != NULL ? c->snd.size : c->sndbuf);
		return 0;
	case TCP_SO_LINGER:
		*val = c->linger;
		return 0;
	case TCP_SO_REUSEADDR:
		*val = !!(c->flags & TCPF_REUSEADDR);
		return 0;
	case TCP_SO_CONGESTION:
		*val = c->cc;
		return 0;
	case TCP_SO_MAXSEG:
		*val = c->state >= TCP_ESTABLISHED ? c->mss : (c->user_mss ? c->user_mss : 536);
		return 0;
	}
	return -ENOPROTOOPT;
}

void
tcp_conn_set_user(struct tcp_conn *c, void *user)
{
	c->user = user;
}

void *
tcp_conn_user(const struct tcp_conn *c)
{
	return c->user;
}

enum tcp_state
tcp_conn_state(const struct tcp_conn *c)
{
	return (enum tcp_state)c->state;
}

int
tcp_conn_error(const struct tcp_conn *c)
{
	return c->err;
}

const struct tcp_tuple *
tcp_conn_tuple(const struct tcp_conn *c)
{
	return &c->t;
}

static void
timer_info(const struct tcp_conn *c, struct tcp_conn_info *i)
{
	const struct tern_timer *t = NULL;
	const char *name = "";

	if (tern_timer_pending(&c->t_rexmit)) {
		t = &c->t_rexmit;
		name = c->flags & TCPF_PERSIST ? "persist" : "on";
	} else if (tern_timer_pending(&c->t_keep)) {
		t = &c->t_keep;
		name = c->state == TCP_TIME_WAIT    ? "timewait"
		       : c->state == TCP_FIN_WAIT_2 ? "finwait2"
		                                    : "keepalive";
	} else if (tern_timer_pending(&c->t_delack)) {
		t = &c->t_delack;
		name = "delack";
	}
	strncpy(i->timer, name, sizeof(i->timer) - 1);
	i->timer_left_ms = t != NULL && t->expires > c->st->now ? t->expires - c->st->now : 0;
}

uint32_t
tcp_stack_walk(struct tcp_stack *st, uint32_t from, uint32_t budget,
               void (*fn)(void *arg, const struct tcp_conn_info *i), void *arg)
{
	uint32_t max = st->cfg.max_conns, end;

	if (from >= max)
		return TCP_WALK_DONE;
	if (budget == 0)
		budget = 1; /* a walk always moves on */
	end = budget >= max - from ? max : from + budget;
	/* By block, not by a list: a connection keeps its block for life, so a
	 * walk resumed at a block index never meets a connection twice. */
	for (uint32_t n = from; n < end; n++) {
		const struct tcp_conn *c = &st->pool[n];
		struct tcp_conn_info i = { 0 };

		if (c->flags & TCPF_FREED)
			continue;
		i.t = c->t;
		i.state = (enum tcp_state)c->state;
		i.listener = c->flags & TCPF_LISTENER;
		i.orphan = c->flags & TCPF_ORPHAN;
		/* Like ss: a listener's queues are its accept queue and backlog. */
		i.recvq = i.listener ? c->aq_len : c->rcv.len;
		i.sendq = i.listener ? c->backlog : c->snd.len;
		i.srtt_ms = c->srtt >> 3;
		i.rttvar_ms = c->rttvar >> 2;
		i.rto_ms = c->rto;
		i.mss = c->mss;
		i.cwnd = c->mss ? c->cwnd / c->mss : 0;
		i.ssthresh = c->ssthresh == UINT32_MAX || !c->mss ? 0 : c->ssthresh / c->mss;
		i.snd_wnd = c->snd_wnd;
		i.rcv_wnd = c->state >= TCP_ESTABLISHED ? tcp_rcv_window(c) : 0;
		i.retransmits = c->retransmits;
		i.cc = c->cc;
		timer_info(c, &i);
		fn(arg, &i);
	}
	return end == max ? TCP_WALK_DONE : end;
}
