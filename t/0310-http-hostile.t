#!/usr/bin/env python3
# t/0310-http-hostile.t: the daemon against hostile and broken HTTP clients. Request smuggling
# shapes (Content-Length with Transfer-Encoding, duplicate Content-Length, obs-fold, bare CR,
# bare LF, invalid chunk sizes) → 400 and the connection closed; header block and header count
# limits → 431; body limits → 413 (Content-Length and chunked); slowloris heads and bodies cut
# off at their deadlines without pinning the only worker; idle keep-alive closed after
# http.idle_timeout; a client that never reads its response does not hold the worker; bad
# methods, paths and percent-encoding; invalid UTF-8, NUL and 10,000-deep JSON bodies; bearer
# tokens (environment and file, constant-time comparison measured loosely, fail closed on an
# unreadable file, no bypass through framed JSON-RPC); Origin checks (loopback by default,
# http.allowed_origins); 503 with Retry-After when every worker is busy; framed JSON-RPC on the
# HTTP port.
import json
import os
import socket
import statistics
import tempfile
import threading
import time

from tap import ok, is_, like, diag, done
from pgmcp_test import LATEST
from daemon_test import (Daemon, HttpConn, Mcp, SLOW, build_request, request, raw_exchange,
                         modern_meta, modern_headers, active_queries, wait_until,
                         crash_is_failure)

crash_is_failure()
daemons = []
tmp = tempfile.mkdtemp(prefix="pgmcp-t0310-")


def start(*args, **kw):
    d = Daemon(*args, **kw)
    daemons.append(d)
    return d


INIT = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize",
                   "params": {"protocolVersion": LATEST, "capabilities": {},
                              "clientInfo": {"name": "hostile", "version": "1"}}}).encode()
JSON_HEADERS = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}


def head(method="GET", target="/healthz", lines=(), version="HTTP/1.1", host=True):
    """A request head from raw header lines (bytes or str), CRLF everywhere unless a line says."""
    out = f"{method} {target} {version}\r\n".encode()
    if host:
        out += b"Host: 127.0.0.1\r\n"
    for line in lines:
        out += line.encode() if isinstance(line, str) else line
        out += b"\r\n"
    return out + b"\r\n"


def refused(x, status=400):
    """The exchange got `status` (or one of them) and the server closed the connection."""
    want = status if isinstance(status, (tuple, list)) else (status,)
    return x.status in want and x.closed and b"HTTP/" not in x.extra


# =============================================================== H: general hostility, 4 workers
H = start(workers=4, log_level="debug",
          sets=["limits.max_message_bytes=64kB", "http.header_timeout=3s", "http.idle_timeout=1s"])
P = H.port
ok(H.request("GET", "/healthz").status == 200, "the daemon is up")

# ------------------------------------------------------------- framed JSON-RPC on the same port
fs = socket.create_connection(("127.0.0.1", P), timeout=10 * SLOW)
ff = fs.makefile("rwb")
ff.write(INIT + b"\n")
ff.write(b'{"jsonrpc":"2.0","method":"notifications/initialized"}\n')
ff.write(json.dumps({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
                     "params": {"name": "query", "arguments": {"sql": "SELECT 41 + 1 AS n"}}}).encode() + b"\n")
ff.write(b'{"jsonrpc":"2.0","id":3,"method":\n')
ff.flush()
lines = []
try:
    for _ in range(3):
        lines.append(json.loads(ff.readline()))
except Exception as e:  # noqa: BLE001
    lines.append(repr(e))
ok(len(lines) == 3 and isinstance(lines[0], dict) and lines[0].get("id") == 1 and
   lines[0].get("result", {}).get("protocolVersion") == LATEST,
   "framed JSON-RPC on the HTTP port: initialize", lines)
ok(len(lines) >= 2 and isinstance(lines[1], dict) and
   ((lines[1].get("result") or {}).get("structuredContent") or {}).get("rows") == [{"n": 42}],
   "framed JSON-RPC on the HTTP port: tools/call query", lines)
ok(len(lines) >= 3 and isinstance(lines[2], dict) and (lines[2].get("error") or {}).get("code") == -32700,
   "framed JSON-RPC on the HTTP port: a broken line is a parse error", lines)
fs.close()
fs = socket.create_connection(("127.0.0.1", P), timeout=10 * SLOW)
fs.sendall(b'  \r\n [{"jsonrpc":"2.0","id":"p","method":"ping"}]\n')
fs.settimeout(10 * SLOW)
try:
    first = fs.recv(4096)
except OSError as e:
    first = repr(e).encode()
