"""transport_sse.py: the legacy HTTP+SSE transport of protocol 2024-11-05.

A GET opens a Server-Sent Events stream; its first event, `endpoint`, names the URL to POST
messages to (/messages?sessionId=...). Every response and notification then arrives on the
stream as a `message` event; the POSTs themselves are only acknowledged (202). The stream is
read by one thread; each POST runs in its own thread. When the stream ends, the session is
closed and every pending request fails with TransportClosed.
"""
import json
import logging
import threading

from . import _http
from .session import ProtocolError, Transport, TransportClosed

log = logging.getLogger("pgmcp_client")


class SseTransport(Transport):
    name = "sse"
    handshake_only = True

    def __init__(self, url, headers=None, timeout=300.0, connect_timeout=10.0):
        self.url = url
        self.endpoint = _http.HttpEndpoint(url, headers=headers, timeout=timeout,
                                           connect_timeout=connect_timeout)
        self.connect_timeout = connect_timeout
        self.post_url = None
        self.sink = None
        self._ready = threading.Event()
        self._stream_conn = None
        self._reader = None
        self._threads = set()
        self._lock = threading.Lock()
        self._closing = False
        self._dead = None
        self.protocol_version = None

    def describe(self):
        return "sse:%s" % self.url

    def configure(self, protocol_version, stateless):
        self.protocol_version = protocol_version

    def open(self, sink):
        self.sink = sink
        conn, resp = self.endpoint.open("GET", self.url, None, {"Accept": "text/event-stream",
                                                               "Cache-Control": "no-cache"},
                                        read_timeout=self.connect_timeout)
        if resp.status != 200 or _http.content_type(resp) != "text/event-stream":
            body = resp.read(2000)
            conn.close()
            raise TransportClosed("GET %s answered HTTP %d %s (%s), not an SSE stream: %s"
                                  % (self.url, resp.status, resp.reason,
                                     resp.getheader("Content-Type"),
                                     body.decode("utf-8", "replace")[:200]))
        self._stream_conn = conn
        self._reader = threading.Thread(target=self._read_stream, args=(conn, resp), daemon=True,
                                        name="pgmcp-sse-stream")
        self._reader.start()
        if not self._ready.wait(self.connect_timeout) or self.post_url is None:
            _http.abort_connection(conn)
            raise TransportClosed(self._dead and str(self._dead) or
                                  "no endpoint event on %s within %gs"
                                  % (self.url, self.connect_timeout))
        try:           # the stream idles as long as the session does
            conn.pgmcp_sock.settimeout(None)
        except (OSError, AttributeError):
            pass

    def _read_stream(self, conn, resp):
        why = "the server closed the SSE stream"
        try:
            for event, data, _ in _http.iter_sse(resp):
                if event == "endpoint":
                    url = self.endpoint.resolve(data.strip())
                    if not self.endpoint.same_origin(url):
                        why = "the endpoint event names another origin: %s" % url
                        break
                    self.post_url = url
                    self._ready.set()
                elif event == "message":
                    if not data.strip():
                        continue
                    try:
                        doc = json.loads(data)
                    except ValueError:
                        log.warning("ignoring an SSE event that is not JSON: %r", data[:200])
                        continue
                    self.sink.message(doc)
                else:
                    log.debug("ignoring SSE event %r", event)
        except Exception as e:   # socket errors, or close() shutting the socket down
            why = "the SSE stream failed: %s" % e
        self._dead = TransportClosed(why)
        self._ready.set()
        conn.close()
        if not self._closing:
            self.sink.closed(self._dead)

    def send(self, msg):
        if self._closing:
            raise TransportClosed("session closed")
        if self._dead is not None:
            raise TransportClosed(str(self._dead))
        t = threading.Thread(target=self._post, args=(msg,), daemon=True,
                             name="pgmcp-sse-post-%s" % msg.get("id", "notify"))
        with self._lock:
            self._threads.add(t)
        t.start()

    def _post(self, msg):
        req_id = msg.get("id") if "method" in msg else None
        method = msg.get("method") or "response"
        body = json.dumps(msg, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        try:
            conn, resp = self.endpoint.open("POST", self.post_url, body,
                                            {"Content-Type": "application/json"})
            data = resp.read()
            self.endpoint.release(conn, resp)
            if not 200 <= resp.status < 300:
                err = _http.error_for_status(method, resp.status, resp.reason, data, req_id)
                if req_id is None:
                    log.warning("sending %s failed: %s", method, err if not isinstance(err, dict)
                                else err["error"].get("message"))
                elif isinstance(err, dict):
                    self.sink.message(err)
                else:
                    if resp.status == 404:
                        err = TransportClosed("the server no longer knows this SSE session "
                                              "(HTTP 404)")
                    self.sink.failed(req_id, err)
        except Exception as e:      # http.client raises odd things on a broken connection
            exc = e if isinstance(e, TransportClosed) else TransportClosed(
                "%s: the connection failed (%s)" % (method, e if isinstance(e, OSError)
                                                     else type(e).__name__))
            if req_id is not None:
                self.sink.failed(req_id, exc)
            elif not self._closing:
                log.warning("sending %s failed: %s", method, exc)
        finally:
            with self._lock:
                self._threads.discard(threading.current_thread())

    def close(self, timeout=5.0):
        self._closing = True
        if self._stream_conn is not None:
            _http.abort_connection(self._stream_conn)
        if self._reader is not None and self._reader is not threading.current_thread():
            self._reader.join(timeout=2.0)
        with self._lock:
            threads = list(self._threads)
        for t in threads:
            t.join(timeout=1.0)
        self.endpoint.close()


__all__ = ["SseTransport", "ProtocolError"]
