/*
 * policy.h: column policies. A denied column may not be referenced at all; a masked column
 * may leave the server only as a plain output column, where its value is replaced. Checked
 * on PostgreSQL's parse tree before a statement runs, and on the result's source columns
 * (PQftable/PQftablecol) as rows arrive.
 */
#ifndef PGMCP_POLICY_H
#define PGMCP_POLICY_H

#include <stdbool.h>
#include <stddef.h>

#include "conf.h"

struct policy {
	char *schema;		/* "public" when the file gives no schema */
	char *table;
	char **deny;
	size_t n_deny;
	char **mask;
	size_t n_mask;
	char *mask_with;	/* replacement text; default "[masked]" */
};

struct policies {
	struct policy *p;
	size_t n;
};

void policy_section(struct conf_ctx *ctx, yaml_node_t *node, struct policies *ps);
void policies_free(struct policies *ps);

/*
 * The process-wide policies the guard applies, and the views that read policy tables
 * (learnt from the catalog once connected: a view can rename and compute, so it is refused).
 */
void policy_install(const struct policies *ps);
void policy_set_views(char **views, size_t n);	/* "schema.view" strings; takes ownership */
bool policy_active(void);
/* Checks a libpg_query JSON parse tree; false with a reason when the statement breaks a policy. */
bool policy_check_tree(const char *tree, char *why, size_t cap);

/*
 * Inheritance children and partitions (at any depth) of policy tables, learnt from the catalog
 * once connected: each carries its ancestor's deny and mask lists under its own name, so
 * naming the child directly is checked like naming the parent. policy is the index of the
 * ancestor's entry in the installed policies; installing other policies forgets them.
 */
struct policy_child {
	char *schema;
	char *table;
	size_t policy;
};

void policy_set_children(struct policy_child *c, size_t n);	/* takes ownership */

/*
 * Declarations in the file are checked against the policies of the same file once the whole
 * file is read (the sections may come in any order): policy_section remembers the policies it
 * filled, and policy_take_loaded hands them out once and forgets them (NULL when the file had
 * no policies: section).
 */
const struct policies *policy_take_loaded(void);
/*
 * Checks one SQL text against ps, parsing it here rather than through the guard: for
 * declarations at load time, before the policies are installed and before the views and
 * children that reading them needs are known (those are checked again when the SQL runs).
 * A text that does not parse passes: the guard reports syntax errors.
 */
bool policy_check_sql(const struct policies *ps, const char *sql, char *why, size_t cap);
/*
 * For a statement the guard passed before the connection taught us the children and views:
 * false (and why) when it breaks the installed policies only through those learnt names.
 * Statements that break them anyway are left to the guard, which sees them first.
 */
bool policy_check_learnt(const char *sql, char *why, size_t cap);

#endif
