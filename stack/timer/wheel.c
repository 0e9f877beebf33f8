/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Hierarchical timing wheel; see wheel.h for the geometry and the contract.
 *
 * Slot lists.  Each slot is a singly linked list with a back pointer (pprev)
 * so that any timer unlinks in O(1).  Starting a timer appends it at the tail
 * (start order within a slot), so each slot also has a tail pointer.  To keep
 * that tail right when the last timer of a slot is stopped, the list does not
 * end in NULL but in an end marker that names its slot: an odd value that is
 * never dereferenced.  A timer is the last of its slot iff its next is odd,
 * and the marker tells which slot's tail and bitmap bit to fix.
 *
 * Filing.  At clock n, a timer expiring at e > n goes to the lowest level k
 * with e - n < 2^(8(k+1)), in slot (e >> 8k) & 255; an overdue one (e <= n)
 * goes to the current level-0 slot, which runs next.  That slot of level k
 * next becomes current at tick (e >> 8k) << 8k, which is > n and <= e, and
 * the timer then re-files strictly lower.  Level 3 also takes every e - n >=
 * 2^32, in the slot of its digit (the clamp): that slot comes round every
 * 2^32 ms, and a timer still too far away just goes back in for another turn.
 *
 * FIFO across levels.  Two timers with the same expiry can sit on different
 * levels: one started long ago is still on a high level while one started
 * recently went straight to a low one.  The level only falls as the clock
 * advances and the slot is a function of expiry and level, so of two timers
 * with the same expiry the one on the higher level is the older, and on the
 * same level they share a slot.  Hence starting appends to a slot, while a
 * cascade puts its timers, in their own order, at the head of their new
 * slots, ahead of the younger ones already there; and levels cascade lowest
 * first.
 */
#include <string.h>

#include "timer/wheel.h"

#define LEVELS    TERN_WHEEL_LEVELS
#define SLOTS     TERN_WHEEL_SLOTS
#define SLOT_BITS TERN_WHEEL_SLOT_BITS
#define SLOT_MASK (SLOTS - 1)
#define WORDS     (SLOTS / 64)

/* The end marker of slot `idx` (level * SLOTS + slot); odd, so never a timer. */
static inline struct tern_timer *
end_marker(unsigned idx)
{
	return (struct tern_timer *)(((uintptr_t)idx << 1) | 1);
}

static inline bool
is_end(const struct tern_timer *t)
{
	return ((uintptr_t)t & 1) != 0;
}

static inline unsigned
end_index(const struct tern_timer *t)
{
	return (unsigned)((uintptr_t)t >> 1);
}

static inline struct tern_timer **
head_of(struct tern_wheel *w, unsigned idx)
{
	return &w->slot[0][0] + idx;
}

static inline struct tern_timer ***
tail_of(struct tern_wheel *w, unsigned idx)
{
	return &w->tail[0][0] + idx;
}

static inline void
bit_set(struct tern_wheel *w, unsigned idx)
{
	w->bitmap[idx / SLOTS][(idx % SLOTS) / 64] |= UINT64_C(1) << (idx % 64);
}

static inline void
bit_clear(struct tern_wheel *w, unsigned idx)
{
	w->bitmap[idx / SLOTS][(idx % SLOTS) / 64] &= ~(UINT64_C(1) << (idx % 64));
}

static inline bool
bit_test(const struct tern_wheel *w, unsigned idx)
{
	return (w->bitmap[idx / SLOTS][(idx % SLOTS) / 64] >> (idx % 64)) & 1;
}

static void
slot_reset(struct tern_wheel *w, unsigned idx)
{
	*head_of(w, idx) = end_marker(idx);
	*tail_of(w, idx) = head_of(w, idx);
	bit_clear(w, idx);
}

/* Where a timer expiring at `e` belongs when the clock reads w->now. */
static unsigned
slot_index(const struct tern_wheel *w, uint64_t e)
{
	uint64_t n = w->now;
	unsigned k;

	if (e <= n)
		return n & SLOT_MASK;
	for (k = 0; k < LEVELS - 1; k++)
		if ((e - n) >> ((k + 1) * SLOT_BITS) == 0)
			break;
	return k * SLOTS + ((e >> (k * SLOT_BITS)) & SLOT_MASK);
}

static void
append(struct tern_wheel *w, struct tern_timer *t, unsigned idx)
{
	struct tern_timer ***tail = tail_of(w, idx);

	t->next = end_marker(idx);
	t->pprev = *tail;
	**tail = t;
	*tail = &t->next;
	bit_set(w, idx);
}

static void
prepend(struct tern_wheel *w, struct tern_timer *t, unsigned idx)
{
	struct tern_timer **head = head_of(w, idx);
	struct tern_timer *first = *head;

	t->next = first;
	t->pprev = head;
	*head = t;
	if (is_end(first))
		*tail_of(w, idx) = &t->next;
	else
		first->pprev = &t->next;
	bit_set(w, idx);
}

static void
unlink_timer(struct tern_wheel *w, struct tern_timer *t)
{
	struct tern_timer *next = t->next;

	*t->pprev = next;
	if (is_end(next)) {
		unsigned idx = end_index(next);

		*tail_of(w, idx) = t->pprev;
		/* The head's pprev is the slot itself: the slot is now empty. */
		if (t->pprev == head_of(w, idx))
			bit_clear(w, idx);
	} else {
		next->pprev = t->pprev;
	}
	t->pprev = NULL;
}

