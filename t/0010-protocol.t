#!/usr/bin/env python3
# t/0010-protocol.t: JSON-RPC 2.0 and the MCP lifecycle over `pgmcp --stdio`: initialize
# negotiation for every legacy version, requests before initialize, server/discover (and the
# Claude Code probe), stateless 2026-07-28 requests with _meta, id echo (raw, byte for byte),
# notifications, request validation errors, batches, logging/setLevel and notifications/message,
# tools/list pagination and progress notifications.
import base64
import json
import time

from tap import ok, is_, like, done, diag
from pgmcp_test import Server, Timeout, LATEST, MODERN

LEGACY = ["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"]
WAIT = 10.0          # seconds for any single line
servers = []         # every server started, for the stdout/exit checks at the end


def start(*args):
    s = Server(*args)
    servers.append(s)
    return s


def meta(**extra):
    m = {"io.modelcontextprotocol/protocolVersion": MODERN,
         "io.modelcontextprotocol/clientCapabilities": {}}
    m.update(extra)
    return m


def line(s, timeout=WAIT):
    """The next raw stdout line (bytes), or None on timeout / end of output."""
    try:
        return s.recv_raw(timeout=timeout)
    except (Timeout, EOFError) as e:
        diag(f"no line: {e}")
        return None


def msg(s, timeout=WAIT):
    """The next stdout line, parsed; {'__none__': why} when nothing usable came."""
    raw = line(s, timeout)
    if raw is None:
        return {"__none__": "no line (timeout or EOF)"}
    try:
        return json.loads(raw)
    except ValueError:
        return {"__none__": f"not JSON: {raw[:300]!r}"}


def send(s, data):
    if isinstance(data, (dict, list)):
        data = json.dumps(data, ensure_ascii=False)
    if isinstance(data, str):
        data = data.encode()
    s.write_raw(data + b"\n")


def req(method, rid, params=None):
    m = {"jsonrpc": "2.0", "id": rid, "method": method}
    if params is not None:
        m["params"] = params
    return m


def call(s, method, rid, params=None, timeout=WAIT):
    """Sends a request and returns (response, notifications seen before it)."""
    send(s, req(method, rid, params))
    notes = []
    deadline = time.time() + timeout
    while True:
        m = msg(s, max(0.1, deadline - time.time()))
        if "__none__" in m:
            return m, notes
        if "method" in m and "id" not in m:
            notes.append(m)
            continue
        return m, notes


def rpc(s, method, rid, params=None, timeout=WAIT):
    return call(s, method, rid, params, timeout)[0]


def err_code(r):
    return (r.get("error") or {}).get("code")


def err_msg(r):
    return (r.get("error") or {}).get("message", "")


_alive = [0]


def still_alive(s, name):
    """A ping must be answered next; drains up to that answer so later checks stay in step."""
    _alive[0] += 1
    pid = f"alive-{_alive[0]}"
    send(s, req("ping", pid))
    first = msg(s)
    good = first.get("id") == pid and first.get("result") == {}
    ok(good, f"{name}: the next line is the ping's answer", first)
    if not good and "__none__" not in first:
        for _ in range(20):
            m = msg(s, 2)
            if "__none__" in m or m.get("id") == pid:
                break


def initialize(s, version=LATEST, rid="init"):
    r = rpc(s, "initialize", rid, {"protocolVersion": version, "capabilities": {},
                                   "clientInfo": {"name": "t0010", "version": "1"}})
    send(s, {"jsonrpc": "2.0", "method": "notifications/initialized"})
    return r


# ---------------------------------------------------------------- initialize negotiation
for v in LEGACY:
    with start() as s:
        r = initialize(s, v)
        res = r.get("result") or {}
        is_(res.get("protocolVersion"), v, f"initialize {v}: version echoed")
        if v == LATEST:
            si = res.get("serverInfo") or {}
            is_(si.get("name"), "pgmcp", "serverInfo.name is pgmcp")
            ok(isinstance(si.get("version"), str) and si.get("version"), "serverInfo.version is set", si)
            caps = res.get("capabilities") or {}
            for c in ["tools", "resources", "prompts", "logging", "completions"]:
                ok(isinstance(caps.get(c), dict), f"capabilities.{c} present", caps)
            ok(isinstance(res.get("instructions"), str) and len(res["instructions"]) > 20,
               "instructions present", res)
            ok("resultType" not in res and "_meta" not in res,
               "legacy results carry no resultType/_meta", res)
            r2 = rpc(s, "initialize", "again", {"protocolVersion": v, "capabilities": {}})
            is_(err_code(r2), -32600, "second initialize is -32600")
            like(err_msg(r2), "already initialized", "second initialize says so")
            is_(r2.get("id"), "again", "second initialize error echoes its id")
            r3 = rpc(s, "tools/list", 3)
            ok("tools" in (r3.get("result") or {}), "session still works after the second initialize", r3)
        is_(s.close(), 0, f"initialize {v}: exit status 0 at EOF")

