// SPDX-License-Identifier: BSD-2-Clause
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/args.h"
#include "common/msg.h"

/* v as it is written with the suffixes: "1G", "64K", "1000". */
static void suffixed(char *buf, size_t len, uint64_t v)
{
	static const char unit[] = "KMG";
	int i;

	for (i = 2; i >= 0; i--) {
		uint64_t mul = 1ULL << (10 * (i + 1));

		if (v && v % mul == 0) {
			snprintf(buf, len, "%" PRIu64 "%c", v / mul, unit[i]);
			return;
		}
	}
	snprintf(buf, len, "%" PRIu64, v);
}

static int bad_num(const struct tool_num *n, const char *arg, const char *why)
{
	char lo[32], hi[32];

	if (n->suffix) {
		suffixed(lo, sizeof(lo), n->min);
		suffixed(hi, sizeof(hi), n->max);
	} else {
		snprintf(lo, sizeof(lo), "%" PRIu64, n->min);
		snprintf(hi, sizeof(hi), "%" PRIu64, n->max);
	}
	tool_usage_err("invalid %s '%s' for %s: %s; give a whole number from %s to %s%s%s%s",
		       n->what, arg, n->opt, why, lo, hi, n->unit ? " " : "",
		       n->unit ? n->unit : "",
		       n->suffix ? ", with an optional K, M or G suffix" : "");
	return -EINVAL;
}

static int suffix_shift(char c)
{
	switch (c) {
	case 'k':
	case 'K':
		return 10;
	case 'm':
	case 'M':
		return 20;
	case 'g':
	case 'G':
		return 30;
	default:
		return -1;
	}
}

int tool_parse_num(const struct tool_num *n, const char *arg, uint64_t *out)
{
	unsigned long long v;
	uint64_t mul = 1;
	char *end;
	int shift;

	/* strtoull() would take spaces, a sign, and wrap "-1" around. */
	if (arg[0] == '-' && isdigit((unsigned char)arg[1]))
		return bad_num(n, arg, "too small");
	if (!isdigit((unsigned char)arg[0]))
		return bad_num(n, arg, "not a number");
	errno = 0;
	v = strtoull(arg, &end, 10);
	if (n->suffix && *end && !end[1]) {
		shift = suffix_shift(*end);
		if (shift > 0) {
			mul = 1ULL << shift;
			end++;
		}
	}
	if (*end)
		return bad_num(n, arg, "not a number");
	if (errno == ERANGE || v > UINT64_MAX / mul || v * mul > n->max)
		return bad_num(n, arg, "too large");
	if (v * mul < n->min)
		return bad_num(n, arg, "too small");
	*out = v * mul;
	return 0;
}

int tool_parse_seconds(const char *opt, const char *what, const char *arg,
		       double max, double *out)
{
	const char *why = NULL;
	char *end;
	double v;

	v = strtod(arg, &end);
	if (isspace((unsigned char)arg[0]) || end == arg || *end || isnan(v))
		why = "not a number";
	else if (!(v > 0))
		why = "too small";
	else if (v > max)
		why = "too large";
	if (why) {
		tool_usage_err("invalid %s '%s' for %s: %s; give seconds, more than 0 and at most %g",
			       what, arg, opt, why, max);
		return -EINVAL;
	}
	*out = v;
	return 0;
}
