#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "http.h"

/*
 * Deferred requests (http_defer): a handler that may wait runs on a worker
 * while its connection is suspended, and the event thread goes on serving
 * every other connection. The server here has ONE event thread, so a
 * handler waiting on it would hold up everything else.
 */

static struct http_server *srv;
static struct http_pool *pool;
static int port;
static sem_t release;            /* one post lets one waiting handler answer */
static atomic_int answered;      /* deferred handlers that have answered */

static void
slow(struct http_req *r, void *arg)
{
	char body[128];
	const char *q = http_query(r, "q"), *c = http_cookie(r, "c");
	int n;

	(void)arg;
	while (sem_wait(&release) == -1)
		;
	n = snprintf(body, sizeof body, "slow q=%s c=%s", q ? q : "-", c ? c : "-");
	http_add_header(r, "X-Worker", "yes");
	http_reply(r, 202, "text/plain", body, (size_t)n);
	atomic_fetch_add(&answered, 1);
}

static void
forgets(struct http_req *r, void *arg)
{
	(void)r;
	(void)arg;
}

static void
handler(struct http_req *r, void *arg)
{
	if (strcmp(http_path(r), "/slow") == 0) {
		http_defer(r, slow, arg);
		return;
	}
	if (strcmp(http_path(r), "/forgets") == 0) {
		http_defer(r, forgets, arg);
		return;
	}
	http_reply(r, 200, "text/plain", "fast", 4);
}

static void
start_with(int threads, int workers_min, int workers)
{
	struct http_opts o = { .name = "defer", .listen = "127.0.0.1:0", .threads = threads,
	                       .max_body = 64, .per_ip_max = 256, .max_conns = 1024 };
	char err[256];

	cr_assert_eq(sem_init(&release, 0, 0), 0);
	pool = workers > 0 ? http_pool_start(workers_min, workers, err, sizeof err) : NULL;
	cr_assert(workers == 0 || pool != NULL, "%s", err);
	o.pool = pool;
	srv = http_start(&o, handler, NULL, err, sizeof err);
	cr_assert_not_null(srv, "%s", err);
	port = http_port(srv);
}

static void
start(void)
{
	start_with(1, 2, 2);
}

static void
stop(void)
{
	http_stop(srv);
	http_pool_stop(pool);
	sem_destroy(&release);
}

/* A connection with the request sent; reads time out after 10 s (a test fails, not hangs). */
static int
send_req(const char *req)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	struct timeval tv = { 10, 0 };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), 0);
	cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	cr_assert_eq(write(fd, req, strlen(req)), (ssize_t)strlen(req));
	return fd;
}

/* The whole answer on fd (the server closes: Connection: close), into a static buffer. */
static char *
read_all(int fd)
{
	static char out[4096];
	size_t used = 0;
	ssize_t n;

	while (used < sizeof out - 1 && (n = read(fd, out + used, sizeof out - 1 - used)) > 0)
		used += (size_t)n;
	out[used] = '\0';
	close(fd);
	return out;
}

/* GET /slow?q=Q on a connection of its own (closed after the answer). */
static int
send_slow(int q)
{
	char req[128];

	snprintf(req, sizeof req, "GET /slow?q=%d HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", q);
	return send_req(req);
}

/* The answer on fd is the slow handler's own for q. */
static void
expect_slow(int fd, int q)
{
	char want[32], *r = read_all(fd);

	snprintf(want, sizeof want, "slow q=%d c=-", q);
	cr_assert_not_null(strstr(r, want), "request %d got: \"%s\"", q, r);
}

TestSuite(defer, .init = start, .fini = stop);