for v in ["1999-01-01", "2026-07-28", "2099-12-31"]:
    with start() as s:
        r = initialize(s, v)
        is_((r.get("result") or {}).get("protocolVersion"), LATEST,
            f"initialize with unknown {v} answers {LATEST}")

with start() as s:
    r = rpc(s, "initialize", 1, {"capabilities": {}, "clientInfo": {"name": "x", "version": "1"}})
    is_(err_code(r), -32602, "initialize without protocolVersion is -32602")
    like(err_msg(r), "protocolVersion", "the error names protocolVersion")
    r = rpc(s, "initialize", 2, {"protocolVersion": 20251125, "capabilities": {}})
    is_(err_code(r), -32602, "initialize with a numeric protocolVersion is -32602")
    r = rpc(s, "initialize", 3)
    is_(err_code(r), -32602, "initialize without params is -32602")
    r = initialize(s, LATEST, rid=4)
    is_((r.get("result") or {}).get("protocolVersion"), LATEST,
        "a failed initialize does not spoil the session: a valid one succeeds")

# ---------------------------------------------------------------- before initialize
with start() as s:
    r = rpc(s, "tools/list", 1)
    is_(err_code(r), -32600, "tools/list before initialize is -32600")
    like(err_msg(r), "initialize", "the error tells the client to initialize")
    like(err_msg(r), MODERN, "the error mentions the stateless alternative")
    is_(r.get("id"), 1, "the error echoes the id")
    r = rpc(s, "tools/call", 2, {"name": "query", "arguments": {"sql": "SELECT 1"}})
    is_(err_code(r), -32600, "tools/call before initialize is -32600")
    r = rpc(s, "ping", 3)
    is_(r.get("result"), {}, "ping before initialize answers {}")
    r = rpc(s, "server/discover", 4)
    res = r.get("result") or {}
    sv = res.get("supportedVersions") or []
    for v in [MODERN] + LEGACY:
        ok(v in sv, f"server/discover lists {v}", sv)
    caps = res.get("capabilities") or {}
    ok(all(isinstance(caps.get(c), dict) for c in ["tools", "resources", "prompts"]),
       "server/discover has capabilities", caps)
    ok(isinstance(res.get("ttlMs"), int) and res["ttlMs"] >= 0, "server/discover has ttlMs", res)
    ok(res.get("cacheScope") in ("public", "private"), "server/discover has cacheScope", res)
    is_((res.get("serverInfo") or {}).get("name"), "pgmcp", "a bare server/discover carries serverInfo")
    r = rpc(s, "resources/list", 5)
    is_(err_code(r), -32600, "resources/list before initialize is still -32600")

# ---------------------------------------------------------------- Claude Code's probe
PROBE = ('{"jsonrpc":"2.0","id":"server-discover-probe-1","method":"server/discover","params":'
         '{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28",'
         '"io.modelcontextprotocol/clientCapabilities":{}}}}')
with start() as s:
    send(s, PROBE)
    raw = line(s) or b""
    ok(b'"id":"server-discover-probe-1"' in raw, "probe: id echoed as the exact string", raw[:300])
    try:
        r = json.loads(raw)
    except ValueError:
        r = {}
    res = r.get("result") or {}
    is_(r.get("id"), "server-discover-probe-1", "probe: parsed id is the string")
    is_(res.get("resultType"), "complete", "probe: resultType complete")
    is_(((res.get("_meta") or {}).get("io.modelcontextprotocol/serverInfo") or {}).get("name"),
        "pgmcp", "probe: _meta carries io.modelcontextprotocol/serverInfo")
    ok(MODERN in (res.get("supportedVersions") or []), "probe: supportedVersions has " + MODERN, res)
    r = initialize(s, LATEST)
    is_((r.get("result") or {}).get("protocolVersion"), LATEST,
        "after the probe, the initialize fallback still works")

