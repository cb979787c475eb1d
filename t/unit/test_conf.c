/*
 * test_conf.c: configuration loading (common/conf.c with server/config.c's key table):
 * built-in defaults; every key from a YAML file; durations, sizes and enums; errors that
 * name file:line:col and the key path (unknown top-level and nested keys, a mapping where
 * a value belongs, out-of-range values, bad enums); ${VAR} and ${VAR:-default} expansion
 * and an unset variable; an empty file; YAML syntax errors with line:col; precedence
 * file < PGMCP_* environment < --set; DSN sources (file < PGMCP_DATABASE_DSN <
 * PG_CONNECTION_STRING < DATABASE_URL < the dsn argument); config_redact_dsn for URLs and
 * key=value strings; the tools: section.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "tap.h"

extern char **environ;

static char tmpdir[64];
static char path[128];

/* Removes every variable that would leak into config_load from the caller's environment. */
static void
clean_environment(void)
{
	char *names[256];
	int n = 0;

	for (char **e = environ; *e != NULL && n < 256; e++) {
		const char *eq = strchr(*e, '=');

		if (eq != NULL && (strncmp(*e, "PGMCP_", 6) == 0 || strncmp(*e, "T_PGMCP_", 8) == 0))
			names[n++] = strndup(*e, (size_t)(eq - *e));
	}
	for (int i = 0; i < n; i++) {
		unsetenv(names[i]);
		free(names[i]);
	}
	unsetenv("DATABASE_URL");
	unsetenv("PG_CONNECTION_STRING");
}

static const char *
write_file(const char *text)
{
	FILE *f = fopen(path, "w");

	if (f == NULL) {
		diag("cannot write %s", path);
		exit(2);
	}
	fputs(text, f);
	fclose(f);
	return path;
}

/* Loads text as the configuration file; returns the error count. */
static int
load(struct config *cfg, const char *text, const char *const *sets, size_t n_sets,
    const char *dsn_arg, struct conf_errors *e)
{
	memset(e, 0, sizeof(*e));
	return config_load(cfg, text ? write_file(text) : NULL, sets, n_sets, dsn_arg, e);
}

static void
done(struct config *cfg, struct conf_errors *e)
{
	config_free(cfg);
	conf_errors_free(e);
}

static const char *
errtext(struct conf_errors *e)
{
	return e->text.len ? buf_cstr(&e->text) : "";
}

/* A file that must load cleanly. */
static bool
load_ok(struct config *cfg, const char *text, struct conf_errors *e, const char *name)
{
	int n = load(cfg, text, NULL, 0, NULL, e);

	if (!ok(n == 0, "%s: loads without errors", name))
		diag("%s", errtext(e));
	return n == 0;
}

/*
 * A file with exactly one error at line:col whose message holds the key path and what.
 * Counts as three tests.
 */
static void
load_error(const char *text, int line, int col, const char *key, const char *what,
    const char *name)
{
	struct config cfg;
	struct conf_errors e;
	char where[256];
	int n = load(&cfg, text, NULL, 0, NULL, &e);

	snprintf(where, sizeof(where), "%s:%d:%d: %s: ", path, line, col, key);
	if (!is_int(n, 1, "%s: one error", name))
		diag("%s", errtext(&e));
	like(errtext(&e), where, "%s: names file:line:col and the key", name);
	like(errtext(&e), what, "%s: says what is wrong", name);
	done(&cfg, &e);
}

