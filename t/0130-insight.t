#!/usr/bin/env python3
# t/0130-insight.t: the insight tools. health on a scratch database holding each problem it
# looks for (tables needing VACUUM, bloat, an invalid index, duplicate indexes, a sequence near
# its end, a session blocked by a lock held in an open transaction); active_queries seeing
# the blocked and the running sessions; top_queries without pg_stat_statements, with it
# created but not preloaded, and (in a private cluster started with it preloaded) for real.
import os
import re
import subprocess
import time

from tap import ok, is_, like, unlike, skip, diag, done
from pgmcp_test import (DSN, Cluster, Server, is_tool_error, psql, result_of, structured,
                        text_of, wait_for)

if not DSN:
    skip("insight tools", "no test database (PGMCP_TEST_DSN)")
    done()


def dsn_for(dsn, dbname, user=None):
    out = re.sub(r"dbname=\S+", f"dbname={dbname}", dsn)
    if user:
        out = re.sub(r"user=\S+", f"user={user}", out)
    return out


def session(dsn, sql):
    """A psql session kept open on a pipe; returns the process."""
    p = subprocess.Popen(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=0", "-d", dsn],
                         stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, text=True)
    p.stdin.write(sql + "\n")
    p.stdin.flush()
    return p


def end_session(p):
    try:
        p.stdin.close()
    except OSError:
        pass
    try:
        p.wait(timeout=10)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()


SCRATCH = f"pgmcp_insight_{os.getpid()}"
psql(f"DROP DATABASE IF EXISTS {SCRATCH}")
psql(f"CREATE DATABASE {SCRATCH}")
SDSN = dsn_for(DSN, SCRATCH)
psql("""
CREATE SCHEMA insight;
CREATE TABLE insight.churn (id int, pad text) WITH (autovacuum_enabled = off);
INSERT INTO insight.churn SELECT g, repeat('x', 40) FROM generate_series(1, 100000) g;
DELETE FROM insight.churn WHERE id % 5 <> 0;
CREATE TABLE insight.dead (id int, v text) WITH (autovacuum_enabled = off);
INSERT INTO insight.dead SELECT g, 'v' FROM generate_series(1, 1000) g;
CREATE INDEX dead_id_a ON insight.dead (id);
CREATE INDEX dead_id_b ON insight.dead (id);
CREATE TABLE insight.dupvals (v int);
INSERT INTO insight.dupvals VALUES (1), (1);
CREATE SEQUENCE insight.almost AS integer;
SELECT setval('insight.almost', 2000000000);
""", dsn=SDSN)
psql("VACUUM (ANALYZE) insight.churn", dsn=SDSN)
psql("ANALYZE insight.dead", dsn=SDSN)
psql("DELETE FROM insight.dead WHERE id > 100", dsn=SDSN)
try:
    psql("CREATE UNIQUE INDEX CONCURRENTLY dupvals_v ON insight.dupvals (v)", dsn=SDSN)
except RuntimeError:
    pass    # expected: it fails on the duplicate and leaves the index invalid

# ---------------------------------------------------------------- tools/list
with Server(dsn=SDSN) as s:
    s.initialize()
    tools = {t["name"]: t for t in result_of(s.request("tools/list"))["tools"]}
    for name in ("top_queries", "health", "active_queries"):
        t = tools.get(name) or {}
        ok(t, f"{name} is listed")
        is_((t.get("annotations") or {}).get("readOnlyHint"), True, f"{name}: readOnlyHint")
        ok(t.get("outputSchema", {}).get("type") == "object", f"{name}: outputSchema")
        ok(len(t.get("description", "")) > 200, f"{name}: a description a model can use")
        is_(t.get("inputSchema", {}).get("additionalProperties"), False,
            f"{name}: inputSchema refuses unknown arguments")
    props = tools["top_queries"]["inputSchema"]["properties"]
    is_(props["limit"].get("maximum"), 100, "top_queries: limit at most 100")
    is_(props["order_by"].get("default"), "total_time", "top_queries: order_by default")
    ok("examples" in props["order_by"], "top_queries: order_by has examples")

    # ------------------------------------------------------------ top_queries, absent
    r = s.call("top_queries")
    ok(is_tool_error(r), "top_queries without pg_stat_statements is a tool error", r)
    msg = text_of(r)
    like(msg, "pg_stat_statements", "the message names the extension")
    like(msg, "shared_preload_libraries", "... how to preload it")
    like(msg, "CREATE EXTENSION pg_stat_statements", "... and how to create it")
    like(msg, SCRATCH, "... and the database")
    r = s.call("top_queries", {"limit": 0})
    ok(is_tool_error(r) and "limit" in text_of(r), "limit 0 is refused", r)
    r = s.call("top_queries", {"limit": 101})
    ok(is_tool_error(r) and "between 1 and 100" in text_of(r), "limit 101 is refused", r)
    r = s.call("top_queries", {"order_by": "speed"})
    ok(is_tool_error(r) and "total_time" in text_of(r), "an unknown order_by names the choices", r)
    r = s.call("health", {"verbose": True})
    ok(is_tool_error(r) and "unknown argument" in text_of(r), "health takes no arguments", r)

