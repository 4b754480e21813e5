// SPDX-License-Identifier: BSD-2-Clause
/* Verbs backend, device half: device choice, PD, the SRQ and CQ, MRs. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/log.h"
#include "transport/verbs/verbs.h"

static int set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	return 0;
}

/* First port in state ACTIVE, or 0. */
static uint8_t active_port(struct ibv_context *verbs, uint8_t nports,
			   uint32_t *max_msg)
{
	struct ibv_port_attr pa;
	uint8_t p;

	for (p = 1; p <= nports; p++) {
		if (ibv_query_port(verbs, p, &pa))
			continue;
		if (pa.state == IBV_PORT_ACTIVE) {
			*max_msg = pa.max_msg_sz;
			return p;
		}
	}
	return 0;
}

static int pick_device(struct verbs_tp *tp)
{
	const char *want = tp->cfg.device;
	int i, n = 0;

	tp->devices = rdma_get_devices(&n);
	if (!tp->devices || n == 0) {
		rmx__err("no RDMA device found (load a driver, or for Soft-RoCE: rdma link add rxe0 type rxe netdev IFACE)");
		return *want ? -ENXIO : -ENODEV;
	}
	for (i = 0; i < n; i++) {
		struct ibv_context *v = tp->devices[i];
		const char *name = ibv_get_device_name(v->device);

		if (*want && strcmp(want, name))
			continue;
		if (ibv_query_device(v, &tp->dev_attr)) {
			rmx__warn("%s: ibv_query_device: %s", name,
				  strerror(errno));
			continue;
		}
		tp->port = active_port(v, tp->dev_attr.phys_port_cnt,
				       &tp->max_msg);
		if (tp->port) {
			tp->verbs = v;
			return 0;
		}
		if (*want) {
			rmx__err("RMX_DEVICE=%s has no active port", want);
			return -ENETDOWN;
		}
	}
	if (*want)
		rmx__err("RMX_DEVICE=%s: no such RDMA device", want);
	else
		rmx__err("no RDMA device has an active port");
	return *want ? -ENXIO : -ENODEV;
}

/*
 * Pinned pages and fork(): kernels since 5.13 copy pinned pages for the
 * child (IBV_FORK_UNNEEDED); older ones need rdma-core's madvise scheme,
 * which must be on before the first registration.
 */
static void fork_setup(void)
{
	int ret;

	if (ibv_is_fork_initialized() != IBV_FORK_DISABLED)
		return;
	ret = ibv_fork_init();
	if (ret)
		rmx__warn("ibv_fork_init: %s: a child writing to registered memory may change what this process sends",
			  strerror(ret));
}

/*
 * ODP counts only when every RC operation rmx uses may fault (receives
 * are on the SRQ), and only when it places data correctly
 * (odp_selftest.c).
 */
static unsigned int odp_caps(struct verbs_tp *tp)
{
	const uint32_t need = IBV_ODP_SUPPORT_SEND | IBV_ODP_SUPPORT_RECV |
			      IBV_ODP_SUPPORT_WRITE | IBV_ODP_SUPPORT_READ |
			      IBV_ODP_SUPPORT_SRQ_RECV;
	struct ibv_device_attr_ex ax;
	unsigned int caps = 0;

	if (ibv_query_device_ex(tp->verbs, NULL, &ax))
		return 0;
	if (!(ax.odp_caps.general_caps & IBV_ODP_SUPPORT) ||
	    (ax.odp_caps.per_transport_caps.rc_odp_caps & need) != need)
		return 0;
	if (rmx__verbs_odp_selftest(tp, tp->base.odp_refused,
				    sizeof(tp->base.odp_refused)))
		return 0;
	caps |= RMX__TP_CAP_ODP;
	if (ax.odp_caps.general_caps & IBV_ODP_SUPPORT_IMPLICIT)
		caps |= RMX__TP_CAP_ODP_IMPLICIT;
	return caps;
}

