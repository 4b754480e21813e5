// SPDX-License-Identifier: BSD-2-Clause
/*
 * libfabric backend, fabric half: provider choice, endpoints, the CQ and
 * its wait fd, registrations. See ofi.h for the design.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "core/addr.h"
#include "core/clock.h"
#include "core/log.h"
#include "transport/ofi/ofi.h"

int rmx__ofi_errno(int fi_err)
{
	if (fi_err < 0)
		fi_err = -fi_err;
	switch (fi_err) {
	case 0:
		return 0;
	case FI_ECANCELED:
		return -ECANCELED;
	case FI_ETRUNC:
	case FI_ETOOSMALL:
		return -EMSGSIZE;
	case FI_EKEYREJECTED:
	case FI_ENOKEY:
	case FI_EACCES:
	case FI_EPERM:
		return -EACCES;
	case FI_EAGAIN:
		return -EAGAIN;
	case FI_EOPBADSTATE:
	case FI_EBADFLAGS:
	case FI_ENOPROTOOPT:
	case FI_EOTHER:
	case FI_EAVAIL:
		return -EIO;
	default:
		/* libfabric's other codes are errno values. */
		return fi_err < FI_ERRNO_OFFSET ? -fi_err : -EIO;
	}
}

static struct fi_info *base_hints(const struct ofi_tp *tp, uint64_t caps)
{
	struct fi_info *h = fi_allocinfo();

	if (!h)
		return NULL;
	h->ep_attr->type = FI_EP_RDM;
	h->caps = caps;
	/* Every operation context starts with a struct fi_context2. */
	h->mode = FI_CONTEXT | FI_CONTEXT2;
	h->domain_attr->mr_mode = FI_MR_LOCAL | FI_MR_VIRT_ADDR |
				  FI_MR_PROV_KEY | FI_MR_ALLOCATED |
				  FI_MR_ENDPOINT;
	h->domain_attr->threading = FI_THREAD_DOMAIN;
	/* The protocol's order: a write lands before a later send. */
	h->tx_attr->msg_order = FI_ORDER_SAS | FI_ORDER_SAW;
	h->rx_attr->msg_order = FI_ORDER_SAS | FI_ORDER_SAW;
	return h;
}

/* Whether info is one rmx can use. */
static bool fits(const struct fi_info *fi)
{
	/* Without remote CQ data a message cannot say its connection. */
	if (fi->domain_attr->cq_data_size < 8)
		return false;
	/* Provider keys with offsets: the initiator cannot learn the base. */
	if ((fi->domain_attr->mr_mode & FI_MR_PROV_KEY) &&
	    !(fi->domain_attr->mr_mode & FI_MR_VIRT_ADDR))
		return false;
	return fi->domain_attr->mr_key_size >= 8 ||
	       (fi->domain_attr->mr_mode & FI_MR_PROV_KEY);
}

/* The first fitting info of provider prov ("" any), with or without atomics. */
static int find_info(struct ofi_tp *tp, const char *prov, const char *node,
		     uint64_t flags, struct fi_info **out)
{
	static const uint64_t want[] = {
		FI_MSG | FI_TAGGED | FI_RMA | FI_ATOMIC,
		FI_MSG | FI_TAGGED | FI_RMA,
	};
	size_t k;
	int ret = -FI_ENODATA;

	for (k = 0; k < sizeof(want) / sizeof(want[0]); k++) {
		struct fi_info *h = base_hints(tp, want[k]), *list, *fi;

		if (!h)
			return -ENOMEM;
		if (*prov)
			h->fabric_attr->prov_name = strdup(prov);
		if (*tp->cfg.domain && !node)
			h->domain_attr->name = strdup(tp->cfg.domain);
		ret = fi_getinfo(OFI_API_VERSION, node, NULL, flags, h, &list);
		fi_freeinfo(h);
		if (ret)
			continue;
		for (fi = list; fi; fi = fi->next) {
			if (!fits(fi))
				continue;
			*out = fi_dupinfo(fi);
			fi_freeinfo(list);
			return *out ? 0 : -ENOMEM;
		}
		fi_freeinfo(list);
		ret = -FI_ENODATA;
	}
	return ret;
}

void rmx__ofi_port_name(int port, char *buf, size_t len)
{
	snprintf(buf, len, "rmx-ofi-%d", port);
}

/*
 * shm appends the uid and a per-process endpoint count to a name given
 * with its "fi_shm://" prefix; given bare, the name is used as is, and
 * peers can find it from the port alone.
 */
static int bare_name(struct fi_info *fi, const char *name)
{
	char *s = strdup(name);

	if (!s)
		return -ENOMEM;
	free(fi->src_addr);
	fi->src_addr = s;
	fi->src_addrlen = strlen(s) + 1;
	return 0;
}

/*
 * A listener on the wildcard address: the provider's getinfo binds the
 * first interface's, so rmx puts back the wildcard with the port.
 */
