/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Reply emitter for the management socket.  Handlers describe their output
 * once, as nested objects and lists of key/value pairs; the emitter renders
 * it either as `key: value` text (easy to grep) or as JSON (for `-j`).
 */
#ifndef TERN_MGMT_OUT_H
#define TERN_MGMT_OUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define OUT_MAX_DEPTH 16

struct tern_out {
	char *buf;
	size_t len, cap;
	bool json;
	bool nomem;
	bool finished;
	int depth;
	unsigned ind[OUT_MAX_DEPTH]; /* text indent of members at this depth */
	bool list[OUT_MAX_DEPTH];    /* container at this depth is a list */
	unsigned n[OUT_MAX_DEPTH];   /* members emitted so far at this depth */
};

void out_init(struct tern_out *o, bool json);
void out_free(struct tern_out *o);
/* Drop everything emitted so far (used before an error message). */
void out_reset(struct tern_out *o);

/* Close what is open and return the rendered reply (NUL-terminated). */
const char *out_finish(struct tern_out *o, size_t *len);

void out_obj_open(struct tern_out *o, const char *key);
void out_obj_close(struct tern_out *o);
void out_list_open(struct tern_out *o, const char *key);
void out_list_close(struct tern_out *o);

void out_str(struct tern_out *o, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void out_u64(struct tern_out *o, const char *key, uint64_t v);
void out_i64(struct tern_out *o, const char *key, int64_t v);
void out_bool(struct tern_out *o, const char *key, bool v);
void out_double(struct tern_out *o, const char *key, double v, int decimals);

/* Free text, text mode only (help, running-config); JSON gets a "text" member. */
void out_text(struct tern_out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * Room for element n of a growing array (listings gathered from the
 * workers): doubles *cap when full.  0 or -ENOMEM (the array is kept).
 */
int out_array_reserve(void **arr, uint32_t *cap, uint32_t n, size_t elem);

/*
 * Replace the reply with an error message and return -err, so handlers can
 * write `return out_err(c->out, EINVAL, "...")`.
 */
int out_err(struct tern_out *o, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
