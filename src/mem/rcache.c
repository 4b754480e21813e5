// SPDX-License-Identifier: BSD-2-Clause
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <rmx/rmx.h>

#include "core/log.h"
#include "mem/itree.h"
#include "mem/rcache.h"

#ifdef __SANITIZE_ADDRESS__
#include <sanitizer/asan_interface.h>
#define POISON(p, n) ASAN_POISON_MEMORY_REGION(p, n)
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
#else
#define POISON(p, n) ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

/*
 * A region's life: IN_FLIGHT (registering, on rc->inflight) -> CACHED (in
 * the index; on the LRU while idle) -> out of the index by eviction, merge
 * or invalidation: GARBAGE if idle and invalidated (deregistered by the
 * next get/put/purge), DETACHED if in use (deregistered at its last put),
 * DEAD on a private release list. Uncached registrations are DETACHED
 * from the start.
 */
enum {
	RS_IN_FLIGHT = 1,
	RS_CACHED,
	RS_GARBAGE,
	RS_DETACHED,
	RS_DEAD,
};

/*
 * Regions come from 4 KiB slabs, one cache line each, recycled through a
 * free list: a miss allocates nothing once warm, the lock never covers a
 * free(), and 10 000 regions fit in a fast part of the cache.
 */
#define SLAB_BYTES 4096
#define LINE 64

struct slab {
	struct slab *next;
};

struct rmx__rcache {
	pthread_mutex_t lock;
	pthread_mutex_t wlock;		/* watch/unwatch; before lock */
	struct rmx__rcache_config cfg;
	struct rmx__rcache_backend be;
	struct rmx__rcache_monitor mon;
	uintptr_t page_mask;
	struct rmx__itree index;
	size_t nbytes;			/* in the index */
	struct rmx__list lru;		/* idle, least recently used first */
	struct rmx__list inflight;
	struct rmx__list garbage;
	struct rmx__region *free_regions;	/* through link.next */
	struct slab *slabs;
	struct rmx__rcache_stats st;
};

_Static_assert(sizeof(struct rmx__region) <= LINE, "a region is a line");

/* A registration to make: requested, merged or obtained. */
struct span {
	uintptr_t start, end;
	unsigned int access;
};

static struct rmx__region *link_region(struct rmx__list *l)
{
	return rmx__container_of(l, struct rmx__region, link);
}

/* Under the lock. */
static struct rmx__region *pop_region(struct rmx__rcache *rc)
{
	struct rmx__region *r = rc->free_regions;

	if (!r)
		return NULL;
	UNPOISON(r, sizeof(*r));
	rc->free_regions = (struct rmx__region *)r->link.next;
	memset(r, 0, sizeof(*r));
	return r;
}

/* Under the lock. */
static void push_region(struct rmx__rcache *rc, struct rmx__region *r)
{
	r->link.next = (struct rmx__list *)rc->free_regions;
	rc->free_regions = r;
	POISON(r, sizeof(*r));
}

/* Outside the lock: one more slab of free regions. */
static int grow(struct rmx__rcache *rc)
{
	char *mem = aligned_alloc(LINE, SLAB_BYTES);
	size_t off;

	if (!mem)
		return -ENOMEM;
	pthread_mutex_lock(&rc->lock);
	((struct slab *)mem)->next = rc->slabs;
	rc->slabs = (struct slab *)mem;
	for (off = LINE; off + LINE <= SLAB_BYTES; off += LINE)
		push_region(rc, (struct rmx__region *)(mem + off));
	pthread_mutex_unlock(&rc->lock);
	return 0;
}

/* The lowest region overlapping [start, end), or NULL. */
static struct rmx__region *find_overlap(const struct rmx__rcache *rc,
					uintptr_t start, uintptr_t end)
{
	struct rmx__region *r;

	if (start >= end)
		return NULL;
	r = rmx__itree_floor(&rc->index, start);
	if (r && r->end > start)
		return r;
	r = rmx__itree_next(&rc->index, start);
	return r && r->start < end ? r : NULL;
}

/* Takes r out of the index; true if it was idle (the caller owns it). */
static bool unindex(struct rmx__rcache *rc, struct rmx__region *r)
{
	rmx__itree_remove(&rc->index, r->start);
	rc->nbytes -= r->end - r->start;
	if (r->refs)
		return false;
	rmx__list_del(&r->link);
	return true;
}

