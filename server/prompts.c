/* prompts.c: prompts for common database tasks, with argument checks and an embedded resource. */
#include "handlers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json.h>

#include "tool.h"
#include "util.h"

struct prompt_arg {
	const char *name, *description;
	bool required;
};

struct prompt_def {
	const char *name, *title, *description;
	struct prompt_arg args[3];
	const char *text;	/* {name} is replaced by the argument's value (or removed) */
	bool embeds_table;	/* attach the table's schema resource */
};

static const struct prompt_def prompt_defs[] = {
	{ "explore_database", "Explore the database",
	    "Survey the schemas and tables and summarise what the database holds.",
	    { { "focus", "Optional subject to concentrate on, e.g. billing or customers.", false } },
	    "Explore this PostgreSQL database{focus: with a focus on }{focus}. Use list_schemas, then "
	    "list_tables for the interesting schemas, then describe_table on the main tables. "
	    "Summarise what the data is about, the key tables and how they relate through foreign "
	    "keys, row counts and sizes, and anything surprising (missing primary keys, invalid "
	    "indexes, empty tables). Keep queries small and read-only.", false },
	{ "write_query", "Answer a question with SQL",
	    "Turn a question about the data into one read-only SQL query, run it and explain the answer.",
	    { { "question", "The question to answer from the data.", true },
	      { "schema", "Optional schema to look in first.", false } },
	    "Answer this question from the database: {question}\n\nFirst find the relevant tables "
	    "with list_tables{schema: (start with schema }{schema}{schema:)} and describe_table. "
	    "Then write ONE read-only SELECT, passing literal values as params ($1, $2 ...), with an "
	    "explicit column list, ORDER BY and a LIMIT. Run it with the query tool. Show the SQL, "
	    "the result, and a plain-language answer; say so if the data cannot answer it.", false },
	{ "explain_query", "Explain and tune a query",
	    "Read a query plan, find what is slow and suggest concrete fixes.",
	    { { "sql", "The SQL statement to analyse.", true } },
	    "Analyse the performance of this SQL:\n\n{sql}\n\nRun the explain tool on it (with "
	    "analyze true only if it is a read-only SELECT that is safe to run). Identify sequential "
	    "scans on large tables, bad row estimates, sorts spilling to disk and nested loops over "
	    "many rows. Use describe_table to check existing indexes, then suggest specific "
	    "indexes or rewrites and explain the expected effect.", false },
	{ "table_overview", "Explain a table",
	    "Describe one table for a newcomer: what it stores, its keys, relations and sample rows.",
	    { { "table", "Table name, schema-qualified if needed (e.g. sales.orders).", true } },
	    "Explain the table {table} to someone new to this database. Its schema is attached. "
	    "Describe what each column means, the primary key, how it relates to other tables, "
	    "and show five sample rows using the query tool (SELECT ... LIMIT 5).", true },
};

#define N_PROMPTS (sizeof(prompt_defs) / sizeof(prompt_defs[0]))

bool
prompts_declared(const struct config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->decl.n_prompts; i++)
		if (strcmp(cfg->decl.prompts[i].name, name) == 0)
			return true;
	return false;
}

bool
prompts_exists(const char *name)
{
	for (size_t i = 0; i < N_PROMPTS; i++)
		if (strcmp(prompt_defs[i].name, name) == 0)
			return true;
	return false;
}

/* Built-in prompts first, then the declared ones; a cursor counts through both. */
void
prompts_list(struct mcp_session *s, struct mcp_request *rq, struct jw *w)
{
	const struct declarations *d = &s->cfg->decl;
	size_t offset, end, total = N_PROMPTS + d->n_prompts;

	if (mcp_read_cursor(rq, &offset) < 0)
		return;
	if (offset > total) {
		mcp_fail(rq, RPC_INVALID_PARAMS, "Invalid cursor: past the end of the list");
		return;
	}
	end = offset + (size_t)s->cfg->page_size < total ? offset + (size_t)s->cfg->page_size : total;
	jw_key(w, "prompts");
	jw_arr_begin(w);
	for (size_t i = offset; i < end; i++) {
		jw_obj_begin(w);
		if (i < N_PROMPTS) {
			const struct prompt_def *p = &prompt_defs[i];

			jw_kstr(w, "name", p->name);
			jw_kstr(w, "title", p->title);
			jw_kstr(w, "description", p->description);
			jw_key(w, "arguments");
			jw_arr_begin(w);
			for (int a = 0; a < 3 && p->args[a].name != NULL; a++) {
				jw_obj_begin(w);
				jw_kstr(w, "name", p->args[a].name);
				jw_kstr(w, "description", p->args[a].description);
				jw_kbool(w, "required", p->args[a].required);
				jw_obj_end(w);
			}
			jw_arr_end(w);
		} else {
			const struct decl_prompt *p = &d->prompts[i - N_PROMPTS];

			jw_kstr(w, "name", p->name);
			if (p->title)
				jw_kstr(w, "title", p->title);
			jw_kstr(w, "description", p->description ? p->description : p->name);
			jw_key(w, "arguments");
			jw_arr_begin(w);
			for (size_t a = 0; a < p->n_args; a++) {
				jw_obj_begin(w);
				jw_kstr(w, "name", p->args[a].name);
				if (p->args[a].description)
					jw_kstr(w, "description", p->args[a].description);
				jw_kbool(w, "required", p->args[a].required);
				jw_obj_end(w);
			}
			jw_arr_end(w);
		}
		jw_obj_end(w);
	}
	jw_arr_end(w);
	if (end < total)
		mcp_write_cursor(w, end);
	mcp_write_cache_hints(rq, w, 300000);
}

