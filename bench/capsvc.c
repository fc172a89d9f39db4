/*
 * capsvc: a service whose capacity is known, for the load-aware admission
 * tests and benchmark (docs/adaptive.md). W worker threads each answer one
 * HTTP request at a time after SERVICE_MS of (sleeping) work; requests
 * beyond W wait in the accept queue, so latency rises with concurrent users
 * once they exceed W: capacity = W * 1000 / SERVICE_MS requests per second.
 *
 *   capsvc ADDR PORT WORKERS SERVICE_MS [METRICS_PORT]
 *
 * With METRICS_PORT, a thread of its own answers GET /metrics on ADDR:METRICS_PORT
 * at once (it does not queue behind the workers) in the Prometheus text
 * format: capsvc_inflight, the requests accepted by the kernel and not yet
 * answered (busy workers + the listen socket's accept queue, from TCP_INFO),
 * and capsvc_workers, the active workers: the gauge docs/adaptive.md reads.
 *
 * At run time: SIGUSR1 halves the workers (capacity halves), SIGUSR2 restores
 * them. GET /_capsvc/time?ms=N sets the service time (the request itself
 * waits its turn like any other). Every path answers 200 "ok".
 */

#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"

#define WORKERS_MAX 256
#define REQ_MAX     2048

static atomic_int active_workers, service_ms, busy;
static int all_workers, lfd;

static void
on_signal(int sig)
{
	int w = atomic_load(&active_workers);

	if (sig == SIGUSR1 && w > 1)
		atomic_store(&active_workers, w / 2);
	else if (sig == SIGUSR2)
		atomic_store(&active_workers, all_workers);
}

static void
sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/* Reads the request head; sets the service time when asked to. 0, or -1 to drop. */
static int
read_request(int fd)
{
	char req[REQ_MAX + 1];
	size_t have = 0;
	ssize_t n;
	const char *q;
	long long ms;
	char num[16];

	while (have < REQ_MAX && (n = read(fd, req + have, REQ_MAX - have)) > 0) {
		have += (size_t)n;
		req[have] = '\0';
		if (strstr(req, "\r\n\r\n"))
			break;
	}
	if (have == 0)
		return -1;
	req[have] = '\0';
	if (strncmp(req, "GET /_capsvc/time?ms=", 21) == 0) {
		q = req + 21;
		snprintf(num, sizeof num, "%.*s", (int)strspn(q, "0123456789"), q);
		if (parse_int(num, 0, 60000, &ms) == 0)
			atomic_store(&service_ms, (int)ms);
	}
	return 0;
}

static void *
worker(void *arg)
{
	static const char ok[] = "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n"
	                         "Content-Length: 3\r\nConnection: close\r\n\r\nok\n";
	int id = (int)(intptr_t)arg, fd;

	for (;;) {
		if (id >= atomic_load(&active_workers)) {
			sleep_ms(50);
			continue;
		}
		if ((fd = accept(lfd, NULL, NULL)) == -1)
			continue;
		atomic_fetch_add(&busy, 1);
		if (read_request(fd) == 0) {
			sleep_ms(atomic_load(&service_ms));
			if (write(fd, ok, sizeof ok - 1) < 0)
				(void)0;
		}
		close(fd);
		atomic_fetch_sub(&busy, 1);
	}
	return NULL;
}

/* Requests waiting in the listen socket's accept queue (Linux: tcpi_unacked of a listener). */
static int
accept_queue(void)
{
	struct tcp_info ti;
	socklen_t len = sizeof ti;

	if (getsockopt(lfd, IPPROTO_TCP, TCP_INFO, &ti, &len) == -1)
		return 0;
	return (int)ti.tcpi_unacked;
}

static void *
metrics(void *arg)
{
	int mfd = (int)(intptr_t)arg, fd, n;
	char page[512], head[128];

	for (;;) {
		if ((fd = accept(mfd, NULL, NULL)) == -1)
			continue;
		if (read_request(fd) == 0) {
			n = snprintf(page, sizeof page, "# HELP capsvc_inflight Requests accepted and "
			             "not yet answered.\n# TYPE capsvc_inflight gauge\ncapsvc_inflight %d\n"
			             "# TYPE capsvc_workers gauge\ncapsvc_workers %d\n",
			             atomic_load(&busy) + accept_queue(), atomic_load(&active_workers));
			snprintf(head, sizeof head, "HTTP/1.0 200 OK\r\nContent-Type: text/plain; "
			         "version=0.0.4\r\nContent-Length: %d\r\nConnection: close\r\n\r\n", n);
			if (write(fd, head, strlen(head)) < 0 || write(fd, page, (size_t)n) < 0)
				(void)0;
		}
		close(fd);
	}
	return NULL;
}

static int
listen_on(const char *addr, long long port)
{
	struct sockaddr_storage ss;
	socklen_t len;
	char lst[80];
	int fd, one = 1;

	snprintf(lst, sizeof lst, "%s:%lld", addr, port);
	if (addr_parse_listen(lst, &ss, &len) == -1) {
		fprintf(stderr, "capsvc: bad address %s\n", lst);
		return -1;
	}
	if ((fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) == -1 ||
	    bind(fd, (struct sockaddr *)&ss, len) == -1 || listen(fd, 4096) == -1) {
		perror("capsvc: listen");
		return -1;
	}
	return fd;
}

int
main(int argc, char **argv)
{
	long long port, w, ms, mport = 0;
	pthread_t t;
	int mfd;

	if ((argc != 5 && argc != 6) || parse_int(argv[2], 1, 65535, &port) == -1 ||
	    parse_int(argv[3], 1, WORKERS_MAX, &w) == -1 || parse_int(argv[4], 0, 60000, &ms) == -1 ||
	    (argc == 6 && parse_int(argv[5], 1, 65535, &mport) == -1)) {
		fprintf(stderr, "usage: capsvc ADDR PORT WORKERS(1..%d) SERVICE_MS [METRICS_PORT]\n",
		        WORKERS_MAX);
		return 2;
	}
	all_workers = (int)w;
	atomic_store(&active_workers, all_workers);
	atomic_store(&service_ms, (int)ms);
	signal(SIGUSR1, on_signal);
	signal(SIGUSR2, on_signal);
	signal(SIGPIPE, SIG_IGN);
	if ((lfd = listen_on(argv[1], port)) == -1)
		return 1;
	if (mport && ((mfd = listen_on(argv[1], mport)) == -1 ||
	              pthread_create(&t, NULL, metrics, (void *)(intptr_t)mfd) != 0))
		return 1;
	for (int i = 0; i < all_workers; i++)
		if (pthread_create(&t, NULL, worker, (void *)(intptr_t)i) != 0) {
			perror("capsvc: thread");
			return 1;
		}
	printf("capsvc: %s:%lld, %d workers, %d ms\n", argv[1], port, all_workers, (int)ms);
	fflush(stdout);
	pause();
	for (;;)
		pause();
}
