// SPDX-License-Identifier: BSD-2-Clause
/*
 * rmx-bench-uffd-watch: what one userfaultfd watch costs while many other
 * ranges are watched, with the mapping classified by PROCMAP_QUERY (Linux
 * 6.11+) and by scanning /proc/self/maps. Each watched range is one page
 * with an unwatched page after it, so each splits a mapping: the maps
 * file, and the number of mappings, grow with them. The scan reads the
 * file up to the range, so it is timed for a range before the watched
 * ones in the file (lower addresses) and for one after them.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "bench_time.h"
#include "mem/monitor_uffd.h"

#define NCOUNTS 3

static const size_t counts[NCOUNTS] = { 16, 1000, 16000 };

struct opts {
	unsigned int iters;	/* timed watches per measurement */
	bool json;
};

static uintptr_t page;

static void on_invalidate(void *arg, uintptr_t start, uintptr_t end)
{
}

/* Whether this kernel answers PROCMAP_QUERY (struct procmap_query: 104 B). */
static bool has_procmap_query(void)
{
	uint64_t q[13] = { sizeof(q) };
	int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC), ok;

	if (fd < 0)
		return false;
	q[2] = (uintptr_t)&q;	/* query_addr: the stack */
	ok = !ioctl(fd, _IOWR('f', 17, uint64_t[13]), q);
	close(fd);
	return ok;
}

static size_t lines_of(const char *path)
{
	char buf[65536];
	size_t n = 0;
	ssize_t got, i;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return 0;
	while ((got = read(fd, buf, sizeof(buf))) > 0)
		for (i = 0; i < got; i++)
			n += buf[i] == '\n';
	close(fd);
	return n;
}

static char *map_anon(size_t len)
{
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

static long max_map_count(void)
{
	FILE *f = fopen("/proc/sys/vm/max_map_count", "re");
	long n = -1;

	if (f) {
		if (fscanf(f, "%ld", &n) != 1)
			n = -1;
		fclose(f);
	}
	return n;
}

/* Times iters watches of fresh pages, each unwatched again untimed. */
static int measure(struct rmx__uffd_monitor *m, char *probe,
		   const struct opts *o, double *samples, double *median,
		   double *p99)
{
	uintptr_t at;
	uint64_t t0;
	unsigned int i;
	int ret;

	for (i = 0; i < o->iters; i++) {
		at = (uintptr_t)probe + 2 * i * page;
		t0 = now_ns();
		ret = rmx__uffd_monitor_watch(m, at, at + page);
		samples[i] = (double)(now_ns() - t0);
		if (ret)
			return ret;
		rmx__uffd_monitor_unwatch(m, at, at + page);
	}
	qsort(samples, o->iters, sizeof(*samples), cmp_double);
	*median = samples[o->iters / 2];
	*p99 = samples[(size_t)o->iters * 99 / 100];
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: rmx-bench-uffd-watch [--json] [--iters N]\n"
		"  --json     one JSON object per line\n"
		"  --iters N  timed watches per measurement (default 200)\n");
}

static int parse_args(int argc, char **argv, struct opts *o)
{
	char *end;
	int i;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json")) {
			o->json = true;
		} else if (!strcmp(argv[i], "--iters") && i + 1 < argc) {
			o->iters = (unsigned int)strtoul(argv[++i], &end, 10);
			if (*end || !o->iters)
				return -EINVAL;
		} else {
			return -EINVAL;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const char *const how[2] = { "procmap_query", "maps_scan" };
	struct opts o = { .iters = 200 };
	struct rmx__uffd_monitor *m;
	double *samples, median, p99;
	size_t c, watched = 0, maps, plen;
	struct utsname u;
	char *arena, *probe[2];	/* below, above the arena */
	bool query = has_procmap_query();
	int ret, mode, side;

	if (parse_args(argc, argv, &o)) {
		usage(stderr);
		return 2;
	}
	page = (uintptr_t)sysconf(_SC_PAGESIZE);
	samples = calloc(o.iters, sizeof(*samples));
	plen = 2 * o.iters * page;
	probe[1] = map_anon(plen);
	arena = map_anon(2 * counts[NCOUNTS - 1] * page);
	probe[0] = map_anon(plen);
	if (!samples || !arena || !probe[0] || !probe[1]) {
		fprintf(stderr, "rmx-bench-uffd-watch: out of memory\n");
		return 1;
	}
	/* mmap hands out addresses top down, as a rule: make sure. */
	if (probe[0] > probe[1]) {
		char *t = probe[0];

		probe[0] = probe[1];
		probe[1] = t;
	}
	ret = rmx__uffd_monitor_create(on_invalidate, NULL, &m);
	if (ret) {
		fprintf(stderr, "rmx-bench-uffd-watch: userfaultfd: %s\n",
			strerror(-ret));
		return 1;
	}
	uname(&u);
	if (!o.json) {
		printf("kernel %s, PROCMAP_QUERY %s, vm.max_map_count %ld\n",
		       u.release, query ? "yes" : "no (both rows scan)",
		       max_map_count());
		printf("%-14s %-6s %8s %8s %12s %12s\n", "classify", "range",
		       "watched", "mappings", "median_us", "p99_us");
	}
	for (c = 0; c < NCOUNTS; c++) {
		rmx__uffd_monitor_scan_maps(false);
		for (; watched < counts[c]; watched++) {
			uintptr_t at = (uintptr_t)arena + 2 * watched * page;

			ret = rmx__uffd_monitor_watch(m, at, at + page);
			if (ret)
				break;
		}
		maps = lines_of("/proc/self/maps");
		for (mode = 0; mode < 4 && !ret; mode++) {
			side = mode % 2;
			rmx__uffd_monitor_scan_maps(mode / 2);
			ret = measure(m, probe[side], &o, samples, &median,
				      &p99);
			if (ret)
				break;
			if (o.json)
				printf("{\"bench\":\"uffd_watch\",\"classify\":\"%s\",\"range\":\"%s\",\"watched\":%zu,\"mappings\":%zu,\"median_ns\":%.0f,\"p99_ns\":%.0f,\"kernel\":\"%s\",\"procmap_query\":%s}\n",
				       how[mode / 2], side ? "after" : "before",
				       watched, maps, median, p99, u.release,
				       query ? "true" : "false");
			else
				printf("%-14s %-6s %8zu %8zu %12.1f %12.1f\n",
				       how[mode / 2], side ? "after" : "before",
				       watched, maps, median / 1e3, p99 / 1e3);
		}
		if (ret) {
			fprintf(stderr, "rmx-bench-uffd-watch: watch: %s\n",
				strerror(-ret));
			break;
		}
	}
	rmx__uffd_monitor_destroy(m);
	munmap(probe[0], plen);
	munmap(probe[1], plen);
	munmap(arena, 2 * counts[NCOUNTS - 1] * page);
	free(samples);
	return ret ? 1 : 0;
}
