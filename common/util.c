/* util.c: clocks, duration and size parsing, allocation wrappers that never return NULL. */
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "log.h"

int64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int
parse_int64(const char *s, int64_t *out)
{
	char *end;
	long long v;

	if (s == NULL || *s == '\0' || isspace((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return -1;
	*out = v;
	return 0;
}

/* Splits "123unit" into number and unit; the unit may be empty. */
static int
split_number(const char *s, int64_t *num, const char **unit)
{
	char *end;
	long long v;

	if (s == NULL || !isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0)
		return -1;
	while (*end == ' ')
		end++;
	*num = v;
	*unit = end;
	return 0;
}

int
parse_duration_ms(const char *s, int64_t *out_ms)
{
	static const struct { const char *unit; int64_t ms; } units[] = {
		{ "", 1 }, { "ms", 1 }, { "s", 1000 }, { "min", 60000 }, { "m", 60000 },
		{ "h", 3600000 }, { "d", 86400000 },
	};
	const char *unit;
	int64_t n;

	if (split_number(s, &n, &unit) < 0)
		return -1;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(unit, units[i].unit) == 0) {
			if (n > INT64_MAX / units[i].ms)
				return -1;
			*out_ms = n * units[i].ms;
			return 0;
		}
	}
	return -1;
}

int
parse_size_bytes(const char *s, int64_t *out)
{
	static const struct { const char *unit; int64_t mult; } units[] = {
		{ "", 1 }, { "B", 1 }, { "kB", 1024 }, { "KB", 1024 }, { "KiB", 1024 },
		{ "MB", 1024 * 1024 }, { "MiB", 1024 * 1024 },
		{ "GB", 1024LL * 1024 * 1024 }, { "GiB", 1024LL * 1024 * 1024 },
	};
	const char *unit;
	int64_t n;

	if (split_number(s, &n, &unit) < 0)
		return -1;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(unit, units[i].unit) == 0) {
			if (n > INT64_MAX / units[i].mult)
				return -1;
			*out = n * units[i].mult;
			return 0;
		}
	}
	return -1;
}

int
parse_bool(const char *s, bool *out)
{
	if (strcasecmp(s, "true") == 0 || strcasecmp(s, "yes") == 0 || strcasecmp(s, "on") == 0 ||
	    strcmp(s, "1") == 0)
		*out = true;
	else if (strcasecmp(s, "false") == 0 || strcasecmp(s, "no") == 0 ||
	    strcasecmp(s, "off") == 0 || strcmp(s, "0") == 0)
		*out = false;
	else
		return -1;
	return 0;
}

void
format_duration_ms(int64_t ms, char *out, size_t cap)
{
	if (ms != 0 && ms % 1000 == 0)
		snprintf(out, cap, "%llds", (long long)(ms / 1000));
	else
		snprintf(out, cap, "%lldms", (long long)ms);
}

int
hex_digit_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

char *
xstrdup(const char *s)
{
	char *p = strdup(s);

	if (p == NULL)
		fatalx("out of memory");
	return p;
}

void *
xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (p == NULL)
		fatalx("out of memory");
	return p;
}

void *
xmalloc(size_t size)
{
	void *p = malloc(size ? size : 1);

	if (p == NULL)
		fatalx("out of memory");
	return p;
}
