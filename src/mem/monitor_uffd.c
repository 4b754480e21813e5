// SPDX-License-Identifier: BSD-2-Clause
/*
 * What write-protect registration does per kind of memory, and the events
 * that munmap, madvise(DONTNEED), madvise(REMOVE) and mremap then bring;
 * the same on 6.1 and 6.18:
 *
 *   private anonymous, heap   registers: UNMAP, REMOVE, - (EINVAL),
 *                             REMAP + UNMAP; brk shrink: UNMAP
 *   MAP_SHARED anonymous,     registers: UNMAP, REMOVE, REMOVE (EACCES
 *   tmpfs files, memfd        if MAP_PRIVATE), REMAP + UNMAP; refused here
 *   hugetlb (6.1; the host    registers: UNMAP, REMOVE, - (EACCES),
 *   has no huge pages)        REMAP + UNMAP; refused here (a file)
 *   System V shm (shmat)      EINVAL from the kernel
 *   files on ext4 or 9p       EINVAL from the kernel
 *
 * Shared memory is refused although the kernel takes it: its pages can
 * be replaced with no event on our mapping (ftruncate, fallocate punching
 * a hole, MADV_REMOVE through another mapping, in any process), which a
 * cache must never miss. A fork()ed child's mappings are not registered
 * (no EVENT_FORK), so its munmap() brings nothing here.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <rmx/rmx.h>

#include "core/log.h"
#include "mem/itree.h"
#include "mem/monitor_uffd.h"

/* Linux 6.1 and 5.11; older headers lack them. */
#ifndef USERFAULTFD_IOC_NEW
#define USERFAULTFD_IOC_NEW _IO(0xAA, 0x00)
#endif
#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY 1
#endif

/* Linux 6.11's linux/fs.h; Debian 12's lacks it. */
#ifndef PROCMAP_QUERY
struct procmap_query {
	__u64 size;
	__u64 query_flags;
	__u64 query_addr;
	__u64 vma_start;
	__u64 vma_end;
	__u64 vma_flags;
	__u64 vma_page_size;
	__u64 vma_offset;
	__u64 inode;
	__u32 dev_major;
	__u32 dev_minor;
	__u32 vma_name_size;
	__u32 build_id_size;
	__u64 vma_name_addr;
	__u64 build_id_addr;
};
#define PROCMAP_QUERY _IOWR('f', 17, struct procmap_query)
#define PROCMAP_QUERY_VMA_SHARED 0x08
#endif

#define EVENTS (UFFD_FEATURE_EVENT_UNMAP | UFFD_FEATURE_EVENT_REMOVE | \
		UFFD_FEATURE_EVENT_REMAP)

/*
 * The process's monitor: one userfaultfd, one thread, shared by every
 * subscription (each a context's cache). It lives from the first
 * subscription to the last. A fork()ed child's copy is an orphan: no
 * thread, fds closed, never used again; the child starts its own.
 */
struct core {
	_Atomic int uffd;		/* -1 once closed */
	int efd;			/* the last unsubscribe wakes the thread */
	int maps;			/* /proc/self/maps for PROCMAP_QUERY */
	atomic_bool no_query;		/* the kernel lacks it: scan the file */
	uintptr_t page_mask;
	pthread_t thread;
	unsigned int users;		/* subscriptions, under state_lock */
	bool orphan;
	/*
	 * Changed under watch_lock and subs_lock both; the thread reads it
	 * under subs_lock, watch() and unwatch() under watch_lock.
	 */
	struct rmx__uffd_monitor *subs;
	pthread_mutex_t subs_lock;
	_Atomic uint64_t seq;		/* odd while a batch is read and run */
	_Atomic unsigned int waiters;	/* in sync() */
	pthread_mutex_t lock;		/* for cond only */
	pthread_cond_t cond;
};

/* A watched range of one subscription, keyed by start in its set. */
struct span {
	uintptr_t start, end;
};

