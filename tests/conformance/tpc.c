// SPDX-License-Identifier: BSD-2-Clause
/* The conformance harness (tpc.h): two backend instances and their log. */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "check_main.h"
#include "core/addr.h"
#include "core/log.h"
#include "lab.h"
#include "tpc.h"

/* wr_ctx of a side's i-th work request: never 0, and tells the sides apart. */
#define CTX_A 0x0a0c000000000000ull
#define CTX_B 0x0b0c000000000000ull

#define CONNECT_TIMEOUT_MS (TPC_TIMEOUT_MS * 4 / 5)

const struct tpc_backend *tpc_backend(void)
{
	const char *name = getenv("RMX_TEST_TP");
	char names[200] = "";
	size_t i;

	for (i = 0; i < tpc_nbackends; i++) {
		if (name && !strcmp(name, tpc_backends[i].name))
			return &tpc_backends[i];
		snprintf(names + strlen(names), sizeof(names) - strlen(names),
			 " %s", tpc_backends[i].name);
	}
	ck_abort_msg("RMX_TEST_TP=%s: not a backend of this build; one of:%s",
		     name ? name : "(unset)", names);
	return NULL;
}

static uint64_t ctx_base(const struct tpc_side *s)
{
	return s == &s->pair->a ? CTX_A : CTX_B;
}

