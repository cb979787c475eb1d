/* http.c: strict HTTP/1.1 request-head parsing, chunked decoding, and header helpers. */
#include "http.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util.h"

static bool
is_tchar(unsigned char c)
{
	return isalnum(c) || (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

size_t
http_head_end(const char *data, size_t len)
{
	const char *p = memmem(data, len, "\r\n\r\n", 4);
	size_t scan = p ? (size_t)(p - data) : len;

	/*
	 * A bare LF is refused by the parser; hand it the head up to there at once, or a client
	 * ending lines with LF alone would wait for the header timeout instead of a 400.
	 */
	for (const char *lf = memchr(data, '\n', scan); lf != NULL;
	    lf = memchr(lf + 1, '\n', scan - (size_t)(lf + 1 - data)))
		if (lf == data || lf[-1] != '\r')
			return (size_t)(lf - data) + 1;
	return p ? (size_t)(p - data) + 4 : 0;
}

static int
fail(char *why, size_t cap, int status, const char *msg)
{
	snprintf(why, cap, "%s", msg);
	return status;
}

bool
http_percent_decode(const char *s, size_t n, struct buf *out)
{
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '%') {
			int hi, lo;

			if (i + 2 >= n)
				return false;
			hi = hex_digit_value(s[i + 1]);
			lo = hex_digit_value(s[i + 2]);
			if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
				return false;
			buf_putc(out, (char)(hi << 4 | lo));
			i += 2;
		} else {
			buf_putc(out, s[i]);
		}
	}
	buf_cstr(out);
	return true;
}

void
http_request_free(struct http_request *req)
{
	free(req->head);
	free(req->path);
	free(req->headers);
	memset(req, 0, sizeof(*req));
}

