"""McpSession over stdio: against the real pgmcp and the throwaway PostgreSQL, and against
fake_server.py for the edge cases (noise, death mid-request, a server that will not exit)."""
import os
import signal
import stat
import sys
import tempfile
import threading
import time
import unittest

from .support import (BIN, FAKE_SERVER, SLOW, is_reaped, need_pgmcp, pgmcp_cmd,
                      process_state)
from pgmcp_client import (LATEST_VERSION, MODERN_VERSION, McpError, McpSession, ProtocolError,
                          RequestTimeout, ToolError, TransportClosed)


def fake(*flags):
    return [sys.executable, FAKE_SERVER] + list(flags)


class Recorder:
    """A trace callback that keeps every message sent and received."""

    def __init__(self):
        self.sent, self.received = [], []
        self.lock = threading.Lock()

    def __call__(self, direction, msg):
        with self.lock:
            (self.sent if direction == "send" else self.received).append(msg)

    def sent_methods(self):
        with self.lock:
            return [m.get("method") for m in self.sent]


class PgmcpStdioTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        need_pgmcp()

    def session(self, **kw):
        kw.setdefault("timeout", 30 * SLOW)
        s = McpSession.stdio(pgmcp_cmd(), **kw)
        self.addCleanup(s.close)
        return s

    def test_handshakes(self):
        for version, stateless in (("auto", True), (MODERN_VERSION, True),
                                   (LATEST_VERSION, False), ("2025-06-18", False),
                                   ("2025-03-26", False), ("2024-11-05", False)):
            with self.subTest(version=version):
                with McpSession.stdio(pgmcp_cmd(), protocol_version=version,
                                      timeout=30 * SLOW) as s:
                    want = MODERN_VERSION if version == "auto" else version
                    self.assertEqual(s.protocol_version, want)
                    self.assertEqual(s.stateless, stateless)
                    self.assertEqual(s.server_info.get("name"), "pgmcp")
                    self.assertIn("list_tables", s.instructions or "")
                    r = s.call_tool("query", {"sql": "SELECT 41 + 1 AS answer"})
                    self.assertEqual(r["structuredContent"]["rows"], [{"answer": 42}])

    def test_tools_and_query(self):
        s = self.session()
        tools = {t["name"]: t for t in s.list_tools()}
        for name in ("query", "list_schemas", "list_tables", "describe_table", "explain",
                     "list_extensions", "database_info"):
            self.assertIn(name, tools)
        self.assertEqual(tools["query"]["inputSchema"]["required"], ["sql"])
        r = s.call_tool("query", {"sql": "SELECT count(*)::int AS n FROM sales.orders "
                                         "WHERE status = $1", "params": ["pending"]})
        self.assertEqual(r["structuredContent"]["rows"], [{"n": 40}])
        r = s.call_tool("list_tables", {"schema": "sales"})
        names = {t["name"] for t in r["structuredContent"]["tables"]}
        self.assertIn("orders", names)
        self.assertTrue(s.stateless)
        with self.assertRaises(ProtocolError) as cm:      # ping is gone in 2026-07-28
            s.ping()
        self.assertEqual(cm.exception.code, -32601)
        with McpSession.stdio(pgmcp_cmd(), protocol_version=LATEST_VERSION,
                              timeout=30 * SLOW) as s2:
            self.assertEqual(s2.ping(), {})

    def test_errors(self):
        s = self.session()
        with self.assertRaises(ToolError) as cm:
            s.call_tool("query", {"sql": "SELECT no_such_column FROM sales.orders"})
        self.assertIn("42703", str(cm.exception))
        self.assertTrue(cm.exception.result["isError"])
        r = s.call_tool("query", {"sql": "DELETE FROM sales.orders"}, raise_on_error=False)
        self.assertTrue(r["isError"])
        with self.assertRaises(ProtocolError) as cm:
            s.call_tool("no_such_tool", {})
        self.assertIsInstance(cm.exception.code, int)
        with self.assertRaises(ProtocolError):
            s.request("no/such/method")
        self.assertIsInstance(ToolError("t", {}), McpError)
        # still fine afterwards
        self.assertEqual(s.call_tool("query", {"sql": "SELECT 1 AS x"})
                         ["structuredContent"]["rows"], [{"x": 1}])

    def test_sixteen_threads_share_one_session(self):
        for version in ("auto", LATEST_VERSION):
            with self.subTest(version=version):
                s = self.session(protocol_version=version)
                pid = s.transport.pid
                barrier = threading.Barrier(16)
                answers, problems = {}, []

                def worker(n):
                    try:
                        barrier.wait(timeout=10 * SLOW)
                        for k in range(5):
                            want = n * 1000 + k
                            r = s.call_tool("query", {"sql": "SELECT $1::int AS n, "
                                                             "pg_backend_pid() AS pid",
                                                      "params": [want]})
                            got = r["structuredContent"]["rows"][0]["n"]
                            if got != want:
                                problems.append("thread %d got %r, wanted %r" % (n, got, want))
                        answers[n] = True
                    except Exception as e:       # reported below
                        problems.append("thread %d: %r" % (n, e))

                threads = [threading.Thread(target=worker, args=(n,)) for n in range(16)]
                t0 = time.monotonic()
                for t in threads:
                    t.start()
                for t in threads:
                    t.join(timeout=60 * SLOW)
                self.assertEqual(problems, [])
                self.assertEqual(len(answers), 16)
                self.assertEqual(s.transport.pid, pid, "one server process for everything")
                print("# 16 threads x 5 queries over one stdio session (%s): %.2fs"
                      % (s.protocol_version, time.monotonic() - t0), file=sys.stderr)

    def test_timeout_cancels_and_session_stays_usable(self):
        for version in ("auto", LATEST_VERSION):
            with self.subTest(version=version):
                rec = Recorder()
                s = self.session(protocol_version=version, trace=rec)
                t0 = time.monotonic()
                with self.assertRaises(RequestTimeout) as cm:
                    s.call_tool("query", {"sql": "SELECT pg_sleep(10)"}, timeout=1)
                waited = time.monotonic() - t0
                self.assertGreaterEqual(waited, 0.9)
                self.assertLess(waited, 3 * SLOW)
                self.assertIsInstance(cm.exception, McpError)
                cancels = [m for m in rec.sent if m.get("method") == "notifications/cancelled"]
                self.assertEqual(len(cancels), 1)
                self.assertEqual(cancels[0]["params"]["requestId"], cm.exception.request_id)
                # The statement was cancelled on the server, so the next call does not wait
                # for the remaining nine seconds of pg_sleep.
                t1 = time.monotonic()
                r = s.call_tool("query", {"sql": "SELECT 'still here' AS s"}, timeout=8)
                self.assertEqual(r["structuredContent"]["rows"], [{"s": "still here"}])
                # (without the cancel it would wait out the ~9 s left of pg_sleep)
                self.assertLess(time.monotonic() - t1, 6)
                print("# timeout: pg_sleep(10) with a 1 s timeout raised after %.2fs; next "
                      "query answered %.2fs later" % (waited, time.monotonic() - t1),
                      file=sys.stderr)

    def test_noise_on_stdout_is_skipped(self):
        d = tempfile.mkdtemp()
        wrapper = os.path.join(d, "noisy-pgmcp")
        with open(wrapper, "w") as f:
            f.write("#!/bin/sh\n"
                    "echo 'pgmcp wrapper: starting (not JSON-RPC)'\n"
                    "echo '{\"hello\": \"json, but not JSON-RPC\"}'\n"
                    "echo '[1, 2'\n"
                    "echo ''\n"
                    "echo '\"just a string\"'\n"
                    "exec \"$@\"\n")
        os.chmod(wrapper, os.stat(wrapper).st_mode | stat.S_IXUSR)
        with self.assertLogs("pgmcp_client", level="WARNING") as logs:
            with McpSession.stdio([wrapper] + pgmcp_cmd(), timeout=30 * SLOW) as s:
                r = s.call_tool("query", {"sql": "SELECT 7 AS seven"})
                self.assertEqual(r["structuredContent"]["rows"], [{"seven": 7}])
        text = "\n".join(logs.output)
        self.assertIn("pgmcp wrapper: starting", text)
        self.assertIn("json, but not JSON-RPC", text)
        self.assertIn("[1, 2", text)

    def test_server_killed_mid_request(self):
        s = self.session()
        pid = s.transport.pid
        threading.Timer(0.5, os.kill, (pid, signal.SIGKILL)).start()
        t0 = time.monotonic()
        with self.assertRaises(TransportClosed) as cm:
            s.call_tool("query", {"sql": "SELECT pg_sleep(20)"}, timeout=30)
        took = time.monotonic() - t0
        self.assertLess(took, 3 * SLOW, "TransportClosed promptly, not at the timeout")
        self.assertIn("-9", str(cm.exception))
        with self.assertRaises(TransportClosed):
            s.call_tool("query", {"sql": "SELECT 1"})
        s.close()
        self.assertTrue(is_reaped(pid))

    def test_close_leaves_no_zombie(self):
        s = McpSession.stdio(pgmcp_cmd(), timeout=30 * SLOW)
        pid = s.transport.pid
        self.assertIn(process_state(pid), ("S", "R", "D"))
        s.call_tool("query", {"sql": "SELECT 1"})
        t0 = time.monotonic()
        s.close()
        self.assertLess(time.monotonic() - t0, 5 * SLOW)
        self.assertEqual(s.transport.returncode, 0, "pgmcp exits 0 when stdin closes")
        self.assertTrue(is_reaped(pid), "no zombie: state %r" % process_state(pid))
        self.assertTrue(s.closed)
        with self.assertRaises(TransportClosed):
            s.call_tool("query", {"sql": "SELECT 1"})
        s.close()       # idempotent

    def test_missing_binary(self):
        with self.assertRaises(TransportClosed) as cm:
            McpSession.stdio([BIN + "-does-not-exist", "--stdio"])
        self.assertIn("cannot start", str(cm.exception))


