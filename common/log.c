#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define LOG_LINE_MAX 1024

/*
 * Before log_init() every message goes to stderr as "sekisho" at info, so a
 * failure while loading the config is never lost.
 */
static char log_ident[32] = "sekisho";
static int log_foreground = 1;
static atomic_int log_level = LOG_INFO;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

void
log_init(const char *ident, int foreground, int level)
{
	pthread_mutex_lock(&log_lock);
	snprintf(log_ident, sizeof log_ident, "%s", ident);
	log_foreground = foreground;
	if (!foreground)
		openlog(log_ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
	pthread_mutex_unlock(&log_lock);
	log_set_level(level);
}

void
log_set_level(int level)
{
	if (level < LOG_ERR)
		level = LOG_ERR;
	if (level > LOG_DEBUG)
		level = LOG_DEBUG;
	atomic_store(&log_level, level);
}

static const struct {
	const char *name;
	int prio;
} log_levels[] = {
	{ "err", LOG_ERR }, { "warn", LOG_WARNING }, { "info", LOG_INFO }, { "debug", LOG_DEBUG },
};

int
log_level_parse(const char *s)
{
	for (size_t i = 0; i < sizeof log_levels / sizeof log_levels[0]; i++)
		if (strcmp(s, log_levels[i].name) == 0)
			return log_levels[i].prio;
	return -1;
}

static const char *
log_level_name(int prio)
{
	for (size_t i = 0; i < sizeof log_levels / sizeof log_levels[0]; i++)
		if (log_levels[i].prio == prio)
			return log_levels[i].name;
	return prio < LOG_ERR ? "err" : "debug";
}

/* "2025-01-31T12:00:00.123+0100" of the current local time. */
static void
log_timestamp(char *buf, size_t n)
{
	struct timespec ts;
	struct tm tm;
	char date[24], zone[8];

	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm);
	strftime(zone, sizeof zone, "%z", &tm);
	snprintf(buf, n, "%s.%03ld%s", date, ts.tv_nsec / 1000000, zone);
}

/* Writes one whole line with one write(2), so threads never interleave within a line. */
static void
log_stderr(int prio, const char *msg)
{
	char line[LOG_LINE_MAX + 128], ts[64];
	int len;

	log_timestamp(ts, sizeof ts);
	pthread_mutex_lock(&log_lock);
	len = snprintf(line, sizeof line, "%s %s[%ld] %s %s\n", ts, log_ident,
	               (long)getpid(), log_level_name(prio), msg);
	pthread_mutex_unlock(&log_lock);
	if (len < 0)
		return;
	if ((size_t)len >= sizeof line) {
		len = sizeof line - 1;
		line[len - 1] = '\n';
	}
	if (write(STDERR_FILENO, line, (size_t)len) < 0)
		return;
}

static void
log_vmsg(int prio, const char *fmt, va_list ap)
{
	char msg[LOG_LINE_MAX];
	int len;

	len = vsnprintf(msg, sizeof msg, fmt, ap);
	if (len < 0)
		return;
	if ((size_t)len >= sizeof msg)
		memcpy(msg + sizeof msg - 4, "...", 4);
	if (log_foreground)
		log_stderr(prio, msg);
	else
		syslog(prio, "%s", msg);
}

void
log_msg(int prio, const char *fmt, ...)
{
	va_list ap;

	if (prio > atomic_load(&log_level))
		return;
	va_start(ap, fmt);
	log_vmsg(prio, fmt, ap);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	char msg[LOG_LINE_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s: %s\n", log_ident, msg);
	if (!log_foreground)
		syslog(LOG_ERR, "event=fatal msg=\"%s\"", msg);
	exit(1);
}

static int
log_needs_quotes(const char *s)
{
	if (*s == '\0')
		return 1;
	for (; *s != '\0'; s++)
		if (*s == ' ' || *s == '"' || *s == '=')
			return 1;
	return 0;
}

/* The escaped form of byte c into out (at most 4 bytes + NUL); returns its length. */
static size_t
log_escape_byte(unsigned char c, char out[5])
{
	if (c == '"' || c == '\\') {
		out[0] = '\\';
		out[1] = (char)c;
		out[2] = '\0';
		return 2;
	}
	if (c < 0x20 || c >= 0x7f) {
		snprintf(out, 5, "\\x%02x", c);
		return 4;
	}
	out[0] = (char)c;
	out[1] = '\0';
	return 1;
}

/* Length of the escaped form of s, counting no further than limit. */
static size_t
log_escaped_len(const char *s, size_t limit)
{
	char esc[5];
	size_t len = 0;

	for (; *s != '\0' && len <= limit; s++)
		len += log_escape_byte((unsigned char)*s, esc);
	return len;
}

const char *
log_value(char *buf, size_t n, const char *s)
{
	size_t len = 0, closing, room, e;
	int quoted, fits;
	char esc[5];

	if (n == 0)
		return buf;
	if (s == NULL)
		s = "-";
	quoted = log_needs_quotes(s);
	closing = quoted ? 1 : 0;
	if (n < 6 + 2 * closing) {
		buf[0] = '\0';
		return buf;
	}
	if (quoted)
		buf[len++] = '"';
	room = n - 1 - closing - len;
	fits = log_escaped_len(s, room) <= room;
	for (; *s != '\0'; s++) {
		e = log_escape_byte((unsigned char)*s, esc);
		/* When it does not all fit, keep room for "...". */
		if (!fits && e + 3 > n - 1 - closing - len) {
			memcpy(buf + len, "...", 3);
			len += 3;
			break;
		}
		memcpy(buf + len, esc, e);
		len += e;
	}
	if (quoted)
		buf[len++] = '"';
	buf[len] = '\0';
	return buf;
}
