/* tools_catalog.c: schema introspection tools, each one fixed catalog query in one round trip. */
#include "tool.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json.h>

#include "jsonw.h"
#include "util.h"

#define SYSTEM_SCHEMA_FILTER(n) \
	"(" n ".nspname NOT IN ('pg_catalog', 'information_schema') " \
	"AND " n ".nspname NOT LIKE 'pg\\_toast%' AND " n ".nspname NOT LIKE 'pg\\_temp\\_%')"

static const char LIST_SCHEMAS_SQL[] =
    "SELECT n.nspname AS name, pg_catalog.pg_get_userbyid(n.nspowner) AS owner, "
    "pg_catalog.obj_description(n.oid, 'pg_namespace') AS description, "
    "(SELECT count(*) FROM pg_catalog.pg_class c WHERE c.relnamespace = n.oid "
    "AND c.relkind IN ('r', 'p', 'f') AND NOT c.relispartition) AS tables, "
    "(SELECT count(*) FROM pg_catalog.pg_class c WHERE c.relnamespace = n.oid "
    "AND c.relkind IN ('v', 'm')) AS views "
    "FROM pg_catalog.pg_namespace n "
    "WHERE ($1::boolean OR " SYSTEM_SCHEMA_FILTER("n") ") "
    "AND pg_catalog.has_schema_privilege(n.oid, 'USAGE') "
    "ORDER BY n.nspname";

static const char LIST_TABLES_SQL[] =
    "SELECT n.nspname AS schema, c.relname AS name, "
    "CASE c.relkind WHEN 'r' THEN 'table' WHEN 'p' THEN 'partitioned table' "
    "WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view' WHEN 'f' THEN 'foreign table' END AS kind, "
    "CASE WHEN c.relkind IN ('v', 'f') OR c.reltuples < 0 THEN NULL "
    "ELSE c.reltuples::bigint END AS row_estimate, "
    "CASE WHEN c.relkind IN ('v', 'f') THEN NULL "
    "WHEN c.relkind = 'p' THEN (SELECT sum(pg_catalog.pg_total_relation_size(i.inhrelid))::bigint "
    "FROM pg_catalog.pg_inherits i WHERE i.inhparent = c.oid) "
    "ELSE pg_catalog.pg_total_relation_size(c.oid) END AS total_bytes, "
    "pg_catalog.obj_description(c.oid, 'pg_class') AS description "
    "FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
    "WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND NOT c.relispartition "
    "AND ($1::text IS NULL OR n.nspname = $1) "
    "AND ($2::text IS NULL OR c.relname ILIKE $2) "
    "AND ($3::boolean OR c.relkind IN ('r', 'p', 'f')) "
    "AND ($4::boolean OR " SYSTEM_SCHEMA_FILTER("n") ") "
    "AND pg_catalog.has_schema_privilege(n.oid, 'USAGE') "
    "ORDER BY 1, 2";

static const char LIST_EXTENSIONS_SQL[] =
    "SELECT a.name, a.installed_version, a.default_version, n.nspname AS schema, "
    "a.comment AS description "
    "FROM pg_catalog.pg_available_extensions a "
    "LEFT JOIN pg_catalog.pg_extension e ON e.extname = a.name "
    "LEFT JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace "
    "WHERE $1::boolean OR a.installed_version IS NOT NULL ORDER BY a.name";

/*
 * $1 schema (or NULL), $2 table name. Without a schema the search_path decides; failing that a
 * unique match in any user schema. The document is built by PostgreSQL as one json value.
 */
