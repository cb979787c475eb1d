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

#endif
