// SPDX-License-Identifier: BSD-2-Clause
/*
 * libfabric backend, connection half. RDM endpoints have no connections,
 * so rmx's are a handshake in tagged control messages (OFI_TAG_CTRL):
 *
 *   initiator                          listener's endpoint
 *   conn_ready, CONNECT(token, name, priv) ->
 *                                      conn_request -> accept, conn_ready
 *             <- ACCEPT(token, name, priv)  from the acceptor's main endpoint
 *   conn_established                   conn_established once ACCEPT is sent
 *
 * or REJECT(errno) instead of ACCEPT; DISCONNECT(token) when either end
 * is destroyed or fails. Tokens name a connection in a backend (slot
 * and generation); names are endpoint names, so the acceptor's data goes
 * from and to the main endpoints, never the listener's.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/addr.h"
#include "core/clock.h"
#include "core/log.h"
#include "transport/ofi/ofi.h"

#define CTRL_MAGIC 0x524d584fu	/* "RMXO" */
#define CTRL_VERSION 1
#define CTRL_HDR 24

enum ctrl_type {
	CTRL_CONNECT = 1,
	CTRL_ACCEPT,
	CTRL_REJECT,
	CTRL_DISCONNECT,
};

struct ctrl_msg {
	uint8_t type;
	uint32_t src, dst;	/* sender's and receiver's tokens */
	int32_t status;		/* REJECT, DISCONNECT: a negative errno */
	const uint8_t *name;	/* the sender's main endpoint */
	size_t namelen;
	const uint8_t *priv;
	size_t priv_len;
};

static void put32(uint8_t *p, uint32_t v)
{
	v = htonl(v);
	memcpy(p, &v, 4);
}

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return ntohl(v);
}

/* One parser for what a peer sends: -EPROTO when it is malformed. */
static int ctrl_parse(const uint8_t *buf, size_t len, struct ctrl_msg *m)
{
	if (len < CTRL_HDR || get32(buf) != CTRL_MAGIC || buf[4] != CTRL_VERSION)
		return -EPROTO;
	m->type = buf[5];
	m->namelen = buf[6];
	m->src = get32(buf + 8);
	m->dst = get32(buf + 12);
	m->status = (int32_t)get32(buf + 16);
	m->priv_len = (size_t)buf[20] << 8 | buf[21];
	if (m->namelen > OFI_NAME_MAX || m->priv_len > OFI_PRIV_MAX ||
	    CTRL_HDR + m->namelen + m->priv_len > len ||
	    m->type < CTRL_CONNECT || m->type > CTRL_DISCONNECT ||
	    m->status > 0)
		return -EPROTO;
	m->name = buf + CTRL_HDR;
	m->priv = m->name + m->namelen;
	return 0;
}

static struct ofi_ctrl_tx *ctrl_get(struct ofi_tp *tp)
{
	struct rmx__list *n = rmx__list_pop(&tp->ctrl_free);
	struct ofi_ctrl_tx *t;

	if (n)
		return rmx__container_of(n, struct ofi_ctrl_tx, node);
	/* Unregistered: fine unless the provider needs FI_MR_LOCAL. */
	if (tp->local_mr)
		return NULL;
	t = calloc(1, sizeof(*t));
	if (t) {
		t->ctx.kind = OFI_CTX_CTRL_TX;
		t->heap = true;
		rmx__list_add_tail(&tp->ctrl_heap, &t->node);
	}
	return t;
}

static void ctrl_put(struct ofi_tp *tp, struct ofi_ctrl_tx *t)
{
	if (t->heap) {
		rmx__list_del(&t->node);
		free(t);
	} else {
		rmx__list_add_tail(&tp->ctrl_free, &t->node);
	}
}

/* Queues a control message to peer; -ENOBUFS when none can be had. */
static int ctrl_send(struct ofi_tp *tp, struct ofi_peer *peer, uint32_t token,
		     const struct ctrl_msg *m)
{
	struct ofi_ctrl_tx *t = ctrl_get(tp);
	uint8_t *b;

	if (!t) {
		rmx__err("ofi: out of control message buffers (%d in flight)",
			 OFI_CTRL_TX);
		return -ENOBUFS;
	}
	b = t->buf;
	memset(b, 0, CTRL_HDR);
	put32(b, CTRL_MAGIC);
	b[4] = CTRL_VERSION;
	b[5] = m->type;
	b[6] = (uint8_t)m->namelen;
	put32(b + 8, m->src);
	put32(b + 12, m->dst);
	put32(b + 16, (uint32_t)m->status);
	b[20] = (uint8_t)(m->priv_len >> 8);
	b[21] = (uint8_t)m->priv_len;
	if (m->namelen)
		memcpy(b + CTRL_HDR, m->name, m->namelen);
	if (m->priv_len)
		memcpy(b + CTRL_HDR + m->namelen, m->priv, m->priv_len);
	t->len = (uint32_t)(CTRL_HDR + m->namelen + m->priv_len);
	t->peer = peer;
	t->token = token;
	t->type = m->type;
	rmx__ofi_ctrl_queue(tp, t);
	return 0;
}

