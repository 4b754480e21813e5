// SPDX-License-Identifier: BSD-2-Clause
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/shm.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check_main.h"
#include "core/log.h"
#include "mem/monitor_uffd.h"

#define WAIT_MS 2000	/* the most any event or thread is waited for */
#define QUIET_MS 200	/* how long "no event" is watched for */
#define MAXREC 64

static uintptr_t P;	/* the page size */
static struct rmx__uffd_monitor *M, *M2;	/* M2: a second subscriber */

/* What a callback saw; it takes only its lock (and also). */
struct rec {
	pthread_mutex_t lock;
	pthread_cond_t cond;	/* on CLOCK_MONOTONIC */
	uintptr_t start[MAXREC], end[MAXREC];
	unsigned int n;
	atomic_bool gated;	/* the callback waits for gate first */
	atomic_bool in_cb;
	sem_t gate;
	pthread_mutex_t *_Atomic also;	/* taken and dropped by the callback */
};

static struct rec R, R2;	/* M's, M2's */

static struct timespec deadline(clockid_t clock, long ms)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += ms % 1000 * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	return ts;
}

static long ms_since(const struct timespec *t0)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - t0->tv_sec) * 1000 +
	       (now.tv_nsec - t0->tv_nsec) / 1000000;
}

/* arg: the struct rec to record into. */
static void on_inval(void *arg, uintptr_t start, uintptr_t end)
{
	struct rec *r = arg;
	pthread_mutex_t *also = atomic_load(&r->also);
	struct timespec ts;

	if (atomic_load(&r->gated)) {
		atomic_store(&r->in_cb, true);
		ts = deadline(CLOCK_REALTIME, 5000);
		sem_timedwait(&r->gate, &ts);
	}
	if (also) {
		pthread_mutex_lock(also);
		pthread_mutex_unlock(also);
	}
	pthread_mutex_lock(&r->lock);
	if (r->n < MAXREC) {
		r->start[r->n] = start;
		r->end[r->n] = end;
	}
	r->n++;
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->lock);
}

static unsigned int nseen_by(struct rec *r)
{
	unsigned int n;

	pthread_mutex_lock(&r->lock);
	n = r->n;
	pthread_mutex_unlock(&r->lock);
	return n;
}

static unsigned int nseen(void)
{
	return nseen_by(&R);
}

/* Whether r gets one event covering [start, end) within ms. */
static bool saw_by(struct rec *r, const void *start, const void *end,
		   long ms)
{
	struct timespec ts = deadline(CLOCK_MONOTONIC, ms);
	bool found = false;
	unsigned int i;

	pthread_mutex_lock(&r->lock);
	for (;;) {
		for (i = 0; i < r->n && i < MAXREC && !found; i++)
			found = r->start[i] <= (uintptr_t)start &&
				r->end[i] >= (uintptr_t)end;
		if (found || pthread_cond_timedwait(&r->cond, &r->lock, &ts))
			break;
	}
	pthread_mutex_unlock(&r->lock);
	return found;
}

static bool saw(const void *start, const void *end, long ms)
{
	return saw_by(&R, start, end, ms);
}

/* Whether r gets any event beyond its first n within ms. */
static bool more_than_by(struct rec *r, unsigned int n, long ms)
{
	struct timespec ts = deadline(CLOCK_MONOTONIC, ms);
	bool more;

	pthread_mutex_lock(&r->lock);
	while (!(more = r->n > n))
		if (pthread_cond_timedwait(&r->cond, &r->lock, &ts))
			break;
	pthread_mutex_unlock(&r->lock);
	return more;
}

static bool more_than(unsigned int n, long ms)
{
	return more_than_by(&R, n, ms);
}

