// SPDX-License-Identifier: BSD-2-Clause
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "example.h"

void ex_die(const struct example *ex, const char *what, int err)
{
	if (ex->job)
		fprintf(stderr, "%s rank %u: %s: %s\n", ex->name, ex->rank,
			what, rmx_strerror(err));
	else
		fprintf(stderr, "%s: %s: %s\n", ex->name, what,
			rmx_strerror(err));
	exit(1);
}

void ex_bad_byte(const struct example *ex, const char *what, size_t off,
		 unsigned int got, unsigned int want)
{
	fprintf(stderr, "%s rank %u: %s: byte %zu is 0x%02x, want 0x%02x\n",
		ex->name, ex->rank, what, off, got, want);
	exit(1);
}

void ex_start(struct example *ex, const char *name, int argc, char **argv,
	      uint32_t min_size, unsigned int *iters)
{
	int ret;

	memset(ex, 0, sizeof(*ex));
	ex->name = name;
	if (argc > 1) {
		char *end;
		unsigned long v = strtoul(argv[1], &end, 10);

		if (*end || !v || v > 1000000) {
			fprintf(stderr, "usage: %s [ITERATIONS]\n", name);
			exit(2);
		}
		*iters = (unsigned int)v;
	}
	ret = rmx_context_create(&ex->ctx);
	if (ret)
		ex_die(ex, "rmx_context_create", ret);
	ret = rmx_job_init(ex->ctx, 0, &ex->job);
	if (ret)
		ex_die(ex, "rmx_job_init", ret);
	ex->rank = rmx_job_rank(ex->job);
	ex->size = rmx_job_size(ex->job);
	if (ex->size < min_size) {
		fprintf(stderr, "%s: needs at least %u ranks, has %u\n", name,
			min_size, ex->size);
		exit(2);
	}
}

void ex_finish(struct example *ex)
{
	int ret = rmx_job_barrier(ex->job);

	if (ret)
		ex_die(ex, "rmx_job_barrier", ret);
	if (ex->rank == 0)
		printf("%s: %u ranks, every byte checked: ok\n", ex->name,
		       ex->size);
	rmx_job_fini(ex->job);
	rmx_context_destroy(ex->ctx);
}

void ex_wait(const struct example *ex, const int *count, int want)
{
	while (*count < want) {
		int ret = rmx_wait(ex->ctx, 1000);

		if (ret < 0)
			ex_die(ex, "rmx_wait", ret);
	}
}

void ex_fill(void *buf, size_t len, uint32_t rank, uint32_t iter)
{
	uint8_t *b = buf;
	size_t i;

	for (i = 0; i < len; i++)
		b[i] = ex_pattern(rank, iter, i);
}

void ex_check(const struct example *ex, const char *what, const void *buf,
	      size_t len, uint32_t rank, uint32_t iter)
{
	const uint8_t *b = buf;
	size_t i;

	for (i = 0; i < len; i++)
		if (b[i] != ex_pattern(rank, iter, i))
			ex_bad_byte(ex, what, i, b[i],
				    ex_pattern(rank, iter, i));
}

double ex_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

void ex_report(const struct example *ex, unsigned int iter, double us,
	       size_t bytes)
{
	double *all = malloc(sizeof(double) * ex->size), worst = 0;
	uint32_t r;
	int ret;

	if (!all)
		ex_die(ex, "malloc", -ENOMEM);
	ret = rmx_job_allgather(ex->job, &us, sizeof(us), all);
	if (ret)
		ex_die(ex, "rmx_job_allgather", ret);
	for (r = 0; r < ex->size; r++)
		if (all[r] > worst)
			worst = all[r];
	if (ex->rank == 0)
		printf("%s: iteration %u: %zu bytes, rank 0 %.1f us, slowest rank %.1f us\n",
		       ex->name, iter, bytes, us, worst);
	fflush(stdout);
	free(all);
}

void ex_counted(void *arg, int status, size_t len)
{
	struct ex_count *c = arg;

	(void)len;
	if (status)
		ex_die(c->ex, c->what, status);
	c->n++;
}
