/* main.c: command line, configuration layering, and the choice of mode. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "audit.h"
#include "config.h"
#include "daemon.h"
#include "db.h"
#include "exitcode.h"
#include "framed.h"
#include "guard.h"
#include "handlers.h"
#include "log.h"
#include "policy.h"
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
"                              scripts). Logs go to stderr. When stdin and stdout are one\n"
"                              socket (inetd, systemd Accept=yes) that connection is served:\n"
"                              framed JSON-RPC or HTTP, told apart by its first bytes.\n"
"  pgmcp DSN                   The same: a drop-in for `server-postgres URL`.\n"
"  pgmcp -c F | --listen A     The daemon: a master binds the listeners (or takes systemd's\n"
"                              LISTEN_FDS) and preforks workers serving Streamable HTTP at\n"
"                              /mcp, legacy SSE at /sse, framed JSON-RPC, /healthz, /readyz\n"
"                              and /metrics. Runs in the foreground (systemd, containers).\n"
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
"      --listen ADDR       Listen on host:port, [ipv6]:port or unix:/path (repeatable;\n"
"                          replaces listen: in the file).\n"
"      --workers N         Worker processes (default 4).\n"
"      --single            Daemon with one worker and no master, for debugging.\n"
"  -F, --foreground        Accepted for compatibility; pgmcp never detaches.\n"
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
"database_info, top_queries, health, active_queries, and execute in read_write mode.\n"
"Resources: pgmcp://tables/{schema}/{table}. audit.file keeps a JSON line per tool call.\n"
"\n"
"Signals (daemon): HUP reloads the file (a new generation of workers; an invalid file\n"
"keeps the old one), TERM drains requests in flight then stops, INT stops fast, QUIT\n"
"stops at once, USR1 reopens log and audit files. With --stdio, USR1 reopens the audit file.\n"
"\n"
"Examples:\n"
"  pgmcp --stdio postgresql://reader@localhost/shop\n"
"  pgmcp --listen 127.0.0.1:8080 --workers 4 postgresql://reader@localhost/shop\n"
"  DATABASE_URL=postgres:///shop pgmcp --stdio --set limits.statement_timeout=10s\n"
"  pgmcp --check-config -c /etc/pgmcp/pgmcp.yaml\n"
"\n"
"Exit status: 0 normal end (of input, or after a signal), 1 configuration error, 2 usage\n"
"error.\n"
"Documentation: man pgmcp, README.md.\n";

enum {
	OPT_STDIO = 256, OPT_DSN, OPT_ACCESS, OPT_READ_WRITE, OPT_SET, OPT_LOG_LEVEL, OPT_LISTEN,
	OPT_WORKERS, OPT_SINGLE,
};

static const struct option long_options[] = {
	{ "config", required_argument, NULL, 'c' },
	{ "stdio", no_argument, NULL, OPT_STDIO },
	{ "dsn", required_argument, NULL, OPT_DSN },
	{ "access", required_argument, NULL, OPT_ACCESS },
	{ "read-write", no_argument, NULL, OPT_READ_WRITE },
	{ "set", required_argument, NULL, OPT_SET },
	{ "log-level", required_argument, NULL, OPT_LOG_LEVEL },
	{ "listen", required_argument, NULL, OPT_LISTEN },
	{ "workers", required_argument, NULL, OPT_WORKERS },
	{ "single", no_argument, NULL, OPT_SINGLE },
	{ "foreground", no_argument, NULL, 'F' },
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

static void
apply_logging(const struct config *cfg)
{
	log_set_level((enum log_level)cfg->log_level);
	log_set_format((enum log_format)cfg->log_format);
	if (cfg->log_file != NULL && cfg->log_file[0] != '\0' && log_open_file(cfg->log_file) < 0) {
		fprintf(stderr, "pgmcp: cannot open log.file %s: %s\n", cfg->log_file, strerror(errno));
		exit(EXIT_CONFIG);
	}
}

/* stdio mode has no master to forward USR1: the handler only asks the audit log to reopen. */
static void
on_usr1(int sig)
{
	int saved = errno;

	(void)sig;
	audit_request_reopen();
	errno = saved;
}

