#!/usr/bin/env python3
# t/0030-readonly-guard.t: read-only holds against hostile SQL. Connected as the SUPERUSER in the
# default read_only mode (so only pgmcp's guard and its READ ONLY transaction stand in the way),
# some 200 hostile statements go through the query tool, and through the explain tool with
# analyze where that makes sense: multi-statement strings, transaction control, SET/RESET and
# set_config, writable CTEs, row and table locks, SELECT INTO, sequences, COPY TO PROGRAM, DO,
# PREPARE/EXECUTE, LISTEN/NOTIFY, backend signalling, advisory locks, large objects, file access,
# functions that run SQL text, maintenance and DDL, comment/quoting/Unicode tricks, and function
# calls hidden in FROM, LATERAL, CASE, ORDER BY, VALUES and attribute notation. Each call must
# be refused (tool error or JSON-RPC error, never a crash or hang) or harmless; after each one
# the database checksum, new-session settings, advisory locks, backends, an unrelated sentinel
# session, files in /tmp and pgmcp's own session state are checked, and an ordinary SELECT
# through the same server must work. Positive controls: ordinary reads are not refused.
import atexit
import glob
import json
import os
import subprocess

from tap import ok, is_, bail, diag, done
from pgmcp_test import (DSN, Server, Timeout, backend_count, db_checksum, is_tool_error, psql,
                        structured, text_of, wait_for)

TAG = f"pgmcp_t0030_{os.getpid()}"
APP = TAG + "_server"            # application_name of pgmcp's connection
SENTINEL = TAG + "_sentinel"     # an unrelated idle session hostile SQL must not touch
PWN = f"/tmp/{TAG}"              # prefix of any file a hostile statement manages to write
LOCK_KEY = 424242
CALL_TIMEOUT = 30                # the server runs with statement_timeout 5s
SERVER_ARGS = ["--set", f"database.application_name={APP}",
               "--set", "limits.statement_timeout=5s", "--set", "limits.lock_timeout=2s"]

DB = psql("SELECT current_database()")
ME = psql("SELECT current_user")
if psql("SELECT rolsuper FROM pg_roles WHERE rolname = current_user") != "t":
    diag("PGMCP_TEST_DSN is not a superuser; this test is weaker than intended")


def short(sql, n=90):
    one = " ".join(sql.split())
    one = "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in one)
    return one if len(one) <= n else one[:n - 3] + "..."


# --------------------------------------------------------------------------------------------
# The sentinel: an idle psql session; hostile SQL that signals other backends would kill it.

class Sentinel:
    def __init__(self):
        self.proc = None
        self.pid = None

    def start(self):
        self.stop()
        env = dict(os.environ, PGAPPNAME=SENTINEL)
        self.proc = subprocess.Popen(["psql", "-X", "-q", "-d", DSN], stdin=subprocess.PIPE,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     env=env)
        wait_for(lambda: self.backend() is not None, timeout=10)
        self.pid = self.backend()

    def backend(self):
        out = psql(f"SELECT pid FROM pg_stat_activity WHERE application_name = '{SENTINEL}' "
                   "ORDER BY backend_start DESC LIMIT 1")
        return int(out) if out else None

    def stop(self):
        if self.proc is not None:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None
        wait_for(lambda: self.backend() is None, timeout=10)


# --------------------------------------------------------------------------------------------
# What must not change.

STATE_SQL = f"""
SELECT json_build_object(
  'settings', (SELECT json_object_agg(name, setting ORDER BY name) FROM pg_settings WHERE name IN
      ('default_transaction_read_only', 'transaction_read_only', 'statement_timeout',
       'lock_timeout', 'idle_in_transaction_session_timeout', 'search_path',
       'session_replication_role', 'default_transaction_isolation', 'log_statement', 'work_mem',
       'row_security', 'session_authorization', 'role', 'standard_conforming_strings',
       'default_tablespace', 'temp_tablespaces', 'default_transaction_deferrable')),
  'file_settings', (SELECT coalesce(json_agg(sourcefile || ':' || name || '=' || coalesce(setting, '')
      ORDER BY sourcefile, seqno), '[]') FROM pg_file_settings),
  'advisory_locks', (SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'),
  'client_backends', (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'
      AND pid <> pg_backend_pid() AND application_name <> '{SENTINEL}'),
  'pgmcp', (SELECT json_agg(json_build_object('pid', pid, 'state', state))
      FROM pg_stat_activity WHERE application_name = '{APP}'),
  'sentinel', (SELECT json_agg(pid) FROM pg_stat_activity WHERE application_name = '{SENTINEL}'),
  'prepared_xacts', (SELECT count(*) FROM pg_prepared_xacts),
  'stats_reset', json_build_array(
      (SELECT stats_reset FROM pg_stat_database WHERE datname = current_database()),
      (SELECT stats_reset FROM pg_stat_bgwriter), (SELECT stats_reset FROM pg_stat_archiver),
      (SELECT stats_reset FROM pg_stat_wal), (SELECT max(stats_reset) FROM pg_stat_slru)))
"""

