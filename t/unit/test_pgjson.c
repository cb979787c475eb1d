/*
 * test_pgjson.c: PostgreSQL text values to typed JSON (server/pgjson.c): pgjson_type_of for
 * common type OIDs and arrays, then pgjson_value for int8 around +-2^53, float NaN and
 * infinities, numeric by significant digits, bool, json minification (whitespace kept inside
 * strings, escaped quotes), bytea hex to base64, timestamptz offsets, timestamp, BC dates,
 * timetz, and arrays (empty, NULL elements, quoted elements with escapes, nested, dimension
 * decoration, malformed text kept as a string). Every output is checked with json_check().
 */
#include <string.h>

#include "buf.h"
#include "jsoncheck.h"
#include "pgjson.h"
#include "tap.h"

enum {
	BOOL = 16, BYTEA = 17, INT8 = 20, INT2 = 21, INT4 = 23, TEXT = 25, OID = 26, JSON = 114,
	FLOAT4 = 700, FLOAT8 = 701, DATE = 1082, TIMESTAMP = 1114, TIMESTAMPTZ = 1184,
	INTERVAL = 1186, TIMETZ = 1266, NUMERIC = 1700, UUID = 2950, JSONB = 3802,
	BOOLARR = 1000, BYTEAARR = 1001, INT4ARR = 1007, TEXTARR = 1009, INT8ARR = 1016,
	FLOAT8ARR = 1022, TSTZARR = 1185, NUMERICARR = 1231, JSONARR = 199, JSONBARR = 3807,
};

static void
type_is(pg_oid oid, enum pgjson_kind kind, enum pgjson_kind elem, const char *name)
{
	struct pgjson_type t;

	pgjson_type_of(oid, &t);
	ok(t.kind == kind && (kind != PGJ_ARRAY || t.elem == elem) &&
	    (name == NULL ? t.name == NULL : t.name != NULL && strcmp(t.name, name) == 0),
	    "pgjson_type_of(%u) is %s", oid, name ? name : "an unnamed string type");
	if (t.kind != kind || (name != NULL && (t.name == NULL || strcmp(t.name, name) != 0)))
		diag("kind %d elem %d name %s", (int)t.kind, (int)t.elem, t.name ? t.name : "(null)");
}

/* Converts text of type oid; checks the output exactly and that it is valid JSON (2 tests). */
static void
value_n(pg_oid oid, const char *text, size_t len, const char *want, const char *name)
{
	struct pgjson_type t;
	struct buf b = BUF_INIT;
	struct json_check chk;

	pgjson_type_of(oid, &t);
	buf_puts(&b, "[");	/* something before, to catch writes that assume an empty buffer */
	pgjson_value(&b, &t, text, len);
	buf_puts(&b, "]");
	{
		char wrapped[1024];

		snprintf(wrapped, sizeof(wrapped), "[%s]", want);
		is_str(buf_cstr(&b), wrapped, "%s", name);
	}
	if (!ok(json_check(b.data, b.len, 64, &chk) == 0, "%s: output is valid JSON", name))
		diag("json_check: %s", chk.error);
	buf_free(&b);
}

static void
value(pg_oid oid, const char *text, const char *want, const char *name)
{
	value_n(oid, text, strlen(text), want, name);
}

