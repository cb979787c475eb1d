#!/usr/bin/env python3
# t/0035-guard-differential.t: a differential test of the read-only guard. Thousands of
# statements (t/lib/sqlgen.py: side-effecting calls in every position and spelling, CTEs with
# writes, DO, COPY, SET/RESET, LOCK, PREPARE/EXECUTE, cursors, LISTEN/NOTIFY, transaction
# control and two-phase commit, CALL, EXPLAIN ANALYZE of writes, SELECT INTO, FOR UPDATE, DML,
# DDL, multi-statement strings, obfuscated copies; one call of every built-in function in
# pg_proc; and the hand-written corpus in t/guard-corpus/) go through the query tool of a
# read_only pgmcp connected as the SUPERUSER, so only the guard and its READ ONLY transaction
# stand in the way. They are sent in pipelined batches; after each batch nothing may have
# changed: the database checksum (schema, data, sequences, large objects, roles, settings,
# advisory locks, prepared transactions, replication slots), new-session settings,
# configuration files, replication origins, publications, statistics resets, other backends
# (an idle sentinel session that also LISTENs for notifications), files under /tmp, and
# pgmcp's own session (settings, prepared statements, cursors, LISTEN, temporary tables,
# backend pid). A batch that changed something is replayed one statement at a time to name
# the statement. Each statement also carries an expectation (refused by the guard, allowed,
# or either) and the verdicts are compared with it. Bounded to about 90 seconds
# (PGMCP_T0035_BUDGET). Debugging aids: PGMCP_T0035_DUMP=file writes every verdict that
# differs from its expectation, PGMCP_T0035_ERRORS=file every PostgreSQL error.
import atexit
import glob
import json
import os
import queue
import subprocess
import sys
import threading
import time

from tap import ok, is_, diag, done, bail
from pgmcp_test import (DSN, Server, Timeout, db_checksum, is_tool_error, psql, text_of,
                        wait_for)
import sqlgen

HERE = os.path.dirname(os.path.abspath(__file__))
TAG = f"pgmcp_t0035_{os.getpid()}"
APP = TAG + "_server"
SENTINEL = TAG + "_sentinel"
CHANNEL = TAG + "_chan"
PWN = f"/tmp/{TAG}"
BATCH = 64
BUDGET_S = float(os.environ.get("PGMCP_T0035_BUDGET", "85"))
SERVER_ARGS = ["--set", f"database.application_name={APP}",
               "--set", "limits.statement_timeout=2s", "--set", "limits.lock_timeout=1s",
               "--set", "limits.max_rows=5", "--set", "limits.max_result_bytes=64kB"]
T0 = time.time()

DB = psql("SELECT current_database()")
if psql("SELECT rolsuper FROM pg_roles WHERE rolname = current_user") != "t":
    diag("PGMCP_TEST_DSN is not a superuser; this test is weaker than intended")


def short(sql, n=110):
    one = " ".join(sql.split())
    return one if len(one) <= n else one[:n - 3] + "..."


# --------------------------------------------------------------------------------------------
# The sentinel: an idle psql session that LISTENs; signalled backends or NOTIFY show here.

class Sentinel:
    def __init__(self):
        self.proc = None
        self.lines = None
        self.n = 0

    def start(self):
        self.stop()
        env = dict(os.environ, PGAPPNAME=SENTINEL)
        self.proc = subprocess.Popen(["psql", "-X", "-A", "-t", "-q", "-d", DSN],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, bufsize=1, env=env)
        self.lines = queue.Queue()
        out, lines = self.proc.stdout, self.lines
        threading.Thread(target=lambda: [lines.put(x) for x in out] + [lines.put(None)],
                         daemon=True).start()
        self.send(f'LISTEN "{CHANNEL}";')
        self.ping()
        self.pid = int(psql(f"SELECT pid FROM pg_stat_activity WHERE application_name = "
                            f"'{SENTINEL}' LIMIT 1") or 0)

    def send(self, text):
        self.proc.stdin.write(text + "\n")
        self.proc.stdin.flush()

    def ping(self):
        """None if alive and nothing arrived, else what went wrong (notifications, death)."""
        self.n += 1
        try:
            self.send(f"SELECT 'ping-{self.n}';")
            self.send(f"SELECT 'pong-{self.n}';")
        except OSError as e:
            return f"sentinel psql is gone: {e}"
        seen = []
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                line = self.lines.get(timeout=max(0.01, deadline - time.time()))
            except queue.Empty:
                break
            if line is None:
                return f"sentinel session ended: {seen}"
            line = line.strip()
            if line == f"pong-{self.n}":
                bad = [x for x in seen if x != f"ping-{self.n}"]
                return f"sentinel saw: {bad}" if bad else None
            seen.append(line)
        return f"sentinel did not answer: {seen}"

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