/* Counted as deregistered now; release() does it after unlocking. */
static void retire(struct rmx__rcache *rc, struct rmx__region *r,
		   struct rmx__list *rel)
{
	rc->st.deregistrations++;
	rc->st.bytes_pinned -= r->end - r->start;
	r->state = RS_DEAD;
	rmx__list_add_tail(rel, &r->link);
}

/* Out of the index for good: idle ones to rel, in-use ones at last put. */
static void drop(struct rmx__rcache *rc, struct rmx__region *r,
		 struct rmx__list *rel)
{
	if (unindex(rc, r))
		retire(rc, r, rel);
	else
		r->state = RS_DETACHED;
}

static void take_garbage(struct rmx__rcache *rc, struct rmx__list *rel)
{
	struct rmx__list *l;

	while ((l = rmx__list_pop(&rc->garbage)))
		retire(rc, link_region(l), rel);
}

static bool over_limits(const struct rmx__rcache *rc)
{
	return rc->index.count > rc->cfg.max_regions ||
	       rc->nbytes > rc->cfg.max_bytes;
}

/* all: every idle region (memlock exhausted), else down to the limits. */
static void evict(struct rmx__rcache *rc, bool all, struct rmx__list *rel)
{
	struct rmx__list *l;

	while ((all || over_limits(rc)) && (l = rmx__list_pop(&rc->lru))) {
		rc->st.evictions++;
		drop(rc, link_region(l), rel);
	}
}

/* Moves cur past whatever covers it: the index or a region in flight. */
static uintptr_t skip_covered(const struct rmx__rcache *rc, uintptr_t cur,
			      uintptr_t end)
{
	const struct rmx__region *r;
	const struct rmx__list *l;
	bool moved = true;

	while (moved && cur < end) {
		moved = false;
		r = rmx__itree_floor(&rc->index, cur);
		if (r && r->end > cur) {
			cur = r->end;
			moved = true;
		}
		for (l = rc->inflight.next; l != &rc->inflight; l = l->next) {
			r = rmx__container_of(l, struct rmx__region, link);
			if (r->start <= cur && cur < r->end) {
				cur = r->end;
				moved = true;
			}
		}
	}
	return cur;
}

/* Where the uncovered stretch from cur ends. */
static uintptr_t gap_end(const struct rmx__rcache *rc, uintptr_t cur,
			 uintptr_t end)
{
	const struct rmx__region *r = rmx__itree_next(&rc->index, cur);
	const struct rmx__list *l;

	if (r && r->start < end)
		end = r->start;
	for (l = rc->inflight.next; l != &rc->inflight; l = l->next) {
		r = rmx__container_of(l, struct rmx__region, link);
		if (r->start > cur && r->start < end)
			end = r->start;
	}
	return end;
}

/*
 * Calls unwatch() for the parts of [start, end) that neither a region in
 * the index nor one in flight covers. The caller holds wlock, so no watch
 * can slip in between finding a gap and unwatching it; a region that
 * becomes in flight meanwhile watches only after wlock is released.
 */
static void unwatch_gaps(struct rmx__rcache *rc, uintptr_t start,
			 uintptr_t end)
{
	uintptr_t cur = start, stop;

	for (;;) {
		pthread_mutex_lock(&rc->lock);
		cur = skip_covered(rc, cur, end);
		stop = cur < end ? gap_end(rc, cur, end) : end;
		pthread_mutex_unlock(&rc->lock);
		if (cur >= end)
			break;
		rc->mon.unwatch(rc->mon.ctx, cur, stop);
		cur = stop;
	}
}

