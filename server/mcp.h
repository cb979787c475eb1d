/*
 * mcp.h: one MCP session, independent of the transport: JSON-RPC validation, protocol
 * version handling (the initialize handshake of 2024-11-05 .. 2025-11-25 and the stateless
 * 2026-07-28 revision), and dispatch of every method to its handler.
 */
#ifndef PGMCP_MCP_H
#define PGMCP_MCP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "config.h"
#include "jsonw.h"

struct json_object;
struct db;
struct sb_counters;

/* JSON-RPC and MCP error codes. */
#define RPC_PARSE_ERROR -32700
#define RPC_INVALID_REQUEST -32600
#define RPC_METHOD_NOT_FOUND -32601
#define RPC_INVALID_PARAMS -32602
#define RPC_INTERNAL_ERROR -32603
#define MCP_RESOURCE_NOT_FOUND_LEGACY -32002
#define MCP_HEADER_MISMATCH -32020
#define MCP_MISSING_CLIENT_CAPABILITY -32021
#define MCP_UNSUPPORTED_VERSION -32022

#define MCP_MODERN_VERSION "2026-07-28"
#define MCP_LATEST_LEGACY_VERSION "2025-11-25"

enum mcp_log_level {
	MCP_LOG_DEBUG, MCP_LOG_INFO, MCP_LOG_NOTICE, MCP_LOG_WARNING, MCP_LOG_ERROR,
	MCP_LOG_CRITICAL, MCP_LOG_ALERT, MCP_LOG_EMERGENCY, MCP_LOG_NONE,
};

/* What the transport gives the session: a way to send notifications mid-call and to be
 * told about new input (cancellation) while a statement runs. */
struct mcp_io {
	void (*send)(void *ctx, const char *msg, size_t len);
	int watch_fd;
	int watch_fd2;		/* a second input to watch (the worker's control socket), or -1 */
	int (*on_readable)(void *ctx);	/* 1 = cancel the running request, -1 = input ended */
	/* true if a cancellation of the request about to run already waits in the input */
	bool (*cancel_pending)(void *ctx);
	void *ctx;
};

/* One request being served. */
struct mcp_request {
	struct json_object *msg;
	struct json_object *params;	/* NULL when absent */
	const char *method;
	const char *raw_id;	/* the id exactly as sent */
	size_t raw_id_len;
	const char *version;	/* protocol version governing this request */
	bool modern;		/* served statelessly (2026-07-28) */
	int log_level;		/* threshold for notifications/message */
	struct json_object *progress_token;
	int64_t progress;
	/* error (when code != 0) */
	int err_code;
	struct buf err_message;
	struct buf err_data;	/* raw JSON, or empty */
};

/* The tools/list entries of a configuration, JSON built once. */
struct tool_catalog {
	struct buf json;
	size_t n;
	size_t *offsets;	/* start of each entry in json (+1 sentinel) */
};

struct mcp_session {
	const struct config *cfg;
	struct db *db;
	struct mcp_io io;
	bool initialized;	/* legacy handshake done */
	bool client_ready;	/* notifications/initialized seen */
	char version[16];	/* negotiated legacy version */
	int log_level;		/* set by logging/setLevel */
	char client_name[96];
	char client[128];	/* who is calling, for the audit log: token name, peer or "stdio" */
	char session_hash[20];	/* hex digest of the session id (or a per-connection id), or "" */
	struct mcp_request *current;	/* the request a cancellation would target */
	char current_id[128];	/* its id, canonical, for matching notifications/cancelled */
	bool cancelled;
	struct sb_counters *stats;	/* daemon metrics, or NULL */
	struct tool_catalog own_tools;	/* built for this session when not shared */
	const struct tool_catalog *tools;	/* own_tools, or the worker's frozen catalog */
	struct buf scratch;
};

void mcp_session_init(struct mcp_session *s, const struct config *cfg, struct db *db,
    const struct mcp_io *io);
void mcp_session_free(struct mcp_session *s);
/* Handles one framed message; the response (if any) is appended to out without a newline. */
void mcp_handle_message(struct mcp_session *s, const char *msg, size_t len, struct buf *out);
/* For transports: true if msg is notifications/cancelled for the request now running. */
bool mcp_is_cancel_for_current(struct mcp_session *s, const char *msg, size_t len);
/* Writes an error response with a null id (for framing errors, before any JSON is parsed). */
void mcp_write_error(struct buf *out, const char *raw_id, size_t raw_id_len, int code,
    const char *message, const char *data_json);

/* For method handlers. */
void mcp_fail(struct mcp_request *rq, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void mcp_notify_log(struct mcp_session *s, struct mcp_request *rq, enum mcp_log_level level,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void mcp_notify_progress(struct mcp_session *s, struct mcp_request *rq, const char *message);
bool mcp_version_at_least(const struct mcp_request *rq, const char *version);
/* Pagination cursors: opaque strings carrying an offset. */
void mcp_write_cursor(struct jw *w, size_t offset);
int mcp_read_cursor(struct mcp_request *rq, size_t *offset);
/* Caching hints required on list and read results in 2026-07-28. */
void mcp_write_cache_hints(struct mcp_request *rq, struct jw *w, int64_t ttl_ms);

#endif
