#!/usr/bin/env python3
# t/0440-valgrind-daemon.t: the daemon's serving code under valgrind's memcheck. `pgmcp --single
# --listen` (one process: a worker without a master) serves a mix of Streamable HTTP (stateless
# and with a session, JSON and event-stream replies, keep-alive, DELETE), legacy SSE (the
# stream opened and closed: with one process a POST /messages cannot be served while the
# stream holds it), framed JSON-RPC on the same port, the operational endpoints, errors,
# a cancellation and a client that hangs up mid-call; then SIGTERM. No invalid reads or
# writes, no uninitialised values, no definite or indirect leaks, exit status 0.
# no-sanitizer (valgrind cannot run the ASan build; it checks the normal one)
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

from tap import ok, is_, like, skip, diag, done
from pgmcp_test import BIN, DSN, LATEST
from daemon_test import (HttpConn, Mcp, Reply, ACCEPT_BOTH, build_request,
                         modern_meta, modern_headers, request, free_port, crash_is_failure)

crash_is_failure()

if shutil.which("valgrind") is None:
    skip("valgrind daemon session", "valgrind is not installed")
    done()

T = 120            # valgrind runs pgmcp 20-50x slower
tmp = tempfile.mkdtemp(prefix="pgmcp-vgd-")
log = os.path.join(tmp, "valgrind.log")
errlog = os.path.join(tmp, "stderr.log")
port = free_port()
cmd = ["valgrind", "--quiet", "--leak-check=full", "--errors-for-leak-kinds=definite,indirect",
       "--show-leak-kinds=definite,indirect", "--error-exitcode=99", "--track-origins=yes",
       "--track-fds=no", f"--log-file={log}",
       BIN, "--single", "--listen", f"127.0.0.1:{port}", "--set",
       "database.application_name=t0440_vg", "--set", "http.sse_heartbeat=1s", DSN]
proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                        stderr=open(errlog, "wb"))


def up():
    deadline = time.time() + T
    while time.time() < deadline:
        if proc.poll() is not None:
            return False
        try:
            if request(port, "GET", "/healthz", timeout=5).status == 200:
                return True
        except OSError:
            pass
        time.sleep(0.3)
    return False


