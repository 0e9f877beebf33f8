/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * TCP output, timers and congestion control: what to send and when
 * (Nagle RFC 896, sender and receiver SWS avoidance RFC 9293 3.8.6),
 * retransmission (RFC 6298), persist, delayed ACK, keepalive (RFC 1122
 * 4.2.3.6), TIME-WAIT, and Reno/NewReno (RFC 5681, 6582), SACK loss
 * recovery (RFC 6675) and CUBIC (RFC 9438).
 */
#include <errno.h>
#include <math.h>
#include <string.h>

#include "tcp/tcp_priv.h"

static uint32_t
ring_copy_out(const struct tcp_ring *r, uint32_t off, void *dst, uint32_t len)
{
	uint32_t start = (r->head + off) & (r->size - 1);
	uint32_t first = len < r->size - start ? len : r->size - start;

	memcpy(dst, r->buf + start, first);
	memcpy((uint8_t *)dst + first, r->buf, len - first);
	return len;
}

void
tcp_out_copy(const struct tcp_out *o, void *dst)
{
	const struct tcp_conn *c = o->c;

	if (c != NULL && o->len != 0)
		ring_copy_out(&c->snd, o->seq - c->data_seq, dst, o->len);
}

uint32_t
tcp_rcv_window(const struct tcp_conn *c)
{
	return c->rcv.buf != NULL ? c->rcv.size - c->rcv.len : tcp_ring_size_for(c->rcvbuf);
}

/* The window to advertise, unscaled: never shrink the right edge we
 * advertised (RFC 9293 3.8.6.2.2), and move it only by a full segment or
 * half the buffer (receiver SWS avoidance). */
static uint32_t
advertise(struct tcp_conn *c, bool syn)
{
	uint32_t win = tcp_rcv_window(c);
	uint32_t edge = c->rcv_nxt + win;
	uint32_t step = c->mss < c->rcv.size / 2 ? c->mss : c->rcv.size / 2;

	if (syn)
		return win > 65535 ? 65535 : win;
	/* The hold applies after a zero window too (rcv_adv == rcv_nxt): a
	 * few bytes read must not reopen it by less than a step.  Data
	 * taken past the advertised edge (a probe's byte, when there was
	 * room) leaves rcv_adv below rcv_nxt: hold at a zero window then. */
	if (SEQ_LT(edge, c->rcv_adv))
		edge = c->rcv_adv;
	else if (SEQ_GT(edge, c->rcv_adv) && edge - c->rcv_adv < step)
		edge = SEQ_MAX(c->rcv_adv, c->rcv_nxt);
	c->rcv_adv = edge;
	win = edge - c->rcv_nxt;
	if ((win >> c->rcv_ws) > 65535)
		win = 65535u << c->rcv_ws;
	return win;
}

void
tcp_send_seg(struct tcp_conn *c, uint32_t seq, uint32_t len, uint8_t flags)
{
	struct tcp_stack *st = c->st;
	struct tcp_out o = { .t = c->t, .seq = seq, .flags = flags };
	bool syn = flags & TCP_F_SYN;

	if (c->state != TCP_SYN_SENT)
		o.flags |= TCP_F_ACK;
	if (o.flags & TCP_F_ACK)
		o.ack = c->rcv_nxt;
	o.wnd = (uint16_t)(advertise(c, syn) >> (syn ? 0 : c->rcv_ws));
	o.optlen = (uint8_t)tcp_opts_build(c, o.flags, o.opt);
	if (len != 0) {
		o.c = c;
		o.len = len;
		if (len >= tcp_send_mss(c) || (flags & TCP_F_FIN))
			o.flags |= TCP_F_PSH;
		else if (seq + len == c->data_seq + c->snd.len)
			o.flags |= TCP_F_PSH;
	}
	if (o.flags & TCP_F_ACK) {
		c->last_ack_sent = o.ack;
		c->flags &= ~TCPF_ACK_NOW;
		c->unacked_segs = 0;
		tern_timer_stop(st->wheel, &c->t_delack);
	}
	if ((len != 0 || (flags & (TCP_F_SYN | TCP_F_FIN))) && SEQ_LT(seq, c->snd_max))
		st->mib[TCP_MIB_RetransSegs]++;
	st->mib[TCP_MIB_OutSegs]++;
	st->ops.output(st->ctx, &o);
}

/*
 * The sequence number of a segment without data: SND.NXT in RFC 9293, but
 * a timeout moves snd_nxt back to snd_una (go-back-N) while the peer may
 * hold everything up to snd_max; an ACK or RST carrying the older number is
 * out of its window, dropped with its ACK field unread (3.10.7.4), and the
 * two ends can trade unacceptable ACKs until both time out.  Like Linux's
 * tcp_acceptable_seq: snd_max, unless that is past the peer's window.
 */