static void
test_types(void)
{
	type_is(BOOL, PGJ_BOOL, 0, "boolean");
	type_is(BYTEA, PGJ_BYTEA, 0, "bytea");
	type_is(INT2, PGJ_INT, 0, "smallint");
	type_is(INT4, PGJ_INT, 0, "integer");
	type_is(INT8, PGJ_INT8, 0, "bigint");
	type_is(OID, PGJ_INT, 0, "oid");
	type_is(TEXT, PGJ_STRING, 0, "text");
	type_is(1043, PGJ_STRING, 0, "character varying");
	type_is(FLOAT4, PGJ_FLOAT, 0, "real");
	type_is(FLOAT8, PGJ_FLOAT, 0, "double precision");
	type_is(NUMERIC, PGJ_NUMERIC, 0, "numeric");
	type_is(JSON, PGJ_JSON, 0, "json");
	type_is(JSONB, PGJ_JSON, 0, "jsonb");
	type_is(DATE, PGJ_STRING, 0, "date");
	type_is(TIMESTAMP, PGJ_TIMESTAMP, 0, "timestamp");
	type_is(TIMESTAMPTZ, PGJ_TIMESTAMPTZ, 0, "timestamptz");
	type_is(TIMETZ, PGJ_TIMETZ, 0, "timetz");
	type_is(INTERVAL, PGJ_STRING, 0, "interval");
	type_is(UUID, PGJ_STRING, 0, "uuid");
	type_is(INT4ARR, PGJ_ARRAY, PGJ_INT, "integer[]");
	type_is(INT8ARR, PGJ_ARRAY, PGJ_INT8, "bigint[]");
	type_is(TEXTARR, PGJ_ARRAY, PGJ_STRING, "text[]");
	type_is(BOOLARR, PGJ_ARRAY, PGJ_BOOL, "boolean[]");
	type_is(NUMERICARR, PGJ_ARRAY, PGJ_NUMERIC, "numeric[]");
	type_is(JSONBARR, PGJ_ARRAY, PGJ_JSON, "jsonb[]");
	type_is(TSTZARR, PGJ_ARRAY, PGJ_TIMESTAMPTZ, "timestamptz[]");
	type_is(99999, PGJ_STRING, 0, NULL);
	type_is(0, PGJ_STRING, 0, NULL);
}

static void
test_numbers(void)
{
	value(INT4, "42", "42", "int4");
	value(INT2, "-7", "-7", "int2 negative");
	value(INT8, "9007199254740992", "9007199254740992", "int8 2^53 is a number");
	value(INT8, "-9007199254740992", "-9007199254740992", "int8 -2^53 is a number");
	value(INT8, "9007199254740993", "\"9007199254740993\"", "int8 2^53+1 is a string");
	value(INT8, "-9007199254740993", "\"-9007199254740993\"", "int8 -2^53-1 is a string");
	value(INT8, "9223372036854775807", "\"9223372036854775807\"", "int8 max is a string");
	value(INT8, "-9223372036854775808", "\"-9223372036854775808\"", "int8 min is a string");
	value(INT8, "0", "0", "int8 zero");
	value(FLOAT8, "NaN", "\"NaN\"", "float8 NaN is a string");
	value(FLOAT8, "Infinity", "\"Infinity\"", "float8 Infinity is a string");
	value(FLOAT8, "-Infinity", "\"-Infinity\"", "float8 -Infinity is a string");
	value(FLOAT4, "NaN", "\"NaN\"", "float4 NaN is a string");
	value(FLOAT8, "1.5", "1.5", "float8 number");
	value(FLOAT8, "-1.5e-07", "-1.5e-07", "float8 with exponent");
	value(FLOAT8, "1e+308", "1e+308", "float8 large exponent");
	value(NUMERIC, "123456789012345", "123456789012345", "numeric with 15 digits is a number");
	value(NUMERIC, "1234567890123456", "\"1234567890123456\"",
	    "numeric with 16 digits is a string");
	value(NUMERIC, "12345678901234.5", "12345678901234.5", "numeric 15 digits with a point");
	value(NUMERIC, "1234567890123.456", "\"1234567890123.456\"",
	    "numeric 16 digits with a point is a string");
	value(NUMERIC, "0.000123", "0.000123", "numeric leading zeros do not count");
	value(NUMERIC, "-0.5", "-0.5", "numeric negative fraction");
	value(NUMERIC, "0", "0", "numeric zero");
	value(NUMERIC, "0.100000000000000", "0.100000000000000", "numeric trailing zeros: 15 digits");
	value(NUMERIC, "NaN", "\"NaN\"", "numeric NaN is a string");
	value(NUMERIC, "Infinity", "\"Infinity\"", "numeric Infinity is a string");
	value(NUMERIC, "-Infinity", "\"-Infinity\"", "numeric -Infinity is a string");
	value(NUMERIC, "100000000000000000000", "\"100000000000000000000\"",
	    "numeric with 21 digits is a string");
	value(BOOL, "t", "true", "bool t");
	value(BOOL, "f", "false", "bool f");
}