static void
test_defaults(void)
{
	struct config cfg;
	struct conf_errors e;

	is_int(load(&cfg, NULL, NULL, 0, NULL, &e), 0, "defaults: no errors without a file");
	is_str(cfg.dsn, "", "default dsn is empty");
	like(cfg.dsn_origin, "libpq defaults", "default dsn origin");
	is_int(cfg.connect_timeout_ms, 5000, "default connect_timeout 5s");
	is_str(cfg.application_name, "pgmcp", "default application_name");
	is_int(cfg.access, ACCESS_READ_ONLY, "default access read_only");
	is_int(cfg.statement_timeout_ms, 30000, "default statement_timeout 30s");
	is_int(cfg.lock_timeout_ms, 5000, "default lock_timeout 5s");
	is_int(cfg.idle_in_transaction_timeout_ms, 60000, "default idle_in_transaction_timeout");
	is_int(cfg.max_rows, 1000, "default max_rows");
	is_int(cfg.max_result_bytes, 1048576, "default max_result_bytes 1MB");
	is_int(cfg.max_message_bytes, 4194304, "default max_message_bytes 4MB");
	is_int(cfg.page_size, 100, "default page_size");
	is_int(cfg.log_level, 1, "default log.level info");
	is_int(cfg.log_format, 0, "default log.format logfmt");
	ok(cfg.log_file == NULL, "default log.file unset");
	is_int((long long)cfg.n_tools, 0, "no tool settings by default");
	ok(cfg.file == NULL, "no file recorded");
	done(&cfg, &e);

	/* The shipped reference file is valid and equals the defaults. */
	memset(&e, 0, sizeof(e));
	if (!is_int(config_load(&cfg, "conf/pgmcp.yaml", NULL, 0, NULL, &e), 0,
	    "conf/pgmcp.yaml loads without errors"))
		diag("%s", errtext(&e));
	ok(cfg.max_rows == 1000 && cfg.statement_timeout_ms == 30000 && cfg.access == 0 &&
	    cfg.page_size == 100, "conf/pgmcp.yaml holds the defaults");
	done(&cfg, &e);
}

static void
test_every_key(void)
{
	struct config cfg;
	struct conf_errors e;

	if (load_ok(&cfg,
	    "# every key, none at its default\n"
	    "database:\n"
	    "  dsn: \"host=db.example dbname=app\"\n"
	    "  connect_timeout: 10s\n"
	    "  application_name: myapp\n"
	    "access: read_write\n"
	    "limits:\n"
	    "  statement_timeout: 5min\n"
	    "  lock_timeout: 250ms\n"
	    "  idle_in_transaction_timeout: 1h\n"
	    "  max_rows: 50\n"
	    "  max_result_bytes: 64kB\n"
	    "  max_message_bytes: 1GiB\n"
	    "  page_size: 7\n"
	    "log:\n"
	    "  level: warning\n"
	    "  format: json\n"
	    "  file: /tmp/pgmcp-test.log\n"
	    "tools:\n"
	    "  explain:\n"
	    "    enabled: false\n"
	    "  query: { enabled: yes }\n", &e, "every key")) {
		is_str(cfg.dsn, "host=db.example dbname=app", "database.dsn");
		like(cfg.dsn_origin, "configuration file", "dsn origin is the file");
		is_int(cfg.connect_timeout_ms, 10000, "database.connect_timeout 10s");
		is_str(cfg.application_name, "myapp", "database.application_name");
		is_int(cfg.access, ACCESS_READ_WRITE, "access read_write");
		is_int(cfg.statement_timeout_ms, 300000, "limits.statement_timeout 5min");
		is_int(cfg.lock_timeout_ms, 250, "limits.lock_timeout 250ms");
		is_int(cfg.idle_in_transaction_timeout_ms, 3600000, "limits.idle_in_transaction 1h");
		is_int(cfg.max_rows, 50, "limits.max_rows");
		is_int(cfg.max_result_bytes, 65536, "limits.max_result_bytes 64kB");
		is_int(cfg.max_message_bytes, 1073741824, "limits.max_message_bytes 1GiB");
		is_int(cfg.page_size, 7, "limits.page_size");
		is_int(cfg.log_level, 3, "log.level warning");
		is_int(cfg.log_format, 1, "log.format json");
		is_str(cfg.log_file, "/tmp/pgmcp-test.log", "log.file");
		is_str(cfg.file, path, "the file name is recorded");
		is_int((long long)cfg.n_tools, 2, "two tool settings");
		ok(!config_tool_enabled(&cfg, "explain", true), "tools.explain.enabled false");
		ok(config_tool_enabled(&cfg, "query", false), "tools.query.enabled yes");
		ok(config_tool_enabled(&cfg, "list_tables", true) &&
		    !config_tool_enabled(&cfg, "list_tables", false), "unlisted tool gets the default");
		is_int((long long)cfg.tools[0].line, 20, "tool setting remembers its line");
		is_int((long long)cfg.tools[0].column, 3, "tool setting remembers its column");
	}
	done(&cfg, &e);

	/* Values in other spellings. */
	if (load_ok(&cfg,
	    "limits:\n"
	    "  statement_timeout: 0\n"
	    "  lock_timeout: 1500\n"
	    "  idle_in_transaction_timeout: 1d\n"
	    "  max_result_bytes: 4096\n"
	    "  max_message_bytes: 2MiB\n"
	    "  max_rows: \"1000000\"\n"
	    "log: { level: error, format: logfmt }\n", &e, "other spellings")) {
		is_int(cfg.statement_timeout_ms, 0, "duration 0 disables");
		is_int(cfg.lock_timeout_ms, 1500, "bare number is milliseconds");
		is_int(cfg.idle_in_transaction_timeout_ms, 86400000, "1d, the maximum");
		is_int(cfg.max_result_bytes, 4096, "size in bytes");
		is_int(cfg.max_message_bytes, 2097152, "2MiB");
		is_int(cfg.max_rows, 1000000, "quoted integer at the maximum");
		is_int(cfg.log_level, 4, "flow mapping: log.level error");
	}
	done(&cfg, &e);
}

