/*
 * test_guard.c: the statement guard (server/guard.c, libpg_query) under each policy.
 * GUARD_READ_ONLY allows SELECT/VALUES/TABLE/EXPLAIN SELECT/SHOW and refuses DML, DDL,
 * several statements, SET, COPY, DO, locking clauses, SELECT INTO, writable CTEs, EXPLAIN of
 * writes, and denied functions wherever they appear (qualified, unqualified, upper case, in
 * FROM, in subqueries, in arguments, deep in an expression). Also: syntax errors with
 * error_position, empty text, a NUL byte, stmt_location/stmt_len without the trailing
 * semicolon, has_params/max_param, GUARD_PLAN (DML but not DDL), GUARD_WRITE (DML and DDL
 * but not session or server commands or pg_terminate_backend; nextval allowed), long texts
 * past the cache, cached verdicts equal to fresh ones, column policies (deny, mask, the holes
 * t/0160 found), and guard_shutdown at the end.
 */
#include <stdlib.h>
#include <string.h>

#include "guard.h"
#include "policy.h"
#include "tap.h"

static const char *const policy_names[] = { "read-only", "plan", "write" };

static void
check(enum guard_policy p, const char *sql, struct guard_verdict *v)
{
	guard_check(p, sql, strlen(sql), v);
}

static void
allowed(enum guard_policy p, const char *sql, enum guard_kind kind)
{
	struct guard_verdict v;

	check(p, sql, &v);
	if (!ok(v.allowed && v.kind == kind, "%s allows: %s", policy_names[p], sql))
		diag("allowed %d kind %d (want %d) reason: %s", v.allowed, (int)v.kind, (int)kind,
		    v.reason);
}

/* Refused with SQLSTATE 42501 and a reason that mentions want (if given). */
static void
refused(enum guard_policy p, const char *sql, const char *want)
{
	struct guard_verdict v;

	check(p, sql, &v);
	if (!ok(!v.allowed && v.sqlstate != NULL && strcmp(v.sqlstate, "42501") == 0 &&
	    (want == NULL || strstr(v.reason, want) != NULL), "%s refuses: %s", policy_names[p], sql))
		diag("allowed %d sqlstate %s reason: %s (want \"%s\")", v.allowed,
		    v.sqlstate ? v.sqlstate : "(null)", v.reason, want ? want : "");
}

static void
test_read_only_allowed(void)
{
	allowed(GUARD_READ_ONLY, "SELECT 1", GUARD_KIND_SELECT);
	allowed(GUARD_READ_ONLY, "select a, b from t where a = 1 order by b limit 5", GUARD_KIND_SELECT);
	allowed(GUARD_READ_ONLY, "VALUES (1, 'a'), (2, 'b')", GUARD_KIND_SELECT);
	allowed(GUARD_READ_ONLY, "TABLE t", GUARD_KIND_SELECT);
	allowed(GUARD_READ_ONLY, "(SELECT 1) UNION ALL (SELECT 2)", GUARD_KIND_SELECT);
	allowed(GUARD_READ_ONLY, "WITH x AS (SELECT 1 AS a) SELECT a FROM x", GUARD_KIND_SELECT);
	allowed(GUARD_READ_ONLY, "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r "
	    "WHERE n < 5) SELECT * FROM r", GUARD_KIND_SELECT);
	allowed(GUARD_READ_ONLY, "SELECT * FROM t WHERE id IN (SELECT id FROM u)", GUARD_KIND_SELECT);
	allowed(GUARD_READ_ONLY, "SELECT now(), lower('X'), count(*) FROM generate_series(1, 3)",
	    GUARD_KIND_SELECT);
	allowed(GUARD_READ_ONLY, "SELECT 'pg_terminate_backend(1)', 'DELETE FROM t'",
	    GUARD_KIND_SELECT);
	allowed(GUARD_READ_ONLY, "SELECT \"nextval\" FROM t", GUARD_KIND_SELECT);
	allowed(GUARD_READ_ONLY, "SELECT '{\"FuncCall\":{\"funcname\":[{\"String\":{\"sval\":"
	    "\"pg_terminate_backend\"}}]}}'", GUARD_KIND_SELECT);
	allowed(GUARD_READ_ONLY, "SELECT 'x' AS \"DeleteStmt\", 1 AS \"lockingClause\"",
	    GUARD_KIND_SELECT);
	allowed(GUARD_READ_ONLY, "SELECT 1;", GUARD_KIND_SELECT);
	allowed(GUARD_READ_ONLY, "EXPLAIN SELECT * FROM t", GUARD_KIND_EXPLAIN);
	allowed(GUARD_READ_ONLY, "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) SELECT 1", GUARD_KIND_EXPLAIN);
	allowed(GUARD_READ_ONLY, "SHOW work_mem", GUARD_KIND_SHOW);
	allowed(GUARD_READ_ONLY, "SHOW ALL", GUARD_KIND_SHOW);
	allowed(GUARD_READ_ONLY, "SELECT x::regclass, current_setting('work_mem')",
	    GUARD_KIND_SELECT);
}

