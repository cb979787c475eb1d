/* tools.c: the tool registry (definitions, tools/list, tools/call) and helpers every tool uses. */
#include "tool.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json.h>

#include "audit.h"
#include "handlers.h"
#include "scoreboard.h"
#include "log.h"
#include "util.h"

/*
 * Schemas are written with single quotes for readability and turned into JSON when the list
 * is built; %MAX_ROWS% and %MAX_BYTES% become the configured limits. Texts avoid quotes.
 */
#define ROWS_OUTPUT_SCHEMA \
	"{'type':'object','properties':{" \
	"'columns':{'type':'array','description':'Result columns in order, with PostgreSQL type names.'," \
	"'items':{'type':'object','properties':{'name':{'type':'string'},'type':{'type':'string'}}," \
	"'required':['name','type']}}," \
	"'rows':{'type':'array','description':'One object per row, keyed by column name.','items':{'type':'object'}}," \
	"'row_count':{'type':'integer','description':'Rows returned here.'}," \
	"'truncated':{'type':'boolean','description':'True when more rows existed than were returned.'}," \
	"'truncated_by':{'type':'string','enum':['max_rows','max_result_bytes']}," \
	"'notice':{'type':'string','description':'What to do about a truncated result.'}," \
	"'command':{'type':'string','description':'PostgreSQL command tag, e.g. SELECT 3 or UPDATE 2.'}," \
	"'rows_affected':{'type':'integer'}," \
	"'elapsed_ms':{'type':'number'}}," \
	"'required':['columns','rows','row_count','truncated']}"

#define PARAMS_SCHEMA \
	"'params':{'type':'array','description':'Values bound to $1, $2 ... in order; they are " \
	"sent separately from the SQL text, never spliced into it. Use strings for dates, UUIDs " \
	"and JSON.','items':{'type':['string','number','integer','boolean','null']},'examples':[['DE',10]]}"

struct tool_def {
	const char *name;
	const char *title;
	const char *description;
	const char *input_schema;
	const char *output_schema;
	bool read_only, destructive, idempotent;
	bool needs_write_access;
	void (*call)(struct tool_ctx *tc);
};

