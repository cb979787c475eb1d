/*
 * test_jsoncheck.c: the strict RFC 8259 validator (common/jsoncheck.c): valid documents,
 * every class of invalid input (single quotes, NaN/Infinity, trailing commas, leading
 * zeros, bad numbers, bad escapes, raw control characters, invalid UTF-8, truncation,
 * trailing garbage, empty input, the depth limit exactly at and beyond max_depth), error
 * offsets, json_raw_member's exact raw text (1.0, -0, big integers, escaped strings, the
 * last duplicate wins) and json_each_element's spans.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsoncheck.h"
#include "tap.h"

static void
valid(const char *s, char top, const char *name)
{
	struct json_check chk;
	int r = json_check(s, strlen(s), 64, &chk);

	if (!ok(r == 0 && chk.error[0] == '\0' && chk.top == top, "valid: %s", name))
		diag("error: %s (top '%c')", chk.error, chk.top);
}

/* Invalid input: json_check fails, the error mentions want (if given). */
static void
invalid_n(const char *s, size_t n, const char *want, const char *name)
{
	struct json_check chk;
	int r = json_check(s, n, 64, &chk);

	if (!ok(r < 0 && chk.error[0] != '\0' && (want == NULL || strstr(chk.error, want) != NULL),
	    "invalid: %s", name))
		diag("result %d, error \"%s\", expected to mention \"%s\"", r, chk.error,
		    want ? want : "");
}

static void
invalid(const char *s, const char *want, const char *name)
{
	invalid_n(s, strlen(s), want, name);
}

static void
test_valid(void)
{
	valid("{}", '{', "empty object");
	valid("[]", '[', "empty array");
	valid("0", '0', "zero");
	valid("-0", '-', "minus zero");
	valid("0.5", '0', "fraction");
	valid("-12.5e+10", '-', "exponent with sign");
	valid("1E-2", '1', "capital E");
	valid("0e0", '0', "zero exponent");
	valid("12345678901234567890123", '1', "integer beyond 64 bits");
	valid("\"x\"", '"', "string");
	valid("true", 't', "true");
	valid("false", 'f', "false");
	valid("null", 'n', "null");
	valid(" \t\r\n{ \"a\" : [ 1 , 2 , { \"b\" : null } ] , \"c\" : \"d\" } \n", '{',
	    "whitespace everywhere");
	valid("{\"e\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\uD83D\\uDE00\"}", '{', "every escape");
	valid("[\"caf\xC3\xA9\", \"\xF0\x9F\x98\x80\", \"\xE2\x82\xAC\"]", '[', "UTF-8 in strings");
	valid("{\"a\":{\"a\":{\"a\":[]}}}", '{', "nested objects");
	valid("[\"\x7f\"]", '[', "DEL is allowed raw");
	valid("{\"\":0}", '{', "empty key");
}

