"""cli.py: the pgmcp-client command.

    python3 -m pgmcp_client [--server CMD | --url URL | --sse URL] COMMAND ...

    ask [QUESTION]        answer a question through the model and the server's tools
                          (an interactive prompt when no question is given)
    tools [NAME ...]      list the server's tools with their input schemas
    call TOOL [k=v ...]   call one tool (values parsed as JSON when they parse, else strings)
    info                  the server, protocol version and transport in use

Settings come from flags, then the environment, then a .env file (./.env or --env-file),
then defaults. Results print as aligned tables on a terminal and as JSON when piped (or
with --json).
"""
import argparse
import json
import logging
import os
import shutil
import sys
import time

from ._version import __version__
from .session import MODERN_VERSION, SUPPORTED_VERSIONS, McpError, McpSession, ToolError, \
    result_text

log = logging.getLogger("pgmcp_client")

EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2


# -- .env ----------------------------------------------------------------------------------

def read_env_file(path):
    """KEY=VALUE lines: `export ` prefixes, # comments, single quotes (literal) and double
    quotes (with \\n, \\t, \\" and \\\\ escapes) are understood. Returns a dict."""
    values = {}
    with open(path, encoding="utf-8-sig") as f:
        for raw in f:
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            if line.startswith("export "):
                line = line[7:].lstrip()
            key, sep, value = line.partition("=")
            key = key.strip()
            if not sep or not key.replace("_", "").isalnum():
                continue
            value = value.strip()
            if len(value) >= 2 and value[0] == value[-1] == "'":
                value = value[1:-1]
            elif len(value) >= 2 and value[0] == value[-1] == '"':
                value = value[1:-1]
                for a, b in (("\\\\", "\0"), ("\\n", "\n"), ("\\t", "\t"), ('\\"', '"'),
                             ("\0", "\\")):
                    value = value.replace(a, b)
            else:
                hash_at = value.find(" #")
                if hash_at >= 0:
                    value = value[:hash_at].rstrip()
            values[key] = value
    return values


class Settings:
    """Flags > environment > .env file > defaults."""

    def __init__(self, args, environ=None):
        self.args = args
        self.environ = dict(os.environ if environ is None else environ)
        self.file = {}
        path = getattr(args, "env_file", None)
        if path:
            if not os.path.exists(path):
                raise SystemExit("pgmcp-client: --env-file %s: no such file" % path)
            self.file = read_env_file(path)
        elif os.path.exists(".env"):
            self.file = read_env_file(".env")

    def get(self, flag, env, default=None):
        value = getattr(self.args, flag, None) if flag else None
        if value is not None:
            return value
        for name in ([env] if isinstance(env, str) else env or []):
            if self.environ.get(name):
                return self.environ[name]
            if self.file.get(name):
                return self.file[name]
        return default

    def child_env(self):
        """The environment for a stdio server: ours, plus .env values we do not already have."""
        env = dict(self.file)
        env.update(self.environ)
        dsn = getattr(self.args, "dsn", None)
        if dsn:
            env["DATABASE_URL"] = dsn
        return env


# -- connecting ----------------------------------------------------------------------------

def default_server_command(settings):
    """PGMCP_SERVER, else `pgmcp --stdio` (PGMCP_BIN, PATH, or a pgmcp built next to client/).
    The DSN travels in the child's DATABASE_URL, never on its command line."""
    cmd = settings.get(None, "PGMCP_SERVER")
    if cmd:
        return cmd
    binary = settings.get(None, "PGMCP_BIN")
    if not binary:
        binary = shutil.which("pgmcp")
    if not binary:
        here = os.path.dirname(os.path.abspath(__file__))
        built = os.path.join(here, "..", "..", "build", "pgmcp")
        binary = os.path.normpath(built) if os.path.exists(built) else "pgmcp"
    return [binary, "--stdio"]


