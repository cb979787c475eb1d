#!/usr/bin/env python3
# t/0400-daemon-lifecycle.t: the daemon's process model: the master preforks workers that each
# open their own PostgreSQL connection after fork; crashed workers (SIGKILL, SIGSEGV) are
# replaced while 8 concurrent clients lose nothing; crash loops back off; SIGHUP reloads by
# generation (valid and invalid files); SIGTERM drains, shutdown_timeout kills, INT/QUIT stop
# fast; workers die with a SIGKILLed master; USR1 reopens log.file; max_connections_per_worker
# recycles; a bad DSN does not crash-loop; --single; Unix and IPv6 listeners; a port in use;
# --check-config of the daemon keys; EMFILE neither kills nor spins the daemon.
import os
import re
import resource
import signal
import socket
import stat
import time

from tap import ok, is_, like, skip, diag, done
from pgmcp_test import BIN, psql, run, wait_for
from proc_test import (SLOW, Daemon, Load, BackgroundCall, backends, warm, free_port,
                       query, call_tool, tool_ok, structured, tool_text, http_get, metrics,
                       framed_session, rpc, serving_worker, cpu_seconds, alive, children,
                       has_ipv6_loopback, kill_pid, tmpdir, connect)

LOCAL = "127.0.0.1"


def restart_values(log):
    return [int(x) for x in re.findall(r"worker \d+ restarts in (\d+) ms", log)]


def new_pid(d, old, timeout):
    """Polls for a worker not in old; returns (pid, seconds waited) or (None, timeout)."""
    t0 = time.time()
    deadline = t0 + timeout
    while time.time() < deadline:
        fresh = [w for w in d.workers() if w not in old]
        if fresh:
            return fresh[0], time.time() - t0
        time.sleep(0.01)
    return None, timeout


def workers_serving(d, port, n, seconds=0.6):
    """Opens n concurrent slow calls; returns (set of worker pids that served them, all ok)."""
    calls = [BackgroundCall((LOCAL, port), f"SELECT pg_sleep({seconds})") for _ in range(n)]
    pids = set()
    for c in calls:
        c.connected.wait(10)
        if c.cport is not None:
            p = serving_worker(d, port, c, timeout=2)
            if p:
                pids.add(p)
    for c in calls:
        c.join(30)
    return pids, all(c.succeeded() for c in calls), [c.outcome() for c in calls]


# ------------------------------------------------------------------------------------------
# 1. Start-up: N workers, one backend each, opened after fork, without waiting for a client.
def t_startup():
    port = free_port()
    base = backends("pgmcp")
    d = Daemon(["--listen", f"{LOCAL}:{port}", "--workers", "4"])
    try:
        ws = d.wait_workers(4, timeout=10 * SLOW)
        is_(len(ws), 4, "4 workers appear as children of the master")
        ok(all(open(f"/proc/{w}/cmdline").read().split("\0")[0] == BIN for w in ws),
           "the workers are pgmcp processes (forked, not exec'd elsewhere)")
        ok(d.wait_log("master ready: 4 workers", 5 * SLOW), "master logs it is ready")
        ok(wait_for(lambda: backends("pgmcp") - base == 4, timeout=5 * SLOW),
           "each worker opens its PostgreSQL connection at start-up (4 backends, "
           "application_name pgmcp), before any client arrives",
           f"{backends('pgmcp') - base} backends; log:\n{d.log()[-1500:]}")
        started = psql_epochs("pgmcp")
        ok(started and all(s >= d.started - 1 for s in started),
           "the backends were opened after the daemon started (after fork)",
           f"backend starts {started}, daemon start {d.started}")
        m = metrics((LOCAL, port))
        is_(sum(v for k, v in m.items() if k.startswith("pgmcp_workers{")), 4.0,
            "/metrics pgmcp_workers counts 4 workers")
        # A worker that has been idle longer than database.connect_timeout (5s) must still
        # serve its first request.
        time.sleep(max(0.0, d.started + 6.5 - time.time()))
        pids, all_ok, outcomes = workers_serving(d, port, 4, 0.5)
        ok(all_ok, "the first request to each worker, 6.5 s after start, succeeds", outcomes)
        is_(len(pids), 4, "4 concurrent slow calls are served by 4 different workers")
        is_(backends("pgmcp") - base, 4, "still exactly one backend per worker")
        is_(d.stdout(), "", "the daemon writes nothing to stdout")
    finally:
        is_(d.stop(), 0, "SIGTERM: exit status 0")
    ok(wait_for(lambda: backends("pgmcp") == base, timeout=5),
       "no backend of the daemon remains after it stops")


