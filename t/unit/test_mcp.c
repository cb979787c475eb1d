/*
 * test_mcp.c: the MCP session (server/mcp.c) driven through mcp_handle_message without a
 * database, with a fake transport that records notifications: parse errors (-32700),
 * invalid requests (-32600), invalid params (-32602), the initialize result, ping,
 * server/discover in both protocol eras, tools/list (contents, read_write, disabled tools,
 * limits in descriptions) and its cursor round trip, mcp_write_cursor/mcp_read_cursor,
 * unknown methods (-32601), exact echo of ids (1.0, big integers, -0, escaped strings),
 * batch rules, logging/setLevel with notifications/message, the 2026-07-28 _meta rules,
 * and that every response is valid JSON.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json.h>

#include "config.h"
#include "db.h"
#include "guard.h"
#include "jsoncheck.h"
#include "log.h"
#include "mcp.h"
#include "tap.h"
#include "util.h"

#define INIT(v) "{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"initialize\",\"params\":{" \
	"\"protocolVersion\":\"" v "\",\"capabilities\":{},\"clientInfo\":{\"name\":\"t\"," \
	"\"version\":\"1\"}}}"
#define MODERN_META "\"_meta\":{\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\"," \
	"\"io.modelcontextprotocol/clientCapabilities\":{}"

struct env {
	struct config cfg;
	struct db *db;
	struct mcp_session s;
	struct buf sent;	/* notifications, one per line */
	int n_sent;
	struct buf out;
};

static int invalid_responses;

static void
record(void *ctx, const char *msg, size_t len)
{
	struct env *e = ctx;

	buf_append(&e->sent, msg, len);
	buf_putc(&e->sent, '\n');
	e->n_sent++;
}

/* A session over a configuration built from --set style strings. */
static void
env_open(struct env *e, const char *const *sets, size_t n_sets)
{
	struct conf_errors errs = { BUF_INIT, 0 };
	struct mcp_io io = { .send = record, .watch_fd = -1 };

	memset(e, 0, sizeof(*e));
	if (config_load(&e->cfg, NULL, sets, n_sets, NULL, &errs) != 0)
		diag("config_load: %s", buf_cstr(&errs.text));
	conf_errors_free(&errs);
	e->db = db_new(&e->cfg);
	io.ctx = e;
	mcp_session_init(&e->s, &e->cfg, e->db, &io);
}

static void
env_close(struct env *e)
{
	mcp_session_free(&e->s);
	db_free(e->db);
	config_free(&e->cfg);
	buf_free(&e->sent);
	buf_free(&e->out);
}

/* Sends msg; returns the parsed response (NULL when there is none). Caller puts it. */
static struct json_object *
call(struct env *e, const char *msg)
{
	struct json_check chk;

	buf_reset(&e->out);
	mcp_handle_message(&e->s, msg, strlen(msg), &e->out);
	if (e->out.len == 0)
		return NULL;
	if (json_check(e->out.data, e->out.len, 64, &chk) < 0 ||
	    memchr(e->out.data, '\n', e->out.len) != NULL) {
		invalid_responses++;
		diag("not one line of valid JSON, the response to %s: %s", msg, buf_cstr(&e->out));
	}
	return json_tokener_parse(buf_cstr(&e->out));
}

/* Follows a path of keys and array indices separated by '>'. */
static struct json_object *
get(struct json_object *o, const char *path)
{
	char part[128];

	while (o != NULL && *path) {
		size_t n = strcspn(path, ">");

		snprintf(part, sizeof(part), "%.*s", (int)n, path);
		path += n;
		if (*path == '>')
			path++;
		if (json_object_is_type(o, json_type_array)) {
			char *end;
			long i = strtol(part, &end, 10);

			if (*end != '\0' || i < 0 || (size_t)i >= json_object_array_length(o))
				return NULL;
			o = json_object_array_get_idx(o, (size_t)i);
		} else if (!json_object_is_type(o, json_type_object) ||
		    !json_object_object_get_ex(o, part, &o)) {
			return NULL;
		}
	}
	return o;
}

static bool
has(struct json_object *o, const char *path)
{
	char parent[256];
	const char *last = strrchr(path, '>');
	struct json_object *p;

	if (last == NULL)
		return json_object_is_type(o, json_type_object) &&
		    json_object_object_get_ex(o, path, NULL);
	snprintf(parent, sizeof(parent), "%.*s", (int)(last - path), path);
	p = get(o, parent);
	return p != NULL && json_object_is_type(p, json_type_object) &&
	    json_object_object_get_ex(p, last + 1, NULL);
}

static long long
get_int(struct json_object *o, const char *path)
{
	struct json_object *v = get(o, path);

	return v != NULL && json_object_is_type(v, json_type_int) ? json_object_get_int64(v) : -999999;
}