static const char DESCRIBE_SQL[] =
    "WITH visible AS ("
    " SELECT c.oid, n.nspname, c.relname, c.relkind FROM pg_catalog.pg_class c"
    " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
    " WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND c.relname = $2"
    " AND CASE WHEN $1::text IS NOT NULL THEN n.nspname = $1"
    " ELSE pg_catalog.pg_table_is_visible(c.oid) END),"
    " cand AS ("
    " SELECT * FROM visible UNION ALL"
    " SELECT c.oid, n.nspname, c.relname, c.relkind FROM pg_catalog.pg_class c"
    " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
    " WHERE $1::text IS NULL AND NOT EXISTS (SELECT 1 FROM visible)"
    " AND c.relkind IN ('r', 'p', 'v', 'm', 'f') AND c.relname = $2"
    " AND " SYSTEM_SCHEMA_FILTER("n") "),"
    " t AS (SELECT * FROM cand WHERE (SELECT count(*) FROM cand) = 1)"
    " SELECT CASE (SELECT count(*) FROM cand)"
    " WHEN 1 THEN (SELECT pg_catalog.json_strip_nulls(pg_catalog.json_build_object("
    "  'schema', t.nspname, 'name', t.relname,"
    "  'kind', CASE t.relkind WHEN 'r' THEN 'table' WHEN 'p' THEN 'partitioned table'"
    "   WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view' WHEN 'f' THEN 'foreign table' END,"
    "  'description', pg_catalog.obj_description(t.oid, 'pg_class'),"
    "  'row_estimate', (SELECT CASE WHEN c.reltuples < 0 OR c.relkind IN ('v', 'f') THEN NULL"
    "   ELSE c.reltuples::bigint END FROM pg_catalog.pg_class c WHERE c.oid = t.oid),"
    "  'total_bytes', CASE WHEN t.relkind IN ('v', 'f') THEN NULL"
    "   WHEN t.relkind = 'p' THEN (SELECT sum(pg_catalog.pg_total_relation_size(i.inhrelid))::bigint"
    "   FROM pg_catalog.pg_inherits i WHERE i.inhparent = t.oid)"
    "   ELSE pg_catalog.pg_total_relation_size(t.oid) END,"
    "  'columns', (SELECT pg_catalog.json_agg(pg_catalog.json_build_object("
    "    'name', a.attname, 'type', pg_catalog.format_type(a.atttypid, a.atttypmod),"
    "    'nullable', NOT a.attnotnull,"
    "    'default', pg_catalog.pg_get_expr(d.adbin, d.adrelid),"
    "    'identity', CASE a.attidentity WHEN 'a' THEN 'always' WHEN 'd' THEN 'by default' END,"
    "    'generated', CASE a.attgenerated WHEN 's' THEN 'stored' END,"
    "    'description', pg_catalog.col_description(a.attrelid, a.attnum)) ORDER BY a.attnum)"
    "   FROM pg_catalog.pg_attribute a LEFT JOIN pg_catalog.pg_attrdef d"
    "   ON d.adrelid = a.attrelid AND d.adnum = a.attnum"
    "   WHERE a.attrelid = t.oid AND a.attnum > 0 AND NOT a.attisdropped),"
    "  'primary_key', (SELECT pg_catalog.json_agg(a.attname ORDER BY k.ord)"
    "   FROM pg_catalog.pg_constraint con, unnest(con.conkey) WITH ORDINALITY k(attnum, ord),"
    "   pg_catalog.pg_attribute a WHERE con.conrelid = t.oid AND con.contype = 'p'"
    "   AND a.attrelid = con.conrelid AND a.attnum = k.attnum),"
    "  'foreign_keys', (SELECT pg_catalog.json_agg(pg_catalog.json_build_object("
    "    'name', con.conname, 'definition', pg_catalog.pg_get_constraintdef(con.oid, true),"
    "    'references', con.confrelid::pg_catalog.regclass::text) ORDER BY con.conname)"
    "   FROM pg_catalog.pg_constraint con WHERE con.conrelid = t.oid AND con.contype = 'f'),"
    "  'referenced_by', (SELECT pg_catalog.json_agg(pg_catalog.json_build_object("
    "    'table', con.conrelid::pg_catalog.regclass::text, 'name', con.conname,"
    "    'definition', pg_catalog.pg_get_constraintdef(con.oid, true)) ORDER BY 1)"
    "   FROM pg_catalog.pg_constraint con WHERE con.confrelid = t.oid AND con.contype = 'f'),"
    "  'indexes', (SELECT pg_catalog.json_agg(pg_catalog.json_build_object("
    "    'name', ic.relname, 'definition', pg_catalog.pg_get_indexdef(i.indexrelid),"
    "    'unique', i.indisunique, 'primary', i.indisprimary, 'valid', i.indisvalid,"
    "    'bytes', pg_catalog.pg_relation_size(i.indexrelid)) ORDER BY ic.relname)"
    "   FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid"
    "   WHERE i.indrelid = t.oid),"
    "  'constraints', (SELECT pg_catalog.json_agg(pg_catalog.json_build_object("
    "    'name', con.conname, 'type', CASE con.contype WHEN 'c' THEN 'check' WHEN 'u' THEN 'unique'"
    "    WHEN 'x' THEN 'exclusion' WHEN 't' THEN 'trigger' END,"
    "    'definition', pg_catalog.pg_get_constraintdef(con.oid, true)) ORDER BY con.conname)"
    "   FROM pg_catalog.pg_constraint con WHERE con.conrelid = t.oid"
    "   AND con.contype IN ('c', 'u', 'x', 't')),"
    "  'triggers', (SELECT pg_catalog.json_agg(pg_catalog.pg_get_triggerdef(tg.oid, true)"
    "   ORDER BY tg.tgname) FROM pg_catalog.pg_trigger tg"
    "   WHERE tg.tgrelid = t.oid AND NOT tg.tgisinternal),"
    "  'partition_of', (SELECT i.inhparent::pg_catalog.regclass::text"
    "   FROM pg_catalog.pg_inherits i WHERE i.inhrelid = t.oid AND t.relkind IN ('r', 'p')"
    "   AND (SELECT c.relispartition FROM pg_catalog.pg_class c WHERE c.oid = t.oid)),"
    "  'partition_key', CASE WHEN t.relkind = 'p' THEN pg_catalog.pg_get_partkeydef(t.oid) END,"
    "  'partitions', (SELECT pg_catalog.json_agg(pg_catalog.json_build_object("
    "    'name', i.inhrelid::pg_catalog.regclass::text,"
    "    'bounds', pg_catalog.pg_get_expr(c.relpartbound, c.oid)) ORDER BY 1)"
    "   FROM pg_catalog.pg_inherits i JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid"
    "   WHERE i.inhparent = t.oid AND t.relkind = 'p'),"
    "  'view_definition', CASE WHEN t.relkind IN ('v', 'm')"
    "   THEN pg_catalog.pg_get_viewdef(t.oid, true) END)) FROM t)"
    " WHEN 0 THEN pg_catalog.json_build_object('error', 'not_found', 'similar',"
    "  (SELECT pg_catalog.json_agg(x.q) FROM (SELECT n.nspname || '.' || c.relname AS q"
    "   FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
    "   WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND " SYSTEM_SCHEMA_FILTER("n")
    "   AND (c.relname ILIKE '%' || $2 || '%' OR $2 ILIKE '%' || c.relname || '%'"
    "   OR lower(left(c.relname, 3)) = lower(left($2, 3)))"
    "   ORDER BY 1 LIMIT 10) x))"
    " ELSE pg_catalog.json_build_object('error', 'ambiguous', 'candidates',"
    "  (SELECT pg_catalog.json_agg(nspname || '.' || relname ORDER BY 1) FROM cand)) END";

