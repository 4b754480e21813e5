// SPDX-License-Identifier: BSD-2-Clause
/*
 * rmx-info: probing one RDMA device with libibverbs. Failures are
 * recorded in the device's report and the probe goes on with what it can
 * still learn.
 */
#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"

/* rmx asks for at most this much inline data (RMX_MAX_INLINE's bound). */
#define INLINE_ASK_MAX 4096

size_t info_dev_limits(const struct info_dev *d, struct info_limit *out)
{
	const struct ibv_device_attr *a = &d->attr.orig_attr;
	size_t n = 0;

#define LIMIT(f) (out[n++] = (struct info_limit){ #f, (uint64_t)a->f })
	LIMIT(max_qp);
	LIMIT(max_qp_wr);
	LIMIT(max_sge);
	LIMIT(max_cq);
	LIMIT(max_cqe);
	LIMIT(max_mr);
	LIMIT(max_mr_size);
	LIMIT(max_pd);
	LIMIT(max_qp_rd_atom);
	LIMIT(max_qp_init_rd_atom);
	LIMIT(max_srq);
#undef LIMIT
	return n;
}

/* Creates an RC QP asking for want inline bytes: 0 and *got, or -errno. */
static int try_inline(struct ibv_pd *pd, struct ibv_cq *cq, uint32_t want,
		      uint32_t *got)
{
	struct ibv_qp_init_attr qa = {
		.send_cq = cq,
		.recv_cq = cq,
		.qp_type = IBV_QPT_RC,
		.cap = {
			.max_send_wr = 1,
			.max_recv_wr = 1,
			.max_send_sge = 1,
			.max_recv_sge = 1,
			.max_inline_data = want,
		},
	};
	struct ibv_qp *qp = ibv_create_qp(pd, &qa);

	if (!qp)
		return errno ? -errno : -EINVAL;
	*got = qa.cap.max_inline_data;
	ibv_destroy_qp(qp);
	return 0;
}

/*
 * On rxe (and others) the limit is per QP, not in the device attributes:
 * find the largest request a QP accepts, by halving the gap between what
 * was granted and what was refused, and report what that QP was granted.
 */
static void probe_inline(struct ibv_context *ctx, struct info_dev *d)
{
	uint32_t lo = 0, hi = INLINE_ASK_MAX, mid, got = 0;
	struct ibv_cq *cq = NULL;
	struct ibv_pd *pd;
	int ret;

	pd = ibv_alloc_pd(ctx);
	if (!pd) {
		info_err(&d->errs, "max_inline_data: ibv_alloc_pd: %s",
			 strerror(errno));
		return;
	}
	cq = ibv_create_cq(ctx, 2, NULL, NULL, 0);
	if (!cq) {
		info_err(&d->errs, "max_inline_data: ibv_create_cq: %s",
			 strerror(errno));
		goto out;
	}
	if (!try_inline(pd, cq, hi, &got)) {
		d->inline_asked = hi;
		d->max_inline = got;
		goto out;
	}
	ret = try_inline(pd, cq, 0, &got);
	if (ret) {
		info_err(&d->errs, "max_inline_data: ibv_create_qp(RC): %s",
			 strerror(-ret));
		goto out;
	}
	d->inline_asked = 0;
	d->max_inline = got;
	while (hi - lo > 1) {
		mid = lo + (hi - lo) / 2;
		if (try_inline(pd, cq, mid, &got)) {
			hi = mid;
		} else {
			lo = mid;
			d->inline_asked = mid;
			d->max_inline = got;
		}
	}
out:
	if (cq)
		ibv_destroy_cq(cq);
	ibv_dealloc_pd(pd);
}

