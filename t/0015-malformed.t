#!/usr/bin/env python3
# t/0015-malformed.t: hostile and broken input on `pgmcp --stdio` never crashes the server:
# invalid JSON, bad UTF-8, NUL and control bytes, deep nesting, oversized lines (with and
# without a newline), wrong parameter types, unknown tools, missing required params, CRLF and
# blank lines, EOF in the middle of a message; each case gets a clear error and the next
# request still works. stdout carries only JSON-RPC lines; logs go to stderr.
import json
import time

from tap import ok, is_, like, done, diag
from pgmcp_test import Server, Timeout, LATEST

WAIT = 10.0
servers = []


def start(*args):
    s = Server(*args)
    servers.append(s)
    return s


def line(s, timeout=WAIT):
    try:
        return s.recv_raw(timeout=timeout)
    except (Timeout, EOFError) as e:
        diag(f"no line: {e}")
        return None


def msg(s, timeout=WAIT):
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


def rpc(s, method, rid, params=None, timeout=WAIT):
    send(s, req(method, rid, params))
    deadline = time.time() + timeout
    while True:
        m = msg(s, max(0.1, deadline - time.time()))
        if "method" in m and "id" not in m:
            continue
        return m


def err_code(r):
    return (r.get("error") or {}).get("code") if isinstance(r, dict) else None


def err_msg(r):
    return (r.get("error") or {}).get("message", "") if isinstance(r, dict) else ""


_alive = [0]


def still_alive(s, name):
    """A ping must be answered next; drains up to that answer so later checks stay in step."""
    _alive[0] += 1
    pid = f"alive-{_alive[0]}"
    send(s, req("ping", pid))
    first = msg(s)
    good = isinstance(first, dict) and first.get("id") == pid and first.get("result") == {}
    ok(good, f"{name}: server still answers the next ping", first)
    if not good and "__none__" not in first:
        for _ in range(20):
            m = msg(s, 2)
            if "__none__" in m or m.get("id") == pid:
                break


def expect_error(s, raw, code, name, needle=None):
    """Sends raw bytes as one line; the answer must be one error with id null, then a ping works."""
    s.write_raw(raw + b"\n")
    r = msg(s)
    ok(isinstance(r, dict) and err_code(r) == code and "id" in r and r["id"] is None,
       f"{name}: error {code} with id null", r)
    if needle is not None:
        like(err_msg(r), needle, f"{name}: message mentions {needle!r}")
    still_alive(s, name)


def initialize(s, version=LATEST):
    r = rpc(s, "initialize", "init", {"protocolVersion": version, "capabilities": {},
                                      "clientInfo": {"name": "t0015", "version": "1"}})
    send(s, {"jsonrpc": "2.0", "method": "notifications/initialized"})
    return r


