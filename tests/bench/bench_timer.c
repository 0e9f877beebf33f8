/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Benchmark: tern's timer wheel against DPDK's rte_timer, in one process.
 *
 * Both hold the same number of pending timers (1M by default) with random
 * expiries between 1 h and 7 days, and replay the same pre-generated random
 * operations:
 *
 *   rearm       re-arm a random pending timer to a new random expiry
 *               (stop + start: tern_timer_start / rte_timer_reset)
 *   start+stop  arm a fresh timer with a random expiry, then disarm it
 *   expire      arm another N timers within the next 50 ms, then fire them
 *               all in one call (tern_wheel_advance / rte_timer_manage);
 *               only the firing is timed
 *
 * The two run alternately for a few rounds and the medians are reported.
 * It prints numbers and never fails: a slow or busy machine is not a bug.
 */
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_lcore.h>
#include <rte_timer.h>

#include "timer/wheel.h"

#define MS_PER_HOUR (UINT64_C(3600) * 1000)
#define MS_PER_DAY  (24 * MS_PER_HOUR)
#define MAX_ROUNDS  64

static uint64_t rng_state = 42;

/* splitmix64: same stream for both contenders. */
static uint64_t
rnd(void)
{
	uint64_t z = (rng_state += UINT64_C(0x9E3779B97F4A7C15));

	z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
	return z ^ (z >> 31);
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double
median(double *v, unsigned n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Shared workload: which timer, and the new expiry in ms from now. */
static uint32_t *op_idx;
static uint64_t *op_ms;
static size_t nops;
static size_t ntimers;

static uint64_t fired; /* callbacks run, both kinds; defeats dead-code elimination */

/* ---- tern ---- */

static struct tern_wheel *wheel;
static struct tern_timer *tt;
static struct tern_timer *tt_fresh;
static struct tern_timer *tt_due;
static uint64_t tern_base = 1000; /* the fake clock; only the expiry phase moves it */

static void
tern_cb(struct tern_timer *t, void *arg)
{
	(void)t;
	(void)arg;
	fired++;
}

static double
tern_fill(void)
{
	double t0 = now_s();
	size_t i;

	for (i = 0; i < ntimers; i++)
		tern_timer_start(wheel, &tt[i], tern_base + op_ms[i % nops]);
	return (double)ntimers / (now_s() - t0);
}

static double
tern_rearm(void)
{
	double t0 = now_s();
	size_t i;

	for (i = 0; i < nops; i++)
		tern_timer_start(wheel, &tt[op_idx[i]], tern_base + op_ms[i]);
	return (double)nops / (now_s() - t0);
}

static double
tern_start_stop(void)
{
	double t0 = now_s();
	size_t i;

	for (i = 0; i < nops; i++) {
		struct tern_timer *t = &tt_fresh[i & 1023];

		tern_timer_start(wheel, t, tern_base + op_ms[i]);
		tern_timer_stop(wheel, t);
	}
	return (double)nops / (now_s() - t0);
}

static double
tern_expire(void)
{
	uint64_t before = fired;
	size_t i;
	double t0;

	for (i = 0; i < ntimers; i++)
		tern_timer_start(wheel, &tt_due[i], tern_base + op_idx[i % nops] % 50);
	t0 = now_s();
	tern_wheel_advance(wheel, tern_base + 50, UINT32_MAX);
	t0 = now_s() - t0;
	tern_base += 50;
	if (fired - before != ntimers)
		printf("warning: tern fired %llu of %zu\n", (unsigned long long)(fired - before),
		       ntimers);
	return (double)ntimers / t0;
}

/* Sweep the whole 7 days in 1 s steps, firing every timer. */
static void
tern_sweep(void)
{
	uint64_t before = fired, end = tern_base + 7 * MS_PER_DAY + 1, now = tern_base;
	size_t calls = 0;
	double t0 = now_s();

	while (now < end) {
		now += 1000;
		tern_wheel_advance(wheel, now, UINT32_MAX);
		calls++;
	}
	t0 = now_s() - t0;
	printf("tern sweep 7 days in 1 s steps: %.3f s, %zu advance calls, %llu fired "
	       "(%.1f M/s), %llu cascaded\n",
	       t0, calls, (unsigned long long)(fired - before), (double)(fired - before) / t0 / 1e6,
	       (unsigned long long)wheel->cascaded);
}

/* ---- rte_timer ---- */

static struct rte_timer *rt;
static struct rte_timer *rt_fresh;
static struct rte_timer *rt_due;
static uint64_t ticks_per_ms;
static unsigned lcore;

static void
rte_cb(struct rte_timer *t, void *arg)
{
	(void)t;
	(void)arg;
	fired++;
}

static void
rte_arm(struct rte_timer *t, uint64_t ms)
{
	if (rte_timer_reset(t, ms * ticks_per_ms, SINGLE, lcore, rte_cb, NULL) != 0) {
		fprintf(stderr, "rte_timer_reset failed\n");
		exit(1);
	}
}

static double
rte_fill(void)
{
	double t0 = now_s();
	size_t i;

	for (i = 0; i < ntimers; i++)
		rte_arm(&rt[i], op_ms[i % nops]);
	return (double)ntimers / (now_s() - t0);
}

static double
rte_rearm(void)
{
	double t0 = now_s();
	size_t i;

	for (i = 0; i < nops; i++)
		rte_arm(&rt[op_idx[i]], op_ms[i]);
	return (double)nops / (now_s() - t0);
}

static double
rte_start_stop(void)
{
	double t0 = now_s();
	size_t i;

	for (i = 0; i < nops; i++) {
		struct rte_timer *t = &rt_fresh[i & 1023];

		rte_arm(t, op_ms[i]);
		rte_timer_stop(t);
	}
	return (double)nops / (now_s() - t0);
}

static double
rte_expire(void)
{
	uint64_t before = fired;
	size_t i;
	double t0;

	for (i = 0; i < ntimers; i++)
		rte_arm(&rt_due[i], op_idx[i % nops] % 50);
	rte_delay_ms(60);
	t0 = now_s();
	rte_timer_manage();
	t0 = now_s() - t0;
	if (fired - before != ntimers)
		printf("warning: rte_timer fired %llu of %zu\n",
		       (unsigned long long)(fired - before), ntimers);
	return (double)ntimers / t0;
}

/* ---- driver ---- */

static void
usage(const char *prog)
{
	printf("usage: %s [-n timers] [-o ops] [-r rounds]\n"
	       "  -n  pending timers (default 1000000)\n"
	       "  -o  operations per round (default 500000)\n"
	       "  -r  rounds, alternating tern and rte_timer (default 5)\n",
	       prog);
}

static void *
xcalloc(size_t n, size_t size)
{
	void *p = calloc(n, size);

	if (p == NULL) {
		fprintf(stderr, "out of memory\n");
		exit(1);
	}
	return p;
}

static void
report(const char *what, double *tern, double *rte, unsigned rounds, const char *ratio_label)
{
	double a = median(tern, rounds), b = median(rte, rounds);

	printf("%-11s tern %8.2f Mops/s   rte_timer %8.2f Mops/s\n", what, a / 1e6, b / 1e6);
	if (ratio_label != NULL)
		printf("%s %.1fx\n", ratio_label, a / b);
}

int
main(int argc, char **argv)
{
	char *eal_argv[] = {
		argv[0],
		"--no-huge",
		"-m",
		"512",
		"--no-pci",
		"--no-shconf",
		"-l",
		"0",
		"--log-level=lib.eal:error",
		"--no-telemetry",
		NULL,
	};
	int eal_argc = (int)(sizeof(eal_argv) / sizeof(eal_argv[0])) - 1;
	double r_tern[MAX_ROUNDS], r_rte[MAX_ROUNDS];
	double s_tern[MAX_ROUNDS], s_rte[MAX_ROUNDS];
	double e_tern[MAX_ROUNDS], e_rte[MAX_ROUNDS];
	unsigned rounds = 5, r;
	double fill_tern, fill_rte;
	size_t i;
	int opt;

	ntimers = 1000000;
	nops = 500000;
	while ((opt = getopt(argc, argv, "n:o:r:h")) != -1) {
		switch (opt) {
		case 'n':
			ntimers = strtoul(optarg, NULL, 0);
			break;
		case 'o':
			nops = strtoul(optarg, NULL, 0);
			break;
		case 'r':
			rounds = (unsigned)strtoul(optarg, NULL, 0);
			break;
		default:
			usage(argv[0]);
			return opt == 'h' ? 0 : 1;
		}
	}
	if (ntimers == 0 || ntimers > UINT32_MAX || nops == 0 || rounds == 0 ||
	    rounds > MAX_ROUNDS) {
		usage(argv[0]);
		return 1;
	}

	if (rte_eal_init(eal_argc, eal_argv) < 0) {
		fprintf(stderr, "rte_eal_init failed\n");
		return 1;
	}
	if (rte_timer_subsystem_init() < 0) {
		fprintf(stderr, "rte_timer_subsystem_init failed\n");
		return 1;
	}
	lcore = rte_lcore_id();
	ticks_per_ms = rte_get_timer_hz() / 1000;

	op_idx = xcalloc(nops, sizeof(*op_idx));
	op_ms = xcalloc(nops, sizeof(*op_ms));
	for (i = 0; i < nops; i++) {
		op_idx[i] = (uint32_t)(rnd() % ntimers);
		op_ms[i] = MS_PER_HOUR + rnd() % (7 * MS_PER_DAY - MS_PER_HOUR);
	}

	wheel = xcalloc(1, sizeof(*wheel));
	tt = xcalloc(ntimers, sizeof(*tt));
	tt_fresh = xcalloc(1024, sizeof(*tt_fresh));
	tt_due = xcalloc(ntimers, sizeof(*tt_due));
	tern_wheel_init(wheel, tern_base);
	for (i = 0; i < ntimers; i++) {
		tern_timer_init(&tt[i], tern_cb, NULL);
		tern_timer_init(&tt_due[i], tern_cb, NULL);
	}
	for (i = 0; i < 1024; i++)
		tern_timer_init(&tt_fresh[i], tern_cb, NULL);

	rt = xcalloc(ntimers, sizeof(*rt));
	rt_fresh = xcalloc(1024, sizeof(*rt_fresh));
	rt_due = xcalloc(ntimers, sizeof(*rt_due));
	for (i = 0; i < ntimers; i++) {
		rte_timer_init(&rt[i]);
		rte_timer_init(&rt_due[i]);
	}
	for (i = 0; i < 1024; i++)
		rte_timer_init(&rt_fresh[i]);

	printf("timers %zu pending (expiries 1 h .. 7 days), %zu ops per round, %u rounds, "
	       "TSC %.2f GHz\n",
	       ntimers, nops, rounds, (double)rte_get_timer_hz() / 1e9);
	fill_tern = tern_fill();
	fill_rte = rte_fill();
	printf("%-11s tern %8.2f Mops/s   rte_timer %8.2f Mops/s   (single pass)\n", "fill",
	       fill_tern / 1e6, fill_rte / 1e6);

	for (r = 0; r < rounds; r++) {
		r_tern[r] = tern_rearm();
		r_rte[r] = rte_rearm();
		s_tern[r] = tern_start_stop();
		s_rte[r] = rte_start_stop();
		e_tern[r] = tern_expire();
		e_rte[r] = rte_expire();
	}
	report("expire", e_tern, e_rte, rounds, "ratio expire tern/rte_timer:");
	report("start+stop", s_tern, s_rte, rounds, "ratio start+stop tern/rte_timer:");
	report("rearm", r_tern, r_rte, rounds, NULL);
	printf("ratio tern/rte_timer: %.1fx (target >= 5x; rearm = stop+start of a pending "
	       "timer)\n",
	       median(r_tern, rounds) / median(r_rte, rounds));

	tern_sweep();

	for (i = 0; i < ntimers; i++)
		rte_timer_stop(&rt[i]);
	rte_timer_subsystem_finalize();
	rte_eal_cleanup();
	free(rt_due);
	free(rt_fresh);
	free(rt);
	free(tt_due);
	free(tt_fresh);
	free(tt);
	free(wheel);
	free(op_ms);
	free(op_idx);
	return 0;
}