static const struct tool_def tool_defs[] = {
	{ "query", "Run a read-only SQL query",
	    "Run one read-only SQL statement and get the rows back as JSON. Allowed: SELECT "
	    "(including WITH ... SELECT), VALUES, TABLE, EXPLAIN SELECT and SHOW; anything that "
	    "writes, locks rows, changes settings or calls side-effecting functions is refused. "
	    "One statement per call. Put literal values in params as $1, $2 ... rather than in the "
	    "SQL text. At most %MAX_ROWS% rows and %MAX_BYTES% bytes come back (see truncated and "
	    "notice); filter, aggregate or add ORDER BY with LIMIT rather than paging through big "
	    "tables. Use list_tables and describe_table first to learn the exact names.",
	    "{'type':'object','properties':{"
	    "'sql':{'type':'string','description':'One read-only SQL statement.','examples':["
	    "'SELECT id, email FROM sales.customers WHERE country = $1 ORDER BY id LIMIT 20']},"
	    PARAMS_SCHEMA ","
	    "'max_rows':{'type':'integer','minimum':1,'maximum':%MAX_ROWS%,'description':"
	    "'Return at most this many rows (default and ceiling %MAX_ROWS%).'}},"
	    "'required':['sql'],'additionalProperties':false}",
	    ROWS_OUTPUT_SCHEMA, true, false, true, false, tool_query },
	{ "execute", "Run a writing SQL statement",
	    "Run one SQL statement that changes data or schema (INSERT, UPDATE, DELETE, MERGE, "
	    "CREATE, ALTER, DROP ...) and commit it. Only available because the server runs with "
	    "access: read_write. One statement per call, committed on success and rolled back on "
	    "error. Session and server commands (SET, BEGIN/COMMIT, COPY, DO, VACUUM, LISTEN, "
	    "PREPARE) are refused. Use RETURNING to see changed rows (at most %MAX_ROWS% returned).",
	    "{'type':'object','properties':{"
	    "'sql':{'type':'string','description':'One SQL statement that writes.','examples':["
	    "'UPDATE sales.orders SET status = $1 WHERE id = $2 RETURNING id, status']},"
	    PARAMS_SCHEMA "},"
	    "'required':['sql'],'additionalProperties':false}",
	    ROWS_OUTPUT_SCHEMA, false, true, false, true, tool_execute },
	{ "list_schemas", "List schemas",
	    "List the schemas you can use, with owner, description and how many tables and views "
	    "each holds. System schemas are hidden unless include_system is true.",
	    "{'type':'object','properties':{'include_system':{'type':'boolean','default':false,"
	    "'description':'Also list pg_catalog and information_schema.'}},'additionalProperties':false}",
	    "{'type':'object','properties':{'schemas':{'type':'array','items':{'type':'object',"
	    "'properties':{'name':{'type':'string'},'owner':{'type':'string'},'description':"
	    "{'type':['string','null']},'tables':{'type':'integer'},'views':{'type':'integer'}}}},"
	    "'row_count':{'type':'integer'},'truncated':{'type':'boolean'}},'required':['schemas']}",
	    true, false, true, false, tool_list_schemas },
	{ "list_tables", "List tables and views",
	    "List tables, views, materialized views and foreign tables with their kind, estimated "
	    "row count, total size on disk and description. Filter by schema and by a name pattern "
	    "(case-insensitive; % matches any text).",
	    "{'type':'object','properties':{"
	    "'schema':{'type':'string','description':'Only this schema, e.g. public.'},"
	    "'pattern':{'type':'string','description':'Name pattern, e.g. %order%.','examples':['%order%']},"
	    "'include_views':{'type':'boolean','default':true},"
	    "'include_system':{'type':'boolean','default':false}},'additionalProperties':false}",
	    "{'type':'object','properties':{'tables':{'type':'array','items':{'type':'object',"
	    "'properties':{'schema':{'type':'string'},'name':{'type':'string'},'kind':{'type':'string'},"
	    "'row_estimate':{'type':['integer','null']},'total_bytes':{'type':['integer','null']},"
	    "'description':{'type':['string','null']}}}},'row_count':{'type':'integer'},"
	    "'truncated':{'type':'boolean'}},'required':['tables']}",
	    true, false, true, false, tool_list_tables },
	{ "describe_table", "Describe a table",
	    "Describe one table or view: columns with types, nullability, defaults and comments; "
	    "primary key; foreign keys in both directions; indexes; check, unique and exclusion "
	    "constraints; triggers; partitions; size and estimated row count; and the definition of "
	    "a view. Name it as schema.table, or give table and schema separately.",
	    "{'type':'object','properties':{"
	    "'table':{'type':'string','description':'Table name, optionally schema-qualified.',"
	    "'examples':['sales.orders','customers']},"
	    "'schema':{'type':'string','description':'Schema, when table is not qualified.'}},"
	    "'required':['table'],'additionalProperties':false}",
	    "{'type':'object','properties':{'schema':{'type':'string'},'name':{'type':'string'},"
	    "'kind':{'type':'string'},'description':{'type':'string'},'columns':{'type':'array',"
	    "'items':{'type':'object'}},'primary_key':{'type':'array','items':{'type':'string'}},"
	    "'foreign_keys':{'type':'array'},'referenced_by':{'type':'array'},'indexes':{'type':'array'},"
	    "'constraints':{'type':'array'},'row_estimate':{'type':'integer'},"
	    "'total_bytes':{'type':'integer'}},'required':['schema','name','kind','columns']}",
	    true, false, true, false, tool_describe_table },
	{ "explain", "Show a query plan",
	    "Show PostgreSQL's plan for one statement. Without analyze the statement is only "
	    "planned, never run, so INSERT, UPDATE, DELETE and MERGE can be explained too. With "
	    "analyze it runs (read-only statements only, inside a transaction that is rolled back) "
	    "and the plan shows real row counts and timings. Use it to check that a query uses an "
	    "index before running it on a big table.",
	    "{'type':'object','properties':{"
	    "'sql':{'type':'string','description':'The statement to explain (without EXPLAIN).',"
	    "'examples':['SELECT * FROM sales.orders WHERE customer_id = $1']},"
	    PARAMS_SCHEMA ","
	    "'analyze':{'type':'boolean','default':false,'description':'Run it and report actual rows and times.'},"
	    "'buffers':{'type':'boolean','default':false,'description':'With analyze: report buffer usage.'},"
	    "'verbose':{'type':'boolean','default':false},"
	    "'format':{'type':'string','enum':['text','json'],'default':'text'}},"
	    "'required':['sql'],'additionalProperties':false}",
	    "{'type':'object','properties':{'plan':{'description':'The plan: text lines joined by "
	    "newlines, or PostgreSQL JSON plan.'},'format':{'type':'string'},'analyzed':{'type':'boolean'},"
	    "'elapsed_ms':{'type':'number'}},'required':['plan','format','analyzed']}",
	    true, false, true, false, tool_explain },
	{ "list_extensions", "List extensions",
	    "List installed PostgreSQL extensions with version, schema and description; with "
	    "available true, also those that could be installed.",
	    "{'type':'object','properties':{'available':{'type':'boolean','default':false}},"
	    "'additionalProperties':false}",
	    "{'type':'object','properties':{'extensions':{'type':'array','items':{'type':'object',"
	    "'properties':{'name':{'type':'string'},'installed_version':{'type':['string','null']},"
	    "'default_version':{'type':['string','null']},'schema':{'type':['string','null']},"
	    "'description':{'type':['string','null']}}}},'row_count':{'type':'integer'},"
	    "'truncated':{'type':'boolean'}},'required':['extensions']}",
	    true, false, true, false, tool_list_extensions },
	{ "database_info", "Database and server facts",
	    "Facts about the server and this connection: PostgreSQL version, database, role and "
	    "whether it is a superuser, encoding, time zone, size, uptime, connections, installed "
	    "extensions, recovery state, and pgmcp's own access mode and limits.",
	    "{'type':'object','properties':{},'additionalProperties':false}",
	    "{'type':'object','properties':{'server_version':{'type':'string'},'database':"
	    "{'type':'string'},'user':{'type':'string'},'access':{'type':'string'},'limits':"
	    "{'type':'object'}},'required':['server_version','database','user','access']}",
	    true, false, true, false, tool_database_info },
	{ "top_queries", "Most expensive queries (pg_stat_statements)",
	    "The statements that cost this database the most, from the pg_stat_statements "
	    "extension: for each, its text (constants replaced by $1, $2 ...), calls, total and mean "
	    "execution time in ms, its share of all execution time, rows, and shared buffer blocks "
	    "hit and read. Order by total_time (default: what to optimise first), mean_time (the "
	    "slowest single runs), calls, rows or blocks_read (I/O). Use explain on a statement "
	    "from here to see why it is slow. When the extension is not installed the call fails "
	    "with the steps to enable it (shared_preload_libraries and CREATE EXTENSION). Without "
	    "pg_read_all_stats, statements of other roles read <insufficient privilege>.",
	    "{'type':'object','properties':{"
	    "'limit':{'type':'integer','minimum':1,'maximum':100,'default':10,"
	    "'description':'How many statements to return.','examples':[10]},"
	    "'order_by':{'type':'string','enum':['total_time','mean_time','calls','rows',"
	    "'blocks_read'],'default':'total_time','examples':['mean_time']},"
	    "'all_databases':{'type':'boolean','default':false,"
	    "'description':'Include statements run in other databases of the server.'}},"
	    "'additionalProperties':false}",
	    "{'type':'object','properties':{'extension_version':{'type':'string'},"
	    "'order_by':{'type':'string'},'statements_tracked':{'type':'integer'},"
	    "'queries':{'type':'array','items':{'type':'object','properties':{"
	    "'queryid':{'type':['string','null']},'database':{'type':['string','null']},"
	    "'role':{'type':['string','null']},'calls':{'type':'integer'},"
	    "'total_ms':{'type':'number'},'mean_ms':{'type':'number'},"
	    "'share_of_total_time_pct':{'type':['number','null']},'rows':{'type':'integer'},"
	    "'shared_blks_hit':{'type':'integer'},'shared_blks_read':{'type':'integer'},"
	    "'cache_hit_pct':{'type':['number','null']},'query':{'type':'string'}}}}},"
	    "'required':['order_by','queries']}",
	    true, false, true, false, tool_top_queries },
	{ "health", "Database health check",
	    "One health report of the server and this database, each section a list to act on "
	    "with a suggested fix: connections against max_connections by state and database; "
	    "cache hit ratio; tables needing VACUUM or ANALYZE (dead tuples, last vacuum and "
	    "analyze); a table bloat estimate; invalid indexes; indexes never scanned (not unique "
	    "or primary keys); duplicate indexes; sequences near their maximum; transaction-ID "
	    "wraparound age per database; transactions open longer than 5 minutes; sessions "
	    "blocked by locks and who blocks them; replication lag (or not a primary with "
	    "replicas). findings sums up in one sentence each what needs attention; an empty "
	    "findings list means nothing was found. Lists are cut at 20 entries. Run it when asked "
	    "how the database is doing or why it is slow.",
	    "{'type':'object','properties':{},'additionalProperties':false,'examples':[{}]}",
	    "{'type':'object','properties':{'checked_at':{'type':'string'},"
	    "'findings':{'type':'array','items':{'type':'string'},"
	    "'description':'One sentence per problem found; empty when all is well.'},"
	    "'connections':{'type':'object'},'cache_hit_ratio':{'type':'object'},"
	    "'vacuum_analyze':{'type':'array'},'bloat':{'type':'array'},"
	    "'invalid_indexes':{'type':'array'},'unused_indexes':{'type':'array'},"
	    "'duplicate_indexes':{'type':'array'},'sequences':{'type':'array'},"
	    "'wraparound':{'type':'array'},'long_transactions':{'type':'array'},"
	    "'blocking_locks':{'type':'array'},'replication':{'type':'object'}},"
	    "'required':['findings','connections','cache_hit_ratio','vacuum_analyze','bloat',"
	    "'invalid_indexes','unused_indexes','duplicate_indexes','sequences','wraparound',"
	    "'long_transactions','blocking_locks','replication']}",
	    true, false, true, false, tool_health },
	{ "active_queries", "What is running now",
	    "The sessions running statements right now (pg_stat_activity), longest-running first: "
	    "pid, database, user, application, client address, state, wait event, how long the "
	    "statement, the state and the transaction have lasted (ms), the pids blocking it when "
	    "it waits on a lock, and the statement text (cut at 500 characters). Sessions idle in "
	    "a transaction are included; plain idle sessions only with include_idle. The session "
	    "serving this call is left out. Without pg_read_all_stats, other roles statements "
	    "show as insufficient privilege.",
	    "{'type':'object','properties':{'include_idle':{'type':'boolean','default':false,"
	    "'description':'Also list idle sessions (their last statement).','examples':[true]}},"
	    "'additionalProperties':false}",
	    "{'type':'object','properties':{'queries':{'type':'array','items':{'type':'object',"
	    "'properties':{'pid':{'type':'integer'},'database':{'type':'string'},"
	    "'user':{'type':'string'},'application':{'type':'string'},'client':{'type':'string'},"
	    "'backend_type':{'type':'string'},'state':{'type':'string'},"
	    "'wait_event':{'type':'string'},'running_ms':{'type':'integer'},"
	    "'state_ms':{'type':'integer'},'transaction_ms':{'type':'integer'},"
	    "'blocked_by':{'type':'array','items':{'type':'integer'}},'query':{'type':'string'},"
	    "'query_truncated':{'type':'boolean'}}}},'row_count':{'type':'integer'},"
	    "'truncated':{'type':'boolean'},'sessions_total':{'type':'integer'},"
	    "'max_connections':{'type':'integer'},'server_time':{'type':'string'}},"
	    "'required':['queries','row_count']}",
	    true, false, true, false, tool_active_queries },
};

