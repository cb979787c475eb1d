#!/usr/bin/env python3
# t/0160-policies.t: column policies (policies: in the YAML). sales.customers denies email and
# masks full_name (mask_with "[hidden]"), hr.employees masks salary, public.audit_events (a
# partitioned table) denies details, and public.<tag>_base (an inheritance parent whose child
# and grandchild order their columns differently) masks secret. A denied column may not be
# referenced at all; a masked
# column may leave only as a plain output column of the outermost SELECT, traced through
# PQftable/PQftablecol and replaced. Connected as the superuser, so nothing but pgmcp's policy
# check stands in the way.
#
# Evasion attempts, each of which must be refused (or masked) with no secret value anywhere in
# the response, errors included: aliases, expressions, casts, functions, SELECT *, t.*,
# TABLE, whole-row references (t, schema.t, (t).col, col(t), join aliases), row_to_json /
# to_jsonb / json_agg / array_agg / string_agg of rows and columns, COALESCE, CASE, UNION,
# INTERSECT, LATERAL, subqueries, CTEs, views (sample and created here, views of views),
# column alias lists, USING and NATURAL joins, ORDER BY / GROUP BY / DISTINCT by position or
# output name, attribute notation (col.function), error messages (a cast or a division by the
# value), pg_stats / pg_statistic most_common_vals after ANALYZE, table_to_xml, EXPLAIN VERBOSE
# and ANALYZE, the explain tool, declared tools, declared resources, completions,
# describe_table and table resources, partitions and inheritance children queried directly
# (and views over them); and in read_write mode, copying a masked column into another table,
# CREATE TABLE AS / VIEW, RETURNING, SET of a denied column, renames and functions, and row
# values in error DETAIL and messages. Declared resource and completion SQL that breaks a
# policy is a --check-config error with file:line:col; SQL that reaches a policy table only
# through a name learnt at connect (a partition, a view) is refused when it runs. Positive
# controls: plain reads of the same tables work and are masked.
import atexit
import json
import os
import re
import shutil
import tempfile

import tap
from tap import ok, is_, like, diag, done
from pgmcp_test import BIN, Server, is_tool_error, psql, run, text_of

TAG = f"t0160_{os.getpid()}"
tmp = tempfile.mkdtemp(prefix="pgmcp-pol-")
servers = []

# -- the secrets -------------------------------------------------------------------------------
EMAILS = psql("SELECT string_agg(email, E'\\n') FROM sales.customers").split("\n")
NAMES = psql("SELECT string_agg(full_name, E'\\n') FROM sales.customers").split("\n")
SALARIES = psql("SELECT string_agg(salary::text, E'\\n') FROM hr.employees").split("\n")
DETAILS = [d for d in psql("SELECT string_agg(details::text, E'\\n') FROM public.audit_events "
                           "WHERE details IS NOT NULL").split("\n") if len(d) > 6]
INHERITED = ["basesecret-aaa111", "kidsecret-bbb222", "grandsecret-ccc333"]
SECRETS = ([e.lower() for e in EMAILS] + [n.lower() for n in NAMES] +
           [s for s in SALARIES if len(s) >= 7] + [d.lower() for d in DETAILS] + INHERITED)
ok(len(EMAILS) == 50 and len(NAMES) == 50 and len(SALARIES) == 12, "the sample secrets are there")
PART = psql("SELECT min(inhrelid::regclass::text) FROM pg_inherits "
            "WHERE inhparent = 'public.audit_events'::regclass")


def leaked(resp):
    """The secret values found anywhere in a response (also upper-cased, JSON-escaped)."""
    raw = json.dumps(resp, ensure_ascii=False).lower()
    raw_unescaped = raw.replace('\\"', '"')
    found = []
    for s in SECRETS:
        if s in raw or s in raw_unescaped or json.dumps(s, ensure_ascii=False)[1:-1] in raw:
            found.append(s)
    # numbers may come back without trailing zeros (250000.00 -> 250000)
    for s in SALARIES:
        n = s.rstrip("0").rstrip(".")
        if len(n) >= 5 and re.search(r"(?<![\d.])" + re.escape(n) + r"(?![\d])", raw):
            found.append(s)
    return found