# Through pgmcp: the ordinary SELECT that must work after every call, reporting the state of
# pgmcp's own session (settings, prepared statements, cursors, LISTEN, temp tables, role).
PROBE_SQL = """
SELECT 1 AS one, pg_backend_pid() AS pid,
       current_setting('default_transaction_read_only') AS default_ro,
       current_setting('transaction_read_only') AS tx_ro,
       current_setting('statement_timeout') AS statement_timeout,
       current_setting('lock_timeout') AS lock_timeout,
       current_setting('search_path') AS search_path,
       current_setting('role') AS role, session_user::text AS session_user_,
       current_user::text AS current_user_,
       current_setting('a.b', true) AS custom,
       (SELECT coalesce(string_agg(name, ',' ORDER BY name), '') FROM pg_prepared_statements) AS prepared,
       (SELECT count(*) FROM pg_cursors) AS cursors,
       (SELECT count(*) FROM pg_listening_channels()) AS listening,
       (SELECT count(*) FROM pg_class WHERE relpersistence = 't') AS temp_relations
"""


def cluster_state():
    return json.loads(psql(STATE_SQL))


def probe(srv):
    """The probe's row through pgmcp, or (None, why)."""
    try:
        r = srv.call("query", {"sql": PROBE_SQL}, timeout=CALL_TIMEOUT)
    except (Timeout, EOFError, OSError) as e:
        return None, f"probe got no answer: {e}"
    if "error" in r or is_tool_error(r):
        return None, f"probe failed: {r}"
    rows = structured(r)["rows"]
    return (rows[0], None) if len(rows) == 1 else (None, f"probe returned {rows}")


def pwned_files():
    return sorted(glob.glob(PWN + "*"))


class Baseline:
    pass


base = Baseline()
sentinel = Sentinel()
srv = None
counts = {"hostile": 0, "calls": 0, "refused": 0, "succeeded": 0, "restarts": 0}


def start_server():
    global srv
    srv = Server(*SERVER_ARGS)
    srv.initialize()
    row, why = probe(srv)
    if row is None:
        bail(f"pgmcp does not answer a plain SELECT: {why}")
    base.session = row


def restart_server(why):
    global srv
    counts["restarts"] += 1
    diag(f"  restarting pgmcp ({why})")
    if srv is not None:
        if srv.proc.poll() is None:
            srv.close(timeout=10)
        else:
            srv.kill()
    wait_for(lambda: not cluster_state()["pgmcp"], timeout=10)
    start_server()


def rebaseline():
    base.checksum = db_checksum()
    st = cluster_state()
    base.settings = st["settings"]
    base.file_settings = st["file_settings"]
    base.prepared_xacts = st["prepared_xacts"]
    base.stats_reset = st["stats_reset"]


def check_after(label):
    """Every invariant after a call; restores a clean state when one broke."""
    problems = []
    restart = None
    if srv.proc.poll() is not None:
        problems.append(f"pgmcp exited with status {srv.proc.returncode}: {srv.stderr()[-800:]}")
        restart = "it exited"
    checksum = db_checksum()
    if checksum != base.checksum:
        problems.append(f"db_checksum changed ({base.checksum} -> {checksum})")
    st = cluster_state()
    if st["settings"] != base.settings:
        changed = {k: (base.settings.get(k), v) for k, v in st["settings"].items()
                   if base.settings.get(k) != v}
        problems.append(f"settings of a new session changed: {changed}")
    if st["file_settings"] != base.file_settings:
        problems.append(f"configuration files changed: {st['file_settings']}")
    if st["advisory_locks"] != 0:
        problems.append(f"{st['advisory_locks']} advisory lock(s) held")
        restart = restart or "advisory locks held"
    if st["prepared_xacts"] != base.prepared_xacts:
        problems.append(f"prepared transactions: {st['prepared_xacts']}")
    if st["stats_reset"] != base.stats_reset:
        problems.append(f"statistics were reset: {base.stats_reset} -> {st['stats_reset']}")
    pg = st["pgmcp"] or []
    if restart is None:
        if len(pg) != 1:
            problems.append(f"pgmcp should have exactly one backend, has {pg}")
            restart = restart or "its backend is missing or duplicated"
        elif pg[0]["state"] != "idle":
            problems.append(f"pgmcp's backend is {pg[0]['state']!r}, not 'idle'")
            restart = restart or "its backend is not idle"
        if st["client_backends"] != len(pg):
            problems.append(f"{st['client_backends']} client backends besides the sentinel, "
                            f"but pgmcp has {len(pg)}")
    if st["sentinel"] != [sentinel.pid]:
        problems.append(f"the sentinel session (pid {sentinel.pid}) is gone: {st['sentinel']}")
        sentinel.start()
    files = pwned_files()
    if files:
        problems.append(f"files written: {files}")
        for f in files:
            try:
                os.unlink(f)
            except OSError as e:
                problems.append(f"cannot remove {f}: {e}")
    if restart is None:
        row, why = probe(srv)
        if row is None:
            problems.append(f"the next ordinary SELECT failed: {why}")
            restart = "the probe failed"
        elif row != base.session:
            changed = {k: (base.session.get(k), v) for k, v in row.items()
                       if base.session.get(k) != v}
            problems.append(f"pgmcp's session changed: {changed}")
            restart = "its session changed"
    ok(not problems, f"  ... no side effects after {label}", "\n  ".join(problems))
    if restart:
        restart_server(restart)
    if any(p.startswith(("db_checksum", "settings", "configuration", "prepared", "statistics"))
           for p in problems):
        diag("  re-baselining the database state")
        rebaseline()


def call(tool, args):
    """(response, None), or (None, why) when the server crashed or hung."""
    counts["calls"] += 1
    try:
        return srv.call(tool, args, timeout=CALL_TIMEOUT), None
    except (Timeout, EOFError, OSError, ValueError) as e:
        return None, f"{type(e).__name__}: {e}"


