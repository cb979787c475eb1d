/* mcp.c: JSON-RPC validation, protocol eras and versions, lifecycle and method dispatch. */
#include "mcp.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json.h>

#include "base64.h"
#include "handlers.h"
#include "jsoncheck.h"
#include "log.h"
#include "util.h"

/* Nesting allowed in a message: JSON-RPC needs little; tool arguments may carry JSON. */
#define MCP_MAX_DEPTH 64

static const char *const legacy_versions[] = {
	"2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05", NULL,
};

static const char *const log_level_names[] = {
	"debug", "info", "notice", "warning", "error", "critical", "alert", "emergency", NULL,
};

static const char SERVER_INSTRUCTIONS[] =
    "pgmcp gives read access to a PostgreSQL database. Start with list_schemas and list_tables, "
    "then describe_table for columns, keys and indexes before writing SQL. Run SQL with query "
    "(one statement per call; bind values with params and $1, $2 ...). Results are capped "
    "(row_count, truncated); aggregate or filter rather than paging through large tables. "
    "Use explain to check a plan before running an expensive query.";

enum method_flags {
	M_ANY_TIME = 0x01,	/* allowed before initialize */
	M_LEGACY_ONLY = 0x02,	/* removed in 2026-07-28 */
};

static void m_initialize(struct mcp_session *s, struct mcp_request *rq, struct jw *w);
static void m_ping(struct mcp_session *s, struct mcp_request *rq, struct jw *w);
static void m_discover(struct mcp_session *s, struct mcp_request *rq, struct jw *w);
static void m_set_level(struct mcp_session *s, struct mcp_request *rq, struct jw *w);

static const struct {
	const char *name;
	mcp_method_fn fn;
	unsigned flags;
} methods[] = {
	{ "initialize", m_initialize, M_ANY_TIME | M_LEGACY_ONLY },
	{ "ping", m_ping, M_ANY_TIME | M_LEGACY_ONLY },
	{ "server/discover", m_discover, M_ANY_TIME },
	{ "tools/list", tools_list, 0 },
	{ "tools/call", tools_call, 0 },
	{ "resources/list", resources_list, 0 },
	{ "resources/templates/list", resources_templates_list, 0 },
	{ "resources/read", resources_read, 0 },
	{ "resources/subscribe", resources_subscribe, M_LEGACY_ONLY },
	{ "resources/unsubscribe", resources_subscribe, M_LEGACY_ONLY },
	{ "prompts/list", prompts_list, 0 },
	{ "prompts/get", prompts_get, 0 },
	{ "logging/setLevel", m_set_level, M_LEGACY_ONLY },
	{ "completion/complete", completion_complete, 0 },
};

static bool
is_legacy_version(const char *v)
{
	for (int i = 0; legacy_versions[i] != NULL; i++)
		if (strcmp(legacy_versions[i], v) == 0)
			return true;
	return false;
}

bool
mcp_version_at_least(const struct mcp_request *rq, const char *version)
{
	/* Versions are dates, so string order is time order. */
	return rq->version != NULL && strcmp(rq->version, version) >= 0;
}

void
mcp_session_init(struct mcp_session *s, const struct config *cfg, struct db *db,
    const struct mcp_io *io)
{
	memset(s, 0, sizeof(*s));
	s->cfg = cfg;
	s->db = db;
	s->io = *io;
	s->log_level = MCP_LOG_NONE;
	tools_build(s);
}

void
mcp_session_free(struct mcp_session *s)
{
	buf_free(&s->own_tools.json);
	buf_free(&s->scratch);
	free(s->own_tools.offsets);
	memset(s, 0, sizeof(*s));
}

void
mcp_fail(struct mcp_request *rq, int code, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	if (rq->err_code != 0)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	rq->err_code = code;
	buf_reset(&rq->err_message);
	buf_puts(&rq->err_message, msg);
}