# -- fixtures made before pgmcp connects (it learns views that read policy tables at connect) --
psql("ANALYZE sales.customers")
psql("ANALYZE hr.employees")
psql(f"CREATE VIEW public.{TAG}_v AS SELECT id, email, full_name FROM sales.customers")
psql(f"CREATE VIEW public.{TAG}_vv AS SELECT id FROM public.{TAG}_v")
psql(f"CREATE TABLE public.{TAG}_scratch (x text)")
# An inheritance tree whose children order their columns differently: secret is attnum 2 in
# the parent but 3 in the child, where attnum 2 is note (which must not be masked).
psql(f"CREATE TABLE public.{TAG}_base (id int, secret text, note text)")
psql(f"CREATE TABLE public.{TAG}_kid (pad int, note text, secret text, id int)")
psql(f"ALTER TABLE public.{TAG}_kid INHERIT public.{TAG}_base")
psql(f"CREATE TABLE public.{TAG}_grandkid (extra int) INHERITS (public.{TAG}_kid)")
psql(f"INSERT INTO public.{TAG}_base VALUES (1, '{INHERITED[0]}', 'base-note')")
psql(f"INSERT INTO public.{TAG}_kid VALUES (0, 'kid-note', '{INHERITED[1]}', 2)")
psql(f"INSERT INTO public.{TAG}_grandkid VALUES (0, 'grand-note', '{INHERITED[2]}', 3, 7)")
psql(f"CREATE VIEW public.{TAG}_kv AS SELECT id, secret FROM public.{TAG}_kid")
FIXTURES = 7    # the relations named {TAG}_... made here


def cleanup():
    for s in servers:
        if s.proc.poll() is None:
            s.kill()
    psql(f"DROP VIEW IF EXISTS public.{TAG}_vv, public.{TAG}_v, public.{TAG}_kv")
    psql(f"DROP TABLE IF EXISTS public.{TAG}_grandkid, public.{TAG}_kid, public.{TAG}_base")
    for t in ("scratch", "ctas", "copy"):
        psql(f"DROP TABLE IF EXISTS public.{TAG}_{t}")
    psql(f"DROP VIEW IF EXISTS public.{TAG}_newview")
    psql(f"DROP FUNCTION IF EXISTS public.{TAG}_f()")
    shutil.rmtree(tmp, ignore_errors=True)


atexit.register(cleanup)

CONFIG = f"""
policies:
  - table: sales.customers
    deny: [email]
    mask: [full_name]
    mask_with: "[hidden]"
  - table: hr.employees
    mask: [salary]
  - table: public.audit_events
    deny: [details]
  - table: public.{TAG}_base
    mask: [secret]
tools:
  customer_names:
    description: Names of the first customers.
    sql: SELECT id, full_name FROM sales.customers ORDER BY id LIMIT 3
  customer_email:
    description: One customer's e-mail.
    sql: SELECT id, email FROM sales.customers WHERE id = $1
    parameters:
      - {{ name: id, type: integer, required: true }}
  customer_upper:
    description: A name in capitals.
    sql: SELECT upper(full_name) AS n FROM sales.customers ORDER BY id LIMIT 1
  customer_value:
    description: One name as a value.
    sql: SELECT full_name FROM sales.customers WHERE id = $1
    result: value
    parameters:
      - {{ name: id, type: integer, required: true }}
resources:
  - uri: secrets://name
    name: first-name
    sql: SELECT full_name FROM sales.customers ORDER BY id LIMIT 1
  - uri: secrets://partition
    name: partition-details
    sql: SELECT string_agg(details::text, ',') FROM {PART}
  - uri: secrets://child-view
    name: child-view
    sql: SELECT string_agg(secret, ',') FROM public.{TAG}_kv
  - uri: secrets://kid
    name: kid-secret
    sql: SELECT secret FROM public.{TAG}_kid ORDER BY id LIMIT 1
resource_templates:
  - uri_template: secrets://customer/{{id}}
    name: customer-country
    sql: SELECT country FROM sales.customers WHERE id = $1::int
    completions:
      id: {{ sql: "SELECT id::text FROM sales.customers WHERE id::text LIKE $1 || '%' ORDER BY id LIMIT 3" }}
  - uri_template: secrets://event/{{id}}
    name: event-action
    sql: SELECT action FROM public.audit_events WHERE id = $1::bigint
    completions:
      id: {{ sql: "SELECT details::text FROM {PART} WHERE details::text LIKE $1 || '%' LIMIT 3" }}
prompts:
  - name: pick_event
    description: Pick an event.
    arguments:
      - name: event
        completions: {{ sql: "SELECT details::text FROM {PART} WHERE details::text LIKE $1 || '%' LIMIT 3" }}
    messages:
      - text: "About {{event}}."
"""


