#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "log.h"

/*
 * Live access rights: of one service, or of every service the login may see
 * (root: all; an admin: their own). Revoking ends the right in the store and
 * tells ipfd at once (admit_ended), so the firewall closes within the request.
 */

#define RIGHTS_SHOWN   500         /* rows on one page */
#define REFRESH_S      "30"        /* the page reloads itself this often */
#define OWN_MAX        1024        /* an admin's services considered */

struct rights_page {
	struct req *q;
	struct tmpl_ctx *c;
	int64_t own[OWN_MAX];          /* the admin's service ids (not for root) */
	int n_own, all;                /* all: root, or one service already checked */
	int64_t selected;              /* the service shown, 0 = every one */
	int shown, more;
};

static int
mine(const struct rights_page *p, int64_t service_id)
{
	if (p->all)
		return 1;
	for (int i = 0; i < p->n_own; i++)
		if (p->own[i] == service_id)
			return 1;
	return 0;
}

static int
add_right(const struct store_right *r, void *arg)
{
	struct rights_page *p = arg;
	struct tmpl_ctx *row;
	char buf[48];
	int64_t now = p->q->now;

	if (!mine(p, r->service_id))
		return 0;
	if (p->shown == RIGHTS_SHOWN) {
		p->more = 1;
		return 1;
	}
	if ((row = tmpl_row(p->c, "rights")) == NULL)
		return 1;
	p->shown++;
	tmpl_setf(row, "id", "%lld", (long long)r->id);
	tmpl_set(row, "user", r->user_name);
	tmpl_set(row, "service", r->service_name);
	tmpl_setf(row, "service_id", "%lld", (long long)r->service_id);
	tmpl_set(row, "ip", addr_str(&r->ip, buf, sizeof buf));
	page_time(r->created_at, buf, sizeof buf);
	tmpl_set(row, "since", buf);
	page_duration(r->expires_at - now, buf, sizeof buf);
	tmpl_set(row, "remaining", buf);
	page_duration(now - r->last_seen, buf, sizeof buf);
	tmpl_set(row, "idle", buf);
	page_duration(r->idle_deadline - now, buf, sizeof buf);
	tmpl_set(row, "idle_left", buf);
	return 0;
}

/* A link per service the login may see, for choosing whose rights to show. */
static int
add_choice(const struct store_service *svc, void *arg)
{
	struct rights_page *p = arg;
	struct tmpl_ctx *row = tmpl_row(p->c, "choices");

	if (row == NULL)
		return 1;
	tmpl_setf(row, "id", "%lld", (long long)svc->id);
	tmpl_set(row, "name", svc->name);
	tmpl_setf(row, "active", "%d", svc->active);
	tmpl_setf(row, "cap", "%d", svc->cap);
	if (svc->id == p->selected)
		tmpl_set(row, "current", "1");
	if (p->n_own < OWN_MAX)
		p->own[p->n_own++] = svc->id;
	return 0;
}

static void
one_service(struct tmpl_ctx *c, const struct store_service *svc)
{
	tmpl_setf(c, "svc_id", "%lld", (long long)svc->id);
	tmpl_set(c, "svc_name", svc->name);
	tmpl_setf(c, "svc_active", "%d", svc->active);
	tmpl_setf(c, "svc_cap", "%d", svc->cap);
	tmpl_setf(c, "svc_usage", "%d", svc->max_usage_min);
	tmpl_setf(c, "svc_interval", "%d", svc->max_interval_min);
	if (!svc->enabled)
		tmpl_set(c, "svc_disabled", "1");
}

void
admin_rights_list(struct req *q)
{
	struct rights_page *p;
	struct store_service svc;
	struct store *st;
	int64_t id = admin_id_arg(q, "service", 0);
	int rc;

	if (admin_gate(q, ADMIN_ANY) == -1)
		return;
	if ((st = admin_store(q)) == NULL)
		return;
	if ((p = calloc(1, sizeof *p)) == NULL) {
		admin_busy(q);
		return;
	}
	if (id > 0 && admin_service_load(q, st, id, &svc) == -1)
		goto done;
	p->q = q;
	p->selected = id;
	p->all = admin_is_root(q) || id > 0;
	if ((p->c = admin_ctx(q, "Live access", "rights")) == NULL) {
		page_render(q, 500, "admin_rights", NULL);
		goto done;
	}
	tmpl_set(p->c, "refresh", REFRESH_S);
	rc = store_service_list(st, admin_is_root(q) ? 0 : q->login.user_id, add_choice, p);
	if (rc == STORE_OK)
		rc = store_right_list(st, id, 0, add_right, p);
	if (rc != STORE_OK) {
		tmpl_ctx_free(p->c);
		admin_store_down(q, st, rc);
		goto done;
	}
	if (id > 0)
		one_service(p->c, &svc);
	if (p->shown == 0)
		tmpl_set(p->c, "no_rights", "1");
	if (p->more)
		tmpl_setf(p->c, "more", "Only the first %d are shown.", RIGHTS_SHOWN);
	page_render(q, 200, "admin_rights", p->c);
done:
	free(p);
}

static void
back_to_rights(struct req *q, int64_t service_id, const char *done)
{
	char loc[96];

	if (service_id > 0)
		snprintf(loc, sizeof loc, "/admin/rights?service=%lld&done=%s", (long long)service_id,
		         done);
	else
		snprintf(loc, sizeof loc, "/admin/rights?done=%s", done);
	page_redirect(q, loc);
}

void
admin_right_revoke(struct req *q)
{
	int64_t id = admin_id_arg(q, "right", 1), back = admin_id_arg(q, "service", 1);
	struct store_service svc;
	struct store_right r;
	struct store *st;
	char ip[ADDR_STR_MAX];
	int rc;

	if (admin_gate(q, ADMIN_ANY) == -1)
		return;
	if ((st = admin_store(q)) == NULL)
		return;
	rc = id > 0 ? store_right_get(st, id, &r) : STORE_NOTFOUND;
	if (rc == STORE_NOTFOUND) {
		page_message(q, 404, "Not found", "There is no such access right.", "/admin/rights",
		             "Back to live access");
		return;
	}
	if (rc != STORE_OK) {
		admin_store_down(q, st, rc);
		return;
	}
	if (admin_service_load(q, st, r.service_id, &svc) == -1)
		return;
	rc = r.ended_at == 0 ? store_end(st, r.id, END_REVOKED, q->now, &r) : STORE_NOTFOUND;
	if (rc == STORE_NOTFOUND) {
		page_message(q, 409, "Already ended", "This access right had already ended.",
		             "/admin/rights", "Back to live access");
		return;
	}
	if (rc != STORE_OK) {
		admin_store_down(q, st, rc);
		return;
	}
	r.end_reason = END_REVOKED;
	admit_ended(st, q->a->fw, &r, q->login.user_name, q->now);
	admin_audit(q, st, "right.revoke", r.service_name, r.user_name, "right=%lld ip=%s",
	            (long long)r.id, addr_str(&r.ip, ip, sizeof ip));
	back_to_rights(q, back > 0 ? svc.id : 0, "revoked");
}
