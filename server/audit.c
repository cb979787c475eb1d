/*
 * audit.c: the audit log: one JSON line per tool call, appended to audit.file with a single
 * write(2) on an O_APPEND descriptor (so lines from several workers never interleave) and/or
 * sent to the log stream. Statements are normalized and fingerprinted with libpg_query.
 * Losing a record (disk full, file gone) never fails or delays a call: it is counted, warned
 * about at most once a minute, and the next record that gets written says how many were lost.
 */
#include "audit.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <json.h>
#include <pg_query.h>

#include "buf.h"
#include "jsonw.h"
#include "log.h"
#include "tool.h"
#include "util.h"

#define AUDIT_WARN_EVERY_US (60LL * 1000000)
#define AUDIT_CACHE_SLOTS 64
#define AUDIT_CACHE_MAX_TEXT 16384
#define AUDIT_MAX_STATEMENT 16384	/* longer normalized text is cut, with "..." */
#define AUDIT_LOG_MAX 1800		/* the log stream's lines are shorter than the file's */

static struct {
	int fd;
	char *path;		/* what fd was opened as */
	uint64_t lost;		/* records not written since the last one that was */
	bool partial;		/* a short write left half a line: start the next on a new line */
	int64_t last_warn_us;
} out = { -1, NULL, 0, false, 0 };

static volatile sig_atomic_t reopen_requested;

/* Normalized text and fingerprint by statement text: models repeat their queries. */
struct stmt_slot {
	uint64_t hash;
	char *text;
	char *normalized;	/* NULL when the text does not parse */
	char fingerprint[24];
};

static struct stmt_slot cache[AUDIT_CACHE_SLOTS];

bool
audit_enabled(const struct config *cfg)
{
	return (cfg->audit_file != NULL && cfg->audit_file[0] != '\0') || cfg->audit_log;
}

static int
open_file(const char *path)
{
	return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0640);
}

bool
audit_check(const struct config *cfg, char *why, size_t cap)
{
	int fd;

	if (cfg->audit_file == NULL || cfg->audit_file[0] == '\0')
		return true;
	fd = open_file(cfg->audit_file);
	if (fd < 0) {
		snprintf(why, cap, "cannot open audit.file %s: %s", cfg->audit_file, strerror(errno));
		return false;
	}
	close(fd);
	return true;
}

void
audit_reopen(void)
{
	reopen_requested = 0;
	if (out.fd >= 0)
		close(out.fd);
	out.fd = -1;	/* the next record opens the file by name again */
}

void
audit_request_reopen(void)
{
	reopen_requested = 1;
}

void
audit_shutdown(void)
{
	audit_reopen();
	free(out.path);
	out.path = NULL;
	for (size_t i = 0; i < AUDIT_CACHE_SLOTS; i++) {
		free(cache[i].text);
		free(cache[i].normalized);
		cache[i].text = cache[i].normalized = NULL;
	}
}

static uint64_t
fnv1a(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ULL;

	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 1099511628211ULL;
	}
	return h;
}

static void
describe_statement(const char *sql, struct stmt_slot *into)
{
	PgQueryNormalizeResult nr = pg_query_normalize(sql);
	PgQueryFingerprintResult fr;

	into->normalized = nr.error == NULL && nr.normalized_query != NULL ?
	    xstrdup(nr.normalized_query) : NULL;
	pg_query_free_normalize_result(nr);
	into->fingerprint[0] = '\0';
	if (into->normalized == NULL)
		return;	/* it does not parse: neither has a meaning */
	fr = pg_query_fingerprint(sql);
	if (fr.error == NULL && fr.fingerprint_str != NULL)
		snprintf(into->fingerprint, sizeof(into->fingerprint), "%s", fr.fingerprint_str);
	pg_query_free_fingerprint_result(fr);
}

/* The statement's normalized text and fingerprint, from the cache when it was seen before. */
static const struct stmt_slot *
statement_info(const char *sql, struct stmt_slot *scratch)
{
	size_t len = strlen(sql);
	uint64_t h;
	struct stmt_slot *slot;

	if (len > AUDIT_CACHE_MAX_TEXT) {
		describe_statement(sql, scratch);
		return scratch;
	}
	h = fnv1a(sql, len);
	slot = &cache[h % AUDIT_CACHE_SLOTS];
	if (slot->text != NULL && slot->hash == h && strcmp(slot->text, sql) == 0)
		return slot;
	free(slot->text);
	free(slot->normalized);
	slot->hash = h;
	slot->text = xstrdup(sql);
	describe_statement(sql, slot);
	return slot;
}

