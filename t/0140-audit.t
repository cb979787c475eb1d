#!/usr/bin/env python3
# t/0140-audit.t: the audit log. One JSON line per tool call, on disk before the response
# arrives: who, session, protocol, tool, normalized statement and fingerprint (stable when
# only literals change), parameters redacted to type and length unless log_parameters, rows,
# bytes, duration, outcome (ok, error, refused, cancelled, timeout, unavailable) and SQLSTATE.
# Reopened on SIGUSR1 (stdio and daemon), never failing a call when the disk is full, and
# saying how many records were lost once it can write again.
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time

from tap import ok, is_, like, unlike, skip, diag, done
from pgmcp_test import DSN, LATEST, Server, is_tool_error, result_of, run, BIN, wait_for

if not DSN:
    skip("audit log", "no test database (PGMCP_TEST_DSN)")
    done()

TMP = tempfile.mkdtemp(prefix="pgmcp-audit-")
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def records(path):
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def last(path):
    r = records(path)
    return r[-1] if r else {}


# ---------------------------------------------------------------- content, redacted
AUDIT = os.path.join(TMP, "audit.jsonl")
CONF = os.path.join(TMP, "pgmcp.yaml")
with open(CONF, "w") as f:
    f.write(f"""
audit:
  file: {AUDIT}
limits:
  statement_timeout: 1s
tools:
  orders_of:
    description: Orders of one customer.
    sql: SELECT id, status FROM sales.orders WHERE customer_id = $1 AND status <> 'void' ORDER BY id
    parameters:
      - {{ name: customer_id, type: integer, required: true }}
""")