# ---------------------------------------------------------------- stateless 2026-07-28
with start() as s:
    r = rpc(s, "tools/list", 1, {"_meta": meta()})
    res = r.get("result") or {}
    ok(len(res.get("tools") or []) > 3, "stateless tools/list works without initialize", r)
    is_(res.get("resultType"), "complete", "tools/list: resultType complete")
    ok(isinstance(res.get("ttlMs"), int), "tools/list: ttlMs", res.get("ttlMs"))
    ok(isinstance(res.get("cacheScope"), str), "tools/list: cacheScope", res.get("cacheScope"))
    is_(((res.get("_meta") or {}).get("io.modelcontextprotocol/serverInfo") or {}).get("name"),
        "pgmcp", "tools/list: _meta serverInfo")

    r, notes = call(s, "tools/call", 2, {"name": "query", "arguments": {"sql": "SELECT 41 + 1 AS n"},
                                         "_meta": meta()})
    res = r.get("result") or {}
    is_((res.get("structuredContent") or {}).get("rows"), [{"n": 42}], "stateless tools/call query")
    is_(res.get("resultType"), "complete", "tools/call: resultType complete")
    is_([n for n in notes if n.get("method") == "notifications/message"], [],
        "no notifications/message without io.modelcontextprotocol/logLevel")

    for i, (method, key) in enumerate([("resources/list", "resources"), ("prompts/list", "prompts"),
                                       ("resources/templates/list", "resourceTemplates")]):
        r = rpc(s, method, 10 + i, {"_meta": meta()})
        res = r.get("result") or {}
        ok(isinstance(res.get(key), list), f"stateless {method} works", r)
        is_(res.get("resultType"), "complete", f"{method}: resultType complete")
        ok(isinstance(res.get("ttlMs"), int) and isinstance(res.get("cacheScope"), str),
           f"{method}: ttlMs and cacheScope", res)

    r = rpc(s, "tools/list", 20, {"_meta": {"io.modelcontextprotocol/protocolVersion": MODERN}})
    is_(err_code(r), -32602, "missing clientCapabilities is -32602")
    like(err_msg(r), "clientCapabilities", "the error names clientCapabilities")
    r = rpc(s, "tools/list", 21, {"_meta": meta(**{"io.modelcontextprotocol/clientCapabilities": "x"})})
    is_(err_code(r), -32602, "clientCapabilities that is not an object is -32602")

    r = rpc(s, "tools/list", 22, {"_meta": meta(**{"io.modelcontextprotocol/protocolVersion": "1900-01-01"})})
    is_(err_code(r), -32022, "unsupported _meta version is -32022")
    data = (r.get("error") or {}).get("data") or {}
    ok(isinstance(data.get("supported"), list) and MODERN in data["supported"]
       and all(v in data["supported"] for v in LEGACY), "error data.supported lists the versions", data)
    is_(data.get("requested"), "1900-01-01", "error data.requested is what was asked")
    r = rpc(s, "tools/list", 23, {"_meta": meta(**{"io.modelcontextprotocol/protocolVersion": "2025-06-18"})})
    is_(err_code(r), -32022, "a legacy version in _meta without initialize is -32022")

    r = rpc(s, "ping", 24, {"_meta": meta()})
    is_(err_code(r), -32601, "modern ping is -32601")
    r = rpc(s, "logging/setLevel", 25, {"level": "debug", "_meta": meta()})
    is_(err_code(r), -32601, "modern logging/setLevel is -32601")
    like(err_msg(r), "logging/setLevel", "the error names the method")

    r, notes = call(s, "tools/call", 26, {"name": "query", "arguments": {"sql": "SELECT 1 AS one"},
                                          "_meta": meta(**{"io.modelcontextprotocol/logLevel": "debug"})})
    logs = [n for n in notes if n.get("method") == "notifications/message"]
    ok(len(logs) >= 1, "io.modelcontextprotocol/logLevel debug makes tools/call emit notifications/message", notes)
    ok(all((n.get("params") or {}).get("level") in
           ("debug", "info", "notice", "warning", "error", "critical", "alert", "emergency")
           and "data" in (n.get("params") or {}) for n in logs), "notifications/message have level and data", logs)
    is_(((r.get("result") or {}).get("structuredContent") or {}).get("rows"), [{"one": 1}],
        "the call with logLevel still answers")
    r, notes = call(s, "tools/call", 27, {"name": "query", "arguments": {"sql": "SELECT 1 AS one"},
                                          "_meta": meta()})
    is_([n for n in notes if n.get("method") == "notifications/message"], [],
        "the log level does not stick to later stateless requests")
    r = rpc(s, "tools/list", 28, {"_meta": meta(**{"io.modelcontextprotocol/logLevel": "loud"})})
    is_(err_code(r), -32602, "an unknown io.modelcontextprotocol/logLevel is -32602")

    r = rpc(s, "tools/list", 29)
    is_(err_code(r), -32600, "stateless requests do not initialize the session")

