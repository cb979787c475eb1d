/*
 * conf.h: typed configuration described by one table of keys, loaded from YAML (libyaml),
 * the environment and the command line, with errors that name file:line:col and key.
 */
#ifndef PGMCP_CONF_H
#define PGMCP_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <yaml.h>

#include "buf.h"

enum conf_type {
	CONF_STRING,	/* char * */
	CONF_INT,	/* int64_t */
	CONF_DURATION,	/* int64_t milliseconds */
	CONF_SIZE,	/* int64_t bytes */
	CONF_BOOL,	/* bool */
	CONF_ENUM,	/* int: index into enum_values */
};

#define CONF_RELOADABLE 0x01	/* takes effect on reload without a restart */
#define CONF_SECRET 0x02	/* never echoed in messages */

struct conf_key {
	const char *path;	/* dotted path, e.g. "limits.max_rows" */
	enum conf_type type;
	size_t offset;		/* into the caller's settings struct */
	int64_t min, max;	/* for INT, DURATION, SIZE */
	const char *def;	/* default, as the text a file would hold; NULL = empty */
	const char *const *enum_values;
	unsigned flags;
};

struct conf_errors {
	struct buf text;	/* one "file:line:col: key: problem" per line */
	int count;
};

struct conf_ctx;

/*
 * A section whose keys are not fixed (for example tools keyed by name) is handed to its
 * handler with the YAML node; the handler reports problems with conf_error_at().
 */
struct conf_section {
	const char *path;
	void (*handler)(struct conf_ctx *ctx, yaml_node_t *node, void *settings);
};

struct conf_ctx {
	const struct conf_key *keys;
	const struct conf_section *sections;
	void *settings;
	const char *file;
	yaml_document_t *doc;
	struct conf_errors *errors;
};

void conf_defaults(const struct conf_key *keys, void *settings);
/* Loads FILE over settings. Returns the number of errors found (0 = OK). */
int conf_load_file(const struct conf_key *keys, const struct conf_section *sections,
    void *settings, const char *file, struct conf_errors *errors);
/* Applies PGMCP_<PATH> environment variables (dots become underscores, upper case). */
int conf_load_env(const struct conf_key *keys, void *settings, struct conf_errors *errors);
/* Sets one key from text; origin names where the text came from in error messages. */
int conf_set(const struct conf_key *keys, void *settings, const char *path, const char *value,
    const char *origin, struct conf_errors *errors);
const struct conf_key *conf_find(const struct conf_key *keys, const char *path);
void conf_free(const struct conf_key *keys, void *settings);
void conf_errors_free(struct conf_errors *errors);

/* Helpers for section handlers. */
void conf_error_at(struct conf_ctx *ctx, yaml_node_t *node, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* The scalar's text with ${VAR} expanded (caller frees), or NULL after reporting an error. */
char *conf_scalar(struct conf_ctx *ctx, yaml_node_t *node, const char *key);
const char *conf_key_text(struct conf_ctx *ctx, yaml_node_pair_t *pair);
yaml_node_t *conf_node(struct conf_ctx *ctx, int index);
/* Expands ${VAR} and ${VAR:-default}; returns NULL and sets *err for an unset variable. */
char *conf_expand_env(const char *text, char *err, size_t errcap);

#endif
