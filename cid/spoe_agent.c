#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "cid.h"
#include "log.h"
#include "spoe.h"

/*
 * cid as HAProxy's SPOE agent ([cid] spoe_listen): HAProxy sends the
 * message "sekisho-check" with the service, the cookie, the client's
 * address and whether it came over HTTPS; cid decides as for
 * /_sekisho/auth and answers with transaction variables (docs/proxies.md):
 *
 *   allow (bool), status (204/401/400/503), result (the check's label),
 *   user and remaining (when allowed), redirect (the portal, on 401).
 *
 * One thread serves every connection with poll(): each check is a lookup
 * in memory, and we offer HAProxy no pipelining, so each connection carries
 * one NOTIFY at a time. Only [cid] trusted_proxies may connect. A malformed
 * or oversized frame gets a DISCONNECT with its status, a log line, and the
 * connection is closed.
 */

#define SPOE_CONNS_MAX    64     /* connections from HAProxy at once */
#define SPOE_WRITE_MS     1000   /* the longest wait to send one answer */
#define SPOE_MESSAGE      "sekisho-check"

struct spoe_conn {
	int fd;
	int hello_done;
	uint32_t max_frame;          /* agreed in the HELLO */
	size_t have;
	char peer[ADDR_STR_MAX];
	uint8_t buf[4 + SPOE_FRAME_MAX];
};

struct spoe_agent {
	int lfd;
	int wake[2];                 /* written to at stop */
	pthread_t thread;
	int running;
	struct cid *cid;
	struct spoe_conn *conns[SPOE_CONNS_MAX];
	struct spoe_out out;
	struct spoe_msg msgs[SPOE_MSGS_MAX];
};

struct spoe_agent *
spoe_agent_listen(const char *where, char *err, size_t errlen)
{
	struct spoe_agent *a;
	struct sockaddr_storage ss;
	socklen_t sl;
	int one = 1;

	if (addr_parse_listen(where, &ss, &sl) == -1) {
		snprintf(err, errlen, "spoe_listen: not ADDR:PORT: %s", where);
		return NULL;
	}
	if ((a = calloc(1, sizeof *a)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	a->wake[0] = a->wake[1] = -1;
	if ((a->lfd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) == -1 ||
	    setsockopt(a->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) == -1 ||
	    bind(a->lfd, (struct sockaddr *)&ss, sl) == -1 || listen(a->lfd, SOMAXCONN) == -1 ||
	    pipe2(a->wake, O_CLOEXEC | O_NONBLOCK) == -1) {
		snprintf(err, errlen, "spoe_listen %s: %s", where, strerror(errno));
		spoe_agent_free(a);
		return NULL;
	}
	return a;
}

void
spoe_agent_free(struct spoe_agent *a)
{
	int i;

	if (a == NULL)
		return;
	for (i = 0; i < SPOE_CONNS_MAX; i++) {
		if (a->conns[i] != NULL) {
			close(a->conns[i]->fd);
			free(a->conns[i]);
		}
	}
	if (a->lfd >= 0)
		close(a->lfd);
	if (a->wake[0] >= 0)
		close(a->wake[0]);
	if (a->wake[1] >= 0)
		close(a->wake[1]);
	free(a);
}

/* Sends all of buf, waiting at most SPOE_WRITE_MS for room. 0 or -1. */
static int
send_all(int fd, const uint8_t *buf, size_t len)
{
	struct pollfd pfd = { .fd = fd, .events = POLLOUT };
	ssize_t n;

	while (len > 0) {
		if ((n = send(fd, buf, len, MSG_NOSIGNAL)) > 0) {
			buf += n;
			len -= (size_t)n;
		} else if (n == -1 && errno == EINTR) {
			continue;
		} else if (n == -1 && errno == EAGAIN) {
			if (poll(&pfd, 1, SPOE_WRITE_MS) != 1)
				return -1;
		} else {
			return -1;
		}
	}
	return 0;
}

static void
conn_close(struct spoe_agent *a, int i)
{
	close(a->conns[i]->fd);
	free(a->conns[i]);
	a->conns[i] = NULL;
}

/* Says why in a DISCONNECT and in the log (rate-limited); the caller closes. */
static void
refuse(struct spoe_agent *a, struct spoe_conn *c, int status, const char *why)
{
	cid_log_bad("event=spoe result=disconnect peer=%s status=%d error=\"%s\"", c->peer, status,
	            why);
	if (spoe_out_disconnect(&a->out, status, why) == 0)
		(void)send_all(c->fd, a->out.buf, a->out.len);
}

/* Copies a string argument that holds no NUL into buf (size n). 0, or -1 if absent, too long or binary. */
static int
arg_str(const struct spoe_value *v, char *buf, size_t n)
{
	if (v == NULL || v->type != SPOE_STRING || v->len >= n || memchr(v->s, '\0', v->len) != NULL)
		return -1;
	memcpy(buf, v->s, v->len);
	buf[v->len] = '\0';
	return 0;
}

/* The client's address from an IPV4/IPV6 argument. 0 or -1. */
static int
arg_addr(const struct spoe_value *v, struct sockaddr_storage *ss)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof *ss);
	if (v != NULL && v->type == SPOE_IPV4) {
		s4->sin_family = AF_INET;
		memcpy(&s4->sin_addr, v->ip, 4);
		return 0;
	}
	if (v != NULL && v->type == SPOE_IPV6) {
		s6->sin6_family = AF_INET6;
		memcpy(&s6->sin6_addr, v->ip, 16);
		return 0;
	}
	return -1;
}