# ---------------------------------------------------------------- ids echoed exactly
with start() as s:
    initialize(s)
    cases = [
        ("integer", b"7"),
        ("string", b'"abc"'),
        ("negative", b"-5"),
        ("zero", b"0"),
        ("float", b"1.5"),
        ("big integer", b"12345678901234567890"),
        ("negative big integer", b"-98765432109876543210"),
        ("exponent", b"1e3"),
        ("unicode escapes", b'"\\u00e9\\n\\"q\\\\ \\/ \\ud83d\\ude00"'),
        ("raw UTF-8", '"é ü 😀 日本"'.encode()),
        ("empty string", b'""'),
        ("long string", b'"' + b"x" * 5000 + b'"'),
    ]
    for name, lit in cases:
        s.write_raw(b'{"jsonrpc":"2.0","id":' + lit + b',"method":"ping"}\n')
        raw = line(s) or b""
        ok(raw.startswith(b'{"jsonrpc":"2.0","id":' + lit + b',"result":{}'),
           f"id {name} echoed byte for byte", raw[:300])
        try:
            is_(json.loads(raw).get("id"), json.loads(lit), f"id {name}: same parsed value")
        except ValueError:
            ok(False, f"id {name}: response is JSON", raw[:300])
    # an id inside params must not be mistaken for the request's id
    s.write_raw(b'{"jsonrpc":"2.0","method":"ping","params":{"id":99,"_meta":{"id":"x"}},"id":5}\n')
    raw = line(s) or b""
    ok(b'"id":5,' in raw and b"99" not in raw, "the top-level id is echoed, not one from params", raw)
    s.write_raw(b'{"jsonrpc":"2.0","id" :  8 ,"method":"ping"}\n')
    raw = line(s) or b""
    ok(raw.startswith(b'{"jsonrpc":"2.0","id":8,"result":{}'), "whitespace around the id is not echoed", raw)
    # "\u0069d" is the member name "id" (RFC 8259 compares names after unescaping)
    s.write_raw(b'{"jsonrpc":"2.0","\\u0069d":9,"method":"ping"}\n')
    raw = line(s) or b""
    ok(raw.startswith(b'{"jsonrpc":"2.0","id":9,"result":{}'), "an id whose key is written with an escape "
       "is honoured and echoed", raw)
    # ids on error responses
    s.write_raw(b'{"jsonrpc":"2.0","id":12345678901234567890,"method":"no/such"}\n')
    raw = line(s) or b""
    ok(b'"id":12345678901234567890,' in raw and b"-32601" in raw, "error responses echo a big id exactly", raw)
    s.write_raw(b'{"jsonrpc":"2.0","id":"s-1","method":"tools/call","params":{"name":"query",'
                b'"arguments":{"sql":"SELECT 2 AS two"}}}\n')
    raw = line(s) or b""
    ok(raw.startswith(b'{"jsonrpc":"2.0","id":"s-1",') and b'"two":2' in raw,
       "tools/call echoes a string id", raw[:300])
    for name, lit in [("null", b"null"), ("object", b'{"a":1}'), ("array", b"[1]"),
                      ("true", b"true"), ("false", b"false")]:
        s.write_raw(b'{"jsonrpc":"2.0","id":' + lit + b',"method":"ping"}\n')
        raw = line(s) or b""
        try:
            r = json.loads(raw)
        except ValueError:
            r = {}
        ok(err_code(r) == -32600 and "id" in r and r["id"] is None,
           f"id {name} is -32600 with id null", raw[:300])
    still_alive(s, "after bad ids")

