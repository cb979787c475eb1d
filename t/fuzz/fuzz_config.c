/*
 * fuzz_config.c: libFuzzer target for the YAML configuration loader (common/conf.c,
 * server/config.c) and the declarations it holds (server/declare.c).
 *
 * Input: a configuration file. Oracles: a refused file says why; an accepted one serves
 * initialize and the list methods (declared tools, resources, templates and prompts) with
 * valid JSON, over a database that is never there.
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

static void
check_sent(void *ctx, const char *msg, size_t len)
{
	(void)ctx;
	fuzz_assert_json_line(msg, len);
}

static void
serve_lists(const struct config *cfg)
{
	static const char *const msgs[] = {
		("{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"initialize\",\"params\":{\"protocolVersion\":"
		    "\"2025-11-25\",\"capabilities\":{},\"clientInfo\":{\"name\":\"f\",\"version\":\"1\"}}}"),
		"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"}",
		"{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"resources/list\"}",
		"{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"resources/templates/list\"}",
		"{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"prompts/list\"}",
	};
	struct mcp_io io = { .send = check_sent, .watch_fd = -1, .watch_fd2 = -1 };
	struct mcp_session session;
	struct db *db = db_new(cfg);
	struct buf out = BUF_INIT;

	mcp_session_init(&session, cfg, db, &io);
	for (size_t i = 0; i < sizeof(msgs) / sizeof(msgs[0]); i++) {
		buf_reset(&out);
		mcp_handle_message(&session, msgs[i], strlen(msgs[i]), &out);
		if (out.len == 0)
			abort();
		fuzz_assert_json_line(out.data, out.len);
	}
	mcp_session_free(&session);
	db_free(db);
	buf_free(&out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char path[96];
	struct conf_errors errors = { BUF_INIT, 0 };
	struct config cfg;
	FILE *f;
	int n;

	if (path[0] == '\0') {
		fuzz_quiet();
		snprintf(path, sizeof(path), "%s/pgmcp-fuzz-config-%d.yaml",
		    access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp", (int)getpid());
	}
	f = fopen(path, "wb");
	if (f == NULL)
		abort();
	if (fwrite(data, 1, size, f) != size || fclose(f) != 0)
		abort();
	n = config_load(&cfg, path, NULL, 0, FUZZ_DSN, &errors);
	if ((n > 0) != (errors.count > 0) || (errors.count > 0 && errors.text.len == 0))
		abort();
	if (n == 0)
		serve_lists(&cfg);
	conf_errors_free(&errors);
	config_free(&cfg);
	unlink(path);
	return 0;
}
