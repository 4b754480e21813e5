// SPDX-License-Identifier: BSD-2-Clause
/* rmx-perf: the tests, by name. */
#include <string.h>

#include "perf.h"

const struct perf_test_info perf_tests[PERF_NTESTS] = {
	/* Sizes as perftest's defaults; an RPC rate is a message rate. */
	[PERF_PUT_LAT] = { "put_lat", "RDMA write latency (ping-pong, half round trip)", 0, 1, 2 },
	[PERF_GET_LAT] = { "get_lat", "RDMA read latency (full round trip)", 0, 0, 2 },
	[PERF_SEND_LAT] = { "send_lat", "send/recv latency (ping-pong, half round trip)", 0, 1, 2 },
	[PERF_RPC_LAT] = { "rpc_lat", "RPC latency (full round trip)", 0, 0, 2 },
	[PERF_PUT_BW] = { "put_bw", "RDMA write bandwidth", 1, 0, 65536 },
	[PERF_GET_BW] = { "get_bw", "RDMA read bandwidth", 1, 0, 65536 },
	[PERF_SEND_BW] = { "send_bw", "send/recv bandwidth", 1, 0, 65536 },
	[PERF_RPC_RATE] = { "rpc_rate", "RPC rate", 1, 0, 8 },
};

int perf_test_by_name(const char *name)
{
	int i;

	for (i = 0; i < PERF_NTESTS; i++)
		if (!strcmp(name, perf_tests[i].name))
			return i;
	return -1;
}
