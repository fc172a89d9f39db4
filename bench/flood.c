/*
 * flood: a load driver for the portal. Thousands of simulated users in one
 * process (libcurl's multi interface, no process or thread per request), each
 * with its own source address (CURLOPT_INTERFACE; the addresses must exist on
 * the client's interface) and its own cookies, doing the real flow:
 *
 *   GET /  ->  POST /login  ->  303 (admitted), 200 with a place in the login
 *   line (X-Sekisho-Login-Position: poll GET /login/wait when the page's
 *   refresh says, as a browser does) or 200 with a place in the service's waiting
 *   room (X-Sekisho-Queue-Position: poll GET /queue?service=S every --poll-s)
 *   until 303  ->  use the service for --usage-s  ->  GET /me, POST /logout.
 *
 * With --enter, an admitted user first follows the 303 to the service (the
 * entry handoff and the service's first page, through the firewall and the
 * service's proxy: every redirect followed, the last answer must be 200).
 * --src-file gives the source addresses one per line (the prober's first),
 * instead of consecutive ones after --src.
 *
 * Arrivals are open-loop: user i starts at i * spread / n (all within
 * --spread-ms). A 503 is retried after its Retry-After, but after at most
 * --retry-cap-s (10) (what a refused user can do without a waiting room:
 * try again; a full service's Retry-After is when a place frees up at the
 * latest, its users' idle limit, while users who leave free places much
 * sooner), up to --retries times. A prober GETs / every --probe-ms from
 * its own address while users are active, on a thread of its own with a
 * blocking handle: its latency is the portal's, not the time the event
 * loop took to come round to it while thousands of users were due.
 *
 * --order FILE gets "rank user-number" in the order the users sent their
 * first POST /login (to compare with the store's order of admission).
 *
 * Prints per-phase latencies, queue waits, positions seen, every error by
 * kind, Kendall's tau between login arrival and admission; --timeline FILE
 * gets "second queued using admitted_total" rows.
 */

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sys/epoll.h>

#define BODY_MAX   (64 * 1024)
#define CSRF_MAX   64
#define KINDS_MAX  64

enum phase { P_FORM, P_LOGIN, P_LINE, P_POLL, P_ENTER, P_ME, P_LOGOUT, P_PROBE, P_N };
static const char *const phase_names[P_N] = { "form", "login", "login line poll", "poll",
	                                       "enter (T2)", "me", "logout", "GET / (probe)" };

enum state { S_IDLE, S_BUSY, S_DONE, S_FAILED };
enum wait { W_ARRIVE, W_LOGIN, W_LINE, W_POLL, W_ENTER, W_LEAVE };

struct user {
	CURL *h;
	int idx, state, next, phase, retries, queued, admitted, max_pos, first_pos;
	int in_line, max_line_pos;           /* held a ticket in the login line; its largest place */
	double at;                           /* when the next step starts (W_*) */
	double started;                      /* the request in flight began */
	double t_login, t_admit;             /* first login POST sent; 303 received */
	char src[INET_ADDRSTRLEN];
	char loc[1024];                      /* the admission's 303 Location */
	char csrf[CSRF_MAX + 1];
	char *body;
	size_t body_len;
	int pos_hdr, line_hdr, retry_after;
	struct curl_slist *hdrs;
};

struct samples { double *v; size_t n, cap; };
struct kind { char name[48]; long n; };

static struct {
	const char *portal, *service, *prefix, *password, *timeline, *src_file, *order;
	int users, spread_ms, usage_s, poll_s, probe_ms, retries, duration_s, follow, enter, retry_cap_s;
	unsigned base;
} opt = { "http://10.0.1.1:8080", "bench", "f", "bench-password", NULL, NULL, NULL, 100, 1000, 5, 1,
	  50, 100, 600, 0, 0, 10, 0 };

static struct samples lat[P_N], waits, access_t;
/* When every user's form was answered (the arrival is over). */
static int forms_answered;
static double t_arrived = -1;
static char (*src_list)[INET_ADDRSTRLEN];
static int n_src;
static struct kind kinds[KINDS_MAX];
static int n_kinds;
static double t0;

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
add(struct samples *s, double x)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 1024;
		if ((s->v = realloc(s->v, s->cap * sizeof *s->v)) == NULL)
			abort();
	}
	s->v[s->n++] = x;
}