static void
test_read_only_refused(void)
{
	const enum guard_policy ro = GUARD_READ_ONLY;

	/* DML and DDL */
	refused(ro, "INSERT INTO t VALUES (1)", "INSERT");
	refused(ro, "UPDATE t SET a = 1", "UPDATE");
	refused(ro, "DELETE FROM t", "DELETE");
	refused(ro, "MERGE INTO t USING s ON t.a = s.a WHEN MATCHED THEN DELETE", "MERGE");
	refused(ro, "CREATE TABLE x (a int)", "CREATE TABLE");
	refused(ro, "CREATE TABLE x AS SELECT 1", NULL);
	refused(ro, "DROP TABLE t", "DROP");
	refused(ro, "ALTER TABLE t ADD COLUMN b int", "ALTER TABLE");
	refused(ro, "TRUNCATE t", "TRUNCATE");
	refused(ro, "GRANT SELECT ON t TO PUBLIC", NULL);
	refused(ro, "CREATE INDEX ON t (a)", NULL);
	refused(ro, "VACUUM t", NULL);
	/* several statements */
	refused(ro, "SELECT 1; SELECT 2", "exactly one statement");
	refused(ro, "SELECT 1; DELETE FROM t", "exactly one statement");
	refused(ro, "DELETE FROM t; SELECT 1", "exactly one statement");
	/* session and server commands */
	refused(ro, "SET work_mem = '1GB'", "SET");
	refused(ro, "SET LOCAL statement_timeout = 0", NULL);
	refused(ro, "RESET ALL", NULL);
	refused(ro, "BEGIN", NULL);
	refused(ro, "COMMIT", NULL);
	refused(ro, "COPY t TO STDOUT", "COPY");
	refused(ro, "COPY t FROM '/etc/passwd'", "COPY");
	refused(ro, "COPY (SELECT 1) TO PROGRAM 'id'", "COPY");
	refused(ro, "DO $$BEGIN PERFORM 1; END$$", "DO");
	refused(ro, "LISTEN chan", NULL);
	refused(ro, "NOTIFY chan", NULL);
	refused(ro, "PREPARE p AS SELECT 1", NULL);
	refused(ro, "EXECUTE p", NULL);
	refused(ro, "DECLARE c CURSOR FOR SELECT 1", NULL);
	refused(ro, "LOCK TABLE t", NULL);
	refused(ro, "CALL p()", NULL);
	refused(ro, "DISCARD ALL", NULL);
	/* locking clauses, SELECT INTO, writable CTEs, EXPLAIN of writes */
	refused(ro, "SELECT * FROM t FOR UPDATE", "FOR UPDATE");
	refused(ro, "SELECT * FROM t FOR SHARE", "FOR UPDATE/SHARE");
	refused(ro, "SELECT * FROM t FOR NO KEY UPDATE SKIP LOCKED", NULL);
	refused(ro, "SELECT * FROM (SELECT * FROM t FOR UPDATE) s", "FOR UPDATE");
	refused(ro, "SELECT * INTO newt FROM t", "INTO");
	refused(ro, "WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d", "DELETE");
	refused(ro, "WITH i AS (INSERT INTO t VALUES (1) RETURNING a) SELECT a FROM i", "INSERT");
	refused(ro, "WITH u AS (UPDATE t SET a = 2 RETURNING a) SELECT 1", "UPDATE");
	refused(ro, "EXPLAIN ANALYZE DELETE FROM t", "EXPLAIN of DELETE");
	refused(ro, "EXPLAIN INSERT INTO t VALUES (1)", "EXPLAIN of INSERT");
	/* denied functions, wherever they are */
	refused(ro, "SELECT pg_terminate_backend(123)", "pg_terminate_backend");
	refused(ro, "SELECT pg_catalog.pg_terminate_backend(123)", "pg_terminate_backend");
	refused(ro, "SELECT PG_TERMINATE_BACKEND(123)", "pg_terminate_backend");
	refused(ro, "SELECT \"pg_terminate_backend\"(123)", "pg_terminate_backend");
	refused(ro, "SELECT * FROM pg_ls_dir('.')", "pg_ls_dir");
	refused(ro, "SELECT * FROM t, LATERAL pg_read_file('/etc/passwd') f", "pg_read_file");
	refused(ro, "SELECT * FROM (SELECT pg_cancel_backend(1)) s", "pg_cancel_backend");
	refused(ro, "SELECT 1 WHERE EXISTS (SELECT set_config('a.b', 'c', false))", "set_config");
	refused(ro, "SELECT coalesce(pg_reload_conf(), true)", "pg_reload_conf");
	refused(ro, "SELECT CASE WHEN true THEN txid_current() END", "txid_current");
	refused(ro, "WITH x AS (SELECT pg_advisory_lock(1)) SELECT * FROM x", "pg_advisory_lock");
	refused(ro, "SELECT nextval('s')", "nextval");
	refused(ro, "SELECT setval('s', 1)", "setval");
	refused(ro, "SELECT lo_import('/etc/passwd')", "lo_import");
	refused(ro, "SELECT dblink_exec('dbname=x', 'DROP TABLE t')", "dblink_exec");
	refused(ro, "SELECT pg_notify('c', 'x')", "pg_notify");
	refused(ro, "SELECT query_to_xml('DELETE FROM t', true, true, '')", "query_to_xml");
	refused(ro, "SELECT a FROM t ORDER BY pg_sleep(0), pg_terminate_backend(a)",
	    "pg_terminate_backend");
	refused(ro, "SELECT array_agg(x) FILTER (WHERE pg_cancel_backend(x)) FROM t",
	    "pg_cancel_backend");
	refused(ro, "EXPLAIN ANALYZE SELECT pg_terminate_backend(1)", "pg_terminate_backend");
	refused(ro, "VALUES (pg_reload_conf())", "pg_reload_conf");
	/* Text in the tree that looks like JSON structure must not derail the walk. */
	refused(ro, "SELECT 'a\"}],{\"x\":[\"', pg_terminate_backend(1)", "pg_terminate_backend");
	refused(ro, "SELECT 1 AS \"q\"\"}]\", pg_terminate_backend(1)", "pg_terminate_backend");
	refused(ro, "SELECT E'\\\\', E'\\x01\\n', pg_terminate_backend(1)", "pg_terminate_backend");
	refused(ro, "SELECT U&\"pg\\005Fterminate_backend\"(1)", "pg_terminate_backend");
	refused(ro, "SELECT $$}]}$$, pg_terminate_backend(1)", "pg_terminate_backend");
	refused(ro, "SELECT 1 FROM t WHERE t.\"FuncCall\" = 'sval' AND pg_cancel_backend(1)",
	    "pg_cancel_backend");
}

