/* declare.c: parsing and checking operator-declared tools, resources, templates and prompts. */
#include "declare.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guard.h"
#include "handlers.h"
#include "http.h"
#include "jsonw.h"
#include "log.h"
#include "policy.h"
#include "util.h"

#define GROW(arr, n) do { \
	(arr) = realloc((arr), ((n) + 1) * sizeof(*(arr))); \
	if ((arr) == NULL) fatalx("out of memory"); \
	memset(&(arr)[(n)], 0, sizeof(*(arr))); \
} while (0)

static const char *const type_names[] = {
	"string", "integer", "number", "boolean", "enum", "date", "timestamp", "array", NULL,
};

static bool
key_in(const char *key, const char *const *allowed)
{
	for (; *allowed != NULL; allowed++)
		if (strcmp(*allowed, key) == 0)
			return true;
	return false;
}

static void
list_keys(struct buf *b, const char *const *allowed)
{
	for (int i = 0; allowed[i] != NULL; i++)
		buf_printf(b, "%s%s", i ? ", " : "", allowed[i]);
}

/* Checks every key of a mapping against allowed; reports the unknown ones. */
static bool
check_keys(struct conf_ctx *ctx, yaml_node_t *map, const char *path, const char *const *allowed)
{
	bool ok = true;

	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
		const char *key = conf_key_text(ctx, p);

		if (key == NULL || !key_in(key, allowed)) {
			struct buf list = BUF_INIT;

			list_keys(&list, allowed);
			conf_error_at(ctx, conf_node(ctx, p->key), path, "unknown setting \"%s\" (here: %s)",
			    key ? key : "?", buf_cstr(&list));
			buf_free(&list);
			ok = false;
		}
	}
	return ok;
}

static yaml_node_t *
get(struct conf_ctx *ctx, yaml_node_t *map, const char *key)
{
	if (map == NULL || map->type != YAML_MAPPING_NODE)
		return NULL;
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
		const char *k = conf_key_text(ctx, p);

		if (k != NULL && strcmp(k, key) == 0)
			return conf_node(ctx, p->value);
	}
	return NULL;
}

/* The text of map[key], or NULL (absent, or an error already reported). */
static char *
get_text(struct conf_ctx *ctx, yaml_node_t *map, const char *key, const char *path)
{
	yaml_node_t *v = get(ctx, map, key);
	char where[700];

	if (v == NULL)
		return NULL;
	snprintf(where, sizeof(where), "%s.%s", path, key);
	return conf_scalar(ctx, v, where);
}

static bool
get_bool(struct conf_ctx *ctx, yaml_node_t *map, const char *key, const char *path, bool def)
{
	char *text = get_text(ctx, map, key, path);
	bool v = def;

	if (text != NULL && parse_bool(text, &v) < 0)
		conf_error_at(ctx, get(ctx, map, key), path, "%s: expected true or false, got \"%s\"",
		    key, text);
	free(text);
	return v;
}

static int64_t
get_duration(struct conf_ctx *ctx, yaml_node_t *map, const char *key, const char *path)
{
	char *text = get_text(ctx, map, key, path);
	int64_t v = 0;

	if (text != NULL && parse_duration_ms(text, &v) < 0)
		conf_error_at(ctx, get(ctx, map, key), path, "%s: expected a duration such as 5s, got "
		    "\"%s\"", key, text);
	free(text);
	return v;
}

static int64_t
get_int(struct conf_ctx *ctx, yaml_node_t *map, const char *key, const char *path, int64_t min,
    int64_t max)
{
	char *text = get_text(ctx, map, key, path);
	int64_t v = 0;

	if (text != NULL && (parse_int64(text, &v) < 0 || v < min || v > max))
		conf_error_at(ctx, get(ctx, map, key), path, "%s: expected an integer from %lld to %lld, "
		    "got \"%s\"", key, (long long)min, (long long)max, text);
	free(text);
	return v;
}

static bool
looks_numeric(const char *s)
{
	char *end;

	if (*s == '\0')
		return false;
	strtod(s, &end);
	return *end == '\0' && (isdigit((unsigned char)*s) || *s == '-' || *s == '+' || *s == '.');
}

/* A YAML node as JSON: plain scalars that read as numbers, booleans or null keep that type. */
static void
yaml_to_json(struct conf_ctx *ctx, yaml_node_t *n, struct jw *w)
{
	switch (n->type) {
	case YAML_SCALAR_NODE: {
		const char *v = (const char *)n->data.scalar.value;
		bool plain = n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;

		if (plain && (strcmp(v, "true") == 0 || strcmp(v, "false") == 0))
			jw_bool(w, v[0] == 't');
		else if (plain && (strcmp(v, "null") == 0 || strcmp(v, "~") == 0 || v[0] == '\0'))
			jw_null(w);
		else if (plain && looks_numeric(v))
			jw_raw(w, v, strlen(v));
		else
			jw_str(w, v);
		break;
	}
	case YAML_SEQUENCE_NODE:
		jw_arr_begin(w);
		for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++)
			yaml_to_json(ctx, conf_node(ctx, *it), w);
		jw_arr_end(w);
		break;
	case YAML_MAPPING_NODE:
		jw_obj_begin(w);
		for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
			const char *k = conf_key_text(ctx, p);

			jw_key(w, k ? k : "");
			yaml_to_json(ctx, conf_node(ctx, p->value), w);
		}
		jw_obj_end(w);
		break;
	default:
		jw_null(w);
	}
}

static char *
node_json(struct conf_ctx *ctx, yaml_node_t *n)
{
	struct buf b = BUF_INIT;
	struct jw w;

	jw_init(&w, &b);
	yaml_to_json(ctx, n, &w);
	buf_cstr(&b);
	return b.data;
}

static bool
valid_name(const char *s)
{
	if (s == NULL || *s == '\0' || strlen(s) > 128)
		return false;
	for (const char *p = s; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '_' && *p != '-' && *p != '.')
			return false;
	return true;
}

static int
parse_type(const char *s)
{
	for (int i = 0; type_names[i] != NULL; i++)
		if (strcmp(type_names[i], s) == 0)
			return i;
	return -1;
}

/*
 * items: takes only the item type. The rules of an array parameter (minimum, maximum,
 * pattern, enum) are written on the parameter and apply to each item.
 */
