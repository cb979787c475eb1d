#!/usr/bin/env python3
# t/0020-tools.t: every built-in tool (query, list_schemas, list_tables, describe_table, explain,
# list_extensions, database_info): tools/list metadata, structuredContent + JSON text validated
# against outputSchema, parameter binding, SQL error reporting (SQLSTATE, POSITION, HINT), typed
# JSON for every case in types_demo.all_types, catalog contents, explain safety, and disabling a
# tool through the configuration file.
import contextlib
import json
import os
import re
import shutil
import tempfile
import traceback

from tap import ok, is_, like, unlike, done, diag
from pgmcp_test import Server, psql, text_of

BUILTIN = ["query", "list_schemas", "list_tables", "describe_table", "explain",
           "list_extensions", "database_info"]
OUTPUT_SCHEMAS = {}


@contextlib.contextmanager
def section(name):
    """Runs a block; an exception (timeout, closed pipe, KeyError...) becomes one failed test."""
    try:
        yield
    except Exception as e:  # noqa: BLE001 - any failure inside a section is a test failure
        ok(False, f"{name}: finished without an exception",
           f"{type(e).__name__}: {e}\n{traceback.format_exc()[-1500:]}")


# --- a small JSON Schema checker (the subset the output schemas use) ---------------------------

def type_ok(v, t):
    return {
        "object": lambda: isinstance(v, dict),
        "array": lambda: isinstance(v, list),
        "string": lambda: isinstance(v, str),
        "integer": lambda: isinstance(v, int) and not isinstance(v, bool),
        "number": lambda: isinstance(v, (int, float)) and not isinstance(v, bool),
        "boolean": lambda: isinstance(v, bool),
        "null": lambda: v is None,
    }.get(t, lambda: True)()


def validate(v, schema, path="$"):
    errs = []
    t = schema.get("type")
    if t is not None:
        types = t if isinstance(t, list) else [t]
        if not any(type_ok(v, x) for x in types):
            return [f"{path}: {json.dumps(v)[:80]} is not of type {t}"]
    if "enum" in schema and v not in schema["enum"]:
        errs.append(f"{path}: {v!r} not in {schema['enum']}")
    if isinstance(v, dict):
        for k in schema.get("required", []):
            if k not in v:
                errs.append(f"{path}: required member {k!r} missing")
        props = schema.get("properties", {})
        for k, sub in props.items():
            if k in v:
                errs += validate(v[k], sub, f"{path}.{k}")
        if schema.get("additionalProperties") is False:
            errs += [f"{path}: unexpected member {k!r}" for k in v if k not in props]
    if isinstance(v, list) and isinstance(schema.get("items"), dict):
        for i, e in enumerate(v):
            errs += validate(e, schema["items"], f"{path}[{i}]")
    if type_ok(v, "number"):
        if "minimum" in schema and v < schema["minimum"]:
            errs.append(f"{path}: {v} < minimum {schema['minimum']}")
        if "maximum" in schema and v > schema["maximum"]:
            errs.append(f"{path}: {v} > maximum {schema['maximum']}")
    return errs


def strict_eq(a, b):
    """Equality that tells true from 1, "1" from 1 and lists from strings."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(b, (int, float)):
        return isinstance(a, (int, float)) and a == b
    if isinstance(b, str):
        return isinstance(a, str) and a == b
    if b is None:
        return a is None
    if isinstance(b, list):
        return isinstance(a, list) and len(a) == len(b) and all(strict_eq(x, y) for x, y in zip(a, b))
    if isinstance(b, dict):
        return (isinstance(a, dict) and set(a) == set(b)
                and all(strict_eq(a[k], b[k]) for k in b))
    return a == b


def same(got, expected, name):
    return ok(strict_eq(got, expected), name,
              f"got:      {json.dumps(got, ensure_ascii=False)}\n"
              f"  expected: {json.dumps(expected, ensure_ascii=False)}")


def dup_keys(text):
    """Object keys that occur twice in one object of a JSON text."""
    dups = []

    def hook(pairs):
        seen = set()
        for k, _ in pairs:
            if k in seen:
                dups.append(k)
            seen.add(k)
        return dict(pairs)
    json.loads(text, object_pairs_hook=hook)
    return dups


# --- result helpers ---------------------------------------------------------------------------

def tool_ok(resp, tool, label):
    """One test: a successful result with structuredContent, the same JSON as text, and a
    structuredContent that satisfies the tool's outputSchema. Returns structuredContent."""
    problems = []
    sc = None
    if "error" in resp:
        problems.append(f"JSON-RPC error: {resp['error']}")
    else:
        res = resp.get("result", {})
        sc = res.get("structuredContent")
        if res.get("isError"):
            problems.append(f"isError: {text_of(resp)[:1500]}")
        elif not isinstance(sc, dict):
            problems.append(f"structuredContent is not an object: {str(sc)[:200]}")
        texts = [c for c in res.get("content", []) if c.get("type") == "text"]
        if problems:
            pass
        elif not texts:
            problems.append("no text content item")
        else:
            try:
                parsed = json.loads(texts[0]["text"])
                if parsed != sc:
                    problems.append("the text content's JSON differs from structuredContent")
                d = dup_keys(texts[0]["text"])
                if d:
                    problems.append(f"duplicate keys in the text JSON: {d}")
            except ValueError as e:
                problems.append(f"text content is not JSON: {e}: {texts[0]['text'][:300]}")
        if isinstance(sc, dict) and tool in OUTPUT_SCHEMAS:
            problems += validate(sc, OUTPUT_SCHEMAS[tool])
    ok(not problems, f"{label}: structuredContent, equal JSON text, valid per outputSchema",
       "\n  ".join(problems))
    return sc if isinstance(sc, dict) else {}


