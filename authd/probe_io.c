#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "authd.h"
#include "clock.h"

/*
 * One probe of a service, from the gateway itself (authd's network view, not
 * through the client-facing forward path): a TCP connect, or an HTTP/1.0 GET
 * whose status line must say 2xx. Every step is non-blocking and bounded by
 * one deadline, so a probe never takes longer than its timeout.
 */

#define PROBE_READ_MAX 512       /* enough for any status line */

static int
wait_for(int fd, short events, int64_t deadline_us)
{
	struct pollfd p = { fd, events, 0 };
	int64_t left;
	int n;

	while ((left = deadline_us - clock_mono_us()) > 0) {
		n = poll(&p, 1, (int)((left + 999) / 1000));
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return -1;
	}
	return -1;
}

static int
sockaddr_of(const struct guard *g, struct sockaddr_storage *ss, socklen_t *len)
{
	memset(ss, 0, sizeof *ss);
	if (g->addr.family == AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
		s4->sin_family = AF_INET;
		s4->sin_port = htons(g->port);
		memcpy(&s4->sin_addr, g->addr.bytes, 4);
		*len = sizeof *s4;
		return 0;
	}
	if (g->addr.family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(g->port);
		memcpy(&s6->sin6_addr, g->addr.bytes, 16);
		*len = sizeof *s6;
		return 0;
	}
	return -1;
}

static int
connect_by(const struct guard *g, int64_t deadline_us)
{
	struct sockaddr_storage ss;
	socklen_t len, elen = sizeof(int);
	int fd, e = 0;

	if (sockaddr_of(g, &ss, &len) == -1)
		return -1;
	if ((fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	if (connect(fd, (struct sockaddr *)&ss, len) == 0)
		return fd;
	if (errno != EINPROGRESS || wait_for(fd, POLLOUT, deadline_us) == -1 ||
	    getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &elen) == -1 || e != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Reads until the status line is complete; 1 when it says 2xx, else 0; -1 on timeout/error. */
static int
read_status(int fd, int64_t deadline_us)
{
	char buf[PROBE_READ_MAX + 1];
	size_t have = 0;
	ssize_t n;

	while (have < PROBE_READ_MAX) {
		if (wait_for(fd, POLLIN, deadline_us) == -1)
			return -1;
		n = read(fd, buf + have, PROBE_READ_MAX - have);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0)
			break;
		have += (size_t)n;
		buf[have] = '\0';
		if (strchr(buf, '\n'))
			break;
	}
	buf[have] = '\0';
	if (strncmp(buf, "HTTP/1.", 7) != 0 || have < 12 || buf[8] != ' ')
		return 0;
	return buf[9] == '2' ? 1 : 0;
}

static int
http_get(int fd, const struct probe_target *t, int64_t deadline_us)
{
	char req[PROBE_URL_MAX + GUARD_STR_MAX + 96];
	int len = snprintf(req, sizeof req, "GET %s HTTP/1.0\r\nHost: %s\r\nUser-Agent: "
	                   "sekisho-probe\r\nConnection: close\r\n\r\n", t->path, t->hostport);
	size_t off = 0;
	ssize_t n;

	if (len < 0 || (size_t)len >= sizeof req)
		return -1;
	while (off < (size_t)len) {
		if (wait_for(fd, POLLOUT, deadline_us) == -1)
			return -1;
		n = send(fd, req + off, (size_t)len - off, MSG_NOSIGNAL);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0)
			return -1;
		off += (size_t)n;
	}
	return read_status(fd, deadline_us) == 1 ? 0 : -1;
}

int
probe_once(const struct probe_target *t, int timeout_ms, int64_t *latency_us)
{
	int64_t t0 = clock_mono_us(), deadline = t0 + (int64_t)timeout_ms * 1000;
	int fd = connect_by(&t->to, deadline), rc = fd == -1 ? -1 : 0;

	if (rc == 0 && t->kind == PROBE_HTTP)
		rc = http_get(fd, t, deadline);
	if (fd != -1)
		close(fd);
	*latency_us = rc == 0 ? clock_mono_us() - t0 : (int64_t)timeout_ms * 1000;
	return rc;
}
