// SPDX-License-Identifier: BSD-2-Clause
#include <errno.h>
#include <string.h>

#include "core/log.h"
#include "transport/transport.h"

/* Indexed by enum rmx__transport_kind; NULL: not built in. */
static const struct rmx__tp_ops *const backends[] = {
	[RMX__TRANSPORT_AUTO] = NULL,
#ifdef RMX_HAVE_VERBS
	[RMX__TRANSPORT_VERBS] = &rmx__verbs_ops,
#endif
};

#define NBACKENDS (sizeof(backends) / sizeof(backends[0]))

static const struct {
	const char *name, *option;
} kinds[] = {
	[RMX__TRANSPORT_VERBS] = { "verbs", "RMX_WITH_VERBS" },
};

int rmx__tp_open(int kind, struct rmx__loop *loop,
		 const struct rmx__tp_upcalls *up, void *upctx,
		 struct rmx__tp **out)
{
	int ret = -ENODEV;
	size_t i;

	if (kind != RMX__TRANSPORT_AUTO) {
		if (kind < 0 || (size_t)kind >= sizeof(kinds) / sizeof(kinds[0]))
			return -EINVAL;
		if ((size_t)kind >= NBACKENDS || !backends[kind]) {
			rmx__err("RMX_TRANSPORT=%s: this librmx was built without it (configure with -D%s=ON, or use RMX_TRANSPORT=auto)",
				 kinds[kind].name, kinds[kind].option);
			return -EPROTONOSUPPORT;
		}
		return backends[kind]->open(loop, up, upctx, out);
	}
	/* auto: each built-in backend in order, until one has a device. */
	for (i = 0; i < NBACKENDS; i++) {
		if (!backends[i])
			continue;
		ret = backends[i]->open(loop, up, upctx, out);
		if (ret != -ENODEV)
			return ret;
	}
	return ret;
}

const struct rmx__knob *rmx__tp_knob(size_t index)
{
	size_t i;

	for (i = 0; i < NBACKENDS; i++) {
		if (!backends[i])
			continue;
		if (index < backends[i]->nknobs)
			return &backends[i]->knobs[index];
		index -= backends[i]->nknobs;
	}
	return NULL;
}
