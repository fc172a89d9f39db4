#include <criterion/criterion.h>
#include <pthread.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../../authd/authd.h"
#include "fixture.h"
#include "log.h"
#include "passwd.h"
#include "token.h"

/*
 * The portal in-process: a real authd state over a temporary store (ipfd off),
 * served on a loopback port and driven over raw HTTP/1.1.
 */

static struct fx fx;
static struct authd a;
static struct http_server *srv;
static int port;

struct resp {
	int status;
	char head[8192];
	char body[32768];
};

static void
set_password(struct store *s, int64_t id, const char *pw)
{
	static const struct passwd_params quick = { 10, 8, 1 };
	char hash[HASH_MAX_LEN + 1], err[128];

	cr_assert_eq(passwd_hash(pw, &quick, hash, sizeof hash, err, sizeof err), 0, "%s", err);
	cr_assert_eq(store_user_set_password(s, id, hash), STORE_OK);
}

static void
setup(void)
{
	const char *top = getenv("SEKISHO_TOP");
	struct conf c;
	char err[512];
	struct store *s;

	log_set_level(LOG_ERR);
	fx_init(&fx);
	s = fx_open(&fx);
	set_password(s, fx_user(s, "alice", ROLE_USER), "alice-pw");
	set_password(s, fx_user(s, "bob", ROLE_USER), "bob-pw");
	set_password(s, fx_user(s, "carol", ROLE_USER), "carol-pw");
	fx_service(s, "lab", 2, 60, 30, fx_user(s, "admin", ROLE_ADMIN));
	fx_service(s, "hall", 50, 60, 30, fx_user(s, "hall-admin", ROLE_ADMIN));
	for (int i = 0; i < 8; i++) {
		char name[16];

		snprintf(name, sizeof name, "nat%d", i);
		set_password(s, fx_user(s, name, ROLE_USER), "nat-pw");
	}
	store_close(s);

	conf_defaults(&c);
	c.db = fx.db;
	snprintf(c.authd.web_dir, sizeof c.authd.web_dir, "%s/web", top ? top : ".");
	snprintf(c.authd.listen, sizeof c.authd.listen, "127.0.0.1:0");
	c.ipfd.enabled = 0;
	c.authd.throttle_ip_burst = 3;
	c.authd.throttle_user_burst = 3;
	cr_assert_eq(authd_init(&a, &c, err, sizeof err), 0, "%s", err);
	struct http_opts o = { .name = "authd", .listen = c.authd.listen, .threads = 0,
	                       .max_body = (size_t)c.authd.max_body };
	srv = http_start(&o, route_dispatch, &a, err, sizeof err);
	cr_assert_not_null(srv, "%s", err);
	port = http_port(srv);
}

static void
teardown(void)
{
	http_stop(srv);
	authd_fini(&a);
	fx_cleanup(&fx);
}

TestSuite(portal, .init = setup, .fini = teardown);

/* Sends one request and reads the whole answer. 0, or -1 (safe off the test's thread). */
static int
exchange_raw(const char *req, struct resp *out)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	char raw[sizeof out->head + sizeof out->body];
	size_t used = 0, hl;
	ssize_t n;
	char *split;
	int fd, rc = -1;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0 &&
	    write(fd, req, strlen(req)) == (ssize_t)strlen(req)) {
		while (used < sizeof raw - 1 && (n = read(fd, raw + used, sizeof raw - 1 - used)) > 0)
			used += (size_t)n;
		raw[used] = '\0';
		split = strstr(raw, "\r\n\r\n");
		if (split != NULL && sscanf(raw, "HTTP/1.1 %d", &out->status) == 1 &&
		    (hl = (size_t)(split - raw)) + 3 < sizeof out->head &&
		    strlen(split + 4) < sizeof out->body) {
			memcpy(out->head, raw, hl);
			memcpy(out->head + hl, "\r\n", 3);
			memcpy(out->body, split + 4, strlen(split + 4) + 1);
			rc = 0;
		}
	}
	close(fd);
	return rc;
}

static void
exchange(const char *req, struct resp *out)
{
	cr_assert_eq(exchange_raw(req, out), 0, "no whole answer to %.40s", req);
}

static void
get(const char *path, const char *cookies, struct resp *out)
{
	char req[2048];

	snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: portal\r\nConnection: close\r\n%s%s%s\r\n",
	         path, cookies ? "Cookie: " : "", cookies ? cookies : "", cookies ? "\r\n" : "");
	exchange(req, out);
}

