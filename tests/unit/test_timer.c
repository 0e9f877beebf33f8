/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of the timer wheel with a fake clock: time is a plain integer
 * handed to tern_wheel_advance().
 *
 * Most tests go through a small harness that records every callback (which
 * timer, at what wheel time) and knows, for each timer, the tick it must fire
 * at: max(expiry, wheel clock when started).  The contract then reads: every
 * callback runs at exactly that tick, and callbacks run in (tick, start order)
 * order.  A randomised test checks each advance() against a reference model.
 *
 * TERN_TEST_TIMERS sets the size of the big test (default 1000000), so that
 * valgrind runs finish in reasonable time.
 */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "timer/wheel.h"

#define MS_PER_DAY (UINT64_C(24) * 3600 * 1000)
#define TWO32      (UINT64_C(1) << 32)

/* Bases that put each level's digit, and the 2^32 boundary, close to a wrap. */
static const uint64_t bases[] = {
	0,
	0xFF00,
	0xFFFF00 - 7,
	0xFFFFFF00,
	TWO32 - 1 - 100,
	(UINT64_C(1) << 40) - 3,
	UINT64_MAX - (UINT64_C(1) << 33),
};
#define NBASES (sizeof(bases) / sizeof(bases[0]))

/* splitmix64: small, seedable, good enough for test data. */
static uint64_t rng_state;

static uint64_t
rnd(void)
{
	uint64_t z = (rng_state += UINT64_C(0x9E3779B97F4A7C15));

	z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
	return z ^ (z >> 31);
}

/* Uniform in [0, n]; n == UINT64_MAX allowed. */
static uint64_t
rnd_upto(uint64_t n)
{
	return n == UINT64_MAX ? rnd() : rnd() % (n + 1);
}

static uint64_t
sat_add(uint64_t a, uint64_t b)
{
	return a + b < a ? UINT64_MAX : a + b;
}

static uint64_t
sat_sub(uint64_t a, uint64_t b)
{
	return a < b ? 0 : a - b;
}

/* ------------------------------------------------------------------------ */
/* Harness */

struct harness;

struct rec {
	struct tern_timer t;
	struct harness *h;
	uint32_t id;
	bool pending; /* what the model believes */
	uint64_t seq; /* start order */
	uint64_t due; /* tick it must fire at */
	/* Optional extra work done by the callback, after recording. */
	void (*action)(struct rec *r);
	uint64_t arg;
};

struct fire {
	uint32_t id;
	uint64_t at;
	uint64_t seq;
};

struct harness {
	struct tern_wheel *w;
	struct rec *recs;
	size_t n;
	struct fire *log;
	size_t nlog;
	size_t cap;
	uint64_t seq;
	uint64_t wrong_time;            /* callbacks that ran off their tick */
	void (*on_fire)(struct rec *r); /* optional check, before anything changes */
};

static void
rec_cb(struct tern_timer *t, void *arg)
{
	struct rec *r = arg;
	struct harness *h = r->h;

	assert_ptr_equal(t, &r->t);
	assert_false(tern_timer_pending(t));
	if (h->on_fire != NULL)
		h->on_fire(r);
	if (h->w->now != r->due)
		h->wrong_time++;
	r->pending = false;
	if (h->nlog == h->cap) {
		h->cap = h->cap ? 2 * h->cap : 1024;
		h->log = realloc(h->log, h->cap * sizeof(*h->log));
		assert_non_null(h->log);
	}
	h->log[h->nlog++] = (struct fire){ .id = r->id, .at = h->w->now, .seq = r->seq };
	if (r->action != NULL)
		r->action(r);
}

static struct harness *
h_new(uint64_t now, size_t n)
{
	struct harness *h = calloc(1, sizeof(*h));
	size_t i;

	assert_non_null(h);
	h->w = malloc(sizeof(*h->w));
	h->recs = calloc(n, sizeof(*h->recs));
	assert_non_null(h->w);
	assert_non_null(h->recs);
	h->n = n;
	tern_wheel_init(h->w, now);
	for (i = 0; i < n; i++) {
		h->recs[i].h = h;
		h->recs[i].id = (uint32_t)i;
		tern_timer_init(&h->recs[i].t, rec_cb, &h->recs[i]);
	}
	return h;
}

static void
h_free(struct harness *h)
{
	free(h->log);
	free(h->recs);
	free(h->w);
	free(h);
}

static void
h_start(struct harness *h, struct rec *r, uint64_t expires)
{
	r->pending = true;
	r->seq = h->seq++;
	r->due = expires > h->w->now ? expires : h->w->now;
	tern_timer_start(h->w, &r->t, expires);
	assert_true(tern_timer_pending(&r->t));
}

static void
h_stop(struct harness *h, struct rec *r)
{
	r->pending = false;
	tern_timer_stop(h->w, &r->t);
	assert_false(tern_timer_pending(&r->t));
}

