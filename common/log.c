/* log.c: one log line per event on stderr (or a file), as logfmt or JSON, never on stdout. */
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static struct {
	char role[32];
	enum log_level level;
	enum log_format format;
	int fd;
} logger = { "pgmcp", LOG_LEVEL_INFO, LOG_FORMAT_LOGFMT, STDERR_FILENO };

static const char *const level_names[] = { "debug", "info", "notice", "warning", "error" };

void
log_init(const char *role, enum log_level level, enum log_format format)
{
	log_set_role(role);
	logger.level = level;
	logger.format = format;
}

void
log_set_level(enum log_level level)
{
	logger.level = level;
}

enum log_level
log_get_level(void)
{
	return logger.level;
}

void
log_set_format(enum log_format format)
{
	logger.format = format;
}

void
log_set_role(const char *role)
{
	snprintf(logger.role, sizeof(logger.role), "%s", role);
}

int
log_open_file(const char *path)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);

	if (fd < 0)
		return -1;
	if (logger.fd != STDERR_FILENO)
		close(logger.fd);
	logger.fd = fd;
	return 0;
}

int
log_parse_level(const char *name, enum log_level *out)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (strcmp(name, level_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	if (strcmp(name, "warn") == 0) {
		*out = LOG_LEVEL_WARNING;
		return 0;
	}
	if (strcmp(name, "off") == 0) {
		*out = LOG_LEVEL_OFF;
		return 0;
	}
	return -1;
}

int
log_parse_format(const char *name, enum log_format *out)
{
	if (strcmp(name, "logfmt") == 0)
		*out = LOG_FORMAT_LOGFMT;
	else if (strcmp(name, "json") == 0)
		*out = LOG_FORMAT_JSON;
	else
		return -1;
	return 0;
}

/* Appends msg quoted for logfmt or JSON; both quote ", \ and control characters the same way. */
static size_t
append_quoted(char *dst, size_t pos, size_t cap, const char *msg)
{
	if (pos < cap)
		dst[pos++] = '"';
	for (const unsigned char *p = (const unsigned char *)msg; *p && pos + 7 < cap; p++) {
		if (*p == '"' || *p == '\\') {
			dst[pos++] = '\\';
			dst[pos++] = (char)*p;
		} else if (*p == '\n') {
			dst[pos++] = '\\';
			dst[pos++] = 'n';
		} else if (*p < 0x20) {
			pos += (size_t)snprintf(dst + pos, cap - pos, "\\u%04x", *p);
		} else {
			dst[pos++] = (char)*p;
		}
	}
	if (pos < cap)
		dst[pos++] = '"';
	return pos;
}

static void
emit(enum log_level level, const char *fmt, va_list ap, const char *suffix)
{
	char msg[2048], line[4608];
	struct timeval tv;
	struct tm tm;
	char ts[40];
	size_t pos;
	int n;

	if (level < logger.level)
		return;
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	if (n >= 0 && suffix != NULL && (size_t)n < sizeof(msg))
		snprintf(msg + n, sizeof(msg) - (size_t)n, ": %s", suffix);

	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	n = (int)strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(ts + n, sizeof(ts) - (size_t)n, ".%03dZ", (int)(tv.tv_usec / 1000));

	if (logger.format == LOG_FORMAT_JSON)
		pos = (size_t)snprintf(line, sizeof(line),
		    "{\"ts\":\"%s\",\"level\":\"%s\",\"role\":\"%s\",\"pid\":%d,\"msg\":",
		    ts, level_names[level], logger.role, (int)getpid());
	else
		pos = (size_t)snprintf(line, sizeof(line), "ts=%s level=%s role=%s pid=%d msg=",
		    ts, level_names[level], logger.role, (int)getpid());
	pos = append_quoted(line, pos, sizeof(line) - 3, msg);
	if (logger.format == LOG_FORMAT_JSON)
		line[pos++] = '}';
	line[pos++] = '\n';
	/* One write per line so lines from several processes never interleave. */
	while (write(logger.fd, line, pos) < 0 && errno == EINTR)
		;
}

#define LOG_FN(name, lvl)                               \
	void name(const char *fmt, ...)                 \
	{                                               \
		int saved = errno;                      \
		va_list ap;                             \
		va_start(ap, fmt);                      \
		emit(lvl, fmt, ap, NULL);               \
		va_end(ap);                             \
		errno = saved;                          \
	}

LOG_FN(log_debug, LOG_LEVEL_DEBUG)
LOG_FN(log_info, LOG_LEVEL_INFO)
LOG_FN(log_notice, LOG_LEVEL_NOTICE)
LOG_FN(log_warnx, LOG_LEVEL_WARNING)
LOG_FN(log_error, LOG_LEVEL_ERROR)

void
log_warn(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	emit(LOG_LEVEL_WARNING, fmt, ap, strerror(saved));
	va_end(ap);
	errno = saved;
}

void
fatal(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	emit(LOG_LEVEL_ERROR, fmt, ap, strerror(saved));
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	emit(LOG_LEVEL_ERROR, fmt, ap, NULL);
	va_end(ap);
	exit(1);
}