/* One subscription: a context's cache. */
struct rmx__uffd_monitor {
	rmx__uffd_invalidate_fn fn;
	void *arg;
	struct core *core;
	struct rmx__uffd_monitor *next;	/* on core->subs */
	/*
	 * The pages this subscription watches: disjoint, non-adjacent spans,
	 * under watch_lock, in the B+tree the cache indexes regions with. A
	 * set, not a count: the cache unwatches what it no longer needs
	 * however often it watched it (rcache.h). A page is registered with
	 * the kernel while any subscription's set holds it; see
	 * unregister_unwatched().
	 */
	struct rmx__itree watched;
	_Atomic uint64_t events;
};

/*
 * Locks, each taken before the next, and who may hold them where:
 *
 * state_lock: cur and users; held while the fds open and close and the
 * thread starts and stops, so that a fork never copies half a monitor.
 *
 * watch_lock: every set and the registrations they imply, so that one
 * subscription's unwatch never strips a page another's watch registered
 * meanwhile. Held across malloc and free: the thread never takes it, so
 * a free() that unmaps a watched page is let go as usual.
 *
 * core->subs_lock: the thread holds it across a batch's callbacks, so a
 * subscription unlinked under it is never called again. Whoever holds it
 * runs nothing that may unmap or wait on an unmapper (no malloc, no
 * free): the thread cannot read the next event until it has it.
 *
 * The fork handlers take state_lock and watch_lock, never subs_lock: a
 * forking thread waiting for the thread's batch, while malloc's arena
 * locks wait on an unmapper that waits on the thread, is a deadlock.
 */
static pthread_mutex_t state_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t watch_lock = PTHREAD_MUTEX_INITIALIZER;
static struct core *cur;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;
static int atfork_ret;
static _Thread_local const struct core *running;
static atomic_bool scan_maps;	/* test hook: never PROCMAP_QUERY */

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static void close_fds(struct core *c)
{
	int fd = atomic_exchange(&c->uffd, -1);

	close_fd(&fd);
	close_fd(&c->efd);
	close_fd(&c->maps);
}

static void fork_prepare(void)
{
	pthread_mutex_lock(&state_lock);
	pthread_mutex_lock(&watch_lock);
}

static void fork_parent(void)
{
	pthread_mutex_unlock(&watch_lock);
	pthread_mutex_unlock(&state_lock);
}

/*
 * The child gets the fds but neither the thread nor a registration.
 * Kept open there, the userfaultfd would outlive the parent's last
 * unsubscribe, registrations included, and the parent's next munmap() of
 * one would wait for a reader until the child exits; the eventfd,
 * written there, would stop the parent's thread. The orphan's mutexes
 * may be held by a thread the child does not have: nothing takes them.
 */
static void fork_child(void)
{
	if (cur) {
		close_fds(cur);
		cur->orphan = true;
		/* A batch the parent was in never ends here. */
		atomic_store(&cur->seq, 0);
		cur = NULL;
	}
	pthread_mutex_unlock(&watch_lock);
	pthread_mutex_unlock(&state_lock);
}

static void install_atfork(void)
{
	atfork_ret = -pthread_atfork(fork_prepare, fork_parent, fork_child);
}

/*
 * User-mode-only needs no privilege under vm.unprivileged_userfaultfd=0
 * (5.11+; older kernels reject the flag) and costs nothing, as no fault
 * is ever handled here. Where the syscall is refused (seccomp), the
 * device (6.1+) may still be open to us.
 */
static int open_uffd(void)
{
	int flags = O_CLOEXEC | O_NONBLOCK, fd, dev, err;

	fd = (int)syscall(SYS_userfaultfd, flags | UFFD_USER_MODE_ONLY);
	if (fd < 0 && errno == EINVAL)
		fd = (int)syscall(SYS_userfaultfd, flags);
	if (fd >= 0)
		return fd;
	err = errno;
	dev = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);
	if (dev >= 0) {
		fd = ioctl(dev, USERFAULTFD_IOC_NEW, flags);
		close(dev);
		if (fd >= 0)
			return fd;
	}
	if (err == ENOSYS || err == EMFILE || err == ENFILE || err == ENOMEM)
		return -err;
	return -EPERM;
}

