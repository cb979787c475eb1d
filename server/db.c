/* db.c: one PGconn, reconnect with backoff, and each tool call as a single pipelined round trip. */
#include "db.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "jsonw.h"
#include "log.h"
#include "pgjson.h"
#include "policy.h"
#include "util.h"

#define BACKOFF_FIRST_US 250000
#define BACKOFF_MAX_US 30000000
#define PROGRESS_EVERY_US 1000000
/* A server that neither answers nor honours cancel is given this long past statement_timeout. */
#define SERVER_GRACE_US 10000000
/* Names of types outside the built-in table, learnt per database. */
#define DB_TYPE_CACHE 256

static const char WRAP_PREFIX[] = "SELECT * FROM (\n";
#define WRAP_PREFIX_LEN ((int)sizeof(WRAP_PREFIX) - 1)

/*
 * Every setting a call relies on: the output formats pgjson parses, then the three limits
 * ($1..$3). Once per connection as session defaults (is_local false), or, behind a
 * transaction pooler, inside every call's transaction (true), since the next call may get
 * another server connection.
 */
#define SETTINGS_SQL(is_local) \
	"SELECT pg_catalog.set_config('DateStyle', 'ISO', " is_local "), " \
	"pg_catalog.set_config('IntervalStyle', 'iso_8601', " is_local "), " \
	"pg_catalog.set_config('extra_float_digits', '1', " is_local "), " \
	"pg_catalog.set_config('bytea_output', 'hex', " is_local "), " \
	"pg_catalog.set_config('statement_timeout', $1, " is_local "), " \
	"pg_catalog.set_config('lock_timeout', $2, " is_local "), " \
	"pg_catalog.set_config('idle_in_transaction_session_timeout', $3, " is_local ")"

struct db {
	const struct config *cfg;
	PGconn *conn;
	PGcancel *cancel;
	bool connecting;
	bool poll_writing;	/* the pending attempt waits to write, not to read */
	bool ready;
	bool inspected;
	bool connected_before;	/* so the next successful connection counts as a reconnect */
	uint64_t *reconnects;	/* where to count them (the worker's scoreboard slot), or NULL */
	bool pooler_warned;	/* logged once: our prepared statements went missing */
	int64_t connect_deadline_us;
	int64_t next_attempt_us;
	int64_t backoff_us;
	struct buf last_error;
	char server_version[32];
	struct { pg_oid oid; char name[64]; } types[DB_TYPE_CACHE];
	size_t ntypes;
	/* columns under policy, resolved to (table oid, attnum) once connected */
	struct policy_col { pg_oid table; int attnum; bool deny; const char *mask_with; } *pcols;
	size_t n_pcols;
	uint64_t policy_epoch;	/* counts resolve_policies runs (one per connection) */
};

/* Per-call state while the pipeline's results come back. */
struct call {
	struct db *db;
	const struct db_request *req;
	const struct db_waiter *waiter;
	struct db_result *res;
	int watch_fd;
	int watch_fd2;
	bool broken;		/* the connection failed mid-call */
	bool client_cancelled;
	bool internal_cancel;	/* we cancelled because the result was already truncated */
	bool got_result;	/* the statement produced rows or a tag (so it did run) */
	bool gave_up;		/* past the deadline and the cancel's grace: the connection is abandoned */
	int64_t start_us;
	int64_t last_progress_us;
	int64_t deadline_us;
	/* column metadata, built from the first row description */
	int ncols;
	struct pgjson_type *types;
	char **names;		/* unique column names */
	const char **mask;	/* per column: replacement text under a mask policy, or NULL */
	const char *denied;	/* a result column traced to a denied column */
	pg_oid *oids;
	bool unknown_types;	/* some column type needs a pg_type lookup */
	struct buf keys;	/* "name": prefixes, concatenated */
	size_t *key_off;
	struct buf row;		/* scratch for one row */
};

static void
notice_to_log(void *arg, const char *message)
{
	(void)arg;
	log_debug("postgres: %.*s", (int)strcspn(message, "\n"), message);
}

struct db *
db_new(const struct config *cfg)
{
	struct db *db = xcalloc(1, sizeof(*db));

	db->cfg = cfg;
	return db;
}

static void
db_drop(struct db *db)
{
	if (db->cancel != NULL)
		PQfreeCancel(db->cancel);
	if (db->conn != NULL)
		PQfinish(db->conn);
	db->cancel = NULL;
	db->conn = NULL;
	db->ready = false;
	db->connecting = false;
}

void
db_free(struct db *db)
{
	if (db == NULL)
		return;
	free(db->pcols);
	db_drop(db);
	buf_free(&db->last_error);
	free(db);
}

bool
db_is_connected(struct db *db)
{
	return db->ready && db->conn != NULL && PQstatus(db->conn) == CONNECTION_OK;
}

const char *
db_server_version(struct db *db)
{
	return db->server_version;
}

/* libpq's message, first line only (the rest repeats it or quotes connection details). */
static void
set_conn_error(struct db *db, const char *prefix)
{
	const char *msg = db->conn ? PQerrorMessage(db->conn) : "out of memory";
	size_t n = strcspn(msg, "\n");

	buf_reset(&db->last_error);
	buf_printf(&db->last_error, "%s%.*s", prefix, (int)n, msg);
	/* libpq puts the interesting part on the second line for connection failures. */
	if (msg[n] == '\n' && msg[n + 1] != '\0') {
		const char *rest = msg + n + 1;

		buf_printf(&db->last_error, " %.*s", (int)strcspn(rest, "\n"), rest);
	}
}

void
db_connect_start(struct db *db)
{
	const char *kw[6], *val[6];
	char timeout[24];
	int n = 0;

	if (db->conn != NULL)
		return;
	snprintf(timeout, sizeof(timeout), "%lld",
	    (long long)((db->cfg->connect_timeout_ms + 999) / 1000));
	/* Order matters: later keywords override what the DSN says. */
	kw[n] = "application_name"; val[n++] = db->cfg->application_name;
	if (db->cfg->dsn != NULL && db->cfg->dsn[0] != '\0') {
		kw[n] = "dbname"; val[n++] = db->cfg->dsn;
	}
	kw[n] = "client_encoding"; val[n++] = "UTF8";
	kw[n] = "connect_timeout"; val[n++] = timeout;
	kw[n] = NULL; val[n] = NULL;

	db->conn = PQconnectStartParams(kw, val, 1);
	db->connecting = true;
	db->poll_writing = true;	/* libpq's first step is to write the startup packet */
	db->connect_deadline_us = now_us() + db->cfg->connect_timeout_ms * 1000;
	if (db->conn == NULL || PQstatus(db->conn) == CONNECTION_BAD) {
		set_conn_error(db, "");
		db_drop(db);
	}
}

