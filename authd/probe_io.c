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
 * whose status line must say 2xx. A probe is a small state machine on one
 * non-blocking socket (struct probe_conn), so the prober runs every
 * service's probe at once in one poll set: a slow or dead service never
 * delays another's probe. Each probe is bounded by its own deadline.
 */

enum { STEP_CONNECT = 1, STEP_SEND, STEP_READ };

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

/* Starts the connect. 0 (in progress or done), or -1: a miss at once. */
static int
connect_start(struct probe_conn *c, const struct guard *g)
{
	struct sockaddr_storage ss;
	socklen_t len;

	if (sockaddr_of(g, &ss, &len) == -1)
		return -1;
	if ((c->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	if (connect(c->fd, (struct sockaddr *)&ss, len) == 0 || errno == EINPROGRESS)
		return 0;
	return -1;
}

static void
finish(struct probe_conn *c, int ok)
{
	if (c->fd != -1)
		close(c->fd);
	c->fd = -1;
	c->step = 0;
	c->latency_us = ok ? clock_mono_us() - c->t0_us : (int64_t)c->timeout_ms * 1000;
	c->ok = ok;
}

int
probe_start(struct probe_conn *c, const struct probe_target *t, int timeout_ms)
{
	int len;

	memset(c, 0, sizeof *c);
	c->fd = -1;
	c->t0_us = clock_mono_us();
	c->timeout_ms = timeout_ms;
	c->deadline_us = c->t0_us + (int64_t)timeout_ms * 1000;
	len = snprintf(c->req, sizeof c->req, "GET %s HTTP/1.0\r\nHost: %s\r\nUser-Agent: "
	               "sekisho-probe\r\nConnection: close\r\n\r\n", t->path, t->hostport);
	c->http = t->kind == PROBE_HTTP;
	if (len < 0 || (size_t)len >= sizeof c->req || connect_start(c, &t->to) == -1) {
		finish(c, 0);
		return PROBE_MISS;
	}
	c->req_len = (size_t)len;
	c->step = STEP_CONNECT;
	return PROBE_PENDING;
}

short
probe_events(const struct probe_conn *c)
{
	return c->step == STEP_READ ? POLLIN : POLLOUT;
}

/* Sends what the socket takes now. 1 when all is sent, 0 to wait, -1 on error. */
static int
send_some(struct probe_conn *c)
{
	ssize_t n;

	while (c->sent < c->req_len) {
		n = send(c->fd, c->req + c->sent, c->req_len - c->sent, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return 0;
		if (n <= 0)
			return -1;
		c->sent += (size_t)n;
	}
	return 1;
}

/* Reads what is there. 1 when the status line is complete (or the peer closed), 0 to wait. */
static int
read_some(struct probe_conn *c)
{
	ssize_t n;

	while (c->have < PROBE_READ_MAX) {
		n = read(c->fd, c->buf + c->have, PROBE_READ_MAX - c->have);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return 0;
		if (n <= 0)
			return 1;
		c->have += (size_t)n;
		c->buf[c->have] = '\0';
		if (strchr(c->buf, '\n'))
			return 1;
	}
	return 1;
}

/* Reads the whole answer into c->page. 1 at its end, 0 to wait, -1 when too large or failed. */
static int
read_page(struct probe_conn *c)
{
	ssize_t n;

	for (;;) {
		if (c->page_len == c->page_max)
			return -1;
		n = read(c->fd, c->page + c->page_len, c->page_max - c->page_len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return 0;
		if (n < 0)
			return -1;
		if (n == 0)
			return 1;
		c->page_len += (size_t)n;
	}
}

/* The status line (s, n bytes) says 2xx. */
static int
status_ok(const char *s, size_t n)
{
	return n >= 12 && strncmp(s, "HTTP/1.", 7) == 0 && s[8] == ' ' && s[9] == '2';
}

int
probe_advance(struct probe_conn *c, short revents, int64_t now_us)
{
	socklen_t elen = sizeof(int);
	int e = 0, r;

	if (c->step == 0)
		return c->ok ? PROBE_OK : PROBE_MISS;
	if (revents == 0)
		goto wait;
	switch (c->step) {
	case STEP_CONNECT:
		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &e, &elen) == -1 || e != 0)
			return finish(c, 0), PROBE_MISS;
		if (!c->http)
			return finish(c, 1), PROBE_OK;
		c->step = STEP_SEND;
		/* FALLTHROUGH */
	case STEP_SEND:
		if ((r = send_some(c)) == -1)
			return finish(c, 0), PROBE_MISS;
		if (r == 1)
			c->step = STEP_READ;
		break;
	default:
		if (c->page != NULL) {
			if ((r = read_page(c)) == -1)
				return finish(c, 0), PROBE_MISS;
			if (r == 1) {
				r = status_ok(c->page, c->page_len);
				return finish(c, r), r ? PROBE_OK : PROBE_MISS;
			}
		} else if (read_some(c) == 1) {
			r = status_ok(c->buf, c->have);
			return finish(c, r), r ? PROBE_OK : PROBE_MISS;
		}
	}
wait:
	if (now_us >= c->deadline_us)
		return finish(c, 0), PROBE_MISS;
	return PROBE_PENDING;
}

int
probe_fetch(struct probe_conn *c, const struct probe_target *t, int timeout_ms, char *page,
            size_t max)
{
	int rc = probe_start(c, t, timeout_ms);

	c->page = page;
	c->page_max = max;
	return rc;
}

const char *
probe_body(const struct probe_conn *c, size_t *len)
{
	const char *end = c->page ? memmem(c->page, c->page_len, "\r\n\r\n", 4) : NULL;

	if (end == NULL)
		return NULL;
	end += 4;
	*len = c->page_len - (size_t)(end - c->page);
	return end;
}

void
probe_abort(struct probe_conn *c)
{
	if (c->fd != -1)
		close(c->fd);
	c->fd = -1;
	c->step = 0;
}

int
probe_once(const struct probe_target *t, int timeout_ms, int64_t *latency_us)
{
	struct probe_conn c;
	struct pollfd pfd;
	int64_t left;
	int rc = probe_start(&c, t, timeout_ms);

	while (rc == PROBE_PENDING) {
		pfd = (struct pollfd){ c.fd, probe_events(&c), 0 };
		left = c.deadline_us - clock_mono_us();
		if (poll(&pfd, 1, left > 0 ? (int)((left + 999) / 1000) : 0) < 0 && errno != EINTR)
			pfd.revents = 0;
		rc = probe_advance(&c, pfd.revents, clock_mono_us());
	}
	*latency_us = c.latency_us;
	return rc == PROBE_OK ? 0 : -1;
}
