/* SPDX-License-Identifier: BSD-3-Clause */
/* TCP core internals: the connection block and the stack, shared by the
 * core's files (tcp_conn.c, tcp_input.c, tcp_output.c, tcp_opt.c). */
#ifndef TERN_TCP_TCP_PRIV_H
#define TERN_TCP_TCP_PRIV_H

#include "tcp/tcp.h"

/* Sequence space comparisons (RFC 9293 3.4), modulo 2^32. */
#define SEQ_LT(a, b)  ((int32_t)((a) - (b)) < 0)
#define SEQ_LEQ(a, b) ((int32_t)((a) - (b)) <= 0)
#define SEQ_GT(a, b)  ((int32_t)((a) - (b)) > 0)
#define SEQ_GEQ(a, b) ((int32_t)((a) - (b)) >= 0)
#define SEQ_MAX(a, b) (SEQ_GT(a, b) ? (a) : (b))
#define SEQ_MIN(a, b) (SEQ_LT(a, b) ? (a) : (b))

/* A byte ring; size is a power of two. */
struct tcp_ring {
	uint8_t *buf;
	uint32_t size;
	uint32_t head; /* index of the first byte */
	uint32_t len;  /* bytes held from head */
};

/* Connection flags. */
#define TCPF_LISTENER   0x0001
#define TCPF_HASHED     0x0002
#define TCPF_ORPHAN     0x0004 /* the application closed it */
#define TCPF_FIN_QUEUED 0x0008 /* send FIN after the buffered data */
#define TCPF_RD_SHUT    0x0010 /* shutdown(SHUT_RD): discard what arrives */
#define TCPF_ACK_NOW    0x0020
#define TCPF_NODELAY    0x0040
#define TCPF_KEEPALIVE  0x0080
#define TCPF_REUSEADDR  0x0100
#define TCPF_FIN_RCVD   0x0200 /* the peer's FIN is in rcv_nxt */
#define TCPF_RECOVERY   0x0400 /* fast recovery (RFC 6582 / 6675) */
#define TCPF_IN_ACCEPTQ 0x0800
#define TCPF_COOKIE     0x1000 /* created from a SYN cookie */
#define TCPF_PERSIST    0x2000 /* t_rexmit is the persist timer */
#define TCPF_FREED      0x4000
#define TCPF_TLP        0x8000 /* t_rexmit is a tail loss probe (RFC 8985 7) */

struct tcp_conn {
	struct tcp_conn *hnext, **hpprev; /* connection hash chain */
	struct tcp_stack *st;
	struct tcp_tuple t;
	uint8_t state;
	uint8_t cc;
	uint16_t flags;
	int err;
	/* RFC 7323 4.3 Last.ACK.sent: the ACK field of our last segment (a
	 * receive variable, here where it fills the padding before user). */
	uint32_t last_ack_sent;
	void *user;

	/* Send sequence variables (RFC 9293 3.3.1). */
	uint32_t iss, snd_una, snd_nxt, snd_max;
	uint32_t snd_wnd, max_snd_wnd, snd_wl1, snd_wl2;
	uint32_t data_seq; /* sequence number of snd.buf's first byte */
	uint16_t mss;      /* send MSS: the peer's, capped by ours */
	uint16_t user_mss; /* TCP_MAXSEG, or 0 */
	uint8_t snd_ws, rcv_ws;
	bool ws_ok, ts_ok, sack_ok;
	/* Receive side, here where they fill the padding before irs. */
	uint8_t nooo;
	uint8_t unacked_segs; /* full segments received since our last ACK */
	bool ooo_fin;         /* the peer's FIN came ahead of a hole */

	/* Receive sequence variables. */
	uint32_t irs, rcv_nxt, rcv_adv; /* rcv_adv: right edge advertised */
	uint32_t ts_recent;
	uint64_t ts_recent_ms;
	uint32_t ooo_fin_seq;                   /* its sequence number, when ooo_fin */
	struct tcp_sack_block ooo[TCP_MAX_OOO]; /* most recent first (RFC 2018 4) */

	/* Retransmission (RFC 6298), in ms; srtt is scaled by 8, rttvar by 4. */
	uint32_t srtt, rttvar, rto;
	uint32_t rtt_seq;
	/* Lost retransmission (RFC 8985's idea, for the first hole): the
	 * hole at snd_una went again when snd_max was lr_high; data sent
	 * after that being SACKed says the retransmission was lost too. */
	uint32_t lr_high;
	uint64_t rtt_start;
	bool rtt_timing;
	uint8_t retransmits; /* consecutive timeouts (backoff) */
	bool tlp_sent;       /* a loss probe is out for this flight */
	uint8_t keep_probes;