# ---------------------------------------------------------------- notifications are never answered
with start() as s:
    initialize(s)
    notes = [
        b'{"jsonrpc":"2.0","method":"notifications/initialized"}',
        b'{"jsonrpc":"2.0","method":"notifications/no-such-thing","params":{"x":1}}',
        b'{"jsonrpc":"2.0","method":"no/such/method"}',
        b'{"jsonrpc":"2.0","method":"notifications/cancelled","params":[1,2,3]}',
        b'{"jsonrpc":"2.0","method":"notifications/cancelled","params":"nope"}',
        b'{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":{"a":[1]}}}',
        b'{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":424242,"reason":"x"}}',
        b'{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":1,"progress":"x"}}',
        b'{"jsonrpc":"2.0","method":"tools/call","params":{"name":"query","arguments":{"sql":"SELECT 1"}}}',
        b'{"jsonrpc":"2.0","method":"ping"}',
        b'{"jsonrpc":"2.0","method":"initialize","params":{"protocolVersion":"2025-06-18"}}',
        b'{"jsonrpc":"2.0","method":"notifications/message","params":null}',
    ]
    for n in notes:
        s.write_raw(n + b"\n")
        still_alive(s, "notification " + n[:70].decode())

# ---------------------------------------------------------------- request validation
with start() as s:
    initialize(s)
    r = rpc(s, "no/such/method", 1)
    is_(err_code(r), -32601, "unknown method is -32601")
    like(err_msg(r), "no/such/method", "the error names the method")
    r = rpc(s, "tools/list", 2, [1, 2])
    is_(err_code(r), -32602, "params that is an array is -32602")
    r = rpc(s, "ping", 3, "text")
    is_(err_code(r), -32602, "params that is a string is -32602")
    for name, raw_msg in [
        ("missing jsonrpc", b'{"id":4,"method":"ping"}'),
        ("jsonrpc 1.0", b'{"jsonrpc":"1.0","id":4,"method":"ping"}'),
        ("jsonrpc as a number", b'{"jsonrpc":2.0,"id":4,"method":"ping"}'),
        ("missing method", b'{"jsonrpc":"2.0","id":4}'),
        ("method as a number", b'{"jsonrpc":"2.0","id":4,"method":7}'),
        ("method null", b'{"jsonrpc":"2.0","id":4,"method":null}'),
    ]:
        s.write_raw(raw_msg + b"\n")
        r = msg(s)
        is_(err_code(r), -32600, f"{name} is -32600")
        is_(r.get("id"), 4, f"{name}: the readable id is echoed")
    # requests queued behind a running statement are answered in order
    s.write_raw((json.dumps(req("tools/call", "slow", {"name": "query",
                                                       "arguments": {"sql": "SELECT pg_sleep(0.5), 1 AS one"}}))
                 + "\n" + json.dumps(req("ping", "q1")) + "\n" + json.dumps(req("tools/list", "q2")) + "\n").encode())
    got = [msg(s, 20).get("id") for _ in range(3)]
    is_(got, ["slow", "q1", "q2"], "requests sent behind a slow query are answered in order")
    for name, raw_msg in [
        ("result response", b'{"jsonrpc":"2.0","id":77,"result":{}}'),
        ("error response", b'{"jsonrpc":"2.0","id":78,"error":{"code":-32000,"message":"x"}}'),
        ("null-id error response", b'{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"x"}}'),
    ]:
        s.write_raw(raw_msg + b"\n")
        still_alive(s, f"a client {name} is ignored")

