#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "addr.h"
#include "clock.h"
#include "ctl.h"

/*
 * GET /healthz on authd's and cid's monitor listeners, for sekishoctl status.
 * A bounded, blocking HTTP/1.0 client: one request, at most HEALTH_BODY_MAX
 * bytes of answer, everything within the caller's timeout.
 */

#define HEALTH_BODY_MAX 1024

/* Waits for fd to be ready for ev until deadline (monotonic ms). 0, or -1 with errno. */
static int
wait_fd(int fd, short ev, int64_t deadline)
{
	struct pollfd p = { fd, ev, 0 };
	int64_t left = deadline - clock_mono_ms();
	int rc;

	if (left <= 0) {
		errno = ETIMEDOUT;
		return -1;
	}
	rc = poll(&p, 1, (int)left);
	if (rc == 0)
		errno = ETIMEDOUT;
	return rc > 0 ? 0 : -1;
}

static int
connect_by(int fd, const struct sockaddr_storage *ss, socklen_t sl, int64_t deadline)
{
	int e = 0;
	socklen_t el = sizeof e;

	if (connect(fd, (const struct sockaddr *)ss, sl) == 0)
		return 0;
	if (errno != EINPROGRESS || wait_fd(fd, POLLOUT, deadline) == -1)
		return -1;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el) == -1)
		return -1;
	errno = e;
	return e == 0 ? 0 : -1;
}

/* Sends the request and reads the answer into buf (NUL-terminated). Bytes read, or -1. */
static ssize_t
exchange(int fd, char *buf, size_t n, int64_t deadline)
{
	static const char req[] = "GET /healthz HTTP/1.0\r\nHost: localhost\r\n\r\n";
	size_t got = 0;
	ssize_t r;

	if (send(fd, req, sizeof req - 1, MSG_NOSIGNAL) != (ssize_t)(sizeof req - 1))
		return -1;
	while (got < n - 1) {
		if (wait_fd(fd, POLLIN, deadline) == -1)
			return -1;
		if ((r = recv(fd, buf + got, n - 1 - got, 0)) < 0)
			return -1;
		if (r == 0)
			break;
		got += (size_t)r;
	}
	buf[got] = '\0';
	return (ssize_t)got;
}

/* "store ok\nipfd ok\n" -> "store ok, ipfd ok": the body's lines on one line. */
static void
join_body(const char *body, char *out, size_t n)
{
	size_t len = 0;

	out[0] = '\0';
	for (const char *p = body; *p != '\0' && len + 3 < n; p++) {
		if (*p == '\r')
			continue;
		if (*p == '\n') {
			if (p[1] != '\0' && p[1] != '\n')
				len += (size_t)snprintf(out + len, n - len, ", ");
			continue;
		}
		out[len++] = (*p >= 0x20 && *p < 0x7f) ? *p : '?';
		out[len] = '\0';
	}
}

int
ctl_health(const char *listen, int timeout_ms, int *http_status, char *detail, size_t n)
{
	struct sockaddr_storage ss;
	char buf[HEALTH_BODY_MAX + 1];
	const char *body;
	int64_t deadline = clock_mono_ms() + timeout_ms;
	socklen_t sl;
	int fd, status = 0;

	*http_status = 0;
	if (addr_parse_listen(listen, &ss, &sl) == -1) {
		snprintf(detail, n, "bad monitor address %s", listen);
		return -1;
	}
	if ((fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) == -1 ||
	    connect_by(fd, &ss, sl, deadline) == -1 || exchange(fd, buf, sizeof buf, deadline) < 0) {
		snprintf(detail, n, "%s: %s", listen, strerror(errno));
		if (fd != -1)
			close(fd);
		return -1;
	}
	close(fd);
	if (sscanf(buf, "HTTP/1.%*1[01] %3d", &status) != 1 || status < 100 || status > 599) {
		snprintf(detail, n, "%s: not an HTTP answer", listen);
		return -1;
	}
	*http_status = status;
	body = strstr(buf, "\r\n\r\n");
	join_body(body != NULL ? body + 4 : "", detail, n);
	return status == 200 ? 1 : 0;
}
