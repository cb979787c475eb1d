"""tap.py: a small TAP producer for pgmcp's test files (ok, is_, like, skip, done)."""
import json
import sys
import traceback

_count = 0
_failed = 0
_planned = None


def plan(n):
    global _planned
    _planned = n
    print(f"1..{n}", flush=True)


def diag(msg):
    for line in str(msg).splitlines() or [""]:
        print(f"# {line}", flush=True)


def ok(cond, name="", detail=None):
    """Records one test; on failure prints detail (anything repr-able) as diagnostics."""
    global _count, _failed
    _count += 1
    status = "ok" if cond else "not ok"
    print(f"{status} {_count} - {name}", flush=True)
    if not cond:
        _failed += 1
        caller = traceback.extract_stack(limit=3)[0]
        diag(f"  failed at {caller.filename}:{caller.lineno}")
        if detail is not None:
            text = detail if isinstance(detail, str) else json.dumps(detail, default=str)[:3000]
            diag(f"  {text}")
    return bool(cond)


def is_(got, expected, name=""):
    return ok(got == expected, name, f"got: {got!r}\n  expected: {expected!r}")


def like(text, needle, name=""):
    text = "" if text is None else str(text)
    return ok(needle in text, name, f"{needle!r} not in {text[:2000]!r}")


def unlike(text, needle, name=""):
    text = "" if text is None else str(text)
    return ok(needle not in text, name, f"{needle!r} found in {text[:2000]!r}")


def skip(name, why):
    global _count
    _count += 1
    print(f"ok {_count} - {name} # SKIP {why}", flush=True)


def bail(why):
    print(f"Bail out! {why}", flush=True)
    sys.exit(255)


def done():
    """Prints the plan if none was given and exits non-zero when anything failed."""
    if _planned is None:
        print(f"1..{_count}", flush=True)
    elif _planned != _count:
        diag(f"planned {_planned} tests but ran {_count}")
        sys.exit(1)
    sys.exit(1 if _failed else 0)
