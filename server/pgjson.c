/* pgjson.c: encodes PostgreSQL text output as typed JSON without building an object tree. */
#include "pgjson.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "jsonw.h"

static const struct {
	pg_oid oid;
	enum pgjson_kind kind;
	const char *name;
} scalar_types[] = {
	{ 16, PGJ_BOOL, "boolean" }, { 17, PGJ_BYTEA, "bytea" }, { 18, PGJ_STRING, "char" },
	{ 19, PGJ_STRING, "name" }, { 20, PGJ_INT8, "bigint" }, { 21, PGJ_INT, "smallint" },
	{ 23, PGJ_INT, "integer" }, { 24, PGJ_STRING, "regproc" }, { 25, PGJ_STRING, "text" },
	{ 26, PGJ_INT, "oid" }, { 28, PGJ_INT, "xid" }, { 29, PGJ_INT, "cid" },
	{ 114, PGJ_JSON, "json" }, { 142, PGJ_STRING, "xml" }, { 600, PGJ_STRING, "point" },
	{ 650, PGJ_STRING, "cidr" }, { 700, PGJ_FLOAT, "real" },
	{ 701, PGJ_FLOAT, "double precision" }, { 705, PGJ_STRING, "unknown" },
	{ 790, PGJ_STRING, "money" }, { 829, PGJ_STRING, "macaddr" }, { 869, PGJ_STRING, "inet" },
	{ 1042, PGJ_STRING, "character" }, { 1043, PGJ_STRING, "character varying" },
	{ 1082, PGJ_STRING, "date" }, { 1083, PGJ_STRING, "time" },
	{ 1114, PGJ_TIMESTAMP, "timestamp" }, { 1184, PGJ_TIMESTAMPTZ, "timestamptz" },
	{ 1186, PGJ_STRING, "interval" }, { 1266, PGJ_TIMETZ, "timetz" },
	{ 1560, PGJ_STRING, "bit" }, { 1562, PGJ_STRING, "bit varying" },
	{ 1700, PGJ_NUMERIC, "numeric" }, { 2205, PGJ_STRING, "regclass" },
	{ 2206, PGJ_STRING, "regtype" }, { 2950, PGJ_STRING, "uuid" }, { 3802, PGJ_JSON, "jsonb" },
	{ 3614, PGJ_STRING, "tsvector" }, { 3615, PGJ_STRING, "tsquery" },
	{ 5069, PGJ_INT8, "xid8" }, { 774, PGJ_STRING, "macaddr8" }, { 2249, PGJ_STRING, "record" },
	{ 3904, PGJ_STRING, "int4range" }, { 3926, PGJ_STRING, "int8range" },
	{ 3906, PGJ_STRING, "numrange" }, { 3908, PGJ_STRING, "tsrange" },
	{ 3910, PGJ_STRING, "tstzrange" }, { 3912, PGJ_STRING, "daterange" },
	{ 3220, PGJ_STRING, "pg_lsn" }, { 2278, PGJ_STRING, "void" }, { 1033, PGJ_STRING, "aclitem" },
	{ 194, PGJ_STRING, "pg_node_tree" }, { 32, PGJ_STRING, "pg_ddl_command" },
};

static const struct {
	pg_oid array, elem;
	const char *name;
} array_types[] = {
	{ 1000, 16, "boolean[]" }, { 1001, 17, "bytea[]" }, { 1002, 18, "char[]" },
	{ 1003, 19, "name[]" }, { 1005, 21, "smallint[]" }, { 1007, 23, "integer[]" },
	{ 1008, 24, "regproc[]" }, { 1009, 25, "text[]" }, { 1014, 1042, "character[]" },
	{ 1015, 1043, "character varying[]" }, { 1016, 20, "bigint[]" }, { 1017, 600, "point[]" },
	{ 1021, 700, "real[]" }, { 1022, 701, "double precision[]" }, { 1028, 26, "oid[]" },
	{ 1034, 1033, "aclitem[]" }, { 1040, 829, "macaddr[]" }, { 1041, 869, "inet[]" },
	{ 651, 650, "cidr[]" }, { 791, 790, "money[]" }, { 1115, 1114, "timestamp[]" },
	{ 1182, 1082, "date[]" }, { 1183, 1083, "time[]" }, { 1185, 1184, "timestamptz[]" },
	{ 1187, 1186, "interval[]" }, { 1231, 1700, "numeric[]" }, { 1270, 1266, "timetz[]" },
	{ 2951, 2950, "uuid[]" }, { 199, 114, "json[]" }, { 3807, 3802, "jsonb[]" },
	{ 143, 142, "xml[]" }, { 2210, 2205, "regclass[]" }, { 2211, 2206, "regtype[]" },
	{ 1561, 1560, "bit[]" }, { 1563, 1562, "bit varying[]" }, { 1263, 2275, "cstring[]" },
	{ 1013, 30, "oidvector[]" }, { 1011, 28, "xid[]" },
};