static void
check_items_keys(struct conf_ctx *ctx, yaml_node_t *items, const char *path)
{
	static const char *const rules[] = { "minimum", "maximum", "pattern", "enum", NULL };
	char where[700];

	snprintf(where, sizeof(where), "%s.items", path);
	for (yaml_node_pair_t *p = items->data.mapping.pairs.start; p < items->data.mapping.pairs.top;
	    p++) {
		const char *key = conf_key_text(ctx, p);

		if (key != NULL && strcmp(key, "type") == 0)
			continue;
		if (key != NULL && key_in(key, rules))
			conf_error_at(ctx, conf_node(ctx, p->key), where, "unknown setting \"%s\" (here: "
			    "type; write %s on the parameter itself: an array's rules apply to each item)",
			    key, key);
		else
			conf_error_at(ctx, conf_node(ctx, p->key), where, "unknown setting \"%s\" (here: "
			    "type)", key ? key : "?");
	}
}

/* A rule that the parameter's type (or item type) cannot use is an error, not ignored. */
static void
check_rules(struct conf_ctx *ctx, yaml_node_t *node, const char *path, const struct decl_param *p)
{
	enum decl_type t = p->type == DT_ARRAY ? p->item_type : p->type;
	bool numeric = t == DT_INTEGER || t == DT_NUMBER;
	bool textual = t == DT_STRING || t == DT_ENUM || t == DT_DATE || t == DT_TIMESTAMP;
	const char *of = p->type == DT_ARRAY ? "array of " : "";

	if (p->type == DT_ARRAY && p->item_type == DT_ARRAY)
		return;	/* already reported: items needs a type */
	if (!numeric) {
		if (p->has_min)
			conf_error_at(ctx, get(ctx, node, "minimum"), path, "minimum: only integer and "
			    "number parameters (or arrays of them) take a minimum, not type %s%s", of,
			    type_names[t]);
		if (p->has_max)
			conf_error_at(ctx, get(ctx, node, "maximum"), path, "maximum: only integer and "
			    "number parameters (or arrays of them) take a maximum, not type %s%s", of,
			    type_names[t]);
	} else if (p->has_min && p->has_max && p->min > p->max) {
		conf_error_at(ctx, get(ctx, node, "maximum"), path, "maximum %g is below minimum %g",
		    p->max, p->min);
	}
	if (!textual && p->pattern != NULL)
		conf_error_at(ctx, get(ctx, node, "pattern"), path, "pattern: only string, enum, date "
		    "and timestamp parameters (or arrays of them) take a pattern, not type %s%s", of,
		    type_names[t]);
	if (t != DT_STRING && t != DT_ENUM && p->n_enum > 0)
		conf_error_at(ctx, get(ctx, node, "enum"), path, "enum: only string and enum "
		    "parameters (or arrays of them) take a list of values, not type %s%s", of,
		    type_names[t]);
}

static void
parse_param(struct conf_ctx *ctx, yaml_node_t *node, const char *tpath, struct decl_param *p)
{
	static const char *const keys[] = { "name", "type", "description", "required", "default",
		"minimum", "maximum", "pattern", "enum", "items", NULL };
	char path[600];
	char *text;
	yaml_node_t *v;

	if (node->type != YAML_MAPPING_NODE) {
		conf_error_at(ctx, node, tpath, "each parameter is a mapping with name and type");
		return;
	}
	p->name = get_text(ctx, node, "name", tpath);
	snprintf(path, sizeof(path), "%s.parameters.%s", tpath, p->name ? p->name : "?");
	if (p->name == NULL || !valid_name(p->name)) {
		conf_error_at(ctx, node, path, "a parameter needs a name (letters, digits, _ - .)");
		return;
	}
	check_keys(ctx, node, path, keys);
	p->description = get_text(ctx, node, "description", path);
	p->required = get_bool(ctx, node, "required", path, false);
	text = get_text(ctx, node, "type", path);
	if (text == NULL) {
		conf_error_at(ctx, node, path, "type is required (string, integer, number, boolean, "
		    "enum, date, timestamp or array)");
		text = xstrdup("string");
	} else if (parse_type(text) < 0) {
		conf_error_at(ctx, get(ctx, node, "type"), path, "type: expected string, integer, "
		    "number, boolean, enum, date, timestamp or array, got \"%s\"", text);
	}
	p->type = parse_type(text) < 0 ? DT_STRING : (enum decl_type)parse_type(text);
	free(text);
	if ((v = get(ctx, node, "enum")) != NULL) {
		if (v->type != YAML_SEQUENCE_NODE) {
			conf_error_at(ctx, v, path, "enum: expected a list of values");
		} else {
			for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top;
			    it++) {
				char *e = conf_scalar(ctx, conf_node(ctx, *it), path);

				if (e == NULL)
					continue;
				GROW(p->enum_values, p->n_enum);
				p->enum_values[p->n_enum++] = e;
			}
		}
	}
	if (p->type == DT_ENUM && p->n_enum == 0)
		conf_error_at(ctx, node, path, "type enum needs an enum: list of values");
	if (p->type == DT_ARRAY) {
		yaml_node_t *items = get(ctx, node, "items");
		char *it = NULL;

		if (items != NULL && items->type == YAML_MAPPING_NODE) {
			check_items_keys(ctx, items, path);
			it = get_text(ctx, items, "type", path);
		} else if (items != NULL) {
			it = conf_scalar(ctx, items, path);
		}
		if (it == NULL || parse_type(it) < 0 || parse_type(it) == DT_ARRAY)
			conf_error_at(ctx, items ? items : node, path, "type array needs items: with a type "
			    "(string, integer, number, boolean, enum, date or timestamp)");
		else
			p->item_type = (enum decl_type)parse_type(it);
		free(it);
		if (p->item_type == DT_ENUM && p->n_enum == 0)
			conf_error_at(ctx, node, path, "type array of enum needs an enum: list of values "
			    "(on the parameter; each item must be one of them)");
	} else if ((v = get(ctx, node, "items")) != NULL) {
		conf_error_at(ctx, v, path, "items: only a parameter of type array has items");
	}
	if ((text = get_text(ctx, node, "minimum", path)) != NULL) {
		char *end;

		p->min = strtod(text, &end);
		p->has_min = *end == '\0';
		if (!p->has_min)
			conf_error_at(ctx, get(ctx, node, "minimum"), path, "minimum: expected a number");
		free(text);
	}
	if ((text = get_text(ctx, node, "maximum", path)) != NULL) {
		char *end;

		p->max = strtod(text, &end);
		p->has_max = *end == '\0';
		if (!p->has_max)
			conf_error_at(ctx, get(ctx, node, "maximum"), path, "maximum: expected a number");
		free(text);
	}
	if ((p->pattern = get_text(ctx, node, "pattern", path)) != NULL) {
		if (regcomp(&p->re, p->pattern, REG_EXTENDED | REG_NOSUB) != 0)
			conf_error_at(ctx, get(ctx, node, "pattern"), path, "pattern: not a valid extended "
			    "regular expression");
		else
			p->has_re = true;
	}
	if ((v = get(ctx, node, "default")) != NULL)
		p->default_json = node_json(ctx, v);
	check_rules(ctx, node, path, p);
}

