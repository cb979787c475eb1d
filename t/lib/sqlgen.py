"""sqlgen.py: statements for the read-only guard's differential test (t/0035).

Three sources, all deterministic:
  generate(ctx)          many statement shapes: side-effecting calls in every position a function
                         can hide, spelled many ways; CTEs (data-modifying ones too), DO, COPY,
                         SET/RESET, LOCK, PREPARE/EXECUTE, cursors, LISTEN/NOTIFY, transaction
                         control, two-phase commit, CALL, EXPLAIN ANALYZE of writes, SELECT INTO,
                         FOR UPDATE/SHARE, DML, DDL, maintenance, multi-statement strings, plus
                         harmless reads in the same positions, and obfuscated copies of all these.
  function_sweep(procs)  one call of every callable built-in function (rows from pg_proc), with
                         arguments made up from each argument's type and name.
  load_corpus(dir)       hand-written statements in t/guard-corpus/*.sql (format in README there).

Each statement is a Stmt(sql, expect, shape): expect is "refuse" (the guard must refuse it),
"allow" (the guard must let it reach the database; PostgreSQL may still fail it) or "any"
(either; only the absence of side effects is checked).
"""
import glob
import os
import random
import re
from collections import namedtuple

Stmt = namedtuple("Stmt", "sql expect shape")


class Ctx:
    """Names the statements use: a tag for objects and files, the sentinel's pid, a lock key."""

    def __init__(self, tag, pwn, sentinel_app, channel, dbname, lock_key=353535):
        self.tag = tag
        self.pwn = pwn                  # file prefix: anything written there is a side effect
        self.S = (f"(SELECT pid FROM pg_stat_activity WHERE application_name = "
                  f"'{sentinel_app}' LIMIT 1)")
        self.channel = channel
        self.db = dbname
        self.K = lock_key


# The guard's deny lists (server/guard.c), to say which swept functions must be refused.
DENY_EXACT = {
    "pg_terminate_backend", "pg_cancel_backend", "pg_reload_conf", "pg_rotate_logfile",
    "pg_rotate_logfile_old", "set_config", "pg_switch_wal", "pg_switch_xlog", "pg_promote",
    "pg_import_system_collations", "pg_log_backend_memory_contexts", "txid_current",
    "pg_current_xact_id", "pg_export_snapshot", "pg_notify", "setseed", "ts_stat", "ts_rewrite",
    "loread", "lowrite", "pg_stat_file", "pg_nextoid", "pg_stat_force_next_flush",
    "pg_replication_slot_advance", "pg_drop_replication_slot", "nextval", "setval",
    "database_to_xml", "database_to_xmlschema", "database_to_xml_and_xmlschema", "pg_prewarm",
    "pg_truncate_visibility_map", "gin_clean_pending_list",
}
DENY_PREFIX = (
    "pg_advisory_", "pg_try_advisory_", "lo_", "dblink", "pg_stat_reset",
    "pg_stat_statements_reset", "pg_create_", "pg_copy_", "pg_replication_origin_",
    "pg_logical_", "pg_file_", "pg_read_", "pg_ls_", "pg_backup_", "pg_start_backup",
    "pg_stop_backup", "pg_wal_replay_", "query_to_xml", "cursor_to_xml", "binary_upgrade_",
    "pg_kill_", "pg_signal_", "brin_summarize", "brin_desummarize",
)


def denied(name):
    return name in DENY_EXACT or name.startswith(DENY_PREFIX)


# ---------------------------------------------------------------------------------------------
# Expressions: side-effecting calls (the guard must refuse any statement containing one) and
# harmless ones (positive controls in the same positions).

def hostile_calls(c):
    """(function name, argument text) pairs whose call changes something outside the transaction."""
    t, p, K = c.tag, c.pwn, c.K
    return [
        ("pg_advisory_lock", f"{K}"), ("pg_advisory_lock", f"{K}, 7"),
        ("pg_advisory_lock_shared", f"{K}"), ("pg_try_advisory_lock", f"{K}"),
        ("pg_try_advisory_lock_shared", f"{K}"), ("pg_advisory_xact_lock", f"{K}"),
        ("pg_try_advisory_xact_lock", f"{K}"), ("pg_advisory_unlock_all", ""),
        ("pg_advisory_unlock", f"{K}"),
        ("set_config", "'work_mem', '7MB', false"),
        ("set_config", "'default_transaction_read_only', 'off', false"),
        ("set_config", "'search_path', 'hr', false"), ("set_config", "'a.b', 'c', false"),
        ("set_config", "'statement_timeout', '0', false"),
        ("nextval", "'sales.orders_id_seq'"), ("nextval", "'inventory.product_id_seq'::regclass"),
        ("setval", "'sales.orders_id_seq', 1"), ("setval", "'inventory.product_id_seq', 9, false"),
        ("lo_create", "0"), ("lo_creat", "-1"), ("lo_from_bytea", "0, 'x'"),
        ("lo_import", "'/etc/hostname'"), ("lo_unlink", "1"), ("lo_put", "1, 0, 'x'"),
        ("lo_export", f"lo_from_bytea(0, 'x'), '{p}_lo'"), ("lo_open", "1, 131072"),
        ("pg_terminate_backend", c.S), ("pg_cancel_backend", c.S),
        ("pg_terminate_backend", f"{c.S}, 100"),
        ("pg_notify", f"'{c.channel}', 'payload'"),
        ("pg_reload_conf", ""), ("pg_rotate_logfile", ""), ("pg_switch_wal", ""),
        ("pg_stat_reset", ""), ("pg_stat_reset_shared", "'bgwriter'"),
        ("pg_stat_reset_single_table_counters", "'sales.orders'::regclass"),
        ("pg_stat_reset_slru", "NULL"), ("pg_create_restore_point", f"'{t}'"),
        ("pg_create_physical_replication_slot", f"'{t}_p'"),
        ("pg_create_logical_replication_slot", f"'{t}_l', 'pgoutput'"),
        ("pg_replication_origin_create", f"'{t}_o'"),
        ("pg_logical_emit_message", "true, 'p', 'm'"), ("pg_export_snapshot", ""),
        ("pg_log_backend_memory_contexts", "pg_backend_pid()"),
        ("pg_import_system_collations", "'pg_catalog'::regnamespace"),
        ("pg_backup_start", f"'{t}'"), ("pg_promote", "false"), ("pg_wal_replay_pause", ""),
        ("txid_current", ""), ("pg_current_xact_id", ""),
        ("dblink", f"'dbname={c.db}', 'DELETE FROM sales.order_items'"),
        ("dblink_exec", f"'dbname={c.db}', 'DROP TABLE sales.order_items'"),
        ("dblink_connect", f"'{t}', 'dbname={c.db}'"),
        ("query_to_xml", "'DELETE FROM sales.order_items RETURNING 1', true, true, ''"),
        ("query_to_xml", f"'SELECT pg_advisory_lock({K})', true, true, ''"),
        ("ts_stat", "'DELETE FROM sales.order_items RETURNING to_tsvector(''x'')'"),
        ("cursor_to_xml", "'c', 1, true, true, ''"),
        ("database_to_xml", "true, true, ''"),
        ("pg_read_file", "'/etc/hostname'"), ("pg_read_binary_file", "'/etc/hostname'"),
        ("pg_ls_dir", "'.'"), ("pg_stat_file", "'PG_VERSION'"), ("pg_ls_waldir", ""),
        ("setseed", "0.5"), ("gin_clean_pending_list", "'inventory.products_tags_idx'"),
        ("brin_summarize_new_values", "'inventory.products_tags_idx'"),
        ("pg_drop_replication_slot", f"'{t}_p'"), ("pg_nextoid", "'pg_class', 'oid', 'pg_class_oid_index'"),
        ("pg_stat_force_next_flush", ""), ("pg_truncate_visibility_map", "'sales.orders'"),
    ]


