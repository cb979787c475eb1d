#!/usr/bin/env python3
# t/0120-declared.t: operator-declared tools, resources, templates, prompts and toolsets, over
# stdio with temporary YAML files.
#
# Tools: every parameter type (string, integer, number, boolean, enum, date, timestamp, array of
# each) and rule (required, default, minimum, maximum, pattern, enum) as JSON Schema in
# tools/list and enforced on calls (a bad argument is an isError result naming the parameter
# and the rule); values are bound, never spliced; result shapes rows, value, image, audio,
# resource and content; read_only: false tools only with --read-write, and they commit;
# per-tool max_rows and statement_timeout. Toolsets and enabled_toolsets restrict tools/list
# and calls. Declared resources (text, blob, SQL) and templates (text with {var}, SQL binding
# $1.., completions from a list and from SQL) over resources/list (declared first, pagination
# across declared and table resources), resources/templates/list, resources/read and
# completion/complete. Declared prompts with arguments, substitution, embedded declared and
# inline resources, images and audio; prompts/list pagination across built-in and declared.
# Every bad declaration is a --check-config error with file:line:col.
import atexit
import json
import os
import re
import shutil
import tempfile
import time

from tap import ok, is_, like, done
from pgmcp_test import (BIN, Server, db_checksum, is_tool_error, psql, result_of, run,
                        structured, text_of)

tmp = tempfile.mkdtemp(prefix="pgmcp-decl-")
SCRATCH = f"pgmcp_decl_{os.getpid()}"
PNG = ("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5E"
       "rkJggg==")
WAV = "UklGRiQAAABXQVZFZm10IBAAAAABAAEAQB8AAIA+AAACABAAZGF0YQAAAAA="
servers = []
_n = [0]


def write(text, name=None):
    _n[0] += 1
    path = os.path.join(tmp, name or f"decl{_n[0]}.yaml")
    with open(path, "w") as f:
        f.write(text)
    return path


def start(text, *args, dsn=None):
    s = Server("-c", write(text), *args, dsn=dsn)
    servers.append(s)
    r = s.initialize()
    if "result" not in r:
        raise SystemExit(f"initialize failed: {r}\n{s.stderr()}")
    return s


def listing(s, method, key, params=None):
    """Every item of a paginated list method, and the number of pages."""
    items, pages, cursor = [], 0, None
    while True:
        p = dict(params or {})
        if cursor is not None:
            p["cursor"] = cursor
        res = result_of(s.request(method, p))
        pages += 1
        items += res.get(key, [])
        cursor = res.get("nextCursor")
        if cursor is None or pages > 100:
            return items, pages


def tools_by_name(s):
    return {t["name"]: t for t in listing(s, "tools/list", "tools")[0]}


def err_text(resp):
    """The isError text of a tool result, or the JSON-RPC error message."""
    if "error" in resp:
        return resp["error"].get("message", "")
    return text_of(resp)


# ------------------------------------------------------------------------------------------
# Scratch schema for the read_write tools (dropped at the end).
psql(f"DROP SCHEMA IF EXISTS {SCRATCH} CASCADE; CREATE SCHEMA {SCRATCH}; "
     f"CREATE TABLE {SCRATCH}.notes (id serial PRIMARY KEY, body text NOT NULL)")


@atexit.register
def cleanup():
    for srv in servers:
        srv.kill()
    psql(f"DROP SCHEMA IF EXISTS {SCRATCH} CASCADE")
    shutil.rmtree(tmp, ignore_errors=True)


TOOLS = f"""
tools:
  scalars:
    title: Every scalar type
    description: Echoes each scalar parameter through PostgreSQL.
    sql: >
      SELECT $1::text AS s, $2::int AS i, $3::float8 AS n, $4::boolean AS b, $5::text AS e,
             to_char($6::date, 'YYYY-MM-DD') AS d, extract(epoch FROM $7::timestamptz)::bigint AS ts,
             $8::text AS c
    parameters:
      - {{ name: s, type: string, description: A capitalised name., pattern: "^[A-Z][a-z]+$", default: Alice }}
      - {{ name: i, type: integer, description: From 1 to 10., required: true, minimum: 1, maximum: 10 }}
      - {{ name: n, type: number, minimum: -1.5, maximum: 2.5, default: 0.5 }}
      - {{ name: b, type: boolean, default: false }}
      - {{ name: e, type: enum, enum: [red, green, blue], default: green }}
      - {{ name: d, type: date }}
      - {{ name: ts, type: timestamp }}
      - {{ name: c, type: string, enum: [x, y] }}

  arrays:
    description: Echoes an array of each type.
    sql: >
      SELECT $1::text[] AS ss, $2::int[] AS ints, $3::float8[] AS ns, $4::boolean[] AS bs,
             $5::text[] AS es, $6::date[] AS ds,
             (SELECT array_agg(extract(epoch FROM x)::bigint) FROM unnest($7::timestamptz[]) x) AS tss,
             $8::text[] AS ps
    parameters:
      - {{ name: ss, type: array, items: {{ type: string }} }}
      - {{ name: ints, type: array, items: {{ type: integer }}, minimum: 0, maximum: 100 }}
      - {{ name: ns, type: array, items: number }}
      - {{ name: bs, type: array, items: boolean }}
      - {{ name: es, type: array, items: enum, enum: [a, b, c] }}
      - {{ name: ds, type: array, items: {{ type: date }} }}
      - {{ name: tss, type: array, items: {{ type: timestamp }} }}
      - {{ name: ps, type: array, items: string, pattern: "^[a-z]+$" }}

  echo_string:
    description: Returns the string it is given.
    sql: SELECT $1::text AS v
    result: value
    parameters:
      - {{ name: s, type: string, required: true }}

  echo_big:
    description: Returns the integer it is given.
    sql: SELECT $1::bigint AS v
    parameters:
      - {{ name: v, type: integer, required: true }}

  customer_by_name:
    description: Customers with exactly this full name.
    sql: SELECT count(*) AS n FROM sales.customers WHERE full_name = $1
    parameters:
      - {{ name: name, type: string, required: true }}

  value_text:
    description: A single text value.
    sql: SELECT 'hello' AS greeting, 2 AS other
    result: value
  value_int:
    description: A single integer value.
    sql: SELECT 42
    result: value
  value_json:
    description: A single jsonb value.
    sql: >
      SELECT '{{"a": [1, 2]}}'::jsonb
    result: value
  value_null:
    description: A NULL value.
    sql: SELECT NULL::text
    result: value
  value_none:
    description: No row at all.
    sql: SELECT 1 WHERE false
    result: value

  picture:
    description: A PNG from a bytea.
    sql: SELECT decode('{PNG}', 'base64')
    result: image
    mime_type: image/png
  sound:
    description: A WAV from a bytea.
    sql: SELECT decode('{WAV}', 'base64')
    result: audio
    mime_type: audio/wav
  res_text:
    description: A text value as an embedded resource.
    sql: SELECT 'resource body'
    result: resource
    uri: report://latest
    mime_type: text/plain
  res_blob:
    description: A bytea as an embedded resource.
    sql: SELECT '\\x0102ff'::bytea
    result: resource
    uri: report://blob
  res_default_uri:
    description: An embedded resource without a declared uri.
    sql: SELECT 'x'
    result: resource
  mixed:
    description: Several content items from one row.
    sql: >
      SELECT 'intro text' AS intro, decode('{PNG}', 'base64') AS pic,
             decode('{WAV}', 'base64') AS snd, '{{"k": 1}}' AS doc
    content:
      - {{ type: text, text: A literal line. }}
      - {{ type: text, column: intro }}
      - {{ type: image, column: pic, mime_type: image/png }}
      - {{ type: audio, column: snd, mime_type: audio/wav }}
      - {{ type: resource, column: doc, uri: "doc://k", mime_type: application/json }}

  rows_default:
    description: Fifty rows.
    sql: SELECT g FROM generate_series(1, 50) g
  rows_capped:
    description: Fifty rows, five shown.
    sql: SELECT g FROM generate_series(1, 50) g
    max_rows: 5

  slow_default:
    description: Sleeps past the global statement_timeout.
    sql: SELECT pg_sleep(1.5)
  slow_allowed:
    description: Sleeps within its own longer statement_timeout.
    sql: SELECT pg_sleep(0.8) AS slept
    statement_timeout: 10s
  slow_short:
    description: Sleeps past its own short statement_timeout.
    sql: SELECT pg_sleep(5)
    statement_timeout: 200ms

  add_note:
    title: Add a note
    description: Inserts a note and returns it.
    sql: INSERT INTO {SCRATCH}.notes (body) VALUES ($1) RETURNING id, body
    read_only: false
    parameters:
      - {{ name: body, type: string, required: true }}

  fails:
    description: Divides by zero.
    sql: SELECT 1 / 0 AS x
  custom_schema:
    description: Advertises its own input schema.
    sql: SELECT 'custom'
    result: value
    input_schema:
      type: object
      properties:
        anything: {{ type: string, maxLength: 5 }}
      required: [anything]

  hidden:
    enabled: false
    description: Switched off.
    sql: SELECT 1
"""