def psql_epochs(app):
    out = psql("SELECT extract(epoch FROM backend_start) FROM pg_stat_activity "
               f"WHERE application_name = '{app}'")
    return [float(x) for x in out.split()] if out else []


# ------------------------------------------------------------------------------------------
# 2, 3. A busy worker dies (SIGKILL, SIGSEGV) during a load of 8 concurrent clients.
def t_crash(sig, signame):
    port = free_port()
    app = f"t0400_{signame.lower()}"
    d = Daemon(["--listen", f"{LOCAL}:{port}", "--workers", "4",
                "--set", f"database.application_name={app}"],
               sanitizer_options="handle_segv=0")
    addr = (LOCAL, port)
    try:
        d.wait_workers(4, 10 * SLOW)
        warm(addr, app, 4)
        busy = BackgroundCall(addr, "SELECT pg_sleep(5)")
        busy.connected.wait(10)
        victim = serving_worker(d, port, busy) if busy.cport else None
        ok(victim is not None, f"{signame}: found the worker running pg_sleep(5)")
        if victim is None:
            return
        old = set(d.workers())
        load = Load(addr, 8)
        time.sleep(0.7)
        mark = len(d.log())
        kill_pid(victim, sig)
        pid, waited = new_pid(d, old, 5 * SLOW)
        ok(pid is not None and waited <= 1.0,
           f"{signame}: a replacement worker appears within 1 s",
           f"waited {waited:.2f} s; log: {d.log()[mark:][-600:]}")
        time.sleep(1.5)
        load.stop()
        busy.join(15)
        ok(not busy.succeeded(), f"{signame}: the killed worker's client gets an error or a "
           "closed connection", busy.outcome())
        diag(f"{signame}: busy client saw {busy.outcome()[:200]}")
        ok(load.sent > 50 and load.ok == load.sent and not load.failures,
           f"{signame}: 8 concurrent clients lose no request while the worker dies and is "
           f"replaced (every request answered exactly once)", load.summary())
        diag(f"{signame}: load {load.summary()[:200]}")
        like(d.log()[mark:], f"killed by signal {int(sig)}",
             f"{signame}: the master logs the signal")
        ws = d.wait_workers(4, 5 * SLOW)
        ok(len(ws) == 4 and victim not in ws and pid in ws, f"{signame}: 4 workers again")
        pids, all_ok, outcomes = workers_serving(d, port, 4, 0.6)
        ok(all_ok and pid in pids, f"{signame}: the replacement serves requests",
           f"served by {pids}, replacement {pid}: {outcomes}")
        m = metrics(addr)
        ok(m.get("pgmcp_worker_crashes_total", 0) >= 1, f"{signame}: /metrics counts the crash")
    finally:
        d.stop()


# ------------------------------------------------------------------------------------------
# 4. A crash-looping slot is restarted with growing delays, not spun.
def t_crash_loop():
    port = free_port()
    d = Daemon(["--listen", f"{LOCAL}:{port}", "--workers", "1",
                "--set", "database.application_name=t0400_loop"])
    try:
        seen = set()
        kills = []      # (pid, time killed)
        starts = []     # time each new worker was seen
        for _ in range(4):
            pid, _w = new_pid(d, seen, 20 * SLOW)
            if pid is None:
                break
            starts.append(time.time())
            seen.add(pid)
            kill_pid(pid, signal.SIGKILL)
            kills.append((pid, time.time()))
        is_(len(kills), 4, "crash loop: 4 successive workers were started and killed")
        ok(d.wait_log(re.compile(r"(restarts in \d+ ms.*){3}", re.S), 3), "crash loop: "
           "restart delays are logged")
        d.wait_log(re.compile(r"(restarts in \d+ ms.*){4}", re.S), 2)
        vals = restart_values(d.log())
        diag(f"restart delays logged: {vals}")
        ok(len(vals) >= 3 and vals[0] <= 1000 and
           all(b == min(2 * a, 60000) for a, b in zip(vals, vals[1:])),
           "crash loop: delays grow 1000, 2000, 4000... ms", vals)
        gaps = [starts[i + 1] - kills[i][1] for i in range(len(starts) - 1)]
        diag("gaps between a kill and the next worker: " + ", ".join(f"{g:.2f}" for g in gaps))
        ok(len(gaps) >= 3 and gaps[-1] >= 1.8 and gaps[-1] > gaps[0],
           "crash loop: the respawn really waits longer each time", gaps)
        ok(wait_for(lambda: not alive(kills[-1][0]), 2), "crash loop: the last one is gone")
        time.sleep(0.3)
        is_(d.workers(), [], "crash loop: no worker runs while the slot waits (nothing spun)")
        c0 = cpu_seconds(d.pid)
        time.sleep(1)
        ok(cpu_seconds(d.pid) - c0 < 0.2, "crash loop: the waiting master is idle")
        ok(d.running(), "crash loop: the master keeps running")
    finally:
        d.stop()