# ---------------------------------------------------------------- parse errors
PARSE = [
    ("truncated object", b'{"jsonrpc":'),
    ("single quotes", b"{'a':1}"),
    ("NaN", b"NaN"),
    ("Infinity", b'{"jsonrpc":"2.0","id":Infinity,"method":"ping"}'),
    ("trailing comma in object", b'{"jsonrpc":"2.0","id":1,"method":"ping",}'),
    ("trailing comma in array", b"[1,]"),
    ("trailing garbage", b'{"jsonrpc":"2.0","id":1,"method":"ping"} x'),
    ("two objects on a line", b'{"jsonrpc":"2.0","id":1,"method":"ping"}{"jsonrpc":"2.0","id":2,"method":"ping"}'),
    ("missing colon", b'{"jsonrpc" "2.0"}'),
    ("unquoted key", b'{jsonrpc:"2.0"}'),
    ("bare word", b"hello"),
    ("truncated literal", b'{"jsonrpc":"2.0","id":1,"method":"ping","params":tru}'),
    ("leading zero", b'{"jsonrpc":"2.0","id":01,"method":"ping"}'),
    ("lone minus", b'{"jsonrpc":"2.0","id":-,"method":"ping"}'),
    ("bad escape", b'{"jsonrpc":"2.0","id":1,"method":"pi\\xng"}'),
    ("short \\u escape", b'{"jsonrpc":"2.0","id":1,"method":"\\u12"}'),
    ("unterminated string", b'{"jsonrpc":"2.0","id":"abc'),
    ("invalid UTF-8 in a string", b'{"jsonrpc":"2.0","id":1,"method":"ping","params":{"x":"\xff\xfe"}}'),
    ("invalid UTF-8 in a key", b'{"jsonrpc":"2.0","id":1,"method":"ping","params":{"\xc3":1}}'),
    ("overlong UTF-8", b'{"jsonrpc":"2.0","id":1,"method":"ping","params":{"x":"\xc0\xaf"}}'),
    ("UTF-8 surrogate", b'{"jsonrpc":"2.0","id":1,"method":"ping","params":{"x":"\xed\xa0\x80"}}'),
    ("truncated UTF-8 sequence", b'{"jsonrpc":"2.0","id":1,"method":"ping","params":{"x":"\xe6\x97"}}'),
    ("invalid UTF-8 in the id", b'{"jsonrpc":"2.0","id":"\xfe","method":"ping"}'),
    ("byte outside any string", b'{"jsonrpc":"2.0",\x80"id":1,"method":"ping"}'),
    ("raw NUL between members", b'{"jsonrpc":"2.0",\x00"id":1,"method":"ping"}'),
    ("raw NUL inside a string", b'{"jsonrpc":"2.0","id":1,"method":"pi\x00ng"}'),
    ("raw NUL at the start", b'\x00{"jsonrpc":"2.0","id":1,"method":"ping"}'),
    ("control character in a string", b'{"jsonrpc":"2.0","id":1,"method":"pi\x01ng"}'),
    ("raw tab in a string", b'{"jsonrpc":"2.0","id":"a\tb","method":"ping"}'),
    ("escape character in a string", b'{"jsonrpc":"2.0","id":1,"method":"ping","params":{"x":"\x1b[31m"}}'),
    ("deep arrays (10000)", b"[" * 10000 + b"]" * 10000),
    ("deep objects (10000)", b'{"a":' * 10000 + b"1" + b"}" * 10000),
    ("deep unterminated arrays", b"[" * 10000),
    ("deep params (10000)", b'{"jsonrpc":"2.0","id":1,"method":"ping","params":{"x":' + b"[" * 10000
     + b"]" * 10000 + b"}}"),
]