/* One more error of kind "what_code" ("what" when code < 0). */
static void
count(const char *what, long code)
{
	char name[48];
	int i;

	if (code < 0)
		snprintf(name, sizeof name, "%s", what);
	else
		snprintf(name, sizeof name, "%s_%ld", what, code);
	for (i = 0; i < n_kinds && strcmp(kinds[i].name, name) != 0; i++)
		;
	if (i == n_kinds) {
		if (n_kinds == KINDS_MAX)
			return;
		snprintf(kinds[n_kinds++].name, sizeof kinds[0].name, "%s", name);
	}
	kinds[i].n++;
}

static size_t
on_body(char *p, size_t sz, size_t n, void *arg)
{
	struct user *u = arg;
	size_t len = sz * n, take = len;

	if (u->body_len + take > BODY_MAX)
		take = BODY_MAX - u->body_len;
	memcpy(u->body + u->body_len, p, take);
	u->body_len += take;
	u->body[u->body_len] = '\0';
	return len;
}

static size_t
on_header(char *p, size_t sz, size_t n, void *arg)
{
	struct user *u = arg;
	size_t len = sz * n;

	if (len > 25 && strncasecmp(p, "X-Sekisho-Queue-Position:", 25) == 0)
		u->pos_hdr = atoi(p + 25);
	else if (len > 25 && strncasecmp(p, "X-Sekisho-Login-Position:", 25) == 0)
		u->line_hdr = atoi(p + 25);
	else if (len > 12 && strncasecmp(p, "Retry-After:", 12) == 0)
		u->retry_after = atoi(p + 12);
	return len;
}

/* The first csrf hidden field of the body. */
static int
take_csrf(struct user *u)
{
	const char *k = "name=\"csrf\" value=\"", *p = strstr(u->body, k), *e;

	if (p == NULL)
		return -1;
	p += strlen(k);
	if ((e = strchr(p, '"')) == NULL || e - p > CSRF_MAX)
		return -1;
	memcpy(u->csrf, p, (size_t)(e - p));
	u->csrf[e - p] = '\0';
	return 0;
}

static void
request(CURLM *m, struct user *u, int phase, const char *path, const char *post)
{
	char url[1200];

	if (strncmp(path, "http", 4) == 0)
		snprintf(url, sizeof url, "%s", path);
	else
		snprintf(url, sizeof url, "%s%s", opt.portal, path);
	curl_easy_setopt(u->h, CURLOPT_URL, url);
	curl_easy_setopt(u->h, CURLOPT_FOLLOWLOCATION, phase == P_ENTER ? 1L : 0L);
	if (post != NULL) {
		curl_easy_setopt(u->h, CURLOPT_COPYPOSTFIELDS, post);
	} else {
		curl_easy_setopt(u->h, CURLOPT_HTTPGET, 1L);
	}
	u->body_len = 0;
	u->body[0] = '\0';
	u->pos_hdr = 0;
	u->line_hdr = 0;
	u->retry_after = 0;
	u->phase = phase;
	u->state = S_BUSY;
	u->started = now_s();
	curl_multi_add_handle(m, u->h);
}

static void
start_step(CURLM *m, struct user *u)
{
	char post[512], path[256], *ue, *pe, *se, *ce;

	switch (u->next) {
	case W_ARRIVE:
		request(m, u, P_FORM, "/", NULL);
		break;
	case W_LOGIN: {
		char name[64];
		snprintf(name, sizeof name, "%s%d", opt.prefix, u->idx + 1);
		ue = curl_easy_escape(u->h, name, 0);
		pe = curl_easy_escape(u->h, opt.password, 0);
		se = curl_easy_escape(u->h, opt.service, 0);
		ce = curl_easy_escape(u->h, u->csrf, 0);
		snprintf(post, sizeof post, "user=%s&password=%s&service=%s&csrf=%s", ue, pe, se, ce);
		curl_free(ue);
		curl_free(pe);
		curl_free(se);
		curl_free(ce);
		if (u->t_login == 0)
			u->t_login = now_s();
		request(m, u, P_LOGIN, "/login", post);
		break;
	}
	case W_LINE:
		request(m, u, P_LINE, "/login/wait", NULL);
		break;
	case W_POLL:
		snprintf(path, sizeof path, "/queue?service=%s", opt.service);
		request(m, u, P_POLL, path, NULL);
		break;
	case W_ENTER:
		request(m, u, P_ENTER, u->loc, NULL);
		break;
	case W_LEAVE:
		request(m, u, P_ME, "/me", NULL);
		break;
	}
}

