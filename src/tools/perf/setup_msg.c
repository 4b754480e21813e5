// SPDX-License-Identifier: BSD-2-Clause
/*
 * rmx-perf: the test table, setup message codec and small helpers.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "perf.h"

const struct perf_test_info perf_tests[PERF_NTESTS] = {
	[PERF_PUT_LAT] = { "put_lat", "RDMA write latency (ping-pong, half round trip)", 0, 1 },
	[PERF_GET_LAT] = { "get_lat", "RDMA read latency (full round trip)", 0, 0 },
	[PERF_SEND_LAT] = { "send_lat", "send/recv latency (ping-pong, half round trip)", 0, 1 },
	[PERF_RPC_LAT] = { "rpc_lat", "RPC latency (full round trip)", 0, 0 },
	[PERF_PUT_BW] = { "put_bw", "RDMA write bandwidth", 1, 0 },
	[PERF_GET_BW] = { "get_bw", "RDMA read bandwidth", 1, 0 },
	[PERF_SEND_BW] = { "send_bw", "send/recv bandwidth", 1, 0 },
	[PERF_RPC_RATE] = { "rpc_rate", "RPC rate", 1, 0 },
};

int perf_test_by_name(const char *name)
{
	int i;

	for (i = 0; i < PERF_NTESTS; i++)
		if (!strcmp(name, perf_tests[i].name))
			return i;
	return -1;
}

static void put32(uint8_t *p, uint32_t v)
{
	int i;

	for (i = 0; i < 4; i++)
		p[i] = v >> (8 * i);
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

static uint32_t get32(const uint8_t *p)
{
	return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p)
{
	return get32(p) | (uint64_t)get32(p + 4) << 32;
}

int perf_setup_pack(const struct perf_setup *s, void *buf, size_t len)
{
	uint8_t *p = buf;

	if (len < PERF_SETUP_SIZE)
		return -EMSGSIZE;
	put32(p, PERF_MAGIC);
	put32(p + 4, PERF_WIRE_VERSION);
	put32(p + 8, s->test);
	put32(p + 12, s->window);
	put64(p + 16, s->size);
	put64(p + 24, s->max_size);
	return rmx_remote_pack(&s->remote, p + 32, RMX_REMOTE_PACKED_SIZE);
}

int perf_setup_unpack(struct perf_setup *s, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	if (len != PERF_SETUP_SIZE || get32(p) != PERF_MAGIC)
		return -EPROTO;
	if (get32(p + 4) != PERF_WIRE_VERSION)
		return -EPROTONOSUPPORT;
	s->test = get32(p + 8);
	s->window = get32(p + 12);
	s->size = get64(p + 16);
	s->max_size = get64(p + 24);
	if (s->test >= PERF_NTESTS || !s->window ||
	    s->window > PERF_MAX_WINDOW || !s->size ||
	    s->size > s->max_size || s->max_size > PERF_MAX_SIZE)
		return -EINVAL;
	return rmx_remote_unpack(&s->remote, p + 32, RMX_REMOTE_PACKED_SIZE);
}

void *perf_alloc(size_t len)
{
	long page = sysconf(_SC_PAGESIZE);
	void *p;

	if (page <= 0)
		page = 4096;
	/* Whole pages: registrations then cover no neighbouring data. */
	len = (len + page - 1) / page * page;
	if (posix_memalign(&p, page, len))
		return NULL;
	memset(p, 0, len);
	return p;
}

void perf_err(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fputs("rmx-perf: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

double perf_us_per_cycle;
uint64_t perf_cycle0;
double perf_us0;

void perf_clock_init(void)
{
#if defined(__x86_64__) || defined(__i386__)
	struct timespec pause = { 0, 20 * 1000 * 1000 };
	double t0 = perf_clock_us(), t1;
	uint64_t c0 = __rdtsc(), c1;

	nanosleep(&pause, NULL);
	t1 = perf_clock_us();
	c1 = __rdtsc();
	if (c1 <= c0 || t1 <= t0)
		return;		/* no usable counter: the clock it is */
	perf_us_per_cycle = (t1 - t0) / (double)(c1 - c0);
	perf_cycle0 = c1;
	perf_us0 = t1;
#endif
}
