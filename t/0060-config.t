#!/usr/bin/env python3
# t/0060-config.t: command line, --help/--version, --check-config messages with file:line:col,
# ${VAR} expansion, precedence (command line > environment > file > defaults), DSN sources,
# and that passwords never reach logs or error messages.
import os
import tempfile

from tap import ok, is_, like, unlike, done
from pgmcp_test import BIN, DSN, ROOT, Server, run, structured, text_of

tmp = tempfile.mkdtemp(prefix="pgmcp-conf-")


def write(name, text):
    path = os.path.join(tmp, name)
    with open(path, "w") as f:
        f.write(text)
    return path


# --help and --version
rc, out, err = run([BIN, "--help"])
is_(rc, 0, "--help exits 0")
for word in ["--stdio", "--check-config", "--set", "DATABASE_URL", "read_write", "Exit status"]:
    like(out, word, f"--help mentions {word}")
rc, out, err = run([BIN, "--version"])
ok(rc == 0 and out.startswith("pgmcp "), "--version prints pgmcp and the version", out)
rc, out, err = run([BIN, "--bogus"])
is_(rc, 2, "unknown option exits 2")
like(err, "--help", "unknown option points at --help")
rc, out, err = run([BIN, "--set", "novalue"])
is_(rc, 2, "--set without = exits 2")

# The reference configuration is valid as shipped.
rc, out, err = run([BIN, "--check-config", "-c", os.path.join(ROOT, "conf", "pgmcp.yaml")])
is_((rc, out.strip()), (0, "configuration OK"), "conf/pgmcp.yaml is valid")
rc, out, err = run([BIN, "-t", "-c", write("empty.yaml", "")])
is_((rc, out.strip()), (0, "configuration OK"), "an empty file is valid")

# Every kind of error names file:line:col and the key.
bad = write("bad.yaml", """database:
  connect_timeout: forever
access: sometimes
limits:
  max_rows: 0
  max_result_bytes: 12 parsecs
  bogus: 1
extra: true
tools:
  query:
    enabled: maybe
  nonesuch:
    enabled: false
log:
  level: loud
""")
rc, out, err = run([BIN, "--check-config", "-c", bad])
is_(rc, 1, "invalid file exits 1")
like(err, f"{bad}:2:20: database.connect_timeout: expected a duration", "bad duration with position")
like(err, f"{bad}:3:9: access: expected one of read_only, read_write", "bad enum lists the choices")
like(err, f"{bad}:5:13: limits.max_rows: must be between 1 and 1000000", "range error")
like(err, f"{bad}:6:21: limits.max_result_bytes: expected a size", "bad size")
like(err, f"{bad}:7:3: limits.bogus: unknown setting", "unknown nested key")
like(err, f"{bad}:8:1: extra: unknown setting", "unknown top-level key")
like(err, f"{bad}:11:14: tools.query.enabled: expected true or false", "bad boolean in tools")
like(err, f"{bad}:12:3: tools.nonesuch: unknown tool", "unknown tool name")
like(err, f"{bad}:15:10: log.level: expected one of", "bad log level")
like(err, "9 configuration errors", "error count")
is_(out, "", "nothing on stdout for an invalid file")

rc, out, err = run([BIN, "-t", "-c", write("syntax.yaml", "limits:\n  max_rows: [1,\n")])
ok(rc == 1 and "syntax.yaml:" in err and "YAML syntax error" in err, "YAML syntax error reported", err)
rc, out, err = run([BIN, "-t", "-c", write("list.yaml", "- a\n- b\n")])
ok(rc == 1 and "must be a mapping" in err, "a top-level list is refused", err)
rc, out, err = run([BIN, "-t", "-c", write("map.yaml", "limits: 5\n")])
ok(rc == 1 and "limits: expected a mapping" in err, "a scalar where a section belongs", err)
rc, out, err = run([BIN, "-t", "-c", os.path.join(tmp, "missing.yaml")])
ok(rc == 1 and "cannot open" in err, "missing file", err)

# ${VAR} expansion.
envf = write("env.yaml", "limits:\n  max_rows: ${PGMCP_T_ROWS}\n  page_size: ${PGMCP_T_UNSET:-7}\n")
rc, out, err = run([BIN, "-t", "-c", envf], env={"PGMCP_T_ROWS": "25"})
is_(rc, 0, "${VAR} and ${VAR:-default} expand")
rc, out, err = run([BIN, "-t", "-c", envf], env={"PGMCP_T_ROWS": ""})
ok(rc == 1 and "max_rows" in err, "empty variable where a number is needed is an error", err)
os.environ.pop("PGMCP_T_ROWS", None)
rc, out, err = run([BIN, "-t", "-c", envf])
ok(rc == 1 and "PGMCP_T_ROWS is not set" in err and ":2:13:" in err, "unset variable names itself", err)

