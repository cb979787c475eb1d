/* config.c: the table of every configuration key and the precedence rules that layer them. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "handlers.h"
#include "log.h"
#include "util.h"

#define OFF(field) offsetof(struct config, field)

static const char *const pooler_values[] = { "none", "transaction", NULL };
static const char *const access_values[] = { "read_only", "read_write", NULL };
static const char *const level_values[] = { "debug", "info", "notice", "warning", "error", NULL };
static const char *const format_values[] = { "logfmt", "json", NULL };
static const char *const text_format_values[] = { "json", "csv", "markdown", NULL };

#define DAY_MS (24LL * 3600 * 1000)

const struct conf_key config_keys[] = {
	{ "database.dsn", CONF_STRING, OFF(dsn), 0, 0, NULL, NULL, CONF_SECRET },
	{ "database.connect_timeout", CONF_DURATION, OFF(connect_timeout_ms), 1000, 3600000, "5s",
	    NULL, 0 },
	{ "database.application_name", CONF_STRING, OFF(application_name), 0, 0, "pgmcp", NULL, 0 },
	{ "database.pooler", CONF_ENUM, OFF(pooler), 0, 0, "none", pooler_values, 0 },
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
	{ "workers", CONF_INT, OFF(workers), 1, 256, "4", NULL, CONF_RELOADABLE },
	{ "max_connections_per_worker", CONF_INT, OFF(max_connections_per_worker), 0, 1000000000,
	    "10000", NULL, CONF_RELOADABLE },
	{ "shutdown_timeout", CONF_DURATION, OFF(shutdown_timeout_ms), 0, 3600000, "10s", NULL,
	    CONF_RELOADABLE },
	{ "http.path_prefix", CONF_STRING, OFF(http_path_prefix), 0, 0, "", NULL, CONF_RELOADABLE },
	{ "http.header_timeout", CONF_DURATION, OFF(http_header_timeout_ms), 100, 3600000, "10s",
	    NULL, CONF_RELOADABLE },
	{ "http.request_timeout", CONF_DURATION, OFF(http_request_timeout_ms), 100, 3600000, "30s",
	    NULL, CONF_RELOADABLE },
	{ "http.idle_timeout", CONF_DURATION, OFF(http_idle_timeout_ms), 100, 3600000, "15s", NULL,
	    CONF_RELOADABLE },
	{ "http.max_header_bytes", CONF_SIZE, OFF(http_max_header_bytes), 1024, 1024 * 1024, "16kB",
	    NULL, CONF_RELOADABLE },
	{ "http.max_headers", CONF_INT, OFF(http_max_headers), 8, 1000, "64", NULL, CONF_RELOADABLE },
	{ "http.max_requests_per_connection", CONF_INT, OFF(http_max_requests_per_connection), 1,
	    1000000, "1000", NULL, CONF_RELOADABLE },
	{ "http.sse_heartbeat", CONF_DURATION, OFF(http_sse_heartbeat_ms), 1000, 3600000, "15s",
	    NULL, CONF_RELOADABLE },
	{ "http.session_ttl", CONF_DURATION, OFF(http_session_ttl_ms), 1000, 30LL * DAY_MS, "24h",
	    NULL, CONF_RELOADABLE },
	{ "http.queue_timeout", CONF_DURATION, OFF(http_queue_timeout_ms), 0, 60000, "250ms", NULL,
	    CONF_RELOADABLE },
	{ "http.auth_tokens_file", CONF_STRING, OFF(http_auth_tokens_file), 0, 0, NULL, NULL,
	    CONF_RELOADABLE },
	{ "log.level", CONF_ENUM, OFF(log_level), 0, 0, "info", level_values, CONF_RELOADABLE },
	{ "log.format", CONF_ENUM, OFF(log_format), 0, 0, "logfmt", format_values, CONF_RELOADABLE },
	{ "log.file", CONF_STRING, OFF(log_file), 0, 0, NULL, NULL, 0 },
	{ "audit.file", CONF_STRING, OFF(audit_file), 0, 0, NULL, NULL, CONF_RELOADABLE },
	{ "audit.log", CONF_BOOL, OFF(audit_log), 0, 0, "false", NULL, CONF_RELOADABLE },
	{ "audit.log_parameters", CONF_BOOL, OFF(audit_log_parameters), 0, 0, "false", NULL,
	    CONF_RELOADABLE },
	{ "output.text_format", CONF_ENUM, OFF(text_format), 0, 0, "json", text_format_values,
	    CONF_RELOADABLE },
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
		if (!tools_is_known(name)) {
			/* Not a built-in: an operator's own tool, which has sql. */
			bool has_sql = false;

			snprintf(path, sizeof(path), "tools.%s", name);
			if (body->type == YAML_MAPPING_NODE)
				for (yaml_node_pair_t *q = body->data.mapping.pairs.start;
				    q < body->data.mapping.pairs.top; q++)
					has_sql |= conf_key_text(ctx, q) && strcmp(conf_key_text(ctx, q), "sql") == 0;
			if (!has_sql)
				conf_error_at(ctx, conf_node(ctx, p->key), path, "unknown tool (built-in tools: "
				    "query, execute, list_schemas, list_tables, describe_table, explain, "
				    "list_extensions, database_info, top_queries, health, active_queries; a tool "
				    "of your own needs description and sql)");
			else
				declare_tool(ctx, name, body, &cfg->decl);
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
				    "unknown setting (a built-in tool takes only: enabled)");
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