def start(*args):
    path = os.path.join(tmp, f"pol{len(servers)}.yaml")
    with open(path, "w") as f:
        f.write(CONFIG)
    s = Server("-c", path, *args)
    servers.append(s)
    r = s.initialize()
    if "result" not in r:
        raise SystemExit(f"initialize failed: {r}\n{s.stderr()}")
    return s


srv = start()
counts = {"refuse": 0, "masked": 0, "ok": 0}


def rows_of(r):
    return (r.get("result") or {}).get("structuredContent", {}).get("rows")


def check(label, r, expect, masked_cols=()):
    """expect: refuse | masked | ok. Nothing secret may appear either way."""
    bad = leaked(r)
    refused = "error" in r or is_tool_error(r)
    if expect == "refuse":
        good = refused and not bad
    else:
        good = not refused and not bad
        rows = rows_of(r)
        if good and expect == "masked":
            good = bool(rows) and all(row.get(c) in ("[hidden]", "[masked]")
                                      for row in rows for c in masked_cols)
    counts[expect] = counts.get(expect, 0) + 1
    ok(good, f"{label}: {expect}" + (" (nothing leaks)" if not bad else ""),
       {"leaked": bad[:5], "response": (text_of(r) or json.dumps(r))[:1500]})


def q(sql, expect="refuse", masked_cols=(), s=None, tool="query", **extra):
    r = (s or srv).call(tool, dict({"sql": sql}, **extra))
    check(f"{tool} {' '.join(sql.split())[:110]}", r, expect, masked_cols)
    return r


# -- positive controls -------------------------------------------------------------------------
r = q("SELECT id, full_name, country FROM sales.customers ORDER BY id LIMIT 5", "masked",
      ["full_name"])
is_([row["full_name"] for row in rows_of(r)], ["[hidden]"] * 5, "full_name comes back as [hidden]")
is_(rows_of(r)[0]["country"], psql("SELECT country FROM sales.customers ORDER BY id LIMIT 1"),
    "other columns are untouched")
q("SELECT c.full_name AS who, c.id FROM sales.customers AS c WHERE c.id < 4 ORDER BY c.id",
  "masked", ["who"])
q("SELECT id, salary FROM hr.employees ORDER BY id", "masked", ["salary"])
q("SELECT e.salary, e.name FROM hr.employees e JOIN sales.customers c ON c.account_manager_id = e.id "
  "ORDER BY c.id LIMIT 3", "masked", ["salary"])
q("SELECT o.*, c.full_name FROM sales.orders o JOIN sales.customers c ON c.id = o.customer_id "
  "ORDER BY o.id LIMIT 3", "masked", ["full_name"])
q("SELECT * FROM hr.employees ORDER BY id LIMIT 3", "masked", ["salary"])
q("TABLE hr.employees", "masked", ["salary"])
q("SELECT count(*) AS n, count(DISTINCT country) AS countries FROM sales.customers", "ok")
q("SELECT id, action FROM public.audit_events ORDER BY id LIMIT 3", "ok")
q("EXPLAIN VERBOSE SELECT full_name FROM sales.customers WHERE id = 1", "ok")
q("SELECT full_name, id FROM sales.customers ORDER BY 2 DESC LIMIT 2", "masked", ["full_name"])

