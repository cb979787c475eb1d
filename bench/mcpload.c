/*
 * mcpload.c: a small load generator for MCP servers over stdio or Streamable HTTP, cheap
 * enough that it never limits what it measures (bench/run checks that against the null
 * servers below). One thread per client, blocking I/O, one write per request, no JSON
 * parser: a response is recognised by its "id".
 *
 *   mcpload [options] stdio -- server argv...   spawn one server per client, on pipes
 *   mcpload [options] http URL                  one keep-alive connection (and MCP session)
 *                                               per client, POST URL (http://host:port/path)
 *   mcpload [options] cold -- server argv...    spawn, initialize, tools/list, one query;
 *                                               prints the three times since spawn
 *   mcpload null                                a null MCP server on stdin/stdout: answers
 *                                               every request at once, no database
 *   mcpload null-http PORT                      the same over HTTP on 127.0.0.1:PORT
 *
 * Options:
 *   -n N     timed calls per client (default 2000)
 *   -d SECS  run for SECS seconds instead (all clients start together)
 *   -w N     warm-up calls per client before timing (default 200)
 *   -c N     concurrent clients (default 1)
 *   -s SQL   statement; every %d becomes the call's key (default: a primary-key lookup
 *            on pgbench_accounts)
 *   -k N     keys are drawn uniformly from 1..N (default 1000000)
 *   -P       pass the key in "params": ["<key>"] (the SQL then says $1), not in the text
 *   -t TOOL  tool name (default query); -a NAME: the SQL argument's name (default sql)
 *   -x STR   a response without STR counts as an error (default: none required)
 *   -o FILE  write the last response of client 0 to FILE (for checking it, bytes per row)
 *
 * Output: one JSON line on stdout: calls, errors, elapsed_s, calls_per_s, p50_ms, p99_ms,
 * mean_ms, max_ms, resp_bytes_mean, init_ms (per client), pids, and for stdio the server's
 * rss_init_kib (VmRSS after initialize) and rss_peak_kib (VmHWM at the end) per client.
 * Errors (JSON-RPC errors, isError results, missing -x text) are counted, never fatal;
 * a server that stops answering is fatal (exit 1).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define PROTOCOL "2025-06-18"
#define DEFAULT_SQL "SELECT abalance FROM pgbench_accounts WHERE aid = %d"

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void
die(const char *fmt, ...)
{
	va_list ap;

	fputs("mcpload: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static void *
xrealloc(void *p, size_t n)
{
	p = realloc(p, n);
	if (p == NULL)
		die("out of memory");
	return p;
}

/* ------------------------------------------------------------------------------ options */

static int opt_calls = 2000, opt_warm = 200, opt_clients = 1, opt_params;
static double opt_secs;
static long opt_keys = 1000000;
static const char *opt_sql = DEFAULT_SQL, *opt_tool = "query", *opt_arg = "sql", *opt_expect;
static const char *opt_out;
static char **server_argv;
static char http_host[256], http_port[16], http_path[512];

/* ------------------------------------------------------------------------------ buffers */

struct buf {
	char *p;
	size_t len, cap;
};

static void
buf_reserve(struct buf *b, size_t extra)
{
	if (b->len + extra + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 65536;

		while (b->len + extra + 1 > cap)
			cap *= 2;
		b->p = xrealloc(b->p, cap);
		b->cap = cap;
	}
}

static void
buf_add(struct buf *b, const char *s, size_t n)
{
	buf_reserve(b, n);
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	buf_reserve(b, (size_t)n);
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

static void
buf_consume(struct buf *b, size_t n)
{
	memmove(b->p, b->p + n, b->len - n);
	b->len -= n;
	if (b->p)
		b->p[b->len] = '\0';
}

/* Appends s as the inside of a JSON string. */
static void
buf_json_str(struct buf *b, const char *s)
{
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			buf_add(b, "\\", 1);
		if ((unsigned char)*s < 0x20)
			buf_printf(b, "\\u%04x", *s);
		else
			buf_add(b, s, 1);
	}
}

/* ------------------------------------------------------------------------------ clients */