static void verbs_close(struct rmx__tp *base)
{
	struct verbs_tp *tp = (struct verbs_tp *)base;

	rmx__verbs_cq_close(tp);
	if (tp->chan_in_loop)
		rmx__loop_del(tp->loop, tp->chan->fd);
	if (tp->cm_in_loop)
		rmx__loop_del(tp->loop, tp->cm->fd);
	if (tp->chan)
		ibv_destroy_comp_channel(tp->chan);
	/* The layer above destroyed every connection: no QP uses it. */
	if (tp->srq && ibv_destroy_srq(tp->srq))
		rmx__err("ibv_destroy_srq: %s (a connection outlived close())",
			 strerror(errno));
	if (tp->pd)
		ibv_dealloc_pd(tp->pd);
	if (tp->cm)
		rdma_destroy_event_channel(tp->cm);
	if (tp->devices)
		rdma_free_devices(tp->devices);
	free(tp);
}

/* The receives of every QP (transport.h): max_recv is what it got. */
static int create_srq(struct verbs_tp *tp)
{
	struct ibv_srq_init_attr sa = { .attr = { .max_sge = 1 } };
	int max = tp->dev_attr.max_srq_wr;

	sa.attr.max_wr = max < VERBS_SRQ_MAX_WR ? (uint32_t)max :
						  VERBS_SRQ_MAX_WR;
	tp->srq = ibv_create_srq(tp->pd, &sa);
	if (!tp->srq)
		return -errno;
	tp->base.max_recv = sa.attr.max_wr;
	return 0;
}

static int setup_queues(struct verbs_tp *tp)
{
	int ret;

	tp->pd = ibv_alloc_pd(tp->verbs);
	if (!tp->pd)
		return -errno;
	ret = create_srq(tp);
	if (ret)
		return ret;
	tp->chan = ibv_create_comp_channel(tp->verbs);
	if (!tp->chan)
		return -errno;
	ret = rmx__verbs_cq_open(tp);
	if (ret)
		return ret;
	tp->cm = rdma_create_event_channel();
	if (!tp->cm)
		return -errno;
	ret = set_nonblock(tp->chan->fd);
	if (!ret)
		ret = set_nonblock(tp->cm->fd);
	if (!ret)
		ret = rmx__loop_add(tp->loop, tp->chan->fd);
	tp->chan_in_loop = !ret;
	if (!ret)
		ret = rmx__loop_add(tp->loop, tp->cm->fd);
	tp->cm_in_loop = !ret;
	return ret;
}

#define KNOB_UINT(n, d, lo, hi, field, h)                              \
	{ .name = n, .def = d, .help = h, .type = RMX__KNOB_UINT,       \
	  .offset = offsetof(struct verbs_config, field), .min = lo, .max = hi }

static const struct rmx__knob verbs_knobs[] = {
	{ .name = "RMX_DEVICE", .def = "", .type = RMX__KNOB_STRING,
	  .offset = offsetof(struct verbs_config, device),
	  .max = VERBS_DEVICE_NAME_MAX,
	  .help = "verbs: RDMA device to open (default: first with an active port)" },
	KNOB_UINT("RMX_CQ_SIZE", "1024", 16, 1 << 22, cq_size,
		  "verbs: initial completion queue entries (grows with endpoints)"),
	KNOB_UINT("RMX_MAX_INLINE", "64", 0, 4096, max_inline,
		  "verbs: inline data bytes to request per queue pair"),
	/*
	 * A peer that acknowledges nothing for (retries + 1) timeouts is
	 * gone: 6 x 268 ms, about 1.6 s, finds a vanished node within 2 s
	 * of the request or keepalive probe that first goes unanswered.
	 * Any acknowledgement starts the count over, so only a peer silent
	 * for all of it fails: a slow one (Soft-RoCE under emulation) is
	 * retried, not dropped, and a try is long enough that it rarely is.
	 */
	KNOB_UINT("RMX_ACK_TIMEOUT", "16", 1, 31, ack_timeout,
		  "verbs: wait for an acknowledgement before a retry: 4.096 us << n (16: 268 ms)"),
	KNOB_UINT("RMX_RETRY_COUNT", "5", 0, 7, retry_count,
		  "verbs: retries before an unanswered peer fails the connection (7: forever on rxe)"),
};