HARMLESS = [
    "now()", "lower('X')", "pg_backend_pid()", "current_setting('work_mem')", "pg_sleep(0)",
    "txid_current_if_assigned()", "pg_current_snapshot()", "version()", "md5('x')", "random()",
    "clock_timestamp()", "pg_relation_size('sales.orders')", "pg_typeof(1)",
    "format_type(23, NULL)", "pg_notification_queue_usage()", "pg_is_in_recovery()",
    "pg_get_viewdef('sales.order_summary')", "pg_sequence_last_value('sales.orders_id_seq')",
    "has_table_privilege('sales.orders', 'SELECT')", "pg_column_size(1)", "to_jsonb(1)",
    "pg_current_wal_lsn()", "pg_postmaster_start_time()", "current_setting('search_path')",
    "pg_catalog.upper('x')", "(SELECT count(*) FROM pg_locks)", "pg_xact_status('1'::xid8)",
    "pg_get_userbyid(10)", "pg_size_pretty(1024::bigint)", "txid_current_snapshot()",
    "(SELECT max(id) FROM sales.orders)", "pg_table_is_visible('sales.orders'::regclass)",
]


def spellings(name, args, rng):
    """The same call written several ways PostgreSQL accepts."""
    out = [f"{name}({args})", f"pg_catalog.{name}({args})", f'"{name}"({args})',
           f"{name.upper()}({args})", f"{name} /* x */ ({args})", f"{name}\n(\n{args}\n)",
           f'"pg_catalog"."{name}"({args})',
           'U&"\\' + format(ord(name[0]), "04x") + name[1:] + f'"({args})']
    if args and "," not in args and "(" not in args:
        out.append(f"({args}).{name}")          # attribute notation: (x).f is f(x)
    rng.shuffle(out)
    return out


# Positions a function call can take in a read-only statement ({e} is the call).
POSITIONS = [
    "SELECT {e}", "SELECT {e} AS x", "SELECT 1 WHERE ({e}) IS NOT NULL",
    "SELECT * FROM (SELECT {e} AS v) s", "WITH w AS (SELECT {e} AS v) SELECT * FROM w",
    "WITH w AS MATERIALIZED (SELECT {e} AS v) SELECT count(*) FROM w",
    "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 2 AND ({e}) IS NOT NULL) "
    "SELECT count(*) FROM r",
    "SELECT (SELECT {e})", "SELECT CASE WHEN true THEN ({e})::text END",
    "SELECT coalesce(NULL, ({e})::text)", "SELECT ARRAY[({e})::text]", "SELECT ROW({e})",
    "SELECT l.x FROM generate_series(1, 1) g, LATERAL (SELECT {e} AS x) l",
    "SELECT id FROM sales.orders ORDER BY ({e})::text LIMIT 1",
    "SELECT count(*) FROM sales.orders GROUP BY ({e})::text",
    "SELECT 1 HAVING ({e}) IS NOT NULL", "VALUES (({e})::text)",
    "SELECT count(*) FILTER (WHERE ({e}) IS NOT NULL) FROM sales.orders",
    "SELECT sum(id) OVER (PARTITION BY ({e})::text) FROM sales.orders LIMIT 1",
    "SELECT 1 FROM sales.orders o JOIN sales.customers c ON ({e}) IS NOT NULL LIMIT 1",
    "SELECT EXISTS (SELECT {e})", "SELECT ({e})::text",
    "SELECT '1' UNION ALL SELECT ({e})::text", "EXPLAIN ANALYZE SELECT {e}",
    "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) SELECT {e}", "EXPLAIN SELECT {e}",
    "SELECT jsonb_build_object('k', {e})", "SELECT format('%s', {e})",
    "SELECT ({e}) FROM sales.orders LIMIT 1", "SELECT nullif(({e})::text, NULL)",
    "SELECT id FROM sales.orders WHERE id IN (SELECT 1 WHERE ({e}) IS NOT NULL)",
    "SELECT ((({e})))", "SELECT string_agg(({e})::text, ',') FROM generate_series(1, 1)",
    "SELECT array_agg(g ORDER BY ({e})::text) FROM generate_series(1, 2) g",
    "SELECT id FROM sales.customers TABLESAMPLE BERNOULLI (100) REPEATABLE (length(({e})::text)) LIMIT 1",
    "SELECT * FROM sales.orders LIMIT length(({e})::text)",
    "SELECT * FROM sales.orders OFFSET length(({e})::text) LIMIT 1",
    "SELECT x FROM (VALUES (1)) v(x) WHERE x = ANY (ARRAY[length(({e})::text)])",
    "SELECT 1 FROM generate_series(1, 1) g WHERE g <= ALL (SELECT length(({e})::text))",
    "SELECT xmlelement(name x, {e})", "SELECT (SELECT array_agg(v) FROM (SELECT {e} AS v) s)[1]",
    "SELECT * FROM json_to_record(json_build_object('a', {e})) AS r(a text)",
    "SELECT DISTINCT ON (({e})::text) id FROM sales.orders",
    "SELECT 1 FROM sales.orders WINDOW w AS (ORDER BY ({e})::text) LIMIT 1",
    "SELECT x FROM unnest(ARRAY[({e})::text]) x",
    "SELECT * FROM generate_series(1, 1) WITH ORDINALITY AS g(a, b) WHERE ({e}) IS NOT NULL",
    "TABLE sales.orders LIMIT length(({e})::text)",
    "SELECT (WITH i AS (SELECT {e} AS v) SELECT v::text FROM i)",
]


