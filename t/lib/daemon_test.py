"""daemon_test.py: starts and stops `pgmcp --listen` daemons and speaks HTTP to them.

Daemon(...) starts a master with N workers on a free 127.0.0.1 port and waits for /healthz
(and for every worker to be up); .stop() sends SIGTERM, then SIGKILL, and makes sure no worker
outlives it. Every daemon still running when the interpreter exits is stopped the same way.

HTTP is spoken over raw sockets so tests can send anything: HttpConn (one connection, several
requests), request() (one request on a new connection), Response (status, headers, body).
Mcp drives Streamable HTTP at /mcp (initialize, sessions, JSON or text/event-stream replies);
SseClient drives the legacy HTTP+SSE transport (GET /sse in a thread, POST /messages).
Standard library only.
"""
import atexit
import json
import os
import queue
import re
import signal
import socket
import subprocess
import threading
import time

from pgmcp_test import BIN, DSN, DEFAULT_TIMEOUT, LATEST, MODERN, psql  # noqa: F401

SANITIZED = bool(os.environ.get("PGMCP_SANITIZED"))
# Timing-sensitive waits are stretched under the sanitizers (everything runs 2-5x slower).
SLOW = 3.0 if SANITIZED else 1.0
ACCEPT_BOTH = "application/json, text/event-stream"

_running = []


def free_port():
    """A TCP port that was free a moment ago (the caller retries when it is taken)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def child_pids(pid):
    """Direct children of pid, from /proc."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2:].split()
        if len(fields) > 1 and fields[1] == str(pid) and fields[0] != "Z":
            out.append(int(entry))
    return out


def pid_alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2:].split()[0] != "Z"


class DaemonError(Exception):
    pass