/* What RC queue pairs do, whatever the device. */
#define VERBS_RC_CAPS (RMX__TP_CAP_IMM_CONSUMES_RECV | RMX__TP_CAP_ORDERED | \
		       RMX__TP_CAP_LOCAL_MR | RMX__TP_CAP_CONNECTED | \
		       RMX__TP_CAP_PEER_PROBE)

static int verbs_open(struct rmx__loop *loop, const struct rmx__tp_upcalls *up,
		      void *upctx, struct rmx__tp **out)
{
	struct verbs_tp *tp = calloc(1, sizeof(*tp));
	int ret;

	if (!tp)
		return -ENOMEM;
	tp->base.ops = &rmx__verbs_ops;
	tp->base.max_key = UINT32_MAX;
	tp->base.max_priv = VERBS_PRIV_MAX;
	tp->up = up;
	tp->upctx = upctx;
	tp->loop = loop;
	ret = rmx__knobs_load(verbs_knobs,
			      sizeof(verbs_knobs) / sizeof(verbs_knobs[0]),
			      &tp->cfg, NULL);
	if (ret) {
		free(tp);
		return ret;
	}
	fork_setup();
	ret = pick_device(tp);
	if (!ret && !tp->dev_attr.max_srq) {
		rmx__err("%s has no shared receive queue, which rmx needs: choose another device with RMX_DEVICE",
			 ibv_get_device_name(tp->verbs->device));
		ret = -EOPNOTSUPP;
	} else if (!ret) {
		ret = setup_queues(tp);
		if (ret)
			rmx__err("%s: cannot create PD/SRQ/CQ/channels: %s",
				 ibv_get_device_name(tp->verbs->device),
				 strerror(-ret));
	}
	if (ret) {
		verbs_close(&tp->base);
		return ret;
	}
	tp->base.caps = VERBS_RC_CAPS | odp_caps(tp);
	if (tp->dev_attr.atomic_cap != IBV_ATOMIC_NONE)
		tp->base.caps |= RMX__TP_CAP_ATOMIC;
	rmx__info("opened %s port %u (max_msg %u, %u shared receives, odp %s)",
		  ibv_get_device_name(tp->verbs->device), tp->port,
		  tp->max_msg, tp->base.max_recv,
		  tp->base.caps & RMX__TP_CAP_ODP_IMPLICIT ? "implicit" :
		  tp->base.caps & RMX__TP_CAP_ODP	   ? "explicit" :
							     "none");
	*out = &tp->base;
	return 0;
}

static const char *verbs_device_name(const struct rmx__tp *base)
{
	const struct verbs_tp *tp = (const struct verbs_tp *)base;

	return ibv_get_device_name(tp->verbs->device);
}

int rmx__verbs_errno_from_wc(enum ibv_wc_status st)
{
	switch (st) {
	case IBV_WC_SUCCESS:
		return 0;
	case IBV_WC_WR_FLUSH_ERR:
		return -ECANCELED;
	case IBV_WC_REM_ACCESS_ERR:
		return -EACCES;
	case IBV_WC_RETRY_EXC_ERR:
	case IBV_WC_RNR_RETRY_EXC_ERR:
	case IBV_WC_RESP_TIMEOUT_ERR:
		return -ETIMEDOUT;
	case IBV_WC_LOC_LEN_ERR:
		return -EMSGSIZE;
	case IBV_WC_LOC_PROT_ERR:
	case IBV_WC_LOC_ACCESS_ERR:
		return -EFAULT;
	case IBV_WC_REM_INV_REQ_ERR:
	case IBV_WC_REM_OP_ERR:
	case IBV_WC_REM_INV_RD_REQ_ERR:
	case IBV_WC_REM_ABORT_ERR:
	case IBV_WC_BAD_RESP_ERR:
		return -EREMOTEIO;
	default:
		return -EIO;
	}
}

static int verbs_progress(struct rmx__tp *base)
{
	struct verbs_tp *tp = (struct verbs_tp *)base;
	int total, ret;

	int64_t now;

	if (tp->armed) {
		rmx__verbs_cq_drain_channel(tp);
		tp->armed = false;
	}
	total = rmx__verbs_cq_poll(tp, 1);
	if (total < 0)
		return total;
	/* A busy poller must not pay a system call per look at the CM. */
	now = rmx__now_ms_coarse();
	if (!tp->cm_due && now < tp->cm_next_ms)
		return total;
	tp->cm_due = false;
	tp->cm_next_ms = now + 1;
	ret = rmx__verbs_cm_progress(tp);
	return ret < 0 ? ret : total + ret;
}

