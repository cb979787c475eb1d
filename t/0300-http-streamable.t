#!/usr/bin/env python3
# t/0300-http-streamable.t: the daemon's Streamable HTTP transport at /mcp. Stateful sessions
# (initialize → Mcp-Session-Id; every method with the session; logging/setLevel then calls
# streamed as text/event-stream with notifications/message; progress tokens; 202 for
# notifications; missing/forged/garbled/expired/deleted sessions; 405/415/406/400 status codes;
# batches by protocol version), the stateless 2026-07-28 form (_meta plus MCP-Protocol-Version,
# Mcp-Method and Mcp-Name headers, -32020/-32022/-32601 with 400/404, server/discover probe),
# sessions served by any of 4 workers (new connection per request), keep-alive and
# http.max_requests_per_connection, cancellation by closing the connection and by
# notifications/cancelled from another connection, /healthz, /readyz (503 when PostgreSQL is
# down), /metrics, and the official TypeScript SDK client (4 concurrent Streamable HTTP clients
# and 2 SSE clients, t/interop/http-client.mjs) against 4 workers.
import base64
import json
import os
import re
import threading
import time

from tap import ok, is_, diag, done
from pgmcp_test import Cluster, LATEST, MODERN
from interop import install_sdk, run_client
from daemon_test import (Daemon, HttpConn, Mcp, ACCEPT_BOTH, SLOW, build_request, request,
                         modern_meta, modern_headers, active_queries, wait_until,
                         crash_is_failure)

crash_is_failure()

daemons = []


def start(*args, **kw):
    d = Daemon(*args, **kw)
    daemons.append(d)
    return d


def call_ok(reply):
    r = reply.result
    return reply.status == 200 and isinstance(r, dict) and r.get("isError") is False



# ====================================================================== main daemon: 4 workers
D = start(workers=4, log_level="debug")
diag(f"daemon on port {D.port}, master {D.pid}, workers {D.worker_pids()}")

r = D.request("GET", "/healthz")
ok(r.status == 200 and r.text() == "ok\n", "/healthz answers 200 ok", r)
r = D.request("HEAD", "/healthz")
ok(r.status == 200 and r.body == b"", "HEAD /healthz answers 200 without a body", r)
r = D.request("GET", "/readyz")
ok(r.status == 200, "/readyz answers 200 with the database up", r)

# ------------------------------------------------------------------------------- initialize
m = D.mcp()
sid = m.initialize()
init = m.init
ok(init.status == 200 and (init.header("Content-Type") or "").startswith("application/json"),
   "initialize answers 200 application/json", init)
ok(isinstance(sid, str) and re.fullmatch(r"[A-Za-z0-9_-]{20,}", sid or "") is not None,
   "initialize returns an Mcp-Session-Id of visible ASCII", sid)
is_((init.result or {}).get("protocolVersion"), LATEST, "initialize negotiates " + LATEST)
is_((init.message or {}).get("id"), 1, "initialize answers id 1")

r = m.notify("notifications/initialized")
ok(r.status == 202 and r.body == b"", "a notification gets 202 with no body", r)
r = m.post({"jsonrpc": "2.0", "method": "notifications/roots/list_changed"})
ok(r.status == 202 and r.body == b"", "an unknown notification gets 202 with no body", r)

# ------------------------------------------------------------------ every method with the session
r = m.rpc("ping")
ok(r.status == 200 and r.result == {}, "ping with the session", r)
r = m.rpc("tools/list")
names = [t.get("name") for t in (r.result or {}).get("tools", [])]
ok(r.status == 200 and "query" in names and "describe_table" in names,
   "tools/list with the session lists query and describe_table", r)
r = m.call("query", {"sql": "SELECT 1 AS one, 'x'::text AS t"})
ok(call_ok(r) and r.result.get("structuredContent", {}).get("rows") == [{"one": 1, "t": "x"}],
   "tools/call query with the session", r)
ok(not r.is_sse and (r.header("Content-Type") or "").startswith("application/json"),
   "a call without notifications is answered as application/json", r.headers)
r = m.call("describe_table", {"table": "sales.orders"})
cols = [c.get("name") for c in ((r.result or {}).get("structuredContent") or {}).get("columns", [])]
ok(call_ok(r) and "customer_id" in cols, "tools/call describe_table with the session", r)
r = m.call("query", {"sql": "SELEC nonsense"})
ok(r.status == 200 and (r.result or {}).get("isError") is True,
   "a failing query is a tool error (isError) with 200", r)
r = m.rpc("resources/list")
res = (r.result or {}).get("resources", [])
ok(r.status == 200 and len(res) > 0, "resources/list with the session", r)
uri = "pgmcp://tables/sales/customers"
ok(any(x.get("uri") == uri for x in res), "resources/list includes " + uri, [x.get("uri") for x in res])
r = m.rpc("resources/read", {"uri": uri})
contents = (r.result or {}).get("contents", [])
ok(r.status == 200 and len(contents) == 1 and contents[0].get("uri") == uri and
   "email" in contents[0].get("text", ""), "resources/read with the session", r)
