/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The config file: one command per line in the ternctl grammar, '#' starts
 * a comment.  Loading is two passes so that a bad line changes nothing:
 * pass 1 (tern_config_load) checks every line and records the boot-only
 * commands; pass 2 (tern_config_apply), once the datapath is up, applies
 * the runtime commands.
 */
#ifndef TERN_MGMT_CONFIG_H
#define TERN_MGMT_CONFIG_H

#include <stdbool.h>

struct tern_config_line {
	int lineno;
	int argc;
	char **argv;
	char *buf;
	bool boot;
};

struct tern_config {
	const char *path;
	struct tern_config_line *line;
	unsigned nb_lines;
};

/* Pass 1.  On error prints "FILE:LINE: message" to stderr, returns -errno. */
int tern_config_load(struct tern_config *cfg, const char *path);
/* Pass 2.  Same error reporting. */
int tern_config_apply(struct tern_config *cfg);
void tern_config_free(struct tern_config *cfg);

#endif
