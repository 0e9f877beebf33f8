/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * TCP input: RFC 9293 3.10.7 "SEGMENT ARRIVES", state by state, with the
 * RFC 5961 checks (challenge ACKs for in-window RST and SYN, ACK
 * acceptance), PAWS (RFC 7323 5), TIME-WAIT reuse (RFC 6191) and RFC 1337
 * (a RST does not cut TIME-WAIT short), SYN queue and SYN cookies.
 */
#include <errno.h>
#include <string.h>

#include "tcp/tcp_priv.h"

#define PAWS_IDLE_MS        (24ull * 24 * 3600 * 1000) /* RFC 7323 5.5: 24 days */
#define TCP_RTO_SYN_LOST_MS 3000                       /* RFC 6298 5.7 */
/* Linux's TCP_SYNCOOKIE_VALID: how long after its last cookie a listener
 * still takes an ACK as the answer to one. */
#define TCP_SYNCOOKIE_VALID_MS 120000

/* RFC 6928: the initial window. */
static uint32_t
initial_cwnd(uint32_t mss)
{
	uint32_t iw = 10 * mss, max = 2 * mss > 14600 ? 2 * mss : 14600;

	return iw < max ? iw : max;
}

/* Options from the peer's SYN: what both sides use from now on. */
static void
negotiate(struct tcp_conn *c, const struct tcp_seg *s)
{
	const struct tcp_cfg *cfg = &c->st->cfg;
	uint16_t ours = tcp_mss_ours(c);
	uint16_t peer = (s->o.have & TCP_OPT_MSS) ? s->o.mss : TCP_DEFAULT_MSS;

	/* RFC 9293 3.7.1 / RFC 6691: the peer's MSS, capped by ours. */
	c->mss = peer < ours ? peer : ours;
	if (c->mss < 88)
		c->mss = 88;
	c->ws_ok = cfg->window_scaling && (s->o.have & TCP_OPT_WSCALE);
	c->snd_ws = c->ws_ok ? s->o.wscale : 0;
	c->rcv_ws = c->ws_ok ? tcp_wscale_for(tcp_ring_size_for(c->rcvbuf)) : 0;
	c->ts_ok = cfg->timestamps && (s->o.have & TCP_OPT_TS);
	if (c->ts_ok) {
		c->ts_recent = s->o.tsval;
		c->ts_recent_ms = c->st->now;
	}
	c->sack_ok = cfg->sack && (s->o.have & TCP_OPT_SACK_OK);
	/* RFC 6691 2: the MSS counts no options; every segment will carry a
	 * timestamp, so that much less data fits (as Linux's mss_cache). */
	if (c->ts_ok)
		c->mss -= TCP_TS_OPT_LEN;
}

static void
inherit(struct tcp_conn *c, const struct tcp_conn *l)
{
	c->cc = l->cc;
	c->keep_idle_ms = l->keep_idle_ms;
	c->keep_intvl_ms = l->keep_intvl_ms;
	c->keep_cnt = l->keep_cnt;
	c->sndbuf = l->sndbuf;
	c->rcvbuf = l->rcvbuf;
	c->linger = l->linger;
	c->user_mss = l->user_mss;
	c->flags |= l->flags & (TCPF_KEEPALIVE | TCPF_NODELAY);
}

static void
acceptq_add(struct tcp_conn *l, struct tcp_conn *c)
{
	c->flags |= TCPF_IN_ACCEPTQ;
	c->aq_next = NULL;
	if (l->aq_tail != NULL)
		l->aq_tail->aq_next = c;
	else
		l->aq_head = c;
	l->aq_tail = c;
	l->aq_len++;
	tcp_event(l, TCP_EV_IN);
}

/* An RTT sample from an echoed timestamp (RFC 7323 4.1).  An echo from
 * our future (a broken or hostile peer) is no measurement: RFC 6298 2
 * wants samples of real round trips, and a negative one read as a uint32
 * would set the RTO to its maximum. */
static void
ts_rtt_sample(struct tcp_conn *c, uint32_t tsecr)
{
	uint32_t rtt = TCP_TS(c->st->now) - tsecr;

	if ((int32_t)rtt >= 0)
		tcp_rtt_sample(c, rtt);
}

/* The handshake is complete: buffers, window, first RTT sample. */
static int
establish(struct tcp_conn *c, const struct tcp_seg *s)
{
	struct tcp_stack *st = c->st;
	bool syn_lost = c->retransmits != 0; /* our SYN or SYN-ACK went again */

	/* No buffers yet: they come with the first data either way. */
	tcp_set_state(c, TCP_ESTABLISHED);
	c->snd_wnd = (uint32_t)s->wnd << c->snd_ws;
	c->max_snd_wnd = c->snd_wnd;
	c->snd_wl1 = s->seq;
	c->snd_wl2 = s->ack;
	if (c->ts_ok && (s->o.have & TCP_OPT_TS) && s->o.tsecr != 0 && !(c->flags & TCPF_COOKIE))
		ts_rtt_sample(c, s->o.tsecr);
	else if (c->retransmits == 0 && c->rtt_start != 0)
		tcp_rtt_sample(c, (uint32_t)(st->now - c->rtt_start));
	c->retransmits = 0;
	c->rtt_timing = false;
	c->recover = c->iss; /* no recovery point yet */
	/* RFC 5681 3.1: after a lost SYN or SYN-ACK the initial
	 * window is one segment.  RFC 6298 5.7: and with no RTT sample (Karn
	 * forbids one from a retransmitted SYN), the RTO starts at 3 s. */
	c->cwnd = syn_lost ? c->mss : initial_cwnd(c->mss);
	if (syn_lost && c->srtt == 0 && c->rto < TCP_RTO_SYN_LOST_MS) {
		c->rto = TCP_RTO_SYN_LOST_MS;
		if (c->rto > st->cfg.rto_max_ms)
			c->rto = st->cfg.rto_max_ms;
	}
	tern_timer_stop(st->wheel, &c->t_rexmit);
	tcp_keep_reset(c);
	return 0;
}

/* The final ACK of a cookie handshake: 0 when it made a connection,
 * -EINVAL for a bad cookie, -ENOBUFS when the accept queue is full or no
 * connection block is free. */
