/* tools_declared.c: operator-declared tools: their JSON Schema, argument checks, and results. */
#include "tool.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json.h>

#include "declare.h"
#include "jsonw.h"
#include "util.h"

static const char *const json_types[] = {
	"string", "integer", "number", "boolean", "string", "string", "string", "array",
};

static void
write_param_schema_type(struct jw *w, enum decl_type t)
{
	jw_kstr(w, "type", json_types[t]);
	if (t == DT_DATE)
		jw_kstr(w, "format", "date");
	else if (t == DT_TIMESTAMP)
		jw_kstr(w, "format", "date-time");
}

/* enum, minimum, maximum and pattern: on a scalar's schema, or on an array's items. */
static void
write_param_rules(struct jw *w, const struct decl_param *p)
{
	if (p->n_enum > 0) {
		jw_key(w, "enum");
		jw_arr_begin(w);
		for (size_t k = 0; k < p->n_enum; k++)
			jw_str(w, p->enum_values[k]);
		jw_arr_end(w);
	}
	if (p->has_min) {
		jw_key(w, "minimum");
		jw_double(w, p->min);
	}
	if (p->has_max) {
		jw_key(w, "maximum");
		jw_double(w, p->max);
	}
	if (p->pattern)
		jw_kstr(w, "pattern", p->pattern);
}

void
declared_tool_json(const struct config *cfg, const struct decl_tool *t, struct buf *b,
    const char *rows_output_schema)
{
	struct jw w;

	(void)cfg;
	jw_init(&w, b);
	jw_obj_begin(&w);
	jw_kstr(&w, "name", t->name);
	if (t->title)
		jw_kstr(&w, "title", t->title);
	jw_kstr(&w, "description", t->description ? t->description : t->name);
	jw_key(&w, "inputSchema");
	if (t->input_schema_json != NULL) {
		jw_raw(&w, t->input_schema_json, strlen(t->input_schema_json));
	} else {
		size_t required = 0;

		jw_obj_begin(&w);
		jw_kstr(&w, "type", "object");
		jw_key(&w, "properties");
		jw_obj_begin(&w);
		for (size_t i = 0; i < t->n_params; i++) {
			const struct decl_param *p = &t->params[i];

			jw_key(&w, p->name);
			jw_obj_begin(&w);
			write_param_schema_type(&w, p->type);
			if (p->description)
				jw_kstr(&w, "description", p->description);
			if (p->type == DT_ARRAY) {
				/* The rules of an array parameter apply to each item. */
				jw_key(&w, "items");
				jw_obj_begin(&w);
				write_param_schema_type(&w, p->item_type);
				write_param_rules(&w, p);
				jw_obj_end(&w);
			} else {
				write_param_rules(&w, p);
			}
			if (p->default_json) {
				jw_key(&w, "default");
				jw_raw(&w, p->default_json, strlen(p->default_json));
			}
			jw_obj_end(&w);
			required += p->required;
		}
		jw_obj_end(&w);
		if (required > 0) {
			jw_key(&w, "required");
			jw_arr_begin(&w);
			for (size_t i = 0; i < t->n_params; i++)
				if (t->params[i].required)
					jw_str(&w, t->params[i].name);
			jw_arr_end(&w);
		}
		jw_kbool(&w, "additionalProperties", false);
		jw_obj_end(&w);
	}
	if (t->result == DR_ROWS && rows_output_schema != NULL) {
		jw_key(&w, "outputSchema");
		jw_raw(&w, rows_output_schema, strlen(rows_output_schema));
	}
	jw_key(&w, "annotations");
	jw_obj_begin(&w);
	if (t->title)
		jw_kstr(&w, "title", t->title);
	jw_kbool(&w, "readOnlyHint", t->read_only);
	jw_kbool(&w, "destructiveHint", !t->read_only);
	jw_kbool(&w, "idempotentHint", t->read_only);
	jw_kbool(&w, "openWorldHint", false);
	jw_obj_end(&w);
	jw_obj_end(&w);
}

static bool
digits(const char *s, int n)
{
	for (int i = 0; i < n; i++)
		if (!isdigit((unsigned char)s[i]))
			return false;
	return true;
}

static int
two_digits(const char *s)
{
	return (s[0] - '0') * 10 + (s[1] - '0');
}

/* A YYYY-MM-DD prefix of s with a year from 1 and a month and day that exist. */
static bool
date_prefix(const char *s)
{
	static const int days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int y, m, d;

	if (!digits(s, 4) || s[4] != '-' || !digits(s + 5, 2) || s[7] != '-' || !digits(s + 8, 2))
		return false;
	y = two_digits(s) * 100 + two_digits(s + 2);
	m = two_digits(s + 5);
	d = two_digits(s + 8);
	if (y < 1 || m < 1 || m > 12 || d < 1)
		return false;
	if (m == 2 && d == 29)
		return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	return d <= days[m - 1];
}