# -- evasion attempts: denied column -------------------------------------------------------------
C = "sales.customers"
for sql in [
    f"SELECT email FROM {C}",
    f"SELECT id FROM {C} WHERE email LIKE 'a%'",
    f"SELECT e FROM (SELECT email AS e FROM {C}) s",
    f"SELECT c.email AS address FROM {C} AS c",
    f"SELECT upper(email) FROM {C}",
    f"SELECT email::int FROM {C}",
    f"SELECT 1 / (length(email) - length(email)) FROM {C}",
    f"SELECT CAST(email AS integer) FROM {C}",
    f"SELECT * FROM {C}",
    f"SELECT c.* FROM {C} c",
    f"SELECT {C}.* FROM {C}",
    f"TABLE {C}",
    f"SELECT c FROM {C} c",
    f"SELECT customers FROM {C}",
    f"SELECT sales.customers FROM sales.customers",
    f"SELECT row_to_json(c) FROM {C} c",
    f"SELECT row_to_json(sales.customers) FROM sales.customers",
    f"SELECT to_jsonb(c.*) FROM {C} c",
    f"SELECT json_agg(c) FROM {C} c",
    f"SELECT array_agg(c)::text FROM {C} c",
    f"SELECT (c).email FROM {C} c",
    f"SELECT (c.*).email FROM {C} c",
    f"SELECT email(c) FROM {C} c",
    f"SELECT email(sales.customers) FROM sales.customers",
    f"SELECT c.email.upper FROM {C} c",
    f"SELECT email.length FROM {C}",
    f"SELECT string_agg(email, ',') FROM {C}",
    f"SELECT array_agg(email) FROM {C}",
    f"SELECT coalesce(email, 'x') FROM {C}",
    f"SELECT CASE WHEN email LIKE 'a%' THEN 1 ELSE 0 END FROM {C}",
    f"SELECT id FROM {C} ORDER BY email LIMIT 1",
    f"SELECT email FROM {C} UNION SELECT 'x'",
    f"SELECT 'x' UNION ALL SELECT email FROM {C}",
    f"SELECT id::text FROM {C} INTERSECT SELECT email FROM {C}",
    f"SELECT x.e FROM {C} c, LATERAL (SELECT c.email AS e) x",
    f"SELECT (SELECT email FROM {C} LIMIT 1)",
    f"WITH w AS (SELECT email FROM {C}) SELECT * FROM w",
    f"WITH w AS (SELECT * FROM {C}) SELECT id FROM w",
    f"WITH w(a, b) AS (SELECT id, email FROM {C}) SELECT b FROM w",
    f"SELECT b FROM {C} AS c (a, b)",
    f"SELECT x.b FROM (SELECT * FROM {C}) AS x (a, b)",
    f"SELECT j FROM ({C} c CROSS JOIN sales.orders o) AS j LIMIT 1",
    f"SELECT to_jsonb(j) FROM ({C} c JOIN sales.orders o ON o.customer_id = c.id) AS j LIMIT 1",
    f"SELECT j.b FROM ({C} c CROSS JOIN sales.orders o) AS j (a, b) LIMIT 1",
    f"SELECT count(*) FROM {C} JOIN (VALUES ('{EMAILS[0]}')) v(email) USING (email)",
    f"SELECT count(*) FROM {C} NATURAL JOIN (VALUES ('{EMAILS[0]}'::text)) v(email)",
    f"SELECT id FROM {C} WHERE email = '{EMAILS[0]}'",
    f"SELECT id FROM {C} WHERE md5(email) IS NOT NULL",
    f"SELECT * FROM public.{TAG}_v",
    f"SELECT id FROM public.{TAG}_v",
    f"SELECT * FROM public.{TAG}_vv",
    f"SELECT customer_name FROM sales.order_summary LIMIT 1",
    f"SELECT most_common_vals::text FROM pg_stats WHERE tablename = 'customers' AND attname = 'email'",
    f"SELECT * FROM pg_stats WHERE tablename = 'customers'",
    f"SELECT stavalues1::text FROM pg_statistic WHERE starelid = 'sales.customers'::regclass",
    f"SELECT table_to_xml('sales.customers', true, false, '')",
    f"SELECT schema_to_xml('sales', true, false, '')",
    f"SELECT xmlagg(xmlelement(name e, email)) FROM {C}",
    f"SELECT email COLLATE \"C\" FROM {C}",
    f"SELECT DISTINCT ON (email) id FROM {C}",
    f"SELECT id FROM {C} GROUP BY id, email",
    f"SELECT id, row_number() OVER (ORDER BY email) FROM {C}",
    f"SELECT EXISTS (SELECT 1 FROM {C} WHERE email LIKE 'alice%')",
    f"EXPLAIN ANALYZE SELECT email FROM {C}",
    f"EXPLAIN VERBOSE SELECT email FROM {C}",
    f"SELECT details FROM public.audit_events",
    f"SELECT * FROM public.audit_events",
]:
    q(sql, "refuse")