static void
test_errors_and_spans(void)
{
	struct guard_verdict v;
	static const char nul_sql[] = "SELECT 1\0; DROP TABLE t";

	check(GUARD_READ_ONLY, "SELEC 1", &v);
	ok(!v.allowed && v.sqlstate && strcmp(v.sqlstate, "42601") == 0, "syntax error: 42601");
	is_int(v.error_position, 1, "syntax error at SELEC: position 1");
	like(v.reason, "syntax error", "syntax error: reason is PostgreSQL's message");
	check(GUARD_READ_ONLY, "SELECT 1 FROM FROM t", &v);
	is_int(v.error_position, 15, "syntax error position of the second FROM");
	check(GUARD_READ_ONLY, "SELECT * FROM", &v);
	ok(!v.allowed && strcmp(v.sqlstate, "42601") == 0 && v.error_position == 14,
	    "syntax error at the end of the text");
	check(GUARD_READ_ONLY, "SELECT 'unterminated", &v);
	ok(!v.allowed && strcmp(v.sqlstate, "42601") == 0 && v.error_position > 0,
	    "unterminated literal is a syntax error");
	check(GUARD_WRITE, "DELET FROM t", &v);
	ok(!v.allowed && strcmp(v.sqlstate, "42601") == 0, "syntax error under write too");

	check(GUARD_READ_ONLY, "", &v);
	ok(!v.allowed && strcmp(v.sqlstate, "42601") == 0 && strstr(v.reason, "no statement"),
	    "empty text: no statement");
	check(GUARD_READ_ONLY, " ; ", &v);
	ok(!v.allowed && strcmp(v.sqlstate, "42601") == 0, "a lone semicolon: no statement");
	check(GUARD_READ_ONLY, "-- just a comment", &v);
	ok(!v.allowed && strcmp(v.sqlstate, "42601") == 0, "only a comment: no statement");

	guard_check(GUARD_READ_ONLY, nul_sql, sizeof(nul_sql) - 1, &v);
	ok(!v.allowed && v.sqlstate && strcmp(v.sqlstate, "22021") == 0 && strstr(v.reason, "NUL"),
	    "a NUL byte is refused with 22021");

	check(GUARD_READ_ONLY, "SELECT 1;", &v);
	ok(v.stmt_location == 0 && v.stmt_len == 8, "SELECT 1; spans 0+8 (%d+%d)", v.stmt_location,
	    v.stmt_len);
	check(GUARD_READ_ONLY, "SELECT 1", &v);
	ok(v.stmt_location == 0 && v.stmt_len == 8, "SELECT 1 spans 0+8 (%d+%d)", v.stmt_location,
	    v.stmt_len);
	check(GUARD_READ_ONLY, "SELECT 1 ;  \n", &v);
	ok(v.stmt_location == 0 && v.stmt_len == 9, "'SELECT 1 ;' spans 0+9, not the ';' (%d+%d)",
	    v.stmt_location, v.stmt_len);
	check(GUARD_READ_ONLY, "SELECT 'a;b';", &v);
	ok(v.allowed && v.stmt_len == 12, "a semicolon in a literal is not the end (%d)", v.stmt_len);
	check(GUARD_WRITE, "INSERT INTO t VALUES (1) RETURNING *;", &v);
	ok(v.allowed && v.stmt_location == 0 && v.stmt_len == 36, "INSERT ...; spans 0+36 (%d+%d)",
	    v.stmt_location, v.stmt_len);

	check(GUARD_READ_ONLY, "SELECT $1, $3, $2", &v);
	ok(v.allowed && v.has_params && v.max_param == 3, "$1..$3: max_param 3 (%d)", v.max_param);
	check(GUARD_READ_ONLY, "SELECT $1::int + $1", &v);
	ok(v.has_params && v.max_param == 1, "$1 twice: max_param 1");
	check(GUARD_READ_ONLY, "SELECT * FROM t WHERE a = ANY($2) AND b IN (SELECT $1)", &v);
	ok(v.has_params && v.max_param == 2, "parameters in a subquery count");
	check(GUARD_READ_ONLY, "SELECT 1", &v);
	ok(!v.has_params && v.max_param == 0, "no parameters");
	check(GUARD_READ_ONLY, "SELECT '$5', \"$4\" FROM t", &v);
	ok(!v.has_params && v.max_param == 0, "$n inside quotes is not a parameter");
	check(GUARD_WRITE, "UPDATE t SET a = $2 WHERE id = $1", &v);
	ok(v.allowed && v.max_param == 2, "parameters in UPDATE under write");
}