r = m.rpc("resources/templates/list")
tmpls = (r.result or {}).get("resourceTemplates", [])
ok(r.status == 200 and len(tmpls) > 0, "resources/templates/list with the session", r)
r = m.rpc("prompts/list")
pnames = [p.get("name") for p in (r.result or {}).get("prompts", [])]
ok(r.status == 200 and "write_query" in pnames, "prompts/list with the session", r)
r = m.rpc("prompts/get", {"name": "write_query", "arguments": {"question": "How many orders?"}})
ok(r.status == 200 and "How many orders?" in json.dumps(r.result or {}),
   "prompts/get with the session", r)
tmpl = tmpls[0].get("uriTemplate") if tmpls else "pgmcp://tables/{schema}/{table}"
r = m.rpc("completion/complete", {"ref": {"type": "ref/resource", "uri": tmpl},
                                  "argument": {"name": "schema", "value": "sal"}})
ok(r.status == 200 and "sales" in ((r.result or {}).get("completion") or {}).get("values", []),
   "completion/complete with the session", r)
r = m.rpc("nosuch/method")
ok(r.status == 200 and (r.rpc_error() or {}).get("code") == -32601,
   "an unknown method in a session is a -32601 JSON-RPC error (HTTP 200)", r)
r = m.rpc("tools/list", rid="string-id-Ω")
is_((r.message or {}).get("id"), "string-id-Ω", "a string id is echoed exactly")

# ------------------------------------------------------------------ logging/setLevel → SSE
r = m.rpc("logging/setLevel", {"level": "info"})
ok(r.status == 200 and r.result == {}, "logging/setLevel info answers {}", r)
streamed = []
for i in range(4):
    # A new connection each time: whichever worker answers must know the session's level.
    r = m.call("query", {"sql": f"SELECT {i} AS n"})
    streamed.append(r)
for i, r in enumerate(streamed):
    notes = r.notifications
    ok(r.status == 200 and r.is_sse and (r.header("Content-Type") or "").startswith("text/event-stream"),
       f"call {i} after setLevel is answered as text/event-stream", r)
    ok(len(notes) > 0 and all(n.get("method") == "notifications/message" for n in notes),
       f"call {i}: notifications/message events come first", r.messages)
    ok(all((n.get("params") or {}).get("level") in ("info", "notice", "warning", "error")
           for n in notes), f"call {i}: no message below the level set", notes)
    last = r.messages[-1] if r.messages else {}
    ok(last.get("id") is not None and (last.get("result") or {}).get("structuredContent", {})
       .get("rows") == [{"n": i}], f"call {i}: the result is the last event", last)
    ok(all(ev.get("event") == "message" for ev in r.events), f"call {i}: events are 'message' events",
       r.events)
r = m.rpc("logging/setLevel", {"level": "error"})
ok(r.status == 200, "logging/setLevel error answers", r)
quiet = [m.call("query", {"sql": "SELECT 1 AS n"}) for _ in range(3)]
ok(all(q.status == 200 and not q.is_sse and call_ok(q) for q in quiet),
   "after setLevel error, successful calls are plain JSON again (the level reached every worker)",
   [(q.status, q.header("Content-Type")) for q in quiet])

# ------------------------------------------------------------------------------ progress tokens
m2 = D.mcp()
m2.initialize()
r = m2.call("query", {"sql": "SELECT pg_sleep(0.3), 7 AS seven"}, meta={"progressToken": "tok-9"})
prog = [n for n in r.notifications if n.get("method") == "notifications/progress"]
ok(r.status == 200 and r.is_sse, "a progressToken turns the response into text/event-stream", r)
ok(len(prog) >= 1 and all((n.get("params") or {}).get("progressToken") == "tok-9" for n in prog),
   "progress events carry the token", r.messages)
vals = [(n.get("params") or {}).get("progress") for n in prog]
ok(vals == sorted(vals) and len(set(vals)) == len(vals), "progress values increase", vals)
ok(r.messages and "result" in r.messages[-1] and
   all("method" in x for x in r.messages[:-1]),
   "progress events first, then the result as the last event", r.messages)
ok([row.get("seven") for row in ((r.result or {}).get("structuredContent") or {}).get("rows", [])] == [7],
   "the streamed result carries the rows", r.result)
is_(r.header("Transfer-Encoding"), "chunked", "the event stream is chunked")
r = m2.call("query", {"sql": "SELECT 8 AS n"}, meta={"progressToken": 5})
ok(r.is_sse and any((n.get("params") or {}).get("progressToken") == 5 for n in r.notifications),
   "an integer progressToken is echoed as an integer", r.messages)
