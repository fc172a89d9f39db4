#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "admin.h"
#include "log.h"
#include "passwd.h"

/*
 * The admin UI's routes, the role gate every handler passes first, the admin
 * login (a portal login without an admission), and what every admin page
 * shares. GET pages check the login themselves (so a missing login leads to
 * /admin/login); every POST is ROUTE_LOGIN, which also checks the login's
 * CSRF token before the handler runs.
 */

static void admin_home(struct req *q);
static void admin_login_form(struct req *q);
static void admin_login(struct req *q);
static void admin_logout(struct req *q);

const struct route admin_routes[] = {
	{ "GET",  "/admin",                  0,               admin_home },
	{ "GET",  "/admin/",                 0,               admin_services_list },
	{ "GET",  "/admin/login",            0,               admin_login_form },
	{ "POST", "/admin/login",            ROUTE_FORM_CSRF, admin_login },
	{ "POST", "/admin/logout",           ROUTE_LOGIN,     admin_logout },
	{ "GET",  "/admin/services/new",     0,               admin_service_new_form },
	{ "POST", "/admin/services/new",     ROUTE_LOGIN,     admin_service_new },
	{ "GET",  "/admin/services/edit",    0,               admin_service_edit_form },
	{ "POST", "/admin/services/edit",    ROUTE_LOGIN,     admin_service_edit },
	{ "POST", "/admin/services/enable",  ROUTE_LOGIN,     admin_service_enable },
	{ "POST", "/admin/services/disable", ROUTE_LOGIN,     admin_service_disable },
	{ "GET",  "/admin/services/delete",  0,               admin_service_delete_form },
	{ "POST", "/admin/services/delete",  ROUTE_LOGIN,     admin_service_delete },
	{ "GET",  "/admin/services/load",    0,               admin_load_show },
	{ "POST", "/admin/services/load",    ROUTE_LOGIN,     admin_load_set },
	{ "GET",  "/admin/services/access",  0,               admin_access_show },
	{ "POST", "/admin/services/access/mode", ROUTE_LOGIN, admin_access_mode },
	{ "POST", "/admin/services/access/add", ROUTE_LOGIN,  admin_access_add },
	{ "POST", "/admin/services/access/del", ROUTE_LOGIN,  admin_access_del },
	{ "GET",  "/admin/groups",           0,               admin_groups_list },
	{ "POST", "/admin/groups/new",       ROUTE_LOGIN,     admin_group_new },
	{ "GET",  "/admin/groups/edit",      0,               admin_group_show },
	{ "POST", "/admin/groups/join",      ROUTE_LOGIN,     admin_group_join },
	{ "POST", "/admin/groups/leave",     ROUTE_LOGIN,     admin_group_leave },
	{ "POST", "/admin/groups/delete",    ROUTE_LOGIN,     admin_group_delete },
	{ "GET",  "/admin/rights",           0,               admin_rights_list },
	{ "POST", "/admin/rights/revoke",    ROUTE_LOGIN,     admin_right_revoke },
	{ "GET",  "/admin/users",            0,               admin_users_list },
	{ "POST", "/admin/users/new",        ROUTE_LOGIN,     admin_user_new },
	{ "GET",  "/admin/users/edit",       0,               admin_user_show },
	{ "POST", "/admin/users/role",       ROUTE_LOGIN,     admin_user_role },
	{ "POST", "/admin/users/password",   ROUTE_LOGIN,     admin_user_password },
	{ "POST", "/admin/users/enable",     ROUTE_LOGIN,     admin_user_enable },
	{ "POST", "/admin/users/disable",    ROUTE_LOGIN,     admin_user_disable },
	{ "GET",  "/admin/users/delete",     0,               admin_user_delete_form },
	{ "POST", "/admin/users/delete",     ROUTE_LOGIN,     admin_user_delete },
	{ "GET",  "/admin/audit",            0,               admin_audit_list },
	{ "GET",  "/admin/queues",           0,               admin_queues_list },
	{ "GET",  "/admin/queues/line",      0,               admin_queue_show },
	{ "POST", "/admin/queues/remove",    ROUTE_LOGIN,     admin_queue_remove },
	{ "GET",  "/admin/lockouts",         0,               admin_lockouts_list },
	{ "POST", "/admin/lockouts/clear",   ROUTE_LOGIN,     admin_lockout_clear },
	{ NULL, NULL, 0, NULL },
};