fs.close()
ok(first.startswith(b"{") or first.startswith(b"["),
   "leading whitespace then '[' is sniffed as framed JSON-RPC", first)

# ------------------------------------------------------------------------- smuggling shapes
POST = ["Content-Type: application/json"]
smuggling = [
    ("Content-Length with Transfer-Encoding",
     head("POST", "/mcp", POST + ["Content-Length: 5", "Transfer-Encoding: chunked"]) + b"0\r\n\r\n"),
    ("Transfer-Encoding with Content-Length",
     head("POST", "/mcp", POST + ["Transfer-Encoding: chunked", "Content-Length: 5"]) + b"0\r\n\r\n"),
    ("duplicate Content-Length (same value)",
     head("POST", "/mcp", POST + ["Content-Length: 2", "Content-Length: 2"]) + b"{}"),
    ("duplicate Content-Length (different values)",
     head("POST", "/mcp", POST + ["Content-Length: 2", "Content-Length: 40"]) + b"{}"),
    ("Content-Length list", head("POST", "/mcp", POST + ["Content-Length: 2, 2"]) + b"{}"),
    ("negative Content-Length", head("POST", "/mcp", POST + ["Content-Length: -1"])),
    ("Content-Length with a plus sign", head("POST", "/mcp", POST + ["Content-Length: +2"]) + b"{}"),
    ("Content-Length in hex", head("POST", "/mcp", POST + ["Content-Length: 0x2"]) + b"{}"),
    ("Content-Length overflowing 64 bits",
     head("POST", "/mcp", POST + ["Content-Length: 99999999999999999999999"])),
    ("space before the colon", head("POST", "/mcp", POST + ["Content-Length : 2"]) + b"{}"),
    ("obs-fold (continuation line)",
     head("GET", "/healthz", ["X-A: one", " folded-continuation"])),
    ("obs-fold with a tab", head("GET", "/healthz", ["X-A: one", "\tfolded"])),
    ("bare CR inside a header line", head("GET", "/healthz", [b"X-A: one\rX-B: two"])),
    ("bare CR at the end of a header line", head("GET", "/healthz", [b"X-A: one\r"])),
    ("bare LF between header lines", head("GET", "/healthz", [b"X-A: one\nX-B: two"])),
    ("NUL in a header value", head("GET", "/healthz", [b"X-A: o\x00ne"])),
    ("control character in a header value", head("GET", "/healthz", [b"X-A: o\x07ne"])),
    ("two Host headers", head("GET", "/healthz", ["Host: other.example"])),
    ("HTTP/1.1 without Host", head("GET", "/healthz", [], host=False)),
    ("a header line without a colon", head("GET", "/healthz", ["NoColonHere"])),
]
for name, data in smuggling:
    x = raw_exchange(P, data, timeout=5 * SLOW, close_wait=3 * SLOW)
    ok(refused(x), f"{name} → 400 and the connection is closed", x)

# A complete request head using bare LF line ends (no CR anywhere).
x = raw_exchange(P, b"GET /healthz HTTP/1.1\nHost: 127.0.0.1\n\n", timeout=10 * SLOW,
                 close_wait=2 * SLOW)
ok(refused(x) and x.elapsed < 2 * SLOW,
   "a head with bare LF line ends → 400 at once (not a wait for the header timeout)", x)

# A smuggled second request behind a refused one is never answered.
x = raw_exchange(P, head("POST", "/mcp", POST + ["Content-Length: 4", "Transfer-Encoding: chunked"])
                 + b"0\r\n\r\n" + head("GET", "/healthz"), timeout=5 * SLOW)
ok(refused(x), "a request smuggled behind a CL+TE request is not answered", x)

# Chunked bodies with bad chunk sizes.
chunk_cases = [
    ("a non-hex chunk size", b"zz\r\nhello\r\n0\r\n\r\n"),
    ("a negative chunk size", b"-5\r\nhello\r\n0\r\n\r\n"),
    ("a 0x-prefixed chunk size", b"0x5\r\nhello\r\n0\r\n\r\n"),
    ("a chunk size overflowing 64 bits", b"1ffffffffffffffff\r\nhello\r\n0\r\n\r\n"),
    ("a chunk size with a leading space", b" 5\r\nhello\r\n0\r\n\r\n"),
    ("an empty chunk size line", b"\r\nhello\r\n0\r\n\r\n"),
    ("chunk data longer than its size", b"3\r\nhello\r\n0\r\n\r\n"),
    ("a chunk size line ended by a bare LF", b"5\nhello\r\n0\r\n\r\n"),
]
for name, body in chunk_cases:
    x = raw_exchange(P, head("POST", "/mcp", POST + ["Transfer-Encoding: chunked"]) + body,
                     timeout=5 * SLOW, close_wait=3 * SLOW)
    ok(refused(x), f"chunked: {name} → 400 and the connection is closed", x)