static uint32_t
acceptable_seq(const struct tcp_conn *c)
{
	uint32_t wnd_end = c->snd_una + c->snd_wnd;

	if (SEQ_LEQ(c->snd_max, wnd_end))
		return c->snd_max;
	return SEQ_MAX(c->snd_nxt, wnd_end);
}

void
tcp_send_ack(struct tcp_conn *c)
{
	tcp_send_seg(c, acceptable_seq(c), 0, 0);
}

void
tcp_send_challenge_ack(struct tcp_conn *c)
{
	struct tcp_stack *st = c->st;
	uint64_t sec = st->now / 1000;

	if (sec != st->challenge_sec) {
		st->challenge_sec = sec;
		st->challenge_count = 0;
	}
	if (++st->challenge_count > st->cfg.challenge_ack_limit) {
		st->mib[TCP_MIB_ChallengeACKsLimited]++;
		return;
	}
	st->mib[TCP_MIB_ChallengeACKs]++;
	tcp_send_ack(c);
}

void
tcp_send_rst(struct tcp_conn *c)
{
	struct tcp_stack *st = c->st;
	struct tcp_out o = { .t = c->t,
		             .seq = acceptable_seq(c),
		             .ack = c->rcv_nxt,
		             .flags = TCP_F_RST | TCP_F_ACK };

	c->last_ack_sent = o.ack;
	st->mib[TCP_MIB_OutRsts]++;
	st->mib[TCP_MIB_OutSegs]++;
	if (c->state == TCP_ESTABLISHED || c->state == TCP_CLOSE_WAIT)
		st->mib[TCP_MIB_EstabResets]++;
	st->ops.output(st->ctx, &o);
}

/* RFC 9293 3.10.7.1: the reply to a segment for no connection. */
void
tcp_send_rst_for(struct tcp_stack *st, const struct tcp_seg *s)
{
	struct tcp_out o = { .t = s->t };

	if (s->flags & TCP_F_RST)
		return;
	if (s->flags & TCP_F_ACK) {
		o.seq = s->ack;
		o.flags = TCP_F_RST;
	} else {
		o.seq = 0;
		o.ack = s->seq + s->len + !!(s->flags & TCP_F_SYN) + !!(s->flags & TCP_F_FIN);
		o.flags = TCP_F_RST | TCP_F_ACK;
	}
	st->mib[TCP_MIB_OutRsts]++;
	st->mib[TCP_MIB_OutSegs]++;
	st->ops.output(st->ctx, &o);
}

/* ---- Timers ---- */

static bool is_sacked(const struct tcp_conn *c, uint32_t seq, uint32_t *end);
static void output(struct tcp_conn *c, bool force);

void
tcp_rexmit_start(struct tcp_conn *c)
{
	uint64_t rto = (uint64_t)c->rto << (c->retransmits < 16 ? c->retransmits : 16), pto;

	if (rto > c->st->cfg.rto_max_ms)
		rto = c->st->cfg.rto_max_ms;
	c->flags &= ~(TCPF_PERSIST | TCPF_TLP);
	/* RFC 8985 7.2: with SACK and an RTT estimate, probe after 2*SRTT
	 * (plus a delayed ACK when one segment is out) rather than wait for
	 * the RTO: a lost tail then costs one round trip, not a timeout and
	 * a window of one segment. */
	if (c->sack_ok && c->srtt != 0 && c->retransmits == 0 && !c->tlp_sent &&
	    !(c->flags & TCPF_RECOVERY) &&
	    (c->state == TCP_ESTABLISHED || c->state == TCP_CLOSE_WAIT)) {
		pto = 2ull * (c->srtt >> 3);
		if (c->snd_max - c->snd_una <= c->mss)
			pto += c->st->cfg.delack_ms;
		if (pto < 10)
			pto = 10;
		if (pto < rto) {
			c->flags |= TCPF_TLP;
			rto = pto;
		}
	}
	tern_timer_start(c->st->wheel, &c->t_rexmit, c->st->now + rto);
}

/*
 * RFC 8985 7.3: the loss probe.  New data if the windows allow; else the
 * first hole the SACK scoreboard shows, or the last segment sent, so that
 * the ACK it draws tells the sender what is missing.  Then the RTO.
 */
