/*
 * db.h: the worker's one PostgreSQL connection and the per-call recipe: BEGIN, limits, the
 * statement and ROLLBACK/COMMIT sent as one libpq pipeline over prepared fixed parts, rows
 * fetched in single-row mode and encoded to JSON as they arrive, never buffered unbounded.
 */
#ifndef PGMCP_DB_H
#define PGMCP_DB_H

#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "config.h"

struct db;

/* Lets a running call watch the client (for cancellation) and report progress. */
struct db_waiter {
	int fd;				/* client input to watch, or -1 */
	int fd2;			/* a second one (the worker's control socket), or -1 */
	int (*on_readable)(void *ctx);	/* 1 = cancel, -1 = stop watching fd, 0 = go on */
	void (*on_progress)(void *ctx, const char *what, int64_t rows, int64_t elapsed_us);
	void *ctx;
};

struct db_request {
	const char *sql;		/* exactly one statement, NUL-terminated */
	int nparams;
	const char *const *params;	/* text values; NULL is SQL NULL */
	bool write;			/* READ WRITE and COMMIT instead of READ ONLY and ROLLBACK */
	bool limit_wrap;		/* a SELECT: fetch at most max_rows + 1 rows server-side */
	bool single_value;		/* keep the first column of the first row as raw JSON */
	int64_t max_rows;
	int64_t max_result_bytes;
	int64_t statement_timeout_ms;	/* 0 = the connection's default */
};

enum db_status {
	DB_OK = 0,
	DB_SQL_ERROR,		/* PostgreSQL refused or failed the statement */
	DB_UNAVAILABLE,		/* no connection, or it broke during the call */
	DB_CANCELLED,		/* the client cancelled */
};

struct db_result {
	enum db_status status;
	struct buf columns;	/* JSON array of {"name","type"} */
	struct buf rows;	/* JSON array of row objects */
	struct buf value;	/* single_value: the raw JSON value */
	int64_t row_count;
	bool truncated;
	const char *truncated_by;	/* "max_rows" or "max_result_bytes" */
	char command[64];	/* command tag, e.g. "SELECT 3", "UPDATE 2" */
	int64_t elapsed_us;
	/* error details (DB_SQL_ERROR, DB_UNAVAILABLE) */
	char sqlstate[6];
	struct buf message, detail, hint, context;
	int position;		/* 1-based character position in the caller's SQL, or 0 */
	bool timed_out;		/* statement_timeout fired */
};

struct db *db_new(const struct config *cfg);
void db_free(struct db *db);
/* Begins connecting without waiting (so start-up is not held up by the network). */
void db_connect_start(struct db *db);
/* Completes or re-establishes the connection; false (with a message) when unavailable. */
bool db_ensure(struct db *db, struct buf *why);
/*
 * Driving a connection attempt from an event loop while idle, so a worker is connected
 * before its first request: db_tick starts or times out attempts and returns the longest
 * the loop may sleep (ms, -1 for no limit); db_connect_fd gives the socket and events the
 * pending attempt waits for (-1 if none); db_connect_step advances it when they arrive.
 */
int db_tick(struct db *db);
/* Counts each connection after the first (a reconnect) into *counter. */
void db_count_reconnects(struct db *db, uint64_t *counter);
int db_connect_fd(struct db *db, short *events);
void db_connect_step(struct db *db);
void db_call(struct db *db, const struct db_request *req, const struct db_waiter *waiter,
    struct db_result *res);
void db_result_init(struct db_result *res);
void db_result_reset(struct db_result *res);
void db_result_free(struct db_result *res);
/* Connection facts for database_info and logs. */
const char *db_server_version(struct db *db);
bool db_is_connected(struct db *db);

#endif