/* The prober's thread: each probe's start and latency, kept apart until joined. */
static struct {
	struct user u;
	pthread_t th;
	atomic_int stop;
	struct samples start, ms;
	long errors[CURL_LAST];              /* by CURLcode */
} prober;

static void *
probe_main(void *arg)
{
	char url[1200];
	double start, next;
	CURLcode cc;

	(void)arg;
	snprintf(url, sizeof url, "%s/", opt.portal);
	curl_easy_setopt(prober.u.h, CURLOPT_URL, url);
	curl_easy_setopt(prober.u.h, CURLOPT_HTTPGET, 1L);
	while (!atomic_load(&prober.stop)) {
		start = now_s();
		prober.u.body_len = 0;
		cc = curl_easy_perform(prober.u.h);
		add(&prober.start, start);
		add(&prober.ms, (now_s() - start) * 1e3);
		if (cc != CURLE_OK && (unsigned)cc < CURL_LAST)
			prober.errors[cc]++;
		next = start + opt.probe_ms / 1e3;
		while (!atomic_load(&prober.stop) && now_s() < next)
			usleep(5000);
	}
	return NULL;
}

/* After the join: the probes into the phase's samples, those after the arrival apart. */
static void
probe_collect(struct samples *after)
{
	for (size_t i = 0; i < prober.ms.n; i++) {
		add(&lat[P_PROBE], prober.ms.v[i]);
		if (t_arrived >= 0 && prober.start.v[i] >= t_arrived)
			add(after, prober.ms.v[i]);
	}
	for (int c = 0; c < CURL_LAST; c++)
		for (long k = 0; k < prober.errors[c]; k++)
			count("probe_curl", c);
}

/*
 * The users' next steps, soonest first (a binary heap of (at, user)): the
 * loop starts those due without looking at every user each time round,
 * which with ten thousand users made the driver, not the portal, the
 * bottleneck. An entry whose user has moved on since is dropped when popped.
 */
struct due { double at; struct user *u; };
static struct { struct due *v; size_t n, cap; } dues;

static void
due_push(struct user *u, double at)
{
	size_t i;

	if (dues.n == dues.cap) {
		dues.cap = dues.cap ? 2 * dues.cap : 4096;
		if ((dues.v = realloc(dues.v, dues.cap * sizeof *dues.v)) == NULL)
			abort();
	}
	for (i = dues.n++; i > 0 && dues.v[(i - 1) / 2].at > at; i = (i - 1) / 2)
		dues.v[i] = dues.v[(i - 1) / 2];
	dues.v[i] = (struct due){ at, u };
}

static struct due
due_pop(void)
{
	struct due top = dues.v[0], last = dues.v[--dues.n];
	size_t i = 0, c;

	while ((c = 2 * i + 1) < dues.n) {
		if (c + 1 < dues.n && dues.v[c + 1].at < dues.v[c].at)
			c++;
		if (dues.v[c].at >= last.at)
			break;
		dues.v[i] = dues.v[c];
		i = c;
	}
	dues.v[i] = last;
	return top;
}

static void
wait_until(struct user *u, int next, double at)
{
	u->state = S_IDLE;
	u->next = next;
	u->at = at;
	due_push(u, at);
}