/* Exactly YYYY-MM-DD: nothing before or after. */
static bool
valid_date(const char *s)
{
	return date_prefix(s) && s[10] == '\0';
}

/*
 * ISO 8601 as PostgreSQL reads it: a date, T or space, hh:mm[:ss[.fraction]], then Z, or
 * +hh, +hhmm or +hh:mm, or nothing (the session's time zone). Nothing may follow.
 */
static bool
valid_timestamp(const char *s)
{
	const char *p;

	if (!date_prefix(s))
		return false;
	if (s[10] == '\0')
		return true;
	if (s[10] != 'T' && s[10] != ' ')
		return false;
	p = s + 11;
	if (!digits(p, 2) || p[2] != ':' || !digits(p + 3, 2))
		return false;
	if (two_digits(p) > 23 || two_digits(p + 3) > 59)
		return false;
	p += 5;
	if (*p == ':') {
		if (!digits(p + 1, 2) || two_digits(p + 1) > 60)
			return false;
		p += 3;
		if (*p == '.') {
			p++;
			if (!isdigit((unsigned char)*p))
				return false;
			while (isdigit((unsigned char)*p))
				p++;
		}
	}
	if (*p == 'Z' || *p == 'z')
		return p[1] == '\0';
	if (*p == '+' || *p == '-') {
		if (!digits(p + 1, 2) || two_digits(p + 1) > 15)
			return false;
		p += 3;
		if (*p == '\0')
			return true;
		if (*p == ':')
			p++;
		return digits(p, 2) && two_digits(p) <= 59 && p[2] == '\0';
	}
	return *p == '\0';
}

/* Checks one value against a type; writes its text for binding into out. */
static bool
check_value(const struct decl_param *p, enum decl_type type, struct json_object *v,
    struct buf *out, char *why, size_t cap)
{
	switch (type) {
	case DT_STRING:
	case DT_DATE:
	case DT_TIMESTAMP:
	case DT_ENUM: {
		const char *s;

		if (!json_object_is_type(v, json_type_string)) {
			snprintf(why, cap, "must be a string%s", type == DT_DATE ? " (YYYY-MM-DD)" :
			    type == DT_TIMESTAMP ? " (ISO 8601 timestamp)" : "");
			return false;
		}
		s = json_object_get_string(v);
		if ((size_t)json_object_get_string_len(v) != strlen(s)) {
			snprintf(why, cap, "contains a NUL character");
			return false;
		}
		if (type == DT_DATE && !valid_date(s)) {
			snprintf(why, cap, "must be a date YYYY-MM-DD that exists, and nothing else, got "
			    "\"%.40s\"", s);
			return false;
		}
		if (type == DT_TIMESTAMP && !valid_timestamp(s)) {
			snprintf(why, cap, "must be an ISO 8601 timestamp such as 2024-05-01T12:00:00Z or "
			    "2024-05-01 14:00:00+02:00, and nothing else, got \"%.40s\"", s);
			return false;
		}
		if (p->n_enum > 0) {
			bool found = false;

			for (size_t i = 0; i < p->n_enum; i++)
				found |= strcmp(p->enum_values[i], s) == 0;
			if (!found) {
				struct buf list = BUF_INIT;

				for (size_t i = 0; i < p->n_enum; i++)
					buf_printf(&list, "%s%s", i ? ", " : "", p->enum_values[i]);
				snprintf(why, cap, "must be one of %s, got \"%.40s\"", buf_cstr(&list), s);
				buf_free(&list);
				return false;
			}
		}
		if (p->has_re && regexec(&p->re, s, 0, NULL, 0) != 0) {
			snprintf(why, cap, "does not match the pattern %s", p->pattern);
			return false;
		}
		buf_puts(out, s);
		return true;
	}
	case DT_INTEGER:
	case DT_NUMBER: {
		double d;

		if (json_object_is_type(v, json_type_int)) {
			d = (double)json_object_get_int64(v);
			if (type == DT_INTEGER) {
				buf_printf(out, "%lld", (long long)json_object_get_int64(v));
			} else {
				buf_puts(out, json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN));
			}
		} else if (json_object_is_type(v, json_type_double)) {
			d = json_object_get_double(v);
			if (type == DT_INTEGER && (d != floor(d) || fabs(d) > 9007199254740992.0)) {
				snprintf(why, cap, "must be an integer");
				return false;
			}
			if (type == DT_INTEGER)
				buf_printf(out, "%.0f", d);
			else
				buf_puts(out, json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN));
		} else {
			snprintf(why, cap, "must be %s", type == DT_INTEGER ? "an integer" : "a number");
			return false;
		}
		if (p->has_min && d < p->min) {
			snprintf(why, cap, "must be at least %g", p->min);
			return false;
		}
		if (p->has_max && d > p->max) {
			snprintf(why, cap, "must be at most %g", p->max);
			return false;
		}
		return true;
	}
	case DT_BOOLEAN:
		if (!json_object_is_type(v, json_type_boolean)) {
			snprintf(why, cap, "must be true or false");
			return false;
		}
		buf_puts(out, json_object_get_boolean(v) ? "true" : "false");
		return true;
	case DT_ARRAY: {
		size_t n;
		struct buf el = BUF_INIT;

		if (!json_object_is_type(v, json_type_array)) {
			snprintf(why, cap, "must be an array of %ss", json_types[p->item_type]);
			return false;
		}
		/* A PostgreSQL array literal, every element quoted: {"a","b"}. */
		n = json_object_array_length(v);
		buf_putc(out, '{');
		for (size_t i = 0; i < n; i++) {
			char inner[200];

			buf_reset(&el);
			if (!check_value(p, p->item_type, json_object_array_get_idx(v, i), &el, inner,
			    sizeof(inner))) {
				snprintf(why, cap, "item %zu %s", i, inner);
				buf_free(&el);
				return false;
			}
			if (i)
				buf_putc(out, ',');
			buf_putc(out, '"');
			for (size_t k = 0; k < el.len; k++) {
				if (el.data[k] == '"' || el.data[k] == '\\')
					buf_putc(out, '\\');
				buf_putc(out, el.data[k]);
			}
			buf_putc(out, '"');
		}
		buf_putc(out, '}');
		buf_free(&el);
		return true;
	}
	}
	return false;
}