/* Names and addresses ------------------------------------------------ */

#define PORT_TAG "rmx-ofi-"

int rmx__ofi_name_to_sa(const struct ofi_tp *tp, const uint8_t *name,
			size_t len, struct sockaddr_storage *out)
{
	memset(out, 0, sizeof(*out));
	if (tp->str_addr) {
		char s[OFI_NAME_MAX + 1];
		struct sockaddr_in *in = (struct sockaddr_in *)out;
		const char *p;
		int port;

		memcpy(s, name, len < OFI_NAME_MAX ? len : OFI_NAME_MAX);
		s[len < OFI_NAME_MAX ? len : OFI_NAME_MAX] = '\0';
		p = strstr(s, PORT_TAG);
		if (!p || sscanf(p + strlen(PORT_TAG), "%d", &port) != 1 ||
		    port <= 0 || port > 65535)
			return -EAFNOSUPPORT;
		/* shm's ports are the node's: the loopback address names it. */
		in->sin_family = AF_INET;
		in->sin_port = htons((uint16_t)port);
		in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		return 0;
	}
	if (len > sizeof(*out) || len < sizeof(struct sockaddr_in))
		return -EAFNOSUPPORT;
	memcpy(out, name, len);
	return out->ss_family == AF_INET || out->ss_family == AF_INET6 ?
		       0 : -EAFNOSUPPORT;
}

static int sa_port(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)sa)->sin_port);
	if (sa->sa_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
	return -1;
}

int rmx__ofi_sa_to_name(const struct ofi_tp *tp, const struct sockaddr *sa,
			uint8_t *name, size_t *len)
{
	if (tp->str_addr) {
		const char *own = (const char *)tp->st.name;
		const char *tag = strstr(own, PORT_TAG);
		int n, port = sa_port(sa);

		if (port <= 0 || !tag)
			return -EAFNOSUPPORT;
		/* The provider's prefix ("fi_shm://"), then the port's name. */
		n = snprintf((char *)name, *len, "%.*s" PORT_TAG "%d",
			     (int)(tag - own), own, port);
		if (n < 0 || (size_t)n + 1 > *len)
			return -ENAMETOOLONG;
		*len = (size_t)n + 1;
		return 0;
	}
	if (sa->sa_family == AF_INET && *len >= sizeof(struct sockaddr_in)) {
		*len = sizeof(struct sockaddr_in);
	} else if (sa->sa_family == AF_INET6 &&
		   *len >= sizeof(struct sockaddr_in6)) {
		*len = sizeof(struct sockaddr_in6);
	} else {
		return -EAFNOSUPPORT;
	}
	memcpy(name, sa, *len);
	return 0;
}

/* The AV entry of a remote endpoint, inserted on first use. */
static int peer_get(struct ofi_tp *tp, const uint8_t *name, size_t len,
		    struct ofi_peer **out)
{
	struct rmx__list *pos;
	struct ofi_peer *p;
	int ret;

	for (pos = tp->peers.next; pos != &tp->peers; pos = pos->next) {
		p = rmx__container_of(pos, struct ofi_peer, node);
		if (p->namelen == len && !memcmp(p->name, name, len)) {
			*out = p;
			return 0;
		}
	}
	if (len > OFI_NAME_MAX)
		return -ENAMETOOLONG;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	memcpy(p->name, name, len);
	p->namelen = len;
	rmx__list_init(&p->backlog);
	rmx__list_init(&p->busy);
	ret = fi_av_insert(tp->st.av, p->name, 1, &p->fi_addr, 0, NULL);
	if (ret != 1) {
		free(p);
		return ret < 0 ? rmx__ofi_errno(ret) : -EADDRNOTAVAIL;
	}
	rmx__list_add_tail(&tp->peers, &p->node);
	*out = p;
	return 0;
}

/* Connections ---------------------------------------------------------- */