int
http_parse_head(const char *data, size_t len, size_t max_headers, struct http_request *req,
    char *why, size_t whycap)
{
	char *p, *end, *line, *sp1, *sp2, *q;
	struct buf path = BUF_INIT;
	bool have_cl = false, have_te = false, conn_close = false, conn_keep = false;

	memset(req, 0, sizeof(*req));
	req->content_length = -1;
	if (max_headers > HTTP_MAX_HEADERS_HARD)
		max_headers = HTTP_MAX_HEADERS_HARD;
	req->head = xmalloc(len + 1);
	memcpy(req->head, data, len);
	req->head[len] = '\0';
	req->headers = xcalloc(max_headers + 1, sizeof(*req->headers));
	end = req->head + len;

	/* Every line ends in CRLF; a CR or LF anywhere else is an attack or a broken client. */
	for (p = req->head; p < end; p++) {
		if (*p == '\r' && (p + 1 >= end || p[1] != '\n'))
			return fail(why, whycap, 400, "bare CR in the request head");
		if (*p == '\n' && (p == req->head || p[-1] != '\r'))
			return fail(why, whycap, 400, "bare LF in the request head");
		if (*p == '\0')
			return fail(why, whycap, 400, "NUL byte in the request head");
	}

	/* Request line: method SP target SP HTTP/1.x */
	line = req->head;
	q = strstr(line, "\r\n");
	if (q == NULL)
		return fail(why, whycap, 400, "incomplete request line");
	*q = '\0';
	sp1 = strchr(line, ' ');
	sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
	if (sp1 == NULL || sp2 == NULL || strchr(sp2 + 1, ' ') != NULL)
		return fail(why, whycap, 400, "malformed request line");
	*sp1 = '\0';
	*sp2 = '\0';
	req->method = line;
	req->target = sp1 + 1;
	if (*req->method == '\0')
		return fail(why, whycap, 400, "empty method");
	for (const char *m = req->method; *m; m++)
		if (!is_tchar((unsigned char)*m))
			return fail(why, whycap, 400, "malformed method");
	if (strncmp(sp2 + 1, "HTTP/1.", 7) != 0 || !isdigit((unsigned char)sp2[8]) || sp2[9] != '\0')
		return fail(why, whycap, strncmp(sp2 + 1, "HTTP/", 5) == 0 ? 505 : 400,
		    "unsupported HTTP version (HTTP/1.0 and HTTP/1.1 are served)");
	req->minor = sp2[8] - '0';
	if (req->minor > 1)
		return fail(why, whycap, 505, "unsupported HTTP version");
	if (req->target[0] != '/' && strcmp(req->target, "*") != 0)
		return fail(why, whycap, 400, "the request target must be a path");
	for (const char *t = req->target; *t; t++)
		if ((unsigned char)*t <= 0x20 || (unsigned char)*t >= 0x7f)
			return fail(why, whycap, 400, "invalid character in the request target");
	q = strchr(req->target, '?');
	req->query = q ? q + 1 : "";
	if (!http_percent_decode(req->target, q ? (size_t)(q - req->target) : strlen(req->target),
	    &path)) {
		buf_free(&path);
		return fail(why, whycap, 400, "malformed percent-encoding in the path");
	}
	req->path = path.data ? path.data : xstrdup("");

	/* Header fields: past the request line's CRLF. */
	p = sp2 + 1 + strlen(sp2 + 1) + 2;
	while (p < end) {
		char *colon, *value, *vend;

		q = strstr(p, "\r\n");
		if (q == NULL)
			break;
		if (q == p)
			break;	/* the empty line: end of the head */
		*q = '\0';
		if (*p == ' ' || *p == '\t')
			return fail(why, whycap, 400, "obsolete line folding is not accepted");
		colon = strchr(p, ':');
		if (colon == NULL || colon == p)
			return fail(why, whycap, 400, "malformed header line");
		for (char *n = p; n < colon; n++)
			if (!is_tchar((unsigned char)*n))
				return fail(why, whycap, 400, "invalid character in a header name");
		*colon = '\0';
		value = colon + 1;
		while (*value == ' ' || *value == '\t')
			value++;
		vend = value + strlen(value);
		while (vend > value && (vend[-1] == ' ' || vend[-1] == '\t'))
			*--vend = '\0';
		for (char *v = value; *v; v++)
			if ((unsigned char)*v < 0x20 && *v != '\t')
				return fail(why, whycap, 400, "control character in a header value");
		if (req->nheaders >= max_headers)
			return fail(why, whycap, 431, "too many header fields");
		req->headers[req->nheaders].name = p;
		req->headers[req->nheaders].value = value;
		req->nheaders++;

		if (strcasecmp(p, "Content-Length") == 0) {
			int64_t n;

			if (have_cl)
				return fail(why, whycap, 400, "more than one Content-Length");
			if (parse_int64(value, &n) < 0 || n < 0 || !isdigit((unsigned char)value[0]))
				return fail(why, whycap, 400, "invalid Content-Length");
			have_cl = true;
			req->content_length = n;
		} else if (strcasecmp(p, "Transfer-Encoding") == 0) {
			if (have_te)
				return fail(why, whycap, 400, "more than one Transfer-Encoding");
			have_te = true;
			if (strcasecmp(value, "chunked") != 0)
				return fail(why, whycap, 501, "only Transfer-Encoding: chunked is supported");
			req->chunked = true;
		} else if (strcasecmp(p, "Connection") == 0) {
			conn_close |= http_header_has_token(value, "close");
			conn_keep |= http_header_has_token(value, "keep-alive");
		} else if (strcasecmp(p, "Expect") == 0) {
			if (strcasecmp(value, "100-continue") != 0)
				return fail(why, whycap, 417, "unsupported Expect");
			req->expect_continue = true;
		} else if (strcasecmp(p, "Host") == 0) {
			if (http_header(req, "Host") != value)
				return fail(why, whycap, 400, "more than one Host");
		}
		p = q + 2;
	}
	if (have_cl && have_te)
		return fail(why, whycap, 400, "Content-Length together with Transfer-Encoding");
	if (req->minor == 1 && http_header(req, "Host") == NULL)
		return fail(why, whycap, 400, "HTTP/1.1 requests need a Host header");
	req->keep_alive = req->minor == 1 ? !conn_close : conn_keep;
	return 0;
}

const char *
http_header(const struct http_request *req, const char *name)
{
	for (size_t i = 0; i < req->nheaders; i++)
		if (strcasecmp(req->headers[i].name, name) == 0)
			return req->headers[i].value;
	return NULL;
}

bool
http_header_has_token(const char *value, const char *token)
{
	size_t tl = strlen(token);
	const char *p = value;

	while (p && *p) {
		const char *start, *stop;

		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		start = p;
		while (*p && *p != ',' && *p != ';')
			p++;
		stop = p;
		while (stop > start && (stop[-1] == ' ' || stop[-1] == '\t'))
			stop--;
		if ((size_t)(stop - start) == tl && strncasecmp(start, token, tl) == 0)
			return true;
		while (*p && *p != ',')
			p++;
	}
	return false;
}

