// SPDX-License-Identifier: BSD-2-Clause
/*
 * The loop transport against the rmx__tp_ops contract, driven directly
 * (no protocol): what the protocol suites rely on it to do as a verbs RC
 * device would. A seed for a conformance suite every backend could run.
 */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "core/log.h"
#include "loop_tp.h"

/* What one transport's upcalls saw, in order. */
struct rec {
	struct rmx__loop loop;
	struct rmx__tp *tp;
	char log[128];		/* R ready, Q request, E established, X closed,
				 * C completion, F failed completion */
	int n;
	struct rmx__tp_comp comps[32];
	int ncomps;
	int closed_status;
	uint8_t priv[64];
	size_t priv_len;
	struct rmx__tp_conn *conn;
	bool refuse;		/* conn_request rejects */
	bool posting;		/* an upcall now would be synchronous */
	/* Checked in the completion upcall of a write with immediate. */
	const uint8_t *watch;
	size_t watch_len;
	uint8_t watch_byte;
	bool watched_in_place;
};

static struct rmx__config cfg;
static const struct rmx__tp_conn_want want = { .sq_depth = 8,
					       .recv_guaranteed = true };

static void note(struct rec *r, char c)
{
	ck_assert(!r->posting);
	ck_assert_int_lt(r->n, (int)sizeof(r->log) - 1);
	r->log[r->n++] = c;
}

static void up_completion(void *upctx, const struct rmx__tp_comp *comp)
{
	struct rec *r = upctx;
	size_t i;

	note(r, comp->status ? 'F' : 'C');
	ck_assert_int_lt(r->ncomps, 32);
	r->comps[r->ncomps++] = *comp;
	if (comp->has_imm && r->watch) {
		r->watched_in_place = true;
		for (i = 0; i < r->watch_len; i++)
			if (r->watch[i] != r->watch_byte)
				r->watched_in_place = false;
	}
}

static int up_ready(void *upctx, struct rmx__tp_conn *conn)
{
	(void)conn;
	note(upctx, 'R');
	return 0;
}

static void up_established(void *upctx, struct rmx__tp_conn *conn,
			   const void *priv, size_t len)
{
	struct rec *r = upctx;

	note(r, 'E');
	r->conn = conn;
	if (len)
		memcpy(r->priv, priv, len);
	r->priv_len = len;
}

static void up_closed(void *upctx, struct rmx__tp_conn *conn, int status)
{
	struct rec *r = upctx;

	(void)conn;
	note(r, 'X');
	r->closed_status = status;
}

static int up_request(void *upctx, struct rmx__tp_listener *l,
		      struct rmx__tp_conn *conn, const struct sockaddr *peer,
		      const void *priv, size_t len)
{
	struct rec *r = upctx;

	(void)l;
	(void)peer;
	note(r, 'Q');
	if (len)
		memcpy(r->priv, priv, len);
	r->priv_len = len;
	if (r->refuse)
		return -ECONNREFUSED;
	return r->tp->ops->accept(conn, &want, "server", 6, r);
}

static const struct rmx__tp_upcalls upcalls = {
	.completion = up_completion,
	.conn_ready = up_ready,
	.conn_established = up_established,
	.conn_closed = up_closed,
	.conn_request = up_request,
};

/* A connected pair of transports, A active, B passive. */
struct pair {
	struct rec a, b;
	struct rmx__tp_listener *l;
	struct sockaddr_in sa;		/* where l listens */
	struct rmx__tp_conn *ca, *cb;
};

/* Forgets what the upcalls saw so far. */
static void clear(struct pair *p)
{
	memset(p->a.log, 0, sizeof(p->a.log));
	memset(p->b.log, 0, sizeof(p->b.log));
	p->a.n = p->b.n = 0;
	p->a.ncomps = p->b.ncomps = 0;
}

static void progress(struct rec *r)
{
	ck_assert_int_ge(r->tp->ops->progress(r->tp), 0);
}

static void run(struct pair *p)
{
	int i;

	for (i = 0; i < 8; i++) {
		progress(&p->a);
		progress(&p->b);
	}
}

