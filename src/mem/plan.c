// SPDX-License-Identifier: BSD-2-Clause
#include <errno.h>
#include <string.h>

#include <rmx/rmx.h>

#include "core/log.h"
#include "mem/plan.h"
#include "transport/transport.h"

bool rmx__mem_plan_wants_uffd(const struct rmx__config *cfg,
			      unsigned int tp_caps)
{
	if (!cfg->rcache)
		return false;
	return cfg->rcache_monitor == RMX__MONITOR_UFFD ||
	       (cfg->rcache_monitor == RMX__MONITOR_AUTO &&
		!(tp_caps & RMX__TP_CAP_ODP));
}

static void plan_odp(unsigned int tp_caps, struct rmx__mem_plan *out)
{
	/* The kernel's MMU notifiers keep ODP coherent: no monitor. */
	out->monitor = RMX__MONITOR_ODP;
	out->on_demand = true;
	out->implicit = tp_caps & RMX__TP_CAP_ODP_IMPLICIT;
	out->cache = !out->implicit;
}

int rmx__mem_plan(const struct rmx__config *cfg, unsigned int tp_caps,
		  int uffd_status, struct rmx__mem_plan *out)
{
	memset(out, 0, sizeof(*out));
	out->monitor = RMX__MONITOR_NONE;
	if (!cfg->rcache)
		return 0;	/* register and deregister per use */

	switch (cfg->rcache_monitor) {
	case RMX__MONITOR_ODP:
		if (!(tp_caps & RMX__TP_CAP_ODP)) {
			rmx__err("RMX_RCACHE_MONITOR=odp: the device has no on-demand paging for RC send, receive, write and read");
			return -EOPNOTSUPP;
		}
		plan_odp(tp_caps, out);
		return 0;
	case RMX__MONITOR_UFFD:
		if (uffd_status) {
			rmx__err("RMX_RCACHE_MONITOR=uffd: userfaultfd unavailable: %s",
				 rmx_strerror(uffd_status));
			return uffd_status;
		}
		out->monitor = RMX__MONITOR_UFFD;
		out->cache = true;
		return 0;
	case RMX__MONITOR_NONE:
		rmx__warn("RMX_RCACHE_MONITOR=none: freed and re-mapped buffers may be sent stale (testing only)");
		out->cache = true;
		return 0;
	default:
		break;
	}
	if (tp_caps & RMX__TP_CAP_ODP) {
		plan_odp(tp_caps, out);
	} else if (!uffd_status) {
		out->monitor = RMX__MONITOR_UFFD;
		out->cache = true;
	} else {
		/* Uncached is slower; cached without a monitor would be wrong. */
		rmx__warn("userfaultfd unavailable (%s): registration cache off",
			  rmx_strerror(uffd_status));
	}
	return 0;
}