/* Highest $n in sql (outside quotes, comments are rare in declarations and harmless here). */
static int
max_placeholder(const char *sql)
{
	int max = 0;

	for (const char *p = sql; *p; p++) {
		if (*p == '$' && isdigit((unsigned char)p[1])) {
			int n = atoi(p + 1);

			if (n > max)
				max = n;
		}
	}
	return max;
}

static int
content_type(const char *s)
{
	if (strcmp(s, "text") == 0)
		return DC_TEXT;
	if (strcmp(s, "image") == 0)
		return DC_IMAGE;
	if (strcmp(s, "audio") == 0)
		return DC_AUDIO;
	if (strcmp(s, "resource") == 0)
		return DC_RESOURCE;
	return -1;
}

static void
parse_content_item(struct conf_ctx *ctx, yaml_node_t *n, const char *path, struct decl_content *c)
{
	static const char *const keys[] = { "type", "column", "text", "mime_type", "uri", NULL };
	char *type;

	if (n->type != YAML_MAPPING_NODE) {
		conf_error_at(ctx, n, path, "each content item is a mapping with a type");
		return;
	}
	check_keys(ctx, n, path, keys);
	type = get_text(ctx, n, "type", path);
	if (type == NULL || content_type(type) < 0)
		conf_error_at(ctx, n, path, "content type must be text, image, audio or resource");
	c->type = type && content_type(type) >= 0 ? (enum decl_content_type)content_type(type) : DC_TEXT;
	free(type);
	c->column = get_text(ctx, n, "column", path);
	c->text = get_text(ctx, n, "text", path);
	c->mime_type = get_text(ctx, n, "mime_type", path);
	c->uri = get_text(ctx, n, "uri", path);
	if ((c->type == DC_IMAGE || c->type == DC_AUDIO) && c->mime_type == NULL)
		conf_error_at(ctx, n, path, "image and audio content need a mime_type");
	if (c->type == DC_RESOURCE && c->uri == NULL)
		conf_error_at(ctx, n, path, "resource content needs a uri");
}

void
declare_tool(struct conf_ctx *ctx, const char *name, yaml_node_t *body, struct declarations *d)
{
	static const char *const keys[] = { "enabled", "title", "description", "sql", "read_only",
		"max_rows", "statement_timeout", "parameters", "result", "mime_type", "uri", "content",
		"input_schema", NULL };
	struct decl_tool *t;
	char path[300];
	char *result;
	yaml_node_t *v;
	struct guard_verdict verdict;

	snprintf(path, sizeof(path), "tools.%s", name);
	if (!valid_name(name)) {
		conf_error_at(ctx, body, path, "tool names use letters, digits, _ - and . only");
		return;
	}
	GROW(d->tools, d->n_tools);
	t = &d->tools[d->n_tools++];
	t->name = xstrdup(name);
	t->line = body->start_mark.line + 1;
	t->column = body->start_mark.column + 1;
	check_keys(ctx, body, path, keys);
	t->enabled = get_bool(ctx, body, "enabled", path, true);
	t->title = get_text(ctx, body, "title", path);
	t->description = get_text(ctx, body, "description", path);
	t->sql = get_text(ctx, body, "sql", path);
	t->read_only = get_bool(ctx, body, "read_only", path, true);
	t->max_rows = get_int(ctx, body, "max_rows", path, 1, 1000000);
	t->statement_timeout_ms = get_duration(ctx, body, "statement_timeout", path);
	if (t->description == NULL)
		conf_error_at(ctx, body, path, "description is required: it is what the model reads to "
		    "decide when to call the tool");
	if (t->sql == NULL) {
		conf_error_at(ctx, body, path, "sql is required (one statement, $1 $2 ... for parameters)");
		return;
	}
	if ((v = get(ctx, body, "parameters")) != NULL) {
		if (v->type != YAML_SEQUENCE_NODE) {
			conf_error_at(ctx, v, path, "parameters: expected a list");
		} else {
			for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top;
			    it++) {
				GROW(t->params, t->n_params);
				parse_param(ctx, conf_node(ctx, *it), path, &t->params[t->n_params++]);
			}
		}
	}
	if (max_placeholder(t->sql) > (int)t->n_params)
		conf_error_at(ctx, get(ctx, body, "sql"), path, "sql uses $%d but only %zu parameter%s "
		    "declared (parameters bind to $1, $2 ... in order)", max_placeholder(t->sql),
		    t->n_params, t->n_params == 1 ? " is" : "s are");
	/* The same guard as the query tool, checked now so a bad declaration fails at start-up. */
	guard_check(t->read_only ? GUARD_READ_ONLY : GUARD_WRITE, t->sql, strlen(t->sql), &verdict);
	if (!verdict.allowed)
		conf_error_at(ctx, get(ctx, body, "sql"), path, "sql is refused by the %s guard: %s",
		    t->read_only ? "read-only" : "write", verdict.reason);
	result = get_text(ctx, body, "result", path);
	t->result = DR_ROWS;
	if (result != NULL && strcmp(result, "rows") != 0) {
		if (strcmp(result, "value") == 0) {
			t->result = DR_VALUE;
		} else if (strcmp(result, "content") == 0 || content_type(result) > 0) {
			t->result = DR_CONTENT;
			if (strcmp(result, "content") != 0) {
				/* result: image|audio|resource is one content item from the first column */
				GROW(t->content, t->n_content);
				t->content[0].type = (enum decl_content_type)content_type(result);
				t->content[0].mime_type = get_text(ctx, body, "mime_type", path);
				t->content[0].uri = get_text(ctx, body, "uri", path);
				t->n_content = 1;
				if (t->content[0].type != DC_RESOURCE && t->content[0].mime_type == NULL)
					conf_error_at(ctx, body, path, "result %s needs mime_type", result);
				if (t->content[0].type == DC_RESOURCE && t->content[0].uri == NULL)
					t->content[0].uri = xstrdup("pgmcp://result");
			}
		} else {
			conf_error_at(ctx, get(ctx, body, "result"), path, "result: expected rows, value, "
			    "image, audio, resource or content, got \"%s\"", result);
		}
	}
	free(result);
	if ((v = get(ctx, body, "content")) != NULL) {
		if (v->type != YAML_SEQUENCE_NODE) {
			conf_error_at(ctx, v, path, "content: expected a list of items");
		} else {
			t->result = DR_CONTENT;
			for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top;
			    it++) {
				GROW(t->content, t->n_content);
				parse_content_item(ctx, conf_node(ctx, *it), path, &t->content[t->n_content++]);
			}
		}
	}
	if (t->result == DR_CONTENT && t->n_content == 0)
		conf_error_at(ctx, body, path, "result content needs a content: list");
	if ((v = get(ctx, body, "input_schema")) != NULL) {
		if (v->type != YAML_MAPPING_NODE)
			conf_error_at(ctx, v, path, "input_schema: expected a JSON Schema object");
		else
			t->input_schema_json = node_json(ctx, v);
	}
}

