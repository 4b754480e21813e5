// SPDX-License-Identifier: BSD-2-Clause
/*
 * Jobs: ranks started together by a launcher find each other through its
 * bootstrap (PMIx) and connect on demand, one connection per pair.
 *
 * Two ranks may connect to each other at the same moment. The lower
 * rank's connection wins, decided when a request arrives (the listener's
 * filter), before either side has an endpoint it could hand out:
 *  - a rank refuses a request from a higher rank while its own
 *    connection to that rank is under way; the higher rank, refused by a
 *    lower one, waits for that rank's request instead;
 *  - a rank accepts a request from a lower rank even with its own
 *    attempt under way, and drops its attempt once the request is up.
 * Each side decides alone and in one thread, so exactly one connection
 * per pair survives whatever the timing.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rmx/rmx.h>

#include "api/context.h"
#include "core/addr.h"
#include "core/bytes.h"
#include "core/clock.h"
#include "core/log.h"
#include "job/job.h"

#define JOB_MAGIC 0x524d584au	/* "RMXJ", first in the connect data */
#define JOB_DATA_LEN 12		/* magic, job hash, rank */
#define JOB_ADDR_KEY "rmx.addr"
#define JOB_KEY_MAX 32

struct job_peer {
	rmx_ep_t *ep;		/* the pair's one connection, once it is */
	rmx_ep_t *out;		/* our attempt, while theirs may win */
	int64_t incoming_until;	/* their request is accepted: wait this long */
	bool refused;		/* a lower rank refused our attempt */
};

struct rmx_job {
	rmx_context_t *ctx;
	struct rmx__boot_mod mod;
	uint32_t rank, size;
	uint32_t hash;		/* of the job's id: tells jobs apart */
	uint32_t *local;
	size_t nlocal;
	rmx_listener_t *listener;
	struct job_peer *peers;
	uint32_t gathers;	/* allgather keys used so far */
	atomic_int fence_state;	/* 1 while a fence runs, then its status */
};

#define FENCE_RUNNING 1

static uint32_t fnv1a(const char *s)
{
	uint32_t h = 2166136261u;

	while (*s)
		h = (h ^ (uint8_t)*s++) * 16777619u;
	return h;
}

/* The caller's rank from its connect data; -EPROTO if not of this job. */
static int rank_of_data(const struct rmx_job *job, const void *data,
			size_t len)
{
	const uint8_t *d = data;
	uint32_t r;

	if (len != JOB_DATA_LEN || rmx__get_be32(d) != JOB_MAGIC ||
	    rmx__get_be32(d + 4) != job->hash)
		return -EPROTO;
	r = rmx__get_be32(d + 8);
	return r < job->size ? (int)r : -EPROTO;
}

static int64_t timeout_ms(const struct rmx_job *job)
{
	return job->ctx->cfg.connect_timeout_ms;
}

static int job_filter(void *arg, const void *data, size_t len)
{
	struct rmx_job *job = arg;
	struct job_peer *p;
	int r = rank_of_data(job, data, len);

	if (r < 0) {
		rmx__warn("job: refusing a connection from outside this job");
		return r;
	}
	p = &job->peers[r];
	if ((uint32_t)r == job->rank)
		return -EPROTO;
	if (p->ep)
		return -EISCONN;
	/* Ours wins against a higher rank: refuse, it waits for ours. */
	if ((uint32_t)r > job->rank && p->out)
		return -EALREADY;
	p->incoming_until = rmx__now_ms() + timeout_ms(job);
	return 0;
}

static void job_accept(rmx_listener_t *l, rmx_ep_t *ep, void *arg)
{
	struct rmx_job *job = arg;
	struct job_peer *p;
	const void *data;
	size_t len;
	int r;

	(void)l;
	rmx_ep_peer_data(ep, &data, &len);
	r = rank_of_data(job, data, len);
	if (r < 0) {
		rmx_ep_destroy(ep);
		return;
	}
	p = &job->peers[r];
	p->incoming_until = 0;
	p->refused = false;
	if (p->out) {
		/* Theirs is from a lower rank (the filter let it in): it wins. */
		rmx_ep_destroy(p->out);
		p->out = NULL;
	}
	if (p->ep)	/* cannot happen: the filter refuses a second one */
		rmx_ep_destroy(p->ep);
	p->ep = ep;
	rmx__dbg("job: rank %d connected to rank %u", r, job->rank);
}

