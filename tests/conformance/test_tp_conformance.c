// SPDX-License-Identifier: BSD-2-Clause
/*
 * Backend conformance: what transport.h promises, checked against the
 * backend RMX_TEST_TP names (backends.c), through its ops table alone.
 * Side a connects, side b listens (tpc.h); every wait fails after
 * TPC_TIMEOUT_MS. A test of a capability the backend does not declare
 * is reported skipped; those TCases are tagged may_skip and each runs as
 * a ctest entry of its own (tests/CMakeLists.txt).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "check_main.h"
#include "core/addr.h"
#include "lab.h"
#include "tpc.h"

#define BIG (256u << 10)

/* The receive of c that completed last. */
static struct tpc_wr *newest_recv(struct tpc_conn *c)
{
	struct tpc_side *s = c->side;
	struct tpc_wr *best = NULL;
	int i;

	for (i = 0; i < s->nwrs; i++) {
		struct tpc_wr *w = &s->wrs[i];

		if (w->conn == c && w->recv && w->ncomp &&
		    (!best || w->seq > best->seq))
			best = w;
	}
	ck_assert_ptr_nonnull(best);
	return best;
}

/* rx holds len bytes of lab_fill(seed), and nothing past them changed. */
static void check_arrival(const struct tpc_wr *rx, uint32_t len, uint32_t seed)
{
	const uint8_t *buf = rx->buf;
	size_t bad;

	ck_assert_msg(rx->comp.status == 0, "receive failed: %d (%s)",
		      rx->comp.status, strerror(-rx->comp.status));
	ck_assert_msg(rx->comp.len == len,
		      "receive reports %u bytes, %u were sent", rx->comp.len,
		      len);
	bad = lab_check(buf, len, seed);
	ck_assert_msg(bad == len, "%u bytes arrived changed from byte %zu",
		      len, bad);
	ck_assert_msg(lab_first_not(buf + len, rx->len - len, 0) ==
			      rx->len - len,
		      "the receive buffer changed past the %u bytes received",
		      len);
}

static void check_ok(const struct tpc_wr *w, const char *what)
{
	ck_assert_msg(w->comp.status == 0, "%s failed: %d (%s)", what,
		      w->comp.status, strerror(-w->comp.status));
}

static struct rmx__tp_rma rma_to(enum rmx__tp_rma_op op, struct tpc_mem *l,
				 uint32_t len, struct tpc_mem *t, size_t off)
{
	return (struct rmx__tp_rma){
		.op = op,
		.buf = l ? l->buf : NULL,
		.len = len,
		.mr = l ? l->mr : NULL,
		.raddr = (uintptr_t)t->buf + off,
		.rkey = t->mr->rkey,
	};
}

/* Posts rma on p->ca and waits: it must fail. */
static struct tpc_wr *expect_refused(struct tpc_pair *p,
				     const struct rmx__tp_rma *rma,
				     const char *what)
{
	struct tpc_wr *w = tpc_post_rma(p->ca, rma);

	tpc_wait(p, w->ncomp);
	ck_assert_msg(w->comp.status < 0,
		      "%s completed with status %d, not an error", what,
		      w->comp.status);
	return w;
}

/* Connection ------------------------------------------------------- */

/* What conn_addr() says of two connected ends agrees crosswise. */
static void check_addrs(struct tpc_pair *p, struct rmx__tp_conn *a,
			struct rmx__tp_conn *b)
{
	struct sockaddr_storage al, ap, bl, bp;
	char s1[64], s2[64];

	ck_assert_int_eq(p->a.tp->ops->conn_addr(a, &al, &ap), 0);
	ck_assert_int_eq(p->b.tp->ops->conn_addr(b, &bl, &bp), 0);
	rmx__addr_format((struct sockaddr *)&al, s1, sizeof(s1));
	rmx__addr_format((struct sockaddr *)&bp, s2, sizeof(s2));
	ck_assert_str_eq(s1, s2);
	rmx__addr_format((struct sockaddr *)&ap, s1, sizeof(s1));
	rmx__addr_format((struct sockaddr *)&bl, s2, sizeof(s2));
	ck_assert_str_eq(s1, s2);
}


START_TEST(connect_priv)
{
	struct tpc_pair *p = tpc_open();
	uint32_t n = p->a.tp->max_priv;
	struct rmx__tp_conn_caps caps;
	struct sockaddr_storage ss;
	uint8_t priv[TPC_PRIV_MAX];
	struct tpc_conn *ca, *cb;
	int port = tpc_port(p);

	ck_assert_msg(port > 0 && port < 65536,
		      "listener_port after listening on port 0: %d", port);
	ck_assert_uint_le(n, TPC_PRIV_MAX);
	lab_fill(priv, n, 1);
	lab_fill(p->b.accept_priv, n, 2);
	p->b.accept_priv_len = n;
	ca = tpc_connect(p, port, priv, n);
	tpc_wait(p, ca->nestablished && tpc_accepted(p) &&
			    tpc_accepted(p)->nestablished);
	cb = tpc_accepted(p);
	/* A fabric may pad private data (rdma_cm does): at least n bytes. */
	ck_assert_msg(cb->priv_len >= n,
		      "conn_request got %zu bytes of private data, the initiator sent %u",
		      cb->priv_len, n);
	ck_assert_msg(lab_check(cb->priv, n, 1) == n,
		      "conn_request's private data differs from the initiator's from byte %zu",
		      lab_check(cb->priv, n, 1));
	ck_assert_msg(ca->priv_len >= n,
		      "conn_established got %zu bytes of private data, the acceptor sent %u",
		      ca->priv_len, n);
	ck_assert_msg(lab_check(ca->priv, n, 2) == n,
		      "conn_established's private data differs from the acceptor's from byte %zu",
		      lab_check(ca->priv, n, 2));
	tpc_sockaddr(p, port, &ss);
	ck_assert_int_eq(cb->peer_family, ss.ss_family);
	check_addrs(p, ca->conn, cb->conn);
	ck_assert(ca->ready_seq && ca->ready_seq < ca->established_seq);
	ck_assert(cb->ready_seq && cb->ready_seq < cb->established_seq);
	p->a.tp->ops->conn_caps(ca->conn, &caps);
	ck_assert(caps.sq_depth && caps.max_msg);
	p->b.tp->ops->conn_caps(cb->conn, &caps);
	ck_assert(caps.sq_depth && caps.max_msg);
	tpc_close(p);
}
END_TEST

