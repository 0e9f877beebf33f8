/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The TCP core (RFC 9293): connections, their state machine, buffers and
 * timers.  It knows nothing of DPDK, mbufs or ports.  Segments come in as
 * parsed `struct tcp_seg` (tcp_input), go out through the `output` hook of
 * `struct tcp_ops`, and time is the caller's `now` in milliseconds: the
 * timer wheel passed at init is advanced by the caller.  One `struct
 * tcp_stack` belongs to one thread (one per worker lcore in ternd); nothing
 * here locks.  Unit tests drive it with a fake clock and a capture hook.
 *
 * Memory: connection blocks come from a pool allocated once at init
 * (max_conns); send and receive buffers are allocated when a connection
 * reaches ESTABLISHED (or at connect), so a SYN flood costs only blocks,
 * and never more than the per-listener SYN queue bound (then SYN cookies).
 *
 * Sequence numbers and the fields below are in host byte order.
 */
#ifndef TERN_TCP_TCP_H
#define TERN_TCP_TCP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "timer/wheel.h"

#define TCP_F_FIN 0x01
#define TCP_F_SYN 0x02
#define TCP_F_RST 0x04
#define TCP_F_PSH 0x08
#define TCP_F_ACK 0x10
#define TCP_F_URG 0x20
#define TCP_F_ECE 0x40
#define TCP_F_CWR 0x80

#define TCP_HDR_LEN       20
#define TCP_MAX_OPT_LEN   40
#define TCP_MAX_SACK      4   /* blocks in one segment */
#define TCP_MAX_OOO       8   /* out-of-order ranges held by a receiver */
#define TCP_MAX_WSCALE    14  /* RFC 7323 2.3 */
#define TCP_DEFAULT_MSS   536 /* RFC 9293 3.7.1, when the peer sends none */
#define TCP_MAX_LISTENERS 64

/* RFC 9293 3.3.2, in the order of the RFC's figure. */
#define TCP_STATES(X)                                                                              \
	X(CLOSED)                                                                                  \
	X(LISTEN)                                                                                  \
	X(SYN_SENT)                                                                                \
	X(SYN_RECEIVED)                                                                            \
	X(ESTABLISHED)                                                                             \
	X(FIN_WAIT_1)                                                                              \
	X(FIN_WAIT_2)                                                                              \
	X(CLOSE_WAIT)                                                                              \
	X(CLOSING)                                                                                 \
	X(LAST_ACK)                                                                                \
	X(TIME_WAIT)

enum tcp_state {
#define X(s) TCP_##s,
	TCP_STATES(X)
#undef X
	    TCP_NSTATES
};

const char *tcp_state_name(enum tcp_state s);

/* MIB counters (RFC 4022 names, plus Linux's TcpExt ones we keep). */
#define TCP_COUNTERS(X)                                                                            \
	X(ActiveOpens)                                                                             \
	X(PassiveOpens)                                                                            \
	X(AttemptFails)                                                                            \
	X(EmbryonicRsts)                                                                           \
	X(EstabResets)                                                                             \
	X(InSegs)                                                                                  \
	X(OutSegs)                                                                                 \
	X(RetransSegs)                                                                             \
	X(InErrs)                                                                                  \
	X(OutRsts)                                                                                 \
	X(InRsts)                                                                                  \
	X(SyncookiesSent)                                                                          \
	X(SyncookiesRecv)                                                                          \
	X(SyncookiesFailed)                                                                        \
	X(TimeWaitReused)                                                                          \
	X(ListenOverflows)                                                                         \
	X(ListenDrops)                                                                             \
	X(ChallengeACKs)                                                                           \
	X(ChallengeACKsLimited)                                                                    \
	X(PAWSDrops)                                                                               \
	X(OutOfWindow)                                                                             \
	X(OfoQueued)                                                                               \
	X(OfoDrops)                                                                                \
	X(FastRetrans)                                                                             \
	X(SackRecoveries)                                                                          \
	X(Timeouts)                                                                                \
	X(TailLossProbes)                                                                          \
	X(LostRetransmits)                                                                         \
	X(SynRetrans)                                                                              \
	X(AckSkippedSynRecv)                                                                       \
	X(KeepaliveProbes)                                                                         \
	X(KeepaliveTimeouts)                                                                       \
	X(ZeroWindowProbes)                                                                        \
	X(DelayedACKs)                                                                             \
	X(OrphanDrops)                                                                             \
	X(ConnsFull)                                                                               \
	X(FinWait2Timeouts)                                                                        \
	X(AbortOnData)                                                                             \
	X(AbortOnClose)

