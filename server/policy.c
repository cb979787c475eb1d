/* policy.c: column policies: configuration, the parse-tree check, and process-wide state. */
#include "policy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json.h>

#include "guard.h"
#include "log.h"
#include "util.h"

#define GROW(arr, n) do { \
	(arr) = realloc((arr), ((n) + 1) * sizeof(*(arr))); \
	if ((arr) == NULL) fatalx("out of memory"); \
} while (0)

static const struct policies *installed;
static char **views;
static size_t n_views;

static void
string_list(struct conf_ctx *ctx, yaml_node_t *n, const char *path, char ***out, size_t *count)
{
	if (n->type != YAML_SEQUENCE_NODE) {
		conf_error_at(ctx, n, path, "expected a list of column names");
		return;
	}
	for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++) {
		char *v = conf_scalar(ctx, conf_node(ctx, *it), path);

		if (v == NULL)
			continue;
		GROW(*out, *count);
		(*out)[(*count)++] = v;
	}
}

void
policy_section(struct conf_ctx *ctx, yaml_node_t *node, struct policies *ps)
{
	if (node->type == YAML_SCALAR_NODE && node->data.scalar.length == 0)
		return;
	if (node->type != YAML_SEQUENCE_NODE) {
		conf_error_at(ctx, node, "policies", "expected a list of { table, deny, mask }");
		return;
	}
	for (yaml_node_item_t *it = node->data.sequence.items.start; it < node->data.sequence.items.top;
	    it++) {
		yaml_node_t *n = conf_node(ctx, *it);
		struct policy *p;
		char path[300];

		if (n->type != YAML_MAPPING_NODE) {
			conf_error_at(ctx, n, "policies", "each policy is a mapping: table, deny, mask");
			continue;
		}
		GROW(ps->p, ps->n);
		p = &ps->p[ps->n++];
		memset(p, 0, sizeof(*p));
		for (yaml_node_pair_t *q = n->data.mapping.pairs.start; q < n->data.mapping.pairs.top; q++) {
			const char *key = conf_key_text(ctx, q);
			yaml_node_t *v = conf_node(ctx, q->value);

			snprintf(path, sizeof(path), "policies.%s", key ? key : "?");
			if (key != NULL && strcmp(key, "table") == 0) {
				char *t = conf_scalar(ctx, v, path);
				char *dot = t ? strchr(t, '.') : NULL;

				if (t == NULL)
					continue;
				free(p->schema);	/* a repeated key: the last one wins */
				free(p->table);
				p->schema = xstrdup(dot ? t : "public");
				if (dot) {
					p->schema[dot - t] = '\0';
					p->table = xstrdup(dot + 1);
				} else {
					p->table = xstrdup(t);
				}
				free(t);
			} else if (key != NULL && strcmp(key, "deny") == 0) {
				string_list(ctx, v, path, &p->deny, &p->n_deny);
			} else if (key != NULL && strcmp(key, "mask") == 0) {
				string_list(ctx, v, path, &p->mask, &p->n_mask);
			} else if (key != NULL && strcmp(key, "mask_with") == 0) {
				free(p->mask_with);
				p->mask_with = conf_scalar(ctx, v, path);
			} else {
				conf_error_at(ctx, conf_node(ctx, q->key), path, "unknown setting (a policy takes: "
				    "table, deny, mask, mask_with)");
			}
		}
		if (p->table == NULL)
			conf_error_at(ctx, n, "policies", "a policy needs table: schema.table");
		if (p->n_deny + p->n_mask == 0)
			conf_error_at(ctx, n, "policies", "a policy needs deny: or mask: columns");
		if (p->mask_with == NULL)
			p->mask_with = xstrdup("[masked]");
	}
}

static void
free_list(char **l, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(l[i]);
	free(l);
}

