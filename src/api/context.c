// SPDX-License-Identifier: BSD-2-Clause
#include <errno.h>
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
	ret = rmx__tp_open("verbs", &ctx->cfg, &rmx__proto_upcalls,
			   &ctx->proto, &ctx->tp);
	if (ret)
		goto err;
	rmx__mem_init(&ctx->mem, ctx->tp);
	rmx__list_init(&ctx->mems);
	ret = rmx__proto_init(&ctx->proto, &ctx->cfg, ctx->tp, &ctx->mem);
	if (ret) {
		rmx__proto_fini(&ctx->proto);
		ctx->tp->ops->close(ctx->tp);
		goto err;
	}
	*out = ctx;
	return 0;
err:
	free(ctx);
	return ret;
}

void rmx_context_destroy(rmx_context_t *ctx)
{
	if (!ctx)
		return;
	rmx__proto_fini(&ctx->proto);
	rmx__api_mem_release_all(ctx);
	ctx->tp->ops->close(ctx->tp);
	free(ctx);
}

int rmx_progress(rmx_context_t *ctx)
{
	RMX__CHECK(ctx, "ctx is NULL");
	return rmx__proto_progress(&ctx->proto);
}

int rmx_context_fd(rmx_context_t *ctx)
{
	RMX__CHECK(ctx, "ctx is NULL");
	return ctx->tp->ops->fd(ctx->tp);
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
