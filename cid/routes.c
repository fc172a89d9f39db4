#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "cid.h"
#include "http.h"
#include "log.h"
#include "tmpl.h"

#define BAD_LOG_PER_S 10         /* lines about malformed input per second */
#define PAGE_MAX      (64 * 1024)
#define METRICS_MAX   (64 * 1024)
#define PAGE_CSP      "default-src 'none'; style-src 'self'; frame-ancestors 'none'"

/* At most BAD_LOG_PER_S lines a second of one kind; how many were dropped is said once a second. */
struct log_limit {
	_Atomic int64_t second;
	atomic_int count, dropped;
	int prio;
	const char *kind;
};

static struct log_limit bad_log = { .prio = LOG_WARNING, .kind = "malformed requests" };
static struct log_limit fwd_log = { .prio = LOG_INFO, .kind = "ignored forwarded headers" };

static void
log_limited(struct log_limit *l, const char *fmt, va_list ap)
{
	int64_t now = time(NULL), was = atomic_load(&l->second);
	int dropped;
	char line[512];

	if (was != now && atomic_compare_exchange_strong(&l->second, &was, now)) {
		atomic_store(&l->count, 0);
		if ((dropped = atomic_exchange(&l->dropped, 0)) > 0)
			log_msg(l->prio, "event=log_suppressed lines=%d reason=\"more than %d %s a second\"",
			        dropped, BAD_LOG_PER_S, l->kind);
	}
	if (atomic_fetch_add(&l->count, 1) >= BAD_LOG_PER_S) {
		atomic_fetch_add(&l->dropped, 1);
		return;
	}
	vsnprintf(line, sizeof line, fmt, ap);
	log_msg(l->prio, "%s", line);
}

void
cid_log_bad(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_limited(&bad_log, fmt, ap);
	va_end(ap);
}

