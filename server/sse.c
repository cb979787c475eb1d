/*
 * sse.c: the legacy HTTP+SSE transport (protocol 2024-11-05). GET /sse opens a stream that
 * stays with the worker that accepted it, which holds the MCP session. A POST to
 * /messages?sessionId=... may land on any worker: it forwards the message to the owner over
 * the owner's control socket and answers 202; the owner answers on the stream. The owner keeps
 * an entry for each stream it holds in the scoreboard's session table, open until the stream
 * ends, so a POST for a stream that has closed gets 404 rather than a 202 nobody will honour.
 */
#include "httpx.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "mcp.h"
#include "token.h"
#include "util.h"
#include "worker.h"

struct sse {
	struct http_ctx *h;
	char token[TOKEN_TEXT_MAX];
	struct mcp_session *s;
	struct buf queue;	/* messages that arrived while one was running: u32 length + bytes */
	bool gone;
};

/*
 * Records in the shared session table that this stream is open (or has ended). Called at
 * every turn of the stream's loop, which also brings the entry back should it have aged out.
 */
static void
mark_stream(struct sse *x, bool ended)
{
	struct sb_session *e = sb_session(x->h->w->d->sb, token_hash(x->token), true);

	e->ended = ended;
}

static bool
write_event(struct sse *x, const char *event, const char *data, size_t len)
{
	struct buf ev = BUF_INIT;
	bool ok;

	buf_printf(&ev, "event: %s\ndata: ", event);
	buf_append(&ev, data, len);
	buf_puts(&ev, "\n\n");
	ok = conn_write(x->h->c, ev.data, ev.len, http_write_deadline(x->h));
	buf_free(&ev);
	if (!ok)
		x->gone = true;
	return ok;
}

static void
sse_send(void *ctx, const char *msg, size_t len)
{
	write_event(ctx, "message", msg, len);
}

static void
enqueue(struct sse *x, const char *msg, size_t len)
{
	uint32_t n = (uint32_t)len;

	buf_append(&x->queue, &n, sizeof(n));
	buf_append(&x->queue, msg, len);
}

/* Takes one message from another worker; false if it was not for this stream. */
static bool
receive(struct sse *x, struct ctl_msg *m)
{
	struct worker *w = x->h->w;

	if (!worker_ctl_receive(w, m))
		return false;
	if (strcmp(m->kind, "sse") != 0 || strcmp(m->key, x->token) != 0) {
		ctl_msg_free(m);
		return false;
	}
	return true;
}

/* While a message runs: the client leaving cancels it; new messages wait their turn, except
 * a cancellation of the running one. */
static int
sse_readable(void *ctx)
{
	struct sse *x = ctx;
	struct ctl_msg m;
	char buf[512];
	ssize_t n = recv(x->h->c->fd, buf, sizeof(buf), MSG_DONTWAIT);
	int verdict = 0;

	if (n == 0) {
		x->gone = true;
		return 1;
	}
	while (receive(x, &m)) {
		if (mcp_is_cancel_for_current(x->s, m.payload.data, m.payload.len))
			verdict = 1;
		else
			enqueue(x, m.payload.data, m.payload.len);
		ctl_msg_free(&m);
	}
	return verdict;
}

static void
handle(struct sse *x, const char *msg, size_t len)
{
	struct buf out = BUF_INIT;

	mcp_handle_message(x->s, msg, len, &out);
	if (out.len > 0)
		write_event(x, "message", out.data, out.len);
	buf_free(&out);
}