static void
parse_completion(struct conf_ctx *ctx, yaml_node_t *n, const char *path, struct decl_completion *c)
{
	if (n->type == YAML_SEQUENCE_NODE) {
		for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top;
		    it++) {
			char *v = conf_scalar(ctx, conf_node(ctx, *it), path);

			if (v == NULL)
				continue;
			GROW(c->values, c->n_values);
			c->values[c->n_values++] = v;
		}
	} else if (n->type == YAML_MAPPING_NODE) {
		static const char *const keys[] = { "sql", NULL };

		check_keys(ctx, n, path, keys);
		c->sql = get_text(ctx, n, "sql", path);
		if (c->sql == NULL) {
			conf_error_at(ctx, n, path, "completions: a list of values or { sql: ... }");
		} else {
			struct guard_verdict v;

			/* It runs like a declared resource's SQL: read-only, checked now. */
			guard_check(GUARD_READ_ONLY, c->sql, strlen(c->sql), &v);
			if (!v.allowed)
				conf_error_at(ctx, get(ctx, n, "sql"), path, "completions sql is refused by "
				    "the read-only guard: %s", v.reason);
		}
	} else {
		conf_error_at(ctx, n, path, "completions: a list of values or { sql: ... }");
	}
}

/* Variables of an RFC 6570 level-1 template: {name}. */
static bool
template_vars(const char *uri, struct decl_resource *r)
{
	for (const char *p = uri; (p = strchr(p, '{')) != NULL;) {
		const char *close = strchr(p, '}');

		if (close == NULL || close == p + 1)
			return false;
		GROW(r->vars, r->n_vars);
		r->vars[r->n_vars++] = strndup(p + 1, (size_t)(close - p - 1));
		p = close + 1;
	}
	return r->n_vars > 0;
}

void
declare_resources(struct conf_ctx *ctx, yaml_node_t *node, struct declarations *d, bool templates)
{
	static const char *const keys[] = { "uri", "name", "title", "description", "mime_type",
		"text", "blob", "sql", NULL };
	static const char *const tkeys[] = { "uri_template", "name", "title", "description",
		"mime_type", "text", "sql", "completions", NULL };
	const char *section = templates ? "resource_templates" : "resources";

	if (node->type == YAML_SCALAR_NODE && node->data.scalar.length == 0)
		return;
	if (node->type != YAML_SEQUENCE_NODE) {
		conf_error_at(ctx, node, section, "expected a list");
		return;
	}
	for (yaml_node_item_t *it = node->data.sequence.items.start; it < node->data.sequence.items.top;
	    it++) {
		yaml_node_t *n = conf_node(ctx, *it);
		struct decl_resource *r;
		char path[300];
		int sources;
		yaml_node_t *comp;

		if (n->type != YAML_MAPPING_NODE) {
			conf_error_at(ctx, n, section, "each entry is a mapping");
			continue;
		}
		GROW(d->resources, d->n_resources);
		r = &d->resources[d->n_resources++];
		r->is_template = templates;
		r->line = n->start_mark.line + 1;
		r->column = n->start_mark.column + 1;
		r->uri = get_text(ctx, n, templates ? "uri_template" : "uri", section);
		snprintf(path, sizeof(path), "%s[%s]", section, r->uri ? r->uri : "?");
		check_keys(ctx, n, path, templates ? tkeys : keys);
		if (r->uri == NULL || r->uri[0] == '\0' || strchr(r->uri, ':') == NULL) {
			conf_error_at(ctx, n, path, "%s is required and must be a URI (scheme:...)",
			    templates ? "uri_template" : "uri");
			continue;
		}
		if (templates && !template_vars(r->uri, r))
			conf_error_at(ctx, n, path, "uri_template needs at least one {variable}");
		r->name = get_text(ctx, n, "name", path);
		if (r->name == NULL)
			r->name = xstrdup(r->uri);
		r->title = get_text(ctx, n, "title", path);
		r->description = get_text(ctx, n, "description", path);
		r->mime_type = get_text(ctx, n, "mime_type", path);
		r->text = get_text(ctx, n, "text", path);
		if (!templates)
			r->blob = get_text(ctx, n, "blob", path);
		r->sql = get_text(ctx, n, "sql", path);
		sources = (r->text != NULL) + (r->blob != NULL) + (r->sql != NULL);
		if (sources != 1)
			conf_error_at(ctx, n, path, "give exactly one of text, %ssql for the content",
			    templates ? "" : "blob, ");
		if (r->sql != NULL) {
			struct guard_verdict v;

			guard_check(GUARD_READ_ONLY, r->sql, strlen(r->sql), &v);
			if (!v.allowed)
				conf_error_at(ctx, get(ctx, n, "sql"), path, "sql is refused by the read-only "
				    "guard: %s", v.reason);
			if (max_placeholder(r->sql) > (int)r->n_vars)
				conf_error_at(ctx, get(ctx, n, "sql"), path, "sql uses $%d but the template has "
				    "%zu variable%s", max_placeholder(r->sql), r->n_vars,
				    r->n_vars == 1 ? "" : "s");
		}
		r->completions = xcalloc(r->n_vars + 1, sizeof(*r->completions));
		if (templates && (comp = get(ctx, n, "completions")) != NULL) {
			if (comp->type != YAML_MAPPING_NODE) {
				conf_error_at(ctx, comp, path, "completions: a mapping of variable to values");
				continue;
			}
			for (yaml_node_pair_t *p = comp->data.mapping.pairs.start;
			    p < comp->data.mapping.pairs.top; p++) {
				const char *var = conf_key_text(ctx, p);
				size_t i;

				for (i = 0; i < r->n_vars && var && strcmp(r->vars[i], var) != 0; i++)
					;
				if (var == NULL || i == r->n_vars) {
					conf_error_at(ctx, conf_node(ctx, p->key), path, "completions: \"%s\" is "
					    "not a variable of the template", var ? var : "?");
					continue;
				}
				parse_completion(ctx, conf_node(ctx, p->value), path, &r->completions[i]);
			}
		}
	}
}