void
mcp_write_error(struct buf *out, const char *raw_id, size_t raw_id_len, int code,
    const char *message, const char *data_json)
{
	struct jw w;

	jw_init(&w, out);
	jw_obj_begin(&w);
	jw_kstr(&w, "jsonrpc", "2.0");
	jw_key(&w, "id");
	if (raw_id != NULL)
		jw_raw(&w, raw_id, raw_id_len);
	else
		jw_null(&w);
	jw_key(&w, "error");
	jw_obj_begin(&w);
	jw_kint(&w, "code", code);
	jw_kstr(&w, "message", message);
	if (data_json != NULL && data_json[0] != '\0') {
		jw_key(&w, "data");
		jw_raw(&w, data_json, strlen(data_json));
	}
	jw_obj_end(&w);
	jw_obj_end(&w);
}

static void
send_notification(struct mcp_session *s, struct buf *msg)
{
	if (s->io.send != NULL)
		s->io.send(s->io.ctx, msg->data, msg->len);
}

void
mcp_notify_log(struct mcp_session *s, struct mcp_request *rq, enum mcp_log_level level,
    const char *fmt, ...)
{
	struct buf msg = BUF_INIT;
	char text[1024];
	struct jw w;
	va_list ap;

	if (rq == NULL || rq->log_level == MCP_LOG_NONE || (int)level < rq->log_level)
		return;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	jw_init(&w, &msg);
	jw_obj_begin(&w);
	jw_kstr(&w, "jsonrpc", "2.0");
	jw_kstr(&w, "method", "notifications/message");
	jw_key(&w, "params");
	jw_obj_begin(&w);
	jw_kstr(&w, "level", log_level_names[level]);
	jw_kstr(&w, "logger", "pgmcp");
	jw_kstr(&w, "data", text);
	jw_obj_end(&w);
	jw_obj_end(&w);
	send_notification(s, &msg);
	buf_free(&msg);
}

void
mcp_notify_progress(struct mcp_session *s, struct mcp_request *rq, const char *message)
{
	struct buf msg = BUF_INIT;
	struct jw w;

	if (rq == NULL || rq->progress_token == NULL)
		return;
	jw_init(&w, &msg);
	jw_obj_begin(&w);
	jw_kstr(&w, "jsonrpc", "2.0");
	jw_kstr(&w, "method", "notifications/progress");
	jw_key(&w, "params");
	jw_obj_begin(&w);
	jw_key(&w, "progressToken");
	jw_jsonc(&w, rq->progress_token);
	jw_kint(&w, "progress", ++rq->progress);
	if (message != NULL)
		jw_kstr(&w, "message", message);
	jw_obj_end(&w);
	jw_obj_end(&w);
	send_notification(s, &msg);
	buf_free(&msg);
}

void
mcp_write_cursor(struct jw *w, size_t offset)
{
	char plain[32];
	struct buf enc = BUF_INIT;

	snprintf(plain, sizeof(plain), "pgmcp:%zu", offset);
	base64_encode(&enc, (const unsigned char *)plain, strlen(plain));
	jw_key(w, "nextCursor");
	jw_strn(w, enc.data, enc.len);
	buf_free(&enc);
}

static int
b64val(char c)
{
	const char *alpha = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const char *p = c ? strchr(alpha, c) : NULL;

	return p ? (int)(p - alpha) : -1;
}

int
mcp_read_cursor(struct mcp_request *rq, size_t *offset)
{
	struct json_object *c;
	const char *text;
	char plain[64];
	size_t n = 0, len;
	unsigned acc = 0;
	int bits = 0;
	int64_t v;

	*offset = 0;
	if (rq->params == NULL || !json_object_object_get_ex(rq->params, "cursor", &c) ||
	    json_object_is_type(c, json_type_null))
		return 0;
	if (!json_object_is_type(c, json_type_string))
		goto bad;
	text = json_object_get_string(c);
	len = strlen(text);
	if (len == 0 || len > 60)
		goto bad;
	for (size_t i = 0; i < len && text[i] != '='; i++) {
		int d = b64val(text[i]);

		if (d < 0)
			goto bad;
		acc = acc << 6 | (unsigned)d;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			plain[n++] = (char)((acc >> bits) & 0xFF);
		}
	}
	plain[n] = '\0';
	if (strncmp(plain, "pgmcp:", 6) != 0 || parse_int64(plain + 6, &v) < 0 || v < 0)
		goto bad;
	*offset = (size_t)v;
	return 0;