/* What a ?done= code on a page after a change says; never text from the request. */
static const struct { const char *code, *text; } done_texts[] = {
	{ "svc_added",     "The service was registered." },
	{ "svc_saved",     "The changes were saved." },
	{ "load_saved",    "The probe and cap settings were saved." },
	{ "svc_enabled",   "The service is enabled: users may log in to it again." },
	{ "svc_disabled",  "The service is disabled; its live access rights have ended." },
	{ "svc_deleted",   "The service was deleted; its live access rights have ended." },
	{ "place_removed", "The place was removed from the line." },
	{ "revoked",       "The access right was revoked." },
	{ "user_added",    "The user was created." },
	{ "role_set",      "The role was changed." },
	{ "password_set",  "The password was changed." },
	{ "user_enabled",  "The user is enabled." },
	{ "user_disabled", "The user is disabled; their access rights and logins have ended." },
	{ "user_deleted",  "The user was deleted." },
	{ "logged_out",    "You are logged out of the admin pages." },
	{ "acl_restricted", "The service is open only to its access list now." },
	{ "acl_opened",    "The service is open to every user now." },
	{ "acl_added",     "Added to the access list." },
	{ "acl_removed",   "Removed from the access list." },
	{ "group_added",   "The group was created." },
	{ "group_deleted", "The group was deleted." },
	{ "member_added",  "The user is in the group now." },
	{ "member_removed", "The user is no longer in the group." },
	{ "lockout_cleared", "The failed logins were cleared: that address may try again now." },
};

int
admin_is_root(const struct req *q)
{
	return q->logged_in && q->login.role == ROLE_ROOT;
}

int
admin_gate(struct req *q, int level)
{
	int role = q->login.role;

	if (!q->logged_in) {
		if (strcmp(http_method(q->r), "POST") != 0)
			page_redirect(q, "/admin/login");
		else
			page_message(q, 403, "Not logged in", "Your login has ended. Please log in again.",
			             "/admin/login", "Log in");
		return -1;
	}
	if (level == ADMIN_SELF || role == ROLE_ROOT || (role == ROLE_ADMIN && level == ADMIN_ANY))
		return 0;
	http_log_kv(q->r, "admin=forbidden user=%s", q->login.user_name);
	if (role == ROLE_USER)
		page_message(q, 403, "Not allowed",
		             "The admin pages are for service administrators, and your account is a "
		             "user account. Ask root if you need to manage a service.",
		             "/me", "Back to your access");
	else
		page_message(q, 403, "Not allowed", "Only root may use this page.", "/admin/",
		             "Back to your services");
	return -1;
}

void
admin_forbidden(struct req *q, const char *text)
{
	http_log_kv(q->r, "admin=forbidden user=%s", q->login.user_name);
	page_message(q, 403, "Not allowed", text, "/admin/", "Back to the services");
}

void
admin_store_down(struct req *q, struct store *st, int rc)
{
	if (st != NULL && rc == STORE_UNAVAILABLE)
		q->st_broken = 1;
	log_err("event=store_unavailable where=admin rc=%s error=\"%s\"", store_rc_str(rc),
	        st != NULL ? store_error(st) : "no connection");
	page_message(q, 503, "Service unavailable",
	             "The session database is not answering. Please try again shortly.",
	             "/admin/", "Back to the services");
}

void
admin_busy(struct req *q)
{
	http_add_header(q->r, "Retry-After", "5");
	page_message(q, 503, "Busy", "authd is very busy. Please try again in a few seconds.",
	             "/admin/", "Back to the services");
}

struct store *
admin_store(struct req *q)
{
	struct store *st = req_store(q);

	if (st == NULL)
		admin_store_down(q, NULL, STORE_UNAVAILABLE);
	return st;
}

int64_t
admin_id_arg(struct req *q, const char *name, int form)
{
	const char *s = form ? http_form(q->r, name) : http_query(q->r, name);
	long long v;

	if (s == NULL || parse_int(s, 1, INT64_MAX, &v) == -1)
		return 0;
	return (int64_t)v;
}

static void
set_done(struct req *q, struct tmpl_ctx *c)
{
	const char *code = http_query(q->r, "done");

	for (size_t i = 0; code != NULL && i < sizeof done_texts / sizeof done_texts[0]; i++)
		if (strcmp(code, done_texts[i].code) == 0)
			tmpl_set(c, "done", done_texts[i].text);
	if (http_query(q->r, "fw") != NULL && strcmp(http_query(q->r, "fw"), "late") == 0)
		tmpl_set(c, "fw_late", "1");
}

struct tmpl_ctx *
admin_ctx(struct req *q, const char *title, const char *section)
{
	struct tmpl_ctx *c = page_ctx(q, title);
	char key[32];

	if (c == NULL)
		return NULL;
	tmpl_set(c, "csrf", q->login.csrf);
	if (admin_is_root(q))
		tmpl_set(c, "is_root", "1");
	snprintf(key, sizeof key, "at_%s", section);
	tmpl_set(c, key, "1");
	set_done(q, c);
	return c;
}

