#!/usr/bin/env python3
# t/0070-reconnect.t: PostgreSQL going away and coming back. Calls fail cleanly with "database
# unavailable" while it is down, nothing hangs, and pgmcp reconnects by itself afterwards;
# a connection killed between calls is replaced transparently for read-only calls.
import time

from tap import ok, is_, like, done
from pgmcp_test import Cluster, Server, is_tool_error, psql, structured, text_of, wait_for


def query_ok(s, sql="SELECT 1 AS one"):
    r = s.call("query", {"sql": sql})
    return not is_tool_error(r), r


with Cluster(sample=False) as c:
    with Server("--set", "database.connect_timeout=2s", dsn=c.dsn) as s:
        s.initialize()
        good, r = query_ok(s)
        ok(good, "query works while PostgreSQL is up", r)

        # Killed between calls: the idle connection is dead; the next read-only call
        # reconnects and succeeds without the model seeing an error.
        pid = psql("SELECT pid FROM pg_stat_activity WHERE application_name = 'pgmcp'", dsn=c.dsn)
        psql(f"SELECT pg_terminate_backend({pid})", dsn=c.dsn)
        time.sleep(0.2)
        good, r = query_ok(s)
        ok(good, "a terminated backend is replaced transparently", r)

        c.ctl("kill")
        t0 = time.time()
        good, r = query_ok(s)
        elapsed = time.time() - t0
        ok(not good, "query fails while PostgreSQL is down")
        like(text_of(r), "database unavailable", "the error says the database is unavailable")
        ok(elapsed < 5, f"and fails fast ({elapsed:.2f}s)")
        r2 = s.request("tools/list")
        ok("result" in r2, "protocol methods that need no database still work")

        c.ctl("restart")
        errors = []

        def back():
            good, r = query_ok(s)
            if not good:
                errors.append(text_of(r))
            return good

        ok(wait_for(back, timeout=40, interval=0.3), "pgmcp reconnects after PostgreSQL returns")
        ok(all("database unavailable" in e for e in errors),
           f"interim errors all say unavailable ({len(errors)})", errors[:3])
        rows = structured(s.call("query", {"sql": "SELECT 2 AS two"}))["rows"]
        is_(rows, [{"two": 2}], "and keeps working")
        is_(s.close(), 0, "exit 0")

    # Started while the database is down: the handshake does not wait for it.
    c.ctl("kill")
    with Server("--set", "database.connect_timeout=1s", dsn=c.dsn) as s:
        t0 = time.time()
        r = s.initialize()
        ok("result" in r and time.time() - t0 < 2, "initialize answers with the database down")
        good, r = query_ok(s)
        ok(not good and "database unavailable" in text_of(r), "a tool call reports it", r)
        c.ctl("restart")
        ok(wait_for(lambda: query_ok(s)[0], timeout=40, interval=0.3),
           "the first connection is made once PostgreSQL is up")
        is_(s.close(), 0, "exit 0")
done()