static bool
wait_socket(PGconn *conn, bool for_write, int64_t deadline_us)
{
	struct pollfd pfd = { PQsocket(conn), for_write ? POLLOUT : POLLIN, 0 };
	int64_t left = deadline_us - now_us();
	int rc;

	if (left <= 0)
		return false;
	do {
		rc = poll(&pfd, 1, (int)(left / 1000) + 1);
	} while (rc < 0 && errno == EINTR);
	return rc > 0;
}

static bool
exec_ok(PGconn *conn, PGresult *r)
{
	ExecStatusType st = PQresultStatus(r);

	(void)conn;
	return st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
}

/*
 * Our named statements missing, or already there, on a connection we prepared them on
 * ourselves: a transaction pooler is handing us different server connections.
 */
static const char *
pooler_hint(PGresult *r)
{
	const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
	const char *msg = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);

	if (state == NULL || msg == NULL || strstr(msg, "\"pgmcp_") == NULL)
		return NULL;
	if (strcmp(state, "26000") != 0 && strcmp(state, "42P05") != 0)
		return NULL;
	return "pgmcp prepares its fixed statements once per connection, but a transaction-pooling "
	    "PgBouncer (or other pooler) in front of PostgreSQL hands each transaction whichever "
	    "server connection is free: set database.pooler: transaction";
}

static void
warn_pooler(struct db *db, const char *hint)
{
	if (db->pooler_warned)
		return;
	db->pooler_warned = true;
	log_warnx("a call failed on pgmcp's own prepared statements: %s", hint);
}

static void
inspect_role(struct db *db, PGresult *r)
{
	const char *user;
	bool super, bypass, writable;

	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
		return;
	user = PQgetvalue(r, 0, 0);
	super = PQgetvalue(r, 0, 1)[0] == 't';
	bypass = PQgetvalue(r, 0, 2)[0] == 't';
	writable = PQgetvalue(r, 0, 3)[0] == 't';
	log_info("connected to PostgreSQL %s, database \"%s\" as role \"%s\" (%s)",
	    PQgetvalue(r, 0, 4), PQgetvalue(r, 0, 5), user,
	    db->cfg->access == ACCESS_READ_ONLY ? "read_only" : "read_write");
	if (super)
		log_warnx("WARNING: role \"%s\" is a SUPERUSER. pgmcp's guard and READ ONLY "
		    "transactions still apply, but a least-privilege role is strongly recommended "
		    "(see README, Security model)", user);
	else if (bypass)
		log_warnx("WARNING: role \"%s\" has BYPASSRLS: row-level security does not limit "
		    "what the model can read", user);
	if (writable && !super && db->cfg->access == ACCESS_READ_ONLY)
		log_warnx("WARNING: role \"%s\" holds INSERT/UPDATE/DELETE/TRUNCATE privileges while "
		    "pgmcp runs read_only: the guard blocks writes, but a role with only SELECT is "
		    "the safer setup", user);
}

/*
 * The policy tables named in $1 (schemas) and $2 (tables), with $3 ("<policy index>:deny" or
 * ":mask", one per column) giving the index, and every inheritance child and partition below
 * them at any depth (pg_inherits, recursively), each with its ancestor's policy index.
 */
#define POLICY_TREE_CTE \
	"WITH RECURSIVE named AS (SELECT DISTINCT c.oid, " \
	"pg_catalog.split_part(x.kind, ':', 1)::int AS pi " \
	"FROM unnest($1::text[], $2::text[], $3::text[]) x(sch, tbl, kind) " \
	"JOIN pg_catalog.pg_namespace n ON n.nspname = x.sch " \
	"JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid AND c.relname = x.tbl), " \
	"tree(oid, pi, child) AS (SELECT oid, pi, false FROM named " \
	"UNION SELECT i.inhrelid, t.pi, true FROM pg_catalog.pg_inherits i " \
	"JOIN tree t ON i.inhparent = t.oid) "

/*
 * Column policies need catalog facts: which (table, column) pairs they name, for masking by
 * a result's source columns; which tables inherit from a policy table (partitions and
 * inheritance children, whose columns are matched by name, as their attnums may differ), for
 * both; and which views read any of those tables, for the guard to refuse.
 */
