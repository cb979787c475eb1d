/*
 * test_jsonw.c: the streaming JSON writer (common/jsonw.c): commas and nesting, string
 * escaping (quotes, backslash, control characters as \u00XX, NUL), invalid UTF-8 repaired
 * with U+FFFD, utf8_valid rejecting overlongs, surrogates and out-of-range sequences,
 * jw_jsonc round trips, jw_double/jw_fixed and the keyed helpers. Every document written
 * is also checked with json_check().
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <json.h>

#include "buf.h"
#include "jsoncheck.h"
#include "jsonw.h"
#include "tap.h"

#define FFFD "\xEF\xBF\xBD"

/* Checks that the writer's output is exactly want and is one valid JSON document. */
static void
check_doc(struct buf *b, const char *want, const char *name)
{
	struct json_check chk;
	const char *got = buf_cstr(b);

	is_str(got, want, "%s", name);
	ok(json_check(b->data, b->len, 64, &chk) == 0, "%s: valid JSON", name);
	if (chk.error[0])
		diag("json_check: %s", chk.error);
}

/* The JSON string value json_escape() makes of s[0..n), with quotes. */
static void
check_escape(const char *s, size_t n, const char *want, const char *name)
{
	struct buf b = BUF_INIT;
	struct jw w;

	jw_init(&w, &b);
	jw_strn(&w, s, n);
	check_doc(&b, want, name);
	buf_free(&b);
}

static void
test_structure(void)
{
	struct buf b = BUF_INIT;
	struct jw w;

	jw_init(&w, &b);
	jw_obj_begin(&w);
	jw_obj_end(&w);
	check_doc(&b, "{}", "empty object");

	buf_reset(&b);
	jw_init(&w, &b);
	jw_arr_begin(&w);
	jw_arr_end(&w);
	check_doc(&b, "[]", "empty array");

	buf_reset(&b);
	jw_init(&w, &b);
	jw_obj_begin(&w);
	jw_kint(&w, "a", 1);
	jw_key(&w, "b");
	jw_arr_begin(&w);
	jw_int(&w, 1);
	jw_str(&w, "two");
	jw_obj_begin(&w);
	jw_key(&w, "c");
	jw_null(&w);
	jw_obj_end(&w);
	jw_arr_begin(&w);
	jw_arr_end(&w);
	jw_bool(&w, false);
	jw_arr_end(&w);
	jw_key(&w, "d");
	jw_obj_begin(&w);
	jw_obj_end(&w);
	jw_kbool(&w, "e", true);
	jw_kstr(&w, "f", NULL);
	jw_kstr(&w, "g", "x");
	jw_obj_end(&w);
	check_doc(&b, "{\"a\":1,\"b\":[1,\"two\",{\"c\":null},[],false],\"d\":{},\"e\":true,"
	    "\"f\":null,\"g\":\"x\"}", "commas and nesting");

	/* Nested arrays of arrays: commas belong to each level separately. */
	buf_reset(&b);
	jw_init(&w, &b);
	jw_arr_begin(&w);
	for (int i = 0; i < 3; i++) {
		jw_arr_begin(&w);
		for (int j = 0; j <= i; j++)
			jw_int(&w, j);
		jw_arr_end(&w);
	}
	jw_arr_end(&w);
	check_doc(&b, "[[0],[0,1],[0,1,2]]", "arrays of arrays");

	/* jw_raw is one value, separated like any other. */
	buf_reset(&b);
	jw_init(&w, &b);
	jw_arr_begin(&w);
	jw_int(&w, 1);
	jw_raw(&w, "{\"x\":[1,2]}", 11);
	jw_raw(&w, "null", 4);
	jw_arr_end(&w);
	check_doc(&b, "[1,{\"x\":[1,2]},null]", "jw_raw values get commas");

	/* A string built in pieces with jw_str_begin/json_escape/jw_str_end. */
	buf_reset(&b);
	jw_init(&w, &b);
	jw_arr_begin(&w);
	jw_int(&w, 0);
	jw_str_begin(&w);
	json_escape(&b, "a\"", 2);
	json_escape(&b, "b\n", 2);
	jw_str_end(&w);
	jw_arr_end(&w);
	check_doc(&b, "[0,\"a\\\"b\\n\"]", "string in pieces");

	/* Integers at the edges of int64. */
	buf_reset(&b);
	jw_init(&w, &b);
	jw_arr_begin(&w);
	jw_int(&w, INT64_MAX);
	jw_int(&w, INT64_MIN);
	jw_int(&w, 0);
	jw_arr_end(&w);
	check_doc(&b, "[9223372036854775807,-9223372036854775808,0]", "int64 extremes");

	/* Keys are escaped like values. */
	buf_reset(&b);
	jw_init(&w, &b);
	jw_obj_begin(&w);
	jw_kint(&w, "k\"\\\n", 1);
	jw_obj_end(&w);
	check_doc(&b, "{\"k\\\"\\\\\\n\":1}", "keys are escaped");
	buf_free(&b);
}

