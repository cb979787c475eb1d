#!/usr/bin/env python3
# t/0320-sse.t: the legacy HTTP+SSE transport (protocol 2024-11-05) on a daemon with 4 workers:
# the endpoint event, initialize / tools/call / logging / progress POSTed to /messages (many on
# new connections, landing on workers other than the stream's owner) and answered on the
# stream, heartbeat comments (http.sse_heartbeat=1s), two concurrent sessions without
# cross-talk, cancellation of a long query by notifications/cancelled, and the errors: missing
# or unknown sessionId → 400/404, a Streamable HTTP session id → 404, wrong Content-Type → 415,
# POST after the stream closed → 404.
import json
import re
import threading
import time

from tap import ok, is_, like, diag, done
from daemon_test import (Daemon, HttpConn, Mcp, SseClient, SLOW, request, active_queries,
                         wait_until, warm_workers, crash_is_failure)

crash_is_failure()
E = Daemon(workers=4, log_level="debug", sets=["http.sse_heartbeat=1s"])
P = E.port
warmed = warm_workers(E)
ok(all(w == 200 for w in warmed), "every worker has its database connection", warmed)


def sse_owner_pid(local_port):
    for line in E.log().splitlines():
        if f"SSE stream opened for 127.0.0.1:{local_port}" in line:
            return int(re.search(r"pid=(\d+)", line).group(1))
    return None


def rows(msg):
    return (((msg or {}).get("result") or {}).get("structuredContent") or {}).get("rows")


# --------------------------------------------------------------------------- stream and endpoint
s1 = SseClient(P)
is_(s1.status, 200, "GET /sse answers 200")
like(s1.header("Content-Type") or "", "text/event-stream", "the stream is text/event-stream")
is_(s1.header("Cache-Control"), "no-cache", "the stream is not cached")
ev = s1.next_event(10 * SLOW)
ok(ev is not None and ev[0] == "endpoint", "the first event is 'endpoint'", ev)
ep = s1.endpoint
ok(ep is not None and re.fullmatch(r"/messages\?sessionId=[A-Za-z0-9_-]{20,}", ep or "") is not None,
   "the endpoint is /messages?sessionId=<token>", ep)
time.sleep(0.2)
owner = sse_owner_pid(s1.conn.local_port)
ok(owner in E.worker_pids(), f"the stream is held by worker {owner}")

# ------------------------------------------------------------------------- MCP over the stream
st, m = s1.initialize()
is_(st, 202, "POST initialize to /messages answers 202")
ok(m is not None and (m.get("result") or {}).get("protocolVersion") == "2024-11-05",
   "the initialize result arrives on the stream (2024-11-05)", m)
r = s1.notify("notifications/initialized")
is_(r.status, 202, "notifications/initialized answers 202")
st, m = s1.request("tools/list")
ok(st == 202 and any(t.get("name") == "query" for t in ((m or {}).get("result") or {}).get("tools", [])),
   "tools/list is answered on the stream", m)
st, m = s1.request("tools/call", {"name": "query", "arguments": {"sql": "SELECT 'hi' AS greeting"}},
                   rid="str-id-1")
ok(st == 202 and rows(m) == [{"greeting": "hi"}] and m.get("id") == "str-id-1",
   "tools/call query is answered on the stream with its string id", m)

# Many POSTs, each on a new connection (any worker but the owner takes them).
post_ports, results = [], []
for i in range(20):
    with HttpConn(P) as c:
        post_ports.append(c.local_port)
        body = json.dumps({"jsonrpc": "2.0", "id": 100 + i, "method": "tools/call",
                           "params": {"name": "query", "arguments": {"sql": f"SELECT {i} AS i"}}})
        r = c.request("POST", ep, {"Content-Type": "application/json"}, body)
        results.append(r.status)
answers = [s1.response(100 + i, 15 * SLOW) for i in range(20)]
ok(all(st == 202 for st in results), "20 POSTs on 20 new connections each answer 202", results)
ok(all(rows(a) == [{"i": i}] for i, a in enumerate(answers)),
   "all 20 calls are answered on the stream with their own rows", [rows(a) for a in answers])

# Three POSTs held open at once land on the three workers that do not own the stream.
barrier = threading.Barrier(3, timeout=30 * SLOW)
held = [None] * 3


def hold(k):
    c = HttpConn(P)
    try:
        body = json.dumps({"jsonrpc": "2.0", "id": 200 + k, "method": "tools/call",
                           "params": {"name": "query", "arguments": {"sql": f"SELECT {k} AS k"}}})
        r = c.request("POST", ep, {"Content-Type": "application/json"}, body)
        held[k] = (c.local_port, r.status)
        barrier.wait()
    except Exception as e:  # noqa: BLE001
        held[k] = (c.local_port, repr(e))
        barrier.abort()
    finally:
        c.close()


