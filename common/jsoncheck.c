/* jsoncheck.c: strict JSON validation and raw member lookup, with no allocation. */
#include "jsoncheck.h"

#include <stdio.h>
#include <string.h>

#include "jsonw.h"
#include "util.h"

struct scan {
	const char *s;
	size_t n, i;
	int depth, max_depth;
	struct json_check *out;
};

static int
fail(struct scan *sc, const char *msg)
{
	if (sc->out->error[0] == '\0') {
		snprintf(sc->out->error, sizeof(sc->out->error), "%s at byte %zu", msg, sc->i);
		sc->out->error_offset = sc->i;
	}
	return -1;
}

static void
skip_ws(struct scan *sc)
{
	while (sc->i < sc->n) {
		char c = sc->s[sc->i];

		if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
			break;
		sc->i++;
	}
}

static int
hex4(struct scan *sc)
{
	for (int k = 0; k < 4; k++, sc->i++) {
		char c;

		if (sc->i >= sc->n)
			return fail(sc, "truncated \\u escape");
		c = sc->s[sc->i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
			return fail(sc, "bad \\u escape");
	}
	return 0;
}

static int
scan_string(struct scan *sc)
{
	sc->i++;	/* opening quote */
	while (sc->i < sc->n) {
		unsigned char c = (unsigned char)sc->s[sc->i];

		if (c == '"') {
			sc->i++;
			return 0;
		}
		if (c < 0x20)
			return fail(sc, c == 0 ? "NUL byte in a string" : "control character in a string");
		if (c >= 0x80) {
			/* A run of non-ASCII bytes is a sequence of whole UTF-8 characters or invalid. */
			size_t start = sc->i;

			while (sc->i < sc->n && (unsigned char)sc->s[sc->i] >= 0x80)
				sc->i++;
			if (!utf8_valid(sc->s + start, sc->i - start)) {
				sc->i = start;
				return fail(sc, "invalid UTF-8 in a string");
			}
			continue;
		}
		sc->i++;
		if (c == '\\') {
			char e;

			if (sc->i >= sc->n)
				break;
			e = sc->s[sc->i++];
			if (e == 'u') {
				if (hex4(sc) < 0)
					return -1;
			} else if (!strchr("\"\\/bfnrt", e)) {
				sc->i--;
				return fail(sc, "bad escape in a string");
			}
		}
	}
	return fail(sc, "unterminated string");
}

static int
scan_digits(struct scan *sc)
{
	size_t start = sc->i;

	while (sc->i < sc->n && sc->s[sc->i] >= '0' && sc->s[sc->i] <= '9')
		sc->i++;
	return sc->i > start ? 0 : fail(sc, "digit expected");
}

static int
scan_number(struct scan *sc)
{
	if (sc->s[sc->i] == '-')
		sc->i++;
	if (sc->i < sc->n && sc->s[sc->i] == '0') {
		sc->i++;
	} else if (scan_digits(sc) < 0) {
		return -1;
	}
	if (sc->i < sc->n && sc->s[sc->i] == '.') {
		sc->i++;
		if (scan_digits(sc) < 0)
			return -1;
	}
	if (sc->i < sc->n && (sc->s[sc->i] == 'e' || sc->s[sc->i] == 'E')) {
		sc->i++;
		if (sc->i < sc->n && (sc->s[sc->i] == '+' || sc->s[sc->i] == '-'))
			sc->i++;
		if (scan_digits(sc) < 0)
			return -1;
	}
	return 0;
}

static int
scan_literal(struct scan *sc, const char *word)
{
	size_t len = strlen(word);

	if (sc->n - sc->i < len || memcmp(sc->s + sc->i, word, len) != 0)
		return fail(sc, "unexpected character");
	sc->i += len;
	return 0;
}

static int scan_value(struct scan *sc);

static int
scan_container(struct scan *sc, char close)
{
	bool first = true;

	if (++sc->depth > sc->max_depth)
		return fail(sc, "nesting too deep");
	sc->i++;
	for (;;) {
		skip_ws(sc);
		if (sc->i >= sc->n)
			return fail(sc, "unexpected end of input");
		if (sc->s[sc->i] == close) {
			if (!first && sc->s[sc->i - 1] == ',')
				return fail(sc, "trailing comma");
			sc->i++;
			sc->depth--;
			return 0;
		}
		if (!first) {
			if (sc->s[sc->i] != ',')
				return fail(sc, close == '}' ? "',' or '}' expected" : "',' or ']' expected");
			sc->i++;
			skip_ws(sc);
			if (sc->i < sc->n && sc->s[sc->i] == close)
				return fail(sc, "trailing comma");
		}
		first = false;
		if (close == '}') {
			if (sc->i >= sc->n || sc->s[sc->i] != '"')
				return fail(sc, "object key must be a double-quoted string");
			if (scan_string(sc) < 0)
				return -1;
			skip_ws(sc);
			if (sc->i >= sc->n || sc->s[sc->i] != ':')
				return fail(sc, "':' expected");
			sc->i++;
			skip_ws(sc);
		}
		if (scan_value(sc) < 0)
			return -1;
	}
}

static int
scan_value(struct scan *sc)
{
	if (sc->i >= sc->n)
		return fail(sc, "unexpected end of input");
	switch (sc->s[sc->i]) {
	case '{':
		return scan_container(sc, '}');
	case '[':
		return scan_container(sc, ']');
	case '"':
		return scan_string(sc);
	case 't':
		return scan_literal(sc, "true");
	case 'f':
		return scan_literal(sc, "false");
	case 'n':
		return scan_literal(sc, "null");
	default:
		if (sc->s[sc->i] == '-' || (sc->s[sc->i] >= '0' && sc->s[sc->i] <= '9'))
			return scan_number(sc);
		return fail(sc, sc->s[sc->i] == '\'' ? "single-quoted strings are not JSON" :
		    "unexpected character");
	}
}

int
json_check(const char *s, size_t n, int max_depth, struct json_check *out)
{
	struct scan sc = { s, n, 0, 0, max_depth, out };

	memset(out, 0, sizeof(*out));
	skip_ws(&sc);
	if (sc.i >= n) {
		fail(&sc, "empty message");
		return -1;
	}
	out->top = s[sc.i];
	if (scan_value(&sc) < 0)
		return -1;
	skip_ws(&sc);
	if (sc.i != n)
		return fail(&sc, "unexpected data after the JSON value");
	return 0;
}

/* Skips one valid value starting at i; returns the index just past it. */
static size_t
skip_value(const char *s, size_t n, size_t i)
{
	struct json_check dummy;
	struct scan sc = { s, n, i, 0, 1 << 20, &dummy };

	dummy.error[0] = '\0';
	scan_value(&sc);
	return sc.i;
}

/* Compares a raw (possibly escaped) JSON string body with a plain ASCII key. */
static bool
key_equals(const char *raw, size_t n, const char *key, size_t klen)
{
	size_t i = 0, k = 0;

	if (memchr(raw, '\\', n) == NULL)
		return n == klen && memcmp(raw, key, n) == 0;
	while (i < n) {
		int c = (unsigned char)raw[i++];

		if (c == '\\' && i < n) {
			char e = raw[i++];

			if (e == 'u' && i + 4 <= n) {
				int v = 0;

				for (int d = 0; d < 4; d++) {
					int h = hex_digit_value(raw[i + (size_t)d]);

					if (h < 0)
						return false;
					v = v << 4 | h;
				}
				i += 4;
				c = v;
			} else {
				c = e == 'n' ? '\n' : e == 't' ? '\t' : e == 'r' ? '\r' :
				    e == 'b' ? '\b' : e == 'f' ? '\f' : e;
			}
		}
		if (k >= klen || c != (unsigned char)key[k++])
			return false;
	}
	return k == klen;
}

bool
json_raw_member(const char *s, size_t n, const char *key, struct json_span *out)
{
	size_t klen = strlen(key), i = 0;
	bool found = false;

	while (i < n && s[i] != '{')
		i++;
	i++;
	for (;;) {
		size_t kstart, kend, vstart;

		while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r' ||
		    s[i] == ','))
			i++;
		if (i >= n || s[i] != '"')
			break;
		kstart = i + 1;
		kend = skip_value(s, n, i) - 1;
		i = kend + 1;
		while (i < n && s[i] != ':')
			i++;
		i++;
		while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
			i++;
		vstart = i;
		i = skip_value(s, n, i);
		if (key_equals(s + kstart, kend - kstart, key, klen)) {
			out->start = vstart;
			out->len = i - vstart;
			found = true;
		}
	}
	return found;
}

void
json_each_element(const char *s, size_t n, bool (*fn)(void *ctx, struct json_span el), void *ctx)
{
	size_t i = 0;

	while (i < n && s[i] != '[')
		i++;
	i++;
	for (;;) {
		struct json_span el;

		while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r' ||
		    s[i] == ','))
			i++;
		if (i >= n || s[i] == ']')
			break;
		el.start = i;
		i = skip_value(s, n, i);
		el.len = i - el.start;
		if (!fn(ctx, el))
			break;
	}
}
