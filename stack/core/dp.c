/* SPDX-License-Identifier: BSD-3-Clause */
#include <stdlib.h>
#include <string.h>

#include <rte_malloc.h>
#include <rte_rcu_qsbr.h>

#include "core/ctl.h"
#include "core/dp.h"

const struct tern_dp *
tern_dp_current(void)
{
	return atomic_load(&tern_ctl.dp);
}

struct tern_dp *
tern_dp_copy(void)
{
	const struct tern_dp *cur = tern_dp_current();
	struct tern_dp *next = rte_zmalloc("tern_dp", sizeof(*next), RTE_CACHE_LINE_SIZE);

	if (next != NULL && cur != NULL)
		memcpy(next, cur, sizeof(*next));
	return next;
}

void
tern_dp_publish(struct tern_dp *next)
{
	const struct tern_dp *old = atomic_exchange(&tern_ctl.dp, next);

	/* Workers that are offline (not started yet) are not waited for. */
	if (tern_ctl.qsbr != NULL)
		rte_rcu_qsbr_synchronize(tern_ctl.qsbr, RTE_QSBR_THRID_INVALID);
	rte_free((void *)(uintptr_t)old);
}