struct ofi_conn *rmx__ofi_conn_by_token(struct ofi_tp *tp, uint32_t token)
{
	uint32_t idx = token & (OFI_MAX_CONNS - 1);
	uint32_t gen = token >> OFI_SLOT_BITS;

	if (idx >= tp->nslots || !tp->slots[idx].conn ||
	    tp->slots[idx].gen != gen)
		return NULL;
	return tp->slots[idx].conn;
}

static int slot_take(struct ofi_tp *tp, struct ofi_conn *c)
{
	uint32_t i;

	for (i = 0; i < tp->nslots; i++)
		if (!tp->slots[i].conn)
			break;
	if (i == tp->nslots) {
		uint32_t n = tp->nslots ? 2 * tp->nslots : 64;
		struct ofi_slot *s;

		if (n > OFI_MAX_CONNS)
			return -EMFILE;
		s = realloc(tp->slots, n * sizeof(*s));
		if (!s)
			return -ENOMEM;
		memset(s + tp->nslots, 0, (n - tp->nslots) * sizeof(*s));
		tp->slots = s;
		tp->nslots = n;
	}
	/* Generations keep a recycled slot's old token from matching. */
	tp->slots[i].gen = (tp->slots[i].gen + 1) &
			   (OFI_TOKEN_MASK >> OFI_SLOT_BITS);
	tp->slots[i].conn = c;
	c->token = tp->slots[i].gen << OFI_SLOT_BITS | i;
	return 0;
}

static struct ofi_conn *conn_new(struct ofi_tp *tp, bool passive)
{
	struct ofi_conn *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	if (slot_take(tp, c)) {
		free(c);
		return NULL;
	}
	c->base.tp = &tp->base;
	c->tp = tp;
	c->passive = passive;
	c->probe_fd = -1;
	c->probe_at = INT64_MAX;
	rmx__list_init(&c->ops);
	rmx__list_init(&c->owed);
	rmx__list_add_tail(&tp->conns, &c->node);
	return c;
}

static void conn_free(struct ofi_conn *c)
{
	struct ofi_tp *tp = c->tp;

	rmx__ofi_conn_orphan(c);
	if (c->lpeer)
		rmx__ofi_backlog_drop(tp, c->lpeer, c->token);
	if (c->probe_fd >= 0)
		close(c->probe_fd);
	/* Arrivals waiting for an earlier one: their buffers come back. */
	while (c->early) {
		struct ofi_rx *rx = c->early;

		c->early = rx->next_free;
		rx->next_free = tp->orphans;
		tp->orphans = rx;
	}
	if (c->in_ready)
		rmx__list_del(&c->owed);
	rmx__list_del(&c->node);
	tp->slots[c->token & (OFI_MAX_CONNS - 1)].conn = NULL;
	free(c);
}

static void send_disconnect(struct ofi_conn *c, int status)
{
	struct ctrl_msg m = {
		.type = CTRL_DISCONNECT,
		.src = c->token,
		.dst = c->peer_token,
		.status = status,
	};

	if (c->peer)
		ctrl_send(c->tp, c->peer, 0, &m);
}

/* Ends c with conn_closed(status), once. */
static void conn_close(struct ofi_conn *c, int status)
{
	struct ofi_tp *tp = c->tp;

	if (c->state == OFI_C_CLOSED)
		return;
	/* An unsent CONNECT must not reach a listener that comes up later. */
	if (c->state == OFI_C_REQUESTED && c->lpeer)
		rmx__ofi_backlog_drop(tp, c->lpeer, c->token);
	c->state = OFI_C_CLOSED;
	if (!c->failed)
		c->failed = status;
	tp->up->conn_closed(tp->upctx, &c->base, status);
}

void rmx__ofi_conn_fail(struct ofi_conn *c, int status, bool tell_peer)
{
	bool live = c->state == OFI_C_ESTABLISHED ||
		    c->state == OFI_C_ACCEPTING;

	if (c->failed || c->state == OFI_C_CLOSED)
		return;
	c->failed = status;
	if (tell_peer && live)
		send_disconnect(c, status);
	/* Sends not yet handed to the provider are flushed now. */
	rmx__ofi_conn_owed(c);
	if (c->ready || c->passive)
		conn_close(c, status);
	else
		c->state = OFI_C_CLOSED;
}

/* Errors that say the peer's endpoint is gone, not just one request. */
static bool peer_gone(int status)
{
	return status == -ECONNRESET || status == -ECONNREFUSED ||
	       status == -EPIPE || status == -ENOTCONN ||
	       status == -EHOSTUNREACH || status == -ECONNABORTED ||
	       status == -ETIMEDOUT || status == -ENETUNREACH;
}