for name, te in [("gzip", "gzip"), ("chunked, gzip", "chunked, gzip"), ("xchunked", "xchunked")]:
    x = raw_exchange(P, head("POST", "/mcp", POST + [f"Transfer-Encoding: {te}"]) + b"0\r\n\r\n",
                     timeout=5 * SLOW)
    ok(refused(x, (400, 501)), f"Transfer-Encoding: {te} → 501 (or 400) and closed", x)
x = raw_exchange(P, head("POST", "/mcp", POST + ["Transfer-Encoding: chunked"]) +
                 b"%x\r\n" % 10 + INIT[:10] + b"\r\n" + b"%x;ext=1\r\n" % (len(INIT) - 10) +
                 INIT[10:] + b"\r\n0\r\nX-Trailer: t\r\n\r\n", timeout=5 * SLOW, close_wait=0.3)
ok(x.status == 200 and x.response.header("Mcp-Session-Id"),
   "a well-formed chunked body (two chunks, an extension, a trailer) is served", x)

# ------------------------------------------------------------------------------ header limits
x = raw_exchange(P, head("GET", "/healthz", ["X-Big: " + "a" * 20000]), timeout=5 * SLOW)
ok(refused(x, 431), "a header block over http.max_header_bytes (16kB) → 431 and closed", x)
x = raw_exchange(P, head("GET", "/healthz", [f"X-H{i}: {'b' * 200}" for i in range(100)]),
                 timeout=5 * SLOW)
ok(refused(x, 431), "a 20kB header block of 100 lines → 431 and closed", x)
x = raw_exchange(P, head("GET", "/healthz", [f"X-H{i}: v" for i in range(80)]), timeout=5 * SLOW)
ok(refused(x, 431), "80 header fields (over http.max_headers = 64) → 431 and closed", x)
x = raw_exchange(P, head("GET", "/healthz", [f"X-H{i}: v" for i in range(50)]), timeout=5 * SLOW,
                 close_wait=0.3)
is_(x.status, 200, "50 header fields are fine")
x = raw_exchange(P, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 40000, timeout=5 * SLOW)
ok(refused(x, 431), "an unterminated 40kB head → 431 without waiting for its end", x)

# ------------------------------------------------------------------------------- body limits
big = b'{"jsonrpc":"2.0","id":1,"method":"ping","params":{"pad":"' + b"a" * 70000 + b'"}}'
x = raw_exchange(P, head("POST", "/mcp", POST + [f"Content-Length: {len(big)}"]) + big,
                 timeout=5 * SLOW)
ok(refused(x, 413), "a body over limits.max_message_bytes (64kB) → 413 and closed", x)
x = raw_exchange(P, head("POST", "/mcp", POST + ["Content-Length: 70000"]), timeout=5 * SLOW)
ok(refused(x, 413), "413 is answered from Content-Length alone, before any body byte", x)
x = raw_exchange(P, head("POST", "/mcp", POST + ["Content-Length: 70000", "Expect: 100-continue"]),
                 timeout=5 * SLOW)
ok(refused(x, 413), "Expect: 100-continue with a body too large → 413 (no 100 Continue)", x)
chunks = b"".join(b"4000\r\n" + b"a" * 0x4000 + b"\r\n" for _ in range(6)) + b"0\r\n\r\n"
x = raw_exchange(P, head("POST", "/mcp", POST + ["Transfer-Encoding: chunked"]) + chunks,
                 timeout=5 * SLOW)
ok(refused(x, 413), "a chunked body over the limit → 413 and closed", x)
x = raw_exchange(P, head("POST", "/mcp", POST + ["Transfer-Encoding: chunked"]) +
                 b"100000\r\n" + b"a" * 100, timeout=5 * SLOW)
ok(refused(x, 413), "a single chunk announced over the limit → 413 at once", x)
x = raw_exchange(P, head("POST", "/mcp", POST), timeout=5 * SLOW)
ok(refused(x, (400, 411)), "POST without Content-Length or chunked → 411 (or 400)", x)
m = Mcp(P)
m.initialize()
ok(m.sid is not None, "a session for the JSON tests")
fits = json.dumps({"jsonrpc": "2.0", "id": 5, "method": "ping", "params": {"pad": "a" * 60000}})
r = m.post(None, raw=fits.encode())
ok(r.status == 200 and r.result == {}, "a 60kB body under the limit is served", r)

