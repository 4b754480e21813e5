// SPDX-License-Identifier: BSD-2-Clause
/*
 * rping's protocol, as rdma-core's rping speaks it, over librdmacm and
 * libibverbs directly: rping's messages carry no rmx headers.
 *
 * Each message is a 16-byte send { be64 addr; be32 rkey; be32 len }. Per
 * ping the client sends its source buffer's descriptor, the server RDMA
 * READs the source and answers with a go-ahead (16 bytes, content
 * ignored); the client sends its sink buffer's descriptor, the server RDMA
 * WRITEs the data there and sends a second go-ahead; the client compares
 * (-V). The client ends by disconnecting.
 *
 * One thread serves everything: the CM channel and every connection's CQ
 * channels are polled together, so a persistent server handles clients
 * side by side, and every wait for the peer has a deadline.
 */
#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rdma/rdma_cma.h>
#include <rdma/rdma_verbs.h>

#include "rping.h"

#define INFO_LEN 16		/* struct rping_rdma_info */
#define RECV_LEN 64		/* > INFO_LEN: a wrong size is named, not LEN_ERR */
#define SQ_DEPTH 16		/* rping's */
#define RQ_DEPTH 2
#define DATA_LEN (RPING_MAX_SIZE + 1)	/* server: any client size, plus NUL */
#define CLOSE_WAIT_MS 1000	/* for DISCONNECTED after our disconnect */
#define LISTEN_BACKLOG 16

enum wr_kind { WR_RECV = 1, WR_SEND, WR_READ, WR_WRITE };

enum state {
	ST_RESOLVING,	/* client: address and route */
	ST_CONNECTING,	/* client: connect request sent */
	ST_WAIT_SRC,	/* server: for the source descriptor */
	ST_READING,	/* server: RDMA READ posted */
	ST_WAIT_SINK,	/* server: for the sink descriptor */
	ST_WRITING,	/* server: RDMA WRITE posted */
	ST_GO_READ,	/* client: source sent, for the first go-ahead */
	ST_GO_WRITE,	/* client: sink sent, for the second */
	ST_CLOSING,	/* we disconnected: for DISCONNECTED, briefly */
	ST_DONE,	/* finished; status says how */
};

static const char *const state_what[] = {
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

struct rping;

struct conn {
	struct rping *rp;
	struct conn *next;
	struct rdma_cm_id *id;
	enum state state;
	int status;		/* 0, or the first error (negative errno) */
	int established;
	int flushed;		/* the QP is in error; the CM says why */
	int64_t deadline;	/* CLOCK_MONOTONIC ms */
	long pings;		/* completed */
	char peer[INET6_ADDRSTRLEN + 8];

	/* Client: a step needs both the go-ahead and our send's completion. */
	int got_go, send_done;

	uint8_t recv_buf[RECV_LEN];
	uint8_t send_buf[2][INFO_LEN];	/* client: source, sink; server: go-ahead */
	char *start;			/* client: source */
	char *data;			/* client: sink; server: what it read */
	struct ibv_mr *recv_mr, *send_mr, *start_mr, *data_mr;

	uint64_t raddr;		/* server: the client's last descriptor */
	uint32_t rkey, rlen;
	uint32_t dlen;		/* server: bytes read */
};

struct rping {
	const struct ping_opts *o;
	struct rdma_event_channel *ch;
	struct rdma_cm_id *listen;
	struct conn *conns;
	int served;		/* server: connections accepted */
	int status;		/* first failure, of any connection */
	int fatal;		/* the run itself failed: wind down */
	struct pollfd *pfd;
	size_t pfd_cap;
};

static const struct rdma_conn_param conn_param = {
	/* rping's: one RDMA read in flight each way, retries unlimited */
	.responder_resources = 1,
	.initiator_depth = 1,
	.retry_count = 7,
	.rnr_retry_count = 7,
};

#define DBG(rp, ...)					\
	do {						\
		if ((rp)->o->debug)			\
			printf(__VA_ARGS__);		\
	} while (0)

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void info_encode(uint8_t *b, const void *addr, uint32_t rkey,
			uint32_t len)
{
	uint64_t a = htobe64((uint64_t)(uintptr_t)addr);
	uint32_t k = htobe32(rkey), l = htobe32(len);

	memcpy(b, &a, 8);
	memcpy(b + 8, &k, 4);
	memcpy(b + 12, &l, 4);
}

static void info_decode(const uint8_t *b, uint64_t *addr, uint32_t *rkey,
			uint32_t *len)
{
	uint64_t a;
	uint32_t k, l;

	memcpy(&a, b, 8);
	memcpy(&k, b + 8, 4);
	memcpy(&l, b + 12, 4);
	*addr = be64toh(a);
	*rkey = be32toh(k);
	*len = be32toh(l);
}

static void sa_format(const struct sockaddr *sa, char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN] = "?";

	if (sa && sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)sa;

		inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip));
		snprintf(buf, len, "%s:%d", ip, ntohs(in->sin_port));
	} else if (sa && sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)sa;

		inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip));
		snprintf(buf, len, "[%s]:%d", ip, ntohs(in6->sin6_port));
	} else {
		snprintf(buf, len, "?");
	}
}

