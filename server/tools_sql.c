/* tools_sql.c: the tools that run the model's own SQL: query, execute and explain. */
#include "tool.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json.h>

#include "jsonw.h"
#include "textfmt.h"
#include "util.h"

/* Characters (not bytes) before the statement inside the text the model sent. */
static int
chars_before(const char *sql, int bytes)
{
	int chars = 0;

	for (int i = 0; i < bytes && sql[i]; i++)
		if (((unsigned char)sql[i] & 0xC0) != 0x80)
			chars++;
	return chars;
}

/* The guarded statement alone (no trailing semicolon or text around it), NUL-terminated. */
static char *
statement_text(const char *sql, const struct guard_verdict *v)
{
	size_t len = strlen(sql);
	size_t start = (size_t)v->stmt_location <= len ? (size_t)v->stmt_location : len;
	size_t n = (size_t)v->stmt_len <= len - start ? (size_t)v->stmt_len : len - start;
	char *out = xmalloc(n + 1);

	memcpy(out, sql + start, n);
	out[n] = '\0';
	return out;
}

static bool
check_param_count(struct tool_ctx *tc, const struct guard_verdict *v)
{
	if (v->max_param > tc->nparams) {
		tool_error(tc, "Invalid arguments: the statement uses $%d but params has %d value%s; "
		    "pass one value per placeholder", v->max_param, tc->nparams,
		    tc->nparams == 1 ? "" : "s");
		return false;
	}
	return true;
}

static void
put_text_block(struct jw *w, const char *text, size_t len)
{
	jw_obj_begin(w);
	jw_kstr(w, "type", "text");
	jw_key(w, "text");
	jw_strn(w, text, len);
	jw_obj_end(w);
}

/*
 * output.text_format csv or markdown: the table as text, then (when there is something to
 * say) one short line with what the table cannot show: truncation, the command tag of a
 * write, an empty result. structuredContent keeps the whole JSON document.
 */
static void
write_rows_text(struct tool_ctx *tc, const char *json, size_t len, bool with_affected)
{
	struct db_result *r = &tc->res;
	struct buf table = BUF_INIT, status = BUF_INIT;

	if (r->columns.len > 2)
		textfmt_rows((enum text_format)tc->s->cfg->text_format, r->columns.data, r->columns.len,
		    r->rows.len ? r->rows.data : "[]", r->rows.len ? r->rows.len : 2, &table);
	if (r->command[0] && (with_affected || table.len == 0))
		buf_printf(&status, "%s", r->command);
	if (table.len > 0 && r->row_count == 0)
		buf_printf(&status, "%s0 rows", status.len ? "; " : "");
	if (r->truncated)
		buf_printf(&status, "%sTruncated (%s): only the first %lld rows are shown. Narrow the "
		    "query (WHERE, aggregates, ORDER BY with LIMIT) to see the rest.",
		    status.len ? "; " : "", r->truncated_by, (long long)r->row_count);
	if (table.len == 0 && status.len == 0)
		buf_puts(&status, "OK");
	tc->done = true;
	jw_key(tc->w, "content");
	jw_arr_begin(tc->w);
	if (table.len > 0)
		put_text_block(tc->w, table.data, table.len);
	if (status.len > 0)
		put_text_block(tc->w, status.data, status.len);
	jw_arr_end(tc->w);
	jw_key(tc->w, "structuredContent");
	jw_raw(tc->w, json, len);
	jw_kbool(tc->w, "isError", false);
	buf_free(&table);
	buf_free(&status);
}

