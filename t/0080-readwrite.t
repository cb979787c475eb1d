#!/usr/bin/env python3
# t/0080-readwrite.t: --access read_write and the execute tool, against a private copy of the
# sample database (created here, dropped at the end). execute is listed only in read_write
# mode; INSERT/UPDATE/DELETE/MERGE with params and RETURNING commit and report command and
# rows_affected (also when RETURNING is truncated); failures (constraint violations, errors,
# timeouts) roll back and report their SQLSTATE; DDL works; session and server statements
# (SET, BEGIN/COMMIT, COPY, DO, LISTEN, PREPARE, VACUUM, ...) and multi-statement strings are
# refused; the query tool still refuses writes; after every call the next one works and
# pgmcp's backend is 'idle', never 'idle in transaction', with its session unchanged.
import atexit
import glob
import os
import urllib.parse

from tap import ok, is_, like, bail, diag, done
from pgmcp_test import (DSN, DSN_WRITER, ROOT, Server, Timeout, db_checksum, is_tool_error, psql,
                        result_of, run, structured, text_of, wait_for)

TAG = f"pgmcp_rw_{os.getpid()}"
APP = TAG + "_server"
PWN = f"/tmp/{TAG}"
servers = []


def dsn_with_db(dsn, db):
    if dsn.startswith(("postgres://", "postgresql://")):
        u = urllib.parse.urlsplit(dsn)
        return urllib.parse.urlunsplit(u._replace(path="/" + db))
    return f"{dsn} dbname={db}"


RW = dsn_with_db(DSN, TAG)
RW_WRITER = dsn_with_db(DSN_WRITER, TAG) if DSN_WRITER else None


def start(*args, dsn=RW):
    s = Server(*args, dsn=dsn)
    servers.append(s)
    s.initialize()
    return s


def cleanup():
    for s in servers:
        if s.proc.poll() is None:
            s.kill()
    try:
        psql(f'DROP DATABASE IF EXISTS "{TAG}" WITH (FORCE)')
    except Exception as e:
        print(f"# dropping {TAG}: {e}", flush=True)
    for f in glob.glob(PWN + "*"):
        os.unlink(f)


atexit.register(cleanup)

psql(f'CREATE DATABASE "{TAG}"')
rc, out, err = run(["psql", "-X", "-v", "ON_ERROR_STOP=1", "-q", "-f",
                    os.path.join(ROOT, "scripts", "sample-data.sql"), "-d", RW], timeout=120)
if rc != 0:
    bail(f"cannot load the sample data into {TAG}: {err}")
ok(True, f"private database {TAG} created and loaded")


def q(sql):
    """psql on the private database."""
    return psql(sql, dsn=RW)


def tool_names(s):
    return [t["name"] for t in result_of(s.request("tools/list"))["tools"]]


# -- execute exists only in read_write mode ---------------------------------------------------
for args, env, want, what in [((), None, False, "default mode"),
                              (("--access", "read_only"), None, False, "--access read_only"),
                              (("--access", "read_write"), None, True, "--access read_write"),
                              (("--read-write",), None, True, "--read-write"),
                              ((), {"PGMCP_ACCESS": "read_write"}, True, "PGMCP_ACCESS=read_write")]:
    s = Server(*args, dsn=RW, env=env)
    servers.append(s)
    s.initialize()
    names = tool_names(s)
    is_("execute" in names, want, f"{what}: execute {'is' if want else 'is not'} in tools/list")
    ok("query" in names and "explain" in names, f"{what}: query and explain are listed")
    if want:
        tool = [t for t in result_of(s.request("tools/list"))["tools"] if t["name"] == "execute"][0]
        ann = tool.get("annotations", {})
        ok(ann.get("readOnlyHint") is False and ann.get("destructiveHint") is True,
           f"{what}: execute is annotated as writing and destructive", ann)
    else:
        before = db_checksum(RW)
        r = s.call("execute", {"sql": "DELETE FROM sales.order_items"})
        ok("error" in r or is_tool_error(r), f"{what}: calling execute anyway is refused", r)
        is_(db_checksum(RW), before, f"{what}: and changes nothing")
    is_(s.close(), 0, f"{what}: exits 0")