/* Deregisters what was retired under the lock, then recycles it. */
static void release(struct rmx__rcache *rc, struct rmx__list *rel,
		    bool unwatch)
{
	struct rmx__region *r;
	struct rmx__list *l;
	bool watched = false;
	int ret;

	if (rmx__list_empty(rel))
		return;
	for (l = rel->next; l != rel; l = l->next) {
		r = link_region(l);
		ret = rc->be.dereg(rc->be.ctx, r->handle);
		if (ret)
			rmx__warn("rcache: deregistering [%#" PRIxPTR ", %#" PRIxPTR "): %s",
				  r->start, r->end, rmx_strerror(ret));
		watched |= r->watched;
	}
	if (unwatch && watched && rc->mon.unwatch) {
		pthread_mutex_lock(&rc->wlock);
		for (l = rel->next; l != rel; l = l->next) {
			r = link_region(l);
			if (r->watched)
				unwatch_gaps(rc, r->start, r->end);
		}
		pthread_mutex_unlock(&rc->wlock);
	}
	pthread_mutex_lock(&rc->lock);
	while ((l = rmx__list_pop(rel)))
		push_region(rc, link_region(l));
	pthread_mutex_unlock(&rc->lock);
}

void rmx__rcache_evict_idle(struct rmx__rcache *rc)
{
	struct rmx__list rel;

	rmx__list_init(&rel);
	pthread_mutex_lock(&rc->lock);
	evict(rc, true, &rel);
	take_garbage(rc, &rel);
	pthread_mutex_unlock(&rc->lock);
	release(rc, &rel, true);
}

static bool span_eq(const struct span *a, const struct span *b)
{
	return a->start == b->start && a->end == b->end &&
	       a->access == b->access;
}

static int backend_reg(struct rmx__rcache *rc, const struct span *sp,
		       void **handle)
{
	return rc->be.reg(rc->be.ctx, (void *)sp->start, sp->end - sp->start,
			  sp->access, handle);
}

static bool memlock_exhausted(int ret)
{
	return ret == -ENOMEM || ret == -EAGAIN;
}

/*
 * Registers want, else the exact request (a merged range may span memory
 * the union of access flags cannot cover); when pinned memory runs out,
 * evicts every idle region and tries once more. *got says what worked.
 */
static int reg_span(struct rmx__rcache *rc, const struct span *want,
		    const struct span *exact, struct span *got, void **handle)
{
	uint64_t pinned;
	int ret;

	*got = *want;
	ret = backend_reg(rc, got, handle);
	if (ret && !span_eq(want, exact)) {
		*got = *exact;
		ret = backend_reg(rc, got, handle);
	}
	if (memlock_exhausted(ret) && rc->cfg.enabled) {
		rmx__rcache_evict_idle(rc);
		ret = backend_reg(rc, got, handle);
	}
	if (memlock_exhausted(ret)) {
		pthread_mutex_lock(&rc->lock);
		pinned = rc->st.bytes_pinned;
		pthread_mutex_unlock(&rc->lock);
		rmx__err("rcache: cannot register %zu bytes at %#" PRIxPTR " with %" PRIu64 " bytes already pinned: %s; raise the locked-memory limit (ulimit -l, RLIMIT_MEMLOCK) or lower RMX_RCACHE_MAX_BYTES",
			 (size_t)(got->end - got->start), got->start, pinned,
			 rmx_strerror(ret));
	}
	return ret;
}

static void account_reg(struct rmx__rcache *rc, struct rmx__region *n,
			const struct span *sp, void *handle)
{
	n->start = sp->start;
	n->end = sp->end;
	n->access = sp->access;
	n->handle = handle;
	n->refs = 1;
	rc->st.registrations++;
	rc->st.bytes_pinned += sp->end - sp->start;
	if (rc->st.bytes_pinned > rc->st.bytes_pinned_peak)
		rc->st.bytes_pinned_peak = rc->st.bytes_pinned;
}

/*
 * Whatever overlaps n leaves the index: the regions n was merged from,
 * and any a concurrent miss inserted meanwhile (last one in wins; the
 * loser stays valid for its holder). False if n could not be indexed.
 */
static bool insert(struct rmx__rcache *rc, struct rmx__region *n,
		   struct rmx__list *rel)
{
	struct rmx__region *r;

	/* Removals only lower the need: checked first, nothing is undone. */
	if (rmx__itree_spare_needed(&rc->index))
		return false;
	while ((r = find_overlap(rc, n->start, n->end))) {
		rc->st.merges++;
		drop(rc, r, rel);
	}
	if (rmx__itree_insert(&rc->index, n->start, n))
		return false;
	rc->nbytes += n->end - n->start;
	n->state = RS_CACHED;
	evict(rc, false, rel);
	return true;
}