void
tern_wheel_init(struct tern_wheel *w, uint64_t now)
{
	unsigned idx;

	memset(w, 0, sizeof(*w));
	w->now = now;
	for (idx = 0; idx < LEVELS * SLOTS; idx++)
		slot_reset(w, idx);
}

void
tern_timer_init(struct tern_timer *t, tern_timer_cb cb, void *arg)
{
	t->next = NULL;
	t->pprev = NULL;
	t->expires = 0;
	t->cb = cb;
	t->arg = arg;
}

void
tern_timer_start(struct tern_wheel *w, struct tern_timer *t, uint64_t expires)
{
	if (t->pprev != NULL)
		unlink_timer(w, t);
	else
		w->pending++;
	t->expires = expires;
	append(w, t, slot_index(w, expires));
}

void
tern_timer_stop(struct tern_wheel *w, struct tern_timer *t)
{
	if (t->pprev == NULL)
		return;
	unlink_timer(w, t);
	w->pending--;
}

/*
 * Distance from `start` to the first set bit of a 256-bit map, going round;
 * -1 if the map is empty.
 */
static int
bitmap_find(const uint64_t bm[WORDS], unsigned start)
{
	unsigned wi = start / 64;
	uint64_t word = bm[wi] & (UINT64_MAX << (start % 64));
	unsigned n;

	for (n = 0;; n++) {
		if (word != 0) {
			unsigned pos = ((wi + n) % WORDS) * 64 + (unsigned)__builtin_ctzll(word);

			return (int)((pos - start) & SLOT_MASK);
		}
		if (n == WORDS)
			return -1;
		/* Back at the first word, its bits from `start` on are known clear. */
		word = bm[(wi + n + 1) % WORDS];
	}
}

/*
 * The first tick after w->now at which an occupied level-0 slot comes due
 * or an occupied higher slot cascades; UINT64_MAX if there is none.  The
 * current level-0 slot must be empty: it would read as a full turn away.
 */
static uint64_t
next_tick(const struct tern_wheel *w)
{
	uint64_t best = UINT64_MAX;
	unsigned k;
	int d;

	d = bitmap_find(w->bitmap[0], (w->now + 1) & SLOT_MASK);
	if (d >= 0)
		best = w->now + 1 + (unsigned)d;
	for (k = 1; k < LEVELS; k++) {
		unsigned shift = k * SLOT_BITS;
		uint64_t digits = w->now >> shift;
		uint64_t at;

		/* Boundaries of level k are at least this far; nothing can beat best. */
		if (((digits + 1) << shift) >= best || (digits + 1) << shift == 0)
			break;
		d = bitmap_find(w->bitmap[k], (digits + 1) & SLOT_MASK);
		if (d < 0)
			continue;
		/* A slot whose digit is the current one is next due a full turn away. */
		digits += 1 + (unsigned)d;
		at = digits << shift;
		if (digits >> (64 - shift) == 0 && at < best)
			best = at;
	}
	return best;
}

uint64_t
tern_wheel_next_event(const struct tern_wheel *w)
{
	if (w->pending == 0)
		return UINT64_MAX;
	if (bit_test(w, w->now & SLOT_MASK))
		return w->now;
	return next_tick(w);
}

/* Re-file every timer of slot `idx`, keeping their order and putting them first. */
static void
cascade_slot(struct tern_wheel *w, unsigned idx)
{
	struct tern_timer *t = *head_of(w, idx);
	struct tern_timer *rev = NULL;

	slot_reset(w, idx);
	/* Reverse the list so that prepending each timer keeps the original order. */
	while (!is_end(t)) {
		struct tern_timer *next = t->next;

		t->next = rev;
		rev = t;
		t = next;
	}
	while (rev != NULL) {
		t = rev;
		rev = t->next;
		prepend(w, t, slot_index(w, t->expires));
		w->cascaded++;
	}
}

/* The clock has just entered w->now: cascade the slots that became current. */
static void
cascade(struct tern_wheel *w)
{
	unsigned k;

	for (k = 1; k < LEVELS; k++) {
		unsigned shift = k * SLOT_BITS;
		unsigned idx = k * SLOTS + ((w->now >> shift) & SLOT_MASK);

		if (w->now & ((UINT64_C(1) << shift) - 1))
			break;
		if (bit_test(w, idx))
			cascade_slot(w, idx);
	}
}

unsigned
tern_wheel_advance(struct tern_wheel *w, uint64_t now, unsigned max)
{
	unsigned ran = 0;

	if (now < w->now)
		return 0;
	for (;;) {
		unsigned cur = w->now & SLOT_MASK;
		uint64_t next;

		/*
		 * Pop from the head each time: the callback may stop or start any
		 * timer, this slot's included, so no cursor would stay valid.
		 */
		while (bit_test(w, cur)) {
			struct tern_timer *t = w->slot[0][cur];

			if (ran == max)
				return ran;
			unlink_timer(w, t);
			w->pending--;
			w->fired++;
			ran++;
			t->cb(t, t->arg);
		}
		if (w->now >= now)
			return ran;
		next = next_tick(w);
		w->now = next < now ? next : now;
		cascade(w);
	}
}
