#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "admin.h"
#include "log.h"

/*
 * Services: the list, the register and edit forms, enable/disable and delete.
 * Root acts on every service; an admin on the services they administer, and
 * registers services only for themselves. Every change is followed at once
 * by an IPC_SYNC of that service, so ipfd does not wait for its reconcile.
 */

#define DEFAULT_USAGE    "60"
#define DEFAULT_INTERVAL "15"
#define DEFAULT_CAP      "10"

/* The text of a service's number and guard fields, for a form. */
struct svc_text {
	char usage[ADMIN_NUM_TEXT], interval[ADMIN_NUM_TEXT], cap[ADMIN_NUM_TEXT];
	char guards[ADMIN_GUARDS_TEXT + 1];
	struct admin_queue_text queue;
};

int
admin_service_load(struct req *q, struct store *st, int64_t id, struct store_service *svc)
{
	int rc = id > 0 ? store_service_get_id(st, id, svc) : STORE_NOTFOUND;

	if (rc == STORE_NOTFOUND) {
		page_message(q, 404, "Not found", "There is no such service.", "/admin/",
		             "Back to the services");
		return -1;
	}
	if (rc != STORE_OK) {
		admin_store_down(q, st, rc);
		return -1;
	}
	if (!admin_is_root(q) && svc->admin_id != q->login.user_id) {
		admin_forbidden(q, "This service is administered by someone else; only its admin "
		                   "and root may see or change it.");
		return -1;
	}
	return 0;
}

struct svc_list {
	struct tmpl_ctx *c;
	int n;
};

static int
list_row(const struct store_service *svc, void *arg)
{
	struct svc_list *l = arg;
	struct tmpl_ctx *row = tmpl_row(l->c, "services");

	if (row == NULL)
		return 1;
	l->n++;
	tmpl_setf(row, "id", "%lld", (long long)svc->id);
	tmpl_set(row, "name", svc->name);
	tmpl_set(row, "url", svc->url);
	tmpl_setf(row, "max_usage", "%d", svc->max_usage_min);
	tmpl_setf(row, "max_interval", "%d", svc->max_interval_min);
	tmpl_setf(row, "cap", "%d", svc->cap);
	if (svc->load.cap_mode == CAP_ADAPTIVE)
		tmpl_setf(row, "cap_now", "%d", service_cap_now(svc));
	if (svc->load.probe[0])
		tmpl_set(row, svc->health == HEALTH_DOWN ? "down" : "up", "1");
	tmpl_setf(row, "active", "%d", svc->active);
	tmpl_set(row, "admin", svc->admin_name);
	if (svc->enabled)
		tmpl_set(row, "enabled", "1");
	if (svc->active >= service_cap_now(svc))
		tmpl_set(row, "full", "1");
	return 0;
}

void
admin_services_list(struct req *q)
{
	struct svc_list l = { NULL, 0 };
	struct store *st;
	int rc;

	if (admin_gate(q, ADMIN_ANY) == -1)
		return;
	if ((st = admin_store(q)) == NULL)
		return;
	if ((l.c = admin_ctx(q, "Services", "services")) == NULL) {
		page_render(q, 500, "admin_services", NULL);
		return;
	}
	rc = store_service_list(st, admin_is_root(q) ? 0 : q->login.user_id, list_row, &l);
	if (rc != STORE_OK) {
		tmpl_ctx_free(l.c);
		admin_store_down(q, st, rc);
		return;
	}
	if (l.n == 0)
		tmpl_set(l.c, "no_services", "1");
	page_render(q, 200, "admin_services", l.c);
}

struct admin_choice {
	struct tmpl_ctx *c;
	const char *want;
};

static int
admin_option(const struct store_user *u, void *arg)
{
	struct admin_choice *ch = arg;
	struct tmpl_ctx *row;

	int want = ch->want != NULL && strcmp(ch->want, u->name) == 0;

	if ((u->role == ROLE_USER || u->disabled) && !want)
		return 0;
	if ((row = tmpl_row(ch->c, "admins")) == NULL)
		return 1;
	tmpl_set(row, "value", u->name);
	if (want)
		tmpl_set(row, "selected", "1");
	if (u->role == ROLE_USER || u->disabled)
		tmpl_set(row, "note", u->disabled ? " (disabled)" : " (not an admin)");
	return 0;
}