static void
test_errors(void)
{
	struct config cfg;
	struct conf_errors e;

	load_error("access: read_only\nbogus: 1\n", 2, 1, "bogus", "unknown setting",
	    "unknown top-level key");
	load_error("limits:\n  max_rows: 10\n  max_rowz: 5\n", 3, 3, "limits.max_rowz",
	    "unknown setting", "unknown nested key");
	load_error("log:\n  level: info\n  colour:\n    deep: 1\n", 3, 3, "log.colour",
	    "unknown setting", "unknown nested key holding a mapping");
	load_error("limits:\n  max_rows:\n    a: 1\n", 3, 5, "limits.max_rows", "got a mapping",
	    "a mapping where a value belongs");
	load_error("access: [read_only]\n", 1, 9, "access", "got a list",
	    "a list where a value belongs");
	load_error("limits: 5\n", 1, 9, "limits", "expected a mapping", "a value where a section belongs");
	load_error("limits:\n  max_rows:\n", 2, 12, "limits.max_rows", "has no value",
	    "a key with no value");
	load_error("limits:\n  max_rows: 0\n", 2, 13, "limits.max_rows", "between 1 and 1000000",
	    "max_rows 0 out of range");
	load_error("limits:\n  page_size: 10001\n", 2, 14, "limits.page_size", "got 10001",
	    "page_size above the maximum");
	load_error("database:\n  connect_timeout: 500ms\n", 2, 20, "database.connect_timeout",
	    "between 1s and 3600s", "connect_timeout below the minimum");
	load_error("limits:\n  statement_timeout: 2d\n", 2, 22, "limits.statement_timeout",
	    "must be between", "statement_timeout above a day");
	load_error("limits:\n  statement_timeout: soon\n", 2, 22, "limits.statement_timeout",
	    "expected a duration", "a duration that is not one");
	load_error("limits:\n  max_result_bytes: 1TB\n", 2, 21, "limits.max_result_bytes",
	    "expected a size", "size 1TB");
	load_error("limits:\n  max_result_bytes: 2GB\n", 2, 21, "limits.max_result_bytes",
	    "must be between", "size above the maximum");
	load_error("limits:\n  max_rows: ten\n", 2, 13, "limits.max_rows", "expected an integer",
	    "an integer that is not one");
	load_error("access: admin\n", 1, 9, "access", "expected one of read_only, read_write",
	    "an unknown enum value");
	load_error("log:\n  format: xml\n", 2, 11, "log.format", "logfmt, json", "log.format xml");
	load_error("- a\n- b\n", 1, 1, "(top)", "must be a mapping", "a list at the top");

	/* Every problem is reported, not just the first. */
	load(&cfg, "bogus: 1\nlimits:\n  max_rows: 0\n  page_size: x\naccess: no\n", NULL, 0, NULL, &e);
	is_int(e.count, 4, "four problems, four errors");
	{
		int lines = 0;

		for (const char *p = errtext(&e); *p; p++)
			lines += *p == '\n';
		is_int(lines, 4, "one line per error");
	}
	done(&cfg, &e);

	/* A file that does not exist. */
	memset(&e, 0, sizeof(e));
	ok(config_load(&cfg, "/nonexistent/pgmcp.yaml", NULL, 0, NULL, &e) == 1 &&
	    strstr(errtext(&e), "/nonexistent/pgmcp.yaml: cannot open") != NULL,
	    "a missing file is one error naming it");
	done(&cfg, &e);
}