static void
test_plan(void)
{
	const enum guard_policy pl = GUARD_PLAN;

	allowed(pl, "SELECT * FROM t", GUARD_KIND_SELECT);
	allowed(pl, "INSERT INTO t VALUES (1)", GUARD_KIND_DML);
	allowed(pl, "INSERT INTO t SELECT * FROM s", GUARD_KIND_DML);
	allowed(pl, "UPDATE t SET a = a + 1 WHERE id = $1", GUARD_KIND_DML);
	allowed(pl, "DELETE FROM t WHERE a IN (SELECT a FROM u)", GUARD_KIND_DML);
	allowed(pl, "MERGE INTO t USING s ON t.a = s.a WHEN MATCHED THEN UPDATE SET b = s.b",
	    GUARD_KIND_DML);
	refused(pl, "CREATE TABLE x (a int)", "can be explained");
	refused(pl, "DROP TABLE t", "can be explained");
	refused(pl, "ALTER TABLE t ADD b int", NULL);
	refused(pl, "TRUNCATE t", NULL);
	refused(pl, "SET work_mem = '1GB'", NULL);
	refused(pl, "SHOW work_mem", NULL);
	refused(pl, "EXPLAIN SELECT 1", NULL);
	refused(pl, "COPY t TO STDOUT", NULL);
	refused(pl, "DELETE FROM t; DELETE FROM u", "exactly one statement");
	refused(pl, "SELECT pg_terminate_backend(1)", "pg_terminate_backend");
}

