/* guard.c: allow-lists statement kinds and deny-lists side-effecting functions with libpg_query. */
#include "guard.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json.h>
#include <pg_query.h>

#include "util.h"

#define GUARD_MAX_TREE_DEPTH 2000
#define GUARD_CACHE_SLOTS 256
#define GUARD_CACHE_MAX_TEXT 16384

/* libpg_query creates its memory context on first use; pg_query_exit() needs one to exist. */
static bool parser_used;

/*
 * Functions that change state a READ ONLY transaction does not protect: other sessions, the
 * server, session-level locks and settings, files, large objects, replication, or that run
 * SQL text the guard never saw. Matched on the unqualified name, as the parser folded it.
 */
static const char *const deny_exact[] = {
	"pg_terminate_backend", "pg_cancel_backend", "pg_reload_conf", "pg_rotate_logfile",
	"pg_rotate_logfile_old", "set_config", "pg_switch_wal", "pg_switch_xlog", "pg_promote",
	"pg_import_system_collations", "pg_log_backend_memory_contexts", "txid_current",
	"pg_current_xact_id", "pg_export_snapshot", "pg_notify", "setseed", "ts_stat",
	"loread", "lowrite", "pg_stat_file", "pg_nextoid", "pg_stat_force_next_flush",
	"pg_replication_slot_advance", "pg_drop_replication_slot", "nextval", "setval",
	"pg_sequence_last_value_reset", "pg_xact_commit_timestamp_origin_reset",
	"database_to_xml", "database_to_xmlschema", "database_to_xml_and_xmlschema",
	"pg_prewarm", "pg_visibility_map_summary_reset", "pg_truncate_visibility_map",
	"pg_wal_switch", "pg_checkpoint", "pg_current_logfile_reset",
	NULL,
};

static const char *const deny_prefix[] = {
	"pg_advisory_", "pg_try_advisory_", "lo_", "dblink", "pg_stat_reset",
	"pg_stat_statements_reset", "pg_create_", "pg_copy_", "pg_replication_origin_",
	"pg_logical_", "pg_file_", "pg_read_", "pg_ls_", "pg_backup_", "pg_start_backup",
	"pg_stop_backup", "pg_wal_replay_", "query_to_xml", "cursor_to_xml", "binary_upgrade_",
	"pg_freespace_reset", "pg_kill_", "pg_signal_",
	NULL,
};

/* In write mode the model may use sequences and NOTIFY: they are ordinary write effects. */
static const char *const write_allowed[] = { "nextval", "setval", "pg_notify", NULL };

/* Statement kinds the execute tool refuses because they change the session, not the data. */
static const char *const write_denied_stmts[] = {
	"TransactionStmt", "VariableSetStmt", "DiscardStmt", "ListenStmt", "UnlistenStmt",
	"PrepareStmt", "ExecuteStmt", "DeallocateStmt", "DeclareCursorStmt", "FetchStmt",
	"ClosePortalStmt", "CopyStmt", "DoStmt", "LoadStmt", "AlterSystemStmt",
	"CreatedbStmt", "DropdbStmt", "AlterDatabaseSetStmt", "AlterRoleSetStmt",
	"VacuumStmt", "CheckPointStmt", "ReindexStmt", "ClusterStmt", "CallStmt", "LockStmt",
	"ConstraintsSetStmt", "CreateRoleStmt", "AlterRoleStmt", "DropRoleStmt", "GrantRoleStmt",
	"CreateSubscriptionStmt", "AlterSubscriptionStmt", "DropSubscriptionStmt",
	"CreateTableSpaceStmt", "DropTableSpaceStmt", "AlterTableSpaceOptionsStmt",
	"VariableShowStmt", "ExplainStmt",
	NULL,
};