static unsigned
h_advance(struct harness *h, uint64_t now, unsigned max)
{
	size_t before = h->nlog;
	unsigned ran = tern_wheel_advance(h->w, now, max);

	assert_int_equal(ran, h->nlog - before);
	assert_true(ran <= max);
	return ran;
}

static size_t
h_pending(const struct harness *h)
{
	size_t i, n = 0;

	for (i = 0; i < h->n; i++)
		n += h->recs[i].pending;
	return n;
}

/* The log is in (tick, start order) order and every callback ran on its tick. */
static void
h_check_order(const struct harness *h)
{
	size_t i;

	assert_int_equal(h->wrong_time, 0);
	for (i = 1; i < h->nlog; i++) {
		const struct fire *a = &h->log[i - 1], *b = &h->log[i];

		if (a->at > b->at || (a->at == b->at && a->seq >= b->seq))
			fail_msg(
			    "fire %zu out of order: id %u at %llu seq %llu, then id %u at %llu "
			    "seq %llu",
			    i, a->id, (unsigned long long)a->at, (unsigned long long)a->seq, b->id,
			    (unsigned long long)b->at, (unsigned long long)b->seq);
	}
}

/* next_event() is never later than the earliest tick a pending timer is due. */
static void
h_check_next_event(const struct harness *h)
{
	uint64_t ne = tern_wheel_next_event(h->w);
	uint64_t first = UINT64_MAX;
	size_t i;

	for (i = 0; i < h->n; i++)
		if (h->recs[i].pending && h->recs[i].due < first)
			first = h->recs[i].due;
	assert_int_equal(h->w->pending, h_pending(h));
	if (h->w->pending == 0) {
		assert_int_equal(ne, UINT64_MAX);
		return;
	}
	assert_true(ne >= h->w->now);
	assert_true(ne <= first);
}

/* ------------------------------------------------------------------------ */
/* Basics */

static void
test_empty(void **state)
{
	struct harness *h = h_new(12345, 1);

	(void)state;
	assert_int_equal(tern_wheel_next_event(h->w), UINT64_MAX);
	assert_int_equal(h_advance(h, 12345, UINT_MAX), 0);
	assert_int_equal(h_advance(h, 99999999999, UINT_MAX), 0);
	assert_int_equal(h->w->now, 99999999999);
	assert_int_equal(h->w->pending, 0);
	assert_false(tern_timer_pending(&h->recs[0].t));
	h_free(h);
}

static void
test_single(void **state)
{
	struct harness *h = h_new(1000, 1);

	(void)state;
	h_start(h, &h->recs[0], 1005);
	assert_int_equal(h->w->pending, 1);
	assert_int_equal(tern_wheel_next_event(h->w), 1005);
	assert_int_equal(h_advance(h, 1004, UINT_MAX), 0);
	assert_int_equal(h->w->now, 1004);
	assert_int_equal(h_advance(h, 1005, UINT_MAX), 1);
	assert_int_equal(h->log[0].at, 1005);
	assert_int_equal(h->w->pending, 0);
	assert_int_equal(h->w->fired, 1);
	assert_int_equal(tern_wheel_next_event(h->w), UINT64_MAX);
	h_check_order(h);
	h_free(h);
}

/* ------------------------------------------------------------------------ */
/* Ordering */

/* n timers due in [base, base + span]; advance by steps of at most `step`. */
static void
order_run(uint64_t base, size_t n, uint64_t span, uint64_t step, uint64_t seed)
{
	struct harness *h = h_new(base, n);
	uint64_t end = sat_add(base, span), now = base;
	size_t i;

	rng_state = seed;
	for (i = 0; i < n; i++)
		h_start(h, &h->recs[i], sat_add(base, rnd_upto(span)));
	h_check_next_event(h);
	while (now < end) {
		now = step == 1 ? now + 1 : sat_add(now, 1 + rnd_upto(step - 1));
		if (now > end)
			now = end;
		h_advance(h, now, UINT_MAX);
		assert_int_equal(h->w->now, now);
		if (rnd() % 64 == 0)
			h_check_next_event(h);
	}
	assert_int_equal(h->nlog, n);
	assert_int_equal(h->w->pending, 0);
	h_check_order(h);
	h_free(h);
}

static void
test_order_step_1ms(void **state)
{
	(void)state;
	order_run(0, 3000, 300000, 1, 1);
	order_run(777, 1000, 1000, 1, 2);
}

static void
test_order_jumps(void **state)
{
	(void)state;
	/* Small, medium and huge strides over spans reaching every level. */
	order_run(0, 5000, 300000, 50, 3);
	order_run(0, 5000, 20 * MS_PER_DAY, 3600 * 1000, 4);
	order_run(0, 5000, 20 * MS_PER_DAY, 20 * MS_PER_DAY, 5);
	order_run(5, 5000, UINT64_C(1) << 40, UINT64_C(1) << 30, 6);
	order_run(5, 2000, UINT64_C(1) << 40, UINT64_C(1) << 40, 7);
}