enum tcp_counter {
#define X(n) TCP_MIB_##n,
	TCP_COUNTERS(X)
#undef X
	    TCP_MIB_MAX
};

extern const char *const tcp_counter_names[TCP_MIB_MAX];

enum tcp_cc { TCP_CC_RENO, TCP_CC_CUBIC };

/* Global knobs (per stack; ternd copies the same values into every worker). */
struct tcp_cfg {
	uint32_t max_conns;          /* connection blocks per stack */
	uint32_t msl_ms;             /* TIME-WAIT lasts 2*MSL (default 30 s) */
	uint32_t fin_timeout_ms;     /* orphaned FIN-WAIT-2 lifetime (60 s) */
	uint32_t rto_min_ms;         /* RFC 6298 2.4 allows lower than 1 s (200) */
	uint32_t rto_max_ms;         /* 120 s */
	uint32_t rto_init_ms;        /* 1 s (RFC 6298 2.1) */
	uint32_t delack_ms;          /* delayed ACK, at most 200 (RFC 1122); 40 */
	uint8_t syn_retries;         /* SYN (6) */
	uint8_t synack_retries;      /* SYN-ACK (5) */
	uint8_t retries2;            /* data retransmissions before giving up (15) */
	uint8_t syncookies;          /* 0 off, 1 when the SYN queue is full, 2 always */
	uint32_t keepalive_time_ms;  /* 2 h (RFC 1122 4.2.3.6) */
	uint32_t keepalive_intvl_ms; /* 75 s */
	uint8_t keepalive_probes;    /* 9 */
	bool keepalive;              /* SO_KEEPALIVE for new sockets (off) */
	uint8_t cc;                  /* default enum tcp_cc for new sockets */
	bool timestamps, sack, window_scaling;
	uint32_t rmem_default, wmem_default; /* buffer sizes, bytes */
	uint32_t max_orphans;                /* closed-by-app connections kept */
	uint32_t challenge_ack_limit;        /* per second (RFC 5961 7) */
	uint32_t syn_backlog_max;            /* cap on a listener's SYN queue */
};

void tcp_cfg_default(struct tcp_cfg *cfg);

struct tcp_tuple {
	uint32_t laddr, raddr;
	uint16_t lport, rport;
};

struct tcp_sack_block {
	uint32_t start, end; /* [start, end) */
};

#define TCP_OPT_MSS     0x01
#define TCP_OPT_WSCALE  0x02
#define TCP_OPT_SACK_OK 0x04
#define TCP_OPT_TS      0x08

struct tcp_opts {
	uint8_t have; /* TCP_OPT_* */
	uint8_t wscale;
	uint16_t mss;
	uint32_t tsval, tsecr;
	uint8_t nsack;
	struct tcp_sack_block sack[TCP_MAX_SACK];
};

/* A received segment, parsed and checksum-verified by the caller. */
struct tcp_seg {
	struct tcp_tuple t; /* local = the segment's destination */
	uint32_t seq, ack;
	uint16_t wnd; /* unscaled, as on the wire */
	uint8_t flags;
	struct tcp_opts o;
	uint32_t len; /* payload bytes */
	/* The payload, in any number of pieces: the first is `data` (`dlen`
	 * bytes); when `next` is set, next(&chain, &n) returns each of the
	 * following pieces in turn (n bytes) and NULL after the last.  The
	 * core walks them only forwards, from `chain`, so a chain of buffers
	 * of any length (an mbuf chain: chain is the next mbuf) needs no
	 * array.  A contiguous payload leaves `next` NULL. */
	const void *data;
	uint32_t dlen;
	const void *chain;
	const void *(*next)(const void **chain, uint32_t *n);
};

