// SPDX-License-Identifier: BSD-2-Clause
/* An application outside the tree, built against an installed rmx. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <rmx/rmx.h>

int main(void)
{
	int major;
	const char *v = rmx_version(&major, NULL, NULL);

	if (major != RMX_VERSION_MAJOR || strcmp(rmx_strerror(-EPROTO),
						 "Protocol error")) {
		fprintf(stderr, "consumer: header and library disagree\n");
		return 1;
	}
	printf("consumer: linked rmx %s\n", v);
	return 0;
}
