// SPDX-License-Identifier: BSD-2-Clause
/*
 * The backends the conformance suite runs against, one line each. A
 * backend joins with its line here (its ops table and the host its
 * instances listen on and connect to), its sources linked into
 * test_tp_conformance, and one rmx_tp_conformance() line in
 * tests/CMakeLists.txt that names it.
 */
#include "loop_tp.h"
#include "tpc.h"
#ifdef RMX_HAVE_OFI
#include "transport/ofi/ofi_ops.h"
#endif

const struct tpc_backend tpc_backends[] = {
	{ "loop", &loop_tp_ops, "127.0.0.1" },	/* in memory: tests/loop_tp.c */
#ifdef RMX_HAVE_VERBS
	{ "verbs", &rmx__verbs_ops, NULL },	/* NULL: the lab's rxe0 */
#endif
#ifdef RMX_HAVE_OFI
	/* RMX_OFI_PROVIDER picks tcp or shm; shm maps the port to a name. */
	{ "ofi", &rmx__ofi_ops, "127.0.0.1" },
#endif
};

const size_t tpc_nbackends = sizeof(tpc_backends) / sizeof(tpc_backends[0]);