struct client {
	int idx;
	pthread_t thread;
	/* stdio */
	pid_t pid;
	int to, from;
	/* http */
	int sock;
	char session[256];
	/* both */
	struct buf in, req, sql, body;
	uint64_t rng;
	long next_id;
	double init_ms;
	long rss_init_kib, rss_peak_kib;
	double *lat;
	size_t nlat, caplat;
	long errors, warm_errors;
	double resp_bytes;
	const char *fatal;
};

static pthread_barrier_t barrier, barrier_go;
static volatile double t_start, t_deadline;

static long
rng_key(struct client *c)
{
	c->rng ^= c->rng << 13;
	c->rng ^= c->rng >> 7;
	c->rng ^= c->rng << 17;
	return (long)(c->rng % (uint64_t)opt_keys) + 1;
}

static long
proc_status_kib(pid_t pid, const char *field)
{
	char path[64], line[256];
	size_t flen = strlen(field);
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, field, flen) == 0 && line[flen] == ':') {
			v = atol(line + flen + 1);
			break;
		}
	fclose(f);
	return v;
}

static int
write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Reads more bytes into b; 0 on EOF or error. */
static int
fill(int fd, struct buf *b)
{
	ssize_t r;

	buf_reserve(b, 65536);
	do
		r = read(fd, b->p + b->len, b->cap - b->len - 1);
	while (r < 0 && errno == EINTR);
	if (r <= 0)
		return 0;
	b->len += (size_t)r;
	b->p[b->len] = '\0';
	return 1;
}

/* Does the message (n bytes at p) carry "id":<id> (with or without a space)? */
static int
has_id(const char *p, size_t n, long id)
{
	char w1[40], w2[40];
	int l1 = snprintf(w1, sizeof(w1), "\"id\":%ld", id), l2 = snprintf(w2, sizeof(w2),
	    "\"id\": %ld", id);
	const char *q;

	for (q = p; (q = memmem(q, n - (size_t)(q - p), w1, (size_t)l1)) != NULL; q += l1)
		if (q + l1 < p + n && (q[l1] == ',' || q[l1] == '}' || q[l1] == ' '))
			return 1;
	for (q = p; (q = memmem(q, n - (size_t)(q - p), w2, (size_t)l2)) != NULL; q += l2)
		if (q + l2 < p + n && (q[l2] == ',' || q[l2] == '}' || q[l2] == ' '))
			return 1;
	return 0;
}

static int
is_rpc_error(const char *p, size_t n)
{
	return memmem(p, n, "\"error\":{", 9) != NULL || memmem(p, n, "\"error\": {", 10) != NULL;
}

static int
is_error(const char *p, size_t n)
{
	return memmem(p, n, "\"isError\":true", 14) != NULL ||
	    memmem(p, n, "\"isError\": true", 15) != NULL ||
	    memmem(p, n, "\"error\":{", 9) != NULL || memmem(p, n, "\"error\": {", 10) != NULL ||
	    (opt_expect != NULL && memmem(p, n, opt_expect, strlen(opt_expect)) == NULL);
}

/* Builds the JSON-RPC request for method/params (params may be NULL) in c->req. */
static void
build_rpc(struct client *c, long id, const char *method, const char *params)
{
	c->req.len = 0;
	if (id >= 0)
		buf_printf(&c->req, "{\"jsonrpc\":\"2.0\",\"id\":%ld,\"method\":\"%s\"", id, method);
	else
		buf_printf(&c->req, "{\"jsonrpc\":\"2.0\",\"method\":\"%s\"", method);
	if (params)
		buf_printf(&c->req, ",\"params\":%s", params);
	buf_add(&c->req, "}", 1);
}

