/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Transport conformance harness: the same tests against every backend,
 * through struct rmx__tp_ops alone (transport.h is the contract).
 *
 * A test opens a pair: side a (the initiator) and side b (the listener),
 * each a backend instance with its own struct rmx__loop and its own
 * upcalls, which record into test-owned records: one struct tpc_conn per
 * connection, one struct tpc_wr per posted work request, and a sequence
 * number over both sides that orders everything either side saw.
 *
 * While recording, the upcalls check what the contract promises of every
 * backend and keep the first breach in the side's `violation`; the next
 * tpc_step() fails the test with it:
 * - every upcall comes from inside that backend's progress(), never from
 *   inside a post call or from another backend instance's progress();
 * - a completion names a work request that was posted and completes it
 *   once, naming its kind; a send-queue request's names its connection,
 *   never after conn_destroy(); a shared receive's names a live
 *   connection of this side, or NULL only once one was destroyed;
 *   nothing on a connection succeeds after one of its work requests
 *   failed or it was closed, and no receive names it after that;
 * - conn_ready comes first on a connection, then conn_established at most
 *   once, conn_closed at most once and with a negative status; no
 *   connection upcall after conn_destroy() or after a rejection.
 * Receives are the side's (transport.h: shared by its connections); a
 * receive's record learns its connection from its completion. Each
 * connection has its side post TPC_PREPOST receives at conn_ready, as a
 * protocol granting the peer credits would. Waits progress both sides
 * with the arm()/sleep discipline of a real event loop (the loops' fds
 * must wake the sleeper) and fail after TPC_TIMEOUT_MS naming what they
 * waited for.
 */
#ifndef RMX_TESTS_TPC_H
#define RMX_TESTS_TPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/clock.h"
#include "core/loop.h"
#include "transport/transport.h"

/* One backend under test: backends.c lists them. */
struct tpc_backend {
	const char *name;	/* what RMX_TEST_TP names */
	const struct rmx__tp_ops *ops;
	/* Host both sides use, listening and connecting; NULL: lab_addr(). */
	const char *addr;
};

extern const struct tpc_backend tpc_backends[];
extern const size_t tpc_nbackends;

/* The backend RMX_TEST_TP names; fails the test if none does. */
const struct tpc_backend *tpc_backend(void);

#define TPC_TIMEOUT_MS 5000
#define TPC_MAX_WR 2048		/* work requests per side and test */
#define TPC_MAX_CONNS 80	/* connections per side and test */
#define TPC_MAX_MEMS 16		/* registrations per side and test */
#define TPC_PRIV_MAX 256
#define TPC_RX_SLOT 4096	/* bytes of a receive tpc_post_recv() posts */
#define TPC_RX_SLOTS 256
#define TPC_PREPOST 4		/* receives each connection posts at ready */

struct tpc_side;

struct tpc_conn {
	struct tpc_side *side;
	struct rmx__tp_conn *conn;
	bool passive;		/* came through conn_request */
	bool destroyed;		/* destroyed or rejected: no upcall after */
	/* Sequence numbers (0: not yet) and counts of each upcall. */
	uint64_t ready_seq, established_seq, closed_seq, fail_seq;
	int nready, nestablished, nclosed;
	int closed_status;
	/* The peer's private data: from conn_request or conn_established. */
	uint8_t priv[TPC_PRIV_MAX];
	size_t priv_len;
	int peer_family;	/* conn_request's peer address */
	int prepost;		/* receives its side posts at conn_ready */
};

struct tpc_wr {
	uint64_t wr_ctx;
	/* Receives: the one their completion named; NULL until then. */
	struct tpc_conn *conn;
	bool recv;
	bool probe;		/* post_probe() */
	bool posted;		/* the post call returned 0 */
	void *buf;
	uint32_t len;
	int ncomp;
	uint64_t seq;		/* of the first completion */
	struct rmx__tp_comp comp;	/* the first completion */
};

struct tpc_mem {
	uint8_t *buf;
	size_t len;
	struct rmx__tp_mr *mr;
};

struct tpc_pair;

/* Called for each completion after it is recorded. */
typedef void (*tpc_hook_fn)(void *arg, struct tpc_wr *wr);

struct tpc_side {
	const char *name;	/* "a" or "b" */
	struct tpc_pair *pair;
	struct rmx__loop loop;
	struct rmx__tp *tp;
	bool in_progress, in_post;
	char violation[256];

	struct tpc_conn conns[TPC_MAX_CONNS];
	int nconns;
	struct tpc_wr wrs[TPC_MAX_WR];
	int nwrs;
	struct tpc_mem mems[TPC_MAX_MEMS];
	int nmems;

	struct tpc_mem *rx;	/* TPC_RX_SLOTS receive buffers */
	unsigned int next_slot;

	struct rmx__tp_conn_want want;
	/* Listener behaviour: accept with accept_priv, or return reject. */
	struct rmx__tp_listener *listener;
	int reject;
	uint8_t accept_priv[TPC_PRIV_MAX];
	size_t accept_priv_len;
	int prepost;		/* for connections made from now on */