# ------------------------------------------------------------------------------------------
# tools/list: JSON Schema of every type and rule.
s = start(TOOLS, "--set", "limits.statement_timeout=500ms")
tools = tools_by_name(s)
for name in ["scalars", "arrays", "echo_string", "value_text", "picture", "mixed", "rows_capped"]:
    ok(name in tools, f"declared tool {name} is listed")
ok("add_note" not in tools, "a read_only: false tool is not listed in read_only mode")
ok("hidden" not in tools, "an enabled: false declared tool is not listed")
ok("query" in tools and "list_tables" in tools, "built-in tools are listed beside declared ones")
names = [t for t in tools]
ok(names.index("query") < names.index("scalars"), "built-in tools come before declared ones")

sc = tools["scalars"]
is_(sc.get("title"), "Every scalar type", "title is passed through")
is_(sc["description"], "Echoes each scalar parameter through PostgreSQL.", "description")
schema = sc["inputSchema"]
is_(schema.get("type"), "object", "inputSchema is an object schema")
is_(schema.get("additionalProperties"), False, "inputSchema refuses unknown properties")
is_(schema.get("required"), ["i"], "required lists exactly the required parameters")
props = schema["properties"]
is_(list(props), ["s", "i", "n", "b", "e", "d", "ts", "c"], "properties in declaration order")
is_(props["s"], {"type": "string", "description": "A capitalised name.",
                 "pattern": "^[A-Z][a-z]+$", "default": "Alice"}, "string: pattern and default")
is_(props["i"], {"type": "integer", "description": "From 1 to 10.", "minimum": 1, "maximum": 10},
    "integer: minimum and maximum")
is_(props["n"], {"type": "number", "minimum": -1.5, "maximum": 2.5, "default": 0.5},
    "number: fractional minimum, maximum and default")
is_(props["b"], {"type": "boolean", "default": False}, "boolean: default false is a JSON boolean")
is_(props["e"], {"type": "string", "enum": ["red", "green", "blue"], "default": "green"},
    "enum: a string with enum and default")
is_(props["d"], {"type": "string", "format": "date"}, "date: string with format date")
is_(props["ts"], {"type": "string", "format": "date-time"}, "timestamp: format date-time")
is_(props["c"], {"type": "string", "enum": ["x", "y"]}, "string with an enum rule")
ok("outputSchema" in sc, "a rows tool has an outputSchema")
is_(sc.get("annotations", {}).get("readOnlyHint"), True, "a read-only declared tool: readOnlyHint")
is_(sc.get("annotations", {}).get("destructiveHint"), False, "and not destructiveHint")

ap = tools["arrays"]["inputSchema"]["properties"]
is_(ap["ss"], {"type": "array", "items": {"type": "string"}}, "array of string")
is_(ap["ints"], {"type": "array", "items": {"type": "integer", "minimum": 0, "maximum": 100}},
    "array of integer: minimum and maximum apply to the items")
is_(ap["ns"], {"type": "array", "items": {"type": "number"}}, "array of number (items: number)")
is_(ap["bs"], {"type": "array", "items": {"type": "boolean"}}, "array of boolean")
is_(ap["es"], {"type": "array", "items": {"type": "string", "enum": ["a", "b", "c"]}},
    "array of enum: the enum is on the items")
is_(ap["ds"], {"type": "array", "items": {"type": "string", "format": "date"}}, "array of date")
is_(ap["tss"], {"type": "array", "items": {"type": "string", "format": "date-time"}},
    "array of timestamp")
is_(ap["ps"], {"type": "array", "items": {"type": "string", "pattern": "^[a-z]+$"}},
    "array of string: the pattern applies to the items")
is_(tools["echo_string"]["inputSchema"].get("required"), ["s"], "echo_string requires s")
ok("outputSchema" not in tools["value_text"], "a value tool has no rows outputSchema")
ok("outputSchema" not in tools["picture"], "an image tool has no rows outputSchema")

# ------------------------------------------------------------------------------------------
# Calls: values arrive typed; defaults fill in; absent optional parameters are NULL.
r = s.call("scalars", {"s": "Bob", "i": 3, "n": 1.25, "b": True, "e": "blue", "d": "2024-02-29",
                       "ts": "2024-05-01T12:00:00Z", "c": "y"})
row = (structured(r) or {}).get("rows", [{}])[0]
is_(row, {"s": "Bob", "i": 3, "n": 1.25, "b": True, "e": "blue", "d": "2024-02-29",
          "ts": 1714564800, "c": "y"}, "every scalar type is bound and comes back typed")
r = s.call("scalars", {"i": 7})
row = (structured(r) or {}).get("rows", [{}])[0]
is_(row, {"s": "Alice", "i": 7, "n": 0.5, "b": False, "e": "green", "d": None, "ts": None,
          "c": None}, "defaults fill absent parameters; others are NULL")
r = s.call("scalars", {"i": 10, "n": -1.5, "ts": "2024-05-01 14:00:00+02:00"})
row = (structured(r) or {}).get("rows", [{}])[0]
ok(row.get("i") == 10 and row.get("n") == -1.5 and row.get("ts") == 1714564800,
   "bounds are inclusive; a timestamp with an offset and a space is accepted", r)
r = s.call("scalars", {"i": 2, "ts": "2024-05-01T12:00:00.250Z", "d": "2024-12-31"})
ok(not is_tool_error(r), "fractional seconds and the last day of a month are accepted", r)
like(text_of(r), '"rows"', "a rows result also carries the JSON as text")
ok(json.loads(text_of(r)) == structured(r), "the text content is the structuredContent JSON")

