"""agent.py: a question in plain words -> MCP tool calls, through strict tool-only function calling.

The MCP tools become Chat Completions function definitions unchanged: the inputSchema is the
function's parameters (required fields, enums, defaults, examples and descriptions as the
server wrote them). If the endpoint refuses the schemas (some reject JSON Schema's `examples`
keyword), they are sent again with every `examples` folded into its description.

Every model turn must be a tool call: tool_choice is "required", a synthetic final_answer tool
is how the model finishes, and a text reply is rejected with a corrective message once; a
second text reply in a row is an error. Tool results (errors included) are fed back, so the
model can fix its SQL, for up to max_steps turns; the last turn is pinned to final_answer.
"""
import copy
import json
import logging
import re
import time

from .llm import LlmError
from .session import McpError, ProtocolError, RequestTimeout, TransportClosed, result_text

log = logging.getLogger("pgmcp_client.agent")

FINAL_ANSWER = "final_answer"
FINAL_ANSWER_FUNCTION = {
    "type": "function",
    "function": {
        "name": FINAL_ANSWER,
        "description": "Finish: give the answer to the user's question. Call this exactly once, "
                       "when the tool results so far answer the question (or show that it "
                       "cannot be answered).",
        "parameters": {
            "type": "object",
            "properties": {
                "answer": {"type": "string",
                           "description": "The answer in plain language, with the numbers, "
                                          "names or rows that answer the question."},
            },
            "required": ["answer"],
            "additionalProperties": False,
        },
    },
}

SYSTEM_PROMPT = (
    "You answer questions about a PostgreSQL database by calling tools. Every reply you give "
    "must be a tool call, never plain text. Find tables with list_tables and their columns with "
    "describe_table before writing SQL; run one read-only SQL statement per query call; if a "
    "tool reports an error, fix the call and try again. When the results answer the question, "
    "call final_answer with a short, direct answer in plain language.")

CORRECTIVE = ("Your last reply was plain text, which is not allowed here: every reply must be a "
              "tool call. Call one of the tools now, or call final_answer with your answer.")

_NAME_OK = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class AgentError(McpError):
    """The model did not reach a final answer (text replies, too many steps, bad output)."""


class AgentResult:
    def __init__(self, answer, steps, turns, messages):
        self.answer = answer
        self.steps = steps          # [{"tool", "arguments", "ok", "summary", "ms"}]
        self.turns = turns          # model calls made
        self.messages = messages    # the whole conversation, as sent

    def to_dict(self):
        return {"answer": self.answer, "steps": self.steps, "turns": self.turns}


_SCHEMA_MAPS = ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas")
_SCHEMA_LISTS = ("anyOf", "oneOf", "allOf", "prefixItems")
_SCHEMA_ONE = ("items", "additionalProperties", "additionalItems", "not", "if", "then", "else",
               "contains", "propertyNames", "unevaluatedItems", "unevaluatedProperties")


def _walk_schema(node, visit):
    """Applies visit(schema_dict_copy) to every subschema, bottom-up; returns the new tree.
    Only schema positions are walked, so a property named "examples" is left alone."""
    if not isinstance(node, dict):
        return node
    out = {}
    for k, v in node.items():
        if k in _SCHEMA_MAPS and isinstance(v, dict):
            out[k] = {name: _walk_schema(sub, visit) for name, sub in v.items()}
        elif k in _SCHEMA_LISTS and isinstance(v, list):
            out[k] = [_walk_schema(sub, visit) for sub in v]
        elif k in _SCHEMA_ONE:
            out[k] = ([_walk_schema(sub, visit) for sub in v] if isinstance(v, list)
                      else _walk_schema(v, visit))
        else:
            out[k] = copy.deepcopy(v)
    return visit(out)


def fold_examples(schema):
    """A copy of a JSON Schema with every `examples` list moved into its `description`
    (for endpoints that reject the keyword); `$schema` is dropped too."""
    def visit(node):
        node.pop("$schema", None)
        ex = node.pop("examples", None)
        if isinstance(ex, list) and ex:
            text = "Examples: " + "; ".join(json.dumps(e, ensure_ascii=False) for e in ex)
            desc = node.get("description")
            node["description"] = (desc.rstrip() + " " if isinstance(desc, str) and desc
                                   else "") + text
        return node
    return _walk_schema(schema, visit)