/* Every level's digit wraps, as does the 2^32 boundary and the 64-bit end. */
static void
test_wraparound(void **state)
{
	size_t b;

	(void)state;
	for (b = 0; b < NBASES; b++) {
		order_run(bases[b], 1000, 70000, 1, 10 + b);
		order_run(bases[b], 3000, 3 * TWO32, 1 + (TWO32 >> 6), 20 + b);
		order_run(bases[b], 1000, 3 * TWO32, 3 * TWO32, 30 + b);
	}
}

/* The very last millisecond is reachable. */
static void
test_end_of_time(void **state)
{
	struct harness *h = h_new(UINT64_MAX - (UINT64_C(1) << 33), 3);

	(void)state;
	h_start(h, &h->recs[0], UINT64_MAX);
	h_start(h, &h->recs[1], UINT64_MAX - 1);
	h_start(h, &h->recs[2], UINT64_MAX);
	h_advance(h, UINT64_MAX - 2, UINT_MAX);
	assert_int_equal(h->nlog, 0);
	assert_int_equal(h_advance(h, UINT64_MAX, UINT_MAX), 3);
	assert_int_equal(h->log[0].id, 1);
	assert_int_equal(h->log[1].id, 0);
	assert_int_equal(h->log[2].id, 2);
	h_check_order(h);
	/* At the end of time everything is overdue and fires at once. */
	h_start(h, &h->recs[0], 5);
	assert_int_equal(tern_wheel_next_event(h->w), UINT64_MAX);
	assert_int_equal(h_advance(h, UINT64_MAX, UINT_MAX), 1);
	h_free(h);
}

/* ------------------------------------------------------------------------ */
/* Same expiry: start order */

static void
test_fifo_same_slot(void **state)
{
	struct harness *h = h_new(0, 200);
	size_t i;

	(void)state;
	for (i = 0; i < 100; i++)
		h_start(h, &h->recs[i], 100);
	/* Same expiry but far enough to start on level 1 and cascade. */
	for (i = 100; i < 200; i++)
		h_start(h, &h->recs[i], 5000);
	h_advance(h, 6000, UINT_MAX);
	assert_int_equal(h->nlog, 200);
	for (i = 0; i < 200; i++)
		assert_int_equal(h->log[i].id, i);
	h_check_order(h);
	h_free(h);
}

/*
 * Timers with one expiry started ever closer to it sit on different levels
 * (or clamped) at the same time; they must still fire in start order.
 */
static void
fifo_staggered(uint64_t base, uint64_t e)
{
	static const uint64_t dist[] = {
		UINT64_C(1) << 41,
		(UINT64_C(1) << 34) + 3,
		UINT64_C(1) << 33,
		TWO32 + (1 << 24),
		TWO32 + 1,
		TWO32,
		TWO32 - 1,
		TWO32 - (1 << 24),
		TWO32 - (1 << 24) - 1,
		1 << 25,
		(1 << 24) + 1,
		1 << 24,
		(1 << 24) - 1,
		70000,
		65536,
		65535,
		300,
		256,
		255,
		1,
		0,
	};
	const size_t nd = sizeof(dist) / sizeof(dist[0]);
	struct harness *h = h_new(base, 2 * nd);
	size_t i, n = 0;

	for (i = 0; i < nd; i++) {
		if (e - base < dist[i])
			continue;
		h_advance(h, e - dist[i], UINT_MAX);
		/* Two per step, so that equal starts on one level are covered too. */
		h_start(h, &h->recs[n++], e);
		h_start(h, &h->recs[n++], e);
	}
	h_check_next_event(h);
	h_advance(h, e, UINT_MAX);
	assert_int_equal(h->nlog, n);
	for (i = 0; i < n; i++) {
		assert_int_equal(h->log[i].id, i);
		assert_int_equal(h->log[i].at, e);
	}
	h_free(h);
}

static void
test_fifo_across_levels(void **state)
{
	size_t b;

	(void)state;
	rng_state = 40;
	for (b = 0; b < NBASES; b++) {
		uint64_t base =
		    bases[b] > UINT64_MAX / 2 ? bases[b] - (UINT64_C(1) << 42) : bases[b];
		uint64_t top = base + (UINT64_C(1) << 42);
		size_t i;

		fifo_staggered(base, top);
		fifo_staggered(base, top & ~UINT64_C(0xFFFFFFFF));
		fifo_staggered(base, top | UINT64_C(0xFFFFFF));
		fifo_staggered(base, top - 0xFFFFFF);
		fifo_staggered(base, base + (UINT64_C(1) << 33) + (1 << 24));
		for (i = 0; i < 20; i++)
			fifo_staggered(base,
			               base + (UINT64_C(1) << 35) + rnd_upto(UINT64_C(1) << 40));
	}
}

/* ------------------------------------------------------------------------ */
/* Stop and restart */

