#!/usr/bin/env python3
"""fake_server.py: a tiny scripted MCP server on stdin/stdout for the client's edge cases.

    fake_server.py [--noise] [--die-on-call] [--ignore-eof] [--ignore-term] [--ping-client]
                   [--stderr-flood N]

--noise          print lines that are not JSON-RPC before and between answers
--die-on-call    exit with status 3 as soon as a tools/call arrives (no answer)
--ignore-eof     keep running after stdin closes (close() must terminate it)
--ignore-term    ignore SIGTERM as well (close() must kill it)
--ping-client    before answering tools/call, send the client a ping request and wait for it
--stderr-flood N write N lines to stderr at start (the client must drain them)
Tools: echo {text}.
"""
import json
import os
import signal
import sys
import time

args = set(sys.argv[1:])
flood = 0
if "--stderr-flood" in sys.argv:
    flood = int(sys.argv[sys.argv.index("--stderr-flood") + 1])
if "--ignore-term" in args and hasattr(signal, "SIGTERM"):
    signal.signal(signal.SIGTERM, signal.SIG_IGN)

out = sys.stdout


def send(msg):
    out.write(json.dumps(msg) + "\n")
    out.flush()


def noise(text):
    if "--noise" in args:
        out.write(text + "\n")
        out.flush()


for i in range(flood):
    sys.stderr.write("stderr line %d %s\n" % (i, "x" * 200))
sys.stderr.flush()
noise("Starting fake server (this line is not JSON-RPC)")
noise('{"hello": "json but not json-rpc"}')
noise("[1, 2, 3")

TOOLS = [{"name": "echo", "description": "Echo text.",
          "inputSchema": {"type": "object", "properties": {"text": {"type": "string"}},
                          "required": ["text"]}}]
ping_id = 1000
for line in sys.stdin:
    line = line.strip()
    if not line:
        continue
    msg = json.loads(line)
    method, mid = msg.get("method"), msg.get("id")
    if method is None or mid is None:
        continue
    if method == "initialize":
        send({"jsonrpc": "2.0", "id": mid, "result": {
            "protocolVersion": msg["params"]["protocolVersion"], "capabilities": {"tools": {}},
            "serverInfo": {"name": "fake", "version": "0"}}})
    elif method == "server/discover":
        send({"jsonrpc": "2.0", "id": mid, "error": {"code": -32601,
                                                      "message": "Method not found"}})
    elif method == "tools/list":
        noise("noise between messages")
        send({"jsonrpc": "2.0", "id": mid, "result": {"tools": TOOLS}})
    elif method == "tools/call":
        if "--die-on-call" in args:
            sys.stderr.write("fake server: dying on purpose\n")
            sys.stderr.flush()
            os._exit(3)
        if "--ping-client" in args:
            ping_id += 1
            send({"jsonrpc": "2.0", "id": ping_id, "method": "ping"})
            reply = json.loads(sys.stdin.readline())
            if reply.get("id") != ping_id or reply.get("result") != {}:
                sys.stderr.write("bad ping reply %r\n" % reply)
                os._exit(4)
        noise("more noise before a result")
        text = msg["params"]["arguments"].get("text", "")
        send({"jsonrpc": "2.0", "id": mid, "result": {
            "content": [{"type": "text", "text": text}], "isError": False}})
    elif method == "ping":
        send({"jsonrpc": "2.0", "id": mid, "result": {}})
    else:
        send({"jsonrpc": "2.0", "id": mid, "error": {"code": -32601,
                                                      "message": "Method not found"}})

if "--ignore-eof" in args:
    while True:
        time.sleep(1)