/* A connection from a to port that must end in conn_closed. */
static struct tpc_conn *connect_fails(struct tpc_pair *p, int port)
{
	struct tpc_conn *ca = tpc_connect(p, port, NULL, 0);

	tpc_wait(p, ca->nclosed);
	ck_assert_int_eq(ca->nestablished, 0);
	ck_assert_msg(ca->closed_status < 0, "closed with %d",
		      ca->closed_status);
	return ca;
}

START_TEST(reject)
{
	struct tpc_pair *p = tpc_open();
	struct tpc_conn *ca;

	/* Someone is there and refuses: not -ECONNREFUSED (transport.h). */
	p->b.reject = -ENOMEM;
	ca = connect_fails(p, tpc_port(p));
	ck_assert_int_eq(ca->closed_status, -ECONNABORTED);
	/* One request reached b; the upcalls check nothing named it since. */
	ck_assert_int_eq(p->b.nconns, 1);
	tpc_destroy(ca);
	p->b.reject = -EPROTO;
	ca = connect_fails(p, tpc_port(p));
	ck_assert_int_eq(ca->closed_status, -EPROTO);
	tpc_destroy(ca);
	/* The listener still takes connections. */
	p->b.reject = 0;
	ca = tpc_connect(p, tpc_port(p), NULL, 0);
	tpc_wait(p, ca->nestablished && tpc_accepted(p) &&
			    tpc_accepted(p)->nestablished);
	tpc_close(p);
}
END_TEST

/*
 * The shared receives a side posted when a connection of its became
 * ready stay posted when it is rejected, and serve the next one.
 */
START_TEST(reject_keeps_recvs)
{
	struct tpc_pair *p = tpc_open();
	struct tpc_mem *src;
	struct tpc_conn *ca;
	struct tpc_wr *tx;
	int posted;

	p->b.reject = -ECONNREFUSED;
	ca = connect_fails(p, tpc_port(p));
	tpc_settle(p, 100);
	posted = tpc_recvs_posted(&p->a);
	ck_assert_int_eq(posted, ca->nready ? TPC_PREPOST : 0);
	tpc_destroy(ca);
	/* The next connection posts none of its own on a. */
	p->b.reject = 0;
	p->a.prepost = 0;
	if (!posted)
		tpc_post_slot(&p->a);
	ca = tpc_connect(p, tpc_port(p), NULL, 0);
	tpc_wait(p, ca->nestablished && tpc_accepted(p) &&
			    tpc_accepted(p)->nestablished);
	src = tpc_reg(&p->b, 4096, RMX__TP_LOCAL_WRITE);
	lab_fill(src->buf, 300, 21);
	tx = tpc_post_send(tpc_accepted(p), src->buf, 300, src->mr);
	tpc_wait(p, tx->ncomp && tpc_completed(ca, TPC_RECV) == 1);
	check_ok(tx, "a send into a receive posted for a rejected connection");
	check_arrival(newest_recv(ca), 300, 21);
	tpc_close(p);
}
END_TEST

START_TEST(refused)
{
	struct tpc_pair *p = tpc_open();
	struct rmx__tp_listener *l;
	struct sockaddr_storage ss;
	int port, ret;

	/* A port that was just bound and is free again: nobody listens. */
	tpc_sockaddr(p, 0, &ss);
	ret = p->b.tp->ops->listen(p->b.tp, (struct sockaddr *)&ss, NULL, &l);
	ck_assert_int_eq(ret, 0);
	port = p->b.tp->ops->listener_port(l);
	p->b.tp->ops->listener_close(l);
	ck_assert_int_eq(connect_fails(p, port)->closed_status, -ECONNREFUSED);
	tpc_close(p);
}
END_TEST

/* Messages --------------------------------------------------------- */

START_TEST(send_recv)
{
	static const uint32_t sizes[TPC_PREPOST] = { 1, 100, TPC_RX_SLOT, 0 };
	struct tpc_pair *p = tpc_open();
	struct rmx__tp_conn_caps caps;
	struct tpc_mem *src, *dst, *bsrc;
	struct tpc_conn *ca, *cb;
	struct tpc_wr *tx, *rx;
	uint32_t big;
	int i;

	ca = tpc_connect(p, tpc_port(p), NULL, 0);
	tpc_wait(p, ca->nestablished);
	cb = tpc_accepted(p);
	ck_assert_ptr_nonnull(cb);
	src = tpc_reg(&p->a, BIG, RMX__TP_LOCAL_WRITE);
	/*
	 * The first send follows a's establishment at once: it lands in a
	 * receive b posted at conn_ready (a delivery before conn_ready
	 * would complete a receive never posted, which the upcalls catch).
	 */
	for (i = 0; i < TPC_PREPOST; i++) {
		lab_fill(src->buf, sizes[i], (uint32_t)i + 1);
		tx = tpc_post_send(ca, src->buf, sizes[i], src->mr);
		tpc_wait(p, tx->ncomp && tpc_completed(cb, TPC_RECV) == i + 1);
		check_ok(tx, "send");
		rx = newest_recv(cb);
		ck_assert(rx->seq > cb->ready_seq);
		check_arrival(rx, sizes[i], (uint32_t)i + 1);
	}
	/* Larger than a receive slot, into a receive of its own. */
	p->a.tp->ops->conn_caps(ca->conn, &caps);
	big = caps.max_msg < BIG ? caps.max_msg : BIG;
	dst = tpc_reg(&p->b, big, RMX__TP_LOCAL_WRITE);
	rx = tpc_post_recv(&p->b, dst->buf, big, dst->mr);
	lab_fill(src->buf, big, 99);
	tx = tpc_post_send(ca, src->buf, big, src->mr);
	tpc_wait(p, tx->ncomp && rx->ncomp);
	check_ok(tx, "send");
	check_arrival(rx, big, 99);
	/* And the other way. */
	tpc_wait(p, cb->nestablished);
	bsrc = tpc_reg(&p->b, 4096, RMX__TP_LOCAL_WRITE);
	lab_fill(bsrc->buf, 1000, 5);
	tx = tpc_post_send(cb, bsrc->buf, 1000, bsrc->mr);
	tpc_wait(p, tx->ncomp && tpc_completed(ca, TPC_RECV) == 1);
	check_ok(tx, "send");
	check_arrival(newest_recv(ca), 1000, 5);
	tpc_close(p);
}
END_TEST