static const char DATABASE_INFO_SQL[] =
    "SELECT pg_catalog.json_build_object("
    " 'server_version', pg_catalog.current_setting('server_version'),"
    " 'server_version_num', pg_catalog.current_setting('server_version_num')::int,"
    " 'database', pg_catalog.current_database(), 'user', current_user,"
    " 'superuser', (SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.rolname = current_user),"
    " 'encoding', pg_catalog.pg_encoding_to_char(d.encoding),"
    " 'collation', d.datcollate, 'ctype', d.datctype,"
    " 'timezone', pg_catalog.current_setting('TimeZone'),"
    " 'size_bytes', pg_catalog.pg_database_size(d.oid),"
    " 'started_at', pg_catalog.pg_postmaster_start_time(),"
    " 'uptime', date_trunc('second', now() - pg_catalog.pg_postmaster_start_time())::text,"
    " 'in_recovery', pg_catalog.pg_is_in_recovery(),"
    " 'max_connections', pg_catalog.current_setting('max_connections')::int,"
    " 'connections', (SELECT count(*) FROM pg_catalog.pg_stat_activity a"
    "  WHERE a.datname = pg_catalog.current_database()),"
    " 'schemas', (SELECT count(*) FROM pg_catalog.pg_namespace n WHERE " SYSTEM_SCHEMA_FILTER("n") "),"
    " 'tables', (SELECT count(*) FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n"
    "  ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition"
    "  AND " SYSTEM_SCHEMA_FILTER("n") "),"
    " 'extensions', (SELECT pg_catalog.json_agg(e.extname || ' ' || e.extversion ORDER BY 1)"
    "  FROM pg_catalog.pg_extension e),"
    " 'default_transaction_read_only', pg_catalog.current_setting('default_transaction_read_only'))"
    " FROM pg_catalog.pg_database d WHERE d.datname = pg_catalog.current_database()";