static void
tail_loss_probe(struct tcp_conn *c)
{
	uint32_t data_end = c->data_seq + c->snd.len, seq, len, end;
	uint32_t smss = tcp_send_mss(c);

	c->flags &= ~TCPF_TLP;
	c->tlp_sent = true;
	c->st->mib[TCP_MIB_TailLossProbes]++;
	if (SEQ_LT(c->snd_nxt, data_end) &&
	    SEQ_LT(c->snd_nxt,
	           c->snd_una + (c->snd_wnd < c->cwnd + c->mss ? c->snd_wnd : c->cwnd + c->mss))) {
		uint32_t room = c->snd_una + c->snd_wnd - c->snd_nxt;
		len = data_end - c->snd_nxt < smss ? data_end - c->snd_nxt : smss;
		/* New data only as far as the peer's window (RFC 8985 7.3). */
		if (len > room)
			len = room;
		tcp_send_seg(c, c->snd_nxt, len, 0);
		c->snd_nxt += len;
		if (SEQ_GT(c->snd_nxt, c->snd_max))
			c->snd_max = c->snd_nxt;
	} else {
		seq = c->snd_una;
		if (c->nsacked != 0) {
			while (is_sacked(c, seq, &end))
				seq = end;
		} else if (c->snd_max - c->snd_una > smss) {
			seq = c->snd_max - smss;
		}
		len = c->snd_max - seq < smss ? c->snd_max - seq : smss;
		if (seq + len == data_end + 1 && (c->flags & TCPF_FIN_QUEUED))
			tcp_send_seg(c, seq, len - 1, TCP_F_FIN);
		else
			tcp_send_seg(c, seq, len, 0);
	}
	tcp_rexmit_start(c);
}

static void
persist_start(struct tcp_conn *c)
{
	uint64_t t = (uint64_t)c->rto << (c->retransmits < 16 ? c->retransmits : 16);

	/* RFC 9293 3.8.6.1: probe a zero window, backing off like the RTO
	 * but between 200 ms and 120 s. */
	if (t < 200)
		t = 200;
	if (t > 120000)
		t = 120000;
	c->flags |= TCPF_PERSIST;
	tern_timer_start(c->st->wheel, &c->t_rexmit, c->st->now + t);
}

void
tcp_delack_schedule(struct tcp_conn *c)
{
	/* RFC 1122 4.2.3.2 and RFC 9293 3.8.6.3: ACK at least every second
	 * full-sized segment, and delay no ACK beyond delack_ms (<= 200 ms). */
	if (c->unacked_segs >= 2 || (c->flags & TCPF_ACK_NOW)) {
		c->flags |= TCPF_ACK_NOW;
		return;
	}
	if (!tern_timer_pending(&c->t_delack))
		tern_timer_start(c->st->wheel, &c->t_delack, c->st->now + c->st->cfg.delack_ms);
}

void
tcp_keep_reset(struct tcp_conn *c)
{
	struct tcp_stack *st = c->st;

	c->last_rx_ms = st->now;
	c->keep_probes = 0;
	if (c->state == TCP_TIME_WAIT)
		return;
	/* An orphan's FIN-WAIT-2 timer runs from tcp_finwait2_start(): a
	 * segment from the peer must not push it back, or a peer that keeps
	 * talking (an ACK now and then, as with SO_KEEPALIVE) keeps the
	 * orphan alive for ever. */
	if (c->state == TCP_FIN_WAIT_2 && (c->flags & TCPF_ORPHAN)) {
		if (!tern_timer_pending(&c->t_keep))
			tcp_finwait2_start(c);
		return;
	}
	if (!(c->flags & TCPF_KEEPALIVE)) {
		tern_timer_stop(st->wheel, &c->t_keep);
		return;
	}
	/* The callback works out the idle time; arming once is enough,
	 * unless the timer is set later than the (maybe just shortened) idle
	 * time: SO_KEEPALIVE then TCP_KEEPIDLE must not wait the default 2 h. */
	if (!tern_timer_pending(&c->t_keep) || c->t_keep.expires > st->now + tcp_keep_idle(c))
		tern_timer_start(st->wheel, &c->t_keep, st->now + tcp_keep_idle(c));
}

void
tcp_finwait2_start(struct tcp_conn *c)
{
	struct tcp_stack *st = c->st;

	/* Linux's tcp_fin_timeout: armed once, when the orphan reaches
	 * FIN-WAIT-2 (tcp_close, tcp_rcv_state_process), in place of any
	 * keepalive timer; nothing the peer sends restarts it.  RFC 9293
	 * sets no limit, but an orphan has nobody to read or close it. */
	tern_timer_start(st->wheel, &c->t_keep, st->now + st->cfg.fin_timeout_ms);
}

