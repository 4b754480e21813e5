// SPDX-License-Identifier: BSD-2-Clause
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include <rmx/rmx.h>

#include "core/log.h"
#include "mem/monitor_uffd.h"
#include "mem/reg.h"

#define PAGE 4096u

static unsigned int extra_access(const struct rmx__mem *mem)
{
	return mem->plan.on_demand ? RMX__TP_ON_DEMAND : 0;
}

/* The cache's backend: the transport, plus the frame check when on. */
static int backend_reg(void *ctx, void *addr, size_t len, unsigned int access,
		       void **handle)
{
	struct rmx__mem *mem = ctx;
	struct rmx__tp_mr *mr;
	int ret;

	ret = mem->tp->ops->mr_reg(mem->tp, addr, len,
				   access | extra_access(mem), &mr);
	if (ret)
		return ret;
	if (mem->checking) {
		ret = rmx__frame_check_record(&mem->check, mr, (uintptr_t)addr,
					      (uintptr_t)addr + len);
		if (ret) {
			mem->tp->ops->mr_dereg(mr);
			return ret;
		}
	}
	*handle = mr;
	return 0;
}

static int backend_dereg(void *ctx, void *handle)
{
	struct rmx__mem *mem = ctx;

	if (mem->checking)
		rmx__frame_check_forget(&mem->check, handle);
	return mem->tp->ops->mr_dereg(handle);
}

static int monitor_watch(void *ctx, uintptr_t start, uintptr_t end)
{
	return rmx__uffd_monitor_watch(ctx, start, end);
}

static void monitor_unwatch(void *ctx, uintptr_t start, uintptr_t end)
{
	rmx__uffd_monitor_unwatch(ctx, start, end);
}

/*
 * The monitor is the process's: other contexts' events come before this
 * one's cache exists (it subscribes first), and concern nothing here.
 */
static void on_invalidate(void *arg, uintptr_t start, uintptr_t end)
{
	struct rmx__mem *mem = arg;
	struct rmx__rcache *rc = __atomic_load_n(&mem->rc, __ATOMIC_ACQUIRE);

	if (rc)
		rmx__rcache_invalidate(rc, start, end);
}

static int setup_implicit(struct rmx__mem *mem)
{
	struct rmx__tp_mr *mr;
	int ret;

	ret = mem->tp->ops->mr_reg(mem->tp, NULL, SIZE_MAX,
				   RMX__TP_LOCAL_WRITE | RMX__TP_ON_DEMAND, &mr);
	if (ret)
		return ret;
	mem->implicit.start = 0;
	mem->implicit.end = UINTPTR_MAX;
	mem->implicit.access = RMX__TP_LOCAL_WRITE;
	mem->implicit.handle = mr;
	return 0;
}

static int setup_cache(struct rmx__mem *mem, const struct rmx__config *cfg)
{
	struct rmx__rcache_config rcfg = { .enabled = mem->plan.cache };
	struct rmx__rcache_backend be = { .reg = backend_reg,
					  .dereg = backend_dereg,
					  .ctx = mem };
	struct rmx__rcache_monitor mon = { .watch = monitor_watch,
					   .unwatch = monitor_unwatch,
					   .ctx = mem->mon };
	struct rmx__rcache *rc;
	int ret;

	rmx__rcache_default_limits(&rcfg.max_regions, &rcfg.max_bytes);
	if (cfg->rcache_max_regions)
		rcfg.max_regions = cfg->rcache_max_regions;
	if (cfg->rcache_max_bytes)
		rcfg.max_bytes = cfg->rcache_max_bytes;
	ret = rmx__rcache_create(&rcfg, &be, mem->mon ? &mon : NULL, &rc);
	/* The monitor thread may look already: publish it whole. */
	if (!ret)
		__atomic_store_n(&mem->rc, rc, __ATOMIC_RELEASE);
	return ret;
}

