#!/usr/bin/env python3
# t/0170-pgbouncer.t: pgmcp behind a real PgBouncer in transaction pooling mode (the Debian 12
# package, 1.18, which does not support protocol-level prepared statements in that mode).
#
# With database.pooler: transaction every call is BEGIN, one set_config(..., true) of every
# setting, the statement, sync, ROLLBACK/COMMIT, sync, all unnamed: 8 concurrent clients of a
# 4-worker daemon share a pool of 2 server connections and all get right answers; output formats
# (dates, timestamps, intervals, bytea, floats) are exactly those of a direct connection even
# though PgBouncer's server connections start with other session defaults; the global limits
# (statement_timeout, lock_timeout, max_rows) and a tool's own statement_timeout apply; nothing
# leaks into the server connections' sessions; execute commits; cancellation, column policies
# (PQftable) and the read-only guard work. The default mode (database.pooler: none) fails with
# an error naming database.pooler: transaction as soon as it is handed a server connection it
# did not prepare: "already exists" when setting up, "does not exist" on a call.
#
# Skips (skip_all) when no pgbouncer binary is installed (scripts/deps.sh installs it).
import contextlib
import json
import os
import pwd
import shutil
import subprocess
import sys
import threading
import time
import traceback

from tap import ok, is_, like, diag, done
from pgmcp_test import (BIN, Server, Timeout, is_tool_error, psql, run, structured, text_of,
                        wait_for)

PGBOUNCER = shutil.which("pgbouncer") or ("/usr/sbin/pgbouncer"
                                          if os.access("/usr/sbin/pgbouncer", os.X_OK) else None)
if PGBOUNCER is None:
    print("1..0 # SKIP pgbouncer is not installed (apt-get install pgbouncer)", flush=True)
    sys.exit(0)

from proc_test import SLOW, Daemon, free_port, query, tool_ok, tmpdir, track  # noqa: E402
from proc_test import _preexec, structured as http_structured  # noqa: E402

APP = "pgmcp-t0170"
LOCAL = "127.0.0.1"
PGHOST, PGPORT = os.environ["PGHOST"], os.environ["PGPORT"]


@contextlib.contextmanager
def section(name):
    """Runs a block; an exception (timeout, closed pipe, KeyError...) becomes one failed test."""
    try:
        yield
    except Exception as e:  # noqa: BLE001 - any failure inside a section is a test failure
        ok(False, f"{name}: finished without an exception",
           f"{type(e).__name__}: {e}\n{traceback.format_exc()[-1500:]}")


def sc_without_timing(resp):
    sc = dict(structured(resp) or {})
    sc.pop("elapsed_ms", None)
    return sc


# ------------------------------------------------------------------------------------------
# PgBouncer: unix socket only, trust, transaction pooling, 2 server connections per pool.
# "pgmcp_test" starts each server connection with session defaults unlike pgmcp's (and a
# 150 ms statement_timeout), so only settings pgmcp applies in each call's own transaction
# produce the right output; "plain" is a second, untouched pool for the default mode.
class PgBouncer:
    def __init__(self):
        self.dir = tmpdir("pgmcp-t0170-")
        self.port = free_port()
        osuser = None
        if os.getuid() == 0:
            # PgBouncer refuses to run as root: it switches to the cluster's OS user.
            osuser = os.environ.get("PGMCP_TEST_PGUSER_OS") or "postgres"
            pw = pwd.getpwnam(osuser)
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
            os.chmod(self.dir, 0o755)
        server = f"host={PGHOST} port={PGPORT} dbname=pgmcp_test"
        odd_defaults = ("SET IntervalStyle = sql_standard; SET bytea_output = escape; "
                        "SET extra_float_digits = 0; SET statement_timeout = 150; "
                        "SET lock_timeout = 0")
        ini = os.path.join(self.dir, "pgbouncer.ini")
        with open(ini, "w") as f:
            f.write(f"""[databases]
pgmcp_test = {server} connect_query='{odd_defaults}'
plain = {server}

[pgbouncer]
listen_addr =
listen_port = {self.port}
unix_socket_dir = {self.dir}
auth_type = trust
auth_file = {self.dir}/users.txt
pool_mode = transaction
default_pool_size = 2
max_client_conn = 200
server_login_retry = 1
{"user = " + osuser if osuser else ""}
""")
        with open(os.path.join(self.dir, "users.txt"), "w") as f:
            f.write('"postgres" ""\n')
        self.log_path = os.path.join(self.dir, "pgbouncer.log")
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen([PGBOUNCER, ini], stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=log, preexec_fn=_preexec(), cwd="/")
        track(self.proc.pid)
        self.sock = os.path.join(self.dir, f".s.PGSQL.{self.port}")

    def dsn(self, db="pgmcp_test"):
        return f"host={self.dir} port={self.port} dbname={db} user=postgres"

    def up(self):
        return wait_for(lambda: os.path.exists(self.sock) or self.proc.poll() is not None,
                        timeout=10) and self.proc.poll() is None

    def log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class Holder:
    """A psql session that runs setup SQL and keeps its transaction open until release()."""

    def __init__(self, dsn, sql):
        self.p = subprocess.Popen(["psql", "-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1",
                                   "-d", dsn], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True)
        track(self.p.pid)
        self.p.stdin.write(sql + "\nSELECT 'holding';\n")
        self.p.stdin.flush()
        self.line = self.p.stdout.readline().strip()

    def release(self):
        try:
            self.p.stdin.write("ROLLBACK;\n")
            self.p.stdin.close()
        except OSError:
            pass
        try:
            self.p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()