static void
test_json(void)
{
	value(JSON, "{\"a\" : \"x  y\",\n \"b\\\"c\" : [1, 2],\t\"d\": {\"e\": null}}",
	    "{\"a\":\"x  y\",\"b\\\"c\":[1,2],\"d\":{\"e\":null}}",
	    "json minified, whitespace in strings kept, escaped quote kept");
	value(JSONB, "{\"a\": 1, \"b\": \"one \\\" two\"}", "{\"a\":1,\"b\":\"one \\\" two\"}",
	    "jsonb with an escaped quote inside a string");
	value(JSONB, "[\"a\\\\\", \" b \"]", "[\"a\\\\\",\" b \"]",
	    "string ending in an escaped backslash");
	value(JSONB, "\"just a string\"", "\"just a string\"", "jsonb scalar string");
	value(JSONB, "  42  ", "42", "jsonb scalar number with spaces");
	value(JSON, "{\"k\": \"\\u00e9 \\n\"}", "{\"k\":\"\\u00e9 \\n\"}", "json escapes untouched");
	value(JSON, "[\r\n  {}\r\n]", "[{}]", "CR LF outside strings dropped");
}

static void
test_bytea_and_text(void)
{
	value(BYTEA, "\\xdeadbeef", "\"3q2+7w==\"", "bytea hex to base64");
	value(BYTEA, "\\x", "\"\"", "empty bytea");
	value(BYTEA, "\\x00ff", "\"AP8=\"", "bytea NUL and 0xff");
	value(BYTEA, "abc\\000", "\"abc\\\\000\"", "escape-format bytea kept as text");
	value(BYTEA, "\\x666f6fzz", "\"\\\\x666f6fzz\"", "malformed hex bytea kept as text");
	value(TEXT, "say \"hi\"\n\\", "\"say \\\"hi\\\"\\n\\\\\"", "text escaped");
	value_n(TEXT, "a\0b", 3, "\"a\\u0000b\"", "text with a NUL byte");
	value(TEXT, "bad \xff utf8", "\"bad \xEF\xBF\xBD utf8\"", "text with invalid UTF-8 repaired");
	value(UUID, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "\"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11\"",
	    "uuid as a string");
	value(DATE, "2024-02-29", "\"2024-02-29\"", "date as a string");
	value(INTERVAL, "1 day 02:03:04", "\"1 day 02:03:04\"", "interval as a string");
	value(99999, "an enum label", "\"an enum label\"", "unknown type as a string");
}

static void
test_times(void)
{
	value(TIMESTAMPTZ, "2024-01-02 03:04:05+00", "\"2024-01-02T03:04:05+00:00\"",
	    "timestamptz +00 becomes +00:00");
	value(TIMESTAMPTZ, "2024-01-02 03:04:05.123456+05:30", "\"2024-01-02T03:04:05.123456+05:30\"",
	    "timestamptz +05:30 kept");
	value(TIMESTAMPTZ, "2024-01-02 03:04:05-08", "\"2024-01-02T03:04:05-08:00\"",
	    "timestamptz -08 becomes -08:00");
	value(TIMESTAMPTZ, "1900-01-01 00:00:00+00:53:28", "\"1900-01-01T00:00:00+00:53:28\"",
	    "timestamptz offset with seconds kept");
	value(TIMESTAMPTZ, "infinity", "\"infinity\"", "timestamptz infinity");
	value(TIMESTAMPTZ, "-infinity", "\"-infinity\"", "timestamptz -infinity");
	value(TIMESTAMPTZ, "0044-03-15 12:00:00+00 BC", "\"0044-03-15 12:00:00+00 BC\"",
	    "timestamptz BC left as text");
	value(TIMESTAMP, "2024-01-02 03:04:05", "\"2024-01-02T03:04:05\"", "timestamp space to T");
	value(TIMESTAMP, "2024-01-02 03:04:05.5", "\"2024-01-02T03:04:05.5\"",
	    "timestamp with a fraction");
	value(TIMESTAMP, "0001-01-01 00:00:00 BC", "\"0001-01-01 00:00:00 BC\"",
	    "timestamp BC left as text");
	value(TIMESTAMP, "infinity", "\"infinity\"", "timestamp infinity");
	value(TIMETZ, "03:04:05+02", "\"03:04:05+02:00\"", "timetz +02 becomes +02:00");
	value(TIMETZ, "03:04:05.5-08", "\"03:04:05.5-08:00\"", "timetz -08 becomes -08:00");
	value(TIMETZ, "03:04:05+05:30", "\"03:04:05+05:30\"", "timetz +05:30 kept");
}

