/* util.h: clocks, duration and size parsing, small string helpers. */
#ifndef PGMCP_UTIL_H
#define PGMCP_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Monotonic clock in microseconds. */
int64_t now_us(void);
/* "250ms", "30s", "5m", "1h", "2d"; a bare number is milliseconds. Returns -1 on error. */
int parse_duration_ms(const char *s, int64_t *out_ms);
/* "4096", "64kB", "4MB", "1GiB" (kB = KiB = 1024). Returns -1 on error. */
int parse_size_bytes(const char *s, int64_t *out);
/* Strict integer parse of the whole string. */
int parse_int64(const char *s, int64_t *out);
int parse_bool(const char *s, bool *out);
/* Formats ms the way PostgreSQL's GUCs accept it ("30s", "250ms", "0"). */
void format_duration_ms(int64_t ms, char *out, size_t cap);
/* The value of one hex digit (either case), or -1. */
int hex_digit_value(char c);
char *xstrdup(const char *s);
void *xcalloc(size_t n, size_t size);
void *xmalloc(size_t size);

#endif
