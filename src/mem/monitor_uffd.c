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
#include "mem/monitor_uffd.h"

/* Linux 6.1 and 5.11; older headers lack them. */
#ifndef USERFAULTFD_IOC_NEW
#define USERFAULTFD_IOC_NEW _IO(0xAA, 0x00)
#endif
#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY 1
#endif

#define EVENTS (UFFD_FEATURE_EVENT_UNMAP | UFFD_FEATURE_EVENT_REMOVE | \
		UFFD_FEATURE_EVENT_REMAP)

struct rmx__uffd_monitor {
	rmx__uffd_invalidate_fn fn;
	void *arg;
	_Atomic int uffd;		/* -1 once closed */
	int efd;			/* destroy() wakes the thread with it */
	uintptr_t page_mask;
	pthread_t thread;
	bool orphan;			/* a forked child's copy: no thread */
	_Atomic uint64_t events;
	_Atomic uint64_t seq;		/* odd while a batch is read and run */
	_Atomic unsigned int waiters;	/* in sync() */
	pthread_mutex_t lock;		/* for cond only */
	pthread_cond_t cond;
	struct rmx__uffd_monitor *next;	/* on the live list */
};

/*
 * Every monitor, for the fork handlers. Held while the fds are opened and
 * closed, so that a child never holds a userfaultfd it does not know of.
 */
static pthread_mutex_t live_lock = PTHREAD_MUTEX_INITIALIZER;
static struct rmx__uffd_monitor *live;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;
static int atfork_ret;
static _Thread_local const struct rmx__uffd_monitor *running;

static void close_fds(struct rmx__uffd_monitor *m)
{
	int fd = atomic_exchange(&m->uffd, -1);

	if (fd >= 0)
		close(fd);
	if (m->efd >= 0)
		close(m->efd);
	m->efd = -1;
}

static void fork_prepare(void)
{
	pthread_mutex_lock(&live_lock);
}

static void fork_parent(void)
{
	pthread_mutex_unlock(&live_lock);
}

/*
 * The child gets the fds but neither the thread nor a registration.
 * Kept open there, the userfaultfd would outlive the parent's destroy(),
 * registrations included, and the parent's next munmap() of one would
 * wait for a reader until the child exits; the eventfd, written there,
 * would stop the parent's thread.
 */
static void fork_child(void)
{
	struct rmx__uffd_monitor *m;

	for (m = live; m; m = m->next) {
		close_fds(m);
		m->orphan = true;
		/* A batch the parent was in never ends here. */
		atomic_store(&m->seq, 0);
	}
	pthread_mutex_unlock(&live_lock);
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
static void release_fault(struct rmx__uffd_monitor *m, int uffd,
			  const struct uffd_msg *msg)
{
	struct uffdio_writeprotect wp = {
		.range = { .start = msg->arg.pagefault.address & ~m->page_mask,
			   .len = m->page_mask + 1 },
	};

	if (ioctl(uffd, UFFDIO_WRITEPROTECT, &wp))
		ioctl(uffd, UFFDIO_WAKE, &wp.range);
}

static void handle(struct rmx__uffd_monitor *m, int uffd,
		   const struct uffd_msg *msg)
{
	switch (msg->event) {
	case UFFD_EVENT_UNMAP:
	case UFFD_EVENT_REMOVE:
		m->fn(m->arg, msg->arg.remove.start, msg->arg.remove.end);
		break;
	case UFFD_EVENT_REMAP:
		/*
		 * The pages left [from, from + len). The registration moved
		 * with them and is kept: the cache may have watched the new
		 * place meanwhile, and an event it has nothing for costs it
		 * nothing.
		 */
		m->fn(m->arg, msg->arg.remap.from,
		      msg->arg.remap.from + msg->arg.remap.len);
		break;
	case UFFD_EVENT_PAGEFAULT:
		release_fault(m, uffd, msg);
		break;
	}
	atomic_fetch_add_explicit(&m->events, 1, memory_order_relaxed);
}

/* Takes no lock a thread may hold while it unmaps: see the header. */
static void *monitor_main(void *arg)
{
	struct rmx__uffd_monitor *m = arg;
	int uffd = atomic_load(&m->uffd), err = 0;
	struct pollfd fds[2] = { { .fd = uffd, .events = POLLIN },
				 { .fd = m->efd, .events = POLLIN } };
	struct uffd_msg msgs[16];
	uint64_t seq = 0;
	ssize_t n, i;

	running = m;
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
		atomic_store(&m->seq, ++seq);
		n = read(uffd, msgs, sizeof(msgs));
		err = n < 0 ? errno : 0;
		for (i = 0; i < n / (ssize_t)sizeof(msgs[0]); i++)
			handle(m, uffd, &msgs[i]);
		atomic_store(&m->seq, ++seq);
		if (atomic_load(&m->waiters)) {
			pthread_mutex_lock(&m->lock);
			pthread_cond_broadcast(&m->cond);
			pthread_mutex_unlock(&m->lock);
		}
		if (err && err != EAGAIN && err != EINTR)
			break;
	}
	/*
	 * Cannot happen with fds we own. Events left unread would hold
	 * their unmappers forever: closing lets them go (and drops every
	 * registration, so the cache is told nothing from here on).
	 */
	rmx__err("userfaultfd monitor stopped: %s", rmx_strerror(err));
	close(atomic_exchange(&m->uffd, -1));
	return NULL;
}

