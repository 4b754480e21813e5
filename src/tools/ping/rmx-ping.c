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

#include "common/args.h"
#include "common/msg.h"
#include "native.h"
#include "ping.h"
#include "rping.h"

const char tool_name[] = "rmx-ping";
volatile sig_atomic_t ping_stop;

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

/* The numeric options but -S, whose range depends on the mode. */
static const struct tool_num port_opt = {
	"-p", "port", NULL, 1, 65535, false };
static const struct tool_num count_opt = {
	"-C", "count", NULL, 0, INT_MAX, false };
static const struct tool_num timeout_opt = {
	"--timeout", "timeout", "ms", 1, 3600000, false };

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
	struct tool_num size_opt = {
		.opt = "-S", .what = "size", .unit = "bytes" };
	int native = 0, opt, ret;
	uint64_t v;

	while ((opt = getopt_long(argc, argv, "sca:I:p:C:S:vVdPh", longopts,
				  NULL)) != -1) {
		switch (opt) {
		case 's':
		case 'c':
			if (o.server != -1 && o.server != (opt == 's')) {
				tool_usage_err("-s and -c exclude each other");
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
			if (tool_parse_num(&port_opt, optarg, &v))
				return 2;
			o.port = (int)v;
			break;
		case 'C':
			if (tool_parse_num(&count_opt, optarg, &v))
				return 2;
			o.count = (long)v;
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
			if (tool_parse_num(&timeout_opt, optarg, &v))
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
		tool_usage_err("unexpected argument \"%s\"", argv[optind]);
		return 2;
	}
	if (o.server == -1) {
		tool_err("one of -s (server) or -c (client) is required");
		usage(stderr);
		return 2;
	}
	if (!o.server && !o.addr) {
		tool_usage_err("the client needs the server's address (-a)");
		return 2;
	}
	if (!o.server && o.persistent) {
		tool_usage_err("-P is for the server (-s)");
		return 2;
	}
	if (o.server && o.src) {
		tool_usage_err("-I is for the client (-c); the server binds -a");
		return 2;
	}
	if (size_arg) {
		size_opt.min = native ? 1 : RPING_MIN_SIZE;
		size_opt.max = native ? NATIVE_MAX_SIZE : RPING_MAX_SIZE;
		if (tool_parse_num(&size_opt, size_arg, &v))
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
