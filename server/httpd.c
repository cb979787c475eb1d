/* httpd.c: one HTTP/1.1 connection: read with deadlines and limits, authenticate, route. */
#include "httpd.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "httpx.h"
#include "log.h"
#include "mcp.h"
#include "sha256.h"
#include "util.h"
#include "worker.h"

/* Bearer tokens: "name:token" or "token" per line of http.auth_tokens_file, or in
 * PGMCP_AUTH_TOKENS separated by commas. Loaded once per worker. */
struct auth_token {
	char name[64];
	char token[256];
	size_t len;
};

static struct auth_token *tokens;
static size_t n_tokens;
static bool tokens_loaded;

static void
add_token(const char *entry, const char *origin)
{
	const char *colon = strchr(entry, ':');
	struct auth_token *t;

	while (*entry == ' ' || *entry == '\t')
		entry++;
	if (*entry == '\0' || *entry == '#')
		return;
	tokens = realloc(tokens, (n_tokens + 1) * sizeof(*tokens));
	if (tokens == NULL)
		fatalx("out of memory");
	t = &tokens[n_tokens++];
	memset(t, 0, sizeof(*t));
	if (colon != NULL && colon != entry) {
		snprintf(t->name, sizeof(t->name), "%.*s", (int)(colon - entry), entry);
		snprintf(t->token, sizeof(t->token), "%s", colon + 1);
	} else {
		snprintf(t->name, sizeof(t->name), "token%zu", n_tokens);
		snprintf(t->token, sizeof(t->token), "%s", entry);
	}
	t->len = strlen(t->token);
	while (t->len > 0 && strchr(" \t\r\n", t->token[t->len - 1]))
		t->token[--t->len] = '\0';
	if (t->len < 16)
		log_warnx("%s: auth token \"%s\" is shorter than 16 characters", origin, t->name);
}

static void
load_tokens(const struct config *cfg)
{
	const char *env = getenv("PGMCP_AUTH_TOKENS");

	tokens_loaded = true;
	if (cfg->http_auth_tokens_file != NULL && cfg->http_auth_tokens_file[0] != '\0') {
		FILE *f = fopen(cfg->http_auth_tokens_file, "r");
		char line[512];

		if (f == NULL) {
			/* Fail closed: a configured but unreadable file must not mean "no auth". */
			log_warn("cannot read http.auth_tokens_file %s; refusing every request",
			    cfg->http_auth_tokens_file);
			add_token("unreadable:\x01\x02\x03-no-token-matches-this", "auth");
		} else {
			while (fgets(line, sizeof(line), f) != NULL) {
				line[strcspn(line, "\r\n")] = '\0';
				add_token(line, cfg->http_auth_tokens_file);
			}
			fclose(f);
		}
	}
	if (env != NULL) {
		char *copy = xstrdup(env), *save = NULL;

		for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
			add_token(tok, "PGMCP_AUTH_TOKENS");
		free(copy);
	}
}

bool
httpd_auth_required(const struct config *cfg)
{
	if (!tokens_loaded)
		load_tokens(cfg);
	return n_tokens > 0;
}

/* Compares against every token, always all of them, each in constant time. */
static const char *
check_bearer(const char *header, bool *present)
{
	const char *given, *who = NULL;
	size_t glen;
	unsigned char gd[SHA256_DIGEST_LEN];
	struct sha256 sc;

	*present = header != NULL;
	if (header == NULL || strncasecmp(header, "Bearer ", 7) != 0)
		return NULL;
	given = header + 7;
	while (*given == ' ')
		given++;
	glen = strlen(given);
	/* Hash first so the comparison never depends on the lengths involved. */
	sha256_init(&sc);
	sha256_update(&sc, given, glen);
	sha256_final(&sc, gd);
	for (size_t i = 0; i < n_tokens; i++) {
		unsigned char td[SHA256_DIGEST_LEN];

		sha256_init(&sc);
		sha256_update(&sc, tokens[i].token, tokens[i].len);
		sha256_final(&sc, td);
		if (timingsafe_equal(gd, td, sizeof(gd)) && who == NULL)
			who = tokens[i].name;
	}
	return who;
}

int64_t
http_write_deadline(const struct http_ctx *h)
{
	return now_us() + h->w->cfg->http_request_timeout_ms * 1000;
}