static const char *
get_str(struct json_object *o, const char *path)
{
	struct json_object *v = get(o, path);

	return v != NULL && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

static int
error_code(struct json_object *o)
{
	return (int)get_int(o, "error>code");
}

/* One request that must fail with code; checks the code and that the id is null (2 tests). */
static void
fails_null_id(struct env *e, const char *msg, int code, const char *name)
{
	struct json_object *r = call(e, msg);

	if (!is_int(error_code(r), code, "%s: error %d", name, code))
		diag("response: %s", buf_cstr(&e->out));
	ok(r != NULL && has(r, "id") && get(r, "id") == NULL, "%s: id is null", name);
	json_object_put(r);
}

/* One request that must fail with code and mention want in the message. */
static void
fails(struct env *e, const char *msg, int code, const char *want, const char *name)
{
	struct json_object *r = call(e, msg);
	const char *m = get_str(r, "error>message");

	if (!ok(error_code(r) == code && (want == NULL || (m && strstr(m, want))), "%s: error %d%s%s",
	    name, code, want ? " mentioning " : "", want ? want : ""))
		diag("response: %s", buf_cstr(&e->out));
	json_object_put(r);
}

static void
no_response(struct env *e, const char *msg, const char *name)
{
	struct json_object *r = call(e, msg);

	if (!ok(r == NULL && e->out.len == 0, "%s: no response", name))
		diag("response: %s", buf_cstr(&e->out));
	json_object_put(r);
}

static void
initialize(struct env *e, const char *msg)
{
	struct json_object *r = call(e, msg);

	if (get_str(r, "result>protocolVersion") == NULL)
		diag("initialize failed: %s", buf_cstr(&e->out));
	json_object_put(r);
}

static void
test_parse_and_invalid(void)
{
	struct env e;
	char deep[300];

	env_open(&e, NULL, 0);
	fails_null_id(&e, "{", RPC_PARSE_ERROR, "truncated object");
	fails_null_id(&e, "not json", RPC_PARSE_ERROR, "not JSON");
	fails_null_id(&e, "{'jsonrpc':'2.0'}", RPC_PARSE_ERROR, "single quotes");
	fails_null_id(&e, "", RPC_PARSE_ERROR, "empty message");
	fails_null_id(&e, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\",}", RPC_PARSE_ERROR,
	    "trailing comma");
	fails_null_id(&e, "{\"jsonrpc\":\"2.0\",\"id\":NaN,\"method\":\"ping\"}", RPC_PARSE_ERROR,
	    "NaN id");
	fails_null_id(&e, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"p\xffng\"}", RPC_PARSE_ERROR,
	    "invalid UTF-8");
	fails_null_id(&e, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"} x", RPC_PARSE_ERROR,
	    "trailing garbage");
	/* 65 levels: one beyond the limit. */
	memset(deep, 0, sizeof(deep));
	strcpy(deep, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\",\"params\":{\"x\":");
	{
		size_t n = strlen(deep);

		memset(deep + n, '[', 63);
		memset(deep + n + 63, ']', 63);
		strcpy(deep + n + 126, "}}");
	}
	fails_null_id(&e, deep, RPC_PARSE_ERROR, "65 levels of nesting");
	{
		/* 64 levels: exactly at the limit, accepted by both the validator and json-c. */
		size_t n = strlen("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\",\"params\":{\"x\":");
		struct json_object *r;

		memset(deep + n, '[', 62);
		memset(deep + n + 62, ']', 62);
		strcpy(deep + n + 124, "}}");
		r = call(&e, deep);
		if (!ok(r != NULL && has(r, "result"), "64 levels of nesting are accepted"))
			diag("response: %s", buf_cstr(&e.out));
		json_object_put(r);
	}
	fails(&e, "{", RPC_PARSE_ERROR, "Parse error", "parse error message");

	fails_null_id(&e, "\"a string\"", RPC_INVALID_REQUEST, "a string message");
	fails_null_id(&e, "42", RPC_INVALID_REQUEST, "a number message");
	fails_null_id(&e, "null", RPC_INVALID_REQUEST, "a null message");
	fails(&e, "{\"id\":1,\"method\":\"ping\"}", RPC_INVALID_REQUEST, "jsonrpc", "no jsonrpc");
	fails(&e, "{\"jsonrpc\":\"1.0\",\"id\":1,\"method\":\"ping\"}", RPC_INVALID_REQUEST, "2.0",
	    "jsonrpc 1.0");
	fails(&e, "{\"jsonrpc\":2.0,\"id\":1,\"method\":\"ping\"}", RPC_INVALID_REQUEST, "2.0",
	    "jsonrpc as a number");
	fails(&e, "{\"jsonrpc\":\"2.0\",\"id\":1}", RPC_INVALID_REQUEST, "method", "no method");
	fails(&e, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":5}", RPC_INVALID_REQUEST, "method",
	    "method as a number");
	fails_null_id(&e, "{\"jsonrpc\":\"2.0\",\"id\":null,\"method\":\"ping\"}", RPC_INVALID_REQUEST,
	    "null id");
	fails_null_id(&e, "{\"jsonrpc\":\"2.0\",\"id\":[1],\"method\":\"ping\"}", RPC_INVALID_REQUEST,
	    "array id");
	fails_null_id(&e, "{\"jsonrpc\":\"2.0\",\"id\":{\"a\":1},\"method\":\"ping\"}",
	    RPC_INVALID_REQUEST, "object id");
	fails_null_id(&e, "{\"jsonrpc\":\"2.0\",\"id\":true,\"method\":\"ping\"}", RPC_INVALID_REQUEST,
	    "boolean id");
	fails(&e, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\",\"params\":[1]}",
	    RPC_INVALID_PARAMS, "params", "params as an array");
	fails(&e, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\",\"params\":\"x\"}",
	    RPC_INVALID_PARAMS, "params", "params as a string");
	{
		struct json_object *r = call(&e, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\","
		    "\"params\":null}");

		ok(r != NULL && has(r, "result"), "params null is the same as absent");
		json_object_put(r);
	}
	no_response(&e, "{\"jsonrpc\":\"2.0\",\"id\":5,\"result\":{}}", "a response from the client");
	no_response(&e, "{\"jsonrpc\":\"2.0\",\"id\":5,\"error\":{\"code\":1,\"message\":\"x\"}}",
	    "an error from the client");
	no_response(&e, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}",
	    "notifications/initialized");
	ok(e.s.client_ready, "notifications/initialized marks the client ready");
	no_response(&e, "{\"jsonrpc\":\"2.0\",\"method\":\"no/such/notification\",\"params\":[1]}",
	    "an unknown notification");
	no_response(&e, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\","
	    "\"params\":{\"requestId\":3}}", "a late cancellation");
	{
		static const char cancel[] = "{\"jsonrpc\":\"2.0\",\"method\":"
		    "\"notifications/cancelled\",\"params\":{\"requestId\":3}}";

		ok(!mcp_is_cancel_for_current(&e.s, cancel, sizeof(cancel) - 1),
		    "no cancellation matches when nothing runs");
	}
	env_close(&e);
}

