// SPDX-License-Identifier: BSD-2-Clause
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include <rmx/rmx.h>

#include "api/context.h"
#include "core/log.h"

#define STR2(x) #x
#define STR(x) STR2(x)

const char *rmx_version(int *major, int *minor, int *patch)
{
	if (major)
		*major = RMX_VERSION_MAJOR;
	if (minor)
		*minor = RMX_VERSION_MINOR;
	if (patch)
		*patch = RMX_VERSION_PATCH;
	return STR(RMX_VERSION_MAJOR) "." STR(RMX_VERSION_MINOR) "." STR(
		RMX_VERSION_PATCH);
}

int rmx__bad_arg(const char *func, const char *what)
{
	rmx__err("%s: invalid argument: %s", func, what);
	return -EINVAL;
}

int rmx_context_create(rmx_context_t **out)
{
	struct rmx_context *ctx;
	int ret;

	RMX__CHECK(out, "ctx is NULL");
	*out = NULL;
	ctx = calloc(1, sizeof(*ctx));
	if (!ctx)
		return -ENOMEM;
	ret = rmx__config_load(&ctx->cfg, NULL);
	if (ret)
		goto err;
	rmx__log_init();
	ret = rmx__loop_init(&ctx->loop);
	if (ret)
		goto err;
	ret = rmx__tp_open(ctx->cfg.transport, &ctx->loop, &rmx__proto_upcalls,
			   &ctx->proto, &ctx->tp);
	if (ret)
		goto err_loop;
	rmx__list_init(&ctx->mems);
	ret = rmx__mem_init(&ctx->mem, ctx->tp, &ctx->cfg);
	if (ret)
		goto err_tp;
	ret = rmx__proto_init(&ctx->proto, &ctx->cfg, &ctx->loop, ctx->tp,
			      &ctx->mem);
	if (ret) {
		rmx__proto_fini(&ctx->proto);
		rmx__mem_fini(&ctx->mem);
		goto err_tp;
	}
	/* The RPC layer sits on the core and attaches to it. */
	rmx__rpc_attach(&ctx->proto);
	*out = ctx;
	return 0;
err_tp:
	ctx->tp->ops->close(ctx->tp);
err_loop:
	rmx__loop_fini(&ctx->loop);
err:
	free(ctx);
	return ret;
}

/*
 * RMX_STATS: what is pinned as the context goes, and why, before it is
 * released: endpoints the application left open, registrations it never
 * deregistered, and what the cache keeps (idle, for reuse) or lends to
 * operations still pending.
 */
static void print_pinned(struct rmx_context *ctx)
{
	uint64_t rx_bytes, tx_bytes, user_bytes, idle_bytes;
	struct rmx__rcache_stats s;
	size_t eps, users, idle;

	rmx__proto_pinned(&ctx->proto, &eps, &rx_bytes, &tx_bytes);
	rmx__api_mem_pinned(ctx, &users, &user_bytes);
	rmx__mem_idle(&ctx->mem, &idle, &idle_bytes);
	rmx__mem_stats(&ctx->mem, &s);
	fprintf(stderr,
		"rmx stats: pinned at destroy: %llu bytes: %llu in the message buffers %zu endpoints still open share (%llu receive, %llu send), %llu in %zu rmx_mem_reg() regions not deregistered, %llu cached (%llu in %zu idle regions kept for reuse, %llu held by pending operations)\n",
		(unsigned long long)(rx_bytes + tx_bytes + user_bytes +
				     s.bytes_pinned),
		(unsigned long long)(rx_bytes + tx_bytes), eps,
		(unsigned long long)rx_bytes, (unsigned long long)tx_bytes,
		(unsigned long long)user_bytes, users,
		(unsigned long long)s.bytes_pinned,
		(unsigned long long)idle_bytes, idle,
		(unsigned long long)(s.bytes_pinned - idle_bytes));
}