psql("CREATE EXTENSION pg_stat_statements", dsn=SDSN)
with Server(dsn=SDSN) as s:
    s.initialize()
    r = s.call("top_queries")
    ok(is_tool_error(r), "created but not preloaded: a tool error", r)
    like(text_of(r), "not loaded", "the message says the server has not loaded it")
    like(text_of(r), "shared_preload_libraries", "... and names shared_preload_libraries")
psql("DROP EXTENSION pg_stat_statements", dsn=SDSN)

# ---------------------------------------------------------------- health and active_queries
holder = session(SDSN, "BEGIN; LOCK TABLE insight.dead IN ACCESS EXCLUSIVE MODE; "
                       "SELECT pg_backend_pid();")
ok(wait_for(lambda: psql("SELECT count(*) FROM pg_locks WHERE relation = 'insight.dead'::regclass "
                         "AND mode = 'AccessExclusiveLock' AND granted", dsn=SDSN) == "1"),
   "a session holds an exclusive lock on insight.dead")
waiter = session(SDSN, "SELECT count(*) FROM insight.dead;")
sleeper = session(SDSN, "SELECT pg_sleep(60) /* pgmcp-insight-sleeper */;")
idler = session(SDSN, "SELECT 1 /* pgmcp-insight-idler */;")
ok(wait_for(lambda: psql("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                         "AND wait_event_type = 'Lock'", dsn=SDSN) == "1"),
   "another session waits for that lock")
ok(wait_for(lambda: psql("SELECT count(*) FROM pg_stat_activity WHERE query LIKE "
                         "'%pgmcp-insight-idler%' AND state = 'idle'", dsn=SDSN) == "1"),
   "an idle session is connected")
holder_pid = int(psql("SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND "
                      "query LIKE 'SELECT pg_backend_pid()%'", dsn=SDSN))
waiter_pid = int(psql("SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND "
                      "wait_event_type = 'Lock'", dsn=SDSN))

try:
    for label, dsn in (("superuser", SDSN), ("pgmcp_reader", dsn_for(DSN, SCRATCH, "pgmcp_reader"))):
        with Server("--set", "limits.lock_timeout=2s", dsn=dsn) as s:
            s.initialize()
            t0 = time.time()
            r = s.call("health", timeout=60)
            ok(not is_tool_error(r), f"health as {label} succeeds while a table is locked", r)
            ok(time.time() - t0 < 5, f"health as {label} does not wait behind the lock")
            h = structured(r) or {}
            for key in ("findings", "connections", "cache_hit_ratio", "vacuum_analyze", "bloat",
                        "invalid_indexes", "unused_indexes", "duplicate_indexes", "sequences",
                        "wraparound", "long_transactions", "blocking_locks", "replication"):
                ok(key in h, f"health ({label}): {key}")
            findings = " | ".join(h.get("findings") or [])
            conn = h.get("connections") or {}
            ok(conn.get("max_connections", 0) > 0 and conn.get("total", 0) >= 5,
               f"connections against max_connections ({label})", conn)
            ok("database_pct" in (h.get("cache_hit_ratio") or {}), "a cache hit ratio")
            if label != "superuser":
                # Other roles' sessions: counted, but their state needs pg_read_all_stats.
                like(conn.get("note"), "pg_read_all_stats", "a note says what is hidden")
                ok(conn.get("by_state", {}).get("not visible to this role", 0) >= 4,
                   "hidden sessions are counted as such", conn)
                continue
            ok(isinstance(conn.get("by_state"), dict) and "idle in transaction" in conn["by_state"],
               "connections by state", conn)
            ok("note" not in conn, "nothing hidden from a superuser", conn)
            blocks = h.get("blocking_locks") or []
            ok(any(b.get("blocked_pid") == waiter_pid and b.get("blocking_pid") == holder_pid
                   for b in blocks), f"who blocks whom ({label})", blocks)
            like(findings, "waiting on locks", "findings mention the blocked session")
            is_((h.get("replication") or {}).get("status"), "not a primary with replicas",
                "replication: not a primary with replicas")
            ok(any(w.get("database") == SCRATCH for w in h.get("wraparound") or []),
               "wraparound age of this database", h.get("wraparound"))
            vac = {v["table"]: v for v in h.get("vacuum_analyze") or []}
            ok(vac.get("insight.dead", {}).get("needs_vacuum") is True,
               "insight.dead needs VACUUM (900 dead tuples)", h.get("vacuum_analyze"))
            like((vac.get("insight.dead") or {}).get("suggestion"), "VACUUM (ANALYZE) insight.dead",
                 "with the command to run")
            like(findings, "need VACUUM or ANALYZE", "findings mention vacuum")
            bloat = {b["table"]: b for b in h.get("bloat") or []}
            ok(bloat.get("insight.churn", {}).get("estimated_bloat_pct", 0) > 30,
               "insight.churn is estimated bloated (80% deleted)", h.get("bloat"))
            like(findings, "bloat", "findings mention bloat")
            inv = [i["index"] for i in h.get("invalid_indexes") or []]
            ok("insight.dupvals_v" in inv, "the invalid index is found", inv)
            like(findings, "invalid index", "findings mention the invalid index")
            dups = h.get("duplicate_indexes") or []
            ok(any(sorted(d.get("indexes", [])) == ["insight.dead_id_a", "insight.dead_id_b"]
                   for d in dups), "the duplicate indexes are found", dups)
            like(findings, "duplicate indexes", "findings mention the duplicates")
            unused = [u["index"] for u in h.get("unused_indexes") or []]
            ok("insight.dead_id_a" in unused, "never-scanned indexes are listed", unused)
            ok(not any("pkey" in u for u in unused), "no primary key among unused indexes")
            seqs = {q["sequence"]: q for q in h.get("sequences") or []}
            ok(seqs.get("insight.almost", {}).get("used_pct", 0) > 90,
               "the sequence near its end is found", h.get("sequences"))
            like(seqs.get("insight.almost", {}).get("suggestion"), "AS bigint", "with a fix")
            like(findings, "near exhaustion", "findings mention the sequence")
            is_(h.get("long_transactions"), [], "no transaction is older than 5 minutes")

            r = s.call("active_queries")
            ok(not is_tool_error(r), "active_queries succeeds", r)
            a = structured(r) or {}
            qs = a.get("queries") or []
            by_pid = {q["pid"]: q for q in qs}
            ok(waiter_pid in by_pid, "the blocked session is listed", qs)
            is_(by_pid.get(waiter_pid, {}).get("blocked_by"), [holder_pid], "... with who blocks it")
            like(by_pid.get(waiter_pid, {}).get("wait_event"), "Lock:", "... and its wait event")
            ok(holder_pid in by_pid and by_pid[holder_pid]["state"].startswith("idle in transaction"),
               "the lock holder is listed as idle in transaction", by_pid.get(holder_pid))
            sleep = [q for q in qs if "pgmcp-insight-sleeper" in q.get("query", "")]
            ok(sleep and sleep[0]["state"] == "active" and sleep[0].get("running_ms", -1) >= 0,
               "the running statement with its duration", sleep)
            ok(not any("pgmcp-insight-idler" in q.get("query", "") for q in qs),
               "idle sessions are left out by default")
            ok(not any("pg_stat_activity" in q.get("query", "") and q.get("application") == "pgmcp"
                       and q.get("state") == "active" for q in qs),
               "the call's own backend is not listed")
            is_(a.get("row_count"), len(qs), "row_count")
            r = s.call("active_queries", {"include_idle": True})
            qs = (structured(r) or {}).get("queries") or []
            ok(any("pgmcp-insight-idler" in q.get("query", "") and q["state"] == "idle" for q in qs),
               "include_idle lists idle sessions", qs)
            long_q = "SELECT '" + "y" * 700 + "' AS long_one, pg_sleep(60)"
            longs = session(SDSN, long_q + ";")
            wait_for(lambda: psql("SELECT count(*) FROM pg_stat_activity WHERE query LIKE "
                                  "'%long_one%' AND state = 'active' AND pid <> pg_backend_pid()",
                                  dsn=SDSN) == "1")
            qs = (structured(s.call("active_queries")) or {}).get("queries") or []
            long_rows = [q for q in qs if "yyyy" in q.get("query", "")]
            ok(long_rows and len(long_rows[0]["query"]) == 500 and long_rows[0].get("query_truncated"),
               "query text is cut at 500 characters and marked", [len(q["query"]) for q in long_rows])
            end_session(longs)
finally:
    for p in (holder, waiter, sleeper, idler):
        end_session(p)
    psql(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{SCRATCH}' "
         "AND pid <> pg_backend_pid()")
    psql(f"DROP DATABASE IF EXISTS {SCRATCH} WITH (FORCE)")

# ---------------------------------------------------------------- top_queries, present
try:
    c = Cluster(sample=True)
except RuntimeError as e:
    skip("top_queries with pg_stat_statements", f"cannot start a private cluster: {e}")
    done()
try:
    psql("ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'", dsn=c.dsn)
    c.ctl("restart")
    psql("CREATE EXTENSION pg_stat_statements", dsn=c.dsn)
    for i in range(5):
        psql(f"SELECT count(*) FROM sales.orders WHERE id > {i}", dsn=c.dsn)
    psql("SELECT sum(total) FROM sales.orders o JOIN sales.customers c ON c.id = o.customer_id",
         dsn=c.dsn)
    with Server(dsn=c.dsn) as s:
        s.initialize()
        r = s.call("top_queries", {"limit": 50, "order_by": "calls"})
        ok(not is_tool_error(r), "top_queries with pg_stat_statements preloaded", r)
        doc = structured(r) or {}
        qs = doc.get("queries") or []
        like(doc.get("extension_version"), "1.", "the extension version")
        is_(doc.get("order_by"), "calls", "order_by echoed")
        ok(0 < len(qs) <= 50, "at most limit statements", len(qs))
        mine = [q for q in qs if "sales.orders WHERE id >" in q.get("query", "")]
        ok(len(mine) == 1, "the five literal variants are one normalized statement", mine)
        if mine:
            q = mine[0]
            is_(q.get("calls"), 5, "calls")
            like(q.get("query"), "$1", "constants are replaced by $n")
            for key in ("total_ms", "mean_ms", "rows", "shared_blks_hit", "shared_blks_read",
                        "share_of_total_time_pct", "queryid", "database", "role"):
                ok(key in q, f"a statement has {key}")
        calls = [q["calls"] for q in qs]
        ok(calls == sorted(calls, reverse=True), "ordered by calls", calls)
        r = s.call("top_queries", {"limit": 2})
        qs = (structured(r) or {}).get("queries") or []
        is_(len(qs), 2, "limit 2")
        totals = [q["total_ms"] for q in qs]
        ok(totals == sorted(totals, reverse=True), "default order: total time", totals)
        r = s.call("top_queries", {"order_by": "mean_time", "all_databases": True})
        ok(not is_tool_error(r), "order_by mean_time, all databases", r)
        means = [q["mean_ms"] for q in (structured(r) or {}).get("queries") or []]
        ok(means == sorted(means, reverse=True), "ordered by mean time", means)
        unlike(text_of(r), "\n", "the text is compact JSON")
finally:
    c.stop()
done()
