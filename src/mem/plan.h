/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * How registrations stay coherent with the address space, decided once
 * per context from RMX_RCACHE, RMX_RCACHE_MONITOR and what the device and
 * kernel offer. Pure functions, so every branch is unit-tested.
 */
#ifndef RMX_MEM_PLAN_H
#define RMX_MEM_PLAN_H

#include <stdbool.h>

#include "core/config.h"

#define RMX__PLAN_WHY_MAX 320

struct rmx__mem_plan {
	int monitor;		/* enum rmx__monitor_kind: never AUTO here */
	bool cache;		/* cache registrations (else per use) */
	bool on_demand;		/* register with ODP */
	bool implicit;		/* one ODP registration for everything */
	char why[RMX__PLAN_WHY_MAX];	/* the choice and its reason, a sentence */
};

/* Whether deciding needs a userfaultfd monitor to be tried first. */
bool rmx__mem_plan_wants_uffd(const struct rmx__config *cfg,
			      unsigned int tp_caps);

/*
 * Decides. odp_refused: why the transport withholds the ODP its device
 * advertises, or NULL/"". uffd_status: 0 when a monitor was started, else
 * why it could not be (ignored when not wanted). Returns 0, or
 * -EOPNOTSUPP/-ENOSYS... when what RMX_RCACHE_MONITOR demands is not
 * available.
 */
int rmx__mem_plan(const struct rmx__config *cfg, unsigned int tp_caps,
		  const char *odp_refused, int uffd_status,
		  struct rmx__mem_plan *out);

#endif