def open_session(settings, trace=None):
    a = settings.args
    timeout = float(settings.get("timeout", "PGMCP_TIMEOUT", 60))
    version = settings.get("protocol", "PGMCP_PROTOCOL", "auto")
    headers = {}
    for h in getattr(a, "header", None) or []:
        k, sep, v = h.partition(":")
        if not sep:
            raise SystemExit("pgmcp-client: --header wants 'Name: value', got %r" % h)
        headers[k.strip()] = v.strip()
    token = settings.get("token", "PGMCP_AUTH_TOKEN")
    if token:
        headers["Authorization"] = "Bearer " + token
    kw = {"protocol_version": version, "timeout": timeout, "trace": trace}
    if a.server:
        return McpSession.stdio(a.server, env=settings.child_env(), **kw)
    if a.url:
        return McpSession.http(a.url, headers=headers, **kw)
    if a.sse:
        return McpSession.sse(a.sse, headers=headers, **kw)
    url = settings.get(None, "PGMCP_URL")
    if url:
        return McpSession.http(url, headers=headers, **kw)
    sse = settings.get(None, "PGMCP_SSE_URL")
    if sse:
        return McpSession.sse(sse, headers=headers, **kw)
    return McpSession.stdio(default_server_command(settings), env=settings.child_env(), **kw)


# -- output --------------------------------------------------------------------------------

def cell(value, width=60):
    if value is None:
        text = "NULL"
    elif isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, (dict, list)):
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    else:
        text = str(value)
    text = text.replace("\r\n", "\\n").replace("\n", "\\n").replace("\t", " ")
    if len(text) > width:
        text = text[:width - 1] + "\u2026"
    return text


def format_table(rows, columns=None, max_width=60):
    """Rows (dicts) as an aligned text table; numbers right-aligned."""
    if columns is None:
        columns = []
        for r in rows:
            for k in r:
                if k not in columns:
                    columns.append(k)
    cells = [[cell(r.get(c), max_width) for c in columns] for r in rows]
    numeric = [all(isinstance(r.get(c), (int, float)) and not isinstance(r.get(c), bool)
                   for r in rows if r.get(c) is not None) and any(r.get(c) is not None
                                                                 for r in rows)
               for c in columns]
    widths = [max([len(str(c))] + [len(row[i]) for row in cells]) for i, c in enumerate(columns)]

    def line(values, header=False):
        parts = []
        for i, v in enumerate(values):
            parts.append(v.rjust(widths[i]) if numeric[i] else v.ljust(widths[i]))
        return " | ".join(parts).rstrip()

    out = [line([str(c) for c in columns], True), "-+-".join("-" * w for w in widths)]
    out += [line(row) for row in cells]
    return "\n".join(out)


def format_result(result):
    """A tool result for a human: tables for row lists, key: value for the rest."""
    sc = result.get("structuredContent")
    if not isinstance(sc, dict):
        return result_text(result)
    out = []
    if isinstance(sc.get("rows"), list):
        cols = [c.get("name") if isinstance(c, dict) else str(c) for c in sc.get("columns") or []]
        rows = sc["rows"]
        out.append(format_table(rows, cols or None) if (cols or rows) else "(no columns)")
        n = sc.get("row_count", len(rows))
        footer = "(%d row%s)" % (n, "" if n == 1 else "s")
        if sc.get("truncated"):
            footer += " truncated by %s" % sc.get("truncated_by", "a limit")
        out.append(footer)
        if sc.get("notice"):
            out.append(str(sc["notice"]))
        return "\n".join(out)
    scalars = [(k, v) for k, v in sc.items() if not (isinstance(v, list) and v and
                                                     all(isinstance(x, dict) for x in v))]
    lists = [(k, v) for k, v in sc.items() if (k, v) not in scalars]
    if scalars:
        w = max(len(k) for k, _ in scalars)
        for k, v in scalars:
            if isinstance(v, str) and "\n" in v:
                out.append("%s:\n%s" % (k, v))
            else:
                out.append("%s  %s" % ((k + ":").ljust(w + 1), cell(v, 200)))
    for k, v in lists:
        if out:
            out.append("")
        out.append("%s:" % k)
        out.append(format_table(v))
    return "\n".join(out)