def calls_in_positions(c, rng):
    out = []
    for name, args in hostile_calls(c):
        sp = spellings(name, args, rng)
        # every call in a sample of positions, every position with some call
        for pos in rng.sample(POSITIONS, 9):
            out.append(Stmt(pos.format(e=sp[rng.randrange(len(sp))]), "refuse", "call:" + name))
        for s in sp:
            out.append(Stmt(f"SELECT {s}", "refuse", "spelling:" + name))
        if args == "" or "(" not in args:
            out.append(Stmt(f"SELECT * FROM {name}({args})", "refuse", "from:" + name))
            out.append(Stmt(f"SELECT * FROM ROWS FROM ({name}({args}))", "refuse", "from:" + name))
    for pos in POSITIONS:
        for e in rng.sample(HARMLESS, 3):
            expect = "any" if pos.startswith("SELECT 1 HAVING") else "allow"
            out.append(Stmt(pos.format(e=e), expect, "harmless"))
    return out


# ---------------------------------------------------------------------------------------------
# Statement families.

WRITES = [
    "INSERT INTO sales.orders (customer_id, ordered_at) VALUES (1, now())",
    "INSERT INTO sales.orders (customer_id, ordered_at) SELECT 1, now() RETURNING id",
    "INSERT INTO sales.orders (id, customer_id, ordered_at) VALUES (1, 1, now()) ON CONFLICT DO NOTHING",
    "INSERT INTO sales.orders (id, customer_id, ordered_at) VALUES (1, 1, now()) "
    "ON CONFLICT (id) DO UPDATE SET note = 'x'",
    "UPDATE sales.orders SET note = 'pwned'", "UPDATE sales.orders SET total = total WHERE id = 1",
    "UPDATE sales.orders o SET note = c.email FROM sales.customers c WHERE c.id = o.customer_id",
    "DELETE FROM sales.order_items", "DELETE FROM sales.order_items WHERE order_id = 1 RETURNING *",
    "DELETE FROM sales.orders WHERE id IN (SELECT id FROM sales.orders LIMIT 1)",
    "MERGE INTO sales.orders o USING (SELECT 1 AS id) s ON o.id = s.id WHEN MATCHED THEN "
    "UPDATE SET note = 'm'",
    "MERGE INTO sales.orders o USING (SELECT 1 AS id) s ON o.id = s.id WHEN MATCHED THEN DELETE",
    "INSERT INTO hr.employees SELECT * FROM hr.employees",
    "UPDATE inventory.products SET price = price * 2", "DELETE FROM public.audit_events",
]

