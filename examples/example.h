/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * What the examples share: joining the job, failing loudly, timing and
 * the byte patterns every example checks.
 */
#ifndef RMX_EXAMPLE_H
#define RMX_EXAMPLE_H

#include <stddef.h>
#include <stdint.h>

#include <rmx/rmx.h>

struct example {
	rmx_context_t *ctx;
	rmx_job_t *job;
	uint32_t rank, size;
	const char *name;
};

/* Prints "NAME rank R: what: error" and exits 1. */
void ex_die(const struct example *ex, const char *what, int err)
	__attribute__((noreturn));
/* The same for a wrong byte, naming where. */
void ex_bad_byte(const struct example *ex, const char *what, size_t off,
		 unsigned int got, unsigned int want) __attribute__((noreturn));

/* Context and job; dies unless the job has at least min_size ranks. */
void ex_start(struct example *ex, const char *name, int argc, char **argv,
	      uint32_t min_size, unsigned int *iters);
void ex_finish(struct example *ex);

/* Progresses until *count reaches want. */
void ex_wait(const struct example *ex, const int *count, int want);

/* The byte at off that rank wrote in iteration iter. */
static inline uint8_t ex_pattern(uint32_t rank, uint32_t iter, size_t off)
{
	return (uint8_t)(rank * 131u + iter * 31u + off * 7u + (off >> 9));
}

void ex_fill(void *buf, size_t len, uint32_t rank, uint32_t iter);
/* Checks every byte; dies at the first wrong one. */
void ex_check(const struct example *ex, const char *what, const void *buf,
	      size_t len, uint32_t rank, uint32_t iter);

double ex_now_us(void);

/* Rank 0 prints one line per iteration: its time and the slowest rank's. */
void ex_report(const struct example *ex, unsigned int iter, double us,
	       size_t bytes);

/* A completion counter for rmx_comp_cb: dies on an error status. */
struct ex_count {
	const struct example *ex;
	const char *what;
	int n;
};
void ex_counted(void *arg, int status, size_t len);

#endif