static void
test_stop(void **state)
{
	struct harness *h = h_new(0, 8);
	struct rec *r = h->recs;

	(void)state;
	/* Never started, twice. */
	h_stop(h, &r[7]);
	h_stop(h, &r[7]);
	assert_int_equal(h->w->pending, 0);

	/* Head, middle and tail of one slot, then the tail must still append. */
	h_start(h, &r[0], 10);
	h_start(h, &r[1], 10);
	h_start(h, &r[2], 10);
	h_start(h, &r[3], 10);
	h_stop(h, &r[3]);
	h_stop(h, &r[1]);
	h_start(h, &r[4], 10);
	h_stop(h, &r[0]);
	h_start(h, &r[5], 10);
	h_stop(h, &r[5]);
	h_start(h, &r[6], 10);
	h_stop(h, &r[6]);
	h_stop(h, &r[6]);
	assert_int_equal(h->w->pending, 2);
	h_check_next_event(h);

	/* Stop the only timer of a slot, then refill it. */
	h_start(h, &r[0], 20);
	h_stop(h, &r[0]);
	h_start(h, &r[1], 20);

	h_advance(h, 100, UINT_MAX);
	assert_int_equal(h->nlog, 3);
	assert_int_equal(h->log[0].id, 2);
	assert_int_equal(h->log[1].id, 4);
	assert_int_equal(h->log[2].id, 1);
	h_check_order(h);

	/* Stopping after it fired is a no-op. */
	h_stop(h, &r[2]);
	assert_int_equal(h->w->pending, 0);
	assert_int_equal(tern_wheel_next_event(h->w), UINT64_MAX);

	/* Stop on a higher level and when clamped. */
	h_start(h, &r[0], 100000);
	h_start(h, &r[1], 100 + 5 * TWO32);
	h_start(h, &r[2], 100 + 20000000);
	h_stop(h, &r[0]);
	h_stop(h, &r[1]);
	h_stop(h, &r[2]);
	assert_int_equal(tern_wheel_next_event(h->w), UINT64_MAX);
	assert_int_equal(h_advance(h, 100 + 6 * TWO32, UINT_MAX), 0);
	h_free(h);
}

static void
test_restart(void **state)
{
	struct harness *h = h_new(0, 4);
	struct rec *r = h->recs;

	(void)state;
	h_start(h, &r[0], 500);
	h_start(h, &r[1], 500);
	h_start(h, &r[2], 500);
	h_start(h, &r[0], 1000000); /* later */
	h_start(h, &r[1], 200);     /* earlier */
	h_start(h, &r[2], 500);     /* same: goes behind r[3] */
	h_start(h, &r[3], 500);
	h_start(h, &r[2], 500);
	assert_int_equal(h->w->pending, 4);
	h_check_next_event(h);
	h_advance(h, 499, UINT_MAX);
	assert_int_equal(h->nlog, 1);
	assert_int_equal(h->log[0].id, 1);
	assert_int_equal(h->log[0].at, 200);
	h_start(h, &r[0], 499); /* now overdue */
	h_advance(h, 1000000, UINT_MAX);
	assert_int_equal(h->nlog, 4);
	assert_int_equal(h->log[1].id, 0);
	assert_int_equal(h->log[1].at, 499);
	assert_int_equal(h->log[2].id, 3);
	assert_int_equal(h->log[3].id, 2);
	h_check_order(h);
	/* Restart after firing. */
	h_start(h, &r[1], 1000001);
	h_advance(h, 2000000, UINT_MAX);
	assert_int_equal(h->nlog, 5);
	assert_int_equal(h->log[4].at, 1000001);
	h_free(h);
}

/* ------------------------------------------------------------------------ */
/* Callbacks that touch the wheel */

static void
periodic(struct rec *r)
{
	if (r->arg > 0) {
		r->arg--;
		h_start(r->h, r, r->h->w->now + 7);
	}
}

static void
test_periodic(void **state)
{
	uint64_t step;

	(void)state;
	for (step = 1; step <= 10000; step *= 10) {
		struct harness *h = h_new(3, 2);
		uint64_t now = 3;
		size_t i;

		h->recs[0].action = periodic;
		h->recs[0].arg = 999;
		h_start(h, &h->recs[0], 10);
		/* A long timer that the periodic one keeps passing. */
		h_start(h, &h->recs[1], 5000);
		while (now < 20000)
			h_advance(h, now += step, UINT_MAX);
		assert_int_equal(h->nlog, 1001);
		for (i = 0, now = 10; i < h->nlog; i++)
			if (h->log[i].id == 0) {
				assert_int_equal(h->log[i].at, now);
				now += 7;
			}
		h_check_order(h);
		assert_int_equal(h->w->pending, 0);
		h_free(h);
	}
}

/* r[0]'s callback stops r[1] (same tick, behind it) and r[2], starts r[3] now and r[4] later. */
static void
meddle(struct rec *r)
{
	struct harness *h = r->h;

	h_stop(h, &h->recs[1]);
	h_stop(h, &h->recs[2]);
	h_start(h, &h->recs[3], h->w->now);
	h_start(h, &h->recs[4], h->w->now + 50);
	h_start(h, &h->recs[5], h->w->now - 30); /* overdue: runs in this call */
}