static void
resolve_policies(struct db *db)
{
	const struct policies *ps = &db->cfg->policies;
	struct buf sch = BUF_INIT, tbl = BUF_INIT, col = BUF_INIT, kind = BUF_INIT;
	const char *params[4], *tree_params[3];
	char **views = NULL;
	size_t n_views = 0;
	PGresult *r;

	free(db->pcols);
	db->pcols = NULL;
	db->n_pcols = 0;
	db->policy_epoch++;
	if (ps->n == 0)
		return;
	buf_putc(&sch, '{');
	buf_putc(&tbl, '{');
	buf_putc(&col, '{');
	buf_putc(&kind, '{');
	for (size_t i = 0; i < ps->n; i++) {
		for (size_t k = 0; k < ps->p[i].n_deny + ps->p[i].n_mask; k++) {
			bool deny = k < ps->p[i].n_deny;
			const char *c = deny ? ps->p[i].deny[k] : ps->p[i].mask[k - ps->p[i].n_deny];
			const char *sep = sch.len > 1 ? "," : "";

			buf_printf(&sch, "%s\"%s\"", sep, ps->p[i].schema);
			buf_printf(&tbl, "%s\"%s\"", sep, ps->p[i].table);
			buf_printf(&col, "%s\"%s\"", sep, c);
			buf_printf(&kind, "%s\"%zu:%s\"", sep, i, deny ? "deny" : "mask");
		}
	}
	buf_putc(&sch, '}');
	buf_putc(&tbl, '}');
	buf_putc(&col, '}');
	buf_putc(&kind, '}');
	params[0] = buf_cstr(&sch);
	params[1] = buf_cstr(&tbl);
	params[2] = buf_cstr(&col);
	params[3] = buf_cstr(&kind);
	tree_params[0] = params[0];
	tree_params[1] = params[1];
	tree_params[2] = params[3];
	/* Each policy column in its table and in every descendant, by name. */
	r = PQexecParams(db->conn,
	    "WITH RECURSIVE named AS (SELECT c.oid, x.col, x.kind "
	    "FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) x(sch, tbl, col, kind) "
	    "JOIN pg_catalog.pg_namespace n ON n.nspname = x.sch "
	    "JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid AND c.relname = x.tbl), "
	    "tree(oid, col, kind) AS (SELECT oid, col, kind FROM named "
	    "UNION SELECT i.inhrelid, t.col, t.kind FROM pg_catalog.pg_inherits i "
	    "JOIN tree t ON i.inhparent = t.oid) "
	    "SELECT t.oid, a.attnum, t.kind FROM tree t JOIN pg_catalog.pg_attribute a "
	    "ON a.attrelid = t.oid AND a.attname = t.col AND NOT a.attisdropped",
	    4, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(r) == PGRES_TUPLES_OK) {
		db->pcols = xcalloc((size_t)PQntuples(r) + 1, sizeof(*db->pcols));
		for (int i = 0; i < PQntuples(r); i++) {
			const char *k = PQgetvalue(r, i, 2);
			size_t pi = (size_t)strtoul(k, NULL, 10);

			db->pcols[i].table = (pg_oid)strtoul(PQgetvalue(r, i, 0), NULL, 10);
			db->pcols[i].attnum = atoi(PQgetvalue(r, i, 1));
			db->pcols[i].deny = strstr(k, "deny") != NULL;
			db->pcols[i].mask_with = pi < ps->n ? ps->p[pi].mask_with : "[masked]";
		}
		db->n_pcols = (size_t)PQntuples(r);
		if ((size_t)PQntuples(r) == 0)
			log_warnx("column policies name no existing column in this database");
	} else {
		log_warnx("cannot resolve column policies: %s", PQresultErrorMessage(r));
	}
	PQclear(r);
	/* The descendants by name, for the parse-tree check: each inherits its ancestor's policy. */
	r = PQexecParams(db->conn, POLICY_TREE_CTE
	    "SELECT DISTINCT t.pi, n.nspname, c.relname FROM tree t "
	    "JOIN pg_catalog.pg_class c ON c.oid = t.oid "
	    "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE t.child",
	    3, NULL, tree_params, NULL, NULL, 0);
	if (PQresultStatus(r) == PGRES_TUPLES_OK) {
		size_t n = (size_t)PQntuples(r);
		struct policy_child *kids = xcalloc(n + 1, sizeof(*kids));

		for (size_t i = 0; i < n; i++) {
			kids[i].policy = (size_t)strtoul(PQgetvalue(r, (int)i, 0), NULL, 10);
			kids[i].schema = xstrdup(PQgetvalue(r, (int)i, 1));
			kids[i].table = xstrdup(PQgetvalue(r, (int)i, 2));
		}
		policy_set_children(kids, n);
		if (n > 0)
			log_debug("column policies also cover %zu inheritance children and partitions", n);
	} else {
		log_warnx("cannot resolve children of policy tables: %s", PQresultErrorMessage(r));
	}
	PQclear(r);
	/* Views (and views of views) that read a policy table or any of its descendants. */
	r = PQexecParams(db->conn, POLICY_TREE_CTE
	    ", base AS (SELECT oid FROM tree), "
	    "deps(oid) AS (SELECT r.ev_class FROM pg_catalog.pg_depend d "
	    "JOIN pg_catalog.pg_rewrite r ON r.oid = d.objid "
	    "WHERE d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass "
	    "AND d.refobjid IN (SELECT oid FROM base) AND r.ev_class NOT IN (SELECT oid FROM base) "
	    "UNION SELECT r.ev_class FROM pg_catalog.pg_depend d "
	    "JOIN pg_catalog.pg_rewrite r ON r.oid = d.objid JOIN deps ON d.refobjid = deps.oid "
	    "WHERE d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass AND r.ev_class <> deps.oid) "
	    "SELECT DISTINCT n.nspname || '.' || c.relname FROM deps "
	    "JOIN pg_catalog.pg_class c ON c.oid = deps.oid "
	    "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace",
	    3, NULL, tree_params, NULL, NULL, 0);
	if (PQresultStatus(r) == PGRES_TUPLES_OK) {
		n_views = (size_t)PQntuples(r);
		views = xcalloc(n_views + 1, sizeof(char *));
		for (size_t i = 0; i < n_views; i++)
			views[i] = xstrdup(PQgetvalue(r, (int)i, 0));
		policy_set_views(views, n_views);
	}
	PQclear(r);
	buf_free(&sch);
	buf_free(&tbl);
	buf_free(&col);
	buf_free(&kind);
}

/*
 * Session defaults and the prepared fixed parts of every call, in one pipeline. Behind a
 * transaction pooler the session is not ours: only the (plain) role inspection runs.
 */
static bool
db_setup(struct db *db)
{
	static const char role_sql[] =
	    "SELECT current_user, r.rolsuper, r.rolbypassrls, "
	    "EXISTS (SELECT 1 FROM pg_catalog.pg_class c "
	    "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
	    "WHERE c.relkind IN ('r','p') AND n.nspname NOT IN ('pg_catalog','information_schema') "
	    "AND n.nspname NOT LIKE 'pg\\_toast%' "
	    "AND pg_catalog.has_table_privilege(c.oid, 'INSERT,UPDATE,DELETE,TRUNCATE')), "
	    "pg_catalog.current_setting('server_version'), pg_catalog.current_database() "
	    "FROM pg_catalog.pg_roles r WHERE r.rolname = current_user";
	static const struct { const char *name, *sql; int nparams; } prepared[] = {
		{ "pgmcp_begin_ro", "BEGIN READ ONLY", 0 },
		{ "pgmcp_begin_rw", "BEGIN READ WRITE", 0 },
		{ "pgmcp_rollback", "ROLLBACK", 0 },
		{ "pgmcp_commit", "COMMIT", 0 },
		{ "pgmcp_limits", "SELECT pg_catalog.set_config('statement_timeout', $1, true)", 1 },
	};
	const struct config *cfg = db->cfg;
	char st[32], lt[32], it[32];
	const char *params[3] = { st, lt, it };
	PGconn *conn = db->conn;
	PGresult *r;
	bool ok = true;
	bool pooled = cfg->pooler == POOLER_TRANSACTION;
	size_t expected = 0;

	format_duration_ms(cfg->statement_timeout_ms, st, sizeof(st));
	format_duration_ms(cfg->lock_timeout_ms, lt, sizeof(lt));
	format_duration_ms(cfg->idle_in_transaction_timeout_ms, it, sizeof(it));
	PQsetNoticeProcessor(conn, notice_to_log, NULL);
	if (pooled && db->inspected)
		return true;

	if (!PQenterPipelineMode(conn))
		return false;
	if (!pooled) {
		PQsendQueryParams(conn, SETTINGS_SQL("false"), 3, NULL, params, NULL, NULL, 0);
		/*
		 * A statement that ignores cancellation is abandoned by closing the connection; with
		 * this (PostgreSQL 14+) its backend notices within a second and ends, instead of
		 * running on unseen. Absent on older servers, hence the pg_settings lookup.
		 */
		PQsendQueryParams(conn, "SELECT pg_catalog.set_config(name, '1s', false) "
		    "FROM pg_catalog.pg_settings WHERE name = 'client_connection_check_interval'",
		    0, NULL, NULL, NULL, NULL, 0);
		for (size_t i = 0; i < sizeof(prepared) / sizeof(prepared[0]); i++)
			PQsendPrepare(conn, prepared[i].name, prepared[i].sql, prepared[i].nparams,
			    NULL);
		expected = 2 + sizeof(prepared) / sizeof(prepared[0]);
	}
	if (!db->inspected) {
		PQsendQueryParams(conn, role_sql, 0, NULL, NULL, NULL, NULL, 0);
		expected++;
	}
	PQpipelineSync(conn);
	if (PQflush(conn) != 0)
		ok = false;

	for (size_t i = 0; ok && i < expected; i++) {
		bool first = true;

		while ((r = PQgetResult(conn)) != NULL) {
			if (first && !exec_ok(conn, r)) {
				const char *hint = pooler_hint(r);

				buf_reset(&db->last_error);
				buf_printf(&db->last_error, "setting up the session failed: %.*s",
				    (int)strcspn(PQresultErrorMessage(r), "\n"),
				    PQresultErrorMessage(r));
				if (hint != NULL)
					buf_printf(&db->last_error, " (%s)", hint);
				ok = false;
			}
			if (i == expected - 1 && !db->inspected) {
				inspect_role(db, r);
				if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
					snprintf(db->server_version, sizeof(db->server_version), "%s",
					    PQgetvalue(r, 0, 4));
			}
			first = false;
			PQclear(r);
		}
	}
	/* Drain to the sync point whatever happened above. */
	while ((r = PQgetResult(conn)) != NULL) {
		ExecStatusType s = PQresultStatus(r);

		PQclear(r);
		if (s == PGRES_PIPELINE_SYNC)
			break;
		if (PQstatus(conn) == CONNECTION_BAD)
			break;
	}
	if (!PQexitPipelineMode(conn))
		ok = false;
	if (ok)
		db->inspected = true;
	if (db->server_version[0] == '\0')
		snprintf(db->server_version, sizeof(db->server_version), "%s",
		    PQparameterStatus(conn, "server_version") ?
		    PQparameterStatus(conn, "server_version") : "");
	return ok;
}