# -- the read_write server used for the rest ---------------------------------------------------
SERVER_ARGS = ("--access", "read_write", "--set", f"database.application_name={APP}",
               "--set", "limits.max_rows=50", "--set", "limits.statement_timeout=3s")
PROBE_SQL = """
SELECT pg_backend_pid() AS pid, current_setting('statement_timeout') AS statement_timeout,
       current_setting('lock_timeout') AS lock_timeout,
       current_setting('default_transaction_read_only') AS default_ro,
       current_setting('search_path') AS search_path, current_setting('role') AS role,
       current_user::text AS current_user_, current_setting('a.b', true) AS custom,
       (SELECT coalesce(string_agg(name, ',' ORDER BY name), '') FROM pg_prepared_statements) AS prepared,
       (SELECT count(*) FROM pg_cursors) AS cursors,
       (SELECT count(*) FROM pg_listening_channels()) AS listening,
       (SELECT count(*) FROM pg_locks WHERE locktype = 'advisory') AS advisory_locks
"""
srv = None
session = None


def probe():
    try:
        r = srv.call("query", {"sql": PROBE_SQL}, timeout=30)
    except (Timeout, EOFError, OSError) as e:
        return None, str(e)
    if "error" in r or is_tool_error(r):
        return None, r
    return structured(r)["rows"][0], None


def start_main():
    global srv, session
    if srv is not None:
        srv.close()
        wait_for(lambda: q(f"SELECT count(*) FROM pg_stat_activity WHERE application_name = '{APP}'")
                 == "0", timeout=10)
    srv = start(*SERVER_ARGS)
    session, why = probe()
    if session is None:
        bail(f"the read_write server does not answer: {why}")


def backend_states():
    out = q(f"SELECT coalesce(string_agg(state, ','), '') FROM pg_stat_activity "
            f"WHERE application_name = '{APP}'")
    return out.split(",") if out else []


def after(label):
    """pgmcp is alive, its backend idle (not in a transaction), its session unchanged, and
    the next call works; restarts it when not, so later checks start clean."""
    problems = []
    if srv.proc.poll() is not None:
        problems.append(f"pgmcp exited with {srv.proc.returncode}: {srv.stderr()[-800:]}")
    else:
        states = backend_states()
        if states != ["idle"]:
            problems.append(f"pgmcp's backend state is {states}, expected ['idle']")
        row, why = probe()
        if row is None:
            problems.append(f"the next call failed: {why}")
        elif row != session:
            problems.append("pgmcp's session changed: " + str(
                {k: (session.get(k), v) for k, v in row.items() if session.get(k) != v}))
    ok(not problems, f"  ... after {label}: next call works, backend idle, session unchanged",
       "\n  ".join(problems))
    if problems:
        diag("  restarting pgmcp")
        start_main()


def execute(sql, params=None, s=None):
    args = {"sql": sql}
    if params is not None:
        args["params"] = params
    try:
        return (s or srv).call("execute", args, timeout=30)
    except (Timeout, EOFError, OSError) as e:
        return {"crash": str(e)}


def succeeded(r):
    return "result" in r and not is_tool_error(r)


start_main()
is_(backend_states(), ["idle"], "pgmcp's backend is idle after connecting")

# -- writes commit --------------------------------------------------------------------------
r = execute("INSERT INTO sales.orders (customer_id, status, ordered_at, total, note) "
            "VALUES ($1, $2, $3, $4, $5) RETURNING id, status, note",
            [3, "paid", "2025-01-02T03:04:05Z", "12.50", "hello"])
