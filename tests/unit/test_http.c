#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>

#include "buf.h"
#include "http.h"

static struct http_server *srv;
static int port;

/*
 * An answer made on a detached request (no connection: its lookups find
 * nothing) and sent on this one: status, headers and body as made.
 */
static void
replay_detached(struct http_req *r)
{
	struct http_req *d = http_req_detached(0);

	cr_assert_not_null(d);
	cr_assert_null(http_cookie(d, "c"));
	cr_assert_null(http_header(d, "Host"));
	cr_assert_null(http_peer(d));
	cr_assert_eq(http_req_replay(r, d), -1, "nothing to replay before the answer");
	http_add_header(d, "X-Made", "away");
	http_reply(d, 201, "text/plain", "made elsewhere", 14);
	cr_assert_eq(http_req_status(d), 201);
	cr_assert_eq(http_req_replay(r, d), 0);
	http_req_free(d);
}

/* Echoes what the glue handed over, so each test can see it. */
static void
echo(struct http_req *r, void *arg)
{
	struct buf b;
	const char *v;

	(void)arg;
	if (strcmp(http_path(r), "/detached") == 0) {
		replay_detached(r);
		return;
	}
	buf_init(&b, 0);
	buf_printf(&b, "method=%s path=%s", http_method(r), http_path(r));
	if ((v = http_query(r, "q")) != NULL)
		buf_printf(&b, " q=%s", v);
	if ((v = http_form(r, "user")) != NULL)
		buf_printf(&b, " user=%s", v);
	if ((v = http_cookie(r, "c")) != NULL)
		buf_printf(&b, " cookie=%s n=%d", v, http_cookie_count(r, "c"));
	http_add_header(r, "X-Test", "yes");
	if (strcmp(http_path(r), "/silent") != 0)
		http_reply(r, 200, "text/plain", b.p, b.len);
	buf_free(&b);
}

static void
start(void)
{
	struct http_opts o = { .name = "test", .listen = "127.0.0.1:0", .threads = 2,
	                       .max_body = 64 };
	char err[256];

	srv = http_start(&o, echo, NULL, err, sizeof err);
	cr_assert_not_null(srv, "%s", err);
	port = http_port(srv);
	cr_assert_gt(port, 0);
}

static void
stop(void)
{
	http_stop(srv);
}

/* Sends raw bytes, returns the whole answer (connection closed by us after reading). */
static char *
exchange(const char *req)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	static char out[8192];
	size_t used = 0;
	ssize_t n;
	int fd;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	cr_assert_eq(write(fd, req, strlen(req)), (ssize_t)strlen(req));
	shutdown(fd, SHUT_WR);
	while (used < sizeof out - 1 && (n = read(fd, out + used, sizeof out - 1 - used)) > 0)
		used += (size_t)n;
	out[used] = '\0';
	close(fd);
	return out;
}

static int
status_of(const char *resp)
{
	int st = 0;

	sscanf(resp, "HTTP/1.%*d %d", &st);
	return st;
}

TestSuite(http, .init = start, .fini = stop);

Test(http, hands_query_cookie_and_path_to_the_handler)
{
	char *r = exchange("GET /p?q=1%202 HTTP/1.1\r\nHost: x\r\nCookie: a=0; c=v\r\n"
	                   "Connection: close\r\n\r\n");

	cr_assert_eq(status_of(r), 200, "%s", r);
	cr_assert_not_null(strstr(r, "method=GET path=/p q=1 2 cookie=v n=1"), "%s", r);
	cr_assert_not_null(strstr(r, "X-Test: yes"), "%s", r);
}

Test(http, counts_a_repeated_cookie)
{
	char *r = exchange("GET / HTTP/1.1\r\nHost: x\r\nCookie: c=1; c=2\r\n"
	                   "Connection: close\r\n\r\n");

	cr_assert_not_null(strstr(r, "n=2"), "%s", r);
}

Test(http, parses_an_urlencoded_form)
{
	char *r = exchange("POST /login HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
	                   "Content-Type: application/x-www-form-urlencoded\r\n"
	                   "Content-Length: 14\r\n\r\nuser=al%20ice&");

	cr_assert_eq(status_of(r), 200, "%s", r);
	cr_assert_not_null(strstr(r, "user=al ice"), "%s", r);
}