static int
cookie_accept(struct tcp_stack *st, struct tcp_conn *l, const struct tcp_seg *s)
{
	struct tcp_conn *c;
	uint16_t mss;

	if (tcp_cookie_check(st, &s->t, s->seq - 1, s->ack - 1, st->now, &mss) < 0) {
		st->mib[TCP_MIB_SyncookiesFailed]++;
		return -EINVAL;
	}
	st->mib[TCP_MIB_SyncookiesRecv]++;
	if (l->aq_len >= l->backlog || (c = tcp_conn_alloc(st)) == NULL) {
		st->mib[TCP_MIB_ListenOverflows]++;
		st->mib[TCP_MIB_ListenDrops]++;
		return -ENOBUFS;
	}
	inherit(c, l);
	c->t = s->t;
	c->flags |= TCPF_COOKIE;
	c->mss = mss < tcp_mss_ours(c) ? mss : tcp_mss_ours(c);
	/* Window scale and SACK came back in the echo of our tsval. */
	if (st->cfg.timestamps && (s->o.have & TCP_OPT_TS)) {
		uint32_t enc = s->o.tsecr & 0x1f;
		c->ts_ok = true;
		c->ts_recent = s->o.tsval;
		c->ts_recent_ms = st->now;
		c->sack_ok = (enc >> 4) & 1;
		c->ws_ok = (enc & 0xf) != 0xf;
		c->snd_ws = c->ws_ok ? (uint8_t)(enc & 0xf) : 0;
		c->rcv_ws = c->ws_ok ? tcp_wscale_for(tcp_ring_size_for(c->rcvbuf)) : 0;
		c->mss -= TCP_TS_OPT_LEN;
	}
	c->irs = s->seq - 1;
	c->rcv_nxt = c->rcv_adv = s->seq;
	c->last_ack_sent = s->seq; /* what the cookie SYN-ACK acknowledged */
	c->iss = s->ack - 1;
	c->snd_una = c->snd_nxt = c->snd_max = s->ack;
	c->data_seq = s->ack;
	c->state = TCP_SYN_RECEIVED;
	tcp_conn_hash_add(c);
	if (establish(c, s) < 0) {
		tcp_conn_free(c);
		return -ENOBUFS;
	}
	/* Only now: a cookie connection never took a SYN queue slot, and
	 * leaving SYN-RECEIVED with a parent gives one back. */
	c->parent = l;
	st->mib[TCP_MIB_PassiveOpens]++;
	acceptq_add(l, c);
	return 0;
}

/* A SYN-ACK whose ISN is a cookie: no state is kept (RFC 4987 3.6). */
static void
cookie_synack(struct tcp_stack *st, struct tcp_conn *l, const struct tcp_seg *s)
{
	struct tcp_conn tmp;
	uint16_t peer = (s->o.have & TCP_OPT_MSS) ? s->o.mss : TCP_DEFAULT_MSS, used;

	memset(&tmp, 0, sizeof(tmp));
	tmp.st = st;
	tmp.t = s->t;
	tmp.state = TCP_SYN_RECEIVED;
	tmp.flags = TCPF_COOKIE;
	tmp.rcvbuf = l->rcvbuf;
	tmp.user_mss = l->user_mss;
	negotiate(&tmp, s);
	if (tmp.ts_ok) {
		uint32_t ws = tmp.ws_ok ? s->o.wscale : 0xf, now_ts = TCP_TS(st->now), tsval;
		tsval = (now_ts & ~0x1fu) | (uint32_t)tmp.sack_ok << 4 | ws;
		/* Never a tsval ahead of our clock: the peer echoes it for
		 * RTT measurement (RFC 7323 4.1), which a value from the
		 * future makes negative.  As Linux's cookie_init_timestamp,
		 * go one period back, which keeps the low bits. */
		if (SEQ_GT(tsval, now_ts))
			tsval -= 32;
		tmp.ts_recent_ms = tsval;
	} else {
		tmp.ws_ok = tmp.sack_ok = false; /* nowhere to keep them */
		tmp.rcv_ws = 0;
	}
	tmp.rcv_nxt = s->seq + 1;
	tmp.rcv_adv = tmp.rcv_nxt;
	tmp.iss = tcp_cookie_make(st, &s->t, s->seq, peer, st->now, &used);
	tmp.snd_una = tmp.snd_nxt = tmp.snd_max = tmp.iss; /* not a retransmission */
	st->mib[TCP_MIB_SyncookiesSent]++;
	l->cookie_ms = st->now != 0 ? st->now : 1; /* 0 means never */
	tcp_send_seg(&tmp, tmp.iss, 0, TCP_F_SYN);
}

/*
 * Is an ACK to listener `l` worth checking as a SYN cookie?  Only when
 * cookies are always sent, or `l` sent one within TCP_SYNCOOKIE_VALID_MS
 * (Linux's tcp_synq_no_recent_overflow): otherwise no SYN-ACK of ours can
 * carry a cookie, and checking every stray ACK would let an attacker
 * guess at the 24-bit hash (RFC 4987 3.6) with no flood going on.
 */
static bool
cookie_recent(const struct tcp_stack *st, const struct tcp_conn *l)
{
	if (st->cfg.syncookies == 2)
		return true;
	return st->cfg.syncookies != 0 && l->cookie_ms != 0 &&
	       st->now - l->cookie_ms < TCP_SYNCOOKIE_VALID_MS;
}