void
http_send(struct http_ctx *h, int status, const char *ctype, const char *extra,
    const char *body, size_t len)
{
	struct buf head = BUF_INIT;

	/* With no other worker free, keep-alive would hold this one from the next client. */
	if (h->keep_alive && (h->w->nested ||
	    (!h->w->d->single && sb_idle_workers(h->w->d->sb, h->w->slot) == 0)))
		h->keep_alive = false;
	h->status = status;
	buf_printf(&head, "HTTP/1.1 %d %s\r\nServer: pgmcp\r\n", status, http_status_text(status));
	if (ctype != NULL)
		buf_printf(&head, "Content-Type: %s\r\n", ctype);
	buf_printf(&head, "Content-Length: %zu\r\n", len);
	if (!h->keep_alive)
		buf_puts(&head, "Connection: close\r\n");
	if (extra != NULL)
		buf_puts(&head, extra);
	buf_puts(&head, "\r\n");
	conn_write2(h->c, head.data, head.len, body, strcmp(h->req && h->req->method ?
	    h->req->method : "", "HEAD") == 0 ? 0 : len, http_write_deadline(h));
	buf_free(&head);
}

void
http_send_rpc_error(struct http_ctx *h, int status, int code, const char *message,
    const char *extra)
{
	struct buf body = BUF_INIT;

	mcp_write_error(&body, NULL, 0, code, message, NULL);
	http_send(h, status, "application/json", extra, body.data, body.len);
	buf_free(&body);
}

static void
send_text(struct http_ctx *h, int status, const char *text)
{
	http_send(h, status, "text/plain; charset=utf-8", NULL, text, strlen(text));
}

/* Origin against the allow-list; with none configured, only loopback origins pass. */
static bool
origin_allowed(const struct config *cfg, const char *origin)
{
	static const char *const local[] = { "http://localhost", "http://127.0.0.1", "http://[::1]",
		"https://localhost", "https://127.0.0.1", "https://[::1]", NULL };

	if (origin == NULL)
		return true;	/* not a browser: DNS rebinding needs one */
	if (cfg->n_http_allowed_origins > 0) {
		for (size_t i = 0; i < cfg->n_http_allowed_origins; i++)
			if (strcmp(cfg->http_allowed_origins[i], "*") == 0 ||
			    strcasecmp(cfg->http_allowed_origins[i], origin) == 0)
				return true;
		return false;
	}
	for (int i = 0; local[i] != NULL; i++) {
		size_t n = strlen(local[i]);

		if (strncasecmp(origin, local[i], n) == 0 && (origin[n] == '\0' || origin[n] == ':'))
			return true;
	}
	return false;
}

/* Reads the body (Content-Length or chunked) within the request deadline and size limit. */
static int
read_body(struct http_ctx *h, size_t max_body)
{
	struct http_request *req = h->req;
	int64_t deadline = now_us() + h->w->cfg->http_request_timeout_ms * 1000;

	if (req->expect_continue && (req->content_length > 0 || req->chunked)) {
		static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";

		if (req->content_length > (int64_t)max_body)
			return 413;
		conn_write(h->c, cont, sizeof(cont) - 1, deadline);
	}
	if (req->chunked) {
		struct http_chunked st = { 0 };

		for (;;) {
			size_t used = 0;
			int rc = http_chunked_decode(&st, conn_data(h->c), conn_avail(h->c), &used, h->body,
			    max_body);

			conn_consume(h->c, used);
			if (rc == HTTP_CHUNK_DONE)
				return 0;
			if (rc == HTTP_CHUNK_ERROR)
				return 400;
			if (rc == HTTP_CHUNK_TOO_BIG)
				return 413;
			if (conn_fill(h->c, deadline, -1) <= 0)
				return 408;
		}
	}
	if (req->content_length < 0)
		return strcmp(req->method, "POST") == 0 ? 411 : 0;
	if (req->content_length > (int64_t)max_body)
		return 413;
	while (conn_avail(h->c) < (size_t)req->content_length)
		if (conn_fill(h->c, deadline, -1) <= 0)
			return 408;
	buf_append(h->body, conn_data(h->c), (size_t)req->content_length);
	conn_consume(h->c, (size_t)req->content_length);
	return 0;
}