def attempt(tool, args, expect, label):
    """One hostile call: refused (expect='refuse') or at least answered (expect='any')."""
    r, why = call(tool, args)
    if r is None:
        ok(False, f"{label}: answered without crashing or hanging", why)
        restart_server("no answer")
        check_after(label)
        return
    refused = "error" in r or is_tool_error(r)
    counts["refused" if refused else "succeeded"] += 1
    if expect == "refuse":
        ok(refused, f"{label}: refused", r)
    else:
        ok("result" in r or "error" in r, f"{label}: answered (refused or harmless)", r)
    check_after(label)


EXPLAINABLE = ("SELECT", "WITH", "VALUES", "TABLE", "INSERT", "UPDATE", "DELETE", "MERGE", "(")


def hostile(sql, expect="refuse", explain=None, plan=False, params=None):
    """Tries sql through query, and through explain (analyze) when it is a query or DML."""
    counts["hostile"] += 1
    args = {"sql": sql}
    if params is not None:
        args["params"] = params
    attempt("query", args, expect, f"query {short(sql)}")
    if explain is None:
        explain = sql.lstrip().upper().startswith(EXPLAINABLE)
    if explain:
        attempt("explain", dict(args, analyze=True), expect, f"explain analyze {short(sql)}")
    if plan:
        # Without analyze the statement is only planned: whatever it is, nothing may change.
        attempt("explain", dict(args, analyze=False), "any", f"explain (plan only) {short(sql)}")


def cleanup():
    if srv is not None and srv.proc.poll() is None:
        srv.kill()
    try:
        sentinel.stop()
    except Exception as e:  # the cluster may be gone already
        diag(f"stopping the sentinel: {e}")


atexit.register(cleanup)

# --------------------------------------------------------------------------------------------

for f in pwned_files():
    os.unlink(f)
sentinel.start()
ok(sentinel.pid is not None, f"sentinel session is up (pid {sentinel.pid})")
psql("SELECT pg_advisory_unlock_all()")
rebaseline()
start_server()
is_(base.session["tx_ro"], "on", "pgmcp runs each call in a READ ONLY transaction")
st = cluster_state()
is_(st["advisory_locks"], 0, "no advisory locks at the start")
is_(len(st["pgmcp"] or []), 1, "pgmcp holds one connection")

S = f"(SELECT pid FROM pg_stat_activity WHERE application_name = '{SENTINEL}')"
K = LOCK_KEY

# -- positive controls: ordinary reads must not be refused ------------------------------------
positives = [
    ("SELECT 1 AS one", [{"one": 1}]),
    ("SELECT count(*) AS n FROM sales.orders", [{"n": 200}]),
    ("WITH t AS (SELECT id FROM sales.orders WHERE id <= 3) SELECT count(*) AS n FROM t", [{"n": 3}]),
    ("VALUES (1, 'a'), (2, 'b')", 2),
    ("TABLE sales.orders", 200),
    ("TABLE hr.employees", 12),
    ("EXPLAIN SELECT * FROM sales.orders WHERE id = 1", None),
    ("EXPLAIN (ANALYZE, COSTS OFF) SELECT count(*) FROM sales.order_items", None),
    ("SHOW work_mem", 1),
    ("SHOW ALL", None),
    ("SELECT pg_sleep(0.01)", 1),
    ("SELECT current_setting('transaction_read_only') AS ro", [{"ro": "on"}]),
    ("SELECT 1 /* ; DROP TABLE sales.orders */ AS one", [{"one": 1}]),
    ("SELECT 1 AS one -- ; DROP TABLE sales.orders", [{"one": 1}]),
    ("SELECT 1 /* /* */ DROP TABLE sales.orders */ AS one", [{"one": 1}]),
    ("SELECT $$; DROP TABLE sales.orders; $$ AS s", [{"s": "; DROP TABLE sales.orders; "}]),
    ("SELECT $a$ $$; DELETE FROM sales.orders; $$ $a$ AS s", [{"s": " $$; DELETE FROM sales.orders; $$ "}]),
    ("SELECT E'\\'; DROP TABLE sales.orders; --' AS s", [{"s": "'; DROP TABLE sales.orders; --"}]),
    ("SELECT 'COMMIT; DELETE FROM sales.orders' AS s", [{"s": "COMMIT; DELETE FROM sales.orders"}]),
    ("SELECT U&'\\0064elete' AS s", [{"s": "delete"}]),
    ('SELECT U&"\\0069d" AS id FROM sales.orders ORDER BY 1 LIMIT 1', [{"id": 1}]),
    ("SELECT 'pg_terminate_backend(1)' AS s, 1 AS pg_advisory_lock", 1),
    # A column named like a denied function works unqualified; qualified (t.set_config) it is
    # refused, because t.f is also how PostgreSQL writes the call f(t) (attribute notation).
    ("SELECT set_config FROM (SELECT 1 AS set_config) t", [{"set_config": 1}]),
    ("SELECT count(*) AS n FROM pg_proc WHERE proname IN ('pg_terminate_backend', 'set_config')",
     [{"n": 2}]),
    ("SELECT * FROM sales.order_summary ORDER BY order_id LIMIT 3", 3),
    ("SELECT o.id, c.n FROM sales.orders o JOIN LATERAL (SELECT count(*) AS n FROM sales.order_items i "
     "WHERE i.order_id = o.id) c ON true ORDER BY o.id LIMIT 2", 2),
    ("SELECT 1 AS x UNION ALL SELECT 2 ORDER BY 1", [{"x": 1}, {"x": 2}]),
    ("SELECT g FROM generate_series(1, 5) g WHERE g > 3", [{"g": 4}, {"g": 5}]),
    ("SELECT count(*) > 0 AS t FROM pg_stat_activity", [{"t": True}]),
    ("SELECT table_name FROM information_schema.tables WHERE table_schema = 'hr' ORDER BY 1",
     [{"table_name": "employees"}, {"table_name": "on_call"}]),
    ("SELECT id FROM sales.customers TABLESAMPLE SYSTEM (100) REPEATABLE (1) ORDER BY id LIMIT 1",
     [{"id": 1}]),
    ("SELECT currval IS NULL AS t FROM (SELECT NULL AS currval) s", [{"t": True}]),
    ("  \n\tSELECT 1 AS one;  \n", [{"one": 1}]),
    ("SELECT 1 AS one;", [{"one": 1}]),
]
for sql, expected in positives:
    r, why = call("query", {"sql": sql})
    good = r is not None and "result" in r and not is_tool_error(r)
    if good and expected is not None:
        rows = structured(r)["rows"]
        good = rows == expected if isinstance(expected, list) else len(rows) == expected
    ok(good, f"positive control: query {short(sql)}", r if r is not None else why)
    if r is None:
        restart_server("no answer")