void
tcp_timewait_start(struct tcp_conn *c)
{
	struct tcp_stack *st = c->st;

	tcp_set_state(c, TCP_TIME_WAIT);
	tern_timer_stop(st->wheel, &c->t_rexmit);
	tern_timer_stop(st->wheel, &c->t_delack);
	/* Nothing is sent or taken in TIME-WAIT: everything we sent was
	 * acknowledged (our FIN was), and the peer's FIN ended its data.  The
	 * buffers go now rather than after 2*MSL, so that the connections a
	 * busy server leaves in TIME-WAIT hold no buffer (docs/tcp.md,
	 * Memory); received data stays until the application reads it. */
	tcp_ring_free(&c->snd);
	c->nooo = 0;
	if (c->rcv.len == 0 || (c->flags & TCPF_ORPHAN))
		tcp_ring_free(&c->rcv);
	/* RFC 9293 3.6.1: 2*MSL. */
	tern_timer_start(st->wheel, &c->t_keep, st->now + 2ull * st->cfg.msl_ms);
	tcp_event(c, TCP_EV_IN | TCP_EV_HUP);
}

static void
rexmit_cb(struct tern_timer *t, void *arg)
{
	struct tcp_conn *c = arg;
	struct tcp_stack *st = c->st;

	(void)t;
	st->now = st->wheel->now;
	if (c->flags & TCPF_PERSIST) {
		/* A window below what SWS avoidance and Nagle wait for: the
		 * override timeout of RFC 9293 3.8.6.2.1 (RFC 1122 4.2.3.4)
		 * sends what it allows, so that a lost window update does not
		 * stall the connection. */
		if (c->snd_wnd != 0 || c->snd.len == 0) {
			c->flags &= ~TCPF_PERSIST;
			output(c, true);
			return;
		}
		/* A zero-window probe: one byte past the window (RFC 9293 3.8.6.1);
		 * the peer's ACK carries its current window. */
		if (c->retransmits < 15)
			c->retransmits++;
		/* RFC 9293 3.8.6.1: the connection stays open as long as the
		 * receiver acknowledges the probes.  An orphan gives up after
		 * retries2 probes all the same (nobody waits for it); another
		 * connection only when the peer has not been heard from for
		 * twice the largest RTO as well (Linux's
		 * tcp_rtx_probe0_timed_out): a dead peer does not hold it for
		 * ever. */
		if (c->retransmits >= st->cfg.retries2 &&
		    ((c->flags & TCPF_ORPHAN) ||
		     st->now - c->last_rx_ms > 2ull * st->cfg.rto_max_ms)) {
			tcp_send_rst(c);
			tcp_conn_done(c, ETIMEDOUT);
			return;
		}
		st->mib[TCP_MIB_ZeroWindowProbes]++;
		tcp_send_seg(c, c->snd_una - 1, 0, 0);
		persist_start(c);
		return;
	}
	/* Our SYN (or SYN-ACK) again, with backoff, up to its limit; also in
	 * FIN-WAIT-1 entered from SYN-RECEIVED by a close (RFC 9293 3.10.4)
	 * while the SYN is unacknowledged: the go-back-N below would take the
	 * SYN's sequence number for a byte of data, from a send buffer that
	 * does not exist.  The FIN goes again once the SYN is acknowledged. */
	if (c->state == TCP_SYN_SENT || c->state == TCP_SYN_RECEIVED || c->snd_una == c->iss) {
		uint8_t limit =
		    c->state == TCP_SYN_SENT ? st->cfg.syn_retries : st->cfg.synack_retries;
		if (c->retransmits >= limit) {
			st->mib[TCP_MIB_AttemptFails]++;
			tcp_conn_done(c, ETIMEDOUT);
			return;
		}
		c->retransmits++;
		st->mib[TCP_MIB_SynRetrans]++;
		tcp_send_seg(c, c->iss, 0, TCP_F_SYN);
		tcp_rexmit_start(c);
		return;
	}
	if (c->snd_una == c->snd_max)
		return; /* everything was acknowledged meanwhile */
	if (c->flags & TCPF_TLP) {
		tail_loss_probe(c);
		return;
	}
	/* The window shrank to zero with data in flight (RFC 9293 3.8.6.2.2
	 * says a receiver SHOULD NOT, not MUST NOT): a retransmission is
	 * refused, and retrying it until retries2 would end a connection
	 * whose peer answers every time.  RFC 9293 3.8.6.1: a zero window
	 * MUST be probed, and the sender SHOULD NOT give up while the
	 * receiver acknowledges the probes.  So go back to SND.UNA, as a
	 * timeout does, and switch to the persist timer: its probes draw
	 * the window, and when it opens ack_input() sends from SND.UNA
	 * again (Linux's tcp_retransmit_timer likewise keeps probing a zero
	 * window, not counting it towards the retries).  A FIN alone in
	 * flight needs no window and takes the usual path. */
	if (c->snd_wnd == 0 && SEQ_LT(c->snd_una, c->data_seq + c->snd.len)) {
		c->flags &= ~TCPF_RECOVERY;
		c->recover = c->snd_max;
		c->lr_armed = false;
		c->nsacked = 0;
		c->dupacks = 0;
		c->rtt_timing = false;
		c->snd_nxt = c->snd_una;
		if (c->retransmits < 15)
			c->retransmits++;
		st->mib[TCP_MIB_ZeroWindowProbes]++;
		tcp_send_seg(c, c->snd_una - 1, 0, 0);
		persist_start(c);
		return;
	}
	if (c->retransmits >= st->cfg.retries2) {
		tcp_send_rst(c);
		tcp_conn_done(c, ETIMEDOUT);
		return;
	}
	st->mib[TCP_MIB_Timeouts]++;
	c->retransmits++;
	tcp_cc_loss(c, true);
	/* RFC 6298 5.5-5.7: back off, go back to the first unacknowledged
	 * byte, and no RTT sample from retransmitted data (Karn). */
	c->flags &= ~TCPF_RECOVERY;
	/* RFC 6582 4, RFC 6675 5.1: the recovery point is what was sent
	 * before the timeout; duplicate ACKs below it come from the
	 * go-back-N resend, not a new loss, and start no fast recovery. */
	c->recover = c->snd_max;
	c->lr_armed = false;
	c->nsacked = 0;
	c->dupacks = 0;
	c->rtt_timing = false;
	c->snd_nxt = c->snd_una;
	tcp_output(c);
	if (!tern_timer_pending(&c->t_rexmit))
		tcp_rexmit_start(c);
}