with Server("-c", CONF) as s:
    s.initialize()
    SQL1 = "SELECT id, status FROM sales.orders WHERE id = 7 AND coalesce(note, '') <> 'secret-literal-xyz'"
    r = s.call("query", {"sql": SQL1})
    ok(not is_tool_error(r), "an ordinary query", r)
    rec = last(AUDIT)      # read at once: it must be there before the response was sent
    is_(rec.get("tool"), "query", "a record is on disk when the response arrives")
    ok(ISO.match(rec.get("time", "")), "time is ISO 8601 UTC with milliseconds", rec.get("time"))
    is_(rec.get("client"), "stdio", "client is stdio")
    ok(re.match(r"^[0-9a-f]{16}$", rec.get("session") or ""), "a session digest", rec.get("session"))
    is_(rec.get("protocol"), LATEST, "the protocol version")
    is_(rec.get("statement"),
        "SELECT id, status FROM sales.orders WHERE id = $1 AND coalesce(note, $2) <> $3",
        "the statement is normalized: literals become $n")
    ok(re.match(r"^[0-9a-f]{16}$", rec.get("fingerprint") or ""), "a fingerprint",
       rec.get("fingerprint"))
    is_(rec.get("parameters"), {"sql": {"type": "string", "length": len(SQL1)}},
        "parameters are redacted to type and length")
    is_(rec.get("outcome"), "ok", "outcome ok")
    is_(rec.get("sqlstate"), None, "no SQLSTATE")
    is_(rec.get("rows"), 1, "rows")
    ok(isinstance(rec.get("bytes"), int) and rec["bytes"] > 100, "bytes of the result", rec.get("bytes"))
    ok(isinstance(rec.get("duration_ms"), (int, float)) and rec["duration_ms"] >= 0, "duration_ms")
    fp = rec.get("fingerprint")
    session = rec.get("session")

    s.call("query", {"sql": "select id, status from sales.orders where id = 12345 "
                            "and coalesce(note, 'x') <> 'other'"})
    rec = last(AUDIT)
    is_(rec.get("fingerprint"), fp, "the fingerprint is stable when literals (and case) change")
    is_(rec.get("session"), session, "one session digest for the session")
    s.call("query", {"sql": "SELECT id FROM sales.orders WHERE id = 7"})
    ok(last(AUDIT).get("fingerprint") not in (None, fp), "another statement, another fingerprint")

    s.call("query", {"sql": "SELECT * FROM sales.customers WHERE country = $1 AND id < $2",
                     "params": ["DE", 1000]})
    rec = last(AUDIT)
    is_(rec.get("parameters", {}).get("params"),
        [{"type": "string", "length": 2}, {"type": "number", "length": 4}],
        "bound parameters are redacted one by one")
    s.call("query", {"sql": "SELECT $1::boolean, $2::text", "params": [True, None]})
    is_(last(AUDIT).get("parameters", {}).get("params"), [{"type": "boolean"}, {"type": "null"}],
        "booleans have no length (it would tell true from false)")

    r = s.call("query", {"sql": "DELETE FROM sales.orders WHERE id = 1"})
    ok(is_tool_error(r), "a refused statement")
    rec = last(AUDIT)
    is_((rec.get("outcome"), rec.get("sqlstate")), ("refused", "42501"), "outcome refused, 42501")
    is_(rec.get("statement"), "DELETE FROM sales.orders WHERE id = $1", "... with its statement")
    is_(rec.get("rows"), 0, "... and no rows")

    s.call("query", {"sql": "SELECT no_such_column FROM sales.orders"})
    rec = last(AUDIT)
    is_((rec.get("outcome"), rec.get("sqlstate")), ("error", "42703"), "a failed statement: error, 42703")

    s.call("query", {"sql": "SELEKT 'secret-literal-xyz'"})
    rec = last(AUDIT)
    is_((rec.get("outcome"), rec.get("sqlstate")), ("error", "42601"), "a syntax error: error, 42601")
    is_(rec.get("statement"), None, "an unparsable statement has no normalized text")
    like(rec.get("statement_note"), "does not parse", "... and says why")

    s.call("query", {"sql": 42})
    rec = last(AUDIT)
    is_((rec.get("outcome"), rec.get("sqlstate")), ("error", None), "bad arguments: error, no SQLSTATE")
    is_(rec.get("parameters"), {"sql": {"type": "number", "length": 2}}, "... redacted too")

    r = s.call("query", {"sql": "SELECT pg_sleep(5)"})
    ok(is_tool_error(r), "a statement past statement_timeout")
    rec = last(AUDIT)
    is_((rec.get("outcome"), rec.get("sqlstate")), ("timeout", "57014"), "outcome timeout, 57014")

    s.call("orders_of", {"customer_id": 3})
    rec = last(AUDIT)
    is_(rec.get("tool"), "orders_of", "a declared tool")
    is_(rec.get("statement"), "SELECT id, status FROM sales.orders WHERE customer_id = $1 AND "
        "status <> $2 ORDER BY id", "... audited with its SQL, normalized")
    is_(rec.get("parameters"), {"customer_id": {"type": "number", "length": 1}},
        "... and its arguments redacted")

    s.call("list_tables", {"schema": "sales"})
    rec = last(AUDIT)
    is_((rec.get("tool"), rec.get("statement"), rec.get("outcome")), ("list_tables", None, "ok"),
        "a catalog tool: no statement of the model's")
    ok(rec.get("rows", 0) >= 4, "... its rows", rec.get("rows"))

    # A cancelled call gets no response but does get a record.
    s.send({"jsonrpc": "2.0", "id": "slow", "method": "tools/call",
            "params": {"name": "query", "arguments": {"sql": "SELECT pg_sleep(0.8), 'cancel-me'"}}})
    time.sleep(0.2)
    s.notify("notifications/cancelled", {"requestId": "slow", "reason": "test"})
    ok(wait_for(lambda: last(AUDIT).get("outcome") == "cancelled", timeout=10),
       "a cancelled call is recorded as cancelled", last(AUDIT))
    ok(s.no_message(1.0), "and gets no response")
    n_before = len(records(AUDIT))
    result_of(s.request("ping"))
    result_of(s.request("tools/list"))
    is_(len(records(AUDIT)), n_before, "other methods leave no record")

with open(AUDIT, encoding="utf-8") as f:
    text = f.read()
unlike(text, "secret-literal-xyz", "literals never reach the audit file when redacted")
lines = text.splitlines()
ok(all(line.startswith("{") and line.endswith("}") for line in lines), "one JSON object per line")
diag("excerpt:\n" + "\n".join(lines[:3]))