def running_sleeps():
    return int(psql("SELECT count(*) FROM pg_stat_activity WHERE state = 'active' "
                    "AND query LIKE '%pg_sleep(30)%' AND pid <> pg_backend_pid()"))


def collect_until(s, want_id, timeout):
    """Reads messages until the response to want_id. Returns (response or None, the others)."""
    others = []
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            msg = s.recv(timeout=max(0.01, deadline - time.time()))
        except (Timeout, EOFError):
            break
        if "method" not in msg and msg.get("id") == want_id:
            return msg, others
        others.append(msg)
    return None, others


# The key itself: two values, anything else is an error naming them.
rc, out, err = run([BIN, "--check-config", "--set", "database.pooler=session"])
ok(rc != 0 and "database.pooler" in err and "transaction" in err,
   "database.pooler accepts only none or transaction", err)

pgb = PgBouncer()
if not ok(pgb.up(), "pgbouncer starts (transaction pooling, default_pool_size=2)", pgb.log()):
    done()
v = psql("SELECT current_setting('IntervalStyle')", dsn=pgb.dsn())
is_(v, "sql_standard", "PgBouncer's server connections start with other session defaults")

# ------------------------------------------------------------------------------------------
# Output formats: through PgBouncer exactly what a direct connection gives.
FORMATS = r"""SELECT date '2024-02-29' AS d, timestamp '2024-02-29 13:14:15.123456' AS ts,
 timestamptz '2024-02-29 13:14:15.5+02' AS tstz, time '01:02:03.25' AS t,
 timetz '01:02:03+05:30' AS ttz, interval '1 year 2 mons 3 days 04:05:06.7' AS i,
 interval '-1 day -02:00:00' AS ineg, interval '90 minutes' AS imin,
 ARRAY[interval '1 hour', interval '2 days'] AS iarr, ARRAY[date '2024-01-01'] AS darr,
 '\x00ff10'::bytea AS b, ''::bytea AS bempty, 0.1::float8 AS f8, (1/3.0)::float8 AS third,
 1e100::float8 AS big, 0.1::float4 AS f4, (2/3.0)::float4 AS f4third, 12.345::numeric AS n,
 current_setting('DateStyle') AS datestyle, current_setting('IntervalStyle') AS intervalstyle,
 current_setting('extra_float_digits') AS efd, current_setting('bytea_output') AS bytea_output,
 current_setting('statement_timeout') AS st, current_setting('lock_timeout') AS lt,
 current_setting('idle_in_transaction_session_timeout') AS iit"""
ALL_TYPES = "SELECT * FROM types_demo.all_types ORDER BY id"
LIMITS = ["--set", "limits.statement_timeout=1s", "--set", "limits.lock_timeout=300ms",
          "--set", "limits.idle_in_transaction_timeout=45s", "--set", "limits.max_rows=5",
          "--set", f"database.application_name={APP}"]

