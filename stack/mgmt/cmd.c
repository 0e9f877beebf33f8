/* SPDX-License-Identifier: BSD-3-Clause */
#include <ctype.h>
#include <stdio.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "mgmt/cmd.h"

int
cmd_tokenize(char *line, char **argv, int max, const char **err)
{
	char *r = line, *w = line;
	int argc = 0;

	*err = NULL;
	for (;;) {
		while (*r == ' ' || *r == '\t' || *r == '\r' || *r == '\n')
			r++;
		if (*r == '\0' || *r == '#')
			break;
		if (argc == max) {
			*err = "too many words";
			return -E2BIG;
		}
		argv[argc++] = w;
		while (*r != '\0' && *r != ' ' && *r != '\t' && *r != '\r' && *r != '\n') {
			if (*r != '"') {
				*w++ = *r++;
				continue;
			}
			r++;
			while (*r != '"') {
				if (*r == '\0') {
					*err = "unterminated quote";
					return -EINVAL;
				}
				if (*r == '\\' && (r[1] == '"' || r[1] == '\\'))
					r++;
				*w++ = *r++;
			}
			r++;
		}
		/* r may point at the blank that ends this word: step over it
		 * before terminating, because w may have caught up with r. */
		if (*r != '\0')
			r++;
		*w++ = '\0';
	}
	return argc;
}

static int
words_match(const char *name, int argc, char **argv)
{
	int n = 0;

	while (*name) {
		size_t len = strcspn(name, " ");
		if (n >= argc || strlen(argv[n]) != len || strncmp(name, argv[n], len) != 0)
			return 0;
		n++;
		name += len;
		while (*name == ' ')
			name++;
	}
	return n;
}

const struct cmd_def *
cmd_lookup(int argc, char **argv, int *nwords)
{
	const struct cmd_def *best = NULL;
	int best_n = 0;

	/* Longest match wins, so "port add" and "port xconnect" coexist. */
	for (const struct cmd_def *d = tern_commands; d->name; d++) {
		int n = words_match(d->name, argc, argv);
		if (n > best_n) {
			best = d;
			best_n = n;
		}
	}
	*nwords = best_n;
	return best;
}

/* "stats" alone: name the commands it starts, or say it is unknown. */
static int
incomplete(struct cmd_ctx *c, const char *word)
{
	char list[512];
	size_t n = 0, len = strlen(word);

	list[0] = '\0';
	for (const struct cmd_def *d = tern_commands; d->name; d++) {
		if (strncmp(d->name, word, len) == 0 && d->name[len] == ' ' &&
		    n + strlen(d->name) + 3 < sizeof(list))
			n += (size_t)snprintf(list + n, sizeof(list) - n, "%s%s", n ? ", " : "",
			                      d->name);
	}
	if (n == 0)
		return out_err(c->out, ENOENT, "unknown command '%s' (try 'help')", word);
	return out_err(c->out, EINVAL, "usage: %s ... (one of: %s)", word, list);
}

int
cmd_exec(struct cmd_ctx *c, int argc, char **argv)
{
	const struct cmd_def *d;
	int nw, nargs;

	if (argc == 0)
		return out_err(c->out, EINVAL, "empty command");
	d = cmd_lookup(argc, argv, &nw);
	if (d == NULL)
		return incomplete(c, argv[0]);
	nargs = argc - nw;
	if (nargs < d->min_args || (d->max_args >= 0 && nargs > d->max_args)) {
		return out_err(c->out, EINVAL, "usage: %s%s%s", d->name, d->usage[0] ? " " : "",
		               d->usage);
	}
	if ((d->flags & CMD_BOOT) && !c->boot)
		return out_err(c->out, EPERM,
		               "'%s' is boot-only: put it in the config file and restart ternd",
		               d->name);
	if ((d->flags & CMD_NOCONFIG) && c->boot)
		return out_err(c->out, EINVAL, "'%s' cannot be used in a config file", d->name);
	return d->fn(c, nargs, argv + nw);
}

int
cmd_parse_u64(struct cmd_ctx *c, const char *what, const char *s, uint64_t min, uint64_t max,
              uint64_t *v)
{
	char *end;
	unsigned long long x;

	if (!isdigit((unsigned char)s[0]))
		goto bad;
	errno = 0;
	x = strtoull(s, &end, 10);
	if (*end != '\0')
		goto bad;
	/* All digits but past 2^64 - 1: a number, just too big. */
	if (errno == ERANGE || x < min || x > max)
		return out_err(c->out, EINVAL, "%s '%s' out of range [%" PRIu64 ", %" PRIu64 "]",
		               what, s, min, max);
	*v = x;
	return 0;
bad:
	return out_err(c->out, EINVAL, "%s '%s' is not a number", what, s);
}

int
cmd_once(struct cmd_ctx *c, char **argv, int first, int i, int step)
{
	for (int j = first; j < i; j += step)
		if (strcmp(argv[j], argv[i]) == 0)
			return out_err(c->out, EINVAL, "'%s' given twice", argv[i]);
	return 0;
}

const char *
cmd_quote(const char *word, char *buf, size_t sz)
{
	size_t n = 0;

	if (word[0] != '\0' && word[0] != '#' && strpbrk(word, " \t\"\\") == NULL) {
		snprintf(buf, sz, "%s", word);
		return buf;
	}
	buf[n++] = '"';
	for (const char *s = word; *s && n + 3 < sz; s++) {
		if (*s == '"' || *s == '\\')
			buf[n++] = '\\';
		buf[n++] = *s;
	}
	buf[n++] = '"';
	buf[n] = '\0';
	return buf;
}

char *
cmd_join(int argc, char **argv)
{
	size_t sz = 1, n = 0;
	char *buf;

	for (int i = 0; i < argc; i++)
		sz += 2 * strlen(argv[i]) + 4; /* quoted, and a blank */
	if ((buf = malloc(sz)) == NULL)
		return NULL;
	buf[0] = '\0';
	for (int i = 0; i < argc; i++) {
		if (i > 0)
			buf[n++] = ' ';
		cmd_quote(argv[i], buf + n, sz - n);
		n += strlen(buf + n);
	}
	return buf;
}
