/* config.h: pgmcp's settings: one struct, one table of keys, and how they are layered. */
#ifndef PGMCP_CONFIG_H
#define PGMCP_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf.h"

enum access_mode {
	ACCESS_READ_ONLY = 0,
	ACCESS_READ_WRITE = 1,
};

struct tool_setting {
	char *name;
	bool enabled;
	size_t line, column;
};

struct config {
	/* database */
	char *dsn;
	int64_t connect_timeout_ms;
	char *application_name;
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
	/* tools: per-name switches, checked against the tool registry after loading */
	struct tool_setting *tools;
	size_t n_tools;
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
void config_free(struct config *cfg);
/* The DSN with any password replaced by "********", for logs. Caller frees. */
char *config_redact_dsn(const char *dsn);
bool config_tool_enabled(const struct config *cfg, const char *name, bool default_enabled);

#endif