static void
build_call(struct client *c, long id)
{
	long key = rng_key(c);
	char num[32];
	const char *s;

	c->sql.len = 0;
	snprintf(num, sizeof(num), "%ld", key);
	for (s = opt_sql; *s; s++) {
		if (s[0] == '%' && s[1] == 'd') {
			buf_add(&c->sql, num, strlen(num));
			s++;
		} else
			buf_add(&c->sql, s, 1);
	}
	c->req.len = 0;
	buf_printf(&c->req, "{\"jsonrpc\":\"2.0\",\"id\":%ld,\"method\":\"tools/call\",\"params\":"
	    "{\"name\":\"%s\",\"arguments\":{\"%s\":\"", id, opt_tool, opt_arg);
	buf_json_str(&c->req, c->sql.p);
	if (opt_params)
		buf_printf(&c->req, "\",\"params\":[\"%ld\"]}}}", key);
	else
		buf_add(&c->req, "\"}}}", 4);
}

static const char INIT_PARAMS[] = "{\"protocolVersion\":\"" PROTOCOL "\",\"capabilities\":{},"
    "\"clientInfo\":{\"name\":\"mcpload\",\"version\":\"1\"}}";

/* --- stdio: newline-delimited JSON-RPC on pipes */

static void
stdio_spawn(struct client *c)
{
	int to[2], from[2];
	posix_spawn_file_actions_t fa;

	if (pipe2(to, O_CLOEXEC) < 0 || pipe2(from, O_CLOEXEC) < 0)
		die("pipe: %s", strerror(errno));
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, to[0], 0);
	posix_spawn_file_actions_adddup2(&fa, from[1], 1);
	if (posix_spawnp(&c->pid, server_argv[0], &fa, NULL, server_argv, environ) != 0)
		die("cannot run %s", server_argv[0]);
	posix_spawn_file_actions_destroy(&fa);
	close(to[0]);
	close(from[1]);
	c->to = to[1];
	c->from = from[0];
}

/* Sends c->req (plus a newline); when id >= 0 reads lines up to the response with that id and
 * leaves it in c->body. Returns 0, or -1 when the server closed its stdout. */
static int
stdio_roundtrip(struct client *c, long id)
{
	buf_add(&c->req, "\n", 1);
	if (write_all(c->to, c->req.p, c->req.len) < 0)
		return -1;
	if (id < 0)
		return 0;
	for (;;) {
		char *nl;

		while ((nl = memchr(c->in.p, '\n', c->in.len)) != NULL) {
			size_t n = (size_t)(nl - c->in.p) + 1;

			if (has_id(c->in.p, n, id)) {
				c->body.len = 0;
				buf_add(&c->body, c->in.p, n);
				buf_consume(&c->in, n);
				return 0;
			}
			buf_consume(&c->in, n);
		}
		if (!fill(c->from, &c->in))
			return -1;
	}
}

static void
stdio_close(struct client *c)
{
	int status;

	close(c->to);
	/* server-postgres keeps running after EOF while its pool holds a connection. */
	for (int i = 0; i < 100; i++) {
		if (waitpid(c->pid, &status, WNOHANG) == c->pid)
			goto done;
		usleep(10000);
	}
	kill(c->pid, SIGKILL);
	waitpid(c->pid, &status, 0);
done:
	close(c->from);
}

/* --- http: Streamable HTTP, one keep-alive connection per client */