def tool_err(resp, label, *needles):
    """One test: a tool error (isError true, text content) mentioning every needle."""
    text = text_of(resp)
    good = "result" in resp and resp["result"].get("isError") is True and text != ""
    missing = [n for n in needles if n not in text]
    ok(good and not missing, f"{label}: isError" + (f" mentioning {', '.join(needles)}" if needles else ""),
       f"response: {json.dumps(resp, ensure_ascii=False)[:1500]}\n  missing: {missing}")
    return text


def position_of(text):
    m = re.search(r"POSITION: (\d+)", text)
    return int(m.group(1)) if m else None


def check_position(text, sql, token, label):
    """POSITION in the error text is the 1-based character offset of token in sql."""
    expected = sql.index(token) + 1
    is_(position_of(text), expected, f"{label}: POSITION {expected} (character offset of {token!r})")
    like(text, "<<HERE>>" + token, f"{label}: the excerpt marks {token!r}")


def orders_state():
    return psql("SELECT count(*) || '|' || sum(total) FROM sales.orders")


# ==============================================================================================
s = Server()
s.initialize()

# --- tools/list -------------------------------------------------------------------------------
with section("tools/list"):
    r = s.request("tools/list")
    tools = {t["name"]: t for t in r["result"]["tools"]}
    ok(all(n in tools for n in BUILTIN), "tools/list offers every built-in read-only tool",
       sorted(tools))
    ok("execute" not in tools, "execute is not offered in read_only mode", sorted(tools))
    ok("nextCursor" not in r["result"], "all tools fit on one page by default")
    required = {"query": ["sql"], "explain": ["sql"], "describe_table": ["table"]}
    for name in BUILTIN:
        t = tools.get(name, {})
        OUTPUT_SCHEMAS[name] = t.get("outputSchema", {})
        problems = []
        if not (isinstance(t.get("title"), str) and t["title"]):
            problems.append("no title")
        if not (isinstance(t.get("description"), str) and len(t["description"]) >= 40):
            problems.append("description missing or too short to be precise")
        ins = t.get("inputSchema", {})
        if ins.get("type") != "object" or not isinstance(ins.get("properties"), dict):
            problems.append("inputSchema is not an object schema with properties")
        if ins.get("additionalProperties") is not False:
            problems.append("inputSchema does not refuse additional properties")
        if sorted(ins.get("required", [])) != sorted(required.get(name, [])):
            problems.append(f"inputSchema.required is {ins.get('required')}, expected "
                            f"{required.get(name, [])}")
        for req in required.get(name, []):
            ex = ins.get("properties", {}).get(req, {}).get("examples")
            if not (isinstance(ex, list) and ex):
                problems.append(f"required argument {req} has no examples")
        for pname, p in ins.get("properties", {}).items():
            if not isinstance(p, dict) or "type" not in p:
                problems.append(f"argument {pname} has no type")
        outs = t.get("outputSchema", {})
        if outs.get("type") != "object" or not outs.get("required") or not outs.get("properties"):
            problems.append("outputSchema is not an object schema with properties and required")
        ann = t.get("annotations", {})
        if ann.get("readOnlyHint") is not True:
            problems.append("annotations.readOnlyHint is not true")
        if ann.get("destructiveHint") is not False:
            problems.append("annotations.destructiveHint is not false")
        for hint in ["idempotentHint", "openWorldHint"]:
            if not isinstance(ann.get(hint), bool):
                problems.append(f"annotations.{hint} missing")
        ok(not problems, f"tools/list: {name} has title, description, inputSchema, outputSchema "
           "and annotations", "; ".join(problems))
    q = tools["query"]
    is_(q["inputSchema"]["properties"]["max_rows"].get("maximum"), 1000,
        "query.max_rows maximum is the configured max_rows")
    like(q["description"], "1000", "query's description states the row limit")
    ex = tools["list_tables"]["inputSchema"]["properties"]["pattern"].get("examples")
    ok(isinstance(ex, list) and ex, "list_tables.pattern has examples", ex)

# --- query: basics and parameters -------------------------------------------------------------
with section("query parameters"):
    r = s.call("query", {"sql": "SELECT 1 AS one, 'x'::text AS t"})
    sc = tool_ok(r, "query", "query SELECT 1")
    same(sc.get("columns"), [{"name": "one", "type": "integer"}, {"name": "t", "type": "text"}],
         "query: columns with PostgreSQL type names")
    same(sc.get("rows"), [{"one": 1, "t": "x"}], "query: rows keyed by column name")
    same([sc.get("row_count"), sc.get("truncated")], [1, False], "query: row_count 1, truncated false")

    psql("CREATE TABLE IF NOT EXISTS public.pgmcp_t0020_x (id int)")
    try:
        inj = "'; DROP TABLE pgmcp_t0020_x; --"
        r = s.call("query", {"sql": "SELECT $1::text AS s, $2::int AS i, $3::numeric AS n, "
                             "$4::float8 AS f, $5::boolean AS b, $6::boolean AS b2, $7::text AS z, "
                             "$8::text AS inj, $9::bigint AS big",
                             "params": ["héllo \"q\" 😀\n", 42, 3.25, -1.5e10, True, False, None,
                                        inj, 9007199254740993]})
        sc = tool_ok(r, "query", "query with params")
        same(sc.get("rows"), [{"s": "héllo \"q\" 😀\n", "i": 42, "n": 3.25, "f": -1.5e10, "b": True,
                               "b2": False, "z": None, "inj": inj, "big": "9007199254740993"}],
             "query: strings, numbers, booleans and null bound to $1..$9 round-trip")
        r = s.call("query", {"sql": "SELECT count(*) AS n FROM sales.customers WHERE full_name = $1",
                             "params": [inj]})
        same(tool_ok(r, "query", "query with injection text").get("rows"), [{"n": 0}],
             "query: an injection attempt in a param is just a value that matches nothing")
        r = s.call("query", {"sql": "SELECT count(*) AS n FROM sales.customers WHERE country = $1 "
                             "AND signup_date > $2::date", "params": ["DE", "2023-01-01"]})
        same(tool_ok(r, "query", "query filtering by params").get("rows"), [{"n": 5}],
             "query: params filter (5 customers in DE)")
        is_(psql("SELECT to_regclass('public.pgmcp_t0020_x') IS NOT NULL"), "t",
            "the table named in the injection text still exists")
    finally:
        psql("DROP TABLE IF EXISTS public.pgmcp_t0020_x")

    r = s.call("query", {"sql": "SELECT $1::int + $2::int AS s", "params": [1]})
    tool_err(r, "query with too few params", "$2")
    r = s.call("query", {"sql": "SELECT $1::int AS s"})
    tool_err(r, "query with a placeholder and no params", "$1")
    r = s.call("query", {"sql": "SELECT 1", "bogus": 1})
    tool_err(r, "query with an unknown argument", "bogus")
    r = s.call("query", {})
    tool_err(r, "query without sql", "sql")
    r = s.call("query", {"sql": 42})
    tool_err(r, "query with a non-string sql", "sql")
    r = s.call("query", {"sql": "SELECT 1", "params": "x"})
    tool_err(r, "query with params not an array", "params")

