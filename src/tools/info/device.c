// SPDX-License-Identifier: BSD-2-Clause
/*
 * rmx-info: probing one RDMA device with libibverbs, and the names of
 * what it reports. Failures are recorded in the device's report and the
 * probe goes on with what it can still learn.
 */
#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"

/* rmx asks for at most this much inline data (RMX_MAX_INLINE's bound). */
#define INLINE_ASK_MAX 4096

const struct info_flag info_odp_general[] = {
	{ IBV_ODP_SUPPORT, "SUPPORT" },
	{ IBV_ODP_SUPPORT_IMPLICIT, "IMPLICIT" },
	{ 0, NULL },
};

const struct info_flag info_odp_rc[] = {
	{ IBV_ODP_SUPPORT_SEND, "SEND" },
	{ IBV_ODP_SUPPORT_RECV, "RECV" },
	{ IBV_ODP_SUPPORT_WRITE, "WRITE" },
	{ IBV_ODP_SUPPORT_READ, "READ" },
	{ IBV_ODP_SUPPORT_ATOMIC, "ATOMIC" },
	{ IBV_ODP_SUPPORT_SRQ_RECV, "SRQ_RECV" },
	{ 0, NULL },
};

void info_err(struct info_errs *e, const char *fmt, ...)
{
	va_list ap;

	if (e->n == INFO_MAX_ERRS) {
		e->dropped++;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(e->msg[e->n++], sizeof(e->msg[0]), fmt, ap);
	va_end(ap);
}

const char *info_transport_str(enum ibv_transport_type t)
{
	switch (t) {
	case IBV_TRANSPORT_IB:
		return "InfiniBand";
	case IBV_TRANSPORT_IWARP:
		return "iWARP";
	case IBV_TRANSPORT_USNIC:
		return "usNIC";
	case IBV_TRANSPORT_USNIC_UDP:
		return "usNIC UDP";
	case IBV_TRANSPORT_UNSPECIFIED:
		return "unspecified";
	default:
		return "unknown";
	}
}

const char *info_gid_type_str(uint32_t type)
{
	switch (type) {
	case IBV_GID_TYPE_IB:
		return "IB";
	case IBV_GID_TYPE_ROCE_V1:
		return "RoCEv1";
	case IBV_GID_TYPE_ROCE_V2:
		return "RoCEv2";
	default:
		return "unknown";
	}
}

const char *info_link_layer_str(uint8_t ll)
{
	switch (ll) {
	/* Old kernels leave it unset on InfiniBand ports. */
	case IBV_LINK_LAYER_UNSPECIFIED:
	case IBV_LINK_LAYER_INFINIBAND:
		return "InfiniBand";
	case IBV_LINK_LAYER_ETHERNET:
		return "Ethernet";
	default:
		return "unknown";
	}
}

/* As ibv_devinfo(1) names them (ibv_port_state_str() says "active"). */
const char *info_port_state_str(enum ibv_port_state s)
{
	switch (s) {
	case IBV_PORT_NOP:
		return "PORT_NOP";
	case IBV_PORT_DOWN:
		return "PORT_DOWN";
	case IBV_PORT_INIT:
		return "PORT_INIT";
	case IBV_PORT_ARMED:
		return "PORT_ARMED";
	case IBV_PORT_ACTIVE:
		return "PORT_ACTIVE";
	case IBV_PORT_ACTIVE_DEFER:
		return "PORT_ACTIVE_DEFER";
	default:
		return "unknown";
	}
}

const char *info_phys_state_str(uint8_t s)
{
	static const char *const names[] = {
		[1] = "SLEEP", [2] = "POLLING", [3] = "DISABLED",
		[4] = "PORT_CONFIGURATION_TRAINING", [5] = "LINK_UP",
		[6] = "LINK_ERROR_RECOVERY", [7] = "PHY_TEST",
	};

	if (s < sizeof(names) / sizeof(names[0]) && names[s])
		return names[s];
	return "unknown";
}

const char *info_atomic_str(enum ibv_atomic_cap a)
{
	switch (a) {
	case IBV_ATOMIC_NONE:
		return "ATOMIC_NONE";
	case IBV_ATOMIC_HCA:
		return "ATOMIC_HCA";
	case IBV_ATOMIC_GLOB:
		return "ATOMIC_GLOB";
	default:
		return "unknown";
	}
}

int info_mtu_bytes(enum ibv_mtu m)
{
	return m >= IBV_MTU_256 && m <= IBV_MTU_4096 ? 128 << m : 0;
}

int info_width_lanes(uint8_t w)
{
	switch (w) {
	case 1:
		return 1;
	case 2:
		return 4;
	case 4:
		return 8;
	case 8:
		return 12;
	case 16:
		return 2;
	default:
		return 0;
	}
}

const char *info_width_str(uint8_t w)
{
	switch (info_width_lanes(w)) {
	case 1:
		return "1X";
	case 2:
		return "2X";
	case 4:
		return "4X";
	case 8:
		return "8X";
	case 12:
		return "12X";
	default:
		return "unknown";
	}
}

/* Nominal rates, as ibv_devinfo(1) prints them. */
double info_lane_gbps(uint8_t speed, const char **name)
{
	static const struct {
		uint8_t code;
		double gbps;
		const char *name;
	} t[] = {
		{ 1, 2.5, "SDR" }, { 2, 5.0, "DDR" }, { 4, 10.0, "QDR" },
		{ 8, 10.0, "FDR10" }, { 16, 14.0, "FDR" }, { 32, 25.0, "EDR" },
		{ 64, 50.0, "HDR" }, { 128, 100.0, "NDR" },
	};
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		if (t[i].code == speed) {
			*name = t[i].name;
			return t[i].gbps;
		}
	}
	*name = "unknown";
	return 0;
}

void info_rcache_probe(struct info_dev *d)
{
	const char *old = getenv("RMX_DEVICE"), *why;
	char *saved = old ? strdup(old) : NULL;
	rmx_context_t *ctx;
	int ret;

	setenv("RMX_DEVICE", d->name, 1);
	ret = rmx_context_create(&ctx);
	if (ret) {
		d->rcache_mode = ret;
		snprintf(d->rcache_why, sizeof(d->rcache_why),
			 "rmx_context_create: %s", rmx_strerror(ret));
	} else {
		d->rcache_mode = rmx_rcache_mode(ctx, &why);
		snprintf(d->rcache_why, sizeof(d->rcache_why), "%s", why);
		rmx_context_destroy(ctx);
	}
	if (saved)
		setenv("RMX_DEVICE", saved, 1);
	else
		unsetenv("RMX_DEVICE");
	free(saved);
}

const char *info_rcache_mode_str(int mode)
{
	switch (mode) {
	case RMX_RCACHE_OFF:
		return "off";
	case RMX_RCACHE_UFFD:
		return "uffd";
	case RMX_RCACHE_ODP:
		return "odp";
	case RMX_RCACHE_ODP_IMPLICIT:
		return "implicit-odp";
	case RMX_RCACHE_UNWATCHED:
		return "none";
	default:
		return "unknown";
	}
}

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
	if (d->attr_ok)
		info_rcache_probe(d);
	return 0;
}

void info_dev_free(struct info_dev *d)
{
	free(d->ports);
	free(d->gids);
	d->ports = NULL;
	d->gids = NULL;
}
