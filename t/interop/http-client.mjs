#!/usr/bin/env node
// t/interop/http-client.mjs: the official MCP TypeScript SDK client against the pgmcp daemon.
//
// PGMCP_URL is the daemon's base URL (http://127.0.0.1:PORT). Runs PGMCP_CLIENTS (default 4)
// concurrent clients over StreamableHTTPClientTransport (/mcp): connect (initialize and the
// session id), tools/list, query (structuredContent validated by the SDK against the tool's
// outputSchema), describe_table, a few more queries, then terminateSession (DELETE) and close.
// Then PGMCP_SSE_CLIENTS (default 2) concurrent clients over SSEClientTransport (/sse +
// /messages, the 2024-11-05 transport) do the same. Prints TAP (plan at the end); exits 1 if
// anything failed. Run by t/0300-http-streamable.t after scripts/npm-install-interop.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { SSEClientTransport } from "@modelcontextprotocol/sdk/client/sse.js";
import { diag, errorText, finish, is, ok, step } from "./tap.mjs";

const BASE = process.env.PGMCP_URL;
const CLIENTS = Number(process.env.PGMCP_CLIENTS || 4);
const SSE_CLIENTS = Number(process.env.PGMCP_SSE_CLIENTS || 2);
const TIMEOUT = Number(process.env.PGMCP_TEST_TIMEOUT || 30) * 1000;

if (!BASE) {
  console.log("Bail out! PGMCP_URL must be set");
  process.exit(255);
}

const opts = { timeout: TIMEOUT };

// One client's whole conversation; label prefixes its test names.
async function session(label, transport) {
  const client = new Client({ name: `pgmcp-http-interop-${label}`, version: "1.0.0" },
                            { capabilities: {} });
  try {
    await client.connect(transport, opts);
  } catch (e) {
    ok(false, `${label}: connect (initialize) succeeds`, errorText(e));
    return;
  }
  ok(true, `${label}: connect (initialize) succeeds`);
  is(client.getServerVersion()?.name, "pgmcp", `${label}: serverInfo.name is pgmcp`);

  await step(`${label}: tools/list`, async () => {
    const { tools } = await client.listTools({}, opts);
    const names = tools.map((t) => t.name);
    ok(names.includes("query") && names.includes("describe_table"),
       `${label}: tools/list has query and describe_table`, names);
  });

  await step(`${label}: query`, async () => {
    const r = await client.callTool(
      { name: "query", arguments: { sql: "SELECT id, email FROM sales.customers ORDER BY id LIMIT 3" } },
      undefined, opts);
    ok(r.isError !== true, `${label}: query succeeds`, r);
    is(r.structuredContent?.rows?.map((row) => row.id), [1, 2, 3], `${label}: query rows are ids 1, 2, 3`);
  });

  await step(`${label}: describe_table`, async () => {
    const r = await client.callTool({ name: "describe_table", arguments: { table: "sales.orders" } },
                                    undefined, opts);
    ok(r.isError !== true, `${label}: describe_table succeeds`, r);
    const cols = (r.structuredContent?.columns || []).map((c) => c.name);
    ok(cols.includes("id") && cols.includes("customer_id"),
       `${label}: describe_table lists the columns of sales.orders`, r.structuredContent);
  });

  await step(`${label}: repeated queries`, async () => {
    const got = [];
    for (let i = 0; i < 5; i++) {
      const r = await client.callTool(
        { name: "query", arguments: { sql: "SELECT $1::int * 2 AS n", params: [i] } }, undefined, opts);
      got.push(r.structuredContent?.rows?.[0]?.n);
    }
    is(got, [0, 2, 4, 6, 8], `${label}: five parameterized queries in a row`);
  });

  if (typeof transport.terminateSession === "function") {
    await step(`${label}: terminateSession`, async () => {
      const sid = transport.sessionId;
      ok(typeof sid === "string" && sid.length > 0, `${label}: the transport has a session id`, sid);
      await transport.terminateSession();
      ok(true, `${label}: terminateSession (DELETE /mcp) succeeds`);
    });
  }
  await step(`${label}: close`, async () => {
    await client.close();
    ok(true, `${label}: close`);
  });
}

const started = Date.now();
await Promise.all(Array.from({ length: CLIENTS }, (_, i) =>
  session(`http${i + 1}`, new StreamableHTTPClientTransport(new URL("/mcp", BASE)))));
diag(`${CLIENTS} Streamable HTTP clients took ${Date.now() - started} ms`);

const sseStarted = Date.now();
await Promise.all(Array.from({ length: SSE_CLIENTS }, (_, i) =>
  session(`sse${i + 1}`, new SSEClientTransport(new URL("/sse", BASE)))));
diag(`${SSE_CLIENTS} SSE clients took ${Date.now() - sseStarted} ms`);

finish();
