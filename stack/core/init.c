/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <string.h>

#include "core/init.h"
#include "core/log.h"

#define TERN_MAX_INIT 64

/* Filled by constructors before main(); read once at boot. */
static struct {
	const char *name;
	tern_init_fn fn;
} hooks[TERN_MAX_INIT];
static unsigned nb_hooks;

void
tern_init_register(const char *name, tern_init_fn fn)
{
	if (nb_hooks == TERN_MAX_INIT)
		rte_panic("too many init hooks (%s)\n", name);
	hooks[nb_hooks].name = name;
	hooks[nb_hooks].fn = fn;
	nb_hooks++;
}

static void (*finis[TERN_MAX_INIT])(void);
static unsigned nb_finis;

void
tern_fini_register(const char *name, void (*fn)(void))
{
	if (nb_finis == TERN_MAX_INIT)
		rte_panic("too many fini hooks (%s)\n", name);
	finis[nb_finis++] = fn;
}

void
tern_fini_run(void)
{
	for (unsigned i = nb_finis; i > 0; i--)
		finis[i - 1]();
}

int
tern_init_run(void)
{
	for (unsigned i = 0; i < nb_hooks; i++) {
		int rc = hooks[i].fn();
		if (rc < 0) {
			LOG_ERR("init %s: %s", hooks[i].name, strerror(-rc));
			return rc;
		}
	}
	return 0;
}
