// SPDX-License-Identifier: BSD-2-Clause
/*
 * rmx-ping, rping mode, the client: per ping it sends its source
 * buffer's descriptor, waits for the go-ahead after the server's RDMA
 * read, sends its sink's, waits for the go-ahead after the RDMA write and
 * compares (-V); it ends by disconnecting.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "rping_conn.h"

void rping_client_ping(struct conn *c)
{
	const struct ping_opts *o = c->rp->o;
	int ret;

	if (ping_stop || (o->count && c->pings >= o->count)) {
		rping_conn_close(c);
		return;
	}
	ping_fill(c->start, o->size, c->pings);
	if (o->validate)
		memset(c->data, 0, o->size);	/* so -V proves this write */
	rping_info_encode(c->send_buf[0], c->start, c->start_mr->rkey,
			  (uint32_t)o->size);
	DBG(c->rp, "RDMA addr %" PRIxPTR " rkey %x len %zu\n",
	    (uintptr_t)c->start, c->start_mr->rkey, o->size);
	c->got_go = 0;
	c->send_done = 0;
	ret = rping_post_send(c, 0);
	if (ret) {
		rping_conn_fail(c, ret, "posting a send: %s", strerror(-ret));
		return;
	}
	c->state = ST_GO_READ;
}

void rping_client_step(struct conn *c)
{
	const struct ping_opts *o = c->rp->o;
	int ret;

	if (!c->got_go || !c->send_done)
		return;
	c->got_go = 0;
	c->send_done = 0;
	if (c->state == ST_GO_READ) {
		rping_info_encode(c->send_buf[1], c->data, c->data_mr->rkey,
				  (uint32_t)o->size);
		DBG(c->rp, "RDMA addr %" PRIxPTR " rkey %x len %zu\n",
		    (uintptr_t)c->data, c->data_mr->rkey, o->size);
		ret = rping_post_send(c, 1);
		if (ret) {
			rping_conn_fail(c, ret, "posting a send: %s", strerror(-ret));
			return;
		}
		c->state = ST_GO_WRITE;
		return;
	}
	if (o->validate && memcmp(c->start, c->data, o->size)) {
		rping_conn_fail(c, -EBADMSG, "data mismatch in ping %ld!", c->pings);
		return;
	}
	if (o->verbose)
		printf("ping data: %.*s\n", (int)strnlen(c->data, o->size),
		       c->data);
	c->pings++;
	rping_client_ping(c);
}

int rping_client_start(struct rping *rp)
{
	const struct ping_opts *o = rp->o;
	struct sockaddr_storage dst, src;
	struct conn *c;
	int ret;

	ret = rping_get_addr(o->addr, o->port, &dst);
	if (!ret && o->src)
		ret = rping_get_addr(o->src, 0, &src);
	if (ret)
		return ret;
	c = rping_conn_new(rp);
	if (!c)
		return -ENOMEM;
	rping_sa_format((struct sockaddr *)&dst, c->peer, sizeof(c->peer));
	if (rdma_create_id(rp->ch, &c->id, c, RDMA_PS_TCP)) {
		ret = -errno;
		c->id = NULL;
		rping_conn_fail(c, ret, "rdma_create_id: %s", strerror(-ret));
		return 0;
	}
	DBG(rp, "created cm_id %p\n", (void *)c->id);
	c->state = ST_RESOLVING;
	if (rdma_resolve_addr(c->id, o->src ? (struct sockaddr *)&src : NULL,
			      (struct sockaddr *)&dst, o->timeout_ms)) {
		ret = -errno;
		rping_conn_fail(c, ret, "rdma_resolve_addr%s%s: %s",
				o->src ? " from " : "", o->src ? o->src : "",
				strerror(-ret));
	}
	return 0;
}