static void log_forwarded(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
log_forwarded(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_limited(&fwd_log, fmt, ap);
	va_end(ap);
}

/*
 * X-Forwarded-* from a peer not in trusted_proxies are ignored, and the
 * client is the peer itself: a proxy listed under another address than the
 * one it connects from (a multi-address host) has every client seen as
 * itself, which bind_ip then refuses. Said at info level, rate-limited.
 */
static void
note_ignored_forwarded(const struct cid *cid, const struct check_in *in)
{
	const char *names[3];
	char ip[ADDR_STR_MAX];
	struct addr a;
	int n = 0;

	if (in->xff != NULL)
		names[n++] = "X-Forwarded-For";
	if (in->xfp != NULL)
		names[n++] = "X-Forwarded-Proto";
	if (in->xfh != NULL)
		names[n++] = "X-Forwarded-Host";
	if (n == 0 || in->peer == NULL || addr_from_sockaddr(in->peer, &a) == -1 ||
	    cid_trusted(&cid->cc, &a))
		return;
	log_forwarded("event=forwarded_ignored peer=%s headers=%s%s%s%s%s why=\"peer not in "
	              "[cid] trusted_proxies (list the address the proxy connects from)\"",
	              addr_str(&a, ip, sizeof ip), names[0], n > 1 ? "," : "", n > 1 ? names[1] : "",
	              n > 2 ? "," : "", n > 2 ? names[2] : "");
}

/* Counts a header only when it is there at all: the common case costs one lookup. */
static const char *
header(struct http_req *r, const char *name, int *n)
{
	const char *v = http_header(r, name);

	*n = v != NULL ? http_header_count(r, name) : 0;
	return v;
}

void
cid_check_in(struct http_req *r, const struct cid *cid, const char *service, struct check_in *in)
{
	memset(in, 0, sizeof *in);
	if (service != NULL) {
		in->service = service;
		in->n_service = 1;
	} else {
		in->service = header(r, "X-Sekisho-Service", &in->n_service);
	}
	in->host = http_header(r, "Host");
	in->cookie = http_cookie(r, cid->cc.cookie);
	in->n_cookie = in->cookie != NULL ? http_cookie_count(r, cid->cc.cookie) : 0;
	in->xff = header(r, "X-Forwarded-For", &in->n_xff);
	in->xfp = http_header(r, "X-Forwarded-Proto");
	in->xfh = http_header(r, "X-Forwarded-Host");
	in->peer = http_peer(r);
	in->tls = http_is_tls(r);
	note_ignored_forwarded(cid, in);
}

void
cid_portal_url(const struct cid *cid, const char *service, char *out, size_t n)
{
	size_t len = strlen(cid->cc.portal);

	while (len > 0 && cid->cc.portal[len - 1] == '/')
		len--;
	if (service != NULL && name_valid(service))
		snprintf(out, n, "%.*s/?service=%s", (int)len, cid->cc.portal, service);
	else
		snprintf(out, n, "%.*s/", (int)len, cid->cc.portal);
}

void
cid_page(struct http_req *r, struct cid *cid, int status, const char *title, const char *text,
         const char *service)
{
	char url[CONF_STR_MAX + NAME_MAX_LEN + 16];
	struct tmpl_ctx *ctx = tmpl_ctx_new();
	struct buf b;

	cid_portal_url(cid, service, url, sizeof url);
	buf_init(&b, PAGE_MAX);
	if (ctx != NULL) {
		tmpl_set(ctx, "title", title);
		tmpl_set(ctx, "text", text);
		tmpl_set(ctx, "portal_url", url);
		tmpl_set(ctx, "service", service != NULL && name_valid(service) ? service : NULL);
	}
	http_add_header(r, "Cache-Control", "no-store");
	http_add_header(r, "Content-Security-Policy", PAGE_CSP);
	http_add_header(r, "X-Content-Type-Options", "nosniff");
	http_add_header(r, "Referrer-Policy", "no-referrer");
	if (ctx == NULL || cid->tmpl == NULL || tmpl_render(cid->tmpl, "cid_message", ctx, &b) == -1 ||
	    buf_failed(&b)) {
		buf_reset(&b);
		buf_printf(&b, "%s\n\n%s\n\nSign in: %s\n", title, text, url);
		http_reply(r, status, "text/plain; charset=utf-8", b.p, b.len);
	} else {
		http_reply(r, status, "text/html; charset=utf-8", b.p, b.len);
	}
	tmpl_ctx_free(ctx);
	buf_free(&b);
}

/* A check refused before the decision (no cookie, a bad one): is its service a real one? */
static void
known_service(struct cid *cid, struct check_out *out)
{
	const struct cache_service *svc;

	if (out->service_id != 0 || out->service[0] == '\0' || out->result == CHECK_BAD_REQUEST)
		return;
	cache_rdlock(&cid->cache);
	if (cache_usable_locked(&cid->cache) &&
	    (svc = cache_service_locked(&cid->cache, out->service)) != NULL)
		out->service_id = svc->id;
	cache_unlock(&cid->cache);
}

void
cid_count_check(struct cid *cid, struct check_out *out, const struct timespec *t0)
{
	metrics_check(out->result, clock_elapsed_ns(t0));
	known_service(cid, out);
	if (out->service_id != 0)
		metrics_service_check(out->service, out->result);
}

/* Parses and decides; logs malformed input (rate-limited). Returns out->result. */
static int
run_check(struct http_req *r, struct cid *cid, const char *service, struct check_out *out)
{
	struct check_in in;
	struct check_req q;
	char ip[ADDR_STR_MAX] = "-";

	cid_check_in(r, cid, service, &in);
	if (check_parse(&cid->cc, &in, &q, out) == CHECK_OK)
		check_run(&cid->cache, &cid->cc, &q, time(NULL), out);
	if (out->why != NULL) {
		if (q.client.family != 0 ||
		    (in.peer != NULL && addr_from_sockaddr(in.peer, &q.client) == 0))
			addr_str(&q.client, ip, sizeof ip);
		cid_log_bad("event=check result=%s service=%s client=%s error=\"%s\"",
		            check_label(out->result), q.service[0] ? q.service : "-", ip, out->why);
	}
	return out->result;
}

static void
redirect(struct http_req *r, const char *url)
{
	http_add_header(r, "Location", url);
	http_add_header(r, "Cache-Control", "no-store");
	http_reply(r, 303, NULL, "", 0);
}

static void
route_auth(struct http_req *r, struct cid *cid)
{
	char n[24], url[CONF_STR_MAX + NAME_MAX_LEN + 16];
	struct check_out out;
	struct timespec t0;

	memset(&out, 0, sizeof out);
	const char *q;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (run_check(r, cid, NULL, &out) == CHECK_OK) {
		snprintf(n, sizeof n, "%lld", (long long)out.remaining);
		http_add_header(r, "X-Sekisho-User", out.user);
		http_add_header(r, "X-Sekisho-Remaining", n);
	}
	if (cid->conf->log_level >= LOG_DEBUG)
		http_log_kv(r, "result=%s user=%s", check_label(out.result),
		            out.result == CHECK_OK ? out.user : "-");
	if (check_status(out.result) == 401 && (q = http_query(r, "redirect")) != NULL &&
	    strcmp(q, "1") == 0 && out.service[0] != '\0') {
		/* For proxies that pass the answer on as it is (Traefik): send the browser to the portal. */
		cid_portal_url(cid, out.service, url, sizeof url);
		redirect(r, url);
	} else {
		http_reply(r, check_status(out.result), NULL, "", 0);
	}
	cid_count_check(cid, &out, &t0);
}

/* The service's URL; 0 when the cache can answer and it exists, else the check's result. */
static int
service_url(struct cid *cid, const char *name, char *url, size_t n)
{
	const struct cache_service *svc;
	int rc = CHECK_UNAVAILABLE;

	cache_rdlock(&cid->cache);
	if (cache_usable_locked(&cid->cache)) {
		rc = CHECK_UNKNOWN_SERVICE;
		if ((svc = cache_service_locked(&cid->cache, name)) != NULL) {
			snprintf(url, n, "%s", svc->url);
			rc = CHECK_OK;
		}
	}
	cache_unlock(&cid->cache);
	return rc;
}

/* The thesis's check-and-redirect: GET /go/SERVICE. */
static void
route_go(struct http_req *r, struct cid *cid)
{
	const char *name = http_path(r) + strlen("/go/");
	char url[URL_MAX_LEN + CONF_STR_MAX];
	struct check_out out;
	struct timespec t0;

	memset(&out, 0, sizeof out);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (!name_valid(name) || (out.result = service_url(cid, name, url, sizeof url)) == CHECK_UNKNOWN_SERVICE) {
		cid_page(r, cid, 404, "No such service", "There is no service of that name.", NULL);
		return;
	}
	if (out.result == CHECK_OK)
		run_check(r, cid, name, &out);
	switch (out.result) {
	case CHECK_OK:
		redirect(r, url);
		break;
	case CHECK_UNAVAILABLE:
		cid_page(r, cid, 503, "Temporarily unavailable",
		         "Access cannot be checked right now. Please try again in a moment.", name);
		break;
	case CHECK_BAD_REQUEST:
		cid_page(r, cid, 400, "Bad request", "The request could not be understood.", name);
		break;
	default:
		cid_portal_url(cid, name, url, sizeof url);
		redirect(r, url);
	}
	cid_count_check(cid, &out, &t0);
}

static void
route_metrics(struct http_req *r, struct cid *cid)
{
	struct buf b;

	buf_init(&b, METRICS_MAX);
	metrics_render(&b, &cid->cache);
	if (buf_failed(&b))
		http_reply(r, 500, "text/plain; charset=utf-8", "metrics too large\n", 18);
	else
		http_reply(r, 200, "text/plain; version=0.0.4; charset=utf-8", b.p, b.len);
	buf_free(&b);
}

static void
route_healthz(struct http_req *r, struct cid *cid)
{
	int ok;

	cache_rdlock(&cid->cache);
	ok = cache_usable_locked(&cid->cache);
	cache_unlock(&cid->cache);
	if (ok)
		http_reply(r, 200, "text/plain; charset=utf-8", "ok\n", 3);
	else
		http_reply(r, 503, "text/plain; charset=utf-8", "unavailable: no current view of the store\n", 42);
}

/* The portal's stylesheet, for cid's own pages on the service's host. */
static void
route_css(struct http_req *r, struct cid *cid)
{
	if (cid->css == NULL) {
		http_reply(r, 404, "text/plain; charset=utf-8", "not found\n", 10);
		return;
	}
	http_add_header(r, "Cache-Control", "max-age=3600");
	http_add_header(r, "X-Content-Type-Options", "nosniff");
	http_reply(r, 200, "text/css; charset=utf-8", cid->css, cid->css_len);
}

enum { R_PREFIX = 1, R_ANY_METHOD = 2, R_PROXY_ONLY = 4 };

struct route {
	const char *path;
	int flags;
	void (*fn)(struct http_req *, struct cid *);
};

/*
 * The service-side listener: clients (through the proxy) and the proxy's
 * checks. A proxy's auth subrequest may keep the original method (nginx does
 * unless told proxy_method GET): the check answers whatever method reaches it.
 */
static const struct route routes[] = {
	{ "/_sekisho/auth", R_ANY_METHOD | R_PROXY_ONLY, route_auth },
	{ "/_sekisho/enter", 0, handoff_enter },
	{ "/_sekisho/sekisho.css", 0, route_css },
	{ "/go/", R_PREFIX, route_go },
	{ NULL, 0, NULL },
};

/* The monitor listener (loopback by default). */
static const struct route monitor_routes[] = {
	{ "/metrics", 0, route_metrics },
	{ "/healthz", 0, route_healthz },
	{ NULL, 0, NULL },
};

static int
route_match(const struct route *rt, const char *path)
{
	if (rt->flags & R_PREFIX)
		return strncmp(path, rt->path, strlen(rt->path)) == 0;
	return strcmp(path, rt->path) == 0;
}

/*
 * The forward-auth check answers only the proxies (trusted_proxies): a client
 * that reaches cid directly must not use it to test cookies, nor read who
 * they belong to. 1 when the peer may, else answered 403.
 */
static int
from_proxy(struct http_req *r, struct cid *cid)
{
	const struct sockaddr *sa = http_peer(r);
	char ip[ADDR_STR_MAX] = "-";
	struct addr a;

	if (sa != NULL && addr_from_sockaddr(sa, &a) == 0) {
		if (cid_trusted(&cid->cc, &a))
			return 1;
		addr_str(&a, ip, sizeof ip);
	}
	cid_log_bad("event=check result=forbidden client=%s why=\"not a trusted proxy\"", ip);
	http_reply(r, 403, "text/plain; charset=utf-8", "forbidden: for the proxy only\n", 30);
	return 0;
}

static void
handle(struct http_req *r, struct cid *cid, const struct route *table)
{
	const char *path = http_path(r), *m = http_method(r);
	const struct route *rt;

	for (rt = table; rt->path != NULL; rt++) {
		if (!route_match(rt, path))
			continue;
		if (!(rt->flags & R_ANY_METHOD) && strcmp(m, "GET") != 0 && strcmp(m, "HEAD") != 0) {
			http_add_header(r, "Allow", "GET, HEAD");
			http_reply(r, 405, "text/plain; charset=utf-8", "method not allowed\n", 19);
			return;
		}
		pthread_rwlock_rdlock(&cid->live_lock);
		if (!(rt->flags & R_PROXY_ONLY) || from_proxy(r, cid))
			rt->fn(r, cid);
		pthread_rwlock_unlock(&cid->live_lock);
		return;
	}
	http_reply(r, 404, "text/plain; charset=utf-8", "not found\n", 10);
}

void
cid_handle(struct http_req *r, void *arg)
{
	handle(r, arg, routes);
}

void
cid_handle_monitor(struct http_req *r, void *arg)
{
	handle(r, arg, monitor_routes);
}
