/* httpx.h: what the HTTP handlers share: responses, auth, origin checks, the request context. */
#ifndef PGMCP_HTTPX_H
#define PGMCP_HTTPX_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "conn.h"
#include "http.h"
#include "scoreboard.h"

struct worker;

struct http_ctx {
	struct worker *w;
	struct conn *c;
	struct http_request *req;
	struct buf *body;
	bool keep_alive;
	int status;		/* what was answered, for the metrics */
	enum sb_transport transport;
	char client[128];	/* token name or peer, for logs */
};

/* Writes a complete response; extra is zero or more "Name: value\r\n" lines. */
void http_send(struct http_ctx *h, int status, const char *ctype, const char *extra,
    const char *body, size_t len);
/* A JSON-RPC error body (id null) with an HTTP status. */
void http_send_rpc_error(struct http_ctx *h, int status, int code, const char *message,
    const char *extra);
int64_t http_write_deadline(const struct http_ctx *h);

/* server/streamable.c */
void streamable_post(struct http_ctx *h);
void streamable_delete(struct http_ctx *h);
/* server/sse.c */
void sse_stream(struct http_ctx *h);
void sse_post(struct http_ctx *h);
/* server/ops.c */
void ops_healthz(struct http_ctx *h);
void ops_readyz(struct http_ctx *h);
void ops_metrics(struct http_ctx *h);

#endif