/* The request widened by every region overlapping or adjacent to it. */
static void merge_span(const struct rmx__rcache *rc, const struct span *req,
		       struct span *want)
{
	uintptr_t lo = req->start ? req->start - 1 : 0, hi = req->end + 1;
	struct rmx__region *r;

	*want = *req;
	for (r = find_overlap(rc, lo, hi); r && r->start < hi;
	     r = rmx__itree_next(&rc->index, r->start)) {
		if (r->start < want->start)
			want->start = r->start;
		if (r->end > want->end)
			want->end = r->end;
		want->access |= r->access;
	}
}

static int page_span(const struct rmx__rcache *rc, void *addr, size_t len,
		     unsigned int access, struct span *sp)
{
	uintptr_t a = (uintptr_t)addr;

	if (!len || a + len < a || a + len > UINTPTR_MAX - rc->page_mask)
		return -EINVAL;
	sp->start = a & ~rc->page_mask;
	sp->end = (a + len + rc->page_mask) & ~rc->page_mask;
	sp->access = access;
	return 0;
}

/* RMX_RCACHE=off: a fresh registration per use. */
static int get_uncached(struct rmx__rcache *rc, const struct span *req,
			struct rmx__region **out)
{
	struct rmx__region *n;
	struct span got;
	void *handle;
	int ret;

	pthread_mutex_lock(&rc->lock);
	while (!(n = pop_region(rc))) {
		pthread_mutex_unlock(&rc->lock);
		if (grow(rc))
			return -ENOMEM;
		pthread_mutex_lock(&rc->lock);
	}
	pthread_mutex_unlock(&rc->lock);
	ret = reg_span(rc, req, req, &got, &handle);
	pthread_mutex_lock(&rc->lock);
	rc->st.gets++;
	rc->st.misses++;
	if (ret) {
		push_region(rc, n);
	} else {
		account_reg(rc, n, &got, handle);
		n->state = RS_DETACHED;
	}
	pthread_mutex_unlock(&rc->lock);
	if (!ret)
		*out = n;
	return ret;
}

static bool covers(const struct rmx__region *r, const struct span *req)
{
	return r && r->end >= req->end &&
	       (r->access & req->access) == req->access;
}

/* Makes sure an insert finds its index nodes: allocated unlocked. */
static void reserve_nodes(struct rmx__rcache *rc)
{
	struct rmx__itree_node *x;

	while (rmx__itree_spare_needed(&rc->index)) {
		pthread_mutex_unlock(&rc->lock);
		x = rmx__itree_node_alloc();
		pthread_mutex_lock(&rc->lock);
		if (!x)
			return;		/* insert() fails: left uncached */
		rmx__itree_give(&rc->index, x);
	}
}

