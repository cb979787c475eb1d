"""_http.py: the HTTP plumbing shared by the Streamable HTTP and legacy SSE transports.

http.client connections in a small keep-alive pool, a Server-Sent Events parser, and helpers
to read JSON-RPC out of HTTP error bodies. Standard library only.
"""
import http.client
import json
import socket
import ssl
import threading
import time
import urllib.parse

from .session import ProtocolError, TransportClosed

USER_AGENT = "pgmcp-client"


class HttpEndpoint:
    """Connections to one origin: a pool of idle keep-alive connections, each used by one
    request at a time, and a way to abort a request in flight from another thread."""

    def __init__(self, url, headers=None, timeout=300.0, connect_timeout=10.0, max_idle=8,
                 idle_seconds=4.0):
        self.url = url
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("not an http(s) URL: %r" % url)
        self.scheme = parts.scheme
        self.host = parts.hostname
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.path = (parts.path or "/") + ("?" + parts.query if parts.query else "")
        self.origin = "%s://%s" % (parts.scheme, parts.netloc)
        self.headers = dict(headers or {})
        if parts.username or parts.password:
            import base64
            cred = "%s:%s" % (urllib.parse.unquote(parts.username or ""),
                              urllib.parse.unquote(parts.password or ""))
            self.headers.setdefault("Authorization",
                                    "Basic " + base64.b64encode(cred.encode()).decode())
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.max_idle = max_idle
        self.idle_seconds = idle_seconds
        self._idle = []           # (conn, released_at)
        self._lock = threading.Lock()
        self._closed = False

    def resolve(self, ref):
        return urllib.parse.urljoin(self.url, ref)

    def same_origin(self, url):
        p = urllib.parse.urlsplit(url)
        return "%s://%s" % (p.scheme, p.netloc) == self.origin

    def _new(self):
        if self.scheme == "https":
            return http.client.HTTPSConnection(self.host, self.port, timeout=self.connect_timeout,
                                               context=ssl.create_default_context())
        return http.client.HTTPConnection(self.host, self.port, timeout=self.connect_timeout)

    def _acquire(self):
        now = time.monotonic()
        with self._lock:
            while self._idle:
                conn, since = self._idle.pop()
                if now - since < self.idle_seconds:
                    return conn, True
                conn.close()
        return self._new(), False

    def release(self, conn, resp):
        """Returns a connection whose response was read to the end to the pool."""
        if resp is not None and (resp.will_close or not resp.isclosed()):
            conn.close()
            return
        with self._lock:
            if self._closed or len(self._idle) >= self.max_idle:
                conn.close()
            else:
                self._idle.append((conn, time.monotonic()))

    def open(self, method, url, body=None, headers=None, on_connection=None, read_timeout=None,
             busy_retries=3):
        """Sends a request and returns (conn, response) with the headers read; the caller
        reads the body and then calls release(conn, resp), or conn.close(). on_connection(conn)
        is called as soon as the connection exists (so another thread can abort it).
        A request on a reused keep-alive connection that the server had closed is retried
        once on a fresh connection; a 503 with Retry-After (every worker busy) is retried
        up to busy_retries times after the delay it asks for (at most 5 s each)."""
        for attempt in range(busy_retries + 1):
            conn, resp = self._open_once(method, url, body, headers, on_connection, read_timeout)
            retry_after = resp.getheader("Retry-After")
            if resp.status != 503 or retry_after is None or attempt == busy_retries \
                    or self._closed:
                return conn, resp
            resp.read()
            conn.close()
            try:
                delay = min(5.0, max(0.05, float(retry_after)))
            except ValueError:
                delay = 1.0
            time.sleep(delay)
        raise AssertionError("unreachable")

    def _open_once(self, method, url, body, headers, on_connection, read_timeout):
        target = url if url.startswith("/") else self._target(url)
        hdrs = {"User-Agent": USER_AGENT}
        hdrs.update(self.headers)
        hdrs.update(headers or {})
        for attempt in (0, 1):
            conn, reused = self._acquire()
            if on_connection is not None:
                on_connection(conn)
            try:
                if conn.sock is None:
                    conn.connect()
                # http.client drops conn.sock once a response that ends with the connection
                # owns it; keep the socket so abort_connection() can still shut it down.
                conn.pgmcp_sock = conn.sock
                conn.sock.settimeout(self.timeout if read_timeout is None else read_timeout)
                conn.request(method, target, body=body, headers=hdrs)
                return conn, conn.getresponse()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError,
                    ConnectionAbortedError) as e:
                conn.close()
                if reused and attempt == 0:
                    continue
                raise TransportClosed("%s %s: connection lost (%s)" % (method, url, e))
            except socket.timeout:
                conn.close()
                raise TransportClosed("%s %s: no answer within %ss" % (method, url, self.timeout))
            except (OSError, http.client.HTTPException) as e:
                conn.close()
                raise TransportClosed("%s %s: %s" % (method, url, getattr(e, "strerror", None)
                                                     or e))
        raise AssertionError("unreachable")

    def _target(self, url):
        p = urllib.parse.urlsplit(url)
        if p.scheme and "%s://%s" % (p.scheme, p.netloc) != self.origin:
            raise ValueError("refusing to send to another origin: %s" % url)
        return (p.path or "/") + ("?" + p.query if p.query else "")

    def close(self):
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for conn, _ in idle:
            conn.close()


