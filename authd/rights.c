#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authd.h"
#include "log.h"

/* A logged-in user's own rights: GET /me, POST /release, POST /logout. */

#define RIGHTS_SHOWN 64     /* live rights listed on /me */
#define RIGHTS_ENDED 256    /* rights ended by one logout that are revoked one by one */

struct right_list {
	struct store_right r[RIGHTS_ENDED];
	int n, more;
};

static int
collect(const struct store_right *r, void *arg)
{
	struct right_list *l = arg;

	if (l->n == RIGHTS_ENDED) {
		l->more = 1;
		return 0;
	}
	l->r[l->n++] = *r;
	return 0;
}

static void
store_down(struct req *q)
{
	q->st_broken = 1;
	page_message(q, 503, "Service unavailable",
	             "The session database is not answering. Please try again shortly.", "/me",
	             "Try again");
}

static void
fill_row(struct req *q, struct store *st, struct tmpl_ctx *row, const struct store_right *r)
{
	struct store_service svc;
	char buf[48];

	tmpl_setf(row, "id", "%lld", (long long)r->id);
	tmpl_set(row, "service", r->service_name);
	addr_str(&r->ip, buf, sizeof buf);
	tmpl_set(row, "ip", buf);
	page_duration(r->expires_at - q->now, buf, sizeof buf);
	tmpl_set(row, "remaining", buf);
	page_time(r->expires_at, buf, sizeof buf);
	tmpl_set(row, "expires", buf);
	page_duration(r->idle_deadline - q->now, buf, sizeof buf);
	tmpl_set(row, "idle_in", buf);
	page_time(r->idle_deadline, buf, sizeof buf);
	tmpl_set(row, "idle_at", buf);
	if (store_service_get_id(st, r->service_id, &svc) == STORE_OK)
		tmpl_set(row, "url", svc.url);
}

void
rights_me(struct req *q)
{
	struct right_list *l;
	struct store *st = req_store(q);
	struct tmpl_ctx *c;
	int shown;

	if (st == NULL || (l = calloc(1, sizeof *l)) == NULL) {
		store_down(q);
		return;
	}
	if (store_right_list(st, 0, q->login.user_id, collect, l) != STORE_OK) {
		free(l);
		store_down(q);
		return;
	}
	if ((c = page_ctx(q, "Your access")) != NULL) {
		shown = l->n < RIGHTS_SHOWN ? l->n : RIGHTS_SHOWN;
		for (int i = 0; i < shown; i++) {
			struct tmpl_ctx *row = tmpl_row(c, "rights");

			if (row != NULL)
				fill_row(q, st, row, &l->r[i]);
		}
		if (l->n == 0)
			tmpl_set(c, "no_rights", "1");
		tmpl_set(c, "csrf", q->login.csrf);
		tmpl_set(c, "user", q->login.user_name);
	}
	free(l);
	page_render(q, 200, "me", c);
}

void
rights_release(struct req *q)
{
	const char *field = http_form(q->r, "right");
	struct store *st = req_store(q);
	struct store_right r;
	long long id;
	int rc;

	if (field == NULL || parse_int(field, 1, INT64_MAX, &id) == -1) {
		page_message(q, 400, "Bad request", "Which access should be released?", "/me", "Back");
		return;
	}
	if (st == NULL) {
		store_down(q);
		return;
	}
	rc = store_right_get(st, id, &r);
	if (rc == STORE_UNAVAILABLE) {
		store_down(q);
		return;
	}
	if (rc != STORE_OK || r.user_id != q->login.user_id) {
		page_message(q, 404, "Not found", "You hold no such access.", "/me", "Back");
		return;
	}
	rc = r.ended_at == 0 ? store_end(st, id, END_RELEASED, q->now, &r) : STORE_NOTFOUND;
	if (rc == STORE_UNAVAILABLE) {
		store_down(q);
		return;
	}
	if (rc == STORE_OK) {
		r.end_reason = END_RELEASED;
		admit_ended(st, q->a->fw, &r, q->login.user_name, q->now);
	}
	page_redirect(q, "/me");
}

/* Gives up the user's places in every waiting line (logging out leaves them). */
static void
leave_lines(struct req *q, struct store *st)
{
	int n = 0;

	if (store_queue_leave(st, q->login.user_id, 0, &n) != STORE_OK)
		log_warn("event=queue_leave_failed user=%s error=\"%s\"", q->login.user_name,
		         store_error(st));
	else if (n > 0 && store_audit(st, q->now, q->login.user_name, "queue.leave", "",
	                              q->login.user_name, "reason=logout") != STORE_OK)
		log_warn("event=audit_failed action=queue.leave error=\"%s\"", store_error(st));
}

void
rights_logout(struct req *q)
{
	struct right_list *l = calloc(1, sizeof *l);
	struct store *st = req_store(q);
	char err[160];

	if (st == NULL || l == NULL) {
		free(l);
		store_down(q);
		return;
	}
	if (store_end_user(st, q->login.user_id, 0, END_LOGOUT, q->now, collect, l) != STORE_OK) {
		free(l);
		store_down(q);
		return;
	}
	for (int i = 0; i < l->n; i++) {
		l->r[i].end_reason = END_LOGOUT;
		admit_ended(st, q->a->fw, &l->r[i], q->login.user_name, q->now);
	}
	if (l->more && fwc_call(q->a->fw, IPC_SYNC, 0, 0, err, sizeof err) == -1)
		log_warn("event=sync_failed error=\"%s\"", err);
	free(l);
	leave_lines(q, st);
	login_end(q);
	page_message(q, 200, "Logged out",
	             "You are logged out, and every access you held has ended.", "/", "Log in again");
}
