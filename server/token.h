/*
 * token.h: self-validating session ids. A session id carries its protocol version, when it was
 * issued, which worker owns it (for SSE streams) and a random part, sealed with an HMAC-SHA-256
 * under a key the master makes at start-up. Any worker can check one without a shared table.
 */
#ifndef PGMCP_TOKEN_H
#define PGMCP_TOKEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define TOKEN_KEY_LEN 32
#define TOKEN_TEXT_MAX 96

enum token_kind {
	TOKEN_STREAMABLE = 1,	/* Mcp-Session-Id of Streamable HTTP */
	TOKEN_SSE = 2,		/* sessionId of the legacy HTTP+SSE transport */
};

struct token_claims {
	uint8_t kind;
	char version[16];	/* negotiated protocol version */
	int64_t issued_ms;	/* wall clock */
	uint32_t owner_pid;	/* SSE: the worker holding the stream */
	uint8_t nonce[12];
};

/* The key is made once by the master (getrandom) and inherited by every worker. */
void token_init_key(void);
/* Fills claims->nonce and writes the id (base64url, NUL-terminated) into out. */
void token_issue(struct token_claims *claims, char out[TOKEN_TEXT_MAX]);
/* Checks the MAC and age; false for anything forged, malformed or older than ttl_ms. */
bool token_verify(const char *text, int64_t ttl_ms, struct token_claims *out);
/* A 64-bit digest of an id, for the scoreboard's session table. */
uint64_t token_hash(const char *text);
/* Random bytes from the kernel (getrandom). */
void random_bytes(void *out, size_t len);

#endif