/* A value's shape without its content: {"type":"string","length":12}; containers recurse. */
static void
put_redacted(struct jw *w, struct json_object *v)
{
	switch (json_object_get_type(v)) {
	case json_type_null:
		jw_obj_begin(w);
		jw_kstr(w, "type", "null");
		jw_obj_end(w);
		break;
	case json_type_boolean:
		jw_obj_begin(w);	/* no length: "true" and "false" differ in it */
		jw_kstr(w, "type", "boolean");
		jw_obj_end(w);
		break;
	case json_type_int:
	case json_type_double:
		jw_obj_begin(w);
		jw_kstr(w, "type", "number");
		jw_kint(w, "length", (int64_t)strlen(json_object_to_json_string_ext(v,
		    JSON_C_TO_STRING_PLAIN)));
		jw_obj_end(w);
		break;
	case json_type_string:
		jw_obj_begin(w);
		jw_kstr(w, "type", "string");
		jw_kint(w, "length", json_object_get_string_len(v));
		jw_obj_end(w);
		break;
	case json_type_array:
		jw_arr_begin(w);
		for (size_t i = 0; i < json_object_array_length(v); i++)
			put_redacted(w, json_object_array_get_idx(v, i));
		jw_arr_end(w);
		break;
	case json_type_object:
		jw_obj_begin(w);
		json_object_object_foreach(v, key, val) {
			jw_key(w, key);	/* argument names are the tool's schema, not data */
			put_redacted(w, val);
		}
		jw_obj_end(w);
		break;
	}
}

static void
put_time(struct jw *w)
{
	struct timeval tv;
	struct tm tm;
	char ts[40];
	size_t n;

	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	n = strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(ts + n, sizeof(ts) - n, ".%03dZ", (int)(tv.tv_usec / 1000));
	jw_kstr(w, "time", ts);
}

static void
put_optional(struct jw *w, const char *key, const char *value)
{
	jw_key(w, key);
	if (value != NULL && value[0] != '\0')
		jw_str(w, value);
	else
		jw_null(w);
}

static void
build_record(const struct config *cfg, const struct audit_record *r, uint64_t lost,
    struct buf *line)
{
	struct stmt_slot scratch = { 0 };
	const struct stmt_slot *st = r->statement ? statement_info(r->statement, &scratch) : NULL;
	struct jw w;

	jw_init(&w, line);
	jw_obj_begin(&w);
	put_time(&w);
	put_optional(&w, "client", r->client);
	put_optional(&w, "session", r->session);
	put_optional(&w, "protocol", r->protocol);
	jw_kstr(&w, "tool", r->tool);
	jw_key(&w, "statement");
	if (st != NULL && st->normalized != NULL) {
		size_t n = strlen(st->normalized);

		if (n > AUDIT_MAX_STATEMENT) {
			jw_str_begin(&w);
			json_escape(line, st->normalized, AUDIT_MAX_STATEMENT);
			buf_puts(line, "...");
			jw_str_end(&w);
		} else {
			jw_strn(&w, st->normalized, n);
		}
	} else {
		jw_null(&w);
	}
	put_optional(&w, "fingerprint", st ? st->fingerprint : NULL);
	if (r->statement != NULL && (st == NULL || st->normalized == NULL))
		jw_kstr(&w, "statement_note", "the statement does not parse, so it has no normalized "
		    "form");
	jw_key(&w, "parameters");
	if (r->arguments == NULL)
		jw_null(&w);
	else if (cfg->audit_log_parameters)
		jw_jsonc(&w, r->arguments);
	else
		put_redacted(&w, r->arguments);
	jw_key(&w, "duration_ms");
	jw_fixed(&w, r->duration_ms, 3);
	jw_kint(&w, "rows", r->rows);
	jw_kint(&w, "bytes", r->bytes);
	jw_kstr(&w, "outcome", r->outcome);
	put_optional(&w, "sqlstate", r->sqlstate);
	if (lost > 0)
		jw_kint(&w, "lost_before", (int64_t)lost);
	jw_obj_end(&w);
	free(scratch.text);
	free(scratch.normalized);
}