static void
self_stop(struct rec *r)
{
	h_stop(r->h, r);
}

/* Re-arm into the past twice: it is due again at once. */
static void
self_past(struct rec *r)
{
	if (r->arg > 0) {
		r->arg--;
		h_start(r->h, r, r->h->w->now - 1);
	}
}

static void
test_callback_meddles(void **state)
{
	struct harness *h = h_new(0, 8);
	struct rec *r = h->recs;

	(void)state;
	r[0].action = meddle;
	h_start(h, &r[0], 100);
	h_start(h, &r[1], 100);
	h_start(h, &r[2], 200);
	r[6].action = self_stop;
	h_start(h, &r[6], 120);
	r[7].action = self_past;
	r[7].arg = 2;
	h_start(h, &r[7], 130);
	h_advance(h, 1000, UINT_MAX);
	assert_int_equal(h->nlog, 8);
	assert_int_equal(h->log[0].id, 0);
	assert_int_equal(h->log[1].id, 3);
	assert_int_equal(h->log[1].at, 100);
	assert_int_equal(h->log[2].id, 5);
	assert_int_equal(h->log[2].at, 100);
	assert_int_equal(h->log[3].id, 6);
	assert_int_equal(h->log[4].id, 7);
	assert_int_equal(h->log[5].id, 7);
	assert_int_equal(h->log[6].id, 7);
	assert_int_equal(h->log[6].at, 130);
	assert_int_equal(h->log[7].id, 4);
	assert_int_equal(h->log[7].at, 150);
	h_check_order(h);
	assert_int_equal(h->w->pending, 0);
	h_free(h);
}

/* ------------------------------------------------------------------------ */
/* The per-call cap */

static void
test_max_cap(void **state)
{
	struct harness *h = h_new(0, 1001);
	size_t i;

	(void)state;
	rng_state = 50;
	for (i = 0; i < 1000; i++)
		h_start(h, &h->recs[i], 1 + rnd_upto(499));
	for (i = 0; i < 10; i++) {
		assert_int_equal(h_advance(h, 1000, 100), 100);
		h_check_next_event(h);
		if (i < 9) {
			assert_true(h->w->now < 1000);
			assert_true(tern_wheel_next_event(h->w) <= h->w->now);
		}
	}
	assert_int_equal(h_advance(h, 1000, 100), 0);
	assert_int_equal(h->w->now, 1000);
	assert_int_equal(h->nlog, 1000);
	h_check_order(h);

	/* max 0 runs nothing; a timer started mid-backlog keeps its place. */
	for (i = 0; i < 10; i++)
		h_start(h, &h->recs[i], 1010);
	assert_int_equal(h_advance(h, 2000, 0), 0);
	assert_int_equal(h_advance(h, 2000, 3), 3);
	assert_int_equal(h->w->now, 1010);
	h_start(h, &h->recs[1000], 1005); /* overdue: behind the backlog */
	assert_int_equal(h_advance(h, 2000, 100), 8);
	assert_int_equal(h->log[h->nlog - 1].id, 1000);
	h_check_order(h);
	h_free(h);
}

/* ------------------------------------------------------------------------ */
/* Clock jumps */

static void
test_clock_jumps(void **state)
{
	static const uint64_t at[] = {
		1,
		255,
		256,
		65536,
		MS_PER_DAY,
		7 * MS_PER_DAY - 1,
		7 * MS_PER_DAY,
		7 * MS_PER_DAY + 1,
		TWO32 - 1,
		TWO32,
		TWO32 + 1,
		50 * MS_PER_DAY,
		57 * MS_PER_DAY,
		57 * MS_PER_DAY + 1,
		3 * TWO32 + 12345,
		UINT64_C(1) << 45,
	};
	const size_t n = sizeof(at) / sizeof(at[0]);
	struct harness *h = h_new(0, n);
	uint64_t cascaded;
	size_t i;

	(void)state;
	for (i = 0; i < n; i++)
		h_start(h, &h->recs[i], at[i]);
	/* Jump by 7 days, then 50 days, then far beyond 2^32. */
	h_advance(h, 7 * MS_PER_DAY, UINT_MAX);
	assert_int_equal(h->nlog, 7);
	h_advance(h, 57 * MS_PER_DAY, UINT_MAX);
	assert_int_equal(h->nlog, 13);
	h_advance(h, UINT64_C(1) << 46, UINT_MAX);
	assert_int_equal(h->nlog, n);
	for (i = 0; i < n; i++) {
		assert_int_equal(h->log[i].id, i);
		assert_int_equal(h->log[i].at, at[i]);
	}
	h_check_order(h);

	/* A lone timer 2^45 ms away: a handful of cascades, not one per slot. */
	cascaded = h->w->cascaded;
	h_start(h, &h->recs[0], h->w->now + (UINT64_C(1) << 45) + 12345);
	h_advance(h, UINT64_MAX, UINT_MAX);
	assert_int_equal(h->nlog, n + 1);
	assert_true(h->w->cascaded - cascaded <= 4 + (1 << 13));
	h_check_order(h);
	h_free(h);
}