# -- evasion attempts: masked column -------------------------------------------------------------
for sql in [
    f"SELECT upper(full_name) FROM {C}",
    f"SELECT full_name || '' FROM {C}",
    f"SELECT full_name::int FROM {C}",
    f"SELECT 1 / (length(full_name) - length(full_name)) FROM {C}",
    f"SELECT full_name::varchar(3) FROM {C}",
    f"SELECT (full_name) COLLATE \"C\" FROM {C}",
    f"SELECT id FROM {C} WHERE full_name LIKE 'A%'",
    f"SELECT id FROM {C} ORDER BY full_name LIMIT 1",
    f"SELECT full_name FROM {C} ORDER BY 1 LIMIT 1",
    f"SELECT full_name AS n FROM {C} ORDER BY n LIMIT 1",
    f"SELECT full_name AS n, count(*) FROM {C} GROUP BY n",
    f"SELECT full_name, count(*) FROM {C} GROUP BY 1",
    f"SELECT DISTINCT full_name FROM {C}",
    f"SELECT full_name FROM {C} UNION SELECT 'x'",
    f"SELECT full_name FROM {C} UNION ALL SELECT 'x'",
    f"SELECT n FROM (SELECT full_name AS n FROM {C}) s",
    f"WITH w AS (SELECT full_name FROM {C}) SELECT full_name FROM w",
    f"SELECT (SELECT full_name FROM {C} LIMIT 1)",
    f"SELECT x.n FROM {C} c, LATERAL (SELECT c.full_name AS n) x",
    f"SELECT c.full_name.upper FROM {C} c",
    f"SELECT full_name.md5 FROM {C}",
    f"SELECT full_name(c) FROM {C} c",
    f"SELECT string_agg(full_name, ',') FROM {C}",
    f"SELECT array_agg(full_name) FROM {C}",
    f"SELECT json_agg(full_name) FROM {C}",
    f"SELECT coalesce(full_name, '') FROM {C}",
    f"SELECT CASE WHEN true THEN full_name END FROM {C}",
    f"SELECT row_to_json(c) FROM {C} c",
    f"SELECT to_jsonb(c) - 'email' FROM {C} c",
    f"SELECT full_name FROM {C} c NATURAL JOIN (VALUES ('x')) v(country)",
    f"SELECT count(*) FROM {C} JOIN (VALUES ('{NAMES[0]}')) v(full_name) USING (full_name)",
    f"SELECT b FROM {C} AS c (a, b, full_name_renamed)",
    f"SELECT left(full_name, 1) FROM {C}",
    f"SELECT length(full_name) FROM {C}",
    f"SELECT full_name > 'M' FROM {C}",
    f"SELECT max(salary) FROM hr.employees",
    f"SELECT salary * 1 FROM hr.employees",
    f"SELECT salary::text FROM hr.employees",
    f"SELECT 1 / (salary - salary) FROM hr.employees",
    f"SELECT (salary::int)::text::date FROM hr.employees",
    f"SELECT name FROM hr.employees ORDER BY salary DESC LIMIT 1",
    f"SELECT name FROM hr.employees WHERE salary > 100000",
    f"SELECT salary, name FROM hr.employees ORDER BY 1 DESC LIMIT 1",
    f"SELECT DISTINCT salary FROM hr.employees",
    f"SELECT e.* FROM (SELECT * FROM hr.employees) e",
    f"SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY salary) FROM hr.employees",
    f"SELECT most_common_vals::text FROM pg_stats WHERE tablename = 'employees'",
    f"EXPLAIN ANALYZE SELECT name FROM hr.employees WHERE salary > 1",
]:
    q(sql, "refuse")

