// SPDX-License-Identifier: BSD-2-Clause
/* rmx-perf: the buffers both sides move data between. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "perf.h"

void *perf_alloc(size_t len)
{
	long page = sysconf(_SC_PAGESIZE);
	void *p;

	if (page <= 0)
		page = 4096;
	/* Whole pages: registrations then cover no neighbouring data. */
	len = (len + page - 1) / page * page;
	if (posix_memalign(&p, page, len))
		return NULL;
	memset(p, 0, len);
	return p;
}