r, why = call("query", {"sql": "SELECT id, $1::text AS s FROM sales.orders WHERE id = $2",
                        "params": ["x'); DROP TABLE sales.orders; --", 7]})
ok(r is not None and not is_tool_error(r) and structured(r)["rows"] ==
   [{"id": 7, "s": "x'); DROP TABLE sales.orders; --"}], "positive control: params are only data", r)
for args in [{"sql": "SELECT count(*) FROM sales.orders", "analyze": True},
             {"sql": "SELECT pg_sleep(0.01)", "analyze": True},
             {"sql": "SELECT * FROM sales.orders WHERE id = $1", "params": [3], "analyze": True,
              "format": "json"},
             {"sql": "DELETE FROM sales.orders WHERE id < 0"},
             {"sql": "UPDATE sales.orders SET total = 0"}]:
    r, why = call("explain", args)
    ok(r is not None and "result" in r and not is_tool_error(r),
       f"positive control: explain {args}", r if r is not None else why)
check_after("the positive controls")

# -- hostile statements ------------------------------------------------------------------------

# Several statements in one string, and transaction control.
hostile("SELECT 1; DROP TABLE sales.orders")
hostile("SELECT 1; COMMIT; DELETE FROM sales.orders")
hostile("COMMIT; DELETE FROM sales.orders")
hostile("ROLLBACK; DELETE FROM sales.order_items")
hostile("END; DROP TABLE sales.order_items")
hostile("ABORT; TRUNCATE sales.order_items")
hostile("BEGIN; DELETE FROM sales.orders; COMMIT")
hostile("SELECT 1; SET default_transaction_read_only = off")
hostile("SELECT 1;; DELETE FROM sales.order_items")
hostile("SELECT 1 --\n; DROP TABLE sales.orders")
hostile("SELECT 1 /* */; DROP TABLE sales.orders /* */")
hostile(f"SELECT 1; SELECT pg_advisory_lock({K})")
hostile("SELECT 1;" * 500, explain=False)
hostile("COMMIT")
hostile("ROLLBACK")
hostile("END")
hostile("ABORT")
hostile("BEGIN")
hostile("BEGIN READ WRITE")
hostile("START TRANSACTION READ WRITE")
hostile("SET TRANSACTION READ WRITE")
hostile("SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE")
hostile("SAVEPOINT s")
hostile("RELEASE SAVEPOINT s")
hostile("ROLLBACK TO SAVEPOINT s")
hostile(f"PREPARE TRANSACTION '{TAG}'")
hostile(f"COMMIT PREPARED '{TAG}'")

# Settings: SET, RESET, set_config wherever it hides.
hostile("SET default_transaction_read_only = off")
hostile("SET transaction_read_only = off")
hostile("SET LOCAL transaction_read_only = off")
hostile("SET statement_timeout = 0")
hostile("SET search_path = pg_temp, public")
hostile("SET session_replication_role = replica")
hostile("RESET ALL")
hostile("RESET default_transaction_read_only")
hostile("SET ROLE pgmcp_writer")
hostile("SET SESSION AUTHORIZATION pgmcp_writer")
hostile("SET CONSTRAINTS ALL DEFERRED")
hostile("SELECT set_config('default_transaction_read_only', 'off', false)")
hostile("SELECT pg_catalog.set_config('default_transaction_read_only', 'off', false)")
hostile("SELECT set_config('statement_timeout', '0', false)")
hostile("SELECT set_config('transaction_read_only', 'off', true)")
hostile('SELECT "set_config"(\'a.b\', \'c\', false)')
hostile("SELECT * FROM pg_catalog.set_config('a.b', 'c', false)")
hostile("SELECT (SELECT set_config('a.b', 'c', false))")
hostile("SELECT x FROM sales.orders, LATERAL set_config('a.b', 'c', false) x LIMIT 1")
hostile("SELECT CASE WHEN true THEN set_config('a.b', 'c', false) END")
hostile("SELECT 1 ORDER BY set_config('a.b', 'c', false)")
hostile("VALUES (1, set_config('a.b', 'c', false))")
hostile("SELECT set_config(setting_name => 'a.b', new_value => 'c', is_local => false)")
hostile("UPDATE pg_settings SET setting = 'off' WHERE name = 'default_transaction_read_only'")
hostile("ALTER SYSTEM SET default_transaction_read_only = off")
hostile("ALTER SYSTEM RESET ALL")
hostile(f'ALTER DATABASE "{DB}" SET default_transaction_read_only = off')
hostile("ALTER ROLE CURRENT_USER SET statement_timeout = 0")
hostile("DISCARD ALL")
hostile("DISCARD PLANS")
hostile("SELECT pg_reload_conf()")