static void
test_write(void)
{
	const enum guard_policy wr = GUARD_WRITE;

	allowed(wr, "INSERT INTO t VALUES (1) RETURNING *", GUARD_KIND_DML);
	allowed(wr, "UPDATE t SET a = 1", GUARD_KIND_DML);
	allowed(wr, "DELETE FROM t", GUARD_KIND_DML);
	allowed(wr, "MERGE INTO t USING s ON t.a = s.a WHEN MATCHED THEN DELETE", GUARD_KIND_DML);
	allowed(wr, "CREATE TABLE x (a int primary key, b text)", GUARD_KIND_OTHER);
	allowed(wr, "CREATE TABLE y AS SELECT 1 AS a", GUARD_KIND_OTHER);
	allowed(wr, "ALTER TABLE t ADD COLUMN b int", GUARD_KIND_OTHER);
	allowed(wr, "DROP TABLE t", GUARD_KIND_OTHER);
	allowed(wr, "CREATE INDEX t_a ON t (a)", GUARD_KIND_OTHER);
	allowed(wr, "TRUNCATE t", GUARD_KIND_OTHER);
	allowed(wr, "CREATE VIEW v AS SELECT 1", GUARD_KIND_OTHER);
	allowed(wr, "COMMENT ON TABLE t IS 'x'", GUARD_KIND_OTHER);
	allowed(wr, "SELECT nextval('s')", GUARD_KIND_SELECT);
	allowed(wr, "INSERT INTO t (id) VALUES (nextval('s'))", GUARD_KIND_DML);
	allowed(wr, "SELECT setval('s', 42)", GUARD_KIND_SELECT);
	allowed(wr, "SELECT pg_notify('c', 'x')", GUARD_KIND_SELECT);
	allowed(wr, "WITH d AS (DELETE FROM t RETURNING *) INSERT INTO u SELECT * FROM d",
	    GUARD_KIND_DML);
	allowed(wr, "SELECT * FROM t FOR UPDATE", GUARD_KIND_SELECT);
	refused(wr, "SET work_mem = '1GB'", "not allowed through execute");
	refused(wr, "RESET ALL", NULL);
	refused(wr, "BEGIN", NULL);
	refused(wr, "COMMIT", NULL);
	refused(wr, "ROLLBACK", NULL);
	refused(wr, "COPY t FROM STDIN", "COPY");
	refused(wr, "DO $$BEGIN END$$", "DO");
	refused(wr, "LISTEN chan", "LISTEN");
	refused(wr, "PREPARE p AS SELECT 1", "PREPARE");
	refused(wr, "EXECUTE p", NULL);
	refused(wr, "VACUUM t", NULL);
	refused(wr, "LOCK TABLE t", NULL);
	refused(wr, "CALL p()", NULL);
	refused(wr, "ALTER SYSTEM SET work_mem = '1GB'", NULL);
	refused(wr, "CREATE DATABASE d", NULL);
	refused(wr, "CREATE ROLE r", NULL);
	refused(wr, "SHOW work_mem", NULL);
	refused(wr, "EXPLAIN SELECT 1", NULL);
	refused(wr, "SELECT pg_terminate_backend(1)", "pg_terminate_backend");
	refused(wr, "INSERT INTO t VALUES (pg_terminate_backend(1))", "pg_terminate_backend");
	refused(wr, "SELECT set_config('a.b', 'c', false)", "set_config");
	refused(wr, "SELECT pg_advisory_lock(1)", "pg_advisory_lock");
	refused(wr, "INSERT INTO t VALUES (1); DELETE FROM t", "exactly one statement");
}

/*
 * Column policies (server/policy.c) through the guard: sales.customers denies email and masks
 * full_name; sales.customer_view reads it. Regressions for every hole found by t/0160.
 */