/* Runs a catalog listing and returns {"<key>": rows, "row_count": n, "truncated": b}. */
static void
run_listing(struct tool_ctx *tc, const char *key, const char *sql, const char *const *params,
    int nparams)
{
	struct db_request req;
	struct buf out = BUF_INIT;
	struct jw w;

	tool_request_defaults(tc, &req);
	req.sql = sql;
	req.params = params;
	req.nparams = nparams;
	req.limit_wrap = true;
	tool_run(tc, &req);
	if (tc->res.status != DB_OK) {
		if (tc->res.status == DB_CANCELLED)
			tool_error(tc, "cancelled");
		else
			tool_db_error(tc, NULL, 0);
		return;
	}
	jw_init(&w, &out);
	jw_obj_begin(&w);
	jw_key(&w, key);
	jw_raw(&w, tc->res.rows.len ? tc->res.rows.data : "[]", tc->res.rows.len ? tc->res.rows.len : 2);
	jw_kint(&w, "row_count", tc->res.row_count);
	jw_kbool(&w, "truncated", tc->res.truncated);
	if (tc->res.truncated)
		jw_kstr(&w, "notice", "The list was cut at the row limit: narrow it with schema or pattern.");
	jw_obj_end(&w);
	tool_result_json(tc, out.data, out.len);
	buf_free(&out);
}

void
tool_list_schemas(struct tool_ctx *tc)
{
	static const char *const known[] = { "include_system", NULL };
	const char *params[1];
	bool system;

	if (!tool_check_unknown_args(tc, known) ||
	    !tool_arg_bool(tc, "include_system", false, &system))
		return;
	params[0] = system ? "true" : "false";
	run_listing(tc, "schemas", LIST_SCHEMAS_SQL, params, 1);
}

void
tool_list_tables(struct tool_ctx *tc)
{
	static const char *const known[] = { "schema", "pattern", "include_views", "include_system",
		NULL };
	const char *params[4];
	const char *schema, *pattern;
	bool views, system;

	if (!tool_check_unknown_args(tc, known) || !tool_arg_string(tc, "schema", false, &schema) ||
	    !tool_arg_string(tc, "pattern", false, &pattern) ||
	    !tool_arg_bool(tc, "include_views", true, &views) ||
	    !tool_arg_bool(tc, "include_system", false, &system))
		return;
	params[0] = schema;
	params[1] = pattern;
	params[2] = views ? "true" : "false";
	params[3] = system || schema != NULL ? "true" : "false";
	run_listing(tc, "tables", LIST_TABLES_SQL, params, 4);
}

void
tool_list_extensions(struct tool_ctx *tc)
{
	static const char *const known[] = { "available", NULL };
	const char *params[1];
	bool available;

	if (!tool_check_unknown_args(tc, known) || !tool_arg_bool(tc, "available", false, &available))
		return;
	params[0] = available ? "true" : "false";
	run_listing(tc, "extensions", LIST_EXTENSIONS_SQL, params, 1);
}

/* An identifier without its quotes ("My Table" -> My Table, "" -> "), case kept. */
static char *
unquote_ident(const char *s, size_t n)
{
	struct buf out = BUF_INIT;

	while (n > 0 && (*s == ' ' || *s == '\t')) {
		s++;
		n--;
	}
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	if (n >= 2 && s[0] == '"' && s[n - 1] == '"') {
		for (size_t i = 1; i + 1 < n; i++) {
			buf_putc(&out, s[i]);
			if (s[i] == '"' && s[i + 1] == '"')
				i++;
		}
	} else {
		buf_append(&out, s, n);
	}
	buf_cstr(&out);
	return out.data;
}

/* Splits schema.table at the first dot outside double quotes. */
void
catalog_split_name(const char *name, char **schema, char **table)
{
	bool quoted = false;

	for (const char *p = name; *p; p++) {
		if (*p == '"')
			quoted = !quoted;
		else if (*p == '.' && !quoted) {
			*schema = unquote_ident(name, (size_t)(p - name));
			*table = unquote_ident(p + 1, strlen(p + 1));
			return;
		}
	}
	*schema = NULL;
	*table = unquote_ident(name, strlen(name));
}

static char *
fold_lower(const char *s)
{
	char *out = s ? xstrdup(s) : NULL;

	for (char *p = out; p && *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p + 32);
	return out;
}

static bool describe_exact(struct tool_ctx *tc, const char *schema, const char *table,
    struct buf *doc, struct buf *why);

/*
 * Exact names first; if that finds nothing, the names folded to lower case, as PostgreSQL
 * would read them unquoted (models write Sales.Orders for sales.orders).
 */
bool
catalog_describe(struct tool_ctx *tc, const char *schema, const char *table, struct buf *doc,
    struct buf *why)
{
	char *lschema, *ltable;
	bool found;

	if (describe_exact(tc, schema, table, doc, why) || why->len == 0)
		return !why->len && tc->res.status == DB_OK;
	lschema = fold_lower(schema);
	ltable = fold_lower(table);
	if ((schema && strcmp(schema, lschema) != 0) || strcmp(table, ltable) != 0) {
		struct buf why2 = BUF_INIT;

		found = describe_exact(tc, lschema, ltable, doc, &why2);
		if (found)
			buf_reset(why);
		buf_free(&why2);
	} else {
		found = false;
	}
	free(lschema);
	free(ltable);
	return found;
}