/* Every work request completes once: none missing, none twice. */
START_TEST(exactly_once)
{
	const int rounds = 8, burst = 64;
	struct tpc_pair *p = tpc_pair_connect();
	struct tpc_mem *src = tpc_reg(&p->a, (size_t)burst * 64,
				      RMX__TP_LOCAL_WRITE);
	int r, i, sent = 0;

	for (r = 0; r < rounds; r++) {
		for (i = 0; i < burst; i++)
			tpc_post_slot(&p->b);
		for (i = 0; i < burst; i++)
			tpc_post_send(p->ca, src->buf + i * 64, 64, src->mr);
		sent += burst;
		tpc_wait(p, tpc_completed(p->ca, TPC_SQ) == sent &&
				    tpc_completed(p->cb, TPC_RECV) == sent);
	}
	/* Late or repeated completions would show now (the upcalls fail them). */
	tpc_settle(p, 200);
	ck_assert_int_eq(tpc_completed(p->ca, TPC_SQ), sent);
	ck_assert_int_eq(tpc_completed(p->cb, TPC_RECV), sent);
	ck_assert_int_eq(tpc_outstanding(p->ca), 0);
	ck_assert_int_eq(tpc_recvs_posted(&p->a), TPC_PREPOST);
	ck_assert_int_eq(tpc_recvs_posted(&p->b), TPC_PREPOST);
	for (i = 0; i < p->a.nwrs; i++)
		if (!p->a.wrs[i].recv && p->a.wrs[i].comp.status)
			ck_abort_msg("send #%d failed: %d", i,
				     p->a.wrs[i].comp.status);
	tpc_close(p);
}
END_TEST

/* Shared receives -------------------------------------------------- */

/* One more connection from a to b, both ends established; b's in *cb. */
static struct tpc_conn *connect_one(struct tpc_pair *p, struct tpc_conn **cb)
{
	struct tpc_conn *ca = tpc_connect(p, tpc_port(p), NULL, 0);

	tpc_wait(p, ca->nestablished && tpc_accepted(p) &&
			    tpc_accepted(p)->nestablished);
	*cb = tpc_accepted(p);
	return ca;
}

/* A message naming its seed first: which connection sent it, and when. */
static void fill_tagged(uint8_t *buf, uint32_t len, uint32_t seed)
{
	memcpy(buf, &seed, sizeof(seed));
	lab_fill(buf + sizeof(seed), len - sizeof(seed), seed);
}

/* The seed a receive of a tagged message of len bytes holds; checks it. */
static uint32_t tagged_seed(const struct tpc_wr *rx, uint32_t len)
{
	uint32_t seed;
	size_t bad;

	ck_assert_msg(rx->comp.status == 0, "receive failed: %d (%s)",
		      rx->comp.status, strerror(-rx->comp.status));
	ck_assert_uint_eq(rx->comp.len, len);
	memcpy(&seed, rx->buf, sizeof(seed));
	bad = lab_check((const uint8_t *)rx->buf + sizeof(seed),
			len - sizeof(seed), seed);
	ck_assert_msg(bad == len - sizeof(seed),
		      "message %#x arrived changed from byte %zu", seed,
		      bad + sizeof(seed));
	return seed;
}

/* Receives posted before any connection exists serve a later one. */
START_TEST(recv_before_connect)
{
	const int n = 3;
	struct tpc_pair *p = tpc_open();
	struct tpc_wr *rx[3];
	struct tpc_conn *ca, *cb;
	struct tpc_mem *src;
	int i;

	p->b.prepost = 0;
	for (i = 0; i < n; i++)
		rx[i] = tpc_post_slot(&p->b);
	tpc_settle(p, 20);
	ca = connect_one(p, &cb);
	src = tpc_reg(&p->a, 4096, RMX__TP_LOCAL_WRITE);
	for (i = 0; i < n; i++) {
		lab_fill(src->buf + i * 1024, 100u + (uint32_t)i,
			 30u + (uint32_t)i);
		tpc_post_send(ca, src->buf + i * 1024, 100u + (uint32_t)i,
			      src->mr);
	}
	tpc_wait(p, tpc_completed(cb, TPC_RECV) == n &&
			    tpc_completed(ca, TPC_SQ) == n);
	for (i = 0; i < n; i++) {
		ck_assert_msg(rx[i]->ncomp && rx[i]->conn == cb,
			      "receive %d, posted before connecting, did not name the connection",
			      i);
		/* Which message landed where is the fabric's choice. */
		ck_assert_uint_ge(rx[i]->comp.len, 100);
		ck_assert_uint_le(rx[i]->comp.len, 100 + n - 1);
		check_arrival(rx[i], rx[i]->comp.len,
			      30 + rx[i]->comp.len - 100);
	}
	tpc_close(p);
}
END_TEST

/*
 * Two connections into one side, one pool of receives: each completion
 * names the connection its message came on.
 */
START_TEST(two_conns_one_pool)
{
	const int per = 8;
	const uint32_t len = 256;
	struct tpc_pair *p = tpc_open();
	struct tpc_conn *ca[2], *cb[2];
	int seen[2][8] = { { 0 } };
	struct tpc_mem *src;
	int i, k, j;

	p->b.prepost = 0;
	ca[0] = connect_one(p, &cb[0]);
	ca[1] = connect_one(p, &cb[1]);
	ck_assert_ptr_ne(cb[0], cb[1]);
	for (i = 0; i < 2 * per; i++)
		tpc_post_slot(&p->b);
	src = tpc_reg(&p->a, (size_t)2 * per * len, RMX__TP_LOCAL_WRITE);
	/* Interleaved: the pool's order says nothing of the connection. */
	for (i = 0; i < per; i++) {
		for (k = 0; k < 2; k++) {
			uint8_t *m = src->buf + (size_t)(2 * i + k) * len;

			fill_tagged(m, len, (uint32_t)(1000 * (k + 1) + i));
			tpc_post_send(ca[k], m, len, src->mr);
		}
	}
	tpc_wait(p, tpc_completed(cb[0], TPC_RECV) +
				    tpc_completed(cb[1], TPC_RECV) == 2 * per &&
			    !tpc_outstanding(ca[0]) && !tpc_outstanding(ca[1]));
	ck_assert_int_eq(tpc_completed(cb[0], TPC_RECV), per);
	ck_assert_int_eq(tpc_completed(cb[1], TPC_RECV), per);
	for (j = 0; j < p->b.nwrs; j++) {
		struct tpc_wr *w = &p->b.wrs[j];
		uint32_t seed;

		if (!w->recv)
			continue;
		seed = tagged_seed(w, len);
		ck_assert(w->conn == cb[0] || w->conn == cb[1]);
		k = w->conn == cb[0] ? 0 : 1;
		ck_assert_msg(seed / 1000 == (uint32_t)k + 1 &&
				      seed % 1000 < (uint32_t)per,
			      "message %u came on b's connection %d", seed, k);
		seen[k][seed % 1000]++;
	}
	for (k = 0; k < 2; k++)
		for (i = 0; i < per; i++)
			ck_assert_int_eq(seen[k][i], 1);
	tpc_close(p);
}
END_TEST