/* ------------------------------------------------------------------------ */
/* Past expiry, time going backwards */

static void
test_past_expiry(void **state)
{
	struct harness *h = h_new(0, 3);

	(void)state;
	h_advance(h, 1000, UINT_MAX);
	h_start(h, &h->recs[0], 500);
	h_start(h, &h->recs[1], 0);
	h_start(h, &h->recs[2], 1000);
	assert_int_equal(tern_wheel_next_event(h->w), 1000);
	assert_int_equal(h->nlog, 0);
	assert_int_equal(h_advance(h, 1000, UINT_MAX), 3);
	assert_int_equal(h->log[0].id, 0);
	assert_int_equal(h->log[1].id, 1);
	assert_int_equal(h->log[2].id, 2);
	h_check_order(h);
	/* Also when the next advance moves the clock. */
	h_start(h, &h->recs[0], 1);
	assert_int_equal(h_advance(h, 5000, UINT_MAX), 1);
	assert_int_equal(h->log[3].at, 1000);
	h_free(h);
}

static void
test_backwards_ignored(void **state)
{
	struct harness *h = h_new(0, 2);

	(void)state;
	h_advance(h, 1000, UINT_MAX);
	h_start(h, &h->recs[0], 1000);
	h_start(h, &h->recs[1], 900);
	assert_int_equal(h_advance(h, 999, UINT_MAX), 0);
	assert_int_equal(h_advance(h, 0, UINT_MAX), 0);
	assert_int_equal(h->w->now, 1000);
	assert_int_equal(h->w->pending, 2);
	assert_int_equal(h_advance(h, 1000, UINT_MAX), 2);
	assert_int_equal(h->w->now, 1000);
	h_free(h);
}

/* ------------------------------------------------------------------------ */
/* next_event */

static void
test_next_event(void **state)
{
	struct harness *h = h_new(0, 64);
	size_t i, round;

	(void)state;
	assert_int_equal(tern_wheel_next_event(h->w), UINT64_MAX);
	h_start(h, &h->recs[0], 5);
	assert_int_equal(tern_wheel_next_event(h->w), 5);
	h_start(h, &h->recs[1], 3);
	assert_int_equal(tern_wheel_next_event(h->w), 3);
	h_stop(h, &h->recs[1]);
	assert_int_equal(tern_wheel_next_event(h->w), 5);
	h_advance(h, 5, UINT_MAX);
	assert_int_equal(tern_wheel_next_event(h->w), UINT64_MAX);

	/*
	 * Random sets of timers: following next_event() reaches the earliest
	 * expiry in a few steps, and never runs anything before it.
	 */
	rng_state = 60;
	for (round = 0; round < 2000; round++) {
		uint64_t first = UINT64_MAX, now = h->w->now, span;
		size_t n = 1 + rnd_upto(63), steps = 0, before = h->nlog;

		span = UINT64_C(1) << rnd_upto(40);
		for (i = 0; i < n; i++) {
			uint64_t e = now + 1 + rnd_upto(span);

			h_start(h, &h->recs[i], e);
			if (e < first)
				first = e;
		}
		for (;;) {
			uint64_t ne = tern_wheel_next_event(h->w);

			h_check_next_event(h);
			assert_true(ne > h->w->now || ne == first);
			h_advance(h, ne, 1);
			if (h->nlog > before)
				break;
			steps++;
		}
		assert_int_equal(h->log[h->nlog - 1].at, first);
		/*
		 * One cascade per level at most, plus each clamped slot once per
		 * 2^32 ms: not one step per slot or per millisecond.
		 */
		assert_true(steps <= 3 + n * (2 + (span >> 32)));
		for (i = 0; i < n; i++)
			h_stop(h, &h->recs[i]);
	}
	h_check_order(h);
	h_free(h);
}

/* ------------------------------------------------------------------------ */
/* Randomised, against a reference model */

/*
 * The model is the harness's own view: which timers are pending, their
 * expiry, start order and due tick.  Each callback must be for the pending
 * timer with the smallest (due tick, start order) among those expiring by
 * the advance() target; once advance() returns short of its cap, none is left.
 * Callbacks also start and stop random timers, so that the model covers
 * changes made from inside advance().
 */

/* Expiry for a new start: overdue, near, each level, beyond 2^32, or a tie. */
static uint64_t
model_expiry(const struct harness *h)
{
	uint64_t now = h->w->now;
	const struct rec *other = &h->recs[rnd_upto(h->n - 1)];

	switch (rnd() % 10) {
	case 0:
		return sat_sub(now, rnd_upto(1000));
	case 1:
		return sat_add(now, rnd_upto(300));
	case 2:
		return sat_add(now, rnd_upto(70000));
	case 3:
		return sat_add(now, rnd_upto(UINT64_C(1) << 25));
	case 4:
		return sat_add(now, rnd_upto(UINT64_C(1) << 34));
	case 5:
		return sat_add(now, TWO32 - (UINT64_C(1) << 25) + rnd_upto(UINT64_C(1) << 26));
	default:
		return other->pending ? other->t.expires : sat_add(now, rnd_upto(1000));
	}
}

