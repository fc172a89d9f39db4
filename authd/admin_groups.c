#include <stdio.h>
#include <string.h>

#include "admin.h"

/*
 * Groups (root): the list, create, members (add by name, remove), delete.
 * A group stands on services' access lists for its members. Every change
 * writes an audit row ("group.*").
 */

static int
group_row(const struct store_group *g, void *arg)
{
	struct tmpl_ctx *row = tmpl_row(arg, "groups");

	if (row == NULL)
		return 1;
	tmpl_setf(row, "gid", "%lld", (long long)g->id);
	tmpl_set(row, "name", g->name);
	tmpl_setf(row, "members", "%d", g->members);
	return 0;
}

static void
groups_page(struct req *q, struct store *st, int status, const char *error, const char *name)
{
	struct tmpl_ctx *c;
	int rc;

	if ((c = admin_ctx(q, "Groups", "groups")) == NULL) {
		page_render(q, 500, "admin_groups", NULL);
		return;
	}
	if ((rc = store_group_list(st, 0, group_row, c)) != STORE_OK) {
		tmpl_ctx_free(c);
		admin_store_down(q, st, rc);
		return;
	}
	tmpl_set(c, "error", error);
	tmpl_set(c, "f_name", name);
	page_render(q, status, "admin_groups", c);
}

void
admin_groups_list(struct req *q)
{
	struct store *st;

	if (admin_gate(q, ADMIN_ROOT) == -1 || (st = admin_store(q)) == NULL)
		return;
	groups_page(q, st, 200, NULL, NULL);
}

void
admin_group_new(struct req *q)
{
	const char *name = http_form(q->r, "name");
	struct store *st;
	char err[256] = "";
	int64_t id;
	int rc;

	if (admin_gate(q, ADMIN_ROOT) == -1 || (st = admin_store(q)) == NULL)
		return;
	if (name == NULL || !name_valid(name)) {
		groups_page(q, st, 400, "A group name is 1 to 32 of A-Z a-z 0-9 . _ - "
		            "(not starting with . or -).", NULL);
		return;
	}
	rc = store_group_add(st, name, q->now, &id, err, sizeof err);
	if (rc == STORE_EXISTS) {
		groups_page(q, st, 409, "A group of that name exists.", name);
		return;
	}
	if (rc != STORE_OK) {
		admin_store_down(q, st, rc);
		return;
	}
	admin_audit(q, st, "group.add", NULL, NULL, "group=%s", name);
	page_redirect(q, "/admin/groups?done=group_added");
}

static int
member_row(const struct store_user *u, void *arg)
{
	struct tmpl_ctx *row = tmpl_row(arg, "members");

	if (row == NULL)
		return 1;
	tmpl_setf(row, "uid", "%lld", (long long)u->id);
	tmpl_set(row, "name", u->name);
	if (u->disabled)
		tmpl_set(row, "disabled", "1");
	return 0;
}

/* The group of the query or form field id; -1 after answering. */
static int
group_load(struct req *q, struct store *st, int form, struct store_group *g)
{
	int64_t id = admin_id_arg(q, "id", form);
	int rc = id > 0 ? store_group_get(st, NULL, id, g) : STORE_NOTFOUND;

	if (rc == STORE_NOTFOUND)
		page_message(q, 404, "Not found", "There is no such group.", "/admin/groups",
		             "Back to the groups");
	else if (rc != STORE_OK)
		admin_store_down(q, st, rc);
	return rc == STORE_OK ? 0 : -1;
}

static void
group_page(struct req *q, struct store *st, int status, const struct store_group *g,
           const char *error)
{
	struct tmpl_ctx *c;
	int rc;

	if ((c = admin_ctx(q, "Group", "groups")) == NULL) {
		page_render(q, 500, "admin_group", NULL);
		return;
	}
	if ((rc = store_group_members(st, g->id, member_row, c)) != STORE_OK) {
		tmpl_ctx_free(c);
		admin_store_down(q, st, rc);
		return;
	}
	tmpl_setf(c, "id", "%lld", (long long)g->id);
	tmpl_set(c, "group_name", g->name);
	tmpl_set(c, "error", error);
	page_render(q, status, "admin_group", c);
}

void
admin_group_show(struct req *q)
{
	struct store_group g;
	struct store *st;

	if (admin_gate(q, ADMIN_ROOT) == -1 || (st = admin_store(q)) == NULL)
		return;
	if (group_load(q, st, 0, &g) == 0)
		group_page(q, st, 200, &g, NULL);
}

static void
group_done(struct req *q, int64_t id, const char *code)
{
	char loc[128];

	snprintf(loc, sizeof loc, "/admin/groups/edit?id=%lld&done=%s", (long long)id, code);
	page_redirect(q, loc);
}

/* Adds (by the form's user name) or removes (by its user id) a member. */
static void
membership(struct req *q, int add)
{
	const char *name = http_form(q->r, "user");
	struct store_group g;
	struct store_user u;
	struct store *st;
	char err[256] = "";
	int rc;

	if (admin_gate(q, ADMIN_ROOT) == -1 || (st = admin_store(q)) == NULL)
		return;
	if (group_load(q, st, 1, &g) == -1)
		return;
	rc = add ? (name != NULL && name_valid(name) ? store_user_get(st, name, &u) : STORE_NOTFOUND)
	         : store_user_get_id(st, admin_id_arg(q, "user_id", 1), &u);
	if (rc == STORE_OK)
		rc = store_group_member(st, g.id, u.id, add, err, sizeof err);
	if (rc == STORE_NOTFOUND) {
		group_page(q, st, add ? 400 : 409, &g, add ? "There is no user of that name."
		                                           : "That user was not in the group.");
		return;
	}
	if (rc != STORE_OK) {
		admin_store_down(q, st, rc);
		return;
	}
	admin_audit(q, st, add ? "group.join" : "group.leave", NULL, u.name, "group=%s", g.name);
	group_done(q, g.id, add ? "member_added" : "member_removed");
}

void
admin_group_join(struct req *q)
{
	membership(q, 1);
}

void
admin_group_leave(struct req *q)
{
	membership(q, 0);
}

void
admin_group_delete(struct req *q)
{
	struct store_group g;
	struct store *st;
	char err[256] = "";
	int rc;

	if (admin_gate(q, ADMIN_ROOT) == -1 || (st = admin_store(q)) == NULL)
		return;
	if (group_load(q, st, 1, &g) == -1)
		return;
	if ((rc = store_group_del(st, g.id, err, sizeof err)) != STORE_OK &&
	    rc != STORE_NOTFOUND) {
		admin_store_down(q, st, rc);
		return;
	}
	admin_audit(q, st, "group.del", NULL, NULL, "group=%s members=%d", g.name, g.members);
	page_redirect(q, "/admin/groups?done=group_deleted");
}