static void
schedule_retry(struct db *db)
{
	db->backoff_us = db->backoff_us == 0 ? BACKOFF_FIRST_US : db->backoff_us * 2;
	if (db->backoff_us > BACKOFF_MAX_US)
		db->backoff_us = BACKOFF_MAX_US;
	db->next_attempt_us = now_us() + db->backoff_us;
}

/* The connection is up: prepare the session. False (with why filled) if that failed. */
static bool
finish_connect(struct db *db, struct buf *why)
{
	db->connecting = false;
	if (!db_setup(db)) {
		if (db->last_error.len == 0)
			set_conn_error(db, "setting up the session failed: ");
		db_drop(db);
		schedule_retry(db);
		log_warnx("cannot set up the database session: %s", buf_cstr(&db->last_error));
		if (why != NULL)
			buf_printf(why, "database unavailable: %s", buf_cstr(&db->last_error));
		return false;
	}
	db->cancel = PQgetCancel(db->conn);
	resolve_policies(db);
	if (db->connected_before && db->reconnects != NULL)
		(*db->reconnects)++;
	db->connected_before = true;
	db->ready = true;
	db->backoff_us = 0;
	db->next_attempt_us = 0;
	return true;
}

static void
connect_failed(struct db *db, struct buf *why)
{
	schedule_retry(db);
	log_warnx("cannot connect to the database: %s", buf_cstr(&db->last_error));
	if (why != NULL)
		buf_printf(why, "database unavailable: %s (next connection attempt in %lld ms)",
		    buf_cstr(&db->last_error), (long long)(db->backoff_us / 1000));
}

static void
connect_timed_out(struct db *db)
{
	buf_reset(&db->last_error);
	buf_printf(&db->last_error, "timed out after %lld ms connecting",
	    (long long)db->cfg->connect_timeout_ms);
	db_drop(db);
}

/*
 * Advances the pending connection attempt once, without blocking. True when it has ended:
 * connected and set up (db->ready), or failed with a retry scheduled (why filled, if given).
 * The one place PQconnectPoll's answers are handled, for db_ensure's wait and the idle loop.
 */
static bool
connect_step(struct db *db, struct buf *why)
{
	PostgresPollingStatusType st;

	if (db->conn == NULL) {	/* db_connect_start failed at once */
		connect_failed(db, why);
		return true;
	}
	st = PQconnectPoll(db->conn);
	if (st == PGRES_POLLING_OK) {
		finish_connect(db, why);
		return true;
	}
	if (st == PGRES_POLLING_FAILED) {
		set_conn_error(db, "");
		db_drop(db);
		connect_failed(db, why);
		return true;
	}
	db->poll_writing = st == PGRES_POLLING_WRITING;
	return false;
}

void
db_count_reconnects(struct db *db, uint64_t *counter)
{
	db->reconnects = counter;
}

bool
db_ensure(struct db *db, struct buf *why)
{
	int64_t deadline;

	if (db->ready && db->conn != NULL && PQstatus(db->conn) == CONNECTION_OK)
		return true;
	if (db->ready) {	/* it was up and broke */
		set_conn_error(db, "lost the connection: ");
		log_warnx("database connection lost, reconnecting: %s", buf_cstr(&db->last_error));
		db_drop(db);
	}
	if (!db->connecting) {
		int64_t now = now_us();

		if (now < db->next_attempt_us) {
			buf_printf(why, "database unavailable: %s (next connection attempt in %lld ms)",
			    db->last_error.len ? buf_cstr(&db->last_error) : "not connected",
			    (long long)((db->next_attempt_us - now) / 1000));
			return false;
		}
		db_connect_start(db);
	}
	/*
	 * An attempt started while nobody was waiting (at fork, or in --stdio before the first
	 * call) may have sat unpolled past its deadline: the caller still gets a full timeout.
	 */
	deadline = db->connect_deadline_us;
	if (deadline < now_us() + db->cfg->connect_timeout_ms * 1000)
		deadline = now_us() + db->cfg->connect_timeout_ms * 1000;
	while (!connect_step(db, why)) {
		if (!wait_socket(db->conn, db->poll_writing, deadline)) {
			connect_timed_out(db);
			connect_failed(db, why);
			return false;
		}
	}
	return db->ready;
}

int
db_connect_fd(struct db *db, short *events)
{
	if (!db->connecting || db->conn == NULL)
		return -1;
	*events = db->poll_writing ? POLLOUT : POLLIN;
	return PQsocket(db->conn);
}