class Daemon:
    """One `pgmcp --listen 127.0.0.1:PORT --workers N [--set K=V ...] [args] DSN` process tree.

    Attributes: port, pid (the master's), proc, cmd. log() is everything it wrote to stderr.
    """

    def __init__(self, *args, workers=4, sets=(), env=None, dsn=None, config=None,
                 log_level=None, wait=True, auth=None, start_timeout=None):
        self.args = list(args)
        self.workers = workers
        self.sets = list(sets)
        self.env = dict(os.environ)
        self.env.update(env or {})
        self.dsn = DSN if dsn is None else dsn
        self.config = config
        self.log_level = log_level
        self.auth = auth          # "Bearer ..." for the readiness check when tokens are set
        self.start_timeout = start_timeout or 30 * SLOW
        self._stderr = []
        self._stdout = []
        self.proc = None
        self.rc = None
        self._known_workers = set()
        for attempt in range(5):
            self.port = free_port()
            self._launch()
            if self._wait_healthz():
                break
            if "Address already in use" in self.log() and attempt < 4:
                self._reap()
                self._stderr = []
                continue
            log = self.log()
            self.stop()
            raise DaemonError(f"daemon did not answer /healthz: {self.cmd}\n{log[-3000:]}")
        _running.append(self)
        if wait:
            self.wait_workers()

    # -- process management ------------------------------------------------------------------

    def _launch(self):
        cmd = [BIN, "--listen", f"127.0.0.1:{self.port}"]
        if self.workers is not None:
            cmd += ["--workers", str(self.workers)]
        if self.config:
            cmd += ["-c", self.config]
        for s in self.sets:
            cmd += ["--set", s]
        if self.log_level:
            cmd += ["--log-level", self.log_level]
        cmd += self.args
        if self.dsn:
            cmd.append(self.dsn)
        self.cmd = cmd
        self.rc = None
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, env=self.env)
        self.pid = self.proc.pid
        threading.Thread(target=self._drain, args=(self.proc.stderr, self._stderr),
                         daemon=True).start()
        threading.Thread(target=self._drain, args=(self.proc.stdout, self._stdout),
                         daemon=True).start()

    @staticmethod
    def _drain(stream, into):
        for raw in stream:
            into.append(raw.decode("utf-8", "replace"))

    def _wait_healthz(self):
        deadline = time.time() + self.start_timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                time.sleep(0.1)   # let the reader threads catch the last lines
                return False
            try:
                r = request(self.port, "GET", "/healthz", timeout=2)
                if r.status == 200:
                    return True
            except OSError:
                pass
            time.sleep(0.05)
        return False

    def wait_workers(self, timeout=None):
        """Waits until every worker is up (none starting, all but the one answering idle)."""
        deadline = time.time() + (timeout or 20 * SLOW)
        headers = {"Authorization": self.auth} if self.auth else {}
        while time.time() < deadline:
            try:
                r = request(self.port, "GET", "/metrics", headers=headers, timeout=5)
                if r.status != 200:
                    return False
                m = parse_metrics(r.text())
                idle = m.get('pgmcp_workers{state="idle"}', 0)
                starting = m.get('pgmcp_workers{state="starting"}', 0)
                if starting == 0 and idle >= (self.workers or 4) - 1:
                    self._known_workers.update(child_pids(self.pid))
                    return True
            except OSError:
                pass
            time.sleep(0.05)
        return False

    def worker_pids(self):
        pids = child_pids(self.pid)
        self._known_workers.update(pids)
        return pids

    def log(self):
        return "".join(self._stderr)

    def stdout(self):
        return "".join(self._stdout)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def _reap(self):
        try:
            self.rc = self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.rc = self.proc.wait()

    def stop(self, timeout=None):
        """SIGTERM, then SIGKILL after timeout; no worker may outlive this. Returns the status."""
        if self.proc is None:
            return self.rc
        timeout = timeout or 20 * SLOW
        if self.proc.poll() is None:
            self._known_workers.update(child_pids(self.pid))
            try:
                self.proc.send_signal(signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.rc = self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.rc = self.proc.wait()
        else:
            self.rc = self.proc.returncode
        # Workers die with the master; give them a moment, then make sure.
        deadline = time.time() + 5 * SLOW
        for pid in sorted(self._known_workers):
            while pid_alive(pid) and time.time() < deadline:
                time.sleep(0.05)
            if pid_alive(pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        if self in _running:
            _running.remove(self)
        time.sleep(0.1)
        return self.rc

    def leftover_workers(self):
        """Workers of this daemon still alive (after stop(), this should be empty)."""
        return [p for p in sorted(self._known_workers) if pid_alive(p)]

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    # -- convenience -------------------------------------------------------------------------

    def request(self, method, path, **kw):
        return request(self.port, method, path, **kw)

    def mcp(self, **kw):
        return Mcp(self.port, **kw)

    def metrics(self, headers=None):
        r = request(self.port, "GET", "/metrics", headers=headers or
                    ({"Authorization": self.auth} if self.auth else None))
        return parse_metrics(r.text()) if r.status == 200 else {}

    def pids_for_peer_ports(self, ports):
        """Maps client ports to the worker pid that logged serving them (needs debug logs)."""
        found = {}
        for line in self.log().splitlines():
            m = re.search(r"\bpid=(\d+)\b.*127\.0\.0\.1:(\d+) \S+ \S+ -> \d+", line)
            if m and int(m.group(2)) in ports:
                found[int(m.group(2))] = int(m.group(1))
        return found


@atexit.register
def _stop_all():
    for d in list(_running):
        try:
            d.stop(timeout=10)
        except Exception:  # noqa: BLE001 - best effort at exit
            pass


def crash_is_failure():
    """An uncaught exception becomes a failed test (with its traceback), daemons are stopped and
    the TAP stream is closed, so a crash can never pass for a shorter successful run."""
    import sys
    import traceback
    import tap

    def hook(exc_type, exc, tb):
        tap.ok(False, "the test script ran to the end without an exception",
               "".join(traceback.format_exception(exc_type, exc, tb))[-3000:])
        _stop_all()
        try:
            tap.done()
        except SystemExit as e:
            sys.stdout.flush()
            os._exit(e.code if isinstance(e.code, int) else 1)

    sys.excepthook = hook


def parse_metrics(text):
    """Prometheus text → {'name{labels}': value}."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        key, _, value = line.rpartition(" ")
        try:
            out[key] = float(value)
        except ValueError:
            pass
    return out


# ---------------------------------------------------------------------------------------- HTTP

class Response:
    def __init__(self, status, reason, headers, body, raw_head=b""):
        self.status = status
        self.reason = reason
        self.headers = headers        # [(name, value)] in order
        self.body = body
        self.raw_head = raw_head
        self.elapsed = None

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def header_all(self, name):
        return [v for k, v in self.headers if k.lower() == name.lower()]

    def text(self):
        return self.body.decode("utf-8", "replace")

    def json(self):
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    def error_code(self):
        j = self.json()
        if isinstance(j, dict) and isinstance(j.get("error"), dict):
            return j["error"].get("code")
        return None

    def __repr__(self):
        return (f"<Response {self.status} {self.headers!r} "
                f"{self.body[:600]!r}{'...' if len(self.body) > 600 else ''}>")


class HttpConn:
    """One client connection; send anything, read responses, see whether the server closed."""

    def __init__(self, port, host="127.0.0.1", timeout=DEFAULT_TIMEOUT, rcvbuf=None):
        self.port = port
        self.host = host
        self.timeout = timeout
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        self.sock.connect((host, port))
        self.local_port = self.sock.getsockname()[1]
        self.buf = bytearray()
        self.eof = False

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def _fill(self, deadline):
        left = deadline - time.time()
        if left <= 0:
            raise socket.timeout("read timed out")
        self.sock.settimeout(left)
        chunk = self.sock.recv(65536)
        if not chunk:
            self.eof = True
            return False
        self.buf += chunk
        return True

    def _read_until(self, marker, deadline):
        while True:
            i = self.buf.find(marker)
            if i >= 0:
                out = bytes(self.buf[:i + len(marker)])
                del self.buf[:i + len(marker)]
                return out
            if self.eof or not self._fill(deadline):
                raise ConnectionError(f"connection closed before {marker!r}; "
                                      f"got {bytes(self.buf[:300])!r}")

    def _read_exact(self, n, deadline):
        while len(self.buf) < n:
            if self.eof or not self._fill(deadline):
                raise ConnectionError(f"connection closed after {len(self.buf)} of {n} bytes")
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

    def read_response(self, timeout=None, method="GET"):
        """Reads one response (skipping 1xx); raises ConnectionError/socket.timeout."""
        deadline = time.time() + (timeout or self.timeout)
        while True:
            head = self._read_until(b"\r\n\r\n", deadline)
            lines = head[:-4].decode("latin-1").split("\r\n")
            m = re.match(r"HTTP/1\.[01] (\d{3})(?: (.*))?$", lines[0])
            if not m:
                raise ConnectionError(f"not an HTTP response: {head[:300]!r}")
            status = int(m.group(1))
            headers = []
            for line in lines[1:]:
                name, _, value = line.partition(":")
                headers.append((name.strip(), value.strip()))
            if 100 <= status < 200:
                continue
            r = Response(status, m.group(2) or "", headers, b"", head)
            te = (r.header("Transfer-Encoding") or "").lower()
            cl = r.header("Content-Length")
            if method == "HEAD" or status in (204, 304):
                body = b""
            elif "chunked" in te:
                body = self._read_chunked(deadline)
            elif cl is not None:
                body = self._read_exact(int(cl), deadline)
            else:
                while not self.eof and self._fill(deadline):
                    pass
                body = bytes(self.buf)
                self.buf.clear()
            r.body = body
            return r

    def _read_chunked(self, deadline):
        body = bytearray()
        while True:
            line = self._read_until(b"\r\n", deadline)
            size = int(line.split(b";")[0].strip(), 16)
            if size == 0:
                while self._read_until(b"\r\n", deadline) != b"\r\n":
                    pass
                return bytes(body)
            body += self._read_exact(size, deadline)
            self._read_until(b"\r\n", deadline)

    def request(self, method, path, headers=None, body=None, timeout=None, version="HTTP/1.1"):
        self.send(build_request(method, path, headers, body, self.host, self.port, version))
        start = time.time()
        r = self.read_response(timeout=timeout, method=method)
        r.elapsed = time.time() - start
        return r

    def closed_by_server(self, timeout=2.0):
        """True if the server closes (EOF or reset) within timeout; unread bytes are dropped."""
        deadline = time.time() + timeout
        try:
            while time.time() < deadline:
                self.sock.settimeout(max(0.01, deadline - time.time()))
                chunk = self.sock.recv(65536)
                if not chunk:
                    self.eof = True
                    return True
                self.buf += chunk
        except socket.timeout:
            return False
        except OSError:
            return True
        return False

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def build_request(method, path, headers=None, body=None, host="127.0.0.1", port=None,
                  version="HTTP/1.1"):
    """Request bytes. Host and Content-Length are added unless given (None value omits one)."""
    headers = dict(headers or {})
    lower = {k.lower(): k for k in headers}
    if "host" not in lower:
        headers["Host"] = f"{host}:{port}" if port else host
    if isinstance(body, str):
        body = body.encode()
    if body is not None and "content-length" not in lower and "transfer-encoding" not in lower:
        headers["Content-Length"] = str(len(body))
    out = f"{method} {path} {version}\r\n".encode()
    for k, v in headers.items():
        if v is None:
            continue
        out += f"{k}: {v}\r\n".encode("latin-1")
    out += b"\r\n"
    if body:
        out += body
    return out


def request(port, method, path, headers=None, body=None, timeout=DEFAULT_TIMEOUT):
    """One request on a new connection; the connection is closed afterwards."""
    with HttpConn(port, timeout=timeout) as c:
        return c.request(method, path, headers, body, timeout=timeout)


class Exchange:
    """What raw_exchange saw: the first response (or None), whether the server closed the
    connection afterwards, bytes that came after the first response, and any error."""

    def __init__(self, response, closed, extra, error, elapsed):
        self.response = response
        self.status = response.status if response else None
        self.closed = closed
        self.extra = extra
        self.error = error
        self.elapsed = elapsed

    def __repr__(self):
        return (f"<Exchange status={self.status} closed={self.closed} extra={self.extra[:200]!r} "
                f"error={self.error} elapsed={self.elapsed:.2f} {self.response!r}>")


def raw_exchange(port, data, timeout=5.0, close_wait=None):
    """Sends raw bytes, reads one response, then waits for the server to close."""
    c = HttpConn(port, timeout=timeout)
    start = time.time()
    try:
        try:
            c.send(data)
        except OSError as e:
            pass_error = repr(e)
        else:
            pass_error = None
        try:
            r = c.read_response(timeout=timeout)
        except (ConnectionError, socket.timeout, OSError) as e:
            return Exchange(None, True, bytes(c.buf), pass_error or repr(e), time.time() - start)
        elapsed = time.time() - start
        closed = c.closed_by_server(timeout=close_wait or timeout)
        return Exchange(r, closed, bytes(c.buf), pass_error, elapsed)
    finally:
        c.close()


# ------------------------------------------------------------------------------------ SSE text

def parse_sse(text):
    """Server-sent events → (events, comments); each event {'event', 'data', 'id'}."""
    events, comments = [], []
    cur = {"event": "message", "data": [], "id": None}
    for line in text.replace("\r\n", "\n").split("\n"):
        if line == "":
            if cur["data"]:
                events.append({"event": cur["event"], "data": "\n".join(cur["data"]),
                               "id": cur["id"]})
            cur = {"event": "message", "data": [], "id": None}
            continue
        if line.startswith(":"):
            comments.append(line[1:].strip())
            continue
        field, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if field == "data":
            cur["data"].append(value)
        elif field == "event":
            cur["event"] = value
        elif field == "id":
            cur["id"] = value
    return events, comments


# ------------------------------------------------------------------- Streamable HTTP (/mcp)

class Reply(Response):
    """A /mcp response with its JSON-RPC messages (from a JSON body or SSE events)."""

    @classmethod
    def of(cls, r):
        x = cls(r.status, r.reason, r.headers, r.body, r.raw_head)
        x.elapsed = r.elapsed
        x.messages = []
        x.events = []
        ctype = (r.header("Content-Type") or "").lower()
        x.is_sse = ctype.startswith("text/event-stream")
        if x.is_sse:
            x.events, _ = parse_sse(r.text())
            for ev in x.events:
                try:
                    x.messages.append(json.loads(ev["data"]))
                except ValueError:
                    x.messages.append({"__unparsable__": ev["data"]})
        elif r.body:
            j = r.json()
            if isinstance(j, list):
                x.messages = j
            elif j is not None:
                x.messages = [j]
        return x

    @property
    def message(self):
        """The response message (last one carrying an id or an error), or None."""
        for m in reversed(self.messages):
            if isinstance(m, dict) and ("result" in m or "error" in m):
                return m
        return None

    @property
    def notifications(self):
        return [m for m in self.messages if isinstance(m, dict) and "method" in m]

    @property
    def result(self):
        m = self.message
        return m.get("result") if m else None

    def rpc_error(self):
        m = self.message
        return m.get("error") if m else None


SESSION = object()   # "use the client's own session id"


class Mcp:
    """Streamable HTTP client for /mcp; a new connection per request unless conn is given."""

    def __init__(self, port, path="/mcp", headers=None, timeout=DEFAULT_TIMEOUT):
        self.port = port
        self.path = path
        self.headers = dict(headers or {})
        self.timeout = timeout
        self.sid = None
        self.version = None
        self.init = None
        self.next_id = 1

    def post(self, message, session=SESSION, headers=None, accept=ACCEPT_BOTH,
             content_type="application/json", conn=None, timeout=None, raw=None):
        h = dict(self.headers)
        if content_type is not None:
            h["Content-Type"] = content_type
        if accept is not None:
            h["Accept"] = accept
        sid = self.sid if session is SESSION else session
        if sid is not None:
            h["Mcp-Session-Id"] = sid
        if self.version and sid is not None and session is SESSION:
            h["MCP-Protocol-Version"] = self.version
        h.update(headers or {})
        body = raw if raw is not None else json.dumps(message).encode()
        if conn is not None:
            r = conn.request("POST", self.path, h, body, timeout=timeout or self.timeout)
        else:
            with HttpConn(self.port, timeout=timeout or self.timeout) as c:
                r = c.request("POST", self.path, h, body, timeout=timeout or self.timeout)
        return Reply.of(r)

    def rpc(self, method, params=None, rid=None, **kw):
        if rid is None:
            rid = self.next_id
            self.next_id += 1
        msg = {"jsonrpc": "2.0", "id": rid, "method": method}
        if params is not None:
            msg["params"] = params
        return self.post(msg, **kw)

    def notify(self, method, params=None, **kw):
        msg = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            msg["params"] = params
        return self.post(msg, **kw)

    def call(self, tool, arguments=None, meta=None, **kw):
        params = {"name": tool, "arguments": arguments or {}}
        if meta:
            params["_meta"] = meta
        return self.rpc("tools/call", params, **kw)

    def initialize(self, version=LATEST, **kw):
        """initialize + notifications/initialized; returns the session id (or None)."""
        r = self.rpc("initialize", {"protocolVersion": version, "capabilities": {},
                                    "clientInfo": {"name": "pgmcp-daemon-tests", "version": "1"}},
                     session=None, **kw)
        self.init = r
        self.sid = r.header("Mcp-Session-Id")
        if r.result:
            self.version = r.result.get("protocolVersion")
        if self.sid:
            self.notify("notifications/initialized")
        return self.sid

    def delete(self, session=SESSION):
        sid = self.sid if session is SESSION else session
        h = dict(self.headers)
        if sid is not None:
            h["Mcp-Session-Id"] = sid
        return request(self.port, "DELETE", self.path, headers=h, timeout=self.timeout)


def modern_meta(**extra):
    m = {"io.modelcontextprotocol/protocolVersion": MODERN,
         "io.modelcontextprotocol/clientCapabilities": {}}
    m.update(extra)
    return m


def modern_headers(method, name=None, version=MODERN):
    h = {"MCP-Protocol-Version": version, "Mcp-Method": method}
    if name is not None:
        h["Mcp-Name"] = name
    return h


# ----------------------------------------------------------------- legacy HTTP+SSE (/sse)

class SseClient:
    """GET /sse held open by a reader thread; POST /messages on new connections."""

    def __init__(self, port, path="/sse", headers=None, timeout=DEFAULT_TIMEOUT):
        self.port = port
        self.headers = dict(headers or {})
        self.timeout = timeout
        self.events = queue.Queue()
        self.comments = []           # (time, text) of every comment line (heartbeats)
        self.backlog = []            # messages read while waiting for another id
        self.closed = threading.Event()
        self.endpoint = None
        self.next_id = 1
        self.conn = HttpConn(port, timeout=timeout)
        h = dict(self.headers)
        h.setdefault("Accept", "text/event-stream")
        self.conn.send(build_request("GET", path, h, None, "127.0.0.1", port))
        self.head = self._read_head()
        self.status = self.head[0]
        self.response_headers = self.head[1]
        self.first_body = self.head[2]
        if self.status == 200:
            self._thread = threading.Thread(target=self._reader, daemon=True)
            self._thread.start()
        else:
            self.closed.set()

    def _read_head(self):
        deadline = time.time() + self.timeout
        head = self.conn._read_until(b"\r\n\r\n", deadline)
        lines = head[:-4].decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = []
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers.append((name.strip(), value.strip()))
        rest = b""
        if status != 200:
            cl = [v for k, v in headers if k.lower() == "content-length"]
            if cl:
                rest = self.conn._read_exact(int(cl[0]), deadline)
        return status, headers, rest

    def header(self, name):
        for k, v in self.response_headers:
            if k.lower() == name.lower():
                return v
        return None

    def _reader(self):
        pending = self.conn.buf.decode("utf-8", "replace")
        self.conn.buf.clear()
        cur = {"event": "message", "data": []}
        sock = self.conn.sock
        sock.settimeout(None)
        try:
            while True:
                while "\n" in pending:
                    line, pending = pending.split("\n", 1)
                    line = line.rstrip("\r")
                    if line == "":
                        if cur["data"]:
                            self._dispatch(cur["event"], "\n".join(cur["data"]))
                        cur = {"event": "message", "data": []}
                    elif line.startswith(":"):
                        self.comments.append((time.time(), line[1:].strip()))
                    else:
                        field, _, value = line.partition(":")
                        value = value[1:] if value.startswith(" ") else value
                        if field == "data":
                            cur["data"].append(value)
                        elif field == "event":
                            cur["event"] = value
                try:
                    chunk = sock.recv(65536)
                except OSError:
                    break
                if not chunk:
                    break
                pending += chunk.decode("utf-8", "replace")
        finally:
            self.closed.set()
            self.events.put(None)

    def _dispatch(self, event, data):
        if event == "endpoint" and self.endpoint is None:
            self.endpoint = data
        self.events.put((event, data))

    def wait_endpoint(self, timeout=None):
        deadline = time.time() + (timeout or self.timeout)
        while self.endpoint is None and time.time() < deadline:
            ev = self.next_event(max(0.01, deadline - time.time()))
            if ev is None:
                break
        return self.endpoint

    def next_event(self, timeout=None):
        """(event, data) or None when the stream ended or nothing came in time."""
        try:
            ev = self.events.get(timeout=timeout or self.timeout)
        except queue.Empty:
            return None
        if ev is None:
            self.events.put(None)
        return ev

    def next_message(self, timeout=None):
        deadline = time.time() + (timeout or self.timeout)
        while time.time() < deadline:
            ev = self.next_event(max(0.01, deadline - time.time()))
            if ev is None:
                return None
            if ev[0] == "message":
                try:
                    return json.loads(ev[1])
                except ValueError:
                    return {"__unparsable__": ev[1]}
        return None

    def response(self, rid, timeout=None):
        """The message answering rid; other messages seen meanwhile go to backlog."""
        for i, m in enumerate(self.backlog):
            if isinstance(m, dict) and m.get("id") == rid and "method" not in m:
                return self.backlog.pop(i)
        deadline = time.time() + (timeout or self.timeout)
        while time.time() < deadline:
            m = self.next_message(max(0.01, deadline - time.time()))
            if m is None:
                return None
            if isinstance(m, dict) and m.get("id") == rid and "method" not in m:
                return m
            self.backlog.append(m)
        return None

    def post(self, message, headers=None, content_type="application/json", raw=None,
             endpoint=None):
        h = dict(self.headers)
        if content_type is not None:
            h["Content-Type"] = content_type
        h.update(headers or {})
        body = raw if raw is not None else json.dumps(message).encode()
        return request(self.port, "POST", endpoint or self.endpoint, headers=h, body=body,
                       timeout=self.timeout)

    def send(self, method, params=None, rid=None):
        """POSTs a request; returns (POST response, id)."""
        if rid is None:
            rid = self.next_id
            self.next_id += 1
        msg = {"jsonrpc": "2.0", "id": rid, "method": method}
        if params is not None:
            msg["params"] = params
        return self.post(msg), rid

    def request(self, method, params=None, rid=None, timeout=None):
        """POSTs a request and waits for its answer on the stream: (post status, message)."""
        r, rid = self.send(method, params, rid)
        if r.status != 202:
            return r.status, None
        return r.status, self.response(rid, timeout)

    def notify(self, method, params=None):
        msg = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            msg["params"] = params
        return self.post(msg)

    def initialize(self, version="2024-11-05"):
        status, m = self.request("initialize", {"protocolVersion": version, "capabilities": {},
                                                "clientInfo": {"name": "pgmcp-sse-tests",
                                                               "version": "1"}})
        if m is not None and "result" in m:
            self.notify("notifications/initialized")
        return status, m

    def close(self):
        # shutdown() wakes the reader thread and sends FIN; close() alone would do neither.
        try:
            self.conn.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.closed.wait(5)
        self.conn.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def warm_workers(daemon, n=None, headers=None):
    """Runs one stateless query on each of n workers at once (n concurrent connections held open
    until all are answered, so each lands on a different worker): every worker has then used
    its database connection. Returns the statuses."""
    n = n or daemon.workers or 4
    barrier = threading.Barrier(n, timeout=30 * SLOW)
    out = [None] * n
    body = json.dumps({"jsonrpc": "2.0", "id": "warm", "method": "tools/call",
                       "params": {"name": "query", "arguments": {"sql": "SELECT 1 AS warm"},
                                  "_meta": modern_meta()}}).encode()
    h = {"Content-Type": "application/json", "Accept": ACCEPT_BOTH}
    h.update(modern_headers("tools/call", "query"))
    h.update(headers or {})

    def one(k):
        try:
            with HttpConn(daemon.port, timeout=30 * SLOW) as c:
                out[k] = c.request("POST", "/mcp", h, body).status
                barrier.wait()
        except Exception as e:  # noqa: BLE001
            out[k] = repr(e)
            barrier.abort()

    threads = [threading.Thread(target=one, args=(k,)) for k in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60 * SLOW)
    return out


def active_queries(pattern, dsn=None):
    """Backends (other than ours) running a statement whose text contains pattern."""
    sql = ("SELECT count(*) FROM pg_stat_activity WHERE state = 'active' "
           "AND pid <> pg_backend_pid() AND query LIKE '%" + pattern.replace("'", "''") + "%'")
    return int(psql(sql, dsn=dsn))


def wait_until(pred, timeout, interval=0.05):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pred():
            return True
        time.sleep(interval)
    return pred()