static void print_stats(struct rmx_context *ctx)
{
	struct rmx_rcache_stats s;
	const char *why;

	rmx_rcache_mode(ctx, &why);
	rmx_rcache_stats(ctx, &s);
	fprintf(stderr,
		"rmx stats: rcache %s: gets %llu hits %llu misses %llu merges %llu evictions %llu invalidation events %llu regions invalidated %llu registrations %llu deregistrations %llu pinned now %llu peak %llu bytes\n",
		why, (unsigned long long)s.gets, (unsigned long long)s.hits,
		(unsigned long long)s.misses, (unsigned long long)s.merges,
		(unsigned long long)s.evictions,
		(unsigned long long)s.invalidation_events,
		(unsigned long long)s.regions_invalidated,
		(unsigned long long)s.registrations,
		(unsigned long long)s.deregistrations,
		(unsigned long long)s.bytes_pinned,
		(unsigned long long)s.bytes_pinned_peak);
}

void rmx_context_destroy(rmx_context_t *ctx)
{
	if (!ctx)
		return;
	if (ctx->cfg.stats)
		print_pinned(ctx);
	rmx__proto_fini(&ctx->proto);
	rmx__api_mem_release_all(ctx);
	if (ctx->cfg.stats)
		print_stats(ctx);
	rmx__mem_fini(&ctx->mem);
	ctx->tp->ops->close(ctx->tp);
	rmx__loop_fini(&ctx->loop);
	free(ctx);
}

int rmx_rcache_stats(rmx_context_t *ctx, struct rmx_rcache_stats *out)
{
	struct rmx__rcache_stats s;

	RMX__CHECK(ctx && out, "NULL ctx or out");
	rmx__mem_stats(&ctx->mem, &s);
	out->gets = s.gets;
	out->hits = s.hits;
	out->misses = s.misses;
	out->merges = s.merges;
	out->evictions = s.evictions;
	out->invalidation_events = s.invalidation_events;
	out->regions_invalidated = s.regions_invalidated;
	out->registrations = s.registrations;
	out->deregistrations = s.deregistrations;
	out->bytes_pinned = s.bytes_pinned;
	out->bytes_pinned_peak = s.bytes_pinned_peak;
	return 0;
}

const char *rmx_context_device(const rmx_context_t *ctx)
{
	if (!ctx) {
		rmx__bad_arg(__func__, "ctx is NULL");
		return NULL;
	}
	return ctx->tp->ops->device_name(ctx->tp);
}

int rmx_progress(rmx_context_t *ctx)
{
	RMX__CHECK(ctx, "ctx is NULL");
	return rmx__proto_progress(&ctx->proto);
}

int rmx_context_fd(rmx_context_t *ctx)
{
	RMX__CHECK(ctx, "ctx is NULL");
	return rmx__loop_fd(&ctx->loop);
}

int rmx_arm(rmx_context_t *ctx)
{
	RMX__CHECK(ctx, "ctx is NULL");
	return rmx__proto_arm(&ctx->proto);
}

int rmx_wait(rmx_context_t *ctx, int timeout_ms)
{
	RMX__CHECK(ctx, "ctx is NULL");
	RMX__CHECK(timeout_ms >= -1, "timeout_ms < -1");
	return rmx__proto_wait(&ctx->proto, timeout_ms);
}

int rmx_rcache_mode(rmx_context_t *ctx, const char **why)
{
	const struct rmx__mem_plan *plan;

	RMX__CHECK(ctx, "NULL ctx");
	plan = &ctx->mem.plan;
	if (why)
		*why = plan->why;
	if (plan->implicit)
		return RMX_RCACHE_ODP_IMPLICIT;
	if (!plan->cache)
		return RMX_RCACHE_OFF;
	switch (plan->monitor) {
	case RMX__MONITOR_UFFD:
		return RMX_RCACHE_UFFD;
	case RMX__MONITOR_ODP:
		return RMX_RCACHE_ODP;
	default:
		return RMX_RCACHE_UNWATCHED;
	}
}
