/*
 * cidload: an open-loop HTTP/1.1 load generator for cid's benchmark.
 *
 *   cidload ADDR PORT PATH RATE CONNS SECONDS [HEADER]...
 *
 * Sends RATE requests a second for SECONDS over CONNS keep-alive connections
 * (one request in flight per connection) and measures each one from the time
 * it was *scheduled*, not sent, so a server that falls behind is charged for
 * the queue it causes (no coordinated omission). Prints one line:
 *   rate=R sent=N ok=N bad=N achieved=R p50_us= p90_us= p99_us= p999_us= max_us= reconnects=N
 * "ok" counts 2xx answers; a request lost with a closed connection is "bad". Exits 1 when the run could not be made at all.
 */

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"

#define CONNS_MAX  1024
#define REQ_MAX    2048
#define RESP_MAX   4096
#define FINE_US    10000       /* 1 us buckets below this */
#define COARSE_US  10000000    /* 100 us buckets below this, then one overflow bucket */
#define N_FINE     FINE_US
#define N_COARSE   ((COARSE_US - FINE_US) / 100)

struct conn {
	int fd;
	int busy;
	int64_t sched_ns;        /* when the request in flight was due */
	char buf[RESP_MAX];
	size_t len;
};

static struct conn conns[CONNS_MAX];
static uint64_t hist[N_FINE + N_COARSE + 1];
static char req[REQ_MAX];
static size_t req_len;
static uint64_t n_ok, n_bad, n_done;
static int64_t max_us;

static int64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void
record(int64_t us)
{
	if (us < 0)
		us = 0;
	if (us > max_us)
		max_us = us;
	if (us < FINE_US)
		hist[us]++;
	else if (us < COARSE_US)
		hist[N_FINE + (us - FINE_US) / 100]++;
	else
		hist[N_FINE + N_COARSE]++;
}

static int64_t
percentile(double p)
{
	uint64_t want = (uint64_t)(p * (double)n_done), seen = 0;

	for (size_t i = 0; i < sizeof hist / sizeof hist[0]; i++) {
		seen += hist[i];
		if (seen > want || (seen == n_done && seen > 0))
			return i < N_FINE ? (int64_t)i : FINE_US + (int64_t)(i - N_FINE) * 100;
	}
	return max_us;
}

/* Length of a complete response at the start of c->buf, 0 if incomplete, -1 if unparsable. */
static long
response_len(struct conn *c, int *status)
{
	char *end, *cl;
	long long body = 0;

	c->buf[c->len < RESP_MAX ? c->len : RESP_MAX - 1] = '\0';
	if ((end = strstr(c->buf, "\r\n\r\n")) == NULL)
		return c->len >= RESP_MAX - 1 ? -1 : 0;
	if (strncmp(c->buf, "HTTP/1.1 ", 9) != 0)
		return -1;
	*status = atoi(c->buf + 9);
	for (cl = c->buf; (cl = strchr(cl, '\n')) != NULL && cl < end; cl++)
		if (strncasecmp(cl + 1, "Content-Length:", 15) == 0)
			body = strtoll(cl + 16, NULL, 10);
	if ((size_t)(end + 4 - c->buf) + (size_t)body > c->len)
		return 0;
	return (long)(end + 4 - c->buf) + (long)body;
}

static int
send_req(struct conn *c, int64_t sched)
{
	if (send(c->fd, req, req_len, MSG_NOSIGNAL) != (ssize_t)req_len)
		return -1;
	c->busy = 1;
	c->sched_ns = sched;
	return 0;
}

/* Reads what arrived; 1 when a response completed, 0 not yet, -1 on error. */
static int
on_readable(struct conn *c)
{
	ssize_t n;
	long rl;
	int status = 0;

	n = recv(c->fd, c->buf + c->len, RESP_MAX - 1 - c->len, 0);
	if (n <= 0)
		return n < 0 && errno == EAGAIN ? 0 : -1;
	c->len += (size_t)n;
	if ((rl = response_len(c, &status)) <= 0)
		return (int)rl;
	record((now_ns() - c->sched_ns) / 1000);
	n_done++;
	if (status >= 200 && status < 300)
		n_ok++;
	else
		n_bad++;
	memmove(c->buf, c->buf + rl, c->len - (size_t)rl);
	c->len -= (size_t)rl;
	c->busy = 0;
	return 1;
}