ok(succeeded(r), "INSERT ... RETURNING with params succeeds", r)
res = structured(r) if succeeded(r) else {}
is_(res.get("rows"), [{"id": 201, "status": "paid", "note": "hello"}], "RETURNING rows come back")
is_(res.get("command"), "INSERT 0 1", "command tag reported")
is_(res.get("rows_affected"), 1, "rows_affected 1")
is_(q("SELECT customer_id || '|' || status || '|' || note || '|' || total || '|' || "
      "to_char(ordered_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') FROM sales.orders WHERE id = 201"),
    "3|paid|hello|12.50|2025-01-02 03:04:05", "the INSERT is committed (seen by psql)")
after("INSERT")

r = execute("INSERT INTO sales.order_items (order_id, product_id, quantity, unit_price) "
            "SELECT $1, id, 2, price FROM inventory.products WHERE id <= $2", [201, 3])
ok(succeeded(r), "INSERT ... SELECT with params succeeds", r)
res = structured(r) if succeeded(r) else {}
is_((res.get("command"), res.get("rows_affected"), res.get("rows")), ("INSERT 0 3", 3, []),
    "INSERT ... SELECT reports INSERT 0 3, rows_affected 3 and no rows")
is_(q("SELECT count(*) FROM sales.order_items WHERE order_id = 201"), "3", "the 3 rows are committed")
after("INSERT ... SELECT")

n5 = q("SELECT count(*) FROM sales.orders WHERE customer_id = 5")
r = execute("UPDATE sales.orders SET status = $1, note = $2 WHERE customer_id = $3 RETURNING id",
            ["shipped", "upd", 5])
ok(succeeded(r), "UPDATE ... RETURNING with params succeeds", r)
res = structured(r) if succeeded(r) else {}
is_(res.get("rows_affected"), int(n5), f"rows_affected is the number of rows updated ({n5})")
is_(res.get("command"), f"UPDATE {n5}", "command tag UPDATE n")
is_(sorted(x["id"] for x in res.get("rows", [])),
    [int(x) for x in q("SELECT id FROM sales.orders WHERE customer_id = 5 ORDER BY id").split()],
    "RETURNING lists the updated ids")
is_(q("SELECT count(*) FROM sales.orders WHERE customer_id = 5 AND status = 'shipped' AND note = 'upd'"),
    n5, "the UPDATE is committed")
after("UPDATE")

r = execute("UPDATE sales.orders SET note = 'bulk'")
res = structured(r) if succeeded(r) else {}
is_((res.get("command"), res.get("rows_affected"), res.get("rows")), ("UPDATE 201", 201, []),
    "UPDATE without RETURNING: command, rows_affected 201, no rows")
is_(q("SELECT count(*) FROM sales.orders WHERE note = 'bulk'"), "201", "committed")
after("UPDATE without RETURNING")

r = execute("UPDATE sales.orders SET note = 'bulk2' RETURNING id")
res = structured(r) if succeeded(r) else {}
ok(res.get("truncated") is True and res.get("row_count") == 50,
   "RETURNING more rows than max_rows (50) is truncated", res)
is_(res.get("rows_affected"), 201, "rows_affected still counts every row (201)")
is_(q("SELECT count(*) FROM sales.orders WHERE note = 'bulk2'"), "201",
    "a truncated RETURNING still commits every row")
after("UPDATE with truncated RETURNING")

r = execute("DELETE FROM sales.order_items WHERE order_id = $1 RETURNING product_id", [201])
res = structured(r) if succeeded(r) else {}
is_(sorted(x["product_id"] for x in res.get("rows", [])), [1, 2, 3], "DELETE ... RETURNING rows")
is_((res.get("command"), res.get("rows_affected")), ("DELETE 3", 3), "DELETE 3, rows_affected 3")
is_(q("SELECT count(*) FROM sales.order_items WHERE order_id = 201"), "0", "the DELETE is committed")
after("DELETE")

r = execute("MERGE INTO sales.orders o USING (SELECT $1::bigint AS id) s ON o.id = s.id "
            "WHEN MATCHED THEN UPDATE SET note = 'merged'", [2])
res = structured(r) if succeeded(r) else {}
is_((res.get("command"), res.get("rows_affected")), ("MERGE 1", 1), "MERGE 1, rows_affected 1")
is_(q("SELECT note FROM sales.orders WHERE id = 2"), "merged", "the MERGE is committed")
after("MERGE")

