/*
 * streamable.c: MCP's Streamable HTTP transport at /mcp. Stateful for protocol versions
 * 2025-03-26 .. 2025-11-25 (Mcp-Session-Id issued at initialize: a sealed token any worker can
 * check), stateless for 2026-07-28 (version, capabilities and headers on every request).
 * A response is JSON, or an SSE stream when notifications precede it.
 */
#include "httpx.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include <json.h>

#include "base64.h"
#include "db.h"
#include "jsoncheck.h"
#include "log.h"
#include "mcp.h"
#include "token.h"
#include "util.h"
#include "worker.h"

struct stream {
	struct http_ctx *h;
	bool sse_ok;		/* the client accepts text/event-stream */
	bool sse_started;
	const char *session_header;	/* "Mcp-Session-Id: ...\r\n" for a new session, or NULL */
	uint64_t request_key;	/* current_request in the scoreboard, for remote cancellation */
};

static void
send_chunk(struct stream *st, const char *data, size_t len)
{
	char size[24];
	int n = snprintf(size, sizeof(size), "%zx\r\n", len);

	conn_write2(st->h->c, size, (size_t)n, data, len, http_write_deadline(st->h));
	conn_write(st->h->c, "\r\n", 2, http_write_deadline(st->h));
}

static void
send_event(struct stream *st, const char *msg, size_t len)
{
	struct buf ev = BUF_INIT;

	buf_puts(&ev, "event: message\ndata: ");
	buf_append(&ev, msg, len);
	buf_puts(&ev, "\n\n");
	send_chunk(st, ev.data, ev.len);
	buf_free(&ev);
}

static void
start_sse(struct stream *st)
{
	struct buf head = BUF_INIT;

	buf_puts(&head, "HTTP/1.1 200 OK\r\nServer: pgmcp\r\nContent-Type: text/event-stream\r\n"
	    "Cache-Control: no-cache\r\nX-Accel-Buffering: no\r\nTransfer-Encoding: chunked\r\n");
	if (st->session_header)
		buf_puts(&head, st->session_header);
	if (!st->h->keep_alive)
		buf_puts(&head, "Connection: close\r\n");
	buf_puts(&head, "\r\n");
	conn_write(st->h->c, head.data, head.len, http_write_deadline(st->h));
	buf_free(&head);
	st->sse_started = true;
	st->h->status = 200;
}

/* Notifications sent during a call: the response becomes an SSE stream, if the client takes one. */
static void
stream_send(void *ctx, const char *msg, size_t len)
{
	struct stream *st = ctx;

	if (!st->sse_ok)
		return;
	if (!st->sse_started)
		start_sse(st);
	send_event(st, msg, len);
}

/*
 * While a statement runs: the client closing its connection cancels it; a cancellation from
 * another worker arrives on the control socket; pipelined bytes are kept for later.
 */
static int
stream_readable(void *ctx)
{
	struct stream *st = ctx;
	struct worker *w = st->h->w;
	struct ctl_msg m;
	char buf[4096];
	ssize_t n;
	int verdict = 0;

	while (w->ctl_fd >= 0 && worker_ctl_receive(w, &m)) {
		char want[32];

		snprintf(want, sizeof(want), "%llx", (unsigned long long)st->request_key);
		if (strcmp(m.kind, "cancel") == 0 && st->request_key != 0 && strcmp(m.key, want) == 0)
			verdict = 1;
		ctl_msg_free(&m);
	}
	n = recv(st->h->c->fd, buf, sizeof(buf), MSG_DONTWAIT);
	if (n == 0)
		return 1;	/* the client hung up: stop working for it */
	if (n > 0) {
		if (conn_avail(st->h->c) + (size_t)n > (size_t)w->cfg->max_message_bytes * 2)
			return -1;
		buf_append(&st->h->c->in, buf, (size_t)n);
	}
	return verdict;
}

static bool
accepts(const char *accept, const char *type)
{
	return accept == NULL || http_header_has_token(accept, type) ||
	    http_header_has_token(accept, "*/*");
}

/* Mcp-Name may carry "=?base64?...?=" for values that are not plain ASCII. */
static bool
header_matches(const char *header, const char *value)
{
	size_t n = header ? strlen(header) : 0;

	if (header == NULL || value == NULL)
		return false;
	if (n > 12 && strncmp(header, "=?base64?", 9) == 0 && strcmp(header + n - 2, "?=") == 0) {
		struct buf raw = BUF_INIT;
		bool ok = base64_decode(&raw, header + 9, n - 11) == 0 &&
		    raw.len == strlen(value) && memcmp(raw.data, value, raw.len) == 0;

		buf_free(&raw);
		return ok;
	}
	return strcmp(header, value) == 0;
}

