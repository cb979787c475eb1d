#!/usr/bin/env python3
# t/0700-fuzz.t: the libFuzzer targets in t/fuzz/ (every parser that reads outside bytes:
# framing, JSON-RPC and dispatch, HTTP heads and chunked bodies, session ids, the YAML
# configuration, the SQL guard, the declared-tool binder, pgjson) build with
# -fsanitize=fuzzer,address,undefined (fuzz.mk, into build/fuzz), replay their seed corpus
# t/fuzz/corpus/<target>/ and run a fixed number of mutations without a crash, leak or UB.
# Skips when clang or its libFuzzer runtime is missing (scripts/deps.sh installs both).
# Longer runs: `make fuzz` (FUZZ_SECONDS per target).
# no-sanitizer (the targets carry their own ASan+UBSan; they need no pgmcp binary)
import glob
import os
import shutil
import subprocess
import tempfile
import time

from tap import ok, skip, diag, done

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
CC = os.environ.get("FUZZ_CC", "clang")
RUNS = int(os.environ.get("PGMCP_FUZZ_RUNS", "5000"))
JOBS = 2
BUILD = "build/fuzz"

targets = sorted(os.path.basename(f)[len("fuzz_"):-2]
                 for f in glob.glob(os.path.join(ROOT, "t", "fuzz", "fuzz_*.c")))


def have_libfuzzer(tmp):
    """True if CC links a trivial target with libFuzzer, ASan and UBSan."""
    if shutil.which(CC) is None:
        return False, f"{CC} is not installed"
    src = os.path.join(tmp, "probe.c")
    with open(src, "w") as f:
        f.write("#include <stddef.h>\n#include <stdint.h>\n"
                "int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);\n"
                "int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)"
                " { (void)d; (void)n; return 0; }\n")
    p = subprocess.run([CC, "-fsanitize=fuzzer,address,undefined", "-o",
                        os.path.join(tmp, "probe"), src],
                       capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if p.returncode != 0:
        return False, f"{CC} has no libFuzzer runtime (libclang-rt-14-dev): " + \
            (p.stderr.strip().splitlines() or ["?"])[-1]
    return True, ""


def fuzz_env():
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("ASAN_", "UBSAN_", "LSAN_", "PG", "DATABASE_URL"))}
    env["ASAN_OPTIONS"] = "detect_leaks=1:abort_on_error=0:allocator_may_return_null=1"
    env["UBSAN_OPTIONS"] = "print_stacktrace=1:halt_on_error=1"
    return env


tmp = tempfile.mkdtemp(prefix="pgmcp-fuzz-")
try:
    usable, why = have_libfuzzer(tmp)
    if not usable:
        skip("libFuzzer targets", why)
        done()

    start = time.time()
    p = subprocess.run(["make", "--no-print-directory", "-f", "fuzz.mk", f"-j{JOBS}",
                        f"FUZZ_CC={CC}", f"FUZZ_BUILD={BUILD}", "fuzz-build"],
                       cwd=ROOT, capture_output=True, text=True, stdin=subprocess.DEVNULL,
                       timeout=600)
    if not ok(p.returncode == 0, f"make -f fuzz.mk fuzz-build ({len(targets)} targets, "
              f"{time.time() - start:.0f}s)", (p.stdout + p.stderr)[-3000:]):
        done()

    # Each target: replay the seeds, then RUNS executions in all; two at a time.
    env = fuzz_env()
    pending = list(targets)
    running = []
    results = {}
    while pending or running:
        while pending and len(running) < JOBS:
            t = pending.pop(0)
            work = os.path.join(tmp, "corpus", t)
            os.makedirs(work)
            cmd = [os.path.join(ROOT, BUILD, f"fuzz_{t}"), f"-runs={RUNS}", "-seed=1",
                   "-timeout=20", "-rss_limit_mb=2048", "-max_len=4096",
                   f"-artifact_prefix={tmp}/{t}-", work,
                   os.path.join(ROOT, "t", "fuzz", "corpus", t)]
            d = os.path.join(ROOT, "t", "fuzz", f"{t}.dict")
            if os.path.exists(d):
                cmd.insert(1, f"-dict={d}")
            log = open(os.path.join(tmp, f"{t}.log"), "w+")
            running.append((t, subprocess.Popen(cmd, cwd=tmp, stdout=log, stderr=log,
                                                stdin=subprocess.DEVNULL, env=env),
                            log, time.time()))
        time.sleep(0.05)
        for entry in list(running):
            t, proc, log, began = entry
            if proc.poll() is None:
                if time.time() - began < 300:
                    continue
                proc.kill()
                proc.wait()
            running.remove(entry)
            log.seek(0)
            results[t] = (proc.returncode, log.read(), time.time() - began)
            log.close()

    for t in targets:
        rc, out, secs = results[t]
        seeds = len(os.listdir(os.path.join(ROOT, "t", "fuzz", "corpus", t))) \
            if os.path.isdir(os.path.join(ROOT, "t", "fuzz", "corpus", t)) else 0
        ran = [line for line in out.splitlines() if line.startswith("Done ")]
        crashes = glob.glob(os.path.join(tmp, f"{t}-*"))
        detail = out[-4000:]
        if crashes:
            detail += "\ncrash inputs (hex):\n" + "\n".join(
                f"{os.path.basename(c)}: {open(c, 'rb').read()[:512].hex()}" for c in crashes)
        ok(rc == 0 and ran and not crashes,
           f"fuzz_{t}: {seeds} seeds replayed, {ran[0][5:] if ran else 'no runs'} "
           f"({secs:.1f}s), no crash", detail)
        if seeds == 0:
            diag(f"t/fuzz/corpus/{t}/ has no seeds")
finally:
    shutil.rmtree(tmp, ignore_errors=True)
done()
