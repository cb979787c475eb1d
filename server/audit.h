/*
 * audit.h: the audit log. One JSON line per tool call (who, which tool, the normalized
 * statement and its fingerprint, parameters or their redacted shape, duration, rows, bytes,
 * outcome, SQLSTATE), appended to audit.file with one write(2) and/or sent to the log stream.
 * A failed write never fails the call: it is counted and reported by the next record.
 */
#ifndef PGMCP_AUDIT_H
#define PGMCP_AUDIT_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"

struct json_object;
struct tool_ctx;

struct audit_record {
	const char *client;		/* token name, peer address or "stdio" */
	const char *session;		/* hex digest of the session id, or NULL */
	const char *protocol;		/* protocol version of the request */
	const char *tool;
	const char *statement;		/* SQL as given (normalized here), or NULL */
	struct json_object *arguments;	/* the tool's arguments object */
	double duration_ms;
	int64_t rows;
	int64_t bytes;			/* size of the result sent back */
	const char *outcome;		/* ok, error, refused, cancelled, timeout, unavailable */
	const char *sqlstate;		/* or NULL */
};

/* True when cfg asks for an audit trail (a file, the log stream, or both). */
bool audit_enabled(const struct config *cfg);
/* Checks at start-up that audit.file can be opened for appending (the file is created). */
bool audit_check(const struct config *cfg, char *why, size_t cap);
/* Writes one record; opens audit.file on first use. Never fails the caller. */
void audit_write(const struct config *cfg, const struct audit_record *r);
/*
 * The record of one finished tools/call: outcome and SQLSTATE from the tool's context, the
 * statement from declared_sql or else the "sql" argument. Called before the response is sent.
 */
void audit_tool_call(const struct tool_ctx *tc, const char *tool, const char *declared_sql,
    int64_t start_us, size_t result_bytes);
/* Closes the file so the next record reopens it by name (log rotation). */
void audit_reopen(void);
/* For signal handlers: asks for a reopen before the next record. Async-signal-safe. */
void audit_request_reopen(void);
/* Closes the file and frees the statement cache (at exit, for leak checkers). */
void audit_shutdown(void);

#endif