/* The stored guards of svc (none for a new service), shown to an admin who may not change them. */
static void
guards_readonly(struct tmpl_ctx *c, const struct store_service *svc)
{
	char g[GUARD_STR_MAX];
	struct tmpl_ctx *row;
	int n = svc != NULL ? svc->n_guards : 0;

	for (int i = 0; i < n; i++)
		if ((row = tmpl_row(c, "guard_list")) != NULL)
			tmpl_set(row, "g", guard_str(&svc->guards[i], g, sizeof g));
	if (n == 0)
		tmpl_set(c, "no_guards", "1");
}

/*
 * Renders the register (svc NULL) or edit form with the values and messages
 * of f. Root chooses the admin from the enabled admins and roots (and the
 * one named in f, whatever it has become, so an edit never changes it unseen).
 */
static void
service_form(struct req *q, int status, const struct admin_svc_form *f,
             const struct store_service *svc, const char *error)
{
	struct admin_choice ch;
	struct tmpl_ctx *c;
	struct store *st;
	char when[32];

	if ((st = admin_store(q)) == NULL)
		return;
	if ((c = admin_ctx(q, svc ? "Edit service" : "Register a service", "services")) == NULL) {
		admin_busy(q);
		return;
	}
	admin_form_errors(c, f->f, ASF_N, admin_svc_field_name);
	admin_queue_select(c, f->f[ASF_QUEUE].in);
	tmpl_set(c, "error", error);
	if (admin_is_root(q)) {
		ch.c = c;
		ch.want = f->f[ASF_ADMIN].in;
		if (store_user_list(st, admin_option, &ch) != STORE_OK)
			log_warn("event=store_error op=user_list error=\"%s\"", store_error(st));
	}
	if (!admin_is_root(q))
		guards_readonly(c, svc);
	if (svc != NULL) {
		tmpl_setf(c, "id", "%lld", (long long)svc->id);
		tmpl_set(c, "svc_name", svc->name);
		tmpl_setf(c, "active", "%d", svc->active);
		if (svc->load.probe[0])
			tmpl_set(c, svc->health == HEALTH_DOWN ? "down" : "up", "1");
		if (svc->load.cap_mode == CAP_ADAPTIVE)
			tmpl_setf(c, "cap_now", "%d", service_cap_now(svc));
		tmpl_set(c, svc->enabled ? "enabled" : "disabled", "1");
		page_time(svc->created_at, when, sizeof when);
		tmpl_set(c, "created", when);
		page_time(svc->updated_at, when, sizeof when);
		tmpl_set(c, "updated", when);
	}
	page_render(q, status, svc ? "admin_service_edit" : "admin_service_new", c);
}

static void
form_read(struct req *q, struct admin_svc_form *f)
{
	memset(f, 0, sizeof *f);
	for (int i = 0; i < ASF_N; i++)
		f->f[i].in = http_form(q->r, admin_svc_field_name(i));
}

/* Fills f's fields from svc, with their text in t. */
static void
form_from(struct admin_svc_form *f, const struct store_service *svc, struct svc_text *t)
{
	memset(f, 0, sizeof *f);
	snprintf(t->usage, sizeof t->usage, "%d", svc->max_usage_min);
	snprintf(t->interval, sizeof t->interval, "%d", svc->max_interval_min);
	snprintf(t->cap, sizeof t->cap, "%d", svc->cap);
	admin_guards_text(svc, t->guards, sizeof t->guards);
	f->f[ASF_NAME].in = svc->name;
	f->f[ASF_URL].in = svc->url;
	f->f[ASF_ENTRY_URL].in = svc->entry_url;
	f->f[ASF_MAX_USAGE].in = t->usage;
	f->f[ASF_MAX_INTERVAL].in = t->interval;
	f->f[ASF_CAP].in = t->cap;
	f->f[ASF_GUARDS].in = t->guards;
	f->f[ASF_ADMIN].in = svc->admin_name;
	admin_queue_form_from(f, &svc->queue, &t->queue);
}

/*
 * The admin of the service: root names an enabled admin or root in the form
 * (or keeps the service's current admin, whatever it has become); an admin is
 * always themselves. 0, or -1 with the field's message (or *down).
 */