# --------------------------------------------------------------------------------------------
# What must not change.

STATE_SQL = f"""
SELECT json_build_object(
  'settings', (SELECT json_object_agg(name, setting ORDER BY name) FROM pg_settings
      WHERE context <> 'internal'),
  'file_settings', (SELECT coalesce(json_agg(sourcefile || ':' || name || '=' || coalesce(setting, '')
      ORDER BY sourcefile, seqno), '[]') FROM pg_file_settings),
  'advisory_locks', (SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'),
  'other_backends', (SELECT coalesce(json_agg(application_name ORDER BY pid), '[]')
      FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()
      AND application_name NOT IN ('{SENTINEL}', '{APP}')),
  'pgmcp', (SELECT json_agg(json_build_object('pid', pid, 'state', state))
      FROM pg_stat_activity WHERE application_name = '{APP}'),
  'sentinel', (SELECT json_agg(pid) FROM pg_stat_activity WHERE application_name = '{SENTINEL}'),
  'prepared_xacts', (SELECT count(*) FROM pg_prepared_xacts),
  'slots', (SELECT count(*) FROM pg_replication_slots),
  'origins', (SELECT count(*) FROM pg_replication_origin),
  'publications', (SELECT count(*) FROM pg_publication),
  'subscriptions', (SELECT count(*) FROM pg_subscription),
  'tablespaces', (SELECT count(*) FROM pg_tablespace),
  'event_triggers', (SELECT count(*) FROM pg_event_trigger),
  'largeobjects', (SELECT count(*) FROM pg_largeobject),
  'catalogs', json_build_array(
      (SELECT md5(coalesce(string_agg(d::text, ',' ORDER BY d::text), '')) FROM pg_description d),
      (SELECT md5(coalesce(string_agg(d::text, ',' ORDER BY d::text), '')) FROM pg_shdescription d),
      (SELECT md5(coalesce(string_agg(d::text, ',' ORDER BY d::text), '')) FROM pg_seclabel d),
      (SELECT md5(coalesce(string_agg(d::text, ',' ORDER BY d::text), '')) FROM pg_trigger d),
      (SELECT md5(coalesce(string_agg(d::text, ',' ORDER BY d::text), '')) FROM pg_rewrite d),
      (SELECT md5(coalesce(string_agg(d::text, ',' ORDER BY d::text), '')) FROM pg_policy d),
      (SELECT md5(coalesce(string_agg(d::text, ',' ORDER BY d::text), '')) FROM pg_default_acl d),
      (SELECT md5(coalesce(string_agg(d::text, ',' ORDER BY d::text), '')) FROM pg_statistic_ext d),
      (SELECT md5(coalesce(string_agg(d::text, ',' ORDER BY d::text), '')) FROM pg_auth_members d),
      (SELECT md5(coalesce(string_agg(concat_ws(':', oid, relname, relnamespace, relowner, relacl,
          reloptions, relrowsecurity, relpersistence), ',' ORDER BY oid), '')) FROM pg_class),
      (SELECT md5(coalesce(string_agg(concat_ws(':', oid, nspname, nspowner, nspacl), ','
          ORDER BY oid), '')) FROM pg_namespace),
      (SELECT md5(coalesce(string_agg(concat_ws(':', oid, proname, proowner, proacl), ','
          ORDER BY oid), '')) FROM pg_proc),
      (SELECT md5(coalesce(string_agg(concat_ws(':', attrelid, attname, attstattarget, attacl,
          attoptions), ',' ORDER BY attrelid, attnum), '')) FROM pg_attribute),
      (SELECT md5(coalesce(string_agg(concat_ws(':', indexrelid, indisclustered, indisvalid,
          indisready), ',' ORDER BY indexrelid), '')) FROM pg_index),
      (SELECT md5(coalesce(string_agg(concat_ws(':', oid, datname, datacl, datallowconn), ','
          ORDER BY oid), '')) FROM pg_database),
      (SELECT md5(coalesce(string_agg(concat_ws(':', rolname, rolsuper, rolcanlogin, rolvaliduntil,
          rolconnlimit, rolbypassrls, rolcreaterole, rolcreatedb, rolreplication), ','
          ORDER BY rolname), '')) FROM pg_authid),
      (SELECT md5(coalesce(string_agg(concat_ws(':', enumtypid, enumlabel), ','
          ORDER BY enumtypid, enumsortorder), '')) FROM pg_enum)),
  'stats_reset', json_build_array(
      (SELECT stats_reset FROM pg_stat_database WHERE datname = current_database()),
      (SELECT stats_reset FROM pg_stat_bgwriter), (SELECT stats_reset FROM pg_stat_archiver),
      (SELECT stats_reset FROM pg_stat_wal), (SELECT max(stats_reset) FROM pg_stat_slru),
      (SELECT max(stats_reset) FROM pg_stat_replication_slots)))
"""