void
db_connect_step(struct db *db)
{
	if (db->connecting && db->conn != NULL)
		(void)connect_step(db, NULL);
}

int
db_tick(struct db *db)
{
	int64_t now = now_us();

	if (db->ready)
		return -1;
	if (db->connecting) {
		if (now >= db->connect_deadline_us) {
			connect_timed_out(db);
			connect_failed(db, NULL);
		} else {
			return (int)((db->connect_deadline_us - now) / 1000) + 1;
		}
	}
	if (!db->connecting && now >= db->next_attempt_us) {
		db_connect_start(db);
		if (db->connecting)
			return (int)((db->connect_deadline_us - now_us()) / 1000) + 1;
		connect_failed(db, NULL);	/* at once (a malformed DSN): wait for the retry */
		now = now_us();
	}
	if (!db->connecting && !db->ready)
		return (int)((db->next_attempt_us - now) / 1000) + 1;
	return -1;
}

void
db_result_init(struct db_result *res)
{
	memset(res, 0, sizeof(*res));
}

void
db_result_reset(struct db_result *res)
{
	buf_reset(&res->columns);
	buf_reset(&res->rows);
	buf_reset(&res->value);
	buf_reset(&res->message);
	buf_reset(&res->detail);
	buf_reset(&res->hint);
	buf_reset(&res->context);
	res->status = DB_OK;
	res->row_count = 0;
	res->truncated = false;
	res->truncated_by = NULL;
	res->command[0] = '\0';
	res->elapsed_us = 0;
	res->sqlstate[0] = '\0';
	res->position = 0;
	res->timed_out = false;
}

void
db_result_free(struct db_result *res)
{
	buf_free(&res->columns);
	buf_free(&res->rows);
	buf_free(&res->value);
	buf_free(&res->message);
	buf_free(&res->detail);
	buf_free(&res->hint);
	buf_free(&res->context);
}

static void
send_cancel(struct call *c)
{
	char err[256];

	if (c->db->cancel != NULL && !PQcancel(c->db->cancel, err, sizeof(err)))
		log_warnx("could not send a cancel request: %s", err);
}

static void
progress(struct call *c, const char *what)
{
	if (c->waiter != NULL && c->waiter->on_progress != NULL)
		c->waiter->on_progress(c->waiter->ctx, what, c->res->row_count,
		    now_us() - c->start_us);
	c->last_progress_us = now_us();
}

/* The next result of the pipeline, watching the client and the clock while PostgreSQL works. */
static PGresult *
next_result(struct call *c)
{
	PGconn *conn = c->db->conn;

	while (!c->broken && PQisBusy(conn)) {
		struct pollfd pfd[3] = {
			{ PQsocket(conn), POLLIN, 0 },
			{ c->watch_fd, POLLIN, 0 },
			{ c->watch_fd2, POLLIN, 0 },
		};
		int64_t now = now_us();
		int rc;

		if (now > c->deadline_us + SERVER_GRACE_US) {
			c->broken = true;
			c->gave_up = true;
			break;
		}
		if (now > c->deadline_us && !c->internal_cancel && !c->client_cancelled) {
			c->internal_cancel = true;	/* statement_timeout should have fired */
			send_cancel(c);
		}
		rc = poll(pfd, 3, (int)(PROGRESS_EVERY_US / 1000));
		if (rc < 0 && errno != EINTR) {
			c->broken = true;
			break;
		}
		if ((pfd[1].fd >= 0 && pfd[1].revents != 0) || (pfd[2].fd >= 0 && pfd[2].revents != 0)) {
			int verdict = c->waiter->on_readable(c->waiter->ctx);

			if (verdict != 0)
				c->watch_fd = c->watch_fd2 = -1;	/* cancelled, or nothing more will come */
			if (verdict > 0) {
				c->client_cancelled = true;
				send_cancel(c);
			}
		}
		if (pfd[0].revents != 0 && !PQconsumeInput(conn)) {
			c->broken = true;
			break;
		}
		if (now_us() - c->last_progress_us >= PROGRESS_EVERY_US)
			progress(c, "waiting for PostgreSQL");
	}
	if (c->broken)
		return NULL;
	return PQgetResult(conn);
}

#define WITHHELD "[withheld while column policies are configured: it can show row values]"

/*
 * With column policies configured, a database error must not carry row values past them. The
 * fields PostgreSQL fills with values, and what becomes of each:
 *  - DETAIL ("Failing row contains (...)", "Key (email)=(...) already exists") and CONTEXT
 *    (which can quote values, e.g. the arguments of a function): replaced by a note;
 *  - the message of a data exception (SQLSTATE class 22: invalid input syntax for type
 *    integer: "...", value "..." is out of range ...): the quoted value, from the first to the
 *    last double quote, is replaced. Other messages name objects, not values.
 * SQLSTATE, HINT and the position (in the caller's own SQL) are kept.
 */
static void
redact_error(struct db_result *res)
{
	const char *m = buf_cstr(&res->message);
	const char *open = strchr(m, '"'), *close = strrchr(m, '"');

	if (res->detail.len) {
		buf_reset(&res->detail);
		buf_puts(&res->detail, WITHHELD);
	}
	if (res->context.len) {
		buf_reset(&res->context);
		buf_puts(&res->context, WITHHELD);
	}
	if (strncmp(res->sqlstate, "22", 2) == 0 && open != NULL) {
		struct buf msg = BUF_INIT;

		buf_printf(&msg, "%.*s[value withheld]%s", (int)(open - m), m,
		    close != NULL && close > open ? close + 1 : "");
		buf_reset(&res->message);
		buf_puts(&res->message, buf_cstr(&msg));
		buf_free(&msg);
	}
}

static void
copy_error(struct call *c, PGresult *r)
{
	struct db_result *res = c->res;
	const char *f;

	if (res->status == DB_SQL_ERROR)
		return;	/* the first error is the one that matters */
	res->status = DB_SQL_ERROR;
	f = PQresultErrorField(r, PG_DIAG_SQLSTATE);
	snprintf(res->sqlstate, sizeof(res->sqlstate), "%s", f ? f : "XX000");
	f = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
	buf_puts(&res->message, f ? f : PQresultErrorMessage(r));
	if ((f = PQresultErrorField(r, PG_DIAG_MESSAGE_DETAIL)) != NULL)
		buf_puts(&res->detail, f);
	if ((f = PQresultErrorField(r, PG_DIAG_MESSAGE_HINT)) != NULL)
		buf_puts(&res->hint, f);
	else if (c->db->cfg->pooler == POOLER_NONE && (f = pooler_hint(r)) != NULL) {
		buf_puts(&res->hint, f);
		warn_pooler(c->db, f);
	}
	if ((f = PQresultErrorField(r, PG_DIAG_CONTEXT)) != NULL)
		buf_puts(&res->context, f);
	if ((f = PQresultErrorField(r, PG_DIAG_STATEMENT_POSITION)) != NULL) {
		int pos = atoi(f);

		if (c->req->limit_wrap) {
			pos -= WRAP_PREFIX_LEN;
			if (pos < 1)
				pos = 1;
		}
		res->position = pos;
	}
	if (strcmp(res->sqlstate, "57014") == 0 && strstr(buf_cstr(&res->message), "statement timeout"))
		res->timed_out = true;
	if (c->db->cfg->policies.n > 0)
		redact_error(res);
}