#define N_TOOL_DEFS (sizeof(tool_defs) / sizeof(tool_defs[0]))

bool
tools_is_known(const char *name)
{
	for (size_t i = 0; i < N_TOOL_DEFS; i++)
		if (strcmp(tool_defs[i].name, name) == 0)
			return true;
	return false;
}

size_t
tools_count(const struct config *cfg)
{
	return N_TOOL_DEFS + cfg->decl.n_tools;
}

const char *
tools_name_at(const struct config *cfg, size_t i)
{
	if (i < N_TOOL_DEFS)
		return tool_defs[i].name;
	return i - N_TOOL_DEFS < cfg->decl.n_tools ? cfg->decl.tools[i - N_TOOL_DEFS].name : "?";
}

static bool
tool_offered(const struct config *cfg, const struct tool_def *t)
{
	if (t->needs_write_access && cfg->access != ACCESS_READ_WRITE)
		return false;
	return config_tool_enabled(cfg, t->name, true) && declared_in_toolsets(&cfg->decl, t->name);
}

/* A declared tool is offered when enabled, allowed by the access mode, and in a toolset. */
static bool
declared_offered(const struct config *cfg, const struct decl_tool *t)
{
	return t->enabled && (t->read_only || cfg->access == ACCESS_READ_WRITE) &&
	    declared_in_toolsets(&cfg->decl, t->name);
}