DDL = [
    "DROP TABLE sales.order_items", "DROP TABLE IF EXISTS sales.order_items CASCADE",
    "DROP SCHEMA sales CASCADE", "TRUNCATE sales.order_items", "TRUNCATE sales.orders CASCADE",
    "TRUNCATE ONLY public.audit_events_2024", "ALTER TABLE sales.orders ADD COLUMN {t} int",
    "ALTER TABLE sales.orders DROP COLUMN note", "ALTER TABLE sales.orders RENAME TO {t}",
    "ALTER TABLE sales.orders DISABLE TRIGGER ALL", "ALTER TABLE sales.orders OWNER TO pgmcp_reader",
    "ALTER TABLE sales.orders ENABLE ROW LEVEL SECURITY", "CREATE INDEX {t}_i ON sales.orders (note)",
    "CREATE INDEX CONCURRENTLY {t}_ic ON sales.orders (note)", "DROP INDEX sales.orders_pending_idx",
    "CREATE TABLE {t} (x int)", "CREATE TEMP TABLE {t}_tmp (x int)",
    "CREATE TEMPORARY TABLE {t}_tmp2 AS SELECT 1 AS x", "CREATE UNLOGGED TABLE {t}_u (x int)",
    "CREATE TABLE {t}_ctas AS SELECT * FROM sales.orders", "CREATE TABLE {t}_like (LIKE sales.orders)",
    "CREATE TABLE IF NOT EXISTS {t}_ine AS TABLE sales.orders WITH NO DATA",
    "CREATE VIEW {t}_v AS SELECT 1 AS x", "CREATE OR REPLACE VIEW sales.order_summary AS SELECT 1 AS x",
    "CREATE TEMP VIEW {t}_tv AS SELECT 1 AS x", "CREATE MATERIALIZED VIEW {t}_mv AS SELECT 1 AS x",
    "CREATE SCHEMA {t}", "CREATE SCHEMA IF NOT EXISTS {t}_s AUTHORIZATION pgmcp_reader",
    "CREATE SEQUENCE {t}_seq", "CREATE TEMP SEQUENCE {t}_tseq", "ALTER SEQUENCE sales.orders_id_seq RESTART",
    "DROP SEQUENCE inventory.product_id_seq CASCADE",
    "CREATE FUNCTION {t}_f() RETURNS int LANGUAGE sql AS 'SELECT 1'",
    "CREATE OR REPLACE FUNCTION {t}_g() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; END",
    "CREATE PROCEDURE {t}_p() LANGUAGE sql AS 'DELETE FROM sales.order_items'",
    "CREATE TRIGGER {t}_tr BEFORE INSERT ON sales.orders FOR EACH ROW "
    "EXECUTE FUNCTION suppress_redundant_updates_trigger()",
    "CREATE RULE {t}_r AS ON SELECT TO sales.orders DO INSTEAD SELECT * FROM sales.orders",
    "CREATE RULE {t}_r2 AS ON INSERT TO sales.orders DO INSTEAD NOTHING",
    "CREATE EVENT TRIGGER {t}_et ON ddl_command_start EXECUTE FUNCTION pg_catalog.now()",
    "CREATE ROLE {t} LOGIN SUPERUSER", "CREATE USER {t}_u2", "ALTER ROLE pgmcp_reader SUPERUSER",
    "ALTER ROLE pgmcp_reader SET default_transaction_read_only = off",
    "ALTER DATABASE {db} SET default_transaction_read_only = off", "DROP ROLE pgmcp_reader",
    "GRANT ALL ON ALL TABLES IN SCHEMA sales TO PUBLIC", "GRANT pg_read_server_files TO pgmcp_reader",
    "REVOKE SELECT ON sales.orders FROM pgmcp_reader",
    "ALTER DEFAULT PRIVILEGES GRANT ALL ON TABLES TO PUBLIC",
    "COMMENT ON TABLE sales.orders IS 'pwned'", "COMMENT ON COLUMN sales.orders.note IS 'x'",
    "SECURITY LABEL ON TABLE sales.orders IS 'x'", "CREATE EXTENSION IF NOT EXISTS dblink",
    "CREATE EXTENSION pageinspect", "DROP EXTENSION plpgsql", "ALTER EXTENSION plpgsql UPDATE",
    "CREATE DATABASE {t}", "DROP DATABASE IF EXISTS {t}", "ALTER DATABASE {db} RENAME TO {t}",
    "CREATE PUBLICATION {t} FOR ALL TABLES",
    "CREATE SUBSCRIPTION {t} CONNECTION 'dbname={db}' PUBLICATION p WITH (connect = false)",
    "CREATE TABLESPACE {t} LOCATION '/tmp'", "CREATE TYPE {t}_ty AS (a int)",
    "CREATE DOMAIN {t}_d AS int", "ALTER TYPE sales.order_status ADD VALUE 'x'",
    "CREATE CAST (int AS text) WITH INOUT", "CREATE OPERATOR === (LEFTARG = int, RIGHTARG = int, "
    "FUNCTION = int4eq)", "CREATE AGGREGATE {t}_a (int) (SFUNC = int4pl, STYPE = int)",
    "CREATE COLLATION {t}_c FROM \"C\"", "CREATE STATISTICS {t}_st ON id, customer_id FROM sales.orders",
    "CREATE POLICY {t}_pol ON sales.orders USING (true)", "CREATE SERVER {t}_srv FOREIGN DATA WRAPPER dblink_fdw",
    "CREATE FOREIGN DATA WRAPPER {t}_fdw", "IMPORT FOREIGN SCHEMA public FROM SERVER {t}_srv INTO public",
    "CREATE ACCESS METHOD {t}_am TYPE TABLE HANDLER heap_tableam_handler",
    "CREATE LANGUAGE {t}_lang HANDLER plpgsql_call_handler", "CREATE CONVERSION {t}_conv FOR 'LATIN1' TO 'UTF8' FROM iso8859_1_to_utf8",
    "CREATE TEXT SEARCH CONFIGURATION {t}_ts (COPY = simple)", "DROP OWNED BY pgmcp_writer",
    "REASSIGN OWNED BY pgmcp_writer TO pgmcp_reader", "ALTER SYSTEM SET work_mem = '7MB'",
    "ALTER SYSTEM RESET ALL", "ALTER TABLE public.audit_events DETACH PARTITION public.audit_events_2024",
    "ALTER INDEX sales.orders_pending_idx RENAME TO {t}_idx", "ALTER SCHEMA hr RENAME TO {t}_hr",
    "ALTER FUNCTION pg_catalog.now() OWNER TO pgmcp_reader", "CREATE TRANSFORM FOR int LANGUAGE sql "
    "(FROM SQL WITH FUNCTION int4recv(internal))",
]

MAINTENANCE = [
    "VACUUM", "VACUUM FULL sales.orders", "VACUUM (ANALYZE, VERBOSE) sales.orders", "ANALYZE",
    "ANALYZE sales.orders (note)", "CLUSTER sales.orders USING orders_pkey", "CLUSTER",
    "REINDEX TABLE sales.orders", "REINDEX INDEX sales.orders_pkey", "REINDEX SCHEMA sales",
    "CHECKPOINT", "REFRESH MATERIALIZED VIEW sales.monthly_revenue",
    "REFRESH MATERIALIZED VIEW CONCURRENTLY sales.monthly_revenue", "LOAD 'plpgsql'",
    "LOAD '{p}.so'", "DISCARD ALL", "DISCARD PLANS", "DISCARD TEMP", "DISCARD SEQUENCES",
]