/* Origin, then bearer token. Answers and returns false when the request may not proceed. */
static bool
admit(struct http_ctx *h)
{
	const struct config *cfg = h->w->cfg;
	const char *origin = http_header(h->req, "Origin");
	const char *who;
	bool present;

	if (!origin_allowed(cfg, origin)) {
		log_warnx("refused Origin \"%s\" from %s", origin, h->c->peer);
		http_send_rpc_error(h, 403, -32600, "Forbidden: Origin not allowed", NULL);
		return false;
	}
	if (!tokens_loaded)
		load_tokens(cfg);
	if (n_tokens == 0) {
		snprintf(h->client, sizeof(h->client), "%s", h->c->peer);
		return true;
	}
	who = check_bearer(http_header(h->req, "Authorization"), &present);
	if (who == NULL) {
		http_send_rpc_error(h, 401, -32600, present ? "Unauthorized: invalid bearer token" :
		    "Unauthorized: send Authorization: Bearer <token>", present ?
		    "WWW-Authenticate: Bearer realm=\"pgmcp\", error=\"invalid_token\"\r\n" :
		    "WWW-Authenticate: Bearer realm=\"pgmcp\"\r\n");
		return false;
	}
	snprintf(h->client, sizeof(h->client), "%s", who);
	return true;
}

static void
route(struct http_ctx *h)
{
	const struct config *cfg = h->w->cfg;
	const char *path = h->req->path, *m = h->req->method;
	size_t plen = strlen(cfg->http_path_prefix);
	bool get = strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0;

	if (plen > 0) {
		if (strncmp(path, cfg->http_path_prefix, plen) != 0) {
			send_text(h, 404, "not found\n");
			return;
		}
		path += plen;
	}
	if (strcmp(path, "/healthz") == 0 && get) {
		h->transport = SB_T_OPS;
		ops_healthz(h);
	} else if (strcmp(path, "/readyz") == 0 && get) {
		h->transport = SB_T_OPS;
		ops_readyz(h);
	} else if (strcmp(path, "/metrics") == 0 && get) {
		h->transport = SB_T_OPS;
		if (admit(h))
			ops_metrics(h);
	} else if (strcmp(path, "/mcp") == 0) {
		h->transport = SB_T_STREAMABLE;
		if (strcmp(m, "OPTIONS") == 0) {
			http_send(h, 204, NULL, "Allow: POST, DELETE, OPTIONS\r\n"
			    "Access-Control-Allow-Methods: POST, DELETE, OPTIONS\r\n"
			    "Access-Control-Allow-Headers: Content-Type, Authorization, Mcp-Session-Id, "
			    "MCP-Protocol-Version, Mcp-Method, Mcp-Name, Last-Event-ID\r\n", "", 0);
		} else if (!admit(h)) {
			/* answered */
		} else if (strcmp(m, "POST") == 0) {
			streamable_post(h);
		} else if (strcmp(m, "DELETE") == 0) {
			streamable_delete(h);
		} else {
			/* No server-initiated stream: every response travels on its request's POST. */
			http_send_rpc_error(h, 405, -32600, "Method Not Allowed: POST JSON-RPC messages "
			    "to this endpoint", "Allow: POST, DELETE, OPTIONS\r\n");
		}
	} else if (strcmp(path, "/sse") == 0) {
		h->transport = SB_T_SSE;
		if (!get)
			http_send_rpc_error(h, 405, -32600, "Method Not Allowed: GET opens the event stream",
			    "Allow: GET\r\n");
		else if (admit(h))
			sse_stream(h);
	} else if (strcmp(path, "/messages") == 0) {
		h->transport = SB_T_SSE;
		if (strcmp(m, "POST") != 0)
			http_send_rpc_error(h, 405, -32600, "Method Not Allowed: POST messages here",
			    "Allow: POST\r\n");
		else if (admit(h))
			sse_post(h);
	} else {
		h->transport = SB_T_OTHER;
		send_text(h, 404, "not found: the MCP endpoint is /mcp (legacy SSE: /sse)\n");
	}
}

static void
count(struct http_ctx *h)
{
	int cls = h->status >= 500 ? SB_S_5XX : h->status >= 400 ? SB_S_4XX : SB_S_2XX;

	h->w->me->c.requests[h->transport][cls]++;
}

/*
 * Between requests on a keep-alive connection: wait for the client's next request. When
 * another client is queued and no other worker is free, serve that client in between (one
 * connection, no keep-alive) and come back: closing the idle connection instead would race
 * with a request the client may be sending on it, which HTTP clients do not retry for POST.
 * Returns true when the client sent something.
 */