static enum pgjson_kind
scalar_kind(pg_oid oid, const char **name)
{
	for (size_t i = 0; i < sizeof(scalar_types) / sizeof(scalar_types[0]); i++) {
		if (scalar_types[i].oid == oid) {
			if (name)
				*name = scalar_types[i].name;
			return scalar_types[i].kind;
		}
	}
	if (name)
		*name = NULL;
	return PGJ_STRING;
}

void
pgjson_type_of(pg_oid oid, struct pgjson_type *out)
{
	out->elem = PGJ_STRING;
	out->kind = scalar_kind(oid, &out->name);
	if (out->name != NULL)
		return;
	for (size_t i = 0; i < sizeof(array_types) / sizeof(array_types[0]); i++) {
		if (array_types[i].array == oid) {
			out->kind = PGJ_ARRAY;
			out->elem = scalar_kind(array_types[i].elem, NULL);
			out->name = array_types[i].name;
			return;
		}
	}
	out->kind = PGJ_STRING;	/* enums, domains, composites and extension types */
	out->name = NULL;
}

static void
put_string(struct buf *out, const char *val, size_t len)
{
	buf_putc(out, '"');
	json_escape(out, val, len);
	buf_putc(out, '"');
}

static bool
is_special_float(const char *val, size_t len)
{
	return (len == 3 && memcmp(val, "NaN", 3) == 0) ||
	    (len == 8 && memcmp(val, "Infinity", 8) == 0) ||
	    (len == 9 && memcmp(val, "-Infinity", 9) == 0);
}

/* A numeric survives a trip through a double when it has at most 15 significant digits. */
static bool
numeric_fits_double(const char *val, size_t len)
{
	int significant = 0;
	bool leading = true, digits = false;

	if (len == 0 || len > 40)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = val[i];

		if (c == '-' && i == 0)
			continue;
		if (c == '.')
			continue;
		if (c < '0' || c > '9')
			return false;
		digits = true;
		if (leading && c == '0')
			continue;
		leading = false;
		significant++;
	}
	return digits && significant <= 15;
}

/* "2024-01-02 03:04:05+05" -> "2024-01-02T03:04:05+05:00"; leaves "infinity" and BC alone. */
static void
put_datetime(struct buf *out, const char *val, size_t len, bool zoned)
{
	char tmp[64];
	size_t n = len;

	if (len >= sizeof(tmp) - 4 || (len > 0 && (val[0] < '0' || val[0] > '9')) ||
	    (len > 3 && memcmp(val + len - 3, " BC", 3) == 0)) {
		put_string(out, val, len);
		return;
	}
	memcpy(tmp, val, len);
	for (size_t i = 0; i < n; i++) {
		if (tmp[i] == ' ') {
			tmp[i] = 'T';
			break;
		}
	}
	if (zoned) {
		/* The offset is the last [+-]hh[:mm[:ss]]; add :00 when only hours are given. */
		size_t i = n;

		while (i > 0 && tmp[i - 1] != '+' && tmp[i - 1] != '-' && tmp[i - 1] != 'T')
			i--;
		if (i > 0 && tmp[i - 1] != 'T' && n - i == 2) {
			tmp[n++] = ':';
			tmp[n++] = '0';
			tmp[n++] = '0';
		}
	}
	put_string(out, tmp, n);
}

/*
 * json and jsonb text is valid JSON already; drop the whitespace outside strings so it costs
 * the model fewer tokens and can never break a one-line frame.
 */
static void
put_minified_json(struct buf *out, const char *val, size_t len)
{
	bool in_string = false;

	buf_reserve(out, len);
	for (size_t i = 0; i < len; i++) {
		char c = val[i];

		if (in_string) {
			out->data[out->len++] = c;
			if (c == '\\' && i + 1 < len)
				out->data[out->len++] = val[++i];
			else if (c == '"')
				in_string = false;
		} else if (c == '"') {
			in_string = true;
			out->data[out->len++] = c;
		} else if (c != ' ' && c != '\n' && c != '\r' && c != '\t') {
			out->data[out->len++] = c;
		}
	}
}