/*
 * More connections than a backend's first tables hold (verbs: 64
 * connection slots, 64 QP chains) into one pool: each receive still
 * names the connection its message came on, each send completes once.
 */
START_TEST(many_conns)
{
	const int n = 72;
	struct tpc_pair *p = tpc_open();
	struct tpc_conn *ca[72], *cb[72];
	struct tpc_mem *src;
	int k, j, got = 0;

	p->a.prepost = 0;
	p->b.prepost = 0;
	for (k = 0; k < n; k++)
		ca[k] = connect_one(p, &cb[k]);
	for (k = 0; k < n; k++)
		tpc_post_slot(&p->b);
	src = tpc_reg(&p->a, (size_t)n * 64, RMX__TP_LOCAL_WRITE);
	for (k = 0; k < n; k++) {
		fill_tagged(src->buf + k * 64, 64, (uint32_t)k);
		tpc_post_send(ca[k], src->buf + k * 64, 64, src->mr);
	}
	tpc_wait(p, tpc_recvs_posted(&p->b) == 0);
	for (k = 0; k < n; k++) {
		tpc_wait(p, !tpc_outstanding(ca[k]));
		ck_assert_int_eq(tpc_completed(ca[k], TPC_SQ), 1);
	}
	for (j = 0; j < p->b.nwrs; j++) {
		struct tpc_wr *w = &p->b.wrs[j];

		if (!w->recv)
			continue;
		k = (int)tagged_seed(w, 64);
		ck_assert_int_lt(k, n);
		ck_assert_msg(w->conn == cb[k],
			      "the message of connection %d names another", k);
		got++;
	}
	ck_assert_int_eq(got, n);
	tpc_close(p);
}
END_TEST

/*
 * Destroying a connection flushes none of the shared receives: they
 * serve the next connection.
 */
START_TEST(destroyed_conn_leaves_recvs)
{
	struct tpc_pair *p = tpc_open();
	struct tpc_conn *ca, *cb;
	struct tpc_mem *src;
	struct tpc_wr *tx;
	int i;

	p->b.prepost = 0;
	ca = connect_one(p, &cb);
	for (i = 0; i < 4; i++)
		tpc_post_slot(&p->b);
	src = tpc_reg(&p->a, 4096, RMX__TP_LOCAL_WRITE);
	fill_tagged(src->buf, 64, 1);
	tx = tpc_post_send(ca, src->buf, 64, src->mr);
	tpc_wait(p, tx->ncomp && tpc_completed(cb, TPC_RECV) == 1);
	check_ok(tx, "send");
	ck_assert_uint_eq(tagged_seed(newest_recv(cb), 64), 1);
	tpc_destroy(cb);
	tpc_wait(p, ca->nclosed || !(p->a.tp->caps & RMX__TP_CAP_CONNECTED));
	tpc_destroy(ca);
	tpc_settle(p, 100);
	ck_assert_int_eq(tpc_recvs_posted(&p->b), 3);

	ca = connect_one(p, &cb);
	for (i = 0; i < 3; i++) {
		fill_tagged(src->buf + 1024 * i, 64, 2u + (uint32_t)i);
		tpc_post_send(ca, src->buf + 1024 * i, 64, src->mr);
	}
	tpc_wait(p, tpc_completed(cb, TPC_RECV) == 3 &&
			    tpc_outstanding(ca) == 0);
	ck_assert_int_eq(tpc_recvs_posted(&p->b), 0);
	for (i = 0; i < p->b.nwrs; i++) {
		struct tpc_wr *w = &p->b.wrs[i];

		if (w->recv && w->conn == cb)
			ck_assert_uint_ge(tagged_seed(w, 64), 2);
	}
	tpc_close(p);
}
END_TEST

/*
 * Data that arrived on a connection destroyed before its receive was
 * reported: the receive still completes, once, so its buffer comes back,
 * naming nobody. Where the peer's device acknowledges without its CPU
 * (RC), the send completes with the receiver not progressing, and the
 * destroy finds the receive's completion still queued.
 */
START_TEST(arrival_after_destroy)
{
	struct tpc_pair *p = tpc_open();
	struct tpc_conn *ca, *cb;
	struct tpc_mem *src;
	struct tpc_wr *tx, *rx;
	bool queued;
	int64_t end;

	p->b.prepost = 0;
	ca = connect_one(p, &cb);
	rx = tpc_post_slot(&p->b);
	src = tpc_reg(&p->a, 4096, RMX__TP_LOCAL_WRITE);
	fill_tagged(src->buf, 200, 7);
	tx = tpc_post_send(ca, src->buf, 200, src->mr);
	end = rmx__now_ms() + 1000;
	while (!tx->ncomp && rmx__now_ms() < end)
		tpc_progress_one(p, &p->a);
	queued = tx->ncomp && !rx->ncomp;
	/* A fabric that needs the receiver's CPU: nothing queued to test. */
	tpc_wait(p, tx->ncomp);
	check_ok(tx, "send");
	tpc_destroy(cb);
	tpc_wait(p, rx->ncomp);
	ck_assert_uint_eq(tagged_seed(rx, 200), 7);
	if (queued)
		ck_assert_msg(!rx->conn,
			      "a receive reported after its connection was destroyed names it");
	tpc_settle(p, 100);
	ck_assert_int_eq(rx->ncomp, 1);
	tpc_close(p);
}
END_TEST

/* Remote memory ---------------------------------------------------- */