static bool
await_next_request(struct worker *w, struct conn *c, int64_t deadline)
{
	struct pollfd pfd[66];
	size_t nl = w->d->ls.n < 64 ? w->d->ls.n : 64;
	int64_t idle_since = now_us();
	bool ready = false;

	sb_set_state(w->me, SB_KEEPALIVE);
	while (!worker_stopping()) {
		int64_t now = now_us();
		int rc;

		if (now >= deadline)
			break;
		pfd[0] = (struct pollfd){ c->fd, POLLIN, 0 };
		pfd[1] = (struct pollfd){ w->sig_pipe[0], POLLIN, 0 };
		for (size_t i = 0; i < nl; i++)
			pfd[2 + i] = (struct pollfd){ w->nested ? -1 : w->d->ls.l[i].fd, POLLIN, 0 };
		rc = poll(pfd, 2 + nl, 100);
		if (rc < 0 && errno != EINTR)
			break;
		if (rc <= 0)
			continue;
		if (pfd[0].revents != 0) {
			ready = true;
			break;
		}
		if (pfd[1].revents != 0 && worker_check_signals(w))
			break;
		for (size_t i = 0; i < nl; i++) {
			int64_t began;

			/* A moment's grace: a worker finishing its request may take the client. */
			if (pfd[2 + i].revents == 0 || now - idle_since < 50000 ||
			    sb_idle_workers(w->d->sb, w->slot) > 0)
				continue;
			began = now_us();
			sb_set_state(w->me, SB_BUSY);
			w->parked_fd = c->fd;
			worker_serve_queued(w, i);
			w->parked_fd = -1;
			if (w->parked_closed) {
				w->parked_closed = false;
				return false;
			}
			sb_set_state(w->me, SB_KEEPALIVE);
			/* The parked client's idle time does not run while we were busy elsewhere. */
			deadline += now_us() - began;
			idle_since = now_us();
			break;
		}
	}
	sb_set_state(w->me, SB_BUSY);
	return ready;
}

void
httpd_serve(struct worker *w, struct conn *c)
{
	const struct config *cfg = w->cfg;

	for (int64_t n = 0; n < cfg->http_max_requests_per_connection && !c->broken; n++) {
		struct http_request req;
		struct buf body = BUF_INIT;
		struct http_ctx h = { w, c, NULL, &body, true, 0, SB_T_OTHER, "" };
		int64_t deadline = now_us() + (n == 0 ? cfg->http_header_timeout_ms :
		    cfg->http_idle_timeout_ms) * 1000;
		bool started = conn_avail(c) > 0;
		char why[160];
		size_t end;
		int status;

		if (n > 0 && !started && !w->d->single && !await_next_request(w, c, deadline))
			return;

		while ((end = http_head_end(conn_data(c), conn_avail(c))) == 0) {
			ssize_t r;

			if (conn_avail(c) > (size_t)cfg->http_max_header_bytes) {
				h.keep_alive = false;
				http_send_rpc_error(&h, 431, -32600, "Request Header Fields Too Large", NULL);
				count(&h);
				return;
			}
			r = conn_fill(c, deadline, w->sig_pipe[0]);
			if (r <= 0) {
				if (started && r < 0 && errno == ETIMEDOUT) {
					h.keep_alive = false;
					http_send_rpc_error(&h, 408, -32600, "Request Timeout: the request "
					    "head did not arrive in time", NULL);
					count(&h);
				}
				return;
			}
			if (!started) {
				/* The first byte of a request starts its header deadline (slowloris). */
				started = true;
				deadline = now_us() + cfg->http_header_timeout_ms * 1000;
			}
		}
		if (end > (size_t)cfg->http_max_header_bytes) {
			h.keep_alive = false;
			http_send_rpc_error(&h, 431, -32600, "Request Header Fields Too Large", NULL);
			count(&h);
			return;
		}
		status = http_parse_head(conn_data(c), end, (size_t)cfg->http_max_headers, &req, why,
		    sizeof(why));
		conn_consume(c, end);
		h.req = &req;
		if (status != 0) {
			h.keep_alive = false;
			http_send_rpc_error(&h, status, -32600, why, NULL);
			count(&h);
			http_request_free(&req);
			return;
		}
		/* The last request the connection may carry says so in its response. */
		h.keep_alive = req.keep_alive && !worker_stopping() &&
		    n + 1 < cfg->http_max_requests_per_connection;
		status = read_body(&h, (size_t)cfg->max_message_bytes);
		if (status != 0) {
			h.keep_alive = false;
			http_send_rpc_error(&h, status, -32600, status == 413 ? "Content Too Large: the body "
			    "exceeds limits.max_message_bytes" : status == 411 ? "Length Required" :
			    status == 408 ? "Request Timeout: the body did not arrive in time" :
			    "Bad Request: malformed chunked body", NULL);
		} else {
			route(&h);
		}
		count(&h);
		log_debug("%s %s %s -> %d", h.client[0] ? h.client : c->peer, req.method, req.target,
		    h.status);
		http_request_free(&req);
		buf_free(&body);
		if (!h.keep_alive || worker_stopping())
			break;
	}
}
