#include <stdio.h>
#include <string.h>
#include <time.h>

#include "admin.h"

/*
 * Failed logins and the backoffs they cause (docs/security.md, "Login
 * throttling"): root sees and clears everyone's, every other logged-in user
 * (a plain user too) their own account's. The store keeps the counts; the
 * wait shown is the throttle's own rule (throttle_backoff_s) applied to them.
 */

#define LOCKOUTS_SHOWN 200

struct lockout_page {
	struct req *q;
	struct tmpl_ctx *c;
	struct throttle_params p;
	int n, more;
};

static void
utc_time(int64_t t, char *out, size_t n)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL || strftime(out, n, "%Y-%m-%d %H:%M:%S", &tm) == 0)
		snprintf(out, n, "?");
}

static int
add_row(const struct store_lockout *l, void *arg)
{
	struct lockout_page *pg = arg;
	int account = strcmp(l->source, LOCK_ACCOUNT) == 0;
	int wait = throttle_backoff_s(&pg->p, l->failures,
	                              account ? pg->p.account_burst : pg->p.user_burst,
	                              l->last_at, pg->q->now);
	struct tmpl_ctx *row;
	char when[32];

	if (pg->n == LOCKOUTS_SHOWN) {
		pg->more = 1;
		return 1;
	}
	if ((row = tmpl_row(pg->c, "lockouts")) == NULL)
		return 1;
	pg->n++;
	utc_time(l->last_at, when, sizeof when);
	tmpl_set(row, "user", l->name);
	tmpl_set(row, "source", l->source);
	tmpl_set(row, "where", account ? "every address the user never logged in from" : l->source);
	tmpl_setf(row, "failures", "%d", l->failures);
	tmpl_set(row, "last", when);
	if (wait > 0)
		tmpl_setf(row, "wait", "%d s", wait);
	return 0;
}

void
admin_lockouts_list(struct req *q)
{
	struct lockout_page pg = { .q = q };
	struct store *st;
	int rc;

	if (admin_gate(q, ADMIN_SELF) == -1 || (st = admin_store(q)) == NULL)
		return;
	if ((pg.c = admin_ctx(q, "Failed logins", "lockouts")) == NULL) {
		page_render(q, 500, "admin_lockouts", NULL);
		return;
	}
	throttle_params_conf(&q->v->conf, &pg.p);
	rc = store_lockout_list(st, admin_is_root(q) ? NULL : q->login.user_name, add_row, &pg);
	if (rc != STORE_OK) {
		tmpl_ctx_free(pg.c);
		admin_store_down(q, st, rc);
		return;
	}
	if (pg.n == 0)
		tmpl_set(pg.c, "no_lockouts", "1");
	if (pg.more)
		tmpl_setf(pg.c, "more", "Only the first %d are shown.", LOCKOUTS_SHOWN);
	page_render(q, 200, "admin_lockouts", pg.c);
}

void
admin_lockout_clear(struct req *q)
{
	const char *name = http_form(q->r, "user"), *source = http_form(q->r, "source");
	struct store *st;
	int rc, n;

	if (admin_gate(q, ADMIN_SELF) == -1)
		return;
	if (name == NULL || !name_valid(name) || (source != NULL && source[0] == '\0')) {
		page_message(q, 400, "Bad request", "The form names no account.", "/admin/lockouts",
		             "Back to failed logins");
		return;
	}
	if (!admin_is_root(q) && strcmp(name, q->login.user_name) != 0) {
		admin_forbidden(q, "You may clear the failed logins of your own account only.");
		return;
	}
	if ((st = admin_store(q)) == NULL)
		return;
	if ((rc = store_lockout_clear(st, name, source, &n)) == STORE_INVALID) {
		page_message(q, 400, "Bad request", "That is not a source of failed logins.",
		             "/admin/lockouts", "Back to failed logins");
		return;
	}
	if (rc != STORE_OK) {
		admin_store_down(q, st, rc);
		return;
	}
	admin_audit(q, st, "lockout.clear", NULL, name, "source=%s rows=%d",
	            source ? source : "all", n);
	page_redirect(q, "/admin/lockouts?done=lockout_cleared");
}
