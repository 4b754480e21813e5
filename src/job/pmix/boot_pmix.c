// SPDX-License-Identifier: BSD-2-Clause
/*
 * The PMIx bootstrap module (librmx-boot-pmix.so): rank, size, node-local
 * ranks, put/fence/get from the PMIx server of whichever launcher started
 * the process (Open MPI's mpirun, Slurm's srun --mpi=pmix, PRRTE).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <pmix.h>

#include "core/log.h"
#include "job/boot.h"

struct rmx__boot {
	pmix_proc_t me;
	uint32_t size;
	rmx__boot_log_fn log;
	/* A fence's info must outlive the call: it is read until it ends. */
	pmix_info_t fence_info;
	rmx__boot_done_fn fence_done;
	void *fence_arg;
};

static int errno_of(pmix_status_t st)
{
	switch (st) {
	case PMIX_SUCCESS:
		return 0;
	case PMIX_ERR_NOT_FOUND:
		return -ENOENT;
	case PMIX_ERR_TIMEOUT:
		return -ETIMEDOUT;
	case PMIX_ERR_NOMEM:
		return -ENOMEM;
	case PMIX_ERR_BAD_PARAM:
		return -EINVAL;
	case PMIX_ERR_UNREACH:
	case PMIX_ERR_LOST_CONNECTION:
		return -ECONNRESET;
	default:
		return -EIO;
	}
}

/* Reads a job-level value (rank wildcard). */
static pmix_status_t job_get(struct rmx__boot *b, const char *key,
			     pmix_value_t **val)
{
	pmix_proc_t job;

	PMIX_LOAD_PROCID(&job, b->me.nspace, PMIX_RANK_WILDCARD);
	return PMIx_Get(&job, key, NULL, 0, val);
}

static int boot_init(rmx__boot_log_fn log, struct rmx__boot **out)
{
	struct rmx__boot *b;
	pmix_value_t *val;
	pmix_status_t st;

	/* Without a server to talk to, PMIx would start a singleton. */
	if (!getenv("PMIX_NAMESPACE") || !getenv("PMIX_RANK")) {
		log(RMX__LOG_ERROR,
		    "job: not started by a PMIx launcher (run it with mpirun, srun --mpi=pmix or prterun)");
		return -ENOENT;
	}
	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	b->log = log;
	st = PMIx_Init(&b->me, NULL, 0);
	if (st != PMIX_SUCCESS) {
		log(RMX__LOG_ERROR, "job: PMIx_Init: %s", PMIx_Error_string(st));
		free(b);
		return errno_of(st) == -ENOENT ? -ECONNREFUSED : errno_of(st);
	}
	st = job_get(b, PMIX_JOB_SIZE, &val);
	if (st != PMIX_SUCCESS || val->type != PMIX_UINT32) {
		log(RMX__LOG_ERROR, "job: the launcher gives no job size: %s",
		    PMIx_Error_string(st));
		if (st == PMIX_SUCCESS)
			PMIX_VALUE_RELEASE(val);
		PMIx_Finalize(NULL, 0);
		free(b);
		return -EPROTO;
	}
	b->size = val->data.uint32;
	PMIX_VALUE_RELEASE(val);
	*out = b;
	return 0;
}

static void boot_fini(struct rmx__boot *b)
{
	PMIx_Finalize(NULL, 0);
	PMIX_INFO_DESTRUCT(&b->fence_info);
	free(b);
}

static uint32_t boot_rank(const struct rmx__boot *b)
{
	return b->me.rank;
}

static uint32_t boot_size(const struct rmx__boot *b)
{
	return b->size;
}

static const char *boot_job_id(const struct rmx__boot *b)
{
	return b->me.nspace;
}