/* host (numeric or a name) and port into *ss, as rping's get_addr(). */
static int get_addr(const char *host, int port, struct sockaddr_storage *ss)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res;
	int ret;

	ret = getaddrinfo(host, NULL, &hints, &res);
	if (ret) {
		fprintf(stderr, "rmx-ping: cannot resolve \"%s\": %s\n", host,
			gai_strerror(ret));
		return -EINVAL;
	}
	memset(ss, 0, sizeof(*ss));
	if (res->ai_family == AF_INET || res->ai_family == AF_INET6) {
		memcpy(ss, res->ai_addr, res->ai_addrlen);
		ret = 0;
	} else {
		fprintf(stderr, "rmx-ping: \"%s\" is not an IP address\n", host);
		ret = -EAFNOSUPPORT;
	}
	freeaddrinfo(res);
	if (ss->ss_family == AF_INET)
		((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
	else if (ss->ss_family == AF_INET6)
		((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)port);
	return ret;
}

static int set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	return 0;
}

static void conn_msg(struct conn *c, const char *fmt, va_list ap)
{
	fprintf(stderr, "rmx-ping: %s %s: ",
		c->rp->o->server ? "client" : "server", c->peer);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

/* Sends the disconnect, or finishes at once when there is no connection. */
static void conn_close(struct conn *c)
{
	if (c->state == ST_CLOSING || c->state == ST_DONE)
		return;
	if (c->established && !c->flushed && !rdma_disconnect(c->id)) {
		c->state = ST_CLOSING;
		c->deadline = now_ms() + CLOSE_WAIT_MS;
		return;
	}
	c->state = ST_DONE;
}

/* Records the first error, says it, and winds the connection down. */
__attribute__((format(printf, 3, 4)))
static void conn_fail(struct conn *c, int err, const char *fmt, ...)
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
	conn_close(c);
}

static void conn_progress(struct conn *c)
{
	c->deadline = now_ms() + c->rp->o->timeout_ms;
}

static struct conn *conn_new(struct rping *rp)
{
	struct conn *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->rp = rp;
	c->next = rp->conns;
	rp->conns = c;
	snprintf(c->peer, sizeof(c->peer), "?");
	conn_progress(c);
	return c;
}

static void conn_free(struct conn *c)
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

static int post_recv(struct conn *c)
{
	if (rdma_post_recv(c->id, (void *)(uintptr_t)WR_RECV, c->recv_buf,
			   sizeof(c->recv_buf), c->recv_mr))
		return -errno;
	return 0;
}

static int post_send(struct conn *c, int which)
{
	if (rdma_post_send(c->id, (void *)(uintptr_t)WR_SEND,
			   c->send_buf[which], INFO_LEN, c->send_mr,
			   IBV_SEND_SIGNALED))
		return -errno;
	return 0;
}

/* QP, CQs (librdmacm's, one channel each), buffers, first receive. */
static int conn_setup(struct conn *c)
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
		fprintf(stderr, "rmx-ping: rdma_create_qp: %s\n", strerror(errno));
		return ret;
	}
	ret = set_nonblock(id->send_cq_channel->fd);
	if (!ret)
		ret = set_nonblock(id->recv_cq_channel->fd);
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
	return post_recv(c);

reg_failed:
	ret = -errno;
	fprintf(stderr, "rmx-ping: ibv_reg_mr: %s\n", strerror(errno));
	return ret;
}

/* ---- client ---------------------------------------------------------- */

