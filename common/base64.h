/* base64.h: RFC 4648 base64 encoding (bytea values and binary resources). */
#ifndef PGMCP_BASE64_H
#define PGMCP_BASE64_H

#include <stddef.h>

#include "buf.h"

void base64_encode(struct buf *out, const unsigned char *data, size_t len);
/* Decodes standard base64 (padding optional); -1 if malformed. */
int base64_decode(struct buf *out, const char *in, size_t len);
/* Decodes PostgreSQL's bytea hex output ("\x0a1b...") straight to base64. Returns -1 if malformed. */
int base64_from_pg_hex(struct buf *out, const char *hex, size_t len);

#endif
