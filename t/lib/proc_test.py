"""proc_test.py: helpers for the daemon's process-model tests (t/04xx).

Starts `pgmcp` as a daemon (or under systemd-socket-activate) on free ports, finds its
workers in /proc, talks Streamable HTTP (stateless 2026-07-28 requests) and framed JSON-RPC
over TCP or Unix sockets, reads the log, runs background client load, and kills every
process it started by pid at exit, even when a test fails or is interrupted: each daemon is
started with PR_SET_PDEATHSIG=SIGKILL, and every pid seen is killed at exit when it is
still the same process (pid and start time match).
"""
import atexit
import ctypes
import http.client
import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

from pgmcp_test import BIN, DSN, psql

SANITIZED = bool(os.environ.get("PGMCP_SANITIZED"))
# Sanitized builds start and run slower; timing bounds that are not the point of a test
# are multiplied by this.
SLOW = 3.0 if SANITIZED else 1.0
MODERN = "2026-07-28"
CLK_TCK = os.sysconf("SC_CLK_TCK")

_libc = ctypes.CDLL(None, use_errno=True)
_PR_SET_PDEATHSIG = 1
_tracked = {}        # pid -> start time (clock ticks since boot), for the final kill
_daemons = []
_tmpdirs = []


# ----------------------------------------------------------------------------- processes

def proc_start_time(pid):
    """Start time of pid in clock ticks since boot, or None when there is no such process."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            data = f.read()
    except OSError:
        return None
    return int(data[data.rindex(")") + 2:].split()[19])


def proc_state(pid):
    """One-letter state of pid (R, S, Z, ...) or None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            data = f.read()
    except OSError:
        return None
    return data[data.rindex(")") + 2:].split()[0]


def alive(pid):
    st = proc_state(pid)
    return st is not None and st not in ("Z", "X")


