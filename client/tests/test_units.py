"""Pieces that need no server: .env parsing, key=value arguments, tables, SSE parsing, schema
conversion, Retry-After, header encoding, settings precedence."""
import argparse
import io
import os
import tempfile
import unittest

from . import support  # noqa: F401  (puts the package on sys.path)
from pgmcp_client import _http, cli
from pgmcp_client.agent import (FINAL_ANSWER, Agent, function_name, has_examples,
                                tool_to_function)
from pgmcp_client.llm import ChatClient, parse_retry_after
from pgmcp_client.transport_http import _header_value


class EnvFileTests(unittest.TestCase):
    def parse(self, text):
        with tempfile.NamedTemporaryFile("w", suffix=".env", delete=False) as f:
            f.write(text)
        try:
            return cli.read_env_file(f.name)
        finally:
            os.unlink(f.name)

    def test_forms(self):
        got = self.parse(
            "# comment\n"
            "\n"
            "PLAIN=value\n"
            "export EXPORTED=yes\n"
            "SPACED = padded  \n"
            "SINGLE='a # not a comment $HOME'\n"
            'DOUBLE="line1\\nline2 \\"q\\" \\\\n"\n'
            "INLINE=abc # a comment\n"
            "URL=postgresql://u:p@h/db?sslmode=require\n"
            "EMPTY=\n"
            "not a setting\n")
        self.assertEqual(got["PLAIN"], "value")
        self.assertEqual(got["EXPORTED"], "yes")
        self.assertEqual(got["SPACED"], "padded")
        self.assertEqual(got["SINGLE"], "a # not a comment $HOME")
        self.assertEqual(got["DOUBLE"], 'line1\nline2 "q" \\n')
        self.assertEqual(got["INLINE"], "abc")
        self.assertEqual(got["URL"], "postgresql://u:p@h/db?sslmode=require")
        self.assertEqual(got["EMPTY"], "")
        self.assertNotIn("not a setting", got)

    def test_precedence_flag_env_file(self):
        d = tempfile.mkdtemp()
        path = os.path.join(d, ".env")
        with open(path, "w") as f:
            f.write("OPENAI_MODEL=from-file\nPGMCP_TIMEOUT=7\nDATABASE_URL=postgresql:///file\n")
        args = argparse.Namespace(env_file=path, model=None, timeout=None, dsn=None)
        s = cli.Settings(args, environ={"OPENAI_MODEL": "from-env"})
        self.assertEqual(s.get("model", "OPENAI_MODEL"), "from-env")
        self.assertEqual(s.get("timeout", "PGMCP_TIMEOUT"), "7")
        args.model = "from-flag"
        self.assertEqual(s.get("model", "OPENAI_MODEL"), "from-flag")
        env = s.child_env()
        self.assertEqual(env["DATABASE_URL"], "postgresql:///file")
        args.dsn = "postgresql:///flag"
        self.assertEqual(s.child_env()["DATABASE_URL"], "postgresql:///flag")


class CallArgumentTests(unittest.TestCase):
    def test_json_when_it_parses_else_string(self):
        got = cli.parse_call_args(["sql=select 1", "max_rows=5", "params=[1,\"a\"]",
                                   "flag=true", "nothing=null", "text=\"42\"", "eq=a=b"])
        self.assertEqual(got, {"sql": "select 1", "max_rows": 5, "params": [1, "a"],
                               "flag": True, "nothing": None, "text": "42", "eq": "a=b"})

    def test_one_json_object(self):
        self.assertEqual(cli.parse_call_args(['{"sql": "select 1"}']), {"sql": "select 1"})

    def test_bad_pair(self):
        with self.assertRaises(SystemExit):
            cli.parse_call_args(["novalue"])


class TableTests(unittest.TestCase):
    def test_alignment(self):
        text = cli.format_table([{"id": 1, "name": "a", "x": None},
                                 {"id": 100, "name": "long name", "x": {"k": [1]}}],
                                ["id", "name", "x"])
        lines = text.splitlines()
        self.assertEqual(lines[0], " id | name      | x")
        self.assertEqual(lines[1], "----+-----------+----------")
        self.assertEqual(lines[2], "  1 | a         | NULL")
        self.assertEqual(lines[3], "100 | long name | {\"k\":[1]}")

    def test_query_result(self):
        result = {"structuredContent": {"columns": [{"name": "n", "type": "integer"}],
                                        "rows": [{"n": 1}, {"n": 2}], "row_count": 2,
                                        "truncated": True, "truncated_by": "max_rows"}}
        text = cli.format_result(result)
        self.assertIn("(2 rows) truncated by max_rows", text)
        self.assertTrue(text.startswith("n\n-\n1\n2"), text)

    def test_cells(self):
        self.assertEqual(cli.cell("a\nb"), "a\\nb")
        self.assertEqual(cli.cell(True), "true")
        self.assertEqual(len(cli.cell("x" * 100, 10)), 10)


