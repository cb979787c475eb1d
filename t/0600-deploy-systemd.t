#!/usr/bin/env python3
# t/0600-deploy-systemd.t: the units in systemd/, as `make install` lays them out.
#  - `make install DESTDIR=root PREFIX=/usr` into a temporary root (binary, man page, units),
#    plus the host's system units, so `systemd-analyze verify --root` resolves everything
#    (ExecStart/ExecReload binaries, Documentation=man:pgmcp(1), sysinit.target) without
#    touching /usr/bin or /lib/systemd on this machine. A unit with a deliberate mistake must
#    fail verify, so a verify that checks nothing cannot pass.
#  - `systemd-analyze security --offline=true --root`: the exposure score is recorded (diag)
#    and must stay at or below 2.0 ("OK").
#  - Real activation with systemd-socket-activate, driven by the units' own settings:
#    pgmcp.socket's ListenStream (port replaced by a free one) + pgmcp.service's ExecStart
#    (Accept=no: LISTEN_FDS, NOTIFY_SOCKET READY=1, ExecReload = check-config + HUP, SIGTERM
#    exit 0), and pgmcp-inetd.socket + pgmcp-inetd@.service (Accept=yes with
#    StandardInput=socket = --accept --inetd: one pgmcp --stdio per connection), with the
#    configuration `make install` puts in /etc/pgmcp (conf/pgmcp.yaml, listen: []) and the DSN
#    in the environment as EnvironmentFile= would give it. Framed JSON-RPC and HTTP calls.
# no-sanitizer: the sanitized binary's socket activation is covered by t/0410.
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import time

from tap import ok, is_, like, skip, diag, done
from pgmcp_test import BIN, DSN, ROOT, wait_for
from proc_test import (SLOW, Daemon, free_port, query, tool_ok, structured, http_get,
                       framed_session, rpc, children, track)

SA = shutil.which("systemd-analyze")
SSA = shutil.which("systemd-socket-activate")
UNITS = ["pgmcp.service", "pgmcp.socket", "pgmcp-inetd.socket", "pgmcp-inetd@.service"]
LOCAL = "127.0.0.1"


def unit_settings(path):
    """{(section, key): [values]} of a unit file (comments and blank lines skipped)."""
    out, section = {}, None
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line[0] in "#;":
                continue
            if line.startswith("["):
                section = line.strip("[]")
                continue
            k, _, v = line.partition("=")
            out.setdefault((section, k.strip()), []).append(v.strip())
    return out


def one(settings, section, key):
    v = settings.get((section, key))
    return v[-1] if v else None


def duration_s(text):
    m = re.fullmatch(r"(\d+)\s*(ms|s|sec|min|m|h)?", text or "")
    if not m:
        return None
    return int(m.group(1)) * {"ms": 0.001, "s": 1, "sec": 1, "min": 60, "m": 60, "h": 3600,
                              None: 1}[m.group(2)]