static void open_tp(struct rec *r)
{
	memset(r, 0, sizeof(*r));
	ck_assert_int_eq(loop_tp_register(), 0);
	ck_assert_int_eq(rmx__loop_init(&r->loop), 0);
	ck_assert_int_eq(rmx__tp_open(LOOP_TP_NAME, &r->loop, &upcalls, r,
				      &r->tp), 0);
}

/* Both transports open, B listening, no connection yet. */
static void pair_open(struct pair *p)
{
	struct sockaddr_in *sa = &p->sa;

	rmx__log_level = RMX__LOG_NONE;
	ck_assert_int_eq(rmx__config_load(&cfg, NULL), 0);
	open_tp(&p->a);
	open_tp(&p->b);
	p->ca = p->cb = NULL;
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_addr.s_addr = htonl(0xc0000201);
	ck_assert_int_eq(p->b.tp->ops->listen(p->b.tp, (struct sockaddr *)sa,
					      NULL, &p->l), 0);
	sa->sin_port = htons((uint16_t)p->b.tp->ops->listener_port(p->l));
	ck_assert_int_gt(ntohs(sa->sin_port), 0);
}

/* One more connection from A to B, established at both ends. */
static void dial(struct pair *p, struct rmx__tp_conn **ca,
		 struct rmx__tp_conn **cb)
{
	p->a.posting = p->b.posting = true;
	ck_assert_int_eq(p->a.tp->ops->connect(p->a.tp, NULL,
					       (struct sockaddr *)&p->sa,
					       &want, "client", 6, 1000, &p->a,
					       ca), 0);
	p->a.posting = p->b.posting = false;
	p->b.conn = NULL;
	run(p);
	ck_assert_ptr_eq(p->a.conn, *ca);
	ck_assert_ptr_nonnull(p->b.conn);
	*cb = p->b.conn;
}

static void pair_connect(struct pair *p)
{
	pair_open(p);
	dial(p, &p->ca, &p->cb);
}

static void pair_close(struct pair *p)
{
	if (p->ca)
		p->a.tp->ops->conn_destroy(p->ca);
	if (p->cb)
		p->b.tp->ops->conn_destroy(p->cb);
	p->b.tp->ops->listener_close(p->l);
	p->a.tp->ops->close(p->a.tp);
	p->b.tp->ops->close(p->b.tp);
	rmx__loop_fini(&p->a.loop);
	rmx__loop_fini(&p->b.loop);
}

static struct rmx__tp_mr *reg(struct rec *r, void *buf, size_t len,
			      unsigned int access)
{
	struct rmx__tp_mr *mr;

	ck_assert_int_eq(r->tp->ops->mr_reg(r->tp, buf, len, access, &mr), 0);
	return mr;
}

/* A shared receive at r's transport; no upcall may run from inside it. */
static int post_recv(struct rec *r, void *buf, uint32_t len,
		     struct rmx__tp_mr *mr, uint64_t wr_ctx)
{
	int ret;

	r->posting = true;
	ret = r->tp->ops->post_recv(r->tp, buf, len, mr, wr_ctx);
	r->posting = false;
	return ret;
}

/* A message from A on ca, inline (at most 64 bytes). */
static void send_str(struct pair *p, struct rmx__tp_conn *ca,
		     const char *msg, uint64_t wr_ctx)
{
	p->a.posting = p->b.posting = true;
	ck_assert_int_eq(p->a.tp->ops->post_send(ca, msg,
						 (uint32_t)strlen(msg) + 1,
						 NULL, wr_ctx), 0);
	p->a.posting = p->b.posting = false;
}

/* B's completion i: msg received in buf from cb, as posted with wr_ctx. */
static void check_recv(const struct pair *p, int i,
		       const struct rmx__tp_conn *cb, uint64_t wr_ctx,
		       const uint8_t *buf, const char *msg)
{
	const struct rmx__tp_comp *comp = &p->b.comps[i];

	ck_assert_int_lt(i, p->b.ncomps);
	ck_assert_int_eq(comp->kind, RMX__TP_COMP_RECV);
	ck_assert_int_eq(comp->status, 0);
	ck_assert_ptr_eq(comp->conn, cb);
	ck_assert_uint_eq(comp->wr_ctx, wr_ctx);
	ck_assert_uint_eq(comp->len, strlen(msg) + 1);
	ck_assert_str_eq((const char *)buf, msg);
}