static void
test_initialize(void)
{
	struct env e;
	struct json_object *r;

	env_open(&e, NULL, 0);
	fails(&e, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"}", RPC_INVALID_REQUEST,
	    "initialize", "tools/list before initialize");
	fails(&e, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"logging/setLevel\","
	    "\"params\":{\"level\":\"debug\"}}", RPC_INVALID_REQUEST, NULL, "setLevel before initialize");
	r = call(&e, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}");
	is_str(buf_cstr(&e.out), "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}",
	    "ping works before initialize");
	json_object_put(r);
	fails(&e, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\"}", RPC_INVALID_PARAMS,
	    "protocolVersion", "initialize without params");
	fails(&e, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":"
	    "{\"protocolVersion\":20250618}}", RPC_INVALID_PARAMS, "protocolVersion",
	    "initialize with a numeric protocolVersion");
	ok(!e.s.initialized, "failed initialize leaves the session uninitialized");

	r = call(&e, INIT("2025-06-18"));
	is_int(get_int(r, "id"), 0, "initialize: id echoed");
	is_str(get_str(r, "result>protocolVersion"), "2025-06-18", "initialize: the version asked for");
	ok(get(r, "result>capabilities>tools>listChanged") != NULL &&
	    !json_object_get_boolean(get(r, "result>capabilities>tools>listChanged")),
	    "initialize: tools.listChanged false");
	ok(get(r, "result>capabilities>resources>subscribe") != NULL,
	    "initialize: resources capability");
	ok(get(r, "result>capabilities>prompts") != NULL, "initialize: prompts capability");
	ok(json_object_is_type(get(r, "result>capabilities>logging"), json_type_object),
	    "initialize: logging capability");
	ok(json_object_is_type(get(r, "result>capabilities>completions"), json_type_object),
	    "initialize: completions capability");
	is_str(get_str(r, "result>serverInfo>name"), "pgmcp", "initialize: serverInfo.name");
	is_str(get_str(r, "result>serverInfo>version"), PGMCP_VERSION, "initialize: serverInfo.version");
	like(get_str(r, "result>instructions"), "list_tables", "initialize: instructions");
	ok(!has(r, "result>resultType") && !has(r, "result>_meta"),
	    "initialize: no 2026-07-28 members in a legacy result");
	ok(e.s.initialized && strcmp(e.s.version, "2025-06-18") == 0, "session records the version");
	like(e.s.client_name, "t 1", "session records the client");
	json_object_put(r);
	fails(&e, INIT("2025-06-18"), RPC_INVALID_REQUEST, "already initialized",
	    "a second initialize");
	r = call(&e, "{\"jsonrpc\":\"2.0\",\"id\":\"p\",\"method\":\"ping\"}");
	is_str(buf_cstr(&e.out), "{\"jsonrpc\":\"2.0\",\"id\":\"p\",\"result\":{}}", "ping result is {}");
	json_object_put(r);
	fails(&e, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"no/such\"}", RPC_METHOD_NOT_FOUND,
	    "no/such", "unknown method");
	r = call(&e, "{\"jsonrpc\":\"2.0\",\"id\":1.0,\"method\":\"no/such\"}");
	ok(strncmp(buf_cstr(&e.out), "{\"jsonrpc\":\"2.0\",\"id\":1.0,\"error\":", 34) == 0,
	    "an error response echoes the id 1.0 exactly");
	json_object_put(r);
	env_close(&e);

	env_open(&e, NULL, 0);
	r = call(&e, INIT("1999-01-01"));
	is_str(get_str(r, "result>protocolVersion"), MCP_LATEST_LEGACY_VERSION,
	    "initialize with an unknown version gets the latest legacy version");
	json_object_put(r);
	env_close(&e);
	env_open(&e, NULL, 0);
	r = call(&e, INIT("2024-11-05"));
	is_str(get_str(r, "result>protocolVersion"), "2024-11-05", "initialize 2024-11-05");
	json_object_put(r);
	env_close(&e);
}