# Bad arguments: an isError result naming the parameter and the rule.
bad_calls = [
    ({}, "i", "required"),
    ({"i": 0}, "i", "at least 1"),
    ({"i": 11}, "i", "at most 10"),
    ({"i": 1.5}, "i", "integer"),
    ({"i": "5"}, "i", "integer"),
    ({"i": True}, "i", "integer"),
    ({"i": 1, "n": 2.6}, "n", "at most 2.5"),
    ({"i": 1, "n": -2}, "n", "at least -1.5"),
    ({"i": 1, "n": "1"}, "n", "number"),
    ({"i": 1, "b": "true"}, "b", "true or false"),
    ({"i": 1, "b": 1}, "b", "true or false"),
    ({"i": 1, "e": "purple"}, "e", "one of red, green, blue"),
    ({"i": 1, "e": 3}, "e", "string"),
    ({"i": 1, "s": "alice"}, "s", "pattern"),
    ({"i": 1, "s": 5}, "s", "string"),
    ({"i": 1, "d": "2024-02-30"}, "d", "date"),
    ({"i": 1, "d": "20240101"}, "d", "YYYY-MM-DD"),
    ({"i": 1, "d": "2024-01-01T00:00:00Z"}, "d", "date"),
    ({"i": 1, "ts": "yesterday"}, "ts", "ISO 8601"),
    ({"i": 1, "ts": "2024-05-01T12:00:00Q"}, "ts", "ISO 8601"),
    ({"i": 1, "c": "z"}, "c", "one of x, y"),
    ({"i": 1, "d": "2024-01-01junk"}, "d", "date"),
    ({"i": 1, "d": "2023-02-29"}, "d", "date"),
    ({"i": 1, "d": "0000-01-01"}, "d", "date"),
    ({"i": 1, "ts": "2024-05-01T12:00:00Zjunk"}, "ts", "ISO 8601"),
    ({"i": 1, "ts": "2024-05-01 14:00:00+02:00 junk"}, "ts", "ISO 8601"),
    ({"i": 1, "ts": "2024-05-01T12:00:00.5x"}, "ts", "ISO 8601"),
    ({"i": 1, "ts": "2024-05-01T25:00:00Z"}, "ts", "ISO 8601"),
    ({"i": 1, "ts": "2024-05-01T12:00:00+02:"}, "ts", "ISO 8601"),
    ({"i": 1, "zz": 1}, "zz", "unknown argument"),
]
for args, param, rule in bad_calls:
    r = s.call("scalars", args)
    t = err_text(r)
    ok(is_tool_error(r) and f'"{param}"' in t and rule in t,
       f"scalars {json.dumps(args)}: isError naming \"{param}\" and \"{rule}\"", r)

r = s.call("arrays", {"ss": ['a","b', "back\\slash", "{x,y}", "NULL", "", "it's"],
                      "ints": [0, 7, 100], "ns": [1.5, -2, 300], "bs": [True, False],
                      "es": ["c", "a"], "ds": ["2024-01-31"],
                      "tss": ["2024-05-01T12:00:00Z", "1970-01-01T00:00:00Z"], "ps": []})
row = (structured(r) or {}).get("rows", [{}])[0]
is_(row, {"ss": ['a","b', "back\\slash", "{x,y}", "NULL", "", "it's"], "ints": [0, 7, 100],
          "ns": [1.5, -2, 300], "bs": [True, False], "es": ["c", "a"], "ds": ["2024-01-31"],
          "tss": [1714564800, 0], "ps": []},
    "arrays of every type are bound element by element (quotes, braces, NULL text intact)")
bad_arrays = [
    ({"ints": [1, "2"]}, "ints", "item 1", "integer"),
    ({"ints": [101]}, "ints", "item 0", "at most 100"),
    ({"ints": [-1]}, "ints", "item 0", "at least 0"),
    ({"ints": 5}, "ints", "array", "array"),
    ({"ns": ["x"]}, "ns", "item 0", "number"),
    ({"bs": [True, "no"]}, "bs", "item 1", "true or false"),
    ({"es": ["a", "d"]}, "es", "item 1", "one of a, b, c"),
    ({"ds": ["2024-13-01"]}, "ds", "item 0", "date"),
    ({"tss": ["soon"]}, "tss", "item 0", "ISO 8601"),
    ({"ps": ["ok", "NOT"]}, "ps", "item 1", "pattern"),
    ({"ss": [None]}, "ss", "item 0", "string"),
]
for args, param, item, rule in bad_arrays:
    r = s.call("arrays", args)
    t = err_text(r)
    ok(is_tool_error(r) and f'"{param}"' in t and item in t and rule in t,
       f"arrays {json.dumps(args)}: isError naming \"{param}\", {item} and \"{rule}\"", r)

r = s.call("echo_big", {"v": 9007199254740993})
is_((structured(r) or {}).get("rows"), [{"v": "9007199254740993"}],
    "an integer beyond 2^53 is bound exactly (and comes back as a string)")

# Values are bound, never spliced.
before = db_checksum()
for attack in ["'; DROP TABLE sales.orders; --", "x' OR '1'='1", "$1", "\\'; SELECT 1; --",
               "');\nDELETE FROM sales.customers;--", "Ünïcødé ✓ \"quoted\" \\ back"]:
    r = s.call("echo_string", {"s": attack})
    is_(text_of(r), attack, f"a string parameter comes back verbatim: {attack!r}")
r = s.call("customer_by_name", {"name": "x' OR '1'='1"})
is_((structured(r) or {}).get("rows"), [{"n": 0}], "an OR-injection in a parameter matches nothing")
r = s.call("customer_by_name", {"name": "Alice Smith"})
is_((structured(r) or {}).get("rows"), [{"n": 1}], "the same tool finds a real name")
r = s.call("echo_string", {"s": "nul\u0000byte"})
ok(is_tool_error(r) and '"s"' in err_text(r), "a NUL character in a string is refused", r)
r = s.call("arrays", {"ss": ['"}; DROP TABLE sales.orders; --', "a'b"]})
is_((structured(r) or {}).get("rows", [{}])[0].get("ss"), ['"}; DROP TABLE sales.orders; --', "a'b"],
    "array elements are quoted, not spliced")
is_(db_checksum(), before, "the database is unchanged after the injection attempts")

# Result shapes.
r = s.call("value_text")
is_(result_of(r).get("content"), [{"type": "text", "text": "hello"}],
    "result value: the first column of the first row as text")
ok("structuredContent" not in result_of(r), "a value result has no structuredContent")
is_(text_of(s.call("value_int")), "42", "result value of an integer")
is_(json.loads(text_of(s.call("value_json")) or "null"), {"a": [1, 2]}, "result value of jsonb is its JSON")
is_(text_of(s.call("value_null")), "null", "result value of NULL")
is_(text_of(s.call("value_none")), "", "result value with no row is empty")
r = s.call("picture")
is_(result_of(r).get("content"), [{"type": "image", "data": PNG, "mimeType": "image/png"}],
    "result image: the bytea as base64 with its MIME type")
r = s.call("sound")
is_(result_of(r).get("content"), [{"type": "audio", "data": WAV, "mimeType": "audio/wav"}],
    "result audio")
r = s.call("res_text")
is_(result_of(r).get("content"), [{"type": "resource", "resource": {
    "uri": "report://latest", "mimeType": "text/plain", "text": "resource body"}}],
    "result resource: text with the declared uri and MIME type")
r = s.call("res_blob")
is_(result_of(r).get("content"), [{"type": "resource", "resource": {
    "uri": "report://blob", "mimeType": "application/octet-stream", "blob": "AQL/"}}],
    "result resource of a bytea: a blob, application/octet-stream by default")
r = s.call("res_default_uri")
ok(result_of(r)["content"][0]["resource"].get("uri"), "result resource without uri gets a uri", r)
r = s.call("mixed")
is_(result_of(r).get("content"), [
    {"type": "text", "text": "A literal line."},
    {"type": "text", "text": "intro text"},
    {"type": "image", "data": PNG, "mimeType": "image/png"},
    {"type": "audio", "data": WAV, "mimeType": "audio/wav"},
    {"type": "resource", "resource": {"uri": "doc://k", "mimeType": "application/json",
                                      "text": '{"k": 1}'}}],
    "content: literal text, a column, image, audio and a resource from one row")