r = execute("WITH d AS (DELETE FROM sales.orders WHERE id = $1 RETURNING id) "
            "INSERT INTO public.audit_events (id, created_at, actor, action) "
            "SELECT 9000 + id, '2025-06-01', 'test', 'order.delete' FROM d RETURNING id", [201])
ok(succeeded(r) and structured(r)["rows"] == [{"id": 9201}], "a writable CTE works through execute", r)
is_(q("SELECT (SELECT count(*) FROM sales.orders WHERE id = 201) || '|' || "
      "(SELECT count(*) FROM public.audit_events WHERE id = 9201)"), "0|1", "and is committed")
after("writable CTE")

# -- failures roll back ----------------------------------------------------------------------
failures = [
    ("INSERT INTO sales.orders (id, customer_id, ordered_at) VALUES (1, 1, now())", None, "23505"),
    ("INSERT INTO sales.orders (id, customer_id, ordered_at) VALUES (6000, 1, now()), (1, 1, now())",
     None, "23505"),
    ("INSERT INTO sales.orders (id, customer_id, ordered_at) VALUES ($1, $2, now())", [5000, 99999],
     "23503"),
    ("DELETE FROM sales.customers WHERE id = 1", None, "23503"),
    ("INSERT INTO sales.orders (id, customer_id, ordered_at) VALUES (5001, 1, NULL)", None, "23502"),
    ("UPDATE sales.order_items SET quantity = quantity - 3", None, "23514"),
    ("UPDATE sales.orders SET total = total / 0", None, "22012"),
    ("UPDATE sales.orders SET status = 'lost'", None, "22P02"),
    ("DELETE FROM sales.no_such_table", None, "42P01"),
    ("CREATE TABLE sales.orders (x int)", None, "42P07"),
    ("UPDATE sales.orders SET note = 'slow' WHERE pg_sleep(10) IS NOT NULL", None, "57014"),
]
for sql, params, state in failures:
    before = db_checksum(RW)
    r = execute(sql, params)
    ok(is_tool_error(r), f"{sql[:70]}: fails with isError", r)
    like(text_of(r), f"ERROR {state}", f"  ... and reports SQLSTATE {state}")
    is_(db_checksum(RW), before, "  ... and changes nothing (rolled back)")
    after(f"failed {sql[:50]}")
is_(q("SELECT count(*) FROM sales.orders WHERE id IN (5000, 5001, 6000)"), "0",
    "no row of a failed INSERT was committed")

# -- DDL -------------------------------------------------------------------------------------
T = f"public.{TAG}_t"
for sql, params, tag in [
        (f"CREATE TABLE {T} (id int PRIMARY KEY, v text NOT NULL)", None, "CREATE TABLE"),
        (f"INSERT INTO {T} VALUES ($1, $2), ($3, $4)", [1, "a", 2, "b"], "INSERT 0 2"),
        (f"ALTER TABLE {T} ADD COLUMN w int DEFAULT 7", None, "ALTER TABLE"),
        (f"CREATE INDEX {TAG}_t_v_idx ON {T} (v)", None, "CREATE INDEX"),
        (f"CREATE VIEW public.{TAG}_v AS SELECT id, v FROM {T}", None, "CREATE VIEW"),
        (f"COMMENT ON TABLE {T} IS 'from execute'", None, "COMMENT"),
        (f"CREATE TABLE public.{TAG}_ctas AS SELECT * FROM {T}", None, "SELECT 2")]:
    r = execute(sql, params)
    ok(succeeded(r) and structured(r).get("command") == tag, f"DDL: {sql[:60]} -> {tag}", r)
is_(q(f"SELECT string_agg(id || v || w, ',' ORDER BY id) FROM {T}"), "1a7,2b7", "DDL and data committed")
is_(q(f"SELECT obj_description('{T}'::regclass)"), "from execute", "COMMENT committed")
after("DDL")
for sql in [f"DROP VIEW public.{TAG}_v", f"DROP TABLE {T}", f"DROP TABLE public.{TAG}_ctas"]:
    r = execute(sql)
    ok(succeeded(r), f"DDL: {sql}", r)
