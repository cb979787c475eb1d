/* main.c: command line, configuration layering, and the choice of mode. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "db.h"
#include "exitcode.h"
#include "framed.h"
#include "guard.h"
#include "handlers.h"
#include "log.h"
#include "util.h"

static const char USAGE[] =
"Usage: pgmcp [OPTIONS] [DSN]\n"
"\n"
"pgmcp is a Model Context Protocol (MCP) server for PostgreSQL. It gives an AI assistant\n"
"tools to explore and query a database safely: read-only by default, enforced by\n"
"PostgreSQL's own parser, READ ONLY transactions and per-call limits.\n"
"\n"
"Modes:\n"
"  pgmcp --stdio [DSN]         Serve one MCP session on stdin/stdout (desktop clients,\n"
"                              scripts, inetd-style activation). Logs go to stderr.\n"
"  pgmcp DSN                   The same: a drop-in for `server-postgres URL`.\n"
"  pgmcp --check-config -c F   Validate the configuration file F and exit.\n"
"\n"
"Options:\n"
"  -c, --config FILE       YAML configuration (reference: conf/pgmcp.yaml).\n"
"      --stdio             Serve one session on stdin/stdout (the default mode).\n"
"      --dsn DSN           PostgreSQL connection string or URL (also the positional DSN).\n"
"      --access MODE       read_only (default) or read_write (adds the execute tool).\n"
"      --read-write        Same as --access read_write.\n"
"      --set KEY=VALUE     Override any configuration key, e.g. --set limits.max_rows=200.\n"
"                          May be repeated.\n"
"      --log-level LEVEL   debug, info, notice, warning or error (default info).\n"
"  -t, --check-config      Check the configuration, print \"configuration OK\" or each\n"
"                          error as file:line:col: key: problem, and exit 0 or 1.\n"
"  -h, --help              Show this help and exit.\n"
"  -V, --version           Show the version and exit.\n"
"\n"
"Connection string, first found wins:\n"
"  --dsn or the DSN argument; DATABASE_URL; PG_CONNECTION_STRING; PGMCP_DATABASE_DSN;\n"
"  database.dsn in the file. libpq fills in whatever it leaves out from the standard PG*\n"
"  variables (PGHOST, PGPORT, PGDATABASE, PGUSER, PGPASSWORD, PGSERVICE, ...) and\n"
"  ~/.pgpass. Passwords are never logged.\n"
"\n"
"Settings: command line > environment (PGMCP_<KEY>, e.g. PGMCP_LIMITS_MAX_ROWS=200,\n"
"PGMCP_ACCESS=read_write) > configuration file > built-in defaults.\n"
"\n"
"Tools: query, list_schemas, list_tables, describe_table, explain, list_extensions,\n"
"database_info, and execute in read_write mode. Resources: pgmcp://tables/{schema}/{table}.\n"
"\n"
"Examples:\n"
"  pgmcp --stdio postgresql://reader@localhost/shop\n"
"  DATABASE_URL=postgres:///shop pgmcp --stdio --set limits.statement_timeout=10s\n"
"  pgmcp --check-config -c /etc/pgmcp/pgmcp.yaml\n"
"\n"
"Exit status: 0 normal end of input, 1 configuration error, 2 usage error.\n"
"Documentation: man pgmcp, README.md.\n";

enum {
	OPT_STDIO = 256, OPT_DSN, OPT_ACCESS, OPT_READ_WRITE, OPT_SET, OPT_LOG_LEVEL,
};

static const struct option long_options[] = {
	{ "config", required_argument, NULL, 'c' },
	{ "stdio", no_argument, NULL, OPT_STDIO },
	{ "dsn", required_argument, NULL, OPT_DSN },
	{ "access", required_argument, NULL, OPT_ACCESS },
	{ "read-write", no_argument, NULL, OPT_READ_WRITE },
	{ "set", required_argument, NULL, OPT_SET },
	{ "log-level", required_argument, NULL, OPT_LOG_LEVEL },
	{ "check-config", no_argument, NULL, 't' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

static void usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2), __noreturn__));

static void
usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "pgmcp: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'pgmcp --help' for more information.\n");
	exit(EXIT_USAGE);
}

/* Tool names in the file must exist: a typo should not silently leave a tool enabled. */
static int
check_tool_names(const struct config *cfg, struct conf_errors *errors)
{
	int bad = 0;

	for (size_t i = 0; i < cfg->n_tools; i++) {
		if (tools_is_known(cfg->tools[i].name))
			continue;
		buf_printf(&errors->text, "%s:%zu:%zu: tools.%s: unknown tool (built-in tools: query, "
		    "execute, list_schemas, list_tables, describe_table, explain, list_extensions, "
		    "database_info)\n", cfg->file ? cfg->file : "(config)", cfg->tools[i].line,
		    cfg->tools[i].column, cfg->tools[i].name);
		errors->count++;
		bad++;
	}
	return bad;
}

