/* SPDX-License-Identifier: BSD-2-Clause */
/* The libfabric backend's ops table, for the backend table and the tests. */
#ifndef RMX_TRANSPORT_OFI_OPS_H
#define RMX_TRANSPORT_OFI_OPS_H

#include "transport/transport.h"

extern const struct rmx__tp_ops rmx__ofi_ops;

#endif
