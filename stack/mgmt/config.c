/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mgmt/cmd.h"
#include "mgmt/config.h"

static void
report(const struct tern_config *cfg, int lineno, struct tern_out *o, const char *msg)
{
	size_t len;
	const char *s = msg ? msg : out_finish(o, &len);

	len = strlen(s);
	while (len > 0 && s[len - 1] == '\n')
		len--;
	fprintf(stderr, "%s:%d: %.*s\n", cfg->path, lineno, (int)len, s);
}

/* Control characters other than blanks mean this is not a text file. */
static const char *
check_text(const char *line, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)line[i];
		if (ch == '\0')
			return "binary data (NUL byte) in line";
		if ((ch < 0x20 && ch != '\t' && ch != '\r' && ch != '\n') || ch == 0x7f)
			return "control character in line";
	}
	return NULL;
}

static int
run_line(struct tern_config *cfg, struct tern_config_line *l, bool dry_run)
{
	struct tern_out out;
	struct cmd_ctx c = {
		.out = &out, .dry_run = dry_run, .boot = true, .file = cfg->path, .line = l->lineno
	};
	int rc;

	out_init(&out, false);
	rc = cmd_exec(&c, l->argc, l->argv);
	if (rc < 0)
		report(cfg, l->lineno, &out, NULL);
	out_free(&out);
	return rc;
}

int
tern_config_load(struct tern_config *cfg, const char *path)
{
	FILE *f = fopen(path, "r");
	char *line = NULL, *words[CMD_MAX_WORDS];
	size_t cap = 0;
	ssize_t len;
	int lineno = 0, rc = 0;

	memset(cfg, 0, sizeof(*cfg));
	cfg->path = path;
	if (f == NULL) {
		int err = errno;
		fprintf(stderr, "%s: %s\n", path, strerror(err));
		return -err;
	}
	while ((len = getline(&line, &cap, f)) >= 0) {
		struct tern_config_line *l, *grown;
		const char *err;
		int argc;

		lineno++;
		if (len > CMD_MAX_LINE) {
			report(cfg, lineno, NULL, "line longer than 65536 bytes");
			rc = -E2BIG;
			break;
		}
		if ((err = check_text(line, (size_t)len)) != NULL) {
			report(cfg, lineno, NULL, err);
			rc = -EINVAL;
			break;
		}
		char *buf = strdup(line);
		if (buf == NULL) {
			rc = -ENOMEM;
			break;
		}
		argc = cmd_tokenize(buf, words, CMD_MAX_WORDS, &err);
		if (argc <= 0) {
			free(buf);
			if (argc == 0)
				continue; /* blank or comment */
			report(cfg, lineno, NULL, err);
			rc = argc;
			break;
		}
		grown = realloc(cfg->line, (cfg->nb_lines + 1) * sizeof(*cfg->line));
		if (grown == NULL) {
			free(buf);
			rc = -ENOMEM;
			break;
		}
		cfg->line = grown;
		l = &cfg->line[cfg->nb_lines++];
		l->lineno = lineno;
		l->buf = buf;
		l->argc = argc;
		l->argv = malloc(sizeof(char *) * (size_t)argc);
		if (l->argv == NULL) {
			l->argc = 0;
			rc = -ENOMEM;
			break;
		}
		memcpy(l->argv, words, sizeof(char *) * (size_t)argc);
		{
			int nw;
			const struct cmd_def *d = cmd_lookup(argc, l->argv, &nw);
			l->boot = d != NULL && (d->flags & CMD_BOOT);
		}
		if ((rc = run_line(cfg, l, true)) < 0)
			break;
	}
	if (rc == 0 && ferror(f)) {
		fprintf(stderr, "%s: read error: %s\n", path, strerror(errno));
		rc = -EIO;
	}
	free(line);
	fclose(f);
	return rc;
}

int
tern_config_apply(struct tern_config *cfg)
{
	for (unsigned i = 0; i < cfg->nb_lines; i++) {
		struct tern_config_line *l = &cfg->line[i];
		int rc;

		if (l->boot)
			continue;
		if ((rc = run_line(cfg, l, false)) < 0)
			return rc;
	}
	return 0;
}

void
tern_config_free(struct tern_config *cfg)
{
	for (unsigned i = 0; i < cfg->nb_lines; i++) {
		free(cfg->line[i].argv);
		free(cfg->line[i].buf);
	}
	free(cfg->line);
	cfg->line = NULL;
	cfg->nb_lines = 0;
}
