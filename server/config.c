/* config.c: the table of every configuration key and the precedence rules that layer them. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "log.h"
#include "util.h"

#define OFF(field) offsetof(struct config, field)

static const char *const access_values[] = { "read_only", "read_write", NULL };
static const char *const level_values[] = { "debug", "info", "notice", "warning", "error", NULL };
static const char *const format_values[] = { "logfmt", "json", NULL };

#define DAY_MS (24LL * 3600 * 1000)

const struct conf_key config_keys[] = {
	{ "database.dsn", CONF_STRING, OFF(dsn), 0, 0, NULL, NULL, CONF_SECRET },
	{ "database.connect_timeout", CONF_DURATION, OFF(connect_timeout_ms), 1000, 3600000, "5s",
	    NULL, 0 },
	{ "database.application_name", CONF_STRING, OFF(application_name), 0, 0, "pgmcp", NULL, 0 },
	{ "access", CONF_ENUM, OFF(access), 0, 0, "read_only", access_values, 0 },
	{ "limits.statement_timeout", CONF_DURATION, OFF(statement_timeout_ms), 0, DAY_MS, "30s",
	    NULL, CONF_RELOADABLE },
	{ "limits.lock_timeout", CONF_DURATION, OFF(lock_timeout_ms), 0, DAY_MS, "5s", NULL,
	    CONF_RELOADABLE },
	{ "limits.idle_in_transaction_timeout", CONF_DURATION, OFF(idle_in_transaction_timeout_ms),
	    0, DAY_MS, "60s", NULL, CONF_RELOADABLE },
	{ "limits.max_rows", CONF_INT, OFF(max_rows), 1, 1000000, "1000", NULL, CONF_RELOADABLE },
	{ "limits.max_result_bytes", CONF_SIZE, OFF(max_result_bytes), 1024, 1LL << 30, "1MB", NULL,
	    CONF_RELOADABLE },
	{ "limits.max_message_bytes", CONF_SIZE, OFF(max_message_bytes), 1024, 1LL << 30, "4MB",
	    NULL, CONF_RELOADABLE },
	{ "limits.page_size", CONF_INT, OFF(page_size), 1, 10000, "100", NULL, CONF_RELOADABLE },
	{ "log.level", CONF_ENUM, OFF(log_level), 0, 0, "info", level_values, CONF_RELOADABLE },
	{ "log.format", CONF_ENUM, OFF(log_format), 0, 0, "logfmt", format_values, CONF_RELOADABLE },
	{ "log.file", CONF_STRING, OFF(log_file), 0, 0, NULL, NULL, 0 },
	{ NULL, 0, 0, 0, 0, NULL, NULL, 0 },
};

static void
add_tool_setting(struct config *cfg, const char *name, bool enabled, yaml_node_t *node)
{
	struct tool_setting *t;

	cfg->tools = realloc(cfg->tools, (cfg->n_tools + 1) * sizeof(*cfg->tools));
	if (cfg->tools == NULL)
		fatalx("out of memory");
	t = &cfg->tools[cfg->n_tools++];
	t->name = xstrdup(name);
	t->enabled = enabled;
	t->line = node ? node->start_mark.line + 1 : 0;
	t->column = node ? node->start_mark.column + 1 : 0;
}

/* tools: { <name>: { enabled: bool } } */
static void
tools_section(struct conf_ctx *ctx, yaml_node_t *node, void *settings)
{
	struct config *cfg = settings;

	if (node->type == YAML_SCALAR_NODE && node->data.scalar.length == 0)
		return;	/* "tools:" with nothing under it */
	if (node->type != YAML_MAPPING_NODE) {
		conf_error_at(ctx, node, "tools", "expected a mapping of tool names");
		return;
	}
	for (yaml_node_pair_t *p = node->data.mapping.pairs.start; p < node->data.mapping.pairs.top;
	    p++) {
		const char *name = conf_key_text(ctx, p);
		yaml_node_t *body = conf_node(ctx, p->value);
		bool enabled = true;
		char path[256];

		if (name == NULL) {
			conf_error_at(ctx, conf_node(ctx, p->key), "tools", "tool names must be text");
			continue;
		}
		snprintf(path, sizeof(path), "tools.%s", name);
		if (body->type != YAML_MAPPING_NODE) {
			conf_error_at(ctx, body, path, "expected a mapping such as { enabled: false }");
			continue;
		}
		for (yaml_node_pair_t *q = body->data.mapping.pairs.start;
		    q < body->data.mapping.pairs.top; q++) {
			const char *key = conf_key_text(ctx, q);
			yaml_node_t *value = conf_node(ctx, q->value);
			char keypath[300];
			char *text;

			snprintf(keypath, sizeof(keypath), "%s.%s", path, key ? key : "?");
			if (key == NULL || strcmp(key, "enabled") != 0) {
				conf_error_at(ctx, conf_node(ctx, q->key), keypath,
				    "unknown setting (a tool takes: enabled)");
				continue;
			}
			text = conf_scalar(ctx, value, keypath);
			if (text == NULL)
				continue;
			if (parse_bool(text, &enabled) < 0)
				conf_error_at(ctx, value, keypath, "expected true or false, got \"%s\"",
				    text);
			free(text);
		}
		add_tool_setting(cfg, name, enabled, conf_node(ctx, p->key));
	}
}

