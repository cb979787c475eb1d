/*
 * test_base64.c: base64 encoding (common/base64.c) against the RFC 4648 section 10 test
 * vectors and binary edge cases, and base64_from_pg_hex on PostgreSQL's bytea hex text:
 * "\x", "\xde", "\xdeadbeef", upper-case digits, and malformed inputs that must return -1.
 */
#include <string.h>

#include "base64.h"
#include "buf.h"
#include "tap.h"

static void
encode(const char *in, size_t n, const char *want, const char *name)
{
	struct buf b = BUF_INIT;

	base64_encode(&b, (const unsigned char *)in, n);
	is_str(buf_cstr(&b), want, "base64_encode %s", name);
	buf_free(&b);
}

static void
from_hex(const char *hex, const char *want, const char *name)
{
	struct buf b = BUF_INIT;
	int r = base64_from_pg_hex(&b, hex, strlen(hex));

	if (is_int(r, 0, "base64_from_pg_hex %s returns 0", name))
		is_str(buf_cstr(&b), want, "base64_from_pg_hex %s", name);
	else
		ok(false, "base64_from_pg_hex %s", name);
	buf_free(&b);
}

static void
bad_hex(const char *hex, size_t n, const char *name)
{
	struct buf b = BUF_INIT;

	is_int(base64_from_pg_hex(&b, hex, n), -1, "base64_from_pg_hex rejects %s", name);
	buf_free(&b);
}

int
main(void)
{
	static const unsigned char bin[] = { 0x00, 0xff, 0xfb, 0xef, 0xbe, 0x00 };

	plan(38);
	/* RFC 4648, section 10 */
	encode("", 0, "", "\"\"");
	encode("f", 1, "Zg==", "\"f\"");
	encode("fo", 2, "Zm8=", "\"fo\"");
	encode("foo", 3, "Zm9v", "\"foo\"");
	encode("foob", 4, "Zm9vYg==", "\"foob\"");
	encode("fooba", 5, "Zm9vYmE=", "\"fooba\"");
	encode("foobar", 6, "Zm9vYmFy", "\"foobar\"");
	/* binary: NUL bytes, the '+' and '/' digits */
	encode((const char *)bin, 1, "AA==", "one NUL byte");
	encode((const char *)bin, 6, "AP/7774A", "bytes using + and /");
	encode("\xfb\xff", 2, "+/8=", "0xfb 0xff");
	encode("\xff\xff\xff", 3, "////", "three 0xff");
	{
		struct buf b = BUF_INIT;

		buf_puts(&b, "x:");
		base64_encode(&b, (const unsigned char *)"foo", 3);
		is_str(buf_cstr(&b), "x:Zm9v", "base64_encode appends to what the buffer holds");
		buf_free(&b);
	}

	from_hex("\\x", "", "\\x (empty bytea)");
	from_hex("\\xde", "3g==", "\\xde");
	from_hex("\\xdead", "3q0=", "\\xdead");
	from_hex("\\xdeadbeef", "3q2+7w==", "\\xdeadbeef");
	from_hex("\\xDEADBEEF", "3q2+7w==", "upper-case digits");
	from_hex("\\x666f6f626172", "Zm9vYmFy", "\"foobar\" in hex");
	from_hex("\\x00", "AA==", "one NUL byte");

	bad_hex("", 0, "empty text");
	bad_hex("\\", 1, "a lone backslash");
	bad_hex("x", 1, "a lone x");
	bad_hex("de", 2, "hex without the \\x prefix");
	bad_hex("\\Xde", 4, "\\X upper-case prefix");
	bad_hex("/xde", 4, "slash instead of backslash");
	bad_hex("\\xd", 3, "an odd digit count");
	bad_hex("\\xdeadbee", 9, "an odd digit count after whole bytes");
	bad_hex("\\xzz", 4, "non-hex digits");
	bad_hex("\\xg0", 4, "g is not a hex digit");
	bad_hex("\\xde a", 6, "a space inside");
	bad_hex("abc\\000", 7, "escape-format bytea");
	return done_testing();
}
