/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * NAT44 in ternd: a session table per worker, the nat44 node (ip_input's
 * prerouting hook) and the control side (rules, knobs, commands).  See
 * docs/nat.md.
 */
#ifndef TERN_NAT_NAT_WORKER_H
#define TERN_NAT_NAT_WORKER_H

#include <rte_ring.h>

#include "core/worker.h"
#include "nat/nat.h"

struct nat_worker {
	struct tern_worker *w;
	struct nat_table *t;
	struct rte_ring *handoff; /* packets other workers found to be ours */
	uint64_t handoff_in, handoff_out;
};

struct nat_worker *nat_worker_of(const struct tern_worker *w);
struct nat_worker *nat_worker_by_index(unsigned i);
unsigned nat_nb_workers(void);

/* Control thread: the knobs every worker's table uses. */
struct nat_cfg *nat_global_cfg(void);
/* Control thread, at shutdown: forget rules and knobs. */
void nat_control_fini(void);

#endif
