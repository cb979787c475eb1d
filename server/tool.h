/* tool.h: what a built-in tool implementation sees: its arguments, the database and a result writer. */
#ifndef PGMCP_TOOL_H
#define PGMCP_TOOL_H

#include <stdbool.h>
#include <stdint.h>

#include "db.h"
#include "guard.h"
#include "mcp.h"

struct json_object;

struct tool_ctx {
	struct mcp_session *s;
	struct mcp_request *rq;
	struct json_object *args;	/* always an object (empty when absent) */
	struct jw *w;			/* the tools/call result's members */
	struct db_result res;
	bool done;
	bool failed;
	const char *refused_sqlstate;	/* set when the guard refused the statement (audit) */
	const char *own_timeout_tool;	/* a declared tool whose own statement_timeout applied */
	int64_t own_timeout_ms;
	/* bound parameters for the statement being run */
	const char **params;
	int nparams;
	struct buf param_text;
	size_t *param_off;
};

/* Argument accessors: on a missing or mistyped argument they write an isError result naming
 * it and return false, so the model can correct the call. */
bool tool_arg_string(struct tool_ctx *tc, const char *name, bool required, const char **out);
bool tool_arg_bool(struct tool_ctx *tc, const char *name, bool def, bool *out);
bool tool_arg_int(struct tool_ctx *tc, const char *name, int64_t def, int64_t min, int64_t max,
    int64_t *out);
bool tool_arg_enum(struct tool_ctx *tc, const char *name, const char *const *values,
    const char *def, const char **out);
/* Binds params[] (JSON scalars, objects become JSON text) for $1..$n. */
bool tool_arg_params(struct tool_ctx *tc, const char *name);
/* Refuses arguments the schema does not declare. */
bool tool_check_unknown_args(struct tool_ctx *tc, const char *const *known);

void tool_error(struct tool_ctx *tc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A failed statement, with PostgreSQL's message, SQLSTATE, position, detail and hint. */
void tool_db_error(struct tool_ctx *tc, const char *sql, int position_offset_chars);
/* The guard's refusal, with the position of a syntax error. */
void tool_guard_error(struct tool_ctx *tc, const struct guard_verdict *v, const char *sql);
/* Success: structured JSON (an object) as structuredContent and as the text content. */
void tool_result_json(struct tool_ctx *tc, const char *json, size_t len);

/* Runs SQL as one call on the session's connection, with progress and cancellation wired up. */
void tool_run(struct tool_ctx *tc, struct db_request *req);
/* Fills a db_request with the session's limits. */
void tool_request_defaults(struct tool_ctx *tc, struct db_request *req);

/* Built-in tools. */
void tool_query(struct tool_ctx *tc);
void tool_execute(struct tool_ctx *tc);
void tool_explain(struct tool_ctx *tc);
void tool_list_schemas(struct tool_ctx *tc);
void tool_list_tables(struct tool_ctx *tc);
void tool_describe_table(struct tool_ctx *tc);
void tool_list_extensions(struct tool_ctx *tc);
void tool_database_info(struct tool_ctx *tc);
/* Insight tools (tools_insight.c). */
void tool_top_queries(struct tool_ctx *tc);
void tool_health(struct tool_ctx *tc);
void tool_active_queries(struct tool_ctx *tc);

/* "schema.table", "table" or quoted forms to (schema or NULL, table), as PostgreSQL reads them. */
void catalog_split_name(const char *name, char **schema, char **table);
/* Operator-declared tools (tools_declared.c). */
struct decl_tool;
void declared_tool_json(const struct config *cfg, const struct decl_tool *t, struct buf *b,
    const char *rows_output_schema);
void declared_tool_call(struct tool_ctx *tc, const struct decl_tool *t);
/* The rows result shared by query, execute and declared tools. */
void tool_write_rows_result(struct tool_ctx *tc, bool with_affected);

/* Shared by describe_table and resources/read: the table document, or an error message. */
bool catalog_describe(struct tool_ctx *tc, const char *schema, const char *table,
    struct buf *doc, struct buf *why);

#endif