static uint64_t
model_target(const struct harness *h)
{
	uint64_t now = h->w->now, ne = tern_wheel_next_event(h->w);

	switch (rnd() % 8) {
	case 0:
		return sat_sub(now, rnd_upto(5));
	case 1:
		return sat_add(now, rnd_upto(3));
	case 2:
		return sat_add(now, rnd_upto(300));
	case 3:
		return sat_add(now, rnd_upto(70000));
	case 4:
		return sat_add(now, rnd_upto(UINT64_C(1) << 26));
	case 5:
		return sat_add(now, rnd_upto(UINT64_C(1) << 33));
	case 6:
		return ne;
	default:
		return ne > now ? ne - 1 : ne;
	}
}

static uint64_t model_limit;  /* the advance() target */
static unsigned model_meddle; /* percent of callbacks that start or stop a timer */

/* The timer the model says must fire next, or NULL. */
static const struct rec *
model_next(const struct harness *h)
{
	const struct rec *best = NULL;
	size_t i;

	for (i = 0; i < h->n; i++) {
		const struct rec *r = &h->recs[i];

		if (!r->pending || r->t.expires > model_limit)
			continue;
		if (best == NULL || r->due < best->due ||
		    (r->due == best->due && r->seq < best->seq))
			best = r;
	}
	return best;
}

static void
model_op(struct harness *h)
{
	struct rec *r = &h->recs[rnd_upto(h->n - 1)];

	if (rnd() % 4)
		h_start(h, r, model_expiry(h));
	else
		h_stop(h, r);
}

/* Before each callback: it must be the one the model says is next. */
static void
model_check(struct rec *r)
{
	const struct rec *want = model_next(r->h);

	if (want != r)
		fail_msg("%u ran at %llu, expected %d", r->id, (unsigned long long)r->h->w->now,
		         want ? (int)want->id : -1);
}

static void
model_cb(struct rec *r)
{
	if (rnd() % 100 < model_meddle)
		model_op(r->h);
}

static void
model_run(uint64_t base, size_t n, size_t ops, unsigned meddle, uint64_t seed)
{
	struct harness *h = h_new(base, n);
	size_t op, i;

	rng_state = seed;
	model_meddle = meddle;
	h->on_fire = model_check;
	for (i = 0; i < n; i++)
		h->recs[i].action = model_cb;
	for (op = 0; op < ops; op++) {
		if (rnd() % 100 < 60) {
			model_op(h);
		} else {
			uint64_t target = model_target(h), old = h->w->now;
			unsigned max = rnd() % 4 ? UINT_MAX : (unsigned)rnd_upto(20);
			unsigned ran;

			model_limit = target;
			ran = h_advance(h, target, max);
			if (target < old) {
				assert_int_equal(ran, 0);
				assert_int_equal(h->w->now, old);
			} else if (ran < max) {
				/* Stopped short of the cap: nothing due is left. */
				assert_null(model_next(h));
				assert_int_equal(h->w->now, target);
			} else {
				assert_true(h->w->now <= target);
			}
		}
		assert_int_equal(h->wrong_time, 0);
		h_check_next_event(h);
	}
	h_free(h);
}

/* The same with one advance() call per target, max as drawn, no meddling. */
static struct rec **model_due;

