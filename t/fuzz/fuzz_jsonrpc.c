/*
 * fuzz_jsonrpc.c: libFuzzer target for the strict JSON validator (common/jsoncheck.c) and MCP
 * dispatch (server/mcp.c) with no database, as t/unit/test_mcp.c drives a session.
 *
 * Input: byte 0 chooses the session's starting state, the rest is one or more messages
 * separated by newlines, handled in order by one fresh session. Oracles: every response and
 * notification is one line of valid JSON; whatever json_check accepts, json-c parses too (the
 * dispatcher relies on that); json_raw_member spans lie inside the message.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <json.h>

#include "buf.h"
#include "config.h"
#include "db.h"
#include "fuzz.h"
#include "jsoncheck.h"
#include "mcp.h"

static struct config cfg;
static struct db *db;

static void
check_sent(void *ctx, const char *msg, size_t len)
{
	(void)ctx;
	fuzz_assert_json_line(msg, len);
}

static bool
count_element(void *ctx, struct json_span el)
{
	size_t *n = ctx;

	(void)el;
	(*n)++;
	return *n < 1000;
}

/* Differential check of the validator against json-c, on one message. */
static void
check_validator(const char *s, size_t n)
{
	struct json_check chk;
	struct json_span sp;

	if (json_check(s, n, 64, &chk) < 0)
		return;
	{
		/* With its terminating NUL, so a top-level number is known to have ended. */
		struct json_tokener *tok = json_tokener_new_ex(65);
		char *copy = malloc(n + 1);
		struct json_object *o;

		memcpy(copy, s, n);
		copy[n] = '\0';
		o = json_tokener_parse_ex(tok, copy, (int)n + 1);
		if (o == NULL && json_tokener_get_error(tok) != json_tokener_success)
			abort();
		json_object_put(o);
		json_tokener_free(tok);
		free(copy);
	}
	if (chk.top == '{') {
		static const char *const keys[] = { "id", "method", "params", "jsonrpc", "" };

		for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
			if (json_raw_member(s, n, keys[i], &sp) &&
			    (sp.len == 0 || sp.start > n || sp.len > n - sp.start))
				abort();
	} else if (chk.top == '[') {
		size_t count = 0;

		json_each_element(s, n, count_element, &count);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mcp_io io = { .send = check_sent, .watch_fd = -1, .watch_fd2 = -1 };
	struct mcp_session session;
	struct buf out = BUF_INIT;
	const char *p, *end;

	if (db == NULL) {
		struct conf_errors errors = { BUF_INIT, 0 };

		fuzz_quiet();
		if (config_load(&cfg, NULL, NULL, 0, FUZZ_DSN, &errors) != 0)
			abort();
		conf_errors_free(&errors);
		db = db_new(&cfg);
	}
	if (size < 1)
		return 0;
	mcp_session_init(&session, &cfg, db, &io);
	/* Byte 0: fresh, or initialized in a batch-era or a current legacy version. */
	if (data[0] & 1) {
		static const char *const versions[] = { "2024-11-05", "2025-03-26", "2025-06-18",
			"2025-11-25" };

		session.initialized = true;
		session.client_ready = (data[0] & 2) != 0;
		strcpy(session.version, versions[(data[0] >> 2) & 3]);
	}
	p = (const char *)data + 1;
	end = (const char *)data + size;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);

		check_validator(p, len);
		buf_reset(&out);
		mcp_handle_message(&session, p, len, &out);
		fuzz_assert_json_line(out.data, out.len);
		mcp_is_cancel_for_current(&session, p, len);
		p += len + 1;
	}
	mcp_session_free(&session);
	buf_free(&out);
	return 0;
}
