"""session.py: one MCP session over any transport (stdio, Streamable HTTP, legacy SSE).

McpSession owns the JSON-RPC bookkeeping: unique request ids, responses matched by id, a
timeout per request that sends notifications/cancelled and leaves the session usable,
notifications and server-to-client requests, and the handshake (initialize for protocol
2024-11-05 .. 2025-11-25, or the stateless 2026-07-28 revision with _meta on every request).
Every method may be called from many threads at once: each caller waits on its own request.

Transports only move messages: open(sink), send(msg), abort(request_id), configure(version,
stateless) and close(). They report what arrives to the sink (see _Sink) from their own
threads; nothing here uses select(), so it all works on Windows too.
"""
import itertools
import json
import logging
import threading
import time

from ._version import __version__

log = logging.getLogger("pgmcp_client")
server_log = logging.getLogger("pgmcp_client.server")

MODERN_VERSION = "2026-07-28"
LATEST_VERSION = "2025-11-25"
HANDSHAKE_VERSIONS = ("2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05")
SUPPORTED_VERSIONS = (MODERN_VERSION,) + HANDSHAKE_VERSIONS
META_VERSION = "io.modelcontextprotocol/protocolVersion"
META_CAPABILITIES = "io.modelcontextprotocol/clientCapabilities"
META_SERVER_INFO = "io.modelcontextprotocol/serverInfo"

_DEFAULT = object()


# -- exceptions ----------------------------------------------------------------------------

class McpError(Exception):
    """Base class of every error this package raises about an MCP session."""


class TransportClosed(McpError):
    """The connection to the server is gone (process exited, stream closed, HTTP failure)."""


class RequestTimeout(McpError):
    """A request got no response in time; it was cancelled and the session stays usable."""

    def __init__(self, method, timeout, request_id):
        self.method = method
        self.timeout = timeout
        self.request_id = request_id
        super().__init__("%s timed out after %gs (request %s cancelled)"
                         % (method, timeout, request_id))


class ProtocolError(McpError):
    """The server answered with a JSON-RPC error."""

    def __init__(self, code, message, data=None, method=None):
        self.code = code
        self.message = message
        self.data = data
        self.method = method
        text = "%s (JSON-RPC error %s)" % (message, code)
        if method:
            text = "%s: %s" % (method, text)
        super().__init__(text)


class ToolError(McpError):
    """A tools/call result with isError: true. .result is the whole result object."""

    def __init__(self, tool, result):
        self.tool = tool
        self.result = result
        self.text = result_text(result)
        super().__init__("%s: %s" % (tool, self.text or "tool reported an error"))


def result_text(result):
    """The text content blocks of a tool result, joined by newlines."""
    parts = []
    for block in (result or {}).get("content") or []:
        if isinstance(block, dict) and block.get("type") == "text":
            parts.append(str(block.get("text", "")))
    return "\n".join(parts)


# -- transports ----------------------------------------------------------------------------

class Transport:
    """What McpSession needs from a transport. Subclasses implement send, open and close."""

    name = "transport"
    handshake_only = False      # legacy SSE: no stateless probing

    def open(self, sink):
        self.sink = sink

    def send(self, msg):
        raise NotImplementedError

    def abort(self, request_id):
        """The session gave up on request_id (timeout, interrupt): stop waiting for it."""

    def configure(self, protocol_version, stateless):
        """Called after the handshake with the protocol version the session uses."""

    def close(self, timeout=5.0):
        pass

    def describe(self):
        return self.name


class _Pending:
    __slots__ = ("method", "event", "response", "error", "on_progress", "token")

    def __init__(self, method, on_progress=None, token=None):
        self.method = method
        self.event = threading.Event()
        self.response = None
        self.error = None
        self.on_progress = on_progress
        self.token = token


class _Sink:
    """The session's inbox, handed to the transport (which calls it from its threads)."""

    def __init__(self, session):
        self._s = session

    def message(self, msg):
        self._s._on_message(msg)

    def line(self, raw):
        """A raw line from a stream transport: JSON-RPC, or noise that is logged and skipped."""
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
        text = text.strip()
        if not text:
            return
        try:
            msg = json.loads(text)
        except ValueError:
            log.warning("ignoring a line from the server that is not JSON-RPC: %r", text[:200])
            return
        self._s._on_message(msg, raw_text=text)

    def failed(self, request_id, exc):
        self._s._fail_one(request_id, exc)

    def closed(self, exc):
        self._s._on_closed(exc)


# -- the session ---------------------------------------------------------------------------

