#!/usr/bin/env python3
"""demo.py: drives one `pgmcp --stdio` session and prints what a model would see."""
import json
import os
import subprocess
import sys

BIN, DSN = sys.argv[1], sys.argv[2]
proc = subprocess.Popen([BIN, "--stdio", DSN], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                        stderr=subprocess.DEVNULL, text=True)
next_id = 0


def request(method, params=None):
    global next_id
    next_id += 1
    msg = {"jsonrpc": "2.0", "id": next_id, "method": method}
    if params is not None:
        msg["params"] = params
    proc.stdin.write(json.dumps(msg) + "\n")
    proc.stdin.flush()
    while True:
        reply = json.loads(proc.stdout.readline())
        if reply.get("id") == next_id:
            return reply


def call(tool, args):
    return request("tools/call", {"name": tool, "arguments": args})["result"]


def table(rows, columns):
    rows = [{k: ("" if v is None else v) for k, v in r.items()} for r in rows]
    widths = [max(len(c), *(len(str(r.get(c, ""))) for r in rows)) for c in columns]
    print("  " + "  ".join(c.ljust(w) for c, w in zip(columns, widths)))
    print("  " + "  ".join("-" * w for w in widths))
    for r in rows:
        print("  " + "  ".join(str(r.get(c, "")).ljust(w) for c, w in zip(columns, widths)))


def heading(text):
    print(f"\n\033[1m{text}\033[0m" if sys.stdout.isatty() else f"\n== {text}")


init = request("initialize", {"protocolVersion": "2025-11-25", "capabilities": {},
                              "clientInfo": {"name": "pgmcp-demo", "version": "1"}})["result"]
proc.stdin.write(json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}) + "\n")
info = init["serverInfo"]
heading(f"Connected: {info['name']} {info['version']}, protocol {init['protocolVersion']}")
tools = request("tools/list")["result"]["tools"]
print("  tools: " + ", ".join(t["name"] for t in tools))

heading("list_tables {schema: sales}")
r = call("list_tables", {"schema": "sales"})["structuredContent"]
table(r["tables"], ["schema", "name", "kind", "row_estimate", "description"])

heading("describe_table {table: sales.orders}")
d = call("describe_table", {"table": "sales.orders"})["structuredContent"]
table(d["columns"], ["name", "type", "nullable", "default"])
print("  primary key: " + ", ".join(d.get("primary_key", [])))
for fk in d.get("foreign_keys", []):
    print(f"  foreign key: {fk['definition']}")

sql = ("SELECT c.full_name, c.country, count(o.id) AS orders, sum(o.total) AS spent "
       "FROM sales.customers c JOIN sales.orders o ON o.customer_id = c.id "
       "WHERE o.status <> $1 GROUP BY c.id ORDER BY spent DESC LIMIT 5")
heading("query: top customers by spend (status bound as $1)")
print("  " + sql)
r = call("query", {"sql": sql, "params": ["cancelled"]})["structuredContent"]
table(r["rows"], [c["name"] for c in r["columns"]])
print(f"  {r['row_count']} rows in {r['elapsed_ms']} ms")

heading("query: DELETE FROM sales.orders  (read-only mode refuses it)")
r = call("query", {"sql": "DELETE FROM sales.orders"})
print("  isError=%s: %s" % (r["isError"], r["content"][0]["text"]))
heading("query: SELECT 1; DROP TABLE sales.orders  (and this)")
r = call("query", {"sql": "SELECT 1; DROP TABLE sales.orders"})
print("  isError=%s: %s" % (r["isError"], r["content"][0]["text"]))

proc.stdin.close()
proc.wait(timeout=10)

heading("Add pgmcp to your MCP client (replace the connection string):")
print(f"""
  Claude Code:
    claude mcp add postgres -- {BIN} --stdio postgresql://reader@localhost/mydb

  Claude Desktop (claude_desktop_config.json):
    {{"mcpServers": {{"postgres": {{"command": "{BIN}",
        "args": ["--stdio", "postgresql://reader@localhost/mydb"]}}}}}}

  VS Code (.vscode/mcp.json):
    {{"servers": {{"postgres": {{"type": "stdio", "command": "{BIN}",
        "args": ["--stdio", "postgresql://reader@localhost/mydb"]}}}}}}
""")
