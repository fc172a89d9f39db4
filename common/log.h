#ifndef SEKISHO_LOG_H
#define SEKISHO_LOG_H

/*
 * One line per event, key=value: "event=admit user=alice service=lab ip=10.0.0.2".
 * Foreground daemons write to stderr with a timestamp; otherwise syslog(3).
 * Values that come from outside must go through log_value() first.
 */

#include <stddef.h>
#include <syslog.h>

enum { LOG_LEVEL_ERR = LOG_ERR, LOG_LEVEL_WARN = LOG_WARNING,
       LOG_LEVEL_INFO = LOG_INFO, LOG_LEVEL_DEBUG = LOG_DEBUG };

/* Starts logging as ident; foreground != 0 means stderr. Level is a LOG_* priority. */
void log_init(const char *ident, int foreground, int level);
void log_set_level(int level);
/* Parses "err|warn|info|debug"; returns the priority or -1. */
int  log_level_parse(const char *s);

void log_msg(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define log_err(...)   log_msg(LOG_ERR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARNING, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

/*
 * Makes an untrusted string safe as one log value: at most n-1 bytes, quoted
 * when it holds spaces, quotes or '=', control and non-ASCII bytes as \xNN,
 * truncation marked with "...". Returns buf.
 */
const char *log_value(char *buf, size_t n, const char *s);

/* Prints "ident: message" to stderr and exits 1. Start-up and broken invariants only. */
void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