/* Parses "0660" (octal) for a unix socket mode. */
static int
parse_mode(const char *text)
{
	char *end;
	long v = strtol(text, &end, 8);

	return *text && *end == '\0' && v >= 0 && v <= 0777 ? (int)v : -1;
}

static int
parse_protocols(const char *text)
{
	if (strcmp(text, "http") == 0)
		return LISTEN_HTTP;
	if (strcmp(text, "framed") == 0 || strcmp(text, "jsonrpc") == 0)
		return LISTEN_FRAMED;
	return 0;
}

static struct listen_setting *
new_listener(struct config *cfg)
{
	struct listen_setting *l;

	cfg->listen = realloc(cfg->listen, (cfg->n_listen + 1) * sizeof(*cfg->listen));
	if (cfg->listen == NULL)
		fatalx("out of memory");
	l = &cfg->listen[cfg->n_listen++];
	memset(l, 0, sizeof(*l));
	l->protocols = LISTEN_HTTP | LISTEN_FRAMED;
	l->mode = -1;
	return l;
}

const char *
config_listen_split(const char *address, char *host, size_t hostcap, char *port, size_t portcap)
{
	const char *digits;
	long n = 0;

	if (address[0] == '[') {
		const char *close = strchr(address, ']');

		if (close == NULL || close[1] != ':')
			return "expected [ipv6]:port, e.g. \"[::1]:8080\"";
		snprintf(host, hostcap, "%.*s", (int)(close - address - 1), address + 1);
		digits = close + 2;
	} else {
		const char *colon = strrchr(address, ':');

		if (colon == NULL)
			return "expected host:port, [ipv6]:port or unix:/path, e.g. \"127.0.0.1:8080\"";
		snprintf(host, hostcap, "%.*s", (int)(colon - address), address);
		digits = colon + 1;
	}
	if (*digits == '\0')
		return "the port is missing";
	if (strlen(digits) >= portcap)
		return "the port must be a number from 0 to 65535";
	for (const char *p = digits; *p; p++) {
		if (*p < '0' || *p > '9')
			return "the port must be a number from 0 to 65535";
		n = n * 10 + (*p - '0');
		if (n > 65535)
			return "the port must be a number from 0 to 65535";
	}
	snprintf(port, portcap, "%s", digits);
	if (strcmp(host, "*") == 0)
		host[0] = '\0';
	return NULL;
}

/* What is wrong with a listener address, or NULL: the syntax only (binding tells the rest). */
static const char *
listen_address_problem(const char *address)
{
	char host[256], port[16];

	if (strncmp(address, "unix:", 5) == 0)
		return address[5] == '/' ? NULL : "a Unix socket address is unix:/absolute/path";
	return config_listen_split(address, host, sizeof(host), port, sizeof(port));
}