r = m2.call("query", {"sql": "SELECT 9 AS n"}, meta={"progressToken": "json-only"},
            accept="application/json")
ok(r.status == 200 and not r.is_sse and call_ok(r),
   "with Accept: application/json only, a progressToken still gets a JSON answer", r)

# ------------------------------------------------------------------------------ session errors
r = m.rpc("tools/list", session=None)
ok(r.status == 400 and r.error_code() is not None, "a request without Mcp-Session-Id is 400", r)
forged = sid[:-2] + ("AA" if sid[-2:] != "AA" else "BB")
r = m.rpc("tools/list", session=forged)
ok(r.status == 404, "a forged session id (MAC changed) is 404", r)
r = m.rpc("tools/list", session="garbage-!!-not-a-token")
ok(r.status == 404, "a garbled session id is 404", r)
r = m.rpc("tools/list", session=sid[:20])
ok(r.status == 404, "a truncated session id is 404", r)
r = m.rpc("tools/list", session=sid + "AAAA")
ok(r.status == 404, "a session id with bytes appended is 404", r)
r = m.rpc("tools/list", headers={"MCP-Protocol-Version": "1999-01-01"})
ok(r.status == 400, "an unsupported MCP-Protocol-Version header is 400", r)
r = m.rpc("tools/list", headers={"MCP-Protocol-Version": LATEST})
ok(r.status == 200, "the session's MCP-Protocol-Version header is accepted", r)

# ---------------------------------------------------------------------------- status codes
r = D.request("GET", "/mcp", headers={"Accept": "text/event-stream", "Mcp-Session-Id": sid})
ok(r.status == 405 and "POST" in (r.header("Allow") or ""), "GET /mcp is 405 with Allow", r)
r = m.rpc("tools/list", content_type="text/plain")
ok(r.status == 415, "Content-Type text/plain is 415", r)
r = m.rpc("tools/list", content_type=None)
ok(r.status == 415, "no Content-Type is 415", r)
r = m.rpc("tools/list", content_type="application/json; charset=utf-8")
ok(r.status == 200, "Content-Type application/json; charset=utf-8 is accepted", r)
r = m.rpc("tools/list", accept="text/html")
ok(r.status == 406, "Accept without JSON or event-stream is 406", r)
r = m.rpc("tools/list", accept="application/json")
ok(r.status == 200, "Accept: application/json alone is enough for a JSON answer", r)
r = m.post(None, raw=b'{"jsonrpc":"2.0","id":1,"method":"tools/list"')
ok(r.status == 400 and r.error_code() == -32700, "a truncated JSON body is 400 with -32700", r)

# ------------------------------------------------------------------------------- DELETE
m3 = D.mcp()
sid3 = m3.initialize()
r = m3.rpc("tools/list")
ok(r.status == 200, "a second session works before DELETE", r)
r = m3.delete()
ok(r.status in (200, 202, 204), "DELETE /mcp ends the session", r)
for i in range(3):
    r = m3.rpc("tools/list")
    ok(r.status == 404, f"after DELETE the session is 404 (try {i + 1}, any worker)", r)
r = m3.delete(session=None)
ok(r.status == 400, "DELETE without Mcp-Session-Id is 400", r)
r = m3.delete(session="garbage")
ok(r.status == 404, "DELETE of an unknown session is 404", r)
r = m.rpc("ping")
ok(r.status == 200, "deleting one session leaves the others working", r)

# ------------------------------------------------------------------------------ batches
b = D.mcp()
b.initialize("2025-03-26")
is_(b.version, "2025-03-26", "a 2025-03-26 session")
batch = [{"jsonrpc": "2.0", "id": "b1", "method": "ping"},
         {"jsonrpc": "2.0", "id": "b2", "method": "tools/call",
          "params": {"name": "query", "arguments": {"sql": "SELECT 2 AS two"}}},
         {"jsonrpc": "2.0", "method": "notifications/initialized"}]
r = b.post(batch)
j = r.json()
ok(r.status == 200 and isinstance(j, list) and sorted(x.get("id") for x in j) == ["b1", "b2"],
   "a batch in a 2025-03-26 session is answered with an array of the two responses", r)
two = [x for x in (j or []) if isinstance(x, dict) and x.get("id") == "b2"]
ok(two and ((two[0].get("result") or {}).get("structuredContent") or {}).get("rows") == [{"two": 2}],
   "the batched tools/call has its rows", j)
r = m.post(batch)
ok(r.status == 400 and r.error_code() == -32600,
   "a batch in a 2025-11-25 session is 400 with -32600", r)

# --------------------------------------------------------------------- stateless 2026-07-28
s = Mcp(D.port)


def modern(method, params=None, rid=1, name=None, headers=None, **kw):
    p = dict(params or {})
    p.setdefault("_meta", modern_meta())
    h = modern_headers(method, name)
    if headers is not None:
        h = headers
    return s.rpc(method, p, rid=rid, session=None, headers=h, **kw)


