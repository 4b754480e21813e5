/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef RMX_CORE_LOG_H
#define RMX_CORE_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum rmx__log_level {
	RMX__LOG_NONE = 0,
	RMX__LOG_ERROR,
	RMX__LOG_WARN,
	RMX__LOG_INFO,
	RMX__LOG_DEBUG,
	RMX__LOG_TRACE,
};

extern int rmx__log_level;

/*
 * Reads RMX_LOG_LEVEL once per process: contexts created by different
 * threads must not race on the level. rmx__config_load() validates it.
 */
void rmx__log_init(void);

void rmx__log(int level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * Holds this thread's error and warning lines back instead of printing
 * them, keeping the last in buf, until rmx__log_capture_end() returns
 * its level (0: none came): work that fails as a whole then logs one
 * line with the cause.
 */
void rmx__log_capture_begin(char *buf, size_t len);
int rmx__log_capture_end(void);

/* A message that repeats (a peer retrying), by key: once per second. */
struct rmx__log_limit {
	char key[64];
	int64_t since_ms;	/* when it was last printed */
	unsigned int held;	/* repeats not printed since */
};

/*
 * Whether the message of key may print now (tab: n slots, reused
 * oldest first): -1 when it printed less than a second ago, else how
 * many repeats were held back since it last printed.
 */
int rmx__log_limit(struct rmx__log_limit *tab, size_t n, const char *key,
		   int64_t now_ms);

/* Parses "none|error|warn|info|debug|trace" or a digit; -EINVAL otherwise. */
int rmx__log_level_parse(const char *s);

/* The level check is inline so disabled debug lines cost one compare. */
#define RMX__LOG(lvl, ...)                          \
	do {                                        \
		if ((lvl) <= rmx__log_level)        \
			rmx__log((lvl), __VA_ARGS__); \
	} while (0)

#define rmx__err(...) RMX__LOG(RMX__LOG_ERROR, __VA_ARGS__)
#define rmx__warn(...) RMX__LOG(RMX__LOG_WARN, __VA_ARGS__)
#define rmx__info(...) RMX__LOG(RMX__LOG_INFO, __VA_ARGS__)
#define rmx__dbg(...) RMX__LOG(RMX__LOG_DEBUG, __VA_ARGS__)

#endif