def schema_type(schema):
    t = schema.get("type")
    if isinstance(t, list):
        t = "|".join(map(str, t))
    if t == "array" and isinstance(schema.get("items"), dict):
        t = "array of %s" % schema_type(schema["items"])
    if "enum" in schema:
        t = "%s: %s" % (t or "enum", "|".join(map(str, schema["enum"])))
    return t or "any"


def format_tools(tools):
    out = []
    for t in tools:
        out.append("%s - %s" % (t["name"], t.get("title") or ""))
        if t.get("description"):
            out.append("  " + t["description"])
        schema = t.get("inputSchema") or {}
        props = schema.get("properties") or {}
        required = set(schema.get("required") or [])
        if props:
            rows = []
            for name, p in props.items():
                desc = p.get("description", "")
                if "default" in p:
                    desc += (" " if desc else "") + "(default %s)" % json.dumps(p["default"])
                if p.get("examples"):
                    desc += (" " if desc else "") + "e.g. " + json.dumps(p["examples"][0])
                rows.append({"argument": name, "type": schema_type(p),
                             "required": "yes" if name in required else "",
                             "description": desc})
            out.append("  " + format_table(rows, max_width=90).replace("\n", "\n  "))
        else:
            out.append("  (no arguments)")
        out.append("")
    return "\n".join(out).rstrip()


def parse_call_args(pairs):
    """key=value pairs (values parsed as JSON when they parse, else kept as strings), or one
    JSON object."""
    if len(pairs) == 1 and pairs[0].lstrip().startswith("{"):
        try:
            obj = json.loads(pairs[0])
        except ValueError as e:
            raise SystemExit("pgmcp-client: call: the arguments are not a JSON object: %s" % e)
        if isinstance(obj, dict):
            return obj
    args = {}
    for p in pairs:
        key, sep, value = p.partition("=")
        if not sep or not key:
            raise SystemExit("pgmcp-client: call: expected key=value, got %r" % p)
        try:
            args[key] = json.loads(value)
        except ValueError:
            args[key] = value
    return args


def emit_json(obj, stream=None):
    (stream or sys.stdout).write(json.dumps(obj, ensure_ascii=False, indent=2) + "\n")


# -- commands ------------------------------------------------------------------------------

def cmd_info(session, settings, as_json):
    info = {"server": session.server_info, "protocol_version": session.protocol_version,
            "stateless": session.stateless, "transport": session.transport.describe(),
            "capabilities": session.server_capabilities, "instructions": session.instructions}
    if as_json:
        emit_json(info)
    else:
        si = session.server_info or {}
        print("server:     %s %s" % (si.get("name", "?"), si.get("version", "")))
        print("protocol:   %s%s" % (session.protocol_version,
                                    " (stateless)" if session.stateless else ""))
        print("transport:  %s" % session.transport.describe())
        if session.instructions:
            print("instructions: %s" % session.instructions)
    return EXIT_OK


def cmd_tools(session, settings, as_json):
    tools = session.list_tools()
    names = settings.args.names
    if names:
        tools = [t for t in tools if t["name"] in names]
        missing = set(names) - {t["name"] for t in tools}
        if missing:
            print("pgmcp-client: no such tool: %s" % ", ".join(sorted(missing)), file=sys.stderr)
            return EXIT_ERROR
    if as_json:
        emit_json(tools)
    else:
        print(format_tools(tools))
    return EXIT_OK


def cmd_call(session, settings, as_json):
    args = parse_call_args(settings.args.arguments)
    result = session.call_tool(settings.args.tool, args, raise_on_error=False)
    if as_json:
        emit_json(result)
    elif result.get("isError"):
        print(result_text(result) or "the tool reported an error", file=sys.stderr)
    else:
        print(format_result(result))
    return EXIT_ERROR if result.get("isError") else EXIT_OK