static const char *
member_string(struct json_object *obj, const char *key)
{
	struct json_object *v;

	if (obj == NULL || !json_object_object_get_ex(obj, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/* The JSON-RPC error code in a response we produced (0 when it is a result). */
static int
error_code(const struct buf *out)
{
	const char *p = out->len ? memmem(out->data, out->len, "\"error\":{\"code\":", 16) : NULL;

	return p && out->data[0] == '{' ? atoi(p + 16) : 0;
}

static bool
is_legacy_version(const char *v)
{
	return v && (strcmp(v, "2024-11-05") == 0 || strcmp(v, "2025-03-26") == 0 ||
	    strcmp(v, "2025-06-18") == 0 || strcmp(v, "2025-11-25") == 0);
}

static uint64_t
request_key(const char *sid, struct json_object *id)
{
	char text[256];

	snprintf(text, sizeof(text), "%s\n%s", sid, json_object_to_json_string_ext(id,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	return token_hash(text);
}

/*
 * An error answered before the message reaches the MCP layer. It echoes the request's id when
 * the request had a valid one (a string or a number), and is null only when it had none.
 */
static void
send_error(struct http_ctx *h, int status, int code, const char *message, struct json_object *id)
{
	struct buf body = BUF_INIT;
	struct json_span span;
	const char *raw = NULL;
	size_t raw_len = 0;

	if (id != NULL && (json_object_is_type(id, json_type_string) ||
	    json_object_is_type(id, json_type_int) || json_object_is_type(id, json_type_double)) &&
	    json_raw_member(h->body->data, h->body->len, "id", &span)) {
		raw = h->body->data + span.start;
		raw_len = span.len;
	}
	mcp_write_error(&body, raw, raw_len, code, message, NULL);
	http_send(h, status, "application/json", NULL, body.data, body.len);
	buf_free(&body);
}

/* notifications/cancelled over HTTP: the request may be running on any worker. */
static void
forward_cancel(struct http_ctx *h, const char *sid, struct json_object *params)
{
	struct json_object *rid;
	struct scoreboard *sb = h->w->d->sb;
	uint64_t key;
	char hex[32];

	if (sid == NULL || params == NULL || !json_object_object_get_ex(params, "requestId", &rid))
		return;
	key = request_key(sid, rid);
	snprintf(hex, sizeof(hex), "%llx", (unsigned long long)key);
	for (uint32_t i = 0; i < SB_MAX_SLOTS; i++) {
		struct sb_slot *s = &sb->slots[i];

		if (s->pid > 0 && s->current_request == key && s->pid != getpid())
			worker_ctl_send(s->pid, "cancel", hex, "", 0);
	}
}

void
streamable_post(struct http_ctx *h)
{
	const struct config *cfg = h->w->cfg;
	struct http_request *req = h->req;
	const char *ctype = http_header(req, "Content-Type");
	const char *accept = http_header(req, "Accept");
	const char *hv = http_header(req, "MCP-Protocol-Version");
	const char *sid = http_header(req, "Mcp-Session-Id");
	struct json_object *root = NULL, *params = NULL, *meta = NULL, *idobj = NULL, *pv = NULL;
	struct stream st = { h, false, false, NULL, 0 };
	struct token_claims claims;
	struct mcp_session s;
	struct mcp_io io;
	struct json_check chk;
	struct buf out = BUF_INIT;
	char session_line[TOKEN_TEXT_MAX + 32], newsid[TOKEN_TEXT_MAX];
	const char *method = NULL;
	bool modern = false, hv_modern, have_session = false, batch = false;
	struct sb_session *entry = NULL;
	int code, status;

	if (ctype == NULL || strncasecmp(ctype, "application/json", 16) != 0) {
		http_send_rpc_error(h, 415, -32600, "Unsupported Media Type: send Content-Type: "
		    "application/json", NULL);
		return;
	}
	if (!accepts(accept, "application/json") && !accepts(accept, "text/event-stream")) {
		http_send_rpc_error(h, 406, -32600, "Not Acceptable: Accept must include "
		    "application/json and text/event-stream", NULL);
		return;
	}
	st.sse_ok = accepts(accept, "text/event-stream");
	if (json_check(h->body->data ? h->body->data : "", h->body->len, 64, &chk) < 0) {
		char why[200];

		snprintf(why, sizeof(why), "Parse error: %s", chk.error);
		http_send_rpc_error(h, 400, RPC_PARSE_ERROR, why, NULL);
		return;
	}
	root = json_tokener_parse(buf_cstr(h->body));
	batch = json_object_is_type(root, json_type_array);
	if (json_object_is_type(root, json_type_object)) {
		method = member_string(root, "method");
		json_object_object_get_ex(root, "id", &idobj);
		if (json_object_object_get_ex(root, "params", &params) &&
		    json_object_is_type(params, json_type_object) &&
		    json_object_object_get_ex(params, "_meta", &meta) &&
		    json_object_is_type(meta, json_type_object))
			json_object_object_get_ex(meta, "io.modelcontextprotocol/protocolVersion", &pv);
	}
	hv_modern = hv != NULL && strcmp(hv, MCP_MODERN_VERSION) == 0;
	if (method != NULL && strcmp(method, "initialize") == 0)
		/* initialize selects the legacy handshake, unless its _meta makes it a 2026-07-28
		 * request, where the method does not exist (-32601 with 404, from the MCP layer) */
		modern = pv != NULL && json_object_is_type(pv, json_type_string) &&
		    strcmp(json_object_get_string(pv), MCP_MODERN_VERSION) == 0;
	else
		modern = method != NULL && (pv != NULL || hv_modern);

	if (modern && idobj != NULL && (pv == NULL || !json_object_is_type(pv, json_type_string))) {
		/* The header says 2026-07-28, but the body does not carry the version it must. */
		send_error(h, 400, RPC_INVALID_PARAMS, pv != NULL ? "Invalid params: "
		    "params._meta[\"io.modelcontextprotocol/protocolVersion\"] must be a string" :
		    "Invalid params: params._meta[\"io.modelcontextprotocol/protocolVersion\"] is "
		    "required in protocol " MCP_MODERN_VERSION " (the MCP-Protocol-Version header "
		    "names it)", idobj);
		goto out;
	}
	if (modern && pv != NULL) {
		/* 2026-07-28: the headers must mirror the body, so proxies can route on them. */
		const char *body_version = json_object_get_string(pv);
		const char *name = NULL;

		if (hv == NULL || strcmp(hv, body_version) != 0) {
			send_error(h, 400, MCP_HEADER_MISMATCH, hv == NULL ? "Header mismatch: "
			    "MCP-Protocol-Version header is required" : "Header mismatch: "
			    "MCP-Protocol-Version header does not match _meta protocolVersion", idobj);
			goto out;
		}
		if (!header_matches(http_header(req, "Mcp-Method"), method)) {
			send_error(h, 400, MCP_HEADER_MISMATCH, "Header mismatch: Mcp-Method "
			    "header is missing or does not match the body's method", idobj);
			goto out;
		}
		if (strcmp(method, "tools/call") == 0 || strcmp(method, "prompts/get") == 0)
			name = member_string(params, "name");
		else if (strcmp(method, "resources/read") == 0)
			name = member_string(params, "uri");
		if (name != NULL && !header_matches(http_header(req, "Mcp-Name"), name)) {
			send_error(h, 400, MCP_HEADER_MISMATCH, "Header mismatch: Mcp-Name "
			    "header is missing or does not match the body", idobj);
			goto out;
		}
	} else if (modern) {
		/* a 2026-07-28 notification without _meta: nothing to check, nothing to answer */
	} else if (method != NULL && strcmp(method, "initialize") == 0) {
		/* a new session; any Mcp-Session-Id is ignored */
	} else if (sid == NULL && method != NULL && (strcmp(method, "server/discover") == 0 ||
	    strcmp(method, "ping") == 0)) {
		/* needs no session */
	} else {
		if (sid == NULL) {
			send_error(h, 400, RPC_INVALID_REQUEST, "Bad Request: Mcp-Session-Id header is "
			    "required (send initialize first, or use protocol 2026-07-28 with _meta)", idobj);
			goto out;
		}
		if (!token_verify(sid, cfg->http_session_ttl_ms, &claims) ||
		    claims.kind != TOKEN_STREAMABLE ||
		    ((entry = sb_session(h->w->d->sb, token_hash(sid), false)) != NULL && entry->ended)) {
			send_error(h, 404, RPC_INVALID_REQUEST, "Not Found: unknown, expired or ended "
			    "session; send initialize to start a new one", idobj);
			goto out;
		}
		if (hv != NULL && !is_legacy_version(hv)) {
			send_error(h, 400, RPC_INVALID_REQUEST, "Bad Request: unsupported "
			    "MCP-Protocol-Version header", idobj);
			goto out;
		}
		have_session = true;
	}

	io.send = stream_send;
	io.watch_fd = h->c->fd;
	io.watch_fd2 = h->w->ctl_fd;
	io.on_readable = stream_readable;
	io.cancel_pending = NULL;
	io.ctx = &st;
	mcp_session_init(&s, cfg, h->w->db, &io);
	s.stats = &h->w->me->c;
	snprintf(s.client, sizeof(s.client), "%s", h->client);
	if (have_session) {
		snprintf(s.session_hash, sizeof(s.session_hash), "%016llx",
		    (unsigned long long)token_hash(sid));
		s.initialized = s.client_ready = true;
		snprintf(s.version, sizeof(s.version), "%s", claims.version);
		entry = sb_session(h->w->d->sb, token_hash(sid), false);
		if (entry != NULL && entry->log_level >= 0)
			s.log_level = entry->log_level;
		if (idobj != NULL)
			st.request_key = request_key(sid, idobj);
	}
	(void)batch;
	h->w->me->current_request = st.request_key;
	mcp_handle_message(&s, h->body->data, h->body->len, &out);
	h->w->me->current_request = 0;

	if (method != NULL && strcmp(method, "initialize") == 0 && s.initialized && !modern) {
		claims = (struct token_claims){ .kind = TOKEN_STREAMABLE, .issued_ms = sb_now_ms() };
		snprintf(claims.version, sizeof(claims.version), "%s", s.version);
		token_issue(&claims, newsid);
		snprintf(session_line, sizeof(session_line), "Mcp-Session-Id: %s\r\n", newsid);
		st.session_header = session_line;
	}
	if (have_session && method != NULL && strcmp(method, "logging/setLevel") == 0 &&
	    error_code(&out) == 0) {
		entry = sb_session(h->w->d->sb, token_hash(sid), true);
		entry->log_level = (int8_t)s.log_level;
	}
	if (have_session && method != NULL && strcmp(method, "notifications/cancelled") == 0)
		forward_cancel(h, sid, params);
	mcp_session_free(&s);

	if (st.sse_started) {
		if (out.len > 0)
			send_event(&st, out.data, out.len);
		send_chunk(&st, "", 0);	/* the last chunk ends the stream */
		goto out;
	}
	if (out.len == 0) {
		/* A notification, or a request the client cancelled. */
		http_send(h, 202, NULL, st.session_header, "", 0);
		goto out;
	}
	code = error_code(&out);
	status = 200;
	if (code == RPC_PARSE_ERROR || code == RPC_INVALID_REQUEST ||
	    (modern && (code == MCP_UNSUPPORTED_VERSION || code == MCP_HEADER_MISMATCH ||
	    code == MCP_MISSING_CLIENT_CAPABILITY || code == RPC_INVALID_PARAMS)))
		status = 400;
	else if (modern && code == RPC_METHOD_NOT_FOUND)
		status = 404;
	if (modern && code == RPC_INVALID_PARAMS && method != NULL &&
	    (strcmp(method, "tools/call") == 0 || strcmp(method, "resources/read") == 0 ||
	    strcmp(method, "prompts/get") == 0 || strcmp(method, "completion/complete") == 0))
		status = 200;	/* a bad name or argument is an answer, not a transport failure */
	http_send(h, status, "application/json", st.session_header, out.data, out.len);
out:
	json_object_put(root);
	buf_free(&out);
}

void
streamable_delete(struct http_ctx *h)
{
	const char *sid = http_header(h->req, "Mcp-Session-Id");
	struct token_claims claims;
	struct sb_session *entry;

	if (sid == NULL || !token_verify(sid, h->w->cfg->http_session_ttl_ms, &claims) ||
	    claims.kind != TOKEN_STREAMABLE) {
		http_send_rpc_error(h, sid == NULL ? 400 : 404, RPC_INVALID_REQUEST, sid == NULL ?
		    "Bad Request: Mcp-Session-Id header is required" : "Not Found: unknown session", NULL);
		return;
	}
	entry = sb_session(h->w->d->sb, token_hash(sid), true);
	entry->ended = true;
	log_debug("session ended by DELETE");
	http_send(h, 200, NULL, NULL, "", 0);
}