static int
http_connect(void)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *ai, *a;
	int fd = -1, one = 1;

	if (getaddrinfo(http_host, http_port, &hints, &ai) != 0)
		return -1;
	for (a = ai; a; a = a->ai_next) {
		fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
		if (fd < 0)
			continue;
		if (connect(fd, a->ai_addr, a->ai_addrlen) == 0)
			break;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(ai);
	if (fd >= 0)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

static const char *
header_value(const char *head, size_t hlen, const char *name, size_t *vlen)
{
	size_t nlen = strlen(name);
	const char *p = head, *end = head + hlen;

	while (p < end) {
		const char *eol = memmem(p, (size_t)(end - p), "\r\n", 2);

		if (eol == NULL)
			eol = end;
		if ((size_t)(eol - p) > nlen && strncasecmp(p, name, nlen) == 0 && p[nlen] == ':') {
			const char *v = p + nlen + 1;

			while (v < eol && (*v == ' ' || *v == '\t'))
				v++;
			*vlen = (size_t)(eol - v);
			return v;
		}
		p = eol + 2;
	}
	return NULL;
}

/* Reads one HTTP response into c->body (the body, de-chunked). Returns the status, or -1 when
 * the connection closed first. *closes is set when the server will close the connection. */
static int
http_read_response(struct client *c, int *closes)
{
	char *hend;
	size_t hlen, vlen;
	const char *v;
	int status;

	*closes = 0;
	while ((hend = memmem(c->in.p ? c->in.p : "", c->in.len, "\r\n\r\n", 4)) == NULL)
		if (!fill(c->sock, &c->in))
			return -1;
	hlen = (size_t)(hend - c->in.p) + 4;
	if (c->in.len < 12 || strncmp(c->in.p, "HTTP/1.", 7) != 0)
		return -1;
	status = atoi(c->in.p + 9);
	if ((v = header_value(c->in.p, hlen, "Mcp-Session-Id", &vlen)) != NULL &&
	    vlen < sizeof(c->session)) {
		memcpy(c->session, v, vlen);
		c->session[vlen] = '\0';
	}
	if ((v = header_value(c->in.p, hlen, "Connection", &vlen)) != NULL &&
	    vlen >= 5 && strncasecmp(v, "close", 5) == 0)
		*closes = 1;
	c->body.len = 0;
	if ((v = header_value(c->in.p, hlen, "Content-Length", &vlen)) != NULL) {
		size_t n = (size_t)strtoul(v, NULL, 10);

		buf_consume(&c->in, hlen);
		while (c->in.len < n)
			if (!fill(c->sock, &c->in))
				return -1;
		buf_add(&c->body, c->in.p ? c->in.p : "", n);
		buf_consume(&c->in, n);
	} else if ((v = header_value(c->in.p, hlen, "Transfer-Encoding", &vlen)) != NULL &&
	    memmem(v, vlen, "chunked", 7) != NULL) {
		buf_consume(&c->in, hlen);
		for (;;) {
			char *eol;
			size_t n;

			while ((eol = memmem(c->in.p ? c->in.p : "", c->in.len, "\r\n", 2)) == NULL)
				if (!fill(c->sock, &c->in))
					return -1;
			n = (size_t)strtoul(c->in.p, NULL, 16);
			if (n == 0) {
				/* last chunk: skip trailers up to the empty line */
				size_t off = (size_t)(eol - c->in.p) + 2;

				for (;;) {
					char *e2 = c->in.len >= off ? memmem(c->in.p + off, c->in.len - off,
					    "\r\n", 2) : NULL;

					if (e2 == NULL) {
						if (!fill(c->sock, &c->in))
							return -1;
						continue;
					}
					if (e2 == c->in.p + off) {
						buf_consume(&c->in, off + 2);
						break;
					}
					off = (size_t)(e2 - c->in.p) + 2;
				}
				break;
			}
			buf_consume(&c->in, (size_t)(eol - c->in.p) + 2);
			while (c->in.len < n + 2)
				if (!fill(c->sock, &c->in))
					return -1;
			buf_add(&c->body, c->in.p, n);
			buf_consume(&c->in, n + 2);
		}
	} else if (status == 204 || status == 304 || (status >= 100 && status < 200)) {
		buf_consume(&c->in, hlen);
	} else {
		/* body until the connection closes */
		buf_consume(&c->in, hlen);
		while (fill(c->sock, &c->in))
			;
		buf_add(&c->body, c->in.p ? c->in.p : "", c->in.len);
		c->in.len = 0;
		*closes = 1;
	}
	return status;
}

/* POSTs c->req; for a request (id >= 0) the response body ends up in c->body. Reconnects once
 * when the server closed a kept-alive connection. Returns 0, or -1. */
static int
http_roundtrip(struct client *c, long id)
{
	struct buf msg = { 0 };
	int closes, status = -1;

	buf_printf(&msg, "POST %s HTTP/1.1\r\nHost: %s:%s\r\nContent-Type: application/json\r\n"
	    "Accept: application/json, text/event-stream\r\nContent-Length: %zu\r\n", http_path,
	    http_host, http_port, c->req.len);
	if (c->session[0])
		buf_printf(&msg, "Mcp-Session-Id: %s\r\nMCP-Protocol-Version: " PROTOCOL "\r\n",
		    c->session);
	buf_add(&msg, "\r\n", 2);
	buf_add(&msg, c->req.p, c->req.len);
	for (int attempt = 0; attempt < 2; attempt++) {
		if (c->sock < 0) {
			c->sock = http_connect();
			c->in.len = 0;
			if (c->sock < 0)
				break;
		}
		if (write_all(c->sock, msg.p, msg.len) == 0 &&
		    (status = http_read_response(c, &closes)) >= 0) {
			if (closes) {
				close(c->sock);
				c->sock = -1;
			}
			break;
		}
		close(c->sock);
		c->sock = -1;
	}
	free(msg.p);
	if (status < 0)
		return -1;
	if (id >= 0 && !has_id(c->body.p ? c->body.p : "", c->body.len, id)) {
		/* an HTTP error without a JSON-RPC body still counts as an answer (an error) */
		c->body.len = 0;
		buf_printf(&c->body, "{\"error\":{\"http_status\":%d}}", status);
	}
	return 0;
}

static int
roundtrip(struct client *c, long id)
{
	return server_argv ? stdio_roundtrip(c, id) : http_roundtrip(c, id);
}

static void *
client_main(void *arg)
{
	struct client *c = arg;
	double t0;

	c->rng = 0x9E3779B97F4A7C15ull ^ ((uint64_t)(c->idx + 1) * 0x2545F4914F6CDD1Dull) ^
	    (uint64_t)getpid();
	c->sock = -1;
	buf_reserve(&c->in, 0);
	buf_reserve(&c->body, 0);
	t0 = now_s();
	if (server_argv)
		stdio_spawn(c);
	build_rpc(c, 0, "initialize", INIT_PARAMS);
	if (roundtrip(c, 0) < 0 || is_rpc_error(c->body.p, c->body.len) ||
	    memmem(c->body.p, c->body.len, "protocolVersion", 15) == NULL) {
		c->fatal = "no initialize response";
		pthread_barrier_wait(&barrier);
		pthread_barrier_wait(&barrier_go);
		return NULL;
	}
	c->init_ms = (now_s() - t0) * 1000.0;
	if (server_argv)
		c->rss_init_kib = proc_status_kib(c->pid, "VmRSS");
	build_rpc(c, -1, "notifications/initialized", NULL);
	roundtrip(c, -1);
	c->next_id = 1;
	for (int i = 0; i < opt_warm; i++, c->next_id++) {
		build_call(c, c->next_id);
		if (roundtrip(c, c->next_id) < 0) {
			c->fatal = "server stopped answering during the warm-up";
			break;
		}
		if (is_error(c->body.p, c->body.len))
			c->warm_errors++;
	}
	/* everyone is warm: main sets the start time and the deadline, then lets all go */
	pthread_barrier_wait(&barrier);
	pthread_barrier_wait(&barrier_go);
	if (c->fatal)
		return NULL;
	while (1) {
		double t;

		if (opt_secs > 0 ? now_s() >= t_deadline : c->nlat >= (size_t)opt_calls)
			break;
		build_call(c, c->next_id);
		t = now_s();
		if (roundtrip(c, c->next_id) < 0) {
			c->fatal = "server stopped answering";
			break;
		}
		t = now_s() - t;
		if (c->nlat == c->caplat) {
			c->caplat = c->caplat ? c->caplat * 2 : 4096;
			c->lat = xrealloc(c->lat, c->caplat * sizeof(double));
		}
		c->lat[c->nlat++] = t;
		c->resp_bytes += (double)c->body.len;
		if (is_error(c->body.p, c->body.len))
			c->errors++;
		c->next_id++;
	}
	if (server_argv)
		c->rss_peak_kib = proc_status_kib(c->pid, "VmHWM");
	if (opt_out && c->idx == 0 && c->nlat > 0) {
		FILE *f = fopen(opt_out, "w");

		if (f) {
			fwrite(c->body.p, 1, c->body.len, f);
			fclose(f);
		}
	}
	return NULL;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double
pct(const double *v, size_t n, double p)
{
	size_t k;

	if (n == 0)
		return 0;
	k = (size_t)((p / 100.0) * (double)n + 0.999999);
	if (k < 1)
		k = 1;
	if (k > n)
		k = n;
	return v[k - 1];
}

static int
run_load(void)
{
	struct client *cs = calloc((size_t)opt_clients, sizeof(*cs));
	double *all, elapsed, bytes = 0, sum = 0;
	size_t n = 0, k = 0;
	long errors = 0, warm_errors = 0;
	const char *fatal = NULL;

	pthread_barrier_init(&barrier, NULL, (unsigned)opt_clients + 1);
	pthread_barrier_init(&barrier_go, NULL, (unsigned)opt_clients + 1);
	for (int i = 0; i < opt_clients; i++) {
		cs[i].idx = i;
		if (pthread_create(&cs[i].thread, NULL, client_main, &cs[i]) != 0)
			die("pthread_create failed");
	}
	pthread_barrier_wait(&barrier);
	t_start = now_s();
	t_deadline = t_start + opt_secs;
	pthread_barrier_wait(&barrier_go);
	for (int i = 0; i < opt_clients; i++)
		pthread_join(cs[i].thread, NULL);
	elapsed = now_s() - t_start;
	for (int i = 0; i < opt_clients; i++) {
		n += cs[i].nlat;
		errors += cs[i].errors;
		warm_errors += cs[i].warm_errors;
		bytes += cs[i].resp_bytes;
		if (cs[i].fatal && !fatal)
			fatal = cs[i].fatal;
	}
	all = calloc(n ? n : 1, sizeof(double));
	for (int i = 0; i < opt_clients; i++) {
		memcpy(all + k, cs[i].lat, cs[i].nlat * sizeof(double));
		k += cs[i].nlat;
	}
	for (size_t i = 0; i < n; i++)
		sum += all[i];
	qsort(all, n, sizeof(double), cmp_double);
	printf("{\"clients\":%d,\"calls\":%zu,\"warmup\":%d,\"errors\":%ld,\"warmup_errors\":%ld,"
	    "\"elapsed_s\":%.4f,\"calls_per_s\":%.1f,\"p50_ms\":%.4f,\"p99_ms\":%.4f,"
	    "\"mean_ms\":%.4f,\"max_ms\":%.4f,\"resp_bytes_mean\":%.1f", opt_clients, n, opt_warm,
	    errors, warm_errors, elapsed, n ? (double)n / elapsed : 0.0, pct(all, n, 50) * 1000,
	    pct(all, n, 99) * 1000, n ? sum / (double)n * 1000 : 0.0, n ? all[n - 1] * 1000 : 0.0,
	    n ? bytes / (double)n : 0.0);
	printf(",\"init_ms\":[");
	for (int i = 0; i < opt_clients; i++)
		printf("%s%.3f", i ? "," : "", cs[i].init_ms);
	if (server_argv) {
		printf("],\"pids\":[");
		for (int i = 0; i < opt_clients; i++)
			printf("%s%d", i ? "," : "", (int)cs[i].pid);
		printf("],\"rss_init_kib\":[");
		for (int i = 0; i < opt_clients; i++)
			printf("%s%ld", i ? "," : "", cs[i].rss_init_kib);
		printf("],\"rss_peak_kib\":[");
		for (int i = 0; i < opt_clients; i++)
			printf("%s%ld", i ? "," : "", cs[i].rss_peak_kib);
	}
	printf("]%s%s%s}\n", fatal ? ",\"fatal\":\"" : "", fatal ? fatal : "", fatal ? "\"" : "");
	fflush(stdout);
	for (int i = 0; i < opt_clients; i++) {
		if (server_argv && cs[i].pid > 0)
			stdio_close(&cs[i]);
		if (cs[i].sock >= 0)
			close(cs[i].sock);
		free(cs[i].lat);
		free(cs[i].in.p);
		free(cs[i].req.p);
		free(cs[i].sql.p);
		free(cs[i].body.p);
	}
	free(all);
	free(cs);
	if (fatal) {
		fprintf(stderr, "mcpload: %s\n", fatal);
		return 1;
	}
	return 0;
}

/* cold: spawn -> initialize response -> tools/list response -> first query response. */
static int
run_cold(void)
{
	struct client c = { 0 };
	double t0, t_init, t_list, t_query;
	int err;

	c.rng = 0x9E3779B97F4A7C15ull ^ (uint64_t)getpid();
	buf_reserve(&c.in, 0);
	buf_reserve(&c.body, 0);
	t0 = now_s();
	stdio_spawn(&c);
	build_rpc(&c, 0, "initialize", INIT_PARAMS);
	if (stdio_roundtrip(&c, 0) < 0)
		die("no initialize response");
	t_init = now_s();
	build_rpc(&c, -1, "notifications/initialized", NULL);
	stdio_roundtrip(&c, -1);
	build_rpc(&c, 1, "tools/list", NULL);
	if (stdio_roundtrip(&c, 1) < 0)
		die("no tools/list response");
	t_list = now_s();
	build_call(&c, 2);
	if (stdio_roundtrip(&c, 2) < 0)
		die("no query response");
	t_query = now_s();
	err = is_error(c.body.p, c.body.len);
	printf("{\"init_ms\":%.3f,\"tools_list_ms\":%.3f,\"first_query_ms\":%.3f,\"error\":%s,"
	    "\"rss_kib\":%ld}\n", (t_init - t0) * 1000, (t_list - t0) * 1000, (t_query - t0) * 1000,
	    err ? "true" : "false", proc_status_kib(c.pid, "VmRSS"));
	fflush(stdout);
	stdio_close(&c);
	free(c.in.p);
	free(c.req.p);
	free(c.sql.p);
	free(c.body.p);
	return 0;
}

/* ------------------------------------------------------------------------- null servers */

static const char NULL_RESULT[] = "\"result\":{\"protocolVersion\":\"" PROTOCOL "\","
    "\"capabilities\":{\"tools\":{}},\"serverInfo\":{\"name\":\"null\",\"version\":\"1\"},"
    "\"tools\":[],\"content\":[{\"type\":\"text\",\"text\":\"[{\\\"abalance\\\":0}]\"}]}}";

/* Copies the raw value of the message's "id" (n bytes at p) into id; 0 if it has none. */
static int
raw_id(const char *p, size_t n, char *id, size_t cap)
{
	const char *q = memmem(p, n, "\"id\"", 4), *end = p + n, *s;

	if (q == NULL)
		return 0;
	q += 4;
	while (q < end && (*q == ' ' || *q == ':'))
		q++;
	s = q;
	while (q < end && *q != ',' && *q != '}')
		q++;
	if ((size_t)(q - s) >= cap || q == s)
		return 0;
	memcpy(id, s, (size_t)(q - s));
	id[q - s] = '\0';
	return 1;
}

static int
run_null(void)
{
	struct buf in = { 0 }, out = { 0 };
	char id[64];

	signal(SIGPIPE, SIG_IGN);
	for (;;) {
		char *nl;

		out.len = 0;
		while ((nl = memchr(in.p ? in.p : "", '\n', in.len)) != NULL) {
			size_t n = (size_t)(nl - in.p) + 1;

			if (raw_id(in.p, n, id, sizeof(id)))
				buf_printf(&out, "{\"jsonrpc\":\"2.0\",\"id\":%s,%s\n", id, NULL_RESULT);
			buf_consume(&in, n);
		}
		if (out.len && write_all(1, out.p, out.len) < 0)
			return 0;
		if (!fill(0, &in))
			return 0;
	}
}

static void *
null_http_conn(void *arg)
{
	int fd = (int)(intptr_t)arg;
	struct buf in = { 0 }, out = { 0 };
	char id[64];

	for (;;) {
		char *hend;
		size_t hlen, vlen, clen = 0;
		const char *v;

		while ((hend = memmem(in.p ? in.p : "", in.len, "\r\n\r\n", 4)) == NULL)
			if (!fill(fd, &in))
				goto out;
		hlen = (size_t)(hend - in.p) + 4;
		if ((v = header_value(in.p, hlen, "Content-Length", &vlen)) != NULL)
			clen = (size_t)strtoul(v, NULL, 10);
		while (in.len < hlen + clen)
			if (!fill(fd, &in))
				goto out;
		out.len = 0;
		if (raw_id(in.p + hlen, clen, id, sizeof(id))) {
			struct buf body = { 0 };

			buf_printf(&body, "{\"jsonrpc\":\"2.0\",\"id\":%s,%s", id, NULL_RESULT);
			buf_printf(&out, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
			    "Mcp-Session-Id: null-session\r\nContent-Length: %zu\r\n\r\n%s", body.len,
			    body.p);
			free(body.p);
		} else
			buf_printf(&out, "HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n");
		buf_consume(&in, hlen + clen);
		if (write_all(fd, out.p, out.len) < 0)
			goto out;
	}
out:
	close(fd);
	free(in.p);
	free(out.p);
	return NULL;
}

static int
run_null_http(const char *port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	signal(SIGPIPE, SIG_IGN);
	sa.sin_port = htons((uint16_t)atoi(port));
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 128) < 0)
		die("null-http: cannot listen on 127.0.0.1:%s: %s", port, strerror(errno));
	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		pthread_t t;

		if (fd < 0)
			continue;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (pthread_create(&t, NULL, null_http_conn, (void *)(intptr_t)fd) != 0)
			close(fd);
		else
			pthread_detach(t);
	}
	return 0;
}