/* RFC 9293 3.10.7.2: LISTEN.  `isn`: the ISN to use, or 0 for RFC 6528's. */
static int
listen_input(struct tcp_stack *st, struct tcp_conn *l, const struct tcp_seg *s, uint32_t isn)
{
	struct tcp_conn *c;
	uint32_t synq_max;

	if (s->flags & TCP_F_RST)
		return 0;
	if (s->flags & TCP_F_ACK) {
		int rc = -EINVAL;

		if (!(s->flags & TCP_F_SYN) && cookie_recent(st, l))
			rc = cookie_accept(st, l, s);
		if (rc == 0) {
			if (s->len != 0 || (s->flags & TCP_F_FIN))
				return tcp_input(st, s, st->now);
			return 0;
		}
		/* A good cookie with no room for its connection: drop it,
		 * counted above, and let the peer's retransmission try again
		 * (Linux with tcp_abort_on_overflow 0); a RST would tell it
		 * the connection it believes open is gone. */
		if (rc == -ENOBUFS)
			return 0;
		tcp_send_rst_for(st, s);
		return -ENOENT;
	}
	if (!(s->flags & TCP_F_SYN))
		return -EINVAL;
	/* A full accept queue: drop the SYN, the peer will retry (Linux). */
	if (l->aq_len >= l->backlog) {
		st->mib[TCP_MIB_ListenOverflows]++;
		st->mib[TCP_MIB_ListenDrops]++;
		return 0;
	}
	synq_max = l->backlog < st->cfg.syn_backlog_max ? l->backlog : st->cfg.syn_backlog_max;
	if (synq_max < 8)
		synq_max = 8;
	if (st->cfg.syncookies == 2 || (l->synq_len >= synq_max && st->cfg.syncookies)) {
		cookie_synack(st, l, s);
		return 0;
	}
	if (l->synq_len >= synq_max || (c = tcp_conn_alloc(st)) == NULL) {
		if (st->cfg.syncookies) {
			cookie_synack(st, l, s);
			return 0;
		}
		st->mib[TCP_MIB_ListenDrops]++;
		return 0;
	}
	inherit(c, l);
	c->t = s->t;
	c->parent = l;
	negotiate(c, s);
	c->irs = s->seq;
	c->rcv_nxt = c->rcv_adv = s->seq + 1;
	c->iss = isn != 0 ? isn : tcp_isn(st, &s->t, st->now);
	c->snd_una = c->snd_nxt = c->snd_max = c->iss;
	c->data_seq = c->iss + 1;
	c->snd_wnd = s->wnd; /* RFC 7323 2.2: a SYN's window is never scaled */
	c->state = TCP_SYN_RECEIVED;
	c->rtt_start = st->now;
	l->synq_len++;
	tcp_conn_hash_add(c);
	st->mib[TCP_MIB_PassiveOpens]++;
	/* The first SYN-ACK is no retransmission: SND.NXT moves after it. */
	tcp_send_seg(c, c->iss, 0, TCP_F_SYN);
	c->snd_nxt = c->snd_max = c->iss + 1;
	tcp_rexmit_start(c);
	return 0;
}

/* RFC 9293 3.10.7.3: SYN-SENT. */
static int
syn_sent_input(struct tcp_conn *c, const struct tcp_seg *s)
{
	struct tcp_stack *st = c->st;
	bool ack = s->flags & TCP_F_ACK;

	if (ack && (SEQ_LEQ(s->ack, c->iss) || SEQ_GT(s->ack, c->snd_max))) {
		tcp_send_rst_for(st, s);
		return -EINVAL;
	}
	if (s->flags & TCP_F_RST) {
		if (!ack)
			return -EINVAL;
		st->mib[TCP_MIB_InRsts]++;
		st->mib[TCP_MIB_AttemptFails]++;
		tcp_conn_done(c, ECONNREFUSED);
		return 0;
	}
	if (!(s->flags & TCP_F_SYN))
		return -EINVAL;
	{
		/* RFC 7323 2.2: our shift is the one our SYN announced (from
		 * the allocated buffer), not one recomputed from rcvbuf. */
		uint8_t ws = c->rcv_ws;
		negotiate(c, s);
		c->rcv_ws = c->ws_ok ? ws : 0;
	}
	c->irs = s->seq;
	c->rcv_nxt = c->rcv_adv = s->seq + 1;
	if (!ack) {
		/* Simultaneous open (RFC 9293 figure 8). */
		tcp_set_state(c, TCP_SYN_RECEIVED);
		c->snd_wnd = s->wnd;
		tcp_send_seg(c, c->iss, 0, TCP_F_SYN);
		return 0;
	}
	c->snd_una = s->ack;
	if (establish(c, s) < 0) {
		tcp_send_rst(c);
		tcp_conn_done(c, ENOMEM);
		return -ENOMEM;
	}
	/* A SYN-ACK's window is not scaled either. */
	c->snd_wnd = s->wnd;
	c->max_snd_wnd = c->snd_wnd;
	c->flags |= TCPF_ACK_NOW;
	tcp_event(c, TCP_EV_OUT);
	tcp_output(c);
	return 0;
}

/* RFC 2018: merge the peer's SACK blocks into the scoreboard. */
static void
sack_update(struct tcp_conn *c, const struct tcp_seg *s)
{
	for (unsigned b = 0; b < s->o.nsack; b++) {
		struct tcp_sack_block n = s->o.sack[b];
		unsigned i, j;

		/* Ignore blocks that are stale or beyond what we sent. */
		if (SEQ_LEQ(n.end, c->snd_una) || SEQ_GT(n.end, c->snd_max) ||
		    SEQ_GEQ(n.start, n.end))
			continue;
		if (SEQ_LT(n.start, c->snd_una))
			n.start = c->snd_una;
		for (i = 0, j = 0; i < c->nsacked; i++) {
			struct tcp_sack_block o = c->sacked[i];
			if (SEQ_LT(o.end, n.start) || SEQ_GT(o.start, n.end)) {
				c->sacked[j++] = o;
				continue;
			}
			n.start = SEQ_MIN(n.start, o.start);
			n.end = SEQ_MAX(n.end, o.end);
		}
		c->nsacked = (uint8_t)j;
		if (c->nsacked == TCP_MAX_OOO)
			continue;
		for (i = c->nsacked; i > 0 && SEQ_GT(c->sacked[i - 1].start, n.start); i--)
			c->sacked[i] = c->sacked[i - 1];
		c->sacked[i] = n;
		c->nsacked++;
	}
}

static void
sack_trim(struct tcp_conn *c)
{
	unsigned j = 0;

	for (unsigned i = 0; i < c->nsacked; i++) {
		if (SEQ_LEQ(c->sacked[i].end, c->snd_una))
			continue;
		c->sacked[j] = c->sacked[i];
		if (SEQ_LT(c->sacked[j].start, c->snd_una))
			c->sacked[j].start = c->snd_una;
		j++;
	}
	c->nsacked = (uint8_t)j;
}

static uint32_t
sacked_bytes(const struct tcp_conn *c)
{
	uint32_t n = 0;

	for (unsigned i = 0; i < c->nsacked; i++)
		n += c->sacked[i].end - c->sacked[i].start;
	return n;
}

/* Retransmit the first unacknowledged segment now, whatever the pipe
 * says: up to a segment, and not into what the peer SACKed. */