PROBE_SQL = """
SELECT pg_backend_pid() AS pid,
       current_setting('default_transaction_read_only') AS default_ro,
       current_setting('transaction_read_only') AS tx_ro,
       current_setting('statement_timeout') AS statement_timeout,
       current_setting('lock_timeout') AS lock_timeout,
       current_setting('search_path') AS search_path,
       current_setting('work_mem') AS work_mem,
       current_setting('client_encoding') AS client_encoding,
       current_setting('TimeZone') AS timezone,
       current_setting('session_replication_role') AS srr,
       current_setting('role') AS role, session_user::text AS session_user_,
       current_user::text AS current_user_,
       current_setting('a.b', true) AS custom,
       (SELECT coalesce(string_agg(name, ',' ORDER BY name), '') FROM pg_prepared_statements) AS prepared,
       (SELECT count(*) FROM pg_cursors) AS cursors,
       (SELECT count(*) FROM pg_listening_channels()) AS listening,
       (SELECT count(*) FROM pg_class WHERE relpersistence = 't') AS temp_relations
"""

sentinel = Sentinel()
srv = None
base = {}
counts = {"generated": 0, "corpus": 0, "builtins": 0, "sent": 0, "allowed": 0, "refused": 0,
          "syntax": 0, "db_errors": 0, "changes": 0, "restarts": 0, "batches": 0,
          "mismatches": 0, "skipped_for_time": 0}
changes = []       # (statement, what changed)
mismatches = []    # (statement, outcome)


def start_server():
    global srv
    srv = Server(*SERVER_ARGS)
    srv.initialize()
    row, why = probe()
    if row is None:
        bail(f"pgmcp does not answer a plain SELECT: {why}")
    base["session"] = row


def restart_server(why):
    global srv
    counts["restarts"] += 1
    diag(f"  restarting pgmcp ({why})")
    if srv is not None:
        if srv.proc.poll() is None:
            srv.close(timeout=10)
        else:
            srv.kill()
    wait_for(lambda: not json.loads(psql(STATE_SQL))["pgmcp"], timeout=10)
    start_server()


def probe():
    try:
        r = srv.call("query", {"sql": PROBE_SQL}, timeout=20)
    except (Timeout, EOFError, OSError) as e:
        return None, f"probe got no answer: {e}"
    if "error" in r or is_tool_error(r):
        return None, f"probe failed: {text_of(r) or r}"
    rows = r["result"]["structuredContent"]["rows"]
    return (rows[0], None) if len(rows) == 1 else (None, f"probe returned {rows}")


def pwned_files():
    return sorted(glob.glob(PWN + "*"))


def snapshot():
    st = json.loads(psql(STATE_SQL))
    st["checksum"] = db_checksum()
    return st


