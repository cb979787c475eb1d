/* token.c: session ids sealed with HMAC-SHA-256, so any worker can validate any session. */
#include "token.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "log.h"
#include "scoreboard.h"
#include "sha256.h"

#define MAC_LEN 16
#define BODY_LEN (1 + 1 + 8 + 4 + 12)	/* kind, version index, issued, owner, nonce */

static unsigned char key[TOKEN_KEY_LEN];
static bool key_ready;

static const char *const versions[] = {
	"2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25", "2026-07-28", NULL,
};

void
random_bytes(void *out, size_t len)
{
	unsigned char *p = out;

	while (len > 0) {
		ssize_t n = getrandom(p, len, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			fatal("getrandom");
		}
		p += n;
		len -= (size_t)n;
	}
}

void
token_init_key(void)
{
	random_bytes(key, sizeof(key));
	key_ready = true;
}

static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static size_t
encode(const unsigned char *in, size_t n, char *out)
{
	size_t o = 0;
	unsigned acc = 0;
	int bits = 0;

	for (size_t i = 0; i < n; i++) {
		acc = acc << 8 | in[i];
		bits += 8;
		while (bits >= 6) {
			bits -= 6;
			out[o++] = b64url[(acc >> bits) & 63];
		}
	}
	if (bits > 0)
		out[o++] = b64url[(acc << (6 - bits)) & 63];
	out[o] = '\0';
	return o;
}

static int
decode(const char *in, unsigned char *out, size_t cap)
{
	size_t o = 0;
	unsigned acc = 0;
	int bits = 0;

	for (const char *p = in; *p; p++) {
		const char *pos = strchr(b64url, *p);

		if (pos == NULL || *p == '\0')
			return -1;
		acc = acc << 6 | (unsigned)(pos - b64url);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o >= cap)
				return -1;
			out[o++] = (unsigned char)((acc >> bits) & 0xFF);
		}
	}
	/* One spelling per id: no character left over that holds no whole byte, no stray bits. */
	if (bits >= 6 || (acc & ((1u << bits) - 1)) != 0)
		return -1;
	return (int)o;
}

void
token_issue(struct token_claims *c, char out[TOKEN_TEXT_MAX])
{
	unsigned char raw[BODY_LEN + SHA256_DIGEST_LEN];
	int v = 0;

	if (!key_ready)
		token_init_key();
	random_bytes(c->nonce, sizeof(c->nonce));
	for (int i = 0; versions[i] != NULL; i++)
		if (strcmp(versions[i], c->version) == 0)
			v = i;
	raw[0] = c->kind;
	raw[1] = (unsigned char)v;
	for (int i = 0; i < 8; i++)
		raw[2 + i] = (unsigned char)((uint64_t)c->issued_ms >> (56 - 8 * i));
	for (int i = 0; i < 4; i++)
		raw[10 + i] = (unsigned char)(c->owner_pid >> (24 - 8 * i));
	memcpy(raw + 14, c->nonce, sizeof(c->nonce));
	hmac_sha256(key, sizeof(key), raw, BODY_LEN, raw + BODY_LEN);
	encode(raw, BODY_LEN + MAC_LEN, out);
}

bool
token_verify(const char *text, int64_t ttl_ms, struct token_claims *out)
{
	unsigned char raw[BODY_LEN + MAC_LEN + 8], mac[SHA256_DIGEST_LEN];
	int n;

	if (!key_ready || text == NULL || strlen(text) >= TOKEN_TEXT_MAX)
		return false;
	n = decode(text, raw, sizeof(raw));
	if (n != BODY_LEN + MAC_LEN)
		return false;
	hmac_sha256(key, sizeof(key), raw, BODY_LEN, mac);
	if (!timingsafe_equal(mac, raw + BODY_LEN, MAC_LEN))
		return false;
	memset(out, 0, sizeof(*out));
	out->kind = raw[0];
	if (raw[1] >= sizeof(versions) / sizeof(versions[0]) - 1)
		return false;
	snprintf(out->version, sizeof(out->version), "%s", versions[raw[1]]);
	for (int i = 0; i < 8; i++)
		out->issued_ms = out->issued_ms << 8 | raw[2 + i];
	for (int i = 0; i < 4; i++)
		out->owner_pid = out->owner_pid << 8 | raw[10 + i];
	memcpy(out->nonce, raw + 14, sizeof(out->nonce));
	if (ttl_ms > 0 && sb_now_ms() - out->issued_ms > ttl_ms)
		return false;
	return true;
}

uint64_t
token_hash(const char *text)
{
	unsigned char d[SHA256_DIGEST_LEN];
	struct sha256 c;
	uint64_t h = 0;

	sha256_init(&c);
	sha256_update(&c, text, strlen(text));
	sha256_final(&c, d);
	for (int i = 0; i < 8; i++)
		h = h << 8 | d[i];
	return h ? h : 1;
}