is_(result_of(r).get("isError"), False, "content results are not errors")

r = s.call("fails")
ok(is_tool_error(r) and "22012" in err_text(r) and "division by zero" in err_text(r),
   "a failing statement is an isError result with the SQLSTATE and message", r)
is_(tools["custom_schema"]["inputSchema"], {"type": "object", "properties": {
    "anything": {"type": "string", "maxLength": 5}}, "required": ["anything"]},
    "input_schema is advertised as written")
is_(text_of(s.call("custom_schema", {"anything": "x"})), "custom",
    "a tool with its own input_schema accepts the arguments it describes")

# Per-tool max_rows and statement_timeout.
st = structured(s.call("rows_default")) or {}
ok(st.get("row_count") == 50 and st.get("truncated") is False, "without max_rows: every row", st)
st = structured(s.call("rows_capped")) or {}
ok(st.get("row_count") == 5 and len(st.get("rows", [])) == 5 and st.get("truncated") is True
   and st.get("truncated_by") == "max_rows", "per-tool max_rows: 5 rows, truncated by max_rows", st)
r = s.call("slow_default")
ok(is_tool_error(r) and "statement_timeout" in err_text(r) and "500ms" in err_text(r),
   "a tool without its own statement_timeout stops at the global one (500ms)", r)
r = s.call("slow_allowed")
ok(not is_tool_error(r), "a tool's own longer statement_timeout (10s) lets it run 0.8s", r)
t0 = time.time()
r = s.call("slow_short")
elapsed = time.time() - t0
ok(is_tool_error(r) and "statement_timeout" in err_text(r) and elapsed < 3,
   f"a tool's own short statement_timeout stops it ({elapsed:.1f}s)", r)
like(err_text(r), "200ms", "the timeout error names the tool's own limit (200ms)")
r = s.call("rows_default")
ok(not is_tool_error(r), "the session works after the timeouts", r)

# read_only: false tools: not callable in read_only mode.
r = s.call("add_note", {"body": "nope"})
ok("error" in r and "add_note" in r["error"]["message"], "a write tool cannot be called in "
   "read_only mode", r)
r = s.call("hidden")
ok("error" in r, "a disabled declared tool cannot be called", r)
is_(psql(f"SELECT count(*) FROM {SCRATCH}.notes"), "0", "nothing was written")
s.close()

s = start(TOOLS, "--read-write")
tools = tools_by_name(s)
ok("add_note" in tools, "with --read-write the write tool is listed")
ann = tools.get("add_note", {}).get("annotations", {})
ok(ann.get("readOnlyHint") is False and ann.get("destructiveHint") is True,
   "a write tool is annotated readOnlyHint false, destructiveHint true", ann)
r = s.call("add_note", {"body": "it's a 'note'; DROP TABLE x"})
st = structured(r) or {}
ok(not is_tool_error(r) and st.get("rows", [{}])[0].get("body") == "it's a 'note'; DROP TABLE x"
   and st.get("rows_affected") == 1, "the write tool runs with RETURNING and rows_affected", r)
is_(psql(f"SELECT body FROM {SCRATCH}.notes"), "it's a 'note'; DROP TABLE x",
    "the write committed (seen from another connection)")
r = s.call("add_note", {})
ok(is_tool_error(r) and '"body"' in err_text(r), "the write tool checks its arguments too", r)
s.close()

# ------------------------------------------------------------------------------------------
# Toolsets and enabled_toolsets restrict tools/list (built-in and declared) and calls.
TS_TOOLS = """
tools:
  t_a: { description: Tool A., sql: "SELECT 'a'", result: value }
  t_b: { description: Tool B., sql: "SELECT 'b'", result: value }
  t_c: { description: Tool C., sql: "SELECT 'c'", result: value }
toolsets:
  analyst: [list_tables, describe_table, t_a]
  extra: [t_b, query]
"""
s = start(TS_TOOLS)
is_(list(tools_by_name(s)), ["query", "list_schemas", "list_tables", "describe_table", "explain",
                             "list_extensions", "database_info", "top_queries", "health",
                             "active_queries", "t_a", "t_b", "t_c"],
    "toolsets without enabled_toolsets offer every tool (built-in first, then declared)")
s.close()
s = start(TS_TOOLS + "enabled_toolsets: [analyst]\n")
is_(sorted(tools_by_name(s)), ["describe_table", "list_tables", "t_a"],
    "enabled_toolsets [analyst]: only its built-in and declared tools are listed")
is_(text_of(s.call("t_a")), "a", "a tool of the enabled toolset can be called")
for name in ["t_b", "t_c", "query", "list_schemas"]:
    r = s.call(name, {"sql": "SELECT 1"} if name == "query" else {})
    ok("error" in r and name in r["error"].get("message", ""),
       f"{name}, outside the enabled toolsets, cannot be called", r)
ok(not is_tool_error(s.call("list_tables", {})), "a built-in tool of the toolset can be called")
s.close()
s = start(TS_TOOLS + "enabled_toolsets: [analyst, extra]\n")
is_(sorted(tools_by_name(s)), ["describe_table", "list_tables", "query", "t_a", "t_b"],
    "two enabled toolsets offer the union of their tools")
s.close()

# ------------------------------------------------------------------------------------------
# Declared resources, templates and completions.
RES = f"""
limits:
  page_size: @PAGE@
resources:
  - uri: docs://glossary
    name: glossary
    title: Glossary
    description: What the business terms mean.
    mime_type: text/markdown
    text: "**ARR**: annual recurring revenue"
  - uri: docs://logo
    name: logo
    description: A 1x1 PNG.
    mime_type: image/png
    blob: {PNG}
  - uri: stats://customers
    name: customer-count
    mime_type: application/json
    sql: SELECT json_build_object('customers', count(*))::text FROM sales.customers
  - uri: stats://bytes
    name: some-bytes
    sql: SELECT '\\x0102ff'::bytea
  - uri: docs://empty
    name: empty
    text: ""
resource_templates:
  - uri_template: "greet://{{name}}/hello"
    name: greeting
    title: A greeting
    description: Says hello to someone.
    mime_type: text/plain
    text: "Hello, {{name}}! Again: {{name}}. Not a var: {{other}}."
  - uri_template: "orders://customer/{{id}}/status/{{status}}"
    name: order-count
    description: How many orders of one customer have this status.
    sql: SELECT count(*)::text FROM sales.orders WHERE customer_id = $1::int AND status::text = $2
    completions:
      id: {{ sql: "SELECT id::text FROM sales.customers WHERE id::text LIKE $1 || '%' ORDER BY id LIMIT 5" }}
      status: [pending, paid, shipped, delivered, cancelled]
  - uri_template: "echo://{{v}}"
    name: echo
    sql: SELECT $1::text
prompts:
  - name: review_month
    title: Monthly review
    description: Review a month's sales.
    arguments:
      - {{ name: month, description: "YYYY-MM", required: true, completions: ["2025-01", "2025-02", "2024-12"] }}
      - {{ name: focus, description: Optional subject. }}
      - name: customer
        completions: {{ sql: "SELECT full_name FROM sales.customers WHERE full_name LIKE $1 || '%' ORDER BY 1 LIMIT 3" }}
    messages:
      - text: "Summarise sales for {{month}}{{focus: with a focus on }}{{focus}}."
      - role: assistant
        text: "Looking at {{month}} for {{customer}}."
      - resource: docs://glossary
      - resource: docs://logo
      - resource: {{ uri: "notes://{{month}}", mime_type: text/plain, text: "Notes for {{month}}" }}
      - image: {{ data: {PNG}, mime_type: image/png }}
      - audio: {{ data: {WAV}, mime_type: audio/wav }}
  - name: plain
    description: No arguments.
    messages:
      - text: Just this.
  - name: third
    description: The third declared prompt.
    messages:
      - text: Three.
"""
s = start(RES.replace("@PAGE@", "100"))
resources, pages = listing(s, "resources/list", "resources")
uris = [x["uri"] for x in resources]
is_(uris[:5], ["docs://glossary", "docs://logo", "stats://customers", "stats://bytes",
              "docs://empty"], "declared resources come first, in declaration order")