static const struct conf_section config_sections[] = {
	{ "tools", tools_section },
	{ NULL, NULL },
};

int
config_load(struct config *cfg, const char *file, const char *const *sets, size_t n_sets,
    const char *dsn_arg, struct conf_errors *errors)
{
	const char *env;

	memset(cfg, 0, sizeof(*cfg));
	conf_defaults(config_keys, cfg);
	cfg->dsn_origin = "libpq defaults and PG* environment variables";
	if (file != NULL) {
		cfg->file = xstrdup(file);
		conf_load_file(config_keys, config_sections, cfg, file, errors);
		if (cfg->dsn != NULL && cfg->dsn[0] != '\0')
			cfg->dsn_origin = "database.dsn in the configuration file";
	}
	conf_load_env(config_keys, cfg, errors);
	if (getenv("PGMCP_DATABASE_DSN") != NULL)
		cfg->dsn_origin = "PGMCP_DATABASE_DSN";
	/* The conventional variables outrank the file, as the environment does. */
	if ((env = getenv("PG_CONNECTION_STRING")) != NULL && *env) {
		conf_set(config_keys, cfg, "database.dsn", env, "PG_CONNECTION_STRING", errors);
		cfg->dsn_origin = "PG_CONNECTION_STRING";
	}
	if ((env = getenv("DATABASE_URL")) != NULL && *env) {
		conf_set(config_keys, cfg, "database.dsn", env, "DATABASE_URL", errors);
		cfg->dsn_origin = "DATABASE_URL";
	}
	for (size_t i = 0; i < n_sets; i++) {
		char path[256];
		const char *eq = strchr(sets[i], '=');

		if (eq == NULL || eq == sets[i] || (size_t)(eq - sets[i]) >= sizeof(path)) {
			conf_set(config_keys, cfg, sets[i], "", "command line", errors);
			continue;
		}
		memcpy(path, sets[i], (size_t)(eq - sets[i]));
		path[eq - sets[i]] = '\0';
		conf_set(config_keys, cfg, path, eq + 1, "command line", errors);
		if (strcmp(path, "database.dsn") == 0)
			cfg->dsn_origin = "the command line";
	}
	if (dsn_arg != NULL) {
		conf_set(config_keys, cfg, "database.dsn", dsn_arg, "command line", errors);
		cfg->dsn_origin = "the command line";
	}
	if (cfg->dsn == NULL)
		cfg->dsn = xstrdup("");
	if (cfg->dsn[0] != '\0') {
		char *err = NULL;
		PQconninfoOption *opts = PQconninfoParse(cfg->dsn, &err);

		if (opts == NULL) {
			/* libpq's message can quote the string; keep only its first line. */
			char *nl = err ? strchr(err, '\n') : NULL;

			if (nl)
				*nl = '\0';
			buf_printf(&errors->text, "%s: database.dsn: not a valid connection string%s%s\n",
			    cfg->dsn_origin, err ? ": " : "", err ? err : "");
			errors->count++;
		}
		PQconninfoFree(opts);
		PQfreemem(err);
	}
	return errors->count;
}

void
config_free(struct config *cfg)
{
	conf_free(config_keys, cfg);
	for (size_t i = 0; i < cfg->n_tools; i++)
		free(cfg->tools[i].name);
	free(cfg->tools);
	free(cfg->file);
	memset(cfg, 0, sizeof(*cfg));
}

bool
config_tool_enabled(const struct config *cfg, const char *name, bool default_enabled)
{
	for (size_t i = cfg->n_tools; i > 0; i--)
		if (strcmp(cfg->tools[i - 1].name, name) == 0)
			return cfg->tools[i - 1].enabled;
	return default_enabled;
}

char *
config_redact_dsn(const char *dsn)
{
	PQconninfoOption *opts = PQconninfoParse(dsn, NULL);
	struct buf out = BUF_INIT;

	if (opts == NULL)
		return xstrdup("(unparsable connection string)");
	for (PQconninfoOption *o = opts; o->keyword != NULL; o++) {
		if (o->val == NULL || o->val[0] == '\0')
			continue;
		if (out.len)
			buf_putc(&out, ' ');
		if (strcmp(o->keyword, "password") == 0)
			buf_printf(&out, "%s=********", o->keyword);
		else
			buf_printf(&out, "%s=%s", o->keyword, o->val);
	}
	PQconninfoFree(opts);
	buf_cstr(&out);
	return out.data;
}