bad:
	mcp_fail(rq, RPC_INVALID_PARAMS, "Invalid cursor: pass back nextCursor exactly as received");
	return -1;
}

void
mcp_write_cache_hints(struct mcp_request *rq, struct jw *w, int64_t ttl_ms)
{
	if (!rq->modern)
		return;
	jw_kint(w, "ttlMs", ttl_ms);
	jw_kstr(w, "cacheScope", "private");
}

static void
write_server_info(struct jw *w)
{
	jw_obj_begin(w);
	jw_kstr(w, "name", "pgmcp");
	jw_kstr(w, "title", "pgmcp: PostgreSQL for MCP");
	jw_kstr(w, "version", PGMCP_VERSION);
	jw_obj_end(w);
}

/*
 * subscribe: resources/subscribe of the legacy protocol is accepted (and never fires). In
 * 2026-07-28 the capability promises subscriptions/listen streams, which pgmcp does not offer,
 * so server/discover leaves it out.
 */
static void
write_capabilities(struct jw *w, bool subscribe)
{
	jw_obj_begin(w);
	jw_key(w, "tools");
	jw_obj_begin(w);
	jw_kbool(w, "listChanged", false);
	jw_obj_end(w);
	jw_key(w, "resources");
	jw_obj_begin(w);
	if (subscribe)
		jw_kbool(w, "subscribe", true);
	jw_kbool(w, "listChanged", false);
	jw_obj_end(w);
	jw_key(w, "prompts");
	jw_obj_begin(w);
	jw_kbool(w, "listChanged", false);
	jw_obj_end(w);
	jw_key(w, "logging");
	jw_obj_begin(w);
	jw_obj_end(w);
	jw_key(w, "completions");
	jw_obj_begin(w);
	jw_obj_end(w);
	jw_obj_end(w);
}

static void
m_initialize(struct mcp_session *s, struct mcp_request *rq, struct jw *w)
{
	struct json_object *pv, *ci, *name, *ver;
	const char *requested;

	if (s->initialized) {
		mcp_fail(rq, RPC_INVALID_REQUEST, "Invalid Request: the session is already initialized "
		    "(protocol %s); initialize may be sent only once", s->version);
		return;
	}
	if (rq->params == NULL || !json_object_object_get_ex(rq->params, "protocolVersion", &pv) ||
	    !json_object_is_type(pv, json_type_string)) {
		mcp_fail(rq, RPC_INVALID_PARAMS, "Invalid params: initialize requires "
		    "params.protocolVersion (a string such as \"%s\")", MCP_LATEST_LEGACY_VERSION);
		return;
	}
	requested = json_object_get_string(pv);
	snprintf(s->version, sizeof(s->version), "%s",
	    is_legacy_version(requested) ? requested : MCP_LATEST_LEGACY_VERSION);
	if (json_object_object_get_ex(rq->params, "clientInfo", &ci) &&
	    json_object_object_get_ex(ci, "name", &name)) {
		snprintf(s->client_name, sizeof(s->client_name), "%s %s", json_object_get_string(name),
		    json_object_object_get_ex(ci, "version", &ver) ? json_object_get_string(ver) : "");
	}
	s->initialized = true;
	rq->version = s->version;
	log_info("session initialized: protocol %s (client asked for %s), client %s", s->version,
	    requested, s->client_name[0] ? s->client_name : "(unnamed)");
	jw_kstr(w, "protocolVersion", s->version);
	jw_key(w, "capabilities");
	write_capabilities(w, true);
	jw_key(w, "serverInfo");
	write_server_info(w);
	jw_kstr(w, "instructions", SERVER_INSTRUCTIONS);
}

