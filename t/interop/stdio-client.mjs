#!/usr/bin/env node
// t/interop/stdio-client.mjs: the official MCP TypeScript SDK client against `pgmcp --stdio`.
//
// Spawns $PGMCP_BIN --stdio $PGMCP_TEST_DSN through the SDK's StdioClientTransport and uses
// the SDK's Client for every call, so the SDK's own checks apply: protocol version
// negotiation, response schemas (zod) and, for tools with an outputSchema, validation of
// structuredContent with ajv. Prints TAP (plan at the end); exits 1 if anything failed.
// Run by t/0100-sdk-interop.t after scripts/npm-install-interop.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { LATEST_PROTOCOL_VERSION, McpError } from "@modelcontextprotocol/sdk/types.js";
import { anyFailed, diag, errorText, finish, is, ok, step } from "./tap.mjs";

const BIN = process.env.PGMCP_BIN;
const DSN = process.env.PGMCP_TEST_DSN;
const TIMEOUT = Number(process.env.PGMCP_TEST_TIMEOUT || 30) * 1000;

if (!BIN || !DSN) {
  console.log("Bail out! PGMCP_BIN and PGMCP_TEST_DSN must be set");
  process.exit(255);
}

const stderrChunks = [];
const transport = new StdioClientTransport({
  command: BIN,
  args: ["--stdio", DSN],
  // The whole environment, so ASAN_OPTIONS and friends reach the sanitizer build.
  env: { ...process.env },
  stderr: "pipe",
});
transport.stderr?.on("data", (chunk) => stderrChunks.push(chunk));
const serverStderr = () => Buffer.concat(stderrChunks).toString("utf8").slice(-3000);

const client = new Client({ name: "pgmcp-sdk-interop", version: "1.0.0" }, { capabilities: {} });
const opts = { timeout: TIMEOUT };

try {
  await client.connect(transport, opts);
} catch (e) {
  ok(false, "connect (initialize) succeeds", `${errorText(e)}\nserver stderr:\n${serverStderr()}`);
  finish(true);
}
ok(true, "connect (initialize) succeeds");
is(client.getServerVersion()?.name, "pgmcp", "serverInfo.name is pgmcp");
const caps = client.getServerCapabilities() || {};
ok(caps.tools && caps.resources && caps.prompts, "server advertises tools, resources and prompts",
   caps);
is(transport._process ? "spawned" : "none", "spawned", "transport spawned a process");
ok(typeof client.getInstructions() === "string" && client.getInstructions().length > 0,
   "initialize returns instructions");

await step("ping", async () => {
  const r = await client.ping(opts);
  ok(r && typeof r === "object", "ping answers", r);
});

await step("tools/list", async () => {
  const { tools } = await client.listTools({}, opts);
  const byName = Object.fromEntries(tools.map((t) => [t.name, t]));
  for (const name of ["query", "describe_table"]) {
    const t = byName[name];
    ok(t, `tools/list has ${name}`, tools.map((x) => x.name));
    ok(t && t.inputSchema && t.inputSchema.type === "object", `${name} has an object inputSchema`,
       t);
    ok(t && t.outputSchema && t.outputSchema.type === "object",
       `${name} has an object outputSchema`, t);
  }
  ok(!byName.execute, "no execute tool in read-only mode", Object.keys(byName));
  // callTool validates structuredContent only with a validator compiled from tools/list; make
  // sure the SDK compiled one (so the calls below really are validated) and that it is strict.
  if (typeof client.getToolOutputValidator === "function") {
    const v = client.getToolOutputValidator("query");
    ok(typeof v === "function", "the SDK compiled an output validator for query");
    ok(v && v({ rows: [] }).valid === false, "that validator rejects an object without columns");
  }
});

await step("tools/call query", async () => {
  const r = await client.callTool(
    { name: "query", arguments: { sql: "SELECT id, email FROM sales.customers ORDER BY id LIMIT 3" } },
    undefined, opts);
  ok(r.isError !== true, "query succeeds", r);
  const sc = r.structuredContent;
  ok(sc && Array.isArray(sc.rows), "query returns structuredContent.rows", r);
  is(sc?.rows?.map((row) => row.id), [1, 2, 3], "query rows are ids 1, 2, 3");
  ok(sc?.rows?.every((row) => typeof row.email === "string" && row.email.includes("@")),
     "each row has an email", sc?.rows);
  is(sc?.rows?.[0]?.email, "alice.smith@example.org", "first row's email");
  is(sc?.columns?.map((c) => c.name), ["id", "email"], "columns are id, email");
  is(sc?.row_count, 3, "row_count is 3");
  const text = r.content?.find((c) => c.type === "text")?.text;
  ok(text && JSON.parse(text).rows?.length === 3, "text content carries the same rows as JSON",
     r.content);
});

await step("tools/call query with params", async () => {
  const r = await client.callTool(
    { name: "query", arguments: { sql: "SELECT $1::int + 1 AS n", params: [41] } }, undefined, opts);
  is(r.structuredContent?.rows, [{ n: 42 }], "query binds params");
});

