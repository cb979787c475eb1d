"""The command line, run as a subprocess: call and tools with no model configured, JSON when
piped and tables on a terminal, .env files, client/main.py, and ask end to end against the
scripted model."""
import json
import os
import subprocess
import sys
import tempfile
import time
import unittest

from . import support
from .support import (CLIENT, DSN, SLOW, TEST_KEY, FakeLLM, cli_env, last_tool_content,
                      need_pgmcp, run_cli, tool_calls)

PENDING_SQL = "SELECT count(*) AS pending FROM sales.orders WHERE status = 'pending'"


def env_db(**extra):
    return cli_env(DATABASE_URL=DSN, **extra)


class CliTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        need_pgmcp()

    def check(self, p, code=0):
        self.assertEqual(p.returncode, code, "exit %s\nstdout: %s\nstderr: %s"
                         % (p.returncode, p.stdout[-2000:], p.stderr[-2000:]))
        return p

    def test_call_query_without_llm(self):
        p = self.check(run_cli(["call", "query", "sql=select 1"], env=env_db()))
        doc = json.loads(p.stdout)
        self.assertEqual(doc["structuredContent"]["rows"], [{"?column?": 1}])
        self.assertFalse(doc["isError"])
        self.assertEqual(p.stderr, "")

    def test_call_with_typed_arguments(self):
        p = self.check(run_cli(["call", "query", "sql=SELECT $1::int + 1 AS n, $2::text AS t",
                                "params=[41, \"x\"]", "max_rows=5"], env=env_db()))
        self.assertEqual(json.loads(p.stdout)["structuredContent"]["rows"],
                         [{"n": 42, "t": "x"}])

    def test_call_as_table(self):
        p = self.check(run_cli(["--table", "call", "query",
                                "sql=SELECT id, name FROM hr.employees ORDER BY id LIMIT 3"],
                               env=env_db()))
        lines = p.stdout.splitlines()
        self.assertRegex(lines[0], r"^id \| name\s*$")
        self.assertRegex(lines[1], r"^---\+-+$")
        self.assertRegex(lines[2], r"^ 1 \| \S")
        self.assertEqual(lines[-1], "(3 rows)")

    def test_tty_gets_a_table(self):
        try:
            import pty
        except ImportError:
            self.skipTest("no pty module on this platform")
        master, slave = pty.openpty()
        try:
            p = subprocess.Popen([sys.executable, "-m", "pgmcp_client", "call", "query",
                                  "sql=SELECT 1 AS one, 'two' AS two"], stdout=slave,
                                 stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                                 env=env_db(), cwd=tempfile.gettempdir())
            os.close(slave)
            slave = None
            out = b""
            deadline = time.monotonic() + 30 * SLOW
            while time.monotonic() < deadline:
                try:
                    chunk = os.read(master, 4096)
                except OSError:
                    break
                if not chunk:
                    break
                out += chunk
            p.wait(timeout=30 * SLOW)
        finally:
            if slave is not None:
                os.close(slave)
            os.close(master)
        text = out.decode().replace("\r\n", "\n")
        err = p.stderr.read().decode()
        p.stderr.close()
        self.assertEqual(p.returncode, 0, err)
        self.assertIn("one | two\n----+----\n  1 | two\n(1 row)", text)

    def test_tools_without_llm(self):
        p = self.check(run_cli(["tools"], env=env_db()))
        tools = {t["name"]: t for t in json.loads(p.stdout)}
        self.assertIn("query", tools)
        self.assertEqual(tools["query"]["inputSchema"]["required"], ["sql"])
        p = self.check(run_cli(["--table", "tools", "describe_table"], env=env_db()))
        self.assertIn("describe_table - Describe a table", p.stdout)
        self.assertRegex(p.stdout, r"table\s+\| string\s+\| yes")
        self.check(run_cli(["tools", "nope"], env=env_db()), 1)

    def test_options_after_the_command_and_protocols(self):
        for proto in ("2025-11-25", "2024-11-05", "2026-07-28"):
            p = self.check(run_cli(["info", "--json", "--protocol", proto], env=env_db()))
            doc = json.loads(p.stdout)
            self.assertEqual(doc["protocol_version"], proto)
            self.assertEqual(doc["server"]["name"], "pgmcp")

    def test_explicit_server_and_dsn_flag(self):
        p = self.check(run_cli(["--server", "%s --stdio" % support.BIN, "--dsn", DSN, "call",
                                "query", "sql=select 2 as two"], env=cli_env()))
        self.assertEqual(json.loads(p.stdout)["structuredContent"]["rows"], [{"two": 2}])

    def test_env_file(self):
        d = tempfile.mkdtemp()
        with open(os.path.join(d, ".env"), "w") as f:
            f.write("# settings for the client\nDATABASE_URL='%s'\nPGMCP_TIMEOUT=30\n" % DSN)
        p = self.check(run_cli(["call", "query", "sql=select current_database() AS db"],
                               env=cli_env(), cwd=d))
        self.assertEqual(json.loads(p.stdout)["structuredContent"]["rows"],
                         [{"db": "pgmcp_test"}])
        other = os.path.join(d, "other.env")
        os.rename(os.path.join(d, ".env"), other)
        p = self.check(run_cli(["--env-file", other, "call", "query", "sql=select 3 AS n"],
                               env=cli_env()))
        self.assertEqual(json.loads(p.stdout)["structuredContent"]["rows"], [{"n": 3}])

    def test_main_py(self):
        p = subprocess.run([sys.executable, os.path.join(CLIENT, "main.py"), "call", "query",
                            "sql=select 4 as n"], capture_output=True, text=True,
                           env=env_db(PYTHONPATH=""), cwd=tempfile.gettempdir(),
                           timeout=60 * SLOW)
        self.check(p)
        self.assertEqual(json.loads(p.stdout)["structuredContent"]["rows"], [{"n": 4}])

    def test_errors_and_exit_codes(self):
        p = self.check(run_cli(["call", "query", "sql=select nope"], env=env_db()), 1)
        self.assertTrue(json.loads(p.stdout)["isError"])
        p = self.check(run_cli(["--table", "call", "query", "sql=select nope"], env=env_db()), 1)
        self.assertIn("42703", p.stderr)
        p = self.check(run_cli(["call", "no_such_tool"], env=env_db()), 1)
        self.assertIn("no_such_tool", p.stderr)
        p = self.check(run_cli(["--url", "http://x/mcp", "--sse", "http://x/sse", "tools"],
                               env=env_db()), 2)
        p = self.check(run_cli(["--server", "/nonexistent/pgmcp --stdio", "tools"],
                               env=env_db()), 1)
        self.assertIn("cannot start the server", p.stderr)
        p = self.check(run_cli(["call", "query", "novalue"], env=env_db()), 1)
        self.assertIn("key=value", p.stderr)

    def test_ask_needs_a_model(self):
        p = self.check(run_cli(["ask", "how many orders?"], env=env_db()), 1)
        self.assertIn("OPENAI_API_KEY", p.stderr)

    def test_ask_end_to_end(self):
        def answer(body):
            rows = json.loads(last_tool_content(body))["rows"]
            return tool_calls(("final_answer", {"answer": "%d orders are pending."
                                                % rows[0]["pending"]}))
        with FakeLLM([tool_calls(("list_tables", {"schema": "sales"})),
                      tool_calls(("query", {"sql": PENDING_SQL})), answer]) as fake:
            env = env_db(OPENAI_API_KEY=TEST_KEY, OPENAI_BASE_URL=fake.base_url,
                         OPENAI_MODEL="scripted")
            p = self.check(run_cli(["-vv", "--trace", "--table", "ask",
                                    "How many orders are still pending?"], env=env))
            self.assertEqual(fake.errors, [])
            self.assertEqual(p.stdout.strip(), "40 orders are pending.")
            self.assertIn('-> list_tables {"schema": "sales"}', p.stderr)
            self.assertIn("-> query {\"sql\": \"%s\"}" % PENDING_SQL.replace("'", "'"),
                          p.stderr)
            self.assertIn("-> final_answer", p.stderr)
            self.assertNotIn(TEST_KEY, p.stdout + p.stderr)
            self.assertEqual(fake.requests[0]["body"]["model"], "scripted")
            print("# transcript of `ask` against the scripted model:\n# $ pgmcp-client -v ask "
                  "\"How many orders are still pending?\"", file=sys.stderr)
            for line in p.stderr.splitlines():
                if line.startswith(("->", "<-", "!!")):
                    print("# " + line, file=sys.stderr)
            print("# " + p.stdout.strip(), file=sys.stderr)

    def test_ask_json_and_interactive(self):
        script = [tool_calls(("query", {"sql": "SELECT 1 AS one"})),
                  tool_calls(("final_answer", {"answer": "one"})),
                  tool_calls(("final_answer", {"answer": "two"}))]
        with FakeLLM(script) as fake:
            env = env_db(OPENAI_API_KEY=TEST_KEY, OPENAI_BASE_URL=fake.base_url)
            p = self.check(run_cli(["ask"], env=env, input="first?\n\nsecond?\n"))
            docs = [json.loads(chunk) for chunk in p.stdout.replace("}\n{", "}\x00{")
                    .split("\x00")]
            self.assertEqual([d["answer"] for d in docs], ["one", "two"])
            self.assertEqual(docs[0]["question"], "first?")
            self.assertEqual(docs[0]["steps"][0]["tool"], "query")
            self.assertEqual(fake.errors, [])

    def test_noisy_server_via_cli(self):
        p = self.check(run_cli(["--server", "%s %s --noise" % (sys.executable,
                                                                support.FAKE_SERVER),
                                "call", "echo", "text=hi"], env=cli_env()))
        self.assertEqual(json.loads(p.stdout)["content"][0]["text"], "hi")
        self.assertIn("not JSON-RPC", p.stderr)


if __name__ == "__main__":
    unittest.main()
