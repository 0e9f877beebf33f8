/* SPDX-License-Identifier: BSD-3-Clause */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/log.h"

static enum tern_log_level log_level = TERN_LOG_INFO;
static const char *const level_names[] = { "error", "warning", "info", "debug" };

void
tern_log_set_level(enum tern_log_level l)
{
	log_level = l;
}

enum tern_log_level
tern_log_get_level(void)
{
	return log_level;
}

const char *
tern_log_level_name(enum tern_log_level l)
{
	return level_names[l];
}

int
tern_log_parse_level(const char *s)
{
	for (unsigned i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++)
		if (strcmp(s, level_names[i]) == 0)
			return (int)i;
	return -1;
}

void
tern_log(enum tern_log_level l, const char *fmt, ...)
{
	struct timespec ts;
	struct tm tm;
	char stamp[32];
	va_list ap;

	if (l > log_level)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%H:%M:%S", &tm);
	fprintf(stderr, "%s.%03ld ternd %s: ", stamp, ts.tv_nsec / 1000000, level_names[l]);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}