class McpSession:
    """One MCP session. Use McpSession.stdio(...), .http(...) or .sse(...), or pass a transport.

    protocol_version: "auto" (probe server/discover for the stateless 2026-07-28 revision and
    fall back to the initialize handshake), MODERN_VERSION, or a handshake version.
    timeout: default seconds per request (None waits forever); each call may override it.
    trace: optional callable(direction, message) seeing every message ("send"/"recv").
    """

    def __init__(self, transport, protocol_version="auto", timeout=60.0, client_info=None,
                 capabilities=None, trace=None, on_notification=None, connect=True,
                 discover_timeout=10.0):
        if protocol_version not in ("auto",) + SUPPORTED_VERSIONS:
            raise ValueError("unsupported protocol version %r (use auto or one of %s)"
                             % (protocol_version, ", ".join(SUPPORTED_VERSIONS)))
        self.transport = transport
        self.requested_version = protocol_version
        self.timeout = timeout
        self.discover_timeout = discover_timeout
        self.client_info = client_info or {"name": "pgmcp-client", "version": __version__}
        self.capabilities = capabilities or {}
        self.trace = trace
        self._listeners = [on_notification] if on_notification else []
        self._lock = threading.RLock()
        self._ids = itertools.count(1)
        self._progress_tokens = itertools.count(1)
        self._pending = {}
        self._closed = None          # the exception that closed the session, once closed
        self._closing = False
        self._opened = False
        self.protocol_version = None
        self.stateless = False
        self.server_info = {}
        self.server_capabilities = {}
        self.instructions = None
        self.discovery = None
        if connect:
            self.connect()

    # constructors ------------------------------------------------------------------------

    @classmethod
    def stdio(cls, command, env=None, cwd=None, **kwargs):
        """A persistent server subprocess (command: list or string) spoken to over its pipes."""
        from .transport_stdio import StdioTransport
        return cls(StdioTransport(command, env=env, cwd=cwd), **kwargs)

    @classmethod
    def http(cls, url, headers=None, **kwargs):
        """Streamable HTTP at url (e.g. http://127.0.0.1:8080/mcp)."""
        from .transport_http import StreamableHttpTransport
        return cls(StreamableHttpTransport(url, headers=headers), **kwargs)

    @classmethod
    def sse(cls, url, headers=None, **kwargs):
        """Legacy HTTP+SSE (2024-11-05 transport) at url (e.g. http://127.0.0.1:8080/sse)."""
        from .transport_sse import SseTransport
        return cls(SseTransport(url, headers=headers), **kwargs)

    # lifecycle ---------------------------------------------------------------------------

    def connect(self):
        """Opens the transport and performs the handshake (or discovery). Idempotent."""
        if self._opened:
            return self
        self._opened = True
        try:
            self.transport.open(_Sink(self))
            self._handshake()
        except BaseException:
            self.close()
            raise
        return self

    def _handshake(self):
        want = self.requested_version
        if want == MODERN_VERSION or (want == "auto" and not self.transport.handshake_only):
            try:
                result = self._request("server/discover", {}, self._discover_timeout(want),
                                       modern=True)
            except (ProtocolError, RequestTimeout) as e:
                if want == MODERN_VERSION:
                    raise
                log.debug("server/discover failed (%s); using the initialize handshake", e)
            else:
                versions = result.get("supportedVersions") or []
                if MODERN_VERSION in versions:
                    self._use_stateless(result)
                    return
                if want == MODERN_VERSION:
                    raise McpError("the server does not support protocol %s (it offers %s)"
                                   % (MODERN_VERSION, ", ".join(map(str, versions)) or "none"))
        self._initialize(LATEST_VERSION if want in ("auto", MODERN_VERSION) else want)

    def _discover_timeout(self, want):
        if want == MODERN_VERSION:
            return self.timeout
        if self.timeout is None:
            return self.discover_timeout
        return min(self.timeout, self.discover_timeout)

    def _use_stateless(self, discovery):
        self.discovery = discovery
        self.stateless = True
        self.protocol_version = MODERN_VERSION
        self.server_capabilities = discovery.get("capabilities") or {}
        self.instructions = discovery.get("instructions")
        info = discovery.get("serverInfo") or (discovery.get("_meta") or {}).get(META_SERVER_INFO)
        self.server_info = info or {}
        self.transport.configure(MODERN_VERSION, True)

    def _initialize(self, version):
        result = self._request("initialize", {"protocolVersion": version,
                                              "capabilities": self.capabilities,
                                              "clientInfo": self.client_info}, _DEFAULT)
        got = result.get("protocolVersion")
        if got not in HANDSHAKE_VERSIONS:
            raise McpError("the server chose protocol version %r, which this client does not "
                           "support" % (got,))
        self.protocol_version = got
        self.server_info = result.get("serverInfo") or {}
        self.server_capabilities = result.get("capabilities") or {}
        self.instructions = result.get("instructions")
        self.transport.configure(got, False)
        self.notify("notifications/initialized")

    def close(self, timeout=5.0):
        """Ends the session: pending requests fail with TransportClosed, the transport shuts
        the server down (stdio: close stdin, wait, terminate, kill; HTTP: DELETE)."""
        with self._lock:
            if self._closing:
                return
            self._closing = True
        try:
            self.transport.close(timeout)
        finally:
            self._on_closed(TransportClosed("session closed"))

    @property
    def closed(self):
        return self._closed is not None

    def __enter__(self):
        return self.connect()

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        return "<McpSession %s protocol=%s%s>" % (self.transport.describe(), self.protocol_version,
                                                 " closed" if self.closed else "")

    # requests ----------------------------------------------------------------------------

    def request(self, method, params=None, timeout=_DEFAULT, on_progress=None):
        """Sends a request and waits for its result (a dict). Raises ProtocolError for a
        JSON-RPC error, RequestTimeout (after sending notifications/cancelled) or
        TransportClosed. on_progress(params) receives notifications/progress for it."""
        return self._request(method, params, timeout, on_progress=on_progress,
                             modern=self.stateless)

    def _request(self, method, params, timeout, on_progress=None, modern=False):
        if timeout is _DEFAULT:
            timeout = self.timeout
        params = dict(params) if params else {}
        token = None
        if on_progress is not None:
            token = "p%d" % next(self._progress_tokens)
        if modern or token is not None:
            meta = dict(params.get("_meta") or {})
            if modern:
                meta[META_VERSION] = MODERN_VERSION
                meta.setdefault(META_CAPABILITIES, self.capabilities)
            if token is not None:
                meta["progressToken"] = token
            params["_meta"] = meta
        with self._lock:
            if self._closed is not None:
                raise TransportClosed(str(self._closed))
            req_id = next(self._ids)
            pending = _Pending(method, on_progress, token)
            self._pending[req_id] = pending
        msg = {"jsonrpc": "2.0", "id": req_id, "method": method}
        if params:
            msg["params"] = params
        try:
            self._send(msg)
            self._wait(pending, timeout)
        except BaseException as exc:
            with self._lock:
                still_pending = (self._pending.pop(req_id, None) is not None
                                 and not pending.event.is_set())
            if still_pending and not isinstance(exc, McpError):
                self._cancel(req_id, "interrupted by the client")   # KeyboardInterrupt etc.
            raise
        with self._lock:
            # The reader sets the event under this lock, so after the pop a late response
            # can no longer land: either it is here now or it will be dropped.
            self._pending.pop(req_id, None)
            answered = pending.event.is_set()
        if not answered:
            self._cancel(req_id, "timed out after %gs" % timeout)
            raise RequestTimeout(method, timeout, req_id)
        if pending.error is not None:
            raise pending.error
        resp = pending.response
        if "error" in resp:
            err = resp["error"] if isinstance(resp["error"], dict) else {"message": resp["error"]}
            raise ProtocolError(err.get("code"), err.get("message", "error"), err.get("data"),
                                method)
        result = resp.get("result")
        return result if isinstance(result, dict) else {"value": result}

    @staticmethod
    def _wait(pending, timeout):
        # Short slices keep Ctrl-C working on Windows, where a long Event.wait is not
        # interruptible.
        deadline = None if timeout is None else time.monotonic() + timeout
        while not pending.event.is_set():
            left = 0.25 if deadline is None else min(0.25, deadline - time.monotonic())
            if left <= 0:
                return
            pending.event.wait(left)

    def _cancel(self, req_id, reason):
        try:
            self.notify("notifications/cancelled", {"requestId": req_id, "reason": reason})
        except McpError as e:
            log.debug("could not send notifications/cancelled for %s: %s", req_id, e)
        try:
            self.transport.abort(req_id)
        except Exception as e:   # never let a cleanup step hide the real error
            log.debug("transport abort of %s failed: %s", req_id, e)

    def notify(self, method, params=None):
        """Sends a notification (no response)."""
        if self._closed is not None:
            raise TransportClosed(str(self._closed))
        msg = {"jsonrpc": "2.0", "method": method}
        if self.stateless:      # 2026-07-28: every message says which protocol it speaks
            params = dict(params or {})
            params["_meta"] = dict(params.get("_meta") or {}, **{META_VERSION: MODERN_VERSION})
        if params is not None:
            msg["params"] = params
        self._send(msg)

    def _send(self, msg):
        if self.trace:
            self.trace("send", msg)
        self.transport.send(msg)

    # incoming ----------------------------------------------------------------------------

    def _on_message(self, msg, raw_text=None):
        if isinstance(msg, list):
            for m in msg:
                self._on_message(m)
            return
        if not isinstance(msg, dict) or msg.get("jsonrpc") != "2.0":
            log.warning("ignoring a message from the server that is not JSON-RPC 2.0: %r",
                        (raw_text or json.dumps(msg))[:200])
            return
        if self.trace:
            self.trace("recv", msg)
        if "method" in msg:
            if "id" in msg:
                self._on_server_request(msg)
            else:
                self._on_notification(msg)
            return
        if "id" in msg and ("result" in msg or "error" in msg):
            rid = msg["id"]
            with self._lock:
                pending = self._pending.get(rid)
                if pending is None and isinstance(rid, str) and rid.isdigit():
                    pending = self._pending.get(int(rid))
                if pending is not None:
                    pending.response = msg
                    pending.event.set()
            if pending is None:
                if rid is None and "error" in msg:
                    log.warning("server error not tied to a request: %s",
                                json.dumps(msg["error"])[:300])
                else:
                    log.debug("dropping a response to unknown or abandoned request %r", rid)
            return
        log.warning("ignoring a JSON-RPC message that is neither request, response nor "
                    "notification: %r", json.dumps(msg)[:200])

    def _on_notification(self, msg):
        method = msg.get("method")
        params = msg.get("params") or {}
        if method == "notifications/message":
            level = {"debug": logging.DEBUG, "info": logging.INFO, "notice": logging.INFO,
                     "warning": logging.WARNING}.get(params.get("level"), logging.ERROR)
            data = params.get("data")
            server_log.log(level, "%s%s", (params.get("logger") + ": ") if params.get("logger")
                           else "", data if isinstance(data, str) else json.dumps(data))
        elif method == "notifications/progress":
            token = params.get("progressToken")
            with self._lock:
                targets = [p for p in self._pending.values() if p.token == token]
            for p in targets:
                try:
                    p.on_progress(params)
                except Exception:
                    log.exception("progress callback failed")
        for listener in list(self._listeners):
            try:
                listener(msg)
            except Exception:
                log.exception("notification listener failed")

    def add_notification_listener(self, fn):
        self._listeners.append(fn)

    def _on_server_request(self, msg):
        method = msg.get("method")
        if method == "ping":
            reply = {"jsonrpc": "2.0", "id": msg["id"], "result": {}}
        else:
            reply = {"jsonrpc": "2.0", "id": msg["id"],
                     "error": {"code": -32601, "message": "Method not found: %s" % method}}
        try:
            self._send(reply)
        except McpError as e:
            log.debug("could not answer the server's %s: %s", method, e)

    def _fail_one(self, request_id, exc):
        with self._lock:
            pending = self._pending.get(request_id)
            if pending is not None and not pending.event.is_set():
                pending.error = exc
                pending.event.set()

    def _on_closed(self, exc):
        with self._lock:
            if self._closed is None:
                self._closed = exc
                if not self._closing:
                    log.debug("transport closed: %s", exc)
            waiting = [p for p in self._pending.values() if not p.event.is_set()]
            for p in waiting:
                p.error = exc if isinstance(exc, McpError) else TransportClosed(str(exc))
                p.event.set()

    # MCP methods -------------------------------------------------------------------------

    def ping(self, timeout=_DEFAULT):
        return self.request("ping", timeout=timeout)

    def _list(self, method, key, timeout):
        items, cursor = [], None
        for _ in range(1000):
            result = self.request(method, {"cursor": cursor} if cursor else None, timeout=timeout)
            items.extend(result.get(key) or [])
            cursor = result.get("nextCursor")
            if not cursor:
                break
        return items

    def list_tools(self, timeout=_DEFAULT):
        """Every tool (following pagination), as the server describes them."""
        return self._list("tools/list", "tools", timeout)

    def list_resources(self, timeout=_DEFAULT):
        return self._list("resources/list", "resources", timeout)

    def list_resource_templates(self, timeout=_DEFAULT):
        return self._list("resources/templates/list", "resourceTemplates", timeout)

    def list_prompts(self, timeout=_DEFAULT):
        return self._list("prompts/list", "prompts", timeout)

    def read_resource(self, uri, timeout=_DEFAULT):
        return self.request("resources/read", {"uri": uri}, timeout=timeout)

    def get_prompt(self, name, arguments=None, timeout=_DEFAULT):
        return self.request("prompts/get", {"name": name, "arguments": arguments or {}},
                            timeout=timeout)

    def call_tool(self, name, arguments=None, timeout=_DEFAULT, raise_on_error=True,
                  on_progress=None):
        """Calls a tool and returns its result (content, structuredContent, isError).
        A result with isError raises ToolError unless raise_on_error is False."""
        result = self.request("tools/call", {"name": name, "arguments": arguments or {}},
                              timeout=timeout, on_progress=on_progress)
        if raise_on_error and result.get("isError"):
            raise ToolError(name, result)
        return result