static void client_ping(struct conn *c)
{
	const struct ping_opts *o = c->rp->o;
	int ret;

	if (ping_stop || (o->count && c->pings >= o->count)) {
		conn_close(c);
		return;
	}
	ping_fill(c->start, o->size, c->pings);
	if (o->validate)
		memset(c->data, 0, o->size);	/* so -V proves this write */
	info_encode(c->send_buf[0], c->start, c->start_mr->rkey,
		    (uint32_t)o->size);
	DBG(c->rp, "RDMA addr %" PRIxPTR " rkey %x len %zu\n",
	    (uintptr_t)c->start, c->start_mr->rkey, o->size);
	c->got_go = 0;
	c->send_done = 0;
	ret = post_send(c, 0);
	if (ret) {
		conn_fail(c, ret, "posting a send: %s", strerror(-ret));
		return;
	}
	c->state = ST_GO_READ;
}

/* Both the go-ahead and our send's completion are in: the next step. */
static void client_step(struct conn *c)
{
	const struct ping_opts *o = c->rp->o;
	int ret;

	if (!c->got_go || !c->send_done)
		return;
	c->got_go = 0;
	c->send_done = 0;
	if (c->state == ST_GO_READ) {
		info_encode(c->send_buf[1], c->data, c->data_mr->rkey,
			    (uint32_t)o->size);
		DBG(c->rp, "RDMA addr %" PRIxPTR " rkey %x len %zu\n",
		    (uintptr_t)c->data, c->data_mr->rkey, o->size);
		ret = post_send(c, 1);
		if (ret) {
			conn_fail(c, ret, "posting a send: %s", strerror(-ret));
			return;
		}
		c->state = ST_GO_WRITE;
		return;
	}
	if (o->validate && memcmp(c->start, c->data, o->size)) {
		conn_fail(c, -EBADMSG, "data mismatch in ping %ld!", c->pings);
		return;
	}
	if (o->verbose)
		printf("ping data: %.*s\n", (int)strnlen(c->data, o->size),
		       c->data);
	c->pings++;
	client_ping(c);
}

static int client_start(struct rping *rp)
{
	const struct ping_opts *o = rp->o;
	struct sockaddr_storage dst, src;
	struct conn *c;
	int ret;

	ret = get_addr(o->addr, o->port, &dst);
	if (!ret && o->src)
		ret = get_addr(o->src, 0, &src);
	if (ret)
		return ret;
	c = conn_new(rp);
	if (!c)
		return -ENOMEM;
	sa_format((struct sockaddr *)&dst, c->peer, sizeof(c->peer));
	if (rdma_create_id(rp->ch, &c->id, c, RDMA_PS_TCP)) {
		ret = -errno;
		c->id = NULL;
		conn_fail(c, ret, "rdma_create_id: %s", strerror(-ret));
		return 0;
	}
	DBG(rp, "created cm_id %p\n", (void *)c->id);
	c->state = ST_RESOLVING;
	if (rdma_resolve_addr(c->id, o->src ? (struct sockaddr *)&src : NULL,
			      (struct sockaddr *)&dst, o->timeout_ms)) {
		ret = -errno;
		conn_fail(c, ret, "rdma_resolve_addr%s%s: %s",
			  o->src ? " from " : "", o->src ? o->src : "",
			  strerror(-ret));
	}
	return 0;
}

/* ---- server ---------------------------------------------------------- */

static void server_read(struct conn *c)
{
	if (!c->rlen || c->rlen > DATA_LEN - 1) {
		conn_fail(c, -EMSGSIZE, "the client's source is %u bytes, not 1 to %d",
			  c->rlen, DATA_LEN - 1);
		return;
	}
	c->dlen = c->rlen;
	if (rdma_post_read(c->id, (void *)(uintptr_t)WR_READ, c->data, c->dlen,
			   c->data_mr, IBV_SEND_SIGNALED, c->raddr, c->rkey)) {
		conn_fail(c, -errno, "posting the RDMA read: %s", strerror(errno));
		return;
	}
	DBG(c->rp, "server posted rdma read req\n");
	c->state = ST_READING;
}

static void server_read_done(struct conn *c)
{
	int ret;

	c->data[c->dlen] = '\0';
	if (c->rp->o->verbose)
		printf("server ping data: %s\n", c->data);
	ret = post_send(c, 0);		/* go-ahead: 16 bytes, zeros */
	if (ret) {
		conn_fail(c, ret, "posting a send: %s", strerror(-ret));
		return;
	}
	DBG(c->rp, "server posted go ahead\n");
	c->state = ST_WAIT_SINK;
}