static int64_t
arg_count(const struct spoe_value *v, int64_t dflt)
{
	if (v == NULL)
		return dflt;
	if (v->type == SPOE_INT32 || v->type == SPOE_INT64)
		return v->i;
	if (v->type == SPOE_UINT32 || v->type == SPOE_UINT64)
		return v->u > INT32_MAX ? INT32_MAX : (int64_t)v->u;
	return dflt;
}

/*
 * The check_in of one message. Strings are copied into the caller's
 * buffers. 0, or the result when the message itself decides (a cookie
 * that is not text or too long: CHECK_BAD_COOKIE; no client address or a
 * malformed service: CHECK_BAD_REQUEST) with *why.
 */
static int
msg_check_in(const struct spoe_msg *m, struct check_in *in, char *svc, char *host, char *cookie,
             struct sockaddr_storage *ss, const char **why)
{
	const struct spoe_value *v;

	memset(in, 0, sizeof *in);
	if (arg_addr(spoe_msg_arg(m, "ip"), ss) == -1)
		return *why = "no client address (ip)", CHECK_BAD_REQUEST;
	in->peer = (const struct sockaddr *)ss;
	if ((v = spoe_msg_arg(m, "service")) != NULL && v->type != SPOE_NULL) {
		if (arg_str(v, svc, NAME_MAX_LEN + 1) == -1)
			return *why = "invalid service name", CHECK_BAD_REQUEST;
		in->service = svc;
		in->n_service = 1;
	}
	if (arg_str(spoe_msg_arg(m, "host"), host, CID_HOST_MAX + 1) == 0)
		in->host = host;
	if ((v = spoe_msg_arg(m, "cookie")) != NULL && v->type != SPOE_NULL) {
		if (arg_str(v, cookie, TOKEN_STR_MAX) == -1)
			return *why = "oversized or binary cookie", CHECK_BAD_COOKIE;
		in->cookie = cookie;
		in->n_cookie = (int)arg_count(spoe_msg_arg(m, "cookies"), 1);
	}
	v = spoe_msg_arg(m, "https");
	in->tls = v != NULL && v->type == SPOE_BOOL && v->boolean;
	return 0;
}

/* Decides one message into out, under the live lock as an HTTP check is. */
static void
decide(struct cid *cid, const struct spoe_msg *m, const char *peer, struct check_out *out,
       char *url, size_t url_len)
{
	char svc[NAME_MAX_LEN + 1], host[CID_HOST_MAX + 1], cookie[TOKEN_STR_MAX];
	struct sockaddr_storage ss;
	struct check_in in;
	struct check_req q;
	const char *why = NULL;
	int rc;

	memset(out, 0, sizeof *out);
	pthread_rwlock_rdlock(&cid->live_lock);
	if ((rc = msg_check_in(m, &in, svc, host, cookie, &ss, &why)) != 0) {
		out->result = rc;
		out->why = why;
	} else if (check_parse(&cid->cc, &in, &q, out) == CHECK_OK) {
		check_run(&cid->cache, &cid->cc, &q, time(NULL), out);
	}
	if (check_status(out->result) == 401)
		cid_portal_url(cid, out->service[0] ? out->service : NULL, url, url_len);
	pthread_rwlock_unlock(&cid->live_lock);
	if (out->why != NULL)
		cid_log_bad("event=check via=spoe result=%s service=%s peer=%s error=\"%s\"",
		            check_label(out->result), out->service[0] ? out->service : "-", peer,
		            out->why);
}