/*
 * listen: a list of addresses ("127.0.0.1:8080", "[::1]:8080", "unix:/run/pgmcp.sock") or of
 * mappings { address, protocols: [http, framed], mode: "0660", owner: "user:group" }.
 */
static void
listen_section(struct conf_ctx *ctx, yaml_node_t *node, void *settings)
{
	struct config *cfg = settings;

	if (node->type == YAML_SCALAR_NODE && node->data.scalar.length == 0)
		return;
	if (node->type != YAML_SEQUENCE_NODE) {
		conf_error_at(ctx, node, "listen", "expected a list of addresses, e.g. "
		    "[\"127.0.0.1:8080\"]");
		return;
	}
	for (yaml_node_item_t *it = node->data.sequence.items.start;
	    it < node->data.sequence.items.top; it++) {
		yaml_node_t *item = conf_node(ctx, *it);
		struct listen_setting *l;
		const char *why;
		char origin[512];

		snprintf(origin, sizeof(origin), "%s:%zu:%zu", ctx->file, item->start_mark.line + 1,
		    item->start_mark.column + 1);
		if (item->type == YAML_SCALAR_NODE) {
			char *text = conf_scalar(ctx, item, "listen");

			if (text == NULL)
				continue;
			l = new_listener(cfg);
			l->address = text;
			l->origin = xstrdup(origin);
			if ((why = listen_address_problem(text)) != NULL)
				conf_error_at(ctx, item, "listen", "\"%s\": %s", text, why);
			continue;
		}
		if (item->type != YAML_MAPPING_NODE) {
			conf_error_at(ctx, item, "listen", "each listener is an address or a mapping");
			continue;
		}
		l = new_listener(cfg);
		l->origin = xstrdup(origin);
		for (yaml_node_pair_t *p = item->data.mapping.pairs.start;
		    p < item->data.mapping.pairs.top; p++) {
			const char *key = conf_key_text(ctx, p);
			yaml_node_t *v = conf_node(ctx, p->value);
			char path[64];
			char *text = NULL;

			snprintf(path, sizeof(path), "listen.%s", key ? key : "?");
			if (key != NULL && strcmp(key, "protocols") == 0) {
				if (v->type == YAML_SCALAR_NODE) {
					text = conf_scalar(ctx, v, path);
					if (text && (l->protocols = parse_protocols(text)) == 0)
						conf_error_at(ctx, v, path, "expected http or framed, got \"%s\"",
						    text);
				} else if (v->type == YAML_SEQUENCE_NODE) {
					l->protocols = 0;
					for (yaml_node_item_t *q = v->data.sequence.items.start;
					    q < v->data.sequence.items.top; q++) {
						yaml_node_t *pv = conf_node(ctx, *q);
						char *pt = conf_scalar(ctx, pv, path);
						int bit = pt ? parse_protocols(pt) : 0;

						if (pt && bit == 0)
							conf_error_at(ctx, pv, path, "expected http or framed, got "
							    "\"%s\"", pt);
						l->protocols |= bit;
						free(pt);
					}
					if (l->protocols == 0)
						conf_error_at(ctx, v, path, "name at least one of http, framed");
				} else {
					conf_error_at(ctx, v, path, "expected http, framed or a list of them");
				}
			} else if (key != NULL && (strcmp(key, "address") == 0 || strcmp(key, "mode") == 0 ||
			    strcmp(key, "owner") == 0)) {
				text = conf_scalar(ctx, v, path);
				if (text == NULL)
					continue;
				if (strcmp(key, "address") == 0) {
					why = listen_address_problem(text);
					if (why != NULL)
						conf_error_at(ctx, v, "listen.address", "\"%s\": %s", text, why);
					free(l->address);
					l->address = text;
					text = NULL;
				} else if (strcmp(key, "owner") == 0) {
					free(l->owner);
					l->owner = text;
					text = NULL;
				} else if ((l->mode = parse_mode(text)) < 0) {
					conf_error_at(ctx, v, path, "expected an octal mode such as \"0660\", "
					    "got \"%s\"", text);
				}
			} else {
				conf_error_at(ctx, conf_node(ctx, p->key), path,
				    "unknown setting (a listener takes: address, protocols, mode, owner)");
			}
			free(text);
		}
		if (l->address == NULL)
			conf_error_at(ctx, item, "listen", "this listener has no address");
	}
}