static void
test_expansion(void)
{
	struct config cfg;
	struct conf_errors e;
	char err[256];
	char *s;

	setenv("T_PGMCP_APP", "fromenv", 1);
	setenv("T_PGMCP_ROWS", "77", 1);
	setenv("T_PGMCP_EMPTY", "", 1);
	unsetenv("T_PGMCP_NOPE");
	if (load_ok(&cfg,
	    "database:\n"
	    "  application_name: ${T_PGMCP_APP}-x\n"
	    "  dsn: \"host=${T_PGMCP_NOPE:-localhost} port=${T_PGMCP_EMPTY:-5433}\"\n"
	    "limits:\n"
	    "  max_rows: ${T_PGMCP_ROWS}\n"
	    "  page_size: ${T_PGMCP_NOPE:-12}\n"
	    "log:\n"
	    "  file: \"/tmp/a$$b${T_PGMCP_EMPTY}\"\n", &e, "${VAR} expansion")) {
		is_str(cfg.application_name, "fromenv-x", "${VAR} expands");
		is_str(cfg.dsn, "host=localhost port=5433", "${VAR:-default} for unset and empty");
		is_int(cfg.max_rows, 77, "${VAR} in a number");
		is_int(cfg.page_size, 12, "${VAR:-default} in a number");
		is_str(cfg.log_file, "/tmp/a$b", "$$ is a dollar, an empty variable is empty");
	}
	done(&cfg, &e);

	load_error("database:\n  application_name: ${T_PGMCP_NOPE}\n", 2, 21,
	    "database.application_name", "T_PGMCP_NOPE is not set", "unset variable");
	load_error("database:\n  application_name: \"${T_PGMCP_APP\"\n", 2, 21,
	    "database.application_name", "unterminated", "unterminated ${");

	s = conf_expand_env("a${T_PGMCP_APP}b${T_PGMCP_NOPE:-}c", err, sizeof(err));
	is_str(s, "afromenvbc", "conf_expand_env with an empty default");
	free(s);
	s = conf_expand_env("${}", err, sizeof(err));
	ok(s == NULL && strstr(err, "bad variable") != NULL, "conf_expand_env refuses ${}");
	free(s);
	s = conf_expand_env("no dollars", err, sizeof(err));
	is_str(s, "no dollars", "conf_expand_env plain text");
	free(s);
	unsetenv("T_PGMCP_APP");
	unsetenv("T_PGMCP_ROWS");
	unsetenv("T_PGMCP_EMPTY");
}

static void
test_files(void)
{
	struct config cfg;
	struct conf_errors e;

	if (load_ok(&cfg, "", &e, "an empty file"))
		is_int(cfg.max_rows, 1000, "an empty file keeps the defaults");
	done(&cfg, &e);
	load_ok(&cfg, "# only a comment\n\n", &e, "a file of comments");
	done(&cfg, &e);
	load_ok(&cfg, "tools:\n", &e, "an empty tools: section");
	done(&cfg, &e);
	load_ok(&cfg, "tools: {}\n", &e, "tools: {}");
	done(&cfg, &e);
	/* A section whose keys are all commented out, as after editing conf/pgmcp.yaml. */
	load_ok(&cfg, "limits:\n  # max_rows: 10\nlog:\n  # level: debug\n", &e,
	    "sections with every key commented out");
	done(&cfg, &e);

	/* YAML syntax errors name the line and column. */
	load(&cfg, "access: read_only\nlimits: a: b\n", NULL, 0, NULL, &e);
	{
		char want[200];

		snprintf(want, sizeof(want), "%s:2:10: YAML syntax error", path);
		is_int(e.count, 1, "YAML syntax error: one error");
		like(errtext(&e), want, "YAML syntax error names line:col");
	}
	done(&cfg, &e);
	load(&cfg, "limits:\n  max_rows: 10\n page_size: 5\n", NULL, 0, NULL, &e);
	{
		char want[200];

		snprintf(want, sizeof(want), "%s:3:", path);
		ok(e.count == 1 && strstr(errtext(&e), "YAML syntax error") != NULL,
		    "bad indentation is a YAML syntax error");
		like(errtext(&e), want, "bad indentation error names line 3");
	}
	done(&cfg, &e);
	load(&cfg, "database:\n  dsn: \"unterminated\n", NULL, 0, NULL, &e);
	ok(e.count == 1 && strstr(errtext(&e), "YAML syntax error") != NULL,
	    "an unterminated quote is a YAML syntax error");
	done(&cfg, &e);
}

