// SPDX-License-Identifier: BSD-2-Clause
#include <string.h>

#include <rmx/rmx.h>

const char *rmx_strerror(int err)
{
	const char *desc;

	if (err == 0)
		return "Success";
	if (err < 0)
		err = -err;
	/* strerrordesc_np is thread-safe and never formats into a buffer. */
	desc = strerrordesc_np(err);
	return desc ? desc : "Unknown error";
}
