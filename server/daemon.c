/* daemon.c: building the configuration from its sources, for start-up and for every reload. */
#include "daemon.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handlers.h"
#include "log.h"
#include "util.h"

/* Tool names in the file must exist: a typo should not silently leave a tool enabled. */
static void
check_tool_names(const struct config *cfg, struct conf_errors *errors)
{
	for (size_t i = 0; i < cfg->n_tools; i++) {
		if (tools_is_known(cfg->tools[i].name))
			continue;
		buf_printf(&errors->text, "%s:%zu:%zu: tools.%s: unknown tool (built-in tools: query, "
		    "execute, list_schemas, list_tables, describe_table, explain, list_extensions, "
		    "database_info, top_queries, health, active_queries)\n",
		    cfg->file ? cfg->file : "(config)", cfg->tools[i].line, cfg->tools[i].column,
		    cfg->tools[i].name);
		errors->count++;
	}
}

int
daemon_load_config(const struct config_source *src, struct config *cfg, bool to_log)
{
	struct conf_errors errors = { BUF_INIT, 0 };
	int count;

	config_load(cfg, src->file, src->sets, src->n_sets, src->dsn, &errors);
	check_tool_names(cfg, &errors);
	if (src->n_listen > 0) {
		/* --listen replaces the file's listeners rather than adding to them. */
		for (size_t i = 0; i < cfg->n_listen; i++) {
			free(cfg->listen[i].address);
			free(cfg->listen[i].owner);
			free(cfg->listen[i].origin);
		}
		cfg->n_listen = 0;
		for (size_t i = 0; i < src->n_listen; i++)
			config_add_listen(cfg, src->listen[i], "--listen", &errors);
	}
	if (src->workers > 0)
		cfg->workers = src->workers;
	count = errors.count;
	if (count > 0 && to_log) {
		char *text, *save = NULL;

		buf_cstr(&errors.text);	/* strtok_r needs the terminator */
		text = errors.text.data;

		for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
			log_error("%s", line);
		log_error("%d configuration error%s", count, count == 1 ? "" : "s");
	} else if (count > 0) {
		fputs(buf_cstr(&errors.text), stderr);
		fprintf(stderr, "pgmcp: %d configuration error%s\n", count, count == 1 ? "" : "s");
	}
	conf_errors_free(&errors);
	return count;
}