static void
rexmit_first(struct tcp_conn *c)
{
	uint32_t len = c->snd_max - c->snd_una, data_end = c->data_seq + c->snd.len;
	uint32_t smss = tcp_send_mss(c);
	bool fin = false;

	if (len > smss)
		len = smss;
	if (c->nsacked != 0 && SEQ_GT(c->sacked[0].start, c->snd_una) &&
	    c->sacked[0].start - c->snd_una < len)
		len = c->sacked[0].start - c->snd_una;
	if (c->snd_una + len == data_end + 1 && (c->flags & TCPF_FIN_QUEUED)) {
		len--;
		fin = true;
	}
	tcp_send_seg(c, c->snd_una, len, fin ? TCP_F_FIN : 0);
	/* Holes past this one may have gone already: never back. */
	if (SEQ_GT(c->snd_una + len + fin, c->rexmit_nxt))
		c->rexmit_nxt = c->snd_una + len + fin;
	tcp_lost_rexmit_arm(c);
}

/*
 * RFC 8985 (RACK) marks a segment lost when one sent after it is delivered;
 * RFC 6675 alone finds a lost retransmission only by the RTO, with cwnd
 * back to one segment.  The check here covers the hole that blocks snd_una:
 * when more than DupThresh - 1 segments' worth of data sent after its
 * retransmission has been SACKed (RFC 6675 IsLost, applied to that later
 * data), the retransmission was lost; it goes again at once, within the
 * same recovery (no second cwnd reduction, as with RACK).
 */
static void
lost_rexmit_check(struct tcp_conn *c)
{
	uint32_t above = 0;

	if (!c->lr_armed || !(c->flags & TCPF_RECOVERY))
		return;
	for (unsigned i = 0; i < c->nsacked; i++)
		if (SEQ_GT(c->sacked[i].end, c->lr_high))
			above += c->sacked[i].end - SEQ_MAX(c->sacked[i].start, c->lr_high);
	if (above <= 2u * c->mss)
		return;
	c->st->mib[TCP_MIB_LostRetransmits]++;
	rexmit_first(c);
}

/* RFC 5681 3.2 / RFC 6675 5: enter loss recovery. */
static void
enter_recovery(struct tcp_conn *c)
{
	struct tcp_stack *st = c->st;

	st->mib[TCP_MIB_FastRetrans]++;
	if (c->sack_ok && c->nsacked != 0)
		st->mib[TCP_MIB_SackRecoveries]++;
	tcp_cc_loss(c, false);
	c->recover = c->snd_max;
	c->rexmit_nxt = c->snd_una;
	c->flags |= TCPF_RECOVERY;
	c->rtt_timing = false;
	/* Step 4: retransmit the first segment. */
	rexmit_first(c);
	tcp_rexmit_start(c);
}

/* Drop acknowledged bytes from the send buffer. */
static void
snd_acked(struct tcp_conn *c, uint32_t ack)
{
	uint32_t data_end = c->data_seq + c->snd.len;
	uint32_t upto = SEQ_LT(ack, data_end) ? ack : data_end;

	if (SEQ_GT(upto, c->data_seq)) {
		uint32_t n = upto - c->data_seq;
		c->snd.head = (c->snd.head + n) & (c->snd.size - 1);
		c->snd.len -= n;
		c->data_seq = upto;
	}
}

/* The ACK field (RFC 9293 3.10.7.4 fifth, RFC 5961 5.2).  Returns false
 * when the segment is to be dropped. */
static bool
ack_input(struct tcp_conn *c, const struct tcp_seg *s)
{
	struct tcp_stack *st = c->st;
	uint32_t old_wnd = c->snd_wnd, wnd = (uint32_t)s->wnd << c->snd_ws;
	uint32_t lo = c->snd_una - (c->max_snd_wnd ? c->max_snd_wnd : 65535);

	if (SEQ_GT(s->ack, c->snd_max)) {
		c->flags |= TCPF_ACK_NOW;
		tcp_output(c);
		return false;
	}
	if (SEQ_LT(s->ack, lo)) {
		tcp_send_challenge_ack(c);
		return false;
	}
	/* RFC 7323 4.3 (2): the segment is kept; remember its timestamp if
	 * it starts at or before what our last ACK acknowledged, so that
	 * the echo of a delayed ACK is the earliest unacknowledged segment's
	 * (the peer's RTT then includes the delay).  PAWS already refused a
	 * TSval below TS.Recent. */
	if (c->ts_ok && (s->o.have & TCP_OPT_TS) && SEQ_LEQ(s->seq, c->last_ack_sent)) {
		c->ts_recent = s->o.tsval;
		c->ts_recent_ms = st->now;
	}
	if (c->sack_ok && s->o.nsack)
		sack_update(c, s);
	if (SEQ_GT(s->ack, c->snd_una)) {
		/* The SYN takes a sequence number but is no data: it does not
		 * grow cwnd (RFC 5681 3.1 counts bytes of data). */
		uint32_t acked = s->ack - c->snd_una - (c->snd_una == c->iss);
		uint32_t flight = c->snd_max - c->snd_una; /* before this ACK */
		bool was_full = c->snd.len == c->snd.size;

		if (c->ts_ok && (s->o.have & TCP_OPT_TS) && s->o.tsecr != 0)
			ts_rtt_sample(c, s->o.tsecr);
		else if (c->rtt_timing && SEQ_GEQ(s->ack, c->rtt_seq)) {
			tcp_rtt_sample(c, (uint32_t)(st->now - c->rtt_start));
			c->rtt_timing = false;
		}
		c->retransmits = 0;
		c->tlp_sent = false;
		snd_acked(c, s->ack);
		c->snd_una = s->ack;
		if (SEQ_LT(c->snd_nxt, c->snd_una))
			c->snd_nxt = c->snd_una;
		sack_trim(c);
		if (c->flags & TCPF_RECOVERY) {
			/* The hole being watched is acknowledged. */
			c->lr_armed = false;
			if (SEQ_GEQ(s->ack, c->recover)) {
				/* RFC 6582 3.2 step 3: full acknowledgment. */
				uint32_t f = c->snd_max - c->snd_una + c->mss;
				c->cwnd = c->ssthresh < f ? c->ssthresh : f;
				c->flags &= ~TCPF_RECOVERY;
				c->dupacks = 0;
			} else {
				/* The new first hole went again already, at some
				 * time before now: watch it from now on (late,
				 * so never too early). */
				if (c->sack_ok && SEQ_LT(c->snd_una, c->rexmit_nxt))
					tcp_lost_rexmit_arm(c);
				/* RFC 6582 3.2 step 4, partial ACK: the next hole
				 * is lost too; retransmit it now, even when the
				 * flight (not inflated by duplicates here) still
				 * exceeds cwnd, or only the RTO would repair it. */
				if (!c->sack_ok || c->nsacked == 0)
					rexmit_first(c);
			}
		} else {
			c->dupacks = 0;
			if (acked != 0)
				tcp_cc_ack(c, acked, flight);
			/* Keep the recovery point at or above snd_una, so that
			 * the comparison below stays within 2^31. */
			if (SEQ_LT(c->recover, c->snd_una))
				c->recover = c->snd_una;
		}
		if (c->snd_una == c->snd_max)
			tern_timer_stop(st->wheel, &c->t_rexmit);
		else
			tcp_rexmit_start(c);
		if (was_full || c->snd.size - c->snd.len >= c->snd.size / 2)
			tcp_event(c, TCP_EV_OUT);
	} else if (s->ack == c->snd_una && s->len == 0 && !(s->flags & (TCP_F_SYN | TCP_F_FIN)) &&
	           c->snd_una != c->snd_max &&
	           (wnd == old_wnd || (c->sack_ok && s->o.nsack != 0))) {
		/* RFC 5681 2: a duplicate ACK; with SACK, one that carries
		 * SACK blocks counts even when the window moved (RFC 6675 2:
		 * Linux receivers change it on almost every ACK). */
		c->dupacks++;
		/* RFC 6675 4 IsLost(): DupThresh ACKs, or more than
		 * (DupThresh - 1) * SMSS bytes SACKed above SND.UNA. */
		/* RFC 6582 3.2 step 1, RFC 6675 5: only when the ACK covers
		 * the recovery point, set at the last recovery or timeout. */
		if (!(c->flags & TCPF_RECOVERY) && SEQ_GEQ(s->ack, c->recover) &&
		    (c->dupacks >= 3 || (c->sack_ok && sacked_bytes(c) > 2u * c->mss)))
			enter_recovery(c);
	}
	/* Any ACK that leaves snd_una where it was may bring the SACK blocks
	 * that show a lost retransmission (not only duplicates: the peer's
	 * data segments carry them too). */
	if (s->ack == c->snd_una && c->lr_armed)
		lost_rexmit_check(c);
	/* RFC 9293 3.10.7.4: update the send window from newer segments. */
	if (SEQ_LT(c->snd_wl1, s->seq) || (c->snd_wl1 == s->seq && SEQ_LEQ(c->snd_wl2, s->ack))) {
		c->snd_wnd = wnd;
		c->snd_wl1 = s->seq;
		c->snd_wl2 = s->ack;
		if (wnd > c->max_snd_wnd)
			c->max_snd_wnd = wnd;
		if (old_wnd == 0 && wnd != 0 && (c->flags & TCPF_PERSIST)) {
			tern_timer_stop(st->wheel, &c->t_rexmit);
			c->flags &= ~TCPF_PERSIST;
			c->retransmits = 0;
			c->snd_nxt = c->snd_una; /* resend a probe byte, if one went */
		}
	}
	return true;
}

