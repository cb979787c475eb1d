"""support.py: shared pieces of the client's tests.

Environment: PGMCP_BIN (default: build/pgmcp of this checkout) and PGMCP_TEST_DSN (a throwaway
PostgreSQL with scripts/sample-data.sql; scripts/run-tests and scripts/pg-test-cluster provide
both). PGMCP_SANITIZED=1 (set by run-tests for the ASan pass) stretches time limits.

FakeLLM is a scripted OpenAI-compatible Chat Completions server (http.server in a thread on
127.0.0.1) that checks every request; SdkServer runs client/tests/sdk_server.mjs (the official
MCP TypeScript SDK); PgmcpDaemon runs `pgmcp --listen` on a free port.
"""
import copy
import http.server
import json
import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
CLIENT = os.path.dirname(HERE)
ROOT = os.path.dirname(CLIENT)
if CLIENT not in sys.path:
    sys.path.insert(0, CLIENT)

BIN = os.environ.get("PGMCP_BIN") or os.path.join(ROOT, "build", "pgmcp")
DSN = os.environ.get("PGMCP_TEST_DSN", "")
SANITIZED = bool(os.environ.get("PGMCP_SANITIZED"))
SLOW = 3.0 if SANITIZED else 1.0          # time limits scale by this under sanitizers
FAKE_SERVER = os.path.join(HERE, "fake_server.py")
SDK_SERVER = os.path.join(HERE, "sdk_server.mjs")
TEST_KEY = "sk-test-DO-NOT-PRINT-0123456789abcdef"


def need_pgmcp():
    """Skips the calling test (class) unless pgmcp and the test database are available."""
    if not DSN:
        raise unittest.SkipTest("PGMCP_TEST_DSN is not set (run through scripts/run-tests, or "
                                "start scripts/pg-test-cluster and export its env)")
    if not os.access(BIN, os.X_OK):
        raise unittest.SkipTest("no pgmcp binary at %s (run make, or set PGMCP_BIN)" % BIN)


def pgmcp_cmd(*extra):
    return [BIN, "--stdio"] + list(extra) + [DSN]


def process_state(pid):
    """The state letter of pid from /proc (Z for a zombie), or None when it is gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None


def is_reaped(pid):
    """True when pid is neither running nor a zombie child of ours."""
    try:
        got, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        got = -1                     # not our child (any more): it was reaped
    if got == pid:
        return False                 # we just reaped it here: close() had not
    return process_state(pid) is None


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def cli_env(**extra):
    """An environment for running the CLI: no model settings unless given, the package on
    PYTHONPATH, and no stray PGMCP_* connection settings."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("OPENAI_") and k not in ("PGMCP_SERVER", "PGMCP_URL",
                                                         "PGMCP_SSE_URL", "DATABASE_URL")}
    env["PYTHONPATH"] = CLIENT + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH")
                                  else "")
    env["PGMCP_BIN"] = BIN
    env.update({k: v for k, v in extra.items() if v is not None})
    return env


def run_cli(args, env=None, cwd=None, timeout=60, input=None):
    """Runs `python3 -m pgmcp_client ARGS`; returns the CompletedProcess (text)."""
    return subprocess.run([sys.executable, "-m", "pgmcp_client"] + list(args),
                          env=env if env is not None else cli_env(),
                          cwd=cwd or tempfile.gettempdir(),
                          input=input, capture_output=True, text=True,
                          timeout=timeout * SLOW)


# -- the scripted model ---------------------------------------------------------------------

