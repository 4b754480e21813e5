// SPDX-License-Identifier: BSD-2-Clause
/*
 * Loads a bootstrap module from rmx/ next to librmx itself, the same
 * relative place in the build tree and under any install prefix.
 */
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/log.h"
#include "job/boot.h"
#include "job/job.h"

static void boot_log(int level, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	if (level > rmx__log_level)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	rmx__log(level, "%s", line);
}

int rmx__boot_open(const char *name, struct rmx__boot_mod *mod)
{
	char path[PATH_MAX];
	const char *slash;
	Dl_info self;
	int n;

	if (!dladdr((void *)rmx__boot_open, &self) || !self.dli_fname ||
	    !(slash = strrchr(self.dli_fname, '/')))
		return -ENOENT;
	n = snprintf(path, sizeof(path), "%.*s/rmx/librmx-boot-%s.so",
		     (int)(slash - self.dli_fname), self.dli_fname, name);
	if (n < 0 || (size_t)n >= sizeof(path))
		return -ENAMETOOLONG;
	mod->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!mod->dl) {
		rmx__err("job: no %s bootstrap: %s (librmx was built without it: install libpmix-dev and rebuild, or install its rmx/ modules next to librmx)",
			 name, dlerror());
		return -EPROTONOSUPPORT;
	}
	mod->ops = dlsym(mod->dl, RMX__BOOT_SYMBOL);
	if (!mod->ops || mod->ops->abi != RMX__BOOT_ABI) {
		rmx__err("job: %s is not a bootstrap module of this librmx (ABI %u, want %u)",
			 path, mod->ops ? mod->ops->abi : 0, RMX__BOOT_ABI);
		dlclose(mod->dl);
		return -ELIBBAD;
	}
	n = mod->ops->init(boot_log, &mod->b);
	if (n)
		dlclose(mod->dl);
	return n;
}

void rmx__boot_close(struct rmx__boot_mod *mod)
{
	mod->ops->fini(mod->b);
	/* libpmix keeps threads and atexit state: unloading it is unsafe. */
}