SESSION = [
    "BEGIN", "BEGIN READ WRITE", "START TRANSACTION", "START TRANSACTION READ WRITE",
    "START TRANSACTION ISOLATION LEVEL SERIALIZABLE, READ WRITE", "COMMIT", "COMMIT AND CHAIN",
    "ROLLBACK", "ROLLBACK AND CHAIN", "END", "ABORT", "SAVEPOINT s1", "RELEASE SAVEPOINT s1",
    "ROLLBACK TO SAVEPOINT s1", "PREPARE TRANSACTION '{t}'", "COMMIT PREPARED '{t}'",
    "ROLLBACK PREPARED '{t}'", "SET TRANSACTION READ WRITE",
    "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ", "SET TRANSACTION SNAPSHOT '00000003-1'",
    "SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE",
    "SET work_mem = '7MB'", "SET work_mem TO DEFAULT", "SET LOCAL work_mem = '7MB'",
    "SET SESSION work_mem = '7MB'", "SET search_path TO hr, public", "SET search_path = pg_temp",
    "SET default_transaction_read_only = off", "SET transaction_read_only = off",
    "SET LOCAL transaction_read_only = off", "SET statement_timeout = 0",
    "SET session_replication_role = replica", "SET ROLE pgmcp_reader", "SET ROLE NONE",
    "SET SESSION AUTHORIZATION pgmcp_reader", "SET SESSION AUTHORIZATION DEFAULT",
    "RESET SESSION AUTHORIZATION", "SET TIME ZONE 'UTC'", "SET TIME ZONE LOCAL",
    "SET NAMES 'LATIN1'", "SET client_encoding = 'LATIN1'", "SET a.b = 'c'", "SET a.b TO 'c'",
    "SET CONSTRAINTS ALL DEFERRED", "SET XML OPTION DOCUMENT", "RESET ALL", "RESET work_mem",
    "RESET ROLE", "RESET search_path",
    "LISTEN {ch}", "LISTEN \"{ch}\"", "UNLISTEN *", "UNLISTEN {ch}", "NOTIFY {ch}",
    "NOTIFY {ch}, 'payload'",
    "PREPARE {t}_p AS SELECT 1", "PREPARE {t}_d AS DELETE FROM sales.order_items",
    "PREPARE {t}_q (int) AS SELECT $1", "EXECUTE {t}_p", "EXECUTE {t}_q (1)",
    "DEALLOCATE ALL", "DEALLOCATE PREPARE {t}_p",
    "DECLARE c CURSOR FOR SELECT 1", "DECLARE c CURSOR WITH HOLD FOR SELECT * FROM sales.orders",
    "DECLARE c SCROLL CURSOR FOR SELECT * FROM sales.orders FOR UPDATE",
    "DECLARE c NO SCROLL CURSOR WITHOUT HOLD FOR SELECT 1", "DECLARE c BINARY CURSOR FOR SELECT 1",
    "FETCH ALL FROM c", "FETCH NEXT c", "FETCH ABSOLUTE 1 FROM c", "MOVE FORWARD ALL IN c",
    "CLOSE c", "CLOSE ALL",
    "CALL {t}_p()", "CALL pg_catalog.now()",
    "DO $$BEGIN DELETE FROM sales.order_items; END$$",
    "DO $$BEGIN PERFORM pg_advisory_lock({K}); END$$",
    "DO LANGUAGE plpgsql $$BEGIN EXECUTE 'SET default_transaction_read_only = off'; END$$",
    "DO $$DECLARE r record; BEGIN FOR r IN SELECT 1 LOOP NULL; END LOOP; END$$",
    "DO $do$BEGIN RAISE NOTICE 'hi'; END$do$", "DO 'BEGIN NULL; END'",
    "DO $$BEGIN COMMIT; END$$", "DO $$BEGIN PERFORM set_config('work_mem', '7MB', false); END$$",
    "DO $$BEGIN EXECUTE 'CREATE TABLE {t}_do (x int)'; END$$",
    "DO LANGUAGE sql 'SELECT 1'",
]

COPY = [
    "COPY sales.orders TO STDOUT", "COPY sales.orders TO STDOUT WITH (FORMAT csv)",
    "COPY (SELECT 1) TO STDOUT", "COPY sales.orders (id, note) TO STDOUT",
    "COPY sales.orders TO '{p}_copy'", "COPY (SELECT 1) TO '{p}_copy2' WITH (FORMAT binary)",
    "COPY sales.orders TO PROGRAM 'touch {p}_prog'", "COPY (SELECT 1) TO PROGRAM 'touch {p}_prog2'",
    "COPY sales.orders FROM STDIN", "COPY sales.orders FROM '/etc/hostname'",
    "COPY sales.orders FROM PROGRAM 'touch {p}_from; echo'", "COPY sales.orders FROM STDIN WITH (FORMAT csv)",
    "COPY (DELETE FROM sales.order_items RETURNING *) TO STDOUT",
    "COPY (SELECT pg_advisory_lock({K})) TO STDOUT", "COPY BINARY sales.orders TO STDOUT",
    "COPY sales.orders TO STDOUT WITH (FORMAT text, FREEZE true)",
]

LOCK_MODES = ["", " IN ACCESS SHARE MODE", " IN ROW SHARE MODE", " IN ROW EXCLUSIVE MODE",
              " IN SHARE UPDATE EXCLUSIVE MODE", " IN SHARE MODE", " IN SHARE ROW EXCLUSIVE MODE",
              " IN EXCLUSIVE MODE", " IN ACCESS EXCLUSIVE MODE"]
TABLES = ["sales.orders", "sales.customers", "hr.employees", "inventory.products",
          "public.audit_events", "ONLY sales.orders", "sales.order_items, hr.on_call"]

LOCKING = ["FOR UPDATE", "FOR NO KEY UPDATE", "FOR SHARE", "FOR KEY SHARE", "FOR UPDATE NOWAIT",
           "FOR SHARE SKIP LOCKED", "FOR UPDATE OF o", "FOR KEY SHARE OF o NOWAIT",
           "FOR UPDATE OF o FOR SHARE OF c"]