static void
test_arrays(void)
{
	value(INT4ARR, "{}", "[]", "empty array");
	value(INT4ARR, "{1,2,3}", "[1,2,3]", "int array");
	value(INT4ARR, "{1,NULL,3}", "[1,null,3]", "NULL element");
	value(TEXTARR, "{a,\"b c\",\"d\\\"e\",\"f\\\\g\",NULL,\"NULL\",\"\"}",
	    "[\"a\",\"b c\",\"d\\\"e\",\"f\\\\g\",null,\"NULL\",\"\"]",
	    "quoted elements with escapes; quoted NULL is text");
	value(TEXTARR, "{\"{x}\",\"a,b\"}", "[\"{x}\",\"a,b\"]", "braces and commas inside quotes");
	value(INT4ARR, "{{1,2},{3,4}}", "[[1,2],[3,4]]", "nested array");
	value(INT4ARR, "{{{1},{2}},{{3},{4}}}", "[[[1],[2]],[[3],[4]]]", "three dimensions");
	value(INT4ARR, "{{{{{{1}}}}}}", "[[[[[[1]]]]]]", "six dimensions, the maximum");
	value(INT4ARR, "[0:1]={1,2}", "[1,2]", "dimension decoration dropped");
	value(INT4ARR, "[1:2][1:1]={{1},{2}}", "[[1],[2]]", "two-dimension decoration dropped");
	value(BOOLARR, "{t,f,NULL}", "[true,false,null]", "bool array");
	value(FLOAT8ARR, "{1.5,NaN,-Infinity}", "[1.5,\"NaN\",\"-Infinity\"]", "float array");
	value(INT8ARR, "{1,9007199254740993}", "[1,\"9007199254740993\"]", "int8 array");
	value(NUMERICARR, "{1.5,1234567890123456}", "[1.5,\"1234567890123456\"]", "numeric array");
	value(JSONBARR, "{\"{\\\"a\\\": 1}\",\"[1, 2]\"}", "[{\"a\":1},[1,2]]", "jsonb array");
	value(TSTZARR, "{\"2024-01-02 03:04:05+00\"}", "[\"2024-01-02T03:04:05+00:00\"]",
	    "timestamptz array");
	value(BYTEAARR, "{\"\\\\xdead\"}", "[\"3q0=\"]", "bytea array");
	value(TEXTARR, "{caf\xC3\xA9}", "[\"caf\xC3\xA9\"]", "UTF-8 element");

	/* Malformed array text falls back to a JSON string of the text. */
	value(INT4ARR, "{1,2", "\"{1,2\"", "unterminated array kept as text");
	value(INT4ARR, "{1,2}x", "\"{1,2}x\"", "trailing text kept as text");
	value(INT4ARR, "1,2", "\"1,2\"", "no braces kept as text");
	value(TEXTARR, "{\"a}", "\"{\\\"a}\"", "unterminated quote kept as text");
	value(INT4ARR, "[0:1]{1,2}", "\"[0:1]{1,2}\"", "decoration without = kept as text");
	value(INT4ARR, "{{1,2}", "\"{{1,2}\"", "unbalanced nesting kept as text");
	value(INT4ARR, "", "\"\"", "empty text kept as text");
	value(INT4ARR, "{{{{{{{{1}}}}}}}}", "\"{{{{{{{{1}}}}}}}}\"", "eight levels kept as text");
	value(INT4ARR, "{1,,2}", "\"{1,,2}\"", "empty element kept as text");
}

int
main(void)
{
	plan(208);
	test_types();
	test_numbers();
	test_json();
	test_bytea_and_text();
	test_times();
	test_arrays();
	return done_testing();
}