static int
resolve_admin(struct req *q, struct store *st, struct admin_svc_form *f,
              struct store_service *svc, int *down)
{
	const char *name = f->f[ASF_ADMIN].in;
	struct store_user u;
	int rc;

	*down = 0;
	if (!admin_is_root(q)) {
		svc->admin_id = q->login.user_id;
		f->f[ASF_ADMIN].in = q->login.user_name;
		return 0;
	}
	rc = name != NULL && name_valid(name) ? store_user_get(st, name, &u) : STORE_NOTFOUND;
	if (rc == STORE_UNAVAILABLE) {
		*down = 1;
		return -1;
	}
	if (rc != STORE_OK) {
		snprintf(f->f[ASF_ADMIN].err, ADMIN_MSG_MAX, "Choose an enabled admin or root.");
		return -1;
	}
	if (service_admin_check(&u, svc->admin_id, f->f[ASF_ADMIN].err, ADMIN_MSG_MAX) != STORE_OK)
		return -1;
	svc->admin_id = u.id;
	return 0;
}

void
admin_service_new_form(struct req *q)
{
	struct admin_svc_form f;

	if (admin_gate(q, ADMIN_ANY) == -1)
		return;
	memset(&f, 0, sizeof f);
	f.f[ASF_MAX_USAGE].in = DEFAULT_USAGE;
	f.f[ASF_MAX_INTERVAL].in = DEFAULT_INTERVAL;
	f.f[ASF_CAP].in = DEFAULT_CAP;
	f.f[ASF_ADMIN].in = q->login.user_name;
	f.f[ASF_QUEUE].in = "default";
	service_form(q, 200, &f, NULL, NULL);
}

/* Answers a refused store write: a taken name or a rule goes back to the form. */
static void
write_refused(struct req *q, struct store *st, int rc, struct admin_svc_form *f,
              const struct store_service *old, const char *err)
{
	if (rc == STORE_EXISTS) {
		snprintf(f->f[ASF_NAME].err, ADMIN_MSG_MAX, "A service with this name exists already.");
		service_form(q, 409, f, old, NULL);
	} else if (rc == STORE_INVALID || rc == STORE_NOTFOUND) {
		service_form(q, 400, f, old, err);
	} else {
		admin_store_down(q, st, rc);
	}
}

static void
redirect_done(struct req *q, const char *path, int64_t id, const char *done, int fw_ok)
{
	char loc[128];

	if (id > 0)
		snprintf(loc, sizeof loc, "%s?id=%lld&done=%s%s", path, (long long)id, done,
		         fw_ok ? "" : "&fw=late");
	else
		snprintf(loc, sizeof loc, "%s?done=%s%s", path, done, fw_ok ? "" : "&fw=late");
	page_redirect(q, loc);
}

void
admin_service_new(struct req *q)
{
	struct admin_svc_form f;
	struct store_service svc;
	struct store *st;
	char err[256] = "";
	int64_t id;
	int bad, down, rc;

	if (admin_gate(q, ADMIN_ANY) == -1)
		return;
	if ((st = admin_store(q)) == NULL)
		return;
	form_read(q, &f);
	memset(&svc, 0, sizeof svc);
	svc.enabled = 1;
	svc.queue.mode = QUEUE_DEFAULT;
	bad = admin_service_check(&f, &svc);
	/* An admin's form has no guards; one that sends some is refused by the store. */
	if (resolve_admin(q, st, &f, &svc, &down) == -1 && down) {
		admin_store_down(q, st, STORE_UNAVAILABLE);
		return;
	}
	if (bad > 0 || f.f[ASF_ADMIN].err[0] != '\0') {
		service_form(q, 400, &f, NULL, "Please correct the marked fields.");
		return;
	}
	if ((rc = store_service_add(st, &svc, q->login.role, q->now, &id, err, sizeof err)) != STORE_OK) {
		write_refused(q, st, rc, &f, NULL, err);
		return;
	}
	admin_audit(q, st, "service.add", svc.name, NULL, "cap=%d max_usage=%d max_interval=%d "
	            "guards=%d url=%s", svc.cap, svc.max_usage_min, svc.max_interval_min,
	            svc.n_guards, svc.url);
	svc.id = id;
	if (admin_queue_save(q, st, NULL, &svc) == -1)
		return;
	redirect_done(q, "/admin/", 0, "svc_added", admin_fw_sync(q, id) == 0);
}

