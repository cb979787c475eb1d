/*
 * fuzz_pgjson.c: libFuzzer target for PostgreSQL text values to JSON (server/pgjson.c): array
 * literals, bytea hex, timestamps, numbers, json/jsonb minifying.
 *
 * Input: byte 0 picks the type, the rest is the value as PostgreSQL would send it. The output
 * must be valid JSON, except where pgjson trusts PostgreSQL's own output: json and jsonb are
 * passed through, and numbers are copied when they look like numbers (an int4 column never
 * holds "1x"), so for those kinds only values in PostgreSQL's number syntax are checked.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "fuzz.h"
#include "jsoncheck.h"
#include "pgjson.h"

static const pg_oid oids[] = { 16, 17, 20, 21, 23, 25, 114, 700, 701, 1007, 1009, 1016, 1082,
	1114, 1184, 1266, 1700, 3802, 1000, 1231, 1185, 2950, 99999, 1001, 1115, 1270, 199, 1022 };

static bool
is_number_kind(enum pgjson_kind k)
{
	return k == PGJ_INT || k == PGJ_INT8 || k == PGJ_FLOAT || k == PGJ_NUMERIC;
}

/* PostgreSQL's output for integers, floats and numerics: a JSON number, or NaN/Infinity. */
static bool
pg_number_text(enum pgjson_kind k, const char *s, size_t n)
{
	struct json_check chk;

	if ((k == PGJ_FLOAT || k == PGJ_NUMERIC) && ((n == 3 && memcmp(s, "NaN", 3) == 0) ||
	    (n == 8 && memcmp(s, "Infinity", 8) == 0) || (n == 9 && memcmp(s, "-Infinity", 9) == 0)))
		return true;
	if (n == 0 || !(s[0] == '-' || (s[0] >= '0' && s[0] <= '9')))
		return false;
	for (size_t i = 0; i < n; i++)
		if (strchr("0123456789-+.eE", s[i]) == NULL || s[i] == '\0')
			return false;
	return json_check(s, n, 1, &chk) == 0;
}

/* An array literal whose unquoted elements are all NULL or numbers in PostgreSQL's syntax. */
static bool
pg_number_array_text(enum pgjson_kind kind, const char *s, size_t n)
{
	const char *p = s, *end = s + n, *eq;

	if (n > 0 && s[0] == '[' && (eq = memchr(s, '=', n)) != NULL)
		p = eq + 1;
	while (p < end) {
		size_t w = 0;

		while (p < end && *p == '{')
			p++;	/* braces open elements; inside one they are the element's text */
		while (p + w < end && p[w] != ',' && p[w] != '}')
			w++;
		if (w > 0 && !(w == 4 && memcmp(p, "NULL", 4) == 0) && !pg_number_text(kind, p, w))
			return false;
		p += w + (p + w < end);
	}
	return true;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pgjson_type t;
	struct json_check chk;
	struct buf out = BUF_INIT;
	const char *val = (const char *)data + 1;
	size_t len = size - 1;
	bool check;

	if (size < 1)
		return 0;
	pgjson_type_of(oids[data[0] % (sizeof(oids) / sizeof(oids[0]))], &t);
	buf_putc(&out, '[');	/* inside an array, as in a row */
	pgjson_value(&out, &t, val, len);
	buf_putc(&out, ']');
	if (t.kind == PGJ_JSON || (t.kind == PGJ_ARRAY && t.elem == PGJ_JSON))
		check = false;
	else if (is_number_kind(t.kind))
		check = pg_number_text(t.kind, val, len);
	else if (t.kind == PGJ_ARRAY && is_number_kind(t.elem))
		check = pg_number_array_text(t.elem, val, len);
	else
		check = true;
	if (check && json_check(out.data, out.len, 64, &chk) < 0)
		abort();
	buf_free(&out);
	return 0;
}
