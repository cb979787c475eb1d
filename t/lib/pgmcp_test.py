"""pgmcp_test.py: drives `pgmcp --stdio` through pipes and inspects the test database.

Test files get the binary from PGMCP_BIN and the shared throwaway PostgreSQL from the
variables scripts/pg-test-cluster writes (PGMCP_TEST_DSN, PGHOST, ...); run-tests sets both.
A test that must restart or kill PostgreSQL starts a private cluster with own_cluster().
"""
import json
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
BIN = os.environ.get("PGMCP_BIN", os.path.join(ROOT, "build", "pgmcp"))
DSN = os.environ.get("PGMCP_TEST_DSN", "")
DSN_READER = os.environ.get("PGMCP_TEST_DSN_READER", "")
DSN_WRITER = os.environ.get("PGMCP_TEST_DSN_WRITER", "")
DEFAULT_TIMEOUT = float(os.environ.get("PGMCP_TEST_TIMEOUT", "30"))
LATEST = "2025-11-25"
MODERN = "2026-07-28"


class Timeout(Exception):
    pass


class Server:
    """One `pgmcp --stdio` process. Lines on stdout are parsed as JSON as they arrive."""

    def __init__(self, *args, dsn=None, env=None, prefix=None, stdin_raw=False, cwd=None):
        cmd = list(prefix or []) + [BIN, "--stdio"] + list(args)
        if dsn is None:
            dsn = DSN
        if dsn:
            cmd.append(dsn)
        full_env = dict(os.environ)
        full_env.update(env or {})
        self.cmd = cmd
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, env=full_env, cwd=cwd)
        self.lines = queue.Queue()
        self.stderr_lines = []
        self.raw_lines = []
        self.next_id = 1
        self.notifications = []
        self._out = threading.Thread(target=self._read_stdout, daemon=True)
        self._err = threading.Thread(target=self._read_stderr, daemon=True)
        self._out.start()
        self._err.start()

    def _read_stdout(self):
        for raw in self.proc.stdout:
            self.raw_lines.append(raw)
            self.lines.put(raw)
        self.lines.put(None)

    def _read_stderr(self):
        for raw in self.proc.stderr:
            self.stderr_lines.append(raw.decode("utf-8", "replace"))

    def stderr(self):
        return "".join(self.stderr_lines)

    def write_raw(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def send(self, msg):
        self.write_raw(json.dumps(msg, ensure_ascii=False) + "\n")

    def recv(self, timeout=DEFAULT_TIMEOUT):
        """The next message on stdout (notifications included), parsed."""
        try:
            raw = self.lines.get(timeout=timeout)
        except queue.Empty:
            raise Timeout(f"no message within {timeout}s; stderr:\n{self.stderr()[-2000:]}")
        if raw is None:
            self.lines.put(None)
            raise EOFError(f"server closed stdout; stderr:\n{self.stderr()[-2000:]}")
        return json.loads(raw)

    def recv_raw(self, timeout=DEFAULT_TIMEOUT):
        try:
            raw = self.lines.get(timeout=timeout)
        except queue.Empty:
            raise Timeout(f"no line within {timeout}s")
        if raw is None:
            self.lines.put(None)
            raise EOFError("server closed stdout")
        return raw

    def no_message(self, wait=0.5):
        """True if nothing arrives within wait seconds."""
        try:
            raw = self.lines.get(timeout=wait)
        except queue.Empty:
            return True
        if raw is None:
            self.lines.put(None)
            return True
        self.lines.put(raw)
        return False

    def response(self, req_id, timeout=DEFAULT_TIMEOUT):
        """Waits for the response to req_id, collecting notifications on the way."""
        deadline = time.time() + timeout
        while True:
            msg = self.recv(timeout=max(0.01, deadline - time.time()))
            if "method" in msg and "id" not in msg:
                self.notifications.append(msg)
                continue
            if msg.get("id") == req_id:
                return msg
            raise AssertionError(f"unexpected message while waiting for {req_id}: {msg}")

    def request(self, method, params=None, req_id=None, timeout=DEFAULT_TIMEOUT):
        if req_id is None:
            req_id = self.next_id
            self.next_id += 1
        msg = {"jsonrpc": "2.0", "id": req_id, "method": method}
        if params is not None:
            msg["params"] = params
        self.send(msg)
        return self.response(req_id, timeout=timeout)

    def notify(self, method, params=None):
        msg = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            msg["params"] = params
        self.send(msg)

    def initialize(self, version=LATEST, capabilities=None):
        r = self.request("initialize", {"protocolVersion": version,
                                        "capabilities": capabilities or {},
                                        "clientInfo": {"name": "pgmcp-tests", "version": "1"}})
        self.notify("notifications/initialized")
        return r

    def call(self, tool, arguments=None, timeout=DEFAULT_TIMEOUT, meta=None):
        params = {"name": tool, "arguments": arguments if arguments is not None else {}}
        if meta:
            params["_meta"] = meta
        return self.request("tools/call", params, timeout=timeout)

    def close(self, timeout=15):
        """Closes stdin and waits; returns the exit status."""
        try:
            self.proc.stdin.close()
        except (BrokenPipeError, OSError):
            pass
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self._out.join(timeout=5)
        self._err.join(timeout=5)
        return rc

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def result_of(resp):
    """The result object of a response (raises with the error if there is one)."""
    if "error" in resp:
        raise AssertionError(f"expected a result, got error {resp['error']}")
    return resp["result"]


def structured(resp):
    return result_of(resp).get("structuredContent")


def text_of(resp):
    res = resp.get("result", {})
    return "\n".join(c.get("text", "") for c in res.get("content", []) if c.get("type") == "text")


def is_tool_error(resp):
    return "result" in resp and resp["result"].get("isError") is True


def run(cmd, input=None, env=None, timeout=60):
    """Runs a command; returns (status, stdout, stderr) as text."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    p = subprocess.run(cmd, input=input, capture_output=True, text=True, env=full_env,
                       timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def psql(sql, dsn=None, dbname=None):
    """Runs SQL through psql as the superuser; returns stdout (unaligned, tuples only)."""
    args = ["psql", "-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1"]
    args += ["-d", dsn or DSN]
    args += ["-c", sql]
    rc, out, err = run(args)
    if rc != 0:
        raise RuntimeError(f"psql failed: {err}")
    return out.strip()


CHECKSUM_SQL = r"""
SELECT md5(string_agg(x, '|' ORDER BY x)) FROM (
  -- schema: every relation, column, constraint, index, function, trigger, sequence state
  SELECT 'rel:' || c.oid::regclass::text || ':' || c.relkind::text || ':' || c.relpersistence::text FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname NOT IN ('pg_catalog','information_schema','pg_toast')
  UNION ALL SELECT 'col:' || attrelid::regclass::text || '.' || attname || ':' || format_type(atttypid, atttypmod)
    FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE a.attnum > 0 AND NOT a.attisdropped AND n.nspname NOT IN ('pg_catalog','information_schema','pg_toast')
  UNION ALL SELECT 'con:' || conname || ':' || pg_get_constraintdef(oid) FROM pg_constraint
    WHERE connamespace NOT IN (SELECT oid FROM pg_namespace WHERE nspname IN ('pg_catalog','information_schema'))
  UNION ALL SELECT 'fn:' || p.oid::regprocedure::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
    WHERE n.nspname NOT IN ('pg_catalog','information_schema')
  UNION ALL SELECT 'role:' || rolname || rolsuper::text || rolcanlogin::text FROM pg_roles
  UNION ALL SELECT 'db:' || datname FROM pg_database
  UNION ALL SELECT 'seq:' || schemaname || '.' || sequencename || ':' || coalesce(last_value::text, 'null') FROM pg_sequences
  UNION ALL SELECT 'lo:' || count(*)::text FROM pg_largeobject_metadata
  UNION ALL SELECT 'setting:' || name || '=' || setting FROM pg_settings WHERE source NOT IN ('default', 'session', 'client')
  UNION ALL SELECT 'dbrole:' || setdatabase::text || ':' || setrole::text || ':' || array_to_string(setconfig, ',') FROM pg_db_role_setting
  UNION ALL SELECT 'ext:' || extname || extversion FROM pg_extension
  UNION ALL SELECT 'locks:' || count(*)::text FROM pg_locks WHERE locktype = 'advisory'
  UNION ALL SELECT 'prepared:' || count(*)::text FROM pg_prepared_xacts
  UNION ALL SELECT 'slots:' || count(*)::text FROM pg_replication_slots
  -- data: a digest of every user table's rows
  UNION ALL SELECT 'data:' || t.oid::regclass::text || ':' || (xpath('/row/d/text()',
      query_to_xml(format('SELECT md5(coalesce(string_agg(r::text, %L ORDER BY r::text), %L)) AS d FROM %s r',
                          ',', '', t.oid::regclass), false, true, '')))[1]::text
    FROM pg_class t JOIN pg_namespace n ON n.oid = t.relnamespace
    WHERE t.relkind IN ('r', 'm') AND n.nspname NOT IN ('pg_catalog','information_schema','pg_toast')
) s(x)
"""


def db_checksum(dsn=None):
    """A digest of schema, data, sequences, settings, large objects, locks and roles."""
    return psql(CHECKSUM_SQL, dsn=dsn)


def backend_count(dsn=None):
    """Backends connected to the test database other than the one asking."""
    return int(psql("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND pid <> pg_backend_pid() AND backend_type = 'client backend'", dsn=dsn))


class Cluster:
    """A private throwaway PostgreSQL (for tests that restart or kill it)."""

    def __init__(self, pgbench_scale=None, sample=True):
        self.dir = tempfile.mkdtemp(prefix="pgmcp-t-")
        args = [os.path.join(ROOT, "scripts", "pg-test-cluster"), "start", self.dir]
        if not sample:
            args.append("--no-sample")
        if pgbench_scale:
            args += ["--pgbench", str(pgbench_scale)]
        rc, out, err = run(args, timeout=120)
        if rc != 0:
            raise RuntimeError(f"cannot start a test cluster: {err}")
        self.env = {}
        with open(os.path.join(self.dir, "env")) as f:
            for line in f:
                k, _, v = line.strip().partition("=")
                self.env[k] = v.strip("'")
        self.dsn = self.env["PGMCP_TEST_DSN"]

    def ctl(self, action):
        rc, out, err = run([os.path.join(ROOT, "scripts", "pg-test-cluster"), action, self.dir],
                           timeout=120)
        if rc != 0:
            raise RuntimeError(f"pg-test-cluster {action} failed: {err}")

    def stop(self):
        run([os.path.join(ROOT, "scripts", "pg-test-cluster"), "stop", self.dir], timeout=120)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def wait_for(pred, timeout=10.0, interval=0.05):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pred():
            return True
        time.sleep(interval)
    return pred()