void
sse_stream(struct http_ctx *h)
{
	const struct config *cfg = h->w->cfg;
	struct worker *w = h->w;
	struct token_claims claims = { .kind = TOKEN_SSE, .version = "2024-11-05" };
	struct sse x = { h, "", NULL, BUF_INIT, false };
	struct mcp_session s;
	struct mcp_io io;
	struct buf endpoint = BUF_INIT;
	static const char head[] = "HTTP/1.1 200 OK\r\nServer: pgmcp\r\n"
	    "Content-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
	    "X-Accel-Buffering: no\r\nConnection: close\r\n\r\n";

	if (w->d->single) {
		/* The stream would hold the only process its POSTs could reach. */
		h->keep_alive = false;
		http_send_rpc_error(h, 503, -32000, "the legacy HTTP+SSE transport needs a free "
		    "worker for its POSTs, which --single does not have: use Streamable HTTP (/mcp) "
		    "or run with workers", NULL);
		return;
	}
	if (w->nested) {
		/*
		 * Served while an idle keep-alive connection is parked here: the stream would hold
		 * this worker indefinitely, so let the parked connection go, unless its client has
		 * already sent its next request (then this client retries instead).
		 */
		struct pollfd pfd = { w->parked_fd, POLLIN, 0 };

		if (poll(&pfd, 1, 0) != 0) {
			h->keep_alive = false;
			http_send_rpc_error(h, 503, -32000, "every worker is busy; retry",
			    "Retry-After: 1\r\n");
			return;
		}
		shutdown(w->parked_fd, SHUT_RDWR);
		w->parked_closed = true;
	}
	claims.issued_ms = sb_now_ms();
	claims.owner_pid = (uint32_t)getpid();
	token_issue(&claims, x.token);
	h->keep_alive = false;	/* the stream uses up this connection */
	h->status = 200;
	mark_stream(&x, false);	/* before the client can learn the endpoint */
	if (!conn_write(h->c, head, sizeof(head) - 1, http_write_deadline(h))) {
		mark_stream(&x, true);
		return;
	}
	buf_printf(&endpoint, "%s/messages?sessionId=%s", cfg->http_path_prefix, x.token);
	if (!write_event(&x, "endpoint", endpoint.data, endpoint.len)) {
		buf_free(&endpoint);
		mark_stream(&x, true);
		return;
	}
	buf_free(&endpoint);
	log_info("SSE stream opened for %s", h->client);

	io.send = sse_send;
	io.watch_fd = h->c->fd;
	io.watch_fd2 = w->ctl_fd;
	io.on_readable = sse_readable;
	io.cancel_pending = NULL;
	io.ctx = &x;
	mcp_session_init(&s, cfg, w->db, &io);
	s.stats = &w->me->c;
	snprintf(s.client, sizeof(s.client), "%s", h->client);
	snprintf(s.session_hash, sizeof(s.session_hash), "%016llx",
	    (unsigned long long)token_hash(x.token));
	x.s = &s;

	while (!x.gone && !worker_check_signals(w)) {
		struct pollfd pfd[3] = {
			{ h->c->fd, POLLIN, 0 }, { w->ctl_fd, POLLIN, 0 }, { w->sig_pipe[0], POLLIN, 0 },
		};
		int rc;

		mark_stream(&x, false);
		while (x.queue.len >= sizeof(uint32_t) && !x.gone) {
			uint32_t n;
			struct buf one = BUF_INIT;

			memcpy(&n, x.queue.data, sizeof(n));
			buf_append(&one, x.queue.data + sizeof(n), n);
			buf_consume(&x.queue, sizeof(n) + n);
			handle(&x, one.data, one.len);
			buf_free(&one);
		}
		rc = poll(pfd, 3, (int)cfg->http_sse_heartbeat_ms);
		if (rc < 0 && errno != EINTR)
			break;
		if (rc == 0) {
			/* A comment line keeps idle load balancers from cutting the stream. */
			if (!conn_write(h->c, ": ping\n\n", 8, http_write_deadline(h)))
				break;
			continue;
		}
		if (pfd[0].revents != 0) {
			char buf[512];
			ssize_t n = recv(h->c->fd, buf, sizeof(buf), MSG_DONTWAIT);

			if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
				break;	/* the client closed the stream */
		}
		if (pfd[1].revents != 0) {
			struct ctl_msg m;

			while (receive(&x, &m)) {
				enqueue(&x, m.payload.data, m.payload.len);
				ctl_msg_free(&m);
			}
		}
	}
	mark_stream(&x, true);
	log_info("SSE stream closed for %s", h->client);
	mcp_session_free(&s);
	buf_free(&x.queue);
}

void
sse_post(struct http_ctx *h)
{
	char sid[TOKEN_TEXT_MAX];
	struct token_claims claims;
	struct sb_session *entry;
	const char *ctype = http_header(h->req, "Content-Type");

	if (!http_query_param(h->req->query, "sessionId", sid, sizeof(sid))) {
		http_send_rpc_error(h, 400, RPC_INVALID_REQUEST, "Bad Request: sessionId is required "
		    "(use the endpoint the SSE stream announced)", NULL);
		return;
	}
	if (!token_verify(sid, h->w->cfg->http_session_ttl_ms, &claims) || claims.kind != TOKEN_SSE) {
		http_send_rpc_error(h, 404, RPC_INVALID_REQUEST, "Not Found: unknown or expired session",
		    NULL);
		return;
	}
	if (ctype == NULL || strncasecmp(ctype, "application/json", 16) != 0) {
		http_send_rpc_error(h, 415, RPC_INVALID_REQUEST, "Unsupported Media Type: send "
		    "Content-Type: application/json", NULL);
		return;
	}
	/*
	 * The owner marks its stream ended when it closes. No entry at all means it aged out of
	 * the table: the owner puts it back within a heartbeat, so try the delivery then (a dead
	 * owner's control socket is gone, and that send fails).
	 */
	entry = sb_session(h->w->d->sb, token_hash(sid), false);
	if (entry != NULL && entry->ended) {
		http_send_rpc_error(h, 404, RPC_INVALID_REQUEST, "Not Found: the session's stream is "
		    "closed", NULL);
		return;
	}
	if (!worker_ctl_send((pid_t)claims.owner_pid, "sse", sid, h->body->data ? h->body->data : "",
	    h->body->len)) {
		http_send_rpc_error(h, 404, RPC_INVALID_REQUEST, "Not Found: the session's stream is "
		    "closed", NULL);
		return;
	}
	http_send(h, 202, "text/plain; charset=utf-8", NULL, "Accepted\n", 9);
}