static int
cmp_due(const void *a, const void *b)
{
	const struct rec *x = *(struct rec *const *)a, *y = *(struct rec *const *)b;

	if (x->due != y->due)
		return x->due < y->due ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static void
model_run_batch(uint64_t base, size_t n, size_t ops, uint64_t seed)
{
	struct harness *h = h_new(base, n);
	size_t op, i;

	rng_state = seed;
	model_due = calloc(n, sizeof(*model_due));
	assert_non_null(model_due);
	for (op = 0; op < ops; op++) {
		if (rnd() % 100 < 60) {
			model_op(h);
		} else {
			uint64_t target = model_target(h), old = h->w->now;
			unsigned max = rnd() % 4 ? UINT_MAX : (unsigned)rnd_upto(20);
			size_t ndue = 0, before = h->nlog, expect;
			unsigned ran;

			if (target >= old)
				for (i = 0; i < n; i++)
					if (h->recs[i].pending && h->recs[i].t.expires <= target)
						model_due[ndue++] = &h->recs[i];
			qsort(model_due, ndue, sizeof(*model_due), cmp_due);
			expect = ndue < max ? ndue : max;
			ran = h_advance(h, target, max);
			assert_int_equal(ran, expect);
			for (i = 0; i < expect; i++)
				if (h->log[before + i].id != model_due[i]->id)
					fail_msg("op %zu: fire %zu is %u, expected %u", op, i,
					         h->log[before + i].id, model_due[i]->id);
			if (target < old)
				assert_int_equal(h->w->now, old);
			else if (ran < max)
				assert_int_equal(h->w->now, target);
			else
				assert_true(h->w->now <= target);
		}
		assert_int_equal(h->wrong_time, 0);
		h_check_next_event(h);
	}
	free(model_due);
	model_due = NULL;
	h_free(h);
}

static void
test_model_random(void **state)
{
	size_t b;

	(void)state;
	for (b = 0; b < NBASES; b++) {
		model_run_batch(bases[b], 300, 50000, 100 + b);
		model_run_batch(bases[b], 20, 50000, 200 + b);
		model_run(bases[b], 300, 50000, 0, 300 + b);
		model_run(bases[b], 300, 50000, 30, 400 + b);
		model_run(bases[b], 20, 50000, 60, 500 + b);
	}
}

/* ------------------------------------------------------------------------ */
/* A million timers */

struct big {
	struct tern_timer t;
	uint32_t id;
	bool stopped;
	bool fired;
};

struct big_ctx {
	struct tern_wheel *w;
	uint64_t last_at;
	uint32_t last_id;
	size_t fired;
	size_t wrong;
};

static struct big_ctx big_ctx;

static void
big_cb(struct tern_timer *t, void *arg)
{
	struct big *b = arg;
	struct big_ctx *c = &big_ctx;

	(void)t;
	/* Exact tick, nondecreasing, and start (= id) order within a tick. */
	if (b->stopped || b->fired || c->w->now != b->t.expires || b->t.expires < c->last_at ||
	    (b->t.expires == c->last_at && c->fired > 0 && b->id <= c->last_id))
		c->wrong++;
	b->fired = true;
	c->last_at = b->t.expires;
	c->last_id = b->id;
	c->fired++;
}

static void
test_million(void **state)
{
	const char *env = getenv("TERN_TEST_TIMERS");
	size_t n = env ? strtoul(env, NULL, 0) : 1000000;
	uint64_t base = 123456789, end = base + 8 * MS_PER_DAY, now = base;
	struct big *b = calloc(n, sizeof(*b));
	uint32_t *perm = malloc(n * sizeof(*perm));
	struct tern_wheel *w = malloc(sizeof(*w));
	size_t i;

	(void)state;
	assert_non_null(b);
	assert_non_null(perm);
	assert_non_null(w);
	rng_state = 70;
	tern_wheel_init(w, base);
	memset(&big_ctx, 0, sizeof(big_ctx));
	big_ctx.w = w;
	for (i = 0; i < n; i++) {
		b[i].id = (uint32_t)i;
		tern_timer_init(&b[i].t, big_cb, &b[i]);
		tern_timer_start(w, &b[i].t, base + 1 + rnd_upto(8 * MS_PER_DAY - 1));
		perm[i] = (uint32_t)i;
	}
	assert_int_equal(w->pending, n);
	/* Stop a random half. */
	for (i = 0; i < n / 2; i++) {
		size_t j = i + rnd_upto(n - 1 - i);
		uint32_t tmp = perm[i];

		perm[i] = perm[j];
		perm[j] = tmp;
		b[perm[i]].stopped = true;
		tern_timer_stop(w, &b[perm[i]].t);
	}
	assert_int_equal(w->pending, n - n / 2);
	/* Sweep to the end in uneven strides of up to ~10 minutes. */
	while (now < end) {
		now += 1 + rnd_upto(600000);
		if (now > end)
			now = end;
		tern_wheel_advance(w, now, UINT_MAX);
		assert_int_equal(w->now, now);
	}
	assert_int_equal(big_ctx.wrong, 0);
	assert_int_equal(big_ctx.fired, n - n / 2);
	assert_int_equal(w->pending, 0);
	for (i = 0; i < n; i++)
		assert_true(b[i].fired != b[i].stopped);
	assert_int_equal(tern_wheel_next_event(w), UINT64_MAX);
	free(w);
	free(perm);
	free(b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty),          cmocka_unit_test(test_single),
		cmocka_unit_test(test_order_step_1ms), cmocka_unit_test(test_order_jumps),
		cmocka_unit_test(test_wraparound),     cmocka_unit_test(test_end_of_time),
		cmocka_unit_test(test_fifo_same_slot), cmocka_unit_test(test_fifo_across_levels),
		cmocka_unit_test(test_stop),           cmocka_unit_test(test_restart),
		cmocka_unit_test(test_periodic),       cmocka_unit_test(test_callback_meddles),
		cmocka_unit_test(test_max_cap),        cmocka_unit_test(test_clock_jumps),
		cmocka_unit_test(test_past_expiry),    cmocka_unit_test(test_backwards_ignored),
		cmocka_unit_test(test_next_event),     cmocka_unit_test(test_model_random),
		cmocka_unit_test(test_million),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