static void
delack_cb(struct tern_timer *t, void *arg)
{
	struct tcp_conn *c = arg;

	(void)t;
	c->st->now = c->st->wheel->now;
	c->st->mib[TCP_MIB_DelayedACKs]++;
	tcp_send_ack(c);
}

static void
keep_cb(struct tern_timer *t, void *arg)
{
	struct tcp_conn *c = arg;
	struct tcp_stack *st = c->st;
	uint64_t idle;

	(void)t;
	st->now = st->wheel->now;
	if (c->state == TCP_TIME_WAIT) {
		tcp_conn_done(c, 0);
		return;
	}
	if (c->state == TCP_FIN_WAIT_2 && (c->flags & TCPF_ORPHAN)) {
		st->mib[TCP_MIB_FinWait2Timeouts]++;
		tcp_conn_done(c, 0);
		return;
	}
	if (!(c->flags & TCPF_KEEPALIVE) || c->state < TCP_ESTABLISHED)
		return;
	idle = st->now - c->last_rx_ms;
	/* Data in flight: the retransmission timer is watching the peer. */
	if (c->snd_una != c->snd_max) {
		tern_timer_start(st->wheel, &c->t_keep, st->now + tcp_keep_idle(c));
		return;
	}
	if (c->keep_probes == 0 && idle < tcp_keep_idle(c)) {
		tern_timer_start(st->wheel, &c->t_keep, c->last_rx_ms + tcp_keep_idle(c));
		return;
	}
	if (c->keep_probes >= tcp_keep_cnt(c)) {
		st->mib[TCP_MIB_KeepaliveTimeouts]++;
		tcp_send_rst(c);
		tcp_conn_done(c, ETIMEDOUT);
		return;
	}
	/* RFC 1122 4.2.3.6: SEG.SEQ = SND.NXT-1, no data, to draw an ACK. */
	c->keep_probes++;
	st->mib[TCP_MIB_KeepaliveProbes]++;
	tcp_send_seg(c, c->snd_una - 1, 0, 0);
	tern_timer_start(st->wheel, &c->t_keep, st->now + tcp_keep_intvl(c));
}

void
tcp_timers_init(struct tcp_conn *c)
{
	tern_timer_init(&c->t_rexmit, rexmit_cb, c);
	tern_timer_init(&c->t_delack, delack_cb, c);
	tern_timer_init(&c->t_keep, keep_cb, c);
}

void
tcp_timers_stop(struct tcp_conn *c)
{
	tern_timer_stop(c->st->wheel, &c->t_rexmit);
	tern_timer_stop(c->st->wheel, &c->t_delack);
	tern_timer_stop(c->st->wheel, &c->t_keep);
}