/* The ACK of a NOTIFY: the variables of our message, none for others. 0 or -1 (too big). */
static int
answer(struct spoe_agent *a, struct spoe_conn *c, const struct spoe_frame *f, int n)
{
	char url[CONF_STR_MAX + NAME_MAX_LEN + 16] = "";
	struct spoe_out *o = &a->out;
	struct check_out out;
	struct timespec t0;
	int i;

	spoe_out_begin(o, c->max_frame, SPOE_ACK, f->stream_id, f->frame_id);
	for (i = 0; i < n; i++) {
		if (!spoe_name_is(a->msgs[i].name, a->msgs[i].name_len, SPOE_MESSAGE))
			continue;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		decide(a->cid, &a->msgs[i], c->peer, &out, url, sizeof url);
		spoe_out_set_bool(o, SPOE_TXN, "allow", out.result == CHECK_OK);
		spoe_out_set_int(o, SPOE_TXN, "status", check_status(out.result));
		spoe_out_set_str(o, SPOE_TXN, "result", check_label(out.result));
		if (out.result == CHECK_OK) {
			spoe_out_set_str(o, SPOE_TXN, "user", out.user);
			spoe_out_set_int(o, SPOE_TXN, "remaining", out.remaining);
		} else if (url[0] != '\0') {
			spoe_out_set_str(o, SPOE_TXN, "redirect", url);
		}
		cid_count_check(a->cid, &out, &t0);
	}
	return spoe_out_end(o);
}

/* Handles the HELLO. 0 to go on, -1 to close (after saying why, or a health check). */
static int
on_hello(struct spoe_agent *a, struct spoe_conn *c, const struct spoe_frame *f)
{
	struct spoe_hello h;
	const char *why = NULL;
	int st;

	if (c->hello_done)
		return refuse(a, c, SPOE_ST_INVALID, "a second HELLO"), -1;
	if ((st = spoe_hello_parse(f->payload, f->len, &h, &why)) != SPOE_ST_NORMAL)
		return refuse(a, c, st, why), -1;
	c->max_frame = h.max_frame < SPOE_FRAME_MAX ? h.max_frame : SPOE_FRAME_MAX;
	if (spoe_out_hello(&a->out, c->max_frame) == -1 ||
	    send_all(c->fd, a->out.buf, a->out.len) == -1)
		return -1;
	c->hello_done = 1;
	return h.healthcheck ? -1 : 0;
}

/* One whole frame of c. 0 to go on, -1 to close. */
static int
on_frame(struct spoe_agent *a, struct spoe_conn *c, const uint8_t *buf, size_t len)
{
	struct spoe_frame f;
	const char *why = NULL;
	int n;

	if (spoe_frame_parse(buf, len, &f, &why) == -1)
		return refuse(a, c, SPOE_ST_INVALID, why), -1;
	if (!(f.flags & SPOE_FLAG_FIN))
		return refuse(a, c, SPOE_ST_NO_FRAGMENTATION, "fragmented frame"), -1;
	switch (f.type) {
	case SPOE_HAPROXY_HELLO:
		return on_hello(a, c, &f);
	case SPOE_HAPROXY_DISCONNECT:
		if (spoe_out_disconnect(&a->out, SPOE_ST_NORMAL, "bye") == 0)
			(void)send_all(c->fd, a->out.buf, a->out.len);
		return -1;
	default:
		if (!c->hello_done)
			return refuse(a, c, SPOE_ST_INVALID, "NOTIFY before HELLO"), -1;
		if (spoe_notify_parse(f.payload, f.len, a->msgs, SPOE_MSGS_MAX, &n, &why) == -1)
			return refuse(a, c, SPOE_ST_INVALID, why), -1;
		if (answer(a, c, &f, n) == -1)
			return refuse(a, c, SPOE_ST_TOO_BIG, "answer larger than max-frame-size"), -1;
		return send_all(c->fd, a->out.buf, a->out.len);
	}
}