/* Validates the arguments and binds them to $1..$n in declaration order. */
static bool
bind_arguments(struct tool_ctx *tc, const struct decl_tool *t)
{
	struct buf text = BUF_INIT;
	size_t *off = xcalloc(t->n_params + 1, sizeof(*off));
	bool ok = true;

	json_object_object_foreach(tc->args, key, val) {
		bool known = false;

		(void)val;
		for (size_t i = 0; i < t->n_params; i++)
			known |= strcmp(t->params[i].name, key) == 0;
		if (!known && t->input_schema_json == NULL) {
			struct buf list = BUF_INIT;

			for (size_t i = 0; i < t->n_params; i++)
				buf_printf(&list, "%s%s", i ? ", " : "", t->params[i].name);
			tool_error(tc, "Invalid arguments: unknown argument \"%s\" (this tool takes: %s)", key,
			    list.len ? buf_cstr(&list) : "no arguments");
			buf_free(&list);
			ok = false;
			goto out;
		}
	}
	for (size_t i = 0; i < t->n_params; i++) {
		const struct decl_param *p = &t->params[i];
		struct json_object *v = NULL, *def = NULL;
		char why[300];

		json_object_object_get_ex(tc->args, p->name, &v);
		if (v == NULL && p->default_json != NULL)
			v = def = json_tokener_parse(p->default_json);
		if (v == NULL) {
			if (p->required) {
				tool_error(tc, "Invalid arguments: \"%s\" is required (%s)", p->name,
				    json_types[p->type]);
				ok = false;
				goto out;
			}
			off[i] = SIZE_MAX;	/* SQL NULL */
			continue;
		}
		off[i] = text.len;
		if (!check_value(p, p->type, v, &text, why, sizeof(why))) {
			tool_error(tc, "Invalid arguments: \"%s\" %s", p->name, why);
			json_object_put(def);
			ok = false;
			goto out;
		}
		buf_putc(&text, '\0');
		json_object_put(def);
	}
	tc->params = xcalloc(t->n_params + 1, sizeof(*tc->params));
	tc->param_text = text;
	text = (struct buf)BUF_INIT;
	for (size_t i = 0; i < t->n_params; i++)
		tc->params[i] = off[i] == SIZE_MAX ? NULL : tc->param_text.data + off[i];
	tc->nparams = (int)t->n_params;
out:
	free(off);
	buf_free(&text);
	return ok;
}

/* A column's value in the first row, and whether that column is bytea (already base64). */
static struct json_object *
first_row_value(struct json_object *rows, struct json_object *cols, const char *column,
    bool *is_bytea)
{
	struct json_object *row, *col, *v = NULL, *name, *type;

	*is_bytea = false;
	if (rows == NULL || json_object_array_length(rows) == 0)
		return NULL;
	row = json_object_array_get_idx(rows, 0);
	for (size_t i = 0; cols && i < json_object_array_length(cols); i++) {
		col = json_object_array_get_idx(cols, i);
		if (!json_object_object_get_ex(col, "name", &name))
			continue;
		if (column == NULL || strcmp(json_object_get_string(name), column) == 0) {
			json_object_object_get_ex(row, json_object_get_string(name), &v);
			*is_bytea = json_object_object_get_ex(col, "type", &type) &&
			    strcmp(json_object_get_string(type), "bytea") == 0;
			return v;	/* NULL for SQL NULL */
		}
	}
	return NULL;
}