static int wildcard(struct fi_info *fi)
{
	struct sockaddr_in6 *in6;
	struct sockaddr_in *in;

	if (fi->addr_format == FI_SOCKADDR_IN &&
	    fi->src_addrlen >= sizeof(*in)) {
		in = fi->src_addr;
		in->sin_addr.s_addr = htonl(INADDR_ANY);
	} else if (fi->addr_format == FI_SOCKADDR_IN6 &&
		   fi->src_addrlen >= sizeof(*in6)) {
		in6 = fi->src_addr;
		in6->sin6_addr = in6addr_any;
	}
	return 0;
}

/* Ports shm endpoints take when asked for port 0. */
#define OFI_PORT_LO 20000
#define OFI_PORT_SPAN 40000

bool rmx__ofi_port_taken(int port)
{
	char path[64];

	snprintf(path, sizeof(path), "/dev/shm/rmx-ofi-%d", port);
	return access(path, F_OK) == 0;
}

/*
 * A shm port no endpoint holds now, or -EADDRINUSE. Never try a taken
 * one: libfabric 1.17's shm, finding a name in use by a live process,
 * unlinks it (util_shm.c, smr_retry_map) and so hides that endpoint
 * from everyone who has not reached it yet.
 */
int rmx__ofi_free_port(void)
{
	static unsigned int seq;
	unsigned int i;

	for (i = 0; i < 1000; i++) {
		uint64_t r = (uint64_t)getpid() * 2654435761u +
			     (uint64_t)__atomic_fetch_add(&seq, 1,
							  __ATOMIC_RELAXED) *
				     7919u;
		int port = OFI_PORT_LO + (int)(r % OFI_PORT_SPAN);

		if (!rmx__ofi_port_taken(port))
			return port;
	}
	return -EADDRINUSE;
}

static int getname(struct ofi_stack *st)
{
	size_t len = sizeof(st->name);
	int ret = fi_getname(&st->ep->fid, st->name, &len);

	if (ret)
		return rmx__ofi_errno(ret);
	if (len > sizeof(st->name))
		return -ENAMETOOLONG;
	st->namelen = len;
	return 0;
}

void rmx__ofi_stack_close(struct ofi_tp *tp, struct ofi_stack *st)
{
	if (st->in_loop)
		rmx__loop_del(tp->loop, st->cq_fd);
	st->in_loop = false;
	if (st->ep)
		fi_close(&st->ep->fid);
	if (st->crx_mr)
		fi_close(&st->crx_mr->fid);
	if (st->cq)
		fi_close(&st->cq->fid);
	if (st->av)
		fi_close(&st->av->fid);
	if (st->domain)
		fi_close(&st->domain->fid);
	if (st->fabric)
		fi_close(&st->fabric->fid);
	if (st->info)
		fi_freeinfo(st->info);
	free(st->crx);
	memset(st, 0, sizeof(*st));
	st->cq_fd = -1;
}

int rmx__ofi_ctrl_repost(struct ofi_stack *st, struct ofi_ctrl_rx *r)
{
	void *desc = st->crx_mr ? fi_mr_desc(st->crx_mr) : NULL;
	ssize_t ret;

	r->ctx.kind = OFI_CTX_CTRL_RX;
	ret = fi_trecv(st->ep, r->buf, sizeof(r->buf), desc, FI_ADDR_UNSPEC,
		       OFI_TAG_CTRL, 0, &r->ctx.fctx);
	return ret ? rmx__ofi_errno((int)ret) : 0;
}

static int open_objects(struct ofi_tp *tp, struct ofi_stack *st)
{
	struct fi_cq_attr cqa = {
		.format = FI_CQ_FORMAT_DATA,
		.wait_obj = FI_WAIT_FD,
		.size = st->info->tx_attr->size + st->info->rx_attr->size,
	};
	struct fi_av_attr ava = { .type = FI_AV_UNSPEC };
	int ret;

	ret = fi_fabric(st->info->fabric_attr, &st->fabric, NULL);
	if (!ret)
		ret = fi_domain(st->fabric, st->info, &st->domain, NULL);
	if (!ret)
		ret = fi_av_open(st->domain, &ava, &st->av, NULL);
	if (ret)
		return rmx__ofi_errno(ret);
	ret = fi_cq_open(st->domain, &cqa, &st->cq, NULL);
	if (ret == -FI_ENOSYS) {
		/* shm has no wait object: arm() wakes the loop by timer. */
		cqa.wait_obj = FI_WAIT_NONE;
		ret = fi_cq_open(st->domain, &cqa, &st->cq, NULL);
	} else if (!ret && fi_control(&st->cq->fid, FI_GETWAIT, &st->cq_fd)) {
		st->cq_fd = -1;
	}
	if (!ret)
		ret = fi_endpoint(st->domain, st->info, &st->ep, NULL);
	if (!ret)
		ret = fi_ep_bind(st->ep, &st->av->fid, 0);
	if (!ret)
		ret = fi_ep_bind(st->ep, &st->cq->fid, FI_TRANSMIT | FI_RECV);
	if (!ret)
		ret = fi_enable(st->ep);
	return rmx__ofi_errno(ret);
}

