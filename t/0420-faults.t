#!/usr/bin/env python3
# t/0420-faults.t: fault injection on loopback against the daemon (4 workers, a private
# PostgreSQL). PostgreSQL restarted (fast) and killed (-m immediate) under 8 concurrent HTTP
# clients: every call gets a response (a result or a clean error: never a hang, never a
# connection dropped without a response), /readyz recovers, exactly one backend per worker
# afterwards. A client that disconnects mid-response (RST and FIN) and one that reads one byte
# a second do not wedge their worker and leave no backend in a transaction. A statement that
# ignores cancellation (a plpgsql loop catching query_canceled) ends with a clear error, the
# worker recovers and no backend keeps running it. The master killed with SIGKILL takes its
# workers and their backends with it. A worker killed with SIGSEGV mid-request is replaced
# (t/0400 covers this under load; here only a quick check that its backend goes away).
# Every fault injected is counted and reported with diag().
import json
import os
import signal
import socket
import struct
import threading
import time

from tap import ok, is_, diag, done
from pgmcp_test import Cluster, psql
from daemon_test import (Daemon, HttpConn, Reply, build_request, ACCEPT_BOTH, SLOW, modern_meta,
                         modern_headers, request, parse_metrics, pid_alive, wait_until,
                         crash_is_failure)
from proc_test import _tcp_inode, pid_holding_socket

crash_is_failure()

faults = []          # (what, outcome) for the final report
daemons = []


def fault(what, survived):
    faults.append((what, survived))


def start(*args, **kw):
    d = Daemon(*args, **kw)
    daemons.append(d)
    return d


# ------------------------------------------------------------------------------ helpers

def call(port, tool, arguments, rid, timeout=30.0, rcvbuf=None):
    """One stateless tools/call on a new connection; returns a Reply (raises on transport
    failure: ConnectionError, socket.timeout, OSError)."""
    body = json.dumps({"jsonrpc": "2.0", "id": rid, "method": "tools/call",
                       "params": {"name": tool, "arguments": arguments,
                                  "_meta": modern_meta()}}).encode()
    h = {"Content-Type": "application/json", "Accept": ACCEPT_BOTH}
    h.update(modern_headers("tools/call", tool))
    with HttpConn(port, timeout=timeout, rcvbuf=rcvbuf) as c:
        return Reply.of(c.request("POST", "/mcp", h, body, timeout=timeout))


def query(port, sql, params=None, rid=1, timeout=30.0):
    args = {"sql": sql}
    if params is not None:
        args["params"] = params
    return call(port, "query", args, rid, timeout)


def raw_call_bytes(port, sql, rid):
    body = json.dumps({"jsonrpc": "2.0", "id": rid, "method": "tools/call",
                       "params": {"name": "query", "arguments": {"sql": sql},
                                  "_meta": modern_meta()}}).encode()
    h = {"Content-Type": "application/json", "Accept": "application/json"}
    h.update(modern_headers("tools/call", "query"))
    return build_request("POST", "/mcp", h, body, port=port)


def is_ok(r):
    return r is not None and r.status == 200 and r.result is not None and \
        not r.result.get("isError")


def text_of(r):
    res = (r.result or {}) if r is not None else {}
    return " ".join(c.get("text", "") for c in res.get("content", []))


class PsqlDb:
    def __init__(self, dsn):
        self.dsn = dsn

    def q(self, sql):
        return psql(sql, dsn=self.dsn)

    def backends(self, app):
        return int(self.q("SELECT count(*) FROM pg_stat_activity WHERE backend_type = "
                          f"'client backend' AND application_name = '{app}'"))

    def states(self, app):
        out = self.q("SELECT coalesce(state, '-') FROM pg_stat_activity WHERE backend_type = "
                     f"'client backend' AND application_name = '{app}' ORDER BY 1")
        return out.split("\n") if out else []

    def in_transaction(self, app):
        return int(self.q("SELECT count(*) FROM pg_stat_activity WHERE application_name = "
                          f"'{app}' AND (state LIKE 'idle in transaction%' OR "
                          "(state = 'active' AND query NOT LIKE '%pg_sleep%'))"))