/* Under live_lock. Signals stay with the application's threads. */
static int start(struct rmx__uffd_monitor *m)
{
	sigset_t all, old;
	int fd, ret;

	fd = open_uffd();
	if (fd < 0)
		return fd;
	atomic_store(&m->uffd, fd);
	ret = handshake(fd);
	if (ret)
		return ret;
	m->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (m->efd < 0)
		return -errno;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	ret = -pthread_create(&m->thread, NULL, monitor_main, m);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (ret)
		return ret;
	pthread_setname_np(m->thread, "rmx-uffd");
	return 0;
}

int rmx__uffd_monitor_create(rmx__uffd_invalidate_fn fn, void *arg,
			     struct rmx__uffd_monitor **out)
{
	struct rmx__uffd_monitor *m;
	int ret;

	pthread_once(&atfork_once, install_atfork);
	if (atfork_ret)
		return atfork_ret;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->fn = fn;
	m->arg = arg;
	m->page_mask = (uintptr_t)sysconf(_SC_PAGESIZE) - 1;
	atomic_init(&m->uffd, -1);
	m->efd = -1;
	pthread_mutex_init(&m->lock, NULL);
	pthread_cond_init(&m->cond, NULL);

	pthread_mutex_lock(&live_lock);
	ret = start(m);
	if (ret) {
		close_fds(m);
	} else {
		m->next = live;
		live = m;
	}
	pthread_mutex_unlock(&live_lock);
	if (ret) {
		rmx__dbg("userfaultfd monitor: %s", rmx_strerror(ret));
		pthread_cond_destroy(&m->cond);
		pthread_mutex_destroy(&m->lock);
		free(m);
		return ret;
	}
	*out = m;
	return 0;
}

void rmx__uffd_monitor_destroy(struct rmx__uffd_monitor *m)
{
	struct rmx__uffd_monitor **pp;
	uint64_t one = 1;

	if (!m)
		return;
	if (!m->orphan) {
		/* An eventfd write cannot fail short of overflowing 2^64-1. */
		if (write(m->efd, &one, sizeof(one)) != sizeof(one))
			rmx__err("userfaultfd monitor: cannot wake its thread");
		pthread_join(m->thread, NULL);
	}
	pthread_mutex_lock(&live_lock);
	for (pp = &live; *pp != m; pp = &(*pp)->next)
		;
	*pp = m->next;
	close_fds(m);
	pthread_mutex_unlock(&live_lock);
	/* A child's copies may be in any state; they die with it. */
	if (!m->orphan) {
		pthread_cond_destroy(&m->cond);
		pthread_mutex_destroy(&m->lock);
	}
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

int rmx__uffd_monitor_watch(struct rmx__uffd_monitor *m, uintptr_t start,
			    uintptr_t end)
{
	struct uffdio_register reg = {
		.range = { .start = start, .len = end - start },
		.mode = UFFDIO_REGISTER_MODE_WP,
	};
	int fd = atomic_load(&m->uffd), ret;

	if (fd < 0)
		return -EBADF;	/* a forked child's copy */
	if (start >= end || ((start | end) & m->page_mask))
		return -EINVAL;
	ret = check_private_anon(start, end);
	if (!ret && ioctl(fd, UFFDIO_REGISTER, &reg))
		ret = -errno;
	if (ret)
		rmx__dbg("not watching %#lx-%#lx: %s", (unsigned long)start,
			 (unsigned long)end, rmx_strerror(ret));
	return ret;
}

void rmx__uffd_monitor_unwatch(struct rmx__uffd_monitor *m, uintptr_t start,
			       uintptr_t end)
{
	struct uffdio_range range = { .start = start, .len = end - start };
	int fd = atomic_load(&m->uffd);

	/*
	 * Refused where part of the range is gone or was replaced by memory
	 * that cannot be registered: what stays registered only brings
	 * events the cache has nothing for.
	 */
	if (fd >= 0 && start < end && ioctl(fd, UFFDIO_UNREGISTER, &range))
		rmx__dbg("unwatch %#lx-%#lx: %s", (unsigned long)start,
			 (unsigned long)end, rmx_strerror(-errno));
}

void rmx__uffd_monitor_sync(struct rmx__uffd_monitor *m)
{
	uint64_t seq = atomic_load(&m->seq);

	if (!(seq & 1) || running == m)
		return;
	pthread_mutex_lock(&m->lock);
	atomic_fetch_add(&m->waiters, 1);
	while (atomic_load(&m->seq) == seq)
		pthread_cond_wait(&m->cond, &m->lock);
	atomic_fetch_sub(&m->waiters, 1);
	pthread_mutex_unlock(&m->lock);
}

uint64_t rmx__uffd_monitor_events(const struct rmx__uffd_monitor *m)
{
	return atomic_load_explicit(&m->events, memory_order_relaxed);
}