static int post_ctrl_rx(struct ofi_tp *tp, struct ofi_stack *st,
			unsigned int nrx)
{
	unsigned int i;
	int ret;

	st->crx = calloc(nrx, sizeof(*st->crx));
	if (!st->crx)
		return -ENOMEM;
	st->ncrx = nrx;
	if (tp->local_mr) {
		ret = fi_mr_reg(st->domain, st->crx, nrx * sizeof(*st->crx),
				FI_RECV, 0, 0, 0, &st->crx_mr, NULL);
		if (ret)
			return rmx__ofi_errno(ret);
	}
	for (i = 0; i < nrx; i++) {
		ret = rmx__ofi_ctrl_repost(st, &st->crx[i]);
		if (ret)
			return ret;
	}
	return 0;
}

int rmx__ofi_stack_open(struct ofi_tp *tp, struct ofi_stack *st,
			const char *node, const char *service,
			unsigned int nrx)
{
	struct fi_info *h;
	int ret;

	memset(st, 0, sizeof(*st));
	st->cq_fd = -1;
	if (node || service) {
		/* A listener: the main endpoint's provider, bound at node. */
		h = base_hints(tp, tp->st.info->caps);
		if (!h)
			return -ENOMEM;
		h->fabric_attr->prov_name =
			strdup(tp->st.info->fabric_attr->prov_name);
		if (tp->str_addr)
			h->addr_format = FI_ADDR_STR;
		ret = fi_getinfo(OFI_API_VERSION, node, service, FI_SOURCE, h,
				 &st->info);
		fi_freeinfo(h);
		if (!ret && tp->str_addr)
			ret = bare_name(st->info, node);
		else if (!ret && !node)
			ret = wildcard(st->info);
		if (ret) {
			ret = rmx__ofi_errno(ret);
			goto fail;
		}
	} else {
		st->info = fi_dupinfo(tp->st.info);
		if (!st->info)
			return -ENOMEM;
	}
	ret = open_objects(tp, st);
	if (!ret)
		ret = getname(st);
	if (!ret)
		ret = post_ctrl_rx(tp, st, nrx);
	if (!ret && st->cq_fd >= 0) {
		ret = rmx__loop_add(tp->loop, st->cq_fd);
		st->in_loop = !ret;
	}
fail:
	if (ret)
		rmx__ofi_stack_close(tp, st);
	return ret;
}

/*
 * The main endpoint. shm's is named as a port on the node
 * (rmx__ofi_port_name), like its listeners, so that every shm address
 * reads as 127.0.0.1:port.
 */
static int open_main(struct ofi_tp *tp, struct fi_info *fi)
{
	struct ofi_stack *st = &tp->st;
	unsigned int tries;
	int ret;

	tp->str_addr = fi->addr_format == FI_ADDR_STR;
	if (!tp->str_addr) {
		st->info = fi;
		ret = open_objects(tp, st);
		goto named;
	}
	fi_freeinfo(fi);
	for (tries = 0; tries < 64; tries++) {
		char name[64];
		int port = rmx__ofi_free_port();

		if (port < 0)
			return port;
		rmx__ofi_port_name(port, name, sizeof(name));
		ret = find_info(tp, tp->prov, name, FI_SOURCE, &st->info);
		if (!ret)
			ret = bare_name(st->info, name);
		if (ret)
			return rmx__ofi_errno(ret);
		ret = open_objects(tp, st);
		/* Taken since we looked: another one. */
		if (ret != -EEXIST && ret != -EADDRINUSE && ret != -EBUSY)
			goto named;
		rmx__ofi_stack_close(tp, st);
	}
	return -EADDRINUSE;
named:
	if (!ret)
		ret = getname(st);
	if (!ret)
		ret = post_ctrl_rx(tp, st, OFI_CTRL_RX);
	if (!ret && st->cq_fd >= 0) {
		ret = rmx__loop_add(tp->loop, st->cq_fd);
		st->in_loop = !ret;
	}
	return ret;
}

/* Provider order of auto: tcp reaches other nodes, shm only this one. */
static const char *const auto_provs[] = { "tcp", "shm", "" };

static int pick_provider(struct ofi_tp *tp, struct fi_info **out)
{
	size_t i;
	int ret = -FI_ENODATA;

	if (*tp->cfg.provider) {
		snprintf(tp->prov, sizeof(tp->prov), "%s", tp->cfg.provider);
		ret = find_info(tp, tp->prov, NULL, 0, out);
		if (ret)
			rmx__err("RMX_OFI_PROVIDER=%s: libfabric offers no reliable-datagram endpoint with messages, RMA and remote CQ data there (%s; fi_info -t FI_EP_RDM lists what it has)",
				 tp->prov, fi_strerror(-ret));
		return ret ? -ENODEV : 0;
	}
	for (i = 0; i < sizeof(auto_provs) / sizeof(auto_provs[0]); i++) {
		snprintf(tp->prov, sizeof(tp->prov), "%s", auto_provs[i]);
		ret = find_info(tp, tp->prov, NULL, 0, out);
		if (!ret)
			return 0;
	}
	rmx__err("libfabric offers no reliable-datagram endpoint with messages, RMA and remote CQ data (%s): install libfabric1's providers or set FI_PROVIDER/RMX_OFI_PROVIDER",
		 fi_strerror(-ret));
	return -ENODEV;
}