/* True if name is already the key of an earlier column, or the real name of a later one. */
static bool
name_taken(char **assigned, PGresult *r, int col, const char *name)
{
	for (int j = 0; j < col; j++)
		if (strcmp(assigned[j], name) == 0)
			return true;
	for (int j = col + 1; j < PQnfields(r); j++)
		if (strcmp(PQfname(r, j), name) == 0 && strcmp(PQfname(r, col), name) != 0)
			return true;
	return false;
}

static const char *
cached_type_name(struct db *db, pg_oid oid)
{
	for (size_t i = 0; i < db->ntypes; i++)
		if (db->types[i].oid == oid)
			return db->types[i].name;
	return NULL;
}

/* The columns array: built-in type names, else names learnt from pg_type for this database. */
static void
write_columns(struct call *c)
{
	struct jw w;

	buf_reset(&c->res->columns);
	jw_init(&w, &c->res->columns);
	jw_arr_begin(&w);
	for (int i = 0; i < c->ncols; i++) {
		const char *tname = c->types[i].name ? c->types[i].name :
		    cached_type_name(c->db, c->oids[i]);

		jw_obj_begin(&w);
		jw_kstr(&w, "name", c->names[i]);
		jw_key(&w, "type");
		if (tname != NULL) {
			jw_str(&w, tname);
		} else {
			char oid[32];

			c->unknown_types = true;
			snprintf(oid, sizeof(oid), "oid:%u", c->oids[i]);
			jw_str(&w, oid);
		}
		jw_obj_end(&w);
	}
	jw_arr_end(&w);
}

/*
 * Enums, domains, composites and extension types have OIDs only this database knows. They
 * are looked up once, after the call (the pipeline is done), and remembered.
 */
static void
learn_type_names(struct call *c)
{
	struct db *db = c->db;
	struct buf list = BUF_INIT;
	const char *params[1];
	PGresult *r;

	buf_putc(&list, '{');
	for (int i = 0; i < c->ncols; i++)
		if (c->types[i].name == NULL && cached_type_name(db, c->oids[i]) == NULL)
			buf_printf(&list, "%s%u", list.len > 1 ? "," : "", c->oids[i]);
	buf_putc(&list, '}');
	params[0] = buf_cstr(&list);
	r = PQexecParams(db->conn, "SELECT t.oid, pg_catalog.format_type(t.oid, NULL) "
	    "FROM pg_catalog.pg_type t WHERE t.oid = ANY($1::pg_catalog.oid[])", 1, NULL, params,
	    NULL, NULL, 0);
	if (PQresultStatus(r) == PGRES_TUPLES_OK) {
		for (int i = 0; i < PQntuples(r) && db->ntypes < DB_TYPE_CACHE; i++) {
			db->types[db->ntypes].oid = (pg_oid)strtoul(PQgetvalue(r, i, 0), NULL, 10);
			snprintf(db->types[db->ntypes].name, sizeof(db->types[0].name), "%s",
			    PQgetvalue(r, i, 1));
			db->ntypes++;
		}
	}
	PQclear(r);
	buf_free(&list);
	c->unknown_types = false;
	write_columns(c);
}

/* Column names as object keys; repeated names get a _2, _3 suffix so no key is lost. */
static void
describe_columns(struct call *c, PGresult *r)
{
	c->ncols = PQnfields(r);
	c->names = xcalloc((size_t)c->ncols + 1, sizeof(*c->names));
	c->mask = xcalloc((size_t)c->ncols + 1, sizeof(*c->mask));
	c->oids = xcalloc((size_t)c->ncols + 1, sizeof(*c->oids));
	c->types = xcalloc((size_t)c->ncols + 1, sizeof(*c->types));
	c->key_off = xcalloc((size_t)c->ncols + 1, sizeof(*c->key_off));
	for (int i = 0; i < c->ncols; i++) {
		const char *name = PQfname(r, i);
		char unique[160];

		snprintf(unique, sizeof(unique), "%s", name);
		for (int k = 2; name_taken(c->names, r, i, unique); k++)
			snprintf(unique, sizeof(unique), "%s_%d", name, k);
		c->names[i] = xstrdup(unique);
		c->oids[i] = PQftype(r, i);
		for (size_t k = 0; k < c->db->n_pcols; k++) {
			const struct policy_col *pc = &c->db->pcols[k];

			if (PQftable(r, i) == pc->table && PQftablecol(r, i) == pc->attnum) {
				if (pc->deny)
					c->denied = PQfname(r, i);
				else
					c->mask[i] = pc->mask_with;
			}
		}
		pgjson_type_of(c->oids[i], &c->types[i]);
		c->key_off[i] = c->keys.len;
		buf_putc(&c->keys, '"');
		json_escape(&c->keys, unique, strlen(unique));
		buf_puts(&c->keys, "\":");
	}
	c->key_off[c->ncols] = c->keys.len;
	write_columns(c);
	buf_putc(&c->res->rows, '[');
}

