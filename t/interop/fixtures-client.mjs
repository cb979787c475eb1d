#!/usr/bin/env node
// t/interop/fixtures-client.mjs: the official MCP TypeScript SDK client against
// `pgmcp --stdio -c conf/examples/conformance.yaml`, the operator-declared fixture tools,
// resources, resource templates and prompts that the official conformance suite calls by name.
//
// Spawns $PGMCP_BIN through the SDK's StdioClientTransport and uses the SDK's Client for every
// call, so the SDK's response schemas (zod) apply to each result. Checks that every fixture is
// listed, calls every fixture tool and checks its content, collects log notifications (after
// logging/setLevel) and progress notifications (an onprogress callback, which makes the SDK send
// a progressToken), reads the static and templated resources, gets every prompt, completes a
// template variable and a prompt argument, and closes. Prints TAP (plan at the end); exits 1 if
// anything failed. Run by t/0105-sdk-fixtures.t after scripts/npm-install-interop.
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { LoggingMessageNotificationSchema, McpError } from "@modelcontextprotocol/sdk/types.js";
import { anyFailed, diag, errorText, finish, is, ok, step } from "./tap.mjs";

const BIN = process.env.PGMCP_BIN;
const DSN = process.env.PGMCP_TEST_DSN;
const TIMEOUT = Number(process.env.PGMCP_TEST_TIMEOUT || 30) * 1000;
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const CONFIG = path.join(ROOT, "conf", "examples", "conformance.yaml");

// The fixtures' literals, as conf/examples/conformance.yaml declares them.
const PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==";
const WAV = "UklGRiQAAABXQVZFZm10IBAAAAABAAEAQB8AAIA+AAACABAAZGF0YQAAAAA=";
const TOOLS = ["test_simple_text", "test_image_content", "test_audio_content",
  "test_embedded_resource", "test_multiple_content_types", "test_tool_with_logging",
  "test_tool_with_progress", "test_error_handling", "test_logging_tool", "json_schema_2020_12_tool"];
const RESOURCES = ["test://static-text", "test://static-binary", "test://watched-resource"];
const TEMPLATE = "test://template/{id}/data";
const PROMPTS = ["test_simple_prompt", "test_prompt_with_arguments",
  "test_prompt_with_embedded_resource", "test_prompt_with_image"];

if (!BIN || !DSN) {
  console.log("Bail out! PGMCP_BIN and PGMCP_TEST_DSN must be set");
  process.exit(255);
}

const stderrChunks = [];
const transport = new StdioClientTransport({
  command: BIN,
  args: ["--stdio", "-c", CONFIG, DSN],
  // The whole environment, so ASAN_OPTIONS and friends reach the sanitizer build.
  env: { ...process.env },
  stderr: "pipe",
});
transport.stderr?.on("data", (chunk) => stderrChunks.push(chunk));
const serverStderr = () => Buffer.concat(stderrChunks).toString("utf8").slice(-3000);

const client = new Client({ name: "pgmcp-sdk-fixtures", version: "1.0.0" }, { capabilities: {} });
const opts = { timeout: TIMEOUT };

// Every notifications/message the server sends, in order.
const logs = [];
client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => { logs.push(n.params); });
// What the SDK reports outside any request (an unknown progress token, a malformed message).
// Progress notifications that the SDK handled after their response are set apart in lateProgress
// (see test_tool_with_progress below).
const protocolErrors = [];
const lateProgress = [];
const lateProgressReset = () => { lateProgress.length = 0; };
client.onerror = (e) => {
  const m = /^Received a progress notification for an unknown token: (.*)$/.exec(e?.message || "");
  let n = null;
  try { n = m && JSON.parse(m[1]); } catch { /* kept as a protocol error */ }
  if (n && n.params) lateProgress.push(n);
  else protocolErrors.push(errorText(e));
};

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
ok(caps.logging, "server advertises logging", caps);
ok(caps.completions, "server advertises completions", caps);

// ---- listings ----------------------------------------------------------------------------------