static int verbs_arm(struct rmx__tp *base)
{
	struct verbs_tp *tp = (struct verbs_tp *)base;
	int ret = rmx__verbs_cq_arm(tp);

	if (ret && ret != -EAGAIN)
		return ret;
	if (rmx__verbs_cm_pending(tp))
		tp->cm_due = true;
	return ret || tp->cm_due ? -EAGAIN : 0;
}

struct verbs_mr {
	struct rmx__tp_mr base;
	struct ibv_mr *mr;
};

static int verbs_mr_reg(struct rmx__tp *base, void *addr, size_t len,
			unsigned int access, struct rmx__tp_mr **out)
{
	struct verbs_tp *tp = (struct verbs_tp *)base;
	struct verbs_mr *m = calloc(1, sizeof(*m));
	int acc = 0;

	if (!m)
		return -ENOMEM;
	if (access & RMX__TP_LOCAL_WRITE)
		acc |= IBV_ACCESS_LOCAL_WRITE;
	if (access & RMX__TP_REMOTE_READ)
		acc |= IBV_ACCESS_REMOTE_READ;
	/* Verbs requires local write with remote write. */
	if (access & RMX__TP_REMOTE_WRITE)
		acc |= IBV_ACCESS_REMOTE_WRITE | IBV_ACCESS_LOCAL_WRITE;
	if (access & RMX__TP_ON_DEMAND)
		acc |= IBV_ACCESS_ON_DEMAND;
	if (access & RMX__TP_REMOTE_ATOMIC)
		acc |= IBV_ACCESS_REMOTE_ATOMIC | IBV_ACCESS_LOCAL_WRITE;
	m->mr = ibv_reg_mr(tp->pd, addr, len, acc);
	if (!m->mr) {
		int err = errno ? -errno : -ENOMEM;

		rmx__err("ibv_reg_mr(%p, %zu) failed: %s%s", addr, len,
			 strerror(-err),
			 err == -ENOMEM || err == -EPERM ?
				 " (check ulimit -l / RLIMIT_MEMLOCK)" : "");
		free(m);
		return err;
	}
	m->base.tp = base;
	m->base.addr = addr;
	m->base.len = len;
	m->base.rkey = m->mr->rkey;
	*out = &m->base;
	return 0;
}

static int verbs_mr_dereg(struct rmx__tp_mr *base)
{
	struct verbs_mr *m = (struct verbs_mr *)base;
	int ret = ibv_dereg_mr(m->mr);

	if (ret) {
		rmx__err("ibv_dereg_mr: %s", strerror(ret));
		return -ret;
	}
	free(m);
	return 0;
}

uint32_t rmx__verbs_lkey(const struct rmx__tp_mr *mr)
{
	return ((const struct verbs_mr *)mr)->mr->lkey;
}

const struct rmx__tp_ops rmx__verbs_ops = {
	.name = "verbs",
	.knobs = verbs_knobs,
	.nknobs = sizeof(verbs_knobs) / sizeof(verbs_knobs[0]),
	.open = verbs_open,
	.close = verbs_close,
	.device_name = verbs_device_name,
	.host_addr = rmx__verbs_host_addr,
	.progress = verbs_progress,
	.arm = verbs_arm,
	.mr_reg = verbs_mr_reg,
	.mr_dereg = verbs_mr_dereg,
	.listen = rmx__verbs_listen,
	.listener_port = rmx__verbs_listener_port,
	.listener_close = rmx__verbs_listener_close,
	.connect = rmx__verbs_connect,
	.accept = rmx__verbs_accept,
	.conn_caps = rmx__verbs_conn_caps,
	.conn_addr = rmx__verbs_conn_addr,
	.conn_destroy = rmx__verbs_conn_destroy,
	.post_recv = rmx__verbs_post_recv,
	.post_send = rmx__verbs_post_send,
	.post_rma = rmx__verbs_post_rma,
	.post_probe = rmx__verbs_post_probe,
};
