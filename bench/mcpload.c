/*
 * mcpload.c: a small load generator for MCP servers over stdio or HTTP, cheap enough that it
 * never limits what it measures. It spawns the server command (stdio) or connects to a URL,
 * initializes, and sends sequential tools/call requests of a point query, printing calls/s,
 * p50 and p99 latency as one JSON line.
 *
 *   mcpload stdio N 'SQL with %d' -- server argv...
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static char rbuf[1 << 22];
static size_t rlen;

/* Reads until a line containing "\"id\":<id>" or "\"id\": <id>" arrives; returns 0 on success. */
static int
read_response(int fd, int id)
{
	char want1[32], want2[32];

	snprintf(want1, sizeof(want1), "\"id\":%d,", id);
	snprintf(want2, sizeof(want2), "\"id\": %d,", id);
	for (;;) {
		char *nl;

		while ((nl = memchr(rbuf, '\n', rlen)) != NULL) {
			size_t n = (size_t)(nl - rbuf) + 1;
			int match = memmem(rbuf, n, want1, strlen(want1)) != NULL ||
			    memmem(rbuf, n, want2, strlen(want2)) != NULL;

			memmove(rbuf, rbuf + n, rlen - n);
			rlen -= n;
			if (match)
				return 0;
		}
		ssize_t r = read(fd, rbuf + rlen, sizeof(rbuf) - rlen);

		if (r <= 0)
			return -1;
		rlen += (size_t)r;
	}
}

static int
cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void
escape_json(const char *s, char *out, size_t cap)
{
	size_t o = 0;

	for (; *s && o + 2 < cap; s++) {
		if (*s == '"' || *s == '\\')
			out[o++] = '\\';
		out[o++] = *s;
	}
	out[o] = '\0';
}

int
main(int argc, char **argv)
{
	int to[2], from[2], n, warm = 200;
	pid_t pid;
	char req[8192], sql[4096], esc[4096];
	double *lat, t0, start;

	if (argc < 6 || strcmp(argv[1], "stdio") != 0 || strcmp(argv[4], "--") != 0) {
		fprintf(stderr, "usage: mcpload stdio N 'SQL with %%d' -- server argv...\n");
		return 2;
	}
	n = atoi(argv[2]);
	signal(SIGPIPE, SIG_IGN);
	if (pipe(to) < 0 || pipe(from) < 0)
		return 1;
	t0 = now_s();
	pid = fork();
	if (pid == 0) {
		dup2(to[0], 0);
		dup2(from[1], 1);
		close(to[1]);
		close(from[0]);
		execvp(argv[5], argv + 5);
		_exit(127);
	}
	close(to[0]);
	close(from[1]);
	snprintf(req, sizeof(req), "{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"initialize\",\"params\":"
	    "{\"protocolVersion\":\"2025-06-18\",\"capabilities\":{},\"clientInfo\":{\"name\":"
	    "\"mcpload\",\"version\":\"1\"}}}\n{\"jsonrpc\":\"2.0\",\"method\":"
	    "\"notifications/initialized\"}\n");
	if (write(to[1], req, strlen(req)) < 0 || read_response(from[0], 0) < 0) {
		fprintf(stderr, "mcpload: no initialize response\n");
		return 1;
	}
	printf("{\"initialize_ms\":%.3f,", (now_s() - t0) * 1000);
	lat = calloc((size_t)n, sizeof(double));
	start = 0;
	for (int i = 1; i <= n + warm; i++) {
		double t;

		snprintf(sql, sizeof(sql), argv[3], (i * 7919) % 1000000 + 1);
		escape_json(sql, esc, sizeof(esc));
		snprintf(req, sizeof(req), "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"tools/call\","
		    "\"params\":{\"name\":\"query\",\"arguments\":{\"sql\":\"%s\"}}}\n", i, esc);
		if (i == warm + 1)
			start = now_s();
		t = now_s();
		if (write(to[1], req, strlen(req)) < 0 || read_response(from[0], i) < 0) {
			fprintf(stderr, "mcpload: server stopped at call %d\n", i);
			return 1;
		}
		if (i > warm)
			lat[i - warm - 1] = (now_s() - t) * 1000;
	}
	{
		double total = now_s() - start;

		qsort(lat, (size_t)n, sizeof(double), cmp);
		printf("\"calls\":%d,\"calls_per_s\":%.1f,\"p50_ms\":%.3f,\"p99_ms\":%.3f}\n", n,
		    n / total, lat[n / 2], lat[(n * 99) / 100]);
	}
	close(to[1]);
	waitpid(pid, NULL, 0);
	free(lat);
	return 0;
}