threads = [threading.Thread(target=hold, args=(k,)) for k in range(3)]
for t in threads:
    t.start()
for t in threads:
    t.join(60 * SLOW)
answers = [s1.response(200 + k, 15 * SLOW) for k in range(3)]
ok(all(h and h[1] == 202 for h in held) and all(rows(a) == [{"k": k}] for k, a in enumerate(answers)),
   "3 concurrent POSTs are all answered on the stream", [held, answers])
time.sleep(0.3)
post_ports += [h[0] for h in held if h]
pids = E.pids_for_peer_ports(set(post_ports))
post_workers = set(pids.values())
diag(f"stream owner {owner}; POSTs handled by workers {sorted(post_workers)}")
ok(len(post_workers) >= 2, "the POSTs were handled by at least 2 different workers", pids)
ok(owner not in post_workers and len(pids) == len(post_ports),
   "every POST was handled by a worker other than the stream's owner", pids)

# ------------------------------------------------------------------------ logging and progress
st, m = s1.request("logging/setLevel", {"level": "info"})
ok(st == 202 and (m or {}).get("result") == {}, "logging/setLevel over SSE", m)
s1.backlog.clear()
st, m = s1.request("tools/call", {"name": "query", "arguments": {"sql": "SELECT 1 AS one"}},
                   rid="logged")
notes = [x for x in s1.backlog if isinstance(x, dict) and x.get("method") == "notifications/message"]
ok(rows(m) == [{"one": 1}] and len(notes) >= 1,
   "after setLevel info, notifications/message events precede the result on the stream", s1.backlog)
s1.request("logging/setLevel", {"level": "error"})
s1.backlog.clear()
st, m = s1.request("tools/call", {"name": "query", "arguments": {"sql": "SELECT 2 AS two"},
                                  "_meta": {"progressToken": "sse-prog"}}, rid="progress")
prog = [x for x in s1.backlog if isinstance(x, dict) and x.get("method") == "notifications/progress"]
ok(rows(m) == [{"two": 2}] and prog and
   all((x.get("params") or {}).get("progressToken") == "sse-prog" for x in prog),
   "progress notifications for a progressToken arrive on the stream before the result", s1.backlog)
s1.backlog.clear()

# --------------------------------------------------------------------------------- heartbeats
before = len(s1.comments)
time.sleep(2.6)
beats = s1.comments[before:]
ok(len(beats) >= 2, f"heartbeat comments every http.sse_heartbeat = 1s ({len(beats)} in 2.6 s)", beats)
ok(beats and all(b[1] == "ping" for b in beats), "heartbeats are ': ping' comment lines", beats)
st, m = s1.request("ping")
ok(st == 202 and (m or {}).get("result") == {}, "the stream still works after idling", m)

# ------------------------------------------------------------------------------- cancellation
r, rid = s1.send("tools/call", {"name": "query", "arguments": {"sql": "SELECT pg_sleep(30.3)"}},
                 rid="sleepy")
is_(r.status, 202, "a long query is POSTed")
running = wait_until(lambda: active_queries("pg_sleep(30.3)") == 1, 15 * SLOW)
ok(running, "the long query runs in PostgreSQL")
r = s1.notify("notifications/cancelled", {"requestId": "sleepy", "reason": "test"})
is_(r.status, 202, "notifications/cancelled POSTed to /messages answers 202")
t0 = time.time()
gone = wait_until(lambda: active_queries("pg_sleep(30.3)") == 0, 5 * SLOW)
ok(running and gone, f"the cancelled statement stops (after {time.time() - t0:.2f} s)")
st, m = s1.request("ping", rid="after-cancel")
ok(st == 202 and (m or {}).get("result") == {}, "the session answers after the cancellation", m)
late = [x for x in s1.backlog if isinstance(x, dict) and x.get("id") == "sleepy"]
ok(not any("result" in x for x in late), "the cancelled request gets no result", late)

# --------------------------------------------------------------------- two concurrent sessions
s2 = SseClient(P)
ep2 = s2.wait_endpoint(10 * SLOW)
ok(ep2 is not None and ep2 != ep, "a second stream gets its own endpoint", [ep, ep2])
time.sleep(0.2)
owner2 = sse_owner_pid(s2.conn.local_port)
ok(owner2 is not None and owner2 != owner, f"the second stream is held by another worker ({owner2})")
st, m = s2.initialize()
ok(st == 202 and (m or {}).get("result"), "the second session initializes", m)
errors = []


