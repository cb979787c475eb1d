#!/usr/bin/env python3
# t/0900-bench-smoke.t: `bench/run --smoke` (pgmcp only, no peers, scale 1) runs to the end and
# writes its figures, so the benchmark harness cannot rot. Figures are printed, never judged.
# no-sanitizer: timings of a sanitized build mean nothing, and the harness is the subject here.
import json
import os
import subprocess
import sys
import tempfile

from tap import ok, diag, done
from pgmcp_test import BIN, ROOT

out = os.path.join(tempfile.mkdtemp(prefix="pgmcp-bench-"), "smoke.json")
p = subprocess.run([sys.executable, os.path.join(ROOT, "bench", "run"), "--smoke", "--bin", BIN,
                    "--out", out], capture_output=True, text=True, timeout=300)
ok(p.returncode == 0, "bench/run --smoke exits 0", (p.stdout + p.stderr)[-3000:])
for line in p.stdout.splitlines()[-40:]:
    diag(line)
try:
    with open(out) as f:
        res = json.load(f)
except (OSError, ValueError) as e:
    res = None
    diag(f"no results: {e}")
ok(isinstance(res, dict) and res, "it writes a JSON results file", out)
text = json.dumps(res) if res else ""
ok("machine" in text or "host" in text, "the results name the machine", text[:300])
done()