START_TEST(write_read)
{
	struct tpc_pair *p = tpc_pair_connect();
	struct tpc_mem *t = tpc_reg(&p->b, 64 << 10,
				    RMX__TP_LOCAL_WRITE | RMX__TP_REMOTE_READ |
					    RMX__TP_REMOTE_WRITE);
	struct tpc_mem *l = tpc_reg(&p->a, 64 << 10, RMX__TP_LOCAL_WRITE);
	struct rmx__tp_rma rma;
	struct tpc_wr *w;
	size_t bad;

	lab_fill(l->buf, 32 << 10, 7);
	rma = rma_to(RMX__TP_WRITE, l, 32 << 10, t, 4096);
	w = tpc_post_rma(p->ca, &rma);
	tpc_wait(p, w->ncomp);
	check_ok(w, "write");
	bad = lab_check(t->buf + 4096, 32 << 10, 7);
	ck_assert_msg(bad == 32 << 10, "written bytes differ from byte %zu",
		      bad);
	ck_assert_msg(lab_first_not(t->buf, 4096, 0) == 4096 &&
			      lab_first_not(t->buf + 4096 + (32 << 10),
					    28 << 10, 0) == 28 << 10,
		      "the write changed bytes outside its range");

	/* Fresh bytes at the target, read into the start of l. */
	lab_fill(t->buf + 8192, 16 << 10, 8);
	memset(l->buf, 0, l->len);
	rma = rma_to(RMX__TP_READ, l, 16 << 10, t, 8192);
	w = tpc_post_rma(p->ca, &rma);
	tpc_wait(p, w->ncomp);
	check_ok(w, "read");
	bad = lab_check(l->buf, 16 << 10, 8);
	ck_assert_msg(bad == 16 << 10, "read bytes differ from byte %zu", bad);
	ck_assert_msg(lab_first_not(l->buf + (16 << 10), 48 << 10, 0) ==
			      48 << 10,
		      "the read changed bytes past its length");
	tpc_close(p);
}
END_TEST

START_TEST(bad_rkey)
{
	struct tpc_pair *p = tpc_pair_connect();
	struct tpc_mem *t = tpc_reg(&p->b, 4096,
				    RMX__TP_LOCAL_WRITE | RMX__TP_REMOTE_READ |
					    RMX__TP_REMOTE_WRITE);
	struct tpc_mem *l = tpc_reg(&p->a, 4096, RMX__TP_LOCAL_WRITE);
	struct rmx__tp_rma rma = rma_to(RMX__TP_WRITE, l, 256, t, 0);

	lab_fill(l->buf, 256, 3);
	rma.rkey = tpc_bad_key(p, rma.rkey);
	expect_refused(p, &rma, "a write with a wrong key");
	ck_assert_msg(lab_first_not(t->buf, 4096, 0) == 4096,
		      "a write with a wrong key changed the target");
	tpc_close(p);
}
END_TEST

START_TEST(out_of_range)
{
	struct tpc_pair *p = tpc_pair_connect();
	unsigned int acc = RMX__TP_LOCAL_WRITE | RMX__TP_REMOTE_READ |
			   RMX__TP_REMOTE_WRITE;
	struct tpc_mem *t = tpc_reg(&p->b, 4096, acc);
	struct tpc_mem *l = tpc_reg(&p->a, 4096, RMX__TP_LOCAL_WRITE);
	struct rmx__tp_rma rma = rma_to(RMX__TP_WRITE, l, 256, t, 4096 - 128);

	/* Across the region's end. */
	expect_refused(p, &rma, "a write past the region's end");
	tpc_close(p);

	/* From before its start, on a connection of its own. */
	p = tpc_pair_connect();
	t = tpc_reg(&p->b, 4096, acc);
	l = tpc_reg(&p->a, 4096, RMX__TP_LOCAL_WRITE);
	rma = rma_to(RMX__TP_READ, l, 256, t, 0);
	rma.raddr -= 128;
	expect_refused(p, &rma, "a read from before the region's start");
	tpc_close(p);
}
END_TEST

/*
 * The target registered with `access` only: `allowed` passes, `denied`
 * fails and changes neither buffer.
 */
static void check_access(unsigned int access, enum rmx__tp_rma_op allowed,
			 enum rmx__tp_rma_op denied, const char *what)
{
	struct tpc_pair *p = tpc_pair_connect();
	struct tpc_mem *t = tpc_reg(&p->b, 4096, access);
	struct tpc_mem *l = tpc_reg(&p->a, 4096, RMX__TP_LOCAL_WRITE);
	struct rmx__tp_rma rma = rma_to(allowed, l, 256, t, 0);
	struct tpc_wr *w = tpc_post_rma(p->ca, &rma);

	tpc_wait(p, w->ncomp);
	check_ok(w, "the access the region was registered for");
	memset(t->buf, 0, t->len);
	memset(l->buf, 0x5a, l->len);
	rma.op = denied;
	expect_refused(p, &rma, what);
	ck_assert_msg(lab_first_not(t->buf, t->len, 0) == t->len &&
			      lab_first_not(l->buf, l->len, 0x5a) == l->len,
		      "%s changed a buffer", what);
	tpc_close(p);
}

START_TEST(mr_access_write)
{
	check_access(RMX__TP_REMOTE_READ, RMX__TP_READ, RMX__TP_WRITE,
		     "a write into a region registered without REMOTE_WRITE");
}
END_TEST

START_TEST(mr_access_read)
{
	check_access(RMX__TP_REMOTE_WRITE, RMX__TP_WRITE, RMX__TP_READ,
		     "a read of a region registered without REMOTE_READ");
}
END_TEST

/* Failure ---------------------------------------------------------- */

/*
 * A connected pair whose a side failed: a write with a wrong key, then
 * `sends` sends posted behind it before anything completed.
 */
static struct tpc_pair *failed_pair(int sends)
{
	struct tpc_pair *p = tpc_pair_connect();
	struct tpc_mem *t = tpc_reg(&p->b, 4096, RMX__TP_REMOTE_WRITE);
	struct tpc_mem *l = tpc_reg(&p->a, 4096, RMX__TP_LOCAL_WRITE);
	struct rmx__tp_rma rma = rma_to(RMX__TP_WRITE, l, 256, t, 0);
	struct tpc_wr *w;
	int i;

	rma.rkey = tpc_bad_key(p, rma.rkey);
	w = tpc_post_rma(p->ca, &rma);
	for (i = 0; i < sends; i++)
		tpc_post_send(p->ca, l->buf + 1024, 64, l->mr);
	tpc_wait(p, !tpc_outstanding(p->ca));
	ck_assert_msg(w->comp.status < 0,
		      "a write with a wrong key completed with %d",
		      w->comp.status);
	return p;
}

/*
 * What was outstanding on a connection when it failed is flushed, once;
 * the side's shared receives are not.
 */