static void
parse_message(struct conf_ctx *ctx, yaml_node_t *n, const char *path, struct decl_message *m)
{
	static const char *const keys[] = { "role", "text", "resource", "image", "audio", NULL };
	static const char *const media_keys[] = { "data", "mime_type", NULL };
	yaml_node_t *v;
	int kinds = 0;

	if (n->type != YAML_MAPPING_NODE) {
		conf_error_at(ctx, n, path, "each message is a mapping: role and one of text, resource, "
		    "image, audio");
		return;
	}
	check_keys(ctx, n, path, keys);
	m->role = get_text(ctx, n, "role", path);
	if (m->role == NULL)
		m->role = xstrdup("user");
	else if (strcmp(m->role, "user") != 0 && strcmp(m->role, "assistant") != 0)
		conf_error_at(ctx, get(ctx, n, "role"), path, "role must be user or assistant");
	if ((m->text = get_text(ctx, n, "text", path)) != NULL) {
		m->type = DC_TEXT;
		kinds++;
	}
	if ((v = get(ctx, n, "resource")) != NULL) {
		m->type = DC_RESOURCE;
		m->line = v->start_mark.line + 1;
		m->column = v->start_mark.column + 1;
		kinds++;
		if (v->type == YAML_SCALAR_NODE) {
			m->uri = conf_scalar(ctx, v, path);
		} else if (v->type == YAML_MAPPING_NODE) {
			static const char *const rkeys[] = { "uri", "mime_type", "text", NULL };

			check_keys(ctx, v, path, rkeys);
			m->uri = get_text(ctx, v, "uri", path);
			m->mime_type = get_text(ctx, v, "mime_type", path);
			free(m->text);
			m->text = get_text(ctx, v, "text", path);
		}
		if (m->uri == NULL)
			conf_error_at(ctx, v, path, "resource: a URI, or { uri, mime_type, text }");
	}
	for (int k = 0; k < 2; k++) {
		const char *kind = k ? "audio" : "image";

		if ((v = get(ctx, n, kind)) == NULL)
			continue;
		m->type = k ? DC_AUDIO : DC_IMAGE;
		kinds++;
		if (v->type != YAML_MAPPING_NODE) {
			conf_error_at(ctx, v, path, "%s: { data: <base64>, mime_type: ... }", kind);
			continue;
		}
		check_keys(ctx, v, path, media_keys);
		free(m->data);	/* two kinds in one message: reported below */
		free(m->mime_type);
		m->data = get_text(ctx, v, "data", path);
		m->mime_type = get_text(ctx, v, "mime_type", path);
		if (m->data == NULL || m->mime_type == NULL)
			conf_error_at(ctx, v, path, "%s needs data (base64) and mime_type", kind);
	}
	if (kinds != 1)
		conf_error_at(ctx, n, path, "a message has exactly one of text, resource, image, audio");
}

void
declare_prompts(struct conf_ctx *ctx, yaml_node_t *node, struct declarations *d)
{
	static const char *const keys[] = { "name", "title", "description", "arguments", "messages",
		NULL };
	static const char *const akeys[] = { "name", "description", "required", "completions", NULL };

	if (node->type == YAML_SCALAR_NODE && node->data.scalar.length == 0)
		return;
	if (node->type != YAML_SEQUENCE_NODE) {
		conf_error_at(ctx, node, "prompts", "expected a list");
		return;
	}
	for (yaml_node_item_t *it = node->data.sequence.items.start; it < node->data.sequence.items.top;
	    it++) {
		yaml_node_t *n = conf_node(ctx, *it), *v;
		struct decl_prompt *p;
		char path[300];

		if (n->type != YAML_MAPPING_NODE) {
			conf_error_at(ctx, n, "prompts", "each prompt is a mapping");
			continue;
		}
		GROW(d->prompts, d->n_prompts);
		p = &d->prompts[d->n_prompts++];
		p->line = n->start_mark.line + 1;
		p->column = n->start_mark.column + 1;
		p->name = get_text(ctx, n, "name", "prompts");
		snprintf(path, sizeof(path), "prompts.%s", p->name ? p->name : "?");
		check_keys(ctx, n, path, keys);
		if (!valid_name(p->name)) {
			conf_error_at(ctx, n, path, "a prompt needs a name (letters, digits, _ - .)");
			continue;
		}
		p->title = get_text(ctx, n, "title", path);
		p->description = get_text(ctx, n, "description", path);
		if (p->description == NULL)
			conf_error_at(ctx, n, path, "description is required");
		if ((v = get(ctx, n, "arguments")) != NULL && v->type == YAML_SEQUENCE_NODE) {
			for (yaml_node_item_t *a = v->data.sequence.items.start; a < v->data.sequence.items.top;
			    a++) {
				yaml_node_t *an = conf_node(ctx, *a), *c;
				struct decl_prompt_arg *arg;

				GROW(p->args, p->n_args);
				arg = &p->args[p->n_args++];
				if (an->type != YAML_MAPPING_NODE) {
					conf_error_at(ctx, an, path, "each argument is a mapping with a name");
					continue;
				}
				check_keys(ctx, an, path, akeys);
				arg->name = get_text(ctx, an, "name", path);
				if (!valid_name(arg->name))
					conf_error_at(ctx, an, path, "an argument needs a name");
				arg->description = get_text(ctx, an, "description", path);
				arg->required = get_bool(ctx, an, "required", path, false);
				if ((c = get(ctx, an, "completions")) != NULL)
					parse_completion(ctx, c, path, &arg->completion);
			}
		} else if (v != NULL) {
			conf_error_at(ctx, v, path, "arguments: expected a list");
		}
		if ((v = get(ctx, n, "messages")) == NULL || v->type != YAML_SEQUENCE_NODE ||
		    v->data.sequence.items.start == v->data.sequence.items.top) {
			conf_error_at(ctx, v ? v : n, path, "messages: a list of at least one message");
			continue;
		}
		for (yaml_node_item_t *m = v->data.sequence.items.start; m < v->data.sequence.items.top; m++) {
			GROW(p->messages, p->n_messages);
			parse_message(ctx, conf_node(ctx, *m), path, &p->messages[p->n_messages++]);
		}
	}
}