static const char *
value_text(struct json_object *v)
{
	if (v == NULL)
		return "";
	if (json_object_is_type(v, json_type_string))
		return json_object_get_string(v);
	return json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
}

static void
write_content(struct tool_ctx *tc, const struct decl_tool *t)
{
	struct json_object *rows = json_tokener_parse(tc->res.rows.len ? buf_cstr(&tc->res.rows) : "[]");
	struct json_object *cols = json_tokener_parse(tc->res.columns.len ?
	    buf_cstr(&tc->res.columns) : "[]");
	struct jw *w = tc->w;

	tc->done = true;
	jw_key(w, "content");
	jw_arr_begin(w);
	for (size_t i = 0; i < t->n_content; i++) {
		const struct decl_content *c = &t->content[i];
		bool bytea = false;
		struct json_object *v = c->text ? NULL : first_row_value(rows, cols, c->column, &bytea);
		const char *text = c->text ? c->text : value_text(v);

		jw_obj_begin(w);
		switch (c->type) {
		case DC_TEXT:
			jw_kstr(w, "type", "text");
			jw_kstr(w, "text", text);
			break;
		case DC_IMAGE:
		case DC_AUDIO:
			jw_kstr(w, "type", c->type == DC_IMAGE ? "image" : "audio");
			jw_kstr(w, "data", text);	/* bytea arrives as base64; text must be base64 */
			jw_kstr(w, "mimeType", c->mime_type);
			break;
		case DC_RESOURCE:
			jw_kstr(w, "type", "resource");
			jw_key(w, "resource");
			jw_obj_begin(w);
			jw_kstr(w, "uri", c->uri);
			jw_kstr(w, "mimeType", c->mime_type ? c->mime_type :
			    bytea ? "application/octet-stream" : "text/plain");
			jw_kstr(w, bytea ? "blob" : "text", text);
			jw_obj_end(w);
			break;
		}
		jw_obj_end(w);
	}
	jw_arr_end(w);
	jw_kbool(w, "isError", false);
	json_object_put(rows);
	json_object_put(cols);
}

void
declared_tool_call(struct tool_ctx *tc, const struct decl_tool *t)
{
	struct guard_verdict v;
	struct db_request req;

	if (!bind_arguments(tc, t))
		return;
	guard_check(t->read_only ? GUARD_READ_ONLY : GUARD_WRITE, t->sql, strlen(t->sql), &v);
	if (!v.allowed) {
		tool_guard_error(tc, &v, t->sql);
		return;
	}
	tool_request_defaults(tc, &req);
	req.sql = t->sql;
	req.write = !t->read_only;
	req.limit_wrap = t->read_only && v.kind == GUARD_KIND_SELECT && t->result == DR_ROWS;
	if (t->max_rows > 0 && t->max_rows < req.max_rows)
		req.max_rows = t->max_rows;
	req.statement_timeout_ms = t->statement_timeout_ms;
	req.single_value = t->result == DR_VALUE;
	tool_run(tc, &req);
	if (tc->res.status == DB_CANCELLED) {
		tool_error(tc, "cancelled");
		return;
	}
	if (tc->res.status != DB_OK) {
		if (t->statement_timeout_ms > 0) {
			/* name the tool's own limit, not the global one */
			tc->own_timeout_tool = t->name;
			tc->own_timeout_ms = t->statement_timeout_ms;
		}
		tool_db_error(tc, t->sql, 0);
		return;
	}
	switch (t->result) {
	case DR_ROWS:
		tool_write_rows_result(tc, !t->read_only);
		break;
	case DR_VALUE: {
		struct json_object *val = tc->res.value.len ? json_tokener_parse(buf_cstr(&tc->res.value)) :
		    NULL;
		const char *text = val ? value_text(val) : (tc->res.row_count ? "null" : "");

		tc->done = true;
		jw_key(tc->w, "content");
		jw_arr_begin(tc->w);
		jw_obj_begin(tc->w);
		jw_kstr(tc->w, "type", "text");
		jw_kstr(tc->w, "text", text);
		jw_obj_end(tc->w);
		jw_arr_end(tc->w);
		jw_kbool(tc->w, "isError", false);
		json_object_put(val);
		break;
	}
	case DR_CONTENT:
		write_content(tc, t);
		break;
	}
}