static void
test_policies(void)
{
	const enum guard_policy ro = GUARD_READ_ONLY, wr = GUARD_WRITE;
	char *deny[] = { "email" }, *mask[] = { "full_name" };
	struct policy p = { "sales", "customers", deny, 1, mask, 1, "[masked]" };
	struct policies ps = { &p, 1 };
	char **views = calloc(2, sizeof(char *));

	views[0] = strdup("sales.customer_view");
	policy_install(&ps);
	policy_set_views(views, 1);
	allowed(ro, "SELECT id, full_name FROM sales.customers", GUARD_KIND_SELECT);
	allowed(ro, "SELECT c.full_name AS n, c.country FROM sales.customers c WHERE c.id = 1 "
	    "ORDER BY c.id", GUARD_KIND_SELECT);
	allowed(ro, "SELECT count(*) FROM customers", GUARD_KIND_SELECT);
	allowed(ro, "SELECT o.*, c.full_name FROM sales.orders o JOIN sales.customers c "
	    "ON c.id = o.customer_id", GUARD_KIND_SELECT);
	allowed(ro, "EXPLAIN SELECT full_name FROM sales.customers", GUARD_KIND_EXPLAIN);
	allowed(ro, "SELECT full_name, country FROM sales.customers ORDER BY 2", GUARD_KIND_SELECT);
	allowed(ro, "SELECT email FROM hr.customers", GUARD_KIND_SELECT);
	allowed(ro, "SELECT upper(country) AS x FROM sales.customers GROUP BY 1", GUARD_KIND_SELECT);
	refused(ro, "SELECT email FROM sales.customers", "denied");
	refused(ro, "SELECT * FROM sales.customers", "denied columns");
	refused(ro, "TABLE sales.customers", "denied columns");
	refused(ro, "SELECT c FROM sales.customers c", "whole rows");
	refused(ro, "SELECT upper(full_name) FROM sales.customers", "masked");
	refused(ro, "SELECT id FROM sales.customers WHERE full_name LIKE 'A%'", "masked");
	refused(ro, "SELECT * FROM sales.customer_view", "view");
	/* holes found by t/0160 */
	refused(ro, "SELECT sales.customers FROM sales.customers", "whole rows");
	refused(ro, "SELECT row_to_json(sales.customers) FROM sales.customers", "whole rows");
	refused(ro, "SELECT email(sales.customers) FROM sales.customers", NULL);
	refused(ro, "SELECT full_name(c) FROM sales.customers c", NULL);
	refused(ro, "SELECT b FROM sales.customers AS c (a, b)", "column alias");
	refused(ro, "SELECT count(*) FROM sales.customers JOIN (VALUES ('x')) v(email) USING (email)",
	    "denied");
	refused(ro, "SELECT count(*) FROM sales.customers NATURAL JOIN (VALUES ('x')) v(email)",
	    "NATURAL");
	refused(ro, "SELECT j FROM (sales.customers c CROSS JOIN sales.orders o) AS j", "whole rows");
	refused(ro, "SELECT to_jsonb(j) FROM (sales.customers c JOIN sales.orders o ON true) j", NULL);
	refused(ro, "SELECT j.x FROM (sales.customers c CROSS JOIN sales.orders o) AS j (a, x)",
	    "join alias");
	refused(ro, "SELECT c.email.length FROM sales.customers c", "denied");
	refused(ro, "SELECT full_name.upper FROM sales.customers", "masked");
	refused(ro, "SELECT c.full_name.md5 FROM sales.customers c", "masked");
	refused(ro, "SELECT full_name FROM sales.customers ORDER BY 1", "sorted");
	refused(ro, "SELECT full_name AS n FROM sales.customers ORDER BY n DESC", "sorted");
	refused(ro, "SELECT DISTINCT full_name FROM sales.customers", "distinct");
	refused(ro, "SELECT full_name, count(*) FROM sales.customers GROUP BY 1", "grouped");
	refused(ro, "SELECT full_name FROM sales.customers GROUP BY ROLLUP (1)", NULL);
	refused(ro, "SELECT * FROM pg_stats WHERE tablename = 'customers'", "sample values");
	refused(ro, "SELECT * FROM pg_catalog.pg_statistic", "sample values");
	refused(ro, "SELECT table_to_xml('sales.customers', true, false, '')", "whole tables");
	refused(ro, "SELECT schema_to_xml('sales', true, false, '')", "whole tables");
	refused(ro, "SELECT id FROM sales.customers c, LATERAL (SELECT c.full_name) x", "masked");
	refused(wr, "INSERT INTO public.copy SELECT full_name FROM sales.customers", "masked");
	refused(wr, "CREATE TABLE public.copy AS SELECT full_name FROM sales.customers", NULL);
	refused(wr, "CREATE VIEW public.v AS SELECT id FROM sales.customers", "column policies");
	refused(wr, "UPDATE sales.customers SET email = 'x' WHERE id = 1", "denied");
	refused(wr, "INSERT INTO sales.customers (email) VALUES ('x') ON CONFLICT DO NOTHING", "denied");
	refused(wr, "ALTER TABLE sales.customers RENAME COLUMN email TO e", NULL);
	refused(wr, "ALTER SCHEMA sales RENAME TO s2", "rename");
	refused(wr, "CREATE FUNCTION f() RETURNS text LANGUAGE sql AS "
	    "'SELECT string_agg(email, '','') FROM sales.customers'", "store code");
	refused(wr, "UPDATE sales.customers SET country = 'DE' RETURNING *", "denied columns");
	allowed(wr, "UPDATE sales.customers SET country = 'DE' WHERE id = 1 RETURNING id",
	    GUARD_KIND_DML);
	allowed(wr, "INSERT INTO public.copy SELECT id FROM sales.customers", GUARD_KIND_DML);

	/* Partitions and inheritance children carry their ancestor's policy under their own names. */
	{
		struct policy_child *kids = calloc(2, sizeof(*kids));
		char why[320];

		kids[0].schema = strdup("sales");
		kids[0].table = strdup("customers_2024");
		kids[0].policy = 0;
		kids[1].schema = strdup("sales");
		kids[1].table = strdup("bogus_child");
		kids[1].policy = 7;	/* no such policy: ignored */
		allowed(ro, "SELECT email FROM sales.customers_2024", GUARD_KIND_SELECT);
		policy_set_children(kids, 2);
		refused(ro, "SELECT email FROM sales.customers_2024", "email of sales.customers_2024 is "
		    "denied");
		refused(ro, "SELECT email FROM customers_2024", "denied");
		refused(ro, "SELECT upper(full_name) FROM sales.customers_2024", "masked");
		refused(ro, "SELECT * FROM sales.customers_2024", "denied columns");
		refused(ro, "SELECT k FROM sales.customers_2024 k", "whole rows");
		refused(ro, "SELECT b FROM sales.customers_2024 AS c (a, b)", "column alias");
		allowed(ro, "SELECT id, full_name FROM sales.customers_2024", GUARD_KIND_SELECT);
		allowed(ro, "SELECT email FROM other.customers_2024", GUARD_KIND_SELECT);
		allowed(ro, "SELECT email FROM sales.bogus_child", GUARD_KIND_SELECT);
		/* a statement checked before the children were known is checked again for them */
		ok(!policy_check_learnt("SELECT email FROM sales.customers_2024", why, sizeof(why)) &&
		    strstr(why, "denied") != NULL, "learnt names: a child's denied column is refused");
		ok(!policy_check_learnt("SELECT * FROM sales.customer_view", why, sizeof(why)),
		    "learnt names: a view of a policy table is refused");
		ok(policy_check_learnt("SELECT email FROM sales.customers", why, sizeof(why)),
		    "learnt names: what breaks a policy anyway is left to the guard");
		ok(policy_check_learnt("SELECT relname FROM pg_catalog.pg_class", why, sizeof(why)),
		    "learnt names: catalog SQL passes");
		/* installing other policies forgets the children (their indexes name old entries) */
		policy_install(NULL);
		policy_install(&ps);
		allowed(ro, "SELECT email FROM sales.customers_2024", GUARD_KIND_SELECT);
	}
	/* Declarations at load: the file's policies, without views or children. */
	{
		char why[320];

		ok(!policy_check_sql(&ps, "SELECT string_agg(email, ',') FROM sales.customers", why,
		    sizeof(why)) && strstr(why, "denied") != NULL, "load-time check: a denied column");
		ok(!policy_check_sql(&ps, "SELECT upper(full_name) FROM sales.customers", why,
		    sizeof(why)) && strstr(why, "masked") != NULL, "load-time check: a masked expression");
		ok(policy_check_sql(&ps, "SELECT full_name FROM sales.customers LIMIT 1", why,
		    sizeof(why)), "load-time check: a plain masked output column is allowed");
		ok(policy_check_sql(&ps, "SELEC oops", why, sizeof(why)),
		    "load-time check: syntax errors are the guard's to report");
		ok(policy_check_sql(NULL, "SELECT email FROM sales.customers", why, sizeof(why)),
		    "load-time check: no policies, nothing to refuse");
	}
	policy_install(NULL);
	policy_set_views(NULL, 0);
	allowed(ro, "SELECT email FROM sales.customers", GUARD_KIND_SELECT);
}