# ---------------------------------------------------------------- batches
with start() as s:
    initialize(s, "2025-03-26")
    batch = [req("ping", 101), req("tools/list", 102),
             {"jsonrpc": "2.0", "method": "notifications/initialized"}]
    send(s, batch)
    r = msg(s)
    ok(isinstance(r, list) and len(r) == 2, "batch of 2 requests + 1 notification: 2 responses", r)
    if isinstance(r, list):
        by_id = {x.get("id"): x for x in r}
        is_(sorted(by_id, key=str), [101, 102], "batch response ids match")
        is_((by_id.get(101) or {}).get("result"), {}, "batch ping answered")
        ok("tools" in ((by_id.get(102) or {}).get("result") or {}), "batch tools/list answered", by_id.get(102))
    send(s, "[]")
    r = msg(s)
    ok(isinstance(r, dict) and err_code(r) == -32600 and r.get("id") is None,
       "empty batch is a single -32600 error with id null", r)
    send(s, "[ \t ]")
    r = msg(s)
    ok(isinstance(r, dict) and err_code(r) == -32600, "empty batch with whitespace is -32600", r)
    send(s, '[1, "x", null, [], {"jsonrpc":"2.0","id":103,"method":"ping"}]')
    r = msg(s)
    ok(isinstance(r, list) and len(r) == 5, "batch with non-object elements: one response each", r)
    if isinstance(r, list) and len(r) == 5:
        ok(all(err_code(x) == -32600 and x.get("id") is None for x in r[:4]),
           "non-object elements get -32600 with id null", r[:4])
        is_(r[4].get("id"), 103, "the object element is answered")
    send(s, [{"jsonrpc": "2.0", "method": "notifications/initialized"},
             {"jsonrpc": "2.0", "method": "notifications/whatever"}])
    still_alive(s, "a batch of only notifications gets no response")
    send(s, '[{"jsonrpc":"2.0","id":104,"method":"ping"},{"jsonrpc":"2.0","id":105,"method":"no/such"},'
            '{"jsonrpc":"2.0","id":106}]')
    r = msg(s)
    ok(isinstance(r, list) and [err_code(x) for x in r] == [None, -32601, -32600]
       and [x.get("id") for x in r] == [104, 105, 106], "per-element errors inside a batch keep their ids", r)
    s.write_raw(b'[{"jsonrpc":"2.0","id":12345678901234567890,"method":"ping"}]\n')
    raw = line(s) or b""
    ok(raw.startswith(b'[{"jsonrpc":"2.0","id":12345678901234567890,'), "batch echoes a big id exactly", raw)

with start() as s:
    initialize(s, "2024-11-05")
    send(s, [req("ping", 1), req("ping", 2)])
    r = msg(s)
    ok(isinstance(r, list) and sorted(x.get("id") for x in r) == [1, 2], "batches work in 2024-11-05", r)

for v in ["2025-06-18", "2025-11-25"]:
    with start() as s:
        initialize(s, v)
        send(s, [req("ping", 1), req("ping", 2)])
        r = msg(s)
        ok(isinstance(r, dict) and err_code(r) == -32600, f"batch in a {v} session is -32600", r)
        like(err_msg(r), "2025-03-26", f"batch error in {v} names the versions that allow batches")
        like(err_msg(r), v, f"batch error in {v} names the session's version")
        still_alive(s, f"after a rejected batch in {v}")

with start() as s:
    send(s, [req("ping", 1)])
    r = msg(s)
    ok(isinstance(r, dict) and err_code(r) == -32600, "batch before initialize is -32600", r)

# ---------------------------------------------------------------- logging/setLevel
with start() as s:
    initialize(s)
    r, notes = call(s, "tools/call", 1, {"name": "query", "arguments": {"sql": "SELECT 1"}})
    is_([n for n in notes if n.get("method") == "notifications/message"], [],
        "no notifications/message before logging/setLevel")
    r = rpc(s, "logging/setLevel", 2, {"level": "debug"})
    is_(r.get("result"), {}, "logging/setLevel debug answers {}")
    r = rpc(s, "logging/setLevel", 3, {"level": "loud"})
    is_(err_code(r), -32602, "invalid level is -32602")
    r = rpc(s, "logging/setLevel", 4, {"level": 3})
    is_(err_code(r), -32602, "numeric level is -32602")
    r = rpc(s, "logging/setLevel", 5)
    is_(err_code(r), -32602, "logging/setLevel without params is -32602")
    send(s, req("tools/call", 6, {"name": "query", "arguments": {"sql": "SELECT 1 AS x"}}))
    seq = []
    for _ in range(50):
        m = msg(s)
        seq.append(m)
        if "__none__" in m or "id" in m:
            break
    logs = [m for m in seq if m.get("method") == "notifications/message"]
    ok(len(logs) >= 1 and seq[-1].get("id") == 6, "after debug, tools/call emits notifications/message "
       "lines and then the response", seq)
    ok(all((m.get("params") or {}).get("level") in ("debug", "info", "notice", "warning", "error",
                                                     "critical", "alert", "emergency")
           and (m.get("params") or {}).get("data") for m in logs), "notifications/message carry level and data", logs)
    r = rpc(s, "logging/setLevel", 7, {"level": "emergency"})
    is_(r.get("result"), {}, "logging/setLevel emergency answers {}")
    r, notes = call(s, "tools/call", 8, {"name": "query", "arguments": {"sql": "SELECT 1"}})
    is_([n for n in notes if n.get("method") == "notifications/message"], [],
        "at emergency a normal query emits no notifications/message")