/* RFC 6298 2.2-2.4 (srtt scaled by 8, rttvar by 4, clock granularity 1 ms). */
void
tcp_rtt_sample(struct tcp_conn *c, uint32_t r)
{
	const struct tcp_cfg *cfg = &c->st->cfg;
	uint32_t rto;

	if (r == 0)
		r = 1;
	/* A sample above the largest RTO could only take the RTO to that
	 * maximum, and unclamped it overflows the scaled sums below: an ACK
	 * echoing a timestamp from long ago (RFC 7323 4.1; a broken peer, or
	 * an echo kept across a long outage) reads as up to 2^31 ms, and
	 * srtt = r << 3 wraps, to 0 ("no sample yet") at 2^29. */
	if (r > cfg->rto_max_ms)
		r = cfg->rto_max_ms;
	if (c->srtt == 0) {
		c->srtt = r << 3;
		c->rttvar = r << 1;
	} else {
		int32_t delta = (int32_t)r - (int32_t)(c->srtt >> 3);
		c->srtt = (uint32_t)((int32_t)c->srtt + delta);
		if (delta < 0)
			delta = -delta;
		c->rttvar = (uint32_t)((int32_t)c->rttvar + delta - (int32_t)(c->rttvar >> 2));
	}
	rto = (c->srtt >> 3) + (c->rttvar > 1 ? c->rttvar : 1);
	if (rto < cfg->rto_min_ms)
		rto = cfg->rto_min_ms;
	if (rto > cfg->rto_max_ms)
		rto = cfg->rto_max_ms;
	c->rto = rto;
}

/* ---- Congestion control ---- */

#define CUBIC_C    0.4
#define CUBIC_BETA 0.7

uint32_t
tcp_flight(const struct tcp_conn *c)
{
	uint32_t f = c->snd_max - c->snd_una, s = 0;

	for (unsigned i = 0; i < c->nsacked; i++)
		s += c->sacked[i].end - c->sacked[i].start;
	return s < f ? f - s : 0;
}

static void
cubic_ack(struct tcp_conn *c, uint32_t acked)
{
	double mss = c->mss, cwnd = c->cwnd / mss, t, w_cubic, w_est, target;
	double rtt = c->srtt ? (c->srtt >> 3) / 1000.0 : 0.1;
	struct tcp_stack *st = c->st;

	if (c->cubic_epoch == 0) {
		c->cubic_epoch = st->now ? st->now : 1;
		if (cwnd < c->w_max / mss) {
			c->cubic_k_ms = (uint32_t)(cbrt((c->w_max / mss - cwnd) / CUBIC_C) * 1000);
			c->cubic_origin = c->w_max;
		} else {
			c->cubic_k_ms = 0;
			c->cubic_origin = c->cwnd;
		}
	}
	/* RFC 9438 4.2: W_cubic(t + RTT), and the Reno-friendly estimate 4.3. */
	t = (st->now - c->cubic_epoch) / 1000.0 + rtt - c->cubic_k_ms / 1000.0;
	w_cubic = CUBIC_C * t * t * t + c->cubic_origin / mss;
	w_est = (c->w_max / mss) * CUBIC_BETA + (3 * (1 - CUBIC_BETA) / (1 + CUBIC_BETA)) *
	                                            ((st->now - c->cubic_epoch) / 1000.0) /
	                                            (rtt > 0 ? rtt : 0.1);
	target = w_cubic > w_est ? w_cubic : w_est;
	if (target > 1.5 * cwnd)
		target = 1.5 * cwnd;
	if (target > cwnd) {
		c->bytes_acked += (uint32_t)(acked * (target - cwnd));
		while (c->bytes_acked >= c->cwnd) {
			c->bytes_acked -= c->cwnd;
			c->cwnd += c->mss;
		}
	} else {
		/* Grow by at most one segment per 100 RTTs (RFC 9438 4.2). */
		c->bytes_acked += acked / 100;
		if (c->bytes_acked >= c->cwnd) {
			c->bytes_acked = 0;
			c->cwnd += c->mss;
		}
	}
}

/*
 * RFC 7661 4.1 (and Linux's tcp_is_cwnd_limited): cwnd grows only while it
 * limits the sender.  In slow start the flight may lag cwnd by up to half
 * (the ACK clock doubles it each round trip), so twice the flight must be
 * above cwnd; in congestion avoidance the flight must fill cwnd to within a
 * segment.  An application- or receiver-limited sender would otherwise
 * inflate cwnd by every byte acknowledged, until the uint32 wraps.
 */
static bool
cwnd_limited(const struct tcp_conn *c, uint32_t flight)
{
	if (c->cwnd < c->ssthresh)
		return (uint64_t)flight * 2 > c->cwnd;
	return (uint64_t)flight + c->mss >= c->cwnd;
}