# Unavailable database.
AUD2 = os.path.join(TMP, "unavailable.jsonl")
with Server("--set", f"audit.file={AUD2}", "--set", "database.connect_timeout=1s",
            dsn="host=127.0.0.1 port=1 dbname=nope user=nobody") as s:
    s.initialize()
    r = s.call("query", {"sql": "SELECT 1"})
    ok(is_tool_error(r), "no database: a tool error")
    is_(last(AUD2).get("outcome"), "unavailable", "outcome unavailable")

# ---------------------------------------------------------------- log_parameters, log stream
AUD3 = os.path.join(TMP, "params.jsonl")
with Server("--set", f"audit.file={AUD3}", "--set", "audit.log_parameters=true",
            "--set", "audit.log=true") as s:
    s.initialize()
    s.call("query", {"sql": "SELECT $1::text AS v", "params": ["visible-value"]})
    rec = last(AUD3)
    is_(rec.get("parameters"), {"sql": "SELECT $1::text AS v", "params": ["visible-value"]},
        "log_parameters: true keeps the arguments")
    ok(wait_for(lambda: "audit {" in s.stderr(), timeout=5), "audit.log: true also logs the record")
    like(s.stderr(), "visible-value", "... the same record")

# Only the log stream.
with Server("--set", "audit.log=true") as s:
    s.initialize()
    s.call("query", {"sql": "SELECT 1"})
    ok(wait_for(lambda: "level=info" in s.stderr() and "audit {" in s.stderr(), timeout=5),
       "audit.log without audit.file: records at info level in the log")

# An audit.file that cannot be opened is a start-up error.
rc, out, err = run([BIN, "--stdio", "--set", f"audit.file={TMP}/no/such/dir/a.jsonl", DSN],
                   input="", timeout=20)
is_(rc, 1, "an unopenable audit.file: exit status 1")
like(err, "audit.file", "... naming the key")

# ---------------------------------------------------------------- SIGUSR1: reopen (stdio)
AUD4 = os.path.join(TMP, "rotate.jsonl")
with Server("--set", f"audit.file={AUD4}") as s:
    s.initialize()
    s.call("query", {"sql": "SELECT 1 AS before_rotation"})
    os.rename(AUD4, AUD4 + ".1")
    s.call("query", {"sql": "SELECT 2 AS still_old_file"})
    s.proc.send_signal(signal.SIGUSR1)
    time.sleep(0.2)
    r = s.call("query", {"sql": "SELECT 3 AS after_rotation"})
    ok(not is_tool_error(r), "the server survives SIGUSR1 in stdio mode")
    old = [x["statement"] for x in records(AUD4 + ".1")]
    new = [x["statement"] for x in records(AUD4)]
    ok(len(old) == 2, "before the signal records go to the renamed file", old)
    ok(len(new) == 1 and "after_rotation" in new[0], "after it, to a new file by the name", new)

# ---------------------------------------------------------------- disk full
# A symlink to /dev/full (every write fails with ENOSPC), later pointed at a real file.
LINK = os.path.join(TMP, "full.jsonl")
REAL = os.path.join(TMP, "recovered.jsonl")
os.symlink("/dev/full", LINK)
with Server("--set", f"audit.file={LINK}") as s:
    s.initialize()
    t0 = time.time()
    results = [s.call("query", {"sql": f"SELECT {i} AS n"}) for i in range(4)]
    ok(all(not is_tool_error(r) for r in results), "calls succeed while the audit file cannot be written")
    ok(time.time() - t0 < 10, "... without delay")
    warnings = [line for line in s.stderr().splitlines() if "audit.file" in line and "level=warning" in line]
    ok(len(warnings) == 1, "one warning for four lost records (at most one a minute)", warnings)
    like(warnings[0] if warnings else "", "No space left on device", "... naming the cause")
    os.unlink(LINK)
    os.symlink(REAL, LINK)
    s.proc.send_signal(signal.SIGUSR1)
    time.sleep(0.2)
    s.call("query", {"sql": "SELECT 'written' AS n"})
    rec = last(REAL)
    is_(rec.get("lost_before"), 4, "the next record written says 4 were lost")
    ok(wait_for(lambda: "4 records could not be written" in s.stderr(), timeout=5),
       "and the log says so", s.stderr()[-1500:])
    s.call("query", {"sql": "SELECT 'again' AS n"})
    ok("lost_before" not in last(REAL), "later records carry no loss count")