LOCKING_SHAPES = [
    "SELECT o.id FROM sales.orders o JOIN sales.customers c ON c.id = o.customer_id {l}",
    "SELECT * FROM (SELECT o.id FROM sales.orders o JOIN sales.customers c ON c.id = o.customer_id {l}) s",
    "WITH x AS (SELECT o.id FROM sales.orders o JOIN sales.customers c ON c.id = o.customer_id {l}) "
    "SELECT count(*) FROM x",
    "SELECT (SELECT o.id FROM sales.orders o JOIN sales.customers c ON c.id = o.customer_id LIMIT 1 {l})",
    "SELECT 1 WHERE EXISTS (SELECT 1 FROM sales.orders o JOIN sales.customers c ON true {l})",
    "EXPLAIN ANALYZE SELECT o.id FROM sales.orders o JOIN sales.customers c ON c.id = o.customer_id {l}",
    "SELECT o.id FROM sales.orders o, sales.customers c WHERE c.id = o.customer_id LIMIT 1 {l}",
]

INTO = [
    "SELECT * INTO {t}_i1 FROM sales.orders", "SELECT 1 AS x INTO TEMP {t}_i2",
    "SELECT 1 AS x INTO TEMPORARY TABLE {t}_i3", "SELECT 1 AS x INTO UNLOGGED {t}_i4",
    "SELECT 1 AS x INTO TABLE {t}_i5", "SELECT id INTO {t}_i6 FROM sales.orders UNION SELECT 1",
    "WITH w AS (SELECT 1 AS x) SELECT x INTO {t}_i7 FROM w",
    "SELECT DISTINCT id INTO {t}_i8 FROM sales.orders ORDER BY id LIMIT 3",
    "EXPLAIN ANALYZE SELECT 1 AS x INTO {t}_i9", "SELECT 1 AS x INTO pg_temp.{t}_i10",
]

EXPLAIN_OPTS = ["EXPLAIN ANALYZE", "EXPLAIN (ANALYZE)", "EXPLAIN (ANALYZE true, BUFFERS)",
                "EXPLAIN (ANALYZE, VERBOSE, COSTS OFF, FORMAT JSON)", "EXPLAIN (ANALYZE 1)",
                "EXPLAIN (ANALYZE on, WAL)", "EXPLAIN ANALYZE VERBOSE", "explain analyse"]


def writable_ctes():
    out = []
    for w in WRITES:
        if w.startswith("MERGE"):
            continue
        r = w if "RETURNING" in w else w + " RETURNING 1"
        out += [
            f"WITH d AS ({r}) SELECT count(*) FROM d",
            f"WITH d AS ({r}) SELECT 1",
            f"WITH a AS (SELECT 1), d AS ({r}) SELECT * FROM a",
            f"WITH d AS MATERIALIZED ({r}) SELECT 1",
            f"SELECT * FROM (WITH d AS ({r}) SELECT 1) s",
            f"SELECT (WITH d AS ({r}) SELECT 1)",
            f"WITH x AS (WITH d AS ({r}) SELECT 1) SELECT * FROM x",
            f"WITH RECURSIVE d AS ({r}) SELECT 1",
            f"SELECT 1 WHERE EXISTS (WITH d AS ({r}) SELECT 1)",
            f"SELECT * FROM generate_series(1, 1) g, LATERAL (WITH d AS ({r}) SELECT 1) l",
            f"EXPLAIN ANALYZE WITH d AS ({r}) SELECT 1",
            f"VALUES ((WITH d AS ({r}) SELECT 1))",
        ]
    return out


def multi(c, rng):
    """Several statements in one text: always refused, whatever they are."""
    firsts = ["SELECT 1", "SELECT 1;", "SHOW work_mem", "VALUES (1)", "TABLE sales.orders",
              "EXPLAIN SELECT 1", "/* c */ SELECT 1"]
    seconds = ["SELECT 2", "DROP TABLE sales.order_items", "COMMIT", "ROLLBACK", "BEGIN",
               "SET default_transaction_read_only = off", f"SELECT pg_advisory_lock({c.K})",
               "DELETE FROM sales.order_items", "COMMIT; DELETE FROM sales.order_items",
               f"COPY sales.orders TO PROGRAM 'touch {c.pwn}_multi'", "END; CHECKPOINT",
               "PREPARE TRANSACTION 'x'", "LISTEN x", "", ";", "-- tail\n; SELECT 2"]
    out = []
    for a in firsts:
        for b in rng.sample(seconds, 8):
            sep = rng.choice([";", "; ", ";\n", ";;", " ;\t", "; /* x */ "])
            sql = a.rstrip(";") + sep + b
            # "SELECT 1;" + ";" etc. is still one statement when nothing follows
            expect = "any" if b.strip(" ;") == "" else "refuse"
            out.append(Stmt(sql, expect, "multi"))
    return out


def obfuscate(s, rng):
    """A copy of the statement that means the same to PostgreSQL."""
    choice = rng.randrange(7)
    if choice == 0:
        return "/* lead */ " + s
    if choice == 1:
        return "-- lead\n" + s
    if choice == 2:
        return "\n\t  " + s + "  \n"
    if choice == 3:
        return s + ";"
    if choice == 4:
        return s + " -- ; DROP TABLE sales.orders"
    if choice == 5 and "'" not in s and '"' not in s and "$" not in s:
        return "".join(ch.upper() if rng.random() < 0.5 else ch.lower() for ch in s)
    return s.replace(" ", "\n", 2)