static void
put_template(struct buf *out, const char *tmpl, const struct config *cfg)
{
	for (const char *p = tmpl; *p; p++) {
		if (*p == '\'') {
			buf_putc(out, '"');
		} else if (*p == '%' && strncmp(p, "%MAX_ROWS%", 10) == 0) {
			buf_printf(out, "%lld", (long long)cfg->max_rows);
			p += 9;
		} else if (*p == '%' && strncmp(p, "%MAX_BYTES%", 11) == 0) {
			buf_printf(out, "%lld", (long long)cfg->max_result_bytes);
			p += 10;
		} else {
			buf_putc(out, *p);
		}
	}
}

static void
catalog_build(struct tool_catalog *c, const struct config *cfg)
{
	struct buf *b = &c->json;
	struct buf text = BUF_INIT;
	struct jw w;

	struct buf rows_schema = BUF_INIT;

	buf_reset(b);
	free(c->offsets);
	c->offsets = xcalloc(N_TOOL_DEFS + cfg->decl.n_tools + 1, sizeof(size_t));
	c->n = 0;
	for (size_t i = 0; i < N_TOOL_DEFS; i++) {
		const struct tool_def *t = &tool_defs[i];

		if (!tool_offered(cfg, t))
			continue;
		c->offsets[c->n++] = b->len;
		jw_init(&w, b);
		jw_obj_begin(&w);
		jw_kstr(&w, "name", t->name);
		jw_kstr(&w, "title", t->title);
		buf_reset(&text);
		for (const char *p = t->description; *p; p++) {
			/* descriptions use the same placeholders as schemas */
			if (*p == '%' && strncmp(p, "%MAX_ROWS%", 10) == 0) {
				buf_printf(&text, "%lld", (long long)cfg->max_rows);
				p += 9;
			} else if (*p == '%' && strncmp(p, "%MAX_BYTES%", 11) == 0) {
				buf_printf(&text, "%lld", (long long)cfg->max_result_bytes);
				p += 10;
			} else {
				buf_putc(&text, *p);
			}
		}
		jw_key(&w, "description");
		jw_strn(&w, text.data, text.len);
		jw_key(&w, "inputSchema");
		put_template(b, t->input_schema, cfg);
		w.after_key = false;
		jw_key(&w, "outputSchema");
		put_template(b, t->output_schema, cfg);
		w.after_key = false;
		jw_key(&w, "annotations");
		jw_obj_begin(&w);
		jw_kstr(&w, "title", t->title);
		jw_kbool(&w, "readOnlyHint", t->read_only);
		jw_kbool(&w, "destructiveHint", t->destructive);
		jw_kbool(&w, "idempotentHint", t->idempotent);
		jw_kbool(&w, "openWorldHint", false);
		jw_obj_end(&w);
		jw_obj_end(&w);
	}
	put_template(&rows_schema, ROWS_OUTPUT_SCHEMA, cfg);
	for (size_t i = 0; i < cfg->decl.n_tools; i++) {
		const struct decl_tool *t = &cfg->decl.tools[i];

		if (!declared_offered(cfg, t))
			continue;
		c->offsets[c->n++] = b->len;
		declared_tool_json(cfg, t, b, buf_cstr(&rows_schema));
	}
	c->offsets[c->n] = b->len;
	buf_free(&text);
	buf_free(&rows_schema);
}