static void
test_precedence(void)
{
	static const char *const set30[] = { "limits.max_rows=30" };
	static const char *const badsets[] = { "nosuch.key=1", "limits.page_size=abc", "novalue" };
	static const char *const setdsn[] = { "database.dsn=host=sethost" };
	struct config cfg;
	struct conf_errors e;

	load(&cfg, "limits:\n  max_rows: 10\n", NULL, 0, NULL, &e);
	is_int(cfg.max_rows, 10, "the file beats the default");
	done(&cfg, &e);
	setenv("PGMCP_LIMITS_MAX_ROWS", "20", 1);
	load(&cfg, "limits:\n  max_rows: 10\n", NULL, 0, NULL, &e);
	is_int(cfg.max_rows, 20, "PGMCP_LIMITS_MAX_ROWS beats the file");
	done(&cfg, &e);
	load(&cfg, "limits:\n  max_rows: 10\n", set30, 1, NULL, &e);
	is_int(cfg.max_rows, 30, "--set beats the environment");
	done(&cfg, &e);
	setenv("PGMCP_LIMITS_MAX_ROWS", "abc", 1);
	load(&cfg, NULL, NULL, 0, NULL, &e);
	ok(e.count == 1, "a bad environment value is an error");
	like(errtext(&e), "PGMCP_LIMITS_MAX_ROWS: limits.max_rows: expected an integer",
	    "the environment error names the variable and key");
	done(&cfg, &e);
	unsetenv("PGMCP_LIMITS_MAX_ROWS");
	setenv("PGMCP_ACCESS", "read_write", 1);
	setenv("PGMCP_LIMITS_STATEMENT_TIMEOUT", "2s", 1);
	load(&cfg, "access: read_only\n", NULL, 0, NULL, &e);
	ok(cfg.access == ACCESS_READ_WRITE && cfg.statement_timeout_ms == 2000,
	    "PGMCP_ACCESS and PGMCP_LIMITS_STATEMENT_TIMEOUT apply");
	done(&cfg, &e);
	unsetenv("PGMCP_ACCESS");
	unsetenv("PGMCP_LIMITS_STATEMENT_TIMEOUT");

	load(&cfg, NULL, badsets, 3, NULL, &e);
	is_int(e.count, 3, "three bad --set values, three errors");
	like(errtext(&e), "command line: nosuch.key: unknown setting", "--set unknown key");
	like(errtext(&e), "command line: limits.page_size: expected an integer", "--set bad value");
	like(errtext(&e), "command line: novalue", "--set without =");
	done(&cfg, &e);

	/* DSN sources. */
	load(&cfg, "database:\n  dsn: host=filehost\n", NULL, 0, NULL, &e);
	is_str(cfg.dsn, "host=filehost", "dsn from the file");
	done(&cfg, &e);
	setenv("PGMCP_DATABASE_DSN", "host=pgmcphost", 1);
	load(&cfg, "database:\n  dsn: host=filehost\n", NULL, 0, NULL, &e);
	ok(strcmp(cfg.dsn, "host=pgmcphost") == 0 && strcmp(cfg.dsn_origin, "PGMCP_DATABASE_DSN") == 0,
	    "PGMCP_DATABASE_DSN beats the file");
	done(&cfg, &e);
	setenv("PG_CONNECTION_STRING", "host=pgcshost", 1);
	load(&cfg, "database:\n  dsn: host=filehost\n", NULL, 0, NULL, &e);
	ok(strcmp(cfg.dsn, "host=pgcshost") == 0 && strcmp(cfg.dsn_origin, "PG_CONNECTION_STRING") == 0,
	    "PG_CONNECTION_STRING beats PGMCP_DATABASE_DSN and the file");
	done(&cfg, &e);
	setenv("DATABASE_URL", "", 1);
	load(&cfg, NULL, NULL, 0, NULL, &e);
	is_str(cfg.dsn, "host=pgcshost", "an empty DATABASE_URL is ignored");
	done(&cfg, &e);
	setenv("DATABASE_URL", "postgresql://urlhost/db", 1);
	load(&cfg, "database:\n  dsn: host=filehost\n", NULL, 0, NULL, &e);
	ok(strcmp(cfg.dsn, "postgresql://urlhost/db") == 0 && strcmp(cfg.dsn_origin, "DATABASE_URL") == 0,
	    "DATABASE_URL beats PG_CONNECTION_STRING");
	done(&cfg, &e);
	load(&cfg, NULL, setdsn, 1, NULL, &e);
	ok(strcmp(cfg.dsn, "host=sethost") == 0 && strcmp(cfg.dsn_origin, "the command line") == 0,
	    "--set database.dsn beats DATABASE_URL");
	done(&cfg, &e);
	load(&cfg, "database:\n  dsn: host=filehost\n", setdsn, 1, "host=arghost", &e);
	ok(strcmp(cfg.dsn, "host=arghost") == 0 && strcmp(cfg.dsn_origin, "the command line") == 0,
	    "the dsn argument beats everything");
	done(&cfg, &e);
	unsetenv("DATABASE_URL");
	unsetenv("PG_CONNECTION_STRING");
	unsetenv("PGMCP_DATABASE_DSN");

	load(&cfg, NULL, NULL, 0, "password=hunter2 bogus=1", &e);
	is_int(e.count, 1, "an invalid connection string is an error");
	like(errtext(&e), "not a valid connection string", "the error says so");
	unlike(errtext(&e), "hunter2", "the error does not show the password");
	done(&cfg, &e);
}