struct tcp_conn;

/* A segment to send: header fields, encoded options, and payload bytes
 * that the hook copies from the connection's send buffer. */
struct tcp_out {
	struct tcp_tuple t;
	uint32_t seq, ack;
	uint16_t wnd;
	uint8_t flags;
	uint8_t optlen;
	uint8_t opt[TCP_MAX_OPT_LEN];
	const struct tcp_conn *c; /* payload source, or NULL */
	uint32_t len;             /* payload bytes starting at seq */
};

/* Copy `len` payload bytes of `o` (from the send buffer) to `dst`. */
void tcp_out_copy(const struct tcp_out *o, void *dst);

/* Events for the application (tcp_ops.event); a mask. */
#define TCP_EV_IN    0x01 /* readable, EOF, or (listener) a connection to accept */
#define TCP_EV_OUT   0x02 /* connected, or send buffer space */
#define TCP_EV_ERR   0x04 /* reset, timed out or refused: see tcp_conn_error() */
#define TCP_EV_HUP   0x08 /* both directions closed */
#define TCP_EV_RDHUP 0x10 /* the peer sent FIN */

struct tcp_ops {
	/* Send one segment.  0, or -errno (the segment is lost: retransmission
	 * or the peer repairs it). */
	int (*output)(void *ctx, const struct tcp_out *o);
	/* Tell the owner of `c` (its tcp_conn_user) about events. */
	void (*event)(void *ctx, struct tcp_conn *c, unsigned ev);
};

struct tcp_stack;

/* Allocate and initialise a stack; NULL on failure (errno set). */
struct tcp_stack *tcp_stack_create(const struct tcp_cfg *cfg, const struct tcp_ops *ops, void *ctx,
                                   struct tern_wheel *wheel, const uint8_t key[16]);
/* Free everything, sending nothing. */
void tcp_stack_destroy(struct tcp_stack *st);
/* Replace the knobs; existing connections keep their per-socket values. */
void tcp_stack_set_cfg(struct tcp_stack *st, const struct tcp_cfg *cfg);
const struct tcp_cfg *tcp_stack_cfg(const struct tcp_stack *st);
const uint64_t *tcp_stack_counters(const struct tcp_stack *st);
uint32_t tcp_stack_nb_conns(const struct tcp_stack *st);
/* Bytes one connection takes with no data buffered: its block and its
 * share of the connection hash (two bucket pointers). */
size_t tcp_conn_block_size(void);
/* Local port chooser for active opens: return true if `lport` is acceptable
 * for `t` (ternd uses it to keep return traffic on this lcore).  NULL: any. */
typedef bool (*tcp_port_ok_fn)(void *ctx, const struct tcp_tuple *t);
void tcp_stack_set_port_filter(struct tcp_stack *st, tcp_port_ok_fn fn);

/*
 * A segment arrived at time `now` (ms).  Returns 0 when a connection or
 * listener took it, -ENOENT when it was for nobody (a RST has been sent
 * when RFC 9293 asks for one), -EINVAL when it was dropped as invalid.
 */
int tcp_input(struct tcp_stack *st, const struct tcp_seg *s, uint64_t now);

/* Socket-level operations.  All return 0 (or a byte count) or -errno. */
int tcp_listen(struct tcp_stack *st, uint32_t laddr, uint16_t lport, int backlog,
               struct tcp_conn **out);
struct tcp_conn *tcp_accept(struct tcp_conn *listener);
int tcp_connect(struct tcp_stack *st, uint32_t laddr, uint16_t lport, uint32_t raddr,
                uint16_t rport, struct tcp_conn **out);
/* The same in two steps, so that options (buffer sizes above all) can be
 * set between them: a CLOSED block, then the SYN. */
int tcp_conn_new(struct tcp_stack *st, struct tcp_conn **out);
int tcp_conn_connect(struct tcp_conn *c, uint32_t laddr, uint16_t lport, uint32_t raddr,
                     uint16_t rport);
