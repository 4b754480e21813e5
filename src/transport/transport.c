// SPDX-License-Identifier: BSD-2-Clause
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "core/log.h"
#include "transport/transport.h"
#ifdef RMX_HAVE_OFI
#include "transport/ofi/ofi_ops.h"
#endif

/*
 * Backends this build has, in the order auto tries them: verbs where a
 * device is active, else libfabric (tcp, else shm).
 */
static const struct rmx__tp_ops *const builtin[] = {
#ifdef RMX_HAVE_VERBS
	&rmx__verbs_ops,
#endif
#ifdef RMX_HAVE_OFI
	&rmx__ofi_ops,
#endif
};

#define NBUILTIN (sizeof(builtin) / sizeof(builtin[0]))

/* Backends rmx knows of, and the option that builds each. */
static const struct {
	const char *name, *option;
} known[] = {
	{ "verbs", "RMX_WITH_VERBS" },
	{ "ofi", "RMX_WITH_OFI" },
};

/* Added at run time (the tests' loopback): never chosen by auto. */
#define EXTRA_MAX 4
static const struct rmx__tp_ops *extra[EXTRA_MAX];

static const struct rmx__tp_ops *find(const char *name)
{
	size_t i;

	for (i = 0; i < NBUILTIN; i++)
		if (!strcmp(builtin[i]->name, name))
			return builtin[i];
	for (i = 0; i < EXTRA_MAX && extra[i]; i++)
		if (!strcmp(extra[i]->name, name))
			return extra[i];
	return NULL;
}

int rmx__tp_register(const struct rmx__tp_ops *ops)
{
	const struct rmx__tp_ops *have = find(ops->name);
	size_t i;

	if (have)
		return have == ops ? 0 : -EEXIST;
	for (i = 0; i < EXTRA_MAX; i++) {
		if (!extra[i]) {
			extra[i] = ops;
			return 0;
		}
	}
	return -ENOSPC;
}

static int not_built(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
		if (!strcmp(known[i].name, name)) {
			rmx__err("RMX_TRANSPORT=%s: this librmx was built without it (configure with -D%s=ON, or use RMX_TRANSPORT=auto)",
				 name, known[i].option);
			return -EPROTONOSUPPORT;
		}
	}
	rmx__err("RMX_TRANSPORT=\"%s\": no such transport (auto, or one of this build's: %s)",
		 name, NBUILTIN ? builtin[0]->name : "none");
	return -EINVAL;
}

int rmx__tp_open(const char *name, struct rmx__loop *loop,
		 const struct rmx__tp_upcalls *up, void *upctx,
		 struct rmx__tp **out)
{
	const struct rmx__tp_ops *ops;
	int ret = -ENODEV;
	size_t i;

	if (strcmp(name, "auto")) {
		ops = find(name);
		ret = ops ? ops->open(loop, up, upctx, out) : not_built(name);
		return ret == -ENXIO ? -ENODEV : ret;
	}
	/*
	 * Each built-in backend in order, until one has a device. Why one
	 * has none is news only when no later one has either.
	 */
	for (i = 0; i < NBUILTIN; i++) {
		char why[RMX__TP_NOTE_MAX];
		bool last = i + 1 == NBUILTIN;
		int level = 0;

		if (!last)
			rmx__log_capture_begin(why, sizeof(why));
		ret = builtin[i]->open(loop, up, upctx, out);
		if (!last)
			level = rmx__log_capture_end();
		if (ret == -ENODEV && !last) {
			if (level)
				rmx__info("RMX_TRANSPORT=auto: %s: %s; trying %s",
					  builtin[i]->name, why,
					  builtin[i + 1]->name);
			continue;
		}
		if (level)
			rmx__log(level, "%s", why);
		return ret == -ENXIO ? -ENODEV : ret;
	}
	return ret;
}

const struct rmx__knob *rmx__tp_knob(size_t index)
{
	size_t i;

	for (i = 0; i < NBUILTIN; i++) {
		if (index < builtin[i]->nknobs)
			return &builtin[i]->knobs[index];
		index -= builtin[i]->nknobs;
	}
	return NULL;
}