TOOLS = os.path.join(pgb.dir, "tools.yaml")
with open(TOOLS, "w") as f:
    f.write("""tools:
  slow_short:
    description: Sleeps past its own short statement_timeout.
    sql: SELECT pg_sleep(5)
    statement_timeout: 300ms
  slow_allowed:
    description: Sleeps past the global statement_timeout, within its own.
    sql: SELECT pg_sleep(1.3) AS slept
    statement_timeout: 10s
policies:
  - table: sales.customers
    mask: [full_name]
    mask_with: "[hidden]"
""")

direct = {}
with section("direct"):
    with Server("-c", TOOLS, *LIMITS) as s:
        s.initialize()
        for name, sql in (("formats", FORMATS), ("all_types", ALL_TYPES)):
            r = s.call("query", {"sql": sql})
            ok(not is_tool_error(r), f"direct: {name} query works", r)
            direct[name] = sc_without_timing(r)

with section("pooled stdio"):
    with Server("-c", TOOLS, *LIMITS, "--set", "database.pooler=transaction",
                dsn=pgb.dsn()) as s:
        s.initialize()
        for name, sql in (("formats", FORMATS), ("all_types", ALL_TYPES)):
            r = s.call("query", {"sql": sql})
            is_(sc_without_timing(r), direct.get(name),
                f"through PgBouncer: {name} output is exactly the direct connection's")
        row = (direct.get("formats", {}).get("rows") or [{}])[0]
        ok(row.get("intervalstyle") == "iso_8601" and row.get("i") == "P1Y2M3DT4H5M6.7S",
           "(and that output is pgmcp's: ISO 8601 intervals, hex bytea, 1s/300ms/45s limits)",
           row)
        # Twice more: the second and third calls must not depend on anything the first left.
        same = all(sc_without_timing(s.call("query", {"sql": FORMATS})) == direct.get("formats")
                   for _ in range(2))
        ok(same, "repeated calls give the same output")
        like(psql("SELECT current_setting('IntervalStyle') || ' ' || "
                  "current_setting('bytea_output') || ' ' || current_setting('statement_timeout')",
                  dsn=pgb.dsn()),
             "sql_standard escape 150ms", "nothing pgmcp set outlives its transaction on the "
             "server connections")

        # Limits: global statement_timeout (1s) replaces the server's 150 ms default...
        r = s.call("query", {"sql": "SELECT pg_sleep(0.5) AS slept"})
        ok(not is_tool_error(r), "a 0.5 s statement runs (the global 1s, not the server's "
           "150 ms)", r)
        t0 = time.time()
        r = s.call("query", {"sql": "SELECT pg_sleep(5)"})
        el = time.time() - t0
        ok(is_tool_error(r) and "statement_timeout" in text_of(r) and el < 4 * SLOW,
           f"the global statement_timeout (1s) stops a 5 s statement ({el:.1f} s)", r)
        # ... and a tool's own statement_timeout, shorter or longer, applies to its call.
        t0 = time.time()
        r = s.call("slow_short")
        el = time.time() - t0
        ok(is_tool_error(r) and "300ms" in text_of(r) and el < 3 * SLOW,
           f"a tool's own statement_timeout (300ms) fires ({el:.1f} s)", r)
        r = s.call("slow_allowed")
        ok(not is_tool_error(r), "a tool's own longer statement_timeout (10s) lets it run 1.3 s",
           r)
        # lock_timeout (300ms) against a lock held on a direct connection.
        h = Holder(os.environ["PGMCP_TEST_DSN"],
                   "BEGIN; LOCK TABLE sales.orders IN ACCESS EXCLUSIVE MODE;")
        try:
            t0 = time.time()
            r = s.call("query", {"sql": "SELECT count(*) AS n FROM sales.orders"})
            el = time.time() - t0
            ok(is_tool_error(r) and "lock timeout" in text_of(r) and el < 3 * SLOW,
               f"the global lock_timeout (300ms) applies ({el:.1f} s)", r)
        finally:
            h.release()
        # max_rows 5, by the LIMIT wrapper and by single-row mode (SHOW ALL is not wrapped).
        st = structured(s.call("query", {"sql": "SELECT g FROM generate_series(1, 100) g"})) or {}
        ok(st.get("row_count") == 5 and st.get("truncated") is True, "max_rows (5) applies", st)
        st = structured(s.call("query", {"sql": "SHOW ALL"})) or {}
        ok(st.get("row_count") == 5 and st.get("truncated") is True,
           "and to an unwrapped statement (single-row mode, internal cancel)", st)
        r = s.call("query", {"sql": "SELECT 7 AS seven"})
        is_((structured(r) or {}).get("rows"), [{"seven": 7}], "the next call is fine")

        # Column policy: masking needs PQftable, which PgBouncer passes through.
        st = structured(s.call("query", {"sql": "SELECT c.full_name AS who, c.country "
                                                 "FROM sales.customers c ORDER BY c.id LIMIT 1"}))
        ok(st and st["rows"][0]["who"] == "[hidden]" and len(st["rows"][0]["country"]) == 2,
           "a masked column is masked", st)

        # The guard.
        for sql in ("DELETE FROM sales.orders",
                    "SELECT set_config('IntervalStyle', 'postgres', false)",
                    "COMMIT; DROP TABLE sales.orders"):
            r = s.call("query", {"sql": sql})
            ok(is_tool_error(r), f"the guard refuses: {sql}", r)
        is_(psql("SELECT count(*) > 0 FROM sales.orders"), "t", "nothing was deleted")

        # Cancellation: PQcancel goes to PgBouncer, which forwards it to the server connection.
        s.send({"jsonrpc": "2.0", "id": "cancel-me-2", "method": "tools/call",
                "params": {"name": "query", "arguments": {"sql": "SELECT pg_sleep(30)"}}})
        ok(wait_for(lambda: running_sleeps() == 1, timeout=5),
           "a long statement is running in PostgreSQL")
        t0 = time.time()
        s.notify("notifications/cancelled", {"requestId": "cancel-me-2", "reason": "test"})
        s.send({"jsonrpc": "2.0", "id": "ping-1", "method": "ping"})
        resp, others = collect_until(s, "ping-1", 10)
        ok(resp is not None and time.time() - t0 < 5 and
           not [m for m in others if m.get("id") == "cancel-me-2"],
           "notifications/cancelled: no response, answered promptly after", others)
        ok(wait_for(lambda: running_sleeps() == 0, timeout=5),
           "the statement is gone from pg_stat_activity")
        r = s.call("query", {"sql": "SELECT 42 AS answer"})
        is_((structured(r) or {}).get("rows"), [{"answer": 42}], "the next call works")
        is_(s.close(), 0, "pgmcp --stdio exits 0")