ok(all(u.startswith("pgmcp://tables/") for u in uris[5:]) and len(uris) > 10,
   "then one resource per table", uris)
is_(resources[0], {"uri": "docs://glossary", "name": "glossary", "title": "Glossary",
                   "description": "What the business terms mean.", "mimeType": "text/markdown"},
    "a declared resource's entry: uri, name, title, description, mimeType")
ok(not any("{" in u for u in uris), "templates are not listed as resources")
all_uris = uris

templates, _ = listing(s, "resources/templates/list", "resourceTemplates")
turis = [x["uriTemplate"] for x in templates]
is_(turis, ["greet://{name}/hello", "orders://customer/{id}/status/{status}", "echo://{v}",
            "pgmcp://tables/{schema}/{table}"],
    "resources/templates/list: declared templates first, then the table template")
is_(templates[0], {"uriTemplate": "greet://{name}/hello", "name": "greeting", "title": "A greeting",
                   "description": "Says hello to someone.", "mimeType": "text/plain"},
    "a declared template's entry")


def read(uri):
    return s.request("resources/read", {"uri": uri})


is_(result_of(read("docs://glossary"))["contents"],
    [{"uri": "docs://glossary", "mimeType": "text/markdown",
      "text": "**ARR**: annual recurring revenue"}], "read a literal text resource")
is_(result_of(read("docs://logo"))["contents"],
    [{"uri": "docs://logo", "mimeType": "image/png", "blob": PNG}], "read a literal blob resource")
is_(result_of(read("stats://customers"))["contents"],
    [{"uri": "stats://customers", "mimeType": "application/json", "text": '{"customers" : 50}'}],
    "read a SQL resource: the first column of the first row")
is_(result_of(read("stats://bytes"))["contents"],
    [{"uri": "stats://bytes", "mimeType": "application/octet-stream", "blob": "AQL/"}],
    "a SQL resource of bytea is a blob")
is_(result_of(read("docs://empty"))["contents"],
    [{"uri": "docs://empty", "mimeType": "text/plain", "text": ""}],
    "an empty text resource (text/plain by default)")
is_(result_of(read("greet://Ann/hello"))["contents"],
    [{"uri": "greet://Ann/hello", "mimeType": "text/plain",
      "text": "Hello, Ann! Again: Ann. Not a var: {other}."}],
    "a text template substitutes every {var} (and leaves unknown braces)")
is_(result_of(read("greet://Ann%20Lee/hello"))["contents"][0].get("text"),
    "Hello, Ann Lee! Again: Ann Lee. Not a var: {other}.",
    "a template variable is percent-decoded (RFC 6570 expansion encodes it)")
is_(result_of(read("greet://J%C3%BCrgen%2FX/hello"))["contents"][0].get("text"),
    "Hello, Jürgen/X! Again: Jürgen/X. Not a var: {other}.",
    "percent-encoded UTF-8 and an encoded / decode inside one variable")
for uri, why in [("greet://Ann%ZZ/hello", "two hexadecimal digits"),
                 ("greet://Ann%2/hello", "two hexadecimal digits"),
                 ("greet://%C3%28/hello", "UTF-8"), ("greet://a%00b/hello", "NUL")]:
    r = read(uri)
    ok("error" in r and r["error"]["code"] == -32602 and "{name}" in r["error"]["message"]
       and why in r["error"]["message"], f"{uri}: -32602 naming the variable and \"{why}\"", r)
n_paid = psql("SELECT count(*) FROM sales.orders WHERE customer_id = 3 AND status = 'paid'")
is_(result_of(read("orders://customer/3/status/paid"))["contents"],
    [{"uri": "orders://customer/3/status/paid", "mimeType": "text/plain", "text": n_paid}],
    "a SQL template binds its variables as $1, $2 in order")
before = db_checksum()
for attack in ["x'%20OR%20'1'='1", "1;DROP TABLE sales.orders", "';--"]:
    r = read("echo://" + attack)
    ok("result" in r, f"echo://{attack} is read", r)
is_(result_of(read("echo://it's"))["contents"][0].get("text"), "it's",
    "a template variable is bound, not spliced")
r = read("orders://customer/1%27%20OR%201=1/status/paid")
ok("error" in r, "a variable that fails its SQL cast is an error, not a result", r)
is_(db_checksum(), before, "the database is unchanged after template injection attempts")
for uri in ["greet://a/b/hello", "greet:///hello", "orders://customer/1/status", "docs://nope",
            "greet://x/hello/extra"]:
    r = read(uri)
    ok("error" in r and uri in json.dumps(r["error"]), f"{uri} is not found", r)
r = read("pgmcp://tables/sales/orders")
ok("result" in r, "table resources still read beside declared ones", r)


def complete(ref, arg, value, context=None):
    p = {"ref": ref, "argument": {"name": arg, "value": value}}
    if context:
        p["context"] = {"arguments": context}
    return s.request("completion/complete", p)


tmpl = {"type": "ref/resource", "uri": "orders://customer/{id}/status/{status}"}
is_(result_of(complete(tmpl, "status", "p"))["completion"],
    {"values": ["pending", "paid"], "total": 2, "hasMore": False},
    "template completion from a static list, by prefix")
is_(result_of(complete(tmpl, "status", ""))["completion"]["values"],
    ["pending", "paid", "shipped", "delivered", "cancelled"], "an empty prefix offers every value")
is_(result_of(complete(tmpl, "id", "1"))["completion"]["values"], ["1", "10", "11", "12", "13"],
    "template completion from SQL, the prefix bound as $1")
is_(result_of(complete(tmpl, "id", "' OR 1=1 --"))["completion"]["values"], [],
    "a completion prefix is bound, not spliced")
is_(result_of(complete({"type": "ref/resource", "uri": "echo://{v}"}, "v", "a"))["completion"]
    ["values"], [], "a template variable without completions offers nothing")
pr = {"type": "ref/prompt", "name": "review_month"}
is_(result_of(complete(pr, "month", "2025"))["completion"],
    {"values": ["2025-01", "2025-02"], "total": 2, "hasMore": False},
    "prompt argument completion from a static list")
is_(result_of(complete(pr, "customer", "Al"))["completion"]["values"],
    ["Alice García", "Alice Müller", "Alice O'Brien"], "prompt argument completion from SQL")
is_(result_of(complete(pr, "focus", "x"))["completion"]["values"], [],
    "a prompt argument without completions offers nothing")
r = complete({"type": "ref/resource", "uri": "pgmcp://tables/{schema}/{table}"}, "schema", "sal")
is_(result_of(r)["completion"]["values"], ["sales"], "the table template still completes")

# Declared prompts.
prompts, _ = listing(s, "prompts/list", "prompts")
pnames = [p["name"] for p in prompts]
is_(pnames, ["explore_database", "write_query", "explain_query", "table_overview", "review_month",
             "plain", "third"], "prompts/list: built-in prompts, then declared ones in order")