static void
test_discover(void)
{
	struct env e;
	struct json_object *r, *v;
	bool modern = false, latest = false, oldest = false;

	env_open(&e, NULL, 0);
	r = call(&e, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"server/discover\"}");
	v = get(r, "result>supportedVersions");
	for (size_t i = 0; v != NULL && i < json_object_array_length(v); i++) {
		const char *s = json_object_get_string(json_object_array_get_idx(v, i));

		modern = modern || strcmp(s, "2026-07-28") == 0;
		latest = latest || strcmp(s, "2025-11-25") == 0;
		oldest = oldest || strcmp(s, "2024-11-05") == 0;
	}
	ok(modern && latest && oldest, "server/discover lists 2026-07-28, 2025-11-25 and 2024-11-05");
	ok(get(r, "result>capabilities>tools") != NULL, "server/discover: capabilities");
	is_str(get_str(r, "result>serverInfo>name"), "pgmcp", "server/discover: serverInfo for a probe");
	is_int(get_int(r, "result>ttlMs"), 60000, "server/discover: ttlMs");
	is_str(get_str(r, "result>cacheScope"), "public", "server/discover: cacheScope public");
	json_object_put(r);

	r = call(&e, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"server/discover\",\"params\":{"
	    MODERN_META "}}}");
	ok(r != NULL && !has(r, "result>serverInfo"), "modern server/discover: no serverInfo member");
	is_str(get_str(r, "result>resultType"), "complete", "modern result: resultType complete");
	is_str(get_str(r, "result>_meta>io.modelcontextprotocol/serverInfo>name"), "pgmcp",
	    "modern result: serverInfo in _meta");
	json_object_put(r);

	/* The 2026-07-28 rules for every request. */
	fails(&e, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"ping\",\"params\":{" MODERN_META "}}}",
	    RPC_METHOD_NOT_FOUND, "2026-07-28", "modern ping does not exist");
	fails(&e, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/list\",\"params\":{\"_meta\":"
	    "{\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\"}}}", RPC_INVALID_PARAMS,
	    "clientCapabilities", "modern request without clientCapabilities");
	fails(&e, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/list\",\"params\":{" MODERN_META
	    ",\"io.modelcontextprotocol/logLevel\":\"loud\"}}}", RPC_INVALID_PARAMS, "loud",
	    "modern request with an unknown log level");
	r = call(&e, "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"tools/list\",\"params\":{\"_meta\":"
	    "{\"io.modelcontextprotocol/protocolVersion\":\"2030-01-01\"}}}");
	is_int(error_code(r), MCP_UNSUPPORTED_VERSION, "an unsupported version: -32022");
	is_str(get_str(r, "error>data>requested"), "2030-01-01", "the error data names the request");
	ok(json_object_is_type(get(r, "error>data>supported"), json_type_array) &&
	    json_object_array_length(get(r, "error>data>supported")) == 5,
	    "the error data lists the five supported versions");
	json_object_put(r);
	fails(&e, "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"tools/list\",\"params\":{\"_meta\":"
	    "{\"io.modelcontextprotocol/protocolVersion\":\"2025-06-18\"}}}", MCP_UNSUPPORTED_VERSION,
	    "initialize handshake", "a legacy version in _meta without initialize");
	r = call(&e, "{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":\"tools/list\",\"params\":{"
	    MODERN_META "}}}");
	ok(json_object_is_type(get(r, "result>tools"), json_type_array),
	    "modern tools/list works without initialize");
	is_int(get_int(r, "result>ttlMs"), 300000, "modern tools/list: ttlMs");
	is_str(get_str(r, "result>cacheScope"), "private", "modern tools/list: cacheScope private");
	json_object_put(r);
	ok(!e.s.initialized, "modern requests do not initialize the session");
	env_close(&e);
}

/* tools/list names, comma-separated, following cursors; returns the number of pages. */
static int
list_all(struct env *e, char *names, size_t cap, bool *ok_pages)
{
	char msg[256], cursor[128] = "";
	int pages = 0;

	names[0] = '\0';
	*ok_pages = true;
	for (;;) {
		struct json_object *r, *tools;
		const char *next;

		if (cursor[0])
			snprintf(msg, sizeof(msg), "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"tools/list\","
			    "\"params\":{\"cursor\":\"%s\"}}", pages + 10, cursor);
		else
			snprintf(msg, sizeof(msg), "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"tools/list\"}",
			    pages + 10);
		r = call(e, msg);
		tools = get(r, "result>tools");
		if (tools == NULL || !json_object_is_type(tools, json_type_array)) {
			diag("tools/list failed: %s", buf_cstr(&e->out));
			*ok_pages = false;
			json_object_put(r);
			break;
		}
		pages++;
		for (size_t i = 0; i < json_object_array_length(tools); i++) {
			const char *n = get_str(json_object_array_get_idx(tools, i), "name");

			snprintf(names + strlen(names), cap - strlen(names), "%s%s", names[0] ? "," : "",
			    n ? n : "?");
		}
		next = get_str(r, "result>nextCursor");
		if (next == NULL || pages > 20) {
			json_object_put(r);
			break;
		}
		snprintf(cursor, sizeof(cursor), "%s", next);
		json_object_put(r);
	}
	return pages;
}

