/*
 * http.h: strict HTTP/1.1 request parsing (pure functions over bytes, no I/O) and the small
 * helpers the server needs around it. Strict because a gateway must not disagree with a proxy
 * in front of it about where a request ends: no obs-fold, no bare CR or LF, no
 * Content-Length together with Transfer-Encoding, no duplicate Content-Length.
 */
#ifndef PGMCP_HTTP_H
#define PGMCP_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define HTTP_MAX_HEADERS_HARD 1000

struct http_header {
	const char *name;	/* as sent; compare case-insensitively */
	const char *value;	/* leading and trailing whitespace removed */
};

struct http_request {
	char *head;		/* owned copy of the header block; names and values point in here */
	const char *method;
	const char *target;	/* raw request-target */
	char *path;		/* target path, percent-decoded (owned) */
	const char *query;	/* raw query string after '?', or "" */
	int minor;		/* HTTP/1.<minor> */
	struct http_header *headers;
	size_t nheaders;
	int64_t content_length;	/* -1 when absent */
	bool chunked;
	bool keep_alive;
	bool expect_continue;
};

/* Where the header block ends (just past CRLF CRLF) in data, or 0 if not there yet. */
size_t http_head_end(const char *data, size_t len);
/*
 * Parses a complete header block. Returns 0, or the HTTP status to answer with (400, 414,
 * 431, 501, 505) with the reason in why.
 */
int http_parse_head(const char *data, size_t len, size_t max_headers, struct http_request *req,
    char *why, size_t whycap);
void http_request_free(struct http_request *req);
const char *http_header(const struct http_request *req, const char *name);
/* True if a comma-separated header value lists token (case-insensitive, ;params ignored). */
bool http_header_has_token(const char *value, const char *token);
/* Value of one query parameter, percent-decoded; false if absent or malformed. */
bool http_query_param(const char *query, const char *name, char *out, size_t cap);
/* Percent-decodes s into out; false on a malformed escape or an encoded NUL. */
bool http_percent_decode(const char *s, size_t n, struct buf *out);
const char *http_status_text(int status);

/* Incremental chunked transfer-coding decoder. */
struct http_chunked {
	int state;
	uint64_t remaining;
	size_t line_len;
};

enum { HTTP_CHUNK_MORE = 0, HTTP_CHUNK_DONE = 1, HTTP_CHUNK_ERROR = -1, HTTP_CHUNK_TOO_BIG = -2 };

/* Decodes from in into out (at most max_body bytes in all); *used is how much of in it took. */
int http_chunked_decode(struct http_chunked *st, const char *in, size_t len, size_t *used,
    struct buf *out, size_t max_body);

#endif