# ------------------------------------------------------------------------------------------
# 5, 6. SIGHUP: a valid changed file starts a new generation while an in-flight call finishes;
# an invalid file keeps the running generation.
def t_reload():
    port = free_port()
    app = "t0400_hup"
    addr = (LOCAL, port)

    def cfg(workers, max_rows, extra=""):
        return (f"listen: [\"{LOCAL}:{port}\"]\nworkers: {workers}\n"
                f"database:\n  application_name: {app}\n"
                f"limits:\n  max_rows: {max_rows}\n{extra}")

    d = Daemon([], config=cfg(4, 1000))
    try:
        old = set(d.wait_workers(4, 10 * SLOW))
        is_(len(old), 4, "reload: 4 workers from the file")
        st, r = call_tool(addr, "database_info", {})
        is_((structured(r) or {}).get("limits", {}).get("max_rows"), 1000,
            "reload: database_info shows max_rows 1000")
        inflight = BackgroundCall(addr, "SELECT pg_sleep(2) AS slept")
        inflight.connected.wait(10)
        holder = serving_worker(d, port, inflight) if inflight.cport else None
        ok(holder in old, "reload: a pg_sleep(2) call is in flight on an old worker")
        time.sleep(0.3)
        mark = len(d.log())
        d.write_config(cfg(2, 7))
        d.signal(signal.SIGHUP)
        ok(d.wait_log("generation 2 started with 2 workers", 5 * SLOW, mark),
           "reload: the master logs generation 2 with 2 workers", d.log()[mark:])
        new = d.wait_workers(2, 5 * SLOW, exclude=old, exact=False)
        ok(len(new) >= 2, "reload: new worker pids appear", new)
        ok(holder is not None and alive(holder) and inflight.is_alive(),
           "reload: the old worker running the call is still there")
        inflight.join(15)
        ok(inflight.succeeded() and structured(inflight.resp)["row_count"] == 1,
           "reload: the call started before SIGHUP completes successfully", inflight.outcome())
        ok(wait_for(lambda: not (set(d.workers()) & old), timeout=5 * SLOW),
           "reload: the old generation leaves", d.workers())
        ws = d.workers()
        ok(len(ws) == 2 and not (set(ws) & old), "reload: exactly 2 workers, all new", ws)
        vals = set()
        for i in range(6):
            st, r = call_tool(addr, "database_info", {}, req_id=i + 10)
            vals.add((structured(r) or {}).get("limits", {}).get("max_rows"))
        is_(vals, {7}, "reload: database_info reports the new limits.max_rows on every worker")
        ok(wait_for(lambda: backends(app) <= 2, timeout=5 * SLOW),
           "reload: the old workers' backends are closed", backends(app))

        # an invalid file: the running generation keeps serving
        gen2 = set(ws)
        mark = len(d.log())
        d.write_config(cfg(2, 9, "no_such_key: 1\nhttp:\n  header_timeout: soon\n"))
        d.signal(signal.SIGHUP)
        ok(d.wait_log("keep serving", 5 * SLOW, mark),
           "invalid reload: the master says the running workers keep serving", d.log()[mark:])
        text = d.log()[mark:]
        like(text, "no_such_key", "invalid reload: the unknown key is logged")
        like(text, "http.header_timeout", "invalid reload: the bad value's key is logged")
        like(text, "pgmcp.yaml:", "invalid reload: errors name the file")
        time.sleep(0.5)
        is_(set(d.workers()), gen2, "invalid reload: the same workers keep running")
        st, r = call_tool(addr, "database_info", {})
        is_((structured(r) or {}).get("limits", {}).get("max_rows"), 7,
            "invalid reload: the previous settings stay in force")
        st, r = query(addr, "SELECT 42 AS answer")
        ok(tool_ok(st, r), "invalid reload: queries are still served")
        ok(d.running(), "invalid reload: the master keeps running")
    finally:
        d.stop()


