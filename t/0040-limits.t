#!/usr/bin/env python3
# t/0040-limits.t: result limits (max_rows, max_result_bytes), statement_timeout, cancellation by
# notifications/cancelled (no response, prompt recovery, nothing left running in PostgreSQL),
# memory use on huge results, progress notifications, and that ORDER BY/LIMIT and SHOW survive
# the row-limit wrapping.
import contextlib
import json
import os
import time
import traceback

from tap import ok, is_, like, done
from pgmcp_test import Server, Timeout, psql, text_of, wait_for

APP = "pgmcp-t0040"          # application_name of this file's servers, to find their backends
SANITIZED = bool(os.environ.get("PGMCP_SANITIZED"))
MB = 1024 * 1024


@contextlib.contextmanager
def section(name):
    """Runs a block; an exception (timeout, closed pipe, KeyError...) becomes one failed test."""
    try:
        yield
    except Exception as e:  # noqa: BLE001 - any failure inside a section is a test failure
        ok(False, f"{name}: finished without an exception",
           f"{type(e).__name__}: {e}\n{traceback.format_exc()[-1500:]}")


def server(*args):
    return Server("--set", f"database.application_name={APP}", *args)


def sc_of(resp, label):
    """structuredContent of a successful tool result (one test)."""
    res = resp.get("result", {})
    sc = res.get("structuredContent")
    good = "error" not in resp and res.get("isError") is False and isinstance(sc, dict)
    ok(good, f"{label}: succeeds with structuredContent", json.dumps(resp)[:1500])
    return sc if isinstance(sc, dict) else {}


def tool_err(resp, label, *needles):
    text = text_of(resp)
    good = "result" in resp and resp["result"].get("isError") is True
    missing = [n for n in needles if n not in text]
    ok(good and not missing, f"{label}: isError" + (f" mentioning {', '.join(needles)}" if needles else ""),
       f"response: {json.dumps(resp)[:1500]}\n  missing: {missing}")
    return text


def collect_until(s, want_id, timeout):
    """Reads messages until the response to want_id. Returns (response or None, other messages)."""
    others = []
    deadline = time.time() + timeout
    while True:
        left = deadline - time.time()
        if left <= 0:
            return None, others
        try:
            msg = s.recv(timeout=left)
        except (Timeout, EOFError):
            return None, others
        if "method" not in msg and msg.get("id") == want_id:
            return msg, others
        others.append(msg)


def running_sleeps():
    return int(psql("SELECT count(*) FROM pg_stat_activity WHERE application_name = "
                    f"'{APP}' AND state = 'active' AND query LIKE '%pg_sleep%'"))


def cancel_leftovers():
    """Cancels statements this file's servers left running (only after a failed test)."""
    psql(f"SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE application_name = '{APP}' "
         "AND state = 'active' AND pid <> pg_backend_pid()")