/* Reads what c has sent and handles each whole frame. 0 to go on, -1 to close. */
static int
on_readable(struct spoe_agent *a, struct spoe_conn *c)
{
	size_t flen, limit;
	ssize_t n;

	n = recv(c->fd, c->buf + c->have, sizeof c->buf - c->have, 0);
	if (n == 0 || (n == -1 && errno != EAGAIN && errno != EINTR))
		return -1;
	if (n > 0)
		c->have += (size_t)n;
	while (c->have >= 4) {
		flen = (size_t)c->buf[0] << 24 | (size_t)c->buf[1] << 16 | (size_t)c->buf[2] << 8 |
		       c->buf[3];
		limit = c->hello_done ? c->max_frame : SPOE_FRAME_MAX;
		if (flen > limit)
			return refuse(a, c, SPOE_ST_TOO_BIG, "frame larger than max-frame-size"), -1;
		if (c->have < 4 + flen)
			break;
		if (on_frame(a, c, c->buf + 4, flen) == -1)
			return -1;
		c->have -= 4 + flen;
		memmove(c->buf, c->buf + 4 + flen, c->have);
	}
	return 0;
}

/* A new connection: only from a trusted proxy, and while a slot is free. */
static void
on_accept(struct spoe_agent *a)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
	struct spoe_conn *c;
	struct addr peer;
	int fd, i, trusted;

	if ((fd = accept4(a->lfd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC)) == -1)
		return;
	pthread_rwlock_rdlock(&a->cid->live_lock);
	trusted = addr_from_sockaddr((struct sockaddr *)&ss, &peer) == 0 &&
	          cid_trusted(&a->cid->cc, &peer);
	pthread_rwlock_unlock(&a->cid->live_lock);
	for (i = 0; i < SPOE_CONNS_MAX && a->conns[i] != NULL; i++)
		;
	if (!trusted || i == SPOE_CONNS_MAX || (c = calloc(1, sizeof *c)) == NULL) {
		cid_log_bad("event=spoe result=refused why=\"%s\"",
		            !trusted ? "not a trusted proxy" : "too many connections");
		close(fd);
		return;
	}
	c->fd = fd;
	addr_str(&peer, c->peer, sizeof c->peer);
	a->conns[i] = c;
}

static void *
agent_main(void *arg)
{
	struct spoe_agent *a = arg;
	struct pollfd pfd[2 + SPOE_CONNS_MAX];
	int slot[2 + SPOE_CONNS_MAX], n, i;

	for (;;) {
		pfd[0] = (struct pollfd){ .fd = a->wake[0], .events = POLLIN };
		pfd[1] = (struct pollfd){ .fd = a->lfd, .events = POLLIN };
		for (n = 2, i = 0; i < SPOE_CONNS_MAX; i++) {
			if (a->conns[i] != NULL) {
				slot[n] = i;
				pfd[n++] = (struct pollfd){ .fd = a->conns[i]->fd, .events = POLLIN };
			}
		}
		if (poll(pfd, (nfds_t)n, -1) == -1)
			continue;
		if (pfd[0].revents)
			return NULL;
		if (pfd[1].revents & POLLIN)
			on_accept(a);
		for (i = 2; i < n; i++)
			if (pfd[i].revents && on_readable(a, a->conns[slot[i]]) == -1)
				conn_close(a, slot[i]);
	}
}

int
spoe_agent_start(struct spoe_agent *a, struct cid *cid)
{
	a->cid = cid;
	if (pthread_create(&a->thread, NULL, agent_main, a) != 0)
		return -1;
	a->running = 1;
	return 0;
}

void
spoe_agent_stop(struct spoe_agent *a)
{
	if (a == NULL)
		return;
	if (a->running) {
		if (write(a->wake[1], "x", 1) != 1)
			log_warn("event=spoe error=\"cannot wake the agent thread\"");
		pthread_join(a->thread, NULL);
	}
	spoe_agent_free(a);
}
