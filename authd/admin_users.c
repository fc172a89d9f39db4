#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "admin.h"
#include "log.h"
#include "passwd.h"

/*
 * Users (root only): the list with a create form, one user's page (role,
 * password, enable/disable, delete). The store refuses to demote, disable or
 * delete the last enabled root and to delete a user who still administers
 * services; its words are shown next to the form. Rights a change ends are
 * revoked in ipfd at once.
 */

#define USER_RIGHTS_MAX 256     /* rights of one user revoked one by one */

static const char *const roles[] = { "user", "admin", "root" };

struct user_rights {
	struct store_right r[USER_RIGHTS_MAX];
	int n, more;
};

static int
collect(const struct store_right *r, void *arg)
{
	struct user_rights *l = arg;

	if (l->n == USER_RIGHTS_MAX) {
		l->more = 1;
		return 1;
	}
	l->r[l->n++] = *r;
	return 0;
}

static void
role_options(struct tmpl_ctx *c, const char *selected)
{
	for (size_t i = 0; i < sizeof roles / sizeof roles[0]; i++) {
		struct tmpl_ctx *row = tmpl_row(c, "roles");

		if (row == NULL)
			return;
		tmpl_set(row, "value", roles[i]);
		if (selected != NULL && strcmp(selected, roles[i]) == 0)
			tmpl_set(row, "selected", "1");
	}
}

static int
user_row(const struct store_user *u, void *arg)
{
	struct tmpl_ctx *row = tmpl_row(arg, "users");
	char when[32];

	if (row == NULL)
		return 1;
	tmpl_setf(row, "id", "%lld", (long long)u->id);
	tmpl_set(row, "name", u->name);
	tmpl_set(row, "role", role_str(u->role));
	if (u->disabled)
		tmpl_set(row, "disabled", "1");
	page_time(u->created_at, when, sizeof when);
	tmpl_set(row, "created", when);
	return 0;
}

/* The user list with the create form holding f's values and messages. */
static void
users_page(struct req *q, int status, const struct admin_user_form *f, const char *error)
{
	struct tmpl_ctx *c;
	struct store *st;
	int rc;

	if ((st = admin_store(q)) == NULL)
		return;
	if ((c = admin_ctx(q, "Users", "users")) == NULL) {
		admin_busy(q);
		return;
	}
	if ((rc = store_user_list(st, user_row, c)) != STORE_OK) {
		tmpl_ctx_free(c);
		admin_store_down(q, st, rc);
		return;
	}
	admin_form_errors(c, f->f, AUF_N, admin_user_field_name);
	tmpl_set(c, "f_password", NULL);       /* never sent back */
	tmpl_set(c, "f_again", NULL);
	role_options(c, f->f[AUF_ROLE].in != NULL ? f->f[AUF_ROLE].in : "user");
	tmpl_set(c, "error", error);
	page_render(q, status, "admin_users", c);
}

void
admin_users_list(struct req *q)
{
	struct admin_user_form f;

	if (admin_gate(q, ADMIN_ROOT) == -1)
		return;
	memset(&f, 0, sizeof f);
	users_page(q, 200, &f, NULL);
}

static void
form_read(struct req *q, struct admin_user_form *f)
{
	memset(f, 0, sizeof *f);
	for (int i = 0; i < AUF_N; i++)
		f->f[i].in = http_form(q->r, admin_user_field_name(i));
}

static void
redirect_user(struct req *q, int64_t id, const char *done)
{
	char loc[96];

	if (id > 0)
		snprintf(loc, sizeof loc, "/admin/users/edit?id=%lld&done=%s", (long long)id, done);
	else
		snprintf(loc, sizeof loc, "/admin/users?done=%s", done);
	page_redirect(q, loc);
}

void
admin_user_new(struct req *q)
{
	struct admin_user_form f;
	char hash[HASH_MAX_LEN + 1], err[256] = "";
	struct store *st;
	int64_t id;
	int role = -1, rc;

	if (admin_gate(q, ADMIN_ROOT) == -1)
		return;
	form_read(q, &f);
	if (f.f[AUF_NAME].in == NULL)
		f.f[AUF_NAME].in = "";
	if (f.f[AUF_ROLE].in == NULL)
		f.f[AUF_ROLE].in = "";
	if (f.f[AUF_PASSWORD].in == NULL)
		f.f[AUF_PASSWORD].in = "";
	if (admin_user_check(&f, &role) > 0) {
		users_page(q, 400, &f, "Please correct the marked fields.");
		return;
	}
	if ((st = admin_store(q)) == NULL)
		return;
	if (hashpool_hash(q->a, f.f[AUF_PASSWORD].in, hash, sizeof hash) == -1) {
		admin_busy(q);
		return;
	}
	rc = store_user_add(st, f.f[AUF_NAME].in, role, hash, q->now, &id, err, sizeof err);
	OPENSSL_cleanse(hash, sizeof hash);
	if (rc == STORE_EXISTS) {
		snprintf(f.f[AUF_NAME].err, ADMIN_MSG_MAX, "A user with this name exists already.");
		users_page(q, 409, &f, NULL);
		return;
	}
	if (rc != STORE_OK) {
		admin_store_down(q, st, rc);
		return;
	}
	admin_audit(q, st, "user.add", NULL, f.f[AUF_NAME].in, "role=%s", role_str(role));
	redirect_user(q, 0, "user_added");
}

