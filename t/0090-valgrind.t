#!/usr/bin/env python3
# t/0090-valgrind.t: one session that uses every method and tool, run under valgrind's memcheck:
# no invalid reads or writes, no uninitialised values, no definite or indirect leaks.
# no-sanitizer (valgrind cannot run the ASan build; it checks the normal one)
import os
import shutil
import tempfile

from tap import ok, is_, like, skip, done
from pgmcp_test import BIN, MODERN, Server, is_tool_error, result_of

if shutil.which("valgrind") is None:
    skip("valgrind session", "valgrind is not installed")
    done()

log = os.path.join(tempfile.mkdtemp(prefix="pgmcp-vg-"), "valgrind.log")
prefix = ["valgrind", "--quiet", "--leak-check=full", "--errors-for-leak-kinds=definite,indirect",
          "--show-leak-kinds=definite,indirect", "--error-exitcode=99", "--track-origins=yes",
          f"--log-file={log}"]
T = 120
audit = os.path.join(os.path.dirname(log), "audit.jsonl")
with Server("--set", f"audit.file={audit}", "--set", "audit.log=true",
            "--set", "output.text_format=csv", prefix=prefix) as s:
    ok("result" in s.request("server/discover", timeout=T), "server/discover")
    s.initialize()
    ok("result" in s.request("ping", timeout=T), "ping")
    ok("result" in s.request("logging/setLevel", {"level": "debug"}, timeout=T), "logging/setLevel")
    tools = result_of(s.request("tools/list", timeout=T))["tools"]
    ok(len(tools) >= 7, "tools/list")
    calls = [
        ("query", {"sql": "SELECT * FROM types_demo.all_types ORDER BY id"}),
        ("query", {"sql": "SELECT * FROM sales.customers WHERE country = $1", "params": ["DE"]}),
        ("query", {"sql": "SELECT g FROM generate_series(1, 3000) g"}),
        ("query", {"sql": "SELEKT 1"}),
        ("query", {"sql": "DELETE FROM sales.orders"}),
        ("query", {"sql": "SELECT no_such_column FROM sales.orders"}),
        ("query", {"sql": 42}),
        ("list_schemas", {}),
        ("list_tables", {"schema": "sales"}),
        ("describe_table", {"table": "sales.orders"}),
        ("describe_table", {"table": "nonesuch"}),
        ("explain", {"sql": "SELECT * FROM sales.orders WHERE id = $1", "params": [1]}),
        ("explain", {"sql": "SELECT count(*) FROM sales.orders", "analyze": True, "format": "json"}),
        ("list_extensions", {"available": True}),
        ("database_info", {}),
        ("health", {}),
        ("active_queries", {"include_idle": True}),
        ("top_queries", {"limit": 5}),
    ]
    for name, args in calls:
        r = s.call(name, args, timeout=T, meta={"progressToken": "p"})
        ok("result" in r, f"tools/call {name} {str(args)[:50]}")
    ok("error" in s.call("nonesuch", {}, timeout=T), "unknown tool")
    ok("result" in s.request("resources/list", timeout=T), "resources/list")
    ok("result" in s.request("resources/templates/list", timeout=T), "resources/templates/list")
    ok("result" in s.request("resources/read", {"uri": "pgmcp://tables/sales/orders"}, timeout=T),
       "resources/read")
    ok("error" in s.request("resources/read", {"uri": "pgmcp://tables/x/y"}, timeout=T),
       "resources/read of a missing table")
    ok("result" in s.request("completion/complete", {
        "ref": {"type": "ref/resource", "uri": "pgmcp://tables/{schema}/{table}"},
        "argument": {"name": "schema", "value": "s"}}, timeout=T), "completion/complete")
    ok("result" in s.request("prompts/list", timeout=T), "prompts/list")
    ok("result" in s.request("prompts/get", {"name": "table_overview",
                                             "arguments": {"table": "sales.orders"}}, timeout=T),
       "prompts/get")
    meta = {"io.modelcontextprotocol/protocolVersion": MODERN,
            "io.modelcontextprotocol/clientCapabilities": {}}
    ok("result" in s.request("tools/list", {"_meta": meta}, timeout=T), "stateless tools/list")
    s.write_raw(b'{"jsonrpc":"2.0","id":99,"method":"ping"\n')
    ok("error" in s.recv(timeout=T), "parse error")
    s.write_raw(b'[{"jsonrpc":"2.0","id":100,"method":"ping"}]\n')
    ok("error" in s.recv(timeout=T), "batch refused")
    rc = s.close(timeout=T)
with open(log) as f:
    report = f.read()
with open(audit) as f:
    ok(len(f.read().splitlines()) >= 18, "the audit log has a record per tool call")
is_(rc, 0, "valgrind reports no error (exit status)")
ok("definitely lost" not in report and "Invalid" not in report and "uninitialised" not in report,
   "the valgrind log is clean", report[:4000])
done()
