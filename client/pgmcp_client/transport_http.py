"""transport_http.py: MCP Streamable HTTP (POST to one endpoint; JSON or SSE responses).

Every message is one POST with Accept: application/json, text/event-stream, sent from its own
thread so the session's per-request timeout always applies. The answer is either one JSON
body or an SSE stream carrying notifications and then the response. Stateful protocol
versions (2025-03-26 .. 2025-11-25) get the Mcp-Session-Id issued at initialize and the
MCP-Protocol-Version header on every later request, and close() DELETEs the session.
Stateless 2026-07-28 requests carry their version in params._meta, mirrored in the
MCP-Protocol-Version, Mcp-Method and Mcp-Name headers, and need no session at all.
"""
import base64
import json
import logging
import threading

from . import _http
from .session import META_VERSION, ProtocolError, Transport, TransportClosed

log = logging.getLogger("pgmcp_client")


def _header_value(text):
    """Header values must be ASCII; anything else travels as =?base64?...?=."""
    try:
        text.encode("ascii")
        if all(32 <= ord(c) < 127 for c in text):
            return text
    except UnicodeEncodeError:
        pass
    return "=?base64?%s?=" % base64.b64encode(text.encode("utf-8")).decode("ascii")


class StreamableHttpTransport(Transport):
    name = "http"

    def __init__(self, url, headers=None, timeout=300.0, connect_timeout=10.0):
        self.endpoint = _http.HttpEndpoint(url, headers=headers, timeout=timeout,
                                           connect_timeout=connect_timeout)
        self.url = url
        self.session_id = None
        self.protocol_version = None
        self.stateless = False
        self.sink = None
        self._inflight = {}        # request id -> connection
        self._aborted = set()      # request ids the session gave up on
        self._threads = set()
        self._lock = threading.Lock()
        self._closing = False

    def describe(self):
        return "http:%s" % self.url

    def open(self, sink):
        self.sink = sink

    def configure(self, protocol_version, stateless):
        self.protocol_version = protocol_version
        self.stateless = stateless

    def send(self, msg):
        if self._closing:
            raise TransportClosed("session closed")
        t = threading.Thread(target=self._post, args=(msg,), daemon=True,
                             name="pgmcp-http-%s" % msg.get("id", "notify"))
        with self._lock:
            self._threads.add(t)
        t.start()

    def _headers_for(self, msg):
        h = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
        method = msg.get("method")
        params = msg.get("params") if isinstance(msg.get("params"), dict) else {}
        meta = params.get("_meta") if isinstance(params.get("_meta"), dict) else {}
        modern = meta.get(META_VERSION)
        if modern and method != "initialize":
            h["MCP-Protocol-Version"] = modern
            h["Mcp-Method"] = _header_value(method)
            name = params.get("uri") if method == "resources/read" else (
                params.get("name") if method in ("tools/call", "prompts/get") else None)
            if isinstance(name, str):
                h["Mcp-Name"] = _header_value(name)
        else:
            if self.session_id and method != "initialize":
                h["Mcp-Session-Id"] = self.session_id
            if self.protocol_version and not self.stateless and method != "initialize":
                h["MCP-Protocol-Version"] = self.protocol_version
        return h

    def _post(self, msg):
        req_id = msg.get("id") if "method" in msg else None
        method = msg.get("method") or "response"
        body = json.dumps(msg, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        conn = resp = None

        def track(c):
            with self._lock:
                if req_id is None:
                    return
                if req_id in self._aborted:          # given up while waiting to retry
                    raise TransportClosed("%s: abandoned" % method)
                self._inflight[req_id] = c

        try:
            conn, resp = self.endpoint.open("POST", self.url, body, self._headers_for(msg),
                                            on_connection=track)
            self._handle(msg, req_id, method, conn, resp)
        except TransportClosed as e:
            self._failed(req_id, method, e)
        except Exception as e:      # http.client raises odd things on a broken stream
            if conn is not None:
                _http.abort_connection(conn)
            self._failed(req_id, method, TransportClosed(
                "%s: the connection failed (%s)" % (method, e if isinstance(e, OSError)
                                                     else type(e).__name__)))
        finally:
            with self._lock:
                if req_id is not None and self._inflight.get(req_id) is conn:
                    self._inflight.pop(req_id, None)
                self._aborted.discard(req_id)
                self._threads.discard(threading.current_thread())

    def _failed(self, req_id, method, exc):
        if req_id is not None:
            self.sink.failed(req_id, exc)
        elif not self._closing:
            log.warning("sending %s failed: %s", method, exc)

    def _handle(self, msg, req_id, method, conn, resp):
        status = resp.status
        sid = resp.getheader("Mcp-Session-Id")
        if sid and method == "initialize" and 200 <= status < 300:
            self.session_id = sid
        ctype = _http.content_type(resp)
        if status in (202, 204) or (200 <= status < 300 and req_id is None):
            resp.read()
            self.endpoint.release(conn, resp)
            if req_id is not None:
                self.sink.failed(req_id, ProtocolError(
                    -32000, "the server accepted the request (HTTP %d) but sent no response"
                    % status, {"http_status": status}, method))
            return
        if 200 <= status < 300 and ctype == "text/event-stream":
            answered = False
            for event, data, _ in _http.iter_sse(resp):
                if event != "message" or not data.strip():
                    continue
                try:
                    doc = json.loads(data)
                except ValueError:
                    log.warning("ignoring an SSE event that is not JSON: %r", data[:200])
                    continue
                answered = answered or _answers(doc, req_id)
                self.sink.message(doc)
            self.endpoint.release(conn, resp)
            if not answered and req_id is not None:
                self.sink.failed(req_id, TransportClosed(
                    "%s: the SSE stream ended before the response" % method))
            return
        body = resp.read()
        self.endpoint.release(conn, resp)
        if 200 <= status < 300 and ctype in ("application/json", ""):
            try:
                doc = json.loads(body.decode("utf-8"))
            except ValueError:
                self.sink.failed(req_id, ProtocolError(-32700, "the server's response is not "
                                                       "JSON", None, method))
                return
            self.sink.message(doc)
            return
        if status == 404 and self.session_id and method != "initialize":
            self.sink.failed(req_id, TransportClosed(
                "the server no longer knows session %s... (HTTP 404): start a new session"
                % self.session_id[:8]))
            return
        err = _http.error_for_status(method, status, resp.reason, body, req_id)
        if isinstance(err, dict):
            self.sink.message(err)
        else:
            self.sink.failed(req_id, err)

    def abort(self, request_id):
        with self._lock:
            conn = self._inflight.pop(request_id, None)
            self._aborted.add(request_id)
        if conn is not None:
            _http.abort_connection(conn)

    def close(self, timeout=5.0):
        if self._closing:
            return
        if self.session_id and not self.stateless:
            try:
                conn, resp = self.endpoint.open("DELETE", self.url, None, {
                    "Mcp-Session-Id": self.session_id,
                    "MCP-Protocol-Version": self.protocol_version or ""},
                    read_timeout=min(timeout, 5.0))
                resp.read()
                conn.close()
                if resp.status not in (200, 202, 204, 405):
                    log.debug("DELETE of the session answered HTTP %d", resp.status)
            except (TransportClosed, OSError) as e:
                log.debug("DELETE of the session failed: %s", e)
        self._closing = True
        with self._lock:
            conns = list(self._inflight.values())
            self._inflight.clear()
            threads = list(self._threads)
        for c in conns:
            _http.abort_connection(c)
        for t in threads:
            t.join(timeout=1.0)
        self.endpoint.close()


def _answers(doc, req_id):
    if req_id is None:
        return False
    docs = doc if isinstance(doc, list) else [doc]
    return any(isinstance(d, dict) and d.get("id") == req_id and ("result" in d or "error" in d)
               for d in docs)
