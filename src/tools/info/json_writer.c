// SPDX-License-Identifier: BSD-2-Clause
/*
 * rmx-info: a JSON writer (RFC 8259), indented. Strings are escaped and
 * any byte that is not valid UTF-8 becomes U+FFFD, so that the output
 * parses whatever the environment holds.
 */
#include <inttypes.h>

#include "json_writer.h"

/* Bytes of the valid UTF-8 sequence at s, or 0. */
static size_t utf8_len(const unsigned char *s)
{
	uint32_t cp;
	size_t n, i;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		n = 2;
		cp = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		n = 3;
		cp = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	/* A NUL fails the continuation test: no reading past the end. */
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	/* Overlong forms, surrogates and beyond U+10FFFF. */
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

void jw_string(struct jw *w, const char *str)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t n;

	fputc('"', w->f);
	while (*s) {
		switch (*s) {
		case '"':
			fputs("\\\"", w->f);
			break;
		case '\\':
			fputs("\\\\", w->f);
			break;
		case '\n':
			fputs("\\n", w->f);
			break;
		case '\t':
			fputs("\\t", w->f);
			break;
		default:
			if (*s < 0x20) {
				fprintf(w->f, "\\u%04x", *s);
				break;
			}
			n = utf8_len(s);
			if (!n) {
				fputs("\\ufffd", w->f);
				break;
			}
			fwrite(s, 1, n, w->f);
			s += n - 1;
		}
		s++;
	}
	fputc('"', w->f);
}

/* The comma, newline and indent before a value, then its key if any. */
void jw_item(struct jw *w, const char *key)
{
	if (w->depth) {
		fputs(w->first[w->depth] ? "\n" : ",\n", w->f);
		w->first[w->depth] = false;
		fprintf(w->f, "%*s", 2 * w->depth, "");
	}
	if (key) {
		jw_string(w, key);
		fputs(": ", w->f);
	}
}

void jw_open(struct jw *w, const char *key, char c)
{
	jw_item(w, key);
	fputc(c, w->f);
	w->first[++w->depth] = true;
}

void jw_close(struct jw *w, char c)
{
	bool empty = w->first[w->depth];

	w->depth--;
	if (!empty)
		fprintf(w->f, "\n%*s", 2 * w->depth, "");
	fputc(c, w->f);
}

void jw_str(struct jw *w, const char *key, const char *s)
{
	jw_item(w, key);
	if (s)
		jw_string(w, s);
	else
		fputs("null", w->f);
}

void jw_u64(struct jw *w, const char *key, uint64_t v)
{
	jw_item(w, key);
	fprintf(w->f, "%" PRIu64, v);
}

void jw_i64(struct jw *w, const char *key, int64_t v)
{
	jw_item(w, key);
	fprintf(w->f, "%" PRId64, v);
}

void jw_bool(struct jw *w, const char *key, bool v)
{
	jw_item(w, key);
	fputs(v ? "true" : "false", w->f);
}

void jw_null(struct jw *w, const char *key)
{
	jw_item(w, key);
	fputs("null", w->f);
}
