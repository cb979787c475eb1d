/* pgjson.h: PostgreSQL text-format values to typed JSON, chosen by type OID. */
#ifndef PGMCP_PGJSON_H
#define PGMCP_PGJSON_H

#include <stddef.h>

#include "buf.h"

typedef unsigned int pg_oid;

enum pgjson_kind {
	PGJ_STRING = 0,
	PGJ_INT,	/* int2, int4, oid: always a JSON number */
	PGJ_INT8,	/* a number within +-2^53, otherwise a string */
	PGJ_FLOAT,	/* NaN and infinities as strings */
	PGJ_NUMERIC,	/* a number when it round-trips through a double, otherwise a string */
	PGJ_BOOL,
	PGJ_JSON,	/* json, jsonb: embedded as JSON */
	PGJ_BYTEA,	/* base64 */
	PGJ_TIMESTAMP,	/* ISO 8601 with a T */
	PGJ_TIMESTAMPTZ,	/* ISO 8601 with a T and a +hh:mm offset */
	PGJ_TIMETZ,
	PGJ_ARRAY,
};

struct pgjson_type {
	enum pgjson_kind kind;
	enum pgjson_kind elem;	/* for arrays */
	const char *name;	/* a short type name for column metadata */
};

void pgjson_type_of(pg_oid oid, struct pgjson_type *out);
/* Appends the JSON for one non-NULL value; the output is always valid JSON. */
void pgjson_value(struct buf *out, const struct pgjson_type *t, const char *val, size_t len);

#endif