# ------------------------------------------------------------------------------------------
# 7. SIGTERM under load: calls in flight finish, the master exits 0, no backend remains.
def t_sigterm_drain():
    port = free_port()
    app = "t0400_term"
    addr = (LOCAL, port)
    d = Daemon(["--listen", f"{LOCAL}:{port}", "--workers", "4",
                "--set", f"database.application_name={app}"])
    try:
        d.wait_workers(4, 10 * SLOW)
        warm(addr, app, 4)
        load = Load(addr, 3, pause=0.01)
        time.sleep(0.5)
        inflight = BackgroundCall(addr, "SELECT pg_sleep(1) AS slept")
        inflight.connected.wait(10)
        ok(serving_worker(d, port, inflight) is not None,
           "SIGTERM: a pg_sleep(1) call is in flight")
        workers = d.workers()
        t0 = time.time()
        d.signal(signal.SIGTERM)
        inflight.join(15)
        ok(inflight.succeeded(), "SIGTERM: the call in flight gets its answer",
           inflight.outcome())
        rc = d.wait_exit(10 * SLOW)
        is_(rc, 0, "SIGTERM: the master exits with status 0")
        diag(f"SIGTERM: master exited after {time.time() - t0:.2f} s")
        load.stop()
        bad = [f for f in load.failures if "HTTP" in f]
        ok(load.ok > 0 and not bad, "SIGTERM: load requests were answered correctly or "
           "refused, never answered wrongly", load.summary())
        ok(not any(alive(w) for w in workers), "SIGTERM: every worker has exited")
        ok(wait_for(lambda: backends(app) == 0, timeout=5 * SLOW),
           "SIGTERM: no PostgreSQL backend of pgmcp remains", backends(app))
        like(d.log(), "SIGTERM: stopping gracefully", "SIGTERM: logged")
    finally:
        d.stop()


# ------------------------------------------------------------------------------------------
# 8. A worker busy past shutdown_timeout is killed; the master still exits.
def t_shutdown_timeout():
    port = free_port()
    addr = (LOCAL, port)
    d = Daemon(["--listen", f"{LOCAL}:{port}", "--workers", "2",
                "--set", "shutdown_timeout=1s", "--set", "database.application_name=t0400_sdt"])
    try:
        d.wait_workers(2, 10 * SLOW)
        slow = BackgroundCall(addr, "SELECT pg_sleep(10)")
        slow.connected.wait(10)
        holder = serving_worker(d, port, slow)
        ok(holder is not None, "shutdown_timeout: pg_sleep(10) is in flight")
        time.sleep(0.3)
        t0 = time.time()
        d.signal(signal.SIGTERM)
        rc = d.wait_exit(6 * SLOW)
        took = time.time() - t0
        is_(rc, 0, "shutdown_timeout: the master exits with status 0")
        ok(rc is not None and 0.8 <= took <= 3.0 * SLOW,
           "shutdown_timeout: it waits about shutdown_timeout (1 s), not for the call",
           f"took {took:.2f} s")
        like(d.log(), "still busy after the shutdown timeout",
             "shutdown_timeout: the master logs that it kills the busy worker")
        ok(holder is not None and wait_for(lambda: not alive(holder), 2),
           "shutdown_timeout: the busy worker is gone")
        slow.join(5)
        ok(not slow.succeeded(), "shutdown_timeout: the killed call's client sees an error",
           slow.outcome())
    finally:
        d.stop()


# ------------------------------------------------------------------------------------------
# 9, 10. SIGINT stops fast, SIGQUIT at once, even with a long call in flight.
def t_fast_stop(sig, signame, limit):
    port = free_port()
    addr = (LOCAL, port)
    d = Daemon(["--listen", f"{LOCAL}:{port}", "--workers", "2",
                "--set", f"database.application_name=t0400_{signame.lower()}"])
    try:
        d.wait_workers(2, 10 * SLOW)
        slow = BackgroundCall(addr, "SELECT pg_sleep(10)")
        slow.connected.wait(10)
        ok(serving_worker(d, port, slow) is not None, f"{signame}: pg_sleep(10) in flight")
        workers = d.workers()
        time.sleep(0.3)
        t0 = time.time()
        d.signal(sig)
        rc = d.wait_exit(limit + 5 * SLOW)
        took = time.time() - t0
        ok(rc is not None and took <= limit, f"{signame}: the master exits within {limit} s",
           f"took {took:.2f} s, rc {rc}")
        is_(rc, 0, f"{signame}: exit status 0")
        ok(wait_for(lambda: not any(alive(w) for w in workers), 1),
           f"{signame}: no worker survives")
    finally:
        d.stop()