/* Builds "SELECT " + depth nested abs( ... inner ... ) into a malloc'd string. */
static char *
nested_call(int depth, const char *inner)
{
	size_t n = 7 + (size_t)depth * 5 + strlen(inner) + 1;
	char *s = malloc(n), *p = s;

	memcpy(p, "SELECT ", 7);
	p += 7;
	for (int i = 0; i < depth; i++, p += 4)
		memcpy(p, "abs(", 4);
	strcpy(p, inner);
	p += strlen(inner);
	for (int i = 0; i < depth; i++)
		*p++ = ')';
	*p = '\0';
	return s;
}

static void
test_long_and_deep(void)
{
	struct guard_verdict v;
	char *sql;
	size_t n = 40000;

	/* Longer than the cache keeps: checked every time. */
	sql = malloc(n + 64);
	strcpy(sql, "SELECT 1");
	memset(sql + 8, ' ', n);
	strcpy(sql + 8 + n, "+ 1");
	check(GUARD_READ_ONLY, sql, &v);
	ok(v.allowed, "a 40 kB SELECT is allowed");
	strcpy(sql + 8 + n, ", pg_terminate_backend(1)");
	check(GUARD_READ_ONLY, sql, &v);
	ok(!v.allowed && strstr(v.reason, "pg_terminate_backend"),
	    "a denied function after 40 kB of blanks is refused");
	free(sql);

	sql = nested_call(50, "pg_terminate_backend(1)");
	check(GUARD_READ_ONLY, sql, &v);
	ok(!v.allowed && strstr(v.reason, "pg_terminate_backend"),
	    "a denied function 50 calls deep is refused");
	free(sql);

	sql = nested_call(3000, "1");
	check(GUARD_READ_ONLY, sql, &v);
	ok(!v.allowed, "3000 nested calls are refused (too deep to verify or to parse)");
	if (v.allowed)
		diag("reason: %s", v.reason);
	free(sql);
}