/* Writes the rows result object shared by query and execute. */
void
tool_write_rows_result(struct tool_ctx *tc, bool with_affected)
{
	struct db_result *r = &tc->res;
	struct buf out = BUF_INIT;
	struct jw w;

	jw_init(&w, &out);
	jw_obj_begin(&w);
	jw_key(&w, "columns");
	if (r->columns.len)
		jw_raw(&w, r->columns.data, r->columns.len);
	else
		jw_raw(&w, "[]", 2);
	jw_key(&w, "rows");
	if (r->rows.len)
		jw_raw(&w, r->rows.data, r->rows.len);
	else
		jw_raw(&w, "[]", 2);
	jw_kint(&w, "row_count", r->row_count);
	jw_kbool(&w, "truncated", r->truncated);
	if (r->truncated) {
		char notice[256];

		jw_kstr(&w, "truncated_by", r->truncated_by);
		if (strcmp(r->truncated_by, "max_rows") == 0)
			snprintf(notice, sizeof(notice), "Only the first %lld rows are shown. Narrow the "
			    "query with WHERE, aggregate it, or ORDER BY with LIMIT/OFFSET to page.",
			    (long long)r->row_count);
		else
			snprintf(notice, sizeof(notice), "The result was cut at %lld rows to stay under "
			    "%lld bytes. Select fewer or shorter columns, or fewer rows.",
			    (long long)r->row_count, (long long)tc->s->cfg->max_result_bytes);
		jw_kstr(&w, "notice", notice);
	}
	if (r->command[0])
		jw_kstr(&w, "command", r->command);
	if (with_affected && r->command[0]) {
		const char *last = strrchr(r->command, ' ');
		int64_t n;

		if (last != NULL && parse_int64(last + 1, &n) == 0)
			jw_kint(&w, "rows_affected", n);
	}
	jw_key(&w, "elapsed_ms");
	jw_fixed(&w, (double)r->elapsed_us / 1000.0, 3);
	jw_obj_end(&w);
	if (tc->s->cfg->text_format == TEXT_FORMAT_JSON)
		tool_result_json(tc, out.data, out.len);
	else
		write_rows_text(tc, out.data, out.len, with_affected);
	buf_free(&out);
}

static void
run_model_sql(struct tool_ctx *tc, bool write)
{
	static const char *const query_args[] = { "sql", "params", "max_rows", NULL };
	static const char *const exec_args[] = { "sql", "params", NULL };
	struct guard_verdict v;
	struct db_request req;
	const char *sql;
	char *stmt;
	int64_t max_rows = tc->s->cfg->max_rows;

	if (!tool_check_unknown_args(tc, write ? exec_args : query_args) ||
	    !tool_arg_string(tc, "sql", true, &sql) || !tool_arg_params(tc, "params"))
		return;
	if (!write && !tool_arg_int(tc, "max_rows", max_rows, 1, max_rows, &max_rows))
		return;
	guard_check(write ? GUARD_WRITE : GUARD_READ_ONLY, sql, strlen(sql), &v);
	if (!v.allowed) {
		tool_guard_error(tc, &v, sql);
		return;
	}
	if (!check_param_count(tc, &v))
		return;
	stmt = statement_text(sql, &v);
	tool_request_defaults(tc, &req);
	req.sql = stmt;
	req.write = write;
	req.max_rows = max_rows;
	req.limit_wrap = !write && v.kind == GUARD_KIND_SELECT;
	tool_run(tc, &req);
	if (tc->res.status == DB_OK)
		tool_write_rows_result(tc, write);
	else if (tc->res.status != DB_CANCELLED)
		tool_db_error(tc, sql, chars_before(sql, v.stmt_location));
	else
		tool_error(tc, "cancelled");
	mcp_notify_log(tc->s, tc->rq, MCP_LOG_INFO, "%s: %lld rows%s in %.1f ms",
	    write ? "execute" : "query", (long long)tc->res.row_count,
	    tc->res.truncated ? " (truncated)" : "", (double)tc->res.elapsed_us / 1000.0);
	free(stmt);
}

void
tool_query(struct tool_ctx *tc)
{
	run_model_sql(tc, false);
}

void
tool_execute(struct tool_ctx *tc)
{
	run_model_sql(tc, true);
}