static void ofi_close(struct rmx__tp *base)
{
	struct ofi_tp *tp = (struct ofi_tp *)base;

	rmx__ofi_cm_close(tp);
	rmx__ofi_stack_close(tp, &tp->st);
	rmx__ofi_ops_free(tp);
	if (tp->ctx_mr)
		fi_close(&tp->ctx_mr->fid);
	free(tp->ctx_pool);
	if (tp->timer_in_loop)
		rmx__loop_del(tp->loop, tp->timerfd);
	if (tp->timerfd >= 0)
		close(tp->timerfd);
	free(tp->rx);
	free(tp->slots);
	free(tp);
}

/* What the chosen fi_info says: caps, limits, registration modes. */
static void take_attrs(struct ofi_tp *tp)
{
	const struct fi_info *fi = tp->st.info;
	uint64_t order = FI_ORDER_SAS | FI_ORDER_SAW;
	uint64_t mr_mode = fi->domain_attr->mr_mode;
	size_t rx = fi->rx_attr->size;

	tp->local_mr = mr_mode & FI_MR_LOCAL;
	tp->virt_addr = mr_mode & FI_MR_VIRT_ADDR;
	tp->prov_key = mr_mode & FI_MR_PROV_KEY;
	tp->mr_endpoint = mr_mode & FI_MR_ENDPOINT;
	tp->inject = fi->tx_attr->inject_size < OFI_INLINE_MAX ?
			     (uint32_t)fi->tx_attr->inject_size : OFI_INLINE_MAX;
	tp->max_msg = fi->ep_attr->max_msg_size;
	tp->base.max_priv = OFI_PRIV_MAX;
	tp->base.max_recv = rx > OFI_CTRL_RX + 16 ? (uint32_t)(rx - OFI_CTRL_RX) :
						   16;
	if (tp->base.max_recv > 16384)
		tp->base.max_recv = 16384;
	if (tp->prov_key)
		tp->base.max_key = fi->domain_attr->mr_key_size >= 8 ?
			UINT64_MAX : (1ull << (8 * fi->domain_attr->mr_key_size)) - 1;
	else
		tp->base.max_key = UINT64_MAX;
	/* A write with imm is a write and a notice message (post.c). */
	tp->base.caps = RMX__TP_CAP_IMM_CONSUMES_RECV;
	if ((fi->tx_attr->msg_order & order) == order)
		tp->base.caps |= RMX__TP_CAP_ORDERED;
	/*
	 * rmx registers what it sends, receives and accesses, whatever the
	 * provider needs: the protocol relies on it (FI_MR_LOCAL or not).
	 */
	tp->base.caps |= RMX__TP_CAP_LOCAL_MR;
	snprintf(tp->devname, sizeof(tp->devname), "%s:%s",
		 fi->fabric_attr->prov_name, fi->domain_attr->name);
}

/*
 * 64-bit fetch-add and compare-swap, where the provider has them; their
 * operands live in the op, which is not registered: not under FI_MR_LOCAL.
 */
static bool has_atomics(struct ofi_tp *tp)
{
	size_t n = 0;

	if (!(tp->st.info->caps & FI_ATOMIC) || tp->local_mr)
		return false;
	if (fi_fetch_atomicvalid(tp->st.ep, FI_UINT64, FI_SUM, &n) || !n)
		return false;
	n = 0;
	return !fi_compare_atomicvalid(tp->st.ep, FI_UINT64, FI_CSWAP, &n) && n;
}

/* Control sends: OFI_CTRL_TX buffers, one registration. */
static int ctrl_pool(struct ofi_tp *tp)
{
	unsigned int i;
	int ret;

	tp->ctx_pool = calloc(OFI_CTRL_TX, sizeof(*tp->ctx_pool));
	if (!tp->ctx_pool)
		return -ENOMEM;
	if (tp->local_mr) {
		ret = fi_mr_reg(tp->st.domain, tp->ctx_pool,
				OFI_CTRL_TX * sizeof(*tp->ctx_pool), FI_SEND, 0,
				0, 0, &tp->ctx_mr, NULL);
		if (ret)
			return rmx__ofi_errno(ret);
	}
	for (i = 0; i < OFI_CTRL_TX; i++) {
		tp->ctx_pool[i].ctx.kind = OFI_CTX_CTRL_TX;
		rmx__list_add_tail(&tp->ctrl_free, &tp->ctx_pool[i].node);
	}
	return 0;
}

