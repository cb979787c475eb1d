/* base64.c: base64 encoding, including a direct path from PostgreSQL's hex bytea text. */
#include "base64.h"

#include <string.h>

#include "util.h"

static const char alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static void
encode_group(struct buf *out, const unsigned char *in, size_t n)
{
	char q[4];
	unsigned v = (unsigned)in[0] << 16 | (n > 1 ? (unsigned)in[1] << 8 : 0) | (n > 2 ? in[2] : 0);

	q[0] = alphabet[(v >> 18) & 63];
	q[1] = alphabet[(v >> 12) & 63];
	q[2] = n > 1 ? alphabet[(v >> 6) & 63] : '=';
	q[3] = n > 2 ? alphabet[v & 63] : '=';
	buf_append(out, q, 4);
}

void
base64_encode(struct buf *out, const unsigned char *data, size_t len)
{
	size_t i;

	buf_reserve(out, (len + 2) / 3 * 4);
	for (i = 0; i + 3 <= len; i += 3)
		encode_group(out, data + i, 3);
	if (i < len)
		encode_group(out, data + i, len - i);
}

int
base64_decode(struct buf *out, const char *in, size_t len)
{
	unsigned acc = 0;
	int bits = 0;
	size_t pad = 0;

	for (size_t i = 0; i < len; i++) {
		const char *pos;

		if (in[i] == '=') {
			pad++;
			continue;
		}
		if (pad > 0 || in[i] == '\0' || (pos = strchr(alphabet, in[i])) == NULL)
			return -1;
		acc = acc << 6 | (unsigned)(pos - alphabet);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			buf_putc(out, (char)((acc >> bits) & 0xFF));
		}
	}
	return pad > 2 ? -1 : 0;
}

int
base64_from_pg_hex(struct buf *out, const char *hex, size_t len)
{
	unsigned char group[3];
	size_t n = 0;

	if (len < 2 || hex[0] != '\\' || hex[1] != 'x' || (len - 2) % 2 != 0)
		return -1;
	buf_reserve(out, (len - 2) / 2 / 3 * 4 + 4);
	for (size_t i = 2; i < len; i += 2) {
		int hi = hex_digit_value(hex[i]), lo = hex_digit_value(hex[i + 1]);

		if (hi < 0 || lo < 0)
			return -1;
		group[n++] = (unsigned char)(hi << 4 | lo);
		if (n == 3) {
			encode_group(out, group, 3);
			n = 0;
		}
	}
	if (n > 0)
		encode_group(out, group, n);
	return 0;
}