/* ------------------------------------------------------------------------------- main */

static void
usage(void)
{
	fprintf(stderr, "usage: mcpload [-n calls | -d secs] [-w warmup] [-c clients] [-s sql] "
	    "[-k keys] [-P] [-t tool] [-a arg] [-x text] [-o file]\n"
	    "               stdio|cold -- server argv... | http URL\n"
	    "       mcpload null | null-http PORT\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	int ch;

	signal(SIGPIPE, SIG_IGN);
	if (argc >= 2 && strcmp(argv[1], "null") == 0)
		return run_null();
	if (argc >= 3 && strcmp(argv[1], "null-http") == 0)
		return run_null_http(argv[2]);
	while ((ch = getopt(argc, argv, "+n:d:w:c:s:k:Pt:a:x:o:")) != -1) {
		switch (ch) {
		case 'n': opt_calls = atoi(optarg); break;
		case 'd': opt_secs = atof(optarg); break;
		case 'w': opt_warm = atoi(optarg); break;
		case 'c': opt_clients = atoi(optarg); break;
		case 's': opt_sql = optarg; break;
		case 'k': opt_keys = atol(optarg); break;
		case 'P': opt_params = 1; break;
		case 't': opt_tool = optarg; break;
		case 'a': opt_arg = optarg; break;
		case 'x': opt_expect = optarg; break;
		case 'o': opt_out = optarg; break;
		default: usage();
		}
	}
	if (optind >= argc || opt_clients < 1 || opt_keys < 1 || opt_warm < 0)
		usage();
	if (strcmp(argv[optind], "stdio") == 0 || strcmp(argv[optind], "cold") == 0) {
		int cold = argv[optind][0] == 'c';

		if (optind + 2 >= argc || strcmp(argv[optind + 1], "--") != 0)
			usage();
		server_argv = argv + optind + 2;
		return cold ? run_cold() : run_load();
	}
	if (strcmp(argv[optind], "http") == 0 && optind + 1 < argc) {
		const char *u = argv[optind + 1], *hp, *slash, *colon;

		if (strncmp(u, "http://", 7) != 0)
			die("only http:// URLs");
		hp = u + 7;
		slash = strchr(hp, '/');
		if (slash == NULL)
			slash = hp + strlen(hp);
		colon = memchr(hp, ':', (size_t)(slash - hp));
		snprintf(http_host, sizeof(http_host), "%.*s", (int)((colon ? colon : slash) - hp), hp);
		snprintf(http_port, sizeof(http_port), "%.*s", colon ? (int)(slash - colon - 1) : 2,
		    colon ? colon + 1 : "80");
		snprintf(http_path, sizeof(http_path), "%s", *slash ? slash : "/");
		return run_load();
	}
	usage();
	return 2;
}