	tpc_hook_fn hook;
	void *hook_arg;
};

struct tpc_pair {
	const struct tpc_backend *be;
	struct tpc_side a, b;
	uint64_t seq;
	struct tpc_conn *ca, *cb;	/* tpc_pair_connect(): a's, b's */
};

/* Opens both sides (b listening on port 0), each with its own loop. */
struct tpc_pair *tpc_open(void);
/* Destroys what is left, settles, checks, closes both sides, frees p. */
void tpc_close(struct tpc_pair *p);
/* tpc_open(), then a connection a to b (ca, cb), both established. */
struct tpc_pair *tpc_pair_connect(void);

/*
 * If the backend lacks cap: closes p, reports the test skipped, true.
 * The calling test returns at once (tpc_require()).
 */
bool tpc_lacks(struct tpc_pair *p, unsigned int cap, const char *name);
#define tpc_require(p, cap)                     \
	do {                                    \
		if (tpc_lacks(p, cap, #cap))    \
			return;                 \
	} while (0)

/* b's listening port; host:port as the backend's socket address. */
int tpc_port(struct tpc_pair *p);
void tpc_sockaddr(struct tpc_pair *p, int port, struct sockaddr_storage *ss);

/* Starts a connection from a to port with priv; the returned record fills in. */
struct tpc_conn *tpc_connect(struct tpc_pair *p, int port, const void *priv,
			     size_t priv_len);
void tpc_destroy(struct tpc_conn *c);
/* b's latest connection not rejected nor destroyed, or NULL. */
struct tpc_conn *tpc_accepted(struct tpc_pair *p);

/* Progresses both sides once; sleeps on their loops when neither has work. */
void tpc_step(struct tpc_pair *p, int64_t deadline_ms);
/*
 * Steps until cond holds; fails after TPC_TIMEOUT_MS naming cond, and
 * saying so when a few more progress() calls bring it (the armed loops
 * slept through it).
 */
#define tpc_wait(p, cond)                                                  \
	do {                                                               \
		int64_t tpc_end_ = rmx__now_ms() + TPC_TIMEOUT_MS;         \
		while (!(cond)) {                                          \
			if (rmx__now_ms() >= tpc_end_) {                   \
				tpc_poke(p);                               \
				tpc_timeout(p, #cond, (cond));             \
			}                                                  \
			tpc_step(p, tpc_end_);                             \
		}                                                          \
	} while (0)
/* Progresses side s alone once: the other side's CPU stays out of it. */
void tpc_progress_one(struct tpc_pair *p, struct tpc_side *s);
/* Progresses both sides a few times, without sleeping. */
void tpc_poke(struct tpc_pair *p);
void tpc_timeout(struct tpc_pair *p, const char *what, bool after_poke)
	__attribute__((noreturn));
/* Progresses both sides for ms: what arrives late (twice, after close). */
void tpc_settle(struct tpc_pair *p, int ms);

/* Registers len bytes (zeroed, page aligned) with access. */
struct tpc_mem *tpc_reg(struct tpc_side *s, size_t len, unsigned int access);
/* A key neither side registered, within max_key. */
uint64_t tpc_bad_key(struct tpc_pair *p, uint64_t good);

/* Posts; fails the test unless the post call returns 0. */
struct tpc_wr *tpc_post_recv(struct tpc_side *s, void *buf, uint32_t len,
			     struct rmx__tp_mr *mr);
/* A shared receive of TPC_RX_SLOT bytes in the side's receive buffers. */
struct tpc_wr *tpc_post_slot(struct tpc_side *s);
struct tpc_wr *tpc_post_send(struct tpc_conn *c, const void *buf,
			     uint32_t len, struct rmx__tp_mr *mr);
struct tpc_wr *tpc_post_rma(struct tpc_conn *c, const struct rmx__tp_rma *rma);
/* A probe: needs RMX__TP_CAP_PEER_PROBE. */
struct tpc_wr *tpc_post_probe(struct tpc_conn *c);
/*
 * The same, returning the post call's result; *out is the record, whose
 * `posted` says whether a completion is owed.
 */
int tpc_try_recv(struct tpc_side *s, void *buf, uint32_t len,
		 struct rmx__tp_mr *mr, struct tpc_wr **out);
int tpc_try_send(struct tpc_conn *c, const void *buf, uint32_t len,
		 struct rmx__tp_mr *mr, struct tpc_wr **out);

enum tpc_which {
	TPC_ALL,
	TPC_RECV,	/* receives that named c */
	TPC_SQ,		/* sends, one-sided operations and probes */
};

/* Send-queue requests posted on c and not yet completed. */
int tpc_outstanding(const struct tpc_conn *c);
/* Shared receives s posted and not yet completed. */
int tpc_recvs_posted(const struct tpc_side *s);
/* Work requests of c completed so far (receives: those naming c). */
int tpc_completed(const struct tpc_conn *c, enum tpc_which which);
/*
 * After c failed: checks that every send-queue request c posted
 * completed once, those completing from the failure on with an error,
 * and that the failure flushed none of the side's shared receives.
 */
void tpc_check_flushed(const struct tpc_conn *c);

#endif
