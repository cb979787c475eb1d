/*
 * jsoncheck.h: a strict RFC 8259 validator for incoming messages. It rejects what a lenient
 * parser would accept (single quotes, NaN, trailing commas, bad UTF-8), bounds nesting, and
 * finds the raw text of top-level members so ids are echoed exactly as sent.
 */
#ifndef PGMCP_JSONCHECK_H
#define PGMCP_JSONCHECK_H

#include <stdbool.h>
#include <stddef.h>

struct json_span {
	size_t start, len;
};

struct json_check {
	char error[160];	/* empty when valid */
	size_t error_offset;
	char top;		/* '{', '[' or another first character */
};

/* Returns 0 when s[0..n) is exactly one valid JSON value nested at most max_depth deep. */
int json_check(const char *s, size_t n, int max_depth, struct json_check *out);
/* Raw text of the last top-level member named key of a valid JSON object; false if absent. */
bool json_raw_member(const char *s, size_t n, const char *key, struct json_span *out);
/* Calls fn for each element of a valid top-level JSON array; stops early if fn returns false. */
void json_each_element(const char *s, size_t n, bool (*fn)(void *ctx, struct json_span el),
    void *ctx);

#endif