def rebaseline():
    st = snapshot()
    base["state"] = {k: v for k, v in st.items() if k not in ("pgmcp", "sentinel")}


def check_state():
    """What changed since the baseline (a list of strings); restores pgmcp if needed."""
    problems = []
    if srv.proc.poll() is not None:
        problems.append(f"pgmcp exited with status {srv.proc.returncode}")
        restart_server("it exited")
    st = snapshot()
    for k, v in base["state"].items():
        if st.get(k) != v:
            if isinstance(v, dict):
                diff = {n: (v.get(n), st[k].get(n)) for n in set(v) | set(st[k])
                        if v.get(n) != st[k].get(n)}
                problems.append(f"{k} changed: {diff}")
            else:
                problems.append(f"{k} changed: {v} -> {st.get(k)}")
    if st["sentinel"] != [sentinel.pid]:
        problems.append(f"the sentinel backend {sentinel.pid} is gone: {st['sentinel']}")
    why = sentinel.ping()
    if why:
        problems.append(why)
    if problems and any(p.startswith("the sentinel") or p.startswith("sentinel") for p in problems):
        sentinel.start()
    files = pwned_files()
    if files:
        problems.append(f"files written: {files}")
        for f in files:
            os.unlink(f)
    pg = st["pgmcp"] or []
    if len(pg) != 1 or pg[0]["state"] != "idle":
        problems.append(f"pgmcp's backend: {pg}")
    row, why = probe()
    if row is None:
        problems.append(f"the probe through pgmcp failed: {why}")
    elif row != base["session"]:
        problems.append("pgmcp's session changed: " + json.dumps(
            {k: (base["session"].get(k), v) for k, v in row.items() if base["session"].get(k) != v}))
    if problems:
        if row is None or row != base["session"] or len(pg) != 1:
            restart_server("its session changed")
        psql("SELECT pg_advisory_unlock_all()")
        rebaseline()
    return problems


def outcome(r):
    """refused (by the guard), syntax (the guard's parser), error (PostgreSQL), ok, or lost."""
    if r is None:
        return "lost"
    if "error" in r:
        return "refused"
    if is_tool_error(r):
        text = text_of(r)
        if text.startswith("Refused (SQLSTATE"):
            return "refused"
        if text.startswith("ERROR 42601") and "at or near" in text and "LINE" not in text:
            return "syntax"
        return "error"
    return "ok"


def run_batch(stmts):
    """Sends the statements pipelined; returns their outcomes in order."""
    ids = []
    try:
        for s in stmts:
            rid = srv.next_id
            srv.next_id += 1
            ids.append(rid)
            srv.send({"jsonrpc": "2.0", "id": rid, "method": "tools/call",
                      "params": {"name": "query", "arguments": {"sql": s.sql}}})
    except OSError:
        pass
    results = []
    for rid in ids:
        try:
            results.append(srv.response(rid, timeout=30))
        except (Timeout, EOFError, OSError, AssertionError, ValueError):
            results.append(None)
    while len(results) < len(stmts):
        results.append(None)
    return [(outcome(r), r) for r in results]


def record(s, out, r):
    counts["sent"] += 1
    if out in ("ok", "error"):
        counts["allowed"] += 1
        if out == "error":
            counts["db_errors"] += 1
    elif out == "refused":
        counts["refused"] += 1
    elif out == "syntax":
        counts["syntax"] += 1
    bad = ((s.expect == "refuse" and out not in ("refused", "syntax")) or
           (s.expect == "allow" and out not in ("ok", "error")) or out == "lost")
    if bad:
        counts["mismatches"] += 1
        mismatches.append((s, out, (text_of(r) if r else "")[:300]))


ERRLOG = os.environ.get("PGMCP_T0035_ERRORS")