static struct sockaddr_in server;
static uint64_t n_reconnects;

static int
connect_one(struct conn *c, int ep)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
	int one = 1;

	c->busy = 0;
	c->len = 0;
	if ((c->fd = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
	    connect(c->fd, (struct sockaddr *)&server, sizeof server) == -1)
		return -1;
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	return epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
}

/* A server may close a keep-alive connection (nginx after keepalive_requests): open another. */
static int
reconnect(struct conn *c, int ep)
{
	if (c->busy) {
		record((now_ns() - c->sched_ns) / 1000);
		n_done++;
		n_bad++;
	}
	close(c->fd);
	n_reconnects++;
	return connect_one(c, ep);
}

static int
connect_all(const char *ip, int port, int n, int ep)
{
	server.sin_family = AF_INET;
	server.sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, ip, &server.sin_addr) != 1)
		return -1;
	for (int i = 0; i < n; i++)
		if (connect_one(&conns[i], ep) == -1)
			return -1;
	return 0;
}

/* The run: a FIFO of due requests waits for free connections. */
static int
run(int ep, int nconns, long long rate, long long secs)
{
	uint64_t total = (uint64_t)(rate * secs), due = 0, sent = 0;
	int64_t t0 = now_ns(), interval = 1000000000 / rate, next, wait_ns;
	struct epoll_event evs[64];
	struct timespec ts;
	int n;

	while (n_done < total && now_ns() < t0 + (secs + 10) * 1000000000LL) {
		int64_t now = now_ns();

		while (due < total && t0 + (int64_t)due * interval <= now)
			due++;
		for (int k = 0; k < nconns && sent < due; k++) {
			if (conns[k].busy)
				continue;
			if (send_req(&conns[k], t0 + (int64_t)sent * interval) == -1)
				return -1;
			sent++;
		}
		next = due < total ? t0 + (int64_t)due * interval : now + 1000000;
		wait_ns = next - now_ns();
		ts.tv_sec = 0;
		ts.tv_nsec = wait_ns > 0 ? wait_ns : 0;
		if ((n = epoll_pwait2(ep, evs, 64, &ts, NULL)) == -1 && errno != EINTR)
			return -1;
		for (int i = 0; i < n; i++)
			if (on_readable(evs[i].data.ptr) == -1 && reconnect(evs[i].data.ptr, ep) == -1)
				return -1;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	long long port, rate, nconns, secs;
	int64_t t0;
	int ep, off;

	if (argc < 7 || parse_int(argv[2], 1, 65535, &port) == -1 ||
	    parse_int(argv[4], 1, 10000000, &rate) == -1 ||
	    parse_int(argv[5], 1, CONNS_MAX, &nconns) == -1 || parse_int(argv[6], 1, 3600, &secs) == -1) {
		fprintf(stderr, "usage: cidload ADDR PORT PATH RATE CONNS SECONDS [HEADER]...\n");
		return 2;
	}
	off = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: %s\r\n", argv[3], argv[1]);
	for (int i = 7; i < argc && off > 0 && (size_t)off < sizeof req; i++)
		off += snprintf(req + off, sizeof req - (size_t)off, "%s\r\n", argv[i]);
	if (off <= 0 || (size_t)off + 3 > sizeof req)
		return 2;
	memcpy(req + off, "\r\n", 3);
	req_len = (size_t)off + 2;
	prctl(PR_SET_TIMERSLACK, 1UL);
	if ((ep = epoll_create1(0)) == -1 || connect_all(argv[1], (int)port, (int)nconns, ep) == -1) {
		perror("cidload: connect");
		return 1;
	}
	t0 = now_ns();
	if (run(ep, (int)nconns, rate, secs) == -1)
		perror("cidload: run");
	printf("rate=%lld sent=%llu ok=%llu bad=%llu achieved=%.0f p50_us=%lld p90_us=%lld "
	       "p99_us=%lld p999_us=%lld max_us=%lld reconnects=%llu\n", rate, (unsigned long long)n_done,
	       (unsigned long long)n_ok, (unsigned long long)n_bad,
	       (double)n_done * 1e9 / (double)(now_ns() - t0), (long long)percentile(0.5),
	       (long long)percentile(0.9), (long long)percentile(0.99), (long long)percentile(0.999),
	       (long long)max_us, (unsigned long long)n_reconnects);
	return 0;
}
