/* jsonw.h: a streaming JSON writer straight into a buf, no object tree. */
#ifndef PGMCP_JSONW_H
#define PGMCP_JSONW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

struct json_object;

#define JW_MAX_DEPTH 64

struct jw {
	struct buf *b;
	int depth;
	bool after_key;
	bool first[JW_MAX_DEPTH];
};

void jw_init(struct jw *w, struct buf *b);
void jw_obj_begin(struct jw *w);
void jw_obj_end(struct jw *w);
void jw_arr_begin(struct jw *w);
void jw_arr_end(struct jw *w);
void jw_key(struct jw *w, const char *key);
void jw_str(struct jw *w, const char *s);
void jw_strn(struct jw *w, const char *s, size_t n);
void jw_int(struct jw *w, int64_t v);
void jw_double(struct jw *w, double v);
/* A number with a fixed count of decimals, e.g. milliseconds. */
void jw_fixed(struct jw *w, double v, int decimals);
void jw_bool(struct jw *w, bool v);
void jw_null(struct jw *w);
/* Inserts already-valid JSON text as one value. */
void jw_raw(struct jw *w, const char *json, size_t n);
/* Writes a json-c value compactly (used to echo ids and arguments exactly). */
void jw_jsonc(struct jw *w, struct json_object *v);
/* Begins a string value whose body the caller appends with json_escape(). */
void jw_str_begin(struct jw *w);
void jw_str_end(struct jw *w);

void jw_kstr(struct jw *w, const char *key, const char *s);
void jw_kint(struct jw *w, const char *key, int64_t v);
void jw_kbool(struct jw *w, const char *key, bool v);

/*
 * Appends s as the body of a JSON string (no quotes). Invalid UTF-8 becomes U+FFFD and NUL
 * becomes \u0000, so the output is always valid JSON whatever the input.
 */
void json_escape(struct buf *b, const char *s, size_t n);
/* True if s is entirely valid UTF-8 (no overlongs, no surrogates). */
bool utf8_valid(const char *s, size_t n);

#endif
