/* log.h: process-wide logging in the OpenBSD shape (log_info, log_warn with errno, fatal). */
#ifndef PGMCP_LOG_H
#define PGMCP_LOG_H

#include <stdarg.h>
#include <stdnoreturn.h>

enum log_level {
	LOG_LEVEL_DEBUG = 0,
	LOG_LEVEL_INFO,
	LOG_LEVEL_NOTICE,
	LOG_LEVEL_WARNING,
	LOG_LEVEL_ERROR,
	LOG_LEVEL_OFF,
};

enum log_format {
	LOG_FORMAT_LOGFMT = 0,
	LOG_FORMAT_JSON,
};

/* Logs never go to stdout: in stdio and inetd modes stdout is the protocol stream. */
void log_init(const char *role, enum log_level level, enum log_format format);
void log_set_level(enum log_level level);
void log_set_format(enum log_format format);
void log_set_role(const char *role);
int log_open_file(const char *path);
int log_parse_level(const char *name, enum log_level *out);
int log_parse_format(const char *name, enum log_format *out);
enum log_level log_get_level(void);

void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_notice(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* log_warn appends strerror(errno); log_warnx does not. */
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
noreturn void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
noreturn void fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
