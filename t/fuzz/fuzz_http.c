/*
 * fuzz_http.c: libFuzzer target for the HTTP/1.1 request parser (common/http.c): where the
 * head ends, the head itself (request line, header edge cases), header helpers, query
 * parameters and percent-decoding, and the chunked body decoder.
 *
 * Input: a request, head then (chunked) body. The oracles are structural: parsed fields
 * point inside the head, refusals carry a 4xx/5xx status and a reason, the chunked decoder
 * never returns more than max_body bytes, and feeding it the body in pieces gives what
 * feeding it at once gives.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "fuzz.h"
#include "http.h"

#define MAX_BODY 300

static void
check_head(const char *s, size_t end)
{
	struct http_request req;
	char why[160], value[256];
	int status = http_parse_head(s, end, 64, &req, why, sizeof(why));

	if (status == 0) {
		const char *accept = http_header(&req, "Accept");

		if (req.nheaders > 64 || req.minor < 0 || req.minor > 1 || req.path == NULL ||
		    (req.chunked && req.content_length >= 0))
			abort();
		for (size_t i = 0; i < req.nheaders; i++)
			if (req.headers[i].name < req.head || req.headers[i].name >= req.head + end ||
			    req.headers[i].value < req.head || req.headers[i].value > req.head + end)
				abort();
		http_header(&req, "Content-Type");
		http_header_has_token(accept ? accept : "", "text/event-stream");
		http_header_has_token(accept ? accept : "", "application/json");
		if (http_query_param(req.query, "sessionId", value, sizeof(value)) &&
		    strlen(value) >= sizeof(value))
			abort();
		http_query_param(req.query, "", value, 1);
	} else if (status < 400 || status > 505 || why[0] == '\0') {
		abort();
	}
	http_request_free(&req);
}

/* Decodes in[0..len) at once and in pieces of step bytes; both must agree. */
static void
check_chunked(const char *in, size_t len, size_t step)
{
	struct http_chunked a = { 0 }, b = { 0 };
	struct buf whole = BUF_INIT, parts = BUF_INIT;
	size_t used = 0, off = 0;
	int ra, rb = HTTP_CHUNK_MORE;

	ra = http_chunked_decode(&a, in, len, &used, &whole, MAX_BODY);
	if (used > len || whole.len > MAX_BODY || (ra == HTTP_CHUNK_MORE && used != len))
		abort();
	while (off < len && rb == HTTP_CHUNK_MORE) {
		size_t n = len - off < step ? len - off : step, u = 0;

		rb = http_chunked_decode(&b, in + off, n, &u, &parts, MAX_BODY);
		if (u > n || parts.len > MAX_BODY)
			abort();
		off += u;
		if (rb == HTTP_CHUNK_MORE && u != n)
			abort();	/* MORE means it took everything */
	}
	if (ra != rb || (ra == HTTP_CHUNK_DONE && (used != off || whole.len != parts.len ||
	    (whole.len > 0 && memcmp(whole.data, parts.data, whole.len) != 0))))
		abort();
	buf_free(&whole);
	buf_free(&parts);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	size_t end = http_head_end(s, size);
	struct buf pct = BUF_INIT;

	if (end > size)
		abort();
	if (end > 0)
		check_head(s, end);
	/* The body decoder on whatever follows the head (or on the whole input). */
	check_chunked(s + end, size - end, 1 + (size % 7));
	if (http_percent_decode(s, size, &pct) && pct.len > size)
		abort();
	buf_free(&pct);
	return 0;
}
