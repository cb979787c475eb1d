/*
 * fuzz_token.c: libFuzzer target for session ids (server/token.c) as the HTTP transports
 * receive them: the sessionId query parameter of the legacy SSE transport (common/http.c) and
 * the Mcp-Session-Id header of Streamable HTTP.
 *
 * Input: byte 0 chooses the claims of a freshly issued id and bytes 1-2 an edit of it (replace
 * a character, or insert the rest of the input at a position). Oracles: an id we issued
 * verifies with the claims it was issued with; any different text does not (an id has one
 * spelling, so the scoreboard's per-id hash cannot be dodged); the raw input never verifies.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "fuzz.h"
#include "http.h"
#include "scoreboard.h"
#include "token.h"

static const char *const versions[] = { "2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25",
	"2026-07-28", "1999-01-01" };

static void
verify_text(const char *text)
{
	struct token_claims c;

	if (token_verify(text, 0, &c))
		abort();	/* a forgery: the key is random and never seen */
	token_hash(text);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool keyed;
	struct token_claims issued = { 0 }, got;
	char id[TOKEN_TEXT_MAX], edited[TOKEN_TEXT_MAX + 300], sid[TOKEN_TEXT_MAX];
	struct buf query = BUF_INIT;
	size_t idlen;

	if (!keyed) {
		fuzz_quiet();
		keyed = true;
	}
	/* A new key per input: ids issued for earlier inputs (which libFuzzer may have learnt
	 * from comparisons and put in this one) must not verify. */
	token_init_key();
	if (size < 3)
		return 0;

	/* The raw input, as a query string and as a header value. */
	buf_puts(&query, "sessionId=");
	buf_append(&query, data + 3, size - 3);
	if (memchr(query.data, '\0', query.len) == NULL &&
	    http_query_param(buf_cstr(&query), "sessionId", sid, sizeof(sid)))
		verify_text(sid);
	buf_reset(&query);
	buf_append(&query, data + 3, size - 3 < TOKEN_TEXT_MAX + 8 ? size - 3 : TOKEN_TEXT_MAX + 8);
	verify_text(buf_cstr(&query));
	buf_free(&query);

	/* A real id, then an edit of it. */
	issued.kind = (data[0] & 1) ? TOKEN_SSE : TOKEN_STREAMABLE;
	snprintf(issued.version, sizeof(issued.version), "%s", versions[(data[0] >> 1) % 6]);
	issued.issued_ms = sb_now_ms() - (data[0] >> 4);
	issued.owner_pid = (uint32_t)data[1] * 257u + data[2];
	token_issue(&issued, id);
	idlen = strlen(id);
	if (idlen == 0 || idlen >= TOKEN_TEXT_MAX)
		abort();
	if (!token_verify(id, 60000, &got) || got.kind != issued.kind ||
	    got.issued_ms != issued.issued_ms || got.owner_pid != issued.owner_pid ||
	    memcmp(got.nonce, issued.nonce, sizeof(got.nonce)) != 0 ||
	    strcmp(got.version, (data[0] >> 1) % 6 == 5 ? versions[0] : issued.version) != 0)
		abort();
	{
		size_t at = data[1] % (idlen + 1), extra = size - 3 > 256 ? 256 : size - 3;

		if (data[2] & 1) {
			/* Insert the rest of the input at position at. */
			memcpy(edited, id, at);
			memcpy(edited + at, data + 3, extra);
			memcpy(edited + at + extra, id + at, idlen - at + 1);
		} else {
			/* Replace the character at position at (or append one at the end). */
			memcpy(edited, id, idlen + 1);
			edited[at] = (char)data[2];
			if (at == idlen)
				edited[at + 1] = '\0';
		}
		if (strlen(edited) != idlen || memcmp(edited, id, idlen) != 0) {
			if (token_verify(edited, 0, &got))
				abort();	/* another spelling of the same id, or a forgery */
		}
		token_hash(edited);
	}
	return 0;
}
