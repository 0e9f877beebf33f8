/* SPDX-License-Identifier: BSD-3-Clause */
#include <inttypes.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mgmt/out.h"

static void append(struct tern_out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int grow(struct tern_out *o, size_t more);

void
out_init(struct tern_out *o, bool json)
{
	memset(o, 0, sizeof(*o));
	o->json = json;
	if (json)
		append(o, "{");
}

void
out_free(struct tern_out *o)
{
	free(o->buf);
	o->buf = NULL;
	o->len = o->cap = 0;
}

void
out_reset(struct tern_out *o)
{
	bool json = o->json;
	char *buf = o->buf;
	size_t cap = o->cap;

	memset(o, 0, sizeof(*o));
	o->json = json;
	o->buf = buf;
	o->cap = cap;
	if (json)
		append(o, "{");
}

static int
grow(struct tern_out *o, size_t more)
{
	size_t cap = o->cap ? o->cap : 1024;
	char *b;

	if (o->len + more + 1 <= o->cap)
		return 0;
	while (cap < o->len + more + 1)
		cap *= 2;
	b = realloc(o->buf, cap);
	if (b == NULL) {
		o->nomem = true;
		return -1;
	}
	o->buf = b;
	o->cap = cap;
	return 0;
}

static void
vappend(struct tern_out *o, const char *fmt, va_list ap)
{
	va_list aq;
	int n;

	va_copy(aq, ap);
	n = vsnprintf(NULL, 0, fmt, aq);
	va_end(aq);
	if (n < 0 || grow(o, (size_t)n) < 0)
		return;
	vsnprintf(o->buf + o->len, (size_t)n + 1, fmt, ap);
	o->len += (size_t)n;
}

static void
append(struct tern_out *o, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vappend(o, fmt, ap);
	va_end(ap);
}

/*
 * The length of the well-formed UTF-8 sequence (RFC 3629) at s, or 0: no
 * overlong forms, no surrogates, nothing above U+10FFFF, and a NUL ends a
 * truncated sequence like any other bad continuation byte.
 */
static size_t
utf8_len(const unsigned char *s)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t n;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4;
	else
		return 0;
	/* The second byte's range rules out overlongs, surrogates and
	 * code points past U+10FFFF. */
	if (s[0] == 0xe0)
		lo = 0xa0;
	else if (s[0] == 0xed)
		hi = 0x9f;
	else if (s[0] == 0xf0)
		lo = 0x90;
	else if (s[0] == 0xf4)
		hi = 0x8f;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return n;
}

/* JSON text must be UTF-8, but names and messages hold whatever bytes a
 * user gave (a capture file named "\xff"): each byte that does not start a
 * well-formed sequence becomes U+FFFD, so a JSON parser never chokes. */
static void
append_json_string(struct tern_out *o, const char *str)
{
	const unsigned char *s = (const unsigned char *)str;

	append(o, "\"");
	for (; *s; s++) {
		unsigned char ch = *s;
		size_t n = ch >= 0x80 ? utf8_len(s) : 1;

		if (n == 0)
			append(o, "\\ufffd");
		else if (n > 1) {
			append(o, "%.*s", (int)n, (const char *)s);
			s += n - 1;
		} else if (ch == '"' || ch == '\\')
			append(o, "\\%c", ch);
		else if (ch == '\n')
			append(o, "\\n");
		else if (ch == '\t')
			append(o, "\\t");
		else if (ch < 0x20 || ch == 0x7f)
			append(o, "\\u%04x", ch);
		else
			append(o, "%c", ch);
	}
	append(o, "\"");
}

static void
indent(struct tern_out *o)
{
	for (unsigned i = 0; i < o->ind[o->depth]; i++)
		append(o, "  ");
}

/* Emit the separator and the key for a new member at the current depth. */
static void
member(struct tern_out *o, const char *key)
{
	bool in_list = o->list[o->depth];

	if (o->json) {
		if (o->n[o->depth] > 0)
			append(o, ",");
		if (!in_list) {
			append_json_string(o, key ? key : "");
			append(o, ":");
		}
	} else {
		indent(o);
		if (!in_list && key != NULL)
			append(o, "%s: ", key);
	}
	o->n[o->depth]++;
}

