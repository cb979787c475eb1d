#!/usr/bin/env python3
# t/0430-soak.t: a bounded soak of the daemon (SOAK_SECONDS, default 20; bench/soak runs it for
# 600). 16 clients over every transport: Streamable HTTP stateful (initialize, session,
# keep-alive) and stateless (2026-07-28, a connection per request), legacy SSE, framed JSON-RPC
# over TCP, and pgmcp --stdio subprocesses. They mix every read-only tool with errors (bad SQL,
# refused writes, unknown tools), cancellations (notifications/cancelled, fenced by a ping) and
# disconnects (closing the connection or the SSE stream mid-request, EOF on stdio).
# Afterwards: every request got exactly one response (cancelled ones at most one), each
# worker's RSS is within max(10%, 2 MiB) of its value after warm-up (not asserted under ASan,
# whose allocator quarantine grows RSS by design), PostgreSQL shows exactly one idle backend
# per worker and no stray one, no worker is stuck (all idle in /metrics, none restarted) and
# /readyz is 200. Every figure is printed with diag().
import json
import os
import random
import socket
import threading
import time

from tap import ok, is_, skip, diag, done
from pgmcp_test import Server, Timeout, psql, LATEST
from daemon_test import (Daemon, HttpConn, Reply, SseClient, ACCEPT_BOTH, SLOW, SANITIZED,
                         modern_meta, modern_headers, request, parse_metrics,
                         wait_until, build_request, crash_is_failure)

crash_is_failure()

SOAK = float(os.environ.get("SOAK_SECONDS", "20"))
WARMUP = float(os.environ.get("SOAK_WARMUP", str(max(4.0, min(30.0, SOAK / 4)))))
WORKERS = int(os.environ.get("SOAK_WORKERS", "6"))
APP = "t0430_soak"
STDIO_APP = "t0430_stdio"
RTIMEOUT = 30 * SLOW            # a request without a response by then counts as missing
MIX = {"stateful": 3, "stateless": 4, "sse": 2, "framed": 4, "stdio": 3}   # 16 clients

# (tool, arguments, expected outcome): ok (a result), tool_error (isError), rpc_error, any
OPS = [
    ("query", None, "value"),
    ("query", {"sql": "SELECT g, md5(g::text) FROM generate_series(1, 1500) g"}, "ok"),
    ("query", {"sql": "SELECT * FROM sales.customers WHERE country = $1", "params": ["DE"]},
     "ok"),
    ("list_schemas", {}, "ok"),
    ("list_tables", {"schema": "sales"}, "ok"),
    ("describe_table", {"table": "sales.orders"}, "ok"),
    ("explain", {"sql": "SELECT * FROM sales.orders WHERE id = $1", "params": [1]}, "ok"),
    ("list_extensions", {}, "ok"),
    ("database_info", {}, "ok"),
    ("health", {}, "ok"),
    ("top_queries", {"limit": 5}, "any"),
    ("active_queries", {}, "ok"),
    ("query", {"sql": "SELEKT 1"}, "tool_error"),
    ("query", {"sql": "DELETE FROM sales.orders"}, "tool_error"),
    ("query", {"sql": "SELECT 1; DROP TABLE sales.orders"}, "tool_error"),
    ("no_such_tool", {}, "rpc_error"),
]
SPECIAL = [("cancel", 0.04), ("disconnect", 0.04)]
SLEEP_SQL = "SELECT pg_sleep(1.5) AS slept"


class Stats:
    KEYS = ("sent", "answered", "duplicates", "missing", "wrong", "unexpected", "dropped",
            "keepalive_retries", "cancel_sent", "cancel_answered", "cancel_silent",
            "abandoned", "tool_errors", "rpc_errors", "shed", "stdio_restarts", "reconnects")

    def __init__(self):
        self.lock = threading.Lock()
        self.by = {}
        self.problems = []

    def add(self, transport, key, n=1):
        with self.lock:
            d = self.by.setdefault(transport, {k: 0 for k in self.KEYS})
            d[key] += n

    def problem(self, transport, text):
        with self.lock:
            if len(self.problems) < 40:
                self.problems.append(f"{transport}: {text[:400]}")

    def total(self, key):
        with self.lock:
            return sum(d[key] for d in self.by.values())