static int start_connect(struct rmx_job *job, uint32_t rank)
{
	uint8_t data[JOB_DATA_LEN];
	struct rmx_ep_params params = { .connect_data = data,
					.connect_data_len = sizeof(data) };
	char addr[RMX__JOB_ADDR_MAX + 8];
	size_t len;
	int ret;

	ret = job->mod.ops->get(job->mod.b, rank, JOB_ADDR_KEY, addr,
				sizeof(addr) - 1, &len);
	if (ret)
		return ret;
	addr[len] = '\0';
	rmx__put_be32(data, JOB_MAGIC);
	rmx__put_be32(data + 4, job->hash);
	rmx__put_be32(data + 8, job->rank);
	ret = rmx_connect(job->ctx, addr, &params, &job->peers[rank].out);
	if (ret)
		rmx__err("job: rank %u cannot connect to rank %u at %s: %s",
			 job->rank, rank, addr, rmx_strerror(ret));
	return ret;
}

/*
 * One look at the connection to rank: 1 when it is up, 0 while it is
 * not yet, or a negative errno. Starts our attempt when none is under
 * way and no request of theirs is expected.
 */
static int peer_step(struct rmx_job *job, uint32_t rank, bool may_start)
{
	struct job_peer *p = &job->peers[rank];
	int64_t now = rmx__now_ms();
	int err;

	if (p->ep)
		return rmx_ep_state(p->ep) == RMX_EP_CONNECTED ? 1 :
		       rmx_ep_error(p->ep) ? rmx_ep_error(p->ep) : -ECONNRESET;
	if (p->out) {
		switch (rmx_ep_state(p->out)) {
		case RMX_EP_CONNECTED:
			/* They accepted it: they will not start their own. */
			p->ep = p->out;
			p->out = NULL;
			return 1;
		case RMX_EP_CONNECTING:
			return 0;
		default:
			err = rmx_ep_error(p->out);
			rmx_ep_destroy(p->out);
			p->out = NULL;
			/*
			 * A lower rank refuses us while its own is on the
			 * way (a listener's refusal: -ECONNABORTED).
			 */
			if (rank < job->rank && err == -ECONNABORTED &&
			    !p->refused) {
				p->refused = true;
				p->incoming_until = now + timeout_ms(job);
				return 0;
			}
			return err;
		}
	}
	if (p->incoming_until > now)
		return 0;
	if (p->incoming_until) {
		p->incoming_until = 0;
		if (p->refused) {
			rmx__err("job: rank %u refused rank %u and never connected itself",
				 rank, job->rank);
			return -ECONNABORTED;
		}
	}
	if (!may_start)
		return 0;
	err = start_connect(job, rank);
	return err ? err : 0;
}

static int check_not_in_callback(const struct rmx_job *job, const char *what)
{
	if (job->ctx->proto.running) {
		rmx__err("%s waits for other ranks: call it outside rmx callbacks",
			 what);
		return -EDEADLK;
	}
	return 0;
}

int rmx_job_ep(rmx_job_t *job, uint32_t rank, rmx_ep_t **ep)
{
	int64_t deadline;
	int ret;

	RMX__CHECK(job && ep, "NULL job or ep");
	RMX__CHECK(rank < job->size, "rank outside the job");
	RMX__CHECK(rank != job->rank,
		   "rank is this process's own: use its memory directly");
	ret = check_not_in_callback(job, "rmx_job_ep");
	if (ret)
		return ret;
	deadline = rmx__now_ms() + 2 * timeout_ms(job);
	while ((ret = peer_step(job, rank, true)) == 0) {
		if (rmx__now_ms() > deadline) {
			rmx__err("job: no connection between ranks %u and %u in %lld ms",
				 job->rank, rank, (long long)(2 * timeout_ms(job)));
			return -ETIMEDOUT;
		}
		ret = rmx_wait(job->ctx, 10);
		if (ret < 0)
			return ret;
	}
	if (ret < 0)
		return ret;
	*ep = job->peers[rank].ep;
	return 0;
}

