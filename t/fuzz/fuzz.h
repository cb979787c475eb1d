/*
 * fuzz.h: what the libFuzzer targets in t/fuzz/ share: a quiet process with no database
 * settings from the environment, an MCP session over a database that is never there, and
 * the oracle every response must pass (one line of strict JSON).
 */
#ifndef PGMCP_FUZZ_H
#define PGMCP_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "config.h"
#include "jsoncheck.h"
#include "log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Where libpq can never connect: tools fail fast with "database unavailable". */
#define FUZZ_DSN "host=/nonexistent-pgmcp-fuzz connect_timeout=1"

extern char **environ;

/* Logs off; no PGMCP_*, PG* or DATABASE_URL from the caller's environment. */
static inline void
fuzz_quiet(void)
{
	log_set_level(LOG_LEVEL_OFF);
	for (size_t i = 0; environ[i] != NULL;) {
		const char *e = environ[i];

		if (strncmp(e, "PG", 2) == 0 || strncmp(e, "DATABASE_URL=", 13) == 0) {
			char name[256];
			size_t n = strcspn(e, "=");

			if (n >= sizeof(name))
				n = sizeof(name) - 1;
			memcpy(name, e, n);
			name[n] = '\0';
			unsetenv(name);
			continue;	/* environ shifted down */
		}
		i++;
	}
}

/* Aborts (a finding) unless s[0..n) is one line of JSON our strict validator accepts. */
static inline void
fuzz_assert_json_line(const char *s, size_t n)
{
	struct json_check chk;

	if (n == 0)
		return;
	if (memchr(s, '\n', n) != NULL || json_check(s, n, 128, &chk) < 0)
		abort();
}

/* The same for every line of s[0..n) (framed output: newline-terminated messages). */
static inline void
fuzz_assert_json_lines(const char *s, size_t n)
{
	while (n > 0) {
		const char *nl = memchr(s, '\n', n);
		size_t len = nl ? (size_t)(nl - s) : n;

		if (nl == NULL)
			abort();	/* every message ends with a newline */
		fuzz_assert_json_line(s, len);
		s += len + 1;
		n -= len + 1;
	}
}

#endif