static void
test_escaping(void)
{
	static const char ctl[] = "\x01\x02\x1f\x7f";

	check_escape("plain", 5, "\"plain\"", "plain text unchanged");
	check_escape("", 0, "\"\"", "empty string");
	check_escape("a\"b", 3, "\"a\\\"b\"", "double quote escaped");
	check_escape("a\\b", 3, "\"a\\\\b\"", "backslash escaped");
	check_escape("a/b", 3, "\"a/b\"", "slash not escaped");
	check_escape("\n\r\t\b\f", 5, "\"\\n\\r\\t\\b\\f\"", "short escapes");
	check_escape(ctl, 4, "\"\\u0001\\u0002\\u001f\x7f\"", "control characters as \\u00XX");
	check_escape("\x0b\x1b", 2, "\"\\u000b\\u001b\"", "VT and ESC as \\u00XX");
	check_escape("a\0b", 3, "\"a\\u0000b\"", "NUL as \\u0000");
	check_escape("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80", 14,
	    "\"caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80\"", "valid UTF-8 kept as is");
}

static void
test_utf8_repair(void)
{
	check_escape("\xff", 1, "\"" FFFD "\"", "0xFF becomes U+FFFD");
	check_escape("a\xfe" "b", 3, "\"a" FFFD "b\"", "0xFE inside text becomes U+FFFD");
	check_escape("\x80", 1, "\"" FFFD "\"", "lone continuation byte becomes U+FFFD");
	check_escape("\xC0\xAF", 2, "\"" FFFD FFFD "\"", "overlong 2-byte slash replaced");
	check_escape("\xED\xA0\x80", 3, "\"" FFFD FFFD FFFD "\"", "UTF-8 surrogate replaced");
	check_escape("\xF4\x90\x80\x80", 4, "\"" FFFD FFFD FFFD FFFD "\"",
	    "code point above U+10FFFF replaced");
	check_escape("x\xC3", 2, "\"x" FFFD "\"", "truncated 2-byte sequence at the end");
	check_escape("\xC3\"", 2, "\"" FFFD "\\\"\"", "lead byte before a quote: quote still escaped");

	/* Whatever the garbage, the result is valid JSON and valid UTF-8. */
	{
		unsigned char junk[256];
		struct buf b = BUF_INIT;
		struct json_check chk;
		struct jw w;
		bool valid;

		for (int i = 0; i < 256; i++)
			junk[i] = (unsigned char)(255 - i);
		jw_init(&w, &b);
		jw_strn(&w, (const char *)junk, sizeof(junk));
		valid = json_check(b.data, b.len, 4, &chk) == 0 && utf8_valid(b.data, b.len);
		ok(valid, "all 256 byte values escape to valid JSON and UTF-8");
		buf_free(&b);
	}
}

