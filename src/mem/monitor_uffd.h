/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * userfaultfd invalidation monitor for the pin-down cache: tells it when
 * a watched range stops mapping the pages it did (munmap, mmap MAP_FIXED
 * over it, mremap, madvise DONTNEED/FREE, brk shrink).
 *
 * Ranges are registered in write-protect mode and nothing is ever
 * write-protected, so no page fault is ever held for the monitor; only
 * the UNMAP, REMOVE and REMAP events arrive. The kernel parks the thread
 * that unmaps until the monitor thread has read its event, and lets it go
 * then, before fn has run: see rmx__uffd_monitor_sync().
 *
 * One monitor per process: a range another userfaultfd has registered
 * cannot be registered again (-EBUSY), so every context's cache
 * subscribes to the same one. The first subscription opens the
 * userfaultfd and starts the thread, the last stops and closes them.
 * Every subscriber is told of every event (each cache ignores ranges it
 * does not hold); watching is per subscriber (see watch()).
 */
#ifndef RMX_MEM_MONITOR_UFFD_H
#define RMX_MEM_MONITOR_UFFD_H

#include <stdbool.h>
#include <stdint.h>

/*
 * Called from the monitor thread for each range that no longer maps what
 * it did. Must be quick; it may take the cache's lock, provided no thread
 * ever holds that lock across anything that can unmap memory. It must not
 * itself free(), malloc(), munmap() or madvise(): an unmapping of a
 * watched range there waits for the monitor thread, which is the caller,
 * forever; and malloc's arena locks are held across munmap and brk by
 * threads that are parked waiting for the monitor to read their event.
 * Every subscriber's fn runs in each batch, so these rules bind each of
 * them: one fn stuck on a lock stalls the others' events too. It must
 * not create or destroy a subscription either (the thread holds the
 * subscriber list's lock across the batch).
 */
typedef void (*rmx__uffd_invalidate_fn)(void *arg, uintptr_t start,
					uintptr_t end);

/* A subscription to the process's monitor. */
struct rmx__uffd_monitor;

/*
 * Subscribes fn. The first subscription opens a userfaultfd with the
 * UNMAP, REMOVE and REMAP events and starts the monitor thread: -ENOSYS
 * or -EPERM when userfaultfd is unavailable (not built, seccomp,
 * vm.unprivileged_userfaultfd=0 and no access to /dev/userfaultfd),
 * -EOPNOTSUPP when the kernel lacks a needed feature (write-protect mode
 * needs 5.7), or another negative errno. A fork()ed child's
 * subscriptions are inert there (watch: -EBADF); its first new one
 * starts a monitor of its own.
 */
int rmx__uffd_monitor_create(rmx__uffd_invalidate_fn fn, void *arg,
			     struct rmx__uffd_monitor **out);
/*
 * Unsubscribes: waits for a callback batch in progress, after which fn is
 * never called again, and stops watching what only m watched. The last
 * subscription stops the thread and closes the userfaultfd, which drops
 * every registration; events not read yet are dropped and their
 * unmappers let go. Not from fn. NULL is ignored.
 */
void rmx__uffd_monitor_destroy(struct rmx__uffd_monitor *m);

/*
 * Watches the page-aligned range [start, end). Only private anonymous
 * memory (malloc, the heap, anonymous mmap, stacks) is accepted:
 * -EOPNOTSUPP for shared or file-backed memory, whose pages can be
 * replaced with no event here (ftruncate, fallocate, MADV_REMOVE through
 * another mapping), -EFAULT where nothing is mapped, -EINVAL when
 * unaligned, or the kernel's refusal (-EBUSY: another userfaultfd has
 * it; -ENOMEM: too many mappings). On failure the caller must not cache
 * the range. Events for the range may arrive before this returns.
 * Watching is a set per subscriber, not a count: watching a page m
 * watches changes nothing, and one unwatch by m drops it for m. The
 * kernel's registration stays while any subscriber watches the page.
 */
int rmx__uffd_monitor_watch(struct rmx__uffd_monitor *m, uintptr_t start,
			    uintptr_t end);
/* m stops watching every page of [start, end); other subscribers' stay. */
void rmx__uffd_monitor_unwatch(struct rmx__uffd_monitor *m, uintptr_t start,
			       uintptr_t end);

/*
 * Returns once fn has run for every event the monitor thread had read
 * when this was called. munmap() returns as soon as its event is read,
 * so without this a lookup right after a munmap() and an mmap() at the
 * same address can find the old registration. One atomic load while the
 * thread is idle. The batch runs every subscriber's fn, so this holds
 * for all of them. Must not be called holding a lock any fn takes; from
 * fn it returns at once.
 */
void rmx__uffd_monitor_sync(struct rmx__uffd_monitor *m);

/* Events m was told of so far (for stats). */
uint64_t rmx__uffd_monitor_events(const struct rmx__uffd_monitor *m);

/*
 * Test and benchmark hook: classify memory by scanning /proc/self/maps
 * even where the kernel answers PROCMAP_QUERY (6.11+). Process-wide.
 */
void rmx__uffd_monitor_scan_maps(bool on);

#endif