static void server_write(struct conn *c)
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
		conn_fail(c, -errno, "posting the RDMA write: %s", strerror(errno));
		return;
	}
	c->state = ST_WRITING;
}

static void server_write_done(struct conn *c)
{
	int ret = post_send(c, 0);

	if (ret) {
		conn_fail(c, ret, "posting a send: %s", strerror(-ret));
		return;
	}
	DBG(c->rp, "server posted go ahead\n");
	c->pings++;
	c->state = ST_WAIT_SRC;
}

static void on_connect_request(struct rping *rp, struct rdma_cm_id *id)
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
	c = conn_new(rp);
	if (!c) {
		rdma_reject(id, NULL, 0);
		rdma_destroy_id(id);
		return;
	}
	rp->served++;
	c->id = id;
	id->context = c;
	sa_format(rdma_get_peer_addr(id), c->peer, sizeof(c->peer));
	DBG(rp, "child cma %p from %s\n", (void *)id, c->peer);
	ret = conn_setup(c);
	if (ret) {
		rdma_reject(id, NULL, 0);
		conn_fail(c, ret, "setting up: %s", strerror(-ret));
		return;
	}
	DBG(rp, "accepting client connection request\n");
	if (rdma_accept(id, (struct rdma_conn_param *)&conn_param)) {
		conn_fail(c, -errno, "rdma_accept: %s", strerror(errno));
		return;
	}
	/* The first descriptor may come before ESTABLISHED is read. */
	c->state = ST_WAIT_SRC;
}

static int server_start(struct rping *rp)
{
	const struct ping_opts *o = rp->o;
	struct sockaddr_storage ss = { .ss_family = AF_INET };
	int ret;

	if (o->addr) {
		ret = get_addr(o->addr, o->port, &ss);
		if (ret)
			return ret;
	} else {
		((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)o->port);
	}
	if (rdma_create_id(rp->ch, &rp->listen, NULL, RDMA_PS_TCP)) {
		ret = -errno;
		rp->listen = NULL;
		fprintf(stderr, "rmx-ping: rdma_create_id: %s\n", strerror(-ret));
		return ret;
	}
	if (rdma_bind_addr(rp->listen, (struct sockaddr *)&ss)) {
		ret = -errno;
		fprintf(stderr, "rmx-ping: rdma_bind_addr %s port %d: %s\n",
			o->addr ? o->addr : "(any)", o->port, strerror(-ret));
		return ret;
	}
	DBG(rp, "rdma_bind_addr successful\n");
	if (rdma_listen(rp->listen, LISTEN_BACKLOG)) {
		ret = -errno;
		fprintf(stderr, "rmx-ping: rdma_listen: %s\n", strerror(-ret));
		return ret;
	}
	DBG(rp, "rdma_listen\n");
	return 0;
}

/* ---- events ---------------------------------------------------------- */

static void on_recv(struct conn *c, uint32_t len)
{
	int ret;

	if (len != INFO_LEN) {
		conn_fail(c, -EPROTO, "received bogus data, size %u (expected %d)",
			  len, INFO_LEN);
		return;
	}
	if (c->rp->o->server) {
		info_decode(c->recv_buf, &c->raddr, &c->rkey, &c->rlen);
		DBG(c->rp, "Received rkey %x addr %" PRIx64 " len %u from peer\n",
		    c->rkey, c->raddr, c->rlen);
	}
	/* Reposted before anything is sent: the peer's next has a buffer. */
	ret = post_recv(c);
	if (ret) {
		conn_fail(c, ret, "posting a receive: %s", strerror(-ret));
		return;
	}
	switch (c->state) {
	case ST_WAIT_SRC:
		server_read(c);
		break;
	case ST_WAIT_SINK:
		server_write(c);
		break;
	case ST_GO_READ:
	case ST_GO_WRITE:
		if (!c->got_go) {
			c->got_go = 1;
			client_step(c);
			break;
		}
		/* fall through */
	default:
		conn_fail(c, -EPROTO, "unexpected message while waiting for %s",
			  state_what[c->state]);
		break;
	}
}

