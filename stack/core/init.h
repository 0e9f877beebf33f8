/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Module init hooks, run once at boot after the ports are up and before the
 * graphs are created.  This is where upper layers register with lower ones
 * (e.g. a protocol adds its EtherType to eth_input), so that a lower layer
 * never includes an upper layer's header.
 */
#ifndef TERN_CORE_INIT_H
#define TERN_CORE_INIT_H

#include <rte_common.h>
#include <rte_debug.h>

typedef int (*tern_init_fn)(void);

void tern_init_register(const char *name, tern_init_fn fn);
/* Run every hook in registration order; stops at the first error. */
int tern_init_run(void);

/* Teardown hooks, run at shutdown in reverse order, after the workers stop. */
void tern_fini_register(const char *name, void (*fn)(void));
void tern_fini_run(void);

#define TERN_FINI(fn)                                                                              \
	RTE_INIT(tern_fini_##fn)                                                                   \
	{                                                                                          \
		tern_fini_register(#fn, fn);                                                       \
	}

#define TERN_INIT(fn)                                                                              \
	RTE_INIT(tern_init_##fn)                                                                   \
	{                                                                                          \
		tern_init_register(#fn, fn);                                                       \
	}

#endif