def completion(message, finish="tool_calls"):
    return {"id": "chatcmpl-scripted", "object": "chat.completion", "created": 0,
            "model": "scripted", "choices": [{"index": 0, "message": message,
                                              "finish_reason": finish}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}


def tool_calls(*calls):
    """A reply with tool calls: each call is (name, arguments) where arguments is a dict or
    a raw string (to send malformed JSON)."""
    out = []
    for n, (name, args) in enumerate(calls):
        out.append({"id": "call_%d_%s" % (n, name), "type": "function",
                    "function": {"name": name, "arguments": args if isinstance(args, str)
                                 else json.dumps(args)}})
    return completion({"role": "assistant", "content": None, "tool_calls": out})


def text_reply(text):
    return completion({"role": "assistant", "content": text}, finish="stop")


def http_error(status, message="scripted error", headers=None):
    return (status, dict(headers or {}), {"error": {"message": message, "type": "scripted"}})


class FakeLLM:
    """A scripted OpenAI-compatible endpoint. script items are completions (dicts), tuples
    (status, headers, body), or callables(request_body) returning either. Every request is
    checked; problems land in .errors (tests assert it stays empty)."""

    def __init__(self, script, expect_parameters=None, expect_descriptions=None,
                 api_key=TEST_KEY, delay=0.0):
        self.script = list(script)
        self.expect_parameters = expect_parameters
        self.expect_descriptions = expect_descriptions or {}
        self.api_key = api_key
        self.delay = delay
        self.requests = []
        self.errors = []
        self.lock = threading.Lock()
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(n)
                status, headers, body = fake._answer(self.path, dict(self.headers), raw)
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.base_url = "http://127.0.0.1:%d/v1" % self.port
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    def error(self, text):
        with self.lock:
            self.errors.append(text)

    def _check(self, path, headers, body):
        n = len(self.requests)
        if path != "/v1/chat/completions":
            self.error("request %d: path %s" % (n, path))
        auth = headers.get("Authorization")
        if self.api_key and auth != "Bearer " + self.api_key:
            self.error("request %d: Authorization header %r" % (n, (auth or "")[:12]))
        if not body.get("model") or not isinstance(body.get("messages"), list):
            self.error("request %d: model or messages missing" % n)
        tools = body.get("tools")
        if not isinstance(tools, list) or not tools:
            self.error("request %d: no tools" % n)
            return
        choice = body.get("tool_choice")
        forced = choice == "required" or (isinstance(choice, dict) and choice.get("type") ==
                                          "function")
        if not forced:
            self.error("request %d: tool_choice %r does not force a call" % (n, choice))
        names = [t.get("function", {}).get("name") for t in tools]
        if len(set(names)) != len(names):
            self.error("request %d: duplicate function names %s" % (n, names))
        if "final_answer" not in names:
            self.error("request %d: no final_answer function" % n)
        for t in tools:
            fn = t.get("function") or {}
            if t.get("type") != "function":
                self.error("request %d: tool type %r" % (n, t.get("type")))
            name = fn.get("name")
            if name == "final_answer":
                if (fn.get("parameters") or {}).get("required") != ["answer"]:
                    self.error("request %d: final_answer schema %r" % (n, fn.get("parameters")))
                continue
            if self.expect_parameters is not None:
                want = self.expect_parameters.get(name)
                if want is None:
                    self.error("request %d: unexpected function %s" % (n, name))
                elif fn.get("parameters") != want:
                    self.error("request %d: parameters of %s differ from the MCP inputSchema:"
                               " %s != %s" % (n, name, json.dumps(fn.get("parameters")),
                                              json.dumps(want)))
            want_desc = self.expect_descriptions.get(name)
            if want_desc is not None and fn.get("description") != want_desc:
                self.error("request %d: description of %s differs" % (n, name))
        if self.expect_parameters is not None:
            missing = set(self.expect_parameters) - set(names)
            if missing:
                self.error("request %d: functions missing: %s" % (n, sorted(missing)))

    def _answer(self, path, headers, raw):
        try:
            body = json.loads(raw.decode())
        except ValueError:
            self.error("request body is not JSON")
            return 400, {}, {"error": {"message": "bad json"}}
        with self.lock:
            self.requests.append({"body": body, "headers": headers, "time": time.monotonic()})
            step = self.script.pop(0) if self.script else None
        self._check(path, headers, body)
        if self.delay:
            time.sleep(self.delay)
        if callable(step):
            step = step(body)
        if step is None:
            self.error("script exhausted at request %d" % len(self.requests))
            return 500, {}, {"error": {"message": "script exhausted"}}
        if isinstance(step, tuple):
            return step
        return 200, {}, step


def expected_parameters(tools, fold=False):
    """What each MCP tool's function parameters must be: its inputSchema, exactly."""
    from pgmcp_client.agent import fold_examples
    return {t["name"]: (fold_examples(copy.deepcopy(t["inputSchema"])) if fold
                        else t["inputSchema"]) for t in tools}


def last_tool_content(body):
    """The content of the last tool message in a Chat Completions request."""
    for m in reversed(body.get("messages") or []):
        if m.get("role") == "tool":
            return m.get("content") or ""
    return ""


# -- the SDK server --------------------------------------------------------------------------

_npm_state = {}


def ensure_sdk():
    """Installs the pinned SDK (idempotent); skips when node is missing."""
    if not shutil.which("node"):
        raise unittest.SkipTest("node is not installed (scripts/deps.sh installs it)")
    if "rc" not in _npm_state:
        p = subprocess.run([os.path.join(ROOT, "scripts", "npm-install-interop")],
                           capture_output=True, text=True, stdin=subprocess.DEVNULL,
                           timeout=600)
        _npm_state["rc"] = p.returncode
        _npm_state["out"] = p.stdout + p.stderr
    if _npm_state["rc"] != 0:
        raise RuntimeError("scripts/npm-install-interop failed:\n" + _npm_state["out"][-2000:])


class SdkServer:
    """client/tests/sdk_server.mjs: Streamable HTTP (/mcp SSE responses, /mcp-json JSON
    responses) and legacy SSE (/sse) served by the official TypeScript SDK."""

    def __init__(self):
        ensure_sdk()
        self.proc = subprocess.Popen(["node", SDK_SERVER], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        lines = queue.Queue()
        threading.Thread(target=lambda: lines.put(self.proc.stdout.readline()),
                         daemon=True).start()
        self.stderr = []
        threading.Thread(target=self._drain, daemon=True).start()
        try:
            first = lines.get(timeout=30)
            self.port = json.loads(first)["port"]
        except (queue.Empty, ValueError, KeyError):
            self.stop()
            raise RuntimeError("sdk_server.mjs did not start: %s" % "".join(self.stderr)[-2000:])

    def _drain(self):
        for line in self.proc.stderr:
            self.stderr.append(line.decode("utf-8", "replace"))

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def stats(self):
        with urllib.request.urlopen(self.url("/stats"), timeout=10) as r:
            return json.loads(r.read())

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()

    def stop(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.proc.wait()
        for f in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            try:
                f.close()
            except (OSError, ValueError):
                pass


# -- the pgmcp daemon ------------------------------------------------------------------------

class PgmcpDaemon:
    """`pgmcp --listen 127.0.0.1:PORT --workers N DSN`, ready when /healthz answers."""

    def __init__(self, workers=4):
        need_pgmcp()
        self.log = tempfile.NamedTemporaryFile(prefix="pgmcp-client-daemon-", suffix=".log",
                                               delete=False)
        last = ""
        for _ in range(5):
            self.port = free_port()
            self.proc = subprocess.Popen([BIN, "--listen", "127.0.0.1:%d" % self.port,
                                          "--workers", str(workers), DSN],
                                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                         stderr=self.log)
            deadline = time.monotonic() + 15 * SLOW
            while time.monotonic() < deadline and self.proc.poll() is None:
                try:
                    with urllib.request.urlopen(self.url("/healthz"), timeout=2) as r:
                        if r.status == 200:
                            return
                except OSError:
                    time.sleep(0.1)
            self.stop()
            last = self.read_log()
        raise RuntimeError("pgmcp --listen did not come up:\n" + last[-2000:])

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def read_log(self):
        with open(self.log.name, errors="replace") as f:
            return f.read()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15 * SLOW)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.proc.wait()

    def cleanup(self):
        self.stop()
        if os.environ.get("PGMCP_CLIENT_KEEP_LOGS"):
            print("# daemon log kept: %s" % self.log.name, file=sys.stderr)
            return
        self.log.close()
        try:
            os.unlink(self.log.name)
        except OSError:
            pass