def generate(c, seed=35):
    rng = random.Random(seed)
    fmt = dict(t=c.tag, p=c.pwn, K=c.K, ch=c.channel, db=c.db)
    out = calls_in_positions(c, rng)
    for w in WRITES:
        out.append(Stmt(w, "refuse", "dml"))
        for e in EXPLAIN_OPTS:
            out.append(Stmt(f"{e} {w}", "refuse", "explain-analyze-write"))
        out.append(Stmt(f"EXPLAIN {w}", "refuse", "explain-plan-write"))
        out.append(Stmt(f"PREPARE {c.tag}_w AS {w}", "refuse", "prepare-write"))
    out += [Stmt(s, "refuse", "writable-cte") for s in writable_ctes()]
    out += [Stmt(s.format(**fmt), "refuse", "ddl") for s in DDL]
    explainable = [d for d in DDL if re.match(r"CREATE (TEMP(ORARY)? |UNLOGGED )?(TABLE|MATERIALIZED)"
                                              r".* AS ", d)]
    for d in explainable:
        for e in EXPLAIN_OPTS[:3]:
            out.append(Stmt(f"{e} {d.format(**fmt)}", "refuse", "explain-analyze-ddl"))
    out += [Stmt(s.format(**fmt), "refuse", "maintenance") for s in MAINTENANCE]
    out += [Stmt(s.format(**fmt), "refuse", "session") for s in SESSION]
    out += [Stmt(s.format(**fmt), "refuse", "copy") for s in COPY]
    for t in TABLES:
        for m in LOCK_MODES:
            for nowait in ("", " NOWAIT"):
                kw = rng.choice(["LOCK", "LOCK TABLE"])
                out.append(Stmt(f"{kw} {t}{m}{nowait}", "refuse", "lock"))
    for shape in LOCKING_SHAPES:
        for lk in LOCKING:
            out.append(Stmt(shape.format(l=lk), "refuse", "for-update"))
    out += [Stmt(s.format(**fmt), "refuse", "select-into") for s in INTO]
    out += multi(c, rng)
    # positive controls that must reach the database
    for s in ["SELECT 1", "VALUES (1), (2)", "TABLE sales.orders", "SHOW work_mem", "SHOW ALL",
              "SELECT * FROM sales.orders o JOIN sales.customers c ON c.id = o.customer_id",
              "EXPLAIN ANALYZE SELECT count(*) FROM sales.orders",
              "EXPLAIN (ANALYZE, BUFFERS, VERBOSE, FORMAT JSON) SELECT 1",
              "SELECT * FROM pg_locks", "SELECT * FROM pg_stat_activity", "SELECT * FROM pg_prepared_xacts",
              "SELECT * FROM pg_replication_slots", "SELECT * FROM pg_largeobject_metadata",
              "SELECT * FROM pg_settings WHERE name = 'work_mem'", "SELECT * FROM pg_cursors",
              "SELECT * FROM pg_prepared_statements", "SELECT pg_listening_channels()",
              "SELECT * FROM sales.orders_id_seq", "SELECT last_value FROM inventory.product_id_seq",
              "SELECT * FROM sales.order_summary LIMIT 5", "SELECT * FROM sales.monthly_revenue",
              "SELECT table_to_xml('sales.orders', true, false, '')",
              "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 100) SELECT sum(n) FROM r",
              "SELECT * FROM hr.employees e LEFT JOIN LATERAL (SELECT count(*) FROM hr.on_call c "
              "WHERE c.employee_id = e.id) x ON true",
              "SELECT id, sum(total) OVER (ORDER BY id ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) FROM sales.orders",
              "SELECT country, count(*) FROM sales.customers GROUP BY ROLLUP (country)",
              "SELECT * FROM types_demo.all_types", "SELECT 'COMMIT; DROP TABLE x' AS s",
              "SELECT $$ ; DELETE FROM sales.orders; $$", "SELECT 1 AS \"pg_advisory_lock\"",
              "SELECT xmin, xmax, ctid FROM sales.orders LIMIT 1",
              "SELECT txid_status(txid_current_if_assigned())", "SELECT pg_sleep(0.001)"]:
        out.append(Stmt(s, "allow", "positive"))
    # obfuscated copies of a sample of everything refused
    refused = [s for s in out if s.expect == "refuse"]
    for s in rng.sample(refused, min(len(refused), 600)):
        out.append(Stmt(obfuscate(s.sql, rng), "refuse", "obfuscated:" + s.shape.split(":")[0]))
    return out


# ---------------------------------------------------------------------------------------------
# Every callable built-in function.

SKIP_TYPES = {"internal", "trigger", "event_trigger", "language_handler", "fdw_handler",
              "index_am_handler", "tsm_handler", "table_am_handler", "cstring", "any",
              "pg_ddl_command", "opaque", "unknown"}