static int post_rma(struct pair *p, enum rmx__tp_rma_op op, void *buf,
		    uint32_t len, struct rmx__tp_mr *mr, uint64_t raddr,
		    uint64_t rkey, uint64_t wr_ctx)
{
	struct rmx__tp_rma rma = { .op = op, .buf = buf, .len = len, .mr = mr,
				   .raddr = raddr, .rkey = rkey, .imm = 77 };
	int ret;

	p->a.posting = p->b.posting = true;
	ret = p->a.tp->ops->post_rma(p->ca, &rma, wr_ctx);
	p->a.posting = p->b.posting = false;
	return ret;
}

START_TEST(handshake)
{
	struct pair p;

	pair_connect(&p);
	/* Queues before anything is delivered; the active side first. */
	ck_assert_str_eq(p.a.log, "RE");
	ck_assert_str_eq(p.b.log, "QRE");
	ck_assert_ptr_eq(p.a.conn, p.ca);
	ck_assert_ptr_nonnull(p.cb);
	ck_assert_uint_eq(p.a.priv_len, 6);
	ck_assert_mem_eq(p.a.priv, "server", 6);
	pair_close(&p);
}
END_TEST

START_TEST(refused)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(9) };
	struct rmx__tp_conn *c;
	struct rec a;

	rmx__log_level = RMX__LOG_NONE;
	ck_assert_int_eq(rmx__config_load(&cfg, NULL), 0);
	open_tp(&a);
	ck_assert_int_eq(a.tp->ops->connect(a.tp, NULL, (struct sockaddr *)&sa,
					    &want, "x", 1, 1000, &a, &c), 0);
	progress(&a);
	progress(&a);
	ck_assert_str_eq(a.log, "RX");
	ck_assert_int_eq(a.closed_status, -ECONNREFUSED);
	a.tp->ops->conn_destroy(c);
	a.tp->ops->close(a.tp);
	rmx__loop_fini(&a.loop);
}
END_TEST

START_TEST(sends_land_in_order)
{
	static const char *const msgs[] = { "one", "two", "three" };
	uint8_t rx[3][80], tx[3][80];
	struct rmx__tp_mr *rmr, *tmr;
	struct pair p;
	int i;

	pair_connect(&p);
	rmr = reg(&p.b, rx, sizeof(rx), RMX__TP_LOCAL_WRITE);
	tmr = reg(&p.a, tx, sizeof(tx), 0);
	clear(&p);
	for (i = 0; i < 3; i++) {
		ck_assert_int_eq(post_recv(&p.b, rx[i], 80, rmr, (uint64_t)i),
				 0);
		strcpy((char *)tx[i], msgs[i]);
		p.a.posting = p.b.posting = true;
		/* 65 bytes and more need their registration: not inline. */
		ck_assert_int_eq(p.a.tp->ops->post_send(p.ca, tx[i], 80, tmr,
							(uint64_t)i), 0);
		p.a.posting = p.b.posting = false;
	}
	run(&p);
	ck_assert_str_eq(p.b.log, "CCC");
	ck_assert_str_eq(p.a.log, "CCC");
	for (i = 0; i < 3; i++) {
		ck_assert_ptr_eq(p.b.comps[i].conn, p.cb);
		ck_assert_uint_eq(p.b.comps[i].wr_ctx, (uint64_t)i);
		ck_assert_uint_eq(p.b.comps[i].len, 80);
		ck_assert_str_eq((char *)rx[i], msgs[i]);
	}
	ck_assert_int_eq(p.a.tp->ops->post_send(p.ca, tx[0], 80, NULL, 9),
			 -EINVAL);
	ck_assert_int_eq(p.a.tp->ops->mr_dereg(tmr), 0);
	ck_assert_int_eq(p.b.tp->ops->mr_dereg(rmr), 0);
	pair_close(&p);
}
END_TEST

