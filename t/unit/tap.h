/*
 * tap.h: a tiny header-only TAP producer for the C unit tests (plan, ok, is_int, is_str,
 * like, diag, done_testing). Include it once per test program; every function is static.
 * Output goes to stdout, flushed per line, so diagnostics stay next to their test line.
 */
#ifndef PGMCP_TAP_H
#define PGMCP_TAP_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define TAP_UNUSED __attribute__((unused))
#define TAP_PRINTF(a, b) __attribute__((format(printf, a, b)))

static int tap_planned = -1;
static int tap_count;
static int tap_failed;

/* Prints the plan line "1..n"; call it before the first test. */
static TAP_UNUSED void
plan(int n)
{
	tap_planned = n;
	printf("1..%d\n", n);
	fflush(stdout);
}

static TAP_UNUSED TAP_PRINTF(1, 2) void
diag(const char *fmt, ...)
{
	char line[4096];
	va_list ap;
	const char *p;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	/* Every physical line gets its own "# " so TAP parsers read it as a comment. */
	p = line;
	for (;;) {
		const char *nl = strchr(p, '\n');

		printf("# %.*s\n", nl ? (int)(nl - p) : (int)strlen(p), p);
		if (nl == NULL || nl[1] == '\0')	/* no empty comment for a final newline */
			break;
		p = nl + 1;
	}
	fflush(stdout);
}

/* Prints s (or "(null)") with control and non-ASCII bytes shown as \xNN, for diagnostics. */
static TAP_UNUSED void
tap_quote(char *dst, size_t cap, const char *s, size_t n)
{
	size_t pos = 0;

	if (s == NULL) {
		snprintf(dst, cap, "(null)");
		return;
	}
	if (pos + 1 < cap)
		dst[pos++] = '\'';
	for (size_t i = 0; i < n && pos + 6 < cap; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\\') {
			dst[pos++] = '\\';
			dst[pos++] = '\\';
		} else if (c < 0x20 || c >= 0x7f) {
			pos += (size_t)snprintf(dst + pos, cap - pos, "\\x%02x", c);
		} else {
			dst[pos++] = (char)c;
		}
	}
	if (pos + 1 < cap)
		dst[pos++] = '\'';
	dst[pos < cap ? pos : cap - 1] = '\0';
}

static TAP_UNUSED TAP_PRINTF(2, 0) bool
tap_vok(bool cond, const char *fmt, va_list ap)
{
	char name[512];

	vsnprintf(name, sizeof(name), fmt, ap);
	/* A '#' in a name would start a TAP directive; keep names plain. */
	for (char *p = name; *p; p++)
		if (*p == '#' || *p == '\n')
			*p = ' ';
	tap_count++;
	if (!cond)
		tap_failed++;
	printf("%s %d - %s\n", cond ? "ok" : "not ok", tap_count, name);
	fflush(stdout);
	return cond;
}

static TAP_UNUSED TAP_PRINTF(2, 3) bool
ok(bool cond, const char *fmt, ...)
{
	va_list ap;
	bool r;

	va_start(ap, fmt);
	r = tap_vok(cond, fmt, ap);
	va_end(ap);
	return r;
}

static TAP_UNUSED TAP_PRINTF(3, 4) bool
is_int(long long got, long long want, const char *fmt, ...)
{
	va_list ap;
	bool r;

	va_start(ap, fmt);
	r = tap_vok(got == want, fmt, ap);
	va_end(ap);
	if (!r)
		diag("       got: %lld\n  expected: %lld", got, want);
	return r;
}

static TAP_UNUSED TAP_PRINTF(3, 4) bool
is_str(const char *got, const char *want, const char *fmt, ...)
{
	char g[1800], e[1800];
	va_list ap;
	bool r;

	va_start(ap, fmt);
	r = tap_vok(got != NULL && want != NULL ? strcmp(got, want) == 0 : got == want, fmt, ap);
	va_end(ap);
	if (!r) {
		tap_quote(g, sizeof(g), got, got ? strlen(got) : 0);
		tap_quote(e, sizeof(e), want, want ? strlen(want) : 0);
		diag("       got: %s\n  expected: %s", g, e);
	}
	return r;
}

/* Passes when got contains the substring want. */
static TAP_UNUSED TAP_PRINTF(3, 4) bool
like(const char *got, const char *want, const char *fmt, ...)
{
	char g[1800], e[1800];
	va_list ap;
	bool r;

	va_start(ap, fmt);
	r = tap_vok(got != NULL && want != NULL && strstr(got, want) != NULL, fmt, ap);
	va_end(ap);
	if (!r) {
		tap_quote(g, sizeof(g), got, got ? strlen(got) : 0);
		tap_quote(e, sizeof(e), want, want ? strlen(want) : 0);
		diag("       got: %s\n  expected to contain: %s", g, e);
	}
	return r;
}

/* Passes when got does not contain want. */
static TAP_UNUSED TAP_PRINTF(3, 4) bool
unlike(const char *got, const char *want, const char *fmt, ...)
{
	char g[1800], e[1800];
	va_list ap;
	bool r;

	va_start(ap, fmt);
	r = tap_vok(got != NULL && want != NULL && strstr(got, want) == NULL, fmt, ap);
	va_end(ap);
	if (!r) {
		tap_quote(g, sizeof(g), got, got ? strlen(got) : 0);
		tap_quote(e, sizeof(e), want, want ? strlen(want) : 0);
		diag("       got: %s\n  expected not to contain: %s", g, e);
	}
	return r;
}

/* Ends the run: prints the plan if none was given; returns the exit status for main(). */
static TAP_UNUSED int
done_testing(void)
{
	if (tap_planned < 0) {
		printf("1..%d\n", tap_count);
		tap_planned = tap_count;
	} else if (tap_planned != tap_count) {
		diag("planned %d tests but ran %d", tap_planned, tap_count);
	}
	if (tap_failed)
		diag("failed %d of %d tests", tap_failed, tap_count);
	fflush(stdout);
	if (tap_failed)
		return tap_failed > 254 ? 254 : tap_failed;
	return tap_planned == tap_count ? 0 : 255;
}

#endif