static int rx_pool(struct ofi_tp *tp)
{
	uint32_t i;

	tp->rx = calloc(tp->base.max_recv, sizeof(*tp->rx));
	if (!tp->rx)
		return -ENOMEM;
	for (i = 0; i < tp->base.max_recv; i++) {
		tp->rx[i].ctx.kind = OFI_CTX_RX;
		tp->rx[i].next_free = i + 1 < tp->base.max_recv ?
					      &tp->rx[i + 1] : NULL;
	}
	tp->rx_free = tp->rx;
	return 0;
}

static const struct rmx__knob ofi_knobs[] = {
	{ .name = "RMX_OFI_PROVIDER", .def = "", .type = RMX__KNOB_STRING,
	  .offset = offsetof(struct ofi_config, provider),
	  .max = OFI_PROV_MAX,
	  .help = "ofi: libfabric provider, e.g. tcp, shm, verbs (default: tcp, else shm, else the first that fits)" },
	{ .name = "RMX_OFI_DOMAIN", .def = "", .type = RMX__KNOB_STRING,
	  .offset = offsetof(struct ofi_config, domain),
	  .max = OFI_PROV_MAX,
	  .help = "ofi: the provider's domain, e.g. an interface for tcp (default: its first)" },
};

static int ofi_open(struct rmx__loop *loop, const struct rmx__tp_upcalls *up,
		    void *upctx, struct rmx__tp **out)
{
	struct ofi_tp *tp = calloc(1, sizeof(*tp));
	struct fi_info *fi = NULL;
	char where[64];
	int ret;

	if (!tp)
		return -ENOMEM;
	tp->base.ops = &rmx__ofi_ops;
	tp->up = up;
	tp->upctx = upctx;
	tp->loop = loop;
	tp->timerfd = -1;
	tp->st.cq_fd = -1;
	rmx__list_init(&tp->conns);
	rmx__list_init(&tp->listeners);
	rmx__list_init(&tp->peers);
	rmx__list_init(&tp->busy);
	rmx__list_init(&tp->ctrl_free);
	rmx__list_init(&tp->ctrl_heap);
	rmx__list_init(&tp->ready);
	rmx__list_init(&tp->ops_all);
	ret = rmx__knobs_load(ofi_knobs, sizeof(ofi_knobs) / sizeof(ofi_knobs[0]),
			      &tp->cfg, NULL);
	if (ret) {
		free(tp);
		return ret;
	}
	ret = pick_provider(tp, &fi);
	if (ret) {
		free(tp);
		return ret;
	}
	ret = open_main(tp, fi);
	if (ret) {
		rmx__err("ofi: cannot open a %s endpoint: %s", tp->prov,
			 strerror(-ret));
		goto fail;
	}
	take_attrs(tp);
	if (has_atomics(tp))
		tp->base.caps |= RMX__TP_CAP_ATOMIC;
	ret = ctrl_pool(tp);
	if (!ret)
		ret = rx_pool(tp);
	if (!ret) {
		tp->timerfd = timerfd_create(CLOCK_MONOTONIC,
					     TFD_NONBLOCK | TFD_CLOEXEC);
		ret = tp->timerfd < 0 ? -errno : rmx__loop_add(loop, tp->timerfd);
		tp->timer_in_loop = !ret;
	}
	if (ret) {
		rmx__err("ofi: %s: cannot set up the endpoint's buffers: %s",
			 tp->devname, strerror(-ret));
		goto fail;
	}
	{
		struct sockaddr_storage ss;

		if (rmx__ofi_name_to_sa(tp, tp->st.name, tp->st.namelen, &ss))
			strcpy(where, "?");
		else
			rmx__addr_format((struct sockaddr *)&ss, where,
					 sizeof(where));
	}
	rmx__info("opened ofi %s at %s (max_recv %u, inline %u, %s%s%s)",
		  tp->devname, where, tp->base.max_recv, tp->inject,
		  tp->base.caps & RMX__TP_CAP_ORDERED ? "ordered" : "unordered",
		  tp->base.caps & RMX__TP_CAP_ATOMIC ? ", atomics" : "",
		  tp->st.cq_fd < 0 ? ", polled" : "");
	*out = &tp->base;
	return 0;
fail:
	ofi_close(&tp->base);
	return ret;
}

static const char *ofi_device_name(const struct rmx__tp *base)
{
	return ((const struct ofi_tp *)base)->devname;
}

static int ofi_host_addr(const struct rmx__tp *base,
			 struct sockaddr_storage *out)
{
	const struct ofi_tp *tp = (const struct ofi_tp *)base;
	int ret = rmx__ofi_name_to_sa(tp, tp->st.name, tp->st.namelen, out);

	if (ret) {
		rmx__err("ofi: %s's endpoint has no IP address", tp->devname);
		return -EADDRNOTAVAIL;
	}
	if (out->ss_family == AF_INET)
		((struct sockaddr_in *)out)->sin_port = 0;
	else if (out->ss_family == AF_INET6)
		((struct sockaddr_in6 *)out)->sin6_port = 0;
	return 0;
}

