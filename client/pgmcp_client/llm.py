"""llm.py: an OpenAI-compatible Chat Completions client on urllib.

Works with OpenAI and with any endpoint that speaks the same API (Ollama, vLLM, llama.cpp's
server, LM Studio, ...): OPENAI_BASE_URL (default https://api.openai.com/v1), OPENAI_API_KEY
(optional for local servers) and OPENAI_MODEL. Every call has a timeout; 429 and 5xx answers
and network failures are retried with exponential backoff that honours Retry-After. The API
key is sent only in the Authorization header: it is never printed, logged, or left in an
exception message (any echo of it in a server's error text is masked).
"""
import email.utils
import json
import logging
import os
import random
import socket
import time
import urllib.error
import urllib.request

from ._version import __version__

log = logging.getLogger("pgmcp_client.llm")

DEFAULT_BASE_URL = "https://api.openai.com/v1"
DEFAULT_MODEL = "gpt-4o-mini"
RETRY_STATUSES = (408, 409, 429, 500, 502, 503, 504)


class LlmError(Exception):
    """The Chat Completions endpoint failed (after retries) or answered something unusable."""

    def __init__(self, message, status=None, body=None):
        self.status = status
        self.body = body
        super().__init__(message)


class ChatClient:
    def __init__(self, api_key=None, base_url=None, model=None, timeout=60.0, max_retries=4,
                 backoff=1.0, max_backoff=30.0, headers=None, env=None):
        env = os.environ if env is None else env
        self._api_key = api_key if api_key is not None else env.get("OPENAI_API_KEY") or None
        self.base_url = (base_url or env.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")
        self.model = model or env.get("OPENAI_MODEL") or DEFAULT_MODEL
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.headers = dict(headers or {})
        self.calls = 0

    def __repr__(self):
        return "<ChatClient %s model=%s key=%s>" % (self.base_url, self.model,
                                                   "set" if self._api_key else "none")

    @property
    def endpoint(self):
        return self.base_url + "/chat/completions"

    def _mask(self, text):
        if self._api_key and text:
            text = text.replace(self._api_key, "***")
        return text

    def chat(self, messages, tools=None, tool_choice=None, **extra):
        """One Chat Completions call; returns the parsed response (a dict)."""
        body = {"model": self.model, "messages": messages}
        if tools:
            body["tools"] = tools
        if tool_choice is not None:
            body["tool_choice"] = tool_choice
        body.update(extra)
        return self.post_json(self.endpoint, body)

    def post_json(self, url, body):
        data = json.dumps(body).encode("utf-8")
        headers = {"Content-Type": "application/json", "Accept": "application/json",
                   "User-Agent": "pgmcp-client/%s" % __version__}
        headers.update(self.headers)
        if self._api_key:
            headers["Authorization"] = "Bearer " + self._api_key
        attempt = 0
        while True:
            attempt += 1
            self.calls += 1
            req = urllib.request.Request(url, data=data, headers=headers, method="POST")
            retry_after = None
            try:
                with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                    raw = resp.read()
                try:
                    return json.loads(raw.decode("utf-8"))
                except ValueError:
                    raise LlmError("the model endpoint answered something that is not JSON: %r"
                                   % self._mask(raw[:200].decode("utf-8", "replace")))
            except urllib.error.HTTPError as e:
                text = self._mask(e.read().decode("utf-8", "replace"))
                status = e.code
                retry_after = parse_retry_after(e.headers.get("Retry-After"))
                problem = "HTTP %d from %s: %s" % (status, url, _error_message(text))
                if status not in RETRY_STATUSES and not 500 <= status < 600:
                    raise LlmError(problem, status, text)
            except (urllib.error.URLError, socket.timeout, ConnectionError) as e:
                reason = getattr(e, "reason", e)
                problem = "cannot reach %s: %s" % (url, self._mask(str(reason)))
                status = None
                if isinstance(reason, socket.timeout) or isinstance(e, socket.timeout):
                    problem = "no answer from %s within %gs" % (url, self.timeout)
            if attempt > self.max_retries:
                raise LlmError("%s (gave up after %d attempts)" % (problem, attempt), status)
            delay = min(self.max_backoff, self.backoff * (2 ** (attempt - 1)))
            delay = delay * (0.75 + random.random() / 2)       # jitter
            if retry_after is not None:
                delay = min(max(retry_after, 0.0), max(self.max_backoff, 0.0))
            log.info("%s; retrying in %.1fs (attempt %d of %d)", problem, delay, attempt + 1,
                     self.max_retries + 1)
            time.sleep(delay)


def parse_retry_after(value):
    """Retry-After as seconds (it may be a number of seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - time.time())


def _error_message(text):
    try:
        doc = json.loads(text)
        err = doc.get("error") if isinstance(doc, dict) else None
        if isinstance(err, dict) and err.get("message"):
            return str(err["message"])[:500]
        if isinstance(err, str):
            return err[:500]
    except ValueError:
        pass
    return " ".join(text.split())[:500] or "(empty body)"