void
admin_service_edit_form(struct req *q)
{
	struct admin_svc_form f;
	struct store_service svc;
	struct svc_text t;
	struct store *st;

	if (admin_gate(q, ADMIN_ANY) == -1)
		return;
	if ((st = admin_store(q)) == NULL)
		return;
	if (admin_service_load(q, st, admin_id_arg(q, "id", 0), &svc) == -1)
		return;
	form_from(&f, &svc, &t);
	service_form(q, 200, &f, &svc, NULL);
}

/* Appends to out (of size n, *len used) while it fits; a part that does not fit is left out. */
static void __attribute__((format(printf, 4, 5)))
append(char *out, size_t n, size_t *len, const char *fmt, ...)
{
	va_list ap;
	int w;

	va_start(ap, fmt);
	w = vsnprintf(out + *len, n - *len, fmt, ap);
	va_end(ap);
	if (w > 0 && (size_t)w < n - *len)
		*len += (size_t)w;
	else
		out[*len] = '\0';
}

static int
same_guards(const struct store_service *a, const struct store_service *b)
{
	if (a->n_guards != b->n_guards)
		return 0;
	for (int i = 0; i < a->n_guards; i++)
		if (!addr_eq(&a->guards[i].addr, &b->guards[i].addr) ||
		    a->guards[i].port != b->guards[i].port)
			return 0;
	return 1;
}

/* "cap 10->5 name a->b ..." for the audit row: what an edit changed. */
static void
describe_changes(const struct store_service *a, const struct store_service *b, char *out,
                 size_t n)
{
	size_t len = 0;

	out[0] = '\0';
	if (strcmp(a->name, b->name) != 0)
		append(out, n, &len, "name %s->%s ", a->name, b->name);
	if (a->cap != b->cap)
		append(out, n, &len, "cap %d->%d ", a->cap, b->cap);
	if (a->max_usage_min != b->max_usage_min)
		append(out, n, &len, "max_usage %d->%d ", a->max_usage_min, b->max_usage_min);
	if (a->max_interval_min != b->max_interval_min)
		append(out, n, &len, "max_interval %d->%d ", a->max_interval_min, b->max_interval_min);
	if (a->admin_id != b->admin_id)
		append(out, n, &len, "admin_id %lld->%lld ", (long long)a->admin_id,
		       (long long)b->admin_id);
	if (!same_guards(a, b))
		append(out, n, &len, "guards %d->%d ", a->n_guards, b->n_guards);
	if (strcmp(a->url, b->url) != 0)
		append(out, n, &len, "url ");
	if (strcmp(a->entry_url, b->entry_url) != 0)
		append(out, n, &len, "entry_url ");
	if (len > 0)
		out[len - 1] = '\0';
	else
		snprintf(out, n, "no change");
}

void
admin_service_edit(struct req *q)
{
	struct admin_svc_form f;
	struct store_service old, svc;
	struct store *st;
	char err[256] = "", what[AUDIT_TEXT_MAX + 1];
	int bad, down, rc;

	if (admin_gate(q, ADMIN_ANY) == -1)
		return;
	if ((st = admin_store(q)) == NULL)
		return;
	if (admin_service_load(q, st, admin_id_arg(q, "id", 1), &old) == -1)
		return;
	form_read(q, &f);
	svc = old;
	bad = admin_service_check(&f, &svc);
	if (!admin_is_root(q) && f.f[ASF_GUARDS].in == NULL) {
		/* An admin's form shows the guards without sending them: they stay as stored. */
		memcpy(svc.guards, old.guards, sizeof svc.guards);
		svc.n_guards = old.n_guards;
	}
	if (!admin_is_root(q)) {
		svc.admin_id = old.admin_id;       /* an admin cannot give a service away */
		f.f[ASF_ADMIN].in = old.admin_name;
	} else if (resolve_admin(q, st, &f, &svc, &down) == -1 && down) {
		admin_store_down(q, st, STORE_UNAVAILABLE);
		return;
	}
	if (bad > 0 || f.f[ASF_ADMIN].err[0] != '\0') {
		service_form(q, 400, &f, &old, "Please correct the marked fields.");
		return;
	}
	if ((rc = store_service_update(st, &svc, q->login.role, q->now, err, sizeof err)) != STORE_OK) {
		write_refused(q, st, rc, &f, &old, err);
		return;
	}
	describe_changes(&old, &svc, what, sizeof what);
	admin_audit(q, st, "service.edit", svc.name, NULL, "%s", what);
	if (admin_queue_save(q, st, &old, &svc) == -1)
		return;
	redirect_done(q, "/admin/services/edit", svc.id, "svc_saved", admin_fw_sync(q, svc.id) == 0);
}