/*
 * No receive posted: the send fails with the receiver-not-ready error,
 * counted; what follows is flushed, and nothing succeeds after. The
 * sender's own receives are another transport's pool: they do not help.
 */
START_TEST(receiver_not_ready_is_an_error)
{
	uint8_t rx[32], own[32], tx[8] = "abc";
	struct rmx__tp_mr *rmr, *omr;
	struct pair p;
	int i;

	pair_connect(&p);
	rmr = reg(&p.b, rx, sizeof(rx), RMX__TP_LOCAL_WRITE);
	omr = reg(&p.a, own, sizeof(own), RMX__TP_LOCAL_WRITE);
	clear(&p);
	memset(own, 0, sizeof(own));
	ck_assert_int_eq(post_recv(&p.b, rx, 32, rmr, 0), 0);
	ck_assert_int_eq(post_recv(&p.a, own, 32, omr, 9), 0);
	for (i = 0; i < 3; i++)
		ck_assert_int_eq(p.a.tp->ops->post_send(p.ca, tx, 8, NULL,
							(uint64_t)i), 0);
	run(&p);
	ck_assert_str_eq(p.b.log, "C");
	ck_assert_str_eq((char *)rx, "abc");
	ck_assert_str_eq(p.a.log, "CFF");
	for (i = 0; i < 3; i++) {
		ck_assert_int_eq(p.a.comps[i].kind, RMX__TP_COMP_SEND);
		ck_assert_ptr_eq(p.a.comps[i].conn, p.ca);
	}
	ck_assert_uint_eq(own[0], 0);
	ck_assert_int_eq(p.a.comps[1].status, -ETIMEDOUT);
	ck_assert_int_eq(p.a.comps[2].status, -ECANCELED);
	ck_assert_uint_eq(loop_stats.rnr, 1);
	/* In error: accepted, flushed. */
	ck_assert_int_eq(p.a.tp->ops->post_send(p.ca, tx, 8, NULL, 5), 0);
	run(&p);
	ck_assert_str_eq(p.a.log, "CFFF");
	ck_assert_int_eq(p.b.tp->ops->mr_dereg(rmr), 0);
	ck_assert_int_eq(p.a.tp->ops->mr_dereg(omr), 0);
	pair_close(&p);
}
END_TEST

/* The notice of a write with immediate comes after all the data. */
START_TEST(immediate_after_data)
{
	uint8_t *region = calloc(1, 4096), src[2048], rx[8];
	struct rmx__tp_mr *mr, *smr, *rmr;
	struct pair p;

	pair_connect(&p);
	mr = reg(&p.b, region, 4096, RMX__TP_REMOTE_WRITE);
	rmr = reg(&p.b, rx, sizeof(rx), RMX__TP_LOCAL_WRITE);
	smr = reg(&p.a, src, sizeof(src), 0);
	memset(src, 0x42, sizeof(src));
	p.b.watch = region;
	p.b.watch_len = 4096;
	p.b.watch_byte = 0x42;
	clear(&p);
	ck_assert_int_eq(post_recv(&p.b, rx, 8, rmr, 7), 0);
	ck_assert_int_eq(post_rma(&p, RMX__TP_WRITE, src, 2048, smr,
				  (uintptr_t)region, mr->rkey, 1), 0);
	ck_assert_int_eq(post_rma(&p, RMX__TP_WRITE_IMM, src, 2048, smr,
				  (uintptr_t)region + 2048, mr->rkey, 2), 0);
	run(&p);
	ck_assert_str_eq(p.a.log, "CC");
	ck_assert_str_eq(p.b.log, "C");
	ck_assert(p.b.comps[0].has_imm);
	ck_assert_ptr_eq(p.b.comps[0].conn, p.cb);
	ck_assert_uint_eq(p.b.comps[0].imm, 77);
	ck_assert_uint_eq(p.b.comps[0].len, 2048);
	ck_assert_uint_eq(p.b.comps[0].wr_ctx, 7);
	ck_assert(p.b.watched_in_place);
	ck_assert_int_eq(p.b.tp->ops->mr_dereg(mr), 0);
	ck_assert_int_eq(p.b.tp->ops->mr_dereg(rmr), 0);
	ck_assert_int_eq(p.a.tp->ops->mr_dereg(smr), 0);
	pair_close(&p);
	free(region);
}
END_TEST

