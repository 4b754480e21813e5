/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * rmx-perf: what the client, the server and the output share: options,
 * the test table (tests.c) and the setup messages on the wire
 * (setup_msg.c).
 */
#ifndef RMX_TOOLS_PERF_H
#define RMX_TOOLS_PERF_H

#include <stddef.h>
#include <stdint.h>

#include <rmx/rmx.h>

enum perf_test {
	PERF_PUT_LAT,
	PERF_GET_LAT,
	PERF_SEND_LAT,
	PERF_RPC_LAT,
	PERF_PUT_BW,
	PERF_GET_BW,
	PERF_SEND_BW,
	PERF_RPC_RATE,
	PERF_NTESTS
};

struct perf_test_info {
	const char *name;
	const char *title;	/* banner line */
	int bw;			/* bandwidth table, else latency */
	int half_rtt;		/* ping-pong: report half the round trip */
	uint32_t def_size;	/* bytes when -s is not given */
};

extern const struct perf_test_info perf_tests[PERF_NTESTS];

/* Looks a test up by name; -1 if there is none. */
int perf_test_by_name(const char *name);

/* perftest's rule between banner and table. */
#define PERF_RULE "---------------------------------------------------------------------------------------\n"

#define PERF_DEF_PORT 18515
#define PERF_DEF_WINDOW 128
#define PERF_MAX_WINDOW 1024
/*
 * The default window keeps at most this much in flight: plenty for any
 * link's bandwidth-delay product, and a slow link (Soft-RoCE) then never
 * queues seconds of transfers ahead of rmx's own messages.
 */
#define PERF_MAX_INFLIGHT (16UL << 20)
#define PERF_MAX_SIZE (1UL << 30)
#define PERF_ALL_MIN 2
#define PERF_ALL_MAX (8UL << 20)
#define PERF_LAT_WARMUP 16

/*
 * No completion, event or reply for this long fails the run: keepalive
 * (RMX_KEEPALIVE_MS) normally ends a dead peer's endpoint well before,
 * this bounds what keepalive does not see (a stopped peer).
 */
#define PERF_STALL_MS 10000

/* RPC ids the two sides use; the server registers all of them. */
#define PERF_RPC_SETUP 0x7270
#define PERF_RPC_DONE 0x7271
#define PERF_RPC_BENCH 0x7272

struct perf_opts {
	int test;		/* enum perf_test, -1 when not given */
	size_t size;		/* 0: the test's default */
	int all;		/* -a: 2 B .. 8 MiB */
	uint64_t iters;		/* 0: the test's default */
	double duration;	/* -D seconds; 0: count iterations */
	const char *device;
	int port;
	int window;		/* outstanding operations of BW tests */
	int window_set;		/* -q given: no PERF_MAX_INFLIGHT cap */
	int json;
	const char *server;	/* client: the server's address */
};

/*
 * The client's setup message, one per size, answered by the server's
 * packed descriptor. Fixed little-endian layout so that two hosts of
 * different byte order agree.
 */
#define PERF_MAGIC 0x504d5852u	/* "RXMP" */
#define PERF_WIRE_VERSION 1
#define PERF_SETUP_SIZE (4 + 4 + 4 + 4 + 8 + 8 + RMX_REMOTE_PACKED_SIZE)

struct perf_setup {
	uint32_t test;
	uint32_t window;
	uint64_t size;		/* of this round */
	uint64_t max_size;	/* of the whole run: buffers are sized once */
	rmx_remote_t remote;	/* the client's buffer (put_lat), else zero */
};

int perf_setup_pack(const struct perf_setup *s, void *buf, size_t len);
int perf_setup_unpack(struct perf_setup *s, const void *buf, size_t len);

/* Page-aligned, zeroed; NULL when out of memory. Free with free(). */
void *perf_alloc(size_t len);	/* buffer.c */

int perf_client(const struct perf_opts *o);
int perf_server(const struct perf_opts *o);

#endif /* RMX_TOOLS_PERF_H */