is_(prompts[4], {"name": "review_month", "title": "Monthly review",
                 "description": "Review a month's sales.",
                 "arguments": [{"name": "month", "description": "YYYY-MM", "required": True},
                               {"name": "focus", "description": "Optional subject.",
                                "required": False},
                               {"name": "customer", "required": False}]},
    "a declared prompt's entry with its arguments")
r = s.request("prompts/get", {"name": "review_month",
                              "arguments": {"month": "2025-02", "focus": "returns",
                                            "customer": "Bob Smith"}})
msgs = result_of(r).get("messages", [])
is_(result_of(r).get("description"), "Review a month's sales.", "prompts/get carries the description")
is_(len(msgs), 7, "every declared message is returned")
if len(msgs) == 7:
    is_(msgs[0], {"role": "user", "content": {
        "type": "text", "text": "Summarise sales for 2025-02 with a focus on returns."}},
        "text with {arg} and {arg:literal} substitution")
    is_(msgs[1], {"role": "assistant", "content": {
        "type": "text", "text": "Looking at 2025-02 for Bob Smith."}}, "an assistant message")
    is_(msgs[2], {"role": "user", "content": {"type": "resource", "resource": {
        "uri": "docs://glossary", "mimeType": "text/markdown",
        "text": "**ARR**: annual recurring revenue"}}}, "an embedded declared text resource")
    is_(msgs[3], {"role": "user", "content": {"type": "resource", "resource": {
        "uri": "docs://logo", "mimeType": "image/png", "blob": PNG}}},
        "an embedded declared blob resource")
    is_(msgs[4], {"role": "user", "content": {"type": "resource", "resource": {
        "uri": "notes://2025-02", "mimeType": "text/plain", "text": "Notes for 2025-02"}}},
        "an inline resource with substitution in its uri and text")
    is_(msgs[5], {"role": "user", "content": {"type": "image", "data": PNG,
                                              "mimeType": "image/png"}}, "an image message")
    is_(msgs[6], {"role": "user", "content": {"type": "audio", "data": WAV,
                                              "mimeType": "audio/wav"}}, "an audio message")
r = s.request("prompts/get", {"name": "review_month", "arguments": {"month": "2025-01"}})
msgs = result_of(r).get("messages", [])
ok(msgs and msgs[0]["content"]["text"] == "Summarise sales for 2025-01.",
   "an absent optional argument leaves no trace", msgs[:1])
r = s.request("prompts/get", {"name": "review_month", "arguments": {"focus": "x"}})
ok("error" in r and r["error"]["code"] == -32602 and "month" in r["error"]["message"],
   "a missing required argument is -32602 naming it", r)
r = s.request("prompts/get", {"name": "review_month", "arguments": {"month": "{focus}"}})
msgs = result_of(r).get("messages", []) if "result" in r else []
ok(msgs and msgs[0]["content"]["text"] == "Summarise sales for {focus}.",
   "an argument value is not expanded again", msgs[:1])
r = s.request("prompts/get", {"name": "plain"})
is_(result_of(r).get("messages"), [{"role": "user", "content": {"type": "text",
                                                                "text": "Just this."}}],
    "a prompt without arguments")
r = s.request("prompts/get", {"name": "table_overview", "arguments": {"table": "sales.orders"}})
ok("result" in r, "built-in prompts still work beside declared ones", r)
s.close()