def process(stmts, label):
    counts["batches"] += 1
    outs = run_batch(stmts)
    for s, (out, r) in zip(stmts, outs):
        record(s, out, r)
        if ERRLOG and out == "error":
            with open(ERRLOG, "a") as f:
                f.write(f"[{s.shape}] {short(s.sql, 200)}\n    {short(text_of(r), 200)}\n")
    lost = any(o == "lost" for o, _ in outs)
    if lost:
        restart_server("a call got no answer")
    problems = check_state()
    if not problems:
        return
    # Name the statement: replay what reached the database, one at a time.
    suspects = [s for s, (o, _) in zip(stmts, outs) if o not in ("refused", "syntax")]
    diag(f"  batch {label} changed something: {problems}; replaying {len(suspects)} statements")
    found = False
    for s in suspects:
        run_batch([s])
        p = check_state()
        if p:
            found = True
            counts["changes"] += 1
            changes.append((s, p))
            diag(f"  CHANGED BY [{s.shape}] {short(s.sql, 300)}: {p}")
    if not found:
        counts["changes"] += 1
        changes.append((sqlgen.Stmt(f"<batch {label}>", "any", "batch"), problems))


def cleanup():
    if srv is not None and srv.proc.poll() is None:
        srv.kill()
    sentinel.stop()
    for f in pwned_files():
        os.unlink(f)


atexit.register(cleanup)

# --------------------------------------------------------------------------------------------

for f in pwned_files():
    os.unlink(f)
psql("SELECT pg_advisory_unlock_all()")
sentinel.start()
ok(sentinel.pid > 0 and sentinel.ping() is None, f"sentinel session is up and listening "
   f"(pid {sentinel.pid})")
start_server()
is_(base["session"]["tx_ro"], "on", "pgmcp runs each call in a READ ONLY transaction")
rebaseline()

# The detector detects: changes made behind pgmcp's back must each be reported.
psql("COMMENT ON TABLE hr.on_call IS 'changed by t0035'")
p = check_state()
ok(any("catalogs" in x for x in p), "the catalog digest notices a comment", p)
psql("COMMENT ON TABLE hr.on_call IS 'On-call rota; at most one person on call at any time'")
rebaseline()
last = psql("SELECT last_value FROM inventory.product_id_seq")
psql("SELECT nextval('inventory.product_id_seq')")
p = check_state()
ok(any("checksum" in x for x in p), "the checksum notices a sequence advancing", p)
psql(f"SELECT setval('inventory.product_id_seq', {last})")
rebaseline()
psql(f'NOTIFY "{CHANNEL}", \'probe\'')
p = check_state()
ok(any("sentinel saw" in x for x in p), "the sentinel notices a notification", p)
psql("ALTER SYSTEM SET work_mem = '7MB'")
psql("SELECT pg_reload_conf()")
time.sleep(0.3)
p = check_state()
ok(any("settings" in x for x in p), "a configuration change is noticed", p)
psql("ALTER SYSTEM RESET work_mem")
psql("SELECT pg_reload_conf()")
time.sleep(0.3)
rebaseline()
base["session"] = probe()[0]
ok(not check_state(), "all quiet again after the self-test")

ctx = sqlgen.Ctx(TAG, PWN, SENTINEL, CHANNEL, DB)
generated = sqlgen.generate(ctx)
corpus = sqlgen.load_corpus(os.path.join(HERE, "guard-corpus"), ctx)
procs = []
for line in psql(r"""
SELECT json_build_object('n', p.proname, 'k', p.prokind, 'r', p.proretset,
       't', (SELECT coalesce(json_agg(format_type(t, NULL) ORDER BY o), '[]')
             FROM unnest(p.proargtypes::oid[]) WITH ORDINALITY AS a(t, o)),
       'a', coalesce(to_json(p.proargnames), '[]'), 'v', p.provariadic <> 0)
FROM pg_proc p
WHERE p.pronamespace = 'pg_catalog'::regnamespace AND p.prokind IN ('f', 'w')
  AND p.prorettype <> 'trigger'::regtype
  AND p.prorettype <> 'event_trigger'::regtype AND p.prorettype <> 'internal'::regtype
  AND p.prorettype <> 'language_handler'::regtype
ORDER BY p.proname, p.oid""").splitlines():
    j = json.loads(line)
    procs.append((j["n"], j["k"], j["t"], [a or "" for a in j["a"]], j["r"], j["v"]))