void
tool_explain(struct tool_ctx *tc)
{
	static const char *const known[] = { "sql", "params", "analyze", "buffers", "verbose",
		"format", NULL };
	static const char *const formats[] = { "text", "json", NULL };
	struct guard_verdict v;
	struct db_request req;
	struct buf text = BUF_INIT, out = BUF_INIT;
	const char *sql, *format;
	bool analyze, buffers, verbose;
	char *stmt;
	struct jw w;

	if (!tool_check_unknown_args(tc, known) || !tool_arg_string(tc, "sql", true, &sql) ||
	    !tool_arg_params(tc, "params") || !tool_arg_bool(tc, "analyze", false, &analyze) ||
	    !tool_arg_bool(tc, "buffers", false, &buffers) ||
	    !tool_arg_bool(tc, "verbose", false, &verbose) ||
	    !tool_arg_enum(tc, "format", formats, "text", &format))
		return;
	/* Planning never runs the statement; ANALYZE does, so then it must be read-only. */
	guard_check(analyze ? GUARD_READ_ONLY : GUARD_PLAN, sql, strlen(sql), &v);
	if (!v.allowed) {
		tool_guard_error(tc, &v, sql);
		return;
	}
	if (!check_param_count(tc, &v))
		return;
	stmt = statement_text(sql, &v);
	buf_printf(&text, "EXPLAIN (FORMAT %s%s%s%s) %s", strcmp(format, "json") == 0 ? "JSON" : "TEXT",
	    analyze ? ", ANALYZE" : "", analyze && buffers ? ", BUFFERS" : "",
	    verbose ? ", VERBOSE" : "", stmt);
	tool_request_defaults(tc, &req);
	req.sql = buf_cstr(&text);
	req.max_rows = 100000;
	req.max_result_bytes = tc->s->cfg->max_result_bytes;
	req.single_value = strcmp(format, "json") == 0;
	tool_run(tc, &req);
	if (tc->res.status != DB_OK) {
		/* Positions refer to the EXPLAIN text: map them back into the model's SQL. */
		int prefix = (int)(strstr(text.data, stmt) - text.data);

		tc->res.position = tc->res.position > prefix ? tc->res.position - prefix : 0;
		if (tc->res.status == DB_CANCELLED)
			tool_error(tc, "cancelled");
		else
			tool_db_error(tc, sql, chars_before(sql, v.stmt_location));
		goto out;
	}
	jw_init(&w, &out);
	jw_obj_begin(&w);
	jw_key(&w, "plan");
	if (req.single_value) {
		jw_raw(&w, tc->res.value.len ? tc->res.value.data : "null",
		    tc->res.value.len ? tc->res.value.len : 4);
	} else {
		/* Text plans come back one line per row: {"QUERY PLAN":"..."}. Join them. */
		struct json_object *rows = tc->res.rows.len ?
		    json_tokener_parse(buf_cstr(&tc->res.rows)) : NULL;
		size_t n = rows ? json_object_array_length(rows) : 0;

		jw_str_begin(&w);
		for (size_t i = 0; i < n; i++) {
			struct json_object *line;

			if (json_object_object_get_ex(json_object_array_get_idx(rows, i), "QUERY PLAN",
			    &line)) {
				if (i)
					buf_puts(&out, "\\n");
				json_escape(&out, json_object_get_string(line),
				    (size_t)json_object_get_string_len(line));
			}
		}
		jw_str_end(&w);
		json_object_put(rows);
	}
	jw_kstr(&w, "format", format);
	jw_kbool(&w, "analyzed", analyze);
	jw_key(&w, "elapsed_ms");
	jw_fixed(&w, (double)tc->res.elapsed_us / 1000.0, 3);
	jw_obj_end(&w);
	tool_result_json(tc, out.data, out.len);
out:
	free(stmt);
	buf_free(&text);
	buf_free(&out);
}