tmp = tempfile.mkdtemp(prefix="pgmcp-t0600-")
root = os.path.join(tmp, "root")
try:
    # ------------------------------------------------------------------ make install
    p = subprocess.run(["make", "-s", "--no-print-directory", "install", f"DESTDIR={root}",
                        "PREFIX=/usr"], cwd=ROOT, capture_output=True, text=True,
                       stdin=subprocess.DEVNULL, timeout=300)
    ok(p.returncode == 0, "make install DESTDIR=... PREFIX=/usr", p.stdout + p.stderr)
    unitdir = os.path.join(root, "lib/systemd/system")
    for u in UNITS:
        ok(os.path.isfile(os.path.join(unitdir, u)), f"make install puts {u} in "
           "/lib/systemd/system")
    ok(os.access(os.path.join(root, "usr/bin/pgmcp"), os.X_OK) and
       os.path.isfile(os.path.join(root, "etc/pgmcp/pgmcp.yaml")) and
       os.path.isfile(os.path.join(root, "usr/share/man/man1/pgmcp.1")),
       "and the binary, /etc/pgmcp/pgmcp.yaml and the man page")
    p2 = subprocess.run(["make", "-s", "--no-print-directory", "install",
                         f"DESTDIR={tmp}/local"], cwd=ROOT, capture_output=True, text=True,
                        stdin=subprocess.DEVNULL, timeout=300)
    local = os.path.join(tmp, "local/usr/local/lib/systemd/system/pgmcp.service")
    ok(p2.returncode == 0 and os.path.isfile(local) and
       "ExecStart=/usr/local/bin/pgmcp -c /usr/local/etc/pgmcp/pgmcp.yaml" in open(local).read(),
       "PREFIX=/usr/local: units in /usr/local/lib/systemd/system, naming /usr/local paths",
       p2.stderr)

    svc = unit_settings(os.path.join(ROOT, "systemd/pgmcp.service"))
    sock = unit_settings(os.path.join(ROOT, "systemd/pgmcp.socket"))
    isock = unit_settings(os.path.join(ROOT, "systemd/pgmcp-inetd.socket"))
    isvc = unit_settings(os.path.join(ROOT, "systemd/pgmcp-inetd@.service"))
    is_(one(svc, "Service", "Type"), "notify", "pgmcp.service: Type=notify")
    is_(one(svc, "Service", "KillMode"), "mixed", "pgmcp.service: KillMode=mixed")
    reload = svc.get(("Service", "ExecReload"), [])
    ok(len(reload) == 2 and "--check-config" in reload[0] and "-HUP $MAINPID" in reload[1],
       "pgmcp.service: ExecReload checks the file, then sends HUP", reload)
    stop = duration_s(one(svc, "Service", "TimeoutStopSec"))
    ok(stop is not None and 10 < stop <= 30, f"TimeoutStopSec ({stop} s) is above the default "
       "shutdown_timeout (10 s)")
    for key, want in [("NoNewPrivileges", "yes"), ("ProtectSystem", "strict"),
                      ("ProtectHome", "yes"), ("PrivateTmp", "yes"), ("CapabilityBoundingSet", ""),
                      ("MemoryDenyWriteExecute", "yes"), ("SystemCallArchitectures", "native"),
                      ("RestrictAddressFamilies", "AF_UNIX AF_INET AF_INET6")]:
        for name, s in (("pgmcp.service", svc), ("pgmcp-inetd@.service", isvc)):
            if one(s, "Service", key) != want:
                ok(False, f"{name}: {key}={want}", one(s, "Service", key))
    ok("@system-service" in svc.get(("Service", "SystemCallFilter"), []) and
       one(svc, "Service", "LimitNOFILE") == "65536" and one(svc, "Service", "User") == "pgmcp",
       "pgmcp.service: SystemCallFilter=@system-service, LimitNOFILE=65536, User=pgmcp")
    is_(one(sock, "Socket", "Accept"), "no", "pgmcp.socket: Accept=no (LISTEN_FDS)")
    is_(one(isock, "Socket", "Accept"), "yes", "pgmcp-inetd.socket: Accept=yes")
    ok(one(isvc, "Service", "StandardInput") == "socket" and
       one(isvc, "Service", "StandardOutput") == "socket" and
       "--stdio" in one(isvc, "Service", "ExecStart"),
       "pgmcp-inetd@.service: pgmcp --stdio with the connection as stdin and stdout")

    # ------------------------------------------------------------------ systemd-analyze
    if SA is None:
        skip("systemd-analyze verify and security", "systemd-analyze is not installed")
    else:
        os.makedirs(os.path.join(root, "usr/lib/systemd"), exist_ok=True)
        shutil.copytree("/usr/lib/systemd/system", os.path.join(root, "usr/lib/systemd/system"),
                        symlinks=True, dirs_exist_ok=True)
        os.makedirs(os.path.join(root, "bin"), exist_ok=True)
        shutil.copy2(shutil.which("kill") or "/bin/kill", os.path.join(root, "bin/kill"))
        env = dict(os.environ, MANPATH=os.path.join(root, "usr/share/man"), SYSTEMD_PAGER="",
                   SYSTEMD_LOG_COLOR="0")
        for u in UNITS:
            p = subprocess.run([SA, "verify", f"--root={root}", os.path.join(unitdir, u)],
                               capture_output=True, text=True, env=env, timeout=60,
                               stdin=subprocess.DEVNULL)
            ok(p.returncode == 0 and not p.stdout.strip() and not p.stderr.strip(),
               f"systemd-analyze verify {u}: clean", p.stdout + p.stderr)
        bad = os.path.join(unitdir, "pgmcp-broken.service")
        with open(bad, "w") as f:
            f.write(open(os.path.join(unitdir, "pgmcp.service")).read()
                    .replace("ExecStart=/usr/bin/pgmcp", "ExecStart=/usr/bin/pgmcp-missing")
                    .replace("KillMode=mixed", "KillMode=mixd"))
        p = subprocess.run([SA, "verify", f"--root={root}", bad], capture_output=True, text=True,
                           env=env, timeout=60, stdin=subprocess.DEVNULL)
        ok(p.returncode != 0 and "pgmcp-missing" in p.stderr + p.stdout,
           "systemd-analyze verify catches a broken copy (missing binary, bad KillMode)",
           p.stdout + p.stderr)
        os.unlink(bad)
        for u in ("pgmcp.service", "pgmcp-inetd@.service"):
            name = u.replace("@.", "@x.")
            p = subprocess.run([SA, "security", "--offline=true", f"--root={root}",
                                "--no-pager", name], capture_output=True, text=True, env=env,
                               timeout=60, stdin=subprocess.DEVNULL)
            m = re.search(r"Overall exposure level for \S+: ([0-9.]+) (\w+)", p.stdout)
            score = float(m.group(1)) if m else None
            diag(f"systemd-analyze security {name}: exposure {score} "
                 f"{m.group(2) if m else '?'} (0 = fully locked down, 10 = fully exposed)")
            weak = [ln.split()[1] for ln in p.stdout.splitlines() if ln.startswith("✗")]
            diag(f"  not restricted: {', '.join(weak)}")
            ok(score is not None and score <= 2.0, f"{name}: exposure level {score} <= 2.0",
               p.stdout[-3000:] + p.stderr)

    # ------------------------------------------------------------------ activation
    if SSA is None:
        skip("socket activation through the units", "systemd-socket-activate is not installed")
    else:
        cfg = os.path.join(root, "etc/pgmcp/pgmcp.yaml")   # what make install ships
        subst = {"/usr/bin/pgmcp": BIN, "/etc/pgmcp/pgmcp.yaml": cfg}

        def command(exec_line):
            argv = shlex.split(exec_line)
            return [subst.get(a, a) for a in argv]

        # Accept=no: pgmcp.socket + pgmcp.service
        listen = one(sock, "Socket", "ListenStream")
        host = listen.rsplit(":", 1)[0]
        port = free_port(host)
        addr = (host, port)
        notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        npath = os.path.join(tmp, "notify.sock")
        notify.bind(npath)
        notify.settimeout(0.2)
        start = command(one(svc, "Service", "ExecStart"))
        d = Daemon(start, dsn="", program=None,
                   env={"DATABASE_URL": DSN, "NOTIFY_SOCKET": npath},
                   prefix=[SSA, "-l", f"{host}:{port}", "-E", "DATABASE_URL",
                           "-E", "NOTIFY_SOCKET", "--"])
        try:
            ok(d.wait_log(f"Listening on {host}:{port}", 10), f"pgmcp.socket: listening on "
               f"{host}:<port> as ListenStream={listen}")

            def ready():
                try:
                    return http_get(addr, "/readyz", timeout=3)[0] == 200
                except OSError:
                    return False
            ok(wait_for(ready, 15 * SLOW), "pgmcp.service activated by the first connection: "
               "/readyz 200", d.log()[-1500:])
            got = []
            end = time.time() + 5
            while time.time() < end and "READY=1" not in got:
                try:
                    got += notify.recv(4096).decode().splitlines()
                except socket.timeout:
                    pass
            ok("READY=1" in got, "Type=notify: READY=1 on NOTIFY_SOCKET", got)
            like(d.log(), "listening on systemd fd 3", "the master adopted LISTEN_FDS")
            st, r = query(addr, "SELECT count(*) AS n FROM sales.customers")
            ok(tool_ok(st, r) and structured(r)["rows"] == [{"n": 50}],
               "Streamable HTTP tools/call through the activated socket", r)
            replies = framed_session(addr, [rpc("tools/call", {"name": "query", "arguments": {
                "sql": "SELECT 'framed' AS via"}}, "f1")])
            ok(replies and structured(replies[0]) and
               structured(replies[0])["rows"] == [{"via": "framed"}],
               "framed JSON-RPC tools/call on the same socket", replies)
            # ExecReload, as systemctl reload runs it
            check = command(reload[0])
            p = subprocess.run(check, capture_output=True, text=True, timeout=30,
                               stdin=subprocess.DEVNULL)
            ok(p.returncode == 0 and "configuration OK" in p.stdout,
               f"ExecReload step 1: {' '.join(shlex.quote(a) for a in check[1:])}", p.stderr)
            workers = set(d.workers())
            subprocess.run(["kill", "-HUP", str(d.pid)], check=True)   # $MAINPID
            ok(wait_for(lambda: set(d.workers()).isdisjoint(workers) and len(d.workers()) >= 1,
                        15 * SLOW), "ExecReload step 2: HUP starts a new generation of workers")
            st, r = query(addr, "SELECT 1 AS one")
            ok(tool_ok(st, r), "and it serves after the reload", r)
            t0 = time.time()
            rc = d.stop()
            is_(rc, 0, f"SIGTERM (KillMode=mixed: the master only): exit status 0 in "
                f"{time.time() - t0:.1f} s")
        finally:
            d.stop()
            notify.close()

        # Accept=yes: pgmcp-inetd.socket + pgmcp-inetd@.service
        ilisten = one(isock, "Socket", "ListenStream")
        ihost = ilisten.rsplit(":", 1)[0]
        iport = free_port(ihost)
        iaddr = (ihost, iport)
        istart = command(one(isvc, "Service", "ExecStart"))
        d = Daemon(istart, dsn="", program=None, env={"DATABASE_URL": DSN},
                   prefix=[SSA, "--accept", "--inetd", "-l", f"{ihost}:{iport}",
                           "-E", "DATABASE_URL", "--"])
        try:
            ok(d.wait_log(f"Listening on {ihost}:{iport}", 10), "pgmcp-inetd.socket: listening")
            replies = framed_session(iaddr, [
                rpc("initialize", {"protocolVersion": "2025-11-25", "capabilities": {},
                                   "clientInfo": {"name": "t0600", "version": "1"}}, 1,
                    modern=False),
                {"jsonrpc": "2.0", "method": "notifications/initialized"},
                rpc("tools/call", {"name": "query", "arguments": {
                    "sql": "SELECT 'inetd' AS mode"}}, 2, modern=False)])
            ok(len(replies) == 2 and structured(replies[1]) and
               structured(replies[1])["rows"] == [{"mode": "inetd"}],
               "one pgmcp --stdio per connection: framed JSON-RPC session", replies)
            st, r = query(iaddr, "SELECT 'http' AS mode")
            ok(tool_ok(st, r) and structured(r)["rows"] == [{"mode": "http"}],
               "one pgmcp --stdio per connection: Streamable HTTP tools/call", r)
            ok(wait_for(lambda: not children(d.pid), 5 * SLOW),
               "each per-connection pgmcp exits when its connection closes", children(d.pid))
            ok("died with code 0" in d.log() and "died with code 1" not in d.log(),
               "with status 0", d.log()[-1500:])
        finally:
            for c in children(d.pid):
                track(c)
            d.stop()
finally:
    shutil.rmtree(tmp, ignore_errors=True)
done()
