// sdk_server.mjs: an MCP server built on the official TypeScript SDK (@modelcontextprotocol/sdk,
// installed into t/interop/node_modules by scripts/npm-install-interop), for testing the Python
// client's HTTP transports against an implementation that is not ours.
//
//   node sdk_server.mjs            listens on 127.0.0.1 with an ephemeral port and prints
//                                  {"port": N} as its first line; exits when stdin closes
//
//   POST/GET/DELETE /mcp       Streamable HTTP, stateful, responses as SSE streams (SDK default)
//   POST/GET/DELETE /mcp-json  Streamable HTTP, stateful, responses as application/json
//   GET /sse, POST /messages   legacy HTTP+SSE (SSEServerTransport)
//   GET /stats                 what the server saw: DELETEs, cancelled tool calls, sessions
//
// Tools: echo, add, slow (waits ms unless cancelled), fail (isError), chatty (log and progress
// notifications before its result), whoami (the session id).
import http from "node:http";
import path from "node:path";
import { randomUUID } from "node:crypto";
import { fileURLToPath, pathToFileURL } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const sdkDir = process.env.PGMCP_SDK_DIR ||
  path.join(here, "..", "..", "t", "interop", "node_modules", "@modelcontextprotocol", "sdk");
const load = (rel) => import(pathToFileURL(path.join(sdkDir, "dist", "esm", rel)).href);

const { Server } = await load("server/index.js");
const { StreamableHTTPServerTransport } = await load("server/streamableHttp.js");
const { SSEServerTransport } = await load("server/sse.js");
const types = await load("types.js");

const stats = { deletes: 0, cancelled: [], initialized: 0, toolCalls: 0, sessions: [] };

const TOOLS = [
  {
    name: "echo",
    description: "Echo the text back.",
    inputSchema: {
      type: "object",
      properties: {
        text: { type: "string", description: "What to echo.", examples: ["hello"] },
        style: { type: "string", enum: ["plain", "upper"], default: "plain",
                 description: "plain or upper case." },
      },
      required: ["text"],
      additionalProperties: false,
    },
  },
  {
    name: "add",
    description: "Add two numbers.",
    inputSchema: {
      type: "object",
      properties: { a: { type: "number" }, b: { type: "number" } },
      required: ["a", "b"],
    },
    outputSchema: { type: "object", properties: { sum: { type: "number" } }, required: ["sum"] },
  },
  {
    name: "slow",
    description: "Wait ms milliseconds (cancellable), then answer.",
    inputSchema: { type: "object", properties: { ms: { type: "integer", minimum: 0 } },
                   required: ["ms"] },
  },
  { name: "fail", description: "Always fails with isError.",
    inputSchema: { type: "object", properties: {} } },
  { name: "chatty", description: "Sends log and progress notifications, then answers.",
    inputSchema: { type: "object", properties: {} } },
  { name: "whoami", description: "The MCP session id this request belongs to.",
    inputSchema: { type: "object", properties: {} } },
];

function text(t) {
  return { content: [{ type: "text", text: t }] };
}