# -- the explain tool ----------------------------------------------------------------------------
q(f"SELECT email FROM {C}", "refuse", tool="explain")
q(f"SELECT id FROM hr.employees WHERE salary > 100000", "refuse", tool="explain", analyze=True)
q(f"SELECT full_name FROM {C}", "ok", tool="explain", analyze=True, verbose=True)
q(f"UPDATE {C} SET full_name = upper(full_name)", "refuse", tool="explain")

# -- catalog tools and resources -----------------------------------------------------------------
r = srv.call("describe_table", {"schema": "sales", "table": "customers"})
check("describe_table sales.customers", r, "ok")
like(text_of(r), "email", "describe_table still lists the denied column by name")
r = srv.request("resources/read", {"uri": "pgmcp://tables/sales/customers"})
check("resources/read pgmcp://tables/sales/customers", r, "ok")
check("list_tables", srv.call("list_tables", {"schema": "sales"}), "ok")

# -- declared tools: the policy applies to them as well -------------------------------------------
r = srv.call("customer_names", {})
check("declared tool with a plain masked column", r, "masked", ["full_name"])
check("declared tool naming a denied column", srv.call("customer_email", {"id": 1}), "refuse")
check("declared tool with an expression over a masked column", srv.call("customer_upper", {}),
      "refuse")
r = srv.call("customer_value", {"id": 1})
check("declared tool returning a masked value", r, "ok")
ok(NAMES[0] not in json.dumps(r, ensure_ascii=False), "the value result is not the name", r)

# -- declared resources and completions (SQL the operator wrote) ------------------------------------
def contents_text(r):
    return "".join(c.get("text", "") for c in (r.get("result") or {}).get("contents", []))


r = srv.request("resources/read", {"uri": "secrets://name"})
ok(not leaked(r) and contents_text(r) == "[hidden]",
   "declared resource with a plain masked column shows it masked", r)
r = srv.request("resources/read", {"uri": "secrets://kid"})
ok(not leaked(r) and contents_text(r) == "[masked]",
   "declared resource over an inheritance child shows its masked column masked", r)
r = srv.request("resources/read", {"uri": "secrets://customer/1"})
is_(contents_text(r), psql("SELECT country FROM sales.customers WHERE id = 1"),
    "a declared resource template that names no policy column works")
r = srv.request("resources/read", {"uri": "secrets://event/1"})
ok("result" in r and not leaked(r), "a template reading a policy table's other columns works", r)
# These pass the load-time check (a partition or view name is learnt only once connected) and are
# refused when they run.
for uri in ["secrets://partition", "secrets://child-view"]:
    r = srv.request("resources/read", {"uri": uri})
    ok("error" in r and not leaked(r) and "refused" in r["error"].get("message", ""),
       f"declared resource {uri} is refused when read (nothing leaks)",
       {"leaked": leaked(r)[:3], "response": r})


def complete(ref, arg, value=""):
    return srv.request("completion/complete", {"ref": ref, "argument": {"name": arg, "value": value}})


r = complete({"type": "ref/resource", "uri": "secrets://customer/{id}"}, "id", "1")
ok("1" in ((r.get("result") or {}).get("completion") or {}).get("values", []),
   "completion SQL that names no policy column works", r)
r = complete({"type": "ref/resource", "uri": "secrets://event/{id}"}, "id")
ok("error" in r and not leaked(r), "template completion SQL over a partition's denied column is "
   "refused (nothing leaks)", {"leaked": leaked(r)[:3], "response": r})
r = complete({"type": "ref/prompt", "name": "pick_event"}, "event")
ok("error" in r and not leaked(r), "prompt completion SQL over a partition's denied column is "
   "refused (nothing leaks)", {"leaked": leaked(r)[:3], "response": r})