static void
take_row(struct call *c, PGresult *r)
{
	struct db_result *res = c->res;
	struct buf *row = &c->row;

	if (c->types == NULL)
		describe_columns(c, r);
	if (res->truncated)
		return;
	if (res->row_count >= c->req->max_rows) {
		res->truncated = true;
		res->truncated_by = "max_rows";
		return;
	}
	buf_reset(row);
	buf_putc(row, res->row_count ? ',' : '{');
	if (res->row_count)
		buf_putc(row, '{');
	for (int i = 0; i < c->ncols; i++) {
		if (i)
			buf_putc(row, ',');
		buf_append(row, c->keys.data + c->key_off[i], c->key_off[i + 1] - c->key_off[i]);
		if (c->mask[i] != NULL) {
			buf_putc(row, '"');
			json_escape(row, c->mask[i], strlen(c->mask[i]));
			buf_putc(row, '"');
		} else if (PQgetisnull(r, 0, i))
			buf_puts(row, "null");
		else
			pgjson_value(row, &c->types[i], PQgetvalue(r, 0, i), (size_t)PQgetlength(r, 0, i));
	}
	buf_putc(row, '}');
	if (c->req->single_value && res->row_count == 0 && c->ncols > 0 && c->mask[0] != NULL) {
		/* a masked value is masked here too, as in rows */
		buf_putc(&res->value, '"');
		json_escape(&res->value, c->mask[0], strlen(c->mask[0]));
		buf_putc(&res->value, '"');
	} else if (c->req->single_value && res->row_count == 0 && c->ncols > 0 &&
	    !PQgetisnull(r, 0, 0)) {
		pgjson_value(&res->value, &c->types[0], PQgetvalue(r, 0, 0),
		    (size_t)PQgetlength(r, 0, 0));
	}
	if (res->rows.len + row->len + 1 > (size_t)c->req->max_result_bytes) {
		res->truncated = true;
		res->truncated_by = "max_result_bytes";
		return;
	}
	buf_append(&res->rows, row->data, row->len);
	res->row_count++;
}

static void
handle_statement_result(struct call *c, PGresult *r)
{
	struct db_result *res = c->res;

	switch (PQresultStatus(r)) {
	case PGRES_SINGLE_TUPLE:
		take_row(c, r);
		/* Rows beyond the limit are only drained; stop the server producing them. */
		if (res->truncated && !c->req->write && !c->internal_cancel && !c->req->limit_wrap) {
			c->internal_cancel = true;
			send_cancel(c);
		}
		if (res->row_count == 1 || now_us() - c->last_progress_us >= PROGRESS_EVERY_US)
			progress(c, "rows arriving");
		break;
	case PGRES_TUPLES_OK:
		if (c->types == NULL)
			describe_columns(c, r);
		/* Under the LIMIT wrapper the server's count includes the probe row. */
		if (c->req->limit_wrap)
			snprintf(res->command, sizeof(res->command), "SELECT %lld",
			    (long long)res->row_count);
		else
			snprintf(res->command, sizeof(res->command), "%s", PQcmdStatus(r));
		break;
	case PGRES_COMMAND_OK:
		snprintf(res->command, sizeof(res->command), "%s", PQcmdStatus(r));
		break;
	case PGRES_EMPTY_QUERY:
		res->status = DB_SQL_ERROR;
		snprintf(res->sqlstate, sizeof(res->sqlstate), "42601");
		buf_puts(&res->message, "the SQL text contains no statement");
		break;
	case PGRES_FATAL_ERROR:
		if (c->internal_cancel && res->truncated) {
			const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);

			if (state != NULL && strcmp(state, "57014") == 0)
				break;	/* our own cancel of rows nobody will read */
		}
		copy_error(c, r);
		break;
	case PGRES_PIPELINE_ABORTED:
		break;
	default:
		copy_error(c, r);
		break;
	}
}

enum step { STEP_BEGIN, STEP_LIMITS, STEP_STATEMENT, STEP_SYNC, STEP_END };

static void
run_pipeline(struct call *c, const char *sql)
{
	const struct db_request *req = c->req;
	const struct config *cfg = c->db->cfg;
	PGconn *conn = c->db->conn;
	bool pooled = cfg->pooler == POOLER_TRANSACTION;
	enum step steps[6];
	int nsteps = 0;
	char st[32], lt[32], it[32];
	const char *limit_params[3] = { st, lt, it };
	PGresult *r;

	if (!PQenterPipelineMode(conn)) {
		c->broken = true;
		return;
	}
	if (pooled) {
		/*
		 * The server connection is ours from BEGIN to the end of the transaction only:
		 * unnamed statements, and every setting again, local to this transaction.
		 */
		format_duration_ms(req->statement_timeout_ms > 0 ? req->statement_timeout_ms :
		    cfg->statement_timeout_ms, st, sizeof(st));
		format_duration_ms(cfg->lock_timeout_ms, lt, sizeof(lt));
		format_duration_ms(cfg->idle_in_transaction_timeout_ms, it, sizeof(it));
		PQsendQueryParams(conn, req->write ? "BEGIN READ WRITE" : "BEGIN READ ONLY", 0, NULL,
		    NULL, NULL, NULL, 0);
		steps[nsteps++] = STEP_BEGIN;
		PQsendQueryParams(conn, SETTINGS_SQL("true"), 3, NULL, limit_params, NULL, NULL, 0);
		steps[nsteps++] = STEP_LIMITS;
	} else {
		PQsendQueryPrepared(conn, req->write ? "pgmcp_begin_rw" : "pgmcp_begin_ro", 0, NULL,
		    NULL, NULL, 0);
		steps[nsteps++] = STEP_BEGIN;
		if (req->statement_timeout_ms > 0 &&
		    req->statement_timeout_ms != cfg->statement_timeout_ms) {
			format_duration_ms(req->statement_timeout_ms, st, sizeof(st));
			PQsendQueryPrepared(conn, "pgmcp_limits", 1, limit_params, NULL, NULL, 0);
			steps[nsteps++] = STEP_LIMITS;
		}
	}
	PQsendQueryParams(conn, sql, req->nparams, NULL, req->params, NULL, NULL, 0);
	steps[nsteps++] = STEP_STATEMENT;
	PQpipelineSync(conn);
	steps[nsteps++] = STEP_SYNC;
	/*
	 * After the sync, so it runs even when the statement failed and aborted the transaction.
	 * (A pooler keeps the server connection across that sync: the transaction is still open.)
	 */
	if (pooled)
		PQsendQueryParams(conn, req->write ? "COMMIT" : "ROLLBACK", 0, NULL, NULL, NULL, NULL,
		    0);
	else
		PQsendQueryPrepared(conn, req->write ? "pgmcp_commit" : "pgmcp_rollback", 0, NULL,
		    NULL, NULL, 0);
	steps[nsteps++] = STEP_END;
	PQpipelineSync(conn);
	steps[nsteps++] = STEP_SYNC;
	if (PQflush(conn) != 0) {
		c->broken = true;
		return;
	}
	progress(c, "statement sent");

	for (int i = 0; i < nsteps && !c->broken; i++) {
		if (steps[i] == STEP_SYNC) {
			r = next_result(c);
			if (r == NULL)
				break;
			if (PQresultStatus(r) != PGRES_PIPELINE_SYNC)
				c->broken = true;	/* out of step: don't trust this connection */
			PQclear(r);
			continue;
		}
		if (steps[i] == STEP_STATEMENT)
			PQsetSingleRowMode(conn);
		while ((r = next_result(c)) != NULL) {
			switch (steps[i]) {
			case STEP_STATEMENT:
				if (PQresultStatus(r) != PGRES_FATAL_ERROR &&
				    PQresultStatus(r) != PGRES_PIPELINE_ABORTED)
					c->got_result = true;
				handle_statement_result(c, r);
				break;
			case STEP_BEGIN:
			case STEP_LIMITS:
			case STEP_END:
				if (PQresultStatus(r) == PGRES_FATAL_ERROR)
					copy_error(c, r);
				break;
			case STEP_SYNC:
				break;
			}
			PQclear(r);
		}
	}
	if (!c->broken && !PQexitPipelineMode(conn))
		c->broken = true;
}

