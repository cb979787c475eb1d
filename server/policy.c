/* policy.c: column policies: configuration, the parse-tree check, and process-wide state. */
#include "policy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json.h>
#include <pg_query.h>

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
static struct policy_child *children;
static size_t n_children;
static const struct policies *loaded;	/* filled by policy_section, not yet checked against */

/*
 * What one check applies: the policies, and (once connected) the views that read policy
 * tables and the children that inherit a policy. Entry i < ps->n is a configured policy; the
 * entries after it are children, each a copy of its ancestor's lists under the child's name.
 */
struct pset {
	const struct policies *ps;
	const struct policy_child *kids;
	size_t n_kids;
	char *const *views;
	size_t n_views;
};

static size_t
pset_count(const struct pset *set)
{
	return set->ps->n + set->n_kids;
}

static bool
pset_get(const struct pset *set, size_t i, struct policy *out)
{
	const struct policy_child *k;

	if (i < set->ps->n) {
		*out = set->ps->p[i];
		return true;
	}
	k = &set->kids[i - set->ps->n];
	if (k->policy >= set->ps->n)
		return false;
	*out = set->ps->p[k->policy];
	out->schema = k->schema;
	out->table = k->table;
	return true;
}

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
	loaded = ps;
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
		policy_install(NULL);
	if (loaded == ps)
		loaded = NULL;
}

static void
free_children(void)
{
	for (size_t i = 0; i < n_children; i++) {
		free(children[i].schema);
		free(children[i].table);
	}
	free(children);
	children = NULL;
	n_children = 0;
}

void
policy_install(const struct policies *ps)
{
	const struct policies *next = ps != NULL && ps->n > 0 ? ps : NULL;

	if (next != installed)
		free_children();	/* their indexes name entries of the old policies */
	installed = next;
	guard_cache_clear();	/* verdicts depend on the policies */
}

void
policy_set_children(struct policy_child *c, size_t n)
{
	free_children();
	children = c;
	n_children = n;
	guard_cache_clear();
}