START_TEST(flush_on_error)
{
	struct tpc_pair *p = failed_pair(3);
	int i;

	tpc_wait(p, !tpc_outstanding(p->ca));
	tpc_check_flushed(p->ca);
	ck_assert_int_eq(tpc_recvs_posted(&p->a), TPC_PREPOST);
	/* The sends queued behind the failed write were flushed. */
	for (i = p->a.nwrs - 3; i < p->a.nwrs; i++)
		ck_assert_msg(p->a.wrs[i].comp.status == -ECANCELED,
			      "a send queued behind the failure completed with %d, not -ECANCELED",
			      p->a.wrs[i].comp.status);
	tpc_settle(p, 100);
	tpc_check_flushed(p->ca);
	tpc_close(p);
}
END_TEST

/* RMX__TP_CAP_CONNECTED -------------------------------------------- */

START_TEST(peer_destroy)
{
	struct tpc_pair *p = tpc_pair_connect();

	tpc_require(p, RMX__TP_CAP_CONNECTED);
	tpc_destroy(p->ca);
	tpc_wait(p, p->cb->nclosed && tpc_outstanding(p->cb) == 0);
	ck_assert_msg(p->cb->closed_status < 0, "closed with %d",
		      p->cb->closed_status);
	tpc_check_flushed(p->cb);
	tpc_settle(p, 100);
	tpc_check_flushed(p->cb);
	ck_assert_int_eq(tpc_recvs_posted(&p->b), TPC_PREPOST);
	tpc_close(p);
}
END_TEST

/* RMX__TP_CAP_PEER_PROBE ------------------------------------------ */

/*
 * The peer's device answers a probe: only side a progresses, and its
 * probes complete, once each, in order with what was posted before.
 */
START_TEST(probe_without_peer_cpu)
{
	struct tpc_pair *p = tpc_pair_connect();
	struct tpc_mem *l;
	struct tpc_wr *s, *w;
	int64_t end;
	int i;

	tpc_require(p, RMX__TP_CAP_PEER_PROBE);
	l = tpc_reg(&p->a, 4096, RMX__TP_LOCAL_WRITE);
	for (i = 0; i < 3; i++) {
		s = tpc_post_send(p->ca, l->buf, 64, l->mr);
		w = tpc_post_probe(p->ca);
		end = rmx__now_ms() + TPC_TIMEOUT_MS;
		while (!w->ncomp && rmx__now_ms() < end)
			tpc_progress_one(p, &p->a);
		ck_assert_msg(w->ncomp == 1 && w->comp.status == 0,
			      "probe %d: %d completions, status %d", i,
			      w->ncomp, w->comp.status);
		ck_assert_msg(s->ncomp == 1 && s->seq < w->seq,
			      "probe %d completed before the send before it", i);
	}
	tpc_settle(p, 50);
	tpc_close(p);
}
END_TEST

/* A probe outstanding when the peer goes ends once, with an error. */
START_TEST(probe_peer_gone)
{
	struct tpc_pair *p = tpc_pair_connect();
	struct tpc_wr *w;

	tpc_require(p, RMX__TP_CAP_PEER_PROBE);
	tpc_destroy(p->cb);
	w = tpc_post_probe(p->ca);
	tpc_wait(p, w->ncomp && p->ca->nclosed);
	tpc_settle(p, 100);
	ck_assert_int_eq(w->ncomp, 1);
	tpc_check_flushed(p->ca);
	tpc_close(p);
}
END_TEST

/* Inline data (caps.max_inline) ------------------------------------ */

/* A pair, and in *n the bytes to carry inline (at most 64); NULL: skipped. */
static struct tpc_pair *inline_pair(uint32_t *n)
{
	struct tpc_pair *p = tpc_pair_connect();
	struct rmx__tp_conn_caps caps;

	p->a.tp->ops->conn_caps(p->ca->conn, &caps);
	*n = caps.max_inline < 64 ? caps.max_inline : 64;
	if (*n)
		return p;
	tpc_close(p);
	rmx_test_skipped("the connection's max_inline is 0");
	return NULL;
}

/* Copied at post: the buffer is the caller's again at once. */
START_TEST(inline_send)
{
	uint32_t n;
	struct tpc_pair *p = inline_pair(&n);
	uint8_t msg[64];
	struct tpc_wr *w;

	if (!p)
		return;
	lab_fill(msg, n, 11);
	w = tpc_post_send(p->ca, msg, n, NULL);
	memset(msg, 0xee, sizeof(msg));
	tpc_wait(p, w->ncomp && tpc_completed(p->cb, TPC_RECV) == 1);
	check_ok(w, "an inline send");
	check_arrival(newest_recv(p->cb), n, 11);
	tpc_close(p);
}
END_TEST

START_TEST(inline_write)
{
	uint32_t n;
	struct tpc_pair *p = inline_pair(&n);
	struct rmx__tp_rma rma;
	struct tpc_mem *t;
	uint8_t msg[64];
	struct tpc_wr *w;

	if (!p)
		return;
	t = tpc_reg(&p->b, 4096, RMX__TP_REMOTE_WRITE);
	lab_fill(msg, n, 12);
	rma = rma_to(RMX__TP_WRITE, NULL, n, t, 64);
	rma.buf = msg;
	w = tpc_post_rma(p->ca, &rma);
	memset(msg, 0xee, sizeof(msg));
	tpc_wait(p, w->ncomp);
	check_ok(w, "an inline write");
	ck_assert_msg(lab_check(t->buf + 64, n, 12) == n,
		      "an inline write's bytes arrived changed");
	tpc_close(p);
}
END_TEST

/* RMX__TP_CAP_ORDERED ---------------------------------------------- */

struct placed {
	struct tpc_mem *t;
	size_t len;
	int seen, misplaced;
};

/* At each receive's completion: is the seed it names written already? */
static void check_placed(void *arg, struct tpc_wr *w)
{
	struct placed *pl = arg;
	uint32_t seed;

	if (!w->recv || w->comp.status)
		return;
	if (w->comp.has_imm)
		seed = w->comp.imm;
	else
		memcpy(&seed, w->buf, sizeof(seed));
	pl->seen++;
	if (lab_check(pl->t->buf, pl->len, seed) != pl->len)
		pl->misplaced++;
}

