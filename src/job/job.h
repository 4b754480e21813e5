/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef RMX_JOB_JOB_H
#define RMX_JOB_JOB_H

#include "job/boot.h"

/* A loaded bootstrap module, connected to its launcher. */
struct rmx__boot_mod {
	void *dl;
	const struct rmx__boot_ops *ops;
	struct rmx__boot *b;
};

/* Loads rmx/librmx-boot-NAME.so and runs its init. */
int rmx__boot_open(const char *name, struct rmx__boot_mod *mod);
void rmx__boot_close(struct rmx__boot_mod *mod);

#endif
