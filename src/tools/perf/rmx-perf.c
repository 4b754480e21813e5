// SPDX-License-Identifier: BSD-2-Clause
/*
 * rmx-perf: perftest-like latency and bandwidth benchmarks of rmx's RDMA
 * write and read, messages and RPC. Without an address it is the server,
 * with one the client, which drives both sides. Links the public API only.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/args.h"
#include "common/msg.h"
#include "perf.h"
#include "timer.h"

const char tool_name[] = "rmx-perf";

/* What each numeric option takes. */
static const struct tool_num size_opt = {
	"-s", "size", "bytes", 1, PERF_MAX_SIZE, true };
static const struct tool_num iters_opt = {
	"-n", "iteration count", NULL, 1, 1000000000, false };
static const struct tool_num window_opt = {
	"-q", "tx depth", "operations", 1, PERF_MAX_WINDOW, false };
static const struct tool_num port_opt = {
	"-p", "port", NULL, 1, 65535, false };
static const struct tool_num gid_opt = {
	"-x", "GID index", NULL, 0, 255, false };

static void usage(FILE *f)
{
	int i;

	fprintf(f, "usage: rmx-perf -t TEST [OPTIONS]            server\n"
		   "       rmx-perf -t TEST [OPTIONS] SERVER     client\n"
		   "  -t, --test TEST       ");
	for (i = 0; i < PERF_NTESTS; i++)
		fprintf(f, "%s%s", i ? " " : "", perf_tests[i].name);
	fprintf(f, "\n"
		   "  -s, --size BYTES      message size, K/M/G suffixes (default 2, BW tests 65536,\n"
		   "                        rpc_rate 8)\n"
		   "  -a, --all             all sizes from 2 B to 8 MiB, powers of two\n"
		   "  -n, --iters N         iterations per size (default 1000, BW tests 5000)\n"
		   "  -D, --duration SEC    run each size for SEC seconds instead\n"
		   "  -q, --tx-depth N      outstanding operations of BW tests (max %d; default %d,\n"
		   "                        fewer for large sizes: at most 16 MiB in flight)\n"
		   "  -d, --ib-dev DEV      RDMA device (sets RMX_DEVICE)\n"
		   "  -p, --port PORT       port of the server (default %d)\n"
		   "      --json            one JSON object per size instead of the table\n"
		   "  -x, --gid-index N, -F, --CPU-freq, -R, --rdma_cm\n"
		   "                        perftest's, accepted so its command lines run: rmx\n"
		   "                        always connects with rdma_cm, which picks the GID\n"
		   "                        from the address, and never checks the CPU clock\n"
		   "  -h, --help            this text\n",
		PERF_MAX_WINDOW, PERF_DEF_WINDOW, PERF_DEF_PORT);
}

static int bad_test(const char *arg)
{
	char names[256] = "";
	size_t o = 0;
	int i;

	for (i = 0; i < PERF_NTESTS && o < sizeof(names); i++)
		o += snprintf(names + o, sizeof(names) - o, "%s%s",
			      i ? ", " : "", perf_tests[i].name);
	tool_usage_err("invalid test '%s' for -t: give one of %s", arg, names);
	return 2;
}

int main(int argc, char **argv)
{
	enum { OPT_JSON = 256 };
	static const struct option longopts[] = {
		{ "test", required_argument, NULL, 't' },
		{ "size", required_argument, NULL, 's' },
		{ "all", no_argument, NULL, 'a' },
		{ "iters", required_argument, NULL, 'n' },
		{ "duration", required_argument, NULL, 'D' },
		{ "tx-depth", required_argument, NULL, 'q' },
		{ "ib-dev", required_argument, NULL, 'd' },
		{ "port", required_argument, NULL, 'p' },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "gid-index", required_argument, NULL, 'x' },
		{ "CPU-freq", no_argument, NULL, 'F' },
		{ "rdma_cm", no_argument, NULL, 'R' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct perf_opts o = {
		.test = -1,
		.port = PERF_DEF_PORT,
		.window = PERF_DEF_WINDOW,
	};
	uint64_t v;
	int opt;

	while ((opt = getopt_long(argc, argv, "t:s:an:D:q:d:p:x:FRh", longopts,
				  NULL)) != -1) {
		switch (opt) {
		case 't':
			o.test = perf_test_by_name(optarg);
			if (o.test < 0)
				return bad_test(optarg);
			break;
		case 's':
			if (tool_parse_num(&size_opt, optarg, &v))
				return 2;
			o.size = v;
			break;
		case 'a':
			o.all = 1;
			break;
		case 'n':
			if (tool_parse_num(&iters_opt, optarg, &v))
				return 2;
			o.iters = v;
			break;
		case 'D':
			if (tool_parse_seconds("-D", "duration", optarg, 86400,
					       &o.duration))
				return 2;
			break;
		case 'q':
			if (tool_parse_num(&window_opt, optarg, &v))
				return 2;
			o.window = (int)v;
			o.window_set = 1;
			break;
		case 'd':
			if (!*optarg || strlen(optarg) > 63) {
				tool_usage_err("invalid device name '%s' for -d: give 1 to 63 characters",
					       optarg);
				return 2;
			}
			o.device = optarg;
			break;
		case 'p':
			if (tool_parse_num(&port_opt, optarg, &v))
				return 2;
			o.port = (int)v;
			break;
		case OPT_JSON:
			o.json = 1;
			break;
		case 'x':
			/* Checked, then left to rdma_cm (see the usage). */
			if (tool_parse_num(&gid_opt, optarg, &v))
				return 2;
			break;
		case 'F':
		case 'R':
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			fprintf(stderr, "Try '%s -h' for the options.\n",
				tool_name);
			return 2;
		}
	}
	if (argc - optind > 1) {
		tool_usage_err("one server address at most, got '%s' and '%s'",
			       argv[optind], argv[optind + 1]);
		return 2;
	}
	if (optind < argc)
		o.server = argv[optind];
	if (o.all && o.size) {
		tool_usage_err("-a and -s exclude each other");
		return 2;
	}
	if (o.iters && o.duration) {
		tool_usage_err("-n and -D exclude each other");
		return 2;
	}
	if (o.server && o.test < 0) {
		tool_usage_err("the client needs a test: -t TEST");
		return 2;
	}
	if (o.server && !*o.server) {
		tool_usage_err("empty server address");
		return 2;
	}
	/* The device is chosen inside rmx_context_create(), from the environment. */
	if (o.device && setenv("RMX_DEVICE", o.device, 1)) {
		tool_err("setenv RMX_DEVICE: %s", strerror(errno));
		return 1;
	}
	perf_timer_init();
	return o.server ? perf_client(&o) : perf_server(&o);
}
