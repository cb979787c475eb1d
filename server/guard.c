/* guard.c: allow-lists statement kinds and deny-lists side-effecting functions with libpg_query. */
#include "guard.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pg_query.h>

#include "policy.h"
#include "util.h"

#define GUARD_MAX_TREE_DEPTH 2000
#define GUARD_CACHE_SLOTS 256
#define GUARD_CACHE_MAX_TEXT 16384
#define NAMEDATALEN_GUARD 128

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
	"pg_current_xact_id", "pg_export_snapshot", "pg_notify", "setseed", "ts_stat", "ts_rewrite",
	"loread", "lowrite", "pg_stat_file", "pg_nextoid", "pg_stat_force_next_flush",
	"pg_replication_slot_advance", "pg_drop_replication_slot", "nextval", "setval",
	"pg_sequence_last_value_reset", "pg_xact_commit_timestamp_origin_reset",
	"database_to_xml", "database_to_xmlschema", "database_to_xml_and_xmlschema",
	"pg_prewarm", "pg_visibility_map_summary_reset", "pg_truncate_visibility_map",
	"pg_wal_switch", "pg_checkpoint", "pg_current_logfile_reset", "gin_clean_pending_list",
	NULL,
};

static const char *const deny_prefix[] = {
	"pg_advisory_", "pg_try_advisory_", "lo_", "dblink", "pg_stat_reset",
	"pg_stat_statements_reset", "pg_create_", "pg_copy_", "pg_replication_origin_",
	"pg_logical_", "pg_file_", "pg_read_", "pg_ls_", "pg_backup_", "pg_start_backup",
	"pg_stop_backup", "pg_wal_replay_", "query_to_xml", "cursor_to_xml", "binary_upgrade_",
	"pg_freespace_reset", "pg_kill_", "pg_signal_", "brin_summarize", "brin_desummarize",
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

static bool
ends_with_stmt(const char *key)
{
	size_t n = strlen(key);

	return n > 4 && strcmp(key + n - 4, "Stmt") == 0 && key[0] >= 'A' && key[0] <= 'Z';
}

/*
 * A streaming walk over libpg_query's JSON parse tree: no object tree is built, which makes
 * the guard several times cheaper than parsing the JSON into json-c objects. The input is
 * libpg_query's own output, so it is well formed; the walk still stops at the end of the text.
 */
struct scan {
	const char *p, *end;
	struct walk *w;
};

/* Reads the string at p (which is on its opening quote) into out, decoding escapes. */
static void
read_string(struct scan *s, char *out, size_t cap)
{
	size_t n = 0;

	s->p++;
	while (s->p < s->end && *s->p != '"') {
		char c = *s->p++;

		if (c == '\\' && s->p < s->end) {
			char e = *s->p++;

			if (e == 'u' && s->end - s->p >= 4) {
				unsigned v = (unsigned)strtoul((char[]){ s->p[0], s->p[1], s->p[2], s->p[3], 0 },
				    NULL, 16);

				s->p += 4;
				c = v < 0x80 ? (char)v : '?';
			} else {
				c = e == 'n' ? '\n' : e == 't' ? '\t' : e == 'r' ? '\r' : e;
			}
		}
		if (n + 1 < cap)
			out[n++] = c;
	}
	if (s->p < s->end)
		s->p++;
	if (cap > 0)
		out[n] = '\0';
}

static long
read_number(struct scan *s)
{
	char *stop;
	long v = strtol(s->p, &stop, 10);

	s->p = stop;
	while (s->p < s->end && strchr("0123456789.eE+-", *s->p))
		s->p++;
	return v;
}

static void scan_value(struct scan *s, const char *key, bool top);

#define MAX_NAMES 8

/* The identifiers of a name list ([{"String":{"sval":"a"}}, ...]), in order. */
struct names {
	int n;
	char v[MAX_NAMES][NAMEDATALEN_GUARD];
};

static void
scan_names(struct scan *s, struct names *out)
{
	int depth = 0;

	out->n = 0;
	do {
		char c = *s->p;

		if (c == '[' || c == '{') {
			depth++;
			s->p++;
		} else if (c == ']' || c == '}') {
			depth--;
			s->p++;
		} else if (c == '"') {
			char k[16];

			read_string(s, k, sizeof(k));
			if (s->p < s->end && *s->p == ':') {
				s->p++;
				if (strcmp(k, "sval") == 0 && *s->p == '"') {
					char *slot = out->v[out->n < MAX_NAMES ? out->n : MAX_NAMES - 1];

					read_string(s, slot, NAMEDATALEN_GUARD);
					if (out->n < MAX_NAMES)
						out->n++;
				}
			}
		} else {
			s->p++;
		}
	} while (depth > 0 && s->p < s->end);
}

static void
scan_object(struct scan *s, const char *parent, bool top)
{
	struct walk *w = s->w;
	char key[128];

	s->p++;	/* { */
	while (s->p < s->end && *s->p != '}') {
		if (*s->p == ',') {
			s->p++;
			continue;
		}
		read_string(s, key, sizeof(key));
		s->p++;	/* : */
		if (strcmp(parent, "FuncCall") == 0 && strcmp(key, "funcname") == 0) {
			struct names fn;

			scan_names(s, &fn);
			if (fn.n > 0 && function_denied(w->policy, fn.v[fn.n - 1]))
				refuse(w, "function %s() is not allowed: it changes state outside the "
				    "transaction or runs SQL the guard cannot check", fn.v[fn.n - 1]);
			continue;
		}
		if ((strcmp(parent, "ColumnRef") == 0 && strcmp(key, "fields") == 0) ||
		    (strcmp(parent, "A_Indirection") == 0 && strcmp(key, "indirection") == 0)) {
			/*
			 * Attribute notation calls functions too: (x).f and t.c.f mean f(x) and
			 * f(t.c). Any name after the first of a column reference, and every name
			 * of an indirection, may be such a call.
			 */
			const char *save = s->p;
			struct names fields;
			int first = strcmp(parent, "ColumnRef") == 0 ? 1 : 0;

			scan_names(s, &fields);
			for (int i = first; i < fields.n; i++)
				if (function_denied(w->policy, fields.v[i]))
					refuse(w, "%s is not allowed: written as a column or field it still "
					    "calls the function %s()", fields.v[i], fields.v[i]);
			s->p = save;	/* walk it as usual too (subscripts hold expressions) */
		} else if (strcmp(parent, "ParamRef") == 0 && strcmp(key, "number") == 0) {
			long n = read_number(s);

			w->v->has_params = true;
			if (n > w->v->max_param && n < 100000)
				w->v->max_param = (int)n;
			continue;
		} else if (w->policy != GUARD_WRITE && strcmp(key, "lockingClause") == 0) {
			refuse(w, "%s", "SELECT ... FOR UPDATE/SHARE takes row locks and is not allowed "
			    "in read-only mode");
		} else if (w->policy != GUARD_WRITE && strcmp(key, "intoClause") == 0) {
			refuse(w, "%s", "SELECT ... INTO creates a table and is not allowed in read-only "
			    "mode");
		} else if (!top && ends_with_stmt(key) && strcmp(key, "SelectStmt") != 0 &&
		    w->policy != GUARD_WRITE) {
			refuse(w, "%s inside a statement (for example a writable WITH clause) is not "
			    "allowed in read-only mode", sql_name(key));
		} else if (top && w->policy == GUARD_READ_ONLY && strcmp(parent, "ExplainStmt") == 0 &&
		    strcmp(key, "query") == 0 && *s->p == '{') {
			/* Under ANALYZE the explained statement runs, so only SELECT may be explained. */
			const char *save = s->p;
			char inner[64];

			s->p++;
			read_string(s, inner, sizeof(inner));
			s->p = save;
			if (strcmp(inner, "SelectStmt") != 0)
				refuse(w, "EXPLAIN of %s is not allowed in read-only mode; the explain tool "
				    "shows plans of writes without running them", sql_name(inner));
		}
		scan_value(s, key, false);
	}
	if (s->p < s->end)
		s->p++;	/* } */
}

/* Walks every node; nested statements and denied functions are refused wherever they hide. */
static void
scan_value(struct scan *s, const char *key, bool top)
{
	struct walk *w = s->w;

	if (s->p >= s->end)
		return;
	if (++w->depth > GUARD_MAX_TREE_DEPTH) {
		refuse(w, "%s", "the statement is nested too deeply to verify");
		s->p = s->end;
		w->depth--;
		return;
	}
	switch (*s->p) {
	case '{':
		scan_object(s, key, top);
		break;
	case '[':
		s->p++;
		while (s->p < s->end && *s->p != ']') {
			if (*s->p == ',')
				s->p++;
			else
				scan_value(s, key, false);
		}
		if (s->p < s->end)
			s->p++;
		break;
	case '"': {
		char skip[8];

		read_string(s, skip, sizeof(skip));
		break;
	}
	default:	/* numbers, true, false, null */
		while (s->p < s->end && !strchr(",]}", *s->p))
			s->p++;
		break;
	}
	w->depth--;
}

/* Classifies the single top-level statement and applies the policy's allow-list. */
static void
check_statement(struct walk *w, const char *type)
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
		if (v->kind == GUARD_KIND_DML || v->kind == GUARD_KIND_OTHER)
			refuse(w, "only SELECT, VALUES, TABLE, EXPLAIN and SHOW are allowed in read-only "
			    "mode; this is %s", sql_name(type));
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

/* One RawStmt: {"stmt":{"<Type>":{...}},"stmt_location":N,"stmt_len":N} */
static void
scan_raw_stmt(struct scan *s)
{
	struct walk *w = s->w;
	char key[64], type[64];

	s->p++;	/* { */
	while (s->p < s->end && *s->p != '}') {
		if (*s->p == ',') {
			s->p++;
			continue;
		}
		read_string(s, key, sizeof(key));
		s->p++;	/* : */
		if (strcmp(key, "stmt") == 0 && *s->p == '{') {
			s->p++;
			read_string(s, type, sizeof(type));
			s->p++;	/* : */
			check_statement(w, type);
			scan_value(s, type, true);
			if (s->p < s->end && *s->p == '}')
				s->p++;
		} else if (strcmp(key, "stmt_location") == 0) {
			w->v->stmt_location = (int)read_number(s);
		} else if (strcmp(key, "stmt_len") == 0) {
			w->v->stmt_len = (int)read_number(s);
		} else {
			scan_value(s, key, false);
		}
	}
	if (s->p < s->end)
		s->p++;
}

/* The tree is {"version":N,"stmts":[RawStmt, ...]}: exactly one statement is allowed. */
static void
verdict_from_tree(enum guard_policy policy, const char *tree, struct guard_verdict *v)
{
	struct walk w = { policy, v, 0 };
	struct scan s = { tree, tree + strlen(tree), &w };
	char key[32];
	int n = 0;

	if (s.p < s.end && *s.p == '{')
		s.p++;
	while (s.p < s.end && *s.p != '}') {
		if (*s.p == ',') {
			s.p++;
			continue;
		}
		read_string(&s, key, sizeof(key));
		s.p++;	/* : */
		if (strcmp(key, "stmts") != 0) {
			scan_value(&s, key, false);
			continue;
		}
		s.p++;	/* [ */
		while (s.p < s.end && *s.p != ']') {
			if (*s.p == ',') {
				s.p++;
				continue;
			}
			if (++n > 1) {
				/* This reason wins over whatever the first statement earned. */
				v->allowed = true;
				refuse(&w, "%s", "exactly one statement is allowed per call; this text has "
				    "several (send them as separate calls)");
				return;
			}
			scan_raw_stmt(&s);
		}
		break;
	}
	if (n == 0) {
		refuse(&w, "%s", "the SQL text contains no statement");
		v->sqlstate = "42601";
	}
}

static void
guard_check_uncached(enum guard_policy policy, const char *sql, size_t len,
    struct guard_verdict *v)
{
	PgQueryParseResult r;
	char *copy;

	memset(v, 0, sizeof(*v));
	v->allowed = true;
	if (memchr(sql, '\0', len) != NULL) {
		v->allowed = false;
		v->sqlstate = "22021";
		snprintf(v->reason, sizeof(v->reason), "the SQL text contains a NUL character");
		return;
	}
	parser_used = true;
	/* libpg_query reads to a NUL: give it exactly the text the verdict is for. */
	copy = xmalloc(len + 1);
	memcpy(copy, sql, len);
	copy[len] = '\0';
	r = pg_query_parse(copy);
	free(copy);
	if (r.error != NULL) {
		v->allowed = false;
		v->sqlstate = "42601";
		v->error_position = r.error->cursorpos;
		snprintf(v->reason, sizeof(v->reason), "%s", r.error->message);
	} else {
		verdict_from_tree(policy, r.parse_tree, v);
		if (v->stmt_len == 0)
			v->stmt_len = (int)len - v->stmt_location;
		if (v->allowed && policy_active() && !policy_check_tree(r.parse_tree, v->reason,
		    sizeof(v->reason))) {
			v->allowed = false;
			v->sqlstate = "42501";
		}
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