static void add_gid(struct info_dev *d, const struct ibv_gid_entry *e)
{
	struct info_gid *g = &d->gids[d->ngids++];

	g->port = e->port_num;
	g->index = e->gid_index;
	g->type = e->gid_type;
	if (!inet_ntop(AF_INET6, e->gid.raw, g->addr, sizeof(g->addr)))
		snprintf(g->addr, sizeof(g->addr), "?");
	if (!e->ndev_ifindex || !if_indextoname(e->ndev_ifindex, g->ndev))
		g->ndev[0] = '\0';
}

/*
 * The whole table in one call (kernel 5.10+); else entry by entry, which
 * rdma-core answers from sysfs on older kernels.
 */
static void probe_gids(struct ibv_context *ctx, struct info_dev *d)
{
	struct ibv_gid_entry *tab, e;
	size_t total = 0, i;
	uint32_t p;
	ssize_t n;
	int ret;

	for (p = 0; p < d->nports; p++)
		if (d->ports[p].ok && d->ports[p].attr.gid_tbl_len > 0)
			total += d->ports[p].attr.gid_tbl_len;
	if (!total)
		return;
	tab = calloc(total, sizeof(*tab));
	d->gids = calloc(total, sizeof(*d->gids));
	if (!tab || !d->gids) {
		info_err(&d->errs, "GID table: out of memory");
		goto out;
	}
	n = ibv_query_gid_table(ctx, tab, total, 0);
	if (n >= 0) {
		for (i = 0; i < (size_t)n; i++)
			add_gid(d, &tab[i]);
		goto out;
	}
	for (p = 0; p < d->nports; p++) {
		struct info_port *port = &d->ports[p];
		int j;

		if (!port->ok)
			continue;
		for (j = 0; j < port->attr.gid_tbl_len; j++) {
			ret = ibv_query_gid_ex(ctx, port->num, j, &e, 0);
			if (ret == ENODATA)	/* an empty slot */
				continue;
			if (ret) {
				info_err(&d->errs, "port %u: GID %d: %s",
					 port->num, j, strerror(ret));
				break;
			}
			if (d->ngids < total)
				add_gid(d, &e);
		}
	}
out:
	free(tab);
}

static void probe_ports(struct ibv_context *ctx, struct info_dev *d)
{
	uint32_t p;
	int ret;

	d->nports = d->attr.orig_attr.phys_port_cnt;
	d->ports = calloc(d->nports ? d->nports : 1, sizeof(*d->ports));
	if (!d->ports) {
		info_err(&d->errs, "ports: out of memory");
		d->nports = 0;
		return;
	}
	for (p = 0; p < d->nports; p++) {
		d->ports[p].num = p + 1;
		ret = ibv_query_port(ctx, p + 1, &d->ports[p].attr);
		if (ret)
			info_err(&d->errs, "port %u: ibv_query_port: %s", p + 1,
				 strerror(ret));
		else
			d->ports[p].ok = true;
	}
}

int info_dev_probe(struct ibv_device *dev, struct info_dev *d)
{
	struct ibv_context *ctx;
	int ret;

	memset(d, 0, sizeof(*d));
	d->max_inline = -1;
	snprintf(d->name, sizeof(d->name), "%s", ibv_get_device_name(dev));
	d->guid = be64toh(ibv_get_device_guid(dev));
	d->transport = dev->transport_type;
	d->node_type = dev->node_type;
	ctx = ibv_open_device(dev);
	if (!ctx) {
		ret = errno ? errno : ENODEV;
		info_err(&d->errs, "ibv_open_device: %s", strerror(ret));
		return -ret;
	}
	d->opened = true;
	/* Falls back to ibv_query_device, zeroing odp_caps, where needed. */
	ret = ibv_query_device_ex(ctx, NULL, &d->attr);
	if (ret) {
		info_err(&d->errs, "ibv_query_device_ex: %s", strerror(ret));
	} else {
		d->attr_ok = true;
		probe_ports(ctx, d);
		probe_gids(ctx, d);
	}
	probe_inline(ctx, d);
	ibv_close_device(ctx);
	return 0;
}
