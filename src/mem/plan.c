// SPDX-License-Identifier: BSD-2-Clause
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <rmx/rmx.h>

#include "core/log.h"
#include "mem/plan.h"
#include "transport/transport.h"

bool rmx__mem_plan_wants_uffd(const struct rmx__config *cfg,
			      unsigned int tp_caps)
{
	if (!cfg->rcache || tp_caps & RMX__TP_CAP_MR_CACHE)
		return false;
	return cfg->rcache_monitor == RMX__MONITOR_UFFD ||
	       (cfg->rcache_monitor == RMX__MONITOR_AUTO &&
		!(tp_caps & RMX__TP_CAP_ODP));
}

static void why(struct rmx__mem_plan *out, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(out->why, sizeof(out->why), fmt, ap);
	va_end(ap);
}

static void plan_odp(unsigned int tp_caps, struct rmx__mem_plan *out)
{
	/* The kernel's MMU notifiers keep ODP coherent: no monitor. */
	out->monitor = RMX__MONITOR_ODP;
	out->on_demand = true;
	out->implicit = tp_caps & RMX__TP_CAP_ODP_IMPLICIT;
	out->cache = !out->implicit;
}

/* Why the device's ODP is not used, into buf. */
static const char *no_odp(char *buf, size_t cap, const char *odp_refused)
{
	if (!odp_refused || !*odp_refused)
		return "the device has no on-demand paging for RC send, receive, write and read";
	snprintf(buf, cap,
		 "the device's on-demand paging failed rmx's self-test: %s",
		 odp_refused);
	return buf;
}

int rmx__mem_plan(const struct rmx__config *cfg, unsigned int tp_caps,
		  const char *odp_refused, int uffd_status,
		  struct rmx__mem_plan *out)
{
	char buf[RMX__PLAN_WHY_MAX];
	const char *odp_no = no_odp(buf, sizeof(buf), odp_refused);

	memset(out, 0, sizeof(*out));
	out->monitor = RMX__MONITOR_NONE;
	if (!cfg->rcache) {
		why(out, "off: RMX_RCACHE=0, every operation registers and deregisters its buffer");
		return 0;
	}
	if (tp_caps & RMX__TP_CAP_MR_CACHE) {
		/* Two caches would pin twice and invalidate one of them late. */
		why(out, "off: the transport caches registrations itself");
		return 0;
	}

	switch (cfg->rcache_monitor) {
	case RMX__MONITOR_ODP:
		if (!(tp_caps & RMX__TP_CAP_ODP)) {
			rmx__err("RMX_RCACHE_MONITOR=odp: %s; use RMX_RCACHE_MONITOR=auto or uffd",
				 odp_no);
			return -EOPNOTSUPP;
		}
		plan_odp(tp_caps, out);
		why(out, "%s: RMX_RCACHE_MONITOR=odp",
		    out->implicit ? "implicit odp" : "odp");
		return 0;
	case RMX__MONITOR_UFFD:
		if (uffd_status) {
			rmx__err("RMX_RCACHE_MONITOR=uffd: userfaultfd unavailable: %s",
				 rmx_strerror(uffd_status));
			return uffd_status;
		}
		out->monitor = RMX__MONITOR_UFFD;
		out->cache = true;
		why(out, "uffd: RMX_RCACHE_MONITOR=uffd");
		return 0;
	case RMX__MONITOR_NONE:
		rmx__warn("RMX_RCACHE_MONITOR=none: freed and re-mapped buffers may be sent stale (testing only)");
		out->cache = true;
		why(out, "none: RMX_RCACHE_MONITOR=none, cached with nothing watching (testing only)");
		return 0;
	default:
		break;
	}
	if (tp_caps & RMX__TP_CAP_ODP) {
		plan_odp(tp_caps, out);
		why(out, "%s: the device pages on demand for every RC operation",
		    out->implicit ? "implicit odp" : "odp");
	} else if (!uffd_status) {
		out->monitor = RMX__MONITOR_UFFD;
		out->cache = true;
		why(out, "uffd: %s", odp_no);
	} else {
		/* Uncached is slower; cached without a monitor would be wrong. */
		rmx__warn("userfaultfd unavailable (%s): registration cache off",
			  rmx_strerror(uffd_status));
		why(out, "off: %s, and userfaultfd is unavailable (%s)",
		    odp_no, rmx_strerror(uffd_status));
	}
	return 0;
}
