/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Command dispatch shared by the management socket and the config file.
 *
 * Every command is one row of the table in commands.c: its words, its
 * arity, its handler and its help.  cmd_exec() finds the row and checks the
 * arity in one place, so a handler only validates the values of its
 * arguments.  Handlers return 0 or -errno; on error they put the message in
 * the reply with out_err(), naming the argument at fault.
 *
 * A handler must not half-apply: it validates everything first and only then
 * changes state.  When ctx->dry_run is set (first pass over a config file),
 * it stops after validation.
 */
#ifndef TERN_MGMT_CMD_H
#define TERN_MGMT_CMD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mgmt/out.h"

#define CMD_MAX_WORDS 128
#define CMD_MAX_LINE  65536 /* bytes, newline included */

struct cmd_ctx {
	struct tern_out *out;
	bool dry_run;     /* validate only */
	bool boot;        /* from the config file: boot-only commands allowed */
	const char *file; /* config file and line, for later error messages */
	int line;
};

typedef int (*cmd_fn)(struct cmd_ctx *c, int argc, char **argv);

enum cmd_flags {
	CMD_BOOT = 1u << 0,     /* config file only: eal, port add, workers */
	CMD_NOCONFIG = 1u << 1, /* operator only: show, stats, shutdown */
};

struct cmd_def {
	const char *name; /* its words, e.g. "link show" */
	int min_args;     /* arguments after the words */
	int max_args;     /* -1: no limit */
	cmd_fn fn;
	unsigned flags;
	const char *usage; /* arguments, e.g. "NAME DEVARGS [rxq N]" */
	const char *help;
};

extern const struct cmd_def tern_commands[];

/*
 * Split a line into words in place.  Words are separated by blanks; double
 * quotes group, with \" and \\ escapes inside.  '#' at the start of a word
 * begins a comment.  Returns the word count or -errno (message in *err).
 */
int cmd_tokenize(char *line, char **argv, int max, const char **err);

/* Look up argv[0..] in the table, check arity and flags, run it. */
int cmd_exec(struct cmd_ctx *c, int argc, char **argv);

/* The row whose words prefix argv, and how many words it took. */
const struct cmd_def *cmd_lookup(int argc, char **argv, int *nwords);

/*
 * `word` as the tokenizer reads it back: bare, or in double quotes with "
 * and \ escaped.  Writes into buf (2 * strlen + 3 bytes always suffice).
 */
const char *cmd_quote(const char *word, char *buf, size_t sz);

/* argv as one line the tokenizer reads back, quoting words as cmd_quote()
 * does; malloc'd (NULL when out of memory). */
char *cmd_join(int argc, char **argv);

/* Argument helpers: on error they fill the reply and return -EINVAL. */
int cmd_parse_u64(struct cmd_ctx *c, const char *what, const char *s, uint64_t min, uint64_t max,
                  uint64_t *v);
/*
 * Options come once: a second one would silently win over the first.  Is
 * option argv[i] one of argv[first], argv[first + step]... before it?
 * ("'WORD' given twice")
 */
int cmd_once(struct cmd_ctx *c, char **argv, int first, int i, int step);

#endif