# ------------------------------------------------------------------- methods, paths, targets
for method, path, want in [("GET", "/", 404), ("GET", "/nope", 404), ("GET", "/mcp/", 404),
                           ("GET", "/MCP", 404), ("GET", "/healthz/", 404),
                           ("PUT", "/mcp", 405), ("PATCH", "/mcp", 405), ("BREW", "/mcp", 405),
                           ("GET", "/mcp", 405), ("POST", "/sse", 405), ("DELETE", "/sse", 405),
                           ("GET", "/messages", 405), ("PUT", "/messages", 405)]:
    r = request(P, method, path, headers=JSON_HEADERS if method != "GET" else None,
                body=b"{}" if method in ("PUT", "PATCH", "POST", "BREW") else None)
    ok(r.status == want, f"{method} {path} → {want}", r)
    if want == 405:
        ok(r.header("Allow"), f"{method} {path}: the 405 has an Allow header", r.headers)
r = request(P, "POST", "/healthz", headers=JSON_HEADERS, body=b"{}")
ok(r.status in (404, 405), "POST /healthz → 404 or 405", r)
for name, data, want in [
        ("a method with a bad character", head("G(T", "/healthz"), (400,)),
        ("a target without a leading slash", head("GET", "healthz"), (400,)),
        ("an absolute-form target", head("GET", "http://evil.example/healthz"), (400, 404, 200)),
        ("HTTP/2.0 on an HTTP/1 connection", head("GET", "/healthz", version="HTTP/2.0"), (505, 400)),
        ("HTTP/1.2", head("GET", "/healthz", version="HTTP/1.2"), (505, 400)),
        ("a request line without a version", b"GET /healthz\r\nHost: x\r\n\r\n", (400,)),
        ("a request line with two spaces", b"GET  /healthz HTTP/1.1\r\nHost: x\r\n\r\n", (400,)),
        ("a control character in the target", head("GET", "/heal\x01thz"), (400,)),
        ("a non-ASCII byte in the target", b"GET /heal\xffthz HTTP/1.1\r\nHost: x\r\n\r\n", (400,)),
        ("Expect: something else", head("GET", "/healthz", ["Expect: teapot"]), (417, 400)),
]:
    x = raw_exchange(P, data, timeout=5 * SLOW, close_wait=1)
    ok(x.status in want and (x.status == 200 or x.closed), f"{name} → {'/'.join(map(str, want))}", x)
x = raw_exchange(P, b"GET /healthz HTTP/1.0\r\n\r\n", timeout=5 * SLOW)
ok(x.status == 200 and x.closed, "HTTP/1.0 without Host is served and the connection closed", x)

# Percent-encoding.
r = request(P, "POST", "/m%63p", headers=JSON_HEADERS, body=INIT)
ok(r.status == 200 and r.header("Mcp-Session-Id"), "/m%63p is /mcp (initialize works)", r)
r = request(P, "POST", "/%6D%63%70", headers=JSON_HEADERS, body=INIT)
ok(r.status == 200, "/%6D%63%70 (upper-case escapes) is /mcp", r)
r = request(P, "POST", "/mcp?x=1&y=%zz", headers=JSON_HEADERS, body=INIT)
ok(r.status == 200, "a query string on /mcp is ignored", r)
for target in ["/mcp%00", "/%00mcp", "/mcp%zz", "/mcp%4", "/mcp%", "/%2e%2e/mcp", "/..%2fmcp",
               "/%2fmcp", "/mcp%2f", "/mc%70%00/x", "/%252e%252e/mcp"]:
    x = raw_exchange(P, head("POST", target, POST + [f"Content-Length: {len(INIT)}"]) + INIT,
                     timeout=5 * SLOW, close_wait=0.5)
    ok(x.status in (400, 404), f"{target} → 400 or 404 (never the MCP endpoint)", x)

