# t/lib/interop.py: running the node clients in t/interop (the official MCP SDK): installing the
# pinned packages, and folding a client's TAP into the calling test file's stream.
import os
import re
import subprocess

from tap import ok, diag
from pgmcp_test import ROOT


def install_sdk():
    """scripts/npm-install-interop, as a test: an unreachable registry is a failure, not a
    skip. Returns whether the packages are there."""
    p = subprocess.run([os.path.join(ROOT, "scripts", "npm-install-interop")],
                       capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=600)
    return ok(p.returncode == 0, "scripts/npm-install-interop installs the SDK",
              (p.stdout + p.stderr)[-3000:])


def run_client(script, env, timeout):
    """Runs t/interop/SCRIPT with node and re-numbers its TAP into this file's stream (each
    test prefixed "sdk: ", its diagnostics after it); then one test that it ran to the end."""
    try:
        p = subprocess.run(["node", os.path.join(ROOT, "t", "interop", script)],
                           capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL,
                           timeout=timeout, cwd=ROOT)
        out, err, rc = p.stdout, p.stderr, p.returncode
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode("utf-8", "replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
        err = e.stderr.decode("utf-8", "replace") if isinstance(e.stderr, bytes) else (e.stderr or "")
        rc = f"timed out after {timeout}s"
    ran, planned = 0, None
    for line in out.splitlines():
        m = re.match(r"^(not ok|ok) \d+ - (.*)$", line)
        if m:
            ran += 1
            ok(m.group(1) == "ok", "sdk: " + m.group(2))
        elif line.startswith("#"):
            print(line, flush=True)
        elif re.match(r"^1\.\.\d+$", line):
            planned = int(line[3:])
        elif line.startswith("Bail out!"):
            diag(line)
        elif line.strip():
            diag("stdout: " + line)
    return ok(rc == 0 and planned == ran and ran > 0, f"{script} ran to the end and exited 0",
              f"exit: {rc}, planned {planned}, ran {ran}\nstderr:\n{err[-3000:]}")