int rmx__rcache_get(struct rmx__rcache *rc, void *addr, size_t len,
		    unsigned int access, struct rmx__region **out)
{
	bool watched = false, cacheable = true, cached = false;
	struct span req, want, got;
	struct rmx__region *n, *r;
	struct rmx__list rel;
	void *handle = NULL;
	int ret;

	ret = page_span(rc, addr, len, access, &req);
	if (ret)
		return ret;
	if (!rc->cfg.enabled)
		return get_uncached(rc, &req, out);
	rmx__list_init(&rel);
	pthread_mutex_lock(&rc->lock);
	rc->st.gets++;
	for (;;) {
		r = rmx__itree_floor(&rc->index, req.start);
		if (covers(r, &req)) {
			if (!r->refs++)
				rmx__list_del(&r->link);
			rc->st.hits++;
			if (!rmx__list_empty(&rc->garbage))
				take_garbage(rc, &rel);
			pthread_mutex_unlock(&rc->lock);
			release(rc, &rel, true);
			*out = r;
			return 0;
		}
		n = pop_region(rc);
		if (n)
			break;
		/* Allocate unlocked, then look again. */
		pthread_mutex_unlock(&rc->lock);
		if (grow(rc))
			return -ENOMEM;
		pthread_mutex_lock(&rc->lock);
	}
	rc->st.misses++;
	merge_span(rc, &req, &want);
	/* In flight: invalidations mark it stale, unwatch leaves it be. */
	n->start = want.start;
	n->end = want.end;
	n->state = RS_IN_FLIGHT;
	rmx__list_add_tail(&rc->inflight, &n->link);
	take_garbage(rc, &rel);
	pthread_mutex_unlock(&rc->lock);
	release(rc, &rel, true);

	/* Watched before registering: no change can fall in between. */
	if (rc->mon.watch) {
		pthread_mutex_lock(&rc->wlock);
		watched = rc->mon.watch(rc->mon.ctx, want.start, want.end) >= 0;
		pthread_mutex_unlock(&rc->wlock);
		cacheable = watched;
	}
	ret = reg_span(rc, cacheable ? &want : &req, &req, &got, &handle);

	pthread_mutex_lock(&rc->lock);
	if (!ret && cacheable)
		reserve_nodes(rc);
	rmx__list_del(&n->link);
	if (!ret) {
		account_reg(rc, n, &got, handle);
		n->state = RS_DETACHED;
		/* Never cache across an invalidation it may have missed. */
		if (cacheable && !n->stale) {
			n->watched = watched;
			cached = insert(rc, n, &rel);
			if (!cached)
				n->watched = false;
		}
	} else {
		push_region(rc, n);
	}
	take_garbage(rc, &rel);
	pthread_mutex_unlock(&rc->lock);
	if (watched && rc->mon.unwatch &&
	    (!cached || got.start != want.start || got.end != want.end)) {
		pthread_mutex_lock(&rc->wlock);
		unwatch_gaps(rc, want.start, want.end);
		pthread_mutex_unlock(&rc->wlock);
	}
	release(rc, &rel, true);
	if (ret)
		return ret;
	*out = n;
	return 0;
}

void rmx__rcache_put(struct rmx__rcache *rc, struct rmx__region *region)
{
	struct rmx__list rel;

	if (!region)
		return;
	rmx__list_init(&rel);
	pthread_mutex_lock(&rc->lock);
	if (!--region->refs) {
		if (region->state == RS_CACHED) {
			rmx__list_add_tail(&rc->lru, &region->link);
			if (over_limits(rc))
				evict(rc, false, &rel);
		} else {
			retire(rc, region, &rel);
		}
	}
	if (!rmx__list_empty(&rc->garbage))
		take_garbage(rc, &rel);
	pthread_mutex_unlock(&rc->lock);
	release(rc, &rel, true);
}

void rmx__rcache_invalidate(struct rmx__rcache *rc, uintptr_t start,
			    uintptr_t end)
{
	struct rmx__region *r;
	struct rmx__list *l;

	pthread_mutex_lock(&rc->lock);
	rc->st.invalidation_events++;
	while ((r = find_overlap(rc, start, end))) {
		rc->st.regions_invalidated++;
		if (unindex(rc, r)) {
			r->state = RS_GARBAGE;
			rmx__list_add_tail(&rc->garbage, &r->link);
		} else {
			r->state = RS_DETACHED;
		}
	}
	for (l = rc->inflight.next; l != &rc->inflight; l = l->next) {
		r = link_region(l);
		if (r->start < end && start < r->end)
			r->stale = true;
	}
	pthread_mutex_unlock(&rc->lock);
}

void rmx__rcache_purge(struct rmx__rcache *rc)
{
	struct rmx__list rel;

	rmx__list_init(&rel);
	pthread_mutex_lock(&rc->lock);
	take_garbage(rc, &rel);
	pthread_mutex_unlock(&rc->lock);
	release(rc, &rel, true);
}

void rmx__rcache_stats(struct rmx__rcache *rc, struct rmx__rcache_stats *out)
{
	pthread_mutex_lock(&rc->lock);
	*out = rc->st;
	pthread_mutex_unlock(&rc->lock);
}

void rmx__rcache_idle(struct rmx__rcache *rc, size_t *regions,
		      uint64_t *bytes)
{
	struct rmx__list *l;

	*regions = 0;
	*bytes = 0;
	pthread_mutex_lock(&rc->lock);
	for (l = rc->lru.next; l != &rc->lru; l = l->next) {
		struct rmx__region *r = rmx__container_of(l, struct rmx__region,
							  link);

		(*regions)++;
		*bytes += r->end - r->start;
	}
	pthread_mutex_unlock(&rc->lock);
}

