// SPDX-License-Identifier: BSD-2-Clause
/* rmx-info: the report's problem lists and its teardown. */
#include <stdarg.h>
#include <stdlib.h>

#include "report.h"

void info_err(struct info_errs *e, const char *fmt, ...)
{
	va_list ap;

	if (e->n == INFO_MAX_ERRS) {
		e->dropped++;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(e->msg[e->n++], sizeof(e->msg[0]), fmt, ap);
	va_end(ap);
}

void info_report_free(struct info_report *r)
{
	size_t i;

	for (i = 0; i < r->ndevs; i++) {
		free(r->devs[i].ports);
		free(r->devs[i].gids);
	}
	free(r->devs);
	free(r->knobs);
}