static void
open_container(struct tern_out *o, const char *key, bool list)
{
	unsigned ind = o->ind[o->depth];

	if (o->depth + 1 >= OUT_MAX_DEPTH) {
		o->nomem = true;
		return;
	}
	if (o->json) {
		member(o, key);
		append(o, list ? "[" : "{");
	} else if (o->list[o->depth]) {
		/* elements of a list: a blank line between them */
		if (o->n[o->depth] > 0)
			append(o, "\n");
		o->n[o->depth]++;
	} else {
		indent(o);
		append(o, "%s:\n", key ? key : "");
		o->n[o->depth]++;
		ind++;
	}
	o->depth++;
	o->list[o->depth] = list;
	o->n[o->depth] = 0;
	o->ind[o->depth] = ind;
}

static void
close_container(struct tern_out *o)
{
	if (o->depth == 0)
		return;
	if (o->json)
		append(o, o->list[o->depth] ? "]" : "}");
	o->depth--;
}

const char *
out_finish(struct tern_out *o, size_t *len)
{
	while (o->depth > 0)
		close_container(o);
	if (o->json && !o->finished) {
		append(o, "}\n");
		o->finished = true;
	}
	if (grow(o, 0) == 0)
		o->buf[o->len] = '\0';
	*len = o->len;
	return o->buf ? o->buf : "";
}

void
out_obj_open(struct tern_out *o, const char *key)
{
	open_container(o, key, false);
}

void
out_obj_close(struct tern_out *o)
{
	close_container(o);
}

void
out_list_open(struct tern_out *o, const char *key)
{
	open_container(o, key, true);
}

void
out_list_close(struct tern_out *o)
{
	close_container(o);
}

static void
scalar_prologue(struct tern_out *o, const char *key)
{
	member(o, key);
}

void
out_str(struct tern_out *o, const char *key, const char *fmt, ...)
{
	char *s = NULL;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0) {
		o->nomem = true;
		return;
	}
	scalar_prologue(o, key);
	if (o->json)
		append_json_string(o, s);
	else
		append(o, "%s\n", s);
	free(s);
}

void
out_u64(struct tern_out *o, const char *key, uint64_t v)
{
	scalar_prologue(o, key);
	append(o, o->json ? "%" PRIu64 : "%" PRIu64 "\n", v);
}

void
out_i64(struct tern_out *o, const char *key, int64_t v)
{
	scalar_prologue(o, key);
	append(o, o->json ? "%" PRId64 : "%" PRId64 "\n", v);
}

void
out_bool(struct tern_out *o, const char *key, bool v)
{
	scalar_prologue(o, key);
	if (o->json)
		append(o, "%s", v ? "true" : "false");
	else
		append(o, "%s\n", v ? "yes" : "no");
}

void
out_double(struct tern_out *o, const char *key, double v, int decimals)
{
	scalar_prologue(o, key);
	append(o, o->json ? "%.*f" : "%.*f\n", decimals, v);
}

void
out_text(struct tern_out *o, const char *fmt, ...)
{
	char *s = NULL;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0) {
		o->nomem = true;
		return;
	}
	if (o->json) {
		/* One "text" member per call: handlers call it once in JSON. */
		out_str(o, "text", "%s", s);
	} else {
		append(o, "%s", s);
	}
	free(s);
}

int
out_err(struct tern_out *o, int err, const char *fmt, ...)
{
	char *s = NULL;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	out_reset(o);
	if (n >= 0) {
		if (o->json)
			out_str(o, "error", "%s", s);
		else
			append(o, "%s\n", s);
	}
	free(s);
	return -err;
}

int
out_array_reserve(void **arr, uint32_t *cap, uint32_t n, size_t elem)
{
	uint32_t c = *cap ? *cap * 2 : 256;
	void *a;

	if (n < *cap)
		return 0;
	if ((a = realloc(*arr, (size_t)c * elem)) == NULL)
		return -ENOMEM;
	*arr = a;
	*cap = c;
	return 0;
}