void
declare_toolsets(struct conf_ctx *ctx, yaml_node_t *node, struct declarations *d)
{
	if (node->type == YAML_SCALAR_NODE && node->data.scalar.length == 0)
		return;
	if (node->type != YAML_MAPPING_NODE) {
		conf_error_at(ctx, node, "toolsets", "expected a mapping of toolset name to tool names");
		return;
	}
	for (yaml_node_pair_t *p = node->data.mapping.pairs.start; p < node->data.mapping.pairs.top; p++) {
		const char *name = conf_key_text(ctx, p);
		yaml_node_t *list = conf_node(ctx, p->value);
		struct decl_toolset *ts;

		GROW(d->toolsets, d->n_toolsets);
		ts = &d->toolsets[d->n_toolsets++];
		ts->name = xstrdup(name ? name : "?");
		if (list->type != YAML_SEQUENCE_NODE) {
			conf_error_at(ctx, list, "toolsets", "%s: expected a list of tool names", ts->name);
			continue;
		}
		for (yaml_node_item_t *it = list->data.sequence.items.start; it < list->data.sequence.items.top;
		    it++) {
			yaml_node_t *tn = conf_node(ctx, *it);
			char *t = conf_scalar(ctx, tn, "toolsets");

			if (t == NULL)
				continue;
			GROW(ts->tools, ts->n_tools);
			GROW(ts->tool_pos, ts->n_tools);
			ts->tool_pos[ts->n_tools].line = tn->start_mark.line + 1;
			ts->tool_pos[ts->n_tools].column = tn->start_mark.column + 1;
			ts->tools[ts->n_tools++] = t;
		}
	}
}

void
declare_enabled_toolsets(struct conf_ctx *ctx, yaml_node_t *node, struct declarations *d)
{
	if (node->type == YAML_SCALAR_NODE && node->data.scalar.length == 0)
		return;
	if (node->type != YAML_SEQUENCE_NODE) {
		conf_error_at(ctx, node, "enabled_toolsets", "expected a list of toolset names");
		return;
	}
	for (yaml_node_item_t *it = node->data.sequence.items.start; it < node->data.sequence.items.top;
	    it++) {
		yaml_node_t *tn = conf_node(ctx, *it);
		char *t = conf_scalar(ctx, tn, "enabled_toolsets");

		if (t == NULL)
			continue;
		GROW(d->enabled_toolsets, d->n_enabled_toolsets);
		GROW(d->enabled_pos, d->n_enabled_toolsets);
		d->enabled_pos[d->n_enabled_toolsets].line = tn->start_mark.line + 1;
		d->enabled_pos[d->n_enabled_toolsets].column = tn->start_mark.column + 1;
		d->enabled_toolsets[d->n_enabled_toolsets++] = t;
	}
}

const struct decl_tool *
declared_tool(const struct declarations *d, const char *name)
{
	for (size_t i = 0; i < d->n_tools; i++)
		if (strcmp(d->tools[i].name, name) == 0)
			return &d->tools[i];
	return NULL;
}

bool
declared_in_toolsets(const struct declarations *d, const char *tool)
{
	if (d->n_enabled_toolsets == 0)
		return true;
	for (size_t i = 0; i < d->n_enabled_toolsets; i++)
		for (size_t j = 0; j < d->n_toolsets; j++)
			if (strcmp(d->toolsets[j].name, d->enabled_toolsets[i]) == 0)
				for (size_t k = 0; k < d->toolsets[j].n_tools; k++)
					if (strcmp(d->toolsets[j].tools[k], tool) == 0)
						return true;
	return false;
}

/*
 * Undoes RFC 6570 simple expansion (RFC 3986 percent-encoding): %XX becomes the byte XX. The
 * result must be UTF-8 without NUL, since it is bound as text. NULL with why set otherwise.
 */
static char *
percent_decode(const char *s, size_t n, char *why, size_t whycap)
{
	struct buf out = BUF_INIT;

	if (!http_percent_decode(s, n, &out)) {
		if (memmem(s, n, "%00", 3) != NULL)
			snprintf(why, whycap, "%%00 (a NUL character) is not allowed");
		else
			snprintf(why, whycap, "\"%%\" must be followed by two hexadecimal digits "
			    "(percent-encoding, RFC 3986)");
		buf_free(&out);
		return NULL;
	}
	if (!utf8_valid(out.data, out.len)) {
		snprintf(why, whycap, "is not valid UTF-8 once percent-decoded");
		buf_free(&out);
		return NULL;
	}
	return out.data;
}