/* Hands rx's completion to the layer above, naming c (or none). */
static void deliver_rx(struct ofi_tp *tp, struct ofi_rx *rx,
		       struct ofi_conn *c)
{
	struct rmx__tp_comp comp = {
		.wr_ctx = rx->wr_ctx,
		.kind = RMX__TP_COMP_RECV,
		.status = rx->status,
		.len = (uint32_t)rx->len,
	};
	uint32_t v;

	if (!rx->status && (rx->data & OFI_DATA_IMM) &&
	    (rx->flags & FI_REMOTE_CQ_DATA)) {
		if (rx->len != OFI_NOTICE_LEN) {
			comp.status = -EPROTO;
		} else {
			comp.has_imm = true;
			memcpy(&v, rx->buf, 4);
			comp.imm = ntohl(v);
			memcpy(&v, (const uint8_t *)rx->buf + 4, 4);
			comp.len = ntohl(v);
		}
	}
	/* A connection that failed or closed names none of its arrivals. */
	if (c && (c->failed || c->state == OFI_C_CLOSED))
		c = NULL;
	comp.conn = c ? &c->base : NULL;
	rx->next_free = tp->rx_free;
	tp->rx_free = rx;
	tp->up->completion(tp->upctx, &comp);
}

void rmx__ofi_recv_done(struct ofi_tp *tp, struct ofi_rx *rx)
{
	struct ofi_conn *c = NULL;
	uint32_t token, seq;

	if (rx->flags & FI_REMOTE_CQ_DATA)
		c = rmx__ofi_conn_by_token(tp, (uint32_t)rx->data &
						       OFI_TOKEN_MASK);
	if (!c) {
		deliver_rx(tp, rx, NULL);
		return;
	}
	seq = (uint32_t)(rx->data >> 32);
	if (seq != c->rx_seq) {
		rx->next_free = c->early;
		c->early = rx;
		return;
	}
	token = c->token;
	for (;;) {
		struct ofi_rx **pp;

		c->rx_seq++;
		deliver_rx(tp, rx, c);
		/* The upcall may have destroyed it. */
		c = rmx__ofi_conn_by_token(tp, token);
		if (!c)
			return;
		for (pp = &c->early; *pp; pp = &(*pp)->next_free)
			if ((uint32_t)((*pp)->data >> 32) == c->rx_seq)
				break;
		rx = *pp;
		if (!rx)
			return;
		*pp = rx->next_free;
	}
}

int rmx__ofi_orphans(struct ofi_tp *tp)
{
	int n = 0;

	while (tp->orphans) {
		struct ofi_rx *rx = tp->orphans;

		tp->orphans = rx->next_free;
		deliver_rx(tp, rx, NULL);
		n++;
	}
	return n;
}

static void dispatch(struct ofi_tp *tp, struct ofi_listener *l,
		     struct ofi_stack *st, void *ctx, uint64_t flags,
		     uint64_t data, size_t len, int status)
{
	struct ofi_ctx *oc = ctx;
	struct ofi_ctrl_rx *r;

	switch (oc->kind) {
	case OFI_CTX_RX:
		((struct ofi_rx *)oc)->flags = flags;
		((struct ofi_rx *)oc)->data = data;
		((struct ofi_rx *)oc)->len = len;
		((struct ofi_rx *)oc)->status = status;
		rmx__ofi_recv_done(tp, (struct ofi_rx *)oc);
		break;
	case OFI_CTX_OP:
		rmx__ofi_op_done(tp, (struct ofi_op *)oc, status);
		break;
	case OFI_CTX_CTRL_RX:
		r = (struct ofi_ctrl_rx *)oc;
		if (status == -ECANCELED)
			break;	/* the endpoint closes */
		if (!status)
			rmx__ofi_ctrl_recv(tp, l, r->buf, len);
		else
			rmx__warn("ofi: a control message failed: %s",
				  strerror(-status));
		status = rmx__ofi_ctrl_repost(st, r);
		if (status)
			rmx__err("ofi: cannot repost a control receive: %s",
				 strerror(-status));
		break;
	case OFI_CTX_CTRL_TX:
		rmx__ofi_ctrl_sent(tp, (struct ofi_ctrl_tx *)oc, status);
		break;
	}
}

/* Reads and handles up to one batch of st's CQ; the count or -errno. */
static int poll_cq(struct ofi_tp *tp, struct ofi_listener *l,
		   struct ofi_stack *st)
{
	struct fi_cq_data_entry e[OFI_POLL_BATCH];
	struct fi_cq_err_entry err;
	ssize_t n, i;