is_(q(f"SELECT to_regclass('{T}') IS NULL AND to_regclass('public.{TAG}_ctas') IS NULL"), "t",
    "DROP TABLE committed")
after("DROP")

# -- refused through execute: session and server statements, several statements ---------------
refused = [
    "SET statement_timeout = 0", "SET LOCAL statement_timeout = 0", "SET search_path = pg_temp",
    "SET default_transaction_read_only = on", "RESET ALL", "SET ROLE pgmcp_reader",
    "SET SESSION AUTHORIZATION pgmcp_reader", "SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY",
    "SET TRANSACTION ISOLATION LEVEL SERIALIZABLE", "SET CONSTRAINTS ALL DEFERRED",
    "BEGIN", "BEGIN READ WRITE", "START TRANSACTION", "COMMIT", "ROLLBACK", "END", "ABORT",
    "SAVEPOINT s", "RELEASE SAVEPOINT s", f"PREPARE TRANSACTION '{TAG}'",
    "COPY sales.orders TO STDOUT", "COPY sales.orders FROM STDIN",
    f"COPY sales.orders TO PROGRAM 'touch {PWN}_program'", f"COPY (SELECT 1) TO '{PWN}_file'",
    f"COPY sales.orders FROM PROGRAM 'touch {PWN}_from; echo'",
    "DO $$BEGIN DELETE FROM sales.order_items; END$$",
    "LISTEN x", "UNLISTEN *",
    "PREPARE p AS DELETE FROM sales.order_items", "EXECUTE p", "DEALLOCATE ALL",
    "DECLARE c CURSOR WITH HOLD FOR SELECT 1", "FETCH ALL FROM c", "CLOSE c",
    "VACUUM", "VACUUM FULL sales.orders", "ANALYZE sales.orders", "CHECKPOINT",
    "DISCARD ALL", "DISCARD TEMP", "LOAD 'plpgsql'", "LOCK TABLE sales.orders",
    "ALTER SYSTEM SET work_mem = '1MB'", f"CREATE DATABASE {TAG}_x", f'DROP DATABASE "{TAG}"',
    f'ALTER DATABASE "{TAG}" SET statement_timeout = 0', "ALTER ROLE CURRENT_USER SET work_mem = '1MB'",
    f"CREATE ROLE {TAG}_role", "ALTER ROLE pgmcp_reader SUPERUSER", "GRANT pg_read_server_files TO pgmcp_writer",
    "CALL no_such_procedure()", "REINDEX TABLE sales.orders", "CLUSTER sales.orders USING orders_pkey",
    "EXPLAIN ANALYZE DELETE FROM sales.order_items", "SHOW work_mem",
    "SELECT set_config('statement_timeout', '0', false)", "SELECT pg_advisory_lock(1)",
    "SELECT pg_terminate_backend(pg_backend_pid())", "SELECT pg_reload_conf()",
    "SELECT lo_import('/etc/passwd')", "SELECT pg_read_file('/etc/passwd')",
    "WITH d AS (DELETE FROM sales.order_items RETURNING 1) SELECT set_config('a.b', 'c', false)",
    "INSERT INTO sales.orders (id, customer_id, ordered_at) VALUES (7000, 1, now()); "
    "DELETE FROM sales.order_items",
    "DELETE FROM sales.order_items; COMMIT", "COMMIT; DROP TABLE sales.order_items",
    "SELECT 1; SELECT 2", "UPDATE sales.orders SET note = 'x';;UPDATE sales.orders SET note = 'y'",
]
for sql in refused:
    before = db_checksum(RW)
    r = execute(sql)
    ok(is_tool_error(r) and "Refused" in text_of(r), f"execute refuses {sql[:70]}", r)
    is_(db_checksum(RW), before, "  ... and nothing changed")
    after(f"refused {sql[:50]}")
