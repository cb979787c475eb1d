/*
 * test_util.c: the parsers and helpers in common/util.c: parse_duration_ms (ms, s, min, m,
 * h, d, a bare number as milliseconds; rejects empty, unknown units, negatives, fractions
 * and overflow), parse_size_bytes (bytes, kB/KiB, MB/MiB, GB/GiB; rejects TB and junk),
 * parse_int64, parse_bool, format_duration_ms (round-tripping through the parser), and
 * the allocation wrappers.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sha256.h"
#include "tap.h"
#include "util.h"

static void
duration_ok(const char *s, int64_t want)
{
	int64_t v = -12345;
	int r = parse_duration_ms(s, &v);

	ok(r == 0 && v == want, "parse_duration_ms(\"%s\") = %lld", s, (long long)want);
	if (r != 0 || v != want)
		diag("returned %d, value %lld", r, (long long)v);
}

static void
duration_bad(const char *s)
{
	int64_t v = -12345;

	ok(parse_duration_ms(s, &v) == -1 && v == -12345, "parse_duration_ms rejects \"%s\"", s);
}

static void
size_ok(const char *s, int64_t want)
{
	int64_t v = -12345;
	int r = parse_size_bytes(s, &v);

	ok(r == 0 && v == want, "parse_size_bytes(\"%s\") = %lld", s, (long long)want);
	if (r != 0 || v != want)
		diag("returned %d, value %lld", r, (long long)v);
}

static void
size_bad(const char *s)
{
	int64_t v = -12345;

	ok(parse_size_bytes(s, &v) == -1 && v == -12345, "parse_size_bytes rejects \"%s\"", s);
}

static void
bool_is(const char *s, int want)
{
	bool v = !want;
	int r = parse_bool(s, &v);

	if (want < 0)
		ok(r == -1, "parse_bool rejects \"%s\"", s);
	else
		ok(r == 0 && v == (want != 0), "parse_bool(\"%s\") = %s", s, want ? "true" : "false");
}

static void
format_is(int64_t ms, const char *want)
{
	char out[32];
	int64_t back = -1;

	format_duration_ms(ms, out, sizeof(out));
	is_str(out, want, "format_duration_ms(%lld)", (long long)ms);
	ok(parse_duration_ms(out, &back) == 0 && back == ms, "format_duration_ms(%lld) parses back",
	    (long long)ms);
}

static void
sha256_ok(const char *msg, size_t len, const char *hex)
{
	unsigned char d[SHA256_DIGEST_LEN];
	char got[2 * SHA256_DIGEST_LEN + 1];
	struct sha256 c;

	sha256_init(&c);
	sha256_update(&c, msg, len);
	sha256_final(&c, d);
	for (int i = 0; i < SHA256_DIGEST_LEN; i++)
		snprintf(got + 2 * i, 3, "%02x", d[i]);
	is_str(got, hex, "sha256 of %zu bytes", len);
}

int
main(void)
{
	int64_t v = 0;

	plan(91);
	{
		char a[200];
		unsigned char mac[SHA256_DIGEST_LEN];
		char machex[2 * SHA256_DIGEST_LEN + 1];

		memset(a, 'a', sizeof(a));
		sha256_ok("abc", 3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
		sha256_ok(a, 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
		sha256_ok(a, 55, "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318");
		sha256_ok(a, 56, "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a");
		sha256_ok(a, 63, "7d3e74a05d7db15bce4ad9ec0658ea98e3f06eeecf16b4c6fff2da457ddc2f34");
		sha256_ok(a, 64, "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb");
		sha256_ok(a, 119, "31eba51c313a5c08226adf18d4a359cfdfd8d2e816b13f4af952f7ea6584dcfb");
		sha256_ok(a, 120, "2f3d335432c70b580af0e8e1b3674a7c020d683aa5f73aaaedfdc55af904c21c");
		sha256_ok(a, 200, "c2a908d98f5df987ade41b5fce213067efbcc21ef2240212a41e54b5e7c28ae5");
		hmac_sha256("key", 3, "The quick brown fox jumps over the lazy dog", 43, mac);
		for (int i = 0; i < SHA256_DIGEST_LEN; i++)
			snprintf(machex + 2 * i, 3, "%02x", mac[i]);
		is_str(machex, "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8", "hmac_sha256 (RFC 4231 style vector)");
	}

	duration_ok("250ms", 250);
	duration_ok("30s", 30000);
	duration_ok("5min", 300000);
	duration_ok("5m", 300000);
	duration_ok("1h", 3600000);
	duration_ok("2d", 172800000);
	duration_ok("1500", 1500);
	duration_ok("0", 0);
	duration_ok("0s", 0);
	duration_ok("1d", 86400000);
	duration_ok("106751991167d", 106751991167LL * 86400000);
	duration_bad("");
	duration_bad("5 x");
	duration_bad("-1s");
	duration_bad("-5");
	duration_bad("s");
	duration_bad("ms");
	duration_bad("1.5s");
	duration_bad("5sec");
	duration_bad("5S");
	duration_bad(" 5s");
	duration_bad("5s ");
	duration_bad("99999999999999999999");
	duration_bad("9223372036854775807s");
	duration_bad("106751991168d");
	duration_bad("9223372036854775807min");
	ok(parse_duration_ms(NULL, &v) == -1, "parse_duration_ms rejects NULL");

	size_ok("4096", 4096);
	size_ok("0", 0);
	size_ok("100B", 100);
	size_ok("64kB", 65536);
	size_ok("64KiB", 65536);
	size_ok("64KB", 65536);
	size_ok("4MB", 4194304);
	size_ok("4MiB", 4194304);
	size_ok("1GB", 1073741824);
	size_ok("1GiB", 1073741824);
	size_bad("1TB");
	size_bad("1TiB");
	size_bad("x");
	size_bad("");
	size_bad("-1");
	size_bad("1.5MB");
	size_bad("64 KB!");
	size_bad("4mb");
	size_bad("9223372036854775807kB");
	size_bad("99999999999999999999");

	bool_is("true", 1);
	bool_is("TRUE", 1);
	bool_is("yes", 1);
	bool_is("on", 1);
	bool_is("1", 1);
	bool_is("false", 0);
	bool_is("False", 0);
	bool_is("no", 0);
	bool_is("off", 0);
	bool_is("0", 0);
	bool_is("", -1);
	bool_is("2", -1);
	bool_is("maybe", -1);
	bool_is("truee", -1);

	ok(parse_int64("123", &v) == 0 && v == 123, "parse_int64(\"123\")");
	ok(parse_int64("-9223372036854775808", &v) == 0 && v == INT64_MIN, "parse_int64(INT64_MIN)");
	ok(parse_int64("", &v) == -1, "parse_int64 rejects \"\"");
	ok(parse_int64(" 1", &v) == -1, "parse_int64 rejects leading space");
	ok(parse_int64("1x", &v) == -1, "parse_int64 rejects trailing junk");
	ok(parse_int64("9223372036854775808", &v) == -1, "parse_int64 rejects overflow");

	format_is(30000, "30s");
	format_is(250, "250ms");
	format_is(1500, "1500ms");
	format_is(86400000, "86400s");
	{
		char out[32];

		/* The header's example says "0"; "0ms" is equally valid for PostgreSQL. */
		format_duration_ms(0, out, sizeof(out));
		ok(strcmp(out, "0") == 0 || strcmp(out, "0ms") == 0, "format_duration_ms(0) is 0 (%s)",
		    out);
		ok(parse_duration_ms(out, &v) == 0 && v == 0, "format_duration_ms(0) parses back");
	}

	{
		char *s = xstrdup("abc");
		char *z = xcalloc(4, 8);
		void *m = xmalloc(0);
		bool zero = true;

		is_str(s, "abc", "xstrdup copies");
		for (int i = 0; i < 32; i++)
			zero = zero && z[i] == 0;
		ok(zero, "xcalloc zeroes");
		ok(m != NULL, "xmalloc(0) returns a pointer");
		free(s);
		free(z);
		free(m);
	}
	ok(now_us() > 0, "now_us is positive");
	return done_testing();
}
