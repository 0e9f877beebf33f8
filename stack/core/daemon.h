/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ternd's main, as a function: parse the command line, boot from the
 * config file, launch the workers, call `ready` (if not NULL) on the
 * control thread, then serve the management socket until shutdown.
 * Example applications start their tern_app here.  Returns the exit
 * status (0, 1, or 2 for bad input).
 */
#ifndef TERN_CORE_DAEMON_H
#define TERN_CORE_DAEMON_H

int tern_daemon(int argc, char **argv, int (*ready)(void));

#endif