def cpu_seconds(pid):
    """User plus system CPU time of pid, in seconds (None when gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            data = f.read()
    except OSError:
        return None
    fields = data[data.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def children(pid):
    """Live (non-zombie) children of pid."""
    out = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            try:
                with open(f"/proc/{pid}/task/{task}/children") as f:
                    out += [int(x) for x in f.read().split()]
            except OSError:
                pass
    except OSError:
        return []
    return sorted(p for p in set(out) if alive(p))


def track(pid):
    st = proc_start_time(pid)
    if st is not None and pid not in _tracked:
        _tracked[pid] = st


def descendants(pid):
    out = []
    for c in children(pid):
        out.append(c)
        out += descendants(c)
    return out


def kill_pid(pid, sig=signal.SIGKILL):
    """Signals pid only if it is still the process we saw (guards against pid reuse)."""
    st = _tracked.get(pid)
    if st is not None and proc_start_time(pid) != st:
        return
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def _preexec(nofile=None):
    def fn():
        # Die with the test, whatever kills it.
        _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if nofile is not None:
            resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))
    return fn


def tmpdir(prefix="pgmcp-t04-"):
    d = tempfile.mkdtemp(prefix=prefix)
    _tmpdirs.append(d)
    return d


def _cleanup():
    for d in _daemons:
        for p in d.all_pids():
            track(p)
    for pid in list(_tracked):
        kill_pid(pid, signal.SIGKILL)
    for d in _daemons:
        if d.proc.poll() is None:
            d.proc.kill()
        try:
            d.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
    for d in _tmpdirs:
        shutil.rmtree(d, ignore_errors=True)


atexit.register(_cleanup)


def _on_term(signum, frame):
    sys.exit(128 + signum)


signal.signal(signal.SIGTERM, _on_term)


def free_port(host="127.0.0.1"):
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.bind((host, 0))
    port = s.getsockname()[1]
    s.close()
    return port


def has_ipv6_loopback():
    try:
        with open("/proc/net/if_inet6") as f:
            if not any(line.split()[0] == "0" * 31 + "1" for line in f):
                return False
        s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        s.bind(("::1", 0))
        s.close()
        return True
    except OSError:
        return False


class Daemon:
    """`pgmcp ARGS [DSN]` with stderr (the log) and stdout in files; `prefix` wraps the command
    (e.g. systemd-socket-activate ... --), `program` replaces pgmcp (None: args only).
    `config` is YAML text written to a file passed with -c. The top process is self.pid
    (pgmcp's master unless a prefix forks)."""

    def __init__(self, args, dsn=None, env=None, config=None, prefix=None, nofile=None,
                 sanitizer_options=None, program=BIN):
        self.dir = tmpdir()
        self.log_path = os.path.join(self.dir, "stderr.log")
        self.out_path = os.path.join(self.dir, "stdout.log")
        self.config_path = os.path.join(self.dir, "pgmcp.yaml")
        if config is not None:
            self.write_config(config)
            args = ["-c", self.config_path] + list(args)
        if dsn is None:
            dsn = DSN
        cmd = list(prefix or []) + ([program] if program else []) + list(args) + \
            ([dsn] if dsn else [])
        full_env = dict(os.environ)
        full_env.update(env or {})
        if sanitizer_options and SANITIZED:
            full_env["ASAN_OPTIONS"] = full_env.get("ASAN_OPTIONS", "") + ":" + sanitizer_options
        self.cmd = cmd
        self.started = time.time()
        with open(self.log_path, "wb") as err, open(self.out_path, "wb") as out:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                         env=full_env, preexec_fn=_preexec(nofile))
        self.pid = self.proc.pid
        track(self.pid)
        _daemons.append(self)
        self.seen = set()

    def write_config(self, text):
        tmp = self.config_path + ".tmp"
        with open(tmp, "w") as f:
            f.write(text)
        os.rename(tmp, self.config_path)

    def log(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def stdout(self):
        with open(self.out_path, errors="replace") as f:
            return f.read()

    def workers(self):
        """The master's live children (its workers), remembered for the final kill."""
        ws = children(self.pid)
        for w in ws:
            track(w)
            self.seen.add(w)
        return ws

    def all_pids(self):
        return [self.pid] + descendants(self.pid) + sorted(self.seen)

    def wait_workers(self, n, timeout=10.0, exclude=(), exact=True):
        """Waits until there are n workers (at least n if not exact) not in exclude."""
        deadline = time.time() + timeout
        while True:
            ws = [w for w in self.workers() if w not in exclude]
            if (len(ws) == n if exact else len(ws) >= n) or time.time() > deadline:
                return ws
            time.sleep(0.02)

    def wait_log(self, needle, timeout=10.0, start=0):
        """Waits for needle (a str, or a compiled regex) in the log after offset start."""
        deadline = time.time() + timeout
        while True:
            text = self.log()[start:]
            if (needle.search(text) if hasattr(needle, "search") else needle in text):
                return True
            if time.time() > deadline:
                return False
            time.sleep(0.05)

    def signal(self, sig):
        kill_pid(self.pid, sig)

    def wait_exit(self, timeout):
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def running(self):
        return self.proc.poll() is None

    def stop(self, timeout=15.0):
        """SIGTERM, then SIGKILL for whatever is left, by pid; returns the exit status."""
        pids = self.all_pids()
        for p in pids:
            track(p)
        rc = self.proc.poll()
        if rc is None:
            self.signal(signal.SIGTERM)
            rc = self.wait_exit(timeout)
        if rc is None:
            self.signal(signal.SIGKILL)
            rc = self.wait_exit(5)
        for p in pids:
            if p != self.pid and alive(p):
                kill_pid(p)
        return rc


# ----------------------------------------------------------------------------- clients

class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.connect(self.unix_path)
        self.sock = s


def connect(addr, timeout=10.0):
    """A connected socket to addr: (host, port) or a Unix socket path."""
    if isinstance(addr, str):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        s.connect(addr)
        return s
    return socket.create_connection(addr, timeout=timeout)


def http_request(addr, method, path, body=None, headers=None, timeout=10.0, on_connect=None):
    """One request on a fresh connection (Connection: close). Returns (status, headers, body).
    Connection errors propagate as exceptions. on_connect(sock) runs once connected."""
    if isinstance(addr, str):
        c = UnixHTTPConnection(addr, timeout)
    else:
        c = http.client.HTTPConnection(addr[0], addr[1], timeout=timeout)
    try:
        c.connect()
        if on_connect:
            on_connect(c.sock)
        h = {"Connection": "close"}
        h.update(headers or {})
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        c.request(method, path, body=body, headers=h)
        r = c.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        c.close()


def rpc(method, params=None, req_id=1, modern=True):
    msg = {"jsonrpc": "2.0", "id": req_id, "method": method, "params": dict(params or {})}
    if modern:
        msg["params"]["_meta"] = {"io.modelcontextprotocol/protocolVersion": MODERN,
                                  "io.modelcontextprotocol/clientCapabilities": {}}
    return msg


def call_tool(addr, tool, arguments=None, req_id=1, timeout=30.0, on_connect=None):
    """tools/call as a stateless 2026-07-28 Streamable HTTP request.
    Returns (http status, parsed JSON-RPC response or None)."""
    msg = rpc("tools/call", {"name": tool, "arguments": arguments or {}}, req_id)
    headers = {"Content-Type": "application/json",
               "Accept": "application/json, text/event-stream",
               "MCP-Protocol-Version": MODERN, "Mcp-Method": "tools/call", "Mcp-Name": tool}
    status, _, body = http_request(addr, "POST", "/mcp", msg, headers, timeout, on_connect)
    try:
        return status, json.loads(body)
    except ValueError:
        return status, None


def query(addr, sql, params=None, req_id=1, timeout=30.0, on_connect=None):
    args = {"sql": sql}
    if params is not None:
        args["params"] = params
    return call_tool(addr, "query", args, req_id, timeout, on_connect)


def tool_ok(status, resp):
    """True when an HTTP tools/call got a successful (not isError) result."""
    return (status == 200 and isinstance(resp, dict) and "result" in resp and
            not resp["result"].get("isError"))


def structured(resp):
    return (resp or {}).get("result", {}).get("structuredContent")


def tool_text(resp):
    res = (resp or {}).get("result", {})
    return "\n".join(c.get("text", "") for c in res.get("content", []) if c.get("type") == "text")


def framed_session(addr, messages, timeout=10.0):
    """Sends newline-framed JSON-RPC messages on one connection and returns one parsed reply
    per message that has an id, in order."""
    s = connect(addr, timeout)
    try:
        f = s.makefile("rb")
        replies = []
        for m in messages:
            s.sendall((json.dumps(m) + "\n").encode())
            if "id" in m:
                while True:
                    line = f.readline()
                    if not line:
                        raise EOFError("connection closed")
                    msg = json.loads(line)
                    if "id" in msg:
                        replies.append(msg)
                        break
        return replies
    finally:
        s.close()


def http_get(addr, path, timeout=10.0):
    return http_request(addr, "GET", path, timeout=timeout)


def metrics(addr):
    """Parsed /metrics: {"name{labels}": float}."""
    status, _, body = http_get(addr, "/metrics")
    out = {}
    for line in body.decode().splitlines():
        if line and not line.startswith("#"):
            k, _, v = line.rpartition(" ")
            try:
                out[k] = float(v)
            except ValueError:
                pass
    return out


# ----------------------------------------------------------------------------- mapping

def _tcp_inode(local_port, remote_port):
    """Socket inode of the server side of a TCP connection (server port, client port)."""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                next(f)
                for line in f:
                    parts = line.split()
                    lp = int(parts[1].rsplit(":", 1)[1], 16)
                    rp = int(parts[2].rsplit(":", 1)[1], 16)
                    if lp == local_port and rp == remote_port and parts[3] == "01":
                        return parts[9]
        except OSError:
            pass
    return None


def pid_holding_socket(pids, inode):
    target = f"socket:[{inode}]"
    for p in pids:
        try:
            for fd in os.listdir(f"/proc/{p}/fd"):
                try:
                    if os.readlink(f"/proc/{p}/fd/{fd}") == target:
                        return p
                except OSError:
                    pass
        except OSError:
            pass
    return None


def serving_worker(daemon, server_port, client, timeout=5.0):
    """The worker pid that accepted the TCP connection client (a socket, a BackgroundCall or
    the client's port), or None."""
    cport = client if isinstance(client, int) else getattr(client, "cport", None)
    if cport is None:
        cport = client.getsockname()[1]
    deadline = time.time() + timeout
    while time.time() < deadline:
        inode = _tcp_inode(server_port, cport)
        if inode:
            p = pid_holding_socket(daemon.workers(), inode)
            if p:
                return p
        time.sleep(0.02)
    return None


class BackgroundCall(threading.Thread):
    """One tools/call in a thread; remembers the client socket so the serving worker can be
    found, and the outcome (status, resp) or the exception."""

    def __init__(self, addr, sql, timeout=60.0):
        super().__init__(daemon=True)
        self.addr, self.sql, self.timeout = addr, sql, timeout
        self.sock = self.cport = None
        self.connected = threading.Event()
        self.status = self.resp = self.error = None
        self.finished_at = None
        self.start()

    def _on_connect(self, s):
        self.sock = s
        self.cport = s.getsockname()[1]
        self.connected.set()

    def run(self):
        try:
            self.status, self.resp = query(self.addr, self.sql, timeout=self.timeout,
                                           on_connect=self._on_connect)
        except Exception as e:  # noqa: BLE001 - any failure is an outcome to report
            self.error = e
        self.finished_at = time.time()
        self.connected.set()

    def succeeded(self):
        return self.error is None and tool_ok(self.status, self.resp)

    def outcome(self):
        if self.error is not None:
            return f"{type(self.error).__name__}: {self.error}"
        return f"HTTP {self.status}: {json.dumps(self.resp)[:400]}"


class Load:
    """n client threads doing point queries (SELECT $1::int) on fresh connections, each
    request with a unique id and value; every answer is checked and counted."""

    def __init__(self, addr, n=8, pause=0.0):
        self.addr, self.pause = addr, pause
        self.stop_flag = threading.Event()
        self.lock = threading.Lock()
        self.sent = self.ok = 0
        self.failures = []
        self.statuses = {}
        self.threads = [threading.Thread(target=self._run, args=(i,), daemon=True)
                        for i in range(n)]
        for t in self.threads:
            t.start()

    def _run(self, i):
        k = 0
        while not self.stop_flag.is_set():
            k += 1
            rid = i * 1000000 + k
            with self.lock:
                self.sent += 1
            try:
                status, resp = query(self.addr, "SELECT $1::int AS v", [rid], req_id=rid,
                                     timeout=30)
                good = (tool_ok(status, resp) and resp.get("id") == rid and
                        structured(resp)["rows"] == [{"v": rid}])
                with self.lock:
                    self.statuses[status] = self.statuses.get(status, 0) + 1
                    if good:
                        self.ok += 1
                    else:
                        self.failures.append(f"id {rid}: HTTP {status}: "
                                             f"{json.dumps(resp)[:300]}")
            except Exception as e:  # noqa: BLE001
                with self.lock:
                    self.failures.append(f"id {rid}: {type(e).__name__}: {e}")
            if self.pause:
                time.sleep(self.pause)

    def stop(self):
        self.stop_flag.set()
        for t in self.threads:
            t.join(timeout=60)
        return self

    def summary(self):
        return (f"sent {self.sent}, answered {self.ok}, failed {len(self.failures)}, "
                f"statuses {self.statuses}; first failures: {self.failures[:5]}")


# ----------------------------------------------------------------------------- database

def backends(app):
    """PostgreSQL client backends with this application_name."""
    return int(psql("SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' "
                    f"AND application_name = '{app}'"))


def warm(addr, app, n, timeout=15.0):
    """Drives n concurrent slow calls until n backends with application_name app exist (each
    worker then holds its connection). Returns the final backend count."""
    deadline = time.time() + timeout * SLOW
    while True:
        calls = [BackgroundCall(addr, "SELECT pg_sleep(0.3)") for _ in range(n)]
        for c in calls:
            c.join(30)
        got = backends(app)
        if got >= n or time.time() > deadline:
            return got
