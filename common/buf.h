/* buf.h: a growable byte buffer, the one output type every layer writes into. */
#ifndef PGMCP_BUF_H
#define PGMCP_BUF_H

#include <stddef.h>

struct buf {
	char *data;
	size_t len;
	size_t cap;
};

#define BUF_INIT { NULL, 0, 0 }

void buf_reserve(struct buf *b, size_t extra);
void buf_append(struct buf *b, const void *data, size_t len);
void buf_puts(struct buf *b, const char *s);
void buf_putc(struct buf *b, char c);
void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_consume(struct buf *b, size_t n);
/* NUL-terminates without counting the terminator in len. */
const char *buf_cstr(struct buf *b);
void buf_reset(struct buf *b);
void buf_free(struct buf *b);
/* Drops the allocation when it grew beyond keep bytes, so one big response doesn't pin memory. */
void buf_shrink(struct buf *b, size_t keep);

#endif