int
decl_template_match(const struct decl_resource *r, const char *uri, char **values, char *why,
    size_t whycap)
{
	const char *t = r->uri, *u = uri;
	const char **raw = xcalloc(2 * r->n_vars + 1, sizeof(*raw)), **raw_end = raw + r->n_vars;
	size_t v = 0;
	int rc = 0;

	/* First the shape: literal parts equal, each {var} one non-empty path segment. */
	while (*t) {
		if (*t == '{') {
			const char *close = strchr(t, '}');
			const char *next = close + 1;
			const char *end;

			/* A variable runs to the next literal character of the template (or the end). */
			if (*next == '\0')
				end = u + strlen(u);
			else
				end = strchr(u, *next);
			if (end == NULL || end == u || v >= r->n_vars)
				goto out;
			if (memchr(u, '/', (size_t)(end - u)) != NULL)
				goto out;	/* {var} is one path segment */
			raw[v] = u;
			raw_end[v++] = end;
			u = end;
			t = next;
		} else if (*t++ != *u++) {
			goto out;
		}
	}
	if (*u != '\0' || v != r->n_vars)
		goto out;
	/* Then the values, percent-decoded. */
	for (size_t i = 0; i < v; i++) {
		char inner[160];

		values[i] = percent_decode(raw[i], (size_t)(raw_end[i] - raw[i]), inner, sizeof(inner));
		if (values[i] == NULL) {
			snprintf(why, whycap, "variable {%s} (\"%.*s\") %s", r->vars[i],
			    (int)(raw_end[i] - raw[i] > 60 ? 60 : raw_end[i] - raw[i]), raw[i], inner);
			for (size_t k = 0; k < i; k++) {
				free(values[k]);
				values[k] = NULL;
			}
			rc = -1;
			goto out;
		}
	}
	rc = 1;
out:
	free(raw);
	return rc;
}

static void
free_completion(struct decl_completion *c)
{
	for (size_t i = 0; i < c->n_values; i++)
		free(c->values[i]);
	free(c->values);
	free(c->sql);
}

static void
free_resource(struct decl_resource *r)
{
	for (size_t j = 0; j < r->n_vars; j++) {
		free(r->vars[j]);
		if (r->completions)
			free_completion(&r->completions[j]);
	}
	free(r->vars);
	free(r->completions);
	free(r->uri);
	free(r->name);
	free(r->title);
	free(r->description);
	free(r->mime_type);
	free(r->text);
	free(r->blob);
	free(r->sql);
}

static void
free_prompt(struct decl_prompt *p)
{
	for (size_t j = 0; j < p->n_args; j++) {
		free(p->args[j].name);
		free(p->args[j].description);
		free_completion(&p->args[j].completion);
	}
	for (size_t j = 0; j < p->n_messages; j++) {
		free(p->messages[j].role);
		free(p->messages[j].text);
		free(p->messages[j].uri);
		free(p->messages[j].mime_type);
		free(p->messages[j].data);
	}
	free(p->args);
	free(p->messages);
	free(p->name);
	free(p->title);
	free(p->description);
}