const toolsByName = {};
await step("tools/list", async () => {
  const tools = [];
  let cursor;
  do {
    const r = await client.listTools(cursor ? { cursor } : {}, opts);
    tools.push(...r.tools);
    cursor = r.nextCursor;
  } while (cursor);
  for (const t of tools) toolsByName[t.name] = t;
  for (const name of TOOLS) {
    const t = toolsByName[name];
    ok(t, `tools/list has ${name}`, Object.keys(toolsByName));
    ok(t && t.inputSchema?.type === "object", `${name} has an object inputSchema`, t);
    ok(t && typeof t.description === "string" && t.description.length > 0,
       `${name} has a description`, t);
  }
  is(toolsByName.test_simple_text?.description, "Returns a simple text response.",
     "test_simple_text's description is the declared one");
  const s = toolsByName.json_schema_2020_12_tool?.inputSchema || {};
  is(s.$schema, "https://json-schema.org/draft/2020-12/schema",
     "json_schema_2020_12_tool keeps $schema");
  is(s.$defs?.address?.$anchor, "addressDef", "json_schema_2020_12_tool keeps $defs and $anchor");
  is(s.properties?.address, { $ref: "#/$defs/address" }, "json_schema_2020_12_tool keeps $ref");
  is(s.properties?.contactMethod?.enum, ["phone", "email"], "json_schema_2020_12_tool keeps enum");
  is(s.allOf, [{ anyOf: [{ required: ["phone"] }, { required: ["email"] }] }],
     "json_schema_2020_12_tool keeps allOf/anyOf");
  is([s.if, s.then, s.else],
     [{ properties: { contactMethod: { const: "phone" } }, required: ["contactMethod"] },
      { required: ["phone"] }, { required: ["email"] }],
     "json_schema_2020_12_tool keeps if/then/else");
  is(s.additionalProperties, false, "json_schema_2020_12_tool keeps additionalProperties: false");
  // The fixtures other than the declared ones: the built-in tools stay on.
  ok(toolsByName.query, "the built-in query tool is still offered", Object.keys(toolsByName));
  const extra = Object.keys(toolsByName).filter((n) => n.startsWith("test_") && !TOOLS.includes(n));
  is(extra, [], "no test_* tools beyond those this script calls");
});

await step("resources/list", async () => {
  const resources = [];
  let cursor;
  do {
    const r = await client.listResources(cursor ? { cursor } : {}, opts);
    resources.push(...r.resources);
    cursor = r.nextCursor;
  } while (cursor);
  const byUri = Object.fromEntries(resources.map((r) => [r.uri, r]));
  for (const uri of RESOURCES) ok(byUri[uri], `resources/list has ${uri}`, Object.keys(byUri));
  is(byUri["test://static-text"]?.name, "static-text", "static-text's name");
  is(byUri["test://static-text"]?.mimeType, "text/plain", "static-text's mimeType");
  is(byUri["test://static-binary"]?.mimeType, "image/png", "static-binary's mimeType");
  is(byUri["test://watched-resource"]?.description, "A resource clients may subscribe to.",
     "watched-resource's description");
});

await step("resources/templates/list", async () => {
  const { resourceTemplates } = await client.listResourceTemplates({}, opts);
  const t = resourceTemplates.find((x) => x.uriTemplate === TEMPLATE);
  ok(t, `resources/templates/list has ${TEMPLATE}`, resourceTemplates);
  is(t?.name, "template-data", "the template's name");
  is(t?.mimeType, "application/json", "the template's mimeType");
});

const promptsByName = {};
await step("prompts/list", async () => {
  const { prompts } = await client.listPrompts({}, opts);
  for (const p of prompts) promptsByName[p.name] = p;
  for (const name of PROMPTS) ok(promptsByName[name], `prompts/list has ${name}`, Object.keys(promptsByName));
  is(promptsByName.test_prompt_with_arguments?.arguments?.map((a) => [a.name, a.required]),
     [["arg1", true], ["arg2", true]], "test_prompt_with_arguments declares arg1 and arg2, required");
  is(promptsByName.test_prompt_with_embedded_resource?.arguments?.map((a) => a.name),
     ["resourceUri"], "test_prompt_with_embedded_resource declares resourceUri");
  ok(!promptsByName.test_simple_prompt?.arguments?.length, "test_simple_prompt has no arguments",
     promptsByName.test_simple_prompt);
});

// ---- tools -------------------------------------------------------------------------------------

async function call(name, args = {}, options = opts) {
  return client.callTool({ name, arguments: args }, undefined, options);
}

await step("test_simple_text", async () => {
  const r = await call("test_simple_text");
  ok(r.isError !== true, "test_simple_text succeeds", r);
  is(r.content, [{ type: "text", text: "This is a simple text response for testing." }],
     "test_simple_text returns the text");
});