/* Put a segment's payload in the receive ring (RFC 9293 3.10.7.4 seventh:
 * the segment text goes to the receive buffer), skipping `skip` bytes:
 * piece by piece, to the end of the caller's chain however long it is
 * (struct tcp_seg), so that all SEG.LEN bytes arrive. */
static void
rcv_copy(struct tcp_conn *c, const struct tcp_seg *s, uint32_t skip, uint32_t off, uint32_t len)
{
	struct tcp_ring *r = &c->rcv;
	uint32_t pos = r->head + r->len + off;
	const void *chain = s->chain;
	const uint8_t *p = s->data;
	uint32_t n = s->dlen;

	for (; p != NULL && len != 0; p = s->next != NULL ? s->next(&chain, &n) : NULL) {
		if (skip >= n) {
			skip -= n;
			continue;
		}
		p += skip;
		n -= skip;
		skip = 0;
		if (n > len)
			n = len;
		for (uint32_t done = 0; done < n;) {
			uint32_t at = pos & (r->size - 1);
			uint32_t k = n - done < r->size - at ? n - done : r->size - at;
			memcpy(r->buf + at, p + done, k);
			done += k;
			pos += k;
		}
		len -= n;
	}
}

/* Record [start, end) as held out of order, most recent first. */
static void
ooo_add(struct tcp_conn *c, uint32_t start, uint32_t end)
{
	struct tcp_sack_block n = { start, end };
	unsigned j = 0;

	for (unsigned i = 0; i < c->nooo; i++) {
		struct tcp_sack_block o = c->ooo[i];
		if (SEQ_LT(o.end, n.start) || SEQ_GT(o.start, n.end)) {
			c->ooo[j++] = o;
			continue;
		}
		n.start = SEQ_MIN(n.start, o.start);
		n.end = SEQ_MAX(n.end, o.end);
	}
	c->nooo = (uint8_t)j;
	if (c->nooo == TCP_MAX_OOO) {
		c->st->mib[TCP_MIB_OfoDrops]++;
		return;
	}
	memmove(&c->ooo[1], &c->ooo[0], c->nooo * sizeof(c->ooo[0]));
	c->ooo[0] = n;
	c->nooo++;
	c->st->mib[TCP_MIB_OfoQueued]++;
}

/* In-order data reached rcv_nxt: take in any out-of-order ranges it joins. */
static void
ooo_merge(struct tcp_conn *c)
{
	bool again = true;

	while (again) {
		again = false;
		for (unsigned i = 0; i < c->nooo; i++) {
			struct tcp_sack_block o = c->ooo[i];
			if (SEQ_GT(o.start, c->rcv_nxt))
				continue;
			if (SEQ_GT(o.end, c->rcv_nxt)) {
				c->rcv.len += o.end - c->rcv_nxt;
				c->rcv_nxt = o.end;
			}
			memmove(&c->ooo[i], &c->ooo[i + 1], (c->nooo - i - 1) * sizeof(c->ooo[0]));
			c->nooo--;
			again = true;
			break;
		}
	}
}