# one call per name and argument count (overloads differing only in type add little)
seen, unique = set(), []
for p in procs:
    key = (p[0], len(p[2]))
    if key not in seen:
        seen.add(key)
        unique.append(p)
builtins = sqlgen.function_sweep(unique, ctx, str(sentinel.pid))
counts["generated"], counts["corpus"], counts["builtins"] = len(generated), len(corpus), len(builtins)
diag(f"statements: {len(generated)} generated, {len(corpus)} from t/guard-corpus, "
     f"{len(builtins)} built-in function calls ({len(procs)} pg_catalog functions)")
ok(len(generated) >= 2000, f"the generator makes at least 2000 statements ({len(generated)})")
ok(len(corpus) >= 200, f"the corpus holds at least 200 statements ({len(corpus)})")

# The corpus and the generated shapes first, then the sweep; stop sending at the budget.
work = corpus + generated + builtins
i = 0
while i < len(work):
    if time.time() - T0 > BUDGET_S:
        counts["skipped_for_time"] = len(work) - i
        break
    batch = work[i:i + BATCH]
    process(batch, f"{i}..{i + len(batch) - 1}")
    i += len(batch)

# --------------------------------------------------------------------------------------------
shapes = {}
for s in work[:i]:
    shapes[s.shape.split(":")[0]] = shapes.get(s.shape.split(":")[0], 0) + 1
diag("shapes sent: " + ", ".join(f"{k} {v}" for k, v in sorted(shapes.items())))
diag(f"generated {counts['generated']}, corpus {counts['corpus']}, builtins {counts['builtins']}; "
     f"sent {counts['sent']} in {counts['batches']} batches: allowed {counts['allowed']} "
     f"({counts['db_errors']} failed in PostgreSQL), refused {counts['refused']}, "
     f"syntax errors {counts['syntax']}; changes found={counts['changes']}; "
     f"pgmcp restarts {counts['restarts']}; "
     f"not sent for lack of time {counts['skipped_for_time']}; {time.time() - T0:.1f}s")
ok(counts["skipped_for_time"] == 0, "every statement was sent within the time budget",
   f"{counts['skipped_for_time']} not sent")
is_(counts["changes"], 0, "changes found=0: nothing the guard let through changed anything")
for s, p in changes[:20]:
    diag(f"  [{s.shape}] {short(s.sql, 300)}\n    -> {p}")
if os.environ.get("PGMCP_T0035_DUMP"):
    with open(os.environ["PGMCP_T0035_DUMP"], "w") as f:
        for s, o, t in mismatches:
            f.write(f"[{s.shape}] expect {s.expect} got {o}: {short(s.sql, 400)}\n    {short(t, 300)}\n")
refuse_expected = sum(1 for s in work[:i] if s.expect == "refuse")
refused_as_expected = refuse_expected - sum(1 for s, o, _ in mismatches if s.expect == "refuse")
ok(refused_as_expected == refuse_expected,
   f"every statement expected to be refused was refused by the guard "
   f"({refused_as_expected}/{refuse_expected})",
   "\n".join(f"[{s.shape}] {short(s.sql, 200)} -> {o}: {t}" for s, o, t in mismatches
             if s.expect == "refuse")[:6000])
allow_expected = [s for s in work[:i] if s.expect == "allow"]
allow_bad = [(s, o, t) for s, o, t in mismatches if s.expect == "allow"]
ok(not allow_bad, f"every positive control reached the database "
   f"({len(allow_expected) - len(allow_bad)}/{len(allow_expected)})",
   "\n".join(f"[{s.shape}] {short(s.sql, 200)} -> {o}: {t}" for s, o, t in allow_bad)[:6000])
lost = [(s, o, t) for s, o, t in mismatches if o == "lost"]
ok(not lost, "every call was answered (no crash or hang)",
   "\n".join(f"[{s.shape}] {short(s.sql, 200)}" for s, o, t in lost)[:3000])
ok(counts["refused"] > 0 and counts["allowed"] > 0, "both verdicts occur")
rc = srv.close()
is_(rc, 0, "pgmcp exits 0 at end of input")
is_(psql("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"), "0", "no advisory locks")
is_(pwned_files(), [], f"no files {PWN}*")
done()