static bool
describe_exact(struct tool_ctx *tc, const char *schema, const char *table, struct buf *doc,
    struct buf *why)
{
	struct db_request req;
	const char *params[2] = { schema, table };
	struct json_object *parsed, *err, *list;

	tool_request_defaults(tc, &req);
	req.sql = DESCRIBE_SQL;
	req.params = params;
	req.nparams = 2;
	req.single_value = true;
	req.max_result_bytes = tc->s->cfg->max_result_bytes;
	tool_run(tc, &req);
	if (tc->res.status != DB_OK)
		return false;
	parsed = json_tokener_parse(buf_cstr(&tc->res.value));
	if (parsed != NULL && json_object_object_get_ex(parsed, "error", &err)) {
		bool ambiguous = strcmp(json_object_get_string(err), "ambiguous") == 0;

		json_object_object_get_ex(parsed, ambiguous ? "candidates" : "similar", &list);
		if (ambiguous)
			buf_printf(why, "table \"%s\" exists in several schemas: %s; name one as "
			    "schema.table", table, json_object_to_json_string(list));
		else
			buf_printf(why, "table \"%s%s%s\" not found%s%s", schema ? schema : "",
			    schema ? "." : "", table, list ? "; similar names: " : " (list_tables shows "
			    "what exists)", list ? json_object_to_json_string(list) : "");
		json_object_put(parsed);
		return false;
	}
	json_object_put(parsed);
	buf_append(doc, tc->res.value.data, tc->res.value.len);
	return true;
}

void
tool_describe_table(struct tool_ctx *tc)
{
	static const char *const known[] = { "table", "schema", NULL };
	const char *name, *schema_arg;
	char *schema = NULL, *table = NULL;
	struct buf doc = BUF_INIT, why = BUF_INIT;

	if (!tool_check_unknown_args(tc, known) || !tool_arg_string(tc, "table", true, &name) ||
	    !tool_arg_string(tc, "schema", false, &schema_arg))
		return;
	if (schema_arg != NULL) {
		/* Given apart, both are exact names (quotes, if any, are removed). */
		size_t n = strlen(name);

		schema = xstrdup(schema_arg);
		table = n >= 2 && name[0] == '"' && name[n - 1] == '"' ? unquote_ident(name, n) :
		    xstrdup(name);
	} else {
		catalog_split_name(name, &schema, &table);
	}
	if (catalog_describe(tc, schema, table, &doc, &why))
		tool_result_json(tc, doc.data, doc.len);
	else if (why.len)
		tool_error(tc, "%s", buf_cstr(&why));
	else if (tc->res.status == DB_CANCELLED)
		tool_error(tc, "cancelled");
	else
		tool_db_error(tc, NULL, 0);
	free(schema);
	free(table);
	buf_free(&doc);
	buf_free(&why);
}

void
tool_database_info(struct tool_ctx *tc)
{
	static const char *const known[] = { NULL };
	static const char *const access_names[] = { "read_only", "read_write" };
	const struct config *cfg = tc->s->cfg;
	struct db_request req;
	struct buf out = BUF_INIT;
	struct jw w;

	if (!tool_check_unknown_args(tc, known))
		return;
	tool_request_defaults(tc, &req);
	req.sql = DATABASE_INFO_SQL;
	req.single_value = true;
	tool_run(tc, &req);
	if (tc->res.status != DB_OK || tc->res.value.len < 2) {
		if (tc->res.status == DB_CANCELLED)
			tool_error(tc, "cancelled");
		else
			tool_db_error(tc, NULL, 0);
		return;
	}
	jw_init(&w, &out);
	jw_obj_begin(&w);
	jw_kstr(&w, "pgmcp_version", PGMCP_VERSION);
	jw_kstr(&w, "access", access_names[cfg->access]);
	jw_key(&w, "limits");
	jw_obj_begin(&w);
	jw_kint(&w, "statement_timeout_ms", cfg->statement_timeout_ms);
	jw_kint(&w, "lock_timeout_ms", cfg->lock_timeout_ms);
	jw_kint(&w, "max_rows", cfg->max_rows);
	jw_kint(&w, "max_result_bytes", cfg->max_result_bytes);
	jw_obj_end(&w);
	/* Splice the server's object members in after ours. */
	buf_putc(&out, ',');
	buf_append(&out, tc->res.value.data + 1, tc->res.value.len - 1);
	tool_result_json(tc, out.data, out.len);
	buf_free(&out);
}
