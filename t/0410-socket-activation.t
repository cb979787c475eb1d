#!/usr/bin/env python3
# t/0410-socket-activation.t: systemd integration without systemd: socket activation through
# systemd-socket-activate (Accept=no: LISTEN_FDS adopted for TCP and Unix sockets, taking
# precedence over listen: with a warning; --inetd: one `pgmcp --stdio` per connection serving
# framed JSON-RPC or one HTTP connection; --accept with a unit-like wrapper that makes the
# connection stdin/stdout), and NOTIFY_SOCKET: READY=1 at start, RELOADING=1 then READY=1 on
# SIGHUP, STOPPING=1 on SIGTERM.
import json
import os
import shutil
import signal
import socket
import time

from tap import ok, is_, like, skip, diag, done
from pgmcp_test import BIN, DSN, wait_for
from proc_test import (SLOW, Daemon, free_port, query, tool_ok, structured, http_get,
                       framed_session, rpc, children, tmpdir, connect, track)

LOCAL = "127.0.0.1"
SSA = shutil.which("systemd-socket-activate")


def init_messages(req_id=1):
    return [rpc("initialize", {"protocolVersion": "2025-11-25", "capabilities": {},
                               "clientInfo": {"name": "t0410", "version": "1"}}, req_id,
                modern=False),
            {"jsonrpc": "2.0", "method": "notifications/initialized"}]


def framed_query(addr, sql, req_id=2):
    replies = framed_session(addr, init_messages() + [
        rpc("tools/call", {"name": "query", "arguments": {"sql": sql}}, req_id, modern=False)])
    return replies


def rows_of(reply):
    return reply.get("result", {}).get("structuredContent", {}).get("rows")


def healthz(addr):
    try:
        return http_get(addr, "/healthz", timeout=3)[0] == 200
    except OSError:
        return False


def section(name, fn, *args):
    t0 = time.time()
    try:
        fn(*args)
    except Exception:  # noqa: BLE001 - a crashed section is one failure, the rest run
        import traceback
        ok(False, f"{name}: ran to the end", traceback.format_exc())
    diag(f"{name}: {time.time() - t0:.1f} s")


# ------------------------------------------------------------------------------------------
# Accept=no: the sockets come in LISTEN_FDS; pgmcp is the daemon (master + workers).
def t_listen_fds():
    port, ignored = free_port(), free_port()
    addr = (LOCAL, port)
    config = f"listen: [\"{LOCAL}:{ignored}\"]\nworkers: 2\n"
    d = Daemon(["--workers", "2"], config=config, prefix=[SSA, "-l", f"{LOCAL}:{port}", "--"])
    try:
        ok(d.wait_log(f"Listening on {LOCAL}:{port}", 10), "LISTEN_FDS: systemd-socket-activate "
           "listens", d.log())
        # The first connection makes systemd-socket-activate exec pgmcp on the same pid.
        ok(wait_for(lambda: healthz(addr), 15 * SLOW), "LISTEN_FDS: /healthz through the "
           "adopted socket", d.log()[-1500:])
        ok(os.readlink(f"/proc/{d.pid}/exe") == os.path.realpath(BIN),
           "LISTEN_FDS: pgmcp runs as the activated process (LISTEN_PID matches)")
        like(d.log(), "listening on systemd fd 3 (ipv4)", "LISTEN_FDS: pgmcp logs the adopted "
             "socket")
        like(d.log(), "listen: is ignored", "LISTEN_FDS: listen: in the file is ignored with "
             "a warning")
        is_(len(d.wait_workers(2, 10 * SLOW)), 2, "LISTEN_FDS: 2 workers")
        st, r = query(addr, "SELECT 'activated' AS how")
        ok(tool_ok(st, r) and structured(r)["rows"] == [{"how": "activated"}],
           "LISTEN_FDS: Streamable HTTP tools/call", r)
        replies = framed_query(addr, "SELECT 3 AS three")
        ok(len(replies) == 2 and rows_of(replies[1]) == [{"three": 3}],
           "LISTEN_FDS: framed JSON-RPC session", replies)
        try:
            s = socket.create_connection((LOCAL, ignored), timeout=2)
            s.close()
            refused = False
        except OSError:
            refused = True
        ok(refused, "LISTEN_FDS: the file's listen address is not bound")
        is_(d.stop(), 0, "LISTEN_FDS: SIGTERM, exit status 0")
    finally:
        d.stop()