static int handshake(int fd)
{
	struct uffdio_api api = { .api = UFFD_API, .features = EVENTS };

	/* EINVAL: a feature asked for is unknown to this kernel. */
	if (ioctl(fd, UFFDIO_API, &api))
		return errno == EINVAL ? -EOPNOTSUPP : -errno;
	/* The answer lists all it has; the WP flag means WP mode (5.7+). */
	if ((api.features & EVENTS) != EVENTS ||
	    !(api.features & UFFD_FEATURE_PAGEFAULT_FLAG_WP))
		return -EOPNOTSUPP;
	return 0;
}

/*
 * Nothing is write-protected, so no fault comes; were one to, lifting the
 * protection lets the faulting thread go rather than hold it forever.
 */
static void release_fault(struct core *c, int uffd, const struct uffd_msg *msg)
{
	struct uffdio_writeprotect wp = {
		.range = { .start = msg->arg.pagefault.address & ~c->page_mask,
			   .len = c->page_mask + 1 },
	};

	if (ioctl(uffd, UFFDIO_WRITEPROTECT, &wp))
		ioctl(uffd, UFFDIO_WAKE, &wp.range);
}

/*
 * Every subscriber hears of every range: the address space is one, so a
 * change to it concerns whichever cache holds the range, and a cache
 * ignores ranges it does not hold. Under subs_lock.
 */
static void tell(struct core *c, uintptr_t start, uintptr_t end)
{
	struct rmx__uffd_monitor *s;

	for (s = c->subs; s; s = s->next) {
		s->fn(s->arg, start, end);
		atomic_fetch_add_explicit(&s->events, 1, memory_order_relaxed);
	}
}

static void handle(struct core *c, int uffd, const struct uffd_msg *msg)
{
	switch (msg->event) {
	case UFFD_EVENT_UNMAP:
	case UFFD_EVENT_REMOVE:
		tell(c, msg->arg.remove.start, msg->arg.remove.end);
		break;
	case UFFD_EVENT_REMAP:
		/*
		 * The pages left [from, from + len). The registration moved
		 * with them and is kept: a cache may have watched the new
		 * place meanwhile, and an event it has nothing for costs it
		 * nothing.
		 */
		tell(c, msg->arg.remap.from,
		     msg->arg.remap.from + msg->arg.remap.len);
		break;
	case UFFD_EVENT_PAGEFAULT:
		release_fault(c, uffd, msg);
		break;
	}
}

/* Takes only subs_lock, which no unmapping thread holds: see above. */
static void *monitor_main(void *arg)
{
	struct core *c = arg;
	int uffd = atomic_load(&c->uffd), err = 0;
	struct pollfd fds[2] = { { .fd = uffd, .events = POLLIN },
				 { .fd = c->efd, .events = POLLIN } };
	struct uffd_msg msgs[16];
	uint64_t seq = 0;
	ssize_t n, i;

	running = c;
	for (;;) {
		if (poll(fds, 2, -1) < 0) {
			err = errno;
			if (err == EINTR)
				continue;
			break;
		}
		if (fds[1].revents)
			return NULL;
		/*
		 * Odd before the read: whoever's unmapping it lets go finds
		 * sync() waiting for this batch.
		 */
		atomic_store(&c->seq, ++seq);
		n = read(uffd, msgs, sizeof(msgs));
		err = n < 0 ? errno : 0;
		if (n > 0) {
			pthread_mutex_lock(&c->subs_lock);
			for (i = 0; i < n / (ssize_t)sizeof(msgs[0]); i++)
				handle(c, uffd, &msgs[i]);
			pthread_mutex_unlock(&c->subs_lock);
		}
		atomic_store(&c->seq, ++seq);
		if (atomic_load(&c->waiters)) {
			pthread_mutex_lock(&c->lock);
			pthread_cond_broadcast(&c->cond);
			pthread_mutex_unlock(&c->lock);
		}
		if (err && err != EAGAIN && err != EINTR)
			break;
	}
	/*
	 * Cannot happen with fds we own. Events left unread would hold
	 * their unmappers forever: closing lets them go (and drops every
	 * registration, so the caches are told nothing from here on).
	 */
	rmx__err("userfaultfd monitor stopped: %s", rmx_strerror(err));
	close(atomic_exchange(&c->uffd, -1));
	return NULL;
}