r = modern("tools/list")
ok(r.status == 200 and any(t.get("name") == "query" for t in (r.result or {}).get("tools", [])),
   "stateless tools/list with _meta and headers works without a session", r)
ok(r.header("Mcp-Session-Id") is None, "no Mcp-Session-Id is issued for a stateless request", r.headers)
r = modern("tools/call", {"name": "query", "arguments": {"sql": "SELECT 3 AS three"}}, name="query")
ok(r.status == 200 and ((r.result or {}).get("structuredContent") or {}).get("rows") == [{"three": 3}],
   "stateless tools/call with Mcp-Name works", r)
r = modern("tools/call", {"name": "query", "arguments": {"sql": "SELECT 4 AS four"}},
           headers=modern_headers("tools/call", "=?base64?" + base64.b64encode(b"query").decode() + "?="))
ok(r.status == 200 and call_ok(r), "stateless tools/call with a base64-encoded Mcp-Name works", r)
r = modern("resources/read", {"uri": uri}, name=uri)
ok(r.status == 200 and len((r.result or {}).get("contents", [])) == 1,
   "stateless resources/read with Mcp-Name = uri works", r)
r = modern("prompts/get", {"name": "write_query", "arguments": {"question": "Q?"}}, name="write_query")
ok(r.status == 200 and (r.result or {}).get("messages"), "stateless prompts/get works", r)
r = modern("tools/call", {"name": "query", "arguments": {"sql": "SELECT 5 AS n"},
                          "_meta": modern_meta(progressToken="st-1")}, name="query")
ok(r.status == 200 and r.is_sse and any(n.get("method") == "notifications/progress"
                                        for n in r.notifications),
   "stateless tools/call with a progressToken streams progress", r)

r = modern("tools/list", headers={"Mcp-Method": "tools/list"})
ok(r.status == 400 and r.error_code() == -32020,
   "stateless without MCP-Protocol-Version header is 400 with -32020", r)
r = modern("tools/list", headers=modern_headers("tools/list", version=LATEST))
ok(r.status == 400 and r.error_code() == -32020,
   "stateless with a mismatching MCP-Protocol-Version header is 400 with -32020", r)
r = modern("tools/list", headers={"MCP-Protocol-Version": MODERN})
ok(r.status == 400 and r.error_code() == -32020, "stateless without Mcp-Method is 400 with -32020", r)
r = modern("tools/list", headers=modern_headers("prompts/list"))
ok(r.status == 400 and r.error_code() == -32020,
   "stateless with a mismatching Mcp-Method is 400 with -32020", r)
r = modern("tools/call", {"name": "query", "arguments": {"sql": "SELECT 1"}})
ok(r.status == 400 and r.error_code() == -32020,
   "stateless tools/call without Mcp-Name is 400 with -32020", r)
r = modern("tools/call", {"name": "query", "arguments": {"sql": "SELECT 1"}}, name="describe_table")
ok(r.status == 400 and r.error_code() == -32020,
   "stateless tools/call with a mismatching Mcp-Name is 400 with -32020", r)
r = modern("tools/list", {"_meta": modern_meta(**{"io.modelcontextprotocol/protocolVersion": "2099-01-01"})},
           headers=modern_headers("tools/list", version="2099-01-01"))
ok(r.status == 400 and r.error_code() == -32022,
   "an unsupported version in _meta is 400 with -32022", r)
supported = (((r.rpc_error() or {}).get("data") or {}).get("supported")) or []
ok(MODERN in supported, "the -32022 error lists the supported versions", r.rpc_error())
r = modern("nosuch/method")
ok(r.status == 404 and r.error_code() == -32601, "an unknown method (stateless) is 404 with -32601", r)
r = modern("tools/list", {"_meta": {"io.modelcontextprotocol/protocolVersion": MODERN}})
ok(r.status == 400, "stateless without clientCapabilities in _meta is 400", r)

r = s.rpc("tools/list", {"cursor": None}, rid="no-meta", session=None, headers=modern_headers("tools/list"))
ok(r.status == 400 and r.error_code() == -32602 and
   "io.modelcontextprotocol/protocolVersion" in ((r.rpc_error() or {}).get("message") or ""),
   "MCP-Protocol-Version 2026-07-28 without params._meta is 400 with -32602 naming the field", r)
is_((r.message or {}).get("id"), "no-meta", "... and the error echoes the request id")
r = s.rpc("server/discover", rid=7, session=None, headers=modern_headers("server/discover"))
ok(r.status == 400 and r.error_code() == -32602 and (r.message or {}).get("id") == 7,
   "server/discover with the 2026-07-28 header but no params at all is 400 with -32602", r)