# Declared SQL that breaks a policy of the same file is a --check-config error at file:line:col,
# whichever order the sections come in; the server does not start with it.
BAD = """resources:
  - uri: secrets://emails
    sql: SELECT string_agg(email, ',') FROM sales.customers
  - uri: secrets://upper
    sql: SELECT upper(full_name) FROM sales.customers ORDER BY id LIMIT 1
  - uri: secrets://fine
    sql: SELECT full_name FROM sales.customers ORDER BY id LIMIT 1
resource_templates:
  - uri_template: secrets://by-email/{e}
    sql: SELECT id FROM sales.customers WHERE id = $1::int
    completions:
      e: { sql: "SELECT email FROM sales.customers WHERE email LIKE $1 || '%'" }
prompts:
  - name: pick_customer
    description: Pick a customer.
    arguments:
      - name: customer
        completions: { sql: "SELECT upper(email) FROM sales.customers ORDER BY 1 LIMIT 3" }
    messages:
      - text: "About {customer}."
policies:
  - table: sales.customers
    deny: [email]
    mask: [full_name]
"""
bad_path = os.path.join(tmp, "bad.yaml")
with open(bad_path, "w") as f:
    f.write(BAD)
rc, out, err = run([BIN, "--check-config", "-c", bad_path])
is_(rc, 1, "--check-config refuses declared SQL that breaks a policy")
for line, col, key, why in [
        (2, 5, "resources[secrets://emails].sql", "column email of sales.customers is denied"),
        (4, 5, "resources[secrets://upper].sql", "column full_name of sales.customers is masked"),
        (9, 5, "resource_templates[secrets://by-email/{e}].completions.e.sql", "denied"),
        (14, 5, "prompts.pick_customer.arguments.customer.completions.sql", "denied")]:
    pattern = re.escape(f"{bad_path}:{line}:{col}: {key}: sql breaks a column policy: ") + \
        r"[^\n]*" + re.escape(why)
    ok(re.search(pattern, err) is not None, f"--check-config names {key} at {line}:{col}",
       err)
ok("secrets://fine" not in err, "a plain masked output column in a resource is accepted", err)
ok(err.count("breaks a column policy") == 4, "exactly the four bad declarations are reported", err)
rc, out, err = run([BIN, "--stdio", "-c", bad_path], input="")
ok(rc != 0 and "breaks a column policy" in err, "the server does not start with them", err)

# -- partitions and inheritance children of a policy table ------------------------------------------
parts = psql("SELECT string_agg(inhrelid::regclass::text, ' ') FROM pg_inherits "
             "WHERE inhparent = 'public.audit_events'::regclass").split()
ok(len(parts) == 2, f"audit_events has two partitions ({parts})")
for p in parts:
    q(f"SELECT details FROM {p}", "refuse")
    q(f"SELECT id, details::text FROM {p} WHERE id < 5", "refuse")
    q(f"SELECT * FROM {p}", "refuse")
    q(f"SELECT e FROM {p} e", "refuse")
    q(f"SELECT id, action FROM {p} ORDER BY id LIMIT 2", "ok")
q(f"SELECT details FROM {PART.split('.')[-1]}", "refuse")
K = f"public.{TAG}_kid"
r = q(f"SELECT id, note, secret FROM {K} ORDER BY id", "masked", ["secret"])
is_([row["note"] for row in rows_of(r) or []], ["kid-note", "grand-note"],
    "a child's column at the parent's attnum of a masked column is not masked")
r = q(f"SELECT * FROM public.{TAG}_grandkid", "masked", ["secret"])
is_([row["note"] for row in rows_of(r) or []], ["grand-note"], "so is a grandchild's")
q(f"SELECT secret, id FROM public.{TAG}_base ORDER BY id", "masked", ["secret"])
q(f"SELECT secret FROM ONLY public.{TAG}_base", "masked", ["secret"])
for sql in [
    f"SELECT upper(secret) FROM {K}",
    f"SELECT id FROM {K} WHERE secret LIKE 'k%'",
    f"SELECT secret FROM {K} ORDER BY 1",
    f"SELECT string_agg(secret, ',') FROM {TAG}_grandkid",
    f"SELECT k FROM {K} k",
    f"SELECT row_to_json(g) FROM public.{TAG}_grandkid g",
    f"SELECT * FROM public.{TAG}_kv",
    f"SELECT id FROM public.{TAG}_kv",
]:
    q(sql, "refuse")