START_TEST(write_then_send)
{
	const int rounds = 16;
	struct tpc_pair *p = tpc_pair_connect();
	struct placed pl = { .len = 64 << 10 };
	struct tpc_mem *l;
	struct rmx__tp_rma rma;
	uint32_t seed;
	int r;

	tpc_require(p, RMX__TP_CAP_ORDERED);
	pl.t = tpc_reg(&p->b, pl.len, RMX__TP_REMOTE_WRITE);
	l = tpc_reg(&p->a, pl.len + 64, RMX__TP_LOCAL_WRITE);
	p->b.hook = check_placed;
	p->b.hook_arg = &pl;
	rma = rma_to(RMX__TP_WRITE, l, (uint32_t)pl.len, pl.t, 0);
	for (r = 0; r < rounds; r++) {
		seed = 100 + (uint32_t)r;
		lab_fill(l->buf, pl.len, seed);
		memcpy(l->buf + pl.len, &seed, sizeof(seed));
		tpc_post_slot(&p->b);
		/* No wait between them: the order is the backend's to keep. */
		tpc_post_rma(p->ca, &rma);
		tpc_post_send(p->ca, l->buf + pl.len, sizeof(seed), l->mr);
		tpc_wait(p, pl.seen == r + 1 &&
				    !tpc_outstanding(p->ca));
	}
	ck_assert_msg(pl.misplaced == 0,
		      "%d of %d sends completed at the target before the write posted ahead of them was in place",
		      pl.misplaced, rounds);
	tpc_close(p);
}
END_TEST

struct arrivals {
	int n;
	uint32_t idx[128];
};

static void note_arrival(void *arg, struct tpc_wr *w)
{
	struct arrivals *a = arg;

	if (w->recv && !w->comp.status && a->n < 128)
		memcpy(&a->idx[a->n++], w->buf, sizeof(uint32_t));
}

START_TEST(sends_in_order)
{
	const int count = 100;
	struct tpc_pair *p = tpc_pair_connect();
	struct arrivals arr = { 0 };
	struct tpc_mem *src;
	uint32_t i;

	tpc_require(p, RMX__TP_CAP_ORDERED);
	src = tpc_reg(&p->a, (size_t)count * 64, RMX__TP_LOCAL_WRITE);
	p->b.hook = note_arrival;
	p->b.hook_arg = &arr;
	for (i = 0; i < (uint32_t)count; i++)
		tpc_post_slot(&p->b);
	for (i = 0; i < (uint32_t)count; i++) {
		memcpy(src->buf + i * 64, &i, sizeof(i));
		tpc_post_send(p->ca, src->buf + i * 64, 64, src->mr);
	}
	tpc_wait(p, arr.n == count);
	for (i = 0; i < (uint32_t)count; i++)
		ck_assert_msg(arr.idx[i] == i,
			      "the %u-th message to arrive is #%u", i,
			      arr.idx[i]);
	tpc_close(p);
}
END_TEST

/* RMX__TP_CAP_IMM_CONSUMES_RECV ------------------------------------ */

START_TEST(write_imm)
{
	struct tpc_pair *p = tpc_pair_connect();
	struct placed pl = { .len = 64 << 10 };
	struct tpc_mem *l;
	struct rmx__tp_rma rma;
	struct tpc_wr *w, *rx;

	tpc_require(p, RMX__TP_CAP_IMM_CONSUMES_RECV);
	pl.t = tpc_reg(&p->b, pl.len, RMX__TP_REMOTE_WRITE);
	l = tpc_reg(&p->a, pl.len, RMX__TP_LOCAL_WRITE);
	p->b.hook = check_placed;
	p->b.hook_arg = &pl;
	lab_fill(l->buf, pl.len, 0x5eed);
	rma = rma_to(RMX__TP_WRITE_IMM, l, (uint32_t)pl.len, pl.t, 0);
	rma.imm = 0x5eed;
	w = tpc_post_rma(p->ca, &rma);
	tpc_wait(p, w->ncomp && tpc_completed(p->cb, TPC_RECV) == 1);
	check_ok(w, "a write with immediate");
	rx = newest_recv(p->cb);
	check_ok(rx, "the receive a write with immediate consumed");
	ck_assert_msg(rx->comp.has_imm, "the receive lacks has_imm");
	ck_assert_uint_eq(rx->comp.imm, 0x5eed);
	ck_assert_msg(pl.misplaced == 0,
		      "the notice came before the written data was in place");
	ck_assert_int_eq(tpc_recvs_posted(&p->b), TPC_PREPOST - 1);

	/* A notice with no data, and no local buffer. */
	rma = rma_to(RMX__TP_WRITE_IMM, NULL, 0, pl.t, 0);
	rma.imm = 0xfeedf00d;
	p->b.hook = NULL;
	w = tpc_post_rma(p->ca, &rma);
	tpc_wait(p, w->ncomp && tpc_completed(p->cb, TPC_RECV) == 2);
	check_ok(w, "a write with immediate of 0 bytes");
	rx = newest_recv(p->cb);
	check_ok(rx, "the receive it consumed");
	ck_assert(rx->comp.has_imm);
	ck_assert_uint_eq(rx->comp.imm, 0xfeedf00d);
	tpc_close(p);
}
END_TEST

/* A write with immediate takes a shared receive naming its connection. */
START_TEST(write_imm_names_conn)
{
	struct tpc_pair *p = tpc_open();
	struct tpc_conn *ca[2], *cb[2];
	struct tpc_mem *t, *l;
	struct rmx__tp_rma rma;
	struct tpc_wr *w, *rx;
	int k;

	tpc_require(p, RMX__TP_CAP_IMM_CONSUMES_RECV);
	p->b.prepost = 0;
	ca[0] = connect_one(p, &cb[0]);
	ca[1] = connect_one(p, &cb[1]);
	t = tpc_reg(&p->b, 4096, RMX__TP_REMOTE_WRITE);
	l = tpc_reg(&p->a, 4096, RMX__TP_LOCAL_WRITE);
	for (k = 1; k >= 0; k--) {
		rx = tpc_post_slot(&p->b);
		lab_fill(l->buf, 512, 40u + (uint32_t)k);
		rma = rma_to(RMX__TP_WRITE_IMM, l, 512, t, 0);
		rma.imm = 0xa0 + (uint32_t)k;
		w = tpc_post_rma(ca[k], &rma);
		tpc_wait(p, w->ncomp && rx->ncomp);
		check_ok(w, "a write with immediate");
		check_ok(rx, "the receive it consumed");
		ck_assert(rx->comp.has_imm);
		ck_assert_uint_eq(rx->comp.imm, 0xa0 + (uint32_t)k);
		ck_assert_msg(rx->conn == cb[k],
			      "the notice of a write on connection %d names another",
			      k);
		ck_assert_msg(lab_check(t->buf, 512, 40u + (uint32_t)k) == 512,
			      "the written data is not in place");
	}
	tpc_close(p);
}
END_TEST

/* RMX__TP_CAP_ATOMIC ----------------------------------------------- */