static void
post(const char *path, const char *cookies, const char *body, struct resp *out)
{
	char req[8192];

	snprintf(req, sizeof req,
	         "POST %s HTTP/1.1\r\nHost: portal\r\nConnection: close\r\n"
	         "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: %zu\r\n"
	         "%s%s%s\r\n%s", path, strlen(body), cookies ? "Cookie: " : "",
	         cookies ? cookies : "", cookies ? "\r\n" : "", body);
	exchange(req, out);
}

/* The value of the first header line starting with prefix (e.g. "Location: "), or NULL. */
static const char *
header(const struct resp *r, const char *prefix, char *out, size_t n)
{
	const char *p = strcasestr(r->head, prefix);
	size_t len;

	if (p == NULL)
		return NULL;
	p += strlen(prefix);
	len = strcspn(p, "\r\n");
	snprintf(out, n, "%.*s", (int)len, p);
	return out;
}

/* A cookie's value from the answer's Set-Cookie for name. */
static void
set_cookie_value(const struct resp *r, const char *name, char *out, size_t n)
{
	char want[64];
	const char *p;

	snprintf(want, sizeof want, "Set-Cookie: %s=", name);
	p = strcasestr(r->head, want);
	cr_assert_not_null(p, "no cookie %s in\n%s", name, r->head);
	p += strlen(want);
	snprintf(out, n, "%.*s", (int)strcspn(p, ";\r"), p);
}

/* The pre-login CSRF pair: the cookie header to send and the form value. */
static void
csrf_pair(char *cookie, size_t n, char *value, size_t vn)
{
	struct resp r;

	get("/", NULL, &r);
	set_cookie_value(&r, CSRF_COOKIE, value, vn);
	cr_assert(strstr(r.body, value) != NULL, "form carries the cookie's value");
	snprintf(cookie, n, "%s=%s", CSRF_COOKIE, value);
}

static void
login(const char *user, const char *pw, const char *service, struct resp *r)
{
	char cookie[128], csrf[64], body[512];

	csrf_pair(cookie, sizeof cookie, csrf, sizeof csrf);
	snprintf(body, sizeof body, "user=%s&password=%s&service=%s&csrf=%s", user, pw, service, csrf);
	post("/login", cookie, body, r);
}

static int
live_rights(void)
{
	struct store *s = fx_open(&fx);
	struct store_stats st;

	cr_assert_eq(store_stats(s, &st), STORE_OK);
	store_close(s);
	return (int)st.live_rights;
}

Test(portal, form_lists_open_services_with_free_places_and_security_headers)
{
	struct resp r;
	char v[512];

	get("/", NULL, &r);
	cr_assert_eq(r.status, 200);
	cr_assert(strstr(r.body, "lab (2 of 2 free)") != NULL, "%s", r.body);
	cr_assert(strstr(r.body, "name=\"csrf\"") != NULL);
	cr_assert_not_null(header(&r, "Content-Security-Policy: ", v, sizeof v));
	cr_assert(strstr(v, "default-src 'none'") && strstr(v, "frame-ancestors 'none'"));
	cr_assert(strstr(v, "form-action 'self' ") && strstr(v, " http://lab.example"), "%s", v);
	cr_assert_str_eq(header(&r, "X-Frame-Options: ", v, sizeof v), "DENY");
	cr_assert_str_eq(header(&r, "X-Content-Type-Options: ", v, sizeof v), "nosniff");
	cr_assert_not_null(header(&r, "Referrer-Policy: ", v, sizeof v));
	cr_assert_not_null(header(&r, "Set-Cookie: " CSRF_COOKIE "=", v, sizeof v));
	cr_assert(strstr(v, "HttpOnly") && strstr(v, "SameSite=Strict"), "%s", v);
}

Test(portal, a_reflected_service_name_is_escaped)
{
	struct resp r;

	get("/?service=%3Cscript%3Ealert(%22x%22)%3C/script%3E", NULL, &r);
	cr_assert_eq(r.status, 200);
	cr_assert(strstr(r.body, "<script>") == NULL, "raw tag in\n%s", r.body);
	cr_assert(strstr(r.body, "&lt;script&gt;alert(&quot;x&quot;)") != NULL, "%s", r.body);
}

Test(portal, service_query_preselects_it)
{
	struct resp r;

	get("/?service=lab", NULL, &r);
	cr_assert(strstr(r.body, "value=\"lab\" selected") != NULL, "%s", r.body);
}