static void violate(struct tpc_side *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void violate(struct tpc_side *s, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (s->violation[0])
		return;		/* the first one is the one to read */
	n = snprintf(s->violation, sizeof(s->violation), "side %s: ", s->name);
	va_start(ap, fmt);
	vsnprintf(s->violation + n, sizeof(s->violation) - (size_t)n, fmt, ap);
	va_end(ap);
}

/* Upcalls come from this side's progress(), never from a post call. */
static void check_context(struct tpc_side *s, const char *upcall)
{
	if (s->in_post)
		violate(s, "%s from inside a post call", upcall);
	else if (!s->in_progress)
		violate(s, "%s outside this backend instance's progress()",
			upcall);
}

static struct tpc_conn *conn_of(struct tpc_side *s, struct rmx__tp_conn *conn,
				const char *upcall)
{
	int i;

	for (i = 0; i < s->nconns; i++) {
		struct tpc_conn *c = &s->conns[i];

		if (c->conn != conn || c->destroyed)
			continue;
		if (conn->owner != c)
			violate(s, "%s: conn->owner is not what connect() or accept() was given",
				upcall);
		return c;
	}
	for (i = 0; i < s->nconns; i++) {
		if (s->conns[i].conn == conn) {
			violate(s, "%s for a connection already destroyed or rejected",
				upcall);
			return NULL;
		}
	}
	/* Inside connect(), before it returned the connection. */
	for (i = 0; i < s->nconns; i++)
		if (!s->conns[i].conn && conn && conn->owner == &s->conns[i])
			return &s->conns[i];
	violate(s, "%s for a connection this side never made", upcall);
	return NULL;
}

/* A record for a work request of c, or for a shared receive of s (c NULL). */
static struct tpc_wr *new_wr(struct tpc_side *s, struct tpc_conn *c,
			     bool recv, const void *buf, uint32_t len)
{
	struct tpc_wr *w;

	if (s->nwrs == TPC_MAX_WR)
		return NULL;
	w = &s->wrs[s->nwrs];
	memset(w, 0, sizeof(*w));
	w->wr_ctx = ctx_base(s) + (uint64_t)s->nwrs;
	w->conn = c;
	w->recv = recv;
	w->buf = (void *)buf;
	w->len = len;
	s->nwrs++;
	return w;
}

enum post_kind { POST_RECV, POST_SEND, POST_RMA, POST_PROBE };

/* Posts on c, or a shared receive on s (c NULL). */
static int post(struct tpc_side *s, struct tpc_conn *c, enum post_kind kind,
		const void *buf, uint32_t len, struct rmx__tp_mr *mr,
		const struct rmx__tp_rma *rma, struct tpc_wr **out)
{
	const struct rmx__tp_ops *ops = s->tp->ops;
	struct tpc_wr *w;
	int ret;

	if (kind == POST_RECV && tpc_recvs_posted(s) >= (int)s->tp->max_recv) {
		violate(s, "the test would post more than max_recv (%u) shared receives",
			s->tp->max_recv);
		*out = NULL;
		return -ENOSPC;
	}
	if (kind == POST_RMA)
		w = new_wr(s, c, false, rma->buf, rma->len);
	else
		w = new_wr(s, c, kind == POST_RECV, buf, len);
	*out = w;
	if (!w)
		return -ENOSPC;
	w->probe = kind == POST_PROBE;
	s->in_post = true;
	if (kind == POST_RECV)
		ret = ops->post_recv(s->tp, (void *)buf, len, mr, w->wr_ctx);
	else if (kind == POST_SEND)
		ret = ops->post_send(c->conn, buf, len, mr, w->wr_ctx);
	else if (kind == POST_PROBE)
		ret = ops->post_probe(c->conn, w->wr_ctx);
	else
		ret = ops->post_rma(c->conn, rma, w->wr_ctx);
	s->in_post = false;
	w->posted = !ret;
	return ret;
}

static void *slot(struct tpc_side *s)
{
	return s->rx->buf + (size_t)(s->next_slot++ % TPC_RX_SLOTS) *
			    TPC_RX_SLOT;
}

/* Upcalls ------------------------------------------------------------ */

/* Whether a connection of s was destroyed (or rejected) by now. */
static bool any_destroyed(const struct tpc_side *s)
{
	int i;

	for (i = 0; i < s->nconns; i++)
		if (s->conns[i].destroyed)
			return true;
	return false;
}

/*
 * The connection a receive's completion names (transport.h): a live one
 * of this side, or NULL once one of them was destroyed.
 */
static struct tpc_conn *recv_conn(struct tpc_side *s,
				  const struct rmx__tp_comp *comp,
				  unsigned long long i)
{
	if (comp->conn)
		return conn_of(s, comp->conn, "receive completion");
	if (!any_destroyed(s))
		violate(s, "receive #%llu names no connection, yet none of this side's was destroyed",
			i);
	return NULL;
}

static void up_completion(void *upctx, const struct rmx__tp_comp *comp)
{
	struct tpc_side *s = upctx;
	uint64_t i = comp->wr_ctx - ctx_base(s);
	const char *what;
	struct tpc_wr *w;
	struct tpc_conn *c;

	check_context(s, "completion");
	if (comp->wr_ctx < ctx_base(s) || i >= (uint64_t)s->nwrs) {
		violate(s, "completion of wr_ctx %#llx, never posted here",
			(unsigned long long)comp->wr_ctx);
		return;
	}
	w = &s->wrs[i];
	what = w->recv ? "receive" : "send-queue request";
	if (!w->posted)
		violate(s, "completion of %s #%llu whose post call failed",
			what, (unsigned long long)i);
	if (w->ncomp++) {
		violate(s, "%s #%llu completed twice (statuses %d, %d)", what,
			(unsigned long long)i, w->comp.status, comp->status);
		return;
	}
	w->comp = *comp;
	w->seq = ++s->pair->seq;
	if (comp->kind != (w->recv  ? RMX__TP_COMP_RECV :
			   w->probe ? RMX__TP_COMP_PROBE :
				      RMX__TP_COMP_SEND))
		violate(s, "%s #%llu completed as kind %d", what,
			(unsigned long long)i, (int)comp->kind);
	if (comp->status > 0)
		violate(s, "%s #%llu completed with status %d: not 0 or a negative errno",
			what, (unsigned long long)i, comp->status);
	/* A write's notice reports the write's length: no bound here. */
	if (!comp->status && w->recv && !comp->has_imm && comp->len > w->len)
		violate(s, "receive #%llu reports %u bytes in a buffer of %u",
			(unsigned long long)i, comp->len, w->len);
	if (comp->has_imm && !w->recv)
		violate(s, "send-queue request #%llu completed with has_imm",
			(unsigned long long)i);
	if (w->recv) {
		c = recv_conn(s, comp, (unsigned long long)i);
		w->conn = c;
		if (c && c->fail_seq)
			violate(s, "receive #%llu names a connection that failed before",
				(unsigned long long)i);
	} else {
		c = w->conn;
		if (c->destroyed)
			violate(s, "%s #%llu completed after its connection was destroyed",
				what, (unsigned long long)i);
		else if (comp->conn != c->conn)
			violate(s, "%s #%llu names another connection", what,
				(unsigned long long)i);
		else if (!comp->status && c->fail_seq)
			violate(s, "%s #%llu succeeded after its connection failed",
				what, (unsigned long long)i);
	}
	if (c && !c->destroyed && comp->status && !c->fail_seq)
		c->fail_seq = w->seq;
	if (s->hook)
		s->hook(s->hook_arg, w);
}

static int up_conn_ready(void *upctx, struct rmx__tp_conn *conn)
{
	struct tpc_side *s = upctx;
	struct tpc_conn *c;
	struct tpc_wr *w;
	int i, ret;

	check_context(s, "conn_ready");
	c = conn_of(s, conn, "conn_ready");
	if (!c)
		return 0;
	if (c->nready++)
		violate(s, "conn_ready twice");
	c->ready_seq = ++s->pair->seq;
	if (!c->conn)
		c->conn = conn;
	/* Credits for the peer: shared receives, as a protocol posts them. */
	for (i = 0; i < c->prepost; i++) {
		ret = post(s, NULL, POST_RECV, slot(s), TPC_RX_SLOT, s->rx->mr,
			   NULL, &w);
		if (ret)
			violate(s, "post_recv at conn_ready: %s", strerror(-ret));
	}
	return 0;
}

/* The peer's private data, as an upcall hands it over. */
static void keep_priv(struct tpc_conn *c, const void *priv, size_t len,
		      const char *upcall)
{
	c->priv_len = len;
	if (len && !priv)
		violate(c->side, "%s: %zu bytes of private data at NULL",
			upcall, len);
	else if (len)
		memcpy(c->priv, priv, len < TPC_PRIV_MAX ? len : TPC_PRIV_MAX);
}

static void up_conn_established(void *upctx, struct rmx__tp_conn *conn,
				const void *priv, size_t priv_len)
{
	struct tpc_side *s = upctx;
	struct tpc_conn *c;

	check_context(s, "conn_established");
	c = conn_of(s, conn, "conn_established");
	if (!c)
		return;
	if (!c->nready)
		violate(s, "conn_established before conn_ready");
	if (c->nclosed)
		violate(s, "conn_established after conn_closed");
	if (c->nestablished++)
		violate(s, "conn_established twice");
	c->established_seq = ++s->pair->seq;
	if (c->passive)
		return;
	keep_priv(c, priv, priv_len, "conn_established");
}

static void up_conn_closed(void *upctx, struct rmx__tp_conn *conn, int status)
{
	struct tpc_side *s = upctx;
	struct tpc_conn *c;

	check_context(s, "conn_closed");
	c = conn_of(s, conn, "conn_closed");
	if (!c)
		return;
	if (c->nclosed++)
		violate(s, "conn_closed twice");
	if (status >= 0)
		violate(s, "conn_closed with status %d, not a negative errno",
			status);
	c->closed_status = status;
	c->closed_seq = ++s->pair->seq;
	if (!c->fail_seq)
		c->fail_seq = c->closed_seq;
}

static struct tpc_conn *new_conn(struct tpc_side *s, bool passive)
{
	struct tpc_conn *c;

	if (s->nconns == TPC_MAX_CONNS)
		return NULL;
	c = &s->conns[s->nconns++];
	memset(c, 0, sizeof(*c));
	c->side = s;
	c->passive = passive;
	c->prepost = s->prepost;
	c->peer_family = -1;
	return c;
}

static int up_conn_request(void *upctx, struct rmx__tp_listener *l,
			   struct rmx__tp_conn *conn,
			   const struct sockaddr *peer, const void *priv,
			   size_t priv_len)
{
	struct tpc_side *s = upctx;
	struct tpc_conn *c;
	int ret;

	check_context(s, "conn_request");
	if (l != s->listener)
		violate(s, "conn_request for a listener this side does not hold");
	c = new_conn(s, true);
	if (!c) {
		violate(s, "more than %d connections", TPC_MAX_CONNS);
		return -ENOMEM;
	}
	c->conn = conn;
	if (peer)
		c->peer_family = peer->sa_family;
	keep_priv(c, priv, priv_len, "conn_request");
	if (s->reject) {
		/* The backend frees conn: no upcall may name it again. */
		c->destroyed = true;
		return s->reject;
	}
	ret = s->tp->ops->accept(conn, &s->want, s->accept_priv,
				 s->accept_priv_len, c);
	if (ret) {
		violate(s, "accept: %s", strerror(-ret));
		c->destroyed = true;
	}
	return ret;
}

static const struct rmx__tp_upcalls upcalls = {
	.completion = up_completion,
	.conn_ready = up_conn_ready,
	.conn_established = up_conn_established,
	.conn_closed = up_conn_closed,
	.conn_request = up_conn_request,
};

/* Driving ------------------------------------------------------------ */

static void check_violations(struct tpc_pair *p)
{
	if (p->a.violation[0])
		ck_abort_msg("%s: %s", p->be->name, p->a.violation);
	if (p->b.violation[0])
		ck_abort_msg("%s: %s", p->be->name, p->b.violation);
}

static int progress(struct tpc_pair *p, struct tpc_side *s)
{
	int n;

	s->in_progress = true;
	n = s->tp->ops->progress(s->tp);
	s->in_progress = false;
	if (n < 0)
		ck_abort_msg("%s: side %s: progress: %s", p->be->name, s->name,
			     strerror(-n));
	return n;
}

static int arm(struct tpc_pair *p, struct tpc_side *s)
{
	int ret = s->tp->ops->arm(s->tp);

	if (ret && ret != -EAGAIN)
		ck_abort_msg("%s: side %s: arm: %s", p->be->name, s->name,
			     strerror(-ret));
	return ret;
}

void tpc_step(struct tpc_pair *p, int64_t deadline_ms)
{
	struct pollfd fds[2] = {
		{ .fd = rmx__loop_fd(&p->a.loop), .events = POLLIN },
		{ .fd = rmx__loop_fd(&p->b.loop), .events = POLLIN },
	};
	int64_t left;
	int n;

	n = progress(p, &p->a);
	n += progress(p, &p->b);
	check_violations(p);
	if (n)
		return;
	/*
	 * As an event loop would: sleep only when both say nothing is
	 * waiting, so a backend whose fds do not wake the sleeper times out.
	 */
	if (arm(p, &p->a) || arm(p, &p->b))
		return;
	left = deadline_ms - rmx__now_ms();
	if (left <= 0)
		return;
	if (poll(fds, 2, (int)left) < 0 && errno != EINTR)
		ck_abort_msg("poll: %s", strerror(errno));
}

void tpc_settle(struct tpc_pair *p, int ms)
{
	int64_t end = rmx__now_ms() + ms;

	while (rmx__now_ms() < end)
		tpc_step(p, end);
}

static void describe(const struct tpc_side *s, char *buf, size_t cap)
{
	size_t n = strlen(buf);
	int i;

	n += (size_t)snprintf(buf + n, cap - n, "; %s: %d receives posted",
			      s->name, tpc_recvs_posted(s));
	for (i = 0; i < s->nconns && n < cap; i++) {
		const struct tpc_conn *c = &s->conns[i];

		n += (size_t)snprintf(buf + n, cap - n,
				      "; %s%d: ready %d established %d closed %d (%d)%s, %d outstanding",
				      s->name, i, c->nready, c->nestablished,
				      c->nclosed, c->closed_status,
				      c->destroyed ? " destroyed" : "",
				      tpc_outstanding(c));
	}
}

void tpc_timeout(struct tpc_pair *p, const char *what, bool after_poke)
{
	char state[600] = "";

	describe(&p->a, state, sizeof(state));
	describe(&p->b, state, sizeof(state));
	if (after_poke)
		ck_abort_msg("%s: waited %d ms for %s, which a few more progress() calls brought: the loops' fds did not wake the armed wait%s",
			     p->be->name, TPC_TIMEOUT_MS, what, state);
	ck_abort_msg("%s: timed out after %d ms waiting for %s%s",
		     p->be->name, TPC_TIMEOUT_MS, what, state);
	abort();
}

void tpc_poke(struct tpc_pair *p)
{
	int i;

	for (i = 0; i < 4; i++) {
		progress(p, &p->a);
		progress(p, &p->b);
		check_violations(p);
	}
}

/* Pairs -------------------------------------------------------------- */

void tpc_sockaddr(struct tpc_pair *p, int port, struct sockaddr_storage *ss)
{
	const char *host = p->be->addr ? p->be->addr : lab_addr();
	char text[128];
	int ret;

	snprintf(text, sizeof(text), strchr(host, ':') ? "[%s]:%d" : "%s:%d",
		 host, port);
	ret = rmx__addr_parse(text, ss);
	ck_assert_msg(ret == 0, "address %s: %s", text, strerror(-ret));
}

static void side_open(struct tpc_pair *p, struct tpc_side *s,
		      const char *name)
{
	int ret;

	s->name = name;
	s->pair = p;
	s->want = (struct rmx__tp_conn_want){ .sq_depth = 128,
					      .recv_guaranteed = true };
	s->prepost = TPC_PREPOST;
	ret = rmx__loop_init(&s->loop);
	ck_assert_msg(ret == 0, "rmx__loop_init: %s", strerror(-ret));
	ret = p->be->ops->open(&s->loop, &upcalls, s, &s->tp);
	ck_assert_msg(ret == 0, "%s: open: %s", p->be->name, strerror(-ret));
	ck_assert_ptr_eq(s->tp->ops, p->be->ops);
	ck_assert_msg(s->tp->max_recv > 0, "%s: max_recv is 0", p->be->name);
	s->rx = tpc_reg(s, (size_t)TPC_RX_SLOT * TPC_RX_SLOTS,
			RMX__TP_LOCAL_WRITE);
}

struct tpc_pair *tpc_open(void)
{
	struct tpc_pair *p = calloc(1, sizeof(*p));
	struct sockaddr_storage ss;
	int ret;

	ck_assert_ptr_nonnull(p);
	rmx__log_init();	/* RMX_LOG_LEVEL, as a context reads it */
	p->be = tpc_backend();
	side_open(p, &p->a, "a");
	side_open(p, &p->b, "b");
	tpc_sockaddr(p, 0, &ss);
	ret = p->b.tp->ops->listen(p->b.tp, (struct sockaddr *)&ss, &p->b,
				   &p->b.listener);
	ck_assert_msg(ret == 0, "%s: listen: %s", p->be->name, strerror(-ret));
	return p;
}

int tpc_port(struct tpc_pair *p)
{
	return p->b.tp->ops->listener_port(p->b.listener);
}

struct tpc_conn *tpc_connect(struct tpc_pair *p, int port, const void *priv,
			     size_t priv_len)
{
	struct tpc_conn *c = new_conn(&p->a, false);
	struct sockaddr_storage ss;
	struct rmx__tp_conn *conn = NULL;
	int ret;

	ck_assert_ptr_nonnull(c);
	tpc_sockaddr(p, port, &ss);
	ret = p->a.tp->ops->connect(p->a.tp, NULL, (struct sockaddr *)&ss,
				    &p->a.want, priv, priv_len,
				    CONNECT_TIMEOUT_MS, c, &conn);
	ck_assert_msg(ret == 0, "%s: connect: %s", p->be->name,
		      strerror(-ret));
	ck_assert_msg(!c->conn || c->conn == conn,
		      "connect() returned another connection than its upcalls named");
	c->conn = conn;
	return c;
}

struct tpc_conn *tpc_accepted(struct tpc_pair *p)
{
	int i;

	for (i = p->b.nconns - 1; i >= 0; i--)
		if (!p->b.conns[i].destroyed)
			return &p->b.conns[i];
	return NULL;
}

static bool both_established(struct tpc_pair *p, struct tpc_conn *ca)
{
	struct tpc_conn *cb = tpc_accepted(p);

	return ca->nestablished && cb && cb->nestablished;
}

struct tpc_pair *tpc_pair_connect(void)
{
	struct tpc_pair *p = tpc_open();

	p->ca = tpc_connect(p, tpc_port(p), NULL, 0);
	tpc_wait(p, both_established(p, p->ca));
	p->cb = tpc_accepted(p);
	return p;
}

void tpc_destroy(struct tpc_conn *c)
{
	c->side->tp->ops->conn_destroy(c->conn);
	c->destroyed = true;
}

bool tpc_lacks(struct tpc_pair *p, unsigned int cap, const char *name)
{
	if (p->a.tp->caps & cap)
		return false;
	rmx_test_skipped("backend %s does not declare %s", p->be->name, name);
	tpc_close(p);
	return true;
}

static void side_close(struct tpc_side *s)
{
	const struct rmx__tp_ops *ops = s->tp->ops;
	int i, ret;

	for (i = 0; i < s->nmems; i++) {
		ret = ops->mr_dereg(s->mems[i].mr);
		ck_assert_msg(ret == 0, "mr_dereg: %s", strerror(-ret));
		free(s->mems[i].buf);
	}
	ops->close(s->tp);
	rmx__loop_fini(&s->loop);
}

void tpc_close(struct tpc_pair *p)
{
	struct tpc_side *sides[2] = { &p->a, &p->b };
	int i, j;

	for (j = 0; j < 2; j++)
		for (i = 0; i < sides[j]->nconns; i++)
			if (!sides[j]->conns[i].destroyed)
				tpc_destroy(&sides[j]->conns[i]);
	/* Nothing may name a destroyed connection, nor complete twice. */
	tpc_settle(p, 20);
	p->b.tp->ops->listener_close(p->b.listener);
	side_close(&p->a);
	side_close(&p->b);
	free(p);
}

/* Memory and keys ---------------------------------------------------- */

struct tpc_mem *tpc_reg(struct tpc_side *s, size_t len, unsigned int access)
{
	struct tpc_mem *m;
	int ret;

	ck_assert_int_lt(s->nmems, TPC_MAX_MEMS);
	m = &s->mems[s->nmems];
	m->len = len;
	m->buf = aligned_alloc(4096, (len + 4095) & ~(size_t)4095);
	ck_assert_ptr_nonnull(m->buf);
	memset(m->buf, 0, len);
	ret = s->tp->ops->mr_reg(s->tp, m->buf, len, access, &m->mr);
	ck_assert_msg(ret == 0, "mr_reg of %zu bytes: %s", len, strerror(-ret));
	s->nmems++;
	ck_assert_ptr_eq(m->mr->addr, m->buf);
	ck_assert_uint_eq(m->mr->len, len);
	ck_assert_msg(m->mr->rkey <= s->tp->max_key,
		      "rkey %#llx above max_key %#llx",
		      (unsigned long long)m->mr->rkey,
		      (unsigned long long)s->tp->max_key);
	return m;
}

static bool key_in_use(const struct tpc_side *s, uint64_t key)
{
	int i;

	for (i = 0; i < s->nmems; i++)
		if (s->mems[i].mr->rkey == key)
			return true;
	return false;
}

uint64_t tpc_bad_key(struct tpc_pair *p, uint64_t good)
{
	static const uint64_t flips[] = { 0x80, 0x1, 0x8000, 0x800000, 0xff };
	uint64_t key;
	size_t i;

	for (i = 0; i < sizeof(flips) / sizeof(flips[0]); i++) {
		key = (good ^ flips[i]) & p->b.tp->max_key;
		if (key != good && !key_in_use(&p->a, key) &&
		    !key_in_use(&p->b, key))
			return key;
	}
	ck_abort_msg("no unused key near %#llx", (unsigned long long)good);
	return 0;
}

/* Posting ------------------------------------------------------------ */

int tpc_try_recv(struct tpc_side *s, void *buf, uint32_t len,
		 struct rmx__tp_mr *mr, struct tpc_wr **out)
{
	return post(s, NULL, POST_RECV, buf, len, mr, NULL, out);
}

int tpc_try_send(struct tpc_conn *c, const void *buf, uint32_t len,
		 struct rmx__tp_mr *mr, struct tpc_wr **out)
{
	return post(c->side, c, POST_SEND, buf, len, mr, NULL, out);
}

static struct tpc_wr *posted(struct tpc_side *s, const char *call, int ret,
			     struct tpc_wr *w)
{
	check_violations(s->pair);
	if (ret)
		ck_abort_msg("%s: side %s: %s: %s", s->pair->be->name, s->name,
			     call, strerror(-ret));
	return w;
}

struct tpc_wr *tpc_post_recv(struct tpc_side *s, void *buf, uint32_t len,
			     struct rmx__tp_mr *mr)
{
	struct tpc_wr *w;
	int ret = tpc_try_recv(s, buf, len, mr, &w);

	return posted(s, "post_recv", ret, w);
}

struct tpc_wr *tpc_post_slot(struct tpc_side *s)
{
	return tpc_post_recv(s, slot(s), TPC_RX_SLOT, s->rx->mr);
}

struct tpc_wr *tpc_post_send(struct tpc_conn *c, const void *buf,
			     uint32_t len, struct rmx__tp_mr *mr)
{
	struct tpc_wr *w;
	int ret = tpc_try_send(c, buf, len, mr, &w);

	return posted(c->side, "post_send", ret, w);
}

struct tpc_wr *tpc_post_rma(struct tpc_conn *c, const struct rmx__tp_rma *rma)
{
	struct tpc_wr *w;
	int ret = post(c->side, c, POST_RMA, NULL, 0, NULL, rma, &w);

	return posted(c->side, "post_rma", ret, w);
}

struct tpc_wr *tpc_post_probe(struct tpc_conn *c)
{
	struct tpc_wr *w;
	int ret = post(c->side, c, POST_PROBE, NULL, 0, NULL, NULL, &w);

	return posted(c->side, "post_probe", ret, w);
}

void tpc_progress_one(struct tpc_pair *p, struct tpc_side *s)
{
	progress(p, s);
	check_violations(p);
}

/* Counting ----------------------------------------------------------- */

static bool which_has(enum tpc_which which, const struct tpc_wr *w)
{
	return which == TPC_ALL || (which == TPC_RECV) == w->recv;
}

int tpc_outstanding(const struct tpc_conn *c)
{
	const struct tpc_side *s = c->side;
	int i, n = 0;

	for (i = 0; i < s->nwrs; i++) {
		const struct tpc_wr *w = &s->wrs[i];

		if (w->conn == c && !w->recv && w->posted && !w->ncomp)
			n++;
	}
	return n;
}

int tpc_recvs_posted(const struct tpc_side *s)
{
	int i, n = 0;

	for (i = 0; i < s->nwrs; i++)
		if (s->wrs[i].recv && s->wrs[i].posted && !s->wrs[i].ncomp)
			n++;
	return n;
}

int tpc_completed(const struct tpc_conn *c, enum tpc_which which)
{
	const struct tpc_side *s = c->side;
	int i, n = 0;

	for (i = 0; i < s->nwrs; i++) {
		const struct tpc_wr *w = &s->wrs[i];

		if (w->conn == c && w->ncomp && which_has(which, w))
			n++;
	}
	return n;
}

void tpc_check_flushed(const struct tpc_conn *c)
{
	const struct tpc_side *s = c->side;
	int i;

	if (!c->fail_seq)
		ck_abort_msg("side %s: the connection never failed", s->name);
	for (i = 0; i < s->nwrs; i++) {
		const struct tpc_wr *w = &s->wrs[i];

		if (w->recv && w->ncomp && w->comp.status == -ECANCELED)
			ck_abort_msg("side %s: shared receive #%d was flushed (-ECANCELED): a connection's failure flushes no shared receive",
				     s->name, i);
		if (w->recv || w->conn != c || !w->posted)
			continue;
		if (w->ncomp != 1)
			ck_abort_msg("side %s: work request #%d completed %d times",
				     s->name, i, w->ncomp);
		if (w->seq >= c->fail_seq && w->comp.status >= 0)
			ck_abort_msg("side %s: request #%d completed with %d after the connection failed",
				     s->name, i, w->comp.status);
	}
}