static const struct { const char *node, *sql; } stmt_names[] = {
	{ "InsertStmt", "INSERT" }, { "UpdateStmt", "UPDATE" }, { "DeleteStmt", "DELETE" },
	{ "MergeStmt", "MERGE" }, { "CopyStmt", "COPY" }, { "DoStmt", "DO" },
	{ "TransactionStmt", "a transaction control statement (BEGIN/COMMIT/ROLLBACK)" },
	{ "VariableSetStmt", "SET/RESET" }, { "CreateStmt", "CREATE TABLE" },
	{ "CreateTableAsStmt", "CREATE TABLE AS" }, { "LockStmt", "LOCK" },
	{ "PrepareStmt", "PREPARE" }, { "ExecuteStmt", "EXECUTE" },
	{ "DeallocateStmt", "DEALLOCATE" }, { "ListenStmt", "LISTEN" },
	{ "UnlistenStmt", "UNLISTEN" }, { "NotifyStmt", "NOTIFY" }, { "CallStmt", "CALL" },
	{ "DeclareCursorStmt", "DECLARE CURSOR" }, { "FetchStmt", "FETCH" },
	{ "DropStmt", "DROP" }, { "TruncateStmt", "TRUNCATE" }, { "AlterTableStmt", "ALTER TABLE" },
	{ "IndexStmt", "CREATE INDEX" }, { "VacuumStmt", "VACUUM/ANALYZE" },
	{ "DiscardStmt", "DISCARD" }, { "LoadStmt", "LOAD" }, { "AlterSystemStmt", "ALTER SYSTEM" },
	{ "CreateFunctionStmt", "CREATE FUNCTION" }, { "ViewStmt", "CREATE VIEW" },
	{ "GrantStmt", "GRANT/REVOKE" }, { "CreateRoleStmt", "CREATE ROLE" },
	{ "RuleStmt", "CREATE RULE" }, { "CreateTrigStmt", "CREATE TRIGGER" },
	{ "CheckPointStmt", "CHECKPOINT" }, { "ReindexStmt", "REINDEX" },
	{ "ClusterStmt", "CLUSTER" }, { "RefreshMatViewStmt", "REFRESH MATERIALIZED VIEW" },
	{ "CreateSchemaStmt", "CREATE SCHEMA" }, { "CreateExtensionStmt", "CREATE EXTENSION" },
	{ "CreatedbStmt", "CREATE DATABASE" }, { "DropdbStmt", "DROP DATABASE" },
	{ "ExplainStmt", "EXPLAIN" }, { "VariableShowStmt", "SHOW" }, { "SelectStmt", "SELECT" },
	{ "CommentStmt", "COMMENT" }, { "CreateSeqStmt", "CREATE SEQUENCE" },
	{ "AlterSeqStmt", "ALTER SEQUENCE" }, { "ConstraintsSetStmt", "SET CONSTRAINTS" },
	{ "SecLabelStmt", "SECURITY LABEL" }, { "ClosePortalStmt", "CLOSE" },
};

struct walk {
	enum guard_policy policy;
	struct guard_verdict *v;
	int depth;
};

static const char *
sql_name(const char *node)
{
	for (size_t i = 0; i < sizeof(stmt_names) / sizeof(stmt_names[0]); i++)
		if (strcmp(stmt_names[i].node, node) == 0)
			return stmt_names[i].sql;
	return node;
}

static bool
in_list(const char *const *list, const char *name)
{
	for (; *list != NULL; list++)
		if (strcmp(*list, name) == 0)
			return true;
	return false;
}

static bool
function_denied(enum guard_policy policy, const char *name)
{
	if (policy == GUARD_WRITE && in_list(write_allowed, name))
		return false;
	if (in_list(deny_exact, name))
		return true;
	for (const char *const *p = deny_prefix; *p != NULL; p++)
		if (strncmp(name, *p, strlen(*p)) == 0)
			return true;
	return false;
}