def t_listen_fds_unix_and_two():
    path = os.path.join(tmpdir(), "act.sock")
    port = free_port()
    d = Daemon(["--workers", "1"], prefix=[SSA, "-l", path, "-l", f"{LOCAL}:{port}", "--"])
    try:
        ok(d.wait_log("Listening on", 10) and wait_for(lambda: os.path.exists(path), 10),
           "two sockets: systemd-socket-activate listens")
        ok(wait_for(lambda: healthz(path), 15 * SLOW), "two sockets: /healthz on the Unix "
           "socket", d.log()[-1500:])
        ok(healthz((LOCAL, port)), "two sockets: /healthz on the TCP socket")
        like(d.log(), "systemd fd 3 (unix)", "two sockets: fd 3 is the Unix socket")
        like(d.log(), "systemd fd 4 (ipv4)", "two sockets: fd 4 is the TCP socket")
        replies = framed_query(path, "SELECT 'unix' AS via")
        ok(len(replies) == 2 and rows_of(replies[1]) == [{"via": "unix"}],
           "two sockets: framed JSON-RPC on the activated Unix socket", replies)
        is_(d.stop(), 0, "two sockets: exit status 0")
        ok(os.path.exists(path), "two sockets: pgmcp leaves systemd's socket file alone")
    finally:
        d.stop()


# ------------------------------------------------------------------------------------------
# inetd style: one `pgmcp --stdio` per connection, the connection on stdin and stdout.
def t_inetd():
    port = free_port()
    addr = (LOCAL, port)
    d = Daemon(["--stdio"], prefix=[SSA, "--accept", "--inetd", "-l", f"{LOCAL}:{port}", "--"])
    try:
        ok(d.wait_log(f"Listening on {LOCAL}:{port}", 10), "inetd: listening")
        replies = framed_query(addr, "SELECT 'inetd' AS mode")
        ok(len(replies) == 2 and replies[0].get("result", {}).get("protocolVersion") ==
           "2025-11-25" and rows_of(replies[1]) == [{"mode": "inetd"}],
           "inetd: a framed JSON-RPC session on the connection", replies)
        st, r = query(addr, "SELECT 'http' AS mode")
        ok(tool_ok(st, r) and structured(r)["rows"] == [{"mode": "http"}],
           "inetd: one HTTP connection (Streamable HTTP tools/call)", r)
        ok(healthz(addr), "inetd: GET /healthz")
        # two connections at once: two processes
        a, b = connect(addr), connect(addr)
        try:
            ok(wait_for(lambda: len(children(d.pid)) == 2, 5 * SLOW),
               "inetd: two connections, two pgmcp processes", children(d.pid))
            for p in children(d.pid):
                track(p)
            kids = children(d.pid)
            ok(all(os.readlink(f"/proc/{p}/exe") == os.path.realpath(BIN) for p in kids),
               "inetd: each is pgmcp")
            a.sendall((json.dumps(init_messages()[0]) + "\n").encode())
            line = a.makefile("rb").readline()
            ok(line.startswith(b'{"jsonrpc"'), "inetd: the first process answers its own "
               "connection, with nothing but protocol on it", line[:200])
        finally:
            a.close()
            b.close()
        ok(wait_for(lambda: not children(d.pid), 5 * SLOW),
           "inetd: each process exits when its connection closes", children(d.pid))
        ok("Child" in d.log() and "died with code 0" in d.log(),
           "inetd: the per-connection processes exit with status 0", d.log()[-1500:])
    finally:
        d.stop()


# `systemd-socket-activate --inetd` without --accept hands over the listening socket itself
# as stdin/stdout (inetd "wait" style). pgmcp must not silently drop the client: it serves
# the connections or says clearly why it cannot and fails.
def t_inetd_listening_stdin():
    port = free_port()
    addr = (LOCAL, port)
    d = Daemon(["--stdio"], prefix=[SSA, "--inetd", "-l", f"{LOCAL}:{port}", "--"])
    try:
        ok(d.wait_log(f"Listening on {LOCAL}:{port}", 10), "inetd wait-style: listening")
        outcome = None
        try:
            replies = framed_session(addr, [rpc("ping", {}, 1, modern=False)], timeout=10)
            outcome = replies
        except (OSError, EOFError, ValueError) as e:
            outcome = f"{type(e).__name__}: {e}"
        rc = d.wait_exit(5 * SLOW)
        served = isinstance(outcome, list) and outcome and "result" in outcome[0]
        log = d.log().split("Execing", 1)[-1]
        ok(served or (rc not in (0, None) and "listen" in log.lower()),
           "inetd wait-style: a listening socket on stdin is served, or refused with a clear "
           "error and a non-zero status (not a silent exit 0)",
           f"client saw {outcome}; exit {rc}; log: {log[-600:]}")
    finally:
        d.stop()


