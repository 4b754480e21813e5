/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The one way upper layers obtain a memory registration. Today each get
 * registers and each put deregisters; the pin-down cache replaces the
 * body of these calls without changing a caller.
 */
#ifndef RMX_MEM_REG_H
#define RMX_MEM_REG_H

#include <stddef.h>

#include "transport/transport.h"

struct rmx__mem {
	struct rmx__tp *tp;
};

struct rmx__reg {
	struct rmx__tp_mr *mr;	/* keys and bounds the transport uses */
};

void rmx__mem_init(struct rmx__mem *mem, struct rmx__tp *tp);

/* access: RMX__TP_* flags. Returns 0 or a negative errno. */
int rmx__mem_get(struct rmx__mem *mem, void *addr, size_t len,
		 unsigned int access, struct rmx__reg **out);
/* On failure the registration stays valid and owned by the caller. */
int rmx__mem_put(struct rmx__mem *mem, struct rmx__reg *reg);

#endif