/* One cross-reference error, in the form conf_error_at() gives the others. */
static void __attribute__((format(printf, 6, 7)))
check_error(struct conf_errors *errors, const char *file, size_t line, size_t column,
    const char *key, const char *fmt, ...)
{
	char msg[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	buf_printf(&errors->text, "%s:%zu:%zu: %s: %s\n", file, line, column, key, msg);
	errors->count++;
}

static bool
tool_exists(const struct declarations *d, const char *name)
{
	return tools_is_known(name) || declared_tool(d, name) != NULL;
}

static const struct decl_resource *
direct_resource(const struct declarations *d, const char *uri)
{
	for (size_t i = 0; i < d->n_resources; i++)
		if (!d->resources[i].is_template && d->resources[i].uri != NULL &&
		    strcmp(d->resources[i].uri, uri) == 0)
			return &d->resources[i];
	return NULL;
}

static void
check_toolsets(struct declarations *d, const char *file, struct conf_errors *errors)
{
	for (size_t i = 0; i < d->n_toolsets; i++) {
		struct decl_toolset *ts = &d->toolsets[i];
		char key[300];

		snprintf(key, sizeof(key), "toolsets.%s", ts->name);
		for (size_t j = 0; j < ts->n_tools;) {
			if (tool_exists(d, ts->tools[j])) {
				j++;
				continue;
			}
			check_error(errors, file, ts->tool_pos[j].line, ts->tool_pos[j].column, key,
			    "no tool named \"%s\" (neither a built-in tool nor one declared under tools:)",
			    ts->tools[j]);
			free(ts->tools[j]);
			memmove(&ts->tools[j], &ts->tools[j + 1], (ts->n_tools - j - 1) * sizeof(*ts->tools));
			memmove(&ts->tool_pos[j], &ts->tool_pos[j + 1],
			    (ts->n_tools - j - 1) * sizeof(*ts->tool_pos));
			ts->n_tools--;
		}
	}
	for (size_t i = 0; i < d->n_enabled_toolsets;) {
		struct buf names = BUF_INIT;
		bool known = false;

		for (size_t j = 0; j < d->n_toolsets; j++)
			known |= strcmp(d->toolsets[j].name, d->enabled_toolsets[i]) == 0;
		if (known) {
			i++;
			continue;
		}
		for (size_t j = 0; j < d->n_toolsets; j++)
			buf_printf(&names, "%s%s", j ? ", " : "", d->toolsets[j].name);
		check_error(errors, file, d->enabled_pos[i].line, d->enabled_pos[i].column,
		    "enabled_toolsets", "no toolset named \"%s\" (declared toolsets: %s)",
		    d->enabled_toolsets[i], names.len ? buf_cstr(&names) : "none");
		buf_free(&names);
		free(d->enabled_toolsets[i]);
		memmove(&d->enabled_toolsets[i], &d->enabled_toolsets[i + 1],
		    (d->n_enabled_toolsets - i - 1) * sizeof(*d->enabled_toolsets));
		memmove(&d->enabled_pos[i], &d->enabled_pos[i + 1],
		    (d->n_enabled_toolsets - i - 1) * sizeof(*d->enabled_pos));
		d->n_enabled_toolsets--;
	}
}

static void
check_resources(struct declarations *d, const char *file, struct conf_errors *errors)
{
	for (size_t i = 0; i < d->n_resources;) {
		struct decl_resource *r = &d->resources[i];
		size_t j;

		for (j = 0; r->uri != NULL && j < i; j++)
			if (d->resources[j].uri != NULL && strcmp(d->resources[j].uri, r->uri) == 0)
				break;
		if (r->uri == NULL || j == i) {
			i++;
			continue;
		}
		check_error(errors, file, r->line, r->column, r->is_template ? "resource_templates" :
		    "resources", "\"%s\" is declared twice (first at line %zu)", r->uri,
		    d->resources[j].line);
		free_resource(r);
		memmove(r, r + 1, (d->n_resources - i - 1) * sizeof(*r));
		d->n_resources--;
	}
}

static void
check_prompts(struct declarations *d, const char *file, struct conf_errors *errors)
{
	for (size_t i = 0; i < d->n_prompts;) {
		struct decl_prompt *p = &d->prompts[i];
		char key[300];
		size_t j;

		if (p->name == NULL) {
			i++;
			continue;	/* already reported */
		}
		snprintf(key, sizeof(key), "prompts.%s", p->name);
		for (size_t m = 0; m < p->n_messages; m++) {
			const struct decl_message *msg = &p->messages[m];
			const struct decl_resource *r;

			/* resource: URI embeds a declared resource; { uri, text } stands alone. */
			if (msg->type != DC_RESOURCE || msg->uri == NULL || msg->text != NULL ||
			    strchr(msg->uri, '{') != NULL)
				continue;
			if ((r = direct_resource(d, msg->uri)) == NULL)
				check_error(errors, file, msg->line, msg->column, key, "resource \"%s\" is "
				    "not a declared resource (declare it under resources:, or write "
				    "resource: { uri, mime_type, text } to embed text inline)", msg->uri);
			else if (r->sql != NULL)
				check_error(errors, file, msg->line, msg->column, key, "resource \"%s\" is "
				    "computed by SQL, which a prompt cannot embed (embed a text or blob "
				    "resource)", msg->uri);
		}
		for (j = 0; j < i; j++)
			if (d->prompts[j].name != NULL && strcmp(d->prompts[j].name, p->name) == 0)
				break;
		if (prompts_exists(p->name))
			check_error(errors, file, p->line, p->column, key, "a built-in prompt has that name "
			    "(built-in prompts: explore_database, write_query, explain_query, "
			    "table_overview)");
		else if (j < i)
			check_error(errors, file, p->line, p->column, key, "declared twice (first at line "
			    "%zu)", d->prompts[j].line);
		else {
			i++;
			continue;
		}
		free_prompt(p);
		memmove(p, p + 1, (d->n_prompts - i - 1) * sizeof(*p));
		d->n_prompts--;
	}
}

static void
check_policy_sql(const struct policies *ps, const char *sql, struct conf_errors *errors,
    const char *file, size_t line, size_t column, const char *key)
{
	char why[320];

	if (sql != NULL && !policy_check_sql(ps, sql, why, sizeof(why)))
		check_error(errors, file, line, column, key, "sql breaks a column policy: %s (declared "
		    "SQL is held to the policies like the query tool; a masked column may only be a "
		    "plain output column, where it is masked)", why);
}

/*
 * The SQL of declared resources, templates and completions against the policies of the same
 * file. Declared tools are checked when called, where a refusal is a tool error the model
 * sees. Views and children of policy tables are known only once connected: every declared
 * SQL text is checked again, with them, each time it runs.
 */
static void
check_policies(const struct declarations *d, const struct policies *ps, const char *file,
    struct conf_errors *errors)
{
	char key[400];

	if (ps == NULL || ps->n == 0)
		return;
	for (size_t i = 0; i < d->n_resources; i++) {
		const struct decl_resource *r = &d->resources[i];
		const char *section = r->is_template ? "resource_templates" : "resources";

		snprintf(key, sizeof(key), "%s[%s].sql", section, r->uri ? r->uri : "?");
		check_policy_sql(ps, r->sql, errors, file, r->line, r->column, key);
		for (size_t v = 0; v < r->n_vars && r->completions != NULL; v++) {
			snprintf(key, sizeof(key), "%s[%s].completions.%s.sql", section,
			    r->uri ? r->uri : "?", r->vars[v]);
			check_policy_sql(ps, r->completions[v].sql, errors, file, r->line, r->column, key);
		}
	}
	for (size_t i = 0; i < d->n_prompts; i++) {
		const struct decl_prompt *p = &d->prompts[i];

		for (size_t a = 0; a < p->n_args; a++) {
			snprintf(key, sizeof(key), "prompts.%s.arguments.%s.completions.sql",
			    p->name ? p->name : "?", p->args[a].name ? p->args[a].name : "?");
			check_policy_sql(ps, p->args[a].completion.sql, errors, file, p->line, p->column,
			    key);
		}
	}
}

void
declare_check(struct declarations *d, const char *file, struct conf_errors *errors)
{
	check_toolsets(d, file, errors);
	check_resources(d, file, errors);
	check_prompts(d, file, errors);
	check_policies(d, policy_take_loaded(), file, errors);
}

void
declarations_free(struct declarations *d)
{
	for (size_t i = 0; i < d->n_tools; i++) {
		struct decl_tool *t = &d->tools[i];

		for (size_t j = 0; j < t->n_params; j++) {
			struct decl_param *p = &t->params[j];

			free(p->name);
			free(p->description);
			free(p->default_json);
			free(p->pattern);
			if (p->has_re)
				regfree(&p->re);
			for (size_t k = 0; k < p->n_enum; k++)
				free(p->enum_values[k]);
			free(p->enum_values);
		}
		for (size_t j = 0; j < t->n_content; j++) {
			free(t->content[j].column);
			free(t->content[j].text);
			free(t->content[j].mime_type);
			free(t->content[j].uri);
		}
		free(t->params);
		free(t->content);
		free(t->name);
		free(t->title);
		free(t->description);
		free(t->sql);
		free(t->input_schema_json);
	}
	free(d->tools);
	for (size_t i = 0; i < d->n_resources; i++)
		free_resource(&d->resources[i]);
	free(d->resources);
	for (size_t i = 0; i < d->n_prompts; i++)
		free_prompt(&d->prompts[i]);
	free(d->prompts);
	for (size_t i = 0; i < d->n_toolsets; i++) {
		for (size_t j = 0; j < d->toolsets[i].n_tools; j++)
			free(d->toolsets[i].tools[j]);
		free(d->toolsets[i].tools);
		free(d->toolsets[i].tool_pos);
		free(d->toolsets[i].name);
	}
	free(d->toolsets);
	for (size_t i = 0; i < d->n_enabled_toolsets; i++)
		free(d->enabled_toolsets[i]);
	free(d->enabled_toolsets);
	free(d->enabled_pos);
	memset(d, 0, sizeof(*d));
}
