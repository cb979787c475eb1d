/* resources.c: one resource per table (its schema as JSON), the URI template, and completion. */
#include "handlers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json.h>

#include "guard.h"
#include "http.h"
#include "log.h"
#include "tool.h"
#include "util.h"

#define TABLE_URI_PREFIX "pgmcp://tables/"
#define TABLE_URI_TEMPLATE "pgmcp://tables/{schema}/{table}"
#define COMPLETION_MAX 100

static const char LIST_RESOURCES_SQL[] =
    "SELECT n.nspname AS schema, c.relname AS name, "
    "pg_catalog.obj_description(c.oid, 'pg_class') AS description, "
    "CASE c.relkind WHEN 'r' THEN 'table' WHEN 'p' THEN 'partitioned table' WHEN 'v' THEN 'view' "
    "WHEN 'm' THEN 'materialized view' ELSE 'foreign table' END AS kind "
    "FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
    "WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND NOT c.relispartition "
    "AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
    "AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp\\_%' "
    "AND pg_catalog.has_schema_privilege(n.oid, 'USAGE') "
    "ORDER BY 1, 2 LIMIT $1::bigint OFFSET $2::bigint";

static const char COMPLETE_SCHEMA_SQL[] =
    "SELECT n.nspname AS v FROM pg_catalog.pg_namespace n "
    "WHERE starts_with(n.nspname, $1) AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
    "AND n.nspname NOT LIKE 'pg\\_%' AND pg_catalog.has_schema_privilege(n.oid, 'USAGE') "
    "ORDER BY 1 LIMIT 101";

/* $1 schema or NULL, $2 prefix; $3 true = schema-qualified names. */
static const char COMPLETE_TABLE_SQL[] =
    "SELECT DISTINCT CASE WHEN $3::boolean THEN n.nspname || '.' || c.relname ELSE c.relname END AS v "
    "FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
    "WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND NOT c.relispartition "
    "AND ($1::text IS NULL OR n.nspname = $1) "
    "AND (starts_with(c.relname, $2) OR ($3::boolean AND starts_with(n.nspname || '.' || c.relname, $2))) "
    "AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%' "
    "AND pg_catalog.has_schema_privilege(n.oid, 'USAGE') ORDER BY 1 LIMIT 101";

static void
ctx_init(struct tool_ctx *tc, struct mcp_session *s, struct mcp_request *rq)
{
	memset(tc, 0, sizeof(*tc));
	tc->s = s;
	tc->rq = rq;
	db_result_init(&tc->res);
}

/* A failed database step becomes a JSON-RPC error for non-tool methods. */
static void
fail_from_db(struct tool_ctx *tc)
{
	struct mcp_request *rq = tc->rq;

	if (tc->res.status == DB_CANCELLED)
		return;
	if (tc->res.status == DB_UNAVAILABLE)
		mcp_fail(rq, RPC_INTERNAL_ERROR, "Internal error: %s", buf_cstr(&tc->res.message));
	else
		mcp_fail(rq, RPC_INTERNAL_ERROR, "Internal error: catalog query failed: %s (SQLSTATE %s)",
		    buf_cstr(&tc->res.message), tc->res.sqlstate);
}

/*
 * Declared SQL (resources, templates, completions) is checked again each time it runs: the
 * file's own policies were applied at load, but the views and the partitions and inheritance
 * children of policy tables are known only once connected. False (the request failed) when
 * the guard refuses it now.
 */
static bool
declared_sql_allowed(struct mcp_request *rq, const char *what, const char *name, const char *sql)
{
	struct guard_verdict v;

	guard_check(GUARD_READ_ONLY, sql, strlen(sql), &v);
	if (v.allowed)
		return true;
	log_warnx("the SQL of %s %s is refused: %s", what, name, v.reason);
	mcp_fail(rq, RPC_INTERNAL_ERROR, "Internal error: the SQL of %s %s is refused: %s", what, name,
	    v.reason);
	return false;
}

static void
put_uri_component(struct buf *out, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		    *p == '-' || *p == '_' || *p == '.' || *p == '~') {
			buf_putc(out, (char)*p);
		} else {
			buf_putc(out, '%');
			buf_putc(out, hex[*p >> 4]);
			buf_putc(out, hex[*p & 15]);
		}
	}
}

