// SPDX-License-Identifier: BSD-2-Clause
/*
 * rmx-info: what the library decided about registrations, asked of it
 * through the public API rather than worked out here: an rmx context
 * opened on a device says which mode it chose and why
 * (rmx_rcache_mode()), and whether its userfaultfd monitor starts on
 * this host. Where the library changes its mind, this report follows.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"

/* An RMX_* variable set for one context, and what it was before. */
struct setting {
	const char *name;
	const char *value;
	char *old;		/* NULL: it was not set */
};

/* Sets each, keeping the old values: 0, or -ENOMEM (nothing set). */
static int push(struct setting *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		const char *old = getenv(s[i].name);

		s[i].old = old ? strdup(old) : NULL;
		if ((old && !s[i].old) || setenv(s[i].name, s[i].value, 1))
			goto undo;
	}
	return 0;
undo:
	free(s[i].old);
	while (i--) {
		if (s[i].old)
			setenv(s[i].name, s[i].old, 1);
		else
			unsetenv(s[i].name);
		free(s[i].old);
	}
	return -ENOMEM;
}

static void pop(struct setting *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (s[i].old)
			setenv(s[i].name, s[i].old, 1);
		else
			unsetenv(s[i].name);
		free(s[i].old);
	}
}

/*
 * A context on device dev, with the environment's RMX_* settings but for
 * RMX_DEVICE and those in force: 0, or rmx_context_create()'s error.
 */
static int open_context(const char *dev, const struct setting *force,
			size_t nforce, rmx_context_t **ctx)
{
	struct setting s[4] = { { "RMX_DEVICE", dev, NULL } };
	size_t n = 1 + nforce;
	int ret;

	memcpy(&s[1], force, nforce * sizeof(*force));
	ret = push(s, n);
	if (ret)
		return ret;
	ret = rmx_context_create(ctx);
	pop(s, n);
	return ret;
}

void info_rcache_probe(struct info_dev *d)
{
	rmx_context_t *ctx;
	const char *why;
	int ret;

	ret = open_context(d->name, NULL, 0, &ctx);
	if (ret) {
		d->rcache_mode = ret;
		snprintf(d->rcache_why, sizeof(d->rcache_why),
			 "rmx_context_create: %s", rmx_strerror(ret));
		return;
	}
	d->rcache_mode = rmx_rcache_mode(ctx, &why);
	snprintf(d->rcache_why, sizeof(d->rcache_why), "%s", why);
	rmx_context_destroy(ctx);
}

void info_monitor_probe(struct info_report *r)
{
	static const struct setting uffd[] = {
		{ "RMX_RCACHE", "on", NULL },
		{ "RMX_RCACHE_MONITOR", "uffd", NULL },
	};
	struct info_monitor *m = &r->monitor;
	const struct info_dev *d, *on = NULL;
	rmx_context_t *ctx;
	size_t i;

	memset(m, 0, sizeof(*m));
	for (i = 0; i < r->ndevs; i++) {
		d = &r->devs[i];
		if (!d->attr_ok || d->rcache_mode < 0)
			continue;
		/* A context that chose the monitor itself has answered. */
		if (d->rcache_mode == RMX_RCACHE_UFFD) {
			m->asked = true;
			m->forced = false;
			snprintf(m->dev, sizeof(m->dev), "%s", d->name);
			return;
		}
		if (!on)
			on = d;
	}
	if (!on)
		return;		/* no context could be opened: unknown */
	/* It chose otherwise (ODP, or the cache is off): made to try. */
	m->asked = true;
	m->forced = true;
	snprintf(m->dev, sizeof(m->dev), "%s", on->name);
	m->status = open_context(on->name, uffd, 2, &ctx);
	if (!m->status)
		rmx_context_destroy(ctx);
}

const char *info_rcache_mode_str(int mode)
{
	switch (mode) {
	case RMX_RCACHE_OFF:
		return "off";
	case RMX_RCACHE_UFFD:
		return "uffd";
	case RMX_RCACHE_ODP:
		return "odp";
	case RMX_RCACHE_ODP_IMPLICIT:
		return "implicit-odp";
	case RMX_RCACHE_UNWATCHED:
		return "none";
	default:
		return "unknown";
	}
}