static char *map_anon(size_t pages)
{
	char *p = mmap(NULL, pages * P, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	ck_assert_ptr_ne(p, MAP_FAILED);
	return p;
}

static int watch(const void *p, size_t pages)
{
	return rmx__uffd_monitor_watch(M, (uintptr_t)p,
				       (uintptr_t)p + pages * P);
}

/* A fresh, populated, watched private mapping. */
static char *watched(size_t pages)
{
	char *p = map_anon(pages);

	memset(p, 0x5a, pages * P);
	ck_assert_int_eq(watch(p, pages), 0);
	return p;
}

/* Runs fn(arg) on a thread and says whether it ended within ms. */
static bool finishes(void *(*fn)(void *), void *arg, long ms)
{
	struct timespec ts = deadline(CLOCK_REALTIME, ms);
	pthread_t t;

	ck_assert_int_eq(pthread_create(&t, NULL, fn, arg), 0);
	if (pthread_timedjoin_np(t, NULL, &ts) == 0)
		return true;
	pthread_detach(t);
	return false;
}

static void rec_init(struct rec *r)
{
	pthread_condattr_t ca;

	memset(r, 0, sizeof(*r));
	pthread_mutex_init(&r->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&r->cond, &ca);
	pthread_condattr_destroy(&ca);
	sem_init(&r->gate, 0, 0);
}

static void setup(void)
{
	rmx__log_level = RMX__LOG_NONE;	/* refusals log by design */
	P = (uintptr_t)sysconf(_SC_PAGESIZE);
	rec_init(&R);
	rec_init(&R2);
	ck_assert_int_eq(rmx__uffd_monitor_create(on_inval, &R, &M), 0);
}

static void teardown(void)
{
	/* Never leave the thread parked in a gated callback. */
	sem_post(&R.gate);
	sem_post(&R2.gate);
	rmx__uffd_monitor_destroy(M2);
	M2 = NULL;
	rmx__uffd_monitor_destroy(M);
	M = NULL;
	rmx__uffd_monitor_scan_maps(false);
}

START_TEST(munmap_reported)
{
	char *p = watched(4);

	ck_assert_int_eq(munmap(p + P, 2 * P), 0);
	ck_assert(saw(p + P, p + 3 * P, WAIT_MS));
	rmx__uffd_monitor_sync(M);	/* the count follows the callback */
	ck_assert_uint_ge(rmx__uffd_monitor_events(M), 1);
	munmap(p, 4 * P);
}
END_TEST

START_TEST(map_fixed_over_reported)
{
	char *p = watched(4), *q;

	q = mmap(p + P, 2 * P, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS |
		 MAP_FIXED, -1, 0);
	ck_assert_ptr_eq(q, p + P);
	ck_assert(saw(p + P, p + 3 * P, WAIT_MS));
	munmap(p, 4 * P);
}
END_TEST

START_TEST(mremap_reported)
{
	char *p = watched(4), *to = map_anon(4), *q;

	q = mremap(p, 4 * P, 4 * P, MREMAP_MAYMOVE | MREMAP_FIXED, to);
	ck_assert_ptr_eq(q, to);
	ck_assert(saw(p, p + 4 * P, WAIT_MS));
	/* The registration went along (see handle()): still reported. */
	ck_assert_int_eq(munmap(q + 3 * P, P), 0);
	ck_assert(saw(q + 3 * P, q + 4 * P, WAIT_MS));
	/* Shrinking in place unmaps the tail. */
	q = mremap(q, 3 * P, P, 0);
	ck_assert_ptr_eq(q, to);
	ck_assert(saw(q + P, q + 3 * P, WAIT_MS));
	munmap(q, P);
}
END_TEST

/*
 * MADV_REMOVE works on shared memory only, which watch() refuses (see
 * unsupported_refused): on what can be watched it fails with EINVAL.
 */
START_TEST(madvise_reported)
{
	char *p = watched(4);

	ck_assert_int_eq(madvise(p, 2 * P, MADV_DONTNEED), 0);
	ck_assert(saw(p, p + 2 * P, WAIT_MS));
	p[2 * P] = 1;
	ck_assert_int_eq(madvise(p + 2 * P, 2 * P, MADV_FREE), 0);
	ck_assert(saw(p + 2 * P, p + 4 * P, WAIT_MS));
	ck_assert_int_eq(madvise(p, P, MADV_REMOVE), -1);
	ck_assert_int_eq(errno, EINVAL);
	munmap(p, 4 * P);
}
END_TEST

/* Nothing else in this process moves the break while this runs. */
START_TEST(brk_shrink_reported)
{
	char *cur = sbrk(0), *base;
	intptr_t pad = (intptr_t)((((uintptr_t)cur + P - 1) & ~(P - 1)) -
				  (uintptr_t)cur);

	ck_assert_ptr_ne(sbrk(pad + 16 * (intptr_t)P), (void *)-1);
	base = cur + pad;
	memset(base, 1, 16 * P);
	ck_assert_int_eq(watch(base, 16), 0);
	ck_assert_ptr_ne(sbrk(-8 * (intptr_t)P), (void *)-1);
	ck_assert(saw(base + 8 * P, base + 16 * P, WAIT_MS));
	ck_assert_ptr_ne(sbrk(-pad - 8 * (intptr_t)P), (void *)-1);
	ck_assert(saw(base, base + 8 * P, WAIT_MS));
}
END_TEST

/* The kernel refuses System V shm, so shmdt() never needs an event. */
START_TEST(sysv_shm_refused)
{
	int id = shmget(IPC_PRIVATE, 4 * P, IPC_CREAT | 0600);
	unsigned int n = nseen();
	char *p;

	ck_assert_int_ge(id, 0);
	p = shmat(id, NULL, 0);
	shmctl(id, IPC_RMID, NULL);
	ck_assert_ptr_ne(p, (void *)-1);
	memset(p, 1, 4 * P);
	ck_assert_int_lt(watch(p, 4), 0);
	ck_assert_int_eq(shmdt(p), 0);
	ck_assert(!more_than(n, QUIET_MS));
}
END_TEST

static void refused(void *p, size_t pages, int err)
{
	ck_assert_ptr_ne(p, MAP_FAILED);
	memset(p, 1, pages * P);
	ck_assert_int_eq(watch(p, pages), err);
	munmap(p, pages * P);
}

/* Written, not truncated: 9p (the lab's /tmp) cannot size an unlinked file. */
static void *map_file(int fd, int flags)
{
	static char zero[4 * 65536];

	ck_assert_int_ge(fd, 0);
	ck_assert_uint_le(4 * P, sizeof(zero));
	ck_assert_int_eq(pwrite(fd, zero, 4 * P, 0), (ssize_t)(4 * P));
	return mmap(NULL, 4 * P, PROT_READ | PROT_WRITE, flags, fd, 0);
}

/* Loops: PROCMAP_QUERY where the kernel has it, then the maps scan. */
START_TEST(unsupported_refused)
{
	char path[] = "/tmp/rmx-uffd-XXXXXX", *p;
	int fd = memfd_create("rmx-test", MFD_CLOEXEC);

	rmx__uffd_monitor_scan_maps(_i);

	/* The kernel takes these; their pages can go with no event here. */
	refused(mmap(NULL, 4 * P, PROT_READ | PROT_WRITE,
		     MAP_SHARED | MAP_ANONYMOUS, -1, 0), 4, -EOPNOTSUPP);
	refused(map_file(fd, MAP_SHARED), 4, -EOPNOTSUPP);
	refused(map_file(fd, MAP_PRIVATE), 4, -EOPNOTSUPP);
	close(fd);
	fd = mkstemp(path);
	unlink(path);
	refused(map_file(fd, MAP_PRIVATE), 4, -EOPNOTSUPP);
	close(fd);
	p = mmap(NULL, 2 << 20, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
	if (p != MAP_FAILED)
		refused(p, (2 << 20) / P, -EOPNOTSUPP);

	/* Mixed: anonymous, then shared. */
	p = map_anon(2);
	ck_assert_ptr_eq(mmap(p + P, P, PROT_READ | PROT_WRITE,
			      MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED, -1, 0),
			 p + P);
	ck_assert_int_eq(watch(p, 2), -EOPNOTSUPP);
	ck_assert_int_eq(watch(p, 1), 0);
	munmap(p, 2 * P);

	/* A hole, and bad ranges. */
	p = map_anon(3);
	munmap(p + P, P);
	ck_assert_int_eq(watch(p, 3), -EFAULT);
	ck_assert_int_eq(rmx__uffd_monitor_watch(M, (uintptr_t)p + 1,
						 (uintptr_t)p + P), -EINVAL);
	ck_assert_int_eq(rmx__uffd_monitor_watch(M, (uintptr_t)p,
						 (uintptr_t)p), -EINVAL);
	munmap(p, 3 * P);
}
END_TEST

START_TEST(unwatch_and_rewatch)
{
	char *p = watched(4);
	unsigned int n;

	ck_assert_int_eq(watch(p, 4), 0);	/* again: no change */
	rmx__uffd_monitor_unwatch(M, (uintptr_t)p, (uintptr_t)p + 2 * P);
	n = nseen();
	ck_assert_int_eq(munmap(p, 2 * P), 0);
	ck_assert(!more_than(n, QUIET_MS));
	ck_assert_int_eq(munmap(p + 2 * P, 2 * P), 0);
	ck_assert(saw(p + 2 * P, p + 4 * P, WAIT_MS));
	/* Gone already: ignored. */
	rmx__uffd_monitor_unwatch(M, (uintptr_t)p, (uintptr_t)p + 4 * P);
}
END_TEST

static bool wait_in_cb_by(struct rec *r)
{
	struct timespec t0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (!atomic_load(&r->in_cb) && ms_since(&t0) < WAIT_MS)
		usleep(1000);
	return atomic_load(&r->in_cb);
}

static bool wait_in_cb(void)
{
	return wait_in_cb_by(&R);
}

static void *touch(void *arg)
{
	volatile char *p = arg;
	size_t i;
	char sum = 0;

	/* Writes to even pages, reads of odd ones: both kinds of fault. */
	for (i = 0; i < 64; i++) {
		if (i % 2)
			sum += p[i * P];
		else
			p[i * P] = 1;
	}
	return (void *)(uintptr_t)sum;
}

START_TEST(faults_not_held)
{
	char *a = watched(1), *b = map_anon(64);

	ck_assert_int_eq(watch(b, 64), 0);
	atomic_store(&R.gated, true);
	ck_assert_int_eq(munmap(a, P), 0);
	ck_assert(wait_in_cb());
	/* The monitor thread is stuck in the callback: faults go on. */
	ck_assert_msg(finishes(touch, b, WAIT_MS), "a fault waited");
	ck_assert_uint_eq(nseen(), 0);
	sem_post(&R.gate);
	ck_assert(saw(a, a + P, WAIT_MS));
	munmap(b, 64 * P);
}
END_TEST

static void *open_gate(void *arg)
{
	usleep(50000);
	sem_post(&R.gate);
	return NULL;
}

START_TEST(sync_waits_for_callback)
{
	char *a = watched(1);
	pthread_t t;

	rmx__uffd_monitor_sync(M);	/* idle: returns at once */
	atomic_store(&R.gated, true);
	ck_assert_int_eq(munmap(a, P), 0);
	/* munmap() is let go when the event is read, before the callback. */
	ck_assert_uint_eq(nseen(), 0);
	ck_assert_int_eq(pthread_create(&t, NULL, open_gate, NULL), 0);
	rmx__uffd_monitor_sync(M);
	ck_assert_uint_eq(nseen(), 1);
	pthread_join(t, NULL);
}
END_TEST

#define ROUNDS 300

static pthread_mutex_t busy = PTHREAD_MUTEX_INITIALIZER;
static atomic_bool stop;
static struct rmx__uffd_monitor *rewatching;	/* the rewatcher's */

static void *unmapper(void *arg)
{
	char *p;
	int i;

	for (i = 0; i < ROUNDS; i++) {
		p = mmap(NULL, 4 * P, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			return (void *)1;
		p[0] = 1;
		if (watch(p, 4) || munmap(p, 4 * P))
			return (void *)1;
	}
	return NULL;
}

static void *holder(void *arg)
{
	while (!atomic_load(&stop)) {
		pthread_mutex_lock(&busy);
		usleep(100);
		pthread_mutex_unlock(&busy);
		sched_yield();
	}
	return NULL;
}

static void *rewatcher(void *arg)
{
	char *p = arg;

	while (!atomic_load(&stop)) {
		p[0] = 1;
		if (rmx__uffd_monitor_watch(rewatching, (uintptr_t)p,
					    (uintptr_t)p + 4 * P))
			return (void *)1;
		madvise(p, 4 * P, MADV_DONTNEED);
		rmx__uffd_monitor_unwatch(rewatching, (uintptr_t)p,
					  (uintptr_t)p + 4 * P);
	}
	return NULL;
}

/* Loops: the rewatcher is M, then a second subscriber whose callback
 * takes the busy lock too. */
START_TEST(concurrent_no_deadlock)
{
	char *p = map_anon(4);
	pthread_t h, w;

	rewatching = M;
	if (_i) {
		ck_assert_int_eq(rmx__uffd_monitor_create(on_inval, &R2, &M2),
				 0);
		rewatching = M2;
		atomic_store(&R2.also, &busy);
	}
	atomic_store(&R.also, &busy);
	ck_assert_int_eq(pthread_create(&h, NULL, holder, NULL), 0);
	ck_assert_int_eq(pthread_create(&w, NULL, rewatcher, p), 0);
	ck_assert_msg(finishes(unmapper, NULL, 10 * WAIT_MS), "deadlock");
	atomic_store(&stop, true);
	pthread_join(h, NULL);
	pthread_join(w, NULL);
	rmx__uffd_monitor_sync(M);
	ck_assert_uint_ge(nseen(), ROUNDS);
	munmap(p, 4 * P);
}
END_TEST

static bool reaped(pid_t pid, int *status)
{
	struct timespec t0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		if (waitpid(pid, status, WNOHANG) == pid)
			return true;
		usleep(1000);
	} while (ms_since(&t0) < WAIT_MS);
	kill(pid, SIGKILL);
	waitpid(pid, status, 0);
	return false;
}

/*
 * The child exited 0 and the parent heard nothing of it beyond its first
 * n events; the parent's monitor still watches p (4 pages).
 */
static void child_done(pid_t pid, unsigned int n, char *p)
{
	int status;

	ck_assert_msg(reaped(pid, &status), "child hung");
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 0);
	ck_assert(!more_than(n, QUIET_MS));
	ck_assert_int_eq(munmap(p, 4 * P), 0);
	ck_assert(saw(p, p + 4 * P, WAIT_MS));
}

START_TEST(fork_child_unregistered)
{
	char *p = watched(4);
	unsigned int n = nseen();
	pid_t pid;

	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (!pid) {
		/* Its copy of the monitor is inert; destroying it is safe. */
		if (watch(p, 4) != -EBADF)
			_exit(2);
		rmx__uffd_monitor_sync(M);
		rmx__uffd_monitor_destroy(M);
		_exit(munmap(p, 4 * P) ? 3 : 0);
	}
	child_done(pid, n, p);
}
END_TEST

static void *unmap4(void *p)
{
	munmap(p, 4 * P);
	return NULL;
}

/*
 * A child that still held the userfaultfd would keep the parent's
 * registrations alive after destroy(), and the parent's munmap() of one
 * would wait for a reader until the child exits.
 */
START_TEST(fork_child_outlives_destroy)
{
	char *p = watched(4), c;
	int fds[2], status;
	pid_t pid;

	ck_assert_int_eq(pipe(fds), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (!pid) {
		close(fds[1]);
		_exit(read(fds[0], &c, 1) < 0);
	}
	close(fds[0]);
	rmx__uffd_monitor_destroy(M);
	M = NULL;
	ck_assert_msg(finishes(unmap4, p, WAIT_MS), "munmap waited");
	close(fds[1]);
	ck_assert(reaped(pid, &status));
}
END_TEST

START_TEST(destroy_prompt)
{
	struct timespec t0;
	char *p = watched(4);

	ck_assert_int_eq(munmap(p, 4 * P), 0);
	ck_assert(saw(p, p + 4 * P, WAIT_MS));
	usleep(10000);	/* back in poll() */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rmx__uffd_monitor_destroy(M);
	M = NULL;
	ck_assert_int_lt(ms_since(&t0), 500);
}
END_TEST

static void *late_unmapper(void *p)
{
	munmap(p, 4 * P);
	return NULL;
}

/* arg: the subscription to destroy. */
static void *destroyer(void *arg)
{
	rmx__uffd_monitor_destroy(arg);
	return NULL;
}

/* An event nobody reads lets its unmapper go when the monitor closes. */
START_TEST(destroy_releases_unread)
{
	char *a = watched(1), *b = watched(4);
	struct timespec ts;
	pthread_t u, d;

	atomic_store(&R.gated, true);
	ck_assert_int_eq(munmap(a, P), 0);
	ck_assert(wait_in_cb());
	/* b's event waits behind the gated callback, unread. */
	ck_assert_int_eq(pthread_create(&u, NULL, late_unmapper, b), 0);
	usleep(50000);
	ck_assert_int_eq(pthread_create(&d, NULL, destroyer, M), 0);
	usleep(50000);
	sem_post(&R.gate);
	ts = deadline(CLOCK_REALTIME, WAIT_MS);
	ck_assert_int_eq(pthread_timedjoin_np(d, NULL, &ts), 0);
	M = NULL;
	ts = deadline(CLOCK_REALTIME, WAIT_MS);
	ck_assert_int_eq(pthread_timedjoin_np(u, NULL, &ts), 0);
}
END_TEST

/* Two subscribers: two contexts' caches in one process. */
static void subscribe2(void)
{
	ck_assert_int_eq(rmx__uffd_monitor_create(on_inval, &R2, &M2), 0);
}

static int watch_by(struct rmx__uffd_monitor *m, const void *p,
		    size_t pages)
{
	return rmx__uffd_monitor_watch(m, (uintptr_t)p,
				       (uintptr_t)p + pages * P);
}

static void unwatch_by(struct rmx__uffd_monitor *m, const void *p,
		       size_t pages)
{
	rmx__uffd_monitor_unwatch(m, (uintptr_t)p, (uintptr_t)p + pages * P);
}

/* Both watch the same pages (no -EBUSY) and both hear of a change. */
START_TEST(two_both_told)
{
	char *p = watched(4);

	subscribe2();
	ck_assert_int_eq(watch_by(M2, p, 4), 0);
	ck_assert_int_eq(munmap(p + P, 2 * P), 0);
	ck_assert(saw(p + P, p + 3 * P, WAIT_MS));
	ck_assert(saw_by(&R2, p + P, p + 3 * P, WAIT_MS));
	munmap(p, 4 * P);
}
END_TEST

/* M watches pages 0-3, M2 pages 2-5: M's unwatch leaves M2's 2-3. */
START_TEST(two_unwatch_keeps_other)
{
	char *p = map_anon(6);
	unsigned int n;

	memset(p, 1, 6 * P);
	subscribe2();
	ck_assert_int_eq(watch_by(M, p, 4), 0);
	ck_assert_int_eq(watch_by(M2, p + 2 * P, 4), 0);
	unwatch_by(M, p, 4);
	n = nseen();
	ck_assert_int_eq(munmap(p, 2 * P), 0);	/* nobody's */
	ck_assert(!more_than(n, QUIET_MS));
	ck_assert_int_eq(munmap(p + 2 * P, 2 * P), 0);
	ck_assert(saw_by(&R2, p + 2 * P, p + 4 * P, WAIT_MS));
	/* And M2's own unwatch drops the rest. */
	unwatch_by(M2, p + 4 * P, 2);
	n = nseen_by(&R2);
	ck_assert_int_eq(munmap(p + 4 * P, 2 * P), 0);
	ck_assert(!more_than_by(&R2, n, QUIET_MS));
}
END_TEST

/*
 * M2 unsubscribes: M keeps watching what both watched and M2 is told
 * nothing more; what M2 alone watched is watched no more.
 */
START_TEST(two_unsubscribe_keeps_other)
{
	char *p = watched(4), *q = map_anon(2);
	unsigned int n;

	memset(q, 1, 2 * P);
	subscribe2();
	ck_assert_int_eq(watch_by(M2, p, 4), 0);
	ck_assert_int_eq(watch_by(M2, q, 2), 0);
	rmx__uffd_monitor_destroy(M2);
	M2 = NULL;
	ck_assert_uint_eq(nseen_by(&R2), 0);
	ck_assert_int_eq(munmap(p, 4 * P), 0);
	ck_assert(saw(p, p + 4 * P, WAIT_MS));
	ck_assert_uint_eq(nseen_by(&R2), 0);
	n = nseen();
	ck_assert_int_eq(munmap(q, 2 * P), 0);
	ck_assert(!more_than(n, QUIET_MS));
}
END_TEST

/* The process's userfaultfds, and threads named name. */
static int count_fds(const char *target)
{
	char path[64], link[64];
	ssize_t len;
	int fd, n = 0;

	for (fd = 0; fd < 1024; fd++) {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		len = readlink(path, link, sizeof(link) - 1);
		if (len < 0)
			continue;
		link[len] = '\0';
		n += !strcmp(link, target);
	}
	return n;
}

static int count_threads(const char *name)
{
	char path[64], comm[32];
	int tid, n = 0, fd;
	ssize_t len;
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;

	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d))) {
		tid = atoi(e->d_name);
		if (tid <= 0)
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%d/comm", tid);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		len = read(fd, comm, sizeof(comm) - 1);
		close(fd);
		comm[len > 0 ? len : 0] = '\0';
		comm[strcspn(comm, "\n")] = '\0';
		n += !strcmp(comm, name);
	}
	closedir(d);
	return n;
}

