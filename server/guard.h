/*
 * guard.h: the statement guard. PostgreSQL's own parser (libpg_query) classifies a statement
 * and walks its tree, so read-only holds against multi-statement strings, writable CTEs,
 * locking clauses and side-effecting functions that a READ ONLY transaction would let run.
 */
#ifndef PGMCP_GUARD_H
#define PGMCP_GUARD_H

#include <stdbool.h>
#include <stddef.h>

enum guard_policy {
	GUARD_READ_ONLY,	/* query tool, explain ANALYZE: SELECT, EXPLAIN, SHOW only */
	GUARD_PLAN,		/* explain without ANALYZE: also DML, never executed */
	GUARD_WRITE,		/* execute tool: DML and DDL, no session or server state */
};

enum guard_kind {
	GUARD_KIND_SELECT,	/* SELECT, VALUES, TABLE */
	GUARD_KIND_EXPLAIN,
	GUARD_KIND_SHOW,
	GUARD_KIND_DML,		/* INSERT, UPDATE, DELETE, MERGE */
	GUARD_KIND_OTHER,
};

struct guard_verdict {
	bool allowed;
	enum guard_kind kind;
	char reason[320];	/* why it was refused, for the model */
	const char *sqlstate;	/* 42601 syntax error, 42501 refused */
	int error_position;	/* 1-based character position of a syntax error, or 0 */
	int stmt_location;	/* byte range of the single statement, without a trailing ';' */
	int stmt_len;
	bool has_params;	/* references $n */
	int max_param;		/* highest $n referenced */
};

/* Checks the len bytes at sql under policy; results are cached by (policy, text). */
void guard_check(enum guard_policy policy, const char *sql, size_t len, struct guard_verdict *out);
void guard_cache_clear(void);
/* Releases libpg_query's memory (for leak checkers at exit). */
void guard_shutdown(void);

#endif