/* Loads the user named by field or query "id". 0, or -1 after answering. */
static int
user_load(struct req *q, struct store *st, int form, struct store_user *u)
{
	int64_t id = admin_id_arg(q, "id", form);
	int rc = id > 0 ? store_user_get_id(st, id, u) : STORE_NOTFOUND;

	if (rc == STORE_NOTFOUND) {
		page_message(q, 404, "Not found", "There is no such user.", "/admin/users",
		             "Back to the users");
		return -1;
	}
	if (rc != STORE_OK) {
		admin_store_down(q, st, rc);
		return -1;
	}
	return 0;
}

static int
count_service(const struct store_service *svc, void *arg)
{
	(void)svc;
	(*(int *)arg)++;
	return 0;
}

/* One user's page, with a message next to the role or password form when given. */
static void
user_page(struct req *q, int status, const struct store_user *u, const char *role_err,
          const char *pw_err)
{
	struct user_rights *l;
	struct tmpl_ctx *c;
	struct store *st;
	char when[32];
	int n_svc = 0, rc;

	if ((st = admin_store(q)) == NULL)
		return;
	if ((l = calloc(1, sizeof *l)) == NULL) {
		admin_busy(q);
		return;
	}
	if ((rc = store_service_list(st, u->id, count_service, &n_svc)) != STORE_OK ||
	    (rc = store_right_list(st, 0, u->id, collect, l)) != STORE_OK) {
		free(l);
		admin_store_down(q, st, rc);
		return;
	}
	if ((c = admin_ctx(q, "User", "users")) == NULL) {
		free(l);
		admin_busy(q);
		return;
	}
	tmpl_setf(c, "id", "%lld", (long long)u->id);
	tmpl_set(c, "name", u->name);
	tmpl_set(c, "role", role_str(u->role));
	role_options(c, role_str(u->role));
	tmpl_set(c, u->disabled ? "disabled" : "enabled", "1");
	page_time(u->created_at, when, sizeof when);
	tmpl_set(c, "created", when);
	tmpl_setf(c, "n_services", "%d", n_svc);
	tmpl_setf(c, "n_rights", "%d%s", l->n, l->more ? "+" : "");
	if (u->id == q->login.user_id)
		tmpl_set(c, "is_self", "1");
	tmpl_set(c, "err_role", role_err);
	tmpl_set(c, "err_password", pw_err);
	free(l);
	page_render(q, status, "admin_user", c);
}

void
admin_user_show(struct req *q)
{
	struct store_user u;
	struct store *st;

	if (admin_gate(q, ADMIN_ROOT) == -1)
		return;
	if ((st = admin_store(q)) == NULL)
		return;
	if (user_load(q, st, 0, &u) == 0)
		user_page(q, 200, &u, NULL, NULL);
}

void
admin_user_role(struct req *q)
{
	const char *want = http_form(q->r, "role");
	struct store_user u;
	struct store *st;
	char err[256] = "";
	int role = role_parse(want), n_svc = 0, rc;

	if (admin_gate(q, ADMIN_ROOT) == -1)
		return;
	if ((st = admin_store(q)) == NULL)
		return;
	if (user_load(q, st, 1, &u) == -1)
		return;
	if (role == -1) {
		user_page(q, 400, &u, "Choose user, admin or root.", NULL);
		return;
	}
	if (role == ROLE_USER && store_service_list(st, u.id, count_service, &n_svc) == STORE_OK &&
	    n_svc > 0) {
		snprintf(err, sizeof err, "%s still administers %d service%s; give %s to another "
		         "admin first.", u.name, n_svc, n_svc == 1 ? "" : "s", n_svc == 1 ? "it" : "them");
		user_page(q, 409, &u, err, NULL);
		return;
	}
	if (role == u.role) {
		redirect_user(q, u.id, "role_set");
		return;
	}
	if ((rc = store_user_set_role(st, u.id, role, err, sizeof err)) != STORE_OK) {
		if (rc == STORE_UNAVAILABLE)
			admin_store_down(q, st, rc);
		else
			user_page(q, 409, &u, err, NULL);
		return;
	}
	admin_audit(q, st, "user.role", NULL, u.name, "%s->%s", role_str(u.role), role_str(role));
	redirect_user(q, u.id, "role_set");
}

