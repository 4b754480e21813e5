/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * How the tools speak on standard error: "rmx-perf: what went wrong",
 * and after a usage error the hint to -h. Each tool's main file defines
 * tool_name.
 */
#ifndef RMX_TOOLS_COMMON_MSG_H
#define RMX_TOOLS_COMMON_MSG_H

/* "rmx-perf" and so on: defined once by each tool, for its messages. */
extern const char tool_name[];

/* "NAME: " and the message on standard error, after what stdout holds. */
__attribute__((format(printf, 1, 2)))
void tool_err(const char *fmt, ...);

/* A usage error: the message as tool_err(), then "Try 'NAME -h' ...". */
__attribute__((format(printf, 1, 2)))
void tool_usage_err(const char *fmt, ...);

#endif /* RMX_TOOLS_COMMON_MSG_H */