/* One session on stdin/stdout. A socket on stdin (inetd, systemd Accept=yes) may speak HTTP. */
static int
run_stdio(struct config *cfg)
{
	struct stat in, out;
	struct db *db;
	int rc = 0;

	if (isatty(STDIN_FILENO))
		fprintf(stderr, "pgmcp: serving MCP (newline-delimited JSON-RPC) on stdin/stdout; "
		    "end with Ctrl-D. See pgmcp --help.\n");
	/* inetd and systemd Accept=yes hand us the connection as both stdin and stdout; a parent
	 * that merely uses socketpairs for our stdio (Node does) has two different sockets. */
	if (fstat(STDIN_FILENO, &in) == 0 && S_ISSOCK(in.st_mode)) {
		int listening = 0;
		socklen_t len = sizeof(listening);

		if (getsockopt(STDIN_FILENO, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) == 0 &&
		    listening) {
			log_error("stdin is a listening socket (inetd \"wait\" or systemd Accept=no): "
			    "--stdio serves one connection; use inetd \"nowait\" / Accept=yes, or run "
			    "the daemon (pgmcp -c FILE), which adopts systemd's LISTEN_FDS");
			return EXIT_CONFIG;
		}
	}
	if (fstat(STDIN_FILENO, &in) == 0 && fstat(STDOUT_FILENO, &out) == 0 &&
	    S_ISSOCK(in.st_mode) && in.st_ino == out.st_ino && in.st_dev == out.st_dev) {
		struct daemon d = { .cfg = cfg };

		/* The connection itself: framed JSON-RPC or one HTTP connection, sniffed. */
		fcntl(STDIN_FILENO, F_SETFL, fcntl(STDIN_FILENO, F_GETFL) | O_NONBLOCK);
		return worker_serve_fd(&d, STDIN_FILENO);
	}
	{
		struct sigaction sa;

		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_usr1;
		sa.sa_flags = SA_RESTART;
		sigemptyset(&sa.sa_mask);
		sigaction(SIGUSR1, &sa, NULL);
	}
	db = db_new(cfg);
	db_connect_start(db);	/* the handshake proceeds while the client initializes */
	rc = framed_serve(cfg, db, STDIN_FILENO, STDOUT_FILENO, NULL, 0, NULL);
	db_free(db);
	return rc == 0 ? EXIT_NORMAL : EXIT_SICK;
}

