/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * A transport with no fabric behind it, for driving the protocol layer
 * natively: it records what the protocol posts and lets a test deliver
 * completions and connection events by hand. Receives are shared, as
 * transport.h says: one list per fake transport, whichever connection a
 * test then delivers into.
 */
#ifndef RMX_TESTS_FAKE_TP_H
#define RMX_TESTS_FAKE_TP_H

#include "transport/transport.h"

/* Posted sends per connection, and shared receives (max_recv). */
#define FAKE_MAX_WR 64

struct fake_wr {
	uint64_t wr_ctx;
	void *buf;
	uint32_t len;
};

struct fake_conn {
	struct rmx__tp_conn base;
	struct rmx__tp_conn_caps caps;
	struct fake_wr tx[FAKE_MAX_WR];	/* posted sends, oldest first */
	int ntx;
	int destroyed;
};

struct fake_tp {
	struct rmx__tp base;
	const struct rmx__tp_upcalls *up;
	void *upctx;
	struct fake_conn *last;	/* the latest connection made */
	struct fake_wr rx[FAKE_MAX_WR];	/* shared receives, oldest first */
	int nrx;
};

extern const struct rmx__tp_ops fake_tp_ops;

/* Opens a fake transport directly (not through rmx__tp_open). */
int fake_tp_open(struct rmx__loop *loop, const struct rmx__tp_upcalls *up,
		 void *upctx, struct rmx__tp **out);

/*
 * Delivers the posted receive at index i (modulo how many are posted)
 * with len bytes from data, as having come on c; c NULL says its
 * connection was destroyed meanwhile. Nothing when none is posted.
 */
void fake_deliver_rx(struct fake_tp *tp, struct fake_conn *c, int i,
		     const void *data, uint32_t len, int status);
/* The oldest posted receive, consumed by a write with immediate on c. */
void fake_deliver_imm(struct fake_tp *tp, struct fake_conn *c, uint32_t imm,
		      uint32_t len);
/* Completes the oldest posted send. */
void fake_complete_tx(struct fake_tp *tp, struct fake_conn *c, int status);

#endif