stats = Stats()
stop = threading.Event()
phase = {"warm": True}


def judge(transport, expect, msg, value=None):
    """Checks one response message against what the op expects; counts errors."""
    if not isinstance(msg, dict):
        stats.add(transport, "wrong")
        stats.problem(transport, f"not a message: {msg!r}")
        return
    if "error" in msg:
        stats.add(transport, "rpc_errors")
        good = expect in ("rpc_error", "any")
    else:
        res = msg.get("result") or {}
        if res.get("isError"):
            stats.add(transport, "tool_errors")
            good = expect in ("tool_error", "any")
        elif expect == "value":
            good = (res.get("structuredContent") or {}).get("rows") == [{"v": value}]
        else:
            good = expect in ("ok", "any")
    if not good:
        stats.add(transport, "wrong")
        stats.problem(transport, f"expected {expect}: {json.dumps(msg)[:300]}")


def pick(rng):
    r = rng.random()
    for name, p in SPECIAL:
        if r < p:
            return name, None, None
        r -= p
    tool, args, expect = rng.choice(OPS)
    return tool, args, expect


def make_args(rng, tool, args):
    if args is None:
        v = rng.randint(1, 10 ** 9)
        return {"sql": "SELECT $1::int AS v", "params": [v]}, v
    return args, None


# ------------------------------------------------------------------ HTTP (Streamable) clients

def post(port, body, headers, conn=None, timeout=RTIMEOUT):
    h = {"Content-Type": "application/json", "Accept": ACCEPT_BOTH}
    h.update(headers)
    data = json.dumps(body).encode()
    if conn is not None:
        return Reply.of(conn.request("POST", "/mcp", h, data, timeout=timeout))
    with HttpConn(port, timeout=timeout) as c:
        return Reply.of(c.request("POST", "/mcp", h, data, timeout=timeout))


def http_exchange(name, port, body, headers, state, expect, value):
    """One request/response on the client's keep-alive connection (state['conn']) or a fresh
    one; checks that exactly one response message carries the id."""
    rid = body["id"]
    stats.add(name, "sent")
    for attempt in range(2):
        conn = state.get("conn")
        reused = conn is not None and state.get("used", 0) > 0
        try:
            if conn is None:
                r = post(port, body, headers)
            else:
                state["used"] = state.get("used", 0) + 1
                r = post(port, body, headers, conn=conn)
                if (r.header("Connection") or "").lower() == "close":
                    conn.close()
                    state["conn"] = None
        except socket.timeout:
            stats.add(name, "missing")
            stats.problem(name, f"id {rid}: no response within {RTIMEOUT:.0f} s")
            drop_conn(state)
            return
        except (ConnectionError, OSError) as e:
            drop_conn(state)
            if reused and attempt == 0 and isinstance(conn, HttpConn) and not conn.buf:
                # the server closed an idle keep-alive connection as the request went out
                stats.add(name, "keepalive_retries")
                if state.get("keepalive"):
                    state["conn"] = HttpConn(port, timeout=RTIMEOUT)
                    state["used"] = 0
                continue
            stats.add(name, "dropped")
            stats.problem(name, f"id {rid}: {e!r}")
            return
        break
    if r.status == 503:
        stats.add(name, "shed")
        stats.add(name, "answered")
        return
    ids = [m.get("id") for m in r.messages if isinstance(m, dict) and
           ("result" in m or "error" in m)]
    if ids.count(rid) == 1 and len(ids) == 1:
        stats.add(name, "answered")
        judge(name, expect, r.message, value)
    elif ids.count(rid) > 1:
        stats.add(name, "duplicates")
        stats.problem(name, f"id {rid}: {len(ids)} responses")
    else:
        stats.add(name, "wrong" if ids else "missing")
        stats.problem(name, f"id {rid}: HTTP {r.status} {r.body[:300]!r}")


def drop_conn(state):
    c = state.get("conn")
    if c is not None:
        c.close()
    state["conn"] = None


