#include <stdio.h>
#include <string.h>

#include "admin.h"

/*
 * A service's access list: open to everyone or restricted, and the users and
 * groups on it. The service's admin and root may change it (admin_service_load
 * checks that); every change writes an audit row ("acl.*"). Changing the list
 * ends no live right: it decides the next admissions.
 */

static int
list_row(const struct store_acl_entry *e, void *arg)
{
	struct tmpl_ctx *row = tmpl_row(arg, "entries");

	if (row == NULL)
		return 1;
	tmpl_set(row, "kind", e->kind == ACL_USER ? "user" : "group");
	tmpl_setf(row, "member", "%lld", (long long)e->id);
	tmpl_set(row, "name", e->name);
	return 0;
}

/* The access page of svc, with error (may be NULL) and the status. */
static void
access_page(struct req *q, struct store *st, int status, const struct store_service *svc,
            const char *error)
{
	struct tmpl_ctx *c;
	int rc, restricted = 0;

	if ((c = admin_ctx(q, "Access list", "services")) == NULL) {
		page_render(q, 500, "admin_access", NULL);
		return;
	}
	if ((rc = store_acl_list(st, svc->id, &restricted, list_row, c)) != STORE_OK) {
		tmpl_ctx_free(c);
		admin_store_down(q, st, rc);
		return;
	}
	tmpl_setf(c, "id", "%lld", (long long)svc->id);
	tmpl_set(c, "svc_name", svc->name);
	tmpl_set(c, restricted ? "restricted" : "open", "1");
	tmpl_set(c, "error", error);
	page_render(q, status, "admin_access", c);
}

void
admin_access_show(struct req *q)
{
	struct store_service svc;
	struct store *st;

	if (admin_gate(q, ADMIN_ANY) == -1 || (st = admin_store(q)) == NULL)
		return;
	if (admin_service_load(q, st, admin_id_arg(q, "id", 0), &svc) == -1)
		return;
	access_page(q, st, 200, &svc, NULL);
}

static void
done(struct req *q, int64_t id, const char *code)
{
	char loc[128];

	snprintf(loc, sizeof loc, "/admin/services/access?id=%lld&done=%s", (long long)id, code);
	page_redirect(q, loc);
}

/* The service of the form, loaded and checked against the login; -1 after answering. */
static int
form_service(struct req *q, struct store **st, struct store_service *svc)
{
	if (admin_gate(q, ADMIN_ANY) == -1 || (*st = admin_store(q)) == NULL)
		return -1;
	return admin_service_load(q, *st, admin_id_arg(q, "id", 1), svc);
}

void
admin_access_mode(struct req *q)
{
	const char *mode = http_form(q->r, "restricted");
	struct store_service svc;
	struct store *st;
	char err[256] = "";
	int rc, on;

	if (form_service(q, &st, &svc) == -1)
		return;
	if (mode == NULL || (strcmp(mode, "0") != 0 && strcmp(mode, "1") != 0)) {
		access_page(q, st, 400, &svc, "The form did not say whether to restrict the service.");
		return;
	}
	on = mode[0] == '1';
	if ((rc = store_acl_restrict(st, svc.id, on, err, sizeof err)) != STORE_OK) {
		admin_store_down(q, st, rc);
		return;
	}
	admin_audit(q, st, on ? "acl.restrict" : "acl.open", svc.name, NULL, "%s", "");
	done(q, svc.id, on ? "acl_restricted" : "acl_opened");
}

/* kind and name of the form's entry to a kind and an id; -1 with a message in why. */
static int
form_member(struct req *q, struct store *st, int *kind, int64_t *id, const char **name,
            char *why, size_t n, int *down)
{
	const char *k = http_form(q->r, "kind");
	struct store_user u;
	struct store_group g;
	int rc;

	*name = http_form(q->r, "name");
	*down = 0;
	if (k == NULL || (strcmp(k, "user") != 0 && strcmp(k, "group") != 0)) {
		snprintf(why, n, "Choose whether to add a user or a group.");
		return -1;
	}
	*kind = k[0] == 'u' ? ACL_USER : ACL_GROUP;
	if (*name == NULL || !name_valid(*name)) {
		snprintf(why, n, "Give the name of a %s (1 to %d of A-Z a-z 0-9 . _ -).", k,
		         NAME_MAX_LEN);
		return -1;
	}
	rc = *kind == ACL_USER ? store_user_get(st, *name, &u) : store_group_get(st, *name, 0, &g);
	if (rc == STORE_NOTFOUND)
		snprintf(why, n, "There is no %s named %s.", k, *name);
	*down = rc != STORE_OK && rc != STORE_NOTFOUND;
	if (rc != STORE_OK)
		return -1;
	*id = *kind == ACL_USER ? u.id : g.id;
	return 0;
}

void
admin_access_add(struct req *q)
{
	struct store_service svc;
	struct store *st;
	const char *name;
	char why[160] = "", err[256] = "";
	int64_t id = 0;
	int rc, kind = ACL_USER, down;

	if (form_service(q, &st, &svc) == -1)
		return;
	if (form_member(q, st, &kind, &id, &name, why, sizeof why, &down) == -1) {
		if (down)
			admin_store_down(q, st, STORE_UNAVAILABLE);
		else
			access_page(q, st, 400, &svc, why);
		return;
	}
	if ((rc = store_acl_entry(st, svc.id, kind, id, 1, err, sizeof err)) != STORE_OK) {
		if (rc == STORE_NOTFOUND)
			access_page(q, st, 409, &svc, "That user or group was deleted meanwhile.");
		else
			admin_store_down(q, st, rc);
		return;
	}
	admin_audit(q, st, "acl.add", svc.name, kind == ACL_USER ? name : NULL, "%s=%s",
	            kind == ACL_USER ? "user" : "group", name);
	done(q, svc.id, "acl_added");
}

void
admin_access_del(struct req *q)
{
	const char *k = http_form(q->r, "kind"), *name = http_form(q->r, "name");
	struct store_service svc;
	struct store *st;
	char err[256] = "";
	int64_t member = admin_id_arg(q, "member", 1);
	int rc, kind;

	if (form_service(q, &st, &svc) == -1)
		return;
	if (k == NULL || (strcmp(k, "user") != 0 && strcmp(k, "group") != 0) || member == 0 ||
	    name == NULL || !name_valid(name)) {
		access_page(q, st, 400, &svc, "The form did not name an entry of the list.");
		return;
	}
	kind = k[0] == 'u' ? ACL_USER : ACL_GROUP;
	rc = store_acl_entry(st, svc.id, kind, member, 0, err, sizeof err);
	if (rc == STORE_NOTFOUND) {
		access_page(q, st, 409, &svc, "That entry was not on the list (any more).");
		return;
	}
	if (rc != STORE_OK) {
		admin_store_down(q, st, rc);
		return;
	}
	admin_audit(q, st, "acl.del", svc.name, kind == ACL_USER ? name : NULL, "%s=%s", k, name);
	done(q, svc.id, "acl_removed");
}