/*
 * A daemon worker's configuration never changes (a reload starts new workers), so its tool
 * catalog is built once and shared by every session: building it was most of the work of a
 * short HTTP request, where every request is a session.
 */
static struct {
	const struct config *cfg;
	struct tool_catalog c;
} frozen;

void
tools_freeze(const struct config *cfg)
{
	frozen.cfg = NULL;
	catalog_build(&frozen.c, cfg);
	frozen.cfg = cfg;
}

void
tools_build(struct mcp_session *s)
{
	if (frozen.cfg != NULL && frozen.cfg == s->cfg) {
		s->tools = &frozen.c;
		return;
	}
	catalog_build(&s->own_tools, s->cfg);
	s->tools = &s->own_tools;
}

void
tools_list(struct mcp_session *s, struct mcp_request *rq, struct jw *w)
{
	size_t offset, end;
	int64_t page = s->cfg->page_size;

	if (mcp_read_cursor(rq, &offset) < 0)
		return;
	if (offset > s->tools->n) {
		mcp_fail(rq, RPC_INVALID_PARAMS, "Invalid cursor: past the end of the list");
		return;
	}
	end = offset + (size_t)page < s->tools->n ? offset + (size_t)page : s->tools->n;
	jw_key(w, "tools");
	jw_arr_begin(w);
	for (size_t i = offset; i < end; i++)
		jw_raw(w, s->tools->json.data + s->tools->offsets[i],
		    s->tools->offsets[i + 1] - s->tools->offsets[i]);
	jw_arr_end(w);
	if (end < s->tools->n)
		mcp_write_cursor(w, end);
	mcp_write_cache_hints(rq, w, 300000);
}

void
tool_error(struct tool_ctx *tc, const char *fmt, ...)
{
	char text[2048];
	va_list ap;

	if (tc->done)
		return;
	tc->done = true;
	tc->failed = true;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	jw_key(tc->w, "content");
	jw_arr_begin(tc->w);
	jw_obj_begin(tc->w);
	jw_kstr(tc->w, "type", "text");
	jw_kstr(tc->w, "text", text);
	jw_obj_end(tc->w);
	jw_arr_end(tc->w);
	jw_kbool(tc->w, "isError", true);
	mcp_notify_log(tc->s, tc->rq, MCP_LOG_WARNING, "tool error: %s", text);
}

void
tool_result_json(struct tool_ctx *tc, const char *json, size_t len)
{
	if (tc->done)
		return;
	tc->done = true;
	jw_key(tc->w, "content");
	jw_arr_begin(tc->w);
	jw_obj_begin(tc->w);
	jw_kstr(tc->w, "type", "text");
	jw_key(tc->w, "text");
	jw_strn(tc->w, json, len);
	jw_obj_end(tc->w);
	jw_arr_end(tc->w);
	jw_key(tc->w, "structuredContent");
	jw_raw(tc->w, json, len);
	jw_kbool(tc->w, "isError", false);
}

static struct json_object *
arg(struct tool_ctx *tc, const char *name)
{
	struct json_object *v = NULL;

	if (!json_object_object_get_ex(tc->args, name, &v) || json_object_is_type(v, json_type_null))
		return NULL;
	return v;
}

bool
tool_arg_string(struct tool_ctx *tc, const char *name, bool required, const char **out)
{
	struct json_object *v = arg(tc, name);

	*out = NULL;
	if (v == NULL) {
		if (required)
			tool_error(tc, "Invalid arguments: \"%s\" is required (a string)", name);
		return !required;
	}
	if (!json_object_is_type(v, json_type_string)) {
		tool_error(tc, "Invalid arguments: \"%s\" must be a string, got %s", name,
		    json_type_to_name(json_object_get_type(v)));
		return false;
	}
	if ((size_t)json_object_get_string_len(v) != strlen(json_object_get_string(v))) {
		tool_error(tc, "Invalid arguments: \"%s\" contains a NUL character", name);
		return false;
	}
	*out = json_object_get_string(v);
	if (required && **out == '\0') {
		tool_error(tc, "Invalid arguments: \"%s\" must not be empty", name);
		return false;
	}
	return true;
}