#define UFFD_LINK "anon_inode:[userfaultfd]"

/* One fd and one thread for both; the last unsubscribe closes them. */
START_TEST(last_unsubscribe_closes)
{
	char *p;

	subscribe2();
	ck_assert_int_eq(count_fds(UFFD_LINK), 1);
	ck_assert_int_eq(count_threads("rmx-uffd"), 1);
	rmx__uffd_monitor_destroy(M2);
	M2 = NULL;
	ck_assert_int_eq(count_fds(UFFD_LINK), 1);
	ck_assert_int_eq(count_threads("rmx-uffd"), 1);
	rmx__uffd_monitor_destroy(M);
	M = NULL;
	ck_assert_int_eq(count_fds(UFFD_LINK), 0);
	ck_assert_int_eq(count_threads("rmx-uffd"), 0);
	/* A new first subscription starts it again. */
	ck_assert_int_eq(rmx__uffd_monitor_create(on_inval, &R, &M), 0);
	ck_assert_int_eq(count_fds(UFFD_LINK), 1);
	p = watched(2);
	ck_assert_int_eq(munmap(p, 2 * P), 0);
	ck_assert(saw(p, p + 2 * P, WAIT_MS));
}
END_TEST

/* M2's sync() waits for M's callback too: the batch is one. */
START_TEST(two_sync_waits_for_all)
{
	char *a = watched(1);
	pthread_t t;

	subscribe2();
	ck_assert_int_eq(watch_by(M2, a, 1), 0);
	atomic_store(&R.gated, true);
	ck_assert_int_eq(munmap(a, P), 0);
	ck_assert(wait_in_cb());
	ck_assert_uint_eq(nseen(), 0);
	ck_assert_int_eq(pthread_create(&t, NULL, open_gate, NULL), 0);
	rmx__uffd_monitor_sync(M2);
	ck_assert_uint_eq(nseen(), 1);
	ck_assert_uint_eq(nseen_by(&R2), 1);
	pthread_join(t, NULL);
}
END_TEST

