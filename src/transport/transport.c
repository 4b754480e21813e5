// SPDX-License-Identifier: BSD-2-Clause
#include <errno.h>
#include <string.h>

#include "core/log.h"
#include "transport/transport.h"

#define TP_MAX 4

static const struct rmx__tp_ops *backends[TP_MAX] = {
	&rmx__verbs_ops,
};

static const struct rmx__tp_ops *find(const char *name)
{
	size_t i;

	for (i = 0; i < TP_MAX && backends[i]; i++)
		if (!strcmp(backends[i]->name, name))
			return backends[i];
	return NULL;
}

int rmx__tp_register(const struct rmx__tp_ops *ops)
{
	const struct rmx__tp_ops *have = find(ops->name);
	size_t i;

	if (have)
		return have == ops ? 0 : -EEXIST;
	for (i = 0; i < TP_MAX; i++) {
		if (!backends[i]) {
			backends[i] = ops;
			return 0;
		}
	}
	return -ENOSPC;
}

int rmx__tp_open(const char *name, const struct rmx__config *cfg,
		 const struct rmx__tp_upcalls *up, void *upctx,
		 struct rmx__tp **out)
{
	const struct rmx__tp_ops *ops = find(name);

	if (!ops) {
		rmx__err("RMX_TRANSPORT=\"%s\": no such transport (built in: verbs)",
			 name);
		return -EINVAL;
	}
	return ops->open(cfg, up, upctx, out);
}
