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

#include "perf.h"

static void usage(FILE *f)
{
	int i;

	fprintf(f, "usage: rmx-perf -t TEST [OPTIONS]            server\n"
		   "       rmx-perf -t TEST [OPTIONS] SERVER     client\n"
		   "  -t, --test TEST       ");
	for (i = 0; i < PERF_NTESTS; i++)
		fprintf(f, "%s%s", i ? " " : "", perf_tests[i].name);
	fprintf(f, "\n"
		   "  -s, --size BYTES      message size, K/M/G suffixes (default 2, BW tests 65536)\n"
		   "  -a, --all             all sizes from 2 B to 8 MiB, powers of two\n"
		   "  -n, --iters N         iterations per size (default 1000, BW tests 5000)\n"
		   "  -D, --duration SEC    run each size for SEC seconds instead\n"
		   "  -q, --tx-depth N      outstanding operations of BW tests (max %d; default %d,\n"
		   "                        fewer for large sizes: at most 16 MiB in flight)\n"
		   "  -d, --ib-dev DEV      RDMA device (sets RMX_DEVICE)\n"
		   "  -p, --port PORT       port of the server (default %d)\n"
		   "      --json            one JSON object per size instead of the table\n"
		   "  -h, --help            this text\n",
		PERF_MAX_WINDOW, PERF_DEF_WINDOW, PERF_DEF_PORT);
}

static int bad(const char *what, const char *arg, const char *range)
{
	fprintf(stderr, "rmx-perf: invalid %s '%s'%s%s\n"
		"Try 'rmx-perf -h' for the options.\n", what, arg,
		range ? ": " : "", range ? range : "");
	return 2;
}

/* Whole number in [min, max] with an optional binary K/M/G suffix. */
static int parse_num(const char *s, int suffix, unsigned long long min,
		     unsigned long long max, unsigned long long *out)
{
	unsigned long long v, mul = 1;
	char *end;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -EINVAL;
	if (suffix && *end) {
		switch (*end++) {
		case 'k': case 'K': mul = 1ULL << 10; break;
		case 'm': case 'M': mul = 1ULL << 20; break;
		case 'g': case 'G': mul = 1ULL << 30; break;
		default: return -EINVAL;
		}
	}
	if (*end || v > max / mul || v * mul < min)
		return -EINVAL;
	*out = v * mul;
	return 0;
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
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct perf_opts o = {
		.test = -1,
		.port = PERF_DEF_PORT,
		.window = PERF_DEF_WINDOW,
	};
	unsigned long long v;
	char *end;
	int opt;

	while ((opt = getopt_long(argc, argv, "t:s:an:D:q:d:p:h", longopts,
				  NULL)) != -1) {
		switch (opt) {
		case 't':
			o.test = perf_test_by_name(optarg);
			if (o.test < 0)
				return bad("test", optarg,
					   "see -h for the tests");
			break;
		case 's':
			if (parse_num(optarg, 1, 1, PERF_MAX_SIZE, &v))
				return bad("size", optarg,
					   "1 to 1G bytes, with an optional K, M or G");
			o.size = v;
			break;
		case 'a':
			o.all = 1;
			break;
		case 'n':
			if (parse_num(optarg, 0, 1, 1000000000, &v))
				return bad("iteration count", optarg,
					   "1 to 1000000000");
			o.iters = v;
			break;
		case 'D':
			errno = 0;
			o.duration = strtod(optarg, &end);
			if (errno || end == optarg || *end ||
			    !(o.duration > 0 && o.duration <= 86400))
				return bad("duration", optarg,
					   "seconds, more than 0 and at most 86400");
			break;
		case 'q':
			if (parse_num(optarg, 0, 1, PERF_MAX_WINDOW, &v))
				return bad("tx depth", optarg,
					   "1 to 1024 operations");
			o.window = (int)v;
			o.window_set = 1;
			break;
		case 'd':
			if (!*optarg || strlen(optarg) > 63)
				return bad("device name", optarg,
					   "1 to 63 characters");
			o.device = optarg;
			break;
		case 'p':
			if (parse_num(optarg, 0, 1, 65535, &v))
				return bad("port", optarg, "1 to 65535");
			o.port = (int)v;
			break;
		case OPT_JSON:
			o.json = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			fprintf(stderr, "Try 'rmx-perf -h' for the options.\n");
			return 2;
		}
	}
	if (argc - optind > 1) {
		fprintf(stderr, "rmx-perf: one server address at most, got '%s' and '%s'\n"
			"Try 'rmx-perf -h' for the options.\n",
			argv[optind], argv[optind + 1]);
		return 2;
	}
	if (optind < argc)
		o.server = argv[optind];
	if (o.all && o.size) {
		fprintf(stderr, "rmx-perf: -a and -s exclude each other\n");
		return 2;
	}
	if (o.iters && o.duration) {
		fprintf(stderr, "rmx-perf: -n and -D exclude each other\n");
		return 2;
	}
	if (o.server && o.test < 0) {
		fprintf(stderr, "rmx-perf: the client needs a test: -t TEST (see -h)\n");
		return 2;
	}
	if (o.server && !*o.server) {
		fprintf(stderr, "rmx-perf: empty server address\n");
		return 2;
	}
	/* The device is chosen inside rmx_context_create(), from the environment. */
	if (o.device && setenv("RMX_DEVICE", o.device, 1)) {
		perf_err("setenv RMX_DEVICE: %s", strerror(errno));
		return 1;
	}
	perf_clock_init();
	return o.server ? perf_client(&o) : perf_server(&o);
}