with start() as s:
    initialize(s)
    for name, raw in PARSE:
        expect_error(s, raw, -32700, name, "Parse error")

    # a raw newline inside a string splits the message into two broken lines
    s.write_raw(b'{"jsonrpc":"2.0","id":1,"method":"ping","params":{"x":"a\nb"}}\n')
    r1, r2 = msg(s), msg(s)
    ok(err_code(r1) == -32700 and err_code(r2) == -32700, "a raw newline in a string: two parse errors",
       [r1, r2])
    still_alive(s, "after a split message")

    # valid JSON that is not a request object
    for name, raw in [("number", b"42"), ("string", b'"ping"'), ("null", b"null"), ("true", b"true")]:
        expect_error(s, raw, -32600, f"top-level {name}")

    # nesting that is deep but reasonable is fine
    nested = {"jsonrpc": "2.0", "id": "nest", "method": "tools/call",
              "params": {"name": "query", "arguments": {"sql": "SELECT $1::jsonb AS j",
                                                         "params": [json.dumps([[[[[[1]]]]]])]}}}
    r = rpc(s, "tools/call", "nest", nested["params"])
    ok("result" in r, "moderately nested arguments are accepted", r)

    # ---------------------------------------------------------------- wrong types and missing params
    r = rpc(s, "tools/call", 10, {"name": 42, "arguments": {}})
    is_(err_code(r), -32602, "tools/call with a numeric name is -32602")
    r = rpc(s, "tools/call", 11, {"name": "query", "arguments": "SELECT 1"})
    is_(err_code(r), -32602, "tools/call with string arguments is -32602")
    like(err_msg(r), "arguments", "the error names arguments")
    r = rpc(s, "tools/call", 12, {"name": "query", "arguments": ["SELECT 1"]})
    is_(err_code(r), -32602, "tools/call with array arguments is -32602")
    r = rpc(s, "tools/call", 13, {"name": "query", "arguments": {"sql": 42}})
    ok((r.get("result") or {}).get("isError") is True, "query with sql as a number: isError", r)
    like(json.dumps(r.get("result")), "sql", "the tool error names sql")
    r = rpc(s, "tools/call", 14, {"name": "query", "arguments": {}})
    ok((r.get("result") or {}).get("isError") is True and "sql" in json.dumps(r.get("result")),
       "query without sql: isError naming sql", r)
    r = rpc(s, "tools/call", 15, {"name": "query", "arguments": {"sql": "SELECT 1", "params": "x"}})
    ok((r.get("result") or {}).get("isError") is True, "query with params as a string: isError", r)
    r = rpc(s, "tools/call", 16, {"name": "query", "arguments": {"sql": "SELECT 1", "bogus": 1}})
    ok((r.get("result") or {}).get("isError") is True and "bogus" in json.dumps(r.get("result")),
       "query with an unknown argument: isError naming it", r)
    r = rpc(s, "tools/call", 17, {"name": "describe_table", "arguments": {"table": ["x"]}})
    ok((r.get("result") or {}).get("isError") is True, "describe_table with table as an array: isError", r)
    r = rpc(s, "tools/call", 18, {"name": "no_such_tool", "arguments": {}})
    is_(err_code(r), -32602, "unknown tool is -32602")
    like(err_msg(r), "Unknown tool", "the error says Unknown tool")
    r = rpc(s, "tools/call", 19, {"name": "execute", "arguments": {"sql": "CREATE TABLE t0015(x int)"}})
    is_(err_code(r), -32602, "execute in read_only mode is -32602")
    like(err_msg(r), "read_write", "the error explains execute needs read_write")
    r = rpc(s, "tools/call", 20, {"name": "", "arguments": {}})
    is_(err_code(r), -32602, "tools/call with an empty name is -32602")

    missing = [
        ("tools/call", None), ("tools/call", {}), ("tools/call", {"arguments": {}}),
        ("resources/read", None), ("resources/read", {}), ("resources/read", {"uri": 5}),
        ("prompts/get", None), ("prompts/get", {}), ("prompts/get", {"name": 5}),
        ("completion/complete", None), ("completion/complete", {}),
        ("completion/complete", {"ref": {"type": "ref/prompt", "name": "x"}}),
        ("completion/complete", {"argument": {"name": "schema", "value": ""}}),
        ("completion/complete", {"ref": "x", "argument": "y"}),
        ("logging/setLevel", None), ("logging/setLevel", {}),
    ]
    for i, (method, params) in enumerate(missing):
        r = rpc(s, method, 100 + i, params)
        is_(err_code(r), -32602, f"{method} with params {json.dumps(params)}: -32602")
    for i, method in enumerate(["tools/list", "resources/list", "resources/templates/list",
                                "prompts/list", "ping"]):
        r = rpc(s, method, 200 + i)
        ok("result" in r, f"{method} without params works", r)
    still_alive(s, "after the parameter checks")

    # ---------------------------------------------------------------- framing details
    s.write_raw(b'{"jsonrpc":"2.0","id":"crlf","method":"ping"}\r\n')
    r = msg(s)
    is_((r.get("id"), r.get("result")), ("crlf", {}), "CRLF line endings are accepted")
    s.write_raw(b'\n\n   \n\r\n\t\n')
    still_alive(s, "blank lines are ignored")
    s.write_raw(b'   {"jsonrpc":"2.0","id":"ws","method":"ping"}   \n')
    r = msg(s)
    is_(r.get("id"), "ws", "whitespace around a message is accepted")
    s.write_raw(b'{"jsonrpc":"2.0","id":"a","method":"ping"}\n{"jsonrpc":"2.0","id":"b","method":"ping"}\n'
                b'{"jsonrpc":"2.0","id":"c","method":"ping"}\n')
    got = [msg(s).get("id") for _ in range(3)]
    is_(got, ["a", "b", "c"], "several messages in one write are answered in order")
    # a message split across writes
    s.write_raw(b'{"jsonrpc":"2.0",')
    time.sleep(0.2)
    s.write_raw(b'"id":"split","method"')
    time.sleep(0.2)
    s.write_raw(b':"ping"}\n')
    r = msg(s)
    is_(r.get("id"), "split", "a message arriving in pieces is assembled")
    s.close()

# ---------------------------------------------------------------- oversized lines
with start("--set", "limits.max_message_bytes=4096") as s:
    initialize(s)
    pad = lambda n: ('{"jsonrpc":"2.0","id":"big","method":"ping","params":{"pad":"' + "x" * n + '"}}').encode()
    base = len(pad(0))
    exact = pad(4096 - base)
    is_(len(exact), 4096, "test message of exactly max_message_bytes")
    s.write_raw(exact + b"\n")
    r = msg(s)
    is_((r.get("id"), r.get("result")), ("big", {}), "a message of exactly max_message_bytes is served")
    expect_error(s, pad(4097 - base), -32600, "one byte over max_message_bytes", "max_message_bytes")
    expect_error(s, pad(10 * 1024), -32600, "a 10 KB line", "max_message_bytes")

    # 1 MB without a newline, in pieces, then the newline: exactly one error
    chunk = b"y" * 65536
    for _ in range(16):
        s.write_raw(chunk)
    time.sleep(0.3)
    s.write_raw(b"\n")
    r = msg(s)
    ok(err_code(r) == -32600 and r.get("id") is None and "max_message_bytes" in err_msg(r),
       "1 MB without a newline: one -32600 naming max_message_bytes", r)
    still_alive(s, "after 1 MB without a newline (only one error)")

    # an oversized JSON request followed by a valid one in the same write
    s.write_raw(b'{"jsonrpc":"2.0","id":"huge","method":"ping","params":{"p":"' + b"z" * 20000 + b'"}}\n'
                b'{"jsonrpc":"2.0","id":"after","method":"ping"}\n')
    r1, r2 = msg(s), msg(s)
    ok(err_code(r1) == -32600 and r2.get("id") == "after", "the request after an oversized one is served",
       [r1, r2])
    # the oversized request was not executed under its id
    ok(r1.get("id") is None, "an oversized request is not answered under its id", r1)
    still_alive(s, "after the oversized checks")
    s.close()