/* RFC 9293 3.10.7.4 seventh: segment text. */
static void
data_input(struct tcp_conn *c, const struct tcp_seg *s, uint32_t seq, uint32_t skip, uint32_t len)
{
	uint32_t off = seq - c->rcv_nxt;
	bool had_ooo = c->nooo != 0;

	if (c->flags & TCPF_RD_SHUT) {
		/* shutdown(SHUT_RD): acknowledge and discard in-order data. */
		if (off == 0)
			c->rcv_nxt += len;
		c->flags |= TCPF_ACK_NOW;
		return;
	}
	/* The receive buffer is allocated by the first data; without memory
	 * the segment is dropped unacknowledged and comes again. */
	if (c->rcv.buf == NULL && tcp_ring_alloc(&c->rcv, c->rcvbuf) < 0) {
		c->st->mib[TCP_MIB_InErrs]++;
		return;
	}
	rcv_copy(c, s, skip, off, len);
	if (off != 0) {
		/* RFC 5681 4.2: an out-of-order segment is acknowledged at once. */
		ooo_add(c, seq, seq + len);
		c->flags |= TCPF_ACK_NOW;
		return;
	}
	c->rcv.len += len;
	c->rcv_nxt += len;
	if (had_ooo) {
		ooo_merge(c);
		c->flags |= TCPF_ACK_NOW; /* a hole filled: tell the sender now */
	}
	c->unacked_segs++;
	tcp_delack_schedule(c);
	tcp_event(c, TCP_EV_IN);
}

/* Our SYN is not acknowledged yet: SYN-RECEIVED, or FIN-WAIT-1 entered from
 * it by a close or shutdown with nothing to send (RFC 9293 3.10.4, which
 * sends the FIN at once).  The ACK of our SYN completes the handshake in
 * both (3.10.7.4 fifth, SYN-RECEIVED STATE). */
static bool
syn_unacked(const struct tcp_conn *c)
{
	return c->state == TCP_SYN_RECEIVED || (c->state == TCP_FIN_WAIT_1 && c->snd_una == c->iss);
}

/* A passive open's child whose handshake is not complete.  A child keeps
 * its listener as parent until accepted, and is accepted only once
 * synchronised; an active open (simultaneous open included) has none. */
static bool
passive_syn_received(const struct tcp_conn *c)
{
	return c->state == TCP_SYN_RECEIVED && c->parent != NULL;
}

/* Linux's tcp_invalid_ratelimit default: one answer per 500 ms. */
#define TCP_OOW_RATE_MS 500

/* Has `c` answered a retransmitted SYN within TCP_OOW_RATE_MS?  If not,
 * the answer about to go counts from now (Linux's tcp_oow_rate_limited). */
static bool
oow_rate_limited(struct tcp_conn *c)
{
	uint32_t now = (uint32_t)c->st->now;

	if (c->oow_ms != 0 && now - c->oow_ms < TCP_OOW_RATE_MS)
		return true;
	c->oow_ms = now != 0 ? now : 1; /* 0 means never */
	return false;
}