static void
test_invalid(void)
{
	/* quotes and literals */
	invalid("{'a':1}", "double-quoted", "single-quoted key");
	invalid("['a']", "single-quoted", "single-quoted string");
	invalid("NaN", NULL, "NaN");
	invalid("[NaN]", NULL, "NaN in an array");
	invalid("Infinity", NULL, "Infinity");
	invalid("-Infinity", NULL, "-Infinity");
	invalid("True", NULL, "capitalised True");
	invalid("nul", NULL, "truncated null");
	invalid("[undefined]", NULL, "undefined");
	invalid("{a:1}", "double-quoted", "bare key");
	invalid("{1:2}", "double-quoted", "numeric key");
	/* commas */
	invalid("[1,]", "trailing comma", "trailing comma in an array");
	invalid("{\"a\":1,}", "trailing comma", "trailing comma in an object");
	invalid("[1 ,  ]", "trailing comma", "trailing comma with spaces");
	invalid("[1,,2]", NULL, "double comma");
	invalid("[,1]", NULL, "leading comma");
	invalid("[1 2]", "','", "missing comma");
	invalid("{\"a\":1 \"b\":2}", "','", "missing comma between members");
	invalid("{\"a\" 1}", "':'", "missing colon");
	invalid("{\"a\"}", "':'", "key without value");
	/* numbers */
	invalid("01", NULL, "leading zero");
	invalid("-01", NULL, "leading zero after minus");
	invalid("[00]", NULL, "double zero");
	invalid("1.", "digit", "no digits after the point");
	invalid(".5", NULL, "no digits before the point");
	invalid("+1", NULL, "leading plus");
	invalid("1e", "digit", "empty exponent");
	invalid("1e+", "digit", "exponent sign only");
	invalid("-", "digit", "lone minus");
	invalid("0x10", NULL, "hex number");
	invalid("1.5.2", NULL, "two points");
	/* strings and escapes */
	invalid("\"\\x41\"", "bad escape", "\\x escape");
	invalid("\"\\'\"", "bad escape", "\\' escape");
	invalid("\"\\a\"", "bad escape", "\\a escape");
	invalid("\"\\u12\"", "\\u escape", "short \\u escape");
	invalid("\"\\u12G4\"", "\\u escape", "non-hex \\u escape");
	invalid("\"\\u00", "\\u escape", "truncated \\u escape");
	invalid("\"abc\\", NULL, "truncated after a backslash");
	invalid("\"a\nb\"", "control character", "raw newline in a string");
	invalid("\"a\tb\"", "control character", "raw tab in a string");
	invalid("\"\x1f\"", "control character", "raw 0x1F in a string");
	invalid_n("\"a\0b\"", 5, "NUL", "raw NUL in a string");
	invalid_n("{\"a\":1}\0", 8, NULL, "NUL after the value");
	/* UTF-8 */
	invalid("\"\xff\"", "UTF-8", "0xFF in a string");
	invalid("\"\xC0\xAF\"", "UTF-8", "overlong in a string");
	invalid("\"\xED\xA0\x80\"", "UTF-8", "surrogate in a string");
	invalid("\"\xE2\x82\"", "UTF-8", "truncated sequence in a string");
	invalid("\"\xF4\x90\x80\x80\"", "UTF-8", "above U+10FFFF in a string");
	invalid("{\"k\xff\":1}", "UTF-8", "invalid UTF-8 in a key");
	invalid("\xEF\xBB\xBF{}", NULL, "byte order mark");
	/* truncation */
	invalid("{", "end of input", "lone open brace");
	invalid("[", "end of input", "lone open bracket");
	invalid("{\"a\"", NULL, "object cut after a key");
	invalid("{\"a\":", "end of input", "object cut after a colon");
	invalid("[1,2", "end of input", "array cut");
	invalid("\"abc", "unterminated", "string cut");
	invalid("tru", NULL, "literal cut");
	invalid("{\"a\":[1,{\"b\":", NULL, "deep cut");
	/* trailing garbage */
	invalid("{} {}", "after the JSON value", "two objects");
	invalid("1 2", "after the JSON value", "two numbers");
	invalid("[]x", "after the JSON value", "letter after an array");
	invalid("nullx", "after the JSON value", "letter after null");
	invalid("{}}", "after the JSON value", "extra brace");
	invalid("[]]", "after the JSON value", "extra bracket");
	/* empty */
	invalid("", "empty", "empty input");
	invalid("   \n\t", "empty", "whitespace only");
	/* not JSON whitespace */
	invalid("\v{}", NULL, "vertical tab is not whitespace");
	invalid("{}\f", NULL, "form feed is not whitespace");
	invalid("[1\xC2\xA0]", NULL, "non-breaking space is not whitespace");
}

static void
test_depth(void)
{
	struct json_check chk;
	char deep[200];

	ok(json_check("[[[1]]]", 7, 3, &chk) == 0, "depth 3 with max_depth 3 accepted");
	ok(json_check("[[[[1]]]]", 9, 3, &chk) < 0 && strstr(chk.error, "too deep") != NULL,
	    "depth 4 with max_depth 3 refused");
	ok(json_check("{\"a\":{\"b\":[]}}", 14, 3, &chk) == 0, "mixed depth 3 accepted");
	ok(json_check("{\"a\":{\"b\":[{}]}}", 16, 3, &chk) < 0, "mixed depth 4 refused");
	ok(json_check("[[],[],[[]]]", 12, 3, &chk) == 0, "siblings do not add depth");
	ok(json_check("1", 1, 0, &chk) == 0, "a scalar needs no depth");
	ok(json_check("[]", 2, 0, &chk) < 0, "max_depth 0 refuses any container");

	/* 64 levels exactly at the limit, 65 beyond it. */
	memset(deep, '[', 64);
	memset(deep + 64, ']', 64);
	ok(json_check(deep, 128, 64, &chk) == 0, "64 levels at max_depth 64 accepted");
	memset(deep, '[', 65);
	memset(deep + 65, ']', 65);
	ok(json_check(deep, 130, 64, &chk) < 0 && strstr(chk.error, "too deep") != NULL,
	    "65 levels at max_depth 64 refused");
	is_int((long long)chk.error_offset, 64, "depth error offset is the 65th bracket");
}

static void
test_offsets(void)
{
	struct json_check chk;

	json_check("[1,]", 4, 8, &chk);
	is_int((long long)chk.error_offset, 3, "trailing comma offset");
	json_check("{'a':1}", 7, 8, &chk);
	is_int((long long)chk.error_offset, 1, "single quote offset");
	json_check("{\"a\":\"x\xff\"}", 10, 8, &chk);
	is_int((long long)chk.error_offset, 7, "invalid UTF-8 offset");
	json_check("[1] x", 5, 8, &chk);
	is_int((long long)chk.error_offset, 4, "trailing garbage offset");
	like(chk.error, "at byte 4", "error text names the byte");
}