static const char *wr_name(uint64_t wr_id)
{
	switch (wr_id) {
	case WR_RECV:
		return "receive";
	case WR_SEND:
		return "send";
	case WR_READ:
		return "RDMA read";
	case WR_WRITE:
		return "RDMA write";
	}
	return "work request";
}

static void on_wc(struct conn *c, const struct ibv_wc *wc)
{
	if (c->state == ST_CLOSING || c->state == ST_DONE || c->flushed)
		return;
	if (wc->status == IBV_WC_WR_FLUSH_ERR) {
		/* The QP went to error: the CM's event should say why. */
		DBG(c->rp, "%s flushed\n", wr_name(wc->wr_id));
		c->flushed = 1;
		c->deadline = now_ms() + CLOSE_WAIT_MS;
		return;
	}
	if (wc->status != IBV_WC_SUCCESS) {
		conn_fail(c, -EIO, "%s completion failed: %s (status %d, vendor error 0x%x)",
			  wr_name(wc->wr_id), ibv_wc_status_str(wc->status),
			  wc->status, wc->vendor_err);
		return;
	}
	conn_progress(c);
	switch (wc->wr_id) {
	case WR_RECV:
		DBG(c->rp, "recv completion\n");
		on_recv(c, wc->byte_len);
		break;
	case WR_SEND:
		DBG(c->rp, "send completion\n");
		if (!c->rp->o->server) {
			c->send_done = 1;
			client_step(c);
		}
		break;
	case WR_READ:
		DBG(c->rp, "rdma read completion\n");
		if (c->state == ST_READING)
			server_read_done(c);
		else
			conn_fail(c, -EPROTO, "stray RDMA read completion");
		break;
	case WR_WRITE:
		DBG(c->rp, "rdma write completion\n");
		if (c->state == ST_WRITING)
			server_write_done(c);
		else
			conn_fail(c, -EPROTO, "stray RDMA write completion");
		break;
	default:
		conn_fail(c, -EPROTO, "unknown completion %" PRIu64, wc->wr_id);
		break;
	}
}

/* Takes the channel's notifications, re-arms, then drains the CQ. */
static void poll_cq(struct conn *c, struct ibv_comp_channel *ch,
		    struct ibv_cq *cq)
{
	struct ibv_wc wc[4];
	struct ibv_cq *ev_cq;
	void *ev_ctx;
	int n, i;

	while (!ibv_get_cq_event(ch, &ev_cq, &ev_ctx)) {
		ibv_ack_cq_events(ev_cq, 1);	/* destroy waits for acks */
		if (ibv_req_notify_cq(ev_cq, 0)) {
			conn_fail(c, -EIO, "ibv_req_notify_cq failed");
			return;
		}
	}
	while ((n = ibv_poll_cq(cq, 4, wc)) > 0)
		for (i = 0; i < n; i++)
			on_wc(c, &wc[i]);
	if (n < 0)
		conn_fail(c, -EIO, "ibv_poll_cq failed");
}

static int event_status(const struct rdma_cm_event *ev)
{
	switch (ev->event) {
	case RDMA_CM_EVENT_ADDR_ERROR:
		return -EHOSTUNREACH;
	case RDMA_CM_EVENT_ROUTE_ERROR:
		return -ENETUNREACH;
	case RDMA_CM_EVENT_UNREACHABLE:
		return -ETIMEDOUT;
	case RDMA_CM_EVENT_REJECTED:
		return -ECONNREFUSED;
	case RDMA_CM_EVENT_DEVICE_REMOVAL:
		return -ENODEV;
	default:
		return -ECONNABORTED;
	}
}

static void on_disconnected(struct conn *c)
{
	int boundary = c->rp->o->server ? c->state == ST_WAIT_SRC : 0;

	if (c->state == ST_CLOSING || c->state == ST_DONE) {
		c->state = ST_DONE;
		return;
	}
	/* No disconnect owed: the CM answered the peer's. */
	c->established = 0;
	if (!boundary)
		conn_fail(c, -ECONNRESET, "disconnected while waiting for %s (ping %ld)",
			  state_what[c->state], c->pings);
	c->state = ST_DONE;
}