static void
put_scalar(struct buf *out, enum pgjson_kind kind, const char *val, size_t len)
{
	if (len == 0 && kind != PGJ_BYTEA) {	/* never emit an empty number or literal */
		put_string(out, val, len);
		return;
	}
	switch (kind) {
	case PGJ_INT:
		buf_append(out, val, len);
		return;
	case PGJ_INT8: {
		char tmp[32];
		long long v;

		if (len < sizeof(tmp)) {
			memcpy(tmp, val, len);
			tmp[len] = '\0';
			errno = 0;
			v = strtoll(tmp, NULL, 10);
			if (errno == 0 && v <= (1LL << 53) && v >= -(1LL << 53)) {
				buf_append(out, val, len);
				return;
			}
		}
		put_string(out, val, len);
		return;
	}
	case PGJ_FLOAT:
		if (is_special_float(val, len))
			put_string(out, val, len);
		else
			buf_append(out, val, len);
		return;
	case PGJ_NUMERIC:
		if (numeric_fits_double(val, len))
			buf_append(out, val, len);
		else
			put_string(out, val, len);
		return;
	case PGJ_BOOL:
		buf_puts(out, len > 0 && val[0] == 't' ? "true" : "false");
		return;
	case PGJ_JSON:
		put_minified_json(out, val, len);
		return;
	case PGJ_BYTEA: {
		size_t mark = out->len;

		buf_putc(out, '"');
		if (base64_from_pg_hex(out, val, len) < 0) {
			out->len = mark + 1;	/* drop the groups encoded before the bad digit */
			json_escape(out, val, len);
		}
		buf_putc(out, '"');
		return;
	}
	case PGJ_TIMESTAMP:
		put_datetime(out, val, len, false);
		return;
	case PGJ_TIMESTAMPTZ:
		put_datetime(out, val, len, true);
		return;
	case PGJ_TIMETZ: {
		char tmp[48];

		/* "03:04:05+02" -> "03:04:05+02:00" */
		if (len + 3 < sizeof(tmp) && len >= 3 &&
		    (val[len - 3] == '+' || val[len - 3] == '-')) {
			memcpy(tmp, val, len);
			memcpy(tmp + len, ":00", 3);
			put_string(out, tmp, len + 3);
		} else {
			put_string(out, val, len);
		}
		return;
	}
	case PGJ_STRING:
	case PGJ_ARRAY:
		break;
	}
	put_string(out, val, len);
}

/*
 * Parses PostgreSQL's array text format: optional "[lo:hi]=" dimensions, nested braces,
 * elements separated by commas, double-quoted elements with backslash escapes, bare NULL.
 */
static const char *
put_array(struct buf *out, enum pgjson_kind elem, const char *p, const char *end,
    struct buf *scratch, int depth)
{
	bool first = true;

	if (p >= end || *p != '{' || depth > 6)
		return NULL;
	p++;
	buf_putc(out, '[');
	while (p < end && *p != '}') {
		if (!first) {
			if (*p != ',')
				return NULL;
			p++;
			buf_putc(out, ',');
		}
		first = false;
		if (p < end && *p == '{') {
			p = put_array(out, elem, p, end, scratch, depth + 1);
			if (p == NULL)
				return NULL;
		} else if (p < end && *p == '"') {
			buf_reset(scratch);
			p++;
			while (p < end && *p != '"') {
				if (*p == '\\' && p + 1 < end)
					p++;
				buf_putc(scratch, *p++);
			}
			if (p >= end)
				return NULL;
			p++;
			put_scalar(out, elem, scratch->data ? scratch->data : "", scratch->len);
		} else {
			const char *start = p;

			while (p < end && *p != ',' && *p != '}')
				p++;
			if (p == start)
				return NULL;	/* an empty unquoted element is not array syntax */
			if (p - start == 4 && memcmp(start, "NULL", 4) == 0)
				buf_puts(out, "null");
			else
				put_scalar(out, elem, start, (size_t)(p - start));
		}
	}
	if (p >= end)
		return NULL;
	buf_putc(out, ']');
	return p + 1;
}

void
pgjson_value(struct buf *out, const struct pgjson_type *t, const char *val, size_t len)
{
	if (t->kind == PGJ_ARRAY) {
		struct buf scratch = BUF_INIT;
		size_t mark = out->len;
		const char *p = val, *end = val + len;

		if (p < end && *p == '[') {	/* "[0:1]={...}": the bounds are dropped */
			const char *eq = memchr(p, '=', len);

			p = eq ? eq + 1 : end;
		}
		p = put_array(out, t->elem, p, end, &scratch, 0);
		buf_free(&scratch);
		if (p == end)
			return;
		out->len = mark;	/* not an array literal we understand: keep the text */
		put_string(out, val, len);
		return;
	}
	put_scalar(out, t->kind, val, len);
}