static void
test_tools_list(void)
{
	static const char *const rw[] = { "access=read_write" };
	static const char *const paged[] = { "limits.page_size=3" };
	static const char *const limits[] = { "limits.max_rows=50", "limits.max_result_bytes=2048" };
	static const char *const all_ro = "query,list_schemas,list_tables,describe_table,explain,"
	    "list_extensions,database_info,top_queries,health,active_queries";
	struct env e;
	struct json_object *r, *q;
	char names[512];
	bool fine;
	bool schemas = true;

	env_open(&e, NULL, 0);
	initialize(&e, INIT("2025-06-18"));
	is_int(list_all(&e, names, sizeof(names), &fine), 1, "tools/list: one page by default");
	is_str(names, all_ro, "tools/list: the read-only tools in order, no execute");
	r = call(&e, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"}");
	ok(r != NULL && !has(r, "result>nextCursor"), "tools/list: no nextCursor on the last page");
	ok(!has(r, "result>ttlMs"), "tools/list: no cache hints in a legacy result");
	for (size_t i = 0; i < 7; i++) {
		char p[64];

		snprintf(p, sizeof(p), "result>tools>%zu", i);
		q = get(r, p);
		schemas = schemas && get_str(q, "description") != NULL && get_str(q, "title") != NULL &&
		    strcmp(get_str(q, "inputSchema>type") ? get_str(q, "inputSchema>type") : "", "object") == 0 &&
		    json_object_is_type(get(q, "outputSchema"), json_type_object) &&
		    json_object_is_type(get(q, "annotations>readOnlyHint"), json_type_boolean);
	}
	ok(schemas, "every tool has a title, description, schemas and annotations");
	q = get(r, "result>tools>0");
	is_str(get_str(q, "name"), "query", "the first tool is query");
	like(get_str(q, "description"), "At most 1000 rows", "query: max_rows in the description");
	unlike(get_str(q, "description"), "%MAX", "query: no placeholders left");
	is_int(get_int(q, "inputSchema>properties>max_rows>maximum"), 1000,
	    "query: max_rows maximum in the schema");
	ok(json_object_get_boolean(get(q, "annotations>readOnlyHint")), "query: readOnlyHint");
	json_object_put(r);
	env_close(&e);

	env_open(&e, limits, 2);
	initialize(&e, INIT("2025-06-18"));
	r = call(&e, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"}");
	like(get_str(r, "result>tools>0>description"), "At most 50 rows and 2048 bytes",
	    "configured limits appear in the description");
	is_int(get_int(r, "result>tools>0>inputSchema>properties>max_rows>maximum"), 50,
	    "configured max_rows in the schema");
	json_object_put(r);
	env_close(&e);

	env_open(&e, rw, 1);
	initialize(&e, INIT("2025-06-18"));
	list_all(&e, names, sizeof(names), &fine);
	is_str(names, "query,execute,list_schemas,list_tables,describe_table,explain,"
	    "list_extensions,database_info,top_queries,health,active_queries",
	    "read_write: execute is listed");
	r = call(&e, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"}");
	ok(json_object_get_boolean(get(r, "result>tools>1>annotations>destructiveHint")),
	    "execute: destructiveHint");
	json_object_put(r);
	env_close(&e);

	env_open(&e, NULL, 0);
	/* tools: { explain: { enabled: false } }, as config_load would record it */
	e.cfg.tools = xcalloc(1, sizeof(*e.cfg.tools));
	e.cfg.tools[0].name = xstrdup("explain");
	e.cfg.tools[0].enabled = false;
	e.cfg.n_tools = 1;
	mcp_session_free(&e.s);
	{
		struct mcp_io io = { .send = record, .watch_fd = -1, .ctx = &e };

		mcp_session_init(&e.s, &e.cfg, e.db, &io);
	}
	initialize(&e, INIT("2025-06-18"));
	list_all(&e, names, sizeof(names), &fine);
	is_str(names, "query,list_schemas,list_tables,describe_table,list_extensions,database_info,"
	    "top_queries,health,active_queries", "a disabled tool is not listed");
	fails(&e, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":"
	    "{\"name\":\"explain\",\"arguments\":{\"sql\":\"SELECT 1\"}}}", RPC_INVALID_PARAMS,
	    "disabled", "calling a disabled tool");
	env_close(&e);

	/* Cursors: pages of three. */
	env_open(&e, paged, 1);
	initialize(&e, INIT("2025-06-18"));
	is_int(list_all(&e, names, sizeof(names), &fine), 4, "page_size 3: four pages for ten tools");
	ok(fine, "every page answered");
	is_str(names, all_ro, "the pages together list every tool once, in order");
	r = call(&e, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"}");
	is_int((long long)json_object_array_length(get(r, "result>tools")), 3, "the first page has 3");
	ok(get_str(r, "result>nextCursor") != NULL, "the first page has a nextCursor");
	json_object_put(r);
	fails(&e, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\",\"params\":"
	    "{\"cursor\":\"!!!\"}}", RPC_INVALID_PARAMS, "Invalid cursor", "a cursor that is not base64");
	fails(&e, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\",\"params\":"
	    "{\"cursor\":5}}", RPC_INVALID_PARAMS, "Invalid cursor", "a numeric cursor");
	fails(&e, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\",\"params\":"
	    "{\"cursor\":\"cGdtY3A6OTk=\"}}", RPC_INVALID_PARAMS, "past the end",
	    "a cursor past the end (pgmcp:99)");
	r = call(&e, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\",\"params\":"
	    "{\"cursor\":null}}");
	is_int((long long)json_object_array_length(get(r, "result>tools")), 3,
	    "a null cursor is the first page");
	json_object_put(r);
	env_close(&e);
}