void rmx__ofi_peer_fail(struct ofi_tp *tp, struct ofi_peer *peer, int status)
{
	uint32_t tokens[64];
	struct rmx__list *pos;
	int n, i;

	if (!peer_gone(status))
		return;
	/* Upcalls may destroy any connection: by token, in rounds. */
	do {
		n = 0;
		for (pos = tp->conns.next; pos != &tp->conns && n < 64;
		     pos = pos->next) {
			struct ofi_conn *c =
				rmx__container_of(pos, struct ofi_conn, node);

			if (c->peer == peer && !c->failed &&
			    c->state != OFI_C_CLOSED)
				tokens[n++] = c->token;
		}
		for (i = 0; i < n; i++) {
			struct ofi_conn *c = rmx__ofi_conn_by_token(tp, tokens[i]);

			if (c)
				rmx__ofi_conn_fail(c, status, false);
		}
	} while (n == 64);
}

/* Listeners ------------------------------------------------------------ */

static int listen_at(struct ofi_tp *tp, struct ofi_listener *l,
		     const struct sockaddr *sa, int port)
{
	char node[INET6_ADDRSTRLEN], svc[16];
	const void *ip;
	bool wild;

	if (tp->str_addr) {
		rmx__ofi_port_name(port, node, sizeof(node));
		return rmx__ofi_stack_open(tp, &l->st, node, NULL,
					   OFI_LISTEN_RX);
	}
	snprintf(svc, sizeof(svc), "%d", port);
	if (sa->sa_family == AF_INET) {
		wild = ((const struct sockaddr_in *)sa)->sin_addr.s_addr ==
		       htonl(INADDR_ANY);
		ip = &((const struct sockaddr_in *)sa)->sin_addr;
	} else {
		wild = IN6_IS_ADDR_UNSPECIFIED(
			&((const struct sockaddr_in6 *)sa)->sin6_addr);
		ip = &((const struct sockaddr_in6 *)sa)->sin6_addr;
	}
	/* Any address: the provider's own domain, bound to the wildcard. */
	if (wild)
		return rmx__ofi_stack_open(tp, &l->st, NULL, svc,
					   OFI_LISTEN_RX);
	if (!inet_ntop(sa->sa_family, ip, node, sizeof(node)))
		return -errno;
	return rmx__ofi_stack_open(tp, &l->st, node, svc, OFI_LISTEN_RX);
}

int rmx__ofi_listen(struct rmx__tp *base, const struct sockaddr *sa,
		    void *owner, struct rmx__tp_listener **out)
{
	struct ofi_tp *tp = (struct ofi_tp *)base;
	struct ofi_listener *l;
	struct sockaddr_storage ss;
	int port = sa_port(sa), ret, tries;

	if (port < 0)
		return -EAFNOSUPPORT;
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->base.tp = base;
	l->base.owner = owner;
	l->tp = tp;
	if (tp->str_addr && !port) {
		/* shm binds no port 0: a free one. */
		ret = -EADDRINUSE;
		for (tries = 0; ret == -EADDRINUSE && tries < 64; tries++) {
			port = rmx__ofi_free_port();
			if (port < 0)
				break;
			ret = listen_at(tp, l, sa, port);
			if (ret == -EEXIST || ret == -EBUSY)
				ret = -EADDRINUSE;
		}
	} else if (tp->str_addr && rmx__ofi_port_taken(port)) {
		ret = -EADDRINUSE;	/* see rmx__ofi_free_port() */
	} else {
		ret = listen_at(tp, l, sa, port);
		if (ret == -EEXIST || ret == -EBUSY)
			ret = -EADDRINUSE;
	}
	if (!ret)
		ret = rmx__ofi_name_to_sa(tp, l->st.name, l->st.namelen, &ss);
	if (ret) {
		char text[64];

		rmx__addr_format(sa, text, sizeof(text));
		rmx__err("ofi: cannot listen at %s with %s: %s", text,
			 tp->devname, strerror(-ret));
		rmx__ofi_stack_close(tp, &l->st);
		free(l);
		return ret;
	}
	l->port = sa_port((struct sockaddr *)&ss);
	rmx__list_add_tail(&tp->listeners, &l->node);
	*out = &l->base;
	return 0;
}

int rmx__ofi_listener_port(const struct rmx__tp_listener *base)
{
	return ((const struct ofi_listener *)base)->port;
}

void rmx__ofi_listener_close(struct rmx__tp_listener *base)
{
	struct ofi_listener *l = (struct ofi_listener *)base;

	rmx__list_del(&l->node);
	rmx__ofi_stack_close(l->tp, &l->st);
	free(l);
}