Test(defer, a_waiting_handler_does_not_hold_up_the_event_thread)
{
	int slow_fd = send_req("GET /slow?q=7 HTTP/1.1\r\nHost: x\r\nCookie: c=k\r\n"
	                       "Connection: close\r\n\r\n");
	char *r;

	r = read_all(send_req("GET /fast HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
	cr_assert_not_null(strstr(r, "200"), "the other request is answered while one waits: \"%s\"", r);
	cr_assert_not_null(strstr(r, "fast"), "%s", r);
	sem_post(&release);
	r = read_all(slow_fd);
	cr_assert_not_null(strstr(r, "HTTP/1.1 202"), "the waiting one is answered after: \"%s\"", r);
	cr_assert_not_null(strstr(r, "X-Worker: yes"), "its headers go out: %s", r);
	cr_assert_not_null(strstr(r, "slow q=7 c=k"), "its query and cookie were there: %s", r);
}

Test(defer, many_waiting_requests_each_get_their_own_answer)
{
	int fds[40];

	for (int i = 0; i < 40; i++)
		fds[i] = send_slow(i);
	for (int i = 0; i < 40; i++)
		sem_post(&release);
	for (int i = 0; i < 40; i++)
		expect_slow(fds[i], i);
}

Test(defer, keeps_a_connection_alive_across_a_deferred_answer)
{
	int fd = send_req("GET /slow?q=1 HTTP/1.1\r\nHost: x\r\n\r\n");
	char buf[1024];
	ssize_t n;
	char *r;

	sem_post(&release);
	n = read(fd, buf, sizeof buf - 1);
	cr_assert_gt(n, 0);
	buf[n] = '\0';
	cr_assert_not_null(strstr(buf, "slow q=1"), "%s", buf);
	cr_assert_eq(write(fd, "GET /fast HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 50), 50);
	r = read_all(fd);
	cr_assert_not_null(strstr(r, "fast"), "the same connection serves the next request: %s", r);
}

Test(defer, a_deferred_handler_that_forgets_to_answer_gives_500)
{
	char *r = read_all(send_req("GET /forgets HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));

	cr_assert_not_null(strstr(r, "HTTP/1.1 500"), "%s", r);
}

static void *
post_later(void *arg)
{
	(void)arg;
	usleep(200 * 1000);
	sem_post(&release);
	return NULL;
}

/* http_stop with a request on a worker waits for it (MHD must not stop while a connection is suspended). */
Test(defer, stopping_waits_for_the_deferred_answer)
{
	int fd = send_slow(2);
	pthread_t th;

	usleep(100 * 1000);
	cr_assert_eq(atomic_load(&answered), 0, "the handler waits for its release");
	cr_assert_eq(pthread_create(&th, NULL, post_later, NULL), 0);
	http_stop(srv);
	cr_assert_eq(atomic_load(&answered), 1,
	             "http_stop returned only after the deferred handler had answered");
	srv = NULL;
	pthread_join(th, NULL);
	close(fd);
}

/* Without a pool (a thread per connection), http_defer runs the handler at once. */
Test(defer, without_workers_the_handler_runs_at_once, .init = NULL)
{
	start_with(0, 0, 0);
	sem_post(&release);
	expect_slow(send_slow(3), 3);
}

/* The counts of the pool, polled until want holds (up to 15 s); 1 when it did. */
static int
pool_reaches(int queued, int running, int live)
{
	int q, r, l;

	for (int i = 0; i < 1500; i++) {
		http_pool_counts(pool, &q, &r, &l);
		if (q == queued && r == running && l == live)
			return 1;
		usleep(10 * 1000);
	}
	return 0;
}

/*
 * The pool keeps its min workers, starts more while requests find none idle
 * (never past max: the rest wait their turn), and those beyond min end
 * after 10 s idle.
 */
Test(defer, the_pool_grows_to_its_max_under_load_and_back_to_its_min_when_idle, .init = NULL,
     .timeout = 40)
{
	int fds[6], q, r, l;

	start_with(1, 1, 4);
	http_pool_counts(pool, &q, &r, &l);
	cr_assert_eq(l, 1, "min workers at the start");
	for (int i = 0; i < 6; i++)
		fds[i] = send_slow(i);
	cr_assert(pool_reaches(2, 4, 4), "four run, two wait for a worker");
	for (int i = 0; i < 6; i++)
		sem_post(&release);
	for (int i = 0; i < 6; i++)
		expect_slow(fds[i], i);
	http_pool_counts(pool, &q, &r, &l);
	cr_assert_eq(l, 4, "the workers stay a while after the burst");
	cr_assert(pool_reaches(0, 0, 1), "back to the min once idle");
	sem_post(&release);
	expect_slow(send_slow(9), 9);           /* the kept worker answers */
}
