// SPDX-License-Identifier: BSD-2-Clause
/*
 * rmx-ping, rping mode: one connection's resources (QP, CQs, registered
 * buffers), its posts, its deadline, and how it fails and closes.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/msg.h"
#include "rping_conn.h"

const char *const rping_state_what[] = {
	[ST_RESOLVING] = "address and route resolution",
	[ST_CONNECTING] = "the connection",
	[ST_WAIT_SRC] = "the client's source descriptor",
	[ST_READING] = "the RDMA read",
	[ST_WAIT_SINK] = "the client's sink descriptor",
	[ST_WRITING] = "the RDMA write",
	[ST_GO_READ] = "the server's go-ahead after its RDMA read",
	[ST_GO_WRITE] = "the server's go-ahead after its RDMA write",
	[ST_CLOSING] = "the disconnect",
	[ST_DONE] = "nothing",
};

const struct rdma_conn_param rping_conn_param = {
	/* rping's: one RDMA read in flight each way, retries unlimited */
	.responder_resources = 1,
	.initiator_depth = 1,
	.retry_count = 7,
	.rnr_retry_count = 7,
};

int rping_set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	return 0;
}

__attribute__((format(printf, 2, 0)))
static void conn_msg(struct conn *c, const char *fmt, va_list ap)
{
	char what[256];

	vsnprintf(what, sizeof(what), fmt, ap);
	tool_err("%s %s: %s", c->rp->o->server ? "client" : "server", c->peer,
		 what);
}

void rping_conn_close(struct conn *c)
{
	if (c->state == ST_CLOSING || c->state == ST_DONE)
		return;
	if (c->established && !c->flushed && !rdma_disconnect(c->id)) {
		c->state = ST_CLOSING;
		c->deadline = tool_clock_ns() + CLOSE_WAIT_MS * TOOL_NS_PER_MS;
		return;
	}
	c->state = ST_DONE;
}

void rping_conn_fail(struct conn *c, int err, const char *fmt, ...)
{
	va_list ap;

	if (c->state == ST_DONE || c->state == ST_CLOSING)
		return;
	if (!c->status) {
		c->status = err;
		va_start(ap, fmt);
		conn_msg(c, fmt, ap);
		va_end(ap);
	}
	rping_conn_close(c);
}

void rping_conn_progress(struct conn *c)
{
	c->deadline = tool_clock_ns() + c->rp->o->timeout_ms * TOOL_NS_PER_MS;
}

struct conn *rping_conn_new(struct rping *rp)
{
	struct conn *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->rp = rp;
	c->next = rp->conns;
	rp->conns = c;
	snprintf(c->peer, sizeof(c->peer), "?");
	rping_conn_progress(c);
	return c;
}

void rping_conn_free(struct conn *c)
{
	/* The QP first: no DMA into buffers after this. */
	if (c->id && c->id->qp)
		rdma_destroy_qp(c->id);	/* and the CQs librdmacm made */
	if (c->recv_mr)
		ibv_dereg_mr(c->recv_mr);
	if (c->send_mr)
		ibv_dereg_mr(c->send_mr);
	if (c->start_mr)
		ibv_dereg_mr(c->start_mr);
	if (c->data_mr)
		ibv_dereg_mr(c->data_mr);
	if (c->id)
		rdma_destroy_id(c->id);
	free(c->start);
	free(c->data);
	free(c);
}

int rping_post_recv(struct conn *c)
{
	if (rdma_post_recv(c->id, (void *)(uintptr_t)WR_RECV, c->recv_buf,
			   sizeof(c->recv_buf), c->recv_mr))
		return -errno;
	return 0;
}

int rping_post_send(struct conn *c, int which)
{
	if (rdma_post_send(c->id, (void *)(uintptr_t)WR_SEND,
			   c->send_buf[which], INFO_LEN, c->send_mr,
			   IBV_SEND_SIGNALED))
		return -errno;
	return 0;
}

int rping_conn_setup(struct conn *c)
{
	const struct ping_opts *o = c->rp->o;
	struct ibv_qp_init_attr attr = {
		.cap = {
			.max_send_wr = SQ_DEPTH,
			.max_recv_wr = RQ_DEPTH,
			.max_send_sge = 1,
			.max_recv_sge = 1,
		},
		.qp_type = IBV_QPT_RC,
	};
	struct rdma_cm_id *id = c->id;
	int ret;

	if (rdma_create_qp(id, NULL, &attr)) {
		ret = -errno;
		tool_err("rdma_create_qp: %s", strerror(errno));
		return ret;
	}
	ret = rping_set_nonblock(id->send_cq_channel->fd);
	if (!ret)
		ret = rping_set_nonblock(id->recv_cq_channel->fd);
	if (!ret && (ibv_req_notify_cq(id->send_cq, 0) ||
		     ibv_req_notify_cq(id->recv_cq, 0)))
		ret = -EIO;
	if (ret)
		return ret;

	c->recv_mr = rdma_reg_msgs(id, c->recv_buf, sizeof(c->recv_buf));
	c->send_mr = rdma_reg_msgs(id, c->send_buf, sizeof(c->send_buf));
	if (!c->recv_mr || !c->send_mr)
		goto reg_failed;
	if (o->server) {
		/* Target of the RDMA read, source of the write: local only. */
		c->data = calloc(1, DATA_LEN);
		if (!c->data)
			return -ENOMEM;
		c->data_mr = rdma_reg_msgs(id, c->data, DATA_LEN);
		if (!c->data_mr)
			goto reg_failed;
	} else {
		c->start = calloc(1, o->size);
		c->data = calloc(1, o->size);
		if (!c->start || !c->data)
			return -ENOMEM;
		/* The server reads the source and writes the sink. */
		c->start_mr = rdma_reg_read(id, c->start, o->size);
		c->data_mr = rdma_reg_write(id, c->data, o->size);
		if (!c->start_mr || !c->data_mr)
			goto reg_failed;
	}
	DBG(c->rp, "allocated & registered buffers...\n");
	return rping_post_recv(c);

reg_failed:
	ret = -errno;
	tool_err("ibv_reg_mr: %s", strerror(errno));
	return ret;
}