enum bad { BAD_KEY, BAD_RANGE, BAD_ACCESS };

/* A remote access the target's registration does not allow: -EACCES. */
static void remote_refuses(enum bad why)
{
	uint8_t *region = calloc(1, 4096), buf[64];
	struct rmx__tp_mr *mr, *lmr;
	struct pair p;

	pair_connect(&p);
	mr = reg(&p.b, region, 4096,
		 why == BAD_ACCESS ? RMX__TP_REMOTE_WRITE : RMX__TP_REMOTE_READ);
	lmr = reg(&p.a, buf, sizeof(buf), RMX__TP_LOCAL_WRITE);
	clear(&p);
	ck_assert_int_eq(post_rma(&p, RMX__TP_READ, buf, 64, lmr,
				  (uintptr_t)region + (why == BAD_RANGE ? 4033 : 0),
				  mr->rkey + (why == BAD_KEY), 1), 0);
	ck_assert_int_eq(post_rma(&p, RMX__TP_READ, buf, 64, lmr,
				  (uintptr_t)region, mr->rkey, 2), 0);
	run(&p);
	ck_assert_str_eq(p.a.log, "FF");
	ck_assert_int_eq(p.a.comps[0].status, -EACCES);
	ck_assert_int_eq(p.a.comps[1].status, -ECANCELED);
	ck_assert_uint_eq(loop_stats.remote_errors, 1);
	ck_assert_int_eq(p.b.tp->ops->mr_dereg(mr), 0);
	ck_assert_int_eq(p.a.tp->ops->mr_dereg(lmr), 0);
	pair_close(&p);
	free(region);
}

START_TEST(wrong_key)
{
	remote_refuses(BAD_KEY);
}
END_TEST

START_TEST(outside_registration)
{
	remote_refuses(BAD_RANGE);
}
END_TEST

START_TEST(access_not_granted)
{
	remote_refuses(BAD_ACCESS);
}
END_TEST

START_TEST(atomics)
{
	uint64_t *word = aligned_alloc(8, 64), old[2] = { 0, 0 };
	struct rmx__tp_mr *mr, *lmr;
	struct rmx__tp_rma rma = { .op = RMX__TP_FETCH_ADD, .len = 8,
				   .compare_add = 5 };
	struct pair p;

	pair_connect(&p);
	word[0] = 10;
	mr = reg(&p.b, word, 64, RMX__TP_REMOTE_ATOMIC);
	lmr = reg(&p.a, old, sizeof(old), RMX__TP_LOCAL_WRITE);
	rma.buf = &old[0];
	rma.mr = lmr;
	rma.raddr = (uintptr_t)word;
	rma.rkey = mr->rkey;
	ck_assert_int_eq(p.a.tp->ops->post_rma(p.ca, &rma, 1), 0);
	rma.op = RMX__TP_CMP_SWAP;
	rma.buf = &old[1];
	rma.compare_add = 15;
	rma.swap = 99;
	ck_assert_int_eq(p.a.tp->ops->post_rma(p.ca, &rma, 2), 0);
	run(&p);
	ck_assert_uint_eq(old[0], 10);
	ck_assert_uint_eq(old[1], 15);
	ck_assert_uint_eq(word[0], 99);
	ck_assert_int_eq(p.b.tp->ops->mr_dereg(mr), 0);
	ck_assert_int_eq(p.a.tp->ops->mr_dereg(lmr), 0);
	pair_close(&p);
	free(word);
}
END_TEST

/*
 * Destroying one side: the peer first gets what had landed, then the
 * disconnect. Its failure flushes no shared receive: the one left
 * serves the next connection.
 */
