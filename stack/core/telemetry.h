/* SPDX-License-Identifier: BSD-3-Clause */
/* rte_telemetry endpoints (telemetry.c). */
#ifndef TERN_CORE_TELEMETRY_H
#define TERN_CORE_TELEMETRY_H

#include <stdbool.h>
#include <stdint.h>

/* Control thread: the workers and their graphs exist (up), or are about
 * to be freed (down); the endpoints answer only while up. */
void tern_telemetry_up(bool up);

/*
 * A module's counters, for its CLI command and a telemetry endpoint alike:
 * `fill` calls put(arg, name, value) for each.  On the telemetry thread it
 * runs under the read lock, so it may read what the CLI reads across
 * threads (workers' counters, with atomic loads), nothing else.
 */
typedef void (*tern_stat_put_fn)(void *arg, const char *name, uint64_t v);
typedef void (*tern_stats_fill_fn)(tern_stat_put_fn put, void *arg);

/* TERN_INIT hooks: endpoint `cmd` ("/tern/MODULE/stats") answers with the
 * dict `fill` makes.  0 or -errno. */
int tern_telemetry_register_stats(const char *cmd, tern_stats_fill_fn fill, const char *help);

/* For CLI handlers: `put` that writes to a struct tern_out. */
void tern_stat_put_out(void *out, const char *name, uint64_t v);

#endif