static void
admitted(struct user *u, double t)
{
	char *loc = NULL;

	u->admitted = 1;
	u->t_admit = t;
	add(&waits, t - u->t_login);
	curl_easy_getinfo(u->h, CURLINFO_REDIRECT_URL, &loc);
	snprintf(u->loc, sizeof u->loc, "%s", loc != NULL ? loc : "");
	if (opt.enter)
		wait_until(u, W_ENTER, t);
	else
		wait_until(u, W_LEAVE, t + opt.usage_s);
}

static void
queued(struct user *u, double t)
{
	if (!u->queued)
		u->first_pos = u->pos_hdr;
	u->queued = 1;
	if (u->pos_hdr > u->max_pos)
		u->max_pos = u->pos_hdr;
	wait_until(u, W_POLL, t + opt.poll_s);
}

/* The refresh the page asks for (<meta http-equiv="refresh" content="N; ...">), else --poll-s. */
static int
page_refresh_s(const struct user *u)
{
	const char *k = "http-equiv=\"refresh\" content=\"", *p = strstr(u->body, k);
	int s = p != NULL ? atoi(p + strlen(k)) : 0;

	return s > 0 ? s : opt.poll_s;
}

static void
in_login_line(struct user *u, double t)
{
	u->in_line = 1;
	if (u->line_hdr > u->max_line_pos)
		u->max_line_pos = u->line_hdr;
	wait_until(u, W_LINE, t + page_refresh_s(u));
}

static void
fail(struct user *u, const char *what, long code)
{
	count(what, code);
	u->state = S_FAILED;
}

/* A 503 with Retry-After: try the login again then, a few times. */
static void
refused(struct user *u, double t, const char *what, long code)
{
	count(what, code);
	if (u->retries++ >= opt.retries) {
		u->state = S_FAILED;
		return;
	}
	wait_until(u, W_ARRIVE, t + (u->retry_after > 0 && u->retry_after < opt.retry_cap_s ?
	                             u->retry_after : opt.retry_cap_s));
}

static void
finished(CURLM *m, struct user *u, CURLcode cc)
{
	double t = now_s();
	long code = 0;

	curl_multi_remove_handle(m, u->h);
	add(&lat[u->phase], (t - u->started) * 1e3);
	if (cc != CURLE_OK) {
		char what[48];
		snprintf(what, sizeof what, "%s_%s", phase_names[u->phase],
		         cc == CURLE_OPERATION_TIMEDOUT ? "timeout" : "curl_error");
		fail(u, what, cc == CURLE_OPERATION_TIMEDOUT ? -1 : (long)cc);
		return;
	}
	curl_easy_getinfo(u->h, CURLINFO_RESPONSE_CODE, &code);
	switch (u->phase) {
	case P_FORM:
		if (++forms_answered == opt.users)
			t_arrived = t;
		if (code == 503)
			refused(u, t, "form", code);
		else if (code != 200 || take_csrf(u) == -1)
			fail(u, "form", code);
		else
			wait_until(u, W_LOGIN, t);
		return;
	case P_LOGIN:
	case P_LINE:
	case P_POLL:
		if (code == 303)
			admitted(u, t);
		else if (code == 200 && u->line_hdr > 0)
			in_login_line(u, t);
		else if (code == 200 && u->pos_hdr > 0)
			queued(u, t);
		else if (code == 503 || code == 429)
			refused(u, t, phase_names[u->phase], code);
		else
			fail(u, phase_names[u->phase], code);
		return;
	case P_ENTER:
		if (code != 200) {
			fail(u, "enter", code);
		} else {
			add(&access_t, t - u->t_login);
			wait_until(u, W_LEAVE, t + opt.usage_s);
		}
		return;
	case P_ME:
		if (code != 200 || take_csrf(u) == -1) {
			fail(u, "me", code);
		} else {
			char post[128];
			snprintf(post, sizeof post, "csrf=%s", u->csrf);
			request(m, u, P_LOGOUT, "/logout", post);
		}
		return;
	case P_LOGOUT:
		if (code != 200)
			fail(u, "logout", code);
		else
			u->state = S_DONE;
		return;
	}
}

static struct user *order_us;

static int
by_login(const void *a, const void *b)
{
	double x = order_us[*(const int *)a].t_login, y = order_us[*(const int *)b].t_login;

	return x < y ? -1 : x > y;
}

