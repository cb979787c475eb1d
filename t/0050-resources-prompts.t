#!/usr/bin/env python3
# t/0050-resources-prompts.t: resources (one per user table/view, pagination, resources/read, error
# codes for unknown and malformed URIs in the handshake and stateless 2026-07-28 eras), the URI
# template, completion/complete for resource templates and prompts, and prompts/list + prompts/get
# (argument substitution, required arguments, the embedded table resource).
import contextlib
import json
import traceback
import urllib.parse

from tap import ok, is_, like, unlike, done
from pgmcp_test import Server, psql, MODERN

TEMPLATE = "pgmcp://tables/{schema}/{table}"
MODERN_META = {"io.modelcontextprotocol/protocolVersion": MODERN,
               "io.modelcontextprotocol/clientCapabilities": {}}
MIXED = "Pgmcp T50 Mixed"       # a table whose name needs quoting and percent-encoding
DOTTED = "pgmcp.t50dotted"      # a table whose name contains a dot


@contextlib.contextmanager
def section(name):
    """Runs a block; an exception (timeout, closed pipe, KeyError...) becomes one failed test."""
    try:
        yield
    except Exception as e:  # noqa: BLE001 - any failure inside a section is a test failure
        ok(False, f"{name}: finished without an exception",
           f"{type(e).__name__}: {e}\n{traceback.format_exc()[-1500:]}")


def res_of(resp, label):
    good = "result" in resp and "error" not in resp
    ok(good, f"{label}: succeeds", json.dumps(resp)[:1500])
    return resp.get("result", {}) if good else {}


def err_code(resp, code, label, needle=None):
    err = resp.get("error", {})
    good = "result" not in resp and err.get("code") == code
    if needle is not None:
        good = good and needle in err.get("message", "")
    ok(good, f"{label}: error {code}" + (f" mentioning {needle}" if needle else ""),
       json.dumps(resp)[:1000])
    return err


def uri_for(schema, table):
    return ("pgmcp://tables/" + urllib.parse.quote(schema, safe="") + "/" +
            urllib.parse.quote(table, safe=""))


def without_sizes(doc):
    """A table description minus the numbers that can change between two reads."""
    return {k: v for k, v in doc.items() if k not in ("total_bytes", "row_estimate")}


def walk_resources(s, params_extra=None, limit=100):
    """Follows nextCursor; returns (uris in order, page sizes, resources by uri, error)."""
    uris, sizes, by_uri, cursor = [], [], {}, None
    for _ in range(limit):
        params = dict(params_extra or {})
        if cursor is not None:
            params["cursor"] = cursor
        r = s.request("resources/list", params)
        if "error" in r:
            return uris, sizes, by_uri, r["error"]
        page = r["result"].get("resources", [])
        sizes.append(len(page))
        for x in page:
            uris.append(x.get("uri"))
            by_uri[x.get("uri")] = x
        cursor = r["result"].get("nextCursor")
        if not cursor:
            return uris, sizes, by_uri, None
    return uris, sizes, by_uri, "too many pages"


psql(f'CREATE TABLE public."{MIXED}" (id int PRIMARY KEY, "Odd Col" text); '
     f'CREATE TABLE public."{DOTTED}" (x int)')
