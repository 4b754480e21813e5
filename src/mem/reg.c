// SPDX-License-Identifier: BSD-2-Clause
#include <errno.h>
#include <stdlib.h>

#include "mem/reg.h"

void rmx__mem_init(struct rmx__mem *mem, struct rmx__tp *tp)
{
	mem->tp = tp;
}

int rmx__mem_get(struct rmx__mem *mem, void *addr, size_t len,
		 unsigned int access, struct rmx__reg **out)
{
	struct rmx__reg *reg = malloc(sizeof(*reg));
	int ret;

	if (!reg)
		return -ENOMEM;
	ret = mem->tp->ops->mr_reg(mem->tp, addr, len, access, &reg->mr);
	if (ret) {
		free(reg);
		return ret;
	}
	*out = reg;
	return 0;
}

int rmx__mem_put(struct rmx__mem *mem, struct rmx__reg *reg)
{
	int ret;

	if (!reg)
		return 0;
	ret = mem->tp->ops->mr_dereg(reg->mr);
	if (!ret)
		free(reg);
	return ret;
}