static void
test_cursors(void)
{
	static const size_t offsets[] = { 0, 7, 100, 123456789 };
	static const char *const bad[] = {
		"\"\"", "\"cGdtY3A6LTE=\"", "\"b3RoZXI6NQ==\"", "\"cGdtY3A6NXg=\"", "\"cGdtY3A6\"",
		"\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"", "true", "[]",
	};
	static const char *const bad_names[] = {
		"empty", "pgmcp:-1", "other:5", "pgmcp:5x", "pgmcp: with no number", "61 characters",
		"a boolean", "an array",
	};

	for (size_t i = 0; i < sizeof(offsets) / sizeof(offsets[0]); i++) {
		struct buf b = BUF_INIT;
		struct jw w;
		struct mcp_request rq;
		struct json_object *doc;
		size_t got = 99999;

		jw_init(&w, &b);
		jw_obj_begin(&w);
		mcp_write_cursor(&w, offsets[i]);
		jw_obj_end(&w);
		doc = json_tokener_parse(buf_cstr(&b));
		memset(&rq, 0, sizeof(rq));
		if (doc != NULL && json_object_object_get_ex(doc, "nextCursor", NULL)) {
			rq.params = json_object_new_object();
			json_object_object_add(rq.params, "cursor",
			    json_object_get(get(doc, "nextCursor")));
		}
		ok(rq.params != NULL && mcp_read_cursor(&rq, &got) == 0 && got == offsets[i],
		    "cursor round trip for offset %zu (%s)", offsets[i], buf_cstr(&b));
		json_object_put(rq.params);
		json_object_put(doc);
		buf_free(&rq.err_message);
		buf_free(&b);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char text[128];
		struct mcp_request rq;
		size_t got = 99999;
		int rc;

		snprintf(text, sizeof(text), "{\"cursor\":%s}", bad[i]);
		memset(&rq, 0, sizeof(rq));
		rq.params = json_tokener_parse(text);
		rc = mcp_read_cursor(&rq, &got);
		ok(rc == -1 && rq.err_code == RPC_INVALID_PARAMS && got == 0,
		    "mcp_read_cursor refuses %s", bad_names[i]);
		json_object_put(rq.params);
		buf_free(&rq.err_message);
	}
	{
		struct mcp_request rq;
		size_t got = 99999;

		memset(&rq, 0, sizeof(rq));
		ok(mcp_read_cursor(&rq, &got) == 0 && got == 0, "no params: offset 0");
	}
}

static void
id_echo(struct env *e, const char *raw, const char *name)
{
	char msg[256], want[256];
	struct json_object *r;

	snprintf(msg, sizeof(msg), "{\"jsonrpc\":\"2.0\",\"id\":%s,\"method\":\"ping\"}", raw);
	snprintf(want, sizeof(want), "{\"jsonrpc\":\"2.0\",\"id\":%s,\"result\":{}}", raw);
	r = call(e, msg);
	is_str(buf_cstr(&e->out), want, "id echoed exactly: %s", name);
	json_object_put(r);
}