class SseParserTests(unittest.TestCase):
    def events(self, text):
        class Resp:
            def __init__(self, data):
                self.f = io.BytesIO(data)

            def readline(self):
                return self.f.readline()
        return list(_http.iter_sse(Resp(text.encode())))

    def test_events(self):
        got = self.events(": comment\n"
                          "event: endpoint\ndata: /messages?sessionId=1\n\n"
                          "id: 7\ndata: {\"a\":\ndata: 1}\n\n"
                          "data:x\r\n\r\n"
                          "retry: 100\n\n"
                          "data: last without blank line")
        self.assertEqual(got[0], ("endpoint", "/messages?sessionId=1", None))
        self.assertEqual(got[1], ("message", "{\"a\":\n1}", "7"))
        self.assertEqual(got[2], ("message", "x", "7"))
        self.assertEqual(got[3], ("message", "last without blank line", "7"))
        self.assertEqual(len(got), 4)


class SchemaTests(unittest.TestCase):
    TOOL = {"name": "query", "title": "Run SQL", "description": "Run one statement.",
            "inputSchema": {
                "type": "object",
                "properties": {
                    "sql": {"type": "string", "description": "SQL.",
                            "examples": ["SELECT 1"]},
                    "format": {"type": "string", "enum": ["text", "json"], "default": "text"},
                    "examples": {"type": "array", "items": {"type": "integer",
                                                            "examples": [1, 2]}},
                },
                "required": ["sql"],
                "additionalProperties": False}}

    def test_exact(self):
        fn = tool_to_function(self.TOOL)
        self.assertEqual(fn["type"], "function")
        self.assertEqual(fn["function"]["name"], "query")
        self.assertEqual(fn["function"]["description"], "Run one statement.")
        self.assertEqual(fn["function"]["parameters"], self.TOOL["inputSchema"])
        self.assertIsNot(fn["function"]["parameters"], self.TOOL["inputSchema"])

    def test_folded(self):
        params = tool_to_function(self.TOOL, fold=True)["function"]["parameters"]
        self.assertFalse(has_examples(params))
        self.assertTrue(has_examples(self.TOOL["inputSchema"]))
        self.assertEqual(params["properties"]["sql"]["description"], 'SQL. Examples: "SELECT 1"')
        self.assertEqual(params["properties"]["format"]["enum"], ["text", "json"])
        self.assertEqual(params["required"], ["sql"])
        self.assertFalse(params["additionalProperties"])
        # a property named "examples" is a property, not the keyword
        self.assertIn("examples", params["properties"])
        self.assertEqual(params["properties"]["examples"]["items"]["description"],
                         "Examples: 1; 2")

    def test_names(self):
        self.assertEqual(function_name("query", set()), "query")
        self.assertEqual(function_name("db.query/v2", set()), "db_query_v2")
        self.assertEqual(function_name("a.b", {"a_b"}), "a_b_2")

    def test_functions_add_final_answer(self):
        class S:
            instructions = None

            def list_tools(self):
                return [SchemaTests.TOOL, {"name": FINAL_ANSWER, "inputSchema": {}}]
        fns = Agent(S(), None).functions()
        names = [f["function"]["name"] for f in fns]
        self.assertEqual(names[0], "query")
        self.assertEqual(names.count(FINAL_ANSWER), 1)
        self.assertEqual(len(set(names)), 3)       # the server's final_answer got renamed


class RetryAfterTests(unittest.TestCase):
    def test_values(self):
        self.assertEqual(parse_retry_after("3"), 3.0)
        self.assertEqual(parse_retry_after("0.5"), 0.5)
        self.assertIsNone(parse_retry_after(None))
        self.assertIsNone(parse_retry_after("soon"))
        self.assertEqual(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), 0.0)

    def test_key_never_in_repr(self):
        c = ChatClient(api_key=support.TEST_KEY, base_url="http://x/v1", model="m")
        self.assertNotIn(support.TEST_KEY, repr(c))
        self.assertNotIn(support.TEST_KEY, str(vars(c).get("base_url")))


class HeaderTests(unittest.TestCase):
    def test_header_values(self):
        self.assertEqual(_header_value("query"), "query")
        self.assertEqual(_header_value("r\u00e9sum\u00e9"), "=?base64?csOpc3Vtw6k=?=")
        self.assertTrue(_header_value("a\nb").startswith("=?base64?"))


if __name__ == "__main__":
    unittest.main()