int
main(int argc, char **argv)
{
	const char *config_file = NULL, *dsn = NULL;
	const char **sets = xcalloc((size_t)argc + 2, sizeof(char *));
	size_t n_sets = 0;
	bool check_only = false;
	struct conf_errors errors = { BUF_INIT, 0 };
	struct config cfg;
	struct db *db;
	int opt, rc;

	log_init("pgmcp", LOG_LEVEL_INFO, LOG_FORMAT_LOGFMT);
	while ((opt = getopt_long(argc, argv, "c:thV", long_options, NULL)) != -1) {
		switch (opt) {
		case 'c':
			config_file = optarg;
			break;
		case OPT_STDIO:
			break;
		case OPT_DSN:
			dsn = optarg;
			break;
		case OPT_ACCESS:
			sets[n_sets++] = strcmp(optarg, "read_write") == 0 ? "access=read_write" :
			    strcmp(optarg, "read_only") == 0 ? "access=read_only" : NULL;
			if (sets[n_sets - 1] == NULL)
				usage_error("--access must be read_only or read_write, not \"%s\"", optarg);
			break;
		case OPT_READ_WRITE:
			sets[n_sets++] = "access=read_write";
			break;
		case OPT_SET:
			if (strchr(optarg, '=') == NULL || optarg[0] == '=')
				usage_error("--set takes KEY=VALUE, got \"%s\"", optarg);
			sets[n_sets++] = optarg;
			break;
		case OPT_LOG_LEVEL: {
			static char level[64];

			snprintf(level, sizeof(level), "log.level=%s", optarg);
			sets[n_sets++] = level;
			break;
		}
		case 't':
			check_only = true;
			break;
		case 'h':
			fputs(USAGE, stdout);
			free(sets);
			return EXIT_NORMAL;
		case 'V':
			printf("pgmcp %s\n", PGMCP_VERSION);
			free(sets);
			return EXIT_NORMAL;
		default:
			fprintf(stderr, "Try 'pgmcp --help' for more information.\n");
			free(sets);
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		if (dsn != NULL || optind + 1 < argc)
			usage_error("unexpected argument \"%s\" (give one DSN)", argv[optind + (dsn ? 0 : 1)]);
		dsn = argv[optind];
	}

	config_load(&cfg, config_file, sets, n_sets, dsn, &errors);
	check_tool_names(&cfg, &errors);
	free(sets);
	if (errors.count > 0) {
		fputs(buf_cstr(&errors.text), stderr);
		fprintf(stderr, "pgmcp: %d configuration error%s\n", errors.count,
		    errors.count == 1 ? "" : "s");
		conf_errors_free(&errors);
		config_free(&cfg);
		return EXIT_CONFIG;
	}
	conf_errors_free(&errors);
	if (check_only) {
		printf("configuration OK\n");
		config_free(&cfg);
		return EXIT_NORMAL;
	}
	log_set_level((enum log_level)cfg.log_level);
	log_set_format((enum log_format)cfg.log_format);
	if (cfg.log_file != NULL && cfg.log_file[0] != '\0' && log_open_file(cfg.log_file) < 0) {
		fprintf(stderr, "pgmcp: cannot open log.file %s: %s\n", cfg.log_file, strerror(errno));
		config_free(&cfg);
		return EXIT_CONFIG;
	}
	signal(SIGPIPE, SIG_IGN);
	if (isatty(STDIN_FILENO))
		fprintf(stderr, "pgmcp: serving MCP (newline-delimited JSON-RPC) on stdin/stdout; "
		    "end with Ctrl-D. See pgmcp --help.\n");

	db = db_new(&cfg);
	db_connect_start(db);	/* the handshake proceeds while the client initializes */
	rc = framed_serve(&cfg, db, STDIN_FILENO, STDOUT_FILENO, NULL, 0);
	db_free(db);
	guard_shutdown();
	config_free(&cfg);
	return rc == 0 ? EXIT_NORMAL : EXIT_SICK;
}