# ------------------------------------------------------------------------------- JSON bodies
json_cases = [
    ("invalid UTF-8 (0xff)", b'{"jsonrpc":"2.0","id":1,"method":"ping","params":{"x":"\xff\xfe"}}'),
    ("an overlong UTF-8 encoding", b'{"jsonrpc":"2.0","id":1,"method":"ping","params":{"x":"\xc0\xaf"}}'),
    ("a UTF-8-encoded surrogate", b'{"jsonrpc":"2.0","id":1,"method":"ping","params":{"x":"\xed\xa0\x80"}}'),
    ("a truncated UTF-8 sequence", b'{"jsonrpc":"2.0","id":1,"method":"ping","params":{"x":"\xe2\x82"}}'),
    ("a raw NUL inside a string", b'{"jsonrpc":"2.0","id":1,"method":"ping","params":{"x":"a\x00b"}}'),
    ("a NUL after the JSON", b'{"jsonrpc":"2.0","id":1,"method":"ping"}\x00'),
    ("a NUL before the JSON", b'\x00{"jsonrpc":"2.0","id":1,"method":"ping"}'),
    ("garbage after the JSON", b'{"jsonrpc":"2.0","id":1,"method":"ping"} x'),
    ("two JSON objects", b'{"jsonrpc":"2.0","id":1,"method":"ping"}{"jsonrpc":"2.0","id":2,"method":"ping"}'),
    ("an empty body", b""),
    ("whitespace only", b"  \r\n "),
    ("a raw control character in a string", b'{"jsonrpc":"2.0","id":1,"method":"ping","params":{"x":"a\x01b"}}'),
    ("arrays nested 10,000 deep", b"[" * 10000 + b"]" * 10000),
    ("objects nested 10,000 deep", b'{"a":' * 10000 + b"1" + b"}" * 10000),
    ("params nested 10,000 deep", b'{"jsonrpc":"2.0","id":1,"method":"ping","params":{"x":' +
     b"[" * 10000 + b"]" * 10000 + b"}}"),
]
for name, body in json_cases:
    t0 = time.time()
    r = m.post(None, raw=body, timeout=10 * SLOW)
    ok(r.status == 400 and r.error_code() in (-32700, -32600) and time.time() - t0 < 3 * SLOW,
       f"JSON body with {name} → 400 with a JSON-RPC error", r)
r = m.post(None, raw=b'{"jsonrpc":"2.0","id":1,"method":"ping","params":{"x":"\\u0000 ok \xc3\xa9"}}')
ok(r.status == 200 and r.result == {}, "escaped \\u0000 and valid UTF-8 are accepted", r)
r = m.rpc("ping")
ok(r.status == 200, "the session still works after the hostile bodies", r)

# ---------------------------------------------------------------- Origin (loopback by default)
for origin, want in [("https://evil.example", 403), ("null", 403),
                     ("http://localhost.evil.example", 403), ("http://127.0.0.1.evil.example", 403),
                     (f"http://localhost:{P}", 200), (f"http://127.0.0.1:{P}", 200),
                     ("http://localhost", 200), (f"http://[::1]:{P}", 200)]:
    r = request(P, "POST", "/mcp", headers=dict(JSON_HEADERS, Origin=origin), body=INIT)
    ok(r.status == want, f"Origin {origin} → {want} by default", r)
r = request(P, "GET", "/sse", headers={"Origin": "https://evil.example"})
ok(r.status == 403, "GET /sse with a foreign Origin → 403", r)
r = request(P, "POST", "/messages?sessionId=x", headers=dict(JSON_HEADERS, Origin="https://evil.example"),
            body=b"{}")
ok(r.status == 403, "POST /messages with a foreign Origin → 403", r)

# ------------------------------------------------------------------------- idle keep-alive
with HttpConn(P) as c:
    r = c.request("GET", "/healthz")
    t0 = time.time()
    closed = c.closed_by_server(6 * SLOW)
    idle = time.time() - t0
ok(r.status == 200 and (r.header("Connection") or "").lower() != "close",
   "a keep-alive response leaves the connection open", r)
ok(closed and 0.7 <= idle <= 1.0 + 2 * SLOW,
   f"an idle keep-alive connection is closed after http.idle_timeout = 1s ({idle:.2f} s)")
with HttpConn(P) as c:
    c.send(b"GET /heal")
    t0 = time.time()
    x = None
    try:
        x = c.read_response(timeout=10 * SLOW)
    except Exception as e:  # noqa: BLE001
        x = repr(e)
    took = time.time() - t0
ok(took <= 3 + 2 * SLOW and (not hasattr(x, "status") or x.status == 408),
   f"a half-sent request head is cut off at http.header_timeout = 3s ({took:.2f} s)", x)
with HttpConn(P) as c:
    t0 = time.time()
    closed = c.closed_by_server(8 * SLOW)
    took = time.time() - t0
ok(closed and took <= 3 + 2 * SLOW, f"a connection that sends nothing is closed by the header "
   f"timeout ({took:.2f} s)")

# ============================================ S: one worker, slowloris and non-reading clients
S = start(workers=1, sets=["http.header_timeout=1s", "http.request_timeout=2s",
                           "http.queue_timeout=0", "limits.max_result_bytes=8MB"])
slow = {}


