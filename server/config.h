/* config.h: pgmcp's settings: one struct, one table of keys, and how they are layered. */
#ifndef PGMCP_CONFIG_H
#define PGMCP_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf.h"
#include "declare.h"
#include "policy.h"

enum access_mode {
	ACCESS_READ_ONLY = 0,
	ACCESS_READ_WRITE = 1,
};

/* database.pooler: what sits between pgmcp and PostgreSQL (db.c). */
enum pooler_mode {
	POOLER_NONE = 0,		/* a session of our own: prepare once, set once */
	POOLER_TRANSACTION = 1,		/* transaction pooling: no session state at all */
};

struct tool_setting {
	char *name;
	bool enabled;
	size_t line, column;
};

#define LISTEN_HTTP 0x01
#define LISTEN_FRAMED 0x02

struct listen_setting {
	char *address;		/* host:port, [v6]:port, or unix:/path */
	int protocols;		/* LISTEN_HTTP | LISTEN_FRAMED (sniffed per connection) */
	int mode;		/* unix sockets: permissions, or -1 */
	char *owner;		/* unix sockets: user[:group], or NULL */
	char *origin;		/* file:line:col or "--listen", for messages */
};

struct config {
	/* database */
	char *dsn;
	int64_t connect_timeout_ms;
	char *application_name;
	int pooler;		/* enum pooler_mode */
	/* access */
	int access;
	/* limits */
	int64_t statement_timeout_ms;
	int64_t lock_timeout_ms;
	int64_t idle_in_transaction_timeout_ms;
	int64_t max_rows;
	int64_t max_result_bytes;
	int64_t max_message_bytes;
	int64_t page_size;
	/* log */
	int log_level;
	int log_format;
	char *log_file;
	/* audit log (audit.c) */
	char *audit_file;
	bool audit_log;
	bool audit_log_parameters;
	/* output: the text content of rows results (textfmt.c) */
	int text_format;
	/* daemon */
	struct listen_setting *listen;
	size_t n_listen;
	int64_t workers;
	int64_t max_connections_per_worker;
	int64_t shutdown_timeout_ms;
	/* http */
	char *http_path_prefix;
	int64_t http_header_timeout_ms;
	int64_t http_request_timeout_ms;
	int64_t http_idle_timeout_ms;
	int64_t http_max_header_bytes;
	int64_t http_max_headers;
	int64_t http_max_requests_per_connection;
	int64_t http_sse_heartbeat_ms;
	int64_t http_session_ttl_ms;
	int64_t http_queue_timeout_ms;
	char **http_allowed_origins;
	size_t n_http_allowed_origins;
	char *http_auth_tokens_file;
	/* tools: per-name switches, checked against the tool registry after loading */
	struct tool_setting *tools;
	size_t n_tools;
	/* operator-declared tools, resources, prompts and toolsets */
	struct declarations decl;
	struct policies policies;
	/* where the DSN came from, for messages (never the DSN itself) */
	const char *dsn_origin;
	char *file;
};

extern const struct conf_key config_keys[];

/*
 * Builds the effective configuration: defaults < file < environment < command-line sets
 * (each "path=value"). Returns the number of errors; messages are in errors.
 */
int config_load(struct config *cfg, const char *file, const char *const *sets, size_t n_sets,
    const char *dsn_arg, struct conf_errors *errors);
/* Replaces the file's listeners with one from the command line (--listen ADDR). */
int config_add_listen(struct config *cfg, const char *address, const char *origin,
    struct conf_errors *errors);
/*
 * Splits a TCP listener address ("host:port", "[v6]:port", "*:port" or ":port", the last two
 * meaning every address, host then "") into host and port. NULL, or what is wrong with it.
 */
const char *config_listen_split(const char *address, char *host, size_t hostcap, char *port,
    size_t portcap);
void config_free(struct config *cfg);
/* The DSN with any password replaced by "********", for logs. Caller frees. */
char *config_redact_dsn(const char *dsn);
bool config_tool_enabled(const struct config *cfg, const char *name, bool default_enabled);

#endif