/* Connecting ----------------------------------------------------------- */

/*
 * tcp's RDM layer (rxm) reports a refused connection to nobody: the
 * CONNECT just stays unsent (-FI_EAGAIN), as it does while a slow
 * listener accepts. When it is still unsent after OFI_PROBE_MS, a plain
 * TCP connect to the listener's address tells the two apart. A probe
 * that got through is reset, not closed: libfabric 1.17's tcp listener
 * spins on a connection that ends cleanly before its CM header. -1: no
 * probe.
 */
#define OFI_PROBE_MS 100

static int probe_start(const struct ofi_tp *tp, const struct ofi_peer *lp)
{
	struct sockaddr_storage dst;
	socklen_t len;
	int fd;

	if (tp->str_addr || rmx__ofi_name_to_sa(tp, lp->name, lp->namelen, &dst))
		return -1;
	len = dst.ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) :
					  sizeof(struct sockaddr_in);
	fd = socket(dst.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&dst, len) &&
	    errno != EINPROGRESS && errno != ECONNREFUSED) {
		close(fd);
		return -1;
	}
	return fd;
}

/* 1 when the probe is done (*refused says how), 0 while it runs. */
static int probe_done(struct ofi_conn *c, bool *refused)
{
	struct pollfd p = { .fd = c->probe_fd, .events = POLLOUT };
	struct linger rst = { .l_onoff = 1, .l_linger = 0 };
	socklen_t len = sizeof(int);
	int err = 0;

	if (poll(&p, 1, 0) == 0)
		return 0;
	if (getsockopt(c->probe_fd, SOL_SOCKET, SO_ERROR, &err, &len))
		err = errno;
	*refused = err == ECONNREFUSED;
	setsockopt(c->probe_fd, SOL_SOCKET, SO_LINGER, &rst, sizeof(rst));
	close(c->probe_fd);
	c->probe_fd = -1;
	return 1;
}


/*
 * Whether shm has no endpoint of that name: its AV takes any name and its
 * sends to one nobody created fault, so rmx looks for the region first.
 */
static bool shm_absent(const struct ofi_tp *tp, const struct sockaddr *dst)
{
	return tp->str_addr && !rmx__ofi_port_taken(sa_port(dst));
}

int rmx__ofi_connect(struct rmx__tp *base, const struct sockaddr *src,
		     const struct sockaddr *dst,
		     const struct rmx__tp_conn_want *want, const void *priv,
		     size_t priv_len, uint32_t timeout_ms, void *owner,
		     struct rmx__tp_conn **out)
{
	struct ofi_tp *tp = (struct ofi_tp *)base;
	uint8_t name[OFI_NAME_MAX];
	size_t len = sizeof(name);
	struct ofi_conn *c;
	int ret;

	if (priv_len > OFI_PRIV_MAX)
		return -EINVAL;
	/* The endpoint is bound already: src can only be its own address. */
	(void)src;
	ret = rmx__ofi_sa_to_name(tp, dst, name, &len);
	if (ret)
		return ret;
	c = conn_new(tp, false);
	if (!c)
		return -ENOMEM;
	c->base.owner = owner;
	c->want = *want;
	c->priv_len = (uint32_t)priv_len;
	if (priv_len)
		memcpy(c->priv, priv, priv_len);
	c->deadline_ms = rmx__now_ms() + (timeout_ms ? timeout_ms : 30000);
	c->state = OFI_C_START;
	memcpy(c->lname, name, len);
	c->lnamelen = len;
	/* An address the AV refuses is one nobody listens at: closed later. */
	c->start_err = shm_absent(tp, dst) ? -ECONNREFUSED :
		       peer_get(tp, name, len, &c->lpeer);
	*out = &c->base;
	return 0;
}

int rmx__ofi_accept(struct rmx__tp_conn *conn,
		    const struct rmx__tp_conn_want *want, const void *priv,
		    size_t priv_len, void *owner)
{
	struct ofi_conn *c = (struct ofi_conn *)conn;

	if (c->state != OFI_C_REQUEST || priv_len > OFI_PRIV_MAX)
		return -EINVAL;
	c->base.owner = owner;
	c->want = *want;
	c->priv_len = (uint32_t)priv_len;
	if (priv_len)
		memcpy(c->priv, priv, priv_len);
	c->accepted = true;
	return 0;
}

