/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * A loopback transport: the whole rmx__tp_ops contract in memory, in one
 * process, for running the protocol natively through the public API.
 * Every transport opened in the process shares one fabric: listeners
 * are found by address, remote keys by the target's registrations.
 *
 * What it does as a verbs RC device would:
 * - connection setup in steps (address resolved, request at the
 *   listener, accept, established at the active side, then at the
 *   passive one), with private data both ways; a missing listener
 *   closes the active side with -ECONNREFUSED, a rejection with
 *   -ECONNABORTED (-EPROTO, -EPROTONOSUPPORT when the listener said so);
 * - work requests execute in order per connection, from the progress()
 *   of any transport of the fabric (the "device"); completions and
 *   connection events reach the upcalls only from the owner's progress(),
 *   in the order they happened, a bounded batch per call;
 * - receives are shared, as with a verbs SRQ: one FIFO per transport,
 *   up to max_recv (16384, what one connection could post before) posted
 *   at once, before or after any connection exists;
 * - a send lands in the oldest shared receive of the peer's transport,
 *   whose completion names the peer's connection; none posted is a
 *   receiver-not-ready error (-ETIMEDOUT, counted in loop_stats.rnr and
 *   logged), a receive too small fails both sides (-EMSGSIZE there,
 *   naming that connection, -EREMOTEIO here);
 * - writes, reads and atomics check the target's key, range and access
 *   (-EACCES), local buffers their registration (-EFAULT); a write with
 *   immediate lands its data, then consumes a receive;
 * - any failed work request puts the connection in error: its sends
 *   still queued are flushed (-ECANCELED), nothing succeeds after; shared
 *   receives stay posted for the transport's other connections until
 *   close(), which ends them without completions;
 * - destroying a connection disconnects the peer (flushes, then
 *   conn_closed with -ECONNRESET), after what it already received; the
 *   receive completions of the destroyed connection not yet delivered
 *   still come, with conn NULL, its send completions and events do not;
 * - writes and sends of at most max_inline bytes are copied when posted;
 * - a probe succeeds whether or not the peer's transport progresses, and
 *   fails as other requests do once the peer vanished.
 *
 * Single-threaded: every transport of the fabric must be used from one
 * thread. The fault hooks below let a test break what verbs would not.
 */
#ifndef RMX_TESTS_LOOP_TP_H
#define RMX_TESTS_LOOP_TP_H

#include <stdbool.h>
#include <stdint.h>

#include "transport/transport.h"

#define LOOP_TP_NAME "loop"

/* Adds the backend as RMX_TRANSPORT=loop; 0 or a negative errno. */
int loop_tp_register(void);
/* Its ops table, for suites that drive the transport directly. */
extern const struct rmx__tp_ops loop_tp_ops;

/* What the fabric did since the first transport of the process opened. */
struct loop_stats {
	uint64_t sends;		/* messages delivered into a receive */
	uint64_t dropped;	/* sends a tamper hook dropped */
	uint64_t writes, reads, atomics, imms;
	uint64_t rnr;		/* sends that found no receive posted */
	uint64_t remote_errors;	/* key, range or access refused */
	uint64_t flushed;	/* work requests ended by an error state */
	uint64_t probes;	/* probes executed, answered or not */
	uint64_t mr_live;	/* registrations not yet deregistered */
};

extern struct loop_stats loop_stats;

/* Largest single transfer granted to connections made from now on. */
extern uint32_t loop_max_msg;

/*
 * Transports opened from now on lack RMX__TP_CAP_PEER_PROBE, as a
 * fabric that cannot probe would.
 */
extern bool loop_no_probe;

/* How the peer of a connection dies (loop_kill()). */
enum loop_death {
	/* Its process exits: its side disconnects (-ECONNRESET here). */
	LOOP_PEER_EXITS,
	/*
	 * Its host vanishes: no event; the next work request here fails
	 * as retries run out (-ETIMEDOUT), the rest is flushed.
	 */
	LOOP_PEER_VANISHES,
};

/*
 * The peer of conn dies: from now on it gets nothing and nothing it
 * posts executes, as a dead process's queue pair would (destroying it
 * later is quiet). conn sees what `how` says.
 */
void loop_kill(struct rmx__tp_conn *conn, enum loop_death how);

/*
 * Sees every message conn sends from now on as it lands, before the
 * receive completes: may change its bytes and *len (at most the
 * receive's size); returning false drops it (the send still succeeds:
 * a fabric fault RC would never show). fn NULL stops it.
 */
typedef bool (*loop_tamper_fn)(void *arg, uint8_t *msg, uint32_t *len);
void loop_tamper(struct rmx__tp_conn *conn, loop_tamper_fn fn, void *arg);

/* Lets `skip` registrations of tp succeed, then fails `count` with err. */
void loop_fail_mr_reg(struct rmx__tp *tp, unsigned int skip,
		      unsigned int count, int err);

/* Registrations of tp refused by loop_fail_mr_reg() so far. */
unsigned int loop_mr_reg_failed(const struct rmx__tp *tp);

/* Shared receives of tp posted and not yet used. */
uint32_t loop_recv_posted(const struct rmx__tp *tp);

#endif