static void
test_ids(void)
{
	struct env e;
	struct json_object *r;

	env_open(&e, NULL, 0);
	initialize(&e, INIT("2025-06-18"));
	id_echo(&e, "1.0", "1.0");
	id_echo(&e, "12345678901234567890", "a 20-digit integer");
	id_echo(&e, "-9223372036854775809", "below int64");
	id_echo(&e, "-0", "-0");
	id_echo(&e, "1e2", "1e2");
	id_echo(&e, "-1.5E-3", "-1.5E-3");
	id_echo(&e, "0", "0");
	id_echo(&e, "\"a\\u0041\"", "an escaped string");
	id_echo(&e, "\"\"", "an empty string");
	id_echo(&e, "\"\xC3\xA9\\\"\\\\\"", "a string with UTF-8 and escapes");
	r = call(&e, "{\"jsonrpc\":\"2.0\",\"id\":1,\"id\":\"two\",\"method\":\"ping\"}");
	is_str(get_str(r, "id"), "two", "duplicate ids: the last one is echoed");
	json_object_put(r);
	r = call(&e, "{\"jsonrpc\":\"2.0\",\"\\u0069d\":7,\"method\":\"ping\"}");
	is_str(buf_cstr(&e.out), "{\"jsonrpc\":\"2.0\",\"id\":7,\"result\":{}}",
	    "an id key spelled with an escape");
	json_object_put(r);
	r = call(&e, "{ \"method\" : \"ping\" , \"id\" :  42 , \"jsonrpc\" : \"2.0\" }");
	is_str(buf_cstr(&e.out), "{\"jsonrpc\":\"2.0\",\"id\":42,\"result\":{}}",
	    "an id after other members, with spaces");
	json_object_put(r);
	r = call(&e, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\",\"params\":{\"id\":2}}");
	is_int(get_int(r, "id"), 1, "an id inside params is not the request id");
	json_object_put(r);
	env_close(&e);
}

static int
array_len(struct json_object *r)
{
	return r != NULL && json_object_is_type(r, json_type_array) ?
	    (int)json_object_array_length(r) : -1;
}

static void
test_batches(void)
{
	static const char two_pings[] = "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"},"
	    "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"ping\"}]";
	struct env e;
	struct json_object *r;

	env_open(&e, NULL, 0);
	fails(&e, two_pings, RPC_INVALID_REQUEST, "initialize first", "a batch before initialize");
	fails(&e, "[]", RPC_INVALID_REQUEST, "empty batch", "an empty batch");
	fails(&e, "[ \n ]", RPC_INVALID_REQUEST, "empty batch", "an empty batch with spaces");
	initialize(&e, INIT("2025-06-18"));
	fails(&e, two_pings, RPC_INVALID_REQUEST, "2025-06-18", "a batch in 2025-06-18");
	env_close(&e);

	env_open(&e, NULL, 0);
	initialize(&e, INIT("2025-03-26"));
	r = call(&e, two_pings);
	ok(array_len(r) == 2 && get_int(r, "0>id") == 1 && get_int(r, "1>id") == 2 &&
	    has(r, "0>result") && has(r, "1>result"), "a batch of two pings in 2025-03-26");
	json_object_put(r);
	r = call(&e, "[1, {\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"ping\"},"
	    "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"},"
	    "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"no/such\"}]");
	ok(array_len(r) == 3, "a mixed batch: three responses (the notification gets none)");
	ok(error_code(get(r, "0")) == RPC_INVALID_REQUEST && has(r, "0>id") && get(r, "0>id") == NULL,
	    "a non-object element: invalid request with a null id");
	ok(get_int(r, "1>id") == 3 && has(r, "1>result"), "a ping in a batch");
	ok(get_int(r, "2>id") == 4 && error_code(get(r, "2")) == RPC_METHOD_NOT_FOUND,
	    "an unknown method in a batch");
	json_object_put(r);
	no_response(&e, "[{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"},"
	    "{\"jsonrpc\":\"2.0\",\"method\":\"x\"}]", "a batch of notifications");
	r = call(&e, "[[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}]]");
	ok(array_len(r) == 1 && error_code(get(r, "0")) == RPC_INVALID_REQUEST,
	    "a nested batch is an invalid element");
	json_object_put(r);
	fails_null_id(&e, "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"},]", RPC_PARSE_ERROR,
	    "a batch that is not valid JSON");
	env_close(&e);

	env_open(&e, NULL, 0);
	initialize(&e, INIT("2024-11-05"));
	r = call(&e, two_pings);
	is_int(array_len(r), 2, "batches work in 2024-11-05");
	json_object_put(r);
	env_close(&e);
}

