/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Pin-down registration cache: page-aligned, non-overlapping regions in
 * a B+tree keyed by start (mem/itree.h), reference counted, idle ones on
 * an LRU list. Registration is a pluggable backend and invalidation comes
 * from a monitor, so this file knows nothing of RDMA and is tested
 * natively.
 *
 * A hit is a lookup, a reference and an LRU unlink under the lock: no
 * system call, no allocation. A miss widens the request to pages, merges
 * every cached region it overlaps or touches into one registration with
 * the union of their access (falling back to the exact pages if that
 * fails), and registers with the lock dropped. Meanwhile the miss is "in
 * flight": an invalidation of its range makes it come back uncached, and
 * whatever another miss cached over it meanwhile is displaced when it is
 * inserted (the last one in wins; the loser stays valid for its holder).
 *
 * Locking: one mutex guards the index, the lists and the stats. The
 * monitor thread takes it from inside a munmap the kernel holds for it, so
 * nothing that may unmap or wait on an unmapper runs under it: no backend
 * call, no monitor hook, no malloc or free (regions and index nodes come
 * from pools refilled outside it). Watch and unwatch are serialized by a
 * second mutex, always taken before the cache's, so a late unwatch never
 * strips the watch of a range that was cached again meanwhile.
 */
#ifndef RMX_MEM_RCACHE_H
#define RMX_MEM_RCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/list.h"

struct rmx__rcache;

/* The registration the cache manages: the transport, or a fake in tests. */
struct rmx__rcache_backend {
	int (*reg)(void *ctx, void *addr, size_t len, unsigned int access,
		   void **handle);
	int (*dereg)(void *ctx, void *handle);
	void *ctx;
};

/*
 * Invalidation monitor hooks, may be NULL (then nothing is watched: ODP or
 * RMX_RCACHE_MONITOR=none). A range is watched before it is registered,
 * so no change to it can go unseen; watch() < 0 means the kernel cannot
 * watch it: it is then registered but not cached. When a watched region
 * is deregistered (evicted, merged away, invalidated), unwatch() gets the
 * parts of its range that no cached region and no registration in flight
 * still covers, so a monitor whose unwatch drops every watch on a range
 * needs no reference counts. That includes invalidated ranges: after
 * madvise(DONTNEED) the memory is still mapped and still watched. Never
 * called from rmx__rcache_destroy(): the monitor is gone by then.
 */
struct rmx__rcache_monitor {
	int (*watch)(void *ctx, uintptr_t start, uintptr_t end);
	void (*unwatch)(void *ctx, uintptr_t start, uintptr_t end);
	void *ctx;
};

struct rmx__rcache_config {
	bool enabled;		/* false: a registration per use */
	size_t max_regions;	/* beyond these, idle regions go, LRU first */
	size_t max_bytes;	/* of the regions in the index */
};

/* merges counts the regions merged away (or displaced) by a new one. */
struct rmx__rcache_stats {
	uint64_t gets, hits, misses, merges, evictions, invalidation_events,
		regions_invalidated, registrations, deregistrations,
		bytes_pinned, bytes_pinned_peak;
};

/* What get() hands out; callers read the first four fields only. */
struct rmx__region {
	uintptr_t start, end;	/* page-aligned, [start, end) */
	unsigned int access;
	void *handle;		/* the backend's registration */
	/* private: a hit touches this one cache line only */
	struct rmx__list link;	/* LRU, in flight, garbage, release, free */
	unsigned int refs;
	unsigned char state;	/* enum in rcache.c */
	bool watched;		/* the monitor watches [start, end) */
	bool stale;		/* in flight and hit by an invalidation */
};

int rmx__rcache_create(const struct rmx__rcache_config *cfg,
		       const struct rmx__rcache_backend *be,
		       const struct rmx__rcache_monitor *mon,
		       struct rmx__rcache **out);
/* Deregisters everything left; calls no monitor hook. */
void rmx__rcache_destroy(struct rmx__rcache *rc);

/*
 * A region covering [addr, addr + len) with at least access, referenced
 * until rmx__rcache_put(). It stays registered for its holder even if it
 * is invalidated or merged away meanwhile. 0 or a negative errno.
 */
int rmx__rcache_get(struct rmx__rcache *rc, void *addr, size_t len,
		    unsigned int access, struct rmx__region **out);
void rmx__rcache_put(struct rmx__rcache *rc, struct rmx__region *region);

/*
 * The monitor says [start, end) no longer maps what it did (munmap,
 * mremap, madvise(DONTNEED)...). Called from the monitor thread: only
 * moves regions out of the index, never calls the backend.
 */
void rmx__rcache_invalidate(struct rmx__rcache *rc, uintptr_t start,
			    uintptr_t end);
/* Deregisters what invalidation left for later (outside the lock). */
void rmx__rcache_purge(struct rmx__rcache *rc);
/* Deregisters every idle region too: room for a registration elsewhere. */
void rmx__rcache_evict_idle(struct rmx__rcache *rc);
void rmx__rcache_stats(struct rmx__rcache *rc, struct rmx__rcache_stats *out);
/* The regions no operation holds, kept for reuse: how many, how large. */
void rmx__rcache_idle(struct rmx__rcache *rc, size_t *regions,
		      uint64_t *bytes);

/*
 * max_bytes: 3/4 of RLIMIT_MEMLOCK's soft limit, half the physical memory
 * when unlimited; max_regions: a fixed 16384.
 */
void rmx__rcache_default_limits(size_t *max_regions, size_t *max_bytes);

/* Test hook: checks the index, the LRU and the counts. 0 or -EFAULT. */
int rmx__rcache_check(struct rmx__rcache *rc);

#endif