static void refuse(struct walk *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
refuse(struct walk *w, const char *fmt, ...)
{
	va_list ap;

	if (!w->v->allowed)
		return;	/* keep the first reason */
	w->v->allowed = false;
	w->v->sqlstate = "42501";
	va_start(ap, fmt);
	vsnprintf(w->v->reason, sizeof(w->v->reason), fmt, ap);
	va_end(ap);
}

/* The unqualified function name of a FuncCall node. */
static const char *
funccall_name(struct json_object *fc)
{
	struct json_object *names, *last, *str, *sval;
	size_t n;

	if (!json_object_object_get_ex(fc, "funcname", &names) ||
	    !json_object_is_type(names, json_type_array))
		return NULL;
	n = json_object_array_length(names);
	if (n == 0)
		return NULL;
	last = json_object_array_get_idx(names, n - 1);
	if (!json_object_object_get_ex(last, "String", &str) ||
	    !json_object_object_get_ex(str, "sval", &sval))
		return NULL;
	return json_object_get_string(sval);
}

static bool
ends_with_stmt(const char *key)
{
	size_t n = strlen(key);

	return n > 4 && strcmp(key + n - 4, "Stmt") == 0 && key[0] >= 'A' && key[0] <= 'Z';
}

/* Walks every node; nested statements and denied functions are refused wherever they hide. */
static void
walk_node(struct walk *w, struct json_object *node, bool top)
{
	if (++w->depth > GUARD_MAX_TREE_DEPTH) {
		refuse(w, "%s", "the statement is nested too deeply to verify");
		w->depth--;
		return;
	}
	if (json_object_is_type(node, json_type_array)) {
		size_t n = json_object_array_length(node);

		for (size_t i = 0; i < n; i++)
			walk_node(w, json_object_array_get_idx(node, i), false);
	} else if (json_object_is_type(node, json_type_object)) {
		json_object_object_foreach(node, key, val) {
			if (strcmp(key, "FuncCall") == 0) {
				const char *fn = funccall_name(val);

				if (fn != NULL && function_denied(w->policy, fn))
					refuse(w, "function %s() is not allowed: it changes state outside "
					    "the transaction or runs SQL the guard cannot check", fn);
			} else if (strcmp(key, "ParamRef") == 0) {
				struct json_object *num;

				w->v->has_params = true;
				if (json_object_object_get_ex(val, "number", &num) &&
				    json_object_get_int(num) > w->v->max_param)
					w->v->max_param = json_object_get_int(num);
			} else if (w->policy != GUARD_WRITE && strcmp(key, "lockingClause") == 0) {
				refuse(w, "%s", "SELECT ... FOR UPDATE/SHARE takes row locks and is not "
				    "allowed in read-only mode");
			} else if (w->policy != GUARD_WRITE && strcmp(key, "intoClause") == 0) {
				refuse(w, "%s", "SELECT ... INTO creates a table and is not allowed in "
				    "read-only mode");
			} else if (!top && ends_with_stmt(key) && strcmp(key, "SelectStmt") != 0 &&
			    w->policy != GUARD_WRITE) {
				refuse(w, "%s inside a statement (for example a writable WITH clause) is "
				    "not allowed in read-only mode", sql_name(key));
			}
			walk_node(w, val, false);
		}
	}
	w->depth--;
}

/* Classifies the single top-level statement and applies the policy's allow-list. */
static void
check_statement(struct walk *w, const char *type, struct json_object *body)
{
	struct guard_verdict *v = w->v;
	bool dml = strcmp(type, "InsertStmt") == 0 || strcmp(type, "UpdateStmt") == 0 ||
	    strcmp(type, "DeleteStmt") == 0 || strcmp(type, "MergeStmt") == 0;

	if (strcmp(type, "SelectStmt") == 0)
		v->kind = GUARD_KIND_SELECT;
	else if (strcmp(type, "ExplainStmt") == 0)
		v->kind = GUARD_KIND_EXPLAIN;
	else if (strcmp(type, "VariableShowStmt") == 0)
		v->kind = GUARD_KIND_SHOW;
	else if (dml)
		v->kind = GUARD_KIND_DML;
	else
		v->kind = GUARD_KIND_OTHER;

	switch (w->policy) {
	case GUARD_READ_ONLY:
		if (v->kind == GUARD_KIND_DML || v->kind == GUARD_KIND_OTHER) {
			refuse(w, "only SELECT, VALUES, TABLE, EXPLAIN and SHOW are allowed in read-only "
			    "mode; this is %s", sql_name(type));
			return;
		}
		if (v->kind == GUARD_KIND_EXPLAIN) {
			struct json_object *query;

			/* Under ANALYZE the explained statement runs, so only SELECT may be explained. */
			if (json_object_object_get_ex(body, "query", &query) &&
			    json_object_is_type(query, json_type_object)) {
				json_object_object_foreach(query, inner, innerbody) {
					(void)innerbody;
					if (strcmp(inner, "SelectStmt") != 0)
						refuse(w, "EXPLAIN of %s is not allowed in read-only mode; "
						    "the explain tool shows plans of writes without running them",
						    sql_name(inner));
				}
			}
		}
		break;
	case GUARD_PLAN:
		if (v->kind != GUARD_KIND_SELECT && v->kind != GUARD_KIND_DML)
			refuse(w, "only SELECT, INSERT, UPDATE, DELETE and MERGE can be explained; this "
			    "is %s", sql_name(type));
		break;
	case GUARD_WRITE:
		if (in_list(write_denied_stmts, type))
			refuse(w, "%s is not allowed through execute: it changes the session or the "
			    "server rather than data, or cannot run inside the tool's transaction",
			    sql_name(type));
		break;
	}
}

static void
verdict_from_tree(enum guard_policy policy, const char *tree, struct guard_verdict *v)
{
	struct json_tokener *tok = json_tokener_new_ex(GUARD_MAX_TREE_DEPTH);
	struct json_object *root, *stmts, *entry, *stmt, *loc, *len;
	struct walk w = { policy, v, 0 };
	size_t n;

	if (tok == NULL) {
		refuse(&w, "%s", "out of memory");
		return;
	}
	root = json_tokener_parse_ex(tok, tree, (int)strlen(tree));
	json_tokener_free(tok);
	if (root == NULL) {
		refuse(&w, "%s", "the statement is nested too deeply to verify");
		return;
	}
	if (!json_object_object_get_ex(root, "stmts", &stmts) ||
	    (n = json_object_array_length(stmts)) == 0) {
		refuse(&w, "%s", "the SQL text contains no statement");
		v->sqlstate = "42601";
		goto out;
	}
	if (n > 1) {
		refuse(&w, "%s", "exactly one statement is allowed per call; this text has several "
		    "(send them as separate calls)");
		goto out;
	}
	entry = json_object_array_get_idx(stmts, 0);
	if (json_object_object_get_ex(entry, "stmt_location", &loc))
		v->stmt_location = json_object_get_int(loc);
	if (json_object_object_get_ex(entry, "stmt_len", &len))
		v->stmt_len = json_object_get_int(len);
	if (!json_object_object_get_ex(entry, "stmt", &stmt) ||
	    !json_object_is_type(stmt, json_type_object)) {
		refuse(&w, "%s", "the statement could not be classified");
		goto out;
	}
	json_object_object_foreach(stmt, type, body) {
		check_statement(&w, type, body);
		walk_node(&w, body, true);
	}
out:
	json_object_put(root);
}

static void
guard_check_uncached(enum guard_policy policy, const char *sql, size_t len,
    struct guard_verdict *v)
{
	PgQueryParseResult r;

	memset(v, 0, sizeof(*v));
	v->allowed = true;
	if (memchr(sql, '\0', len) != NULL) {
		v->allowed = false;
		v->sqlstate = "22021";
		snprintf(v->reason, sizeof(v->reason), "the SQL text contains a NUL character");
		return;
	}
	parser_used = true;
	r = pg_query_parse(sql);
	if (r.error != NULL) {
		v->allowed = false;
		v->sqlstate = "42601";
		v->error_position = r.error->cursorpos;
		snprintf(v->reason, sizeof(v->reason), "%s", r.error->message);
	} else {
		verdict_from_tree(policy, r.parse_tree, v);
		if (v->stmt_len == 0)
			v->stmt_len = (int)len - v->stmt_location;
	}
	pg_query_free_parse_result(r);
}

struct cache_slot {
	uint64_t hash;
	enum guard_policy policy;
	char *text;
	size_t len;
	struct guard_verdict verdict;
};

static struct cache_slot cache[GUARD_CACHE_SLOTS];

static uint64_t
fnv1a(const char *s, size_t n, unsigned salt)
{
	uint64_t h = 1469598103934665603ULL ^ salt;

	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 1099511628211ULL;
	}
	return h;
}

void
guard_check(enum guard_policy policy, const char *sql, size_t len, struct guard_verdict *out)
{
	uint64_t h;
	struct cache_slot *slot;

	if (len > GUARD_CACHE_MAX_TEXT) {
		guard_check_uncached(policy, sql, len, out);
		return;
	}
	h = fnv1a(sql, len, (unsigned)policy);
	slot = &cache[h % GUARD_CACHE_SLOTS];
	if (slot->text != NULL && slot->hash == h && slot->policy == policy && slot->len == len &&
	    memcmp(slot->text, sql, len) == 0) {
		*out = slot->verdict;
		return;
	}
	guard_check_uncached(policy, sql, len, out);
	free(slot->text);
	slot->text = xmalloc(len + 1);
	memcpy(slot->text, sql, len);
	slot->text[len] = '\0';
	slot->len = len;
	slot->hash = h;
	slot->policy = policy;
	slot->verdict = *out;
}

void
guard_cache_clear(void)
{
	for (size_t i = 0; i < GUARD_CACHE_SLOTS; i++) {
		free(cache[i].text);
		cache[i].text = NULL;
	}
}

void
guard_shutdown(void)
{
	guard_cache_clear();
	if (parser_used)
		pg_query_exit();
	parser_used = false;
}