def slowloris():
    c = HttpConn(S.port, timeout=30)
    t0 = time.time()
    try:
        c.send(b"G")
        for ch in b"ET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaa":
            time.sleep(1.0)
            c.send(bytes([ch]))
        slow["outcome"] = "sent everything"
    except OSError as e:
        slow["outcome"] = repr(e)
    slow["cut_after"] = time.time() - t0
    try:
        slow["got"] = bytes(c.buf) + c.sock.recv(4096)
    except OSError as e:
        slow["got"] = repr(e).encode()
    c.close()


th = threading.Thread(target=slowloris)
th.start()
time.sleep(0.3)
t0 = time.time()
r = request(S.port, "GET", "/healthz", timeout=15)
served_in = time.time() - t0
ok(r.status == 200 and served_in <= 2.0 * SLOW,
   f"with one worker and a slowloris client, another client is served in {served_in:.2f} s", r)
th.join(40)
ok(slow.get("cut_after", 99) <= 1 + 3 * SLOW,
   f"the slowloris client (one byte per second) is cut off after {slow.get('cut_after', -1):.2f} s", slow)
ok(b"408" in slow.get("got", b"") or slow.get("got") in (b"",) or b"Errno" in slow.get("got", b""),
   "the slowloris client gets 408 or a closed connection", slow.get("got"))

# A body sent one byte per second is cut off by http.request_timeout.
c = HttpConn(S.port, timeout=30)
c.send(head("POST", "/mcp", ["Content-Type: application/json", "Content-Length: 100"]))
t0 = time.time()
got = None
try:
    for _ in range(30):
        c.send(b" ")
        if c.closed_by_server(1.0):
            break
    got = bytes(c.buf)
except OSError as e:
    got = repr(e).encode()
took = time.time() - t0
c.close()
ok(took <= 2 + 3 * SLOW, f"a body trickled one byte per second is cut off by http.request_timeout "
   f"({took:.2f} s)", got)
like(got.decode("latin-1"), "408", "the trickled body gets 408")

# A client that never reads a 16 MB response.
nr = HttpConn(S.port, rcvbuf=4096)
h = dict(JSON_HEADERS, Accept="application/json")
h.update(modern_headers("tools/call", "query"))
body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                   "params": {"name": "query", "_meta": modern_meta(),
                              "arguments": {"sql": "SELECT repeat('x', 8000) AS x "
                                                   "FROM generate_series(1, 1000)"}}})
nr.send(build_request("POST", "/mcp", h, body, port=S.port))
time.sleep(1.0)
t0 = time.time()
try:
    r = request(S.port, "GET", "/healthz", timeout=30)
    status = r.status
except Exception as e:  # noqa: BLE001
    status = repr(e)
waited = time.time() - t0
nr.close()
ok(status == 200 and waited <= 2 + 4 * SLOW,
   f"a client that never reads its response frees the only worker after http.request_timeout "
   f"(next client served after {waited:.2f} s)", status)
r = request(S.port, "GET", "/healthz")
ok(r.status == 200, "the worker serves normally afterwards", r)

# ==================================================== B: every worker busy → 503 Retry-After
B = start(workers=1, sets=["http.queue_timeout=100ms"])
bm = Mcp(B.port)
busy = {}


def occupy():
    h = modern_headers("tools/call", "query")
    busy["r"] = bm.rpc("tools/call", {"name": "query", "_meta": modern_meta(),
                                      "arguments": {"sql": "SELECT pg_sleep(3.1)"}},
                       session=None, headers=h, timeout=30)


th = threading.Thread(target=occupy)
th.start()
ok(wait_until(lambda: active_queries("pg_sleep(3.1)") == 1, 15 * SLOW), "the only worker is busy")
t0 = time.time()
try:
    x = raw_exchange(B.port, head("GET", "/healthz"), timeout=10)
except Exception as e:  # noqa: BLE001
    x = None
    diag(repr(e))
took = time.time() - t0
ok(x is not None and x.status == 503 and took <= 1.0 * SLOW,
   f"a request while every worker is busy → 503 within {took:.2f} s", x)
ok(x is not None and x.response is not None and x.response.header("Retry-After"),
   "the 503 carries Retry-After", x)
ok(x is not None and x.closed, "the 503 closes the connection", x)
many = []
for _ in range(5):
    try:
        many.append(raw_exchange(B.port, head("POST", "/mcp", ["Content-Type: application/json",
                                                                f"Content-Length: {len(INIT)}"]) + INIT,
                                 timeout=10).status)
    except Exception as e:  # noqa: BLE001
        many.append(repr(e))
ok(all(s == 503 for s in many), "a POST with a body while busy also gets a clean 503 (5 tries)", many)
th.join(30)
ok(busy.get("r") is not None and busy["r"].status == 200, "the busy call itself completes", busy.get("r"))
r = request(B.port, "GET", "/healthz")
ok(r.status == 200, "once the worker is free, requests are served again", r)