static void
m_ping(struct mcp_session *s, struct mcp_request *rq, struct jw *w)
{
	(void)s;
	(void)rq;
	(void)w;
}

static void
write_supported_versions(struct jw *w)
{
	jw_arr_begin(w);
	jw_str(w, MCP_MODERN_VERSION);
	for (int i = 0; legacy_versions[i] != NULL; i++)
		jw_str(w, legacy_versions[i]);
	jw_arr_end(w);
}

static void
m_discover(struct mcp_session *s, struct mcp_request *rq, struct jw *w)
{
	(void)s;
	jw_key(w, "supportedVersions");
	write_supported_versions(w);
	jw_key(w, "capabilities");
	write_capabilities(w, false);
	jw_kstr(w, "instructions", SERVER_INSTRUCTIONS);
	if (!rq->modern) {	/* a bare probe still learns who we are */
		jw_key(w, "serverInfo");
		write_server_info(w);
	}
	jw_kint(w, "ttlMs", 60000);
	jw_kstr(w, "cacheScope", "public");
}

static int
parse_level(const char *name)
{
	for (int i = 0; log_level_names[i] != NULL; i++)
		if (strcmp(log_level_names[i], name) == 0)
			return i;
	return -1;
}

static void
m_set_level(struct mcp_session *s, struct mcp_request *rq, struct jw *w)
{
	struct json_object *lv;
	int level;

	(void)w;
	if (rq->params == NULL || !json_object_object_get_ex(rq->params, "level", &lv) ||
	    !json_object_is_type(lv, json_type_string) ||
	    (level = parse_level(json_object_get_string(lv))) < 0) {
		mcp_fail(rq, RPC_INVALID_PARAMS, "Invalid params: level must be one of debug, info, "
		    "notice, warning, error, critical, alert, emergency");
		return;
	}
	s->log_level = level;
}

/* Copies a json-c value compactly into dst (for matching cancellations by id). */
static void
canonical_id(struct json_object *id, char *dst, size_t cap)
{
	snprintf(dst, cap, "%s", id ? json_object_to_json_string_ext(id, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE) : "");
}

bool
mcp_is_cancel_for_current(struct mcp_session *s, const char *msg, size_t len)
{
	struct json_object *root, *method, *params, *rid;
	struct json_tokener *tok;
	char id[128];
	bool match = false;

	if (s->current == NULL || memmem(msg, len, "notifications/cancelled", 23) == NULL)
		return false;
	tok = json_tokener_new_ex(MCP_MAX_DEPTH);
	root = json_tokener_parse_ex(tok, msg, (int)len);
	json_tokener_free(tok);
	if (root != NULL && json_object_object_get_ex(root, "method", &method) &&
	    strcmp(json_object_get_string(method), "notifications/cancelled") == 0 &&
	    json_object_object_get_ex(root, "params", &params) &&
	    json_object_object_get_ex(params, "requestId", &rid)) {
		canonical_id(rid, id, sizeof(id));
		match = strcmp(id, s->current_id) == 0;
	}
	json_object_put(root);
	return match;
}

static void
handle_notification(struct mcp_session *s, const char *method, struct json_object *params)
{
	if (strcmp(method, "notifications/initialized") == 0) {
		s->client_ready = true;
	} else if (strcmp(method, "notifications/cancelled") == 0) {
		/* Arrived after its request finished (or for one we never saw): nothing to do. */
		struct json_object *rid;

		if (params && json_object_object_get_ex(params, "requestId", &rid))
			log_debug("cancellation for request %s arrived after it completed",
			    json_object_get_string(rid));
	} else {
		log_debug("ignoring notification %s", method);
	}
}

