// SPDX-License-Identifier: BSD-2-Clause
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "core/log.h"

int rmx__log_level = RMX__LOG_WARN;

static pthread_once_t log_once = PTHREAD_ONCE_INIT;

static void level_from_env(void)
{
	int level = rmx__log_level_parse(getenv("RMX_LOG_LEVEL"));

	if (level >= 0)
		rmx__log_level = level;
}

void rmx__log_init(void)
{
	pthread_once(&log_once, level_from_env);
}

static const char *const level_names[] = {
	[RMX__LOG_NONE] = "none",   [RMX__LOG_ERROR] = "error",
	[RMX__LOG_WARN] = "warn",   [RMX__LOG_INFO] = "info",
	[RMX__LOG_DEBUG] = "debug", [RMX__LOG_TRACE] = "trace",
};

int rmx__log_level_parse(const char *s)
{
	size_t i;

	if (!s || !*s)
		return -EINVAL;
	if (s[0] >= '0' && s[0] <= '5' && s[1] == '\0')
		return s[0] - '0';
	for (i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++)
		if (!strcasecmp(s, level_names[i]))
			return (int)i;
	return -EINVAL;
}

/* Contexts belong to one thread at a time: a capture is the thread's. */
static __thread struct {
	char *buf;
	size_t len;
	int level;
} capture;

void rmx__log_capture_begin(char *buf, size_t len)
{
	capture.buf = buf;
	capture.len = len;
	capture.level = 0;
	if (len)
		buf[0] = '\0';
}

int rmx__log_capture_end(void)
{
	capture.buf = NULL;
	return capture.level;
}

int rmx__log_limit(struct rmx__log_limit *tab, size_t n, const char *key,
		   int64_t now_ms)
{
	struct rmx__log_limit *e = NULL;
	unsigned int held;
	size_t i;

	for (i = 0; i < n && !e; i++)
		if (!strncmp(tab[i].key, key, sizeof(tab[i].key)))
			e = &tab[i];
	if (e && now_ms - e->since_ms < 1000) {
		e->held++;
		return -1;
	}
	if (!e) {
		e = &tab[0];
		for (i = 1; i < n; i++)
			if (tab[i].since_ms < e->since_ms)
				e = &tab[i];
		snprintf(e->key, sizeof(e->key), "%s", key);
		e->held = 0;
	}
	held = e->held;
	e->held = 0;
	e->since_ms = now_ms;
	return (int)held;
}

void rmx__log(int level, const char *fmt, ...)
{
	char line[512];
	va_list ap;
	int n;

	if (level < RMX__LOG_ERROR || level > RMX__LOG_TRACE)
		level = RMX__LOG_ERROR;
	if (capture.buf && level <= RMX__LOG_WARN) {
		va_start(ap, fmt);
		vsnprintf(capture.buf, capture.len, fmt, ap);
		va_end(ap);
		capture.level = level;
		return;
	}
	n = snprintf(line, sizeof(line), "rmx[%d] %s: ", (int)getpid(),
		     level_names[level]);
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	/* One write per line so lines of concurrent processes do not mix. */
	fprintf(stderr, "%s\n", line);
}