static void core_free(struct core *c)
{
	/* An orphan's may be held by a thread its child does not have. */
	if (!c->orphan) {
		pthread_mutex_destroy(&c->subs_lock);
		pthread_cond_destroy(&c->cond);
		pthread_mutex_destroy(&c->lock);
	}
	free(c);
}

/* Under state_lock. Signals stay with the application's threads. */
static int core_start(struct core **out)
{
	struct core *c = calloc(1, sizeof(*c));
	sigset_t all, old;
	int fd, ret;

	if (!c)
		return -ENOMEM;
	c->page_mask = (uintptr_t)sysconf(_SC_PAGESIZE) - 1;
	c->efd = -1;
	pthread_mutex_init(&c->subs_lock, NULL);
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->cond, NULL);
	fd = open_uffd();
	atomic_init(&c->uffd, fd);
	ret = fd < 0 ? fd : handshake(fd);
	if (!ret) {
		c->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		ret = c->efd < 0 ? -errno : 0;
	}
	/* Without it, watch() scans the file instead. */
	c->maps = ret ? -1 : open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
	if (!ret) {
		sigfillset(&all);
		pthread_sigmask(SIG_SETMASK, &all, &old);
		ret = -pthread_create(&c->thread, NULL, monitor_main, c);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
	}
	if (ret) {
		close_fds(c);
		core_free(c);
		return ret;
	}
	pthread_setname_np(c->thread, "rmx-uffd");
	*out = c;
	return 0;
}

/*
 * Under state_lock. Closing the userfaultfd drops every registration and
 * lets go whoever waits on an event not read yet.
 */
static void core_stop(struct core *c)
{
	uint64_t one = 1;

	/* An eventfd write cannot fail short of overflowing 2^64-1. */
	if (write(c->efd, &one, sizeof(one)) != sizeof(one))
		rmx__err("userfaultfd monitor: cannot wake its thread");
	pthread_join(c->thread, NULL);
	close_fds(c);
	core_free(c);
}

/*
 * The span sets. Each operation first makes sure it cannot fail midway:
 * the B+tree's spare nodes and the one span it may need come first.
 */
static int set_reserve(struct rmx__itree *t, struct span **fresh)
{
	struct rmx__itree_node *x;
	unsigned int need;

	for (need = rmx__itree_spare_needed(t); need; need--) {
		x = rmx__itree_node_alloc();
		if (!x)
			return -ENOMEM;
		rmx__itree_give(t, x);
	}
	*fresh = malloc(sizeof(**fresh));
	return *fresh ? 0 : -ENOMEM;
}

/* The first span that ends after addr, or NULL. */
static struct span *set_from(const struct rmx__itree *t, uintptr_t addr)
{
	struct span *s = rmx__itree_floor(t, addr);

	return s && s->end > addr ? s : rmx__itree_next(t, addr);
}

/* Adds [start, end), merging what it overlaps or touches. */
static void set_add(struct rmx__itree *t, uintptr_t start, uintptr_t end,
		    struct span **fresh)
{
	struct span *s = rmx__itree_floor(t, start), *n;

	if (s && s->end >= start) {
		if (s->end < end)
			s->end = end;
	} else {
		s = *fresh;
		*fresh = NULL;
		s->start = start;
		s->end = end;
		rmx__itree_insert(t, start, s);
	}
	while ((n = rmx__itree_next(t, s->start)) && n->start <= s->end) {
		if (s->end < n->end)
			s->end = n->end;
		rmx__itree_remove(t, n->start);
		free(n);
	}
}