class Transcript:
    """Prints the agent's steps to stderr as they happen."""

    def __init__(self, stream, enabled):
        self.stream = stream
        self.enabled = enabled

    def __call__(self, ev):
        if not self.enabled:
            return
        kind = ev["type"]
        if kind == "call":
            args = json.dumps(ev["arguments"], ensure_ascii=False)
            self.stream.write("-> %s %s\n" % (ev["tool"], args if len(args) < 400
                                               else args[:397] + "..."))
        elif kind == "result":
            self.stream.write("<- %s%s (%.0f ms)\n" % ("" if ev["ok"] else "error: ",
                                                     ev["summary"], ev["ms"]))
        elif kind == "text_rejected":
            self.stream.write("!! the model replied with text instead of a tool call; "
                              "asking again\n" if ev["attempt"] == 1 else
                              "!! the model replied with text again\n")
        elif kind == "bad_arguments":
            self.stream.write("!! %s: %s\n" % (ev["tool"], ev["problem"]))
        elif kind == "final_answer":
            self.stream.write("-> final_answer\n")
        self.stream.flush()


def make_agent(session, settings, on_event):
    from .agent import Agent
    from .llm import DEFAULT_BASE_URL, ChatClient
    s = settings
    base_url = s.get("base_url", "OPENAI_BASE_URL", DEFAULT_BASE_URL)
    api_key = s.get(None, "OPENAI_API_KEY")
    if not api_key and base_url.rstrip("/") == DEFAULT_BASE_URL:
        raise SystemExit("pgmcp-client: ask needs a model: set OPENAI_API_KEY (and OPENAI_MODEL), "
                         "or OPENAI_BASE_URL for a local OpenAI-compatible server (Ollama, vLLM, "
                         "llama.cpp), in the environment or in .env")
    llm = ChatClient(api_key=api_key or "", base_url=base_url,
                     model=s.get("model", "OPENAI_MODEL"),
                     timeout=float(s.get("llm_timeout", "OPENAI_TIMEOUT", 120)),
                     max_retries=int(s.get(None, "OPENAI_MAX_RETRIES", 4)))
    fold = s.get("fold_examples", "PGMCP_FOLD_EXAMPLES")
    fold = None if fold in (None, "", "auto") else str(fold).lower() in ("1", "true", "yes")
    return Agent(session, llm, max_steps=int(s.get("max_steps", "PGMCP_MAX_STEPS", 8)),
                 tool_choice=s.get("tool_choice", "PGMCP_TOOL_CHOICE", "required"),
                 fold=fold, on_event=on_event)


def answer_one(agent, question, as_json):
    t0 = time.monotonic()
    result = agent.ask(question)
    if as_json:
        doc = result.to_dict()
        doc["question"] = question
        doc["seconds"] = round(time.monotonic() - t0, 3)
        emit_json(doc)
    else:
        print(result.answer)
    sys.stdout.flush()


def cmd_ask(session, settings, as_json):
    from .llm import LlmError
    verbose = settings.args.verbose or 0
    show = (sys.stderr.isatty() or verbose > 0) and not settings.args.quiet
    agent = make_agent(session, settings, Transcript(sys.stderr, show))
    question = " ".join(settings.args.question).strip()
    if question:
        answer_one(agent, question, as_json)
        return EXIT_OK
    try:
        import readline  # noqa: F401  (line editing and history where available)
    except ImportError:
        pass
    interactive = sys.stdin.isatty()
    if interactive:
        si = session.server_info or {}
        print("Connected to %s %s (%s, protocol %s). Ask a question; exit or Ctrl-D quits, "
              "Ctrl-C cancels a running question."
              % (si.get("name", "server"), si.get("version", ""),
                 session.transport.describe(), session.protocol_version))
    status = EXIT_OK
    while True:
        try:
            question = input("question> " if interactive else "")
        except EOFError:
            if interactive:
                print()
            break
        except KeyboardInterrupt:
            print()
            break
        question = question.strip()
        if not question:
            continue
        if question.lower() in ("quit", "exit", "\\q"):
            break
        try:
            answer_one(agent, question, as_json)
        except KeyboardInterrupt:
            print("\n(interrupted)", file=sys.stderr)
        except (McpError, LlmError) as e:
            print("error: %s" % e, file=sys.stderr)
            status = EXIT_ERROR
            if session.closed:
                break
    return status


