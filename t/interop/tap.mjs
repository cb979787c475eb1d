// t/interop/tap.mjs: TAP output for the node clients in t/interop (plan printed at the end by
// finish(), which also sets the exit status). The .t files that run them renumber the lines.
import { McpError } from "@modelcontextprotocol/sdk/types.js";

let count = 0;
let failed = 0;

export function diag(text) {
  for (const line of String(text).split("\n")) console.log(`# ${line}`);
}

export function ok(cond, name, detail) {
  count += 1;
  console.log(`${cond ? "ok" : "not ok"} ${count} - ${name}`);
  if (!cond) {
    failed += 1;
    if (detail !== undefined) {
      diag(typeof detail === "string" ? detail : JSON.stringify(detail).slice(0, 3000));
    }
  }
  return Boolean(cond);
}

export function is(got, expected, name) {
  const g = JSON.stringify(got);
  const e = JSON.stringify(expected);
  return ok(g === e, name, `got: ${g}\nexpected: ${e}`);
}

export function errorText(e) {
  if (e instanceof McpError) return `McpError ${e.code}: ${e.message}`;
  let text = e && e.stack ? e.stack : String(e);
  // fetch() hides the socket-level reason (reset, closed by the other side) in e.cause.
  for (let c = e?.cause, depth = 0; c && depth < 3; c = c.cause, depth++) {
    text += `\ncause: ${c.code ? `${c.code} ` : ""}${c.message || String(c)}`;
    if (c.socket) text += ` (local port ${c.socket.localPort}, ${c.socket.bytesWritten} bytes written, ${c.socket.bytesRead} read)`;
  }
  return text;
}

// Runs one step; an exception is a failed test carrying the SDK's error text.
export async function step(name, fn) {
  try {
    await fn();
  } catch (e) {
    ok(false, `${name}: no exception`, errorText(e));
  }
}

export function anyFailed() {
  return failed > 0;
}

// Prints the plan and exits: 1 if anything failed (or `failure` is set), else 0.
export function finish(failure = false) {
  console.log(`1..${count}`);
  process.exit(failed || failure ? 1 : 0);
}
