// SPDX-License-Identifier: BSD-2-Clause
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "mem/check.h"

#define PAGE 4096u
#define PM_PRESENT (1ull << 63)
#define PM_PFN_MASK ((1ull << 55) - 1)

struct snap {
	struct rmx__list link;
	const void *key;
	uintptr_t start, end;
	uint64_t frames[];	/* one per page */
};

static int read_frames(int fd, uintptr_t start, uintptr_t end, uint64_t *out)
{
	size_t n = (end - start) / PAGE, i;
	ssize_t got = pread(fd, out, n * 8, (off_t)(start / PAGE * 8));

	if (got != (ssize_t)(n * 8))
		return got < 0 ? -errno : -EIO;
	for (i = 0; i < n; i++)
		out[i] = out[i] & PM_PRESENT ? out[i] & PM_PFN_MASK : 0;
	return 0;
}

int rmx__frame_check_init(struct rmx__frame_check *fc)
{
	uint64_t pfn = 0;
	static uint64_t probe = 1;	/* touched: present */
	int ret;

	rmx__list_init(&fc->snaps);
	pthread_mutex_init(&fc->lock, NULL);
	fc->pagemap_fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (fc->pagemap_fd < 0)
		return -errno;
	probe++;
	ret = read_frames(fc->pagemap_fd, (uintptr_t)&probe & ~(uintptr_t)(PAGE - 1),
			  ((uintptr_t)&probe & ~(uintptr_t)(PAGE - 1)) + PAGE,
			  &pfn);
	if (!ret && !pfn)
		ret = -EPERM;	/* the kernel hides frame numbers */
	if (ret) {
		close(fc->pagemap_fd);
		fc->pagemap_fd = -1;
	}
	return ret;
}

void rmx__frame_check_fini(struct rmx__frame_check *fc)
{
	struct rmx__list *n;

	while ((n = rmx__list_pop(&fc->snaps)))
		free(rmx__container_of(n, struct snap, link));
	if (fc->pagemap_fd >= 0)
		close(fc->pagemap_fd);
	pthread_mutex_destroy(&fc->lock);
}

int rmx__frame_check_record(struct rmx__frame_check *fc, const void *key,
			    uintptr_t start, uintptr_t end)
{
	struct snap *s = malloc(sizeof(*s) + (end - start) / PAGE * 8);
	int ret;

	if (!s)
		return -ENOMEM;
	s->key = key;
	s->start = start;
	s->end = end;
	ret = read_frames(fc->pagemap_fd, start, end, s->frames);
	if (ret) {
		free(s);
		return ret;
	}
	pthread_mutex_lock(&fc->lock);
	rmx__list_add_tail(&fc->snaps, &s->link);
	pthread_mutex_unlock(&fc->lock);
	return 0;
}

static struct snap *find(struct rmx__frame_check *fc, const void *key)
{
	struct rmx__list *n;

	for (n = fc->snaps.next; n != &fc->snaps; n = n->next) {
		struct snap *s = rmx__container_of(n, struct snap, link);

		if (s->key == key)
			return s;
	}
	return NULL;
}

void rmx__frame_check_forget(struct rmx__frame_check *fc, const void *key)
{
	struct snap *s;

	pthread_mutex_lock(&fc->lock);
	s = find(fc, key);
	if (s)
		rmx__list_del(&s->link);
	pthread_mutex_unlock(&fc->lock);
	free(s);
}

int rmx__frame_check_verify(struct rmx__frame_check *fc, const void *key,
			    uintptr_t start, uintptr_t end)
{
	uint64_t now[64];
	uintptr_t a;
	struct snap *s;
	int ret = 0;

	pthread_mutex_lock(&fc->lock);
	s = find(fc, key);
	for (a = start; s && !ret && a < end; a += sizeof(now) / 8 * PAGE) {
		uintptr_t b = end - a < sizeof(now) / 8 * PAGE ?
				      end : a + sizeof(now) / 8 * PAGE;
		size_t i, base = (a - s->start) / PAGE;

		ret = read_frames(fc->pagemap_fd, a, b, now);
		for (i = 0; !ret && i < (b - a) / PAGE; i++) {
			if (now[i] != s->frames[base + i]) {
				rmx__err("RMX_RCACHE_CHECK: page %#lx maps frame %#llx, the cached registration pinned %#llx: stale registration",
					 (unsigned long)(a + i * PAGE),
					 (unsigned long long)now[i],
					 (unsigned long long)s->frames[base + i]);
				ret = -ESTALE;
			}
		}
	}
	pthread_mutex_unlock(&fc->lock);
	return ret;
}