/* Decodes one %-encoded path segment; NULL if malformed or empty. */
static char *
decode_segment(const char *s, size_t n)
{
	struct buf out = BUF_INIT;

	if (!http_percent_decode(s, n, &out) || out.len == 0) {
		buf_free(&out);
		return NULL;
	}
	return out.data;
}

void
resources_table_uri(struct buf *out, const char *schema, const char *table)
{
	buf_puts(out, TABLE_URI_PREFIX);
	put_uri_component(out, schema);
	buf_putc(out, '/');
	put_uri_component(out, table);
}

/* pgmcp://tables/{schema}/{table} -> schema, table */
static bool
parse_table_uri(const char *uri, char **schema, char **table)
{
	const char *rest, *slash;

	*schema = *table = NULL;
	if (strncmp(uri, TABLE_URI_PREFIX, strlen(TABLE_URI_PREFIX)) != 0)
		return false;
	rest = uri + strlen(TABLE_URI_PREFIX);
	slash = strchr(rest, '/');
	if (slash == NULL || strchr(slash + 1, '/') != NULL)
		return false;
	*schema = decode_segment(rest, (size_t)(slash - rest));
	*table = decode_segment(slash + 1, strlen(slash + 1));
	if (*schema == NULL || *table == NULL) {
		free(*schema);
		free(*table);
		*schema = *table = NULL;
		return false;
	}
	return true;
}

static void
write_declared_entry(struct jw *w, const struct decl_resource *r)
{
	jw_obj_begin(w);
	jw_kstr(w, r->is_template ? "uriTemplate" : "uri", r->uri);
	jw_kstr(w, "name", r->name);
	if (r->title)
		jw_kstr(w, "title", r->title);
	jw_kstr(w, "description", r->description ? r->description : r->name);
	if (r->mime_type)
		jw_kstr(w, "mimeType", r->mime_type);
	jw_obj_end(w);
}

/* Declared resources come first, then one per table; a cursor counts through both. */
void
resources_list(struct mcp_session *s, struct mcp_request *rq, struct jw *w)
{
	const struct declarations *d = &s->cfg->decl;
	struct tool_ctx tc;
	struct db_request req;
	struct json_object *rows = NULL;
	char limit[32], offset_text[32];
	const char *params[2] = { limit, offset_text };
	size_t offset, n, page = (size_t)s->cfg->page_size, ndecl = 0, shown = 0, table_offset;
	size_t decl_shown;
	struct buf uri = BUF_INIT;

	if (mcp_read_cursor(rq, &offset) < 0)
		return;
	for (size_t i = 0; i < d->n_resources; i++)
		ndecl += !d->resources[i].is_template;
	ctx_init(&tc, s, rq);
	jw_key(w, "resources");
	jw_arr_begin(w);
	for (size_t i = 0, k = 0; i < d->n_resources && shown < page; i++) {
		if (d->resources[i].is_template)
			continue;
		if (k++ >= offset) {
			write_declared_entry(w, &d->resources[i]);
			shown++;
		}
	}
	decl_shown = shown;
	table_offset = offset > ndecl ? offset - ndecl : 0;
	snprintf(limit, sizeof(limit), "%zu", page - shown + 1);
	snprintf(offset_text, sizeof(offset_text), "%zu", table_offset);
	tool_request_defaults(&tc, &req);
	req.sql = LIST_RESOURCES_SQL;
	req.params = params;
	req.nparams = 2;
	req.max_rows = (int64_t)(page - shown + 1);
	req.max_result_bytes = 64LL * 1024 * 1024;
	tool_run(&tc, &req);
	if (tc.res.status != DB_OK) {
		fail_from_db(&tc);
		goto out;
	}
	rows = json_tokener_parse(tc.res.rows.len ? buf_cstr(&tc.res.rows) : "[]");
	n = rows ? json_object_array_length(rows) : 0;
	for (size_t i = 0; i < n && shown < page; i++, shown++) {
		struct json_object *row = json_object_array_get_idx(rows, i), *v;
		const char *schema = "", *name = "", *kind = "table", *desc = NULL;
		char title[512], fallback[600];

		if (json_object_object_get_ex(row, "schema", &v))
			schema = json_object_get_string(v);
		if (json_object_object_get_ex(row, "name", &v))
			name = json_object_get_string(v);
		if (json_object_object_get_ex(row, "kind", &v))
			kind = json_object_get_string(v);
		if (json_object_object_get_ex(row, "description", &v) && v != NULL)
			desc = json_object_get_string(v);
		buf_reset(&uri);
		resources_table_uri(&uri, schema, name);
		snprintf(title, sizeof(title), "%s.%s", schema, name);
		snprintf(fallback, sizeof(fallback), "Columns, keys, indexes and constraints of %s %s.%s",
		    kind, schema, name);
		jw_obj_begin(w);
		jw_key(w, "uri");
		jw_strn(w, uri.data, uri.len);
		jw_kstr(w, "name", title);
		jw_kstr(w, "title", title);
		jw_kstr(w, "description", desc ? desc : fallback);
		jw_kstr(w, "mimeType", "application/json");
		jw_obj_end(w);
	}
	jw_arr_end(w);
	/* More remain when declared ones are left, or the table query found one past the page. */
	if (offset + shown < ndecl || n > shown - decl_shown)
		mcp_write_cursor(w, offset + shown);
	mcp_write_cache_hints(rq, w, 60000);
out:
	json_object_put(rows);
	buf_free(&uri);
	db_result_free(&tc.res);
}