/* Unsubscribing waits for the callback in progress; none comes after. */
START_TEST(unsubscribe_waits_for_batch)
{
	char *a = watched(1), *b = watched(1);
	struct timespec ts;
	pthread_t t;

	subscribe2();
	atomic_store(&R2.gated, true);
	ck_assert_int_eq(munmap(a, P), 0);
	ck_assert(wait_in_cb_by(&R2));
	ck_assert_int_eq(pthread_create(&t, NULL, destroyer, M2), 0);
	usleep(100000);
	ck_assert_int_eq(pthread_tryjoin_np(t, NULL), EBUSY);
	sem_post(&R2.gate);
	ts = deadline(CLOCK_REALTIME, WAIT_MS);
	ck_assert_int_eq(pthread_timedjoin_np(t, NULL, &ts), 0);
	M2 = NULL;
	ck_assert_uint_eq(nseen_by(&R2), 1);
	ck_assert_int_eq(munmap(b, P), 0);
	ck_assert(saw(b, b + P, WAIT_MS));
	ck_assert_uint_eq(nseen_by(&R2), 1);
}
END_TEST

/*
 * A child's subscriptions are inert; its first new one starts a monitor
 * of its own, which may watch what the parent's watches.
 */
START_TEST(fork_child_starts_own)
{
	char *p = watched(4), *w = watched(1);
	struct rmx__uffd_monitor *mine;
	unsigned int n;
	pid_t pid;
	char *q;

	/*
	 * The parent's thread is past its start before the fork: ASan's
	 * allocator (gcc 12), unlike glibc's, may stay locked in a child
	 * forked while another thread is inside it.
	 */
	ck_assert_int_eq(munmap(w, P), 0);
	ck_assert(saw(w, w + P, WAIT_MS));
	n = nseen();
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (!pid) {
		if (watch(p, 4) != -EBADF)
			_exit(2);
		if (rmx__uffd_monitor_create(on_inval, &R2, &mine))
			_exit(3);
		if (count_fds(UFFD_LINK) != 1)
			_exit(4);
		q = mmap(NULL, 2 * P, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (q == MAP_FAILED)
			_exit(5);
		q[0] = 1;
		if (watch_by(mine, q, 2) || watch_by(mine, p, 4))
			_exit(6);
		munmap(q, 2 * P);
		if (!saw_by(&R2, q, q + 2 * P, WAIT_MS))
			_exit(7);
		rmx__uffd_monitor_destroy(M);
		rmx__uffd_monitor_destroy(mine);
		_exit(count_fds(UFFD_LINK) ? 8 : 0);
	}
	child_done(pid, n, p);
}
END_TEST

/* Makes the userfaultfd syscall fail with err, for this process. */
static void deny_userfaultfd(int err)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
			 offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_userfaultfd, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (unsigned)err),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { .len = sizeof(f) / sizeof(f[0]),
				   .filter = f };

	ck_assert_int_eq(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), 0);
	ck_assert_int_eq(prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog), 0);
	ck_assert_int_eq(syscall(__NR_userfaultfd, O_CLOEXEC), -1);
	ck_assert_int_eq(errno, err);
}