static int boot_local_ranks(struct rmx__boot *b, uint32_t **ranks, size_t *n)
{
	pmix_value_t *val;
	pmix_status_t st;
	const char *s;
	uint32_t *r;
	size_t cap = 1, i = 0;

	st = job_get(b, PMIX_LOCAL_PEERS, &val);
	if (st != PMIX_SUCCESS) {
		b->log(RMX__LOG_ERROR, "job: the launcher gives no local peers: %s",
		       PMIx_Error_string(st));
		return errno_of(st);
	}
	if (val->type != PMIX_STRING || !val->data.string) {
		PMIX_VALUE_RELEASE(val);
		return -EPROTO;
	}
	for (s = val->data.string; *s; s++)
		cap += *s == ',';
	r = malloc(cap * sizeof(*r));
	if (!r) {
		PMIX_VALUE_RELEASE(val);
		return -ENOMEM;
	}
	/* "0,1,2,3", ascending as PMIx lists them; sorted below anyway. */
	for (s = val->data.string; *s && i < cap;) {
		char *end;
		unsigned long v = strtoul(s, &end, 10);

		if (end == s || v >= b->size)
			break;
		r[i++] = (uint32_t)v;
		s = *end == ',' ? end + 1 : end;
	}
	PMIX_VALUE_RELEASE(val);
	for (size_t a = 1; a < i; a++)
		for (size_t c = a; c > 0 && r[c - 1] > r[c]; c--) {
			uint32_t t = r[c];

			r[c] = r[c - 1];
			r[c - 1] = t;
		}
	*ranks = r;
	*n = i;
	return 0;
}

static int boot_put(struct rmx__boot *b, const char *key, const void *val,
		    size_t len)
{
	pmix_value_t v;
	pmix_status_t st;

	PMIX_VALUE_CONSTRUCT(&v);
	v.type = PMIX_BYTE_OBJECT;
	v.data.bo.bytes = (char *)val;
	v.data.bo.size = len;
	/* PMIx_Put copies the value. */
	st = PMIx_Put(PMIX_GLOBAL, key, &v);
	if (st == PMIX_SUCCESS)
		st = PMIx_Commit();
	if (st != PMIX_SUCCESS)
		b->log(RMX__LOG_ERROR, "job: PMIx_Put %s: %s", key,
		       PMIx_Error_string(st));
	return errno_of(st);
}

static void fence_cb(pmix_status_t st, void *arg)
{
	struct rmx__boot *b = arg;

	b->fence_done(b->fence_arg, errno_of(st));
}

static int boot_fence(struct rmx__boot *b, int collect, rmx__boot_done_fn done,
		      void *arg)
{
	bool flag = collect != 0;
	pmix_status_t st;

	PMIX_INFO_DESTRUCT(&b->fence_info);
	PMIX_INFO_LOAD(&b->fence_info, PMIX_COLLECT_DATA, &flag, PMIX_BOOL);
	b->fence_done = done;
	b->fence_arg = arg;
	/* No procs: every rank of this job. */
	st = PMIx_Fence_nb(NULL, 0, &b->fence_info, 1, fence_cb, b);
	if (st != PMIX_SUCCESS) {
		b->log(RMX__LOG_ERROR, "job: PMIx_Fence_nb: %s",
		       PMIx_Error_string(st));
		return errno_of(st);
	}
	return 0;
}

static int boot_get(struct rmx__boot *b, uint32_t rank, const char *key,
		    void *buf, size_t cap, size_t *len)
{
	pmix_value_t *val;
	pmix_proc_t peer;
	pmix_status_t st;
	int ret = 0;

	PMIX_LOAD_PROCID(&peer, b->me.nspace, rank);
	st = PMIx_Get(&peer, key, NULL, 0, &val);
	if (st != PMIX_SUCCESS) {
		b->log(RMX__LOG_ERROR, "job: rank %u published no %s: %s", rank,
		       key, PMIx_Error_string(st));
		return errno_of(st);
	}
	if (val->type != PMIX_BYTE_OBJECT) {
		ret = -EPROTO;
	} else {
		*len = val->data.bo.size;
		if (*len > cap)
			ret = -EMSGSIZE;
		else
			memcpy(buf, val->data.bo.bytes, *len);
	}
	PMIX_VALUE_RELEASE(val);
	return ret;
}

__attribute__((visibility("default")))
const struct rmx__boot_ops rmx__boot_module = {
	.abi = RMX__BOOT_ABI,
	.name = "pmix",
	.init = boot_init,
	.fini = boot_fini,
	.rank = boot_rank,
	.size = boot_size,
	.job_id = boot_job_id,
	.local_ranks = boot_local_ranks,
	.put = boot_put,
	.fence = boot_fence,
	.get = boot_get,
};