/* Declared templates first, then the table template; a cursor counts through both. */
void
resources_templates_list(struct mcp_session *s, struct mcp_request *rq, struct jw *w)
{
	const struct declarations *d = &s->cfg->decl;
	size_t offset, total = 1, page = (size_t)s->cfg->page_size, k = 0, shown = 0;

	if (mcp_read_cursor(rq, &offset) < 0)
		return;
	for (size_t i = 0; i < d->n_resources; i++)
		total += d->resources[i].is_template;
	if (offset > total) {
		mcp_fail(rq, RPC_INVALID_PARAMS, "Invalid cursor: past the end of the list");
		return;
	}
	jw_key(w, "resourceTemplates");
	jw_arr_begin(w);
	for (size_t i = 0; i < d->n_resources && shown < page; i++) {
		if (!d->resources[i].is_template)
			continue;
		if (k++ >= offset) {
			write_declared_entry(w, &d->resources[i]);
			shown++;
		}
	}
	if (offset + shown < total && shown < page) {
		/* The table template is the last entry. */
		jw_obj_begin(w);
		jw_kstr(w, "uriTemplate", TABLE_URI_TEMPLATE);
		jw_kstr(w, "name", "table-schema");
		jw_kstr(w, "title", "Table schema");
		jw_kstr(w, "description", "Columns, types, keys, indexes, constraints and size of one "
		    "table or view, as JSON. schema and table complete with completion/complete.");
		jw_kstr(w, "mimeType", "application/json");
		jw_obj_end(w);
		shown++;
	}
	jw_arr_end(w);
	if (offset + shown < total)
		mcp_write_cursor(w, offset + shown);
	mcp_write_cache_hints(rq, w, 300000);
}

static void
not_found(struct mcp_request *rq, const char *uri, const char *why)
{
	struct buf data = BUF_INIT;
	struct jw w;

	jw_init(&w, &data);
	jw_obj_begin(&w);
	jw_kstr(&w, "uri", uri);
	jw_obj_end(&w);
	/* 2026-07-28 moved "resource not found" from -32002 to -32602. */
	mcp_fail(rq, rq->modern ? RPC_INVALID_PARAMS : MCP_RESOURCE_NOT_FOUND_LEGACY,
	    "Resource not found: %s%s%s", uri, why ? ": " : "", why ? why : "");
	buf_append(&rq->err_data, data.data, data.len);
	buf_free(&data);
}

/* {var} in text replaced by the matched values. */
static void
substitute(struct buf *out, const char *text, const struct decl_resource *r, char **values)
{
	for (const char *p = text; *p; p++) {
		const char *close;
		size_t i;

		if (*p == '{' && (close = strchr(p, '}')) != NULL) {
			for (i = 0; i < r->n_vars; i++)
				if (strlen(r->vars[i]) == (size_t)(close - p - 1) &&
				    strncmp(r->vars[i], p + 1, (size_t)(close - p - 1)) == 0)
					break;
			if (i < r->n_vars) {
				buf_puts(out, values[i]);
				p = close;
				continue;
			}
		}
		buf_putc(out, *p);
	}
}

static void
write_contents(struct jw *w, struct mcp_request *rq, const char *uri, const char *mime,
    const char *key, const char *value, size_t len)
{
	jw_key(w, "contents");
	jw_arr_begin(w);
	jw_obj_begin(w);
	jw_kstr(w, "uri", uri);
	if (mime)
		jw_kstr(w, "mimeType", mime);
	jw_key(w, key);
	jw_strn(w, value, len);
	jw_obj_end(w);
	jw_arr_end(w);
	mcp_write_cache_hints(rq, w, 60000);
}