# ============================================================== A: bearer tokens from the env
ALICE = "alice-" + "0123456789abcdefghijklmnopqrstuv"[:26]
BOB = "bob-" + "ZYXWVUTSRQPONMLKJIHGFEDCBA9876"[:28]
assert len(ALICE) == 32 and len(BOB) == 32
A = start(workers=2, env={"PGMCP_AUTH_TOKENS": f"alice:{ALICE},bob:{BOB}"},
          auth=f"Bearer {ALICE}")
r = request(A.port, "POST", "/mcp", headers=JSON_HEADERS, body=INIT)
ok(r.status == 401 and (r.header("WWW-Authenticate") or "").startswith("Bearer"),
   "no token → 401 with WWW-Authenticate: Bearer", r)
r = request(A.port, "POST", "/mcp", headers=dict(JSON_HEADERS, Authorization="Bearer " + "x" * 32),
            body=INIT)
ok(r.status == 401 and "invalid_token" in (r.header("WWW-Authenticate") or ""),
   "a wrong token → 401 with error=\"invalid_token\"", r)
for name, value in [("Basic credentials", "Basic YWxpY2U6c2VjcmV0"),
                    ("alice's token without the scheme", ALICE),
                    ("alice's token with one character changed", "Bearer " + ALICE[:-1] + "X"),
                    ("a prefix of alice's token", "Bearer " + ALICE[:16]),
                    ("alice's token with a suffix", "Bearer " + ALICE + "x"),
                    ("the name instead of the token", "Bearer alice"),
                    ("name:token", f"Bearer alice:{ALICE}"),
                    ("an empty bearer token", "Bearer ")]:
    r = request(A.port, "POST", "/mcp", headers=dict(JSON_HEADERS, Authorization=value), body=INIT)
    ok(r.status == 401, f"{name} → 401", r)
for who, tok in [("alice", ALICE), ("bob", BOB)]:
    r = request(A.port, "POST", "/mcp", headers=dict(JSON_HEADERS, Authorization=f"Bearer {tok}"),
                body=INIT)
    ok(r.status == 200 and r.header("Mcp-Session-Id"), f"{who}'s token → 200", r)
r = request(A.port, "POST", "/mcp", headers=dict(JSON_HEADERS, Authorization=f"bearer {ALICE}"),
            body=INIT)
ok(r.status == 200, "the Bearer scheme is case-insensitive", r)
am = Mcp(A.port, headers={"Authorization": f"Bearer {ALICE}"})
am.initialize()
r = am.call("query", {"sql": "SELECT 1 AS one"})
ok(r.status == 200 and (r.result or {}).get("isError") is False, "a call with alice's token works", r)
r = am.call("query", {"sql": "SELECT 1 AS one"}, headers={"Authorization": "Bearer nope-" + "n" * 27})
ok(r.status == 401, "the same session with a wrong token → 401", r)
r = request(A.port, "GET", "/healthz")
ok(r.status == 200, "/healthz needs no token", r)
r = request(A.port, "GET", "/readyz")
ok(r.status == 200, "/readyz needs no token", r)
r = request(A.port, "GET", "/metrics")
ok(r.status == 401, "/metrics without a token → 401", r)
r = request(A.port, "GET", "/metrics", headers={"Authorization": f"Bearer {BOB}"})
ok(r.status == 200, "/metrics with a token → 200", r)
r = request(A.port, "GET", "/sse")
ok(r.status == 401, "GET /sse without a token → 401", r)
r = request(A.port, "POST", "/messages?sessionId=x", headers=JSON_HEADERS, body=b"{}")
ok(r.status == 401, "POST /messages without a token → 401", r)
r = request(A.port, "GET", "/mcp")
ok(r.status in (401, 405), "GET /mcp without a token → 401 (or 405)", r)

# The tokens must not be reachable around HTTP: framed JSON-RPC on the same port has no way to
# present one, so it must not serve tools when tokens are configured.
fs = socket.create_connection(("127.0.0.1", A.port), timeout=10 * SLOW)
ff = fs.makefile("rwb")
got = b""
try:
    ff.write(INIT + b"\n")
    ff.write(json.dumps({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
                         "params": {"name": "query",
                                    "arguments": {"sql": "SELECT 'leaked' AS secret"}}}).encode() + b"\n")
    ff.flush()
    fs.settimeout(3 * SLOW)
    for _ in range(2):
        line = ff.readline()
        if not line:
            break
        got += line
except OSError as e:
    got += repr(e).encode()