void rmx__ofi_conn_caps(const struct rmx__tp_conn *conn,
			struct rmx__tp_conn_caps *out)
{
	const struct ofi_conn *c = (const struct ofi_conn *)conn;
	const struct ofi_tp *tp = c->tp;
	size_t tx = tp->st.info->tx_attr->size;

	out->sq_depth = c->want.sq_depth && c->want.sq_depth < tx ?
				c->want.sq_depth : (uint32_t)tx;
	out->max_inline = tp->inject;
	out->max_msg = tp->max_msg < (1u << 30) ? (uint32_t)tp->max_msg :
						  1u << 30;
}

int rmx__ofi_conn_addr(const struct rmx__tp_conn *conn,
		       struct sockaddr_storage *local,
		       struct sockaddr_storage *peer)
{
	const struct ofi_conn *c = (const struct ofi_conn *)conn;
	const struct ofi_tp *tp = c->tp;
	int ret = 0;

	/*
	 * As TCP names them: an accepted connection's local address is the
	 * listener's, and the initiator's peer is the address it connected
	 * to, though the data goes between the main endpoints.
	 */
	if (local && c->passive)
		ret = rmx__ofi_name_to_sa(tp, c->lname, c->lnamelen, local);
	else if (local)
		ret = rmx__ofi_name_to_sa(tp, tp->st.name, tp->st.namelen,
					  local);
	if (!ret && peer) {
		if (!c->peer)
			return -ENOTCONN;
		if (c->passive)
			ret = rmx__ofi_name_to_sa(tp, c->peer->name,
						  c->peer->namelen, peer);
		else
			ret = rmx__ofi_name_to_sa(tp, c->lname, c->lnamelen,
						  peer);
	}
	return ret;
}

void rmx__ofi_conn_destroy(struct rmx__tp_conn *conn)
{
	struct ofi_conn *c = (struct ofi_conn *)conn;

	/* The peer's end closes too; one still asking is told by ACCEPT. */
	if (!c->failed && (c->state == OFI_C_ESTABLISHED ||
			   c->state == OFI_C_ACCEPTING))
		send_disconnect(c, -ECONNRESET);
	conn_free(c);
}

/* Control messages in ------------------------------------------------- */

static int reject_status(int why)
{
	/* transport.h: only these two say more than "refused". */
	return why == -EPROTO || why == -EPROTONOSUPPORT ? why : -ECONNABORTED;
}

static void on_connect(struct ofi_tp *tp, struct ofi_listener *l,
		       const struct ctrl_msg *m)
{
	struct ctrl_msg r = { .dst = m->src, .name = tp->st.name,
			      .namelen = tp->st.namelen };
	struct sockaddr_storage ss;
	struct ofi_peer *peer;
	struct ofi_conn *c;
	uint32_t token;
	int ret;

	ret = peer_get(tp, m->name, m->namelen, &peer);
	if (ret) {
		rmx__warn("ofi: a CONNECT from an endpoint the AV refuses: %s",
			  strerror(-ret));
		return;
	}
	c = conn_new(tp, true);
	if (!c) {
		r.type = CTRL_REJECT;
		r.status = -ENOMEM;
		ctrl_send(tp, peer, 0, &r);
		return;
	}
	c->peer = peer;
	c->peer_token = m->src;
	c->state = OFI_C_REQUEST;
	memcpy(c->lname, l->st.name, l->st.namelen);
	c->lnamelen = l->st.namelen;
	token = c->token;
	if (rmx__ofi_name_to_sa(tp, m->name, m->namelen, &ss))
		memset(&ss, 0, sizeof(ss));
	ret = tp->up->conn_request(tp->upctx, &l->base, &c->base,
				   (struct sockaddr *)&ss, m->priv,
				   m->priv_len);
	c = rmx__ofi_conn_by_token(tp, token);
	if (!ret && c && !c->accepted)
		ret = -ECONNABORTED;
	if (ret || !c) {
		r.type = CTRL_REJECT;
		r.status = ret ? ret : -ECONNABORTED;
		ctrl_send(tp, peer, 0, &r);
		if (c)
			conn_free(c);
		return;
	}
	c->ready = true;
	ret = tp->up->conn_ready(tp->upctx, &c->base);
	c = rmx__ofi_conn_by_token(tp, token);
	if (!c)
		return;
	if (ret) {
		r.type = CTRL_REJECT;
		r.status = -ECONNABORTED;
		ctrl_send(tp, peer, 0, &r);
		conn_close(c, -ECONNABORTED);
		return;
	}
	r.type = CTRL_ACCEPT;
	r.src = c->token;
	r.priv = c->priv;
	r.priv_len = c->priv_len;
	c->state = OFI_C_ACCEPTING;
	if (ctrl_send(tp, peer, c->token, &r))
		conn_close(c, -ENOBUFS);
}