r = modern("tools/list", {"_meta": {"io.modelcontextprotocol/clientCapabilities": {}}}, rid=8)
ok(r.status == 400 and r.error_code() == -32602 and (r.message or {}).get("id") == 8,
   "_meta without io.modelcontextprotocol/protocolVersion is 400 with -32602", r)
r = modern("tools/list", {"_meta": modern_meta(**{"io.modelcontextprotocol/protocolVersion": 20260728})},
           rid=9)
ok(r.status == 400 and r.error_code() == -32602 and (r.message or {}).get("id") == 9,
   "a numeric _meta protocolVersion is 400 with -32602", r)
r = s.notify("notifications/cancelled", {"requestId": 1, "reason": "x"}, session=None,
             headers=modern_headers("notifications/cancelled"))
is_(r.status, 202, "a 2026-07-28 notification without _meta is accepted with 202")
for removed in ("initialize", "ping", "logging/setLevel", "resources/subscribe"):
    r = modern(removed, {"protocolVersion": LATEST, "capabilities": {}, "level": "info",
                         "uri": "x:y", "clientInfo": {"name": "n", "version": "1"}}, rid="rm-" + removed)
    ok(r.status == 404 and r.error_code() == -32601 and (r.message or {}).get("id") == "rm-" + removed
       and r.header("Mcp-Session-Id") is None,
       f"{removed} in a 2026-07-28 request is 404 with -32601, id echoed, no session", r)
r = s.rpc("initialize", {"protocolVersion": LATEST, "capabilities": {},
                         "clientInfo": {"name": "hdr-only", "version": "1"}}, session=None,
          headers={"MCP-Protocol-Version": MODERN})
ok(r.status == 200 and r.header("Mcp-Session-Id") and (r.result or {}).get("protocolVersion") == LATEST,
   "an initialize without _meta still starts a legacy session, whatever its version header", r)
r = modern("tools/list", rid="hm-1", headers=modern_headers("prompts/list"))
ok(r.status == 400 and r.error_code() == -32020 and (r.message or {}).get("id") == "hm-1",
   "a -32020 error echoes a string request id", r)
r = modern("tools/list", rid=4242, headers={"Mcp-Method": "tools/list"})
ok(r.status == 400 and r.error_code() == -32020 and (r.message or {}).get("id") == 4242,
   "a -32020 error (no version header) echoes an integer request id", r)
r = modern("tools/list", {"_meta": modern_meta(**{"io.modelcontextprotocol/protocolVersion": "2099-01-01"})},
           rid="uv-1", headers=modern_headers("tools/list", version="2099-01-01"))
ok(r.status == 400 and r.error_code() == -32022 and (r.message or {}).get("id") == "uv-1",
   "a -32022 error echoes the request id", r)
r = modern("tools/list", {"_meta": {"io.modelcontextprotocol/protocolVersion": MODERN}}, rid="cc-1")
ok(r.status == 400 and r.error_code() == -32602 and (r.message or {}).get("id") == "cc-1",
   "a missing clientCapabilities error echoes the request id", r)
r = s.rpc("tools/list", rid="nosess", session=None)
ok(r.status == 400 and (r.message or {}).get("id") == "nosess",
   "a legacy request without a session: 400, the error echoes the id", r)
r = modern("server/discover")
caps = (r.result or {}).get("capabilities") or {}
ok(r.status == 200 and "resources" in caps and "subscribe" not in caps["resources"],
   "server/discover (2026-07-28) does not advertise resources.subscribe", caps)
r = s.rpc("server/discover", session=None)
caps = (r.result or {}).get("capabilities") or {}
ok(r.status == 200 and "subscribe" not in (caps.get("resources") or {}),
   "server/discover (bare probe) does not advertise resources.subscribe either", caps)

probe_id = "server-discover-probe-1"
r = modern("server/discover", rid=probe_id)
ok(r.status == 200 and (r.message or {}).get("id") == probe_id and
   MODERN in (r.result or {}).get("supportedVersions", []),
   "server/discover probe with _meta: 200, id echoed, lists " + MODERN, r)
r = s.rpc("server/discover", rid=probe_id, session=None)
ok(r.status == 200 and (r.message or {}).get("id") == probe_id and
   MODERN in (r.result or {}).get("supportedVersions", []),
   "server/discover probe without _meta and without a session: 200, id echoed", r)
r = s.rpc("initialize", {"protocolVersion": LATEST, "capabilities": {},
                         "clientInfo": {"name": "probe-fallback", "version": "1"}}, session=None)
ok(r.status == 200 and r.header("Mcp-Session-Id"), "the fallback initialize after a probe works", r)

# ------------------------------------------------------------------ any worker serves a session
mw = D.mcp()
mw.initialize()
ports, statuses = [], []
for i in range(12):
    with HttpConn(D.port) as c:
        ports.append(c.local_port)
        r = mw.call("query", {"sql": f"SELECT {i} AS i"}, conn=c)
        statuses.append(r.status == 200 and call_ok(r) and
                        r.result["structuredContent"]["rows"] == [{"i": i}])
