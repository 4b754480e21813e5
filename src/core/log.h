/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef RMX_CORE_LOG_H
#define RMX_CORE_LOG_H

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