def has_examples(schema):
    found = []

    def visit(node):
        if "examples" in node:
            found.append(True)
        return node
    _walk_schema(schema, visit)
    return bool(found)


def function_name(tool_name, taken):
    """An API-safe function name (^[A-Za-z0-9_-]{1,64}$) for an MCP tool name."""
    if _NAME_OK.match(tool_name) and tool_name not in taken:
        return tool_name
    base = re.sub(r"[^A-Za-z0-9_-]", "_", tool_name)[:60] or "tool"
    name, n = base, 1
    while name in taken:
        n += 1
        name = "%s_%d" % (base[:57], n)
    return name


def tool_to_function(tool, fold=False, name=None):
    """One MCP tool as a Chat Completions function definition."""
    schema = copy.deepcopy(tool.get("inputSchema") or {"type": "object", "properties": {}})
    if fold:
        schema = fold_examples(schema)
        if schema.get("type") == "object" and "properties" not in schema:
            schema["properties"] = {}
    description = tool.get("description") or tool.get("title") or tool["name"]
    return {"type": "function",
            "function": {"name": name or tool["name"], "description": description,
                         "parameters": schema}}


class Agent:
    def __init__(self, session, llm, max_steps=8, tool_choice="required", fold=None,
                 system_prompt=None, on_event=None, max_result_chars=20000, tools=None,
                 tool_timeout=None):
        self.session = session
        self.llm = llm
        self.max_steps = max(1, int(max_steps))
        self.tool_choice = tool_choice
        self.fold = fold            # None: exact schemas, folded only if the API refuses them
        self.system_prompt = system_prompt or SYSTEM_PROMPT
        self.on_event = on_event
        self.max_result_chars = max_result_chars
        self.tool_timeout = tool_timeout
        self._tools = tools
        self._names = None

    # tools -------------------------------------------------------------------------------

    def tools(self):
        if self._tools is None:
            self._tools = self.session.list_tools()
        return self._tools

    def functions(self, fold=False):
        """The function definitions sent to the model (MCP tools + final_answer)."""
        taken = {FINAL_ANSWER}
        self._names = {}
        out = []
        for tool in self.tools():
            name = function_name(tool["name"], taken)
            taken.add(name)
            self._names[name] = tool["name"]
            out.append(tool_to_function(tool, fold=fold, name=name))
        out.append(copy.deepcopy(FINAL_ANSWER_FUNCTION))
        return out

    def _emit(self, **event):
        if self.on_event is not None:
            try:
                self.on_event(event)
            except Exception:
                log.exception("event callback failed")

    # the loop ----------------------------------------------------------------------------

    def ask(self, question):
        system = self.system_prompt
        if self.session.instructions:
            system += "\n\nThe database server says: " + self.session.instructions
        messages = [{"role": "system", "content": system}, {"role": "user", "content": question}]
        steps = []
        turns = 0
        text_replies = 0
        fold = bool(self.fold)
        functions = self.functions(fold=fold)
        step = 0
        while step < self.max_steps:
            step += 1
            last = step == self.max_steps
            choice = self.tool_choice
            if last and choice == "required":
                choice = {"type": "function", "function": {"name": FINAL_ANSWER}}
            try:
                turns += 1
                resp = self.llm.chat(messages, tools=functions, tool_choice=choice)
            except LlmError as e:
                if e.status == 400 and not fold and self.fold is None and any(
                        has_examples(f["function"]["parameters"]) for f in functions):
                    log.info("the endpoint refused the tool schemas (%s); sending them again "
                             "with examples folded into descriptions", e)
                    fold = True
                    self.fold = True
                    functions = self.functions(fold=True)
                    step -= 1
                    continue
                raise
            message = _first_message(resp)
            calls = message.get("tool_calls") or []
            if not calls and isinstance(message.get("function_call"), dict):
                calls = [{"id": "call_legacy", "type": "function",
                          "function": message["function_call"]}]
            if not calls:
                text = (message.get("content") or "").strip()
                text_replies += 1
                self._emit(type="text_rejected", text=text, attempt=text_replies)
                if text_replies > 1:
                    raise AgentError("the model answered with text instead of a tool call twice "
                                     "in a row: %r" % text[:300])
                messages.append({"role": "assistant", "content": text or ""})
                messages.append({"role": "user", "content": CORRECTIVE})
                step -= 1       # the corrective retry does not use up a step
                continue
            text_replies = 0
            for i, call in enumerate(calls):
                if not call.get("id"):
                    call["id"] = "call_%d_%d" % (turns, i)
                call.setdefault("type", "function")
            messages.append({"role": "assistant", "content": message.get("content"),
                             "tool_calls": calls})
            answer = None
            for call in calls:
                fn = call.get("function") or {}
                name = fn.get("name") or ""
                args, problem = _parse_arguments(fn.get("arguments"))
                if name == FINAL_ANSWER and problem is None and isinstance(args.get("answer"),
                                                                           str):
                    answer = args["answer"]
                    self._emit(type="final_answer", answer=answer)
                    continue
                content = self._run(name, args, problem, steps)
                messages.append({"role": "tool", "tool_call_id": call["id"], "content": content})
            if answer is not None:
                return AgentResult(answer, steps, turns, messages)
        raise AgentError("no final answer within %d steps (--max-steps)" % self.max_steps)

    def _run(self, name, args, problem, steps):
        """Runs one tool call; returns the text the model sees (errors included)."""
        if name == FINAL_ANSWER:
            problem = problem or 'final_answer needs {"answer": "..."} (a string)'
        if problem is not None:
            self._emit(type="bad_arguments", tool=name, problem=problem)
            steps.append({"tool": name, "arguments": None, "ok": False, "summary": problem,
                          "ms": 0})
            return "Error: %s. Call %s again with valid JSON arguments." % (problem, name)
        tool = (self._names or {}).get(name)
        if tool is None:
            known = ", ".join(sorted(list(self._names or {}) + [FINAL_ANSWER]))
            steps.append({"tool": name, "arguments": args, "ok": False,
                          "summary": "unknown tool", "ms": 0})
            return "Error: there is no tool named %r. The tools are: %s." % (name, known)
        self._emit(type="call", tool=tool, arguments=args)
        t0 = time.monotonic()
        try:
            kwargs = {} if self.tool_timeout is None else {"timeout": self.tool_timeout}
            result = self.session.call_tool(tool, args, raise_on_error=False, **kwargs)
        except TransportClosed:
            raise
        except RequestTimeout as e:
            result = {"isError": True, "content": [{"type": "text", "text": str(e)}]}
        except ProtocolError as e:
            result = {"isError": True, "content": [{"type": "text", "text": e.message}]}
        ms = round((time.monotonic() - t0) * 1000, 1)
        ok = not result.get("isError")
        text = result_text(result)
        if not text and result.get("structuredContent") is not None:
            text = json.dumps(result["structuredContent"], ensure_ascii=False)
        summary = _summary(result, text)
        steps.append({"tool": tool, "arguments": args, "ok": ok, "summary": summary, "ms": ms})
        self._emit(type="result", tool=tool, ok=ok, summary=summary, ms=ms,
                   structured=result.get("structuredContent"), text=text)
        if len(text) > self.max_result_chars:
            text = text[:self.max_result_chars] + "\n[truncated: %d more characters]" % (
                len(text) - self.max_result_chars)
        return ("Error: " + text) if not ok else text