static void on_conn_event(struct conn *c, const struct rdma_cm_event *ev)
{
	struct rping *rp = c->rp;
	int ret;

	if (c->state != ST_CLOSING)
		conn_progress(c);
	switch (ev->event) {
	case RDMA_CM_EVENT_ADDR_RESOLVED:
		if (rdma_resolve_route(c->id, rp->o->timeout_ms))
			conn_fail(c, -errno, "rdma_resolve_route: %s",
				  strerror(errno));
		break;
	case RDMA_CM_EVENT_ROUTE_RESOLVED:
		DBG(rp, "rdma_resolve_addr - rdma_resolve_route successful\n");
		ret = conn_setup(c);
		if (ret) {
			conn_fail(c, ret, "setting up: %s", strerror(-ret));
			break;
		}
		if (rdma_connect(c->id, (struct rdma_conn_param *)&conn_param)) {
			conn_fail(c, -errno, "rdma_connect: %s", strerror(errno));
			break;
		}
		c->state = ST_CONNECTING;
		break;
	case RDMA_CM_EVENT_ESTABLISHED:
		DBG(rp, "ESTABLISHED\n");
		c->established = 1;
		if (c->state == ST_CONNECTING) {
			DBG(rp, "rdma_connect successful\n");
			client_ping(c);
		}
		break;
	case RDMA_CM_EVENT_DISCONNECTED:
		DBG(rp, "%s DISCONNECT EVENT...\n", rp->o->server ? "server" : "client");
		on_disconnected(c);
		break;
	case RDMA_CM_EVENT_REJECTED:
		/* IB CM reasons: 8, no listener; 28, the server said no. */
		conn_fail(c, -ECONNREFUSED, "connection rejected (%s): %s, status %d",
			  ev->status == 8 ? "no server on that port" :
			  ev->status == 28 ? "refused: a server without -P serves one client" :
			  "refused", rdma_event_str(ev->event), ev->status);
		break;
	case RDMA_CM_EVENT_ADDR_ERROR:
	case RDMA_CM_EVENT_ROUTE_ERROR:
	case RDMA_CM_EVENT_CONNECT_ERROR:
	case RDMA_CM_EVENT_UNREACHABLE:
	case RDMA_CM_EVENT_DEVICE_REMOVAL:
		conn_fail(c, event_status(ev), "%s, error %d, while waiting for %s",
			  rdma_event_str(ev->event), ev->status,
			  state_what[c->state]);
		if (ev->event == RDMA_CM_EVENT_DEVICE_REMOVAL)
			rp->fatal = -ENODEV;
		break;
	case RDMA_CM_EVENT_TIMEWAIT_EXIT:
	case RDMA_CM_EVENT_ADDR_CHANGE:
		break;
	default:
		DBG(rp, "unhandled event: %s, ignoring\n", rdma_event_str(ev->event));
		break;
	}
}

static int cm_events(struct rping *rp)
{
	struct rdma_cm_event *e, ev;

	while (!rdma_get_cm_event(rp->ch, &e)) {
		/* Acked first: destroying an id waits for its acks. */
		ev = *e;
		rdma_ack_cm_event(e);
		DBG(rp, "cma_event type %s cma_id %p (%s)\n",
		    rdma_event_str(ev.event), (void *)ev.id,
		    ev.id == rp->listen || !rp->o->server ? "parent" : "child");
		if (ev.event == RDMA_CM_EVENT_CONNECT_REQUEST) {
			on_connect_request(rp, ev.id);
		} else if (ev.id == rp->listen) {
			if (ev.event == RDMA_CM_EVENT_DEVICE_REMOVAL) {
				fprintf(stderr, "rmx-ping: the device went away\n");
				rp->fatal = -ENODEV;
			}
		} else if (ev.id && ev.id->context) {
			on_conn_event(ev.id->context, &ev);
		}
	}
	if (errno != EAGAIN && errno != EWOULDBLOCK) {
		fprintf(stderr, "rmx-ping: rdma_get_cm_event: %s\n", strerror(errno));
		return -errno;
	}
	return 0;
}

/* ---- the loop -------------------------------------------------------- */

static int build_pfds(struct rping *rp)
{
	size_t n = 1;
	struct conn *c;

	for (c = rp->conns; c; c = c->next)
		n += 2;
	if (n > rp->pfd_cap) {
		struct pollfd *p = realloc(rp->pfd, n * 2 * sizeof(*p));

		if (!p)
			return -ENOMEM;
		rp->pfd = p;
		rp->pfd_cap = n * 2;
	}
	n = 0;
	rp->pfd[n++] = (struct pollfd){ .fd = rp->ch->fd, .events = POLLIN };
	for (c = rp->conns; c; c = c->next) {
		if (!c->id || !c->id->qp)
			continue;
		rp->pfd[n++] = (struct pollfd){
			.fd = c->id->send_cq_channel->fd, .events = POLLIN };
		rp->pfd[n++] = (struct pollfd){
			.fd = c->id->recv_cq_channel->fd, .events = POLLIN };
	}
	return (int)n;
}