await step("test_image_content", async () => {
  const r = await call("test_image_content");
  ok(r.isError !== true, "test_image_content succeeds", r);
  is(r.content, [{ type: "image", data: PNG, mimeType: "image/png" }],
     "test_image_content returns the PNG as an image");
  const png = Buffer.from(r.content?.[0]?.data || "", "base64");
  is(png.subarray(1, 4).toString("latin1"), "PNG", "the image data decodes to a PNG");
});

await step("test_audio_content", async () => {
  const r = await call("test_audio_content");
  ok(r.isError !== true, "test_audio_content succeeds", r);
  is(r.content, [{ type: "audio", data: WAV, mimeType: "audio/wav" }],
     "test_audio_content returns the WAV as audio");
  const wav = Buffer.from(r.content?.[0]?.data || "", "base64");
  is([wav.subarray(0, 4).toString("latin1"), wav.subarray(8, 12).toString("latin1")],
     ["RIFF", "WAVE"], "the audio data decodes to a RIFF WAVE");
});

await step("test_embedded_resource", async () => {
  const r = await call("test_embedded_resource");
  ok(r.isError !== true, "test_embedded_resource succeeds", r);
  is(r.content, [{ type: "resource", resource: { uri: "test://embedded-resource",
     mimeType: "text/plain", text: "This is an embedded resource content." } }],
     "test_embedded_resource returns the embedded text resource");
});

await step("test_multiple_content_types", async () => {
  const r = await call("test_multiple_content_types");
  ok(r.isError !== true, "test_multiple_content_types succeeds", r);
  is(r.content?.map((c) => c.type), ["text", "image", "resource"],
     "test_multiple_content_types returns text, image, resource in order");
  is(r.content?.[0], { type: "text", text: "Multiple content types test:" }, "its text item");
  is(r.content?.[1], { type: "image", data: PNG, mimeType: "image/png" }, "its image item");
  is(r.content?.[2], { type: "resource", resource: { uri: "test://mixed-content-resource",
     mimeType: "application/json", text: '{"test":"data","value":123}' } }, "its resource item");
  let data = null;
  try { data = JSON.parse(r.content?.[2]?.resource?.text); } catch { /* reported below */ }
  is(data, { test: "data", value: 123 }, "the embedded JSON parses");
});

await step("test_tool_with_logging", async () => {
  logs.length = 0;
  const before = await call("test_tool_with_logging");
  ok(before.isError !== true, "test_tool_with_logging succeeds before logging/setLevel", before);
  is(logs.length, 0, "no log notifications before logging/setLevel");
  const lr = await client.setLoggingLevel("debug", opts);
  ok(lr && typeof lr === "object", "logging/setLevel debug answers", lr);
  logs.length = 0;
  const r = await call("test_tool_with_logging");
  ok(r.isError !== true, "test_tool_with_logging succeeds", r);
  is(r.content?.length, 1, "test_tool_with_logging returns one content item");
  is(r.content?.[0]?.type, "text", "it is text");
  // The SDK dispatches notifications as they are read, and they precede the response.
  ok(logs.length >= 1, "log notifications arrive during the call", logs);
  ok(logs.every((l) => typeof l.level === "string" && l.data !== undefined),
     "each log notification has a level and data", logs);
  ok(logs.every((l) => l.logger === "pgmcp"), "log notifications name the logger pgmcp", logs);
  ok(logs.some((l) => String(l.data).includes("test_tool_with_logging")),
     "a log notification names the tool", logs);
  const last = logs[logs.length - 1];
  ok(last && /done: ok/.test(String(last.data)), "the last log notification reports completion",
     logs);
  // A higher level filters the info messages out.
  await client.setLoggingLevel("error", opts);
  logs.length = 0;
  const quiet = await call("test_tool_with_logging");
  ok(quiet.isError !== true, "test_tool_with_logging succeeds at level error", quiet);
  is(logs, [], "no info log notifications at level error");
  // test_error_handling's failure is a warning or above; at level warning it is logged.
  await client.setLoggingLevel("warning", opts);
  logs.length = 0;
  await call("test_error_handling");
  ok(logs.length >= 1 && logs.every((l) => ["warning", "error", "critical", "alert", "emergency"]
     .includes(l.level)), "a failed tool call is logged at warning or above", logs);
  await client.setLoggingLevel("info", opts);
});

await step("test_logging_tool", async () => {
  logs.length = 0;
  const r = await call("test_logging_tool");
  ok(r.isError !== true, "test_logging_tool succeeds", r);
  is(r.content, [{ type: "text", text: "Logging tool completed" }], "test_logging_tool's text");
  ok(logs.some((l) => String(l.data).includes("test_logging_tool")),
     "test_logging_tool is logged at level info", logs);
});