const struct policies *
policy_take_loaded(void)
{
	const struct policies *ps = loaded;

	loaded = NULL;
	return ps;
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

/*
 * Relations that show column values of every table (sample values, most common values,
 * histograms), and functions that read whole tables by name: the parser cannot see which
 * columns they expose, so with policies in force they are refused outright.
 */
static const char *const value_relations[] = {
	"pg_stats", "pg_statistic", "pg_stats_ext", "pg_stats_ext_exprs", "pg_statistic_ext_data",
	NULL,
};
static const char *const table_functions[] = {
	"table_to_xml", "table_to_xml_and_xmlschema", "schema_to_xml",
	"schema_to_xml_and_xmlschema", "database_to_xml", "database_to_xml_and_xmlschema",
	"query_to_xml", "query_to_xml_and_xmlschema", "cursor_to_xml", "pg_mcv_list_items",
	NULL,
};

#define MAX_RELS 128
#define MAX_REFS 1024
#define MAX_NAMES 256
#define MAX_TARGETS 512

/* What a statement touches: relations (with aliases), column references, stars. */
struct rel {
	const char *schema, *name, *alias;
	bool colnames;		/* FROM t AS a (x, y): columns renamed without naming them */
};

struct ref {
	const char *fields[8];
	int n;
	bool star;
	bool top;		/* a plain output column of the outermost SELECT */
	int target;		/* its position in that select list (1-based), when top */
};

struct scan {
	struct rel rels[MAX_RELS];
	int n_rels;
	struct ref refs[MAX_REFS];
	int n_refs;
	/* names of joins (FROM (a JOIN b) AS j): j is a whole row of both sides */
	const char *join_aliases[MAX_NAMES];
	int n_join_aliases;
	bool join_colnames;	/* a join alias renames columns */
	bool natural;		/* NATURAL JOIN compares columns that are never named */
	const char *funcs[MAX_NAMES];
	int n_funcs;
	/* the outermost SELECT: aliases of its output columns, and what its ORDER BY, GROUP BY
	 * and DISTINCT refer to by position or by output name */
	const char *target_alias[MAX_TARGETS];
	int n_targets;
	int ordinals[MAX_NAMES];
	int n_ordinals;
	const char *out_names[MAX_NAMES];
	int n_out_names;
	bool distinct_all;
	bool overflow;
	const struct pset *set;	/* what the statement is checked against */
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

static struct ref *
new_ref(struct scan *sc)
{
	struct ref *r;

	if (sc->n_refs >= MAX_REFS) {
		sc->overflow = true;
		return NULL;
	}
	r = &sc->refs[sc->n_refs++];
	memset(r, 0, sizeof(*r));
	return r;
}

static void
record_ref(struct scan *sc, struct json_object *colref, int target)
{
	struct json_object *fields;
	struct ref *r = new_ref(sc);

	if (r == NULL)
		return;
	r->top = target > 0;
	r->target = target;
	if (!json_object_object_get_ex(colref, "fields", &fields))
		return;
	for (size_t i = 0; i < json_object_array_length(fields); i++) {
		struct json_object *f = json_object_array_get_idx(fields, i);

		if (json_object_object_get_ex(f, "A_Star", NULL))
			r->star = true;
		else if (sval(f) != NULL && r->n < 8)
			r->fields[r->n++] = sval(f);
		else if (sval(f) != NULL)
			sc->overflow = true;
	}
}

/* A column named without a ColumnRef (USING lists, SET and INSERT column lists, ON CONFLICT). */
static void
record_name(struct scan *sc, const char *name)
{
	struct ref *r;

	if (name == NULL || (r = new_ref(sc)) == NULL)
		return;
	r->fields[0] = name;
	r->n = 1;
}

static void
push_name(struct scan *sc, const char **list, int *n, const char *name)
{
	if (*n >= MAX_NAMES) {
		sc->overflow = true;
		return;
	}
	list[(*n)++] = name;
}

static void walk(struct scan *sc, struct json_object *node, int select_depth, int depth);

/* Integer constants and bare names in the outermost ORDER BY / GROUP BY / DISTINCT ON. */
static void
collect_output_refs(struct scan *sc, struct json_object *node, int depth)
{
	if (depth > 200) {
		sc->overflow = true;
		return;
	}
	if (json_object_is_type(node, json_type_array)) {
		for (size_t i = 0; i < json_object_array_length(node); i++)
			collect_output_refs(sc, json_object_array_get_idx(node, i), depth + 1);
		return;
	}
	if (!json_object_is_type(node, json_type_object))
		return;
	json_object_object_foreach(node, key, val) {
		struct json_object *iv, *fields;

		if (strcmp(key, "A_Const") == 0 && json_object_object_get_ex(val, "ival", &iv)) {
			struct json_object *n;
			int k = json_object_object_get_ex(iv, "ival", &n) ? json_object_get_int(n) : 0;

			if (sc->n_ordinals < MAX_NAMES)
				sc->ordinals[sc->n_ordinals++] = k;
			else
				sc->overflow = true;
		} else if (strcmp(key, "ColumnRef") == 0 &&
		    json_object_object_get_ex(val, "fields", &fields) &&
		    json_object_array_length(fields) == 1 &&
		    sval(json_object_array_get_idx(fields, 0)) != NULL) {
			push_name(sc, sc->out_names, &sc->n_out_names,
			    sval(json_object_array_get_idx(fields, 0)));
		} else {
			collect_output_refs(sc, val, depth + 1);
		}
	}
}

/* A select list item's expression, without its alias (an alias names no table column). */
static void
walk_target(struct scan *sc, struct json_object *item, int select_depth, int depth)
{
	struct json_object *rt;

	if (!json_object_object_get_ex(item, "ResTarget", &rt)) {
		walk(sc, item, select_depth, depth + 1);
		return;
	}
	json_object_object_foreach(rt, key, val) {
		if (strcmp(key, "name") != 0)
			walk(sc, val, select_depth, depth + 1);
	}
}

/* The target list of the outermost SELECT: plain column references there are traceable. */
static void
walk_top_targets(struct scan *sc, struct json_object *list, int select_depth, int depth)
{
	for (size_t i = 0; i < json_object_array_length(list); i++) {
		struct json_object *item = json_object_array_get_idx(list, i);
		struct json_object *rt, *val, *cr, *name;
		int pos = (int)i + 1;

		if (pos < MAX_TARGETS && json_object_object_get_ex(item, "ResTarget", &rt) &&
		    json_object_object_get_ex(rt, "val", &val) &&
		    json_object_object_get_ex(val, "ColumnRef", &cr)) {
			sc->target_alias[pos] = json_object_object_get_ex(rt, "name", &name) ?
			    json_object_get_string(name) : NULL;
			if (pos >= sc->n_targets)
				sc->n_targets = pos + 1;
			record_ref(sc, cr, pos);
			continue;
		}
		walk_target(sc, item, select_depth, depth + 1);
	}
}

static void
walk_select(struct scan *sc, struct json_object *sel, int select_depth, int depth)
{
	json_object_object_foreach(sel, key, val) {
		if (strcmp(key, "targetList") == 0) {
			if (select_depth == 0) {
				walk_top_targets(sc, val, select_depth + 1, depth + 1);
			} else {
				for (size_t i = 0; i < json_object_array_length(val); i++)
					walk_target(sc, json_object_array_get_idx(val, i), select_depth + 1,
					    depth + 1);
			}
			continue;
		}
		if (select_depth == 0 && (strcmp(key, "sortClause") == 0 ||
		    strcmp(key, "groupClause") == 0 || strcmp(key, "distinctClause") == 0)) {
			collect_output_refs(sc, val, depth + 1);
			if (strcmp(key, "distinctClause") == 0) {
				/* plain DISTINCT is a list with one empty node: it compares every column */
				for (size_t i = 0; i < json_object_array_length(val); i++) {
					struct json_object *d = json_object_array_get_idx(val, i);

					if (json_object_is_type(d, json_type_object) &&
					    json_object_object_length(d) == 0)
						sc->distinct_all = true;
				}
			}
		}
		walk(sc, val, select_depth + 1, depth + 1);
	}
}

static void
walk_range_var(struct scan *sc, struct json_object *val)
{
	struct json_object *v, *alias, *an;
	struct rel *r;

	if (sc->n_rels >= MAX_RELS) {
		sc->overflow = true;
		return;
	}
	r = &sc->rels[sc->n_rels++];
	r->schema = json_object_object_get_ex(val, "schemaname", &v) ? json_object_get_string(v) : NULL;
	r->name = json_object_object_get_ex(val, "relname", &v) ? json_object_get_string(v) : "";
	r->alias = NULL;
	r->colnames = false;
	if (json_object_object_get_ex(val, "alias", &alias)) {
		if (json_object_object_get_ex(alias, "aliasname", &an))
			r->alias = json_object_get_string(an);
		r->colnames = json_object_object_get_ex(alias, "colnames", NULL);
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
	if (json_object_object_get_ex(node, "relname", NULL) &&
	    json_object_object_get_ex(node, "relpersistence", NULL)) {
		/* A RangeVar in a field typed RangeVar (the target of INSERT, UPDATE, DELETE,
		 * MERGE, COPY, ALTER ...) comes without its node name. */
		walk_range_var(sc, node);
		return;
	}
	json_object_object_foreach(node, key, val) {
		struct json_object *v, *alias, *an;

		if (strcmp(key, "SelectStmt") == 0) {
			walk_select(sc, val, select_depth, depth + 1);
		} else if (strcmp(key, "RangeVar") == 0) {
			walk_range_var(sc, val);
		} else if (strcmp(key, "ColumnRef") == 0) {
			record_ref(sc, val, 0);
		} else {
			if (strcmp(key, "JoinExpr") == 0) {
				if (json_object_object_get_ex(val, "isNatural", &v) && json_object_get_boolean(v))
					sc->natural = true;
				if (json_object_object_get_ex(val, "alias", &alias)) {
					if (json_object_object_get_ex(alias, "aliasname", &an))
						push_name(sc, sc->join_aliases, &sc->n_join_aliases,
						    json_object_get_string(an));
					if (json_object_object_get_ex(alias, "colnames", NULL))
						sc->join_colnames = true;
				}
				if (json_object_object_get_ex(val, "usingClause", &v))
					for (size_t i = 0; i < json_object_array_length(v); i++)
						record_name(sc, sval(json_object_array_get_idx(v, i)));
			} else if (strcmp(key, "ResTarget") == 0 &&
			    json_object_object_get_ex(val, "name", &v)) {
				/*
				 * Outside a select list (walk_select skips those aliases) a ResTarget names a
				 * column of the table written to: INSERT columns, UPDATE SET, MERGE, ON
				 * CONFLICT DO UPDATE. RETURNING aliases come here too, which only refuses more.
				 */
				record_name(sc, json_object_get_string(v));
			} else if (strcmp(key, "IndexElem") == 0 &&
			    json_object_object_get_ex(val, "name", &v)) {
				record_name(sc, json_object_get_string(v));
			} else if (strcmp(key, "FuncCall") == 0 &&
			    json_object_object_get_ex(val, "funcname", &v) &&
			    json_object_array_length(v) > 0) {
				const char *fn = sval(json_object_array_get_idx(v,
				    json_object_array_length(v) - 1));

				if (fn != NULL)
					push_name(sc, sc->funcs, &sc->n_funcs, fn);
			}
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

static bool
in_names(const char *const *list, int n, const char *s)
{
	for (int i = 0; i < n; i++)
		if (list[i] != NULL && strcmp(list[i], s) == 0)
			return true;
	return false;
}

static bool
in_const_list(const char *const *list, const char *s)
{
	for (; *list != NULL; list++)
		if (strcmp(*list, s) == 0)
			return true;
	return false;
}

static bool
rel_is(const struct rel *rel, const struct policy *pol)
{
	/* A policy without a table is a configuration error reported elsewhere; it matches none. */
	return pol->table != NULL && strcmp(rel->name, pol->table) == 0 &&
	    (rel->schema == NULL || (pol->schema != NULL && strcmp(rel->schema, pol->schema) == 0));
}

/* The name a FROM item goes by in column references: its alias, else its table name. */
static const char *
rel_ref_name(const struct rel *rel)
{
	return rel->alias != NULL ? rel->alias : rel->name;
}

/* Is name the alias or name of a relation under policy (or a join, which may contain one)? */
static bool
names_policy_row(const struct scan *sc, const char *name)
{
	for (int r = 0; r < sc->n_rels; r++) {
		for (size_t p = 0; p < pset_count(sc->set); p++) {
			struct policy pol;

			if (pset_get(sc->set, p, &pol) && rel_is(&sc->rels[r], &pol) &&
			    (strcmp(name, rel_ref_name(&sc->rels[r])) == 0 ||
			    strcmp(name, sc->rels[r].name) == 0))
				return true;
		}
	}
	return in_names(sc->join_aliases, sc->n_join_aliases, name);
}

/* One column reference of a statement that reads pol's table: false (and why) if it breaks it. */
static bool
check_ref(const struct scan *sc, const struct ref *f, const struct policy *pol, char *why,
    size_t cap)
{
	const char *last = f->n > 0 ? f->fields[f->n - 1] : NULL;

	if (f->star) {
		/* t.* of a relation that is not under policy (nor a join) is fine */
		if (f->n > 0 && !names_policy_row(sc, last))
			return true;
		if (pol->n_deny > 0) {
			snprintf(why, cap, "* would include denied columns of %s.%s; name the columns "
			    "you need", pol->schema, pol->table);
			return false;
		}
		if (!f->top) {
			snprintf(why, cap, "%s.%s has masked columns: * is allowed only in the outermost "
			    "select list", pol->schema, pol->table);
			return false;
		}
		return true;
	}
	if (last != NULL && names_policy_row(sc, last)) {
		snprintf(why, cap, "%s refers to whole rows of %s.%s, which has column policies; name "
		    "the columns you need", last, pol->schema, pol->table);
		return false;
	}
	for (int i = 0; i < f->n; i++) {
		if (in_list(pol->deny, pol->n_deny, f->fields[i])) {
			snprintf(why, cap, "column %s of %s.%s is denied by policy", f->fields[i],
			    pol->schema, pol->table);
			return false;
		}
		if (in_list(pol->mask, pol->n_mask, f->fields[i]) && (!f->top || i != f->n - 1)) {
			snprintf(why, cap, "column %s of %s.%s is masked: it may appear only as a plain "
			    "column of the outermost select list, not in expressions, conditions, "
			    "ordering, grouping, joins or subqueries", f->fields[i], pol->schema,
			    pol->table);
			return false;
		}
	}
	if (f->top && last != NULL && in_list(pol->mask, pol->n_mask, last)) {
		/* A plain masked output column: nothing may sort, group or de-duplicate on it. */
		const char *alias = f->target < MAX_TARGETS ? sc->target_alias[f->target] : NULL;
		bool used = sc->distinct_all;

		for (int k = 0; k < sc->n_ordinals; k++)
			used = used || sc->ordinals[k] == f->target;
		used = used || in_names(sc->out_names, sc->n_out_names, alias ? alias : last);
		if (used) {
			snprintf(why, cap, "column %s of %s.%s is masked: the result may not be sorted, "
			    "grouped or made distinct by it", last, pol->schema, pol->table);
			return false;
		}
	}
	return true;
}

/*
 * Statements that store code the parser cannot see into (function bodies, triggers, rules) or
 * rename objects (a renamed column or table would slip out from under its policy).
 */
static const char *const opaque_stmts[] = {
	"CreateFunctionStmt", "CreateTrigStmt", "RuleStmt", "CreateEventTrigStmt", "RenameStmt",
	"AlterObjectSchemaStmt", "AlterFunctionStmt", "CreateCastStmt", "DefineStmt",
	"CreateOpClassStmt", "CreateConversionStmt", "CreateTransformStmt", "CreatePLangStmt",
	"AlterExtensionContentsStmt", "CreateExtensionStmt", "AlterExtensionStmt",
	NULL,
};

/* Statements whose output rows a policy can follow, and which may therefore read policy tables. */
static const char *const reading_stmts[] = {
	"SelectStmt", "ExplainStmt", "InsertStmt", "UpdateStmt", "DeleteStmt", "MergeStmt",
	"VariableShowStmt",
	NULL,
};

/* The statement kind at the top of the tree ("SelectStmt", ...), and for EXPLAIN the kind inside. */
static const char *
top_kind(struct json_object *root, bool explain_inner)
{
	struct json_object *stmts, *raw, *q;

	if (!json_object_object_get_ex(root, "stmts", &stmts) ||
	    json_object_array_length(stmts) != 1 ||
	    !json_object_object_get_ex(json_object_array_get_idx(stmts, 0), "stmt", &raw))
		return "";
	json_object_object_foreach(raw, k, v) {
		if (explain_inner && strcmp(k, "ExplainStmt") == 0 &&
		    json_object_object_get_ex(v, "query", &q)) {
			json_object_object_foreach(q, k2, v2) {
				(void)v2;
				return strcmp(k2, "SelectStmt") == 0 ? "SelectStmt" : k;
			}
		}
		return k;
	}
	return "";
}

static bool
check_tree(const struct pset *set, const char *tree, char *why, size_t cap)
{
	struct json_tokener *tok;
	struct json_object *root;
	struct scan *sc;
	bool ok = true, reads_policy_table = false;
	const char *kind;

	tok = json_tokener_new_ex(2100);
	root = json_tokener_parse_ex(tok, tree, (int)strlen(tree));
	json_tokener_free(tok);
	if (root == NULL) {
		snprintf(why, cap, "the statement is too complex to check against column policies");
		return false;
	}
	sc = xcalloc(1, sizeof(*sc));
	sc->set = set;
	/*
	 * Only the result rows of a SELECT are masked as they leave: in any other statement
	 * (INSERT ... SELECT, CREATE TABLE AS, CREATE VIEW, COPY, ...) a masked column would be
	 * stored or used unmasked, so there is no "outermost select list" to allow it in.
	 */
	kind = top_kind(root, true);
	walk(sc, root, strcmp(kind, "SelectStmt") == 0 ? 0 : 1, 0);
	kind = top_kind(root, false);
	if (in_const_list(opaque_stmts, kind)) {
		snprintf(why, cap, "with column policies configured, statements that store code or "
		    "rename objects are not allowed");
		ok = false;
		goto out;
	}
	if (sc->overflow) {
		snprintf(why, cap, "the statement is too complex to check against column policies");
		ok = false;
		goto out;
	}
	for (int r = 0; r < sc->n_rels && ok; r++) {
		const struct rel *rel = &sc->rels[r];

		if (in_const_list(value_relations, rel->name) &&
		    (rel->schema == NULL || strcmp(rel->schema, "pg_catalog") == 0)) {
			snprintf(why, cap, "%s shows sample values of table columns; it is not available "
			    "while column policies are configured", rel->name);
			ok = false;
			break;
		}
		for (size_t v = 0; v < set->n_views; v++) {
			const char *view = set->views[v];
			char full[300];

			snprintf(full, sizeof(full), "%s.%s", rel->schema ? rel->schema : "", rel->name);
			if ((rel->schema && strcmp(view, full) == 0) ||
			    (!rel->schema && strcmp(strchr(view, '.') + 1, rel->name) == 0)) {
				snprintf(why, cap, "view %s reads a table with column policies; query the "
				    "table itself", view);
				ok = false;
				break;
			}
		}
		for (size_t p = 0; p < pset_count(set) && ok; p++) {
			struct policy polv;
			const struct policy *pol = &polv;

			if (!pset_get(set, p, &polv) || !rel_is(rel, pol))
				continue;
			reads_policy_table = true;
			if (rel->colnames) {
				snprintf(why, cap, "%s.%s has column policies: its columns may not be renamed "
				    "with a column alias list (AS %s (...))", pol->schema, pol->table,
				    rel_ref_name(rel));
				ok = false;
				break;
			}
			/* The statement reads a policy table: every column reference must comply. */
			for (int i = 0; i < sc->n_refs && ok; i++)
				ok = check_ref(sc, &sc->refs[i], pol, why, cap);
			/* Function-call notation: email(t) is t.email. */
			for (int i = 0; i < sc->n_funcs && ok; i++) {
				if (in_list(pol->deny, pol->n_deny, sc->funcs[i]) ||
				    in_list(pol->mask, pol->n_mask, sc->funcs[i])) {
					snprintf(why, cap, "%s(...) may select column %s of %s.%s, which has a "
					    "column policy", sc->funcs[i], sc->funcs[i], pol->schema, pol->table);
					ok = false;
				}
			}
		}
	}
	if (ok && reads_policy_table) {
		if (!in_const_list(reading_stmts, kind)) {
			snprintf(why, cap, "only SELECT, INSERT, UPDATE, DELETE and MERGE may use a table "
			    "with column policies");
			ok = false;
		} else if (sc->natural) {
			snprintf(why, cap, "NATURAL JOIN compares columns without naming them; with column "
			    "policies, join with ON or USING");
			ok = false;
		} else if (sc->join_colnames) {
			snprintf(why, cap, "a join alias with a column list renames columns of a table "
			    "with column policies");
			ok = false;
		}
	}
	for (int i = 0; i < sc->n_funcs && ok; i++) {
		if (in_const_list(table_functions, sc->funcs[i])) {
			snprintf(why, cap, "%s() reads whole tables by name; it is not available while "
			    "column policies are configured", sc->funcs[i]);
			ok = false;
		}
	}
out:
	free(sc);
	json_object_put(root);
	return ok;
}

bool
policy_check_tree(const char *tree, char *why, size_t cap)
{
	struct pset set = { installed, children, n_children, views, n_views };

	if (installed == NULL)
		return true;
	return check_tree(&set, tree, why, cap);
}

static bool
check_sql(const struct pset *with, const struct pset *without, const char *sql, char *why,
    size_t cap)
{
	PgQueryParseResult r;
	bool ok = true;
	char ignored[320];

	r = pg_query_parse(sql);
	if (r.error == NULL && r.parse_tree != NULL) {
		ok = check_tree(with, r.parse_tree, why, cap);
		if (!ok && without != NULL)
			ok = !check_tree(without, r.parse_tree, ignored, sizeof(ignored));
	}
	pg_query_free_parse_result(r);
	return ok;
}

bool
policy_check_sql(const struct policies *ps, const char *sql, char *why, size_t cap)
{
	struct pset set = { ps, NULL, 0, NULL, 0 };

	if (ps == NULL || ps->n == 0 || sql == NULL)
		return true;
	return check_sql(&set, NULL, sql, why, cap);
}

bool
policy_check_learnt(const char *sql, char *why, size_t cap)
{
	struct pset with = { installed, children, n_children, views, n_views };
	struct pset without = { installed, NULL, 0, NULL, 0 };

	if (installed == NULL || sql == NULL || (n_children == 0 && n_views == 0))
		return true;
	return check_sql(&with, &without, sql, why, cap);
}