	/* Congestion control (RFC 5681, 6582, 6675, 9438). */
	uint32_t cwnd, ssthresh; /* bytes */
	uint32_t recover;        /* snd_max when recovery began */
	uint32_t rexmit_nxt;     /* next hole to retransmit in recovery */
	uint8_t dupacks;
	uint8_t nsacked;
	bool lr_armed;                             /* lr_high (above) is watched */
	struct tcp_sack_block sacked[TCP_MAX_OOO]; /* scoreboard, sorted */
	uint32_t bytes_acked;                      /* for congestion avoidance */
	/* CUBIC state. */
	uint32_t w_max, cubic_k_ms, cubic_origin;
	uint64_t cubic_epoch;

	struct tcp_ring snd, rcv;
	uint32_t sndbuf, rcvbuf; /* sizes asked for (SO_SNDBUF / SO_RCVBUF) */

	/* Timers: retransmission or persist; delayed ACK; keepalive,
	 * FIN-WAIT-2 or TIME-WAIT. */
	struct tern_timer t_rexmit, t_delack, t_keep;
	union {
		uint64_t last_rx_ms;
		/* A listener (which receives no data): when it last sent a
		 * SYN cookie, 0 never; cookies are checked only for a while
		 * after that (Linux's tcp_synq_no_recent_overflow). */
		uint64_t cookie_ms;
	};
	uint32_t keep_idle_ms, keep_intvl_ms;
	uint8_t keep_cnt;
	int16_t linger; /* -1 off */
	/* Low 32 bits of the ms clock when a retransmitted SYN was last
	 * answered (0: never); fills the padding before parent. */
	uint32_t oow_ms;

	/* Listener: SYN queue and accept queue.  Child: its listener. */
	struct tcp_conn *parent;
	struct tcp_conn *aq_next;
	struct tcp_conn *aq_head, *aq_tail;
	uint16_t backlog, aq_len, synq_len;
};

struct tcp_listener_slot {
	uint32_t laddr; /* 0: any */
	uint16_t lport;
	struct tcp_conn *c;
};

struct tcp_stack {
	struct tcp_cfg cfg;
	struct tcp_ops ops;
	void *ctx;
	struct tern_wheel *wheel;
	uint8_t key[16];
	tcp_port_ok_fn port_ok;
	uint64_t now;

	uint64_t mib[TCP_MIB_MAX];
	uint32_t nb_conns, nb_orphans;
	uint16_t next_port; /* ephemeral port search start */
	/* RFC 5961 7: challenge ACKs per second. */
	uint64_t challenge_sec;
	uint32_t challenge_count;

	struct tcp_conn *pool; /* max_conns blocks */
	struct tcp_conn *free_list;
	struct tcp_conn **hash;
	uint32_t hash_mask;
	unsigned nb_listeners;
	struct tcp_listener_slot listener[TCP_MAX_LISTENERS];
};

/* tcp_conn.c */
struct tcp_conn *tcp_conn_alloc(struct tcp_stack *st);
void tcp_conn_free(struct tcp_conn *c);
struct tcp_conn *tcp_conn_lookup(struct tcp_stack *st, const struct tcp_tuple *t);
void tcp_conn_hash_add(struct tcp_conn *c);
struct tcp_conn *tcp_listener_lookup(struct tcp_stack *st, uint32_t laddr, uint16_t lport);
void tcp_set_state(struct tcp_conn *c, enum tcp_state s);
/* The connection is over: tell the application (err), or free it when it
 * is an orphan or was never accepted. */
void tcp_conn_done(struct tcp_conn *c, int err);
int tcp_ring_alloc(struct tcp_ring *r, uint32_t size);
void tcp_ring_free(struct tcp_ring *r);
void tcp_conn_init_from_cfg(struct tcp_conn *c, const struct tcp_stack *st);
void tcp_event(struct tcp_conn *c, unsigned ev);

/* tcp_output.c */
/* Send what the windows allow, and any pending ACK or FIN. */
void tcp_output(struct tcp_conn *c);
/* Send one segment of `len` bytes at `seq` with `flags` (ACK added when
 * synchronised), our options and window. */
