// SPDX-License-Identifier: BSD-2-Clause
/* Public connection and messaging calls: check, then hand to proto. */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include <rmx/rmx.h>

#include "api/context.h"
#include "core/addr.h"
#include "core/log.h"

int rmx_listen(rmx_context_t *ctx, const char *addr, rmx_accept_cb cb,
	       void *arg, rmx_listener_t **out)
{
	struct sockaddr_storage ss;
	int ret;

	RMX__CHECK(ctx && addr && out, "NULL ctx, addr or out");
	RMX__CHECK(cb, "accept callback is NULL");
	ret = rmx__addr_parse(addr, &ss);
	if (ret)
		return ret;
	return rmx__listen(&ctx->proto, (struct sockaddr *)&ss, cb, arg, out);
}

int rmx_listener_port(const rmx_listener_t *l)
{
	RMX__CHECK(l, "listener is NULL");
	return l->p->tp->ops->listener_port(l->tpl);
}

void rmx_listener_destroy(rmx_listener_t *l)
{
	if (l)
		rmx__listener_destroy(l);
}

int rmx_connect(rmx_context_t *ctx, const char *addr,
		const struct rmx_ep_params *params, rmx_ep_t **out)
{
	struct sockaddr_storage ss, src;
	bool has_src = params && params->src_addr;
	int ret;

	RMX__CHECK(ctx && addr && out, "NULL ctx, addr or out");
	RMX__CHECK(!params || params->timeout_ms >= 0, "timeout_ms < 0");
	RMX__CHECK(!params || !params->connect_data_len ||
		   params->connect_data, "connect_data NULL with a length");
	ret = rmx__addr_parse(addr, &ss);
	if (!ret && has_src)
		ret = rmx__addr_parse_src(params->src_addr, &src);
	if (ret)
		return ret;
	RMX__CHECK(!has_src || src.ss_family == ss.ss_family,
		   "src_addr and addr are of different address families");
	return rmx__connect(&ctx->proto, has_src ? (struct sockaddr *)&src : NULL,
			    (struct sockaddr *)&ss, params, out);
}

int rmx_ep_peer_data(const rmx_ep_t *ep, const void **data, size_t *len)
{
	RMX__CHECK(ep && data && len, "NULL ep, data or len");
	*data = ep->peer_data;
	*len = ep->peer_data_len;
	return 0;
}

int rmx_ep_set_event_cb(rmx_ep_t *ep, rmx_ep_event_cb cb, void *arg)
{
	RMX__CHECK(ep, "ep is NULL");
	ep->event_cb = cb;
	ep->event_arg = arg;
	return 0;
}

enum rmx_ep_state rmx_ep_state(const rmx_ep_t *ep)
{
	return ep ? ep->state : RMX_EP_CLOSED;
}

int rmx_ep_error(const rmx_ep_t *ep)
{
	return ep ? ep->error : -EINVAL;
}

void rmx_ep_destroy(rmx_ep_t *ep)
{
	if (ep)
		rmx__ep_destroy(ep);
}

static int copy_addr(const char *addr, char *buf, size_t len)
{
	size_t n = strlen(addr);

	if (!*addr)
		return -ENOTCONN;
	if (n >= len)
		return -ENOSPC;
	memcpy(buf, addr, n + 1);
	return 0;
}

int rmx_ep_peer_addr(const rmx_ep_t *ep, char *buf, size_t len)
{
	RMX__CHECK(ep && buf, "NULL ep or buf");
	return copy_addr(ep->peer, buf, len);
}

int rmx_ep_local_addr(const rmx_ep_t *ep, char *buf, size_t len)
{
	RMX__CHECK(ep && buf, "NULL ep or buf");
	return copy_addr(ep->local, buf, len);
}

int rmx_ep_max_msg(const rmx_ep_t *ep, size_t *len)
{
	RMX__CHECK(ep && len, "NULL ep or len");
	*len = rmx__ep_eager_max(ep);
	return 0;
}

int rmx_send(rmx_ep_t *ep, const void *buf, size_t len, rmx_comp_cb cb,
	     void *arg)
{
	RMX__CHECK(ep, "ep is NULL");
	RMX__CHECK(buf || !len, "buf is NULL");
	return rmx__send(ep, buf, len, cb, arg);
}

int rmx_recv(rmx_ep_t *ep, void *buf, size_t cap, rmx_comp_cb cb, void *arg)
{
	RMX__CHECK(ep, "ep is NULL");
	RMX__CHECK(buf || !cap, "buf is NULL");
	RMX__CHECK(cb, "completion callback is NULL");
	return rmx__recv(ep, buf, cap, cb, arg);
}