void
tcp_cc_ack(struct tcp_conn *c, uint32_t acked, uint32_t flight)
{
	if (!cwnd_limited(c, flight))
		return;
	if (c->cwnd < c->ssthresh) {
		/* Slow start, with appropriate byte counting (RFC 3465, L = 2). */
		c->cwnd += acked < 2u * c->mss ? acked : 2u * c->mss;
	} else if (c->cc == TCP_CC_CUBIC) {
		cubic_ack(c, acked);
	} else {
		/* RFC 5681 3.1: one segment per window of data acknowledged. */
		c->bytes_acked += acked;
		if (c->bytes_acked >= c->cwnd) {
			c->bytes_acked -= c->cwnd;
			c->cwnd += c->mss;
		}
	}
	if (c->cwnd > TCP_CWND_MAX)
		c->cwnd = TCP_CWND_MAX;
}

void
tcp_cc_loss(struct tcp_conn *c, bool timeout)
{
	uint32_t flight = c->snd_max - c->snd_una;
	uint32_t min = 2u * c->mss;

	/* RFC 5681 (4): when the timer retransmits a segment again, ssthresh
	 * is held (and CUBIC's W_max: a window of one segment would
	 * otherwise shrink it at every backoff). */
	if (timeout && c->retransmits > 1) {
		c->cwnd = c->mss;
		c->bytes_acked = 0;
		return;
	}
	/* Limited transmit (RFC 3042) lets the flight pass cwnd by up to two
	 * segments before fast retransmit: those say nothing of what the path
	 * took, so the flight counts at most cwnd here. */
	if (!timeout && flight > c->cwnd)
		flight = c->cwnd;

	if (c->cc == TCP_CC_CUBIC) {
		/* RFC 9438 4.6-4.7, with fast convergence: W_max from cwnd,
		 * but ssthresh = flight_size * beta_cubic, so that a cwnd the
		 * sender never filled does not set the next window. */
		if (c->cwnd < c->w_max)
			c->w_max = (uint32_t)(c->cwnd * (1 + CUBIC_BETA) / 2);
		else
			c->w_max = c->cwnd;
		c->ssthresh = (uint32_t)(flight * CUBIC_BETA);
		c->cubic_epoch = 0;
	} else {
		c->ssthresh = flight / 2; /* RFC 5681 (4) */
	}
	if (c->ssthresh < min)
		c->ssthresh = min;
	c->cwnd = timeout ? c->mss : c->ssthresh;
	c->bytes_acked = 0;
}

/* ---- Output ---- */

static bool
is_sacked(const struct tcp_conn *c, uint32_t seq, uint32_t *end)
{
	for (unsigned i = 0; i < c->nsacked; i++) {
		if (SEQ_GEQ(seq, c->sacked[i].start) && SEQ_LT(seq, c->sacked[i].end)) {
			*end = c->sacked[i].end;
			return true;
		}
	}
	return false;
}

/*
 * Loss recovery (RFC 6675 5, RFC 6582 with no SACK): while the estimate of
 * what is in the network is below cwnd, retransmit the next hole below the
 * highest SACKed byte, else send new data.
 */
static void
recovery_output(struct tcp_conn *c)
{
	uint32_t high = c->snd_una, end, smss = tcp_send_mss(c);

	for (unsigned i = 0; i < c->nsacked; i++)
		high = SEQ_MAX(high, c->sacked[i].end);
	if (!c->sack_ok || c->nsacked == 0)
		high = SEQ_MIN(c->snd_una + c->mss, c->snd_max);
	for (int guard = 0; guard < 64 && tcp_flight(c) < c->cwnd; guard++) {
		uint32_t seq = SEQ_MAX(c->rexmit_nxt, c->snd_una), len;
		while (SEQ_LT(seq, high) && is_sacked(c, seq, &end))
			seq = end;
		if (SEQ_GEQ(seq, high))
			break;
		len = high - seq;
		for (unsigned i = 0; i < c->nsacked; i++)
			if (SEQ_GT(c->sacked[i].start, seq) && c->sacked[i].start - seq < len)
				len = c->sacked[i].start - seq;
		if (len > smss)
			len = smss;
		if (seq + len == c->data_seq + c->snd.len + 1) /* the FIN */
			tcp_send_seg(c, seq, len - 1, TCP_F_FIN);
		else
			tcp_send_seg(c, seq, len, 0);
		c->rexmit_nxt = seq + len;
		if (seq == c->snd_una)
			tcp_lost_rexmit_arm(c);
		/* Retransmitted bytes are in flight again: count them once by
		 * moving past them (the estimate stays conservative). */
		if (!c->sack_ok || c->nsacked == 0)
			break;
	}
}

