"""The HTTP transports: Streamable HTTP (JSON and SSE responses, stateful sessions, DELETE on
close) and legacy HTTP+SSE, against the official MCP TypeScript SDK's server
(client/tests/sdk_server.mjs) and against pgmcp's own daemon (`pgmcp --listen`), which also
serves the stateless 2026-07-28 revision."""
import json
import sys
import threading
import time
import unittest

from . import support
from .support import SLOW, FakeLLM, PgmcpDaemon, SdkServer, cli_env, run_cli, tool_calls
from pgmcp_client import (LATEST_VERSION, MODERN_VERSION, McpSession, ProtocolError,
                          RequestTimeout, ToolError, TransportClosed)
from pgmcp_client.agent import Agent
from pgmcp_client.llm import ChatClient


def run_threads(n, fn):
    barrier = threading.Barrier(n)
    problems, done = [], []

    def worker(i):
        try:
            barrier.wait(timeout=10 * SLOW)
            fn(i)
            done.append(i)
        except Exception as e:
            problems.append("thread %d: %r" % (i, e))
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60 * SLOW)
    return problems, done


class SdkServerTests(unittest.TestCase):
    """Against @modelcontextprotocol/sdk's StreamableHTTPServerTransport and
    SSEServerTransport."""

    @classmethod
    def setUpClass(cls):
        cls.sdk = SdkServer()

    @classmethod
    def tearDownClass(cls):
        cls.sdk.stop()

    ENDPOINTS = (("http", "/mcp"), ("http", "/mcp-json"), ("sse", "/sse"))

    def open(self, kind, path, **kw):
        kw.setdefault("timeout", 20 * SLOW)
        s = getattr(McpSession, kind)(self.sdk.url(path), **kw)
        self.addCleanup(s.close)
        return s

    def test_basic_calls(self):
        for kind, path in self.ENDPOINTS:
            with self.subTest(endpoint=path):
                s = self.open(kind, path)
                # auto: the SDK refuses server/discover, so the client falls back to initialize
                self.assertEqual(s.protocol_version, LATEST_VERSION)
                self.assertFalse(s.stateless)
                self.assertEqual(s.server_info["name"], "sdk-test-server")
                names = [t["name"] for t in s.list_tools()]
                self.assertEqual(names, ["echo", "add", "slow", "fail", "chatty", "whoami"])
                r = s.call_tool("echo", {"text": "h\u00e9llo", "style": "upper"})
                self.assertEqual(r["content"][0]["text"], "H\u00c9LLO")
                self.assertEqual(s.call_tool("add", {"a": 2, "b": 40})["structuredContent"],
                                 {"sum": 42})
                with self.assertRaises(ToolError) as cm:
                    s.call_tool("fail")
                self.assertIn("always fails", str(cm.exception))
                with self.assertRaises(ProtocolError):
                    s.request("no/such/method")
                self.assertEqual(s.ping(), {})
                if kind == "http":
                    sid = s.transport.session_id
                    self.assertTrue(sid)
                    self.assertEqual(s.call_tool("whoami")["content"][0]["text"], sid)

    def test_every_handshake_version(self):
        for version in ("2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"):
            for kind, path in (("http", "/mcp"), ("sse", "/sse")):
                with self.subTest(version=version, endpoint=path):
                    with getattr(McpSession, kind)(self.sdk.url(path), protocol_version=version,
                                                   timeout=20 * SLOW) as s:
                        self.assertEqual(s.protocol_version, version)
                        self.assertEqual(s.call_tool("echo", {"text": "v"})["content"][0]
                                         ["text"], "v")

    def test_notifications_before_the_response(self):
        for kind, path in (("http", "/mcp"), ("sse", "/sse")):
            with self.subTest(endpoint=path):
                s = self.open(kind, path)
                seen, progress = [], []
                s.add_notification_listener(seen.append)
                with self.assertLogs("pgmcp_client.server", level="INFO") as logs:
                    r = s.call_tool("chatty", {}, on_progress=progress.append)
                self.assertEqual(r["content"][0]["text"], "chatted")
                self.assertEqual([p["progress"] for p in progress], [1, 2])
                self.assertIn("chatty: one", "\n".join(logs.output))
                self.assertIn("notifications/message", [m["method"] for m in seen])

    def test_sixteen_threads(self):
        for kind, path in self.ENDPOINTS:
            with self.subTest(endpoint=path):
                s = self.open(kind, path)

                def work(i):
                    for k in range(3):
                        got = s.call_tool("add", {"a": i, "b": k * 100})["structuredContent"]
                        if got != {"sum": i + k * 100}:
                            raise AssertionError("thread %d got %r" % (i, got))
                problems, done = run_threads(16, work)
                self.assertEqual(problems, [])
                self.assertEqual(len(done), 16)

    def test_timeout_cancels_and_session_stays_usable(self):
        for kind, path in self.ENDPOINTS:
            with self.subTest(endpoint=path):
                s = self.open(kind, path)
                before = len(self.sdk.stats()["cancelled"])
                t0 = time.monotonic()
                with self.assertRaises(RequestTimeout):
                    s.call_tool("slow", {"ms": 10000}, timeout=1)
                self.assertLess(time.monotonic() - t0, 3 * SLOW)
                self.assertEqual(s.call_tool("echo", {"text": "after"})["content"][0]["text"],
                                 "after")
                deadline = time.monotonic() + 5
                while len(self.sdk.stats()["cancelled"]) <= before and \
                        time.monotonic() < deadline:
                    time.sleep(0.05)
                self.assertGreater(len(self.sdk.stats()["cancelled"]), before,
                                   "the server saw the cancellation")

    def test_close_deletes_the_session(self):
        before = self.sdk.stats()["deletes"]
        s = McpSession.http(self.sdk.url("/mcp"), timeout=20 * SLOW)
        sid = s.transport.session_id
        s.close()
        self.assertEqual(self.sdk.stats()["deletes"], before + 1)
        # the SDK forgot it: the old id is refused
        t = McpSession.http(self.sdk.url("/mcp"), timeout=20 * SLOW)
        t.transport.session_id = sid
        with self.assertRaises(TransportClosed) as cm:
            t.call_tool("echo", {"text": "x"})
        self.assertIn("404", str(cm.exception))
        t.close()

    def test_explicit_modern_version_is_refused_by_the_sdk(self):
        with self.assertRaises(ProtocolError):
            McpSession.http(self.sdk.url("/mcp"), protocol_version=MODERN_VERSION,
                            timeout=20 * SLOW)

    def test_idle_sse_stream_outlives_the_connect_timeout(self):
        from pgmcp_client.transport_sse import SseTransport
        s = McpSession(SseTransport(self.sdk.url("/sse"), connect_timeout=0.5), timeout=20 * SLOW)
        self.addCleanup(s.close)
        time.sleep(1.2)
        self.assertFalse(s.closed)
        self.assertEqual(s.call_tool("echo", {"text": "awake"})["content"][0]["text"], "awake")

    def test_unreachable(self):
        with self.assertRaises(TransportClosed):
            McpSession.http("http://127.0.0.1:%d/mcp" % support.free_port(), timeout=5)
        with self.assertRaises(TransportClosed):
            McpSession.sse("http://127.0.0.1:%d/sse" % support.free_port(), timeout=5)
        with self.assertRaises(TransportClosed):       # not an SSE stream
            McpSession.sse(self.sdk.url("/stats"), timeout=5)