/* Hides /dev/userfaultfd from this process; false where we may not. */
static bool hide_device(void)
{
	if (unshare(CLONE_NEWNS) ||
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL))
		return false;
	return !mount("/dev/null", "/dev/userfaultfd", NULL, MS_BIND, NULL);
}

/*
 * seccomp refuses the syscall: /dev/userfaultfd, if open to us, serves;
 * if not, the syscall's error comes back. Loops: EPERM, ENOSYS, then the
 * same with the device hidden.
 */
START_TEST(syscall_refused)
{
	static const int errs[] = { EPERM, ENOSYS };
	struct rmx__uffd_monitor *m2;
	int err = errs[_i % 2], ret;
	char *p;

	/* Unforked, the filter would stay for the tests after this one. */
	if (getenv("CK_FORK") && !strcmp(getenv("CK_FORK"), "no"))
		rmx_test_skip("CK_FORK=no: the seccomp filter would outlive the test");
	if (_i >= 2 && !hide_device())
		rmx_test_skip("case %d: cannot hide /dev/userfaultfd here (a private mount namespace: %s)",
			      _i, strerror(errno));
	/* Only the first subscription opens a userfaultfd. */
	rmx__uffd_monitor_destroy(M);
	M = NULL;
	deny_userfaultfd(err);
	ret = rmx__uffd_monitor_create(on_inval, &R, &m2);
	if (_i >= 2 || access("/dev/userfaultfd", R_OK | W_OK)) {
		ck_assert_int_eq(ret, -err);
		return;
	}
	ck_assert_int_eq(ret, 0);
	p = map_anon(2);
	p[0] = 1;
	ck_assert_int_eq(rmx__uffd_monitor_watch(m2, (uintptr_t)p,
						 (uintptr_t)p + 2 * P), 0);
	munmap(p, 2 * P);
	ck_assert(saw(p, p + 2 * P, WAIT_MS));
	rmx__uffd_monitor_destroy(m2);
}
END_TEST

