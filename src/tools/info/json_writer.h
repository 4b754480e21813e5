/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * rmx-info: a JSON writer. Values are written in order, each with its key
 * inside an object (NULL inside an array); jw_open() and jw_close() nest.
 */
#ifndef RMX_TOOLS_INFO_JSON_WRITER_H
#define RMX_TOOLS_INFO_JSON_WRITER_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* The report nests 5 deep at most. */
#define JW_MAX_DEPTH 8

struct jw {
	FILE *f;
	int depth;
	bool first[JW_MAX_DEPTH];	/* nothing written yet at this depth */
};

/* str as a JSON string, escaped (jw_str() takes NULL too). */
void jw_string(struct jw *w, const char *str);
/* The comma, newline and indent before a value, then its key if any. */
void jw_item(struct jw *w, const char *key);
/* c: '{' or '['; jw_close() with the matching '}' or ']'. */
void jw_open(struct jw *w, const char *key, char c);
void jw_close(struct jw *w, char c);
/* s NULL is written as null. */
void jw_str(struct jw *w, const char *key, const char *s);
void jw_u64(struct jw *w, const char *key, uint64_t v);
void jw_i64(struct jw *w, const char *key, int64_t v);
void jw_bool(struct jw *w, const char *key, bool v);
void jw_null(struct jw *w, const char *key);

#endif /* RMX_TOOLS_INFO_JSON_WRITER_H */
