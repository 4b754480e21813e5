// SPDX-License-Identifier: BSD-2-Clause
/*
 * rmx-ping, rping mode, the server: accepts clients (one, or with -P any
 * number side by side), RDMA reads each ping's source, writes it back
 * into the sink, and answers each with a go-ahead.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "common/msg.h"
#include "rping_conn.h"

#define LISTEN_BACKLOG 16

void rping_server_read(struct conn *c)
{
	if (!c->rlen || c->rlen > DATA_LEN - 1) {
		rping_conn_fail(c, -EMSGSIZE, "the client's source is %u bytes, not 1 to %d",
				c->rlen, DATA_LEN - 1);
		return;
	}
	c->dlen = c->rlen;
	if (rdma_post_read(c->id, (void *)(uintptr_t)WR_READ, c->data, c->dlen,
			   c->data_mr, IBV_SEND_SIGNALED, c->raddr, c->rkey)) {
		rping_conn_fail(c, -errno, "posting the RDMA read: %s", strerror(errno));
		return;
	}
	DBG(c->rp, "server posted rdma read req\n");
	c->state = ST_READING;
}

void rping_server_read_done(struct conn *c)
{
	int ret;

	c->data[c->dlen] = '\0';
	if (c->rp->o->verbose)
		printf("server ping data: %s\n", c->data);
	ret = rping_post_send(c, 0);		/* go-ahead: 16 bytes, zeros */
	if (ret) {
		rping_conn_fail(c, ret, "posting a send: %s", strerror(-ret));
		return;
	}
	DBG(c->rp, "server posted go ahead\n");
	c->state = ST_WAIT_SINK;
}

void rping_server_write(struct conn *c)
{
	/* rping writes the string back with its NUL, within both buffers. */
	uint32_t len = (uint32_t)strnlen(c->data, c->dlen) + 1;

	if (len > c->dlen)
		len = c->dlen;
	if (len > c->rlen)
		len = c->rlen;
	DBG(c->rp, "rdma write from lkey %x laddr %" PRIxPTR " len %u\n",
	    c->data_mr->lkey, (uintptr_t)c->data, len);
	if (rdma_post_write(c->id, (void *)(uintptr_t)WR_WRITE, c->data, len,
			    c->data_mr, IBV_SEND_SIGNALED, c->raddr, c->rkey)) {
		rping_conn_fail(c, -errno, "posting the RDMA write: %s", strerror(errno));
		return;
	}
	c->state = ST_WRITING;
}

void rping_server_write_done(struct conn *c)
{
	int ret = rping_post_send(c, 0);

	if (ret) {
		rping_conn_fail(c, ret, "posting a send: %s", strerror(-ret));
		return;
	}
	DBG(c->rp, "server posted go ahead\n");
	c->pings++;
	c->state = ST_WAIT_SRC;
}

void rping_server_accept(struct rping *rp, struct rdma_cm_id *id)
{
	struct conn *c;
	int ret;

	if (rp->fatal || ping_stop || (!rp->o->persistent && rp->served)) {
		/* rping would queue it forever; a refusal is clearer. */
		DBG(rp, "rejecting connection request %p\n", (void *)id);
		rdma_reject(id, NULL, 0);
		rdma_destroy_id(id);
		return;
	}
	c = rping_conn_new(rp);
	if (!c) {
		rdma_reject(id, NULL, 0);
		rdma_destroy_id(id);
		return;
	}
	rp->served++;
	c->id = id;
	id->context = c;
	rping_sa_format(rdma_get_peer_addr(id), c->peer, sizeof(c->peer));
	DBG(rp, "child cma %p from %s\n", (void *)id, c->peer);
	ret = rping_conn_setup(c);
	if (ret) {
		rdma_reject(id, NULL, 0);
		rping_conn_fail(c, ret, "setting up: %s", strerror(-ret));
		return;
	}
	DBG(rp, "accepting client connection request\n");
	if (rdma_accept(id, (struct rdma_conn_param *)&rping_conn_param)) {
		rping_conn_fail(c, -errno, "rdma_accept: %s", strerror(errno));
		return;
	}
	/* The first descriptor may come before ESTABLISHED is read. */
	c->state = ST_WAIT_SRC;
}

int rping_server_start(struct rping *rp)
{
	const struct ping_opts *o = rp->o;
	struct sockaddr_storage ss = { .ss_family = AF_INET };
	int ret;

	if (o->addr) {
		ret = rping_get_addr(o->addr, o->port, &ss);
		if (ret)
			return ret;
	} else {
		((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)o->port);
	}
	if (rdma_create_id(rp->ch, &rp->listen, NULL, RDMA_PS_TCP)) {
		ret = -errno;
		rp->listen = NULL;
		tool_err("rdma_create_id: %s", strerror(-ret));
		return ret;
	}
	if (rdma_bind_addr(rp->listen, (struct sockaddr *)&ss)) {
		ret = -errno;
		tool_err("rdma_bind_addr %s port %d: %s",
			 o->addr ? o->addr : "(any)", o->port, strerror(-ret));
		return ret;
	}
	DBG(rp, "rdma_bind_addr successful\n");
	if (rdma_listen(rp->listen, LISTEN_BACKLOG)) {
		ret = -errno;
		tool_err("rdma_listen: %s", strerror(-ret));
		return ret;
	}
	DBG(rp, "rdma_listen\n");
	return 0;
}