/* A declared resource or template: literal text or blob, or the first value of its SQL. */
static bool
read_declared(struct mcp_session *s, struct mcp_request *rq, const char *uri, struct jw *w)
{
	const struct declarations *d = &s->cfg->decl;

	for (size_t i = 0; i < d->n_resources; i++) {
		const struct decl_resource *r = &d->resources[i];
		char **values = xcalloc(r->n_vars + 1, sizeof(char *));
		struct buf text = BUF_INIT;
		char why[300];
		int match = r->is_template ? decl_template_match(r, uri, values, why, sizeof(why)) :
		    strcmp(r->uri, uri) == 0;

		if (match == 0) {
			free(values);
			continue;
		}
		if (match < 0) {
			mcp_fail(rq, RPC_INVALID_PARAMS, "Invalid params: %s matches the resource template "
			    "%s, but its %s", uri, r->uri, why);
			free(values);
			return true;
		}
		if (r->blob != NULL) {
			write_contents(w, rq, uri, r->mime_type, "blob", r->blob, strlen(r->blob));
		} else if (r->text != NULL) {
			substitute(&text, r->text, r, values);
			write_contents(w, rq, uri, r->mime_type ? r->mime_type : "text/plain", "text",
			    text.data ? text.data : "", text.len);
		} else if (declared_sql_allowed(rq, r->is_template ? "resource template" : "resource",
		    r->uri, r->sql)) {
			struct tool_ctx tc;
			struct db_request req;

			ctx_init(&tc, s, rq);
			tool_request_defaults(&tc, &req);
			req.sql = r->sql;
			req.params = (const char *const *)values;
			req.nparams = (int)r->n_vars;
			req.single_value = true;
			req.max_rows = 1;
			tool_run(&tc, &req);
			if (tc.res.status != DB_OK) {
				fail_from_db(&tc);
			} else {
				struct json_object *v = json_tokener_parse(tc.res.value.len ?
				    buf_cstr(&tc.res.value) : "null");
				bool bytea = tc.res.columns.len && strstr(buf_cstr(&tc.res.columns),
				    "\"type\":\"bytea\"") != NULL;
				const char *val = v == NULL ? "" : json_object_is_type(v, json_type_string) ?
				    json_object_get_string(v) : json_object_to_json_string_ext(v,
				    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);

				write_contents(w, rq, uri, r->mime_type ? r->mime_type : bytea ?
				    "application/octet-stream" : "text/plain", bytea ? "blob" : "text", val,
				    strlen(val));
				json_object_put(v);
			}
			db_result_free(&tc.res);
		}
		for (size_t k = 0; k < r->n_vars; k++)
			free(values[k]);
		free(values);
		buf_free(&text);
		return true;
	}
	return false;
}

void
resources_subscribe(struct mcp_session *s, struct mcp_request *rq, struct jw *w)
{
	struct json_object *u;

	(void)s;
	(void)w;
	/* Declared and catalog resources change only with the configuration or DDL; a
	 * subscription is accepted and simply never fires. */
	if (rq->params == NULL || !json_object_object_get_ex(rq->params, "uri", &u) ||
	    !json_object_is_type(u, json_type_string))
		mcp_fail(rq, RPC_INVALID_PARAMS, "Invalid params: params.uri (a string) is required");
}

void
resources_read(struct mcp_session *s, struct mcp_request *rq, struct jw *w)
{
	struct json_object *u;
	const char *uri;
	char *schema = NULL, *table = NULL;
	struct tool_ctx tc;
	struct buf doc = BUF_INIT, why = BUF_INIT;

	if (rq->params == NULL || !json_object_object_get_ex(rq->params, "uri", &u) ||
	    !json_object_is_type(u, json_type_string)) {
		mcp_fail(rq, RPC_INVALID_PARAMS, "Invalid params: resources/read requires params.uri "
		    "(a string)");
		return;
	}
	uri = json_object_get_string(u);
	if (read_declared(s, rq, uri, w))
		return;
	if (!parse_table_uri(uri, &schema, &table)) {
		not_found(rq, uri, "pgmcp serves " TABLE_URI_TEMPLATE);
		return;
	}
	ctx_init(&tc, s, rq);
	if (catalog_describe(&tc, schema, table, &doc, &why)) {
		jw_key(w, "contents");
		jw_arr_begin(w);
		jw_obj_begin(w);
		jw_kstr(w, "uri", uri);
		jw_kstr(w, "mimeType", "application/json");
		jw_key(w, "text");
		jw_strn(w, doc.data, doc.len);
		jw_obj_end(w);
		jw_arr_end(w);
		mcp_write_cache_hints(rq, w, 60000);
	} else if (why.len) {
		not_found(rq, uri, buf_cstr(&why));
	} else {
		fail_from_db(&tc);
	}
	free(schema);
	free(table);
	buf_free(&doc);
	buf_free(&why);
	db_result_free(&tc.res);
}

