#!/usr/bin/env python3
# t/0105-sdk-fixtures.t: the official MCP TypeScript SDK client (@modelcontextprotocol/sdk,
# pinned in t/interop/package-lock.json) drives `pgmcp --stdio -c conf/examples/conformance.yaml`,
# the operator-declared fixtures the official conformance suite calls by name: every fixture
# listed, every fixture tool called and its content checked (text, image, audio, embedded
# resource, mixed content, an error), log notifications after logging/setLevel, progress
# notifications for a progressToken, the static and templated resources read, every prompt
# got, completion of a template variable and a prompt argument, and close. The npm packages are
# installed by scripts/npm-install-interop; an unreachable registry is a failure, not a skip.
import os
import re
import subprocess

from tap import ok, diag, done
from pgmcp_test import BIN, DSN, ROOT

SANITIZED = bool(os.environ.get("PGMCP_SANITIZED"))
TIMEOUT = 300 if SANITIZED else 120

p = subprocess.run([os.path.join(ROOT, "scripts", "npm-install-interop")], capture_output=True,
                   text=True, stdin=subprocess.DEVNULL, timeout=600)
if not ok(p.returncode == 0, "scripts/npm-install-interop installs the SDK",
          (p.stdout + p.stderr)[-3000:]):
    done()

# Per-request timeout inside the client: generous under the sanitizers.
env = dict(os.environ, PGMCP_BIN=BIN, PGMCP_TEST_DSN=DSN,
           PGMCP_TEST_TIMEOUT="90" if SANITIZED else "30")
try:
    p = subprocess.run(["node", os.path.join(ROOT, "t", "interop", "fixtures-client.mjs")],
                       capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL,
                       timeout=TIMEOUT, cwd=ROOT)
    out, err, rc = p.stdout, p.stderr, p.returncode
except subprocess.TimeoutExpired as e:
    out = e.stdout.decode("utf-8", "replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
    err = e.stderr.decode("utf-8", "replace") if isinstance(e.stderr, bytes) else (e.stderr or "")
    rc = f"timed out after {TIMEOUT}s"

# Re-number the client's TAP into this file's stream; its diagnostics follow their test.
ran = 0
planned = None
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

ok(rc == 0 and planned == ran and ran > 0,
   "fixtures-client.mjs ran to the end and exited 0",
   f"exit: {rc}, planned {planned}, ran {ran}\nstderr:\n{err[-3000:]}")
done()
