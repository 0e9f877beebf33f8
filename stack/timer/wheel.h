/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * tern timer wheel: one hierarchical timing wheel per lcore.
 *
 * Geometry (tick = 1 ms):
 *
 *   level  slots  granularity   range covered (from now)
 *   -----  -----  -----------   -------------------------
 *     0     256     1 ms        0 .. 255 ms
 *     1     256   256 ms        256 ms .. 65.5 s
 *     2     256    65.5 s       65.5 s .. 4.66 h
 *     3     256     4.66 h      4.66 h .. 49.7 days (2^32 ms)
 *
 * A timer is filed at the level whose range holds (expires - now), in the
 * slot given by the expiry's 8-bit digit for that level.  When the wheel's
 * clock enters a tick whose lower digits are zero, the slots of the higher
 * levels that now become current are cascaded: their timers are re-filed
 * one level down (classic Varghese & Lauck scheme, as in Linux before 4.8).
 * Timers therefore fire at the exact millisecond, in expiry order; two timers
 * with the same expiry fire in the order they were started.
 *
 * Costs: start, stop and restart are O(1) (an hlist insert/unlink plus one
 * bit in the level's occupancy bitmap).  A timer is cascaded at most three
 * times in its life.  The occupancy bitmaps let advance() skip empty slots,
 * so a clock jump of days costs a few hundred bitmap scans, not one step per
 * millisecond.
 *
 * Expiries beyond 2^32 ms are clamped into level 3 and re-filed when that
 * slot cascades, so any 64-bit expiry works; the 64-bit millisecond clock
 * does not wrap in practice.
 *
 * Time is an input: the caller passes `now` (milliseconds, monotonic) to
 * advance().  Nothing here reads a clock, allocates or locks, so the wheel
 * runs unchanged in unit tests with a fake clock.  A wheel belongs to one
 * thread; it is not thread safe.
 *
 * Callbacks may stop or restart any timer, including the one firing, and
 * start new ones.  advance() runs at most `max` callbacks per call; the rest
 * stay due and run on the next call, which bounds the work done per loop.
 */
#ifndef TERN_TIMER_WHEEL_H
#define TERN_TIMER_WHEEL_H

#include <stdbool.h>
#include <stdint.h>

#define TERN_WHEEL_LEVELS    4
#define TERN_WHEEL_SLOT_BITS 8
#define TERN_WHEEL_SLOTS     (1u << TERN_WHEEL_SLOT_BITS)

struct tern_timer;
typedef void (*tern_timer_cb)(struct tern_timer *t, void *arg);

/* Embed one of these in the object that owns the timer. */
struct tern_timer {
	struct tern_timer *next;
	struct tern_timer **pprev; /* NULL when not pending */
	uint64_t expires;          /* absolute, in ms */
	tern_timer_cb cb;
	void *arg;
};

struct tern_wheel {
	uint64_t now; /* the tick being processed, in ms */
	uint64_t pending;
	uint64_t fired;
	uint64_t cascaded;
	uint64_t bitmap[TERN_WHEEL_LEVELS][TERN_WHEEL_SLOTS / 64];
	struct tern_timer *slot[TERN_WHEEL_LEVELS][TERN_WHEEL_SLOTS];
	/* Private: where to append in each slot (start order within a slot). */
	struct tern_timer **tail[TERN_WHEEL_LEVELS][TERN_WHEEL_SLOTS];
};

/* Start the wheel's clock at `now` (ms). */
void tern_wheel_init(struct tern_wheel *w, uint64_t now);

/* Bind a callback; the timer is not pending afterwards. */
void tern_timer_init(struct tern_timer *t, tern_timer_cb cb, void *arg);

static inline bool
tern_timer_pending(const struct tern_timer *t)
{
	return t->pprev != 0;
}

/*
 * Arm `t` to fire at absolute time `expires` (ms).  Re-arms it if it was
 * pending.  An expiry in the past fires on the next advance().
 */
void tern_timer_start(struct tern_wheel *w, struct tern_timer *t, uint64_t expires);

/* Disarm `t`; a no-op if it is not pending. */
void tern_timer_stop(struct tern_wheel *w, struct tern_timer *t);

/*
 * Move the clock to `now` and run the callbacks of timers whose expiry is
 * <= now, at most `max` of them.  Returns the number run.  A `now` earlier
 * than the wheel's clock is ignored (time does not go backwards).
 */
unsigned tern_wheel_advance(struct tern_wheel *w, uint64_t now, unsigned max);

/*
 * The earliest time at which advance() may have work to do: an expiry or a
 * cascade.  UINT64_MAX when no timer is pending.  Never later than the
 * earliest pending expiry, so a caller may sleep until then.
 */
uint64_t tern_wheel_next_event(const struct tern_wheel *w);

#endif