# Writable CTEs, at the top and nested.
hostile("WITH d AS (DELETE FROM sales.order_items RETURNING *) SELECT count(*) FROM d", plan=True)
hostile("WITH i AS (INSERT INTO sales.orders (customer_id, ordered_at) VALUES (1, now()) "
        "RETURNING id) SELECT * FROM i", plan=True)
hostile("WITH u AS (UPDATE sales.orders SET total = 0 RETURNING id) SELECT count(*) FROM u")
hostile("WITH d AS (DELETE FROM sales.order_items WHERE false RETURNING *) SELECT * FROM d")
hostile("SELECT * FROM (WITH d AS (DELETE FROM sales.orders RETURNING id) SELECT id FROM d) s")
hostile("SELECT (WITH d AS (DELETE FROM sales.order_items RETURNING 1) SELECT count(*) FROM d)")
hostile("SELECT 1 WHERE EXISTS (WITH u AS (UPDATE sales.customers SET full_name = 'x' RETURNING 1) "
        "SELECT * FROM u)")
hostile("WITH a AS (SELECT 1), b AS (WITH c AS (DELETE FROM sales.order_items RETURNING 1) "
        "SELECT * FROM c) SELECT * FROM b")
hostile("WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 3), "
        "d AS (DELETE FROM sales.orders WHERE id IN (SELECT n FROM r) RETURNING id) SELECT * FROM d")

# Row and table locks.
hostile("SELECT * FROM sales.orders FOR UPDATE")
hostile("SELECT * FROM sales.orders FOR SHARE")
hostile("SELECT * FROM sales.orders FOR NO KEY UPDATE")
hostile("SELECT * FROM sales.orders FOR KEY SHARE")
hostile("SELECT * FROM sales.orders FOR UPDATE NOWAIT")
hostile("SELECT * FROM (SELECT * FROM sales.orders FOR UPDATE) s")
hostile("WITH l AS (SELECT id FROM sales.orders FOR UPDATE SKIP LOCKED) SELECT count(*) FROM l")
hostile("SELECT o.id FROM sales.orders o JOIN sales.customers c ON c.id = o.customer_id "
        "FOR UPDATE OF c")
hostile("LOCK TABLE sales.orders")
hostile("LOCK TABLE sales.orders IN ACCESS EXCLUSIVE MODE NOWAIT")

# Tables made by reads.
hostile(f"SELECT * INTO {TAG}_newtab FROM sales.orders")
hostile(f"SELECT * INTO TEMP {TAG}_tmp FROM sales.orders")
hostile(f"SELECT * INTO UNLOGGED {TAG}_unl FROM sales.orders")
hostile(f"CREATE TABLE {TAG}_ctas AS SELECT * FROM sales.orders")
hostile(f"CREATE TEMP TABLE {TAG}_t (x int)")
hostile(f"CREATE UNLOGGED TABLE {TAG}_u (x int)")
hostile(f"CREATE MATERIALIZED VIEW {TAG}_mv AS SELECT 1")
hostile(f"CREATE VIEW {TAG}_v AS SELECT 1")
hostile(f"CREATE TEMP VIEW {TAG}_tv AS SELECT 1")

# Sequences.
hostile("SELECT nextval('sales.orders_id_seq')")
hostile("SELECT setval('sales.orders_id_seq', 1)")
hostile("SELECT pg_catalog.setval('sales.orders_id_seq', 1, false)")
hostile("SELECT nextval('sales.orders_id_seq') FROM generate_series(1, 3)")
hostile("ALTER SEQUENCE sales.orders_id_seq RESTART WITH 1")

# COPY.
hostile(f"COPY sales.orders TO PROGRAM 'touch {PWN}_copy_program'")
hostile(f"COPY (SELECT 1) TO PROGRAM 'touch {PWN}_copy_program2'")
hostile(f"COPY sales.orders TO '{PWN}_copy_file'")
hostile(f"COPY sales.orders FROM PROGRAM 'touch {PWN}_copy_from; echo'")
hostile("COPY sales.orders TO STDOUT")
hostile("COPY sales.orders FROM STDIN")
hostile(f"SELECT 1; COPY sales.orders TO PROGRAM 'touch {PWN}_copy_multi'")

# Code, prepared statements, cursors, LISTEN/NOTIFY.
hostile("DO $$BEGIN DELETE FROM sales.orders; END$$")
hostile(f"DO $$BEGIN PERFORM pg_advisory_lock({K}); END$$")
hostile("DO LANGUAGE plpgsql $$BEGIN EXECUTE 'SET default_transaction_read_only = off'; END$$")
hostile(f"CALL {TAG}_proc()")
hostile("LOAD 'plpgsql'")
hostile(f"LOAD '{PWN}.so'")
hostile("PREPARE p AS DELETE FROM sales.orders")
hostile("PREPARE q AS SELECT 1")
hostile("EXECUTE p")
hostile("PREPARE p AS DELETE FROM sales.orders; EXECUTE p")
hostile("DEALLOCATE ALL")
hostile("DECLARE c CURSOR FOR SELECT 1")
hostile("DECLARE c CURSOR WITH HOLD FOR SELECT * FROM sales.orders")
hostile("FETCH ALL FROM c")
hostile("CLOSE ALL")
hostile("LISTEN x")
hostile("UNLISTEN *")
hostile("NOTIFY x")
hostile("NOTIFY x, 'y'")
hostile("SELECT pg_notify('x', 'y')")