COMMANDS = {"ask": cmd_ask, "tools": cmd_tools, "call": cmd_call, "info": cmd_info}


# -- argument parsing ----------------------------------------------------------------------

def add_common_arguments(parser, default):
    """Options accepted before and after the command. After it, their default is SUPPRESS so
    they do not overwrite a value given before the command."""
    conn = parser.add_argument_group("server (one of; default: pgmcp --stdio with DATABASE_URL)")
    conn.add_argument("--server", metavar="CMD", default=default,
                      help="stdio server command, e.g. 'pgmcp --stdio' (env PGMCP_SERVER)")
    conn.add_argument("--url", metavar="URL", default=default,
                      help="Streamable HTTP endpoint, e.g. http://127.0.0.1:8080/mcp "
                           "(env PGMCP_URL)")
    conn.add_argument("--sse", metavar="URL", default=default,
                      help="legacy SSE endpoint, e.g. http://127.0.0.1:8080/sse "
                           "(env PGMCP_SSE_URL)")
    conn.add_argument("--dsn", metavar="DSN", default=default,
                      help="database for the default stdio server (env DATABASE_URL; passed "
                           "in the server's environment, never on its command line)")
    conn.add_argument("--protocol", metavar="VERSION", choices=("auto",) + SUPPORTED_VERSIONS,
                      default=default,
                      help="auto (default: %s when the server offers it, else the initialize "
                           "handshake) or one of %s" % (MODERN_VERSION,
                                                        ", ".join(SUPPORTED_VERSIONS)))
    conn.add_argument("--timeout", type=float, metavar="SECONDS", default=default,
                      help="per request (default 60; env PGMCP_TIMEOUT)")
    conn.add_argument("--header", action="append", metavar="'NAME: VALUE'", default=default,
                      help="extra HTTP header (repeatable)")
    conn.add_argument("--token", default=default,
                      help="HTTP bearer token (env PGMCP_AUTH_TOKEN)")
    model = parser.add_argument_group("model (ask)")
    model.add_argument("--model", default=default, help="model name (env OPENAI_MODEL)")
    model.add_argument("--base-url", dest="base_url", default=default,
                       help="OpenAI-compatible API base URL (env OPENAI_BASE_URL); the key "
                            "comes from OPENAI_API_KEY only")
    model.add_argument("--max-steps", dest="max_steps", type=int, default=default,
                       help="model turns per question (default 8; env PGMCP_MAX_STEPS)")
    model.add_argument("--llm-timeout", dest="llm_timeout", type=float, default=default,
                       help="seconds per model call (default 120; env OPENAI_TIMEOUT)")
    model.add_argument("--tool-choice", dest="tool_choice", default=default,
                       help="tool_choice sent to the model (default required)")
    model.add_argument("--fold-examples", dest="fold_examples", choices=("auto", "yes", "no"),
                       default=default,
                       help="fold schema examples into descriptions (default auto: only when "
                            "the endpoint refuses them)")
    out = parser.add_argument_group("output")
    out.add_argument("--json", action="store_true", default=default,
                     help="JSON output (the default when stdout is not a terminal)")
    out.add_argument("--table", action="store_true", default=default,
                     help="human output even when stdout is not a terminal")
    out.add_argument("-v", "--verbose", action="count", default=default,
                     help="show the agent's steps; -vv adds debug logs and the server's stderr")
    out.add_argument("-q", "--quiet", action="store_true", default=default,
                     help="no transcript, warnings only")
    out.add_argument("--trace", action="store_true", default=default,
                     help="print every JSON-RPC message to stderr")
    out.add_argument("--env-file", dest="env_file", metavar="PATH", default=default,
                     help="read settings from PATH instead of ./.env")