with section("read_write"):
    psql("DROP TABLE IF EXISTS public.pgmcp_t0170; CREATE TABLE public.pgmcp_t0170 (id int)")
    try:
        with Server("--access", "read_write", "--set", "database.pooler=transaction",
                    "--set", f"database.application_name={APP}", dsn=pgb.dsn()) as s:
            s.initialize()
            r = s.call("execute", {"sql": "INSERT INTO public.pgmcp_t0170 VALUES (1), (2)"})
            ok(not is_tool_error(r), "execute works", r)
            is_(psql("SELECT count(*) FROM public.pgmcp_t0170"), "2",
                "and it committed (seen on a direct connection)")
            r = s.call("execute", {"sql": "INSERT INTO public.pgmcp_t0170 VALUES (1/0)"})
            ok(is_tool_error(r) and "division by zero" in text_of(r), "a failing write fails", r)
            r = s.call("execute", {"sql": "UPDATE public.pgmcp_t0170 SET id = id + 10"})
            ok(not is_tool_error(r), "a write after it works", r)
            is_(psql("SELECT string_agg(id::text, ',' ORDER BY id) FROM public.pgmcp_t0170"),
                "11,12", "the failed write left nothing, the later one committed")
            is_(sc_without_timing(s.call("query", {"sql": FORMATS})).get("rows", [{}])[0]
                .get("intervalstyle"), "iso_8601", "a read after writes still has pgmcp's "
                "settings")
            is_(s.close(), 0, "exit 0")
    finally:
        psql("DROP TABLE IF EXISTS public.pgmcp_t0170")