static void
test_utf8_valid(void)
{
	static const struct {
		const char *s;
		bool valid;
		const char *name;
	} cases[] = {
		{ "", true, "empty" },
		{ "ascii", true, "ASCII" },
		{ "\xC2\x80", true, "U+0080 (smallest 2-byte)" },
		{ "\xDF\xBF", true, "U+07FF" },
		{ "\xE0\xA0\x80", true, "U+0800 (smallest 3-byte)" },
		{ "\xED\x9F\xBF", true, "U+D7FF (below the surrogates)" },
		{ "\xEE\x80\x80", true, "U+E000 (above the surrogates)" },
		{ "\xEF\xBF\xBD", true, "U+FFFD" },
		{ "\xF0\x90\x80\x80", true, "U+10000 (smallest 4-byte)" },
		{ "\xF4\x8F\xBF\xBF", true, "U+10FFFF (largest)" },
		{ "\xC0\x80", false, "overlong NUL C0 80" },
		{ "\xC1\xBF", false, "overlong C1 BF" },
		{ "\xE0\x80\x80", false, "overlong 3-byte E0 80 80" },
		{ "\xE0\x9F\xBF", false, "overlong 3-byte E0 9F BF" },
		{ "\xF0\x80\x80\x80", false, "overlong 4-byte F0 80 80 80" },
		{ "\xF0\x8F\xBF\xBF", false, "overlong 4-byte F0 8F BF BF" },
		{ "\xED\xA0\x80", false, "surrogate U+D800" },
		{ "\xED\xBF\xBF", false, "surrogate U+DFFF" },
		{ "\xED\xA0\xBD\xED\xB8\x80", false, "CESU-8 surrogate pair" },
		{ "\xF4\x90\x80\x80", false, "U+110000" },
		{ "\xF5\x80\x80\x80", false, "F5 lead byte" },
		{ "\xFF", false, "FF byte" },
		{ "\x80", false, "lone continuation" },
		{ "\xE2\x82", false, "truncated 3-byte" },
		{ "\xF0\x9F\x98", false, "truncated 4-byte" },
		{ "\xC3\x28", false, "bad continuation byte" },
		{ "ok\xC3\xA9ok\xE2\x82", false, "valid prefix, truncated tail" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		ok(utf8_valid(cases[i].s, strlen(cases[i].s)) == cases[i].valid, "utf8_valid %s: %s",
		    cases[i].name, cases[i].valid ? "accepted" : "rejected");
	/* The length bounds the check: a valid prefix of a longer string. */
	ok(utf8_valid("\xC3\xA9\xFF", 2), "utf8_valid stops at n");
}

static void
jsonc_round_trip(const char *text, const char *want, const char *name)
{
	struct json_object *o = json_tokener_parse(text);
	struct buf b = BUF_INIT;
	struct jw w;

	jw_init(&w, &b);
	jw_arr_begin(&w);
	jw_jsonc(&w, o);
	jw_arr_end(&w);
	check_doc(&b, want, name);
	json_object_put(o);
	buf_free(&b);
}

static void
test_jsonc(void)
{
	jsonc_round_trip("{\"a\":[1,2.5,\"x\\\"y\"],\"b\":null,\"c\":true,\"d\":{}}",
	    "[{\"a\":[1,2.5,\"x\\\"y\"],\"b\":null,\"c\":true,\"d\":{}}]", "jw_jsonc object round trip");
	jsonc_round_trip("  { \"a\" : [ 1 , 2 ] }  ", "[{\"a\":[1,2]}]", "jw_jsonc is compact");
	jsonc_round_trip("\"a/b\"", "[\"a/b\"]", "jw_jsonc does not escape slashes");
	jsonc_round_trip("1.0", "[1.0]", "jw_jsonc keeps 1.0 as sent");
	jsonc_round_trip("-17", "[-17]", "jw_jsonc integer");
	jsonc_round_trip("\"\\u00e9\"", "[\"\xC3\xA9\"]", "jw_jsonc unicode escape decoded");

	{
		struct buf b = BUF_INIT;
		struct jw w;

		jw_init(&w, &b);
		jw_arr_begin(&w);
		jw_int(&w, 1);
		jw_jsonc(&w, NULL);
		jw_arr_end(&w);
		check_doc(&b, "[1,null]", "jw_jsonc(NULL) writes null after a comma");
		buf_free(&b);
	}
}

static void
test_numbers(void)
{
	struct buf b = BUF_INIT;
	struct jw w;

	jw_init(&w, &b);
	jw_obj_begin(&w);
	jw_key(&w, "ms");
	jw_fixed(&w, 1.23456, 3);
	jw_key(&w, "whole");
	jw_fixed(&w, 2.0, 0);
	jw_key(&w, "neg");
	jw_fixed(&w, -1.5, 1);
	jw_key(&w, "pad");
	jw_fixed(&w, 0.5, 3);
	jw_key(&w, "nan");
	jw_fixed(&w, NAN, 3);
	jw_key(&w, "inf");
	jw_fixed(&w, INFINITY, 2);
	jw_obj_end(&w);
	check_doc(&b, "{\"ms\":1.235,\"whole\":2,\"neg\":-1.5,\"pad\":0.500,\"nan\":null,"
	    "\"inf\":null}", "jw_fixed: rounding, padding, non-finite as null");

	buf_reset(&b);
	jw_init(&w, &b);
	jw_arr_begin(&w);
	jw_double(&w, 0.5);
	jw_double(&w, -2.0);
	jw_double(&w, NAN);
	jw_double(&w, -INFINITY);
	jw_arr_end(&w);
	check_doc(&b, "[0.5,-2,null,null]", "jw_double: non-finite as null");

	/* jw_double keeps enough digits to round-trip. */
	buf_reset(&b);
	jw_init(&w, &b);
	jw_double(&w, 0.1);
	ok(strtod(buf_cstr(&b), NULL) == 0.1, "jw_double(0.1) round-trips (%s)", buf_cstr(&b));
	buf_free(&b);
}

int
main(void)
{
	plan(100);
	test_structure();
	test_escaping();
	test_utf8_repair();
	test_utf8_valid();
	test_jsonc();
	test_numbers();
	return done_testing();
}