def disconnect_http(port, body, headers):
    """Sends a slow call and hangs up before the answer."""
    h = {"Content-Type": "application/json", "Accept": ACCEPT_BOTH}
    h.update(headers)
    try:
        c = HttpConn(port, timeout=10)
        c.send(build_request("POST", "/mcp", h, json.dumps(body).encode(), port=port))
        time.sleep(0.2)
        c.close()
    except OSError:
        pass


def stateless_client(cid, port):
    name = "stateless"
    rng = random.Random(cid)
    k = 0
    while not stop.is_set():
        k += 1
        op, args, expect = pick(rng)
        rid = cid * 10000000 + k
        if op in ("cancel", "disconnect"):
            # Stateless requests have no session to cancel in: closing is the cancellation.
            body = {"jsonrpc": "2.0", "id": rid, "method": "tools/call",
                    "params": {"name": "query", "arguments": {"sql": SLEEP_SQL},
                               "_meta": modern_meta()}}
            disconnect_http(port, body, modern_headers("tools/call", "query"))
            stats.add(name, "abandoned")
            continue
        args, value = make_args(rng, op, args)
        body = {"jsonrpc": "2.0", "id": rid, "method": "tools/call",
                "params": {"name": op, "arguments": args, "_meta": modern_meta()}}
        http_exchange(name, port, body, modern_headers("tools/call", op), {}, expect, value)


def stateful_client(cid, port):
    name = "stateful"
    rng = random.Random(cid)
    state = {"conn": None, "keepalive": True}
    sid = None
    k = 0
    while not stop.is_set():
        if sid is None or rng.random() < 0.01:
            drop_conn(state)
            r = post(port, {"jsonrpc": "2.0", "id": 0, "method": "initialize",
                            "params": {"protocolVersion": LATEST, "capabilities": {},
                                       "clientInfo": {"name": "soak", "version": "1"}}}, {})
            sid = r.header("Mcp-Session-Id")
            if r.status != 200 or not sid:
                stats.add(name, "wrong")
                stats.problem(name, f"initialize: {r!r}")
                time.sleep(0.5)
                continue
            hdr = {"Mcp-Session-Id": sid, "MCP-Protocol-Version": LATEST}
            post(port, {"jsonrpc": "2.0", "method": "notifications/initialized"}, hdr)
            state["conn"] = HttpConn(port, timeout=RTIMEOUT)
            state["used"] = 0
            stats.add(name, "reconnects")
        k += 1
        rid = f"s{cid}-{k}"
        op, args, expect = pick(rng)
        if op == "disconnect":
            body = {"jsonrpc": "2.0", "id": rid, "method": "tools/call",
                    "params": {"name": "query", "arguments": {"sql": SLEEP_SQL}}}
            disconnect_http(port, body, hdr)
            stats.add(name, "abandoned")
            continue
        if op == "cancel":
            stateful_cancel(name, port, hdr, rid)
            continue
        args, value = make_args(rng, op, args)
        body = {"jsonrpc": "2.0", "id": rid, "method": "tools/call",
                "params": {"name": op, "arguments": args}}
        if state["conn"] is None:          # the server ended the keep-alive connection
            try:
                state["conn"] = HttpConn(port, timeout=RTIMEOUT)
                state["used"] = 0
            except OSError:
                pass
        http_exchange(name, port, body, hdr, state, expect, value)
    drop_conn(state)