START_TEST(disconnect_after_what_landed)
{
	uint8_t rx[2][16];
	struct rmx__tp_conn *ca2, *cb2;
	struct rmx__tp_mr *rmr;
	struct pair p;

	pair_connect(&p);
	rmr = reg(&p.b, rx, sizeof(rx), RMX__TP_LOCAL_WRITE);
	memset(rx, 0, sizeof(rx));
	clear(&p);
	ck_assert_int_eq(post_recv(&p.b, rx[0], 16, rmr, 0), 0);
	ck_assert_int_eq(post_recv(&p.b, rx[1], 16, rmr, 1), 0);
	send_str(&p, p.ca, "last", 0);
	progress(&p.a);		/* runs the send: B's completion waits */
	ck_assert_str_eq(p.b.log, "");
	p.a.tp->ops->conn_destroy(p.ca);
	p.ca = NULL;
	run(&p);
	ck_assert_str_eq(p.b.log, "CX");
	check_recv(&p, 0, p.cb, 0, rx[0], "last");
	ck_assert_int_eq(p.b.closed_status, -ECONNRESET);
	ck_assert_uint_eq(rx[1][0], 0);

	dial(&p, &ca2, &cb2);
	clear(&p);
	send_str(&p, ca2, "after", 5);
	run(&p);
	ck_assert_str_eq(p.a.log, "C");
	ck_assert_str_eq(p.b.log, "C");
	check_recv(&p, 0, cb2, 1, rx[1], "after");
	p.a.tp->ops->conn_destroy(ca2);
	p.b.tp->ops->conn_destroy(cb2);
	ck_assert_int_eq(p.b.tp->ops->mr_dereg(rmr), 0);
	pair_close(&p);
}
END_TEST

/* Receives are the transport's: posted before a connection, they serve it. */
START_TEST(recv_posted_before_any_connection)
{
	uint8_t rx[2][16];
	struct rmx__tp_mr *rmr;
	struct pair p;

	pair_open(&p);
	ck_assert_uint_gt(p.b.tp->max_recv, 0);
	rmr = reg(&p.b, rx, sizeof(rx), RMX__TP_LOCAL_WRITE);
	memset(rx, 0, sizeof(rx));
	ck_assert_int_eq(post_recv(&p.b, rx[0], 16, rmr, 10), 0);
	ck_assert_int_eq(post_recv(&p.b, rx[1], 16, rmr, 11), 0);
	run(&p);
	ck_assert_int_eq(p.b.ncomps, 0);
	dial(&p, &p.ca, &p.cb);
	clear(&p);
	send_str(&p, p.ca, "early", 1);
	send_str(&p, p.ca, "bird", 2);
	run(&p);
	ck_assert_str_eq(p.a.log, "CC");
	ck_assert_str_eq(p.b.log, "CC");
	check_recv(&p, 0, p.cb, 10, rx[0], "early");
	check_recv(&p, 1, p.cb, 11, rx[1], "bird");
	ck_assert_int_eq(p.b.tp->ops->mr_dereg(rmr), 0);
	pair_close(&p);
}
END_TEST

/*
 * Two connections draw on one pool, oldest receive first, and each
 * completion names the connection its data came on. Once the pool is
 * used up the next message finds nothing, whichever connection it is on.
 */
START_TEST(connections_share_one_pool)
{
	uint8_t rx[3][16];
	struct rmx__tp_conn *ca2, *cb2;
	struct rmx__tp_mr *rmr;
	struct pair p;
	uint64_t rnr = loop_stats.rnr;

	pair_connect(&p);
	dial(&p, &ca2, &cb2);
	ck_assert_ptr_ne(cb2, p.cb);
	rmr = reg(&p.b, rx, sizeof(rx), RMX__TP_LOCAL_WRITE);
	memset(rx, 0, sizeof(rx));
	clear(&p);
	ck_assert_int_eq(post_recv(&p.b, rx[0], 16, rmr, 0), 0);
	ck_assert_int_eq(post_recv(&p.b, rx[1], 16, rmr, 1), 0);
	ck_assert_int_eq(post_recv(&p.b, rx[2], 16, rmr, 2), 0);
	/* One at a time: the fabric runs connections in its own order. */
	send_str(&p, ca2, "second-1", 0);
	run(&p);
	send_str(&p, p.ca, "first-1", 1);
	run(&p);
	send_str(&p, ca2, "second-2", 2);
	run(&p);
	ck_assert_str_eq(p.a.log, "CCC");
	ck_assert_str_eq(p.b.log, "CCC");
	check_recv(&p, 0, cb2, 0, rx[0], "second-1");
	check_recv(&p, 1, p.cb, 1, rx[1], "first-1");
	check_recv(&p, 2, cb2, 2, rx[2], "second-2");

	send_str(&p, p.ca, "none-left", 3);
	run(&p);
	ck_assert_str_eq(p.b.log, "CCC");
	ck_assert_str_eq(p.a.log, "CCCF");
	ck_assert_int_eq(p.a.comps[3].status, -ETIMEDOUT);
	ck_assert_uint_eq(loop_stats.rnr, rnr + 1);
	p.a.tp->ops->conn_destroy(ca2);
	p.b.tp->ops->conn_destroy(cb2);
	ck_assert_int_eq(p.b.tp->ops->mr_dereg(rmr), 0);
	pair_close(&p);
}
END_TEST

