/* sha256.h: SHA-256 and HMAC-SHA-256 (FIPS 180-4, RFC 2104), for self-validating session tokens. */
#ifndef PGMCP_SHA256_H
#define PGMCP_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_DIGEST_LEN 32
#define SHA256_BLOCK_LEN 64

struct sha256 {
	uint32_t h[8];
	uint64_t total;
	unsigned char block[SHA256_BLOCK_LEN];
	size_t used;
};

void sha256_init(struct sha256 *c);
void sha256_update(struct sha256 *c, const void *data, size_t len);
void sha256_final(struct sha256 *c, unsigned char out[SHA256_DIGEST_LEN]);
void hmac_sha256(const void *key, size_t keylen, const void *msg, size_t msglen,
    unsigned char out[SHA256_DIGEST_LEN]);
/* Compares without an early exit, so the time taken says nothing about where they differ. */
int timingsafe_equal(const void *a, const void *b, size_t len);

#endif