static void
note_loss(const char *path, const char *what)
{
	int64_t now = now_us();

	out.lost++;
	if (out.last_warn_us == 0 || now - out.last_warn_us >= AUDIT_WARN_EVERY_US) {
		out.last_warn_us = now;
		log_warn("audit.file %s: %s (%llu record%s lost so far; calls go on)", path, what,
		    (unsigned long long)out.lost, out.lost == 1 ? "" : "s");
	}
}

/* Appends line (with its newline) in one write; false when the record is lost. */
static bool
append_line(const char *path, struct buf *line)
{
	ssize_t n;

	if (out.fd >= 0 && (out.path == NULL || strcmp(out.path, path) != 0))
		audit_reopen();	/* a reload changed audit.file */
	if (out.fd < 0) {
		out.fd = open_file(path);
		if (out.fd < 0) {
			note_loss(path, "cannot open");
			return false;
		}
		free(out.path);
		out.path = xstrdup(path);
	}
	do
		n = write(out.fd, line->data, line->len);
	while (n < 0 && errno == EINTR);
	if (n == (ssize_t)line->len)
		return true;
	if (n > 0) {
		out.partial = true;
		errno = ENOSPC;	/* a short write to a regular file: the disk filled up */
	}
	note_loss(path, "write failed");
	return false;
}

void
audit_write(const struct config *cfg, const struct audit_record *r)
{
	struct buf line = BUF_INIT;
	const char *path = cfg->audit_file;
	bool to_file = path != NULL && path[0] != '\0';
	uint64_t lost = out.lost;

	if (!audit_enabled(cfg))
		return;
	if (reopen_requested)
		audit_reopen();
	if (to_file && out.partial)
		buf_putc(&line, '\n');	/* end the fragment a short write left, so it is one bad line */
	build_record(cfg, r, to_file ? lost : 0, &line);
	if (cfg->audit_log) {
		size_t start = to_file && out.partial ? 1 : 0;
		size_t n = line.len - start;

		if (n > AUDIT_LOG_MAX)
			log_info("audit %.*s ... (cut)", AUDIT_LOG_MAX, line.data + start);
		else
			log_info("audit %.*s", (int)n, line.data + start);
	}
	if (to_file) {
		buf_putc(&line, '\n');
		if (append_line(path, &line)) {
			out.partial = false;
			if (lost > 0) {
				log_notice("audit.file %s: writing again; %llu record%s could not be written "
				    "before this one", path, (unsigned long long)lost, lost == 1 ? "" : "s");
				out.lost = 0;
				out.last_warn_us = 0;
			}
		}
	}
	buf_free(&line);
}

static const char *
outcome_of(const struct tool_ctx *tc, const char **sqlstate)
{
	const struct db_result *res = &tc->res;

	*sqlstate = res->status == DB_SQL_ERROR && res->sqlstate[0] ? res->sqlstate : NULL;
	if (tc->s->cancelled || res->status == DB_CANCELLED)
		return "cancelled";
	if (!tc->failed)
		return "ok";
	if (tc->refused_sqlstate != NULL) {
		*sqlstate = tc->refused_sqlstate;
		return strcmp(tc->refused_sqlstate, "42601") == 0 ? "error" : "refused";
	}
	if (res->timed_out)
		return "timeout";
	if (res->status == DB_UNAVAILABLE)
		return "unavailable";
	return "error";
}

void
audit_tool_call(const struct tool_ctx *tc, const char *tool, const char *declared_sql,
    int64_t start_us, size_t result_bytes)
{
	const struct mcp_session *s = tc->s;
	struct json_object *sql = NULL;
	struct audit_record r;

	memset(&r, 0, sizeof(r));
	r.client = s->client;
	r.session = s->session_hash;
	r.protocol = tc->rq->version;
	r.tool = tool;
	r.statement = declared_sql;
	if (r.statement == NULL && json_object_object_get_ex(tc->args, "sql", &sql) &&
	    json_object_is_type(sql, json_type_string) &&
	    (size_t)json_object_get_string_len(sql) == strlen(json_object_get_string(sql)))
		r.statement = json_object_get_string(sql);
	r.arguments = tc->args;
	r.duration_ms = (double)(now_us() - start_us) / 1000.0;
	r.rows = tc->failed ? 0 : tc->res.row_count;
	r.bytes = (int64_t)result_bytes;
	r.outcome = outcome_of(tc, &r.sqlstate);
	audit_write(s->cfg, &r);
}