# --- query: errors ----------------------------------------------------------------------------
with section("query errors"):
    sql = "SELEC 1"
    text = tool_err(s.call("query", {"sql": sql}), "syntax error", "42601")
    check_position(text, sql, "SELEC", "syntax error at the start")

    sql = "SELECT 1 FROM sales.orders WHERE"
    text = tool_err(s.call("query", {"sql": sql}), "syntax error at the end", "42601")
    is_(position_of(text), len(sql) + 1, "syntax error at end of input: POSITION is one past the end")

    sql = "  -- a leading comment\n  /* and a block */ SELECT id FROM sales.orders WHERE ORDER BY id;  "
    text = tool_err(s.call("query", {"sql": sql}), "syntax error after leading comments", "42601")
    check_position(text, sql, "ORDER BY", "syntax error after comments, with trailing semicolon")

    sql = "SELECT 'é✓😀 日本' AS s FROM WHERE"
    text = tool_err(s.call("query", {"sql": sql}), "syntax error after multibyte text", "42601")
    check_position(text, sql, "WHERE", "syntax error after multibyte characters")

    sql = "SELECT nosuchcol FROM sales.orders"
    text = tool_err(s.call("query", {"sql": sql}), "unknown column", "42703", "nosuchcol")
    check_position(text, sql, "nosuchcol", "unknown column")

    sql = "\n\n   /* hi */ SELECT id, nosuchcol FROM sales.orders ;\n"
    text = tool_err(s.call("query", {"sql": sql}), "unknown column after whitespace", "42703")
    check_position(text, sql, "nosuchcol", "unknown column after leading whitespace and comment")

    sql = "SELECT o.totl FROM sales.orders o"
    text = tool_err(s.call("query", {"sql": sql}), "misspelt column", "42703", "HINT:", "o.total")
    check_position(text, sql, "o.totl", "misspelt column")

    text = tool_err(s.call("query", {"sql": "SELECT * FROM sales.nosuch"}), "unknown table",
                    "42P01", "sales.nosuch")
    text = tool_err(s.call("query", {"sql": "SELECT 1/0 AS x"}), "division by zero", "22012")
    r = s.call("query", {"sql": "SELECT 1 AS ok"})
    same(tool_ok(r, "query", "query after errors").get("rows"), [{"ok": 1}],
         "the connection still works after errors")