int rmx__mem_init(struct rmx__mem *mem, struct rmx__tp *tp,
		  const struct rmx__config *cfg)
{
	int uffd_status = -ENOSYS, ret;

	memset(mem, 0, sizeof(*mem));
	mem->tp = tp;
	/* Subscribes to the process's monitor (starting it if first). */
	if (rmx__mem_plan_wants_uffd(cfg, tp->caps))
		uffd_status = rmx__uffd_monitor_create(on_invalidate, mem,
						       &mem->mon);
	ret = rmx__mem_plan(cfg, tp->caps, tp->odp_refused, uffd_status,
			    &mem->plan);
	if (!ret && mem->mon && mem->plan.monitor != RMX__MONITOR_UFFD) {
		rmx__uffd_monitor_destroy(mem->mon);
		mem->mon = NULL;
	}
	if (!ret && cfg->rcache_check) {
		ret = rmx__frame_check_init(&mem->check);
		if (ret)
			rmx__err("RMX_RCACHE_CHECK=1 needs /proc/self/pagemap frame numbers (CAP_SYS_ADMIN): %s",
				 rmx_strerror(ret));
		mem->checking = !ret;
	}
	if (!ret)
		ret = mem->plan.implicit ? setup_implicit(mem) :
					   setup_cache(mem, cfg);
	if (ret)
		rmx__mem_fini(mem);
	return ret;
}

void rmx__mem_fini(struct rmx__mem *mem)
{
	/* The monitor calls into the cache: unsubscribe first. */
	if (mem->mon)
		rmx__uffd_monitor_destroy(mem->mon);
	mem->mon = NULL;
	if (mem->rc)
		rmx__rcache_destroy(mem->rc);
	mem->rc = NULL;
	if (mem->implicit.handle)
		mem->tp->ops->mr_dereg(mem->implicit.handle);
	mem->implicit.handle = NULL;
	if (mem->checking)
		rmx__frame_check_fini(&mem->check);
	mem->checking = false;
}

int rmx__mem_get(struct rmx__mem *mem, void *addr, size_t len,
		 unsigned int access, struct rmx__region **out)
{
	uintptr_t start, end;
	int ret;

	if (mem->implicit.handle) {
		*out = &mem->implicit;
		return 0;
	}
	/*
	 * munmap() returns once the monitor read its event, maybe before the
	 * cache heard of it: wait for the batch in hand (no lock held).
	 */
	if (mem->mon)
		rmx__uffd_monitor_sync(mem->mon);
	ret = rmx__rcache_get(mem->rc, addr, len, access, out);
	if (ret || !mem->checking)
		return ret;
	start = (uintptr_t)addr & ~(uintptr_t)(PAGE - 1);
	end = ((uintptr_t)addr + len + PAGE - 1) & ~(uintptr_t)(PAGE - 1);
	ret = rmx__frame_check_verify(&mem->check, (*out)->handle, start, end);
	if (ret) {
		rmx__rcache_put(mem->rc, *out);
		*out = NULL;
	}
	return ret;
}

void rmx__mem_put(struct rmx__mem *mem, struct rmx__region *region)
{
	if (region && region != &mem->implicit)
		rmx__rcache_put(mem->rc, region);
}

int rmx__mem_reg_exact(struct rmx__mem *mem, void *addr, size_t len,
		       unsigned int access, struct rmx__tp_mr **out)
{
	int ret = mem->tp->ops->mr_reg(mem->tp, addr, len,
				       access | extra_access(mem), out);

	if ((ret == -ENOMEM || ret == -EAGAIN) && mem->rc) {
		rmx__rcache_evict_idle(mem->rc);
		ret = mem->tp->ops->mr_reg(mem->tp, addr, len,
					   access | extra_access(mem), out);
	}
	return ret;
}

int rmx__mem_dereg_exact(struct rmx__mem *mem, struct rmx__tp_mr *mr)
{
	return mem->tp->ops->mr_dereg(mr);
}

void rmx__mem_idle(struct rmx__mem *mem, size_t *regions, uint64_t *bytes)
{
	*regions = 0;
	*bytes = 0;
	if (mem->rc)
		rmx__rcache_idle(mem->rc, regions, bytes);
}

void rmx__mem_stats(struct rmx__mem *mem, struct rmx__rcache_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (mem->rc)
		rmx__rcache_stats(mem->rc, out);
}