# ------------------------------------------------------------------------------------------
# 11. SIGKILL of the master: the workers leave by themselves, with their backends.
def t_master_killed():
    port = free_port()
    app = "t0400_orphan"
    addr = (LOCAL, port)
    d = Daemon(["--listen", f"{LOCAL}:{port}", "--workers", "3",
                "--set", f"database.application_name={app}"])
    try:
        workers = d.wait_workers(3, 10 * SLOW)
        got = warm(addr, app, 3)
        is_(got, 3, "master killed: 3 workers hold a backend each")
        busy = BackgroundCall(addr, "SELECT pg_sleep(1.5)")
        busy.connected.wait(10)
        time.sleep(0.2)
        d.signal(signal.SIGKILL)
        d.wait_exit(5)
        ok(wait_for(lambda: not any(alive(w) for w in workers), timeout=5 * SLOW),
           "master killed: every worker exits within a few seconds",
           [(w, alive(w)) for w in workers])
        ok(wait_for(lambda: backends(app) == 0, timeout=5 * SLOW),
           "master killed: their PostgreSQL backends disappear", backends(app))
        busy.join(10)
    finally:
        d.stop()


# ------------------------------------------------------------------------------------------
# 12. SIGUSR1 reopens log.file (after rotation by rename).
def t_reopen_log():
    port = free_port()
    addr = (LOCAL, port)
    d0 = tmpdir()
    logfile = os.path.join(d0, "pgmcp.log")
    config = (f"listen: [\"{LOCAL}:{port}\"]\nworkers: 2\n"
              f"log:\n  file: {logfile}\n  level: debug\n"
              "database:\n  application_name: t0400_usr1\n")
    d = Daemon([], config=config)
    try:
        d.wait_workers(2, 10 * SLOW)
        ok(wait_for(lambda: os.path.exists(logfile) and
                    "master ready" in open(logfile).read(), 5 * SLOW),
           "USR1: the log goes to log.file")
        os.rename(logfile, logfile + ".1")
        d.signal(signal.SIGUSR1)
        time.sleep(0.5 * SLOW)
        ports = []
        for _ in range(4):
            s = connect(addr)
            ports.append(s.getsockname()[1])
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            s.recv(4096)
            s.close()
        d.signal(signal.SIGHUP)
        ok(wait_for(lambda: os.path.exists(logfile) and
                    "reloading the configuration" in open(logfile).read(), 5 * SLOW),
           "USR1: the master writes to the new file")
        new = open(logfile).read() if os.path.exists(logfile) else ""
        old = open(logfile + ".1").read()
        ok(any(f":{p}" in new for p in ports), "USR1: workers write to the new file",
           new[-1500:])
        ok(not any(f":{p}" in old for p in ports) and "reloading the configuration" not in old,
           "USR1: nothing is written to the renamed file afterwards", old[-800:])
    finally:
        d.stop()


# ------------------------------------------------------------------------------------------
# 13. max_connections_per_worker recycles workers without losing requests.
def t_recycle():
    port = free_port()
    addr = (LOCAL, port)
    d = Daemon(["--listen", f"{LOCAL}:{port}", "--workers", "2",
                "--set", "max_connections_per_worker=3",
                "--set", "database.application_name=t0400_recycle"])
    try:
        first = set(d.wait_workers(2, 10 * SLOW))
        load = Load(addr, 4, pause=0.02)
        seen = set(first)
        deadline = time.time() + 3 * SLOW
        while time.time() < deadline:
            seen |= set(d.workers())
            time.sleep(0.02)
        load.stop()
        ok(len(seen) >= 6, f"recycle: workers are replaced ({len(seen)} pids seen)")
        ok(load.sent > 10 and load.ok == load.sent and not load.failures,
           "recycle: no request is lost", load.summary())
        like(d.log(), "recycling", "recycle: the worker logs why it leaves")
        is_(restart_values(d.log()), [], "recycle: a recycled worker is not treated as a crash")
        is_(len(d.wait_workers(2, 3 * SLOW)), 2, "recycle: 2 workers remain")
    finally:
        d.stop()