# Other backends, the server, WAL, statistics.
hostile("SELECT pg_terminate_backend(pid) FROM pg_stat_activity")
hostile(f"SELECT pg_catalog.pg_terminate_backend(pid) FROM pg_stat_activity "
        f"WHERE application_name = '{SENTINEL}'")
hostile(f'SELECT "pg_terminate_backend"({S})')
hostile(f'SELECT U&"\\0070g_terminate_backend"({S})')
hostile(f"SELECT * FROM pg_stat_activity a, LATERAL pg_terminate_backend(a.pid) t "
        f"WHERE a.application_name = '{SENTINEL}'")
hostile("SELECT pg_terminate_backend(pg_backend_pid())")
hostile("SELECT pg_cancel_backend(pid) FROM pg_stat_activity")
hostile(f"SELECT pg_catalog.pg_cancel_backend({S})")
hostile("SELECT pg_rotate_logfile()")
hostile("SELECT pg_stat_reset()")
hostile("SELECT pg_stat_reset_shared('bgwriter')")
hostile("SELECT pg_stat_reset_single_table_counters('sales.orders'::regclass)")
hostile("SELECT pg_stat_reset_slru(NULL)")
hostile("SELECT pg_switch_wal()")
hostile(f"SELECT pg_create_restore_point('{TAG}')")
hostile("SELECT pg_promote()")
hostile("SELECT pg_log_backend_memory_contexts(pg_backend_pid())")
hostile(f"SELECT pg_create_physical_replication_slot('{TAG}')")
hostile(f"SELECT * FROM pg_create_logical_replication_slot('{TAG}', 'pgoutput')")
hostile("SELECT pg_logical_emit_message(false, 'p', 'm')")
hostile("SELECT pg_export_snapshot()")
hostile("SELECT pg_import_system_collations('pg_catalog')")
hostile("SELECT txid_current()")
hostile("SELECT pg_current_xact_id()")
hostile(f"SELECT pg_backup_start('{TAG}')")
hostile("SELECT setseed(0.5)")
hostile("VACUUM")
hostile("VACUUM FULL sales.orders")
hostile("ANALYZE")
hostile("ANALYZE sales.orders")
hostile("CHECKPOINT")
hostile("REINDEX TABLE sales.orders")
hostile("CLUSTER sales.orders USING orders_pkey")
hostile("REFRESH MATERIALIZED VIEW sales.monthly_revenue")

# Advisory locks, in every place a function call can hide.
hostile(f"SELECT pg_advisory_lock({K})")
hostile(f"SELECT pg_try_advisory_lock({K})")
hostile(f"SELECT pg_advisory_lock_shared({K})")
hostile(f"SELECT pg_advisory_xact_lock({K})")
hostile("SELECT pg_advisory_unlock_all()")
hostile("SELECT * FROM sales.orders, LATERAL (SELECT pg_advisory_lock(1)) x")
hostile(f"SELECT * FROM generate_series(1, 1) g, LATERAL (SELECT pg_advisory_lock({K} + g)) x")
hostile(f"SELECT 1 WHERE pg_try_advisory_lock({K})")
hostile("SELECT id FROM sales.orders ORDER BY pg_advisory_lock(id) LIMIT 1")
hostile(f"SELECT count(*) FILTER (WHERE pg_try_advisory_lock({K})) FROM sales.orders")
hostile("SELECT array_agg(id ORDER BY pg_try_advisory_lock(id)) FROM sales.orders")
hostile(f"SELECT 1 GROUP BY pg_advisory_lock({K})")
hostile(f"SELECT 1 HAVING pg_try_advisory_lock({K})")
hostile(f"SELECT pg_advisory_lock({K})::text")
hostile(f"SELECT CASE WHEN id > 0 THEN pg_advisory_lock({K}) END FROM sales.orders LIMIT 1")
hostile(f"VALUES (pg_advisory_lock({K}))")
hostile(f"SELECT * FROM ROWS FROM (pg_advisory_lock({K}))")
hostile(f"SELECT * FROM pg_advisory_lock({K})")
hostile(f"SELECT (SELECT pg_try_advisory_lock({K}))")
hostile(f"SELECT 1 FROM sales.orders WHERE id IN (SELECT pg_try_advisory_lock({K})::int)")
hostile(f"SELECT coalesce(NULL, pg_try_advisory_lock({K}))")
hostile(f"SELECT ARRAY[pg_try_advisory_lock({K})]")
hostile(f"SELECT ROW(pg_try_advisory_lock({K}))")
hostile(f"SELECT id FROM sales.customers TABLESAMPLE BERNOULLI (100) "
        f"REPEATABLE (pg_try_advisory_lock({K})::int)")
hostile(f"SELECT 1 FROM sales.orders o JOIN sales.customers c ON pg_try_advisory_lock({K}) LIMIT 1")
hostile(f"SELECT sum(id) OVER (PARTITION BY pg_try_advisory_lock({K})) FROM sales.orders LIMIT 1")
hostile(f'SELECT U&"\\0070g_advisory_lock"({K})')
hostile(f'SELECT "pg_advisory_lock"({K})')
hostile(f"SELECT pg_catalog.pg_advisory_lock({K})")
hostile(f'SELECT "pg_catalog"."pg_advisory_lock"({K})')
hostile(f"SELECT PG_ADVISORY_LOCK({K})")
hostile(f"SELECT pg_advisory_lock/**/({K})")
hostile(f"SELECT pg_advisory_lock\n(\n{K}\n)")
hostile(f"SELECT {K}::bigint AS k, pg_advisory_lock($1)", params=[K])