/* RFC 9293 3.10.7.4: SYN-RECEIVED and every synchronised state. */
static int
synced_input(struct tcp_conn *c, const struct tcp_seg *s)
{
	struct tcp_stack *st = c->st;
	struct tcp_seg trimmed;
	uint32_t seq, len, skip = 0, win;
	uint32_t data_end, seglen;
	bool fin, acceptable, fin_acked, synack = false;

	/* A retransmitted SYN for a passive open: answer with the SYN-ACK,
	 * at most once per TCP_OOW_RATE_MS (Linux's tcp_check_req, by
	 * tcp_invalid_ratelimit): SYNs repeated by the peer, or by a forger
	 * of its address, do not draw a SYN-ACK each. */
	if (c->state == TCP_SYN_RECEIVED && (s->flags & (TCP_F_SYN | TCP_F_ACK)) == TCP_F_SYN &&
	    s->seq == c->irs) {
		if (oow_rate_limited(c)) {
			st->mib[TCP_MIB_AckSkippedSynRecv]++;
			return 0;
		}
		tcp_send_seg(c, c->iss, 0, TCP_F_SYN);
		return 0;
	}
	/* RFC 9293 3.5.2, reset generation case 2: in a non-synchronised
	 * state, a segment that acknowledges something not yet sent draws
	 * <SEQ=SEG.ACK><CTL=RST> (3.10.7.4 fifth, SYN-RECEIVED) and the
	 * connection stays as it was.  A passive open checks the ACK before
	 * the sequence number, as Linux's tcp_check_req does: a SYN-ACK,
	 * whose SEQ is the peer's ISN and so out of window, is refused by a
	 * RST rather than an ACK.  (tcp_send_rst_for answers no RST.) */
	if (passive_syn_received(c) && (s->flags & TCP_F_ACK) &&
	    !(SEQ_LT(c->snd_una, s->ack) && SEQ_LEQ(s->ack, c->snd_max))) {
		tcp_send_rst_for(st, s);
		return -EINVAL;
	}
	/* Simultaneous open (RFC 9293 figure 8, line 6): the peer's SYN-ACK
	 * reaches us in SYN-RECEIVED.  Its SYN is the one we already hold;
	 * what is new is the ACK of ours, so take it as that ACK rather than
	 * drop it as out of window and wait for a retransmission.  Only after
	 * an active open: a passive one sent no SYN but its SYN-ACK, which a
	 * SYN-ACK cannot answer (Linux's tcp_check_req takes it as out of
	 * window too, and the connection waits for the real ACK). */
	if (syn_unacked(c) && c->parent == NULL &&
	    (s->flags & (TCP_F_SYN | TCP_F_ACK | TCP_F_RST)) == (TCP_F_SYN | TCP_F_ACK) &&
	    s->seq == c->irs) {
		trimmed = *s;
		trimmed.flags &= (uint8_t)~TCP_F_SYN;
		trimmed.seq++;
		s = &trimmed;
		synack = true;
	}
	seq = s->seq;
	len = s->len;
	seglen = s->len + !!(s->flags & TCP_F_SYN) + !!(s->flags & TCP_F_FIN);
	fin = s->flags & TCP_F_FIN;
	/* PAWS (RFC 7323 5.3): an old timestamp means an old duplicate. */
	if (c->ts_ok && (s->o.have & TCP_OPT_TS) && !(s->flags & TCP_F_RST) &&
	    (int32_t)(s->o.tsval - c->ts_recent) < 0 && st->now - c->ts_recent_ms < PAWS_IDLE_MS) {
		st->mib[TCP_MIB_PAWSDrops]++;
		c->flags |= TCPF_ACK_NOW;
		tcp_output(c);
		return -EINVAL;
	}
	/* First: is the segment in the receive window? */
	win = tcp_rcv_window(c);
	if (SEQ_GT(c->rcv_adv, c->rcv_nxt + win))
		win = c->rcv_adv - c->rcv_nxt;
	if (seglen == 0)
		acceptable = win == 0 ? seq == c->rcv_nxt
		                      : SEQ_LEQ(c->rcv_nxt, seq) && SEQ_LT(seq, c->rcv_nxt + win);
	else
		acceptable =
		    win != 0 && ((SEQ_LEQ(c->rcv_nxt, seq) && SEQ_LT(seq, c->rcv_nxt + win)) ||
		                 (SEQ_LEQ(c->rcv_nxt, seq + seglen - 1) &&
		                  SEQ_LT(seq + seglen - 1, c->rcv_nxt + win)));
	/* A zero window still takes ACKs, RSTs and a probe's in-order byte. */
	if (!acceptable && win == 0 && seq == c->rcv_nxt)
		acceptable = true;
	if (!acceptable) {
		if (s->flags & TCP_F_RST)
			return -EINVAL;
		st->mib[TCP_MIB_OutOfWindow]++;
		/* A retransmitted FIN in TIME-WAIT restarts the 2*MSL wait. */
		if (c->state == TCP_TIME_WAIT && fin)
			tern_timer_start(st->wheel, &c->t_keep, st->now + 2ull * st->cfg.msl_ms);
		c->flags |= TCPF_ACK_NOW;
		tcp_output(c);
		return -EINVAL;
	}
	/* Second: RST (RFC 5961 3.2: only an exact match resets). */
	if (s->flags & TCP_F_RST) {
		if (seq != c->rcv_nxt) {
			tcp_send_challenge_ack(c);
			return 0;
		}
		st->mib[TCP_MIB_InRsts]++;
		switch (c->state) {
		case TCP_SYN_RECEIVED:
			/* As Linux: a failed attempt; a passive open's child
			 * (tcp_check_req) an embryonic reset too. */
			st->mib[TCP_MIB_AttemptFails]++;
			if (c->parent != NULL)
				st->mib[TCP_MIB_EmbryonicRsts]++;
			tcp_conn_done(c, ECONNREFUSED);
			break;
		case TCP_ESTABLISHED:
		case TCP_CLOSE_WAIT:
			st->mib[TCP_MIB_EstabResets]++;
			/* fall through */
		case TCP_FIN_WAIT_1:
		case TCP_FIN_WAIT_2:
			tcp_conn_done(c, ECONNRESET);
			break;
		case TCP_TIME_WAIT:
			break; /* RFC 1337: TIME-WAIT assassination hazards */
		default:
			tcp_conn_done(c, 0);
			break;
		}
		return 0;
	}
	/* Fourth: the SYN bit.  RFC 9293 3.10.7.4, SYN-RECEIVED: "If the
	 * connection was initiated with a passive OPEN, then return this
	 * connection to the LISTEN state and return": a SYN in window that is
	 * not the one we hold (its retransmission got the SYN-ACK above; one
	 * at our IRS reaches here only with an ACK and data, and keeps the
	 * challenge ACK) ends the half-open child, and the listener stays.
	 * Its SYN queue slot and timer go with it.  As Linux's
	 * tcp_check_req (embryonic reset) and RFC 793's text for this case, a
	 * RST answers the SYN.  After an active open (simultaneous open) and
	 * in the synchronised states: a challenge ACK (RFC 5961 4.2). */
	if (s->flags & TCP_F_SYN) {
		if (passive_syn_received(c) && s->seq != c->irs) {
			st->mib[TCP_MIB_AttemptFails]++;
			st->mib[TCP_MIB_EmbryonicRsts]++;
			tcp_send_rst_for(st, s);
			tcp_conn_done(c, ECONNRESET);
			return 0;
		}
		tcp_send_challenge_ack(c);
		return 0;
	}
	/* Fifth: the ACK field. */
	if (!(s->flags & TCP_F_ACK))
		return -EINVAL;
	if (syn_unacked(c)) {
		struct tcp_conn *l = c->parent;
		if (!(SEQ_LT(c->snd_una, s->ack) && SEQ_LEQ(s->ack, c->snd_max))) {
			tcp_send_rst_for(st, s);
			return -EINVAL;
		}
		if (l != NULL && l->aq_len >= l->backlog) {
			/* Linux keeps it half-open and lets the SYN-ACK retry. */
			st->mib[TCP_MIB_ListenOverflows]++;
			return 0;
		}
		if (establish(c, s) < 0) {
			tcp_send_rst(c);
			tcp_conn_done(c, ENOMEM);
			return -ENOMEM;
		}
		if (l != NULL)
			acceptq_add(l, c);
		else
			tcp_event(c, TCP_EV_OUT);
		/* A close that waited for the handshake, or whose FIN went
		 * already (RFC 9293 3.10.4): FIN-WAIT-1, not ESTABLISHED. */
		if (c->flags & TCPF_FIN_QUEUED)
			tcp_set_state(c, TCP_FIN_WAIT_1);
	}
	/* An ACK for data never sent, or far too old: answered (an ACK, a
	 * challenge ACK), then dropped as tcp_refused. */
	if (!ack_input(c, s))
		return -EINVAL;
	/* RFC 7323 2.2: the window field of a SYN or SYN-ACK is never scaled;
	 * establish() and ack_input() took this one, the SYN stripped, as
	 * scaled.  (Linux's tcp_rcv_state_process scales it in SYN-RECV.) */
	if (synack) {
		c->snd_wnd = s->wnd;
		c->max_snd_wnd = c->snd_wnd;
	}
	c->last_rx_ms = st->now;
	c->keep_probes = 0;
	data_end = c->data_seq + c->snd.len;
	fin_acked = (c->flags & TCPF_FIN_QUEUED) && c->snd_una == data_end + 1;
	switch (c->state) {
	case TCP_FIN_WAIT_1:
		if (fin_acked) {
			tcp_set_state(c, TCP_FIN_WAIT_2);
			if (c->flags & TCPF_ORPHAN)
				tcp_finwait2_start(c);
			else
				tcp_keep_reset(c);
		}
		break;
	case TCP_CLOSING:
		if (fin_acked) {
			tcp_timewait_start(c);
			return 0;
		}
		break;
	case TCP_LAST_ACK:
		if (fin_acked) {
			tcp_conn_done(c, 0);
			return 0;
		}
		break;
	case TCP_TIME_WAIT:
		if (fin) {
			c->flags |= TCPF_ACK_NOW;
			tern_timer_start(st->wheel, &c->t_keep, st->now + 2ull * st->cfg.msl_ms);
			tcp_output(c);
		}
		return 0;
	default:
		break;
	}
	/* RFC 1122 4.2.2.13 (RFC 2525 2.17): new data for a connection the
	 * application closed, or shut down for reading, can never be
	 * delivered: reset rather than acknowledge it, so that the peer
	 * learns it was lost.  As Linux's tcp_rcv_state_process in FIN-WAIT-1
	 * and FIN-WAIT-2 with RCV_SHUTDOWN: data past RCV.NXT (a FIN alone or
	 * a retransmission of what we have does not count), TCPAbortOnData. */
	if ((c->state == TCP_FIN_WAIT_1 || c->state == TCP_FIN_WAIT_2) &&
	    (c->flags & (TCPF_ORPHAN | TCPF_RD_SHUT)) && len != 0 &&
	    SEQ_GT(seq + len, c->rcv_nxt)) {
		st->mib[TCP_MIB_AbortOnData]++;
		tcp_send_rst(c);
		tcp_conn_done(c, ECONNRESET);
		return 0;
	}
	/* Seventh: the text, trimmed to what is new and fits the window. */
	if (SEQ_LT(seq, c->rcv_nxt)) {
		uint32_t d = c->rcv_nxt - seq;
		if (d >= len) {
			if (len != 0)
				c->flags |= TCPF_ACK_NOW; /* a duplicate */
			skip = len;
			len = 0;
		} else {
			skip = d;
			len -= d;
		}
		seq = c->rcv_nxt;
	}
	win = tcp_rcv_window(c);
	if (len != 0 && SEQ_GT(seq + len, c->rcv_nxt + win)) {
		len = SEQ_GT(c->rcv_nxt + win, seq) ? c->rcv_nxt + win - seq : 0;
		fin = false;
		c->flags |= TCPF_ACK_NOW;
	}
	if (len != 0) {
		switch (c->state) {
		case TCP_ESTABLISHED:
		case TCP_FIN_WAIT_1:
		case TCP_FIN_WAIT_2:
			data_input(c, s, seq, skip, len);
			break;
		default:
			break; /* the peer has sent its FIN already */
		}
	}
	/* Eighth: FIN, once everything before it is here (RFC 9293 3.10.7.4
	 * eighth: "FIN implies PUSH for any segment text not yet delivered";
	 * it takes effect at its place in the sequence).  One that arrives
	 * ahead of a hole is held with the out-of-order data, as Linux's
	 * out-of-order queue holds it, and taken when the hole fills:
	 * forgetting it would leave the peer to retransmit it after its RTO.
	 * Data held past a FIN is none of the connection's. */
	if (fin && !(c->flags & TCPF_FIN_RCVD) && SEQ_GT(seq + len, c->rcv_nxt)) {
		c->ooo_fin = true;
		c->ooo_fin_seq = seq + len;
		c->flags |= TCPF_ACK_NOW; /* RFC 5681 4.2: out of order */
	} else if (c->ooo_fin && c->rcv_nxt == c->ooo_fin_seq && !(c->flags & TCPF_FIN_RCVD)) {
		fin = true;
		seq = c->rcv_nxt;
		len = 0;
		c->nooo = 0;
	}
	if (fin && seq + len == c->rcv_nxt && !(c->flags & TCPF_FIN_RCVD) && c->nooo == 0) {
		c->ooo_fin = false;
		c->rcv_nxt++;
		c->flags |= TCPF_FIN_RCVD | TCPF_ACK_NOW;
		switch (c->state) {
		case TCP_SYN_RECEIVED:
		case TCP_ESTABLISHED:
			tcp_set_state(c, TCP_CLOSE_WAIT);
			break;
		case TCP_FIN_WAIT_1:
			tcp_set_state(c, TCP_CLOSING);
			break;
		case TCP_FIN_WAIT_2:
			tcp_output(c);
			tcp_timewait_start(c);
			return 0;
		default:
			break;
		}
		tcp_event(c, TCP_EV_IN | TCP_EV_RDHUP);
	}
	if (c->flags & TCPF_KEEPALIVE)
		tcp_keep_reset(c);
	tcp_output(c);
	return 0;
}

