/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Helpers for suites that run whole contexts through the public API:
 * against a real device (in ci/rxe-lab), where verbs resources must not
 * cross fork(), so these suites run with CK_FORK=no and create
 * everything inside each test; and over the loop transport
 * (test_proto_*.c, see proto_test.h).
 */
#ifndef RMX_TESTS_LAB_H
#define RMX_TESTS_LAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <rmx/rmx.h>

/* Address of the lab's rxe device; RMX_TEST_ADDR overrides. */
const char *lab_addr(void);

/* What one endpoint's event callback saw. */
struct lab_events {
	int count[4];		/* per enum rmx_ep_event */
	int status;		/* of the last CLOSED event */
};

/* An rmx_ep_event_cb that records into the struct lab_events at arg. */
void lab_record_event(rmx_ep_t *ep, enum rmx_ep_event ev, int status,
		      void *arg);

struct lab_pair {
	rmx_context_t *ctx;
	rmx_listener_t *listener;
	rmx_ep_t *client;	/* connected with rmx_connect() */
	rmx_ep_t *server;	/* handed out by the accept callback */
	int accepts;
	struct lab_events cev, sev;	/* client's, server's */
};

/* Opens a context, listens, connects, waits until both sides are up. */
void lab_pair_open(struct lab_pair *lp);
void lab_pair_close(struct lab_pair *lp);

/* Progresses ctx until *flag is nonzero; fails the test after ms. */
void lab_wait_flag(rmx_context_t *ctx, const volatile int *flag, int ms);
/* Progresses ctx until *count reaches at least want; fails after ms. */
void lab_wait_count(rmx_context_t *ctx, const volatile int *count, int want,
		    int ms);

/*
 * Sleeps on rmx_context_fd() the way rmx_arm(3) documents (drain, arm,
 * wait without a timeout of its own) until *flag is set; fails the test
 * when one sleep lasts ms. Returns how many times the fd woke it.
 */
int lab_sleep_until(rmx_context_t *ctx, const int *flag, int ms);

/*
 * Checks a connected pair's addresses: the client's peer is `listened`
 * ("ip:port"), each side's local address the other's peer address. The
 * client's local address goes into local (RMX_ADDR_STRLEN bytes).
 */
void lab_check_addrs(rmx_ep_t *client, rmx_ep_t *server, const char *listened,
		     char *local);

/* Calls rmx_progress() (busy) for ms milliseconds. */
void lab_spin(rmx_context_t *ctx, int ms);

/* A completion record for callbacks. */
struct lab_comp {
	int done;
	int status;
	size_t len;
};

void lab_comp_cb(void *arg, int status, size_t len);

/*
 * Drops CAP_IPC_LOCK so RLIMIT_MEMLOCK binds even for root. Verbs state
 * opened before it would be refused after: memlock suites run in a
 * process of their own (RMX_TEST_MEMLOCK=1).
 */
void lab_drop_ipc_lock(void);

/* A private anonymous mapping (at: MAP_FIXED there); fails the test if none. */
void *lab_map(void *at, size_t len, int prot);
/* The same, readable and writable. */
void *lab_map_anon(void *at, size_t len);

/* The first offset in buf that is not `byte`, or len when all are. */
size_t lab_first_not(const void *buf, size_t len, uint8_t byte);

/* Deterministic bytes for a (seed, offset) pair, and their check. */
void lab_fill(void *buf, size_t len, uint32_t seed);
/* Returns the first mismatching offset, or len when all match. */
size_t lab_check(const void *buf, size_t len, uint32_t seed);

#endif