int rmx__rcache_create(const struct rmx__rcache_config *cfg,
		       const struct rmx__rcache_backend *be,
		       const struct rmx__rcache_monitor *mon,
		       struct rmx__rcache **out)
{
	struct rmx__rcache *rc;
	long page = sysconf(_SC_PAGESIZE);

	if (!cfg || !be || !be->reg || !be->dereg || !out)
		return -EINVAL;
	rc = calloc(1, sizeof(*rc));
	if (!rc)
		return -ENOMEM;
	pthread_mutex_init(&rc->lock, NULL);
	pthread_mutex_init(&rc->wlock, NULL);
	rc->cfg = *cfg;
	rc->be = *be;
	if (mon)
		rc->mon = *mon;
	rc->page_mask = (uintptr_t)(page > 0 ? page : 4096) - 1;
	rmx__itree_init(&rc->index);
	rmx__list_init(&rc->lru);
	rmx__list_init(&rc->inflight);
	rmx__list_init(&rc->garbage);
	*out = rc;
	return 0;
}

void rmx__rcache_destroy(struct rmx__rcache *rc)
{
	struct rmx__region *r;
	struct rmx__list rel;
	struct slab *s;
	size_t busy = 0;

	if (!rc)
		return;
	rmx__list_init(&rel);
	pthread_mutex_lock(&rc->lock);
	while ((r = rmx__itree_floor(&rc->index, UINTPTR_MAX))) {
		if (!unindex(rc, r))
			busy++;
		retire(rc, r, &rel);
	}
	take_garbage(rc, &rel);
	pthread_mutex_unlock(&rc->lock);
	/* The monitor is stopped before the cache: no unwatch. */
	release(rc, &rel, false);
	if (busy || rc->st.bytes_pinned)
		rmx__warn("rcache: destroyed with %zu cached regions in use and %" PRIu64 " bytes still pinned",
			  busy, rc->st.bytes_pinned);
	rmx__itree_fini(&rc->index);
	while ((s = rc->slabs)) {
		rc->slabs = s->next;
		UNPOISON(s, SLAB_BYTES);
		free(s);
	}
	pthread_mutex_destroy(&rc->wlock);
	pthread_mutex_destroy(&rc->lock);
	free(rc);
}

void rmx__rcache_default_limits(size_t *max_regions, size_t *max_bytes)
{
	long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
	struct rlimit rl;

	*max_regions = 16384;
	if (!getrlimit(RLIMIT_MEMLOCK, &rl) && rl.rlim_cur != RLIM_INFINITY) {
		*max_bytes = rl.rlim_cur / 4 * 3;
		return;
	}
	/* Unlimited: half the memory leaves the rest unpinned. */
	if (pages > 0 && page > 0)
		*max_bytes = (size_t)pages / 2 * (size_t)page;
	else
		*max_bytes = (size_t)1 << 32;
}

int rmx__rcache_check(struct rmx__rcache *rc)
{
	size_t count = 0, bytes = 0, idle = 0, lru = 0;
	const struct rmx__region *r, *prev = NULL;
	const struct rmx__list *l;
	int ret;

	pthread_mutex_lock(&rc->lock);
	ret = rmx__itree_check(&rc->index);
	r = rmx__itree_floor(&rc->index, 0);
	for (r = r ? r : rmx__itree_next(&rc->index, 0); r;
	     r = rmx__itree_next(&rc->index, r->start)) {
		if (r->start >= r->end || (r->start & rc->page_mask) ||
		    (r->end & rc->page_mask) || r->state != RS_CACHED ||
		    (prev && prev->end > r->start))
			ret = -EFAULT;
		count++;
		bytes += r->end - r->start;
		idle += !r->refs;
		prev = r;
	}
	for (l = rc->lru.next; l != &rc->lru; l = l->next) {
		r = rmx__container_of(l, struct rmx__region, link);
		if (r->refs || r->state != RS_CACHED)
			ret = -EFAULT;
		lru++;
	}
	if (count != rc->index.count || bytes != rc->nbytes || lru != idle)
		ret = -EFAULT;
	pthread_mutex_unlock(&rc->lock);
	return ret;
}