/*
 * May a new SYN take over TIME-WAIT connection `c`?  RFC 6191 2: when the
 * old connection used timestamps and the new one will (the SYN carries
 * one), the timestamp decides: newer yes, older no (PAWS, RFC 7323 5: an
 * old duplicate), equal by the sequence number; otherwise RFC 1122
 * 4.2.2.13, a sequence number above the old RCV.NXT.  Linux's
 * tcp_timewait_state_process too refuses a SYN that fails PAWS.
 */
static bool
timewait_reusable(const struct tcp_conn *c, const struct tcp_seg *s)
{
	if (c->ts_ok && c->st->cfg.timestamps && (s->o.have & TCP_OPT_TS)) {
		int32_t d = (int32_t)(s->o.tsval - c->ts_recent);
		if (d != 0)
			return d > 0;
	}
	return SEQ_GT(s->seq, c->rcv_nxt);
}

int
tcp_input(struct tcp_stack *st, const struct tcp_seg *s, uint64_t now)
{
	struct tcp_conn *c, *l;

	st->now = now;
	st->mib[TCP_MIB_InSegs]++;
	c = tcp_conn_lookup(st, &s->t);
	/* RFC 6191 / RFC 1122 4.2.2.13: a new SYN may reuse a TIME-WAIT tuple
	 * when its timestamp, or without one its sequence number, is newer. */
	if (c != NULL && c->state == TCP_TIME_WAIT &&
	    (s->flags & (TCP_F_SYN | TCP_F_ACK | TCP_F_RST)) == TCP_F_SYN &&
	    (l = tcp_listener_lookup(st, s->t.laddr, s->t.lport)) != NULL &&
	    timewait_reusable(c, s)) {
		/* RFC 1122 4.2.2.13: the new connection's sequence space
		 * starts above the old one's, which the peer's old duplicates
		 * may still carry (the clock-driven ISN need not be above it
		 * after a fast transfer); as Linux, old SND.NXT + 65535 + 2. */
		uint32_t isn = c->snd_max + 65535 + 2;

		st->mib[TCP_MIB_TimeWaitReused]++;
		tcp_conn_done(c, 0);
		return listen_input(st, l, s, isn != 0 ? isn : 1);
	}
	if (c == NULL) {
		l = tcp_listener_lookup(st, s->t.laddr, s->t.lport);
		if (l != NULL)
			return listen_input(st, l, s, 0);
		tcp_send_rst_for(st, s);
		return -ENOENT;
	}
	if (c->state == TCP_SYN_SENT)
		return syn_sent_input(c, s);
	return synced_input(c, s);
}