int rmx_job_connect_all(rmx_job_t *job)
{
	int64_t now = rmx__now_ms(), deadline = now + 2 * timeout_ms(job);
	uint32_t r, pending, was = UINT32_MAX;
	int ret;

	RMX__CHECK(job, "job is NULL");
	ret = check_not_in_callback(job, "rmx_job_connect_all");
	if (ret)
		return ret;
	/* Lower ranks connect to us: expect them rather than race them. */
	for (r = 0; r < job->rank; r++)
		if (!job->peers[r].ep && !job->peers[r].out &&
		    !job->peers[r].incoming_until)
			job->peers[r].incoming_until = deadline;
	for (;;) {
		pending = 0;
		for (r = 0; r < job->size; r++) {
			if (r == job->rank)
				continue;
			ret = peer_step(job, r, r > job->rank);
			if (ret < 0)
				return ret;
			pending += ret == 0;
		}
		if (!pending)
			return 0;
		now = rmx__now_ms();
		/* A mesh of many ranks takes long: give up only when stuck. */
		if (pending != was)
			deadline = now + 2 * timeout_ms(job);
		was = pending;
		if (now > deadline) {
			rmx__err("job: rank %u still waits for %u connections",
				 job->rank, pending);
			return -ETIMEDOUT;
		}
		ret = rmx_wait(job->ctx, 10);
		if (ret < 0)
			return ret;
	}
}

int rmx_job_ep_rank(const rmx_job_t *job, const rmx_ep_t *ep)
{
	uint32_t r;

	RMX__CHECK(job && ep, "NULL job or ep");
	for (r = 0; r < job->size; r++)
		if (job->peers[r].ep == ep)
			return (int)r;
	return -ENOENT;
}

static void fence_done(void *arg, int status)
{
	struct rmx_job *job = arg;

	atomic_store(&job->fence_state, status);
}

/* A fence of all ranks; connections keep progressing while it runs. */
static int fence(struct rmx_job *job, bool collect)
{
	int ret;

	atomic_store(&job->fence_state, FENCE_RUNNING);
	ret = job->mod.ops->fence(job->mod.b, collect, fence_done, job);
	if (ret)
		return ret;
	while ((ret = atomic_load(&job->fence_state)) == FENCE_RUNNING) {
		int n = rmx_wait(job->ctx, 1);

		/* Only a failed context: the launcher's fence still ends. */
		if (n < 0)
			rmx__err("job: progress failed in a fence: %s",
				 rmx_strerror(n));
	}
	return ret;
}

int rmx_job_barrier(rmx_job_t *job)
{
	int ret;

	RMX__CHECK(job, "job is NULL");
	ret = check_not_in_callback(job, "rmx_job_barrier");
	return ret ? ret : fence(job, false);
}

int rmx_job_allgather(rmx_job_t *job, const void *mine, size_t len, void *all)
{
	char key[JOB_KEY_MAX];
	size_t got;
	uint32_t r;
	int ret;

	RMX__CHECK(job && (mine || !len) && (all || !len),
		   "NULL job, mine or all");
	ret = check_not_in_callback(job, "rmx_job_allgather");
	if (ret)
		return ret;
	/* A key per call: values of earlier rounds stay in the launcher. */
	snprintf(key, sizeof(key), "rmx.ag.%u", job->gathers++);
	ret = job->mod.ops->put(job->mod.b, key, mine, len);
	if (!ret)
		ret = fence(job, true);
	for (r = 0; !ret && r < job->size; r++) {
		ret = job->mod.ops->get(job->mod.b, r, key,
					(char *)all + (size_t)r * len, len, &got);
		if (!ret && got != len) {
			rmx__err("rmx_job_allgather: rank %u gave %zu bytes, rank %u %zu: every rank must give the same length",
				 r, got, job->rank, len);
			ret = -EINVAL;
		}
		if (ret == -EMSGSIZE)
			rmx__err("rmx_job_allgather: rank %u gave more than the %zu bytes of rank %u: every rank must give the same length",
				 r, len, job->rank);
	}
	return ret;
}

uint32_t rmx_job_rank(const rmx_job_t *job)
{
	return job ? job->rank : 0;
}

uint32_t rmx_job_size(const rmx_job_t *job)
{
	return job ? job->size : 0;
}