void
admin_audit(struct req *q, struct store *st, const char *action, const char *service,
            const char *target, const char *fmt, ...)
{
	char detail[AUDIT_TEXT_MAX + 1];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof detail, fmt, ap);
	va_end(ap);
	if (store_audit(st, q->now, q->login.user_name, action, service ? service : "",
	                target ? target : "", detail) != STORE_OK)
		log_warn("event=audit_failed action=%s error=\"%s\"", action, store_error(st));
	log_info("event=admin action=%s by=%s service=%s target=%s", action, q->login.user_name,
	         service ? service : "-", target ? target : "-");
}

int
admin_fw_sync(struct req *q, int64_t service_id)
{
	char err[160];

	if (fwc_call(q->a->fw, IPC_SYNC, 0, service_id, err, sizeof err) == 0)
		return 0;
	log_warn("event=sync_failed service_id=%lld error=\"%s\"", (long long)service_id, err);
	return -1;
}

void
admin_form_errors(struct tmpl_ctx *c, const struct admin_field *f, int n,
                  const char *(*field_name)(int))
{
	char key[48];

	for (int i = 0; i < n; i++) {
		snprintf(key, sizeof key, "f_%s", field_name(i));
		tmpl_set(c, key, f[i].in);
		if (f[i].err[0] == '\0')
			continue;
		snprintf(key, sizeof key, "err_%s", field_name(i));
		tmpl_set(c, key, f[i].err);
	}
}

static void
admin_home(struct req *q)
{
	page_redirect(q, "/admin/");
}

static void
login_page(struct req *q, int status, const char *error, const char *user)
{
	char csrf[RANDOM_STR_LEN + 1];
	struct tmpl_ctx *c;

	if (login_csrf_issue(q, csrf) == NULL) {
		page_message(q, 503, "Service unavailable", "Please try again shortly.", NULL, NULL);
		return;
	}
	if ((c = page_ctx(q, "Admin login")) != NULL) {
		tmpl_set(c, "csrf", csrf);
		tmpl_set(c, "error", error);
		tmpl_set(c, "user", user);
		set_done(q, c);
	}
	page_render(q, status, "admin_login", c);
}

static void
admin_login_form(struct req *q)
{
	if (q->logged_in && q->login.role != ROLE_USER) {
		page_redirect(q, "/admin/");
		return;
	}
	login_page(q, 200, NULL, NULL);
}

static void
login_refused(struct req *q, struct store *st, const char *name, const char *account)
{
	char detail[AUDIT_TEXT_MAX + 1];

	snprintf(detail, sizeof detail, "ip=%s", q->ipstr);
	if (store_audit(st, q->now, "-", "admin.login_failed", "", account ? account : "",
	                detail) != STORE_OK)
		log_warn("event=audit_failed action=admin.login_failed error=\"%s\"", store_error(st));
	http_log_kv(q->r, "admin_login=refused");
	login_page(q, 401, "Wrong name or password.", name);
}

/* authn_check, as for the portal's login (the same throttle buckets), without an admission. */
static void
admin_login(struct req *q)
{
	const char *name = http_form(q->r, "user"), *pw = http_form(q->r, "password");
	struct store_user u;
	struct store *st;
	char ra[16];
	int retry = 0;

	if (name == NULL || pw == NULL || strlen(name) > NAME_MAX_LEN || strlen(pw) > PASSWD_MAX) {
		login_page(q, 400, "Give your name and password.", NULL);
		return;
	}
	if ((st = admin_store(q)) == NULL)
		return;
	switch (authn_check(q, st, name, pw, &u, &retry)) {
	case AUTHN_OK:
		break;
	case AUTHN_BAD:
		login_refused(q, st, name, name_valid(name) ? name : NULL);
		return;
	case AUTHN_THROTTLED:
		snprintf(ra, sizeof ra, "%d", retry);
		http_add_header(q->r, "Retry-After", ra);
		login_page(q, 429, "Too many failed attempts. Please wait and try again.", name);
		return;
	case AUTHN_BUSY:
		admin_busy(q);
		return;
	case AUTHN_EXT_DOWN:
		login_page(q, 503, AUTHN_EXT_DOWN_TEXT, name);
		return;
	default:
		admin_store_down(q, st, STORE_UNAVAILABLE);
		return;
	}
	if (login_begin(q, &u) == -1) {
		admin_store_down(q, st, STORE_UNAVAILABLE);
		return;
	}
	admin_audit(q, st, "admin.login", NULL, u.name, "ip=%s", q->ipstr);
	page_redirect(q, "/admin/");
}

/* Ends the login only: access rights held to services stay (the portal's /logout ends those). */
static void
admin_logout(struct req *q)
{
	login_end(q);
	page_redirect(q, "/admin/login?done=logged_out");
}
