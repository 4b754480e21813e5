/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The one way upper layers obtain memory registrations. Operations get
 * theirs from the pin-down cache, kept coherent by the invalidation
 * monitor (or ODP); registrations whose keys the application hands to
 * peers are exact and uncached, so a key never exposes more than asked.
 */
#ifndef RMX_MEM_REG_H
#define RMX_MEM_REG_H

#include <stdbool.h>
#include <stddef.h>

#include "core/config.h"
#include "mem/check.h"
#include "mem/plan.h"
#include "mem/rcache.h"
#include "transport/transport.h"

struct rmx__uffd_monitor;

struct rmx__mem {
	struct rmx__tp *tp;
	struct rmx__mem_plan plan;
	struct rmx__rcache *rc;
	struct rmx__uffd_monitor *mon;
	struct rmx__region implicit;	/* implicit ODP: covers everything */
	bool checking;			/* RMX_RCACHE_CHECK in force */
	struct rmx__frame_check check;
};

int rmx__mem_init(struct rmx__mem *mem, struct rmx__tp *tp,
		  const struct rmx__config *cfg);
void rmx__mem_fini(struct rmx__mem *mem);

/* access: RMX__TP_* flags. Returns 0 or a negative errno. */
int rmx__mem_get(struct rmx__mem *mem, void *addr, size_t len,
		 unsigned int access, struct rmx__region **out);
void rmx__mem_put(struct rmx__mem *mem, struct rmx__region *region);

static inline struct rmx__tp_mr *rmx__region_mr(const struct rmx__region *r)
{
	return r->handle;
}

/*
 * An exact, uncached registration: keys handed to peers, and memory rmx
 * owns for as long as it is registered (endpoint buffers), which no
 * monitor need watch and the cache's limits do not count. When locked
 * memory runs out, the cache's idle regions make room first.
 */
int rmx__mem_reg_exact(struct rmx__mem *mem, void *addr, size_t len,
		       unsigned int access, struct rmx__tp_mr **out);
/* On failure the registration stays valid and owned by the caller. */
int rmx__mem_dereg_exact(struct rmx__mem *mem, struct rmx__tp_mr *mr);

void rmx__mem_stats(struct rmx__mem *mem, struct rmx__rcache_stats *out);
/* The cache's idle regions (rmx__rcache_idle()); none without a cache. */
void rmx__mem_idle(struct rmx__mem *mem, size_t *regions, uint64_t *bytes);

#endif