Suite *test_suite(void)
{
	Suite *s = suite_create("monitor_uffd");
	TCase *tc = tcase_create("monitor_uffd");
	TCase *refused = tcase_create("refused");

	/* Each test starts the process's monitor and stops it after. */
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_checked_fixture(refused, setup, teardown);
	tcase_set_timeout(refused, 30);
	/* Needs a fork and a mount namespace: may skip (check_main.h). */
	tcase_set_tags(refused, "may_skip");
	tcase_add_loop_test(refused, syscall_refused, 0, 4);
	tcase_add_test(tc, munmap_reported);
	tcase_add_test(tc, map_fixed_over_reported);
	tcase_add_test(tc, mremap_reported);
	tcase_add_test(tc, madvise_reported);
	tcase_add_test(tc, brk_shrink_reported);
	tcase_add_test(tc, sysv_shm_refused);
	tcase_add_loop_test(tc, unsupported_refused, 0, 2);
	tcase_add_test(tc, unwatch_and_rewatch);
	tcase_add_test(tc, faults_not_held);
	tcase_add_test(tc, sync_waits_for_callback);
	tcase_add_loop_test(tc, concurrent_no_deadlock, 0, 2);
	tcase_add_test(tc, fork_child_unregistered);
	tcase_add_test(tc, fork_child_outlives_destroy);
	tcase_add_test(tc, destroy_prompt);
	tcase_add_test(tc, destroy_releases_unread);
	tcase_add_test(tc, two_both_told);
	tcase_add_test(tc, two_unwatch_keeps_other);
	tcase_add_test(tc, two_unsubscribe_keeps_other);
	tcase_add_test(tc, last_unsubscribe_closes);
	tcase_add_test(tc, two_sync_waits_for_all);
	tcase_add_test(tc, unsubscribe_waits_for_batch);
	tcase_add_test(tc, fork_child_starts_own);
	suite_add_tcase(s, tc);
	suite_add_tcase(s, refused);
	return s;
}