/* Decides which era and version govern a request. Returns false after setting an error. */
static bool
select_version(struct mcp_session *s, struct mcp_request *rq, unsigned flags)
{
	struct json_object *meta = NULL, *pv = NULL, *caps, *lv, *tok;

	if (rq->params != NULL && json_object_object_get_ex(rq->params, "_meta", &meta) &&
	    json_object_is_type(meta, json_type_object)) {
		json_object_object_get_ex(meta, "io.modelcontextprotocol/protocolVersion", &pv);
		if (json_object_object_get_ex(meta, "progressToken", &tok) &&
		    (json_object_is_type(tok, json_type_string) || json_object_is_type(tok, json_type_int)))
			rq->progress_token = tok;
	}
	rq->log_level = s->log_level;
	/* initialize starts the legacy handshake, unless _meta makes it a 2026-07-28 request:
	 * there the method does not exist (M_LEGACY_ONLY below). */
	if (strcmp(rq->method, "initialize") == 0 && (pv == NULL ||
	    !json_object_is_type(pv, json_type_string) ||
	    strcmp(json_object_get_string(pv), MCP_MODERN_VERSION) != 0)) {
		rq->version = s->version;
		return true;
	}
	if (pv != NULL) {
		const char *v = json_object_is_type(pv, json_type_string) ? json_object_get_string(pv) : "";

		if (strcmp(v, MCP_MODERN_VERSION) == 0) {
			rq->modern = true;
			rq->version = MCP_MODERN_VERSION;
			if (!json_object_object_get_ex(meta, "io.modelcontextprotocol/clientCapabilities",
			    &caps) || !json_object_is_type(caps, json_type_object)) {
				mcp_fail(rq, RPC_INVALID_PARAMS, "Invalid params: _meta must carry "
				    "io.modelcontextprotocol/clientCapabilities (an object) in protocol %s",
				    MCP_MODERN_VERSION);
				return false;
			}
			rq->log_level = MCP_LOG_NONE;
			if (json_object_object_get_ex(meta, "io.modelcontextprotocol/logLevel", &lv) &&
			    json_object_is_type(lv, json_type_string)) {
				int level = parse_level(json_object_get_string(lv));

				if (level < 0) {
					mcp_fail(rq, RPC_INVALID_PARAMS, "Invalid params: unknown log level "
					    "\"%s\"", json_object_get_string(lv));
					return false;
				}
				rq->log_level = level;
			}
			if (flags & M_LEGACY_ONLY) {
				mcp_fail(rq, RPC_METHOD_NOT_FOUND, "Method not found: %s does not exist in "
				    "protocol %s", rq->method, MCP_MODERN_VERSION);
				return false;
			}
			return true;
		}
		if (!s->initialized || !is_legacy_version(v)) {
			struct buf data = BUF_INIT;
			struct jw w;

			jw_init(&w, &data);
			jw_obj_begin(&w);
			jw_key(&w, "supported");
			write_supported_versions(&w);
			jw_kstr(&w, "requested", v);
			jw_obj_end(&w);
			mcp_fail(rq, MCP_UNSUPPORTED_VERSION, "Unsupported protocol version \"%s\"%s", v,
			    is_legacy_version(v) ? ": versions before " MCP_MODERN_VERSION
			    " need the initialize handshake" : "");
			buf_append(&rq->err_data, data.data, data.len);
			buf_free(&data);
			return false;
		}
	}
	if (s->initialized) {
		rq->version = s->version;
		return true;
	}
	if (flags & M_ANY_TIME) {
		rq->version = MCP_LATEST_LEGACY_VERSION;
		return true;
	}
	mcp_fail(rq, RPC_INVALID_REQUEST, "Invalid Request: %s before initialize. Send initialize "
	    "first (protocol 2024-11-05 to %s), or put io.modelcontextprotocol/protocolVersion "
	    "\"%s\" and io.modelcontextprotocol/clientCapabilities in params._meta of every request",
	    rq->method, MCP_LATEST_LEGACY_VERSION, MCP_MODERN_VERSION);
	return false;
}