# ---------------------------------------------------------------- EOF handling
s = start()
s.write_raw(json.dumps(req("initialize", 1, {"protocolVersion": LATEST, "capabilities": {}})).encode()
            + b"\n" + b'{"jsonrpc":"2.0","id":9,"method":"ping"}')
s.proc.stdin.close()
r1, r2 = msg(s), msg(s)
is_((r1.get("result") or {}).get("protocolVersion"), LATEST, "EOF mid-stream: initialize answered")
is_((r2.get("id"), r2.get("result")), (9, {}), "EOF: a last message without a newline is answered")
is_(line(s, 5), None, "EOF: nothing more on stdout")
rc = s.close()
is_(rc, 0, "EOF after an unterminated valid message: exit 0")

s = start()
s.write_raw(json.dumps(req("initialize", 1, {"protocolVersion": LATEST, "capabilities": {}})).encode()
            + b"\n" + b'{"jsonrpc":"2.0","id":9,"meth')
s.proc.stdin.close()
r1, r2 = msg(s), msg(s)
is_((r1.get("result") or {}).get("protocolVersion"), LATEST, "truncated EOF: initialize answered")
ok(err_code(r2) == -32700 and r2.get("id") is None, "truncated EOF: the partial message gets -32700", r2)
rc = s.close()
is_(rc, 0, "EOF after a truncated invalid message: exit 0")

s = start()
s.write_raw(json.dumps(req("initialize", 1, {"protocolVersion": LATEST, "capabilities": {}})).encode()
            + b"\n" + json.dumps(req("tools/call", 2, {"name": "query", "arguments": {
                "sql": "SELECT pg_sleep(0.5), 7 AS seven"}})).encode() + b"\n")
s.proc.stdin.close()
r1, r2 = msg(s), msg(s, 20)
while "method" in r2 and "id" not in r2:
    r2 = msg(s, 20)
ok(r2.get("id") == 2 and ((r2.get("result") or {}).get("structuredContent") or {}).get("rows", [{}])[0].get("seven") == 7,
   "stdin closed while a query runs: the answer still arrives", r2)
is_(s.close(), 0, "stdin closed while a query runs: exit 0")

s = start()
s.proc.stdin.close()
rc = s.close()
is_(rc, 0, "EOF with no input at all: exit 0")
is_(s.raw_lines, [], "EOF with no input: nothing on stdout")

s = start()
initialize(s)
r = rpc(s, "tools/call", 2, {"name": "query", "arguments": {"sql": "SELECT 1 AS one"}})
ok("result" in r, "a normal session: query answered", r)
rc = s.close()
is_(rc, 0, "a normal session: exit 0 when stdin closes")

s = start()
initialize(s)
rc = s.close()
is_(rc, 0, "a session with only initialize: exit 0 when stdin closes")

# ---------------------------------------------------------------- stdout hygiene
for s in servers:
    s.close()
bad = []
for s in servers:
    for raw in s.raw_lines:
        try:
            v = json.loads(raw)
            if not (isinstance(v, list) or (isinstance(v, dict) and v.get("jsonrpc") == "2.0")):
                bad.append(raw[:200])
        except ValueError:
            bad.append(raw[:200])
is_(bad, [], "every stdout line is a JSON-RPC message")
is_([s.proc.returncode for s in servers if s.proc.returncode != 0], [], "every server exited 0 at EOF")
ok(any("max_message_bytes" in s.stderr() for s in servers), "the oversized-line warning is logged on stderr")
ok(all("connected to PostgreSQL" not in b"".join(s.raw_lines).decode("utf-8", "replace") for s in servers),
   "log lines never reach stdout")
done()
