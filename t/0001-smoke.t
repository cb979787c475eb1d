#!/usr/bin/env python3
# t/0001-smoke.t: pgmcp starts, answers initialize and one query, and exits cleanly on EOF.
from tap import ok, is_, like, done
from pgmcp_test import Server, structured, result_of

with Server() as s:
    r = s.initialize()
    is_(result_of(r)["protocolVersion"], "2025-11-25", "initialize negotiates 2025-11-25")
    r = s.call("query", {"sql": "SELECT 1 AS one"})
    is_(structured(r)["rows"], [{"one": 1}], "query returns a row")
    rc = s.close()
    is_(rc, 0, "exit status 0 at end of input")
done()
