"""The agent: a question -> tool calls -> final_answer, with the scripted model playing the
LLM and the real pgmcp answering the tool calls on the sample database."""
import json
import re
import sys
import unittest

from .support import (SLOW, TEST_KEY, FakeLLM, expected_parameters, http_error,
                      last_tool_content, need_pgmcp, pgmcp_cmd, text_reply, tool_calls)
from pgmcp_client import McpSession
from pgmcp_client.agent import CORRECTIVE, Agent, AgentError
from pgmcp_client.llm import ChatClient

PENDING_SQL = "SELECT count(*) AS pending FROM sales.orders WHERE status = 'pending'"


def answer_from_last_result(body):
    """The scripted model's last turn: reads the query result it was given and answers."""
    rows = json.loads(last_tool_content(body))["rows"]
    return tool_calls(("final_answer", {"answer": "%d orders are pending." % rows[0]["pending"]}))


class AgentTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        need_pgmcp()
        cls.session = McpSession.stdio(pgmcp_cmd(), timeout=30 * SLOW)
        cls.tools = cls.session.list_tools()

    @classmethod
    def tearDownClass(cls):
        cls.session.close()

    def fake(self, script, fold=False):
        fake = FakeLLM(script, expect_parameters=expected_parameters(self.tools, fold),
                       expect_descriptions={t["name"]: t["description"] for t in self.tools})
        self.addCleanup(fake.stop)
        return fake

    def agent(self, fake, events=None, **kw):
        llm = ChatClient(api_key=TEST_KEY, base_url=fake.base_url, model="scripted",
                         backoff=0.05, timeout=10 * SLOW)
        return Agent(self.session, llm, tools=self.tools,
                     on_event=events.append if events is not None else None, **kw)

    def test_question_to_list_tables_query_final_answer(self):
        fake = self.fake([tool_calls(("list_tables", {"schema": "sales"})),
                          tool_calls(("query", {"sql": PENDING_SQL})),
                          answer_from_last_result])
        events = []
        result = self.agent(fake, events).ask("How many orders are still pending?")
        self.assertEqual(fake.errors, [])
        self.assertEqual(result.answer, "40 orders are pending.")
        self.assertEqual([s["tool"] for s in result.steps], ["list_tables", "query"])
        self.assertTrue(all(s["ok"] for s in result.steps))
        self.assertEqual(result.turns, 3)
        # what the model saw: the question, then each tool result fed back
        first = fake.requests[0]["body"]
        self.assertEqual(first["messages"][-1], {"role": "user",
                                                 "content": "How many orders are still pending?"})
        self.assertEqual(first["tool_choice"], "required")
        second = fake.requests[1]["body"]
        self.assertIn('"orders"', last_tool_content(second))
        tool_msgs = [m for m in fake.requests[2]["body"]["messages"] if m["role"] == "tool"]
        self.assertEqual([m["tool_call_id"] for m in tool_msgs],
                         ["call_0_list_tables", "call_0_query"])
        self.assertEqual([e["type"] for e in events], ["call", "result", "call", "result",
                                                       "final_answer"])
        print("# ask transcript:", file=sys.stderr)
        for e in events:
            print("#   %s" % json.dumps({k: v for k, v in e.items()
                                         if k not in ("structured", "text")}), file=sys.stderr)

    def test_text_reply_is_rejected_then_retried(self):
        fake = self.fake([text_reply("There are probably some pending orders."),
                          tool_calls(("query", {"sql": PENDING_SQL})),
                          answer_from_last_result])
        events = []
        result = self.agent(fake, events).ask("How many orders are pending?")
        self.assertEqual(fake.errors, [])
        self.assertEqual(result.answer, "40 orders are pending.")
        retry = fake.requests[1]["body"]["messages"]
        self.assertEqual(retry[-1], {"role": "user", "content": CORRECTIVE})
        self.assertEqual(retry[-2]["role"], "assistant")
        self.assertEqual(events[0]["type"], "text_rejected")

    def test_two_text_replies_are_an_error(self):
        fake = self.fake([text_reply("I think 40."), text_reply("Still 40.")])
        with self.assertRaises(AgentError) as cm:
            self.agent(fake).ask("How many orders are pending?")
        self.assertIn("text instead of a tool call twice", str(cm.exception))
        self.assertEqual(len(fake.requests), 2)
        self.assertEqual(fake.errors, [])

    def test_malformed_arguments_are_fed_back(self):
        fake = self.fake([tool_calls(("query", '{"sql": "SELECT 1",')),
                          lambda body: tool_calls(("final_answer", {"answer": "retry saw: " +
                                                                    last_tool_content(body)}))])
        result = self.agent(fake).ask("q")
        self.assertIn("not valid JSON", result.answer)
        self.assertIn("Call query again", result.answer)
        self.assertFalse(result.steps[0]["ok"])
        self.assertEqual(fake.errors, [])

    def test_tool_error_is_fed_back_and_fixed(self):
        fake = self.fake([tool_calls(("query", {"sql": "SELECT count(*) FROM sales.order"})),
                          tool_calls(("query", {"sql": PENDING_SQL})),
                          answer_from_last_result])
        result = self.agent(fake).ask("How many orders are pending?")
        self.assertEqual(result.answer, "40 orders are pending.")
        err = last_tool_content(fake.requests[1]["body"])
        self.assertTrue(err.startswith("Error: "), err)
        self.assertIn("42P01", err)
        self.assertEqual([s["ok"] for s in result.steps], [False, True])

    def test_429_and_500_during_a_question(self):
        fake = self.fake([http_error(429, "rate limited", {"Retry-After": "0"}),
                          tool_calls(("query", {"sql": PENDING_SQL})),
                          http_error(500, "upstream hiccup"),
                          answer_from_last_result])
        result = self.agent(fake).ask("How many orders are pending?")
        self.assertEqual(result.answer, "40 orders are pending.")
        self.assertEqual(len(fake.requests), 4)
        self.assertEqual(fake.errors, [])

    def test_max_steps(self):
        fake = self.fake([tool_calls(("list_schemas", {}))] * 3)
        with self.assertRaises(AgentError) as cm:
            self.agent(fake, max_steps=3).ask("loop forever")
        self.assertIn("within 3 steps", str(cm.exception))
        self.assertEqual(len(fake.requests), 3)
        # the last turn pins tool_choice to final_answer
        self.assertEqual(fake.requests[-1]["body"]["tool_choice"],
                         {"type": "function", "function": {"name": "final_answer"}})
        self.assertEqual(fake.requests[0]["body"]["tool_choice"], "required")

    def test_examples_folded_when_the_endpoint_refuses_them(self):
        def refuse_examples(body):
            if "examples" in json.dumps([t["function"]["parameters"] for t in body["tools"]]):
                return http_error(400, "Invalid schema for function 'query': unknown keyword "
                                       "'examples'")
            return tool_calls(("final_answer", {"answer": "folded"}))
        fake = FakeLLM([refuse_examples, refuse_examples])
        self.addCleanup(fake.stop)
        agent = self.agent(fake)
        self.assertEqual(agent.ask("q").answer, "folded")
        self.assertEqual(len(fake.requests), 2)
        self.assertEqual(fake.errors, [])
        exact = {t["function"]["name"]: t["function"]["parameters"]
                 for t in fake.requests[0]["body"]["tools"]}
        folded = {t["function"]["name"]: t["function"]["parameters"]
                  for t in fake.requests[1]["body"]["tools"]}
        want = expected_parameters(self.tools)
        want_folded = expected_parameters(self.tools, fold=True)
        for name in want:
            self.assertEqual(exact[name], want[name])
            self.assertEqual(folded[name], want_folded[name])
        self.assertRegex(folded["query"]["properties"]["sql"]["description"],
                         re.escape("Examples: \"SELECT id"))
        self.assertEqual(folded["query"]["required"], ["sql"])
        self.assertEqual(folded["explain"]["properties"]["format"]["enum"], ["text", "json"])

    def test_schemas_forced_folded(self):
        fake = self.fake([tool_calls(("final_answer", {"answer": "x"}))], fold=True)
        self.assertEqual(self.agent(fake, fold=True).ask("q").answer, "x")
        self.assertEqual(fake.errors, [])

    def test_unknown_tool_is_fed_back(self):
        fake = self.fake([tool_calls(("drop_database", {})),
                          lambda body: tool_calls(("final_answer",
                                                   {"answer": last_tool_content(body)}))])
        result = self.agent(fake).ask("q")
        self.assertIn("no tool named 'drop_database'", result.answer)


if __name__ == "__main__":
    unittest.main()