/* --order FILE: "RANK USER_NUMBER" in the order the users sent their first login. */
static void
write_order(struct user *us, int n)
{
	FILE *f = fopen(opt.order, "w");
	int *ix = calloc((size_t)n, sizeof *ix), m = 0;

	if (f == NULL || ix == NULL) {
		perror(opt.order);
		exit(1);
	}
	for (int i = 0; i < n; i++)
		if (us[i].t_login > 0)
			ix[m++] = i;
	order_us = us;
	qsort(ix, (size_t)m, sizeof *ix, by_login);
	for (int r = 0; r < m; r++)
		fprintf(f, "%d %d\n", r + 1, ix[r] + 1);
	fclose(f);
	free(ix);
}

static int
cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double
pct(struct samples *s, double p)
{
	if (s->n == 0)
		return NAN;
	return s->v[(size_t)fmin((double)s->n - 1, floor(p / 100 * (double)s->n))];
}

static void
report_samples(const char *name, struct samples *s, const char *unit)
{
	if (s->n > 1)
		qsort(s->v, s->n, sizeof *s->v, cmp);
	printf("%-16s n=%-7zu p50=%9.1f p90=%9.1f p99=%9.1f max=%9.1f %s\n", name, s->n,
	       pct(s, 50), pct(s, 90), pct(s, 99), s->n ? s->v[s->n - 1] : NAN, unit);
}

/* Kendall's tau-a between login arrival and admission over admitted users. */
static double
kendall(struct user *us, int n, long *passed_max)
{
	long conc = 0, disc = 0;

	*passed_max = 0;
	for (int i = 0; i < n; i++) {
		long passed = 0;
		if (!us[i].admitted)
			continue;
		for (int j = 0; j < n; j++) {
			if (j == i || !us[j].admitted)
				continue;
			double a = us[i].t_login - us[j].t_login, b = us[i].t_admit - us[j].t_admit;
			if (j > i)
				conc += a * b > 0, disc += a * b < 0;
			passed += a > 0 && b < 0;        /* j arrived later, admitted earlier */
		}
		if (passed > *passed_max)
			*passed_max = passed;
	}
	return conc + disc ? (double)(conc - disc) / (double)(conc + disc) : NAN;
}

static int
parse_args(int argc, char **argv)
{
	struct in_addr a;

	for (int i = 1; i + 1 < argc; i += 2) {
		const char *k = argv[i], *v = argv[i + 1];
		if (!strcmp(k, "--portal")) opt.portal = v;
		else if (!strcmp(k, "--service")) opt.service = v;
		else if (!strcmp(k, "--prefix")) opt.prefix = v;
		else if (!strcmp(k, "--password")) opt.password = v;
		else if (!strcmp(k, "--timeline")) opt.timeline = v;
		else if (!strcmp(k, "--users")) opt.users = atoi(v);
		else if (!strcmp(k, "--spread-ms")) opt.spread_ms = atoi(v);
		else if (!strcmp(k, "--usage-s")) opt.usage_s = atoi(v);
		else if (!strcmp(k, "--poll-s")) opt.poll_s = atoi(v);
		else if (!strcmp(k, "--probe-ms")) opt.probe_ms = atoi(v);
		else if (!strcmp(k, "--retries")) opt.retries = atoi(v);
		else if (!strcmp(k, "--retry-cap-s")) opt.retry_cap_s = atoi(v);
		else if (!strcmp(k, "--duration-s")) opt.duration_s = atoi(v);
		else if (!strcmp(k, "--enter")) opt.enter = atoi(v);
		else if (!strcmp(k, "--src-file")) opt.src_file = v;
		else if (!strcmp(k, "--order")) opt.order = v;
		else if (!strcmp(k, "--src")) {
			if (inet_pton(AF_INET, v, &a) != 1)
				return -1;
			opt.base = ntohl(a.s_addr);
		} else
			return -1;
	}
	return opt.users > 0 && (opt.base != 0 || opt.src_file != NULL) && opt.poll_s > 0 &&
	       opt.probe_ms > 0 && opt.retry_cap_s > 0 ? 0 : -1;
}