function makeServer() {
  const server = new Server({ name: "sdk-test-server", version: "1.0.0" },
                            { capabilities: { tools: {}, logging: {} } });
  server.setRequestHandler(types.ListToolsRequestSchema, async () => ({ tools: TOOLS }));
  server.setRequestHandler(types.CallToolRequestSchema, async (req, extra) => {
    stats.toolCalls++;
    const args = req.params.arguments || {};
    switch (req.params.name) {
      case "echo":
        return text(args.style === "upper" ? String(args.text).toUpperCase() : String(args.text));
      case "add": {
        const sum = Number(args.a) + Number(args.b);
        return { ...text(String(sum)), structuredContent: { sum } };
      }
      case "slow":
        return await new Promise((resolve) => {
          const timer = setTimeout(() => resolve(text(`slept ${args.ms} ms`)), args.ms);
          extra.signal.addEventListener("abort", () => {
            clearTimeout(timer);
            stats.cancelled.push({ tool: "slow", requestId: extra.requestId });
            resolve(text("cancelled"));
          });
        });
      case "fail":
        return { ...text("this tool always fails"), isError: true };
      case "chatty": {
        await extra.sendNotification({ method: "notifications/message",
                                       params: { level: "info", logger: "chatty", data: "one" } });
        const token = req.params._meta && req.params._meta.progressToken;
        if (token !== undefined) {
          await extra.sendNotification({ method: "notifications/progress",
                                         params: { progressToken: token, progress: 1, total: 2 } });
          await extra.sendNotification({ method: "notifications/progress",
                                         params: { progressToken: token, progress: 2, total: 2 } });
        }
        return text("chatted");
      }
      case "whoami":
        return text(String(extra.sessionId));
      default:
        throw new types.McpError(types.ErrorCode.InvalidParams, `unknown tool ${req.params.name}`);
    }
  });
  server.oninitialized = () => { stats.initialized++; };
  return server;
}

const streamable = { "/mcp": new Map(), "/mcp-json": new Map() };
const sseSessions = new Map();

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

function jsonError(res, status, message) {
  res.writeHead(status, { "Content-Type": "application/json" });
  res.end(JSON.stringify({ jsonrpc: "2.0", id: null, error: { code: -32000, message } }));
}

async function handleStreamable(route, req, res) {
  const sessions = streamable[route];
  const sid = req.headers["mcp-session-id"];
  let body;
  if (req.method === "POST") {
    const raw = await readBody(req);
    try { body = JSON.parse(raw); } catch { return jsonError(res, 400, "Parse error"); }
  }
  if (req.method === "DELETE") stats.deletes++;
  let transport = sid ? sessions.get(sid) : undefined;
  if (!transport) {
    if (sid) return jsonError(res, 404, "Session not found");
    if (req.method !== "POST" || !types.isInitializeRequest(body))
      return jsonError(res, 400, "Bad Request: No valid session ID provided");
    transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      enableJsonResponse: route === "/mcp-json",
      onsessioninitialized: (id) => { sessions.set(id, transport); stats.sessions.push(id); },
    });
    transport.onclose = () => { if (transport.sessionId) sessions.delete(transport.sessionId); };
    await makeServer().connect(transport);
  }
  await transport.handleRequest(req, res, body);
}

const httpServer = http.createServer(async (req, res) => {
  try {
    const url = new URL(req.url, "http://127.0.0.1");
    if (url.pathname === "/mcp" || url.pathname === "/mcp-json") {
      return await handleStreamable(url.pathname, req, res);
    }
    if (url.pathname === "/sse" && req.method === "GET") {
      const transport = new SSEServerTransport("/messages", res);
      sseSessions.set(transport.sessionId, transport);
      res.on("close", () => sseSessions.delete(transport.sessionId));
      await makeServer().connect(transport);
      return;
    }
    if (url.pathname === "/messages" && req.method === "POST") {
      const transport = sseSessions.get(url.searchParams.get("sessionId"));
      if (!transport) return jsonError(res, 404, "Session not found");
      const raw = await readBody(req);
      let body;
      try { body = JSON.parse(raw); } catch { return jsonError(res, 400, "Parse error"); }
      return await transport.handlePostMessage(req, res, body);
    }
    if (url.pathname === "/stats") {
      res.writeHead(200, { "Content-Type": "application/json" });
      return res.end(JSON.stringify(stats));
    }
    res.writeHead(404).end();
  } catch (e) {
    process.stderr.write(`sdk_server: ${e && e.stack || e}\n`);
    if (!res.headersSent) jsonError(res, 500, String(e));
  }
});

httpServer.listen(0, "127.0.0.1", () => {
  process.stdout.write(JSON.stringify({ port: httpServer.address().port }) + "\n");
});
process.stdin.resume();
process.stdin.on("end", () => process.exit(0));
process.on("SIGTERM", () => process.exit(0));