/* Copy up to len bytes into the send buffer; -EAGAIN when full. */
long tcp_send(struct tcp_conn *c, const void *buf, size_t len);
/* Copy up to len received bytes; 0 at EOF, -EAGAIN when there is none yet. */
long tcp_recv(struct tcp_conn *c, void *buf, size_t len);
/* how: 0 read, 1 write, 2 both (SHUT_RD/WR/RDWR). */
int tcp_shutdown(struct tcp_conn *c, int how);
/* The application lets go of `c`: FIN (or RST when unread data or linger 0);
 * the core frees it when the close completes. */
int tcp_close(struct tcp_conn *c);
/* Send a RST and free `c` now. */
void tcp_abort(struct tcp_conn *c);

/* Per-socket options. */
enum tcp_sockopt {
	TCP_SO_KEEPALIVE,  /* bool */
	TCP_SO_KEEPIDLE,   /* seconds */
	TCP_SO_KEEPINTVL,  /* seconds */
	TCP_SO_KEEPCNT,    /* probes */
	TCP_SO_NODELAY,    /* bool */
	TCP_SO_RCVBUF,     /* bytes */
	TCP_SO_SNDBUF,     /* bytes */
	TCP_SO_LINGER,     /* -1 off, else seconds (0: RST on close) */
	TCP_SO_REUSEADDR,  /* bool */
	TCP_SO_CONGESTION, /* enum tcp_cc */
	TCP_SO_MAXSEG,     /* bytes */
};
int tcp_setopt(struct tcp_conn *c, enum tcp_sockopt opt, int val);
int tcp_getopt(const struct tcp_conn *c, enum tcp_sockopt opt, int *val);

void tcp_conn_set_user(struct tcp_conn *c, void *user);
void *tcp_conn_user(const struct tcp_conn *c);
enum tcp_state tcp_conn_state(const struct tcp_conn *c);
/* The error that ended the connection (ECONNRESET, ETIMEDOUT,
 * ECONNREFUSED), or 0. */
int tcp_conn_error(const struct tcp_conn *c);
const struct tcp_tuple *tcp_conn_tuple(const struct tcp_conn *c);
/* Bytes readable now, and free space in the send buffer. */
uint32_t tcp_conn_readable(const struct tcp_conn *c);
uint32_t tcp_conn_writable(const struct tcp_conn *c);

/* A snapshot of one connection for `conn show`. */
struct tcp_conn_info {
	struct tcp_tuple t;
	enum tcp_state state;
	uint32_t sendq, recvq; /* unacked+unsent, unread */
	uint32_t srtt_ms, rttvar_ms, rto_ms;
	uint32_t cwnd, ssthresh, mss; /* cwnd in segments */
	uint32_t snd_wnd, rcv_wnd;
	uint8_t retransmits;
	bool orphan, listener;
	char timer[16];         /* "rto", "persist", "keepalive", "timewait", ... */
	uint64_t timer_left_ms; /* 0 when none */
	uint8_t cc;
};
/* Blocks per worker call of `conn show`. */
#define TCP_WALK_BUDGET 4096
/* What tcp_stack_walk returns at the end. */
#define TCP_WALK_DONE UINT32_MAX
/*
 * Call fn for every connection and listener in blocks [from, from + budget)
 * of the stack's pool (a budget of 0 visits one block) and return the
 * block to resume from, or TCP_WALK_DONE after the last one.  Walk a stack
 * in chunks, letting segments through between them: a connection keeps its
 * block for life, so a resumed walk reports it at most once, and exactly
 * once if it lives through the whole walk.  Not a snapshot, like ss.
 */
uint32_t tcp_stack_walk(struct tcp_stack *st, uint32_t from, uint32_t budget,
                        void (*fn)(void *arg, const struct tcp_conn_info *i), void *arg);

/* RFC 6528 initial sequence number (exposed for tests). */
uint32_t tcp_isn(const struct tcp_stack *st, const struct tcp_tuple *t, uint64_t now);

/* Options encoding and parsing (tcp_opt.c); parse returns -EINVAL on a
 * malformed option list. */
int tcp_opts_parse(const uint8_t *p, unsigned len, struct tcp_opts *o);

#endif