# ------------------------------------------------------------------------------------------
# 14. A bad DSN: workers stay up and report the database unavailable.
def t_bad_dsn():
    port = free_port()
    addr = (LOCAL, port)
    dead = free_port()
    d = Daemon(["--listen", f"{LOCAL}:{port}", "--workers", "2"],
               dsn=f"host=127.0.0.1 port={dead} dbname=nothere user=nobody connect_timeout=1")
    try:
        ws = set(d.wait_workers(2, 10 * SLOW))
        st, r = query(addr, "SELECT 1")
        ok(st == 200 and r is not None and (r.get("error") or r["result"].get("isError")),
           "bad DSN: a query is answered with an error", r)
        like(tool_text(r) + str(r.get("error") if r else ""), "unavailable",
             "bad DSN: the error says the database is unavailable")
        st, _, body = http_get(addr, "/readyz")
        is_(st, 503, "bad DSN: /readyz answers 503")
        st, _, body = http_get(addr, "/healthz")
        is_(st, 200, "bad DSN: /healthz answers 200")
        for i in range(4):
            query(addr, "SELECT 1", req_id=i + 2)
        time.sleep(2)
        is_(set(d.workers()), ws, "bad DSN: the same workers are still running (no crash loop)")
        is_(restart_values(d.log()), [], "bad DSN: no restart is scheduled")
        ok("killed by signal" not in d.log() and "exited with status" not in d.log(),
           "bad DSN: no worker died", d.log()[-1000:])
        is_(metrics(addr).get("pgmcp_worker_restarts_total"), 0.0,
            "bad DSN: /metrics counts no restart")
    finally:
        d.stop()


# ------------------------------------------------------------------------------------------
# 15. --single: one process serves.
def t_single():
    port = free_port()
    addr = (LOCAL, port)
    d = Daemon(["--single", "--listen", f"{LOCAL}:{port}",
                "--set", "database.application_name=t0400_single"])
    try:
        ok(wait_for(lambda: d.wait_log("single-worker mode", 0.1), 10 * SLOW),
           "--single: logs single-worker mode")
        ok(wait_for(lambda: _healthz(addr), 10 * SLOW), "--single: serves /healthz")
        results = [query(addr, f"SELECT {i} AS i", req_id=i) for i in range(3)]
        ok(all(tool_ok(*r) for r in results), "--single: serves queries")
        is_(children(d.pid), [], "--single: no child processes")
        is_(d.stop(), 0, "--single: SIGTERM stops it with status 0")
    finally:
        d.stop()


def _healthz(addr):
    try:
        return http_get(addr, "/healthz", timeout=2)[0] == 200
    except OSError:
        return False


# ------------------------------------------------------------------------------------------
# 16. Unix socket listeners: HTTP and framed JSON-RPC; the file's mode.
def t_unix():
    path = os.path.join(tmpdir(), "pgmcp.sock")
    d = Daemon(["--listen", f"unix:{path}", "--workers", "2",
                "--set", "database.application_name=t0400_unix"])
    try:
        ok(wait_for(lambda: _healthz(path), 10 * SLOW), "unix: /healthz over the socket")
        st, r = query(path, "SELECT 'unix' AS via")
        ok(tool_ok(st, r) and structured(r)["rows"] == [{"via": "unix"}],
           "unix: Streamable HTTP tools/call over the socket", r)
        replies = framed_session(path, [
            rpc("initialize", {"protocolVersion": "2025-11-25", "capabilities": {},
                               "clientInfo": {"name": "t0400", "version": "1"}}, 1, modern=False),
            {"jsonrpc": "2.0", "method": "notifications/initialized"},
            rpc("tools/call", {"name": "query", "arguments": {"sql": "SELECT 2 AS two"}}, 2,
                modern=False)])
        ok(len(replies) == 2 and replies[1].get("result", {}).get("structuredContent", {})
           .get("rows") == [{"two": 2}], "unix: framed JSON-RPC session over the socket",
           replies)
    finally:
        d.stop()
    ok(not os.path.exists(path), "unix: the socket file is removed at exit")

    path = os.path.join(tmpdir(), "mode.sock")
    config = (f"listen:\n  - address: unix:{path}\n    mode: \"0600\"\nworkers: 1\n"
              "database:\n  application_name: t0400_unix\n")
    d = Daemon([], config=config)
    try:
        ok(wait_for(lambda: _healthz(path), 10 * SLOW), "unix mode: serves")
        st = os.stat(path)
        ok(stat.S_ISSOCK(st.st_mode), "unix mode: the path is a socket")
        is_(oct(st.st_mode & 0o7777), oct(0o600), "unix mode: file mode 0600 as configured")
    finally:
        d.stop()