# Large objects and server files.
hostile("SELECT lo_import('/etc/passwd')")
hostile("SELECT * FROM lo_import('/etc/passwd')")
hostile(f"SELECT lo_export(lo_from_bytea(0, 'x'), '{PWN}_lo_export')")
hostile("SELECT lo_create(0)")
hostile("SELECT lo_from_bytea(0, 'x')")
hostile("SELECT lo_unlink(1)")
hostile("SELECT loread(lo_open(1, 262144), 10)")
hostile("SELECT pg_read_file('/etc/passwd')")
hostile("SELECT pg_read_binary_file('/etc/passwd')")
hostile("SELECT pg_stat_file('postgresql.conf')")
hostile("SELECT pg_ls_dir('.')")
hostile("SELECT * FROM pg_ls_waldir()")
hostile("SELECT * FROM pg_ls_logdir()")
hostile("SELECT pg_file_write('x', 'y', false)")

# Functions that run SQL text the guard never sees.
hostile(f"SELECT dblink('dbname={DB}', 'DELETE FROM sales.orders')")
hostile(f"SELECT dblink_exec('dbname={DB}', 'DROP TABLE sales.orders')")
hostile("SELECT dblink_connect('x')")
hostile("SELECT query_to_xml('delete from sales.orders', true, true, '')")
hostile(f"SELECT query_to_xml('select pg_advisory_lock({K})', true, true, '')")
hostile("SELECT query_to_xmlschema('select 1', true, true, '')")
hostile("SELECT cursor_to_xml('c', 1, true, true, '')")
hostile("SELECT database_to_xml(true, true, '')")
hostile(f"SELECT * FROM ts_stat('SELECT to_tsvector(''simple'', ''x'') FROM pg_advisory_lock({K})')")
hostile("SELECT * FROM ts_stat('DELETE FROM sales.orders RETURNING to_tsvector(''x'')')")
hostile(f"SELECT ts_rewrite('a'::tsquery, 'SELECT ''a''::tsquery, ''b''::tsquery "
        f"FROM pg_catalog.pg_advisory_lock({K})')")
hostile(f"SELECT ts_rewrite('a'::tsquery, 'SELECT ''a''::tsquery, ''b''::tsquery "
        f"FROM (SELECT pid FROM pg_stat_activity WHERE application_name = ''{SENTINEL}'' OFFSET 0) s "
        f"WHERE pg_terminate_backend(s.pid)')")
hostile("SELECT ts_rewrite('a'::tsquery, 'SELECT ''a''::tsquery, ''b''::tsquery "
        "WHERE pg_read_file(''/etc/passwd'') IS NOT NULL')")
hostile("SELECT ts_rewrite('a'::tsquery, 'DELETE FROM sales.orders RETURNING ''a''::tsquery, "
        "''b''::tsquery')")

# Function calls in attribute notation: (arg).function is function(arg), with no FuncCall node.
hostile(f"SELECT ({K}::bigint).pg_advisory_lock")
hostile(f"SELECT (t.k).pg_try_advisory_lock FROM (SELECT {K}::bigint) AS t(k)")
hostile(f"SELECT (pid).pg_terminate_backend FROM pg_stat_activity WHERE application_name = '{SENTINEL}'")
hostile(f"SELECT (pid).pg_cancel_backend FROM pg_stat_activity WHERE application_name = '{SENTINEL}'")
hostile("SELECT (pg_backend_pid()).pg_terminate_backend")
hostile("SELECT ('/etc/passwd'::text).pg_read_file")
hostile("SELECT ('.'::text).pg_ls_dir")
hostile("SELECT ('/etc/passwd'::text).lo_import")
hostile("SELECT ('bgwriter'::text).pg_stat_reset_shared")
hostile(f"SELECT ('{TAG}'::text).pg_create_restore_point")
hostile("SELECT (pg_backend_pid()).pg_log_backend_memory_contexts")
hostile("SELECT (0.5::float8).setseed")
hostile("SELECT ('sales.orders_id_seq'::regclass).nextval")
hostile(f"SELECT ('SELECT to_tsvector(''simple'', ''x'') FROM pg_advisory_lock({K})'::text).ts_stat")
hostile(f"EXPLAIN ANALYZE SELECT ({K}::bigint).pg_advisory_lock")
# t.f is f(t) too when t is a scalar function in FROM, and t.c.f is f(t.c).
hostile(f"SELECT t.pg_advisory_lock FROM generate_series({K}::bigint, {K}) t")
hostile(f"SELECT s.k.pg_advisory_lock FROM (SELECT {K}::bigint AS k) s")
hostile(f"SELECT pg_catalog.generate_series.pg_try_advisory_lock FROM pg_catalog.generate_series({K}::bigint, {K})")

# EXPLAIN ANALYZE runs the statement it explains.
hostile("EXPLAIN ANALYZE DELETE FROM sales.orders")
hostile("EXPLAIN (ANALYZE, BUFFERS) UPDATE sales.orders SET total = 0")
hostile("EXPLAIN (ANALYZE) WITH d AS (DELETE FROM sales.orders RETURNING 1) SELECT * FROM d")
hostile(f"EXPLAIN ANALYZE SELECT pg_advisory_lock({K})")
hostile(f"EXPLAIN ANALYZE CREATE TABLE {TAG}_x AS SELECT 1")
hostile(f"EXPLAIN ANALYZE SELECT * INTO {TAG}_y FROM sales.orders")
hostile("EXPLAIN ANALYZE EXECUTE p")
hostile("EXPLAIN ANALYZE SELECT * FROM sales.orders FOR UPDATE")
hostile("EXPLAIN ANALYZE INSERT INTO sales.orders (customer_id, ordered_at) VALUES (1, now())")
hostile("EXPLAIN DELETE FROM sales.orders", expect="any")