void
admin_user_password(struct req *q)
{
	const char *pw = http_form(q->r, "password"), *again = http_form(q->r, "again");
	char hash[HASH_MAX_LEN + 1], err[ADMIN_MSG_MAX];
	struct store_user u;
	struct store *st;
	int rc;

	if (admin_gate(q, ADMIN_ROOT) == -1)
		return;
	if ((st = admin_store(q)) == NULL)
		return;
	if (user_load(q, st, 1, &u) == -1)
		return;
	if (u.source != SOURCE_LOCAL) {
		snprintf(err, sizeof err, "This account's password is kept by its source (%s); "
		         "change it there.", source_str(u.source));
		user_page(q, 409, &u, NULL, err);
		return;
	}
	if (admin_password_check(pw, again, err, sizeof err) == -1) {
		user_page(q, 400, &u, NULL, err);
		return;
	}
	if (hashpool_hash(q->a, pw, hash, sizeof hash) == -1) {
		admin_busy(q);
		return;
	}
	rc = store_user_set_password(st, u.id, hash);
	OPENSSL_cleanse(hash, sizeof hash);
	if (rc != STORE_OK) {
		admin_store_down(q, st, rc);
		return;
	}
	admin_audit(q, st, "user.passwd", NULL, u.name, "by=root");
	redirect_user(q, u.id, "password_set");
}

/* Tells ipfd about rights a change ended (listed before it), each with an audit row. */
static void
revoke_ended(struct req *q, struct store *st, struct user_rights *l)
{
	for (int i = 0; i < l->n; i++) {
		l->r[i].end_reason = END_USER_DISABLED;
		admit_ended(st, q->a->fw, &l->r[i], q->login.user_name, q->now);
	}
	if (l->more)
		admin_fw_sync(q, 0);
}

/*
 * Disable (or delete when del) u: the store ends their rights and logins in
 * the same transaction; the rights live just before are then revoked in ipfd.
 */
static int
cut_off(struct req *q, struct store *st, const struct store_user *u, int del, char *err,
        size_t errlen)
{
	struct user_rights *l = calloc(1, sizeof *l);
	int rc;

	if (l == NULL)
		return STORE_UNAVAILABLE;
	if ((rc = store_right_list(st, 0, u->id, collect, l)) == STORE_OK)
		rc = del ? store_user_del(st, u->id, q->now, err, errlen)
		         : store_user_set_disabled(st, u->id, 1, q->now, err, errlen);
	if (rc == STORE_OK) {
		revoke_ended(q, st, l);
		admin_audit(q, st, del ? "user.del" : "user.disable", NULL, u->name, "ended=%d%s",
		            l->n, l->more ? "+" : "");
	}
	free(l);
	return rc;
}

static void
set_disabled(struct req *q, int disabled)
{
	struct store_user u;
	struct store *st;
	char err[256] = "";
	int rc;

	if (admin_gate(q, ADMIN_ROOT) == -1)
		return;
	if ((st = admin_store(q)) == NULL)
		return;
	if (user_load(q, st, 1, &u) == -1)
		return;
	if (disabled)
		rc = u.disabled ? STORE_OK : cut_off(q, st, &u, 0, err, sizeof err);
	else if ((rc = store_user_set_disabled(st, u.id, 0, q->now, err, sizeof err)) == STORE_OK &&
	         u.disabled)
		admin_audit(q, st, "user.enable", NULL, u.name, "-");
	if (rc == STORE_UNAVAILABLE) {
		admin_store_down(q, st, rc);
		return;
	}
	if (rc != STORE_OK) {
		page_message(q, 409, "Not changed", err, "/admin/users", "Back to the users");
		return;
	}
	redirect_user(q, u.id, disabled ? "user_disabled" : "user_enabled");
}

void
admin_user_enable(struct req *q)
{
	set_disabled(q, 0);
}

void
admin_user_disable(struct req *q)
{
	set_disabled(q, 1);
}

void
admin_user_delete_form(struct req *q)
{
	struct store_user u;
	struct store *st;
	struct tmpl_ctx *c;

	if (admin_gate(q, ADMIN_ROOT) == -1)
		return;
	if ((st = admin_store(q)) == NULL)
		return;
	if (user_load(q, st, 0, &u) == -1)
		return;
	if ((c = admin_ctx(q, "Delete user", "users")) != NULL) {
		tmpl_setf(c, "question", "Delete the user %s?", u.name);
		tmpl_set(c, "consequence", "Their live access rights and logins end at once. Ended "
		         "rights and the audit log keep the name. A user who still administers "
		         "services cannot be deleted, nor the last root.");
		tmpl_set(c, "action", "/admin/users/delete");
		tmpl_setf(c, "id", "%lld", (long long)u.id);
		tmpl_set(c, "confirm", "Delete user");
		tmpl_setf(c, "cancel", "/admin/users/edit?id=%lld", (long long)u.id);
	}
	page_render(q, 200, "admin_confirm", c);
}

void
admin_user_delete(struct req *q)
{
	struct store_user u;
	struct store *st;
	char err[256] = "";
	int rc;

	if (admin_gate(q, ADMIN_ROOT) == -1)
		return;
	if ((st = admin_store(q)) == NULL)
		return;
	if (user_load(q, st, 1, &u) == -1)
		return;
	if ((rc = cut_off(q, st, &u, 1, err, sizeof err)) == STORE_UNAVAILABLE) {
		admin_store_down(q, st, rc);
		return;
	}
	if (rc != STORE_OK) {
		char back[64];

		snprintf(back, sizeof back, "/admin/users/edit?id=%lld", (long long)u.id);
		page_message(q, 409, "Not deleted", err, back, "Back to the user");
		return;
	}
	redirect_user(q, 0, "user_deleted");
}