/*
 * Removes [start, end). At most one span is inserted: the tail of a span
 * cut in two, or the one re-keyed past end (always the last one).
 */
static void set_del(struct rmx__itree *t, uintptr_t start, uintptr_t end,
		    struct span **fresh)
{
	struct span *s;

	for (s = set_from(t, start); s && s->start < end;
	     s = rmx__itree_next(t, start)) {
		if (s->start < start) {
			if (s->end > end) {
				(*fresh)->start = end;
				(*fresh)->end = s->end;
				rmx__itree_insert(t, end, *fresh);
				*fresh = NULL;
			}
			s->end = start;
		} else if (s->end > end) {
			rmx__itree_remove(t, s->start);
			s->start = end;
			rmx__itree_insert(t, end, s);
		} else {
			rmx__itree_remove(t, s->start);
			free(s);
		}
	}
}

static void set_clear(struct rmx__itree *t)
{
	struct span *s = set_from(t, 0);
	uintptr_t key;

	while (s) {
		key = s->start;
		free(s);
		s = rmx__itree_next(t, key);
	}
	rmx__itree_fini(t);
}

/* Where the pages from at on stop being in some subscription's set. */
static uintptr_t skip_watched(const struct core *c, uintptr_t at,
			      uintptr_t end)
{
	const struct rmx__uffd_monitor *m;
	const struct span *s;
	bool moved = true;

	while (moved && at < end) {
		moved = false;
		for (m = c->subs; m; m = m->next) {
			s = rmx__itree_floor(&m->watched, at);
			if (s && s->end > at) {
				at = s->end;
				moved = true;
			}
		}
	}
	return at;
}

/* Where the next set's span begins after at (in no set), up to end. */
static uintptr_t next_watched(const struct core *c, uintptr_t at,
			      uintptr_t end)
{
	const struct rmx__uffd_monitor *m;
	const struct span *s;

	for (m = c->subs; m; m = m->next) {
		s = rmx__itree_next(&m->watched, at);
		if (s && s->start < end)
			end = s->start;
	}
	return end;
}

/*
 * Unregisters the parts of [start, end) that no subscription's set holds.
 * Under watch_lock. Refused where part of a range is gone or was replaced
 * by memory that cannot be registered: what stays registered only brings
 * events the caches have nothing for.
 */
static void unregister_unwatched(struct core *c, int fd, uintptr_t start,
				 uintptr_t end)
{
	struct uffdio_range range;
	uintptr_t at = start, stop;

	while ((at = skip_watched(c, at, end)) < end) {
		stop = next_watched(c, at, end);
		range.start = at;
		range.len = stop - at;
		if (ioctl(fd, UFFDIO_UNREGISTER, &range))
			rmx__dbg("unwatch %#lx-%#lx: %s", (unsigned long)at,
				 (unsigned long)stop, rmx_strerror(-errno));
		at = stop;
	}
}

int rmx__uffd_monitor_create(rmx__uffd_invalidate_fn fn, void *arg,
			     struct rmx__uffd_monitor **out)
{
	struct rmx__uffd_monitor *m;
	int ret = 0;

	pthread_once(&atfork_once, install_atfork);
	if (atfork_ret)
		return atfork_ret;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->fn = fn;
	m->arg = arg;
	rmx__itree_init(&m->watched);

	pthread_mutex_lock(&state_lock);
	if (!cur)
		ret = core_start(&cur);
	if (!ret) {
		m->core = cur;
		cur->users++;
		pthread_mutex_lock(&watch_lock);
		pthread_mutex_lock(&cur->subs_lock);
		m->next = cur->subs;
		cur->subs = m;
		pthread_mutex_unlock(&cur->subs_lock);
		pthread_mutex_unlock(&watch_lock);
	}
	pthread_mutex_unlock(&state_lock);
	if (ret) {
		rmx__dbg("userfaultfd monitor: %s", rmx_strerror(ret));
		free(m);
		return ret;
	}
	*out = m;
	return 0;
}