bool
tool_arg_bool(struct tool_ctx *tc, const char *name, bool def, bool *out)
{
	struct json_object *v = arg(tc, name);

	*out = def;
	if (v == NULL)
		return true;
	if (!json_object_is_type(v, json_type_boolean)) {
		tool_error(tc, "Invalid arguments: \"%s\" must be true or false, got %s", name,
		    json_type_to_name(json_object_get_type(v)));
		return false;
	}
	*out = json_object_get_boolean(v);
	return true;
}

bool
tool_arg_int(struct tool_ctx *tc, const char *name, int64_t def, int64_t min, int64_t max,
    int64_t *out)
{
	struct json_object *v = arg(tc, name);
	int64_t n;

	*out = def;
	if (v == NULL)
		return true;
	if (json_object_is_type(v, json_type_double)) {
		double d = json_object_get_double(v);

		if (d != (double)(int64_t)d) {
			tool_error(tc, "Invalid arguments: \"%s\" must be an integer", name);
			return false;
		}
		n = (int64_t)d;
	} else if (json_object_is_type(v, json_type_int)) {
		n = json_object_get_int64(v);
	} else {
		tool_error(tc, "Invalid arguments: \"%s\" must be an integer, got %s", name,
		    json_type_to_name(json_object_get_type(v)));
		return false;
	}
	if (n < min || n > max) {
		tool_error(tc, "Invalid arguments: \"%s\" must be between %lld and %lld, got %lld",
		    name, (long long)min, (long long)max, (long long)n);
		return false;
	}
	*out = n;
	return true;
}

bool
tool_arg_enum(struct tool_ctx *tc, const char *name, const char *const *values, const char *def,
    const char **out)
{
	const char *v;
	struct buf list = BUF_INIT;

	if (!tool_arg_string(tc, name, false, &v))
		return false;
	*out = def;
	if (v == NULL)
		return true;
	for (int i = 0; values[i] != NULL; i++) {
		if (strcmp(values[i], v) == 0) {
			*out = values[i];
			buf_free(&list);
			return true;
		}
		buf_printf(&list, "%s%s", i ? ", " : "", values[i]);
	}
	tool_error(tc, "Invalid arguments: \"%s\" must be one of %s, got \"%s\"", name,
	    buf_cstr(&list), v);
	buf_free(&list);
	return false;
}

bool
tool_arg_params(struct tool_ctx *tc, const char *name)
{
	struct json_object *v = arg(tc, name);
	size_t n;

	tc->nparams = 0;
	if (v == NULL)
		return true;
	if (!json_object_is_type(v, json_type_array)) {
		tool_error(tc, "Invalid arguments: \"%s\" must be an array of values for $1, $2 ...",
		    name);
		return false;
	}
	n = json_object_array_length(v);
	if (n > 65535) {
		tool_error(tc, "Invalid arguments: \"%s\" has %zu values; PostgreSQL takes at most 65535",
		    name, n);
		return false;
	}
	tc->params = xcalloc(n + 1, sizeof(*tc->params));
	tc->param_off = xcalloc(n + 1, sizeof(*tc->param_off));
	buf_reset(&tc->param_text);
	for (size_t i = 0; i < n; i++) {
		struct json_object *e = json_object_array_get_idx(v, i);
		const char *text;

		if (e == NULL) {
			tc->param_off[i] = SIZE_MAX;	/* SQL NULL */
			continue;
		}
		switch (json_object_get_type(e)) {
		case json_type_string:
			if ((size_t)json_object_get_string_len(e) != strlen(json_object_get_string(e))) {
				tool_error(tc, "Invalid arguments: %s[%zu] ($%zu) contains a NUL character",
				    name, i, i + 1);
				return false;
			}
			text = json_object_get_string(e);
			break;
		case json_type_boolean:
			text = json_object_get_boolean(e) ? "true" : "false";
			break;
		default:	/* numbers keep their text; objects and arrays go as JSON */
			text = json_object_to_json_string_ext(e, JSON_C_TO_STRING_PLAIN |
			    JSON_C_TO_STRING_NOSLASHESCAPE);
			break;
		}
		tc->param_off[i] = tc->param_text.len;
		buf_append(&tc->param_text, text, strlen(text) + 1);
	}
	for (size_t i = 0; i < n; i++)
		tc->params[i] = tc->param_off[i] == SIZE_MAX ? NULL : tc->param_text.data + tc->param_off[i];
	tc->nparams = (int)n;
	return true;
}

