/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Control-plane logging to stderr with a level.  Never called per packet:
 * the datapath counts instead (see drop.h).
 */
#ifndef TERN_CORE_LOG_H
#define TERN_CORE_LOG_H

enum tern_log_level { TERN_LOG_ERR, TERN_LOG_WARN, TERN_LOG_INFO, TERN_LOG_DEBUG };

void tern_log_set_level(enum tern_log_level l);
enum tern_log_level tern_log_get_level(void);
const char *tern_log_level_name(enum tern_log_level l);
int tern_log_parse_level(const char *s);
void tern_log(enum tern_log_level l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define LOG_ERR(...)   tern_log(TERN_LOG_ERR, __VA_ARGS__)
#define LOG_WARN(...)  tern_log(TERN_LOG_WARN, __VA_ARGS__)
#define LOG_INFO(...)  tern_log(TERN_LOG_INFO, __VA_ARGS__)
#define LOG_DEBUG(...) tern_log(TERN_LOG_DEBUG, __VA_ARGS__)

#endif