fs.close()
ok(b"leaked" not in got, "with bearer tokens set, framed JSON-RPC on the HTTP port does not "
   "bypass them (no query result without a token)", got[:500])
log_a = A.log()
ok(ALICE not in log_a and BOB not in log_a, "the tokens never appear in the log")

# A rough constant-time check: wrong tokens sharing a long prefix with alice's vs sharing none.
near = "Bearer " + ALICE[:31] + ("X" if ALICE[31] != "X" else "Y")
far = "Bearer " + "#" * 32
times = {near: [], far: []}
c = HttpConn(A.port)
for i in range(200):
    for value in ((near, far) if i % 2 == 0 else (far, near)):
        t = time.perf_counter()
        r = c.request("GET", "/metrics", headers={"Authorization": value})
        times[value].append(time.perf_counter() - t)
        if r.status != 401:
            times[value].append(float("nan"))
        if (r.header("Connection") or "").lower() == "close":
            c.close()
            c = HttpConn(A.port)
c.close()
med_near = statistics.median(times[near]) * 1e6
med_far = statistics.median(times[far]) * 1e6
diff = abs(med_near - med_far) / min(med_near, med_far)
diag(f"median time for 200 wrong tokens: sharing 31 of 32 characters {med_near:.1f} µs, "
     f"sharing none {med_far:.1f} µs (difference {diff * 100:.1f}%)")
ok(len(times[near]) == 200 and len(times[far]) == 200, "400 wrong tokens on one connection, all 401")
ok(diff < 0.30, "token comparison time does not depend on the shared prefix (medians within 30%)")

# ================================================ AF: tokens from http.auth_tokens_file
CAROL = "carol-" + "k" * 13 + "L" * 13
tokfile = os.path.join(tmp, "tokens")
with open(tokfile, "w") as f:
    f.write(f"# pgmcp tokens\n\ncarol:{CAROL}\ndave:{'d' * 32}  \n")
os.chmod(tokfile, 0o600)
AF = start(workers=2, sets=[f"http.auth_tokens_file={tokfile}"], auth=f"Bearer {CAROL}")
for name, value, want in [("no token", None, 401), ("a wrong token", "Bearer " + "w" * 32, 401),
                          ("carol's token from the file", f"Bearer {CAROL}", 200),
                          ("dave's token (trailing blanks in the file)", "Bearer " + "d" * 32, 200),
                          ("the comment line", "Bearer # pgmcp tokens", 401)]:
    h = dict(JSON_HEADERS)
    if value:
        h["Authorization"] = value
    r = request(AF.port, "POST", "/mcp", headers=h, body=INIT)
    ok(r.status == want, f"tokens file: {name} → {want}", r)
r = request(AF.port, "GET", "/healthz")
ok(r.status == 200, "tokens file: /healthz needs no token", r)

AX = start(workers=1, sets=[f"http.auth_tokens_file={os.path.join(tmp, 'missing')}"], wait=False)
r = request(AX.port, "POST", "/mcp", headers=dict(JSON_HEADERS, Authorization=f"Bearer {CAROL}"),
            body=INIT)
ok(r.status == 401, "an unreadable http.auth_tokens_file refuses every request (fails closed)", r)

# =============================================================== O: http.allowed_origins list
conf = os.path.join(tmp, "origins.yaml")
with open(conf, "w") as f:
    f.write('http:\n  allowed_origins:\n    - "https://app.example.com"\n    - "http://tool.example:8080"\n')
O = start(workers=2, config=conf)
for origin, want in [("https://app.example.com", 200), ("http://tool.example:8080", 200),
                     ("https://app.example.com.evil.example", 403), ("https://evil.example", 403),
                     ("http://tool.example:8081", 403), (f"http://localhost:{O.port}", 403),
                     (None, 200)]:
    h = dict(JSON_HEADERS)
    if origin:
        h["Origin"] = origin
    r = request(O.port, "POST", "/mcp", headers=h, body=INIT)
    ok(r.status == want, f"allowed_origins: Origin {origin} → {want}", r)

# ======================================================================================== end
for d in daemons:
    rc = d.stop()
    is_(rc, 0, f"daemon on port {d.port} exits 0 on SIGTERM")
    is_(d.leftover_workers(), [], f"daemon on port {d.port} leaves no worker behind")
    bad = [l for l in d.log().splitlines() if "Sanitizer" in l or "runtime error" in l]
    is_(bad, [], f"daemon on port {d.port} logged no sanitizer report")
ok(H.log().count("level=error") == 0, "the hostile clients caused no error-level log line",
   [l for l in H.log().splitlines() if "level=error" in l][:10])
done()