/* A list of strings: http.allowed_origins. */
static void
origins_section(struct conf_ctx *ctx, yaml_node_t *node, void *settings)
{
	struct config *cfg = settings;

	if (node->type == YAML_SCALAR_NODE && node->data.scalar.length == 0)
		return;
	if (node->type != YAML_SEQUENCE_NODE) {
		conf_error_at(ctx, node, "http.allowed_origins", "expected a list of origins such as "
		    "[\"https://app.example.com\"]");
		return;
	}
	for (yaml_node_item_t *it = node->data.sequence.items.start;
	    it < node->data.sequence.items.top; it++) {
		char *text = conf_scalar(ctx, conf_node(ctx, *it), "http.allowed_origins");

		if (text == NULL)
			continue;
		cfg->http_allowed_origins = realloc(cfg->http_allowed_origins,
		    (cfg->n_http_allowed_origins + 1) * sizeof(char *));
		if (cfg->http_allowed_origins == NULL)
			fatalx("out of memory");
		cfg->http_allowed_origins[cfg->n_http_allowed_origins++] = text;
	}
}

int
config_add_listen(struct config *cfg, const char *address, const char *origin,
    struct conf_errors *errors)
{
	struct listen_setting *l = new_listener(cfg);
	const char *why = listen_address_problem(address);

	l->address = xstrdup(address);
	l->origin = xstrdup(origin);
	if (why == NULL)
		return 0;
	buf_printf(&errors->text, "%s: listen: \"%s\": %s\n", origin, address, why);
	errors->count++;
	return -1;
}

static void
resources_section(struct conf_ctx *ctx, yaml_node_t *node, void *settings)
{
	declare_resources(ctx, node, &((struct config *)settings)->decl, false);
}

static void
templates_section(struct conf_ctx *ctx, yaml_node_t *node, void *settings)
{
	declare_resources(ctx, node, &((struct config *)settings)->decl, true);
}

static void
prompts_section(struct conf_ctx *ctx, yaml_node_t *node, void *settings)
{
	declare_prompts(ctx, node, &((struct config *)settings)->decl);
}

static void
toolsets_section(struct conf_ctx *ctx, yaml_node_t *node, void *settings)
{
	declare_toolsets(ctx, node, &((struct config *)settings)->decl);
}

static void
policies_section(struct conf_ctx *ctx, yaml_node_t *node, void *settings)
{
	policy_section(ctx, node, &((struct config *)settings)->policies);
}

static void
enabled_toolsets_section(struct conf_ctx *ctx, yaml_node_t *node, void *settings)
{
	declare_enabled_toolsets(ctx, node, &((struct config *)settings)->decl);
}

static const struct conf_section config_sections[] = {
	{ "resources", resources_section },
	{ "resource_templates", templates_section },
	{ "prompts", prompts_section },
	{ "toolsets", toolsets_section },
	{ "enabled_toolsets", enabled_toolsets_section },
	{ "policies", policies_section },
	{ "listen", listen_section },
	{ "http.allowed_origins", origins_section },
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
		/* Declarations refer to each other: checked once the whole file is read. */
		declare_check(&cfg->decl, file, errors);
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
	for (size_t i = 0; i < cfg->n_listen; i++) {
		free(cfg->listen[i].address);
		free(cfg->listen[i].owner);
		free(cfg->listen[i].origin);
	}
	free(cfg->listen);
	for (size_t i = 0; i < cfg->n_http_allowed_origins; i++)
		free(cfg->http_allowed_origins[i]);
	free(cfg->http_allowed_origins);
	for (size_t i = 0; i < cfg->n_tools; i++)
		free(cfg->tools[i].name);
	free(cfg->tools);
	declarations_free(&cfg->decl);
	policies_free(&cfg->policies);
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