static void
redact(const char *dsn, const char *want, const char *name)
{
	char *r = config_redact_dsn(dsn);

	is_str(r, want, "config_redact_dsn: %s", name);
	free(r);
}

static void
test_redact(void)
{
	char *r;

	r = config_redact_dsn("postgresql://alice:s3cret@db.example:5433/app?sslmode=require");
	unlike(r, "s3cret", "URL: the password is gone");
	like(r, "password=********", "URL: the password is masked");
	like(r, "user=alice", "URL: the user stays");
	like(r, "host=db.example", "URL: the host stays");
	like(r, "port=5433", "URL: the port stays");
	like(r, "dbname=app", "URL: the database stays");
	like(r, "sslmode=require", "URL: options stay");
	free(r);
	r = config_redact_dsn("host=h user=bob password='two words' dbname=d");
	unlike(r, "two", "key=value: the quoted password is gone");
	unlike(r, "words", "key=value: all of it");
	like(r, "password=********", "key=value: the password is masked");
	like(r, "user=bob", "key=value: the user stays");
	free(r);
	r = config_redact_dsn("postgres://u:p%40ss@h/d");
	ok(strstr(r, "p%40ss") == NULL && strstr(r, "p@ss") == NULL, "URL: an escaped password is gone");
	free(r);
	r = config_redact_dsn("host=h dbname=d");
	like(r, "host=h", "no password: the host stays");
	like(r, "dbname=d", "no password: the database stays");
	unlike(r, "*", "no password: nothing masked");
	free(r);
	redact("", "", "an empty string");
	redact("host='unterminated", "(unparsable connection string)", "an unparsable string");
	r = config_redact_dsn("bogus=1 password=x");
	unlike(r, "password=x", "unknown keyword: the password is not echoed");
	free(r);
}

static void
test_tools_section(void)
{
	struct config cfg;
	struct conf_errors e;

	load_error("tools:\n  explain:\n    enabled: maybe\n", 3, 14, "tools.explain.enabled",
	    "expected true or false", "tools: a bad enabled value");
	load_error("tools:\n  query:\n    visible: no\n", 3, 5, "tools.query.visible",
	    "unknown setting", "tools: an unknown tool key");
	load_error("tools:\n  query: false\n", 2, 10, "tools.query", "expected a mapping",
	    "tools: a tool that is not a mapping");
	load_error("tools: [query]\n", 1, 8, "tools", "expected a mapping", "tools: a list");
	load_error("tools:\n  query:\n    enabled:\n      x: 1\n", 4, 7, "tools.query.enabled",
	    "got a mapping", "tools: a mapping for enabled");

	load(&cfg, "tools:\n  explain:\n    enabled: false\n  explain:\n    enabled: true\n",
	    NULL, 0, NULL, &e);
	ok(config_tool_enabled(&cfg, "explain", false), "tools: the last setting for a name wins");
	done(&cfg, &e);
	load(&cfg, "tools:\n  describe_table: { enabled: off }\n", NULL, 0, NULL, &e);
	ok(e.count == 0 && !config_tool_enabled(&cfg, "describe_table", true),
	    "tools: flow style enabled: off");
	done(&cfg, &e);
}

int
main(void)
{
	plan(189);
	clean_environment();
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/pgmcp-test-conf-XXXXXX");
	if (mkdtemp(tmpdir) == NULL) {
		diag("mkdtemp failed");
		return 2;
	}
	snprintf(path, sizeof(path), "%s/pgmcp.yaml", tmpdir);

	test_defaults();
	test_every_key();
	test_errors();
	test_expansion();
	test_files();
	test_precedence();
	test_redact();
	test_tools_section();

	unlink(path);
	rmdir(tmpdir);
	return done_testing();
}
