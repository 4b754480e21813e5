// SPDX-License-Identifier: BSD-2-Clause
/*
 * rmx-info: what rmx would find on this host: each RDMA device with its
 * ports, GIDs and the limits rmx depends on, the userfaultfd and
 * locked-memory facts behind its registration cache, and every RMX_*
 * knob with its value. A diagnostic: it reports what fails and carries on.
 *
 * Devices are probed with libibverbs directly, as the public API does not
 * describe devices; the knobs and version come from the library, and so
 * does every choice rmx makes (rcache.c), from rmx contexts.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/msg.h"
#include "report.h"

const char tool_name[] = "rmx-info";

static void usage(FILE *f)
{
	fprintf(f, "usage: rmx-info [-j|--json] [-d|--device DEV]\n"
		   "  -j, --json        print one JSON object instead of text\n"
		   "  -d, --device DEV  describe only the RDMA device DEV\n"
		   "  -h, --help        this text\n");
}

/* 0 unless every device asked for failed to open (or DEV is not there). */
static int probe_devices(struct info_report *r)
{
	struct ibv_device **list;
	struct info_dev *d;
	int n = 0, i, opened = 0;

	errno = 0;
	list = ibv_get_device_list(&n);
	/* No RDMA stack at all is a host without devices, not a failure. */
	if (!list) {
		if (errno && errno != ENOSYS && errno != ENOENT)
			info_err(&r->errs, "ibv_get_device_list: %s",
				 strerror(errno));
		n = 0;
	}
	r->nfound = n;
	r->devs = calloc(n ? n : 1, sizeof(*r->devs));
	if (!r->devs) {
		info_err(&r->errs, "out of memory");
		ibv_free_device_list(list);
		return -ENOMEM;
	}
	for (i = 0; i < n; i++) {
		if (r->only && strcmp(ibv_get_device_name(list[i]), r->only))
			continue;
		d = &r->devs[r->ndevs++];
		if (info_dev_probe(list[i], d))
			continue;
		opened++;
		if (d->attr_ok)
			info_rcache_probe(d);
	}
	if (list)
		ibv_free_device_list(list);
	if (r->only && !r->ndevs) {
		info_err(&r->errs, "no RDMA device named %s", r->only);
		return -ENODEV;
	}
	if (r->ndevs && !opened) {
		info_err(&r->errs, "no RDMA device could be opened");
		return -ENODEV;
	}
	return 0;
}

static int list_knobs(struct info_report *r)
{
	struct rmx_knob k;
	size_t n = 0;

	while (!rmx_knob_get(n, &k))
		n++;
	r->knobs = calloc(n ? n : 1, sizeof(*r->knobs));
	if (!r->knobs) {
		info_err(&r->errs, "out of memory");
		return -ENOMEM;
	}
	for (r->nknobs = 0; r->nknobs < n; r->nknobs++)
		if (rmx_knob_get(r->nknobs, &r->knobs[r->nknobs]))
			break;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "device", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct info_report r = { 0 };
	int json = 0, opt, ret, out;

	while ((opt = getopt_long(argc, argv, "jd:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'j':
			json = 1;
			break;
		case 'd':
			r.only = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 1;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 1;
	}
	r.version = rmx_version(NULL, NULL, NULL);
	ret = probe_devices(&r);
	info_monitor_probe(&r);
	info_host_probe(&r.host);
	if (list_knobs(&r))
		ret = -ENOMEM;
	out = json ? info_print_json(stdout, &r) : info_print_text(stdout, &r);
	if (out) {
		tool_err("writing the report: %s", strerror(-out));
		ret = out;
	} else if (ret) {
		/* The report says why; say it where scripts look, too. */
		tool_err("%s", r.errs.msg[r.errs.n - 1]);
	}
	info_report_free(&r);
	return ret ? 1 : 0;
}
