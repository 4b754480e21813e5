// SPDX-License-Identifier: BSD-2-Clause
/* Public RPC calls: check, then hand to proto. */
#include <errno.h>

#include <rmx/rmx.h>

#include "api/context.h"
#include "core/log.h"

int rmx_rpc_register(rmx_context_t *ctx, uint16_t rpc_id,
		     rmx_rpc_handler handler, void *arg)
{
	RMX__CHECK(ctx, "ctx is NULL");
	return rmx__rpc_register(&ctx->proto, rpc_id, handler, arg);
}

int rmx_rpc_call(rmx_ep_t *ep, uint16_t rpc_id, const void *req, size_t len,
		 const struct rmx_rpc_params *params, rmx_rpc_cb cb, void *arg,
		 uint64_t *call_id)
{
	RMX__CHECK(ep, "ep is NULL");
	RMX__CHECK(cb, "completion callback is NULL");
	RMX__CHECK(req || !len, "req is NULL");
	if (params) {
		RMX__CHECK(params->timeout_ms >= 0, "timeout_ms < 0");
		RMX__CHECK(params->resp_buf || !params->resp_cap,
			   "resp_cap without resp_buf");
	}
	return rmx__rpc_call(ep, rpc_id, req, len, params, cb, arg, call_id);
}

int rmx_rpc_cancel(rmx_ep_t *ep, uint64_t call_id)
{
	RMX__CHECK(ep, "ep is NULL");
	return rmx__rpc_cancel(ep, call_id);
}

int rmx_rpc_respond(rmx_rpc_req_t *req, int status, const void *resp,
		    size_t len, rmx_comp_cb cb, void *arg)
{
	RMX__CHECK(req, "req is NULL");
	if (status > 0 || status < -4095 || (!resp && len && !status)) {
		/* Still answered: the caller must not wait forever. */
		rmx__rpc_respond(req, -EINVAL, NULL, 0, NULL, NULL);
		return rmx__bad_arg(__func__,
				    "status is not 0 or a negative errno, or resp is NULL");
	}
	return rmx__rpc_respond(req, status, resp, len, cb, arg);
}

rmx_ep_t *rmx_rpc_req_ep(const rmx_rpc_req_t *req)
{
	struct rmx_ep *ep;

	if (!req)
		return NULL;
	ep = rmx__ep_lookup(req->p, req->ep_id);
	return ep && ep->state != RMX_EP_CLOSED ? ep : NULL;
}