/*
 * A connection destroyed with a receive completion still queued: that
 * completion comes with conn NULL and its data, the buffer being the
 * caller's again; no receive is flushed, and those still posted serve
 * the other connection.
 */
START_TEST(destroyed_connection_leaves_pool)
{
	uint8_t rx[3][16];
	struct rmx__tp_conn *ca2, *cb2;
	struct rmx__tp_mr *rmr;
	struct pair p;
	uint64_t flushed = loop_stats.flushed;

	pair_connect(&p);
	dial(&p, &ca2, &cb2);
	rmr = reg(&p.b, rx, sizeof(rx), RMX__TP_LOCAL_WRITE);
	memset(rx, 0, sizeof(rx));
	clear(&p);
	ck_assert_int_eq(post_recv(&p.b, rx[0], 16, rmr, 0), 0);
	ck_assert_int_eq(post_recv(&p.b, rx[1], 16, rmr, 1), 0);
	ck_assert_int_eq(post_recv(&p.b, rx[2], 16, rmr, 2), 0);
	send_str(&p, p.ca, "gone", 0);
	progress(&p.a);		/* runs the send: B's completion waits */
	ck_assert_str_eq(p.b.log, "");
	p.b.tp->ops->conn_destroy(p.cb);
	p.cb = NULL;
	run(&p);
	ck_assert_str_eq(p.b.log, "C");
	check_recv(&p, 0, NULL, 0, rx[0], "gone");
	ck_assert_str_eq(p.a.log, "CX");
	ck_assert_int_eq(p.a.closed_status, -ECONNRESET);

	send_str(&p, ca2, "still", 1);
	send_str(&p, ca2, "here", 2);
	run(&p);
	ck_assert_str_eq(p.b.log, "CCC");
	check_recv(&p, 1, cb2, 1, rx[1], "still");
	check_recv(&p, 2, cb2, 2, rx[2], "here");
	ck_assert_uint_eq(loop_stats.flushed, flushed);
	p.a.tp->ops->conn_destroy(ca2);
	p.b.tp->ops->conn_destroy(cb2);
	ck_assert_int_eq(p.b.tp->ops->mr_dereg(rmr), 0);
	pair_close(&p);
}
END_TEST

/* At most max_recv posted at once; a used receive makes room again. */
START_TEST(shared_receives_are_bounded)
{
	uint8_t rx[16], spare[16];
	struct rmx__tp_mr *rmr, *smr;
	struct pair p;
	uint32_t i, max;

	pair_open(&p);
	max = p.b.tp->max_recv;
	ck_assert_uint_gt(max, 0);
	rmr = reg(&p.b, rx, sizeof(rx), RMX__TP_LOCAL_WRITE);
	smr = reg(&p.b, spare, sizeof(spare), RMX__TP_LOCAL_WRITE);
	memset(rx, 0, sizeof(rx));
	memset(spare, 0, sizeof(spare));
	for (i = 0; i < max; i++)
		ck_assert_int_eq(post_recv(&p.b, rx, 16, rmr, i), 0);
	ck_assert_int_eq(post_recv(&p.b, spare, 16, smr, max), -ENOMEM);
	dial(&p, &p.ca, &p.cb);
	clear(&p);
	send_str(&p, p.ca, "room", 0);
	run(&p);
	ck_assert_str_eq(p.b.log, "C");
	check_recv(&p, 0, p.cb, 0, rx, "room");
	ck_assert_int_eq(post_recv(&p.b, spare, 16, smr, max), 0);
	ck_assert_int_eq(post_recv(&p.b, spare, 16, smr, max + 1), -ENOMEM);
	ck_assert_uint_eq(spare[0], 0);
	ck_assert_int_eq(p.b.tp->ops->mr_dereg(smr), 0);
	ck_assert_int_eq(p.b.tp->ops->mr_dereg(rmr), 0);
	pair_close(&p);
}
END_TEST