def stateful_cancel(name, port, hdr, rid):
    """A slow call on one connection, notifications/cancelled for it on another: the call's
    POST gets 202 without a body (cancelled, no response) or its response (too late to
    cancel), never both and never nothing."""
    h = {"Content-Type": "application/json", "Accept": ACCEPT_BOTH}
    h.update(hdr)
    body = {"jsonrpc": "2.0", "id": rid, "method": "tools/call",
            "params": {"name": "query", "arguments": {"sql": SLEEP_SQL}}}
    stats.add(name, "cancel_sent")
    try:
        c = HttpConn(port, timeout=RTIMEOUT)
    except OSError as e:
        stats.add(name, "dropped")
        stats.problem(name, f"cancel connect: {e!r}")
        return
    try:
        c.send(build_request("POST", "/mcp", h, json.dumps(body).encode(), port=port))
        time.sleep(0.3)
        post(port, {"jsonrpc": "2.0", "method": "notifications/cancelled",
                    "params": {"requestId": rid, "reason": "soak"}}, hdr)
        r = Reply.of(c.read_response(timeout=RTIMEOUT, method="POST"))
        ids = [m.get("id") for m in r.messages if isinstance(m, dict)]
        if r.status == 202 and not r.body:
            stats.add(name, "cancel_silent")
        elif ids == [rid]:
            stats.add(name, "cancel_answered")
        else:
            stats.add(name, "wrong")
            stats.problem(name, f"cancelled {rid}: {r!r}")
    except socket.timeout:
        stats.add(name, "missing")
        stats.problem(name, f"cancelled {rid}: no HTTP response")
    except (ConnectionError, OSError) as e:
        stats.add(name, "dropped")
        stats.problem(name, f"cancelled {rid}: {e!r}")
    finally:
        c.close()


# --------------------------------------------------------- line-oriented (framed, stdio, SSE)

class LineSession:
    """Request/response accounting for a transport that multiplexes messages on one stream:
    every message carrying an id is counted per id, so a duplicate or a late answer shows."""

    def __init__(self, name):
        self.name = name
        self.seen = {}          # id -> responses seen
        self.pending = set()    # ids sent and expected
        self.cancelled = set()  # ids cancelled (0 or 1 response allowed)

    def note(self, msg):
        if not isinstance(msg, dict) or "id" not in msg or "method" in msg:
            return None
        rid = msg["id"]
        if not isinstance(rid, (str, int)):
            stats.add(self.name, "unexpected")
            stats.problem(self.name, f"response with id {rid!r}: {json.dumps(msg)[:300]}")
            return None
        self.seen[rid] = self.seen.get(rid, 0) + 1
        if self.seen[rid] > 1:
            stats.add(self.name, "duplicates")
            stats.problem(self.name, f"id {rid}: {self.seen[rid]} responses")
        elif rid not in self.pending and rid not in self.cancelled:
            stats.add(self.name, "unexpected")
            stats.problem(self.name, f"unexpected id {rid}: {json.dumps(msg)[:300]}")
        return rid