struct refusal { char req[400]; int status; };

ParameterizedTestParameters(http, refuses_before_the_handler)
{
	static struct refusal cases[] = {
		{ "DELETE / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 405 },
		{ "POST / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 65\r\n"
		  "Content-Type: application/x-www-form-urlencoded\r\n\r\n", 413 },
		{ "POST / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 99999999999999999999\r\n"
		  "Content-Type: application/x-www-form-urlencoded\r\n\r\n", 413 },
		{ "POST / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n"
		  "Content-Type: application/x-www-form-urlencoded\r\n\r\n"
		  "50\r\nuser=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n0\r\n\r\n", 413 },
		{ "POST / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 6\r\n"
		  "Content-Type: application/json\r\n\r\n{\"a\":1", 415 },
		{ "POST / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 13\r\n"
		  "Content-Type: application/x-www-form-urlencoded\r\n\r\nuser=a&user=b", 400 },
		{ "POST / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 10\r\n"
		  "Content-Type: application/x-www-form-urlencoded\r\n\r\nuser=a%00b", 400 },
	};
	return cr_make_param_array(struct refusal, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(struct refusal *c, http, refuses_before_the_handler)
{
	char *r = exchange(c->req);

	cr_assert_eq(status_of(r), c->status, "want %d for:\n%s\ngot:\n%s", c->status, c->req, r);
	cr_assert_null(strstr(r, "X-Test"), "the handler must not have run:\n%s", r);
}

Test(http, a_handler_that_forgets_to_answer_gives_500)
{
	char *r = exchange("GET /silent HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");

	cr_assert_eq(status_of(r), 500, "%s", r);
}

Test(http, oversized_headers_are_refused)
{
	static char req[40000];
	char *r;

	strcpy(req, "GET / HTTP/1.1\r\nHost: x\r\nX-Big: ");
	memset(req + strlen(req), 'a', 30000);
	strcat(req, "\r\nConnection: close\r\n\r\n");
	r = exchange(req);
	cr_assert(status_of(r) == 431 || status_of(r) == 413, "%s", r);
}

/*
 * A portal in the thread-per-connection model (threads = 0) under a flood
 * holds a thousand connections and more at once: a connection whose socket
 * number is past FD_SETSIZE (1024) must be served, not closed unanswered
 * (select() cannot watch it; the server must poll).
 */
Test(http, serves_a_connection_numbered_past_fd_setsize)
{
	struct http_opts o = { .name = "flood", .listen = "127.0.0.1:0", .threads = 0,
	                       .max_conns = 4096, .per_ip_max = 4096, .max_body = 64 };
	struct rlimit rl;
	struct http_server *tpc;
	char err[256], *r;
	int fds[1100], n = 0, saved = port;

	cr_assert_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < 1300)
		cr_skip_test("RLIMIT_NOFILE hard limit %lu is below 1300", (unsigned long)rl.rlim_max);
	rl.rlim_cur = rl.rlim_max != RLIM_INFINITY && rl.rlim_max < 4096 ? rl.rlim_max : 4096;
	cr_assert_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
	tpc = http_start(&o, echo, NULL, err, sizeof err);
	cr_assert_not_null(tpc, "%s", err);
	while (n < (int)(sizeof fds / sizeof fds[0]) && (fds[n] = dup(0)) >= 0 && fds[n] < FD_SETSIZE + 8)
		n++;
	port = http_port(tpc);
	r = exchange("GET /p HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
	port = saved;
	cr_expect_eq(status_of(r), 200, "got: \"%s\"", r);
	while (n > 0)
		close(fds[--n]);
	http_stop(tpc);
}

Test(http, replays_an_answer_made_on_a_detached_request)
{
	char *r = exchange("GET /detached HTTP/1.1\r\nHost: x\r\nCookie: c=1\r\n"
	                   "Connection: close\r\n\r\n");

	cr_assert_eq(status_of(r), 201, "%s", r);
	cr_assert_not_null(strstr(r, "X-Made: away"), "%s", r);
	cr_assert_not_null(strstr(r, "made elsewhere"), "%s", r);
}