/*
 * The last subscription stops the thread first, so that events it has not
 * read are dropped rather than waited for, and closing the fd drops every
 * registration. Any other waits for the batch in progress (subs_lock) and
 * then unregisters the pages only it watched.
 */
void rmx__uffd_monitor_destroy(struct rmx__uffd_monitor *m)
{
	struct rmx__uffd_monitor **pp;
	struct core *c;
	struct span *s;
	int fd;

	if (!m)
		return;
	pthread_mutex_lock(&state_lock);
	c = m->core;
	if (c->orphan) {
		/* A child's copy: nothing runs or is registered for it. */
		if (!--c->users)
			core_free(c);
	} else if (c->users == 1) {
		core_stop(c);
		cur = NULL;
	} else {
		c->users--;
		pthread_mutex_lock(&watch_lock);
		pthread_mutex_lock(&c->subs_lock);
		for (pp = &c->subs; *pp != m; pp = &(*pp)->next)
			;
		*pp = m->next;
		pthread_mutex_unlock(&c->subs_lock);
		fd = atomic_load(&c->uffd);
		for (s = set_from(&m->watched, 0); s && fd >= 0;
		     s = rmx__itree_next(&m->watched, s->start))
			unregister_unwatched(c, fd, s->start, s->end);
		pthread_mutex_unlock(&watch_lock);
	}
	pthread_mutex_unlock(&state_lock);
	set_clear(&m->watched);
	free(m);
}

/* Enough of a maps line for every field before the path. */
#define MAPS_HEAD 128

struct maps {
	int fd;
	size_t pos, len;
	char buf[4096];
};

/* The next line of the file, cut to MAPS_HEAD - 1 bytes; false at its end. */
static bool maps_line(struct maps *r, char *line)
{
	size_t n = 0, take, room;
	ssize_t got;
	char *nl;

	for (;;) {
		if (r->pos == r->len) {
			got = read(r->fd, r->buf, sizeof(r->buf));
			if (got <= 0) {
				line[n] = '\0';
				return n > 0;
			}
			r->pos = 0;
			r->len = (size_t)got;
		}
		nl = memchr(r->buf + r->pos, '\n', r->len - r->pos);
		take = (nl ? (size_t)(nl - r->buf) : r->len) - r->pos;
		room = MAPS_HEAD - 1 - n;
		memcpy(line + n, r->buf + r->pos, take < room ? take : room);
		n += take < room ? take : room;
		r->pos += take + (nl ? 1 : 0);
		if (nl) {
			line[n] = '\0';
			return true;
		}
	}
}

/*
 * 0 when private anonymous mappings cover all of [start, end): no device,
 * no inode, not shared. A read error or a line we cannot parse counts as
 * not covered.
 */
static int check_private_anon(uintptr_t start, uintptr_t end)
{
	struct maps r = { .pos = 0, .len = 0 };
	char line[MAPS_HEAD], perms[5], *p;
	unsigned long long lo, hi, at = start;
	unsigned int major, minor;
	unsigned long inode;
	int ret = -EFAULT;

	r.fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
	if (r.fd < 0)
		return -errno;
	while (at < end && maps_line(&r, line)) {
		lo = strtoull(line, &p, 16);
		if (*p != '-')
			break;
		hi = strtoull(p + 1, &p, 16);
		if (hi <= at)
			continue;
		if (lo > at)
			break;	/* a hole */
		if (sscanf(p, " %4s %*s %x:%x %lu", perms, &major, &minor,
			   &inode) != 4)
			break;
		if (perms[3] != 'p' || major || minor || inode) {
			ret = -EOPNOTSUPP;
			break;
		}
		at = hi;
	}
	close(r.fd);
	return at >= end ? 0 : ret;
}

/*
 * PROCMAP_QUERY (6.11+) finds the mapping at an address in the kernel's
 * tree: no text to make and parse, where the file's text grows with
 * every mapping (and each watched range may split one). -ENOTTY or
 * -EINVAL where the kernel lacks it.
 */
