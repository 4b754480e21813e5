/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Bootstrap modules: what a job needs from the launcher that started its
 * ranks. A module is a shared object loaded at rmx_job_init() time, so
 * librmx itself never links the launcher's library (PMIx): the module
 * exports one struct rmx__boot_ops named by RMX__BOOT_SYMBOL.
 *
 * Errors are negative errnos; a module says why through the log
 * function it is given. Nothing here blocks except init, get and the
 * fence, which completes through a callback (from any thread) so the
 * caller can keep progressing its connections meanwhile.
 */
#ifndef RMX_JOB_BOOT_H
#define RMX_JOB_BOOT_H

#include <stddef.h>
#include <stdint.h>

#define RMX__BOOT_ABI 1
#define RMX__BOOT_SYMBOL "rmx__boot_module"

struct rmx__boot;

/* level: RMX__LOG_* of core/log.h. */
typedef void (*rmx__boot_log_fn)(int level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Runs once per fence, from any thread; status 0 or a negative errno. */
typedef void (*rmx__boot_done_fn)(void *arg, int status);

struct rmx__boot_ops {
	uint32_t abi;		/* RMX__BOOT_ABI */
	const char *name;	/* "pmix" */

	/*
	 * Connects to the launcher. -ENOENT when the process was not
	 * started by one (nothing to connect to).
	 */
	int (*init)(rmx__boot_log_fn log, struct rmx__boot **out);
	void (*fini)(struct rmx__boot *b);

	uint32_t (*rank)(const struct rmx__boot *b);
	uint32_t (*size)(const struct rmx__boot *b);
	/* The job's name, unique among jobs running at once. */
	const char *(*job_id)(const struct rmx__boot *b);
	/* Ranks on this node, ascending; *ranks is freed with free(). */
	int (*local_ranks)(struct rmx__boot *b, uint32_t **ranks, size_t *n);

	/* Publishes key, readable by every rank after the next fence. */
	int (*put)(struct rmx__boot *b, const char *key, const void *val,
		   size_t len);
	/*
	 * Starts a fence of all ranks; with collect, what each put before
	 * it becomes readable by all after it.
	 */
	int (*fence)(struct rmx__boot *b, int collect, rmx__boot_done_fn done,
		     void *arg);
	/* Reads rank's key into buf (cap bytes); *len gets its size. */
	int (*get)(struct rmx__boot *b, uint32_t rank, const char *key,
		   void *buf, size_t cap, size_t *len);
};

#endif