ok(all(statuses), "12 calls with one session on 12 new connections all succeed", statuses)

# Four connections held open at once are necessarily served by four different workers.
barrier = threading.Barrier(4, timeout=30 * SLOW)
held = [None] * 4


def hold(k):
    c = HttpConn(D.port)
    try:
        r = mw.call("query", {"sql": f"SELECT {k} AS k"}, conn=c)
        held[k] = (c.local_port, r.status == 200 and call_ok(r))
        barrier.wait()
    except Exception as e:  # noqa: BLE001
        held[k] = (c.local_port, repr(e))
        try:
            barrier.abort()
        except Exception:  # noqa: BLE001
            pass
    finally:
        c.close()


threads = [threading.Thread(target=hold, args=(k,)) for k in range(4)]
for t in threads:
    t.start()
for t in threads:
    t.join(60 * SLOW)
ok(all(h and h[1] is True for h in held), "4 concurrent connections with one session all succeed", held)
time.sleep(0.3)
ports += [h[0] for h in held if h]
pid_of = D.pids_for_peer_ports(set(ports))
workers_used = set(pid_of.values())
diag(f"session calls answered by worker pids {sorted(workers_used)} "
     f"({len(pid_of)} of {len(ports)} connections found in the log)")
ok(len(workers_used) >= 3, "one session's requests were answered by at least 3 different workers",
   pid_of)
ok(workers_used <= set(D.worker_pids()), "every answering pid is a worker of this daemon",
   [sorted(workers_used), D.worker_pids()])

# ------------------------------------------------------------------------------- keep-alive
ka = D.mcp()
ka.initialize()
with HttpConn(D.port) as c:
    results = []
    for i in range(6):
        r = ka.call("query", {"sql": f"SELECT {i} AS i"}, conn=c)
        results.append((r.status, r.header("Connection")))
    r = c.request("GET", "/healthz")
    results.append((r.status, r.header("Connection")))
    lp = c.local_port
ok(all(st == 200 and (conn or "").lower() != "close" for st, conn in results),
   "7 requests on one keep-alive connection, none closes it", results)
time.sleep(0.2)
served = [l for l in D.log().splitlines() if f"127.0.0.1:{lp} " in l and " -> " in l]
is_(len(served), 7, "the log shows 7 requests from that one client port")
is_(len({re.search(r"pid=(\d+)", l).group(1) for l in served}), 1,
    "all of them were served by the same worker")
with HttpConn(D.port) as c:
    # Two requests pipelined in one write are answered in order.
    c.send(build_request("GET", "/healthz", port=D.port) + build_request("GET", "/readyz", port=D.port))
    r1 = c.read_response(timeout=10)
    r2 = c.read_response(timeout=10)
    ok(r1.status == 200 and r1.body == b"ok\n" and r2.status == 200 and b"ready" in r2.body,
       "two pipelined requests are answered in order", [r1, r2])

# ------------------------------------------------------------------------------ cancellation
cm = D.mcp()
cm.initialize()
c = HttpConn(D.port)
c.send(build_request("POST", "/mcp", {"Content-Type": "application/json", "Accept": ACCEPT_BOTH,
                                      "Mcp-Session-Id": cm.sid},
                     json.dumps({"jsonrpc": "2.0", "id": "sleepy-1", "method": "tools/call",
                                 "params": {"name": "query",
                                            "arguments": {"sql": "SELECT pg_sleep(30.1)"}}}),
                     port=D.port))
running = wait_until(lambda: active_queries("pg_sleep(30.1)") == 1, 15 * SLOW)
ok(running, "a pg_sleep(30) call is running in PostgreSQL")
t0 = time.time()
c.close()
gone = wait_until(lambda: active_queries("pg_sleep(30.1)") == 0, 5 * SLOW)
ok(running and gone, "closing the connection cancels the statement "
   f"(gone after {time.time() - t0:.2f} s)")

result = {}


def long_call():
    t = time.time()
    try:
        result["reply"] = cm.call("query", {"sql": "SELECT pg_sleep(30.2)"}, rid="sleepy-2",
                                  timeout=60)
    except Exception as e:  # noqa: BLE001
        result["reply"] = repr(e)
    result["elapsed"] = time.time() - t


th = threading.Thread(target=long_call)
th.start()
running = wait_until(lambda: active_queries("pg_sleep(30.2)") == 1, 15 * SLOW)
ok(running, "a second pg_sleep(30) call is running")
with HttpConn(D.port) as cc:
    cancel_port = cc.local_port
    r = cm.notify("notifications/cancelled", {"requestId": "sleepy-2", "reason": "test"}, conn=cc)