def proc_status(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return None


def rows_bytes(rows):
    return len(json.dumps(rows, separators=(",", ":"), ensure_ascii=False).encode())


# ==============================================================================================
# Default limits (max_rows 1000, max_result_bytes 1MB).
s = server()
s.initialize()

with section("max_rows default"):
    sc = sc_of(s.call("query", {"sql": "SELECT g FROM generate_series(1,5000) g"}), "5000 rows")
    same_rows = [r.get("g") for r in sc.get("rows", [])] == list(range(1, 1001))
    ok(same_rows, "5000 rows: the first 1000 come back, in order")
    is_((sc.get("row_count"), sc.get("truncated"), sc.get("truncated_by")), (1000, True, "max_rows"),
        "5000 rows: row_count 1000, truncated by max_rows")
    ok(isinstance(sc.get("notice"), str) and "1000" in sc["notice"],
       "5000 rows: a notice says what was cut and what to do", sc.get("notice"))

    sc = sc_of(s.call("query", {"sql": "SELECT g FROM generate_series(1,1000) g"}), "exactly 1000")
    is_((sc.get("row_count"), sc.get("truncated"), "notice" in sc), (1000, False, False),
        "exactly max_rows rows: not truncated")
    sc = sc_of(s.call("query", {"sql": "SELECT g FROM generate_series(1,1001) g"}), "1001 rows")
    is_((sc.get("row_count"), sc.get("truncated")), (1000, True), "max_rows + 1 rows: truncated")

    sc = sc_of(s.call("query", {"sql": "SELECT g FROM generate_series(1,5000) g", "max_rows": 7}),
               "max_rows 7")
    is_(([r.get("g") for r in sc.get("rows", [])], sc.get("truncated"), sc.get("truncated_by")),
        ([1, 2, 3, 4, 5, 6, 7], True, "max_rows"), "the max_rows argument lowers the limit")
    sc = sc_of(s.call("query", {"sql": "SELECT g FROM generate_series(1,5000) g ORDER BY g DESC",
                                "max_rows": 5}), "max_rows with ORDER BY")
    is_([r.get("g") for r in sc.get("rows", [])], [5000, 4999, 4998, 4997, 4996],
        "max_rows keeps ORDER BY order")
    sc = sc_of(s.call("query", {"sql": "SELECT 1 AS x", "max_rows": 1}), "max_rows 1, one row")
    is_(sc.get("truncated"), False, "max_rows 1 with one row: not truncated")
    tool_err(s.call("query", {"sql": "SELECT 1", "max_rows": 1001}), "max_rows above the ceiling",
             "max_rows")
    tool_err(s.call("query", {"sql": "SELECT 1", "max_rows": 0}), "max_rows 0", "max_rows")

with section("ORDER BY, LIMIT, SHOW"):
    sql = "SELECT id, total FROM sales.orders ORDER BY total DESC, id LIMIT 5"
    sc = sc_of(s.call("query", {"sql": sql}), "ORDER BY ... LIMIT 5")
    expected = [int(line.split("|")[0]) for line in psql(sql).splitlines()]
    is_([r.get("id") for r in sc.get("rows", [])], expected, "ORDER BY ... LIMIT 5 keeps psql's order")
    is_((sc.get("row_count"), sc.get("truncated")), (5, False), "LIMIT 5: 5 rows, not truncated")
    sql = "SELECT id FROM sales.orders ORDER BY status DESC, ordered_at DESC"
    sc = sc_of(s.call("query", {"sql": sql}), "ORDER BY over 200 rows")
    expected = [int(x) for x in psql(sql).splitlines()]
    is_([r.get("id") for r in sc.get("rows", [])], expected, "ORDER BY over the whole table keeps order")
    sql = "SELECT id FROM sales.orders ORDER BY id LIMIT 5 OFFSET 190"
    sc = sc_of(s.call("query", {"sql": sql}), "LIMIT/OFFSET")
    is_([r.get("id") for r in sc.get("rows", [])], [191, 192, 193, 194, 195], "LIMIT with OFFSET pages")

    sc = sc_of(s.call("query", {"sql": "SHOW ALL"}), "SHOW ALL")
    names = [c.get("name") for c in sc.get("columns", [])]
    ok(names == ["name", "setting", "description"] and sc.get("row_count", 0) > 100
       and sc.get("truncated") is False, "SHOW ALL returns every setting", (names, sc.get("row_count")))
    sc = sc_of(s.call("query", {"sql": "SHOW statement_timeout"}), "SHOW one setting")
    is_(sc.get("rows"), [{"statement_timeout": "30s"}], "SHOW statement_timeout shows the default limit")

with section("progress"):
    s.notifications.clear()
    r = s.call("query", {"sql": "SELECT pg_sleep(1.5) AS slept"}, meta={"progressToken": "prog-1"})
    sc_of(r, "pg_sleep(1.5) with a progressToken")
    prog = [n["params"] for n in s.notifications if n.get("method") == "notifications/progress"]
    ok(len(prog) >= 2, "progress notifications arrive while a 1.5 s statement runs", prog)
    ok(all(p.get("progressToken") == "prog-1" for p in prog), "progress carries the token", prog)
    values = [p.get("progress") for p in prog]
    ok(all(isinstance(v, (int, float)) for v in values) and
       all(a < b for a, b in zip(values, values[1:])), "progress values increase", values)
    ok(s.no_message(0.3), "no progress notification after the response")

    s.notifications.clear()
    sc_of(s.call("query", {"sql": "SELECT pg_sleep(1.2) AS slept"}, meta={"progressToken": 77}),
          "integer progressToken")
    prog = [n["params"] for n in s.notifications if n.get("method") == "notifications/progress"]
    ok(prog and all(p.get("progressToken") == 77 and not isinstance(p.get("progressToken"), bool)
                    for p in prog), "an integer progressToken is echoed as an integer", prog)

    s.notifications.clear()
    sc_of(s.call("query", {"sql": "SELECT pg_sleep(1.2) AS slept"}), "no progressToken")
    prog = [n for n in s.notifications if n.get("method") == "notifications/progress"]
    ok(not prog, "no progress notifications without a progressToken", prog)

with section("cancellation"):
    start = time.time()
    s.send({"jsonrpc": "2.0", "id": "cancel-me", "method": "tools/call",
            "params": {"name": "query", "arguments": {"sql": "SELECT pg_sleep(30)"}}})
    ok(wait_for(lambda: running_sleeps() == 1, timeout=5), "the statement is running in PostgreSQL")
    s.notify("notifications/cancelled", {"requestId": "cancel-me", "reason": "test"})
    s.send({"jsonrpc": "2.0", "id": "ping-1", "method": "ping"})
    resp, others = collect_until(s, "ping-1", 10)
    elapsed = time.time() - start
    ok(resp is not None and "result" in resp, "a ping after the cancellation is answered", others)
    ok(elapsed < 5, f"promptly ({elapsed:.2f} s, limit 5 s)")
    ok(not [m for m in others if m.get("id") == "cancel-me"], "no response for the cancelled request",
       others)
    ok(s.no_message(1.0), "nothing arrives for the cancelled request later either")
    ok(wait_for(lambda: running_sleeps() == 0, timeout=3),
       "pg_stat_activity shows no pg_sleep still running")
    sc = sc_of(s.call("query", {"sql": "SELECT 42 AS answer"}), "query after a cancellation")
    is_(sc.get("rows"), [{"answer": 42}], "the connection works after a cancellation")

    # An integer id, cancelled while the statement waits.
    s.send({"jsonrpc": "2.0", "id": 9001, "method": "tools/call",
            "params": {"name": "query", "arguments": {"sql": "SELECT pg_sleep(30)"}}})
    wait_for(lambda: running_sleeps() == 1, timeout=5)
    s.notify("notifications/cancelled", {"requestId": 9001})
    s.send({"jsonrpc": "2.0", "id": "ping-2", "method": "ping"})
    t0 = time.time()
    resp, others = collect_until(s, "ping-2", 10)
    ok(resp is not None and time.time() - t0 < 5 and not [m for m in others if m.get("id") == 9001],
       "an integer request id is cancelled the same way", others)
    ok(wait_for(lambda: running_sleeps() == 0, timeout=3), "and its statement is gone")

    # A cancellation for some other id leaves the running request alone.
    s.send({"jsonrpc": "2.0", "id": "keep-me", "method": "tools/call",
            "params": {"name": "query", "arguments": {"sql": "SELECT pg_sleep(0.8) AS slept"}}})
    time.sleep(0.2)
    s.notify("notifications/cancelled", {"requestId": "someone-else"})
    resp, others = collect_until(s, "keep-me", 10)
    ok(resp is not None and resp.get("result", {}).get("isError") is False,
       "a cancellation naming another id does not cancel the running request", resp)

    # The call and its cancellation arrive in one write (a client that gives up at once), and
    # then the client waits: nothing else arrives that could wake the server up.
    call = {"jsonrpc": "2.0", "id": "quick-cancel", "method": "tools/call",
            "params": {"name": "query", "arguments": {"sql": "SELECT pg_sleep(6)"}}}
    canc = {"jsonrpc": "2.0", "method": "notifications/cancelled",
            "params": {"requestId": "quick-cancel"}}
    s.write_raw(json.dumps(call) + "\n" + json.dumps(canc) + "\n")
    time.sleep(1.5)
    n = running_sleeps()
    ok(n == 0, "a cancellation read together with its request cancels it "
       "(nothing running 1.5 s later)", f"{n} pg_sleep still running")
    t0 = time.time()
    s.send({"jsonrpc": "2.0", "id": "ping-3", "method": "ping"})
    resp, others = collect_until(s, "ping-3", 15)
    ok(resp is not None and time.time() - t0 < 5, "the following ping is answered promptly", others)
    ok(not [m for m in others if m.get("id") == "quick-cancel"],
       "no response for a request cancelled in the same write", others)
    if not wait_for(lambda: running_sleeps() == 0, timeout=3):
        cancel_leftovers()

with section("huge result"):
    base = proc_status(s.proc.pid, "VmRSS")
    t0 = time.time()
    r = s.call("query", {"sql": "SELECT repeat('x', 100000) FROM generate_series(1, 100000)"},
               timeout=60)
    elapsed = time.time() - t0
    sc = sc_of(r, "100000 rows of 100 kB")
    is_((sc.get("truncated"), sc.get("truncated_by")), (True, "max_result_bytes"),
        "a huge result is truncated by max_result_bytes")
    ok(0 < sc.get("row_count", 0) <= 10 and rows_bytes(sc.get("rows", [])) <= MB,
       "the rows returned fit in max_result_bytes", sc.get("row_count"))
    ok(elapsed < 10, f"and quickly ({elapsed:.2f} s, limit 10 s)")
    ok(len(s.raw_lines[-1]) < 3 * MB, "the response stays near 2 x max_result_bytes",
       len(s.raw_lines[-1]))
    hwm = proc_status(s.proc.pid, "VmHWM")
    if SANITIZED:  # ASan's shadow memory and quarantine: bound the growth instead
        ok(hwm - base < 200 * MB, f"server peak RSS grew by {(hwm - base) / MB:.0f} MB (< 200 MB)")
    else:
        ok(hwm < 200 * MB, f"server peak RSS (VmHWM) {hwm / MB:.0f} MB < 200 MB")
    sc = sc_of(s.call("query", {"sql": "SELECT 1 AS x"}), "query after a huge result")
    is_(sc.get("rows"), [{"x": 1}], "the connection works after a huge result")

rc = s.close()
is_(rc, 0, "server exits 0")

# ==============================================================================================
with section("limits.max_rows=10"), server("--set", "limits.max_rows=10") as s:
    s.initialize()
    q = {t["name"]: t for t in s.request("tools/list")["result"]["tools"]}["query"]
    is_(q["inputSchema"]["properties"]["max_rows"].get("maximum"), 10,
        "--set limits.max_rows=10: query.max_rows maximum is 10")
    like(q["description"], "10 rows", "the query description states the limit")
    sc = sc_of(s.call("query", {"sql": "SELECT g FROM generate_series(1,100) g"}), "max_rows=10 query")
    is_(([r.get("g") for r in sc.get("rows", [])], sc.get("truncated"), sc.get("truncated_by")),
        (list(range(1, 11)), True, "max_rows"), "--set limits.max_rows=10 caps a query at 10 rows")
    tool_err(s.call("query", {"sql": "SELECT 1", "max_rows": 11}), "max_rows above 10", "max_rows")
    sc = sc_of(s.call("list_tables", {"include_system": True}), "list_tables with max_rows=10")
    ok(sc.get("row_count") == 10 and len(sc.get("tables", [])) == 10 and sc.get("truncated") is True
       and sc.get("notice"), "catalog listings obey max_rows and say they were cut",
       {k: sc.get(k) for k in ("row_count", "truncated", "notice")})
    info = sc_of(s.call("database_info", {}), "database_info with max_rows=10")
    is_(info.get("limits", {}).get("max_rows"), 10, "database_info reports max_rows 10")

with section("limits.max_result_bytes=2048"), server("--set", "limits.max_result_bytes=2048") as s:
    s.initialize()
    sc = sc_of(s.call("query", {"sql": "SELECT g, repeat('y', 200) AS pad FROM generate_series(1,100) g"}),
               "wide rows")
    is_((sc.get("truncated"), sc.get("truncated_by")), (True, "max_result_bytes"),
        "wide rows are truncated by max_result_bytes")
    n = sc.get("row_count", 0)
    ok(0 < n < 100 and [r.get("g") for r in sc.get("rows", [])] == list(range(1, n + 1)),
       "the rows that fit come back in order", n)
    ok(rows_bytes(sc.get("rows", [])) <= 2048, "the rows take at most 2048 bytes",
       rows_bytes(sc.get("rows", [])))
    like(sc.get("notice"), "2048", "the notice names the byte limit")
    size = len(s.raw_lines[-1])
    ok(size < 8192, f"the whole response stays small ({size} bytes)")
    sc = sc_of(s.call("query", {"sql": "SELECT repeat('z', 5000) AS big"}), "one oversized row")
    ok(sc.get("truncated") is True and sc.get("truncated_by") == "max_result_bytes"
       and len(s.raw_lines[-1]) < 8192, "a single row larger than the limit is not sent",
       {k: sc.get(k) for k in ("row_count", "truncated", "truncated_by")})
    sc = sc_of(s.call("query", {"sql": "SELECT 1 AS one"}), "small result")
    is_(sc.get("truncated"), False, "a small result is not truncated")
    info = sc_of(s.call("database_info", {}), "database_info with max_result_bytes=2048")
    is_(info.get("limits", {}).get("max_result_bytes"), 2048, "database_info reports 2048 bytes")

with section("limits.statement_timeout=500ms"), server("--set", "limits.statement_timeout=500ms") as s:
    s.initialize()
    t0 = time.time()
    r = s.call("query", {"sql": "SELECT pg_sleep(5)"}, timeout=20)
    elapsed = time.time() - t0
    tool_err(r, "pg_sleep(5) under a 500 ms statement_timeout", "statement_timeout", "57014")
    ok(elapsed < 3, f"it fails well under 5 s ({elapsed:.2f} s)")
    sc = sc_of(s.call("query", {"sql": "SELECT 'still here' AS s"}), "query after a timeout")
    is_(sc.get("rows"), [{"s": "still here"}], "the next call works")
    sc = sc_of(s.call("query", {"sql": "SHOW statement_timeout"}), "SHOW statement_timeout")
    is_(sc.get("rows"), [{"statement_timeout": "500ms"}], "the session uses the configured timeout")
    t0 = time.time()
    r = s.call("explain", {"sql": "SELECT pg_sleep(5)", "analyze": True}, timeout=20)
    tool_err(r, "explain analyze of a slow statement", "statement_timeout")
    ok(time.time() - t0 < 3, "explain analyze is bounded by statement_timeout too")
    info = sc_of(s.call("database_info", {}), "database_info with statement_timeout=500ms")
    is_(info.get("limits", {}).get("statement_timeout_ms"), 500, "database_info reports 500 ms")
    ok(wait_for(lambda: running_sleeps() == 0, timeout=3), "nothing left running after timeouts")

if running_sleeps():
    cancel_leftovers()
done()
