/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Option values, checked against what each option takes. A bad value
 * gets one line that names the option, the value, what is wrong and what
 * to give instead, then the hint to -h (msg.h):
 *
 *   rmx-perf: invalid size '1X' for -s: not a number; give a whole number
 *   from 1 to 1G bytes, with an optional K, M or G suffix
 *
 * and the parser returns -EINVAL; the tool exits with its usage status.
 */
#ifndef RMX_TOOLS_COMMON_ARGS_H
#define RMX_TOOLS_COMMON_ARGS_H

#include <stdbool.h>
#include <stdint.h>

/* What a whole-number option takes. */
struct tool_num {
	const char *opt;	/* as the usage text names it: "-s", "--timeout" */
	const char *what;	/* "size", "port", ... */
	const char *unit;	/* "bytes", "ms", ..., or NULL */
	uint64_t min, max;
	bool suffix;		/* K, M and G multiply by 2^10, 2^20, 2^30 */
};

/* A whole decimal number in [n->min, n->max] into *out: 0 or -EINVAL. */
int tool_parse_num(const struct tool_num *n, const char *arg, uint64_t *out);

/* Seconds, fractions allowed, more than 0 and at most max: 0 or -EINVAL. */
int tool_parse_seconds(const char *opt, const char *what, const char *arg,
		       double max, double *out);

#endif /* RMX_TOOLS_COMMON_ARGS_H */