bool
http_query_param(const char *query, const char *name, char *out, size_t cap)
{
	size_t nl = strlen(name);
	const char *p = query;

	while (p && *p) {
		const char *amp = strchr(p, '&'), *eq;
		size_t seg = amp ? (size_t)(amp - p) : strlen(p);

		eq = memchr(p, '=', seg);
		if (eq != NULL && (size_t)(eq - p) == nl && strncmp(p, name, nl) == 0) {
			struct buf v = BUF_INIT;
			bool ok = http_percent_decode(eq + 1, seg - nl - 1, &v) && v.len < cap;

			if (ok)
				snprintf(out, cap, "%s", v.data ? v.data : "");
			buf_free(&v);
			return ok;
		}
		p = amp ? amp + 1 : NULL;
	}
	return false;
}

const char *
http_status_text(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 200: return "OK";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 406: return "Not Acceptable";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 411: return "Length Required";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 415: return "Unsupported Media Type";
	case 417: return "Expectation Failed";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 503: return "Service Unavailable";
	case 505: return "HTTP Version Not Supported";
	default: return "Unknown";
	}
}

enum { CH_SIZE, CH_EXT, CH_SIZE_LF, CH_DATA, CH_DATA_CR, CH_DATA_LF, CH_TRAILER, CH_TRAILER_LF,
	CH_DONE };

int
http_chunked_decode(struct http_chunked *st, const char *in, size_t len, size_t *used,
    struct buf *out, size_t max_body)
{
	size_t i = 0;

	while (i < len && st->state != CH_DONE) {
		char c = in[i];

		switch (st->state) {
		case CH_SIZE:
			if (hex_digit_value(c) >= 0) {
				if (st->remaining > (UINT64_MAX >> 4) || ++st->line_len > 16)
					return HTTP_CHUNK_ERROR;
				st->remaining = st->remaining << 4 | (uint64_t)hex_digit_value(c);
			} else if (c == ';' && st->line_len > 0) {
				st->state = CH_EXT;
			} else if (c == '\r' && st->line_len > 0) {
				st->state = CH_SIZE_LF;
			} else {
				return HTTP_CHUNK_ERROR;
			}
			i++;
			break;
		case CH_EXT:	/* chunk extensions are ignored, but bounded */
			if (c == '\r')
				st->state = CH_SIZE_LF;
			else if (c == '\n' || ++st->line_len > 1024)
				return HTTP_CHUNK_ERROR;
			i++;
			break;
		case CH_SIZE_LF:
			if (c != '\n')
				return HTTP_CHUNK_ERROR;
			i++;
			st->line_len = 0;
			if (st->remaining == 0) {
				st->state = CH_TRAILER;
			} else {
				/* Not out->len + remaining: a size near 2^64 would wrap past the limit. */
				if (out->len > max_body || st->remaining > max_body - out->len)
					return HTTP_CHUNK_TOO_BIG;
				st->state = CH_DATA;
			}
			break;
		case CH_DATA: {
			size_t take = len - i < st->remaining ? len - i : (size_t)st->remaining;

			buf_append(out, in + i, take);
			i += take;
			st->remaining -= take;
			if (st->remaining == 0)
				st->state = CH_DATA_CR;
			break;
		}
		case CH_DATA_CR:
			if (c != '\r')
				return HTTP_CHUNK_ERROR;
			st->state = CH_DATA_LF;
			i++;
			break;
		case CH_DATA_LF:
			if (c != '\n')
				return HTTP_CHUNK_ERROR;
			st->state = CH_SIZE;
			st->line_len = 0;
			i++;
			break;
		case CH_TRAILER:	/* trailer fields are skipped, up to the empty line */
			if (c == '\r') {
				st->state = CH_TRAILER_LF;
			} else if (c == '\n' || ++st->line_len > 8192) {
				return HTTP_CHUNK_ERROR;
			}
			i++;
			break;
		case CH_TRAILER_LF:
			if (c != '\n')
				return HTTP_CHUNK_ERROR;
			i++;
			if (st->line_len == 0)
				st->state = CH_DONE;
			else {
				st->line_len = 0;
				st->state = CH_TRAILER;
			}
			break;
		}
	}
	*used = i;
	return st->state == CH_DONE ? HTTP_CHUNK_DONE : HTTP_CHUNK_MORE;
}