	n = fi_cq_read(st->cq, e, OFI_POLL_BATCH);
	if (n == -FI_EAGAIN)
		return 0;
	if (n == -FI_EAVAIL) {
		memset(&err, 0, sizeof(err));
		n = fi_cq_readerr(st->cq, &err, 0);
		if (n == -FI_EAGAIN)
			return 0;
		if (n < 0)
			return rmx__ofi_errno((int)n);
		rmx__dbg("ofi: completion error: %s (%s)", fi_strerror(err.err),
			 fi_cq_strerror(st->cq, err.prov_errno, err.err_data,
					NULL, 0));
		dispatch(tp, l, st, err.op_context, err.flags, err.data,
			 err.len, rmx__ofi_errno(err.err ? err.err : FI_EIO));
		return 1;
	}
	if (n < 0)
		return rmx__ofi_errno((int)n);
	for (i = 0; i < n; i++)
		dispatch(tp, l, st, e[i].op_context, e[i].flags, e[i].data,
			 e[i].len, 0);
	return (int)n;
}

static int ofi_progress(struct rmx__tp *base)
{
	struct ofi_tp *tp = (struct ofi_tp *)base;
	struct rmx__list *pos, *next;
	uint64_t ticks;
	int n, total = 0;

	if (tp->timerfd >= 0 && read(tp->timerfd, &ticks, sizeof(ticks)) < 0 &&
	    errno != EAGAIN)
		return -errno;
	rmx__ofi_backlog(tp);
	total += rmx__ofi_orphans(tp);
	n = poll_cq(tp, NULL, &tp->st);
	if (n < 0)
		return n;
	total += n;
	for (pos = tp->listeners.next; pos != &tp->listeners; pos = next) {
		struct ofi_listener *l =
			rmx__container_of(pos, struct ofi_listener, node);

		next = pos->next;
		n = poll_cq(tp, l, &l->st);
		if (n < 0)
			return n;
		total += n;
	}
	n = rmx__ofi_cm_progress(tp);
	return n < 0 ? n : total + n;
}

/* fi_trywait on st: 0 when it may sleep, -EAGAIN when events wait. */
static int trywait(struct ofi_stack *st)
{
	struct fid *f = &st->cq->fid;
	int ret;

	if (st->cq_fd < 0)
		return 0;
	ret = fi_trywait(st->fabric, &f, 1);
	if (ret == -FI_EAGAIN)
		return -EAGAIN;
	return ret ? rmx__ofi_errno(ret) : 0;
}

static int set_timer(struct ofi_tp *tp, int64_t deadline_ms)
{
	struct itimerspec its = { 0 };
	int64_t left;

	if (deadline_ms != INT64_MAX) {
		left = deadline_ms - rmx__now_ms();
		if (left <= 0)
			return -EAGAIN;
		its.it_value.tv_sec = left / 1000;
		its.it_value.tv_nsec = (left % 1000) * 1000000;
	}
	return timerfd_settime(tp->timerfd, 0, &its, NULL) ? -errno : 0;
}

static int ofi_arm(struct rmx__tp *base)
{
	struct ofi_tp *tp = (struct ofi_tp *)base;
	struct rmx__list *pos;
	int64_t deadline = rmx__ofi_cm_deadline(tp);
	bool polled = tp->st.cq_fd < 0;
	int ret;

	if (!rmx__list_empty(&tp->ready) || tp->orphans)
		return -EAGAIN;
	/* Sends waiting for a peer's connection: try again in a moment. */
	if (!rmx__list_empty(&tp->busy))
		polled = true;
	ret = trywait(&tp->st);
	for (pos = tp->listeners.next; !ret && pos != &tp->listeners;
	     pos = pos->next) {
		struct ofi_listener *l =
			rmx__container_of(pos, struct ofi_listener, node);

		ret = trywait(&l->st);
		polled |= l->st.cq_fd < 0;
	}
	if (ret)
		return ret;
	/* No fd to wait on: look again in a millisecond. */
	if (polled && deadline > rmx__now_ms() + 1)
		deadline = rmx__now_ms() + 1;
	return set_timer(tp, deadline);
}

struct ofi_mr {
	struct rmx__tp_mr base;
	struct fid_mr *mr;
};

void *rmx__ofi_mr_desc(const struct rmx__tp_mr *mr)
{
	return mr ? fi_mr_desc(((const struct ofi_mr *)mr)->mr) : NULL;
}

static int reg_one(struct ofi_tp *tp, struct ofi_mr *m, void *addr,
		   size_t len, uint64_t acc, uint64_t key)
{
	int ret = fi_mr_reg(tp->st.domain, addr, len, acc, 0, key, 0, &m->mr,
			    NULL);

	if (ret)
		return ret;
	if (tp->mr_endpoint) {
		ret = fi_mr_bind(m->mr, &tp->st.ep->fid, 0);
		if (!ret)
			ret = fi_mr_enable(m->mr);
		if (ret) {
			fi_close(&m->mr->fid);
			m->mr = NULL;
		}
	}
	return ret;
}

/*
 * Whether [addr, addr + len) is mapped, and writable if write: 0 or
 * -EFAULT. Software providers pin nothing, so a registration of pages
 * the process may not write would succeed and the provider would fault
 * writing them; verbs refuses such a registration, and so does rmx here.
 */