static void on_accept(struct ofi_tp *tp, const struct ctrl_msg *m)
{
	struct ofi_conn *c = rmx__ofi_conn_by_token(tp, m->dst);
	struct ofi_peer *peer;
	int ret = peer_get(tp, m->name, m->namelen, &peer);

	if (ret) {
		rmx__warn("ofi: an ACCEPT from an endpoint the AV refuses: %s",
			  strerror(-ret));
		if (c && c->state == OFI_C_REQUESTED)
			conn_close(c, ret);
		return;
	}
	if (!c || c->state != OFI_C_REQUESTED) {
		/* Destroyed or timed out meanwhile: the acceptor's end goes. */
		struct ctrl_msg d = { .type = CTRL_DISCONNECT, .src = m->dst,
				      .dst = m->src, .status = -ECONNABORTED };

		ctrl_send(tp, peer, 0, &d);
		return;
	}
	c->peer = peer;
	c->peer_token = m->src;
	c->state = OFI_C_ESTABLISHED;
	tp->up->conn_established(tp->upctx, &c->base, m->priv, m->priv_len);
}

void rmx__ofi_ctrl_recv(struct ofi_tp *tp, struct ofi_listener *l,
			const uint8_t *buf, size_t len)
{
	struct ofi_conn *c;
	struct ctrl_msg m;

	if (ctrl_parse(buf, len, &m)) {
		rmx__warn("ofi: dropped a malformed control message (%zu bytes)",
			  len);
		return;
	}
	if ((m.type == CTRL_CONNECT) != !!l) {
		rmx__warn("ofi: dropped a control message of type %u on the wrong endpoint",
			  m.type);
		return;
	}
	rmx__dbg("ofi: control %u from token %#x to %#x, status %d",
		 m.type, m.src, m.dst, m.status);
	switch (m.type) {
	case CTRL_CONNECT:
		on_connect(tp, l, &m);
		break;
	case CTRL_ACCEPT:
		on_accept(tp, &m);
		break;
	case CTRL_REJECT:
		c = rmx__ofi_conn_by_token(tp, m.dst);
		if (c && c->state == OFI_C_REQUESTED)
			conn_close(c, reject_status(m.status));
		break;
	case CTRL_DISCONNECT:
		c = rmx__ofi_conn_by_token(tp, m.dst);
		if (c && c->peer_token == m.src && c->peer)
			rmx__ofi_conn_fail(c, -ECONNRESET, false);
		break;
	}
}

void rmx__ofi_ctrl_sent(struct ofi_tp *tp, struct ofi_ctrl_tx *t, int status)
{
	uint32_t token = t->token;
	struct ofi_conn *c = token ? rmx__ofi_conn_by_token(tp, token) : NULL;
	uint8_t type = t->type;

	ctrl_put(tp, t);
	if (status)
		rmx__dbg("ofi: control %u for token %#x failed: %s", type,
			 token, strerror(-status));
	if (!c)
		return;
	if (type == CTRL_CONNECT && !status)
		c->probe_at = INT64_MAX;	/* the listener's endpoint took it */
	if (type == CTRL_CONNECT && status && c->state == OFI_C_REQUESTED) {
		/* The listener's endpoint is not there. */
		conn_close(c, status == -ETIMEDOUT ? -ETIMEDOUT : -ECONNREFUSED);
	} else if (type == CTRL_ACCEPT && c->state == OFI_C_ACCEPTING) {
		if (status) {
			conn_close(c, status);
			return;
		}
		c->state = OFI_C_ESTABLISHED;
		tp->up->conn_established(tp->upctx, &c->base, NULL, 0);
	}
}

/* Progress ------------------------------------------------------------- */

/* Nobody listens where p is: every connect to it still asking ends. */
static void refused_at(struct ofi_tp *tp, struct ofi_peer *p)
{
	uint32_t tokens[64];
	struct rmx__list *pos;
	int n, i;

	do {
		n = 0;
		for (pos = tp->conns.next; pos != &tp->conns && n < 64;
		     pos = pos->next) {
			struct ofi_conn *c =
				rmx__container_of(pos, struct ofi_conn, node);

			if (c->lpeer == p && c->state == OFI_C_REQUESTED)
				tokens[n++] = c->token;
		}
		for (i = 0; i < n; i++) {
			struct ofi_conn *c = rmx__ofi_conn_by_token(tp, tokens[i]);

			if (c)
				conn_close(c, -ECONNREFUSED);
		}
	} while (n == 64);
}