class FakeStdioTests(unittest.TestCase):
    """Edge cases with fake_server.py (deterministic, no database)."""

    def test_noise_everywhere(self):
        with self.assertLogs("pgmcp_client", level="WARNING") as logs:
            with McpSession.stdio(fake("--noise"), timeout=10 * SLOW) as s:
                self.assertEqual(s.protocol_version, LATEST_VERSION)   # discover -> -32601
                self.assertEqual([t["name"] for t in s.list_tools()], ["echo"])
                for i in range(5):
                    self.assertEqual(s.call_tool("echo", {"text": str(i)})["content"][0]["text"],
                                     str(i))
        noise = [line for line in logs.output if "not JSON-RPC" in line]
        self.assertGreaterEqual(len(noise), 5)

    def test_dies_mid_request(self):
        s = McpSession.stdio(fake("--die-on-call"), timeout=10 * SLOW)
        pid = s.transport.pid
        t0 = time.monotonic()
        with self.assertRaises(TransportClosed) as cm:
            s.call_tool("echo", {"text": "x"}, timeout=30)
        self.assertLess(time.monotonic() - t0, 2 * SLOW)
        self.assertIn("status 3", str(cm.exception))
        self.assertIn("dying on purpose", str(cm.exception))
        s.close()
        self.assertTrue(is_reaped(pid))

    def test_pending_requests_all_fail_when_the_server_dies(self):
        s = McpSession.stdio(fake("--die-on-call"), timeout=10 * SLOW)
        errors = []

        def call():
            try:
                s.call_tool("echo", {"text": "x"}, timeout=30)
            except TransportClosed as e:
                errors.append(e)
        threads = [threading.Thread(target=call) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=10)
        self.assertEqual(len(errors), 8)
        s.close()

    def test_close_terminates_a_server_that_ignores_eof(self):
        s = McpSession.stdio(fake("--ignore-eof"), timeout=10 * SLOW)
        pid = s.transport.pid
        t0 = time.monotonic()
        s.close(timeout=0.5)
        self.assertLess(time.monotonic() - t0, 3)
        self.assertEqual(s.transport.returncode, -signal.SIGTERM)
        self.assertTrue(is_reaped(pid))

    def test_close_kills_a_server_that_ignores_sigterm(self):
        s = McpSession.stdio(fake("--ignore-eof", "--ignore-term"), timeout=10 * SLOW)
        s.transport.terminate_timeout = 0.5
        pid = s.transport.pid
        t0 = time.monotonic()
        s.close(timeout=0.5)
        self.assertLess(time.monotonic() - t0, 4)
        self.assertEqual(s.transport.returncode, -signal.SIGKILL)
        self.assertTrue(is_reaped(pid))

    def test_stderr_is_drained(self):
        # 20000 lines of 220 bytes (4 MB) would block a server whose stderr nobody reads.
        with McpSession.stdio(fake("--stderr-flood", "20000"), timeout=20 * SLOW) as s:
            self.assertEqual(s.call_tool("echo", {"text": "ok"})["content"][0]["text"], "ok")
            self.assertIn("stderr line 19999", s.transport.stderr_tail[-1])

    def test_answers_server_ping(self):
        rec = Recorder()
        with McpSession.stdio(fake("--ping-client"), timeout=10 * SLOW, trace=rec) as s:
            self.assertEqual(s.call_tool("echo", {"text": "pong"})["content"][0]["text"],
                             "pong")
        self.assertIn({"jsonrpc": "2.0", "id": 1001, "result": {}}, rec.sent)

    def test_context_manager_and_unique_ids(self):
        rec = Recorder()
        with McpSession.stdio(fake(), timeout=10 * SLOW, trace=rec) as s:
            threads = [threading.Thread(target=s.call_tool, args=("echo", {"text": "t"}))
                       for _ in range(20)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(timeout=10)
        ids = [m["id"] for m in rec.sent if "method" in m and "id" in m]
        self.assertEqual(len(ids), len(set(ids)))
        self.assertTrue(s.closed)


if __name__ == "__main__":
    unittest.main()