# --- query: typed JSON of types_demo.all_types ------------------------------------------------
with section("typed JSON"):
    r = s.call("query", {"sql": "SELECT * FROM types_demo.all_types ORDER BY id"})
    sc = tool_ok(r, "query", "SELECT * FROM types_demo.all_types")
    is_(sc.get("row_count"), 12, "all_types has 12 rows")
    rows = {row["id"]: row for row in sc.get("rows", [])}
    cols = {c["name"]: c["type"] for c in sc.get("columns", [])}
    same({k: cols.get(k) for k in ["id", "c_smallint", "c_bigint", "c_real", "c_double", "c_numeric",
                                   "c_boolean", "c_text", "c_jsonb", "c_int_array", "c_text_array",
                                   "c_bytea", "c_timestamptz", "c_interval", "c_uuid"]},
         {"id": "integer", "c_smallint": "smallint", "c_bigint": "bigint", "c_real": "real",
          "c_double": "double precision", "c_numeric": "numeric", "c_boolean": "boolean",
          "c_text": "text", "c_jsonb": "jsonb", "c_int_array": "integer[]",
          "c_text_array": "text[]", "c_bytea": "bytea", "c_timestamptz": "timestamptz",
          "c_interval": "interval", "c_uuid": "uuid"},
         "all_types: column type names")
    oid_named = {k: v for k, v in cols.items() if not v or v.startswith("oid:")}
    ok(not oid_named, "all_types: every column has a type name (enums and composites too)",
       f"columns reported by OID only: {oid_named}")

    def cell(i, col):
        return rows.get(i, {}).get(col, "<missing>")

    cases = [
        # 1 ordinary values
        (1, "c_smallint", 42), (1, "c_integer", 123456), (1, "c_bigint", 1234567890123),
        (1, "c_real", 1.5), (1, "c_double", 1.5), (1, "c_numeric", 123.45),
        (1, "c_numeric_10_2", 19.99), (1, "c_boolean", True), (1, "c_text", "hello"),
        (1, "c_varchar", "varchar"), (1, "c_char", "abc  "),
        (1, "c_json", {"name": "pgmcp", "tags": ["a", "b"], "nested": {"n": [1, 2.5, None, True]}}),
        (1, "c_jsonb", {"name": "pgmcp", "tags": ["a", "b"], "nested": {"n": [1, 2.5, None, True]}}),
        (1, "c_int_array", [1, 2, 3]), (1, "c_text_array", ["alpha", "beta"]),
        (1, "c_int_2d", [[1, 2], [3, 4]]), (1, "c_bytea", "3q2+7w=="),
        (1, "c_date", "2024-02-29"), (1, "c_time", "13:45:30.123456"),
        (1, "c_timetz", "13:45:30+05:30"), (1, "c_timestamp", "2024-02-29T12:34:56.789"),
        (1, "c_timestamptz", "2024-02-29T12:34:56.789+00:00"),
        (1, "c_interval", "P1Y2M3DT4H5M6.789S"),
        (1, "c_uuid", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"), (1, "c_inet", "192.168.1.10/24"),
        (1, "c_cidr", "10.0.0.0/8"), (1, "c_macaddr", "08:00:2b:01:02:03"),
        (1, "c_enum", "happy"), (1, "c_composite", "(widget,3)"), (1, "c_int4range", "[1,10)"),
        (1, "c_tstzrange", '["2024-01-01 00:00:00+00","2024-12-31 23:59:59+00")'),
        (1, "c_point", "(1.5,-2)"), (1, "c_xml", "<note><to>you</to></note>"),
        (1, "c_domain", 7), (1, "c_oid", 1259),
        # 2 maximum values
        (2, "c_smallint", 32767), (2, "c_integer", 2147483647),
        (2, "c_bigint", "9223372036854775807"), (2, "c_real", 3.4028235e38),
        (2, "c_double", 1.7976931348623157e308),
        (2, "c_numeric", "12345678901234567890.123456789"), (2, "c_numeric_10_2", 99999999.99),
        (2, "c_date", "infinity"), (2, "c_timestamp", "infinity"), (2, "c_timestamptz", "infinity"),
        (2, "c_int4range", "(,6)"), (2, "c_inet", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"),
        (2, "c_domain", 2147483647), (2, "c_oid", 4294967295),
        # 3 minimum values
        (3, "c_smallint", -32768), (3, "c_integer", -2147483648),
        (3, "c_bigint", "-9223372036854775808"), (3, "c_real", -1.5), (3, "c_double", 0),
        (3, "c_numeric", -0.000000001), (3, "c_numeric_10_2", -99999999.99),
        (3, "c_date", "-infinity"), (3, "c_timestamp", "-infinity"),
        (3, "c_timestamptz", "-infinity"), (3, "c_int4range", "[0,)"),
        # 4 beyond 2^53 and inexact binary fractions
        (4, "c_bigint", "9007199254740993"), (4, "c_real", 0.1), (4, "c_double", 0.1),
        (4, "c_numeric", 0.1), (4, "c_numeric_10_2", 0.1),
        (4, "c_bigint_array", ["9007199254740993", "-9223372036854775808"]),
        # 5-7 NaN and infinities
        (5, "c_real", "NaN"), (5, "c_double", "NaN"), (5, "c_numeric", "NaN"),
        (6, "c_real", "Infinity"), (6, "c_double", "Infinity"), (6, "c_numeric", "Infinity"),
        (7, "c_real", "-Infinity"), (7, "c_double", "-Infinity"), (7, "c_numeric", "-Infinity"),
        # 8 text needing escapes
        (8, "c_text", "quote \" apostrophe ' backslash \\ newline \n tab \t cr \r bell \x07 "
                      "unit-sep \x1f del \x7f héllo ✓ 日本 😀"),
        (8, "c_varchar", 'tab\there "q"'), (8, "c_char", 'a\\b"c'),
        (8, "c_json", {"s": "line1\nline2 \"quoted\" \\ é 😀", "a": [1, [2, [3]]]}),
        (8, "c_jsonb", {"s": "line1\nline2 \"quoted\" \\ é 😀", "a": [1, [2, [3]]]}),
        (8, "c_text_array", ["plain", 'needs "quotes"', "comma,here", "back\\slash", "brace{}",
                             " spaces ", "NULL", "new\nline", "héllo ✓ 日本 😀"]),
        (8, "c_composite", '("widget, ""large""",3)'), (8, "c_xml", "<p>a &amp; b &lt; c</p>"),
        # 9 arrays with NULL elements
        (9, "c_int_array", [1, None, 3]), (9, "c_text_array", ["a", None, "c", ""]),
        (9, "c_int_2d", [[1, None], [None, 4]]),
        # 10 zero and empty values
        (10, "c_smallint", 0), (10, "c_bigint", 0), (10, "c_real", 0), (10, "c_numeric", 0),
        (10, "c_boolean", False), (10, "c_text", ""), (10, "c_char", "     "),
        (10, "c_json", {}), (10, "c_jsonb", []), (10, "c_int_array", []),
        (10, "c_text_array", []), (10, "c_bytea", ""), (10, "c_interval", "PT0S"),
        (10, "c_composite", "(,)"), (10, "c_int4range", "empty"), (10, "c_tstzrange", "empty"),
        # 11 JSON scalars, BC dates, negative interval
        (11, "c_json", "just a string"), (11, "c_jsonb", None),
        (11, "c_timestamptz", "0001-01-01T00:00:00+00:00"), (11, "c_time", "24:00:00"),
        (11, "c_timetz", "00:00:00-12:00"), (11, "c_interval", "P-1DT-2H-3M-4.5S"),
    ]
    for i, col, expected in cases:
        same(cell(i, col), expected, f"all_types row {i} ({rows.get(i, {}).get('label')}): {col}")
    for col in ["c_date", "c_timestamp"]:
        v = cell(11, col)
        ok(isinstance(v, str) and ("BC" in v or v.startswith("-0043")),
           f"all_types row 11: {col} keeps the BC era", v)
    for col in ["c_money"]:
        v = cell(1, col)
        ok(isinstance(v, str) and "1,234.56" in v, "all_types row 1: money as its text", v)
    nulls = {k: v for k, v in rows.get(12, {}).items() if k not in ("id", "label") and v is not None}
    ok(12 in rows and not nulls, "all_types row 12: every NULL column is JSON null", nulls)

    r = s.call("query", {"sql": "SELECT 9007199254740992::bigint AS max_safe, "
                         "-9007199254740992::bigint AS min_safe, 9007199254740993::bigint AS over, "
                         "(-9007199254740993)::bigint AS under, 0::bigint AS zero"})
    same(tool_ok(r, "query", "bigint bounds").get("rows"),
         [{"max_safe": 9007199254740992, "min_safe": -9007199254740992, "over": "9007199254740993",
           "under": "-9007199254740993", "zero": 0}],
         "bigint: within ±2^53 a number, beyond it an exact string")
    r = s.call("query", {"sql": "SELECT '{NaN,Infinity,-Infinity,1.5}'::float8[] AS f, "
                         "'{12345678901234567890.5,1.25}'::numeric[] AS n, "
                         "ARRAY['\\xdeadbeef'::bytea, NULL] AS b, '{t,f,NULL}'::bool[] AS bo, "
                         "ARRAY['2024-02-29 12:34:56.789+00'::timestamptz] AS ts, "
                         "ARRAY['1 day 2 hours'::interval] AS iv, "
                         "'{{\"a b\",\"c,d\"},{\"e\\\"f\",NULL}}'::text[] AS t2, "
                         "'[0:1]={7,8}'::int[] AS bounds, ARRAY['{\"k\": [1, 2]}'::jsonb] AS js, "
                         "'{}'::int[] AS empty"})
    same(tool_ok(r, "query", "more arrays").get("rows"),
         [{"f": ["NaN", "Infinity", "-Infinity", 1.5], "n": ["12345678901234567890.5", 1.25],
           "b": ["3q2+7w==", None], "bo": [True, False, None],
           "ts": ["2024-02-29T12:34:56.789+00:00"], "iv": ["P1DT2H"],
           "t2": [["a b", "c,d"], ['e"f', None]], "bounds": [7, 8], "js": [{"k": [1, 2]}],
           "empty": []}],
         "arrays: special floats, exact numerics, bytea, booleans, timestamps, intervals, "
         "quoted 2-D text, explicit bounds, jsonb elements, empty")

    r = s.call("query", {"sql": "SELECT 1 AS a, 2 AS a"})
    sc = tool_ok(r, "query", "duplicate column names")
    same([c.get("name") for c in sc.get("columns", [])], ["a", "a_2"],
         "duplicate column names: a and a_2")
    same(sc.get("rows"), [{"a": 1, "a_2": 2}], "duplicate column names: both values kept")
    r = s.call("query", {"sql": "SELECT 1 AS a, 2 AS a, 3 AS a_2"})
    sc = tool_ok(r, "query", "a renamed duplicate colliding with a real column name")
    names = [c.get("name") for c in sc.get("columns", [])]
    ok(len(set(names)) == 3 and len(sc.get("rows", [{}])[0]) == 3,
       "duplicate column names: renaming never collides with another column (a, a, a_2)",
       f"columns {names}, row {sc.get('rows')}")
    r = s.call("query", {"sql": "SELECT 1 AS \"we\"\"ird ✓\\ name\""})
    same(tool_ok(r, "query", "odd column name").get("rows"), [{"we\"ird ✓\\ name": 1}],
         "column names with quotes, backslashes and unicode are escaped as keys")

# --- list_schemas -----------------------------------------------------------------------------
EXPECTED_SCHEMAS = {
    "sales": ("Customers, orders and order lines", 3, 2),
    "inventory": ("Products and stock", 1, 0),
    "hr": ("Employees", 2, 0),
    "types_demo": ("One column per data type, for testing result encoding", 1, 0),
    "public": (None, 1, 0),
}
with section("list_schemas"):
    sc = tool_ok(s.call("list_schemas", {}), "list_schemas", "list_schemas")
    by = {x["name"]: x for x in sc.get("schemas", [])}
    ok(set(EXPECTED_SCHEMAS) <= set(by), "list_schemas: sales, inventory, hr, types_demo, public",
       sorted(by))
    ok("pg_catalog" not in by and "information_schema" not in by and
       not any(n.startswith("pg_toast") for n in by), "list_schemas hides system schemas", sorted(by))
    for name, (desc, tables, views) in EXPECTED_SCHEMAS.items():
        x = by.get(name, {})
        if desc is not None:
            is_(x.get("description"), desc, f"list_schemas: {name} description")
        same([x.get("tables"), x.get("views")], [tables, views],
             f"list_schemas: {name} has {tables} tables and {views} views")
    is_(sc.get("row_count"), len(sc.get("schemas", [])), "list_schemas: row_count")
    sc = tool_ok(s.call("list_schemas", {"include_system": True}), "list_schemas",
                 "list_schemas include_system")
    names = {x["name"] for x in sc.get("schemas", [])}
    ok({"pg_catalog", "information_schema", "sales"} <= names,
       "list_schemas include_system shows pg_catalog and information_schema", sorted(names))
    tool_err(s.call("list_schemas", {"bogus": True}), "list_schemas unknown argument", "bogus")
    tool_err(s.call("list_schemas", {"include_system": "yes"}), "list_schemas non-boolean",
             "include_system")

# --- list_tables ------------------------------------------------------------------------------
EXPECTED_TABLES = {
    ("inventory", "products"): ("table", 40), ("sales", "customers"): ("table", 50),
    ("sales", "orders"): ("table", 200), ("sales", "order_items"): ("table", 500),
    ("hr", "employees"): ("table", 12), ("hr", "on_call"): ("table", 6),
    ("public", "audit_events"): ("partitioned table", 100),
    ("types_demo", "all_types"): ("table", 12),
    ("sales", "order_summary"): ("view", None),
    ("sales", "monthly_revenue"): ("materialized view", 17),
}
with section("list_tables"):
    sc = tool_ok(s.call("list_tables", {}), "list_tables", "list_tables")
    by = {(x["schema"], x["name"]): x for x in sc.get("tables", [])}
    ok(set(EXPECTED_TABLES) <= set(by), "list_tables lists every sample table and view",
       sorted(set(EXPECTED_TABLES) - set(by)))
    for key, (kind, rows_) in EXPECTED_TABLES.items():
        x = by.get(key, {})
        same([x.get("kind"), x.get("row_estimate")], [kind, rows_],
             f"list_tables: {key[0]}.{key[1]} is a {kind} with row_estimate {rows_}")
    ok(all(isinstance(by.get(k, {}).get("total_bytes"), int) and by[k]["total_bytes"] > 0
           for k, (kind, _) in EXPECTED_TABLES.items() if kind != "view"),
       "list_tables: total_bytes for every table and materialized view")
    is_(by.get(("sales", "orders"), {}).get("description"), "One row per checkout",
        "list_tables: descriptions")
    parts = [k for k in by if k[1].startswith("audit_events_")]
    ok(not parts, "list_tables hides partitions", parts)
    ok(not any(k[0] in ("pg_catalog", "information_schema") for k in by),
       "list_tables hides system catalogs by default")

    sc = tool_ok(s.call("list_tables", {"schema": "sales"}), "list_tables", "list_tables schema")
    same(sorted(x["name"] for x in sc.get("tables", [])),
         ["customers", "monthly_revenue", "order_items", "order_summary", "orders"],
         "list_tables schema=sales")
    sc = tool_ok(s.call("list_tables", {"schema": "sales", "pattern": "%ORDER%"}), "list_tables",
                 "list_tables pattern")
    same(sorted(x["name"] for x in sc.get("tables", [])), ["order_items", "order_summary", "orders"],
         "list_tables pattern %ORDER% is case-insensitive")
    sc = tool_ok(s.call("list_tables", {"pattern": "employ%"}), "list_tables", "list_tables pattern 2")
    same([(x["schema"], x["name"]) for x in sc.get("tables", [])], [("hr", "employees")],
         "list_tables pattern employ% across schemas")
    sc = tool_ok(s.call("list_tables", {"include_views": False}), "list_tables", "list_tables no views")
    kinds = {x["kind"] for x in sc.get("tables", [])}
    ok(kinds and not kinds & {"view", "materialized view"}, "list_tables include_views false",
       sorted(kinds))
    sc = tool_ok(s.call("list_tables", {"schema": "nosuch"}), "list_tables", "list_tables no schema")
    same([sc.get("tables"), sc.get("row_count")], [[], 0], "list_tables for a missing schema is empty")
    tool_err(s.call("list_tables", {"bogus": 1}), "list_tables unknown argument", "bogus")

# --- describe_table ---------------------------------------------------------------------------
with section("describe_table sales.orders"):
    sc = tool_ok(s.call("describe_table", {"table": "sales.orders"}), "describe_table",
                 "describe_table sales.orders")
    same([sc.get("schema"), sc.get("name"), sc.get("kind"), sc.get("description")],
         ["sales", "orders", "table", "One row per checkout"], "describe_table: identity")
    cols = {c["name"]: c for c in sc.get("columns", [])}
    same([c["name"] for c in sc.get("columns", [])],
         ["id", "customer_id", "status", "ordered_at", "total", "note"],
         "describe_table: columns in order")
    same([cols.get("id", {}).get("type"), cols.get("status", {}).get("type"),
          cols.get("total", {}).get("type"), cols.get("ordered_at", {}).get("type")],
         ["bigint", "sales.order_status", "numeric(12,2)", "timestamp with time zone"],
         "describe_table: column types")
    same([cols.get("id", {}).get("nullable"), cols.get("note", {}).get("nullable")], [False, True],
         "describe_table: nullability")
    like(cols.get("status", {}).get("default"), "pending", "describe_table: defaults")
    like(cols.get("id", {}).get("default"), "nextval", "describe_table: serial default")
    is_(cols.get("total", {}).get("description"), "Sum of the order's line totals",
        "describe_table: column comments")
    same(sc.get("primary_key"), ["id"], "describe_table: primary key")
    fks = sc.get("foreign_keys", [])
    ok(any(f.get("references") == "sales.customers" and "REFERENCES sales.customers(id)" in
           f.get("definition", "") for f in fks), "describe_table: foreign key to sales.customers", fks)
    refs = sc.get("referenced_by", [])
    ok(any(f.get("table") == "sales.order_items" and "ON DELETE CASCADE" in f.get("definition", "")
           for f in refs), "describe_table: referenced by sales.order_items", refs)
    idx = {i["name"]: i for i in sc.get("indexes", [])}
    ok(set(idx) >= {"orders_pkey", "orders_customer_ordered_idx", "orders_pending_idx"},
       "describe_table: indexes", sorted(idx))
    same([idx.get("orders_pkey", {}).get("primary"), idx.get("orders_pkey", {}).get("unique")],
         [True, True], "describe_table: the primary key index is primary and unique")
    like(idx.get("orders_pending_idx", {}).get("definition"), "WHERE",
         "describe_table: partial index definition")
    is_(sc.get("row_estimate"), 200, "describe_table: row_estimate")
    ok(isinstance(sc.get("total_bytes"), int) and sc["total_bytes"] > 0, "describe_table: total_bytes")

with section("describe_table constraints"):
    sc = tool_ok(s.call("describe_table", {"table": "inventory.products"}), "describe_table",
                 "describe_table inventory.products")
    cons = {c["name"]: c for c in sc.get("constraints", [])}
    same([cons.get("products_sku_key", {}).get("type"), cons.get("products_price_check", {}).get("type")],
         ["unique", "check"], "describe_table: unique and check constraints")
    like(cons.get("products_price_check", {}).get("definition"), "price >= 0",
         "describe_table: check definition")
    sc = tool_ok(s.call("describe_table", {"table": "hr.on_call"}), "describe_table",
                 "describe_table hr.on_call")
    cons = {c["name"]: c for c in sc.get("constraints", [])}
    is_(cons.get("on_call_no_overlap", {}).get("type"), "exclusion",
        "describe_table: exclusion constraint")
    sc = tool_ok(s.call("describe_table", {"table": "hr.employees"}), "describe_table",
                 "describe_table hr.employees")
    ok(any(f.get("references") == "hr.employees" for f in sc.get("foreign_keys", [])) and
       any(f.get("table") == "hr.employees" for f in sc.get("referenced_by", [])),
       "describe_table: a self-referencing key shows in both directions")

with section("describe_table naming"):
    for args, label in [({"table": "customers"}, "unqualified name found outside search_path"),
                        ({"table": "orders", "schema": "sales"}, "schema argument"),
                        ({"table": '"sales"."orders"'}, "quoted qualified name"),
                        ({"table": 'sales."orders"'}, "partly quoted name"),
                        ({"table": "Sales.Orders"}, "unquoted names fold to lower case")]:
        r = s.call("describe_table", args)
        sc = tool_ok(r, "describe_table", f"describe_table {label}")
        want = "customers" if args["table"] == "customers" else "orders"
        same([sc.get("schema"), sc.get("name")], ["sales", want], f"describe_table: {label}")

    psql('CREATE TABLE public."Pgmcp Mixed" (id int PRIMARY KEY, "Odd Col" text); '
         'CREATE TABLE public."pgmcp.dotted" (x int)')
    try:
        for args, want, label in [
                ({"table": '"Pgmcp Mixed"'}, "Pgmcp Mixed", "quoted mixed-case name"),
                ({"table": 'public."Pgmcp Mixed"'}, "Pgmcp Mixed", "schema + quoted name"),
                ({"table": "Pgmcp Mixed", "schema": "public"}, "Pgmcp Mixed",
                 "exact name with the schema argument"),
                ({"table": '"pgmcp.dotted"'}, "pgmcp.dotted", "quoted name containing a dot"),
                ({"table": 'public."pgmcp.dotted"'}, "pgmcp.dotted", "schema + quoted dotted name")]:
            sc = tool_ok(s.call("describe_table", args), "describe_table", f"describe_table {label}")
            same([sc.get("schema"), sc.get("name")], ["public", want], f"describe_table: {label}")
        sc = tool_ok(s.call("describe_table", {"table": '"Pgmcp Mixed"'}), "describe_table",
                     "describe_table quoted column")
        same([c.get("name") for c in sc.get("columns", [])], ["id", "Odd Col"],
             "describe_table: quoted column names")
    finally:
        psql('DROP TABLE IF EXISTS public."Pgmcp Mixed", public."pgmcp.dotted"')

    text = tool_err(s.call("describe_table", {"table": "sales.order"}), "describe_table not found",
                    "not found", "sales.orders")
    text = tool_err(s.call("describe_table", {"table": "sales.ordrs"}),
                    "describe_table of a misspelt name suggests similar names", "sales.orders")
    tool_err(s.call("describe_table", {"table": "nosuch_zzz"}), "describe_table of nothing alike",
             "not found")
    tool_err(s.call("describe_table", {}), "describe_table without table", "table")
    tool_err(s.call("describe_table", {"table": "orders", "bogus": 1}),
             "describe_table unknown argument", "bogus")

with section("describe_table views and partitions"):
    sc = tool_ok(s.call("describe_table", {"table": "sales.order_summary"}), "describe_table",
                 "describe_table view")
    is_(sc.get("kind"), "view", "describe_table: a view's kind")
    like(sc.get("view_definition"), "FROM sales.orders", "describe_table: view_definition")
    is_(len(sc.get("columns", [])), 9, "describe_table: view columns")
    sc = tool_ok(s.call("describe_table", {"table": "sales.monthly_revenue"}), "describe_table",
                 "describe_table matview")
    same([sc.get("kind"), sc.get("row_estimate")], ["materialized view", 17],
         "describe_table: materialized view")
    like(sc.get("view_definition"), "date_trunc", "describe_table: materialized view definition")
    sc = tool_ok(s.call("describe_table", {"table": "public.audit_events"}), "describe_table",
                 "describe_table partitioned")
    same([sc.get("kind"), sc.get("partition_key")], ["partitioned table", "RANGE (created_at)"],
         "describe_table: partitioned table and its partition_key")
    parts = {p.get("name"): p.get("bounds", "") for p in sc.get("partitions", [])}
    ok(set(parts) == {"audit_events_2024", "audit_events_2025"} or
       set(parts) == {"public.audit_events_2024", "public.audit_events_2025"},
       "describe_table: partitions listed", parts)
    ok(all("FOR VALUES FROM" in b for b in parts.values()) and parts, "describe_table: partition bounds")
    same(sc.get("primary_key"), ["id", "created_at"], "describe_table: composite primary key")
    lt = s.call("list_tables", {"schema": "public", "pattern": "audit_events"})
    lt_bytes = [x.get("total_bytes") for x in
                lt.get("result", {}).get("structuredContent", {}).get("tables", [])]
    is_(sc.get("total_bytes"), lt_bytes[0] if lt_bytes else "<list_tables failed>",
        "describe_table: a partitioned table's total_bytes counts its partitions (as list_tables)")
    sc = tool_ok(s.call("describe_table", {"table": "audit_events_2024"}), "describe_table",
                 "describe_table partition")
    like(sc.get("partition_of"), "audit_events", "describe_table: partition_of")

# --- explain ----------------------------------------------------------------------------------
with section("explain"):
    before = orders_state()
    is_(before, "200|218985.00", "sales.orders has its header row count and total")
    sc = tool_ok(s.call("explain", {"sql": "SELECT * FROM sales.orders WHERE customer_id = $1",
                                    "params": [3]}), "explain", "explain text")
    plan = sc.get("plan")
    ok(isinstance(plan, str) and "orders" in plan and "cost=" in plan and "actual time" not in plan,
       "explain: a text plan", plan)
    like(plan, "customer_id = 3", "explain: params are bound")
    same([sc.get("format"), sc.get("analyzed")], ["text", False], "explain: format text, not analyzed")
    sc = tool_ok(s.call("explain", {"sql": "SELECT * FROM sales.orders", "format": "json"}),
                 "explain", "explain json")
    plan = sc.get("plan")
    ok(isinstance(plan, list) and plan and plan[0].get("Plan", {}).get("Node Type") == "Seq Scan",
       "explain format json: a JSON plan array", str(plan)[:500])
    sc = tool_ok(s.call("explain", {"sql": "SELECT count(*) FROM sales.orders", "analyze": True}),
                 "explain", "explain analyze")
    like(sc.get("plan"), "actual time=", "explain analyze: actual times")
    like(sc.get("plan"), "Execution Time", "explain analyze: execution time")
    is_(sc.get("analyzed"), True, "explain analyze: analyzed true")
    sc = tool_ok(s.call("explain", {"sql": "SELECT count(*) FROM sales.orders", "analyze": True,
                                    "buffers": True, "format": "json"}), "explain",
                 "explain analyze json")
    p = sc.get("plan")
    ok(isinstance(p, list) and "Actual Total Time" in p[0].get("Plan", {}),
       "explain analyze json: actual times in the JSON plan", str(p)[:500])

    tool_err(s.call("explain", {"sql": "DELETE FROM sales.orders", "analyze": True}),
             "explain analyze of a DELETE is refused")
    tool_err(s.call("explain", {"sql": "UPDATE sales.orders SET total = 0", "analyze": True}),
             "explain analyze of an UPDATE is refused")
    sc = tool_ok(s.call("explain", {"sql": "DELETE FROM sales.orders WHERE id < 10"}), "explain",
                 "explain DELETE")
    like(sc.get("plan"), "Delete on orders", "explain of a DELETE shows the plan")
    is_(orders_state(), before, "explain of DELETE and refused analyze left sales.orders unchanged")

    sql = "-- explain me\n  SELECT nosuch FROM sales.orders;"
    text = tool_err(s.call("explain", {"sql": sql}), "explain of an unknown column", "42703")
    check_position(text, sql, "nosuch", "explain error position maps back to the given SQL")
    sql = "SELECT 1 FROM sales.orders WHERE ORDER BY 1"
    text = tool_err(s.call("explain", {"sql": sql}), "explain syntax error", "42601")
    check_position(text, sql, "ORDER", "explain syntax error position")
    tool_err(s.call("explain", {"sql": "SELECT 1", "format": "yaml"}), "explain bad format", "format")
    tool_err(s.call("explain", {"sql": "SELECT 1", "bogus": 1}), "explain unknown argument", "bogus")
    tool_err(s.call("explain", {"sql": "SELECT $1::int"}), "explain missing param", "$1")

# --- list_extensions, database_info -----------------------------------------------------------
with section("list_extensions"):
    sc = tool_ok(s.call("list_extensions", {}), "list_extensions", "list_extensions")
    ext = {e["name"]: e for e in sc.get("extensions", [])}
    ok("plpgsql" in ext and ext["plpgsql"].get("installed_version"),
       "list_extensions: plpgsql is installed", sorted(ext))
    ok(all(e.get("installed_version") for e in ext.values()), "list_extensions: only installed ones")
    sc2 = tool_ok(s.call("list_extensions", {"available": True}), "list_extensions",
                  "list_extensions available")
    avail = sc2.get("extensions", [])
    ok(len(avail) > len(ext) and any(e.get("installed_version") is None for e in avail),
       "list_extensions available: lists installable extensions too", len(avail))
    tool_err(s.call("list_extensions", {"bogus": 1}), "list_extensions unknown argument", "bogus")

with section("database_info"):
    sc = tool_ok(s.call("database_info", {}), "database_info", "database_info")
    ok(str(sc.get("server_version", "")).startswith("15"), "database_info: server_version 15",
       sc.get("server_version"))
    same([sc.get("database"), sc.get("access"), sc.get("user")], ["pgmcp_test", "read_only", "postgres"],
         "database_info: database, access, user")
    lim = sc.get("limits", {})
    same([lim.get("max_rows"), lim.get("max_result_bytes"), lim.get("statement_timeout_ms")],
         [1000, 1048576, 30000], "database_info: limits")
    tool_err(s.call("database_info", {"bogus": 1}), "database_info unknown argument", "bogus")

with section("unknown tool"):
    r = s.call("nosuch_tool", {})
    is_(r.get("error", {}).get("code"), -32602, "tools/call of an unknown tool: -32602")

rc = s.close()
is_(rc, 0, "server exits 0")

# --- disabling a tool through the configuration file -----------------------------------------
tmp = tempfile.mkdtemp(prefix="pgmcp-t0020-")
try:
    cfg = os.path.join(tmp, "noexplain.yaml")
    with open(cfg, "w") as f:
        f.write("tools:\n  explain:\n    enabled: false\n")
    with section("disabled tool"), Server("-c", cfg) as s2:
        s2.initialize()
        names = [t["name"] for t in s2.request("tools/list")["result"]["tools"]]
        ok("explain" not in names and "query" in names and "describe_table" in names,
           "tools.explain.enabled false removes explain from tools/list", names)
        r = s2.call("explain", {"sql": "SELECT 1"})
        is_(r.get("error", {}).get("code"), -32602, "calling a disabled tool: -32602")
        like(r.get("error", {}).get("message"), "explain", "the error names the tool")
        sc = tool_ok(s2.call("query", {"sql": "SELECT 2 AS two"}), "query", "other tools still work")
        same(sc.get("rows"), [{"two": 2}], "query works with explain disabled")
finally:
    shutil.rmtree(tmp, ignore_errors=True)

done()
