/*
 * fuzz_binder.c: libFuzzer target for the declared-tool argument checker and binder
 * (server/tools_declared.c) over tools declared in YAML (server/declare.c).
 *
 * Input: byte 0 picks one of the declared tools below, the rest is the "arguments" value of a
 * tools/call (any JSON text; the dispatcher validates it first). Arguments that pass are bound
 * and sent to a database that is never there. Oracle: the response is one line of valid JSON.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "config.h"
#include "db.h"
#include "fuzz.h"
#include "mcp.h"

static const char yaml[] =
    "tools:\n"
    "  t:\n"
    "    description: every parameter type\n"
    "    sql: SELECT $1::text, $2::int, $3::float8, $4::bool, $5::text, $6::date, "
    "$7::timestamptz, $8::text[], $9::int[]\n"
    "    parameters:\n"
    "      - { name: s, type: string, pattern: '^[a-z]+$' }\n"
    "      - { name: i, type: integer, minimum: 1, maximum: 100 }\n"
    "      - { name: n, type: number, minimum: -1.5 }\n"
    "      - { name: b, type: boolean }\n"
    "      - { name: e, type: enum, enum: [red, green] }\n"
    "      - { name: d, type: date }\n"
    "      - { name: ts, type: timestamp }\n"
    "      - { name: as, type: array, items: { type: string } }\n"
    "      - { name: ai, type: array, items: { type: integer }, default: [1, 2] }\n"
    "  arrays:\n"
    "    description: arrays of every item type, some required\n"
    "    sql: SELECT $1::date[], $2::timestamptz[], $3::text[], $4::float8[], $5::bool[]\n"
    "    result: value\n"
    "    parameters:\n"
    "      - { name: ad, type: array, items: { type: date }, required: true }\n"
    "      - { name: at, type: array, items: { type: timestamp } }\n"
    "      - { name: ae, type: array, items: { type: enum }, enum: [a, 'b\"c', 'd\\e'] }\n"
    "      - { name: an, type: array, items: { type: number }, minimum: 0, maximum: 1e300 }\n"
    "      - { name: ab, type: array, items: boolean }\n"
    "  schema:\n"
    "    description: an operator's own input schema\n"
    "    sql: SELECT $1::text\n"
    "    parameters:\n"
    "      - { name: q, type: string, default: 'x' }\n"
    "    input_schema: { type: object, properties: { q: { type: string } } }\n"
    "  none:\n"
    "    description: no parameters\n"
    "    sql: SELECT 1\n";

static struct config cfg;
static struct db *db;
static struct mcp_session session;

static void
check_sent(void *ctx, const char *msg, size_t len)
{
	(void)ctx;
	fuzz_assert_json_line(msg, len);
}

static void
setup(void)
{
	char path[96];
	struct conf_errors errors = { BUF_INIT, 0 };
	struct mcp_io io = { .send = check_sent, .watch_fd = -1, .watch_fd2 = -1 };
	FILE *f;

	fuzz_quiet();
	snprintf(path, sizeof(path), "/tmp/pgmcp-fuzz-binder-%d.yaml", (int)getpid());
	f = fopen(path, "w");
	if (f == NULL)
		abort();
	fputs(yaml, f);
	fclose(f);
	config_load(&cfg, path, NULL, 0, FUZZ_DSN, &errors);
	unlink(path);
	if (errors.count > 0) {
		fprintf(stderr, "fuzz_binder: %s", buf_cstr(&errors.text));
		abort();
	}
	conf_errors_free(&errors);
	db = db_new(&cfg);
	mcp_session_init(&session, &cfg, db, &io);
	session.initialized = true;
	session.client_ready = true;
	strcpy(session.version, "2025-11-25");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const tools[] = { "t", "arrays", "schema", "none" };
	struct buf msg = BUF_INIT, out = BUF_INIT;

	if (db == NULL)
		setup();
	if (size < 1)
		return 0;
	buf_printf(&msg, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{"
	    "\"name\":\"%s\",\"arguments\":", tools[data[0] % 4]);
	buf_append(&msg, data + 1, size - 1);
	buf_puts(&msg, "}}");
	mcp_handle_message(&session, msg.data, msg.len, &out);
	fuzz_assert_json_line(out.data, out.len);
	buf_free(&msg);
	buf_free(&out);
	return 0;
}