static void
write_response(struct mcp_request *rq, struct buf *result, struct buf *out)
{
	struct jw w;

	if (rq->err_code != 0) {
		mcp_write_error(out, rq->raw_id, rq->raw_id_len, rq->err_code, buf_cstr(&rq->err_message),
		    rq->err_data.len ? buf_cstr(&rq->err_data) : NULL);
		return;
	}
	jw_init(&w, out);
	jw_obj_begin(&w);
	jw_kstr(&w, "jsonrpc", "2.0");
	jw_key(&w, "id");
	jw_raw(&w, rq->raw_id, rq->raw_id_len);
	jw_key(&w, "result");
	jw_obj_begin(&w);
	if (result->len > 0) {
		jw_raw(&w, result->data, result->len);
		w.first[w.depth] = false;
	}
	if (rq->modern) {
		jw_kstr(&w, "resultType", "complete");
		jw_key(&w, "_meta");
		jw_obj_begin(&w);
		jw_key(&w, "io.modelcontextprotocol/serverInfo");
		write_server_info(&w);
		jw_obj_end(&w);
	}
	jw_obj_end(&w);
	jw_obj_end(&w);
}

static bool
id_type_ok(struct json_object *id)
{
	return json_object_is_type(id, json_type_string) || json_object_is_type(id, json_type_int) ||
	    json_object_is_type(id, json_type_double);
}

/* One JSON-RPC message that is a valid JSON object. Appends a response to out, or nothing. */
static void
handle_object(struct mcp_session *s, const char *msg, size_t len, struct buf *out)
{
	struct mcp_request rq = { 0 };
	struct json_object *root, *v, *idobj = NULL;
	struct json_tokener *tok;
	struct json_span idspan;
	struct buf result = BUF_INIT;
	struct jw w;
	unsigned flags = 0;
	mcp_method_fn fn = NULL;

	tok = json_tokener_new_ex(MCP_MAX_DEPTH + 1);
	root = json_tokener_parse_ex(tok, msg, (int)len);
	json_tokener_free(tok);
	if (root == NULL || !json_object_is_type(root, json_type_object)) {
		mcp_write_error(out, NULL, 0, RPC_INVALID_REQUEST,
		    "Invalid Request: a JSON-RPC message must be a JSON object", NULL);
		json_object_put(root);
		return;
	}
	rq.msg = root;
	if (json_object_object_get_ex(root, "id", &idobj) && id_type_ok(idobj) &&
	    json_raw_member(msg, len, "id", &idspan)) {
		rq.raw_id = msg + idspan.start;
		rq.raw_id_len = idspan.len;
	}
	if (!json_object_object_get_ex(root, "jsonrpc", &v) || !json_object_is_type(v, json_type_string) ||
	    strcmp(json_object_get_string(v), "2.0") != 0) {
		mcp_fail(&rq, RPC_INVALID_REQUEST, "Invalid Request: \"jsonrpc\" must be \"2.0\"");
		goto respond;
	}
	if (!json_object_object_get_ex(root, "method", &v)) {
		if (json_object_object_get_ex(root, "result", NULL) ||
		    json_object_object_get_ex(root, "error", NULL))
			goto done;	/* a response to a request we never send: ignore it */
		mcp_fail(&rq, RPC_INVALID_REQUEST, "Invalid Request: \"method\" is missing");
		goto respond;
	}
	if (!json_object_is_type(v, json_type_string)) {
		mcp_fail(&rq, RPC_INVALID_REQUEST, "Invalid Request: \"method\" must be a string");
		goto respond;
	}
	rq.method = json_object_get_string(v);
	if (json_object_object_get_ex(root, "params", &rq.params) &&
	    json_object_is_type(rq.params, json_type_null))
		rq.params = NULL;
	if (idobj == NULL && !json_object_object_get_ex(root, "id", NULL)) {
		/* A notification: never answered, whatever is wrong with it. */
		handle_notification(s, rq.method, rq.params);
		goto done;
	}
	if (rq.raw_id == NULL) {
		mcp_fail(&rq, RPC_INVALID_REQUEST, "Invalid Request: \"id\" must be a string or a number");
		goto respond;
	}
	if (rq.params != NULL && !json_object_is_type(rq.params, json_type_object)) {
		mcp_fail(&rq, RPC_INVALID_PARAMS, "Invalid params: \"params\" must be an object");
		goto respond;
	}
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		if (strcmp(methods[i].name, rq.method) == 0) {
			fn = methods[i].fn;
			flags = methods[i].flags;
			break;
		}
	}
	if (!select_version(s, &rq, flags))
		goto respond;
	if (fn == NULL) {
		mcp_fail(&rq, RPC_METHOD_NOT_FOUND, "Method not found: %s", rq.method);
		goto respond;
	}
	s->current = &rq;
	canonical_id(idobj, s->current_id, sizeof(s->current_id));
	s->cancelled = s->io.cancel_pending != NULL && s->io.cancel_pending(s->io.ctx);
	jw_init(&w, &result);
	w.depth = 1;	/* handlers write members of an already open object */
	w.first[1] = true;
	if (!s->cancelled)
		fn(s, &rq, &w);
	s->current = NULL;
	if (s->cancelled) {
		log_info("request %.*s (%s) cancelled by the client; no response sent",
		    (int)rq.raw_id_len, rq.raw_id, rq.method);
		goto done;
	}