static void
raw_member(const char *doc, const char *key, const char *want, const char *name)
{
	struct json_span sp = { 0, 0 };
	char got[256];
	bool found = json_raw_member(doc, strlen(doc), key, &sp);

	if (want == NULL) {
		ok(!found, "json_raw_member: %s", name);
		return;
	}
	snprintf(got, sizeof(got), "%.*s", found ? (int)sp.len : 0, found ? doc + sp.start : "");
	is_str(found ? got : NULL, want, "json_raw_member: %s", name);
}

static void
test_raw_member(void)
{
	raw_member("{\"jsonrpc\":\"2.0\",\"id\":1.0,\"method\":\"x\"}", "id", "1.0", "1.0 as sent");
	raw_member("{\"id\":-0}", "id", "-0", "-0 as sent");
	raw_member("{\"id\":12345678901234567890}", "id", "12345678901234567890", "big integer");
	raw_member("{\"id\":1e2}", "id", "1e2", "exponent as sent");
	raw_member("{\"id\":\"a\\u0041\"}", "id", "\"a\\u0041\"", "escaped string raw");
	raw_member("{\"id\":1,\"x\":2,\"id\":\"last\"}", "id", "\"last\"", "the last duplicate wins");
	raw_member("{\"id\":1,\"id\":2,\"id\":3}", "id", "3", "three duplicates: the last");
	raw_member("{\"params\":{\"id\":9},\"id\":7}", "id", "7", "nested id ignored");
	raw_member("{\"params\":{\"id\":9}}", "id", NULL, "only a nested id: absent");
	raw_member("{ \"id\" : 42 , \"m\" : 1 }", "id", "42", "whitespace around");
	raw_member("{\"a\":\"}{\\\"id\\\":3\",\"id\":4}", "id", "4", "id-like text in a string");
	raw_member("{\"id\":{\"x\":[1,{\"y\":2}]}}", "id", "{\"x\":[1,{\"y\":2}]}", "object value");
	raw_member("{\"id\":[1,2]}", "id", "[1,2]", "array value");
	raw_member("{\"id\":null}", "id", "null", "null value");
	raw_member("{\"idx\":1,\"i\":2}", "id", NULL, "prefix and shorter keys do not match");
	raw_member("{}", "id", NULL, "empty object");
	raw_member("{\"method\":\"ping\"}", "id", NULL, "absent");
	raw_member("{\"\\u0069d\":5}", "id", "5", "key spelled with an escape");
}

struct spans {
	const char *doc;
	char got[8][64];
	int count;
	int stop_after;
};

static bool
collect(void *ctx, struct json_span el)
{
	struct spans *sp = ctx;

	if (sp->count < 8)
		snprintf(sp->got[sp->count], sizeof(sp->got[0]), "%.*s", (int)el.len, sp->doc + el.start);
	sp->count++;
	return sp->stop_after == 0 || sp->count < sp->stop_after;
}

static void
test_each_element(void)
{
	struct spans sp;

	memset(&sp, 0, sizeof(sp));
	sp.doc = "[1, \"a,b\" ,{\"x\":[2,3]}, null,[\"]\"],-0.5e1]";
	json_each_element(sp.doc, strlen(sp.doc), collect, &sp);
	is_int(sp.count, 6, "json_each_element visits every element");
	is_str(sp.got[0], "1", "span 0: number");
	is_str(sp.got[1], "\"a,b\"", "span 1: string with a comma");
	is_str(sp.got[2], "{\"x\":[2,3]}", "span 2: object");
	is_str(sp.got[3], "null", "span 3: null");
	is_str(sp.got[4], "[\"]\"]", "span 4: array holding a bracket in a string");
	is_str(sp.got[5], "-0.5e1", "span 5: number with exponent");

	memset(&sp, 0, sizeof(sp));
	sp.doc = "[{\"id\":1},{\"id\":2},{\"id\":3}]";
	sp.stop_after = 2;
	json_each_element(sp.doc, strlen(sp.doc), collect, &sp);
	is_int(sp.count, 2, "json_each_element stops when fn returns false");

	memset(&sp, 0, sizeof(sp));
	sp.doc = "[]";
	json_each_element(sp.doc, strlen(sp.doc), collect, &sp);
	is_int(sp.count, 0, "empty array: no calls");

	memset(&sp, 0, sizeof(sp));
	sp.doc = " [ \n ] ";
	json_each_element(sp.doc, strlen(sp.doc), collect, &sp);
	is_int(sp.count, 0, "array of whitespace: no calls");
}

int
main(void)
{
	plan(131);
	test_valid();
	test_invalid();
	test_depth();
	test_offsets();
	test_raw_member();
	test_each_element();
	return done_testing();
}