try:
    expected_rel = psql(
        "SELECT n.nspname || '/' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND NOT c.relispartition "
        "AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%' "
        "ORDER BY 1").splitlines()
    expected_uris = sorted(uri_for(*x.split("/", 1)) for x in expected_rel)

    s = Server()
    s.initialize()

    # --- resources/list ---------------------------------------------------------------------
    with section("resources/list"):
        uris, sizes, by_uri, err = walk_resources(s)
        ok(err is None, "resources/list succeeds", err)
        is_(len(sizes), 1, "resources/list: everything on one page at the default page size")
        is_(sorted(uris), expected_uris, "resources/list: one resource per user table and view")
        is_(len(uris), len(expected_rel), f"resources/list: {len(expected_rel)} resources")
        for key in ["sales/orders", "sales/order_summary", "sales/monthly_revenue",
                    "public/audit_events", "types_demo/all_types"]:
            ok(f"pgmcp://tables/{key}" in by_uri, f"resources/list includes pgmcp://tables/{key}")
        ok(not [u for u in uris if "audit_events_20" in u], "resources/list hides partitions")
        bad = [x for x in by_uri.values()
               if not (isinstance(x.get("name"), str) and x["name"] and
                       x.get("mimeType") == "application/json" and
                       x.get("uri", "").startswith("pgmcp://tables/"))]
        ok(not bad, "every resource has a pgmcp://tables/ URI, a name and mimeType application/json",
           bad[:3])
        x = by_uri.get("pgmcp://tables/sales/orders", {})
        is_(x.get("name"), "sales.orders", "resources/list: name is schema.table")
        is_(x.get("description"), "One row per checkout", "resources/list: description from the comment")
        ok(uri_for("public", MIXED) in by_uri,
           "resources/list percent-encodes a name with spaces", [u for u in uris if "public" in u])
        err_code(s.request("resources/list", {"cursor": "not-a-cursor"}), -32602,
                 "resources/list with a bogus cursor")

    # --- resources/read ---------------------------------------------------------------------
    with section("resources/read"):
        r = s.request("resources/read", {"uri": "pgmcp://tables/sales/orders"})
        contents = res_of(r, "resources/read pgmcp://tables/sales/orders").get("contents", [])
        c = contents[0] if contents else {}
        ok(len(contents) == 1 and c.get("uri") == "pgmcp://tables/sales/orders"
           and c.get("mimeType") == "application/json", "resources/read: one JSON content item",
           contents)
        doc = json.loads(c.get("text", "null"))
        d = s.call("describe_table", {"table": "sales.orders"})["result"]["structuredContent"]
        is_(without_sizes(doc), without_sizes(d),
            "resources/read text is the table description (as describe_table)")
        is_([col.get("name") for col in doc.get("columns", [])],
            ["id", "customer_id", "status", "ordered_at", "total", "note"],
            "resources/read: columns of sales.orders")
        is_(doc.get("primary_key"), ["id"], "resources/read: primary key")

        r = s.request("resources/read", {"uri": "pgmcp://tables/sales/order_summary"})
        c = (res_of(r, "resources/read of a view").get("contents") or [{}])[0]
        like(json.loads(c.get("text", "{}")).get("view_definition"), "sales.orders",
             "resources/read of a view has its definition")
        uri = uri_for("public", MIXED)
        r = s.request("resources/read", {"uri": uri})
        c = (res_of(r, "resources/read of a percent-encoded name").get("contents") or [{}])[0]
        is_((c.get("uri"), json.loads(c.get("text", "{}")).get("name")), (uri, MIXED),
            "resources/read decodes %20 in the table name")
        uri = uri_for("public", DOTTED)
        r = s.request("resources/read", {"uri": uri})
        c = (res_of(r, "resources/read of a dotted name").get("contents") or [{}])[0]
        is_(json.loads(c.get("text", "{}")).get("name"), DOTTED, "resources/read of a name with a dot")

        bad_uris = ["pgmcp://tables/sales/nosuch", "pgmcp://tables/nosuch/orders",
                    "pgmcp://tables/sales", "pgmcp://tables/sales/orders/extra",
                    "pgmcp://tables//orders", "pgmcp://tables/sales/", "pgmcp://tables/%zz/orders",
                    "pgmcp://tables/sales/ord%00ers", "http://example.com/sales/orders",
                    "pgmcp://views/sales/orders", ""]
        for u in bad_uris:
            e = err_code(s.request("resources/read", {"uri": u}), -32002,
                         f"resources/read {u!r} (legacy session)")
        e = err_code(s.request("resources/read", {"uri": "pgmcp://tables/sales/nosuch"}), -32002,
                     "resources/read unknown table")
        is_(e.get("data", {}).get("uri"), "pgmcp://tables/sales/nosuch", "the error data names the URI")
        err_code(s.request("resources/read", {}), -32602, "resources/read without uri")
        err_code(s.request("resources/read", {"uri": 5}), -32602, "resources/read with a number uri")

        # Stateless 2026-07-28 requests on the same session.
        for u in ["pgmcp://tables/sales/nosuch", "pgmcp://tables/sales", "nonsense"]:
            err_code(s.request("resources/read", {"uri": u, "_meta": MODERN_META}), -32602,
                     f"resources/read {u!r} at {MODERN}")

    # --- templates and completion -----------------------------------------------------------
    with section("templates"):
        r = s.request("resources/templates/list")
        tpl = res_of(r, "resources/templates/list").get("resourceTemplates", [])
        ok(len(tpl) == 1 and tpl[0].get("uriTemplate") == TEMPLATE and tpl[0].get("name")
           and tpl[0].get("mimeType") == "application/json",
           f"resources/templates/list shows {TEMPLATE}", tpl)

    def complete(ref, name, value, context=None):
        params = {"ref": ref, "argument": {"name": name, "value": value}}
        if context is not None:
            params["context"] = {"arguments": context}
        return s.request("completion/complete", params)

    def values_of(resp, label):
        comp = res_of(resp, label).get("completion", {})
        vals = comp.get("values")
        ok(isinstance(vals, list) and isinstance(comp.get("hasMore"), bool)
           and (comp.get("total") is None or comp.get("total") >= len(vals)),
           f"{label}: values, total and hasMore", comp)
        return vals if isinstance(vals, list) else []

    with section("completion"):
        rref = {"type": "ref/resource", "uri": TEMPLATE}
        is_(values_of(complete(rref, "schema", "sa"), "complete schema 'sa'"), ["sales"],
            "completion: schema prefix 'sa' gives sales")
        vals = values_of(complete(rref, "schema", ""), "complete schema ''")
        ok({"sales", "inventory", "hr", "types_demo", "public"} <= set(vals) and
           not [v for v in vals if v.startswith("pg_") or v == "information_schema"],
           "completion: an empty prefix lists the user schemas only", vals)
        is_(values_of(complete(rref, "table", "or", {"schema": "sales"}), "complete table 'or'"),
            ["order_items", "order_summary", "orders"],
            "completion: table prefix 'or' in schema sales (context.arguments.schema)")
        is_(values_of(complete(rref, "table", "", {"schema": "hr"}), "complete table '' in hr"),
            ["employees", "on_call"], "completion: every table of hr")
        is_(values_of(complete(rref, "table", "or", {"schema": "hr"}), "complete table 'or' in hr"),
            [], "completion: no match in another schema")
        is_(values_of(complete(rref, "schema", "zz"), "complete schema 'zz'"), [],
            "completion: no match is an empty list")
        err_code(complete({"type": "ref/resource", "uri": "pgmcp://nope/{x}"}, "schema", "s"), -32602,
                 "completion for an unknown resource template")
        pref = {"type": "ref/prompt", "name": "table_overview"}
        vals = values_of(complete(pref, "table", "sales.or"), "complete prompt table 'sales.or'")
        is_(vals, ["sales.order_items", "sales.order_summary", "sales.orders"],
            "completion: table_overview table 'sales.or' gives qualified names")
        vals = values_of(complete(pref, "table", "emp"), "complete prompt table 'emp'")
        is_(vals, ["hr.employees"], "completion: table_overview table 'emp' finds hr.employees")
        err_code(complete({"type": "ref/prompt", "name": "nosuch_prompt"}, "table", "emp"), -32602,
                 "completion for an unknown prompt")
        err_code(s.request("completion/complete", {"ref": {"type": "ref/resource", "uri": TEMPLATE}}),
                 -32602, "completion without argument")

    # --- prompts ----------------------------------------------------------------------------
    EXPECTED_PROMPTS = {
        "explore_database": {"focus": False},
        "write_query": {"question": True, "schema": False},
        "explain_query": {"sql": True},
        "table_overview": {"table": True},
    }
    with section("prompts/list"):
        prompts = res_of(s.request("prompts/list"), "prompts/list").get("prompts", [])
        by = {p.get("name"): p for p in prompts}
        is_(sorted(by), sorted(EXPECTED_PROMPTS), "prompts/list: the four prompts")
        for name, args in EXPECTED_PROMPTS.items():
            p = by.get(name, {})
            got = {a.get("name"): a.get("required") for a in p.get("arguments", [])}
            is_(got, args, f"prompts/list: {name} arguments and required flags")
            ok(p.get("title") and p.get("description") and
               all(a.get("description") for a in p.get("arguments", [])),
               f"prompts/list: {name} has a title and descriptions")

    def prompt_text(resp, label):
        msgs = res_of(resp, label).get("messages", [])
        ok(msgs and msgs[0].get("role") == "user" and msgs[0].get("content", {}).get("type") == "text",
           f"{label}: a user text message", msgs[:1])
        return msgs[0].get("content", {}).get("text", "") if msgs else "", msgs

    with section("prompts/get"):
        text, _ = prompt_text(s.request("prompts/get", {"name": "write_query", "arguments": {
            "question": "How many orders were cancelled in 2024?", "schema": "sales"}}),
            "prompts/get write_query")
        like(text, "How many orders were cancelled in 2024?", "write_query: the question is substituted")
        like(text, "schema sales", "write_query: the optional schema is substituted")
        unlike(text, "{", "write_query: no placeholder left")
        text, _ = prompt_text(s.request("prompts/get", {"name": "write_query", "arguments": {
            "question": "Top customers?"}}), "prompts/get write_query without schema")
        unlike(text, "schema", "write_query without schema leaves no trace of it")
        unlike(text, "{", "write_query without schema: no placeholder left")
        text, _ = prompt_text(s.request("prompts/get", {"name": "explain_query", "arguments": {
            "sql": "SELECT * FROM sales.orders WHERE status = 'paid'"}}), "prompts/get explain_query")
        like(text, "SELECT * FROM sales.orders WHERE status = 'paid'", "explain_query: the SQL is substituted")
        text, _ = prompt_text(s.request("prompts/get", {"name": "explore_database",
                                                        "arguments": {"focus": "billing"}}),
                              "prompts/get explore_database")
        like(text, "billing", "explore_database: focus substituted")
        text, _ = prompt_text(s.request("prompts/get", {"name": "explore_database"}),
                              "prompts/get explore_database without arguments")
        unlike(text, "{", "explore_database without focus: no placeholder left")

        err_code(s.request("prompts/get", {"name": "write_query", "arguments": {}}), -32602,
                 "write_query without question", "question")
        err_code(s.request("prompts/get", {"name": "explain_query"}), -32602,
                 "explain_query without arguments", "sql")
        err_code(s.request("prompts/get", {"name": "table_overview", "arguments": {"table": ""}}),
                 -32602, "table_overview with an empty table", "table")
        err_code(s.request("prompts/get", {"name": "nosuch_prompt"}), -32602, "unknown prompt",
                 "nosuch_prompt")
        err_code(s.request("prompts/get", {}), -32602, "prompts/get without a name")
        err_code(s.request("prompts/get", {"name": "write_query", "arguments": ["x"]}), -32602,
                 "prompts/get with arguments not an object")

    with section("table_overview"):
        text, msgs = prompt_text(s.request("prompts/get", {"name": "table_overview",
                                                           "arguments": {"table": "sales.orders"}}),
                                 "prompts/get table_overview")
        like(text, "sales.orders", "table_overview: the table is substituted")
        emb = [m.get("content", {}) for m in msgs if m.get("content", {}).get("type") == "resource"]
        res = emb[0].get("resource", {}) if emb else {}
        ok(len(emb) == 1 and res.get("uri") == "pgmcp://tables/sales/orders"
           and res.get("mimeType") == "application/json",
           "table_overview embeds the table's resource", emb)
        r = s.request("resources/read", {"uri": "pgmcp://tables/sales/orders"})
        read = json.loads(r["result"]["contents"][0]["text"])
        is_(without_sizes(json.loads(res.get("text", "{}"))), without_sizes(read),
            "the embedded resource is the table's JSON (as resources/read)")

        _, msgs = prompt_text(s.request("prompts/get", {"name": "table_overview",
                                                        "arguments": {"table": "orders"}}),
                              "table_overview unqualified")
        emb = [m["content"]["resource"] for m in msgs if m.get("content", {}).get("type") == "resource"]
        is_([e.get("uri") for e in emb], ["pgmcp://tables/sales/orders"],
            "table_overview of an unqualified name embeds the qualified resource")

        _, msgs = prompt_text(s.request("prompts/get", {"name": "table_overview",
                                                        "arguments": {"table": f"public.{MIXED}"}}),
                              "table_overview of a name with spaces")
        emb = [m["content"]["resource"] for m in msgs if m.get("content", {}).get("type") == "resource"]
        uri = emb[0].get("uri") if emb else None
        is_(uri, uri_for("public", MIXED),
            "the embedded resource URI is percent-encoded, as in resources/list")
        r = s.request("resources/read", {"uri": uri or ""})
        ok("result" in r, "the embedded resource URI can be read back", r.get("error"))

        r = s.request("prompts/get", {"name": "table_overview",
                                      "arguments": {"table": f'public."{DOTTED}"'}})
        ok("result" in r, "table_overview accepts a quoted name containing a dot (as describe_table)",
           r.get("error"))
        err_code(s.request("prompts/get", {"name": "table_overview",
                                           "arguments": {"table": "sales.nosuch"}}),
                 -32602, "table_overview of an unknown table", "nosuch")

    rc = s.close()
    is_(rc, 0, "server exits 0")

    # --- pagination with a small page size ---------------------------------------------------
    with section("pagination"), Server("--set", "limits.page_size=5") as s:
        s.initialize()
        uris, sizes, by_uri, err = walk_resources(s)
        ok(err is None, "paged resources/list succeeds", err)
        ok(all(n <= 5 for n in sizes) and all(n == 5 for n in sizes[:-1]) and len(sizes) > 1,
           "page_size=5: full pages of 5, then the rest", sizes)
        is_(len(uris), len(set(uris)), "no resource appears on two pages")
        is_(sorted(uris), expected_uris, "walking nextCursor collects every resource")
        is_(len(uris), len(expected_rel), "the count equals the number of user relations")

    with section("prompts pagination"), Server("--set", "limits.page_size=2") as s:
        s.initialize()
        names, pages, cursor = [], [], None
        for _ in range(10):
            r = s.request("prompts/list", {"cursor": cursor} if cursor else {})
            page = r.get("result", {}).get("prompts", [])
            pages.append(len(page))
            names += [p.get("name") for p in page]
            cursor = r.get("result", {}).get("nextCursor")
            if not cursor:
                break
        ok(all(n <= 2 for n in pages), "prompts/list honours page_size=2", pages)
        is_(sorted(names), sorted(EXPECTED_PROMPTS), "walking prompts/list collects every prompt once")

    # --- stateless 2026-07-28 requests without a handshake ----------------------------------
    with section("stateless"), Server() as s:
        r = s.request("resources/list", {"_meta": MODERN_META})
        res = res_of(r, f"resources/list at {MODERN} without initialize")
        is_(sorted(x.get("uri") for x in res.get("resources", [])), expected_uris,
            "stateless resources/list lists every resource")
        r = s.request("resources/read", {"uri": "pgmcp://tables/hr/employees", "_meta": MODERN_META})
        res = res_of(r, f"resources/read at {MODERN}")
        c = (res.get("contents") or [{}])[0]
        is_((json.loads(c.get("text", "{}")).get("name"), res.get("resultType")),
            ("employees", "complete"), "stateless resources/read returns the table")
        for u in ["pgmcp://tables/hr/nosuch", "pgmcp://tables/hr", "pgmcp://tables/%zz/x",
                  "file:///etc/passwd"]:
            e = err_code(s.request("resources/read", {"uri": u, "_meta": MODERN_META}), -32602,
                         f"stateless resources/read {u!r}")
        r = s.request("resources/templates/list", {"_meta": MODERN_META})
        tpl = res_of(r, "stateless resources/templates/list").get("resourceTemplates", [])
        is_([t.get("uriTemplate") for t in tpl], [TEMPLATE], "stateless template list")
        r = s.request("completion/complete", {"ref": {"type": "ref/resource", "uri": TEMPLATE},
                                              "argument": {"name": "schema", "value": "inv"},
                                              "_meta": MODERN_META})
        is_(res_of(r, "stateless completion").get("completion", {}).get("values"), ["inventory"],
            "stateless completion")
        r = s.request("prompts/get", {"name": "nosuch", "_meta": MODERN_META})
        err_code(r, -32602, "stateless unknown prompt")
        r = s.request("prompts/list", {"_meta": MODERN_META})
        is_(len(res_of(r, "stateless prompts/list").get("prompts", [])), 4, "stateless prompts/list")
finally:
    psql(f'DROP TABLE IF EXISTS public."{MIXED}", public."{DOTTED}"')

done()