Test(portal, login_without_csrf_is_forbidden)
{
	struct resp r;

	post("/login", NULL, "user=alice&password=alice-pw&service=lab", &r);
	cr_assert_eq(r.status, 403);
	post("/login", "sekisho_csrf=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
	     "user=alice&password=alice-pw&service=lab&csrf=BAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
	     &r);
	cr_assert_eq(r.status, 403, "cookie and field differ");
	cr_assert_eq(live_rights(), 0);
}

Test(portal, login_admits_and_sends_the_user_to_the_entry_handoff)
{
	char loc[512], cookie[256], code_hash[CODE_HASH_LEN + 1];
	const char *code;
	struct store_right right;
	struct store *s;
	struct resp r;
	struct addr ip;

	login("alice", "alice-pw", "lab", &r);
	cr_assert_eq(r.status, 303, "%s", r.body);
	cr_assert_not_null(header(&r, "Location: ", loc, sizeof loc));
	cr_assert(strncmp(loc, "http://lab.example/_sekisho/enter?code=", 39) == 0, "%s", loc);
	cr_assert_not_null(header(&r, "Set-Cookie: " LOGIN_COOKIE "=", cookie, sizeof cookie));
	cr_assert(strstr(cookie, "HttpOnly") && strstr(cookie, "SameSite=Strict") &&
	          strstr(cookie, "Path=/"), "%s", cookie);
	cr_assert_eq(live_rights(), 1);
	code = loc + 39;
	sha256_hex(code, strlen(code), code_hash);
	s = fx_open(&fx);
	ip = fx_ip("127.0.0.1");
	cr_assert_eq(store_code_take(s, code_hash, &ip, "lab", time(NULL), &right), STORE_OK);
	cr_assert_str_eq(right.user_name, "alice");
	cr_assert_eq(store_code_take(s, code_hash, &ip, "lab", time(NULL), &right), STORE_NOTFOUND,
	             "single use");
	store_close(s);
}

Test(portal, a_wrong_password_gets_one_generic_answer_with_the_name_escaped)
{
	struct resp r1, r2;

	login("alice", "nope", "lab", &r1);
	cr_assert_eq(r1.status, 401);
	cr_assert(strstr(r1.body, "Wrong name or password.") != NULL);
	login("%3Cb%3Enobody%22", "nope", "lab", &r2);
	cr_assert_eq(r2.status, 401);
	cr_assert(strstr(r2.body, "Wrong name or password.") != NULL);
	cr_assert(strstr(r2.body, "<b>") == NULL);
	cr_assert(strstr(r2.body, "&lt;b&gt;nobody&quot;") != NULL, "%s", r2.body);
	cr_assert_eq(live_rights(), 0);
}

Test(portal, the_cap_is_exact_and_the_last_user_is_told_when_to_retry)
{
	struct resp r;
	char ra[32];

	login("alice", "alice-pw", "lab", &r);
	cr_assert_eq(r.status, 303);
	login("bob", "bob-pw", "lab", &r);
	cr_assert_eq(r.status, 303);
	login("carol", "carol-pw", "lab", &r);
	cr_assert_eq(r.status, 503);
	cr_assert_not_null(header(&r, "Retry-After: ", ra, sizeof ra));
	cr_assert(atoi(ra) > 0);
	cr_assert(strstr(r.body, "2 of 2") != NULL, "%s", r.body);
	cr_assert_eq(live_rights(), 2);
}

Test(portal, logging_in_again_replaces_the_old_right)
{
	struct resp r;

	login("alice", "alice-pw", "lab", &r);
	login("alice", "alice-pw", "lab", &r);
	cr_assert_eq(r.status, 303);
	cr_assert_eq(live_rights(), 1);
}

Test(portal, repeated_failures_are_throttled)
{
	struct resp r;
	char ra[32];

	for (int i = 0; i < 3; i++) {
		login("alice", "wrong", "lab", &r);
		cr_assert_eq(r.status, 401, "attempt %d", i);
	}
	login("alice", "wrong", "lab", &r);
	cr_assert_eq(r.status, 429);
	cr_assert_not_null(header(&r, "Retry-After: ", ra, sizeof ra));
}