# ------------------------------------------------------------------------------------------
# 17. IPv6 loopback.
def t_ipv6():
    if not has_ipv6_loopback():
        skip("ipv6: [::1] listener serves", "no IPv6 loopback on this machine")
        return
    port = free_port("::1")
    addr = ("::1", port)
    d = Daemon(["--listen", f"[::1]:{port}", "--workers", "1",
                "--set", "database.application_name=t0400_v6"])
    try:
        ok(wait_for(lambda: _healthz(addr), 10 * SLOW), "ipv6: /healthz on [::1]")
        st, r = query(addr, "SELECT 6 AS v")
        ok(tool_ok(st, r), "ipv6: tools/call on [::1]")
        like(d.log(), f"[::1]:{port}", "ipv6: the listener is logged as [::1]:port")
    finally:
        d.stop()


# ------------------------------------------------------------------------------------------
# 18. A port already in use: a clear error at start and exit status 1.
def t_port_in_use():
    holder = socket.socket()
    holder.bind((LOCAL, 0))
    holder.listen(1)
    port = holder.getsockname()[1]
    try:
        rc, out, err = run([BIN, "--listen", f"{LOCAL}:{port}", "--workers", "2",
                            os.environ.get("PGMCP_TEST_DSN", "")], timeout=20 * SLOW)
        is_(rc, 1, "port in use: exit status 1")
        like(err, f"{LOCAL}:{port}", "port in use: the error names the address")
        like(err.lower(), "in use", "port in use: the error says why")
        is_(out, "", "port in use: nothing on stdout")
    finally:
        holder.close()


# ------------------------------------------------------------------------------------------
# 19. --check-config with the daemon's keys.
def t_check_config():
    d0 = tmpdir()
    good = os.path.join(d0, "good.yaml")
    with open(good, "w") as f:
        f.write("listen:\n  - \"127.0.0.1:8080\"\n  - address: unix:/tmp/pgmcp-x.sock\n"
                "    protocols: [http, framed]\n    mode: \"0660\"\n"
                "workers: 8\nmax_connections_per_worker: 100\nshutdown_timeout: 5s\n"
                "http:\n  header_timeout: 5s\n  idle_timeout: 3s\n  max_headers: 32\n"
                "  queue_timeout: 100ms\n  allowed_origins: [\"https://example.com\"]\n")
    rc, out, err = run([BIN, "--check-config", "-c", good])
    ok(rc == 0 and "configuration OK" in out, "check-config: a valid daemon file is OK",
       out + err)
    bad = os.path.join(d0, "bad.yaml")
    with open(bad, "w") as f:
        f.write("listen:\n  - \"nowhere\"\n"
                "workers: 0\n"
                "http:\n  header_timeout: soon\n  bogus: 1\n")
    rc, out, err = run([BIN, "--check-config", "-c", bad])
    is_(rc, 1, "check-config: an invalid daemon file exits 1")
    for key, line in (("listen", 2), ("workers", 3), ("http.header_timeout", 5),
                      ("http.bogus", 6)):
        ok(re.search(rf"bad\.yaml:{line}:\d+: {re.escape(key)}\b", err),
           f"check-config: {key} is reported as file:{line}:col: {key}", err)
    ok("configuration OK" not in out, "check-config: no OK for an invalid file")
    rc, out, err = run([BIN, "--check-config", "--workers", "0"])
    is_(rc, 2, "check-config: --workers 0 is a usage error (status 2)")