await step("tools/call describe_table", async () => {
  const r = await client.callTool({ name: "describe_table", arguments: { table: "sales.orders" } },
                                  undefined, opts);
  ok(r.isError !== true, "describe_table succeeds", r);
  const sc = r.structuredContent;
  ok(sc && typeof sc === "object", "describe_table returns structuredContent", r);
  const cols = (sc?.columns || []).map((c) => c.name);
  ok(cols.includes("id") && cols.includes("customer_id"),
     "describe_table lists the columns of sales.orders", sc);
});

await step("resources", async () => {
  const { resources } = await client.listResources({}, opts);
  ok(resources.length > 0, "resources/list returns resources", resources);
  const res = resources.find((x) => x.name === "sales.customers") || resources[0];
  ok(res && typeof res.uri === "string", "a resource has a uri", res);
  const { resourceTemplates } = await client.listResourceTemplates({}, opts);
  ok(resourceTemplates.length > 0, "resources/templates/list returns a template",
     resourceTemplates);
  const r = await client.readResource({ uri: res.uri }, opts);
  ok(r.contents?.length === 1, "resources/read returns one content item", r);
  const c = r.contents?.[0] || {};
  is(c.uri, res.uri, "content uri matches");
  let body = null;
  try { body = JSON.parse(c.text); } catch { /* reported below */ }
  ok(body && typeof body === "object", "content is JSON text", c);
  if (res.name === "sales.customers") {
    ok((body?.columns || []).some((col) => col.name === "email"),
       "sales.customers resource describes the email column", body);
  }
});

await step("prompts", async () => {
  const { prompts } = await client.listPrompts({}, opts);
  const names = prompts.map((p) => p.name);
  ok(names.includes("write_query"), "prompts/list has write_query", names);
  const r = await client.getPrompt(
    { name: "write_query", arguments: { question: "Which customer placed the most orders?" } },
    opts);
  ok(r.messages?.length > 0, "prompts/get returns messages", r);
  const text = r.messages?.[0]?.content?.text;
  ok(typeof text === "string" && text.includes("Which customer placed the most orders?"),
     "the prompt includes the question", r.messages);
});

await step("tools/call bad SQL", async () => {
  const r = await client.callTool({ name: "query", arguments: { sql: "SELEC nonsense" } },
                                  undefined, opts);
  is(r.isError, true, "bad SQL gives isError: true");
  const text = r.content?.find((c) => c.type === "text")?.text || "";
  ok(text.includes("syntax error"), "the error text names the syntax error", r);
});

await step("tools/call refused write", async () => {
  const r = await client.callTool(
    { name: "query", arguments: { sql: "DELETE FROM sales.customers" } }, undefined, opts);
  is(r.isError, true, "a write through query gives isError: true");
});

await step("unknown tool", async () => {
  let r = null;
  let err = null;
  try {
    r = await client.callTool({ name: "no_such_tool", arguments: {} }, undefined, opts);
  } catch (e) {
    err = e;
  }
  // Either a JSON-RPC error or a tool result with isError is acceptable per the spec.
  ok((err instanceof McpError) || (r && r.isError === true), "unknown tool is an error",
     err ? errorText(err) : r);
});

const proc = transport._process;
await step("close", async () => {
  const exited = proc && proc.exitCode === null
    ? new Promise((resolve) => proc.once("exit", (code, signal) => resolve({ code, signal })))
    : Promise.resolve({ code: proc?.exitCode, signal: proc?.signalCode });
  await client.close();
  // The SDK ends stdin, then signals after a grace period; pgmcp should exit on EOF by itself.
  const st = await Promise.race([exited, new Promise((r) => setTimeout(() => r("timeout"), 15000))]);
  ok(st !== "timeout", "pgmcp exits after close", serverStderr());
  is(st?.code, 0, "pgmcp exit status 0");
});

// A client that connects and disconnects without calling anything (a desktop client probing
// its servers does this): pgmcp must still exit cleanly on EOF.
await step("connect then close at once", async () => {
  const chunks = [];
  const t2 = new StdioClientTransport({ command: BIN, args: ["--stdio", DSN],
                                        env: { ...process.env }, stderr: "pipe" });
  t2.stderr?.on("data", (c) => chunks.push(c));
  const c2 = new Client({ name: "pgmcp-sdk-interop-probe", version: "1.0.0" }, { capabilities: {} });
  await c2.connect(t2, opts);
  const p2 = t2._process;
  const exited = new Promise((resolve) => {
    if (p2.exitCode !== null || p2.signalCode !== null) resolve({ code: p2.exitCode, signal: p2.signalCode });
    else p2.once("exit", (code, signal) => resolve({ code, signal }));
  });
  await c2.close();
  const st = await Promise.race([exited, new Promise((r) => setTimeout(() => r("timeout"), 15000))]);
  const err2 = Buffer.concat(chunks).toString("utf8").slice(-2000);
  ok(st !== "timeout", "probe: pgmcp exits after close", err2);
  ok(st?.code === 0 && !st?.signal, "probe: pgmcp exit status 0 (no crash) after a session with no calls",
     `exit: ${JSON.stringify(st)}\nserver stderr:\n${err2}`);
});

if (anyFailed()) diag(`server stderr (tail):\n${serverStderr()}`);
finish();