/* A CONNECT still unsent: is anyone listening there (probe_start)? */
static void probe(struct ofi_tp *tp, struct ofi_conn *c)
{
	bool refused = false;

	if (!c->lpeer) {
		conn_close(c, -ECONNREFUSED);
		return;
	}
	if (c->probe_fd < 0) {
		c->probe_fd = probe_start(tp, c->lpeer);
		if (!c->lpeer) {
		conn_close(c, -ECONNREFUSED);
		return;
	}
	if (c->probe_fd < 0) {
			c->probe_at = INT64_MAX;
			return;
		}
	}
	if (!probe_done(c, &refused))
		return;
	/* Someone is there: its answer will come. */
	c->probe_at = INT64_MAX;
	if (refused)
		refused_at(tp, c->lpeer);
}

static void start(struct ofi_tp *tp, struct ofi_conn *c)
{
	struct ctrl_msg m = {
		.type = CTRL_CONNECT,
		.src = c->token,
		.name = tp->st.name,
		.namelen = tp->st.namelen,
		.priv = c->priv,
		.priv_len = c->priv_len,
	};
	uint32_t token = c->token;
	int ret;

	c->ready = true;
	c->state = OFI_C_REQUESTED;
	ret = tp->up->conn_ready(tp->upctx, &c->base);
	c = rmx__ofi_conn_by_token(tp, token);
	if (!c)
		return;
	if (ret) {
		conn_close(c, -ECONNABORTED);
		return;
	}
	if (c->start_err) {
		conn_close(c, -ECONNREFUSED);
		return;
	}
	c->probe_at = tp->str_addr ? INT64_MAX : rmx__now_ms() + OFI_PROBE_MS;
	if (ctrl_send(tp, c->lpeer, c->token, &m))
		conn_close(c, -ENOBUFS);
}

int rmx__ofi_cm_progress(struct ofi_tp *tp)
{
	int64_t now = rmx__now_ms();
	uint32_t tokens[64];
	struct rmx__list *pos;
	int n = 0, i;

	for (pos = tp->conns.next; pos != &tp->conns && n < 64;
	     pos = pos->next) {
		struct ofi_conn *c = rmx__container_of(pos, struct ofi_conn,
						       node);

		if (c->state == OFI_C_START ||
		    (c->state == OFI_C_REQUESTED &&
		     (now >= c->deadline_ms || now >= c->probe_at)))
			tokens[n++] = c->token;
	}
	for (i = 0; i < n; i++) {
		struct ofi_conn *c = rmx__ofi_conn_by_token(tp, tokens[i]);

		if (!c)
			continue;
		if (c->state == OFI_C_START)
			start(tp, c);
		else if (now >= c->deadline_ms)
			conn_close(c, -ETIMEDOUT);
		else
			probe(tp, c);
	}
	return n;
}

int64_t rmx__ofi_cm_deadline(const struct ofi_tp *tp)
{
	int64_t first = INT64_MAX;
	struct rmx__list *pos;

	for (pos = tp->conns.next; pos != &tp->conns; pos = pos->next) {
		const struct ofi_conn *c =
			rmx__container_of(pos, struct ofi_conn, node);

		if (c->state == OFI_C_START)
			return 0;
		if (c->state != OFI_C_REQUESTED)
			continue;
		/* A running probe is looked at as often as the loop turns. */
		if (c->probe_fd >= 0)
			return 0;
		if (c->deadline_ms < first)
			first = c->deadline_ms;
		if (c->probe_at < first)
			first = c->probe_at;
	}
	return first;
}

void rmx__ofi_cm_close(struct ofi_tp *tp)
{
	struct rmx__list *n;

	while ((n = rmx__list_pop(&tp->listeners))) {
		struct ofi_listener *l =
			rmx__container_of(n, struct ofi_listener, node);

		rmx__list_init(&l->node);
		rmx__ofi_listener_close(&l->base);
	}
	while (!rmx__list_empty(&tp->conns))
		conn_free(rmx__container_of(tp->conns.next, struct ofi_conn,
					    node));
	while ((n = rmx__list_pop(&tp->peers)))
		free(rmx__container_of(n, struct ofi_peer, node));
	rmx__list_init(&tp->busy);
	/* Control messages from the heap, queued or in flight. */
	while ((n = rmx__list_pop(&tp->ctrl_heap)))
		free(rmx__container_of(n, struct ofi_ctrl_tx, node));
}