# ------------------------------------------------------------------------------------------
# The daemon: 4 workers, 8 concurrent clients, 2 server connections.
with section("daemon"):
    port = free_port()
    d = Daemon(["--listen", f"{LOCAL}:{port}", "--workers", "4",
                "--set", "database.pooler=transaction", "--set", "http.queue_timeout=30s",
                "--set", f"database.application_name={APP}-d"], dsn=pgb.dsn())
    addr = (LOCAL, port)

    def answers():
        try:
            return tool_ok(*query(addr, "SELECT 1 AS one", timeout=5))
        except OSError:
            return False

    ok(wait_for(answers, timeout=10 * SLOW, interval=0.1), "the daemon answers", d.log()[-2000:])
    LIMIT_KEYS = ("st", "lt", "iit")
    expect = {k: v for k, v in direct.get("formats", {}).get("rows", [{}])[0].items()
              if k not in LIMIT_KEYS}
    expect.update(st="30s", lt="5s", iit="1min")    # the daemon runs with the default limits
    sql = FORMATS + ", $1::int AS v, pg_sleep(0.01) AS nap"
    failures, answered, peak = [], [0], [0]
    lock = threading.Lock()
    stop_sampling = threading.Event()

    def client(i):
        for k in range(12):
            rid = i * 1000 + k
            try:
                status, resp = query(addr, sql, [rid], req_id=rid, timeout=30)
                rows = (http_structured(resp) or {}).get("rows") or [{}]
                got = dict(rows[0])
                good = (tool_ok(status, resp) and resp.get("id") == rid and
                        got.pop("v", None) == rid and "nap" in got and got.pop("nap") == "" and
                        got == expect)
                with lock:
                    if good:
                        answered[0] += 1
                    else:
                        diff = {k2: v2 for k2, v2 in got.items() if expect.get(k2) != v2}
                        failures.append(f"{rid}: HTTP {status}: differs {diff}: "
                                        f"{json.dumps(resp)[:300]}")
            except Exception as e:  # noqa: BLE001
                with lock:
                    failures.append(f"{rid}: {type(e).__name__}: {e}")

    def sample():
        while not stop_sampling.is_set():
            n = int(psql("SELECT count(*) FROM pg_stat_activity WHERE backend_type = "
                         "'client backend' AND datname = 'pgmcp_test' AND "
                         "pid <> pg_backend_pid()"))
            peak[0] = max(peak[0], n)
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(8)]
    t0 = time.time()
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    stop_sampling.set()
    sampler.join(10)
    ok(answered[0] == 96 and not failures,
       f"8 clients x 12 calls through 4 workers: all {answered[0]}/96 right "
       f"({time.time() - t0:.1f} s)", failures[:5])
    ok(0 < peak[0] <= 2, f"PostgreSQL saw at most 2 server connections from PgBouncer "
       f"(peak {peak[0]})")
    is_(d.stop(), 0, "the daemon stops cleanly")

# ------------------------------------------------------------------------------------------
# The default mode behind PgBouncer 1.18: named statements prepared on one server connection.
# A second pgmcp whose setup lands on that server connection cannot prepare them again; a
# call that lands on another server connection cannot find them. Both say what to set.
with section("default mode"):
    with Server("--set", f"database.application_name={APP}", dsn=pgb.dsn("plain")) as s1:
        s1.initialize()
        r = s1.call("query", {"sql": "SELECT 1 AS one"})
        ok(not is_tool_error(r), "default mode: works while it gets the server connection it "
           "prepared on (the only one in the pool so far)", r)
        with Server("--set", f"database.application_name={APP}", dsn=pgb.dsn("plain")) as s2:
            s2.initialize()
            r = s2.call("query", {"sql": "SELECT 1 AS one"})
            t = text_of(r)
            ok(is_tool_error(r) and 'prepared statement "pgmcp_begin_ro" already exists' in t,
               "a second pgmcp: its session setup fails, already exists", r)
            like(t, "database.pooler: transaction", "and the error says to set "
                 "database.pooler: transaction")
            # stderr is read by another thread: the line may land just after the response
            wait_for(lambda: "database.pooler: transaction" in s2.stderr(), 5)
            like(s2.stderr(), "database.pooler: transaction", "so does the log")
            s2.close()
        # Hold the prepared server connection so the next call gets a fresh one.
        h = Holder(pgb.dsn("plain"), "BEGIN; SELECT 1;")
        try:
            r = s1.call("query", {"sql": "SELECT 1 AS one"})
            t = text_of(r)
            ok(is_tool_error(r) and 'prepared statement "pgmcp_begin_ro" does not exist' in t,
               "a call on another server connection fails: does not exist", r)
            like(t, "HINT: ", "with a hint")
            like(t, "database.pooler: transaction", "naming database.pooler: transaction")
            wait_for(lambda: "set database.pooler: transaction" in s1.stderr(), 5)
            like(s1.stderr(), "set database.pooler: transaction", "the log says it too")
        finally:
            h.release()

pgb.stop()
done()
