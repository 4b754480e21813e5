// SPDX-License-Identifier: BSD-2-Clause
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "selfqp.h"

void selfqp_die(const struct selfqp *r, const char *what, int err)
{
	fprintf(stderr, "%s: %s: %s\n", r->prog, what, strerror(err));
	exit(2);
}

static struct ibv_context *open_device(const struct selfqp *r,
				       const char *name)
{
	struct ibv_device **list = ibv_get_device_list(NULL);
	struct ibv_context *ctx = NULL;

	if (!list)
		selfqp_die(r, "ibv_get_device_list", errno);
	for (int i = 0; list[i] && !ctx; i++)
		if (!name || !strcmp(ibv_get_device_name(list[i]), name))
			ctx = ibv_open_device(list[i]);
	ibv_free_device_list(list);
	if (!ctx)
		selfqp_die(r, name ? name : "no RDMA device", ENODEV);
	return ctx;
}

/* RESET -> INIT -> RTR -> RTS, with the QP as its own peer. */
static void connect_self(struct selfqp *r)
{
	struct ibv_port_attr port;
	union ibv_gid gid;
	struct ibv_qp_attr a;

	if (ibv_query_port(r->ctx, 1, &port) || ibv_query_gid(r->ctx, 1, 0, &gid))
		selfqp_die(r, "ibv_query_port/gid", errno);
	memset(&a, 0, sizeof(a));
	a.qp_state = IBV_QPS_INIT;
	a.port_num = 1;
	a.qp_access_flags = IBV_ACCESS_REMOTE_WRITE | IBV_ACCESS_REMOTE_READ;
	if (ibv_modify_qp(r->qp, &a, IBV_QP_STATE | IBV_QP_PKEY_INDEX |
			  IBV_QP_PORT | IBV_QP_ACCESS_FLAGS))
		selfqp_die(r, "modify to INIT", errno);
	memset(&a, 0, sizeof(a));
	a.qp_state = IBV_QPS_RTR;
	a.path_mtu = port.active_mtu;
	a.dest_qp_num = r->qp->qp_num;
	a.max_dest_rd_atomic = 1;
	a.min_rnr_timer = 12;
	a.ah_attr.is_global = 1;
	a.ah_attr.grh.dgid = gid;
	a.ah_attr.grh.hop_limit = 1;
	a.ah_attr.dlid = port.lid;
	a.ah_attr.port_num = 1;
	if (ibv_modify_qp(r->qp, &a, IBV_QP_STATE | IBV_QP_AV | IBV_QP_PATH_MTU |
			  IBV_QP_DEST_QPN | IBV_QP_RQ_PSN |
			  IBV_QP_MAX_DEST_RD_ATOMIC | IBV_QP_MIN_RNR_TIMER))
		selfqp_die(r, "modify to RTR", errno);
	memset(&a, 0, sizeof(a));
	a.qp_state = IBV_QPS_RTS;
	a.timeout = 14;
	a.retry_cnt = 7;
	a.rnr_retry = 7;
	a.max_rd_atomic = 1;
	if (ibv_modify_qp(r->qp, &a, IBV_QP_STATE | IBV_QP_TIMEOUT |
			  IBV_QP_RETRY_CNT | IBV_QP_RNR_RETRY | IBV_QP_SQ_PSN |
			  IBV_QP_MAX_QP_RD_ATOMIC))
		selfqp_die(r, "modify to RTS", errno);
}

void selfqp_open(struct selfqp *r, const char *prog, const char *name)
{
	struct ibv_qp_init_attr qa = {
		.qp_type = IBV_QPT_RC,
		.cap = { .max_send_wr = 4, .max_recv_wr = 4,
			 .max_send_sge = 1, .max_recv_sge = 1 },
	};

	memset(r, 0, sizeof(*r));
	r->prog = prog;
	r->ctx = open_device(r, name);
	r->pd = ibv_alloc_pd(r->ctx);
	r->cq = r->pd ? ibv_create_cq(r->ctx, 8, NULL, NULL, 0) : NULL;
	if (!r->cq)
		selfqp_die(r, "ibv_alloc_pd/create_cq", errno);
	qa.send_cq = qa.recv_cq = r->cq;
	r->qp = ibv_create_qp(r->pd, &qa);
	if (!r->qp)
		selfqp_die(r, "ibv_create_qp", errno);
	connect_self(r);
}

void selfqp_close(struct selfqp *r)
{
	ibv_destroy_qp(r->qp);
	ibv_destroy_cq(r->cq);
	ibv_dealloc_pd(r->pd);
	ibv_close_device(r->ctx);
}

bool selfqp_has_odp(const struct selfqp *r)
{
	const uint32_t need = IBV_ODP_SUPPORT_SEND | IBV_ODP_SUPPORT_RECV |
			      IBV_ODP_SUPPORT_WRITE | IBV_ODP_SUPPORT_READ;
	struct ibv_device_attr_ex ax;

	return !ibv_query_device_ex(r->ctx, NULL, &ax) &&
	       (ax.odp_caps.general_caps & IBV_ODP_SUPPORT) &&
	       (ax.odp_caps.per_transport_caps.rc_odp_caps & need) == need;
}

int selfqp_reap(struct selfqp *r, int n)
{
	struct ibv_wc wc;
	int bad = 0;

	while (n) {
		int got = ibv_poll_cq(r->cq, 1, &wc);

		if (got < 0)
			selfqp_die(r, "ibv_poll_cq", EIO);
		if (!got)
			continue;
		n--;
		if (wc.status && !bad) {
			fprintf(stderr, "  completion: %s\n",
				ibv_wc_status_str(wc.status));
			bad = wc.status;
		}
	}
	return bad;
}