class FramedConn:
    """Newline-framed JSON-RPC over TCP."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=RTIMEOUT)
        self.f = self.sock.makefile("rb")

    def send(self, msg):
        self.sock.sendall((json.dumps(msg) + "\n").encode())

    def recv(self, timeout):
        self.sock.settimeout(timeout)
        line = self.f.readline()
        if not line:
            raise EOFError("connection closed")
        return json.loads(line)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


class StdioConn:
    def __init__(self):
        self.server = Server("--set", f"database.application_name={STDIO_APP}")

    def send(self, msg):
        self.server.send(msg)

    def recv(self, timeout):
        try:
            return self.server.recv(timeout=timeout)
        except Timeout:
            raise socket.timeout("no message")

    def close(self):
        rc = self.server.close(timeout=30 * SLOW)
        return rc


class SseConn:
    def __init__(self, port):
        self.c = SseClient(port, timeout=RTIMEOUT)
        if self.c.status != 200 or not self.c.wait_endpoint():
            raise ConnectionError(f"SSE stream: {self.c.status}")

    def send(self, msg):
        r = self.c.post(msg)
        if r.status != 202:
            raise ConnectionError(f"POST /messages: HTTP {r.status} {r.body[:200]!r}")

    def recv(self, timeout):
        m = self.c.next_message(timeout)
        if m is None:
            if self.c.closed.is_set():
                raise EOFError("stream closed")
            raise socket.timeout("no message")
        return m

    def close(self):
        self.c.close()


def line_client(name, cid, opener):
    rng = random.Random(cid)
    sess = conn = None
    k = 0
    burst = 0

    def wait_for(rid, timeout=RTIMEOUT):
        deadline = time.time() + timeout
        while time.time() < deadline:
            m = conn.recv(max(0.05, deadline - time.time()))
            if sess.note(m) == rid:
                return m
        raise socket.timeout(f"no response to {rid}")

    def request(method, params, rid):
        sess.pending.add(rid)
        conn.send({"jsonrpc": "2.0", "id": rid, "method": method, "params": params})
        return wait_for(rid)

    while not stop.is_set():
        if conn is None:
            try:
                conn = opener()
            except Exception as e:  # noqa: BLE001
                stats.add(name, "dropped")
                stats.problem(name, f"open: {e!r}")
                time.sleep(0.5)
                continue
            sess = LineSession(name)
            stats.add(name, "reconnects")
            # framed over TCP pins its worker: keep each connection to a burst of requests
            burst = rng.randint(5, 40) if name != "stdio" else 10 ** 9
            try:
                r = request("initialize", {"protocolVersion": LATEST, "capabilities": {},
                                           "clientInfo": {"name": "soak", "version": "1"}},
                            f"init-{cid}-{k}")
                conn.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
                if "result" not in r:
                    raise ConnectionError(f"initialize: {r}")
            except Exception as e:  # noqa: BLE001
                stats.add(name, "dropped")
                stats.problem(name, f"initialize: {e!r}")
                conn.close()
                conn = None
                continue
        k += 1
        burst -= 1
        rid = f"{name[0]}{cid}-{k}" if k % 2 else cid * 10000000 + k
        op, args, expect = pick(rng)
        try:
            if op == "cancel":
                stats.add(name, "cancel_sent")
                sess.cancelled.add(rid)
                conn.send({"jsonrpc": "2.0", "id": rid, "method": "tools/call",
                           "params": {"name": "query", "arguments": {"sql": SLEEP_SQL}}})
                time.sleep(0.3)
                conn.send({"jsonrpc": "2.0", "method": "notifications/cancelled",
                           "params": {"requestId": rid, "reason": "soak"}})
                fence = f"fence-{cid}-{k}"
                stats.add(name, "sent")
                request("ping", {}, fence)
                stats.add(name, "answered")
                stats.add(name, "cancel_answered" if sess.seen.get(rid) else "cancel_silent")
                continue
            if op == "disconnect":
                if name == "stdio":
                    # EOF mid-request: the answer still comes, then the process exits 0.
                    stats.add(name, "sent")
                    sess.pending.add(rid)
                    conn.send({"jsonrpc": "2.0", "id": rid, "method": "tools/call",
                               "params": {"name": "query", "arguments": {"sql": SLEEP_SQL}}})
                    conn.server.proc.stdin.close()
                    m = wait_for(rid)
                    stats.add(name, "answered")
                    judge(name, "ok", m)
                    rc = conn.server.close(timeout=30 * SLOW)
                    if rc != 0:
                        stats.add(name, "wrong")
                        stats.problem(name, f"stdio exit status {rc}: "
                                      f"{conn.server.stderr()[-500:]}")
                    stats.add(name, "stdio_restarts")
                else:
                    conn.send({"jsonrpc": "2.0", "id": rid, "method": "tools/call",
                               "params": {"name": "query", "arguments": {"sql": SLEEP_SQL}}})
                    time.sleep(0.2)
                    stats.add(name, "abandoned")
                    conn.close()
                conn = None
                continue
            args, value = make_args(rng, op, args)
            stats.add(name, "sent")
            m = request("tools/call", {"name": op, "arguments": args}, rid)
            stats.add(name, "answered")
            judge(name, expect, m, value)
        except socket.timeout as e:
            stats.add(name, "missing")
            stats.problem(name, f"id {rid}: {e}")
            conn.close()
            conn = None
            continue
        except (EOFError, ConnectionError, OSError, ValueError) as e:
            stats.add(name, "dropped")
            stats.problem(name, f"id {rid}: {e!r}")
            conn.close()
            conn = None
            continue
        if burst <= 0 and conn is not None:
            # a quiet moment: anything still arriving would be a duplicate or late answer
            try:
                extra = conn.recv(0.05)
                sess.note(extra)
            except (socket.timeout, EOFError, OSError, ValueError):
                pass
            conn.close()
            conn = None
    if conn is not None:
        try:
            extra = conn.recv(0.2)
            sess.note(extra)
        except (socket.timeout, EOFError, OSError, ValueError):
            pass
        conn.close()


# ------------------------------------------------------------------------------- figures

def rss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def metrics(port):
    r = request(port, "GET", "/metrics", timeout=10)
    return parse_metrics(r.text()) if r.status == 200 else {}


def app_backends(app):
    out = psql("SELECT coalesce(state, '-') FROM pg_stat_activity WHERE backend_type = "
               f"'client backend' AND application_name = '{app}' ORDER BY 1")
    return out.split("\n") if out else []


# ------------------------------------------------------------------------------- the soak

D = Daemon(workers=WORKERS, sets=[f"database.application_name={APP}",
                                  "max_connections_per_worker=0", "http.queue_timeout=0"])
P = D.port
wait_until(lambda: len(app_backends(APP)) == WORKERS, 20 * SLOW, interval=0.2)
workers0 = sorted(D.worker_pids())
is_(len(workers0), WORKERS, f"{WORKERS} workers")
diag(f"soak: {SOAK:.0f} s after a {WARMUP:.0f} s warm-up, {sum(MIX.values())} clients "
     f"{MIX}, {WORKERS} workers{' (ASan)' if SANITIZED else ''}")

threads = []
cid = 0
for kind, n in MIX.items():
    for _ in range(n):
        cid += 1
        if kind == "stateless":
            t = threading.Thread(target=stateless_client, args=(cid, P), daemon=True)
        elif kind == "stateful":
            t = threading.Thread(target=stateful_client, args=(cid, P), daemon=True)
        elif kind == "sse":
            t = threading.Thread(target=line_client, args=("sse", cid, lambda: SseConn(P)),
                                 daemon=True)
        elif kind == "framed":
            t = threading.Thread(target=line_client, args=("framed", cid,
                                                           lambda: FramedConn(P)), daemon=True)
        else:
            t = threading.Thread(target=line_client, args=("stdio", cid, StdioConn),
                                 daemon=True)
        threads.append(t)

t_start = time.time()
for t in threads:
    t.start()
time.sleep(WARMUP)
warm_sent = stats.total("sent")
rss0 = {p: rss_kib(p) for p in workers0}
diag("RSS after warm-up (KiB): " + ", ".join(f"{p}: {v}" for p, v in rss0.items()))
t_soak = time.time()
next_report = t_soak + 60
while time.time() < t_soak + SOAK:
    time.sleep(min(1.0, max(0.05, t_soak + SOAK - time.time())))
    if time.time() >= next_report:
        next_report += 60
        diag(f"  {time.time() - t_soak:.0f} s: sent {stats.total('sent')}, answered "
             f"{stats.total('answered')}, RSS " +
             ", ".join(f"{rss_kib(p)}" for p in workers0))
stop.set()
for t in threads:
    t.join(RTIMEOUT + 30 * SLOW)
stuck_clients = [t.name for t in threads if t.is_alive()]
elapsed = time.time() - t_start
time.sleep(1.0)

# ---------------------------------------------------------------------------------- checks
sent, answered = stats.total("sent"), stats.total("answered")
diag(f"requests sent {sent} in {elapsed:.0f} s ({sent / elapsed:.0f}/s), answered exactly once "
     f"{answered}; {warm_sent} of them during warm-up")
for transport, d in sorted(stats.by.items()):
    diag(f"  {transport:9} " + ", ".join(f"{k} {v}" for k, v in d.items() if v))
if stats.problems:
    diag("problems:\n  " + "\n  ".join(stats.problems[:20]))
is_(stuck_clients, [], "every client thread finished (none waits forever)")
ok(sent > 100 * min(1.0, SOAK / 20), "the soak sent a useful number of requests", sent)
is_(answered, sent, "every request got exactly one response (sent == answered)")
for key in ("duplicates", "missing", "unexpected", "dropped", "wrong"):
    is_(stats.total(key), 0, f"no {key} responses")
ok(all(stats.by.get(t, {}).get("sent", 0) > 0 for t in MIX), "every transport carried requests",
   {t: stats.by.get(t, {}).get("sent", 0) for t in MIX})
c_sent = stats.total("cancel_sent")
c_done = stats.total("cancel_answered") + stats.total("cancel_silent")
ok(c_sent > 0 and c_done == c_sent, "every cancelled request got at most one response "
   f"({stats.total('cancel_silent')} silent, {stats.total('cancel_answered')} answered "
   f"too late to cancel, of {c_sent})", (c_sent, c_done))
ok(stats.total("abandoned") > 0, f"clients hung up mid-request "
   f"{stats.total('abandoned')} times")
ok(stats.total("tool_errors") > 0 and stats.total("rpc_errors") > 0,
   "errors were exercised (tool errors and JSON-RPC errors)")

workers1 = sorted(D.worker_pids())
is_(workers1, workers0, "no worker was replaced during the soak (no crash, no recycling)")
m = metrics(P)
is_(m.get("pgmcp_worker_crashes_total", 0), 0.0, "/metrics: no worker crash")
idle_ok = wait_until(lambda: metrics(P).get('pgmcp_workers{state="idle"}', 0) >= WORKERS - 1,
                     15 * SLOW, interval=0.3)
m = metrics(P)
ok(idle_ok, "no worker is stuck: all idle in /metrics (but the one answering)",
   {k: v for k, v in m.items() if k.startswith("pgmcp_workers{")})
diag("/metrics: " + ", ".join(f"{k} {v:.0f}" for k, v in sorted(m.items())
                               if k.startswith(("pgmcp_workers{", "pgmcp_connections_total",
                                                "pgmcp_cancellations_total",
                                                "pgmcp_db_reconnects_total",
                                                "pgmcp_worker_restarts_total"))))
is_(request(P, "GET", "/readyz").status, 200, "/readyz is 200")
states = []
wait_until(lambda: app_backends(APP) == ["idle"] * WORKERS, 10 * SLOW, interval=0.3)
states = app_backends(APP)
diag(f"PostgreSQL backends of the daemon: {len(states)} ({states}); of stdio clients: "
     f"{len(app_backends(STDIO_APP))}")
is_(states, ["idle"] * WORKERS, "PostgreSQL: exactly one backend per worker, all idle")
ok(wait_until(lambda: app_backends(STDIO_APP) == [], 10 * SLOW, interval=0.3),
   "PostgreSQL: no backend of the stdio sessions remains", app_backends(STDIO_APP))
stray = psql("SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' AND "
             "pid <> pg_backend_pid() AND datname = current_database() AND "
             f"application_name NOT IN ('{APP}') AND application_name LIKE 't0430%'")
is_(stray, "0", "PostgreSQL: no stray backend")

rss1 = {p: rss_kib(p) for p in workers0}
lines = []
bad = []
for p in workers0:
    a, b = rss0.get(p), rss1.get(p)
    if a is None or b is None:
        bad.append(p)
        continue
    allowed = max(a * 0.10, 2048)
    lines.append(f"worker {p}: {a} KiB -> {b} KiB ({b - a:+d} KiB, {100.0 * (b - a) / a:+.1f}%, "
                 f"allowed +{allowed:.0f})")
    if b - a > allowed:
        bad.append(p)
diag("RSS per worker, after warm-up -> after the soak:\n  " + "\n  ".join(lines))
if SANITIZED:
    skip("each worker's RSS stays within max(10%, 2 MiB) of its value after warm-up",
         "ASan's allocator quarantine grows RSS by design; figures printed above")
else:
    is_(bad, [], "each worker's RSS stays within max(10%, 2 MiB) of its value after warm-up")

rc = D.stop()
is_(rc, 0, "the daemon exits 0 on SIGTERM")
is_(D.leftover_workers(), [], "no worker outlives it")
logs = [line for line in D.log().splitlines() if "Sanitizer" in line or "runtime error" in line
        or "level=error" in line]
is_(logs[:10], [], "the daemon logged no errors")
done()