static const char *
string_member(struct json_object *obj, const char *key)
{
	struct json_object *v;

	if (obj == NULL || !json_object_object_get_ex(obj, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/* The completion source a declaration gives for this argument, if any. */
static const struct decl_completion *
declared_completion(const struct declarations *d, const char *type, const char *ref,
    const char *arg)
{
	if (ref == NULL)
		return NULL;
	if (strcmp(type, "ref/resource") == 0) {
		for (size_t i = 0; i < d->n_resources; i++)
			if (d->resources[i].is_template && strcmp(d->resources[i].uri, ref) == 0)
				for (size_t v = 0; v < d->resources[i].n_vars; v++)
					if (strcmp(d->resources[i].vars[v], arg) == 0)
						return &d->resources[i].completions[v];
	} else if (strcmp(type, "ref/prompt") == 0) {
		for (size_t i = 0; i < d->n_prompts; i++)
			if (strcmp(d->prompts[i].name, ref) == 0)
				for (size_t a = 0; a < d->prompts[i].n_args; a++)
					if (strcmp(d->prompts[i].args[a].name, arg) == 0)
						return &d->prompts[i].args[a].completion;
	}
	return NULL;
}

static bool
declared_ref(const struct declarations *d, const char *type, const char *ref)
{
	if (ref == NULL)
		return false;
	for (size_t i = 0; strcmp(type, "ref/resource") == 0 && i < d->n_resources; i++)
		if (d->resources[i].is_template && strcmp(d->resources[i].uri, ref) == 0)
			return true;
	for (size_t i = 0; strcmp(type, "ref/prompt") == 0 && i < d->n_prompts; i++)
		if (strcmp(d->prompts[i].name, ref) == 0)
			return true;
	return false;
}

/* Static values that start with what was typed, or the first column of the declared SQL. */
static void
complete_declared(struct mcp_session *s, struct mcp_request *rq, const struct decl_completion *dc,
    const char *argname, const char *value, struct jw *w)
{
	struct json_object *rows = NULL;
	size_t total = 0, shown = 0;

	if (dc != NULL && dc->sql != NULL &&
	    !declared_sql_allowed(rq, "the completions of argument", argname, dc->sql))
		return;
	jw_key(w, "completion");
	jw_obj_begin(w);
	jw_key(w, "values");
	jw_arr_begin(w);
	if (dc != NULL && dc->sql != NULL) {
		struct tool_ctx tc;
		struct db_request req;
		const char *params[1] = { value };

		ctx_init(&tc, s, rq);
		tool_request_defaults(&tc, &req);
		req.sql = dc->sql;
		req.params = params;
		req.nparams = strstr(dc->sql, "$1") ? 1 : 0;
		req.max_rows = COMPLETION_MAX + 1;
		req.limit_wrap = true;
		tool_run(&tc, &req);
		rows = json_tokener_parse(tc.res.status == DB_OK && tc.res.rows.len ?
		    buf_cstr(&tc.res.rows) : "[]");
		total = rows ? json_object_array_length(rows) : 0;
		for (size_t i = 0; i < total && shown < COMPLETION_MAX; i++, shown++) {
			struct json_object *row = json_object_array_get_idx(rows, i);

			json_object_object_foreach(row, k, v) {
				(void)k;
				jw_str(w, v ? json_object_get_string(v) : "");
				break;
			}
		}
		json_object_put(rows);
		db_result_free(&tc.res);
	} else if (dc != NULL) {
		for (size_t i = 0; i < dc->n_values; i++) {
			if (strncmp(dc->values[i], value, strlen(value)) != 0)
				continue;
			total++;
			if (shown < COMPLETION_MAX) {
				jw_str(w, dc->values[i]);
				shown++;
			}
		}
	}
	jw_arr_end(w);
	jw_kint(w, "total", (int64_t)total);
	jw_kbool(w, "hasMore", total > shown);
	jw_obj_end(w);
}

void
completion_complete(struct mcp_session *s, struct mcp_request *rq, struct jw *w)
{
	struct json_object *ref = NULL, *argument = NULL, *context = NULL, *ctxargs = NULL, *rows;
	const char *type, *argname, *value, *params[3];
	struct tool_ctx tc;
	struct db_request req;
	bool qualified = false;
	size_t n;

	if (rq->params == NULL || !json_object_object_get_ex(rq->params, "ref", &ref) ||
	    !json_object_object_get_ex(rq->params, "argument", &argument) ||
	    (type = string_member(ref, "type")) == NULL ||
	    (argname = string_member(argument, "name")) == NULL ||
	    (value = string_member(argument, "value")) == NULL) {
		mcp_fail(rq, RPC_INVALID_PARAMS, "Invalid params: completion/complete requires ref.type, "
		    "argument.name and argument.value");
		return;
	}
	if (json_object_object_get_ex(rq->params, "context", &context))
		json_object_object_get_ex(context, "arguments", &ctxargs);
	{
		const struct decl_completion *dc = declared_completion(&s->cfg->decl, type,
		    string_member(ref, strcmp(type, "ref/resource") == 0 ? "uri" : "name"), argname);

		if (dc != NULL || declared_ref(&s->cfg->decl, type, string_member(ref,
		    strcmp(type, "ref/resource") == 0 ? "uri" : "name"))) {
			complete_declared(s, rq, dc, argname, value, w);
			return;
		}
	}
	ctx_init(&tc, s, rq);
	tool_request_defaults(&tc, &req);
	if (strcmp(type, "ref/resource") == 0) {
		const char *uri = string_member(ref, "uri");

		if (uri == NULL || strcmp(uri, TABLE_URI_TEMPLATE) != 0) {
			mcp_fail(rq, RPC_INVALID_PARAMS, "Invalid params: no resource template %s",
			    uri ? uri : "(missing ref.uri)");
			return;
		}
	} else if (strcmp(type, "ref/prompt") == 0) {
		const char *name = string_member(ref, "name");

		if (name == NULL || !prompts_exists(name)) {
			mcp_fail(rq, RPC_INVALID_PARAMS, "Invalid params: %s%s", name ? "unknown prompt " :
			    "ref.name is required for ref/prompt", name ? name : "");
			return;
		}
		qualified = true;	/* prompts take schema.table names */
	} else {
		mcp_fail(rq, RPC_INVALID_PARAMS, "Invalid params: ref.type must be ref/resource or "
		    "ref/prompt");
		return;
	}
	if (strcmp(argname, "schema") == 0) {
		params[0] = value;
		req.sql = COMPLETE_SCHEMA_SQL;
		req.nparams = 1;
	} else if (strcmp(argname, "table") == 0) {
		params[0] = string_member(ctxargs, "schema");
		params[1] = value;
		params[2] = qualified ? "true" : "false";
		req.sql = COMPLETE_TABLE_SQL;
		req.nparams = 3;
	} else {
		/* An argument with nothing to suggest (free text such as a question). */
		jw_key(w, "completion");
		jw_obj_begin(w);
		jw_key(w, "values");
		jw_arr_begin(w);
		jw_arr_end(w);
		jw_kint(w, "total", 0);
		jw_kbool(w, "hasMore", false);
		jw_obj_end(w);
		return;
	}
	req.params = params;
	req.max_rows = COMPLETION_MAX + 1;
	tool_run(&tc, &req);
	if (tc.res.status != DB_OK) {
		fail_from_db(&tc);
		db_result_free(&tc.res);
		return;
	}
	rows = json_tokener_parse(tc.res.rows.len ? buf_cstr(&tc.res.rows) : "[]");
	n = rows ? json_object_array_length(rows) : 0;
	jw_key(w, "completion");
	jw_obj_begin(w);
	jw_key(w, "values");
	jw_arr_begin(w);
	for (size_t i = 0; i < n && i < COMPLETION_MAX; i++)
		jw_str(w, string_member(json_object_array_get_idx(rows, i), "v"));
	jw_arr_end(w);
	jw_kint(w, "total", (int64_t)n);
	jw_kbool(w, "hasMore", n > COMPLETION_MAX);
	jw_obj_end(w);
	json_object_put(rows);
	db_result_free(&tc.res);
}