static bool
same_verdict(const struct guard_verdict *a, const struct guard_verdict *b)
{
	return a->allowed == b->allowed && a->kind == b->kind && strcmp(a->reason, b->reason) == 0 &&
	    ((a->sqlstate == NULL && b->sqlstate == NULL) ||
	    (a->sqlstate != NULL && b->sqlstate != NULL && strcmp(a->sqlstate, b->sqlstate) == 0)) &&
	    a->error_position == b->error_position && a->stmt_location == b->stmt_location &&
	    a->stmt_len == b->stmt_len && a->has_params == b->has_params &&
	    a->max_param == b->max_param;
}

static void
test_cache(void)
{
	static const char *const texts[] = {
		"SELECT $1, $2 FROM t;", "DELETE FROM t", "SELEC 1", "SELECT pg_terminate_backend(1)",
		"SELECT 1; SELECT 2", "SHOW work_mem",
	};
	struct guard_verdict first, cached, fresh;

	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		bool same = true;

		for (int p = GUARD_READ_ONLY; p <= GUARD_WRITE; p++) {
			guard_cache_clear();
			check((enum guard_policy)p, texts[i], &first);
			check((enum guard_policy)p, texts[i], &cached);
			guard_cache_clear();
			check((enum guard_policy)p, texts[i], &fresh);
			same = same && same_verdict(&first, &cached) && same_verdict(&first, &fresh);
		}
		ok(same, "cached verdict equals a fresh one under every policy: %s", texts[i]);
	}

	/* The cache is keyed by policy as well as text. */
	check(GUARD_READ_ONLY, "DELETE FROM t", &first);
	check(GUARD_WRITE, "DELETE FROM t", &cached);
	check(GUARD_READ_ONLY, "DELETE FROM t", &fresh);
	ok(!first.allowed && cached.allowed && !fresh.allowed,
	    "same text, different policies, different verdicts");

	/* The same bytes with a different length are a different text. */
	guard_cache_clear();
	guard_check(GUARD_READ_ONLY, "SELECT 1; DROP TABLE t", 8, &first);
	if (!ok(first.allowed && first.stmt_len == 8,
	    "guard_check honours len: the first 8 bytes are just SELECT 1"))
		diag("allowed %d reason: %s", first.allowed, first.reason);
	check(GUARD_READ_ONLY, "SELECT 1", &cached);
	ok(cached.allowed, "a later check of SELECT 1 itself is allowed (no stale cache entry)");
	check(GUARD_READ_ONLY, "SELECT 1; DROP TABLE t", &cached);
	ok(!cached.allowed, "the full text is refused");
}

int
main(void)
{
	plan(251);
	test_read_only_allowed();
	test_read_only_refused();
	test_errors_and_spans();
	test_plan();
	test_write();
	test_long_and_deep();
	test_cache();
	test_policies();
	guard_shutdown();
	return done_testing();
}