void
policies_free(struct policies *ps)
{
	for (size_t i = 0; i < ps->n; i++) {
		free(ps->p[i].schema);
		free(ps->p[i].table);
		free(ps->p[i].mask_with);
		free_list(ps->p[i].deny, ps->p[i].n_deny);
		free_list(ps->p[i].mask, ps->p[i].n_mask);
	}
	free(ps->p);
	memset(ps, 0, sizeof(*ps));
	if (installed == ps)
		installed = NULL;
}

void
policy_install(const struct policies *ps)
{
	installed = ps != NULL && ps->n > 0 ? ps : NULL;
	guard_cache_clear();	/* verdicts depend on the policies */
}

void
policy_set_views(char **v, size_t n)
{
	free_list(views, n_views);
	views = v;
	n_views = n;
	guard_cache_clear();
}

bool
policy_active(void)
{
	return installed != NULL;
}

/* What a statement touches: relations (with aliases), column references, stars. */
struct rel {
	const char *schema, *name, *alias;
};

struct ref {
	const char *fields[8];
	int n;
	bool star;
	bool top;	/* a plain output column of the outermost SELECT */
};

struct scan {
	struct rel rels[128];
	int n_rels;
	struct ref refs[512];
	int n_refs;
	bool overflow;
};

static const char *
sval(struct json_object *string_node)
{
	struct json_object *s, *v;

	if (json_object_object_get_ex(string_node, "String", &s) &&
	    json_object_object_get_ex(s, "sval", &v))
		return json_object_get_string(v);
	return NULL;
}

static void
record_ref(struct scan *sc, struct json_object *colref, bool top)
{
	struct json_object *fields;
	struct ref *r;

	if (sc->n_refs >= 512) {
		sc->overflow = true;
		return;
	}
	r = &sc->refs[sc->n_refs++];
	memset(r, 0, sizeof(*r));
	r->top = top;
	if (!json_object_object_get_ex(colref, "fields", &fields))
		return;
	for (size_t i = 0; i < json_object_array_length(fields) && r->n < 8; i++) {
		struct json_object *f = json_object_array_get_idx(fields, i);

		if (json_object_object_get_ex(f, "A_Star", NULL))
			r->star = true;
		else if (sval(f) != NULL)
			r->fields[r->n++] = sval(f);
	}
}

static void walk(struct scan *sc, struct json_object *node, int select_depth, int depth);

/* The target list of the outermost SELECT: plain column references there are traceable. */
static void
walk_top_targets(struct scan *sc, struct json_object *list, int select_depth, int depth)
{
	for (size_t i = 0; i < json_object_array_length(list); i++) {
		struct json_object *rt, *val, *cr;

		if (json_object_object_get_ex(json_object_array_get_idx(list, i), "ResTarget", &rt) &&
		    json_object_object_get_ex(rt, "val", &val) &&
		    json_object_object_get_ex(val, "ColumnRef", &cr)) {
			record_ref(sc, cr, true);
			continue;
		}
		walk(sc, json_object_array_get_idx(list, i), select_depth, depth + 1);
	}
}

static void
walk(struct scan *sc, struct json_object *node, int select_depth, int depth)
{
	if (depth > 2000) {
		sc->overflow = true;
		return;
	}
	if (json_object_is_type(node, json_type_array)) {
		for (size_t i = 0; i < json_object_array_length(node); i++)
			walk(sc, json_object_array_get_idx(node, i), select_depth, depth + 1);
		return;
	}
	if (!json_object_is_type(node, json_type_object))
		return;
	json_object_object_foreach(node, key, val) {
		if (strcmp(key, "SelectStmt") == 0) {
			json_object_object_foreach(val, k2, v2) {
				if (strcmp(k2, "targetList") == 0 && select_depth == 0)
					walk_top_targets(sc, v2, select_depth + 1, depth + 1);
				else
					walk(sc, v2, select_depth + 1, depth + 1);
			}
		} else if (strcmp(key, "RangeVar") == 0) {
			struct json_object *v, *alias, *an;

			if (sc->n_rels < 128) {
				struct rel *r = &sc->rels[sc->n_rels++];

				r->schema = json_object_object_get_ex(val, "schemaname", &v) ?
				    json_object_get_string(v) : NULL;
				r->name = json_object_object_get_ex(val, "relname", &v) ?
				    json_object_get_string(v) : "";
				r->alias = json_object_object_get_ex(val, "alias", &alias) &&
				    json_object_object_get_ex(alias, "aliasname", &an) ?
				    json_object_get_string(an) : NULL;
			} else {
				sc->overflow = true;
			}
		} else if (strcmp(key, "ColumnRef") == 0) {
			record_ref(sc, val, false);
		} else {
			walk(sc, val, select_depth, depth + 1);
		}
	}
}