START_TEST(registration_faults)
{
	struct rmx__tp_mr *mr[4];
	uint8_t buf[64];
	struct rec a;

	rmx__log_level = RMX__LOG_NONE;
	ck_assert_int_eq(rmx__config_load(&cfg, NULL), 0);
	open_tp(&a);
	loop_fail_mr_reg(a.tp, 1, 2, -ENOMEM);
	ck_assert_int_eq(a.tp->ops->mr_reg(a.tp, buf, 64, 0, &mr[0]), 0);
	ck_assert_int_eq(a.tp->ops->mr_reg(a.tp, buf, 64, 0, &mr[1]), -ENOMEM);
	ck_assert_int_eq(a.tp->ops->mr_reg(a.tp, buf, 64, 0, &mr[1]), -ENOMEM);
	ck_assert_int_eq(a.tp->ops->mr_reg(a.tp, buf, 64, 0, &mr[1]), 0);
	ck_assert_uint_eq(loop_mr_reg_failed(a.tp), 2);
	ck_assert_uint_ne(mr[0]->rkey, mr[1]->rkey);
	ck_assert_int_eq(a.tp->ops->mr_dereg(mr[0]), 0);
	ck_assert_int_eq(a.tp->ops->mr_dereg(mr[1]), 0);
	ck_assert_uint_eq(loop_stats.mr_live, 0);
	a.tp->ops->close(a.tp);
	rmx__loop_fini(&a.loop);
}
END_TEST

/* Armed and idle, the loop's fd sleeps; posted work wakes it. */
START_TEST(fd_wakes_for_posted_work)
{
	struct pollfd pfd = { .events = POLLIN };
	uint8_t tx[8] = "x";
	struct pair p;

	pair_connect(&p);
	pfd.fd = rmx__loop_fd(&p.a.loop);
	ck_assert_int_eq(p.a.tp->ops->arm(p.a.tp), 0);
	ck_assert_int_eq(poll(&pfd, 1, 0), 0);
	ck_assert_int_eq(p.a.tp->ops->post_send(p.ca, tx, 8, NULL, 0), 0);
	ck_assert_int_eq(poll(&pfd, 1, 0), 1);
	ck_assert_int_eq(p.a.tp->ops->arm(p.a.tp), -EAGAIN);
	pair_close(&p);
}
END_TEST

Suite *test_suite(void)
{
	Suite *s = suite_create("loop_tp");
	TCase *tc = tcase_create("contract");

	tcase_add_test(tc, handshake);
	tcase_add_test(tc, refused);
	tcase_add_test(tc, sends_land_in_order);
	tcase_add_test(tc, receiver_not_ready_is_an_error);
	tcase_add_test(tc, immediate_after_data);
	tcase_add_test(tc, wrong_key);
	tcase_add_test(tc, outside_registration);
	tcase_add_test(tc, access_not_granted);
	tcase_add_test(tc, atomics);
	tcase_add_test(tc, disconnect_after_what_landed);
	tcase_add_test(tc, recv_posted_before_any_connection);
	tcase_add_test(tc, connections_share_one_pool);
	tcase_add_test(tc, destroyed_connection_leaves_pool);
	tcase_add_test(tc, shared_receives_are_bounded);
	tcase_add_test(tc, registration_faults);
	tcase_add_test(tc, fd_wakes_for_posted_work);
	suite_add_tcase(s, tc);
	return s;
}