/* The source addresses, one a line: the prober's, then one per user. */
static int
read_src_file(const char *path)
{
	FILE *f = fopen(path, "r");
	char line[64];
	struct in_addr a;

	if (f == NULL || (src_list = calloc((size_t)opt.users + 1, sizeof *src_list)) == NULL) {
		perror(path);
		return -1;
	}
	while (n_src <= opt.users && fgets(line, sizeof line, f) != NULL) {
		line[strcspn(line, " \r\n")] = '\0';
		if (inet_pton(AF_INET, line, &a) != 1)
			continue;
		inet_ntop(AF_INET, &a, src_list[n_src++], INET_ADDRSTRLEN);
	}
	fclose(f);
	if (n_src < opt.users + 1) {
		fprintf(stderr, "%s: %d addresses, want %d (prober and users)\n", path, n_src,
		        opt.users + 1);
		return -1;
	}
	return 0;
}

static CURL *
new_handle(struct user *u)
{
	CURL *h = curl_easy_init();
	char iface[INET_ADDRSTRLEN + 8];
	struct in_addr a = { htonl(opt.base + (unsigned)u->idx + 1) };

	if (src_list != NULL)
		snprintf(u->src, sizeof u->src, "%s", src_list[u->idx + 1]);
	else
		inet_ntop(AF_INET, &a, u->src, sizeof u->src);
	/*
	 * "host!": the address as such. A bare string is first looked for among
	 * the interfaces' names and addresses (getifaddrs) at every connect: with
	 * 10 000 addresses on the interface that is 10 000 connects x 10 000
	 * addresses, and the driver, not the portal, stalls for tens of seconds.
	 */
	snprintf(iface, sizeof iface, "host!%s", u->src);
	curl_easy_setopt(h, CURLOPT_INTERFACE, iface);
	curl_easy_setopt(h, CURLOPT_COOKIEFILE, "");         /* own cookie jar, in memory */
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, u);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, u);
	curl_easy_setopt(h, CURLOPT_PRIVATE, u);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 600L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 30L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	/*
	 * A new connection for each request, as a browser whose page refreshes
	 * every few seconds often has (the portal's idle timeout may have
	 * closed the last one): libcurl keeps the connections it may reuse in
	 * one list per host, walks it for every request and polls each kept
	 * one every second, which with ten thousand users made the driver, not
	 * the portal, the bottleneck.
	 */
	curl_easy_setopt(h, CURLOPT_FORBID_REUSE, 1L);
	curl_easy_setopt(h, CURLOPT_FRESH_CONNECT, 1L);
	u->hdrs = curl_slist_append(NULL, "Sec-Fetch-Site: same-origin");
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, u->hdrs);
	u->body = malloc(BODY_MAX + 1);
	return h;
}

/* Undoes new_handle (the handle may or may not be in m). */
static void
free_handle(CURLM *m, struct user *u)
{
	curl_multi_remove_handle(m, u->h);
	curl_easy_cleanup(u->h);
	curl_slist_free_all(u->hdrs);
	free(u->body);
}

/*
 * libcurl's sockets on one epoll set, and its one timer (the multi socket
 * interface): each turn costs what happened, not the number of transfers.
 */
static int ep = -1;
static double curl_due = -1;             /* when curl wants its timeout call; < 0: none */

static int
on_socket(CURL *e, curl_socket_t s, int what, void *userp, void *socketp)
{
	struct epoll_event ev = { 0 };

	(void)e; (void)userp; (void)socketp;
	if (what == CURL_POLL_REMOVE) {
		epoll_ctl(ep, EPOLL_CTL_DEL, s, NULL);   /* may be closed already: no matter */
		return 0;
	}
	ev.events = (what & CURL_POLL_IN ? EPOLLIN : 0u) | (what & CURL_POLL_OUT ? EPOLLOUT : 0u);
	ev.data.fd = s;
	if (epoll_ctl(ep, EPOLL_CTL_MOD, s, &ev) == -1 && errno == ENOENT &&
	    epoll_ctl(ep, EPOLL_CTL_ADD, s, &ev) == -1)
		perror("epoll_ctl");
	return 0;
}