# ---------------------------------------------------------------- tools/list pagination
with start() as s:
    initialize(s)
    r = rpc(s, "tools/list", 1)
    full = [t.get("name") for t in (r.get("result") or {}).get("tools") or []]
    ok("nextCursor" not in (r.get("result") or {}), "default page size lists all tools at once", r.get("result"))
with start("--set", "limits.page_size=3") as s:
    initialize(s)
    names, pages, cursor, sizes = [], 0, None, []
    while pages < 50:
        r = rpc(s, "tools/list", 100 + pages, {"cursor": cursor} if cursor is not None else {})
        res = r.get("result") or {}
        pages += 1
        if "result" not in r:
            ok(False, "tools/list page answered", r)
            break
        sizes.append(len(res.get("tools") or []))
        names += [t.get("name") for t in res.get("tools") or []]
        cursor = res.get("nextCursor")
        if cursor is None:
            break
    ok(all(n <= 3 for n in sizes) and all(n == 3 for n in sizes[:-1]), "pages hold at most page_size tools", sizes)
    is_(len(names), len(set(names)), "each tool appears once across pages")
    is_(sorted(names), sorted(full), "walking nextCursor collects every tool")
    is_(pages, (len(full) + 2) // 3, "number of pages matches page_size")
    for name, cur in [("garbage", "garbage!!"), ("number", 5), ("empty", ""),
                      ("past the end", base64.b64encode(b"pgmcp:9999").decode()),
                      ("foreign prefix", base64.b64encode(b"other:3").decode()),
                      ("negative", base64.b64encode(b"pgmcp:-3").decode())]:
        r = rpc(s, "tools/list", f"c-{name}", {"cursor": cur})
        is_(err_code(r), -32602, f"{name} cursor is -32602")
    r = rpc(s, "tools/list", "m", {"_meta": meta()})
    ok(len((r.get("result") or {}).get("tools") or []) == 3 and (r.get("result") or {}).get("nextCursor"),
       "pagination applies to stateless tools/list too", r.get("result"))

# ---------------------------------------------------------------- progress
with start() as s:
    initialize(s)
    for token in ["tok-1", 42]:
        send(s, req("tools/call", f"p-{token}", {"name": "query",
                                                 "arguments": {"sql": "SELECT pg_sleep(1.2), 1 AS one"},
                                                 "_meta": {"progressToken": token}}))
        seq = []
        for _ in range(50):
            m = msg(s, 20)
            seq.append(m)
            if "__none__" in m or "id" in m:
                break
        prog = [m for m in seq if m.get("method") == "notifications/progress"]
        vals = [(m.get("params") or {}).get("progress") for m in prog]
        ok(len(prog) >= 1 and seq[-1].get("id") == f"p-{token}",
           f"progress token {token!r}: notifications/progress before the response", seq)
        ok(all((m.get("params") or {}).get("progressToken") == token for m in prog),
           f"progress token {token!r} is echoed with its type", prog)
        ok(all(isinstance(v, (int, float)) for v in vals) and vals == sorted(vals)
           and len(set(vals)) == len(vals), f"progress token {token!r}: progress increases", vals)
        ok(len(prog) >= 2, f"progress token {token!r}: more than one progress step for a 1.2 s query", vals)
    r, notes = call(s, "tools/call", "np", {"name": "query", "arguments": {"sql": "SELECT 1"}})
    is_([n for n in notes if n.get("method") == "notifications/progress"], [],
        "no progress notifications without a progressToken")
    r, notes = call(s, "tools/call", "pm", {"name": "query", "arguments": {"sql": "SELECT 1"},
                                            "_meta": meta(progressToken="modern-tok")})
    ok(any((n.get("params") or {}).get("progressToken") == "modern-tok" for n in notes)
       and (r.get("result") or {}).get("resultType") == "complete",
       "stateless tools/call with progressToken gets progress too", [notes, r])

# ---------------------------------------------------------------- stdout hygiene and exit
for s in servers:
    s.close()
bad = []
for s in servers:
    for raw in s.raw_lines:
        try:
            json.loads(raw)
        except ValueError:
            bad.append(raw[:200])
is_(bad, [], "every stdout line of every server is JSON")
is_([s.proc.returncode for s in servers if s.proc.returncode != 0], [], "every server exited 0 at EOF")
ok(any("connected to PostgreSQL" in s.stderr() for s in servers), "logs go to stderr",
   servers[0].stderr()[-500:] if servers else "")
done()