try:
    ok(up(), "pgmcp --single starts under valgrind and answers /healthz")

    # operational endpoints
    is_(request(port, "GET", "/readyz", timeout=T).status, 200, "/readyz")
    r = request(port, "GET", "/metrics", timeout=T)
    ok(r.status == 200 and b"pgmcp_workers" in r.body, "/metrics")
    is_(request(port, "GET", "/nonesuch", timeout=T).status, 404, "an unknown path: 404")

    # Streamable HTTP, stateless (2026-07-28)
    def stateless(tool, args, rid, conn=None, accept=ACCEPT_BOTH, meta=None):
        body = json.dumps({"jsonrpc": "2.0", "id": rid, "method": "tools/call",
                           "params": {"name": tool, "arguments": args,
                                      "_meta": modern_meta(**(meta or {}))}}).encode()
        h = {"Content-Type": "application/json", "Accept": accept}
        h.update(modern_headers("tools/call", tool))
        if conn is not None:
            return Reply.of(conn.request("POST", "/mcp", h, body, timeout=T))
        with HttpConn(port, timeout=T) as c:
            return Reply.of(c.request("POST", "/mcp", h, body, timeout=T))

    with HttpConn(port, timeout=T) as c:       # several requests on one keep-alive connection
        calls = [
            ("query", {"sql": "SELECT g, md5(g::text) FROM generate_series(1, 2000) g"}, True),
            ("query", {"sql": "SELECT $1::int AS v, now() AS t, '{1,2}'::int[] AS a",
                       "params": [7]}, True),
            ("list_schemas", {}, True),
            ("list_tables", {"schema": "sales"}, True),
            ("describe_table", {"table": "sales.orders"}, True),
            ("explain", {"sql": "SELECT * FROM sales.orders WHERE id = $1", "params": [1]}, True),
            ("list_extensions", {}, True),
            ("database_info", {}, True),
            ("health", {}, True),
            ("top_queries", {"limit": 3}, None),
            ("active_queries", {}, True),
            ("query", {"sql": "SELEKT 1"}, False),
            ("query", {"sql": "DELETE FROM sales.orders"}, False),
        ]
        for i, (tool, args, good) in enumerate(calls):
            r = stateless(tool, args, 100 + i, conn=c)
            res = r.result
            ok(r.status == 200 and res is not None and
               (good is None or bool(res.get("isError")) != good),
               f"stateless {tool} {str(args)[:40]}", r)
        r = stateless("no_such_tool", {}, 150, conn=c)
        ok(r.rpc_error() is not None, "stateless unknown tool: a JSON-RPC error", r)
    r = stateless("query", {"sql": "SELECT pg_sleep(0.2)"}, 160, meta={"progressToken": "p1"})
    ok(r.status == 200 and r.result is not None, "a call with a progress token", r)

    # Streamable HTTP with a session
    m = Mcp(port, timeout=T)
    sid = m.initialize(LATEST)
    ok(sid, "initialize issues a session id")
    for method, params in [("ping", {}), ("tools/list", {}), ("resources/list", {}),
                           ("prompts/list", {}),
                           ("resources/read", {"uri": "pgmcp://tables/sales/orders"})]:
        r = m.rpc(method, params)
        ok(r.status == 200 and r.result is not None, f"session {method}", r)
    r = m.call("query", {"sql": "SELECT count(*) FROM sales.orders"})
    ok(r.result is not None and not r.result.get("isError"), "session tools/call", r)
    r = m.post(b"", raw=b'{"jsonrpc":"2.0","id":1,"method":"ping"')
    ok(r.status == 400, "a truncated JSON body: 400", r)
    r = m.post(None, raw=json.dumps([{"jsonrpc": "2.0", "id": 1, "method": "ping"}]).encode())
    ok(r.status in (200, 400), "a batch is answered (or refused)", r)
    ok(m.delete().status in (200, 204), "DELETE ends the session")

    # a cancellation and a hang-up, mid-call
    c = HttpConn(port, timeout=T)
    h = {"Content-Type": "application/json", "Accept": ACCEPT_BOTH}
    h.update(modern_headers("tools/call", "query"))
    c.send(build_request("POST", "/mcp", h, json.dumps(
        {"jsonrpc": "2.0", "id": 170, "method": "tools/call",
         "params": {"name": "query", "arguments": {"sql": "SELECT pg_sleep(5)"},
                    "_meta": modern_meta()}}).encode(), port=port))
    time.sleep(1.0)
    c.close()
    time.sleep(0.5)
    r = request(port, "GET", "/healthz", timeout=T)
    is_(r.status, 200, "served after a client hung up mid-call")

    # legacy SSE: one process cannot hold a stream and answer its POSTs, so --single refuses
    # the stream with a 503 that says why (the SSE exchange itself is covered by t/0320)
    r = request(port, "GET", "/sse", headers={"Accept": "text/event-stream"}, timeout=T)
    is_(r.status, 503, "GET /sse under --single: 503")
    like(r.body.decode(errors="replace"), r"Streamable HTTP", "the 503 names the alternative")
    r = request(port, "POST", "/messages?sessionId=bogus", headers={
        "Content-Type": "application/json"}, body=b'{"jsonrpc":"2.0","id":1,"method":"ping"}',
        timeout=T)
    ok(400 <= r.status < 500, "POST /messages with a bogus session id: 4xx", r)

    # framed JSON-RPC on the same port, including a cancellation
    sk = socket.create_connection(("127.0.0.1", port), timeout=T)
    f = sk.makefile("rb")

    def send(msg):
        sk.sendall((json.dumps(msg) + "\n").encode() if not isinstance(msg, bytes) else msg)

    def recv_id(rid):
        while True:
            line = f.readline()
            if not line:
                return None
            msg = json.loads(line)
            if msg.get("id") == rid:
                return msg

    send({"jsonrpc": "2.0", "id": 1, "method": "initialize",
          "params": {"protocolVersion": LATEST, "capabilities": {},
                     "clientInfo": {"name": "vg", "version": "1"}}})
    ok("result" in (recv_id(1) or {}), "framed initialize")
    send({"jsonrpc": "2.0", "method": "notifications/initialized"})
    send({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
          "params": {"name": "query", "arguments": {"sql": "SELECT 1 AS one"}}})
    ok("result" in (recv_id(2) or {}), "framed tools/call")
    send({"jsonrpc": "2.0", "id": 3, "method": "tools/call",
          "params": {"name": "query", "arguments": {"sql": "SELECT pg_sleep(5)"}}})
    time.sleep(1.0)
    send({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 3}})
    send({"jsonrpc": "2.0", "id": 4, "method": "ping"})
    r4 = recv_id(4)
    ok(r4 is not None and "result" in r4, "framed: a ping after a cancelled call is answered")
    send(b'{"jsonrpc":"2.0","id":5,"method":\n')
    line = f.readline()
    ok(b"error" in line, "framed: a parse error is answered", line)
    sk.close()
    r = request(port, "GET", "/healthz", timeout=T)
    is_(r.status, 200, "still serving at the end")
finally:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        rc = proc.wait(timeout=T)
    except subprocess.TimeoutExpired:
        proc.kill()
        rc = proc.wait()

with open(log, errors="replace") as fh:
    report = fh.read()
with open(errlog, errors="replace") as fh:
    stderr = fh.read()
is_(rc, 0, "SIGTERM: valgrind reports no error and pgmcp exits 0 (99 would be an error)")
ok("definitely lost" not in report and "indirectly lost" not in report,
   "no definite or indirect leak", report[:4000])
ok("Invalid" not in report and "uninitialised" not in report and
   "Syscall param" not in report, "no invalid access, uninitialised value or bad syscall "
   "argument", report[:4000])
diag(f"valgrind log: {len(report.splitlines())} lines; pgmcp log: "
     f"{len(stderr.splitlines())} lines")
shutil.rmtree(tmp, ignore_errors=True)
done()