int rmx_job_local_ranks(const rmx_job_t *job, const uint32_t **ranks,
			size_t *n)
{
	RMX__CHECK(job && ranks && n, "NULL job, ranks or n");
	*ranks = job->local;
	*n = job->nlocal;
	return 0;
}

/* Listens on RMX_JOB_ADDR or the device's address; publishes where. */
static int publish(struct rmx_job *job)
{
	rmx_context_t *ctx = job->ctx;
	struct sockaddr_storage ss;
	char addr[RMX__JOB_ADDR_MAX + 8];
	int ret, port;

	if (*ctx->cfg.job_addr) {
		char with_port[RMX__JOB_ADDR_MAX + 8];

		snprintf(with_port, sizeof(with_port),
			 strchr(ctx->cfg.job_addr, ':') ? "[%s]:0" : "%s:0",
			 ctx->cfg.job_addr);
		ret = rmx__addr_parse(with_port, &ss);
		if (ret) {
			rmx__err("RMX_JOB_ADDR=%s is no IP address",
				 ctx->cfg.job_addr);
			return ret;
		}
	} else {
		if (!ctx->tp->ops->host_addr)
			return -EOPNOTSUPP;
		ret = ctx->tp->ops->host_addr(ctx->tp, &ss);
		if (ret)
			return ret;
	}
	rmx__addr_format((struct sockaddr *)&ss, addr, sizeof(addr));
	/* host_addr gives port 0: any free port. */
	ret = rmx_listen(ctx, addr, job_accept, job, &job->listener);
	if (ret) {
		rmx__err("job: cannot listen on %s: %s (set RMX_JOB_ADDR to an IP of the RDMA device)",
			 addr, rmx_strerror(ret));
		return ret;
	}
	rmx__listener_set_filter(job->listener, job_filter, job);
	port = rmx_listener_port(job->listener);
	if (port < 0)
		return port;
	if (ss.ss_family == AF_INET6)
		((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)port);
	else
		((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)port);
	rmx__addr_format((struct sockaddr *)&ss, addr, sizeof(addr));
	rmx__info("job: rank %u of %u listens on %s", job->rank, job->size,
		  addr);
	return job->mod.ops->put(job->mod.b, JOB_ADDR_KEY, addr, strlen(addr));
}

void rmx_job_fini(rmx_job_t *job)
{
	uint32_t r;

	if (!job)
		return;
	for (r = 0; job->peers && r < job->size; r++) {
		rmx_ep_destroy(job->peers[r].out);
		rmx_ep_destroy(job->peers[r].ep);
	}
	rmx_listener_destroy(job->listener);
	if (job->mod.ops)
		rmx__boot_close(&job->mod);
	free(job->peers);
	free(job->local);
	free(job);
}

int rmx_job_init(rmx_context_t *ctx, unsigned int flags, rmx_job_t **out)
{
	struct rmx_job *job;
	int ret;

	RMX__CHECK(ctx && out, "NULL ctx or out");
	RMX__CHECK(!(flags & ~(unsigned int)RMX_JOB_CONNECT_ALL),
		   "unknown flags");
	if (ctx->proto.running) {
		rmx__err("rmx_job_init waits for other ranks: call it outside rmx callbacks");
		return -EDEADLK;
	}
	job = calloc(1, sizeof(*job));
	if (!job)
		return -ENOMEM;
	job->ctx = ctx;
	ret = rmx__boot_open("pmix", &job->mod);
	if (ret) {
		job->mod.ops = NULL;
		free(job);
		return ret;
	}
	job->rank = job->mod.ops->rank(job->mod.b);
	job->size = job->mod.ops->size(job->mod.b);
	job->hash = fnv1a(job->mod.ops->job_id(job->mod.b));
	job->peers = calloc(job->size, sizeof(*job->peers));
	ret = job->peers ? 0 : -ENOMEM;
	if (!ret)
		ret = job->mod.ops->local_ranks(job->mod.b, &job->local,
						&job->nlocal);
	if (!ret)
		ret = publish(job);
	/* Every rank's address is readable after this one fence. */
	if (!ret)
		ret = fence(job, true);
	if (!ret && (flags & RMX_JOB_CONNECT_ALL))
		ret = rmx_job_connect_all(job);
	if (ret) {
		rmx_job_fini(job);
		return ret;
	}
	*out = job;
	return 0;
}