ok(r.status == 202 and r.body == b"", "notifications/cancelled from another connection gets 202", r)
t0 = time.time()
gone = wait_until(lambda: active_queries("pg_sleep(30.2)") == 0, 5 * SLOW)
ok(running and gone, "notifications/cancelled from another connection cancels the statement "
   f"(gone after {time.time() - t0:.2f} s)")
th.join(40)
rep = result.get("reply")
ok(result.get("elapsed", 99) < 15 * SLOW, f"the cancelled POST returns early "
   f"({result.get('elapsed', -1):.2f} s)", rep)
ok(not (hasattr(rep, "result") and rep.result is not None and rep.result.get("isError") is False),
   "the cancelled request does not get a successful result", rep)
time.sleep(0.2)
pids = D.pids_for_peer_ports({cancel_port})
diag(f"the cancellation was posted to worker {pids.get(cancel_port)}")
r = cm.call("query", {"sql": "SELECT 'after' AS a"})
ok(call_ok(r), "the session works after a cancellation", r)

# -------------------------------------------------------------------------------- /metrics
r = D.request("GET", "/metrics")
ok(r.status == 200 and (r.header("Content-Type") or "").startswith("text/plain"),
   "/metrics answers 200 text/plain", r)
text = r.text()
mt = {}
for line in text.splitlines():
    if line and not line.startswith("#"):
        k, _, v = line.rpartition(" ")
        mt[k] = float(v)
ok(mt.get('pgmcp_requests_total{transport="streamable_http",status="2xx"}', 0) >= 50,
   "pgmcp_requests_total counts streamable_http 2xx requests",
   [l for l in text.splitlines() if l.startswith("pgmcp_requests_total")])
ok(mt.get('pgmcp_requests_total{transport="streamable_http",status="4xx"}', 0) >= 10,
   "pgmcp_requests_total counts streamable_http 4xx requests")
ok(mt.get('pgmcp_tool_calls_total{tool="query",outcome="ok"}', 0) >= 30,
   'pgmcp_tool_calls_total{tool="query",outcome="ok"} counts the queries',
   [l for l in text.splitlines() if "tool_calls_total" in l])
ok(mt.get('pgmcp_tool_calls_total{tool="query",outcome="error"}', 0) >= 1,
   'pgmcp_tool_calls_total{tool="query",outcome="error"} counts the failed query')
buckets = [(k, v) for k, v in mt.items() if k.startswith("pgmcp_tool_call_duration_seconds_bucket")]
ok(len(buckets) >= 5 and [v for _, v in buckets] == sorted(v for _, v in buckets),
   "the latency histogram has cumulative buckets", buckets)
ok(mt.get('pgmcp_tool_call_duration_seconds_bucket{le="+Inf"}') ==
   mt.get("pgmcp_tool_call_duration_seconds_count") and
   mt.get("pgmcp_tool_call_duration_seconds_count", 0) >= 30 and
   mt.get("pgmcp_tool_call_duration_seconds_sum", 0) > 0,
   "histogram +Inf bucket equals _count; _sum is positive")
ok("# TYPE pgmcp_tool_call_duration_seconds histogram" in text, "the histogram is typed")
workers_total = sum(v for k, v in mt.items() if k.startswith("pgmcp_workers{"))
is_(workers_total, 4.0, "pgmcp_workers by state adds up to 4")
ok(mt.get('pgmcp_workers{state="busy"}', 0) >= 1, "the worker answering /metrics counts as busy")
ok(mt.get("pgmcp_cancellations_total", 0) >= 2, "pgmcp_cancellations_total counts both cancellations",
   mt.get("pgmcp_cancellations_total"))

# ------------------------------------------------------------------- the official SDK client
if install_sdk():
    run_client("http-client.mjs", dict(os.environ, PGMCP_URL=f"http://127.0.0.1:{D.port}",
                                       PGMCP_CLIENTS="4", PGMCP_SSE_CLIENTS="2"),
               300 if SLOW > 1 else 120)

r = D.request("GET", "/healthz")
ok(r.status == 200, "the daemon is still healthy after everything above", r)

# ====================================== an idle keep-alive connection when another client waits
# Worker 1 answers client A and keeps A's connection open (no Connection: close); worker 2 is
# busy with a slow call; client C connects. C must be served, and A's next request on the
# connection it was told it could keep must still get an answer (the SDK's fetch reuses such a
# connection for its next POST and does not retry a POST on a connection closed under it).
K = start(workers=2, log_level="debug")
time.sleep(0.3)
a = HttpConn(K.port)
r = a.request("GET", "/healthz")
ok(r.status == 200 and (r.header("Connection") or "").lower() != "close",
   "client A's first response keeps the connection open", r)
km = K.mcp()
km.initialize()
kres = {}
kb = threading.Thread(target=lambda: kres.setdefault(
    "b", km.call("query", {"sql": "SELECT pg_sleep(2.5)"}, timeout=30)))
kb.start()
ok(wait_until(lambda: active_queries("pg_sleep(2.5)") == 1, 15 * SLOW),
   "client B's slow call occupies the other worker")