static bool
in_list(char **list, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(list[i], s) == 0)
			return true;
	return false;
}

bool
policy_check_tree(const char *tree, char *why, size_t cap)
{
	struct json_tokener *tok;
	struct json_object *root;
	struct scan *sc;
	bool ok = true;

	if (installed == NULL)
		return true;
	tok = json_tokener_new_ex(2100);
	root = json_tokener_parse_ex(tok, tree, (int)strlen(tree));
	json_tokener_free(tok);
	if (root == NULL) {
		snprintf(why, cap, "the statement is too complex to check against column policies");
		return false;
	}
	sc = xcalloc(1, sizeof(*sc));
	walk(sc, root, 0, 0);
	if (sc->overflow) {
		snprintf(why, cap, "the statement is too complex to check against column policies");
		ok = false;
		goto out;
	}
	for (int r = 0; r < sc->n_rels && ok; r++) {
		const struct rel *rel = &sc->rels[r];

		for (size_t v = 0; v < n_views; v++) {
			char full[300];

			snprintf(full, sizeof(full), "%s.%s", rel->schema ? rel->schema : "", rel->name);
			if ((rel->schema && strcmp(views[v], full) == 0) ||
			    (!rel->schema && strcmp(strchr(views[v], '.') + 1, rel->name) == 0)) {
				snprintf(why, cap, "view %s reads a table with column policies; query the "
				    "table itself", views[v]);
				ok = false;
				break;
			}
		}
		for (size_t p = 0; p < installed->n && ok; p++) {
			const struct policy *pol = &installed->p[p];

			if (strcmp(rel->name, pol->table) != 0 ||
			    (rel->schema != NULL && strcmp(rel->schema, pol->schema) != 0))
				continue;
			/* The statement reads a policy table: every column reference must comply. */
			for (int i = 0; i < sc->n_refs && ok; i++) {
				const struct ref *f = &sc->refs[i];
				const char *last = f->n > 0 ? f->fields[f->n - 1] : NULL;
				bool whole_row = f->n == 1 && !f->star &&
				    (strcmp(last, pol->table) == 0 || (rel->alias && strcmp(last, rel->alias) == 0));

				if (f->star && pol->n_deny > 0) {
					snprintf(why, cap, "* would include denied columns of %s.%s; name the "
					    "columns you need", pol->schema, pol->table);
					ok = false;
				} else if (f->star && pol->n_mask > 0 && !f->top) {
					snprintf(why, cap, "%s.%s has masked columns: * is allowed only in the "
					    "outermost select list", pol->schema, pol->table);
					ok = false;
				} else if (whole_row) {
					snprintf(why, cap, "%s refers to whole rows of %s.%s, which has column "
					    "policies", last, pol->schema, pol->table);
					ok = false;
				} else if (last != NULL && in_list(pol->deny, pol->n_deny, last)) {
					snprintf(why, cap, "column %s of %s.%s is denied by policy", last,
					    pol->schema, pol->table);
					ok = false;
				} else if (last != NULL && !f->top && in_list(pol->mask, pol->n_mask, last)) {
					snprintf(why, cap, "column %s of %s.%s is masked: it may appear only as a "
					    "plain column of the outermost select list, not in expressions, "
					    "conditions, ordering or subqueries", last, pol->schema, pol->table);
					ok = false;
				}
			}
		}
	}
out:
	free(sc);
	json_object_put(root);
	return ok;
}