static int check_pages(const void *addr, size_t len, bool write)
{
	uintptr_t cur = (uintptr_t)addr, end = cur + len;
	unsigned long lo, hi;
	char perm[5], line[512];
	FILE *f;

	if (!len)
		return 0;
	f = fopen("/proc/self/maps", "re");
	if (!f)
		return 0;	/* cannot tell: let the provider try */
	while (cur < end && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx %4s", &lo, &hi, perm) != 3 ||
		    hi <= cur)
			continue;
		if (lo > cur || perm[0] != 'r' || (write && perm[1] != 'w'))
			break;
		cur = hi;
	}
	fclose(f);
	return cur >= end ? 0 : -EFAULT;
}

static int ofi_mr_reg(struct rmx__tp *base, void *addr, size_t len,
		      unsigned int access, struct rmx__tp_mr **out)
{
	struct ofi_tp *tp = (struct ofi_tp *)base;
	struct ofi_mr *m;
	uint64_t acc = FI_SEND | FI_RECV | FI_READ | FI_WRITE, key = 0;
	int ret, tries;

	if (access & RMX__TP_ON_DEMAND)
		return -EOPNOTSUPP;
	ret = check_pages(addr, len, access & (RMX__TP_LOCAL_WRITE |
					       RMX__TP_REMOTE_WRITE |
					       RMX__TP_REMOTE_ATOMIC));
	if (ret) {
		rmx__err("ofi: cannot register %p, %zu bytes: not all mapped%s",
			 addr, len, access & RMX__TP_LOCAL_WRITE ?
					    " and writable" : "");
		return ret;
	}
	if (!tp->prov_key && (uintptr_t)addr > OFI_KEY_ADDR_MASK) {
		rmx__err("ofi: %p is above the 47-bit addresses rmx's keys encode",
			 addr);
		return -EINVAL;
	}
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	if (access & (RMX__TP_REMOTE_READ | RMX__TP_REMOTE_ATOMIC))
		acc |= FI_REMOTE_READ;
	if (access & (RMX__TP_REMOTE_WRITE | RMX__TP_REMOTE_ATOMIC))
		acc |= FI_REMOTE_WRITE;
	/* A key another registration holds: the next counter value. */
	ret = -FI_ENOKEY;
	for (tries = 0; ret == -FI_ENOKEY && tries < 16; tries++) {
		if (!tp->prov_key)
			key = (tp->key_seq++ << OFI_KEY_SEQ_SHIFT) |
			      ((uintptr_t)addr & OFI_KEY_ADDR_MASK) |
			      (access & RMX__TP_REMOTE_ATOMIC ? OFI_KEY_ATOMIC : 0) |
			      (access & RMX__TP_REMOTE_READ ? OFI_KEY_READ : 0);
		ret = reg_one(tp, m, addr, len, acc, key);
	}
	if (ret) {
		ret = rmx__ofi_errno(ret);
		rmx__err("ofi: fi_mr_reg(%p, %zu) on %s failed: %s%s", addr, len,
			 tp->devname, strerror(-ret),
			 ret == -ENOMEM || ret == -EPERM ?
				 " (check ulimit -l / RLIMIT_MEMLOCK)" : "");
		free(m);
		return ret;
	}
	m->base.tp = base;
	m->base.addr = addr;
	m->base.len = len;
	m->base.rkey = tp->prov_key ? fi_mr_key(m->mr) : key;
	*out = &m->base;
	return 0;
}

static int ofi_mr_dereg(struct rmx__tp_mr *base)
{
	struct ofi_mr *m = (struct ofi_mr *)base;
	int ret = fi_close(&m->mr->fid);

	if (ret) {
		rmx__err("ofi: fi_close(mr): %s", fi_strerror(-ret));
		return rmx__ofi_errno(ret);
	}
	free(m);
	return 0;
}

const struct rmx__tp_ops rmx__ofi_ops = {
	.name = "ofi",
	.knobs = ofi_knobs,
	.nknobs = sizeof(ofi_knobs) / sizeof(ofi_knobs[0]),
	.open = ofi_open,
	.close = ofi_close,
	.device_name = ofi_device_name,
	.host_addr = ofi_host_addr,
	.progress = ofi_progress,
	.arm = ofi_arm,
	.mr_reg = ofi_mr_reg,
	.mr_dereg = ofi_mr_dereg,
	.listen = rmx__ofi_listen,
	.listener_port = rmx__ofi_listener_port,
	.listener_close = rmx__ofi_listener_close,
	.connect = rmx__ofi_connect,
	.accept = rmx__ofi_accept,
	.conn_caps = rmx__ofi_conn_caps,
	.conn_addr = rmx__ofi_conn_addr,
	.conn_destroy = rmx__ofi_conn_destroy,
	.post_recv = rmx__ofi_post_recv,
	.post_send = rmx__ofi_post_send,
	.post_rma = rmx__ofi_post_rma,
};