/* Checks the remote range, then hands the request down. */
static int rma(const char *func, rmx_ep_t *ep, const rmx_remote_t *remote,
	       uint64_t offset, struct rmx__rma_req *req, rmx_comp_cb cb,
	       void *arg)
{
	if (!ep || !remote)
		return rmx__bad_arg(func, "NULL ep or remote");
	if (!req->buf && req->len)
		return rmx__bad_arg(func, "buf is NULL");
	if (offset > remote->len || req->len > remote->len - offset) {
		rmx__err("%s: [%llu, +%zu) lies outside the %llu-byte remote region",
			 func, (unsigned long long)offset, req->len,
			 (unsigned long long)remote->len);
		return -ERANGE;
	}
	req->raddr = remote->addr + offset;
	req->rkey = remote->key;
	return rmx__rma(ep, req, cb, arg);
}

int rmx_put(rmx_ep_t *ep, const void *buf, size_t len,
	    const rmx_remote_t *remote, uint64_t offset, rmx_comp_cb cb,
	    void *arg)
{
	struct rmx__rma_req req = { .type = RMX__OP_PUT, .buf = (void *)buf,
				    .len = len };

	return rma(__func__, ep, remote, offset, &req, cb, arg);
}

int rmx_get(rmx_ep_t *ep, void *buf, size_t len, const rmx_remote_t *remote,
	    uint64_t offset, rmx_comp_cb cb, void *arg)
{
	struct rmx__rma_req req = { .type = RMX__OP_GET, .buf = buf,
				    .len = len };

	return rma(__func__, ep, remote, offset, &req, cb, arg);
}

int rmx_put_imm(rmx_ep_t *ep, const void *buf, size_t len,
		const rmx_remote_t *remote, uint64_t offset, uint32_t imm,
		rmx_comp_cb cb, void *arg)
{
	struct rmx__rma_req req = { .type = RMX__OP_PUT_IMM,
				    .buf = (void *)buf, .len = len,
				    .imm = imm };

	return rma(__func__, ep, remote, offset, &req, cb, arg);
}

int rmx_ep_set_imm_cb(rmx_ep_t *ep, rmx_imm_cb cb, void *arg)
{
	RMX__CHECK(ep, "ep is NULL");
	ep->imm_cb = cb;
	ep->imm_arg = arg;
	return 0;
}

static int atomic(const char *func, rmx_ep_t *ep, const rmx_remote_t *remote,
		  uint64_t offset, struct rmx__rma_req *req, rmx_comp_cb cb,
		  void *arg)
{
	if (!req->buf)
		return rmx__bad_arg(func, "old is NULL");
	if (remote && (remote->addr + offset) % 8)
		return rmx__bad_arg(func, "remote address not 8-byte aligned");
	req->len = 8;
	return rma(func, ep, remote, offset, req, cb, arg);
}

int rmx_atomic_fadd(rmx_ep_t *ep, const rmx_remote_t *remote, uint64_t offset,
		    uint64_t add, uint64_t *old, rmx_comp_cb cb, void *arg)
{
	struct rmx__rma_req req = { .type = RMX__OP_FADD, .buf = old,
				    .compare_add = add };

	return atomic(__func__, ep, remote, offset, &req, cb, arg);
}

int rmx_atomic_cswap(rmx_ep_t *ep, const rmx_remote_t *remote,
		     uint64_t offset, uint64_t compare, uint64_t swap,
		     uint64_t *old, rmx_comp_cb cb, void *arg)
{
	struct rmx__rma_req req = { .type = RMX__OP_CSWAP, .buf = old,
				    .compare_add = compare, .swap = swap };

	return atomic(__func__, ep, remote, offset, &req, cb, arg);
}

int rmx_ep_set_am_cb(rmx_ep_t *ep, rmx_am_cb cb, void *arg)
{
	RMX__CHECK(ep, "ep is NULL");
	ep->am_cb = cb;
	ep->am_arg = arg;
	/* Messages that waited for a receive may go to it now. */
	return rmx__recv_deliver(ep);
}

int rmx_am_recv(rmx_am_t *msg, void *buf, size_t cap, rmx_comp_cb cb,
		void *arg)
{
	RMX__CHECK(msg, "msg is NULL");
	RMX__CHECK(buf || !cap, "buf is NULL");
	return rmx__am_recv((struct rmx__op *)msg, buf, cap, cb, arg);
}