# A real filesystem filling up (a 64k tmpfs), when we may mount one.
MNT = os.path.join(TMP, "tiny")
os.mkdir(MNT)
mounted = os.geteuid() == 0 and subprocess.run(
    ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", MNT], capture_output=True).returncode == 0
if not mounted:
    skip("tmpfs disk full", "cannot mount a tmpfs here (not root, or no CAP_SYS_ADMIN)")
else:
    try:
        TINY = os.path.join(MNT, "audit.jsonl")
        with Server("--set", f"audit.file={TINY}", "--set", "audit.log_parameters=true") as s:
            s.initialize()
            s.call("query", {"sql": "SELECT 1"})
            filler = os.path.join(MNT, "filler")
            subprocess.run(["dd", "if=/dev/zero", f"of={filler}", "bs=4k", "count=64"],
                           capture_output=True)
            big = "x" * 3000
            res = [s.call("query", {"sql": f"SELECT '{big}' AS pad, {i} AS n"}) for i in range(20)]
            ok(all(not is_tool_error(r) for r in res), "tmpfs full: calls still succeed")
            like(s.stderr(), "No space left on device", "tmpfs full: the loss is logged")
            os.unlink(filler)
            s.call("query", {"sql": "SELECT 'after' AS n"})
            with open(TINY, encoding="utf-8", errors="replace") as f:
                raw_lines = f.read().splitlines()
            good = []
            for line in raw_lines:
                try:
                    good.append(json.loads(line))
                except ValueError:
                    pass
            ok(good and good[-1].get("lost_before", 0) >= 1,
               "tmpfs: the first record after space returns counts the lost ones",
               good[-1] if good else raw_lines[-3:])
            ok(len(good) >= len(raw_lines) - 1, "at most one broken line (a short write) in the file")
    finally:
        subprocess.run(["umount", MNT], capture_output=True)

# ---------------------------------------------------------------- daemon: workers, HTTP identity
try:
    from daemon_test import Daemon, Mcp
except ImportError as e:
    skip("audit in the daemon", f"daemon_test unavailable: {e}")
    done()

AUD5 = os.path.join(TMP, "daemon.jsonl")
TOKEN = "audit-test-token-0123456789"
with Daemon(workers=2, sets=[f"audit.file={AUD5}"], env={"PGMCP_AUTH_TOKENS": f"alice:{TOKEN}"},
            auth=f"Bearer {TOKEN}") as d:
    m = Mcp(d.port, headers={"Authorization": f"Bearer {TOKEN}"})
    m.initialize()
    r = m.call("query", {"sql": "SELECT 1 AS over_http"})
    ok(r.result and not r.result.get("isError"), "a call over Streamable HTTP", r)
    rec = last(AUD5)
    is_(rec.get("client"), "alice", "HTTP: the client is the token's name")
    ok(re.match(r"^[0-9a-f]{16}$", rec.get("session") or ""), "HTTP: the session id's digest")
    m2 = Mcp(d.port, headers={"Authorization": f"Bearer {TOKEN}"})
    m2.initialize()
    m2.call("query", {"sql": "SELECT 2"})
    recs = records(AUD5)
    ok(len(recs) == 2 and recs[0]["session"] != recs[1]["session"], "two sessions, two digests",
       [x.get("session") for x in recs])
    os.rename(AUD5, AUD5 + ".1")
    os.kill(d.pid, signal.SIGUSR1)
    time.sleep(0.5)
    # Enough calls that both workers serve some (each connection may land on either).
    for i in range(8):
        m.call("query", {"sql": f"SELECT {i} AS after_usr1"})
    recs = records(AUD5)
    is_(len(recs), 8, "after the master's SIGUSR1 every worker writes to the new file")
    is_(len(records(AUD5 + ".1")), 2, "the renamed file keeps what came before")
shutil.rmtree(TMP, ignore_errors=True)
done()