bool
tool_check_unknown_args(struct tool_ctx *tc, const char *const *known)
{
	json_object_object_foreach(tc->args, key, val) {
		bool ok = false;

		(void)val;
		for (int i = 0; known[i] != NULL; i++)
			if (strcmp(known[i], key) == 0)
				ok = true;
		if (!ok) {
			struct buf list = BUF_INIT;

			for (int i = 0; known[i] != NULL; i++)
				buf_printf(&list, "%s%s", i ? ", " : "", known[i]);
			tool_error(tc, "Invalid arguments: unknown argument \"%s\" (this tool takes: %s)",
			    key, list.len ? buf_cstr(&list) : "no arguments");
			buf_free(&list);
			return false;
		}
	}
	return true;
}

/* Byte offset of the 1-based character position pos in s (UTF-8). */
static size_t
char_to_byte(const char *s, int pos)
{
	size_t i = 0;
	int chars = 0;

	while (s[i] && chars < pos - 1) {
		i++;
		while (((unsigned char)s[i] & 0xC0) == 0x80)
			i++;
		chars++;
	}
	return i;
}

static void
put_position(struct buf *text, const char *sql, int position)
{
	size_t at, start, end, len;

	if (position <= 0 || sql == NULL)
		return;
	len = strlen(sql);
	at = char_to_byte(sql, position);
	start = at > 40 ? at - 40 : 0;
	end = at + 40 < len ? at + 40 : len;
	while (start > 0 && ((unsigned char)sql[start] & 0xC0) == 0x80)
		start--;
	while (end < len && ((unsigned char)sql[end] & 0xC0) == 0x80)
		end++;
	buf_printf(text, "\nPOSITION: %d, at: %s%.*s<<HERE>>%.*s%s", position, start ? "..." : "",
	    (int)(at - start), sql + start, (int)(end - at), sql + at, end < len ? "..." : "");
}

void
tool_db_error(struct tool_ctx *tc, const char *sql, int position_offset_chars)
{
	struct db_result *r = &tc->res;
	struct buf text = BUF_INIT;

	if (r->status == DB_UNAVAILABLE) {
		tool_error(tc, "%s", buf_cstr(&r->message));
		return;
	}
	buf_printf(&text, "ERROR %s: %s", r->sqlstate, buf_cstr(&r->message));
	if (r->position > 0)
		put_position(&text, sql, r->position + position_offset_chars);
	if (r->detail.len)
		buf_printf(&text, "\nDETAIL: %s", buf_cstr(&r->detail));
	if (r->hint.len)
		buf_printf(&text, "\nHINT: %s", buf_cstr(&r->hint));
	if (r->context.len)
		buf_printf(&text, "\nCONTEXT: %s", buf_cstr(&r->context));
	if (r->timed_out && tc->own_timeout_tool != NULL) {
		char limit[32];

		format_duration_ms(tc->own_timeout_ms, limit, sizeof(limit));
		buf_printf(&text, "\nThe statement ran longer than this tool's statement_timeout (%s, "
		    "tools.%s.statement_timeout) and was cancelled. Try narrower arguments, or ask the "
		    "operator to raise the tool's limit.", limit, tc->own_timeout_tool);
	} else if (r->timed_out) {
		char limit[32];
		int64_t ms = tc->s->cfg->statement_timeout_ms;

		format_duration_ms(ms, limit, sizeof(limit));
		buf_printf(&text, "\nThe statement ran longer than statement_timeout (%s) and was "
		    "cancelled. Narrow it (WHERE, LIMIT, aggregates) or check its plan with explain.",
		    limit);
	}
	tool_error(tc, "%s", buf_cstr(&text));
	buf_free(&text);
}

void
tool_guard_error(struct tool_ctx *tc, const struct guard_verdict *v, const char *sql)
{
	struct buf text = BUF_INIT;

	tc->refused_sqlstate = v->sqlstate;	/* for the audit record */
	if (strcmp(v->sqlstate, "42601") == 0) {
		buf_printf(&text, "ERROR 42601: %s", v->reason);
		put_position(&text, sql, v->error_position);
	} else {
		buf_printf(&text, "Refused (SQLSTATE %s): %s", v->sqlstate, v->reason);
	}
	tool_error(tc, "%s", buf_cstr(&text));
	buf_free(&text);
}

static int
waiter_readable(void *ctx)
{
	struct tool_ctx *tc = ctx;
	struct mcp_session *s = tc->s;
	int verdict = s->io.on_readable != NULL ? s->io.on_readable(s->io.ctx) : -1;

	if (verdict > 0)
		s->cancelled = true;
	return verdict;
}

static void
waiter_progress(void *ctx, const char *what, int64_t rows, int64_t elapsed_us)
{
	struct tool_ctx *tc = ctx;
	char msg[160];

	snprintf(msg, sizeof(msg), "%s (%lld rows, %.1f ms)", what, (long long)rows,
	    (double)elapsed_us / 1000.0);
	mcp_notify_progress(tc->s, tc->rq, msg);
	mcp_notify_log(tc->s, tc->rq, MCP_LOG_INFO, "%s", msg);
}

