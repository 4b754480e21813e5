// SPDX-License-Identifier: BSD-2-Clause
/*
 * rmx-ping: connection and data-path check between two hosts. By default
 * it speaks rdma-core's rping protocol (rping_run.c), so either end may be
 * rping; with --rmx both ends run rmx and each ping is an rmx RPC echo
 * (native.c). This file reads the command line and picks the mode.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ping.h"
#include "native.h"
#include "rping.h"

volatile sig_atomic_t ping_stop;

void ping_fill(char *buf, size_t size, long seq)
{
	static const int first = 'A', last = 'z';
	int start = first + (int)(seq % (last - first + 1));
	size_t i;
	int n, c;

	if (!size)
		return;
	n = snprintf(buf, size, "rdma-ping-%ld: ", seq);
	for (i = (size_t)n, c = start; n >= 0 && i < size; i++) {
		buf[i] = (char)c;
		if (++c > last)
			c = first;
	}
	buf[size - 1] = '\0';
}

static void on_signal(int sig)
{
	(void)sig;
	ping_stop = 1;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: rmx-ping -s [-vVdP] [--rmx] [-S size] [-C count] [-a addr] [-p port]\n"
		"       rmx-ping -c [-vVd] [--rmx] [-S size] [-C count] [-I addr] -a addr [-p port]\n"
		"  -s          server\n"
		"  -c          client\n"
		"  -a addr     server: address to listen on (default: all);\n"
		"              client: server address (required)\n"
		"  -I addr     client: source address to bind to\n"
		"  -p port     port (default %d)\n"
		"  -C count    pings per connection (default 0: until interrupted)\n"
		"  -S size     ping data size in bytes (default %d; %d..%d, with --rmx 1..%d)\n"
		"  -v          print ping data\n"
		"  -V          verify ping data\n"
		"  -d          debug output\n"
		"  -P          persistent server: serve clients until killed\n"
		"  --rmx       ping with rmx RPCs instead of rping's protocol\n"
		"  --timeout ms  longest wait for the peer (default %d)\n"
		"  -h, --help  this text\n",
		PING_DEFAULT_PORT, PING_DEFAULT_SIZE, RPING_MIN_SIZE,
		RPING_MAX_SIZE, NATIVE_MAX_SIZE, PING_DEFAULT_TIMEOUT_MS);
}

/* Whole decimal number in [min, max], or -1 with a message. */
static int parse_num(const char *opt, const char *s, long min, long max,
		     long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max) {
		fprintf(stderr, "rmx-ping: invalid %s \"%s\" (valid range is %ld to %ld)\n",
			opt, s, min, max);
		return -1;
	}
	*out = v;
	return 0;
}

int main(int argc, char **argv)
{
	enum { OPT_RMX = 256, OPT_TIMEOUT };
	static const struct option longopts[] = {
		{ "rmx", no_argument, NULL, OPT_RMX },
		{ "timeout", required_argument, NULL, OPT_TIMEOUT },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct ping_opts o = {
		.server = -1,
		.port = PING_DEFAULT_PORT,
		.size = PING_DEFAULT_SIZE,
		.timeout_ms = PING_DEFAULT_TIMEOUT_MS,
	};
	const char *size_arg = NULL;
	struct sigaction sa = { .sa_handler = on_signal };
	int native = 0, opt, ret;
	long v;

	while ((opt = getopt_long(argc, argv, "sca:I:p:C:S:vVdPh", longopts,
				  NULL)) != -1) {
		switch (opt) {
		case 's':
		case 'c':
			if (o.server != -1 && o.server != (opt == 's')) {
				fprintf(stderr, "rmx-ping: -s and -c exclude each other\n");
				return 2;
			}
			o.server = opt == 's';
			break;
		case 'a':
			o.addr = optarg;
			break;
		case 'I':
			o.src = optarg;
			break;
		case 'p':
			if (parse_num("port", optarg, 1, 65535, &v))
				return 2;
			o.port = (int)v;
			break;
		case 'C':
			if (parse_num("count", optarg, 0, INT_MAX, &v))
				return 2;
			o.count = v;
			break;
		case 'S':
			size_arg = optarg;	/* its range depends on the mode */
			break;
		case 'v':
			o.verbose = 1;
			break;
		case 'V':
			o.validate = 1;
			break;
		case 'd':
			o.debug = 1;
			break;
		case 'P':
			o.persistent = 1;
			break;
		case OPT_RMX:
			native = 1;
			break;
		case OPT_TIMEOUT:
			if (parse_num("timeout", optarg, 1, 3600000, &v))
				return 2;
			o.timeout_ms = (int)v;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "rmx-ping: unexpected argument \"%s\"\n",
			argv[optind]);
		return 2;
	}
	if (o.server == -1) {
		fprintf(stderr, "rmx-ping: one of -s (server) or -c (client) is required\n");
		usage(stderr);
		return 2;
	}
	if (!o.server && !o.addr) {
		fprintf(stderr, "rmx-ping: the client needs the server's address (-a)\n");
		return 2;
	}
	if (!o.server && o.persistent) {
		fprintf(stderr, "rmx-ping: -P is for the server (-s)\n");
		return 2;
	}
	if (o.server && o.src) {
		fprintf(stderr, "rmx-ping: -I is for the client (-c); the server binds -a\n");
		return 2;
	}
	if (native && o.src) {
		fprintf(stderr, "rmx-ping: -I is not supported with --rmx\n");
		return 2;
	}
	if (size_arg) {
		if (native ? parse_num("size", size_arg, 1, NATIVE_MAX_SIZE, &v) :
			     parse_num("size", size_arg, RPING_MIN_SIZE,
				       RPING_MAX_SIZE, &v))
			return 2;
		o.size = (size_t)v;
	}

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	/* Output goes line by line even into a pipe, as rping's does. */
	setvbuf(stdout, NULL, _IOLBF, 0);

	ret = native ? ping_native_run(&o) : ping_rping_run(&o);
	return ret ? 1 : 0;
}
