// SPDX-License-Identifier: BSD-2-Clause
#include <errno.h>
#include <string.h>

#include "core/log.h"
#include "transport/transport.h"

static const struct rmx__tp_ops *const backends[] = {
	&rmx__verbs_ops,
};

int rmx__tp_open(const char *name, const struct rmx__config *cfg,
		 const struct rmx__tp_upcalls *up, void *upctx,
		 struct rmx__tp **out)
{
	size_t i;

	for (i = 0; i < sizeof(backends) / sizeof(backends[0]); i++)
		if (!strcmp(backends[i]->name, name))
			return backends[i]->open(cfg, up, upctx, out);
	rmx__err("unknown transport \"%s\"", name);
	return -ENOENT;
}