/* Send what the windows allow; `force`: the first segment goes even when
 * sender SWS avoidance or Nagle would hold it (the persist timer fired). */
static void
output(struct tcp_conn *c, bool force)
{
	struct tcp_stack *st = c->st;
	uint32_t data_end, win, avail, len, smss;
	int32_t usable;
	bool fin, sent = false;

	switch (c->state) {
	case TCP_ESTABLISHED:
	case TCP_CLOSE_WAIT:
	case TCP_FIN_WAIT_1:
	case TCP_CLOSING:
	case TCP_LAST_ACK:
		break;
	case TCP_SYN_RECEIVED:
		/* A shutdown before the handshake completed: FIN waits for it. */
	default:
		if (c->flags & TCPF_ACK_NOW)
			tcp_send_ack(c);
		return;
	}
	if (c->flags & TCPF_RECOVERY)
		recovery_output(c);
	for (;;) {
		data_end = c->data_seq + c->snd.len;
		win = c->snd_wnd < c->cwnd ? c->snd_wnd : c->cwnd;
		/* RFC 3042 limited transmit (RFC 5681 3.2 SHOULD): each of the
		 * first two duplicate ACKs lets one new segment go, so that a
		 * small window still draws the three duplicates fast
		 * retransmit needs instead of waiting for the RTO. */
		if (!(c->flags & TCPF_RECOVERY) && c->dupacks > 0 && c->dupacks < 3) {
			uint32_t lt = c->cwnd + c->dupacks * (uint32_t)c->mss;
			win = c->snd_wnd < lt ? c->snd_wnd : lt;
		}
		if (c->flags & TCPF_RECOVERY) {
			uint32_t f = tcp_flight(c);
			win = f < c->cwnd ? c->snd_nxt - c->snd_una + (c->cwnd - f) : 0;
			if (win > c->snd_wnd)
				win = c->snd_wnd;
		}
		usable = (int32_t)(c->snd_una + win - c->snd_nxt);
		avail = SEQ_LT(c->snd_nxt, data_end) ? data_end - c->snd_nxt : 0;
		smss = tcp_send_mss(c);
		len = avail < smss ? avail : smss;
		if (usable < (int32_t)len)
			len = usable > 0 ? (uint32_t)usable : 0;
		fin = (c->flags & TCPF_FIN_QUEUED) && c->snd_nxt + len == data_end &&
		      c->state != TCP_CLOSE_WAIT && c->state != TCP_ESTABLISHED;
		if (len == 0 && !fin)
			break;
		if (len != 0 && len < smss && !fin) {
			/* Nagle (RFC 896): a small segment only when nothing is
			 * in flight or TCP_NODELAY; sender SWS avoidance
			 * (RFC 9293 3.8.6.2.1): or at least half the largest
			 * window the peer offered. */
			bool all = len == avail;
			bool idle = c->snd_nxt == c->snd_una || (c->flags & TCPF_NODELAY);
			if (!(all && idle) && !(c->max_snd_wnd && len >= c->max_snd_wnd / 2) &&
			    !force)
				break;
		}
		force = false;
		if (!c->rtt_timing && c->snd_nxt == c->snd_max && len != 0 && !c->ts_ok) {
			c->rtt_timing = true;
			c->rtt_seq = c->snd_nxt + len;
			c->rtt_start = st->now;
		}
		tcp_send_seg(c, c->snd_nxt, len, fin ? TCP_F_FIN : 0);
		c->snd_nxt += len + fin;
		if (SEQ_GT(c->snd_nxt, c->snd_max))
			c->snd_max = c->snd_nxt;
		sent = true;
		/* A loss probe is re-armed after every send (RFC 8985 7.2). */
		if (!tern_timer_pending(&c->t_rexmit) || (c->flags & (TCPF_PERSIST | TCPF_TLP)))
			tcp_rexmit_start(c);
		if (fin)
			break;
	}
	/* Data waits and nothing is in flight, so no ACK will come to send
	 * it: behind a zero window, or behind one that sender SWS avoidance
	 * finds too small.  Only the persist timer can move it then (RFC 9293
	 * 3.8.6.1 and 3.8.6.2.1; RFC 1122 4.2.2.17 and 4.2.3.4). */
	if (!sent && c->snd_nxt == c->snd_max && SEQ_LT(c->snd_nxt, c->data_seq + c->snd.len) &&
	    c->snd_una == c->snd_max && !tern_timer_pending(&c->t_rexmit))
		persist_start(c);
	if (c->flags & TCPF_ACK_NOW)
		tcp_send_ack(c);
}

void
tcp_output(struct tcp_conn *c)
{
	output(c, false);
}