def client_c():
    t = time.time()
    try:
        kres["c"] = (request(K.port, "GET", "/healthz", timeout=20).status, time.time() - t)
    except Exception as e:  # noqa: BLE001
        kres["c"] = (repr(e), time.time() - t)


kc = threading.Thread(target=client_c)
kc.start()
time.sleep(0.6)
try:
    r = a.request("GET", "/healthz", timeout=10)
    a_second = (r.status, r.header("Connection"))
except Exception as e:  # noqa: BLE001
    a_second = repr(e)
a.close()
kc.join(30)
kb.join(30)
ok(isinstance(kres.get("c"), tuple) and kres["c"][0] == 200 and kres["c"][1] < 5 * SLOW,
   "client C is served while A's connection is idle", kres.get("c"))
ok(isinstance(a_second, tuple) and a_second[0] == 200,
   "client A's next request on its kept-alive connection is answered, not dropped", a_second)
K.stop()

# ============================== a worker's first query long after start (database.connect_timeout)
# Each worker starts connecting to PostgreSQL when it is forked. A worker that gets its first
# tool call later than database.connect_timeout after that must still connect and answer.
C = start(workers=2, sets=["database.connect_timeout=1s"])
time.sleep(2.5)
late = []
for i in range(4):
    cm_ = C.mcp()
    cm_.initialize()
    rr = cm_.call("query", {"sql": f"SELECT {i} AS i"})
    late.append((rr.status, (rr.result or {}).get("isError"),
                 ((rr.result or {}).get("content") or [{}])[0].get("text", "")[:120]))
ok(all(x[0] == 200 and x[1] is False for x in late),
   "calls on workers idle for longer than database.connect_timeout since start succeed", late)
C.stop()

# ============================================== session TTL and max_requests_per_connection
T = start(workers=4, sets=["http.session_ttl=1s", "http.max_requests_per_connection=3"])
mt_ = T.mcp()
tsid = mt_.initialize()
r = mt_.rpc("tools/list")
ok(r.status == 200, "a fresh session works (ttl 1s)", r)
time.sleep(2.2)
r = mt_.rpc("tools/list")
ok(r.status == 404, "the session has expired after http.session_ttl", r)
time.sleep(0.3)   # every worker idle again, so keep-alive is offered
with HttpConn(T.port) as c:
    got = []
    for i in range(3):
        r = c.request("GET", "/healthz")
        got.append((r.status, r.header("Connection")))
    closed = c.closed_by_server(3 * SLOW)
ok([g[0] for g in got] == [200, 200, 200], "3 requests on one connection (the cap is 3)", got)
ok(closed, "the server closes the connection after http.max_requests_per_connection requests")
ok((got[-1][1] or "").lower() == "close" and all((g[1] or "").lower() != "close" for g in got[:-1]),
   "the last response allowed on the connection says Connection: close", got)

# ================================================== /readyz with a private cluster that dies
try:
    cl = Cluster(sample=False)
except Exception as e:  # noqa: BLE001
    cl = None
    ok(False, "a private cluster starts", repr(e))
if cl is not None:
    try:
        R = start(workers=2, dsn=cl.dsn)
        statuses = [R.request("GET", "/readyz").status for _ in range(4)]
        ok(all(st == 200 for st in statuses), "/readyz is 200 while PostgreSQL is up", statuses)
        cl.ctl("kill")
        time.sleep(0.5)
        bad = [R.request("GET", "/readyz", timeout=15) for _ in range(4)]
        ok(all(b.status == 503 for b in bad), "/readyz is 503 when PostgreSQL is down",
           [(b.status, b.body[:200]) for b in bad])
        ok(all(b.header("Retry-After") for b in bad), "the 503 carries Retry-After",
           [b.headers for b in bad])
        r = R.request("GET", "/healthz")
        ok(r.status == 200, "/healthz stays 200 with the database down", r)
        cl.ctl("restart")
        back = wait_until(lambda: all(R.request("GET", "/readyz", timeout=15).status == 200
                                      for _ in range(3)), 30 * SLOW, interval=0.5)
        ok(back, "/readyz is 200 again once PostgreSQL is back")
    finally:
        for d in list(daemons):
            if d.dsn == cl.dsn:
                d.stop()
        cl.stop()

# ================================================================================ shutdown
for d in daemons:
    rc = d.stop()
    is_(rc, 0, f"daemon on port {d.port} exits 0 on SIGTERM")
    is_(d.leftover_workers(), [], f"daemon on port {d.port} leaves no worker behind")
    is_(d.stdout(), "", f"daemon on port {d.port} wrote nothing to stdout")
    bad = [l for l in d.log().splitlines() if "level=error" in l or "Sanitizer" in l or "runtime error" in l]
    is_(bad, [], f"daemon on port {d.port} logged no errors")

done()