/* After every call the connection must be idle outside a transaction, or it is replaced. */
static void
settle_connection(struct db *db)
{
	PGresult *r;

	if (db->conn == NULL || PQstatus(db->conn) != CONNECTION_OK)
		return;
	if (PQpipelineStatus(db->conn) != PQ_PIPELINE_OFF) {
		log_warnx("connection left in pipeline mode; reconnecting");
		db_drop(db);
		return;
	}
	if (PQtransactionStatus(db->conn) == PQTRANS_IDLE)
		return;
	r = PQexec(db->conn, "ROLLBACK");
	PQclear(r);
	if (PQtransactionStatus(db->conn) != PQTRANS_IDLE) {
		log_warnx("connection left inside a transaction; reconnecting");
		db_drop(db);
	}
}

/*
 * A committed write can leave session state behind that ROLLBACK would have undone: a
 * function calling set_config(..., false), temporary tables, advisory locks, LISTEN. Start
 * the next call from a clean session (writes are rare; this costs one round trip and the
 * re-preparation of the fixed statements).
 */
static void
reset_after_write(struct db *db)
{
	PGresult *r;
	bool ok;

	/*
	 * Behind a transaction pooler DISCARD ALL would land on whichever server connection is
	 * free, not the one the write used; and no call relies on session state there anyway.
	 */
	if (db->cfg->pooler == POOLER_TRANSACTION)
		return;
	r = PQexec(db->conn, "DISCARD ALL");
	ok = PQresultStatus(r) == PGRES_COMMAND_OK;
	PQclear(r);
	if (!ok || !db_setup(db)) {
		log_warnx("could not reset the session after a write; reconnecting");
		db_drop(db);
	}
}

static void
free_call(struct call *c)
{
	for (int i = 0; i < c->ncols && c->names != NULL; i++)
		free(c->names[i]);
	free(c->names);
	free(c->mask);
	free(c->oids);
	free(c->types);
	free(c->key_off);
	buf_free(&c->keys);
	buf_free(&c->row);
}

void
db_call(struct db *db, const struct db_request *req, const struct db_waiter *waiter,
    struct db_result *res)
{
	struct buf wrapped = BUF_INIT;
	const char *sql = req->sql;
	int64_t timeout_ms = req->statement_timeout_ms > 0 ? req->statement_timeout_ms :
	    db->cfg->statement_timeout_ms;
	uint64_t epoch = db->policy_epoch;

	db_result_reset(res);
	if (req->limit_wrap) {
		buf_puts(&wrapped, WRAP_PREFIX);
		buf_puts(&wrapped, req->sql);
		buf_printf(&wrapped, "\n) AS pgmcp_result LIMIT %lld", (long long)req->max_rows + 1);
		sql = buf_cstr(&wrapped);
	}
	for (int attempt = 0; attempt < 2; attempt++) {
		struct call c = { 0 };

		c.db = db;
		c.req = req;
		c.waiter = waiter;
		c.res = res;
		c.watch_fd = waiter != NULL && waiter->on_readable != NULL ? waiter->fd : -1;
		c.watch_fd2 = waiter != NULL && waiter->on_readable != NULL ? waiter->fd2 : -1;
		c.start_us = c.last_progress_us = now_us();
		c.deadline_us = timeout_ms > 0 ? c.start_us + timeout_ms * 1000 + 2000000 : INT64_MAX / 2;

		db_result_reset(res);
		if (!db_ensure(db, &res->message)) {
			res->status = DB_UNAVAILABLE;
			break;
		}
		if (db->policy_epoch != epoch) {
			/*
			 * Connected during this call: the statement was checked before the children and
			 * views of policy tables were learnt. Check it again against those names.
			 */
			char why[320];

			epoch = db->policy_epoch;
			if (!policy_check_learnt(req->sql, why, sizeof(why))) {
				res->status = DB_SQL_ERROR;
				snprintf(res->sqlstate, sizeof(res->sqlstate), "42501");
				buf_puts(&res->message, why);
				break;
			}
		}
		run_pipeline(&c, sql);
		res->elapsed_us = now_us() - c.start_us;
		if (res->rows.len > 0 || c.types != NULL)
			buf_putc(&res->rows, ']');
		if (c.client_cancelled && res->status != DB_OK)
			res->status = DB_CANCELLED;
		if (c.denied != NULL && res->status == DB_OK) {
			/* The parser check should have refused this; the rows never leave anyway. */
			char col[128];

			snprintf(col, sizeof(col), "%s", c.denied);
			db_result_reset(res);
			res->status = DB_SQL_ERROR;
			snprintf(res->sqlstate, sizeof(res->sqlstate), "42501");
			buf_printf(&res->message, "column %s comes from a column denied by policy", col);
		}
		if (c.broken || PQstatus(db->conn) != CONNECTION_OK) {
			/* A statement that outlived its timeout and a cancel would only do it again. */
			bool retry = !c.got_result && !req->write && attempt == 0 &&
			    !c.client_cancelled && !c.gave_up;

			if (c.gave_up) {
				buf_reset(&db->last_error);
				buf_printf(&db->last_error, "the statement ran past its %lld ms "
				    "statement_timeout and ignored the cancel request for %d s, so the "
				    "connection was closed", (long long)timeout_ms,
				    SERVER_GRACE_US / 1000000);
			} else {
				set_conn_error(db, "lost the connection: ");
			}
			log_warnx("database connection failed during a call%s: %s",
			    retry ? " (retrying once on a new connection)" : "",
			    buf_cstr(&db->last_error));
			db_drop(db);
			db->next_attempt_us = 0;
			free_call(&c);
			if (retry)
				continue;
			db_result_reset(res);
			res->status = DB_UNAVAILABLE;
			buf_printf(&res->message, "database unavailable: %s%s", buf_cstr(&db->last_error),
			    req->write ? " (the write may or may not have been committed)" : "");
			break;
		}
		settle_connection(db);
		if (req->write && db_is_connected(db))
			reset_after_write(db);
		if (c.unknown_types && db_is_connected(db))
			learn_type_names(&c);
		free_call(&c);
		break;
	}
	buf_free(&wrapped);
}