static uint64_t word(const struct tpc_mem *m, size_t off)
{
	uint64_t v;

	memcpy(&v, m->buf + off, sizeof(v));
	return v;
}

static void set_word(struct tpc_mem *m, size_t off, uint64_t v)
{
	memcpy(m->buf + off, &v, sizeof(v));
}

/* One atomic on p->ca: returns the old value it brought back. */
static uint64_t do_atomic(struct tpc_pair *p, enum rmx__tp_rma_op op,
		       struct tpc_mem *l, struct tpc_mem *t, uint64_t a,
		       uint64_t b)
{
	struct rmx__tp_rma rma = rma_to(op, l, 8, t, 8);
	struct tpc_wr *w;

	rma.compare_add = a;
	rma.swap = b;
	set_word(l, 0, 0xdddddddddddddddd);
	w = tpc_post_rma(p->ca, &rma);
	tpc_wait(p, w->ncomp);
	check_ok(w, op == RMX__TP_FETCH_ADD ? "fetch-add" : "compare-swap");
	return word(l, 0);
}

/* A pair whose target word (t at 8) holds init; NULL: skipped. */
static struct tpc_pair *atomic_pair(unsigned int access, uint64_t init,
				    struct tpc_mem **t, struct tpc_mem **l)
{
	struct tpc_pair *p = tpc_pair_connect();

	if (tpc_lacks(p, RMX__TP_CAP_ATOMIC, "RMX__TP_CAP_ATOMIC"))
		return NULL;
	*t = tpc_reg(&p->b, 4096, access);
	*l = tpc_reg(&p->a, 4096, RMX__TP_LOCAL_WRITE);
	set_word(*t, 8, init);
	return p;
}

START_TEST(fetch_add)
{
	struct tpc_mem *t, *l;
	struct tpc_pair *p = atomic_pair(RMX__TP_REMOTE_ATOMIC, 100, &t, &l);

	if (!p)
		return;
	ck_assert_uint_eq(do_atomic(p, RMX__TP_FETCH_ADD, l, t, 5, 0), 100);
	ck_assert_uint_eq(word(t, 8), 105);
	/* All 64 bits. */
	ck_assert_uint_eq(do_atomic(p, RMX__TP_FETCH_ADD, l, t, 1ull << 40, 0),
			  105);
	ck_assert_uint_eq(word(t, 8), 105 + (1ull << 40));
	ck_assert_uint_eq(word(t, 0), 0);
	ck_assert_uint_eq(word(t, 16), 0);
	tpc_close(p);
}
END_TEST

START_TEST(cmp_swap)
{
	struct tpc_mem *t, *l;
	struct tpc_pair *p = atomic_pair(RMX__TP_REMOTE_ATOMIC, 7, &t, &l);

	if (!p)
		return;
	ck_assert_uint_eq(do_atomic(p, RMX__TP_CMP_SWAP, l, t, 7,
				 0x1122334455667788ull),
			  7);
	ck_assert_uint_eq(word(t, 8), 0x1122334455667788ull);
	/* A compare that fails swaps nothing and still returns the value. */
	ck_assert_uint_eq(do_atomic(p, RMX__TP_CMP_SWAP, l, t, 8, 9),
			  0x1122334455667788ull);
	ck_assert_uint_eq(word(t, 8), 0x1122334455667788ull);
	tpc_close(p);
}
END_TEST

/* Registered without REMOTE_ATOMIC: atomics fail. */
START_TEST(atomic_access)
{
	struct tpc_mem *t, *l;
	struct tpc_pair *p = atomic_pair(RMX__TP_REMOTE_READ |
						 RMX__TP_REMOTE_WRITE,
					 100, &t, &l);
	struct rmx__tp_rma rma;

	if (!p)
		return;
	rma = rma_to(RMX__TP_FETCH_ADD, l, 8, t, 8);
	rma.compare_add = 1;
	expect_refused(p, &rma, "a fetch-add on a region registered without REMOTE_ATOMIC");
	ck_assert_uint_eq(word(t, 8), 100);
	tpc_close(p);
}
END_TEST

static TCase *tcase(Suite *s, const char *name, bool may_skip)
{
	TCase *tc = tcase_create(name);

	/* Waits fail on their own after TPC_TIMEOUT_MS. */
	tcase_set_timeout(tc, 120);
	if (may_skip)
		tcase_set_tags(tc, "may_skip");
	suite_add_tcase(s, tc);
	return tc;
}

/*
 * The may_skip TCases must match RMX_TP_CASES_MAY_SKIP in
 * tests/CMakeLists.txt, which runs each as its own ctest entry.
 */
Suite *test_suite(void)
{
	Suite *s = suite_create("tp_conformance");
	TCase *tc;

	tc = tcase(s, "conn", false);
	tcase_add_test(tc, connect_priv);
	tcase_add_test(tc, reject);
	tcase_add_test(tc, reject_keeps_recvs);
	tcase_add_test(tc, refused);
	tc = tcase(s, "msg", false);
	tcase_add_test(tc, send_recv);
	tcase_add_test(tc, exactly_once);
	tc = tcase(s, "shared", false);
	tcase_add_test(tc, recv_before_connect);
	tcase_add_test(tc, two_conns_one_pool);
	tcase_add_test(tc, many_conns);
	tcase_add_test(tc, destroyed_conn_leaves_recvs);
	tcase_add_test(tc, arrival_after_destroy);
	tc = tcase(s, "rma", false);
	tcase_add_test(tc, write_read);
	tcase_add_test(tc, bad_rkey);
	tcase_add_test(tc, out_of_range);
	tcase_add_test(tc, mr_access_write);
	tcase_add_test(tc, mr_access_read);
	tc = tcase(s, "failure", false);
	tcase_add_test(tc, flush_on_error);

	tc = tcase(s, "connected", true);
	tcase_add_test(tc, peer_destroy);
	tcase_add_test(tc, probe_without_peer_cpu);
	tcase_add_test(tc, probe_peer_gone);
	tc = tcase(s, "inline", true);
	tcase_add_test(tc, inline_send);
	tcase_add_test(tc, inline_write);
	tc = tcase(s, "ordered", true);
	tcase_add_test(tc, write_then_send);
	tcase_add_test(tc, sends_in_order);
	tc = tcase(s, "imm", true);
	tcase_add_test(tc, write_imm);
	tcase_add_test(tc, write_imm_names_conn);
	tc = tcase(s, "atomic", true);
	tcase_add_test(tc, fetch_add);
	tcase_add_test(tc, cmp_swap);
	tcase_add_test(tc, atomic_access);
	return s;
}
