/* conf.c: the table-driven configuration loader (YAML file, environment, command line). */
#include "conf.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "util.h"

static void
conf_error(struct conf_errors *errors, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
conf_error(struct conf_errors *errors, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	buf_puts(&errors->text, line);
	buf_putc(&errors->text, '\n');
	errors->count++;
}

void
conf_errors_free(struct conf_errors *errors)
{
	buf_free(&errors->text);
	errors->count = 0;
}

const struct conf_key *
conf_find(const struct conf_key *keys, const char *path)
{
	for (const struct conf_key *k = keys; k->path != NULL; k++)
		if (strcmp(k->path, path) == 0)
			return k;
	return NULL;
}

static void
describe_range(const struct conf_key *k, char *out, size_t cap)
{
	char lo[32], hi[32];

	if (k->type == CONF_DURATION) {
		format_duration_ms(k->min, lo, sizeof(lo));
		format_duration_ms(k->max, hi, sizeof(hi));
	} else {
		snprintf(lo, sizeof(lo), "%lld", (long long)k->min);
		snprintf(hi, sizeof(hi), "%lld", (long long)k->max);
	}
	snprintf(out, cap, "between %s and %s", lo, hi);
}

/* Parses text into the key's slot; on failure writes a problem description into why. */
static int
store(const struct conf_key *k, void *settings, const char *text, char *why, size_t whycap)
{
	char *slot = (char *)settings + k->offset;
	int64_t v = 0;
	char range[96];

	switch (k->type) {
	case CONF_STRING:
		free(*(char **)slot);
		*(char **)slot = xstrdup(text);
		return 0;
	case CONF_BOOL: {
		bool b;

		if (parse_bool(text, &b) < 0) {
			snprintf(why, whycap, "expected true or false, got \"%s\"", text);
			return -1;
		}
		*(bool *)slot = b;
		return 0;
	}
	case CONF_ENUM:
		for (int i = 0; k->enum_values[i] != NULL; i++) {
			if (strcmp(k->enum_values[i], text) == 0) {
				*(int *)slot = i;
				return 0;
			}
		}
		{
			struct buf list = BUF_INIT;

			for (int i = 0; k->enum_values[i] != NULL; i++)
				buf_printf(&list, "%s%s", i ? ", " : "", k->enum_values[i]);
			snprintf(why, whycap, "expected one of %s, got \"%s\"", buf_cstr(&list), text);
			buf_free(&list);
		}
		return -1;
	case CONF_INT:
		if (parse_int64(text, &v) < 0) {
			snprintf(why, whycap, "expected an integer, got \"%s\"", text);
			return -1;
		}
		break;
	case CONF_DURATION:
		if (parse_duration_ms(text, &v) < 0) {
			snprintf(why, whycap,
			    "expected a duration such as 250ms, 30s, 5min or 1h, got \"%s\"", text);
			return -1;
		}
		break;
	case CONF_SIZE:
		if (parse_size_bytes(text, &v) < 0) {
			snprintf(why, whycap, "expected a size such as 65536, 64kB or 4MB, got \"%s\"",
			    text);
			return -1;
		}
		break;
	}
	if (v < k->min || v > k->max) {
		describe_range(k, range, sizeof(range));
		snprintf(why, whycap, "must be %s, got %s", range, text);
		return -1;
	}
	*(int64_t *)slot = v;
	return 0;
}

void
conf_defaults(const struct conf_key *keys, void *settings)
{
	char why[256];

	for (const struct conf_key *k = keys; k->path != NULL; k++) {
		if (k->def == NULL)
			continue;
		if (store(k, settings, k->def, why, sizeof(why)) < 0)
			fatalx("built-in default for %s is invalid: %s", k->path, why);
	}
}

void
conf_free(const struct conf_key *keys, void *settings)
{
	for (const struct conf_key *k = keys; k->path != NULL; k++) {
		if (k->type == CONF_STRING) {
			char **slot = (char **)((char *)settings + k->offset);

			free(*slot);
			*slot = NULL;
		}
	}
}

int
conf_set(const struct conf_key *keys, void *settings, const char *path, const char *value,
    const char *origin, struct conf_errors *errors)
{
	const struct conf_key *k = conf_find(keys, path);
	char why[512];

	if (k == NULL) {
		conf_error(errors, "%s: %s: unknown setting", origin, path);
		return -1;
	}
	if (store(k, settings, value, why, sizeof(why)) < 0) {
		conf_error(errors, "%s: %s: %s", origin, path, why);
		return -1;
	}
	return 0;
}

int
conf_load_env(const struct conf_key *keys, void *settings, struct conf_errors *errors)
{
	int before = errors->count;

	for (const struct conf_key *k = keys; k->path != NULL; k++) {
		char name[128] = "PGMCP_";
		size_t n = strlen(name);
		const char *value;

		for (const char *p = k->path; *p && n + 1 < sizeof(name); p++)
			name[n++] = *p == '.' ? '_' : (char)toupper((unsigned char)*p);
		name[n] = '\0';
		value = getenv(name);
		if (value != NULL)
			conf_set(keys, settings, k->path, value, name, errors);
	}
	return errors->count - before;
}

char *
conf_expand_env(const char *text, char *err, size_t errcap)
{
	struct buf out = BUF_INIT;
	const char *p = text;

	while (*p) {
		const char *end, *colon, *value;
		char name[256];
		size_t namelen;

		if (p[0] == '$' && p[1] == '$') {	/* "$$" is a literal "$" */
			buf_putc(&out, '$');
			p += 2;
			continue;
		}
		if (p[0] != '$' || p[1] != '{') {
			buf_putc(&out, *p++);
			continue;
		}
		end = strchr(p + 2, '}');
		if (end == NULL) {
			snprintf(err, errcap, "unterminated ${ in \"%s\"", text);
			buf_free(&out);
			return NULL;
		}
		colon = memchr(p + 2, ':', (size_t)(end - p - 2));
		namelen = (size_t)((colon ? colon : end) - (p + 2));
		if (namelen == 0 || namelen >= sizeof(name)) {
			snprintf(err, errcap, "bad variable reference in \"%s\"", text);
			buf_free(&out);
			return NULL;
		}
		memcpy(name, p + 2, namelen);
		name[namelen] = '\0';
		value = getenv(name);
		if ((value == NULL || *value == '\0') && colon != NULL && colon[1] == '-') {
			buf_append(&out, colon + 2, (size_t)(end - colon - 2));
		} else if (value == NULL) {
			snprintf(err, errcap,
			    "environment variable %s is not set (write ${%s:-default} to give a default)",
			    name, name);
			buf_free(&out);
			return NULL;
		} else {
			buf_puts(&out, value);
		}
		p = end + 1;
	}
	buf_cstr(&out);
	return out.data;
}

void
conf_error_at(struct conf_ctx *ctx, yaml_node_t *node, const char *key, const char *fmt, ...)
{
	char msg[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	conf_error(ctx->errors, "%s:%zu:%zu: %s: %s", ctx->file,
	    node ? node->start_mark.line + 1 : 0, node ? node->start_mark.column + 1 : 0,
	    key, msg);
}

yaml_node_t *
conf_node(struct conf_ctx *ctx, int index)
{
	return yaml_document_get_node(ctx->doc, index);
}

const char *
conf_key_text(struct conf_ctx *ctx, yaml_node_pair_t *pair)
{
	yaml_node_t *k = conf_node(ctx, pair->key);

	if (k == NULL || k->type != YAML_SCALAR_NODE)
		return NULL;
	return (const char *)k->data.scalar.value;
}

char *
conf_scalar(struct conf_ctx *ctx, yaml_node_t *node, const char *key)
{
	char err[512];
	char *text;

	if (node->type != YAML_SCALAR_NODE) {
		conf_error_at(ctx, node, key, "expected a single value, got a %s",
		    node->type == YAML_MAPPING_NODE ? "mapping" : "list");
		return NULL;
	}
	text = conf_expand_env((const char *)node->data.scalar.value, err, sizeof(err));
	if (text == NULL)
		conf_error_at(ctx, node, key, "%s", err);
	return text;
}

/* True if some key or section lives under prefix (so prefix is a section mapping). */
static bool
is_section(struct conf_ctx *ctx, const char *prefix)
{
	size_t n = strlen(prefix);

	for (const struct conf_key *k = ctx->keys; k->path != NULL; k++)
		if (strncmp(k->path, prefix, n) == 0 && k->path[n] == '.')
			return true;
	return false;
}

static void
walk_mapping(struct conf_ctx *ctx, yaml_node_t *map, const char *prefix)
{
	for (yaml_node_pair_t *pair = map->data.mapping.pairs.start;
	    pair < map->data.mapping.pairs.top; pair++) {
		yaml_node_t *knode = conf_node(ctx, pair->key);
		yaml_node_t *vnode = conf_node(ctx, pair->value);
		const char *name = conf_key_text(ctx, pair);
		const struct conf_key *key;
		char path[256], why[512];
		char *text;

		if (name == NULL) {
			conf_error_at(ctx, knode, prefix[0] ? prefix : "(top)",
			    "keys must be plain names");
			continue;
		}
		snprintf(path, sizeof(path), "%s%s%s", prefix, prefix[0] ? "." : "", name);

		if (ctx->sections != NULL) {
			const struct conf_section *s;

			for (s = ctx->sections; s->path != NULL; s++)
				if (strcmp(s->path, path) == 0)
					break;
			if (s->path != NULL) {
				s->handler(ctx, vnode, ctx->settings);
				continue;
			}
		}
		key = conf_find(ctx->keys, path);
		if (key != NULL) {
			if (vnode->type == YAML_SCALAR_NODE && vnode->data.scalar.length == 0 &&
			    vnode->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
			    key->type != CONF_STRING) {
				conf_error_at(ctx, vnode, path, "has no value");
				continue;
			}
			text = conf_scalar(ctx, vnode, path);
			if (text == NULL)
				continue;
			if (store(key, ctx->settings, text, why, sizeof(why)) < 0)
				conf_error_at(ctx, vnode, path, "%s", why);
			free(text);
		} else if (is_section(ctx, path)) {
			if (vnode->type == YAML_SCALAR_NODE && vnode->data.scalar.length == 0 &&
			    vnode->data.scalar.style == YAML_PLAIN_SCALAR_STYLE)
				continue;	/* "limits:" with every key commented out */
			if (vnode->type != YAML_MAPPING_NODE)
				conf_error_at(ctx, vnode, path, "expected a mapping of settings");
			else
				walk_mapping(ctx, vnode, path);
		} else {
			conf_error_at(ctx, knode, path, "unknown setting%s",
			    prefix[0] ? "" : " (see conf/pgmcp.yaml for every key)");
		}
	}
}

int
conf_load_file(const struct conf_key *keys, const struct conf_section *sections,
    void *settings, const char *file, struct conf_errors *errors)
{
	struct conf_ctx ctx = { keys, sections, settings, file, NULL, errors };
	int before = errors->count;
	yaml_parser_t parser;
	yaml_document_t doc;
	yaml_node_t *root;
	FILE *fp;

	fp = fopen(file, "rb");
	if (fp == NULL) {
		conf_error(errors, "%s: cannot open: %s", file, strerror(errno));
		return 1;
	}
	if (!yaml_parser_initialize(&parser))
		fatalx("libyaml: cannot initialise a parser");
	yaml_parser_set_input_file(&parser, fp);
	if (!yaml_parser_load(&parser, &doc)) {
		conf_error(errors, "%s:%zu:%zu: YAML syntax error: %s%s%s", file,
		    parser.problem_mark.line + 1, parser.problem_mark.column + 1,
		    parser.problem ? parser.problem : "unknown problem",
		    parser.context ? " " : "", parser.context ? parser.context : "");
		yaml_parser_delete(&parser);
		fclose(fp);
		return errors->count - before;
	}
	ctx.doc = &doc;
	root = yaml_document_get_root_node(&doc);
	if (root == NULL) {
		/* An empty file is a valid configuration: every default applies. */
	} else if (root->type != YAML_MAPPING_NODE) {
		conf_error_at(&ctx, root, "(top)", "the file must be a mapping of settings");
	} else {
		walk_mapping(&ctx, root, "");
	}
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	fclose(fp);
	return errors->count - before;
}
