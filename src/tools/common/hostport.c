// SPDX-License-Identifier: BSD-2-Clause
#include <stdio.h>
#include <string.h>

#include "common/hostport.h"

void tool_host_port(char *buf, size_t len, const char *host, int port)
{
	if (strchr(host, ':') && host[0] != '[')
		snprintf(buf, len, "[%s]:%d", host, port);
	else
		snprintf(buf, len, "%s:%d", host, port);
}
