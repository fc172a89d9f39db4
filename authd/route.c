#include <stdio.h>
#include <string.h>
#include <time.h>

#include "authd.h"
#include "log.h"

/*
 * Every table of routes the portal serves. A new set of pages (the admin UI)
 * adds its own file with a table and one line here; nothing else changes.
 * Metrics and health are served only on the monitor listener.
 */
static const struct route *const portal_tables[] = {
	portal_routes,
	static_routes,
	admin_routes,
	NULL,
};

/* With admin_listen set: the public listeners serve no admin page, the admin ones only those. */
static const struct route *const public_tables[] = {
	portal_routes,
	static_routes,
	NULL,
};

static const struct route *const admin_tables[] = {
	admin_routes,
	static_routes,
	NULL,
};

static const struct route *const monitor_tables[] = {
	ametrics_routes,
	NULL,
};

static int
path_matches(const struct route *rt, const char *path)
{
	if (rt->flags & ROUTE_PREFIX)
		return strncmp(path, rt->path, strlen(rt->path)) == 0;
	return strcmp(path, rt->path) == 0;
}

/* The route for method and path; NULL with *known = 1 when only the method is wrong. */
static const struct route *
route_find(const struct route *const *tables, const char *method, const char *path, int *known)
{
	const struct route *rt;

	if (strcmp(method, "HEAD") == 0)
		method = "GET";
	*known = 0;
	for (size_t t = 0; tables[t] != NULL; t++)
		for (rt = tables[t]; rt->path != NULL; rt++) {
			if (!path_matches(rt, path))
				continue;
			if (strcmp(rt->method, method) == 0)
				return rt;
			*known = 1;
		}
	return NULL;
}

struct store *
req_store(struct req *q)
{
	char err[256];

	if (q->st == NULL && (q->st = dbpool_get(q->a->pool, err, sizeof err)) == NULL)
		log_err("event=store_unavailable error=\"%s\"", err);
	return q->st;
}

void
req_store_release(struct req *q)
{
	if (q->st != NULL)
		dbpool_put(q->a->pool, q->st, q->st_broken);
	q->st = NULL;
	q->st_broken = 0;
}

/* Client address from the peer and trusted proxies. 0, or -1 after answering 400. */
static int
resolve_client(struct req *q)
{
	const struct sockaddr *sa = http_peer(q->r);
	const char *xff = http_header(q->r, "X-Forwarded-For");
	struct addr peer;

	if (sa == NULL || addr_from_sockaddr(sa, &peer) == -1) {
		page_message(q, 400, "Bad request", "The connection's address is unknown.", NULL, NULL);
		return -1;
	}
	if (clientip_resolve(&peer, xff, http_header_count(q->r, "X-Forwarded-For"),
	                     q->v->trusted, q->v->n_trusted, &q->ip) == -1) {
		q->ip = peer;
		addr_str(&q->ip, q->ipstr, sizeof q->ipstr);
		page_message(q, 400, "Bad request", "The X-Forwarded-For header is malformed.",
		             NULL, NULL);
		return -1;
	}
	addr_str(&q->ip, q->ipstr, sizeof q->ipstr);
	http_log_kv(q->r, "client=%s", q->ipstr);
	return 0;
}

/* Login and CSRF requirements of rt. 0 to go on, -1 after answering. */
static int
check_access(struct req *q, const struct route *rt)
{
	int post = strcmp(http_method(q->r), "POST") == 0;

	if (!(rt->flags & ROUTE_NO_STORE) && login_lookup(q) == -1) {
		page_message(q, 503, "Service unavailable",
		             "The session database is not answering. Please try again shortly.",
		             "/", "Back");
		return -1;
	}
	if ((rt->flags & ROUTE_LOGIN) && !q->logged_in) {
		if (!post) {
			page_redirect(q, "/");
			return -1;
		}
		page_message(q, 403, "Not logged in",
		             "Your portal login has ended. Please log in again.", "/", "Log in");
		return -1;
	}
	if (post && (rt->flags & (ROUTE_LOGIN | ROUTE_FORM_CSRF)) &&
	    login_csrf_check(q, (rt->flags & ROUTE_LOGIN) != 0) == -1) {
		ametrics_csrf_rejected();
		http_log_kv(q->r, "csrf=bad");
		page_message(q, 403, "Form expired",
		             "This form could not be verified (it may be old or come from another site). "
		             "Please reload the page and try again.", "/", "Back to the portal");
		return -1;
	}
	return 0;
}

static void
serve(struct req *q, const struct route *const *tables)
{
	const struct route *rt;
	int known;

	if (resolve_client(q) == -1)
		return;
	rt = route_find(tables, http_method(q->r), http_path(q->r), &known);
	if (rt == NULL) {
		if (known) {
			http_add_header(q->r, "Allow", "GET, HEAD, POST");
			page_message(q, 405, "Method not allowed", "This page does not take that method.",
			             "/", "Back to the portal");
		} else {
			page_message(q, 404, "Not found", "There is no such page.", "/",
			             "Back to the portal");
		}
		return;
	}
	if (check_access(q, rt) == 0)
		rt->fn(q);
}

static void
dispatch(struct http_req *r, struct authd *a, const struct route *const *tables)
{
	struct req q;

	memset(&q, 0, sizeof q);
	q.a = a;
	q.r = r;
	q.now = time(NULL);
	atomic_fetch_add(&a->inflight, 1);
	q.v = view_hold(a);
	if (atomic_load(&a->stopping)) {
		http_add_header(r, "Retry-After", "5");
		page_message(&q, 503, "Restarting", "The portal is restarting. Please try again.",
		             NULL, NULL);
	} else {
		serve(&q, tables);
	}
	req_store_release(&q);
	view_release(a, q.v);
	atomic_fetch_sub(&a->inflight, 1);
}

/*
 * Whether r is answered on the event thread (authd.h, the contract of the
 * HTTP threads): only a route that needs nothing but memory; an unknown
 * path's 404 and a wrong method's 405 also need nothing else. A login
 * cookie that login_lookup would ignore (repeated, not of our shape) makes
 * no login: such a request is anonymous here too, so made-up cookies do
 * not send the front page to the workers.
 */
static int
runs_inline(struct http_req *r, const struct route *rt)
{
	if (rt == NULL || (rt->flags & ROUTE_INLINE))
		return 1;
	return (rt->flags & ROUTE_INLINE_ANON) && login_cookie_of(r, LOGIN_COOKIE) == NULL &&
	       formcache_fresh();
}

static void
serve_or_defer(struct http_req *r, const struct route *const *tables, http_handler run,
               void *arg)
{
	int known;

	if (runs_inline(r, route_find(tables, http_method(r), http_path(r), &known)))
		run(r, arg);
	else
		http_defer(r, run, arg);
}

static const struct route *const *
public_or_all(const struct authd *a)
{
	return a->boot.authd.admin_listen[0] ? public_tables : portal_tables;
}

static void
portal_run(struct http_req *r, void *arg)
{
	dispatch(r, arg, public_or_all(arg));
}

static void
admin_run(struct http_req *r, void *arg)
{
	dispatch(r, arg, admin_tables);
}

void
route_dispatch(struct http_req *r, void *arg)
{
	serve_or_defer(r, public_or_all(arg), portal_run, arg);
}

void
route_admin(struct http_req *r, void *arg)
{
	serve_or_defer(r, admin_tables, admin_run, arg);
}

void
route_monitor(struct http_req *r, void *arg)
{
	dispatch(r, arg, monitor_tables);
}
