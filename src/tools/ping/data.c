// SPDX-License-Identifier: BSD-2-Clause
/* rmx-ping: the ping data, as rping writes it, for both modes. */
#include <stdio.h>

#include "ping.h"

void ping_fill(char *buf, size_t size, long seq)
{
	static const int first = 'A', last = 'z';
	int start = first + (int)(seq % (last - first + 1));
	size_t i;
	int n, c;

	if (!size)
		return;
	n = snprintf(buf, size, "rdma-ping-%ld: ", seq);
	for (i = (size_t)n, c = start; n >= 0 && i < size; i++) {
		buf[i] = (char)c;
		if (++c > last)
			c = first;
	}
	buf[size - 1] = '\0';
}