# Accept=yes with StandardInput=socket, as a unit would run it: the wrapper puts the
# connection (fd 3) on stdin and stdout and drops the LISTEN_* variables, like systemd does.
def t_accept_wrapper():
    port = free_port()
    addr = (LOCAL, port)
    wrapper = os.path.join(tmpdir(), "pgmcp-inetd-unit")
    with open(wrapper, "w") as f:
        f.write("#!/bin/sh\n# what pgmcp-inetd@.service does: StandardInput=socket, "
                "StandardOutput=socket\nunset LISTEN_FDS LISTEN_PID LISTEN_FDNAMES\n"
                f"exec \"{BIN}\" --stdio \"$@\" <&3 >&3 3>&-\n")
    os.chmod(wrapper, 0o755)
    d = Daemon([wrapper], dsn=DSN, program=None,
               prefix=[SSA, "--accept", "-l", f"{LOCAL}:{port}", "--"])
    try:
        ok(d.wait_log(f"Listening on {LOCAL}:{port}", 10), "accept: listening")
        replies = framed_query(addr, "SELECT 'accept' AS mode")
        ok(len(replies) == 2 and rows_of(replies[1]) == [{"mode": "accept"}],
           "accept: framed JSON-RPC through the unit-like wrapper", replies)
        st, r = query(addr, "SELECT 'accept-http' AS mode")
        ok(tool_ok(st, r), "accept: one HTTP connection through the wrapper", r)
    finally:
        d.stop()

    # Accept=yes without StandardInput=socket: a connected socket in LISTEN_FDS is refused
    # clearly rather than served as a listener.
    port = free_port()
    d = Daemon(["--workers", "1"], prefix=[SSA, "--accept", "-l", f"{LOCAL}:{port}", "--"])
    try:
        d.wait_log(f"Listening on {LOCAL}:{port}", 10)
        s = connect((LOCAL, port))
        try:
            ok(d.wait_log("not a listening stream socket", 10 * SLOW),
               "accept: a connected socket in LISTEN_FDS is reported", d.log()[-1500:])
            ok(d.wait_log("died with code 1", 5 * SLOW),
               "accept: and pgmcp exits with status 1", d.log()[-800:])
        finally:
            s.close()
    finally:
        d.stop()


# ------------------------------------------------------------------------------------------
# NOTIFY_SOCKET: READY=1, RELOADING=1 then READY=1, STOPPING=1.
class Notify:
    def __init__(self, abstract=False):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        if abstract:
            name = f"pgmcp-t0410-{os.getpid()}-{time.time_ns()}"
            self.sock.bind("\0" + name)
            self.env = "@" + name
        else:
            self.env = os.path.join(tmpdir(), "notify.sock")
            self.sock.bind(self.env)
        self.sock.settimeout(0.1)
        self.got = []

    def wait(self, state, timeout):
        """Collects datagrams until one carries the line state; returns its arrival time."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                data = self.sock.recv(4096).decode()
            except socket.timeout:
                continue
            self.got.append(data)
            if state in data.splitlines():
                return time.time()
        return None

    def close(self):
        self.sock.close()


def t_notify(abstract):
    kind = "abstract" if abstract else "path"
    port = free_port()
    addr = (LOCAL, port)
    n = Notify(abstract)
    config = f"listen: [\"{LOCAL}:{port}\"]\nworkers: 2\nlimits:\n  max_rows: 100\n"
    d = Daemon([], config=config, env={"NOTIFY_SOCKET": n.env})
    try:
        t = n.wait("READY=1", 10 * SLOW)
        ok(t is not None, f"notify ({kind}): READY=1 after start", n.got)
        ok(healthz(addr), f"notify ({kind}): the daemon serves when READY=1 has arrived")
        if abstract:
            d.signal(signal.SIGTERM)
            ok(n.wait("STOPPING=1", 10 * SLOW) is not None, "notify (abstract): STOPPING=1")
            return
        n.got = []
        d.write_config(config.replace("100", "50"))
        d.signal(signal.SIGHUP)
        ok(n.wait("RELOADING=1", 5 * SLOW) is not None, "notify: RELOADING=1 on SIGHUP", n.got)
        ok(n.wait("READY=1", 5 * SLOW) is not None, "notify: then READY=1", n.got)
        diag(f"notify: reload messages {n.got}")
        n.got = []
        d.write_config("workers: many\n")
        d.signal(signal.SIGHUP)
        ok(n.wait("RELOADING=1", 5 * SLOW) is not None and
           n.wait("READY=1", 5 * SLOW) is not None,
           "notify: an invalid reload also ends with READY=1", n.got)
        ok(d.wait_log("keep serving", 5 * SLOW), "notify: the invalid file is reported")
        n.got = []
        d.signal(signal.SIGTERM)
        ok(n.wait("STOPPING=1", 5 * SLOW) is not None, "notify: STOPPING=1 on SIGTERM", n.got)
        is_(d.wait_exit(15 * SLOW), 0, "notify: exit status 0")
    finally:
        d.stop()
        n.close()


if SSA is None:
    skip("socket activation", "systemd-socket-activate is not installed")
else:
    section("LISTEN_FDS", t_listen_fds)
    section("LISTEN_FDS unix", t_listen_fds_unix_and_two)
    section("inetd", t_inetd)
    section("inetd wait-style", t_inetd_listening_stdin)
    section("accept", t_accept_wrapper)
section("NOTIFY_SOCKET", t_notify, False)
section("NOTIFY_SOCKET abstract", t_notify, True)
done()