Test(portal, unknown_service_is_404_and_overlong_fields_are_400)
{
	struct resp r;

	login("alice", "alice-pw", "nosuch", &r);
	cr_assert_eq(r.status, 404);
	login("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "x", "lab", &r);
	cr_assert_eq(r.status, 400);
}

/* Logs alice in; fills the login cookie header and the login's CSRF token from /me. */
static void
me(char *cookie, size_t n, char *csrf, size_t cn, struct resp *page)
{
	char id[64];
	const char *p;
	struct resp r;

	login("alice", "alice-pw", "lab", &r);
	cr_assert_eq(r.status, 303);
	set_cookie_value(&r, LOGIN_COOKIE, id, sizeof id);
	snprintf(cookie, n, "%s=%s", LOGIN_COOKIE, id);
	get("/me", cookie, page);
	cr_assert_eq(page->status, 200);
	p = strstr(page->body, "name=\"csrf\" value=\"");
	cr_assert_not_null(p);
	p += strlen("name=\"csrf\" value=\"");
	snprintf(csrf, cn, "%.*s", (int)strcspn(p, "\""), p);
}

Test(portal, me_shows_live_rights_and_release_ends_one)
{
	char cookie[128], csrf[64], body[256], v[64];
	const char *p;
	struct resp page, r;

	me(cookie, sizeof cookie, csrf, sizeof csrf, &page);
	cr_assert(strstr(page.body, "<h2>lab</h2>") != NULL, "%s", page.body);
	cr_assert_str_eq(header(&page, "Cache-Control: ", v, sizeof v), "no-store");
	p = strstr(page.body, "name=\"right\" value=\"");
	cr_assert_not_null(p);
	p += strlen("name=\"right\" value=\"");
	snprintf(body, sizeof body, "right=%.*s&csrf=wrong", (int)strcspn(p, "\""), p);
	post("/release", cookie, body, &r);
	cr_assert_eq(r.status, 403);
	cr_assert_eq(live_rights(), 1);
	snprintf(body, sizeof body, "right=%.*s&csrf=%s", (int)strcspn(p, "\""), p, csrf);
	post("/release", cookie, body, &r);
	cr_assert_eq(r.status, 303);
	cr_assert_eq(live_rights(), 0);
}

Test(portal, logout_ends_every_right_and_the_login)
{
	char cookie[128], csrf[64], body[128];
	struct resp page, r;

	me(cookie, sizeof cookie, csrf, sizeof csrf, &page);
	snprintf(body, sizeof body, "csrf=%s", csrf);
	post("/logout", cookie, body, &r);
	cr_assert_eq(r.status, 200);
	cr_assert_eq(live_rights(), 0);
	get("/me", cookie, &r);
	cr_assert_eq(r.status, 303, "the login is gone");
}

Test(portal, me_without_login_goes_to_the_form)
{
	struct resp r;
	char loc[64];

	get("/me", NULL, &r);
	cr_assert_eq(r.status, 303);
	cr_assert_str_eq(header(&r, "Location: ", loc, sizeof loc), "/");
}

Test(portal, forwarded_for_from_an_untrusted_peer_is_ignored)
{
	struct resp r;

	exchange("GET / HTTP/1.1\r\nHost: portal\r\nConnection: close\r\n"
	         "X-Forwarded-For: not-an-address\r\n\r\n", &r);
	cr_assert_eq(r.status, 200);
}

Test(portal, metrics_and_health_only_on_the_monitor_listener)
{
	struct http_opts o = { .name = "authd-monitor", .listen = "127.0.0.1:0" };
	struct http_server *mon;
	int portal_port = port;
	struct resp r;
	char err[256];

	get("/healthz", NULL, &r);
	cr_assert_eq(r.status, 404);
	get("/metrics", NULL, &r);
	cr_assert_eq(r.status, 404);
	get("/static/sekisho.css", NULL, &r);
	cr_assert_eq(r.status, 200);
	mon = http_start(&o, route_monitor, &a, err, sizeof err);
	cr_assert_not_null(mon, "%s", err);
	port = http_port(mon);
	get("/healthz", NULL, &r);
	cr_expect_eq(r.status, 200);
	cr_expect(strstr(r.body, "store ok") != NULL);
	get("/metrics", NULL, &r);
	cr_expect_eq(r.status, 200);
	cr_expect(strstr(r.body, "sekisho_authd_logins_total{result=\"admitted\"}") != NULL);
	get("/", NULL, &r);
	cr_expect_eq(r.status, 404);
	get("/nowhere", NULL, &r);
	cr_expect_eq(r.status, 404);
	port = portal_port;
	http_stop(mon);
}

/*
 * A login answered with its place in the login line: refresh /login/wait
 * with its ticket, as the page does (quicker), until the login's own answer
 * comes (at most 600 tries). No Criterion asserts: it runs on its own thread.
 */
static void
follow_line(struct resp *r)
{
	struct timespec pause = { 0, 50 * 1000000 };
	char req[512], ticket[64];
	const char *p;

	if (r->status != 200 || strcasestr(r->head, "X-Sekisho-Login-Position:") == NULL ||
	    (p = strcasestr(r->head, "Set-Cookie: " LINE_COOKIE "=")) == NULL)
		return;
	p += strlen("Set-Cookie: " LINE_COOKIE "=");
	snprintf(ticket, sizeof ticket, "%.*s", (int)strcspn(p, ";\r"), p);
	snprintf(req, sizeof req, "GET /login/wait HTTP/1.1\r\nHost: portal\r\n"
	         "Connection: close\r\nCookie: %s=%s\r\n\r\n", LINE_COOKIE, ticket);
	for (int i = 0; i < 600 && r->status == 200; i++) {
		nanosleep(&pause, NULL);
		if (exchange_raw(req, r) == -1)
			r->status = -1;
	}
}

/* A whole login without Criterion asserts (it runs on its own thread); r->status is the answer. */
static void *
nat_login(void *arg)
{
	struct resp *r = arg;
	char req[2048], csrf[64], body[256];
	const char *p;
	int i = r->status;

	r->status = -1;
	if (exchange_raw("GET / HTTP/1.1\r\nHost: portal\r\nConnection: close\r\n\r\n", r) ||
	    (p = strstr(r->body, "name=\"csrf\" value=\"")) == NULL)
		return NULL;
	p += strlen("name=\"csrf\" value=\"");
	snprintf(csrf, sizeof csrf, "%.*s", (int)strcspn(p, "\""), p);
	snprintf(body, sizeof body, "user=nat%d&password=nat-pw&service=hall&csrf=%s", i, csrf);
	snprintf(req, sizeof req,
	         "POST /login HTTP/1.1\r\nHost: portal\r\nConnection: close\r\n"
	         "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: %zu\r\n"
	         "Cookie: %s=%s\r\n\r\n%s", strlen(body), CSRF_COOKIE, csrf, body);
	if (exchange_raw(req, r) == -1) {
		r->status = -1;
		return NULL;
	}
	follow_line(r);
	return NULL;
}

Test(portal, many_users_behind_one_address_log_in_at_once)
{
	static struct resp r[8];
	pthread_t th[8];

	/*
	 * 8 logins in flight from 127.0.0.1, with only 3 failures allowed per
	 * address; those that wait in the login line follow it to their answer.
	 */
	for (int i = 0; i < 8; i++) {
		r[i].status = i;
		pthread_create(&th[i], NULL, nat_login, &r[i]);
	}
	for (int i = 0; i < 8; i++)
		pthread_join(th[i], NULL);
	for (int i = 0; i < 8; i++)
		cr_assert_eq(r[i].status, 303, "login %d: %d %s", i, r[i].status, r[i].body);
}

/*
 * The workers' contract (authd_wait_take): a worker waits for a login's
 * answer or a hash only with a turn, there are http_workers / 2 turns, and
 * the logins allowed to wait on their own connection fit in them.
 */
Test(portal, request_threads_wait_only_with_a_turn_and_half_the_pool_stays_free)
{
	char hash[HASH_MAX_LEN + 1];

	cr_assert_eq(a.wait_turns, a.http_workers / 2);
	cr_assert_geq(a.http_workers, 2 * a.line_direct, "waits on own connections fit in half the workers");
	cr_assert_gt(a.http_threads, 0, "event threads");
	cr_assert_gt(a.line_direct, 0);
	for (int i = 0; i < a.wait_turns; i++)
		cr_assert_eq(authd_wait_take(&a), 0, "turn %d", i);
	cr_assert_eq(authd_wait_take(&a), -1, "no turn past half the pool");
	cr_assert_eq(hashpool_hash(&a, "new-password-1", hash, sizeof hash), -1,
	             "a new password's hash does not wait without a turn");
	authd_wait_give(&a);
	cr_assert_eq(authd_wait_take(&a), 0, "a turn given back is taken again");
	for (int i = 0; i < a.wait_turns; i++)
		authd_wait_give(&a);
	cr_assert_eq(atomic_load(&a.waiting), 0);
}
