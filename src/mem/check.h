/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * RMX_RCACHE_CHECK: remembers which physical frames each registration
 * pinned and verifies, whenever the cache hands it out again, that the
 * virtual range still maps them. A debugging aid for invalidation bugs.
 */
#ifndef RMX_MEM_CHECK_H
#define RMX_MEM_CHECK_H

#include <pthread.h>
#include <stdint.h>

#include "core/list.h"

struct rmx__frame_check {
	pthread_mutex_t lock;
	struct rmx__list snaps;
	int pagemap_fd;
};

/* -EPERM when frame numbers are hidden (no CAP_SYS_ADMIN). */
int rmx__frame_check_init(struct rmx__frame_check *fc);
void rmx__frame_check_fini(struct rmx__frame_check *fc);

/* Records the frames behind [start, end) for registration `key`. */
int rmx__frame_check_record(struct rmx__frame_check *fc, const void *key,
			    uintptr_t start, uintptr_t end);
void rmx__frame_check_forget(struct rmx__frame_check *fc, const void *key);

/* 0, or -ESTALE (logged) when [start, end) no longer maps what `key` pinned. */
int rmx__frame_check_verify(struct rmx__frame_check *fc, const void *key,
			    uintptr_t start, uintptr_t end);

#endif