void tcp_send_seg(struct tcp_conn *c, uint32_t seq, uint32_t len, uint8_t flags);
void tcp_send_ack(struct tcp_conn *c);
/* RFC 5961: a challenge ACK, rate-limited. */
void tcp_send_challenge_ack(struct tcp_conn *c);
/* A RST in answer to `s`, which matched no connection (RFC 9293 3.10.7.1). */
void tcp_send_rst_for(struct tcp_stack *st, const struct tcp_seg *s);
void tcp_send_rst(struct tcp_conn *c);
void tcp_timers_init(struct tcp_conn *c);
void tcp_timers_stop(struct tcp_conn *c);
void tcp_rexmit_start(struct tcp_conn *c);
void tcp_delack_schedule(struct tcp_conn *c);
void tcp_keep_reset(struct tcp_conn *c);
/* An orphan reached FIN-WAIT-2: fin_timeout from now, once. */
void tcp_finwait2_start(struct tcp_conn *c);
void tcp_timewait_start(struct tcp_conn *c);
void tcp_rtt_sample(struct tcp_conn *c, uint32_t rtt_ms);
uint32_t tcp_rcv_window(const struct tcp_conn *c);
/* Congestion control on a new ACK of `acked` bytes, `flight` bytes having
 * been outstanding when it came, and on loss. */
void tcp_cc_ack(struct tcp_conn *c, uint32_t acked, uint32_t flight);
void tcp_cc_loss(struct tcp_conn *c, bool timeout);
uint32_t tcp_flight(const struct tcp_conn *c);

/* The first hole (at snd_una) was just retransmitted in recovery: watch
 * for data sent after it being SACKed while it stays unacknowledged. */
static inline void
tcp_lost_rexmit_arm(struct tcp_conn *c)
{
	c->lr_high = c->snd_max;
	c->lr_armed = (c->flags & TCPF_RECOVERY) && c->sack_ok;
}

/* tcp_opt.c */
uint32_t tcp_siphash(const uint8_t key[16], const void *data, size_t len);
/* Our options for a SYN or SYN-ACK of `c`, or for a later segment. */
unsigned tcp_opts_build(const struct tcp_conn *c, uint8_t flags, uint8_t *p);
uint16_t tcp_mss_ours(const struct tcp_conn *c);
/* The payload that fits in a segment sent now: the send MSS less the SACK
 * blocks tcp_opts_build() will add (RFC 9293 3.7.1, RFC 6691: the MSS
 * counts no options, so every option byte comes out of the data). */
uint16_t tcp_send_mss(const struct tcp_conn *c);
/* SYN cookies: the ISN for a SYN-ACK, and the check of the final ACK. */
uint32_t tcp_cookie_make(const struct tcp_stack *st, const struct tcp_tuple *t, uint32_t peer_isn,
                         uint16_t mss, uint64_t now, uint16_t *mss_used);
int tcp_cookie_check(const struct tcp_stack *st, const struct tcp_tuple *t, uint32_t peer_isn,
                     uint32_t cookie, uint64_t now, uint16_t *mss);

/* The size of the ring tcp_ring_alloc() makes for `bytes`: a power of
 * two, at least 4 KiB.  Windows and scales are reckoned from it before the
 * ring exists (buffers are allocated when first needed). */
static inline uint32_t
tcp_ring_size_for(uint32_t bytes)
{
	uint32_t s = 4096;

	while (s < bytes)
		s <<= 1;
	return s;
}

/* The window scale that lets a 16-bit window cover `rcvbuf` (RFC 7323). */
static inline uint8_t
tcp_wscale_for(uint32_t rcvbuf)
{
	uint8_t ws = 0;

	while (ws < TCP_MAX_WSCALE && (rcvbuf >> ws) > 65535)
		ws++;
	return ws;
}

/* A socket's keepalive times, or the stack's when it set none. */
static inline uint32_t
tcp_keep_idle(const struct tcp_conn *c)
{
	return c->keep_idle_ms ? c->keep_idle_ms : c->st->cfg.keepalive_time_ms;
}

static inline uint32_t
tcp_keep_intvl(const struct tcp_conn *c)
{
	return c->keep_intvl_ms ? c->keep_intvl_ms : c->st->cfg.keepalive_intvl_ms;
}

static inline uint8_t
tcp_keep_cnt(const struct tcp_conn *c)
{
	return c->keep_cnt ? c->keep_cnt : c->st->cfg.keepalive_probes;
}

/* The largest cwnd, far above any window (2^30 = RFC 7323's largest), so
 * that growth can never wrap the uint32. */
#define TCP_CWND_MAX (1u << 30)

#define TCP_TS_OPT_LEN 12                /* NOP NOP TS: in every segment once agreed */
#define TCP_TS(now)    ((uint32_t)(now)) /* timestamp clock: 1 ms */

/* Socket calls carry no time: catch up with the caller's clock, which the
 * wheel holds once tern_wheel_advance() ran, so that timers they arm, the
 * ISN and RTT samples do not start from the last segment's time. */
static inline void
tcp_clock(struct tcp_stack *st)
{
	if (st->wheel->now > st->now)
		st->now = st->wheel->now;
}

#endif