int
main(int argc, char **argv)
{
	const char **sets = xcalloc((size_t)argc + 2, sizeof(char *));
	const char **listen = xcalloc((size_t)argc + 2, sizeof(char *));
	struct config_source src = { 0 };
	struct config *cfg = xcalloc(1, sizeof(*cfg));
	bool check_only = false, stdio_mode = false, single = false;
	struct daemon d;
	int opt, rc;
	int64_t n;

	log_init("pgmcp", LOG_LEVEL_INFO, LOG_FORMAT_LOGFMT);
	src.sets = sets;
	src.listen = listen;
	while ((opt = getopt_long(argc, argv, "c:tFhV", long_options, NULL)) != -1) {
		switch (opt) {
		case 'c':
			src.file = optarg;
			break;
		case OPT_STDIO:
			stdio_mode = true;
			break;
		case OPT_DSN:
			src.dsn = optarg;
			break;
		case OPT_ACCESS:
			if (strcmp(optarg, "read_write") != 0 && strcmp(optarg, "read_only") != 0)
				usage_error("--access must be read_only or read_write, not \"%s\"", optarg);
			sets[src.n_sets++] = strcmp(optarg, "read_write") == 0 ? "access=read_write" :
			    "access=read_only";
			break;
		case OPT_READ_WRITE:
			sets[src.n_sets++] = "access=read_write";
			break;
		case OPT_SET:
			if (strchr(optarg, '=') == NULL || optarg[0] == '=')
				usage_error("--set takes KEY=VALUE, got \"%s\"", optarg);
			sets[src.n_sets++] = optarg;
			break;
		case OPT_LOG_LEVEL: {
			static char level[64];

			snprintf(level, sizeof(level), "log.level=%s", optarg);
			sets[src.n_sets++] = level;
			break;
		}
		case OPT_LISTEN:
			listen[src.n_listen++] = optarg;
			break;
		case OPT_WORKERS:
			if (parse_int64(optarg, &n) < 0 || n < 1 || n > SB_MAX_SLOTS)
				usage_error("--workers takes a number from 1 to %d, got \"%s\"", SB_MAX_SLOTS,
				    optarg);
			src.workers = n;
			break;
		case OPT_SINGLE:
			single = true;
			break;
		case 'F':
			break;	/* always in the foreground: systemd and containers want that */
		case 't':
			check_only = true;
			break;
		case 'h':
			fputs(USAGE, stdout);
			rc = EXIT_NORMAL;
			goto leave;
		case 'V':
			printf("pgmcp %s\n", PGMCP_VERSION);
			rc = EXIT_NORMAL;
			goto leave;
		default:
			fprintf(stderr, "Try 'pgmcp --help' for more information.\n");
			rc = EXIT_USAGE;
			goto leave;
		}
	}
	if (optind < argc) {
		if (src.dsn != NULL || optind + 1 < argc)
			usage_error("unexpected argument \"%s\" (give one DSN)",
			    argv[optind + (src.dsn ? 0 : 1)]);
		src.dsn = argv[optind];
	}
	rc = daemon_load_config(&src, cfg, false) > 0 ? EXIT_CONFIG : EXIT_NORMAL;
	if (rc != EXIT_NORMAL || check_only) {
		if (rc == EXIT_NORMAL)
			printf("configuration OK\n");
		config_free(cfg);
		goto leave;
	}
	apply_logging(cfg);
	{
		char why[512];

		if (!audit_check(cfg, why, sizeof(why))) {
			fprintf(stderr, "pgmcp: %s\n", why);
			config_free(cfg);
			rc = EXIT_CONFIG;
			goto leave;
		}
	}
	policy_install(&cfg->policies);
	signal(SIGPIPE, SIG_IGN);

	memset(&d, 0, sizeof(d));
	d.cfg = cfg;
	d.src = src;
	d.single = single;
	if (!stdio_mode) {
		struct buf err = BUF_INIT;
		int adopted = listeners_adopt_systemd(&d.ls, &err);

		if (adopted < 0) {
			fprintf(stderr, "pgmcp: %s\n", buf_cstr(&err));
			buf_free(&err);
			config_free(cfg);
			rc = EXIT_CONFIG;
			goto leave;
		}
		if (adopted > 0 && cfg->n_listen > 0)
			log_warnx("using %d sockets from systemd (LISTEN_FDS); listen: is ignored", adopted);
		if (adopted == 0 && cfg->n_listen > 0 && listeners_open(cfg, &d.ls, &err) < 0) {
			fprintf(stderr, "pgmcp: %s\n", buf_cstr(&err));
			buf_free(&err);
			config_free(cfg);
			rc = EXIT_CONFIG;
			goto leave;
		}
		buf_free(&err);
		if (d.ls.n == 0 && getenv("NOTIFY_SOCKET") != NULL) {
			/* A systemd service with nothing to listen on would serve a closed stdin. */
			fprintf(stderr, "pgmcp: nothing to listen on: the configuration has no listen: "
			    "entries and systemd passed no sockets (LISTEN_FDS); add listen: or --listen, "
			    "or use --stdio for one session\n");
			config_free(cfg);
			rc = EXIT_CONFIG;
			goto leave;
		}
	}
	if (stdio_mode || d.ls.n == 0) {
		rc = run_stdio(cfg);
	} else if (single) {
		worker_serve_single(&d);
	} else {
		rc = master_run(&d);
		listeners_close(&d.ls, true);
	}
	audit_shutdown();
	guard_shutdown();
	config_free(d.cfg);
	free(d.cfg);
	free(sets);
	free(listen);
	return rc;
leave:	/* before anything was started */
	free(cfg);
	free(sets);
	free(listen);
	return rc;
}