static int poll_timeout(struct rping *rp)
{
	int64_t now = now_ms(), t = 1000;	/* and a look at ping_stop */
	struct conn *c;

	for (c = rp->conns; c; c = c->next)
		if (c->state != ST_DONE && c->deadline - now < t)
			t = c->deadline - now;
	return t < 0 ? 0 : (int)t;
}

static void check_deadlines(struct rping *rp)
{
	int64_t now = now_ms();
	struct conn *c;

	for (c = rp->conns; c; c = c->next) {
		if (c->state == ST_DONE || now < c->deadline)
			continue;
		if (c->state == ST_CLOSING) {
			c->state = ST_DONE;	/* the peer may be gone: enough */
		} else if (c->flushed) {
			c->flushed = 0;		/* let conn_fail speak */
			conn_fail(c, -ECONNRESET, "connection lost (work requests flushed) while waiting for %s",
				  state_what[c->state]);
			c->state = ST_DONE;
		} else {
			conn_fail(c, -ETIMEDOUT, "no answer in %d ms while waiting for %s",
				  rp->o->timeout_ms, state_what[c->state]);
		}
	}
}

static void stop_all(struct rping *rp)
{
	struct conn *c;

	for (c = rp->conns; c; c = c->next) {
		/* A client finishes its ping first (client_ping looks). */
		if (!rp->o->server && c->state >= ST_GO_READ && !rp->fatal)
			continue;
		conn_close(c);
	}
}

static void reap(struct rping *rp)
{
	struct conn **pp = &rp->conns, *c;

	while ((c = *pp)) {
		if (c->state != ST_DONE) {
			pp = &c->next;
			continue;
		}
		*pp = c->next;
		if (c->status && !rp->status)
			rp->status = c->status;
		if (rp->o->server)
			DBG(rp, "client %s done after %ld pings\n", c->peer, c->pings);
		conn_free(c);
	}
}

static int finished(const struct rping *rp)
{
	if (rp->conns)
		return 0;
	if (!rp->o->server || rp->fatal || ping_stop)
		return 1;
	return !rp->o->persistent && rp->served;
}

static int run(struct rping *rp)
{
	struct conn *c;
	int n, ret;

	for (;;) {
		if (ping_stop || rp->fatal)
			stop_all(rp);
		reap(rp);
		if (finished(rp))
			return 0;
		n = build_pfds(rp);
		if (n < 0)
			return n;
		if (poll(rp->pfd, (nfds_t)n, poll_timeout(rp)) < 0 &&
		    errno != EINTR)
			return -errno;
		for (c = rp->conns; c; c = c->next)
			if (c->id && c->id->qp && c->state != ST_DONE) {
				poll_cq(c, c->id->recv_cq_channel, c->id->recv_cq);
				poll_cq(c, c->id->send_cq_channel, c->id->send_cq);
			}
		ret = cm_events(rp);
		if (ret)
			rp->fatal = ret;
		check_deadlines(rp);
	}
}

int ping_rping_run(const struct ping_opts *o)
{
	struct rping rp = { .o = o };
	int ret;

	rp.ch = rdma_create_event_channel();
	if (!rp.ch) {
		ret = -errno;
		fprintf(stderr, "rmx-ping: rdma_create_event_channel: %s (no RDMA device or rdma_ucm not loaded?)\n",
			strerror(errno));
		return ret;
	}
	ret = set_nonblock(rp.ch->fd);
	if (!ret)
		ret = o->server ? server_start(&rp) : client_start(&rp);
	if (!ret)
		ret = run(&rp);
	if (ret)
		rp.fatal = ret;
	/* Whatever is left (an error above): no goodbyes, just free. */
	while (rp.conns) {
		struct conn *c = rp.conns;

		rp.conns = c->next;
		conn_free(c);
	}
	if (rp.listen)
		rdma_destroy_id(rp.listen);
	rdma_destroy_event_channel(rp.ch);
	free(rp.pfd);
	if (rp.fatal)
		return rp.fatal;
	return rp.status;
}
