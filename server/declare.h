/*
 * declare.h: tools, resources, resource templates and prompts that operators declare in the
 * YAML file, and toolsets that enable groups of tools together. Parsed once with the rest of
 * the configuration; every problem is reported with file:line:col.
 */
#ifndef PGMCP_DECLARE_H
#define PGMCP_DECLARE_H

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf.h"

enum decl_type {
	DT_STRING, DT_INTEGER, DT_NUMBER, DT_BOOLEAN, DT_ENUM, DT_DATE, DT_TIMESTAMP, DT_ARRAY,
};

struct decl_param {
	char *name;
	char *description;
	enum decl_type type;
	enum decl_type item_type;	/* arrays */
	bool required;
	char *default_json;		/* JSON text, or NULL */
	bool has_min, has_max;
	double min, max;
	char *pattern;
	regex_t re;
	bool has_re;
	char **enum_values;
	size_t n_enum;
};

enum decl_result { DR_ROWS, DR_VALUE, DR_CONTENT };
enum decl_content_type { DC_TEXT, DC_IMAGE, DC_AUDIO, DC_RESOURCE };

/* One content item built from the first row: a column's value, or literal text. */
struct decl_content {
	enum decl_content_type type;
	char *column;		/* NULL = the first column */
	char *text;		/* literal text instead of a column */
	char *mime_type;
	char *uri;		/* resource items */
};

struct decl_tool {
	char *name;
	char *title;
	char *description;
	char *sql;
	bool read_only;
	bool enabled;
	int64_t max_rows;		/* 0 = the global limit */
	int64_t statement_timeout_ms;	/* 0 = the global limit */
	struct decl_param *params;
	size_t n_params;
	enum decl_result result;
	struct decl_content *content;
	size_t n_content;
	char *input_schema_json;	/* overrides the schema built from params */
	size_t line, column;
};

struct decl_completion {
	char **values;
	size_t n_values;
	char *sql;		/* $1 is the text typed so far */
};

struct decl_resource {
	char *uri;		/* for templates, the RFC 6570 template */
	bool is_template;
	char *name;
	char *title;
	char *description;
	char *mime_type;
	char *text;		/* literal text ({var} substituted for templates) */
	char *blob;		/* literal base64 */
	char *sql;		/* content from SQL: first column of the first row; vars bound $1.. */
	char **vars;		/* template variables, in order of appearance */
	size_t n_vars;
	struct decl_completion *completions;	/* per var */
	size_t line, column;	/* of the entry, for cross-reference errors */
};

struct decl_prompt_arg {
	char *name;
	char *description;
	bool required;
	struct decl_completion completion;
};

struct decl_message {
	char *role;
	enum decl_content_type type;
	char *text;		/* {arg} substituted */
	char *uri;		/* resource: a declared resource, or any URI with text/blob */
	char *mime_type;
	char *data;		/* image/audio base64 */
	size_t line, column;	/* of the resource: value */
};

struct decl_prompt {
	char *name;
	char *title;
	char *description;
	struct decl_prompt_arg *args;
	size_t n_args;
	struct decl_message *messages;
	size_t n_messages;
	size_t line, column;
};

/* Where a name was written in the file: cross-references are checked after the whole file. */
struct decl_pos {
	size_t line, column;
};

struct decl_toolset {
	char *name;
	char **tools;
	struct decl_pos *tool_pos;	/* per tool name */
	size_t n_tools;
};

struct declarations {
	struct decl_tool *tools;
	size_t n_tools;
	struct decl_resource *resources;	/* direct resources and templates */
	size_t n_resources;
	struct decl_prompt *prompts;
	size_t n_prompts;
	struct decl_toolset *toolsets;
	size_t n_toolsets;
	char **enabled_toolsets;	/* when set, only tools in these toolsets are offered */
	struct decl_pos *enabled_pos;
	size_t n_enabled_toolsets;
};

/* Section handlers for the configuration table. */
void declare_tool(struct conf_ctx *ctx, const char *name, yaml_node_t *body,
    struct declarations *d);
void declare_resources(struct conf_ctx *ctx, yaml_node_t *node, struct declarations *d,
    bool templates);
void declare_prompts(struct conf_ctx *ctx, yaml_node_t *node, struct declarations *d);
void declare_toolsets(struct conf_ctx *ctx, yaml_node_t *node, struct declarations *d);
void declare_enabled_toolsets(struct conf_ctx *ctx, yaml_node_t *node, struct declarations *d);
/*
 * Cross-references, once the whole file is read: toolsets name existing tools,
 * enabled_toolsets existing toolsets, URIs and prompt names are unique, prompts embed declared
 * resources. Each problem is one "file:line:col: key: problem" line in errors; the offending
 * reference is then dropped, so a later check does not report it again.
 */
void declare_check(struct declarations *d, const char *file, struct conf_errors *errors);
void declarations_free(struct declarations *d);
const struct decl_tool *declared_tool(const struct declarations *d, const char *name);
bool declared_in_toolsets(const struct declarations *d, const char *tool);
/*
 * Matches uri against a template; on success fills values (caller frees each), percent-decoded
 * as RFC 6570 simple expansion encoded them. Returns 1 on a match, 0 when uri does not fit the
 * template, -1 when it fits but a value is malformed (why says which and how).
 */
int decl_template_match(const struct decl_resource *r, const char *uri, char **values,
    char *why, size_t whycap);

#endif