# Pagination with page_size 2: across declared and table resources, built-in and declared prompts.
s = start(RES.replace("@PAGE@", "2"))
paged, pages = listing(s, "resources/list", "resources")
is_([x["uri"] for x in paged], all_uris, "resources/list with page_size 2 yields the same list")
is_(pages, (len(all_uris) + 1) // 2, "in pages of 2 (one page mixes declared and table resources)")
first = result_of(s.request("resources/list", {}))
is_([x["uri"] for x in first["resources"]], ["docs://glossary", "docs://logo"], "page 1")
second = result_of(s.request("resources/list", {"cursor": first["nextCursor"]}))
is_([x["uri"] for x in second["resources"]], ["stats://customers", "stats://bytes"], "page 2")
third = result_of(s.request("resources/list", {"cursor": second["nextCursor"]}))
is_([x["uri"] for x in third["resources"]], ["docs://empty", all_uris[5]],
    "page 3 holds the last declared resource and the first table resource")
paged, pages = listing(s, "prompts/list", "prompts")
is_([p["name"] for p in paged], pnames, "prompts/list with page_size 2 yields the same list")
is_(pages, 4, "7 prompts in 4 pages of 2")
first = result_of(s.request("prompts/list", {}))
ok(len(first["prompts"]) == 2 and "nextCursor" in first, "prompts page 1 has 2 and a cursor")
pg, pages = listing(s, "resources/templates/list", "resourceTemplates")
is_([x["uriTemplate"] for x in pg], turis, "resources/templates/list with page_size 2 yields "
    "every template")
first = result_of(s.request("resources/templates/list", {}))
ok(len(first["resourceTemplates"]) <= 2, "resources/templates/list pages by page_size too",
   [x["uriTemplate"] for x in first["resourceTemplates"]])
tl, pages = listing(s, "tools/list", "tools")
ok(pages > 1 and len(tl) == len({t["name"] for t in tl}), "tools/list pages without duplicates")
s.close()

# ------------------------------------------------------------------------------------------
# Bad declarations: each one a --check-config error with file:line:col.


def position(text, marker, nth=0):
    """1-based line and column of the nth occurrence of marker in text."""
    idx = -1
    for _ in range(nth + 1):
        idx = text.index(marker, idx + 1)
    line = text.count("\n", 0, idx) + 1
    col = idx - (text.rfind("\n", 0, idx) + 1) + 1
    return line, col


def bad(name, text, marker, key, message, nth=0, any_col=False):
    path = write(text)
    rc, out, err = run([BIN, "--check-config", "-c", path])
    line, col = position(text, marker, nth)
    where = f"{re.escape(path)}:{line}:{r'[0-9]+' if any_col else col}: "
    pattern = where + re.escape(key) + r"[^\n]*" + re.escape(message)
    ok(rc == 1 and re.search(pattern, err) is not None,
       f"--check-config: {name} (at {line}:{'*' if any_col else col})",
       f"exit {rc}; expected /{pattern}/ in:\n{err}")


T = "tools:\n  t:\n    description: d.\n"
bad("a tool without description", "tools:\n  nodesc:\n    sql: SELECT 1\n",
    "sql:", "tools.nodesc", "description is required")
bad("a tool without sql", "tools:\n  nosql:\n    description: No SQL.\n",
    "nosql", "tools.nosql", "sql")
bad("$3 with 2 parameters", T + "    sql: SELECT $1::int + $2::int + $3::int\n    parameters:\n"
    "      - { name: a, type: integer }\n      - { name: b, type: integer }\n",
    "SELECT $1", "tools.t", "sql uses $3 but only 2 parameters are declared")
bad("a tool name with spaces", 'tools:\n  "bad name!":\n    description: d.\n    sql: SELECT 1\n',
    "description", "tools.bad name!", "tool names use letters, digits")
bad("a parameter without a name", T + "    sql: SELECT $1\n    parameters:\n"
    "      - { type: string }\n", "{ type", "tools.t", "a parameter needs a name")
bad("parameters that are not a list", T + "    sql: SELECT 1\n    parameters: { a: 1 }\n",
    "{ a: 1 }", "tools.t", "parameters: expected a list")

# Unknown keys at every level.
bad("an unknown key in a tool", T + "    sql: SELECT 1\n    sqll: SELECT 2\n",
    "sqll", "tools.t", 'unknown setting "sqll"')
bad("an unknown key in a parameter", T + "    sql: SELECT $1::int\n    parameters:\n"
    "      - { name: p, type: integer, minimun: 1 }\n", "minimun", "tools.t.parameters.p",
    'unknown setting "minimun"')
bad("an unknown key in items", T + "    sql: SELECT $1::int[]\n    parameters:\n"
    "      - { name: p, type: array, items: { type: integer, bogus: 1 } }\n", "bogus",
    "tools.t.parameters.p", 'unknown setting "bogus"')
bad("an unknown key in a content item", T + "    sql: SELECT 1 AS a\n    content:\n"
    "      - { type: text, colum: a }\n", "colum", "tools.t", 'unknown setting "colum"')
bad("an unknown key in a resource", "resources:\n  - { uri: \"x://a\", text: t, mimetype: a/b }\n",
    "mimetype", "resources[x://a]", 'unknown setting "mimetype"')
bad("blob in a resource template", 'resource_templates:\n  - uri_template: "x://{a}"\n'
    "    text: t\n    blob: AAAA\n", "blob", "resource_templates[x://{a}]", 'unknown setting "blob"')
bad("an unknown key in a completion", 'resource_templates:\n  - uri_template: "x://{a}"\n'
    "    sql: SELECT $1\n    completions:\n      a: { sql: SELECT 'v', limit: 5 }\n",
    "limit", "resource_templates[x://{a}]", 'unknown setting "limit"')
bad("an unknown key in a prompt", "prompts:\n  - name: p\n    description: d.\n    bogus: 1\n"
    "    messages:\n      - text: hi\n", "bogus", "prompts.p", 'unknown setting "bogus"')
bad("an unknown key in a prompt argument", "prompts:\n  - name: p\n    description: d.\n"
    "    arguments:\n      - { name: a, requird: true }\n    messages:\n      - text: hi\n",
    "requird", "prompts.p", 'unknown setting "requird"')
bad("an unknown key in a message", "prompts:\n  - name: p\n    description: d.\n"
    "    messages:\n      - { text: hi, kind: x }\n", "kind", "prompts.p", 'unknown setting "kind"')
bad("an unknown key in an inline resource", "prompts:\n  - name: p\n    description: d.\n"
    "    messages:\n      - resource: { uri: \"x://a\", text: t, blob: AAAA }\n",
    "blob", "prompts.p", 'unknown setting "blob"')
bad("a rule written inside items", T + "    sql: SELECT $1::int[]\n    parameters:\n"
    "      - { name: p, type: array, items: { type: integer, minimum: 0 } }\n", "minimum",
    "tools.t.parameters.p.items", "write minimum on the parameter itself")
bad("a minimum on a string parameter", T + "    sql: SELECT $1\n    parameters:\n"
    "      - { name: p, type: string, minimum: 1 }\n", "1 }", "tools.t.parameters.p",
    "only integer and number parameters")
bad("a pattern on an array of integer", T + "    sql: SELECT $1::int[]\n    parameters:\n"
    "      - { name: p, type: array, items: integer, pattern: x }\n", "x }",
    "tools.t.parameters.p", "not type array of integer")
bad("items on a scalar parameter", T + "    sql: SELECT $1\n    parameters:\n"
    "      - { name: p, type: string, items: string }\n", "string }", "tools.t.parameters.p",
    "only a parameter of type array has items")
bad("an unknown key in an audio message", "prompts:\n  - name: p\n    description: d.\n"
    "    messages:\n      - audio: { data: AAAA, mime_type: audio/wav, length: 3 }\n",
    "length", "prompts.p", 'unknown setting "length"')
bad("an unknown key in an image message", "prompts:\n  - name: p\n    description: d.\n"
    "    messages:\n      - image: { data: AAAA, mime_type: image/png, alt: x }\n",
    "alt", "prompts.p", 'unknown setting "alt"')
bad("a toolset that is not a list", "toolsets:\n  a: { tools: [query] }\n", "{ tools",
    "toolsets", "expected a list of tool names")
bad("an unknown top-level key", "prompt:\n  - name: p\n", "prompt", "prompt", "unknown setting")

# Bad types and values.
bad("an unknown parameter type", T + "    sql: SELECT $1\n    parameters:\n"
    "      - { name: p, type: strnig }\n", "strnig", "tools.t.parameters.p",
    'type: expected string, integer, number, boolean, enum, date, timestamp or array, got "strnig"')
bad("an array of arrays", T + "    sql: SELECT $1\n    parameters:\n"
    "      - { name: p, type: array, items: { type: array } }\n", "{ type: array }",
    "tools.t.parameters.p", "type array needs items: with a type")
bad("an unknown result", T + "    sql: SELECT 1\n    result: table\n", "table", "tools.t",
    'result: expected rows, value, image, audio, resource or content, got "table"')
bad("max_rows that is not a number", T + "    sql: SELECT 1\n    max_rows: lots\n", "lots",
    "tools.t", "max_rows: expected an integer")
bad("max_rows of 0", T + "    sql: SELECT 1\n    max_rows: 0\n", "0\n", "tools.t",
    "max_rows: expected an integer from 1")
bad("read_only that is not a boolean", T + "    sql: SELECT 1\n    read_only: maybe\n", "maybe",
    "tools.t", "read_only: expected true or false")
bad("a statement_timeout that is not a duration", T + "    sql: SELECT 1\n"
    "    statement_timeout: soon\n", "soon", "tools.t", "statement_timeout: expected a duration")
bad("required that is not a boolean", T + "    sql: SELECT $1\n    parameters:\n"
    "      - { name: p, type: string, required: perhaps }\n", "perhaps", "tools.t.parameters.p",
    "required: expected true or false")
bad("a minimum that is not a number", T + "    sql: SELECT $1::int\n    parameters:\n"
    "      - { name: p, type: integer, minimum: small }\n", "small", "tools.t.parameters.p",
    "minimum: expected a number")
bad("a bad regular expression", T + "    sql: SELECT $1\n    parameters:\n"
    '      - { name: p, type: string, pattern: "([a-z" }\n', '"([a-z"', "tools.t.parameters.p",
    "pattern: not a valid extended regular expression")
bad("an enum without values", T + "    sql: SELECT $1\n    parameters:\n"
    "      - { name: color, type: enum }\n", "{ name: color", "tools.t.parameters.color",
    "type enum needs an enum: list of values")
bad("an array of enum without values", T + "    sql: SELECT $1\n    parameters:\n"
    "      - { name: colors, type: array, items: enum }\n", "{ name: colors",
    "tools.t.parameters.colors", "enum")
bad("an array without items", T + "    sql: SELECT $1\n    parameters:\n"
    "      - { name: xs, type: array }\n", "{ name: xs", "tools.t.parameters.xs",
    "type array needs items")
bad("an unknown content type", T + "    sql: SELECT 1 AS v\n    content:\n"
    "      - { type: video, column: v }\n", "{ type: video", "tools.t",
    "content type must be text, image, audio or resource")
bad("result image without mime_type", T + "    sql: SELECT '\\x00'::bytea\n    result: image\n",
    "description", "tools.t", "result image needs mime_type")
bad("result audio without mime_type", T + "    sql: SELECT '\\x00'::bytea\n    result: audio\n",
    "description", "tools.t", "result audio needs mime_type")
bad("an image content item without mime_type", T + "    sql: SELECT 1 AS v\n    content:\n"
    "      - { type: image, column: v }\n", "{ type: image", "tools.t",
    "image and audio content need a mime_type")
bad("a resource content item without uri", T + "    sql: SELECT 1 AS v\n    content:\n"
    "      - { type: resource, column: v }\n", "{ type: resource", "tools.t",
    "resource content needs a uri")
bad("content that is not a list", T + "    sql: SELECT 1\n    content: text\n", "text\n",
    "tools.t", "content: expected a list of items")
bad("a read-only tool whose SQL writes", T + "    sql: DELETE FROM sales.orders\n",
    "DELETE", "tools.t", "sql is refused by the read-only guard")
bad("a read-only tool calling a side-effecting function", T +
    "    sql: SELECT pg_terminate_backend(1)\n", "SELECT pg_", "tools.t",
    "sql is refused by the read-only guard")
bad("a read-only tool with two statements", T + '    sql: "SELECT 1; SELECT 2"\n',
    '"SELECT 1;', "tools.t", "sql is refused by the read-only guard")
bad("a write tool with a session statement", T + "    read_only: false\n"
    "    sql: SET work_mem = '1GB'\n", "SET work_mem", "tools.t", "sql is refused by the write guard")
bad("a resource without uri", "resources:\n  - { name: a, text: t }\n", "{ name: a",
    "resources[?]", "uri is required")
bad("a resource without content", 'resources:\n  - { uri: "x://a", name: a }\n', '{ uri',
    "resources[x://a]", "give exactly one of text, blob, sql for the content")
bad("a resource with two sources", 'resources:\n  - { uri: "x://a", text: t, sql: SELECT 1 }\n',
    '{ uri', "resources[x://a]", "give exactly one of text, blob, sql")
bad("a resource whose SQL writes", 'resources:\n  - uri: "x://a"\n'
    "    sql: DELETE FROM sales.orders RETURNING 'x'\n", "DELETE", "resources[x://a]",
    "sql is refused by the read-only guard")
bad("a template without a {variable}", 'resource_templates:\n  - { uri_template: "x://fixed", '
    "text: t }\n", "{ uri_template", "resource_templates[x://fixed]",
    "uri_template needs at least one {variable}")
bad("a template with two sources", 'resource_templates:\n  - { uri_template: "x://{a}", text: t, '
    "sql: SELECT $1 }\n", "{ uri_template", "resource_templates[x://{a}]",
    "give exactly one of text, sql")
bad("template SQL with $2 and one variable", 'resource_templates:\n  - uri_template: "x://{a}"\n'
    "    sql: SELECT $1 || $2\n", "SELECT $1", "resource_templates[x://{a}]",
    "sql uses $2 but the template has 1 variable")
bad("completions for an unknown variable", 'resource_templates:\n  - uri_template: "x://{a}"\n'
    "    text: t\n    completions:\n      nope: [v]\n", "nope", "resource_templates[x://{a}]",
    'completions: "nope" is not a variable of the template')
bad("completions that are neither a list nor sql", 'resource_templates:\n'
    '  - uri_template: "x://{a}"\n    text: t\n    completions:\n      a: 5\n', "5\n",
    "resource_templates[x://{a}]", "completions: a list of values or { sql: ... }")
bad("a prompt without messages", "prompts:\n  - name: p\n    description: d.\n", "name: p",
    "prompts.p", "messages: a list of at least one message")
bad("a prompt with an empty message list", "prompts:\n  - name: p\n    description: d.\n"
    "    messages: []\n", "[]", "prompts.p", "messages: a list of at least one message")
bad("a prompt without description", "prompts:\n  - name: p\n    messages:\n      - text: hi\n",
    "name: p", "prompts.p", "description is required")
bad("a prompt argument without a name", "prompts:\n  - name: p\n    description: d.\n"
    "    arguments:\n      - { description: x }\n    messages:\n      - text: hi\n",
    "{ description: x", "prompts.p", "an argument needs a name")
bad("a message with two kinds", "prompts:\n  - name: p\n    description: d.\n    messages:\n"
    "      - { text: hi, image: { data: AAAA, mime_type: image/png } }\n", "{ text: hi",
    "prompts.p", "a message has exactly one of text, resource, image, audio")
bad("a message with no kind", "prompts:\n  - name: p\n    description: d.\n    messages:\n"
    "      - { role: user }\n", "{ role", "prompts.p",
    "a message has exactly one of text, resource, image, audio")
bad("an unknown role", "prompts:\n  - name: p\n    description: d.\n    messages:\n"
    "      - { role: system, text: hi }\n", "system", "prompts.p", "role must be user or assistant")
bad("an image message without data", "prompts:\n  - name: p\n    description: d.\n"
    "    messages:\n      - image: { mime_type: image/png }\n", "{ mime_type", "prompts.p",
    "image needs data (base64) and mime_type")
bad("a toolset naming an unknown tool", "toolsets:\n  a: [query,\n      nosuch]\n", "nosuch",
    "toolsets.a", 'no tool named "nosuch"', any_col=True)
bad("enabled_toolsets naming an unknown toolset", "toolsets:\n  a: [query]\n"
    "enabled_toolsets:\n  - a\n  - b\n", "- b", "enabled_toolsets", 'no toolset named "b"',
    any_col=True)
bad("a duplicate resource URI", 'resources:\n  - { uri: "x://a", text: one }\n'
    '  - { uri: "x://a", text: two }\n', '{ uri: "x://a", text: two', "resources",
    '"x://a" is declared twice', any_col=True)
bad("a declared prompt reusing a built-in prompt's name", "prompts:\n  - name: write_query\n"
    "    description: d.\n    messages:\n      - text: hi\n", "name: write_query",
    "prompts.write_query", "a built-in prompt has that name", any_col=True)
bad("a prompt embedding an unknown resource", "prompts:\n  - name: p\n    description: d.\n"
    "    messages:\n      - resource: docs://nope\n", "docs://nope", "prompts.p",
    'resource "docs://nope" is not a declared resource')
bad("a prompt embedding a SQL resource", 'resources:\n  - { uri: "x://s", sql: SELECT 1 }\n'
    "prompts:\n  - name: p\n    description: d.\n    messages:\n      - resource: x://s\n",
    "x://s\n", "prompts.p", "computed by SQL, which a prompt cannot embed")
bad("a duplicate resource template", 'resource_templates:\n  - { uri_template: "x://{a}", text: a }\n'
    '  - { uri_template: "x://{a}", text: b }\n', '{ uri_template', "resource_templates",
    '"x://{a}" is declared twice (first at line 2)', nth=1)
bad("a prompt declared twice", "prompts:\n  - { name: p, description: d., messages: [{ text: a }] }\n"
    "  - { name: p, description: d., messages: [{ text: b }] }\n", "{ name: p", "prompts.p",
    "declared twice", nth=1, any_col=True)

# Several errors in one file are all reported and counted.
many = write(T + "    sql: SELECT $2\n    bogus: 1\nprompts:\n  - { name: p }\n")
rc, out, err = run([BIN, "--check-config", "-c", many])
ok(rc == 1 and re.search(r"\b4 configuration errors", err) is not None,
   "every error of a file is reported and counted", err)

xref = write("toolsets:\n  a: [query, nosuch]\nenabled_toolsets: [a, b]\nresources:\n"
             '  - { uri: "x://a", text: one }\n  - { uri: "x://a", text: two }\n')
rc, out, err = run([BIN, "--check-config", "-c", xref])
ok(rc == 1 and re.search(r"\b3 configuration errors", err) is not None and err.count("nosuch") == 1,
   "each cross-reference error is reported once", err)

# The shipped examples are valid.
rc, out, err = run([BIN, "--check-config", "-c", write(TOOLS)])
ok(rc == 0 and out.strip() == "configuration OK", "this test's tool declarations are valid", err)
rc, out, err = run([BIN, "--check-config", "-c", write(RES.replace("@PAGE@", "2"))])
ok(rc == 0, "this test's resource and prompt declarations are valid", err)

done()