def drive(client, prefix, n):
    for i in range(n):
        st, m = client.request("tools/call", {"name": "query",
                                              "arguments": {"sql": f"SELECT '{prefix}{i}' AS tag"}},
                               rid=f"{prefix}{i}")
        if st != 202 or rows(m) != [{"tag": f"{prefix}{i}"}]:
            errors.append((prefix, i, st, m))


t1 = threading.Thread(target=drive, args=(s1, "a", 10))
t2 = threading.Thread(target=drive, args=(s2, "b", 10))
t1.start()
t2.start()
t1.join(120)
t2.join(120)
is_(errors, [], "two sessions calling at the same time each get their own 10 answers")
cross1 = [x for x in s1.backlog if isinstance(x, dict) and str(x.get("id", "")).startswith("b")]
cross2 = [x for x in s2.backlog if isinstance(x, dict) and str(x.get("id", "")).startswith("a")]
ok(not cross1 and not cross2, "no message crosses from one stream to the other", [cross1, cross2])

# ------------------------------------------------------------------------------------ errors
sid1 = ep.split("sessionId=", 1)[1]
r = request(P, "POST", "/messages", headers={"Content-Type": "application/json"},
            body=b'{"jsonrpc":"2.0","id":1,"method":"ping"}')
is_(r.status, 400, "POST /messages without sessionId → 400")
r = request(P, "POST", "/messages?sessionId=garbage-not-a-token",
            headers={"Content-Type": "application/json"}, body=b'{"jsonrpc":"2.0","id":1,"method":"ping"}')
is_(r.status, 404, "an unknown sessionId → 404")
forged = sid1[:-2] + ("AA" if sid1[-2:] != "AA" else "BB")
r = request(P, "POST", f"/messages?sessionId={forged}",
            headers={"Content-Type": "application/json"}, body=b'{"jsonrpc":"2.0","id":1,"method":"ping"}')
is_(r.status, 404, "a forged sessionId → 404")
mc = Mcp(P)
streamable_sid = mc.initialize()
r = request(P, "POST", f"/messages?sessionId={streamable_sid}",
            headers={"Content-Type": "application/json"}, body=b'{"jsonrpc":"2.0","id":1,"method":"ping"}')
is_(r.status, 404, "a Streamable HTTP session id used as an SSE sessionId → 404")
r = mc.rpc("ping", session=sid1)
is_(r.status, 404, "an SSE sessionId used as Mcp-Session-Id → 404")
r = s1.post(None, raw=b'{"jsonrpc":"2.0","id":1,"method":"ping"}', content_type="text/plain")
is_(r.status, 415, "POST /messages with Content-Type text/plain → 415")
r = s1.post(None, raw=b'{"jsonrpc":"2.0","id":1,"method":"ping"}', content_type=None)
is_(r.status, 415, "POST /messages without Content-Type → 415")
r = request(P, "GET", ep)
is_(r.status, 405, "GET on the messages endpoint → 405")
r = s1.post(None, raw=b'{"jsonrpc":"2.0","id":"bad",')
ok(r.status in (202, 400), "a truncated JSON body is refused or answered on the stream", r)
if r.status == 202:
    m = s1.next_message(5 * SLOW)
    ok(m is not None and (m.get("error") or {}).get("code") == -32700,
       "the parse error arrives on the stream", m)
st, m = s1.request("ping", rid="still")
ok(st == 202 and (m or {}).get("result") == {}, "the first stream is unaffected", m)

# ------------------------------------------------------------------ POST after the stream closed
ep2_saved = s2.endpoint
s2.close()
time.sleep(0.5 * SLOW)
r = s2.post({"jsonrpc": "2.0", "id": 1, "method": "ping"}, endpoint=ep2_saved)
is_(r.status, 404, "a POST after its stream closed → 404")
r = s1.post({"jsonrpc": "2.0", "id": "alive", "method": "ping"})
m = s1.response("alive", 10 * SLOW)
ok(r.status == 202 and (m or {}).get("result") == {}, "the other stream still works", m)
s1.close()
time.sleep(0.5 * SLOW)
r = s1.post({"jsonrpc": "2.0", "id": 2, "method": "ping"})
is_(r.status, 404, "a POST after the first stream closed → 404 too")

# -------------------------------------------------------------- metrics and an orderly shutdown
r = request(P, "GET", "/metrics")
like(r.text(), 'pgmcp_requests_total{transport="sse",status="2xx"}', "/metrics counts SSE requests")
rc = E.stop()
is_(rc, 0, "the daemon exits 0 on SIGTERM")
is_(E.leftover_workers(), [], "no worker is left behind")
is_(E.stdout(), "", "nothing was written to stdout")
bad = [l for l in E.log().splitlines() if "level=error" in l or "Sanitizer" in l]
is_(bad, [], "no error-level log line")
done()