# ------------------------------------------------------------------------------------------
# 20. EMFILE: a low descriptor limit and many idle connections neither kill nor spin.
def t_emfile():
    port = free_port()
    addr = (LOCAL, port)
    d = Daemon(["--listen", f"{LOCAL}:{port}", "--workers", "2",
                "--set", "database.application_name=t0400_emfile"], nofile=64)
    socks = []
    try:
        ws = d.wait_workers(2, 10 * SLOW)
        ok(wait_for(lambda: _healthz(addr), 10 * SLOW), "EMFILE: serving with ulimit -n 64")
        for _ in range(150):
            try:
                socks.append(socket.create_connection(addr, timeout=2))
            except OSError:
                break
        diag(f"EMFILE: {len(socks)} idle connections open")
        time.sleep(0.5)
        procs = [d.pid] + ws
        before = {p: cpu_seconds(p) for p in procs}
        time.sleep(2)
        after = {p: cpu_seconds(p) for p in procs}
        ok(all(alive(p) for p in procs), "EMFILE: master and workers keep running")
        busy = {p: round(after[p] - before[p], 2) for p in procs
                if after[p] is not None and after[p] - before[p] > 0.5}
        ok(not busy, "EMFILE: no process spins while the connections sit idle", busy)
    finally:
        for s in socks:
            s.close()
    try:
        ok(wait_for(lambda: _healthz(addr), 10 * SLOW),
           "EMFILE: serves again once the connections close")
        st, r = query(addr, "SELECT 1 AS one")
        ok(tool_ok(st, r), "EMFILE: queries work again", r)

        # Force accept() to fail with EMFILE in a worker: its descriptor limit is set to
        # the lowest free descriptor number, so the next descriptor is over the limit.
        one = Daemon(["--listen", f"{LOCAL}:{(p1 := free_port())}", "--workers", "1",
                      "--set", "database.application_name=t0400_emfile1"])
        try:
            (w,) = one.wait_workers(1, 10 * SLOW) or (None,)
            a1 = (LOCAL, p1)
            ok(wait_for(lambda: _healthz(a1), 10 * SLOW), "EMFILE(worker): serving")
            query(a1, "SELECT 1")
            # the worker is idle again once its descriptors stop changing
            fds, prev = None, set()
            while fds != prev:
                prev = fds
                time.sleep(0.3)
                fds = {int(x) for x in os.listdir(f"/proc/{w}/fd")}
            lowest = next(i for i in range(100000) if i not in fds)
            orig = resource.prlimit(w, resource.RLIMIT_NOFILE)
            resource.prlimit(w, resource.RLIMIT_NOFILE, (lowest, orig[1]))
            mark = len(one.log())
            pending = BackgroundCall(a1, "SELECT 'after EMFILE' AS x", timeout=20)
            ok(one.wait_log("accept", 3 * SLOW, mark),
               "EMFILE(worker): accept fails and the worker logs it", one.log()[mark:])
            c0 = cpu_seconds(w)
            time.sleep(2)
            spent = cpu_seconds(w) - c0
            ok(spent < 0.5, "EMFILE(worker): the worker backs off instead of spinning",
               f"{spent:.2f} s of CPU in 2 s")
            resource.prlimit(w, resource.RLIMIT_NOFILE, orig)
            pending.join(10 * SLOW)
            ok(pending.succeeded(), "EMFILE(worker): the waiting client is served once "
               "descriptors are available again", pending.outcome())
        finally:
            one.stop()
    finally:
        d.stop()


# ------------------------------------------------------------------------------------------
def section(name, fn, *args):
    t0 = time.time()
    try:
        fn(*args)
    except Exception as e:  # noqa: BLE001 - a crashed section is one failure, the rest run
        import traceback
        ok(False, f"{name}: ran to the end", traceback.format_exc())
    diag(f"{name}: {time.time() - t0:.1f} s")


section("startup", t_startup)
section("SIGKILL", t_crash, signal.SIGKILL, "SIGKILL")
section("SIGSEGV", t_crash, signal.SIGSEGV, "SIGSEGV")
section("crash loop", t_crash_loop)
section("reload", t_reload)
section("SIGTERM", t_sigterm_drain)
section("shutdown_timeout", t_shutdown_timeout)
section("SIGINT", t_fast_stop, signal.SIGINT, "SIGINT", 3.0 * SLOW)
section("SIGQUIT", t_fast_stop, signal.SIGQUIT, "SIGQUIT", 1.0 * SLOW)
section("master SIGKILL", t_master_killed)
section("USR1", t_reopen_log)
section("recycle", t_recycle)
section("bad DSN", t_bad_dsn)
section("--single", t_single)
section("unix", t_unix)
section("ipv6", t_ipv6)
section("port in use", t_port_in_use)
section("check-config", t_check_config)
section("EMFILE", t_emfile)
done()