static int
on_timer(CURLM *m, long ms, void *userp)
{
	(void)m; (void)userp;
	curl_due = ms < 0 ? -1 : now_s() + ms / 1e3;
	return 0;
}

/* Waits at most until "until" (and curl's timer) for sockets, and lets curl act on them. */
static void
drive(CURLM *m, double until)
{
	struct epoll_event evs[512];
	double t = now_s(), w = until;
	int n, active, flags;

	if (curl_due >= 0 && curl_due < w)
		w = curl_due;
	n = epoll_wait(ep, evs, (int)(sizeof evs / sizeof evs[0]), w <= t ? 0 : (int)((w - t) * 1e3) + 1);
	for (int i = 0; i < n; i++) {
		flags = (evs[i].events & EPOLLIN ? CURL_CSELECT_IN : 0) |
		        (evs[i].events & EPOLLOUT ? CURL_CSELECT_OUT : 0) |
		        (evs[i].events & (EPOLLERR | EPOLLHUP) ? CURL_CSELECT_ERR : 0);
		curl_multi_socket_action(m, evs[i].data.fd, flags, &active);
	}
	if (curl_due >= 0 && now_s() >= curl_due) {
		curl_due = -1;
		curl_multi_socket_action(m, CURL_SOCKET_TIMEOUT, 0, &active);
	}
}

static void
timeline_row(FILE *f, struct user *us, int n, double t)
{
	int q = 0, using = 0, total = 0, line = 0;

	for (int i = 0; i < n; i++) {
		line += us[i].in_line && !us[i].queued && !us[i].admitted && us[i].state != S_FAILED;
		q += us[i].queued && !us[i].admitted && us[i].state != S_FAILED;
		using += us[i].admitted && us[i].state != S_DONE && us[i].state != S_FAILED;
		total += us[i].admitted;
	}
	fprintf(f, "%.0f %d %d %d %d\n", t - t0, q, using, total, line);
	fflush(f);
}

static void
report(struct user *us, int n, double t_end, struct samples *probe_after)
{
	int served = 0, holding = 0, failed = 0, admitted = 0, max_pos = 0, lined = 0, max_line = 0;
	long passed = 0;
	double tau;

	for (int i = 0; i < n; i++) {
		served += us[i].state == S_DONE;
		failed += us[i].state == S_FAILED;
		admitted += us[i].admitted;
		holding += us[i].queued && !us[i].admitted && us[i].state != S_FAILED;
		if (us[i].max_pos > max_pos)
			max_pos = us[i].max_pos;
		lined += us[i].in_line;
		if (us[i].max_line_pos > max_line)
			max_line = us[i].max_line_pos;
		holding += us[i].in_line && !us[i].queued && !us[i].admitted &&
		           us[i].state != S_FAILED;
	}
	printf("users %d, arrivals within %d ms, usage %d s, poll every %d s, run %.1f s\n", n,
	       opt.spread_ms, opt.usage_s, opt.poll_s, t_end - t0);
	printf("served (admitted, used, logged out) %d; still holding a place %d; failed %d; "
	       "admitted %d\n", served, holding, failed, admitted);
	printf("throughput: %.2f admissions/s over the run\n", admitted / (t_end - t0));
	printf("largest position seen %d (waiting room); login line: %d users held a ticket, "
	       "largest place %d\n", max_pos, lined, max_line);
	tau = kendall(us, n, &passed);
	printf("kendall tau (login sent vs admission seen by the client, which sees it at its next "
	       "poll) %.4f; most earlier arrivals one user passed %ld\n", tau, passed);
	for (int p = 0; p < P_N; p++)
		report_samples(phase_names[p], &lat[p], "ms");
	if (t_arrived >= 0)
		printf("every form answered %.1f s after the first arrival; GET / probes after that:\n",
		       t_arrived - t0);
	report_samples("GET / after arrival", probe_after, "ms");
	report_samples("queue wait", &waits, "s (login sent to admission)");
	if (opt.enter)
		report_samples("access T", &access_t, "s (login sent to the service's first page)");
	printf("errors by kind:%s\n", n_kinds ? "" : " none");
	for (int i = 0; i < n_kinds; i++)
		printf("  %-20s %ld\n", kinds[i].name, kinds[i].n);
}