# Writes and DDL of every kind.
hostile("INSERT INTO sales.orders (customer_id, ordered_at) VALUES (1, now())", plan=True)
hostile("INSERT INTO sales.orders (id, customer_id, ordered_at) VALUES (1, 1, now()) "
        "ON CONFLICT DO NOTHING")
hostile("UPDATE sales.orders SET total = 0", plan=True)
hostile("DELETE FROM sales.orders", plan=True)
hostile("DELETE FROM sales.order_items WHERE order_id = 1 RETURNING *")
hostile("MERGE INTO sales.orders o USING (SELECT 1 AS id) s ON o.id = s.id WHEN MATCHED THEN DELETE",
        plan=True)
hostile('DELETE FROM sales.U&"\\006Frders"')
hostile('U&"\\0064elete" FROM sales.orders')
hostile("DROP TABLE sales.orders")
hostile("DROP TABLE sales.order_items CASCADE")
hostile("DROP SCHEMA sales CASCADE")
hostile("TRUNCATE sales.order_items")
hostile("TRUNCATE sales.orders CASCADE")
hostile("ALTER TABLE sales.orders ADD COLUMN pwned int")
hostile("ALTER TABLE sales.orders DISABLE TRIGGER ALL")
hostile("CREATE INDEX ON sales.orders (note)")
hostile(f"CREATE SCHEMA {TAG}")
hostile(f"CREATE FUNCTION {TAG}_f() RETURNS int LANGUAGE sql AS 'SELECT 1'")
hostile(f"CREATE RULE {TAG}_r AS ON INSERT TO sales.orders DO INSTEAD NOTHING")
hostile(f"CREATE TRIGGER {TAG}_t BEFORE INSERT ON sales.orders FOR EACH ROW "
        "EXECUTE FUNCTION suppress_redundant_updates_trigger()")
hostile(f"CREATE ROLE {TAG} SUPERUSER LOGIN")
hostile("ALTER ROLE pgmcp_reader SUPERUSER")
hostile("GRANT ALL ON ALL TABLES IN SCHEMA sales TO PUBLIC")
hostile("REVOKE SELECT ON sales.orders FROM pgmcp_reader")
hostile("ALTER DEFAULT PRIVILEGES GRANT ALL ON TABLES TO PUBLIC")
hostile("COMMENT ON TABLE sales.orders IS 'pwned'")
hostile("CREATE EXTENSION IF NOT EXISTS dblink")
hostile("CREATE EXTENSION plpgsql")
hostile(f"CREATE DATABASE {TAG}")
hostile(f'DROP DATABASE "{DB}"')
hostile(f"CREATE PUBLICATION {TAG} FOR ALL TABLES")
hostile(f"CREATE SEQUENCE {TAG}_seq")
hostile("DROP OWNED BY pgmcp_writer")
hostile(f"SECURITY LABEL ON TABLE sales.orders IS 'x'")
hostile(f"CREATE TABLESPACE {TAG} LOCATION '/tmp'")
hostile(f"IMPORT FOREIGN SCHEMA public FROM SERVER {TAG} INTO public")

# Odd inputs: NUL, deep nesting, very long text, runaway statements.
hostile("SELECT 1\u0000; DROP TABLE sales.orders", explain=False)
hostile("SELECT " + "(" * 5000 + "1" + ")" * 5000, expect="any", explain=False)
hostile("SELECT 1" + "+(1" * 3000 + ")" * 3000, expect="any", explain=False)
hostile("SELECT " + "-" * 3000 + "1", expect="any", explain=False)
hostile("SELECT 1 AS x" + ", 1" * 20000, expect="any", explain=False)
hostile("SELECT pg_sleep(3600)")
hostile("WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT count(*) FROM r")
hostile("SELECT repeat('x', 1000000) FROM generate_series(1, 20)", expect="any", explain=False)
hostile("SELECT 'a\\'; DROP TABLE sales.orders; --'", expect="any")
hostile("SELECT gin_clean_pending_list('inventory.products_tags_idx')", expect="any")

# The execute tool does not exist in read_only mode.
counts["hostile"] += 1
attempt("execute", {"sql": "DELETE FROM sales.orders"}, "refuse", "execute DELETE in read_only mode")

# -- the end -----------------------------------------------------------------------------------
diag(f"hostile statements tried: {counts['hostile']} ({counts['calls']} tool calls in all; "
     f"{counts['refused']} hostile calls refused or failed, {counts['succeeded']} answered with a "
     f"result; pgmcp restarted {counts['restarts']} times to clear leaked state)")
ok(counts["hostile"] >= 60, f"at least 60 hostile statements tried ({counts['hostile']})")
rc = srv.close()
is_(rc, 0, "pgmcp exits 0 at end of input")
sentinel.stop()
ok(wait_for(lambda: backend_count() == 0, timeout=10),
   "no backends left behind in the test database", psql(
       "SELECT string_agg(application_name || ':' || state, ', ') FROM pg_stat_activity "
       "WHERE datname = current_database() AND pid <> pg_backend_pid() "
       "AND backend_type = 'client backend'"))
is_(psql("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"), "0", "no advisory locks")
is_(pwned_files(), [], f"no files {PWN}*")
for f in pwned_files():
    os.unlink(f)
done()