static const char *
arg_value(struct json_object *args, const char *name)
{
	struct json_object *v;

	if (args == NULL || !json_object_object_get_ex(args, name, &v) ||
	    !json_object_is_type(v, json_type_string) || json_object_get_string_len(v) == 0)
		return NULL;
	return json_object_get_string(v);
}

/*
 * Expands {name} to the argument and {name:literal} to literal when the argument is set,
 * so optional arguments leave no trace when absent.
 */
static void
expand(struct buf *out, const char *text, struct json_object *args)
{
	for (const char *p = text; *p; p++) {
		const char *close, *colon;
		char name[64];
		size_t n;

		if (*p != '{' || (close = strchr(p, '}')) == NULL) {
			buf_putc(out, *p);
			continue;
		}
		colon = memchr(p, ':', (size_t)(close - p));
		n = (size_t)((colon ? colon : close) - p - 1);
		if (n >= sizeof(name)) {
			buf_putc(out, *p);
			continue;
		}
		memcpy(name, p + 1, n);
		name[n] = '\0';
		if (arg_value(args, name) != NULL) {
			if (colon)
				buf_append(out, colon + 1, (size_t)(close - colon - 1));
			else
				buf_puts(out, arg_value(args, name));
		}
		p = close;
	}
}

static const struct decl_resource *
declared_resource(const struct declarations *d, const char *uri)
{
	for (size_t i = 0; i < d->n_resources; i++)
		if (!d->resources[i].is_template && strcmp(d->resources[i].uri, uri) == 0)
			return &d->resources[i];
	return NULL;
}

static void
get_declared(struct mcp_session *s, struct mcp_request *rq, const struct decl_prompt *p,
    struct json_object *args, struct jw *w)
{
	struct buf text = BUF_INIT, uri = BUF_INIT;

	if (args != NULL && !json_object_is_type(args, json_type_object)) {
		mcp_fail(rq, RPC_INVALID_PARAMS, "Invalid params: arguments must be an object of strings");
		return;
	}
	for (size_t a = 0; a < p->n_args; a++) {
		if (p->args[a].required && arg_value(args, p->args[a].name) == NULL) {
			mcp_fail(rq, RPC_INVALID_PARAMS, "Invalid params: prompt %s requires argument %s%s%s%s",
			    p->name, p->args[a].name, p->args[a].description ? " (" : "",
			    p->args[a].description ? p->args[a].description : "",
			    p->args[a].description ? ")" : "");
			return;
		}
	}
	if (p->description)
		jw_kstr(w, "description", p->description);
	jw_key(w, "messages");
	jw_arr_begin(w);
	for (size_t i = 0; i < p->n_messages; i++) {
		const struct decl_message *m = &p->messages[i];

		jw_obj_begin(w);
		jw_kstr(w, "role", m->role);
		jw_key(w, "content");
		jw_obj_begin(w);
		switch (m->type) {
		case DC_TEXT:
			buf_reset(&text);
			expand(&text, m->text, args);
			jw_kstr(w, "type", "text");
			jw_key(w, "text");
			jw_strn(w, text.data ? text.data : "", text.len);
			break;
		case DC_IMAGE:
		case DC_AUDIO:
			jw_kstr(w, "type", m->type == DC_IMAGE ? "image" : "audio");
			jw_kstr(w, "data", m->data);
			jw_kstr(w, "mimeType", m->mime_type);
			break;
		case DC_RESOURCE: {
			const struct decl_resource *r;

			buf_reset(&uri);
			expand(&uri, m->uri, args);
			r = m->text ? NULL : declared_resource(&s->cfg->decl, buf_cstr(&uri));
			jw_kstr(w, "type", "resource");
			jw_key(w, "resource");
			jw_obj_begin(w);
			jw_key(w, "uri");
			jw_strn(w, uri.data, uri.len);
			if (r != NULL && r->blob != NULL) {
				jw_kstr(w, "mimeType", r->mime_type ? r->mime_type : "application/octet-stream");
				jw_kstr(w, "blob", r->blob);
			} else {
				buf_reset(&text);
				expand(&text, r != NULL && r->text ? r->text : m->text ? m->text : "", args);
				jw_kstr(w, "mimeType", m->mime_type ? m->mime_type : r && r->mime_type ?
				    r->mime_type : "text/plain");
				jw_key(w, "text");
				jw_strn(w, text.data ? text.data : "", text.len);
			}
			jw_obj_end(w);
			break;
		}
		}
		jw_obj_end(w);
		jw_obj_end(w);
	}
	jw_arr_end(w);
	buf_free(&text);
	buf_free(&uri);
}