def metrics(port):
    try:
        r = request(port, "GET", "/metrics", timeout=10)
    except OSError:
        return {}
    return parse_metrics(r.text()) if r.status == 200 else {}


def idle_workers(port):
    """Workers idle besides the one answering /metrics."""
    return int(metrics(port).get('pgmcp_workers{state="idle"}', -1))


def serving_worker(d, client_port, timeout=5.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        inode = _tcp_inode(d.port, client_port)
        if inode:
            p = pid_holding_socket(d.worker_pids(), inode)
            if p:
                return p
        time.sleep(0.02)
    return None


def concurrent_calls(port, n, sql, timeout=30.0):
    """n calls at once (each on its own connection, so on n different workers when n equals
    the worker count and all are idle). Returns the replies (or exceptions)."""
    out = [None] * n

    def one(k):
        try:
            out[k] = query(port, sql, rid=f"cc{k}", timeout=timeout)
        except Exception as e:  # noqa: BLE001
            out[k] = e
    ts = [threading.Thread(target=one, args=(k,)) for k in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(timeout + 10)
    return out


def settle_backends(db, port, app, n, timeout):
    """Drives rounds of n concurrent short calls until db shows n backends for app (workers
    reconnect lazily or after a backoff), then returns the count (exactly n expected)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if db.backends(app) == n:
            time.sleep(0.5)
            return db.backends(app)
        concurrent_calls(port, n, "SELECT pg_sleep(0.2)", timeout=30 * SLOW)
        time.sleep(0.2)
    return db.backends(app)


class FaultLoad:
    """n client threads, each request on a new connection with a unique id and value; every
    outcome is classified: ok, tool_error (isError result), rpc_error, http_error (another
    status, e.g. 503), dropped (connection closed or reset without a response), hang (no
    response within the deadline), wrong (a response for another id or value)."""

    KINDS = ("ok", "tool_error", "rpc_error", "http_error", "dropped", "hang", "wrong")

    def __init__(self, port, n=8, deadline=40.0):
        self.port, self.deadline = port, deadline * SLOW
        self.stop_flag = threading.Event()
        self.lock = threading.Lock()
        self.counts = {k: 0 for k in self.KINDS}
        self.sent = 0
        self.examples = {}
        self.events = []      # (time, kind)
        self.threads = [threading.Thread(target=self._run, args=(i,), daemon=True)
                        for i in range(n)]
        for t in self.threads:
            t.start()

    def _note(self, kind, detail):
        with self.lock:
            self.counts[kind] += 1
            self.events.append((time.time(), kind))
            ex = self.examples.setdefault(kind, [])
            if len(ex) < 3:
                ex.append(detail[:300])

    def _run(self, i):
        k = 0
        while not self.stop_flag.is_set():
            k += 1
            rid = i * 1000000 + k
            sql = ("SELECT $1::int AS v" if i % 2 == 0 else
                   "SELECT $1::int AS v FROM pg_sleep(0.2)")
            with self.lock:
                self.sent += 1
            try:
                r = query(self.port, sql, [rid], rid=rid, timeout=self.deadline)
            except socket.timeout as e:
                self._note("hang", f"id {rid}: {e!r}")
                continue
            except (ConnectionError, OSError) as e:
                self._note("dropped", f"id {rid}: {e!r}")
                continue
            m = r.message
            if r.status != 200:
                self._note("http_error", f"id {rid}: HTTP {r.status} {r.body[:200]!r}")
            elif m is None or m.get("id") != rid:
                self._note("wrong", f"id {rid}: {r!r}")
            elif "error" in m:
                self._note("rpc_error", f"id {rid}: {m['error']}")
            elif m["result"].get("isError"):
                self._note("tool_error", f"id {rid}: {text_of(r)}")
            elif (m["result"].get("structuredContent") or {}).get("rows") != [{"v": rid}]:
                self._note("wrong", f"id {rid}: {json.dumps(m)[:300]}")
            else:
                self._note("ok", "")

    def stop(self):
        self.stop_flag.set()
        for t in self.threads:
            t.join(self.deadline + 15)
        return self

    def answered(self):
        return sum(self.counts[k] for k in ("ok", "tool_error", "rpc_error", "http_error"))

    def summary(self):
        c = {k: v for k, v in self.counts.items() if v}
        return f"sent {self.sent}: {c}; examples {json.dumps(self.examples)[:900]}"

    def ok_after(self, t):
        return [k for (tt, k) in self.events if tt > t]


# ------------------------------------------------------------------------------ setup

try:
    cl = Cluster(sample=False)
except Exception as e:  # noqa: BLE001
    ok(False, "a private PostgreSQL cluster starts", repr(e))
    done()
db = PsqlDb(cl.dsn)
STUB_SECONDS = 60      # the loop ends by itself after this long, whatever happens
db.q("""
CREATE FUNCTION public.stubborn(secs float8) RETURNS int LANGUAGE plpgsql AS $$
DECLARE t0 timestamptz := clock_timestamp(); n int := 0;
BEGIN
  -- ignores statement_timeout and cancel requests: both raise query_canceled, caught here
  WHILE clock_timestamp() < t0 + make_interval(secs => secs) LOOP
    BEGIN
      PERFORM pg_sleep(0.05);
    EXCEPTION WHEN query_canceled THEN n := n + 1;
    END;
  END LOOP;
  RETURN n;
END $$""")

APP = "t0420_main"
ASAN_SEGV = {"ASAN_OPTIONS": os.environ.get("ASAN_OPTIONS", "") + ":handle_segv=0"}
D = start(workers=4, dsn=cl.dsn, env=ASAN_SEGV,
          sets=[f"database.application_name={APP}", "limits.max_rows=1000000",
                "limits.max_result_bytes=256MB", "http.request_timeout=4s"])
P = D.port
ok(settle_backends(db, P, APP, 4, 20 * SLOW) == 4,
   "main daemon: 4 workers, one backend each", db.states(APP))

# --------------------------------------------- a statement that ignores cancellation (thread)
STUB_APP = "t0420_stubborn"
STUB_TIMEOUT = 1.0
DS = start(workers=1, dsn=cl.dsn, sets=[f"database.application_name={STUB_APP}",
                                         f"limits.statement_timeout={int(STUB_TIMEOUT * 1000)}ms"])
stub = {"reply": None, "error": None, "elapsed": None, "pids": set()}


def stub_run():
    t0 = time.time()
    try:
        stub["reply"] = query(DS.port, f"SELECT public.stubborn({STUB_SECONDS}) AS n",
                              rid="stubborn", timeout=120)
    except Exception as e:  # noqa: BLE001
        stub["error"] = repr(e)
    stub["elapsed"] = time.time() - t0


def stub_watch():
    """Every backend seen running the loop while the call is in flight."""
    while stub_thread.is_alive():
        try:
            out = db.q("SELECT pid FROM pg_stat_activity WHERE state = 'active' AND "
                       "query LIKE '%stubborn(%' AND pid <> pg_backend_pid()")
            stub["pids"].update(int(x) for x in out.split())
        except RuntimeError:
            pass
        time.sleep(0.25)


stub_thread = threading.Thread(target=stub_run, daemon=True)
stub_thread.start()
stub_watcher = threading.Thread(target=stub_watch, daemon=True)
stub_watcher.start()

# --------------------------------------------------- a client that disconnects mid-response
BIG = "SELECT g, repeat('x', 100) AS pad FROM generate_series(1, 150000) g"


def all_idle(timeout):
    return wait_until(lambda: idle_workers(P) >= 3, timeout, interval=0.2)


def served_by_all(expect_pid):
    outs = concurrent_calls(P, 4, "SELECT pg_sleep(0.5) AS s", timeout=30 * SLOW)
    good = all(isinstance(r, Reply) and is_ok(r) for r in outs)
    return good, [text_of(r)[:100] if isinstance(r, Reply) else repr(r) for r in outs]


for how in ("RST", "FIN"):
    c = HttpConn(P, timeout=30 * SLOW, rcvbuf=4096)
    c.send(raw_call_bytes(P, BIG, f"big-{how}"))
    victim = serving_worker(D, c.local_port)
    got = b""
    try:
        c.sock.settimeout(30 * SLOW)
        while len(got) < 2000:
            chunk = c.sock.recv(2000)
            if not chunk:
                break
            got += chunk
    except OSError:
        pass
    ok(got.startswith(b"HTTP/1.1 200"), f"disconnect ({how}): the large response has begun",
       got[:200])
    if how == "RST":
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    c.close()
    fault(f"client disconnects mid-response ({how})", None)
    freed = all_idle(20 * SLOW)
    ok(freed, f"disconnect ({how}): the worker is free again", metrics(P).get(
        'pgmcp_workers{state="idle"}'))
    ok(victim is not None and pid_alive(victim) and victim in D.worker_pids(),
       f"disconnect ({how}): the worker that served it is still running (not crashed)", victim)
    is_(db.in_transaction(APP), 0, f"disconnect ({how}): no backend left in a transaction "
        "or running a statement")
    good, outs = served_by_all(victim)
    ok(good, f"disconnect ({how}): 4 concurrent calls afterwards are all served (the worker "
       "takes the next request)", outs)
    faults[-1] = (faults[-1][0], freed and good)

# ------------------------------------------------------- a client that reads one byte a second
c = HttpConn(P, timeout=60 * SLOW, rcvbuf=4096)
c.send(raw_call_bytes(P, BIG, "slow-reader"))
slow_victim = serving_worker(D, c.local_port)
slow = {"bytes": 0, "stop": threading.Event(), "eof": False}


def slow_read():
    c.sock.settimeout(5)
    while not slow["stop"].is_set():
        try:
            b = c.sock.recv(1)
        except socket.timeout:
            continue
        except OSError:
            slow["eof"] = True
            return
        if not b:
            slow["eof"] = True
            return
        slow["bytes"] += 1
        slow["stop"].wait(1.0)


reader = threading.Thread(target=slow_read, daemon=True)
reader.start()
time.sleep(2)
ok(slow_victim is not None, "slow reader: found the worker writing to it", slow_victim)
is_(db.in_transaction(APP), 0, "slow reader: while it reads, no backend is in a transaction "
    "(the result was fetched and the transaction ended before writing)")
t0 = time.time()
freed = wait_until(lambda: idle_workers(P) >= 3, 4 + 20 * SLOW, interval=0.3)
diag(f"slow reader: worker free again after {time.time() - t0 + 2:.1f} s "
     f"(http.request_timeout 4s), {slow['bytes']} bytes read")
ok(freed, "slow reader: the worker gives up on it (http.request_timeout) and is free again",
   metrics(P).get('pgmcp_workers{state="idle"}'))
ok(slow_victim is not None and pid_alive(slow_victim),
   "slow reader: the worker is still running (not crashed)")
good, outs = served_by_all(slow_victim)
ok(good, "slow reader: 4 concurrent calls afterwards are all served", outs)
is_(db.in_transaction(APP), 0, "slow reader: no backend in a transaction afterwards")
slow["stop"].set()
reader.join(10)
c.close()
fault("client reads one byte a second", freed and good)

# ------------------------------------------------------------ the master killed with SIGKILL
MAPP = "t0420_master"
DM = start(workers=2, dsn=cl.dsn, sets=[f"database.application_name={MAPP}"])
settle_backends(db, DM.port, MAPP, 2, 20 * SLOW)
mworkers = DM.worker_pids()
is_(db.backends(MAPP), 2, "master kill: 2 workers with a backend each")
def inflight_run():
    try:
        query(DM.port, "SELECT pg_sleep(2)", timeout=30)
    except Exception:  # noqa: BLE001 - any outcome is fine here
        pass


inflight = threading.Thread(target=inflight_run, daemon=True)
inflight.start()
time.sleep(0.5)
DM.proc.kill()
DM.proc.wait(10)
gone = wait_until(lambda: not any(pid_alive(p) for p in mworkers), 10 * SLOW, interval=0.1)
ok(gone, "master kill: every worker exits after the master is SIGKILLed",
   [p for p in mworkers if pid_alive(p)])
nobk = wait_until(lambda: db.backends(MAPP) == 0, 10 * SLOW, interval=0.2)
ok(nobk, "master kill: no orphan keeps a database connection (pg_stat_activity by "
   "application_name)", db.states(MAPP))
fault("master SIGKILL", gone and nobk)
for p in mworkers:
    if pid_alive(p):
        os.kill(p, signal.SIGKILL)
inflight.join(30)

# ------------------------------------------------------ a worker killed with SIGSEGV (quick)
c = HttpConn(P, timeout=30 * SLOW)
c.send(raw_call_bytes(P, "SELECT pg_sleep(3) AS s", "segv"))
segv_victim = serving_worker(D, c.local_port)
ok(segv_victim is not None, "SIGSEGV: found the worker running pg_sleep(3)")
if segv_victim:
    os.kill(segv_victim, signal.SIGSEGV)
    try:
        r = c.read_response(timeout=30 * SLOW)
        outcome = f"HTTP {r.status} {r.body[:150]!r}"
    except (ConnectionError, OSError) as e:
        outcome = repr(e)
    diag(f"SIGSEGV: the victim's client saw {outcome}")
    c.close()
    back = wait_until(lambda: len(D.worker_pids()) == 4 and segv_victim not in D.worker_pids(),
                      10 * SLOW, interval=0.1)
    ok(back, "SIGSEGV: the worker is replaced (4 workers again)", D.worker_pids())
    n = settle_backends(db, P, APP, 4, 20 * SLOW)
    is_(n, 4, "SIGSEGV: exactly one backend per worker afterwards (the dead worker's backend "
        "is gone)")
    ok(metrics(P).get("pgmcp_worker_crashes_total", 0) >= 1, "SIGSEGV: /metrics counts it")
    fault("worker SIGSEGV mid-request", back and n == 4)

# ---------------------------------------------------- the statement that ignores cancellation
stub_thread.join(150)
stub_watcher.join(5)
r = stub["reply"]
diag(f"stubborn statement: call ended after {stub['elapsed']:.1f} s "
     f"(statement_timeout {STUB_TIMEOUT:.0f}s); backends that ran it: {sorted(stub['pids'])}; "
     f"reply: {text_of(r)[:200] if r else stub['error']}")
ok(r is not None and r.status == 200 and r.message is not None and
   (("error" in r.message) or r.result.get("isError")),
   "stubborn statement: the call ends with an error response", stub["error"] or r)
# Generous against a slow machine: statement_timeout + the server's own 2 s slack + its 10 s
# grace for a server that ignores cancel (db.c SERVER_GRACE_US), plus margin.
# Not stretched under ASan: these waits are the server's wall-clock timers, not its speed.
limit = STUB_TIMEOUT + 2 + 10 + 6
ok(stub["elapsed"] is not None and stub["elapsed"] <= limit,
   f"stubborn statement: the call ends within statement_timeout + grace ({limit:.0f} s)",
   f"took {stub['elapsed']} s")
txt = text_of(r).lower() if r else ""
ok(any(w in txt for w in ("timeout", "cancel", "did not respond")),
   "stubborn statement: the error says the statement did not stop (timeout/cancel), not just "
   "'lost the connection'", text_of(r))
is_(len(stub["pids"]), 1, "stubborn statement: it ran on one backend only (the server does "
    "not run it again on a new connection after giving up on it)")
time.sleep(3)
left = db.q("SELECT pid FROM pg_stat_activity WHERE state = 'active' AND "
            "query LIKE '%stubborn(%' AND pid <> pg_backend_pid()")
left = [int(x) for x in left.split()] if left else []
is_(left, [], "stubborn statement: no backend is still running it 3 s after the call ended")
if left:
    diag(f"stubborn statement: {len(left)} backend(s) still running it, terminated by the test: "
         f"{left}")
    db.q("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE "
         "'%stubborn(%' AND pid <> pg_backend_pid()")
r2 = None
try:
    r2 = query(DS.port, "SELECT 42 AS answer", rid="after-stubborn", timeout=30 * SLOW)
except Exception as e:  # noqa: BLE001
    r2 = None
    diag(repr(e))
ok(is_ok(r2), "stubborn statement: the worker serves the next call", r2)
ok(wait_until(lambda: db.backends(STUB_APP) == 1, 10 * SLOW, interval=0.2),
   "stubborn statement: the worker has exactly one backend afterwards", db.states(STUB_APP))
fault("statement that ignores cancellation", is_ok(r2) and not left and
      len(stub["pids"]) == 1)


# ------------------------------------------------ PostgreSQL restarted / killed under load
def pg_fault(kind):
    base_reconnects = metrics(P).get("pgmcp_db_reconnects_total", 0)
    load = FaultLoad(P, 8)
    time.sleep(1.5)
    t_fault = time.time()
    if kind == "restart":
        cl.ctl("restart")
    else:
        cl.ctl("kill")
        time.sleep(2)          # an outage: calls must fail cleanly meanwhile
        outage_kinds = set(load.ok_after(t_fault + 0.3))
        cl.ctl("restart")
    t_back = time.time()
    time.sleep(3)
    load.stop()
    diag(f"PostgreSQL {kind}: {load.summary()}")
    is_(load.counts["hang"], 0, f"pg {kind}: no call hangs (every call answered within "
        f"{load.deadline:.0f} s)")
    is_(load.counts["dropped"], 0, f"pg {kind}: no connection is dropped without a response")
    is_(load.counts["wrong"], 0, f"pg {kind}: no response carries another id or value")
    ok(load.answered() == load.sent and load.sent > 20,
       f"pg {kind}: every request got a response ({load.answered()} of {load.sent})")
    if kind == "kill":
        ok("tool_error" in outage_kinds or "http_error" in outage_kinds,
           "pg kill: calls during the outage fail with an error response", outage_kinds)
        errs = load.examples.get("tool_error", [])
        ok(all(("unavailable" in e or "connection" in e or "shut" in e or "starting up" in e
                or "terminat" in e or "recovery" in e) for e in errs),
           "pg kill: the error results say the database is unavailable", errs)
    ready = wait_until(lambda: all(request(P, "GET", "/readyz", timeout=15).status == 200
                                   for _ in range(4)), 30 * SLOW, interval=0.5)
    ok(ready, f"pg {kind}: /readyz is 200 again")
    outs = [query(P, "SELECT $1::int AS v", [i], rid=i, timeout=30 * SLOW) for i in range(8)]
    ok(all(is_ok(x) for x in outs), f"pg {kind}: calls succeed afterwards",
       [text_of(x)[:120] for x in outs if not is_ok(x)])
    n = settle_backends(db, P, APP, 4, 30 * SLOW)
    is_(n, 4, f"pg {kind}: exactly one backend per worker after recovery")
    time.sleep(1)
    is_(db.backends(APP), 4, f"pg {kind}: and still exactly 4 a second later (no stray "
        "connections)")
    is_(len(D.worker_pids()), 4, f"pg {kind}: still 4 workers")
    rec = metrics(P).get("pgmcp_db_reconnects_total", 0) - base_reconnects
    diag(f"pg {kind}: {rec:.0f} reconnects counted in /metrics; recovered (readyz, calls, "
         f"backends) {time.time() - t_back:.1f} s after PostgreSQL was back (3 s of it load)")
    ok(rec >= 4, f"pg {kind}: /metrics pgmcp_db_reconnects_total counts the workers' "
       "reconnections (at least one per worker)", f"grew by {rec}")
    fault(f"PostgreSQL {kind} under load (8 clients)",
          load.counts["hang"] == 0 and load.counts["dropped"] == 0 and ready and n == 4)


pg_fault("restart")
pg_fault("kill")

# ------------------------------------------------------------------------------ the end
for d in daemons:
    if d is DM:
        continue
    rc = d.stop()
    is_(rc, 0, f"daemon {d.port} exits 0 on SIGTERM")
    is_(d.leftover_workers(), [], f"daemon {d.port} leaves no worker behind")
bad = [line for d in daemons for line in d.log().splitlines()
       if "Sanitizer" in line or "runtime error" in line]
is_(bad, [], "no sanitizer report in the daemons' logs")
left = db.q("SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 't0420%'")
is_(left, "0", "no backend of any daemon remains")
cl.stop()
diag(f"faults injected: {len(faults)}, survived: {sum(1 for _, s in faults if s)}")
for what, survived in faults:
    diag(f"  {what}: {'survived' if survived else 'NOT survived'}")
done()