def _first_message(resp):
    try:
        message = resp["choices"][0]["message"]
    except (KeyError, IndexError, TypeError):
        raise AgentError("the model endpoint answered without choices[0].message: %s"
                         % json.dumps(resp)[:300])
    if not isinstance(message, dict):
        raise AgentError("choices[0].message is not an object")
    return message


def _parse_arguments(raw):
    if isinstance(raw, dict):
        return raw, None
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return {}, None
    if not isinstance(raw, str):
        return {}, "the arguments must be a JSON object"
    try:
        args = json.loads(raw)
    except ValueError as e:
        return {}, "the arguments are not valid JSON (%s)" % e
    if not isinstance(args, dict):
        return {}, "the arguments must be a JSON object, not %s" % type(args).__name__
    return args, None


def _summary(result, text):
    sc = result.get("structuredContent")
    if result.get("isError"):
        return (text or "error").splitlines()[0][:200]
    if isinstance(sc, dict):
        trunc = " (truncated)" if sc.get("truncated") else ""
        if isinstance(sc.get("rows"), list):
            n = sc.get("row_count", len(sc["rows"]))
            return "%s row%s%s" % (n, "" if n == 1 else "s", trunc)
        for k, v in sc.items():
            if isinstance(v, list):
                return "%d %s%s" % (len(v), k, trunc)
    return (text or "").replace("\n", " ")[:120]