await step("test_tool_with_progress", async () => {
  const progress = [];
  lateProgressReset();
  const r = await call("test_tool_with_progress", {},
                       { ...opts, onprogress: (p) => progress.push(p) });
  ok(r.isError !== true, "test_tool_with_progress succeeds", r);
  is(r.content?.[0]?.type, "text", "test_tool_with_progress returns text");
  ok(progress.length >= 1, "progress notifications reach the onprogress callback", progress);
  // pgmcp writes every progress notification before the response, but the SDK runs notification
  // handlers a microtask later while it settles the response at once (and drops the request's
  // progress handler then): those that shared a read with the response come back as "unknown
  // token" errors. Count them too, so the check is of what the server sent.
  const late = lateProgress.map((n) => n.params);
  const tokens = [...new Set(lateProgress.map((n) => n.params.progressToken))];
  ok(tokens.length <= 1, "late progress notifications (if any) carry this call's one token", tokens);
  const all = [...progress, ...late.map(({ progressToken, ...rest }) => rest)];
  if (late.length) diag(`${late.length} progress notification(s) arrived with the response`);
  ok(all.every((p) => typeof p.progress === "number"), "each has a numeric progress", all);
  ok(all.every((p, i) => i === 0 || p.progress > all[i - 1].progress), "progress increases", all);
  ok(all.every((p) => typeof p.message === "string" && p.message.length > 0),
     "progress notifications carry messages", all);
  ok(/^done: ok/.test(all[all.length - 1]?.message || ""),
     "the last progress notification reports completion", all);
  // Without onprogress the SDK sends no progressToken; a progress notification the server sent
  // anyway would reach client.onerror as one for an unknown token.
  lateProgressReset();
  const r2 = await call("test_tool_with_progress", {}, opts);
  ok(r2.isError !== true, "a call without a progressToken works", r2);
  await new Promise((resolve) => setImmediate(resolve));
  is(lateProgress, [], "no progress notifications without a progressToken");
});

await step("test_error_handling", async () => {
  const r = await call("test_error_handling");
  is(r.isError, true, "test_error_handling gives isError: true");
  const text = r.content?.find((c) => c.type === "text")?.text || "";
  ok(/division by zero/.test(text), "the error text names the division by zero", r);
});

await step("json_schema_2020_12_tool", async () => {
  const r = await call("json_schema_2020_12_tool",
                       { name: "Ada", contactMethod: "email", email: "ada@example.org",
                         address: { street: "1 Main St", city: "Springfield" } });
  ok(r.isError !== true, "json_schema_2020_12_tool succeeds", r);
  is(r.content, [{ type: "text", text: "ok" }], "json_schema_2020_12_tool returns ok");
});

// ---- resources ---------------------------------------------------------------------------------

await step("read test://static-text", async () => {
  const r = await client.readResource({ uri: "test://static-text" }, opts);
  is(r.contents, [{ uri: "test://static-text", mimeType: "text/plain",
     text: "This is the content of the static text resource." }], "test://static-text's content");
});

await step("read test://static-binary", async () => {
  const r = await client.readResource({ uri: "test://static-binary" }, opts);
  is(r.contents, [{ uri: "test://static-binary", mimeType: "image/png", blob: PNG }],
     "test://static-binary's content is the PNG blob");
});

await step("read test://watched-resource", async () => {
  const r = await client.readResource({ uri: "test://watched-resource" }, opts);
  is(r.contents?.[0]?.text, "Watched resource content.", "test://watched-resource's text");
});

await step("read test://template/123/data", async () => {
  const r = await client.readResource({ uri: "test://template/123/data" }, opts);
  is(r.contents?.length, 1, "the template read returns one content item");
  const c = r.contents?.[0] || {};
  is(c.uri, "test://template/123/data", "its uri is the requested one");
  is(c.mimeType, "application/json", "its mimeType is application/json");
  let body = null;
  try { body = JSON.parse(c.text); } catch { /* reported below */ }
  is(body, { id: "123", templateTest: true, data: "Data for ID: 123" },
     "its JSON has the id bound into the template");
});

await step("read an unknown resource", async () => {
  let err = null;
  try {
    await client.readResource({ uri: "test://no-such-resource" }, opts);
  } catch (e) {
    err = e;
  }
  ok(err instanceof McpError, "an unknown resource is a JSON-RPC error", err ? errorText(err) : "none");
});

// ---- prompts -----------------------------------------------------------------------------------