int
main(int argc, char **argv)
{
	struct user *us;
	struct samples after = { 0 };
	CURLM *m;
	FILE *tl = NULL;
	double t, next_tl;
	int left, msgs;

	if (parse_args(argc, argv) == -1) {
		fprintf(stderr, "usage: flood --src FIRST_ADDR_MINUS_ONE --users N [--portal URL] "
		        "[--service S] [--prefix P] [--password PW] [--spread-ms MS] [--usage-s S] "
		        "[--poll-s S] [--probe-ms MS] [--retries N] [--retry-cap-s S] [--duration-s S] [--timeline F] "
		        "[--enter 0|1] [--src-file F] [--order F]\n");
		return 2;
	}
	if (opt.src_file != NULL && read_src_file(opt.src_file) == -1)
		return 2;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	m = curl_multi_init();
	curl_multi_setopt(m, CURLMOPT_MAXCONNECTS, (long)opt.users + 16);
	curl_multi_setopt(m, CURLMOPT_SOCKETFUNCTION, on_socket);
	curl_multi_setopt(m, CURLMOPT_TIMERFUNCTION, on_timer);
	if ((ep = epoll_create1(EPOLL_CLOEXEC)) == -1) {
		perror("epoll_create1");
		return 1;
	}
	if ((us = calloc((size_t)opt.users, sizeof *us)) == NULL)
		return 1;
	prober.u.idx = -1;
	prober.u.h = new_handle(&prober.u);
	t0 = now_s();
	for (int i = 0; i < opt.users; i++) {
		us[i].idx = i;
		us[i].h = new_handle(&us[i]);
		wait_until(&us[i], W_ARRIVE, t0 + (double)opt.spread_ms / 1e3 * i / opt.users);
	}
	if (opt.timeline != NULL && (tl = fopen(opt.timeline, "w")) == NULL) {
		perror(opt.timeline);
		return 1;
	}
	next_tl = t0;
	if (pthread_create(&prober.th, NULL, probe_main, NULL) != 0) {
		perror("pthread_create");
		return 1;
	}
	left = opt.users;
	for (;;) {
		t = now_s();
		while (dues.n > 0 && dues.v[0].at <= t) {
			struct due d = due_pop();
			if (d.u->state == S_IDLE && d.u->at == d.at)
				start_step(m, d.u);
		}
		if (t >= next_tl) {             /* once a second: the timeline, and who is left */
			if (tl != NULL)
				timeline_row(tl, us, opt.users, t);
			next_tl += 1;
			left = 0;
			for (int i = 0; i < opt.users; i++)
				left += us[i].state == S_IDLE || us[i].state == S_BUSY;
		}
		if (left == 0 || t - t0 > opt.duration_s)
			break;
		drive(m, fmin(next_tl, dues.n > 0 ? dues.v[0].at : next_tl));
		CURLMsg *msg;
		while ((msg = curl_multi_info_read(m, &msgs)) != NULL) {
			struct user *u;
			if (msg->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&u);
			finished(m, u, msg->data.result);
		}
	}
	if (tl != NULL) {
		timeline_row(tl, us, opt.users, now_s());
		fclose(tl);
	}
	atomic_store(&prober.stop, 1);
	pthread_join(prober.th, NULL);
	probe_collect(&after);
	report(us, opt.users, now_s(), &after);
	if (opt.order != NULL)
		write_order(us, opt.users);
	for (int i = 0; i < opt.users; i++)
		free_handle(m, &us[i]);
	free_handle(m, &prober.u);
	free(us);
	curl_multi_cleanup(m);
	close(ep);
	free(dues.v);
	free(after.v);
	free(prober.start.v);
	free(prober.ms.v);
	fflush(stdout);             /* before any exit-time report of a sanitizer */
	return 0;
}