class SdkServerDiesTests(unittest.TestCase):
    """A server that dies mid-request, over both HTTP transports."""

    def test_http_server_dies_mid_request(self):
        sdk = SdkServer()
        try:
            s = McpSession.http(sdk.url("/mcp"), timeout=30)
            threading.Timer(0.5, sdk.kill).start()
            t0 = time.monotonic()
            with self.assertRaises(TransportClosed):
                s.call_tool("slow", {"ms": 20000})
            self.assertLess(time.monotonic() - t0, 5 * SLOW)
            s.close()
        finally:
            sdk.stop()

    def test_sse_server_dies_mid_request(self):
        sdk = SdkServer()
        try:
            s = McpSession.sse(sdk.url("/sse"), timeout=30)
            threading.Timer(0.5, sdk.kill).start()
            t0 = time.monotonic()
            with self.assertRaises(TransportClosed):
                s.call_tool("slow", {"ms": 20000})
            self.assertLess(time.monotonic() - t0, 5 * SLOW)
            self.assertTrue(s.closed)
            with self.assertRaises(TransportClosed):
                s.call_tool("echo", {"text": "x"})
            s.close()
        finally:
            sdk.stop()


class PgmcpDaemonTests(unittest.TestCase):
    """Against pgmcp --listen: Streamable HTTP (stateless 2026-07-28 and stateful sessions)
    and legacy SSE, on the real database."""

    @classmethod
    def setUpClass(cls):
        cls.daemon = PgmcpDaemon(workers=4)

    @classmethod
    def tearDownClass(cls):
        cls.daemon.cleanup()

    def open(self, kind, path, **kw):
        kw.setdefault("timeout", 30 * SLOW)
        s = getattr(McpSession, kind)(self.daemon.url(path), **kw)
        self.addCleanup(s.close)
        return s

    VARIANTS = (("http", "/mcp", "auto", True), ("http", "/mcp", LATEST_VERSION, False),
                ("http", "/mcp", "2025-03-26", False), ("sse", "/sse", "auto", False),
                ("sse", "/sse", "2024-11-05", False))

    def test_query_over_every_transport(self):
        for kind, path, version, stateless in self.VARIANTS:
            with self.subTest(kind=kind, version=version):
                s = self.open(kind, path, protocol_version=version)
                self.assertEqual(s.stateless, stateless)
                self.assertEqual(s.server_info.get("name"), "pgmcp")
                if kind == "http":
                    self.assertEqual(bool(s.transport.session_id), not stateless)
                self.assertIn("query", [t["name"] for t in s.list_tools()])
                r = s.call_tool("query", {"sql": "SELECT count(*)::int AS n FROM sales.orders"})
                self.assertEqual(r["structuredContent"]["rows"], [{"n": 200}])
                with self.assertRaises(ToolError):
                    s.call_tool("query", {"sql": "SELECT * FROM no_such_table"})
                with self.assertRaises(ProtocolError):
                    s.call_tool("no_such_tool", {})

    def test_sixteen_threads(self):
        for kind, path, version, _ in self.VARIANTS[:2] + self.VARIANTS[3:4]:
            with self.subTest(kind=kind, version=version):
                s = self.open(kind, path, protocol_version=version)

                def work(i):
                    for k in range(3):
                        want = i * 10 + k
                        r = s.call_tool("query", {"sql": "SELECT $1::int AS n",
                                                  "params": [want]})
                        got = r["structuredContent"]["rows"][0]["n"]
                        if got != want:
                            raise AssertionError("thread %d got %r, wanted %r" % (i, got, want))
                t0 = time.monotonic()
                problems, done = run_threads(16, work)
                self.assertEqual(problems, [])
                self.assertEqual(len(done), 16)
                print("# 16 threads x 3 queries over %s %s: %.2fs" % (
                    kind, s.protocol_version, time.monotonic() - t0), file=sys.stderr)

    def test_timeout_cancels_and_session_stays_usable(self):
        for kind, path, version, _ in self.VARIANTS[:2] + self.VARIANTS[3:4]:
            with self.subTest(kind=kind, version=version):
                s = self.open(kind, path, protocol_version=version)
                t0 = time.monotonic()
                with self.assertRaises(RequestTimeout):
                    s.call_tool("query", {"sql": "SELECT pg_sleep(10)"}, timeout=1)
                waited = time.monotonic() - t0
                self.assertLess(waited, 3 * SLOW)
                t1 = time.monotonic()
                r = s.call_tool("query", {"sql": "SELECT 'usable' AS s"}, timeout=10 * SLOW)
                self.assertEqual(r["structuredContent"]["rows"], [{"s": "usable"}])
                print("# timeout over %s %s: raised after %.2fs, next query %.2fs" % (
                    kind, s.protocol_version, waited, time.monotonic() - t1), file=sys.stderr)
        # pg_sleep was cancelled on the server, not left running
        deadline = time.monotonic() + 10 * SLOW
        while time.monotonic() < deadline:
            r = self.open("http", "/mcp").call_tool("query", {
                "sql": "SELECT count(*)::int AS n FROM pg_stat_activity WHERE query LIKE "
                       "'SELECT pg_sleep(10)%' AND state = 'active'"})
            if r["structuredContent"]["rows"] == [{"n": 0}]:
                break
            time.sleep(0.2)
        self.assertEqual(r["structuredContent"]["rows"], [{"n": 0}])

    def test_cli_over_http_and_sse(self):
        for flag, path in (("--url", "/mcp"), ("--sse", "/sse")):
            with self.subTest(flag=flag):
                p = run_cli([flag, self.daemon.url(path), "call", "query",
                             "sql=select 1 as one"], env=cli_env())
                self.assertEqual(p.returncode, 0, p.stderr)
                self.assertEqual(json.loads(p.stdout)["structuredContent"]["rows"],
                                 [{"one": 1}])
        p = run_cli(["tools"], env=cli_env(PGMCP_URL=self.daemon.url("/mcp")))
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("describe_table", [t["name"] for t in json.loads(p.stdout)])

    def test_agent_over_http(self):
        s = self.open("http", "/mcp")
        with FakeLLM([tool_calls(("query", {"sql": "SELECT count(*) AS n FROM hr.employees"})),
                      lambda body: tool_calls(("final_answer", {
                          "answer": "%s employees" % json.loads(
                              support.last_tool_content(body))["rows"][0]["n"]}))],
                     expect_parameters=support.expected_parameters(s.list_tools())) as fake:
            llm = ChatClient(api_key=support.TEST_KEY, base_url=fake.base_url, model="m")
            self.assertEqual(Agent(s, llm).ask("How many employees?").answer, "12 employees")
            self.assertEqual(fake.errors, [])


if __name__ == "__main__":
    unittest.main()