def build_parser():
    parser = argparse.ArgumentParser(
        prog="pgmcp-client",
        description="Ask a PostgreSQL database questions through pgmcp (an MCP server), or call "
                    "its tools directly.",
        epilog="Environment (also read from ./.env): DATABASE_URL, PGMCP_SERVER, PGMCP_BIN, "
               "PGMCP_URL, PGMCP_SSE_URL, PGMCP_TIMEOUT, PGMCP_PROTOCOL, PGMCP_AUTH_TOKEN, "
               "OPENAI_API_KEY, OPENAI_BASE_URL, OPENAI_MODEL, OPENAI_TIMEOUT, PGMCP_MAX_STEPS.")
    add_common_arguments(parser, None)
    parser.add_argument("--version", action="version", version="pgmcp-client " + __version__)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def command(name, help_text):
        p = sub.add_parser(name, help=help_text, description=help_text)
        add_common_arguments(p, argparse.SUPPRESS)
        return p

    p = command("ask", "answer a question through the model (interactive without one)")
    p.add_argument("question", nargs="*", help="the question (quote it)")
    p = command("tools", "list the server's tools with their input schemas")
    p.add_argument("names", nargs="*", help="only these tools")
    p = command("call", "call one tool: call TOOL key=value ... (no model needed)")
    p.add_argument("tool")
    p.add_argument("arguments", nargs="*", metavar="key=value",
                   help="arguments; a value is JSON when it parses as JSON, else a string "
                        "(or give one JSON object)")
    command("info", "the server, protocol version and transport in use")
    return parser


def setup_logging(verbose, quiet):
    level = logging.WARNING
    if verbose and verbose >= 2:
        level = logging.DEBUG
    elif verbose:
        level = logging.INFO
    if quiet:
        level = logging.WARNING
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("pgmcp-client: %(name)s: %(message)s"
                                           if level == logging.DEBUG else
                                           "pgmcp-client: %(message)s"))
    root = logging.getLogger("pgmcp_client")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False
    # The server's own log lines (stderr, notifications/message) only at -vv.
    logging.getLogger("pgmcp_client.server").setLevel(logging.DEBUG if level == logging.DEBUG
                                                      else logging.WARNING)


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        args.command = "ask"
        args.question = []
    setup_logging(args.verbose, args.quiet)
    if sum(1 for x in (args.server, args.url, args.sse) if x) > 1:
        parser.error("use only one of --server, --url and --sse")
    try:
        settings = Settings(args)
    except OSError as e:
        print("pgmcp-client: cannot read the .env file: %s" % e, file=sys.stderr)
        return EXIT_USAGE
    as_json = bool(args.json) or (not args.table and not sys.stdout.isatty())

    def trace(direction, msg):
        sys.stderr.write("%s %s\n" % (">>" if direction == "send" else "<<",
                                      json.dumps(msg, ensure_ascii=False)[:2000]))

    from .llm import LlmError
    session = None
    try:
        session = open_session(settings, trace if args.trace else None)
        return COMMANDS[args.command](session, settings, as_json)
    except ToolError as e:
        print("pgmcp-client: %s" % e, file=sys.stderr)
        return EXIT_ERROR
    except (McpError, LlmError) as e:
        print("pgmcp-client: %s" % e, file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("", file=sys.stderr)
        return 130
    except BrokenPipeError:
        try:
            sys.stdout = None
        except Exception:
            pass
        return EXIT_OK
    finally:
        if session is not None:
            session.close()


if __name__ == "__main__":
    sys.exit(main())