void
prompts_get(struct mcp_session *s, struct mcp_request *rq, struct jw *w)
{
	struct json_object *name, *args = NULL;
	const struct prompt_def *p = NULL;
	struct buf text = BUF_INIT, doc = BUF_INIT, why = BUF_INIT, uri = BUF_INIT;
	struct tool_ctx tc;

	if (rq->params == NULL || !json_object_object_get_ex(rq->params, "name", &name) ||
	    !json_object_is_type(name, json_type_string)) {
		mcp_fail(rq, RPC_INVALID_PARAMS, "Invalid params: prompts/get requires params.name");
		return;
	}
	for (size_t i = 0; i < N_PROMPTS; i++)
		if (strcmp(prompt_defs[i].name, json_object_get_string(name)) == 0)
			p = &prompt_defs[i];
	for (size_t i = 0; p == NULL && i < s->cfg->decl.n_prompts; i++) {
		if (strcmp(s->cfg->decl.prompts[i].name, json_object_get_string(name)) == 0) {
			json_object_object_get_ex(rq->params, "arguments", &args);
			get_declared(s, rq, &s->cfg->decl.prompts[i], args, w);
			return;
		}
	}
	if (p == NULL) {
		mcp_fail(rq, RPC_INVALID_PARAMS, "Invalid params: unknown prompt %s (prompts/list shows "
		    "the available prompts)", json_object_get_string(name));
		return;
	}
	if (json_object_object_get_ex(rq->params, "arguments", &args) && args != NULL &&
	    !json_object_is_type(args, json_type_object)) {
		mcp_fail(rq, RPC_INVALID_PARAMS, "Invalid params: arguments must be an object of strings");
		return;
	}
	for (int a = 0; a < 3 && p->args[a].name != NULL; a++) {
		if (p->args[a].required && arg_value(args, p->args[a].name) == NULL) {
			mcp_fail(rq, RPC_INVALID_PARAMS, "Invalid params: prompt %s requires argument %s "
			    "(%s)", p->name, p->args[a].name, p->args[a].description);
			return;
		}
	}
	memset(&tc, 0, sizeof(tc));
	tc.s = s;
	tc.rq = rq;
	db_result_init(&tc.res);
	if (p->embeds_table) {
		char *schema, *table;
		struct json_object *d, *sv, *nv;
		bool found;

		catalog_split_name(arg_value(args, "table"), &schema, &table);
		found = catalog_describe(&tc, schema, table, &doc, &why);
		free(schema);
		free(table);
		if (!found) {
			if (why.len)
				mcp_fail(rq, RPC_INVALID_PARAMS, "Invalid params: %s", buf_cstr(&why));
			else
				mcp_fail(rq, RPC_INTERNAL_ERROR, "Internal error: %s",
				    buf_cstr(&tc.res.message));
			goto out;
		}
		/* The URI names the table found (the search_path may have chosen the schema). */
		d = json_tokener_parse(buf_cstr(&doc));
		if (d && json_object_object_get_ex(d, "schema", &sv) &&
		    json_object_object_get_ex(d, "name", &nv))
			resources_table_uri(&uri, json_object_get_string(sv), json_object_get_string(nv));
		json_object_put(d);
	}
	expand(&text, p->text, args);
	jw_kstr(w, "description", p->description);
	jw_key(w, "messages");
	jw_arr_begin(w);
	jw_obj_begin(w);
	jw_kstr(w, "role", "user");
	jw_key(w, "content");
	jw_obj_begin(w);
	jw_kstr(w, "type", "text");
	jw_key(w, "text");
	jw_strn(w, text.data, text.len);
	jw_obj_end(w);
	jw_obj_end(w);
	if (p->embeds_table) {
		jw_obj_begin(w);
		jw_kstr(w, "role", "user");
		jw_key(w, "content");
		jw_obj_begin(w);
		jw_kstr(w, "type", "resource");
		jw_key(w, "resource");
		jw_obj_begin(w);
		jw_key(w, "uri");
		jw_strn(w, uri.data, uri.len);
		jw_kstr(w, "mimeType", "application/json");
		jw_key(w, "text");
		jw_strn(w, doc.data, doc.len);
		jw_obj_end(w);
		jw_obj_end(w);
		jw_obj_end(w);
	}
	jw_arr_end(w);
out:
	buf_free(&text);
	buf_free(&doc);
	buf_free(&why);
	buf_free(&uri);
	db_result_free(&tc.res);
}