static void
test_notifications(void)
{
	struct env e;
	struct json_object *r, *n;

	env_open(&e, NULL, 0);
	initialize(&e, INIT("2025-06-18"));
	r = call(&e, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":"
	    "{\"name\":\"query\",\"arguments\":{}}}");
	ok(r != NULL && json_object_get_boolean(get(r, "result>isError")),
	    "tools/call without sql: an isError result");
	is_int(e.n_sent, 0, "no notifications before logging/setLevel");
	json_object_put(r);
	fails(&e, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"logging/setLevel\",\"params\":"
	    "{\"level\":\"loud\"}}", RPC_INVALID_PARAMS, "level", "setLevel with a bad level");
	r = call(&e, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"logging/setLevel\",\"params\":"
	    "{\"level\":\"warning\"}}");
	is_str(buf_cstr(&e.out), "{\"jsonrpc\":\"2.0\",\"id\":2,\"result\":{}}", "setLevel warning");
	json_object_put(r);
	r = call(&e, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/call\",\"params\":"
	    "{\"name\":\"query\",\"arguments\":{}}}");
	like(get_str(r, "result>content>0>text"), "\"sql\" is required", "the error names the argument");
	json_object_put(r);
	is_int(e.n_sent, 1, "a tool error sends one notification at level warning");
	n = json_tokener_parse(buf_cstr(&e.sent));
	is_str(get_str(n, "method"), "notifications/message", "notification method");
	is_str(get_str(n, "params>level"), "warning", "notification level");
	is_str(get_str(n, "params>logger"), "pgmcp", "notification logger");
	like(get_str(n, "params>data"), "sql", "notification data");
	ok(n != NULL && !has(n, "id"), "a notification has no id");
	json_object_put(n);

	buf_reset(&e.sent);
	e.n_sent = 0;
	r = call(&e, "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"tools/call\",\"params\":"
	    "{\"name\":\"query\",\"arguments\":{\"sql\":\"DELETE FROM t\"}}}");
	ok(json_object_get_boolean(get(r, "result>isError")), "a refused statement: isError");
	like(get_str(r, "result>content>0>text"), "42501", "the refusal names SQLSTATE 42501");
	json_object_put(r);
	is_int(e.n_sent, 1, "the refusal is also a warning notification");

	r = call(&e, "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"tools/call\",\"params\":"
	    "{\"name\":\"query\",\"arguments\":{\"sql\":\"SELECT 1\",\"bogus\":1}}}");
	ok(json_object_get_boolean(get(r, "result>isError")), "an unknown argument: isError");
	like(get_str(r, "result>content>0>text"), "bogus", "the error names the argument");
	json_object_put(r);

	r = call(&e, "{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":\"logging/setLevel\",\"params\":"
	    "{\"level\":\"error\"}}");
	json_object_put(r);
	e.n_sent = 0;
	r = call(&e, "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/call\",\"params\":"
	    "{\"name\":\"query\",\"arguments\":{}}}");
	json_object_put(r);
	is_int(e.n_sent, 0, "at level error a warning is not sent");

	fails(&e, "{\"jsonrpc\":\"2.0\",\"id\":8,\"method\":\"tools/call\",\"params\":"
	    "{\"name\":\"nope\"}}", RPC_INVALID_PARAMS, "Unknown tool", "an unknown tool");
	fails(&e, "{\"jsonrpc\":\"2.0\",\"id\":8,\"method\":\"tools/call\",\"params\":"
	    "{\"name\":\"execute\",\"arguments\":{\"sql\":\"DELETE FROM t\"}}}", RPC_INVALID_PARAMS,
	    "read_write", "execute in read_only mode");
	fails(&e, "{\"jsonrpc\":\"2.0\",\"id\":8,\"method\":\"tools/call\",\"params\":{}}",
	    RPC_INVALID_PARAMS, "name", "tools/call without a name");
	fails(&e, "{\"jsonrpc\":\"2.0\",\"id\":8,\"method\":\"tools/call\",\"params\":"
	    "{\"name\":\"query\",\"arguments\":[1]}}", RPC_INVALID_PARAMS, "arguments",
	    "arguments that are not an object");

	/* 2026-07-28: the level travels in each request's _meta. */
	e.n_sent = 0;
	buf_reset(&e.sent);
	r = call(&e, "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"tools/call\",\"params\":"
	    "{\"name\":\"query\",\"arguments\":{}," MODERN_META
	    ",\"io.modelcontextprotocol/logLevel\":\"debug\"}}}");
	ok(json_object_get_boolean(get(r, "result>isError")) &&
	    strcmp(get_str(r, "result>resultType") ? get_str(r, "result>resultType") : "",
	    "complete") == 0, "modern tools/call: isError result, resultType complete");
	json_object_put(r);
	is_int(e.n_sent, 1, "modern logLevel debug: the warning is sent");
	env_close(&e);
}

static void
test_write_error(void)
{
	struct buf b = BUF_INIT;

	mcp_write_error(&b, "\"x\"", 3, RPC_INTERNAL_ERROR, "it \"broke\"", "{\"k\":[1]}");
	is_str(buf_cstr(&b), "{\"jsonrpc\":\"2.0\",\"id\":\"x\",\"error\":{\"code\":-32603,"
	    "\"message\":\"it \\\"broke\\\"\",\"data\":{\"k\":[1]}}}", "mcp_write_error with data");
	buf_reset(&b);
	mcp_write_error(&b, NULL, 0, RPC_PARSE_ERROR, "bad", NULL);
	is_str(buf_cstr(&b), "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32700,"
	    "\"message\":\"bad\"}}", "mcp_write_error with a null id and no data");
	buf_free(&b);
}

int
main(void)
{
	plan(185);
	log_set_level(LOG_LEVEL_OFF);
	/* The session never connects; keep the test's DSN out of the configuration anyway. */
	unsetenv("DATABASE_URL");
	unsetenv("PG_CONNECTION_STRING");
	unsetenv("PGMCP_DATABASE_DSN");
	test_parse_and_invalid();
	test_initialize();
	test_discover();
	test_tools_list();
	test_cursors();
	test_ids();
	test_batches();
	test_notifications();
	test_write_error();
	ok(invalid_responses == 0, "every response was one line of valid JSON (%d were not)", invalid_responses);
	guard_shutdown();	/* tools/call ran the guard */
	return done_testing();
}
