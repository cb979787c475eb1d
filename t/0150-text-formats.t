#!/usr/bin/env python3
# t/0150-text-formats.t: output.text_format. The text content of a rows result is the JSON
# document (default), CSV (RFC 4180: header row, CRLF, NULL as an empty field, "" for an empty
# string) or a Markdown table (| escaped, line breaks as <br>); structuredContent is the same
# JSON document whatever the format. Also prints the bytes per row of each format on the
# sample data (the figures quoted in conf/pgmcp.yaml).
import csv
import io
import json

from tap import ok, is_, like, unlike, skip, diag, done
from pgmcp_test import BIN, DSN, DSN_WRITER, Server, is_tool_error, run, structured

if not DSN:
    skip("text formats", "no test database (PGMCP_TEST_DSN)")
    done()

TRICKY = ("SELECT 1 AS n, NULL::text AS nothing, '' AS empty, 'a,b' AS comma, 'say \"hi\"' AS quote, "
          "E'two\\nlines' AS nl, 'x|y' AS pipe, '{\"k\": [1, 2]}'::jsonb AS doc, "
          "ARRAY[1, NULL, 3] AS arr, true AS flag, 'héllo ✓' AS utf8")


def same(doc):
    """The document without its timing."""
    return {k: v for k, v in (doc or {}).items() if k != "elapsed_ms"}


def texts(r):
    return [c["text"] for c in r["result"]["content"] if c.get("type") == "text"]


docs = {}
for fmt in ("json", "csv", "markdown"):
    with Server("--set", f"output.text_format={fmt}") as s:
        s.initialize()
        r = s.call("query", {"sql": TRICKY})
        ok(not is_tool_error(r), f"{fmt}: the query runs", r)
        docs[fmt] = (structured(r), texts(r))
        r = s.call("query", {"sql": "SELECT g FROM generate_series(1, 5) g", "max_rows": 2})
        docs[fmt + "-truncated"] = (structured(r), texts(r))
        r = s.call("query", {"sql": "SELECT 1 AS one WHERE false"})
        docs[fmt + "-empty"] = (structured(r), texts(r))

sc = docs["json"][0]
for fmt in ("csv", "markdown"):
    is_(same(docs[fmt][0]), same(sc), f"{fmt}: structuredContent is the JSON document")

# json (the default)
is_(len(docs["json"][1]), 1, "json: one text block")
is_(json.loads(docs["json"][1][0]), sc, "json: the text is the structured document")
with Server() as s:
    s.initialize()
    r = s.call("query", {"sql": TRICKY})
    is_(json.loads(texts(r)[0]), structured(r), "json is the default")

# csv
text = docs["csv"][1][0]
lines = text.split("\r\n")
is_(lines[0], "n,nothing,empty,comma,quote,nl,pipe,doc,arr,flag,utf8", "csv: a header row")
ok(text.endswith("\r\n") and "\r\n" in text, "csv: CRLF line ends (RFC 4180)")
parsed = list(csv.reader(io.StringIO(text, newline="")))
is_(len(parsed), 2, "csv: header and one row")
row = dict(zip(parsed[0], parsed[1]))
is_(row["n"], "1", "csv: a number")
is_(row["comma"], "a,b", "csv: a comma inside quotes")
is_(row["quote"], 'say "hi"', "csv: quotes doubled")
is_(row["nl"], "two\nlines", "csv: a line break inside quotes")
is_(json.loads(row["doc"]), {"k": [1, 2]}, "csv: jsonb as JSON text")
is_(row["arr"], "[1,null,3]", "csv: an array as JSON text")
is_(row["flag"], "true", "csv: a boolean")
is_(row["utf8"], "héllo ✓", "csv: UTF-8 kept")
like(text, '1,,"",', "csv: NULL is an empty field, an empty string is \"\"")
is_(docs["csv-truncated"][1][0], "g\r\n1\r\n2\r\n", "csv: the rows that fit")
like(" ".join(docs["csv-truncated"][1][1:]), "Truncated (max_rows)", "csv: truncation said in a second block")
is_(docs["csv-empty"][1], ["one\r\n", "0 rows"], "csv: an empty result is a header and 0 rows")

# markdown
text = docs["markdown"][1][0]
mlines = text.rstrip("\n").split("\n")
is_(mlines[0], "|n|nothing|empty|comma|quote|nl|pipe|doc|arr|flag|utf8|", "markdown: header")
is_(mlines[1], "|---|---|---|---|---|---|---|---|---|---|---|", "markdown: separator")
is_(mlines[2], '|1|||a,b|say "hi"|two<br>lines|x\\|y|{"k":[1,2]}|[1,null,3]|true|héllo ✓|',
    "markdown: | escaped, line breaks as <br>, NULL empty")
is_(len(mlines), 3, "markdown: one line per row")
like(" ".join(docs["markdown-truncated"][1][1:]), "Truncated", "markdown: truncation said")

# Writes and declared tools use the same text.
if DSN_WRITER:
    with Server("--set", "output.text_format=csv", "--access", "read_write", dsn=DSN_WRITER) as s:
        s.initialize()
        r = s.call("execute", {"sql": "UPDATE sales.orders SET note = note WHERE id = -1"})
        is_(texts(r), ["UPDATE 0"], "csv: a write without rows shows its command tag")
        is_(structured(r).get("rows_affected"), 0, "... and structuredContent has rows_affected")
else:
    skip("csv: execute", "no writer DSN")

CONF = "/tmp/pgmcp-0150-%d.yaml" % __import__("os").getpid()
with open(CONF, "w") as f:
    f.write("""
output:
  text_format: markdown
tools:
  countries:
    description: Customers per country.
    sql: SELECT country, count(*) AS customers FROM sales.customers GROUP BY 1 ORDER BY 1 LIMIT 3
""")
with Server("-c", CONF) as s:
    s.initialize()
    r = s.call("countries")
    t = texts(r)
    ok(t and t[0].startswith("|country|customers|\n|---|---|\n"), "a declared tool's rows in markdown", t)
    is_(len(structured(r).get("rows", [])), 3, "... with its structuredContent")
__import__("os").unlink(CONF)

rc, out, err = run([BIN, "--check-config", "--set", "output.text_format=yaml"])
is_(rc, 1, "an unknown text_format is a configuration error")
like(err, "output.text_format", "... naming the key")

# Bytes per row on the sample data (the figures in conf/pgmcp.yaml).
SAMPLES = ["SELECT * FROM sales.orders LIMIT 100", "SELECT * FROM inventory.products",
           "SELECT * FROM types_demo.all_types"]
sizes = {}
for fmt in ("json", "csv", "markdown"):
    with Server("--set", f"output.text_format={fmt}") as s:
        s.initialize()
        for q in SAMPLES:
            r = s.call("query", {"sql": q})
            n = structured(r)["row_count"]
            sizes[(q, fmt)] = (len("\n".join(texts(r)).encode()), n)
for q in SAMPLES:
    j, n = sizes[(q, "json")]
    c, _ = sizes[(q, "csv")]
    m, _ = sizes[(q, "markdown")]
    diag(f"{q}: {n} rows; bytes/row json {j / n:.1f}, csv {c / n:.1f}, markdown {m / n:.1f}")
    ok(c < j and m < j, f"csv and markdown are smaller than json for {q}")
done()