/* Enables or disables the service in the form; disabling ends its live rights (store). */
static void
set_enabled(struct req *q, int enabled)
{
	const char *from = http_form(q->r, "from");
	struct store_service svc;
	struct store *st;
	char err[256] = "";
	int rc, ended, fw_ok = 1;

	if (admin_gate(q, ADMIN_ANY) == -1)
		return;
	if ((st = admin_store(q)) == NULL)
		return;
	if (admin_service_load(q, st, admin_id_arg(q, "id", 1), &svc) == -1)
		return;
	ended = enabled ? 0 : svc.active;
	if (svc.enabled != enabled) {
		svc.enabled = enabled;
		if ((rc = store_service_update(st, &svc, q->login.role, q->now, err, sizeof err)) != STORE_OK) {
			if (rc == STORE_UNAVAILABLE)
				admin_store_down(q, st, rc);
			else
				page_message(q, 409, "Not changed", err, "/admin/", "Back to the services");
			return;
		}
		admin_audit(q, st, enabled ? "service.enable" : "service.disable", svc.name, NULL,
		            "ended=%d", ended);
		fw_ok = admin_fw_sync(q, svc.id) == 0;
	}
	if (from != NULL && strcmp(from, "edit") == 0)
		redirect_done(q, "/admin/services/edit", svc.id,
		              enabled ? "svc_enabled" : "svc_disabled", fw_ok);
	else
		redirect_done(q, "/admin/", 0, enabled ? "svc_enabled" : "svc_disabled", fw_ok);
}

void
admin_service_enable(struct req *q)
{
	set_enabled(q, 1);
}

void
admin_service_disable(struct req *q)
{
	set_enabled(q, 0);
}

void
admin_service_delete_form(struct req *q)
{
	struct store_service svc;
	struct store *st;
	struct tmpl_ctx *c;

	if (admin_gate(q, ADMIN_ANY) == -1)
		return;
	if ((st = admin_store(q)) == NULL)
		return;
	if (admin_service_load(q, st, admin_id_arg(q, "id", 0), &svc) == -1)
		return;
	if ((c = admin_ctx(q, "Delete service", "services")) != NULL) {
		tmpl_setf(c, "question", "Delete the service %s?", svc.name);
		tmpl_setf(c, "consequence", "Its %d live access right%s will end at once and the "
		          "firewall will stop admitting anyone to it. Ended rights and the audit log "
		          "keep its name.", svc.active, svc.active == 1 ? "" : "s");
		tmpl_set(c, "action", "/admin/services/delete");
		tmpl_setf(c, "id", "%lld", (long long)svc.id);
		tmpl_set(c, "confirm", "Delete service");
		tmpl_setf(c, "cancel", "/admin/services/edit?id=%lld", (long long)svc.id);
	}
	page_render(q, 200, "admin_confirm", c);
}

void
admin_service_delete(struct req *q)
{
	struct store_service svc;
	struct store *st;
	char err[256] = "";
	int rc;

	if (admin_gate(q, ADMIN_ANY) == -1)
		return;
	if ((st = admin_store(q)) == NULL)
		return;
	if (admin_service_load(q, st, admin_id_arg(q, "id", 1), &svc) == -1)
		return;
	if ((rc = store_service_del(st, svc.id, q->now, err, sizeof err)) != STORE_OK) {
		if (rc == STORE_UNAVAILABLE)
			admin_store_down(q, st, rc);
		else
			page_message(q, 409, "Not deleted", err, "/admin/", "Back to the services");
		return;
	}
	admin_audit(q, st, "service.del", svc.name, NULL, "ended=%d cap=%d", svc.active, svc.cap);
	redirect_done(q, "/admin/", 0, "svc_deleted", admin_fw_sync(q, svc.id) == 0);
}