respond:
	write_response(&rq, &result, out);
done:
	buf_free(&result);
	buf_free(&rq.err_message);
	buf_free(&rq.err_data);
	json_object_put(root);
}

struct batch {
	struct mcp_session *s;
	const char *msg;
	struct buf *out;
	struct buf one;
	size_t count;
};

static bool
batch_element(void *ctx, struct json_span el)
{
	struct batch *b = ctx;

	buf_reset(&b->one);
	if (b->msg[el.start] != '{')
		mcp_write_error(&b->one, NULL, 0, RPC_INVALID_REQUEST,
		    "Invalid Request: each batch element must be a JSON-RPC object", NULL);
	else
		handle_object(b->s, b->msg + el.start, el.len, &b->one);
	if (b->one.len > 0) {
		buf_putc(b->out, b->count++ ? ',' : '[');
		buf_append(b->out, b->one.data, b->one.len);
	}
	return true;
}

void
mcp_handle_message(struct mcp_session *s, const char *msg, size_t len, struct buf *out)
{
	struct json_check chk;
	char why[200];

	if (json_check(msg, len, MCP_MAX_DEPTH, &chk) < 0) {
		snprintf(why, sizeof(why), "Parse error: %s", chk.error);
		mcp_write_error(out, NULL, 0, RPC_PARSE_ERROR, why, NULL);
		return;
	}
	if (chk.top == '{') {
		handle_object(s, msg, len, out);
		return;
	}
	if (chk.top == '[') {
		struct batch b = { s, msg, out, BUF_INIT, 0 };
		bool allowed = s->initialized && (strcmp(s->version, "2025-03-26") == 0 ||
		    strcmp(s->version, "2024-11-05") == 0);
		size_t i = 0;

		while (i < len && msg[i] != '[')
			i++;
		for (i++; i < len && (msg[i] == ' ' || msg[i] == '\t' || msg[i] == '\r' || msg[i] == '\n'); i++)
			;
		if (i < len && msg[i] == ']') {
			mcp_write_error(out, NULL, 0, RPC_INVALID_REQUEST,
			    "Invalid Request: an empty batch", NULL);
			return;
		}
		if (!allowed) {
			snprintf(why, sizeof(why), "Invalid Request: JSON-RPC batches are supported only in "
			    "protocol versions 2024-11-05 and 2025-03-26%s%s",
			    s->initialized ? "; this session uses " : " (initialize first)",
			    s->initialized ? s->version : "");
			mcp_write_error(out, NULL, 0, RPC_INVALID_REQUEST, why, NULL);
			return;
		}
		json_each_element(msg, len, batch_element, &b);
		if (b.count > 0)
			buf_putc(out, ']');
		buf_free(&b.one);
		return;
	}
	mcp_write_error(out, NULL, 0, RPC_INVALID_REQUEST,
	    "Invalid Request: a JSON-RPC message must be a JSON object (or a batch array)", NULL);
}
