/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ternd: boots the datapath from a config file, then serves the management
 * socket until shutdown (stack/core/daemon.c).
 */
#include <stddef.h>

#include "core/daemon.h"

int
main(int argc, char **argv)
{
	return tern_daemon(argc, argv, NULL);
}