await step("test_simple_prompt", async () => {
  const r = await client.getPrompt({ name: "test_simple_prompt" }, opts);
  is(r.messages, [{ role: "user", content: { type: "text", text: "This is a simple prompt for testing." } }],
     "test_simple_prompt's message");
});

await step("test_prompt_with_arguments", async () => {
  const r = await client.getPrompt({ name: "test_prompt_with_arguments",
                                     arguments: { arg1: "first", arg2: "second" } }, opts);
  is(r.messages, [{ role: "user", content: { type: "text",
     text: "Prompt with arguments: arg1='first', arg2='second'" } }],
     "test_prompt_with_arguments substitutes both arguments");
  let err = null;
  try {
    await client.getPrompt({ name: "test_prompt_with_arguments", arguments: { arg1: "x" } }, opts);
  } catch (e) {
    err = e;
  }
  ok(err instanceof McpError, "a missing required argument is a JSON-RPC error",
     err ? errorText(err) : "none");
});

await step("test_prompt_with_embedded_resource", async () => {
  const r = await client.getPrompt({ name: "test_prompt_with_embedded_resource",
                                     arguments: { resourceUri: "test://example-resource" } }, opts);
  is(r.messages?.length, 2, "test_prompt_with_embedded_resource has two messages");
  is(r.messages?.[0], { role: "user", content: { type: "resource", resource: {
     uri: "test://example-resource", mimeType: "text/plain",
     text: "Embedded resource content for testing." } } },
     "the first message embeds the resource at the given uri");
  is(r.messages?.[1], { role: "user", content: { type: "text",
     text: "Please process the embedded resource above." } }, "the second message is the text");
});

await step("test_prompt_with_image", async () => {
  const r = await client.getPrompt({ name: "test_prompt_with_image" }, opts);
  is(r.messages?.length, 2, "test_prompt_with_image has two messages");
  is(r.messages?.[0], { role: "user", content: { type: "image", data: PNG, mimeType: "image/png" } },
     "the first message is the PNG image");
  is(r.messages?.[1], { role: "user", content: { type: "text", text: "Please analyze the image above." } },
     "the second message is the text");
});

// ---- completion --------------------------------------------------------------------------------

await step("complete a template variable", async () => {
  const r = await client.complete({ ref: { type: "ref/resource", uri: TEMPLATE },
                                    argument: { name: "id", value: "1" } }, opts);
  is(r.completion?.values, ["1", "123"], "id completes '1' to 1 and 123");
  const all = await client.complete({ ref: { type: "ref/resource", uri: TEMPLATE },
                                      argument: { name: "id", value: "" } }, opts);
  is(all.completion?.values, ["1", "2", "3", "123"], "id completes '' to every value");
});

await step("complete a prompt argument", async () => {
  const r = await client.complete({ ref: { type: "ref/prompt", name: "test_prompt_with_arguments" },
                                    argument: { name: "arg1", value: "par" } }, opts);
  is(r.completion?.values, ["paris", "park", "party"], "arg1 completes 'par' to paris, park, party");
  const r2 = await client.complete({ ref: { type: "ref/prompt", name: "test_prompt_with_arguments" },
                                     argument: { name: "arg1", value: "pari" } }, opts);
  is(r2.completion?.values, ["paris"], "arg1 completes 'pari' to paris");
  const r3 = await client.complete({ ref: { type: "ref/prompt", name: "test_prompt_with_arguments" },
                                     argument: { name: "arg2", value: "x" } }, opts);
  is(r3.completion?.values, [], "arg2 (no completions declared) completes to nothing");
});

is(protocolErrors, [], "the SDK reported no protocol errors during the session");

// ---- close -------------------------------------------------------------------------------------

const proc = transport._process;
await step("close", async () => {
  const exited = proc && proc.exitCode === null
    ? new Promise((resolve) => proc.once("exit", (code, signal) => resolve({ code, signal })))
    : Promise.resolve({ code: proc?.exitCode, signal: proc?.signalCode });
  await client.close();
  // The SDK ends stdin, then signals after a grace period; pgmcp should exit on EOF by itself.
  const st = await Promise.race([exited, new Promise((r) => setTimeout(() => r("timeout"), 15000))]);
  ok(st !== "timeout", "pgmcp exits after close", serverStderr());
  ok(st?.code === 0 && !st?.signal, "pgmcp exit status 0",
     `exit: ${JSON.stringify(st)}\nserver stderr:\n${serverStderr()}`);
});

if (anyFailed()) diag(`server stderr (tail):\n${serverStderr()}`);
finish();
