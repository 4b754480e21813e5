// SPDX-License-Identifier: BSD-2-Clause
/* The RMX_* knobs, listed for tools such as rmx-info. */
#include <errno.h>
#include <stdlib.h>

#include <rmx/rmx.h>

#include "api/context.h"
#include "core/config.h"
#include "transport/transport.h"

int rmx_knob_get(size_t index, struct rmx_knob *out)
{
	const struct rmx__knob *k;

	RMX__CHECK(out, "out is NULL");
	/* The core's knobs, then each built-in backend's. */
	k = index < rmx__nknobs ? &rmx__knobs[index] :
				  rmx__tp_knob(index - rmx__nknobs);
	if (!k)
		return -ENOENT;
	out->name = k->name;
	out->def = k->def;
	out->help = k->help;
	out->value = getenv(k->name);
	return 0;
}