# Precedence: file < environment < --set, seen through database_info's limits.
def limits_with(args, env=None):
    with Server(*args, env=env) as s:
        s.initialize()
        return structured(s.call("database_info"))["limits"]

rows_file = write("rows.yaml", "limits:\n  max_rows: 11\n")
is_(limits_with(["-c", rows_file])["max_rows"], 11, "file sets max_rows")
is_(limits_with(["-c", rows_file], env={"PGMCP_LIMITS_MAX_ROWS": "22"})["max_rows"], 22,
    "environment beats the file")
is_(limits_with(["-c", rows_file, "--set", "limits.max_rows=33"],
                env={"PGMCP_LIMITS_MAX_ROWS": "22"})["max_rows"], 33, "--set beats the environment")
rc, out, err = run([BIN, "-t", "--set", "limits.max_rows=0"])
ok(rc == 1 and "command line: limits.max_rows" in err, "--set values are validated", err)
rc, out, err = run([BIN, "-t"], env={"PGMCP_ACCESS": "sideways"})
ok(rc == 1 and "PGMCP_ACCESS: access" in err, "environment values are validated and named", err)

# DSN sources: the argument, DATABASE_URL, PG_CONNECTION_STRING, the file. The PG* variables
# point nowhere so only the source under test can connect.
nowhere = {"PGHOST": "/nonexistent", "PGPORT": "1", "PGDATABASE": "none"}
dsn_file = write("dsn.yaml", f"database:\n  dsn: \"{DSN}\"\n")
with Server("-c", dsn_file, dsn="", env=nowhere) as s:
    s.initialize()
    ok(not s.call("query", {"sql": "SELECT 1"})["result"]["isError"], "DSN from the file")
with Server(dsn="", env=dict(nowhere, DATABASE_URL=DSN, PG_CONNECTION_STRING="host=/nonexistent")) as s:
    s.initialize()
    ok(not s.call("query", {"sql": "SELECT 1"})["result"]["isError"], "DATABASE_URL beats PG_CONNECTION_STRING")
with Server(dsn="", env=dict(nowhere, PG_CONNECTION_STRING=DSN)) as s:
    s.initialize()
    ok(not s.call("query", {"sql": "SELECT 1"})["result"]["isError"], "PG_CONNECTION_STRING works")
with Server(dsn=DSN, env={"DATABASE_URL": "host=/nonexistent"}) as s:
    s.initialize()
    ok(not s.call("query", {"sql": "SELECT 1"})["result"]["isError"], "the argument beats DATABASE_URL")
with Server(dsn="", env=nowhere) as s:
    s.initialize()
    like(text_of(s.call("query", {"sql": "SELECT 1"})), "database unavailable",
         "with no DSN anywhere, libpq's PG* variables decide (here: nowhere)")

rc, out, err = run([BIN, "-t", "--dsn", "host='unterminated"])
ok(rc == 1 and "not a valid connection string" in err, "an unparsable DSN is a configuration error", err)

# A password in the DSN never appears in logs or tool errors.
secret = "s3cr3t-Pa55word"
with Server(dsn=f"postgresql://nobody:{secret}@127.0.0.1:1/none?connect_timeout=1") as s:
    s.initialize()
    r = s.call("query", {"sql": "SELECT 1"})
    ok(r["result"]["isError"], "unreachable database is a tool error")
    like(text_of(r), "database unavailable", "the error says the database is unavailable")
    unlike(text_of(r), secret, "the password is not in the tool error")
    s.close()
    unlike(s.stderr(), secret, "the password is not in the logs")

# log.format json produces one JSON object per line on stderr.
with Server("--set", "log.format=json", "--log-level", "debug") as s:
    s.initialize()
    s.call("query", {"sql": "SELECT 1"})
    s.close()
    import json
    lines = [l for l in s.stderr().splitlines() if l.strip()]
    good = 0
    for l in lines:
        try:
            json.loads(l)
            good += 1
        except ValueError:
            pass
    ok(lines and good == len(lines), "log.format=json writes JSON lines", lines[:5])

done()