def abort_connection(conn):
    """Closes a connection that another thread may be blocked reading."""
    sock = getattr(conn, "pgmcp_sock", None) or getattr(conn, "sock", None)
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
    try:
        conn.close()
    except Exception:
        pass


def content_type(resp):
    return (resp.getheader("Content-Type") or "").split(";")[0].strip().lower()


class SseParser:
    """Server-Sent Events, per the HTML standard: feed lines, get (event, data, id) tuples."""

    def __init__(self):
        self.event = ""
        self.data = []
        self.last_id = None

    def feed(self, line):
        """One line without its terminator; returns a dispatched event or None."""
        if line == "":
            if not self.data and not self.event:
                return None
            ev = (self.event or "message", "\n".join(self.data), self.last_id)
            self.event, self.data = "", []
            return ev
        if line.startswith(":"):
            return None
        field, sep, value = line.partition(":")
        if sep and value.startswith(" "):
            value = value[1:]
        if field == "event":
            self.event = value
        elif field == "data":
            self.data.append(value)
        elif field == "id" and "\0" not in value:
            self.last_id = value
        return None     # "retry" and unknown fields are ignored


def iter_sse(resp):
    """Yields (event, data, id) from a streaming HTTP response until it ends."""
    parser = SseParser()
    first = True
    while True:
        raw = resp.readline()
        if not raw:
            ev = parser.feed("")      # a stream may end without the final blank line
            if ev is not None:
                yield ev
            return
        line = raw.decode("utf-8", "replace")
        if first:
            line = line.lstrip("\ufeff")
            first = False
        line = line.rstrip("\n").rstrip("\r")
        for part in line.split("\r"):         # lone CR line endings
            ev = parser.feed(part)
            if ev is not None:
                yield ev


def error_for_status(method, status, reason, body, request_id):
    """Turns a failed HTTP exchange into a JSON-RPC error response for request_id when the
    body carries one, else into a ProtocolError (returned, not raised)."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else (body or "")
    try:
        doc = json.loads(text)
    except ValueError:
        doc = None
    if isinstance(doc, dict) and isinstance(doc.get("error"), dict):
        err = doc["error"]
        data = err.get("data")
        if data is None:
            data = {"http_status": status}
        return {"jsonrpc": "2.0", "id": request_id,
                "error": {"code": err.get("code", -32000),
                          "message": err.get("message", "HTTP %d" % status), "data": data}}
    excerpt = " ".join(text.split())[:300]
    return ProtocolError(-32000, "HTTP %d %s%s" % (status, reason, (": " + excerpt) if excerpt
                                                  else ""), {"http_status": status}, method)
