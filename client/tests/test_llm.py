"""ChatClient against the scripted OpenAI-compatible server: retries on 429 (honouring
Retry-After) and 5xx, no retry on 4xx, timeouts, and the API key kept out of every message."""
import http.server
import logging
import threading
import time
import unittest

from . import support
from .support import TEST_KEY, FakeLLM, http_error, text_reply, tool_calls
from pgmcp_client.llm import ChatClient, LlmError

TOOLS = [{"type": "function", "function": {
    "name": "final_answer", "description": "d",
    "parameters": {"type": "object", "properties": {"answer": {"type": "string"}},
                   "required": ["answer"]}}}]


def client(fake, **kw):
    kw.setdefault("backoff", 0.05)
    kw.setdefault("timeout", 10)
    return ChatClient(api_key=TEST_KEY, base_url=fake.base_url, model="scripted", **kw)


class ChatClientTests(unittest.TestCase):
    def chat(self, c):
        return c.chat([{"role": "user", "content": "hi"}], tools=TOOLS, tool_choice="required")

    def test_429_then_success_honours_retry_after(self):
        with FakeLLM([http_error(429, "slow down", {"Retry-After": "1"}),
                      tool_calls(("final_answer", {"answer": "ok"}))]) as fake:
            t0 = time.monotonic()
            resp = self.chat(client(fake))
            self.assertGreaterEqual(time.monotonic() - t0, 0.95)
            self.assertEqual(resp["choices"][0]["message"]["tool_calls"][0]["function"]["name"],
                             "final_answer")
            self.assertEqual(len(fake.requests), 2)
            self.assertEqual(fake.errors, [])

    def test_500_then_success(self):
        with FakeLLM([http_error(500), http_error(502), tool_calls(("final_answer",
                                                                     {"answer": "ok"}))]) as fake:
            c = client(fake)
            self.chat(c)
            self.assertEqual(len(fake.requests), 3)
            self.assertEqual(c.calls, 3)

    def test_gives_up_after_retries(self):
        with FakeLLM([http_error(503)] * 3) as fake:
            with self.assertRaises(LlmError) as cm:
                self.chat(client(fake, max_retries=2))
            self.assertEqual(cm.exception.status, 503)
            self.assertIn("gave up after 3 attempts", str(cm.exception))
            self.assertEqual(len(fake.requests), 3)

    def test_no_retry_on_400_and_key_masked(self):
        echo = "Incorrect API key provided: %s. You can find your key..." % TEST_KEY
        with FakeLLM([http_error(401, echo)]) as fake:
            with self.assertLogs("pgmcp_client", level="DEBUG") as logs:
                logging.getLogger("pgmcp_client").debug("marker")
                with self.assertRaises(LlmError) as cm:
                    self.chat(client(fake))
            self.assertEqual(cm.exception.status, 401)
            self.assertEqual(len(fake.requests), 1)
            self.assertNotIn(TEST_KEY, str(cm.exception))
            self.assertNotIn(TEST_KEY, cm.exception.body)
            self.assertIn("***", str(cm.exception))
            self.assertNotIn(TEST_KEY, "\n".join(logs.output))

    def test_timeout_on_every_call(self):
        class Slow(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                time.sleep(3)
                self.send_response(200)
                self.end_headers()

        httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Slow)
        httpd.daemon_threads = True
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        try:
            c = ChatClient(api_key=TEST_KEY, base_url="http://127.0.0.1:%d/v1"
                           % httpd.server_address[1], model="m", timeout=0.5, max_retries=1,
                           backoff=0.05)
            t0 = time.monotonic()
            with self.assertRaises(LlmError) as cm:
                self.chat(c)
            self.assertLess(time.monotonic() - t0, 2.5)
            self.assertIn("within 0.5s", str(cm.exception))
            self.assertEqual(c.calls, 2)
        finally:
            httpd.shutdown()
            httpd.server_close()

    def test_unreachable(self):
        c = ChatClient(api_key="", base_url="http://127.0.0.1:%d/v1" % support.free_port(),
                       model="m", timeout=2, max_retries=1, backoff=0.01)
        with self.assertRaises(LlmError) as cm:
            self.chat(c)
        self.assertIn("cannot reach", str(cm.exception))

    def test_no_key_no_header(self):
        with FakeLLM([text_reply("hello")], api_key=None) as fake:
            c = ChatClient(api_key="", base_url=fake.base_url, model="m")
            self.chat(c)
            self.assertNotIn("Authorization", fake.requests[0]["headers"])


if __name__ == "__main__":
    unittest.main()