static int query_private_anon(int maps, uintptr_t start, uintptr_t end)
{
	struct procmap_query q;
	uintptr_t at = start;

	while (at < end) {
		memset(&q, 0, sizeof(q));
		q.size = sizeof(q);
		q.query_addr = at;	/* no flags: the mapping covering it */
		if (ioctl(maps, PROCMAP_QUERY, &q))
			return errno == ENOENT ? -EFAULT : -errno;
		/* As the scan: shared ('s' in the file) or backed by a file. */
		if ((q.vma_flags & PROCMAP_QUERY_VMA_SHARED) || q.inode ||
		    q.dev_major || q.dev_minor)
			return -EOPNOTSUPP;
		at = (uintptr_t)q.vma_end;
	}
	return 0;
}

static int classify(struct core *c, uintptr_t start, uintptr_t end)
{
	int ret;

	if (c->maps >= 0 && !atomic_load(&c->no_query) &&
	    !atomic_load(&scan_maps)) {
		ret = query_private_anon(c->maps, start, end);
		if (ret != -ENOTTY && ret != -EINVAL)
			return ret;
		atomic_store(&c->no_query, true);
	}
	return check_private_anon(start, end);
}

void rmx__uffd_monitor_scan_maps(bool on)
{
	atomic_store(&scan_maps, on);
}

int rmx__uffd_monitor_watch(struct rmx__uffd_monitor *m, uintptr_t start,
			    uintptr_t end)
{
	struct uffdio_register reg = {
		.range = { .start = start, .len = end - start },
		.mode = UFFDIO_REGISTER_MODE_WP,
	};
	struct core *c = m->core;
	int fd = atomic_load(&c->uffd), ret;
	struct span *fresh = NULL;

	if (fd < 0)
		return -EBADF;	/* a forked child's copy */
	if (start >= end || ((start | end) & c->page_mask))
		return -EINVAL;
	/* Unlocked: slow where it scans, and the kernel checks again. */
	ret = classify(c, start, end);
	if (!ret) {
		pthread_mutex_lock(&watch_lock);
		ret = set_reserve(&m->watched, &fresh);
		/* Registering what is registered already changes nothing. */
		if (!ret && ioctl(fd, UFFDIO_REGISTER, &reg))
			ret = -errno;
		if (!ret)
			set_add(&m->watched, start, end, &fresh);
		pthread_mutex_unlock(&watch_lock);
		free(fresh);
	}
	if (ret)
		rmx__dbg("not watching %#lx-%#lx: %s", (unsigned long)start,
			 (unsigned long)end, rmx_strerror(ret));
	return ret;
}

void rmx__uffd_monitor_unwatch(struct rmx__uffd_monitor *m, uintptr_t start,
			       uintptr_t end)
{
	struct core *c = m->core;
	int fd = atomic_load(&c->uffd);
	struct span *fresh = NULL;

	if (fd < 0 || start >= end)
		return;
	pthread_mutex_lock(&watch_lock);
	/* Short of memory, the pages stay watched: only extra events. */
	if (!set_reserve(&m->watched, &fresh)) {
		set_del(&m->watched, start, end, &fresh);
		unregister_unwatched(c, fd, start, end);
	}
	pthread_mutex_unlock(&watch_lock);
	free(fresh);
}

void rmx__uffd_monitor_sync(struct rmx__uffd_monitor *m)
{
	struct core *c = m->core;
	uint64_t seq = atomic_load(&c->seq);

	if (!(seq & 1) || running == c)
		return;
	pthread_mutex_lock(&c->lock);
	atomic_fetch_add(&c->waiters, 1);
	while (atomic_load(&c->seq) == seq)
		pthread_cond_wait(&c->cond, &c->lock);
	atomic_fetch_sub(&c->waiters, 1);
	pthread_mutex_unlock(&c->lock);
}

uint64_t rmx__uffd_monitor_events(const struct rmx__uffd_monitor *m)
{
	return atomic_load_explicit(&m->events, memory_order_relaxed);
}