# -- read_write mode ---------------------------------------------------------------------------------
w = start("--read-write")
# Its first statement may be checked before the connection (and with it the children of policy
# tables) is there: it is checked again once they are known.
q(f"SELECT string_agg(secret, ',') FROM public.{TAG}_kid", "refuse", s=w)
q(f"SELECT string_agg(details::text, ',') FROM {PART}", "refuse", s=w)
before = psql(f"SELECT count(*) FROM public.{TAG}_scratch")
for sql in [
    f"INSERT INTO public.{TAG}_scratch SELECT full_name FROM {C}",
    f"INSERT INTO public.{TAG}_scratch SELECT email FROM {C}",
    f"INSERT INTO public.{TAG}_scratch SELECT c::text FROM {C} c",
    f"INSERT INTO public.{TAG}_scratch (x) SELECT salary::text FROM hr.employees",
    f"CREATE TABLE public.{TAG}_ctas AS SELECT full_name FROM {C}",
    f"CREATE TABLE public.{TAG}_copy AS SELECT id FROM {C}",
    f"CREATE VIEW public.{TAG}_newview AS SELECT id, full_name FROM {C}",
    f"CREATE VIEW public.{TAG}_newview AS SELECT * FROM hr.employees",
    f"UPDATE {C} SET country = country WHERE id = 1 RETURNING email",
    f"UPDATE {C} SET country = country WHERE id = 1 RETURNING full_name || ''",
    f"UPDATE {C} SET country = country WHERE id = 1 RETURNING *",
    f"DELETE FROM {C} WHERE email = 'nobody' RETURNING id",
    f"UPDATE {C} SET email = email WHERE false",
    f"UPDATE public.{TAG}_scratch SET x = (SELECT full_name FROM {C} LIMIT 1)",
    f"ALTER TABLE {C} RENAME COLUMN email TO {TAG}_e",
    f"ALTER TABLE {C} RENAME TO {TAG}_c",
    f"ALTER SCHEMA sales RENAME TO {TAG}_s",
    f"CREATE FUNCTION public.{TAG}_f() RETURNS text LANGUAGE sql AS "
    f"'SELECT string_agg(email, '','') FROM sales.customers'",
    f"COPY {C} TO STDOUT",
    f"CREATE INDEX ON {C} (email)",
]:
    q(sql, "refuse", s=w, tool="execute")
is_(psql(f"SELECT count(*) FROM public.{TAG}_scratch"), before, "nothing was copied out")
is_(psql(f"SELECT count(*) FROM pg_class WHERE relname LIKE '{TAG}%' AND relkind IN ('r', 'v')"),
    str(FIXTURES), "no table or view was made from a policy table (only the fixtures exist)")
# -- errors: no row values in DETAIL, CONTEXT or a data exception's message -----------------------
r = w.call("execute", {"sql": f"UPDATE {C} SET country = 'xx' WHERE id = 1"})
t = text_of(r) or ""
ok(is_tool_error(r) and not leaked(r) and "23514" in t and "check constraint" in t,
   "a constraint violation on a policy table does not show the row", {"leaked": leaked(r)[:3],
                                                                      "text": t})
like(t, "DETAIL: [withheld while column policies are configured",
     "its DETAIL is withheld, and says so")
ok("Failing row" not in t, "no 'Failing row contains'", t)
r = w.call("execute", {"sql": f"UPDATE {K} SET id = id WHERE id = 2"})
ok(not is_tool_error(r), "an update of a policy child's other column works", r)
r = srv.call("query", {"sql": "SELECT 'not-a-number-xyz'::int"})
t = text_of(r) or ""
ok(is_tool_error(r) and "22P02" in t and "not-a-number-xyz" not in t.split("POSITION")[0]
   and "invalid input syntax for type integer: [value withheld]" in t,
   "a data exception's message does not quote the value", t)
r = srv.call("query", {"sql": "SELECT 1/0"})
like(text_of(r) or "", "division by zero", "other messages are left alone")
r = w.call("execute", {"sql": f"UPDATE {C} SET country = country WHERE id = 1 RETURNING id"})
ok(not is_tool_error(r) and not leaked(r), "an update that names no policy column works", r)

diag(f"policy checks: {counts}")
for s in servers:
    is_(s.close(), 0, "pgmcp exits 0")
done()