void
tool_request_defaults(struct tool_ctx *tc, struct db_request *req)
{
	memset(req, 0, sizeof(*req));
	req->max_rows = tc->s->cfg->max_rows;
	req->max_result_bytes = tc->s->cfg->max_result_bytes;
	req->params = tc->params;
	req->nparams = tc->nparams;
}

void
tool_run(struct tool_ctx *tc, struct db_request *req)
{
	struct db_waiter waiter = { tc->s->io.watch_fd, tc->s->io.watch_fd2, waiter_readable,
		waiter_progress, tc };

	if (tc->s->io.on_readable == NULL)
		waiter.fd = waiter.fd2 = -1;
	db_call(tc->s->db, req, &waiter, &tc->res);
}

void
tools_call(struct mcp_session *s, struct mcp_request *rq, struct jw *w)
{
	struct json_object *name, *args = NULL;
	const struct tool_def *t = NULL;
	const struct decl_tool *dt = NULL;
	size_t stat_index = 0;
	struct json_object *empty = NULL;
	struct tool_ctx tc;
	const char *tname;
	int64_t start = now_us();
	size_t out_before = w->b->len;

	if (rq->params == NULL || !json_object_object_get_ex(rq->params, "name", &name) ||
	    !json_object_is_type(name, json_type_string)) {
		mcp_fail(rq, RPC_INVALID_PARAMS, "Invalid params: tools/call requires params.name "
		    "(a string)");
		return;
	}
	tname = json_object_get_string(name);
	for (size_t i = 0; i < N_TOOL_DEFS; i++)
		if (strcmp(tool_defs[i].name, tname) == 0 && tool_offered(s->cfg, &tool_defs[i]))
			t = &tool_defs[i];
	for (size_t i = 0; t == NULL && i < s->cfg->decl.n_tools; i++)
		if (strcmp(s->cfg->decl.tools[i].name, tname) == 0 &&
		    declared_offered(s->cfg, &s->cfg->decl.tools[i])) {
			dt = &s->cfg->decl.tools[i];
			stat_index = N_TOOL_DEFS + i;
		}
	if (t == NULL && dt == NULL) {
		bool exists = tools_is_known(tname) || declared_tool(&s->cfg->decl, tname) != NULL;

		mcp_fail(rq, RPC_INVALID_PARAMS, "Unknown tool: %s%s", tname,
		    !exists ? " (tools/list shows the available tools)" :
		    strcmp(tname, "execute") == 0 && s->cfg->access != ACCESS_READ_WRITE ?
		    " (execute exists only when access is read_write)" : " (disabled in the configuration)");
		return;
	}
	if (json_object_object_get_ex(rq->params, "arguments", &args) && args != NULL &&
	    !json_object_is_type(args, json_type_object)) {
		mcp_fail(rq, RPC_INVALID_PARAMS, "Invalid params: arguments must be an object");
		return;
	}
	if (args == NULL)
		args = empty = json_object_new_object();

	memset(&tc, 0, sizeof(tc));
	tc.s = s;
	tc.rq = rq;
	tc.args = args;
	tc.w = w;
	db_result_init(&tc.res);
	if (t != NULL) {
		stat_index = (size_t)(t - tool_defs);
		t->call(&tc);
	} else {
		declared_tool_call(&tc, dt);
	}
	if (!tc.done)
		tool_error(&tc, "internal error: the tool produced no result");
	if (!s->cancelled) {
		char done[160];

		snprintf(done, sizeof(done), "done: %s, %lld rows in %.1f ms", tc.failed ? "failed" : "ok",
		    (long long)tc.res.row_count, (double)(now_us() - start) / 1000.0);
		mcp_notify_progress(s, rq, done);
		if (!tc.failed)	/* a failure has already been logged as a warning */
			mcp_notify_log(s, rq, MCP_LOG_INFO, "%s %s", tname, done);
	}
	if (s->stats != NULL) {
		size_t idx = stat_index;
		struct sb_counters *st = s->stats;

		if (idx < SB_TOOLS) {
			if (tc.failed)
				st->tool_error[idx]++;
			else
				st->tool_ok[idx]++;
		}
		sb_observe_latency(st, (double)(now_us() - start) / 1000.0);
		st->rows += (uint64_t)tc.res.row_count;
		st->bytes += tc.res.rows.len;
		st->truncations += tc.res.truncated;
		st->timeouts += tc.res.timed_out;
		st->cancellations += tc.res.status == DB_CANCELLED;
	}
	if (audit_enabled(s->cfg))	/* before the response goes out */
		audit_tool_call(&tc, tname, dt ? dt->sql : NULL, start, w->b->len - out_before);
	log_debug("tool %s: %s in %.1f ms", tname, tc.res.status == DB_OK ? "ok" : "failed",
	    (double)(now_us() - start) / 1000.0);
	db_result_free(&tc.res);
	buf_free(&tc.param_text);
	free(tc.params);
	free(tc.param_off);
	json_object_put(empty);
}