TYPE_VALUES = {
    "integer": "{pid}", "smallint": "1::int2", "bigint": "{K}::bigint", "oid": "'sales.orders'::regclass::oid",
    "regclass": "'sales.orders'::regclass", "text": "'x'", "character varying": "'x'::varchar",
    "name": "'x'::name", "boolean": "false", "double precision": "0.001::float8", "real": "0.5::real",
    "numeric": "1::numeric", "bytea": "'\\x00'::bytea", "date": "'2000-01-01'::date",
    "timestamp with time zone": "'2000-01-01'::timestamptz",
    "timestamp without time zone": "'2000-01-01'::timestamp", "interval": "'1 ms'::interval",
    "time without time zone": "'00:00'::time", "time with time zone": "'00:00+00'::timetz",
    "json": "'{{}}'::json", "jsonb": "'{{}}'::jsonb", "xml": "'<a/>'::xml", "uuid": "gen_random_uuid()",
    "inet": "'127.0.0.1'::inet", "cidr": "'10.0.0.0/8'::cidr", "macaddr": "'08:00:2b:01:02:03'::macaddr",
    "regtype": "'int4'::regtype", "regproc": "'now'::regproc", "regprocedure": "'now()'::regprocedure",
    "regnamespace": "'public'::regnamespace", "regrole": "'pgmcp_reader'::regrole",
    "regconfig": "'simple'::regconfig", "regdictionary": "'simple'::regdictionary",
    "tsvector": "'a'::tsvector", "tsquery": "'a'::tsquery", "xid": "'1'::xid", "xid8": "'1'::xid8",
    "pg_lsn": "'0/0'::pg_lsn", "character": "'x'::char", "\"char\"": "'x'::\"char\"",
    "anyelement": "1", "anycompatible": "1", "anyarray": "ARRAY[1]", "anycompatiblearray": "ARRAY[1]",
    "anynonarray": "1", "anyenum": "'pending'::sales.order_status", "text[]": "ARRAY['x']",
    "integer[]": "ARRAY[1]", "bigint[]": "ARRAY[1::bigint]", "oid[]": "ARRAY[1::oid]",
    "int2vector": "'1'::int2vector", "oidvector": "'1'::oidvector", "tid": "'(0,1)'::tid",
    "bit": "B'1'", "bit varying": "B'1'::varbit", "money": "1::money", "point": "'(0,0)'::point",
    "box": "'(0,0),(1,1)'::box", "circle": "'<(0,0),1>'::circle", "line": "'{{1,1,0}}'::line",
    "lseg": "'[(0,0),(1,1)]'::lseg", "path": "'[(0,0),(1,1)]'::path", "polygon": "'((0,0),(1,1),(1,0))'::polygon",
    "txid_snapshot": "txid_current_snapshot()", "pg_snapshot": "pg_current_snapshot()",
    "aclitem": "'=r/postgres'::aclitem", "refcursor": "'c'::refcursor", "jsonpath": "'$'::jsonpath",
    "int4range": "'[1,2)'::int4range", "tstzrange": "'[2000-01-01,2000-01-02)'::tstzrange",
    "macaddr8": "'08:00:2b:01:02:03:04:05'::macaddr8", "\"any\"": "1",
    "anyrange": "'[1,2)'::int4range", "anycompatiblerange": "'[1,2)'::int4range",
    "anymultirange": "'{{[1,2)}}'::int4multirange",
    "anycompatiblemultirange": "'{{[1,2)}}'::int4multirange",
    "record": "ROW(1, 'x')", "double precision[]": "ARRAY[1::float8]", "numeric[]": "ARRAY[1::numeric]",
    "smallint[]": "ARRAY[1::int2]", "real[]": "ARRAY[1::real]", "boolean[]": "ARRAY[true]",
    "name[]": "ARRAY['x'::name]", "jsonb[]": "ARRAY['{{}}'::jsonb]", "interval[]": "ARRAY['1 ms'::interval]",
}

# Argument names that say what the text is for: give each a value that would do harm if the
# function were allowed to act on it.
TEXT_BY_NAME = [
    (("query", "sql"), "'DELETE FROM sales.order_items RETURNING to_tsvector(''x'')'"),
    (("filename", "path", "file"), "'{pwn}_fn'"),
    (("channel",), "'{ch}'"),
    (("setting_name", "name"), "'work_mem'"),
    (("new_value", "value"), "'7MB'"),
    (("slot_name",), "'{tag}_slot'"),
    (("connstr", "conn"), "'dbname={db}'"),
]


def arg_value(ty, argname, c, pid):
    if ty in SKIP_TYPES:
        return None
    if ty in ("text", "character varying", "name") and argname:
        for keys, val in TEXT_BY_NAME:
            if any(k in argname for k in keys):
                return val.format(pwn=c.pwn, ch=c.channel, tag=c.tag, db=c.db)
    v = TYPE_VALUES.get(ty)
    if v is None:
        return None
    return v.format(pid=pid, K=c.K)


def function_sweep(procs, c, pid_expr):
    """procs: (name, kind, [arg types], [arg names], returns_set, variadic) from pg_proc."""
    out = []
    for name, kind, types, names, retset, variadic in procs:
        vals = []
        for i, ty in enumerate(types):
            v = arg_value(ty, names[i] if i < len(names) else "", c, pid_expr)
            if v is None:
                break
            vals.append(v)
        else:
            if variadic and types and types[-1].endswith("[]"):
                vals[-1] = "VARIADIC " + vals[-1]
            args = ", ".join(vals)
            call = f"pg_catalog.{quote_ident(name)}({args})"
            sql = f"SELECT * FROM {call} LIMIT 3" if retset else f"SELECT {call}"
            if kind == "w":
                sql = f"SELECT {call} OVER () FROM generate_series(1, 2)"
            out.append(Stmt(sql, "refuse" if denied(name) else "any", "builtin:" + name))
    return out


def quote_ident(s):
    return s if re.fullmatch(r"[a-z_][a-z0-9_]*", s) else '"' + s.replace('"', '""') + '"'


# ---------------------------------------------------------------------------------------------
# The hand-written corpus.

def load_corpus(directory, c):
    """Blocks separated by blank lines; '-- expect: refuse|allow|any' (on its own line) sets the
    expectation of the blocks after it; lines starting '-- #' are notes about the file, dropped;
    {tag} {pwn} {K} {ch} {db} {S} are replaced."""
    out = []
    for path in sorted(glob.glob(os.path.join(directory, "*.sql"))):
        expect = "refuse"
        shape = "corpus:" + os.path.basename(path)[:-4]
        with open(path) as f:
            text = f.read()
        for block in re.split(r"\n\s*\n", text):
            lines = []
            for line in block.strip("\n").split("\n"):
                m = re.match(r"^--\s*expect:\s*(refuse|allow|any)\s*$", line.strip())
                if m:
                    expect = m.group(1)
                elif not line.startswith("-- #"):     # "-- #" lines describe the file
                    lines.append(line)
            sql = "\n".join(lines).strip()
            if not sql:
                continue
            for k, v in (("{tag}", c.tag), ("{pwn}", c.pwn), ("{K}", str(c.K)),
                         ("{ch}", c.channel), ("{db}", c.db), ("{S}", c.S)):
                sql = sql.replace(k, v)
            out.append(Stmt(sql, expect, shape))
    return out