is_(glob.glob(PWN + "*"), [], "no COPY wrote a file")

# -- the query tool still refuses writes in read_write mode ------------------------------------
for sql in ["DELETE FROM sales.order_items", "INSERT INTO sales.orders (id, customer_id, ordered_at) "
            "VALUES (7001, 1, now())", "UPDATE sales.orders SET note = 'q'",
            "WITH d AS (DELETE FROM sales.order_items RETURNING 1) SELECT count(*) FROM d",
            f"CREATE TABLE public.{TAG}_q (x int)", f"SELECT * INTO public.{TAG}_q FROM sales.orders",
            "SELECT nextval('sales.orders_id_seq')", "SELECT * FROM sales.orders FOR UPDATE",
            "TRUNCATE sales.order_items", "SET statement_timeout = 0", "COMMIT"]:
    before = db_checksum(RW)
    try:
        r = srv.call("query", {"sql": sql}, timeout=30)
    except (Timeout, EOFError, OSError) as e:
        r = {"crash": str(e)}
    ok("error" in r or is_tool_error(r), f"query refuses {sql[:70]} in read_write mode", r)
    is_(db_checksum(RW), before, "  ... and nothing changed")
    after(f"query {sql[:50]}")
r = srv.call("explain", {"sql": "DELETE FROM sales.order_items", "analyze": True})
ok(is_tool_error(r), "explain with analyze refuses a DELETE in read_write mode too", r)
is_(q("SELECT count(*) FROM sales.order_items"), "500", "order_items is intact")
after("explain analyze DELETE")

# -- what execute does may not change pgmcp's session either --------------------------------
# A function body is a string the guard never parses; calling it through execute commits
# whatever session-level settings it makes.
F = f"public.{TAG}_f"
r = execute(f"CREATE FUNCTION {F}() RETURNS text LANGUAGE sql AS "
            "$$SELECT set_config('statement_timeout', '0', false)$$")
ok(succeeded(r), "CREATE FUNCTION through execute", r)
r = execute(f"SELECT {F}()")
ok("result" in r, "calling it answers", r)
after("a function that calls set_config(..., false)")
r = execute(f"DROP FUNCTION {F}()")
ok(succeeded(r), "DROP FUNCTION", r)
after("DROP FUNCTION")

# -- the least-privilege writer role -------------------------------------------------------------
if RW_WRITER:
    w = start("--read-write", dsn=RW_WRITER)
    r = execute("INSERT INTO sales.orders (customer_id, ordered_at) VALUES ($1, now()) RETURNING customer_id",
                [7], s=w)
    ok(succeeded(r) and structured(r)["rows"] == [{"customer_id": 7}], "pgmcp_writer can INSERT", r)
    is_(q("SELECT count(*) FROM sales.orders WHERE customer_id = 7 AND note IS NULL AND "
          "ordered_at > now() - interval '1 hour'"), "1", "and it is committed")
    before = db_checksum(RW)
    r = execute("DROP TABLE sales.order_items", s=w)
    ok(is_tool_error(r) and "42501" in text_of(r), "pgmcp_writer cannot DROP a table it does not own",
       r)
    is_(db_checksum(RW), before, "  ... and nothing changed")
    is_(w.close(), 0, "the writer server exits 0")

# -- the end -----------------------------------------------------------------------------------
is_(backend_states(), ["idle"], "pgmcp's backend is idle at the end, no transaction open")
is_(q("SELECT count(*) FROM pg_stat_activity WHERE state LIKE 'idle in transaction%' "
      "AND datname = current_database()"), "0", "no session is idle in transaction")
is_(srv.close(), 0, "the read_write server exits 0 at end of input")
ok(wait_for(lambda: q("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                      "AND pid <> pg_backend_pid() AND backend_type = 'client backend'") == "0",
            timeout=10), "no backends left in the private database")
psql(f'DROP DATABASE "{TAG}"')
is_(psql(f"SELECT count(*) FROM pg_database WHERE datname = '{TAG}'"), "0",
    f"private database {TAG} dropped")
done()
