/* jsonw.c: streaming JSON writer with correct commas, escaping and UTF-8 repair. */
#include "jsonw.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <json.h>

#include "log.h"

void
jw_init(struct jw *w, struct buf *b)
{
	w->b = b;
	w->depth = 0;
	w->after_key = false;
	w->first[0] = true;
}

/* Emits the comma that separates this value from the previous one, if any. */
static void
jw_sep(struct jw *w)
{
	if (w->after_key) {
		w->after_key = false;
		return;
	}
	if (!w->first[w->depth])
		buf_putc(w->b, ',');
	w->first[w->depth] = false;
}

static void
jw_open(struct jw *w, char c)
{
	jw_sep(w);
	buf_putc(w->b, c);
	if (w->depth + 1 >= JW_MAX_DEPTH)
		fatalx("jsonw: nesting deeper than %d", JW_MAX_DEPTH);
	w->first[++w->depth] = true;
}

static void
jw_close(struct jw *w, char c)
{
	buf_putc(w->b, c);
	if (w->depth > 0)
		w->depth--;
}

void jw_obj_begin(struct jw *w) { jw_open(w, '{'); }
void jw_obj_end(struct jw *w) { jw_close(w, '}'); }
void jw_arr_begin(struct jw *w) { jw_open(w, '['); }
void jw_arr_end(struct jw *w) { jw_close(w, ']'); }

void
jw_key(struct jw *w, const char *key)
{
	jw_sep(w);
	buf_putc(w->b, '"');
	json_escape(w->b, key, strlen(key));
	buf_puts(w->b, "\":");
	w->after_key = true;
}

void
jw_str_begin(struct jw *w)
{
	jw_sep(w);
	buf_putc(w->b, '"');
}

void
jw_str_end(struct jw *w)
{
	buf_putc(w->b, '"');
}

void
jw_strn(struct jw *w, const char *s, size_t n)
{
	jw_str_begin(w);
	json_escape(w->b, s, n);
	jw_str_end(w);
}

void
jw_str(struct jw *w, const char *s)
{
	if (s == NULL)
		jw_null(w);
	else
		jw_strn(w, s, strlen(s));
}

void
jw_int(struct jw *w, int64_t v)
{
	char digits[24];
	int n = 0;
	uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;

	jw_sep(w);
	do {
		digits[n++] = (char)('0' + u % 10);
		u /= 10;
	} while (u > 0);
	if (v < 0)
		digits[n++] = '-';
	buf_reserve(w->b, (size_t)n);
	while (n > 0)
		w->b->data[w->b->len++] = digits[--n];
}

void
jw_double(struct jw *w, double v)
{
	jw_sep(w);
	if (!isfinite(v))
		buf_puts(w->b, "null");
	else
		buf_printf(w->b, "%.17g", v);
}

void
jw_fixed(struct jw *w, double v, int decimals)
{
	jw_sep(w);
	if (!isfinite(v))
		buf_puts(w->b, "null");
	else
		buf_printf(w->b, "%.*f", decimals, v);
}

void
jw_bool(struct jw *w, bool v)
{
	jw_sep(w);
	buf_puts(w->b, v ? "true" : "false");
}

void
jw_null(struct jw *w)
{
	jw_sep(w);
	buf_puts(w->b, "null");
}

void
jw_raw(struct jw *w, const char *json, size_t n)
{
	jw_sep(w);
	buf_append(w->b, json, n);
}

void
jw_jsonc(struct jw *w, struct json_object *v)
{
	const char *s;

	if (v == NULL) {
		jw_null(w);
		return;
	}
	s = json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	jw_raw(w, s, strlen(s));
}

void
jw_kstr(struct jw *w, const char *key, const char *s)
{
	jw_key(w, key);
	jw_str(w, s);
}

void
jw_kint(struct jw *w, const char *key, int64_t v)
{
	jw_key(w, key);
	jw_int(w, v);
}

void
jw_kbool(struct jw *w, const char *key, bool v)
{
	jw_key(w, key);
	jw_bool(w, v);
}

/* Length of the valid UTF-8 sequence at p (1..4), or 0 if it is invalid or truncated. */
static size_t
utf8_seq_len(const unsigned char *p, size_t avail)
{
	unsigned c = p[0];

	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF)
		return (avail >= 2 && (p[1] & 0xC0) == 0x80) ? 2 : 0;
	if (c >= 0xE0 && c <= 0xEF) {
		if (avail < 3 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80)
			return 0;
		if (c == 0xE0 && p[1] < 0xA0)
			return 0; /* overlong */
		if (c == 0xED && p[1] >= 0xA0)
			return 0; /* surrogate */
		return 3;
	}
	if (c >= 0xF0 && c <= 0xF4) {
		if (avail < 4 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80 ||
		    (p[3] & 0xC0) != 0x80)
			return 0;
		if (c == 0xF0 && p[1] < 0x90)
			return 0;
		if (c == 0xF4 && p[1] >= 0x90)
			return 0;
		return 4;
	}
	return 0;
}

bool
utf8_valid(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	while (i < n) {
		size_t l;

		if (p[i] < 0x80) {
			i++;
			continue;
		}
		l = utf8_seq_len(p + i, n - i);
		if (l == 0)
			return false;
		i += l;
	}
	return true;
}

void
json_escape(struct buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, run = 0;

	buf_reserve(b, n + 2);
	while (i < n) {
		unsigned c = p[i];
		size_t l;

		if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
			i++;
			run++;
			continue;
		}
		if (c >= 0x80) {
			l = utf8_seq_len(p + i, n - i);
			if (l > 0) {
				i += l;
				run += l;
				continue;
			}
		}
		buf_append(b, p + i - run, run);
		run = 0;
		switch (c) {
		case '"': buf_append(b, "\\\"", 2); break;
		case '\\': buf_append(b, "\\\\", 2); break;
		case '\n': buf_append(b, "\\n", 2); break;
		case '\r': buf_append(b, "\\r", 2); break;
		case '\t': buf_append(b, "\\t", 2); break;
		case '\b': buf_append(b, "\\b", 2); break;
		case '\f': buf_append(b, "\\f", 2); break;
		default:
			if (c < 0x20) {
				char u[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };
				buf_append(b, u, 6);
			} else {
				buf_append(b, "\xEF\xBF\xBD", 3); /* U+FFFD for invalid UTF-8 */
			}
		}
		i++;
	}
	buf_append(b, p + i - run, run);
}
